//! The in-memory matcher: every indicator type in its own compact index,
//! probed from one pass over an event's fields.
//!
//! - addresses: `u32`/`u128` hash maps; networks: one map per prefix length
//!   present, longest first, behind a bitmap of the IPv4 /16s any network
//!   touches (most addresses skip every network probe);
//! - domains: the name and each parent (`a.b.evil.example`, `b.evil.example`,
//!   `evil.example`) probed in one map, lower-cased on the stack;
//! - URLs: a host set first (no work for URLs on hosts without indicators),
//!   then the normalised URL;
//! - hashes and JA3: decoded from hex on the stack into fixed-size keys;
//! - indicators sharing context (source, TLP, labels, family, ATT&CK) share
//!   one interned copy of it.
//!
//! Nothing is allocated for an event that matches nothing.

use crate::model::DataError;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use ipnet::IpNet;
use serde::Serialize;
use taishi_event::{Event, Value};

use crate::fields::path_fields;
use crate::model::{
    format_ip_port, parse_ip_port, CondOp, Condition, Indicator, IndicatorType, Tlp,
};
use crate::url::{normalise_url, url_host};
use crate::warninglist::Warninglists;

const NONE: u32 = u32::MAX;

/// What an indicator says about the thing it names, shared by every
/// indicator with the same context.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IndicatorContext {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlp: Option<Tlp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub malware: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attack: Vec<String>,
}

/// One indicator matched by one event field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntelHit {
    /// The event field that matched (`destination.ip`, `dns.question.name`).
    pub field: &'static str,
    /// The event's value in that field.
    pub matched: String,
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// The indicator's (normalised) value: for a domain hit on a subdomain,
    /// the parent domain; for a network, the network.
    pub indicator: String,
    #[serde(flatten)]
    pub context: Arc<IndicatorContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// Raised by a retro-hunt over stored events, not at ingest.
    pub retrospective: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    ctx: u32,
    /// Next indicator with the same key (another source or condition set).
    next: u32,
    /// Index into `conds`, or NONE.
    cond: u32,
    valid_from: i64,
    valid_until: i64,
    first_seen: i64,
    last_seen: i64,
}

#[derive(Debug)]
enum CompiledOp {
    Eq(Vec<String>),
    Regex(regex::Regex),
    Subset(Vec<IpNet>),
    Num(CondOp, f64),
}

#[derive(Debug)]
struct CompiledCond {
    fields: &'static [&'static str],
    op: CompiledOp,
    negated: bool,
}

/// Counts of what the matcher holds and what it left out.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize)]
pub struct MatcherStats {
    pub indicators: u64,
    pub by_type: BTreeMap<String, u64>,
    /// Indicators a warninglist covers, by list name.
    pub suppressed: BTreeMap<String, u64>,
    /// Indicators whose `valid_until` had passed when the matcher was built.
    pub expired: u64,
    /// Indicators whose conditions could not be compiled, with the reason.
    pub unusable: Vec<String>,
    pub contexts: u64,
}

/// Builds a [`Matcher`] from indicators.
pub struct MatcherBuilder {
    m: Matcher,
    ctx_ids: HashMap<Arc<IndicatorContext>, u32>,
    last_ctx: Option<(u32, Arc<IndicatorContext>)>,
    cidr4_long: HashMap<(u32, u8), u32>,
    kind_counts: [u64; IndicatorType::ALL.len()],
    warninglists: Warninglists,
    now: DateTime<Utc>,
}

impl Default for MatcherBuilder {
    fn default() -> Self {
        MatcherBuilder::new(Warninglists::default())
    }
}

impl MatcherBuilder {
    pub fn new(warninglists: Warninglists) -> MatcherBuilder {
        MatcherBuilder {
            m: Matcher::empty(),
            ctx_ids: HashMap::new(),
            last_ctx: None,
            cidr4_long: HashMap::new(),
            kind_counts: [0; IndicatorType::ALL.len()],
            warninglists,
            now: Utc::now(),
        }
    }

