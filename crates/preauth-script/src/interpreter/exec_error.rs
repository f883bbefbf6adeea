//! Why a statement failed: [`ExecError`], one sentence per cause, the core's errors kept
//! typed as the actions' errors.

use std::path::PathBuf;

use preauth_actions::ActionError;
use preauth_core::api_keys::ApiKeyError;
use preauth_core::connstr::ConnStrError;
use preauth_core::error::{LifecycleError, Quoted};
use preauth_core::loopback::LoopbackError;
use preauth_core::platform::{DiscoveryError, PlatformError};
use preauth_core::protector::ProtectError;
use preauth_core::store::StoreError;

use crate::parser::StatementError;

/// How deep `local include` may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Why a statement failed. Each message is one sentence for the user; none holds a secret.
/// Errors from the core keep their type (and so their `source()` chain); the
/// interpreter's own causes have a variant each.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// An action failed (the lifecycle, the store, a check of the request).
    #[error(transparent)]
    Action(#[from] ActionError),
    /// `${NAME}` substitution or the substituted text failed.
    #[error(transparent)]
    Statement(#[from] StatementError),
    /// The loopback listener for a redirect URL could not bind or failed.
    #[error(transparent)]
    Loopback(#[from] LoopbackError),
    /// The loopback listener's task ended without an answer.
    #[error("the loopback listener stopped: {0}")]
    LoopbackStopped(#[source] tokio::task::JoinError),
    /// `encrypt connection` was given text that is not a connection string.
    #[error("not a connection string: {0}")]
    NotAConnectionString(#[source] ConnStrError),
    /// `local undefine` of a name that is not defined.
    #[error("'{name}' is not defined, so it cannot be undefined")]
    NotDefined {
        /// The name.
        name: String,
    },
    /// `local include` nests deeper than [`MAX_INCLUDE_DEPTH`].
    #[error(
        "local include '{path}' nests deeper than {MAX_INCLUDE_DEPTH} levels; look for an include cycle"
    )]
    IncludeTooDeep {
        /// The include that went too deep, as written.
        path: String,
    },
    /// A login that nothing can finish in this run (no terminal to paste the return URL,
    /// no browser opened, or cancelled): it stays pending in the store.
    #[error(
        "the login for connection '{name}' did not finish: nothing brought the browser's return URL to this run; the login stays pending: after logging in at the URL above, the browser lands on {redirect_url}?code=…; finish it with `exchange code url '<that whole address>'` {within}, or start it again with `preauthenticate connection {}`", Quoted(.name)
    )]
    LoginNotFinished {
        /// The connection logged in for.
        name: String,
        /// Where the browser lands after the login.
        redirect_url: String,
        /// How soon it must be finished (see [`preauth_core::flow::finish_within`]).
        within: String,
    },
    /// `advance sandbox clock` in a run without the embedded sandbox.
    #[error("advance sandbox clock works only in a run started with --sandbox")]
    NoSandboxClock,
    /// The keep-alive could not refresh every connection (each failure was printed).
    #[error("{failed} of {total} connections could not be refreshed{}", unread_files(*files))]
    KeepAliveFailed {
        /// Connections that failed.
        failed: usize,
        /// Connections looked at.
        total: usize,
        /// Settings files that could not be read.
        files: usize,
    },
    /// An included script could not be read.
    #[error("cannot read included script {}: {source}", path.display())]
    Include {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing the output failed (a closed pipe).
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

impl ExecError {
    /// What repairs it (see [`preauth_core::advice::Advice`]).
    pub fn advice(&self) -> Vec<preauth_core::advice::Advice> {
        match self {
            ExecError::Action(action) => action.advice(),
            _ => Vec::new(),
        }
    }
}

/// The core's errors are the actions' errors.
macro_rules! from_action_cause {
    ($($cause:ty),*) => {$(
        impl From<$cause> for ExecError {
            fn from(error: $cause) -> ExecError {
                ExecError::Action(error.into())
            }
        }
    )*};
}

from_action_cause!(
    LifecycleError,
    StoreError,
    ProtectError,
    PlatformError,
    DiscoveryError,
    ApiKeyError
);

/// The end of the keep-alive's failure sentence.
fn unread_files(files: usize) -> String {
    match files {
        0 => "; see the failures above".into(),
        n => format!(
            ", and {n} settings file{} could not be read; see the errors above",
            if n == 1 { "" } else { "s" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use preauth_core::connstr::ConnectionString;

    use super::*;

    #[test]
    fn typed_causes_keep_their_source_and_their_sentence() {
        let parse = ConnectionString::parse("no-equals").expect_err("not a connection string");
        let error = ExecError::NotAConnectionString(parse.clone());
        assert_eq!(
            error.to_string(),
            format!("not a connection string: {parse}")
        );
        assert!(
            error
                .source()
                .is_some_and(|s| s.to_string() == parse.to_string())
        );

        let source = humantime::parse_rfc3339_weak("soon").expect_err("not a time");
        let error = ExecError::from(ActionError::BadTime {
            text: "soon".into(),
            source,
        });
        assert_eq!(
            error.to_string(),
            "obtained at 'soon' is not a time like 2026-11-20T10:00:00Z"
        );
        assert!(error.source().is_some());

        let platform = preauth_core::platform::Platform::generic(
            preauth_core::platform::GenericPlatform::new(
                "x",
                None,
                "not a url",
                "https://x.invalid/t",
            ),
        )
        .expect_err("a bad definition");
        let sentence = platform.to_string();
        let error = ExecError::from(platform);
        assert!(matches!(error, ExecError::Action(ActionError::Platform(_))));
        assert_eq!(error.to_string(), sentence);
    }

    #[test]
    fn the_keep_alive_sentence_counts_failures_and_unread_files() {
        let one = ExecError::KeepAliveFailed {
            failed: 2,
            total: 3,
            files: 0,
        };
        assert_eq!(
            one.to_string(),
            "2 of 3 connections could not be refreshed; see the failures above"
        );
        let files = ExecError::KeepAliveFailed {
            failed: 1,
            total: 3,
            files: 1,
        };
        assert_eq!(
            files.to_string(),
            "1 of 3 connections could not be refreshed, and 1 settings file could not be read; see the errors above"
        );
    }
}
