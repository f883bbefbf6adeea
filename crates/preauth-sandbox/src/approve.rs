//! A scripted user agent that logs in and consents on the sandbox's pages.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::SandboxError;

/// What a person types on the sandbox's login page.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Login {
    /// The user name.
    pub user: String,
    /// The password (redacted in `Debug`).
    pub password: String,
    /// The 2FA (TOTP) code (redacted in `Debug`).
    pub totp: String,
}

impl Login {
    /// The demo user's name.
    pub const DEMO_USER: &'static str = "demo";
    /// The demo user's password; public on purpose, it only works on the sandbox.
    pub const DEMO_PASSWORD: &'static str = "demo";
    /// The demo user's 2FA code (fixed: the sandbox has no authenticator app).
    pub const DEMO_TOTP: &'static str = "123456";

    /// The sandbox's built-in user: `demo` / `demo`, 2FA code `123456`.
    pub fn demo() -> Login {
        Login {
            user: Self::DEMO_USER.to_owned(),
            password: Self::DEMO_PASSWORD.to_owned(),
            totp: Self::DEMO_TOTP.to_owned(),
        }
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .field("totp", &"[redacted]")
            .finish()
    }
}

/// Opens `authorize_url`, fills in the login (user, password, 2FA) and consent pages as a
/// person would (choosing "Allow"), and returns the final redirect URL (the registered
/// `redirect_uri` with `code` and `state`) without following it. With auto-approve the first
/// answer is already that redirect.
pub async fn approve(authorize_url: &str, login: &Login) -> Result<String, SandboxError> {
    let _ = login;
    Err(SandboxError::InvalidUrl(format!(
        "not implemented yet ({} bytes)",
        authorize_url.len()
    )))
}
