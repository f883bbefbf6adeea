//! The sandbox's answers to bad API calls, rendered as RFC 6749 §5.2 JSON the way Exact does.

use std::time::SystemTime;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::timefmt::exact_datetime;

/// Why a token, API or validation call was refused. `Display` is the `error_description`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// A required parameter is absent or empty.
    #[error("The request is missing the '{0}' parameter.")]
    MissingParameter(&'static str),
    /// A parameter appears more than once (RFC 6749 §3.1).
    #[error("The '{0}' parameter appears more than once.")]
    DuplicateParameter(String),
    /// The body is not `application/x-www-form-urlencoded`.
    #[error("The request body must be application/x-www-form-urlencoded.")]
    NotAForm,
    /// `grant_type` is neither `authorization_code` nor `refresh_token`.
    #[error("The grant type '{0}' is not supported.")]
    UnsupportedGrantType(String),
    /// Unknown client id or wrong secret. `basic` answers with a `WWW-Authenticate: Basic`
    /// challenge (Twinfield), otherwise as Exact does (400, credentials in the body).
    #[error("Client authentication failed.")]
    InvalidClient {
        /// Whether the platform authenticates clients with HTTP Basic.
        basic: bool,
    },
    /// Client credentials in the form body where HTTP Basic is required (Twinfield):
    /// answered as Basic `invalid_client`, with a description that names the cause.
    #[error(
        "Client authentication failed: this server authenticates clients with HTTP Basic (client_secret_basic), and the credentials came in the form body."
    )]
    ClientAuthInBody,
    /// The code was never issued, or to another client.
    #[error("The authorization code is invalid.")]
    UnknownCode,
    /// The code was already exchanged.
    #[error("The authorization code has already been used.")]
    CodeUsed,
    /// The code is older than its lifetime.
    #[error("The authorization code has expired.")]
    CodeExpired,
    /// `redirect_uri` differs from the one of the authorization request.
    #[error("The redirect_uri does not match the one used in the authorization request.")]
    RedirectMismatch,
    /// A PKCE challenge was given and the verifier is missing or does not match.
    #[error("The code_verifier does not match the code_challenge.")]
    PkceMismatch,
    /// The refresh token was never issued, or to another client.
    #[error("The refresh token is invalid.")]
    UnknownRefreshToken,
    /// Exact: the refresh token was already used once.
    #[error("Old refresh token used.")]
    OldRefreshToken,
    /// Exact: the refresh token lay unused for 30 days.
    #[error("The refresh token expired at {} and it is now {}.", exact_datetime(*.at), exact_datetime(*.now))]
    RefreshExpired {
        /// When it expired.
        at: SystemTime,
        /// Now, on the virtual clock.
        now: SystemTime,
    },
    /// Exact: a refresh before the last 30 s of the access token's life.
    #[error("Access token not expired")]
    AccessNotExpired,
    /// Exact: the daily token-endpoint budget is spent.
    #[error("Rate limit exceeded: {limit} token requests per day; the budget resets at {}.", exact_datetime(*.reset))]
    TokenBudgetSpent {
        /// The budget.
        limit: u32,
        /// When it resets.
        reset: SystemTime,
    },
    /// Exact: the app made too many errors within an hour and is blocked.
    #[error("The app is blocked after too many errors within an hour; it is unblocked at {}.", exact_datetime(*.until))]
    Blocked {
        /// When the block ends.
        until: SystemTime,
    },
    /// Exact: the minutely or daily API limit is spent.
    #[error("Rate limit exceeded: too many API calls; see the X-RateLimit headers.")]
    ApiRateLimit,
    /// A bearer token is missing, unknown or expired (`401` with `WWW-Authenticate`).
    #[error("The access token is missing, invalid or expired.")]
    BearerRejected,
    /// Twinfield's `accesstokenvalidation`: the token is unknown or expired.
    #[error("The access token is invalid or expired.")]
    TokenNotValid,
    /// `DropAfterRotate` was injected but the router is not served with cuttable connections.
    #[error("The injected fault could not cut this connection.")]
    CannotCut,
}

impl ApiError {
    /// The RFC 6749 §5.2 `error` code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            ApiError::MissingParameter(_)
            | ApiError::DuplicateParameter(_)
            | ApiError::NotAForm => "invalid_request",
            ApiError::UnsupportedGrantType(_) => "unsupported_grant_type",
            ApiError::InvalidClient { .. } | ApiError::ClientAuthInBody => "invalid_client",
            ApiError::UnknownCode
            | ApiError::CodeUsed
            | ApiError::CodeExpired
            | ApiError::RedirectMismatch
            | ApiError::PkceMismatch
            | ApiError::UnknownRefreshToken => "invalid_grant",
            ApiError::OldRefreshToken => "unauthorized_client",
            ApiError::RefreshExpired { .. } => "invalid_request",
            ApiError::AccessNotExpired
            | ApiError::TokenBudgetSpent { .. }
            | ApiError::Blocked { .. }
            | ApiError::ApiRateLimit => "access_denied",
            ApiError::BearerRejected | ApiError::TokenNotValid => "invalid_token",
            ApiError::CannotCut => "server_error",
        }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidClient { basic: true }
            | ApiError::ClientAuthInBody
            | ApiError::OldRefreshToken
            | ApiError::AccessNotExpired
            | ApiError::BearerRejected => StatusCode::UNAUTHORIZED,
            ApiError::TokenBudgetSpent { .. }
            | ApiError::Blocked { .. }
            | ApiError::ApiRateLimit => StatusCode::TOO_MANY_REQUESTS,
            ApiError::CannotCut => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether this answer counts towards Exact's "N errors an hour" block. Refusals for
    /// limits themselves do not (else a block would never end).
    pub(crate) fn counts_towards_block(&self) -> bool {
        !matches!(
            self,
            ApiError::TokenBudgetSpent { .. }
                | ApiError::Blocked { .. }
                | ApiError::ApiRateLimit
                | ApiError::CannotCut
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
        };
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            ApiError::InvalidClient { basic: true } | ApiError::ClientAuthInBody => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"sandbox\""),
                );
            }
            ApiError::BearerRejected => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            _ => {}
        }
        response
    }
}
