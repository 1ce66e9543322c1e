//! Firewall logs inside syslog messages, read into ECS network fields so
//! that intel matching (it reads `source.ip`/`destination.ip`), detection
//! rules and the overview see the traffic a firewall logged:
//! `source.ip`/`port`, `destination.ip`/`port`, `network.transport`,
//! `observer.ingress`/`egress.interface.name`, `event.category` = network,
//! `event.type`, `event.action` (`block`, `allow`, `audit`) and
//! `event.outcome`, `rule.id`/`name`, `observer.vendor`/`product`.
//! The pairs as the device wrote them stay under `<vendor>.<key>`
//! (`iptables.TTL`, `h3c.SrcZoneName`), so rules written against the
//! vendor's own names keep working.
//!
//! Formats, and where each was taken from (the test lines in
//! `tests/firewall.rs` are written from these descriptions, not copied):
//!
//! - **netfilter** (iptables/nftables `LOG` target, UFW): the kernel's
//!   `nf_log_syslog.c` output, `<prefix>IN=… OUT=… MAC=… SRC=… DST=… LEN=…
//!   PROTO=TCP SPT=… DPT=… <flags>`; UFW's prefixes `[UFW BLOCK]`,
//!   `[UFW ALLOW]`, `[UFW AUDIT]`, `[UFW LIMIT BLOCK]` (ufw(8)).
//! - **Huawei USG** (`%%01MODULE/severity/MNEMONIC(l):k=v,k=v.`): the USG
//!   product documentation, "Appendix: Meanings of Log Fields", session
//!   logs in syslog format (`SECLOG/6/SESSION_BUILT`: `SourceIP`,
//!   `DestinationIP`, `SourcePort`, `DestinationPort`, `Protocol`) and
//!   policy matching logs (`POLICY/6/POLICYPERMIT`/`POLICYDENY`:
//!   `source-ip`, `destination-ip`, `source-port`, `destination-port`,
//!   `protocol`, `rule-name`, `source-zone`, `destination-zone`).
//! - **H3C** Comware (`%%10MODULE/severity/MNEMONIC: Key(nnnn)=v;…`): the
//!   H3C system log message references (`FILTER_ZONE_IPV4_EXECUTION`,
//!   `SESSION_IPV4_FLOW`), whose keys carry their field id
//!   (`SrcIPAddr(1003)`, `DstIPAddr(1007)`, `SrcPort(1004)`,
//!   `DstPort(1008)`, `Protocol(1001)`, `Event(1048)`).
//! - **Hillstone** StoneOS traffic logs (`Traffic@FLOW: SESSION:
//!   a:p->b:q(TCP), application …, interface …, policy N, …, session
//!   end`): the StoneOS log format (`severity@MODULE: description`) and
//!   public samples of its session logs.
//! - **Topsec** TOS (`id=tos time="…" fw=… pri=6 type=ac … src=… dst=…
//!   sport=… dport=… proto=tcp indev=… outdev=… rule=accept policyid=…`):
//!   public samples of TopsecOS syslog (access-control `type=ac` records).
//! - **Sangfor** AF (`fwlog: 日志类型:…, 源IP:…, 源端口:…, 目的IP:…,
//!   目的端口:…, 系统动作:允许`): public samples of Sangfor's `fwlog`
//!   records.
//! - **Qi An Xin, NSFOCUS, Venustech** and other `key=value` senders: no
//!   public sample or published format was found; a generic `key=value`
//!   reading (values may be quoted) maps the common key names (`src`,
//!   `dst`, `srcip`, `dst_ip`, `sport`, `dport`, `proto`, `action`, …)
//!   when the line names both a source and a destination address.
//!
//! Bounded: at most [`MAX_PAIRS`] pairs are read from one message.

use std::net::IpAddr;

use taishi_event::{ecs, Event, Value};

