//! The login page: the one-time login URL printed at start (`/login?token=…`), or an
//! API key of scope admin; and logging out.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use preauth_core::api_keys::{KeyFingerprint, Scope};
use serde::Deserialize;

use super::forms::{Button, Posted};
use super::layout::{Field, Section, alert, csrf_field, page};
use super::page_error::PageError;
use super::respond::{respond, see_other, set_cookie};
use super::session::Visitor;
use crate::audit::audit;
use crate::key_address::check_address;
use crate::state::AppState;

/// The query of `GET /login`.
#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    token: Option<String>,
}

/// `GET /login`: spends a login token from the URL printed at start, else shows the
/// form for an admin API key.
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let sessions = &state.web.sessions;
    if let Some(token) = query.token {
        if let Some(visitor) = sessions.log_in_with_token(&headers, &token)? {
            return Ok(signed_in(&visitor));
        }
        let visitor = sessions.visitor(&headers)?;
        let why = "This login link was used already or is older than an hour. Log in with an API key of scope admin (the operator of this server makes one), or restart preauth serve for a new link.";
        return Ok(login_page(
            &visitor,
            StatusCode::UNAUTHORIZED,
            Some(why),
            None,
        ));
    }
    let visitor = sessions.visitor(&headers)?;
    if visitor.user.is_some() {
        return Ok(see_other("/connections"));
    }
    Ok(login_page(&visitor, StatusCode::OK, None, None))
}

/// The form of `POST /login`.
#[derive(Deserialize)]
pub(crate) struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    api_key: String,
}

/// `POST /login`: logs in with an API key of scope admin. The one form not sent through
/// [`Posted`]: its visitor has not logged in yet, so its session is an anonymous one.
pub(crate) async fn with_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<KeyForm>,
) -> Result<Response, PageError> {
    let sessions = &state.web.sessions;
    let visitor = sessions.visitor(&headers)?;
    visitor.check_csrf(&form.csrf)?;
    let presented = form.api_key.trim();
    let key = state
        .keys
        .verify(presented)
        .map_err(|e| PageError::Internal(e.to_string()))?;
    match &key {
        Some(key) if !key.scope.allows(Scope::Admin) => state.web.key_refusals.refused(
            visitor.who(),
            format_args!(
                "was refused the pages with API key '{}' (scope {})",
                key.name, key.scope
            ),
        ),
        None if !presented.is_empty() => state.web.key_refusals.refused(
            visitor.who(),
            format_args!("was refused the pages with an API key that is not known"),
        ),
        _ => {}
    }
    let error = match key {
        Some(key) if key.scope.allows(Scope::Admin) => {
            // A key limited to networks opens the pages only from them.
            let client = state.clients.of_request(&extensions, &headers);
            check_address(&key, client, "the pages", &state.web.key_refusals)?;
            let user = format!("API key '{}'", key.name);
            let visitor = sessions.log_in(&headers, user, Some(KeyFingerprint::of(presented)))?;
            return Ok(signed_in(&visitor));
        }
        Some(key) => format!(
            "The API key '{}' has scope {}; the pages need an API key of scope admin.",
            key.name, key.scope
        ),
        None if presented.is_empty() => "Enter an API key of scope admin.".to_string(),
        None => "This API key is not known: it is mistyped, or was dropped by the operator of this server."
            .to_string(),
    };
    Ok(login_page(
        &visitor,
        StatusCode::UNAUTHORIZED,
        None,
        Some(&error),
    ))
}

/// `POST /logout`: ends the session.
pub(crate) async fn log_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted<Button>,
) -> Result<Response, PageError> {
    let sessions = &state.web.sessions;
    audit(posted.visitor.who(), format_args!("logged out"));
    sessions.end(&headers);
    let mut response = see_other("/login");
    set_cookie(&mut response, Some(&sessions.expired_cookie()));
    Ok(response)
}

/// After a login: the session cookie and on to the connections.
fn signed_in(visitor: &Visitor) -> Response {
    audit(visitor.who(), format_args!("logged in to the pages"));
    let mut response = see_other("/connections");
    set_cookie(&mut response, visitor.set_cookie.as_deref());
    response
}

fn login_page(
    visitor: &Visitor,
    status: StatusCode,
    error: Option<&str>,
    key_error: Option<&str>,
) -> Response {
    let (error, key_error) = (
        error.map(|e| html! { (e) }),
        key_error.map(|e| html! { (e) }),
    );
    let key = Field {
        name: "api_key",
        label: "API key",
        help: "An API key of scope admin, which the operator of this server makes. Or open the login URL preauth serve printed when it started.",
        error: key_error.as_ref(),
    };
    let body = html! {
        (alert(error.as_ref()))
        form.card method="post" action="/login" {
            (csrf_field(visitor))
            (key.input("password", "", true))
            button type="submit" { "Log in" }
        }
    };
    respond(
        visitor,
        status,
        page("Log in", Section::Login, Some(visitor), body),
    )
}
