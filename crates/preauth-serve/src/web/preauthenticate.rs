//! The Preauthenticate page, field for field as Invantive's: platform and country,
//! client id, client secret, redirect URI and "deviating redirect URI".
//!
//! - Without a deviating redirect URI the platform returns the browser to this server's
//!   own callback (`/callback`), which exchanges the code and shows the result.
//! - With one, the page shows the Exchange Code form: the user logs in (in a new tab),
//!   lands on the app's own redirect URI and pastes that whole URL.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use preauth_actions::login;
use preauth_core::flow::{Minutes, PENDING_LIFETIME, StartedAuthorization};
use preauth_core::platform::Platform;
use serde::Deserialize;

use super::binding::Verdict;
use super::forms::{AppFields, Errors, Posted, action_shown};
use super::layout::{Field, Section, alert, csrf_field, page, page_then};
use super::page_error::PageResult;
use super::platforms;
use super::respond::{connection_path, maud_html, on_store, respond, see_other, set_cookie};
use super::session::Visitor;
use super::signed::Signed;
use crate::audit::audit;
use crate::client_addr::is_loopback_host;
use crate::error::action_sentence;
use crate::state::AppState;

/// The form's fields (secrets are never sent back into a page).
#[derive(Deserialize)]
pub(crate) struct PreauthForm {
    #[serde(flatten)]
    app: AppFields,
    #[serde(default)]
    redirect_uri: String,
    deviating: Option<String>,
}

/// `GET /preauthenticate`.
pub(crate) async fn form(State(state): State<AppState>, Signed(visitor): Signed) -> Response {
    let values = PreauthForm {
        app: AppFields::new(),
        redirect_uri: state.web.callback(),
        deviating: None,
    };
    form_page(&state, &visitor, &values, &Errors::default())
}

/// `POST /preauthenticate`: checks the form, starts the authorization and sends the
/// browser to the platform (or shows the Exchange Code form).
pub(crate) async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted { visitor, form }: Posted<PreauthForm>,
) -> PageResult {
    let own = state.web.callback();
    let deviating = form.deviating.is_some();
    let redirect = match form.redirect_uri.trim() {
        "" => own.clone(),
        given => given.to_string(),
    };
    let mut errors = Errors::default();
    form.app.check(&mut errors);
    if !deviating && redirect != own {
        errors.set(
            "redirect_uri",
            format!("This is not this server's callback: register {own} as the app's redirect URI, or tick \"Deviating redirect URI\" to paste the return URL yourself."),
        );
    } else if !(redirect.starts_with("https://") || redirect.starts_with("http://"))
        || url::Url::parse(&redirect).is_err()
    {
        errors.set(
            "redirect_uri",
            "Enter the redirect URI registered for the app, starting with https://.",
        );
    }
    if !errors.is_empty() {
        return Ok(form_response(&state, &visitor, &form, &errors));
    }
    let (name, app) = form.app.app(&redirect);
    let started = on_store(&state.env, move |env| {
        let connection = login::new_login(env, &name, &app)?;
        login::start(env, &connection)
    })
    .await?;
    match started {
        Ok(started) => continue_login(&state, &headers, &visitor, &started),
        Err(error) => {
            let errors = Errors::from_action(&error, |_| None);
            Ok(form_response(&state, &visitor, &form, &errors))
        }
    }
}

/// After an authorization started: on to the platform's login page, or (for a
/// deviating redirect URI) the Exchange Code form. A login that comes back to this
/// server's callback is tied to the browser of `headers` (see [`super::binding`]).
pub(crate) fn continue_login(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    started: &StartedAuthorization,
) -> PageResult {
    let url = started.url.as_str();
    let name = &started.pending.connection.name;
    audit(
        visitor.who(),
        format_args!("started a login for connection '{name}' at {}", host(url)),
    );
    let redirect = &started.pending.connection.redirect_url;
    if *redirect == state.web.callback() {
        let body = html! {
            p { "Opening the login page of " (host(url)) " for connection '" (name) "'…" }
            p { a.button href=(url) { "Continue to the login page" } }
        };
        let browser = state
            .web
            .bindings
            .bind(headers, started.pending.state.secret())?;
        let mut response = respond(
            visitor,
            StatusCode::OK,
            page_then("Log in at the platform", Some(visitor), url, body),
        );
        set_cookie(&mut response, browser.as_deref());
        return Ok(response);
    }
    Ok(exchange_page(visitor, StatusCode::OK, url, redirect, None))
}

fn host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// The form of `POST /preauthenticate/exchange`.
#[derive(Deserialize)]
pub(crate) struct ExchangeForm {
    #[serde(default)]
    return_url: String,
    #[serde(default)]
    login_url: String,
    #[serde(default)]
    redirect_uri: String,
}

