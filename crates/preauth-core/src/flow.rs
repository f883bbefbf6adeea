//! The authorization-code flow: the authorization URL and the return URL.
//!
//! Starting builds the URL (random `state`, PKCE S256, OpenID Connect `nonce`, the
//! platform's scopes and extra parameters) and a [`PendingAuthorization`] that the
//! store keeps, so that the return URL may be pasted into another process later.
//!
//! The return URL is read strictly (RFC 9700): its query is decoded exactly once (codes
//! carry `%21` for `!`), a parameter given twice is refused, the platform's `error` is
//! reported as such, and an `iss` must equal the platform's issuer (RFC 9207). Matching
//! `state` against pending authorizations is the lifecycle's job (it owns the store).

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use url::Url;

use crate::connection::Connection;
use crate::platform::{Platform, PlatformError};
use crate::printable::printable;
use crate::secret::{AuthorizationCode, PkceVerifier, StateToken};
use crate::store::PendingAuthorization;
use crate::token_client::IdTokenClaims;

/// How long a started authorization waits for its return URL.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// A lifetime for people, rounded up: `1 minute`, `10 minutes`, from two hours on in
/// hours (`24 hours`).
#[derive(Debug, Clone, Copy)]
pub struct Minutes(pub Duration);

impl std::fmt::Display for Minutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let minutes = self.0.as_secs().div_ceil(60);
        let (count, unit) = match minutes {
            m if m >= 120 => (m.div_ceil(60), "hour"),
            m => (m, "minute"),
        };
        let plural = if count == 1 { "" } else { "s" };
        write!(f, "{count} {unit}{plural}")
    }
}

/// How soon a started login must be finished on `platform`, in words: within the
/// platform's code lifetime after approving the app ("a few minutes" where the platform
/// does not say), and within [`PENDING_LIFETIME`] of starting it.
pub fn finish_within(platform: &Platform) -> String {
    let code = match platform.code_lifetime {
        Some(lifetime) => format!(
            "within {} of approving the app ({}'s codes live no longer)",
            Minutes(lifetime),
            platform.display_name
        ),
        None => "within a few minutes of approving the app (codes live only minutes)".into(),
    };
    format!(
        "{code}, and within {} of starting the login",
        Minutes(PENDING_LIFETIME)
    )
}

/// Random bytes in a `state` (256 bits, above the 128 asked for).
const STATE_BYTES: usize = 32;

/// Longest return URL or query accepted (browsers cap URLs near this).
const MAX_RETURN_LEN: usize = 16 * 1024;

/// An authorization that was started: the URL to open and what the store keeps.
#[derive(Debug, Clone)]
pub struct StartedAuthorization {
    /// The authorization URL to show (and, where a browser exists, to open).
    pub url: Url,
    /// The pending authorization (to be stored with [`crate::store::Store::put_pending`]).
    pub pending: PendingAuthorization,
}

/// What the return URL carried.
#[derive(Debug)]
pub enum Callback {
    /// The platform issued a code.
    Code {
        /// The authorization code, decoded once.
        code: AuthorizationCode,
        /// The `state` as returned.
        state: String,
        /// The RFC 9207 issuer, when the platform sent one.
        iss: Option<String>,
    },
    /// The platform refused (`error`, `error_description`).
    Denied {
        /// The `state` as returned, when present.
        state: Option<String>,
        /// The RFC 6749 error code (`access_denied`, …).
        error: String,
        /// The human-readable description, when present (control characters removed).
        description: Option<String>,
        /// The RFC 9207 issuer, when the platform sent one.
        iss: Option<String>,
    },
}

impl Callback {
    /// The `state` the return URL carried, if any.
    pub fn state(&self) -> Option<&str> {
        match self {
            Callback::Code { state, .. } => Some(state),
            Callback::Denied { state, .. } => state.as_deref(),
        }
    }

    /// The `iss` the return URL carried, if any.
    pub fn iss(&self) -> Option<&str> {
        match self {
            Callback::Code { iss, .. } | Callback::Denied { iss, .. } => iss.as_deref(),
        }
    }
}

