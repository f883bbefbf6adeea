//! Reading successful answers: token responses, `current/Me`, token validation.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::error::TokenError;
use crate::secret::{AccessToken, RefreshToken};

/// Longest `expires_in` believed (ten years); larger values are treated as this.
const MAX_EXPIRES_IN: u64 = 10 * 365 * 24 * 3600;

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug)]
pub struct TokenResponse {
    /// The new access token (REQUIRED).
    pub access_token: AccessToken,
    /// Its lifetime, when the server said (`expires_in`, number or numeric string).
    pub expires_in: Option<Duration>,
    /// The new refresh token, when one was issued.
    pub refresh_token: Option<RefreshToken>,
    /// The granted scopes, when the server said.
    pub scope: Option<String>,
    /// The claims of the OpenID Connect `id_token` that a client checks, when one came
    /// with the response.
    pub id_token: Option<IdTokenClaims>,
}

/// The claims of an ID token that say whom and which request it is for (OpenID Connect
/// Core §3.1.3.7). Read without a signature check: the token came straight from the
/// token endpoint over the connection preauth opened (point 6 of that section).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdTokenClaims {
    /// `iss`: who issued it.
    pub iss: Option<String>,
    /// `aud`: the clients it is for (a string or an array in the token).
    pub aud: Vec<String>,
    /// `nonce`: the value sent with the authorization request.
    pub nonce: Option<String>,
}

/// What `current/Me` said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeInfo {
    /// The current division (Exact), when present.
    pub current_division: Option<i64>,
    /// The user name, when present.
    pub user_name: Option<String>,
}

/// What a token validation said (Twinfield).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenValidation {
    /// `twf.clusterUrl`: where the API calls for this user go.
    pub cluster_url: Option<String>,
    /// `exp`: when the access token expires, when present.
    pub expires_at: Option<SystemTime>,
}

#[derive(Deserialize)]
struct Raw {
    access_token: Option<String>,
    token_type: Option<String>,
    #[serde(default)]
    expires_in: serde_json::Value,
    refresh_token: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
}

/// Parses a 2xx token response.
pub(super) fn parse_token(status: u16, body: &[u8]) -> Result<TokenResponse, TokenError> {
    let unparseable = |reason: &str| TokenError::Unparseable {
        status,
        reason: reason.to_string(),
        excerpt: excerpt(body),
    };
    let raw: Raw = serde_json::from_slice(body).map_err(|e| unparseable(&json_reason(&e)))?;
    let access_token = Zeroizing::new(raw.access_token.unwrap_or_default());
    let refresh_token = raw.refresh_token.map(Zeroizing::new);
    let id_token = raw.id_token.map(Zeroizing::new);
    if access_token.is_empty() {
        return Err(unparseable("it has no access_token"));
    }
    if let Some(t) = &raw.token_type
        && !t.eq_ignore_ascii_case("bearer")
    {
        return Err(unparseable(&format!(
            "token_type '{}' is not supported (only bearer)",
            crate::printable::printable(t)
        )));
    }
    let expires_in = match &raw.expires_in {
        serde_json::Value::Null => None,
        serde_json::Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    if expires_in.is_none() && !raw.expires_in.is_null() {
        return Err(unparseable(
            "expires_in is neither a number nor a numeric string",
        ));
    }
    let id_token = id_token
        .as_deref()
        .map(|jwt| jwt_claims(jwt).ok_or_else(|| unparseable("its id_token cannot be read")))
        .transpose()?;
    Ok(TokenResponse {
        access_token: AccessToken::new(access_token.as_str()),
        expires_in: expires_in.map(|s| Duration::from_secs(s.min(MAX_EXPIRES_IN))),
        refresh_token: refresh_token
            .filter(|r| !r.is_empty())
            .map(|r| RefreshToken::new(r.as_str())),
        scope: raw.scope,
        id_token,
    })
}

/// The claims of a JWT's payload that [`IdTokenClaims`] keeps; `None` when the JWT
/// cannot be read.
fn jwt_claims(jwt: &str) -> Option<IdTokenClaims> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?);
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let text = |key: &str| claims.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let aud = match claims.get("aud") {
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        Some(serde_json::Value::Array(many)) => many
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    Some(IdTokenClaims {
        iss: text("iss"),
        aud,
        nonce: text("nonce"),
    })
}

/// Parses a `current/Me` answer: any JSON, searched for `CurrentDivision` and `UserName`.
pub(super) fn parse_me(status: u16, body: &[u8]) -> Result<MeInfo, TokenError> {
    let value = parse_json(status, body)?;
    Ok(MeInfo {
        current_division: find(&value, "CurrentDivision").and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        }),
        user_name: find(&value, "UserName").and_then(|v| v.as_str().map(str::to_string)),
    })
}

/// Parses an `accesstokenvalidation` answer.
pub(super) fn parse_validation(status: u16, body: &[u8]) -> Result<TokenValidation, TokenError> {
    let value = parse_json(status, body)?;
    Ok(TokenValidation {
        cluster_url: find(&value, "twf.clusterUrl").and_then(|v| v.as_str().map(str::to_string)),
        expires_at: find(&value, "exp")
            .and_then(serde_json::Value::as_u64)
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s.min(u64::from(u32::MAX)))),
    })
}

