//! The command line: what was typed, checked by clap, before anything runs.

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use preauth_script::output::OutputFormat;

const AFTER_HELP: &str = "\
Without FILE or -c, statements are read from standard input when it is not a terminal,
and an interactive shell starts when standard input and output are terminals.

Exit codes:
  0  success
  1  a statement failed
  2  usage or parse error (nothing ran)
  3  `local on error exit warning` ended the run
`preauth check` follows the monitoring-plugin convention instead:
  0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

Environment:
  PREAUTH_SETTINGS_DIR  settings folder (default ~/.preauth; --settings-dir wins)
  PREAUTH_LOCK_TIMEOUT  longest wait for a locked connection, in seconds (default 60)
  DEVICEKEY_SECRET_DIR  folder of the device key's host secret
  BROWSER               command that opens authorization URLs";

/// Pre-authenticate OAuth2 applications for accounting platforms (Exact Online,
/// Twinfield, any OAuth2 / OpenID Connect provider) and keep their tokens alive.
#[derive(Debug, Parser)]
#[command(
    name = "preauth",
    version,
    after_help = AFTER_HELP,
    override_usage = "preauth [OPTIONS] [FILE]\n       preauth [OPTIONS] <COMMAND>"
)]
pub struct Cli {
    /// A script file to run (`-` for standard input).
    pub file: Option<PathBuf>,

    /// Statements to run, separated by `;`.
    #[arg(
        short = 'c',
        long = "command",
        value_name = "STATEMENTS",
        conflicts_with = "file"
    )]
    pub command: Option<String>,

    #[command(flatten)]
    pub common: Common,

    /// Define ${NAME} before the script runs (repeatable), as `local define` would.
    #[arg(short = 'D', long = "define", value_name = "NAME=VALUE", value_parser = parse_define)]
    pub defines: Vec<(String, String)>,

    /// Print each statement (secrets redacted) before it runs.
    #[arg(long)]
    pub echo: bool,

    /// Start the built-in sandbox on 127.0.0.1 for this run (demo app, scripted login),
    /// define ${SANDBOX_URL}, and run against it.
    #[arg(long)]
    pub sandbox: bool,

    /// What else to do.
    #[command(subcommand)]
    pub subcommand: Option<Command>,
}

impl Cli {
    /// Parses the command line. Global options may come before or after a subcommand
    /// (`preauth --settings-dir DIR check`); a script (FILE, -c, -D, --echo, --sandbox)
    /// and a subcommand exclude each other.
    pub fn parse_checked() -> Cli {
        let cli = Cli::parse();
        let script = cli.file.is_some()
            || cli.command.is_some()
            || !cli.defines.is_empty()
            || cli.echo
            || cli.sandbox;
        if let (true, Some(subcommand)) = (script, &cli.subcommand) {
            let name = match subcommand {
                Command::Token { .. } => "token",
                Command::Check { .. } => "check",
                Command::Sandbox(_) => "sandbox",
            };
            Cli::command()
                .error(
                    ErrorKind::ArgumentConflict,
                    format!(
                        "'{name}' cannot be combined with a script (FILE, -c, -D, --echo, --sandbox)"
                    ),
                )
                .exit();
        }
        cli
    }
}

/// Options every command shares.
#[derive(Debug, Args)]
pub struct Common {
    /// The settings folder.
    #[arg(long, global = true, value_name = "DIR", env = "PREAUTH_SETTINGS_DIR")]
    pub settings_dir: Option<PathBuf>,

    /// How results are printed.
    #[arg(long, global = true, value_name = "FORMAT", default_value = "table", value_parser = parse_format)]
    pub format: OutputFormat,

    /// Longest wait, in seconds, for a connection another process is refreshing; then
    /// the statement fails naming the lock file.
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value_t = 60,
        env = "PREAUTH_LOCK_TIMEOUT"
    )]
    pub lock_timeout: u64,
}

fn parse_define(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected NAME=VALUE, got '{text}'")),
    }
}

fn parse_format(text: &str) -> Result<OutputFormat, String> {
    text.parse()
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a valid access token for a connection (refreshing it when due) and nothing else.
    Token {
        /// The connection.
        name: String,
    },
    /// Monitoring check of every connection's refresh token (Nagios / Icinga plugin).
    Check {
        /// WARNING when a refresh token expires within this many days.
        #[arg(long, default_value_t = 7, value_name = "DAYS")]
        warn_days: u32,
        /// CRITICAL when a refresh token expires within this many days.
        #[arg(long, default_value_t = 2, value_name = "DAYS")]
        critical_days: u32,
    },
    /// Run the Exact Online / Twinfield compatible authorization server on 127.0.0.1.
    Sandbox(SandboxArgs),
}

/// `preauth sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the base URL is the first line printed).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Skip the login and consent pages (for scripts).
    #[arg(long)]
    pub auto_approve: bool,
    /// A JSON file of registered apps (client_id, client_secret, redirect_uris,
    /// access_token_seconds); the demo app is always there.
    #[arg(long, value_name = "FILE")]
    pub apps: Option<PathBuf>,
    /// Instead of serving: log in on a sandbox authorization URL as the demo user (a
    /// scripted browser, usable as BROWSER) and deliver the return URL.
    #[arg(long, value_name = "URL", conflicts_with_all = ["port", "auto_approve", "apps"])]
    pub approve: Option<String>,
}
