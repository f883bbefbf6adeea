//! Talking to the server: a runtime of the store's own, connections (TLS for anything
//! but loopback and Unix sockets) and a small pool; module `errors` words what fails.
//!
//! Every step is bounded, so a frozen server (one that accepts TCP and never answers)
//! or a network that drops packets never hangs preauth: connecting (TCP, the startup
//! and TLS handshakes together) and each answer to a query wait at most the step bound
//! (the store URL's `connect_timeout`, else [`DEFAULT_STEP`]), and the server cancels a
//! statement a little before that (`statement_timeout`), so a live but slow server
//! answers with its own error first. A run of many statements (an import) may take
//! longer in all, as long as each is answered in time. TCP keepalives find a peer that
//! went away. A statement that waits for a lock gets the lock wait on top
//! ([`Db::run_within`], [`Db::lock_wait_settings`]). When a deadline passes, every
//! connection of the store is closed: their state is unknown, so none goes back into
//! the pool.
//!
//! The [`Store`](preauth_core::store::Store) trait is synchronous: the lifecycle calls
//! it on blocking threads, statements sometimes on a runtime thread. So every query
//! runs on a current-thread runtime in a thread of the store's own and the caller waits
//! for its answer on a plain channel, which is safe from any thread (a nested
//! `block_on` would panic).

use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::task::Poll;
use std::time::Duration;

use crate::errors::error;
use preauth_core::store::StoreError;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The server and the way to it.
pub(crate) struct Db {
    handle: tokio::runtime::Handle,
    /// Dropping it ends the runtime's thread.
    _stop: tokio::sync::oneshot::Sender<()>,
    config: Config,
    tls: Option<MakeRustlsConnect>,
    idle: Mutex<Vec<Arc<Client>>>,
    /// Every connection made and not yet dropped, with the task that drives it.
    live: Mutex<Vec<Live>>,
    location: String,
    /// The longest wait for one step: connecting, or one answer of the server.
    step: Duration,
}

/// A connection and the task that drives it; aborting the task closes the connection.
struct Live {
    client: Weak<Client>,
    task: tokio::task::AbortHandle,
}

/// Aborts the task of a connection being set up when dropped, unless taken out.
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Idle connections kept for reuse (a keep-alive holds up to its concurrency at once).
const MAX_IDLE: usize = 16;

/// The step bound when the store URL sets no `connect_timeout`: under a monitoring
/// system's usual 10 s plugin timeout.
pub const DEFAULT_STEP: Duration = Duration::from_secs(8);

/// How much sooner than the client's deadline the server cancels a statement
/// (`statement_timeout`), so that a live server's own answer arrives first.
const SERVER_HEADSTART: Duration = Duration::from_secs(1);

/// TCP keepalives: the first probe after this much silence, then every
/// [`KEEPALIVE_INTERVAL`], [`KEEPALIVE_RETRIES`] times: a vanished peer is noticed
/// within about 25 s, also on a pooled connection that waits for work.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// See [`KEEPALIVE_IDLE`].
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// See [`KEEPALIVE_IDLE`].
const KEEPALIVE_RETRIES: u32 = 3;

