//! Refreshing: lock, re-read, refresh only if still needed, persist, unlock; a refresh
//! token refused for good is recorded and not sent again, and a lost answer is never
//! retried blindly.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::failure::{self, FailureKind, RefreshFailure, Retry};
use super::handle::{AccessGrant, Lifecycle, Need, blocking, grant};
use super::outcome::left_alone;
use super::status::{needs_refresh, refresh_token_expiry};
use crate::budget::Spent;
use crate::connection::{Connection, Tokens};
use crate::error::LifecycleError;
use crate::platform::Platform;
use crate::store::{LockedConnection, StoreError};
use crate::token_client::{Grant, RefusalKind, TokenError, TokenResponse};

/// When a platform refuses a refresh because the access token is still valid, the token
/// is taken to live at least this long past the platform's refresh window.
const STILL_VALID_MARGIN: Duration = Duration::from_secs(60);

impl Lifecycle {
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

    /// Lock, re-read, refresh when `need` says so, persist, unlock. Returns the grant and
    /// whether a refresh happened.
    ///
    /// The store's lock is taken on a blocking thread (never on a runtime worker), and
    /// everything the save needs is made ready before the refresh token is sent, so that
    /// only the write itself lies between the platform's answer and the disk. A refresh
    /// token that the platform refused for good (see [`RefreshFailure`]) is not sent
    /// again unless `need` is [`Need::Force`].
    pub(super) async fn refresh_under_lock(
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
                unchanged && left_alone(&platform, &tokens, *threshold, now).is_none()
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
                failure: Box::new(failure),
            });
        }
        // After a passing failure, automatic tries wait for the backoff; a caller that
        // needs a token gets the stored one while it still works.
        if let Some(next_try) = previous
            .as_ref()
            .and_then(RefreshFailure::next_try)
            .filter(|at| *at > now && !matches!(need, Need::Force))
        {
            if matches!(need, Need::IfNeeded) && tokens.access_token_expires_at > now {
                return Ok((grant(connection, platform, false), false));
            }
            return Err(LifecycleError::RetryLater {
                name: connection.name,
                next_try,
                reason: previous.map(|f| f.message).unwrap_or_default(),
            });
        }
        // The budget decides before anything else is touched, so that a refused call
        // changes nothing; the count goes into the connection with the write that
        // follows the call.
        let spent = self.spend(&connection, &platform, need.caller()).await?;
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
        if let Err(e) = &answer {
            self.note_answer(&connection, &platform, e).await;
        }
        let (error, kind) = match answer {
            Ok(response) => {
                let mut updated = connection.clone();
                updated.tokens = Some(tokens_from(&platform, response, Some(&tokens), self.now()));
                failure::clear(&mut updated);
                if let Some(spent) = &spent {
                    spent.store_in(&mut updated);
                }
                let saving = updated.clone();
                let saved;
                (locked, saved) = blocking(move || {
                    let saved = locked.save(&saving);
                    Ok((locked, saved))
                })
                .await?;
                match saved {
                    Ok(()) => {
                        self.emit_recovered(previous.as_ref(), &updated).await;
                        self.emit_budget_low(&updated, spent).await;
                        let mut refreshed = grant(updated, platform, true);
                        refreshed.spent = spent;
                        return Ok((refreshed, true));
                    }
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
                let kind = match previous.as_ref().map(|f| f.kind) {
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
                    if let Some(spent) = &spent {
                        spent.store_in(&mut corrected);
                    }
                    let saving = corrected.clone();
                    let _ = blocking(move || Ok(locked.save(&saving)?)).await;
                    self.emit_budget_low(&corrected, spent).await;
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
            Err(e) if is_passing(&e) => {
                // A lost answer before stays one: its token may be spent.
                let kind = match previous.as_ref().map(|f| f.kind) {
                    Some(FailureKind::Lost) => FailureKind::Lost,
                    _ => FailureKind::Transient,
                };
                (self.token_error(&connection, Grant::Refresh, e), kind)
            }
            Err(e) => (
                self.token_error(&connection, Grant::Refresh, e),
                FailureKind::Refused,
            ),
        };
        // The record says what happened and its advice as codes; whose new tokens repair
        // it (a login here, the partner's) is decided where it is shown.
        // A passing failure is recorded too, with its next try (also after a lost
        // answer, which keeps its kind). The call's count is written with it (or alone,
        // when nothing is recorded).
        let mut recorded = None;
        if error.is_lasting() || kind.allows_automatic_try() {
            let now = self.now();
            let mut record =
                RefreshFailure::new(now, kind, Some(&refresh_token), error.to_string())
                    .with_advice(&error.advice());
            if kind.allows_automatic_try() {
                let attempt = previous
                    .as_ref()
                    .and_then(|f| f.retry)
                    .map_or(1, |r| r.attempt.saturating_add(1));
                let not_before = match &error {
                    LifecycleError::RateLimited { retry_at, .. } => *retry_at,
                    _ => None,
                };
                // Past the refresh token's end (or the access token's, if later) no
                // try can help; a refresh token without a known end bounds nothing.
                let useful_until = refresh_token_expiry(&platform, &tokens)
                    .map(|end| end.max(tokens.access_token_expires_at));
                record = record.with_retry(Retry::after(attempt, now, not_before, useful_until));
            }
            recorded = Some(record);
        }
        self.record_failure(locked, recorded.clone(), spent).await;
        if let Some(record) = &recorded {
            self.emit_refresh_failed(&subject, record).await;
        }
        self.emit_budget_low(&subject, spent).await;
        Err(error.for_connection(&subject))
    }

    /// Records a refresh failure in the stored connection, for monitoring and so that a
    /// dead refresh token is not sent again, and the call's count. Best effort: when the
    /// record cannot be written, the refresh error itself is still what the caller sees.
    async fn record_failure(
        &self,
        mut locked: Box<dyn LockedConnection>,
        record: Option<RefreshFailure>,
        spent: Option<Spent>,
    ) {
        if record.is_none() && spent.is_none() {
            return;
        }
        let _ = blocking(move || {
            let mut stored = locked.load()?;
            if let Some(record) = record {
                record.store_in(&mut stored);
            }
            if let Some(spent) = spent {
                spent.store_in(&mut stored);
            }
            locked.save(&stored)?;
            Ok(())
        })
        .await;
    }
}

/// Whether a refresh failed for a passing reason that left its refresh token unspent:
/// it never reached the platform, or the platform asked to come back later (429).
fn is_passing(error: &TokenError) -> bool {
    match error {
        TokenError::NotSent { .. } => true,
        TokenError::Refused(r) => matches!(r.kind, RefusalKind::RateLimited { .. }),
        _ => false,
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

/// Tokens from a token response received at `now`. A response without a refresh token
/// keeps the previous one (platforms whose refresh tokens do not rotate).
pub(super) fn tokens_from(
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
pub(super) fn set_extra(
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

fn same_refresh_token(a: &Connection, b: &Connection) -> bool {
    let token = |c: &Connection| c.tokens.as_ref().and_then(|t| t.refresh_token.clone());
    match (token(a), token(b)) {
        (Some(x), Some(y)) => x.ct_eq(&y),
        (None, None) => true,
        _ => false,
    }
}
