//! The routes: one list ([`endpoints`]) that the router is built from and the OpenAPI
//! document is checked against, and their handlers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use preauth_core::api_keys::{ApiKeys, Scope};
use preauth_core::monitor::{self, CheckReport, CheckState, Thresholds};
use preauth_script::ast::{App, Register, SecretText};
use preauth_script::interpreter::{
    Environment, access_token_json, connection_table, connections_table, register_connection,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Options;
use crate::auth;
use crate::error::ApiError;
use crate::metrics::Counters;
use crate::rate::RateLimit;

/// The largest request body accepted, in bytes.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// How long a request may take before it is answered with 504 (work it started on the
/// store or at the platform still finishes).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    env: Arc<Environment>,
    pub(crate) keys: ApiKeys,
    /// The per-key limit of the token route.
    pub(crate) rate: Arc<RateLimit>,
    thresholds: Thresholds,
    counters: Arc<Counters>,
}

/// A route of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The HTTP method.
    pub method: Method,
    /// The path, with `{name}` for a parameter (as in OpenAPI).
    pub path: &'static str,
    /// The scope an API key needs; `None` for a route without a key. The routes of
    /// scope token (what jobs call in loops) are rate-limited per key.
    pub scope: Option<Scope>,
}

/// Every route, with its handler.
fn table() -> Vec<(Endpoint, MethodRouter<AppState>)> {
    let (admin, register_scope, token_scope) = (
        Some(Scope::Admin),
        Some(Scope::Register),
        Some(Scope::Token),
    );
    let one = "/api/v1/connections/{name}";
    vec![
        route(Method::GET, "/healthz", None, healthz),
        route(Method::GET, "/api/v1/openapi.json", None, openapi),
        route(Method::GET, "/metrics", None, metrics),
        route(Method::GET, "/api/v1/check", admin, check),
        route(Method::GET, "/api/v1/connections", admin, list),
        route(
            Method::POST,
            "/api/v1/connections",
            register_scope,
            register,
        ),
        route(Method::GET, one, admin, show),
        route(Method::DELETE, one, admin, drop_connection),
        route(
            Method::POST,
            "/api/v1/connections/{name}/token",
            token_scope,
            token,
        ),
    ]
}

/// One route: `handler` answers `method` on `path` for a key of `scope`.
fn route<H: Handler<T, AppState>, T: 'static>(
    method: Method,
    path: &'static str,
    scope: Option<Scope>,
    handler: H,
) -> (Endpoint, MethodRouter<AppState>) {
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
    let endpoint = Endpoint {
        method,
        path,
        scope,
    };
    (endpoint, on(filter, handler))
}

/// Every route of the server: what [`router`] serves and `openapi.json` describes.
pub fn endpoints() -> Vec<Endpoint> {
    table().into_iter().map(|(endpoint, _)| endpoint).collect()
}

/// The server's router over `env`; API keys are those of `keys`, limited and judged as
/// `options` say.
pub fn router(env: Arc<Environment>, keys: ApiKeys, options: &Options) -> Router {
    let state = AppState {
        env,
        keys,
        rate: Arc::new(RateLimit::new(options.token_rate)),
        thresholds: options.thresholds,
        counters: Arc::default(),
    };
    let mut router = Router::new();
    for (endpoint, handler) in table() {
        let handler = match endpoint.scope {
            Some(scope) => handler.route_layer(middleware::from_fn_with_state(
                (state.clone(), scope),
                auth::require,
            )),
            None => handler,
        };
        router = router.route(endpoint.path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(timeout))
        .with_state(state)
}

async fn timeout(request: Request, next: Next) -> Result<Response, ApiError> {
    tokio::time::timeout(REQUEST_TIMEOUT, next.run(request))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "no answer within {} seconds; work already started on the store finishes all the same",
                    REQUEST_TIMEOUT.as_secs()
                ),
            )
        })
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; the routes are described in /api/v1/openapi.json",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such route; the routes are described in /api/v1/openapi.json",
    )
}

/// Runs `work` on the blocking pool (the store's calls may wait for a lock or the disk).
async fn blocking<T: Send + 'static>(
    env: &Arc<Environment>,
    work: impl FnOnce(&Environment) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let env = Arc::clone(env);
    tokio::task::spawn_blocking(move || work(&env))
        .await
        .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
}

/// Runs `work` as a task of its own: it finishes (and stores what the platform
/// answered) even when the client goes away or the request times out.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work)
        .await
        .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
}

/// The OpenAPI document of these routes (tested against [`endpoints`]).
const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

fn report(env: &Environment, thresholds: Thresholds) -> CheckReport {
    monitor::check(
        env.store(),
        env.registry(),
        env.lifecycle().now(),
        thresholds,
    )
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (counters, thresholds) = (Arc::clone(&state.counters), state.thresholds);
    let text = blocking(&state.env, move |env| {
        Ok(counters.render(&report(env, thresholds), env.lifecycle().now()))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn check(State(state): State<AppState>) -> Result<Response, ApiError> {
    let thresholds = state.thresholds;
    let report = blocking(&state.env, move |env| Ok(report(env, thresholds))).await?;
    let state = report.state();
    let connections: Vec<Value> = report
        .connections
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "platform": c.platform,
                "state": c.state.to_string(),
                "reason": c.reason,
                "refresh_token_expires_at": c.refresh_token_expires_at.map(rfc3339),
            })
        })
        .collect();
    let status = if state == CheckState::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "state": state.to_string(),
        "summary": report.status_line(),
        "connections": connections,
    });
    Ok((status, Json(body)).into_response())
}

fn rfc3339(at: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (table, problems) = blocking(&state.env, |env| Ok(connections_table(env)?)).await?;
    Ok(Json(json!({
        "connections": table.to_json(),
        "problems": problems,
    })))
}

async fn show(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = name?;
    let table = blocking(&state.env, move |env| Ok(connection_table(env, &name)?)).await?;
    Ok(Json(table.to_json_object()))
}

async fn drop_connection(
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
struct RegisterBody {
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

async fn register(
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

async fn token(
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
