//! ECS events onto the detectors' records.
//!
//! Which records an event yields is decided by its fields, not by a list
//! of products, so a new decoder that fills the ECS names is covered:
//! - a **flow** needs `source.ip`, `destination.ip` and a flow dataset
//!   (Zeek conn, Suricata EVE flow/netflow, NetFlow/IPFIX, or
//!   `event.type` `connection`/`end` in category `network`);
//! - a **DNS question** needs `dns.question.name` (Zeek dns, Suricata dns,
//!   resolver logs);
//! - an **HTTP request** needs `url.domain` and `http.request.method`
//!   (Zeek http, Suricata http, proxy access logs); a TLS `server_name`
//!   (Zeek ssl, Suricata tls) becomes a request with method `TLS`, so
//!   beacons to a name are seen through HTTPS too;
//! - an **authentication** needs `event.outcome` success/failure and
//!   category `authentication` (Zeek ssh, sshd lines, web and VPN logins),
//!   or a Windows `EventID` 4624/4625/4771;
//! - **names** for the look-alike watch: the DNS question, the HTTP host,
//!   the TLS server name, and the sender domain of mail.
//!
//! Events without a time are skipped: every detector reasons over time.

use std::net::IpAddr;

use taishi_event::{Event, Value};

use crate::record::{
    AuthOutcome, AuthRecord, AuthService, ConnState, DnsRecord, FlowRecord, HttpRecord, Transport,
};

/// Longest name taken from an event (DNS names are at most 253 bytes;
/// anything longer is not a name a detector can use).
const MAX_NAME: usize = 512;

/// What one event is to the detectors.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Flow(FlowRecord),
    Dns(DnsRecord),
    Http(HttpRecord),
    Auth(AuthRecord),
    /// A name seen elsewhere (TLS server name, mail sender domain), for the
    /// look-alike watch only.
    Name {
        ts_ms: i64,
        name: String,
    },
}

fn text<'a>(ev: &'a Event, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .filter_map(|n| ev.get_str(n))
        .find(|s| !s.is_empty() && *s != "-")
}

fn ip(ev: &Event, names: &[&str]) -> Option<IpAddr> {
    names
        .iter()
        .filter_map(|n| ev.get(n))
        .find_map(|v| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn num(ev: &Event, names: &[&str]) -> Option<u64> {
    names
        .iter()
        .filter_map(|n| ev.get(n))
        .find_map(Value::as_u64)
}

/// Whether a string field (or any string in an array field) equals `want`.
fn has(ev: &Event, name: &str, want: &str) -> bool {
    match ev.get(name) {
        Some(Value::Str(s)) => s.eq_ignore_ascii_case(want),
        Some(Value::Array(a)) => a
            .iter()
            .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(want))),
        _ => false,
    }
}

fn name_of(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s.len() <= MAX_NAME && s != "-").then(|| s.to_string())
}

/// The records `ev` stands for, appended to `out` (most events: none).
pub fn records(ev: &Event, out: &mut Vec<Record>) {
    let Some(ts) = ev.timestamp else { return };
    let ts_ms = ts.timestamp_millis();
    let src = ip(ev, &["source.ip", "client.ip"]);
    let dataset = ev.get_str("event.dataset").unwrap_or("");

    if let Some(src) = src {
        if let Some(f) = flow(ev, ts_ms, src, dataset) {
            out.push(Record::Flow(f));
        }
        if let Some(q) = text(ev, &["dns.question.name"]).and_then(name_of) {
            out.push(Record::Dns(DnsRecord {
                ts_ms,
                src,
                qname: q,
                qtype: text(ev, &["dns.question.type"]).unwrap_or("").to_string(),
                rcode: text(ev, &["dns.response_code"]).unwrap_or("").to_string(),
            }));
        }
        let method = text(ev, &["http.request.method"]);
        if let (Some(host), Some(m)) = (text(ev, &["url.domain"]).and_then(name_of), method) {
            out.push(Record::Http(HttpRecord {
                ts_ms,
                src,
                host,
                method: m.to_string(),
                request_bytes: num(ev, &["http.request.body.bytes"]).unwrap_or(0),
                response_bytes: num(ev, &["http.response.body.bytes"]).unwrap_or(0),
                user_agent: text(ev, &["user_agent.original"])
                    .unwrap_or("")
                    .chars()
                    .take(MAX_NAME)
                    .collect(),
            }));
        } else if let Some(sni) =
            text(ev, &["tls.server_name", "tls.client.server_name"]).and_then(name_of)
        {
            out.push(Record::Http(HttpRecord {
                ts_ms,
                src,
                host: sni,
                method: "TLS".into(),
                request_bytes: 0,
                response_bytes: 0,
                user_agent: String::new(),
            }));
        }
    }
    if let Some(a) = auth(ev, ts_ms, src, dataset) {
        out.push(Record::Auth(a));
    }
    if let Some(from) = text(ev, &["email.sender.address", "email.from.address"]) {
        if let Some(domain) = from.rsplit_once('@').and_then(|(_, d)| name_of(d)) {
            out.push(Record::Name {
                ts_ms,
                name: domain,
            });
        }
    }
}

