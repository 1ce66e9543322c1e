//! What CEF and LEEF share: the optional syslog header, header splitting,
//! timestamps, and the ECS mapping of the keys both formats use.

use std::borrow::Cow;
use std::net::IpAddr;

/// The header field at fault and why.
pub type Fault = (&'static str, String);

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use taishi_event::time::{from_epoch_millis, in_zone, parse_offset, parse_rfc3339};
use taishi_event::{ecs, DecodeContext, Event, Location, Reject, Str, Value};

/// Finds `marker` (`CEF:` / `LEEF:`) at the start of the line or after a
/// space (the end of a syslog header). The version after it is checked by
/// the caller, so that a bad one is named rather than the marker missed.
pub fn find_marker(text: &str, marker: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(marker).map(|i| i + from) {
        let ok_before = i == 0 || text.as_bytes()[i - 1] == b' ';
        if ok_before {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// The syslog header before `CEF:`/`LEEF:`, decoded by the syslog decoder:
/// its time, host and program go into `ev`.
pub fn syslog_header(prefix: &str, ctx: &DecodeContext, loc: Location, ev: &mut Event) {
    let prefix = prefix.trim_end();
    if prefix.is_empty() {
        return;
    }
    let Ok(h) = taishi_format_syslog::parse_line(prefix.as_bytes(), ctx, loc) else {
        // Not a header we can read: keep it rather than lose it.
        ev.push("log.syslog.header", prefix);
        return;
    };
    ev.timestamp = h.timestamp;
    for (k, v) in h.fields() {
        if matches!(k, "event.kind" | "event.module") {
            continue;
        }
        // A 3164 header whose last word is taken as the message: that word
        // is the host (`<134>Feb 12 10:00:00 fw01 CEF:…` has no tag).
        if k == ecs::MESSAGE {
            if let Some(s) = v.as_str() {
                if !ev.contains(ecs::HOST_NAME) && !s.contains(' ') {
                    ev.push(ecs::HOST_NAME, s);
                    ev.push("log.syslog.hostname", s);
                }
            }
            continue;
        }
        ev.push(k, v.clone());
    }
}

/// Splits `n` header fields separated by unescaped `|`, unescaping `\|` and
/// `\\`; returns them and the rest after the last `|`. `names` name the
/// fields for the reject when a `|` is missing.
pub fn split_header<'a>(
    s: &'a str,
    names: &[&'static str],
) -> Result<(Vec<Cow<'a, str>>, &'a str), Fault> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(names.len());
    let mut start = 0;
    let mut i = 0;
    let mut escaped = false;
    while out.len() < names.len() {
        match b.get(i) {
            None => {
                let rest = &s[start..];
                let present = usize::from(!rest.is_empty());
                if out.len() + present == names.len() {
                    // The last field without its closing `|`: no extension.
                    out.push(if escaped {
                        Cow::Owned(rest.replace("\\|", "|").replace("\\\\", "\\"))
                    } else {
                        Cow::Borrowed(rest)
                    });
                    return Ok((out, ""));
                }
                let name = names[out.len() + present];
                return Err((
                    name,
                    format!(
                        "header ends after {} of {} `|`-separated fields: {name} is missing",
                        out.len() + present,
                        names.len()
                    ),
                ));
            }
            Some(b'\\') if matches!(b.get(i + 1), Some(b'|' | b'\\')) => {
                escaped = true;
                i += 2;
            }
            Some(b'|') => {
                let raw = &s[start..i];
                out.push(if escaped {
                    Cow::Owned(raw.replace("\\|", "|").replace("\\\\", "\\"))
                } else {
                    Cow::Borrowed(raw)
                });
                escaped = false;
                i += 1;
                start = i;
            }
            Some(_) => i += 1,
        }
    }
    Ok((out, &s[start..]))
}

/// CEF/LEEF severities: 0–10, or CEF's words.
pub fn severity(s: &str) -> Option<u8> {
    if let Ok(n) = s.trim().parse::<u8>() {
        return (n <= 10).then_some(n);
    }
    match s.trim().to_ascii_lowercase().as_str() {
        "low" => Some(3),
        "medium" => Some(6),
        "high" => Some(8),
        "very-high" | "very high" | "veryhigh" | "critical" => Some(10),
        _ => None,
    }
}

/// A Java `SimpleDateFormat` pattern (LEEF's `devTimeFormat`) as a chrono
/// format string.
pub fn java_to_chrono(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '%' {
                    out.push('%');
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let piece = match (c, n) {
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('S', _) => "%f",
            ('a', _) => "%p",
            ('Z', _) => "%z",
            ('X', 1 | 2) => "%z",
            ('X', _) => "%:z",
            ('E', _) => "%a",
            ('z', _) => "%Z",
            _ => {
                for _ in 0..n {
                    if c == '%' {
                        out.push('%');
                    }
                    out.push(c);
                }
                i += n;
                continue;
            }
        };
        out.push_str(piece);
        i += n;
    }
    out
}

/// CEF `rt`/`start`/`end` and LEEF `devTime` without a format: epoch
/// milliseconds, `MMM dd yyyy HH:mm:ss[.SSS][ zone]`, `MMM dd HH:mm:ss`, or
/// ISO 8601. Zone-less times are read in the configured zone.
pub fn parse_time(s: &str, ctx: &DecodeContext) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        // Ten digits are seconds (some devices), thirteen milliseconds.
        return if s.len() <= 11 {
            from_epoch_millis(n.checked_mul(1000)?)
        } else {
            from_epoch_millis(n)
        };
    }
    if let Some(t) = parse_rfc3339(s) {
        return Some(t);
    }
    if let Some(t) = taishi_event::time::parse_iso_in(s, ctx.default_tz) {
        return Some(t);
    }
    // `MMM dd yyyy HH:mm:ss[.SSS] [zone]`
    let (body, zone) = match s.rsplit_once(' ') {
        Some((b, z)) if parse_offset(z).is_some() || z.eq_ignore_ascii_case("gmt") => (
            b,
            Some(if z.eq_ignore_ascii_case("gmt") {
                "UTC"
            } else {
                z
            }),
        ),
        _ => (s, None),
    };
    let tz = zone.and_then(parse_offset).unwrap_or(ctx.default_tz);
    for fmt in ["%b %d %Y %H:%M:%S%.f", "%b %d %Y %H:%M:%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(body, fmt) {
            return in_zone(n, tz);
        }
    }
    // `MMM dd HH:mm:ss`: no year.
    let year = ctx
        .default_year
        .unwrap_or_else(|| chrono::Datelike::year(&chrono::Utc::now()));
    let with_year = format!("{year} {body}");
    for fmt in ["%Y %b %d %H:%M:%S%.f", "%Y %b %d %H:%M:%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(&with_year, fmt) {
            return in_zone(n, tz);
        }
    }
    None
}