/// The most `key=value` pairs read from one message: a firewall line has
/// 10–40; the cap keeps a hostile line from costing more than a normal one.
pub const MAX_PAIRS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Block,
    Allow,
    Audit,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Allow => "allow",
            Action::Audit => "audit",
        }
    }

    /// What a prefix or an action word says; `None` when it says nothing
    /// of the kind (`(8)Session created`).
    fn from_text(s: &str) -> Option<Action> {
        let l = s.to_ascii_lowercase();
        let has = |ws: &[&str]| ws.iter().any(|w| l.contains(w));
        if has(&[
            "block", "drop", "deny", "denied", "reject", "拒绝", "阻断", "丢弃",
        ]) {
            Some(Action::Block)
        } else if has(&["allow", "accept", "permit", "pass", "允许", "放行"]) {
            Some(Action::Allow)
        } else if has(&["audit", "log", "记录"]) {
            Some(Action::Audit)
        } else {
            None
        }
    }
}

/// What one firewall line says about a connection.
#[derive(Debug, Default)]
struct Flow {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: Option<u16>,
    dport: Option<u16>,
    transport: Option<String>,
    action: Option<Action>,
    ingress: Option<String>,
    egress: Option<String>,
    ingress_zone: Option<String>,
    egress_zone: Option<String>,
    rule_id: Option<String>,
    rule_name: Option<String>,
    application: Option<String>,
    user: Option<String>,
    src_nat_ip: Option<IpAddr>,
    src_nat_port: Option<u16>,
    dst_nat_ip: Option<IpAddr>,
    dst_nat_port: Option<u16>,
    src_bytes: Option<u64>,
    dst_bytes: Option<u64>,
    src_packets: Option<u64>,
    dst_packets: Option<u64>,
    /// `start`/`end` for session logs that say so.
    phase: Option<&'static str>,
}

fn ip(v: &str) -> Option<IpAddr> {
    let v = v.trim();
    let v = v
        .strip_prefix("::ffff:")
        .filter(|r| r.contains('.'))
        .unwrap_or(v);
    v.parse().ok()
}

fn port(v: &str) -> Option<u16> {
    v.trim().parse().ok()
}

fn count(v: &str) -> Option<u64> {
    v.trim().parse().ok()
}

/// A text value, unless it is one of the ways devices write "none".
fn text(v: &str) -> Option<String> {
    let v = v.trim();
    (!matches!(v, "" | "-" | "(null)" | "null" | "none" | "-@-")).then(|| v.to_string())
}

/// ECS `network.transport`: IANA names, lowercase; protocol numbers named.
fn transport(v: &str) -> Option<String> {
    let v = v.trim();
    let name = match v {
        "1" => "icmp",
        "2" => "igmp",
        "6" => "tcp",
        "17" => "udp",
        "47" => "gre",
        "50" => "esp",
        "58" => "ipv6-icmp",
        "132" => "sctp",
        _ => {
            let l = v.to_ascii_lowercase();
            return (!matches!(l.as_str(), "" | "unknow" | "unknown" | "-" | "any")).then_some(l);
        }
    };
    Some(name.to_string())
}

