//! The connection-string keys preauth reads and writes, documented in one table
//! ([`KEYS`]), and the mapping between a [`Connection`] and its connection string.
//!
//! Keys not in the table are kept in [`Connection::extra`] and written back
//! unchanged. On rewrite the keys keep their order and spelling; the alias
//! `api-redirect-uri` is written as `api-redirect-url`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::connection::{Connection, Tokens};
use crate::connstr::{ConnStrError, ConnectionString};
use crate::lifecycle::RefreshFailure;
use crate::platform::{Platform, Registry};
use crate::secret::{AccessToken, ClientSecret, RefreshToken};

/// When a key must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// On every connection.
    Always,
    /// On connections to the built-in platforms (Exact Online, Twinfield).
    BuiltIn,
    /// Never; absent means "none" or "unknown".
    Never,
    /// Never; written and read by the lifecycle itself as an extra key of the connection
    /// (not a field of [`Connection`]), and kept as it is by every rewrite.
    Lifecycle,
}

/// One documented connection-string key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    /// The key as written.
    pub key: &'static str,
    /// What it holds.
    pub meaning: &'static str,
    /// When it must be present.
    pub required: Required,
}

/// `api-url`.
pub const API_URL: &str = "api-url";
/// `api-client-id`.
pub const API_CLIENT_ID: &str = "api-client-id";
/// `api-client-secret`.
pub const API_CLIENT_SECRET: &str = "api-client-secret";
/// `api-redirect-url`.
pub const API_REDIRECT_URL: &str = "api-redirect-url";
/// `api-redirect-uri`, accepted on read for `api-redirect-url`.
pub const API_REDIRECT_URI_ALIAS: &str = "api-redirect-uri";
/// `api-access-token`.
pub const API_ACCESS_TOKEN: &str = "api-access-token";
/// `api-access-token-issued`.
pub const API_ACCESS_TOKEN_ISSUED: &str = "api-access-token-issued";
/// `api-access-token-expires`.
pub const API_ACCESS_TOKEN_EXPIRES: &str = "api-access-token-expires";
/// `api-refresh-token`.
pub const API_REFRESH_TOKEN: &str = "api-refresh-token";
/// `api-refresh-token-issued`.
pub const API_REFRESH_TOKEN_ISSUED: &str = "api-refresh-token-issued";
/// `preauth-platform`.
pub const PREAUTH_PLATFORM: &str = "preauth-platform";
/// `preauth-state` (pending authorizations only).
pub const PREAUTH_STATE: &str = "preauth-state";
/// `preauth-pkce-verifier` (pending authorizations only).
pub const PREAUTH_PKCE_VERIFIER: &str = "preauth-pkce-verifier";
/// `preauth-nonce` (pending authorizations only).
pub const PREAUTH_NONCE: &str = "preauth-nonce";

