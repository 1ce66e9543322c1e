//! Exfiltration: outbound volume per host against that host's own
//! time-of-day baseline, and uploads to storage and paste sites.
//!
//! Each host keeps, for each hour of the day, an exponentially weighted mean
//! and variance of the bytes it sent in that hour (24 × 2 numbers, 200 bytes
//! a host). When an hour closes, its volume is compared with the baseline of
//! the same hour of the day: a z-score over `z_threshold` and a volume over
//! `min_bytes` raise a finding. Until a host has `learning_days` of history
//! for that hour it is learning: it raises nothing and says so
//! ([`ExfilDetector::learning_status`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::finding::{Feature, Finding, FindingKind, Severity, Text};
use crate::record::{FlowRecord, HttpRecord};
use crate::table::BoundedMap;
use crate::{check_range, AnomalyError};

/// The storage and paste sites shipped with the crate.
static STORAGE_SITES: &str = include_str!("../data/storage_sites.txt");

const H: i64 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExfilConfig {
    /// Most hosts with a baseline.
    pub max_hosts: usize,
    /// Days of history an hour of the day needs before it is judged.
    pub learning_days: u16,
    /// Weight of the newest day in the moving mean and variance.
    pub alpha: f64,
    /// z-score (against the same hour's baseline) that raises a finding.
    pub z_threshold: f64,
    /// Fewest bytes in the hour for a finding, whatever the z-score.
    pub min_bytes: u64,
    /// Smallest standard deviation assumed (bytes): a host that always sends
    /// the same amount must not alert on a small change.
    pub min_std_bytes: f64,
    /// Upload (POST/PUT body) size to a storage or paste site that raises a
    /// finding.
    pub upload_min_bytes: u64,
    /// Extra storage and paste sites, on top of the shipped list.
    pub storage_sites: Vec<String>,
}

impl Default for ExfilConfig {
    fn default() -> Self {
        ExfilConfig {
            max_hosts: 100_000,
            learning_days: 7,
            alpha: 0.2,
            z_threshold: 4.0,
            min_bytes: 50_000_000,
            min_std_bytes: 1_000_000.0,
            upload_min_bytes: 1_000_000,
            storage_sites: Vec::new(),
        }
    }
}

impl ExfilConfig {
    pub fn validate(&self) -> Result<(), AnomalyError> {
        const S: &str = "exfil";
        check_range(S, "max_hosts", self.max_hosts, 1, 100_000_000)?;
        check_range(S, "learning_days", self.learning_days, 1, 365)?;
        check_range(S, "alpha", self.alpha, 0.001, 1.0)?;
        check_range(S, "z_threshold", self.z_threshold, 0.5, 1000.0)?;
        check_range(S, "min_std_bytes", self.min_std_bytes, 1.0, 1e15)?;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HostBaseline {
    /// The open hour (ms / 1 h) and the bytes sent in it so far.
    hour: i64,
    bytes: u64,
    mean: [f64; 24],
    var: [f64; 24],
    /// Days of history per hour of the day (saturating).
    days: [u16; 24],
}

/// What an [`ExfilDetector`] has learnt, to save and load across a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExfilState {
    hosts: Vec<(IpAddr, HostBaseline)>,
}

/// Outbound volume against per-host, per-hour-of-day baselines, and
/// uploads to storage and paste sites.
#[derive(Debug)]
pub struct ExfilDetector {
    cfg: ExfilConfig,
    hosts: BoundedMap<IpAddr, HostBaseline>,
    sites: Vec<String>,
}

impl ExfilDetector {
    pub fn new(cfg: ExfilConfig) -> Result<Self, AnomalyError> {
        cfg.validate()?;
        let sites = STORAGE_SITES
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .chain(cfg.storage_sites.iter().map(|s| s.to_ascii_lowercase()))
            .collect();
        Ok(ExfilDetector {
            hosts: BoundedMap::new(cfg.max_hosts),
            sites,
            cfg,
        })
    }

    /// Its tables' fill (entries, cap, evictions).
    pub fn tables(&self) -> Vec<crate::table::TableStatus> {
        vec![self.hosts.status("exfil.hosts")]
    }

