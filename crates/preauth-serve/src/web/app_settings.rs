//! A connection's app settings on the pages: the client id and secret and the redirect URL
//! it stores (a rotated secret, a corrected URL), and a refresh once more after a failure's
//! cause is fixed. What the advice of a refused client authentication points to.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use maud::html;
use preauth_actions::connections::{AppChanges, alter};
use preauth_actions::token::refresh as refresh_now;
use preauth_core::secret::ClientSecret;
use serde::Deserialize;

use super::forms::{Button, Errors, Posted, action_shown};
use super::layout::{Field, Section, alert, csrf_field, page};
use super::page_error::PageResult;
use super::respond::{connection_path, on_store, respond, see_other};
use super::session::Visitor;
use super::signed::Signed;
use crate::audit::audit;
use crate::state::AppState;
use crate::work::detached;

/// The form's fields (a secret is never sent back into a page).
#[derive(Deserialize, Default)]
pub(crate) struct AppForm {
    #[serde(default)]
    client_id: String,
    /// Empty keeps the stored secret.
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    redirect_url: String,
}

/// `GET /connections/{name}/app`: the form, filled in with what is stored.
pub(crate) async fn form(
    State(state): State<AppState>,
    Signed(visitor): Signed,
    Path(name): Path<String>,
) -> PageResult {
    let stored = on_store(&state.env, move |env| {
        Ok(env.lifecycle().store().load(&name)?)
    })
    .await?
    .map_err(super::connections::not_found)?;
    let values = AppForm {
        client_id: stored.client_id,
        client_secret: String::new(),
        redirect_url: stored.redirect_url,
    };
    Ok(form_page(
        &visitor,
        &stored.name,
        &values,
        &Errors::default(),
        StatusCode::OK,
    ))
}

/// `POST /connections/{name}/app`: stores the changed settings; the tokens are kept.
pub(crate) async fn change(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Posted { visitor, form }: Posted<AppForm>,
) -> PageResult {
    let mut errors = Errors::default();
    if form.client_id.trim().is_empty() {
        errors.set("client_id", "Enter the app's client id.");
    }
    if form.redirect_url.trim().is_empty() {
        errors.set(
            "redirect_url",
            "Enter the redirect URL registered for the app.",
        );
    }
    if !errors.is_empty() {
        return Ok(form_page(
            &visitor,
            &name,
            &form,
            &errors,
            StatusCode::BAD_REQUEST,
        ));
    }
    let changes = AppChanges {
        client_id: Some(form.client_id.trim().to_string()),
        client_secret: Some(form.client_secret.trim())
            .filter(|s| !s.is_empty())
            .map(ClientSecret::new),
        redirect_url: Some(form.redirect_url.trim().to_string()),
        api_url: None,
    };
    let asked = name.clone();
    let altered = on_store(&state.env, move |env| alter(env, &asked, changes)).await?;
    match altered {
        Ok(altered) => {
            let failed = altered.last_refresh_failed;
            state.web.sessions.flash(
                &visitor,
                html! {
                    "App settings of connection '" (altered.name) "' stored."
                    @if failed {
                        " Its last refresh failed: with the cause fixed, "
                        a.advice href="#refresh-now" { "refresh it now" } "."
                    }
                },
            );
            audit(
                visitor.who(),
                format_args!(
                    "changed the app settings of connection '{}': {}",
                    altered.name,
                    altered.changed.join(", ")
                ),
            );
            Ok(see_other(&connection_path(&altered.name)))
        }
        Err(error) => {
            let mut errors = Errors::default();
            errors.set_shown("", action_shown(&error));
            Ok(form_page(
                &visitor,
                &name,
                &form,
                &errors,
                StatusCode::BAD_REQUEST,
            ))
        }
    }
}

/// `POST /connections/{name}/refresh`: one refresh now, also after a recorded failure
/// (its cause fixed); a platform that refuses early refreshes is sent none before it
/// allows one.
pub(crate) async fn refresh(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Posted { visitor, .. }: Posted<Button>,
) -> PageResult {
    let env = std::sync::Arc::clone(&state.env);
    let asked = name.clone();
    let refreshed = detached(async move { Ok(refresh_now(&env, &asked, true).await) }).await?;
    let message = match &refreshed {
        Ok(grant) => {
            audit(
                visitor.who(),
                format_args!("refreshed connection '{}'", grant.connection.name),
            );
            let until = preauth_core::error::When(grant.expires_at);
            html! { "Connection '" (grant.connection.name) "' refreshed; its access token is valid until " (until) "." }
        }
        Err(error) => action_shown(error),
    };
    state.web.sessions.flash(&visitor, message);
    Ok(see_other(&connection_path(&name)))
}

fn form_page(
    visitor: &Visitor,
    name: &str,
    values: &AppForm,
    errors: &Errors,
    status: StatusCode,
) -> axum::response::Response {
    let path = connection_path(name);
    let secret = Field {
        name: "client_secret",
        label: "Client secret",
        help: "Paste the app's client secret to replace the stored one; leave empty to keep it.",
        error: errors.of("client_secret"),
    };
    let body = html! {
        p { "The app registration connection '" (name) "' uses: copy them again from the platform's app registration after a secret was rotated or the redirect URL changed. The tokens are kept." }
        (alert(errors.of("")))
        form.card method="post" action={ (path) "/app" } novalidate {
            (csrf_field(visitor))
            (errors.field("client_id", "Client ID", "The app's client id.").input("text", &values.client_id, true))
            (secret.input("password", "", false))
            (errors.field("redirect_url", "Redirect URL", "The redirect URL registered for the app.").input("url", &values.redirect_url, true))
            div.actions {
                button type="submit" { "Store app settings" }
                a.button.secondary href=(path) { "Cancel" }
            }
        }
    };
    respond(
        visitor,
        status,
        page("App settings", Section::Connections, Some(visitor), body),
    )
}
