//! Resource endpoints: Exact's `/api/v1/current/Me` and Twinfield's `accesstokenvalidation`.

use std::time::UNIX_EPOCH;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api_error::ApiError;
use crate::params::Params;
use crate::platform::Platform;
use crate::state::{AccessGrant, SandboxState, Store};
use crate::tokens::digest;

/// The division every sandbox user is in.
pub(crate) const CURRENT_DIVISION: u64 = 123_456;

/// A live access token of `platform`, if `token` is one.
fn live_access<'a>(
    store: &'a Store,
    platform: Platform,
    token: &str,
    now: std::time::SystemTime,
) -> Option<&'a AccessGrant> {
    store
        .access_tokens
        .get(&digest(token))
        .filter(|a| a.platform == platform && a.expires > now)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `GET /api/v1/current/Me` with `Authorization: Bearer <token>`.
pub(crate) async fn me(State(state): State<SandboxState>, headers: HeaderMap) -> Response {
    let now = state.clock().now();
    let limits = state.limits();
    let mut store = state.store();
    store.counters.me_calls += 1;
    let token = bearer(&headers).unwrap_or_default();
    let Some(client_id) = store
        .access_tokens
        .get(&digest(token))
        .filter(|a| a.platform == Platform::Exact)
        .map(|a| a.client_id.clone())
    else {
        return ApiError::BearerRejected.into_response();
    };
    let live = live_access(&store, Platform::Exact, token, now).is_some();
    let usage = store.usage.entry(client_id).or_default();
    if let Err(blocked) = usage.check_block(now) {
        store.counters.rate_limited += 1;
        return blocked.into_response();
    }
    if !live {
        // An expired token is an error Exact counts towards the block.
        usage.record_error(now, &limits);
        return ApiError::BearerRejected.into_response();
    }
    let (rate_headers, verdict) = usage.spend_api_call(now, &limits);
    if let Err(limited) = verdict {
        store.counters.rate_limited += 1;
        return (rate_headers, limited).into_response();
    }
    let base = state.base_url();
    let body = json!({"d": {"results": [{
        "__metadata": {
            "uri": format!("{base}/api/v1/current/Me(guid'6a2ab7a4-1d58-4e4e-9a4f-0c2f7d6e5b11')"),
            "type": "Exact.Web.Api.System.Me"
        },
        "CurrentDivision": CURRENT_DIVISION,
        "DivisionCustomer": "7b3c1a9e-2f4d-4c61-8e5a-3d2b1c0f9e8d",
        "Email": "demo@example.invalid",
        "FullName": "Demo User",
        "LanguageCode": "en-US",
        "UserID": "6a2ab7a4-1d58-4e4e-9a4f-0c2f7d6e5b11",
        "UserName": "demo"
    }]}});
    (rate_headers, Json(body)).into_response()
}

/// `GET /auth/authentication/connect/accesstokenvalidation?token=<access token>`.
pub(crate) async fn validate(
    State(state): State<SandboxState>,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = state.clock().now();
    let params = Params::parse(query.unwrap_or_default().as_bytes())
        .map_err(ApiError::DuplicateParameter)?;
    let mut store = state.store();
    store.counters.token_validations += 1;
    let token = params
        .get("token")
        .ok_or(ApiError::MissingParameter("token"))?;
    let grant =
        live_access(&store, Platform::Twinfield, token, now).ok_or(ApiError::TokenNotValid)?;
    let secs = |t: std::time::SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let scopes: Vec<&str> = grant
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    Ok(Json(json!({
        "iss": state.twinfield_issuer(),
        "aud": ["twf.organisation", "twf.user", "twf.organisationUser"],
        "exp": secs(grant.expires),
        "nbf": secs(grant.issued),
        "client_id": grant.client_id,
        "scope": scopes,
        "sub": "sandbox-demo-user",
        "auth_time": secs(grant.issued),
        "idp": "idsrv",
        "amr": ["pwd"],
        "twf.organisationId": "0f2b7c1e-5d3a-4b8e-9c6f-1a2b3c4d5e6f",
        "twf.organisationCode": "SANDBOX",
        "twf.organisationUserCode": "DEMO",
        "twf.clusterId": "sandbox",
        "twf.clusterUrl": state.base_url(),
    })))
}

/// `GET /auth/authentication/.well-known/openid-configuration`: the OpenID Connect
/// Discovery document (and RFC 8414 metadata) of the Twinfield side, so that a client's
/// discovery is tested offline. It describes what the sandbox enforces: HTTP Basic
/// client authentication, PKCE S256, `iss` on every return URL (RFC 9207).
pub(crate) async fn discovery(State(state): State<SandboxState>) -> Json<serde_json::Value> {
    let issuer = state.twinfield_issuer();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/connect/authorize"),
        "token_endpoint": format!("{issuer}/connect/token"),
        "scopes_supported": [
            "openid", "twf.user", "twf.organisation", "twf.organisationUser", "offline_access"
        ],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}
