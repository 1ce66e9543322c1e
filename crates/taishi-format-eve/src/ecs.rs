//! ECS fields for an EVE record, added after Suricata's own.
//!
//! Application-layer objects (`http`, `tls`, `dns`, `fileinfo`, `flow`) are
//! mapped wherever they appear, not only in their own event type: an alert
//! carries the `http` or `tls` metadata of the transaction that fired it, and
//! analysts expect `url.domain` or `tls.client.server_name` on the alert.

use std::net::IpAddr;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use taishi_event::ecs::*;
use taishi_event::{time, Event, Str, Value};

pub fn map(ev: &mut Event) {
    let event_type = str_of(ev, "event_type").unwrap_or_default();
    let et = event_type.as_str();

    let kind = match et {
        "alert" => "alert",
        "stats" => "metric",
        _ => "event",
    };
    ev.push(EVENT_KIND, kind);
    if let Some((cats, types)) = categorise(et, ev) {
        ev.push(EVENT_CATEGORY, strs(cats));
        ev.push(EVENT_TYPE, strs(types));
    }
    ev.push(EVENT_MODULE, "suricata");
    ev.push(EVENT_DATASET, "suricata.eve");
    ev.push(OBSERVER_VENDOR, "OISF");
    ev.push(OBSERVER_PRODUCT, "Suricata");
    ev.push(OBSERVER_TYPE, "ids");
    if let Some(h) = str_of(ev, "host") {
        ev.push_some(HOST_NAME, h);
    }
    if let Some(i) = str_of(ev, "in_iface") {
        ev.push_some("observer.ingress.interface.name", i);
    }

    endpoints(ev);
    protocol(ev, et);
    counters(ev);
    if et == "alert" {
        alert(ev);
    }
    if et == "anomaly" {
        if let Some(a) = str_of(ev, "anomaly.event") {
            ev.push_some(EVENT_ACTION, a);
        }
    }
    dns(ev);
    http(ev);
    tls(ev);
    fileinfo(ev);
}

/// `event.category` and `event.type` by event type. Event types not named
/// here are application-layer protocols (Suricata adds them with every
/// parser), hence network/protocol.
fn categorise(et: &str, ev: &Event) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match et {
        "alert" => {
            let blocked = matches!(
                ev.get_str("alert.action"),
                Some("blocked" | "drop" | "rejected")
            );
            (
                &["network", "intrusion_detection"][..],
                if blocked {
                    &["denied"][..]
                } else {
                    &["allowed"][..]
                },
            )
        }
        "drop" => (&["network"][..], &["denied"][..]),
        "flow" | "netflow" => (&["network"][..], &["connection", "end"][..]),
        "fileinfo" => (&["network", "file"][..], &["info"][..]),
        "anomaly" | "frame" | "pkthdr" | "arp" => (&["network"][..], &["info"][..]),
        "stats" => return None,
        _ => (&["network"][..], &["protocol"][..]),
    })
}

/// Event types that are themselves an application protocol's record.
fn is_app_layer(et: &str) -> bool {
    !matches!(
        et,
        "" | "alert"
            | "drop"
            | "flow"
            | "netflow"
            | "fileinfo"
            | "anomaly"
            | "stats"
            | "frame"
            | "pkthdr"
            | "arp"
    )
}

fn endpoints(ev: &mut Event) {
    if let Some(ip) = ip_of(ev, "src_ip") {
        ev.push(SOURCE_IP, ip);
    }
    if let Some(p) = port_of(ev, "src_port") {
        ev.push(SOURCE_PORT, p);
    }
    if let Some(ip) = ip_of(ev, "dest_ip") {
        ev.push(DESTINATION_IP, ip);
    }
    if let Some(p) = port_of(ev, "dest_port") {
        ev.push(DESTINATION_PORT, p);
    }
    if let Some(t) = ev.get("proto").and_then(transport) {
        ev.push(NETWORK_TRANSPORT, t);
    }
    if let Some(c) = str_of(ev, "community_id") {
        ev.push_some(NETWORK_COMMUNITY_ID, c);
    }
}

