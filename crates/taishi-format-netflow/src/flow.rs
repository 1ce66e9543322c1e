//! NetFlow v5, v9 and IPFIX messages → one event per flow record.
//!
//! Templates are kept per exporter socket address, protocol version,
//! source id / observation domain id and template id. A data set whose
//! template is not known yet is rejected (and counted), not buffered:
//! exporters resend templates periodically, and a collector that buffers
//! unknown data unboundedly is a memory hazard on a busy port.
//!
//! The template cache is bounded too (NetFlow and IPFIX over UDP carry no
//! authentication, so anyone who can reach the port can send templates
//! from any number of made-up exporters and observation domains): at most
//! [`Limits::max_templates`] in all and [`Limits::max_per_exporter`] per
//! exporter address, the least recently refreshed evicted first, and a
//! template not refreshed for [`Limits::template_timeout`] is dropped
//! (RFC 7011 §8.4 template lifetime over UDP; exporters resend templates
//! every few minutes). Evictions and expiries are counted in [`Stats`].

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use taishi_event::{ecs, DecodeContext, Event, Location, Reject, Sink, Str, Value};

use crate::ie::{Ty, IANA};

/// RFC 5103 reverse-direction information elements use this enterprise
/// number with the forward element's id.
const REVERSE_PEN: u32 = 29305;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TemplateKey {
    exporter: SocketAddr,
    version: u16,
    domain: u32,
    id: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct DomainKey {
    exporter: SocketAddr,
    version: u16,
    domain: u32,
}

#[derive(Debug)]
struct Field {
    id: u16,
    pen: u32,
    /// 65535: variable length (IPFIX).
    len: u16,
    name: Str,
    ty: Ty,
    /// NetFlow v9 options scope fields use their own type numbers.
    v9_scope: bool,
}

#[derive(Debug)]
struct Template {
    fields: Vec<Field>,
    scope_count: usize,
    /// Smallest possible record: fixed lengths plus one prefix byte per
    /// variable-length field.
    min_len: usize,
}

/// What options data told us about an exporter, used to enrich its flows.
#[derive(Debug, Default)]
struct DomainMeta {
    sampling_interval: Option<u64>,
    system_init_ms: Option<i64>,
    vrf_names: HashMap<u64, Str>,
}

/// Counters a collector can show.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub messages: u64,
    pub flow_records: u64,
    pub options_records: u64,
    pub templates: u64,
    /// Data sets rejected because their template had not been seen.
    pub unknown_template_sets: u64,
    pub malformed: u64,
    /// Templates dropped to stay within [`Limits`] (the oldest first).
    pub templates_evicted: u64,
    /// Templates dropped because they were not refreshed in time.
    pub templates_expired: u64,
    /// Templates held now.
    pub templates_held: u64,
}

/// Bounds of the template cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_templates: usize,
    pub max_per_exporter: usize,
    pub template_timeout: Duration,
}

/// A busy collector sees tens of exporters with tens of templates each.
pub const DEFAULT_MAX_TEMPLATES: usize = 4096;
pub const DEFAULT_MAX_PER_EXPORTER: usize = 256;
/// RFC 7011 §8.4 leaves the lifetime to the collector; exporters resend
/// every few minutes (RFC 7011 suggests, Cisco defaults to 30 minutes).
pub const DEFAULT_TEMPLATE_TIMEOUT: Duration = Duration::from_secs(1800);
/// Options data per exporter domain: VRF names kept.
const MAX_VRF_NAMES: usize = 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_templates: DEFAULT_MAX_TEMPLATES,
            max_per_exporter: DEFAULT_MAX_PER_EXPORTER,
            template_timeout: DEFAULT_TEMPLATE_TIMEOUT,
        }
    }
}

#[derive(Debug)]
struct Held {
    t: Arc<Template>,
    /// Position in the refresh order (`Cache::order`).
    stamp: u64,
    refreshed: Instant,
}

/// Templates with their refresh order, overall and per exporter address,
/// so the oldest is found without a scan.
#[derive(Debug, Default)]
struct Cache {
    held: HashMap<TemplateKey, Held>,
    order: BTreeMap<u64, TemplateKey>,
    by_exporter: HashMap<SocketAddr, BTreeMap<u64, TemplateKey>>,
    next: u64,
}

impl Cache {
    fn remove(&mut self, key: &TemplateKey) -> bool {
        let Some(h) = self.held.remove(key) else {
            return false;
        };
        self.order.remove(&h.stamp);
        if let Some(m) = self.by_exporter.get_mut(&key.exporter) {
            m.remove(&h.stamp);
            if m.is_empty() {
                self.by_exporter.remove(&key.exporter);
            }
        }
        true
    }

    fn get(&self, key: &TemplateKey) -> Option<&Held> {
        self.held.get(key)
    }

    fn len(&self) -> usize {
        self.held.len()
    }
}

/// NetFlow/IPFIX state for any number of exporters.
#[derive(Debug, Default)]
pub struct Collector {
    templates: Cache,
    domains: HashMap<DomainKey, DomainMeta>,
    limits: Limits,
    pub stats: Stats,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn uint(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn hex(b: &[u8]) -> Str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(DIGITS[usize::from(x >> 4)] as char);
        s.push(DIGITS[usize::from(x & 15)] as char);
    }
    Str::from(s)
}

fn rfc3339(t: DateTime<FixedOffset>) -> Str {
    Str::from(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn from_millis(ms: i64) -> Option<DateTime<FixedOffset>> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.fixed_offset())
}

