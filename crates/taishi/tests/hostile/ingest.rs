//! The front door (issue 10, findings 6, 8, 11 and 13): HTTP ingest bodies
//! and their memory, idle and slow connections, `_bulk` retries, and
//! browser sessions on the ingest routes.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};

use crate::harness::*;

/// The attacker's loopback address; real senders use 127.0.0.1.
const ATTACKER: [u8; 4] = [127, 0, 0, 2];

/// One HTTP request on a fresh connection; (status, body). Used where the
/// harness client cannot say what is needed (content-encoding, a cookie
/// without the CSRF header).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let _ = s.write_all(req.as_bytes());
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn bearer(c: &Client) -> String {
    c.auth.clone().unwrap()
}

/// NDJSON of `n` events of about `size` bytes each, all marked `tag`.
fn big_ndjson(n: usize, size: usize, tag: &str) -> Vec<u8> {
    let pad = "x".repeat(size);
    let now = chrono::Utc::now().to_rfc3339();
    let mut out = Vec::with_capacity(n * (size + 200));
    for i in 0..n {
        serde_json::to_writer(
            &mut out,
            &json!({"@timestamp": now, "tag": tag, "seq": i, "message": pad}),
        )
        .unwrap();
        out.push(b'\n');
    }
    out
}

/// Peak RSS the server may reach while six 60 MiB requests arrive at once
/// with a 64 MiB ingest budget: the budget, the store's writer buffers and
/// the process's baseline, with room for a debug build. Before the fix one
/// such request added ~930 MiB and six reached 5.3 GB.
const BIG_BODIES_RSS_CAP_MIB: u64 = 700;

#[test]
fn big_bodies_are_read_in_pieces_within_the_memory_budget() {
    let mut s = Server::start(Opts {
        extra: "[ingest]\ninflight_mib = 64\n".into(),
        ..Opts::default()
    });
    let c = s.token("analyst");
    let auth = bearer(&c);
    // 60 MiB of 8 KiB events: what matters is the bytes, not the count.
    let body = std::sync::Arc::new(big_ndjson(7_600, 8 << 10, "big"));
    assert!(body.len() > 60 << 20);
    let started = Instant::now();
    let one = http(
        s.http,
        "POST",
        "/api/v1/ingest",
        &[
            ("authorization", &auth),
            ("content-type", "application/x-ndjson"),
        ],
        &body,
    );
    assert_eq!(one.0, 200, "{}", &one.1[..one.1.len().min(500)]);
    let after_one = s.peak_rss_mib();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (addr, auth, body) = (s.http, auth.clone(), body.clone());
            std::thread::spawn(move || {
                http(
                    addr,
                    "POST",
                    "/api/v1/ingest",
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/x-ndjson"),
                    ],
                    &body,
                )
            })
        })
        .collect();
    let mut ok = 0;
    for h in handles {
        let (st, text) = h.join().unwrap();
        match st {
            200 => ok += 1,
            // Refused for the budget: says which key to raise, and when to retry.
            429 => {
                assert!(text.contains("ingest.inflight_mib"), "{text}");
                assert!(text.to_ascii_lowercase().contains("retry-after"), "{text}");
            }
            _ => panic!("unexpected answer {st}: {}", &text[..text.len().min(500)]),
        }
    }
    eprintln!(
        "one 60 MiB request: peak {after_one} MiB; six at once: {ok} stored, peak {} MiB, {:?}",
        s.peak_rss_mib(),
        started.elapsed()
    );
    s.assert_alive();
    assert!(ok >= 1, "the budget must let some requests through");
    assert!(
        s.peak_rss_mib() < BIG_BODIES_RSS_CAP_MIB,
        "peak RSS {} MiB over the {BIG_BODIES_RSS_CAP_MIB} MiB cap",
        s.peak_rss_mib()
    );
    let admin = s.admin();
    assert!(
        s.metric_first(&admin, "taishi_ingest_inflight_limit_bytes")
            .unwrap_or(0.0)
            >= (64 << 20) as f64
    );
}

/// Growth of the server's peak RSS allowed while eight compression bombs
/// arrive at once with a 64 MiB ingest budget: a bomb (one endless line)
/// is refused at the 16 MiB document limit as it inflates (413), or when
/// the budget is spent (429); never held whole. The bound: the 64 MiB
/// budget, plus what each of the eight may inflate before its next
/// reservation (one step, at most 20 MiB), plus allocator slack; measured
/// ~170 MiB in a debug build. Before the fix each gzip bomb was inflated
/// to the 100 MiB limit in memory (over 800 MiB for eight), and zstd was
/// not inflated at all (stored as garbage).
const BOMB_RSS_GROWTH_CAP_MIB: u64 = 260;

