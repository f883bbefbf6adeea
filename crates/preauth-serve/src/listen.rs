//! Binding, the address policy, TLS, and serving until a shutdown signal drains the
//! requests in flight.

mod http1;
pub(crate) mod tls;

use std::future::Future;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::HeaderValue;
use axum::http::header::STRICT_TRANSPORT_SECURITY;
use axum::middleware;
use axum::response::Response;
use preauth_actions::Context;
use preauth_core::api_keys::ApiKeys;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use self::http1::Accepting;
use self::tls::TlsListener;
pub use self::tls::{Certificates, TlsError, TlsFile, TlsFiles};
use crate::client_addr::is_loopback_host;
use crate::keep_alive::{self, Watch};
use crate::metrics::Counters;
use crate::options::Options;
use crate::routes::router_with;
use crate::web::session::LOGIN_LINK_LIFETIME;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An address other than loopback without TLS or `--behind-proxy`.
    #[error(
        "refusing to listen on {addr}: the API would be reachable from other machines without TLS; give --tls-cert and --tls-key, or put a reverse proxy that terminates TLS in front and give --behind-proxy, or listen on 127.0.0.1"
    )]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// No `--public-url` where the pages cannot know their own address.
    #[error(
        "give --public-url with the address browsers use to reach this server (such as https://preauth.example.com): {why}, and the pages' callback and cookies depend on it"
    )]
    PublicUrlNeeded {
        /// Why the listen address does not say it.
        why: &'static str,
    },
    /// A `--public-url` that cannot be one.
    #[error(
        "--public-url '{url}' cannot be used: {why}; give the scheme and host (and port) only, such as https://preauth.example.com"
    )]
    BadPublicUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The TLS certificate or key cannot be served with.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}; {}", bind_advice(*addr, source))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// Serving failed.
    #[error("the server stopped: {0}")]
    Serve(#[source] io::Error),
}

/// What to do when `addr` cannot be bound for `error`.
fn bind_advice(addr: SocketAddr, error: &io::Error) -> String {
    let port = addr.port();
    let host = match addr {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    };
    match error.kind() {
        io::ErrorKind::AddrInUse => format!(
            "another program (or another preauth serve) listens there, as `ss -ltnp 'sport = :{port}'` shows; stop it, or give --listen {host}:PORT with a free port"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "ports below 1024 need privileges; give --listen {host}:PORT with a port above 1023 (a reverse proxy can take port {port})"
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "{host} is not an address of this machine; give --listen 127.0.0.1:{port}, or one of the addresses `ip -brief address` lists"
        ),
        _ => "give --listen another address or port".to_string(),
    }
}

impl ServeError {
    /// Whether the options given were wrong (an address or TLS files that cannot be
    /// served with), rather than the machine failing.
    pub fn is_usage(&self) -> bool {
        match self {
            ServeError::NotLoopback { .. }
            | ServeError::PublicUrlNeeded { .. }
            | ServeError::BadPublicUrl { .. }
            | ServeError::Tls(_) => true,
            ServeError::Bind { .. } | ServeError::Serve(_) => false,
        }
    }
}

/// The base URL of the pages: `--public-url`, checked, or the address listened on
/// (`local`, with `scheme`) when that is one browsers can use.
fn public_url(options: &Options, scheme: &str, local: SocketAddr) -> Result<String, ServeError> {
    let Some(given) = &options.public_url else {
        let why = if options.behind_proxy {
            "a reverse proxy in front has an address of its own"
        } else if local.ip().is_unspecified() {
            "the server listens on every address"
        } else {
            return Ok(format!("{scheme}://{local}"));
        };
        return Err(ServeError::PublicUrlNeeded { why });
    };
    let bad = |why| ServeError::BadPublicUrl {
        url: given.clone(),
        why,
    };
    let url = url::Url::parse(given).map_err(|_| bad("it is not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(bad("it is not an http or https URL with a host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "the pages are served at the root, so it can have no path, query or fragment",
        ));
    }
    if url.scheme() == "http" && !url.host_str().is_some_and(is_loopback_host) {
        return Err(bad(
            "browsers on other machines must reach the pages over https",
        ));
    }
    // Plain HTTP on an address other machines reach is only for a proxy in front that
    // serves https: tokens and cookies must not cross the network in clear text.
    if url.scheme() == "http" && !local.ip().is_loopback() && options.tls.is_none() {
        return Err(bad(
            "the server listens on an address other machines reach without TLS of its own, so the proxy in front must serve https: give an https URL (or listen on 127.0.0.1)",
        ));
    }
    Ok(given.trim_end_matches('/').to_string())
}

