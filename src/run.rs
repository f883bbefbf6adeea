//! Running statements: a file, `-c`, standard input, or the interactive shell.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use preauth_core::clock::Clock;
use preauth_core::error::Quoted;
use preauth_core::settings::resolve_dir;
use preauth_sandbox::{Sandbox, SandboxConfig, VirtualClock};
use preauth_script::StatementKind;
use preauth_script::help::{ShellCommand, help_text, shell_command};
use preauth_script::interpreter::{Environment, Interpreter, TimeMachine, UserAgent, exit};
use preauth_script::repl::{ReplExit, ReplOutcome, is_interactive, run_repl};

use crate::cli::{Cli, Script, subcommand_like};
use crate::user_agent::{SandboxLogin, SystemBrowser};

/// The REPL's history file in the settings folder.
const HISTORY_FILE: &str = "history.txt";

/// The embedded sandbox's virtual clock, which the run's own clock follows.
struct SandboxTime(VirtualClock);

impl Clock for SandboxTime {
    fn now(&self) -> std::time::SystemTime {
        self.0.now()
    }
}

impl TimeMachine for SandboxTime {
    fn advance(&self, by: std::time::Duration) {
        self.0.advance(by);
    }
}

/// A whole script, its name in errors, and the folder its includes are relative to.
struct Source {
    text: String,
    origin: String,
    base: PathBuf,
}

/// Where the statements come from.
enum Input {
    /// Scripts to run in order (one, or every -c and -f as typed).
    Scripts(Vec<Source>),
    /// The interactive shell.
    Repl,
}

/// Runs the statements the command line names; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    let mut input = match read_input(&cli) {
        Ok(input) => input,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::USAGE;
        }
    };
    // `-c help` prints the help as the shell does (no pager) and opens nothing.
    if let Input::Scripts(sources) = &mut input {
        let given = sources.len();
        sources.retain(|source| !print_help_command(source));
        if given > 0 && sources.is_empty() {
            return exit::SUCCESS;
        }
    }
    // A syntax error anywhere exits 2 before anything is opened, created or started.
    if let Input::Scripts(sources) = &input {
        for source in sources {
            if let Err(error) =
                preauth_script::interpreter::check_syntax(&source.text, &source.origin)
            {
                eprintln!("{error}");
                return exit::USAGE;
            }
        }
    }
    // Statements that only read the store (show connections, check, …) never create a
    // settings folder: a mistyped --settings-dir is said to be missing.
    if let Input::Scripts(sources) = &input
        && cli.common.store_url().is_none()
        && only_reads(sources)
        && let Err(error) = crate::environment::settings_folder_exists(&cli.common)
    {
        eprintln!(
            "error: {error} (statements that store something, such as preauthenticate, register or import settings, create it)"
        );
        return exit::FAILURE;
    }
    // Tables fit the terminal (nothing is cut in a pipe or a file) unless expanded.
    preauth_script::output::set_expanded(cli.expanded);
    // The embedded sandbox lives as long as the run.
    let sandbox = if cli.sandbox {
        match Sandbox::spawn(SandboxConfig::default()).await {
            Ok(sandbox) => Some(sandbox),
            Err(error) => {
                eprintln!("error: cannot start the sandbox on 127.0.0.1: {error}");
                return exit::FAILURE;
            }
        }
    } else {
        None
    };
    let sandbox_time = sandbox.as_ref().map(|s| Arc::new(SandboxTime(s.clock())));
    let user_agent: Arc<dyn UserAgent> = match sandbox {
        Some(_) => Arc::new(SandboxLogin),
        None => Arc::new(SystemBrowser),
    };
    let clock: Arc<dyn Clock> = match &sandbox_time {
        Some(time) => Arc::clone(time) as _,
        None => crate::environment::system_clock(),
    };
    let mut env = match crate::environment::open(&cli.common, clock, user_agent) {
        Ok(env) => env,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::FAILURE;
        }
    };
    env.echo = cli.echo;
    env.sandbox_clock = sandbox_time.map(|time| time as Arc<dyn TimeMachine>);
    env.interactive = matches!(input, Input::Repl);
    env.progress = std::io::stderr().is_terminal();
    let dir = resolve_dir(cli.common.settings_dir.clone());
    let mut interpreter = Interpreter::new(env);
    if let Some(sandbox) = &sandbox {
        interpreter
            .defines_mut()
            .define("SANDBOX_URL", sandbox.base_url());
    }
    for (name, value) in &cli.defines {
        interpreter.defines_mut().define(name, value.as_str());
    }
    // Connections made against the embedded sandbox of an earlier run cannot reach it:
    // said before the shell starts, and after a script that failed.
    let gone = |interpreter: &Interpreter| match &sandbox {
        Some(sandbox) => earlier_sandboxes(interpreter.env(), &sandbox.base_url()),
        None => Vec::new(),
    };
    let code = match input {
        Input::Scripts(sources) => {
            let scripts: Vec<(&str, &str, &Path)> = sources
                .iter()
                .map(|s| (s.text.as_str(), s.origin.as_str(), s.base.as_path()))
                .collect();
            let code = interpreter.run_scripts(&scripts).await;
            if code != exit::SUCCESS {
                gone(&interpreter)
                    .iter()
                    .for_each(|note| eprintln!("{note}"));
            }
            code
        }
        Input::Repl => {
            gone(&interpreter)
                .iter()
                .for_each(|note| eprintln!("{note}"));
            repl(&mut interpreter, &dir)
        }
    };
    crate::webhooks::deliver_before_exit(interpreter.env()).await;
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    code
}