fn bomb(enc: &str) -> Vec<u8> {
    // 1 GiB of one line of zeros, compressed to about 1 MiB.
    let mut plain = Vec::with_capacity(1 << 20);
    plain.extend_from_slice(b"{\"a\":\"");
    plain.resize(1 << 20, b'0');
    if enc == "gzip" {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..1024 {
            gz.write_all(&plain).unwrap();
        }
        gz.finish().unwrap()
    } else {
        let mut z = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        for _ in 0..1024 {
            z.write_all(&plain).unwrap();
        }
        z.finish().unwrap()
    }
}

#[test]
fn compression_bombs_are_refused_at_the_body_limit() {
    let mut s = Server::start(Opts {
        extra: "[ingest]\ninflight_mib = 64\n".into(),
        ..Opts::default()
    });
    let c = s.token("analyst");
    let auth = bearer(&c);
    let gz = std::sync::Arc::new(bomb("gzip"));
    let zst = std::sync::Arc::new(bomb("zstd"));
    let base = s.peak_rss_mib();
    // Alone, each kind is refused for its size.
    for (enc, body) in [("gzip", &gz), ("zstd", &zst)] {
        for path in ["/api/v1/ingest", "/api/v1/_bulk"] {
            let (st, text) = http(
                s.http,
                "POST",
                path,
                &[("authorization", &auth), ("content-encoding", enc)],
                body,
            );
            assert_eq!(
                st,
                413,
                "{enc} bomb to {path}: {}",
                &text[..text.len().min(400)]
            );
            assert!(text.contains("http.max_body_mib"), "{text}");
        }
    }
    // Eight at once: each refused for its size or for the budget.
    let mut handles = Vec::new();
    for (enc, body) in [("gzip", &gz), ("gzip", &gz), ("gzip", &gz), ("zstd", &zst)] {
        for path in ["/api/v1/ingest", "/api/v1/_bulk"] {
            let (addr, auth, body) = (s.http, auth.clone(), (*body).clone());
            handles.push(std::thread::spawn(move || {
                let r = http(
                    addr,
                    "POST",
                    path,
                    &[("authorization", &auth), ("content-encoding", enc)],
                    &body,
                );
                (enc, path, r)
            }));
        }
    }
    for h in handles {
        let (enc, path, (st, text)) = h.join().unwrap();
        match st {
            413 => assert!(text.contains("http.max_body_mib"), "{text}"),
            429 => assert!(text.contains("ingest.inflight_mib"), "{text}"),
            _ => panic!("{enc} bomb to {path}: {}", &text[..text.len().min(400)]),
        }
    }
    s.assert_alive();
    let grew = s.peak_rss_mib().saturating_sub(base);
    eprintln!("12 bombs: peak RSS grew {grew} MiB");
    assert!(grew < BOMB_RSS_GROWTH_CAP_MIB, "peak RSS grew {grew} MiB");
}

/// How long a real sender may wait for its event to be searchable while an
/// attacker holds 2,000 idle connections (debug build, 200 ms refresh).
const REAL_SENDER_BOUND: Duration = Duration::from_secs(15);

#[test]
fn idle_syslog_connections_do_not_lock_out_a_real_sender() {
    let mut s = Server::start(Opts {
        listeners: vec!["syslog-tcp"],
        extra: "[ingest]\ntcp_idle_secs = 4\n".into(),
        ..Opts::default()
    });
    let addr = s.listener("syslog-tcp");
    let c = s.token("viewer");
    // 2,000 idle connections from one address (the per-address cap turns
    // most away at once) and then a real sender from another.
    let mut idle = Vec::new();
    for _ in 0..2_000 {
        if let Ok(t) = connect_from(ATTACKER, addr) {
            idle.push(t);
        }
    }
    let t = Instant::now();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    syslog_tcp(
        addr,
        &[format!(
            "<13>1 {now} realhost app - - - taishi-real-sender-1"
        )],
    );
    assert!(
        wait_until(REAL_SENDER_BOUND.as_secs(), || count(
            &c,
            "taishi-real-sender-1",
            "now-1d"
        ) == 1),
        "a real sender's event was not stored within {REAL_SENDER_BOUND:?}"
    );
    eprintln!("real sender stored after {:?}", t.elapsed());
    // Idle connections are closed after `tcp_idle_secs`.
    std::thread::sleep(Duration::from_secs(5));
    let still_open = idle
        .iter()
        .take(300)
        .filter(|t| !closed_by_peer(t, Duration::from_millis(20)))
        .count();
    assert_eq!(still_open, 0, "idle syslog connections were not closed");
    let admin = s.admin();
    let refused = s
        .metric_first(
            &admin,
            "taishi_ingest_connections_refused_total{listener=\"syslog-tcp\"",
        )
        .unwrap_or(0.0);
    let timed_out = s
        .metric_first(
            &admin,
            "taishi_ingest_connections_timed_out_total{listener=\"syslog-tcp\"",
        )
        .unwrap_or(0.0);
    assert!(
        refused >= 1_000.0,
        "refused connections are counted: {refused}"
    );
    assert!(timed_out >= 1.0, "idle closes are counted: {timed_out}");
    s.assert_alive();
}

