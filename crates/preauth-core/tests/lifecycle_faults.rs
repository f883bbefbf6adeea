//! The lifecycle when the store or the network fails at the worst moment: a store that
//! cannot get ready to save (nothing may be sent), a save that fails after the platform
//! answered (the user must hear that the chain is lost, and monitoring must see it),
//! and answers lost once or twice (at most one automatic try).

mod lifecycle_support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use lifecycle_support::{TempSettings, authorize, demo_connection, lifecycle, sandbox};
use preauth_core::connection::Connection;
use preauth_core::error::LifecycleError;
use preauth_core::lifecycle::{FailureKind, RefreshFailure};
use preauth_core::store::{Listing, LockedConnection, PendingAuthorization, Store, StoreError};
use preauth_sandbox::Fault;
use zeroize::Zeroizing;

const TEN_MINUTES: Duration = Duration::from_secs(600);

/// A settings folder whose next `prepare_save` or `save` calls fail as a full disk does.
#[derive(Default)]
struct FaultyStore {
    inner: TempSettings,
    failing_prepares: Arc<AtomicUsize>,
    failing_saves: Arc<AtomicUsize>,
}

fn disk_full() -> StoreError {
    StoreError::Io {
        path: "settings-acme.xml".into(),
        source: std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device"),
    }
}

/// Takes one from `counter` when it is above zero; says whether it did.
fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

struct FaultyLock {
    inner: Box<dyn LockedConnection>,
    failing_prepares: Arc<AtomicUsize>,
    failing_saves: Arc<AtomicUsize>,
}

impl LockedConnection for FaultyLock {
    fn load(&mut self) -> Result<Connection, StoreError> {
        self.inner.load()
    }
    fn prepare_save(&mut self, connection: &Connection) -> Result<(), StoreError> {
        if take(&self.failing_prepares) {
            return Err(disk_full());
        }
        self.inner.prepare_save(connection)
    }
    fn save(&mut self, connection: &Connection) -> Result<(), StoreError> {
        if take(&self.failing_saves) {
            return Err(disk_full());
        }
        self.inner.save(connection)
    }
}

impl Store for FaultyStore {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn export_settings(&self, name: &str, sealed: bool) -> Result<Zeroizing<String>, StoreError> {
        self.inner.export_settings(name, sealed)
    }
    fn import_settings(&self, path: &Path) -> Result<Vec<String>, StoreError> {
        self.inner.import_settings(path)
    }
    fn names(&self) -> Result<Vec<String>, StoreError> {
        self.inner.names()
    }
    fn list(&self) -> Result<Listing, StoreError> {
        self.inner.list()
    }
    fn load(&self, name: &str) -> Result<Connection, StoreError> {
        self.inner.load(name)
    }
    fn create(&self, connection: &Connection) -> Result<(), StoreError> {
        self.inner.create(connection)
    }
    fn lock(&self, name: &str) -> Result<Box<dyn LockedConnection>, StoreError> {
        Ok(Box::new(FaultyLock {
            inner: self.inner.lock(name)?,
            failing_prepares: Arc::clone(&self.failing_prepares),
            failing_saves: Arc::clone(&self.failing_saves),
        }))
    }
    fn drop_connection(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.drop_connection(name)
    }
    fn put_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        self.inner.put_pending(pending)
    }
    fn take_pending(
        &self,
        state: &str,
        now: SystemTime,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.inner.take_pending(state, now)
    }
}

fn refresh_token(store: &FaultyStore) -> String {
    store
        .load("acme")
        .ok()
        .and_then(|c| c.tokens)
        .and_then(|t| t.refresh_token)
        .map(|r| r.secret().to_string())
        .expect("a stored refresh token")
}

fn record(store: &FaultyStore) -> Option<RefreshFailure> {
    RefreshFailure::of(&store.load("acme").expect("stored"))
}

