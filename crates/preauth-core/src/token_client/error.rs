//! [`TokenError`]: what went wrong talking to a platform, and [`Grant`]: which request
//! it was.

use super::refusal::Refusal;
use crate::platform::PlatformError;

/// What went wrong talking to a platform. Messages hold no secret.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The platform answered and refused; see [`super::RefusalKind`] for the cause.
    #[error("{0}")]
    Refused(Refusal),
    /// The request never left (connection refused, DNS, TLS); retrying is safe.
    #[error(
        "the platform at {url} could not be reached ({reason}); nothing was sent, so trying again is safe"
    )]
    NotSent {
        /// The endpoint (without query).
        url: String,
        /// Why.
        reason: String,
    },
    /// The request was sent but no usable answer came back (timeout, connection dropped,
    /// 5xx): the grant may have been used.
    #[error(
        "the request to {url} was sent but its answer was lost ({reason}); the grant may have been used"
    )]
    OutcomeUnknown {
        /// The endpoint (without query).
        url: String,
        /// Why.
        reason: String,
    },
    /// The answer could not be read.
    #[error(
        "the platform answered HTTP {status} with something that cannot be read ({reason}): {excerpt}"
    )]
    Unparseable {
        /// The HTTP status.
        status: u16,
        /// What is wrong with it.
        reason: String,
        /// The beginning of the body, with anything token-like removed.
        excerpt: String,
    },
    /// The platform record or base URL gives no usable endpoint.
    #[error(transparent)]
    Endpoint(#[from] PlatformError),
    /// The platform has no such endpoint (no `me_path`, no token validation).
    #[error("platform '{platform}' has no {what} endpoint")]
    NoEndpoint {
        /// The platform id.
        platform: String,
        /// Which endpoint.
        what: &'static str,
    },
    /// The HTTP client could not be built (TLS roots).
    #[error("the HTTP client cannot be set up: {0}")]
    Client(String),
}

impl TokenError {
    /// Whether the grant sent may have been consumed without us knowing the result.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, TokenError::OutcomeUnknown { .. })
    }

    /// Whether a grant sent with this outcome may have been spent without us holding
    /// its replacement: the answer was lost, or it was a success (2xx) that cannot be read.
    pub fn grant_may_be_spent(&self) -> bool {
        match self {
            TokenError::OutcomeUnknown { .. } => true,
            TokenError::Unparseable { status, .. } => (200..300).contains(status),
            _ => false,
        }
    }
}

/// Which request an answer belongs to (refusals read differently per grant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// `grant_type=authorization_code`.
    Code,
    /// `grant_type=refresh_token`.
    Refresh,
    /// A bearer call with an access token (`current/Me`, token validation).
    Bearer,
}
