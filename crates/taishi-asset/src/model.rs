//! The asset model: what an asset is, each fact with the observations that
//! said it.

use crate::lang::Lang;
use crate::software::Software;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// The organisation a record belongs to (every record in Taishi has one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgId(pub String);

/// An asset's number inside a [`crate::Register`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetId(pub u64);

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "A{:06}", self.0)
    }
}

/// A MAC address, six bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Accepts `00:50:56:81:01:e3`, `00-50-56-81-01-E3` and `0050.5681.01e3`.
    pub fn parse(s: &str) -> Option<Mac> {
        let hex: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.'))
            .collect();
        if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let mut b = [0u8; 6];
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
        }
        Some(Mac(b))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Mac::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a MAC address: {s}")))
    }
}

/// One way of naming an asset. Names are stored lower-case (DNS and NetBIOS
/// names are case-insensitive), FQDNs without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Identity {
    Ip(IpAddr),
    Mac(Mac),
    /// A short host name (NetBIOS, `Computer` without a domain).
    Hostname(String),
    Fqdn(String),
}

impl Identity {
    /// A host name goes to `Fqdn` when it has a dot and is not an address.
    pub fn name(s: &str) -> Option<Identity> {
        let n = s.trim().trim_end_matches('.').to_lowercase();
        if n.is_empty() {
            return None;
        }
        if let Ok(ip) = n.parse::<IpAddr>() {
            return Some(Identity::Ip(ip));
        }
        Some(if n.contains('.') {
            Identity::Fqdn(n)
        } else {
            Identity::Hostname(n)
        })
    }

    pub fn kind_label(&self, lang: Lang) -> &'static str {
        match self {
            Identity::Ip(_) => lang.pick("IP地址", "IP address"),
            Identity::Mac(_) => lang.pick("MAC地址", "MAC address"),
            Identity::Hostname(_) => lang.pick("主机名", "host name"),
            Identity::Fqdn(_) => lang.pick("域名", "FQDN"),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Ip(ip) => write!(f, "ip:{ip}"),
            Identity::Mac(m) => write!(f, "mac:{m}"),
            Identity::Hostname(h) => write!(f, "host:{h}"),
            Identity::Fqdn(h) => write!(f, "fqdn:{h}"),
        }
    }
}

/// Where a fact came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// An inventory file (CSV or JSON).
    Inventory,
    /// A network scan (Nmap) or a vulnerability scanner's report.
    Scan,
    /// Seen in the events Taishi receives (EVTX, syslog, Zeek, DHCP, DNS, flows).
    Observation,
    /// Entered or changed by an analyst.
    Manual,
}

/// One observation or import that said a fact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Provenance {
    pub kind: SourceKind,
    /// File name, scanner, feed or user.
    pub source: String,
    /// Line (CSV), record (JSON) or host (XML) in that source, 1-based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    pub at: DateTime<Utc>,
}

impl Provenance {
    pub fn new(kind: SourceKind, source: impl Into<String>, at: DateTime<Utc>) -> Provenance {
        Provenance {
            kind,
            source: source.into(),
            record: None,
            at,
        }
    }

    /// A fact this observation said.
    pub fn fact<T>(&self, value: T) -> Fact<T> {
        Fact::new(value, self.clone())
    }

    pub fn at_record(mut self, record: u64) -> Provenance {
        self.record = Some(record);
        self
    }
}

/// Provenance records kept per fact.
pub const MAX_PROVENANCE: usize = 32;

/// A value and every observation that said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact<T> {
    pub value: T,
    pub provenance: Vec<Provenance>,
}

impl<T> Fact<T> {
    pub fn new(value: T, p: Provenance) -> Fact<T> {
        Fact {
            value,
            provenance: vec![p],
        }
    }

    /// The latest time any source said this.
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.provenance.iter().map(|p| p.at).max()
    }

    /// Joins another fact's provenance. At most [`MAX_PROVENANCE`]
    /// records are kept: the earliest (when the fact was first said) and
    /// the most recent, so a port seen by a daily scan for years does not
    /// grow without bound.
    fn absorb(&mut self, other: Vec<Provenance>) {
        for p in other {
            if !self.provenance.contains(&p) {
                self.provenance.push(p);
            }
        }
        if self.provenance.len() > MAX_PROVENANCE {
            self.provenance.sort_by_key(|p| p.at);
            let excess = self.provenance.len() - MAX_PROVENANCE;
            self.provenance.drain(1..1 + excess);
        }
    }
}

/// How much the asset matters to the operator's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Importance {
    Low,
    Medium,
    High,
    Critical,
}

