//! Sending: the [`Notifier`] enqueues events for the webhooks that want them and posts
//! due deliveries, signed, at least once, with backoff ([`Schedule`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::error::NotifyError;
use super::event::Event;
use super::outbox::{Attempt, Delivery, DeliveryState, Outbox, to_ms};
use super::signing::{EVENT_ID_HEADER, SIGNATURE_HEADER, signature};
use super::sink::EventSink;
use super::webhooks::Webhooks;
use crate::clock::Clock;
use crate::documents::Documents;
use crate::protector::Protector;

/// When deliveries are tried.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The wait before each try after the first (5 waits: 6 tries).
    pub waits: Vec<Duration>,
    /// How long a sender holds what it took before another may send it.
    pub lease: Duration,
    /// How long one try waits for an answer.
    pub timeout: Duration,
}

impl Schedule {
    /// 6 tries over about 2 hours (at once, then after 1, 5, 15, 40 and 60 minutes, each
    /// wait with up to 10 % jitter), a 10 s timeout, a 60 s lease.
    pub fn standard() -> Schedule {
        Schedule::in_units(Duration::from_secs(60))
    }

    /// The standard schedule with `minute` as its minute (tests make it milliseconds).
    pub fn in_units(minute: Duration) -> Schedule {
        let scale = |minutes: u32| minute * minutes;
        let scaled = minute.as_secs_f64() / 60.0;
        Schedule {
            waits: [1, 5, 15, 40, 60].into_iter().map(scale).collect(),
            lease: Duration::from_secs(60).mul_f64(scaled),
            timeout: Duration::from_secs(10)
                .mul_f64(scaled.min(1.0))
                .max(Duration::from_millis(200)),
        }
    }

    /// The wait after try `tries` (`None`: that was the last).
    fn wait_after(&self, tries: u32) -> Option<Duration> {
        let index = usize::try_from(tries).ok()?.checked_sub(1)?;
        let wait = *self.waits.get(index)?;
        Some(wait.mul_f64(1.0 + jitter() * 0.1))
    }
}

/// A random number in [0, 1).
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// What one round of sending did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    /// Deliveries answered with 2xx.
    pub delivered: usize,
    /// Deliveries that failed and will be tried again.
    pub retrying: usize,
    /// Deliveries given up.
    pub given_up: usize,
}

impl Round {
    /// How many deliveries were tried.
    pub fn tried(&self) -> usize {
        self.delivered + self.retrying + self.given_up
    }
}

