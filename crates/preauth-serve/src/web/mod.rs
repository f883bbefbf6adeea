//! The web pages of `preauth serve`: server-rendered HTML that needs no JavaScript and
//! loads nothing from elsewhere.
//!
//! - [`login`]: the one-time login URL printed at start, or an admin API key.
//! - [`preauthenticate`]: the Preauthenticate form, the platform's login, the server's
//!   own callback or the Exchange Code form for a deviating redirect URI.
//! - [`connections`]: the connections with their check, a connection's result page
//!   (settings file, `encrypt connection` statement), log in again, drop.
//! - [`register`]: the OEM form that registers tokens obtained elsewhere.
//!
//! Every form carries the session's CSRF token; every response carries a strict
//! Content-Security-Policy (see [`security_headers`]).

mod app_settings;
mod binding;
mod connections;
mod forms;
mod layout;
mod login;
mod platforms;
mod preauthenticate;
mod register;
pub(crate) mod session;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use preauth_actions::{ActionError, Context};
use std::sync::Arc;

pub(crate) use crate::audit::audit;
use crate::routes::{AppState, blocking};
use layout::Section;
use session::{Sessions, Visitor};

/// What the pages share: the sessions and the URL browsers reach this server at.
pub(crate) struct Web {
    /// The sessions and the one-time login token.
    pub(crate) sessions: Sessions,
    /// The URL browsers use, without a trailing slash (`http://127.0.0.1:8440`).
    pub(crate) base: String,
    /// The logins the pages started, and the browsers that started them.
    pub(crate) bindings: binding::Bindings,
    /// Refused returns to `/callback`, logged without flooding the log.
    pub(crate) callback_refusals: crate::audit::Throttle,
    /// Refused logins and key uses from outside a key's networks, likewise.
    pub(crate) key_refusals: crate::audit::Throttle,
}

impl Web {
    /// The pages of a server that browsers reach at `base`; also returns the one-time
    /// login URL to print, when `login_link`.
    pub(crate) fn new(base: &str, login_link: bool) -> Result<(Web, Option<String>), PageError> {
        let base = base.trim_end_matches('/').to_string();
        let (sessions, token) = Sessions::new(base.starts_with("https://"), login_link)?;
        let login = token.map(|token| format!("{base}/login?token={token}"));
        let web = Web {
            sessions,
            bindings: binding::Bindings::new(base.starts_with("https://")),
            callback_refusals: crate::audit::Throttle::new("returns to /callback refused"),
            key_refusals: crate::audit::Throttle::new("API keys refused"),
            base,
        };
        Ok((web, login))
    }

    /// The redirect URI of this server's own callback.
    pub(crate) fn callback(&self) -> String {
        format!("{}/callback", self.base)
    }
}

/// The routes of the pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/connections") }))
        .route("/login", get(login::show).post(login::with_key))
        .route("/logout", post(login::log_out))
        .route("/connections", get(connections::list))
        .route("/connections/{name}", get(connections::result))
        .route("/connections/{name}/secrets", post(connections::secrets))
        .route("/connections/{name}/login", post(connections::log_in_again))
        .route(
            "/connections/{name}/app",
            get(app_settings::form).post(app_settings::change),
        )
        .route("/connections/{name}/refresh", post(app_settings::refresh))
        .route(
            "/connections/{name}/drop",
            get(connections::confirm_drop).post(connections::drop_connection),
        )
        .route(
            "/preauthenticate",
            get(preauthenticate::form).post(preauthenticate::start),
        )
        .route(
            "/preauthenticate/exchange",
            get(preauthenticate::exchange_form).post(preauthenticate::exchange),
        )
        .route("/callback", get(preauthenticate::callback))
        .route("/register", get(register::form).post(register::submit))
}

/// Adds the headers every response carries: the Content-Security-Policy, no sniffing,
/// no framing, no referrer (a URL never travels to another site), and no caching (pages
/// may show secrets when asked).
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let policy = HeaderValue::from_str(&layout::CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A page, or why it could not be shown.
pub(crate) type PageResult = Result<Response, PageError>;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// The page needs a login.
    #[error("log in first")]
    LoginNeeded,
    /// A form without this session's CSRF token.
    #[error(
        "this form has expired or was not sent from this site's own page: go back, reload the page and send it again"
    )]
    Csrf,
    /// Too many sessions at once.
    #[error("too many sessions at once; try again in a few minutes")]
    Busy,
    /// The API key of the login or of the session may not be used from here.
    #[error("{0}")]
    AddressNotAllowed(String),
    /// What was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A request the page cannot take (a form that does not parse).
    #[error("{0}")]
    BadRequest(String),
    /// The server failed.
    #[error("{0}")]
    Internal(String),
}

impl From<crate::auth::AddressRefused> for PageError {
    fn from(refused: crate::auth::AddressRefused) -> PageError {
        PageError::AddressNotAllowed(refused.to_string())
    }
}

impl From<crate::error::ApiError> for PageError {
    fn from(error: crate::error::ApiError) -> PageError {
        match error.status {
            StatusCode::NOT_FOUND => PageError::NotFound(error.message),
            s if s.is_client_error() => PageError::BadRequest(error.message),
            _ => PageError::Internal(error.message),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match &self {
            PageError::LoginNeeded => return Redirect::to("/login").into_response(),
            PageError::Csrf | PageError::AddressNotAllowed(_) => StatusCode::FORBIDDEN,
            PageError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Internal(message) => {
                crate::error::log_failure(StatusCode::INTERNAL_SERVER_ERROR, message);
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let body = html! {
            p.alert role="alert" { (self.to_string()) }
            p { a href="/connections" { "Back to the connections" } }
        };
        let title = status.canonical_reason().unwrap_or("Error");
        (
            status,
            maud_html(layout::page(title, Section::Connections, None, body)),
        )
            .into_response()
    }
}

/// Runs `work` (actions, which may wait for the store or the platform) on a blocking
/// thread: it finishes and stores what it got even when the browser goes away. The
/// action's own error is the inner `Err`, for the page to show.
async fn on_store<T: Send + 'static>(
    env: &Arc<Context>,
    work: impl FnOnce(&Context) -> Result<T, ActionError> + Send + 'static,
) -> Result<Result<T, ActionError>, PageError> {
    Ok(blocking(env, move |env| Ok(work(env))).await?)
}

/// `markup` as an HTML response body.
fn maud_html(markup: Markup) -> axum::response::Html<String> {
    axum::response::Html(markup.into_string())
}

/// A page for `visitor` with `status`: sets the session cookie when this request
/// started the session.
fn respond(visitor: &Visitor, status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, maud_html(markup)).into_response();
    set_cookie(&mut response, visitor.set_cookie.as_deref());
    response
}

/// Adds `Set-Cookie: cookie` to `response`, when there is one.
fn set_cookie(response: &mut Response, cookie: Option<&str>) {
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// A `303 See Other` to `to` (after a form was handled).
fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `/connections/{name}` with `name` percent-encoded.
fn connection_path(name: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/connections/{}", encoded.replace('+', "%20"))
}