/// Every connection-string key preauth understands: the single documentation of them.
/// Times are RFC 3339 in UTC, whole seconds (`2025-03-01T12:00:00Z`).
pub const KEYS: &[KeyDoc] = &[
    KeyDoc {
        key: API_URL,
        meaning: "Base URL of the platform (Invantive key), e.g. https://start.exactonline.nl; may be left out before the first login on a platform with one server (Twinfield), which is then used.",
        required: Required::Always,
    },
    KeyDoc {
        key: API_CLIENT_ID,
        meaning: "Client id of the app registration (Invantive key).",
        required: Required::Always,
    },
    KeyDoc {
        key: API_CLIENT_SECRET,
        meaning: "Client secret of the app registration (Invantive key); absent for public clients.",
        required: Required::BuiltIn,
    },
    KeyDoc {
        key: API_REDIRECT_URL,
        meaning: "Redirect URL registered with the app (Invantive key); api-redirect-uri is read as an alias.",
        required: Required::Always,
    },
    KeyDoc {
        key: API_ACCESS_TOKEN,
        meaning: "Current access token (preauth).",
        required: Required::Never,
    },
    KeyDoc {
        key: API_ACCESS_TOKEN_ISSUED,
        meaning: "When the access token was issued (preauth).",
        required: Required::Never,
    },
    KeyDoc {
        key: API_ACCESS_TOKEN_EXPIRES,
        meaning: "When the access token expires (preauth); absent means already expired.",
        required: Required::Never,
    },
    KeyDoc {
        key: API_REFRESH_TOKEN,
        meaning: "Current refresh token (preauth; on Exact Online it works once).",
        required: Required::Never,
    },
    KeyDoc {
        key: API_REFRESH_TOKEN_ISSUED,
        meaning: "When the refresh token was obtained; unused refresh tokens expire counting from here (preauth).",
        required: Required::Never,
    },
    KeyDoc {
        key: PREAUTH_PLATFORM,
        meaning: "Id of a user-defined platform (preauth); written only for platforms that are not built in, which are otherwise found by the provider attribute.",
        required: Required::Never,
    },
    KeyDoc {
        key: PREAUTH_STATE,
        meaning: "The state of a pending authorization (pending-authorizations.xml only).",
        required: Required::Never,
    },
    KeyDoc {
        key: PREAUTH_PKCE_VERIFIER,
        meaning: "The PKCE verifier of a pending authorization (pending-authorizations.xml only).",
        required: Required::Never,
    },
    KeyDoc {
        key: PREAUTH_NONCE,
        meaning: "The OpenID Connect nonce of a pending authorization (pending-authorizations.xml only).",
        required: Required::Never,
    },
    KeyDoc {
        key: crate::connection::CLUSTER_URL_KEY,
        meaning: "Twinfield's cluster URL, as the token validation returned it after a login (preauth).",
        required: Required::Lifecycle,
    },
    KeyDoc {
        key: crate::connection::REGISTERED_KEY,
        meaning: "When the connection was registered from tokens obtained elsewhere (`register connection`): new tokens for it come from that partner application, so advice for dead tokens names it rather than a login here; a login here (`preauthenticate connection`) removes it (preauth).",
        required: Required::Lifecycle,
    },
    KeyDoc {
        key: crate::lifecycle::REFRESH_FAILED_KEY,
        meaning: "What the last refresh ran into when it needs a person: `<time> <kind>[+<advice code>…] <token tag> <sentence>` with kind refused, lost, lost-again or not-stored and the codes of what repairs it (log_in_again, change_client_credentials, …); while it names the stored refresh token and is not `lost`, that token is not sent again until `refresh connection 'x' force` (preauth).",
        required: Required::Lifecycle,
    },
    KeyDoc {
        key: crate::budget::TOKEN_CALLS_KEY,
        meaning: "The connection's token-endpoint calls of one UTC day, `<YYYY-MM-DD> <calls>`: each connection (one user of an app) has the platform's day's budget (Exact: 200), and background work leaves a reserve of it (`show limits`) (preauth).",
        required: Required::Lifecycle,
    },
];

/// Why a connection string does not make a usable connection. Values are never shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key the platform needs is absent or empty.
    #[error("the connection string has no {key}, which {platform} needs; add {key}=… to it")]
    Missing {
        /// The key.
        key: &'static str,
        /// The platform's display name.
        platform: String,
    },
    /// The provider attribute names no known platform and there is no `preauth-platform`.
    #[error(
        "provider '{provider}' is not a platform preauth knows ({known}); fix the provider attribute or add preauth-platform=<id> for a user-defined platform"
    )]
    UnknownProvider {
        /// The provider attribute.
        provider: String,
        /// The providers there are.
        known: String,
    },
    /// `preauth-platform` (or the connection's platform) names no defined platform.
    #[error("platform '{id}' is not defined; define it before using this connection")]
    UnknownPlatform {
        /// The platform id.
        id: String,
    },
    /// A time is not RFC 3339.
    #[error("{key} is not a time like 2025-03-01T12:00:00Z; correct or remove it")]
    BadTime {
        /// The key.
        key: &'static str,
    },
    /// The connection string is not well formed, or a key cannot be written.
    #[error("connection string: {0}")]
    ConnectionString(#[from] ConnStrError),
}

