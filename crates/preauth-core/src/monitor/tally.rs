//! [`Tally`]: how many connections are in each state, judged as the report judges them
//! but without words, a batch of summaries at a time (what `/metrics` reports).

use std::time::SystemTime;

use super::judge::{CheckState, Thresholds, judged_state};
use crate::lifecycle::{RefreshFailure, connection_status};
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
    /// Set when the store itself could not be read.
    pub unknown: Option<String>,
}

impl Tally {
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
    let mut count = |state: CheckState, expiry: Option<SystemTime>| {
        if let Some(slot) = tally.by_state.get_mut(state as usize) {
            *slot += 1;
        }
        if let Some(at) = expiry {
            tally.first_refresh_expiry = Some(tally.first_refresh_expiry.map_or(at, |f| f.min(at)));
        }
    };
    let read = store.for_each_summary(&mut |listed| {
        let (state, expiry) = verdict(&listed, registry, now, thresholds);
        count(state, expiry);
    });
    match read {
        Ok(problems) => {
            for _ in problems {
                count(CheckState::Unknown, None);
            }
        }
        Err(error) => tally.unknown = Some(error.to_string()),
    }
    tally
}

/// The state of one listed connection and the refresh-token expiry its check reports,
/// as the report judges it, without words.
fn verdict(
    listed: &Listed,
    registry: &Registry,
    now: SystemTime,
    thresholds: Thresholds,
) -> (CheckState, Option<SystemTime>) {
    let Ok(connection) = &listed.connection else {
        return (CheckState::Critical, None);
    };
    let Some(platform) = registry.get(&connection.platform) else {
        return (CheckState::Critical, None);
    };
    if RefreshFailure::of(connection).is_some() {
        return (CheckState::Critical, None);
    }
    let status = connection_status(&platform, connection, now);
    (
        judged_state(&status, now, thresholds),
        status.refresh_token_expires_at,
    )
}