fn protocol(ev: &mut Event, et: &str) {
    let app = str_of(ev, "app_proto")
        .filter(|p| !matches!(p.as_str(), "" | "failed" | "unknown"))
        .or_else(|| is_app_layer(et).then(|| Str::from(et)));
    if let Some(mut p) = app {
        p.make_ascii_lowercase();
        ev.push(NETWORK_PROTOCOL, p);
    }
}

/// Byte and packet counts from the `flow` (bidirectional) or `netflow`
/// (one direction) object, with the flow's start, end and duration.
fn counters(ev: &mut Event) {
    let (src_b, dst_b, src_p, dst_p, start, end) =
        if ev.contains("flow.bytes_toserver") || ev.contains("flow.pkts_toserver") {
            (
                u64_of(ev, "flow.bytes_toserver"),
                u64_of(ev, "flow.bytes_toclient"),
                u64_of(ev, "flow.pkts_toserver"),
                u64_of(ev, "flow.pkts_toclient"),
                str_of(ev, "flow.start"),
                str_of(ev, "flow.end"),
            )
        } else if ev.contains("netflow.bytes") || ev.contains("netflow.pkts") {
            (
                u64_of(ev, "netflow.bytes"),
                None,
                u64_of(ev, "netflow.pkts"),
                None,
                str_of(ev, "netflow.start"),
                str_of(ev, "netflow.end"),
            )
        } else {
            return;
        };
    if let Some(b) = src_b {
        ev.push(SOURCE_BYTES, b);
    }
    if let Some(p) = src_p {
        ev.push(SOURCE_PACKETS, p);
    }
    if let Some(b) = dst_b {
        ev.push(DESTINATION_BYTES, b);
    }
    if let Some(p) = dst_p {
        ev.push(DESTINATION_PACKETS, p);
    }
    if src_b.is_some() || dst_b.is_some() {
        ev.push(
            NETWORK_BYTES,
            src_b.unwrap_or(0).saturating_add(dst_b.unwrap_or(0)),
        );
    }
    if src_p.is_some() || dst_p.is_some() {
        ev.push(
            NETWORK_PACKETS,
            src_p.unwrap_or(0).saturating_add(dst_p.unwrap_or(0)),
        );
    }
    let start = start.and_then(|s| time::parse_rfc3339(&s));
    let end = end.and_then(|s| time::parse_rfc3339(&s));
    if let Some(s) = start {
        ev.push("event.start", rfc3339(&s));
    }
    if let Some(e) = end {
        ev.push("event.end", rfc3339(&e));
    }
    if let (Some(s), Some(e)) = (start, end) {
        if let Some(ns) = (e - s).num_nanoseconds() {
            ev.push(EVENT_DURATION, ns);
        }
    }
}

fn alert(ev: &mut Event) {
    if let Some(id) = ev.get("alert.signature_id").and_then(Value::to_text) {
        let id = Str::from(id.as_ref());
        ev.push(RULE_ID, id);
    }
    if let Some(s) = str_of(ev, "alert.signature") {
        ev.push_some(RULE_NAME, s);
    }
    if let Some(c) = str_of(ev, "alert.category") {
        ev.push_some(RULE_CATEGORY, c);
    }
    if let Some(r) = ev.get("alert.rev").and_then(Value::to_text) {
        let r = Str::from(r.as_ref());
        ev.push("rule.version", r);
    }
    if let Some(s) = ev.get("alert.severity").and_then(Value::as_i64) {
        ev.push(EVENT_SEVERITY, s);
    }
    if let Some(a) = str_of(ev, "alert.action") {
        ev.push_some(EVENT_ACTION, a);
    }
}

