//! Access tokens for jobs.

use preauth_core::lifecycle::AccessGrant;

use crate::{ActionError, Context};

/// A usable access token for connection `name`, through the lifecycle's single entry
/// point (lock, re-read, refresh only when needed, persist).
pub async fn access_token(ctx: &Context, name: &str) -> Result<AccessGrant, ActionError> {
    Ok(ctx.lifecycle().ensure_access_token(name).await?)
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
