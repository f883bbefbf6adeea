//! The handlers of connections: register, list, show, drop, and access tokens.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use preauth_actions::AppSettings;
use preauth_actions::overview::{details, summaries};
use preauth_actions::register::{TokensHandedOver, register as register_tokens};
use preauth_actions::token::{access_token, access_token_json};
use preauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{Caller, audit};
use crate::error::ApiError;
use crate::paging;
use crate::state::AppState;
use crate::views;
use crate::work::{blocking, detached};

/// `GET /api/v1/connections?limit=&after=&q=`: a page of the table of `show
/// connections` (at most [`paging::MAX_LIMIT`], the default), how many match in all, and
/// the `after` of the next page.
pub(crate) async fn list(
    State(state): State<AppState>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let invalid =
        |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message);
    let Query(params) =
        params.map_err(|_| invalid("the query string cannot be read".to_string()))?;
    let page = paging::page_of(&params, paging::MAX_LIMIT).map_err(invalid)?;
    let (rows, problems, total, next) = blocking(&state.env, move |env| {
        let paged = env.store().outline_page(&page)?;
        let (rows, problems) = summaries(env, &paged.listing);
        Ok((rows, problems, paged.total, paged.next))
    })
    .await?;
    let rows: Vec<Value> = rows.iter().map(views::summary_json).collect();
    Ok(Json(json!({
        "connections": rows,
        "problems": problems,
        "total": total,
        "next": next,
    })))
}

/// `GET /api/v1/connections/{name}`: the properties of `show connection`, no secret's
/// value.
pub(crate) async fn show(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = name?;
    let details = blocking(&state.env, move |env| Ok(details(env, &name)?)).await?;
    Ok(Json(views::details_json(&details, true)))
}

/// `DELETE /api/v1/connections/{name}`.
pub(crate) async fn drop_connection(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = name?;
    blocking(
        &state.env,
        move |env| match preauth_actions::connections::drop_connection(env, &name)? {
            true => {
                audit(&caller.who(), format_args!("dropped connection '{name}'"));
                Ok(StatusCode::NO_CONTENT)
            }
            false => Err(preauth_core::store::StoreError::NotFound { name }.into()),
        },
    )
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

impl From<RegisterBody> for TokensHandedOver {
    fn from(body: RegisterBody) -> TokensHandedOver {
        TokensHandedOver {
            name: body.name,
            app: AppSettings {
                platform: body.platform,
                country: body.country,
                api_url: body.api_url,
                client_id: body.client_id,
                client_secret: body.client_secret.map(ClientSecret::new),
                redirect_url: body.redirect_url,
            },
            access_token: AccessToken::new(body.access_token),
            refresh_token: RefreshToken::new(body.refresh_token),
            obtained_at: body.obtained_at,
            verify: body.verify,
        }
    }
}

/// `POST /api/v1/connections`: `register connection` from JSON.
pub(crate) async fn register(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<RegisterBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    if let (Some(api_url), Some(platform)) =
        (&body.api_url, state.env.registry().get(&body.platform))
    {
        crate::api_hosts::check(&platform, api_url, &state.api_hosts)?;
    }
    let request = TokensHandedOver::from(body);
    // A registration reads the store (the name, the refresh tokens held) with calls that
    // may wait, so all of it runs on a blocking thread; it finishes even if the client
    // goes away.
    let runtime = tokio::runtime::Handle::current();
    let stored = blocking(&state.env, move |env| {
        // The store changes between requests: the refresh tokens held are read afresh.
        env.forget_held_tokens();
        let registration = runtime.block_on(register_tokens(env, request))?;
        let name = &registration.connection.name;
        audit(
            &caller.who(),
            format_args!("registered connection '{name}'"),
        );
        // A partner's key learns nothing of this server's files or database.
        Ok(views::details_json(&details(env, name)?, false))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// `POST /api/v1/connections/{name}/token`: as `preauth token --format json`.
pub(crate) async fn token(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = name?;
    let env = Arc::clone(&state.env);
    let counters = Arc::clone(&state.counters);
    detached(async move {
        match access_token(&env, &name).await {
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