    /// Adds one indicator (skipped, and counted, when expired or covered by
    /// a warninglist).
    pub fn add(&mut self, ind: &Indicator) {
        if ind.valid_until.is_some_and(|u| u <= self.now) {
            self.m.stats.expired += 1;
            return;
        }
        if let Some(list) = self.warninglists.check(ind) {
            *self.m.stats.suppressed.entry(list.to_string()).or_default() += 1;
            return;
        }
        let cond = if ind.conditions.is_empty() {
            NONE
        } else {
            match compile_conditions(&ind.conditions) {
                Ok(c) => {
                    self.m.conds.push(c);
                    (self.m.conds.len() - 1) as u32
                }
                Err(e) => {
                    self.m
                        .stats
                        .unusable
                        .push(format!("{} {}: {e}", ind.kind, ind.value));
                    return;
                }
            }
        };
        let ctx = self.context(ind);
        let idx = self.m.entries.len() as u32;
        let mut entry = Entry {
            ctx,
            next: NONE,
            cond,
            valid_from: ind.valid_from.map_or(i64::MIN, |t| t.timestamp()),
            valid_until: ind.valid_until.map_or(i64::MAX, |t| t.timestamp()),
            first_seen: ind.first_seen.map_or(i64::MIN, |t| t.timestamp()),
            last_seen: ind.last_seen.map_or(i64::MIN, |t| t.timestamp()),
        };
        if !self.index(ind, idx) {
            self.m
                .stats
                .unusable
                .push(format!("{} {}: not a valid value", ind.kind, ind.value));
            return;
        }
        entry.next = self.m.pending;
        self.m.entries.push(entry);
        self.m.stats.indicators += 1;
        if let Some(n) = self.kind_counts.get_mut(ind.kind as usize) {
            *n += 1;
        }
    }

    fn context(&mut self, ind: &Indicator) -> u32 {
        // Feeds write runs of indicators with one context: compare with the
        // last one before building (and allocating) a key.
        if let Some((id, last)) = &self.last_ctx {
            if last.source == ind.source
                && last.id == ind.id
                && last.name == ind.name
                && last.description == ind.description
                && last.confidence == ind.confidence
                && last.tlp == ind.tlp
                && last.labels == ind.labels
                && last.malware == ind.malware
                && last.attack == ind.attack
            {
                return *id;
            }
        }
        let id = self.context_slow(ind);
        if let Some(c) = self.m.contexts.get(id as usize) {
            self.last_ctx = Some((id, c.clone()));
        }
        id
    }

    fn context_slow(&mut self, ind: &Indicator) -> u32 {
        let c = IndicatorContext {
            source: ind.source.clone(),
            id: ind.id.clone(),
            name: ind.name.clone(),
            description: ind.description.clone(),
            confidence: ind.confidence,
            tlp: ind.tlp,
            labels: ind.labels.clone(),
            malware: ind.malware.clone(),
            attack: ind.attack.clone(),
        };
        if let Some(&id) = self.ctx_ids.get(&c) {
            return id;
        }
        let arc = Arc::new(c);
        let id = self.m.contexts.len() as u32;
        self.m.contexts.push(arc.clone());
        self.ctx_ids.insert(arc, id);
        id
    }

    /// Puts `idx` at the head of its key's chain; the previous head becomes
    /// its `next` (stored in `pending_next` until the entry is pushed).
    fn index(&mut self, ind: &Indicator, idx: u32) -> bool {
        let m = &mut self.m;
        let v = ind.value.as_str();
        let prev = match ind.kind {
            IndicatorType::Ip => match v.parse::<IpAddr>() {
                Ok(IpAddr::V4(a)) => m.ip4.insert(u32::from(a), idx),
                Ok(IpAddr::V6(a)) => m.ip6.insert(u128::from(a), idx),
                Err(_) => return false,
            },
            IndicatorType::Cidr => match v.parse::<IpNet>() {
                Ok(IpNet::V4(n)) => {
                    let len = n.prefix_len();
                    let key = u32::from(n.network());
                    if len >= 16 {
                        self.cidr4_long.insert((key, len), idx)
                    } else {
                        prefix_map(&mut m.cidr4, len).insert(key, idx)
                    }
                }
                Ok(IpNet::V6(n)) => {
                    let map = prefix_map(&mut m.cidr6, n.prefix_len());
                    map.insert(u128::from(n.network()), idx)
                }
                Err(_) => return false,
            },
            IndicatorType::Domain => m.domains.insert(v.into(), idx),
            IndicatorType::Url => {
                let Some(host) = url_host(v) else {
                    return false;
                };
                m.url_hosts.insert(host.to_ascii_lowercase().into());
                m.urls.insert(v.into(), idx)
            }
            IndicatorType::Md5 => match hex::<16>(v) {
                Some(k) => m.md5.insert(k, idx),
                None => return false,
            },
            IndicatorType::Sha1 => match hex::<20>(v) {
                Some(k) => m.sha1.insert(k, idx),
                None => return false,
            },
            IndicatorType::Sha256 => match hex::<32>(v) {
                Some(k) => m.sha256.insert(k, idx),
                None => return false,
            },
            IndicatorType::Ja3 => match hex::<16>(v) {
                Some(k) => m.ja3.insert(k, idx),
                None => return false,
            },
            IndicatorType::Ja3s => match hex::<16>(v) {
                Some(k) => m.ja3s.insert(k, idx),
                None => return false,
            },
            IndicatorType::Ja4 => m.ja4.insert(v.into(), idx),
            IndicatorType::Email => m.emails.insert(v.into(), idx),
            IndicatorType::IpPort => match parse_ip_port(v) {
                Some((IpAddr::V4(a), p)) => m
                    .ipport4
                    .insert((u64::from(u32::from(a)) << 16) | u64::from(p), idx),
                Some((IpAddr::V6(a), p)) => m.ipport6.insert((u128::from(a), p), idx),
                None => return false,
            },
            IndicatorType::Pattern => {
                m.scan.push((idx, v.into()));
                None
            }
        };
        self.pending_next(prev);
        true
    }

