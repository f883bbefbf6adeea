//! The outbox: one entry per (event, webhook) in the store's document [`OUTBOX_FILE`],
//! written before the call that made the event returns, so a crash loses nothing.
//!
//! A sender takes due entries under the document's lock and leases them (until
//! `lease_until`), so that two processes or replicas do not both send one; a lease that
//! runs out (its sender died) makes the entry due again. Every try carries the same event
//! id. Finished entries (delivered or given up) are kept, the newest [`KEPT_FINISHED`],
//! for `show webhook deliveries`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::error::NotifyError;
use super::event::{Event, EventType};
use super::webhooks::Webhook;
use crate::documents::Documents;

/// The document that holds the outbox.
pub const OUTBOX_FILE: &str = "webhook-outbox.json";

/// How many finished deliveries are kept.
pub const KEPT_FINISHED: usize = 200;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not answered with 2xx yet; tried again when due.
    Pending,
    /// Answered with 2xx.
    Delivered,
    /// Every try failed (or the webhook was dropped): not tried again.
    GivenUp,
}

impl DeliveryState {
    /// The state's word.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::GivenUp => "given up",
        }
    }
}

/// One event for one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The event's id.
    pub event_id: String,
    /// The event's type.
    pub event_type: EventType,
    /// The connection it is about.
    pub connection: String,
    /// The webhook's name.
    pub webhook: String,
    /// The body, as sent on every try.
    pub body: String,
    /// When it was enqueued (milliseconds since the Unix epoch).
    pub created_ms: u64,
    /// Tries so far.
    pub tries: u32,
    /// When it is due (milliseconds since the Unix epoch).
    pub next_ms: u64,
    /// Leased by a sender until then (milliseconds since the Unix epoch).
    pub lease_until_ms: Option<u64>,
    /// Where it stands.
    pub state: DeliveryState,
    /// The last answer: `HTTP 200`, or why there was none.
    pub last_answer: Option<String>,
    /// When it was last tried (milliseconds since the Unix epoch).
    pub last_try_ms: Option<u64>,
}

impl Delivery {
    /// When it was enqueued.
    pub fn created(&self) -> SystemTime {
        from_ms(self.created_ms)
    }

    /// When it was last tried.
    pub fn last_try(&self) -> Option<SystemTime> {
        self.last_try_ms.map(from_ms)
    }

    fn key_matches(&self, other: &Delivery) -> bool {
        self.event_id == other.event_id && self.webhook == other.webhook
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OutboxFile {
    pending: Vec<Delivery>,
    finished: Vec<Delivery>,
    /// Events said once a day: their key (`expiring:<connection>`) and the day said.
    #[serde(default)]
    said_on: BTreeMap<String, String>,
}

/// The outcome of one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered with this status.
    Answered(u16),
    /// No answer: why (timeout, refused connection, …).
    NoAnswer(String),
    /// Not sent and never will be: why (the webhook was dropped).
    Abandoned(String),
}

/// The outbox of a store.
#[derive(Clone)]
pub struct Outbox {
    documents: Arc<dyn Documents>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch.
pub(super) fn to_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn from_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

impl Outbox {
    /// The outbox kept in `documents`.
    pub fn new(documents: Arc<dyn Documents>) -> Outbox {
        Outbox { documents }
    }

    /// Enqueues each event for each webhook of `hooks` that wants it, due at `now`. An
    /// event with a daily key is enqueued only if that key was not said on `now`'s day.
    /// Returns how many deliveries were enqueued.
    pub fn enqueue(
        &self,
        events: &[(Event, Option<String>)],
        hooks: &[Webhook],
        now: SystemTime,
    ) -> Result<usize, NotifyError> {
        let day = humantime::format_rfc3339_seconds(now).to_string()[..10].to_string();
        let now_ms = to_ms(now);
        self.change(|file| {
            file.said_on.retain(|_, said| *said == day);
            let mut added = 0;
            for (event, daily_key) in events {
                if let Some(key) = daily_key {
                    if file.said_on.get(key) == Some(&day) {
                        continue;
                    }
                    file.said_on.insert(key.clone(), day.clone());
                }
                for hook in hooks.iter().filter(|h| h.wants(event.kind)) {
                    file.pending.push(Delivery {
                        event_id: event.id.clone(),
                        event_type: event.kind,
                        connection: event.connection.clone(),
                        webhook: hook.name.clone(),
                        body: event.body(hook.format),
                        created_ms: now_ms,
                        tries: 0,
                        next_ms: now_ms,
                        lease_until_ms: None,
                        state: DeliveryState::Pending,
                        last_answer: None,
                        last_try_ms: None,
                    });
                    added += 1;
                }
            }
            Ok(added)
        })
    }

