//! The API's errors: `{"error": "<code>", "message": "<one sentence>"}` with the HTTP
//! status that says whose fault it is. Messages never carry a secret: errors of the
//! lifecycle name connections and dates, and text from a request body is cut out.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use preauth_actions::{ActionError, AppSetting};
use preauth_core::advice::Advice;
use preauth_core::api_keys::ApiKeyError;
use preauth_core::error::{HandedToken, LifecycleError};
use preauth_core::store::StoreError;

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
    /// For a body that does not fit: the field (as a path) and what it should be, sent as
    /// `field` and `expected`.
    pub misfit: Option<Box<(String, Option<String>)>>,
    /// What repairs it, sent as `advice`: codes with the route to call.
    pub advice: Vec<Advice>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            misfit: None,
            advice: Vec::new(),
        }
    }

    /// This error with `advice`.
    pub(crate) fn advised(self, advice: Vec<Advice>) -> ApiError {
        ApiError { advice, ..self }
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

    /// 422: the request's `field` holds a value the server cannot take.
    pub(crate) fn invalid_field(field: &str, message: String) -> ApiError {
        ApiError {
            misfit: Some(Box::new((field.to_string(), None))),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
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
        let mut body = serde_json::json!({"error": self.code, "message": self.message});
        if !self.advice.is_empty() {
            body["advice"] = crate::advice::for_api(&self.advice);
        }
        if let Some((field, expected)) = self.misfit.as_deref() {
            body["field"] = serde_json::json!(field);
            body["expected"] = serde_json::json!(expected);
        }
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
                    crate::limits::BODY_LIMIT
                ),
            );
        }
        let (status, code, what) = match &rejection {
            JsonRejection::MissingJsonContentType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON, sent with Content-Type: application/json".to_string(),
            ),
            JsonRejection::JsonDataError(_) => {
                let misfit = Misfit::of(&rejection.body_text());
                let mut error =
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", misfit.sentence());
                error.misfit = misfit.field.map(|field| Box::new((field, misfit.expected)));
                return error;
            }
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

/// What was wrong with a body that is JSON but does not fit, read from serde's words
/// without a byte of the body: serde quotes the values it did not expect, and a quoted
/// value may be a secret (with escaped quotes inside), so only the field's path (the
/// text before the first `: `, made of our own field names) and what serde expected
/// (after the last `, expected `, from our own types) are kept.
#[derive(Debug, PartialEq, Eq)]
struct Misfit {
    field: Option<String>,
    expected: Option<String>,
    /// A field the body lacks (the name is ours).
    missing: Option<String>,
    /// A field the body has and the API does not know.
    unknown: bool,
}

impl Misfit {
    fn of(text: &str) -> Misfit {
        let text = text
            .strip_prefix("Failed to deserialize the JSON body into the target type: ")
            .unwrap_or(text);
        let text = text.rfind(" at line ").map_or(text, |at| &text[..at]);
        let (path, words) = match text.split_once(": ") {
            Some((path, words)) if is_path(path) => (Some(path), words),
            _ => (None, text),
        };
        let ours = |word: &str| word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let missing = words
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name)
            .filter(|name| ours(name))
            .map(str::to_string);
        let unknown = words.starts_with("unknown field");
        let expected = (!unknown && missing.is_none())
            .then(|| words.rfind(", expected ").map(|at| &words[at + 11..]))
            .flatten()
            .map(str::to_string);
        // The path of an unknown field is the caller's own key: never said back.
        let path = path.filter(|p| *p != "." && !unknown);
        Misfit {
            field: missing.clone().or_else(|| path.map(str::to_string)),
            expected,
            missing,
            unknown,
        }
    }

    /// The sentence for people.
    fn sentence(&self) -> String {
        match (&self.missing, self.unknown, &self.field, &self.expected) {
            (Some(name), ..) => format!("the body has no field '{name}', which is required"),
            (None, true, ..) => {
                "the body has a field the API does not know; see openapi.json for the fields"
                    .to_string()
            }
            (None, false, Some(field), Some(expected)) => {
                format!("the body's field '{field}' must be {expected}")
            }
            (None, false, Some(field), None) => {
                format!("the body's field '{field}' has a value that does not fit")
            }
            (None, false, None, Some(expected)) => format!("the body must be {expected}"),
            (None, false, None, None) => "the body does not fit the request's fields".to_string(),
        }
    }
}

