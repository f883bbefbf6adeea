//! Pending logins on PostgreSQL: kept (sealed) until their return URL comes back, used
//! once; an expired one is kept [`UNFINISHED_LOGIN_KEPT`] longer, so that a new login
//! can start from its app settings ([`PgStore::unfinished`]), as in a settings folder.

use std::time::SystemTime;

use preauth_core::connection::{Connection, fold_name};
use preauth_core::store::{PendingAuthorization, StoreError, UNFINISHED_LOGIN_KEPT};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

use super::PgStore;
use crate::errors::error;

/// The key a pending authorization is found by: the SHA-256 of its `state`.
fn state_hash(state: &str) -> Vec<u8> {
    Sha256::digest(state.as_bytes()).to_vec()
}

/// A row of `name, provider, sealed, expires_at`.
fn kept_row(r: &Row) -> (String, String, String, SystemTime) {
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

/// The oldest expiry still kept at `now`.
fn kept_since(now: SystemTime) -> SystemTime {
    now.checked_sub(UNFINISHED_LOGIN_KEPT)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

impl PgStore {
    /// Keeps `pending`, sealed; purges those expired longer than kept.
    pub(super) fn put(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let sealed = self
            .sealer()?
            .seal_pending(pending, &self.registry)
            .map_err(|e| e.at(self.location(), &pending.connection.name))?;
        let hash = state_hash(pending.state.secret());
        let name = pending.connection.name.clone();
        let expires = pending.expires_at;
        self.db.with(|client, location| async move {
            let failed = |e: tokio_postgres::Error| error(&location, e, "keep the login");
            client
                .execute(
                    "DELETE FROM preauth_pending WHERE expires_at < now() - make_interval(secs => $1)",
                    &[&(UNFINISHED_LOGIN_KEPT.as_secs() as f64)],
                )
                .await
                .map_err(failed)?;
            client
                .execute(
                    "INSERT INTO preauth_pending (state_hash, name, provider, sealed, expires_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&hash, &name, &sealed.provider, &sealed.text, &expires],
                )
                .await
                .map_err(failed)?;
            Ok(())
        })
    }

    /// Removes and returns the pending login of `state`, unless it expired at `now`
    /// (then it stays, for [`PgStore::unfinished`]); purges those expired longer than
    /// kept.
    pub(super) fn take(
        &self,
        state: &str,
        now: SystemTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let sealer = self.sealer()?;
        let hash = state_hash(state);
        let row = self.db.with(|client, location| async move {
            let failed = |e: tokio_postgres::Error| error(&location, e, "read the login");
            client
                .execute(
                    "DELETE FROM preauth_pending WHERE expires_at < $1",
                    &[&kept_since(now)],
                )
                .await
                .map_err(failed)?;
            let row = client
                .query_opt(
                    "DELETE FROM preauth_pending WHERE state_hash = $1 AND expires_at > $2
                     RETURNING name, provider, sealed, expires_at",
                    &[&hash, &now],
                )
                .await
                .map_err(failed)?;
            Ok(row.as_ref().map(kept_row))
        })?;
        match row {
            Some((name, provider, sealed, expires)) => sealer
                .open_pending(&name, &provider, &sealed, expires, &self.registry)
                .map(Some)
                .map_err(|e| e.at(self.location(), &name)),
            None => Ok(None),
        }
    }

    /// The connection of the latest pending login for `name` (expired or not) still
    /// kept at `now`, without tokens: a new login can start from its app settings.
    pub(super) fn unfinished(
        &self,
        name: &str,
        now: SystemTime,
    ) -> Result<Option<Connection>, StoreError> {
        let sealer = self.sealer()?;
        let rows = self.db.with(|client, location| async move {
            let rows = client
                .query(
                    "SELECT name, provider, sealed, expires_at FROM preauth_pending
                     WHERE expires_at >= $1 ORDER BY expires_at DESC",
                    &[&kept_since(now)],
                )
                .await
                .map_err(|e| error(&location, e, "read the unfinished logins"))?;
            Ok(rows.iter().map(kept_row).collect::<Vec<_>>())
        })?;
        let wanted = fold_name(name);
        let Some((found, provider, sealed, expires)) =
            rows.into_iter().find(|(n, ..)| fold_name(n) == wanted)
        else {
            return Ok(None);
        };
        let mut connection = sealer
            .open_pending(&found, &provider, &sealed, expires, &self.registry)
            .map_err(|e| e.at(self.location(), &found))?
            .connection;
        connection.tokens = None;
        Ok(Some(connection))
    }
}
