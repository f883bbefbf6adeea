//! The interpreter: runs statements against the core.
//!
//! A run parses the whole script first (a syntax error anywhere exits 2 before anything
//! runs or changes), then runs statement by statement, substituting `${NAME}` from the
//! defines made so far. What a failure does is chosen by `local on error`, with
//! Invantive's meanings; see [`exit`] for the exit codes.

mod api_keys;
mod authorize;
mod budget;
mod connections;
mod environment;
mod exec_error;
mod local;
mod machines;
mod show;
mod webhooks;

use std::path::Path;

use crate::ast::{OnErrorMode, Statement, StatementKind};
use crate::diagnostics::ParseError;
use crate::parser::{RawStatement, StatementError, split};
use crate::substitute::Defines;

pub use authorize::{UserAgent, UserAgentFuture};
pub use connections::{DEFAULT_KEEP_ALIVE_DAYS, KEEP_ALIVE_CONCURRENCY};
pub use environment::{Environment, TimeMachine};
pub use exec_error::{ExecError, MAX_INCLUDE_DEPTH};
pub use show::access_token_output;

/// Exit codes of a run (documented in `--help` and the README).
pub mod exit {
    /// Every statement succeeded (or failures were ignored).
    pub const SUCCESS: i32 = 0;
    /// A statement failed.
    pub const FAILURE: i32 = 1;
    /// Usage or parse error: nothing ran.
    pub const USAGE: i32 = 2;
    /// `local on error exit warning` ended the run.
    pub const WARNING: i32 = 3;
}

/// Checks a whole script's syntax as a run would before running anything (statements
/// holding `${NAME}` are checked when they run), so that a caller can refuse a script
/// with exit code 2 before it opens or creates anything.
pub fn check_syntax(source: &str, origin: &str) -> Result<(), ParseError> {
    prepare(source, origin).map(|_| ())
}

/// Splits a script and parses every statement that needs no substitution.
fn prepare(
    source: &str,
    origin: &str,
) -> Result<Vec<(RawStatement, Option<Statement>)>, ParseError> {
    split(source, origin)?
        .into_iter()
        .map(|piece| {
            let parsed = match piece.text().contains("${") {
                true => None,
                false => Some(piece.parse()?),
            };
            Ok((piece, parsed))
        })
        .collect()
}

/// What the run does after a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Go on with the next statement.
    Next,
    /// A statement failed under `local on error default`: stop this run (exit 1 in a
    /// script); the shell reports it and reads the next input.
    Stop,
    /// End the run with this exit code.
    Exit(i32),
}

/// A script session: the environment, the defines and the error mode.
pub struct Interpreter {
    env: Environment,
    defines: Defines,
    on_error: OnErrorMode,
    /// A statement failed under `local on error continue`.
    failed: bool,
    depth: usize,
}

impl Interpreter {
    /// A session over `env` with no defines and `on error default`.
    pub fn new(env: Environment) -> Interpreter {
        Interpreter {
            env,
            defines: Defines::new(),
            on_error: OnErrorMode::Default,
            failed: false,
            depth: 0,
        }
    }

    /// The defines, to preset variables (for example `SANDBOX_URL`).
    pub fn defines_mut(&mut self) -> &mut Defines {
        &mut self.defines
    }

    /// The environment.
    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// Runs a whole script; returns the exit code. `origin` names it in errors; includes
    /// are resolved relative to `base_dir`.
    pub async fn run_script(&mut self, source: &str, origin: &str, base_dir: &Path) -> i32 {
        self.run_scripts(&[(source, origin, base_dir)]).await
    }

    /// Runs several scripts in order in this session (`-c` and `-f` as typed), as one run:
    /// a failure that stops a script stops the run, and `local on error` carries over.
    pub async fn run_scripts(&mut self, scripts: &[(&str, &str, &Path)]) -> i32 {
        for (source, origin, base_dir) in scripts {
            match self.run_statements(source, origin, base_dir).await {
                Flow::Exit(code) => return code,
                Flow::Stop => return exit::FAILURE,
                Flow::Next => {}
            }
        }
        match self.failed {
            true => exit::FAILURE,
            false => exit::SUCCESS,
        }
    }

