//! A connection under a row lock and, while its refresh is on its way, a lease: the
//! refresh cycle on PostgreSQL, made to survive a database restart.
//!
//! A row lock dies with its session, and a session dies when the server restarts or
//! fails over, which can happen while a refresh is on its way to the platform. So:
//!
//! 1. [`RowLock::take`]: `BEGIN; SELECT … FOR UPDATE` (waiting at most the lock wait).
//!    A row under a live lease of another holder is let go and waited for (the
//!    keep-alive skips it); a lease of a dead process of this host is abandoned and
//!    taken over. An answer this machine spooled for the connection is written first.
//! 2. `load` re-reads the row under the lock.
//! 3. `prepare_save`, just before the refresh token is sent, commits a **lease** in the
//!    row: the holder, until when, and the hash of the refresh token it will spend. The
//!    row lock ends with that commit; the lease does not end with a session.
//! 4. `save` of the answer: first into this machine's spool (sealed, fsync), then an
//!    `UPDATE` fenced on the leased token (it applies only while the row still holds
//!    it) on a working session, trying again over a restart for at most the lock wait.
//!    The write ends the lease; then the spool entry goes. If the store stays
//!    unreachable, the answer waits in the spool and the lease keeps others from
//!    spending the old token meanwhile.
//! 5. Dropped without a save, the lease is ended (best effort, bounded); one that could
//!    not be ended expires after [`LEASE`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use preauth_core::connection::{Connection, fold_name};
use preauth_core::platform::Registry;
use preauth_core::sealing::Sealer;
use preauth_core::spool::{Spool, Spooled, refresh_fence};
use preauth_core::store::{LockedConnection, StoreError};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use crate::db::Db;
use crate::errors::error;
use crate::lease::{Holder, LEASE, LeaseSeen};
use crate::outline::outline_text;
use crate::replay::{replay, summary_of, write_fenced};
use crate::summary;

/// The longest one try waits for another session's row lock.
const ROW_LOCK_TRY: Duration = Duration::from_secs(2);

/// The longest a best-effort step (ending a lease, rolling back) may take.
const BEST_EFFORT: Duration = Duration::from_secs(3);

/// What a connection's stored state needs besides the row: where answers wait, and who
/// this process is.
#[derive(Debug, Clone)]
pub(crate) struct Refreshing {
    pub(crate) spool: Spool,
    pub(crate) holder: Holder,
}

/// A lease this lock committed.
#[derive(Debug, Clone)]
struct Lease {
    id: Vec<u8>,
    /// The hash of the refresh token it spends.
    fence: Option<[u8; 32]>,
}

/// A connection locked by this process until dropped.
pub(crate) struct RowLock {
    db: Arc<Db>,
    client: Arc<Client>,
    name: String,
    registry: Registry,
    sealer: Sealer,
    lock_wait: Duration,
    refreshing: Refreshing,
    /// Whether the transaction that holds the row lock is open.
    open: bool,
    /// The lease committed before a refresh was sent, until a save ends it.
    lease: Option<Lease>,
    /// The row as the lock read it, for the first load in the same transaction.
    read: Option<StoredRow>,
}

impl RowLock {
    /// Locks connection `name` on a connection of its own; `NotFound` when there is none.
    /// With `skip_held`, `None` at once when another session holds the row or another
    /// process a live lease, instead of waiting.
    pub(crate) fn take(
        db: Arc<Db>,
        name: &str,
        registry: Registry,
        sealer: Sealer,
        lock_wait: Duration,
        refreshing: Refreshing,
        skip_held: bool,
    ) -> Result<Option<RowLock>, StoreError> {
        if let Some(waiting) = refreshing.spool.find(db.location(), name)? {
            replay(&db, &refreshing.spool, &waiting, &registry)?;
        }
        let client = db.client()?;
        let mut lock = RowLock {
            db,
            client,
            name: name.to_string(),
            registry,
            sealer,
            lock_wait,
            refreshing,
            open: false,
            lease: None,
            read: None,
        };
        Ok(lock.lock_row(skip_held)?.then_some(lock))
    }

