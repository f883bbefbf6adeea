//! The sandbox's routes: Exact, Twinfield and admin endpoints.

use axum::Router;
use axum::routing::{get, post};

use crate::state::SandboxState;
use crate::{admin, api, authorize, token};

/// Builds the sandbox's router over `state`: Exact, Twinfield and admin endpoints.
///
/// Serve it with `into_make_service_with_connect_info` as [`Sandbox::spawn`] does for
/// [`Fault::DropAfterRotate`] to cut connections; otherwise that fault answers 500.
pub fn router(state: SandboxState) -> Router {
    Router::new()
        .route("/api/oauth2/auth", get(authorize::exact))
        .route("/api/oauth2/login", post(authorize::login))
        .route("/api/oauth2/consent", post(authorize::consent))
        .route("/api/oauth2/token", post(token::exact))
        .route("/api/v1/current/Me", get(api::me))
        .route(
            "/auth/authentication/connect/authorize",
            get(authorize::twinfield),
        )
        .route("/auth/authentication/account/login", post(authorize::login))
        .route("/auth/authentication/consent", post(authorize::consent))
        .route("/auth/authentication/connect/token", post(token::twinfield))
        .route(
            "/auth/authentication/connect/accesstokenvalidation",
            get(api::validate),
        )
        .route(
            "/auth/authentication/.well-known/openid-configuration",
            get(api::discovery),
        )
        .route("/sandbox/clock/advance", post(admin::advance))
        .route("/sandbox/counters", get(admin::counters))
        .route("/sandbox/faults", post(admin::fault))
        .with_state(state)
}