/// DNS in its three EVE shapes: v1 (one record per query and per answer:
/// `dns.rrname`, `dns.rdata`), v2 (answers grouped in `dns.answers` and/or
/// `dns.grouped`) and v3 (Suricata 8: `dns.queries`, `dns.answers`,
/// `dns.type` request/response). Alerts carry the query as `dns.query` (v2)
/// or `dns.queries` (v3).
fn dns(ev: &mut Event) {
    let first_query = |ev: &Event, key: &str| {
        ["dns.queries", "dns.query"]
            .iter()
            .find_map(|arr| match ev.get(arr) {
                Some(Value::Array(a)) => a
                    .first()
                    .and_then(|q| q.get_path(key))
                    .and_then(Value::as_str)
                    .map(Str::from),
                _ => None,
            })
    };
    let name = str_of(ev, "dns.rrname").or_else(|| first_query(ev, "rrname"));
    let qtype = str_of(ev, "dns.rrtype").or_else(|| first_query(ev, "rrtype"));
    let any_dns = name.is_some()
        || ev.contains("dns.type")
        || ev.contains("dns.answers")
        || ev.contains("dns.grouped");
    if !any_dns {
        return;
    }
    if let Some(n) = name {
        ev.push_some(DNS_QUESTION_NAME, n);
    }
    if let Some(t) = qtype {
        ev.push_some(DNS_QUESTION_TYPE, t);
    }
    if let Some(rc) = str_of(ev, "dns.rcode") {
        ev.push_some(DNS_RESPONSE_CODE, rc);
    }
    // ECS dns.type is query or answer; Suricata 8 says request/response.
    match ev.get_str("dns.type") {
        Some("request") => put_ecs(ev, "dns.type", "query".into()),
        Some("response") => put_ecs(ev, "dns.type", "answer".into()),
        _ => {}
    }

    let mut answers: Vec<Value> = Vec::new();
    match ev.get("dns.answers") {
        Some(Value::Array(list)) => {
            for a in list {
                answers.push(ecs_answer(
                    a.get_path("rrname"),
                    a.get_path("rrtype"),
                    a.get_path("ttl"),
                    a.get_path("rdata"),
                ));
            }
        }
        _ => {
            if ev.get_str("dns.type") == Some("answer") && ev.contains("dns.rdata") {
                answers.push(ecs_answer(
                    ev.get("dns.rrname"),
                    ev.get("dns.rrtype"),
                    ev.get("dns.ttl"),
                    ev.get("dns.rdata"),
                ));
            } else {
                // Only the grouped form was logged: `dns.grouped.A` etc.
                for (k, v) in ev.fields() {
                    let Some(rtype) = k.strip_prefix("dns.grouped.") else {
                        continue;
                    };
                    if let Value::Array(items) = v {
                        for d in items {
                            answers.push(ecs_answer(
                                None,
                                Some(&Value::from(rtype)),
                                None,
                                Some(d),
                            ));
                        }
                    }
                }
            }
        }
    }
    if !answers.is_empty() {
        let resolved: Vec<Value> = answers
            .iter()
            .filter(|a| {
                matches!(
                    a.get_path("type").and_then(Value::as_str),
                    Some("A" | "AAAA")
                )
            })
            .filter_map(|a| a.get_path("data").and_then(Value::as_str))
            .filter_map(canonical_ip)
            .map(Value::Str)
            .collect();
        put_ecs(ev, "dns.answers", Value::Array(answers));
        if !resolved.is_empty() {
            ev.push("dns.resolved_ip", Value::Array(resolved));
        }
    }

    let flags: Vec<Value> = [
        ("dns.qr", "QR"),
        ("dns.aa", "AA"),
        ("dns.tc", "TC"),
        ("dns.rd", "RD"),
        ("dns.ra", "RA"),
        ("dns.z", "Z"),
        ("dns.ad", "AD"),
        ("dns.cd", "CD"),
    ]
    .iter()
    .filter(|(k, _)| ev.get(k) == Some(&Value::Bool(true)))
    .map(|(_, f)| Value::from(*f))
    .collect();
    if !flags.is_empty() {
        ev.push("dns.header_flags", Value::Array(flags));
    }
}

fn ecs_answer(
    name: Option<&Value>,
    rtype: Option<&Value>,
    ttl: Option<&Value>,
    data: Option<&Value>,
) -> Value {
    let mut o = Vec::with_capacity(4);
    for (k, v) in [
        ("name", name),
        ("type", rtype),
        ("ttl", ttl),
        ("data", data),
    ] {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            o.push((Str::from(k), v.clone()));
        }
    }
    Value::Object(o)
}

