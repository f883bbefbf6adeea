//! `GET /api/v1/machines`: the key slots of a shared store, as `show machines`.

use axum::Json;
use axum::extract::State;
use preauth_core::store::Machine;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;
use crate::work::blocking;

/// `GET /api/v1/machines`: every key slot (machines, key files, unused enrollment codes);
/// 409 `not_shared` for a store of one machine.
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let machines = blocking(&state.env, |env| Ok(preauth_actions::machines::list(env)?)).await?;
    Ok(Json(Value::Array(
        machines.iter().map(machine_json).collect(),
    )))
}

/// One slot as the API gives it: times in RFC 3339, absent ones null.
fn machine_json(machine: &Machine) -> Value {
    let at = |t: std::time::SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    json!({
        "name": machine.name,
        "kind": machine.kind,
        "created_at": at(machine.created_at),
        "last_used_at": machine.last_used_at.map(at),
        "expires_at": machine.expires_at.map(at),
        "this_machine": machine.this_machine,
    })
}
