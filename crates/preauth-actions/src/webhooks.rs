//! Webhooks: defining them (`create`, `list`, `drop`), what was sent (`deliveries`),
//! sending what is due (`deliver`), and the events only actions know of (a connection
//! dropped, a refresh token expiring).

use std::time::{Duration, SystemTime};

use preauth_core::advice::Advice;
use preauth_core::lifecycle::refresh_token_expiry;
use preauth_core::notify::{Delivery, Event, EventType, NewWebhook, NotifyError, Round, Webhook};
use zeroize::Zeroizing;

use crate::{ActionError, Context};

/// Creates webhook `new`; returns its secret, shown this once. A refused URL stores
/// nothing.
pub fn create(ctx: &Context, new: &NewWebhook) -> Result<Zeroizing<String>, ActionError> {
    Ok(ctx
        .notifier()
        .webhooks()
        .create(new, ctx.lifecycle().now())?)
}

/// The webhooks (never their secrets).
pub fn list(ctx: &Context) -> Result<Vec<Webhook>, ActionError> {
    Ok(ctx.notifier().webhooks().list()?)
}

/// Drops webhook `name`.
pub fn drop_webhook(ctx: &Context, name: &str) -> Result<(), ActionError> {
    Ok(ctx.notifier().webhooks().drop_webhook(name)?)
}

/// What was sent and answered: pending deliveries first, then the finished ones kept.
pub fn deliveries(ctx: &Context) -> Result<Vec<Delivery>, ActionError> {
    Ok(ctx.notifier().outbox().deliveries()?)
}

/// Sends what is due, and keeps sending while a retry falls due within `bound`.
pub async fn deliver(ctx: &Context, bound: Duration) -> Result<Round, ActionError> {
    Ok(ctx.notifier().deliver_within(bound).await?)
}

/// Tells the webhooks that connection `name` of `platform` was dropped (best effort).
pub(crate) fn tell_dropped(ctx: &Context, name: &str, platform: &str) {
    let message = format!("connection '{name}' was dropped");
    let made = Event::new(
        EventType::ConnectionDropped,
        ctx.lifecycle().now(),
        name,
        platform,
        "dropped",
        message,
    );
    if let Ok(event) = made {
        let _ = ctx.notifier().enqueue(&[(event, None)]);
    }
}

/// Tells the webhooks, once a day per connection, of each stored connection whose
/// refresh token expires within `days` (called by keep-alive and check scans). Returns
/// how many deliveries were enqueued.
pub fn tell_expiring(ctx: &Context, days: u32) -> Result<usize, ActionError> {
    let now = ctx.lifecycle().now();
    let horizon = now + Duration::from_secs(u64::from(days) * 86_400);
    let mut events = Vec::new();
    for listed in ctx.store().list()?.connections {
        let Ok(connection) = listed.connection else {
            continue;
        };
        let Ok(platform) = ctx.lifecycle().platform_of(&connection) else {
            continue;
        };
        let Some(expires) = connection
            .tokens
            .as_ref()
            .and_then(|t| refresh_token_expiry(&platform, t))
        else {
            continue;
        };
        if expires > horizon || expires <= now {
            continue;
        }
        events.push((
            expiring(&connection.name, &platform.id, expires, now)?,
            Some(format!("expiring:{}", connection.name.to_lowercase())),
        ));
    }
    Ok(ctx.notifier().enqueue(&events)?)
}

fn expiring(
    name: &str,
    platform: &str,
    expires: SystemTime,
    now: SystemTime,
) -> Result<Event, NotifyError> {
    let message = format!(
        "the refresh token of connection '{name}' expires at {}; a refresh or a new login before then keeps it",
        humantime::format_rfc3339_seconds(expires)
    );
    Ok(Event::new(
        EventType::Expiring,
        now,
        name,
        platform,
        "expiring",
        message,
    )?
    .with_advice(vec![
        Advice::LogInAgain {
            connection: name.to_string(),
        }
        .code()
        .to_string(),
    ]))
}