/// Whether `text` is a field path as serde_path_to_error writes it (`a`, `a.b`, `a[0]`, `.`).
fn is_path(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
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
            // The key's row locked by another session longer than the lock wait.
            ApiKeyError::Store {
                source: StoreError::RowLocked { .. },
                ..
            } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", error.to_string()),
            _ => ApiError::internal(error.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        let (status, code) = match &error {
            StoreError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::AlreadyExists { .. } => (StatusCode::CONFLICT, "name_taken"),
            StoreError::InvalidName { .. } => {
                return ApiError::invalid_field("name", error.to_string());
            }
            StoreError::LockTimeout { .. } | StoreError::RowLocked { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "busy")
            }
            StoreError::Unavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            StoreError::Spooled { .. } => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "store_failed"),
        };
        let advice = error.advice();
        ApiError::new(status, code, error.to_string()).advised(advice)
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> ApiError {
        use LifecycleError as E;
        let error = match error {
            E::Store(store) => return store.into(),
            E::UnusableToken { token, .. } => {
                let field = match token {
                    HandedToken::Access => "access_token",
                    HandedToken::Refresh => "refresh_token",
                };
                return ApiError::invalid_field(field, error.to_string());
            }
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
            E::RateLimited { .. } | E::OverBudget { .. } | E::RetryLater { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "platform_rate_limited")
            }
            E::Unreachable { .. }
            | E::RefreshOutcomeUnknown { .. }
            | E::CodeOutcomeUnknown { .. }
            | E::Unparseable { .. } => (StatusCode::BAD_GATEWAY, "platform_unavailable"),
            _ => (StatusCode::BAD_GATEWAY, "platform_refused"),
        };
        ApiError::new(status, code, sentence(&error)).advised(error.advice())
    }
}

/// What an API answer or a page says of `error`: its message, except that the
/// beginning of a platform answer that cannot be read goes only to this server's log
/// (the platform may be a host that a partner's key pointed at, and its answer no
/// business of the caller's).
pub(crate) fn sentence(error: &LifecycleError) -> String {
    match error {
        LifecycleError::Unparseable {
            name,
            status,
            reason,
            excerpt,
        } => {
            eprintln!(
                "preauth serve: the platform's answer for '{name}' (HTTP {status}, {reason}) began: {excerpt}"
            );
            format!(
                "the platform's answer for '{name}' cannot be read (HTTP {status}, {reason}); its beginning is in this server's log"
            )
        }
        other => other.to_string(),
    }
}

/// What a page or the log says of an action's error: its [`sentence`], without its
/// advice (which a page shows as links).
pub(crate) fn action_sentence(error: &ActionError) -> String {
    match error {
        ActionError::Lifecycle(error) => sentence(error),
        other => other.to_string(),
    }
}

impl From<ActionError> for ApiError {
    fn from(error: ActionError) -> ApiError {
        let advice = error.advice();
        let answer = match error {
            ActionError::Lifecycle(e) => e.into(),
            ActionError::Store(e) => e.into(),
            ActionError::RegisterNameTaken { .. } => {
                ApiError::new(StatusCode::CONFLICT, "name_taken", error.to_string())
            }
            // A caller that may only register learns nothing of the other connections,
            // not even the holder's name.
            ActionError::TokenHeld { connection, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "token_held",
                format!(
                    "the refresh token handed over for '{connection}' is held by another connection already; nothing was stored: obtain new tokens for '{connection}' from the partner application (one pair per connection)"
                ),
            ),
            ActionError::UnknownCountry { .. } => {
                ApiError::invalid_field("country", error.to_string())
            }
            ActionError::UnknownPlatform { .. } => {
                ApiError::invalid_field("platform", error.to_string())
            }
            ActionError::BadTime { .. } => {
                ApiError::invalid_field("obtained_at", error.to_string())
            }
            ActionError::Platform(_) => ApiError::invalid_field("api_url", error.to_string()),
            ActionError::NotShared => {
                ApiError::new(StatusCode::CONFLICT, "not_shared", error.to_string())
            }
            ActionError::MissingAppSetting { setting, .. } => {
                let field = match setting {
                    AppSetting::ClientId => "client_id",
                    AppSetting::ClientSecret => "client_secret",
                    AppSetting::RedirectUrl => "redirect_url",
                };
                ApiError::invalid_field(field, error.to_string())
            }
            other => ApiError::internal(other.to_string()),
        };
        answer.advised(advice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misfit_names_the_field_and_never_a_value() {
        let prefix = "Failed to deserialize the JSON body into the target type: ";
        let wrong = Misfit::of(&format!(
            "{prefix}verify: invalid type: string \"SECRET\\\", expected a number TAILLEAK\", expected a boolean at line 1 column 60"
        ));
        assert_eq!(wrong.field.as_deref(), Some("verify"));
        assert_eq!(wrong.expected.as_deref(), Some("a boolean"));
        let sentence = wrong.sentence();
        assert!(
            !sentence.contains("SECRET") && !sentence.contains("TAIL"),
            "{sentence}"
        );
        let missing = Misfit::of(&format!(
            "{prefix}missing field `refresh_token` at line 1 column 12"
        ));
        assert_eq!(missing.field.as_deref(), Some("refresh_token"));
        assert!(missing.sentence().contains("'refresh_token'"));
        let unknown = Misfit::of(&format!(
            "{prefix}colour: unknown field `colour`, expected one of `name`, `platform` at line 1 column 9"
        ));
        assert!(unknown.unknown && unknown.expected.is_none() && unknown.field.is_none());
        assert!(!unknown.sentence().contains("colour"));
    }
}
