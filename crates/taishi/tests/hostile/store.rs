//! Finding 9: scattered, far-off and unrepresentable timestamps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use serde_json::json;

use crate::harness::*;

/// A good sender's batch is acknowledged within this while others spray
/// timestamps (it waited 15.5 s before; a debug build on a shared machine
/// needs a few hundred milliseconds per batch).
const GOOD_ACK_BOUND: Duration = Duration::from_secs(5);
/// Peak RSS of the server over the test: ten writers at most (2 × 128 +
/// 8 × 16 MiB of indexing memory) plus the service.
const RSS_CAP_MIB: u64 = 700;

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn scattered_and_unrepresentable_timestamps_neither_stall_nor_vanish() {
    let mut s = Server::start(Opts {
        listeners: vec!["syslog-tcp"],
        ..Opts::default()
    });
    let tcp = s.listener("syslog-tcp");
    let hostile = s.token("analyst");
    let good = s.token("analyst");
    let admin = s.admin();
    let now = Utc::now();

    // The good sender: 10 events a batch, now-stamped, for as long as the
    // hostile ones run; every acknowledgement is timed.
    let stop = Arc::new(AtomicBool::new(false));
    let good_thread = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut batches = 0u32;
            let end = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                let evs: Vec<_> = (0..10).map(|i| sysmon(i, "good sender", None)).collect();
                let ((st, b), took) = timed(|| {
                    good.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs))
                });
                assert_eq!(st, 200, "{b}");
                worst = worst.max(took);
                batches += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (worst, batches)
        })
    };

    // Hostile 1, unauthenticated: 1,000 syslog lines spread over 160 days.
    let lines: Vec<String> = (0..1000i64)
        .map(|i| {
            let t = now - TimeDelta::days((i * 37) % 160);
            format!(
                "<13>1 {} host app - - - scattered {i}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        })
        .collect();
    syslog_tcp(tcp, &lines);
    // Hostile 2: 2,000 events over 160 days in one request.
    let evs: Vec<_> = (0..2000i64)
        .map(|i| {
            let t = (now - TimeDelta::days((i * 7919) % 160)).to_rfc3339();
            sysmon(i as usize, "scattered", Some(&t))
        })
        .collect();
    let ((st, b), took) =
        timed(|| hostile.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs)));
    assert_eq!(st, 200, "{b}");
    eprintln!("2,000 events over 160 days: {took:?}");
    // Hostile 3: 300 events the index cannot date (after 2262, before 1677)
    // and 100 far in the future.
    let odd: Vec<_> = (0..400usize)
        .map(|i| {
            let t = match i % 4 {
                0 | 1 => format!("{}-01-01T00:00:00Z", 2300 + i),
                2 => format!("{}-06-01T00:00:00Z", 1500 + i % 100),
                _ => format!("{}-01-01T00:00:00Z", 2100 + i % 50),
            };
            sysmon(i, "odd time", Some(&t))
        })
        .collect();
    let (st, b) = hostile.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&odd));
    assert_eq!(st, 200, "{b}");

    stop.store(true, Ordering::Relaxed);
    let (worst, batches) = good_thread.join().unwrap();
    assert!(batches > 0);
    assert!(
        worst < GOOD_ACK_BOUND,
        "a good sender waited {worst:?} for an acknowledgement"
    );
    s.assert_alive();

    // Counted, and findable: by the flag over the receipt window.
    let mut text = String::new();
    assert!(
        wait_until(20, || {
            let (_, b) = admin.get("/metrics");
            text = b.as_str().unwrap_or_default().to_string();
            metric(&text, "taishi_store_unrepresentable_events_total") >= 300.0
        }),
        "unrepresentable events not counted:\n{text}"
    );
    let viewer = s.token("viewer");
    let mut found = 0;
    assert!(
        wait_until(20, || {
            found = count(&viewer, "taishi.time_outside:unrepresentable", "now-1h");
            found == 300
        }),
        "{found} of 300 unrepresentable events found: {}",
        viewer.search("CommandLine:\"odd time\"", "now-1h").1
    );
    // The far-future ones by their own time.
    let (st, b) = viewer.post(
        "/api/v1/search",
        &json!({"query": "CommandLine:\"odd time\" | stats count()", "from": "2099-01-01T00:00:00Z", "to": "2200-01-01T00:00:00Z"}),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["rows"][0][0].as_u64(), Some(100), "{b}");
    // Every scattered event is stored.
    assert!(
        wait_until(20, || count(&viewer, "CommandLine:scattered", "now-200d")
            == 2000),
        "scattered events missing"
    );

    // No partition of its own for any day far from today: far-future data
    // is kept with its receipt day and goes when that day's retention ends.
    let latest = (now + TimeDelta::days(2)).date_naive();
    let parts = data_dir(&s).join("data/events/partitions");
    for e in std::fs::read_dir(&parts).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if let Ok(d) = chrono::NaiveDate::parse_from_str(&name, "%Y-%m-%d") {
            assert!(d <= latest, "partition {name} dated in the future");
        }
    }
    let peak = s.peak_rss_mib();
    assert!(peak < RSS_CAP_MIB, "peak RSS {peak} MiB");
}

/// Issue 13, item 1: a forensic import of logs dated 2017–2025 is kept
/// from when it was received. All 3,090 events are found after a restart,
/// whose retention pass (180 days) runs at start; the store says how long
/// it keeps them.
#[test]
fn events_dated_years_ago_survive_a_restart_and_its_retention_pass() {
    let mut s = Server::start(Opts::default());
    let analyst = s.token("analyst");
    let start = chrono::DateTime::parse_from_rfc3339("2017-01-01T00:00:00+08:00").unwrap();
    let evs: Vec<_> = (0..3090i64)
        .map(|i| {
            // One every 25 hours: 2017-01-01 to 2025-10.
            let t = (start + TimeDelta::hours(i * 25)).to_rfc3339();
            sysmon(i as usize, "forensic import", Some(&t))
        })
        .collect();
    for chunk in evs.chunks(1000) {
        let (st, b) = analyst.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(chunk));
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["rejected"], 0, "{b}");
    }
    let q = "CommandLine:\"forensic import\"";
    let viewer = s.token("viewer");
    assert!(
        wait_until(30, || count(&viewer, q, "now-3650d") == 3090),
        "before the restart: {}",
        count(&viewer, q, "now-3650d")
    );
    assert!(s.terminate(Duration::from_secs(60)).is_some());
    s.restart();
    let viewer = s.token("viewer");
    let mut found = 0;
    assert!(
        wait_until(30, || {
            found = count(&viewer, q, "now-3650d");
            found == 3090
        }),
        "after the restart {found} of 3,090 old events are left"
    );
    let (st, h) = s.admin().get("/api/v1/health");
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["store"]["retention_days"], 180, "{h}");
}