    /// Opens the transaction and locks the row; `false` when `skip_held` and another
    /// session holds it or another process a live lease. Waits for a live lease of
    /// another process at most the lock wait.
    fn lock_row(&mut self, skip_held: bool) -> Result<bool, StoreError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            let left = self.lock_wait.saturating_sub(started.elapsed());
            match self.try_lock_row(skip_held, left)? {
                Locking::Locked(row) => {
                    self.open = true;
                    self.read = Some(row);
                    return Ok(true);
                }
                Locking::Held => return Ok(false),
                Locking::Absent => {
                    return Err(StoreError::NotFound {
                        name: self.name.clone(),
                    });
                }
                Locking::Leased(_) if skip_held => return Ok(false),
                Locking::Leased(lease) => {
                    if started.elapsed() >= self.lock_wait {
                        return Err(self
                            .db
                            .failure(lease.waited_out(&self.name, self.lock_wait)));
                    }
                    std::thread::sleep(pause.min(self.lock_wait.saturating_sub(started.elapsed())));
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                Locking::Busy(error) if started.elapsed() >= self.lock_wait => return Err(error),
                Locking::Busy(_) => {}
            }
        }
    }

    /// One try: `BEGIN`, lock the row (waiting at most [`ROW_LOCK_TRY`], or `left`, for
    /// another session's row lock: row locks are held briefly, while a refresh is on its
    /// way the lease keeps others off; so a server that freezes meanwhile is noticed
    /// within a try, not at the end of the whole lock wait), look at its lease.
    fn try_lock_row(&mut self, skip_held: bool, left: Duration) -> Result<Locking, StoreError> {
        let wait = left.min(ROW_LOCK_TRY);
        let client = Arc::clone(&self.client);
        let folded = fold_name(&self.name);
        let begin = format!(
            "BEGIN; {}; SET LOCAL synchronous_commit = on",
            self.db.lock_wait_settings(wait)
        );
        let location = self.db.location().to_string();
        let own = self.lease.as_ref().map(|l| l.id.clone());
        let holder = self.refreshing.holder.clone();
        let deadline = self.db.lock_wait_deadline(wait);
        self.db.run_within(deadline, async move {
            let failed = |e: tokio_postgres::Error| error(&location, e, "lock the connection");
            client.batch_execute(&begin).await.map_err(failed)?;
            // The row comes along, so that the first load under this lock needs no query.
            let lock = if skip_held {
                "SELECT lease_id, lease_holder, lease_host, lease_pid, lease_until,
                        lease_until > now(), name, provider, sealed FROM preauth_connections
                 WHERE folded = $1 FOR UPDATE SKIP LOCKED"
            } else {
                "SELECT lease_id, lease_holder, lease_host, lease_pid, lease_until,
                        lease_until > now(), name, provider, sealed FROM preauth_connections
                 WHERE folded = $1 FOR UPDATE"
            };
            let row = client.query_typed_opt(lock, &[(&folded, Type::TEXT)]).await;
            if let Ok(Some(row)) = &row {
                let lease = LeaseSeen {
                    id: row.get(0),
                    holder: row.get(1),
                    host: row.get(2),
                    pid: row.get(3),
                    until: row.get(4),
                    live: row.get::<_, Option<bool>>(5).unwrap_or(false),
                };
                if lease.blocks(own.as_deref(), &holder) {
                    let _ = client.batch_execute("ROLLBACK").await;
                    return Ok(Locking::Leased(lease));
                }
                return Ok(Locking::Locked(StoredRow {
                    name: row.get(6),
                    provider: row.get(7),
                    sealed: row.get(8),
                }));
            }
            let _ = client.batch_execute("ROLLBACK").await;
            match row {
                Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                    return Ok(Locking::Busy(failed(e)));
                }
                other => other.map_err(failed)?,
            };
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
        })
    }

    fn ensure_open(&mut self) -> Result<(), StoreError> {
        if self.open {
            Ok(())
        } else {
            self.lock_row(false).map(|_| ())
        }
    }

    /// Ends the open transaction (and with it the row lock), best effort.
    fn roll_back(&mut self) {
        self.read = None;
        if !std::mem::take(&mut self.open) {
            return;
        }
        let client = Arc::clone(&self.client);
        let _ = self.db.run(async move {
            let _ = tokio::time::timeout(BEST_EFFORT, client.batch_execute("ROLLBACK")).await;
            Ok(())
        });
    }

    /// Writes the answer `connection` (sealed as `sealed`) under this lock's lease:
    /// spooled first when it holds a new refresh token, then written fenced.
    fn save_leased(
        &mut self,
        lease: Lease,
        connection: &Connection,
        provider: String,
        sealed: String,
    ) -> Result<(), StoreError> {
        self.roll_back();
        let location = self.db.location().to_string();
        let entry = Spooled {
            store: location.clone(),
            name: self.name.clone(),
            provider,
            sealed,
            outline: outline_text(connection, &self.registry, &location)?.0,
            fence: lease.fence,
            holds: refresh_fence(connection),
        };
        // A new refresh token is the only copy of the chain: on this machine's disk first.
        // Should that fail (a full disk), the store is still tried: it may take it.
        let (spooled, unspooled) = if entry.holds == lease.fence {
            (false, None)
        } else {
            match self.refreshing.spool.put(&entry) {
                Ok(_) => (true, None),
                Err(e) => (false, Some(e)),
            }
        };
        match self.write_patiently(&entry) {
            Ok(_) => {
                self.lease = None;
                if spooled {
                    // Written, or the row moved on without it: either way it is done.
                    let _ = self.refreshing.spool.remove(&location, &self.name);
                }
                Ok(())
            }
            Err(e) if spooled => {
                // The lease stays in the row until it expires: nobody may spend the old
                // token while the answer waits here.
                self.lease = None;
                Err(StoreError::Spooled {
                    name: self.name.clone(),
                    path: self.refreshing.spool.path_of(&entry.store, &entry.name),
                    cause: e.to_string(),
                })
            }
            Err(e) => Err(match unspooled {
                Some(spool) => self.db.failure(format!(
                    "neither the store ({e}) nor this machine's spool ({spool}) took the answer"
                )),
                None => e,
            }),
        }
    }

    /// The fenced write, tried again on new sessions while the server restarts, for at
    /// most the lock wait. `true` when written, `false` when the row no longer holds the
    /// fenced token.
    fn write_patiently(&mut self, entry: &Spooled) -> Result<bool, StoreError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let client = Arc::clone(&self.client);
            let (entry, location) = (entry.clone(), self.db.location().to_string());
            let summary = summary_of(&entry, &self.registry)?;
            let written = self.db.run(async move {
                Ok(write_fenced(&client, &entry, &summary).await.map_err(|e| {
                    // Without an SQL state the session or server went away: a new
                    // session may succeed where this one failed.
                    let session_lost = e.code().is_none();
                    (session_lost, error(&location, e, "store the connection"))
                }))
            })?;
            let failed = match written {
                Ok(done) => return Ok(done),
                Err((true, e)) if started.elapsed() < self.lock_wait => e,
                Err((_, e)) => return Err(e),
            };
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(1));
            // The failed session's state is unknown: never reuse it.
            match self.db.client() {
                Ok(client) => self.client = client,
                Err(_) if started.elapsed() < self.lock_wait => {}
                Err(_) => return Err(failed),
            }
        }
    }
}

