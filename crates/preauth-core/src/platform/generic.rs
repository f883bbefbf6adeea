//! User-defined OAuth2 / OpenID Connect platforms.
//!
//! A generic platform is described by its issuer and two endpoints. The endpoints may
//! be given as paths or as absolute URLs; absolute URLs must be on the issuer's scheme,
//! host and port and are stored as paths, so that the record stays relative to a base
//! URL and a base-URL override (the sandbox) moves every endpoint at once.

use std::time::Duration;

use url::Url;

use super::record::{ClientAuth, Host, Platform, PlatformError, parse_base_url};

/// The description of a user-defined platform, checked by [`Platform::generic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericPlatform {
    /// Id used in statements and stored with each connection (letters, digits, `-`, `_`, `.`).
    pub id: String,
    /// Name shown to people; the id when `None`.
    pub display_name: Option<String>,
    /// The settings-file `provider` attribute; the id when `None`.
    pub provider: Option<String>,
    /// The issuer identifier (`https://login.example.com/realm`). Its scheme, host and
    /// port are the base URL; its path is the issuer path that an RFC 9207 `iss` must
    /// match. When `None`, `authorize_url` must be absolute and gives the base URL.
    pub issuer: Option<String>,
    /// The authorization endpoint: a path (`/realm/authorize`) or an absolute URL.
    pub authorize_url: String,
    /// The token endpoint: a path or an absolute URL.
    pub token_url: String,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// Send a PKCE S256 challenge.
    pub pkce: bool,
    /// Send an OpenID Connect `nonce`; by default when the scopes include `openid`.
    pub nonce: Option<bool>,
    /// Extra authorization parameters.
    pub extra_authorize_params: Vec<(String, String)>,
    /// Access-token lifetime assumed when a response has no `expires_in` (default 1 hour).
    pub access_token_lifetime: Option<Duration>,
    /// Refresh this long before the access token expires (default 60 s).
    pub refresh_window: Option<Duration>,
    /// Each refresh spends the old refresh token.
    pub refresh_token_rotates: bool,
    /// Refresh tokens expire after this long unused.
    pub refresh_token_lifetime: Option<Duration>,
    /// A path or URL that answers 200 to a valid bearer token.
    pub me_url: Option<String>,
    /// Send `prompt=consent` when the scopes include `offline_access` (OpenID Connect
    /// Core §11 grants offline access, and so a refresh token, only with consent);
    /// not when the extra parameters set `prompt` themselves. On by default.
    pub consent_for_offline_access: bool,
    /// The platform issues refresh tokens (a login without one is then an error). On
    /// by default.
    pub issues_refresh_tokens: bool,
    /// Every return URL must carry `iss` (RFC 9207). Off by default; discovery turns it
    /// on when the provider's metadata promises it.
    pub iss_required: bool,
    /// Token-endpoint calls the provider allows per app and UTC day, if it says.
    pub token_calls_per_day: Option<u32>,
    /// Error answers of the token endpoint per app within an hour at which the provider
    /// blocks the app, if it does.
    pub token_errors_per_hour_block: Option<u32>,
}

impl GenericPlatform {
    /// A description with the required parts and defaults for the rest (HTTP Basic
    /// client authentication, PKCE on, no scopes).
    pub fn new(
        id: impl Into<String>,
        issuer: Option<String>,
        authorize_url: impl Into<String>,
        token_url: impl Into<String>,
    ) -> Self {
        GenericPlatform {
            id: id.into(),
            display_name: None,
            provider: None,
            issuer,
            authorize_url: authorize_url.into(),
            token_url: token_url.into(),
            client_auth: ClientAuth::HttpBasic,
            scopes: Vec::new(),
            pkce: true,
            nonce: None,
            extra_authorize_params: Vec::new(),
            access_token_lifetime: None,
            refresh_window: None,
            refresh_token_rotates: false,
            refresh_token_lifetime: None,
            me_url: None,
            consent_for_offline_access: true,
            issues_refresh_tokens: true,
            iss_required: false,
            token_calls_per_day: None,
            token_errors_per_hour_block: None,
        }
    }
}

