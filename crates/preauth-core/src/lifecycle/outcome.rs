//! What a keep-alive run reports, per connection ([`KeepAliveOutcome`]) and in all
//! ([`KeepAliveReport`]), and the rule by which it leaves a connection alone (also
//! applied again under the connection's lock before a keep-alive refresh).

use std::time::{Duration, SystemTime};

use super::status::needs_refresh;
use crate::connection::Tokens;
use crate::error::LifecycleError;
use crate::platform::Platform;

/// What happened to one connection.
#[derive(Debug)]
pub enum KeepAliveOutcome {
    /// Refreshed and saved.
    Refreshed {
        /// When the new refresh token expires, on platforms where they do.
        refresh_token_expires_at: Option<SystemTime>,
        /// This refresh left only the reserve of the connection's calls today, the first
        /// time today (see [`crate::budget::Spent::budget_low`]).
        budget_low: bool,
    },
    /// Its refresh token is younger than the threshold; left alone.
    Young {
        /// When its refresh token was obtained.
        refresh_token_issued_at: Option<SystemTime>,
    },
    /// Its tokens were renewed minutes ago (the refresh token came with an access token
    /// still outside the platform's refresh window); left alone, since a platform like
    /// Exact refuses an earlier refresh, and counts the refusal towards blocking the app.
    TooEarly {
        /// When its refresh token was obtained.
        refresh_token_issued_at: Option<SystemTime>,
        /// From when the platform allows a refresh.
        refresh_allowed_from: SystemTime,
    },
    /// Another process (another machine's keep-alive) held it; left to that process.
    HeldElsewhere,
    /// It could not be refreshed.
    Failed(LifecycleError),
}

/// Progress of a keep-alive run, for the command line.
#[derive(Debug)]
pub enum KeepAliveEvent<'a> {
    /// A connection is being looked at.
    Started {
        /// The connection.
        name: &'a str,
        /// 1-based position.
        index: usize,
        /// How many connections there are.
        total: usize,
    },
    /// The platform rate-limits this connection's app; waiting until `until`.
    Waiting {
        /// The connection.
        name: &'a str,
        /// Until when.
        until: SystemTime,
    },
    /// A connection is done.
    Finished {
        /// The connection.
        name: &'a str,
        /// What happened.
        outcome: &'a KeepAliveOutcome,
    },
}

/// The result of a keep-alive run, per connection in name order.
#[derive(Debug, Default)]
pub struct KeepAliveReport {
    /// Each connection and what happened to it.
    pub outcomes: Vec<(String, KeepAliveOutcome)>,
    /// What the store could not read at all (a settings file that does not parse);
    /// the connections elsewhere were kept alive all the same.
    pub problems: Vec<crate::store::StoreError>,
}

impl KeepAliveReport {
    /// How many were refreshed.
    pub fn refreshed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, KeepAliveOutcome::Refreshed { .. }))
            .count()
    }

    /// How many failed.
    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, KeepAliveOutcome::Failed(_)))
            .count()
    }
}

/// Why the keep-alive leaves `tokens` of `platform` alone at `now`, or `None` when it
/// refreshes them: their refresh token is younger than `threshold`, or (on platforms
/// whose refresh tokens rotate) it came with an access token still outside the refresh
/// window, so it is minutes old whatever the threshold.
pub(super) fn left_alone(
    platform: &Platform,
    tokens: &Tokens,
    threshold: Duration,
    now: SystemTime,
) -> Option<KeepAliveOutcome> {
    let issued = tokens.refresh_token_issued_at;
    if issued.is_some_and(|at| now.duration_since(at).unwrap_or_default() < threshold) {
        return Some(KeepAliveOutcome::Young {
            refresh_token_issued_at: issued,
        });
    }
    (platform.refresh_token_rotates && !needs_refresh(platform, tokens, now)).then(|| {
        KeepAliveOutcome::TooEarly {
            refresh_token_issued_at: issued,
            refresh_allowed_from: platform.refresh_allowed_from(tokens.access_token_expires_at),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{AccessToken, RefreshToken};

    const MINUTE: Duration = Duration::from_secs(60);
    const DAY: Duration = Duration::from_secs(86_400);

    /// Tokens obtained `age` before `now`, the access token living `lifetime`.
    fn obtained(now: SystemTime, age: Duration, lifetime: Duration) -> Tokens {
        Tokens {
            access_token: AccessToken::new("access"),
            access_token_issued_at: now - age,
            access_token_expires_at: now - age + lifetime,
            refresh_token: Some(RefreshToken::new("refresh")),
            refresh_token_issued_at: Some(now - age),
        }
    }

    #[test]
    fn a_refresh_the_platform_would_refuse_as_too_early_is_never_due() {
        let now = SystemTime::UNIX_EPOCH + 1000 * DAY;
        let exact = Platform::exact_online();
        let fresh = obtained(now, MINUTE, 10 * MINUTE);
        let kind = |p: &Platform, t: &Tokens, threshold| {
            left_alone(p, t, threshold, now).map(|o| format!("{o:?}"))
        };
        // Younger than the threshold: that is the reason given.
        assert!(kind(&exact, &fresh, DAY).unwrap().starts_with("Young"));
        // `older than 0 days`: still left alone, until the refresh window opens.
        let too_early = left_alone(&exact, &fresh, Duration::ZERO, now);
        match too_early {
            Some(KeepAliveOutcome::TooEarly {
                refresh_allowed_from,
                ..
            }) => assert_eq!(
                refresh_allowed_from,
                now + 9 * MINUTE - exact.refresh_window
            ),
            other => panic!("{other:?}"),
        }
        let in_window = obtained(now, 10 * MINUTE - exact.refresh_window, 10 * MINUTE);
        assert!(kind(&exact, &in_window, Duration::ZERO).is_none());
        assert!(kind(&exact, &obtained(now, 8 * DAY, 10 * MINUTE), 7 * DAY).is_none());
        // Twinfield's refresh tokens do not rotate: an old one is due whatever the
        // access token says.
        let twinfield = Platform::twinfield();
        let mut old_chain = obtained(now, MINUTE, 60 * MINUTE);
        old_chain.refresh_token_issued_at = Some(now - 8 * DAY);
        assert!(kind(&twinfield, &old_chain, 7 * DAY).is_none());
    }
}