impl Db {
    /// Parses `url` (`postgres://user:password@host:port/database?…`); connects lazily.
    pub(crate) fn open(url: &str) -> Result<Db, StoreError> {
        let location = location_of(url);
        let bad = |reason: String| StoreError::Backend {
            location: location.clone(),
            reason,
            source: None,
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad(
                "a store is given as postgres://user@host/database (--store or PREAUTH_STORE)"
                    .into(),
            ));
        }
        let mut config: Config = url
            .parse()
            .map_err(|e| bad(format!("the store URL cannot be read ({e})")))?;
        let step = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_STEP);
        config
            .connect_timeout(step)
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES)
            .tcp_user_timeout(KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_RETRIES)
            .application_name("preauth");
        let tls = if is_local(&config) {
            None
        } else {
            if config.get_ssl_mode() == SslMode::Disable {
                return Err(bad(
                    "a store on another host is reached over TLS only; remove sslmode=disable"
                        .into(),
                ));
            }
            config.ssl_mode(SslMode::Require);
            Some(MakeRustlsConnect::new(tls_config()))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the store's runtime ({e})")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("preauth-postgres".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| bad(format!("cannot start the store's thread ({e})")))?;
        Ok(Db {
            handle,
            _stop: stop,
            config,
            tls,
            idle: Mutex::new(Vec::new()),
            live: Mutex::new(Vec::new()),
            location,
            step,
        })
    }

    /// The store for people: the URL without its password.
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// Runs `future` (one query, or several) on the store's runtime and waits for it, at
    /// most the step bound for each answer of the server.
    pub(crate) fn run<T, F>(&self, future: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        self.run_within(self.step, future)
    }

    /// Runs `future` on the store's runtime and waits for it, as long as the server
    /// answers: at most `deadline` for each answer (a statement that waits for a lock
    /// needs longer than a query, see [`Db::lock_wait_deadline`]), however many
    /// statements `future` sends. When `deadline` passes without one, every connection
    /// of the store is closed and the error is [`StoreError::Unavailable`].
    pub(crate) fn run_within<T, F>(&self, deadline: Duration, future: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(answered_within(deadline, future).await);
        });
        match rx.recv() {
            Ok(Some(result)) => result,
            Ok(None) => {
                self.close_all();
                Err(self.unavailable(deadline, "a query"))
            }
            Err(_) => Err(self.runtime_stopped()),
        }
    }

    /// The statements that open a transaction's lock wait of `lock_wait`: the server
    /// gives up a lock after `lock_wait` (`lock_timeout`), and the statement that waits
    /// for it after the lock wait plus a query's time (`statement_timeout`).
    pub(crate) fn lock_wait_settings(&self, lock_wait: Duration) -> String {
        format!(
            "SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '{}ms'",
            lock_wait.as_millis().max(1),
            (lock_wait + self.statement_timeout()).as_millis()
        )
    }

    /// How long [`Db::run_within`] should wait for statements under
    /// [`Db::lock_wait_settings`] of `lock_wait`: the lock wait plus one step.
    pub(crate) fn lock_wait_deadline(&self, lock_wait: Duration) -> Duration {
        lock_wait + self.step
    }

    /// The server's `statement_timeout` for a query: a little less than the step bound.
    fn statement_timeout(&self) -> Duration {
        self.step
            .saturating_sub(SERVER_HEADSTART)
            .max(self.step / 2)
    }

    /// A connection: an idle one, or a new one (connecting, with the startup and TLS
    /// handshakes, takes at most the step bound).
    pub(crate) fn client(&self) -> Result<Arc<Client>, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        if let Some(client) = idle.filter(|c| !c.is_closed()) {
            return Ok(client);
        }
        let (config, tls, location) =
            (self.config.clone(), self.tls.clone(), self.location.clone());
        // Every commit is synchronous (durable before it returns), whatever the server's
        // default: a commit of new tokens is what the answer's safety rests on.
        let set_timeout = format!(
            "SET statement_timeout = '{}ms'; SET synchronous_commit = on",
            self.statement_timeout().as_millis()
        );
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let step = self.step;
        self.handle.spawn(async move {
            let connecting = async {
                let (client, task) = match tls {
                    None => {
                        let (client, connection) = config.connect(NoTls).await?;
                        (client, tokio::spawn(connection))
                    }
                    Some(tls) => {
                        let (client, connection) = config.connect(tls).await?;
                        (client, tokio::spawn(connection))
                    }
                };
                // Until the client is handed out, a failure or the deadline ends the
                // connection too.
                let mut setting_up = AbortOnDrop(Some(task.abort_handle()));
                client.batch_execute(&set_timeout).await?;
                setting_up.0 = None;
                Ok((Arc::new(client), task.abort_handle()))
            };
            let connected = tokio::time::timeout(step, connecting)
                .await
                .map(|done| done.map_err(|e| error(&location, e, "connect")));
            let _ = tx.send(connected);
        });
        match rx.recv() {
            Ok(Ok(Ok((client, task)))) => {
                let mut live = self
                    .live
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                live.retain(|l| l.client.strong_count() > 0);
                live.push(Live {
                    client: Arc::downgrade(&client),
                    task,
                });
                Ok(client)
            }
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => {
                self.close_all();
                Err(self.unavailable(step, "the connection request"))
            }
            Err(_) => Err(self.runtime_stopped()),
        }
    }

    /// Closes every connection of the store (after a deadline passed: the server is
    /// frozen or unreachable, and what a connection was doing is unknown). Clients still
    /// held fail their next query at once, and none goes back into the pool.
    fn close_all(&self) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        for live in self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            live.task.abort();
        }
    }

    /// Whether `client` is still one of the store's live connections (not closed, and
    /// not given up by [`Db::close_all`], whose abort may not have taken effect yet).
    fn is_live(&self, client: &Arc<Client>) -> bool {
        !client.is_closed()
            && self
                .live
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .any(|l| std::ptr::eq(l.client.as_ptr(), Arc::as_ptr(client)))
    }

    /// The error for a store whose runtime ended (it cannot while the store exists).
    fn runtime_stopped(&self) -> StoreError {
        self.failure("the store's runtime stopped; run the command again".into())
    }

    /// The error for a step that got no answer within `waited`.
    fn unavailable(&self, waited: Duration, step: &str) -> StoreError {
        StoreError::Unavailable {
            location: self.location.clone(),
            reason: format!(
                "the database did not answer {step} within {} s (a frozen or overloaded server, or a network that drops packets); preauth stopped waiting and closed its connections to it",
                waited.as_secs_f64().ceil()
            ),
            source: None,
        }
    }

    /// Gives a connection back for reuse (unless it is closed, was given up after a
    /// deadline, or enough are idle).
    pub(crate) fn give_back(&self, client: Arc<Client>) {
        if !self.is_live(&client) {
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(client);
        }
    }

    /// Runs `work` with a connection from the pool, giving it back afterwards; waits at
    /// most the step bound for each answer of the server.
    pub(crate) fn with<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Client>, String) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        self.with_within(self.step, work)
    }

    /// [`Db::with`], waiting at most `deadline` (see [`Db::run_within`]).
    pub(crate) fn with_within<T, F, Fut>(
        &self,
        deadline: Duration,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Client>, String) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let client = self.client()?;
        let result = self.run_within(deadline, work(Arc::clone(&client), self.location.clone()));
        self.give_back(client);
        result
    }

    /// A store error with `reason`.
    pub(crate) fn failure(&self, reason: String) -> StoreError {
        StoreError::Backend {
            location: self.location.clone(),
            reason,
            source: None,
        }
    }
}

