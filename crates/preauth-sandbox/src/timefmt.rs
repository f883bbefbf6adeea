//! Dates as Exact writes them in error descriptions: `10/11/2022 9:18:20 PM` (UTC).

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats `t` the way Exact's token endpoint does (US month/day/year, 12-hour clock, UTC).
pub(crate) fn exact_datetime(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let (year, month, day) = civil_from_days(days);
    let of_day = secs % 86_400;
    let (hour, minute, second) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    let (hour12, meridiem) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!("{month}/{day}/{year} {hour12}:{minute:02}:{second:02} {meridiem}")
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_exact() {
        // 2022-10-11T21:18:20Z
        let t = UNIX_EPOCH + Duration::from_secs(1_665_523_100);
        assert_eq!(exact_datetime(t), "10/11/2022 9:18:20 PM");
        assert_eq!(exact_datetime(UNIX_EPOCH), "1/1/1970 12:00:00 AM");
        // 2024-02-29T12:05:09Z (leap day, noon)
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_208_309);
        assert_eq!(exact_datetime(leap), "2/29/2024 12:05:09 PM");
    }
}