impl Importance {
    pub fn parse(s: &str) -> Option<Importance> {
        Some(match s.trim().to_lowercase().as_str() {
            "1" | "low" | "低" | "一般" => Importance::Low,
            "2" | "medium" | "中" | "较重要" => Importance::Medium,
            "3" | "high" | "高" | "重要" => Importance::High,
            "4" | "critical" | "极高" | "关键" | "核心" | "非常重要" => {
                Importance::Critical
            }
            _ => return None,
        })
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Importance::Low => lang.pick("一般", "low"),
            Importance::Medium => lang.pick("较重要", "medium"),
            Importance::High => lang.pick("重要", "high"),
            Importance::Critical => lang.pick("关键", "critical"),
        }
    }
}

/// Data classification under GB/T 43697-2024 (数据安全技术 数据分类分级规则).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataLevel {
    General,
    Important,
    Core,
}

impl DataLevel {
    pub fn parse(s: &str) -> Option<DataLevel> {
        Some(match s.trim().to_lowercase().as_str() {
            "一般" | "一般数据" | "general" => DataLevel::General,
            "重要" | "重要数据" | "important" => DataLevel::Important,
            "核心" | "核心数据" | "core" => DataLevel::Core,
            _ => return None,
        })
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            DataLevel::General => lang.pick("一般数据", "general data"),
            DataLevel::Important => lang.pick("重要数据", "important data"),
            DataLevel::Core => lang.pick("核心数据", "core data"),
        }
    }
}

/// 等保 (MLPS 2.0, GB/T 22239-2019) protection level, 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct DengbaoLevel(u8);

impl DengbaoLevel {
    pub fn new(level: u8) -> Option<DengbaoLevel> {
        (1..=5).contains(&level).then_some(DengbaoLevel(level))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// Accepts `3`, `三级`, `第三级`, `等保三级`, `level 3`, `L3`.
    pub fn parse(s: &str) -> Option<DengbaoLevel> {
        let t = s.trim().to_lowercase();
        let digit = t.chars().find_map(|c| match c {
            '1'..='5' => c.to_digit(10),
            '一' => Some(1),
            '二' => Some(2),
            '三' => Some(3),
            '四' => Some(4),
            '五' => Some(5),
            _ => None,
        })?;
        // Anything else besides the digit must be one of the known words,
        // so "35" or "3a" is refused rather than read as 3.
        let rest: String = t
            .replace("等保", "")
            .replace("第", "")
            .replace("级", "")
            .replace("level", "")
            .replace('l', "")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if rest.chars().count() != 1 {
            return None;
        }
        DengbaoLevel::new(digit as u8)
    }

    pub fn label(self, lang: Lang) -> String {
        const ZH: [&str; 5] = ["一", "二", "三", "四", "五"];
        match lang {
            Lang::Zh => format!("第{}级", ZH[self.0 as usize - 1]),
            Lang::En => format!("level {}", self.0),
        }
    }
}

/// A 等保 level outside 1–5 (serde reads levels through it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("等保 level must be 1 to 5, got {0}")]
pub struct LevelOutOfRange(pub u8);

impl TryFrom<u8> for DengbaoLevel {
    type Error = LevelOutOfRange;
    fn try_from(v: u8) -> Result<Self, LevelOutOfRange> {
        DengbaoLevel::new(v).ok_or(LevelOutOfRange(v))
    }
}

impl From<DengbaoLevel> for u8 {
    fn from(l: DengbaoLevel) -> u8 {
        l.0
    }
}

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
    Sctp,
}

impl Transport {
    pub fn parse(s: &str) -> Option<Transport> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" => Some(Transport::Tcp),
            "udp" => Some(Transport::Udp),
            "sctp" => Some(Transport::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Sctp => "sctp",
        }
    }
}

/// An open port and what answers on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Service {
    pub transport: Transport,
    pub port: u16,
    /// The service name (`ssh`, `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Reachable from outside the operator's network (the exposure). A
    /// port seen only by an internal scan is not.
    pub external: bool,
}

impl Service {
    /// Reads `tcp/443`, `443/tcp`, `443` (tcp) or `udp:161`.
    pub fn parse(s: &str, external: bool) -> Option<Service> {
        let s = s.trim();
        let (a, b) = match s.split_once(['/', ':']) {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let (port, transport) = match (a.parse::<u16>(), b) {
            (Ok(p), Some(t)) => (p, Transport::parse(t)?),
            (Ok(p), None) => (p, Transport::Tcp),
            (Err(_), Some(p)) => (p.parse::<u16>().ok()?, Transport::parse(a)?),
            (Err(_), None) => return None,
        };
        Some(Service {
            transport,
            port,
            name: None,
            external,
        })
    }
}

/// An asset and everything known about it. Every fact keeps the
/// observations that said it, so a merge can be explained and a split can
/// undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub id: AssetId,
    pub org: OrgId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Fact<String>>,
    pub identities: Vec<Fact<Identity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Fact<String>>,
    /// 业务系统.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_system: Option<Fact<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<Fact<Importance>>,
    /// A critical information infrastructure (关键信息基础设施) asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cii: Option<Fact<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<Fact<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dengbao: Option<Fact<DengbaoLevel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_level: Option<Fact<DataLevel>>,
    #[serde(default)]
    pub services: Vec<Fact<Service>>,
    #[serde(default)]
    pub software: Vec<Fact<Software>>,
    #[serde(default)]
    pub tags: Vec<Fact<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
}

