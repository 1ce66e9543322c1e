//! ECS fields for a Zeek record, added after Zeek's own, by log type.
//!
//! Every log gets `event.kind`/`category`/`type`, `event.module` = zeek,
//! `event.dataset` = zeek.<path>, `event.id` from `uid`, the connection's
//! `source.*`/`destination.*` from `id.*`, `network.transport` from `proto`
//! and `network.community_id`. Then per log:
//!
//! | log | ECS |
//! |---|---|
//! | conn | `network.protocol` (first service), bytes and packets (IP-level), `event.duration` (ns), `network.direction` from `local_orig`/`local_resp` |
//! | dns | `dns.question.name/type/class`, `dns.response_code`, `dns.id`, `dns.type`, `dns.answers` (`data`, `ttl`), `dns.resolved_ip`, `dns.header_flags` |
//! | http | `url.original/domain/path/query/port`, `http.request.method`, `http.response.status_code`, `http.version`, `http.request.referrer`, body bytes, `user_agent.original`, `user.name` |
//! | ssl | `tls.version` (+ `tls.version_protocol`), `tls.cipher`, `tls.curve`, `tls.client.server_name`, `tls.resumed`, `tls.established`, `tls.next_protocol`, `tls.client.ja3`/`tls.server.ja3s`, certificate subjects and issuers, leaf fingerprint |
//! | files | `file.hash.*`, `file.mime_type`, `file.name`, `file.size`; hosts from `tx_hosts`/`rx_hosts` |
//! | x509 | `file.x509.*`, `file.hash.sha256`/`sha1` from `fingerprint` |
//! | ssh | `event.outcome` from `auth_success`, `network.direction` |
//! | ftp | `user.name`, `event.action` (command), `event.outcome` (reply code), `file.mime_type`, `file.size` |
//! | smtp | `email.*` (from, to, cc, sender, reply-to, subject, message id, x-mailer) |
//! | kerberos | `user.name`/`user.domain` from `client`, `event.action`, `event.outcome` |
//! | ntlm | `user.name`, `user.domain`, `destination.domain`, `event.outcome` |
//! | rdp | `event.outcome` when the result is Success |
//! | dce_rpc, modbus | `event.action` (operation, function); modbus `event.outcome` from `exception` |
//! | notice | `event.kind` = alert, `rule.name` (note), `message` (msg), addresses from `src`/`dst`/`p` |
//! | weird | `event.action` (name) |
//! | snmp | `event.duration` |
//! | software | `host.ip`, `user_agent.original` for browsers |
//! | known_services, known_hosts | `host.ip`, `network.transport`, `network.protocol` |
//! | syslog | `log.syslog.facility.name`, `log.syslog.severity.name` (`message` is Zeek's own) |

use std::net::IpAddr;

use taishi_event::ecs::*;
use taishi_event::{Event, Str, Value};

/// Log types whose name a file name may carry.
const KNOWN_PATHS: &[&str] = &[
    "conn",
    "dns",
    "http",
    "ssl",
    "files",
    "x509",
    "ssh",
    "ftp",
    "smtp",
    "rdp",
    "kerberos",
    "ntlm",
    "dce_rpc",
    "notice",
    "weird",
    "modbus",
    "snmp",
    "software",
    "known_services",
    "known_hosts",
    "known_certs",
    "syslog",
    "dhcp",
    "sip",
    "smb_files",
    "smb_mapping",
    "tunnel",
    "irc",
    "mysql",
    "radius",
    "rfb",
    "dnp3",
    "mqtt",
    "quic",
    "ocsp",
    "pe",
    "intel",
    "signatures",
    "socks",
    "ntp",
    "dpd",
    "analyzer",
    "traceroute",
    "capture_loss",
    "stats",
    "reporter",
    "loaded_scripts",
    "packet_filter",
    "notice_alarm",
    "weird_stats",
    "conn_long",
    "bacnet",
    "enip",
    "cip",
    "s7comm",
    "ldap",
    "ldap_search",
    "websocket",
    "postgresql",
    "redis",
];

pub fn is_known_path(p: &str) -> bool {
    KNOWN_PATHS.contains(&p)
}

