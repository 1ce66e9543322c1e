//! Indicators: what one carries and how each type's value is normalised.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::url::normalise_url;

/// The kinds of value Taishi indexes for line-rate matching, plus `Pattern`
/// for STIX conjunctions that have no indexable comparison (evaluated on
/// every event, so feeds should have few of them).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndicatorType {
    /// One IPv4 or IPv6 address.
    Ip,
    /// An IPv4 or IPv6 network; matches every address inside it.
    Cidr,
    /// A domain name; matches the name and every subdomain.
    Domain,
    /// A URL, compared after normalisation.
    Url,
    Md5,
    Sha1,
    Sha256,
    Email,
    /// JA3 client fingerprint (MD5 hex).
    Ja3,
    /// JA3S server fingerprint (MD5 hex).
    Ja3s,
    /// JA4 client fingerprint.
    Ja4,
    /// An address and port (`1.2.3.4:443`, `[2001:db8::1]:443`).
    IpPort,
    /// A STIX comparison set with no indexable anchor.
    Pattern,
}

impl IndicatorType {
    pub const ALL: [IndicatorType; 13] = [
        IndicatorType::Ip,
        IndicatorType::Cidr,
        IndicatorType::Domain,
        IndicatorType::Url,
        IndicatorType::Md5,
        IndicatorType::Sha1,
        IndicatorType::Sha256,
        IndicatorType::Email,
        IndicatorType::Ja3,
        IndicatorType::Ja3s,
        IndicatorType::Ja4,
        IndicatorType::IpPort,
        IndicatorType::Pattern,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorType::Ip => "ip",
            IndicatorType::Cidr => "cidr",
            IndicatorType::Domain => "domain",
            IndicatorType::Url => "url",
            IndicatorType::Md5 => "md5",
            IndicatorType::Sha1 => "sha1",
            IndicatorType::Sha256 => "sha256",
            IndicatorType::Email => "email",
            IndicatorType::Ja3 => "ja3",
            IndicatorType::Ja3s => "ja3s",
            IndicatorType::Ja4 => "ja4",
            IndicatorType::IpPort => "ip-port",
            IndicatorType::Pattern => "pattern",
        }
    }

    /// Guesses the type of a bare value (plain lists, ThreatFox without a
    /// type): addresses, networks, ip:port, URLs, e-mail, hashes by length,
    /// otherwise a domain when it looks like one.
    pub fn guess(value: &str) -> Option<IndicatorType> {
        let v = value.trim();
        if v.is_empty() {
            return None;
        }
        if v.parse::<IpAddr>().is_ok() {
            return Some(IndicatorType::Ip);
        }
        if v.parse::<IpNet>().is_ok() {
            return Some(IndicatorType::Cidr);
        }
        if parse_ip_port(v).is_some() {
            return Some(IndicatorType::IpPort);
        }
        if v.contains("://") {
            return Some(IndicatorType::Url);
        }
        if v.contains('@') {
            return Some(IndicatorType::Email);
        }
        if v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return match v.len() {
                32 => Some(IndicatorType::Md5),
                40 => Some(IndicatorType::Sha1),
                64 => Some(IndicatorType::Sha256),
                _ => None,
            };
        }
        if normalise_domain(v).is_ok() && v.contains('.') {
            return Some(IndicatorType::Domain);
        }
        None
    }

    /// Brings a value to the one form the matcher compares: lower-case
    /// names and hashes, canonical addresses and networks, normalised URLs.
    /// The error says why the value is not of this type.
    pub fn normalise(self, value: &str) -> Result<String, IndicatorError> {
        let v = value.trim();
        if v.is_empty() {
            return Err(IndicatorError::Empty);
        }
        match self {
            IndicatorType::Ip => v
                .parse::<IpAddr>()
                .map(|ip| ip.to_string())
                .map_err(|_| not_a(v, "an IP address")),
            IndicatorType::Cidr => {
                let net = IpNet::from_str(v)
                    .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| not_a(v, "a CIDR network"))?;
                Ok(net.trunc().to_string())
            }
            IndicatorType::Domain => normalise_domain(v),
            IndicatorType::Url => normalise_url(v).ok_or_else(|| not_a(v, "a URL")),
            IndicatorType::Md5 | IndicatorType::Ja3 | IndicatorType::Ja3s => hex_of(v, 32),
            IndicatorType::Sha1 => hex_of(v, 40),
            IndicatorType::Sha256 => hex_of(v, 64),
            IndicatorType::Email => {
                let lower = v.to_ascii_lowercase();
                match lower.split_once('@') {
                    Some((local, domain))
                        if !local.is_empty()
                            && !domain.contains('@')
                            && normalise_domain(domain).is_ok() =>
                    {
                        Ok(lower)
                    }
                    _ => Err(not_a(v, "an e-mail address")),
                }
            }
            IndicatorType::Ja4 => {
                if v.len() > 128 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    Err(not_a(v, "a JA4 fingerprint"))
                } else {
                    Ok(v.to_ascii_lowercase())
                }
            }
            IndicatorType::IpPort => {
                let (ip, port) = parse_ip_port(v).ok_or_else(|| not_a(v, "an address:port"))?;
                Ok(format_ip_port(ip, port))
            }
            IndicatorType::Pattern => Ok(v.to_string()),
        }
    }
}