impl Platform {
    /// Checks a user-defined platform and turns it into a record.
    pub fn generic(spec: GenericPlatform) -> Result<Platform, PlatformError> {
        let id = spec.id.trim().to_string();
        let invalid = |reason: String| PlatformError::InvalidDefinition {
            platform: id.clone(),
            reason,
        };
        if id.is_empty() || id.len() > 64 {
            return Err(invalid("the id must have 1 to 64 characters".into()));
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(
                "the id may only hold letters, digits, '-', '_' and '.'".into(),
            ));
        }
        let (base, issuer_path) = match &spec.issuer {
            Some(issuer) => {
                let url = parse_base_url(&id, issuer)?;
                let path = url.path().trim_end_matches('/').to_string();
                (
                    origin_of(&url),
                    Some(if path.is_empty() {
                        "/".to_string()
                    } else {
                        path
                    }),
                )
            }
            None => {
                let url = Url::parse(&spec.authorize_url).map_err(|_| {
                    invalid("without an issuer, authorizeUrl must be an absolute URL".into())
                })?;
                let checked = parse_base_url(&id, &origin_of(&url))?;
                (origin_of(&checked), None)
            }
        };
        let relative = |endpoint: &str| relative_to(&id, &base, endpoint);
        let authorize_path = relative(&spec.authorize_url)?;
        let token_path = relative(&spec.token_url)?;
        let me_path = spec.me_url.as_deref().map(relative).transpose()?;
        let nonce = spec
            .nonce
            .unwrap_or_else(|| spec.scopes.iter().any(|s| s == "openid"));
        if spec
            .scopes
            .iter()
            .any(|s| s.is_empty() || s.chars().any(char::is_whitespace))
        {
            return Err(invalid("a scope may not be empty or hold spaces".into()));
        }
        check_parameters(&spec.extra_authorize_params).map_err(invalid)?;
        let mut extra_authorize_params = spec.extra_authorize_params;
        if spec.consent_for_offline_access
            && spec.scopes.iter().any(|s| s == "offline_access")
            && !extra_authorize_params.iter().any(|(k, _)| k == "prompt")
        {
            extra_authorize_params.push(("prompt".into(), "consent".into()));
        }
        Ok(Platform {
            display_name: spec.display_name.unwrap_or_else(|| id.clone()),
            provider: spec.provider.unwrap_or_else(|| id.clone()),
            hosts: vec![Host {
                country: String::new(),
                base_url: base,
            }],
            authorize_path,
            token_path,
            client_auth: spec.client_auth,
            scopes: spec.scopes,
            extra_authorize_params,
            pkce: spec.pkce,
            nonce,
            issuer_path,
            default_access_token_lifetime: spec
                .access_token_lifetime
                .unwrap_or(Duration::from_secs(3600)),
            refresh_window: spec.refresh_window.unwrap_or(Duration::from_secs(60)),
            refuses_early_refresh: false,
            code_lifetime: None,
            refresh_token_rotates: spec.refresh_token_rotates,
            issues_refresh_tokens: spec.issues_refresh_tokens,
            iss_required: spec.iss_required,
            refresh_token_lifetime: spec.refresh_token_lifetime,
            token_calls_per_day: spec.token_calls_per_day,
            token_errors_per_hour_block: spec.token_errors_per_hour_block,
            me_path,
            token_validation_path: None,
            id,
        })
    }
}

/// Authorization parameters preauth sets itself, which an extra parameter may not set.
const OWN_PARAMETERS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// Extra authorization parameters: named, free of control characters, none that preauth
/// sets itself, and each at most once but `resource` (RFC 8707 allows several).
fn check_parameters(parameters: &[(String, String)]) -> Result<(), String> {
    for (i, (name, value)) in parameters.iter().enumerate() {
        if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "the authorization parameter name '{}' must be a non-empty word",
                crate::printable::printable(name)
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(format!(
                "the value of authorization parameter '{name}' holds a control character"
            ));
        }
        if OWN_PARAMETERS.contains(&name.as_str()) {
            return Err(format!(
                "'{name}' is set by preauth itself and cannot be an extra authorization parameter{}",
                if name == "scope" {
                    "; use scope '…'"
                } else {
                    ""
                }
            ));
        }
        if name != "resource" && parameters[..i].iter().any(|(n, _)| n == name) {
            return Err(format!(
                "the authorization parameter '{name}' is given twice; keep one"
            ));
        }
    }
    Ok(())
}

