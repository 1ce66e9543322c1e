//! Findings: one vulnerability (or scanner check) on one asset at one port
//! or package, with every scanner that reported it.

use crate::lang::Lang;
use crate::model::{Identity, Mac, Transport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// The scanners whose reports are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scanner {
    Nmap,
    OpenVas,
    Nessus,
    Trivy,
    Grype,
    /// A CSV export (Nessus, Greenbone, Tenable.sc, DefectDojo generic or
    /// a hand-made sheet).
    Csv,
    /// Not a scanner: Taishi's own matching of the register's software
    /// against NVD records. Its findings are fixed only by the next NVD
    /// match, never by a scanner's rescan.
    Nvd,
}

impl Scanner {
    pub fn as_str(self) -> &'static str {
        match self {
            Scanner::Nmap => "nmap",
            Scanner::OpenVas => "openvas",
            Scanner::Nessus => "nessus",
            Scanner::Trivy => "trivy",
            Scanner::Grype => "grype",
            Scanner::Csv => "csv",
            Scanner::Nvd => "nvd",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Scanner::Nmap => "Nmap",
            Scanner::OpenVas => "Greenbone/OpenVAS",
            Scanner::Nessus => "Nessus",
            Scanner::Trivy => "Trivy",
            Scanner::Grype => "Grype",
            Scanner::Csv => lang.pick("CSV 导入", "CSV import"),
            Scanner::Nvd => lang.pick("NVD 配置匹配", "NVD configuration match"),
        }
    }
}

/// The scanner's own severity, on one scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Words scanners use (`None`, `Negligible`, `Moderate`, `Important`,
    /// `UNKNOWN` …) and their Chinese equivalents; Nessus's 0–4 digits.
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.trim().to_lowercase().as_str() {
            "0" | "none" | "info" | "informational" | "information" | "log" | "debug"
            | "negligible" | "unknown" | "信息" | "提示" | "无" => Severity::Info,
            "1" | "low" | "低" | "低危" => Severity::Low,
            "2" | "medium" | "moderate" | "中" | "中危" => Severity::Medium,
            "3" | "high" | "important" | "高" | "高危" => Severity::High,
            "4" | "critical" | "urgent" | "严重" | "紧急" | "超危" => Severity::Critical,
            _ => return None,
        })
    }

    /// The CVSS v3 qualitative rating of a base score.
    pub fn from_cvss(score: f32) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Info,
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Severity::Info => lang.pick("信息", "info"),
            Severity::Low => lang.pick("低危", "low"),
            Severity::Medium => lang.pick("中危", "medium"),
            Severity::High => lang.pick("高危", "high"),
            Severity::Critical => lang.pick("严重", "critical"),
        }
    }
}

/// The asset a finding is on, as the report named it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct AssetRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    /// A container image, file system or repository (Trivy, Grype).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
}

impl AssetRef {
    /// From what a report calls a host: an address, else a name.
    pub fn host(s: &str) -> AssetRef {
        let s = s.trim();
        match s.parse::<IpAddr>() {
            Ok(ip) => AssetRef {
                ip: Some(ip),
                ..AssetRef::default()
            },
            Err(_) => AssetRef {
                hostname: (!s.is_empty()).then(|| s.trim_end_matches('.').to_lowercase()),
                ..AssetRef::default()
            },
        }
    }

    pub fn with_hostname(mut self, h: Option<&str>) -> AssetRef {
        if let Some(h) = h.map(str::trim).filter(|h| !h.is_empty()) {
            let h = h.trim_end_matches('.').to_lowercase();
            if self.ip.is_none() {
                if let Ok(ip) = h.parse() {
                    self.ip = Some(ip);
                    return self;
                }
            }
            self.hostname.get_or_insert(h);
        }
        self
    }

    /// The identity findings are keyed by: the address when there is one
    /// (all network scanners report it), else the name, else the artifact.
    pub fn key(&self) -> String {
        if let Some(ip) = self.ip {
            format!("ip:{ip}")
        } else if let Some(h) = &self.hostname {
            format!("host:{h}")
        } else if let Some(m) = &self.mac {
            format!("mac:{m}")
        } else if let Some(a) = &self.artifact {
            format!("artifact:{a}")
        } else {
            "unknown".into()
        }
    }

    /// The register identities this reference can be matched on.
    pub fn identities(&self) -> Vec<Identity> {
        let mut v = Vec::new();
        if let Some(ip) = self.ip {
            v.push(Identity::Ip(ip));
        }
        if let Some(m) = self.mac {
            v.push(Identity::Mac(m));
        }
        if let Some(id) = self.hostname.as_deref().and_then(Identity::name) {
            v.push(id);
        }
        v
    }
}

