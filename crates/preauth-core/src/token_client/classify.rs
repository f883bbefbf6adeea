//! Reading refusals: RFC 6749 §5.2 errors, the platforms' own phrases, rate-limit headers.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::error::{Grant, TokenError};
use super::refusal::{Refusal, RefusalKind};
use super::response::excerpt;
use crate::printable::printable;

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    error: String,
    error_description: Option<String>,
}

/// Classifies a non-2xx answer.
pub(super) fn classify(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    grant: Grant,
    now: SystemTime,
) -> TokenError {
    let retry_at = retry_at(headers, now);
    if status == 429 {
        let (error, description) = read_error(body).unwrap_or_default();
        // Exact names the moment in the message ("resets at …", "unblocked at …").
        let retry_at = retry_at.or_else(|| description.as_deref().and_then(find_datetime));
        return refused(
            RefusalKind::RateLimited { retry_at },
            status,
            error,
            description,
        );
    }
    if status >= 500 && grant != Grant::Bearer {
        return TokenError::OutcomeUnknown {
            url: "the token endpoint".into(),
            // Only the status: the body of a failing server (an error page, a stack trace)
            // is no message for the people and programs this reaches.
            reason: format!("HTTP {status}"),
        };
    }
    let Some((error, description)) = read_error(body) else {
        return TokenError::Unparseable {
            status,
            reason: "not an OAuth error answer".into(),
            excerpt: excerpt(body),
        };
    };
    let e = error.to_ascii_lowercase();
    // Exact words some refusals with underscores ("Rate limit exceeded: access_token not
    // expired"), others with spaces.
    let d = description
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase()
        .replace('_', " ");
    let kind = if d.contains("old refresh token used") {
        RefusalKind::RefreshTokenSpent
    } else if d.contains("access token not expired") {
        RefusalKind::RefreshTooEarly
    } else if grant == Grant::Refresh && d.contains("refresh token") && d.contains("expired") {
        RefusalKind::RefreshTokenExpired {
            expired_at: description.as_deref().and_then(find_datetime),
        }
    } else if matches!(
        e.as_str(),
        "rate_limit_exceeded" | "too_many_requests" | "slow_down"
    ) || d.contains("rate limit")
        || d.contains("too many")
    {
        RefusalKind::RateLimited { retry_at }
    } else if e == "invalid_client" {
        RefusalKind::InvalidClient
    } else if e == "redirect_uri_mismatch" || (d.contains("redirect") && grant == Grant::Code) {
        RefusalKind::RedirectUriMismatch
    } else if status >= 500 {
        RefusalKind::Other
    } else if grant == Grant::Bearer && status == 401 {
        RefusalKind::AccessTokenRejected
    } else if e == "invalid_grant" && grant == Grant::Code {
        RefusalKind::CodeRejected
    } else if e == "invalid_grant" && grant == Grant::Refresh {
        RefusalKind::RefreshTokenRejected
    } else {
        RefusalKind::Other
    };
    refused(kind, status, error, description)
}

fn refused(
    kind: RefusalKind,
    status: u16,
    error: String,
    description: Option<String>,
) -> TokenError {
    TokenError::Refused(Refusal {
        kind,
        status,
        error: printable(&error),
        description: description.map(|d| printable(&d)),
    })
}

/// `error` and `error_description` from a JSON body; a short plain-text body counts as
/// a description without code.
fn read_error(body: &[u8]) -> Option<(String, Option<String>)> {
    if let Ok(raw) = serde_json::from_slice::<RawError>(body) {
        if raw.error.is_empty() && raw.error_description.is_none() {
            return None;
        }
        return Some((raw.error, raw.error_description));
    }
    None
}