/// The log type of a JSON record without `_path`, from fields only one log
/// type has.
pub fn guess_path(ev: &Event) -> Option<&'static str> {
    let has = |k: &str| ev.contains(k);
    Some(
        if has("conn_state") || (has("orig_bytes") && has("history")) {
            "conn"
        } else if has("qtype_name") || (has("query") && has("rcode")) {
            "dns"
        } else if has("method") && has("uri") {
            "http"
        } else if has("ssl_history")
            || has("cert_chain_fps")
            || (has("cipher") && has("server_name"))
        {
            "ssl"
        } else if has("fingerprint") && has("certificate.subject") {
            "x509"
        } else if has("seen_bytes") || (has("fuid") && has("mime_type") && has("source")) {
            "files"
        } else if has("note") && has("msg") {
            "notice"
        } else if has("name") && has("addl") {
            "weird"
        } else if has("kex_alg") || has("auth_attempts") {
            "ssh"
        } else if has("command") && has("reply_code") {
            "ftp"
        } else if has("helo") || has("mailfrom") {
            "smtp"
        } else if has("security_protocol") || (has("cookie") && has("result")) {
            "rdp"
        } else if has("request_type") && has("till") {
            "kerberos"
        } else if has("server_nb_computer_name") || has("domainname") {
            "ntlm"
        } else if has("named_pipe") || (has("endpoint") && has("operation")) {
            "dce_rpc"
        } else if has("pdu_type") || (has("func") && has("unit")) {
            "modbus"
        } else if has("get_requests") || has("community") {
            "snmp"
        } else if has("software_type") {
            "software"
        } else if has("port_num") && has("port_proto") {
            "known_services"
        } else if has("facility") && has("severity") && has("message") {
            "syslog"
        } else {
            return None;
        },
    )
}

pub fn map(ev: &mut Event, path: Option<&str>) {
    let path = path.unwrap_or("");
    let (kind, cats, types): (&str, &[&str], &[&str]) = match path {
        "conn" | "conn_long" => ("event", &["network"], &["connection"]),
        "http" => ("event", &["network", "web"], &["protocol", "access"]),
        "kerberos" | "ntlm" | "radius" => (
            "event",
            &["network", "authentication"],
            &["protocol", "info"],
        ),
        "ssh" if ev.contains("auth_success") || ev.contains("auth_attempts") => (
            "event",
            &["network", "authentication"],
            &["protocol", "info"],
        ),
        "files" | "x509" | "pe" | "ocsp" => ("event", &["file"], &["info"]),
        "notice" | "notice_alarm" | "intel" | "signatures" => {
            ("alert", &["intrusion_detection"], &["info"])
        }
        "weird" | "known_services" | "known_hosts" | "known_certs" | "dpd" | "analyzer" => {
            ("event", &["network"], &["info"])
        }
        "software" => ("event", &["package"], &["info"]),
        "capture_loss" | "stats" | "weird_stats" => ("metric", &[], &[]),
        "reporter" | "loaded_scripts" | "packet_filter" => ("event", &[], &[]),
        "" => ("event", &[], &[]),
        _ => ("event", &["network"], &["protocol"]),
    };
    ev.push(EVENT_KIND, kind);
    if !cats.is_empty() {
        ev.push(EVENT_CATEGORY, strs(cats));
        ev.push(EVENT_TYPE, strs(types));
    }
    ev.push(EVENT_MODULE, "zeek");
    if path.is_empty() {
        ev.push(EVENT_DATASET, "zeek");
    } else {
        ev.push(EVENT_DATASET, format!("zeek.{path}"));
    }
    ev.push(OBSERVER_VENDOR, "Zeek");
    ev.push(OBSERVER_PRODUCT, "Zeek");
    if let Some(uid) = str_of(ev, "uid") {
        ev.push_some("event.id", uid);
    }
    endpoints(ev);
    if let Some(p) = app_protocol(ev, path) {
        ev.push(NETWORK_PROTOCOL, p);
    }
    match path {
        "conn" | "conn_long" => conn(ev),
        "dns" => dns(ev),
        "http" => http(ev),
        "ssl" => ssl(ev),
        "files" => files(ev),
        "x509" => x509(ev),
        "ssh" => ssh(ev),
        "ftp" => ftp(ev),
        "smtp" => smtp(ev),
        "kerberos" => kerberos(ev),
        "ntlm" => ntlm(ev),
        "rdp" if ev.get_str("result") == Some("Success") => ev.push(EVENT_OUTCOME, "success"),
        "dce_rpc" => copy(ev, "operation", EVENT_ACTION),
        "modbus" => {
            copy(ev, "func", EVENT_ACTION);
            if ev.contains("exception") {
                ev.push(EVENT_OUTCOME, "failure");
            }
        }
        "notice" | "notice_alarm" => notice(ev),
        "weird" => copy(ev, "name", EVENT_ACTION),
        "snmp" => duration(ev),
        "software" => {
            host_ip(ev, "host");
            if ev
                .get_str("software_type")
                .is_some_and(|t| t.ends_with("BROWSER"))
            {
                copy(ev, "unparsed_version", USER_AGENT_ORIGINAL);
            }
        }
        "known_services" | "known_hosts" => {
            host_ip(ev, "host");
            if let Some(t) = str_of(ev, "port_proto") {
                ev.push_some(NETWORK_TRANSPORT, t);
            }
        }
        "syslog" => {
            copy(ev, "facility", "log.syslog.facility.name");
            copy(ev, "severity", "log.syslog.severity.name");
        }
        _ => {}
    }
}

