//! One syslog message to one event: RFC 5424 and RFC 3164 (with the
//! variants real files hold: no PRI, ISO timestamps, a year or zone after
//! the time, no hostname).

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use taishi_event::time::{in_zone, parse_iso_in, parse_rfc3339};
use taishi_event::{ecs, DecodeContext, Event, Location, Reject, Str, Value};

use crate::{auth, firewall};

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

/// RFC 5424 §6.2.1 names, as ECS shows them.
const SEVERITIES: [&str; 8] = [
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
];

/// The short keywords syslog daemons use, for `log.level`.
const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// Facility name for a facility code (0–23).
pub fn facility_name(code: u8) -> Option<&'static str> {
    FACILITIES.get(usize::from(code)).copied()
}

/// Severity name for a severity code (0–7).
pub fn severity_name(code: u8) -> Option<&'static str> {
    SEVERITIES.get(usize::from(code)).copied()
}

/// Name of the field where the original charset of a transcoded line is
/// recorded (`GB18030`); absent when the line was UTF-8.
pub const CHARSET_FIELD: &str = "log.syslog.charset";
/// Number of characters that could not be decoded and were replaced by
/// U+FFFD; absent when there were none.
pub const REPLACED_FIELD: &str = "log.syslog.replaced_chars";

/// Text of a line: borrowed when it is UTF-8; else read as GB18030 (a
/// superset of GBK and GB2312, what Chinese appliances send), unless a
/// UTF-8 BOM declares UTF-8. Returns the charset when transcoded and the
/// number of replaced characters.
pub fn transcode(bytes: &[u8]) -> (Cow<'_, str>, Option<&'static str>, usize) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(s), None, 0);
    }
    if memchr::memmem::find(bytes, b"\xEF\xBB\xBF").is_some() {
        let s = String::from_utf8_lossy(bytes);
        let n = s.matches('\u{FFFD}').count();
        return (s, Some("UTF-8"), n);
    }
    let (s, _) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    let n = s.matches('\u{FFFD}').count();
    (s, Some("GB18030"), n)
}

/// Parses one syslog message (a datagram, a frame, or a file line without
/// its newline) into an event.
// `Reject` is the workspace's error type; rejects are the rare path.
#[allow(clippy::result_large_err)]
pub fn parse_line(line: &[u8], ctx: &DecodeContext, loc: Location) -> Result<Event, Reject> {
    let reject = |field: &str, reason: String| {
        let r = Reject::new(ctx, loc, reason).raw(line);
        if field.is_empty() {
            r
        } else {
            r.field(field)
        }
    };
    let (text, charset, replaced) = transcode(line);
    let text: &str = &text;
    let mut ev = Event::with_capacity(24);

    let rest = if let Some(after) = text.strip_prefix('<') {
        let Some(close) = after.find('>').filter(|&i| i <= 4) else {
            return Err(reject(
                "PRI",
                "PRI is not closed by `>` within 3 digits".into(),
            ));
        };
        let digits = &after[..close];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(reject("PRI", format!("PRI `<{digits}>` is not a number")));
        }
        let pri: u16 = digits.parse().unwrap_or(u16::MAX);
        if pri > 191 {
            return Err(reject(
                "PRI",
                format!("PRI {pri} is out of range (0–191: facility × 8 + severity)"),
            ));
        }
        push_pri(&mut ev, pri as u8);
        Some(&after[close + 1..])
    } else {
        None
    };

    match rest {
        Some(r) if is_5424_version(r) => {
            parse_5424(r, ctx, &mut ev).map_err(|(f, m)| reject(f, m))?
        }
        Some(r) => parse_3164(r, true, ctx, &mut ev).map_err(|(f, m)| reject(f, m))?,
        None => parse_3164(text, false, ctx, &mut ev).map_err(|(f, m)| reject(f, m))?,
    }

    ev.push(ecs::EVENT_KIND, "event");
    ev.push(ecs::EVENT_MODULE, "syslog");
    if let Some(cs) = charset {
        ev.push(CHARSET_FIELD, cs);
    }
    if replaced > 0 {
        ev.push(REPLACED_FIELD, replaced);
    }
    Ok(ev)
}

