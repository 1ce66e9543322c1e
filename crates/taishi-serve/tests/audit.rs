//! The audit trail through a running server: a sequence of actions comes
//! back through `GET /api/v1/audit` (newest first, filtered, paged), the
//! verification and the exports; a viewer is refused; reading is itself
//! recorded; a settings change records its before and after with secrets
//! masked; every record reaches a UDP or TCP collector, across a
//! reconnection, and a full queue drops (counted) rather than waits.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use common::*;
use serde_json::{json, Value as J};

const VERA_PW: &str = "Viewer-Pass-2026!x";

/// A running server and the first start's audit administrator: the one
/// account that reads the trail (三权分立: `admin` acts, `auditor` reads).
struct Audited {
    run: Running,
    aud: Client,
}

impl std::ops::Deref for Audited {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.run
    }
}

impl Audited {
    fn start(forward: Option<&str>) -> (Audited, Client) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        if let Some(f) = forward {
            cfg.audit = toml::from_str(f).unwrap();
        }
        let run = Running::start(cfg, dir);
        // The audit administrator signs in first, so its two records are
        // the oldest of every test.
        let aud = auditor(run.server());
        let admin = Client::login(run.server().http_addr, admin_password(run.server()));
        (Audited { run, aud }, admin)
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.server().http_addr
    }
}

/// (action, actor, outcome) of each record of a page, in order.
fn rows(page: &J) -> Vec<(String, String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["actor"]["name"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row(action: &str, actor: &str, outcome: &str) -> (String, String, String) {
    (action.into(), actor.into(), outcome.into())
}

#[test]
fn actions_come_back_through_the_api_and_a_viewer_is_refused() {
    let (srv, admin) = Audited::start(None);
    let (s, _) = admin.post(
        "/api/v1/users",
        &json!({"username": "vera", "password": VERA_PW, "roles": ["viewer"]}),
    );
    assert_eq!(s, 200);
    let (s, _) = Client::new(srv.addr()).post(
        "/api/v1/auth/login",
        &json!({"username": "vera", "password": "wrong-password-1A!"}),
    );
    assert_eq!(s, 401);
    let vera = Client::login_as(srv.addr(), "vera", VERA_PW, None);
    for path in [
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/audit/export",
    ] {
        let (s, e) = vera.get(path);
        assert_eq!(s, 403, "{path}: {e}");
        assert!(e["error"].as_str().unwrap().contains("audit:read"), "{e}");
    }

    let (s, page) = srv.aud.get("/api/v1/audit?limit=50");
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        rows(&page),
        [
            row("audit.read", "auditor", "success"),
            row("tokens.create", "vera", "success"),
            row("auth.login", "vera", "success"),
            row("auth.login_failed", "vera", "failed"),
            row("users.create", "admin", "success"),
            row("tokens.create", "admin", "success"),
            row("auth.login", "admin", "success"),
            row("tokens.create", "auditor", "success"),
            row("auth.login", "auditor", "success"),
        ]
    );
    assert_eq!(page["total"], 9);
    assert_eq!(page["unreadable"], 0);
    let items = page["items"].as_array().unwrap();
    let seqs: Vec<u64> = items.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [9, 8, 7, 6, 5, 4, 3, 2, 1], "newest first");
    let created = &items[4];
    assert_eq!(created["target"], "/users");
    assert_eq!(created["roles"], json!(["sysadmin", "secadmin", "analyst"]));
    assert_eq!(created["org"], "root");
    // A sign-in names the account's roles too, once the password is right.
    assert_eq!(items[6]["action"], "auth.login");
    assert_eq!(
        items[6]["roles"],
        json!(["sysadmin", "secadmin", "analyst"])
    );
    assert_eq!(created["source"], "127.0.0.1");
    assert_eq!(created["action_label"]["zh-CN"], "创建用户");
    assert_eq!(created["action_label"]["en"], "User created");
    let time = created["time"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.contains(['+', '-']),
        "a time with its zone: {time}"
    );
    assert_eq!(items[0]["target"], "/audit?limit=50");

    // Filters and paging.
    let get = |q: &str| {
        let (s, p) = srv.aud.get(&format!("/api/v1/audit?{q}"));
        assert_eq!(s, 200, "{q}: {p}");
        p
    };
    let p = get("actor=vera");
    assert_eq!(p["total"], 3, "{p}");
    let p = get("action=auth.*");
    assert_eq!(
        rows(&p),
        [
            row("auth.login", "vera", "success"),
            row("auth.login_failed", "vera", "failed"),
            row("auth.login", "admin", "success"),
            row("auth.login", "auditor", "success"),
        ]
    );
    assert_eq!(
        rows(&get("outcome=failed")),
        [row("auth.login_failed", "vera", "failed")]
    );
    let p = get("action=tokens.create&limit=1&offset=1");
    assert_eq!(p["total"], 3);
    assert_eq!(rows(&p), [row("tokens.create", "admin", "success")]);
    assert_eq!(get("from=now-2h&to=now-1h")["total"], 0);
    // 9 records above, 6 reads since (this one included); the limit is cut to 1000.
    assert_eq!(get("limit=5000")["items"].as_array().unwrap().len(), 15);
    for (q, named) in [
        ("outcome=maybe", "outcome"),
        ("from=yesterday-ish", "from"),
        ("from=now&to=now-1d", "from"),
    ] {
        let (s, e) = srv.aud.get(&format!("/api/v1/audit?{q}"));
        assert_eq!(s, 400, "{q}: {e}");
        assert!(e["error"].as_str().unwrap().contains(named), "{q}: {e}");
    }

    // The verification, in both languages.
    let (s, v) = srv.aud.get("/api/v1/audit/verify");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["broken"], J::Null);
    assert_eq!(v["records"], 15, "{v}");
    assert!(
        v["message"]["en"].as_str().unwrap().contains("intact"),
        "{v}"
    );
    assert!(
        v["message"]["zh-CN"].as_str().unwrap().contains("完整"),
        "{v}"
    );

    // Exports: a file each, the same records.
    let (s, disp, csv) = srv.aud.get_text(
        "/api/v1/audit/export?format=csv&lang=en&actor=vera",
        "content-disposition",
    );
    assert_eq!(s, 200, "{csv}");
    let disp = disp.unwrap();
    assert!(
        disp.starts_with("attachment; filename=\"taishi-audit-") && disp.ends_with(".csv\""),
        "{disp}"
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0]
        .trim_start_matches('\u{feff}')
        .starts_with("seq,time,actor_id"));
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[2].contains(",auth.login,User login,"), "{csv}");

    let (s, _, jsonl) = srv.aud.get_text("/api/v1/audit/export", "content-type");
    assert_eq!(s, 200);
    let recs: Vec<taishi_audit::Record> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 18, "{jsonl}");
    for w in recs.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1);
        assert_eq!(w[1].prev_hash, w[0].hash, "the export chains");
    }
    assert!(recs.iter().all(|r| r.compute_hash() == r.hash));

    let (s, _, cef) = srv
        .aud
        .get_text("/api/v1/audit/export?format=cef", "content-type");
    assert_eq!(s, 200);
    assert!(
        cef.lines().all(|l| l.starts_with("CEF:0|Taishi|Taishi|")),
        "{cef}"
    );
    let (s, _) = srv.aud.get("/api/v1/audit/export?format=xml");
    assert_eq!(s, 400);

    // Reading the trail was recorded, each with its query.
    let p = get("action=audit.*&limit=100");
    let actions: Vec<String> = rows(&p).into_iter().map(|r| r.0).collect();
    for a in ["audit.read", "audit.verify", "audit.export"] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
    let verify = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "audit.verify")
        .unwrap();
    assert_eq!(verify["after"]["ok"], true, "{verify}");
    let export = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "audit.export")
        .unwrap();
    assert_eq!(export["target"], "/audit/export?format=cef");
}

