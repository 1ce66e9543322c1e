//! Append throughput (records/s) and verify throughput (MiB/s), each with a
//! baseline measured in the same run: plain JSON-lines writes of the same
//! records without hashing, and plain JSON-lines parsing without checking.
//! Medians of 5 runs. Run: `cargo bench -p taishi-audit --bench append`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use taishi_audit::*;

const RUNS: usize = 5;

fn record(i: usize) -> NewRecord {
    let mut n = NewRecord::new(
        Actor {
            id: format!("u-{}", i % 50),
            name: format!("analyst{}", i % 50),
        },
        "org-3",
        "alerts.update",
        Outcome::Success,
    );
    n.roles = vec!["analyst".into(), "responder".into()];
    n.source = Some(format!("10.20.{}.{}:51234", i % 200, i % 250));
    n.target = Some(format!("alert/01J8Z{i:08}"));
    n
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn scratch(name: &str) -> std::path::PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Baseline: the same record as a plain JSON line (no seq, no hash), one
/// write per record, fsync after each when `fsync`.
fn baseline_append(n: usize, fsync: bool) -> f64 {
    let dir = scratch("baseline");
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("plain.jsonl"))
        .unwrap();
    let now = chrono::Local::now().fixed_offset();
    let t = Instant::now();
    for i in 0..n {
        let r = record(i);
        let mut line = serde_json::to_vec(&serde_json::json!({
            "time": now, "actor": {"id": r.actor.id, "name": r.actor.name}, "org": r.org,
            "roles": r.roles, "source": r.source, "action": r.action, "target": r.target,
            "outcome": "success",
        }))
        .unwrap();
        line.push(b'\n');
        f.write_all(&line).unwrap();
        if fsync {
            f.sync_data().unwrap();
        }
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn trail_append(n: usize, threads: usize, durability: Durability) -> f64 {
    let dir = scratch("trail");
    let trail = Arc::new(
        Trail::open_dir(
            &dir,
            FileStoreOptions::default(),
            TrailOptions {
                checkpoint: CheckpointPolicy::default(),
                durability,
            },
        )
        .unwrap(),
    );
    let t = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|k| {
            let trail = trail.clone();
            std::thread::spawn(move || {
                for i in 0..n / threads {
                    trail.append(record(k * n + i)).unwrap();
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    (n / threads * threads) as f64 / t.elapsed().as_secs_f64()
}

fn line(label: &str, value: f64, unit: &str, base: Option<f64>) {
    match base {
        Some(b) => println!(
            "{label:<52} {value:>12.0} {unit}  ({:.2}× baseline)",
            value / b
        ),
        None => println!("{label:<52} {value:>12.0} {unit}"),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n_mem, n_sync) = if quick {
        (5_000, 200)
    } else {
        (100_000, 2_000)
    };
    let runs = |f: &dyn Fn() -> f64| median((0..RUNS).map(|_| f()).collect());

    println!("append, no fsync ({n_mem} records, median of {RUNS}):");
    let b = runs(&|| baseline_append(n_mem, false));
    line(
        "  baseline: plain JSON lines, no hash",
        b,
        "records/s",
        None,
    );
    line(
        "  trail, 1 thread (hash + canonical JSON)",
        runs(&|| trail_append(n_mem, 1, Durability::Os)),
        "records/s",
        Some(b),
    );

    println!("append, durable ({n_sync} records):");
    let b = runs(&|| baseline_append(n_sync, true));
    line(
        "  baseline: plain JSON lines, fsync each",
        b,
        "records/s",
        None,
    );
    for threads in [1, 4, 16] {
        line(
            &format!("  trail, group commit, {threads} threads"),
            runs(&|| trail_append(n_sync, threads, Durability::GroupCommit)),
            "records/s",
            Some(b),
        );
    }

    // Verify: a trail of n_mem records, read back.
    trail_append(n_mem, 1, Durability::Os);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("trail");
    let bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("records-"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let key = PublicKey::read(&dir.join("public.pem")).unwrap();
    println!("verify ({n_mem} records, {mib:.1} MiB):");
    let base = runs(&|| {
        let t = Instant::now();
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            if !e.file_name().to_string_lossy().starts_with("records-") {
                continue;
            }
            for l in BufReader::new(File::open(e.path()).unwrap()).lines() {
                let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
                n += v.is_object() as usize;
            }
        }
        assert_eq!(n, n_mem);
        mib / t.elapsed().as_secs_f64()
    });
    line("  baseline: read + parse JSON lines", base, "MiB/s", None);
    let v = runs(&|| {
        let store = FileStore::open(&dir, FileStoreOptions::default()).unwrap();
        let t = Instant::now();
        let r = verify(
            &store,
            &VerifyOptions {
                key: Some(key),
                require_anchor: true,
            },
        )
        .unwrap();
        assert!(r.ok(), "{}", r.message_en);
        mib / t.elapsed().as_secs_f64()
    });
    line(
        "  verify (parse, canonicalise, SHA-256, signatures)",
        v,
        "MiB/s",
        Some(base),
    );
}