fn endpoints(ev: &mut Event) {
    if let Some(ip) = ip_of(ev, "id.orig_h") {
        ev.push(SOURCE_IP, ip);
    }
    if let Some(p) = port_of(ev, "id.orig_p") {
        ev.push(SOURCE_PORT, p);
    }
    if let Some(ip) = ip_of(ev, "id.resp_h") {
        ev.push(DESTINATION_IP, ip);
    }
    if let Some(p) = port_of(ev, "id.resp_p") {
        ev.push(DESTINATION_PORT, p);
    }
    if let Some(mut t) = str_of(ev, "proto") {
        t.make_ascii_lowercase();
        if t != "unknown_transport" {
            ev.push_some(NETWORK_TRANSPORT, t);
        }
    }
    if let Some(c) = str_of(ev, "community_id") {
        ev.push_some(NETWORK_COMMUNITY_ID, c);
    }
}

fn app_protocol(ev: &Event, path: &str) -> Option<Str> {
    let p = match path {
        "conn" | "conn_long" | "known_services" => {
            // conn's `service` is text ("ssl,http"), known_services' a set.
            let first = match ev.get("service")? {
                Value::Str(s) => s.split(',').next().map(Str::from),
                Value::Array(a) => a.first().and_then(Value::as_str).map(Str::from),
                _ => None,
            };
            let mut s = first.filter(|s| !s.is_empty())?;
            s.make_ascii_lowercase();
            return Some(s);
        }
        "ssl" => "tls",
        "smb_files" | "smb_mapping" => "smb",
        "dns" | "http" | "ssh" | "ftp" | "smtp" | "rdp" | "kerberos" | "dce_rpc" | "modbus"
        | "snmp" | "syslog" | "dhcp" | "sip" | "irc" | "mysql" | "radius" | "rfb" | "dnp3"
        | "mqtt" | "quic" | "socks" | "ntp" | "ldap" | "ldap_search" | "bacnet" | "enip"
        | "s7comm" | "websocket" | "postgresql" | "redis" => path.split('_').next().unwrap_or(path),
        _ => return None,
    };
    Some(Str::from(p))
}

fn conn(ev: &mut Event) {
    let pick = |ev: &Event, a: &str, b: &str| u64_of(ev, a).or_else(|| u64_of(ev, b));
    // IP-level bytes count what went over the wire, like the packet counts.
    let sb = pick(ev, "orig_ip_bytes", "orig_bytes");
    let db = pick(ev, "resp_ip_bytes", "resp_bytes");
    let sp = u64_of(ev, "orig_pkts");
    let dp = u64_of(ev, "resp_pkts");
    for (name, v) in [
        (SOURCE_BYTES, sb),
        (SOURCE_PACKETS, sp),
        (DESTINATION_BYTES, db),
        (DESTINATION_PACKETS, dp),
    ] {
        if let Some(v) = v {
            ev.push(name, v);
        }
    }
    if sb.is_some() || db.is_some() {
        ev.push(
            NETWORK_BYTES,
            sb.unwrap_or(0).saturating_add(db.unwrap_or(0)),
        );
    }
    if sp.is_some() || dp.is_some() {
        ev.push(
            NETWORK_PACKETS,
            sp.unwrap_or(0).saturating_add(dp.unwrap_or(0)),
        );
    }
    duration(ev);
    let dir = match (ev.get("local_orig"), ev.get("local_resp")) {
        (Some(Value::Bool(o)), Some(Value::Bool(r))) => Some(match (o, r) {
            (true, true) => "internal",
            (true, false) => "outbound",
            (false, true) => "inbound",
            (false, false) => "external",
        }),
        _ => None,
    };
    if let Some(d) = dir {
        ev.push(NETWORK_DIRECTION, d);
    }
}

