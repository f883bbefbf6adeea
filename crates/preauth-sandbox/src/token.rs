//! The token endpoints: Exact (`/api/oauth2/token`) and Twinfield (`/connect/token`).
//!
//! Each request first takes the next queued [`Fault`], then runs the grant under the store
//! lock (one critical section: budget, block, grant, error bookkeeping), then lets the fault
//! shape the answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde_json::json;

use crate::Fault;
use crate::api_error::ApiError;
use crate::cuttable::CutSwitch;
use crate::params::Params;
use crate::platform::{
    EXACT_REFRESH_LIFETIME, EXACT_REFRESH_WINDOW, Platform, TWINFIELD_ACCESS_SECONDS,
};
use crate::state::{AccessGrant, RefreshGrant, SandboxState, Store};
use crate::tokens::{self, digest, same_secret};

/// `POST /api/oauth2/token`.
pub(crate) async fn exact(
    State(state): State<SandboxState>,
    cut: CutSwitch,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&state, Platform::Exact, cut, &headers, &body).await
}

/// `POST /auth/authentication/connect/token`.
pub(crate) async fn twinfield(
    State(state): State<SandboxState>,
    cut: CutSwitch,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&state, Platform::Twinfield, cut, &headers, &body).await
}

async fn token(
    state: &SandboxState,
    platform: Platform,
    cut: CutSwitch,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let fault = {
        let mut store = state.store();
        let fault = store.faults.pop_front();
        if fault.is_some() {
            store.counters.faults_applied += 1;
        }
        fault
    };
    match fault {
        Some(Fault::Http500) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
        }
        Some(Fault::PlainText400) => {
            return (StatusCode::BAD_REQUEST, "Bad Request").into_response();
        }
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        _ => {}
    }
    let answer = grant(state, platform, headers, body);
    match (fault, answer) {
        (Some(Fault::DropAfterRotate), _) => {
            if cut.cut() {
                // Written nowhere: the connection fails before the first byte.
                StatusCode::OK.into_response()
            } else {
                ApiError::CannotCut.into_response()
            }
        }
        (Some(Fault::InvalidJson), Ok(tokens)) => {
            let text = tokens.to_string();
            let half = &text.as_bytes()[..text.len() / 2];
            let mut response = Bytes::copy_from_slice(half).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        (_, Ok(tokens)) => {
            let mut response = Json(tokens).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        (_, Err(error)) => error.into_response(),
    }
}

/// Runs the grant with everything it touches locked once.
fn grant(
    state: &SandboxState,
    platform: Platform,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    let now = state.clock().now();
    let mut store = state.store();
    let form = match parse_form(headers, body) {
        Ok(form) => form,
        Err(error) => {
            store.counters.token_calls_other += 1;
            store.counters.token_errors += 1;
            return Err(error);
        }
    };
    let grant_type = form.get("grant_type").unwrap_or_default();
    match grant_type {
        "authorization_code" => store.counters.token_calls_authorization_code += 1,
        "refresh_token" => store.counters.token_calls_refresh_token += 1,
        _ => store.counters.token_calls_other += 1,
    }
    let result = match platform {
        Platform::Exact => exact_grant(state, &mut store, &form, grant_type, now),
        Platform::Twinfield => twinfield_grant(state, &mut store, headers, &form, grant_type, now),
    };
    if let Err(error) = &result {
        if error.counts_towards_block() {
            store.counters.token_errors += 1;
        } else {
            store.counters.rate_limited += 1;
        }
    }
    result
}

fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<Params, ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(ApiError::NotAForm);
    }
    Params::parse(body).map_err(ApiError::DuplicateParameter)
}

fn required<'a>(form: &'a Params, name: &'static str) -> Result<&'a str, ApiError> {
    form.get(name).ok_or(ApiError::MissingParameter(name))
}

