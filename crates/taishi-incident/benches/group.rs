//! Grouping 1,000,000 synthetic alerts over 30 days into incidents.
//!
//! Alerts are generated on the fly (a fixed-seed generator, realistic
//! cardinality: 5,000 hosts, 20,000 users, 50,000 external and 10,000
//! internal addresses; 55 % endpoint, 20 % identity, 20 % network, 5 %
//! correlation alerts, 5 % of values placeholders) so memory measures the
//! grouper, not a vector of alerts. The baseline, measured in the same run,
//! generates the same alerts and drops them; the grouping run generates and
//! assigns them. Each is run three times; medians are printed, with the
//! time per alert, the ratio to the baseline and the peak resident memory
//! (VmHWM) after the baseline alone and after grouping.
//!
//! `cargo bench -p taishi-incident --bench group`

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, FixedOffset};
use serde_json::json;
use taishi_alert::{Alert, AlertKind, Level};
use taishi_incident::{GroupConfig, Grouper};

const ALERTS: u64 = 1_000_000;
const DAYS: i64 = 30;
const HOSTS: u64 = 5_000;
const USERS: u64 = 20_000;
const EXT_IPS: u64 = 50_000;
const INT_IPS: u64 = 10_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: fast, fixed seed, good enough for synthetic data.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Skewed towards small values: a few hosts and users raise most alerts.
    fn skewed(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b)
    }
}

fn generate(i: u64, rng: &mut Rng, start: DateTime<FixedOffset>) -> Alert {
    let span_ms = DAYS * 86_400_000;
    let ts = start
        + Duration::milliseconds((i as i64) * span_ms / ALERTS as i64 - rng.below(60_000) as i64);
    let kind = rng.below(100);
    let placeholder = rng.below(100) < 5;
    let host = if placeholder {
        "-".to_string()
    } else {
        format!("WS{:05}.corp.local", rng.skewed(HOSTS))
    };
    let user = if placeholder {
        "SYSTEM".to_string()
    } else {
        format!("CORP\\user{:05}", rng.skewed(USERS))
    };
    let level = Level::ALL[(rng.below(4) + 1) as usize];
    let mut a;
    if kind < 55 {
        a = Alert::new(
            AlertKind::Sigma,
            format!("proc-{}", rng.below(300)),
            "Suspicious process",
            level,
            ts,
        );
        a.host = Some(host.clone());
        a.tags = vec!["attack.execution".into(), "attack.t1059.001".into()];
        a.summary.insert("User".into(), json!(user));
        a.event = json!({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"});
    } else if kind < 75 {
        a = Alert::new(AlertKind::Sigma, "logon-fail", "Failed logons", level, ts);
        a.host = Some(host);
        a.tags = vec!["attack.credential_access".into(), "attack.t1110".into()];
        a.summary.insert("TargetUserName".into(), json!(user));
        a.event = json!({"EventID": 4625, "Channel": "Security"});
    } else if kind < 95 {
        a = Alert::new(
            AlertKind::Sigma,
            format!("ids-{}", rng.below(500)),
            "IDS signature",
            level,
            ts,
        );
        let src = rng.skewed(EXT_IPS);
        let dst = rng.below(INT_IPS);
        a.source_ip = Some(format!(
            "203.{}.{}.{}",
            src >> 16,
            (src >> 8) & 255,
            src & 255
        ));
        a.destination_ip = Some(format!("10.0.{}.{}", dst >> 8, dst & 255));
        a.tags = vec!["attack.command_and_control".into()];
        a.event = json!({"event_type": "alert"});
    } else {
        a = Alert::new(
            AlertKind::Correlation,
            "corr-brute",
            "Brute force",
            Level::High,
            ts,
        );
        a.event = json!({"group": {"TargetUserName": user}});
    }
    a
}

fn start() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00+08:00").unwrap()
}

fn baseline() -> f64 {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let s = start();
    let t = Instant::now();
    let mut sink = 0usize;
    for i in 0..ALERTS {
        let a = generate(i, &mut rng, s);
        sink = sink.wrapping_add(a.rule_id.len());
        std::hint::black_box(&a);
    }
    std::hint::black_box(sink);
    t.elapsed().as_secs_f64()
}

struct Run {
    secs: f64,
    incidents: u64,
    alone: u64,
    max_open: usize,
    closed: usize,
}

fn grouping() -> Run {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let s = start();
    let mut g = Grouper::new(GroupConfig::default());
    // Per incident: its alert count, as a caller would keep while it
    // writes alerts to the incident store.
    let mut per_incident: HashMap<u64, u32> = HashMap::new();
    let mut incidents = 0u64;
    let mut alone = 0u64;
    let mut max_open = 0usize;
    let mut closed = 0usize;
    let t = Instant::now();
    for i in 0..ALERTS {
        let a = generate(i, &mut rng, s);
        let x = g.assign(&a);
        if x.new {
            incidents += 1;
            if x.key.is_none() {
                alone += 1;
                continue;
            }
        }
        *per_incident.entry(x.group).or_default() += 1;
        if i % 1024 == 0 {
            // Closed groups leave memory: the caller finalises them.
            for c in g.drain_closed() {
                per_incident.remove(&c.group);
                closed += 1;
            }
            max_open = max_open.max(g.open_groups());
        }
    }
    let secs = t.elapsed().as_secs_f64();
    Run {
        secs,
        incidents,
        alone,
        max_open,
        closed,
    }
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut base = Vec::new();
    for _ in 0..3 {
        base.push(baseline());
    }
    let hwm_base = vm_hwm_kib();
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(grouping());
    }
    let hwm = vm_hwm_kib();
    let b = median(base);
    let r = median(runs.iter().map(|r| r.secs).collect());
    let last = runs.last().unwrap();
    let n = ALERTS as f64;
    println!("alerts: {ALERTS} over {DAYS} days ({HOSTS} hosts, {USERS} users, {EXT_IPS}+{INT_IPS} addresses)");
    println!(
        "baseline (generate alerts only): {:.3} s, {:.2} µs/alert (median of 3)",
        b,
        b / n * 1e6
    );
    println!(
        "generate + group:                {:.3} s, {:.2} µs/alert (median of 3)",
        r,
        r / n * 1e6
    );
    println!(
        "grouping alone:                  {:.2} µs/alert, {:.0} alerts/s; ratio to baseline {:.2}",
        (r - b) / n * 1e6,
        n / (r - b).max(1e-9),
        r / b
    );
    println!(
        "incidents: {} ({} alone: no usable entity), closed by window/eviction: {}, open groups at most {}",
        last.incidents, last.alone, last.closed, last.max_open
    );
    println!(
        "peak memory (VmHWM): baseline {} MiB, after grouping {} MiB",
        hwm_base / 1024,
        hwm / 1024
    );
}
