//! Errors of the library API (loading apps, the scripted user agent).

use std::path::PathBuf;

/// What went wrong when using the sandbox library (not the HTTP answers it serves).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The apps file could not be read.
    #[error("cannot read the apps file {path}: {source}")]
    ReadApps {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The apps file is not what the sandbox expects.
    #[error(
        "the apps file {path} is invalid: {reason}; expected {{\"apps\": [{{\"client_id\": \"..\", \"client_secret\": \"..\", \"redirect_uris\": [\"..\"]}}]}}"
    )]
    InvalidApps {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (never contains a secret).
        reason: String,
    },
    /// The URL given to `approve` is not a URL.
    #[error("the authorize URL is not a valid URL ({0}); pass the full URL the application built")]
    InvalidUrl(String),
    /// `approve` only talks to the sandbox on loopback.
    #[error(
        "refusing to send a login to {host}: the scripted user agent only talks to 127.0.0.1 or ::1"
    )]
    NotLoopback {
        /// The host that was refused.
        host: String,
    },
    /// The sandbox could not be reached or the exchange broke off.
    #[error("could not talk to the sandbox at {url}: {source}")]
    Http {
        /// Where (without query: it may carry state).
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The sandbox showed an error page instead of a login form or a redirect.
    #[error("the sandbox refused the authorization request (HTTP {status}): {message}")]
    Refused {
        /// The HTTP status of the error page.
        status: u16,
        /// The message on the page.
        message: String,
    },
    /// The login page came back: user, password or 2FA code were wrong.
    #[error("the sandbox rejected the login: {message}; check the user, password and 2FA code")]
    LoginRejected {
        /// The message on the page.
        message: String,
    },
    /// The sandbox answered something the scripted user agent does not understand.
    #[error(
        "unexpected answer from the sandbox (HTTP {status}) while {step}; is this a preauth sandbox?"
    )]
    UnexpectedPage {
        /// The HTTP status.
        status: u16,
        /// What the user agent was doing.
        step: &'static str,
    },
}