    fn pending_next(&mut self, prev: Option<u32>) {
        self.m.pending = prev.unwrap_or(NONE);
    }

    pub fn build(mut self) -> Matcher {
        self.m.stats.contexts = self.m.contexts.len() as u64;
        self.m.cidr4.sort_by_key(|m| std::cmp::Reverse(m.0));
        // Networks of /16 or longer: bucketed by their /16, so a lookup is
        // one index and a scan of the (usually one or two) networks there.
        let mut long: Vec<(u32, u8, u32)> = self
            .cidr4_long
            .drain()
            .map(|((net, len), idx)| (net, len, idx))
            .collect();
        long.sort_unstable_by_key(|&(net, len, _)| (net, std::cmp::Reverse(len)));
        if !long.is_empty() {
            let mut start = vec![0u32; 65537];
            for &(net, _, _) in &long {
                start[(net >> 16) as usize + 1] += 1;
            }
            for i in 1..start.len() {
                start[i] += start[i - 1];
            }
            self.m.cidr4_start = start.into_boxed_slice();
        }
        self.m.cidr4_long = long.into_boxed_slice();
        for (i, n) in self.kind_counts.iter().enumerate() {
            if *n > 0 {
                if let Some(k) = IndicatorType::ALL.get(i) {
                    self.m.stats.by_type.insert(k.as_str().to_string(), *n);
                }
            }
        }
        self.m.cidr6.sort_by_key(|m| std::cmp::Reverse(m.0));
        self.m.has = Has {
            ip: !(self.m.ip4.is_empty() && self.m.ip6.is_empty()),
            cidr: !(self.m.cidr4.is_empty()
                && self.m.cidr6.is_empty()
                && self.m.cidr4_long.is_empty()),
            domain: !self.m.domains.is_empty(),
            url: !self.m.urls.is_empty(),
            md5: !self.m.md5.is_empty(),
            sha1: !self.m.sha1.is_empty(),
            sha256: !self.m.sha256.is_empty(),
            email: !self.m.emails.is_empty(),
            ja3: !self.m.ja3.is_empty(),
            ja3s: !self.m.ja3s.is_empty(),
            ja4: !self.m.ja4.is_empty(),
            ipport: !(self.m.ipport4.is_empty() && self.m.ipport6.is_empty()),
        };
        self.m
    }
}

fn prefix_map<K>(maps: &mut Vec<(u8, HashMap<K, u32>)>, len: u8) -> &mut HashMap<K, u32> {
    let pos = match maps.iter().position(|(l, _)| *l == len) {
        Some(p) => p,
        None => {
            maps.push((len, HashMap::new()));
            maps.len() - 1
        }
    };
    &mut maps[pos].1
}

fn compile_conditions(conds: &[Condition]) -> Result<Vec<CompiledCond>, DataError> {
    conds
        .iter()
        .map(|c| {
            let fields = path_fields(&c.path)
                .ok_or_else(|| format!("object path {} is not evaluated by Taishi", c.path))?;
            let op = match c.op {
                CondOp::Eq => CompiledOp::Eq(c.values.iter().map(|v| v.to_lowercase()).collect()),
                CondOp::Matches => CompiledOp::Regex(
                    regex::Regex::new(c.values.first().map_or("", String::as_str))
                        .map_err(|e| format!("MATCHES: {e}"))?,
                ),
                CondOp::Like => CompiledOp::Regex(
                    regex::Regex::new(&like_regex(c.values.first().map_or("", String::as_str)))
                        .map_err(|e| format!("LIKE: {e}"))?,
                ),
                CondOp::Subset => CompiledOp::Subset(
                    c.values
                        .iter()
                        .map(|v| {
                            v.parse::<IpNet>()
                                .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
                                .map_err(|_| format!("ISSUBSET: {v:?} is not a network"))
                        })
                        .collect::<Result<_, _>>()?,
                ),
                op @ (CondOp::Gt | CondOp::Ge | CondOp::Lt | CondOp::Le) => CompiledOp::Num(
                    op,
                    c.values
                        .first()
                        .and_then(|v| v.parse::<f64>().ok())
                        .ok_or_else(|| format!("{} needs a number", c.path))?,
                ),
            };
            Ok(CompiledCond {
                fields,
                op,
                negated: c.negated,
            })
        })
        .collect()
}