/// Refuses an address that is not loopback unless the server speaks TLS itself (`tls`)
/// or a reverse proxy in front terminates it (`behind_proxy`).
pub fn check_listen(
    addr: SocketAddr,
    behind_proxy: bool,
    tls: Option<&TlsFiles>,
) -> Result<(), ServeError> {
    if addr.ip().is_loopback() || behind_proxy || tls.is_some() {
        Ok(())
    } else {
        Err(ServeError::NotLoopback { addr })
    }
}

/// A server whose address and TLS files were checked and whose port is bound; it serves
/// nothing until [`Bound::serve`].
pub struct Bound {
    listener: TcpListener,
    /// The URL listened on (`http://127.0.0.1:8440`).
    local: String,
    /// The URL browsers use ([`public_url`]).
    base: String,
    /// The certificate served and the acceptor serving it, under TLS.
    tls: Option<(Arc<Certificates>, TlsAcceptor)>,
    options: Options,
}

/// Checks the address ([`check_listen`]), reads and checks the TLS files, and binds the
/// port, in that order: a mistake in the options is reported before the store is opened.
pub async fn bind(options: Options) -> Result<Bound, ServeError> {
    let addr = options.listen;
    check_listen(addr, options.behind_proxy, options.tls.as_ref())?;
    let tls = options.tls.as_ref().map(TlsFiles::acceptor).transpose()?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = public_url(&options, scheme, local)?;
    Ok(Bound {
        listener,
        local: format!("{scheme}://{local}"),
        base,
        tls,
        options,
    })
}

impl Bound {
    /// The certificate served under TLS, to [`Certificates::reload`] when the files
    /// have been renewed.
    pub fn certificates(&self) -> Option<Arc<Certificates>> {
        self.tls
            .as_ref()
            .map(|(certificates, _)| Arc::clone(certificates))
    }

