//! `taishi hunt` with every SigmaHQ rule over a ≥100 MiB EVTX built from the
//! samples, against `taishi parse` of the same file in the same run.
//!
//! Run: `cargo bench -p taishi --bench hunt` (TAISHI_BENCH_MIB sets the
//! file size; default 100). Prints medians of 3 runs of each command,
//! events/s, the hunt/parse time ratio (single-threaded hunt, since parse
//! is single-threaded, and all cores), rule-load time and peak memory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 3;

/// Runs a command; returns its wall time and its stderr.
fn run(cmd: &mut Command) -> (Duration, String) {
    let t = Instant::now();
    let out = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run taishi");
    let took = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        matches!(out.status.code(), Some(0 | 2 | 3)),
        "taishi failed: {stderr}"
    );
    (took, stderr)
}

fn as_str(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median wall time, median CPU time (user + system, when GNU time is
/// there), peak RSS in KiB, and the last run's stderr.
fn timed(args: &[&str]) -> (Duration, Option<Duration>, u64, String) {
    // GNU time reports the peak RSS and CPU time; without it only wall time
    // is measured. CPU time is the fairer cost on a busy machine.
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut results = Vec::new();
    let mut cpus = Vec::new();
    let mut peak = 0;
    let mut last = String::new();
    for _ in 0..RUNS {
        let mut cmd = if gnu_time {
            let mut c = Command::new("/usr/bin/time");
            c.arg("-f")
                .arg("PEAK_KIB=%M\nCPU_S=%U %S")
                .arg(env!("CARGO_BIN_EXE_taishi"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_taishi"))
        };
        let (d, stderr) = run(cmd.args(args));
        if let Some(k) = stderr
            .lines()
            .find_map(|l| l.strip_prefix("PEAK_KIB="))
            .and_then(|k| k.trim().parse::<u64>().ok())
        {
            peak = peak.max(k);
        }
        if let Some(cpu) = stderr.lines().find_map(|l| l.strip_prefix("CPU_S=")) {
            let secs: f64 = cpu
                .split_whitespace()
                .filter_map(|x| x.parse::<f64>().ok())
                .sum();
            cpus.push(Duration::from_secs_f64(secs));
        }
        results.push(d);
        last = stderr;
    }
    let cpu = (cpus.len() == results.len()).then(|| median(cpus));
    (median(results), cpu, peak, last)
}

fn main() {
    let mib: u64 = std::env::var("TAISHI_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let Some(sigma) = taishi_testdata::path("sigma") else {
        return;
    };
    let Some(big) = taishi_testdata::large_evtx(mib << 20) else {
        println!("SKIP: could not build the large EVTX");
        return;
    };
    let size = std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0);
    let mut rule_dirs: Vec<PathBuf> = std::fs::read_dir(&sigma)
        .expect("sigma folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("rules"))
        })
        .collect();
    rule_dirs.sort();
    let big_s = big.to_string_lossy().into_owned();
    let mut hunt_args: Vec<String> = vec!["hunt".into()];
    for d in &rule_dirs {
        hunt_args.push("-r".into());
        hunt_args.push(d.to_string_lossy().into_owned());
    }
    hunt_args.extend(["--format".into(), "jsonl".into(), big_s.clone()]);
    let hunt_1: Vec<String> = [hunt_args.clone(), vec!["--threads".into(), "1".into()]].concat();

    // Rule load alone: hunt over an empty input.
    let empty = std::env::temp_dir().join("taishi-bench-empty.jsonl");
    std::fs::write(&empty, b"").expect("temp file");
    let mut load_args = hunt_args[..hunt_args.len() - 1].to_vec();
    load_args.push(empty.to_string_lossy().into_owned());

    let (parse_t, parse_cpu, parse_peak, parse_err) =
        timed(&["parse", "--output", "/dev/null", &big_s]);
    let events = parse_err
        .lines()
        .find_map(|l| {
            l.split(" events,")
                .next()
                .filter(|_| l.contains(" events,"))
        })
        .map(|n| n.replace(',', "").trim().parse::<u64>().unwrap_or(0))
        .unwrap_or(0);
    let (load_t, load_cpu, load_peak, _) = timed(&as_str(&load_args));
    let (hunt1_t, hunt1_cpu, hunt1_peak, hunt_err) = timed(&as_str(&hunt_1));
    let (hunt_t, hunt_cpu, hunt_peak, _) = timed(&as_str(&hunt_args));

    let eps = |d: Duration| events as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "input: {} ({:.0} MiB, {events} events)",
        big.display(),
        size as f64 / 1048576.0
    );
    println!(
        "{:<34} {:>9} {:>12} {:>10} {:>9} {:>9} {:>11}",
        "command", "median s", "events/s", "peak MiB", "×parse", "CPU s", "CPU ×parse"
    );
    let ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64().max(1e-9)),
        _ => "-".into(),
    };
    for (name, t, cpu, peak) in [
        ("taishi parse", parse_t, parse_cpu, parse_peak),
        (
            "rule load only (hunt, no input)",
            load_t,
            load_cpu,
            load_peak,
        ),
        ("taishi hunt --threads 1", hunt1_t, hunt1_cpu, hunt1_peak),
        ("taishi hunt (all cores)", hunt_t, hunt_cpu, hunt_peak),
    ] {
        println!(
            "{:<34} {:>9.2} {:>12.0} {:>10.0} {:>9.2} {:>9} {:>11}",
            name,
            t.as_secs_f64(),
            eps(t),
            peak as f64 / 1024.0,
            t.as_secs_f64() / parse_t.as_secs_f64().max(1e-9),
            cpu.map(|c| format!("{:.2}", c.as_secs_f64()))
                .unwrap_or_else(|| "-".into()),
            ratio(cpu, parse_cpu),
        );
    }
    println!(
        "hunt minus rule load, one thread: {:.2}× parse (wall), {}× parse (CPU)",
        (hunt1_t.saturating_sub(load_t)).as_secs_f64() / parse_t.as_secs_f64().max(1e-9),
        ratio(
            hunt1_cpu.zip(load_cpu).map(|(h, l)| h.saturating_sub(l)),
            parse_cpu
        )
    );
    if let Some(summary) = hunt_err
        .lines()
        .rev()
        .find(|l| l.contains("detections") || l.contains("hits"))
    {
        println!("hunt summary: {summary}");
    }
    let _ = std::fs::remove_file(empty);
}