/// SQL `LIKE` as an anchored regular expression.
pub fn like_regex(p: &str) -> String {
    let mut out = String::from("(?s)^");
    for ch in p.chars() {
        match ch {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out.push('$');
    out
}

fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        let h = hexv(b[i * 2])?;
        let l = hexv(b[i * 2 + 1])?;
        *o = (h << 4) | l;
    }
    Some(out)
}

#[inline]
fn hexv(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn to_hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

#[derive(Debug, Default, Clone, Copy)]
struct Has {
    ip: bool,
    cidr: bool,
    domain: bool,
    url: bool,
    md5: bool,
    sha1: bool,
    sha256: bool,
    email: bool,
    ja3: bool,
    ja3s: bool,
    ja4: bool,
    ipport: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Ip,
    Domain,
    Url,
    Md5,
    Sha1,
    Sha256,
    Email,
    Ja3,
    Ja3s,
    Ja4,
    SrcIp,
    DstIp,
    SrcPort,
    DstPort,
}

/// The slot of a field name, dispatched on length first so an event's
/// uninteresting fields cost one integer compare each.
#[inline]
fn slot(name: &str) -> Option<(Slot, &'static str)> {
    use Slot::*;
    let s = match name.len() {
        8 => match name {
            "url.full" => (Url, "url.full"),
            _ => return None,
        },
        9 => match name {
            "source.ip" => (SrcIp, "source.ip"),
            "client.ip" => (Ip, "client.ip"),
            "server.ip" => (Ip, "server.ip"),
            _ => return None,
        },
        10 => match name {
            "url.domain" => (Domain, "url.domain"),
            "user.email" => (Email, "user.email"),
            _ => return None,
        },
        11 => match name {
            "source.port" => (SrcPort, "source.port"),
            _ => return None,
        },
        12 => match name {
            "url.original" => (Url, "url.original"),
            _ => return None,
        },
        13 => match name {
            "server.domain" => (Domain, "server.domain"),
            "file.hash.md5" => (Md5, "file.hash.md5"),
            "dll.hash.md5" => (Md5, "dll.hash.md5"),
            _ => return None,
        },
        14 => match name {
            "destination.ip" => (DstIp, "destination.ip"),
            "file.hash.sha1" => (Sha1, "file.hash.sha1"),
            "tls.client.ja3" => (Ja3, "tls.client.ja3"),
            "tls.client.ja4" => (Ja4, "tls.client.ja4"),
            "dll.hash.sha1" => (Sha1, "dll.hash.sha1"),
            _ => return None,
        },
        15 => match name {
            "dns.resolved_ip" => (Ip, "dns.resolved_ip"),
            "tls.server.ja3s" => (Ja3s, "tls.server.ja3s"),
            "dll.hash.sha256" => (Sha256, "dll.hash.sha256"),
            _ => return None,
        },
        16 => match name {
            "file.hash.sha256" => (Sha256, "file.hash.sha256"),
            "process.hash.md5" => (Md5, "process.hash.md5"),
            "destination.port" => (DstPort, "destination.port"),
            _ => return None,
        },
        17 => match name {
            "dns.question.name" => (Domain, "dns.question.name"),
            "process.hash.sha1" => (Sha1, "process.hash.sha1"),
            "source.user.email" => (Email, "source.user.email"),
            _ => return None,
        },
        18 => match name {
            "destination.domain" => (Domain, "destination.domain"),
            "email.from.address" => (Email, "email.from.address"),
            "email.to.address" => (Email, "email.to.address"),
            _ => return None,
        },
        19 => match name {
            "process.hash.sha256" => (Sha256, "process.hash.sha256"),
            _ => return None,
        },
        20 => match name {
            "tls.server.hash.sha1" => (Sha1, "tls.server.hash.sha1"),
            "email.sender.address" => (Email, "email.sender.address"),
            _ => return None,
        },
        22 => match name {
            "tls.client.server_name" => (Domain, "tls.client.server_name"),
            "tls.server.hash.sha256" => (Sha256, "tls.server.hash.sha256"),
            "email.reply_to.address" => (Email, "email.reply_to.address"),
            _ => return None,
        },
        _ => return None,
    };
    Some(s)
}

/// Indicators indexed for matching. Build with [`MatcherBuilder`] (or
/// [`crate::IndicatorStore::load_matcher`]); share behind an `Arc` and swap
/// when feeds change.
#[derive(Debug)]
pub struct Matcher {
    entries: Vec<Entry>,
    contexts: Vec<Arc<IndicatorContext>>,
    conds: Vec<Vec<CompiledCond>>,
    ip4: HashMap<u32, u32>,
    ip6: HashMap<u128, u32>,
    cidr4: Vec<(u8, HashMap<u32, u32>)>,
    cidr6: Vec<(u8, HashMap<u128, u32>)>,
    /// IPv4 networks of prefix ≥ 16 as (network, prefix, entry), sorted,
    /// with `cidr4_start[b16]..cidr4_start[b16 + 1]` the ones in each /16.
    cidr4_long: Box<[(u32, u8, u32)]>,
    cidr4_start: Box<[u32]>,
    domains: HashMap<Box<str>, u32>,
    urls: HashMap<Box<str>, u32>,
    url_hosts: HashSet<Box<str>>,
    md5: HashMap<[u8; 16], u32>,
    sha1: HashMap<[u8; 20], u32>,
    sha256: HashMap<[u8; 32], u32>,
    emails: HashMap<Box<str>, u32>,
    ja3: HashMap<[u8; 16], u32>,
    ja3s: HashMap<[u8; 16], u32>,
    ja4: HashMap<Box<str>, u32>,
    ipport4: HashMap<u64, u32>,
    ipport6: HashMap<(u128, u16), u32>,
    /// `Pattern` indicators: evaluated on every event.
    scan: Vec<(u32, Box<str>)>,
    has: Has,
    pending: u32,
    stats: MatcherStats,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher::empty()
    }
}

