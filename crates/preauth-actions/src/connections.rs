//! Changing stored connections: their app settings, dropping them, importing settings
//! files.

use std::path::Path;

use preauth_core::lifecycle::REFRESH_FAILED_KEY;
use preauth_core::secret::ClientSecret;

use crate::{ActionError, Context};

/// New app settings for a stored connection (a rotated client secret, a corrected
/// redirect URL); `None` leaves a setting as it is.
#[derive(Debug, Default)]
pub struct AppChanges {
    /// A new client id.
    pub client_id: Option<String>,
    /// A new client secret; an empty one removes it.
    pub client_secret: Option<ClientSecret>,
    /// A new redirect URL.
    pub redirect_url: Option<String>,
    /// A new base URL (checked as every route checks it).
    pub api_url: Option<String>,
}

/// What [`alter`] changed.
#[derive(Debug)]
pub struct Altered {
    /// The connection, as stored.
    pub name: String,
    /// The settings changed, as people call them ("client secret").
    pub changed: Vec<&'static str>,
    /// Its last refresh failed: once the cause is fixed, a forced refresh tries again.
    pub last_refresh_failed: bool,
}

/// Changes the stored app settings of connection `name` under its lock; the tokens are
/// kept.
pub fn alter(ctx: &Context, name: &str, changes: AppChanges) -> Result<Altered, ActionError> {
    let mut changed: Vec<&'static str> = Vec::new();
    let mut locked = ctx.lifecycle().store().lock(name)?;
    let mut connection = locked.load()?;
    if let Some(id) = changes.client_id {
        connection.client_id = id;
        changed.push("client id");
    }
    if let Some(secret) = changes.client_secret {
        connection.client_secret = Some(secret).filter(|s| !s.secret().is_empty());
        changed.push("client secret");
    }
    if let Some(url) = changes.redirect_url {
        connection.redirect_url = url;
        changed.push("redirect url");
    }
    if let Some(url) = changes.api_url {
        connection.api_url = ctx.platform(&connection.platform)?.check_api_url(&url)?;
        changed.push("api url");
    }
    locked.save(&connection)?;
    drop(locked);
    let last_refresh_failed = connection
        .extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(REFRESH_FAILED_KEY));
    Ok(Altered {
        name: connection.name,
        changed,
        last_refresh_failed,
    })
}

/// Drops connection `name`: whether there was one. A dropped connection is told to the
/// webhooks that want `connection_dropped` (best effort: the drop stands either way).
pub fn drop_connection(ctx: &Context, name: &str) -> Result<bool, ActionError> {
    let platform = ctx
        .store()
        .load(name)
        .map(|c| c.platform)
        .unwrap_or_default();
    let dropped = ctx.lifecycle().store().drop_connection(name)?;
    if dropped {
        crate::webhooks::tell_dropped(ctx, name, &platform);
    }
    Ok(dropped)
}

/// Imports the settings file at `path` into the store: the names of the connections it
/// held.
pub fn import(ctx: &Context, path: &Path) -> Result<Vec<String>, ActionError> {
    Ok(ctx.store().import_settings(path)?)
}

/// The warning after an export or import: the single-use refresh token of `what` now
/// exists in two places, and one refresh spends it for both.
pub fn two_copies(what: &str) -> String {
    format!(
        "the refresh token of {what} now exists in two places, and it works once: keep one copy in use and drop the other, or the first refresh of one spends the token the other holds and breaks it"
    )
}
