//! The connections page (the `show connections` table with each connection's check),
//! a connection's result page (its properties, the settings file sealed or, when asked,
//! plain, and the `encrypt connection` statement for the target machine), logging in
//! again, and dropping with a confirmation.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use preauth_actions::login::login_again;
use preauth_actions::overview::{Details, Summary, details, summaries};
use preauth_actions::{ActionError, Context};
use preauth_core::error::Quoted;
use preauth_core::monitor::{self, CheckState};
use preauth_core::sealing::SealError;
use preauth_core::settings::keys::to_connection_string;
use preauth_core::store::{Page, StoreError};
use zeroize::Zeroizing;

use super::forms::{Button, Posted, action_shown, capitalized};
use super::layout::{Section, csrf_field, page};
use super::page_error::{PageError, PageResult};
use super::preauthenticate::continue_login;
use super::respond::{connection_path, on_store, respond, see_other};
use super::session::Visitor;
use super::signed::Signed;
use crate::audit::audit;
use crate::paging;
use crate::state::AppState;
use crate::views;

/// One row of the connections page.
struct Row {
    summary: Summary,
    check: Option<(CheckState, String)>,
}

/// How many connections the connections page shows at a time.
const PAGE_SIZE: usize = 100;

/// `GET /connections?q=&after=`: a page of the connections whose names contain `q`, with
/// the verdict over all of them.
pub(crate) async fn list(
    State(state): State<AppState>,
    Signed(visitor): Signed,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, PageError> {
    let thresholds = state.thresholds;
    // A bad query (a hand-edited URL) shows the first page.
    let params = params.map(|Query(p)| p).unwrap_or_default();
    let wanted = paging::page_of(&params, PAGE_SIZE).unwrap_or(Page {
        limit: PAGE_SIZE,
        ..Page::default()
    });
    let search = wanted.containing.clone().unwrap_or_default();
    let (rows, problems, verdict, total, next) = on_store(&state.env, move |env| {
        let now = env.lifecycle().now();
        // The verdict covers every connection (outlines only: nothing is opened).
        let overall = preauth_actions::overview::check(env, thresholds);
        if let Some(unknown) = &overall.unknown {
            return Err(ActionError::Store(StoreError::Backend {
                location: env.store().location(),
                reason: unknown.clone(),
                source: None,
            }));
        }
        let paged = env.store().outline_page(&wanted)?;
        let (summaries, problems) = summaries(env, &paged.listing);
        let report = monitor::check_listing(paged.listing, env.registry(), now, thresholds);
        let mut checks: HashMap<String, (CheckState, String)> = report
            .connections
            .iter()
            .map(|c| (c.name.clone(), (c.state, c.reason.clone())))
            .collect();
        let rows: Vec<Row> = summaries
            .into_iter()
            .map(|summary| Row {
                check: checks.remove(&summary.name),
                summary,
            })
            .collect();
        Ok((
            rows,
            problems,
            (overall.state(), needing_attention(&overall)),
            paged.total,
            paged.next,
        ))
    })
    .await?
    .map_err(not_found)?;
    let body = html! {
        p { span class={ "state-" (verdict.0) } { (verdict.0) } " — " (verdict.1) }
        @for problem in &problems {
            p.alert role="alert" { (capitalized(problem)) }
        }
        p.actions {
            a.button href="/preauthenticate" { "Preauthenticate" }
            a.button.secondary href="/register" { "Register tokens" }
        }
        form.search method="get" action="/connections" role="search" {
            label for="q" { "Name contains" }
            input id="q" name="q" type="search" value=(search) aria-describedby="q-help";
            button.secondary type="submit" { "Search" }
            p.help id="q-help" { (shown_of(rows.len(), total, &search)) }
        }
        @if rows.is_empty() && search.is_empty() {
            p { "No connections yet." }
        } @else if rows.is_empty() {
            p { "No connection's name contains that." }
        } @else {
            div.table-wrap {
                table {
                    caption.help { "Each connection, its tokens' expiries and its check (as preauth check judges it)." }
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Platform" }
                        th scope="col" { "Status" }
                        th scope="col" { "Access token expires" }
                        th scope="col" { "Refresh token expires" }
                        th scope="col" { "Check" }
                        th scope="col" { "Actions" }
                    } }
                    tbody {
                        @for row in &rows {
                            @let name = &row.summary.name;
                            @let standing = &row.summary.standing;
                            tr {
                                th scope="row" { a href=(connection_path(name)) { (name) } }
                                td { (row.summary.platform.as_deref().unwrap_or_default()) " " (row.summary.country.as_deref().unwrap_or_default()) }
                                td { (standing.status) @if let Some(problem) = views::problem(standing) { br; small { (problem) } } }
                                td { (views::when(standing.access_token_expires_at)) }
                                td { (views::refresh_expiry(standing.refresh_token_expires)) }
                                td {
                                    @if let Some((check, reason)) = &row.check {
                                        span class={ "state-" (check) } { (check) }
                                        // A refused refresh is the problem under Status already.
                                        @if problem_of(row).is_empty() || !reason.contains(&problem_of(row)) { " " (reason) }
                                    }
                                }
                                td { (actions(&visitor, name)) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &next {
                p.actions { a.button.secondary href=(next_page(next, &search)) { "Next page" } }
            }
        }
    };
    Ok(respond(
        &visitor,
        StatusCode::OK,
        page("Connections", Section::Connections, Some(&visitor), body),
    ))
}

/// The problem of a row (why it is unusable or its refresh was refused), or "".
fn problem_of(row: &Row) -> String {
    row.summary.standing.problem.clone().unwrap_or_default()
}

/// The verdict over all connections for the top of the page: "2 connections healthy",
/// or the names of those that need attention, worst first (why is in their rows; the
/// page says each reason once).
fn needing_attention(report: &monitor::CheckReport) -> String {
    if report.state() == CheckState::Ok || report.unknown.is_some() {
        return report.summary();
    }
    let bad = report.needing_attention();
    let mut names: Vec<String> = bad
        .iter()
        .take(monitor::SUMMARY_NAMED)
        .map(|c| c.name.clone())
        .collect();
    if bad.len() > monitor::SUMMARY_NAMED {
        names.push(format!("{} more", bad.len() - monitor::SUMMARY_NAMED));
    }
    format!("needing attention: {}", names.join(", "))
}

/// "Showing 100 of 2,345 connections" (whose names contain `search`).
fn shown_of(shown: usize, total: usize, search: &str) -> String {
    let matching = if search.is_empty() {
        String::new()
    } else {
        " whose names contain it".to_string()
    };
    format!("Showing {shown} of {total} connections{matching}, in name order.")
}

/// The connections page after `after`, with the same search.
fn next_page(after: &str, search: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("after", after);
    if !search.is_empty() {
        query.append_pair("q", search);
    }
    format!("/connections?{}", query.finish())
}

/// The buttons of a connection: log in again, drop.
fn actions(visitor: &Visitor, name: &str) -> Markup {
    let path = connection_path(name);
    html! {
        div.actions {
            form.inline id="log-in-again" method="post" action={ (path) "/login" } {
                (csrf_field(visitor))
                button.secondary type="submit" aria-label={ "Log in again for " (name) } { "Log in again" }
            }
            form.inline id="refresh-now" method="post" action={ (path) "/refresh" } {
                (csrf_field(visitor))
                button.secondary type="submit" aria-label={ "Refresh now " (name) } { "Refresh now" }
            }
            a.button.secondary href={ (path) "/app" } aria-label={ "App settings of " (name) } { "App settings" }
            a.button.secondary href={ (path) "/drop" } aria-label={ "Drop " (name) } { "Drop…" }
        }
    }
}

/// What the result page shows of a connection.
struct Shown {
    details: Details,
    settings_file: Zeroizing<String>,
    /// The plain connection string, only when the secrets were asked for.
    connection_string: Option<Zeroizing<String>>,
    location: String,
}

fn read(env: &Context, name: &str, secrets: bool) -> Result<Shown, ActionError> {
    let details = details(env, name)?;
    let connection = env.lifecycle().store().load(name)?;
    let settings_file = env.store().export_settings(&connection.name, !secrets)?;
    let connection_string = if secrets {
        let text = to_connection_string(&connection, None)
            .map_err(|e| SealError::from(e).at(env.store().location(), &connection.name))?
            .to_text();
        Some(text)
    } else {
        None
    };
    Ok(Shown {
        details,
        settings_file,
        connection_string,
        location: env.store().location(),
    })
}

/// `GET /connections/{name}`: the result page, secrets sealed.
pub(crate) async fn result(
    State(state): State<AppState>,
    Signed(visitor): Signed,
    Path(name): Path<String>,
) -> PageResult {
    result_page(&state, &visitor, name, false).await
}

/// `POST /connections/{name}/secrets`: the result page with the settings file plain and
/// the `encrypt connection` statement (asked for explicitly; never cached).
pub(crate) async fn secrets(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Posted { visitor, .. }: Posted<Button>,
) -> PageResult {
    let shown = result_page(&state, &visitor, name.clone(), true).await?;
    audit(
        visitor.who(),
        format_args!("was shown the secrets of connection '{name}'"),
    );
    Ok(shown)
}

async fn result_page(
    state: &AppState,
    visitor: &Visitor,
    name: String,
    secrets: bool,
) -> PageResult {
    let shown = on_store(&state.env, move |env| read(env, &name, secrets))
        .await?
        .map_err(not_found)?;
    let name = &shown.details.name;
    let standing = &shown.details.standing;
    let file_name = format!("settings-{name}.xml");
    let path = connection_path(name);
    let properties = properties(&shown.details);
    let body = html! {
        dl.summary {
            dt { "Status" } dd { (standing.status) @if let Some(problem) = views::problem(standing) { " — " (problem) } }
            dt { "Access token expires" } dd { (views::when(standing.access_token_expires_at)) }
            dt { "Refresh token expires" } dd { (views::refresh_expiry(standing.refresh_token_expires)) }
        }
        details {
            summary { "Every property (no secret's value)" }
            div.table-wrap {
                table {
                    tbody {
                        @for (property, value) in &properties {
                            tr { th scope="row" { (property) } td { (value) } }
                        }
                    }
                }
            }
        }
        h2 { "Settings file " code { (file_name) } }
        @match &shown.connection_string {
            None => {
                p { "Stored in " (shown.location) ". Its connection string is encrypted with this store's key, so the file opens only where that key is: on this machine (or, for a PostgreSQL store, an enrolled machine)." }
                pre aria-label="Settings file, encrypted" { (shown.settings_file.as_str()) }
                h2 { "On another machine" }
                p { strong { "Keep each connection on one machine:" } " a refresh token can be spent once, so two machines refreshing the same connection break its chain. Once it works on the other machine, drop it here (or let jobs there get access tokens from this server's API instead)." }
                p { "Run the " code { "encrypt connection" } " statement there (it holds the tokens and the client secret, so it is shown only when asked for), and paste what it prints as the " code { "connectionString" } " of " code { (file_name) } " there." }
                form.card method="post" action={ (path) "/secrets" } {
                    (csrf_field(visitor))
                    p { "The plain settings file and the statement hold the refresh token and the client secret: anyone who sees them can use the connection." }
                    button.danger type="submit" { "Show secrets" }
                }
            }
            Some(connection_string) => {
                p.alert role="alert" { "Secrets shown: this page holds the refresh token and the client secret. Close it when done." }
                pre aria-label="Settings file, plain" { (shown.settings_file.as_str()) }
                p { strong { "Keep one copy in use:" } " the refresh token works once, so once the connection works on the other machine, drop it here; otherwise the first refresh on one machine spends the token the other holds, and that copy is broken." }
                h2 { "Encrypt statement for the target machine" }
                p { "Run this on the machine that will use the connection (" code { "preauth -c \"…\"" } " or the preauth shell); paste its output as the " code { "connectionString" } " of " code { (file_name) } " there." }
                pre aria-label="Encrypt statement" { "encrypt connection " (Quoted(connection_string)) ";" }
                p { a href=(path) { "Hide the secrets" } }
            }
        }
        h2 { "Actions" }
        (actions(visitor, name))
    };
    let title = format!("Connection '{name}'");
    Ok(respond(
        visitor,
        StatusCode::OK,
        page(&title, Section::Connections, Some(visitor), body),
    ))
}

/// An action's error as a page error: an unknown connection is a 404.
pub(super) fn not_found(error: ActionError) -> PageError {
    match error {
        ActionError::Store(StoreError::NotFound { name }) => {
            PageError::NotFound(format!("There is no connection '{name}'."))
        }
        other => PageError::Refused(action_shown(&other)),
    }
}

/// `POST /connections/{name}/login`: a new login with the app the connection stores.
pub(crate) async fn log_in_again(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Posted { visitor, .. }: Posted<Button>,
) -> PageResult {
    let started = on_store(&state.env, move |env| {
        let connection = login_again(env, &name)?;
        Ok(env.lifecycle().start_authorization(&connection)?)
    })
    .await?
    .map_err(not_found)?;
    continue_login(&state, &headers, &visitor, &started)
}

/// `GET /connections/{name}/drop`: asks before dropping.
pub(crate) async fn confirm_drop(
    State(state): State<AppState>,
    Signed(visitor): Signed,
    Path(name): Path<String>,
) -> PageResult {
    let stored = on_store(&state.env, move |env| {
        Ok(env.lifecycle().store().load(&name)?.name)
    })
    .await?
    .map_err(not_found)?;
    let path = connection_path(&stored);
    let body = html! {
        form.card method="post" action={ (path) "/drop" } {
            (csrf_field(&visitor))
            p { "Drop connection '" (stored) "'? Its tokens are deleted from " (state.env.store().location()) "; jobs that use it stop working until it is preauthenticated again. This cannot be undone." }
            div.actions {
                button.danger type="submit" { "Drop '" (stored) "'" }
                a.button.secondary href=(path) { "Cancel" }
            }
        }
    };
    Ok(respond(
        &visitor,
        StatusCode::OK,
        page(
            "Drop connection",
            Section::Connections,
            Some(&visitor),
            body,
        ),
    ))
}

/// `POST /connections/{name}/drop`.
pub(crate) async fn drop_connection(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Posted { visitor, .. }: Posted<Button>,
) -> PageResult {
    let dropped = name.clone();
    let existed = on_store(&state.env, move |env| {
        preauth_actions::connections::drop_connection(env, &name)
    })
    .await?
    .map_err(not_found)?;
    if !existed {
        return Err(PageError::NotFound(format!(
            "There is no connection '{dropped}'."
        )));
    }
    state
        .web
        .sessions
        .flash(&visitor, html! { "Connection '" (dropped) "' dropped." });
    audit(
        visitor.who(),
        format_args!("dropped connection '{dropped}'"),
    );
    Ok(see_other("/connections"))
}

/// Every property of a connection but its secrets' values, as the result page lists them.
fn properties(details: &Details) -> Vec<(&'static str, String)> {
    let set = |present: bool| if present { "(set)" } else { "(none)" }.to_string();
    let standing = &details.standing;
    vec![
        ("name", details.name.clone()),
        ("platform", details.platform.clone()),
        ("api url", details.api_url.clone()),
        ("client id", details.client_id.clone()),
        ("client secret", set(details.has_client_secret)),
        ("redirect url", details.redirect_url.clone()),
        ("status", standing.status.clone()),
        ("problem", standing.problem.clone().unwrap_or_default()),
        ("access token", set(details.has_access_token)),
        (
            "access token expires",
            views::when(standing.access_token_expires_at),
        ),
        ("refresh token", set(details.has_refresh_token)),
        (
            "refresh token obtained",
            views::when(details.refresh_token_obtained_at),
        ),
        (
            "refresh token expires",
            views::refresh_expiry(standing.refresh_token_expires),
        ),
        (
            "last refresh failure",
            details.last_refresh_failure.clone().unwrap_or_default(),
        ),
        ("encrypted", views::yes_no(details.encrypted).to_string()),
        ("stored in", details.stored_in.clone()),
    ]
}
