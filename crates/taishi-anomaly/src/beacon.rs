//! Beaconing: regular connections from one source to one destination.
//!
//! The score follows RITA's published method (activecm/rita): for each
//! source→destination pair, the intervals between connections and the sizes
//! of the connections are scored for symmetry (Bowley's quartile skew) and
//! dispersion (median absolute deviation), the connections are spread over a
//! 24-hour histogram, and the longest run of consecutive hours is the
//! persistence. The four parts are weighted (25 % each by default, as RITA
//! v5). Two deliberate departures, both in the README:
//! - interval dispersion is scored relative to the median interval
//!   (MAD/median), not against RITA's fixed 30 s, so a 5-minute beacon with
//!   ±75 s jitter still scores as regular while Poisson-like traffic does not;
//! - the score is multiplied down for destinations most of the organisation
//!   talks to (prevalence), the way RITA's threat-intel view discounts
//!   popular servers.
//!
//! Pairs with very many connections (strobes) and single long connections are
//! reported apart: their interval statistics say nothing.

use std::net::IpAddr;

use foldhash::HashSet;
use serde::{Deserialize, Serialize};

use crate::finding::{Feature, Finding, FindingKind, Severity, Text};
use crate::record::{DnsRecord, FlowRecord, HttpRecord};
use crate::stats::{bowley_skew, mad_sorted, median_sorted, mode_sorted};
use crate::table::BoundedMap;
use crate::{check_range, AnomalyError};

/// Thresholds and caps of the beacon detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeaconConfig {
    /// Most source→destination pairs tracked at once (least recently seen
    /// evicted). Worst-case memory ≈ max_pairs × max_samples_per_pair × 8 B.
    pub max_pairs: usize,
    /// Timestamps and sizes kept per pair (the most recent ones).
    pub max_samples_per_pair: usize,
    /// Fewest distinct connection times before a pair is scored (RITA: 4).
    pub min_connections: usize,
    /// Score from which a pair is reported.
    pub alert_score: f64,
    /// MAD/median of the intervals at which their dispersion score reaches 0.
    pub interval_mad_relative_cutoff: f64,
    /// MAD of sizes (bytes) at which their dispersion score reaches 0 (RITA: 32).
    pub size_mad_cutoff_bytes: f64,
    /// Consecutive hours with connections that give full persistence.
    pub duration_ideal_hours: f64,
    pub weight_interval: f64,
    pub weight_size: f64,
    pub weight_histogram: f64,
    pub weight_duration: f64,
    /// Connections from which a pair is a strobe (RITA: 86,400 a day).
    pub strobe_connections: u64,
    /// A single connection at least this long (ms) is a long connection (RITA: 1 h).
    pub long_connection_ms: i64,
    /// Fraction of the organisation's sources above which a destination is
    /// "popular" and its beacon score is scaled down by (1 − prevalence).
    pub prevalence_threshold: f64,
    /// Fewest sources seen before prevalence is judged at all (in a tiny
    /// network every destination is "popular").
    pub prevalence_min_sources: usize,
    /// Most destinations whose source counts are kept for prevalence.
    pub max_destinations: usize,
    /// Skip flows to multicast, broadcast, link-local and unspecified
    /// addresses (router and neighbour discovery is periodic by design; RITA
    /// filters them too).
    pub skip_non_routable: bool,
    /// Also score src→qname pairs from DNS (off by default: resolvers and
    /// caches make DNS timing a weak signal; on for DNS-only sensors).
    pub dns_pairs: bool,
    /// Destinations never scored: domain suffixes (a warninglist) …
    pub exclude_domains: Vec<String>,
    /// … and addresses.
    pub exclude_ips: Vec<IpAddr>,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            max_pairs: 100_000,
            max_samples_per_pair: 300,
            min_connections: 4,
            alert_score: 0.7,
            interval_mad_relative_cutoff: 0.5,
            size_mad_cutoff_bytes: 32.0,
            duration_ideal_hours: 12.0,
            weight_interval: 0.25,
            weight_size: 0.25,
            weight_histogram: 0.25,
            weight_duration: 0.25,
            strobe_connections: 86_400,
            long_connection_ms: 3_600_000,
            prevalence_threshold: 0.5,
            prevalence_min_sources: 20,
            max_destinations: 100_000,
            skip_non_routable: true,
            dns_pairs: false,
            exclude_domains: Vec::new(),
            exclude_ips: Vec::new(),
        }
    }
}

