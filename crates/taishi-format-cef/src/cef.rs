//! ArcSight Common Event Format.

use std::borrow::Cow;

use taishi_event::{ecs, DecodeContext, Event, Location, Reject, Str};

use crate::common::*;

const HEADER: [&str; 7] = [
    "Version",
    "Device Vendor",
    "Device Product",
    "Device Version",
    "Signature ID",
    "Name",
    "Severity",
];

/// Unescapes a CEF extension value: `\=`, `\\`, `\n`, `\r` (and `\|`, which
/// some devices escape there too). Other backslashes stay.
pub fn unescape_value(v: &str) -> Cow<'_, str> {
    if !v.contains('\\') {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.clone().next() {
            Some('=') | Some('\\') | Some('|') => {
                out.push(it.next().unwrap_or('\\'));
            }
            Some('n') => {
                it.next();
                out.push('\n');
            }
            Some('r') => {
                it.next();
                out.push('\r');
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
}

/// Splits a CEF extension into `(key, raw value)` pairs. A value runs until
/// the next ` key=` (an unescaped `=` preceded by a key and a space), so
/// values may hold spaces; an unescaped `=` that does not follow such a key
/// stays in the value.
pub fn split_extension(ext: &str) -> Vec<(&str, &str)> {
    let b = ext.as_bytes();
    let mut out = Vec::new();
    // The pair being read: key start, key end, value start.
    let mut pending: Option<(usize, usize, usize)> = None;
    let mut tok_start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b' ' => tok_start = i + 1,
            b'=' if tok_start < i && b[tok_start..i].iter().all(|&c| is_key_byte(c)) => {
                let value_end = tok_start.saturating_sub(1);
                match pending {
                    Some((ks, ke, vs)) => out.push((
                        &ext[ks..ke],
                        ext[vs..value_end.max(vs)].trim_end_matches(' '),
                    )),
                    None if !ext[..tok_start].trim().is_empty() => {
                        // Text before the first key: kept, not dropped.
                        out.push(("", ext[..tok_start].trim()));
                    }
                    None => {}
                }
                pending = Some((tok_start, i, i + 1));
            }
            _ => {}
        }
        i += 1;
    }
    match pending {
        Some((ks, ke, vs)) => out.push((
            &ext[ks..ke],
            ext.get(vs..).unwrap_or("").trim_end_matches([' ', '\r']),
        )),
        None if !ext.trim().is_empty() => out.push(("", ext.trim())),
        None => {}
    }
    out
}

/// Parses one CEF record (with or without a syslog header).
// `Reject` is the workspace's error type; rejects are the rare path.
#[allow(clippy::result_large_err)]
pub fn parse_line(line: &[u8], ctx: &DecodeContext, loc: Location) -> Result<Event, Reject> {
    let (text, charset, _) = taishi_format_syslog::transcode(line);
    let Some(at) = find_marker(&text, "CEF:") else {
        return Err(reject(
            ctx,
            loc,
            line,
            "",
            "no `CEF:<version>|` in the line".into(),
        ));
    };
    let mut ev = Event::with_capacity(48);
    syslog_header(&text[..at], ctx, loc, &mut ev);
    let body = &text[at + 4..];
    let (h, ext) = split_header(body, &HEADER).map_err(|(f, m)| reject(ctx, loc, line, f, m))?;
    let version = h[0].trim();
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(reject(
            ctx,
            loc,
            line,
            "Version",
            format!("CEF version `{version}` is not a number"),
        ));
    }
    let sev = h[6].trim();
    ev.push("cef.version", version);
    push_str(&mut ev, "cef.device.vendor", &h[1]);
    push_str(&mut ev, "cef.device.product", &h[2]);
    push_str(&mut ev, "cef.device.version", &h[3]);
    push_str(&mut ev, "cef.device.event_class_id", &h[4]);
    push_str(&mut ev, "cef.name", &h[5]);
    push_str(&mut ev, "cef.severity", sev);
    push_str(&mut ev, ecs::OBSERVER_VENDOR, &h[1]);
    push_str(&mut ev, ecs::OBSERVER_PRODUCT, &h[2]);
    push_str(&mut ev, ecs::OBSERVER_VERSION, &h[3]);
    push_str(&mut ev, ecs::EVENT_CODE, &h[4]);
    push_str(&mut ev, ecs::RULE_ID, &h[4]);
    push_str(&mut ev, ecs::RULE_NAME, &h[5]);
    if let Some(n) = severity(sev) {
        ev.push(ecs::EVENT_SEVERITY, n);
    }

    let pairs = split_extension(ext);
    let mut has_msg = false;
    for &(k, raw) in &pairs {
        let v = unescape_value(raw);
        if k.is_empty() {
            ev.push("cef.extension_unparsed", v.as_ref());
            continue;
        }
        // The source key as it is (`src`, `cs1`, `cs1Label`, …).
        ev.push(k, v.as_ref());
        if map_key(k, &v, ctx, &mut ev) {
            has_msg = true;
        }
    }
    // `csN`/`cnN`/`c6aN`/`deviceCustomDateN`… under their label too.
    for &(k, raw) in &pairs {
        let Some(base) = k.strip_suffix("Label") else {
            continue;
        };
        let Some(val) = pairs.iter().find(|(bk, _)| *bk == base).map(|(_, v)| *v) else {
            continue;
        };
        let label = unescape_value(raw);
        let label = label.trim();
        if !label.is_empty() && !ev.contains(label) {
            ev.push(label, unescape_value(val).as_ref());
        }
    }
    if !has_msg && !h[5].is_empty() {
        ev.push(ecs::MESSAGE, h[5].as_ref());
    }
    ev.push(ecs::EVENT_KIND, "event");
    ev.push(ecs::EVENT_MODULE, "cef");
    if let Some(cs) = charset {
        ev.push(taishi_format_syslog::CHARSET_FIELD, cs);
    }
    Ok(ev)
}

