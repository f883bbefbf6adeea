//! [`Lifecycle`]: the handle over a store, the platforms, a clock and a token client,
//! and what every use of it shares: the per-connection in-process lock, store work on
//! blocking threads, the grant handed out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use super::status::{ConnectionStatus, connection_status};
use crate::clock::Clock;
use crate::connection::{Connection, fold_name};
use crate::documents::Documents;
use crate::error::LifecycleError;
use crate::platform::{Platform, Registry};
use crate::secret::{AccessToken, RefreshToken};
use crate::store::{Store, StoreError};
use crate::token_client::{Grant, TokenClient, TokenError};

/// A usable access token, persisted before it was handed out.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    /// The access token.
    pub token: AccessToken,
    /// When it stops working.
    pub expires_at: SystemTime,
    /// The connection as stored now.
    pub connection: Connection,
    /// Its platform.
    pub platform: Arc<Platform>,
    /// Whether this call refreshed it (rather than finding a valid one stored).
    pub refreshed: bool,
    /// What the refresh counted in the connection's calls of the day (`None`: no
    /// refresh, or a store without a ledger).
    pub spent: Option<crate::budget::Spent>,
}

/// When a stored access token is refreshed.
#[derive(Debug, Clone)]
pub(super) enum Need {
    /// Only inside the platform's refresh window or later.
    IfNeeded,
    /// Always.
    Force,
    /// When the refresh token is older than `threshold` and still `seen`, the one the
    /// keep-alive listed: a connection whose token changed since was refreshed by
    /// another process (another machine's keep-alive) and is left alone (keep-alive).
    OlderThan {
        threshold: Duration,
        seen: Option<RefreshToken>,
    },
}

/// The token lifecycle over a store, a platform registry, a clock and a token client.
/// Cheap to clone (shared).
#[derive(Clone)]
pub struct Lifecycle {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) store: Arc<dyn Store>,
    pub(super) registry: Registry,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) http: TokenClient,
    /// Where the budget ledger is kept ([`crate::budget`]): the store's documents.
    pub(super) ledger: Option<Arc<dyn Documents>>,
    /// In-process locks per connection (by [`fold_name`]), taken before the store's lock,
    /// so that tasks of one process wanting the same connection queue here instead of
    /// each occupying a blocking thread on the store's lock.
    pub(super) local: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Where events go (webhooks' outbox), once set.
    pub(super) sink: OnceLock<Arc<dyn crate::notify::EventSink>>,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle").finish_non_exhaustive()
    }
}

impl Lifecycle {
    /// A lifecycle over `store`, knowing the platforms in `registry`, with the budget
    /// ledger in the store's own documents, if it keeps any.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        clock: Arc<dyn Clock>,
        http: TokenClient,
    ) -> Lifecycle {
        let ledger = store.documents();
        Lifecycle::with_ledger(store, registry, clock, http, ledger)
    }

    /// A lifecycle over `store` that keeps the budget ledger in `ledger` (the documents
    /// that go with the store: a settings folder's files, or the shared store's own;
    /// `None`: no ledger, nothing counted).
    pub fn with_ledger(
        store: Arc<dyn Store>,
        registry: Registry,
        clock: Arc<dyn Clock>,
        http: TokenClient,
        ledger: Option<Arc<dyn Documents>>,
    ) -> Lifecycle {
        Lifecycle {
            inner: Arc::new(Inner {
                store,
                registry,
                clock,
                http,
                ledger,
                local: Mutex::new(HashMap::new()),
                sink: OnceLock::new(),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Where the budget ledger is kept (`None`: nothing is counted).
    pub fn ledger(&self) -> Option<&Arc<dyn Documents>> {
        self.inner.ledger.as_ref()
    }

    /// The platform registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The clock.
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// The platform of a connection.
    pub fn platform_of(&self, connection: &Connection) -> Result<Arc<Platform>, LifecycleError> {
        self.inner
            .registry
            .get(&connection.platform)
            .ok_or_else(|| LifecycleError::UnknownPlatform {
                name: connection.name.clone(),
                platform: connection.platform.clone(),
            })
    }

    /// The status of a connection at `now`, for display and monitoring.
    pub fn status(
        &self,
        connection: &Connection,
        now: SystemTime,
    ) -> Result<ConnectionStatus, LifecycleError> {
        let platform = self.platform_of(connection)?;
        Ok(connection_status(&platform, connection, now))
    }

    /// Maps a token-client error for `connection`.
    pub(super) fn token_error(
        &self,
        connection: &Connection,
        grant: Grant,
        e: TokenError,
    ) -> LifecycleError {
        LifecycleError::from_token(&connection.name, grant, e, &connection.redirect_url)
    }

    /// The in-process lock of one connection.
    pub(super) fn local_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .inner
            .local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(fold_name(name)).or_default())
    }
}

/// Runs store work on a blocking thread, so that a lock wait or a disk flush never
/// stalls the async runtime's workers.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LifecycleError> + Send + 'static,
) -> Result<T, LifecycleError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        LifecycleError::Store(StoreError::Io {
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(format!("a store worker stopped: {e}")),
        })
    })?
}

/// The grant of `connection`'s stored access token.
pub(super) fn grant(
    connection: Connection,
    platform: Arc<Platform>,
    refreshed: bool,
) -> AccessGrant {
    let (token, expires_at) = connection
        .tokens
        .as_ref()
        .map(|t| (t.access_token.clone(), t.access_token_expires_at))
        .unwrap_or_else(|| (AccessToken::new(""), SystemTime::UNIX_EPOCH));
    AccessGrant {
        token,
        expires_at,
        connection,
        platform,
        refreshed,
        spent: None,
    }
}
