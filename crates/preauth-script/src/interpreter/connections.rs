//! Statements that create, refresh and remove connections.

use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use preauth_core::connection::{Connection, fold_name};
use preauth_core::error::{LifecycleError, Quoted, REGISTERED_KEY, When, is_registered};
use preauth_core::lifecycle::Lifecycle;
use preauth_core::lifecycle::REFRESH_FAILED_KEY;
use preauth_core::lifecycle::{
    KeepAliveEvent, KeepAliveOutcome, Proof, RegisterRequest, Registration,
};
use preauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use preauth_core::store::StoreError;

use super::authorize::Return;
use super::{Environment, ExecError};
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
    let connection = new_login(env, p)?;
    log_in(env, connection).await
}

/// `preauthenticate connection '…'`: log in again for a stored connection with the app
/// it stores (client id, client secret, redirect URL, platform, base URL). The new
/// tokens replace the old ones in place (other stored keys are kept); until the login
/// completes, the stored connection is left as it was.
pub(super) async fn preauthenticate_again(env: &Environment, name: &str) -> Result<(), ExecError> {
    let connection = login_again(env, name)?;
    log_in(env, connection).await
}

/// The connection a new login of `p` creates, checked before anyone logs in: a valid
/// name that is not taken, a known platform and country. Shared by the statement and
/// the Preauthenticate page of `preauth serve`.
pub fn new_login(env: &Environment, p: &Preauthenticate) -> Result<Connection, ExecError> {
    let connection = env.new_connection(&p.connection, &p.app)?;
    refuse_existing(env, &connection.name)?;
    Ok(connection)
}

/// Stored connection `name` without its tokens, for a new login with the app it
/// stores. Stored extras (a recorded failure, a cluster URL) stay in the store: the
/// login merges into it and clears what applied to the old tokens.
pub fn login_again(env: &Environment, name: &str) -> Result<Connection, ExecError> {
    let mut connection = env.lifecycle().store().load(name)?;
    connection.tokens = None;
    connection.extra.clear();
    Ok(connection)
}

/// Finishes a login from its return URL: exchanges the code, stores the connection and
/// marks it as logged in here. Shared by `exchange code url`, the browser step of
/// `preauthenticate` and the callback of `preauth serve`.
pub async fn finish_login(env: &Environment, return_url: &str) -> Result<Connection, ExecError> {
    let connection = env.lifecycle().finish_authorization(return_url).await?;
    logged_in_here(env, connection)
}

/// The browser step and the code exchange for `connection` (a new one, or a stored one
/// without its tokens).
async fn log_in(env: &Environment, connection: Connection) -> Result<(), ExecError> {
    let waiting = Return::prepare(&connection.redirect_url).await?;
    let started = env.lifecycle().start_authorization(&connection)?;
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
        return env.note(&format!(
            "After logging in, the browser lands on {}?code=…; finish within 10 minutes with:\n  exchange code url '<that whole URL>';\n",
            connection.redirect_url
        ));
    };
    let connection = finish_login(env, &return_url).await?;
    report_stored(env, "authorized", &connection)
}

/// After a login here, new tokens no longer come from a partner application: removes
/// the mark of a registered connection (see [`REGISTERED_KEY`]), so that advice for dead
/// tokens names a login again.
fn logged_in_here(env: &Environment, connection: Connection) -> Result<Connection, ExecError> {
    // The login's answer was merged into the stored connection, which keeps its extra
    // keys: the mark is in the store, not in `connection`.
    let mut locked = env.lifecycle().store().lock(&connection.name)?;
    let mut stored = locked.load()?;
    if !is_registered(&stored) {
        return Ok(connection);
    }
    stored
        .extra
        .retain(|(k, _)| !k.eq_ignore_ascii_case(REGISTERED_KEY));
    locked.save(&stored)?;
    Ok(stored)
}

/// `exchange code url '…' [for connection '…']`: finish a started authorization.
pub(super) async fn exchange(
    env: &Environment,
    url: &str,
    expected: Option<&str>,
) -> Result<(), ExecError> {
    let connection = finish_login(env, url).await?;
    if let Some(expected) = expected.filter(|e| !connection.is_named(e)) {
        return Err(ExecError::OtherConnection {
            stored: connection.name.clone(),
            expected: expected.to_string(),
        });
    }
    report_stored(env, "authorized", &connection)
}

