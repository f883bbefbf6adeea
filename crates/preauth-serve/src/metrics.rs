//! `/metrics` in the Prometheus text format: connections by monitoring state, the days
//! left of the refresh token that expires first, and what this process served.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use preauth_core::lifecycle::FailureClass;
use preauth_core::monitor::{CheckState, Tally};

/// Counters of this process since it started.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Access tokens handed out.
    tokens: AtomicU64,
    /// Of those, the ones that needed a refresh at the platform.
    refreshes: AtomicU64,
    /// Token requests the platform refused.
    refusals: AtomicU64,
}

impl Counters {
    /// An access token was handed out; `refreshed` when this request refreshed it.
    pub(crate) fn served(&self, refreshed: bool) {
        self.tokens.fetch_add(1, Ordering::Relaxed);
        if refreshed {
            self.refreshes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The platform refused a token request.
    pub(crate) fn refused(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// The metrics text for `tally` (taken at `now`) and these counters.
    pub(crate) fn render(&self, tally: &Tally, now: SystemTime) -> String {
        let mut out = String::new();
        metric(
            &mut out,
            "preauth_store_up",
            "gauge",
            "1 when the store could be read for these metrics, 0 when not (the counts are then 0).",
        );
        let _ = writeln!(
            out,
            "preauth_store_up {}",
            u8::from(tally.unknown.is_none())
        );
        metric(
            &mut out,
            "preauth_connections",
            "gauge",
            "Connections by monitoring state.",
        );
        for state in [
            CheckState::Ok,
            CheckState::Warning,
            CheckState::Critical,
            CheckState::Unknown,
        ] {
            let _ = writeln!(
                out,
                "preauth_connections{{state=\"{}\"}} {}",
                state.to_string().to_lowercase(),
                tally.count(state)
            );
        }
        metric(
            &mut out,
            "preauth_refresh_failures",
            "gauge",
            "Connections whose last refresh failed, by class: permanent (a person must act) or transient (tried again automatically).",
        );
        for class in [FailureClass::Permanent, FailureClass::Transient] {
            let _ = writeln!(
                out,
                "preauth_refresh_failures{{class=\"{}\"}} {}",
                class.word(),
                tally.failures(class)
            );
        }
        if let Some(at) = tally.first_next_try {
            metric(
                &mut out,
                "preauth_refresh_next_try_timestamp_seconds",
                "gauge",
                "When the first automatic try after a transient failure is due (Unix time).",
            );
            let at = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let _ = writeln!(out, "preauth_refresh_next_try_timestamp_seconds {at}");
        }
        if let Some(at) = tally.first_refresh_expiry {
            metric(
                &mut out,
                "preauth_refresh_token_days_left_min",
                "gauge",
                "Days until the refresh token that expires first expires (negative: expired).",
            );
            let days = match at.duration_since(now) {
                Ok(left) => left.as_secs_f64(),
                Err(past) => -past.duration().as_secs_f64(),
            } / 86_400.0;
            let _ = writeln!(out, "preauth_refresh_token_days_left_min {days:.3}");
        }
        for (name, help, counter) in [
            (
                "preauth_tokens_served_total",
                "Access tokens handed out by this process.",
                &self.tokens,
            ),
            (
                "preauth_refreshes_total",
                "Refreshes at the platform made by this process.",
                &self.refreshes,
            ),
            (
                "preauth_refresh_refusals_total",
                "Token requests of this process that the platform refused.",
                &self.refusals,
            ),
        ] {
            metric(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
        out
    }
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_that_cannot_be_read_is_down_not_empty() {
        let down = Tally {
            unknown: Some("the database did not answer".into()),
            ..Tally::default()
        };
        let text = Counters::default().render(&down, SystemTime::now());
        assert!(text.contains("preauth_store_up 0"), "{text}");
        let up = Counters::default().render(&Tally::default(), SystemTime::now());
        assert!(up.contains("preauth_store_up 1"), "{up}");
        assert!(!up.contains("next_try"), "{up}");
    }

    #[test]
    fn refresh_failures_are_shown_by_class_with_the_first_next_try() {
        let tally = Tally {
            failures: [2, 1],
            first_next_try: Some(
                SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000),
            ),
            ..Tally::default()
        };
        let text = Counters::default().render(&tally, SystemTime::now());
        assert!(
            text.contains("preauth_refresh_failures{class=\"permanent\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("preauth_refresh_failures{class=\"transient\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("preauth_refresh_next_try_timestamp_seconds 1800000000"),
            "{text}"
        );
    }
}