/// Per-call state: the clock is read once, and only when something hit.
struct Cx<'a> {
    m: &'a Matcher,
    now: Option<i64>,
    out: &'a mut Vec<IntelHit>,
    event: &'a Event,
}

impl Matcher {
    fn empty() -> Matcher {
        Matcher {
            entries: Vec::new(),
            contexts: Vec::new(),
            conds: Vec::new(),
            ip4: HashMap::new(),
            ip6: HashMap::new(),
            cidr4: Vec::new(),
            cidr6: Vec::new(),
            cidr4_long: Box::new([]),
            cidr4_start: Box::new([]),
            domains: HashMap::new(),
            urls: HashMap::new(),
            url_hosts: HashSet::new(),
            md5: HashMap::new(),
            sha1: HashMap::new(),
            sha256: HashMap::new(),
            emails: HashMap::new(),
            ja3: HashMap::new(),
            ja3s: HashMap::new(),
            ja4: HashMap::new(),
            ipport4: HashMap::new(),
            ipport6: HashMap::new(),
            scan: Vec::new(),
            has: Has::default(),
            pending: NONE,
            stats: MatcherStats::default(),
        }
    }

    /// Builds a matcher from a slice of indicators.
    pub fn from_indicators<'a>(
        indicators: impl IntoIterator<Item = &'a Indicator>,
        warninglists: Warninglists,
    ) -> Matcher {
        let mut b = MatcherBuilder::new(warninglists);
        for i in indicators {
            b.add(i);
        }
        b.build()
    }

    pub fn stats(&self) -> &MatcherStats {
        &self.stats
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends to `out` a hit for every active indicator the event matches
    /// (at most one per indicator). Only the fields listed in
    /// [`crate::fields`] are read; an event that matches nothing costs one
    /// pass over its field names and a few hash probes, and allocates
    /// nothing.
    pub fn match_event(&self, event: &Event, out: &mut Vec<IntelHit>) {
        if self.entries.is_empty() {
            return;
        }
        let start = out.len();
        let mut cx = Cx {
            m: self,
            now: None,
            out,
            event,
        };
        let h = self.has;
        let (mut src_ip, mut dst_ip, mut src_port, mut dst_port) = (None, None, None, None);
        for (name, value) in event.fields() {
            let Some((slot, field)) = slot(name) else {
                continue;
            };
            match slot {
                Slot::SrcIp => {
                    src_ip = Some(value);
                    if h.ip || h.cidr {
                        for_each_str(value, |s| cx.ip(field, s));
                    }
                }
                Slot::DstIp => {
                    dst_ip = Some(value);
                    if h.ip || h.cidr {
                        for_each_str(value, |s| cx.ip(field, s));
                    }
                }
                Slot::SrcPort => src_port = Some(value),
                Slot::DstPort => dst_port = Some(value),
                Slot::Ip if h.ip || h.cidr => for_each_str(value, |s| cx.ip(field, s)),
                Slot::Domain if h.domain => for_each_str(value, |s| cx.domain(field, s)),
                Slot::Url if h.url => for_each_str(value, |s| cx.url(field, s)),
                Slot::Md5 if h.md5 => for_each_str(value, |s| {
                    if let Some(k) = hex::<16>(s) {
                        cx.chain(
                            self.md5.get(&k).copied(),
                            field,
                            s,
                            IndicatorType::Md5,
                            || to_hex(&k),
                        );
                    }
                }),
                Slot::Sha1 if h.sha1 => for_each_str(value, |s| {
                    if let Some(k) = hex::<20>(s) {
                        cx.chain(
                            self.sha1.get(&k).copied(),
                            field,
                            s,
                            IndicatorType::Sha1,
                            || to_hex(&k),
                        );
                    }
                }),
                Slot::Sha256 if h.sha256 => for_each_str(value, |s| {
                    if let Some(k) = hex::<32>(s) {
                        cx.chain(
                            self.sha256.get(&k).copied(),
                            field,
                            s,
                            IndicatorType::Sha256,
                            || to_hex(&k),
                        );
                    }
                }),
                Slot::Ja3 if h.ja3 => for_each_str(value, |s| {
                    if let Some(k) = hex::<16>(s) {
                        cx.chain(
                            self.ja3.get(&k).copied(),
                            field,
                            s,
                            IndicatorType::Ja3,
                            || to_hex(&k),
                        );
                    }
                }),
                Slot::Ja3s if h.ja3s => for_each_str(value, |s| {
                    if let Some(k) = hex::<16>(s) {
                        cx.chain(
                            self.ja3s.get(&k).copied(),
                            field,
                            s,
                            IndicatorType::Ja3s,
                            || to_hex(&k),
                        );
                    }
                }),
                Slot::Ja4 if h.ja4 => for_each_str(value, |s| {
                    let mut buf = [0u8; 128];
                    if let Some(k) = lower(s, &mut buf) {
                        cx.chain(
                            self.ja4.get(k).copied(),
                            field,
                            s,
                            IndicatorType::Ja4,
                            || k.to_string(),
                        );
                    }
                }),
                Slot::Email if h.email => for_each_str(value, |s| {
                    let mut buf = [0u8; 320];
                    if let Some(k) = lower(s.trim(), &mut buf) {
                        cx.chain(
                            self.emails.get(k).copied(),
                            field,
                            s,
                            IndicatorType::Email,
                            || k.to_string(),
                        );
                    }
                }),
                _ => {}
            }
        }
        if h.ipport {
            for (ip, port, field) in [
                (dst_ip, dst_port, "destination.ip"),
                (src_ip, src_port, "source.ip"),
            ] {
                let (Some(ip), Some(port)) =
                    (ip.and_then(Value::as_str), port.and_then(Value::as_u64))
                else {
                    continue;
                };
                let Ok(port) = u16::try_from(port) else {
                    continue;
                };
                let found = match ip.parse::<IpAddr>() {
                    Ok(IpAddr::V4(a)) => self
                        .ipport4
                        .get(&((u64::from(u32::from(a)) << 16) | u64::from(port)))
                        .copied(),
                    Ok(IpAddr::V6(a)) => self.ipport6.get(&(u128::from(a), port)).copied(),
                    Err(_) => None,
                };
                if let Some(idx) = found {
                    let ipa = ip.parse::<IpAddr>().ok();
                    cx.chain(Some(idx), field, ip, IndicatorType::IpPort, || {
                        ipa.map_or_else(String::new, |a| format_ip_port(a, port))
                    });
                }
            }
        }
        for (idx, text) in &self.scan {
            cx.chain(Some(*idx), "", "", IndicatorType::Pattern, || {
                text.to_string()
            });
        }
        // The same indicator reached through two fields (source.ip and
        // client.ip) is one hit.
        if out.len() > start + 1 {
            let mut i = start + 1;
            while i < out.len() {
                let dup = out[start..i].iter().any(|h| {
                    h.kind == out[i].kind
                        && h.indicator == out[i].indicator
                        && Arc::ptr_eq(&h.context, &out[i].context)
                });
                if dup {
                    out.remove(i);
                } else {
                    i += 1;
                }
            }
        }
    }
}

