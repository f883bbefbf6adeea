//! Statements that only read: `show …`, `check connections`, `export settings`.

use preauth_actions::overview::{self, RefreshExpiry};
use preauth_actions::token::{self, access_token_json};
use preauth_actions::{ActionError, Context};
use preauth_core::error::When;
use preauth_core::lifecycle::RefreshFailure;
use preauth_core::platform::{ClientAuth, Platform, Registry};

use super::environment::Environment;
use super::exec_error::ExecError;
use crate::ast::ExportMode;
use crate::output::{Cell, OutputFormat, Table};
use preauth_core::monitor::{CheckReport, Thresholds};

/// The printed form of a usable access token for connection `name`, obtained through the
/// lifecycle's single entry point (lock, re-read, refresh only when needed, persist).
/// JSON carries the token, its expiry, the connection and the platform; never the
/// refresh token or the client secret. Shared by `show access token` and `preauth token`.
pub async fn access_token_output(
    ctx: &Context,
    name: &str,
    format: OutputFormat,
) -> Result<String, ActionError> {
    let grant = token::access_token(ctx, name).await?;
    if let Some(failure) = RefreshFailure::blocking(&grant.connection) {
        // The access token may still work (it may also have been revoked with the
        // grant); the job gets it, the person reading standard error the truth.
        eprintln!(
            "warning: '{name}' cannot be renewed: {}; this access token works until {} at most",
            failure.message,
            When(grant.expires_at)
        );
    }
    Ok(match format {
        OutputFormat::Json => access_token_json(&grant).to_string() + "\n",
        OutputFormat::Table | OutputFormat::Csv => format!("{}\n", grant.token.secret()),
    })
}

/// `show access token for connection '…'`.
pub(super) async fn access_token(env: &Environment, name: &str) -> Result<(), ExecError> {
    let text = access_token_output(env, name, env.format).await?;
    env.print(&text)
}

/// `show connections`: one row per connection. `status` is one short word or phrase;
/// why a connection is `unusable` is in `problem`. `country` is the platform host's
/// country when `api url` is one of the platform's hosts.
pub(super) fn connections(env: &Environment) -> Result<(), ExecError> {
    let (table, problems) = connections_table(env)?;
    env.print(&table.render(env.format))?;
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    Ok(())
}

/// The table of `show connections`, and the problems of the listing (a file that does
/// not parse).
fn connections_table(env: &Environment) -> Result<(Table, Vec<String>), ExecError> {
    let listing = env.lifecycle().store().outlines()?;
    let (summaries, problems) = overview::summaries(env, &listing);
    let mut table = Table::new(&[
        "name",
        "platform",
        "country",
        "api url",
        "status",
        "access token expires",
        "refresh token expires",
        "encrypted",
        "problem",
    ])
    .with_detail("show connection {}");
    for summary in summaries {
        let standing = summary.standing;
        table.push(vec![
            summary.name.into(),
            summary.platform.unwrap_or_default().into(),
            summary.country.unwrap_or_default().into(),
            summary.api_url.unwrap_or_default().into(),
            standing.status.clone().into(),
            Cell::time(standing.access_token_expires_at),
            refresh_expiry(standing.refresh_token_expires),
            Cell::Flag(summary.encrypted),
            problem(&standing).into(),
        ]);
    }
    Ok((table, problems))
}