/// If `source` is a `-c` whose text is `help`, `\?` or `help <statement>`, prints that help
/// and says so.
fn print_help_command(source: &Source) -> bool {
    if source.origin != "-c" {
        return false;
    }
    match shell_command(&source.text, true) {
        Some(ShellCommand::Help(topic)) => {
            print!("{}", help_text(topic.as_deref()));
            true
        }
        _ => false,
    }
}

/// A note for each stored connection whose API URL is a sandbox on this machine's loopback
/// that no longer answers, other than this run's (`current`): the embedded sandbox of an
/// earlier `--sandbox` run, which lived as long as that run. Trying again cannot reach it;
/// the note says how to point the connection at this run's sandbox and log in there.
fn earlier_sandboxes(env: &Environment, current: &str) -> Vec<String> {
    let Ok(listing) = env.lifecycle().store().outlines() else {
        return Vec::new();
    };
    listing
        .connections
        .iter()
        .filter_map(|listed| listed.connection.as_ref().ok())
        .filter(|c| c.api_url.trim_end_matches('/') != current.trim_end_matches('/'))
        .filter(|c| loopback_port(&c.api_url).is_some_and(|port| !answers(port)))
        .map(|c| {
            let name = Quoted(&c.name);
            format!(
                "note: connection {name} was made against a sandbox at {url} that no longer runs \
                 (the embedded sandbox of an earlier `preauth --sandbox` run lives as long as that run; \
                 this run's is a new one at {current} that knows no earlier login), so trying again \
                 will not reach it: point the connection at this run's sandbox and log in there with \
                 `alter connection {name} set api url '${{SANDBOX_URL}}'; preauthenticate connection {name}`",
                url = c.api_url,
            )
        })
        .collect()
}

/// The port of an `http://` URL on 127.0.0.1, `localhost` or `[::1]`.
fn loopback_port(api_url: &str) -> Option<u16> {
    let url = reqwest::Url::parse(api_url).ok()?;
    let host = url.host_str()?;
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (url.scheme() == "http" && loopback).then(|| url.port())?
}

/// Whether something listens on `port` of 127.0.0.1 (asked for at most a fifth of a
/// second: on loopback, an answer is immediate).
fn answers(port: u16) -> bool {
    let at = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
    std::net::TcpStream::connect_timeout(&at, std::time::Duration::from_millis(200)).is_ok()
}

/// How a statement uses the store: it may write to it (and so may create the settings
/// folder), it only reads what is there, or it does not look at it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StoreUse {
    Writes,
    Reads,
    Ignores,
}

/// How `kind` uses the store. The match is exhaustive on purpose: a new statement must
/// say whether it may create the settings folder.
fn store_use(kind: &StatementKind) -> StoreUse {
    use StatementKind as S;
    match kind {
        // An included script may hold anything.
        S::Include { .. }
        | S::Preauthenticate(_)
        | S::PreauthenticateConnection { .. }
        | S::AlterConnection(_)
        | S::ExchangeCode { .. }
        | S::Register(_)
        | S::RefreshConnection { .. }
        | S::RefreshAll { .. }
        | S::ImportSettings { .. }
        | S::DropConnection { .. }
        | S::CreatePlatform(_)
        | S::CreateApiKey { .. }
        | S::DropApiKey { .. }
        | S::CreateWebhook { .. }
        | S::DropWebhook { .. }
        | S::AlterApp { .. }
        | S::EnrollMachine
        | S::EnrollWithCode { .. }
        | S::DropMachine { .. } => StoreUse::Writes,
        S::ShowConnections
        | S::ShowConnection { .. }
        | S::ShowMachines
        | S::ShowApiKeys
        | S::ShowWebhooks
        | S::ShowWebhookDeliveries
        | S::ShowLimits
        | S::ShowAccessToken { .. }
        | S::CheckConnections { .. }
        | S::ExportSettings { .. } => StoreUse::Reads,
        S::Define { .. }
        | S::DefineEncrypted { .. }
        | S::Undefine { .. }
        | S::Echo { .. }
        | S::Remark { .. }
        | S::OnError(_)
        | S::EncryptConnection { .. }
        | S::EncryptValue { .. }
        | S::DecryptConnection { .. }
        | S::ShowPlatforms
        | S::ShowPlatform { .. }
        | S::AdvanceSandboxClock { .. } => StoreUse::Ignores,
    }
}