fn push_pri(ev: &mut Event, pri: u8) {
    let (fac, sev) = (pri / 8, pri % 8);
    ev.push("log.syslog.priority", pri);
    ev.push(ecs::LOG_SYSLOG_FACILITY_CODE, fac);
    if let Some(n) = facility_name(fac) {
        ev.push("log.syslog.facility.name", n);
    }
    ev.push(ecs::LOG_SYSLOG_SEVERITY_CODE, sev);
    if let Some(n) = severity_name(sev) {
        ev.push("log.syslog.severity.name", n);
    }
    if let Some(l) = LEVELS.get(usize::from(sev)) {
        ev.push(ecs::LOG_LEVEL, *l);
    }
}

/// `1 ` to `999 `: RFC 5424's VERSION after the PRI. A 3164 header has a
/// month or a four-digit year there.
fn is_5424_version(s: &str) -> bool {
    let b = s.as_bytes();
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    (1..=3).contains(&n) && b[0] != b'0' && b.get(n) == Some(&b' ')
}

type Fault = (&'static str, String);

/// Splits off the next space-delimited header field.
fn field<'a>(s: &mut &'a str, name: &'static str) -> Result<&'a str, Fault> {
    if s.is_empty() {
        return Err((name, format!("header ends before {name}")));
    }
    let (tok, rest) = s.split_once(' ').unwrap_or((s, ""));
    *s = rest;
    if tok.is_empty() {
        return Err((name, format!("{name} is empty (two spaces in the header)")));
    }
    Ok(tok)
}

fn nil(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

fn parse_5424(s: &str, _ctx: &DecodeContext, ev: &mut Event) -> Result<(), Fault> {
    let mut s = s;
    let version = field(&mut s, "VERSION")?;
    let ts = field(&mut s, "TIMESTAMP")?;
    if ts != "-" {
        ev.timestamp = Some(
            parse_rfc3339(ts)
                .ok_or(("TIMESTAMP", format!("`{ts}` is not an RFC 3339 timestamp")))?,
        );
    }
    let host = nil(field(&mut s, "HOSTNAME")?);
    let app = nil(field(&mut s, "APP-NAME")?);
    let procid = nil(field(&mut s, "PROCID")?);
    let msgid = nil(field(&mut s, "MSGID")?);

    ev.push("log.syslog.version", version.parse::<u16>().unwrap_or(0));
    push_host(ev, host);
    push_app(ev, app, procid);
    if let Some(m) = msgid {
        ev.push(ecs::LOG_SYSLOG_MSGID, m);
    }

    let msg = if let Some(rest) = s.strip_prefix('-') {
        rest
    } else if s.starts_with('[') {
        parse_sd(s, ev)?
    } else {
        // A sender that leaves out the STRUCTURED-DATA `-`: the rest is MSG.
        s.strip_prefix(' ').map_or(s, |r| r)
    };
    let msg = msg.strip_prefix(' ').unwrap_or(msg);
    let msg = msg.strip_prefix('\u{FEFF}').unwrap_or(msg);
    if !msg.is_empty() {
        ev.push(ecs::MESSAGE, msg);
        if let Some(app) = app {
            auth::enrich(app, msg, ev);
        }
        firewall::enrich(app, msg, ev);
    }
    Ok(())
}

/// Parses SD-ELEMENTs into `log.syslog.structured_data.<SD-ID>.<param>`;
/// returns what follows them.
fn parse_sd<'a>(s: &'a str, ev: &mut Event) -> Result<&'a str, Fault> {
    const F: &str = "STRUCTURED-DATA";
    let b = s.as_bytes();
    let mut i = 0;
    let mut value = String::new();
    while b.get(i) == Some(&b'[') {
        i += 1;
        let id_start = i;
        while i < b.len() && !matches!(b[i], b' ' | b']' | b'=' | b'"') {
            i += 1;
        }
        let id = &s[id_start..i];
        if id.is_empty() {
            return Err((F, format!("empty SD-ID at byte {id_start}")));
        }
        loop {
            match b.get(i) {
                Some(b']') => {
                    i += 1;
                    break;
                }
                Some(b' ') => i += 1,
                None => return Err((F, format!("SD-ELEMENT `{id}` is not closed by `]`"))),
                Some(_) => {}
            }
            if b.get(i) == Some(&b']') {
                continue;
            }
            let name_start = i;
            while i < b.len() && !matches!(b[i], b' ' | b']' | b'=' | b'"') {
                i += 1;
            }
            let name = &s[name_start..i];
            if name.is_empty() || b.get(i) != Some(&b'=') || b.get(i + 1) != Some(&b'"') {
                return Err((
                    F,
                    format!("SD-PARAM in `{id}` is not `name=\"value\"` at byte {name_start}"),
                ));
            }
            i += 2;
            value.clear();
            let mut seg = i;
            loop {
                match b.get(i) {
                    None => {
                        return Err((F, format!("value of `{id}.{name}` is not closed by `\"`")))
                    }
                    Some(b'"') => break,
                    Some(b'\\') if matches!(b.get(i + 1), Some(b'"' | b'\\' | b']')) => {
                        value.push_str(&s[seg..i]);
                        seg = i + 1;
                        i += 2;
                    }
                    Some(_) => i += 1,
                }
            }
            value.push_str(&s[seg..i]);
            i += 1;
            push_multi(
                ev,
                Str::from(format!("log.syslog.structured_data.{id}.{name}")),
                &value,
            );
        }
    }
    Ok(&s[i..])
}