fn duration(ev: &mut Event) {
    if let Some(d) = ev.get("duration").and_then(Value::as_f64) {
        if (0.0..9.0e9).contains(&d) {
            ev.push(EVENT_DURATION, (d * 1e9).round() as i64);
        }
    }
}

fn dns(ev: &mut Event) {
    copy(ev, "query", DNS_QUESTION_NAME);
    copy(ev, "qtype_name", DNS_QUESTION_TYPE);
    copy(ev, "qclass_name", "dns.question.class");
    copy(ev, "rcode_name", DNS_RESPONSE_CODE);
    if let Some(id) = ev.get("trans_id").cloned() {
        ev.push("dns.id", id);
    }
    let answered = ev.contains("rcode") || ev.contains("answers");
    ev.push("dns.type", if answered { "answer" } else { "query" });
    if let Some(Value::Array(list)) = ev.get("answers") {
        let ttls = match ev.get("TTLs") {
            Some(Value::Array(t)) => t.as_slice(),
            _ => &[],
        };
        let mut answers = Vec::with_capacity(list.len());
        let mut resolved = Vec::new();
        for (i, a) in list.iter().enumerate() {
            let mut o = vec![(Str::from("data"), a.clone())];
            if let Some(ttl) = ttls.get(i).and_then(Value::as_f64) {
                o.push((Str::from("ttl"), Value::Int(ttl as i64)));
            }
            answers.push(Value::Object(o));
            if let Some(ip) = a.as_str().and_then(canonical_ip) {
                resolved.push(Value::Str(ip));
            }
        }
        if !answers.is_empty() {
            ev.push("dns.answers", Value::Array(answers));
        }
        if !resolved.is_empty() {
            ev.push("dns.resolved_ip", Value::Array(resolved));
        }
    }
    let flags: Vec<Value> = ["AA", "TC", "RD", "RA"]
        .iter()
        .filter(|f| ev.get(f) == Some(&Value::Bool(true)))
        .map(|f| Value::from(*f))
        .collect();
    if !flags.is_empty() {
        ev.push("dns.header_flags", Value::Array(flags));
    }
}

fn http(ev: &mut Event) {
    if let Some(uri) = str_of(ev, "uri") {
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri.as_str(), None),
        };
        ev.push_some(URL_PATH, path);
        if let Some(q) = query {
            ev.push_some(URL_QUERY, q);
        }
        ev.push_some(URL_ORIGINAL, uri.clone());
    }
    copy(ev, "host", URL_DOMAIN);
    if let Some(p) = port_of(ev, "id.resp_p") {
        ev.push("url.port", p);
    }
    copy(ev, "method", HTTP_REQUEST_METHOD);
    if let Some(s) = ev.get("status_code").and_then(Value::as_i64) {
        ev.push(HTTP_RESPONSE_STATUS_CODE, s);
    }
    copy(ev, "version", HTTP_VERSION);
    copy(ev, "referrer", HTTP_REQUEST_REFERRER);
    copy(ev, "user_agent", USER_AGENT_ORIGINAL);
    copy(ev, "username", USER_NAME);
    if let Some(n) = u64_of(ev, "request_body_len") {
        ev.push("http.request.body.bytes", n);
    }
    if let Some(n) = u64_of(ev, "response_body_len") {
        ev.push(HTTP_RESPONSE_BODY_BYTES, n);
    }
    if let Some(Value::Array(m)) = ev.get("resp_mime_types") {
        if let Some(m) = m.first().and_then(Value::as_str).map(Str::from) {
            ev.push_some("http.response.mime_type", m);
        }
    }
}

