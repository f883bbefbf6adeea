//! Platforms as data: one record per authorization server.
//!
//! Exact Online, Twinfield and user-defined OAuth2 / OpenID Connect providers differ
//! only in the values of a [`Platform`]; no code path asks "is this Exact?". Paths are
//! relative to a base URL so that one record serves every Exact country and the
//! sandbox on 127.0.0.1 alike (the base-URL override is just another base).

use std::time::Duration;

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
    /// Authorization endpoint path, relative to the base URL.
    pub authorize_path: String,
    /// Token endpoint path, relative to the base URL.
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
    /// Each refresh returns a new refresh token and spends the old one.
    pub refresh_token_rotates: bool,
    /// A refresh token unused for this long expires (Exact: 30 days).
    pub refresh_token_lifetime: Option<Duration>,
    /// Token-endpoint calls allowed per day and app, where the platform sets a budget.
    pub token_calls_per_day: Option<u32>,
    /// A path that answers 200 to a valid bearer token (Exact: `/api/v1/current/Me`).
    pub me_path: Option<String>,
    /// Twinfield's access-token validation path, which also gives the cluster URL.
    pub token_validation_path: Option<String>,
}

impl Platform {
    /// The base URL for `country` (case-insensitive); the default host when `None`.
    pub fn base_url(&self, country: Option<&str>) -> Option<&str> {
        match country {
            None => self.hosts.first(),
            Some(c) => self.hosts.iter().find(|h| h.country.eq_ignore_ascii_case(c)),
        }
        .map(|h| h.base_url.as_str())
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
            refresh_token_rotates: true,
            refresh_token_lifetime: Some(Duration::from_secs(30 * 24 * 3600)),
            token_calls_per_day: Some(200),
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
            scopes: ["openid", "twf.user", "twf.organisation", "twf.organisationUser", "offline_access"]
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
            extra_authorize_params: Vec::new(),
            pkce: true,
            nonce: true,
            issuer_path: Some("/auth/authentication".into()),
            default_access_token_lifetime: Duration::from_secs(3600),
            refresh_window: Duration::from_secs(60),
            refresh_token_rotates: false,
            refresh_token_lifetime: None,
            token_calls_per_day: None,
            me_path: None,
            token_validation_path: Some("/auth/authentication/connect/accesstokenvalidation".into()),
        }
    }
}

/// The platforms a run knows: the built-in ones plus user-defined ones.
#[derive(Debug, Clone)]
pub struct Registry {
    platforms: Vec<Platform>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// Exact Online and Twinfield.
    pub fn builtin() -> Self {
        Registry {
            platforms: vec![Platform::exact_online(), Platform::twinfield()],
        }
    }

    /// All platforms, built-in first.
    pub fn all(&self) -> &[Platform] {
        &self.platforms
    }

    /// The platform with this id (case-insensitive; `exact` and `exactonline` name Exact Online).
    pub fn get(&self, id: &str) -> Option<&Platform> {
        let id = match id.to_ascii_lowercase().as_str() {
            "exact" | "exactonline" | "exact_online" => "exact-online".to_string(),
            other => other.to_string(),
        };
        self.platforms.iter().find(|p| p.id.eq_ignore_ascii_case(&id))
    }

    /// The platform whose settings-file provider attribute is `provider` (case-insensitive).
    pub fn by_provider(&self, provider: &str) -> Option<&Platform> {
        self.platforms
            .iter()
            .find(|p| p.provider.eq_ignore_ascii_case(provider))
    }

    /// Adds or replaces a user-defined platform (same id replaces).
    pub fn add(&mut self, platform: Platform) {
        match self.platforms.iter_mut().find(|p| p.id.eq_ignore_ascii_case(&platform.id)) {
            Some(existing) => *existing = platform,
            None => self.platforms.push(platform),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_hosts_cover_every_country() {
        let exact = Platform::exact_online();
        assert_eq!(exact.base_url(Some("co.uk")), Some("https://start.exactonline.co.uk"));
        assert_eq!(exact.base_url(Some("NL")), Some("https://start.exactonline.nl"));
        assert_eq!(exact.base_url(Some("us")), None);
    }

    #[test]
    fn registry_finds_by_alias_and_provider() {
        let r = Registry::builtin();
        assert_eq!(r.get("Exact").map(|p| p.id.as_str()), Some("exact-online"));
        assert_eq!(r.by_provider("twinfieldall").map(|p| p.id.as_str()), Some("twinfield"));
    }
}
