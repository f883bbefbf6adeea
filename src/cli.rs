//! The command line: what was typed, checked by clap, before anything runs.

use std::path::{Component, PathBuf};
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use preauth_core::monitor::Thresholds;
use preauth_script::output::OutputFormat;

use crate::protector::{KeyFile, KeySource};

const AFTER_HELP: &str = "\
Without FILE, -f or -c, statements are read from standard input when it is not a terminal,
and an interactive shell starts when standard input and output are terminals. Several -c and
-f run in the order given, in one session (defines carry over), as in psql.

Examples:
  preauth                                     the interactive shell (type help)
  preauth -c help                             the statements; -c \"help register\" one in full
  preauth nightly.sql                         run a script
  preauth -c \"show connections\"               one statement
  preauth -D ENV=prod -f setup.sql -c \"refresh all connections\"
  preauth --sandbox -c \"show platforms\"       try it against the built-in sandbox
  preauth token acme-books                    the access token, for other programs
  preauth check --warn-days 14                a monitoring check

Output (--format):
  table  for people; on a terminal, tables fit its width (COLUMNS or the terminal's) and long
         cells end in …; -x (or \\x in the shell) prints one `name | value` block per row
  csv    a header line and one line per row (RFC 4180), times in RFC 3339
  json   NDJSON: each statement that prints prints one JSON document on one line (rows as an
         array of objects, `show connection` and `check connections` as an object, a single
         value as a string); booleans are true/false and values that are absent null. One
         statement's output is one document; read a script's a line at a time
         (`jq -c .`, Python: `[json.loads(l) for l in out.splitlines()]`).
  Remarks go to standard error with csv and json, so standard output holds only data.

Exit codes:
  0  success
  1  a statement failed
  2  usage or parse error (nothing ran)
  3  `local on error exit warning` ended the run
`preauth check` follows the monitoring-plugin convention instead:
  0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

Environment:
  PREAUTH_SETTINGS_DIR  settings folder (default ~/.preauth; --settings-dir wins; empty = unset)
  PREAUTH_LOCK_TIMEOUT  longest wait for a locked connection, in seconds (default 60)
  PREAUTH_STORE_TIMEOUT longest wait for a shared store that does not answer, in seconds (default 8)
  DEVICEKEY_SECRET_DIR  folder of the device key's host secret
  PREAUTH_KEY_FILE      key file instead of the device key (--key-file wins; empty = unset)
  PREAUTH_KEY_CACHE     seconds the derived device key stays in the user keyring (default 600,
                        0 = off; --key-cache wins; empty = unset)
  CREDENTIALS_DIRECTORY folder where a --key-file name without a slash is looked up (systemd)
  PREAUTH_STORE         a shared PostgreSQL store, postgres://… (--store wins; empty = unset)
  PREAUTH_MACHINE       this machine's name in a shared store (--machine wins; default user@host)
  BROWSER               command that opens authorization URLs";

/// Pre-authenticate OAuth2 applications for accounting platforms (Exact Online,
/// Twinfield, any OAuth2 / OpenID Connect provider) and keep their tokens alive.
#[derive(Debug, Parser)]
#[command(
    name = "preauth",
    version,
    after_help = AFTER_HELP,
    override_usage = "preauth [OPTIONS] [FILE]\n       preauth [OPTIONS] [-c STATEMENTS | -f FILE]...\n       preauth [OPTIONS] <COMMAND>"
)]
pub struct Cli {
    /// A script file to run (`-` for standard input).
    #[arg(value_name = "FILE", conflicts_with_all = ["command", "files"])]
    pub script: Option<PathBuf>,

