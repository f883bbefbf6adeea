//! `/metrics` in the Prometheus text format: connections by monitoring state, the days
//! left of the refresh token that expires first, what this process served, and (with
//! `--keep-alive`) the store's last keep-alive pass and this replica's next one.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use preauth_core::lifecycle::FailureClass;
use preauth_core::monitor::{CheckState, Tally};

use crate::keep_alive::{Pass, Watch};

/// Counters of this process since it started.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Access tokens handed out.
    tokens: AtomicU64,
    /// Of those, the ones that needed a refresh at the platform.
    refreshes: AtomicU64,
    /// Token requests the platform refused.
    refusals: AtomicU64,
    /// The keep-alive, when it runs (`--keep-alive`).
    keep_alive: Option<Arc<Watch>>,
}

impl Counters {
    /// Counters that also show the keep-alive of `watch`.
    pub(crate) fn watching(watch: Arc<Watch>) -> Counters {
        Counters {
            keep_alive: Some(watch),
            ..Counters::default()
        }
    }

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

    /// The metrics text for `tally` (taken at `now`) and these counters (reads the
    /// keep-alive's record in the store: call it off the async workers).
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
        if let Some(watch) = &self.keep_alive {
            keep_alive(&mut out, watch.last(), watch.next());
        }
        out
    }
}

/// Seconds since the Unix epoch (0 for none), as Prometheus gives times.
fn unix(at: Option<SystemTime>) -> u64 {
    at.and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_secs())
}

/// The keep-alive's gauges: the last pass as the store records it (`None` when there was
/// none yet; an error when the store could not be read: then only the next pass) and this
/// replica's next planned pass.
fn keep_alive(
    out: &mut String,
    last: Result<Option<Pass>, preauth_core::store::StoreError>,
    next: Option<SystemTime>,
) {
    let up = last.is_ok();
    metric(
        out,
        "preauth_keep_alive_record_up",
        "gauge",
        "1 when the keep-alive's record in the store could be read for these metrics, 0 when not.",
    );
    let _ = writeln!(out, "preauth_keep_alive_record_up {}", u8::from(up));
    metric(
        out,
        "preauth_keep_alive_next_run_timestamp_seconds",
        "gauge",
        "When this replica plans the next keep-alive pass (Unix time); another replica may run it.",
    );
    let _ = writeln!(
        out,
        "preauth_keep_alive_next_run_timestamp_seconds {}",
        unix(next)
    );
    let Ok(last) = last else {
        return;
    };
    let last = last.as_ref();
    for (name, help, at) in [
        (
            "preauth_keep_alive_last_run_start_timestamp_seconds",
            "When the last keep-alive pass of any replica on this store started (Unix time; 0: none yet).",
            last.map(|pass| pass.started_at),
        ),
        (
            "preauth_keep_alive_last_run_end_timestamp_seconds",
            "When the last keep-alive pass ended (Unix time; 0: none yet, still running, or its replica died and another takes it over).",
            last.and_then(|pass| pass.finished_at),
        ),
    ] {
        metric(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", unix(at));
    }
    metric(
        out,
        "preauth_keep_alive_last_run_connections",
        "gauge",
        "Connections of the last keep-alive pass by outcome (0 while it runs): refreshed, failed, or left alone (refresh token young, renewed moments ago, or held by another process).",
    );
    let finished = last.filter(|pass| pass.finished_at.is_some());
    for (outcome, count) in [
        ("refreshed", finished.map(|pass| pass.refreshed)),
        ("failed", finished.map(|pass| pass.failed)),
        ("left_alone", finished.map(|pass| pass.left_alone)),
    ] {
        let _ = writeln!(
            out,
            "preauth_keep_alive_last_run_connections{{outcome=\"{outcome}\"}} {}",
            count.unwrap_or(0)
        );
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
        assert!(!up.contains("keep_alive"), "no keep-alive, no gauges: {up}");
        assert!(!up.contains("next_try"), "{up}");
    }

    #[test]
    fn the_keep_alive_shows_its_last_pass_and_next_or_that_its_record_is_unreadable() {
        let started = UNIX_EPOCH + std::time::Duration::from_secs(1_796_439_462);
        let pass = Pass {
            holder: "pid 1 (00000001)".into(),
            started_at: started,
            lease_until: started,
            finished_at: Some(started + std::time::Duration::from_secs(69)),
            refreshed: 3,
            failed: 1,
            left_alone: 2,
        };
        let mut text = String::new();
        keep_alive(
            &mut text,
            Ok(Some(pass)),
            Some(started + std::time::Duration::from_secs(86_400)),
        );
        for line in [
            "preauth_keep_alive_record_up 1",
            "preauth_keep_alive_next_run_timestamp_seconds 1796525862",
            "preauth_keep_alive_last_run_start_timestamp_seconds 1796439462",
            "preauth_keep_alive_last_run_end_timestamp_seconds 1796439531",
            "preauth_keep_alive_last_run_connections{outcome=\"refreshed\"} 3",
            "preauth_keep_alive_last_run_connections{outcome=\"failed\"} 1",
            "preauth_keep_alive_last_run_connections{outcome=\"left_alone\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in {text}");
        }
        assert!(!text.contains("pid 1"), "the holder is for the record only");
        let mut down = String::new();
        let unreadable = preauth_core::store::StoreError::Io {
            path: "keep-alive.json".into(),
            source: std::io::Error::other("the database did not answer"),
        };
        keep_alive(&mut down, Err(unreadable), None);
        assert!(down.contains("preauth_keep_alive_record_up 0"), "{down}");
        assert!(
            down.contains("preauth_keep_alive_next_run_timestamp_seconds 0"),
            "{down}"
        );
        assert!(!down.contains("last_run"), "{down}");
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