/// SD-PARAM names may repeat (RFC 5424 §6.3.3): the values gather into an
/// array rather than the later one hiding the earlier.
fn push_multi(ev: &mut Event, name: Str, v: &str) {
    let slot = ev.fields_mut().iter_mut().find(|(k, _)| *k == name);
    match slot {
        Some((_, Value::Array(a))) => a.push(Value::from(v)),
        Some((_, old)) => {
            let prev = std::mem::take(old);
            *old = Value::Array(vec![prev, Value::from(v)]);
        }
        None => ev.push(name, v),
    }
}

fn push_host(ev: &mut Event, host: Option<&str>) {
    if let Some(h) = host {
        ev.push(ecs::HOST_NAME, h);
        ev.push("log.syslog.hostname", h);
    }
}

fn push_app(ev: &mut Event, app: Option<&str>, procid: Option<&str>) {
    if let Some(a) = app {
        ev.push(ecs::LOG_SYSLOG_APPNAME, a);
        ev.push(ecs::PROCESS_NAME, a);
    }
    if let Some(p) = procid {
        ev.push(ecs::LOG_SYSLOG_PROCID, p);
        if let Ok(pid) = p.parse::<u32>() {
            ev.push(ecs::PROCESS_PID, pid);
        }
    }
}

fn parse_3164(s: &str, had_pri: bool, ctx: &DecodeContext, ev: &mut Event) -> Result<(), Fault> {
    let (ts, assumed, mut rest) = match parse_3164_time(s, ctx)? {
        Some(x) => x,
        None if had_pri => {
            // RFC 3164 §4.3.2: without a valid TIMESTAMP everything after
            // the PRI is the message.
            let msg = s.trim_start();
            if !msg.is_empty() {
                ev.push(ecs::MESSAGE, msg);
            }
            return Ok(());
        }
        None => {
            return Err((
                "",
                "not a syslog line: no `<PRI>` and no timestamp at the start".into(),
            ))
        }
    };
    ev.timestamp = Some(ts);
    if assumed {
        push_assumed_zone(ev, *ts.offset());
    }
    rest = rest.trim_start_matches(' ');

    let first = next_token(rest);
    let mut host = None;
    if !first.is_empty() && parse_tag(first).is_none() {
        host = Some(first);
        rest = rest[first.len()..].trim_start_matches(' ');
    }
    push_host(ev, host);

    // `… host 10.1.2.3 sched[0]: …` (RFC 3164 §5.4 example 4): an address
    // between the host name and the tag.
    let tok = next_token(rest);
    if let Ok(ip) = tok.parse::<IpAddr>() {
        let after = rest[tok.len()..].trim_start_matches(' ');
        if parse_tag(next_token(after)).is_some() {
            ev.push(ecs::HOST_IP, ip);
            rest = after;
        }
    }

    let tok = next_token(rest);
    let mut app = None;
    if let Some((name, pid)) = parse_tag(tok) {
        app = Some(name);
        push_app(ev, Some(name).filter(|n| !n.is_empty()), pid);
        rest = &rest[tok.len()..];
        rest = rest.strip_prefix(' ').unwrap_or(rest);
    }
    if !rest.is_empty() {
        ev.push(ecs::MESSAGE, rest);
        if let Some(app) = app {
            auth::enrich(app, rest, ev);
        }
        firewall::enrich(app, rest, ev);
    }
    Ok(())
}

