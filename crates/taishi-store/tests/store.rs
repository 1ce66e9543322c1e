//! Store behaviour: recovery, retention, every filter kind, aggregations.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use taishi_event::{Event, Value};
use taishi_store::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// When the sample events are taken to arrive: every sample day is then
/// inside the day window and gets its own partition.
fn received() -> DateTime<Utc> {
    t("2026-11-04T00:00:00Z")
}

fn all_time() -> TimeRange {
    TimeRange::new(t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z"))
}

fn small_config() -> StoreConfig {
    StoreConfig {
        writer_memory_bytes: 15 << 20,
        wal_segment_bytes: 4096,
        ..StoreConfig::default()
    }
}

fn net(ts: &str, src: &str, dst: &str, port: u16, bytes: u64, transport: &str) -> Event {
    let mut e = Event::new();
    e.timestamp = Some(DateTime::parse_from_rfc3339(ts).unwrap());
    e.push("event.category", "network");
    e.push("source.ip", src);
    e.push("destination.ip", dst);
    e.push("destination.port", port);
    e.push("network.bytes", bytes);
    e.push("network.transport", transport);
    e
}

fn win(ts: &str, id: i64, user: &str, cmd: &str) -> Event {
    let mut e = Event::new();
    e.timestamp = Some(DateTime::parse_from_rfc3339(ts).unwrap());
    e.push("EventID", id);
    e.push("Channel", "Security");
    e.push("user.name", user);
    e.push("CommandLine", cmd);
    e.push("process.pid", id / 10);
    e
}

/// Ten events over three days (UTC); the expected results below are counted
/// by hand from this list.
fn sample() -> Vec<Event> {
    vec![
        net(
            "2026-11-01T01:10:00Z",
            "10.0.0.5",
            "192.168.1.1",
            443,
            100,
            "TCP",
        ),
        net(
            "2026-11-01T01:40:00Z",
            "10.0.0.6",
            "192.168.1.1",
            53,
            200,
            "udp",
        ),
        net(
            "2026-11-01T03:00:00+08:00",
            "10.0.1.5",
            "2001:db8::1",
            443,
            300,
            "tcp",
        ), // 2026-10-31T19:00Z
        win(
            "2026-11-01T05:00:00Z",
            4624,
            "Alice",
            "powershell.exe -enc AAAA",
        ),
        win("2026-11-02T02:00:00Z", 4688, "bob", "cmd.exe /c whoami"),
        net(
            "2026-11-02T02:30:00Z",
            "172.16.0.9",
            "192.168.1.1",
            443,
            400,
            "TCP",
        ),
        win(
            "2026-11-02T23:59:59Z",
            4688,
            "ALICE",
            "C:\\Windows\\System32\\rundll32.exe shell32.dll",
        ),
        net(
            "2026-11-03T00:00:00Z",
            "10.0.0.5",
            "8.8.8.8",
            53,
            500,
            "udp",
        ),
        win(
            "2026-11-03T12:00:00Z",
            4624,
            "carol",
            "powershell.exe Get-Process",
        ),
        net(
            "2026-11-03T12:30:00Z",
            "10.200.0.1",
            "2001:db8:0:0::2",
            8080,
            600,
            "TCP",
        ),
    ]
}

fn filled() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_config()).unwrap();
    store.append_batch_received(&sample(), received()).unwrap();
    store.commit().unwrap();
    store.checkpoint().unwrap();
    (dir, store)
}

fn count(store: &Store, f: Filter) -> u64 {
    store.count(&f, all_time()).unwrap()
}

#[test]
fn events_round_trip_and_partition_by_utc_day() {
    let (_d, store) = filled();
    let stats = store.stats();
    let days: Vec<String> = stats.partitions.iter().map(|p| p.day.to_string()).collect();
    assert_eq!(
        days,
        ["2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03"]
    );
    assert_eq!(stats.events, 10);
    assert!(stats.bytes_per_event > 0.0);
    let res = store
        .search(&SearchRequest {
            filter: Filter::All,
            range: all_time(),
            limit: 100,
            offset: 0,
        })
        .unwrap();
    assert_eq!(res.total, 10);
    // Newest first across partitions; events come back exactly as stored.
    let mut expected = sample();
    expected.sort_by_key(|e| std::cmp::Reverse(e.timestamp.unwrap()));
    // Compared as JSON: an unsigned number reads back as Int, by design of
    // `Event::from_json`.
    let got: Vec<String> = res.hits.iter().map(|h| h.event.to_json_string()).collect();
    let expected: Vec<String> = expected.iter().map(Event::to_json_string).collect();
    assert_eq!(got, expected);
    // The +08:00 zone survives.
    assert!(res
        .hits
        .iter()
        .any(|h| h.event.timestamp.unwrap().offset().local_minus_utc() == 8 * 3600));
}