    /// Serves the API over `env` until `shutdown` resolves; then stops accepting, closes
    /// idle connections and waits for the requests in flight (a refresh finishes and is
    /// stored before this returns). A client has 10 seconds to send a request's header,
    /// counted from the connection's start or the previous answer (so an idle kept-alive
    /// connection is closed after 10 seconds), and past [`Options::max_connections`] a
    /// new connection is answered 503. The URL it listens on (`https://…` under TLS) is the first line of
    /// standard output; the one-time login URL of the pages, on the public URL, the
    /// second (unless [`Options::login_link`] is off). With [`Options::keep_alive`] the
    /// keep-alive runs beside the server; at shutdown a pass in progress starts no further
    /// refresh, and those under way finish before this returns.
    pub async fn serve(
        self,
        env: Arc<Context>,
        keys: ApiKeys,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let keys_location = keys.location();
        let _delivering = crate::webhook_delivery::start(Arc::clone(&env));
        let keep_alive = self.options.keep_alive.clone().map(|options| {
            let watch = Arc::new(Watch::new(env.shared_documents()));
            (options, watch)
        });
        let counters = match &keep_alive {
            Some((_, watch)) => Counters::watching(Arc::clone(watch)),
            None => Counters::default(),
        };
        let (app, login) = router_with(
            Arc::clone(&env),
            keys,
            &self.options,
            &self.base,
            Arc::new(counters),
        )
        .map_err(ServeError::Serve)?;
        {
            let mut stdout = io::stdout().lock();
            let lines = match &login {
                Some(login) => format!("{}\n{login}\n", self.local),
                None => format!("{}\n", self.local),
            };
            stdout
                .write_all(lines.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(ServeError::Serve)?;
        }
        let pages = match login {
            Some(_) => format!(
                "the second line is a login URL for the pages, good once within {} minutes (later, log in with an API key of scope admin)",
                LOGIN_LINK_LIFETIME.as_secs() / 60
            ),
            None => "log in to the pages with an API key of scope admin".to_string(),
        };
        let reload = match &self.tls {
            Some(_) => "; SIGHUP reads the TLS certificate and key again",
            None => "",
        };
        eprintln!(
            "preauth serve: API keys in {keys_location}; {pages}; stop with Ctrl-C or SIGTERM{reload}"
        );
        let max = self.options.max_connections;
        let serving = async move {
            match self.tls {
                None => http1::serve(Accepting::new(self.listener), app, max, shutdown).await,
                Some((_, acceptor)) => {
                    let listener = TlsListener::new(self.listener, acceptor);
                    let app = app.layer(middleware::map_response(hsts));
                    http1::serve(listener, app, max, shutdown).await;
                }
            }
        };
        match keep_alive {
            None => serving.await,
            Some((options, watch)) => keep_alive::alongside(env, options, watch, serving).await,
        }
        eprintln!("preauth serve: stopped after the requests in flight finished");
        Ok(())
    }
}

/// Under TLS, tells browsers to come back over HTTPS only, for a year (RFC 6797).
async fn hsts(mut response: Response) -> Response {
    response.headers_mut().insert(
        STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use preauth_core::monitor::Thresholds;

    #[test]
    fn another_address_than_loopback_needs_tls_or_a_proxy() {
        let any: SocketAddr = "0.0.0.0:8440".parse().unwrap();
        let files = TlsFiles {
            cert: "cert.pem".into(),
            key: "key.pem".into(),
        };
        for loopback in ["127.0.0.1:0", "[::1]:8440"] {
            assert!(check_listen(loopback.parse().unwrap(), false, None).is_ok());
        }
        let refused = check_listen(any, false, None).unwrap_err();
        assert!(matches!(refused, ServeError::NotLoopback { .. }));
        assert!(refused.is_usage());
        let text = refused.to_string();
        for way in ["--tls-cert", "--behind-proxy", "127.0.0.1"] {
            assert!(text.contains(way), "{text}");
        }
        assert!(check_listen(any, true, None).is_ok());
        assert!(check_listen(any, false, Some(&files)).is_ok());
        assert!(check_listen(any, true, Some(&files)).is_ok());
    }

    fn options(listen: &str, behind_proxy: bool, public: Option<&str>) -> Options {
        Options {
            listen: listen.parse().unwrap(),
            behind_proxy,
            tls: None,
            public_url: public.map(str::to_string),
            login_link: true,
            token_rate: 0,
            thresholds: Thresholds::default(),
            api_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            max_connections: 1,
            keep_alive: None,
        }
    }

    fn base(listen: &str, behind_proxy: bool, public: Option<&str>) -> Result<String, ServeError> {
        let options = options(listen, behind_proxy, public);
        public_url(&options, "http", options.listen)
    }

    #[test]
    fn the_pages_know_the_address_browsers_use() {
        assert_eq!(
            base("127.0.0.1:8440", false, None).unwrap(),
            "http://127.0.0.1:8440"
        );
        assert_eq!(
            base("127.0.0.1:8440", true, Some("https://preauth.example.com/")).unwrap(),
            "https://preauth.example.com"
        );
        for (listen, proxy) in [("127.0.0.1:8440", true), ("0.0.0.0:8440", false)] {
            let needed = base(listen, proxy, None).unwrap_err();
            assert!(
                matches!(needed, ServeError::PublicUrlNeeded { .. }),
                "{needed}"
            );
            assert!(needed.is_usage() && needed.to_string().contains("--public-url"));
        }
        for bad in [
            "preauth.example.com",
            "ftp://preauth.example.com",
            "https://preauth.example.com/preauth",
            "https://preauth.example.com/?x=1",
            "http://preauth.example.com",
        ] {
            let refused = base("127.0.0.1:8440", true, Some(bad)).unwrap_err();
            assert!(
                matches!(refused, ServeError::BadPublicUrl { .. }),
                "{bad}: {refused}"
            );
        }
        assert!(base("127.0.0.1:8440", true, Some("http://localhost:8080")).is_ok());
        // Plain HTTP to every address behind a "proxy" would serve tokens in clear text.
        let clear = base("0.0.0.0:8440", true, Some("http://localhost:8080")).unwrap_err();
        assert!(
            matches!(clear, ServeError::BadPublicUrl { .. }) && clear.to_string().contains("https"),
            "{clear}"
        );
        assert!(base("0.0.0.0:8440", true, Some("https://preauth.example.com")).is_ok());
    }
}
