//! Webhook delivery inside `preauth serve`: a background task sends this server's own
//! events as soon as they are stored, and looks at the store's outbox every few seconds, so
//! events that this server, other processes or other
//! replicas enqueued reach their receivers without a cron job. Replicas share the work
//! through the outbox's leases: each delivery is sent by one of them.

use std::sync::Arc;
use std::time::Duration;

use preauth_actions::Context;

/// How often the outbox is looked at when this server enqueued nothing.
const EVERY: Duration = Duration::from_secs(5);

/// How long one round may keep sending (retries that fall due meanwhile included).
const ROUND: Duration = Duration::from_secs(30);

/// The delivery task; it stops when this is dropped.
pub(crate) struct Delivering(tokio::task::JoinHandle<()>);

impl Drop for Delivering {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts sending due webhook deliveries of `env`'s store, until the result is dropped. A
/// failing round is said once on standard error until a round succeeds again.
pub(crate) fn start(env: Arc<Context>) -> Delivering {
    Delivering(tokio::spawn(async move {
        let mut failing = false;
        loop {
            match preauth_actions::webhooks::deliver(&env, ROUND).await {
                Ok(_) => failing = false,
                Err(error) if !failing => {
                    failing = true;
                    eprintln!("preauth serve: webhook events wait in the outbox, since {error}");
                }
                Err(_) => {}
            }
            env.notifier().enqueued_within(EVERY).await;
        }
    }))
}