#[test]
fn a_settings_change_records_before_and_after_with_secrets_masked() {
    let (srv, admin) = Audited::start(None);
    let first = json!({"items": [{"type": "dingtalk", "name": "soc",
        "url": "https://oapi.dingtalk.com/robot/send?access_token=TOKEN-ONE",
        "secret": "SIGN-SECRET-ONE"}]});
    let (s, e) = admin.put("/api/v1/settings/outputs", &first);
    assert_eq!(s, 200, "{e}");
    let second = json!({"items": [
        {"type": "dingtalk", "name": "soc",
         "url": "https://oapi.dingtalk.com/robot/send?access_token=TOKEN-TWO",
         "secret": "***"},
        {"type": "webhook", "name": "siem", "url": "https://siem.example.org/hook",
         "headers": {"Authorization": "Bearer HEADER-SECRET"}}]});
    let (s, e) = admin.put("/api/v1/settings/outputs", &second);
    assert_eq!(s, 200, "{e}");
    // An invalid change is recorded as failed, with nothing changed.
    let (s, _) = admin.put(
        "/api/v1/settings/outputs",
        &json!({"items": [{"type": "dingtalk"}]}),
    );
    assert_eq!(s, 400);

    let (s, p) = srv.aud.get("/api/v1/audit?action=outputs.update");
    assert_eq!(s, 200);
    let text = p.to_string();
    for secret in ["TOKEN-ONE", "TOKEN-TWO", "SIGN-SECRET-ONE", "HEADER-SECRET"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let items = p["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{p}");
    assert_eq!(items[0]["outcome"], "failed");
    assert_eq!(items[0]["before"], J::Null);

    let (before, after) = (&items[1]["before"], &items[1]["after"]);
    assert_eq!(before.as_array().unwrap().len(), 1, "{before}");
    assert_eq!(
        before[0]["url"],
        "https://oapi.dingtalk.com/robot/send?access_token=***"
    );
    assert_eq!(before[0]["secret"], "***");
    assert_eq!(after.as_array().unwrap().len(), 2, "{after}");
    assert_eq!(after[1]["name"], "siem");
    assert_eq!(after[1]["headers"]["Authorization"], "***");
    assert!(
        after[0].get("metrics").is_none(),
        "counters are not settings"
    );

    let first_change = &items[2];
    assert_eq!(first_change["before"], json!([]));
    assert_eq!(first_change["after"][0]["name"], "soc");
    assert_eq!(first_change["action_label"]["zh-CN"], "修改告警输出");
}

fn metric(c: &Client, name: &str) -> u64 {
    let (_, m) = c.get("/metrics");
    m.as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name}"))
        .parse()
        .unwrap()
}

