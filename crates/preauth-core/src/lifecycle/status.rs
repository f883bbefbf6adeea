//! The state of a connection's tokens, for display and monitoring.

use std::time::SystemTime;

use crate::connection::Connection;
use crate::connection::Tokens;
use crate::platform::Platform;

/// Where a connection's tokens stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// No tokens: run preauthenticate.
    NotAuthorized,
    /// The access token is usable without a refresh.
    Valid,
    /// The access token is usable, but there is no refresh token: the connection stops
    /// working when the access token expires.
    Unrenewable,
    /// The access token is due for a refresh, and the refresh token is usable.
    NeedsRefresh,
    /// The access token is due and there is no refresh token: run preauthenticate.
    NoRefreshToken,
    /// The refresh token has expired: run preauthenticate.
    RefreshTokenExpired,
}

/// A connection's token times and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionStatus {
    /// The state.
    pub state: TokenState,
    /// When the access token expires.
    pub access_token_expires_at: Option<SystemTime>,
    /// When the refresh token was obtained.
    pub refresh_token_issued_at: Option<SystemTime>,
    /// When the refresh token expires (platforms where they do).
    pub refresh_token_expires_at: Option<SystemTime>,
}

/// The status of `connection` on `platform` at `now`.
pub fn connection_status(
    platform: &Platform,
    connection: &Connection,
    now: SystemTime,
) -> ConnectionStatus {
    let Some(tokens) = connection.tokens.as_ref() else {
        return ConnectionStatus {
            state: TokenState::NotAuthorized,
            access_token_expires_at: None,
            refresh_token_issued_at: None,
            refresh_token_expires_at: None,
        };
    };
    let refresh_expiry = refresh_token_expiry(platform, tokens);
    let state = if !needs_refresh(platform, tokens, now) {
        if tokens.refresh_token.is_none() {
            TokenState::Unrenewable
        } else {
            TokenState::Valid
        }
    } else if tokens.refresh_token.is_none() {
        TokenState::NoRefreshToken
    } else if refresh_expiry.is_some_and(|at| at <= now) {
        TokenState::RefreshTokenExpired
    } else {
        TokenState::NeedsRefresh
    };
    ConnectionStatus {
        state,
        access_token_expires_at: Some(tokens.access_token_expires_at),
        refresh_token_issued_at: tokens.refresh_token_issued_at,
        refresh_token_expires_at: refresh_expiry,
    }
}

/// Whether the stored access token must be refreshed at `now`.
pub fn needs_refresh(platform: &Platform, tokens: &Tokens, now: SystemTime) -> bool {
    if tokens.access_token.secret().is_empty() {
        return true;
    }
    now >= platform.refresh_allowed_from(tokens.access_token_expires_at)
}

/// When the stored refresh token expires, on platforms where they do.
pub fn refresh_token_expiry(platform: &Platform, tokens: &Tokens) -> Option<SystemTime> {
    let lifetime = platform.refresh_token_lifetime?;
    tokens.refresh_token.as_ref()?;
    tokens.refresh_token_issued_at?.checked_add(lifetime)
}
