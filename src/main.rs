//! `preauth`: the command line. Parses arguments, wires the device key, the settings
//! folder and a user agent into the script interpreter, and maps results to exit codes.
//! Everything else lives in the library crates.

mod advice;
mod cli;
mod protector;
mod run;
mod sandbox;
mod serve;
mod user_agent;
mod webhooks;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use preauth_actions::Context;
use preauth_core::api_keys::API_KEYS_FILE;
use preauth_core::clock::{Clock, OffsetClock, SystemClock};
use preauth_core::documents::{Documents, FolderDocuments, adopt};
use preauth_core::monitor::{self as check, Thresholds};
use preauth_core::platform::{PLATFORMS_FILE, Registry};
use preauth_core::protector::Protector;
use preauth_core::settings::{SettingsFolder, resolve_dir};
use preauth_core::spool::Spool;
use preauth_core::store::Store;
use preauth_core::token_client::{TokenClient, TokenClientConfig};
use preauth_postgres::{Access, MachineKey, PgStore, location_of, with_step_bound};
use preauth_script::interpreter::{Environment, UserAgent, access_token_output, exit};
use preauth_script::output::OutputFormat;

use crate::cli::{Cli, Command, Common};
use crate::protector::DeviceProtector;
use crate::protector::KeySource;

fn main() -> ExitCode {
    let cli = Cli::parse_checked();
    // `token` and `check` run one request and exit (a job may ask before every API call):
    // a runtime on this thread spares them starting worker threads each time.
    let mut builder = match cli.subcommand {
        Some(Command::Token { .. } | Command::Check(_)) => {
            tokio::runtime::Builder::new_current_thread()
        }
        _ => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILURE as u8);
        }
    };
    let code = runtime.block_on(dispatch(cli));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn dispatch(cli: Cli) -> i32 {
    match cli.subcommand {
        Some(Command::Sandbox(args)) => sandbox::run(args).await,
        Some(Command::Serve(ref args)) => serve::run(&cli.common, args).await,
        Some(Command::Token { ref name }) => token(&cli.common, name).await,
        Some(Command::Check(ref args)) => check(&cli.common, args.thresholds()),
        None => run::run(cli).await,
    }
}

/// Opens the store (the settings folder, or the shared store of `--store`) with the
/// device key or key file and `clock`.
pub(crate) fn environment(
    common: &Common,
    clock: Arc<dyn Clock>,
    user_agent: Arc<dyn UserAgent>,
) -> Result<Environment, String> {
    open_environment(
        common,
        Access::Create,
        common.store_timeout()?,
        clock,
        user_agent,
    )
}

/// The environment over the store of `common`; a shared store waits at most `step` for
/// each database step.
fn open_environment(
    common: &Common,
    access: Access,
    step: Duration,
    clock: Arc<dyn Clock>,
    user_agent: Arc<dyn UserAgent>,
) -> Result<Environment, String> {
    let http = TokenClient::new(TokenClientConfig::default(), Arc::clone(&clock))
        .map_err(|e| e.to_string())?;
    let dir = resolve_dir(common.settings_dir.clone());
    let key_source = common.key_source();
    let protector: Arc<dyn Protector> = Arc::new(DeviceProtector::new(
        key_source.clone(),
        common.key_cache()?,
    ));
    let local = Arc::new(FolderDocuments::new(&dir));
    let registry = Registry::builtin();
    let lock_wait = common.lock_wait()?;
    let store: Arc<dyn Store> = match common.store_url() {
        None => {
            registry
                .add_user_defined(local.as_ref())
                .map_err(|e| e.to_string())?;
            Arc::new(
                SettingsFolder::open(&dir, registry.clone(), Some(Arc::clone(&protector)))
                    .map_err(|e| e.to_string())?
                    .with_lock_wait(lock_wait),
            )
        }
        Some(url) => {
            let mut machine = match key_source {
                KeySource::Device => MachineKey::device(Arc::clone(&protector)),
                KeySource::KeyFile(_) => MachineKey::key_file(Arc::clone(&protector)),
            };
            if let Some(name) = common.machine_name() {
                machine.slot = name;
            }
            Arc::new(
                PgStore::open(
                    &with_step_bound(&url, step),
                    access,
                    registry.clone(),
                    machine,
                    lock_wait,
                    Spool::in_settings(&dir),
                )
                // Opening checks the tables (`preauth token` creates none): a store that
                // is not there says how to create it, as a command line.
                .map_err(|e| advice::advised(&e.to_string(), &e.advice()))?,
            )
        }
    };
    // A shared store keeps the platforms and API keys itself, so every machine and
    // replica sees the same ones.
    let documents: Arc<dyn Documents> = match store.documents() {
        Some(shared) => {
            if access == Access::Create {
                let adopted = adopt(shared.as_ref(), &local, &[PLATFORMS_FILE, API_KEYS_FILE])
                    .map_err(|e| e.to_string())?;
                for name in adopted {
                    eprintln!(
                        "note: {name} of {} is now kept in the shared store, where every machine finds it",
                        dir.display()
                    );
                }
            }
            registry
                .add_user_defined(shared.as_ref())
                .map_err(|e| e.to_string())?;
            shared
        }
        None => local,
    };
    let context = Context::with_webhook_schedule(
        store,
        registry,
        documents,
        protector,
        clock,
        http,
        webhooks::schedule(),
    );
    let mut env = Environment::new(Arc::new(context), user_agent);
    env.format = common.format;
    Ok(env)
}

