//! [`Refusal`]: a platform's answer that refused a request, and its cause
//! ([`RefusalKind`]). How an answer is read into one is [`super::classify`].

use std::fmt;
use std::time::SystemTime;

/// A refusal by the platform: the request was processed (or deliberately not) and
/// answered with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The cause.
    pub kind: RefusalKind,
    /// The HTTP status.
    pub status: u16,
    /// The OAuth `error` code (empty when the answer had none).
    pub error: String,
    /// The `error_description`, when given (printable, shortened).
    pub description: Option<String>,
}

/// Why the platform refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalKind {
    /// The refresh token expired (Exact: 30 days unused); with the moment when the
    /// platform's message names it.
    RefreshTokenExpired {
        /// When it expired, if the message said.
        expired_at: Option<SystemTime>,
    },
    /// The refresh token was already used ("Old refresh token used.").
    RefreshTokenSpent,
    /// The access token is still too fresh to be refreshed ("Access token not expired").
    RefreshTooEarly,
    /// Too many calls; with the moment a retry is allowed, when the headers say.
    RateLimited {
        /// When a retry is allowed, if known.
        retry_at: Option<SystemTime>,
    },
    /// The client id or secret is wrong (`invalid_client`).
    InvalidClient,
    /// The redirect URI differs from the one registered or used for the code.
    RedirectUriMismatch,
    /// The authorization code is invalid, already used or expired.
    CodeRejected,
    /// The refresh token is unknown or revoked.
    RefreshTokenRejected,
    /// The access token was not accepted (bearer calls).
    AccessTokenRejected,
    /// Another refusal.
    Other,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the platform refused with HTTP {}", self.status)?;
        if !self.error.is_empty() {
            write!(f, " {}", self.error)?;
        }
        if let Some(d) = &self.description {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}
