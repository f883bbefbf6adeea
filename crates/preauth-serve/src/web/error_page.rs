//! The page that shows a [`PageError`].

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{self, Section};
use super::page_error::PageError;
use super::respond::maud_html;
use crate::error::log_failure;

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match &self {
            PageError::LoginNeeded => return Redirect::to("/login").into_response(),
            PageError::Csrf | PageError::AddressNotAllowed(_) => StatusCode::FORBIDDEN,
            PageError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) | PageError::Refused(_) => StatusCode::BAD_REQUEST,
            PageError::Internal(message) => {
                log_failure(StatusCode::INTERNAL_SERVER_ERROR, message);
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let body = html! {
            @match &self {
                PageError::Refused(shown) => p.alert role="alert" { (shown) },
                other => p.alert role="alert" { (other.to_string()) },
            }
            p { a href="/connections" { "Back to the connections" } }
        };
        let title = status.canonical_reason().unwrap_or("Error");
        (
            status,
            maud_html(layout::page(title, Section::Connections, None, body)),
        )
            .into_response()
    }
}
