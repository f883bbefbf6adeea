//! How to serve: [`Options`], what `preauth serve`'s command line says.

use std::net::SocketAddr;

use preauth_core::monitor::Thresholds;
use preauth_core::network::Network;

use crate::api_hosts::ApiHost;
use crate::keep_alive::KeepAliveOptions;
use crate::listen::tls::TlsFiles;

/// How to serve.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen (port 0 takes a free port).
    pub listen: SocketAddr,
    /// Whether a reverse proxy in front terminates TLS (a non-loopback address needs this
    /// or [`Options::tls`]).
    pub behind_proxy: bool,
    /// Serve HTTPS with these PEM files (`--tls-cert`, `--tls-key`); `None` serves plain
    /// HTTP.
    pub tls: Option<TlsFiles>,
    /// The address browsers use to reach this server (`--public-url`): the pages' own
    /// callback is on it, and cookies are `Secure` when it is https. `None`: the
    /// address listened on.
    pub public_url: Option<String>,
    /// Whether to print a one-time login URL for the pages (`--no-login-url` turns it
    /// off, for a service whose log others read: then an admin API key logs in).
    pub login_link: bool,
    /// Access tokens each API key may get per second (0: any number).
    pub token_rate: u32,
    /// When `/api/v1/check` and `/metrics` count a refresh token as expiring.
    pub thresholds: Thresholds,
    /// Hosts besides the platforms' own that a registration through the API may name
    /// in its `api_url` (`--allow-api-host`).
    pub api_hosts: Vec<ApiHost>,
    /// The reverse proxies trusted to name the client in `X-Forwarded-For`
    /// (`--trusted-proxy`); from any other peer the header is ignored.
    pub trusted_proxies: Vec<Network>,
    /// The most connections open at once (`--max-connections`, at least 1); past it a new
    /// connection is answered 503 and closed.
    pub max_connections: usize,
    /// Keep the connections alive from this server (`--keep-alive`); `None`: a cron job
    /// or timer runs `refresh all connections` instead.
    pub keep_alive: Option<KeepAliveOptions>,
}
