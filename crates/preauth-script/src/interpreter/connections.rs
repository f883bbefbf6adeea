//! Statements that create, refresh and remove connections.

use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use preauth_core::connection::Connection;
use preauth_core::error::{Quoted, When};
use preauth_core::flow::finish_within;
use preauth_core::lifecycle::{KeepAliveEvent, KeepAliveOutcome, Proof};
use preauth_core::store::StoreError;

use preauth_actions::{self as actions, ActionError, login, register};

use super::authorize::Return;
use super::environment::Environment;
use super::exec_error::ExecError;
use crate::ast::{AlterConnection, Preauthenticate, Register};
use crate::output::{Cell, Table};

/// `refresh all connections` without `older than`: refresh tokens older than a week are
/// renewed, so a daily run keeps every chain far from Exact's 30 days while spending
/// few of the token endpoint's 200 calls a day.
pub const DEFAULT_KEEP_ALIVE_DAYS: u32 = 7;

/// How many connections the keep-alive refreshes at once.
pub const KEEP_ALIVE_CONCURRENCY: usize = 8;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// `preauthenticate …`: log in once in a browser and store the connection.
pub(super) async fn preauthenticate(
    env: &Environment,
    p: &Preauthenticate,
) -> Result<(), ExecError> {
    let connection = login::new_login(env, &p.connection, &p.app.settings())?;
    log_in(env, connection).await
}

/// `preauthenticate connection '…'`: log in again for a stored connection with the app
/// it stores (client id, client secret, redirect URL, platform, base URL). The new
/// tokens replace the old ones in place (other stored keys are kept); until the login
/// completes, the stored connection is left as it was.
pub(super) async fn preauthenticate_again(env: &Environment, name: &str) -> Result<(), ExecError> {
    let connection = login::login_again(env, name)?;
    log_in(env, connection).await
}

/// The browser step and the code exchange for `connection` (a new one, or a stored one
/// without its tokens).
async fn log_in(env: &Environment, connection: Connection) -> Result<(), ExecError> {
    let waiting = Return::prepare(&connection.redirect_url).await?;
    let started = login::start(env, &connection)?;
    eprintln!(
        "Log in to {} for connection '{}' at:\n  {}",
        connection.api_url, connection.name, started.url
    );
    let returned = waiting
        .wait(
            env.user_agent.as_ref(),
            started.url.as_str(),
            &started.pending.state,
            env.interactive,
        )
        .await?;
    let Some(return_url) = returned else {
        // Nothing is stored: the statement failed, and says how to finish the login,
        // which stays pending in the store for `exchange code url`.
        let platform = env.lifecycle().platform_of(&connection)?;
        return Err(ExecError::LoginNotFinished {
            within: finish_within(&platform),
            name: connection.name,
            redirect_url: connection.redirect_url,
        });
    };
    let connection = login::finish(env, &return_url).await?;
    report_stored(env, "authorized", &connection)
}

/// `exchange code url '…' [for connection '…']`: finish a started authorization.
pub(super) async fn exchange(
    env: &Environment,
    url: &str,
    expected: Option<&str>,
) -> Result<(), ExecError> {
    let connection = login::finish(env, url).await?;
    if let Some(expected) = expected.filter(|e| !connection.is_named(e)) {
        return Err(ActionError::OtherConnection {
            stored: connection.name.clone(),
            expected: expected.to_string(),
        }
        .into());
    }
    report_stored(env, "authorized", &connection)
}

/// `register connection …`: tokens obtained elsewhere (the OEM flow).
pub(super) async fn register(env: &Environment, r: &Register) -> Result<(), ExecError> {
    let registration = register::register(env, r.handed_over()).await?;
    if let Some(proof) = &registration.proof {
        let how = match proof {
            Proof::Me(_) => "the platform's current/Me answered",
            Proof::Validation(_) => "the platform validated the access token",
            Proof::Refreshed => "a refresh succeeded and its new tokens were stored",
        };
        match registration.refresh_token_unchecked_until {
            Some(from) => eprintln!(
                "verified the access token only: {how}; the refresh token cannot be checked yet, because the platform refuses a refresh while the access token is valid: the first refresh, from {}, checks it",
                When(from)
            ),
            None => eprintln!("verified: {how}"),
        }
    }
    report_stored(env, "registered", &registration.connection)
}

