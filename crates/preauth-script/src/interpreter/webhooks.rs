//! Statements about webhooks: `create webhook '…' url '…' [events …] [format …]`, `show
//! webhooks`, `show webhook deliveries`, `drop webhook '…'`.

use preauth_actions::webhooks;
use preauth_core::error::Quoted;
use preauth_core::notify::{EventType, Format, NewWebhook};

use super::{Environment, ExecError};
use crate::output::{Cell, Table};

/// `create webhook …`: the secret alone on standard output (printed this once; kept
/// sealed), how receivers use it on standard error.
pub(super) fn create(
    env: &Environment,
    name: &str,
    url: &str,
    events: &[EventType],
    format: Format,
) -> Result<(), ExecError> {
    let new = NewWebhook {
        name: name.to_string(),
        url: url.to_string(),
        events: events.to_vec(),
        format,
    };
    let secret = webhooks::create(env, &new)?;
    env.print(&crate::output::value(env.format, &secret))?;
    eprintln!(
        "webhook {} created; its secret is shown this once: the receiver checks the header Preauth-Signature (t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the secret>)",
        Quoted(name)
    );
    Ok(())
}

/// `show webhooks`: never a secret.
pub(super) fn show(env: &Environment) -> Result<(), ExecError> {
    let mut table = Table::new(&["name", "url", "events", "format", "created"]);
    for hook in webhooks::list(env)? {
        let events: Vec<&str> = hook.events.iter().map(|e| e.as_str()).collect();
        table.push(vec![
            hook.name.as_str().into(),
            hook.url.as_str().into(),
            events.join(", ").into(),
            hook.format.as_str().into(),
            hook.created.as_str().into(),
        ]);
    }
    env.print(&table.render(env.format))
}

/// `show webhook deliveries`: pending first, then the finished ones kept.
pub(super) fn deliveries(env: &Environment) -> Result<(), ExecError> {
    let mut table = Table::new(&[
        "webhook",
        "event",
        "type",
        "connection",
        "created",
        "last try",
        "tries",
        "answer",
        "state",
    ]);
    for d in webhooks::deliveries(env)? {
        table.push(vec![
            d.webhook.as_str().into(),
            d.event_id.as_str().into(),
            d.event_type.as_str().into(),
            d.connection.as_str().into(),
            Cell::Time(d.created()),
            Cell::time(d.last_try()),
            d.tries.to_string().into(),
            d.last_answer.clone().unwrap_or_default().into(),
            d.state.as_str().into(),
        ]);
    }
    env.print(&table.render(env.format))
}

/// `drop webhook '…'`: nothing more is sent to it.
pub(super) fn drop(env: &Environment, name: &str) -> Result<(), ExecError> {
    webhooks::drop_webhook(env, name)?;
    env.note(&format!("webhook {} dropped\n", Quoted(name)))
}