fn http(ev: &mut Event) {
    if !(ev.contains("http.url") || ev.contains("http.hostname") || ev.contains("http.http_method"))
    {
        return;
    }
    if let Some(u) = str_of(ev, "http.url") {
        let (path, query) = match u.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (u.as_str(), None),
        };
        // An absolute URI (proxy requests) has a scheme and authority
        // before the path.
        let path = match path.find("://") {
            Some(i) => path
                .get(i + 3..)
                .and_then(|rest| rest.find('/').map(|j| &rest[j..]))
                .unwrap_or("/"),
            None => path,
        };
        ev.push_some(URL_PATH, path);
        if let Some(q) = query {
            ev.push_some(URL_QUERY, q);
        }
        ev.push_some(URL_ORIGINAL, u);
    }
    if let Some(h) = str_of(ev, "http.hostname") {
        ev.push_some(URL_DOMAIN, h);
    }
    if let Some(p) = port_of(ev, "http.http_port") {
        ev.push("url.port", p);
    }
    if let Some(m) = str_of(ev, "http.http_method") {
        ev.push_some(HTTP_REQUEST_METHOD, m);
    }
    if let Some(s) = ev.get("http.status").and_then(Value::as_i64) {
        ev.push(HTTP_RESPONSE_STATUS_CODE, s);
    }
    if let Some(ua) = str_of(ev, "http.http_user_agent") {
        ev.push_some(USER_AGENT_ORIGINAL, ua);
    }
    if let Some(r) = str_of(ev, "http.http_refer") {
        ev.push_some(HTTP_REQUEST_REFERRER, r);
    }
    if let Some(p) = str_of(ev, "http.protocol") {
        if let Some(v) = p.strip_prefix("HTTP/") {
            ev.push_some(HTTP_VERSION, v);
        }
    }
    if let Some(l) = u64_of(ev, "http.length") {
        ev.push(HTTP_RESPONSE_BODY_BYTES, l);
    }
    if let Some(c) = str_of(ev, "http.http_content_type") {
        ev.push_some("http.response.mime_type", c);
    }
}

fn tls(ev: &mut Event) {
    if let Some(v) = str_of(ev, "tls.version") {
        if let Some((proto, ver)) = tls_version(&v) {
            put_ecs(ev, TLS_VERSION, Value::from(ver));
            ev.push("tls.version_protocol", proto);
        }
    }
    let pairs = [
        ("tls.sni", TLS_SERVER_NAME),
        ("tls.ja3.hash", TLS_JA3),
        ("tls.ja3s.hash", TLS_JA3S),
        ("tls.subject", TLS_SERVER_SUBJECT),
        ("tls.issuerdn", TLS_SERVER_ISSUER),
    ];
    for (from, to) in pairs {
        if let Some(v) = str_of(ev, from) {
            ev.push_some(to, v);
        }
    }
    if let Some(s) = str_of(ev, "tls.serial") {
        ev.push_some("tls.server.x509.serial_number", hex_plain(&s));
    }
    if let Some(f) = str_of(ev, "tls.fingerprint") {
        let h = hex_plain(&f);
        let name = if h.len() == 64 {
            "tls.server.hash.sha256"
        } else {
            "tls.server.hash.sha1"
        };
        ev.push_some(name, h);
    }
    // Suricata writes certificate validity in UTC without a zone.
    for (from, to) in [
        ("tls.notbefore", "tls.server.not_before"),
        ("tls.notafter", "tls.server.not_after"),
    ] {
        if let Some(t) = str_of(ev, from).and_then(|s| time::parse_iso_in(&s, time::utc())) {
            ev.push(to, rfc3339(&t));
        }
    }
    if let Some(Value::Bool(b)) = ev.get("tls.session_resumed") {
        let b = *b;
        ev.push("tls.resumed", b);
    }
}

