//! `POST /api/v1/connections/import`: connections from the content of a settings file (what
//! `export settings` prints, sealed on this machine or plain), through the same use case as
//! `import settings '<file>'`: the content goes to the store as a file in a private temporary
//! folder, removed afterwards.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use preauth_actions::ActionError;
use preauth_core::store::StoreError;

use crate::audit::{Caller, audit};
use crate::error::ApiError;
use crate::state::AppState;
use crate::work::blocking;

/// The name the posted content has in the temporary folder (and in any error about it).
const POSTED: &str = "posted-settings.xml";

/// Imports every connection of the posted settings file; 201 with the names and the
/// warning that each single-use refresh token now exists in two places. A name that is
/// taken or a file that cannot be read imports nothing.
pub(crate) async fn import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: String,
) -> Result<Response, ApiError> {
    let imported = blocking(&state.env, move |env| {
        let folder = tempfile::Builder::new()
            .prefix("preauth-import-")
            .tempdir()
            .map_err(|e| ApiError::internal(format!("no temporary folder for the import: {e}")))?;
        let file = folder.path().join(POSTED);
        std::fs::write(&file, body.as_bytes())
            .map_err(|e| ApiError::internal(format!("cannot keep the posted file: {e}")))?;
        let names = preauth_actions::connections::import(env, &file).map_err(unreadable)?;
        for name in &names {
            audit(&caller.who(), format_args!("imported connection '{name}'"));
        }
        Ok(names)
    })
    .await?;
    let warnings: Vec<String> = imported
        .iter()
        .map(|name| preauth_actions::connections::two_copies(&format!("connection '{name}'")))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "imported": imported, "warnings": warnings })),
    )
        .into_response())
}

/// An error of the import, where what the posted file holds is the caller's to fix: 422
/// (the file cannot be read as a settings file, or a connection in it cannot be opened or
/// is in it twice); any other as every route answers it.
fn unreadable(error: ActionError) -> ApiError {
    match &error {
        ActionError::Store(
            StoreError::Malformed { .. }
            | StoreError::InvalidConnection { .. }
            | StoreError::Protect { .. }
            | StoreError::Duplicate { .. }
            | StoreError::BrokenFile { .. },
        ) => ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            error.to_string(),
        ),
        _ => error.into(),
    }
}
