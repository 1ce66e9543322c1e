//! Throughput of the rule engine: every SigmaHQ rule over the sample EVTX
//! events (host logs and regression data), against decoding alone.
//!
//! `cargo bench -p taishi-sigma --bench engine` prints rule-load time,
//! events/s for decoding, for detection (one thread), and the ratio; then
//! detection over one process-creation event whose CommandLine is 30 and
//! 30,000 characters long, and the ratio of the two (the cost of a long
//! field should grow with its length, with a small constant).
//! `cargo bench -p taishi-sigma --bench engine -- long` runs only that part.

use std::path::{Path, PathBuf};
use std::time::Instant;

use taishi_event::{Event, Value};
use taishi_sigma::{Engine, EngineOptions, RuleSet, Scratch};

/// A process-creation event (Sysmon 1) with a CommandLine of `len`
/// characters: a PowerShell command line padded with ordinary words, the
/// shape of an encoded or obfuscated script passed on the command line.
fn process_event(len: usize) -> Event {
    let head = "powershell.exe -NoProfile -ExecutionPolicy Bypass -Command ";
    let words = [
        "Get-Item",
        "$env:TEMP",
        "Write-Output",
        "-Path",
        "foreach",
        "{",
        "}",
        "$x",
        "=",
        "1;",
        "Invoke",
        "Set-Content",
        "'data'",
        "|",
        "Out-Null",
        "-Force",
        "if",
        "($a)",
        "else",
    ];
    let mut cmd = String::from(head);
    let mut i = 0;
    while cmd.len() < len {
        cmd.push_str(words[i % words.len()]);
        cmd.push(' ');
        i = i.wrapping_mul(31).wrapping_add(7);
    }
    cmd.truncate(len);
    let mut ev = Event::new();
    ev.push("EventID", Value::Int(1));
    ev.push("Channel", "Microsoft-Windows-Sysmon/Operational");
    ev.push(
        "Image",
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    );
    ev.push("OriginalFileName", "PowerShell.EXE");
    ev.push("ParentImage", r"C:\Windows\explorer.exe");
    ev.push("ParentCommandLine", r"C:\Windows\explorer.exe");
    ev.push("User", r"CORP\alice");
    ev.push("IntegrityLevel", "Medium");
    ev.push("CurrentDirectory", r"C:\Users\alice\");
    ev.push(
        "Hashes",
        "SHA256=0000000000000000000000000000000000000000000000000000000000000000",
    );
    ev.push("CommandLine", cmd);
    ev
}

/// Events/s of detection over one event, for about `secs` seconds.
fn rate_of(engine: &Engine, ev: &Event, secs: f64) -> (f64, usize) {
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    let mut n = 0usize;
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < secs {
        for _ in 0..10 {
            out.clear();
            engine.detect(ev, &mut scratch, &mut out);
        }
        n += 10;
    }
    (n as f64 / t.elapsed().as_secs_f64(), out.len())
}

/// Detection over a 30- and a 30,000-character CommandLine, with the
/// rules that cost the most on the long one.
fn long_fields(set: &RuleSet) {
    let engine = Engine::new(set, &EngineOptions::default()).unwrap();
    let (short, hs) = rate_of(&engine, &process_event(30), 2.0);
    let (long, hl) = rate_of(&engine, &process_event(30_000), 3.0);
    println!(
        "long fields: CommandLine of 30 chars {short:.0} events/s ({hs} detections), of 30,000 chars {long:.0} events/s ({hl} detections); the long one is {:.1}x slower for 1000x the length, {:.0} ns per extra byte",
        short / long,
        (1e9 / long - 1e9 / short) / 29_970.0
    );
    let timed = Engine::new(
        set,
        &EngineOptions {
            timing: true,
            ..Default::default()
        },
    )
    .unwrap();
    rate_of(&timed, &process_event(30_000), 1.0);
    let mut costly: Vec<(u64, u64, &str)> = timed
        .stats()
        .iter()
        .zip(timed.rules())
        .map(|(st, m)| {
            (
                st.nanos.load(std::sync::atomic::Ordering::Relaxed),
                st.evaluations.load(std::sync::atomic::Ordering::Relaxed),
                m.title.as_str(),
            )
        })
        .filter(|x| x.1 > 0)
        .collect();
    costly.sort_unstable_by_key(|x| std::cmp::Reverse(x.0));
    let total: u64 = costly.iter().map(|x| x.0).sum();
    println!(
        "  {} rules evaluated on the long event; the costliest:",
        costly.len()
    );
    for (nanos, evals, title) in costly.iter().take(5) {
        println!(
            "  {:5.1}% {:>8.0} ns/eval  {title}",
            100.0 * *nanos as f64 / total.max(1) as f64,
            *nanos as f64 / (*evals).max(1) as f64
        );
    }
}

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
    if std::env::args().any(|a| a == "long") {
        long_fields(&set);
        return;
    }
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
    long_fields(&set);
}