impl BeaconConfig {
    pub fn validate(&self) -> Result<(), AnomalyError> {
        const S: &str = "beacon";
        check_range(S, "max_pairs", self.max_pairs, 1, 100_000_000)?;
        check_range(
            S,
            "max_samples_per_pair",
            self.max_samples_per_pair,
            4,
            100_000,
        )?;
        check_range(S, "min_connections", self.min_connections, 3, 100_000)?;
        check_range(S, "alert_score", self.alert_score, 0.0, 1.0)?;
        check_range(
            S,
            "interval_mad_relative_cutoff",
            self.interval_mad_relative_cutoff,
            1e-6,
            100.0,
        )?;
        check_range(
            S,
            "size_mad_cutoff_bytes",
            self.size_mad_cutoff_bytes,
            1e-6,
            1e12,
        )?;
        check_range(
            S,
            "duration_ideal_hours",
            self.duration_ideal_hours,
            1.0,
            24.0 * 365.0,
        )?;
        check_range(
            S,
            "prevalence_threshold",
            self.prevalence_threshold,
            0.0,
            1.0,
        )?;
        check_range(S, "max_destinations", self.max_destinations, 1, 100_000_000)?;
        let w =
            self.weight_interval + self.weight_size + self.weight_histogram + self.weight_duration;
        if !(w > 0.0 && w.is_finite())
            || [
                self.weight_interval,
                self.weight_size,
                self.weight_histogram,
                self.weight_duration,
            ]
            .iter()
            .any(|x| *x < 0.0)
        {
            return Err(AnomalyError::Config {
                section: S,
                field: "weight_*",
                value: format!("{w}"),
                reason: "weights must be non-negative with a positive sum",
            });
        }
        Ok(())
    }
}

/// The destination side of a pair: an address, or a name (proxy Host,
/// CONNECT target, TLS SNI, DNS question).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BeaconTarget {
    Ip(IpAddr),
    Domain(Box<str>),
}

impl std::fmt::Display for BeaconTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BeaconTarget::Ip(ip) => write!(f, "{ip}"),
            BeaconTarget::Domain(d) => f.write_str(d),
        }
    }
}

