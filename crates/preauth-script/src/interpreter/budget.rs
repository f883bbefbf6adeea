//! `show limits` and `alter app '…' set token calls per day N, reserve P percent`: the platforms'
//! token-endpoint limits (per user of an app: each connection has its own day's calls),
//! what a person set per app, and what the connections counted today (see
//! [`preauth_core::budget`]).

use preauth_core::budget::{self, AppSettings, DEFAULT_RESERVE_PERCENT, KEPT_FOR_A_PERSON};
use preauth_core::error::Quoted;

use super::{Environment, ExecError};
use crate::output::{Cell, Table};

fn limit(value: Option<u32>) -> Cell {
    value.map_or(Cell::Absent, |n| n.to_string().into())
}

/// `show limits`: each platform's limits, then each app that made calls today, had
/// errors within the hour, or has its own settings: its busiest connection's calls today
/// and how many connections made calls, from one listing of the store.
pub(super) fn show(env: &Environment) -> Result<(), ExecError> {
    let mut table = Table::new(&[
        "platform",
        "app",
        "token calls per day",
        "errors per hour block",
        "reserve percent",
        "most calls of one connection today",
        "connections with calls today",
        "errors last hour",
    ]);
    let registry = env.registry();
    for p in registry.all() {
        table.push(vec![
            p.id.clone().into(),
            "(every app)".into(),
            limit(p.token_calls_per_day),
            limit(p.token_errors_per_hour_block),
            DEFAULT_RESERVE_PERCENT.to_string().into(),
            Cell::Absent,
            Cell::Absent,
            Cell::Absent,
        ]);
    }
    if let Some(ledger) = env.lifecycle().ledger() {
        let listed = env.lifecycle().store().list()?;
        let connections = listed
            .connections
            .iter()
            .filter_map(|l| l.connection.as_ref().ok());
        for app in budget::usage(ledger.as_ref(), connections, env.lifecycle().now())? {
            let platform = registry.get(&app.platform);
            table.push(vec![
                app.platform.into(),
                app.client_id.into(),
                limit(
                    app.set
                        .calls_per_day
                        .or(platform.as_ref().and_then(|p| p.token_calls_per_day)),
                ),
                limit(platform.and_then(|p| p.token_errors_per_hour_block)),
                app.set
                    .reserve_percent
                    .unwrap_or(DEFAULT_RESERVE_PERCENT)
                    .to_string()
                    .into(),
                app.most_calls_today.to_string().into(),
                app.connections_today.to_string().into(),
                app.errors_last_hour.to_string().into(),
            ]);
        }
    }
    env.print(&table.render(env.format))?;
    env.note(&format!(
        "token calls per day count per connection (one user of an app); background work (refresh all connections, a keep-alive) leaves the reserve of a connection's day's calls to interactive use; automatic calls leave the last {KEPT_FOR_A_PERSON} errors before a block to a person's explicit action\n"
    ))
}

/// `alter app '…' set token calls per day N, reserve P percent`.
pub(super) fn set(
    env: &Environment,
    client_id: &str,
    calls_per_day: Option<u32>,
    reserve_percent: Option<u32>,
) -> Result<(), ExecError> {
    let Some(ledger) = env.lifecycle().ledger() else {
        return env.note("this store keeps no budget ledger; nothing was set\n");
    };
    // More than all calls cannot be kept back.
    let reserve_percent = reserve_percent.map(|p| p.min(100));
    let change = AppSettings {
        calls_per_day,
        reserve_percent,
    };
    let set = budget::set_for_app(ledger.as_ref(), client_id, change)?;
    let calls = set
        .calls_per_day
        .map_or("its platform's budget of".to_string(), |n| n.to_string());
    let reserve = set.reserve_percent.unwrap_or(DEFAULT_RESERVE_PERCENT);
    env.note(&format!(
        "each connection of app {} may make {calls} token-endpoint calls a day; background work leaves {reserve} % of them to interactive use; for every process using this store\n",
        Quoted(client_id)
    ))
}
