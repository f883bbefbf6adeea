//! How the pages answer: an HTML page, a redirect after a form, work on the store.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use preauth_actions::{ActionError, Context};

use super::page_error::PageError;
use super::session::Visitor;
use crate::work::blocking;

/// Runs `work` (actions, which may wait for the store or the platform) on a blocking
/// thread: it finishes and stores what it got even when the browser goes away. The
/// action's own error is the inner `Err`, for the page to show.
pub(crate) async fn on_store<T: Send + 'static>(
    env: &Arc<Context>,
    work: impl FnOnce(&Context) -> Result<T, ActionError> + Send + 'static,
) -> Result<Result<T, ActionError>, PageError> {
    Ok(blocking(env, move |env| Ok(work(env))).await?)
}

/// `markup` as an HTML response body.
pub(crate) fn maud_html(markup: Markup) -> axum::response::Html<String> {
    axum::response::Html(markup.into_string())
}

/// A page for `visitor` with `status`: sets the session cookie when this request
/// started the session.
pub(crate) fn respond(visitor: &Visitor, status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, maud_html(markup)).into_response();
    set_cookie(&mut response, visitor.set_cookie.as_deref());
    response
}

/// Adds `Set-Cookie: cookie` to `response`, when there is one.
pub(crate) fn set_cookie(response: &mut Response, cookie: Option<&str>) {
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// A `303 See Other` to `to` (after a form was handled).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `/connections/{name}` with `name` percent-encoded.
pub(crate) fn connection_path(name: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/connections/{}", encoded.replace('+', "%20"))
}