    pub fn save_state(&self) -> ExfilState {
        ExfilState {
            hosts: self.hosts.entries(),
        }
    }

    pub fn load_state(&mut self, s: ExfilState) {
        self.hosts.load(s.hosts);
    }

    /// Counts a flow's outbound bytes for its source; pushes a finding when
    /// the source's previous hour closes far above its baseline.
    pub fn observe_flow(&mut self, r: &FlowRecord, out: &mut Vec<Finding>) {
        let c = &self.cfg;
        let hour = r.ts_ms.div_euclid(H);
        let b = self.hosts.entry_or_insert_with(&r.src, || HostBaseline {
            hour,
            bytes: 0,
            mean: [0.0; 24],
            var: [0.0; 24],
            days: [0; 24],
        });
        if hour > b.hour {
            // Close the open hour, then the silent hours after it (at most a
            // day of them: older gaps say nothing new about any hour).
            let closed = (b.hour, b.bytes);
            if let Some(f) = judge(c, &r.src, b, closed.0, closed.1) {
                out.push(f);
            }
            learn(c, b, closed.0, closed.1);
            let first_gap = (closed.0 + 1).max(hour - 24);
            for h in first_gap..hour {
                learn(c, b, h, 0);
            }
            b.hour = hour;
            b.bytes = 0;
        }
        // Records older than the open hour are counted into it: logs arrive
        // a little out of order, and the hour is what is being judged.
        b.bytes = b.bytes.saturating_add(r.orig_bytes);
    }

    /// An upload to a storage or paste site.
    pub fn observe_http(&mut self, r: &HttpRecord, out: &mut Vec<Finding>) {
        if r.request_bytes < self.cfg.upload_min_bytes
            || !(r.method.eq_ignore_ascii_case("POST") || r.method.eq_ignore_ascii_case("PUT"))
        {
            return;
        }
        let host = crate::beacon::strip_port(&r.host);
        let Some(site) = self
            .sites
            .iter()
            .find(|s| crate::domain::is_within(host, s))
        else {
            return;
        };
        let mb = r.request_bytes as f64 / 1e6;
        out.push(Finding {
            kind: FindingKind::StorageUpload,
            entity: format!("{} → {}", r.src, host),
            score: 0.8,
            severity: Severity::Medium,
            first_ms: r.ts_ms,
            last_ms: r.ts_ms,
            features: vec![Feature::new(
                "upload_bytes",
                r.request_bytes as f64,
                0.8,
                true,
                Text::new(
                    format!("向网盘/粘贴站点 {site} 上传 {mb:.1} MB"),
                    format!("uploaded {mb:.1} MB to storage/paste site {site}"),
                ),
            )],
        });
    }

    /// Whether a host is still learning the hour of day `ts_ms` falls in
    /// (None for a host never seen).
    pub fn learning(&self, src: IpAddr, ts_ms: i64) -> Option<bool> {
        let b = self.hosts.get(&src)?;
        let h = ts_ms.div_euclid(H).rem_euclid(24) as usize;
        Some(b.days[h] < self.cfg.learning_days)
    }

