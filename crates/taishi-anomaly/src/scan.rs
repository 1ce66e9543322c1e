//! Horizontal and vertical scans from failed connection attempts.
//!
//! Defaults are Zeek's `policy/misc/scan.zeek`: a source that fails to
//! connect to 25 distinct hosts on one port within 5 minutes is an address
//! (horizontal) scan; one that fails on 15 distinct ports of one host within
//! 5 minutes is a port (vertical) scan. Zeek counts per 5-minute epoch; so do
//! we (tumbling windows per key). A second, long window (24 h by default)
//! catches slow scans that stay under the 5-minute rate.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::finding::{Feature, Finding, FindingKind, Severity, Text};
use crate::record::FlowRecord;
use crate::table::BoundedMap;
use crate::{check_range, AnomalyError};

/// Thresholds and caps of the scan detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    /// Zeek `Scan::addr_scan_threshold`: distinct hosts on one port.
    pub addr_scan_threshold: u32,
    /// Zeek `Scan::addr_scan_interval` (ms).
    pub addr_scan_interval_ms: i64,
    /// Zeek `Scan::port_scan_threshold`: distinct ports on one host.
    pub port_scan_threshold: u32,
    /// Zeek `Scan::port_scan_interval` (ms).
    pub port_scan_interval_ms: i64,
    /// Slow-scan window (ms) and its thresholds (distinct hosts / ports).
    pub slow_interval_ms: i64,
    pub slow_addr_threshold: u32,
    pub slow_port_threshold: u32,
    /// Most keys ((src, port) and (src, dst)) tracked per window kind.
    pub max_keys: usize,
    /// Also count UDP/ICMP flows with no reply (off: one-way UDP is common).
    pub count_unknown_state: bool,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            addr_scan_threshold: 25,
            addr_scan_interval_ms: 5 * 60_000,
            port_scan_threshold: 15,
            port_scan_interval_ms: 5 * 60_000,
            slow_interval_ms: 24 * 3_600_000,
            slow_addr_threshold: 100,
            slow_port_threshold: 100,
            max_keys: 200_000,
            count_unknown_state: false,
        }
    }
}

impl ScanConfig {
    pub fn validate(&self) -> Result<(), AnomalyError> {
        const S: &str = "scan";
        check_range(
            S,
            "addr_scan_threshold",
            self.addr_scan_threshold,
            2,
            1_000_000,
        )?;
        check_range(
            S,
            "port_scan_threshold",
            self.port_scan_threshold,
            2,
            65_536,
        )?;
        check_range(
            S,
            "slow_addr_threshold",
            self.slow_addr_threshold,
            2,
            1_000_000,
        )?;
        check_range(
            S,
            "slow_port_threshold",
            self.slow_port_threshold,
            2,
            65_536,
        )?;
        let day30 = 30 * 24 * 3_600_000;
        check_range(
            S,
            "addr_scan_interval_ms",
            self.addr_scan_interval_ms,
            1_000,
            day30,
        )?;
        check_range(
            S,
            "port_scan_interval_ms",
            self.port_scan_interval_ms,
            1_000,
            day30,
        )?;
        check_range(S, "slow_interval_ms", self.slow_interval_ms, 1_000, day30)?;
        check_range(S, "max_keys", self.max_keys, 1, 100_000_000)?;
        Ok(())
    }
}

/// Distinct values seen in one window, kept only up to the threshold (past
/// it the count saturates: we only need to know it was crossed). A plain
/// vector of 32-bit hashes: thresholds are tens to hundreds, where a linear
/// scan beats a hash set and costs a tenth of its memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Window {
    start_ms: i64,
    first_ms: i64,
    last_ms: i64,
    seen: Vec<u32>,
    attempts: u64,
    fired: bool,
}

impl Window {
    fn new(ts: i64) -> Self {
        Window {
            start_ms: ts,
            first_ms: ts,
            last_ms: ts,
            seen: Vec::new(),
            attempts: 0,
            fired: false,
        }
    }