/// `GET /preauthenticate/exchange`: the Exchange Code form on its own, for a login
/// started in another tab or by a statement.
pub(crate) async fn exchange_form(Signed(visitor): Signed) -> Response {
    exchange_page(&visitor, StatusCode::OK, "", "", None)
}

/// `POST /preauthenticate/exchange`: the pasted Code Return URL.
pub(crate) async fn exchange(
    State(state): State<AppState>,
    Posted { visitor, form }: Posted<ExchangeForm>,
) -> PageResult {
    let pasted = form.return_url.trim().to_string();
    if pasted.is_empty() {
        let error = html! { "Paste the whole URL the browser landed on after the login." };
        return Ok(exchange_page(
            &visitor,
            StatusCode::BAD_REQUEST,
            &form.login_url,
            &form.redirect_uri,
            Some(&error),
        ));
    }
    let runtime = tokio::runtime::Handle::current();
    let finished = on_store(&state.env, move |env| {
        runtime.block_on(login::finish(env, &pasted))
    })
    .await?;
    match finished {
        Ok(connection) => {
            state
                .web
                .sessions
                .flash(&visitor, html! { (stored_message(&connection.name)) });
            audit(
                visitor.who(),
                format_args!(
                    "stored connection '{}' from a pasted return URL",
                    connection.name
                ),
            );
            Ok(see_other(&connection_path(&connection.name)))
        }
        Err(error) => {
            let error = action_shown(&error);
            Ok(exchange_page(
                &visitor,
                StatusCode::BAD_REQUEST,
                &form.login_url,
                &form.redirect_uri,
                Some(&error),
            ))
        }
    }
}

/// `GET /callback`: the platform sent the browser back with a code (or an error).
/// The `state` it carries is what authenticates it: the `SameSite=Strict` cookie does
/// not come along on a navigation from the platform's site.
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> PageResult {
    let query = uri.query().unwrap_or("");
    let returned_state = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "state")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if state.web.bindings.judge(&headers, &returned_state) == Verdict::OtherBrowser {
        state.web.callback_refusals.refused(
            CALLBACK,
            format_args!("refused: a login started from the pages came back in another browser"),
        );
        return Ok(callback_refused(
            &html! { "This login was started in another browser: finish it there, or start a new login here." },
        ));
    }
    let return_url = format!("{}/callback?{query}", state.web.base);
    let runtime = tokio::runtime::Handle::current();
    let finished = on_store(&state.env, move |env| {
        runtime.block_on(login::finish(env, &return_url))
    })
    .await?;
    match finished {
        Ok(connection) => {
            audit(
                CALLBACK,
                format_args!("stored connection '{}'", connection.name),
            );
            let next = connection_path(&connection.name);
            let body = html! {
                p.notice role="status" { (stored_message(&connection.name)) }
                p { a.button href=(next) { "Show the result" } }
            };
            Ok(respond_anonymous(
                StatusCode::OK,
                page_then("Logged in", None, &next, body),
            ))
        }
        Err(error) => {
            let sentence = action_sentence(&error);
            state
                .web
                .callback_refusals
                .refused(CALLBACK, format_args!("refused: {sentence}"));
            Ok(callback_refused(&action_shown(&error)))
        }
    }
}

/// Who a return to `/callback` is, as the log names it.
const CALLBACK: &str = "the platform's return to /callback";

/// The page of a return to `/callback` that did not complete, saying why.
fn callback_refused(why: &Markup) -> Response {
    let body = html! {
        p.alert role="alert" { (why) }
        p { a href="/preauthenticate" { "Start a new login" } }
    };
    respond_anonymous(
        StatusCode::BAD_REQUEST,
        page(
            "The login did not complete",
            Section::Preauthenticate,
            None,
            body,
        ),
    )
}

fn respond_anonymous(status: StatusCode, markup: Markup) -> Response {
    use axum::response::IntoResponse;
    (status, maud_html(markup)).into_response()
}

fn stored_message(name: &str) -> String {
    format!("Connection '{name}' is stored, encrypted.")
}

/// Whether `url` is an address a link may point to: https, or http on this machine (the
/// sandbox). Anything else (`javascript:`, `data:`) is not.
fn is_web_address(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| match u.scheme() {
        "https" => u.host().is_some(),
        "http" => u.host_str().is_some_and(is_loopback_host),
        _ => false,
    })
}