/// What is wrong with a return URL or with starting an authorization.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Nothing was pasted.
    #[error("the return URL is empty; paste the whole address the browser shows after logging in")]
    Empty,
    /// Far too long to be a return URL.
    #[error(
        "the return URL is longer than {MAX_RETURN_LEN} characters; paste only the address the browser shows after logging in"
    )]
    TooLong,
    /// A URL without a query.
    #[error(
        "the return URL has no query ('?code=…&state=…'); paste the whole address the browser shows after logging in"
    )]
    NoQuery,
    /// The query is not `key=value&…` or not UTF-8 once decoded.
    #[error("the return URL's query cannot be read: {0}")]
    Unreadable(String),
    /// A parameter appears twice (parameter injection).
    #[error("the return URL carries '{0}' more than once; it was altered, so it is refused")]
    Duplicate(String),
    /// No `state`.
    #[error(
        "the return URL has no 'state'; paste the address the platform redirected to, unchanged"
    )]
    MissingState,
    /// Neither `code` nor `error`.
    #[error(
        "the return URL has neither 'code' nor 'error'; paste the address the platform redirected to after the login"
    )]
    MissingCode,
    /// The `state` matches no pending authorization.
    #[error(
        "the return URL does not belong to a pending authorization (its 'state' is unknown, already used, or expired: a started login waits {}); start the authorization again: logging in again by the connection's name alone reuses the app settings it was started with, for {} after it expired",
        Minutes(PENDING_LIFETIME),
        Minutes(crate::store::UNFINISHED_LOGIN_KEPT)
    )]
    UnknownState,
    /// The platform refused the authorization.
    #[error("the platform refused the authorization: {error}{}; start the authorization again", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied {
        /// The error code.
        error: String,
        /// The description, when given.
        description: Option<String>,
    },
    /// `iss` differs from the platform's issuer: a mix-up attack or a wrong platform.
    #[error(
        "the return URL comes from issuer '{got}', not from '{expected}' where the authorization was started; it is refused (mix-up attack or wrong platform)"
    )]
    IssuerMismatch {
        /// The issuer of the platform.
        expected: String,
        /// The issuer in the return URL.
        got: String,
    },
    /// `iss` present but the platform announces no issuer.
    #[error(
        "the return URL names issuer '{got}' but platform '{platform}' has no issuer configured; it is refused"
    )]
    UnexpectedIssuer {
        /// The platform id.
        platform: String,
        /// The issuer in the return URL.
        got: String,
    },
    /// The platform promised `iss` on every return URL (RFC 9207) and this one has none.
    #[error(
        "the return URL carries no 'iss', which platform '{platform}' always sends (RFC 9207); it is refused: paste the address the platform redirected to, unchanged"
    )]
    MissingIssuer {
        /// The platform id.
        platform: String,
    },
    /// A nonce was sent, and the ID token carries none.
    #[error(
        "the ID token carries no nonce although one was sent (OpenID Connect Core 3.1.3.7); the tokens are refused: start the authorization again"
    )]
    IdTokenNonceMissing,
    /// The ID token's nonce is not the one sent: a replayed answer.
    #[error(
        "the ID token carries another nonce than the one sent (a replayed answer); the tokens are refused: start the authorization again"
    )]
    IdTokenNonceMismatch,
    /// The ID token comes from another issuer than the platform's.
    #[error(
        "the ID token was issued by '{got}', not by '{expected}'; the tokens are refused (wrong platform or a mix-up): check the platform's issuer"
    )]
    IdTokenIssuer {
        /// The platform's issuer.
        expected: String,
        /// The token's `iss`.
        got: String,
    },
    /// The ID token is meant for another client.
    #[error(
        "the ID token is not meant for client '{client_id}' (its aud names other clients); the tokens are refused: check the connection's client id"
    )]
    IdTokenAudience {
        /// The connection's client id.
        client_id: String,
    },
    /// The platform record or the connection's base URL is unusable.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The operating system's random source failed.
    #[error("the system's random number generator failed ({0}); try again")]
    Random(String),
}

