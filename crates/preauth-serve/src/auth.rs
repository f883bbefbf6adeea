//! Bearer API keys: every `/api/v1` route needs a key whose scope covers it, used from
//! one of the key's networks (when it has any); the token route is rate-limited per key.

use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use preauth_core::api_keys::{ApiKeyInfo, Scope};
use preauth_core::error::Quoted;
use preauth_core::network::Network;

use crate::audit::{Caller, Throttle};
use crate::error::ApiError;
use crate::routes::AppState;

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
            "the API key is not known: it is mistyped, or was dropped with `drop api key`",
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

/// A key used from an address outside its networks (or from one that cannot be known).
#[derive(Debug)]
pub(crate) struct AddressRefused {
    key: ApiKeyInfo,
    client: Option<IpAddr>,
}

/// Lets `key` be used by `client` (for `what`: "the API", "the pages") when the key's
/// networks allow it; else one audit line naming the key and the address (never the
/// key itself), and the refusal.
pub(crate) fn check_address(
    key: &ApiKeyInfo,
    client: Option<IpAddr>,
    what: &str,
    refusals: &Throttle,
) -> Result<(), AddressRefused> {
    if key.allows_address(client) {
        return Ok(());
    }
    let refused = AddressRefused {
        key: key.clone(),
        client,
    };
    refusals.refused(
        &format!("API key '{}'", key.name),
        format_args!(
            "was refused {what} from {}: its networks are {}",
            refused.from(),
            key.networks_text()
        ),
    );
    Err(refused)
}

impl AddressRefused {
    /// The client's address, or what stands for one that is not known.
    fn from(&self) -> String {
        match self.client {
            Some(addr) => addr.to_string(),
            None => "an address the server cannot tell".to_string(),
        }
    }
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        write!(
            f,
            "the API key '{}' is not allowed from {}; its networks are {}; ",
            key.name,
            self.from(),
            key.networks_text()
        )?;
        let Some(client) = self.client else {
            return f.write_str(
                "a reverse proxy in front must be named with --trusted-proxy and write the client's address in X-Forwarded-For",
            );
        };
        // The statement that makes the key again with this address among its networks.
        let networks: Vec<String> = key
            .networks
            .iter()
            .map(Network::to_string)
            .chain([client.to_string()])
            .map(|n| Quoted(&n).to_string())
            .collect();
        write!(
            f,
            "ask the operator to add this network with `drop api key {name}` and `create api key {name} scope {} from {}` (which makes a new key)",
            key.scope,
            networks.join(", "),
            name = Quoted(&key.name),
        )
    }
}

impl From<AddressRefused> for ApiError {
    fn from(refused: AddressRefused) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "address_not_allowed",
            refused.to_string(),
        )
    }
}
