//! `show limits` and `alter app '…' set token calls per day N`: the platforms'
//! token-endpoint limits and what the budget ledger counted (see
//! [`preauth_core::budget`]).

use preauth_core::budget::{self, DEFAULT_RESERVE_PERCENT, KEPT_FOR_A_PERSON};
use preauth_core::error::Quoted;

use super::{Environment, ExecError};
use crate::output::{Cell, Table};

fn limit(value: Option<u32>) -> Cell {
    value.map_or(Cell::Absent, |n| n.to_string().into())
}

/// `show limits`: each platform's limits, then each app the ledger knows today.
pub(super) fn show(env: &Environment) -> Result<(), ExecError> {
    let mut table = Table::new(&[
        "platform",
        "app",
        "token calls per day",
        "errors per hour block",
        "calls today",
        "errors last hour",
    ]);
    let registry = env.registry();
    for p in registry.all() {
        table.push(vec![
            p.id.clone().into(),
            "(every app)".into(),
            limit(p.token_calls_per_day),
            limit(p.token_errors_per_hour_block),
            Cell::Absent,
            Cell::Absent,
        ]);
    }
    if let Some(ledger) = env.lifecycle().ledger() {
        for app in budget::usage(ledger.as_ref(), env.lifecycle().now())? {
            let platform = registry.get(&app.platform);
            table.push(vec![
                app.platform.into(),
                app.client_id.into(),
                limit(
                    app.calls_per_day
                        .or(platform.as_ref().and_then(|p| p.token_calls_per_day)),
                ),
                limit(platform.and_then(|p| p.token_errors_per_hour_block)),
                app.calls_today.to_string().into(),
                app.errors_last_hour.to_string().into(),
            ]);
        }
    }
    env.print(&table.render(env.format))?;
    env.note(&format!(
        "background work (refresh all connections, a keep-alive) leaves the last {DEFAULT_RESERVE_PERCENT} % of a day's calls to interactive use; automatic calls leave the last {KEPT_FOR_A_PERSON} errors before a block to a person's explicit action\n"
    ))
}

/// `alter app '…' set token calls per day N`.
pub(super) fn set(env: &Environment, client_id: &str, calls: u32) -> Result<(), ExecError> {
    let Some(ledger) = env.lifecycle().ledger() else {
        return env.note("this store keeps no budget ledger; nothing was set\n");
    };
    budget::set_calls_per_day(ledger.as_ref(), client_id, calls)?;
    env.note(&format!(
        "app {} may make {calls} token-endpoint calls a day, for every process using this store\n",
        Quoted(client_id)
    ))
}