/// NTP timestamp (seconds since 1900 + 2^-32 fractions) → Unix time.
fn from_ntp(v: u64, micros_only: bool) -> Option<DateTime<FixedOffset>> {
    const NTP_UNIX_OFFSET: i64 = 2_208_988_800;
    let secs = (v >> 32) as i64 - NTP_UNIX_OFFSET;
    let mut frac = v & 0xffff_ffff;
    if micros_only {
        // RFC 7011 §6.1.9: the low 11 bits of a microsecond time are zero.
        frac &= !0x7ff;
    }
    let nanos = ((frac * 1_000_000_000) >> 32) as u32;
    DateTime::<Utc>::from_timestamp(secs, nanos).map(|t| t.fixed_offset())
}

pub fn protocol_name(p: u64) -> Option<&'static str> {
    Some(match p {
        0 => "hopopt",
        1 => "icmp",
        2 => "igmp",
        4 => "ipv4",
        6 => "tcp",
        8 => "egp",
        17 => "udp",
        27 => "rdp",
        41 => "ipv6",
        43 => "ipv6-route",
        44 => "ipv6-frag",
        46 => "rsvp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        59 => "ipv6-nonxt",
        60 => "ipv6-opts",
        88 => "eigrp",
        89 => "ospf",
        94 => "ipip",
        103 => "pim",
        112 => "vrrp",
        115 => "l2tp",
        132 => "sctp",
        136 => "udplite",
        137 => "mpls-in-ip",
        _ => return None,
    })
}

fn lookup_ie(id: u16) -> Option<(&'static str, Ty)> {
    IANA.binary_search_by_key(&id, |e| e.0)
        .ok()
        .map(|i| (IANA[i].1, IANA[i].2))
}

const V9_SCOPES: [&str; 5] = [
    "netflow.scope_system",
    "netflow.scope_interface",
    "netflow.scope_line_card",
    "netflow.scope_netflow_cache",
    "netflow.scope_template",
];

fn field_name(id: u16, pen: u32, v9_scope: bool) -> (Str, Ty) {
    if v9_scope {
        return match V9_SCOPES.get(usize::from(id).wrapping_sub(1)) {
            Some(n) => (Str::const_new(n), Ty::U),
            None => (
                compact_str::format_compact!("netflow.scope_{id}"),
                Ty::Bytes,
            ),
        };
    }
    match (pen, lookup_ie(id)) {
        (0, Some((name, ty))) => (Str::const_new(name), ty),
        (REVERSE_PEN, Some((name, ty))) => {
            let base = name.strip_prefix("netflow.").unwrap_or(name);
            (compact_str::format_compact!("netflow.reverse_{base}"), ty)
        }
        (0, None) => (compact_str::format_compact!("netflow.ie_{id}"), Ty::Bytes),
        (pen, _) => (
            compact_str::format_compact!("netflow.enterprise_{pen}_{id}"),
            Ty::Bytes,
        ),
    }
}

fn make_template(mut fields: Vec<Field>, scope_count: usize) -> Template {
    // A name that repeats in one template (Huawei exports inner and outer
    // headers with the same IEs) gets a numeric suffix so that the event
    // keeps both values under distinct names.
    for i in 1..fields.len() {
        let (before, rest) = fields.split_at_mut(i);
        let f = &mut rest[0];
        let n = before
            .iter()
            .filter(|g| g.id == f.id && g.pen == f.pen && g.v9_scope == f.v9_scope)
            .count();
        if n > 0 {
            f.name = compact_str::format_compact!("{}_{}", f.name, n + 1);
        }
    }
    let min_len = fields
        .iter()
        .map(|f| {
            if f.len == 65535 {
                1
            } else {
                usize::from(f.len)
            }
        })
        .sum();
    Template {
        fields,
        scope_count,
        min_len,
    }
}

/// Per-message header facts the records need.
#[derive(Clone, Copy)]
struct MsgInfo {
    exporter: SocketAddr,
    version: u16,
    domain: u32,
    export_ms: i64,
    /// v5/v9: router uptime at export, for the `*SysUpTime` fields.
    sys_uptime: Option<u32>,
    sequence: u32,
}

/// Flow facts gathered while the record's fields are written, for ECS.
#[derive(Default)]
struct Known {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    src_port: Option<u64>,
    dst_port: Option<u64>,
    proto: Option<u64>,
    bytes: Option<u64>,
    packets: Option<u64>,
    start: Option<DateTime<FixedOffset>>,
    end: Option<DateTime<FixedOffset>>,
    start_uptime: Option<u64>,
    end_uptime: Option<u64>,
    system_init_ms: Option<i64>,
    direction: Option<u64>,
    ingress_vrf: Option<u64>,
    egress_vrf: Option<u64>,
    sampling: Option<u64>,
    packet_interval: Option<u64>,
    packet_space: Option<u64>,
    sampling_size: Option<u64>,
    sampling_population: Option<u64>,
    vrf_name: Option<Str>,
}

impl Known {
    /// One packet in how many was sampled, from the PSAMP elements
    /// (RFC 5476): n-out-of-N gives N/n, systematic count-based gives
    /// (interval + space) / interval.
    fn sampling_interval(&self) -> Option<u64> {
        if let Some(v) = self
            .sampling_size
            .zip(self.sampling_population)
            .and_then(|(n, big_n)| big_n.checked_div(n))
        {
            return Some(v);
        }
        if let Some(v) = self
            .packet_interval
            .zip(self.packet_space)
            .and_then(|(i, sp)| i.saturating_add(sp).checked_div(i))
        {
            return Some(v);
        }
        self.sampling.or(self.packet_interval.filter(|&i| i > 0))
    }

