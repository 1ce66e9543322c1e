//! Throughput of the rule engine: every SigmaHQ rule over the sample EVTX
//! events (host logs and regression data), against decoding alone.
//!
//! `cargo bench -p taishi-sigma --bench engine` prints rule-load time,
//! events/s for decoding, for detection (one thread), and the ratio.

use std::path::{Path, PathBuf};
use std::time::Instant;

use taishi_sigma::{Engine, EngineOptions, RuleSet, Scratch};

fn evtx_files(p: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(p) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            evtx_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "evtx") {
            out.push(p);
        }
    }
}

fn main() {
    let Some(sigma) = taishi_testdata::path("sigma") else {
        return;
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&sigma)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("rules"))
        })
        .collect();
    dirs.sort();
    let t = Instant::now();
    let set = RuleSet::load_paths(&dirs).unwrap();
    let parsed = t.elapsed();
    let engine = Engine::new(&set, &EngineOptions::default()).unwrap();
    println!(
        "rules: {} parsed in {:.2?}, compiled in {:.2?} ({} active)",
        set.rules.len(),
        parsed,
        t.elapsed() - parsed,
        engine.active_rules()
    );

    let mut files = Vec::new();
    if let Some(h) = taishi_testdata::path("host-logs/windows-evtx") {
        evtx_files(&h, &mut files);
    }
    evtx_files(&sigma.join("regression_data"), &mut files);
    files.sort();
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();

    // Decode only, repeated until about 2 s have passed.
    let mut events = Vec::new();
    let mut decoded = 0usize;
    let mut rounds = 0;
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < 2.0 || rounds == 0 {
        for f in &files {
            let (sink, _) = taishi_decode::decode_path(f, &Default::default());
            decoded += sink.events.len();
            if rounds == 0 {
                events.extend(sink.events);
            }
        }
        rounds += 1;
    }
    let decode_rate = decoded as f64 / t.elapsed().as_secs_f64();
    println!(
        "decode only: {} files, {:.1} MiB, {} events; {:.0} events/s",
        files.len(),
        bytes as f64 / 1048576.0,
        events.len(),
        decode_rate
    );

    for (name, unfiltered) in [("detect", false), ("detect without prefilter", true)] {
        let mut scratch = Scratch::new();
        let mut out = Vec::new();
        let mut n = 0usize;
        let mut hits = 0usize;
        let t = Instant::now();
        while t.elapsed().as_secs_f64() < 3.0 {
            for ev in &events {
                out.clear();
                if unfiltered {
                    engine.detect_unfiltered(ev, &mut scratch, &mut out);
                } else {
                    engine.detect(ev, &mut scratch, &mut out);
                }
                hits += out.len();
            }
            n += events.len();
        }
        let rate = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "{name}: {:.0} events/s on one thread ({} detections per pass); decode+detect runs at {:.0}% of decode-only speed",
            rate,
            hits / (n / events.len().max(1)).max(1),
            100.0 / (1.0 + decode_rate / rate)
        );
    }
}