impl Flow {
    /// Maps one vendor key (any case; H3C's `(1003)` already removed).
    fn assign(&mut self, key: &str, value: &str) {
        let k = key.trim().to_ascii_lowercase();
        match k.as_str() {
            "src" | "srcip" | "src_ip" | "sourceip" | "source-ip" | "source_ip" | "srcipaddr"
            | "sip" | "源ip" => self.src = self.src.or(ip(value)),
            "dst" | "dstip" | "dst_ip" | "destinationip" | "destination-ip" | "destination_ip"
            | "dstipaddr" | "destip" | "dest_ip" | "dip" | "目的ip" => {
                self.dst = self.dst.or(ip(value))
            }
            "sport" | "spt" | "srcport" | "src_port" | "sourceport" | "source-port"
            | "source_port" | "源端口" => self.sport = self.sport.or(port(value)),
            "dport" | "dpt" | "dstport" | "dst_port" | "destinationport" | "destination-port"
            | "destination_port" | "destport" | "目的端口" => {
                self.dport = self.dport.or(port(value))
            }
            "proto" | "protocol" => self.transport = self.transport.take().or(transport(value)),
            "action" | "rule" | "event" | "系统动作" | "act" => {
                self.action = self.action.or(Action::from_text(value))
            }
            "in" | "indev" | "inif" | "srcintf" | "inbound-interface" => {
                self.ingress = self.ingress.take().or(text(value))
            }
            "out" | "outdev" | "outif" | "dstintf" | "outbound-interface" => {
                self.egress = self.egress.take().or(text(value))
            }
            "srczonename" | "source-zone" | "srczone" | "src_zone" => {
                self.ingress_zone = self.ingress_zone.take().or(text(value))
            }
            "dstzonename" | "destination-zone" | "dstzone" | "dst_zone" => {
                self.egress_zone = self.egress_zone.take().or(text(value))
            }
            "policyid" | "policy_id" | "ruleid" | "rule_id" => {
                self.rule_id = self.rule_id.take().or(text(value))
            }
            "policyname" | "policy_name" | "rule-name" | "rulename" | "rule_name"
            | "securitypolicy" | "objectpolicy" | "策略名称" => {
                self.rule_name = self.rule_name.take().or(text(value))
            }
            "application" | "application-name" | "app" | "appname" | "应用名称" => {
                self.application = self.application.take().or(text(value))
            }
            "user" | "username" | "用户" => self.user = self.user.take().or(text(value)),
            "natsrcipaddr" => self.src_nat_ip = self.src_nat_ip.or(ip(value)),
            "natsrcport" => self.src_nat_port = self.src_nat_port.or(port(value)),
            "natdstipaddr" => self.dst_nat_ip = self.dst_nat_ip.or(ip(value)),
            "natdstport" => self.dst_nat_port = self.dst_nat_port.or(port(value)),
            "initbytecount" | "sentbytes" | "sent" => {
                self.src_bytes = self.src_bytes.or(count(value))
            }
            "rplybytecount" | "rcvdbytes" | "rcvd" => {
                self.dst_bytes = self.dst_bytes.or(count(value))
            }
            "initpktcount" => self.src_packets = self.src_packets.or(count(value)),
            "rplypktcount" => self.dst_packets = self.dst_packets.or(count(value)),
            _ => {}
        }
    }

    fn has_addresses(&self) -> bool {
        self.src.is_some() || self.dst.is_some()
    }

    fn emit(self, ev: &mut Event, vendor: Option<&str>, product: &str) {
        let mut types = vec![Value::from("connection")];
        match self.action {
            Some(Action::Block) => types.push("denied".into()),
            Some(Action::Allow) => types.push("allowed".into()),
            _ => {}
        }
        if let Some(p) = self.phase {
            types.push(p.into());
        }
        ev.set(ecs::EVENT_CATEGORY, Value::Array(vec!["network".into()]));
        ev.set(ecs::EVENT_TYPE, Value::Array(types));
        if let Some(a) = self.action {
            ev.set(ecs::EVENT_ACTION, a.name());
            // The connection's outcome: a blocked one failed.
            let outcome = match a {
                Action::Block => "failure",
                Action::Allow => "success",
                Action::Audit => "unknown",
            };
            ev.set(ecs::EVENT_OUTCOME, outcome);
        }
        ev.set(ecs::OBSERVER_TYPE, "firewall");
        if let Some(v) = vendor {
            ev.set(ecs::OBSERVER_VENDOR, v);
        }
        ev.set(ecs::OBSERVER_PRODUCT, product);
        set_all(
            ev,
            [
                (ecs::SOURCE_IP, self.src),
                (ecs::DESTINATION_IP, self.dst),
                (ecs::SOURCE_NAT_IP, self.src_nat_ip),
                (ecs::DESTINATION_NAT_IP, self.dst_nat_ip),
            ],
        );
        set_all(
            ev,
            [
                (ecs::SOURCE_PORT, self.sport),
                (ecs::DESTINATION_PORT, self.dport),
                (ecs::SOURCE_NAT_PORT, self.src_nat_port),
                (ecs::DESTINATION_NAT_PORT, self.dst_nat_port),
            ],
        );
        set_all(
            ev,
            [
                (ecs::SOURCE_BYTES, self.src_bytes),
                (ecs::DESTINATION_BYTES, self.dst_bytes),
                (ecs::SOURCE_PACKETS, self.src_packets),
                (ecs::DESTINATION_PACKETS, self.dst_packets),
            ],
        );
        set_all(
            ev,
            [
                (ecs::NETWORK_TRANSPORT, self.transport),
                (ecs::OBSERVER_INGRESS_INTERFACE_NAME, self.ingress),
                (ecs::OBSERVER_EGRESS_INTERFACE_NAME, self.egress),
                (ecs::OBSERVER_INGRESS_ZONE, self.ingress_zone),
                (ecs::OBSERVER_EGRESS_ZONE, self.egress_zone),
                (ecs::RULE_ID, self.rule_id),
                (ecs::RULE_NAME, self.rule_name),
                (ecs::NETWORK_APPLICATION, self.application),
                (ecs::USER_NAME, self.user),
            ],
        );
    }
}