/// A destination as the tables key it: names by a 64-bit hash of their
/// lower-case form, so keys are `Copy` and a lookup never allocates (a
/// collision would merge two names' statistics; with 64 bits and tables of
/// at most millions of entries, not a practical concern).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum TargetKey {
    Ip(IpAddr),
    Name(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct PairKey {
    src: IpAddr,
    dst: TargetKey,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PairState {
    /// The destination name, for names (kept once per pair for reports).
    name: Option<Box<str>>,
    /// (start second after `base_s`, size) of the most recent connections:
    /// a ring once full, `head` pointing at the oldest. Order does not
    /// matter to the score (times and sizes are sorted there).
    samples: Vec<(u32, u32)>,
    head: usize,
    base_s: i64,
    conns: u64,
    first_ms: i64,
    last_ms: i64,
    max_duration_ms: i64,
}

/// Distinct sources of the whole organisation: linear counting over a
/// 65,536-bit bitmap (8 KB, accurate to a few hundred thousand sources).
#[derive(Debug, Clone)]
struct OrgSketch(Box<[u64; 1024]>);

impl OrgSketch {
    fn add(&mut self, h: u64) {
        let bit = (h >> 16) as usize % 65_536;
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    fn estimate(&self) -> f64 {
        let zeros: u32 = self.0.iter().map(|w| w.count_zeros()).sum();
        let m: f64 = 65_536.0;
        if zeros == 0 {
            return m * f64::ln(m);
        }
        -m * (zeros as f64 / m).ln()
    }
}

/// Distinct-source estimate of one destination: linear counting over a
/// 512-bit bitmap (64 bytes, accurate to a few thousand sources).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SourceSketch([u64; 8]);

impl SourceSketch {
    fn add(&mut self, h: u64) {
        let bit = (h % 512) as usize;
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    fn estimate(&self) -> f64 {
        let zeros: u32 = self.0.iter().map(|w| w.count_zeros()).sum();
        let m: f64 = 512.0;
        if zeros == 0 {
            return m * f64::ln(m);
        }
        -m * (zeros as f64 / m).ln()
    }
}

/// The parts of a beacon score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BeaconScore {
    pub score: f64,
    pub connections: u64,
    pub interval_skew: f64,
    pub interval_mad_s: f64,
    pub interval_median_s: f64,
    pub interval_score: f64,
    pub size_skew: f64,
    pub size_mad: f64,
    pub size_mode: i64,
    pub size_score: f64,
    pub histogram_score: f64,
    pub longest_run_hours: u32,
    pub duration_score: f64,
    pub prevalence: f64,
}

/// What a [`BeaconDetector`] has learnt, to save and load across a
/// restart (serde; the tables as lists, oldest first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BeaconState {
    pairs: Vec<(PairKey, PairState)>,
    dests: Vec<(TargetKey, SourceSketch)>,
    org: Vec<u64>,
    first_ms: i64,
    last_ms: i64,
}

/// Scores source→destination pairs for beaconing.
#[derive(Debug)]
pub struct BeaconDetector {
    cfg: BeaconConfig,
    pairs: BoundedMap<PairKey, PairState>,
    dests: BoundedMap<TargetKey, SourceSketch>,
    org: OrgSketch,
    exclude_ips: HashSet<IpAddr>,
    first_ms: i64,
    last_ms: i64,
}

impl BeaconDetector {
    pub fn new(cfg: BeaconConfig) -> Result<Self, AnomalyError> {
        cfg.validate()?;
        Ok(BeaconDetector {
            pairs: BoundedMap::new(cfg.max_pairs),
            dests: BoundedMap::new(cfg.max_destinations),
            org: OrgSketch(Box::new([0; 1024])),
            exclude_ips: cfg.exclude_ips.iter().copied().collect(),
            first_ms: i64::MAX,
            last_ms: i64::MIN,
            cfg,
        })
    }

    pub fn config(&self) -> &BeaconConfig {
        &self.cfg
    }

    /// A copy of what the detector has learnt (bounded by its caps).
    /// Its tables' fill (entries, cap, evictions).
    pub fn tables(&self) -> Vec<crate::table::TableStatus> {
        vec![
            self.pairs.status("beacon.pairs"),
            self.dests.status("beacon.destinations"),
        ]
    }

    pub fn save_state(&self) -> BeaconState {
        BeaconState {
            pairs: self.pairs.entries(),
            dests: self.dests.entries(),
            org: self.org.0.to_vec(),
            first_ms: self.first_ms,
            last_ms: self.last_ms,
        }
    }

    /// Loads a saved state into this detector; its caps (the current
    /// config's) still hold, so a smaller cap drops the oldest entries.
    pub fn load_state(&mut self, s: BeaconState) {
        self.pairs.load(s.pairs);
        self.dests.load(s.dests);
        for (w, v) in self.org.0.iter_mut().zip(s.org) {
            *w |= v;
        }
        self.first_ms = self.first_ms.min(s.first_ms);
        self.last_ms = self.last_ms.max(s.last_ms);
    }

    /// Pairs tracked now (never above `max_pairs`).
    pub fn pairs_len(&self) -> usize {
        self.pairs.len()
    }

    /// Pairs evicted so far.
    pub fn pairs_evicted(&self) -> u64 {
        self.pairs.evicted()
    }

    pub fn observe_flow(&mut self, r: &FlowRecord) {
        if self.exclude_ips.contains(&r.dst) || (self.cfg.skip_non_routable && non_routable(&r.dst))
        {
            return;
        }
        let size = r.orig_bytes.min(u32::MAX as u64) as u32;
        self.observe(
            r.src,
            TargetKey::Ip(r.dst),
            None,
            r.ts_ms,
            size,
            r.duration_ms,
        );
    }

    /// A proxied or direct HTTP request counts against its Host (port
    /// stripped), which is what a proxy-only conn log cannot show.
    pub fn observe_http(&mut self, r: &HttpRecord) {
        let host = strip_port(&r.host);
        if host.is_empty() || host == "-" {
            return;
        }
        let Some(name) = self.domain_target(host) else {
            return;
        };
        let size = r.request_bytes.min(u32::MAX as u64) as u32;
        self.observe(r.src, name_key(&name), Some(&name), r.ts_ms, size, 0);
    }

    pub fn observe_dns(&mut self, r: &DnsRecord) {
        if !self.cfg.dns_pairs {
            return;
        }
        let Some(name) = self.domain_target(&r.qname) else {
            return;
        };
        self.observe(r.src, name_key(&name), Some(&name), r.ts_ms, 0, 0);
    }

    /// The lower-case name to key a domain destination by, unless excluded.
    fn domain_target(&self, name: &str) -> Option<String> {
        let name = name.trim_end_matches('.');
        if name.is_empty() || name.len() > 253 {
            return None;
        }
        let lower = name.to_ascii_lowercase();
        if self
            .cfg
            .exclude_domains
            .iter()
            .any(|s| crate::domain::is_within(&lower, s))
        {
            return None;
        }
        Some(lower)
    }

    fn observe(
        &mut self,
        src: IpAddr,
        dst: TargetKey,
        name: Option<&str>,
        ts_ms: i64,
        size: u32,
        duration_ms: i64,
    ) {
        self.first_ms = self.first_ms.min(ts_ms);
        self.last_ms = self.last_ms.max(ts_ms);
        let h = hash_ip(&src);
        self.org.add(h);
        self.dests
            .entry_or_insert_with(&dst, SourceSketch::default)
            .add(h);
        let cap = self.cfg.max_samples_per_pair;
        let st = self
            .pairs
            .entry_or_insert_with(&PairKey { src, dst }, || PairState {
                name: name.map(Box::from),
                samples: Vec::new(),
                head: 0,
                base_s: ts_ms.div_euclid(1000),
                conns: 0,
                first_ms: ts_ms,
                last_ms: ts_ms,
                max_duration_ms: 0,
            });
        st.conns += 1;
        st.first_ms = st.first_ms.min(ts_ms);
        st.last_ms = st.last_ms.max(ts_ms);
        st.max_duration_ms = st.max_duration_ms.max(duration_ms);
        let rel = (ts_ms.div_euclid(1000) - st.base_s).clamp(0, u32::MAX as i64) as u32;
        if st.samples.len() < cap {
            st.samples.push((rel, size));
        } else {
            st.samples[st.head] = (rel, size);
            st.head = (st.head + 1) % cap;
        }
    }

    /// The beacon score of one pair, if it has enough connections.
    pub fn score(&self, src: IpAddr, dst: &BeaconTarget) -> Option<BeaconScore> {
        let dst = match dst {
            BeaconTarget::Ip(ip) => TargetKey::Ip(*ip),
            BeaconTarget::Domain(d) => name_key(&d.to_ascii_lowercase()),
        };
        let st = self.pairs.get(&PairKey { src, dst })?;
        self.score_state(st, &dst)
    }

    fn prevalence(&self, dst: &TargetKey) -> f64 {
        let org = self.org.estimate().max(1.0);
        let seen = self.dests.get(dst).map_or(1.0, SourceSketch::estimate);
        (seen / org).min(1.0)
    }

    fn score_state(&self, st: &PairState, dst: &TargetKey) -> Option<BeaconScore> {
        let c = &self.cfg;
        // RITA scores distinct connection times (to the second).
        let mut ts: Vec<i64> = st.samples.iter().map(|s| s.0 as i64).collect();
        ts.sort_unstable();
        ts.dedup();
        if ts.len() < c.min_connections {
            return None;
        }
        let mut iv: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        iv.sort_unstable();
        let interval_skew = bowley_skew(&iv);
        let interval_mad_s = mad_sorted(&iv);
        let interval_median_s = median_sorted(&iv);
        let rel = if interval_median_s > 0.0 {
            interval_mad_s / interval_median_s
        } else {
            f64::INFINITY
        };
        let iv_skew_score = 1.0 - interval_skew.abs();
        let iv_mad_score = (1.0 - rel / c.interval_mad_relative_cutoff).max(0.0);
        let interval_score = (iv_skew_score + iv_mad_score) / 2.0;

        let mut sizes: Vec<i64> = st.samples.iter().map(|s| s.1 as i64).collect();
        sizes.sort_unstable();
        let size_skew = bowley_skew(&sizes);
        let size_mad = mad_sorted(&sizes);
        let size_mode = mode_sorted(&sizes).unwrap_or(0);
        let size_score = ((1.0 - size_skew.abs())
            + (1.0 - size_mad / c.size_mad_cutoff_bytes).max(0.0)
            + (1.0 - size_mode as f64 / 65535.0).max(0.0))
            / 3.0;

        // Hour buckets over the detector's observed window (at most the last
        // 24 h), so a data set shorter than a day is judged on its own span.
        let hour = |s: i64| (st.base_s + s).div_euclid(3600);
        let end_h = self.last_ms.div_euclid(3_600_000);
        let start_h = self.first_ms.div_euclid(3_600_000).max(end_h - 23);
        let n_buckets = (end_h - start_h + 1).clamp(1, 24) as usize;
        let mut buckets = vec![0u32; n_buckets];
        let mut hours: Vec<i64> = Vec::with_capacity(ts.len());
        for t in &ts {
            let h = hour(*t);
            hours.push(h);
            if h >= start_h && h <= end_h {
                buckets[(h - start_h) as usize] += 1;
            }
        }
        let histogram_score = if n_buckets < 2 {
            0.0
        } else {
            let mean = buckets.iter().sum::<u32>() as f64 / n_buckets as f64;
            let var = buckets
                .iter()
                .map(|b| (*b as f64 - mean).powi(2))
                .sum::<f64>()
                / n_buckets as f64;
            if mean > 0.0 {
                (1.0 - var.sqrt() / mean).max(0.0)
            } else {
                0.0
            }
        };
        hours.dedup();
        let mut longest = 0u32;
        let mut run = 0u32;
        for (i, h) in hours.iter().enumerate() {
            run = if i > 0 && *h == hours[i - 1] + 1 {
                run + 1
            } else {
                1
            };
            longest = longest.max(run);
        }
        let ideal = c.duration_ideal_hours.min(n_buckets as f64).max(1.0);
        let duration_score = (longest as f64 / ideal).min(1.0);

        let wsum = c.weight_interval + c.weight_size + c.weight_histogram + c.weight_duration;
        let mut score = (c.weight_interval * interval_score
            + c.weight_size * size_score
            + c.weight_histogram * histogram_score
            + c.weight_duration * duration_score)
            / wsum;
        let prevalence = self.prevalence(dst);
        if self.org.estimate() >= c.prevalence_min_sources as f64
            && prevalence > c.prevalence_threshold
        {
            score *= 1.0 - prevalence;
        }
        Some(BeaconScore {
            score: (score * 1000.0).ceil() / 1000.0,
            connections: st.conns,
            interval_skew,
            interval_mad_s,
            interval_median_s,
            interval_score,
            size_skew,
            size_mad,
            size_mode,
            size_score,
            histogram_score,
            longest_run_hours: longest,
            duration_score,
            prevalence,
        })
    }

    /// Scores every pair and returns the findings: beacons at or above
    /// `alert_score`, strobes and long connections. Sorted by score.
    pub fn evaluate(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for (k, st) in self.pairs.iter() {
            let entity = match (&st.name, k.dst) {
                (Some(n), _) => format!("{} → {n}", k.src),
                (None, TargetKey::Ip(ip)) => format!("{} → {ip}", k.src),
                (None, TargetKey::Name(h)) => format!("{} → #{h:016x}", k.src),
            };
            if st.max_duration_ms >= self.cfg.long_connection_ms {
                let hours = st.max_duration_ms as f64 / 3_600_000.0;
                let score = (0.5 + hours / 48.0).min(1.0);
                out.push(Finding {
                    kind: FindingKind::LongConnection,
                    entity: entity.clone(),
                    score,
                    severity: Severity::from_score(score),
                    first_ms: st.first_ms,
                    last_ms: st.last_ms,
                    features: vec![Feature::new(
                        "duration_hours",
                        hours,
                        score,
                        true,
                        Text::new(
                            format!("单个连接持续 {hours:.1} 小时"),
                            format!("one connection lasted {hours:.1} h"),
                        ),
                    )],
                });
            }
            if st.conns >= self.cfg.strobe_connections {
                out.push(Finding {
                    kind: FindingKind::Strobe,
                    entity,
                    score: 0.8,
                    severity: Severity::Medium,
                    first_ms: st.first_ms,
                    last_ms: st.last_ms,
                    features: vec![Feature::new(
                        "connections",
                        st.conns as f64,
                        0.8,
                        true,
                        Text::new(
                            format!(
                                "{} 次连接，超过频闪阈值 {}",
                                st.conns, self.cfg.strobe_connections
                            ),
                            format!(
                                "{} connections, over the strobe threshold {}",
                                st.conns, self.cfg.strobe_connections
                            ),
                        ),
                    )],
                });
                continue;
            }
            let Some(s) = self.score_state(st, &k.dst) else {
                continue;
            };
            if s.score >= self.cfg.alert_score {
                out.push(Finding {
                    kind: FindingKind::Beacon,
                    entity,
                    score: s.score,
                    severity: Severity::from_score(s.score),
                    first_ms: st.first_ms,
                    last_ms: st.last_ms,
                    features: beacon_features(&s, &self.cfg),
                });
            }
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.entity.cmp(&b.entity)));
        out
    }
}

const FIRE: f64 = 0.8;

fn beacon_features(s: &BeaconScore, c: &BeaconConfig) -> Vec<Feature> {
    let iv_skew = 1.0 - s.interval_skew.abs();
    let iv_mad = if s.interval_median_s > 0.0 {
        (1.0 - s.interval_mad_s / s.interval_median_s / c.interval_mad_relative_cutoff).max(0.0)
    } else {
        0.0
    };
    vec![
        Feature::new(
            "interval_median_s",
            s.interval_median_s,
            s.interval_score,
            s.interval_score >= FIRE,
            Text::new(
                format!(
                    "连接间隔中位数 {:.0} 秒，间隔规律性 {:.2}",
                    s.interval_median_s, s.interval_score
                ),
                format!(
                    "median interval {:.0} s, interval regularity {:.2}",
                    s.interval_median_s, s.interval_score
                ),
            ),
        ),
        Feature::new(
            "interval_skew",
            s.interval_skew,
            iv_skew,
            iv_skew >= FIRE,
            Text::new(
                format!("间隔分布对称（Bowley 偏度 {:.2}）", s.interval_skew),
                format!("symmetric intervals (Bowley skew {:.2})", s.interval_skew),
            ),
        ),
        Feature::new(
            "interval_mad_s",
            s.interval_mad_s,
            iv_mad,
            iv_mad >= FIRE,
            Text::new(
                format!("间隔离散度低（MAD {:.1} 秒）", s.interval_mad_s),
                format!("low interval dispersion (MAD {:.1} s)", s.interval_mad_s),
            ),
        ),
        Feature::new(
            "size_regularity",
            s.size_mad,
            s.size_score,
            s.size_score >= FIRE,
            Text::new(
                format!(
                    "载荷大小稳定（众数 {} 字节，MAD {:.1}）",
                    s.size_mode, s.size_mad
                ),
                format!(
                    "steady payload size (mode {} B, MAD {:.1})",
                    s.size_mode, s.size_mad
                ),
            ),
        ),
        Feature::new(
            "day_spread",
            s.histogram_score,
            s.histogram_score,
            s.histogram_score >= FIRE,
            Text::new(
                format!("全天均匀分布（{:.2}）", s.histogram_score),
                format!("spread evenly over the day ({:.2})", s.histogram_score),
            ),
        ),
        Feature::new(
            "persistence_hours",
            s.longest_run_hours as f64,
            s.duration_score,
            s.duration_score >= FIRE,
            Text::new(
                format!("连续 {} 小时持续外联", s.longest_run_hours),
                format!("active {} consecutive hours", s.longest_run_hours),
            ),
        ),
        Feature::new(
            "prevalence",
            s.prevalence,
            1.0 - s.prevalence,
            s.prevalence <= c.prevalence_threshold,
            Text::new(
                format!("目的地罕见：组织内 {:.0}% 的主机访问", s.prevalence * 100.0),
                format!(
                    "rare destination: {:.0}% of the organisation's hosts reach it",
                    s.prevalence * 100.0
                ),
            ),
        ),
        Feature::new(
            "connections",
            s.connections as f64,
            1.0,
            true,
            Text::new(
                format!("{} 次连接", s.connections),
                format!("{} connections", s.connections),
            ),
        ),
    ]
}

/// `host:port` → `host`; IPv6 literals in brackets keep their address.
pub(crate) fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => h,
    }
}