/// Builds an authorization for `connection` (which carries the base URL, client id and
/// redirect URL) on `platform`, valid until `now + PENDING_LIFETIME`.
pub fn start(
    platform: &Platform,
    connection: &Connection,
    now: SystemTime,
) -> Result<StartedAuthorization, FlowError> {
    let mut url = platform.authorize_url(&connection.api_url)?;
    let state = StateToken::new(random_token(STATE_BYTES)?);
    let pkce_verifier = if platform.pkce {
        Some(PkceVerifier::new(random_token(32)?))
    } else {
        None
    };
    let nonce = if platform.nonce {
        Some(random_token(16)?)
    } else {
        None
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &connection.client_id)
            .append_pair("redirect_uri", &connection.redirect_url)
            .append_pair("response_type", "code")
            .append_pair("state", state.secret());
        if !platform.scopes.is_empty() {
            q.append_pair("scope", &platform.scopes.join(" "));
        }
        if let Some(verifier) = &pkce_verifier {
            q.append_pair("code_challenge", &pkce_challenge(verifier))
                .append_pair("code_challenge_method", "S256");
        }
        if let Some(nonce) = &nonce {
            q.append_pair("nonce", nonce);
        }
        for (k, v) in &platform.extra_authorize_params {
            q.append_pair(k, v);
        }
    }
    let mut connection = connection.clone();
    connection.tokens = None;
    Ok(StartedAuthorization {
        url,
        pending: PendingAuthorization {
            state,
            connection,
            pkce_verifier,
            nonce,
            expires_at: now + PENDING_LIFETIME,
        },
    })
}

/// Reads a return URL: a whole URL, or only its query (with or without `?`).
pub fn parse_return(input: &str) -> Result<Callback, FlowError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(FlowError::Empty);
    }
    if input.len() > MAX_RETURN_LEN {
        return Err(FlowError::TooLong);
    }
    let query = if input.contains("://") {
        let url = Url::parse(input).map_err(|e| FlowError::Unreadable(e.to_string()))?;
        // Some servers answer in the fragment (response_mode=fragment); accept that too.
        match url.query().or(url.fragment()) {
            Some(q) if !q.is_empty() => q.to_string(),
            _ => return Err(FlowError::NoQuery),
        }
    } else {
        let q = input.strip_prefix('?').unwrap_or(input);
        q.split('#').next().unwrap_or(q).to_string()
    };
    let mut params: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k.is_empty() {
            continue;
        }
        if params.iter().any(|(seen, _)| *seen == k) {
            return Err(FlowError::Duplicate(printable(&k)));
        }
        if v.contains('\u{FFFD}') && !query.contains('\u{FFFD}') {
            return Err(FlowError::Unreadable(format!(
                "'{}' is not valid UTF-8",
                printable(&k)
            )));
        }
        params.push((k.into_owned(), v.into_owned()));
    }
    let mut take = |name: &str| {
        params
            .iter()
            .position(|(k, _)| k == name)
            .map(|i| params.swap_remove(i).1)
    };
    let state = take("state").filter(|s| !s.is_empty());
    let iss = take("iss");
    if let Some(error) = take("error") {
        return Ok(Callback::Denied {
            state,
            error: printable(&error),
            description: take("error_description").map(|d| printable(&d)),
            iss,
        });
    }
    let state = state.ok_or(FlowError::MissingState)?;
    let code = take("code")
        .filter(|c| !c.is_empty())
        .ok_or(FlowError::MissingCode)?;
    Ok(Callback::Code {
        code: AuthorizationCode::new(code),
        state,
        iss,
    })
}

/// Checks an RFC 9207 `iss` against the platform's issuer on `base_url`: equal when both
/// exist; refused when the return URL names an issuer the platform does not have. A
/// missing `iss` is accepted (Exact sends none) unless the platform requires it.
pub fn check_issuer(
    platform: &Platform,
    base_url: &str,
    iss: Option<&str>,
) -> Result<(), FlowError> {
    let Some(got) = iss else {
        if platform.iss_required {
            return Err(FlowError::MissingIssuer {
                platform: platform.id.clone(),
            });
        }
        return Ok(());
    };
    match platform.issuer(base_url)? {
        Some(expected) if expected == got.trim_end_matches('/') => Ok(()),
        Some(expected) => Err(FlowError::IssuerMismatch {
            expected,
            got: printable(got),
        }),
        None => Err(FlowError::UnexpectedIssuer {
            platform: platform.id.clone(),
            got: printable(got),
        }),
    }
}

