//! Answers spooled on this machine (the store could not take them when they came)
//! written to the store, fenced on the refresh token they replaced, so that an answer
//! never overwrites a newer one.

use preauth_core::connection::fold_name;
use preauth_core::platform::Registry;
use preauth_core::spool::{Spool, Spooled};
use preauth_core::store::StoreError;
use tokio_postgres::Client;
use tokio_postgres::types::{ToSql, Type};

use crate::db::Db;
use crate::errors::error;
use crate::outline::read_outline;
use crate::summary::{self, Summary};

/// Writes a spooled answer to the store (fenced on the token it replaced) and removes
/// it from the spool when the store holds it or something newer. When the store cannot
/// be written, the entry stays and the error says where it waits.
pub(crate) fn replay(
    db: &Db,
    spool: &Spool,
    entry: &Spooled,
    registry: &Registry,
) -> Result<(), StoreError> {
    let copy = entry.clone();
    let summary = summary_of(entry, registry)?;
    let written = db.with(|client, location| async move {
        write_fenced(&client, &copy, &summary)
            .await
            .map_err(|e| error(&location, e, "write the spooled answer"))
    });
    match written {
        Ok(_) => spool.remove(&entry.store, &entry.name),
        Err(e) => Err(StoreError::Spooled {
            name: entry.name.clone(),
            path: spool.path_of(&entry.store, &entry.name),
            cause: e.to_string(),
        }),
    }
}

/// The summary of a spooled answer, from its outline.
pub(crate) fn summary_of(entry: &Spooled, registry: &Registry) -> Result<Summary, StoreError> {
    let provider = &entry.provider;
    read_outline(
        &entry.name,
        provider,
        &entry.outline,
        registry,
        &entry.store,
    )
    .map(|outlined| Summary::of(&outlined))
}

/// `UPDATE` of the row, only while it holds the refresh token `entry.fence`; ends any
/// lease. `true` when written.
pub(crate) async fn write_fenced(
    client: &Client,
    entry: &Spooled,
    summary: &Summary,
) -> Result<bool, tokio_postgres::Error> {
    let folded = fold_name(&entry.name);
    let fence = entry.fence.map(|f| f.to_vec());
    let hash = entry.holds.map(|h| h.to_vec());
    let mut params: Vec<(&(dyn ToSql + Sync), Type)> = vec![
        (&folded, Type::TEXT),
        (&entry.provider, Type::TEXT),
        (&entry.sealed, Type::TEXT),
        (&hash, Type::BYTEA),
        (&fence, Type::BYTEA),
        (&entry.outline, Type::TEXT),
    ];
    params.extend(summary.params());
    // One statement, committed on its own (sessions commit synchronously, see
    // `Db::client`).
    let updated = client
        .execute_typed(
            &format!(
                "UPDATE preauth_connections
                 SET provider = $2, sealed = $3, refresh_hash = $4, outline = $6,
                     ({}) = ($7, $8, $9, $10, $11, $12),
                     updated_at = now(), lease_id = NULL, lease_holder = NULL,
                     lease_host = NULL, lease_pid = NULL, lease_until = NULL
                 WHERE folded = $1 AND refresh_hash IS NOT DISTINCT FROM $5",
                summary::COLUMNS
            ),
            &params,
        )
        .await?;
    Ok(updated == 1)
}
