//! The clock, injected so that tests can reach expiries without waiting.

use std::fmt;
use std::time::SystemTime;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The system's clock moved forward by a fixed offset: a test follows a sandbox whose
/// virtual clock was advanced (see `PREAUTH_CLOCK_OFFSET_SECONDS` in the binary).
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    /// How far ahead of the system's clock.
    pub ahead: std::time::Duration,
}

impl Clock for OffsetClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.ahead
    }
}

/// A moment shown to people: `2026-11-02 10:00:00 UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When(pub SystemTime);

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = humantime::format_rfc3339_seconds(self.0).to_string();
        write!(
            f,
            "{} UTC",
            text.trim_end_matches('Z').replacen('T', " ", 1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_offset_clock_runs_ahead_by_its_offset() {
        let ahead = Duration::from_secs(7200);
        let before = SystemTime::now() + ahead;
        let now = OffsetClock { ahead }.now();
        assert!(now >= before && now < before + Duration::from_secs(60));
    }
}
