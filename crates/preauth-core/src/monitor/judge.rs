//! The judgement of each connection: its state and the reason, in words, from its
//! token times and the record of a failed refresh, and the report of all of them.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::advice::Advice;
use crate::connection::Connection;
use crate::error::{When, is_registered};
use crate::lifecycle::{
    ConnectionStatus, FailureClass, FailureKind, RefreshFailure, TokenState, connection_status,
};
use crate::platform::Registry;
use crate::store::{Listed, Listing, Store, StoreError};

/// A check result, ordered from good to bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckState {
    /// Nothing to do.
    Ok,
    /// A refresh token expires within the warning period.
    Warning,
    /// A connection needs a new login now or within the critical period.
    Critical,
    /// The check itself could not run (unreadable settings folder).
    Unknown,
}

impl CheckState {
    /// The plugin exit code: 0, 1, 2 or 3.
    pub fn exit_code(self) -> i32 {
        match self {
            CheckState::Ok => 0,
            CheckState::Warning => 1,
            CheckState::Critical => 2,
            CheckState::Unknown => 3,
        }
    }
}

impl fmt::Display for CheckState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckState::Ok => "OK",
            CheckState::Warning => "WARNING",
            CheckState::Critical => "CRITICAL",
            CheckState::Unknown => "UNKNOWN",
        })
    }
}

/// When a refresh token counts as expiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// WARNING when a refresh token expires within this many days.
    pub warn_days: u32,
    /// CRITICAL when a refresh token expires within this many days.
    pub critical_days: u32,
}

impl Default for Thresholds {
    /// 7 and 2 days.
    fn default() -> Self {
        Thresholds {
            warn_days: 7,
            critical_days: 2,
        }
    }
}

/// The verdict on one connection.
#[derive(Debug, Clone)]
pub struct ConnectionCheck {
    /// The connection (or the file, when it could not be read).
    pub name: String,
    /// Its platform id, when known.
    pub platform: String,
    /// The verdict.
    pub state: CheckState,
    /// Why, as a short phrase (`refresh token expires in 5 days (2026-12-01)`).
    pub reason: String,
    /// When the refresh token expires, where known (also when it was refused).
    pub refresh_token_expires_at: Option<SystemTime>,
    /// The platform refused the refresh token: the chain is broken (counted as failed,
    /// not expiring, whatever its expiry).
    pub refused: bool,
    /// The class of the recorded refresh failure, if any.
    pub failure_class: Option<FailureClass>,
    /// When the next automatic try is, after a transient failure.
    pub next_try: Option<SystemTime>,
    /// What repairs it, for a front end to put in its own terms.
    pub advice: Vec<Advice>,
}

/// The verdicts on every connection of a settings folder.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Each connection, in name order.
    pub connections: Vec<ConnectionCheck>,
    /// Set when the folder itself could not be read.
    pub unknown: Option<String>,
}

const DAY: u64 = 24 * 3600;

/// Checks every connection in `store` at `now`, from their summaries (no secret is
/// opened where the store keeps them), read a batch at a time so that memory stays
/// bounded by the verdicts. A settings file that cannot be read is an UNKNOWN line of its own;
/// the other connections are judged all the same.
pub fn check(
    store: &dyn Store,
    registry: &Registry,
    now: SystemTime,
    thresholds: Thresholds,
) -> CheckReport {
    let mut connections = Vec::new();
    let read = store.for_each_summary(&mut |listed| {
        connections.push(check_one(listed, registry, now, thresholds));
    });
    match read {
        Ok(problems) => {
            connections.extend(problems.into_iter().map(check_problem));
            CheckReport {
                connections,
                unknown: None,
            }
        }
        Err(error) => CheckReport {
            connections: Vec::new(),
            unknown: Some(error.to_string()),
        },
    }
}

/// Checks the connections of `listing` (read by the caller) at `now`.
pub fn check_listing(
    listing: Listing,
    registry: &Registry,
    now: SystemTime,
    thresholds: Thresholds,
) -> CheckReport {
    let mut connections: Vec<ConnectionCheck> = listing
        .connections
        .into_iter()
        .map(|listed| check_one(listed, registry, now, thresholds))
        .collect();
    connections.extend(listing.problems.into_iter().map(check_problem));
    CheckReport {
        connections,
        unknown: None,
    }
}