fn fileinfo(ev: &mut Event) {
    if let Some(f) = str_of(ev, "fileinfo.filename") {
        let base = f.rsplit(['/', '\\']).next().unwrap_or(&f);
        ev.push_some(FILE_NAME, base);
        if base.len() != f.len() {
            ev.push_some(FILE_PATH, f.clone());
        }
    }
    if let Some(s) = u64_of(ev, "fileinfo.size") {
        ev.push(FILE_SIZE, s);
    }
    for (from, to) in [
        ("fileinfo.md5", FILE_HASH_MD5),
        ("fileinfo.sha1", FILE_HASH_SHA1),
        ("fileinfo.sha256", FILE_HASH_SHA256),
        ("fileinfo.mimetype", FILE_MIME_TYPE),
    ] {
        if let Some(v) = str_of(ev, from) {
            ev.push_some(to, v);
        }
    }
}

/// Sets an ECS field whose name Suricata may also use in another form: a
/// differing Suricata value moves to `suricata.eve.<name>`.
fn put_ecs(ev: &mut Event, name: &str, value: Value) {
    match ev.get(name) {
        Some(old) if *old == value => {}
        Some(_) => {
            if let Some(old) = ev.remove(name) {
                ev.push(format!("suricata.eve.{name}").as_str(), old);
            }
            ev.push(name, value);
        }
        None => ev.push(name, value),
    }
}

/// "TLS 1.2", "TLSv1", "SSLv3", "DTLS 1.2", "TLSv12" → ("tls", "1.2") etc.
pub(crate) fn tls_version(v: &str) -> Option<(&'static str, String)> {
    let lower = v.trim().to_ascii_lowercase();
    let (proto, rest) = ["dtls", "tls", "ssl"]
        .iter()
        .find_map(|p| lower.strip_prefix(p).map(|r| (*p, r)))?;
    let rest = rest.trim_start_matches(['v', ' ']);
    let ver = match rest {
        r if r.len() == 1 && r.as_bytes()[0].is_ascii_digit() => format!("{r}.0"),
        r if r.len() == 2 && r.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}.{}", &r[..1], &r[1..])
        }
        r if r.split('.').count() == 2
            && r.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            r.to_owned()
        }
        _ => return None,
    };
    Some((proto, ver))
}

fn hex_plain(s: &str) -> String {
    s.chars()
        .filter(|c| *c != ':' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn transport(v: &Value) -> Option<Str> {
    let n = match v {
        Value::Str(s) if !s.bytes().all(|b| b.is_ascii_digit()) => {
            let mut s = s.clone();
            s.make_ascii_lowercase();
            return Some(s);
        }
        other => other.as_u64()?,
    };
    Some(Str::from(match n {
        1 => "icmp",
        2 => "igmp",
        6 => "tcp",
        17 => "udp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        132 => "sctp",
        _ => return Some(compact_str::format_compact!("{n}")),
    }))
}

/// The address in its canonical text (Suricata writes IPv6 fully
/// expanded); None when it is not an address.
fn canonical_ip(s: &str) -> Option<Str> {
    s.parse::<IpAddr>()
        .ok()
        .map(|ip| compact_str::format_compact!("{ip}"))
}

fn ip_of(ev: &Event, name: &str) -> Option<Str> {
    ev.get_str(name).and_then(canonical_ip)
}

fn port_of(ev: &Event, name: &str) -> Option<u16> {
    ev.get(name)
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
}

fn u64_of(ev: &Event, name: &str) -> Option<u64> {
    ev.get(name).and_then(Value::as_u64)
}

fn str_of(ev: &Event, name: &str) -> Option<Str> {
    ev.get_str(name).map(Str::from)
}

fn strs(list: &[&str]) -> Value {
    Value::Array(list.iter().map(|s| Value::from(*s)).collect())
}

fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_versions_in_ecs_form() {
        let v = |s| tls_version(s).map(|(p, v)| format!("{p} {v}"));
        assert_eq!(v("TLS 1.2").as_deref(), Some("tls 1.2"));
        assert_eq!(v("TLSv1").as_deref(), Some("tls 1.0"));
        assert_eq!(v("TLSv12").as_deref(), Some("tls 1.2"));
        assert_eq!(v("SSLv3").as_deref(), Some("ssl 3.0"));
        assert_eq!(v("DTLS 1.2").as_deref(), Some("dtls 1.2"));
        assert_eq!(v("UNDETERMINED"), None);
        assert_eq!(v("TLS"), None);
    }
}