impl Cx<'_> {
    fn ip(&mut self, field: &'static str, s: &str) {
        let m = self.m;
        let ip = match parse_ipv4(s.as_bytes()) {
            Some(v4) => IpAddr::V4(v4.into()),
            None => match s.trim().parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) => return,
            },
        };
        match ip {
            IpAddr::V4(a) => {
                let k = u32::from(a);
                if m.has.ip {
                    self.chain(m.ip4.get(&k).copied(), field, s, IndicatorType::Ip, || {
                        a.to_string()
                    });
                }
                if m.has.cidr {
                    let b16 = (k >> 16) as usize;
                    if let (Some(&from), Some(&to)) =
                        (m.cidr4_start.get(b16), m.cidr4_start.get(b16 + 1))
                    {
                        for &(net, len, idx) in
                            m.cidr4_long.get(from as usize..to as usize).unwrap_or(&[])
                        {
                            if k & (u32::MAX << (32 - u32::from(len))) == net {
                                self.chain(Some(idx), field, s, IndicatorType::Cidr, || {
                                    format!("{}/{len}", std::net::Ipv4Addr::from(net))
                                });
                            }
                        }
                    }
                    for (len, map) in &m.cidr4 {
                        let mask = if *len == 0 {
                            0
                        } else {
                            u32::MAX << (32 - u32::from(*len))
                        };
                        let net = k & mask;
                        if let Some(idx) = map.get(&net).copied() {
                            let len = *len;
                            self.chain(Some(idx), field, s, IndicatorType::Cidr, || {
                                format!("{}/{len}", std::net::Ipv4Addr::from(net))
                            });
                        }
                    }
                }
            }
            IpAddr::V6(a) => {
                let k = u128::from(a);
                if m.has.ip {
                    self.chain(m.ip6.get(&k).copied(), field, s, IndicatorType::Ip, || {
                        a.to_string()
                    });
                }
                for (len, map) in &m.cidr6 {
                    let mask = if *len == 0 {
                        0
                    } else {
                        u128::MAX << (128 - u32::from(*len))
                    };
                    let net = k & mask;
                    if let Some(idx) = map.get(&net).copied() {
                        let len = *len;
                        self.chain(Some(idx), field, s, IndicatorType::Cidr, || {
                            format!("{}/{len}", std::net::Ipv6Addr::from(net))
                        });
                    }
                }
            }
        }
    }

    fn domain(&mut self, field: &'static str, s: &str) {
        let mut buf = [0u8; 256];
        let Some(name) = lower(s.trim().trim_end_matches('.'), &mut buf) else {
            return;
        };
        let mut rest = name;
        loop {
            if let Some(idx) = self.m.domains.get(rest).copied() {
                let r = rest;
                self.chain(Some(idx), field, s, IndicatorType::Domain, || r.to_string());
            }
            match rest.split_once('.') {
                Some((_, r)) if !r.is_empty() => rest = r,
                _ => return,
            }
        }
    }

    fn url(&mut self, field: &'static str, s: &str) {
        let Some(host) = url_host(s) else { return };
        let mut buf = [0u8; 256];
        let Some(host) = lower(host, &mut buf) else {
            return;
        };
        if !self.m.url_hosts.contains(host) {
            return;
        }
        // Only URLs on a host some indicator names get here.
        if let Some(norm) = normalise_url(s) {
            if let Some(idx) = self.m.urls.get(norm.as_str()).copied() {
                self.chain(Some(idx), field, s, IndicatorType::Url, || norm.clone());
            }
        }
    }

    /// Every active indicator on the chain starting at `idx` whose
    /// conditions hold becomes a hit.
    fn chain(
        &mut self,
        mut idx: Option<u32>,
        field: &'static str,
        matched: &str,
        kind: IndicatorType,
        value: impl Fn() -> String,
    ) {
        while let Some(i) = idx {
            let Some(e) = self.m.entries.get(i as usize).copied() else {
                return;
            };
            idx = (e.next != NONE).then_some(e.next);
            let now = *self.now.get_or_insert_with(|| Utc::now().timestamp());
            if now < e.valid_from || now >= e.valid_until {
                continue;
            }
            let (field, matched) = if e.cond != NONE {
                let Some(conds) = self.m.conds.get(e.cond as usize) else {
                    continue;
                };
                if !conds.iter().all(|c| cond_holds(c, self.event)) {
                    continue;
                }
                if kind == IndicatorType::Pattern {
                    let f = conds
                        .first()
                        .and_then(|c| c.fields.first())
                        .copied()
                        .unwrap_or("");
                    let v = self
                        .event
                        .get(f)
                        .and_then(|v| v.to_text().map(|t| t.into_owned()))
                        .unwrap_or_default();
                    (f, v)
                } else {
                    (field, matched.to_string())
                }
            } else {
                (field, matched.to_string())
            };
            let Some(ctx) = self.m.contexts.get(e.ctx as usize) else {
                continue;
            };
            let t = |x: i64| {
                (x != i64::MIN && x != i64::MAX)
                    .then(|| DateTime::from_timestamp(x, 0))
                    .flatten()
            };
            self.out.push(IntelHit {
                field,
                matched,
                kind,
                indicator: value(),
                context: ctx.clone(),
                valid_from: t(e.valid_from),
                valid_until: t(e.valid_until),
                first_seen: t(e.first_seen),
                last_seen: t(e.last_seen),
                retrospective: false,
            });
        }
    }
}