#[test]
fn limit_offset_and_time_range() {
    let (_d, store) = filled();
    let page = |offset, limit| {
        store
            .search(&SearchRequest {
                filter: Filter::All,
                range: all_time(),
                limit,
                offset,
            })
            .unwrap()
            .hits
            .iter()
            .map(|h| h.event.timestamp.unwrap().with_timezone(&Utc))
            .collect::<Vec<_>>()
    };
    let all = page(0, 100);
    assert_eq!(page(3, 4), all[3..7].to_vec());
    assert_eq!(page(8, 10), all[8..].to_vec());
    // Range is half-open: 2026-11-03T00:00:00Z is excluded here, included next.
    let r = TimeRange::new(t("2026-11-02T00:00:00Z"), t("2026-11-03T00:00:00Z"));
    assert_eq!(store.count(&Filter::All, r).unwrap(), 3);
    let r = TimeRange::new(t("2026-11-03T00:00:00Z"), t("2026-11-04T00:00:00Z"));
    assert_eq!(store.count(&Filter::All, r).unwrap(), 3);
}

#[test]
fn each_filter_kind() {
    let (_d, store) = filled();
    // Term: exact (case-sensitive) on strings, numbers by value.
    assert_eq!(count(&store, Filter::term("user.name", "Alice")), 1);
    assert_eq!(count(&store, Filter::term("user.name", "alice")), 0);
    assert_eq!(count(&store, Filter::term("network.transport", "TCP")), 3);
    assert_eq!(count(&store, Filter::term("EventID", "4688.0")), 2);
    assert_eq!(count(&store, Filter::term("EventID", "4688")), 2);
    assert_eq!(count(&store, Filter::term("destination.port", "443")), 3);
    assert_eq!(count(&store, Filter::term("user.name", "ali")), 0);
    // Wildcard: whole value, case-sensitive, path-bounded.
    assert_eq!(
        count(&store, Filter::wildcard("CommandLine", "powershell*")),
        2
    );
    assert_eq!(
        count(&store, Filter::wildcard("CommandLine", "*RUNDLL32.exe*")),
        0
    );
    assert_eq!(
        count(&store, Filter::wildcard("CommandLine", "*rundll32.exe*")),
        1
    );
    assert_eq!(count(&store, Filter::wildcard("source.ip", "10.0.?.5")), 3);
    assert_eq!(count(&store, Filter::wildcard("destination.ip", "10.*")), 0);
    // Range on numbers and on @timestamp.
    assert_eq!(
        count(
            &store,
            Filter::range("network.bytes", Some(200.0), Some(500.0))
        ),
        3
    );
    assert_eq!(
        count(
            &store,
            Filter::Range {
                field: "network.bytes".into(),
                gt: Some(RangeValue::Number(500.0)),
                gte: None,
                lt: None,
                lte: None
            }
        ),
        1
    );
    assert_eq!(
        count(
            &store,
            Filter::Range {
                field: TIMESTAMP.into(),
                gt: None,
                gte: Some(RangeValue::Time(t("2026-11-02T02:00:00Z"))),
                lt: None,
                lte: Some(RangeValue::Time(t("2026-11-03T00:00:00Z"))),
            }
        ),
        4
    );
    // Exists.
    assert_eq!(count(&store, Filter::exists("CommandLine")), 4);
    assert_eq!(count(&store, Filter::exists("network.bytes")), 6);
    assert_eq!(count(&store, Filter::exists("nope")), 0);
    // CIDR, any prefix length, both families, any IPv6 spelling.
    assert_eq!(
        count(
            &store,
            Filter::cidr("source.ip", "10.0.0.0/23".parse().unwrap())
        ),
        4
    );
    assert_eq!(
        count(
            &store,
            Filter::cidr("source.ip", "10.0.0.0/8".parse().unwrap())
        ),
        5
    );
    assert_eq!(
        count(
            &store,
            Filter::cidr("destination.ip", "2001:db8::/32".parse().unwrap())
        ),
        2
    );
    assert_eq!(
        count(
            &store,
            Filter::cidr("destination.ip", "192.168.1.1/32".parse().unwrap())
        ),
        3
    );
    // Full text: words, phrases, case-insensitive.
    assert_eq!(count(&store, Filter::text("POWERSHELL")), 2);
    assert_eq!(count(&store, Filter::text("cmd.exe /c whoami")), 1);
    assert_eq!(count(&store, Filter::text("whoami cmd")), 0);
    // Boolean combinations.
    assert_eq!(
        count(
            &store,
            Filter::And(vec![
                Filter::term("EventID", "4624"),
                Filter::term("user.name", "Alice")
            ])
        ),
        1
    );
    assert_eq!(
        count(
            &store,
            Filter::Or(vec![
                Filter::term("user.name", "carol"),
                Filter::term("destination.port", "53")
            ])
        ),
        3
    );
    assert_eq!(
        count(&store, Filter::Not(Box::new(Filter::exists("CommandLine")))),
        6
    );
    assert_eq!(
        count(
            &store,
            Filter::And(vec![
                Filter::exists("source.ip"),
                Filter::Not(Box::new(Filter::term("network.transport", "tcp")))
            ])
        ),
        5
    );
    assert_eq!(count(&store, Filter::Or(vec![])), 0);
}

