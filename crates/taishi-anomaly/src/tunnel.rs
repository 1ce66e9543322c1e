//! DNS tunnelling and DNS C2, per registered domain.
//!
//! A tunnel encodes data in the labels left of a domain its operator owns,
//! so per registered domain (public suffix list) it shows: many distinct
//! subdomains, long subdomains, high character entropy, a large volume of
//! query bytes, and often TXT/NULL questions (room for the answer). Each is a
//! sub-score in 0..=1; the domain score is their weighted sum.

use std::hash::BuildHasher;

use foldhash::HashSet;
use serde::{Deserialize, Serialize};

use crate::finding::{Feature, Finding, FindingKind, Severity, Text};
use crate::record::DnsRecord;
use crate::stats::shannon_entropy;
use crate::table::BoundedMap;
use crate::{check_range, AnomalyError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TunnelConfig {
    /// Window (ms) the per-domain counts cover.
    pub window_ms: i64,
    /// Distinct subdomains in a window that give full marks.
    pub unique_subdomains: u32,
    /// Mean subdomain length (chars) that gives full marks.
    pub mean_length: f64,
    /// Subdomain entropy (bits/char) from which, and up to which + 2, the
    /// entropy sub-score rises from 0 to 1.
    pub entropy_floor: f64,
    /// A single question with a subdomain this long (and entropy above the
    /// floor + 1) is a "long query".
    pub long_query_length: usize,
    /// Query bytes per domain in a window reported as volume.
    pub volume_bytes: u64,
    /// Fewest questions before a domain is judged.
    pub min_queries: u32,
    /// Domain score from which a finding is raised.
    pub alert_score: f64,
    pub weight_unique: f64,
    pub weight_length: f64,
    pub weight_entropy: f64,
    pub weight_long: f64,
    pub weight_txt_null: f64,
    /// Most registered domains tracked.
    pub max_domains: usize,
    /// Distinct subdomains remembered per domain (counting saturates here).
    pub max_tracked_subdomains: usize,
    /// Registered domains never scored (CDNs and anti-virus lookups that
    /// encode data in names by design, reverse zones).
    pub exclude_domains: Vec<String>,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            window_ms: 3_600_000,
            unique_subdomains: 100,
            mean_length: 40.0,
            entropy_floor: 2.5,
            long_query_length: 48,
            volume_bytes: 10_000,
            min_queries: 10,
            alert_score: 0.6,
            weight_unique: 0.35,
            weight_length: 0.15,
            weight_entropy: 0.15,
            weight_long: 0.2,
            weight_txt_null: 0.15,
            max_domains: 50_000,
            max_tracked_subdomains: 1024,
            exclude_domains: vec![
                "in-addr.arpa".into(),
                "ip6.arpa".into(),
                // anti-virus and reputation services answer lookups of
                // hashes by design
                "sophosxl.net".into(),
                "mcafee.com".into(),
                "e5.sk".into(),
                "spamhaus.org".into(),
            ],
        }
    }
}

impl TunnelConfig {
    pub fn validate(&self) -> Result<(), AnomalyError> {
        const S: &str = "dns_tunnel";
        check_range(S, "window_ms", self.window_ms, 1_000, 7 * 24 * 3_600_000)?;
        check_range(
            S,
            "unique_subdomains",
            self.unique_subdomains,
            1,
            10_000_000,
        )?;
        check_range(S, "mean_length", self.mean_length, 1.0, 253.0)?;
        check_range(S, "entropy_floor", self.entropy_floor, 0.0, 8.0)?;
        check_range(S, "long_query_length", self.long_query_length, 1, 253)?;
        check_range(S, "min_queries", self.min_queries, 1, 10_000_000)?;
        check_range(S, "alert_score", self.alert_score, 0.0, 1.0)?;
        check_range(S, "max_domains", self.max_domains, 1, 100_000_000)?;
        check_range(
            S,
            "max_tracked_subdomains",
            self.max_tracked_subdomains,
            1,
            1_000_000,
        )?;
        for (f, w) in [
            ("weight_unique", self.weight_unique),
            ("weight_length", self.weight_length),
            ("weight_entropy", self.weight_entropy),
            ("weight_long", self.weight_long),
            ("weight_txt_null", self.weight_txt_null),
        ] {
            check_range(S, f, w, 0.0, 1.0)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DomainState {
    start_ms: i64,
    last_ms: i64,
    queries: u32,
    subdomains: HashSet<u64>,
    len_sum: u64,
    entropy_sum: f64,
    long: u32,
    txt_null: u32,
    fired: bool,
}

impl DomainState {
    fn new(ts: i64) -> Self {
        DomainState {
            start_ms: ts,
            last_ms: ts,
            queries: 0,
            subdomains: HashSet::default(),
            len_sum: 0,
            entropy_sum: 0.0,
            long: 0,
            txt_null: 0,
            fired: false,
        }
    }
}

/// The parts of a domain's tunnel score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TunnelScore {
    pub score: f64,
    pub queries: u32,
    pub unique_subdomains: usize,
    pub mean_length: f64,
    pub mean_entropy: f64,
    pub long_ratio: f64,
    pub txt_null_ratio: f64,
    pub bytes: u64,
}

/// What a [`TunnelDetector`] holds, to save and load across a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TunnelState {
    domains: Vec<(u64, DomainState)>,
}

/// Scores registered domains for tunnelling as DNS questions arrive.
#[derive(Debug)]
pub struct TunnelDetector {
    cfg: TunnelConfig,
    /// Keyed by a 64-bit hash of the registered domain, so a lookup needs
    /// no allocation (a collision would merge two domains' counts: with 64
    /// bits and at most millions of domains, not a practical concern).
    domains: BoundedMap<u64, DomainState>,
    hasher: foldhash::fast::FixedState,
}

impl TunnelDetector {
    pub fn new(cfg: TunnelConfig) -> Result<Self, AnomalyError> {
        cfg.validate()?;
        Ok(TunnelDetector {
            domains: BoundedMap::new(cfg.max_domains),
            cfg,
            hasher: foldhash::fast::FixedState::with_seed(0xd15),
        })
    }

