//! Times in queries and in the `from`/`to` of the query API: ISO 8601 or
//! Elastic-style date math relative to `now`. This is the one time parser of
//! Taishi: the query language, `taishi search` and every time parameter of
//! the HTTP API go through it, so they accept the same forms and refuse the
//! same ones.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Timelike};
use taishi_event::time::{parse_iso_in, parse_rfc3339, utc};

use crate::error::Error;

/// The earliest time a query may name: the event index keeps times as
/// nanoseconds in an `i64`, which reach back to 1677-09-21; a bound outside
/// that range would wrap inside the index instead of meaning "everything".
pub const MIN_TIME: &str = "1678-01-01T00:00:00Z";
/// The latest time a query may name (the same `i64` nanoseconds end in
/// 2262-04-11).
pub const MAX_TIME: &str = "2262-01-01T00:00:00Z";

/// Why a time was refused. `param` names where it came from (`from`, `to`,
/// `@timestamp`) so the message can point the caller at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("{param}: invalid time '{text}': expected ISO 8601 (2024-05-01T10:00:00Z) or a relative time (now-24h, now-7d, now/d)")]
    Syntax { param: String, text: String },
    #[error("{param}: time '{text}' is out of range: times must lie between {MIN_TIME} and {MAX_TIME} (use a smaller offset, e.g. now-365d)")]
    OutOfRange { param: String, text: String },
}

impl TimeError {
    /// The parameter the time came from.
    pub fn param(&self) -> &str {
        match self {
            TimeError::Syntax { param, .. } | TimeError::OutOfRange { param, .. } => param,
        }
    }
}

impl From<TimeError> for Error {
    fn from(e: TimeError) -> Error {
        Error::msg(e.to_string())
    }
}

/// Parses a time:
/// - ISO 8601 with a zone (`2024-05-01T10:00:00Z`, `…+08:00`); without a
///   zone, or a bare date (`2024-05-01`), it is read as UTC;
/// - `now`, optionally followed by offsets and a rounding:
///   `now-24h`, `now-1d+2h`, `now/d` (start of today), `now-1d/d`. Units
///   are `s`, `m`, `h`, `d`, `w`; rounding is down, in `now`'s zone.
///
/// Times outside [`MIN_TIME`]..[`MAX_TIME`] are refused.
pub fn parse_time(s: &str, now: DateTime<FixedOffset>) -> Result<DateTime<FixedOffset>, Error> {
    parse_time_param("time", s, now).map_err(|e| {
        // The message without the `time: ` prefix: callers add their own.
        let m = e.to_string();
        Error::msg(m.strip_prefix("time: ").unwrap_or(&m).to_string())
    })
}

/// [`parse_time`] for a named parameter (`from`, `to`): the error names it.
pub fn parse_time_param(
    param: &str,
    s: &str,
    now: DateTime<FixedOffset>,
) -> Result<DateTime<FixedOffset>, TimeError> {
    let t = s.trim();
    // The text is echoed in the message: cut so a huge parameter does not
    // make a huge error.
    let shown: String = s.chars().take(64).collect();
    let syntax = || TimeError::Syntax {
        param: param.into(),
        text: shown.clone(),
    };
    let range = || TimeError::OutOfRange {
        param: param.into(),
        text: shown.clone(),
    };
    let parsed = if t.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("now")) {
        match date_math(&t[3..], now) {
            Ok(x) => x,
            Err(Overflow(true)) => return Err(range()),
            Err(Overflow(false)) => return Err(syntax()),
        }
    } else {
        parse_absolute(t).ok_or_else(syntax)?
    };
    if !in_range(&parsed) {
        return Err(range());
    }
    Ok(parsed)
}

fn parse_absolute(t: &str) -> Option<DateTime<FixedOffset>> {
    if let Some(x) = parse_rfc3339(t) {
        return Some(x);
    }
    if let Some(x) = parse_iso_in(t, utc()) {
        return Some(x);
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Some(utc().from_utc_datetime(&n));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(n) = d.and_hms_opt(0, 0, 0) {
            return Some(utc().from_utc_datetime(&n));
        }
    }
    None
}

fn bound(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_default()
}

fn in_range(t: &DateTime<FixedOffset>) -> bool {
    *t >= bound(MIN_TIME) && *t <= bound(MAX_TIME)
}