/// Enqueues events and sends them: the webhooks, the outbox, the clock and an HTTP client
/// that follows no redirect.
pub struct Notifier {
    webhooks: Webhooks,
    outbox: Outbox,
    clock: Arc<dyn Clock>,
    schedule: Schedule,
    http: reqwest::Client,
    enqueued: AtomicBool,
    /// Wakes a sender waiting in [`Notifier::enqueued_within`].
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

/// How many deliveries one round takes at most.
const ROUND_SIZE: usize = 50;

impl Notifier {
    /// The notifier over the webhooks and outbox kept in `documents`.
    pub fn new(
        documents: Arc<dyn Documents>,
        protector: Arc<dyn Protector>,
        clock: Arc<dyn Clock>,
        schedule: Schedule,
    ) -> Notifier {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(schedule.timeout)
            .user_agent(concat!("preauth/", env!("CARGO_PKG_VERSION"), " webhooks"))
            .build()
            .unwrap_or_default();
        Notifier {
            webhooks: Webhooks::new(Arc::clone(&documents), protector),
            outbox: Outbox::new(documents),
            clock,
            schedule,
            http,
            enqueued: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Waits until this notifier enqueues something (or did since the last wait) or
    /// `longest` has passed, whichever is first: a sender in a long-running process
    /// (`preauth serve`) sends its own events at once and looks for other processes' events
    /// every `longest`.
    pub async fn enqueued_within(&self, longest: Duration) {
        let _ = tokio::time::timeout(longest, self.wake.notified()).await;
    }

    /// The webhook definitions.
    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Whether this notifier enqueued anything (a process that did delivers before it
    /// ends).
    pub fn has_enqueued(&self) -> bool {
        self.enqueued.load(Ordering::Relaxed)
    }

    /// Enqueues `events` (each with its daily key, if it is said once a day) durably for
    /// the webhooks that want them. Without webhooks, nothing is written.
    pub fn enqueue(&self, events: &[(Event, Option<String>)]) -> Result<usize, NotifyError> {
        if events.is_empty() {
            return Ok(0);
        }
        let hooks = self.webhooks.list()?;
        if !events
            .iter()
            .any(|(e, _)| hooks.iter().any(|h| h.wants(e.kind)))
        {
            return Ok(0);
        }
        let added = self.outbox.enqueue(events, &hooks, self.clock.now())?;
        if added > 0 {
            self.enqueued.store(true, Ordering::Relaxed);
            self.wake.notify_one();
        }
        Ok(added)
    }

    /// Sends what is due now, once each.
    pub async fn deliver_due(&self) -> Result<Round, NotifyError> {
        self.deliver_round(None).await
    }

    /// Sends what is due now, once each; after `deadline` no further try starts (what was
    /// taken and not tried is due again when its lease runs out).
    async fn deliver_round(
        &self,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Round, NotifyError> {
        let outbox = self.outbox.clone();
        let (now, lease) = (self.clock.now(), self.schedule.lease);
        let taken = blocking(move || match outbox.has_pending()? {
            true => outbox.take_due(now, lease, ROUND_SIZE),
            false => Ok(Vec::new()),
        })
        .await?;
        let mut round = Round::default();
        for delivery in taken {
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                break;
            }
            let attempt = self.send(&delivery).await;
            let outbox = self.outbox.clone();
            let (now, schedule) = (self.clock.now(), self.schedule.clone());
            let state = blocking(move || {
                outbox.record(&delivery, &attempt, now, |tries| schedule.wait_after(tries))
            })
            .await?;
            match state {
                DeliveryState::Delivered => round.delivered += 1,
                DeliveryState::Pending => round.retrying += 1,
                DeliveryState::GivenUp => round.given_up += 1,
            }
        }
        Ok(round)
    }

    /// Sends what is due, again and again, while a delivery becomes due within `bound`
    /// (so that a short backoff is waited for); no try starts after `bound`, so it ends
    /// within `bound` and one try's timeout.
    pub async fn deliver_within(&self, bound: Duration) -> Result<Round, NotifyError> {
        let deadline = tokio::time::Instant::now() + bound;
        let mut total = Round::default();
        loop {
            let round = self.deliver_round(Some(deadline)).await?;
            total.delivered += round.delivered;
            total.given_up += round.given_up;
            total.retrying = round.retrying;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let outbox = self.outbox.clone();
            let by = self.clock.now() + left;
            if left.is_zero() || !blocking(move || outbox.due_by(by)).await? {
                return Ok(total);
            }
            tokio::time::sleep(left.min(Duration::from_millis(50))).await;
        }
    }

    /// One try of `delivery`: signed now, with its event id.
    async fn send(&self, delivery: &Delivery) -> Attempt {
        let hooks = match self.webhooks.list() {
            Ok(hooks) => hooks,
            Err(e) => return Attempt::NoAnswer(e.to_string()),
        };
        let Some(hook) = hooks.iter().find(|h| h.name == delivery.webhook) else {
            return Attempt::Abandoned("the webhook was dropped".into());
        };
        let secret = match self.webhooks.secret_of(hook) {
            Ok(secret) => secret,
            Err(e) => return Attempt::NoAnswer(e.to_string()),
        };
        let seconds = to_ms(self.clock.now()) / 1000;
        let sent = self
            .http
            .post(&hook.url)
            .header("Content-Type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(&secret, seconds, &delivery.body),
            )
            .header(EVENT_ID_HEADER, &delivery.event_id)
            .body(delivery.body.clone())
            .send()
            .await;
        match sent {
            Ok(answer) => Attempt::Answered(answer.status().as_u16()),
            Err(e) if e.is_timeout() => Attempt::NoAnswer(format!(
                "no answer within {} s",
                self.schedule.timeout.as_secs_f64()
            )),
            Err(e) if e.is_connect() => Attempt::NoAnswer("the connection was refused".into()),
            Err(_) => Attempt::NoAnswer("the request failed before an answer".into()),
        }
    }
}

impl EventSink for Notifier {
    fn emit(&self, events: Vec<(Event, Option<String>)>) -> Result<usize, NotifyError> {
        self.enqueue(&events)
    }
}

/// Runs document work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, NotifyError> + Send + 'static,
) -> Result<T, NotifyError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| NotifyError::Worker(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_tries_over_about_two_hours() {
        let schedule = Schedule::standard();
        let waits: Vec<Duration> = (1..=6).filter_map(|t| schedule.wait_after(t)).collect();
        assert_eq!(waits.len(), 5, "6 tries: 5 waits, then given up");
        let total: Duration = waits.iter().sum();
        assert!(total >= Duration::from_secs(121 * 60), "{total:?}");
        assert!(total <= Duration::from_secs(134 * 60), "{total:?}");
        assert_eq!(schedule.wait_after(0), None);
        assert_eq!(schedule.timeout, Duration::from_secs(10));
    }

    #[test]
    fn a_quick_schedule_keeps_the_shape() {
        let quick = Schedule::in_units(Duration::from_millis(60));
        assert_eq!(quick.waits[0], Duration::from_millis(60));
        assert_eq!(quick.lease, Duration::from_millis(60));
        assert_eq!(quick.timeout, Duration::from_millis(200));
    }
}
