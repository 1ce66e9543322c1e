//! Forwarding to an outside collector: RFC 5424 syslog and ArcSight CEF
//! renderings of a record, each with its format's escaping. Transport
//! (UDP/TCP/TLS, retries) belongs to the runtime that calls these.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use chrono::SecondsFormat;

use crate::{Lang, Outcome, Record};

/// Syslog facility 13, "log audit" (RFC 5424 table 1).
const FACILITY_LOG_AUDIT: u8 = 13;
/// The SD-ID of Taishi's structured data. 32473 is the private enterprise
/// number IANA reserves for documentation (RFC 5612); replace it with
/// Taishi's own once registered.
pub const SD_ID: &str = "taishi@32473";

/// Syslog severity: failures and refusals are warnings (4), the rest notices (5).
fn syslog_severity(o: Outcome) -> u8 {
    match o {
        Outcome::Success => 5,
        Outcome::Failed | Outcome::Denied => 4,
    }
}

/// CEF severity (0–10).
fn cef_severity(o: Outcome) -> u8 {
    match o {
        Outcome::Success => 3,
        Outcome::Failed => 5,
        Outcome::Denied => 7,
    }
}

/// The client address without its port, when it is one.
fn source_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// An RFC 5424 header field: printable US-ASCII only, at most `max`, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let f: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if f.is_empty() {
        "-".into()
    } else {
        f
    }
}

/// Control characters as `#ooo` (rsyslog's convention), so one record is
/// always one line for line-framed collectors.
fn push_control_escaped(out: &mut String, c: char) -> bool {
    if c.is_control() && (c as u32) < 0x100 {
        let _ = write!(out, "#{:03o}", c as u32);
        true
    } else {
        false
    }
}

/// An SD-PARAM value: `"`, `\` and `]` get a backslash (RFC 5424 6.3.3).
fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
            out.push(c);
        } else if !push_control_escaped(&mut out, c) {
            out.push(c);
        }
    }
    out
}

fn msg_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !push_control_escaped(&mut out, c) {
            out.push(c);
        }
    }
    out
}

/// Renders `r` as one RFC 5424 message (without framing; see
/// [`octet_counted`]). `hostname` names this Taishi node; the free-text MSG
/// is in `lang`, the structured data carries every field.
pub fn to_syslog(r: &Record, hostname: &str, lang: Lang) -> String {
    let pri = FACILITY_LOG_AUDIT * 8 + syslog_severity(r.outcome);
    let mut s = format!(
        "<{pri}>1 {} {} taishi - {} [{SD_ID}",
        r.time.to_rfc3339_opts(SecondsFormat::Millis, false),
        header_field(hostname, 255),
        header_field(&r.action, 32),
    );
    let mut param = |name: &str, v: &str| {
        let _ = write!(s, " {name}=\"{}\"", sd_value(v));
    };
    param("seq", &r.seq.to_string());
    param("org", &r.org);
    param("actor", &r.actor.id);
    param("actorName", &r.actor.name);
    if !r.roles.is_empty() {
        param("roles", &r.roles.join(","));
    }
    if let Some(src) = &r.source {
        param("src", src);
    }
    param("action", &r.action);
    if let Some(t) = &r.target {
        param("target", t);
    }
    param("outcome", r.outcome.code());
    if let Some(x) = &r.reason {
        param("reason", x);
    }
    param("hash", &r.hash);
    param("prevHash", &r.prev_hash);
    s.push_str("] \u{feff}");
    s.push_str(&msg_text(&summary(r, lang)));
    s
}

/// RFC 6587 octet-counting framing for TCP/TLS: `LEN SP MSG`.
pub fn octet_counted(msg: &str) -> String {
    format!("{} {msg}", msg.len())
}

/// One line for people: `<label>: <actor> → <target>, <outcome>`.
pub fn summary(r: &Record, lang: Lang) -> String {
    let who = if r.actor.name.is_empty() {
        &r.actor.id
    } else {
        &r.actor.name
    };
    let mut s = format!("{}: {who}", r.action_label(lang));
    if let Some(t) = &r.target {
        s.push_str(" → ");
        s.push_str(t);
    }
    s.push_str(match lang {
        Lang::Zh => "，",
        Lang::En => ", ",
    });
    s.push_str(r.outcome.label(lang));
    if let Some(x) = &r.reason {
        let _ = match lang {
            Lang::Zh => write!(s, "（{x}）"),
            Lang::En => write!(s, " ({x})"),
        };
    }
    s
}