/// A connection's row as read under its lock.
struct StoredRow {
    name: String,
    provider: String,
    sealed: String,
}

/// What trying to lock a row found.
enum Locking {
    /// Locked, and the row as it is.
    Locked(StoredRow),
    Held,
    Absent,
    /// Another process's live lease.
    Leased(LeaseSeen),
    /// Another session held the row lock for the whole try (the error, should the lock
    /// wait end so).
    Busy(StoreError),
}

impl LockedConnection for RowLock {
    fn load(&mut self) -> Result<Connection, StoreError> {
        self.ensure_open()?;
        if let Some(row) = self.read.take() {
            return self
                .sealer
                .open_connection(&row.name, &row.provider, &row.sealed, &self.registry)
                .map_err(|e| e.at(self.db.location(), &row.name));
        }
        let client = Arc::clone(&self.client);
        let folded = fold_name(&self.name);
        let location = self.db.location().to_string();
        let (name, provider, sealed) = self.db.run(async move {
            let row = client
                .query_typed_one(
                    "SELECT name, provider, sealed FROM preauth_connections WHERE folded = $1",
                    &[(&folded, Type::TEXT)],
                )
                .await
                .map_err(|e| error(&location, e, "read the connection"))?;
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
        // Sealing once derives the data key's sealing key, and the spool folder is made,
        // so that after the platform answers only the writes remain.
        self.sealer
            .seal_connection(connection, &self.registry)
            .map_err(|e| e.at(self.db.location(), &self.name))?;
        self.refreshing.spool.prepare()?;
        let mut id = vec![0u8; 16];
        getrandom::fill(&mut id)
            .map_err(|e| self.db.failure(format!("no random numbers ({e})")))?;
        let fence = refresh_fence(connection);
        let client = Arc::clone(&self.client);
        let folded = fold_name(&self.name);
        let location = self.db.location().to_string();
        let holder = self.refreshing.holder.clone();
        let lease_id = id.clone();
        // The lease is committed (synchronously) before the refresh token is sent.
        self.open = false;
        self.read = None;
        self.db.run(async move {
            let fence = fence.map(|f| f.to_vec());
            let seconds = LEASE.as_secs() as f64;
            let leased = client
                .execute_typed(
                    "UPDATE preauth_connections
                     SET refresh_hash = $2, lease_id = $3, lease_holder = $4, lease_host = $5,
                         lease_pid = $6, lease_until = now() + $7 * interval '1 second'
                     WHERE folded = $1",
                    &[
                        (&folded, Type::TEXT),
                        (&fence, Type::BYTEA),
                        (&lease_id, Type::BYTEA),
                        (&holder.slot, Type::TEXT),
                        (&holder.host, Type::TEXT),
                        (&holder.pid, Type::INT4),
                        (&seconds, Type::FLOAT8),
                    ],
                )
                .await;
            commit_one_row(&client, leased, &location, "lease the connection").await
        })?;
        self.lease = Some(Lease { id, fence });
        Ok(())
    }

    fn save(&mut self, connection: &Connection) -> Result<(), StoreError> {
        if !connection.is_named(&self.name) {
            return Err(self.db.failure(format!(
                "the lock is held for '{}' but connection '{}' was saved; save a connection under the name it was locked with",
                self.name, connection.name
            )));
        }
        let sealed = self
            .sealer
            .seal_connection(connection, &self.registry)
            .map_err(|e| e.at(self.db.location(), &self.name))?;
        if let Some(lease) = self.lease.clone() {
            return self.save_leased(lease, connection, sealed.provider, sealed.text);
        }
        self.ensure_open()?;
        let client = Arc::clone(&self.client);
        let folded = fold_name(&self.name);
        let location = self.db.location().to_string();
        let hash = refresh_fence(connection).map(|h| h.to_vec());
        let (outline, summary) = outline_text(connection, &self.registry, &location)?;
        // Whatever happens now, the transaction is over.
        self.open = false;
        self.read = None;
        self.db.run(async move {
            let mut params: Vec<(&(dyn ToSql + Sync), Type)> = vec![
                (&folded, Type::TEXT),
                (&sealed.provider, Type::TEXT),
                (&sealed.text, Type::TEXT),
                (&hash, Type::BYTEA),
                (&outline, Type::TEXT),
            ];
            params.extend(summary.params());
            let updated = client
                .execute_typed(
                    &format!(
                        "UPDATE preauth_connections
                         SET provider = $2, sealed = $3, refresh_hash = $4, outline = $5,
                             ({}) = ($6, $7, $8, $9, $10, $11), updated_at = now()
                         WHERE folded = $1",
                        summary::COLUMNS
                    ),
                    &params,
                )
                .await;
            commit_one_row(&client, updated, &location, "store the connection").await
        })
    }
}

/// Commits the open transaction when `changed` changed exactly the locked row; rolls
/// it back otherwise.
async fn commit_one_row(
    client: &Client,
    changed: Result<u64, tokio_postgres::Error>,
    location: &str,
    what: &str,
) -> Result<(), StoreError> {
    let failed = |e: tokio_postgres::Error| error(location, e, what);
    match changed {
        Ok(1) => client.batch_execute("COMMIT").await.map_err(failed),
        Ok(_) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(error_gone(location))
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(failed(e))
        }
    }
}

/// The row was deleted while locked (cannot happen under the lock; said if it does).
fn error_gone(location: &str) -> StoreError {
    StoreError::Backend {
        location: location.to_string(),
        reason: "the connection's row disappeared while it was locked".into(),
        source: None,
    }
}

impl Drop for RowLock {
    fn drop(&mut self) {
        self.roll_back();
        if let Some(lease) = self.lease.take() {
            // No answer was saved: the refresh was not sent, or its outcome is recorded.
            // Ending the lease lets the next process go on at once; if this fails, the
            // lease expires.
            let client = Arc::clone(&self.client);
            let folded = fold_name(&self.name);
            let _ = self.db.run(async move {
                let _ = tokio::time::timeout(
                    BEST_EFFORT,
                    client.execute(
                        "UPDATE preauth_connections
                         SET lease_id = NULL, lease_holder = NULL, lease_host = NULL,
                             lease_pid = NULL, lease_until = NULL
                         WHERE folded = $1 AND lease_id = $2",
                        &[&folded, &lease.id],
                    ),
                )
                .await;
                Ok(())
            });
        }
        self.db.give_back(Arc::clone(&self.client));
    }
}