/// `scheme://host[:port]` of a URL, without a trailing slash.
fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Turns an endpoint given as a path or an absolute URL on `base` into a path (with its
/// query, if any).
fn relative_to(platform: &str, base: &str, endpoint: &str) -> Result<String, PlatformError> {
    let endpoint = endpoint.trim();
    let url = match Url::parse(endpoint) {
        Ok(url) => url,
        Err(_) if endpoint.starts_with('/') => return Ok(endpoint.to_string()),
        Err(_) => {
            return Err(PlatformError::InvalidEndpoint {
                platform: platform.to_string(),
                endpoint: endpoint.to_string(),
                reason: "it is neither an absolute URL nor a path starting with '/'".into(),
            });
        }
    };
    if origin_of(&url) != base {
        return Err(PlatformError::ForeignEndpoint {
            platform: platform.to_string(),
            endpoint: endpoint.to_string(),
            base_url: base.to_string(),
        });
    }
    if url.fragment().is_some() {
        return Err(PlatformError::InvalidEndpoint {
            platform: platform.to_string(),
            endpoint: endpoint.to_string(),
            reason: "an endpoint takes no fragment".into(),
        });
    }
    Ok(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GenericPlatform {
        GenericPlatform::new(
            "acme-idp",
            Some("https://login.acme.example/realm".into()),
            "https://login.acme.example/realm/authorize",
            "/realm/token",
        )
    }

    #[test]
    fn offline_access_is_asked_for_with_consent_unless_told_otherwise() {
        let prompt = |spec: GenericPlatform| {
            Platform::generic(spec)
                .expect("valid spec")
                .extra_authorize_params
                .into_iter()
                .filter(|(k, _)| k == "prompt")
                .map(|(_, v)| v)
                .collect::<Vec<_>>()
        };
        let mut offline = spec();
        offline.scopes = vec!["openid".into(), "offline_access".into()];
        assert_eq!(prompt(offline.clone()), ["consent"]);
        let mut own = offline.clone();
        own.extra_authorize_params = vec![("prompt".into(), "login consent".into())];
        assert_eq!(prompt(own), ["login consent"], "an explicit prompt wins");
        let mut off = offline;
        off.consent_for_offline_access = false;
        assert!(prompt(off).is_empty());
        let mut online = spec();
        online.scopes = vec!["openid".into()];
        assert!(
            prompt(online).is_empty(),
            "no offline access, no consent forced"
        );
    }

    #[test]
    fn absolute_endpoints_on_the_issuer_host_become_paths() {
        let p = Platform::generic(spec()).expect("valid spec");
        assert_eq!(p.base_url(None), Some("https://login.acme.example"));
        assert_eq!(p.authorize_path, "/realm/authorize");
        assert_eq!(p.token_path, "/realm/token");
        assert_eq!(p.issuer_path.as_deref(), Some("/realm"));
        let sandbox = "http://127.0.0.1:9000";
        assert_eq!(
            p.authorize_url(sandbox).map(String::from).ok(),
            Some("http://127.0.0.1:9000/realm/authorize".into())
        );
        assert_eq!(
            p.issuer(sandbox).ok().flatten(),
            Some("http://127.0.0.1:9000/realm".into())
        );
    }

    #[test]
    fn refuses_foreign_hosts_plain_http_and_bad_ids() {
        let mut s = spec();
        s.token_url = "https://evil.example/token".into();
        assert!(matches!(
            Platform::generic(s),
            Err(PlatformError::ForeignEndpoint { .. })
        ));
        let mut s = spec();
        s.issuer = Some("http://login.acme.example/realm".into());
        assert!(matches!(
            Platform::generic(s),
            Err(PlatformError::InvalidBaseUrl { .. })
        ));
        let mut s = spec();
        s.id = "a b".into();
        assert!(matches!(
            Platform::generic(s),
            Err(PlatformError::InvalidDefinition { .. })
        ));
        let mut s = spec();
        s.issuer = None;
        s.authorize_url = "/realm/authorize".into();
        assert!(matches!(
            Platform::generic(s),
            Err(PlatformError::InvalidDefinition { .. })
        ));
    }

    #[test]
    fn extra_parameters_may_not_take_over_the_flow() {
        let with = |params: &[(&str, &str)]| {
            let mut s = spec();
            s.extra_authorize_params = params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Platform::generic(s).map(|p| p.extra_authorize_params)
        };
        assert!(with(&[("audience", "api"), ("resource", "a"), ("resource", "b")]).is_ok());
        for bad in [
            &[("redirect_uri", "https://evil.example/")][..],
            &[("scope", "everything")],
            &[("audience", "a"), ("audience", "b")],
            &[("", "x")],
            &[("acr_values", "a\nb")],
        ] {
            assert!(
                matches!(with(bad), Err(PlatformError::InvalidDefinition { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn nonce_follows_openid_scope_unless_set() {
        let mut s = spec();
        s.scopes = vec!["openid".into()];
        assert!(
            Platform::generic(s.clone())
                .map(|p| p.nonce)
                .unwrap_or(false)
        );
        s.nonce = Some(false);
        assert!(!Platform::generic(s).map(|p| p.nonce).unwrap_or(true));
    }
}
