//! Exact's limits per app: token budget per day, block after errors, API calls per minute/day.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::Limits;
use crate::api_error::ApiError;

const HOUR: Duration = Duration::from_secs(3600);
const DAY_SECS: u64 = 86_400;

/// Windows are aligned to the Unix epoch in UTC: a day starts at midnight UTC.
fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn window_end(t: SystemTime, length_secs: u64) -> SystemTime {
    let start = epoch_secs(t) / length_secs * length_secs;
    UNIX_EPOCH + Duration::from_secs(start.saturating_add(length_secs))
}

/// One fixed window counter (a day or a minute).
#[derive(Debug, Default)]
struct Window {
    index: u64,
    used: u32,
}

impl Window {
    /// Counts one call if the window has room; `false` when it is spent.
    fn take(&mut self, now: SystemTime, length_secs: u64, limit: u32) -> bool {
        let index = epoch_secs(now) / length_secs;
        if index != self.index {
            *self = Window { index, used: 0 };
        }
        if self.used >= limit {
            return false;
        }
        self.used += 1;
        true
    }
}

/// What one app has used.
#[derive(Debug, Default)]
pub(crate) struct AppUsage {
    token_calls: Window,
    /// Times of errors within the last hour, oldest first.
    errors: VecDeque<SystemTime>,
    blocked_until: Option<SystemTime>,
    api_day: Window,
    api_minute: Window,
}

impl AppUsage {
    /// Refuses every call while the app is blocked.
    pub(crate) fn check_block(&mut self, now: SystemTime) -> Result<(), ApiError> {
        match self.blocked_until {
            Some(until) if now < until => Err(ApiError::Blocked { until }),
            Some(_) => {
                self.blocked_until = None;
                self.errors.clear();
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a token-endpoint call against the daily budget.
    pub(crate) fn spend_token_call(
        &mut self,
        now: SystemTime,
        limits: &Limits,
    ) -> Result<(), ApiError> {
        if self
            .token_calls
            .take(now, DAY_SECS, limits.token_calls_per_day)
        {
            Ok(())
        } else {
            Err(ApiError::TokenBudgetSpent {
                limit: limits.token_calls_per_day,
                reset: window_end(now, DAY_SECS),
            })
        }
    }

    /// Records an error answer; the N-th within an hour blocks the app for an hour.
    pub(crate) fn record_error(&mut self, now: SystemTime, limits: &Limits) {
        self.errors.push_back(now);
        while let Some(&oldest) = self.errors.front() {
            if oldest + HOUR <= now {
                self.errors.pop_front();
            } else {
                break;
            }
        }
        let threshold = usize::try_from(limits.errors_per_hour_before_block).unwrap_or(usize::MAX);
        if threshold > 0 && self.errors.len() >= threshold {
            self.blocked_until = Some(now + HOUR);
            self.errors.clear();
        }
    }

    /// Counts an API call; the headers describe the windows after this call either way.
    pub(crate) fn spend_api_call(
        &mut self,
        now: SystemTime,
        limits: &Limits,
    ) -> (HeaderMap, Result<(), ApiError>) {
        let minute_ok = self.api_minute.take(now, 60, limits.api_calls_per_minute);
        // A call refused by the minutely limit does not use the daily budget.
        let day_ok = minute_ok && self.api_day.take(now, DAY_SECS, limits.api_calls_per_day);
        let headers = rate_headers([
            ("x-ratelimit-limit", u64::from(limits.api_calls_per_day)),
            (
                "x-ratelimit-remaining",
                u64::from(limits.api_calls_per_day.saturating_sub(self.api_day.used)),
            ),
            ("x-ratelimit-reset", millis(window_end(now, DAY_SECS))),
            (
                "x-ratelimit-minutely-limit",
                u64::from(limits.api_calls_per_minute),
            ),
            (
                "x-ratelimit-minutely-remaining",
                u64::from(
                    limits
                        .api_calls_per_minute
                        .saturating_sub(self.api_minute.used),
                ),
            ),
            ("x-ratelimit-minutely-reset", millis(window_end(now, 60))),
        ]);
        let verdict = if minute_ok && day_ok {
            Ok(())
        } else {
            Err(ApiError::ApiRateLimit)
        };
        (headers, verdict)
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn rate_headers<const N: usize>(pairs: [(&'static str, u64); N]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_starts_at_the_nth_error_and_lasts_an_hour() {
        let limits = Limits {
            errors_per_hour_before_block: 3,
            ..Limits::default()
        };
        let mut usage = AppUsage::default();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        usage.record_error(t0, &limits);
        // The first error leaves the window before the third arrives: no block.
        usage.record_error(t0 + Duration::from_secs(1800), &limits);
        usage.record_error(t0 + Duration::from_secs(3600), &limits);
        assert!(usage.check_block(t0 + Duration::from_secs(3601)).is_ok());
        let t1 = t0 + Duration::from_secs(3700);
        usage.record_error(t1, &limits);
        assert!(matches!(
            usage.check_block(t1),
            Err(ApiError::Blocked { .. })
        ));
        assert!(
            usage
                .check_block(t1 + HOUR - Duration::from_secs(1))
                .is_err()
        );
        assert!(usage.check_block(t1 + HOUR).is_ok());
    }

    #[test]
    fn budget_resets_at_midnight_utc() {
        let limits = Limits {
            token_calls_per_day: 2,
            ..Limits::default()
        };
        let mut usage = AppUsage::default();
        let noon = UNIX_EPOCH + Duration::from_secs(20_000 * DAY_SECS + 43_200);
        assert!(usage.spend_token_call(noon, &limits).is_ok());
        assert!(usage.spend_token_call(noon, &limits).is_ok());
        let refused = usage.spend_token_call(noon, &limits).unwrap_err();
        assert!(matches!(
            refused,
            ApiError::TokenBudgetSpent { limit: 2, .. }
        ));
        assert!(
            usage
                .spend_token_call(noon + Duration::from_secs(43_200), &limits)
                .is_ok()
        );
    }
}