    fn set_ip(slot: &mut Option<IpAddr>, ip: IpAddr) {
        // Keep a real address over an unspecified one when a template
        // carries both families (`::` beside a set IPv4 address).
        if slot.is_none_or(|cur| cur.is_unspecified() && !ip.is_unspecified()) {
            *slot = Some(ip);
        }
    }
}

impl Collector {
    pub fn with_limits(limits: Limits) -> Collector {
        Collector {
            limits,
            ..Collector::default()
        }
    }

    /// Stores (or refreshes) a template, evicting the least recently
    /// refreshed ones past the limits.
    fn put_template(&mut self, key: TemplateKey, t: Template) {
        let now = Instant::now();
        self.expire(now);
        let c = &mut self.templates;
        c.remove(&key);
        let per = self.limits.max_per_exporter.max(1);
        while c.by_exporter.get(&key.exporter).map_or(0, BTreeMap::len) >= per {
            let Some(old) = c
                .by_exporter
                .get(&key.exporter)
                .and_then(|m| m.values().next().copied())
            else {
                break;
            };
            c.remove(&old);
            self.stats.templates_evicted += 1;
        }
        while c.len() >= self.limits.max_templates.max(1) {
            let Some(old) = c.order.values().next().copied() else {
                break;
            };
            c.remove(&old);
            self.stats.templates_evicted += 1;
        }
        c.next += 1;
        let stamp = c.next;
        c.order.insert(stamp, key);
        c.by_exporter
            .entry(key.exporter)
            .or_default()
            .insert(stamp, key);
        c.held.insert(
            key,
            Held {
                t: Arc::new(t),
                stamp,
                refreshed: now,
            },
        );
        // Exporter metadata goes with the exporter's templates: options
        // data without a template is never read again.
        if self.domains.len() > self.limits.max_templates.max(1) {
            let live: std::collections::HashSet<DomainKey> = c
                .held
                .keys()
                .map(|k| DomainKey {
                    exporter: k.exporter,
                    version: k.version,
                    domain: k.domain,
                })
                .collect();
            self.domains.retain(|k, _| live.contains(k));
        }
        self.stats.templates_held = c.len() as u64;
    }

    /// Drops templates not refreshed within the timeout (oldest first, so
    /// this stops at the first fresh one).
    fn expire(&mut self, now: Instant) {
        let c = &mut self.templates;
        while let Some(key) = c.order.values().next().copied() {
            let stale = c
                .get(&key)
                .is_none_or(|h| now.duration_since(h.refreshed) > self.limits.template_timeout);
            if !stale {
                break;
            }
            c.remove(&key);
            self.stats.templates_expired += 1;
        }
        self.stats.templates_held = c.len() as u64;
    }

    fn template(&mut self, key: &TemplateKey) -> Option<Arc<Template>> {
        let h = self.templates.get(key)?;
        if h.refreshed.elapsed() > self.limits.template_timeout {
            self.templates.remove(key);
            self.stats.templates_expired += 1;
            self.stats.templates_held = self.templates.len() as u64;
            return None;
        }
        Some(h.t.clone())
    }

    /// Decodes one UDP payload from `exporter`. Returns the number of bytes
    /// the message used (IPFIX carries its length; v5 its record count) so
    /// that a file of concatenated messages can be walked.
    pub fn decode_message(
        &mut self,
        exporter: SocketAddr,
        payload: &[u8],
        loc: Location,
        ctx: &DecodeContext,
        sink: &mut dyn Sink,
    ) -> usize {
        let reject = |reason: String, offset: usize| {
            let mut l = loc;
            l.offset = Some(loc.offset.unwrap_or(0) + offset as u64);
            Reject::new(ctx, l, reason).raw(payload.get(offset..).unwrap_or_default())
        };
        let Some(version) = be16(payload, 0) else {
            self.stats.malformed += 1;
            sink.reject(reject("datagram shorter than a NetFlow header".into(), 0));
            return payload.len();
        };
        self.stats.messages += 1;
        match version {
            5 => self.v5(exporter, payload, &reject, ctx, sink),
            9 => self.v9(exporter, payload, &reject, sink),
            10 => self.ipfix(exporter, payload, &reject, sink),
            v => {
                self.stats.malformed += 1;
                sink.reject(reject(format!("unsupported NetFlow version {v}"), 0));
                payload.len()
            }
        }
    }

