//! The per-key rate limit of the token route: a bucket per API key that holds a second's
//! worth of requests and refills at the rate given.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests per second allowed to each key; 0 allows any number.
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_second: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Requests left; at most `per_second`.
    left: f64,
    /// When `left` was computed.
    at: Instant,
}

impl RateLimit {
    /// `per_second` requests a second for each key (and as many at once).
    pub(crate) fn new(per_second: u32) -> RateLimit {
        RateLimit {
            per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request of `key` at `now`; when none is left, how long until one is.
    pub(crate) fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_second == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_second);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            left: rate,
            at: now,
        });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.left = (bucket.left + refilled).min(rate);
        bucket.at = now;
        if bucket.left >= 1.0 {
            bucket.left -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.left) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_a_second_then_the_rate_for_each_key() {
        let limit = RateLimit::new(2);
        let start = Instant::now();
        assert!(limit.take("jobs", start).is_ok());
        assert!(limit.take("jobs", start).is_ok());
        let wait = limit.take("jobs", start).unwrap_err();
        assert!(wait <= Duration::from_millis(500) && wait > Duration::ZERO);
        assert!(limit.take("other", start).is_ok(), "each key has its own");
        assert!(
            limit
                .take("jobs", start + Duration::from_millis(500))
                .is_ok()
        );
        assert!(RateLimit::new(0).take("jobs", start).is_ok());
    }
}
