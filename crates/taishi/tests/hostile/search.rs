//! Finding 5: a search has a deadline, a memory cap, a bounded pool, and
//! stops when its client goes away or the service stops.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// The server's resident memory may not pass this while the hostile
/// searches run (the debug binary idles at ~60 MiB; one search may use
/// `search.max_query_mib` = 256 MiB and two run at once here).
const RSS_CAP_MIB: u64 = 1024;

/// Fills the store with `n` events of distinct command lines, so that
/// wildcard clauses have a large term dictionary to walk.
fn fill(s: &Server, c: &Client, n: usize) {
    let batch = 2_000;
    for b in 0..n.div_ceil(batch) {
        let evs: Vec<_> = (b * batch..((b + 1) * batch).min(n))
            .map(|i| {
                sysmon(
                    i,
                    &format!("cmd.exe /c job-{i:07} {}", i * 7919 % 100_003),
                    None,
                )
            })
            .collect();
        let (st, body) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs));
        assert_eq!(st, 200, "{body}");
    }
    assert!(
        wait_until(60, || count(c, "EventID:1", "now-1d") >= n as u64),
        "the {n} events became searchable"
    );
    let _ = s;
}

/// A server with `[search]` settings `search`, `n` events, an admin and a viewer.
fn filled(search: &str, n: usize) -> (Server, Client, Client) {
    let s = Server::start(Opts {
        extra: format!("[search]\n{search}\n"),
        ..Opts::default()
    });
    let admin = s.admin();
    fill(&s, &admin, n);
    let viewer = s.token("viewer");
    (s, admin, viewer)
}

fn assert_rss_under_cap(s: &Server) {
    assert!(
        s.peak_rss_mib() < RSS_CAP_MIB,
        "peak RSS {} MiB",
        s.peak_rss_mib()
    );
}

/// Many wildcard clauses: each walks the whole term dictionary.
fn heavy_query(clauses: usize) -> String {
    (0..clauses)
        .map(|i| format!("CommandLine:*{:03}*{}*", i % 1000, i % 10))
        .collect::<Vec<_>>()
        .join(" OR ")
}

fn metric(c: &Client, name: &str) -> f64 {
    let (_, body) = c.get("/metrics");
    let text = body.as_str().unwrap_or_default().to_string();
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_viewers_twenty_thousand_wildcards_are_refused_quickly_and_memory_stays_bounded() {
    let (mut s, _admin, viewer) = filled("", 2_000);
    let q = heavy_query(20_000);
    assert!(q.len() > 300_000);
    let ((st, body), took) = timed(|| viewer.search(&q, "now-1d"));
    assert_eq!(st, 400, "{body}");
    let msg = body["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("clause") || msg.contains("max_query_mib"),
        "the answer names the limit: {msg}"
    );
    assert!(took < Duration::from_secs(20), "refused in {took:?}");
    s.assert_alive();
    assert_rss_under_cap(&s);
}

#[test]
fn a_slow_search_stops_at_its_deadline_and_others_still_answer() {
    let (mut s, admin, viewer) = filled("timeout_secs = 1", 20_000);
    let q = heavy_query(1_000);
    let ((st, body), took) = timed(|| viewer.search(&q, "now-1d"));
    // Either it finished within a second (a fast machine) or it was stopped.
    if st != 200 {
        assert_eq!(st, 400, "{body}");
        let msg = body["error"].as_str().unwrap_or_default();
        assert!(msg.contains("search.timeout_secs"), "{msg}");
        assert!(metric(&admin, "taishi_searches_refused_total{reason=\"timeout\"}") >= 1.0);
    }
    // The deadline is checked between clauses and every few thousand
    // documents: a stopped search returns within a few seconds of it.
    assert!(took < Duration::from_secs(15), "answered after {took:?}");
    let ((st, _), small) = timed(|| viewer.search("CommandLine:*job-0000001*", "now-1d"));
    assert_eq!(st, 200);
    assert!(
        small < Duration::from_secs(5),
        "a small search took {small:?}"
    );
    s.assert_alive();
    assert_rss_under_cap(&s);
}

#[test]
fn a_search_whose_client_goes_away_is_cancelled() {
    let (mut s, admin, viewer) = filled("timeout_secs = 120", 20_000);
    let before = metric(
        &admin,
        "taishi_searches_refused_total{reason=\"cancelled\"}",
    );
    // A raw request whose connection is closed after half a second.
    let body = serde_json::to_vec(&json!({"query": heavy_query(1_000), "from": "now-1d"})).unwrap();
    let auth = viewer.auth.clone().unwrap();
    let req = format!(
        "POST /api/v1/search HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(&body);
    let _ = raw_tcp(s.http, &bytes, Duration::from_millis(500));
    let t = Instant::now();
    let cancelled = wait_until(30, || {
        metric(
            &admin,
            "taishi_searches_refused_total{reason=\"cancelled\"}",
        ) > before
    });
    assert!(
        cancelled,
        "the abandoned search was not cancelled within {:?}",
        t.elapsed()
    );
    s.assert_alive();
}

#[test]
fn searches_beyond_the_pool_wait_then_get_429() {
    let (mut s, admin, viewer) = filled(
        "timeout_secs = 5\nmax_concurrent = 1\nqueue_secs = 1",
        20_000,
    );
    let q = heavy_query(1_000);
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|_| sc.spawn(|| viewer.search(&q, "now-1d").0))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for st in &statuses {
        assert!(matches!(st, 200 | 400 | 429), "{statuses:?}");
    }
    if statuses.contains(&429) {
        assert!(
            metric(
                &admin,
                "taishi_searches_refused_total{reason=\"queue_full\"}"
            ) >= 1.0
        );
    }
    s.assert_alive();
}

#[test]
fn a_graceful_stop_does_not_wait_for_a_long_search() {
    let (mut s, _admin, viewer) = filled("timeout_secs = 600", 20_000);
    let q = heavy_query(1_000);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let _ = viewer.search(&q, "now-1d");
        });
        std::thread::sleep(Duration::from_millis(500));
        let t = Instant::now();
        let st = s.terminate(Duration::from_secs(30));
        assert!(
            st.is_some(),
            "taishi serve still running {:?} after SIGTERM",
            t.elapsed()
        );
    });
}