    fn v5(
        &mut self,
        exporter: SocketAddr,
        p: &[u8],
        reject: &dyn Fn(String, usize) -> Reject,
        _ctx: &DecodeContext,
        sink: &mut dyn Sink,
    ) -> usize {
        const HDR: usize = 24;
        const REC: usize = 48;
        if p.len() < HDR {
            self.stats.malformed += 1;
            sink.reject(reject(
                format!("NetFlow v5 header truncated ({} of 24 bytes)", p.len()),
                0,
            ));
            return p.len();
        }
        let count = usize::from(be16(p, 2).unwrap_or(0));
        let uptime = be32(p, 4).unwrap_or(0);
        let secs = be32(p, 8).unwrap_or(0);
        let nsecs = be32(p, 12).unwrap_or(0);
        let sequence = be32(p, 16).unwrap_or(0);
        let engine_type = p[20];
        let engine_id = p[21];
        let sampling = be16(p, 22).unwrap_or(0);
        let info = MsgInfo {
            exporter,
            version: 5,
            domain: (u32::from(engine_type) << 8) | u32::from(engine_id),
            export_ms: i64::from(secs) * 1000 + i64::from(nsecs / 1_000_000),
            sys_uptime: Some(uptime),
            sequence,
        };
        let available = (p.len() - HDR) / REC;
        if available < count {
            self.stats.malformed += 1;
            sink.reject(reject(
                format!("NetFlow v5 message announces {count} records but holds {available}"),
                HDR + available * REC,
            ));
        }
        let interval = u64::from(sampling & 0x3fff);
        for i in 0..count.min(available) {
            let r = &p[HDR + i * REC..HDR + (i + 1) * REC];
            let mut ev = Event::with_capacity(40);
            let mut k = Known::default();
            let ip4 = |o: usize| IpAddr::V4(Ipv4Addr::new(r[o], r[o + 1], r[o + 2], r[o + 3]));
            let u16_at = |o: usize| u64::from(u16::from_be_bytes([r[o], r[o + 1]]));
            let u32_at =
                |o: usize| u64::from(u32::from_be_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]));
            k.src = Some(ip4(0));
            k.dst = Some(ip4(4));
            k.packets = Some(u32_at(16));
            k.bytes = Some(u32_at(20));
            k.start_uptime = Some(u32_at(24));
            k.end_uptime = Some(u32_at(28));
            k.src_port = Some(u16_at(32));
            k.dst_port = Some(u16_at(34));
            k.proto = Some(u64::from(r[38]));
            if interval > 0 {
                k.sampling = Some(interval);
            }
            ev.push("netflow.source_ipv4_address", ip4(0));
            ev.push("netflow.destination_ipv4_address", ip4(4));
            ev.push("netflow.ip_next_hop_ipv4_address", ip4(8));
            ev.push("netflow.ingress_interface", u16_at(12));
            ev.push("netflow.egress_interface", u16_at(14));
            ev.push("netflow.packet_delta_count", u32_at(16));
            ev.push("netflow.octet_delta_count", u32_at(20));
            ev.push("netflow.flow_start_sys_up_time", u32_at(24));
            ev.push("netflow.flow_end_sys_up_time", u32_at(28));
            ev.push("netflow.source_transport_port", u16_at(32));
            ev.push("netflow.destination_transport_port", u16_at(34));
            ev.push("netflow.tcp_control_bits", u64::from(r[37]));
            ev.push("netflow.protocol_identifier", u64::from(r[38]));
            ev.push("netflow.ip_class_of_service", u64::from(r[39]));
            ev.push("netflow.bgp_source_as_number", u16_at(40));
            ev.push("netflow.bgp_destination_as_number", u16_at(42));
            ev.push("netflow.source_ipv4_prefix_length", u64::from(r[44]));
            ev.push("netflow.destination_ipv4_prefix_length", u64::from(r[45]));
            ev.push("netflow.engine_type", u64::from(engine_type));
            ev.push("netflow.engine_id", u64::from(engine_id));
            if sampling != 0 {
                ev.push("netflow.sampling_algorithm", u64::from(sampling >> 14));
                ev.push("netflow.sampling_interval", interval);
            }
            self.finish_event(ev, k, &info, false, sink);
        }
        HDR + count.min(available) * REC
    }

    fn v9(
        &mut self,
        exporter: SocketAddr,
        p: &[u8],
        reject: &dyn Fn(String, usize) -> Reject,
        sink: &mut dyn Sink,
    ) -> usize {
        const HDR: usize = 20;
        if p.len() < HDR {
            self.stats.malformed += 1;
            sink.reject(reject(
                format!("NetFlow v9 header truncated ({} of 20 bytes)", p.len()),
                0,
            ));
            return p.len();
        }
        let info = MsgInfo {
            exporter,
            version: 9,
            domain: be32(p, 16).unwrap_or(0),
            export_ms: i64::from(be32(p, 8).unwrap_or(0)) * 1000,
            sys_uptime: be32(p, 4),
            sequence: be32(p, 12).unwrap_or(0),
        };
        self.sets(p, HDR, p.len(), &info, reject, sink);
        p.len()
    }

    fn ipfix(
        &mut self,
        exporter: SocketAddr,
        p: &[u8],
        reject: &dyn Fn(String, usize) -> Reject,
        sink: &mut dyn Sink,
    ) -> usize {
        const HDR: usize = 16;
        if p.len() < HDR {
            self.stats.malformed += 1;
            sink.reject(reject(
                format!("IPFIX header truncated ({} of 16 bytes)", p.len()),
                0,
            ));
            return p.len();
        }
        let len = usize::from(be16(p, 2).unwrap_or(0));
        let mut end = len;
        if len < HDR {
            self.stats.malformed += 1;
            sink.reject(reject(
                format!("IPFIX message length {len} is below the header size"),
                2,
            ));
            return p.len();
        }
        if len > p.len() {
            self.stats.malformed += 1;
            sink.reject(reject(
                format!("IPFIX message of {len} bytes truncated to {}", p.len()),
                p.len(),
            ));
            end = p.len();
        }
        let info = MsgInfo {
            exporter,
            version: 10,
            domain: be32(p, 12).unwrap_or(0),
            export_ms: i64::from(be32(p, 4).unwrap_or(0)) * 1000,
            sys_uptime: None,
            sequence: be32(p, 8).unwrap_or(0),
        };
        self.sets(p, HDR, end, &info, reject, sink);
        end
    }

    fn sets(
        &mut self,
        p: &[u8],
        mut off: usize,
        end: usize,
        info: &MsgInfo,
        reject: &dyn Fn(String, usize) -> Reject,
        sink: &mut dyn Sink,
    ) {
        let ipfix = info.version == 10;
        while off + 4 <= end {
            let (Some(id), Some(len)) = (be16(p, off), be16(p, off + 2)) else {
                break;
            };
            let len = usize::from(len);
            if len < 4 {
                self.stats.malformed += 1;
                sink.reject(reject(
                    format!("set {id} has length {len} (< 4); rest of message skipped"),
                    off,
                ));
                return;
            }
            if off + len > end {
                self.stats.malformed += 1;
                sink.reject(reject(
                    format!("set {id} of {len} bytes runs past the end of the message"),
                    off,
                ));
                return;
            }
            let body = &p[off + 4..off + len];
            let body_off = off + 4;
            match (ipfix, id) {
                (false, 0) | (true, 2) => self.templates(body, body_off, info, false, reject, sink),
                (false, 1) | (true, 3) => self.templates(body, body_off, info, true, reject, sink),
                (_, 256..) => self.data(body, body_off, id, info, reject, sink),
                _ => {
                    self.stats.malformed += 1;
                    sink.reject(reject(format!("reserved set id {id}"), off));
                }
            }
            off += len;
        }
    }

    fn templates(
        &mut self,
        b: &[u8],
        base: usize,
        info: &MsgInfo,
        options: bool,
        reject: &dyn Fn(String, usize) -> Reject,
        sink: &mut dyn Sink,
    ) {
        let ipfix = info.version == 10;
        let mut off = 0;
        // Fewer bytes than a template header left: padding.
        while off + if options { 6 } else { 4 } <= b.len() {
            let start = off;
            let id = be16(b, off).unwrap_or(0);
            let a = usize::from(be16(b, off + 2).unwrap_or(0));
            let key = TemplateKey {
                exporter: info.exporter,
                version: info.version,
                domain: info.domain,
                id,
            };
            // (total fields, scope fields); v9 options give byte lengths.
            let (count, scope, v9_scope_count) = if !options {
                off += 4;
                (a, 0, 0)
            } else if ipfix {
                let s = usize::from(be16(b, off + 4).unwrap_or(0));
                off += 6;
                (a, s, 0)
            } else {
                let opt_len = usize::from(be16(b, off + 4).unwrap_or(0));
                off += 6;
                ((a + opt_len) / 4, a / 4, a / 4)
            };
            if id == 0 && !ipfix && !options && a == 0 {
                break; // padding of zeros
            }
            if count == 0 {
                // IPFIX template withdrawal.
                self.templates.remove(&key);
                self.stats.templates_held = self.templates.len() as u64;
                continue;
            }
            if id < 256 {
                self.stats.malformed += 1;
                sink.reject(reject(
                    format!("template id {id} is below 256"),
                    base + start,
                ));
                return;
            }
            if scope > count {
                self.stats.malformed += 1;
                sink.reject(reject(
                    format!("options template {id} has {scope} scope fields of {count}"),
                    base + start,
                ));
                return;
            }
            let mut fields = Vec::with_capacity(count);
            for i in 0..count {
                let (Some(fid), Some(flen)) = (be16(b, off), be16(b, off + 2)) else {
                    self.stats.malformed += 1;
                    sink.reject(reject(
                        format!("template {id} truncated at field {i} of {count}"),
                        base + start,
                    ));
                    return;
                };
                off += 4;
                let mut pen = 0;
                let mut fid = fid;
                if ipfix && fid & 0x8000 != 0 {
                    let Some(p) = be32(b, off) else {
                        self.stats.malformed += 1;
                        sink.reject(reject(
                            format!("template {id} truncated at field {i} of {count}"),
                            base + start,
                        ));
                        return;
                    };
                    pen = p;
                    fid &= 0x7fff;
                    off += 4;
                }
                if flen == 65535 && !ipfix {
                    self.stats.malformed += 1;
                    sink.reject(reject(
                        format!("NetFlow v9 template {id} has a variable-length field"),
                        base + start,
                    ));
                    return;
                }
                let v9_scope = i < v9_scope_count;
                let (name, ty) = field_name(fid, pen, v9_scope);
                fields.push(Field {
                    id: fid,
                    pen,
                    len: flen,
                    name,
                    ty,
                    v9_scope,
                });
            }
            self.stats.templates += 1;
            self.put_template(key, make_template(fields, scope));
            if options && !ipfix {
                // A v9 options template FlowSet holds one template and padding.
                break;
            }
        }
    }

    fn data(
        &mut self,
        b: &[u8],
        base: usize,
        id: u16,
        info: &MsgInfo,
        reject: &dyn Fn(String, usize) -> Reject,
        sink: &mut dyn Sink,
    ) {
        let key = TemplateKey {
            exporter: info.exporter,
            version: info.version,
            domain: info.domain,
            id,
        };
        let Some(t) = self.template(&key) else {
            self.stats.unknown_template_sets += 1;
            sink.reject(reject(
                format!(
                    "data set for template {id} (exporter {}, {} {}) before its template: {} bytes not decoded",
                    info.exporter,
                    if info.version == 10 { "observation domain" } else { "source id" },
                    info.domain,
                    b.len()
                ),
                base - 4,
            ));
            return;
        };
        if t.min_len == 0 {
            self.stats.malformed += 1;
            sink.reject(reject(
                format!("template {id} describes empty records"),
                base - 4,
            ));
            return;
        }
        let dk = DomainKey {
            exporter: info.exporter,
            version: info.version,
            domain: info.domain,
        };
        let mut off = 0;
        while off + t.min_len <= b.len() {
            let rec_start = off;
            let mut ev = Event::with_capacity(t.fields.len() + 28);
            let mut k = Known::default();
            let mut truncated = false;
            for f in &t.fields {
                let len = if f.len == 65535 {
                    let Some(&l) = b.get(off) else {
                        truncated = true;
                        break;
                    };
                    off += 1;
                    if l == 255 {
                        let Some(l) = be16(b, off) else {
                            truncated = true;
                            break;
                        };
                        off += 2;
                        usize::from(l)
                    } else {
                        usize::from(l)
                    }
                } else {
                    usize::from(f.len)
                };
                let Some(v) = b.get(off..off + len) else {
                    truncated = true;
                    break;
                };
                off += len;
                let value = decode_value(f.ty, v);
                if f.pen == 0 && !f.v9_scope {
                    note(&mut k, f.id, &value, v);
                }
                ev.push(f.name.clone(), value);
            }
            if truncated {
                self.stats.malformed += 1;
                sink.reject(reject(
                    format!("record of template {id} runs past the end of its set"),
                    base + rec_start,
                ));
                return;
            }
            let is_options = t.scope_count > 0;
            if is_options {
                // Options data also describes the exporter for later flows.
                let meta = self.domains.entry(dk).or_default();
                if let Some(s) = k.sampling_interval() {
                    meta.sampling_interval = Some(s);
                }
                if let Some(ms) = k.system_init_ms {
                    meta.system_init_ms = Some(ms);
                }
                if let (Some(name), Some(vrf)) = (&k.vrf_name, k.ingress_vrf.or(k.egress_vrf)) {
                    if meta.vrf_names.len() < MAX_VRF_NAMES || meta.vrf_names.contains_key(&vrf) {
                        meta.vrf_names.insert(vrf, name.clone());
                    }
                }
            }
            self.finish_event(ev, k, info, is_options, sink);
        }
    }

    /// Adds the ECS fields and the exporter fields, then hands the event on.
    fn finish_event(
        &mut self,
        mut ev: Event,
        k: Known,
        info: &MsgInfo,
        options: bool,
        sink: &mut dyn Sink,
    ) {
        let dk = DomainKey {
            exporter: info.exporter,
            version: info.version,
            domain: info.domain,
        };
        let meta = self.domains.get(&dk);
        let export = from_millis(info.export_ms);
        // *SysUpTime fields count from the exporter's boot: v5/v9 give the
        // uptime at export, IPFIX the boot time (systemInitTimeMilliseconds,
        // in the record or from options data).
        let uptime_to_time = |up: u64| -> Option<DateTime<FixedOffset>> {
            if let Some(sys) = info.sys_uptime {
                let delta = i64::from(sys.wrapping_sub(up as u32) as i32);
                from_millis(info.export_ms - delta)
            } else {
                let init = k.system_init_ms.or(meta.and_then(|m| m.system_init_ms))?;
                from_millis(init.checked_add(i64::try_from(up).ok()?)?)
            }
        };
        let start = k.start.or_else(|| k.start_uptime.and_then(uptime_to_time));
        let end = k.end.or_else(|| k.end_uptime.and_then(uptime_to_time));
        ev.timestamp = end.or(export);

        ev.push(ecs::EVENT_KIND, "event");
        ev.push(
            ecs::EVENT_CATEGORY,
            Value::Array(vec![Value::from("network")]),
        );
        ev.push(
            ecs::EVENT_TYPE,
            Value::Array(vec![Value::from(if options {
                "info"
            } else {
                "connection"
            })]),
        );
        ev.push(
            ecs::EVENT_ACTION,
            if options {
                "netflow_options"
            } else {
                "netflow_flow"
            },
        );
        ev.push(ecs::EVENT_MODULE, "netflow");
        ev.push(ecs::EVENT_DATASET, "netflow.log");
        ev.push(
            "netflow.type",
            if options {
                "netflow_options"
            } else {
                "netflow_flow"
            },
        );
        if let Some(s) = start {
            ev.push("event.start", rfc3339(s));
        }
        if let Some(e) = end {
            ev.push("event.end", rfc3339(e));
        }
        if let (Some(s), Some(e)) = (start, end) {
            if let Some(ns) = (e - s).num_nanoseconds() {
                ev.push(ecs::EVENT_DURATION, ns);
            }
        }
        if let Some(ip) = k.src {
            ev.push(ecs::SOURCE_IP, ip);
        }
        ev.push_some(ecs::SOURCE_PORT, k.src_port);
        if let Some(ip) = k.dst {
            ev.push(ecs::DESTINATION_IP, ip);
        }
        ev.push_some(ecs::DESTINATION_PORT, k.dst_port);
        if let Some(p) = k.proto {
            ev.push_some(ecs::NETWORK_TRANSPORT, protocol_name(p));
            ev.push("network.iana_number", p.to_string());
        }
        match k.src.or(k.dst) {
            Some(IpAddr::V4(_)) => ev.push("network.type", "ipv4"),
            Some(IpAddr::V6(_)) => ev.push("network.type", "ipv6"),
            None => {}
        }
        ev.push_some(ecs::NETWORK_BYTES, k.bytes);
        ev.push_some(ecs::NETWORK_PACKETS, k.packets);
        match k.direction {
            Some(0) => ev.push(ecs::NETWORK_DIRECTION, "ingress"),
            Some(1) => ev.push(ecs::NETWORK_DIRECTION, "egress"),
            _ => {}
        }
        if let Some(m) = meta {
            if let Some(n) = k.ingress_vrf.and_then(|v| m.vrf_names.get(&v)) {
                ev.push("netflow.ingress_vrf_name", n.clone());
            }
            if let Some(n) = k.egress_vrf.and_then(|v| m.vrf_names.get(&v)) {
                ev.push("netflow.egress_vrf_name", n.clone());
            }
        }
        // Raw payload files carry no exporter address.
        if !info.exporter.ip().is_unspecified() {
            ev.push(ecs::OBSERVER_IP, info.exporter.ip());
            ev.push("netflow.exporter.address", info.exporter.to_string());
        }
        ev.push("netflow.exporter.version", u64::from(info.version));
        if info.version == 10 {
            ev.push(
                "netflow.exporter.observation_domain_id",
                u64::from(info.domain),
            );
        } else if info.version == 9 {
            ev.push("netflow.exporter.source_id", u64::from(info.domain));
        }
        ev.push("netflow.exporter.sequence_number", u64::from(info.sequence));
        if let Some(t) = export {
            ev.push("netflow.exporter.timestamp", rfc3339(t));
        }
        ev.push_some(
            "netflow.exporter.uptime_millis",
            info.sys_uptime.map(u64::from),
        );
        let sampling = k
            .sampling_interval()
            .or(meta.and_then(|m| m.sampling_interval));
        if !options {
            ev.push_some("netflow.exporter.sampling_interval", sampling);
            self.stats.flow_records += 1;
        } else {
            self.stats.options_records += 1;
        }
        sink.event(ev);
    }
}