/// Said of the refresh that left its connection only the day's reserve of token calls.
const BUDGET_LOW: &str = "the connection's token-endpoint calls today are down to the reserve, which background work leaves alone";

/// `refresh connection '…' [force]`.
pub(super) async fn refresh(env: &Environment, name: &str, force: bool) -> Result<(), ExecError> {
    let grant = actions::token::refresh(env, name, force).await?;
    let done = if grant.refreshed {
        "refreshed"
    } else {
        "not refreshed yet (still valid)"
    };
    let low = match grant.spent {
        Some(spent) if spent.budget_low => format!("; {BUDGET_LOW}"),
        _ => String::new(),
    };
    env.note(&format!(
        "connection '{}' {done}; access token valid until {}{low}\n",
        grant.connection.name,
        When(grant.expires_at)
    ))
}

/// `refresh all connections [older than N days]`: the keep-alive.
pub(super) async fn refresh_all(env: &Environment, days: Option<u32>) -> Result<(), ExecError> {
    let days = days.unwrap_or(DEFAULT_KEEP_ALIVE_DAYS);
    let bar = env.progress.then(keep_alive_bar);
    let progress = |event: KeepAliveEvent<'_>| {
        let Some(bar) = &bar else {
            return;
        };
        match event {
            KeepAliveEvent::Started { name, total, .. } => {
                bar.set_length(total as u64);
                bar.set_message(name.to_string());
            }
            KeepAliveEvent::Waiting { name, until } => {
                bar.set_message(format!(
                    "{name}: rate-limited, waiting until {}",
                    When(until)
                ));
            }
            KeepAliveEvent::Finished { .. } => bar.inc(1),
        }
    };
    let report = env
        .lifecycle()
        .refresh_all(DAY * days, KEEP_ALIVE_CONCURRENCY, &progress)
        .await;
    if let Some(bar) = &bar {
        bar.finish_with_message("done");
    }
    let report = report?;
    tell_webhooks(env).await;
    let mut table = Table::new(&[
        "name",
        "outcome",
        "refresh token obtained",
        "refresh token expires",
        "detail",
    ]);
    let (failed, total) = (report.failed(), report.outcomes.len());
    for (name, outcome) in report.outcomes {
        let (what, obtained, expires, detail) = match outcome {
            KeepAliveOutcome::Refreshed {
                refresh_token_expires_at,
                budget_low,
            } => (
                "refreshed",
                Cell::time(None),
                Cell::time(refresh_token_expires_at),
                if budget_low {
                    BUDGET_LOW.to_string()
                } else {
                    String::new()
                },
            ),
            KeepAliveOutcome::Young {
                refresh_token_issued_at,
            } => (
                "left alone",
                Cell::time(refresh_token_issued_at),
                Cell::time(None),
                format!("refresh token younger than {days} days"),
            ),
            KeepAliveOutcome::TooEarly {
                refresh_token_issued_at,
                refresh_allowed_from,
            } => (
                "left alone",
                Cell::time(refresh_token_issued_at),
                Cell::time(None),
                format!(
                    "renewed minutes ago; the platform refuses a refresh before {}",
                    When(refresh_allowed_from)
                ),
            ),
            KeepAliveOutcome::HeldElsewhere => (
                "left to another process",
                Cell::time(None),
                Cell::time(None),
                "another process (or machine) was refreshing it".to_string(),
            ),
            KeepAliveOutcome::Failed(error) => ("failed", Cell::time(None), Cell::time(None), {
                let error = actions::token::for_connection(env.lifecycle(), &name, error);
                crate::advice::advised(&error.to_string(), &error.advice())
            }),
        };
        table.push(vec![
            name.into(),
            what.into(),
            obtained,
            expires,
            detail.into(),
        ]);
    }
    env.print(&table.render(env.format))?;
    for problem in &report.problems {
        eprintln!("error: {problem}");
    }
    match (failed, report.problems.len()) {
        (0, 0) => Ok(()),
        (failed, files) => Err(ExecError::KeepAliveFailed {
            failed,
            total,
            files,
        }),
    }
}