/// The verdict on one listed connection.
fn check_one(
    listed: Listed,
    registry: &Registry,
    now: SystemTime,
    thresholds: Thresholds,
) -> ConnectionCheck {
    match listed.connection {
        Ok(connection) => {
            let Some(platform) = registry.get(&connection.platform) else {
                return ConnectionCheck {
                    name: connection.name.clone(),
                    platform: connection.platform.clone(),
                    state: CheckState::Critical,
                    reason: format!("unknown platform '{}'", connection.platform),
                    refresh_token_expires_at: None,
                    refused: false,
                    failure_class: None,
                    next_try: None,
                    advice: Vec::new(),
                };
            };
            let status = connection_status(&platform, &connection, now);
            // A recorded failure outweighs the dates: the token chain is broken, not
            // expiring (so it counts as failed, not expiring).
            let recorded = RefreshFailure::of(&connection);
            let (failure_class, next_try) = (
                recorded.as_ref().map(|f| f.kind.class()),
                recorded.as_ref().and_then(RefreshFailure::next_try),
            );
            let (state, reason, refused, advice) = match refresh_failure(&connection) {
                // A passing failure is a warning while automatic tries go on.
                Some(failure) if recorded.is_some_and(|f| f.kind == FailureKind::Transient) => {
                    let advice = recorded_advice(&connection);
                    (CheckState::Warning, failure, false, advice)
                }
                Some(failure) => {
                    let advice = recorded_advice(&connection);
                    (CheckState::Critical, failure, true, advice)
                }
                None => {
                    let (state, reason) = judge(&status, now, thresholds);
                    let dead = matches!(
                        status.state,
                        TokenState::NotAuthorized
                            | TokenState::NoRefreshToken
                            | TokenState::Unrenewable
                            | TokenState::RefreshTokenExpired
                    );
                    let advice = if dead { cure(&connection) } else { Vec::new() };
                    (state, reason, false, advice)
                }
            };
            ConnectionCheck {
                name: connection.name,
                platform: platform.id.clone(),
                state,
                reason,
                refresh_token_expires_at: status.refresh_token_expires_at,
                refused,
                failure_class,
                next_try,
                advice,
            }
        }
        Err(error) => ConnectionCheck {
            name: listed.name,
            platform: String::new(),
            state: CheckState::Critical,
            reason: error.to_string(),
            refresh_token_expires_at: None,
            refused: false,
            failure_class: None,
            next_try: None,
            advice: Vec::new(),
        },
    }
}

/// The UNKNOWN line of a part of the store that could not be read at all.
fn check_problem(problem: StoreError) -> ConnectionCheck {
    ConnectionCheck {
        name: problem_file(&problem),
        platform: String::new(),
        state: CheckState::Unknown,
        reason: problem.to_string(),
        refresh_token_expires_at: None,
        refused: false,
        failure_class: None,
        next_try: None,
        advice: Vec::new(),
    }
}

/// The refresh failure the lifecycle recorded in the connection, as a phrase:
/// `last refresh failed at 2026-11-23 10:00:00 UTC (permanent failure): the refresh token of
/// 'x' was already used …`; a transient one names its try and the next automatic one.
pub fn refresh_failure(connection: &Connection) -> Option<String> {
    let failure = RefreshFailure::of(connection)?;
    let class = failure.kind.class().word();
    let retry = failure.retry.map_or(String::new(), |r| {
        format!(
            ", try {}, next automatic try at {}",
            r.attempt,
            When(r.next_try)
        )
    });
    Some(format!(
        "last refresh failed at {} ({class} failure{retry}): {}",
        When(failure.at),
        failure.message
    ))
}

/// The file a store problem is about, for the check's name column.
fn problem_file(problem: &StoreError) -> String {
    match problem {
        StoreError::BrokenFile { source, .. } => problem_file(source),
        StoreError::Malformed { path, .. } | StoreError::Io { path, .. } => {
            path.display().to_string()
        }
        other => other.to_string(),
    }
}

/// What brings a dead connection back: a login here, or new tokens from the partner
/// application that obtained the registered ones.
fn cure(connection: &Connection) -> Vec<Advice> {
    let name = connection.name.clone();
    if is_registered(connection) {
        vec![Advice::NewTokensFromPartner {
            connection: name,
            platform: connection.platform.clone(),
        }]
    } else {
        vec![Advice::LogInAgain { connection: name }]
    }
}

/// The advice kept with the refresh failure recorded in `connection` (new tokens from
/// the partner for a registered one), and a forced refresh once its cause is fixed.
pub fn recorded_advice(connection: &Connection) -> Vec<Advice> {
    let name = &connection.name;
    let codes = RefreshFailure::of(connection)
        .map(|f| f.advice)
        .unwrap_or_default();
    // New tokens for a registered connection come from the partner, not a login here.
    let mut advice: Vec<Advice> = codes
        .iter()
        .filter_map(|code| match code.as_str() {
            "log_in_again" | "new_tokens_from_partner" => cure(connection).pop(),
            code => Advice::for_connection(code, name, &connection.platform),
        })
        .collect();
    advice.push(Advice::ForceRefresh {
        connection: name.clone(),
    });
    advice
}