    /// Statements to run, separated by `;` (repeatable; with -f, in the order given).
    #[arg(
        short = 'c',
        long = "command",
        value_name = "STATEMENTS",
        action = ArgAction::Append
    )]
    pub command: Vec<String>,

    /// A script file to run, `-` for standard input (repeatable; with -c, in the order
    /// given).
    #[arg(short = 'f', long = "file", value_name = "FILE", action = ArgAction::Append)]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub common: Common,

    /// Define ${NAME} before the script runs (repeatable), as `local define` would.
    #[arg(short = 'D', long = "define", value_name = "NAME=VALUE", value_parser = parse_define)]
    pub defines: Vec<(String, String)>,

    /// Print each statement (secrets redacted) before it runs.
    #[arg(long)]
    pub echo: bool,

    /// Print tables in the expanded display: one `name | value` block per row, nothing
    /// cut (as `\x` in the shell, and psql's -x).
    #[arg(short = 'x', long)]
    pub expanded: bool,

    /// Start the built-in sandbox on 127.0.0.1 for this run (demo app, scripted login),
    /// define ${SANDBOX_URL}, and run against it.
    #[arg(long)]
    pub sandbox: bool,

    /// What else to do.
    #[command(subcommand)]
    pub subcommand: Option<Command>,

    /// The scripts to run, in the order typed: FILE, or every -c and -f.
    #[arg(skip)]
    pub scripts: Vec<Script>,
}

/// One script named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Script {
    /// `-c STATEMENTS`.
    Command(String),
    /// FILE or `-f FILE` (`-` is standard input).
    File(PathBuf),
}

/// The command line definition, with `preauth sandbox --help` showing only the options
/// that apply to it (the settings options are global for the other commands).
fn definition() -> clap::Command {
    let command = Cli::command();
    // A subcommand's own argument of the same id takes the place of the propagated global.
    let hidden: Vec<clap::Arg> = command
        .get_arguments()
        .filter(|arg| arg.is_global_set())
        .map(|arg| arg.clone().hide(true))
        .collect();
    command.mut_subcommand("sandbox", |sandbox| sandbox.args(hidden))
}

/// The -c and -f values in the order they were typed.
fn scripts_in_order(matches: &ArgMatches) -> Vec<Script> {
    let mut scripts: Vec<(usize, Script)> = Vec::new();
    if let (Some(at), Some(values)) = (
        matches.indices_of("command"),
        matches.get_many::<String>("command"),
    ) {
        scripts.extend(at.zip(values.map(|v| Script::Command(v.clone()))));
    }
    if let (Some(at), Some(values)) = (
        matches.indices_of("files"),
        matches.get_many::<PathBuf>("files"),
    ) {
        scripts.extend(at.zip(values.map(|v| Script::File(v.clone()))));
    }
    scripts.sort_by_key(|(at, _)| *at);
    scripts.into_iter().map(|(_, script)| script).collect()
}