/// Exact: client credentials in the body, then limits, then the grant.
fn exact_grant(
    state: &SandboxState,
    store: &mut Store,
    form: &Params,
    grant_type: &str,
    now: SystemTime,
) -> Result<serde_json::Value, ApiError> {
    let client_id = required(form, "client_id")?;
    let app = state
        .app(client_id)
        .ok_or(ApiError::InvalidClient { basic: false })?;
    let limits = state.limits();
    let usage = store.usage.entry(client_id.to_owned()).or_default();
    usage.check_block(now)?;
    usage.spend_token_call(now, &limits)?;
    let lifetime = Duration::from_secs(app.access_token_seconds);
    let result = (|| {
        let secret = required(form, "client_secret")?;
        if !same_secret(secret, &app.client_secret) {
            return Err(ApiError::InvalidClient { basic: false });
        }
        let scope = match grant_type {
            "authorization_code" => redeem_code(store, Platform::Exact, client_id, form, now)?.0,
            "refresh_token" => {
                let refresh = required(form, "refresh_token")?;
                let grant = store
                    .refresh_tokens
                    .get_mut(&digest(refresh))
                    .filter(|g| g.platform == Platform::Exact && g.client_id == client_id)
                    .ok_or(ApiError::UnknownRefreshToken)?;
                if grant.spent {
                    store.counters.spent_refresh_token_reuses += 1;
                    return Err(ApiError::OldRefreshToken);
                }
                let expires = grant.issued + EXACT_REFRESH_LIFETIME;
                if now >= expires {
                    return Err(ApiError::RefreshExpired { at: expires, now });
                }
                if now < grant.issued + lifetime.saturating_sub(EXACT_REFRESH_WINDOW) {
                    return Err(ApiError::AccessNotExpired);
                }
                grant.spent = true;
                grant.scope.clone()
            }
            "" => return Err(ApiError::MissingParameter("grant_type")),
            other => return Err(ApiError::UnsupportedGrantType(other.to_owned())),
        };
        let (access, refresh) = issue(
            store,
            Platform::Exact,
            client_id,
            scope,
            lifetime,
            true,
            now,
        );
        Ok(json!({
            "access_token": access,
            "token_type": "bearer",
            "expires_in": app.access_token_seconds.to_string(),
            "refresh_token": refresh,
        }))
    })();
    if let Err(error) = &result
        && error.counts_towards_block()
        && let Some(usage) = store.usage.get_mut(client_id)
    {
        usage.record_error(now, &limits);
    }
    result
}

/// What a redeemed code carried: scope and nonce.
type Redeemed = (Option<String>, Option<String>);

/// Spends an authorization code after every check passed.
fn redeem_code(
    store: &mut Store,
    platform: Platform,
    client_id: &str,
    form: &Params,
    now: SystemTime,
) -> Result<Redeemed, ApiError> {
    let code = required(form, "code")?;
    let redirect_uri = required(form, "redirect_uri")?;
    let grant = store
        .codes
        .get_mut(&digest(code))
        .filter(|g| g.request.platform == platform && g.request.client_id == client_id)
        .ok_or(ApiError::UnknownCode)?;
    if grant.used {
        return Err(ApiError::CodeUsed);
    }
    if now >= grant.issued + platform.code_lifetime() {
        return Err(ApiError::CodeExpired);
    }
    if grant.request.redirect_uri != redirect_uri {
        return Err(ApiError::RedirectMismatch);
    }
    if let Some(challenge) = &grant.request.code_challenge {
        let verifier = form.get("code_verifier").unwrap_or_default();
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !well_formed || !same_secret(&tokens::s256_challenge(verifier), challenge) {
            return Err(ApiError::PkceMismatch);
        }
    }
    grant.used = true;
    Ok((grant.request.scope.clone(), grant.request.nonce.clone()))
}

/// Issues an access token (and, when asked, a refresh token).
fn issue(
    store: &mut Store,
    platform: Platform,
    client_id: &str,
    scope: Option<String>,
    lifetime: Duration,
    with_refresh: bool,
    now: SystemTime,
) -> (String, Option<String>) {
    let access = tokens::opaque();
    store.access_tokens.insert(
        digest(&access),
        AccessGrant {
            platform,
            client_id: client_id.to_owned(),
            scope: scope.clone(),
            issued: now,
            expires: now + lifetime,
        },
    );
    store.added(now);
    let refresh = with_refresh.then(|| {
        let refresh = tokens::opaque();
        store.refresh_tokens.insert(
            digest(&refresh),
            RefreshGrant {
                platform,
                client_id: client_id.to_owned(),
                scope,
                issued: now,
                spent: false,
            },
        );
        store.added(now);
        refresh
    });
    (access, refresh)
}