/// Sets the fields whose values are known.
fn set_all<V: Into<Value>>(
    ev: &mut Event,
    fields: impl IntoIterator<Item = (&'static str, Option<V>)>,
) {
    for (k, v) in fields {
        if let Some(v) = v {
            ev.set(k, v);
        }
    }
}

/// Reads a firewall log out of a syslog message of program `app`, if it
/// is one; returns whether it was.
pub(crate) fn enrich(app: Option<&str>, msg: &str, ev: &mut Event) -> bool {
    let msg = msg.trim();
    if let Some(done) = netfilter(msg, ev) {
        return done;
    }
    if let Some(done) = comware(msg, ev) {
        return done;
    }
    // `… H3C %%10FILTER/6/FILTER_ZONE_IPV4_EXECUTION: SrcZoneName(1025)=…`:
    // the header ends in a colon, so the syslog parser took it as the tag.
    if let Some(tag) = app.filter(|a| a.starts_with("%%")) {
        if let Some(done) = comware(&format!("{tag}:{msg}"), ev) {
            return done;
        }
    }
    if let Some(done) = hillstone(msg, ev) {
        return done;
    }
    if msg.starts_with("id=tos ") {
        return keyed(msg, ev, Some("Topsec"), "TOS", "topsec");
    }
    if app == Some("fwlog") || msg.starts_with("日志类型:") {
        return sangfor(msg, ev);
    }
    if msg.contains('=') {
        return keyed(msg, ev, None, "firewall", "firewall");
    }
    false
}

/// Splits `key=value key="quoted value"` text; tokens without `=` are
/// skipped. Values lose a trailing `,` or `;` (some senders put both).
fn space_pairs(s: &str, max: usize) -> Vec<(&str, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < max {
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b'=' | b' ' | b'\t') {
            i += 1;
        }
        if b.get(i) != Some(&b'=') || i == start {
            while i < b.len() && !matches!(b[i], b' ' | b'\t') {
                i += 1;
            }
            continue;
        }
        let key = &s[start..i];
        i += 1;
        let value = if b.get(i) == Some(&b'"') {
            let vs = i + 1;
            let end = memchr::memchr(b'"', &b[vs..]).map_or(b.len(), |n| vs + n);
            i = (end + 1).min(b.len());
            &s[vs..end]
        } else {
            let vs = i;
            while i < b.len() && !matches!(b[i], b' ' | b'\t') {
                i += 1;
            }
            s[vs..i].trim_end_matches([',', ';'])
        };
        out.push((key, value));
    }
    out
}

/// Splits `k=v<sep>k=v` (or `k:v` with `kv = ':'`), trimming around each.
fn sep_pairs<'a>(s: &'a str, sep: char, kv: &[char], max: usize) -> Vec<(&'a str, &'a str)> {
    s.split(sep)
        .filter_map(|p| p.split_once(kv))
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty())
        .take(max)
        .collect()
}

/// Keeps the pairs as the device named them, under `<ns>.`.
fn keep_raw(ev: &mut Event, ns: &str, pairs: &[(&str, &str)]) {
    for (k, v) in pairs {
        if !v.is_empty() {
            ev.set(format!("{ns}.{k}"), *v);
        }
    }
}