/// The subcommand `word` was probably meant to be: a FILE argument that names no file but
/// is one or two typing mistakes away from a subcommand (`preauth tokn`).
pub fn subcommand_like(word: &str) -> Option<String> {
    if word.contains(['/', '\\', '.']) {
        return None;
    }
    let word = word.to_ascii_lowercase();
    definition()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .filter(|name| *name != word)
        .map(|name| (edit_distance(&word, &name), name))
        .filter(|(distance, name)| *distance <= 2.min(name.len() / 2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// The error for `preauth tokn acme`: clap takes `tokn` for a script FILE and refuses
/// `acme` as an unexpected argument; when that FILE does not exist and is a typing mistake
/// away from a subcommand, the error names the subcommand and the command line meant.
fn misspelt_subcommand(error: &clap::Error) -> Option<clap::Error> {
    if error.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let at = args.iter().position(|arg| {
        !arg.starts_with('-')
            && !std::path::Path::new(arg).exists()
            && subcommand_like(arg).is_some()
    })?;
    let word = &args[at];
    let name = subcommand_like(word)?;
    let mut meant = args.clone();
    meant[at] = name.clone();
    Some(definition().error(
        ErrorKind::InvalidSubcommand,
        format!(
            "'{word}' is no command (and no script file); did you mean '{name}'? `preauth {}`",
            meant.join(" ")
        ),
    ))
}

/// Levenshtein distance, a swap of neighbours counting once.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

impl Cli {
    /// Parses the command line. Global options may come before or after a subcommand
    /// (`preauth --settings-dir DIR check`); a script (FILE, -c, -D, --echo, --sandbox)
    /// and a subcommand exclude each other.
    pub fn parse_checked() -> Cli {
        let matches = definition()
            .try_get_matches()
            .unwrap_or_else(|error| misspelt_subcommand(&error).unwrap_or(error).exit());
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
        cli.scripts = match &cli.script {
            Some(path) => vec![Script::File(path.clone())],
            None => scripts_in_order(&matches),
        };
        let script = !cli.scripts.is_empty()
            || !cli.defines.is_empty()
            || cli.echo
            || cli.expanded
            || cli.sandbox;
        if let (true, Some(subcommand)) = (script, &cli.subcommand) {
            let name = match subcommand {
                Command::Token { .. } => "token",
                Command::Check(_) => "check",
                Command::Sandbox(_) => "sandbox",
                Command::Serve(_) => "serve",
            };
            definition()
                .error(
                    ErrorKind::ArgumentConflict,
                    format!(
                        "'{name}' cannot be combined with a script (FILE, -c, -f, -D, --echo, -x, --sandbox)"
                    ),
                )
                .exit();
        }
        cli
    }
}

/// Options every command shares.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The settings folder [default: $PREAUTH_SETTINGS_DIR when set and not empty, else
    /// ~/.preauth; on Windows %LOCALAPPDATA%\preauth\settings].
    #[arg(long, global = true, value_name = "DIR")]
    pub settings_dir: Option<PathBuf>,

    /// How results are printed: table (for people: cut to the terminal's width, see -x),
    /// csv, or json (NDJSON: one JSON document per statement that prints, each on one
    /// line; a single statement's output is one document).
    #[arg(long, global = true, value_name = "FORMAT", default_value = "table", value_parser = parse_format)]
    pub format: OutputFormat,

    /// Longest wait, in seconds, for a connection another process is refreshing; then
    /// the statement fails naming the lock file [default: $PREAUTH_LOCK_TIMEOUT when set
    /// and not empty, else 60].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub lock_timeout: Option<u64>,

    /// Longest wait, in seconds, for a shared store (--store) that does not answer (a
    /// frozen server, a network that drops packets): connecting (with the TLS handshake)
    /// and each answer to a query are waited for that long at most, and `preauth check`
    /// as a whole prints UNKNOWN
    /// after at most this; a connection another process is refreshing is waited for
    /// under --lock-timeout [default: $PREAUTH_STORE_TIMEOUT when set and not empty,
    /// else 8].
    #[arg(long, global = true, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=MAX_STORE_TIMEOUT))]
    pub store_timeout: Option<u64>,

    /// Seal and open connection strings with this key file instead of this machine's device
    /// key: a secret the platform mounts (Docker, Kubernetes, systemd), for containers and
    /// fleets. A name without a slash is looked up in $CREDENTIALS_DIRECTORY when that is set
    /// [default: $PREAUTH_KEY_FILE when set and not empty].
    #[arg(long, global = true, value_name = "FILE", value_parser = parse_key_file)]
    pub key_file: Option<PathBuf>,

    /// Seconds the derived device key stays in this user's kernel keyring (Linux), so that
    /// the next preauth within that time opens connections without deriving it again (about
    /// 25 ms); readable by this user only, like the host secret; 0 turns it off
    /// [default: $PREAUTH_KEY_CACHE when set and not empty, else 600].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub key_cache: Option<u64>,

    /// Keep connections in a PostgreSQL database shared by enrolled machines
    /// (postgres://user:password@host/database) instead of the settings folder
    /// [default: $PREAUTH_STORE when set and not empty].
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,

    /// This machine's name in a shared store's key slots [default: $PREAUTH_MACHINE when
    /// set and not empty, else user@host (with a device key) or "key file"].
    #[arg(long, global = true, value_name = "NAME")]
    pub machine: Option<String>,
}

/// The variable that names this machine in a shared store when `--machine` is not given.
pub const MACHINE_ENV: &str = "PREAUTH_MACHINE";

/// The variable that names the shared store when `--store` is not given.
pub const STORE_ENV: &str = "PREAUTH_STORE";

/// The variable that names the key file when `--key-file` is not given.
pub const KEY_FILE_ENV: &str = "PREAUTH_KEY_FILE";

/// The folder of a systemd service's credentials (`LoadCredential=`), where a key file given
/// by a bare name is looked up.
pub const CREDENTIALS_DIRECTORY_ENV: &str = "CREDENTIALS_DIRECTORY";

/// The variable that sets the store timeout when `--store-timeout` is not given.
pub const STORE_TIMEOUT_ENV: &str = "PREAUTH_STORE_TIMEOUT";

/// The store timeout when neither `--store-timeout` nor `$PREAUTH_STORE_TIMEOUT` gives
/// one (the store's own default): `preauth check` answers within a monitoring system's
/// usual 10 s plugin timeout.
pub const DEFAULT_STORE_TIMEOUT: u64 = preauth_postgres::DEFAULT_STEP.as_secs();

/// The longest store timeout accepted (a day): longer is a typo, not a wish.
const MAX_STORE_TIMEOUT: u64 = 86_400;

/// The variable that sets the lock wait when `--lock-timeout` is not given.
pub const LOCK_TIMEOUT_ENV: &str = "PREAUTH_LOCK_TIMEOUT";

/// The variable that sets how long the derived device key is cached when `--key-cache` is
/// not given.
pub const KEY_CACHE_ENV: &str = "PREAUTH_KEY_CACHE";

/// How long the derived device key is cached by default: a job run every few minutes keeps
/// finding it, and it never outlives a working session by much.
const KEY_CACHE_DEFAULT_SECS: u64 = 600;

/// `given`, else the whole seconds in `$variable` when set and not empty (like
/// `PREAUTH_SETTINGS_DIR`, an empty variable counts as unset), else `default`.
fn seconds(given: Option<u64>, variable: &str, default: u64) -> Result<Duration, String> {
    let seconds = match given {
        Some(seconds) => seconds,
        None => match std::env::var(variable) {
            Ok(text) if !text.trim().is_empty() => text.trim().parse().map_err(|_| {
                format!("{variable} must be a whole number of seconds, not '{text}'")
            })?,
            _ => default,
        },
    };
    Ok(Duration::from_secs(seconds))
}

impl Common {
    /// The lock wait: `--lock-timeout`, else `$PREAUTH_LOCK_TIMEOUT` when set and not
    /// empty, else 60 s.
    pub fn lock_wait(&self) -> Result<Duration, String> {
        seconds(self.lock_timeout, LOCK_TIMEOUT_ENV, 60)
    }

    /// How long the derived device key stays in the user keyring: `--key-cache`, else
    /// `$PREAUTH_KEY_CACHE` when set and not empty, else 600 s; zero turns the cache off.
    pub fn key_cache(&self) -> Result<Duration, String> {
        seconds(self.key_cache, KEY_CACHE_ENV, KEY_CACHE_DEFAULT_SECS)
    }

    /// The store timeout: `--store-timeout`, else `$PREAUTH_STORE_TIMEOUT` when set and
    /// not empty, else 8 s; at least a second.
    pub fn store_timeout(&self) -> Result<std::time::Duration, String> {
        let seconds = match self.store_timeout {
            Some(seconds) => seconds,
            None => match std::env::var(STORE_TIMEOUT_ENV) {
                Ok(text) if !text.trim().is_empty() => text
                    .trim()
                    .parse()
                    .ok()
                    .filter(|s| (1..=MAX_STORE_TIMEOUT).contains(s))
                    .ok_or_else(|| {
                        format!("{STORE_TIMEOUT_ENV} must be a whole number of seconds from 1 to {MAX_STORE_TIMEOUT}, not '{text}'")
                    })?,
                _ => DEFAULT_STORE_TIMEOUT,
            },
        };
        Ok(std::time::Duration::from_secs(seconds))
    }

    /// The shared store's URL: `--store`, else `$PREAUTH_STORE` when set and not empty;
    /// `None` keeps connections in the settings folder.
    pub fn store_url(&self) -> Option<String> {
        self.store
            .clone()
            .or_else(|| std::env::var(STORE_ENV).ok())
            .filter(|url| !url.trim().is_empty())
    }

    /// This machine's slot name when given: `--machine`, else `$PREAUTH_MACHINE` when set
    /// and not empty.
    pub fn machine_name(&self) -> Option<String> {
        self.machine
            .clone()
            .or_else(|| std::env::var(MACHINE_ENV).ok())
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
    }

    /// Where the key comes from: `--key-file`, else `$PREAUTH_KEY_FILE` when set and not
    /// empty (an empty variable counts as unset, as for `PREAUTH_LOCK_TIMEOUT`), else the
    /// device key. A name without a slash is a systemd credential when
    /// `$CREDENTIALS_DIRECTORY` is set (and not empty): it is looked up there, and only there.
    pub fn key_source(&self) -> KeySource {
        let given = match &self.key_file {
            Some(path) => path.clone(),
            None => match std::env::var_os(KEY_FILE_ENV) {
                Some(path) if !path.is_empty() => PathBuf::from(path),
                _ => return KeySource::Device,
            },
        };
        let credentials = std::env::var_os(CREDENTIALS_DIRECTORY_ENV).filter(|d| !d.is_empty());
        let bare_name = match given.components().collect::<Vec<_>>()[..] {
            [Component::Normal(_)] => !given.as_os_str().as_encoded_bytes().contains(&b'/'),
            _ => false,
        };
        KeySource::KeyFile(match credentials {
            Some(dir) if bare_name => KeyFile {
                path: PathBuf::from(dir).join(&given),
                credential: Some(given.to_string_lossy().into_owned()),
            },
            _ => KeyFile {
                path: given,
                credential: None,
            },
        })
    }
}

/// `--key-file FILE`: an empty name is refused rather than taken for "no key file", so that
/// `--key-file "$UNSET"` does not quietly seal with the device key instead.
fn parse_key_file(text: &str) -> Result<PathBuf, String> {
    if text.trim().is_empty() {
        return Err("needs the path of a key file (or leave the option out)".into());
    }
    Ok(PathBuf::from(text))
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

/// `--listen`: an IP address and port, `localhost:PORT` (127.0.0.1, as for redirect
/// URIs), or a port alone (on 127.0.0.1). Other host names are not looked up.
fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::{Ipv4Addr, SocketAddr};
    let loopback = |port: &str| {
        port.parse()
            .ok()
            .map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p)))
    };
    text.parse()
        .ok()
        .or_else(|| loopback(text))
        .or_else(|| loopback(text.strip_prefix("localhost:")?))
        .ok_or_else(|| {
            "give an IP address and port, such as 127.0.0.1:8440, [::1]:8440 or 0.0.0.0:8443 \
             (host names other than localhost are not looked up)"
                .to_string()
        })
}

