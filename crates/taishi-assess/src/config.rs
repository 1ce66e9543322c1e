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
