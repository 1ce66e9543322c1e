//! Search benchmark: a store of realistic generated events (Zeek-style
//! connections, Windows 4688/Sysmon 1 process events, syslog auth lines)
//! over several days, then the median latency of typical searches through
//! `taishi_search::execute`.
//!
//!     cargo bench -p taishi-search --bench search          # 10,000,000 events
//!     TAISHI_BENCH_EVENTS=500000 cargo bench -p taishi-search --bench search
//!
//! The store is kept under the temp dir, keyed by size
//! (`taishi-search-bench-<N>`), and reused by later runs; delete it to
//! measure ingest again. Each line gives the median of 7 warm runs; the
//! baseline is the same work asked of the store directly (the cost of the
//! query language on top).
//!
//! Measured 2026-11-23 on the 2-core build machine (other builds running),
//! 10,000,000 events (40 % Zeek conn, 40 % Windows process, 20 % sshd auth;
//! 725 B of JSON each) over 5 UTC days:
//!
//! ```text
//! ingest: 10000000 events in 318.0 s = 31443 events/s (WAL fsync per 1,000, checkpoint per 500,000)
//! disk: 3849.9 MB in 5 partitions = 385 B/event
//! term user.name:dave (100 newest + histogram)        3.77 ms   100 of 11689 hits  x2.02 vs store call
//! free text "hidden enc"                             88.99 ms   100 of 1000431 hits
//! free text failed password                          29.07 ms   100 of 1498840 hits
//! count by event.code, 1 h                            1.70 ms   4 rows
//! count by event.code, whole range                   86.98 ms   4 rows
//! top 10 source.ip                                  109.26 ms   10 rows  x1.13 vs store call
//! timechart 1h count() by event.dataset             181.13 ms   240 rows
//! ```

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use taishi_event::Event;
use taishi_query::Query;
use taishi_search::{execute, Output, SearchOptions};
use taishi_store::*;

use taishi_testdata::synthetic::*;
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut last = None;
    let mut runs = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        last = Some(f());
        runs.push(t.elapsed());
    }
    (median(runs), last.unwrap())
}

const DAYS: i64 = 5;

fn build(dir: &std::path::Path, total: u64, start: DateTime<Utc>) {
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    let step = DAYS * 86_400_000_000 / total as i64;
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ingest = Duration::ZERO;
    let mut json = 0u64;
    let mut n = 0u64;
    while n < total {
        let batch: Vec<Event> = (n..(n + 1000).min(total))
            .map(|i| {
                let ts = start + TimeDelta::microseconds(step * i as i64);
                match r.below(10) {
                    0..=3 => network(&mut r, ts, i),
                    4..=7 => windows(&mut r, ts, i),
                    _ => syslog(&mut r, ts, i),
                }
            })
            .collect();
        if n < 100_000 {
            json += batch
                .iter()
                .map(|e| e.to_json_string().len() as u64 + 1)
                .sum::<u64>();
        }
        let t = Instant::now();
        store.append_batch(&batch).unwrap();
        store.commit().unwrap();
        n += batch.len() as u64;
        if n.is_multiple_of(500_000) || n == total {
            store.checkpoint().unwrap();
        }
        ingest += t.elapsed();
    }
    let stats = store.stats();
    println!(
        "ingest: {total} events in {:.1} s = {:.0} events/s (WAL fsync per 1,000, checkpoint per 500,000); JSON {:.0} B/event",
        ingest.as_secs_f64(),
        total as f64 / ingest.as_secs_f64(),
        json as f64 / total.min(100_000) as f64,
    );
    println!(
        "disk: {:.1} MB in {} partitions = {:.0} B/event",
        stats.index_bytes as f64 / 1e6,
        stats.partitions.len(),
        stats.bytes_per_event
    );
    store.close().unwrap();
    std::fs::write(dir.join("bench-complete"), b"").unwrap();
}

fn main() {
    let total: u64 = std::env::var("TAISHI_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let start = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let end = start + TimeDelta::days(DAYS);
    let dir = std::env::temp_dir().join(format!("taishi-search-bench-{total}"));
    if !dir.join("bench-complete").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        println!(
            "building a store of {total} events over {DAYS} days in {}",
            dir.display()
        );
        build(&dir, total, start);
    } else {
        println!(
            "reusing {} (delete it to measure ingest again)",
            dir.display()
        );
    }
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let st = store.stats();
    println!(
        "store: {} events, {:.0} B/event on disk",
        st.events, st.bytes_per_event
    );
    let now = end.fixed_offset();
    let whole = (start.to_rfc3339(), end.to_rfc3339());
    let hour = (
        (start + TimeDelta::hours(50)).to_rfc3339(),
        (start + TimeDelta::hours(51)).to_rfc3339(),
    );
    let opts = SearchOptions::default();
    let run = |text: &str, range: &(String, String)| {
        let q = Query::parse_at(text, now)
            .unwrap()
            .with_time_range(Some(&range.0), Some(&range.1))
            .unwrap();
        time(|| execute(&store, &q, &opts).unwrap())
    };
    let what = |o: &taishi_search::SearchOutput| match &o.result {
        Output::Hits { total, events } => format!("{} of {total} hits", events.len()),
        Output::Table { rows, .. } => format!("{} rows", rows.len()),
    };
    let row = |name: &str, d: Duration, base: Option<Duration>, what: String| {
        let ratio = base.map_or(String::new(), |b| {
            format!(
                "  x{:.2} vs store call",
                d.as_secs_f64() / b.as_secs_f64().max(1e-9)
            )
        });
        println!(
            "{name:<46} {:>9.2} ms   {what}{ratio}",
            d.as_secs_f64() * 1e3
        );
    };
    let range = TimeRange::new(start, end);

    let (base, _) = time(|| {
        store
            .search(&SearchRequest {
                filter: Filter::term("user.name", "dave"),
                range,
                limit: 100,
                offset: 0,
            })
            .unwrap()
    });
    let (d, o) = run("user.name:dave", &whole);
    row(
        "term user.name:dave (100 newest + histogram)",
        d,
        Some(base),
        what(&o),
    );
    let (d, o) = run("\"hidden enc\"", &whole);
    row("free text \"hidden enc\"", d, None, what(&o));
    let (d, o) = run("failed password", &whole);
    row("free text failed password", d, None, what(&o));
    let (d, o) = run("* | stats count() by event.code", &hour);
    row("count by event.code, 1 h", d, None, what(&o));
    let (d, o) = run("* | stats count() by event.code", &whole);
    row("count by event.code, whole range", d, None, what(&o));
    let (base, _) = time(|| {
        store
            .aggregate(
                &Filter::All,
                range,
                &Aggregation::Terms {
                    field: "source.ip".into(),
                    size: 10,
                    then: None,
                },
            )
            .unwrap()
    });
    let (d, o) = run("* | top 10 source.ip", &whole);
    row("top 10 source.ip", d, Some(base), what(&o));
    let (d, o) = run("* | timechart 1h count() by event.dataset", &whole);
    row("timechart 1h count() by event.dataset", d, None, what(&o));
}
