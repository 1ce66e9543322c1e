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
//!   the TLS server name (Zeek ssl `server_name`, Suricata `tls.sni`), the
//!   sender domain of mail, and certificate names: the subject's CN and the
//!   DNS alternative names (Zeek x509 `certificate.subject` / `san.dns`,
//!   Suricata `tls.subject`, their ECS `*.x509.*` forms) and CT-log entries
//!   (certstream's `data.leaf_cert.all_domains`). Each name says where it
//!   was seen ([`NameSource`]), and the alert names it.
//!
//! Events without a time are skipped: every detector reasons over time.

use std::net::IpAddr;

use taishi_event::{Event, Value};

use crate::finding::Text;
use crate::record::{
    AuthOutcome, AuthRecord, AuthService, ConnState, DnsRecord, FlowRecord, HttpRecord, Transport,
};

/// Longest name taken from an event (DNS names are at most 253 bytes;
/// anything longer is not a name a detector can use).
const MAX_NAME: usize = 512;

/// Certificate names taken from one event at most: a SAN list can hold
/// thousands (CDN certificates), and a look-alike hides in the first ones
/// as well as anywhere.
const MAX_CERT_NAMES: usize = 100;

/// Where a name for the look-alike watch was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameSource {
    /// A DNS question.
    Dns,
    /// An HTTP Host header or proxy CONNECT target.
    Http,
    /// A TLS client hello's server name (SNI).
    TlsSni,
    /// The common name (CN) of a certificate's subject.
    CertSubject,
    /// A DNS name among a certificate's subject alternative names.
    CertSan,
    /// A certificate in a Certificate Transparency log.
    CtLog,
    /// A mail sender's domain.
    Mail,
}

impl NameSource {
    /// The feature id the finding carries (`seen_in_…`).
    pub fn id(self) -> &'static str {
        match self {
            NameSource::Dns => "seen_in_dns",
            NameSource::Http => "seen_in_http",
            NameSource::TlsSni => "seen_in_tls_sni",
            NameSource::CertSubject => "seen_in_certificate_subject",
            NameSource::CertSan => "seen_in_certificate_san",
            NameSource::CtLog => "seen_in_ct_log",
            NameSource::Mail => "seen_in_mail",
        }
    }

    /// Where the name was seen, in both languages.
    pub fn text(self) -> Text {
        let (zh, en) = match self {
            NameSource::Dns => ("出现在 DNS 查询中", "seen in a DNS question"),
            NameSource::Http => ("出现在 HTTP 请求的主机名中", "seen as an HTTP host"),
            NameSource::TlsSni => (
                "出现在 TLS 握手的服务器名称（SNI）中",
                "seen as a TLS server name (SNI)",
            ),
            NameSource::CertSubject => (
                "出现在证书主体的通用名称（CN）中",
                "seen in a certificate's subject common name (CN)",
            ),
            NameSource::CertSan => (
                "出现在证书的主体备用名称（SAN）中",
                "seen in a certificate's subject alternative names (SAN)",
            ),
            NameSource::CtLog => (
                "出现在证书透明度（CT）日志的证书中",
                "seen in a certificate of a Certificate Transparency log",
            ),
            NameSource::Mail => ("出现在邮件发件人域名中", "seen as a mail sender's domain"),
        };
        Text::new(zh, en)
    }
}

/// What one event is to the detectors.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Flow(FlowRecord),
    Dns(DnsRecord),
    Http(HttpRecord),
    Auth(AuthRecord),
    /// A name seen elsewhere (certificates, mail sender domain), for the
    /// look-alike watch only.
    Name {
        ts_ms: i64,
        name: String,
        source: NameSource,
        /// The host that saw it (the TLS client, the mail relay), if known.
        src: Option<IpAddr>,
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
                source: NameSource::Mail,
                src,
            });
        }
    }
    cert_names(ev, ts_ms, src, out);
}

/// The subject CN and SAN DNS names of a certificate (Zeek x509 or ssl,
/// Suricata tls, ECS `x509`) and CT-log entries, as names to watch. A
/// wildcard's `*.` is dropped (the rest is the name registered); a CN that
/// is not a dotted name (a product name, a hash) is left out.
fn cert_names(ev: &Event, ts_ms: i64, src: Option<IpAddr>, out: &mut Vec<Record>) {
    let first = out.len();
    let push = |raw: &str, source: NameSource, out: &mut Vec<Record>| {
        if out.len() - first >= MAX_CERT_NAMES {
            return;
        }
        let n = raw.trim().trim_end_matches('.');
        let n = n.strip_prefix("*.").unwrap_or(n);
        if !n.contains('.') || n.contains(char::is_whitespace) {
            return;
        }
        let Some(name) = name_of(n) else { return };
        let dup = out[first..]
            .iter()
            .any(|r| matches!(r, Record::Name { name: m, .. } if m.eq_ignore_ascii_case(&name)));
        if !dup {
            out.push(Record::Name {
                ts_ms,
                name,
                source,
                src,
            });
        }
    };
    // CT logs (certstream): every name of the logged certificate.
    for field in ["data.leaf_cert.all_domains", "leaf_cert.all_domains"] {
        for n in strings(ev, field) {
            push(n, NameSource::CtLog, out);
        }
    }
    if out.len() > first {
        return;
    }
    let cn = text(
        ev,
        &[
            "file.x509.subject.common_name",
            "tls.server.x509.subject.common_name",
            "x509.subject.common_name",
        ],
    )
    .map(str::to_string)
    .or_else(|| {
        text(
            ev,
            &[
                "file.x509.subject.distinguished_name",
                "tls.server.x509.subject.distinguished_name",
                "x509.subject.distinguished_name",
                "certificate.subject",
                "tls.subject",
            ],
        )
        .and_then(common_name)
    });
    if let Some(cn) = cn {
        push(&cn, NameSource::CertSubject, out);
    }
    for field in [
        "file.x509.alternative_names",
        "tls.server.x509.alternative_names",
        "x509.alternative_names",
        "san.dns",
    ] {
        let names = strings(ev, field);
        if names.is_empty() {
            continue;
        }
        for n in names {
            push(n, NameSource::CertSan, out);
        }
        // The ECS and Zeek forms carry the same list: one is enough.
        break;
    }
}