/// The platform a stored connection belongs to: `preauth-platform` when present,
/// otherwise the provider attribute.
pub fn platform_of(
    provider: &str,
    cs: &ConnectionString,
    registry: &Registry,
) -> Result<Arc<Platform>, KeyError> {
    match cs.get(PREAUTH_PLATFORM) {
        Some(id) => registry
            .get(id)
            .ok_or_else(|| KeyError::UnknownPlatform { id: id.to_string() }),
        None => registry
            .by_provider(provider)
            .ok_or_else(|| KeyError::UnknownProvider {
                provider: provider.to_string(),
                known: registry
                    .all()
                    .iter()
                    .map(|p| p.provider.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
    }
}

/// Reads a connection from its name, provider attribute and connection string.
pub fn to_connection(
    name: &str,
    provider: &str,
    cs: &ConnectionString,
    registry: &Registry,
) -> Result<Connection, KeyError> {
    let platform = platform_of(provider, cs, registry)?;
    let builtin = is_builtin(&platform.id);
    let required = |key: &'static str, alias: Option<&str>| -> Result<String, KeyError> {
        cs.get(key)
            .or_else(|| alias.and_then(|a| cs.get(a)))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| KeyError::Missing {
                key,
                platform: platform.display_name.clone(),
            })
    };
    let tokens = tokens(cs)?;
    let api_url = match required(API_URL, None) {
        Ok(url) => url,
        // A platform with one server (Twinfield's login.twinfield.com) needs none named
        // before the first login; tokens belong to the server they came from.
        Err(missing) => match platform.hosts.as_slice() {
            [only] if tokens.is_none() => only.base_url.clone(),
            _ => return Err(missing),
        },
    };
    let client_id = required(API_CLIENT_ID, None)?;
    let redirect_url = required(API_REDIRECT_URL, Some(API_REDIRECT_URI_ALIAS))?;
    let client_secret = match cs.get(API_CLIENT_SECRET).filter(|v| !v.is_empty()) {
        Some(secret) => Some(ClientSecret::new(secret)),
        None if builtin => {
            return Err(KeyError::Missing {
                key: API_CLIENT_SECRET,
                platform: platform.display_name.clone(),
            });
        }
        None => None,
    };
    Ok(Connection {
        name: name.to_string(),
        platform: platform.id.clone(),
        api_url,
        client_id,
        client_secret,
        redirect_url,
        tokens,
        extra: cs
            .iter()
            .filter(|(k, _)| !is_known(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

/// What an outline holds in place of each secret that is set.
pub const OUTLINE_SECRET: &str = "(sealed)";

/// `connection` without its secrets, safe to keep unsealed beside the sealed text: names,
/// platform, URLs, client id, token times and the lifecycle's own records (the keys that
/// [`KEYS`] marks [`Required::Lifecycle`]) are kept; each secret that is set becomes
/// [`OUTLINE_SECRET`], so that listings and monitoring still see that it is set. Extra
/// keys preauth does not know are left out: they may hold a secret. An outline is for
/// reading only; nothing is ever sent with it.
pub fn outline(connection: &Connection) -> Connection {
    let lifecycle_key = |key: &str| {
        KEYS.iter()
            .any(|doc| doc.required == Required::Lifecycle && doc.key.eq_ignore_ascii_case(key))
    };
    let stand_in = RefreshToken::new(OUTLINE_SECRET);
    let mut outlined = Connection {
        name: connection.name.clone(),
        platform: connection.platform.clone(),
        api_url: connection.api_url.clone(),
        client_id: connection.client_id.clone(),
        client_secret: connection
            .client_secret
            .as_ref()
            .map(|_| ClientSecret::new(OUTLINE_SECRET)),
        redirect_url: connection.redirect_url.clone(),
        tokens: connection.tokens.as_ref().map(|t| Tokens {
            access_token: AccessToken::new(if t.access_token.secret().is_empty() {
                ""
            } else {
                OUTLINE_SECRET
            }),
            access_token_issued_at: t.access_token_issued_at,
            access_token_expires_at: t.access_token_expires_at,
            refresh_token: t.refresh_token.as_ref().map(|_| stand_in.clone()),
            refresh_token_issued_at: t.refresh_token_issued_at,
        }),
        extra: connection
            .extra
            .iter()
            .filter(|(k, _)| lifecycle_key(k))
            .cloned()
            .collect(),
    };
    // A failure record names its token by a hash: it must name the stand-in when it was
    // about the token held, or the outline would look healthy.
    if let Some(failure) = RefreshFailure::of(connection) {
        failure
            .for_stand_in(connection, &stand_in)
            .store_in(&mut outlined);
    }
    outlined
}

fn tokens(cs: &ConnectionString) -> Result<Option<Tokens>, KeyError> {
    let access = cs.get(API_ACCESS_TOKEN).filter(|v| !v.is_empty());
    let refresh = cs.get(API_REFRESH_TOKEN).filter(|v| !v.is_empty());
    if access.is_none() && refresh.is_none() {
        return Ok(None);
    }
    let time = |key| read_time(cs, key);
    Ok(Some(Tokens {
        access_token: AccessToken::new(access.unwrap_or_default()),
        access_token_issued_at: time(API_ACCESS_TOKEN_ISSUED)?.unwrap_or(UNIX_EPOCH),
        access_token_expires_at: time(API_ACCESS_TOKEN_EXPIRES)?.unwrap_or(UNIX_EPOCH),
        refresh_token: refresh.map(RefreshToken::new),
        refresh_token_issued_at: time(API_REFRESH_TOKEN_ISSUED)?,
    }))
}

fn read_time(cs: &ConnectionString, key: &'static str) -> Result<Option<SystemTime>, KeyError> {
    cs.get(key)
        .filter(|v| !v.is_empty())
        .map(|v| humantime::parse_rfc3339(v).map_err(|_| KeyError::BadTime { key }))
        .transpose()
}

/// The last second RFC 3339 formatting can show (9999-12-31T23:59:59Z).
const LATEST: Duration = Duration::from_secs(253_402_300_799);

/// Formats `time` as RFC 3339 UTC seconds, clamped to years 1970..=9999.
pub fn format_time(time: SystemTime) -> String {
    let since_epoch = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .min(LATEST);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + since_epoch).to_string()
}

/// The connection string for `connection`. Keys present in `previous` (the string
/// stored now) keep their place and spelling; new known keys follow in table order,
/// then new extra keys.
pub fn to_connection_string(
    connection: &Connection,
    previous: Option<&ConnectionString>,
) -> Result<ConnectionString, KeyError> {
    let known = known_values(connection);
    let mut known_done = vec![false; known.len()];
    let mut extra_done = vec![false; connection.extra.len()];
    let mut out = ConnectionString::new();
    for (key, _) in previous.into_iter().flat_map(ConnectionString::iter) {
        match canonical(key) {
            Some(canon) => {
                let found = known.iter().position(|(k, _)| *k == canon);
                if let Some((i, (canon, value))) = found.and_then(|i| Some((i, known.get(i)?))) {
                    let spelling = if key.eq_ignore_ascii_case(API_REDIRECT_URI_ALIAS) {
                        canon
                    } else {
                        key
                    };
                    out.push(spelling, value)?;
                    mark(&mut known_done, i);
                }
            }
            None => {
                let found = connection
                    .extra
                    .iter()
                    .position(|(k, _)| k.eq_ignore_ascii_case(key));
                if let Some((i, (k, v))) = found.and_then(|i| Some((i, connection.extra.get(i)?))) {
                    out.push(k, v)?;
                    mark(&mut extra_done, i);
                }
            }
        }
    }
    for ((key, value), done) in known.iter().zip(&known_done) {
        if !done {
            out.push(key, value)?;
        }
    }
    for ((key, value), done) in connection.extra.iter().zip(&extra_done) {
        if !done {
            out.push(key, value)?;
        }
    }
    Ok(out)
}

fn mark(done: &mut [bool], i: usize) {
    if let Some(flag) = done.get_mut(i) {
        *flag = true;
    }
}

/// The known keys with values for `connection`, in table order.
fn known_values(c: &Connection) -> Vec<(&'static str, Zeroizing<String>)> {
    let mut out: Vec<(&'static str, Zeroizing<String>)> = vec![
        (API_URL, Zeroizing::new(c.api_url.clone())),
        (API_CLIENT_ID, Zeroizing::new(c.client_id.clone())),
    ];
    if let Some(secret) = &c.client_secret {
        out.push((
            API_CLIENT_SECRET,
            Zeroizing::new(secret.secret().to_string()),
        ));
    }
    out.push((API_REDIRECT_URL, Zeroizing::new(c.redirect_url.clone())));
    if let Some(t) = &c.tokens {
        if !t.access_token.secret().is_empty() {
            out.push((
                API_ACCESS_TOKEN,
                Zeroizing::new(t.access_token.secret().to_string()),
            ));
            out.push((
                API_ACCESS_TOKEN_ISSUED,
                Zeroizing::new(format_time(t.access_token_issued_at)),
            ));
            out.push((
                API_ACCESS_TOKEN_EXPIRES,
                Zeroizing::new(format_time(t.access_token_expires_at)),
            ));
        }
        if let Some(refresh) = &t.refresh_token {
            out.push((
                API_REFRESH_TOKEN,
                Zeroizing::new(refresh.secret().to_string()),
            ));
        }
        if let Some(issued) = t.refresh_token_issued_at {
            out.push((
                API_REFRESH_TOKEN_ISSUED,
                Zeroizing::new(format_time(issued)),
            ));
        }
    }
    if !is_builtin(&c.platform) {
        out.push((PREAUTH_PLATFORM, Zeroizing::new(c.platform.clone())));
    }
    out
}

/// The table spelling of `key` (case-insensitive, alias resolved), if it is known.
fn canonical(key: &str) -> Option<&'static str> {
    if key.eq_ignore_ascii_case(API_REDIRECT_URI_ALIAS) {
        return Some(API_REDIRECT_URL);
    }
    KEYS.iter()
        .filter(|d| d.required != Required::Lifecycle)
        .map(|d| d.key)
        .find(|k| k.eq_ignore_ascii_case(key))
}

/// Whether `key` is in the table (or is the alias).
pub fn is_known(key: &str) -> bool {
    canonical(key).is_some()
}

/// The ids of the platforms in [`Registry::builtin`] (a test keeps the two in step).
const BUILTIN_IDS: [&str; 2] = ["exact-online", "twinfield"];

/// Whether `id` names a built-in platform.
pub fn is_builtin(id: &str) -> bool {
    BUILTIN_IDS.iter().any(|b| b.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::builtin()
    }

    #[test]
    fn an_outline_holds_no_secret_and_keeps_what_monitoring_judges() {
        use crate::lifecycle::{FailureKind, RefreshFailure};
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let held = RefreshToken::new("the-refresh-token");
        let mut connection = Connection {
            name: "acme".into(),
            platform: "exact-online".into(),
            api_url: "https://start.exactonline.nl".into(),
            client_id: "id".into(),
            client_secret: Some(ClientSecret::new("the-client-secret")),
            redirect_url: "https://app.example/cb".into(),
            tokens: Some(Tokens {
                access_token: AccessToken::new("the-access-token"),
                access_token_issued_at: now,
                access_token_expires_at: now + Duration::from_secs(600),
                refresh_token: Some(held.clone()),
                refresh_token_issued_at: Some(now),
            }),
            extra: vec![("password".into(), "a-user-secret".into())],
        };
        RefreshFailure::new(now, FailureKind::Refused, Some(&held), "spent".into())
            .store_in(&mut connection);
        let outlined = outline(&connection);
        let text = to_connection_string(&outlined, None)
            .expect("a string")
            .to_text();
        for secret in [
            "the-refresh-token",
            "the-access-token",
            "the-client-secret",
            "a-user-secret",
        ] {
            assert!(!text.contains(secret), "{secret} in {}", text.as_str());
        }
        let tokens = outlined.tokens.as_ref().expect("tokens");
        assert_eq!(
            tokens.access_token_expires_at,
            now + Duration::from_secs(600)
        );
        assert_eq!(
            tokens.refresh_token.as_ref().map(|t| t.secret()),
            Some(OUTLINE_SECRET)
        );
        assert!(
            RefreshFailure::blocking(&outlined).is_some(),
            "the failure about the held token still blocks in the outline"
        );
        // A record about another (older) token does not.
        let mut renewed = connection.clone();
        if let Some(t) = renewed.tokens.as_mut() {
            t.refresh_token = Some(RefreshToken::new("a-newer-token"));
        }
        assert!(RefreshFailure::blocking(&outline(&renewed)).is_none());
    }

    #[test]
    fn builtin_ids_match_the_registry() {
        let registry = Registry::builtin();
        let all = registry.all();
        let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, BUILTIN_IDS);
    }

    #[test]
    fn reads_invantive_keys_alias_and_extra() {
        let cs = ConnectionString::parse(
            "API-URL=https://start.exactonline.nl;api-client-id=id;api-client-secret=s;api-redirect-uri=https://r;custom=1",
        )
        .expect("valid");
        let c = to_connection("acme", "ExactOnlineAll", &cs, &registry()).expect("usable");
        assert_eq!(c.platform, "exact-online");
        assert_eq!(c.redirect_url, "https://r");
        assert_eq!(c.extra, vec![("custom".to_string(), "1".to_string())]);
        assert!(c.tokens.is_none());

        let out = to_connection_string(&c, Some(&cs)).expect("writable");
        assert_eq!(
            out.to_text().as_str(),
            "API-URL=https://start.exactonline.nl;api-client-id=id;api-client-secret=s;api-redirect-url=https://r;custom=1"
        );
    }

    #[test]
    fn missing_keys_and_unknown_providers_say_what_to_do() {
        let cs =
            ConnectionString::parse("api-url=u;api-client-id=i;api-redirect-url=r").expect("valid");
        let err = to_connection("a", "TwinfieldAll", &cs, &registry()).expect_err("no secret");
        assert_eq!(
            err.to_string(),
            "the connection string has no api-client-secret, which Twinfield needs; add api-client-secret=… to it"
        );
        let err = to_connection("a", "SqlServer", &cs, &registry()).expect_err("unknown");
        assert!(matches!(err, KeyError::UnknownProvider { .. }), "{err}");
    }

    #[test]
    fn twinfield_needs_no_api_url_before_its_first_login() {
        let app = "api-client-id=i;api-client-secret=s;api-redirect-url=https://r";
        let cs = ConnectionString::parse(app).expect("valid");
        let c = to_connection("tw", "TwinfieldAll", &cs, &registry()).expect("usable");
        assert_eq!(c.api_url, "https://login.twinfield.com");
        assert!(c.tokens.is_none());
        // Tokens came from some server: which one is not guessed.
        let cs = ConnectionString::parse(&format!("{app};api-refresh-token=rt")).expect("valid");
        let err = to_connection("tw", "TwinfieldAll", &cs, &registry()).expect_err("no url");
        assert_eq!(
            err.to_string(),
            "the connection string has no api-url, which Twinfield needs; add api-url=… to it"
        );
        // Exact Online runs in several countries: the one must be named.
        let cs = ConnectionString::parse(app).expect("valid");
        let err = to_connection("e", "ExactOnlineAll", &cs, &registry()).expect_err("no url");
        assert!(
            matches!(err, KeyError::Missing { key: API_URL, .. }),
            "{err}"
        );
    }

    #[test]
    fn tokens_and_times_round_trip() {
        let issued = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut c = Connection {
            name: "acme".into(),
            platform: "my-oidc".into(),
            api_url: "http://127.0.0.1:1".into(),
            client_id: "id".into(),
            client_secret: None,
            redirect_url: "http://127.0.0.1:2/cb".into(),
            tokens: Some(Tokens {
                access_token: AccessToken::new("at;=\""),
                access_token_issued_at: issued,
                access_token_expires_at: issued + Duration::from_secs(600),
                refresh_token: Some(RefreshToken::new("rt")),
                refresh_token_issued_at: Some(issued),
            }),
            extra: vec![("x".into(), "y".into())],
        };
        let reg = registry();
        let mut platform = Platform::twinfield();
        platform.id = "my-oidc".into();
        platform.provider = "Generic".into();
        reg.add(platform);
        let cs = to_connection_string(&c, None).expect("writable");
        let text = cs.to_text();
        assert!(
            text.contains("api-access-token-expires=2023-11-14T22:23:20Z"),
            "{}",
            text.as_str()
        );
        assert!(text.contains("preauth-platform=my-oidc"));
        let back = to_connection(
            "acme",
            "whatever",
            &ConnectionString::parse(&text).expect("valid"),
            &reg,
        )
        .expect("usable");
        let t = back.tokens.expect("tokens");
        assert_eq!(t.access_token.secret(), "at;=\"");
        assert_eq!(t.access_token_expires_at, issued + Duration::from_secs(600));
        assert_eq!(t.refresh_token_issued_at, Some(issued));
        assert_eq!(back.extra, c.extra);

        c.extra.push(("API-URL".into(), "dup".into()));
        assert!(to_connection_string(&c, None).is_err());
        // Past the year 9999 (in the year 17814: Windows times end in 30828).
        assert_eq!(
            format_time(UNIX_EPOCH + Duration::from_secs(500_000_000_000)),
            "9999-12-31T23:59:59Z"
        );
    }
}
