//! The admin surface for tests that drive a separate `preauth sandbox` process.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::state::SandboxState;
use crate::{Counters, Fault};

#[derive(Deserialize)]
pub(crate) struct Advance {
    seconds: u64,
}

/// `POST /sandbox/clock/advance?seconds=N`: moves the virtual clock forward.
pub(crate) async fn advance(
    State(state): State<SandboxState>,
    Query(advance): Query<Advance>,
) -> Json<serde_json::Value> {
    let clock = state.clock();
    clock.advance(Duration::from_secs(advance.seconds));
    Json(json!({
        "offset_seconds": clock.offset().as_secs(),
        "now": humantime::format_rfc3339_seconds(clock.now()).to_string(),
    }))
}

/// `GET /sandbox/counters`.
pub(crate) async fn counters(State(state): State<SandboxState>) -> Json<Counters> {
    Json(state.counters())
}

/// `POST /sandbox/faults` with a [`Fault`] as JSON: queued for the next token request.
pub(crate) async fn fault(
    State(state): State<SandboxState>,
    Json(fault): Json<Fault>,
) -> StatusCode {
    state.inject(fault);
    StatusCode::NO_CONTENT
}