    /// Runs one complete REPL input. Errors are reported and the session goes on (the rest
    /// of the input is skipped, as a script would stop there); returns an exit code only
    /// when a statement ended the session on purpose (`local on error exit …`).
    pub async fn run_interactive(&mut self, input: &str, base_dir: &Path) -> Option<i32> {
        self.failed = false;
        match self.run_statements(input, "<input>", base_dir).await {
            Flow::Exit(exit::USAGE) | Flow::Stop | Flow::Next => None,
            Flow::Exit(code) => Some(code),
        }
    }

    /// Parses every statement that needs no substitution first, so that a syntax error
    /// anywhere stops the run (exit 2) before anything ran; then runs them in order,
    /// substituting `${NAME}` in the others from the defines made so far.
    async fn run_statements(&mut self, source: &str, origin: &str, base_dir: &Path) -> Flow {
        let prepared = match prepare(source, origin) {
            Ok(prepared) => prepared,
            Err(error) => {
                eprintln!("{error}");
                return Flow::Exit(exit::USAGE);
            }
        };
        for (piece, parsed) in prepared {
            let statement = match parsed {
                Some(statement) => Ok(statement),
                None => piece.substitute_and_parse(&self.defines),
            };
            let outcome = match statement {
                Ok(statement) => {
                    self.echo(&statement);
                    Box::pin(self.execute(&statement, base_dir))
                        .await
                        .map_err(|e| (statement.location.to_string(), e))
                }
                Err(error) => Err((piece.location().to_string(), error.into())),
            };
            let flow = match outcome {
                Ok(flow) => flow,
                Err((at, error)) => self.failure(&at, &error),
            };
            if flow != Flow::Next {
                return flow;
            }
        }
        Flow::Next
    }

    /// Reports a failed statement and applies `local on error`.
    fn failure(&mut self, at: &str, error: &ExecError) -> Flow {
        let text = match error {
            // Parse errors render their own place, line and caret.
            ExecError::Statement(StatementError::Parse(e)) => e.to_string(),
            // Substitution errors name their place already.
            ExecError::Statement(e @ StatementError::Substitute { .. }) => format!("error: {e}"),
            other => format!(
                "error: {at}: {}",
                crate::advice::advised(&other.to_string(), &other.advice())
            ),
        };
        match self.on_error {
            OnErrorMode::Ignore => {
                eprintln!("{text} (ignored)");
                Flow::Next
            }
            OnErrorMode::Continue => {
                eprintln!("{text}");
                self.failed = true;
                Flow::Next
            }
            OnErrorMode::Default => {
                eprintln!("{text}");
                Flow::Stop
            }
            OnErrorMode::ExitSuccess => {
                eprintln!("{text}");
                Flow::Exit(exit::SUCCESS)
            }
            OnErrorMode::ExitFailure => {
                eprintln!("{text}");
                Flow::Exit(exit::FAILURE)
            }
            OnErrorMode::ExitWarning => {
                eprintln!("{text}");
                Flow::Exit(exit::WARNING)
            }
        }
    }

    /// With `--echo`, prints the statement as written (secrets redacted) before it runs.
    fn echo(&self, statement: &Statement) {
        if self.env.echo {
            let text = statement
                .redacted_raw()
                .unwrap_or_else(|| "(statement with secrets; not echoed)".into());
            eprintln!("> {text};");
        }
    }

