//! Access tokens for jobs, and refreshing a connection.

use preauth_core::error::LifecycleError;
use preauth_core::lifecycle::{AccessGrant, Lifecycle};

use crate::context::Context;
use crate::error::ActionError;

/// A usable access token for connection `name`, through the lifecycle's single entry
/// point (lock, re-read, refresh only when needed, persist). An error carries the advice
/// for the connection as stored (see [`for_connection`]).
pub async fn access_token(ctx: &Context, name: &str) -> Result<AccessGrant, ActionError> {
    let lifecycle = ctx.lifecycle();
    lifecycle
        .ensure_access_token(name)
        .await
        .map_err(|e| for_connection(lifecycle, name, e).into())
}

/// One refresh of connection `name` now; `force` also after a recorded failure (its
/// cause fixed). A platform that refuses early refreshes is sent none before it allows
/// one. An error carries the advice for the connection as stored.
pub async fn refresh(ctx: &Context, name: &str, force: bool) -> Result<AccessGrant, ActionError> {
    let lifecycle = ctx.lifecycle();
    lifecycle
        .refresh(name, force)
        .await
        .map_err(|e| for_connection(lifecycle, name, e).into())
}

/// A refresh error of connection `name` with the advice for it as stored: a connection
/// registered from a partner application's tokens is repaired by new tokens from there
/// (see [`LifecycleError::for_connection`]). Reads the connection only for errors that
/// need new tokens.
pub fn for_connection(lifecycle: &Lifecycle, name: &str, error: LifecycleError) -> LifecycleError {
    if !error.needs_new_login() && !matches!(error, LifecycleError::RefreshBlocked { .. }) {
        return error;
    }
    match lifecycle.store().load(name) {
        Ok(connection) => error.for_connection(&connection),
        Err(_) => error,
    }
}

/// The one JSON shape of an access token handed to a job (`preauth token --format json`,
/// the API's token route): the token, its expiry, the connection and the platform; never
/// the refresh token or the client secret.
pub fn access_token_json(grant: &AccessGrant) -> serde_json::Value {
    serde_json::json!({
        "access_token": grant.token.secret(),
        "expires_at": humantime::format_rfc3339_seconds(grant.expires_at).to_string(),
        "connection": grant.connection.name,
        "platform": grant.platform.id,
    })
}