    /// Adds a value; true when this addition crosses `threshold`.
    fn add(&mut self, ts: i64, interval: i64, v: u64, threshold: u32) -> bool {
        if crate::window_over(ts, self.start_ms, interval) {
            *self = Window::new(ts);
        }
        self.last_ms = self.last_ms.max(ts);
        self.attempts += 1;
        if self.fired || self.seen.len() >= threshold as usize {
            return false;
        }
        let v = v as u32;
        if !self.seen.contains(&v) {
            self.seen.push(v);
        }
        if self.seen.len() >= threshold as usize {
            self.fired = true;
            return true;
        }
        false
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct SrcPort(IpAddr, u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct SrcDst(IpAddr, IpAddr);

/// What a [`ScanDetector`] holds, to save and load across a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanState {
    addr: Vec<(SrcPort, [Window; 2])>,
    port: Vec<(SrcDst, [Window; 2])>,
}

/// Finds horizontal and vertical scans in a flow stream. `observe` returns
/// the findings a record completes, so alerts come with no batch delay.
#[derive(Debug)]
pub struct ScanDetector {
    cfg: ScanConfig,
    /// Per key, the Zeek-rate window and the slow window side by side: one
    /// lookup serves both.
    addr: BoundedMap<SrcPort, [Window; 2]>,
    port: BoundedMap<SrcDst, [Window; 2]>,
}

impl ScanDetector {
    pub fn new(cfg: ScanConfig) -> Result<Self, AnomalyError> {
        cfg.validate()?;
        Ok(ScanDetector {
            addr: BoundedMap::new(cfg.max_keys),
            port: BoundedMap::new(cfg.max_keys),
            cfg,
        })
    }

    /// Its tables' fill (entries, cap, evictions).
    pub fn tables(&self) -> Vec<crate::table::TableStatus> {
        vec![
            self.addr.status("scan.hosts_per_port"),
            self.port.status("scan.ports_per_host"),
        ]
    }

    pub fn save_state(&self) -> ScanState {
        ScanState {
            addr: self.addr.entries(),
            port: self.port.entries(),
        }
    }

    pub fn load_state(&mut self, s: ScanState) {
        self.addr.load(s.addr);
        self.port.load(s.port);
    }

    /// Entries in the (src, port) and (src, dst) tables (each at most `max_keys`).
    pub fn tables_len(&self) -> [usize; 2] {
        [self.addr.len(), self.port.len()]
    }

    pub fn observe(&mut self, r: &FlowRecord, out: &mut Vec<Finding>) {
        if !(r.state.failed()
            || (self.cfg.count_unknown_state && r.state == crate::ConnState::Unknown))
        {
            return;
        }
        let c = &self.cfg;
        let h = crate::beacon::hash_ip(&r.dst);
        // folded to 32 bits by the window: mix the high half in first
        let dst_h = h ^ (h >> 32);
        let ws = self
            .addr
            .entry_or_insert_with(&SrcPort(r.src, r.dst_port), || {
                [Window::new(r.ts_ms), Window::new(r.ts_ms)]
            });
        if ws[0].add(
            r.ts_ms,
            c.addr_scan_interval_ms,
            dst_h,
            c.addr_scan_threshold,
        ) {
            out.push(finding(
                FindingKind::HorizontalScan,
                r,
                &ws[0],
                c.addr_scan_threshold,
                c.addr_scan_interval_ms,
                0.9,
            ));
        }
        if ws[1].add(r.ts_ms, c.slow_interval_ms, dst_h, c.slow_addr_threshold) {
            out.push(finding(
                FindingKind::HorizontalScan,
                r,
                &ws[1],
                c.slow_addr_threshold,
                c.slow_interval_ms,
                0.8,
            ));
        }
        let ws = self.port.entry_or_insert_with(&SrcDst(r.src, r.dst), || {
            [Window::new(r.ts_ms), Window::new(r.ts_ms)]
        });
        if ws[0].add(
            r.ts_ms,
            c.port_scan_interval_ms,
            r.dst_port as u64,
            c.port_scan_threshold,
        ) {
            out.push(finding(
                FindingKind::VerticalScan,
                r,
                &ws[0],
                c.port_scan_threshold,
                c.port_scan_interval_ms,
                0.9,
            ));
        }
        if ws[1].add(
            r.ts_ms,
            c.slow_interval_ms,
            r.dst_port as u64,
            c.slow_port_threshold,
        ) {
            out.push(finding(
                FindingKind::VerticalScan,
                r,
                &ws[1],
                c.slow_port_threshold,
                c.slow_interval_ms,
                0.8,
            ));
        }
    }
}

fn finding(
    kind: FindingKind,
    r: &FlowRecord,
    w: &Window,
    threshold: u32,
    interval_ms: i64,
    score: f64,
) -> Finding {
    let mins = interval_ms as f64 / 60_000.0;
    let (entity, what_zh, what_en) = match kind {
        FindingKind::HorizontalScan => (
            format!("{} → *:{}", r.src, r.dst_port),
            "个主机的同一端口",
            "hosts on one port",
        ),
        _ => (
            format!("{} → {}", r.src, r.dst),
            "个端口",
            "ports of one host",
        ),
    };
    Finding {
        kind,
        entity,
        score,
        severity: Severity::from_score(score),
        first_ms: w.first_ms,
        last_ms: w.last_ms,
        features: vec![
            Feature::new(
                "distinct_targets",
                w.seen.len() as f64,
                score,
                true,
                Text::new(
                    format!("{mins:.0} 分钟内连接失败覆盖 {threshold} {what_zh}"),
                    format!("failed connections to {threshold} {what_en} within {mins:.0} min"),
                ),
            ),
            Feature::new(
                "failed_attempts",
                w.attempts as f64,
                score,
                true,
                Text::new(
                    format!("{} 次失败连接", w.attempts),
                    format!("{} failed attempts", w.attempts),
                ),
            ),
        ],
    }
}
