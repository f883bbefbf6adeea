//! Webhook delivery from a `preauth` process: what a run enqueued is sent before it
//! ends (bounded), so that a failure reaches the operator at once; what is not delivered
//! by then stays in the store's outbox for the next `refresh all connections` or `preauth
//! serve`.

use std::time::Duration;

use preauth_core::notify::Schedule;
use preauth_script::interpreter::Environment;

/// How long a process that enqueued events spends delivering them before it ends.
const BEFORE_EXIT: Duration = Duration::from_secs(5);

/// Hidden (for tests): the length of the retry schedule's minute in milliseconds, so
/// that 6 tries take seconds instead of 2 hours.
const MINUTE_MS_ENV: &str = "PREAUTH_WEBHOOK_MINUTE_MS";

/// Hidden (for tests): a pause between the end of a run and its deliveries, in
/// milliseconds, in which a test kills the process.
const DELAY_MS_ENV: &str = "PREAUTH_WEBHOOK_DELAY_MS";

fn millis(variable: &str) -> Option<Duration> {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
}

/// The delivery schedule: the standard one, or the shortened one a test asked for.
pub(crate) fn schedule() -> Schedule {
    match millis(MINUTE_MS_ENV) {
        Some(minute) if !minute.is_zero() => Schedule::in_units(minute),
        _ => Schedule::standard(),
    }
}

/// Sends what this process enqueued (and whatever else is due), for a few seconds at
/// most; says on standard error what is left for later.
pub(crate) async fn deliver_before_exit(env: &Environment) {
    if !env.notifier().has_enqueued() {
        return;
    }
    if let Some(pause) = millis(DELAY_MS_ENV) {
        tokio::time::sleep(pause).await;
    }
    match preauth_actions::webhooks::deliver(env, BEFORE_EXIT).await {
        Ok(round) if round.retrying > 0 => eprintln!(
            "note: {} webhook deliver{} not answered yet; the next `refresh all connections` or preauth serve tries again (see `show webhook deliveries`)",
            round.retrying,
            if round.retrying == 1 {
                "y was"
            } else {
                "ies were"
            }
        ),
        Ok(_) => {}
        Err(error) => eprintln!(
            "note: webhook events stay in the outbox, since {error}; the next `refresh all connections` or preauth serve sends them"
        ),
    }
}
