//! The API's errors: `{"error": "<code>", "message": "<one sentence>"}` with the HTTP
//! status that says whose fault it is. Messages never carry a secret: errors of the
//! lifecycle name connections and dates, and text from a request body is cut out.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use preauth_core::api_keys::ApiKeyError;
use preauth_core::error::LifecycleError;
use preauth_core::store::StoreError;
use preauth_script::interpreter::ExecError;

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code for programs, such as `not_found`.
    pub code: &'static str,
    /// One sentence for people.
    pub message: String,
    /// For 429: when to try again (sent as `Retry-After`, in whole seconds).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 401: no key, or one that is not known.
    pub(crate) fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 429: `key` asked faster than the rate limit; `wait` until the next request.
    pub(crate) fn rate_limited(key: &str, wait: Duration) -> ApiError {
        ApiError {
            retry_after: Some(wait),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "the API key '{key}' asks for tokens faster than allowed (--token-rate); try again in {} ms, or cache the token until its expires_at",
                    wait.as_millis().max(1)
                ),
            )
        }
    }

    /// 500: the server failed; the message says what to look at.
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

/// Writes a failure of the server (an answer of status 5xx) to standard error, the
/// service's log, so that the operator sees what the client was told. Messages never hold
/// a secret.
pub(crate) fn log_failure(status: StatusCode, message: &str) {
    eprintln!("preauth serve: answered {}: {message}", status.as_u16());
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            log_failure(self.status, &self.message);
        }
        let body = serde_json::json!({"error": self.code, "message": self.message});
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(
                status,
                "body_too_large",
                format!(
                    "the body is larger than {} bytes",
                    crate::routes::BODY_LIMIT
                ),
            );
        }
        let (status, code, what) = match &rejection {
            JsonRejection::MissingJsonContentType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON, sent with Content-Type: application/json".to_string(),
            ),
            JsonRejection::JsonDataError(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!(
                    "the body has a missing field, an unknown one or a value of the wrong type ({})",
                    without_quoted(&rejection.body_text())
                ),
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "the body is not well-formed JSON".to_string(),
            ),
        };
        ApiError::new(status, code, what)
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            "the connection name in the path is not valid percent-encoded UTF-8",
        )
    }
}

/// `text` with every quoted part (serde quotes the values it did not expect, which may
/// be secrets) replaced by `…`.
fn without_quoted(text: &str) -> String {
    let mut out = String::new();
    let mut open: Option<char> = None;
    for c in text.chars() {
        match open {
            Some(q) if c == q => open = None,
            Some(_) => {}
            None if c == '"' || c == '`' => {
                open = Some(c);
                out.push('…');
            }
            None => out.push(c),
        }
    }
    out
}

impl From<ApiKeyError> for ApiError {
    fn from(error: ApiKeyError) -> ApiError {
        match &error {
            // A shared store that keeps the keys and does not answer: try again later.
            ApiKeyError::Store {
                source: StoreError::Unavailable { .. },
                ..
            } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                error.to_string(),
            ),
            _ => ApiError::internal(error.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        let (status, code) = match &error {
            StoreError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::AlreadyExists { .. } => (StatusCode::CONFLICT, "name_taken"),
            StoreError::InvalidName { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            StoreError::LockTimeout { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            StoreError::Unavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            StoreError::Spooled { .. } => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "store_failed"),
        };
        ApiError::new(status, code, error.to_string())
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> ApiError {
        use LifecycleError as E;
        let error = match error {
            E::Store(store) => return store.into(),
            other => other,
        };
        let (status, code) = match &error {
            E::TokensSpooled { .. } => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            E::SaveNotReady { .. } | E::TokensNotStored { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "store_failed")
            }
            E::InvalidRegistration { .. } | E::UnknownPlatform { .. } | E::Platform(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
            }
            E::NotAuthorized { .. } => (StatusCode::CONFLICT, "not_authorized"),
            E::HeldElsewhere { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            E::RateLimited { .. } => (StatusCode::SERVICE_UNAVAILABLE, "platform_rate_limited"),
            E::Unreachable { .. }
            | E::RefreshOutcomeUnknown { .. }
            | E::CodeOutcomeUnknown { .. }
            | E::Unparseable { .. } => (StatusCode::BAD_GATEWAY, "platform_unavailable"),
            _ => (StatusCode::BAD_GATEWAY, "platform_refused"),
        };
        ApiError::new(status, code, error.to_string())
    }
}

impl From<ExecError> for ApiError {
    fn from(error: ExecError) -> ApiError {
        match error {
            ExecError::Lifecycle(e) => e.into(),
            ExecError::Store(e) => e.into(),
            ExecError::RegisterNameTaken { .. } => {
                ApiError::new(StatusCode::CONFLICT, "name_taken", error.to_string())
            }
            // A caller that may only register learns nothing of the other connections,
            // not even the holder's name.
            ExecError::TokenHeld { connection, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "token_held",
                format!(
                    "the refresh token handed over for '{connection}' is held by another connection already; nothing was stored: obtain new tokens for '{connection}' from the partner application (one pair per connection)"
                ),
            ),
            ExecError::UnknownCountry { .. }
            | ExecError::UnknownPlatform { .. }
            | ExecError::BadTime { .. }
            | ExecError::Platform(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                error.to_string(),
            ),
            other => ApiError::internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_cut_out() {
        assert_eq!(
            without_quoted("verify: invalid type: string \"s3cret\", expected a boolean"),
            "verify: invalid type: string …, expected a boolean"
        );
        assert_eq!(without_quoted("a `x` b"), "a … b");
    }
}