/// Checks the ID token that came with a code exchange (OpenID Connect Core §3.1.3.7):
/// its `nonce` is the one sent (and present when one was sent), its `iss` is the
/// platform's issuer (where the platform has one), and its `aud` names the client.
pub fn check_id_token(
    platform: &Platform,
    connection: &Connection,
    sent_nonce: Option<&str>,
    claims: &IdTokenClaims,
) -> Result<(), FlowError> {
    if let Some(sent) = sent_nonce {
        match claims.nonce.as_deref() {
            None => return Err(FlowError::IdTokenNonceMissing),
            Some(got) if !crate::secret::ct_eq_str(sent, got) => {
                return Err(FlowError::IdTokenNonceMismatch);
            }
            Some(_) => {}
        }
    }
    if let (Some(expected), Some(got)) = (platform.issuer(&connection.api_url)?, &claims.iss)
        && expected != got.trim_end_matches('/')
    {
        return Err(FlowError::IdTokenIssuer {
            expected,
            got: printable(got),
        });
    }
    if !claims.aud.contains(&connection.client_id) {
        return Err(FlowError::IdTokenAudience {
            client_id: connection.client_id.clone(),
        });
    }
    Ok(())
}

/// The S256 challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &PkceVerifier) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.secret().as_bytes()))
}