fn ssl(ev: &mut Event) {
    if let Some((proto, ver)) = ev.get_str("version").and_then(tls_version) {
        ev.push(TLS_VERSION, ver);
        ev.push("tls.version_protocol", proto);
    }
    copy(ev, "cipher", "tls.cipher");
    copy(ev, "curve", "tls.curve");
    copy(ev, "server_name", TLS_SERVER_NAME);
    for (from, to) in [
        ("resumed", "tls.resumed"),
        ("established", "tls.established"),
    ] {
        if let Some(b @ Value::Bool(_)) = ev.get(from) {
            let b = b.clone();
            ev.push(to, b);
        }
    }
    if let Some(mut p) = str_of(ev, "next_protocol") {
        p.make_ascii_lowercase();
        ev.push_some("tls.next_protocol", p);
    }
    copy(ev, "ja3", TLS_JA3);
    copy(ev, "ja3s", TLS_JA3S);
    copy(ev, "subject", TLS_SERVER_SUBJECT);
    copy(ev, "issuer", TLS_SERVER_ISSUER);
    copy(
        ev,
        "client_subject",
        "tls.client.x509.subject.distinguished_name",
    );
    copy(
        ev,
        "client_issuer",
        "tls.client.x509.issuer.distinguished_name",
    );
    // Zeek 6 fingerprints certificates with SHA-256; the chain starts with
    // the server's own.
    if let Some(Value::Array(fps)) = ev.get("cert_chain_fps") {
        if let Some(fp) = fps.first().and_then(Value::as_str).map(Str::from) {
            hash_by_len(ev, "tls.server.hash", &fp);
        }
    }
}

fn files(ev: &mut Event) {
    copy(ev, "md5", FILE_HASH_MD5);
    copy(ev, "sha1", FILE_HASH_SHA1);
    copy(ev, "sha256", FILE_HASH_SHA256);
    copy(ev, "mime_type", FILE_MIME_TYPE);
    copy(ev, "filename", FILE_NAME);
    if let Some(n) = u64_of(ev, "total_bytes").or_else(|| u64_of(ev, "seen_bytes")) {
        ev.push(FILE_SIZE, n);
    }
    // Before Zeek 5 files.log had no connection id, only the hosts.
    if !ev.contains(SOURCE_IP) {
        for (from, to) in [("tx_hosts", SOURCE_IP), ("rx_hosts", DESTINATION_IP)] {
            if let Some(Value::Array(h)) = ev.get(from) {
                if let Some(ip) = h.first().and_then(Value::as_str).and_then(canonical_ip) {
                    ev.push(to, ip);
                }
            }
        }
    }
}

fn x509(ev: &mut Event) {
    for (from, to) in [
        ("certificate.version", "file.x509.version_number"),
        ("certificate.serial", "file.x509.serial_number"),
        (
            "certificate.subject",
            "file.x509.subject.distinguished_name",
        ),
        ("certificate.issuer", "file.x509.issuer.distinguished_name"),
        ("certificate.not_valid_before", "file.x509.not_before"),
        ("certificate.not_valid_after", "file.x509.not_after"),
        ("certificate.key_alg", "file.x509.public_key_algorithm"),
        ("certificate.sig_alg", "file.x509.signature_algorithm"),
        ("certificate.key_length", "file.x509.public_key_size"),
        ("certificate.exponent", "file.x509.public_key_exponent"),
        ("certificate.curve", "file.x509.public_key_curve"),
        ("san.dns", "file.x509.alternative_names"),
    ] {
        if let Some(v) = ev.get(from).filter(|v| !v.is_null()).cloned() {
            let v = match (to, v) {
                // ECS keeps the version as text.
                ("file.x509.version_number", n @ (Value::Int(_) | Value::UInt(_))) => {
                    Value::from(n.to_string())
                }
                (_, v) => v,
            };
            ev.push(to, v);
        }
    }
    if let Some(fp) = str_of(ev, "fingerprint") {
        hash_by_len(ev, "file.hash", &fp);
    }
}

fn ssh(ev: &mut Event) {
    match ev.get("auth_success") {
        Some(Value::Bool(true)) => ev.push(EVENT_OUTCOME, "success"),
        Some(Value::Bool(false)) => ev.push(EVENT_OUTCOME, "failure"),
        _ => {}
    }
    if let Some(mut d) = str_of(ev, "direction") {
        d.make_ascii_lowercase();
        ev.push_some(NETWORK_DIRECTION, d);
    }
}

fn ftp(ev: &mut Event) {
    copy(ev, "user", USER_NAME);
    copy(ev, "command", EVENT_ACTION);
    copy(ev, "mime_type", FILE_MIME_TYPE);
    if let Some(n) = u64_of(ev, "file_size") {
        ev.push(FILE_SIZE, n);
    }
    if let Some(code) = u64_of(ev, "reply_code") {
        ev.push(
            EVENT_OUTCOME,
            if code < 400 { "success" } else { "failure" },
        );
    }
}