fn cond_holds(c: &CompiledCond, ev: &Event) -> bool {
    let mut any = false;
    let mut present = false;
    for f in c.fields {
        let Some(v) = ev.get(f) else { continue };
        present = true;
        for_each_text(v, &mut |s| {
            if any {
                return;
            }
            any = match &c.op {
                CompiledOp::Eq(vals) => vals.iter().any(|x| x.eq_ignore_ascii_case(s)),
                CompiledOp::Regex(r) => r.is_match(s),
                CompiledOp::Subset(nets) => s
                    .trim()
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip))),
                CompiledOp::Num(op, x) => s.trim().parse::<f64>().is_ok_and(|n| match op {
                    CondOp::Gt => n > *x,
                    CondOp::Ge => n >= *x,
                    CondOp::Lt => n < *x,
                    _ => n <= *x,
                }),
            };
        });
    }
    if c.negated {
        present && !any
    } else {
        any
    }
}

#[inline]
fn for_each_str(v: &Value, mut f: impl FnMut(&str)) {
    match v {
        Value::Str(s) => f(s.as_str()),
        Value::Array(xs) => {
            for x in xs {
                if let Value::Str(s) = x {
                    f(s.as_str());
                }
            }
        }
        _ => {}
    }
}

fn for_each_text(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::Array(xs) => {
            for x in xs {
                for_each_text(x, f);
            }
        }
        other => {
            if let Some(t) = other.to_text() {
                f(&t);
            }
        }
    }
}

