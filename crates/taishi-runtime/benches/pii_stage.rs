//! The personal-information stage of the pipeline (`pii::PiiStage`, on by
//! default): events masked per second, against decoding the same events in
//! the same run, so the stage's share of ingest is a ratio on one machine.
//!
//! Input: the EVTX samples (`taishi_testdata::large_evtx`, as serve's bench).
//! Each run masks a fresh clone of the decoded events (the stage writes in
//! place), in batches of 1,000 as the listeners hand them over; the clone is
//! made before the clock starts.
//!
//! `cargo bench -p taishi-runtime --bench pii_stage` (TAISHI_BENCH_MIB: size
//! of the EVTX, default 32). Prints medians of 5 runs.

use std::time::Instant;

use taishi_runtime::pii::{PiiConfig, PiiStage};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let Some(_) = taishi_testdata::root() else {
        eprintln!("SKIP: no test data (../shared/data or TAISHI_TEST_DATA)");
        return;
    };
    let mib = std::env::var("TAISHI_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32u64);
    let evtx = taishi_testdata::large_evtx(mib << 20).expect("building the EVTX");
    let dir = tempfile::tempdir().unwrap();

    let mut decode = Vec::new();
    let mut events = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let (sink, _) = taishi_decode::decode_path(&evtx, &taishi_decode::Options::default());
        decode.push(t.elapsed().as_secs_f64());
        events = sink.events;
    }
    let n = events.len();
    let bytes: usize = events.iter().map(|e| e.to_json_string().len()).sum();
    let decode = median(decode);
    println!(
        "input: {} ({mib} MiB), {n} events, {:.1} MiB as JSON",
        evtx.display(),
        bytes as f64 / 1048576.0
    );
    println!(
        "decode (baseline): median {decode:.3} s, {:.0} events/s",
        n as f64 / decode
    );

    for (name, cfg) in [
        ("default fields", PiiConfig::default()),
        (
            "every field (`*`)",
            PiiConfig {
                fields: vec!["*".into()],
                ..PiiConfig::default()
            },
        ),
    ] {
        let stage = PiiStage::open(&cfg, dir.path()).unwrap();
        let mut times = Vec::new();
        for _ in 0..5 {
            let mut batch = events.clone();
            let t = Instant::now();
            for chunk in batch.chunks_mut(1000) {
                stage.mask_events("bench", chunk);
            }
            times.push(t.elapsed().as_secs_f64());
        }
        let m = median(times);
        println!(
            "mask, {name}: median {m:.3} s, {:.0} events/s, {:.1} MiB/s; {:.2}x the time of decoding",
            n as f64 / m,
            bytes as f64 / 1048576.0 / m,
            m / decode
        );
    }
}