/// `bytes` random bytes from the operating system, base64url without padding.
pub fn random_token(bytes: usize) -> Result<String, FlowError> {
    let mut buf = zeroize::Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut buf).map_err(|e| FlowError::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(&*buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Connection {
        Connection {
            name: "acme".into(),
            platform: "twinfield".into(),
            api_url: "http://127.0.0.1:4000".into(),
            client_id: "{client id}".into(),
            client_secret: None,
            redirect_url: "http://127.0.0.1:53682/callback".into(),
            tokens: None,
            extra: Vec::new(),
        }
    }

    #[test]
    fn id_tokens_must_carry_the_nonce_the_issuer_and_the_client() {
        let tw = Platform::twinfield();
        let c = connection();
        let issuer = tw
            .issuer(&c.api_url)
            .expect("issuer")
            .expect("twinfield has one");
        let good = IdTokenClaims {
            iss: Some(issuer.clone()),
            aud: vec!["other".into(), c.client_id.clone()],
            nonce: Some("n1".into()),
        };
        assert!(check_id_token(&tw, &c, Some("n1"), &good).is_ok());
        let check = |claims: IdTokenClaims, nonce: Option<&str>| {
            check_id_token(&tw, &c, nonce, &claims).err()
        };
        assert!(matches!(
            check(
                IdTokenClaims {
                    nonce: None,
                    ..good.clone()
                },
                Some("n1")
            ),
            Some(FlowError::IdTokenNonceMissing)
        ));
        assert!(
            check(
                IdTokenClaims {
                    nonce: None,
                    ..good.clone()
                },
                None
            )
            .is_none()
        );
        assert!(matches!(
            check(
                IdTokenClaims {
                    nonce: Some("n2".into()),
                    ..good.clone()
                },
                Some("n1")
            ),
            Some(FlowError::IdTokenNonceMismatch)
        ));
        assert!(matches!(
            check(
                IdTokenClaims {
                    iss: Some("https://evil.invalid".into()),
                    ..good.clone()
                },
                Some("n1")
            ),
            Some(FlowError::IdTokenIssuer { .. })
        ));
        assert!(matches!(
            check(
                IdTokenClaims {
                    aud: vec!["other".into()],
                    ..good
                },
                Some("n1")
            ),
            Some(FlowError::IdTokenAudience { .. })
        ));
    }

    #[test]
    fn authorization_url_carries_state_pkce_nonce_and_scopes() {
        let now = SystemTime::UNIX_EPOCH;
        let started = start(&Platform::twinfield(), &connection(), now).expect("starts");
        let url = &started.url;
        assert!(
            url.as_str()
                .starts_with("http://127.0.0.1:4000/auth/authentication/connect/authorize?")
        );
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("client_id").as_deref(), Some("{client id}"));
        assert_eq!(
            get("state").as_deref(),
            Some(started.pending.state.secret())
        );
        assert!(
            started.pending.state.secret().len() >= 22,
            "at least 128 bits"
        );
        let verifier = started
            .pending
            .pkce_verifier
            .as_ref()
            .expect("twinfield uses PKCE");
        assert_eq!(get("code_challenge"), Some(pkce_challenge(verifier)));
        assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
        assert_eq!(get("nonce"), started.pending.nonce.clone());
        assert!(get("scope").is_some_and(|s| s.contains("offline_access")));
        assert_eq!(started.pending.expires_at, now + PENDING_LIFETIME);
        let again = start(&Platform::twinfield(), &connection(), now).expect("starts");
        assert!(!again.pending.state.ct_eq(&started.pending.state));
    }

    #[test]
    fn the_time_to_finish_quotes_the_code_and_the_pending_lifetimes() {
        assert_eq!(
            finish_within(&Platform::exact_online()),
            "within 3 minutes of approving the app (Exact Online's codes live no longer), and within 10 minutes of starting the login"
        );
        let twinfield = finish_within(&Platform::twinfield());
        assert!(
            twinfield.starts_with("within a few minutes of approving"),
            "{twinfield}"
        );
        assert_eq!(Minutes(Duration::from_secs(61)).to_string(), "2 minutes");
        assert_eq!(Minutes(Duration::from_secs(60)).to_string(), "1 minute");
        assert_eq!(
            Minutes(Duration::from_secs(24 * 3600)).to_string(),
            "24 hours"
        );
    }

    #[test]
    fn pkce_challenge_matches_rfc7636_appendix_b() {
        let v = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce_challenge(&v),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn return_url_is_decoded_once_in_every_shape() {
        for input in [
            "http://127.0.0.1:53682/callback?code=ab%21cd%2521&state=s1",
            "?code=ab%21cd%2521&state=s1",
            "code=ab%21cd%2521&state=s1",
            "  code=ab%21cd%2521&state=s1#frag \n",
        ] {
            match parse_return(input) {
                Ok(Callback::Code { code, state, iss }) => {
                    assert_eq!(code.secret(), "ab!cd%21", "{input}");
                    assert_eq!(state, "s1");
                    assert!(iss.is_none());
                }
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn return_url_errors_say_what_is_wrong() {
        assert!(matches!(parse_return(""), Err(FlowError::Empty)));
        assert!(matches!(
            parse_return("http://127.0.0.1/cb"),
            Err(FlowError::NoQuery)
        ));
        assert!(
            matches!(parse_return("code=a&state=s&code=b"), Err(FlowError::Duplicate(k)) if k == "code")
        );
        assert!(matches!(
            parse_return("code=a"),
            Err(FlowError::MissingState)
        ));
        assert!(matches!(
            parse_return("state=s"),
            Err(FlowError::MissingCode)
        ));
        match parse_return("error=access_denied&error_description=User+said+no%0A&state=s") {
            Ok(Callback::Denied {
                error,
                description,
                state,
                ..
            }) => {
                assert_eq!(error, "access_denied");
                assert_eq!(description.as_deref(), Some("User said no"));
                assert_eq!(state.as_deref(), Some("s"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn issuer_must_match_the_platform() {
        let tw = Platform::twinfield();
        let base = "http://127.0.0.1:4000";
        assert!(check_issuer(&tw, base, None).is_ok());
        assert!(check_issuer(&tw, base, Some("http://127.0.0.1:4000/auth/authentication")).is_ok());
        assert!(matches!(
            check_issuer(&tw, base, Some("http://127.0.0.1:4001/auth/authentication")),
            Err(FlowError::IssuerMismatch { .. })
        ));
        assert!(matches!(
            check_issuer(&Platform::exact_online(), base, Some("http://x")),
            Err(FlowError::UnexpectedIssuer { .. })
        ));
    }
}
