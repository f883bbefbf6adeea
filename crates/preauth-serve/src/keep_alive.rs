//! `preauth serve --keep-alive`: the keep-alive of `refresh all connections`, run by the
//! server itself, daily at a time of day with jitter, so that a serve deployment needs
//! no cron.
//!
//! - Replicas on one store share the pass through its record in the store's documents
//!   ([`claim`]): one replica claims the day's pass and renews its claim while it runs;
//!   the others leave it at that, and take it over when the claim lapses (a replica
//!   that died mid-pass). Each connection is refreshed through the lifecycle's lock and
//!   re-check anyway, so even overlapping passes refresh a due connection once.
//! - It runs beside the server and never blocks it; on Ctrl-C or SIGTERM a pass in
//!   progress starts no further refresh, the ones under way finish (each stored), and
//!   its claim is given up, so that another replica (or the next start) goes on with it.
//! - `/metrics` shows the store's last pass and this replica's next one.

mod claim;
mod schedule;

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use preauth_actions::Context;
use preauth_core::documents::Documents;
use preauth_core::lifecycle::{KeepAliveOutcome, KeepAliveReport};
use preauth_core::store::StoreError;
use tokio::sync::watch;

use self::claim::Claim;
pub(crate) use self::claim::Pass;
pub use self::schedule::At;
use self::schedule::DAY;

/// After a failure to read or claim the pass in the store, the next try.
const RETRY: Duration = Duration::from_secs(300);

/// How the server keeps connections alive (`--keep-alive` and its options).
#[derive(Debug, Clone)]
pub struct KeepAliveOptions {
    /// When the daily pass starts.
    pub at: At,
    /// The longest random delay added to each daily pass's start.
    pub jitter: Duration,
    /// Refresh tokens older than this are renewed (as `refresh all connections`).
    pub threshold: Duration,
    /// How many connections are refreshed at once.
    pub concurrency: usize,
    /// How long a replica's claim on a pass holds unless renewed (it is renewed every
    /// third of it).
    pub lease: Duration,
}

/// What `/metrics` shows of the keep-alive, shared by the keep-alive and the handler.
pub(crate) struct Watch {
    docs: Arc<dyn Documents>,
    next: Mutex<Option<SystemTime>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("next", &self.next())
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// A watch over the pass recorded in `docs`.
    pub(crate) fn new(docs: Arc<dyn Documents>) -> Watch {
        Watch {
            docs,
            next: Mutex::new(None),
        }
    }

    /// This replica's next planned pass.
    pub(crate) fn next(&self) -> Option<SystemTime> {
        *self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn plan(&self, at: SystemTime) {
        *self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(at);
    }

    /// The last pass recorded in the store, by any replica (reads the store: call it
    /// off the async workers).
    pub(crate) fn last(&self) -> Result<Option<Pass>, StoreError> {
        claim::last(self.docs.as_ref())
    }
}

/// Runs `serving` and the keep-alive beside it until `serving` ends; then a pass in
/// progress starts no further refresh, and those under way finish before this returns.
pub(crate) async fn alongside(
    env: Arc<Context>,
    options: KeepAliveOptions,
    watch: Arc<Watch>,
    serving: impl Future<Output = ()>,
) {
    let (stop, stopped) = watch::channel(false);
    let serving = async move {
        serving.await;
        let _ = stop.send(true);
    };
    let keeper = KeepAlive {
        env,
        holder: holder(),
        options,
        watch,
    };
    tokio::join!(serving, keeper.run(stopped));
}

/// This replica, for the record: the process id and a random part (a restarted process
/// may get the same id).
fn holder() -> String {
    let random = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
    format!("pid {} ({:08x})", std::process::id(), random as u32)
}

/// `at` for the log, in UTC to the second.
fn time(at: SystemTime) -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_seconds(at)
}

/// One replica's keep-alive.
struct KeepAlive {
    env: Arc<Context>,
    holder: String,
    options: KeepAliveOptions,
    watch: Arc<Watch>,
}

