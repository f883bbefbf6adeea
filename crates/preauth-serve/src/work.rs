//! Where a request's work runs: on the blocking pool ([`blocking`]) or as a task of its
//! own that outlives the request ([`detached`]).

use std::future::Future;
use std::sync::Arc;

use preauth_actions::Context;

use crate::error::ApiError;

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
