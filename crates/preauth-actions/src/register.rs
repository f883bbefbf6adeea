//! Registering tokens obtained elsewhere (the OEM flow).

use std::time::SystemTime;

use preauth_core::connection::Connection;
use preauth_core::lifecycle::{RegisterRequest, Registration};
use preauth_core::secret::{AccessToken, RefreshToken};
use preauth_core::settings::keys::is_builtin;
use preauth_core::store::StoreError;

use crate::app::{AppSetting, AppSettings};
use crate::{ActionError, Context};

/// Tokens a partner application obtained, to be stored as a new connection.
#[derive(Debug)]
pub struct TokensHandedOver {
    /// The connection to create.
    pub name: String,
    /// The app and platform the tokens were issued to.
    pub app: AppSettings,
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token.
    pub refresh_token: RefreshToken,
    /// When the tokens were obtained (RFC 3339), when known.
    pub obtained_at: Option<String>,
    /// Check the tokens against the platform before storing.
    pub verify: bool,
}

/// Registers tokens obtained elsewhere with every check: a taken name, a refresh token
/// another connection holds, the time given, the lifecycle's validation.
pub async fn register(
    ctx: &Context,
    handed: TokensHandedOver,
) -> Result<Registration, ActionError> {
    // A taken name is refused here with the stored spelling and advice for new tokens
    // (the store refuses it again when the connection is created, against a race).
    let connection = ctx.new_connection(&handed.name, &handed.app)?;
    let taken = match ctx.lifecycle().store().load(&handed.name) {
        Ok(existing) => Some(existing.name),
        Err(StoreError::NotFound { .. }) => None,
        Err(
            StoreError::InvalidConnection { name, .. }
            | StoreError::Protect { name, .. }
            | StoreError::Duplicate { name, .. },
        ) => Some(name),
        Err(other) => return Err(other.into()),
    };
    if let Some(existing) = taken {
        return Err(ActionError::RegisterNameTaken { existing });
    }
    let obtained_at = handed
        .obtained_at
        .as_deref()
        .map(|text| {
            humantime::parse_rfc3339_weak(text).map_err(|source| ActionError::BadTime {
                text: text.to_string(),
                source,
            })
        })
        .transpose()?;
    // Two connections with one refresh token spend it twice: the second refresh finds
    // it used, and on Exact the chain of one of them is dead.
    if let Some(holder) = ctx.holder_of(&handed.refresh_token)? {
        return Err(ActionError::TokenHeld {
            connection: handed.name,
            holder,
        });
    }
    require_app_settings(ctx, &connection)?;
    let registration = ctx
        .lifecycle()
        .register(RegisterRequest {
            connection,
            access_token: handed.access_token,
            refresh_token: handed.refresh_token,
            obtained_at,
            verify: handed.verify,
        })
        .await?;
    if let Some(stored) = registration
        .connection
        .tokens
        .as_ref()
        .and_then(|t| t.refresh_token.as_ref())
    {
        ctx.note_held(&registration.connection.name, stored);
    }
    Ok(registration)
}

/// When the access token of the registered `connection` expired, if it has already
/// (tokens handed over long after they were obtained): front ends say so rather than
/// quote a validity that lies in the past. The first use refreshes it.
pub fn access_token_expired(ctx: &Context, connection: &Connection) -> Option<SystemTime> {
    let expires_at = connection.tokens.as_ref()?.access_token_expires_at;
    (expires_at <= ctx.lifecycle().now()).then_some(expires_at)
}

/// Refuses a connection without an app setting a stored connection needs (a client id,
/// a redirect URL, and on the built-in platforms a client secret), before anything is
/// checked at the platform or stored.
fn require_app_settings(ctx: &Context, connection: &Connection) -> Result<(), ActionError> {
    let secret_needed = is_builtin(&connection.platform);
    let missing = if connection.client_id.is_empty() {
        Some(AppSetting::ClientId)
    } else if connection.redirect_url.is_empty() {
        Some(AppSetting::RedirectUrl)
    } else if secret_needed
        && connection
            .client_secret
            .as_ref()
            .is_none_or(|s| s.secret().is_empty())
    {
        Some(AppSetting::ClientSecret)
    } else {
        None
    };
    match missing {
        Some(setting) => Err(ActionError::MissingAppSetting {
            setting,
            platform: ctx.platform(&connection.platform)?.display_name.clone(),
        }),
        None => Ok(()),
    }
}