/// `[UFW BLOCK] IN=eth0 OUT= MAC=… SRC=… DST=… … PROTO=TCP SPT=… DPT=… SYN`,
/// or with any `--log-prefix`, possibly behind the kernel's `[ 12.345]`.
fn netfilter(msg: &str, ev: &mut Event) -> Option<bool> {
    let at = find_word(msg, "IN=")?;
    let rest = &msg[at..];
    if !rest.contains(" OUT=") || !rest.contains(" SRC=") {
        return None;
    }
    let mut prefix = msg[..at].trim();
    // The kernel's uptime stamp, `[ 1234.567890]`, is not part of the prefix.
    if let Some(r) = prefix.strip_prefix('[') {
        if let Some((stamp, after)) = r.split_once(']') {
            if stamp
                .trim()
                .bytes()
                .all(|c| c.is_ascii_digit() || c == b'.')
            {
                prefix = after.trim();
            }
        }
    }
    let pairs = space_pairs(rest, MAX_PAIRS);
    let mut flow = Flow::default();
    for (k, v) in &pairs {
        if matches!(*k, "IN" | "OUT" | "SRC" | "DST" | "SPT" | "DPT" | "PROTO") {
            flow.assign(k, v);
        }
    }
    let flags: Vec<Value> = rest
        .split(' ')
        .skip_while(|t| !t.starts_with("PROTO=TCP"))
        .skip(1)
        .filter(|t| !t.is_empty() && !t.contains('=') && t.bytes().all(|c| c.is_ascii_uppercase()))
        .take(MAX_PAIRS)
        .map(Value::from)
        .collect();
    let name = prefix.trim_matches(['[', ']', ':', ' ']);
    flow.action = Some(Action::from_text(name).unwrap_or(Action::Audit));
    flow.rule_name = text(name);
    let product = if name.starts_with("UFW") {
        "ufw"
    } else {
        "iptables"
    };
    flow.emit(ev, Some("netfilter"), product);
    keep_raw(ev, "iptables", &pairs);
    if !flags.is_empty() {
        ev.set("iptables.tcp.flags", Value::Array(flags));
    }
    Some(true)
}

/// `needle` at the start of `s` or after a space or `]`.
fn find_word(s: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find_iter(s.as_bytes(), needle.as_bytes())
        .find(|&i| i == 0 || matches!(s.as_bytes()[i - 1], b' ' | b']'))
}

/// Huawei and H3C share the information-center header
/// `%%<version><MODULE>/<severity>/<MNEMONIC>[(l)]:`; the body tells them
/// apart: H3C keys carry a field id (`SrcIPAddr(1003)=`) and end in `;`,
/// Huawei's are `key=value,`.
fn comware(msg: &str, ev: &mut Event) -> Option<bool> {
    let (module, mnemonic, body) = memchr::memmem::find_iter(msg.as_bytes(), b"%%")
        .find_map(|i| info_center_header(&msg[i + 2..]))?;
    let h3c = body.contains(")=");
    let pairs: Vec<(&str, &str)> = if h3c {
        sep_pairs(body, ';', &['='], MAX_PAIRS)
            .into_iter()
            .map(|(k, v)| (k.split_once('(').map_or(k, |(name, _)| name), v))
            .collect()
    } else {
        let mut p = sep_pairs(body, ',', &['='], MAX_PAIRS);
        if let Some(last) = p.last_mut() {
            last.1 = last.1.trim_end_matches('.');
        }
        p
    };
    let mut flow = Flow::default();
    for (k, v) in &pairs {
        flow.assign(k, v);
    }
    if !flow.has_addresses() {
        return Some(false);
    }
    flow.action = flow.action.or_else(|| {
        let m = mnemonic.to_ascii_uppercase();
        if m.contains("DENY") || m.contains("DROP") {
            Some(Action::Block)
        } else if m.contains("PERMIT") {
            Some(Action::Allow)
        } else {
            None
        }
    });
    let (vendor, ns) = if h3c {
        ("H3C", "h3c")
    } else {
        ("Huawei", "huawei")
    };
    flow.emit(ev, Some(vendor), module);
    ev.set(ecs::EVENT_CODE, mnemonic);
    keep_raw(ev, ns, &pairs);
    Some(true)
}