#[test]
fn idle_http_connections_are_capped_and_closed() {
    let mut s = Server::start(Opts {
        // The header timeout is longer than the 2,000 connects take (about
        // 6 s on 2 idle vCPUs), else the first ones time out while the loop
        // runs and their slots let later ones in instead of refusing them.
        http: "header_timeout_secs = 15\nmax_connections = 1000\n".into(),
        ..Opts::default()
    });
    let c = s.token("analyst");
    let mut idle = Vec::new();
    let start = Instant::now();
    for _ in 0..2_000 {
        if let Ok(t) = connect_from(ATTACKER, s.http) {
            idle.push(t);
        }
    }
    eprintln!("{} connected in {:?}", idle.len(), start.elapsed());
    let (r, took) = timed(|| {
        c.post_raw(
            "/api/v1/ingest",
            "application/x-ndjson",
            &ndjson(&[sysmon(1, "taishi-real-http-sender", None)]),
        )
    });
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(
        took < Duration::from_secs(5),
        "a real sender waited {took:?}"
    );
    std::thread::sleep(Duration::from_secs(16));
    let still_open = idle
        .iter()
        .filter(|t| !closed_by_peer(t, Duration::from_millis(5)))
        .count();
    assert_eq!(
        still_open, 0,
        "{still_open} idle HTTP connections still held open"
    );
    let admin = s.admin();
    let refused = s
        .metric_first(
            &admin,
            "taishi_ingest_connections_refused_total{listener=\"http\"",
        )
        .unwrap_or(0.0);
    // Every connection past the cap of 1,000 is refused and counted. On a
    // loaded machine a few of the 2,000 connects can fail on the client
    // side (a full accept backlog), so count against those that connected.
    let over = idle.len().saturating_sub(1_000) as f64;
    assert!(idle.len() >= 1_500, "only {} connected", idle.len());
    assert!(
        refused >= over - 10.0,
        "refused connections are counted: {refused} of {over} over the cap"
    );
    s.assert_alive();
}