/// Intelligence data that is not in the shape its format says (a feed
/// manifest, a warninglist, an indicator's conditions); the message names
/// the entry at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DataError(String);

impl From<String> for DataError {
    fn from(s: String) -> DataError {
        DataError(s)
    }
}

impl From<&str> for DataError {
    fn from(s: &str) -> DataError {
        DataError(s.to_string())
    }
}

/// A value that cannot be an indicator of the type it was given as, or a
/// type name that is none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorError {
    #[error("empty value")]
    Empty,
    #[error("{value:?} is not {what}")]
    Invalid { value: String, what: String },
    #[error("unknown indicator type {0:?}")]
    UnknownType(String),
    #[error("cannot tell the type of {0:?}")]
    Unrecognised(String),
}

fn not_a(value: &str, what: impl Into<String>) -> IndicatorError {
    IndicatorError::Invalid {
        value: value.to_string(),
        what: what.into(),
    }
}

impl fmt::Display for IndicatorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IndicatorType {
    type Err = IndicatorError;
    fn from_str(s: &str) -> Result<Self, IndicatorError> {
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "ip" | "ipv4" | "ipv6" | "ip-src" | "ip-dst" | "ipv4-addr" | "ipv6-addr" => {
                IndicatorType::Ip
            }
            "cidr" | "net" | "network" => IndicatorType::Cidr,
            "domain" | "hostname" | "domain-name" | "fqdn" => IndicatorType::Domain,
            "url" | "uri" | "link" => IndicatorType::Url,
            "md5" | "md5_hash" => IndicatorType::Md5,
            "sha1" | "sha-1" | "sha1_hash" => IndicatorType::Sha1,
            "sha256" | "sha-256" | "sha256_hash" => IndicatorType::Sha256,
            "email" | "email-src" | "email-dst" | "email-addr" | "e-mail" => IndicatorType::Email,
            "ja3" | "ja3-fingerprint-md5" => IndicatorType::Ja3,
            "ja3s" | "ja3s-fingerprint-md5" => IndicatorType::Ja3s,
            "ja4" | "ja4-fingerprint" => IndicatorType::Ja4,
            "ip-port" | "ip:port" | "ip-dst|port" | "ip-src|port" => IndicatorType::IpPort,
            "pattern" => IndicatorType::Pattern,
            _ => return Err(IndicatorError::UnknownType(s.to_string())),
        })
    }
}

/// Lower-cases, drops one trailing dot and checks the name is made of DNS
/// labels (letters, digits, `-`, `_`, and non-ASCII for IDNs written as
/// Unicode).
pub fn normalise_domain(v: &str) -> Result<String, IndicatorError> {
    let d = v.trim().trim_end_matches('.').to_lowercase();
    if d.is_empty() || d.len() > 253 {
        return Err(not_a(v, "a domain name"));
    }
    for label in d.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(not_a(v, "a domain name (empty or long label)"));
        }
        if !label
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '*')
        {
            return Err(not_a(v, "a domain name (bad character)"));
        }
    }
    Ok(d.strip_prefix("*.").unwrap_or(&d).to_string())
}

fn hex_of(v: &str, len: usize) -> Result<String, IndicatorError> {
    if v.len() == len && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(not_a(v, format!("{len} hex digits")))
    }
}

/// `1.2.3.4:80`, `[2001:db8::1]:80`, MISP's `1.2.3.4|80`, and ThreatFox's bare `2a02:cf40:1::5:40669`
/// (an IPv6 address whose last group is the port).
pub fn parse_ip_port(v: &str) -> Option<(IpAddr, u16)> {
    let v = v.trim();
    if let Some(rest) = v.strip_prefix('[') {
        let (ip, port) = rest.split_once("]:")?;
        return Some((ip.parse().ok()?, port.parse().ok()?));
    }
    let (ip, port) = v.rsplit_once([':', '|'])?;
    let port: u16 = port.parse().ok()?;
    let ip: IpAddr = ip.parse().ok()?;
    Some((ip, port))
}

