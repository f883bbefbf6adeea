//! Bearer API keys: every `/api/v1` route needs a key whose scope covers it, used from
//! one of the key's networks (when it has any, see [`crate::key_address`]); the token
//! route is rate-limited per key.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use preauth_core::api_keys::Scope;

use crate::audit::Caller;
use crate::error::ApiError;
use crate::key_address::check_address;
use crate::state::AppState;

/// The middleware of a route that needs `scope`: checks the key before the body is read,
/// so that a caller without a valid key learns nothing about the route's input.
pub(crate) async fn require(
    State((state, scope)): State<(AppState, Scope)>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "an API key is needed: send the header Authorization: Bearer <key>",
            )
        })?;
    let key = state.keys.verify(presented)?.ok_or_else(|| {
        ApiError::unauthorized(
            "the API key is not known: it is mistyped, or was dropped by the operator of this server",
        )
    })?;
    let client = state
        .clients
        .of_request(request.extensions(), request.headers());
    check_address(&key, client, "the API", &state.web.key_refusals)?;
    if !key.scope.allows(scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the API key '{}' has scope {}; this route needs scope {scope} or more",
                key.name, key.scope
            ),
        ));
    }
    // Jobs call the token route (the only one a token key may use) in loops.
    if scope == Scope::Token {
        state
            .rate
            .take(&key.name, Instant::now())
            .map_err(|wait| ApiError::rate_limited(&key.name, wait))?;
    }
    request.extensions_mut().insert(Caller(key.name));
    Ok(next.run(request).await)
}
