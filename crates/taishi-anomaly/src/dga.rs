//! DGA domains: a character n-gram model shipped in the crate, and NXDOMAIN
//! bursts per host.
//!
//! The model (data/dga_model.bin, trained by tools/train_dga.py) holds, for
//! each order in 2..=4, two tables of quantised −log P(char | previous
//! chars) over hashed contexts: one estimated on DGA names, one on popular
//! benign names. A name's raw score is the sum over orders of the mean
//! per-character log-likelihood ratio log P_dga − log P_benign: positive
//! when the name reads like the DGA families, negative when it reads like
//! ordinary names. Word-list DGAs (matsnu) are the weak spot (README).

use std::net::IpAddr;

use foldhash::HashSet;
use serde::{Deserialize, Serialize};

use crate::finding::{Feature, Finding, FindingKind, Severity, Text};
use crate::record::DnsRecord;
use crate::table::BoundedMap;
use crate::{check_range, AnomalyError};

/// The model shipped with the crate (≈ 390 KB).
pub static SHIPPED_MODEL: &[u8] = include_bytes!("../data/dga_model.bin");

const ALPHA_BOS: u32 = 39;
const MAX_HEADER: usize = 4096;
const MAX_BUCKETS: usize = 1 << 22;
const MAX_ORDERS: usize = 8;

/// A character n-gram likelihood-ratio model.
#[derive(Debug, Clone)]
pub struct DgaModel {
    orders: Vec<usize>,
    buckets: usize,
    qstep: f64,
    unseen: f64,
    /// Per order: (dga table, benign table).
    tables: Vec<(Vec<u8>, Vec<u8>)>,
    header: String,
}

impl DgaModel {
    /// The model compiled into the crate.
    pub fn shipped() -> Result<Self, AnomalyError> {
        Self::parse(SHIPPED_MODEL, "data/dga_model.bin")
    }