/// `future`'s output, or `None` when `idle` passes without it being woken: the
/// futures run here wait only for the server (a statement's answer, rows), so a wake is
/// an answer, and each one gives `future` another `idle` for the next.
async fn answered_within<F: Future>(idle: Duration, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut silence = std::pin::pin!(tokio::time::sleep(idle));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if silence.is_elapsed() {
            return Poll::Ready(None);
        }
        silence.as_mut().reset(tokio::time::Instant::now() + idle);
        silence.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// The rustls configuration for servers on other hosts: the web's root certificates.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| rustls::ClientConfig::builder())
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Whether every host of `config` is this machine (loopback or a Unix socket), and so is
/// every `hostaddr` (the address actually connected to when given).
fn is_local(config: &Config) -> bool {
    let hosts = config.get_hosts();
    !hosts.is_empty()
        && config.get_hostaddrs().iter().all(|ip| ip.is_loopback())
        && hosts.iter().all(|host| match host {
            #[cfg(unix)]
            Host::Unix(_) => true,
            Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        })
}

/// `url` with `step` (rounded up to whole seconds, at least one) as its `connect_timeout`,
/// replacing one it has: the store opened with it waits at most that long for each step
/// (connecting with the startup and TLS handshakes, each query).
pub fn with_step_bound(url: &str, step: Duration) -> String {
    let seconds = (step.as_secs() + u64::from(step.subsec_nanos() > 0)).max(1);
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}connect_timeout={seconds}")
}

