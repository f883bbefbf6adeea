//! Webhook definitions, kept in the store's document [`WEBHOOKS_FILE`] so that every
//! machine and replica sends to the same ones. Each holds its signing secret sealed with
//! the store's protector (as connection strings are), so the document or the database
//! alone opens nothing; the secret is shown once, when the webhook is created.

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use url::Url;
use zeroize::Zeroizing;

use super::error::NotifyError;
use super::event::{EventType, Format, random_hex};
use crate::connection::fold_name;
use crate::documents::Documents;
use crate::platform::outbound_url_refusal;
use crate::protector::Protector;

/// The document that holds the webhook definitions.
pub const WEBHOOKS_FILE: &str = "webhooks.json";

/// A webhook as stored (its secret sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Its name.
    pub name: String,
    /// Where events are posted.
    pub url: String,
    /// The events it receives.
    pub events: Vec<EventType>,
    /// The body's shape.
    #[serde(default)]
    pub format: Format,
    /// When it was created, RFC 3339.
    pub created: String,
    /// The signing secret, sealed with the protector under [`secret_label`].
    sealed_secret: String,
}

impl Webhook {
    /// Whether it receives events of `kind`.
    pub fn wants(&self, kind: EventType) -> bool {
        self.events.contains(&kind)
    }
}

/// A webhook to create.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// Its name (not empty).
    pub name: String,
    /// Where events go: https, or http to loopback; no user name, password or fragment.
    pub url: String,
    /// The events it receives; empty: all.
    pub events: Vec<EventType>,
    /// The body's shape.
    pub format: Format,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct WebhooksFile {
    webhooks: Vec<Webhook>,
}

/// The webhooks of a store.
#[derive(Clone)]
pub struct Webhooks {
    documents: Arc<dyn Documents>,
    protector: Arc<dyn Protector>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks").finish_non_exhaustive()
    }
}

/// The label a webhook's secret is sealed under: bound to the webhook's name.
fn secret_label(name: &str) -> String {
    format!("preauth webhook secret {}", fold_name(name))
}

/// Checks a webhook URL by preauth's one rule for URLs it calls out to, and refuses a
/// fragment. Returns the URL as given (trimmed).
pub fn check_url(url: &str) -> Result<String, NotifyError> {
    let refused = |reason: &str| NotifyError::BadUrl {
        reason: reason.to_string(),
    };
    let parsed = Url::parse(url.trim()).map_err(|e| refused(&e.to_string()))?;
    if let Some(reason) = outbound_url_refusal(&parsed) {
        return Err(refused(reason));
    }
    if parsed.fragment().is_some() {
        return Err(refused("a webhook URL takes no fragment"));
    }
    Ok(url.trim().to_string())
}

impl Webhooks {
    /// The webhooks kept in `documents`, their secrets sealed by `protector`.
    pub fn new(documents: Arc<dyn Documents>, protector: Arc<dyn Protector>) -> Webhooks {
        Webhooks {
            documents,
            protector,
        }
    }

    /// Creates webhook `new` at `now`; returns its secret (`whsec_…`), which is not
    /// shown again. A refused URL or a taken name stores nothing.
    pub fn create(
        &self,
        new: &NewWebhook,
        now: SystemTime,
    ) -> Result<Zeroizing<String>, NotifyError> {
        if new.name.trim().is_empty() {
            return Err(NotifyError::EmptyName);
        }
        let url = check_url(&new.url)?;
        let secret = Zeroizing::new(format!("whsec_{}", random_hex(32)?));
        let sealed_secret = self
            .protector
            .seal(&secret, &secret_label(&new.name))
            .map_err(NotifyError::Seal)?;
        let mut events = match new.events.is_empty() {
            true => EventType::ALL.to_vec(),
            false => new.events.clone(),
        };
        events.sort();
        events.dedup();
        let hook = Webhook {
            name: new.name.clone(),
            url,
            events,
            format: new.format,
            created: humantime::format_rfc3339_seconds(now).to_string(),
            sealed_secret,
        };
        self.change(|file| {
            if file.webhooks.iter().any(|w| same_name(&w.name, &new.name)) {
                return Err(NotifyError::NameTaken {
                    name: new.name.clone(),
                });
            }
            file.webhooks.push(hook);
            Ok(())
        })?;
        Ok(secret)
    }

    /// The webhooks, in the order they were created.
    pub fn list(&self) -> Result<Vec<Webhook>, NotifyError> {
        let bytes = self
            .documents
            .read(WEBHOOKS_FILE)
            .map_err(NotifyError::Store)?;
        Ok(self.parse(bytes)?.webhooks)
    }

    /// Drops webhook `name`; its undelivered events are given up when next due.
    pub fn drop_webhook(&self, name: &str) -> Result<(), NotifyError> {
        self.change(|file| {
            let before = file.webhooks.len();
            file.webhooks.retain(|w| !same_name(&w.name, name));
            match file.webhooks.len() == before {
                true => Err(NotifyError::Unknown {
                    name: name.to_string(),
                }),
                false => Ok(()),
            }
        })
    }

    /// The signing secret of `hook`.
    pub(super) fn secret_of(&self, hook: &Webhook) -> Result<Zeroizing<String>, NotifyError> {
        self.protector
            .open(&hook.sealed_secret, &secret_label(&hook.name))
            .map_err(NotifyError::Seal)
    }

    fn parse(&self, bytes: Option<Vec<u8>>) -> Result<WebhooksFile, NotifyError> {
        match bytes {
            None => Ok(WebhooksFile::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| NotifyError::Damaged {
                location: self.documents.location_of(WEBHOOKS_FILE),
                reason: e.to_string(),
            }),
        }
    }

    fn change(
        &self,
        edit: impl FnOnce(&mut WebhooksFile) -> Result<(), NotifyError>,
    ) -> Result<(), NotifyError> {
        let mut locked = self
            .documents
            .lock(WEBHOOKS_FILE)
            .map_err(NotifyError::Store)?;
        let mut file = self.parse(locked.read().map_err(NotifyError::Store)?)?;
        edit(&mut file)?;
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| NotifyError::Damaged {
            location: self.documents.location_of(WEBHOOKS_FILE),
            reason: e.to_string(),
        })?;
        locked.write(&bytes).map_err(NotifyError::Store)
    }
}

fn same_name(a: &str, b: &str) -> bool {
    fold_name(a) == fold_name(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_follows_the_outbound_rule() {
        for good in [
            "https://hooks.example.com/x?y=1",
            "http://127.0.0.1:9/hook",
            "http://[::1]/hook",
            "http://localhost/hook",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("http://hooks.example.com/x", "plain http"),
            ("http://10.0.0.1/x", "plain http"),
            ("https://user:pw@hooks.example.com/x", "user name"),
            ("https://hooks.example.com/x#f", "fragment"),
            ("ftp://hooks.example.com/x", "https"),
            ("not a url", "url"),
        ] {
            let error = check_url(bad).expect_err(bad).to_string();
            assert!(error.to_lowercase().contains(says), "{bad}: {error}");
            assert!(error.contains("webhook url"), "{error}");
            assert!(!error.contains("pw@"), "{error}");
        }
    }
}
