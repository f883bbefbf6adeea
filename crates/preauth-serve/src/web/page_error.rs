//! Why a page could not be shown ([`PageError`]); [`super::error_page`] renders it.

use axum::http::StatusCode;
use axum::response::Response;
use maud::Markup;

use crate::error::ApiError;
use crate::key_address::AddressRefused;

/// A page, or why it could not be shown.
pub(crate) type PageResult = Result<Response, PageError>;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// The page needs a login.
    #[error("log in first")]
    LoginNeeded,
    /// A form without this session's CSRF token.
    #[error(
        "this form has expired or was not sent from this site's own page: go back, reload the page and send it again"
    )]
    Csrf,
    /// Too many sessions at once.
    #[error("too many sessions at once; try again in a few minutes")]
    Busy,
    /// The API key of the login or of the session may not be used from here.
    #[error("{0}")]
    AddressNotAllowed(String),
    /// What was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A request the page cannot take (a form that does not parse).
    #[error("{0}")]
    BadRequest(String),
    /// An action refused, as shown: its sentence and its advice's links.
    #[error("{}", .0.0)]
    Refused(Markup),
    /// The server failed.
    #[error("{0}")]
    Internal(String),
}

impl From<AddressRefused> for PageError {
    fn from(refused: AddressRefused) -> PageError {
        PageError::AddressNotAllowed(refused.to_string())
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> PageError {
        match error.status {
            StatusCode::NOT_FOUND => PageError::NotFound(error.message),
            s if s.is_client_error() => PageError::BadRequest(error.message),
            _ => PageError::Internal(error.message),
        }
    }
}
