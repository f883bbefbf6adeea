//! [`PgStore`]: the [`Store`] on PostgreSQL; its [`Fleet`] side is in `fleet`, and
//! listings read from outlines in `listing`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use preauth_core::connection::{Connection, fold_name};
use preauth_core::documents::Documents;
use preauth_core::platform::Registry;
use preauth_core::protector::Protector;
use preauth_core::sealing::Sealer;
use preauth_core::secret::RefreshToken;
use preauth_core::settings::{SettingsFolder, standalone_file, validate_name};
use preauth_core::spool::{Spool, refresh_fence, token_fence};
use preauth_core::store::{
    Fleet, Listed, Listing, LockedConnection, Page, PagedListing, PendingAuthorization, Store,
    StoreError,
};
use tokio_postgres::types::{ToSql, Type};
use zeroize::Zeroizing;

use crate::db::Db;
use crate::documents::PgDocuments;
use crate::errors::error;
use crate::keys::{self, DataKey, MachineKey};
use crate::lease::Holder;
use crate::locked::{Refreshing, RowLock};
use crate::outline::outline_text;
use crate::replay::replay;
use crate::schema;
use crate::summary::{self, Summary};

mod fleet;
mod listing;
mod pending;

/// How many summaries [`Store::for_each_summary`] reads at a time.
const SUMMARY_BATCH: usize = 2_000;

/// What opening a store may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Create or migrate preauth's tables, and set up the first machine's key slot.
    Create,
    /// Use a store as it is (`preauth check`, `preauth token`): nothing is created, so a
    /// wrong URL is reported instead of becoming an empty store.
    Existing,
}

/// Connections in a PostgreSQL database, shared by the machines enrolled in it.
///
/// Opening connects and brings preauth's tables up to date; the data key is unlocked
/// on first use with this machine's key slot (so that `enroll machine with code` works
/// on a machine that has none yet). Cheap to share behind an `Arc`.
pub struct PgStore {
    db: Arc<Db>,
    access: Access,
    registry: Registry,
    machine: MachineKey,
    /// Reads settings files here (for `import settings`) with this machine's key.
    local: Sealer,
    lock_wait: Duration,
    /// Where refresh answers wait for the store, and who this process is in a lease.
    refreshing: Refreshing,
    /// The data key once unlocked, as the sealer of connection strings and its text
    /// (for enrollment codes).
    unlocked: Mutex<Option<Unlocked>>,
}