/// `url` without its password (and without anything after `?` that could hold one): the
/// store as shown to people.
pub fn location_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => "the store".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_never_shows_the_password() {
        let shown = location_of("postgres://preauth:s3cret@db.internal:5433/fleet?password=x");
        assert_eq!(shown, "postgres://preauth@db.internal:5433/fleet");
        assert_eq!(location_of("not a url"), "the store");
    }

    #[test]
    fn only_this_machine_goes_without_tls() {
        let local = |url: &str| is_local(&url.parse().expect("a URL"));
        assert!(local("postgres://u@127.0.0.1/db"));
        assert!(local("postgres://u@[::1]:5432/db"));
        assert!(local("postgres://u@localhost/db"));
        assert!(local("postgres://u@%2Fvar%2Frun%2Fpostgresql/db"));
        assert!(!local("postgres://u@db.internal/db"));
        assert!(!local("postgres://u@10.0.0.5/db"));
        // Refused before anything is contacted.
        let refused = Db::open("postgres://u@db.invalid/db?sslmode=disable").err();
        assert!(
            refused.is_some_and(|e| e.to_string().contains("over TLS only")),
            "plain text to another host"
        );
        let wrong = Db::open("mysql://u@127.0.0.1/db").err();
        assert!(wrong.is_some_and(|e| e.to_string().contains("postgres://user@host/database")));
    }

    #[test]
    fn a_hostaddr_elsewhere_needs_tls_whatever_the_host_is_called() {
        let local = |url: &str| is_local(&url.parse().expect("a URL"));
        // The address connected to is hostaddr's; the name only checks the certificate.
        assert!(!local("postgres://u:p@localhost/db?hostaddr=192.0.2.2"));
        assert!(!local("postgres://u@127.0.0.1/db?hostaddr=10.0.0.5"));
        assert!(!local(
            "postgres://u@localhost/db?hostaddr=::ffff:192.0.2.2"
        ));
        assert!(local("postgres://u@localhost/db?hostaddr=127.0.0.1"));
        assert!(local("postgres://u@localhost/db?hostaddr=::1"));
        let refused = Db::open("postgres://u:p@localhost/db?hostaddr=192.0.2.2&sslmode=disable")
            .err()
            .map(|e| e.to_string());
        assert!(
            refused
                .as_deref()
                .is_some_and(|e| e.contains("over TLS only") && !e.contains(":p@")),
            "{refused:?}"
        );
        let db = Db::open("postgres://u:p@localhost/db?hostaddr=192.0.2.2").expect("opens lazily");
        assert!(db.tls.is_some(), "TLS is required");
    }

    #[test]
    fn a_run_lasts_as_long_as_answers_keep_coming_and_ends_when_they_stop() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        let idle = Duration::from_millis(200);
        // Five answers 100 ms apart: twice the idle bound in all, never silent for it.
        let answered = runtime.block_on(answered_within(idle, async {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            "done"
        }));
        assert_eq!(answered, Some("done"));
        // No answer at all: given up after the idle bound, not before.
        let started = std::time::Instant::now();
        let silent = runtime.block_on(answered_within(idle, std::future::pending::<()>()));
        assert_eq!(silent, None);
        assert!(started.elapsed() >= idle, "{:?}", started.elapsed());
    }

    #[test]
    fn every_step_is_bounded_by_the_urls_connect_timeout() {
        let db = Db::open("postgres://u@127.0.0.1/db").expect("opens lazily");
        assert_eq!(db.step, DEFAULT_STEP);
        assert_eq!(db.config.get_connect_timeout(), Some(&DEFAULT_STEP));
        assert!(db.config.get_keepalives());
        assert_eq!(db.config.get_keepalives_idle(), KEEPALIVE_IDLE);
        // The server cancels a statement before the client gives up.
        assert_eq!(db.statement_timeout(), Duration::from_secs(7));
        let url = with_step_bound(
            "postgres://u@127.0.0.1/db?connect_timeout=30",
            Duration::from_millis(3500),
        );
        assert!(url.ends_with("&connect_timeout=4"), "{url}");
        let db = Db::open(&url).expect("opens lazily");
        assert_eq!(db.step, Duration::from_secs(4));
        let url = with_step_bound("postgres://u@127.0.0.1/db", Duration::ZERO);
        assert_eq!(
            Db::open(&url).expect("opens lazily").step,
            Duration::from_secs(1)
        );
        assert_eq!(
            Db::open(&url).expect("opens lazily").statement_timeout(),
            Duration::from_millis(500)
        );
        // A lock wait comes on top, for the server and for the client.
        let db = Db::open("postgres://u@127.0.0.1/db").expect("opens lazily");
        assert_eq!(
            db.lock_wait_settings(Duration::from_secs(60)),
            "SET LOCAL lock_timeout = '60000ms'; SET LOCAL statement_timeout = '67000ms'"
        );
        assert_eq!(
            db.lock_wait_deadline(Duration::from_secs(60)),
            Duration::from_secs(68)
        );
    }
}