/// After `%%`: two digits, `MODULE/severity/MNEMONIC`, an optional `(l)`,
/// a colon. Returns the module, the mnemonic and the body.
fn info_center_header(s: &str) -> Option<(&str, &str, &str)> {
    let b = s.as_bytes();
    if b.len() < 3 || !b[0].is_ascii_digit() || !b[1].is_ascii_digit() {
        return None;
    }
    let s = &s[2..];
    let colon = s.find(':')?;
    let head = &s[..colon];
    let head = head.split_once('(').map_or(head, |(h, _)| h);
    let mut parts = head.split('/');
    let (module, sev, mnemonic) = (parts.next()?, parts.next()?, parts.next()?);
    let word = |w: &str| !w.is_empty() && w.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if parts.next().is_some() || !word(module) || !word(mnemonic) || sev.parse::<u8>().is_err() {
        return None;
    }
    Some((module, mnemonic, &s[colon + 1..]))
}

/// `SESSION: 10.6.2.43:49608->192.168.20.160:11800(TCP), application
/// TCP-ANY, interface tunnel6, vr trust-vr, policy 1, user -@-, …, send
/// bytes 74, receive bytes 110, …, session end, TCP RST`.
fn hillstone(msg: &str, ev: &mut Event) -> Option<bool> {
    let at = find_word(msg, "SESSION: ")?;
    let rest = &msg[at + "SESSION: ".len()..];
    let (left, right) = rest.split_once("->")?;
    let open = right.find('(')?;
    let close = open + right[open..].find(')')?;
    let (sip, sport) = left.rsplit_once(':')?;
    let (dip, dport) = right[..open].rsplit_once(':')?;
    let mut flow = Flow {
        src: ip(sip),
        dst: ip(dip),
        sport: port(sport),
        dport: port(dport),
        transport: transport(&right[open + 1..close]),
        ..Flow::default()
    };
    if !flow.has_addresses() {
        return None;
    }
    let mut deny = false;
    for phrase in right[close + 1..].split(',').take(MAX_PAIRS) {
        let phrase = phrase.trim();
        let (key, value) = phrase.rsplit_once(' ').unwrap_or((phrase, ""));
        match key {
            "application" => flow.application = text(value),
            "interface" => flow.ingress = text(value),
            "policy" if value == "deny" => deny = true,
            "policy" => flow.rule_id = text(value),
            "user" => flow.user = text(value),
            "send bytes" => flow.src_bytes = count(value),
            "receive bytes" => flow.dst_bytes = count(value),
            "send packets" => flow.src_packets = count(value),
            "receive packets" => flow.dst_packets = count(value),
            "session" if value == "start" => flow.phase = Some("start"),
            "session" if value == "end" => flow.phase = Some("end"),
            _ => {}
        }
    }
    // A session log is of traffic a policy let through, unless it says deny.
    flow.action = Some(if deny { Action::Block } else { Action::Allow });
    flow.emit(ev, Some("Hillstone"), "StoneOS");
    Some(true)
}

/// `日志类型:服务控制或应用控制, 源IP:…, 源端口:…, 目的IP:…, 目的端口:…,
/// 系统动作:允许`.
fn sangfor(msg: &str, ev: &mut Event) -> bool {
    let pairs = sep_pairs(msg, ',', &[':', '：'], MAX_PAIRS);
    let mut flow = Flow::default();
    for (k, v) in &pairs {
        flow.assign(k, v);
    }
    if !flow.has_addresses() {
        return false;
    }
    flow.emit(ev, Some("Sangfor"), "AF");
    keep_raw(ev, "sangfor", &pairs);
    true
}

/// `key=value` lines (Topsec, and the generic reading for vendors whose
/// format was not found): taken as a firewall log only when both a source
/// and a destination address are named, so that other `k=v` messages
/// (sudo's `USER=root`) are left alone.
fn keyed(msg: &str, ev: &mut Event, vendor: Option<&str>, product: &str, ns: &str) -> bool {
    let pairs = space_pairs(msg, MAX_PAIRS);
    let mut flow = Flow::default();
    for (k, v) in &pairs {
        flow.assign(k, v);
    }
    if flow.src.is_none() || flow.dst.is_none() {
        return false;
    }
    let name = pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("fw") || k.eq_ignore_ascii_case("devname"))
        .and_then(|(_, v)| text(v));
    flow.emit(ev, vendor, product);
    if let Some(n) = name {
        ev.set(ecs::OBSERVER_NAME, n);
    }
    keep_raw(ev, ns, &pairs);
    true
}