/// `show connection '…'`: every property except the secrets' values.
pub(super) fn connection(env: &Environment, name: &str) -> Result<(), ExecError> {
    let details = overview::details(env, name)?;
    let standing = details.standing;
    let set = Cell::Set;
    let mut table = Table::properties();
    for (key, value) in [
        ("name", details.name.into()),
        ("platform", details.platform.into()),
        ("api url", details.api_url.into()),
        ("client id", details.client_id.into()),
        ("client secret", set(details.has_client_secret)),
        ("redirect url", details.redirect_url.into()),
        ("status", standing.status.clone().into()),
        ("problem", problem(&standing).into()),
        ("access token", set(details.has_access_token)),
        (
            "access token expires",
            Cell::time(standing.access_token_expires_at),
        ),
        ("refresh token", set(details.has_refresh_token)),
        (
            "refresh token obtained",
            Cell::time(details.refresh_token_obtained_at),
        ),
        (
            "refresh token expires",
            refresh_expiry(standing.refresh_token_expires),
        ),
        (
            "last refresh failure",
            details.last_refresh_failure.unwrap_or_default().into(),
        ),
        ("encrypted", Cell::Flag(details.encrypted)),
        ("stored in", details.stored_in.into()),
    ] {
        table.push(vec![key.into(), value]);
    }
    env.print(&table.render(env.format))
}

/// Why a connection cannot be used or renewed, with what repairs it; empty when it can.
fn problem(standing: &overview::Standing) -> String {
    standing
        .problem
        .as_deref()
        .map(|problem| crate::advice::advised(problem, &standing.advice))
        .unwrap_or_default()
}

/// When a refresh token expires, as a cell.
fn refresh_expiry(expiry: RefreshExpiry) -> Cell {
    match expiry {
        RefreshExpiry::At(at) => Cell::Time(at),
        RefreshExpiry::Never => "does not expire".into(),
        RefreshExpiry::Unknown => Cell::Absent,
    }
}

/// `show platforms`.
pub(super) fn platforms(env: &Environment) -> Result<(), ExecError> {
    let mut table = Table::new(&[
        "id",
        "name",
        "provider",
        "countries",
        "client auth",
        "pkce",
        "access token",
        "refresh window",
        "refresh tokens",
    ]);
    for p in env.registry().all() {
        let countries: Vec<&str> = p
            .hosts
            .iter()
            .map(|h| {
                if h.country.is_empty() {
                    "-"
                } else {
                    h.country.as_str()
                }
            })
            .collect();
        table.push(vec![
            p.id.clone().into(),
            p.display_name.clone().into(),
            p.provider.clone().into(),
            countries.join(" ").into(),
            client_auth(&p).into(),
            Cell::Flag(p.pkce),
            format!("{} s", p.default_access_token_lifetime.as_secs()).into(),
            format!("{} s", p.refresh_window.as_secs()).into(),
            refresh_tokens(&p).into(),
        ]);
    }
    env.print(&table.render(env.format))
}

/// `show platform '…'`: everything known about one platform, endpoints as the full URLs
/// used for its default host.
pub(super) fn platform(env: &Environment, id: &str) -> Result<(), ExecError> {
    let p = env.platform(id)?;
    let base = p.base_url(None).unwrap_or_default();
    let url = |endpoint: Result<String, _>| -> Cell { endpoint.unwrap_or_default().into() };
    let hosts: Vec<String> = p
        .hosts
        .iter()
        .map(|h| match h.country.as_str() {
            "" => h.base_url.clone(),
            country => format!("{country} {}", h.base_url),
        })
        .collect();
    let parameters: Vec<String> = p
        .extra_authorize_params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let defined_in = if Registry::builtin().get(&p.id).is_some() {
        "built in".to_string()
    } else {
        env.platforms_location()
    };
    let mut table = Table::properties();
    for (key, value) in [
        ("id", p.id.clone().into()),
        ("name", p.display_name.clone().into()),
        ("provider", p.provider.clone().into()),
        ("hosts", hosts.join(", ").into()),
        (
            "issuer",
            p.issuer(base).ok().flatten().unwrap_or_default().into(),
        ),
        (
            "authorization endpoint",
            url(p.authorize_url(base).map(String::from)),
        ),
        ("token endpoint", url(p.token_url(base).map(String::from))),
        ("client authentication", client_auth(&p).into()),
        ("scopes", p.scopes.join(" ").into()),
        ("pkce", Cell::Flag(p.pkce)),
        ("nonce", Cell::Flag(p.nonce)),
        ("authorization parameters", parameters.join(" ").into()),
        ("return URL must carry iss", Cell::Flag(p.iss_required)),
        ("refresh tokens", refresh_tokens(&p).into()),
        (
            "access token lifetime when unstated",
            format!("{} s", p.default_access_token_lifetime.as_secs()).into(),
        ),
        (
            "refresh window",
            format!("{} s", p.refresh_window.as_secs()).into(),
        ),
        ("defined in", defined_in.into()),
    ] {
        table.push(vec![key.into(), value]);
    }
    env.print(&table.render(env.format))
}

