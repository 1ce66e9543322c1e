//! Ingest of events with scattered timestamps against the same events on
//! one day, in the same run (issue 10, finding 9).
//!
//!     cargo bench -p taishi-store --bench scattered
//!     TAISHI_STORE_BENCH_EVENTS=20000 cargo bench -p taishi-store --bench scattered
//!
//! Each run: N events (default 2,000) in batches of 100 through the WAL
//! (commit per batch, one checkpoint at the end), first all stamped today,
//! then spread over 160 days back, then over ±100 years. Prints events/s of
//! each and the ratio to same-day ingest.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use taishi_event::Event;
use taishi_store::*;

use taishi_testdata::synthetic::*;

fn run(name: &str, total: u64, day_of: impl Fn(u64) -> TimeDelta) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let now = Utc::now();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut took = Duration::ZERO;
    let mut n = 0u64;
    while n < total {
        let batch: Vec<Event> = (n..(n + 100).min(total))
            .map(|i| {
                let ts = now - day_of(i);
                if r.below(5) < 2 {
                    network(&mut r, ts, i)
                } else {
                    windows(&mut r, ts, i)
                }
            })
            .collect();
        let t = Instant::now();
        store.append_batch(&batch).unwrap();
        store.commit().unwrap();
        took += t.elapsed();
        n += batch.len() as u64;
    }
    let t = Instant::now();
    store.checkpoint().unwrap();
    took += t.elapsed();
    let st = store.stats();
    let rate = total as f64 / took.as_secs_f64();
    println!(
        "{name:<28} {rate:>9.0} events/s ({:.2} s); {} partition(s), {} outside the day window, {} writers open",
        took.as_secs_f64(),
        st.partitions.len(),
        st.outside_events,
        st.open_writers
    );
    rate
}

fn main() {
    let total: u64 = std::env::var("TAISHI_STORE_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    println!("taishi-store scattered-day bench: {total} events, batches of 100");
    let same = run("same day", total, |_| TimeDelta::zero());
    let spread = run("160 days", total, |i| {
        TimeDelta::days(((i * 7919) % 160) as i64)
    });
    let wild = run("±100 years", total, |i| {
        TimeDelta::days(((i * 7919) % 73_000) as i64 - 36_500)
    });
    println!(
        "ratio to same day: 160 days {:.2}, ±100 years {:.2}",
        spread / same,
        wild / same
    );
}
