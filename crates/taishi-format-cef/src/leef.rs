//! IBM QRadar Log Event Extended Format, 1.0 and 2.0.

use taishi_event::{ecs, DecodeContext, Event, Location, Reject};

use crate::common::*;

const HEADER_1: [&str; 5] = ["Version", "Vendor", "Product", "Version", "EventID"];

/// LEEF 2.0's delimiter field: one character, or its code in hex (`x5E`,
/// `0x5E`, `^`). Empty means tab.
pub fn delimiter(field: &str) -> Option<char> {
    let f = field.trim_matches(|c| c == ' ');
    if f.is_empty() {
        return Some('\t');
    }
    let mut chars = f.chars();
    let first = chars.next()?;
    if chars.next().is_none() {
        return Some(first);
    }
    let hex = f
        .strip_prefix("0x")
        .or_else(|| f.strip_prefix("0X"))
        .or_else(|| f.strip_prefix('x'))
        .or_else(|| f.strip_prefix('X'))?;
    let code = u32::from_str_radix(hex, 16).ok()?;
    char::from_u32(code)
}

/// Parses one LEEF record (with or without a syslog header).
// `Reject` is the workspace's error type; rejects are the rare path.
#[allow(clippy::result_large_err)]
pub fn parse_line(line: &[u8], ctx: &DecodeContext, loc: Location) -> Result<Event, Reject> {
    let (text, charset, _) = taishi_format_syslog::transcode(line);
    let Some(at) = find_marker(&text, "LEEF:") else {
        return Err(reject(
            ctx,
            loc,
            line,
            "",
            "no `LEEF:<version>|` in the line".into(),
        ));
    };
    let mut ev = Event::with_capacity(40);
    syslog_header(&text[..at], ctx, loc, &mut ev);
    let body = &text[at + 5..];
    let (h, mut ext) =
        split_header(body, &HEADER_1).map_err(|(f, m)| reject(ctx, loc, line, f, m))?;
    let version = h[0].trim();
    let v2 = match version {
        "1.0" | "1" => false,
        "2.0" | "2" => true,
        _ => {
            return Err(reject(
                ctx,
                loc,
                line,
                "Version",
                format!("LEEF version `{version}` is neither 1.0 nor 2.0"),
            ))
        }
    };
    let mut delim = '\t';
    if v2 {
        // The delimiter field is optional in practice: present when a `|`
        // follows within a few characters and no `=` comes before it.
        if let Some(p) = ext.find('|').filter(|&p| p <= 6 && !ext[..p].contains('=')) {
            let f = &ext[..p];
            delim = delimiter(f).ok_or_else(|| {
                reject(
                    ctx,
                    loc,
                    line,
                    "DelimiterCharacter",
                    format!("LEEF 2.0 delimiter `{f}` is not a character or a hex code"),
                )
            })?;
            ext = &ext[p + 1..];
        }
    }
    ev.push("leef.version", version);
    push_str(&mut ev, "leef.vendor", &h[1]);
    push_str(&mut ev, "leef.product", &h[2]);
    push_str(&mut ev, "leef.product_version", &h[3]);
    push_str(&mut ev, "leef.event_id", &h[4]);
    if v2 {
        ev.push("leef.delimiter", delim.to_string());
    }
    push_str(&mut ev, ecs::OBSERVER_VENDOR, &h[1]);
    push_str(&mut ev, ecs::OBSERVER_PRODUCT, &h[2]);
    push_str(&mut ev, ecs::OBSERVER_VERSION, &h[3]);
    push_str(&mut ev, ecs::EVENT_CODE, &h[4]);

    let pairs: Vec<(&str, &str)> = if ext.contains(delim) || !ext.contains(' ') {
        ext.split(delim)
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.split_once('=').unwrap_or(("", p)))
            .collect()
    } else {
        // LEEF 1.0 from devices that separate with spaces, CEF-style.
        crate::cef::split_extension(ext)
    };
    let fmt = pairs
        .iter()
        .find(|(k, _)| *k == "devTimeFormat")
        .map(|(_, v)| *v);
    for (k, v) in pairs {
        let k = k.trim();
        if k.is_empty() {
            ev.push("leef.extension_unparsed", v);
            continue;
        }
        ev.push(k, v);
        map_key(k, v, fmt, ctx, &mut ev);
    }
    if !ev.contains(ecs::MESSAGE) {
        if let Some(id) = Some(h[4].as_ref()).filter(|s| !s.is_empty()) {
            ev.push(ecs::MESSAGE, id);
        }
    }
    ev.push(ecs::EVENT_KIND, "event");
    ev.push(ecs::EVENT_MODULE, "leef");
    if let Some(cs) = charset {
        ev.push(taishi_format_syslog::CHARSET_FIELD, cs);
    }
    Ok(ev)
}

fn map_key(k: &str, v: &str, fmt: Option<&str>, ctx: &DecodeContext, ev: &mut Event) {
    match k {
        "src" => push_ip(ev, ecs::SOURCE_IP, "source.address", v),
        "dst" => push_ip(ev, ecs::DESTINATION_IP, "destination.address", v),
        "srcPort" => push_num(ev, ecs::SOURCE_PORT, v),
        "dstPort" => push_num(ev, ecs::DESTINATION_PORT, v),
        "srcPreNAT" => push_ip(ev, "source.nat.ip", "source.nat.address", v),
        "dstPreNAT" => push_ip(ev, "destination.nat.ip", "destination.nat.address", v),
        "srcPostNAT" => push_ip(ev, "source.nat.ip", "source.nat.address", v),
        "dstPostNAT" => push_ip(ev, "destination.nat.ip", "destination.nat.address", v),
        "srcPreNATPort" | "srcPostNATPort" => push_num(ev, "source.nat.port", v),
        "dstPreNATPort" | "dstPostNATPort" => push_num(ev, "destination.nat.port", v),
        "srcMAC" => ev.push("source.mac", v),
        "dstMAC" => ev.push("destination.mac", v),
        "srcBytes" => push_num(ev, ecs::SOURCE_BYTES, v),
        "dstBytes" => push_num(ev, ecs::DESTINATION_BYTES, v),
        "totalBytes" => push_num(ev, ecs::NETWORK_BYTES, v),
        "srcPackets" => push_num(ev, ecs::SOURCE_PACKETS, v),
        "dstPackets" => push_num(ev, ecs::DESTINATION_PACKETS, v),
        "proto" => ev.push(ecs::NETWORK_TRANSPORT, transport(v)),
        "usrName" | "accountName" if !ev.contains(ecs::USER_NAME) => ev.push(ecs::USER_NAME, v),
        "domain" => ev.push(ecs::USER_DOMAIN, v),
        "identHostName" => ev.push(ecs::HOST_NAME, v),
        "identSrc" => push_ip(ev, ecs::HOST_IP, "host.address", v),
        "sev" => {
            if let Some(n) = severity(v) {
                ev.push(ecs::EVENT_SEVERITY, n);
            }
        }
        "url" => ev.push(ecs::URL_ORIGINAL, v),
        "action" | "act" => ev.push(ecs::EVENT_ACTION, v),
        "policy" => ev.push(ecs::RULE_NAME, v),
        "msg" | "message" => ev.push(ecs::MESSAGE, v),
        "devTime" => {
            let t = match fmt {
                Some(f) => parse_time_with(v, f, ctx).or_else(|| parse_time(v, ctx)),
                None => parse_time(v, ctx),
            };
            if let Some(t) = t {
                ev.timestamp = Some(t);
            } else {
                ev.push("leef.devtime_unparsed", true);
            }
        }
        _ => {}
    }
}