fn flow(ev: &Event, ts_ms: i64, src: IpAddr, dataset: &str) -> Option<FlowRecord> {
    let is_flow = matches!(dataset, "zeek.conn" | "zeek.conn_long")
        || dataset.starts_with("netflow")
        || (dataset == "suricata.eve"
            && matches!(ev.get_str("event_type"), Some("flow" | "netflow")))
        || (has(ev, "event.category", "network")
            && (has(ev, "event.type", "connection") || has(ev, "event.type", "end"))
            && !dataset.starts_with("zeek.")
            && !dataset.starts_with("suricata."));
    if !is_flow {
        return None;
    }
    let dst = ip(ev, &["destination.ip", "server.ip"])?;
    let state = if let Some(s) = ev.get_str("conn_state") {
        ConnState::from_zeek(s)
    } else {
        suricata_state(ev)
    };
    Some(FlowRecord {
        ts_ms,
        src,
        dst,
        dst_port: num(ev, &["destination.port"])
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        transport: Transport::parse(text(ev, &["network.transport"]).unwrap_or("")),
        orig_bytes: num(ev, &["source.bytes"]).unwrap_or(0),
        resp_bytes: num(ev, &["destination.bytes"]).unwrap_or(0),
        duration_ms: ev
            .get("event.duration")
            .and_then(Value::as_i64)
            .map_or(0, |ns| ns / 1_000_000),
        state,
    })
}

/// Suricata's TCP flags on a flow: a SYN never answered, or answered by a
/// reset, is a failed attempt as Zeek's S0/REJ are.
fn suricata_state(ev: &Event) -> ConnState {
    let flag = |n: &str| ev.get(n) == Some(&Value::Bool(true));
    if !ev.contains("tcp.syn") {
        return ConnState::Unknown;
    }
    if flag("tcp.syn") && !flag("tcp.ack") {
        if flag("tcp.rst") {
            ConnState::Rejected
        } else {
            ConnState::NoReply
        }
    } else if flag("tcp.ack") {
        ConnState::Established
    } else {
        ConnState::Unknown
    }
}

