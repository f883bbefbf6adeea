//! What the sandbox counts, for tests to assert on.

use serde::{Deserialize, Serialize};

/// A snapshot of the sandbox's counters (also served as JSON at `GET /sandbox/counters`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Counters {
    /// Authorize requests that passed client and redirect checks (both platforms).
    pub authorize_requests: u64,
    /// Successful logins on the login page.
    pub logins: u64,
    /// Authorization codes issued.
    pub codes_issued: u64,
    /// Token requests with `grant_type=authorization_code` (successful or not).
    pub token_calls_authorization_code: u64,
    /// Token requests with `grant_type=refresh_token` (successful or not).
    pub token_calls_refresh_token: u64,
    /// Token requests with a missing or unsupported grant type.
    pub token_calls_other: u64,
    /// Refresh requests that presented an already spent refresh token.
    pub spent_refresh_token_reuses: u64,
    /// Error answers from the token endpoints (OAuth errors, not faults).
    pub token_errors: u64,
    /// Calls refused because the daily budget was spent or the app is blocked.
    pub rate_limited: u64,
    /// Calls to `/api/v1/current/Me` (successful or not).
    pub me_calls: u64,
    /// Calls to Twinfield's `accesstokenvalidation` (successful or not).
    pub token_validations: u64,
    /// Faults that were applied.
    pub faults_applied: u64,
}
