//! A connection under a row lock: the refresh cycle on PostgreSQL.
//!
//! `BEGIN; SELECT … FOR UPDATE` (waiting at most the lock wait, `lock_timeout`), re-read,
//! refresh only if still needed, `UPDATE`, `COMMIT` with `synchronous_commit = on`; only
//! then does the lifecycle hand out the access token. The lock belongs to the
//! transaction, so a process killed while it holds it releases it with its database
//! session, and the next one proceeds with the chain as last committed.

use std::sync::Arc;
use std::time::Duration;

use preauth_core::connection::{Connection, fold_name};
use preauth_core::platform::Registry;
use preauth_core::sealing::Sealer;
use preauth_core::store::{LockedConnection, StoreError};
use tokio_postgres::Client;

use crate::db::{Db, error};

/// A connection locked by this process until dropped.
pub(crate) struct RowLock {
    db: Arc<Db>,
    client: Arc<Client>,
    name: String,
    registry: Registry,
    sealer: Sealer,
    lock_wait: Duration,
    /// Whether the transaction that holds the lock is open (a save commits it).
    open: bool,
}

impl RowLock {
    /// Locks connection `name` on a connection of its own; `NotFound` when there is none.
    /// With `skip_held`, `None` at once when another session holds the row (`SKIP
    /// LOCKED`) instead of waiting.
    pub(crate) fn take(
        db: Arc<Db>,
        name: &str,
        registry: Registry,
        sealer: Sealer,
        lock_wait: Duration,
        skip_held: bool,
    ) -> Result<Option<RowLock>, StoreError> {
        let client = db.client()?;
        let mut lock = RowLock {
            db,
            client,
            name: name.to_string(),
            registry,
            sealer,
            lock_wait,
            open: false,
        };
        Ok(lock.lock_row(skip_held)?.then_some(lock))
    }

    /// Opens the transaction and locks the row (again after a save committed).
    fn relock(&mut self) -> Result<(), StoreError> {
        self.lock_row(false).map(|_| ())
    }

    /// Opens the transaction and locks the row; `false` when `skip_held` and another
    /// session holds it.
    fn lock_row(&mut self, skip_held: bool) -> Result<bool, StoreError> {
        let client = Arc::clone(&self.client);
        let folded = fold_name(&self.name);
        let wait = self.db.lock_wait_settings(self.lock_wait);
        let location = self.db.location().to_string();
        let deadline = self.db.lock_wait_deadline(self.lock_wait);
        let found = self.db.run_within(deadline, async move {
            let failed = |e: tokio_postgres::Error| error(&location, &e, "lock the connection");
            client
                .batch_execute(&format!("BEGIN; {wait}; SET LOCAL synchronous_commit = on"))
                .await
                .map_err(failed)?;
            let lock = if skip_held {
                "SELECT 1 FROM preauth_connections WHERE folded = $1 FOR UPDATE SKIP LOCKED"
            } else {
                "SELECT 1 FROM preauth_connections WHERE folded = $1 FOR UPDATE"
            };
            let row = client.query_opt(lock, &[&folded]).await;
            if matches!(row, Ok(Some(_))) {
                return Ok(Locking::Locked);
            }
            let _ = client.batch_execute("ROLLBACK").await;
            row.map_err(failed)?;
            // Not locked: absent, or (skipping) held by another session.
            let exists = client
                .query_opt(
                    "SELECT 1 FROM preauth_connections WHERE folded = $1",
                    &[&folded],
                )
                .await
                .map_err(failed)?
                .is_some();
            Ok(if exists && skip_held {
                Locking::Held
            } else {
                Locking::Absent
            })
        })?;
        match found {
            Locking::Locked => {
                self.open = true;
                Ok(true)
            }
            Locking::Held => Ok(false),
            Locking::Absent => Err(StoreError::NotFound {
                name: self.name.clone(),
            }),
        }
    }

    fn ensure_open(&mut self) -> Result<(), StoreError> {
        if self.open { Ok(()) } else { self.relock() }
    }
}

impl LockedConnection for RowLock {
    fn load(&mut self) -> Result<Connection, StoreError> {
        self.ensure_open()?;
        let client = Arc::clone(&self.client);
        let folded = fold_name(&self.name);
        let location = self.db.location().to_string();
        let (name, provider, sealed) = self.db.run(async move {
            let row = client
                .query_one(
                    "SELECT name, provider, sealed FROM preauth_connections WHERE folded = $1",
                    &[&folded],
                )
                .await
                .map_err(|e| error(&location, &e, "read the connection"))?;
            Ok((
                row.get::<_, String>(0),
                row.get::<_, String>(1),
                row.get::<_, String>(2),
            ))
        })?;
        self.sealer
            .open_connection(&name, &provider, &sealed, &self.registry)
            .map_err(|e| e.at(self.db.location(), &name))
    }

    fn prepare_save(&mut self, connection: &Connection) -> Result<(), StoreError> {
        self.ensure_open()?;
        // Sealing once derives the data key's sealing key, so that after the platform
        // answers only the UPDATE and the COMMIT remain; the round trip proves the
        // session (and with it the lock) is still there.
        self.sealer
            .seal_connection(connection, &self.registry)
            .map_err(|e| e.at(self.db.location(), &self.name))?;
        let client = Arc::clone(&self.client);
        let location = self.db.location().to_string();
        self.db.run(async move {
            client
                .batch_execute("SELECT 1")
                .await
                .map_err(|e| error(&location, &e, "reach the server"))
        })
    }

    fn save(&mut self, connection: &Connection) -> Result<(), StoreError> {
        if !connection.is_named(&self.name) {
            return Err(self.db.failure(format!(
                "the lock is held for '{}' but connection '{}' was saved; save a connection under the name it was locked with",
                self.name, connection.name
            )));
        }
        self.ensure_open()?;
        let sealed = self
            .sealer
            .seal_connection(connection, &self.registry)
            .map_err(|e| e.at(self.db.location(), &self.name))?;
        let client = Arc::clone(&self.client);
        let folded = fold_name(&self.name);
        let location = self.db.location().to_string();
        // Whatever happens now, the transaction is over.
        self.open = false;
        self.db.run(async move {
            let failed = |e: tokio_postgres::Error| error(&location, &e, "store the connection");
            let updated = client
                .execute(
                    "UPDATE preauth_connections SET provider = $2, sealed = $3, updated_at = now()
                     WHERE folded = $1",
                    &[&folded, &sealed.provider, &sealed.text],
                )
                .await;
            match updated {
                Ok(1) => client.batch_execute("COMMIT").await.map_err(failed),
                Ok(_) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    Err(error_gone(&location))
                }
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    Err(failed(e))
                }
            }
        })
    }
}

/// What trying to lock a row found.
enum Locking {
    Locked,
    Held,
    Absent,
}

/// The row was deleted while locked (cannot happen under the lock; said if it does).
fn error_gone(location: &str) -> StoreError {
    StoreError::Backend {
        location: location.to_string(),
        reason: "the connection's row disappeared while it was locked".into(),
    }
}

impl Drop for RowLock {
    fn drop(&mut self) {
        if self.open {
            let client = Arc::clone(&self.client);
            let _ = self.db.run(async move {
                let _ = client.batch_execute("ROLLBACK").await;
                Ok(())
            });
        }
        self.db.give_back(Arc::clone(&self.client));
    }
}