/// After a keep-alive: tells the webhooks of refresh tokens expiring within the warning
/// days of `check` (once a day each), and sends whatever is due in the outbox, including
/// what earlier processes could not deliver. A webhook problem is a note: the keep-alive's
/// own outcome stands.
async fn tell_webhooks(env: &Environment) {
    let warn_days = preauth_core::monitor::Thresholds::default().warn_days;
    let told = actions::webhooks::tell_expiring(env, warn_days);
    let sent = actions::webhooks::deliver(env, WEBHOOK_DELIVERY_BOUND).await;
    if let Some(error) = told.err().or(sent.err()) {
        eprintln!("note: webhook events wait in the outbox, since {error}");
    }
}

/// How long `refresh all connections` spends delivering webhook events.
const WEBHOOK_DELIVERY_BOUND: Duration = Duration::from_secs(5);

/// The keep-alive's progress bar on standard error (only made when it is a terminal):
/// count, rate and time left, and the connection being looked at. It stays on screen,
/// full, when the run ends.
fn keep_alive_bar() -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{bar:30} {pos}/{len} connections  {rate}  {eta} left  {wide_msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key(
        "rate",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}/s", state.per_sec());
        },
    )
    .progress_chars("=> ");
    ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()).with_style(style)
}

/// `drop connection [if exists] '…'`.
pub(super) fn drop_connection(
    env: &Environment,
    name: &str,
    if_exists: bool,
) -> Result<(), ExecError> {
    match actions::connections::drop_connection(env, name)? {
        true => env.note(&format!("connection '{name}' dropped\n")),
        false if if_exists => Ok(()),
        false => Err(StoreError::NotFound { name: name.into() }.into()),
    }
}

/// `alter connection '…' set …`: changes the stored app settings under the connection's
/// lock (a rotated client secret, a corrected redirect URL); the tokens are kept.
pub(super) fn alter(env: &Environment, a: &AlterConnection) -> Result<(), ExecError> {
    let altered = actions::connections::alter(env, &a.connection, a.changes())?;
    let after = if altered.last_refresh_failed {
        format!(
            "; its last refresh failed: once the cause is fixed, run `refresh connection {} force`",
            Quoted(&altered.name)
        )
    } else {
        String::new()
    };
    env.note(&format!(
        "connection '{}' altered: {}{after}\n",
        altered.name,
        altered.changed.join(", ")
    ))
}

/// `import settings '…'`.
pub(super) fn import(env: &Environment, path: &Path) -> Result<(), ExecError> {
    let names = actions::connections::import(env, path)?;
    let what = match names.as_slice() {
        [one] => format!("connection '{one}'"),
        _ => "each imported connection".into(),
    };
    eprintln!("{}", super::show::two_copies(&what));
    env.note(&format!(
        "imported {} connection{} from {}: {}\n",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        path.display(),
        names.join(", ")
    ))
}

/// One line saying what was stored, where, and until when it lives.
fn report_stored(env: &Environment, what: &str, connection: &Connection) -> Result<(), ExecError> {
    let status = env.lifecycle().status(connection, env.lifecycle().now())?;
    let access = match status.access_token_expires_at {
        Some(t) if t <= env.lifecycle().now() => format!(
            "; access token expired at {}, so the first use refreshes it",
            When(t)
        ),
        Some(t) => format!("; access token valid until {}", When(t)),
        None => String::new(),
    };
    let renewable = connection
        .tokens
        .as_ref()
        .is_some_and(|t| t.refresh_token.is_some());
    let refresh = match status.refresh_token_expires_at {
        _ if !renewable => "; no refresh token was issued, so it stops working then".to_string(),
        Some(t) => format!("; refresh token expires {}", When(t)),
        None => String::new(),
    };
    env.note(&format!(
        "connection '{}' {what}{access}{refresh}; stored encrypted in {}\n",
        connection.name,
        env.store().location()
    ))
}
