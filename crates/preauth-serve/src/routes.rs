//! The routes: one table ([`table`]) of the API and the pages, that the router is built
//! from and the OpenAPI document is checked against; the handlers are in
//! [`crate::connections`], [`crate::platforms`], [`crate::monitoring`] and [`crate::web`].

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use preauth_actions::Context;
use preauth_core::api_keys::{ApiKeys, Scope};

use crate::auth;
use crate::client_addr::ClientAddresses;
use crate::connections::{drop_connection, list, register, show, token};
use crate::error::ApiError;
use crate::imports;
use crate::limits::{BODY_LIMIT, REQUEST_TIMEOUT};
use crate::machines;
use crate::metrics::Counters;
use crate::monitoring::{check, healthz, metrics, openapi};
use crate::options::Options;
use crate::platforms;
use crate::rate::RateLimit;
use crate::state::{AppState, Web};
use crate::web::headers::security_headers;
use crate::web::page_error::PageError;
use crate::web::{app_settings, connections as pages, login, preauthenticate, register as oem};

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
    /// Whether this is a web page (HTML for a browser, behind the pages' own login)
    /// rather than a route of the API: pages are not in `openapi.json`.
    pub page: bool,
}

/// Every route, API and pages, with its handler.
fn table() -> Vec<(Endpoint, MethodRouter<AppState>)> {
    let (admin, register_scope, token_scope) = (
        Some(Scope::Admin),
        Some(Scope::Register),
        Some(Scope::Token),
    );
    let one = "/api/v1/connections/{name}";
    let (get, post) = (Method::GET, Method::POST);
    vec![
        route(get.clone(), "/healthz", None, healthz),
        route(get.clone(), "/openapi.json", None, openapi),
        route(get.clone(), "/metrics", None, metrics),
        route(get.clone(), "/api/v1/check", admin, check),
        route(get.clone(), "/api/v1/connections", admin, list),
        route(get.clone(), "/api/v1/machines", admin, machines::list),
        route(
            post.clone(),
            "/api/v1/platforms",
            admin,
            platforms::create_platform,
        ),
        route(
            post.clone(),
            "/api/v1/connections",
            register_scope,
            register,
        ),
        route(
            post.clone(),
            "/api/v1/connections/import",
            admin,
            imports::import,
        ),
        route(get.clone(), one, admin, show),
        route(Method::DELETE, one, admin, drop_connection),
        route(
            post.clone(),
            "/api/v1/connections/{name}/token",
            token_scope,
            token,
        ),
        page(get.clone(), "/", || async { Redirect::to("/connections") }),
        page(get.clone(), "/login", login::show),
        page(post.clone(), "/login", login::with_key),
        page(post.clone(), "/logout", login::log_out),
        page(get.clone(), "/connections", pages::list),
        page(get.clone(), "/connections/{name}", pages::result),
        page(post.clone(), "/connections/{name}/secrets", pages::secrets),
        page(
            post.clone(),
            "/connections/{name}/login",
            pages::log_in_again,
        ),
        page(get.clone(), "/connections/{name}/app", app_settings::form),
        page(
            post.clone(),
            "/connections/{name}/app",
            app_settings::change,
        ),
        page(
            post.clone(),
            "/connections/{name}/refresh",
            app_settings::refresh,
        ),
        page(get.clone(), "/connections/{name}/drop", pages::confirm_drop),
        page(
            post.clone(),
            "/connections/{name}/drop",
            pages::drop_connection,
        ),
        page(get.clone(), "/preauthenticate", preauthenticate::form),
        page(post.clone(), "/preauthenticate", preauthenticate::start),
        page(
            get.clone(),
            "/preauthenticate/exchange",
            preauthenticate::exchange_form,
        ),
        page(
            post.clone(),
            "/preauthenticate/exchange",
            preauthenticate::exchange,
        ),
        page(get.clone(), "/callback", preauthenticate::callback),
        page(get, "/register", oem::form),
        page(post, "/register", oem::submit),
    ]
}

/// One route of the API: `handler` answers `method` on `path` for a key of `scope`.
fn route<H: Handler<T, AppState>, T: 'static>(
    method: Method,
    path: &'static str,
    scope: Option<Scope>,
    handler: H,
) -> (Endpoint, MethodRouter<AppState>) {
    endpoint(method, path, scope, false, handler)
}

/// One web page: `handler` answers `method` on `path` (its own login, no API key).
fn page<H: Handler<T, AppState>, T: 'static>(
    method: Method,
    path: &'static str,
    handler: H,
) -> (Endpoint, MethodRouter<AppState>) {
    endpoint(method, path, None, true, handler)
}

fn endpoint<H: Handler<T, AppState>, T: 'static>(
    method: Method,
    path: &'static str,
    scope: Option<Scope>,
    page: bool,
    handler: H,
) -> (Endpoint, MethodRouter<AppState>) {
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
    let endpoint = Endpoint {
        method,
        path,
        scope,
        page,
    };
    (endpoint, on(filter, handler))
}

/// Every route of the server, API and pages: what [`router`] serves; those that are
/// not pages are what `openapi.json` describes.
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
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(timeout))
        .layer(middleware::from_fn(security_headers))
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
        return PageError::NotFound("There is no page here.".into()).into_response();
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such route; the routes are described in /openapi.json",
    )
    .into_response()
}