impl KeepAlive {
    /// Reads `docs` off the async workers.
    async fn store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Documents, &str) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (docs, holder) = (Arc::clone(&self.watch.docs), self.holder.clone());
        tokio::task::spawn_blocking(move || work(docs.as_ref(), &holder))
            .await
            .unwrap_or_else(|e| {
                Err(StoreError::Io {
                    path: std::path::PathBuf::from(claim::DOCUMENT),
                    source: std::io::Error::other(e.to_string()),
                })
            })
    }

    fn now(&self) -> SystemTime {
        self.env.lifecycle().now()
    }

    /// Plans, waits, claims and runs passes until `stopped` says the server stops.
    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let options = &self.options;
        let last = match self.store(|docs, _| claim::last(docs)).await {
            Ok(last) => last,
            Err(error) => {
                eprintln!(
                    "preauth serve: keep-alive: cannot read its record ({error}); planning as if no pass had run"
                );
                None
            }
        };
        let started = last
            .filter(|pass| pass.finished_at.is_some())
            .map(|pass| pass.started_at);
        let mut plan = schedule::first(options.at, self.now(), started, options.jitter);
        self.watch.plan(plan);
        eprintln!(
            "preauth serve: keep-alive: next pass at {} (refresh tokens older than {} days; replicas on this store share each pass)",
            time(plan),
            options.threshold.as_secs() / DAY.as_secs()
        );
        loop {
            let wait = plan.duration_since(self.now()).unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
            let now = self.now();
            let lease = options.lease;
            plan = match self
                .store(move |docs, holder| claim::claim(docs, holder, now, lease))
                .await
            {
                Err(error) => {
                    let retry = now + RETRY;
                    eprintln!(
                        "preauth serve: keep-alive: cannot claim the pass in the store ({error}); trying again at {}",
                        time(retry)
                    );
                    retry
                }
                Ok(Claim::Running { holder, until }) => {
                    let again = until.max(now) + Duration::from_secs(1);
                    eprintln!(
                        "preauth serve: keep-alive: another replica ({holder}) runs the pass; looking again at {}",
                        time(again)
                    );
                    again
                }
                Ok(Claim::Done(pass)) => {
                    let next = schedule::next(options.at, now, options.jitter);
                    eprintln!(
                        "preauth serve: keep-alive: the pass that {} started at {} is done; next pass at {}",
                        pass.holder,
                        time(pass.started_at),
                        time(next)
                    );
                    next
                }
                Ok(Claim::Taken { after }) => {
                    if let Some(after) = after {
                        eprintln!(
                            "preauth serve: keep-alive: taking over the pass of {after}, whose claim lapsed"
                        );
                    }
                    let stopping = self.pass(&mut stopped).await;
                    let next = schedule::next(options.at, now, options.jitter);
                    if stopping {
                        return;
                    }
                    eprintln!("preauth serve: keep-alive: next pass at {}", time(next));
                    next
                }
            };
            self.watch.plan(plan);
        }
    }

    /// Tells the webhooks of refresh tokens the pass left within `check`'s warning days of
    /// their end (once a day each), as `refresh all connections` does.
    async fn tell_expiring(&self) {
        let env = Arc::clone(&self.env);
        let warn_days = preauth_core::monitor::Thresholds::default().warn_days;
        let told = tokio::task::spawn_blocking(move || {
            preauth_actions::webhooks::tell_expiring(&env, warn_days)
        })
        .await;
        if let Ok(Err(error)) = told {
            eprintln!(
                "preauth serve: keep-alive: refresh tokens near their end are not told to the webhooks, since {error}"
            );
        }
    }

    /// One pass, its claim renewed while it runs; whether the server stops meanwhile.
    async fn pass(&self, stopped: &mut watch::Receiver<bool>) -> bool {
        eprintln!("preauth serve: keep-alive: pass started ({})", self.holder);
        let renewing = tokio::spawn(renew(
            Arc::clone(&self.watch.docs),
            self.holder.clone(),
            Arc::clone(&self.env),
            self.options.lease,
        ));
        let stop = AtomicBool::new(false);
        let lifecycle = self.env.lifecycle();
        let pass = lifecycle.refresh_all_until(
            self.options.threshold,
            self.options.concurrency,
            &|_| {},
            &stop,
        );
        tokio::pin!(pass);
        let mut stopping = false;
        let report = tokio::select! {
            report = &mut pass => report,
            _ = stopped.changed() => {
                stopping = true;
                stop.store(true, Ordering::Relaxed);
                eprintln!("preauth serve: keep-alive: finishing the refreshes under way before stopping; the rest of the pass is left to another replica or the next start");
                pass.await
            }
        };
        renewing.abort();
        let finished = match &report {
            Ok(report) => counts(report),
            Err(error) => {
                eprintln!("preauth serve: keep-alive: the pass could not read the store: {error}");
                [0, 0, 0]
            }
        };
        let now = self.now();
        let recorded = if stopping {
            self.store(move |docs, holder| claim::release(docs, holder, now))
                .await
        } else {
            self.store(move |docs, holder| claim::finish(docs, holder, now, finished))
                .await
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => eprintln!(
                "preauth serve: keep-alive: another replica took the pass over meanwhile; it records the pass"
            ),
            Err(error) => eprintln!(
                "preauth serve: keep-alive: cannot record the end of the pass ({error}); its claim lapses instead"
            ),
        }
        if !stopping {
            self.tell_expiring().await;
        }
        let [refreshed, failed, left_alone] = finished;
        let done = if stopping { "stopped" } else { "done" };
        eprintln!(
            "preauth serve: keep-alive: pass {done}: {refreshed} refreshed, {failed} failed, {left_alone} left alone"
        );
        stopping || *stopped.borrow()
    }
}

/// Renews the claim of `holder` every third of `lease`, until aborted.
async fn renew(docs: Arc<dyn Documents>, holder: String, env: Arc<Context>, lease: Duration) {
    loop {
        tokio::time::sleep(lease / 3).await;
        let (docs, holder, now) = (Arc::clone(&docs), holder.clone(), env.lifecycle().now());
        match tokio::task::spawn_blocking(move || claim::renew(docs.as_ref(), &holder, now, lease))
            .await
        {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                eprintln!(
                    "preauth serve: keep-alive: another replica took the pass over; finishing the connections under way"
                );
                return;
            }
            Ok(Err(error)) => eprintln!(
                "preauth serve: keep-alive: cannot renew the claim on the pass ({error}); trying again"
            ),
            Err(_) => return,
        }
    }
}

/// Refreshed, failed and left alone, for the record; each failure goes to the log.
fn counts(report: &KeepAliveReport) -> [u64; 3] {
    let mut counts = [0u64; 3];
    for (name, outcome) in &report.outcomes {
        let slot = match outcome {
            KeepAliveOutcome::Refreshed { .. } => 0,
            KeepAliveOutcome::Failed(error) => {
                eprintln!("preauth serve: keep-alive: connection '{name}': {error}");
                1
            }
            _ => 2,
        };
        counts[slot] += 1;
    }
    for problem in &report.problems {
        eprintln!("preauth serve: keep-alive: {problem}");
        counts[1] += 1;
    }
    counts
}
