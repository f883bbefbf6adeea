//! The token lifecycle: the one place tokens are obtained, refreshed and persisted.
//!
//! Invariants (the reason this module exists):
//! - **Persist before use.** A token response is saved durably through
//!   [`LockedConnection::save`](crate::store::LockedConnection::save) before its access
//!   token is returned to anyone or used for any call.
//! - **Lock, re-read, refresh, persist, unlock.** [`Lifecycle::ensure_access_token`]
//!   holds the connection's cross-process lock from re-reading the stored tokens until
//!   the new ones are saved, so two processes never spend the same refresh token. Within
//!   one process an async lock per connection comes first, so tasks queue without
//!   blocking the runtime's threads on the store's lock.
//! - **A lost answer is never retried blindly.** When a refresh was sent and its answer
//!   lost (timeout, dropped connection, 5xx), the old refresh token may be spent: the
//!   lifecycle re-reads the store, does not send the token again, and says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::clock::Clock;
use crate::connection::{Connection, Tokens, fold_name};
use crate::error::LifecycleError;
use crate::flow::{self, Callback, FlowError, StartedAuthorization};
use crate::platform::{Platform, Registry};
use crate::secret::{AccessToken, RefreshToken};
use crate::store::{LockedConnection, Store, StoreError};
use crate::token_client::{Grant, RefusalKind, TokenClient, TokenError, TokenResponse};

mod failure;
mod keepalive;
mod register;
mod status;

pub use failure::{FailureKind, REFRESH_FAILED_KEY, RefreshFailure};

pub use keepalive::{KeepAliveEvent, KeepAliveOutcome, KeepAliveReport};
pub use register::{Proof, RegisterRequest, Registration};
pub use status::{ConnectionStatus, TokenState, connection_status};

/// The extra connection-string key where Twinfield's cluster URL is kept.
pub const CLUSTER_URL_KEY: &str = "api-cluster-url";

/// When a platform refuses a refresh because the access token is still valid, the token
/// is taken to live at least this long past the platform's refresh window.
const STILL_VALID_MARGIN: Duration = Duration::from_secs(60);

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
}

/// When a stored access token is refreshed.
#[derive(Debug, Clone)]
enum Need {
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
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    registry: Registry,
    clock: Arc<dyn Clock>,
    http: TokenClient,
    /// In-process locks per connection (by [`fold_name`]), taken before the store's lock,
    /// so that tasks of one process wanting the same connection queue here instead of
    /// each occupying a blocking thread on the store's lock.
    local: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle").finish_non_exhaustive()
    }
}