/// Any JSON answer, or the unparseable error with a secret-free excerpt.
fn parse_json(status: u16, body: &[u8]) -> Result<serde_json::Value, TokenError> {
    serde_json::from_slice(body).map_err(|e| TokenError::Unparseable {
        status,
        reason: json_reason(&e),
        excerpt: excerpt(body),
    })
}

/// The first value under `key` anywhere in a JSON tree (depth-limited).
fn find<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    fn walk<'a>(v: &'a serde_json::Value, key: &str, depth: u8) -> Option<&'a serde_json::Value> {
        if depth > 8 {
            return None;
        }
        match v {
            serde_json::Value::Object(map) => map
                .get(key)
                .or_else(|| map.values().find_map(|c| walk(c, key, depth + 1))),
            serde_json::Value::Array(items) => items.iter().find_map(|c| walk(c, key, depth + 1)),
            _ => None,
        }
    }
    walk(value, key, 0)
}

/// A serde_json error without the input (its message never quotes values).
fn json_reason(e: &serde_json::Error) -> String {
    format!("not the expected JSON: {e}")
}

/// The beginning of a body, safe to show: control characters removed and any run of 16
/// or more token-like characters replaced by `…`.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body.get(..400).unwrap_or(body));
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 16 {
            out.push('…');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-_.~+/=%!".contains(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            if !c.is_control() {
                out.push(c);
            } else if !out.ends_with(' ') {
                out.push(' ');
            }
        }
        if out.chars().count() >= 160 {
            break;
        }
    }
    flush(&mut run, &mut out);
    if body.is_empty() {
        return "(empty body)".into();
    }
    out.chars().take(160).collect::<String>().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_as_string_or_number_and_token_type_any_case() {
        let r = parse_token(
            200,
            br#"{"access_token":"a","token_type":"bearer","expires_in":"600","refresh_token":"r"}"#,
        )
        .expect("parses");
        assert_eq!(r.expires_in, Some(Duration::from_secs(600)));
        assert_eq!(r.refresh_token.as_ref().map(|t| t.secret()), Some("r"));
        let r = parse_token(
            200,
            br#"{"access_token":"a","token_type":"Bearer","expires_in":3600}"#,
        )
        .expect("parses");
        assert_eq!(r.expires_in, Some(Duration::from_secs(3600)));
        assert!(r.refresh_token.is_none());
        assert!(matches!(
            parse_token(200, br#"{"access_token":"a","token_type":"mac"}"#),
            Err(TokenError::Unparseable { .. })
        ));
        assert!(matches!(
            parse_token(200, br#"{"access_token":"a","expires_in":"soon"}"#),
            Err(TokenError::Unparseable { .. })
        ));
    }

    #[test]
    fn unparseable_answers_keep_no_secret() {
        let body = br#"{"access_token":"eyJhbGciOiJSUzI1NiJ9.verysecretpayload","refresh_token":"#;
        match parse_token(200, body) {
            Err(e @ TokenError::Unparseable { .. }) => {
                let shown = e.to_string();
                assert!(!shown.contains("verysecret"), "{shown}");
                assert!(shown.contains("access_token"), "{shown}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn id_token_claims_are_read() {
        let claims = |json: &[u8]| {
            let payload = URL_SAFE_NO_PAD.encode(json);
            let body = format!(r#"{{"access_token":"a","id_token":"h.{payload}.s"}}"#);
            parse_token(200, body.as_bytes()).expect("parses").id_token
        };
        assert_eq!(
            claims(br#"{"nonce":"n-1","sub":"x","iss":"https://i","aud":"c"}"#),
            Some(IdTokenClaims {
                iss: Some("https://i".into()),
                aud: vec!["c".into()],
                nonce: Some("n-1".into()),
            })
        );
        assert_eq!(
            claims(br#"{"aud":["a","b"]}"#).map(|c| c.aud),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        let body = r#"{"access_token":"a","id_token":"not-a-jwt"}"#;
        assert!(matches!(
            parse_token(200, body.as_bytes()),
            Err(TokenError::Unparseable { .. })
        ));
    }

    #[test]
    fn me_and_validation_find_their_fields() {
        let me = parse_me(
            200,
            br#"{"d":{"results":[{"CurrentDivision":12345,"UserName":"demo"}]}}"#,
        );
        assert_eq!(
            me.ok(),
            Some(MeInfo {
                current_division: Some(12345),
                user_name: Some("demo".into())
            })
        );
        let v = parse_validation(
            200,
            br#"{"twf.clusterUrl":"https://api.accounting.twinfield.com","exp":1700000000}"#,
        )
        .expect("parses");
        assert_eq!(
            v.cluster_url.as_deref(),
            Some("https://api.accounting.twinfield.com")
        );
        assert_eq!(
            v.expires_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }
}