    /// How many hosts are still learning, in words, for the operator.
    pub fn learning_status(&self) -> Text {
        let total = self.hosts.len();
        let learning = self
            .hosts
            .iter()
            .filter(|(_, b)| b.days.iter().any(|d| *d < self.cfg.learning_days))
            .count();
        let days = self.cfg.learning_days;
        Text::new(
            format!("外传流量基线：{total} 台主机中 {learning} 台仍在学习期（每个时段需 {days} 天数据），学习期内不告警"),
            format!(
                "exfiltration baselines: {learning} of {total} hosts still learning ({days} days per hour of day needed); no alerts while learning"
            ),
        )
    }
}

fn learn(c: &ExfilConfig, b: &mut HostBaseline, hour: i64, bytes: u64) {
    let h = hour.rem_euclid(24) as usize;
    let x = bytes as f64;
    if b.days[h] == 0 {
        b.mean[h] = x;
        b.var[h] = 0.0;
    } else {
        let d = x - b.mean[h];
        b.mean[h] += c.alpha * d;
        b.var[h] = (1.0 - c.alpha) * (b.var[h] + c.alpha * d * d);
    }
    b.days[h] = b.days[h].saturating_add(1);
}

fn judge(
    c: &ExfilConfig,
    src: &IpAddr,
    b: &HostBaseline,
    hour: i64,
    bytes: u64,
) -> Option<Finding> {
    let h = hour.rem_euclid(24) as usize;
    if b.days[h] < c.learning_days || bytes < c.min_bytes {
        return None;
    }
    let std = b.var[h].sqrt().max(c.min_std_bytes);
    let z = (bytes as f64 - b.mean[h]) / std;
    if z < c.z_threshold {
        return None;
    }
    let score = (0.7 + 0.3 * (z / (4.0 * c.z_threshold))).min(1.0);
    let (mb, base) = (bytes as f64 / 1e6, b.mean[h] / 1e6);
    Some(Finding {
        kind: FindingKind::ExfilVolume,
        entity: src.to_string(),
        score,
        severity: Severity::from_score(score),
        first_ms: hour * H,
        last_ms: (hour + 1) * H - 1,
        features: vec![
            Feature::new(
                "hour_bytes",
                bytes as f64,
                score,
                true,
                Text::new(
                    format!("{h:02}:00 时段外发 {mb:.1} MB，该主机此时段平时约 {base:.1} MB"),
                    format!("sent {mb:.1} MB in the {h:02}:00 hour; this host usually sends {base:.1} MB then"),
                ),
            ),
            Feature::new(
                "z_score",
                z,
                score,
                true,
                Text::new(format!("偏离自身基线 {z:.1} 个标准差"), format!("{z:.1} standard deviations above its own baseline")),
            ),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ConnState, Transport};

    fn flow(ts: i64, bytes: u64) -> FlowRecord {
        FlowRecord {
            ts_ms: ts,
            src: "10.0.0.8".parse().unwrap(),
            dst: "198.51.100.1".parse().unwrap(),
            dst_port: 443,
            transport: Transport::Tcp,
            orig_bytes: bytes,
            resp_bytes: 0,
            duration_ms: 1000,
            state: ConnState::Established,
        }
    }

    #[test]
    fn quiet_while_learning_then_flags_a_night_upload() {
        let mut d = ExfilDetector::new(ExfilConfig::default()).unwrap();
        let mut out = Vec::new();
        let src: IpAddr = "10.0.0.8".parse().unwrap();
        // Working hours 30–40 MB an hour, nights 1 MB; a 200 MB night on day 3
        // (learning: no alert), and on day 10 (alert).
        for day in 0..11i64 {
            for h in 0..24i64 {
                let t = day * 24 * H + h * H;
                let usual = if (9..18).contains(&h) {
                    30_000_000 + (day * h % 7) as u64 * 1_500_000
                } else {
                    1_000_000
                };
                let bytes = if h == 3 && (day == 3 || day == 10) {
                    200_000_000
                } else {
                    usual
                };
                d.observe_flow(&flow(t + 60_000, bytes), &mut out);
            }
            if day == 3 {
                assert_eq!(d.learning(src, 3 * H), Some(true));
                assert!(d
                    .learning_status()
                    .en
                    .contains("1 of 1 hosts still learning"));
            }
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].kind, FindingKind::ExfilVolume);
        assert_eq!(out[0].first_ms, (10 * 24 + 3) * H);
        assert_eq!(d.learning(src, 3 * H), Some(false));
    }

    #[test]
    fn storage_upload() {
        let mut d = ExfilDetector::new(ExfilConfig::default()).unwrap();
        let mut out = Vec::new();
        let req = |host: &str, method: &str, n: u64| HttpRecord {
            ts_ms: 0,
            src: "10.0.0.9".parse().unwrap(),
            host: host.into(),
            method: method.into(),
            request_bytes: n,
            response_bytes: 0,
            user_agent: String::new(),
        };
        d.observe_http(&req("pan.baidu.com:443", "POST", 5_000_000), &mut out);
        d.observe_http(&req("pan.baidu.com", "GET", 5_000_000), &mut out);
        d.observe_http(&req("example.com", "POST", 5_000_000), &mut out);
        d.observe_http(&req("pastebin.com", "POST", 10), &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].features[0].text.zh.contains("pan.baidu.com"));
    }
}