fn smtp(ev: &mut Event) {
    for (from, to) in [
        ("from", "email.from.address"),
        ("to", "email.to.address"),
        ("cc", "email.cc.address"),
        ("reply_to", "email.reply_to.address"),
        ("mailfrom", "email.sender.address"),
    ] {
        match ev.get(from) {
            Some(Value::Str(s)) if !s.is_empty() => {
                let v = Value::Array(vec![Value::Str(s.clone())]);
                ev.push(to, v);
            }
            Some(Value::Array(a)) if !a.is_empty() => {
                let v = Value::Array(a.clone());
                ev.push(to, v);
            }
            _ => {}
        }
    }
    copy(ev, "subject", "email.subject");
    copy(ev, "msg_id", "email.message_id");
    copy(ev, "user_agent", "email.x_mailer");
    copy(ev, "date", "email.origination_timestamp");
}

fn kerberos(ev: &mut Event) {
    // `client` is principal/REALM.
    if let Some(c) = str_of(ev, "client") {
        match c.rsplit_once('/') {
            Some((user, realm)) => {
                ev.push_some(USER_NAME, user);
                ev.push_some(USER_DOMAIN, realm);
            }
            None => ev.push_some(USER_NAME, c.clone()),
        }
    }
    copy(ev, "request_type", EVENT_ACTION);
    outcome_from(ev, "success");
}

fn ntlm(ev: &mut Event) {
    copy(ev, "username", USER_NAME);
    copy(ev, "domainname", USER_DOMAIN);
    copy(ev, "server_dns_computer_name", "destination.domain");
    outcome_from(ev, "success");
}

fn notice(ev: &mut Event) {
    copy(ev, "note", RULE_NAME);
    copy(ev, "msg", MESSAGE);
    copy(ev, "file_mime_type", FILE_MIME_TYPE);
    if !ev.contains(SOURCE_IP) {
        if let Some(ip) = ip_of(ev, "src") {
            ev.push(SOURCE_IP, ip);
        }
    }
    if !ev.contains(DESTINATION_IP) {
        if let Some(ip) = ip_of(ev, "dst") {
            ev.push(DESTINATION_IP, ip);
        }
    }
    if !ev.contains(DESTINATION_PORT) {
        if let Some(p) = port_of(ev, "p") {
            ev.push(DESTINATION_PORT, p);
        }
    }
}

fn outcome_from(ev: &mut Event, field: &str) {
    match ev.get(field) {
        Some(Value::Bool(true)) => ev.push(EVENT_OUTCOME, "success"),
        Some(Value::Bool(false)) => ev.push(EVENT_OUTCOME, "failure"),
        _ => {}
    }
}

fn host_ip(ev: &mut Event, field: &str) {
    if let Some(ip) = ip_of(ev, field) {
        ev.push(HOST_IP, ip);
    }
}

fn hash_by_len(ev: &mut Event, prefix: &str, hex: &str) {
    let algo = match hex.len() {
        32 => "md5",
        40 => "sha1",
        64 => "sha256",
        _ => return,
    };
    if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        ev.push(format!("{prefix}.{algo}").as_str(), hex);
    }
}

/// Copies a non-empty text field under an ECS name.
fn copy(ev: &mut Event, from: &str, to: &str) {
    if let Some(v) = str_of(ev, from) {
        ev.push_some(to, v);
    }
}

/// "TLSv12", "TLSv13", "SSLv3", "DTLSv12" → ("tls", "1.2") etc.
pub(crate) fn tls_version(v: &str) -> Option<(&'static str, String)> {
    let lower = v.trim().to_ascii_lowercase();
    let (proto, rest) = ["dtls", "tls", "ssl"]
        .iter()
        .find_map(|p| lower.strip_prefix(p).map(|r| (*p, r)))?;
    let rest = rest.trim_start_matches(['v', ' ']);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ver = match rest.split_once('.') {
        Some((a, b)) if digits(a) && digits(b) => rest.to_owned(),
        None if rest.len() == 1 && digits(rest) => format!("{rest}.0"),
        None if rest.len() == 2 && digits(rest) => format!("{}.{}", &rest[..1], &rest[1..]),
        _ => return None,
    };
    Some((proto, ver))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_versions() {
        let v = |s| tls_version(s).map(|(p, v)| format!("{p} {v}"));
        assert_eq!(v("TLSv12").as_deref(), Some("tls 1.2"));
        assert_eq!(v("TLSv10").as_deref(), Some("tls 1.0"));
        assert_eq!(v("SSLv3").as_deref(), Some("ssl 3.0"));
        assert_eq!(v("DTLSv12").as_deref(), Some("dtls 1.2"));
        assert_eq!(v("unknown-1234"), None);
    }
}