/// When a retry is allowed: `Retry-After` (seconds), else the `X-RateLimit-*-Reset`
/// whose `Remaining` is 0 (Exact gives epoch milliseconds; seconds and deltas are read
/// too), else the latest reset given.
fn retry_at(headers: &HeaderMap, now: SystemTime) -> Option<SystemTime> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .map(str::to_string)
    };
    if let Some(secs) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(after(now, Duration::from_secs(secs)));
    }
    let mut best: Option<SystemTime> = None;
    let mut exhausted: Option<SystemTime> = None;
    for prefix in ["x-ratelimit-minutely", "x-ratelimit"] {
        let Some(reset) = header(&format!("{prefix}-reset")).and_then(|v| reset_time(&v, now))
        else {
            continue;
        };
        if header(&format!("{prefix}-remaining")).as_deref() == Some("0") {
            exhausted = exhausted.max(Some(reset));
        }
        best = best.max(Some(reset));
    }
    exhausted.or(best)
}

/// A reset header value: epoch milliseconds, epoch seconds or seconds from now.
fn reset_time(value: &str, now: SystemTime) -> Option<SystemTime> {
    let n: u64 = value.parse().ok()?;
    Some(if n >= 100_000_000_000 {
        SystemTime::UNIX_EPOCH + Duration::from_millis(n)
    } else if n >= 1_000_000_000 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(n)
    } else {
        after(now, Duration::from_secs(n))
    })
}

/// The first date-time in a message, read as UTC: ISO (`2026-11-02 10:00:00`,
/// `2026-11-02T10:00:00Z`, or a bare date) or the way Exact writes them
/// (`11/2/2026 10:00:00 AM`).
pub(crate) fn find_datetime(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    (0..bytes.len())
        .filter(|&i| {
            bytes.get(i).is_some_and(u8::is_ascii_digit)
                && (i == 0 || !bytes.get(i - 1).is_some_and(u8::is_ascii_digit))
        })
        .find_map(|i| {
            let rest = text.get(i..)?;
            iso_datetime(rest).or_else(|| us_datetime(rest))
        })
}

/// `YYYY-MM-DD[ T]HH:MM:SS` or `YYYY-MM-DD` at the start of `s`.
fn iso_datetime(s: &str) -> Option<SystemTime> {
    let date = s.get(..10)?;
    let b = date.as_bytes();
    let shape = b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        _ => c.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let time = s
        .get(11..19)
        .filter(|_| matches!(s.as_bytes().get(10), Some(b' ' | b'T')))
        .filter(|t| t.as_bytes().get(2) == Some(&b':'))
        .unwrap_or("00:00:00");
    humantime::parse_rfc3339_weak(&format!("{date} {time}"))
        .or_else(|_| humantime::parse_rfc3339_weak(&format!("{date} 00:00:00")))
        .ok()
}

/// `M/D/YYYY h:mm:ss AM|PM` at the start of `s` (Exact's error descriptions, UTC).
fn us_datetime(s: &str) -> Option<SystemTime> {
    let mut words = s.split_whitespace();
    let (date, time, meridiem) = (words.next()?, words.next()?, words.next()?);
    let meridiem = meridiem.trim_end_matches(['.', ',', ';', ')']);
    let mut d = date.split('/').map(|p| p.parse::<u32>().ok());
    let (month, day, year) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<u32>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    if d.next().is_some() || t.next().is_some() || !(1..=12).contains(&hour) {
        return None;
    }
    let hour = match meridiem {
        "AM" => hour % 12,
        "PM" => hour % 12 + 12,
        _ => return None,
    };
    humantime::parse_rfc3339_weak(&format!(
        "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"
    ))
    .ok()
}

