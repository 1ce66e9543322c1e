//! Store benchmark on synthetic events in the Taishi layout (a mix of
//! network and Windows events, ~25 fields each).
//!
//!     cargo bench -p taishi-store --bench store            # 1,000,000 events
//!     TAISHI_STORE_BENCH_EVENTS=200000 cargo bench -p taishi-store --bench store
//!
//! Prints ingest throughput (through the WAL, group commits of 1,000 events,
//! an index checkpoint every 100,000), bytes on disk, and median latencies of
//! typical searches (11 warm runs each).

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use taishi_event::{Event, Value};
use taishi_store::*;

use taishi_testdata::synthetic::*;
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut last = None;
    let mut runs = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        last = Some(f());
        runs.push(t.elapsed());
    }
    (median(runs), last.unwrap())
}

fn main() {
    let total: u64 = std::env::var("TAISHI_STORE_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir_in(
        std::env::var("TAISHI_STORE_BENCH_DIR")
            .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .unwrap();
    let mut config = StoreConfig::default();
    if let Some(n) = std::env::var("TAISHI_STORE_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        config.writer_threads = n;
    }
    if let Some(n) = std::env::var("TAISHI_STORE_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        config.writer_memory_bytes = n << 20;
    }
    println!(
        "taishi-store bench: {total} events, writer {} thread(s) x {} MiB, zstd {}",
        config.writer_threads,
        config.writer_memory_bytes >> 20,
        config.docstore_zstd_level
    );
    let store = Store::open(dir.path(), config).unwrap();

    let day = DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let step = 86_400_000_000 / total as i64; // spread evenly over one UTC day
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ingest = Duration::ZERO;
    let mut raw_json = 0u64;
    let mut n = 0u64;
    while n < total {
        let batch: Vec<Event> = (n..(n + 1000).min(total))
            .map(|i| {
                let ts = day + TimeDelta::microseconds(step * i as i64);
                if r.below(5) < 2 {
                    network(&mut r, ts, i)
                } else {
                    windows(&mut r, ts, i)
                }
            })
            .collect();
        raw_json += batch
            .iter()
            .map(|e| e.to_json_string().len() as u64 + 1)
            .sum::<u64>();
        let t = Instant::now();
        store.append_batch(&batch).unwrap();
        store.commit().unwrap();
        n += batch.len() as u64;
        if n.is_multiple_of(100_000) || n == total {
            store.checkpoint().unwrap();
        }
        ingest += t.elapsed();
    }
    let stats = store.stats();
    println!(
        "ingest: {:.0} events/s ({:.1} s); JSON {:.0} B/event; index {:.1} MB = {:.0} B/event ({} partition(s)); WAL left {} B",
        total as f64 / ingest.as_secs_f64(),
        ingest.as_secs_f64(),
        raw_json as f64 / total as f64,
        stats.index_bytes as f64 / 1e6,
        stats.bytes_per_event,
        stats.partitions.len(),
        stats.wal_bytes
    );

    let whole = TimeRange::new(day, day + TimeDelta::days(1));
    let search = |filter: Filter| {
        let req = SearchRequest {
            filter,
            range: whole,
            limit: 100,
            offset: 0,
        };
        time(|| store.search(&req).unwrap())
    };
    let row = |name: &str, d: Duration, what: String| {
        println!("{name:<44} {:>9.2} ms   {what}", d.as_secs_f64() * 1e3)
    };

    let (d, r) = search(Filter::term("user.name", "Dave"));
    row(
        "term user.name:dave (top 100 + count)",
        d,
        format!("{} hits", r.total),
    );
    let (d, r) = search(Filter::And(vec![
        Filter::term("destination.port", "443"),
        Filter::range("network.bytes", Some(1_000_000.0), None),
    ]));
    row(
        "range + term (port 443, bytes >= 1e6)",
        d,
        format!("{} hits", r.total),
    );
    let (d, r) = search(Filter::And(vec![
        Filter::term("EventID", "4688"),
        Filter::wildcard("CommandLine", "*whoami*"),
    ]));
    row("term + wildcard *whoami*", d, format!("{} hits", r.total));
    let (d, r) = search(Filter::text("hidden enc"));
    row(
        "full-text phrase \"hidden enc\"",
        d,
        format!("{} hits", r.total),
    );
    let (d, r) = search(Filter::cidr(
        "destination.ip",
        "192.168.0.0/22".parse().unwrap(),
    ));
    row(
        "cidr destination.ip 192.168.0.0/22",
        d,
        format!("{} hits", r.total),
    );
    let (d, r) = search(Filter::All);
    row("100 newest hits", d, format!("{} total", r.total));
    let (d, r) = time(|| {
        store
            .aggregate(
                &Filter::All,
                whole,
                &Aggregation::Terms {
                    field: "source.ip".into(),
                    size: 10,
                    then: None,
                },
            )
            .unwrap()
    });
    let top = match r {
        AggResult::Terms { buckets, .. } => {
            buckets.first().map(|b| format!("{} x{}", b.key, b.count))
        }
        _ => None,
    };
    row("top-10 source.ip", d, top.unwrap_or_default());
    let (d, r) = time(|| {
        store
            .aggregate(
                &Filter::All,
                whole,
                &Aggregation::DateHistogram {
                    interval: TimeDelta::hours(1),
                    split: None,
                },
            )
            .unwrap()
    });
    let n = match r {
        AggResult::DateHistogram(b) => b.len(),
        _ => 0,
    };
    row("1 h date histogram over the day", d, format!("{n} buckets"));
    let (d, _) = time(|| {
        store
            .aggregate(
                &Filter::All,
                whole,
                &Aggregation::DateHistogram {
                    interval: TimeDelta::hours(1),
                    split: Some(("event.category".into(), 5)),
                },
            )
            .unwrap()
    });
    row("1 h histogram split by event.category", d, String::new());
    let (d, r) = time(|| {
        store
            .aggregate(
                &Filter::term("event.category", "network"),
                whole,
                &Aggregation::Stats {
                    field: "network.bytes".into(),
                },
            )
            .unwrap()
    });
    let avg = match r {
        AggResult::Stats(s) => s.avg.unwrap_or(0.0),
        _ => 0.0,
    };
    row(
        "stats network.bytes (network events)",
        d,
        format!("avg {avg:.0}"),
    );
    let _ = Value::Null;
}