/// ECS for one extension key; true when it was `msg`.
fn map_key(k: &str, v: &str, ctx: &DecodeContext, ev: &mut Event) -> bool {
    match k {
        "src" | "sourceAddress" => push_ip(ev, ecs::SOURCE_IP, "source.address", v),
        "dst" | "destinationAddress" => push_ip(ev, ecs::DESTINATION_IP, "destination.address", v),
        "c6a2" | "sourceIPv6Address" if !ev.contains(ecs::SOURCE_IP) => {
            push_ip(ev, ecs::SOURCE_IP, "source.address", v)
        }
        "c6a3" | "destinationIPv6Address" if !ev.contains(ecs::DESTINATION_IP) => {
            push_ip(ev, ecs::DESTINATION_IP, "destination.address", v)
        }
        "spt" | "sourcePort" => push_num(ev, ecs::SOURCE_PORT, v),
        "dpt" | "destinationPort" => push_num(ev, ecs::DESTINATION_PORT, v),
        "proto" | "transportProtocol" => ev.push(ecs::NETWORK_TRANSPORT, transport(v)),
        "app" | "applicationProtocol" => ev.push(ecs::NETWORK_PROTOCOL, v.to_ascii_lowercase()),
        "in" | "bytesIn" => push_num(ev, ecs::SOURCE_BYTES, v),
        "out" | "bytesOut" => push_num(ev, ecs::DESTINATION_BYTES, v),
        "shost" | "sourceHostName" => ev.push("source.domain", v),
        "dhost" | "destinationHostName" => ev.push("destination.domain", v),
        "smac" | "sourceMacAddress" => ev.push("source.mac", v),
        "dmac" | "destinationMacAddress" => ev.push("destination.mac", v),
        "suser" | "sourceUserName" => ev.push("source.user.name", v),
        "duser" | "destinationUserName" => {
            ev.push("destination.user.name", v);
            if !ev.contains(ecs::USER_NAME) {
                ev.push(ecs::USER_NAME, v);
            }
        }
        "suid" | "sourceUserId" => ev.push("source.user.id", v),
        "duid" | "destinationUserId" => ev.push("destination.user.id", v),
        "sntdaddr" | "sourceTranslatedAddress" => {
            push_ip(ev, "source.nat.ip", "source.nat.address", v)
        }
        "dntdaddr" | "destinationTranslatedAddress" => {
            push_ip(ev, "destination.nat.ip", "destination.nat.address", v)
        }
        "sntdport" | "sourceTranslatedPort" => push_num(ev, "source.nat.port", v),
        "dntdport" | "destinationTranslatedPort" => push_num(ev, "destination.nat.port", v),
        "act" | "deviceAction" => ev.push(ecs::EVENT_ACTION, v),
        "outcome" | "eventOutcome" => {
            let o = v.to_ascii_lowercase();
            if matches!(o.as_str(), "success" | "failure" | "unknown") {
                ev.push(ecs::EVENT_OUTCOME, o);
            }
        }
        "reason" => ev.push("event.reason", v),
        "request" | "requestURL" => ev.push(ecs::URL_ORIGINAL, v),
        "requestMethod" => ev.push(ecs::HTTP_REQUEST_METHOD, v),
        "requestClientApplication" => ev.push(ecs::USER_AGENT_ORIGINAL, v),
        "fname" | "fileName" => ev.push(ecs::FILE_NAME, v),
        "filePath" => ev.push(ecs::FILE_PATH, v),
        "fsize" | "fileSize" => push_num(ev, ecs::FILE_SIZE, v),
        "fileHash" => push_hash(ev, v),
        "dvc" | "deviceAddress" => push_ip(ev, ecs::OBSERVER_IP, "observer.address", v),
        "dvchost" | "deviceHostName" => ev.push("observer.hostname", v),
        "deviceExternalId" => ev.push("observer.serial_number", v),
        "deviceInboundInterface" => ev.push("observer.ingress.interface.name", v),
        "deviceOutboundInterface" => ev.push("observer.egress.interface.name", v),
        "deviceDirection" => match v.trim() {
            "0" => ev.push(ecs::NETWORK_DIRECTION, "inbound"),
            "1" => ev.push(ecs::NETWORK_DIRECTION, "outbound"),
            _ => {}
        },
        "externalId" => ev.push("event.id", v),
        "sproc" | "sourceProcessName" => ev.push("source.process.name", v),
        "dproc" | "destinationProcessName" => ev.push(ecs::PROCESS_NAME, v),
        "spid" | "sourceProcessId" => push_num(ev, "source.process.pid", v),
        "dpid" | "destinationProcessId" => push_num(ev, ecs::PROCESS_PID, v),
        "cnt" | "baseEventCount" => push_num(ev, "event.count", v),
        "msg" | "message" => {
            ev.push(ecs::MESSAGE, v);
            return true;
        }
        "rt" | "deviceReceiptTime" => {
            if let Some(t) = parse_time(v, ctx) {
                ev.timestamp = Some(t);
            }
        }
        "start" | "startTime" => {
            if let Some(t) = parse_time(v, ctx) {
                ev.push("event.start", Str::from(t.to_rfc3339()));
            }
        }
        "end" | "endTime" => {
            if let Some(t) = parse_time(v, ctx) {
                ev.push("event.end", Str::from(t.to_rfc3339()));
            }
        }
        _ => {}
    }
    false
}

/// A CEF header value escaped for writing (`|` and `\`).
pub fn escape_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

/// A CEF extension value escaped for writing.
pub fn escape_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}