/// Where on the asset: the host as a whole, a port, a package or a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Location {
    Host,
    Port {
        transport: Transport,
        port: u16,
    },
    Package {
        name: String,
        version: Option<String>,
    },
    File {
        path: String,
    },
    Url {
        url: String,
    },
}

impl Location {
    /// From a scanner's port notation: `22/tcp`, `general/tcp`, or a port
    /// number and a protocol; port 0 and `general` are the host itself.
    pub fn port(port: &str, transport: &str) -> Location {
        let (p, t) = match port.split_once('/') {
            Some((p, t)) => (p, t),
            None => (port, transport),
        };
        match (p.trim().parse::<u16>(), Transport::parse(t)) {
            (Ok(0), _) | (Err(_), _) => Location::Host,
            (Ok(n), Some(t)) => Location::Port {
                transport: t,
                port: n,
            },
            (Ok(n), None) => Location::Port {
                transport: Transport::Tcp,
                port: n,
            },
        }
    }

    /// A package, named by its purl's `type/namespace/name` when there is
    /// one, so that Trivy and Grype (which spell Java and OS package names
    /// differently) land on the same key.
    pub fn package(name: &str, version: Option<&str>, purl: Option<&str>) -> Location {
        if let Some(p) = purl.and_then(|p| crate::software::Purl::parse(p).ok()) {
            let name = match &p.namespace {
                Some(ns) => format!("{}/{}/{}", p.ty, ns, p.name),
                None => format!("{}/{}", p.ty, p.name),
            };
            return Location::Package {
                name,
                version: p.version.or(version.map(str::to_string)),
            };
        }
        Location::Package {
            name: name.to_string(),
            version: version.filter(|v| !v.is_empty()).map(str::to_string),
        }
    }

    pub fn key(&self) -> String {
        match self {
            Location::Host => "host".into(),
            Location::Port { transport, port } => format!("{}/{port}", transport.as_str()),
            Location::Package { name, version } => {
                format!("pkg:{name}@{}", version.as_deref().unwrap_or(""))
            }
            Location::File { path } => format!("file:{path}"),
            Location::Url { url } => format!("url:{url}"),
        }
    }
}

/// What makes two findings the same: asset identity, CVE (or the
/// scanner's own check id when no CVE is named), port/package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingKey {
    pub asset: String,
    pub vuln: String,
    pub location: String,
}

impl fmt::Display for FindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.asset, self.vuln, self.location)
    }
}

/// One scanner's report of a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingSource {
    pub scanner: Scanner,
    /// The report file (or other name) it came from.
    pub report: String,
    /// The scanner's own id: Nessus plugin, Greenbone NVT OID, Trivy or
    /// Grype vulnerability id, Nmap script (and vulners id).
    pub scanner_id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_vector: Option<String>,
    /// The scanner's output that shows the finding (plugin output, the
    /// detected version, the matched package).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// The service name on the port, when the scanner said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    #[serde(default)]
    pub exploit_available: bool,
    /// Other ids the report gives the vulnerability (CNVD, CNNVD, …), as
    /// written; `Finding::cn_ids` reads the Chinese ones from these and the
    /// text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
}

impl FindingSource {
    /// A report with the optional parts empty; set them with struct update.
    pub fn new(
        scanner: Scanner,
        report: &str,
        scanner_id: impl Into<String>,
        title: impl Into<String>,
        severity: Severity,
    ) -> FindingSource {
        FindingSource {
            scanner,
            report: report.to_string(),
            scanner_id: scanner_id.into(),
            title: title.into(),
            severity,
            cvss_score: None,
            cvss_vector: None,
            evidence: None,
            service: None,
            fixed_version: None,
            exploit_available: false,
            refs: Vec::new(),
        }
    }
}

/// A finding: where, which vulnerability, and every report of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub asset: AssetRef,
    pub location: Location,
    /// `CVE-YYYY-NNNN` when the report names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    /// The highest severity any source gave.
    pub severity: Severity,
    pub sources: Vec<FindingSource>,
}

impl Finding {
    pub fn key(&self) -> FindingKey {
        let vuln = match &self.cve {
            Some(c) => c.clone(),
            None => self
                .sources
                .first()
                .map(|s| format!("{}:{}", s.scanner.as_str(), s.scanner_id))
                .unwrap_or_default(),
        };
        FindingKey {
            asset: self.asset.key(),
            vuln,
            location: self.location.key(),
        }
    }

    /// The China National Vulnerability Database ids (CNVD-2021-95914) and
    /// CNNVD ids (CNNVD-202112-799) its reports give: in their references,
    /// the check's id, title or output. Sorted, at most 16.
    pub fn cn_ids(&self) -> Vec<String> {
        let mut out = std::collections::BTreeSet::new();
        for s in &self.sources {
            let texts = s.refs.iter().map(String::as_str).chain([
                s.scanner_id.as_str(),
                s.title.as_str(),
                s.evidence.as_deref().unwrap_or(""),
            ]);
            for t in texts {
                out.extend(cn_ids_in(t));
            }
        }
        out.into_iter().take(MAX_CN_IDS).collect()
    }

