//! Matching cost at ingest with 1 M indicators loaded.
//!
//! Real events (Suricata EVE and Zeek JSON samples) are decoded with
//! taishi-decode and every event is matched, once against an empty matcher
//! and once against 1 M generated indicators (IPs, CIDRs, domains, URLs,
//! hashes), alternating in the same run. Prints the median throughput of
//! each, their ratio (the goal: under 10 % overhead), the pure matching cost
//! per event, memory per indicator (counted by the allocator) and the time to
//! load the matcher from the store.
//!
//! `cargo bench -p taishi-intel --bench match` (TAISHI_INTEL_BENCH_N to
//! change the indicator count).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use taishi_decode::{decode_input, Input, Options};
use taishi_event::{Event, Reject, Sink};
use taishi_intel::{
    Batch, ImportMode, Indicator, IndicatorStore, IndicatorType, IntelHit, Matcher,
};

struct Counting;
static ALLOCATED: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(l.size() as i64, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        ALLOCATED.fetch_sub(l.size() as i64, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCATED.fetch_add(n as i64 - l.size() as i64, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct MatchSink<'a> {
    m: &'a Matcher,
    hits: Vec<IntelHit>,
    events: u64,
    matched: u64,
}

impl Sink for MatchSink<'_> {
    fn event(&mut self, e: Event) {
        self.events += 1;
        self.hits.clear();
        self.m.match_event(&e, &mut self.hits);
        if !self.hits.is_empty() {
            self.matched += 1;
        }
    }
    fn reject(&mut self, _: Reject) {}
}

/// Cheap deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(n);
        s
    }
    fn word(&mut self) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let len = 5 + (self.next() % 10) as usize;
        (0..len)
            .map(|_| A[(self.next() % A.len() as u64) as usize] as char)
            .collect()
    }
}

fn generate(n: usize, sample_ips: &[String]) -> Vec<Indicator> {
    let mut r = Rng(0x9e3779b97f4a7c15);
    let tlds = ["com", "net", "org", "info", "xyz", "top", "ru", "cn"];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (kind, value) = match i % 20 {
            0..=7 => {
                let x = r.next() as u32;
                (
                    IndicatorType::Ip,
                    std::net::Ipv4Addr::from(x | 0x0100_0000).to_string(),
                )
            }
            8 | 9 => {
                let len = 16 + (r.next() % 15) as u32;
                let x = (r.next() as u32) & (u32::MAX << (32 - len));
                (
                    IndicatorType::Cidr,
                    format!("{}/{len}", std::net::Ipv4Addr::from(x)),
                )
            }
            10..=14 => {
                let tld = tlds[(r.next() % tlds.len() as u64) as usize];
                (
                    IndicatorType::Domain,
                    format!("{}.{}.{tld}", r.word(), r.word()),
                )
            }
            15 | 16 => {
                let tld = tlds[(r.next() % tlds.len() as u64) as usize];
                (
                    IndicatorType::Url,
                    format!("http://{}.{tld}/{}/{}.php", r.word(), r.word(), r.word()),
                )
            }
            17 => (IndicatorType::Md5, r.hex(32)),
            18 => (IndicatorType::Sha1, r.hex(40)),
            _ => (IndicatorType::Sha256, r.hex(64)),
        };
        let mut ind = Indicator::new(kind, value, "bench");
        ind.malware.push(format!("family-{}", i % 50));
        ind.labels.push("botnet_cc".into());
        out.push(ind);
    }
    // A few addresses the samples contain, so the hit path runs too.
    for ip in sample_ips.iter().take(20) {
        out.push(Indicator::new(IndicatorType::Ip, ip.clone(), "bench-hits"));
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::var("TAISHI_INTEL_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(p) = taishi_testdata::path("network/suricata/surevego_eve.json") {
        files.push(p);
    }
    if let Some(dir) = taishi_testdata::path("network/zeek/wrccdc-json") {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        files.extend(v);
    }
    if files.is_empty() {
        eprintln!("SKIP: no network samples");
        return;
    }
    let inputs: Vec<Input> = files.iter().cloned().map(Input::Path).collect();
    let opts = Options::default();

    // Addresses seen in the samples.
    let mut decoded: Vec<Event> = Vec::new();
    for p in &files {
        let (sink, _) = taishi_decode::decode_path(p, &opts);
        decoded.extend(sink.events);
    }
    let mut sample_ips: Vec<String> = decoded
        .iter()
        .filter_map(|e| e.get_str("destination.ip").map(str::to_string))
        .collect();
    sample_ips.sort();
    sample_ips.dedup();

    // Store 1 M indicators, then time loading the matcher from disk.
    let tmp = tempfile::tempdir().unwrap();
    let mut store = IndicatorStore::open(tmp.path()).unwrap();
    let inds = generate(n, &sample_ips);
    let count = inds.len();
    let t = Instant::now();
    store
        .import(
            "bench",
            Batch {
                indicators: inds,
                ..Default::default()
            },
            ImportMode::Replace,
            None,
            None,
        )
        .unwrap();
    let import_s = t.elapsed().as_secs_f64();
    let before = ALLOCATED.load(Ordering::Relaxed);
    let t = Instant::now();
    let full = store.load_matcher().unwrap();
    let load_s = t.elapsed().as_secs_f64();
    let mem = ALLOCATED.load(Ordering::Relaxed) - before;
    let empty = Matcher::default();

    let run = |m: &Matcher| -> (f64, u64, u64) {
        let mut sink = MatchSink {
            m,
            hits: Vec::new(),
            events: 0,
            matched: 0,
        };
        let t = Instant::now();
        for i in &inputs {
            decode_input(i, &opts, &mut sink, Arc::new(AtomicU64::new(0)));
        }
        (
            sink.events as f64 / t.elapsed().as_secs_f64(),
            sink.events,
            sink.matched,
        )
    };
    run(&empty);
    run(&full);
    let (mut base, mut with) = (Vec::new(), Vec::new());
    let mut matched = 0;
    let mut events = 0;
    for _ in 0..11 {
        base.push(run(&empty).0);
        let (r, e, m) = run(&full);
        with.push(r);
        events = e;
        matched = m;
    }
    let (b, w) = (median(base), median(with));

    // Matching alone, on decoded events.
    let mut hits = Vec::new();
    let mut per_event = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        for _ in 0..10 {
            for e in &decoded {
                hits.clear();
                full.match_event(e, &mut hits);
            }
        }
        per_event.push(t.elapsed().as_nanos() as f64 / (10 * decoded.len()) as f64);
    }

    println!("indicators: {count} ({:?})", full.stats().by_type);
    println!("store import: {import_s:.2} s; matcher load from disk: {load_s:.2} s");
    println!(
        "memory: {:.1} MiB, {:.0} bytes per indicator",
        mem as f64 / (1 << 20) as f64,
        mem as f64 / count as f64
    );
    println!("events per pass: {events} (Suricata EVE + Zeek JSON), matched: {matched}");
    println!("decode + match, no indicators:  {b:>10.0} events/s (median of 11)");
    println!("decode + match, {count} indicators: {w:>10.0} events/s (median of 11)");
    println!(
        "throughput ratio with/without: {:.3} ({:+.1} % cost)",
        w / b,
        (b / w - 1.0) * 100.0
    );
    println!(
        "match_event alone: {:.0} ns/event (median of 11)",
        median(per_event)
    );
}
