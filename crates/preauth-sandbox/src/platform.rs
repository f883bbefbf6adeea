//! The two platforms the sandbox imitates, as data.

use std::time::Duration;

/// Which platform a request, code or token belongs to. Tokens never cross platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Platform {
    /// Exact Online (`/api/oauth2/...`).
    Exact,
    /// Twinfield (`/auth/authentication/connect/...`).
    Twinfield,
}

/// How long a refresh token lives unused on Exact.
pub(crate) const EXACT_REFRESH_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Exact refuses a refresh sooner than this before the access token's end.
pub(crate) const EXACT_REFRESH_WINDOW: Duration = Duration::from_secs(30);
/// Twinfield's access token lifetime.
pub(crate) const TWINFIELD_ACCESS_SECONDS: u64 = 3600;
/// How long a login/consent page stays usable.
pub(crate) const PENDING_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// How long a login session (cookie) lasts.
pub(crate) const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

impl Platform {
    /// How long an authorization code works: Exact about 3 minutes, IdentityServer 5.
    pub(crate) fn code_lifetime(self) -> Duration {
        match self {
            Platform::Exact => Duration::from_secs(180),
            Platform::Twinfield => Duration::from_secs(300),
        }
    }

    /// Where the login form posts.
    pub(crate) fn login_path(self) -> &'static str {
        match self {
            Platform::Exact => "/api/oauth2/login",
            Platform::Twinfield => "/auth/authentication/account/login",
        }
    }

    /// Where the consent form posts.
    pub(crate) fn consent_path(self) -> &'static str {
        match self {
            Platform::Exact => "/api/oauth2/consent",
            Platform::Twinfield => "/auth/authentication/consent",
        }
    }

    /// The brand shown on the pages.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Platform::Exact => "Exact Online (sandbox)",
            Platform::Twinfield => "Twinfield (sandbox)",
        }
    }
}