impl Lifecycle {
    /// A lifecycle over `store`, knowing the platforms in `registry`.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        clock: Arc<dyn Clock>,
        http: TokenClient,
    ) -> Lifecycle {
        Lifecycle {
            inner: Arc::new(Inner {
                store,
                registry,
                clock,
                http,
                local: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
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

    /// Starts an authorization for `connection` (its name, platform, base URL, client
    /// and redirect URL; tokens are ignored): builds the URL and stores the pending
    /// authorization for [`flow::PENDING_LIFETIME`]. Show (or open) `url`; then call
    /// [`Lifecycle::finish_authorization`] with the return URL, in this or another process.
    pub fn start_authorization(
        &self,
        connection: &Connection,
    ) -> Result<StartedAuthorization, LifecycleError> {
        let platform = self.platform_of(connection)?;
        let started = flow::start(&platform, connection, self.now())?;
        self.inner.store.put_pending(&started.pending)?;
        Ok(started)
    }

    /// Finishes an authorization from its return URL (whole URL or query): checks
    /// `state` against the pending authorizations (each is used once), the `iss`, and the
    /// platform's `error`; exchanges the code at once; stores the connection with its
    /// tokens durably, and only then returns it. A login that yielded no refresh token on
    /// a platform that issues them is stored all the same, and reported as
    /// [`LifecycleError::NoRefreshTokenIssued`].
    pub async fn finish_authorization(
        &self,
        return_url: &str,
    ) -> Result<Connection, LifecycleError> {
        let callback = flow::parse_return(return_url)?;
        let state = callback.state().ok_or(FlowError::MissingState)?;
        let (store, state, now) = (Arc::clone(&self.inner.store), state.to_string(), self.now());
        let pending = blocking(move || Ok(store.take_pending(&state, now)?))
            .await?
            .ok_or(FlowError::UnknownState)?;
        let mut connection = pending.connection.clone();
        let platform = self.platform_of(&connection)?;
        flow::check_issuer(&platform, &connection.api_url, callback.iss())?;
        let code = match callback {
            Callback::Denied {
                error, description, ..
            } => {
                return Err(FlowError::Denied { error, description }.into());
            }
            Callback::Code { code, .. } => code,
        };
        let response = self
            .inner
            .http
            .exchange_code(
                &platform,
                &connection,
                &code,
                pending.pkce_verifier.as_ref(),
            )
            .await
            .map_err(|e| self.token_error(&connection, Grant::Code, e))?;
        if let Some(claims) = &response.id_token {
            flow::check_id_token(&platform, &connection, pending.nonce.as_deref(), claims)?;
        }
        connection.tokens = Some(tokens_from(&platform, response, None, self.now()));
        self.persist_new(&connection).await?;
        self.remember_cluster_url(&platform, &mut connection).await;
        match connection.tokens.as_ref() {
            Some(t) if t.refresh_token.is_none() && platform.issues_refresh_tokens => {
                Err(LifecycleError::NoRefreshTokenIssued {
                    name: connection.name,
                    dies_at: t.access_token_expires_at,
                })
            }
            _ => Ok(connection),
        }
    }

    /// THE entry point for a usable access token: under the connection's lock, re-reads
    /// the stored tokens, refreshes only when needed (no access token, or inside the
    /// platform's refresh window before expiry, or later), saves durably, unlocks, and
    /// returns the token.
    pub async fn ensure_access_token(&self, name: &str) -> Result<AccessGrant, LifecycleError> {
        // A stored access token outside the platform's refresh window is handed out from
        // a read without the lock: nothing refreshes it before that window (a forced
        // refresh aside, which leaves this token valid too), so waiting for the lock
        // would only cost time. Anything else goes under the lock.
        let (store, owned) = (Arc::clone(&self.inner.store), name.to_string());
        if let Ok(connection) = blocking(move || Ok(store.load(&owned)?)).await
            && let Ok(platform) = self.platform_of(&connection)
            && connection
                .tokens
                .as_ref()
                .is_some_and(|t| !needs_refresh(&platform, t, self.now()))
        {
            return Ok(grant(connection, platform, false));
        }
        self.refresh_under_lock(name, Need::IfNeeded)
            .await
            .map(|(grant, _)| grant)
    }

    /// Like [`Lifecycle::ensure_access_token`]; with `force` it refreshes even when the
    /// access token is still valid, except on a platform that refuses early refreshes
    /// and counts them towards a block (Exact): there, before the refresh window, nothing
    /// is sent and [`LifecycleError::RefreshNotYet`] says from when it can be.
    pub async fn refresh(&self, name: &str, force: bool) -> Result<AccessGrant, LifecycleError> {
        let need = if force { Need::Force } else { Need::IfNeeded };
        self.refresh_under_lock(name, need)
            .await
            .map(|(grant, _)| grant)
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

    /// Lock, re-read, refresh when `need` says so, persist, unlock. Returns the grant and
    /// whether a refresh happened.
    ///
    /// The store's lock is taken on a blocking thread (never on a runtime worker), and
    /// everything the save needs is made ready before the refresh token is sent, so that
    /// only the write itself lies between the platform's answer and the disk. A refresh
    /// token that the platform refused for good (see [`RefreshFailure`]) is not sent
    /// again unless `need` is [`Need::Force`].
    async fn refresh_under_lock(
        &self,
        name: &str,
        need: Need,
    ) -> Result<(AccessGrant, bool), LifecycleError> {
        let local = self.local_lock(name);
        let _local = local.lock().await;
        let store = Arc::clone(&self.inner.store);
        let owned = name.to_string();
        // A keep-alive leaves a connection that another process holds to that process.
        let keep_alive = matches!(need, Need::OlderThan { .. });
        let (mut locked, connection) = blocking(move || {
            let mut locked = if keep_alive {
                store
                    .lock_unless_held(&owned)?
                    .ok_or(LifecycleError::HeldElsewhere { name: owned })?
            } else {
                store.lock(&owned)?
            };
            let connection = locked.load()?;
            Ok((locked, connection))
        })
        .await?;
        let platform = self.platform_of(&connection)?;
        let now = self.now();
        let Some(tokens) = connection.tokens.clone() else {
            return Err(LifecycleError::NotAuthorized {
                name: connection.name,
            });
        };
        let due = match &need {
            Need::Force => true,
            Need::IfNeeded => needs_refresh(&platform, &tokens, now),
            Need::OlderThan { threshold, seen } => {
                let unchanged = match (&tokens.refresh_token, seen) {
                    (Some(stored), Some(seen)) => stored.ct_eq(seen),
                    (stored, seen) => stored.is_none() && seen.is_none(),
                };
                unchanged && keepalive::left_alone(&platform, &tokens, *threshold, now).is_none()
            }
        };
        if !due {
            return Ok((grant(connection, platform, false), false));
        }
        // A platform that counts refused refreshes towards a block gets none it would
        // refuse, forced or not.
        if platform.refuses_early_refresh && !needs_refresh(&platform, &tokens, now) {
            return Err(LifecycleError::RefreshNotYet {
                name: connection.name,
                allowed_from: platform.refresh_allowed_from(tokens.access_token_expires_at),
            });
        }
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            let name = connection.name.clone();
            return Err(LifecycleError::NoRefreshToken { name }.for_connection(&connection));
        };
        if let Some(expired_at) = refresh_token_expiry(&platform, &tokens).filter(|at| *at <= now) {
            let name = connection.name.clone();
            let expired_at = Some(expired_at);
            let said = None;
            return Err(LifecycleError::RefreshTokenExpired {
                name,
                expired_at,
                said,
            }
            .for_connection(&connection));
        }
        // Advice for what goes wrong below names the cure that fits this connection (new
        // tokens from the partner application for a registered one).
        let subject = connection.clone();
        let previous =
            RefreshFailure::of(&connection).filter(|f| f.is_about_current_token(&connection));
        if let Some(failure) = RefreshFailure::blocking(&connection)
            && !matches!(need, Need::Force)
        {
            return Err(LifecycleError::RefreshBlocked {
                name: connection.name,
                failure: failure.clone(),
            });
        }
        let ready;
        (locked, ready) = {
            let connection = connection.clone();
            blocking(move || {
                let ready = locked.prepare_save(&connection);
                Ok((locked, ready))
            })
            .await?
        };
        if let Err(source) = ready {
            return Err(LifecycleError::SaveNotReady {
                name: connection.name,
                source,
            });
        }
        let answer = self
            .inner
            .http
            .refresh(&platform, &connection, &refresh_token)
            .await;
        let (error, kind) = match answer {
            Ok(response) => {
                let mut updated = connection.clone();
                updated.tokens = Some(tokens_from(&platform, response, Some(&tokens), self.now()));
                failure::clear(&mut updated);
                let saving = updated.clone();
                let saved;
                (locked, saved) = blocking(move || {
                    let saved = locked.save(&saving);
                    Ok((locked, saved))
                })
                .await?;
                match saved {
                    Ok(()) => return Ok((grant(updated, platform, true), true)),
                    Err(source @ StoreError::Spooled { .. }) => {
                        return Err(LifecycleError::TokensSpooled {
                            name: connection.name.clone(),
                            source,
                        });
                    }
                    Err(source) => (
                        LifecycleError::TokensNotStored {
                            name: connection.name.clone(),
                            source,
                        },
                        FailureKind::NotStored,
                    ),
                }
            }
            Err(e) if e.grant_may_be_spent() => {
                let kind = match previous.map(|f| f.kind) {
                    Some(FailureKind::Lost) => FailureKind::LostAgain,
                    _ => FailureKind::Lost,
                };
                let error;
                (locked, error) = blocking(move || {
                    let error = lost_refresh(locked.as_mut(), &connection, e);
                    Ok((locked, error))
                })
                .await?;
                (error, kind)
            }
            Err(TokenError::Refused(r)) if r.kind == RefusalKind::RefreshTooEarly => {
                // The platform says the stored access token still works (its clock, or
                // the time the tokens were obtained, differs from ours): a caller that
                // only needs a valid token gets it, and the stored expiry moves to what
                // the platform implies, so that the next calls do not ask again at once
                // (each refused call counts against the app).
                if matches!(need, Need::IfNeeded) && !tokens.access_token.secret().is_empty() {
                    let mut corrected = connection.clone();
                    if let Some(t) = corrected.tokens.as_mut() {
                        let implied = self.now() + platform.refresh_window + STILL_VALID_MARGIN;
                        t.access_token_expires_at = t.access_token_expires_at.max(implied);
                    }
                    let saving = corrected.clone();
                    let _ = blocking(move || Ok(locked.save(&saving)?)).await;
                    return Ok((grant(corrected, platform, false), false));
                }
                (
                    LifecycleError::RefreshTooEarly {
                        name: connection.name.clone(),
                        allowed_from: platform.refresh_allowed_from(tokens.access_token_expires_at),
                    },
                    FailureKind::Refused,
                )
            }
            Err(e) => (
                self.token_error(&connection, Grant::Refresh, e),
                FailureKind::Refused,
            ),
        };
        let error = error.for_connection(&subject);
        if error.is_lasting() {
            let record =
                RefreshFailure::new(self.now(), kind, Some(&refresh_token), error.to_string());
            self.record_failure(locked, record).await;
        }
        Err(error)
    }

    /// Records a refresh failure in the stored connection, for monitoring and so that a
    /// dead refresh token is not sent again. Best effort: when the record cannot be
    /// written, the refresh error itself is still what the caller sees.
    async fn record_failure(&self, mut locked: Box<dyn LockedConnection>, record: RefreshFailure) {
        let _ = blocking(move || {
            let mut stored = locked.load()?;
            record.store_in(&mut stored);
            locked.save(&stored)?;
            Ok(())
        })
        .await;
    }

    /// Maps a token-client error for `connection`.
    fn token_error(&self, connection: &Connection, grant: Grant, e: TokenError) -> LifecycleError {
        LifecycleError::from_token(&connection.name, grant, e, &connection.redirect_url)
    }

    /// Stores a newly authorized connection: created, or (when it exists) its tokens and
    /// app fields replaced under the lock, keeping extra keys not set anew.
    async fn persist_new(&self, connection: &Connection) -> Result<(), LifecycleError> {
        let store = Arc::clone(&self.inner.store);
        let connection = connection.clone();
        blocking(move || match store.create(&connection) {
            Ok(()) => Ok(()),
            Err(StoreError::AlreadyExists { .. }) => {
                let mut locked = store.lock(&connection.name)?;
                let existing = locked.load()?;
                let mut merged = connection.clone();
                merged.name = existing.name.clone();
                for (k, v) in existing.extra {
                    if !merged.extra.iter().any(|(m, _)| m.eq_ignore_ascii_case(&k)) {
                        merged.extra.push((k, v));
                    }
                }
                // New tokens: a failure recorded for the old ones no longer applies.
                failure::clear(&mut merged);
                locked.save(&merged)?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        })
        .await
    }

    /// On platforms with a token-validation endpoint (Twinfield), asks for the cluster
    /// URL once and keeps it as `api-cluster-url`. Best effort: the tokens are already
    /// saved, and the cluster URL can be asked for again on the next authorization.
    async fn remember_cluster_url(&self, platform: &Platform, connection: &mut Connection) {
        if platform.token_validation_path.is_none() {
            return;
        }
        let Some(token) = connection.tokens.as_ref().map(|t| t.access_token.clone()) else {
            return;
        };
        let Ok(validation) = self
            .inner
            .http
            .validate_access_token(platform, connection, &token)
            .await
        else {
            return;
        };
        let Some(cluster) = validation.cluster_url else {
            return;
        };
        let store = Arc::clone(&self.inner.store);
        let name = connection.name.clone();
        let stored = blocking(move || {
            let mut locked = store.lock(&name)?;
            Ok(set_extra(locked.as_mut(), CLUSTER_URL_KEY, cluster)?)
        })
        .await;
        if let Ok(stored) = stored {
            *connection = stored;
        }
    }

    /// The in-process lock of one connection.
    fn local_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .inner
            .local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(fold_name(name)).or_default())
    }
}

/// The refresh was sent and its answer lost: re-read what the store holds (another
/// writer cannot have changed it while the lock is held, but a store that lost the
/// lock would show it here) and report, never sending the same token again.
fn lost_refresh(
    locked: &mut dyn LockedConnection,
    sent: &Connection,
    error: TokenError,
) -> LifecycleError {
    let reason = match error {
        TokenError::OutcomeUnknown { reason, .. } => reason,
        TokenError::Unparseable { status, reason, .. } => {
            format!("HTTP {status} arrived but cannot be read: {reason}")
        }
        other => other.to_string(),
    };
    let changed = match locked.load() {
        Ok(now_stored) => !same_refresh_token(&now_stored, sent),
        Err(e) => {
            return LifecycleError::RefreshOutcomeUnknown {
                name: sent.name.clone(),
                reason: format!("{reason}; re-reading the store failed too: {e}"),
            };
        }
    };
    let reason = if changed {
        format!(
            "{reason}; the store now holds a different refresh token, written by another process"
        )
    } else {
        format!("{reason}; the store still holds the refresh token that was sent")
    };
    LifecycleError::RefreshOutcomeUnknown {
        name: sent.name.clone(),
        reason,
    }
}

/// Runs store work on a blocking thread, so that a lock wait or a disk flush never
/// stalls the async runtime's workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LifecycleError> + Send + 'static,
) -> Result<T, LifecycleError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        LifecycleError::Store(StoreError::Io {
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(format!("a store worker stopped: {e}")),
        })
    })?
}

