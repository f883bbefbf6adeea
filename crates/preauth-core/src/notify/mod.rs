//! Notifications: webhooks declared in the store receive signed JSON events (a permanent
//! refresh failure, a recovery, a refresh token expiring, a budget running low, a
//! connection created or dropped), delivered at least once from an outbox in the store.
//!
//! - [`event`]: what is said, and the body in JSON or Slack's shape;
//! - [`webhooks`]: the definitions (`webhooks.json`), secrets sealed by the protector;
//! - [`outbox`]: one entry per (event, webhook) (`webhook-outbox.json`), leased by a
//!   sender, kept after it finished for `show webhook deliveries`;
//! - [`signing`]: `Preauth-Signature: t=…,v1=<HMAC-SHA256>`;
//! - [`delivery`]: the [`Notifier`] that enqueues and sends with backoff.
//!
//! Nothing sent holds a token, a secret, a client secret or a connection string: an event
//! carries names, codes and one sentence.

pub mod delivery;
mod error;
pub mod event;
pub mod outbox;
pub mod signing;
mod sink;
pub mod webhooks;

pub use delivery::{Notifier, Round, Schedule};
pub use error::NotifyError;
pub use event::{Event, EventType, Format};
pub use outbox::{Delivery, DeliveryState, Outbox};
pub use sink::EventSink;
pub use webhooks::{NewWebhook, Webhook, Webhooks};