/// Dotted-quad IPv4 without the generality of `IpAddr::from_str` (which
/// costs several times more and runs for every address of every event).
/// Anything unusual returns None and goes through the standard parser.
#[inline]
fn parse_ipv4(b: &[u8]) -> Option<u32> {
    let mut out: u32 = 0;
    let mut octet: u32 = 0;
    let mut digits = 0;
    let mut dots = 0;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                // Leading zeros are ambiguous (octal to some parsers).
                if digits == 1 && octet == 0 {
                    return None;
                }
                octet = octet * 10 + u32::from(c - b'0');
                digits += 1;
                if digits > 3 || octet > 255 {
                    return None;
                }
            }
            b'.' => {
                if digits == 0 || dots == 3 {
                    return None;
                }
                out = (out << 8) | octet;
                octet = 0;
                digits = 0;
                dots += 1;
            }
            _ => return None,
        }
    }
    if dots != 3 || digits == 0 {
        return None;
    }
    Some((out << 8) | octet)
}

/// ASCII-lower-cases into `buf` when needed; None when it does not fit.
#[inline]
fn lower<'b>(s: &'b str, buf: &'b mut [u8]) -> Option<&'b str> {
    if !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(s);
    }
    let out = buf.get_mut(..s.len())?;
    out.copy_from_slice(s.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_ipv4;

    #[test]
    fn fast_ipv4_agrees_with_std() {
        for s in [
            "1.2.3.4",
            "255.255.255.255",
            "0.0.0.0",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2.3",
            "",
            "a.b.c.d",
            "1.2.3.4 ",
        ] {
            let std = s.parse::<std::net::Ipv4Addr>().ok().map(u32::from);
            let fast = parse_ipv4(s.as_bytes());
            assert!(fast.is_none() || fast == std, "{s}");
            if std.is_some() {
                assert_eq!(fast, std, "{s}");
            }
        }
    }
}