    /// Its tables' fill (entries, cap, evictions).
    pub fn tables(&self) -> Vec<crate::table::TableStatus> {
        vec![self.domains.status("tunnel.domains")]
    }

    pub fn save_state(&self) -> TunnelState {
        TunnelState {
            domains: self.domains.entries(),
        }
    }

    pub fn load_state(&mut self, s: TunnelState) {
        self.domains.load(s.domains);
    }

    pub fn domains_len(&self) -> usize {
        self.domains.len()
    }

    /// Adds one question; pushes a finding the first time (per window) its
    /// registered domain scores at or above `alert_score`.
    pub fn observe(&mut self, r: &DnsRecord, out: &mut Vec<Finding>) {
        let raw = r.qname.trim().trim_end_matches('.');
        if raw.is_empty() || raw.len() > crate::domain::MAX_NAME {
            return;
        }
        let lower: std::borrow::Cow<str> = if raw.bytes().any(|b| b.is_ascii_uppercase()) {
            raw.to_ascii_lowercase().into()
        } else {
            raw.into()
        };
        let reg = crate::domain::registered(&lower);
        if self
            .cfg
            .exclude_domains
            .iter()
            .any(|s| crate::domain::is_within(reg, s))
        {
            return;
        }
        // Entropy and distinctness on the original case: base64 tunnels
        // (dns2tcp) use both cases, and lower-casing would hide it.
        let sub = &raw[..crate::domain::subdomain(&lower, reg).len()];
        let c = &self.cfg;
        let st = self
            .domains
            .entry_or_insert_with(&self.hasher.hash_one(reg), || DomainState::new(r.ts_ms));
        if crate::window_over(r.ts_ms, st.start_ms, c.window_ms) {
            *st = DomainState::new(r.ts_ms);
        }
        st.last_ms = st.last_ms.max(r.ts_ms);
        st.queries += 1;
        if !sub.is_empty() && st.subdomains.len() < c.max_tracked_subdomains {
            st.subdomains.insert(self.hasher.hash_one(sub));
        }
        let ent = if sub.is_empty() {
            0.0
        } else {
            shannon_entropy(sub.as_bytes())
        };
        st.len_sum += sub.len() as u64;
        st.entropy_sum += ent;
        if sub.len() >= c.long_query_length && ent >= c.entropy_floor + 1.0 {
            st.long += 1;
        }
        if r.qtype.eq_ignore_ascii_case("TXT")
            || r.qtype.eq_ignore_ascii_case("NULL")
            || r.qtype == "16"
            || r.qtype == "10"
        {
            st.txt_null += 1;
        }
        if st.fired || st.queries < c.min_queries {
            return;
        }
        let s = score(c, st);
        if s.score >= c.alert_score {
            st.fired = true;
            out.push(Finding {
                kind: FindingKind::DnsTunnel,
                entity: reg.to_string(),
                score: s.score,
                severity: Severity::from_score(s.score),
                first_ms: st.start_ms,
                last_ms: st.last_ms,
                features: features(c, &s),
            });
        }
    }