#[tokio::test]
async fn a_store_that_cannot_get_ready_means_nothing_is_sent() {
    let sb = sandbox().await;
    let store = Arc::new(FaultyStore::default());
    let lc = lifecycle(&sb, store.clone());
    authorize(&lc, &demo_connection("acme", "exact-online", &sb)).await;
    let before = refresh_token(&store);
    sb.clock().advance(TEN_MINUTES);
    store.failing_prepares.store(1, Ordering::SeqCst);

    let err = lc.ensure_access_token("acme").await.expect_err("not ready");
    assert!(matches!(err, LifecycleError::SaveNotReady { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("was not sent"), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("unspent"), "{text}");
    assert_eq!(
        sb.counters().token_calls_refresh_token,
        0,
        "nothing was sent"
    );
    assert_eq!(refresh_token(&store), before);
    assert_eq!(
        record(&store),
        None,
        "nothing to record: the chain is whole"
    );

    // With space again, the same refresh token works.
    lc.ensure_access_token("acme").await.expect("refreshed");
    assert_eq!(sb.counters().token_calls_refresh_token, 1);
}

#[tokio::test]
async fn a_save_that_fails_after_the_answer_says_the_chain_is_lost_and_records_it() {
    let sb = sandbox().await;
    let store = Arc::new(FaultyStore::default());
    let lc = lifecycle(&sb, store.clone());
    authorize(&lc, &demo_connection("acme", "exact-online", &sb)).await;
    let sent = refresh_token(&store);
    store.failing_saves.store(1, Ordering::SeqCst);

    sb.clock().advance(TEN_MINUTES);
    let err = lc
        .ensure_access_token("acme")
        .await
        .expect_err("not stored");
    assert!(
        matches!(err, LifecycleError::TokensNotStored { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("the platform issued new tokens for 'acme' but they could not be stored"),
        "{text}"
    );
    assert_eq!(
        err.advice(),
        [preauth_core::advice::Advice::LogInAgain {
            connection: "acme".into()
        }],
        "{text}"
    );
    assert!(!text.contains(&sent));
    assert_eq!(sb.counters().token_calls_refresh_token, 1);

    let recorded = record(&store).expect("monitoring sees it");
    assert_eq!(recorded.kind, FailureKind::NotStored);
    assert!(recorded.message.contains("could not be stored"));

    // The stored token is spent: it is not sent again automatically.
    let again = lc.ensure_access_token("acme").await.expect_err("blocked");
    assert!(
        matches!(again, LifecycleError::RefreshBlocked { .. }),
        "{again}"
    );
    assert_eq!(sb.counters().token_calls_refresh_token, 1);
}

#[tokio::test]
async fn after_a_lost_answer_one_automatic_try_then_none() {
    let sb = sandbox().await;
    let store = Arc::new(FaultyStore::default());
    let lc = lifecycle(&sb, store.clone());
    authorize(&lc, &demo_connection("acme", "exact-online", &sb)).await;
    sb.clock().advance(TEN_MINUTES);

    // Lost once: recorded, and the next call may try once more.
    sb.inject(Fault::Http500);
    let err = lc.ensure_access_token("acme").await.expect_err("lost");
    assert!(
        matches!(err, LifecycleError::RefreshOutcomeUnknown { .. }),
        "{err}"
    );
    let lost = record(&store).expect("a record");
    assert_eq!(lost.kind, FailureKind::Lost);
    let next_try = lost.next_try().expect("a next try");

    // Until the backoff has passed, nothing is sent.
    let waiting = lc.ensure_access_token("acme").await.expect_err("waiting");
    assert!(
        matches!(waiting, LifecycleError::RetryLater { .. }),
        "{waiting}"
    );
    assert_eq!(sb.counters().faults_applied, 1, "one call was sent");
    let wait = next_try
        .duration_since(sb.clock().now())
        .unwrap_or_default();
    assert!(wait <= std::time::Duration::from_secs(30), "{wait:?}");
    sb.clock().advance(wait + std::time::Duration::from_secs(1));

    // Lost again on that one try: no more automatic tries.
    sb.inject(Fault::Http500);
    let err = lc
        .ensure_access_token("acme")
        .await
        .expect_err("lost again");
    assert!(
        matches!(err, LifecycleError::RefreshOutcomeUnknown { .. }),
        "{err}"
    );
    assert_eq!(record(&store).map(|r| r.kind), Some(FailureKind::LostAgain));
    // (A 500 fault answers before the sandbox counts the call as a refresh.)
    assert_eq!(sb.counters().faults_applied, 2, "two calls were sent");
    let blocked = lc.ensure_access_token("acme").await.expect_err("blocked");
    assert!(
        matches!(blocked, LifecycleError::RefreshBlocked { .. }),
        "{blocked}"
    );
    assert!(
        blocked
            .advice()
            .contains(&preauth_core::advice::Advice::ForceRefresh {
                connection: "acme".into()
            }),
        "{blocked}"
    );
    assert_eq!(sb.counters().faults_applied, 2, "nothing sent");
    assert_eq!(sb.counters().token_calls_refresh_token, 0, "nothing sent");

    // Forced, it is sent; the token was never spent (500 spends nothing), so it works
    // and the record is gone.
    lc.refresh("acme", true).await.expect("forced refresh");
    assert_eq!(record(&store), None);
    assert_eq!(sb.counters().token_calls_refresh_token, 1);
}
