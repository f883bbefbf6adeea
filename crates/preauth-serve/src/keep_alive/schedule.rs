//! When the keep-alive's pass starts: daily at a time of day in UTC plus a random delay
//! (the jitter), soon after start when the store's last pass is older than a day, or
//! right at start for tests (`--keep-alive-at now`).

use std::hash::BuildHasher;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A day.
pub(crate) const DAY: Duration = Duration::from_secs(24 * 3600);

/// The longest delay after start of the pass a server owes because the store's last
/// pass is older than a day (or there was none).
const SOON: Duration = Duration::from_secs(60);

/// When the daily pass starts (`--keep-alive-at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// Daily at this many seconds past midnight UTC (`03:00`), plus the jitter.
    Daily(u32),
    /// Right at start, then every 24 hours (`now`: for tests and trying it out).
    Now,
}

impl FromStr for At {
    type Err = String;

    fn from_str(text: &str) -> Result<At, String> {
        if text.eq_ignore_ascii_case("now") {
            return Ok(At::Now);
        }
        let wrong =
            || format!("'{text}' is no time of day; give HH:MM in UTC, such as 03:00, or now");
        let (hours, minutes) = text.split_once(':').ok_or_else(wrong)?;
        let number = |part: &str, below: u32| {
            (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u32>().ok())
                .flatten()
                .filter(|n| *n < below)
        };
        match (number(hours, 24), number(minutes, 60)) {
            (Some(h), Some(m)) => Ok(At::Daily(h * 3600 + m * 60)),
            _ => Err(wrong()),
        }
    }
}

/// A random duration from zero up to `most`.
pub(crate) fn spread(most: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
    let millis = u64::try_from(most.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(random % millis.saturating_add(1))
}

/// The first pass after a start at `now`, given when the store's last finished pass
/// started: right away with [`At::Now`]; soon when that pass is older than a day (or
/// there was none); otherwise the next daily time.
pub(crate) fn first(
    at: At,
    now: SystemTime,
    last_started: Option<SystemTime>,
    jitter: Duration,
) -> SystemTime {
    let stale = last_started.is_none_or(|started| age(started, now) >= DAY);
    match at {
        At::Now => now,
        At::Daily(_) if stale => now + spread(jitter.min(SOON)),
        At::Daily(_) => next(at, now, jitter),
    }
}

/// The pass after one that started (or was found done) at `now`: 24 hours later with
/// [`At::Now`], else the next time of day after `now` plus a random part of `jitter`.
pub(crate) fn next(at: At, now: SystemTime, jitter: Duration) -> SystemTime {
    match at {
        At::Now => now + DAY,
        At::Daily(seconds) => next_daily(seconds, now) + spread(jitter),
    }
}

/// The first moment after `now` that is `seconds` past midnight UTC.
fn next_daily(seconds: u32, now: SystemTime) -> SystemTime {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let midnight = since - since % DAY.as_secs();
    let mut at = midnight + u64::from(seconds);
    if at <= since {
        at += DAY.as_secs();
    }
    UNIX_EPOCH + Duration::from_secs(at)
}

/// How long before `now` `then` was (zero when it is later).
pub(crate) fn age(then: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3600;

    fn at(text: &str) -> At {
        text.parse().expect("a time of day")
    }

    #[test]
    fn a_time_of_day_is_hh_mm_in_utc_or_now() {
        assert_eq!(at("03:00"), At::Daily(3 * 3600));
        assert_eq!(at("23:59"), At::Daily(23 * 3600 + 59 * 60));
        assert_eq!(at("NOW"), At::Now);
        for wrong in ["24:00", "3:00", "03:60", "0300", "", "03:0a", "-1:00"] {
            let error = wrong.parse::<At>().unwrap_err();
            assert!(error.contains("HH:MM"), "{wrong}: {error}");
        }
    }

    #[test]
    fn the_daily_pass_is_the_next_time_of_day_plus_at_most_the_jitter() {
        // 2026-12-05 15:00 UTC.
        let day = UNIX_EPOCH + Duration::from_secs(20_427 * 86_400);
        let afternoon = day + Duration::from_secs(15 * HOUR);
        let jitter = Duration::from_secs(1800);
        let planned = next(at("03:00"), afternoon, jitter);
        let tomorrow = day + DAY + Duration::from_secs(3 * HOUR);
        assert!(
            planned >= tomorrow && planned <= tomorrow + jitter,
            "{planned:?}"
        );
        assert_eq!(
            next(at("16:30"), afternoon, Duration::ZERO),
            afternoon + Duration::from_secs(5400)
        );
        assert_eq!(next(at("now"), afternoon, jitter), afternoon + DAY);
    }

    #[test]
    fn a_store_without_a_pass_for_a_day_gets_one_soon_after_start() {
        let now = UNIX_EPOCH + Duration::from_secs(20_427 * 86_400 + 15 * HOUR);
        let hour = Duration::from_secs(HOUR);
        for last in [None, Some(now - DAY - hour)] {
            let planned = first(at("03:00"), now, last, hour);
            assert!(
                planned >= now && planned <= now + SOON,
                "{last:?}: {planned:?}"
            );
        }
        let recent = first(at("03:00"), now, Some(now - hour), Duration::ZERO);
        assert_eq!(recent, now + Duration::from_secs(12 * HOUR));
        assert_eq!(first(at("now"), now, Some(now - hour), hour), now);
    }
}