/// Twinfield: HTTP Basic client authentication, reusable refresh tokens, an id_token.
fn twinfield_grant(
    state: &SandboxState,
    store: &mut Store,
    headers: &HeaderMap,
    form: &Params,
    grant_type: &str,
    now: SystemTime,
) -> Result<serde_json::Value, ApiError> {
    let (client_id, secret) =
        basic_credentials(headers).ok_or(if form.get("client_secret").is_some() {
            ApiError::ClientAuthInBody
        } else {
            ApiError::InvalidClient { basic: true }
        })?;
    let app = state
        .app(&client_id)
        .filter(|app| same_secret(&secret, &app.client_secret))
        .ok_or(ApiError::InvalidClient { basic: true })?;
    let lifetime = Duration::from_secs(TWINFIELD_ACCESS_SECONDS);
    match grant_type {
        "authorization_code" => {
            let (scope, nonce) = redeem_code(store, Platform::Twinfield, &client_id, form, now)?;
            let offline = scope
                .as_deref()
                .is_some_and(|s| s.split(' ').any(|s| s == "offline_access"));
            let (access, refresh) = issue(
                store,
                Platform::Twinfield,
                &client_id,
                scope.clone(),
                lifetime,
                offline,
                now,
            );
            let id_token = dummy_id_token(
                &state.twinfield_issuer(),
                &app.client_id,
                nonce.as_deref(),
                now,
            );
            Ok(twinfield_tokens(access, refresh, scope, Some(id_token)))
        }
        "refresh_token" => {
            let refresh = required(form, "refresh_token")?;
            let scope = store
                .refresh_tokens
                .get(&digest(refresh))
                .filter(|g| g.platform == Platform::Twinfield && g.client_id == client_id)
                .ok_or(ApiError::UnknownRefreshToken)?
                .scope
                .clone();
            let (access, _) = issue(
                store,
                Platform::Twinfield,
                &client_id,
                scope.clone(),
                lifetime,
                false,
                now,
            );
            Ok(twinfield_tokens(
                access,
                Some(refresh.to_owned()),
                scope,
                None,
            ))
        }
        "" => Err(ApiError::MissingParameter("grant_type")),
        other => Err(ApiError::UnsupportedGrantType(other.to_owned())),
    }
}

#[derive(Serialize)]
struct TwinfieldTokens {
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    access_token: String,
    expires_in: u64,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

fn twinfield_tokens(
    access: String,
    refresh: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
) -> serde_json::Value {
    let tokens = TwinfieldTokens {
        id_token,
        access_token: access,
        expires_in: TWINFIELD_ACCESS_SECONDS,
        token_type: "Bearer",
        refresh_token: refresh,
        scope,
    };
    // Serializing a struct of strings and numbers cannot fail.
    serde_json::to_value(tokens).unwrap_or_default()
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// An unsigned (`alg: none`) id_token carrying the nonce: enough for clients that check
/// `nonce`, `iss` and `aud`; the sandbox makes no signing claim it cannot keep.
fn dummy_id_token(issuer: &str, client_id: &str, nonce: Option<&str>, now: SystemTime) -> String {
    let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let header = json!({"alg": "none", "typ": "JWT"});
    let mut claims = json!({
        "iss": issuer,
        "aud": client_id,
        "sub": "sandbox-demo-user",
        "iat": iat,
        "nbf": iat,
        "exp": iat + 300,
        "auth_time": iat,
        "idp": "idsrv",
        "amr": ["pwd"],
    });
    if let (Some(nonce), Some(map)) = (nonce, claims.as_object_mut()) {
        map.insert("nonce".to_owned(), nonce.into());
    }
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
