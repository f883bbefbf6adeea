//! What statements run against: the actions' [`Context`] (the store, the platforms, the
//! lifecycle, the protector), the user agent that opens authorization URLs, and output
//! options.

use std::io::Write;
use std::ops::Deref;
use std::sync::Arc;

use preauth_actions::Context;

use super::authorize::UserAgent;
use super::exec_error::ExecError;
use crate::output::OutputFormat;
use crate::repl::ConnectionNames;

/// Everything a statement needs from outside the script: the actions' context (shared
/// with the other front ends of the process), the user agent and output options. It
/// dereferences to the [`Context`].
pub struct Environment {
    context: Arc<Context>,
    /// Opens authorization URLs (a browser, a command, or the sandbox's scripted login).
    pub user_agent: Arc<dyn UserAgent>,
    /// How tables are printed.
    pub format: OutputFormat,
    /// Print each statement before it runs.
    pub echo: bool,
    /// A person is at a terminal: return URLs may be pasted at the prompt.
    pub interactive: bool,
    /// Standard error is a terminal: long work (keep-alive) draws its progress there.
    pub progress: bool,
    /// The embedded sandbox's clock, when the run has one (`preauth --sandbox`).
    pub sandbox_clock: Option<Arc<dyn TimeMachine>>,
}

/// A clock that can be moved forward: the embedded sandbox's virtual clock, which the
/// run's own clock follows, so that expiries are reached without waiting.
pub trait TimeMachine: Send + Sync {
    /// Moves the clock forward by `by`.
    fn advance(&self, by: std::time::Duration);
}

impl Deref for Environment {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.context
    }
}

impl Environment {
    /// The environment over `context`, opening authorization URLs with `user_agent`.
    pub fn new(context: Arc<Context>, user_agent: Arc<dyn UserAgent>) -> Environment {
        Environment {
            context,
            user_agent,
            format: OutputFormat::Table,
            echo: false,
            interactive: false,
            progress: false,
            sandbox_clock: None,
        }
    }

    /// The actions' context, shared.
    pub fn context(&self) -> &Arc<Context> {
        &self.context
    }

    /// A callback listing the connection names, for completion in the REPL.
    pub fn connection_names(&self) -> ConnectionNames {
        let store = self.context.shared_store();
        Arc::new(move || store.names().unwrap_or_default())
    }

    /// Prints `text` on standard output.
    pub fn print(&self, text: &str) -> Result<(), ExecError> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(ExecError::Output)
    }

    /// Prints a remark for people (`local echo`, "connection 'x' dropped"): on standard
    /// output in a table run, on standard error with `--format csv|json`, so that standard
    /// output holds only the data a program parses.
    pub fn note(&self, text: &str) -> Result<(), ExecError> {
        if !self.format.is_data() {
            return self.print(text);
        }
        let mut err = std::io::stderr().lock();
        err.write_all(text.as_bytes())
            .and_then(|()| err.flush())
            .map_err(ExecError::Output)
    }
}
