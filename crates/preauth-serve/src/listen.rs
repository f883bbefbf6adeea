//! Binding, the address policy, and serving until a shutdown signal drains the requests
//! in flight.

use std::future::Future;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;

use preauth_core::api_keys::ApiKeys;
use preauth_core::monitor::Thresholds;
use preauth_script::interpreter::Environment;
use tokio::net::TcpListener;

use crate::routes::router;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An address other than loopback without `--behind-proxy`.
    #[error(
        "refusing to listen on {addr}: the API would be reachable from other machines without TLS; listen on 127.0.0.1, or put a reverse proxy that terminates TLS in front and give --behind-proxy (TLS of its own is not built yet)"
    )]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
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

/// How to serve.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Where to listen (port 0 takes a free port).
    pub listen: SocketAddr,
    /// Whether a reverse proxy in front terminates TLS (needed for a non-loopback address).
    pub behind_proxy: bool,
    /// Access tokens each API key may get per second (0: any number).
    pub token_rate: u32,
    /// When `/api/v1/check` and `/metrics` count a refresh token as expiring.
    pub thresholds: Thresholds,
}

/// Refuses an address that is not loopback unless `behind_proxy`.
pub fn check_listen(addr: SocketAddr, behind_proxy: bool) -> Result<(), ServeError> {
    if addr.ip().is_loopback() || behind_proxy {
        Ok(())
    } else {
        Err(ServeError::NotLoopback { addr })
    }
}

/// Serves the API over `env` as `options` say until `shutdown`
/// resolves; then stops accepting and waits for the requests in flight (a refresh
/// finishes and is stored before this returns). The URL it listens on is the first
/// line of standard output.
pub async fn serve(
    env: Arc<Environment>,
    keys: ApiKeys,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = options.listen;
    check_listen(addr, options.behind_proxy)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "http://{local}")
            .and_then(|()| stdout.flush())
            .map_err(ServeError::Serve)?;
    }
    eprintln!(
        "preauth serve: API keys in {}; stop with Ctrl-C or SIGTERM",
        keys.path().display()
    );
    axum::serve(listener, router(env, keys, &options))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Serve)?;
    eprintln!("preauth serve: stopped after the requests in flight finished");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_without_a_proxy() {
        let any: SocketAddr = "0.0.0.0:8440".parse().unwrap();
        assert!(check_listen("127.0.0.1:0".parse().unwrap(), false).is_ok());
        assert!(check_listen("[::1]:8440".parse().unwrap(), false).is_ok());
        assert!(matches!(
            check_listen(any, false),
            Err(ServeError::NotLoopback { .. })
        ));
        assert!(check_listen(any, true).is_ok());
    }
}