/// Whether the stored access token must be refreshed at `now`.
pub fn needs_refresh(platform: &Platform, tokens: &Tokens, now: SystemTime) -> bool {
    if tokens.access_token.secret().is_empty() {
        return true;
    }
    now >= platform.refresh_allowed_from(tokens.access_token_expires_at)
}

/// When the stored refresh token expires, on platforms where they do.
pub fn refresh_token_expiry(platform: &Platform, tokens: &Tokens) -> Option<SystemTime> {
    let lifetime = platform.refresh_token_lifetime?;
    tokens.refresh_token.as_ref()?;
    tokens.refresh_token_issued_at?.checked_add(lifetime)
}

/// Tokens from a token response received at `now`. A response without a refresh token
/// keeps the previous one (platforms whose refresh tokens do not rotate).
fn tokens_from(
    platform: &Platform,
    response: TokenResponse,
    previous: Option<&Tokens>,
    now: SystemTime,
) -> Tokens {
    let lifetime = response
        .expires_in
        .unwrap_or(platform.default_access_token_lifetime);
    let (refresh_token, refresh_token_issued_at) = match response.refresh_token {
        Some(r) => (Some(r), Some(now)),
        None => (
            previous.and_then(|p| p.refresh_token.clone()),
            previous.and_then(|p| p.refresh_token_issued_at),
        ),
    };
    Tokens {
        access_token: response.access_token,
        access_token_issued_at: now,
        access_token_expires_at: now.checked_add(lifetime).unwrap_or(now),
        refresh_token,
        refresh_token_issued_at,
    }
}

/// Re-reads the locked connection, sets the extra connection-string `key` to `value`
/// (replacing an earlier one), saves it, and returns it as saved.
fn set_extra(
    locked: &mut dyn LockedConnection,
    key: &str,
    value: String,
) -> Result<Connection, StoreError> {
    let mut stored = locked.load()?;
    stored.extra.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    stored.extra.push((key.to_string(), value));
    locked.save(&stored)?;
    Ok(stored)
}

fn grant(connection: Connection, platform: Arc<Platform>, refreshed: bool) -> AccessGrant {
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
    }
}

fn same_refresh_token(a: &Connection, b: &Connection) -> bool {
    let token = |c: &Connection| c.tokens.as_ref().and_then(|t| t.refresh_token.clone());
    match (token(a), token(b)) {
        (Some(x), Some(y)) => x.ct_eq(&y),
        (None, None) => true,
        _ => false,
    }
}
