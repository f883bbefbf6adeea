//! The handlers that watch: `/healthz`, `/metrics`, `/api/v1/check`, and the OpenAPI
//! document.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use preauth_actions::Context;
use preauth_core::monitor::{self, CheckReport, CheckState, Thresholds};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;
use crate::work::blocking;

/// The OpenAPI document of the routes (tested against [`crate::endpoints`]).
const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

fn report(env: &Context, thresholds: Thresholds) -> CheckReport {
    preauth_actions::overview::check(env, thresholds)
}

/// `GET /metrics`: the Prometheus text.
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (counters, thresholds) = (Arc::clone(&state.counters), state.thresholds);
    let text = blocking(&state.env, move |env| {
        let now = env.lifecycle().now();
        let tally = monitor::tally(env.store(), env.registry(), now, thresholds);
        Ok(counters.render(&tally, now))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// `GET /api/v1/check`: the verdict of `preauth check`; 503 unless OK.
pub(crate) async fn check(State(state): State<AppState>) -> Result<Response, ApiError> {
    let thresholds = state.thresholds;
    let report = blocking(&state.env, move |env| Ok(report(env, thresholds))).await?;
    let status = if report.state() == CheckState::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = report.to_json();
    Ok((status, Json(body)).into_response())
}
