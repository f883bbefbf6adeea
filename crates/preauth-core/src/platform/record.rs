//! [`Platform`]: the record of one authorization server (endpoints, client
//! authentication, token lifetimes and refresh rules), the built-in ones, and
//! [`PlatformError`].

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use url::Url;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (Exact Online).
    FormBody,
    /// HTTP Basic with the client id and secret (Twinfield, most OIDC servers).
    HttpBasic,
}

/// One base URL of a platform, for one country or region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Country code users type (`nl`, `co.uk`), or empty for a platform with one host.
    pub country: String,
    /// Base URL without a trailing slash (`https://start.exactonline.nl`).
    pub base_url: String,
}

/// An authorization server and the rules its tokens follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Id used in statements and stored with each connection (`exact-online`).
    pub id: String,
    /// Name shown to people (`Exact Online`); also the settings-file group name.
    pub display_name: String,
    /// The settings-file `provider` attribute (`ExactOnlineAll`).
    pub provider: String,
    /// Where it runs. The first host is the default.
    pub hosts: Vec<Host>,
    /// Authorization endpoint: a path relative to the base URL (`/api/oauth2/auth`), or
    /// an absolute URL, which must then be on the base URL's scheme, host and port (see
    /// [`Platform::endpoint`]).
    pub authorize_path: String,
    /// Token endpoint: a path relative to the base URL, or an absolute URL on its host.
    pub token_path: String,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Scopes to ask for (empty: send no `scope`).
    pub scopes: Vec<String>,
    /// Extra authorization parameters sent as given (`force_login=1`).
    pub extra_authorize_params: Vec<(String, String)>,
    /// Send a PKCE S256 challenge.
    pub pkce: bool,
    /// Send an OpenID Connect `nonce`.
    pub nonce: bool,
    /// The issuer path (relative to the base URL) that an RFC 9207 `iss` parameter on the
    /// return URL must equal; `None` when the platform sends none.
    pub issuer_path: Option<String>,
    /// Access-token lifetime assumed when a response carries no `expires_in`.
    pub default_access_token_lifetime: Duration,
    /// A new access token may be requested only this long before expiry or later
    /// (Exact: 30 s; earlier refreshes are refused and count towards a block).
    pub refresh_window: Duration,
    /// The platform refuses a refresh before [`Platform::refresh_window`] and counts
    /// each refused one towards blocking the app (Exact), so a forced refresh inside
    /// that time is not sent.
    pub refuses_early_refresh: bool,
    /// How long an authorization code lives after the user approved the app, where the
    /// platform says (Exact: 3 minutes); `None` when unknown.
    pub code_lifetime: Option<Duration>,
    /// Each refresh returns a new refresh token and spends the old one.
    pub refresh_token_rotates: bool,
    /// A login yields a refresh token (without one, a connection dies with its access
    /// token, and a login that got none is reported as an error).
    pub issues_refresh_tokens: bool,
    /// Every return URL must carry `iss` (RFC 9207; the provider's metadata promises
    /// it): one without is refused.
    pub iss_required: bool,
    /// A refresh token unused for this long expires (Exact: 30 days).
    pub refresh_token_lifetime: Option<Duration>,
    /// Token-endpoint calls allowed per day (UTC) and app, where the platform sets a
    /// budget (Exact: 200).
    pub token_calls_per_day: Option<u32>,
    /// Error answers of the token endpoint (HTTP 400/401/403/404) per app within an hour
    /// at which the platform blocks the app, where it does (Exact: 10).
    pub token_errors_per_hour_block: Option<u32>,
    /// A path that answers 200 to a valid bearer token (Exact: `/api/v1/current/Me`).
    pub me_path: Option<String>,
    /// Twinfield's access-token validation path, which also gives the cluster URL.
    pub token_validation_path: Option<String>,
}

impl Platform {
    /// From when an access token that expires at `expires_at` may be refreshed: the
    /// start of the platform's refresh window (the one place this is computed).
    pub fn refresh_allowed_from(&self, expires_at: SystemTime) -> SystemTime {
        expires_at
            .checked_sub(self.refresh_window)
            .unwrap_or(expires_at)
    }

    /// The base URL for `country` (case-insensitive); the default host when `None`.
    pub fn base_url(&self, country: Option<&str>) -> Option<&str> {
        match country {
            None => self.hosts.first(),
            Some(c) => self
                .hosts
                .iter()
                .find(|h| h.country.eq_ignore_ascii_case(c)),
        }
        .map(|h| h.base_url.as_str())
    }

    /// `api_url` checked as a connection's base URL on this platform (see
    /// [`parse_base_url`]: https, or plain http on loopback only; a host; no query,
    /// fragment or credentials), without its trailing slash: the form it is stored in.
    /// Every route that stores an `api_url` checks it here first, so that nothing
    /// unusable (`javascript:…`, `http://10.0.0.1`) is ever stored.
    pub fn check_api_url(&self, api_url: &str) -> Result<String, PlatformError> {
        let trimmed = api_url.trim().trim_end_matches('/');
        parse_base_url(&self.id, trimmed)?;
        Ok(trimmed.to_string())
    }