const TOKEN_HELP: &str = "\
Exit codes: 0 the token is on standard output, 1 it could not be had (the reason is on
standard error).

A shared store (--store) that does not answer makes it exit 1 after --store-timeout
(8 s unless set): connecting (with the TLS handshake) and each answer to a query are
waited for that long at most. A connection another process is refreshing is waited for up to
--lock-timeout, and the platform's answer to a refresh up to 30 s.

Examples:
  preauth token acme-books
  curl -H \"Authorization: Bearer $(preauth token acme-books)\" https://start.exactonline.nl/api/v1/current/Me
  preauth --settings-dir /srv/preauth token acme-books --format json";

const CHECK_HELP: &str = "\
Exit codes (monitoring-plugin convention): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
The first line is the status line: the verdict, at most 3 connections that need
attention with the first clause of why, and performance data. The lines after it (the
plugin's long output) give each connection that is not OK with the whole reason and advice.
With --format json it prints one JSON object instead: state, summary (the status line) and
connections (name, platform, state, reason, refresh_token_expires_at, refresh_refused).
A settings folder that does not exist is UNKNOWN and is not created.
A store that does not answer (a frozen database or file system, a network that drops
packets) is UNKNOWN after at most --store-timeout in all (8 s unless set: within the usual
10 s plugin timeout).

Examples:
  preauth check
  preauth check --warn-days 14 --critical-days 3
  preauth check --format json
  preauth --settings-dir /srv/preauth check";

const SERVE_HELP: &str = "\
The web pages (Preauthenticate, Exchange Code, connections, Register tokens) need a login:
the second line of standard output is a one-time login URL (good for an hour), or log in
with an API key of scope admin. Every /api/v1 route needs an API key, sent as
`Authorization: Bearer <key>`; create one with
`preauth -c \"create api key 'jobs' scope token\"` (scopes: token, register, admin). The URL
it listens on is the first line of standard output; Ctrl-C or SIGTERM stops it after the
requests in flight. The routes are described in crates/preauth-serve/openapi.json.

It listens on loopback unless it speaks TLS itself (--tls-cert and --tls-key: PEM files,
read and checked at start and again on SIGHUP; the URL is then https://…, with
Strict-Transport-Security) or --behind-proxy says a reverse proxy in front terminates TLS.
Behind a proxy, or on every address (0.0.0.0), --public-url gives the address browsers
use. A certificate or key that cannot be used, or another address without either, is a
usage error (exit code 2).

API keys may be limited to networks (`create api key 'jobs' scope token from
'10.0.0.0/8'`): used from elsewhere, they are answered 403 address_not_allowed. The client
is the TCP peer; behind a reverse proxy, give the proxy's address with --trusted-proxy, and
the client is read from X-Forwarded-For (its right-most entry that is no trusted proxy).

With --keep-alive it renews the connections itself, so that no cron job or timer is
needed: daily at --keep-alive-at (03:00 UTC) plus up to --keep-alive-jitter minutes (30),
and soon after start when the store's last pass is older than a day, it refreshes every
refresh token older than 7 days, as `refresh all connections` does. Exact Online's refresh
tokens expire after 30 days unused, so a connection is renewed three weeks before. Replicas
on one store (a shared settings folder, or PostgreSQL) share each pass through the record
keep-alive.json in the store: one replica runs it, and another takes it over when that one
stops renewing its claim (--keep-alive-lease). Serving goes on meanwhile. Ctrl-C or SIGTERM
lets the refreshes under way finish and leaves the rest of a pass to another replica or the
next start. /metrics shows the last pass and the next.

Examples:
  preauth serve
  preauth serve --listen 127.0.0.1:0
  preauth serve --keep-alive --keep-alive-at 02:30
  preauth serve --listen 0.0.0.0:8443 --public-url https://preauth.example.com:8443 --tls-cert /etc/preauth/tls/fullchain.pem --tls-key /etc/preauth/tls/key.pem
  preauth serve --listen 127.0.0.1:8440 --behind-proxy --trusted-proxy 127.0.0.1 --public-url https://preauth.example.com";

const SANDBOX_HELP: &str = "\
The sandbox speaks Exact Online's and Twinfield's OAuth2 dialects on 127.0.0.1 only: login
as demo / demo with 2FA code 123456, a demo app that is always registered, rotating refresh
tokens, a virtual clock and injectable faults. It prints its base URL as the first line of
standard output and runs until Ctrl-C.

Apps file (--apps):
  {\"apps\": [{\"client_id\": \"my-app\", \"client_secret\": \"s3cret\",
             \"redirect_uris\": [\"http://127.0.0.1:8765/callback\"],
             \"access_token_seconds\": 600}]}
  access_token_seconds is optional (600 by default); client ids must be unique.

Admin endpoints (for tests and demos):
  POST /sandbox/clock/advance?seconds=N   move the virtual clock N seconds forward
  POST /sandbox/faults                    queue a fault for the next token request, as JSON:
      {\"fault\":\"drop_after_rotate\"}       rotate the tokens, then close without answering
      {\"fault\":\"delay\",\"millis\":250}     answer normally after a real-time delay
      {\"fault\":\"http500\"}                 answer 500, nothing is spent
      {\"fault\":\"invalid_json\"}            rotate the tokens, answer truncated JSON
      {\"fault\":\"plain_text400\"}           answer 400 in text/plain, nothing is spent
  GET  /sandbox/counters                  request counters as JSON (logins, codes issued,
                                          token calls by grant type, spent-token reuses, ...)

Examples:
  preauth sandbox --port 8700
  preauth sandbox --auto-approve --apps apps.json
  curl -X POST 'http://127.0.0.1:8700/sandbox/clock/advance?seconds=3600'
  curl -X POST -d '{\"fault\":\"http500\"}' -H 'Content-Type: application/json' http://127.0.0.1:8700/sandbox/faults
  BROWSER='preauth sandbox --approve' preauth -c \"preauthenticate ...\"
  preauth sandbox --approve 'http://127.0.0.1:8700/api/oauth2/auth?...'";

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a valid access token for a connection (refreshing it when due) and nothing else.
    #[command(after_help = TOKEN_HELP)]
    Token {
        /// The connection.
        name: String,
    },
    /// Monitoring check of every connection's refresh token (Nagios / Icinga plugin).
    #[command(after_help = CHECK_HELP)]
    Check(ThresholdArgs),
    /// Run the Exact Online / Twinfield compatible authorization server on 127.0.0.1.
    #[command(after_help = SANDBOX_HELP)]
    Sandbox(SandboxArgs),
    /// Serve the JSON API (register connections, access tokens for jobs, monitoring).
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
}

/// When a refresh token counts as expiring (`preauth check`, `/api/v1/check`).
#[derive(Debug, Args)]
pub struct ThresholdArgs {
    /// WARNING when a refresh token expires within this many days.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub warn_days: u32,
    /// CRITICAL when a refresh token expires within this many days.
    #[arg(long, default_value_t = 2, value_name = "DAYS")]
    pub critical_days: u32,
}

impl ThresholdArgs {
    /// The thresholds given.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            warn_days: self.warn_days,
            critical_days: self.critical_days,
        }
    }
}

/// `preauth serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (a port alone or localhost:PORT is 127.0.0.1; port 0
    /// takes a free one; the URL is the first line printed).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8440", value_parser = parse_listen)]
    pub listen: std::net::SocketAddr,
    /// Allow an address other than loopback without --tls-cert: a reverse proxy in front
    /// terminates TLS.
    #[arg(long)]
    pub behind_proxy: bool,
    /// Serve HTTPS with this PEM certificate chain, the server's certificate first (needs
    /// --tls-key).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The unencrypted PEM private key of --tls-cert (PKCS#8, RSA or SEC1), readable by its
    /// owner only: chmod 600 (needs --tls-cert).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The address browsers use to reach this server (https://preauth.example.com):
    /// needed behind a proxy or on every address (0.0.0.0), for the pages' own callback
    /// and their cookies.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Print no one-time login URL for the pages (for a service whose log others read);
    /// log in with an API key of scope admin instead.
    #[arg(long)]
    pub no_login_url: bool,
    /// A host (HOST or HOST:PORT) that connections registered through the API may name in
    /// their api_url besides the platforms' own hosts, such as a sandbox (repeatable).
    #[arg(long, value_name = "HOST")]
    pub allow_api_host: Vec<preauth_serve::ApiHost>,
    /// Access tokens each API key may get per second, and at once (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub token_rate: u32,
    /// A reverse proxy (address or network, such as 10.0.0.5 or 10.0.0.0/24) trusted to
    /// name the client in X-Forwarded-For, which API keys limited to networks are checked
    /// against; repeatable. From any other peer the header is ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<preauth_core::network::Network>,
    /// Connections open at once; past this a new one is answered 503 (Retry-After) and
    /// closed. Keep it well below the open-file limit (LimitNOFILE).
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// When `/api/v1/check` counts a refresh token as expiring.
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Keep the connections alive from this server, so that no cron job is needed: daily,
    /// every refresh token older than 7 days is renewed (as `refresh all connections`
    /// does); replicas on one store share each pass.
    #[arg(long)]
    pub keep_alive: bool,
    /// When the daily keep-alive pass starts, HH:MM in UTC; `now` runs it right at start
    /// and then every 24 hours (for tests and trying it out).
    #[arg(
        long,
        value_name = "HH:MM",
        default_value = "03:00",
        requires = "keep_alive"
    )]
    pub keep_alive_at: preauth_serve::At,
    /// The longest random delay added to each daily pass's start, so that replicas and
    /// other servers do not all call the platforms at the same moment.
    #[arg(
        long,
        value_name = "MINUTES",
        default_value_t = 30,
        requires = "keep_alive"
    )]
    pub keep_alive_jitter: u32,
    /// How long a replica's claim on a keep-alive pass holds unless renewed (it renews it
    /// every third of this): another replica takes over the pass of one that died this
    /// long after its last renewal. Short values are for tests.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u32).range(3..), requires = "keep_alive")]
    pub keep_alive_lease: u32,
}

