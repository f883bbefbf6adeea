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
pub mod event;
pub mod outbox;
pub mod signing;
pub mod webhooks;

pub use delivery::{Notifier, Round, Schedule};
pub use event::{Event, EventType, Format};
pub use outbox::{Delivery, DeliveryState, Outbox};
pub use webhooks::{NewWebhook, Webhook, Webhooks};

use crate::protector::ProtectError;
use crate::store::StoreError;

/// Where events go as they happen: the lifecycle and the actions emit, the sink enqueues
/// them durably before the emitting call returns.
pub trait EventSink: Send + Sync {
    /// Enqueues `events`, each with its daily key when it is said once a day only.
    /// Returns how many deliveries were enqueued.
    fn emit(&self, events: Vec<(Event, Option<String>)>) -> Result<usize, NotifyError>;
}

/// Why webhooks could not be defined, read or served. No message holds a secret or a URL's
/// user name or password.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The URL breaks the address rule.
    #[error("the webhook url is refused: {reason}; nothing was stored")]
    BadUrl {
        /// Why.
        reason: String,
    },
    /// A webhook of that name exists.
    #[error("a webhook named '{name}' exists already")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// No webhook of that name.
    #[error("no webhook named '{name}'")]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// An empty name.
    #[error("a webhook needs a name that is not empty")]
    EmptyName,
    /// The document could not be read or written.
    #[error("cannot use the webhooks' documents: {0}")]
    Store(StoreError),
    /// A document is not what preauth writes.
    #[error("{location} is damaged ({reason}); move it aside and create the webhooks again")]
    Damaged {
        /// The file, or the store's document.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A secret could not be sealed or opened.
    #[error("the webhook's secret cannot be sealed or opened: {0}")]
    Seal(ProtectError),
    /// The operating system gave no random bytes.
    #[error("cannot make a random webhook secret or event id: {0}")]
    Random(String),
    /// A worker thread stopped.
    #[error("a webhook worker stopped: {0}")]
    Worker(String),
}

impl NotifyError {
    /// What repairs it, as data for each front end to put in its own terms.
    pub fn advice(&self) -> Vec<crate::advice::Advice> {
        use crate::advice::Advice;
        match self {
            NotifyError::NameTaken { name } => vec![Advice::DropWebhook { name: name.clone() }],
            NotifyError::Unknown { .. } => vec![Advice::ListWebhooks],
            NotifyError::Store(e) => e.advice(),
            _ => Vec::new(),
        }
    }
}
