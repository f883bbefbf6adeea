//! `preauth`: the command line. Parses arguments, wires the device key, the settings
//! folder and a user agent into the script interpreter, and maps results to exit codes.
//! Everything else lives in the library crates.

mod advice;
mod cli;
mod environment;
mod protector;
mod run;
mod sandbox;
mod serve;
mod user_agent;
mod webhooks;

use std::process::ExitCode;
use std::time::Duration;

use preauth_core::monitor::{self as check, Thresholds};
use preauth_core::settings::resolve_dir;
use preauth_postgres::location_of;
use preauth_script::interpreter::{access_token_output, exit};
use preauth_script::output::OutputFormat;

use crate::cli::{Cli, Command, Common};

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

/// `preauth token NAME`: the access token on standard output and nothing else; the
/// reason on standard error otherwise.
async fn token(common: &Common, name: &str) -> i32 {
    let env = match common
        .store_timeout()
        .and_then(|step| environment::existing_environment(common, step))
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
    match environment::existing_environment(common, step) {
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