impl ServeArgs {
    /// The TLS files, when both were given (clap requires each with the other).
    pub fn tls_files(&self) -> Option<preauth_serve::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(preauth_serve::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    /// The keep-alive asked for, with the threshold and concurrency of `refresh all
    /// connections`.
    pub fn keep_alive(&self) -> Option<preauth_serve::KeepAliveOptions> {
        const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
        self.keep_alive.then(|| preauth_serve::KeepAliveOptions {
            at: self.keep_alive_at,
            jitter: std::time::Duration::from_secs(u64::from(self.keep_alive_jitter) * 60),
            threshold: DAY * preauth_script::interpreter::DEFAULT_KEEP_ALIVE_DAYS,
            concurrency: preauth_script::interpreter::KEEP_ALIVE_CONCURRENCY,
            lease: std::time::Duration::from_secs(u64::from(self.keep_alive_lease)),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::parse_listen;

    #[test]
    fn listen_takes_an_address_localhost_or_a_port_alone() {
        let parsed = |text| parse_listen(text).map(|a| a.to_string());
        assert_eq!(parsed("0.0.0.0:8443").unwrap(), "0.0.0.0:8443");
        assert_eq!(parsed("[::1]:0").unwrap(), "[::1]:0");
        assert_eq!(parsed("localhost:8440").unwrap(), "127.0.0.1:8440");
        assert_eq!(parsed("8440").unwrap(), "127.0.0.1:8440");
        for wrong in ["myhost:80", "127.0.0.1:99999", "localhost", "", "127.0.0.1"] {
            let error = parse_listen(wrong).unwrap_err();
            assert!(error.contains("such as 127.0.0.1:8440"), "{wrong}: {error}");
        }
    }
}