    /// Whether `api_url` is on one of this platform's own hosts: the same scheme, host
    /// and port as one of [`Platform::hosts`] (Exact's country hosts, Twinfield's login
    /// host, a user-defined platform's endpoints).
    pub fn is_own_host(&self, api_url: &str) -> bool {
        let Ok(url) = Url::parse(api_url) else {
            return false;
        };
        self.hosts
            .iter()
            .any(|host| Url::parse(&host.base_url).is_ok_and(|own| own.origin() == url.origin()))
    }

    /// The URL of one endpoint of this platform (`authorize_path`, `token_path`,
    /// `me_path`, …) on `base_url` (a connection's `api-url`).
    ///
    /// A path is appended to the base URL (whose own path, if any, is kept as a prefix).
    /// An absolute URL is accepted only on the base URL's scheme, host and port, so that
    /// pointing a connection at the sandbox can never send a request anywhere else.
    pub fn endpoint(&self, base_url: &str, path_or_url: &str) -> Result<Url, PlatformError> {
        let base = parse_base_url(&self.id, base_url)?;
        if let Ok(absolute) = Url::parse(path_or_url) {
            if absolute.origin() != base.origin() {
                return Err(PlatformError::ForeignEndpoint {
                    platform: self.id.clone(),
                    endpoint: path_or_url.to_string(),
                    base_url: base_url.to_string(),
                });
            }
            return Ok(absolute);
        }
        if !path_or_url.starts_with('/') {
            return Err(PlatformError::InvalidEndpoint {
                platform: self.id.clone(),
                endpoint: path_or_url.to_string(),
                reason: "it is neither an absolute URL nor a path starting with '/'".into(),
            });
        }
        let joined = format!("{}{}", base.as_str().trim_end_matches('/'), path_or_url);
        Url::parse(&joined).map_err(|e| PlatformError::InvalidEndpoint {
            platform: self.id.clone(),
            endpoint: path_or_url.to_string(),
            reason: e.to_string(),
        })
    }

    /// The authorization endpoint on `base_url`.
    pub fn authorize_url(&self, base_url: &str) -> Result<Url, PlatformError> {
        self.endpoint(base_url, &self.authorize_path)
    }

    /// The token endpoint on `base_url`.
    pub fn token_url(&self, base_url: &str) -> Result<Url, PlatformError> {
        self.endpoint(base_url, &self.token_path)
    }

    /// The issuer identifier (RFC 9207 `iss`) on `base_url`, when the platform has one.
    pub fn issuer(&self, base_url: &str) -> Result<Option<String>, PlatformError> {
        match &self.issuer_path {
            None => Ok(None),
            Some(path) => {
                let url = self.endpoint(base_url, path)?;
                Ok(Some(url.as_str().trim_end_matches('/').to_string()))
            }
        }
    }

    /// Exact Online, on all its countries.
    pub fn exact_online() -> Self {
        let hosts = ["nl", "be", "de", "fr", "es", "co.uk", "com"]
            .iter()
            .map(|c| Host {
                country: (*c).to_string(),
                base_url: format!("https://start.exactonline.{c}"),
            })
            .collect();
        Platform {
            id: "exact-online".into(),
            display_name: "Exact Online".into(),
            provider: "ExactOnlineAll".into(),
            hosts,
            authorize_path: "/api/oauth2/auth".into(),
            token_path: "/api/oauth2/token".into(),
            client_auth: ClientAuth::FormBody,
            scopes: Vec::new(),
            extra_authorize_params: vec![("force_login".into(), "1".into())],
            pkce: false,
            nonce: false,
            issuer_path: None,
            default_access_token_lifetime: Duration::from_secs(600),
            refresh_window: Duration::from_secs(30),
            refuses_early_refresh: true,
            code_lifetime: Some(Duration::from_secs(3 * 60)),
            refresh_token_rotates: true,
            issues_refresh_tokens: true,
            iss_required: false,
            refresh_token_lifetime: Some(Duration::from_secs(30 * 24 * 3600)),
            token_calls_per_day: Some(200),
            token_errors_per_hour_block: Some(10),
            me_path: Some("/api/v1/current/Me".into()),
            token_validation_path: None,
        }
    }

    /// Twinfield (Wolters Kluwer), an OpenID Connect server.
    pub fn twinfield() -> Self {
        Platform {
            id: "twinfield".into(),
            display_name: "Twinfield".into(),
            provider: "TwinfieldAll".into(),
            hosts: vec![Host {
                country: String::new(),
                base_url: "https://login.twinfield.com".into(),
            }],
            authorize_path: "/auth/authentication/connect/authorize".into(),
            token_path: "/auth/authentication/connect/token".into(),
            client_auth: ClientAuth::HttpBasic,
            scopes: [
                "openid",
                "twf.user",
                "twf.organisation",
                "twf.organisationUser",
                "offline_access",
            ]
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
            extra_authorize_params: Vec::new(),
            pkce: true,
            nonce: true,
            issuer_path: Some("/auth/authentication".into()),
            default_access_token_lifetime: Duration::from_secs(3600),
            refresh_window: Duration::from_secs(60),
            refuses_early_refresh: false,
            code_lifetime: None,
            refresh_token_rotates: false,
            issues_refresh_tokens: true,
            iss_required: false,
            refresh_token_lifetime: None,
            token_calls_per_day: None,
            token_errors_per_hour_block: None,
            me_path: None,
            token_validation_path: Some(
                "/auth/authentication/connect/accesstokenvalidation".into(),
            ),
        }
    }
}

