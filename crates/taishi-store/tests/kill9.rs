//! A real crash: a child process ingests and prints every acknowledged
//! sequence number, is killed with SIGKILL part-way, and the reopened store
//! must hold every acknowledged event exactly once.
//!
//! The child is this test binary itself, re-run with `CHILD_ENV` set so that
//! only `child_ingest` does anything.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use taishi_event::Event;
use taishi_store::*;

const CHILD_ENV: &str = "TAISHI_STORE_KILL9_DIR";

fn config() -> StoreConfig {
    StoreConfig {
        writer_memory_bytes: 15 << 20,
        wal_segment_bytes: 64 << 10,
        // Index commits happen while the child runs, so the kill lands
        // anywhere: mid-append, between WAL and index commit, mid-checkpoint.
        checkpoint_interval: Some(Duration::from_millis(30)),
        // Fewer writers than partitions in play: batches evict writers
        // part-way (a commit while the batch is only partly handed over).
        max_open_writers: 2,
        ..StoreConfig::default()
    }
}

#[test]
fn child_ingest() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(&dir, config()).unwrap();
    // Half an hour before today's UTC midnight: two day partitions in play.
    let base = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .fixed_offset()
        - TimeDelta::minutes(30);
    let far_past = DateTime::parse_from_rfc3339("2001-01-01T00:00:00Z").unwrap();
    let far_future = DateTime::parse_from_rfc3339("2400-01-01T00:00:00Z").unwrap();
    let mut out = std::io::stdout().lock();
    for batch in 0u64.. {
        let events: Vec<Event> = (0..50)
            .map(|i| {
                let n = batch * 50 + i;
                let mut e = Event::new();
                // Spread over two days, with times outside the day window
                // mixed in (to the `outside` partition, placed by a field
                // that recovery must read back).
                e.timestamp = Some(match n % 7 {
                    3 => far_past + TimeDelta::days(n as i64 % 300),
                    5 => far_future + TimeDelta::days(n as i64 % 300),
                    _ => base + TimeDelta::seconds(n as i64),
                });
                e.push("n", n);
                e.push("message", format!("event {n}"));
                e
            })
            .collect();
        let seqs = store.append_batch(&events).unwrap();
        store.commit().unwrap();
        for s in seqs {
            writeln!(out, "ACK {s}").unwrap();
        }
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_loses_no_acknowledged_event_and_duplicates_none() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<u64> = Vec::new();
    for round in 0..2 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_ingest", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let target = acked.len() + 3000 + round * 1000;
        while acked.len() < target {
            let line = lines.next().expect("child ended early").unwrap();
            if let Some(s) = line.strip_prefix("ACK ") {
                acked.push(s.parse().unwrap());
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
                               // Acknowledgements already in the pipe count too.
        for line in lines.map_while(Result::ok) {
            if let Some(s) = line.strip_prefix("ACK ") {
                acked.push(s.parse().unwrap());
            }
        }
        child.wait().unwrap();
    }

    let store = Store::open(dir.path(), config()).unwrap();
    let all = TimeRange::new(
        Utc::now() - TimeDelta::days(200_000),
        Utc::now() + TimeDelta::days(200_000),
    );
    let res = store
        .search(&SearchRequest {
            filter: Filter::All,
            range: all,
            limit: 1_000_000,
            offset: 0,
        })
        .unwrap();
    let mut seen = HashSet::new();
    for h in &res.hits {
        assert!(seen.insert(h.seq), "sequence {} stored twice", h.seq);
    }
    assert_eq!(res.total as usize, seen.len());
    let missing: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|s| !seen.contains(s))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // Both day partitions and an `outside` one were written.
    let st = store.stats();
    assert!(
        st.partitions.iter().filter(|p| !p.outside).count() >= 2,
        "{st:?}"
    );
    assert!(st.partitions.iter().any(|p| p.outside), "{st:?}");
    eprintln!(
        "acked {}, stored {}, recovery {:?}",
        acked.len(),
        seen.len(),
        store.recovery()
    );
}