    /// Takes at most `limit` deliveries due at `now` (pending, due, not leased or leased
    /// by a sender whose lease ran out) and leases them for `lease`.
    pub fn take_due(
        &self,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>, NotifyError> {
        let now_ms = to_ms(now);
        let until = to_ms(now + lease);
        self.change(|file| {
            let mut taken = Vec::new();
            for entry in file.pending.iter_mut() {
                if taken.len() >= limit {
                    break;
                }
                let leased = entry.lease_until_ms.is_some_and(|l| l > now_ms);
                if entry.next_ms <= now_ms && !leased {
                    entry.lease_until_ms = Some(until);
                    taken.push(entry.clone());
                }
            }
            Ok(taken)
        })
    }

    /// Whether any delivery is pending (read without the lock, so that a store without
    /// webhooks is never written to by a sender).
    pub fn has_pending(&self) -> Result<bool, NotifyError> {
        Ok(!self.read()?.pending.is_empty())
    }

    /// Whether a pending delivery is due by `by` (for a sender deciding to wait for it).
    pub fn due_by(&self, by: SystemTime) -> Result<bool, NotifyError> {
        let by = to_ms(by);
        Ok(self
            .read()?
            .pending
            .iter()
            .any(|e| e.next_ms.max(e.lease_until_ms.unwrap_or(0)) <= by))
    }

    /// Records the try of `delivery` at `now`: delivered on 2xx; else due again after
    /// `retry_after` (`None`: given up).
    pub fn record(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        now: SystemTime,
        retry_after: impl Fn(u32) -> Option<Duration>,
    ) -> Result<DeliveryState, NotifyError> {
        let now_ms = to_ms(now);
        self.change(|file| {
            let Some(at) = file.pending.iter().position(|e| e.key_matches(delivery)) else {
                // Another sender finished it meanwhile (its lease ran out under a slow try).
                return Ok(DeliveryState::Delivered);
            };
            let entry = &mut file.pending[at];
            entry.tries += 1;
            entry.last_try_ms = Some(now_ms);
            entry.lease_until_ms = None;
            let (answer, state) = match attempt {
                Attempt::Answered(status) if (200..300).contains(status) => {
                    (format!("HTTP {status}"), DeliveryState::Delivered)
                }
                Attempt::Answered(status) => (format!("HTTP {status}"), DeliveryState::Pending),
                Attempt::NoAnswer(why) => (why.clone(), DeliveryState::Pending),
                Attempt::Abandoned(why) => (why.clone(), DeliveryState::GivenUp),
            };
            entry.last_answer = Some(answer);
            let state = match (state, retry_after(entry.tries)) {
                (DeliveryState::Pending, Some(wait)) => {
                    entry.next_ms = to_ms(now + wait);
                    DeliveryState::Pending
                }
                (DeliveryState::Pending, None) => DeliveryState::GivenUp,
                (other, _) => other,
            };
            entry.state = state;
            if state != DeliveryState::Pending {
                let done = file.pending.remove(at);
                file.finished.push(done);
                let excess = file.finished.len().saturating_sub(KEPT_FINISHED);
                file.finished.drain(..excess);
            }
            Ok(state)
        })
    }

    /// Every delivery kept, pending first, each group oldest first.
    pub fn deliveries(&self) -> Result<Vec<Delivery>, NotifyError> {
        let file = self.read()?;
        Ok(file.pending.into_iter().chain(file.finished).collect())
    }

    fn read(&self) -> Result<OutboxFile, NotifyError> {
        let bytes = self
            .documents
            .read(OUTBOX_FILE)
            .map_err(NotifyError::Store)?;
        self.parse(bytes)
    }

    fn parse(&self, bytes: Option<Vec<u8>>) -> Result<OutboxFile, NotifyError> {
        match bytes {
            None => Ok(OutboxFile::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| NotifyError::Damaged {
                location: self.documents.location_of(OUTBOX_FILE),
                reason: e.to_string(),
            }),
        }
    }

    fn change<T>(
        &self,
        edit: impl FnOnce(&mut OutboxFile) -> Result<T, NotifyError>,
    ) -> Result<T, NotifyError> {
        let mut locked = self
            .documents
            .lock(OUTBOX_FILE)
            .map_err(NotifyError::Store)?;
        let mut file = self.parse(locked.read().map_err(NotifyError::Store)?)?;
        let result = edit(&mut file)?;
        let bytes = serde_json::to_vec(&file).map_err(|e| NotifyError::Damaged {
            location: self.documents.location_of(OUTBOX_FILE),
            reason: e.to_string(),
        })?;
        locked.write(&bytes).map_err(NotifyError::Store)?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::FolderDocuments;
    use crate::notify::{Format, NewWebhook, Webhooks};

    struct Plain;
    impl crate::protector::Protector for Plain {
        fn seal(&self, p: &str, l: &str) -> Result<String, crate::protector::ProtectError> {
            Ok(format!("{l}|{p}"))
        }
        fn open(
            &self,
            s: &str,
            l: &str,
        ) -> Result<zeroize::Zeroizing<String>, crate::protector::ProtectError> {
            Ok(zeroize::Zeroizing::new(
                s.strip_prefix(&format!("{l}|")).unwrap_or_default().into(),
            ))
        }
        fn is_sealed(&self, _: &str) -> bool {
            true
        }
    }

    fn setup() -> (tempfile::TempDir, Outbox, Vec<Webhook>) {
        let dir = tempfile::tempdir().unwrap();
        let docs: Arc<dyn Documents> = Arc::new(FolderDocuments::new(dir.path()));
        let hooks = Webhooks::new(Arc::clone(&docs), Arc::new(Plain));
        for (name, events) in [
            ("all", vec![]),
            ("drops", vec![EventType::ConnectionDropped]),
        ] {
            let new = NewWebhook {
                name: name.into(),
                url: "https://hooks.example.com/x".into(),
                events,
                format: Format::Json,
            };
            hooks.create(&new, SystemTime::now()).unwrap();
        }
        (dir, Outbox::new(docs), hooks.list().unwrap())
    }

    fn event(kind: EventType) -> Event {
        Event::new(kind, SystemTime::now(), "acme", "exact", "ok", "x").unwrap()
    }

    #[test]
    fn an_event_goes_to_each_webhook_that_wants_it_and_is_leased_once() {
        let (_dir, outbox, hooks) = setup();
        let now = SystemTime::now();
        let events = [
            (event(EventType::Recovered), None),
            (event(EventType::ConnectionDropped), None),
        ];
        assert_eq!(outbox.enqueue(&events, &hooks, now).unwrap(), 3);
        let lease = Duration::from_secs(30);
        assert_eq!(outbox.take_due(now, lease, 10).unwrap().len(), 3);
        assert!(
            outbox.take_due(now, lease, 10).unwrap().is_empty(),
            "leased"
        );
        let later = now + Duration::from_secs(31);
        assert_eq!(
            outbox.take_due(later, lease, 2).unwrap().len(),
            2,
            "lease ran out"
        );
    }

    #[test]
    fn a_failed_try_is_due_again_then_delivered_or_given_up() {
        let (_dir, outbox, hooks) = setup();
        let now = SystemTime::now();
        outbox
            .enqueue(&[(event(EventType::ConnectionDropped), None)], &hooks, now)
            .unwrap();
        let taken = outbox.take_due(now, Duration::from_secs(30), 10).unwrap();
        let retry = |tries: u32| (tries < 3).then_some(Duration::from_secs(60));
        let state = outbox
            .record(&taken[0], &Attempt::Answered(500), now, retry)
            .unwrap();
        assert_eq!(state, DeliveryState::Pending);
        let none_due = outbox.take_due(now, Duration::from_secs(30), 10).unwrap();
        assert!(
            none_due.is_empty(),
            "one waits for its retry, the other is leased"
        );
        let later = now + Duration::from_secs(61);
        let again = outbox.take_due(later, Duration::from_secs(30), 10).unwrap();
        assert_eq!(again[0].event_id, taken[0].event_id);
        let state = outbox
            .record(&again[0], &Attempt::Answered(204), later, retry)
            .unwrap();
        assert_eq!(state, DeliveryState::Delivered);
        let other = taken[1].clone();
        let state = outbox
            .record(&other, &Attempt::NoAnswer("timeout".into()), later, |_| {
                None
            })
            .unwrap();
        assert_eq!(state, DeliveryState::GivenUp);
        let kept = outbox.deliveries().unwrap();
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|d| d.state != DeliveryState::Pending));
        assert_eq!(kept[0].tries, 2);
    }

    #[test]
    fn a_daily_event_is_said_once_a_day() {
        let (_dir, outbox, hooks) = setup();
        let now = SystemTime::now();
        let daily = |e| [(e, Some("expiring:acme".to_string()))];
        assert_eq!(
            outbox
                .enqueue(&daily(event(EventType::Expiring)), &hooks, now)
                .unwrap(),
            1
        );
        assert_eq!(
            outbox
                .enqueue(&daily(event(EventType::Expiring)), &hooks, now)
                .unwrap(),
            0
        );
        let tomorrow = now + Duration::from_secs(24 * 3600);
        assert_eq!(
            outbox
                .enqueue(&daily(event(EventType::Expiring)), &hooks, tomorrow)
                .unwrap(),
            1
        );
    }
}