fn decode_value(ty: Ty, v: &[u8]) -> Value {
    match (ty, v.len()) {
        (Ty::U, 1..=8) => Value::UInt(uint(v)),
        (Ty::F, 4) => Value::Float(f64::from(f32::from_be_bytes([v[0], v[1], v[2], v[3]]))),
        (Ty::F, 8) => Value::Float(f64::from_bits(uint(v))),
        (Ty::Bool, 1) => match v[0] {
            1 => Value::Bool(true),
            2 => Value::Bool(false),
            _ => Value::UInt(u64::from(v[0])),
        },
        (Ty::Ip4, 4) => Value::from(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        (Ty::Ip6, 16) => {
            let mut o = [0u8; 16];
            o.copy_from_slice(v);
            Value::from(IpAddr::V6(Ipv6Addr::from(o)))
        }
        (Ty::Mac, 6) => Value::Str(compact_str::format_compact!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            v[0],
            v[1],
            v[2],
            v[3],
            v[4],
            v[5]
        )),
        (Ty::Str, _) => {
            // Fixed-length string fields are NUL-padded.
            let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
            Value::Str(Str::from(String::from_utf8_lossy(&v[..end])))
        }
        (Ty::Secs, 4) => from_millis(i64::from(uint(v) as u32) * 1000)
            .map_or(Value::UInt(uint(v)), |t| Value::Str(rfc3339(t))),
        (Ty::Millis, 8) => i64::try_from(uint(v))
            .ok()
            .and_then(from_millis)
            .map_or(Value::UInt(uint(v)), |t| Value::Str(rfc3339(t))),
        (Ty::Micros | Ty::Nanos, 8) => from_ntp(uint(v), ty == Ty::Micros)
            .map_or(Value::UInt(uint(v)), |t| Value::Str(rfc3339(t))),
        // A length the type does not allow: keep the bytes.
        _ => Value::Str(hex(v)),
    }
}

