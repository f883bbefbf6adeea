//! The Register tokens page (the OEM form): tokens a partner application obtained are
//! registered as a connection with every check of `register connection`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use preauth_actions::register::{TokensHandedOver, access_token_expired, register};
use preauth_actions::{ActionError, AppSetting};
use preauth_core::error::When;
use preauth_core::secret::{AccessToken, RefreshToken};
use serde::Deserialize;

use super::forms::{AppFields, Errors, Posted};
use super::layout::{Field, Section, alert, csrf_field, page};
use super::page_error::PageResult;
use super::platforms;
use super::respond::{connection_path, on_store, respond, see_other};
use super::session::Visitor;
use super::signed::Signed;
use crate::audit::audit;
use crate::state::AppState;

/// The form's fields (secrets are never sent back into a page).
#[derive(Deserialize, Default)]
pub(crate) struct RegisterForm {
    #[serde(flatten)]
    app: AppFields,
    #[serde(default)]
    redirect_url: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    refresh_token: String,
    #[serde(default)]
    obtained_at: String,
    verify: Option<String>,
}

/// `GET /register`.
pub(crate) async fn form(State(state): State<AppState>, Signed(visitor): Signed) -> Response {
    let values = RegisterForm {
        app: AppFields::new(),
        ..RegisterForm::default()
    };
    form_page(
        &state,
        &visitor,
        &values,
        &Errors::default(),
        StatusCode::OK,
    )
}

/// `POST /register`.
pub(crate) async fn submit(
    State(state): State<AppState>,
    Posted { visitor, form }: Posted<RegisterForm>,
) -> PageResult {
    let mut errors = Errors::default();
    form.app.check(&mut errors);
    let required = [
        (
            "redirect_url",
            &form.redirect_url,
            "Enter the redirect URL the tokens were obtained with.",
        ),
        (
            "access_token",
            &form.access_token,
            "Paste the access token.",
        ),
        (
            "refresh_token",
            &form.refresh_token,
            "Paste the refresh token.",
        ),
    ];
    for (field, value, message) in required {
        if value.trim().is_empty() {
            errors.set(field, message);
        }
    }
    if !errors.is_empty() {
        return Ok(form_page(
            &state,
            &visitor,
            &form,
            &errors,
            StatusCode::BAD_REQUEST,
        ));
    }
    let (name, app) = form.app.app(&form.redirect_url);
    let request = TokensHandedOver {
        name,
        app,
        access_token: AccessToken::new(form.access_token.trim()),
        refresh_token: RefreshToken::new(form.refresh_token.trim()),
        obtained_at: Some(form.obtained_at.trim().to_string()).filter(|t| !t.is_empty()),
        verify: form.verify.is_some(),
    };
    let runtime = tokio::runtime::Handle::current();
    let registered = on_store(&state.env, move |env| {
        env.forget_held_tokens();
        runtime.block_on(register(env, request))
    })
    .await?;
    match registered {
        Ok(registration) => {
            let expired = access_token_expired(&state.env, &registration.connection)
                .map(|at| {
                    format!(
                        " Its access token expired at {}, so the first use refreshes it.",
                        When(at)
                    )
                })
                .unwrap_or_default();
            let name = registration.connection.name;
            state.web.sessions.flash(
                &visitor,
                html! { "Connection '" (name) "' is registered and stored, encrypted." (expired) },
            );
            audit(
                visitor.who(),
                format_args!("registered connection '{name}'"),
            );
            Ok(see_other(&connection_path(&name)))
        }
        Err(error) => {
            let errors = Errors::from_action(&error, field_of);
            Ok(form_page(
                &state,
                &visitor,
                &form,
                &errors,
                StatusCode::BAD_REQUEST,
            ))
        }
    }
}

/// The field of an error only this form has.
fn field_of(error: &ActionError) -> Option<&'static str> {
    match error {
        ActionError::TokenHeld { .. } => Some("refresh_token"),
        ActionError::BadTime { .. } => Some("obtained_at"),
        ActionError::MissingAppSetting { setting, .. } => Some(match setting {
            AppSetting::ClientId => "client_id",
            AppSetting::ClientSecret => "client_secret",
            AppSetting::RedirectUrl => "redirect_url",
        }),
        _ => None,
    }
}

fn form_page(
    state: &AppState,
    visitor: &Visitor,
    values: &RegisterForm,
    errors: &Errors,
    status: StatusCode,
) -> Response {
    let again = if errors.is_empty() {
        ""
    } else {
        " Enter it again: secrets are never sent back into a page."
    };
    let secret = |name, label, help: &str| {
        let help = format!("{help}{again}");
        Field {
            name,
            label,
            help: &help,
            error: errors.of(name),
        }
        .input("password", "", false)
    };
    let body = html! {
        p { "Register tokens your own web application obtained (the preauthenticated credentials flow). They are checked as " code { "register connection" } " checks them: the refresh token must be within its lifetime and not held by another connection." }
        (alert(errors.of("")))
        form.card method="post" action="/register" novalidate {
            (csrf_field(visitor))
            (errors.field("name", "Connection name", "The name jobs use for this connection.").input("text", &values.app.name, true))
            (platforms::select(&errors.field("platform", "Platform", "The platform and, for Exact Online, the country the administration is in."), state.env.registry(), &values.app.platform))
            (errors.field("client_id", "Client ID", "The client id of the app the tokens were issued to.").input("text", &values.app.client_id, true))
            (secret("client_secret", "Client secret", "The app's client secret."))
            (errors.field("redirect_url", "Redirect URL", "The redirect URL the tokens were obtained with.").input("url", &values.redirect_url, true))
            (secret("access_token", "Access token", "The access token from the token response."))
            (secret("refresh_token", "Refresh token", "The refresh token from the token response."))
            (errors.field("obtained_at", "Obtained at", "When the platform issued the tokens, such as 2026-12-01T09:30:00Z; empty means now.").input("text", &values.obtained_at, false))
            (errors.field("verify", "Verify now", "Ask the platform whether the access token works before storing.").checkbox(values.verify.is_some()))
            (errors.field("api_url", "API URL (optional)", "Only for another host than the platform's for the country, such as a sandbox: its base URL.").input("url", &values.app.api_url, false))
            button type="submit" { "Register" }
        }
    };
    respond(
        visitor,
        status,
        page("Register tokens", Section::Register, Some(visitor), body),
    )
}
