//! The store's documents (user-defined platforms, API key hashes) in the table
//! `preauth_documents`, shared by every machine and `preauth serve` replica.
//!
//! A change runs in one transaction under a transaction-level advisory lock on the
//! document's name (a document that does not exist yet has no row to lock), waiting at
//! most the lock wait; the write commits it, and a lock dropped without a write rolls
//! back.

use std::sync::Arc;
use std::time::Duration;

use preauth_core::documents::{Documents, LockedDocument};
use preauth_core::store::StoreError;
use tokio_postgres::Client;

use crate::db::Db;
use crate::errors::error;

/// The documents of one store.
pub(crate) struct PgDocuments {
    pub(crate) db: Arc<Db>,
    pub(crate) lock_wait: Duration,
}

impl Documents for PgDocuments {
    fn location_of(&self, name: &str) -> String {
        format!("{} (document {name})", self.db.location())
    }

    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let name = name.to_string();
        self.db
            .with(|client, location| async move { read(&client, &name, &location).await })
    }

    fn lock(&self, name: &str) -> Result<Box<dyn LockedDocument + '_>, StoreError> {
        let client = self.db.client()?;
        let begin = format!(
            "BEGIN; {}; SET LOCAL synchronous_commit = on",
            self.db.lock_wait_settings(self.lock_wait)
        );
        let (locking, owned) = (Arc::clone(&client), name.to_string());
        let location = self.db.location().to_string();
        let deadline = self.db.lock_wait_deadline(self.lock_wait);
        self.db.run_within(deadline, async move {
            let failed = |e: tokio_postgres::Error| error(&location, e, &format!("lock {owned}"));
            locking.batch_execute(&begin).await.map_err(&failed)?;
            let locked = locking
                .execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('preauth document ' || $1, 0))",
                    &[&owned],
                )
                .await;
            if let Err(e) = locked {
                let _ = locking.batch_execute("ROLLBACK").await;
                return Err(failed(e));
            }
            Ok(())
        })?;
        Ok(Box::new(PgLockedDocument {
            db: &self.db,
            client,
            name: name.to_string(),
            open: true,
        }))
    }
}

/// Document `name` as stored now.
async fn read(client: &Client, name: &str, location: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let row = client
        .query_opt(
            "SELECT body FROM preauth_documents WHERE name = $1",
            &[&name],
        )
        .await
        .map_err(|e| error(location, e, &format!("read {name}")))?;
    Ok(row.map(|r| r.get(0)))
}

/// A document under its advisory lock, in an open transaction.
struct PgLockedDocument<'a> {
    db: &'a Db,
    client: Arc<Client>,
    name: String,
    /// Whether the transaction is still open.
    open: bool,
}

impl LockedDocument for PgLockedDocument<'_> {
    fn read(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        let (client, name) = (Arc::clone(&self.client), self.name.clone());
        let location = self.db.location().to_string();
        self.db
            .run(async move { read(&client, &name, &location).await })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let (client, name, body) = (Arc::clone(&self.client), self.name.clone(), bytes.to_vec());
        let location = self.db.location().to_string();
        self.open = false;
        self.db.run(async move {
            let failed = |e: tokio_postgres::Error| error(&location, e, &format!("write {name}"));
            let written = client
                .execute(
                    "INSERT INTO preauth_documents (name, body) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = now()",
                    &[&name, &body],
                )
                .await;
            match written {
                Ok(_) => client.batch_execute("COMMIT").await.map_err(failed),
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    Err(failed(e))
                }
            }
        })
    }
}

impl Drop for PgLockedDocument<'_> {
    fn drop(&mut self) {
        if self.open {
            let client = Arc::clone(&self.client);
            let _ = self.db.run(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(3), client.batch_execute("ROLLBACK"))
                        .await;
                Ok(())
            });
        }
        self.db.give_back(Arc::clone(&self.client));
    }
}