/// The time now plus a duration, for callers that hold only a clock.
pub(crate) fn after(now: SystemTime, d: Duration) -> SystemTime {
    now.checked_add(d).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn kind(status: u16, body: &str, grant: Grant) -> Option<RefusalKind> {
        match classify(
            status,
            &HeaderMap::new(),
            body.as_bytes(),
            grant,
            SystemTime::UNIX_EPOCH,
        ) {
            TokenError::Refused(r) => Some(r.kind),
            _ => None,
        }
    }

    #[test]
    fn exact_phrases_are_classified() {
        let r = Grant::Refresh;
        assert_eq!(
            kind(
                401,
                r#"{"error":"unauthorized_client","error_description":"Old refresh token used."}"#,
                r
            ),
            Some(RefusalKind::RefreshTokenSpent)
        );
        assert_eq!(
            kind(
                401,
                r#"{"error":"invalid_request","error_description":"Access token not expired"}"#,
                r
            ),
            Some(RefusalKind::RefreshTooEarly)
        );
        assert_eq!(
            kind(
                400,
                r#"{"error":"access_denied","error_description":"Rate limit exceeded: access_token not expired"}"#,
                r
            ),
            Some(RefusalKind::RefreshTooEarly)
        );
        let expired = kind(
            400,
            r#"{"error":"invalid_request","error_description":"The refresh token expired at 2026-11-02 10:00:00."}"#,
            r,
        );
        assert_eq!(
            expired,
            Some(RefusalKind::RefreshTokenExpired {
                expired_at: humantime::parse_rfc3339("2026-11-02T10:00:00Z").ok()
            })
        );
        assert_eq!(
            kind(401, r#"{"error":"invalid_client"}"#, r),
            Some(RefusalKind::InvalidClient)
        );
        assert_eq!(
            kind(400, r#"{"error":"invalid_grant"}"#, Grant::Code),
            Some(RefusalKind::CodeRejected)
        );
        assert_eq!(
            kind(
                400,
                r#"{"error":"invalid_grant","error_description":"redirect_uri does not match"}"#,
                Grant::Code
            ),
            Some(RefusalKind::RedirectUriMismatch)
        );
        assert_eq!(
            kind(401, r#"{"error":"invalid_token"}"#, Grant::Bearer),
            Some(RefusalKind::AccessTokenRejected)
        );
    }

    #[test]
    fn server_errors_after_sending_a_grant_are_ambiguous() {
        let refresh = |status: u16, body: &[u8]| {
            classify(
                status,
                &HeaderMap::new(),
                body,
                Grant::Refresh,
                SystemTime::UNIX_EPOCH,
            )
        };
        assert!(refresh(502, b"Bad gateway").outcome_unknown());
        let e = refresh(400, b"nope");
        assert!(matches!(e, TokenError::Unparseable { status: 400, .. }));
    }

    #[test]
    fn rate_limit_headers_give_the_retry_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000_000_000);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("120"));
        assert_eq!(retry_at(&h, now), Some(now + Duration::from_secs(120)));
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("20000000000000"),
        );
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-minutely-reset", HeaderValue::from_static("30"));
        h.insert(
            "x-ratelimit-minutely-remaining",
            HeaderValue::from_static("5"),
        );
        assert_eq!(
            retry_at(&h, now),
            Some(SystemTime::UNIX_EPOCH + Duration::from_millis(20_000_000_000_000))
        );
        let err = classify(429, &h, b"", Grant::Refresh, now);
        assert!(matches!(
            err,
            TokenError::Refused(Refusal {
                kind: RefusalKind::RateLimited { retry_at: Some(_) },
                ..
            })
        ));
    }

    #[test]
    fn dates_are_found_in_messages() {
        let t = find_datetime("expired at 2026-11-02T10:11:12Z, sorry");
        assert_eq!(t, humantime::parse_rfc3339("2026-11-02T10:11:12Z").ok());
        assert_eq!(
            find_datetime("on 2026-11-02."),
            humantime::parse_rfc3339("2026-11-02T00:00:00Z").ok()
        );
        assert_eq!(find_datetime("no date 12026-1-1"), None);
        let exact = "The refresh token expired at 10/11/2022 9:18:20 PM and it is now 11/1/2022 12:00:00 AM.";
        assert_eq!(
            find_datetime(exact),
            humantime::parse_rfc3339("2022-10-11T21:18:20Z").ok()
        );
        assert_eq!(
            find_datetime("unblocked at 2/29/2024 12:05:09 PM."),
            humantime::parse_rfc3339("2024-02-29T12:05:09Z").ok()
        );
        assert_eq!(
            find_datetime("at 1/1/2024 12:00:00 AM"),
            humantime::parse_rfc3339("2024-01-01T00:00:00Z").ok()
        );
    }
}
