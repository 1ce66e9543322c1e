//! Timestamp helpers shared by the decoders. Every timestamp keeps the zone
//! its source gave; a source without one gets the configured zone.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

pub fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero offset is valid")
}

/// RFC 3339 / ISO 8601 with a zone (`2003-10-11T22:14:15.003Z`,
/// `…+08:00`), also accepting a space for the `T` and a `+0800` offset.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f %z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t);
        }
    }
    None
}

/// An ISO 8601 timestamp that may lack a zone: a zone-less one is read in
/// `tz`.
pub fn parse_iso_in(s: &str, tz: FixedOffset) -> Option<DateTime<FixedOffset>> {
    if let Some(t) = parse_rfc3339(s) {
        return Some(t);
    }
    let s = s.trim().trim_end_matches('Z');
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return in_zone(n, tz);
        }
    }
    None
}

/// A wall-clock time read in a fixed zone.
pub fn in_zone(naive: NaiveDateTime, tz: FixedOffset) -> Option<DateTime<FixedOffset>> {
    tz.from_local_datetime(&naive).single()
}

/// Seconds since the Unix epoch (fractions allowed), in UTC. An f64 holds
/// about 16 significant digits, so for present-day epochs anything below a
/// microsecond is noise: the fraction is rounded to microseconds.
pub fn from_epoch_secs(secs: f64) -> Option<DateTime<FixedOffset>> {
    if !secs.is_finite() {
        return None;
    }
    let whole = secs.floor();
    let micros = ((secs - whole) * 1e6).round() as i64;
    DateTime::<Utc>::from_timestamp(whole as i64, 0)
        .and_then(|t| t.checked_add_signed(chrono::TimeDelta::microseconds(micros)))
        .map(|t| t.fixed_offset())
}

/// Milliseconds since the Unix epoch, in UTC.
pub fn from_epoch_millis(ms: i64) -> Option<DateTime<FixedOffset>> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.fixed_offset())
}

/// Parses a zone offset given as `+08:00`, `+0800`, `UTC` or `Z`.
pub fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Some(utc());
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Zones known by their IANA name that have kept one offset for years and
/// observe no daylight saving, so a fixed offset stands for them exactly.
/// A zone with daylight saving cannot be one offset; those are refused with
/// a hint to give the offset or `local`.
const FIXED_ZONES: &[(&str, i32)] = &[
    ("Asia/Shanghai", 8 * 60),
    ("Asia/Chongqing", 8 * 60),
    ("Asia/Harbin", 8 * 60),
    ("PRC", 8 * 60),
    ("Asia/Hong_Kong", 8 * 60),
    ("Asia/Macau", 8 * 60),
    ("Asia/Taipei", 8 * 60),
    ("Asia/Singapore", 8 * 60),
    ("Asia/Kuala_Lumpur", 8 * 60),
    ("Asia/Manila", 8 * 60),
    ("Asia/Tokyo", 9 * 60),
    ("Asia/Seoul", 9 * 60),
    ("Asia/Bangkok", 7 * 60),
    ("Asia/Ho_Chi_Minh", 7 * 60),
    ("Asia/Jakarta", 7 * 60),
    ("Asia/Kolkata", 5 * 60 + 30),
    ("Asia/Calcutta", 5 * 60 + 30),
    ("Asia/Karachi", 5 * 60),
    ("Asia/Dubai", 4 * 60),
    ("Europe/Moscow", 3 * 60),
    ("Etc/UTC", 0),
    ("Etc/GMT", 0),
    ("GMT", 0),
];

/// Why a configured time zone was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error(
        "time zone `{0}` is not understood: give an offset (`+08:00`), `UTC`, `local` (the host's zone) \
         or one of the zones without daylight saving ({names}) \
         / 无法识别时区 `{0}`：请填写偏移量（如 `+08:00`）、`UTC`、`local`（本机时区）或无夏令时的时区名（如 Asia/Shanghai）",
        names = zone_names()
    )]
    Unknown(String),
}

fn zone_names() -> String {
    FIXED_ZONES
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The host's zone as `chrono::Local` sees it now. A host with daylight
/// saving changes offset twice a year; callers read it at start, so a
/// restart picks up the change.
pub fn local_offset() -> FixedOffset {
    *chrono::Local::now().offset()
}

/// A zone as configuration gives it: `+08:00`/`+0800`, `UTC`/`Z`, `local`
/// (the host's zone, read now), or a zone name from a short list of zones
/// without daylight saving (`Asia/Shanghai`).
pub fn parse_zone(s: &str) -> Result<FixedOffset, ZoneError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("local") {
        return Ok(local_offset());
    }
    if let Some(o) = parse_offset(t) {
        return Ok(o);
    }
    FIXED_ZONES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(t))
        .and_then(|(_, m)| FixedOffset::east_opt(m * 60))
        .ok_or_else(|| ZoneError::Unknown(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_kept() {
        let t = parse_rfc3339("2003-08-24T05:14:15.000003-07:00").unwrap();
        assert_eq!(t.offset().local_minus_utc(), -7 * 3600);
        let t = parse_iso_in("2017-12-26 13:10:29.134", parse_offset("+08:00").unwrap()).unwrap();
        assert_eq!(t.to_rfc3339(), "2017-12-26T13:10:29.134+08:00");
        assert_eq!(
            from_epoch_secs(1_258_531_221.486_539).unwrap().to_rfc3339(),
            "2009-11-18T08:00:21.486539+00:00"
        );
    }

    #[test]
    fn configured_zones() {
        let east8 = FixedOffset::east_opt(8 * 3600).unwrap();
        for s in ["+08:00", "+0800", " Asia/Shanghai ", "asia/shanghai", "PRC"] {
            assert_eq!(parse_zone(s), Ok(east8), "{s}");
        }
        assert_eq!(parse_zone("UTC"), Ok(utc()));
        assert_eq!(parse_zone("Asia/Kolkata").unwrap().local_minus_utc(), 19800);
        assert_eq!(parse_zone("local"), Ok(local_offset()));
        for bad in ["Europe/Berlin", "+8", "", "CST", "+25:00"] {
            let e = parse_zone(bad).unwrap_err();
            assert!(e.to_string().contains("local"), "{bad}: {e}");
        }
    }
}