/// How a platform's client authenticates, as statements write it.
fn client_auth(p: &Platform) -> &'static str {
    match p.client_auth {
        ClientAuth::FormBody => "body",
        ClientAuth::HttpBasic => "basic",
    }
}

/// What a platform's refresh tokens are: none, single use or reusable, and how long
/// they last unused.
fn refresh_tokens(p: &Platform) -> String {
    if !p.issues_refresh_tokens {
        return "none issued".to_string();
    }
    let kind = if p.refresh_token_rotates {
        "single use"
    } else {
        "reusable"
    };
    match p.refresh_token_lifetime {
        Some(l) => format!("{kind}, {} days", l.as_secs() / 86_400),
        None => kind.to_string(),
    }
}

/// `check connections [warn days N] [critical days M]`: the table with a check column,
/// then the monitoring status line: a line of its own in a table, a last record in CSV
/// (empty name and platform, the overall state under `check`, the status line under
/// `reason`), and in JSON the one object `preauth check --format json` prints.
pub(super) fn check(
    env: &Environment,
    warn_days: Option<u32>,
    critical_days: Option<u32>,
) -> Result<(), ExecError> {
    let defaults = Thresholds::default();
    let thresholds = Thresholds {
        warn_days: warn_days.unwrap_or(defaults.warn_days),
        critical_days: critical_days.unwrap_or(defaults.critical_days),
    };
    // Like `show connections`: a folder that cannot be read fails the statement with the
    // store's error (`preauth check` reports it as UNKNOWN instead).
    let report = overview::check_or_fail(env, thresholds)?;
    let mut table = check_table(&report);
    let text = match env.format {
        OutputFormat::Table => table.render(env.format) + &report.status_line() + "\n",
        OutputFormat::Json => report.to_json().to_string() + "\n",
        OutputFormat::Csv => {
            // The status line as the last record: no name (connection names are never
            // empty) and no platform, the overall state under `check` and the plugin
            // status line under `reason`.
            table.push(vec![
                "".into(),
                "".into(),
                report.state().to_string().into(),
                report.status_line().into(),
            ]);
            table.render(env.format)
        }
    };
    env.print(&text)
}

/// The checked connections as a table with a status column.
fn check_table(report: &CheckReport) -> Table {
    let mut table =
        Table::new(&["name", "platform", "check", "reason"]).with_detail("show connection {}");
    for c in &report.connections {
        table.push(vec![
            c.name.clone().into(),
            c.platform.clone().into(),
            c.state.to_string().into(),
            crate::advice::advised(&c.reason, &c.advice).into(),
        ]);
    }
    table
}

/// `export settings '…' [plain|encrypted]`: encrypted unless plain is asked for.
pub(super) fn export(
    env: &Environment,
    name: &str,
    mode: Option<ExportMode>,
) -> Result<(), ExecError> {
    let sealed = mode != Some(ExportMode::Plain);
    let xml = env.store().export_settings(name, sealed)?;
    eprintln!("{}", two_copies(&format!("connection '{name}'")));
    match env.format {
        OutputFormat::Json => env.print(&crate::output::value(env.format, xml.trim_end())),
        OutputFormat::Table | OutputFormat::Csv => env.print(&xml),
    }
}

/// The warning after an export or import: the single-use refresh token of `what` now
/// exists in two places, and one refresh spends it for both.
pub(super) fn two_copies(what: &str) -> String {
    format!(
        "warning: {}",
        preauth_actions::connections::two_copies(what)
    )
}