/// The hidden test hook that moves this process's clock ahead, in seconds.
const CLOCK_OFFSET_VAR: &str = "PREAUTH_CLOCK_OFFSET_SECONDS";

/// The clock `preauth` follows: the system's. A test that advanced a sandbox's virtual
/// clock sets the hidden `PREAUTH_CLOCK_OFFSET_SECONDS` to the same offset, so that this
/// process sees expiries and days as the sandbox does; nothing else should set it.
pub(crate) fn system_clock() -> Arc<dyn Clock> {
    match std::env::var(CLOCK_OFFSET_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(seconds) if seconds > 0 => Arc::new(OffsetClock {
            ahead: Duration::from_secs(seconds),
        }),
        _ => Arc::new(SystemClock),
    }
}

/// The environment over a store that must exist already: commands that only use
/// connections (`token`, `check`) never create one, so a wrong path or URL is reported.
/// A shared store waits at most `step` for each database step.
fn existing_environment(common: &Common, step: Duration) -> Result<Environment, String> {
    let existing = |common| {
        open_environment(
            common,
            Access::Existing,
            step,
            system_clock(),
            Arc::new(user_agent::SystemBrowser),
        )
    };
    if common.store_url().is_none() {
        settings_folder_exists(common)?;
    }
    existing(common)
}

/// Whether the settings folder of `common` is there, for commands and scripts that only
/// read it: a folder that does not exist is said to be missing, not created (a typo in
/// `--settings-dir` must not look like a folder without connections).
pub(crate) fn settings_folder_exists(common: &Common) -> Result<(), String> {
    let dir = resolve_dir(common.settings_dir.clone());
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(format!("settings folder {} is not a folder", dir.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "settings folder {} does not exist; give --settings-dir or PREAUTH_SETTINGS_DIR",
            dir.display()
        )),
        Err(error) => Err(format!(
            "cannot read settings folder {}: {error}",
            dir.display()
        )),
    }
}

/// `preauth token NAME`: the access token on standard output and nothing else; the
/// reason on standard error otherwise.
async fn token(common: &Common, name: &str) -> i32 {
    let env = match common
        .store_timeout()
        .and_then(|step| existing_environment(common, step))
    {
        Ok(env) => env,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::FAILURE;
        }
    };
    let code = match access_token_output(&env, name, common.format).await {
        Ok(text) => match env.print(&text) {
            Ok(()) => exit::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                exit::FAILURE
            }
        },
        Err(error) => {
            eprintln!(
                "error: {}",
                advice::advised(&error.to_string(), &error.advice())
            );
            exit::FAILURE
        }
    };
    webhooks::deliver_before_exit(&env).await;
    code
}

/// `preauth check`: the plugin status line (a short summary), then one line per
/// connection that is not OK with the whole reason (the plugin's long output); with
/// `--format json`, one JSON object with the verdict and every connection instead.
/// It only reads: a settings folder that is missing is UNKNOWN (a wrong path in the
/// monitoring configuration must not look healthy), and is not created. A store that
/// does not answer within the store timeout is UNKNOWN too.
fn check(common: &Common, thresholds: Thresholds) -> i32 {
    let report = match common.store_timeout() {
        Ok(bound) => check_within(common, thresholds, bound),
        Err(error) => unknown(error),
    };
    if common.format == OutputFormat::Json {
        println!("{}", report.to_json());
        return report.state().exit_code();
    }
    println!("{}", report.status_line());
    for c in report
        .connections
        .iter()
        .filter(|c| c.state != check::CheckState::Ok)
    {
        println!(
            "{} {}: {}",
            c.state,
            c.name,
            advice::advised(&c.reason, &c.advice)
        );
    }
    report.state().exit_code()
}

/// The check's report, or UNKNOWN once `bound` has passed, whatever it was waiting for
/// (opening the store included). Each database step gets half of `bound`, so a server
/// that does not answer at all is reported with the step it failed at; the whole bound
/// catches one that answers too slowly. The check only reads, so it can be left behind
/// at any point.
fn check_within(common: &Common, thresholds: Thresholds, bound: Duration) -> check::CheckReport {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let (owned, runtime) = (common.clone(), tokio::runtime::Handle::current());
    let checking = std::thread::Builder::new()
        .name("check".into())
        .spawn(move || {
            let _runtime = runtime.enter();
            let _ = tx.send(check_report(&owned, thresholds, bound / 2));
        });
    if let Err(error) = checking {
        return unknown(format!("cannot start the check ({error})"));
    }
    rx.recv_timeout(bound).unwrap_or_else(|_| {
        let store = match common.store_url() {
            Some(url) => location_of(&url),
            None => resolve_dir(common.settings_dir.clone()).display().to_string(),
        };
        unknown(format!(
            "{store}: the store did not answer within {} s (a frozen database or file system, or a network that drops packets); the check gave up, --store-timeout sets how long it waits",
            bound.as_secs()
        ))
    })
}

/// The report of `preauth check`, each database step waiting at most `step`.
fn check_report(common: &Common, thresholds: Thresholds, step: Duration) -> check::CheckReport {
    match existing_environment(common, step) {
        Ok(env) => preauth_actions::overview::check(&env, thresholds),
        Err(error) => unknown(error),
    }
}

/// A check that could not look at the connections, with why.
fn unknown(why: String) -> check::CheckReport {
    check::CheckReport {
        connections: Vec::new(),
        unknown: Some(why),
    }
}
