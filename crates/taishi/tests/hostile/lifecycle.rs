//! Lifecycle and accounts (issue 10, findings 3, 12, 14, 15): time
//! parameters that used to panic, a stop that used to lose queued alert
//! notifications, a demoted admin's token, the last administrator, a rule
//! without a title, and the reject log's size and age.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};

use crate::harness::*;

/// A server that has done nothing heavier than a few API calls stays well
/// under this (a debug build idles at about 60–90 MiB).
const IDLE_RSS_CAP_MIB: u64 = 400;

fn error_text(b: &J) -> String {
    b["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| b.to_string())
}

// ---- finding 3: time parameters ------------------------------------------

/// Every route that takes a time answers a malformed or out-of-range one
/// with a 400 that names the parameter, never a panic (500) or a hang.
#[test]
fn time_parameters_are_400s_with_a_message() {
    let mut s = Server::start(Opts::default());
    let viewer = s.token("viewer");
    let t0 = Instant::now();
    // URL-encoded forms: `now€`, `now-99999999999d`, a number too long for
    // an i64, a far-future offset, a year the index cannot hold.
    let bad = [
        ("now%E2%82%AC", "now€"),
        ("now-99999999999d", "now-99999999999d"),
        (
            "now-99999999999999999999999d",
            "now-99999999999999999999999d",
        ),
        ("now%2B99999999999w", "now+99999999999w"),
        ("9999-01-01T00:00:00Z", "9999-01-01T00:00:00Z"),
        ("now-1%E2%82%AC", "now-1€"),
    ];
    for (enc, raw) in bad {
        for param in ["from", "to"] {
            for route in [
                "/api/v1/overview",
                "/api/v1/alerts",
                "/api/v1/alerts/groups",
                "/api/v1/fields",
            ] {
                let (st, b) = viewer.get(&format!("{route}?{param}={enc}"));
                assert_eq!(st, 400, "{route}?{param}={raw}: {b}");
                let m = error_text(&b);
                assert!(
                    m.starts_with(&format!("{param}:"))
                        && (m.contains("invalid time") || m.contains("out of range")),
                    "{route}?{param}={raw}: {m}"
                );
            }
            let (st, b) = viewer.post("/api/v1/search", &json!({"query": "*", param: raw}));
            assert_eq!(st, 400, "search {param}={raw}: {b}");
            assert!(error_text(&b).starts_with(&format!("{param}:")), "{b}");
        }
    }
    // `now/d` rounding keeps working through the one parser.
    let (st, b) = viewer.get("/api/v1/overview?from=now-7d/d&to=now");
    assert_eq!(st, 200, "{b}");
    let (st, b) = viewer.post(
        "/api/v1/search",
        &json!({"query": "*", "from": "now-1d/d", "to": "now+1d/d"}),
    );
    assert_eq!(st, 200, "{b}");

    // Paging: a deep offset or a number past the integer range is a 400
    // with a message, not a database error (500).
    for path in [
        "/api/v1/alerts?offset=18446744073709551615",
        "/api/v1/alerts?offset=9223372036854775807",
        "/api/v1/alerts?limit=100&offset=20000",
        "/api/v1/alerts?limit=99999999999999999999999",
        "/api/v1/intel/hits?indicator=1.2.3.4&offset=18446744073709551615",
        "/api/v1/intel/indicators?offset=18446744073709551615",
        "/api/v1/rules?offset=18446744073709551615",
    ] {
        let (st, b) = viewer.get(path);
        assert_eq!(st, 400, "{path}: {b}");
        assert!(!error_text(&b).is_empty(), "{path}");
    }
    let (st, b) = viewer.post(
        "/api/v1/search",
        &json!({"query": "*", "limit": 100, "offset": 50_000}),
    );
    assert_eq!(st, 400, "{b}");
    assert!(error_text(&b).contains("api.max_result_window"), "{b}");

    s.assert_alive();
    eprintln!(
        "time parameters: peak RSS {} MiB, {:?}",
        s.peak_rss_mib(),
        t0.elapsed()
    );
    assert!(
        s.peak_rss_mib() < IDLE_RSS_CAP_MIB,
        "peak RSS {} MiB",
        s.peak_rss_mib()
    );
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
}

// ---- finding 12: SIGTERM drains, the outbox survives a restart -----------

/// A webhook receiver: answers 503 while `up` is false (the delivery is
/// retried), 200 and records the body while it is true.
struct Receiver {
    port: u16,
    up: Arc<AtomicBool>,
    attempts: Arc<Mutex<u64>>,
    bodies: Arc<Mutex<Vec<J>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(Mutex::new(0));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (u, a, b, st) = (up.clone(), attempts.clone(), bodies.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: the test sets `stop`, and the thread gives up after
            // two minutes regardless.
            let end = Instant::now() + Duration::from_secs(120);
            while !st.load(Ordering::Relaxed) && Instant::now() < end {
                match l.accept() {
                    Ok((c, _)) => {
                        let _ = serve_one(c, &u, &a, &b);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Receiver {
            port,
            up,
            attempts,
            bodies,
            stop,
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_one(
    c: TcpStream,
    up: &AtomicBool,
    attempts: &Mutex<u64>,
    bodies: &Mutex<Vec<J>>,
) -> std::io::Result<()> {
    c.set_nonblocking(false)?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(c.try_clone()?);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l
            .to_ascii_lowercase()
            .strip_prefix("content-length:")
            .map(|v| v.trim().to_string())
        {
            len = v.parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len.min(16 << 20)];
    r.read_exact(&mut body)?;
    *attempts.lock().unwrap() += 1;
    let mut c = c;
    if up.load(Ordering::Relaxed) {
        bodies
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap_or(J::Null));
        c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")?;
    } else {
        c.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )?;
    }
    c.flush()
}

/// The drain deadline of the test server (`alerts.drain`).
const DRAIN: Duration = Duration::from_secs(3);
/// What a stop may take beyond the drain deadline: the final store
/// checkpoint and process exit, in a debug build.
const STOP_MARGIN: Duration = Duration::from_secs(15);

/// SIGTERM with a webhook receiver that is down: the process stops within
/// the drain deadline (plus a margin), keeps the undelivered notifications
/// on disk, and after a restart with the receiver up every one arrives.
/// Delivery is at least once; the notification `id` is the dedup key (a
/// delivery cut off at the deadline may have arrived), so the test counts
/// distinct ids.
#[test]
fn sigterm_drains_and_keeps_unsent_notifications_for_the_restart() {
    let rx = Receiver::start();
    let mut s = Server::start(Opts {
        // The receiver is on 127.0.0.1.
        extra: format!(
            "[egress]\nallow_private = true\n[alerts]\ngroup_window = \"0s\"\nsuppress = \"0s\"\ndrain = \"{}s\"\n\
             [[alerts.outputs]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/hook\"\n\
             retries = 50\nretry_backoff = \"200ms\"\ntimeout = \"2s\"\n",
            DRAIN.as_secs(),
            rx.port
        ),
        ..Default::default()
    });
    let c = s.token("analyst");
    const ALERTS: usize = 3;
    let events: Vec<J> = (0..ALERTS)
        .map(|i| {
            sysmon(
                i,
                &format!("powershell taishi-hostile-marker drain-{i}"),
                None,
            )
        })
        .collect();
    let (st, b) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&events));
    assert_eq!(st, 200, "{b}");
    assert!(
        wait_until(30, || c.get("/api/v1/alerts?from=now-1d").1["total"]
            .as_u64()
            .unwrap_or(0)
            >= ALERTS as u64),
        "alerts not raised"
    );
    // The outputs hold them: the receiver has refused at least one try.
    assert!(wait_until(20, || *rx.attempts.lock().unwrap() >= 1));
    s.assert_alive();
    let peak = s.peak_rss_mib();

    let t = Instant::now();
    let exit = s.terminate(DRAIN + STOP_MARGIN);
    let took = t.elapsed();
    eprintln!("SIGTERM to exit: {took:?} (drain {DRAIN:?}); peak RSS before {peak} MiB");
    let exit = exit.unwrap_or_else(|| panic!("no exit within {:?}", DRAIN + STOP_MARGIN));
    assert!(exit.success(), "exit {exit:?}:\n{}", s.stderr_tail());
    assert!(
        took >= DRAIN.saturating_sub(Duration::from_millis(500)),
        "stopped after {took:?}: it did not wait for the outputs"
    );
    assert!(
        rx.bodies.lock().unwrap().is_empty(),
        "the receiver was down"
    );

    rx.up.store(true, Ordering::Relaxed);
    s.restart();
    let all_arrived = || {
        let bodies = rx.bodies.lock().unwrap();
        let cmds: std::collections::HashSet<String> = bodies
            .iter()
            .flat_map(|b| b["alerts"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["event"]["CommandLine"].as_str().map(str::to_string))
            .collect();
        (0..ALERTS).all(|i| cmds.contains(&format!("powershell taishi-hostile-marker drain-{i}")))
    };
    assert!(
        wait_until(30, all_arrived),
        "after the restart not every notification arrived: {:?}\n{}",
        rx.bodies.lock().unwrap(),
        s.stderr_tail()
    );
    let bodies = rx.bodies.lock().unwrap().clone();
    let ids: std::collections::HashSet<&str> =
        bodies.iter().filter_map(|b| b["id"].as_str()).collect();
    assert_eq!(
        ids.len(),
        ALERTS,
        "one dedup key per notification: {bodies:?}"
    );
    let admin = s.admin();
    assert!(s.metric(&admin, "taishi_alert_outbox_resent_total") >= ALERTS as f64);
    // A second restart sends nothing again: the outbox was emptied.
    let n = bodies.len();
    assert!(s.terminate(DRAIN + STOP_MARGIN).is_some());
    s.restart();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(rx.bodies.lock().unwrap().len(), n, "sent twice");
    s.assert_alive();
    assert!(peak < IDLE_RSS_CAP_MIB, "peak RSS {peak} MiB");
}

// ---- finding 14: a token is never worth more than its owner ------------------

#[test]
fn a_demoted_admins_token_and_session_lose_the_admin_role() {
    let mut s = Server::start(Opts::default());
    let admin = s.admin();
    let (st, b) = admin.post(
        "/api/v1/users",
        &json!({"username": "bob", "password": "Silver-meadow-33", "roles": ["sysadmin", "secadmin", "analyst"]}),
    );
    assert_eq!(st, 200, "{b}");
    let bob_session = s.login("bob", "Silver-meadow-33");
    let (st, tok) = bob_session.post(
        "/api/v1/tokens",
        &json!({"name": "bob-admin", "roles": ["sysadmin", "secadmin", "analyst"]}),
    );
    assert_eq!(st, 200, "{tok}");
    let mut bob_token = Client::new(s.http);
    bob_token.auth = Some(format!("Bearer {}", tok["secret"].as_str().unwrap()));
    assert_eq!(bob_token.get("/api/v1/users").0, 200);

    let (st, b) = admin.patch("/api/v1/users/bob", &json!({"roles": ["viewer"]}));
    assert_eq!(st, 200, "{b}");
    for (who, c) in [("token", &bob_token), ("session", &bob_session)] {
        let (st, b) = c.post(
            "/api/v1/users",
            &json!({"username": format!("mallory-{who}"), "password": "mallory-pass-1", "roles": ["sysadmin", "secadmin", "analyst"]}),
        );
        assert_eq!(st, 403, "{who}: a demoted admin created an admin: {b}");
        assert!(!error_text(&b).is_empty());
        assert_eq!(c.get("/api/v1/users").0, 403, "{who}");
        let (st, b) = c.post(
            "/api/v1/tokens",
            &json!({"name": "x", "roles": ["sysadmin", "secadmin", "analyst"]}),
        );
        assert_eq!(st, 403, "{who}: {b}");
        assert!(error_text(&b).contains("more than its owner"), "{b}");
        // Writing as an analyst is gone too: bob is a viewer now.
        let (st, _) = c.post("/api/v1/rules/reload", &json!({}));
        assert_eq!(st, 403, "{who}");
        // Reading as a viewer still works.
        assert_eq!(c.get("/api/v1/alerts").0, 200, "{who}");
    }
    let (_, users) = admin.get("/api/v1/users");
    assert!(
        !users.to_string().contains("mallory"),
        "an account was created: {users}"
    );
    // A disabled owner's token stops working at all.
    let (st, b) = admin.patch("/api/v1/users/bob", &json!({"disabled": true}));
    assert_eq!(st, 200, "{b}");
    assert_eq!(bob_token.get("/api/v1/alerts").0, 401);
    s.assert_alive();
    assert!(s.peak_rss_mib() < IDLE_RSS_CAP_MIB);
}

// ---- finding 15: the last administrator ------------------------------------

#[test]
fn the_last_administrator_cannot_be_demoted_disabled_or_deleted() {
    let mut s = Server::start(Opts::default());
    let admin = s.admin();
    // The first start's `sysadmin` holds the duty too: once it is gone,
    // `admin` is the last system administrator.
    assert_eq!(admin.delete("/api/v1/users/sysadmin").0, 204);
    for patch in [json!({"roles": ["analyst"]}), json!({"disabled": true})] {
        let (st, b) = admin.patch("/api/v1/users/admin", &patch);
        assert_eq!(st, 409, "{patch}: {b}");
        assert!(error_text(&b).contains("last system administrator"), "{b}");
    }
    // With a second admin, one may go; the one left is then protected.
    let (st, b) = admin.post(
        "/api/v1/users",
        &json!({"username": "ops", "password": "Granite-river-94", "roles": ["sysadmin", "secadmin", "analyst"]}),
    );
    assert_eq!(st, 200, "{b}");
    let ops = s.login("ops", "Granite-river-94");
    let (st, b) = ops.delete("/api/v1/users/admin");
    assert_eq!(st, 204, "{b}");
    let (st, b) = ops.patch("/api/v1/users/ops", &json!({"roles": ["viewer"]}));
    assert_eq!(st, 409, "{b}");
    let (st, b) = ops.patch("/api/v1/users/ops", &json!({"disabled": true}));
    assert_eq!(st, 409, "{b}");
    // An admin who is disabled does not count as the other admin.
    let (st, b) = ops.post(
        "/api/v1/users",
        &json!({"username": "idle", "password": "Quiet-willow-18", "roles": ["sysadmin", "secadmin", "analyst"]}),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        ops.patch("/api/v1/users/idle", &json!({"disabled": true}))
            .0,
        200
    );
    let (st, b) = ops.patch("/api/v1/users/ops", &json!({"roles": ["analyst"]}));
    assert_eq!(st, 409, "{b}");
    let (_, users) = ops.get("/api/v1/users");
    let ops_role = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "ops")
        .map(|u| u["roles"].clone());
    assert_eq!(ops_role, Some(json!(["sysadmin", "secadmin", "analyst"])));
    s.assert_alive();
}

// ---- finding 15: a rule without a title -------------------------------------

const NO_TITLE: &str = r#"
title: ''
id: 0e4e3a7c-2b1f-4a55-9d3e-00000000a11e
status: test
level: high
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    CommandLine|contains: 'no-title-rule'
  condition: selection
"#;

#[test]
fn a_rule_with_an_empty_title_is_refused_not_reported_loaded() {
    let mut s = Server::start(Opts::default());
    let analyst = s.token("analyst");
    let before = analyst.get("/api/v1/health").1["rules"]["loaded"].clone();

    let (st, v) = analyst.post_raw(
        "/api/v1/rules/validate",
        "application/x-yaml",
        NO_TITLE.as_bytes(),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["ok"], json!(false), "{v}");
    assert!(v["errors"].to_string().contains("title"), "{v}");

    let (st, up) = analyst.post_raw("/api/v1/rules", "application/x-yaml", NO_TITLE.as_bytes());
    assert_eq!(st, 200, "{up}");
    assert_eq!(up["loaded"], json!([]), "{up}");
    assert!(up["rejected"].to_string().contains("title"), "{up}");

    let (st, r) = analyst.post("/api/v1/rules/reload", &json!({}));
    assert_eq!(st, 200, "{r}");
    assert_eq!(analyst.get("/api/v1/health").1["rules"]["loaded"], before);
    let (_, list) = analyst.get("/api/v1/rules?q=0e4e3a7c");
    assert_eq!(list["total"], json!(0), "{list}");
    s.assert_alive();
}

// ---- finding 15: the reject log's record cap, size cap and age --------------

#[test]
fn rejects_keep_a_large_record_up_to_the_cap_and_expire_by_age_and_size() {
    let mut s = Server::start(Opts {
        extra: "[rejects]\nmax_record_kib = 64\nmax_mib = 1\nretention_days = 7\n".into(),
        ..Default::default()
    });
    let rejects = s.dir.path().join("data").join("rejects");
    // An old day file, as a server that ran long ago would have left.
    assert!(s.terminate(Duration::from_secs(30)).is_some());
    std::fs::create_dir_all(&rejects).unwrap();
    std::fs::write(rejects.join("2020-01-01.jsonl"), "{\"reason\":\"old\"}\n").unwrap();
    s.restart();
    assert!(
        !rejects.join("2020-01-01.jsonl").exists(),
        "a reject file past rejects.retention_days was kept"
    );

    let c = s.token("analyst");
    // One malformed 200 KB record: kept up to 64 KiB, the cut marked.
    let big = format!("{{\"msg\": \"{}", "A".repeat(200_000));
    let (st, b) = c.post_raw("/api/v1/ingest", "application/x-ndjson", big.as_bytes());
    assert!(st == 200 || (400..500).contains(&st), "{st} {b}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let file = rejects.join(format!("{today}.jsonl"));
    assert!(wait_until(10, || file.exists()), "no reject written");
    let text = std::fs::read_to_string(&file).unwrap();
    let line: J = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let raw = line["raw"].as_str().unwrap_or_default().len();
    assert!(
        (60_000..=64 * 1024).contains(&raw),
        "kept {raw} bytes of the record, want up to 64 KiB"
    );
    assert_eq!(
        line["truncated"],
        json!(true),
        "{}",
        &text[..300.min(text.len())]
    );
    assert!(line["raw_bytes"].as_u64().unwrap_or(0) >= 200_000);

    // A flood of rejects: the folder stays within max_mib, the rest is counted.
    for _ in 0..30 {
        let (st, _) = c.post_raw("/api/v1/ingest", "application/x-ndjson", big.as_bytes());
        assert!(st == 200 || (400..500).contains(&st));
    }
    let total: u64 = std::fs::read_dir(&rejects)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum();
    eprintln!(
        "rejects: folder {total} bytes after the flood, peak RSS {} MiB",
        s.peak_rss_mib()
    );
    assert!(
        total <= 1 << 20,
        "reject folder holds {total} bytes, cap 1 MiB"
    );
    let admin = s.admin();
    assert!(
        s.metric(&admin, "taishi_pipeline_rejects_dropped_total") > 0.0,
        "rejects over the cap were not counted"
    );
    s.assert_alive();
    assert!(
        s.peak_rss_mib() < IDLE_RSS_CAP_MIB,
        "peak {} MiB",
        s.peak_rss_mib()
    );
}