#[derive(Clone)]
struct Unlocked {
    sealer: Sealer,
    data_key: Arc<DataKey>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.db.location())
            .field("machine", &self.machine)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host/database`;
    /// TLS for anything but this machine), creates or migrates preauth's tables (only
    /// checks that they are there and current when `access` is [`Access::Existing`]),
    /// and returns the store for `machine`, waiting at most `lock_wait` for a
    /// connection another process holds. Refresh answers that the store could not take
    /// wait in `spool` (this machine's settings folder) until it can; opening writes
    /// those of this store first.
    pub fn open(
        url: &str,
        access: Access,
        registry: Registry,
        machine: MachineKey,
        lock_wait: Duration,
        spool: Spool,
    ) -> Result<PgStore, StoreError> {
        let db = Arc::new(Db::open(url)?);
        db.with(|client, location| async move {
            match access {
                Access::Create => schema::migrate(&client, &location).await,
                Access::Existing => schema::check(&client, &location).await,
            }
        })?;
        // The first machine that opens a new store holds its first key slot.
        let claimed = match access {
            Access::Create => {
                let machine = machine.clone();
                db.with(|client, location| async move {
                    keys::claim_if_empty(&client, &location, &machine).await
                })?
            }
            Access::Existing => None,
        };
        // Answers spooled on this machine go to the store before anything reads it. One
        // that still cannot be written waits for the next lock of its connection.
        for waiting in spool.all(db.location())? {
            let _ = replay(&db, &spool, &waiting, &registry);
        }
        let local = Sealer::new(Some(Arc::clone(&machine.protector)));
        let refreshing = Refreshing {
            spool,
            holder: Holder::this_process(&machine.slot),
        };
        Ok(PgStore {
            db,
            access,
            registry,
            machine,
            local,
            lock_wait,
            refreshing,
            unlocked: Mutex::new(claimed.map(unlock_with)),
        })
    }

    /// The data key, unlocked with this machine's slot on first use.
    fn unlocked(&self) -> Result<Unlocked, StoreError> {
        let mut unlocked = self
            .unlocked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(u) = unlocked.as_ref() {
            return Ok(u.clone());
        }
        let (machine, read_only) = (self.machine.clone(), self.access == Access::Existing);
        let data_key = self.db.with(|client, location| async move {
            keys::unlock(&client, &location, &machine, read_only).await
        })?;
        Ok(unlocked.insert(unlock_with(data_key)).clone())
    }

    fn sealer(&self) -> Result<Sealer, StoreError> {
        Ok(self.unlocked()?.sealer)
    }

    fn location(&self) -> &str {
        self.db.location()
    }

    /// `(name, provider, sealed)` of every connection, or of the one whose folded name
    /// is `only`.
    fn rows(&self, only: Option<String>) -> Result<Vec<(String, String, String)>, StoreError> {
        self.db.with(|client, location| async move {
            let rows = match &only {
                Some(folded) => client
                    .query(
                        "SELECT name, provider, sealed FROM preauth_connections WHERE folded = $1",
                        &[folded],
                    )
                    .await,
                None => client
                    .query(
                        "SELECT name, provider, sealed FROM preauth_connections ORDER BY folded",
                        &[],
                    )
                    .await,
            }
            .map_err(|e| error(&location, e, "read the connections"))?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        })
    }

    fn open_row(
        &self,
        sealer: &Sealer,
        row: &(String, String, String),
    ) -> Result<Connection, StoreError> {
        let (name, provider, sealed) = row;
        sealer
            .open_connection(name, provider, sealed, &self.registry)
            .map_err(|e| e.at(self.location(), name))
    }

    /// Locks connection `name`'s row; with `skip_held`, `None` when another session
    /// holds it.
    fn row_lock(
        &self,
        name: &str,
        skip_held: bool,
    ) -> Result<Option<Box<dyn LockedConnection>>, StoreError> {
        let sealer = self.sealer()?;
        let lock = RowLock::take(
            Arc::clone(&self.db),
            name,
            self.registry.clone(),
            sealer,
            self.lock_wait,
            self.refreshing.clone(),
            skip_held,
        )?;
        Ok(lock.map(|l| Box::new(l) as Box<dyn LockedConnection>))
    }

    /// Inserts every connection of `connections` in one transaction; on a name taken
    /// nothing is inserted.
    fn insert_all(&self, connections: &[Connection]) -> Result<(), StoreError> {
        let sealer = self.sealer()?;
        let mut rows = Vec::with_capacity(connections.len());
        for c in connections {
            validate_name(&c.name)?;
            let sealed = sealer
                .seal_connection(c, &self.registry)
                .map_err(|e| e.at(self.location(), &c.name))?;
            rows.push((
                fold_name(&c.name),
                c.name.clone(),
                sealed.provider,
                sealed.text,
                refresh_fence(c).map(|h| h.to_vec()),
                outline_text(c, &self.registry, self.location())?,
            ));
        }
        let taken_in = std::path::PathBuf::from(self.location());
        self.db.with(|client, location| async move {
            let failed = |e: tokio_postgres::Error| error(&location, e, "store the connection");
            client.batch_execute("BEGIN").await.map_err(failed)?;
            for (folded, name, provider, sealed, hash, (outline, summary)) in &rows {
                let mut params: Vec<(&(dyn ToSql + Sync), Type)> = vec![
                    (folded, Type::TEXT),
                    (name, Type::TEXT),
                    (provider, Type::TEXT),
                    (sealed, Type::TEXT),
                    (hash, Type::BYTEA),
                    (outline, Type::TEXT),
                ];
                params.extend(summary.params());
                let inserted = client
                    .execute_typed(
                        &format!(
                            "INSERT INTO preauth_connections
                                 (folded, name, provider, sealed, refresh_hash, outline, {})
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                             ON CONFLICT (folded) DO NOTHING",
                            summary::COLUMNS
                        ),
                        &params,
                    )
                    .await;
                let taken = match inserted {
                    Ok(1) => None,
                    Ok(_) => Some(StoreError::AlreadyExists {
                        name: name.clone(),
                        path: taken_in.clone(),
                    }),
                    Err(e) => Some(failed(e)),
                };
                if let Some(e) = taken {
                    let _ = client.batch_execute("ROLLBACK").await;
                    return Err(e);
                }
            }
            client.batch_execute("COMMIT").await.map_err(failed)
        })
    }
}

fn unlock_with(data_key: Arc<DataKey>) -> Unlocked {
    Unlocked {
        sealer: Sealer::new(Some(Arc::clone(&data_key) as _)),
        data_key,
    }
}

impl Store for PgStore {
    fn secrets_protector(&self) -> Result<Option<Arc<dyn Protector>>, StoreError> {
        Ok(Some(self.unlocked()?.data_key as Arc<dyn Protector>))
    }

    fn documents(&self) -> Option<Arc<dyn Documents>> {
        Some(Arc::new(PgDocuments {
            db: Arc::clone(&self.db),
            lock_wait: self.lock_wait,
        }))
    }

    fn location(&self) -> String {
        self.db.location().to_string()
    }

    fn fleet(&self) -> Option<&dyn Fleet> {
        Some(self)
    }

    fn names(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .rows(None)?
            .into_iter()
            .map(|(name, _, _)| name)
            .collect())
    }

    fn list(&self) -> Result<Listing, StoreError> {
        let sealer = self.sealer()?;
        let connections = self
            .rows(None)?
            .into_iter()
            .map(|row| Listed {
                connection: self.open_row(&sealer, &row),
                name: row.0,
                location: self.location().to_string(),
                sealed: true,
            })
            .collect();
        Ok(Listing {
            connections,
            problems: Vec::new(),
        })
    }

    fn outlines(&self) -> Result<Listing, StoreError> {
        Ok(self.outline_rows(None)?.0)
    }

    fn for_each_summary(
        &self,
        each: &mut dyn FnMut(Listed),
    ) -> Result<Vec<StoreError>, StoreError> {
        let mut after: Option<String> = None;
        loop {
            let (from, limit) = (after.clone(), i64::try_from(SUMMARY_BATCH).unwrap_or(1));
            let rows = self.db.with(|client, location| async move {
                if from.is_none() {
                    keys::check_openable(&client, &location).await?;
                }
                // Rows written before summaries were kept bring what lists them instead.
                let rows = client
                    .query(
                        &format!(
                            "SELECT folded, name, {},
                                    CASE WHEN platform IS NULL THEN provider END,
                                    CASE WHEN platform IS NULL THEN outline END,
                                    CASE WHEN platform IS NULL AND outline IS NULL
                                         THEN sealed END
                             FROM preauth_connections
                             WHERE $1::text IS NULL OR folded > $1
                             ORDER BY folded LIMIT $2",
                            summary::COLUMNS
                        ),
                        &[&from, &limit],
                    )
                    .await
                    .map_err(|e| error(&location, e, "read the connections"))?;
                Ok(rows)
            })?;
            let full = rows.len() == SUMMARY_BATCH;
            after = rows.last().map(|r| r.get(0));
            for row in rows {
                let name: String = row.get(1);
                let listed = match row.get::<_, Option<String>>(2) {
                    Some(platform) => Listed {
                        connection: Ok(Summary {
                            platform,
                            access_issued_at: row.get(3),
                            access_expires_at: row.get(4),
                            refresh_issued_at: row.get(5),
                            secrets: row.get::<_, Option<i16>>(6).unwrap_or_default(),
                            records: row.get(7),
                        }
                        .connection(name.clone())),
                        name,
                        location: self.location().to_string(),
                        sealed: true,
                    },
                    None => self.outline_listed(
                        name,
                        row.get::<_, Option<String>>(8).unwrap_or_default(),
                        row.get(9),
                        row.get(10),
                    ),
                };
                each(listed);
            }
            if !full {
                return Ok(Vec::new());
            }
        }
    }

    fn outline_page(&self, page: &Page) -> Result<PagedListing, StoreError> {
        let (mut listing, total) = self.outline_rows(Some(page))?;
        let more = listing.connections.len() > page.limit;
        listing.connections.truncate(page.limit);
        let next = more
            .then(|| listing.connections.last().map(|l| l.name.clone()))
            .flatten();
        Ok(PagedListing {
            listing,
            total: total.unwrap_or_default(),
            next,
        })
    }

    fn holders_of(&self, token: &RefreshToken) -> Result<Option<Vec<String>>, StoreError> {
        let hash = token_fence(token.secret()).to_vec();
        self.db.with(|client, location| async move {
            // Rows written before version 2 have no hash yet: then the caller looks
            // through the listing (a NULL name here says so).
            let rows = client
                .query(
                    "SELECT name FROM preauth_connections WHERE refresh_hash = $1
                     UNION ALL
                     SELECT NULL WHERE EXISTS
                         (SELECT 1 FROM preauth_connections WHERE outline IS NULL)",
                    &[&hash],
                )
                .await
                .map_err(|e| error(&location, e, "read the connections"))?;
            let names: Option<Vec<String>> = rows.iter().map(|r| r.get(0)).collect();
            Ok(names)
        })
    }

    fn listed(&self, name: &str) -> Result<Listed, StoreError> {
        let sealer = self.sealer()?;
        let rows = self.rows(Some(fold_name(name)))?;
        let row = rows.first().ok_or_else(|| StoreError::NotFound {
            name: name.to_string(),
        })?;
        Ok(Listed {
            connection: self.open_row(&sealer, row),
            name: row.0.clone(),
            location: self.location().to_string(),
            sealed: true,
        })
    }

    fn load(&self, name: &str) -> Result<Connection, StoreError> {
        self.listed(name)?.connection
    }

    fn create(&self, connection: &Connection) -> Result<(), StoreError> {
        self.insert_all(std::slice::from_ref(connection))
    }

    fn lock(&self, name: &str) -> Result<Box<dyn LockedConnection>, StoreError> {
        self.row_lock(name, false)?
            .ok_or_else(|| StoreError::NotFound { name: name.into() })
    }

    fn lock_unless_held(
        &self,
        name: &str,
    ) -> Result<Option<Box<dyn LockedConnection>>, StoreError> {
        self.row_lock(name, true)
    }

    fn drop_connection(&self, name: &str) -> Result<bool, StoreError> {
        let folded = fold_name(name);
        let wait = self.db.lock_wait_settings(self.lock_wait);
        let deadline = self.db.lock_wait_deadline(self.lock_wait);
        self.db
            .with_within(deadline, |client, location| async move {
                let failed = |e: tokio_postgres::Error| error(&location, e, "drop the connection");
                // Waits (at most the lock wait) for a refresh that holds the row.
                client
                    .batch_execute(&format!("BEGIN; {wait}"))
                    .await
                    .map_err(failed)?;
                let deleted = client
                    .execute(
                        "DELETE FROM preauth_connections WHERE folded = $1",
                        &[&folded],
                    )
                    .await;
                let end = if deleted.is_ok() {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                };
                client.batch_execute(end).await.map_err(failed)?;
                Ok(deleted.map_err(failed)? > 0)
            })
    }

    fn put_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        self.put(pending)
    }

    fn take_pending(
        &self,
        state: &str,
        now: SystemTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.take(state, now)
    }

    fn unfinished_login(
        &self,
        name: &str,
        now: SystemTime,
    ) -> Result<Option<Connection>, StoreError> {
        self.unfinished(name, now)
    }

    fn export_settings(&self, name: &str, sealed: bool) -> Result<Zeroizing<String>, StoreError> {
        let connection = self.load(name)?;
        let platform = self.registry.get(&connection.platform).ok_or_else(|| {
            self.db
                .failure(format!("unknown platform '{}'", connection.platform))
        })?;
        // Sealed output opens where this machine's key is (as a settings file here).
        let kept = self
            .local
            .seal_connection(&connection, &self.registry)
            .map_err(|e| e.at(self.location(), name))?;
        let plain = Sealer::new(None)
            .seal_connection(&connection, &self.registry)
            .map_err(|e| e.at(self.location(), name))?;
        let text = if sealed { &kept.text } else { &plain.text };
        standalone_file(
            &connection.name,
            &platform.display_name,
            &platform.provider,
            text,
        )
    }

    fn import_settings(&self, path: &Path) -> Result<Vec<String>, StoreError> {
        let reader = SettingsFolder::open(
            path.parent().unwrap_or(Path::new(".")),
            self.registry.clone(),
            None,
        )?
        .with_sealer(self.local.clone());
        let connections = reader.connections_in(path)?;
        self.insert_all(&connections)?;
        Ok(connections.into_iter().map(|c| c.name).collect())
    }
}