    async fn execute(&mut self, statement: &Statement, base_dir: &Path) -> Result<Flow, ExecError> {
        use StatementKind as K;
        match &statement.kind {
            K::Include { path } => return self.include(path, base_dir).await,
            K::OnError(mode) => self.on_error = *mode,
            K::Define { name, value } => self.defines.define(name, value.as_str()),
            K::DefineEncrypted { name, value } => {
                local::define_encrypted(&self.env, &mut self.defines, name, value)?
            }
            K::Undefine { name } => {
                if !self.defines.undefine(name) {
                    return Err(ExecError::NotDefined { name: name.clone() });
                }
            }
            K::Echo { text } => self.env.note(&format!("{text}\n"))?,
            K::Remark { .. } => {}
            K::EncryptConnection { connection_string } => {
                local::encrypt_connection(&self.env, connection_string)?
            }
            K::EncryptValue { value } => local::encrypt_value(&self.env, value)?,
            K::DecryptConnection { text } => local::decrypt(&self.env, text)?,
            K::Preauthenticate(p) => connections::preauthenticate(&self.env, p).await?,
            K::PreauthenticateConnection { name } => {
                connections::preauthenticate_again(&self.env, name).await?
            }
            K::AlterConnection(a) => connections::alter(&self.env, a)?,
            K::ExchangeCode { url, connection } => {
                connections::exchange(&self.env, url.secret(), connection.as_deref()).await?
            }
            K::Register(r) => connections::register(&self.env, r).await?,
            K::RefreshConnection { name, force } => {
                connections::refresh(&self.env, name, *force).await?
            }
            K::RefreshAll { older_than_days } => {
                connections::refresh_all(&self.env, *older_than_days).await?
            }
            K::DropConnection { name, if_exists } => {
                connections::drop_connection(&self.env, name, *if_exists)?
            }
            K::ImportSettings { path } => connections::import(&self.env, &base_dir.join(path))?,
            K::ExportSettings { name, mode } => show::export(&self.env, name, *mode)?,
            K::ShowConnections => show::connections(&self.env)?,
            K::ShowMachines => machines::show(&self.env)?,
            K::EnrollMachine => machines::enrollment_code(&self.env)?,
            K::EnrollWithCode { code } => machines::enroll(&self.env, code.secret())?,
            K::DropMachine { name } => machines::drop(&self.env, name)?,
            K::CreateApiKey {
                name,
                scope,
                networks,
            } => api_keys::create(&self.env, name, *scope, networks)?,
            K::ShowApiKeys => api_keys::show(&self.env)?,
            K::ShowLimits => budget::show(&self.env)?,
            K::AlterApp {
                client_id,
                calls_per_day,
                reserve_percent,
            } => budget::set(&self.env, client_id, *calls_per_day, *reserve_percent)?,
            K::DropApiKey { name } => api_keys::drop(&self.env, name)?,
            K::CreateWebhook {
                name,
                url,
                events,
                format,
            } => webhooks::create(&self.env, name, url, events, *format)?,
            K::ShowWebhooks => webhooks::show(&self.env)?,
            K::ShowWebhookDeliveries => webhooks::deliveries(&self.env)?,
            K::DropWebhook { name } => webhooks::drop(&self.env, name)?,
            K::ShowConnection { name } => show::connection(&self.env, name)?,
            K::ShowPlatforms => show::platforms(&self.env)?,
            K::ShowPlatform { id } => show::platform(&self.env, id)?,
            K::ShowAccessToken { connection } => show::access_token(&self.env, connection).await?,
            K::CheckConnections {
                warn_days,
                critical_days,
            } => show::check(&self.env, *warn_days, *critical_days)?,
            K::CreatePlatform(p) => {
                let id = preauth_actions::platforms::create(&self.env, &p.new_platform()).await?;
                self.env.note(&format!(
                    "platform '{id}' created in {}; see it with `show platform {}`\n",
                    self.env.platforms_location(),
                    preauth_core::error::Quoted(&id)
                ))?;
            }
            K::AdvanceSandboxClock { seconds } => {
                let clock = self
                    .env
                    .sandbox_clock
                    .as_ref()
                    .ok_or(ExecError::NoSandboxClock)?;
                clock.advance(std::time::Duration::from_secs(*seconds));
                let now = preauth_core::error::When(self.env.lifecycle().now());
                self.env.note(&format!("sandbox clock now at {now}\n"))?;
            }
        }
        Ok(Flow::Next)
    }

    async fn include(&mut self, path: &str, base_dir: &Path) -> Result<Flow, ExecError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(ExecError::IncludeTooDeep {
                path: path.to_string(),
            });
        }
        let file = base_dir.join(path);
        let source = std::fs::read_to_string(&file).map_err(|source| ExecError::Include {
            path: file.clone(),
            source,
        })?;
        let origin = file.display().to_string();
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        self.depth += 1;
        let flow = Box::pin(self.run_statements(&source, &origin, &dir)).await;
        self.depth -= 1;
        Ok(flow)
    }
}