/// Says that the timestamp was read in a zone the line did not give, so a
/// reader can tell a configured guess from the sender's word.
fn push_assumed_zone(ev: &mut Event, tz: FixedOffset) {
    ev.push(ecs::EVENT_TIMEZONE, tz.to_string());
    ev.push(ecs::TIMEZONE_ASSUMED, true);
}

fn next_token(s: &str) -> &str {
    s.split(' ').next().unwrap_or("")
}

/// A 3164 TAG with its optional pid: `sshd[123]:`, `su:`, `[sshd]:`,
/// `sshd[123]` (no colon), `postfix/smtpd[9]:`. Returns the name and pid.
fn parse_tag(tok: &str) -> Option<(&str, Option<&str>)> {
    if tok.is_empty() || tok.len() > 128 {
        return None;
    }
    let t = tok.strip_suffix(':');
    let body = t.unwrap_or(tok);
    if let Some(inner) = body.strip_suffix(']') {
        let open = inner.find('[')?;
        let (name, pid) = (&inner[..open], &inner[open + 1..]);
        if name.is_empty() {
            // `[sshd]`: the bracket holds the program, not a pid.
            return (!pid.is_empty()).then_some((pid, None));
        }
        return Some((name, Some(pid).filter(|p| !p.is_empty())));
    }
    if t.is_some() && !body.is_empty() && !body.contains(['[', ']', '=']) {
        return Some((body, None));
    }
    None
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn month(s: &str) -> Option<u32> {
    let m = s.get(..3)?;
    MONTHS
        .iter()
        .position(|n| n.eq_ignore_ascii_case(m))
        .map(|i| i as u32 + 1)
}

/// Reads `n` digits (at least `min`) from the start of `s`.
fn digits(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// Hour, minute, second, nanosecond.
type Clock = (u32, u32, u32, u32);

/// `hh:mm:ss[.frac]`.
fn clock(s: &str) -> Option<(Clock, &str)> {
    let (h, s) = digits(s, 1, 2)?;
    let (m, s) = digits(s.strip_prefix(':')?, 2, 2)?;
    let (sec, mut s) = digits(s.strip_prefix(':')?, 2, 2)?;
    let mut nanos = 0;
    if let Some(f) = s.strip_prefix('.').or_else(|| s.strip_prefix(',')) {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n > 0 {
            let frac = &f[..n.min(9)];
            nanos = frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32);
            s = &f[n..];
        }
    }
    Some(((h, m, sec, nanos), s))
}

/// A zone written after a 3164 time: numeric offsets, `TZ-6`, and the
/// abbreviations that mean one thing only. `CST` (China, or US Central?)
/// and other ambiguous names are consumed but give no zone (`Some(None)`):
/// the configured one is assumed.
fn zone_token(tok: &str) -> Option<Option<FixedOffset>> {
    if let Some(o) = taishi_event::time::parse_offset(tok) {
        return Some(Some(o));
    }
    if let Some(h) = tok.strip_prefix("TZ") {
        let hours: i32 = h.parse().ok()?;
        return FixedOffset::east_opt(hours * 3600).map(Some);
    }
    let h = match tok {
        "UTC" | "GMT" | "UT" => 0,
        "EST" => -5,
        "EDT" => -4,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        "CET" => 1,
        "CEST" => 2,
        "EET" => 2,
        "EEST" => 3,
        "MSK" => 3,
        "JST" | "KST" => 9,
        "HKT" | "SGT" | "AWST" => 8,
        "CST" | "IST" | "BST" => return Some(None),
        _ => return None,
    };
    FixedOffset::east_opt(h * 3600).map(Some)
}

fn year_token(s: &str) -> Option<(i32, &str)> {
    let (y, rest) = digits(s, 4, 4)?;
    (rest.is_empty() || rest.starts_with(' ')).then_some((y as i32, rest))
}

/// A timestamp read from a line, whether its zone was assumed (the line
/// gave none, or an ambiguous one), and what follows it.
type Stamp<'a> = (DateTime<FixedOffset>, bool, &'a str);