    /// The current score of a registered domain (of any name under it).
    pub fn domain_score(&self, name: &str) -> Option<TunnelScore> {
        let lower = crate::domain::normalize(name)?;
        let reg = crate::domain::registered(&lower);
        let st = self.domains.get(&self.hasher.hash_one(reg))?;
        Some(score(&self.cfg, st))
    }
}

fn score(c: &TunnelConfig, st: &DomainState) -> TunnelScore {
    let q = st.queries.max(1) as f64;
    let unique = st.subdomains.len();
    let mean_length = st.len_sum as f64 / q;
    let mean_entropy = st.entropy_sum / q;
    let long_ratio = st.long as f64 / q;
    let txt_null_ratio = st.txt_null as f64 / q;
    let parts = [
        (
            c.weight_unique,
            (unique as f64 / c.unique_subdomains as f64).min(1.0),
        ),
        (c.weight_length, (mean_length / c.mean_length).min(1.0)),
        (
            c.weight_entropy,
            ((mean_entropy - c.entropy_floor) / 2.0).clamp(0.0, 1.0),
        ),
        (c.weight_long, long_ratio),
        (c.weight_txt_null, txt_null_ratio),
    ];
    let wsum: f64 = parts.iter().map(|p| p.0).sum::<f64>().max(1e-9);
    let score = parts.iter().map(|(w, s)| w * s).sum::<f64>() / wsum;
    TunnelScore {
        score: if st.queries < c.min_queries {
            0.0
        } else {
            score
        },
        queries: st.queries,
        unique_subdomains: unique,
        mean_length,
        mean_entropy,
        long_ratio,
        txt_null_ratio,
        bytes: st.len_sum,
    }
}

fn features(c: &TunnelConfig, s: &TunnelScore) -> Vec<Feature> {
    let uniq = (s.unique_subdomains as f64 / c.unique_subdomains as f64).min(1.0);
    let len = (s.mean_length / c.mean_length).min(1.0);
    let ent = ((s.mean_entropy - c.entropy_floor) / 2.0).clamp(0.0, 1.0);
    vec![
        Feature::new(
            "unique_subdomains",
            s.unique_subdomains as f64,
            uniq,
            uniq >= 0.5,
            Text::new(
                format!(
                    "{} 个不同子域名（{} 次查询）",
                    s.unique_subdomains, s.queries
                ),
                format!(
                    "{} distinct subdomains in {} questions",
                    s.unique_subdomains, s.queries
                ),
            ),
        ),
        Feature::new(
            "mean_subdomain_length",
            s.mean_length,
            len,
            len >= 0.5,
            Text::new(
                format!("子域名平均长度 {:.0} 字符", s.mean_length),
                format!("mean subdomain length {:.0} chars", s.mean_length),
            ),
        ),
        Feature::new(
            "mean_entropy",
            s.mean_entropy,
            ent,
            ent >= 0.5,
            Text::new(
                format!("子域名字符熵 {:.2} 比特", s.mean_entropy),
                format!("subdomain entropy {:.2} bits/char", s.mean_entropy),
            ),
        ),
        Feature::new(
            "long_query_ratio",
            s.long_ratio,
            s.long_ratio,
            s.long_ratio >= 0.3,
            Text::new(
                format!("{:.0}% 的查询为长且高熵的名字", s.long_ratio * 100.0),
                format!(
                    "{:.0}% of questions are long, high-entropy names",
                    s.long_ratio * 100.0
                ),
            ),
        ),
        Feature::new(
            "txt_null_ratio",
            s.txt_null_ratio,
            s.txt_null_ratio,
            s.txt_null_ratio >= 0.3,
            Text::new(
                format!("TXT/NULL 查询占 {:.0}%", s.txt_null_ratio * 100.0),
                format!("{:.0}% TXT/NULL questions", s.txt_null_ratio * 100.0),
            ),
        ),
        Feature::new(
            "query_bytes",
            s.bytes as f64,
            0.0,
            s.bytes >= c.volume_bytes,
            Text::new(
                format!("子域名共 {} 字节（可能外传数据）", s.bytes),
                format!(
                    "{} bytes carried in subdomains (possible exfiltration)",
                    s.bytes
                ),
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(ts: i64, name: &str, qtype: &str) -> DnsRecord {
        DnsRecord {
            ts_ms: ts,
            src: "10.1.1.1".parse().unwrap(),
            qname: name.into(),
            qtype: qtype.into(),
            rcode: "NOERROR".into(),
        }
    }

    #[test]
    fn tunnel_fires_plain_does_not() {
        let mut d = TunnelDetector::new(TunnelConfig::default()).unwrap();
        let mut out = Vec::new();
        for i in 0..200 {
            d.observe(&q(i, &format!("www{}.example.com", i % 3), "A"), &mut out);
            let payload: String = (0..60)
                .map(|k| (b'a' + ((i * 7 + k * 13) % 26) as u8) as char)
                .collect();
            d.observe(&q(i, &format!("{payload}{i}.t.evil.org"), "TXT"), &mut out);
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].entity, "evil.org");
        assert!(d.domain_score("example.com").unwrap().score < 0.3);
    }
}