#[test]
fn records_reach_a_udp_collector_as_syslog() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let forward = format!(
        "[forward]\naddress = \"udp://{}\"\nformat = \"syslog\"\nlang = \"en\"\n",
        udp.local_addr().unwrap()
    );
    let (_srv, admin) = Audited::start(Some(&forward));
    // The admin's sign-in and token.
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while got.len() < 2 {
        let n = udp.recv(&mut buf).expect("a datagram per record");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(
        got[0].starts_with("<109>1 "),
        "facility 13, notice: {}",
        got[0]
    );
    assert!(got[0].contains(" auth.login [taishi@32473 "), "{}", got[0]);
    assert!(got[0].contains("seq=\"1\""), "{}", got[0]);
    assert!(got[1].contains(" tokens.create "), "{}", got[1]);
    assert!(wait_until(5, || metric(
        &admin,
        "taishi_audit_forward_sent_total"
    ) >= 2));
    assert_eq!(metric(&admin, "taishi_audit_forward_dropped_total"), 0);
}

#[test]
fn records_reach_a_tcp_collector_as_cef_across_a_reconnection() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let forward = format!(
        "[forward]\naddress = \"tcp://{}\"\nformat = \"cef\"\n",
        tcp.local_addr().unwrap()
    );
    let (srv, admin) = Audited::start(Some(&forward));
    let (conn, _) = tcp.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut lines = BufReader::new(conn);
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    assert!(line.starts_with("CEF:0|Taishi|Taishi|"), "{line}");
    assert!(
        line.contains("|auth.login|用户登录|"),
        "zh-CN labels by default: {line}"
    );
    line.clear();
    lines.read_line(&mut line).unwrap();
    assert!(line.contains("|tokens.create|"), "{line}");

    // The collector goes away; the next record fails, the forwarder
    // reconnects with backoff and sends it, and those after it.
    drop(lines);
    for i in 0..3 {
        let (s, _) = admin.post(
            "/api/v1/users",
            &json!({"username": format!("user{i}"), "password": VERA_PW, "roles": ["viewer"]}),
        );
        assert_eq!(s, 200);
        std::thread::sleep(Duration::from_millis(200));
    }
    let (conn, _) = tcp.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    // The first record after the collector left may have gone into the
    // closed socket (TCP reports the reset on the next write); the one that
    // failed is sent again after reconnecting, and the rest follow.
    let mut got = String::new();
    let mut r = BufReader::new(conn);
    while got.matches("|users.create|").count() < 2 {
        let mut l = String::new();
        match r.read_line(&mut l) {
            Ok(0) | Err(_) => break,
            Ok(_) => got.push_str(&l),
        }
    }
    assert!(got.matches("|users.create|").count() >= 2, "{got}");
    assert!(got.contains("cs3=/users"), "{got}");
    assert!(metric(&admin, "taishi_audit_forward_errors_total") >= 1);
    drop(srv);
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
}

#[test]
fn a_full_queue_drops_and_counts_without_slowing_requests() {
    // Nothing listens there: every connection attempt fails.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let forward = format!("[forward]\naddress = \"tcp://127.0.0.1:{port}\"\nqueue = 1\n");
    let (srv, admin) = Audited::start(Some(&forward));
    for i in 0..5 {
        let (s, _) = admin.post(
            "/api/v1/users",
            &json!({"username": format!("u{i}"), "password": VERA_PW, "roles": ["viewer"]}),
        );
        assert_eq!(s, 200);
    }
    assert!(metric(&admin, "taishi_audit_forward_dropped_total") >= 4);
    assert_eq!(metric(&admin, "taishi_audit_forward_connected"), 0);
    assert_eq!(metric(&admin, "taishi_audit_forward_sent_total"), 0);
    // The trail has them all.
    let (_, p) = srv.aud.get("/api/v1/audit?action=users.create");
    assert_eq!(p["total"], 5);
}