/// A platform that cannot be used: a bad URL in its record or a malformed platforms file.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The base URL (a connection's `api-url`) is not an absolute http(s) URL.
    #[error("the base URL '{base_url}' for platform '{platform}' is not usable: {reason}")]
    InvalidBaseUrl {
        /// The platform id.
        platform: String,
        /// The base URL as given.
        base_url: String,
        /// What is wrong.
        reason: String,
    },
    /// An endpoint is neither a path nor an absolute URL.
    #[error("the endpoint '{endpoint}' of platform '{platform}' is not usable: {reason}")]
    InvalidEndpoint {
        /// The platform id.
        platform: String,
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// An absolute endpoint URL is on another host than the platform's base URL.
    #[error(
        "the endpoint '{endpoint}' of platform '{platform}' is not on its base URL '{base_url}'; \
         give a path, or an absolute URL on the same scheme, host and port"
    )]
    ForeignEndpoint {
        /// The platform id.
        platform: String,
        /// The endpoint as given.
        endpoint: String,
        /// The base URL it must be on.
        base_url: String,
    },
    /// A user-defined platform record is incomplete or inconsistent.
    #[error("platform '{platform}' cannot be defined: {reason}")]
    InvalidDefinition {
        /// The platform id (may be empty when the id itself is missing).
        platform: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// A platforms file is malformed; nothing from it was used.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// The platforms document could not be read or written.
    #[error("cannot {action} the user-defined platforms: {source}")]
    Store {
        /// "read" or "write".
        action: &'static str,
        /// The cause (names the file or the store).
        source: Box<crate::store::StoreError>,
    },
}

/// Parses a base URL: absolute, http or https, with a host, no query or fragment.
/// Plain http is allowed only on loopback (the sandbox).
pub(crate) fn parse_base_url(platform: &str, base_url: &str) -> Result<Url, PlatformError> {
    let invalid = |reason: &str| PlatformError::InvalidBaseUrl {
        platform: platform.to_string(),
        base_url: base_url.to_string(),
        reason: reason.to_string(),
    };
    let url = Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
    if let Some(reason) = outbound_url_refusal(&url) {
        return Err(invalid(reason));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL takes no query or fragment"));
    }
    Ok(url)
}

/// Why preauth refuses to send anything to `url`, if it does: the one address rule of
/// every URL preauth calls out to (a platform's base URL, a webhook). https, or plain http
/// to loopback only; a host; no user name or password in the URL.
pub fn outbound_url_refusal(url: &Url) -> Option<&'static str> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(url) => {}
        "http" => {
            return Some("plain http is only allowed on 127.0.0.1, [::1] or localhost; use https");
        }
        _ => return Some("the scheme must be https"),
    }
    if url.host().is_none() {
        return Some("it has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("a URL preauth calls takes no user name or password");
    }
    None
}

/// Whether the URL's host is a loopback name or address.
pub(crate) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_hosts_cover_every_country() {
        let exact = Platform::exact_online();
        assert_eq!(
            exact.base_url(Some("co.uk")),
            Some("https://start.exactonline.co.uk")
        );
        assert_eq!(
            exact.base_url(Some("NL")),
            Some("https://start.exactonline.nl")
        );
        assert_eq!(exact.base_url(Some("us")), None);
    }

    #[test]
    fn endpoints_join_paths_and_keep_absolute_urls_on_the_base_host() {
        let mut p = Platform::twinfield();
        let base = "http://127.0.0.1:4000";
        assert_eq!(
            p.token_url(base).map(String::from).ok(),
            Some("http://127.0.0.1:4000/auth/authentication/connect/token".into())
        );
        assert_eq!(
            p.issuer(base).ok().flatten(),
            Some("http://127.0.0.1:4000/auth/authentication".into())
        );
        p.token_path = "http://127.0.0.1:4000/other/token".into();
        assert!(p.token_url(base).is_ok());
        p.token_path = "http://127.0.0.1:4001/other/token".into();
        assert!(matches!(
            p.token_url(base),
            Err(PlatformError::ForeignEndpoint { .. })
        ));
        p.token_path = "token".into();
        assert!(matches!(
            p.token_url(base),
            Err(PlatformError::InvalidEndpoint { .. })
        ));
        assert!(matches!(
            p.token_url("http://example.com"),
            Err(PlatformError::InvalidBaseUrl { .. })
        ));
    }
}
