//! The store's tables: versioned migrations kept in `migrations/`, applied in one
//! transaction under an advisory lock, so that two machines starting at once do not
//! race, and refused when the database is newer than this preauth.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

use preauth_core::advice::Advice;
use preauth_core::store::StoreError;

use crate::errors::error;

/// Every migration, in order: version and SQL. Released files never change.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/0001_store.sql")),
    (2, include_str!("../migrations/0002_refresh_lease.sql")),
    (3, include_str!("../migrations/0003_documents.sql")),
];

/// The advisory lock key that serializes migrations ("preauth" in ASCII).
const MIGRATION_LOCK: i64 = 0x0070_7265_6175_7468;

/// Brings the database to the newest version this preauth knows.
pub(crate) async fn migrate(client: &Client, location: &str) -> Result<(), StoreError> {
    let failed = |e: tokio_postgres::Error| error(location, e, "create preauth's tables");
    client
        .batch_execute(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS preauth_migrations (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await
        .map_err(failed)?;
    let result = apply(client, location).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    client.batch_execute(end).await.map_err(failed)?;
    result
}

async fn apply(client: &Client, location: &str) -> Result<(), StoreError> {
    let failed = |e: tokio_postgres::Error| error(location, e, "create preauth's tables");
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(failed)?;
    let current: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM preauth_migrations",
            &[],
        )
        .await
        .map_err(failed)?
        .get(0);
    let newest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > newest {
        return Err(StoreError::Backend {
            location: location.to_string(),
            reason: too_new(current, newest),
            source: None,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        client.batch_execute(sql).await.map_err(failed)?;
        client
            .execute(
                "INSERT INTO preauth_migrations (version) VALUES ($1)",
                &[version],
            )
            .await
            .map_err(failed)?;
    }
    Ok(())
}

/// Checks that preauth's tables are there and at the version this preauth knows,
/// changing nothing. This runs before every `preauth token` and `preauth check`, so it is
/// one round trip: a simple query (no statement to prepare) reading the newest migration;
/// a database without the table has no store.
pub(crate) async fn check(client: &Client, location: &str) -> Result<(), StoreError> {
    let messages = match client
        .simple_query("SELECT coalesce(max(version), 0) FROM preauth_migrations")
        .await
    {
        Ok(messages) => messages,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Vec::new(),
        Err(e) => return Err(error(location, e, "read preauth's tables")),
    };
    let current: i32 = messages
        .iter()
        .find_map(|message| match message {
            SimpleQueryMessage::Row(row) => row.get(0)?.parse().ok(),
            _ => None,
        })
        .unwrap_or(0);
    let newest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    let reason = match current {
        0 => {
            return Err(StoreError::Refused {
                location: location.to_string(),
                reason: "there is no preauth store in this database (check the URL)".to_string(),
                advice: vec![Advice::CreateStore],
            });
        }
        v if v < newest => {
            return Err(StoreError::Refused {
                location: location.to_string(),
                reason: format!(
                    "the store's tables are at version {v}, older than this preauth ({newest})"
                ),
                advice: vec![Advice::UpgradeStore],
            });
        }
        v if v > newest => too_new(v, newest),
        _ => return Ok(()),
    };
    Err(StoreError::Backend {
        location: location.to_string(),
        reason,
        source: None,
    })
}

/// The sentence for tables newer than this preauth.
fn too_new(current: i32, newest: i32) -> String {
    format!(
        "the store's tables are at version {current}, newer than this preauth knows ({newest}); use the preauth that the other machines use"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use preauth_core::advice::Advice;

    #[test]
    fn a_database_without_the_tables_is_refused_with_the_advice_to_create_the_store() {
        crate::testing::with_database("schema_check_empty", |client| async move {
            match check(&client, "the store").await {
                Err(StoreError::Refused { reason, advice, .. }) => {
                    assert_eq!(
                        reason,
                        "there is no preauth store in this database (check the URL)"
                    );
                    assert_eq!(advice, vec![Advice::CreateStore]);
                }
                other => panic!("not refused with advice: {other:?}"),
            }
            migrate(&client, "the store").await.expect("created");
            check(&client, "the store").await.expect("there now");
        });
    }

    #[test]
    fn tables_older_than_this_preauth_are_refused_with_the_advice_to_upgrade_them() {
        crate::testing::with_database("schema_check_older", |client| async move {
            migrate(&client, "the store").await.expect("created");
            let newest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
            client
                .execute(
                    "DELETE FROM preauth_migrations WHERE version = $1",
                    &[&newest],
                )
                .await
                .expect("one version back");
            match check(&client, "the store").await {
                Err(StoreError::Refused { reason, advice, .. }) => {
                    assert!(reason.contains("older than this preauth"), "{reason}");
                    assert!(!reason.contains("--store"), "no advice in words: {reason}");
                    assert_eq!(advice, vec![Advice::UpgradeStore]);
                }
                other => panic!("not refused with advice: {other:?}"),
            }
        });
    }
}
