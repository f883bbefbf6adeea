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
    // No `form-action`: browsers apply it to the redirects a form's answer starts, and
    // the login and consent forms end in a redirect to the app's redirect URI on
    // another origin (a real authorization server's pages allow that too).
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    response
}

/// A page with a heading, an intro naming the app, an optional note, and one form that
/// carries the pending request's id.
struct FormPage<'a> {
    platform: Platform,
    title: &'static str,
    /// The intro around the app's name: (before, after).
    intro: (&'static str, &'static str),
    client_id: &'a str,
    /// Extra HTML before the form (already escaped).
    note: String,
    form_id: &'static str,
    action: &'static str,
    tx: &'a str,
    /// The form's own inputs and buttons (static HTML).
    controls: &'static str,
}

impl FormPage<'_> {
    fn render(self) -> Response {
        let body = format!(
            "<h1>{heading}</h1>\n<p>{before}<b>{client}</b>{after}</p>\n{note}\
<form id=\"{form_id}\" method=\"post\" action=\"{action}\">\n\
<input type=\"hidden\" name=\"tx\" value=\"{tx}\">\n{controls}\n</form>",
            heading = escape(self.platform.title()),
            before = self.intro.0,
            client = escape(self.client_id),
            after = self.intro.1,
            note = self.note,
            form_id = self.form_id,
            action = self.action,
            tx = escape(self.tx),
            controls = self.controls,
        );
        page(StatusCode::OK, self.title, &body)
    }
}

/// The login page: user, password and 2FA code, with the pending request's id hidden.
pub(crate) fn login(
    platform: Platform,
    client_id: &str,
    tx: &str,
    error: Option<&str>,
) -> Response {
    FormPage {
        platform,
        title: "Log in",
        intro: ("Log in to continue to ", "."),
        client_id,
        note: error.map_or(String::new(), |e| {
            format!("<p id=\"error\" role=\"alert\">{}</p>\n", escape(e))
        }),
        form_id: "login",
        action: platform.login_path(),
        tx,
        controls: "<label>User name <input type=\"text\" name=\"user\" autocomplete=\"username\"></label>\n\
<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n\
<label>Verification code <input type=\"text\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>\n\
<button type=\"submit\">Log in</button>",
    }
    .render()
}

/// The consent page: "Allow" or "Deny" access for the app.
pub(crate) fn consent(
    platform: Platform,
    client_id: &str,
    scope: Option<&str>,
    tx: &str,
) -> Response {
    FormPage {
        platform,
        title: "Allow access",
        intro: ("The app ", " wants to access your administrations."),
        client_id,
        note: scope.map_or(String::new(), |s| {
            format!("<p>Requested access: <code>{}</code></p>\n", escape(s))
        }),
        form_id: "consent",
        action: platform.consent_path(),
        tx,
        controls: "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>",
    }
    .render()
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
