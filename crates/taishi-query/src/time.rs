//! Times in queries and in the `from`/`to` of the query API: ISO 8601 or
//! Elastic-style date math relative to `now`.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Timelike};
use taishi_event::time::{parse_iso_in, parse_rfc3339, utc};

use crate::error::Error;

/// Parses a time:
/// - ISO 8601 with a zone (`2024-05-01T10:00:00Z`, `…+08:00`); without a
///   zone, or a bare date (`2024-05-01`), it is read as UTC;
/// - `now`, optionally followed by offsets and a rounding:
///   `now-24h`, `now-1d+2h`, `now/d` (start of today), `now-1d/d`. Units
///   are `s`, `m`, `h`, `d`, `w`; rounding is down, in `now`'s zone.
pub fn parse_time(s: &str, now: DateTime<FixedOffset>) -> Result<DateTime<FixedOffset>, Error> {
    let t = s.trim();
    let bad = || {
        Error::msg(format!(
            "invalid time '{s}': expected ISO 8601 (2024-05-01T10:00:00Z) or a relative time (now-24h)"
        ))
    };
    if t.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("now")) {
        return date_math(&t[3..], now).ok_or_else(bad);
    }
    if let Some(x) = parse_rfc3339(t) {
        return Ok(x);
    }
    if let Some(x) = parse_iso_in(t, utc()) {
        return Ok(x);
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(utc().from_utc_datetime(&n));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(n) = d.and_hms_opt(0, 0, 0) {
            return Ok(utc().from_utc_datetime(&n));
        }
    }
    Err(bad())
}

fn unit_secs(u: char) -> Option<i64> {
    Some(match u {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    })
}

fn date_math(mut rest: &str, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
    let mut t = now;
    loop {
        rest = rest.trim_start();
        let Some(op) = rest.chars().next() else {
            return Some(t);
        };
        match op {
            '+' | '-' => {
                let body = &rest[1..];
                let digits = body.find(|c: char| !c.is_ascii_digit())?;
                let n: i64 = body[..digits].parse().ok()?;
                let unit = body[digits..].chars().next()?;
                let d = Duration::try_seconds(n.checked_mul(unit_secs(unit)?)?)?;
                t = if op == '+' {
                    t.checked_add_signed(d)?
                } else {
                    t.checked_sub_signed(d)?
                };
                rest = &body[digits + 1..];
            }
            '/' => {
                let unit = rest[1..].chars().next()?;
                let secs = unit_secs(unit)?;
                t = round_down(t, secs)?;
                rest = &rest[2..];
            }
            _ => return None,
        }
    }
}

/// Rounds down to a whole unit in the time's own zone (so `now/d` is local
/// midnight). Weeks start on Monday.
fn round_down(t: DateTime<FixedOffset>, unit: i64) -> Option<DateTime<FixedOffset>> {
    let t = t.with_nanosecond(0)?;
    let local_secs = i64::from(t.num_seconds_from_midnight());
    let drop = match unit {
        1 => 0,
        60 | 3_600 | 86_400 => local_secs % unit,
        _ => {
            use chrono::Datelike;
            local_secs + i64::from(t.weekday().num_days_from_monday()) * 86_400
        }
    };
    t.checked_sub_signed(Duration::try_seconds(drop)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2024-05-08T13:45:30.5+08:00").unwrap()
    }

    #[test]
    fn relative_and_absolute() {
        let p = |s| parse_time(s, now()).unwrap().to_rfc3339();
        assert_eq!(p("now"), "2024-05-08T13:45:30.500+08:00");
        assert_eq!(p("now-24h"), "2024-05-07T13:45:30.500+08:00");
        assert_eq!(p("NOW-1d+2h"), "2024-05-07T15:45:30.500+08:00");
        assert_eq!(p("now-15m"), "2024-05-08T13:30:30.500+08:00");
        assert_eq!(p("now/d"), "2024-05-08T00:00:00+08:00");
        assert_eq!(p("now-1d/d"), "2024-05-07T00:00:00+08:00");
        assert_eq!(p("now/h"), "2024-05-08T13:00:00+08:00");
        assert_eq!(p("now/w"), "2024-05-06T00:00:00+08:00");
        assert_eq!(p("2024-05-01T10:00:00Z"), "2024-05-01T10:00:00+00:00");
        assert_eq!(p("2024-05-01T10:00:00+08:00"), "2024-05-01T10:00:00+08:00");
        assert_eq!(p("2024-05-01 10:00:00"), "2024-05-01T10:00:00+00:00");
        assert_eq!(p("2024-05-01T10:00"), "2024-05-01T10:00:00+00:00");
        assert_eq!(p("2024-05-01"), "2024-05-01T00:00:00+00:00");
        for bad in [
            "",
            "yesterday",
            "now-",
            "now-1x",
            "now-h",
            "2024-13-01",
            "now/q",
            "now-99999999999999d",
        ] {
            let e = parse_time(bad, now()).unwrap_err();
            assert!(e.message.contains("invalid time"), "{bad}: {e}");
        }
    }
}