pub fn format_ip_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Traffic Light Protocol marking (2.0 names; 1.0's WHITE reads as CLEAR).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

impl Tlp {
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// `tlp:white`, `TLP:AMBER+STRICT`, `amber`, `TLP: RED`…
    pub fn parse(s: &str) -> Option<Tlp> {
        let l = s.trim().to_ascii_lowercase();
        let l = l.strip_prefix("tlp:").unwrap_or(&l).trim();
        Some(match l {
            "white" | "clear" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return None,
        })
    }
}

/// A comparison beside an indicator's value that must also hold (STIX
/// `AND` within one observation), or the whole test of a `Pattern`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Condition {
    /// The STIX object path, e.g. `network-traffic:dst_port`.
    pub path: String,
    pub op: CondOp,
    /// One value, or several for `IN`.
    pub values: Vec<String>,
    /// `NOT` before the operator (or `!=`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negated: bool,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CondOp {
    /// `=` and `IN`: equal to one of the values (case-insensitive).
    Eq,
    /// `MATCHES`: PCRE-style regular expression.
    Matches,
    /// `LIKE`: `%` any run, `_` one character.
    Like,
    /// `ISSUBSET`: an address inside one of the networks.
    Subset,
    /// `>`, `>=`, `<`, `<=` on numbers.
    Gt,
    Ge,
    Lt,
    Le,
}

/// One indicator as stored: a typed, normalised value and its context.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// Normalised (see [`IndicatorType::normalise`]); for `Pattern`, the
    /// pattern text.
    pub value: String,
    /// The feed or import it came from; a new import from the same source
    /// replaces that source's earlier indicators.
    pub source: String,
    /// The source's identifier (STIX id, MISP attribute UUID, feed row id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<Tlp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Malware families.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malware: Vec<String>,
    /// MITRE ATT&CK technique ids (`T1071.001`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// Further comparisons that must hold on the same event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl Indicator {
    /// A bare indicator; the value must already be normalised.
    pub fn new(kind: IndicatorType, value: impl Into<String>, source: impl Into<String>) -> Self {
        Indicator {
            kind,
            value: value.into(),
            source: source.into(),
            id: None,
            name: None,
            description: None,
            confidence: None,
            tlp: None,
            labels: Vec::new(),
            malware: Vec::new(),
            attack: Vec::new(),
            valid_from: None,
            valid_until: None,
            first_seen: None,
            last_seen: None,
            conditions: Vec::new(),
        }
    }

    /// Normalises `value` for `kind`.
    pub fn parse(kind: IndicatorType, value: &str, source: &str) -> Result<Self, IndicatorError> {
        Ok(Indicator::new(kind, kind.normalise(value)?, source))
    }

    /// Identity within a source: two records with the same key are one
    /// indicator (merged, never counted twice).
    pub fn key(&self) -> IndicatorKey {
        IndicatorKey {
            kind: self.kind,
            value: self.value.clone(),
            conditions: self.conditions.clone(),
        }
    }

    /// Active at `now`: not before `valid_from`, not at or after `valid_until`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|f| f <= now) && self.valid_until.is_none_or(|u| now < u)
    }

    /// Folds a duplicate record of the same indicator into this one.
    pub fn merge(&mut self, other: Indicator) {
        fn union(a: &mut Vec<String>, b: Vec<String>) {
            for x in b {
                if !a.contains(&x) {
                    a.push(x);
                }
            }
        }
        union(&mut self.labels, other.labels);
        union(&mut self.malware, other.malware);
        union(&mut self.attack, other.attack);
        self.confidence = self.confidence.max(other.confidence);
        self.first_seen = min_opt(self.first_seen, other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.valid_from = min_opt(self.valid_from, other.valid_from);
        self.valid_until = match (self.valid_until, other.valid_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        if self.tlp.is_none() {
            self.tlp = other.tlp;
        }
        if self.id.is_none() {
            self.id = other.id;
        }
        if self.name.is_none() {
            self.name = other.name;
        }
        if self.description.is_none() {
            self.description = other.description;
        }
    }
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndicatorKey {
    pub kind: IndicatorType,
    pub value: String,
    pub conditions: Vec<Condition>,
}

impl PartialOrd for Condition {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Condition {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.path, self.op as u8, &self.values, self.negated).cmp(&(
            &other.path,
            other.op as u8,
            &other.values,
            other.negated,
        ))
    }
}

/// A malformed or unusable entry of an import, by its place in the input.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportError {
    /// Where: `file.json: indicator--… (objects[3])`, `feed.csv:12`.
    pub entry: String,
    pub reason: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.entry, self.reason)
    }
}