#[test]
fn slow_headers_and_slow_bodies_are_cut_off() {
    let mut s = Server::start(Opts {
        http: "header_timeout_secs = 2\nbody_timeout_secs = 2\n".into(),
        ..Opts::default()
    });
    let c = s.token("analyst");
    let auth = bearer(&c);
    // Slowloris: one header byte a second, never the blank line.
    let mut t = std::net::TcpStream::connect(s.http).unwrap();
    t.write_all(b"POST /api/v1/ingest HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut cut = false;
    while started.elapsed() < Duration::from_secs(10) {
        if t.write_all(b"x").is_err() || closed_by_peer(&t, Duration::from_millis(900)) {
            cut = true;
            break;
        }
    }
    assert!(cut, "a slowloris connection was held for 10 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut after {:?}",
        started.elapsed()
    );
    // A body that stops half way: 408 naming the key.
    let mut t = std::net::TcpStream::connect(s.http).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    t.write_all(format!("POST /api/v1/ingest HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\ncontent-length: 1000\r\n\r\n{{\"a\":").as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut t, &mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("http.body_timeout_secs"), "{text}");
    let admin = s.admin();
    assert!(
        s.metric_first(
            &admin,
            "taishi_ingest_connections_timed_out_total{listener=\"http\""
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    s.assert_alive();
}

fn bulk_body() -> Vec<u8> {
    let now = chrono::Utc::now().to_rfc3339();
    let mut b = String::new();
    for (action, id) in [
        ("index", "retry-a"),
        ("index", "retry-b"),
        ("create", "retry-c"),
    ] {
        b.push_str(&json!({action: {"_index": "logs-retry", "_id": id}}).to_string());
        b.push('\n');
        b.push_str(
            &json!({"@timestamp": now, "message": format!("taishi-bulk-retry {id}")}).to_string(),
        );
        b.push('\n');
    }
    b.into_bytes()
}

fn statuses(b: &J) -> Vec<(String, u64, String)> {
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let (action, v) = it.as_object().unwrap().iter().next().unwrap();
            (
                action.clone(),
                v["status"].as_u64().unwrap(),
                v["result"]
                    .as_str()
                    .or(v["error"]["type"].as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn bulk_retries_with_ids_are_stored_once_even_after_a_restart() {
    let mut s = Server::start(Opts::default());
    let c = s.token("analyst");
    let (st, first) = c.post_raw("/api/v1/_bulk", "application/x-ndjson", &bulk_body());
    assert_eq!(st, 200, "{first}");
    assert_eq!(first["errors"], false, "{first}");
    assert!(
        statuses(&first)
            .iter()
            .all(|(_, st, r)| *st == 201 && r == "created"),
        "{first}"
    );
    let retried = |c: &Client| {
        let (st, again) = c.post_raw("/api/v1/_bulk", "application/x-ndjson", &bulk_body());
        assert_eq!(st, 200, "{again}");
        assert_eq!(
            statuses(&again),
            vec![
                ("index".to_string(), 200, "noop".to_string()),
                ("index".to_string(), 200, "noop".to_string()),
                (
                    "create".to_string(),
                    409,
                    "version_conflict_engine_exception".to_string()
                ),
            ],
            "{again}"
        );
    };
    retried(&c);
    assert!(wait_until(10, || count(&c, "taishi-bulk-retry", "now-1d") >= 3));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(count(&c, "taishi-bulk-retry", "now-1d"), 3);
    s.restart_within(Duration::from_secs(20));
    let mut c2 = Client::new(s.http);
    c2.auth = c.auth.clone();
    retried(&c2);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        count(&c2, "taishi-bulk-retry", "now-1d"),
        3,
        "a retry after a restart stored again"
    );
    s.assert_alive();
}

#[test]
fn a_browser_session_cannot_ingest() {
    let mut s = Server::start(Opts::default());
    let c = s.token("viewer");
    let browser = Client::new(s.http);
    let (st, b) = browser.post(
        "/api/v1/auth/login",
        &json!({"username": "admin", "password": s.admin_password}),
    );
    assert_eq!(st, 200, "{b}");
    let cookie = browser.cookie.lock().unwrap().clone().unwrap();
    let csrf = b["csrf"].as_str().unwrap().to_string();
    let event = ndjson(&[sysmon(1, "taishi-forged-by-a-page", None)]);
    let bulk = [b"{\"index\":{}}\n".to_vec(), event.clone()].concat();
    for (path, body) in [("/api/v1/ingest", &event), ("/api/v1/_bulk", &bulk)] {
        // What a page on another site can make the browser send.
        let (st, text) = http(
            s.http,
            "POST",
            path,
            &[
                ("cookie", &cookie),
                ("content-type", "text/plain"),
                ("origin", "https://evil.example"),
            ],
            body,
        );
        assert_eq!(st, 403, "{path}: {text}");
        assert!(text.contains("Bearer"), "{text}");
        assert!(
            !text
                .to_ascii_lowercase()
                .contains("access-control-allow-origin"),
            "{text}"
        );
        // Even with the CSRF value: ingest takes tokens only.
        let (st, text) = http(
            s.http,
            "POST",
            path,
            &[("cookie", &cookie), ("x-taishi-csrf", &csrf)],
            body,
        );
        assert_eq!(st, 403, "{path}: {text}");
    }
    // The rest of the API: a state-changing call with the cookie and no
    // CSRF header is refused too, and no route allows other origins.
    let (st, text) = http(
        s.http,
        "POST",
        "/api/v1/tokens",
        &[
            ("cookie", &cookie),
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
        ],
        br#"{"name":"x"}"#,
    );
    assert_eq!(st, 403, "{text}");
    let (_, text) = http(
        s.http,
        "OPTIONS",
        "/api/v1/search",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert!(
        !text
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        count(&c, "taishi-forged-by-a-page", "now-1d"),
        0,
        "a forged request stored an event"
    );
    s.assert_alive();
}
