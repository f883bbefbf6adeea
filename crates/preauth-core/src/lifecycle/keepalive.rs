//! Keep-alive: refresh every connection whose refresh token is getting old.
//!
//! Connections are refreshed concurrently (at most `concurrency` at a time), each
//! through the same lock-refresh-persist path as every other refresh. A rate-limit
//! answer pauses that app (client id): a short wait is waited out and the connection
//! tried once more; a long one marks the app's remaining connections as rate-limited
//! without calling the platform again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;

use super::failure::RefreshFailure;
use super::handle::{Lifecycle, Need, blocking};
use super::outcome::{KeepAliveEvent, KeepAliveOutcome, KeepAliveReport, left_alone};
use super::status::refresh_token_expiry;
use crate::error::LifecycleError;
use crate::secret::RefreshToken;

/// Longest rate-limit wait the keep-alive sits out before trying a connection again.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Apps (client ids) the platform told to wait, and until when.
type Paused = Arc<Mutex<HashMap<String, SystemTime>>>;

/// What a task reports back.
enum Report {
    Waiting(String, SystemTime),
    Done(usize, String, KeepAliveOutcome),
}

impl Lifecycle {
    /// Refreshes every connection whose refresh token is older than `threshold`, at most
    /// `concurrency` at a time, calling `progress` as it goes (on the caller's task).
    ///
    /// The store is read once; connections that `left_alone` spares (a young refresh
    /// token, or one renewed too recently to refresh) are left alone without locking
    /// them, the others are locked one by one (and checked again under the lock).
    pub async fn refresh_all(
        &self,
        threshold: Duration,
        concurrency: usize,
        progress: &dyn Fn(KeepAliveEvent<'_>),
    ) -> Result<KeepAliveReport, LifecycleError> {
        let never = AtomicBool::new(false);
        self.refresh_all_until(threshold, concurrency, progress, &never)
            .await
    }

    /// [`Lifecycle::refresh_all`] that starts no further refresh once `stop` is set (a
    /// server shutting down): the refreshes under way finish and are stored, and the
    /// connections not started yet are missing from the report.
    pub async fn refresh_all_until(
        &self,
        threshold: Duration,
        concurrency: usize,
        progress: &dyn Fn(KeepAliveEvent<'_>),
        stop: &AtomicBool,
    ) -> Result<KeepAliveReport, LifecycleError> {
        let store = Arc::clone(&self.inner.store);
        let listing = blocking(move || Ok(store.list()?)).await?;
        let total = listing.connections.len();
        let now = self.now();
        let paused: Paused = Arc::default();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Report>();
        let mut tasks = JoinSet::new();
        let mut results: Vec<Option<(String, KeepAliveOutcome)>> =
            (0..total).map(|_| None).collect();
        let mut due = Vec::new();
        let mut done = 0usize;
        for (index, listed) in listing.connections.into_iter().enumerate() {
            // Left alone without a lock: tokens the keep-alive does not refresh. A
            // connection without tokens or platform goes on, to fail under the lock.
            let untouched = listed.connection.as_ref().ok().and_then(|c| {
                let platform = self.platform_of(c).ok()?;
                left_alone(&platform, c.tokens.as_ref()?, threshold, now)
            });
            // A refresh token the platform refused stays a failure every night until
            // someone acts, however young it is.
            let blocked = listed.connection.as_ref().ok().and_then(|c| {
                RefreshFailure::blocking(c).map(|failure| {
                    LifecycleError::RefreshBlocked {
                        name: c.name.clone(),
                        failure: Box::new(failure),
                    }
                    .for_connection(c)
                })
            });
            let settled = match (listed.connection, untouched) {
                (Err(e), _) => Some(KeepAliveOutcome::Failed(e.into())),
                (Ok(_), _) if blocked.is_some() => blocked.map(KeepAliveOutcome::Failed),
                (Ok(_), Some(outcome)) => Some(outcome),
                (Ok(c), None) => {
                    let seen = c.tokens.and_then(|t| t.refresh_token);
                    due.push((index, listed.name.clone(), c.client_id, seen));
                    None
                }
            };
            if let (Some(outcome), Some(slot)) = (settled, results.get_mut(index)) {
                progress(KeepAliveEvent::Started {
                    name: &listed.name,
                    index: index + 1,
                    total,
                });
                progress(KeepAliveEvent::Finished {
                    name: &listed.name,
                    outcome: &outcome,
                });
                *slot = Some((listed.name, outcome));
                done += 1;
            }
        }
        let mut next = due.into_iter();
        let mut running = 0usize;
        while done < total {
            while running < concurrency.max(1) && !stop.load(Ordering::Relaxed) {
                let Some((index, name, client_id, seen)) = next.next() else {
                    break;
                };
                progress(KeepAliveEvent::Started {
                    name: &name,
                    index: index + 1,
                    total,
                });
                let (this, paused, tx) = (self.clone(), Arc::clone(&paused), tx.clone());
                tasks.spawn(async move {
                    let outcome = this
                        .keep_alive_one(&name, &client_id, threshold, seen, &paused, &tx)
                        .await;
                    let _ = tx.send(Report::Done(index, name, outcome));
                });
                running += 1;
            }
            if running == 0 && stop.load(Ordering::Relaxed) {
                break;
            }
            let Some(report) = rx.recv().await else { break };
            match report {
                Report::Waiting(name, until) => {
                    progress(KeepAliveEvent::Waiting { name: &name, until })
                }
                Report::Done(index, name, outcome) => {
                    progress(KeepAliveEvent::Finished {
                        name: &name,
                        outcome: &outcome,
                    });
                    if let Some(slot) = results.get_mut(index) {
                        *slot = Some((name, outcome));
                    }
                    running -= 1;
                    done += 1;
                }
            }
        }
        while tasks.join_next().await.is_some() {}
        Ok(KeepAliveReport {
            outcomes: results.into_iter().flatten().collect(),
            problems: listing.problems,
        })
    }

    /// One connection: skip a paused app, refresh when old, sit out one short rate limit.
    async fn keep_alive_one(
        &self,
        name: &str,
        client_id: &str,
        threshold: Duration,
        seen: Option<RefreshToken>,
        paused: &Paused,
        tx: &tokio::sync::mpsc::UnboundedSender<Report>,
    ) -> KeepAliveOutcome {
        for attempt in 0..2 {
            let until = paused
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(client_id)
                .copied();
            let now = self.now();
            if let Some(until) = until.filter(|u| *u > now) {
                let wait = until.duration_since(now).unwrap_or_default();
                if wait > MAX_RATE_LIMIT_WAIT || attempt > 0 {
                    return KeepAliveOutcome::Failed(LifecycleError::RateLimited {
                        name: name.to_string(),
                        retry_at: Some(until),
                        said: None,
                    });
                }
                let _ = tx.send(Report::Waiting(name.to_string(), until));
                tokio::time::sleep(wait).await;
            }
            match self
                .refresh_under_lock(
                    name,
                    Need::OlderThan {
                        threshold,
                        seen: seen.clone(),
                    },
                )
                .await
            {
                Ok((grant, true)) => {
                    return KeepAliveOutcome::Refreshed {
                        budget_low: grant.spent.is_some_and(|s| s.budget_low),
                        refresh_token_expires_at: grant
                            .connection
                            .tokens
                            .as_ref()
                            .and_then(|t| refresh_token_expiry(&grant.platform, t)),
                    };
                }
                Ok((grant, false)) => {
                    // Not due under the lock, or refreshed by another process meanwhile.
                    let tokens = grant.connection.tokens.as_ref();
                    return tokens
                        .and_then(|t| left_alone(&grant.platform, t, threshold, self.now()))
                        .unwrap_or(KeepAliveOutcome::Young {
                            refresh_token_issued_at: tokens.and_then(|t| t.refresh_token_issued_at),
                        });
                }
                Err(LifecycleError::RateLimited {
                    name: n,
                    retry_at,
                    said,
                }) => {
                    let until = retry_at.unwrap_or_else(|| self.now() + MAX_RATE_LIMIT_WAIT);
                    let mut map = paused
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let entry = map.entry(client_id.to_string()).or_insert(until);
                    *entry = (*entry).max(until);
                    if attempt > 0 {
                        return KeepAliveOutcome::Failed(LifecycleError::RateLimited {
                            name: n,
                            retry_at,
                            said,
                        });
                    }
                }
                Err(LifecycleError::HeldElsewhere { .. }) => {
                    return KeepAliveOutcome::HeldElsewhere;
                }
                Err(e) => return KeepAliveOutcome::Failed(e),
            }
        }
        KeepAliveOutcome::Failed(LifecycleError::RateLimited {
            name: name.to_string(),
            retry_at: None,
            said: None,
        })
    }
}