/// The strings of a field: its value, or the strings of its array.
fn strings<'a>(ev: &'a Event, name: &str) -> Vec<&'a str> {
    match ev.get(name) {
        Some(Value::Array(a)) => a
            .iter()
            .take(MAX_CERT_NAMES)
            .filter_map(Value::as_str)
            .collect(),
        Some(v) => v.as_str().into_iter().collect(),
        None => Vec::new(),
    }
}

/// The CN of a distinguished name (`CN=a.example.com,O=…` as Zeek writes
/// it, `CN=a.example.com, OU=…` as Suricata does).
fn common_name(dn: &str) -> Option<String> {
    dn.split(',')
        .map(str::trim)
        .find_map(|p| {
            p.get(..3)
                .filter(|k| k.eq_ignore_ascii_case("CN="))
                .map(|_| &p[3..])
        })
        .map(str::to_string)
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

    fn names(r: &[Record]) -> Vec<(String, NameSource)> {
        r.iter()
            .filter_map(|r| match r {
                Record::Name { name, source, .. } => Some((name.clone(), *source)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn certificate_names_of_zeek_x509_and_ssl() {
        // Zeek x509 as its JSON writer names the fields, the ECS copies too.
        let mut e = Event::new();
        at(&mut e);
        e.push("event.dataset", "zeek.x509");
        let dn = "CN=*.examp1ebank.com,O=Examp1e\\, Inc,C=US";
        e.push("certificate.subject", dn);
        e.push("file.x509.subject.distinguished_name", dn);
        let san = Value::Array(vec![
            "*.examp1ebank.com".into(),
            "login.examp1ebank.com".into(),
            "examp1ebank.com".into(),
        ]);
        e.push("san.dns", san.clone());
        e.push("file.x509.alternative_names", san);
        assert_eq!(
            names(&one(&e)),
            vec![
                ("examp1ebank.com".to_string(), NameSource::CertSubject),
                ("login.examp1ebank.com".to_string(), NameSource::CertSan),
            ]
        );
        // Zeek ssl: the SNI is a TLS request, the subject a certificate name.
        let mut e = Event::new();
        at(&mut e);
        e.push("source.ip", "10.0.0.5");
        e.push("tls.client.server_name", "pay.examp1ebank.com");
        e.push(
            "tls.server.x509.subject.distinguished_name",
            "CN=secure.examp1ebank.com",
        );
        let r = one(&e);
        assert!(
            matches!(&r[0], Record::Http(h) if h.method == "TLS"),
            "{r:?}"
        );
        assert_eq!(
            names(&r),
            vec![(
                "secure.examp1ebank.com".to_string(),
                NameSource::CertSubject
            )]
        );
        // A CN that is not a name (a product, a hash) is left out.
        let mut e = Event::new();
        at(&mut e);
        e.push("certificate.subject", "CN=VMware Installer,O=VMware");
        assert!(one(&e).is_empty());
        let mut e = Event::new();
        at(&mut e);
        e.push("certificate.subject", "O=VMware,CN=nougat");
        assert!(one(&e).is_empty());
    }

    #[test]
    fn certificate_names_of_suricata_tls_and_ct_logs() {
        // Suricata EVE tls after taishi-format-eve: `tls.sni` → server name,
        // `tls.subject` → the ECS subject, with a space after each comma.
        let mut e = Event::new();
        at(&mut e);
        e.push("source.ip", "10.0.0.5");
        e.push("tls.client.server_name", "p33-btmmdns.icloud.com.");
        e.push(
            "tls.server.x509.subject.distinguished_name",
            "CN=*.icloud.com, OU=management:idms.group.506364, O=Apple Inc., C=US",
        );
        assert_eq!(
            names(&one(&e)),
            vec![("icloud.com".to_string(), NameSource::CertSubject)]
        );
        // certstream's JSON, flattened by the JSON decoder.
        let mut e = Event::new();
        at(&mut e);
        e.push(
            "data.leaf_cert.all_domains",
            Value::Array(vec!["examp1ebank.com".into(), "www.examp1ebank.com".into()]),
        );
        e.push("data.leaf_cert.subject.CN", "examp1ebank.com");
        assert_eq!(
            names(&one(&e)),
            vec![
                ("examp1ebank.com".to_string(), NameSource::CtLog),
                ("www.examp1ebank.com".to_string(), NameSource::CtLog),
            ]
        );
        // A CDN certificate's thousands of names: the first hundred.
        let mut e = Event::new();
        at(&mut e);
        e.push(
            "san.dns",
            Value::Array(
                (0..5000)
                    .map(|i| format!("h{i}.example.net").into())
                    .collect(),
            ),
        );
        assert_eq!(names(&one(&e)).len(), MAX_CERT_NAMES);
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
                    "certificate.subject", "san.dns", "tls.server.x509.subject.distinguished_name",
                    "data.leaf_cert.all_domains", "file.x509.alternative_names",
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
