//! The routes: one list ([`endpoints`]) that the router is built from and the OpenAPI
//! document is checked against; the handlers are in [`crate::connections`] and
//! [`crate::monitoring`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use preauth_actions::Context;
use preauth_core::api_keys::{ApiKeys, Scope};
use preauth_core::monitor::Thresholds;

use crate::auth;
use crate::client_addr::ClientAddresses;
use crate::connections::{drop_connection, list, register, show, token};
use crate::error::ApiError;
use crate::metrics::Counters;
use crate::monitoring::{check, healthz, metrics, openapi};
use crate::rate::RateLimit;
use crate::web::{self, Web};
use crate::{ApiHost, Options};

/// The largest request body accepted, in bytes.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// How long a request may take before it is answered with 504 (work it started on the
/// store or at the platform still finishes).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The store, the platforms and the lifecycle.
    pub(crate) env: Arc<Context>,
    /// The API keys.
    pub(crate) keys: ApiKeys,
    /// The per-key limit of the token route.
    pub(crate) rate: Arc<RateLimit>,
    /// When a refresh token counts as expiring.
    pub(crate) thresholds: Thresholds,
    /// What this process served.
    pub(crate) counters: Arc<Counters>,
    /// The web pages' sessions and base URL.
    pub(crate) web: Arc<Web>,
    /// Hosts besides the platforms' own that API registrations may name.
    pub(crate) api_hosts: Arc<[ApiHost]>,
    /// How a request's client address is found (`--trusted-proxy`).
    pub(crate) clients: ClientAddresses,
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
        route(Method::GET, "/openapi.json", None, openapi),
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

/// The server's router over `env` for browsers that reach it at `base`
/// (`http://127.0.0.1:8440`); API keys are those of `keys`, limited and judged as
/// `options` say. Also returns the one-time login URL of the web pages, unless
/// `options` turn it off.
pub fn router(
    env: Arc<Context>,
    keys: ApiKeys,
    options: &Options,
    base: &str,
) -> std::io::Result<(Router, Option<String>)> {
    router_with(env, keys, options, base, Arc::default())
}

/// [`router`] with the metrics of `counters` (which may watch the keep-alive).
pub(crate) fn router_with(
    env: Arc<Context>,
    keys: ApiKeys,
    options: &Options,
    base: &str,
    counters: Arc<Counters>,
) -> std::io::Result<(Router, Option<String>)> {
    let (web, login) =
        Web::new(base, options.login_link).map_err(|e| std::io::Error::other(e.to_string()))?;
    let state = AppState {
        env,
        keys,
        rate: Arc::new(RateLimit::new(options.token_rate)),
        thresholds: options.thresholds,
        counters,
        web: Arc::new(web),
        api_hosts: options.api_hosts.clone().into(),
        clients: ClientAddresses::new(options.trusted_proxies.clone()),
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
    let router = router
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(timeout))
        .layer(middleware::from_fn(web::security_headers))
        .with_state(state);
    Ok((router, login))
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
        "this route does not take that method; the routes are described in /openapi.json",
    )
}

/// 404: a page for a browser (one that asks for HTML), JSON for programs.
async fn not_found(headers: HeaderMap) -> Response {
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if browser {
        return web::PageError::NotFound("There is no page here.".into()).into_response();
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such route; the routes are described in /openapi.json",
    )
    .into_response()
}

/// Runs `work` on the blocking pool (the store's calls may wait for a lock or the disk).
pub(crate) async fn blocking<T: Send + 'static>(
    env: &Arc<Context>,
    work: impl FnOnce(&Context) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let env = Arc::clone(env);
    tokio::task::spawn_blocking(move || work(&env))
        .await
        .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
}

/// Runs `work` as a task of its own: it finishes (and stores what the platform
/// answered) even when the client goes away or the request times out.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work)
        .await
        .map_err(|e| ApiError::internal(format!("the request's work failed: {e}")))?
}
