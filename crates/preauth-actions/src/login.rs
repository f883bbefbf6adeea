//! Logging in for a connection: a new one, or again for a stored one with the app it
//! stores; the browser step between start and finish is the front end's.

use preauth_core::connection::{Connection, fold_name};
use preauth_core::error::{REGISTERED_KEY, is_registered};
use preauth_core::flow::StartedAuthorization;
use preauth_core::store::StoreError;

use crate::app::AppSettings;
use crate::{ActionError, Context};

/// The connection a new login for `name` with `app` creates, checked before anyone logs
/// in: a valid name that is not taken, a known platform and country, a usable base URL.
pub fn new_login(ctx: &Context, name: &str, app: &AppSettings) -> Result<Connection, ActionError> {
    let connection = ctx.new_connection(name, app)?;
    refuse_existing(ctx, &connection.name)?;
    Ok(connection)
}

/// Stored connection `name` without its tokens, for a new login with the app it stores.
/// Stored extras (a recorded failure, a cluster URL) stay in the store: the login merges
/// into it and clears what applied to the old tokens.
///
/// A connection whose first login never finished (no browser came back, or it expired)
/// is not stored; its app settings as typed are taken from that login while the store
/// keeps it (see [`preauth_core::store::Store::unfinished_login`]), so that nothing,
/// the client secret included, has to be typed again.
pub fn login_again(ctx: &Context, name: &str) -> Result<Connection, ActionError> {
    let store = ctx.lifecycle().store();
    let mut connection = match store.load(name) {
        Ok(connection) => connection,
        Err(StoreError::NotFound { name: asked }) => {
            match store.unfinished_login(name, ctx.lifecycle().now())? {
                Some(started) => started,
                None => return Err(StoreError::NotFound { name: asked }.into()),
            }
        }
        Err(other) => return Err(other.into()),
    };
    connection.tokens = None;
    connection.extra.clear();
    Ok(connection)
}

/// Starts the authorization of `connection` (from [`new_login`] or [`login_again`]): the
/// URL to open, and the pending login kept in the store until its return.
pub fn start(ctx: &Context, connection: &Connection) -> Result<StartedAuthorization, ActionError> {
    Ok(ctx.lifecycle().start_authorization(connection)?)
}

/// Finishes a login from its return URL: exchanges the code, stores the connection and
/// marks it as logged in here.
pub async fn finish(ctx: &Context, return_url: &str) -> Result<Connection, ActionError> {
    let connection = ctx.lifecycle().finish_authorization(return_url).await?;
    logged_in_here(ctx, connection)
}

/// After a login here, new tokens no longer come from a partner application: removes
/// the mark of a registered connection (see [`REGISTERED_KEY`]), so that advice for dead
/// tokens names a login again.
fn logged_in_here(ctx: &Context, connection: Connection) -> Result<Connection, ActionError> {
    // The login's answer was merged into the stored connection, which keeps its extra
    // keys: the mark is in the store, not in `connection`.
    let mut locked = ctx.lifecycle().store().lock(&connection.name)?;
    let mut stored = locked.load()?;
    if !is_registered(&stored) {
        return Ok(connection);
    }
    stored
        .extra
        .retain(|(k, _)| !k.eq_ignore_ascii_case(REGISTERED_KEY));
    locked.save(&stored)?;
    Ok(stored)
}

/// Refuses a name that is taken before anyone logs in for it.
fn refuse_existing(ctx: &Context, name: &str) -> Result<(), ActionError> {
    let taken = ctx.lifecycle().store().names()?;
    match taken.iter().find(|n| fold_name(n) == fold_name(name)) {
        Some(existing) => Err(ActionError::NameTaken {
            existing: existing.clone(),
        }),
        None => Ok(()),
    }
}
