//! The HTML a person sees: login, consent and error pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::platform::Platform;

/// Why an authorization request ends on an error page instead of a redirect: the
/// redirect URI cannot be trusted (RFC 6749 §4.1.2.1), or the page flow broke.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// A parameter needed before a redirect is possible is absent.
    #[error("The request is missing the '{0}' parameter.")]
    MissingParameter(&'static str),
    /// A parameter appears more than once.
    #[error("The '{0}' parameter appears more than once.")]
    DuplicateParameter(String),
    /// No app is registered with this client id.
    #[error("The client_id is not valid: no app is registered with it.")]
    UnknownClient,
    /// The redirect URI is not registered for the app.
    #[error("The redirect_uri is not registered for this app; register it in the App Center.")]
    RedirectNotRegistered,
    /// The login or consent form refers to an unknown or expired request.
    #[error("This login page has expired; start again from the application.")]
    PendingExpired,
    /// The consent form was posted before logging in.
    #[error("Log in before allowing access; start again from the application.")]
    NotLoggedIn,
    /// The consent form carried neither "allow" nor "deny".
    #[error("Choose Allow or Deny.")]
    NoDecision,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!(
            "<h1>Something went wrong</h1>\n<p id=\"message\">{}</p>",
            escape(&self.to_string())
        );
        page(StatusCode::BAD_REQUEST, "Error", &body)
    }
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{body}\n</body></html>\n",
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'"),
    );
    response
}

/// The login page: user, password and 2FA code, with the pending request's id hidden.
pub(crate) fn login(
    platform: Platform,
    client_id: &str,
    tx: &str,
    error: Option<&str>,
) -> Response {
    let error = error.map_or(String::new(), |e| {
        format!("<p id=\"error\" role=\"alert\">{}</p>\n", escape(e))
    });
    let body = format!(
        "<h1>{title}</h1>\n<p>Log in to continue to <b>{client}</b>.</p>\n{error}\
<form id=\"login\" method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"tx\" value=\"{tx}\">\n\
<label>User name <input type=\"text\" name=\"user\" autocomplete=\"username\"></label>\n\
<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n\
<label>Verification code <input type=\"text\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>\n\
<button type=\"submit\">Log in</button>\n</form>",
        title = escape(platform.title()),
        client = escape(client_id),
        action = platform.login_path(),
        tx = escape(tx),
    );
    page(StatusCode::OK, "Log in", &body)
}

/// The consent page: "Allow" or "Deny" access for the app.
pub(crate) fn consent(
    platform: Platform,
    client_id: &str,
    scope: Option<&str>,
    tx: &str,
) -> Response {
    let scope = scope.map_or(String::new(), |s| {
        format!("<p>Requested access: <code>{}</code></p>\n", escape(s))
    });
    let body = format!(
        "<h1>{title}</h1>\n<p>The app <b>{client}</b> wants to access your administrations.</p>\n{scope}\
<form id=\"consent\" method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"tx\" value=\"{tx}\">\n\
<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>",
        title = escape(platform.title()),
        client = escape(client_id),
        action = platform.consent_path(),
        tx = escape(tx),
    );
    page(StatusCode::OK, "Allow access", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