fn auth(ev: &Event, ts_ms: i64, src: Option<IpAddr>, dataset: &str) -> Option<AuthRecord> {
    let code = num(ev, &["EventID", "winlog.event_id", "event.code"]);
    let windows = matches!(code, Some(4624 | 4625 | 4771))
        && (ev.contains("TargetUserName") || ev.contains("winlog.event_data.TargetUserName"));
    if windows {
        let outcome = if code == Some(4624) {
            AuthOutcome::Success
        } else {
            AuthOutcome::Failure
        };
        // 4624 without a network address is a local or service logon:
        // nothing a remote guesser did.
        let src = src.or_else(|| ip(ev, &["IpAddress", "winlog.event_data.IpAddress"]));
        src?;
        let user = text(
            ev,
            &[
                "TargetUserName",
                "winlog.event_data.TargetUserName",
                "user.name",
            ],
        );
        return Some(AuthRecord {
            ts_ms,
            src,
            user: user.map(str::to_string),
            service: AuthService::Windows,
            outcome,
            attempts: 1,
        });
    }
    if !has(ev, "event.category", "authentication") {
        return None;
    }
    let service = if dataset == "zeek.ssh" || ev.contains("system.auth.ssh.event") {
        AuthService::Ssh
    } else if has(ev, "event.category", "web") || dataset.starts_with("access") {
        AuthService::Web
    } else if has(ev, "event.category", "network") && dataset.contains("vpn") {
        AuthService::Vpn
    } else {
        AuthService::Other
    };
    let outcome = match ev.get_str("event.outcome") {
        Some("success") => AuthOutcome::Success,
        Some("failure") => AuthOutcome::Failure,
        _ if dataset == "zeek.ssh" => AuthOutcome::Unknown,
        _ => return None,
    };
    // Zeek's ssh.log counts the attempts of a session; a session with an
    // unknown outcome and no attempts carries nothing.
    let attempts = num(ev, &["auth_attempts"])
        .map(|n| n.min(u32::MAX as u64) as u32)
        .unwrap_or(1);
    if outcome == AuthOutcome::Unknown && attempts == 0 {
        return None;
    }
    Some(AuthRecord {
        ts_ms,
        src,
        user: text(ev, &["user.name"]).map(str::to_string),
        service,
        outcome,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(e: &mut Event) {
        e.timestamp =
            Some(chrono::DateTime::parse_from_rfc3339("2026-12-06T10:00:00+08:00").unwrap());
    }

    fn one(e: &Event) -> Vec<Record> {
        let mut v = Vec::new();
        records(e, &mut v);
        v
    }

    #[test]
    fn zeek_conn_is_a_flow_with_its_state() {
        let mut e = Event::new();
        at(&mut e);
        e.push("event.dataset", "zeek.conn");
        e.push("source.ip", "10.0.0.5");
        e.push("destination.ip", "203.0.113.9");
        e.push("destination.port", 443u64);
        e.push("network.transport", "tcp");
        e.push("source.bytes", 300u64);
        e.push("conn_state", "REJ");
        let r = one(&e);
        let [Record::Flow(f)] = r.as_slice() else {
            panic!("{r:?}")
        };
        assert_eq!(f.dst_port, 443);
        assert_eq!(f.orig_bytes, 300);
        assert_eq!(f.state, ConnState::Rejected);
        assert_eq!(f.transport, Transport::Tcp);
    }

    #[test]
    fn dns_http_tls_and_mail_names() {
        let mut e = Event::new();
        at(&mut e);
        e.push("event.dataset", "zeek.dns");
        e.push("source.ip", "10.0.0.5");
        e.push("dns.question.name", "example.com");
        e.push("dns.response_code", "NXDOMAIN");
        let r = one(&e);
        assert!(matches!(&r[..], [Record::Dns(d)] if d.is_nxdomain()));

        let mut e = Event::new();
        at(&mut e);
        e.push("source.ip", "10.0.0.5");
        e.push("url.domain", "upload.example.net");
        e.push("http.request.method", "POST");
        e.push("http.request.body.bytes", 5_000_000u64);
        assert!(
            matches!(&one(&e)[..], [Record::Http(h)] if h.request_bytes == 5_000_000 && h.method == "POST")
        );

        let mut e = Event::new();
        at(&mut e);
        e.push("source.ip", "10.0.0.5");
        e.push("tls.server_name", "cdn.example.org");
        assert!(matches!(&one(&e)[..], [Record::Http(h)] if h.method == "TLS"));

        let mut e = Event::new();
        at(&mut e);
        e.push("email.from.address", "ceo@examp1e.com");
        assert!(matches!(&one(&e)[..], [Record::Name { name, .. }] if name == "examp1e.com"));
    }

    #[test]
    fn windows_and_ssh_logins() {
        let mut e = Event::new();
        at(&mut e);
        e.push("EventID", 4625u64);
        e.push("TargetUserName", "alice");
        e.push("IpAddress", "198.51.100.7");
        let r = one(&e);
        assert!(
            matches!(&r[..], [Record::Auth(a)] if a.outcome == AuthOutcome::Failure && a.service == AuthService::Windows && a.src.is_some()),
            "{r:?}"
        );
        // A local logon (no address) is not a guess from the network.
        let mut e = Event::new();
        at(&mut e);
        e.push("EventID", 4624u64);
        e.push("TargetUserName", "SYSTEM");
        e.push("IpAddress", "-");
        assert!(one(&e).is_empty());

        let mut e = Event::new();
        at(&mut e);
        e.push("event.dataset", "zeek.ssh");
        e.push("event.category", "authentication");
        e.push("source.ip", "198.51.100.7");
        e.push("auth_attempts", 6u64);
        let r = one(&e);
        assert!(
            matches!(&r[..], [Record::Auth(a)] if a.attempts == 6 && a.failures() == 6),
            "{r:?}"
        );
    }

    #[test]
    fn events_without_time_or_network_fields_yield_nothing() {
        let mut e = Event::new();
        e.push("source.ip", "10.0.0.5");
        e.push("dns.question.name", "example.com");
        assert!(one(&e).is_empty());
        let mut e = Event::new();
        at(&mut e);
        e.push("message", "hello");
        assert!(one(&e).is_empty());
    }

    proptest! {
        /// Arbitrary field values never panic the mapping.
        #[test]
        fn arbitrary_fields_do_not_panic(
            fields in proptest::collection::vec(
                (prop::sample::select(vec![
                    "source.ip", "destination.ip", "destination.port", "event.dataset",
                    "dns.question.name", "url.domain", "http.request.method", "EventID",
                    "TargetUserName", "IpAddress", "event.category", "event.outcome",
                    "auth_attempts", "conn_state", "tls.server_name", "email.from.address",
                    "event.duration", "source.bytes", "event_type", "tcp.syn",
                ]), ".{0,40}"),
                0..12,
            )
        ) {
            let mut e = Event::new();
            at(&mut e);
            for (k, v) in fields {
                e.push(k, v);
            }
            let mut out = Vec::new();
            records(&e, &mut out);
        }
    }
}
