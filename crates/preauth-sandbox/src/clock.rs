//! The virtual clock: real time plus an offset that tests advance.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The sandbox's notion of now: the system time plus an offset that only grows.
///
/// Every expiry (codes, access and refresh tokens, rate-limit windows) is judged
/// against this clock, so tests reach a 30-day expiry by advancing it instead of waiting.
/// Clones share the same offset.
#[derive(Debug, Clone, Default)]
pub struct VirtualClock {
    /// Invariant: only ever increases (nanoseconds), so virtual time never runs backwards
    /// faster than the system clock does.
    offset_nanos: Arc<AtomicU64>,
}

impl VirtualClock {
    /// A clock that starts at the system time.
    pub fn new() -> VirtualClock {
        VirtualClock::default()
    }

    /// Moves virtual time forward by `by` (saturating at about 584 years).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update with a saturating add never fails: the closure always returns Some.
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
                Some(old.saturating_add(nanos))
            });
    }

    /// How far virtual time is ahead of the system clock.
    pub fn offset(&self) -> Duration {
        Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }

    /// The current virtual time.
    pub fn now(&self) -> SystemTime {
        let real = SystemTime::now();
        real.checked_add(self.offset()).unwrap_or(real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_is_shared_between_clones() {
        let clock = VirtualClock::new();
        let other = clock.clone();
        other.advance(Duration::from_secs(3600));
        assert_eq!(clock.offset(), Duration::from_secs(3600));
        assert!(clock.now() >= SystemTime::now() + Duration::from_secs(3599));
        clock.advance(Duration::MAX);
        assert_eq!(clock.offset(), Duration::from_nanos(u64::MAX));
    }
}
