//! Talking to the server: a runtime of the store's own, connections (TLS for anything
//! but loopback and Unix sockets), a small pool, and errors as one sentence.
//!
//! The [`Store`](preauth_core::store::Store) trait is synchronous: the lifecycle calls
//! it on blocking threads, statements sometimes on a runtime thread. So every query
//! runs on a current-thread runtime in a thread of the store's own and the caller waits
//! for its answer on a plain channel, which is safe from any thread (a nested
//! `block_on` would panic).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use preauth_core::store::StoreError;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
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
    location: String,
}

/// Idle connections kept for reuse (a keep-alive holds up to its concurrency at once).
const MAX_IDLE: usize = 16;

impl Db {
    /// Parses `url` (`postgres://user:password@host:port/database?…`); connects lazily.
    pub(crate) fn open(url: &str) -> Result<Db, StoreError> {
        let location = location_of(url);
        let bad = |reason: String| StoreError::Backend {
            location: location.clone(),
            reason,
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
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("preauth");
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
            location,
        })
    }

    /// The store for people: the URL without its password.
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// Runs `future` on the store's runtime and waits for it.
    pub(crate) fn run<T, F>(&self, future: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(self.failure("the store's runtime stopped; run the command again".into()))
        })
    }

    /// A connection: an idle one, or a new one.
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
        self.run(async move {
            let connected = match tls {
                None => config.connect(NoTls).await.map(|(client, connection)| {
                    tokio::spawn(connection);
                    client
                }),
                Some(tls) => config.connect(tls).await.map(|(client, connection)| {
                    tokio::spawn(connection);
                    client
                }),
            };
            connected
                .map(Arc::new)
                .map_err(|e| error(&location, &e, "connect"))
        })
    }

    /// Gives a connection back for reuse (unless it is closed or enough are idle).
    pub(crate) fn give_back(&self, client: Arc<Client>) {
        if client.is_closed() {
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

    /// Runs `work` with a connection from the pool, giving it back afterwards.
    pub(crate) fn with<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Client>, String) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let client = self.client()?;
        let result = self.run(work(Arc::clone(&client), self.location.clone()));
        self.give_back(client);
        result
    }

    /// A store error with `reason`.
    pub(crate) fn failure(&self, reason: String) -> StoreError {
        StoreError::Backend {
            location: self.location.clone(),
            reason,
        }
    }
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

/// Whether every host of `config` is this machine (loopback or a Unix socket).
fn is_local(config: &Config) -> bool {
    let hosts = config.get_hosts();
    !hosts.is_empty()
        && hosts.iter().all(|host| match host {
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

/// `url` without its password (and without anything after `?` that could hold one).
pub(crate) fn location_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => "the store".to_string(),
    }
}

/// One sentence for a database error during `what`, never with a secret (the server's
/// messages hold none of ours: values are sealed).
pub(crate) fn error(location: &str, e: &tokio_postgres::Error, what: &str) -> StoreError {
    let reason = match e.code() {
        Some(code) if *code == SqlState::LOCK_NOT_AVAILABLE => {
            "the connection stayed locked by another process (on this or another machine) longer than the lock wait; if one hangs, end it (pg_stat_activity names it), or allow a longer wait with --lock-timeout".to_string()
        }
        Some(code) if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            format!("the server refused the login ({}); check the user and password in the store URL", db_message(e))
        }
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => {
            format!("{}; create the database first (createdb), preauth creates its tables itself", db_message(e))
        }
        Some(_) => format!("the server refused to {what}: {}", db_message(e)),
        None if e.is_closed() => {
            "the server closed the connection (it restarted, or the network broke)".to_string()
        }
        None => format!(
            "cannot {what} ({e}); check that the server runs and that the store URL is right"
        ),
    };
    StoreError::Backend {
        location: location.to_string(),
        reason,
    }
}

/// The server's own message of a database error.
fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_string())
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
}