/// Multicast, broadcast, link-local or unspecified.
fn non_routable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_multicast() || v.is_broadcast() || v.is_link_local() || v.is_unspecified()
        }
        IpAddr::V6(v) => {
            v.is_multicast() || v.is_unspecified() || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

fn name_key(lower: &str) -> TargetKey {
    use std::hash::BuildHasher;
    TargetKey::Name(foldhash::fast::FixedState::with_seed(0xbea).hash_one(lower))
}

pub(crate) fn hash_ip(ip: &IpAddr) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x7a15).hash_one(ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ConnState, Transport};

    fn flow(src: &str, dst: &str, ts_ms: i64, bytes: u64) -> FlowRecord {
        FlowRecord {
            ts_ms,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            dst_port: 443,
            transport: Transport::Tcp,
            orig_bytes: bytes,
            resp_bytes: 0,
            duration_ms: 100,
            state: ConnState::Established,
        }
    }

    #[test]
    fn jittered_beacon_beats_random_traffic() {
        let mut d = BeaconDetector::new(BeaconConfig::default()).unwrap();
        let mut x: u64 = 12345;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut t = 0i64;
        while t < 86_400_000 {
            d.observe_flow(&flow("10.0.0.5", "203.0.113.9", t, 512));
            t += 240_000 + (rnd() % 120_000) as i64;
        }
        // bursty human traffic to another server: exponential-ish gaps
        let mut t = 8 * 3_600_000i64;
        while t < 18 * 3_600_000 {
            d.observe_flow(&flow("10.0.0.6", "198.51.100.7", t, 300 + rnd() % 5000));
            let u = (rnd() % 1000 + 1) as f64 / 1000.0;
            t += (-u.ln() * 400_000.0) as i64 + 1000;
        }
        let b = d
            .score(
                "10.0.0.5".parse().unwrap(),
                &BeaconTarget::Ip("203.0.113.9".parse().unwrap()),
            )
            .unwrap();
        let h = d
            .score(
                "10.0.0.6".parse().unwrap(),
                &BeaconTarget::Ip("198.51.100.7".parse().unwrap()),
            )
            .unwrap();
        assert!(b.score > 0.85, "{b:?}");
        assert!(h.score < 0.6, "{h:?}");
        let f = d.evaluate();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::Beacon);
        assert!(f[0].fired().any(|x| x.id == "interval_skew"));
    }

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("www.x.com:443"), "www.x.com");
        assert_eq!(strip_port("[2001:db8::1]:80"), "2001:db8::1");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
    }
}