#[test]
fn aggregations() {
    let (_d, store) = filled();
    let AggResult::Terms { buckets, other } = store
        .aggregate(
            &Filter::All,
            all_time(),
            &Aggregation::Terms {
                field: "source.ip".into(),
                size: 2,
                then: None,
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(buckets[0].key, Value::from("10.0.0.5"));
    assert_eq!(buckets[0].count, 2);
    assert_eq!(buckets.len(), 2);
    assert_eq!(other, 3);

    // Exact values (not lower-cased) in aggregations, two levels.
    let AggResult::Terms { buckets, .. } = store
        .aggregate(
            &Filter::exists("EventID"),
            all_time(),
            &Aggregation::Terms {
                field: "EventID".into(),
                size: 10,
                then: Some(("user.name".into(), 10)),
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(buckets.len(), 2);
    let by = |k: i64| buckets.iter().find(|b| b.key == Value::Int(k)).unwrap();
    assert_eq!(by(4624).count, 2);
    assert_eq!(by(4688).count, 2);
    let mut users: Vec<(String, u64)> = by(4688)
        .sub
        .iter()
        .map(|b| (b.key.to_string(), b.count))
        .collect();
    users.sort();
    assert_eq!(users, [("ALICE".to_string(), 1), ("bob".to_string(), 1)]);

    // Hourly histogram over 2026-11-01 (UTC): 24 buckets, events at 01:10,
    // 01:40 and 05:00 (the +08:00 one is on the 31st).
    let day = TimeRange::new(t("2026-11-01T00:00:00Z"), t("2026-11-02T00:00:00Z"));
    let AggResult::DateHistogram(h) = store
        .aggregate(
            &Filter::All,
            day,
            &Aggregation::DateHistogram {
                interval: TimeDelta::hours(1),
                split: Some(("event.category".into(), 5)),
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(h.len(), 24);
    assert_eq!(h[0].start, t("2026-11-01T00:00:00Z"));
    let counts: Vec<u64> = h.iter().map(|b| b.count).collect();
    let mut expected = vec![0u64; 24];
    expected[1] = 2;
    expected[5] = 1;
    assert_eq!(counts, expected);
    assert_eq!(h[1].split.len(), 1);
    assert_eq!(h[1].split[0].key, Value::from("network"));
    assert_eq!(h[1].split[0].count, 2);

    // Stats over all network.bytes: 100..600.
    let AggResult::Stats(s) = store
        .aggregate(
            &Filter::All,
            all_time(),
            &Aggregation::Stats {
                field: "network.bytes".into(),
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        s,
        Stats {
            count: 6,
            min: Some(100.0),
            max: Some(600.0),
            sum: 2100.0,
            avg: Some(350.0)
        }
    );
    // With a filter.
    let AggResult::Stats(s) = store
        .aggregate(
            &Filter::term("network.transport", "udp"),
            all_time(),
            &Aggregation::Stats {
                field: "network.bytes".into(),
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((s.count, s.sum), (2, 700.0));
    // An empty range still yields its empty buckets.
    let empty = TimeRange::new(t("2030-01-01T00:00:00Z"), t("2030-01-01T03:00:00Z"));
    let AggResult::DateHistogram(h) = store
        .aggregate(
            &Filter::All,
            empty,
            &Aggregation::DateHistogram {
                interval: TimeDelta::hours(1),
                split: None,
            },
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(h.len(), 3);
}

#[test]
fn crash_between_wal_commit_and_index_commit_replays_exactly_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample();
    {
        let store = Store::open(dir.path(), small_config()).unwrap();
        store
            .append_batch_received(&events[..4], received())
            .unwrap();
        store.commit().unwrap();
        store.checkpoint().unwrap();
        store
            .append_batch_received(&events[4..], received())
            .unwrap();
        assert_eq!(store.commit().unwrap(), 10);
        // Dropped without an index commit: the "crash".
    }
    let store = Store::open(dir.path(), small_config()).unwrap();
    let rec = store.recovery().clone();
    assert_eq!(rec.checkpoint_seq, 4);
    assert_eq!(rec.replayed, 6);
    assert_eq!(rec.already_indexed, 0);
    let res = store
        .search(&SearchRequest {
            filter: Filter::All,
            range: all_time(),
            limit: 100,
            offset: 0,
        })
        .unwrap();
    let mut seqs: Vec<u64> = res.hits.iter().map(|h| h.seq).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    drop(store);
    // A second reopen has nothing left to replay.
    let store = Store::open(dir.path(), small_config()).unwrap();
    assert_eq!(store.recovery().replayed, 0);
    assert_eq!(store.stats().events, 10);
    // Numbering continues after the checkpointed records.
    assert_eq!(store.append(&events[0]).unwrap(), 11);
}

#[test]
fn torn_wal_tail_is_cut_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(
            dir.path(),
            StoreConfig {
                wal_segment_bytes: 1 << 20,
                ..small_config()
            },
        )
        .unwrap();
        // One event a batch: the tear then reaches only the last batch
        // (a batch is dropped whole).
        for e in sample() {
            store
                .append_batch_received(std::slice::from_ref(&e), received())
                .unwrap();
        }
        store.commit().unwrap();
    }
    let seg = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let len = std::fs::metadata(&seg).unwrap().len();
    // Lose the last 10 bytes: the last record is torn.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let store = Store::open(dir.path(), small_config()).unwrap();
    let rec = store.recovery();
    assert!(rec.wal.torn_bytes > 0);
    assert_eq!(rec.wal.last_seq, 9);
    // A writer evicted to open a fourth day already committed some.
    assert_eq!(rec.replayed + rec.already_indexed, 9);
    assert_eq!(store.stats().events, 9);
}

#[test]
fn a_batch_that_fails_half_way_is_not_there_after_a_restart() {
    let big = "x".repeat(1000);
    let batch = |name: &str, n: usize| -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut e = win("2026-11-02T10:00:00Z", i as i64, "alice", &big);
                e.push("batch", name);
                e
            })
            .collect()
    };
    // 1: the write fails while the batch is still buffered; 2: part of the
    // batch (3 MB, flushed every MiB) already reached the file.
    for nth in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            wal_segment_bytes: 64 << 20,
            ..small_config()
        };
        {
            let store = Store::open(dir.path(), config.clone()).unwrap();
            store
                .append_batch_received(&batch("before", 10), received())
                .unwrap();
            store.commit().unwrap();
            store.fail_nth_wal_write(nth).unwrap();
            let err = store
                .append_batch_received(&batch("failed", 3000), received())
                .unwrap_err();
            assert!(matches!(err, StoreError::Io { .. }), "{err}");
            assert_eq!(err.kind(), ErrorKind::Transient);
            // The store goes on, and numbering continues where it was.
            let seqs = store
                .append_batch_received(&batch("after", 5), received())
                .unwrap();
            assert_eq!(seqs, 11..=15);
            store.commit().unwrap();
            store.checkpoint().unwrap();
            assert_eq!(count(&store, Filter::term("batch", "failed")), 0);
            // Dropped without a final checkpoint: the next open replays.
            store
                .append_batch_received(&batch("tail", 2), received())
                .unwrap();
            store.commit().unwrap();
        }
        let store = Store::open(dir.path(), config).unwrap();
        assert_eq!(store.recovery().wal.torn_bytes, 0, "write {nth}");
        assert_eq!(count(&store, Filter::term("batch", "failed")), 0);
        assert_eq!(count(&store, Filter::term("batch", "before")), 10);
        assert_eq!(count(&store, Filter::term("batch", "after")), 5);
        assert_eq!(count(&store, Filter::term("batch", "tail")), 2);
        assert_eq!(store.stats().events, 17, "write {nth}");
    }
}

#[test]
fn store_errors_have_kinds() {
    assert_eq!(StoreError::TooLarge(1 << 30).kind(), ErrorKind::TooLarge);
    assert_eq!(StoreError::BadQuery("x".into()).kind(), ErrorKind::Rejected);
    assert_eq!(StoreError::Poisoned.kind(), ErrorKind::Transient);
}

#[test]
fn events_without_timestamp_get_receipt_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_config()).unwrap();
    let mut e = Event::new();
    e.push("message", "no time here");
    let before = Utc::now();
    store.append(&e).unwrap();
    store.checkpoint().unwrap();
    let r = TimeRange::new(
        before - TimeDelta::seconds(1),
        Utc::now() + TimeDelta::seconds(1),
    );
    let res = store
        .search(&SearchRequest {
            filter: Filter::text("no time"),
            range: r,
            limit: 1,
            offset: 0,
        })
        .unwrap();
    assert_eq!(res.total, 1);
    assert!(res.hits[0].event.timestamp.is_some());
}