/// The timestamps real 3164-style lines carry. `Ok(None)`: none there.
fn parse_3164_time<'a>(s: &'a str, ctx: &DecodeContext) -> Result<Option<Stamp<'a>>, Fault> {
    const F: &str = "TIMESTAMP";
    let b = s.as_bytes();
    // rsyslog's RFC3339 file format: `2015-04-16T18:02:50.321974+00:00`.
    if b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        let mut tok = next_token(s);
        // `2016-01-08 10:21:48`: a space for the `T` (Huawei's default
        // information-center header).
        if tok.len() == 10 && b.get(10) == Some(&b' ') {
            if let Some(after) = s.get(11..).filter(|r| clock(r).is_some()) {
                tok = &s[..11 + next_token(after).len()];
            }
        }
        let (t, assumed) = match parse_rfc3339(tok) {
            Some(t) => (t, false),
            None => (
                parse_iso_in(tok, ctx.default_tz)
                    .ok_or((F, format!("`{tok}` is not an ISO 8601 timestamp")))?,
                true,
            ),
        };
        return Ok(Some((t, assumed, &s[tok.len()..])));
    }
    // `1990 Oct 22 10:52:01`: the year first.
    let (year_first, s) = match year_token(s) {
        Some((y, rest)) if month(rest.trim_start()).is_some() => (Some(y), rest.trim_start()),
        _ => (None, s),
    };
    let Some(mon) = month(s) else {
        return Ok(None);
    };
    let Some(after_mon) = s.get(3..).and_then(|r| r.strip_prefix(' ')) else {
        return Ok(None);
    };
    let Some((day, rest)) = digits(after_mon.trim_start_matches(' '), 1, 2) else {
        return Ok(None);
    };
    let Some(mut rest) = rest.strip_prefix(' ') else {
        return Ok(None);
    };
    // Cisco and others: `Oct 11 2020 22:14:15`.
    let mut year = year_first;
    if year.is_none() {
        if let Some((y, r)) = year_token(rest) {
            if r.len() > 1 && clock(&r[1..]).is_some() {
                year = Some(y);
                rest = &r[1..];
            }
        }
    }
    let Some(((h, mi, sec, nanos), mut rest)) = clock(rest) else {
        return Ok(None);
    };
    let mut given = None;
    // `Aug 24 05:34:00 CST 1987`, `… 2020`, `… TZ-6`, `… +0800`.
    let tok = next_token(rest.trim_start_matches(' '));
    if rest.starts_with(' ') {
        if let Some(z) = zone_token(tok) {
            given = z;
            rest = &rest.trim_start_matches(' ')[tok.len()..];
        }
    }
    let tz = given.unwrap_or(ctx.default_tz);
    if year.is_none() && rest.starts_with(' ') {
        if let Some((y, r)) = year_token(&rest[1..]) {
            year = Some(y);
            rest = r;
        }
    }
    let explicit = year.or(ctx.default_year);
    let y = explicit.unwrap_or_else(|| Utc::now().year());
    let bad = || {
        (
            F,
            format!("no such date: {y}-{mon:02}-{day:02} {h:02}:{mi:02}:{sec:02}"),
        )
    };
    let naive = NaiveDate::from_ymd_opt(y, mon, day)
        .and_then(|d| d.and_hms_nano_opt(h, mi, sec, nanos))
        .ok_or_else(bad)?;
    let mut t = in_zone(naive, tz).ok_or_else(bad)?;
    if explicit.is_none() && t.with_timezone(&Utc) > Utc::now() + chrono::Duration::days(2) {
        // A December line read in January belongs to last year.
        if let Some(prev) = NaiveDate::from_ymd_opt(y - 1, mon, day)
            .and_then(|d| d.and_hms_nano_opt(h, mi, sec, nanos))
            .and_then(|n| in_zone(n, tz))
        {
            t = prev;
        }
    }
    Ok(Some((t, given.is_none(), rest)))
}

/// What [`crate::probe`] needs: does this line start with a 3164 timestamp
/// followed by a host and a tag?
pub(crate) fn looks_like_3164_line(line: &str) -> bool {
    let ctx = DecodeContext::new("probe", taishi_event::Format::Syslog);
    let Ok(Some((_, _, rest))) = parse_3164_time(line, &ctx) else {
        return false;
    };
    let mut toks = rest.split(' ').filter(|t| !t.is_empty());
    match (toks.next(), toks.next()) {
        (Some(a), _) if parse_tag(a).is_some() => true,
        (Some(_), Some(b)) => parse_tag(b).is_some(),
        _ => false,
    }
}

pub(crate) fn starts_with_3164_time(s: &str) -> bool {
    let ctx = DecodeContext::new("probe", taishi_event::Format::Syslog);
    matches!(parse_3164_time(s, &ctx), Ok(Some(_)))
}

pub(crate) fn is_version(s: &str) -> bool {
    is_5424_version(s)
}