/// Why date math failed: `true` when the text was well formed but the
/// amount overflowed (an out-of-range time rather than a typo).
struct Overflow(bool);

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

fn date_math(
    mut rest: &str,
    now: DateTime<FixedOffset>,
) -> Result<DateTime<FixedOffset>, Overflow> {
    let mut t = now;
    loop {
        rest = rest.trim_start();
        let Some(op) = rest.chars().next() else {
            return Ok(t);
        };
        match op {
            '+' | '-' => {
                let body = &rest[1..];
                let digits = body
                    .find(|c: char| !c.is_ascii_digit())
                    .ok_or(Overflow(false))?;
                if digits == 0 {
                    return Err(Overflow(false));
                }
                let unit = body[digits..].chars().next().ok_or(Overflow(false))?;
                let unit = unit_secs(unit).ok_or(Overflow(false))?;
                // A run of digits too long for an i64 is still a number:
                // out of range, not a syntax error.
                let n: i64 = body[..digits].parse().map_err(|_| Overflow(true))?;
                let d = n
                    .checked_mul(unit)
                    .and_then(Duration::try_seconds)
                    .ok_or(Overflow(true))?;
                t = if op == '+' {
                    t.checked_add_signed(d)
                } else {
                    t.checked_sub_signed(d)
                }
                .ok_or(Overflow(true))?;
                rest = &body[digits + 1..];
            }
            '/' => {
                let unit = rest[1..].chars().next().ok_or(Overflow(false))?;
                let secs = unit_secs(unit).ok_or(Overflow(false))?;
                t = round_down(t, secs).ok_or(Overflow(true))?;
                rest = &rest[1 + unit.len_utf8()..];
            }
            _ => return Err(Overflow(false)),
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
            assert!(
                e.message.contains("invalid time") || e.message.contains("out of range"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn errors_name_the_parameter_and_the_kind() {
        let e = |s| parse_time_param("from", s, now()).unwrap_err();
        for s in [
            "now€", "now-€", "now/€", "now-1€", "€", "now-1d/", "tomorrow",
        ] {
            assert!(matches!(e(s), TimeError::Syntax { .. }), "{s}");
            assert!(e(s).to_string().starts_with("from: invalid time"), "{s}");
        }
        for s in [
            "now-99999999999d",
            "now-99999999999999999999999d",
            "now+9223372036854775807s",
            "now-300000w",
            "1000-01-01",
            "9999-12-31T00:00:00Z",
            "+262142-01-01T00:00:00Z",
        ] {
            let err = e(s);
            assert!(matches!(err, TimeError::OutOfRange { .. }), "{s}: {err}");
            assert!(err.to_string().contains("out of range"), "{s}");
            assert_eq!(err.param(), "from");
        }
        // The echoed text is cut: a megabyte of parameter is not a megabyte of error.
        let long = format!("now-{}", "9".repeat(100_000));
        assert!(e(&long).to_string().len() < 400);
        assert!(parse_time_param("to", "now-365d/d", now()).is_ok());
        assert!(parse_time_param("to", MIN_TIME, now()).is_ok());
        assert!(parse_time_param("to", MAX_TIME, now()).is_ok());
    }

    proptest::proptest! {
        // Whatever follows `now`, the parser answers (no panic, no overflow)
        // and what it accepts lies in the supported range.
        #[test]
        fn date_math_never_panics(tail in "[-+/0-9smhdw€ ]{0,40}") {
            let s = format!("now{tail}");
            if let Ok(t) = parse_time_param("from", &s, now()) {
                proptest::prop_assert!(in_range(&t));
            }
        }

        #[test]
        fn any_text_never_panics(s in "\\PC{0,40}") {
            let _ = parse_time_param("to", &s, now());
        }

        #[test]
        fn huge_offsets_are_out_of_range(n in 1_000_000_000i64..i64::MAX, unit in "[smhdw]") {
            let s = format!("now-{n}{unit}");
            // Seconds may still be in range; longer units at this size are not.
            if unit != "s" {
                let r = parse_time_param("from", &s, now());
                proptest::prop_assert!(matches!(r, Err(TimeError::OutOfRange { .. })), "{}", s);
            }
        }
    }
}
