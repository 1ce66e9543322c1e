//! `[risk]` of taishi.toml.

use serde::{Deserialize, Serialize};

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