impl Asset {
    pub fn new(id: AssetId, org: OrgId) -> Asset {
        Asset {
            id,
            org,
            name: None,
            identities: Vec::new(),
            owner: None,
            business_system: None,
            importance: None,
            cii: None,
            sector: None,
            dengbao: None,
            data_level: None,
            services: Vec::new(),
            software: Vec::new(),
            tags: Vec::new(),
            first_seen: None,
            last_seen: None,
        }
    }

    /// The ports reachable from outside.
    pub fn exposure(&self) -> impl Iterator<Item = &Service> {
        self.services
            .iter()
            .map(|f| &f.value)
            .filter(|s| s.external)
    }

    pub fn has_identity(&self, id: &Identity) -> bool {
        self.identities.iter().any(|f| &f.value == id)
    }

    pub fn ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.identities.iter().filter_map(|f| match f.value {
            Identity::Ip(ip) => Some(ip),
            _ => None,
        })
    }

    /// Folds `other` into `self`: list facts are united (provenance joined
    /// when the value is the same); for single-valued facts the one said
    /// most recently wins and the other's provenance is dropped with its
    /// value, so the asset never shows a value no source said last.
    pub fn absorb(&mut self, other: Asset) {
        merge_list(&mut self.identities, other.identities);
        merge_services(&mut self.services, other.services);
        merge_list(&mut self.software, other.software);
        merge_list(&mut self.tags, other.tags);
        merge_one(&mut self.name, other.name);
        merge_one(&mut self.owner, other.owner);
        merge_one(&mut self.business_system, other.business_system);
        merge_one(&mut self.importance, other.importance);
        merge_one(&mut self.cii, other.cii);
        merge_one(&mut self.sector, other.sector);
        merge_one(&mut self.dengbao, other.dengbao);
        merge_one(&mut self.data_level, other.data_level);
        self.first_seen = min_opt(self.first_seen, other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
    }

    /// Widens first/last seen to cover a time.
    pub fn seen(&mut self, at: DateTime<Utc>) {
        self.first_seen = min_opt(self.first_seen, Some(at));
        self.last_seen = self.last_seen.max(Some(at));
    }

    /// Every provenance record on any fact of the asset.
    pub fn provenance(&self) -> Vec<&Provenance> {
        let mut all: Vec<&Provenance> = Vec::new();
        all.extend(self.identities.iter().flat_map(|f| &f.provenance));
        all.extend(self.services.iter().flat_map(|f| &f.provenance));
        all.extend(self.software.iter().flat_map(|f| &f.provenance));
        all.extend(self.tags.iter().flat_map(|f| &f.provenance));
        for p in [
            self.name.as_ref().map(|f| &f.provenance),
            self.owner.as_ref().map(|f| &f.provenance),
            self.business_system.as_ref().map(|f| &f.provenance),
            self.sector.as_ref().map(|f| &f.provenance),
            self.importance.as_ref().map(|f| &f.provenance),
            self.cii.as_ref().map(|f| &f.provenance),
            self.dengbao.as_ref().map(|f| &f.provenance),
            self.data_level.as_ref().map(|f| &f.provenance),
        ]
        .into_iter()
        .flatten()
        {
            all.extend(p);
        }
        all
    }
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn merge_list<T: PartialEq>(into: &mut Vec<Fact<T>>, from: Vec<Fact<T>>) {
    for f in from {
        match into.iter_mut().find(|x| x.value == f.value) {
            Some(x) => x.absorb(f.provenance),
            None => into.push(f),
        }
    }
}

/// One fact per port: an internal and an external scan of the same port
/// are one service, external if either saw it from outside, named by the
/// first source that named it.
pub(crate) fn merge_services(into: &mut Vec<Fact<Service>>, from: Vec<Fact<Service>>) {
    for f in from {
        let same = |x: &&mut Fact<Service>| {
            x.value.transport == f.value.transport && x.value.port == f.value.port
        };
        match into.iter_mut().find(same) {
            Some(x) => {
                x.value.external |= f.value.external;
                if x.value.name.is_none() {
                    x.value.name = f.value.name;
                }
                x.absorb(f.provenance);
            }
            None => into.push(f),
        }
    }
}

pub(crate) fn merge_one<T: PartialEq>(into: &mut Option<Fact<T>>, from: Option<Fact<T>>) {
    let Some(f) = from else { return };
    match into {
        None => *into = Some(f),
        Some(x) if x.value == f.value => x.absorb(f.provenance),
        Some(x) => {
            if f.last_seen() >= x.last_seen() {
                *x = f;
            }
        }
    }
}