/// Picks the fields ECS needs out of a decoded IANA field.
fn note(k: &mut Known, id: u16, value: &Value, raw: &[u8]) {
    let u = || value.as_u64();
    let ip = || value.as_str().and_then(|s| s.parse::<IpAddr>().ok());
    let time = || value.as_str().and_then(taishi_event::time::parse_rfc3339);
    match id {
        1 | 85 => k.bytes = k.bytes.or(u()),
        2 | 86 => k.packets = k.packets.or(u()),
        4 => k.proto = k.proto.or(u()),
        7 | 180 | 182 => k.src_port = k.src_port.or(u()),
        11 | 181 | 183 => k.dst_port = k.dst_port.or(u()),
        8 | 27 => {
            if let Some(ip) = ip() {
                Known::set_ip(&mut k.src, ip);
            }
        }
        12 | 28 => {
            if let Some(ip) = ip() {
                Known::set_ip(&mut k.dst, ip);
            }
        }
        21 => k.end_uptime = u(),
        22 => k.start_uptime = u(),
        61 => k.direction = u(),
        34 => k.sampling = u().filter(|&s| s > 0).or(k.sampling),
        305 => k.packet_interval = u(),
        306 => k.packet_space = u(),
        309 => k.sampling_size = u(),
        310 => k.sampling_population = u(),
        150 | 152 | 154 | 156 => k.start = k.start.or(time()),
        151 | 153 | 155 | 157 => k.end = k.end.or(time()),
        160 if raw.len() == 8 => k.system_init_ms = i64::try_from(uint(raw)).ok(),
        234 => k.ingress_vrf = u(),
        235 => k.egress_vrf = u(),
        236 => k.vrf_name = value.as_str().map(Str::from),
        _ => {}
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use taishi_event::{Format, VecSink};

    /// An IPFIX message with one template (id `tid`, two fields:
    /// sourceIPv4Address, destinationIPv4Address) for observation domain
    /// `domain`, optionally followed by one data record of it.
    fn ipfix(domain: u32, tid: u16, data: bool) -> Vec<u8> {
        let mut sets = Vec::new();
        sets.extend_from_slice(&2u16.to_be_bytes());
        sets.extend_from_slice(&16u16.to_be_bytes());
        sets.extend_from_slice(&tid.to_be_bytes());
        sets.extend_from_slice(&2u16.to_be_bytes());
        sets.extend_from_slice(&[0, 8, 0, 4, 0, 12, 0, 4]);
        if data {
            sets.extend_from_slice(&tid.to_be_bytes());
            sets.extend_from_slice(&12u16.to_be_bytes());
            sets.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        }
        let mut m = Vec::new();
        m.extend_from_slice(&10u16.to_be_bytes());
        m.extend_from_slice(&((16 + sets.len()) as u16).to_be_bytes());
        m.extend_from_slice(&1_700_000_000u32.to_be_bytes());
        m.extend_from_slice(&1u32.to_be_bytes());
        m.extend_from_slice(&domain.to_be_bytes());
        m.extend_from_slice(&sets);
        m
    }

    fn feed(c: &mut Collector, from: SocketAddr, msg: &[u8], sink: &mut VecSink) {
        let ctx = DecodeContext::new("t", Format::Netflow);
        let loc = Location {
            line: None,
            offset: Some(0),
            record: Some(1),
        };
        c.decode_message(from, msg, loc, &ctx, sink);
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    fn per_exporter_max(c: &Collector) -> usize {
        let mut n: HashMap<SocketAddr, usize> = HashMap::new();
        for k in c.templates.held.keys() {
            *n.entry(k.exporter).or_default() += 1;
        }
        n.values().copied().max().unwrap_or(0)
    }

    #[test]
    fn many_domains_are_evicted_oldest_first_and_counted() {
        let mut c = Collector::with_limits(Limits {
            max_templates: 64,
            max_per_exporter: 16,
            template_timeout: Duration::from_secs(3600),
        });
        let mut sink = VecSink::default();
        for d in 0..1000u32 {
            feed(
                &mut c,
                addr(2055 + (d % 10) as u16),
                &ipfix(d, 256, false),
                &mut sink,
            );
        }
        assert!(c.templates.len() <= 64);
        assert!(per_exporter_max(&c) <= 16);
        assert_eq!(c.stats.templates, 1000);
        assert_eq!(c.stats.templates_evicted, 1000 - c.templates.len() as u64);
        assert_eq!(c.stats.templates_held, c.templates.len() as u64);
        // The newest still decodes; an evicted one is an unknown template.
        feed(&mut c, addr(2055 + 9), &ipfix(999, 256, true), &mut sink);
        assert_eq!(sink.events.len(), 1);
        let before = c.stats.unknown_template_sets;
        let mut m = ipfix(0, 256, true);
        // Keep only the data set: drop the template set (16 bytes).
        m.drain(16..32);
        let len = m.len() as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        feed(&mut c, addr(2055), &m, &mut sink);
        assert_eq!(c.stats.unknown_template_sets, before + 1);
    }

    #[test]
    fn templates_not_refreshed_expire() {
        let mut c = Collector::with_limits(Limits {
            template_timeout: Duration::from_millis(50),
            ..Limits::default()
        });
        let mut sink = VecSink::default();
        feed(&mut c, addr(1), &ipfix(1, 300, true), &mut sink);
        assert_eq!(sink.events.len(), 1);
        std::thread::sleep(Duration::from_millis(120));
        // Another exporter's template sweeps the stale one out.
        feed(&mut c, addr(2), &ipfix(1, 300, false), &mut sink);
        assert_eq!(c.stats.templates_expired, 1);
        assert_eq!(c.templates.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn random_template_traffic_stays_within_bounds(
            ops in proptest::collection::vec((0u16..8, 0u32..40, 256u16..300, proptest::bool::ANY), 1..400),
            max_templates in 1usize..50,
            max_per_exporter in 1usize..20,
        ) {
            let mut c = Collector::with_limits(Limits {
                max_templates,
                max_per_exporter,
                template_timeout: Duration::from_secs(3600),
            });
            let mut sink = VecSink::default();
            for (port, domain, tid, data) in ops {
                feed(&mut c, addr(port), &ipfix(domain, tid, data), &mut sink);
                proptest::prop_assert!(c.templates.len() <= max_templates);
                proptest::prop_assert!(per_exporter_max(&c) <= max_per_exporter);
                proptest::prop_assert_eq!(c.templates.order.len(), c.templates.len());
                let indexed: usize = c.templates.by_exporter.values().map(BTreeMap::len).sum();
                proptest::prop_assert_eq!(indexed, c.templates.len());
                proptest::prop_assert!(c.domains.len() <= max_templates.max(1) + 1);
            }
        }
    }
}