/// How soon a login must be exchanged, for a page that does not know the platform: the
/// code lifetime of the built-in platform that states one, and the pending login's.
fn finish_soon() -> String {
    let exact = Platform::exact_online();
    let code = exact
        .code_lifetime
        .map(|lifetime| format!(" ({} on {})", Minutes(lifetime), exact.display_name))
        .unwrap_or_default();
    format!(
        "a code lives only minutes after the app is approved{code}, and a started login waits {}",
        Minutes(PENDING_LIFETIME)
    )
}

/// The Exchange Code form of a login at `login_url` that returns to `redirect`.
fn exchange_page(
    visitor: &Visitor,
    status: StatusCode,
    login_url: &str,
    redirect: &str,
    error: Option<&Markup>,
) -> Response {
    // The login URL comes back in a posted form: only a web address becomes a link.
    let login_url = if is_web_address(login_url) {
        login_url
    } else {
        ""
    };
    let field = Field {
        name: "return_url",
        label: "Code return URL",
        help: "The whole address the browser shows after the login, starting with the redirect URI and holding code= and state=.",
        error,
    };
    let body = html! {
        ol {
            @if !login_url.is_empty() {
                li { a href=(login_url) target="_blank" rel="noopener noreferrer" { "Open the login page" } " (in a new tab) and log in, with two-factor authentication where asked." }
            }
            @if redirect.is_empty() {
                li { "After a login this server started (here, or with " code { "preauthenticate" } " against this store), the browser lands on the app's redirect URI with ?code=…. That page need not load." }
            } @else {
                li { "The browser then lands on " code { (redirect) } "?code=…. That page need not load." }
            }
            li { "Copy the whole address from the address bar, paste it below and exchange it at once: " (finish_soon()) "." }
        }
        form.card method="post" action="/preauthenticate/exchange" {
            (csrf_field(visitor))
            input type="hidden" name="login_url" value=(login_url);
            input type="hidden" name="redirect_uri" value=(redirect);
            (field.wrap(html! {
                textarea id=(field.name) name=(field.name) required spellcheck="false"
                    aria-invalid=[field.error.map(|_| "true")]
                    aria-describedby=(field.described_by()) {}
            }))
            button type="submit" { "Exchange code" }
        }
    };
    respond(
        visitor,
        status,
        page(
            "Exchange code",
            Section::Preauthenticate,
            Some(visitor),
            body,
        ),
    )
}

fn form_response(
    state: &AppState,
    visitor: &Visitor,
    form: &PreauthForm,
    errors: &Errors,
) -> Response {
    let mut response = form_page(state, visitor, form, errors);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn form_page(
    state: &AppState,
    visitor: &Visitor,
    values: &PreauthForm,
    errors: &Errors,
) -> Response {
    let own = state.web.callback();
    let secret_help = if errors.is_empty() {
        "The app's client secret, from the app's registration."
    } else {
        "The app's client secret; enter it again (it is never sent back into a page)."
    };
    let redirect_help = format!(
        "The redirect URI registered for the app. Register {own} to return here; otherwise enter the app's own and tick the box below."
    );
    let body = html! {
        (alert(errors.of("")))
        form.card method="post" action="/preauthenticate" novalidate {
            (csrf_field(visitor))
            (errors.field("name", "Connection name", "The name jobs use for this connection, as in settings-<NAME>.xml.").input("text", &values.app.name, true))
            (platforms::select(&errors.field("platform", "Platform", "The platform and, for Exact Online, the country the administration is in."), state.env.registry(), &values.app.platform))
            (errors.field("client_id", "Client ID", "The app's client id, from the app's registration (Exact App Center, Twinfield developer portal).").input("text", &values.app.client_id, true))
            (errors.field("client_secret", "Client secret", secret_help).input("password", "", false))
            (Field { name: "redirect_uri", label: "Redirect URI", help: &redirect_help, error: errors.of("redirect_uri") }.input("url", &values.redirect_uri, true))
            (errors.field("deviating", "Deviating redirect URI", "The app returns to a URI of its own: show the Exchange Code form to paste the return URL.").checkbox(values.deviating.is_some()))
            (errors.field("api_url", "API URL (optional)", "Only for another host than the platform's for the country, such as a sandbox: its base URL.").input("url", &values.app.api_url, false))
            button type="submit" { "Preauthenticate" }
        }
    };
    respond(
        visitor,
        StatusCode::OK,
        page(
            "Preauthenticate",
            Section::Preauthenticate,
            Some(visitor),
            body,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_addresses_become_links() {
        assert!(is_web_address(
            "https://start.exactonline.nl/api/oauth2/auth?x=1"
        ));
        assert!(is_web_address("http://127.0.0.1:8080/auth"));
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "http://evil.example/auth",
            "//evil.example",
            "",
        ] {
            assert!(!is_web_address(bad), "{bad}");
        }
    }
}
