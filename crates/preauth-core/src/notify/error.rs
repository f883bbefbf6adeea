//! [`NotifyError`]: why webhooks could not be defined, read or served.

use crate::protector::ProtectError;
use crate::store::StoreError;

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
