//! The handlers of connections: register, list, show, drop, and access tokens.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use preauth_script::ast::{App, Register, SecretText};
use preauth_script::interpreter::{
    access_token_json, connection_table, connections_table, register_connection,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::routes::{AppState, blocking, detached};

pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (table, problems) = blocking(&state.env, |env| Ok(connections_table(env)?)).await?;
    Ok(Json(json!({
        "connections": table.to_json(),
        "problems": problems,
    })))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = name?;
    let table = blocking(&state.env, move |env| Ok(connection_table(env, &name)?)).await?;
    Ok(Json(table.to_json_object()))
}

pub(crate) async fn drop_connection(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = name?;
    blocking(&state.env, move |env| {
        match env.lifecycle().store().drop_connection(&name)? {
            true => Ok(StatusCode::NO_CONTENT),
            false => Err(preauth_core::store::StoreError::NotFound { name }.into()),
        }
    })
    .await
}

/// The body of `POST /api/v1/connections`: the fields of `register connection`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    name: String,
    platform: String,
    country: Option<String>,
    api_url: Option<String>,
    client_id: String,
    client_secret: Option<String>,
    redirect_url: String,
    access_token: String,
    refresh_token: String,
    obtained_at: Option<String>,
    #[serde(default)]
    verify: bool,
}

impl From<RegisterBody> for Register {
    fn from(body: RegisterBody) -> Register {
        Register {
            connection: body.name,
            app: App {
                platform: body.platform,
                country: body.country,
                api_url: body.api_url,
                client_id: body.client_id,
                client_secret: body.client_secret.map(SecretText::new),
                redirect_url: body.redirect_url,
            },
            access_token: SecretText::new(body.access_token),
            refresh_token: SecretText::new(body.refresh_token),
            obtained_at: body.obtained_at,
            verify: body.verify,
        }
    }
}

pub(crate) async fn register(
    State(state): State<AppState>,
    body: Result<Json<RegisterBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let request = Register::from(body);
    let env = Arc::clone(&state.env);
    let stored = detached(async move {
        // The store changes between requests: the refresh tokens held are read afresh.
        env.forget_held_tokens();
        let registration = register_connection(&env, &request).await?;
        let name = registration.connection.name;
        blocking(&env, move |env| {
            Ok(connection_table(env, &name)?.to_json_object())
        })
        .await
    })
    .await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

pub(crate) async fn token(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = name?;
    let env = Arc::clone(&state.env);
    let counters = Arc::clone(&state.counters);
    detached(async move {
        match env.lifecycle().ensure_access_token(&name).await {
            Ok(grant) => {
                counters.served(grant.refreshed);
                Ok(Json(access_token_json(&grant)))
            }
            Err(error) => {
                let error = ApiError::from(error);
                if error.code == "platform_refused" {
                    counters.refused();
                }
                Err(error)
            }
        }
    })
    .await
}