/// A time in a Java pattern (LEEF `devTimeFormat`).
pub fn parse_time_with(s: &str, java: &str, ctx: &DecodeContext) -> Option<DateTime<FixedOffset>> {
    let fmt = java_to_chrono(java);
    if let Ok(t) = DateTime::parse_from_str(s, &fmt) {
        return Some(t);
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(s, &fmt) {
        return in_zone(n, ctx.default_tz);
    }
    // A pattern without a year (`MMM dd HH:mm:ss`).
    let year = ctx
        .default_year
        .unwrap_or_else(|| chrono::Datelike::year(&chrono::Utc::now()));
    let n = NaiveDateTime::parse_from_str(&format!("{year} {s}"), &format!("%Y {fmt}")).ok()?;
    in_zone(n, ctx.default_tz)
}

pub fn push_ip(ev: &mut Event, ip_field: &str, addr_field: &str, v: &str) {
    match v.trim().parse::<IpAddr>() {
        Ok(ip) => ev.push(Str::from(ip_field), ip),
        Err(_) => ev.push(Str::from(addr_field), v),
    }
}

pub fn push_num(ev: &mut Event, field: &str, v: &str) {
    match v.trim().parse::<i64>() {
        Ok(n) => ev.push(Str::from(field), n),
        Err(_) => ev.push(Str::from(field), v),
    }
}

/// IANA protocol numbers and names to ECS `network.transport`.
pub fn transport(v: &str) -> Str {
    let name = match v.trim() {
        "6" => "tcp",
        "17" => "udp",
        "1" => "icmp",
        "58" => "ipv6-icmp",
        "47" => "gre",
        "50" => "esp",
        "51" => "ah",
        "132" => "sctp",
        other => return Str::from(other.to_ascii_lowercase()),
    };
    Str::from(name)
}

/// File hash by its length.
pub fn push_hash(ev: &mut Event, v: &str) {
    let field = match v.len() {
        32 => ecs::FILE_HASH_MD5,
        40 => ecs::FILE_HASH_SHA1,
        64 => ecs::FILE_HASH_SHA256,
        128 => "file.hash.sha512",
        _ => return,
    };
    if v.bytes().all(|b| b.is_ascii_hexdigit()) {
        ev.push(field, v);
    }
}

pub fn reject(
    ctx: &DecodeContext,
    loc: Location,
    line: &[u8],
    field: &str,
    reason: String,
) -> Reject {
    let r = Reject::new(ctx, loc, reason).raw(line);
    if field.is_empty() {
        r
    } else {
        r.field(field)
    }
}

/// Values that mark absence in device output.
pub fn is_absent(v: &str) -> bool {
    v.is_empty()
}

pub fn push_str(ev: &mut Event, field: &str, v: &str) {
    if !is_absent(v) {
        ev.push(Str::from(field), Value::from(v));
    }
}