    /// Parses a model file: one header line of `key=value` words, then for
    /// each order a DGA and a benign table of `buckets` bytes each.
    pub fn parse(bytes: &[u8], source_name: &str) -> Result<Self, AnomalyError> {
        let err = |reason: String| AnomalyError::Model {
            source_name: source_name.to_string(),
            reason,
        };
        let nl = bytes
            .iter()
            .take(MAX_HEADER)
            .position(|b| *b == b'\n')
            .ok_or_else(|| err(format!("no header line in the first {MAX_HEADER} bytes")))?;
        let header = std::str::from_utf8(&bytes[..nl])
            .map_err(|_| err("header is not UTF-8".into()))?
            .to_string();
        if !header.starts_with("TAISHI-DGA-NGRAM v1 ") {
            return Err(err("header does not start with TAISHI-DGA-NGRAM v1".into()));
        }
        let field = |k: &str| -> Result<&str, AnomalyError> {
            header
                .split(' ')
                .find_map(|w| w.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
                .ok_or_else(|| err(format!("header field {k} missing")))
        };
        let orders: Vec<usize> = field("orders")?
            .split(',')
            .map(|o| o.parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|e| err(format!("header field orders: {e}")))?;
        if orders.is_empty()
            || orders.len() > MAX_ORDERS
            || orders.iter().any(|o| !(1..=8).contains(o))
        {
            return Err(err(format!(
                "header field orders: {orders:?} not 1..=8 orders of 1..=8"
            )));
        }
        let buckets: usize = field("buckets")?
            .parse()
            .map_err(|e| err(format!("header field buckets: {e}")))?;
        if buckets == 0 || buckets > MAX_BUCKETS {
            return Err(err(format!(
                "header field buckets: {buckets} not in 1..={MAX_BUCKETS}"
            )));
        }
        let qstep: f64 = field("qstep")?
            .parse()
            .map_err(|e| err(format!("header field qstep: {e}")))?;
        let unseen: f64 = field("unseen")?
            .parse()
            .map_err(|e| err(format!("header field unseen: {e}")))?;
        if !(qstep > 0.0 && qstep < 10.0 && (0.0..1000.0).contains(&unseen)) {
            return Err(err("header fields qstep/unseen out of range".into()));
        }
        let body = &bytes[nl + 1..];
        let want = orders.len() * 2 * buckets;
        if body.len() != want {
            return Err(err(format!(
                "body is {} bytes, header says {want}",
                body.len()
            )));
        }
        let tables = body
            .chunks_exact(2 * buckets)
            .map(|c| (c[..buckets].to_vec(), c[buckets..].to_vec()))
            .collect();
        Ok(DgaModel {
            orders,
            buckets,
            qstep,
            unseen,
            tables,
            header,
        })
    }

    /// The model's header line (source, version, split).
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Raw score of a name: > 0 reads like a DGA name, < 0 like a benign one.
    /// Lower-cases, drops a trailing dot and a leading `www.` first.
    pub fn score(&self, name: &str) -> f64 {
        let n = name.trim_end_matches('.');
        let n = n
            .strip_prefix("www.")
            .or(n.strip_prefix("WWW."))
            .unwrap_or(n);
        // On the stack: this runs for every DNS question.
        let mut buf = [ALPHA_BOS; MAX_ORDERS + 253 + 1];
        let max_order = *self.orders.iter().max().unwrap_or(&1);
        let mut len = max_order - 1;
        for c in n.chars().take(253) {
            buf[len] = sym(c);
            len += 1;
        }
        let syms = &buf[..len + 1]; // the closing boundary is already there
        let mut total = 0.0;
        for (oi, &order) in self.orders.iter().enumerate() {
            // The trainer pads each order with order−1 BOS symbols; skip
            // the extra padding of higher orders so contexts match.
            let s = &syms[max_order - order..];
            let (td, tb) = &self.tables[oi];
            let mut sum = 0.0;
            let n_pos = s.len() - (order - 1);
            for i in (order - 1)..s.len() {
                let b = cell(&s[i + 1 - order..i], s[i]) % self.buckets;
                let cost = |q: u8| {
                    if q == 255 {
                        self.unseen
                    } else {
                        q as f64 * self.qstep
                    }
                };
                sum += cost(tb[b]) - cost(td[b]);
            }
            total += sum / n_pos as f64;
        }
        total
    }
}

fn sym(c: char) -> u32 {
    match c {
        'a'..='z' => c as u32 - 'a' as u32,
        'A'..='Z' => c as u32 - 'A' as u32,
        '0'..='9' => 26 + c as u32 - '0' as u32,
        '-' => 36,
        '.' => 37,
        _ => 38,
    }
}

/// FNV-1a over the context and the character, exactly as the trainer.
fn cell(ctx: &[u32], c: u32) -> usize {
    let mut h: u32 = 0x811C_9DC5;
    for s in ctx {
        h ^= *s;
        h = h.wrapping_mul(0x0100_0193);
    }
    h ^= 0xFF;
    h = h.wrapping_mul(0x0100_0193);
    h ^= c;
    h = h.wrapping_mul(0x0100_0193);
    h as usize
}

/// FNV-1a 32 of a name's bytes: the trainer's held-out rule is
/// `fnv1a32(name) % 5 == 0`.
pub fn fnv1a32(s: &[u8]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for b in s {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DgaConfig {
    /// Raw model score at which a name counts as DGA-like (probability 0.5).
    pub name_threshold: f64,
    /// Probability from which a name is reported.
    pub alert_probability: f64,
    /// NXDOMAIN answers to one host within `nx_window_ms` that make a burst.
    pub nx_burst_threshold: u32,
    pub nx_window_ms: i64,
    /// Most hosts tracked.
    pub max_hosts: usize,
    /// Suffixes never scored (internal zones, reverse lookups, CDNs).
    pub exclude_domains: Vec<String>,
}

impl Default for DgaConfig {
    fn default() -> Self {
        DgaConfig {
            name_threshold: 1.5,
            alert_probability: 0.8,
            nx_burst_threshold: 25,
            nx_window_ms: 5 * 60_000,
            max_hosts: 100_000,
            exclude_domains: vec!["in-addr.arpa".into(), "ip6.arpa".into(), "local".into()],
        }
    }
}

impl DgaConfig {
    pub fn validate(&self) -> Result<(), AnomalyError> {
        const S: &str = "dga";
        check_range(S, "name_threshold", self.name_threshold, -100.0, 100.0)?;
        check_range(S, "alert_probability", self.alert_probability, 0.0, 1.0)?;
        check_range(
            S,
            "nx_burst_threshold",
            self.nx_burst_threshold,
            2,
            10_000_000,
        )?;
        check_range(S, "nx_window_ms", self.nx_window_ms, 1_000, 24 * 3_600_000)?;
        check_range(S, "max_hosts", self.max_hosts, 1, 100_000_000)?;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HostState {
    start_ms: i64,
    nx: u32,
    nx_fired: bool,
    /// Names already reported in this window (bounded).
    reported: HashSet<u64>,
}

const MAX_REPORTED: usize = 256;

/// What a [`DgaDetector`] holds (not the model), to save and load across a
/// restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DgaState {
    hosts: Vec<(IpAddr, HostState)>,
}

/// Scores DNS questions with the model, raising the score while the asking
/// host is in an NXDOMAIN burst (a DGA bot tries many names that do not
/// resolve before it finds its server).
#[derive(Debug)]
pub struct DgaDetector {
    cfg: DgaConfig,
    /// Shared: every organisation's detector scores with the one model.
    model: std::sync::Arc<DgaModel>,
    hosts: BoundedMap<IpAddr, HostState>,
}

impl DgaDetector {
    pub fn new(cfg: DgaConfig, model: DgaModel) -> Result<Self, AnomalyError> {
        Self::with_model(cfg, std::sync::Arc::new(model))
    }

    /// A detector scoring with a model shared with others (393 KB, one
    /// copy for every organisation).
    pub fn with_model(
        cfg: DgaConfig,
        model: std::sync::Arc<DgaModel>,
    ) -> Result<Self, AnomalyError> {
        cfg.validate()?;
        Ok(DgaDetector {
            hosts: BoundedMap::new(cfg.max_hosts),
            cfg,
            model,
        })
    }

    /// Its tables' fill (entries, cap, evictions).
    pub fn tables(&self) -> Vec<crate::table::TableStatus> {
        vec![self.hosts.status("dga.hosts")]
    }

    pub fn save_state(&self) -> DgaState {
        DgaState {
            hosts: self.hosts.entries(),
        }
    }

    pub fn load_state(&mut self, s: DgaState) {
        self.hosts.load(s.hosts);
    }

    pub fn model(&self) -> &DgaModel {
        &self.model
    }

    /// Probability-like score of one name alone (0.5 at `name_threshold`).
    pub fn name_probability(&self, name: &str) -> f64 {
        let raw = self.model.score(name);
        1.0 / (1.0 + (-(raw - self.cfg.name_threshold) * 2.0).exp())
    }

    pub fn observe(&mut self, r: &DnsRecord, out: &mut Vec<Finding>) {
        // No allocation on the common path: the model folds case itself and
        // the exclusions compare without case.
        let name = r.qname.trim().trim_end_matches('.');
        if name.is_empty() || name.len() > crate::domain::MAX_NAME {
            return;
        }
        if self
            .cfg
            .exclude_domains
            .iter()
            .any(|s| crate::domain::is_within(name, s))
        {
            return;
        }
        let c = &self.cfg;
        let raw = self.model.score(name);
        let h = self.hosts.entry_or_insert_with(&r.src, || HostState {
            start_ms: r.ts_ms,
            nx: 0,
            nx_fired: false,
            reported: HashSet::default(),
        });
        if crate::window_over(r.ts_ms, h.start_ms, c.nx_window_ms) {
            *h = HostState {
                start_ms: r.ts_ms,
                nx: 0,
                nx_fired: false,
                reported: HashSet::default(),
            };
        }
        let nx = r.is_nxdomain();
        if nx {
            h.nx += 1;
        }
        let burst = h.nx >= c.nx_burst_threshold;
        let mins = c.nx_window_ms as f64 / 60_000.0;
        if burst && !h.nx_fired {
            h.nx_fired = true;
            out.push(Finding {
                kind: FindingKind::NxdomainBurst,
                entity: r.src.to_string(),
                score: 0.75,
                severity: Severity::Medium,
                first_ms: h.start_ms,
                last_ms: r.ts_ms,
                features: vec![Feature::new(
                    "nxdomain_count",
                    h.nx as f64,
                    0.75,
                    true,
                    Text::new(
                        format!("{mins:.0} 分钟内 {} 个 NXDOMAIN 应答", h.nx),
                        format!("{} NXDOMAIN answers within {mins:.0} min", h.nx),
                    ),
                )],
            });
        }
        let mut p = 1.0 / (1.0 + (-(raw - c.name_threshold) * 2.0).exp());
        if burst {
            p += (1.0 - p) * 0.5;
        }
        if p < c.alert_probability {
            return;
        }
        let name = name.to_ascii_lowercase();
        let key = fnv1a32(name.as_bytes()) as u64;
        if h.reported.contains(&key) || h.reported.len() >= MAX_REPORTED {
            return;
        }
        h.reported.insert(key);
        let mut features = vec![Feature::new(
            "char_model_llr",
            raw,
            p,
            raw >= c.name_threshold,
            Text::new(
                format!("字符模型判定为算法生成（对数似然比 {raw:.2}）"),
                format!("character model reads it as generated (log-likelihood ratio {raw:.2})"),
            ),
        )];
        if burst {
            features.push(Feature::new(
                "nxdomain_burst",
                h.nx as f64,
                0.5,
                true,
                Text::new(
                    format!("该主机 {mins:.0} 分钟内 {} 个 NXDOMAIN", h.nx),
                    format!(
                        "the host got {} NXDOMAIN answers within {mins:.0} min",
                        h.nx
                    ),
                ),
            ));
        }
        if nx {
            features.push(Feature::new(
                "nxdomain",
                1.0,
                0.0,
                true,
                Text::new(
                    "该域名不存在（NXDOMAIN）",
                    "the name does not exist (NXDOMAIN)",
                ),
            ));
        }
        out.push(Finding {
            kind: FindingKind::Dga,
            entity: format!("{} → {}", r.src, name),
            score: p,
            severity: Severity::from_score(p),
            first_ms: r.ts_ms,
            last_ms: r.ts_ms,
            features,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_model_parses_and_matches_trainer() {
        let m = DgaModel::shipped().unwrap();
        assert!(SHIPPED_MODEL.len() < 1 << 20);
        // values printed by tools/train_dga.py for the same tables
        assert!(
            (m.score("google.com") - -3.387498).abs() < 1e-4,
            "{}",
            m.score("google.com")
        );
        assert!((m.score("aaeuauaueieiier.su") - 4.055915).abs() < 1e-4);
        assert!((m.score("xjwqpzkvbt.net") - 4.333325).abs() < 1e-4);
    }

    #[test]
    fn rejects_damaged_models() {
        assert!(DgaModel::parse(b"", "x").is_err());
        assert!(DgaModel::parse(
            b"TAISHI-DGA-NGRAM v1 orders=2 buckets=4 qstep=0.1 unseen=1\nabc",
            "x"
        )
        .is_err());
        let ok = DgaModel::parse(
            b"TAISHI-DGA-NGRAM v1 orders=2 buckets=2 qstep=0.1 unseen=1\nabcd",
            "x",
        )
        .unwrap();
        assert!(ok.score("a.b").is_finite());
    }
}
