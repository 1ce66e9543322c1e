//! `[risk]` of taishi.toml.

use serde::{Deserialize, Serialize};
use taishi_vuln::priority::Policy;

/// `[risk]` (issue 15).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RiskSection {
    /// Match stored alerts to assets (scores, warnings).
    pub enabled: bool,
    /// Alerts waiting for the risk worker (10–1,000,000).
    pub queue: usize,
    /// Where to pull the CISA KEV catalog (JSON) from; empty: imports only
    /// (air-gapped networks: `POST /vulns/feeds/kev`).
    pub kev_url: String,
    /// Where to pull FIRST EPSS (CSV, optionally gzip) from; empty: imports only.
    pub epss_url: String,
    /// Where to pull NVD CVE records from: the NVD CVE API 2.0
    /// (`https://services.nvd.nist.gov/rest/json/cves/2.0`, paged with
    /// `startIndex`, within NVD's rate limits) or a file (`file:///…`, an
    /// API page or an array of pages, optionally gzip); empty: imports only
    /// (`POST /vulns/feeds/nvd`).
    pub nvd_url: String,
    /// An NVD API key (raises NVD's limit from 5 to 50 requests per 30 s);
    /// empty: none.
    pub nvd_api_key: String,
    /// Hours between pulls (1–720).
    pub interval_hours: u64,
    /// Discovery from received events (issue 15): hosts seen in EVTX,
    /// syslog, Zeek, DHCP, DNS and flows are matched to the register.
    pub discovery: bool,
    /// The operator's own address ranges (CIDR): flow endpoints inside
    /// them are hosts to discover, destinations outside them are "out" for
    /// the large-outbound-transfer rule. Empty: RFC 1918 and ULA
    /// (10/8, 172.16/12, 192.168/16, fc00::/7).
    pub internal_networks: Vec<String>,
    /// Unknown-asset candidates kept per organisation (10–1,000,000); the
    /// least recently seen are evicted (and counted) past it.
    pub max_unknown: usize,
    /// Bytes a registered asset holding 重要 or 核心 data may send outside
    /// the internal networks per window before a `pii:outbound_transfer`
    /// alert (at least 1 MiB; default 100 MiB).
    pub outbound_bytes: u64,
    /// The window of `outbound_bytes`, seconds (60–604,800; default 3,600).
    pub outbound_window_secs: u64,
    /// Minutes between looks for findings past their remediation deadline
    /// and accepted risks past their expiry (0: never; at most 1440).
    pub overdue_check_minutes: u64,
    /// Remediation deadlines in days per SSVC decision, where they differ
    /// from the default policy (immediate 3, out-of-cycle 14 as CISA BOD
    /// 22-01 sets for KEV entries, scheduled 90, defer 180):
    /// `[risk.deadline_days] immediate = 2`.
    pub deadline_days: DeadlineDays,
}

/// `[risk.deadline_days]`: days to fix per SSVC deployer decision; each
/// left out keeps the default policy's.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineDays {
    pub immediate: Option<u32>,
    pub out_of_cycle: Option<u32>,
    pub scheduled: Option<u32>,
    pub defer: Option<u32>,
}

impl DeadlineDays {
    /// The default policy with these deadlines in it.
    pub fn policy(&self) -> Policy {
        let mut p = Policy::default();
        let d = &mut p.deadline_days;
        for (set, to) in [
            (self.immediate, &mut d.immediate),
            (self.out_of_cycle, &mut d.out_of_cycle),
            (self.scheduled, &mut d.scheduled),
            (self.defer, &mut d.defer),
        ] {
            if let Some(days) = set {
                *to = days;
            }
        }
        p
    }
}

impl Default for RiskSection {
    fn default() -> Self {
        RiskSection {
            enabled: true,
            queue: 10_000,
            kev_url: String::new(),
            epss_url: String::new(),
            nvd_url: String::new(),
            nvd_api_key: String::new(),
            interval_hours: 24,
            overdue_check_minutes: 60,
            deadline_days: DeadlineDays::default(),
            discovery: true,
            internal_networks: Vec::new(),
            max_unknown: 10_000,
            outbound_bytes: 100 << 20,
            outbound_window_secs: 3_600,
        }
    }
}

impl RiskSection {
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(10..=1_000_000).contains(&self.queue) {
            p.push("risk.queue: must be between 10 and 1000000".into());
        }
        if !(1..=720).contains(&self.interval_hours) {
            p.push("risk.interval_hours: must be between 1 and 720".into());
        }
        if self.overdue_check_minutes > 1440 {
            p.push("risk.overdue_check_minutes: must be between 0 and 1440".into());
        }
        let d = &self.deadline_days;
        for (k, v) in [
            ("immediate", d.immediate),
            ("out_of_cycle", d.out_of_cycle),
            ("scheduled", d.scheduled),
            ("defer", d.defer),
        ] {
            if v.is_some_and(|days| !(1..=3650).contains(&days)) {
                p.push(format!(
                    "risk.deadline_days.{k}: must be between 1 and 3650"
                ));
            }
        }
        if !(10..=1_000_000).contains(&self.max_unknown) {
            p.push("risk.max_unknown: must be between 10 and 1000000".into());
        }
        if self.outbound_bytes < 1 << 20 {
            p.push("risk.outbound_bytes: must be at least 1048576 (1 MiB)".into());
        }
        if !(60..=604_800).contains(&self.outbound_window_secs) {
            p.push("risk.outbound_window_secs: must be between 60 and 604800".into());
        }
        if self.internal_networks.len() > 1_000 {
            p.push("risk.internal_networks: at most 1000 ranges".into());
        }
        for n in &self.internal_networks {
            if n.trim().parse::<ipnet::IpNet>().is_err() {
                p.push(format!("risk.internal_networks: `{n}` is not a CIDR range"));
            }
        }
        for (k, u) in [("kev_url", &self.kev_url), ("epss_url", &self.epss_url)] {
            if !(u.is_empty() || u.starts_with("https://") || u.starts_with("http://")) {
                p.push(format!("risk.{k}: must be an http(s) URL"));
            }
        }
        let n = &self.nvd_url;
        if !(n.is_empty()
            || n.starts_with("https://")
            || n.starts_with("http://")
            || n.starts_with("file://"))
        {
            p.push("risk.nvd_url: must be an http(s) or file:// URL".into());
        }
        p
    }
}

/// RFC 1918 and ULA: the default internal ranges.
pub const DEFAULT_INTERNAL: &[&str] =
    &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

impl RiskSection {
    /// The internal ranges in force (the default when none are set).
    pub fn internal(&self) -> Vec<ipnet::IpNet> {
        let list: Vec<&str> = if self.internal_networks.is_empty() {
            DEFAULT_INTERNAL.to_vec()
        } else {
            self.internal_networks.iter().map(|s| s.trim()).collect()
        };
        list.iter().filter_map(|n| n.parse().ok()).collect()
    }
}