    /// Each scanner that reported it.
    pub fn scanners(&self) -> impl Iterator<Item = Scanner> + '_ {
        self.sources.iter().map(|s| s.scanner)
    }

    fn absorb(&mut self, other: Finding) {
        self.severity = self.severity.max(other.severity);
        if self.asset.hostname.is_none() {
            self.asset.hostname = other.asset.hostname;
        }
        if self.asset.mac.is_none() {
            self.asset.mac = other.asset.mac;
        }
        for s in other.sources {
            let dup = self.sources.iter().any(|x| {
                x.scanner == s.scanner && x.scanner_id == s.scanner_id && x.report == s.report
            });
            if !dup {
                self.sources.push(s);
            }
        }
    }
}

/// Findings keyed for deduplication: the same finding from two scanners
/// (or twice in one report) is kept once, with both sources.
#[derive(Debug, Clone, Default)]
pub struct FindingSet {
    map: BTreeMap<FindingKey, Finding>,
}

impl FindingSet {
    pub fn new() -> FindingSet {
        FindingSet::default()
    }

    /// Adds a finding; returns true if it was new.
    pub fn add(&mut self, f: Finding) -> bool {
        let k = f.key();
        match self.map.get_mut(&k) {
            Some(x) => {
                x.absorb(f);
                false
            }
            None => {
                self.map.insert(k, f);
                true
            }
        }
    }

    pub fn extend(&mut self, fs: impl IntoIterator<Item = Finding>) {
        for f in fs {
            self.add(f);
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, k: &FindingKey) -> Option<&Finding> {
        self.map.get(k)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Finding> {
        self.map.values()
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.map.into_values().collect()
    }
}

/// `CVE-2021-44228` spelled canonically, or None.
pub fn normalise_cve(s: &str) -> Option<String> {
    let t = s.trim().trim_start_matches("CVE:").trim();
    let up = t.to_ascii_uppercase();
    let rest = up.strip_prefix("CVE-")?;
    let (year, num) = rest.split_once('-')?;
    (year.len() == 4
        && year.chars().all(|c| c.is_ascii_digit())
        && num.len() >= 4
        && num.chars().all(|c| c.is_ascii_digit()))
    .then(|| format!("CVE-{year}-{num}"))
}

/// CNVD/CNNVD ids kept per finding.
const MAX_CN_IDS: usize = 16;

/// Every CNVD id (`CNVD-YYYY-NNNNN`, 4–6 digits) and CNNVD id
/// (`CNNVD-YYYYMM-NNN`, 3–4 digits; the older `CNNVD-YYYYMM-NNN` form
/// too) in a text, upper-cased, at most 16. A `:` after the name is
/// accepted (`CNVD:2021-95914`, as some exports write references).
pub fn cn_ids_in(text: &str) -> Vec<String> {
    let up = text.to_ascii_uppercase();
    let b = up.as_bytes();
    let digits = |from: usize| {
        b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < MAX_CN_IDS {
        let (name, at) = if b[i..].starts_with(b"CNNVD") {
            ("CNNVD", i + 5)
        } else if b[i..].starts_with(b"CNVD") {
            ("CNVD", i + 4)
        } else {
            i += 1;
            continue;
        };
        let word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        i = at;
        if !word_start || !matches!(b.get(at), Some(b'-' | b':')) {
            continue;
        }
        let first = digits(at + 1);
        let want_first = if name == "CNVD" { 4 } else { 6 };
        let sep = at + 1 + first;
        if first != want_first || b.get(sep) != Some(&b'-') {
            continue;
        }
        let second = digits(sep + 1);
        let ok = if name == "CNVD" {
            (4..=6).contains(&second)
        } else {
            (3..=4).contains(&second)
        };
        let end = sep + 1 + second;
        if ok && !b.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
            let id = format!("{name}-{}-{}", &up[at + 1..sep], &up[sep + 1..end]);
            if !out.contains(&id) {
                out.push(id);
            }
            i = end;
        }
    }
    out
}

/// Every CVE id in a free text (CVE lists, Greenbone tags).
pub fn cves_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let up = text.to_ascii_uppercase();
    let mut rest = up.as_str();
    while let Some(i) = rest.find("CVE-") {
        let tail = &rest[i..];
        let end = tail[4..]
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .map_or(tail.len(), |e| e + 4);
        if let Some(c) = normalise_cve(&tail[..end]) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        rest = &tail[4..];
    }
    out
}