/// A CEF header field: `\` and `|` get a backslash; line breaks become spaces
/// (the header cannot hold them).
fn cef_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A CEF extension value: `\` and `=` get a backslash, line breaks become
/// `\n` / `\r`.
fn cef_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Renders `r` as one CEF line:
/// `CEF:0|Taishi|Taishi|<version>|<action>|<label>|<severity>|<extension>`.
pub fn to_cef(r: &Record, version: &str, lang: Lang) -> String {
    let mut s = format!(
        "CEF:0|Taishi|Taishi|{}|{}|{}|{}|",
        cef_header(version),
        cef_header(&r.action),
        cef_header(r.action_label(lang)),
        cef_severity(r.outcome),
    );
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", r.time.timestamp_millis().to_string()),
        ("suid", r.actor.id.clone()),
        ("suser", r.actor.name.clone()),
        ("act", r.action.clone()),
        ("outcome", r.outcome.code().into()),
    ];
    if let Some(src) = &r.source {
        match source_ip(src) {
            Some(ip) => ext.push(("src", ip.to_string())),
            None => ext.push(("shost", src.clone())),
        }
    }
    if let Some(x) = &r.reason {
        ext.push(("reason", x.clone()));
    }
    ext.extend([
        ("cs1Label", "organisation".into()),
        ("cs1", r.org.clone()),
        ("cs2Label", "roles".into()),
        ("cs2", r.roles.join(",")),
    ]);
    if let Some(t) = &r.target {
        ext.extend([("cs3Label", "target".into()), ("cs3", t.clone())]);
    }
    ext.extend([
        ("cs4Label", "hash".into()),
        ("cs4", r.hash.clone()),
        ("cn1Label", "seq".into()),
        ("cn1", r.seq.to_string()),
    ]);
    for (i, (k, v)) in ext.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{k}={}", cef_value(v));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, NewRecord};
    use chrono::DateTime;

    fn rec() -> Record {
        let mut n = NewRecord::new(
            Actor {
                id: "u7".into(),
                name: "a|b=c\\d\n]\"x".into(),
            },
            "org-1",
            "auth.login_failed",
            Outcome::Failed,
        );
        n.source = Some("10.1.2.3:55123".into());
        n.target = Some("user=admin|x\r\ny".into());
        n.reason = Some("wrong password".into());
        let t = DateTime::parse_from_rfc3339("2026-12-06T16:00:00.250+08:00").unwrap();
        Record::chain(n, 3, crate::GENESIS_HASH, t)
    }

    #[test]
    fn syslog_5424_escapes_sd_values_and_stays_one_line() {
        let s = to_syslog(&rec(), "node 1", Lang::En);
        assert!(s.starts_with("<108>1 2026-12-06T16:00:00.250+08:00 node_1 taishi - auth.login_failed [taishi@32473 seq=\"3\""), "{s}");
        assert!(s.contains(r#"actorName="a|b=c\\d#012\]\"x""#), "{s}");
        assert!(s.contains(r#"target="user=admin|x#015#012y""#), "{s}");
        assert!(s.contains("src=\"10.1.2.3:55123\""));
        assert!(!s.contains('\n') && !s.contains('\r'));
        assert!(s.ends_with("] \u{feff}Failed login: a|b=c\\d#012]\"x → user=admin|x#015#012y, failed (wrong password)"), "{s}");
        let zh = to_syslog(&rec(), "n", Lang::Zh);
        assert!(zh.contains("登录失败"), "{zh}");
        let framed = octet_counted(&s);
        assert!(framed.starts_with(&format!("{} <108>", s.len())));
    }

    #[test]
    fn cef_escapes_header_and_extension() {
        let mut r = rec();
        r.action = "x|y\\z".into();
        let s = to_cef(&r, "0.1|beta", Lang::En);
        // An unknown action's label is its code, escaped the same way.
        assert!(
            s.starts_with(r"CEF:0|Taishi|Taishi|0.1\|beta|x\|y\\z|x\|y\\z|5|"),
            "{s}"
        );
        assert!(s.contains(r"suser=a|b\=c\\d\n]"), "{s}");
        assert!(s.contains(r"cs3=user\=admin|x\r\ny"), "{s}");
        assert!(s.contains(" src=10.1.2.3 "), "{s}");
        assert!(s.contains("rt=1796544000250"), "{s}");
        assert!(!s.contains('\n'));
        let r = rec();
        let s = to_cef(&r, "0.1", Lang::Zh);
        assert!(
            s.starts_with("CEF:0|Taishi|Taishi|0.1|auth.login_failed|登录失败|5|"),
            "{s}"
        );
    }
}
