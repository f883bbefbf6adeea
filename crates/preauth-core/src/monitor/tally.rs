//! [`Tally`]: how many connections are in each state, judged as the report judges them
//! but without words, a batch of summaries at a time (what `/metrics` reports).

use std::time::SystemTime;

use super::judge::{CheckState, Thresholds, judged_state};
use crate::lifecycle::{FailureClass, FailureKind, RefreshFailure, connection_status};
use crate::platform::Registry;
use crate::store::{Listed, Store};

/// How many connections are in each state, and when the first refresh token expires:
/// what `/metrics` reports, judged as [`crate::monitor::check`] judges but without a reason per
/// connection (at 100,000 connections the words cost more than the judging).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Connections by state, in the order OK, WARNING, CRITICAL, UNKNOWN.
    pub by_state: [usize; 4],
    /// The refresh-token expiry that comes first, of those that count one.
    pub first_refresh_expiry: Option<SystemTime>,
    /// Connections with a recorded refresh failure, by class: permanent, transient.
    pub failures: [usize; 2],
    /// The next automatic try that comes first, of the transient failures.
    pub first_next_try: Option<SystemTime>,
    /// Set when the store itself could not be read.
    pub unknown: Option<String>,
}

impl Tally {
    /// How many connections have a recorded refresh failure of `class`.
    pub fn failures(&self, class: FailureClass) -> usize {
        self.failures[class as usize]
    }

    /// How many connections are in `state`.
    pub fn count(&self, state: CheckState) -> usize {
        self.by_state
            .get(state as usize)
            .copied()
            .unwrap_or_default()
    }
}

/// Tallies every connection in `store` at `now` from their summaries, a batch at a
/// time: the same verdicts as [`crate::monitor::check`], counted.
pub fn tally(
    store: &dyn Store,
    registry: &Registry,
    now: SystemTime,
    thresholds: Thresholds,
) -> Tally {
    let mut tally = Tally::default();
    let read = store.for_each_summary(&mut |listed| {
        let verdict = verdict(&listed, registry, now, thresholds);
        tally.add(verdict);
    });
    match read {
        Ok(problems) => {
            for _ in problems {
                tally.add(Verdict::state(CheckState::Unknown));
            }
        }
        Err(error) => tally.unknown = Some(error.to_string()),
    }
    tally
}

/// What one connection adds to a tally.
struct Verdict {
    state: CheckState,
    refresh_expiry: Option<SystemTime>,
    failure: Option<FailureClass>,
    next_try: Option<SystemTime>,
}

impl Verdict {
    fn state(state: CheckState) -> Verdict {
        Verdict {
            state,
            refresh_expiry: None,
            failure: None,
            next_try: None,
        }
    }
}

impl Tally {
    fn add(&mut self, verdict: Verdict) {
        if let Some(slot) = self.by_state.get_mut(verdict.state as usize) {
            *slot += 1;
        }
        if let Some(class) = verdict.failure {
            self.failures[class as usize] += 1;
        }
        let first = |kept: Option<SystemTime>, at: Option<SystemTime>| match (kept, at) {
            (Some(k), Some(a)) => Some(k.min(a)),
            (k, a) => k.or(a),
        };
        self.first_refresh_expiry = first(self.first_refresh_expiry, verdict.refresh_expiry);
        self.first_next_try = first(self.first_next_try, verdict.next_try);
    }
}

/// The state of one listed connection, the refresh-token expiry its check reports and
/// its recorded failure's class and next try, as the report judges it, without words.
fn verdict(
    listed: &Listed,
    registry: &Registry,
    now: SystemTime,
    thresholds: Thresholds,
) -> Verdict {
    let Ok(connection) = &listed.connection else {
        return Verdict::state(CheckState::Critical);
    };
    let Some(platform) = registry.get(&connection.platform) else {
        return Verdict::state(CheckState::Critical);
    };
    if let Some(failure) = RefreshFailure::of(connection) {
        // As the report judges: a passing failure is a warning while tries go on.
        let state = match failure.kind {
            FailureKind::Transient => CheckState::Warning,
            _ => CheckState::Critical,
        };
        return Verdict {
            state,
            refresh_expiry: None,
            failure: Some(failure.kind.class()),
            next_try: failure.next_try(),
        };
    }
    let status = connection_status(&platform, connection, now);
    Verdict {
        state: judged_state(&status, now, thresholds),
        refresh_expiry: status.refresh_token_expires_at,
        failure: None,
        next_try: None,
    }
}