/// The verdict on `status` at `now` and why, in a short phrase (what repairs a dead one
/// is the check's advice).
fn judge(
    status: &ConnectionStatus,
    now: SystemTime,
    thresholds: Thresholds,
) -> (CheckState, String) {
    let refresh_expiry = status.refresh_token_expires_at;
    match status.state {
        TokenState::NotAuthorized => (CheckState::Critical, "no tokens".to_string()),
        TokenState::NoRefreshToken => (
            CheckState::Critical,
            "access token expired and no refresh token".to_string(),
        ),
        // Healthy for now, but nothing can renew it: monitoring must not call it OK.
        TokenState::Unrenewable => (
            CheckState::Critical,
            format!(
                "no refresh token: stops working at {}",
                status
                    .access_token_expires_at
                    .map(|t| When(t).to_string())
                    .unwrap_or_else(|| "an unknown time".into())
            ),
        ),
        TokenState::RefreshTokenExpired => (
            CheckState::Critical,
            format!("refresh token expired on {}", day(refresh_expiry)),
        ),
        TokenState::Valid | TokenState::NeedsRefresh => match refresh_expiry {
            None => (CheckState::Ok, "refresh token does not expire".into()),
            Some(at) => {
                let left = at.duration_since(now).unwrap_or(Duration::ZERO).as_secs();
                let phrase = format!(
                    "refresh token expires in {} ({})",
                    time_left(left),
                    day(Some(at))
                );
                (judged_state(status, now, thresholds), phrase)
            }
        },
    }
}

/// The state [`judge`] gives `status` at `now`, without its words: every state but a
/// valid or refreshable one is critical; those are judged by how soon their refresh
/// token expires.
pub(super) fn judged_state(
    status: &ConnectionStatus,
    now: SystemTime,
    thresholds: Thresholds,
) -> CheckState {
    match (status.state, status.refresh_token_expires_at) {
        (TokenState::Valid | TokenState::NeedsRefresh, None) => CheckState::Ok,
        (TokenState::Valid | TokenState::NeedsRefresh, Some(at)) => {
            let left = at.duration_since(now).unwrap_or(Duration::ZERO).as_secs();
            if left < u64::from(thresholds.critical_days) * DAY {
                CheckState::Critical
            } else if left < u64::from(thresholds.warn_days) * DAY {
                CheckState::Warning
            } else {
                CheckState::Ok
            }
        }
        _ => CheckState::Critical,
    }
}

/// `seconds` left as a person reads them, rounded to the nearest unit: `7 days` for 6
/// days 23 hours, `5 hours` under a day, `40 minutes` under an hour.
fn time_left(seconds: u64) -> String {
    const HOUR: u64 = 3600;
    const MINUTE: u64 = 60;
    let (count, unit) = if seconds >= DAY - HOUR / 2 {
        ((seconds + DAY / 2) / DAY, "day")
    } else if seconds >= HOUR - MINUTE / 2 {
        ((seconds + HOUR / 2) / HOUR, "hour")
    } else if seconds >= MINUTE / 2 {
        ((seconds + MINUTE / 2) / MINUTE, "minute")
    } else {
        return "less than a minute".into();
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

/// `2026-12-01`, or `an unknown date`.
fn day(at: Option<SystemTime>) -> String {
    at.map(|t| humantime::format_rfc3339_seconds(t).to_string()[..10].to_string())
        .unwrap_or_else(|| "an unknown date".into())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A moment `days` days after a fixed day in 2027.
    pub(in crate::monitor) fn at(days: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + days * DAY)
    }

    #[test]
    fn judges_by_days_left() {
        let now = at(0);
        let t = Thresholds::default();
        let status = |state, refresh: Option<SystemTime>| ConnectionStatus {
            state,
            access_token_expires_at: Some(now + Duration::from_secs(600)),
            refresh_token_issued_at: None,
            refresh_token_expires_at: refresh,
        };
        let verdict = |days| {
            judge(
                &status(TokenState::Valid, Some(at(days) + Duration::from_secs(60))),
                now,
                t,
            )
            .0
        };
        assert_eq!(verdict(10), CheckState::Ok);
        assert_eq!(verdict(7), CheckState::Ok);
        assert_eq!(verdict(6), CheckState::Warning);
        assert_eq!(verdict(2), CheckState::Warning);
        assert_eq!(verdict(1), CheckState::Critical);
        assert_eq!(
            judge(
                &status(TokenState::RefreshTokenExpired, Some(at(0))),
                now,
                t
            )
            .0,
            CheckState::Critical
        );
        let (state, reason) = judge(&status(TokenState::Unrenewable, None), now, t);
        assert_eq!(state, CheckState::Critical, "no refresh token is never OK");
        assert!(
            reason.contains("no refresh token: stops working at"),
            "{reason}"
        );
    }

    #[test]
    fn time_left_reads_as_a_person_would_say_it() {
        let hour = 3600;
        assert_eq!(time_left(6 * DAY + 23 * hour), "7 days");
        assert_eq!(time_left(6 * DAY + 11 * hour), "6 days");
        assert_eq!(time_left(DAY + hour), "1 day");
        assert_eq!(time_left(DAY - 10 * 60), "1 day");
        assert_eq!(time_left(5 * hour + 10 * 60), "5 hours");
        assert_eq!(time_left(hour), "1 hour");
        assert_eq!(time_left(40 * 60 + 10), "40 minutes");
        assert_eq!(time_left(20), "less than a minute");
        assert_eq!(time_left(0), "less than a minute");
    }
}