/// `register connection …`: tokens obtained elsewhere (the OEM flow).
pub(super) async fn register(env: &Environment, r: &Register) -> Result<(), ExecError> {
    let registration = register_connection(env, r).await?;
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

/// Registers tokens obtained elsewhere with every check of `register connection` (a
/// taken name, a refresh token another connection holds, the time given, the
/// lifecycle's validation) and prints nothing: shared by the statement and the API of
/// `preauth serve`.
pub async fn register_connection(
    env: &Environment,
    r: &Register,
) -> Result<Registration, ExecError> {
    // A taken name is refused here with the stored spelling and advice for new tokens
    // (the store refuses it again when the connection is created, against a race).
    let connection = env.new_connection(&r.connection, &r.app)?;
    let taken = match env.lifecycle().store().load(&r.connection) {
        Ok(existing) => Some(existing.name),
        Err(StoreError::NotFound { .. }) => None,
        Err(
            StoreError::InvalidConnection { name, .. }
            | StoreError::Protect { name, .. }
            | StoreError::Duplicate { name, .. },
        ) => Some(name),
        Err(other) => return Err(other.into()),
    };
    if let Some(existing) = taken {
        return Err(ExecError::RegisterNameTaken { existing });
    }
    let obtained_at = r
        .obtained_at
        .as_deref()
        .map(|text| {
            humantime::parse_rfc3339_weak(text).map_err(|source| ExecError::BadTime {
                text: text.to_string(),
                source,
            })
        })
        .transpose()?;
    let refresh_token = RefreshToken::new(r.refresh_token.secret());
    // Two connections with one refresh token spend it twice: the second refresh finds
    // it used, and on Exact the chain of one of them is dead.
    if let Some(holder) = env.holder_of(&refresh_token)? {
        return Err(ExecError::TokenHeld {
            connection: r.connection.clone(),
            holder,
        });
    }
    let registration = env
        .lifecycle()
        .register(RegisterRequest {
            connection,
            access_token: AccessToken::new(r.access_token.secret()),
            refresh_token,
            obtained_at,
            verify: r.verify,
        })
        .await?;
    if let Some(stored) = registration
        .connection
        .tokens
        .as_ref()
        .and_then(|t| t.refresh_token.as_ref())
    {
        env.note_held(&registration.connection.name, stored);
    }
    Ok(registration)
}

/// `refresh connection '…' [force]`.
pub(super) async fn refresh(env: &Environment, name: &str, force: bool) -> Result<(), ExecError> {
    let grant = env
        .lifecycle()
        .refresh(name, force)
        .await
        .map_err(|e| advised(env.lifecycle(), name, e))?;
    let done = if grant.refreshed {
        "refreshed"
    } else {
        "not refreshed yet (still valid)"
    };
    env.note(&format!(
        "connection '{}' {done}; access token valid until {}\n",
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
            } => (
                "refreshed",
                Cell::time(None),
                Cell::time(refresh_token_expires_at),
                String::new(),
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
            KeepAliveOutcome::Failed(error) => (
                "failed",
                Cell::time(None),
                Cell::time(None),
                advised(env.lifecycle(), &name, error).to_string(),
            ),
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

/// A refresh error of connection `name` as advice for it as stored: a connection
/// registered from a partner application's tokens is repaired by new tokens from there
/// (see [`LifecycleError::for_connection`]). Reads the connection only for errors that
/// need new tokens.
pub(super) fn advised(lifecycle: &Lifecycle, name: &str, error: LifecycleError) -> LifecycleError {
    if !error.needs_new_login() && !matches!(error, LifecycleError::RefreshBlocked { .. }) {
        return error;
    }
    match lifecycle.store().load(name) {
        Ok(connection) => error.for_connection(&connection),
        Err(_) => error,
    }
}

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
    match env.lifecycle().store().drop_connection(name)? {
        true => env.note(&format!("connection '{name}' dropped\n")),
        false if if_exists => Ok(()),
        false => Err(StoreError::NotFound { name: name.into() }.into()),
    }
}

/// `alter connection '…' set …`: changes the stored app settings under the connection's
/// lock (a rotated client secret, a corrected redirect URL); the tokens are kept.
pub(super) fn alter(env: &Environment, a: &AlterConnection) -> Result<(), ExecError> {
    let mut changed: Vec<&str> = Vec::new();
    let mut locked = env.lifecycle().store().lock(&a.connection)?;
    let mut connection = locked.load()?;
    if let Some(id) = &a.client_id {
        connection.client_id = id.clone();
        changed.push("client id");
    }
    if let Some(secret) = &a.client_secret {
        connection.client_secret = Some(secret.secret())
            .filter(|s| !s.is_empty())
            .map(ClientSecret::new);
        changed.push("client secret");
    }
    if let Some(url) = &a.redirect_url {
        connection.redirect_url = url.clone();
        changed.push("redirect url");
    }
    if let Some(url) = &a.api_url {
        connection.api_url = env.platform(&connection.platform)?.check_api_url(url)?;
        changed.push("api url");
    }
    locked.save(&connection)?;
    drop(locked);
    let blocked = connection
        .extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(REFRESH_FAILED_KEY));
    let after = if blocked {
        format!(
            "; its last refresh failed: once the cause is fixed, run `refresh connection {} force`",
            Quoted(&connection.name)
        )
    } else {
        String::new()
    };
    env.note(&format!(
        "connection '{}' altered: {}{after}\n",
        connection.name,
        changed.join(", ")
    ))
}

/// `import settings '…'`.
pub(super) fn import(env: &Environment, path: &Path) -> Result<(), ExecError> {
    let names = env.store().import_settings(path)?;
    env.note(&format!(
        "imported {} connection{} from {}: {}\n",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        path.display(),
        names.join(", ")
    ))
}

/// Refuses a name that is taken before anyone logs in for it.
fn refuse_existing(env: &Environment, name: &str) -> Result<(), ExecError> {
    let taken = env.lifecycle().store().names()?;
    match taken.iter().find(|n| fold_name(n) == fold_name(name)) {
        Some(existing) => Err(ExecError::NameTaken {
            existing: existing.clone(),
        }),
        None => Ok(()),
    }
}

/// One line saying what was stored, where, and until when it lives.
fn report_stored(env: &Environment, what: &str, connection: &Connection) -> Result<(), ExecError> {
    let status = env.lifecycle().status(connection, env.lifecycle().now())?;
    let access = status
        .access_token_expires_at
        .map(|t| format!("; access token valid until {}", When(t)))
        .unwrap_or_default();
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
