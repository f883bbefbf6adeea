//! [`Signed`]: the extractor of a page that needs a logged-in visitor.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use preauth_core::api_keys::Scope;

use super::page_error::PageError;
use super::session::Visitor;
use crate::audit::audit;
use crate::key_address::check_address;
use crate::state::AppState;

/// A logged-in visitor: pages that need one send everyone else to the login page.
pub(crate) struct Signed(pub(crate) Visitor);

impl FromRequestParts<AppState> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Signed, PageError> {
        let visitor = match state.web.sessions.find(&parts.headers) {
            Some(visitor) if visitor.user.is_some() => visitor,
            _ => return Err(PageError::LoginNeeded),
        };
        // A session opened with an API key lasts only as long as that key (the same key,
        // not a new one of its name) is there with scope admin, and serves only the
        // key's networks.
        if let Some(opened_with) = &visitor.key {
            let key = state
                .keys
                .find(opened_with)
                .map_err(|e| PageError::Internal(e.to_string()))?;
            let Some(key) = key.filter(|k| k.scope.allows(Scope::Admin)) else {
                state.web.sessions.end(&parts.headers);
                audit(
                    visitor.who(),
                    format_args!("was logged out: the API key that opened the session is gone"),
                );
                return Err(PageError::LoginNeeded);
            };
            let client = state.clients.of_request(&parts.extensions, &parts.headers);
            check_address(&key, client, "the pages", &state.web.key_refusals)?;
        }
        Ok(Signed(visitor))
    }
}