/// Whether the scripts read the store and write nothing to it. A statement that
/// cannot be parsed before the run (it holds a `${…}` substitution) may do anything.
fn only_reads(sources: &[Source]) -> bool {
    let mut reads = false;
    for source in sources {
        let Ok(statements) = preauth_script::parse(&source.text, &source.origin) else {
            return false;
        };
        for statement in &statements {
            match store_use(&statement.kind) {
                StoreUse::Writes => return false,
                StoreUse::Reads => reads = true,
                StoreUse::Ignores => {}
            }
        }
    }
    reads
}

fn read_input(cli: &Cli) -> Result<Input, String> {
    let cwd = PathBuf::from(".");
    if cli.scripts.is_empty() {
        return if is_interactive() {
            Ok(Input::Repl)
        } else if std::io::stdin().is_terminal() {
            Err(
                "standard output is not a terminal; give a script file, -c, or pipe statements in"
                    .into(),
            )
        } else {
            Ok(Input::Scripts(vec![read_stdin(cwd)?]))
        };
    }
    let mut sources = Vec::with_capacity(cli.scripts.len());
    for script in &cli.scripts {
        sources.push(match script {
            Script::Command(text) => Source {
                text: text.clone(),
                origin: "-c".into(),
                base: cwd.clone(),
            },
            Script::File(path) if path.as_os_str() == "-" => read_stdin(cwd.clone())?,
            Script::File(path) => read_file(path, &cwd)?,
        });
    }
    Ok(Input::Scripts(sources))
}

/// A script file; a missing one whose name is close to a subcommand's gets a suggestion.
fn read_file(path: &Path, cwd: &Path) -> Result<Source, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = match (e.kind(), path.to_str().and_then(subcommand_like)) {
            (std::io::ErrorKind::NotFound, Some(name)) => format!("; did you mean '{name}'?"),
            _ => String::new(),
        };
        format!("cannot read {}: {e}{hint}", path.display())
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cwd.to_path_buf());
    Ok(Source {
        text,
        origin: path.display().to_string(),
        base,
    })
}

/// Standard input, read whole and parsed like a file.
fn read_stdin(cwd: PathBuf) -> Result<Source, String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    Ok(Source {
        text,
        origin: "<stdin>".into(),
        base: cwd,
    })
}

/// The line the shell starts with: the version, the settings folder and the way to help.
fn banner(settings_dir: &Path) -> String {
    format!(
        "preauth {version}, settings in {dir}\n\
         Type help for the statements, exit or Ctrl-D to leave.",
        version = env!("CARGO_PKG_VERSION"),
        dir = settings_dir.display(),
    )
}

/// The interactive shell: each complete input runs on the async runtime.
fn repl(interpreter: &mut Interpreter, settings_dir: &Path) -> i32 {
    let names_env = interpreter.env().connection_names();
    let history = settings_dir.join(HISTORY_FILE);
    let handle = tokio::runtime::Handle::current();
    let cwd = PathBuf::from(".");
    println!("{}", banner(settings_dir));
    let mut executor = |input: &str| {
        let outcome = tokio::task::block_in_place(|| {
            handle.block_on(interpreter.run_interactive(input, &cwd))
        });
        match outcome {
            Some(code) => ReplOutcome::Exit(code),
            None => ReplOutcome::Continue,
        }
    };
    let ended = tokio::task::block_in_place(|| run_repl(Some(&history), names_env, &mut executor));
    match ended {
        Ok(ReplExit::EndOfInput | ReplExit::Quit) => exit::SUCCESS,
        Ok(ReplExit::Requested(code)) => code,
        Err(error) => {
            eprintln!("error: {error}");
            exit::FAILURE
        }
    }
}