#[test]
fn retention_by_age_and_by_size_drops_oldest_partitions() {
    let (dir, store) = filled();
    // A day partition may have received events until `past_days` (7) after
    // its day, and retention counts from receipt: 180 + 7 days after
    // 2026-11-02 12:00, the 31st and the 1st are out; two days earlier,
    // none is (by its own day alone the 31st would have been).
    let now = t("2026-11-02T12:00:00Z") + TimeDelta::days(187);
    let rep = store.apply_retention(now - TimeDelta::days(2)).unwrap();
    assert!(rep.dropped.is_empty(), "{:?}", rep.dropped);
    let rep = store.apply_retention(now).unwrap();
    let dropped: Vec<String> = rep.dropped.iter().map(|d| d.to_string()).collect();
    assert_eq!(dropped, ["2026-10-31", "2026-11-01"]);
    assert!(rep.bytes_freed > 0);
    assert_eq!(store.count(&Filter::All, all_time()).unwrap(), 6);
    assert!(!dir.path().join("partitions/2026-11-01").exists());
    drop(store);

    // Size: a limit of one byte keeps only the newest partition.
    let store = Store::open(
        dir.path(),
        StoreConfig {
            max_bytes: Some(1),
            ..small_config()
        },
    )
    .unwrap();
    assert_eq!(store.stats().events, 6);
    let rep = store.apply_retention(t("2026-11-04T00:00:00Z")).unwrap();
    assert_eq!(rep.dropped.len(), 1);
    assert_eq!(rep.dropped[0].to_string(), "2026-11-02");
    let days: Vec<String> = store
        .stats()
        .partitions
        .iter()
        .map(|p| p.day.to_string())
        .collect();
    assert_eq!(days, ["2026-11-03"]);
    // Search across what is left still works, and a reopen agrees.
    assert_eq!(store.count(&Filter::All, all_time()).unwrap(), 3);
    drop(store);
    let store = Store::open(dir.path(), small_config()).unwrap();
    assert_eq!(store.stats().events, 3);
    assert_eq!(store.recovery().replayed, 0);
}

#[test]
fn second_open_of_the_same_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _a = Store::open(dir.path(), small_config()).unwrap();
    assert!(matches!(
        Store::open(dir.path(), small_config()),
        Err(StoreError::Locked(_))
    ));
}

#[test]
fn background_checkpoint_makes_events_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        StoreConfig {
            checkpoint_interval: Some(std::time::Duration::from_millis(20)),
            ..small_config()
        },
    )
    .unwrap();
    store.append_batch_received(&sample(), received()).unwrap();
    store.commit().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.count(&Filter::All, all_time()).unwrap() < 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "not searchable after 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    store.close().unwrap();
}

#[allow(dead_code)]
fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}
