//! The [`EventSink`] trait: where the lifecycle and the actions hand their events.

use super::error::NotifyError;
use super::event::Event;

/// Where events go as they happen: the lifecycle and the actions emit, the sink enqueues
/// them durably before the emitting call returns.
pub trait EventSink: Send + Sync {
    /// Enqueues `events`, each with its daily key when it is said once a day only.
    /// Returns how many deliveries were enqueued.
    fn emit(&self, events: Vec<(Event, Option<String>)>) -> Result<usize, NotifyError>;
}
