//! Issue 16, "the no-raw-PI test": personal information sent to a real
//! `taishi serve` (syslog over TCP, NDJSON over HTTP, a malformed line that
//! lands in the rejects, an alert that carries its event to a webhook
//! that cannot be reached, so it waits in the outbox) is found nowhere in
//! the data directory's bytes afterwards, nor in the server's log, nor in
//! what the API returns; and the data inventory lists where it was seen.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;

const PI_RULE: &str = r#"
title: Taishi test identity document in a message
id: 0b5c2d9e-7d4f-4c4b-9a57-000000000016
status: test
level: high
logsource:
  product: linux
detection:
  keywords:
    - '身份证'
  condition: keywords
"#;

/// A Luhn-valid UnionPay number (62 BIN) of 16 digits.
fn card() -> String {
    let body = "622202020011223";
    let digits: Vec<u32> = body.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let mut sum = 0;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut x = *d;
        if i % 2 == 0 {
            x *= 2;
            if x > 9 {
                x -= 9;
            }
        }
        sum += x;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if memchr_find(&bytes, needle) {
                    out.push(p.display().to_string());
                }
            }
        }
    }
    out
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The server's log, captured (debug and above, every target).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_raw_pi_reaches_the_data_directory_the_log_or_the_api() {
    let log = Log::default();
    let sink = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    std::fs::write(dir.path().join("rules").join("pi.yml"), PI_RULE).unwrap();
    cfg.listeners
        .push(taishi_serve::config::Listener::SyslogTcp(
            taishi_ingest::SyslogTcpConfig {
                name: None,
                org: None,
                org_by_source: Default::default(),
                timezone: None,
                listen: any(),
            },
        ));
    // A webhook nobody answers: the alert (and its event) waits in the outbox.
    cfg.alerts = toml::from_str(
        "group_window = \"0s\"\nsuppress = \"0s\"\n[[outputs]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n",
    )
    .unwrap();
    cfg.egress.allow_private = true;
    // The control: `PII_CONTROL=1` runs the same with masking off, and the
    // test fails (the raw values are then in the alerts, WAL and rejects).
    if std::env::var("PII_CONTROL").is_ok() {
        cfg.pii.enabled = false;
    }
    let data = cfg.data_dir.clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));

    let id = "11010119900307803X";
    let id2 = "440305200002290002";
    let mobile = "13800138000";
    let card = card();
    let email = "zhang.san@example.com";
    let raws = [id, id2, mobile, card.as_str(), email];
    let marker = "taishi-pii-marker-7Q";

    // Syslog over TCP (RFC 5424, now): an ID, a mobile, a card.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let syslog_addr: std::net::SocketAddr = server
        .listeners
        .iter()
        .find(|l| l.kind == "syslog-tcp")
        .unwrap()
        .address
        .parse()
        .unwrap();
    let mut tcp = TcpStream::connect(syslog_addr).unwrap();
    writeln!(
        tcp,
        "<134>1 {now} app01 crm 4242 - - 开户 {marker} 身份证 {id} 手机 {mobile} 卡号 {card}"
    )
    .unwrap();
    writeln!(
        tcp,
        "<134>1 {now} app01 crm 4242 - - 客户 身份证号：{id2}，邮箱 {email}"
    )
    .unwrap();
    tcp.flush().unwrap();

    // NDJSON over HTTP: PI in the message, the URL, the body, a user field
    // (a phone written as a number), and one malformed line with PI in it.
    let good = json!({
        "@timestamp": now,
        "host.name": "web01",
        "message": format!("GET /api/customer?idcard={id} {marker}"),
        "url.original": format!("https://crm.example.cn/api/customer?phone={mobile}&idcard={id}"),
        "http.request.body.content": format!("{{\"name\":\"张三\",\"idCard\":\"{id2}\",\"bankCard\":\"{card}\"}}"),
        "user.phone": 13800138000u64,
        "user.email": email,
    });
    let mut body = ndjson(&[good]);
    body.extend_from_slice(
        format!("{{\"message\": \"身份证 {id} 手机 {mobile}\", broken\n").as_bytes(),
    );
    let (s, answer) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &body);
    assert!(s == 200 || s == 207 || s == 400, "{s} {answer}");

    let search = |q: &str| {
        c.post(
            "/api/v1/search",
            &json!({"query": q, "from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z", "limit": 100}),
        )
        .1
    };
    assert!(
        wait_until(30, || search("*")["total"].as_u64() == Some(3)),
        "{}",
        search("*")
    );
    assert!(
        wait_until(30, || c.get("/api/v1/alerts").1["total"].as_u64()
            >= Some(1)),
        "the PI rule raised no alert: {}",
        c.get("/api/v1/alerts").1
    );
    // Detection ran on the masked event: the rule's keyword is not PI.
    let alerts = c.get("/api/v1/alerts").1.to_string();
    assert!(alerts.contains("110101********803X"), "{alerts}");

    // What the API gives back is masked; the raw values are not searchable.
    let hits = search("*").to_string();
    assert!(hits.contains("110101********803X"), "{hits}");
    assert!(hits.contains("138****8000"), "{hits}");
    assert!(hits.contains(marker), "{hits}");
    for v in raws {
        assert!(!hits.contains(v), "{v} in a search answer: {hits}");
        assert_eq!(search(&format!("\"{v}\""))["total"], 0, "{v} is searchable");
    }

    // The data inventory lists the locations, masked examples only.
    let (s, inv) = c.get("/api/v1/data/inventory");
    assert_eq!(s, 200, "{inv}");
    let text = inv.to_string();
    for v in raws {
        assert!(!text.contains(v), "{v} in the inventory: {text}");
    }
    let loc = |listener: &str, field: &str| {
        inv["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["listener"] == listener && l["field"] == field)
            .cloned()
            .unwrap_or_else(|| panic!("no {listener}/{field} in {inv}"))
    };
    let m = loc("syslog-tcp", "message");
    assert_eq!(m["people"], 2, "{m}");
    assert_eq!(m["level"], "general-4", "{m}");
    let u = loc("http", "url.original");
    assert_eq!(u["hosts"], json!(["web01"]), "{u}");
    loc("http", "http.request.body.content");
    loc("http", "user.phone");
    let (s, _, csv) = c.get_text("/api/v1/data/inventory?format=csv", "content-type");
    assert_eq!(s, 200);
    assert!(
        csv.lines().count() >= 5 && csv.contains("syslog-tcp,message"),
        "{csv}"
    );

    // The grep reaches what was written: the marker (not PI) is there.
    assert!(
        !files_holding(&data, marker.as_bytes()).is_empty(),
        "the marker is in no file: the search below would prove nothing"
    );
    let check = |when: &str| {
        for v in raws {
            let found = files_holding(&data, v.as_bytes());
            assert!(found.is_empty(), "{when}: {v} found in {found:?}");
        }
    };
    check("running");
    rt.block_on(server.shutdown()).unwrap();
    check("stopped");
    assert!(
        data.join("rejects").read_dir().unwrap().next().is_some(),
        "no reject kept"
    );
    assert!(data.join("pii-inventory.json").exists());
    assert!(data.join("alerts-outbox.jsonl").exists() || data.join("outbox").exists());
    let logged = String::from_utf8_lossy(&log.0.lock().unwrap()).to_string();
    assert!(
        logged.contains("taishi"),
        "nothing was logged: the log check would prove nothing"
    );
    for v in raws {
        assert!(!logged.contains(v), "{v} in the server's log");
    }
}

/// Valid resident ID numbers (real region codes, check digits right),
/// none of them the first test's.
const LEAK_IDS: [&str; 3] = [
    "110105198506121213",
    "310115199201010023",
    "440305197809233012",
];

/// Issue 16, leak detection: personal information in a request to an
/// outside address raises a `pii:outbound` alert with its kinds, counts
/// and people; the same inside the organisation raises none; a database
/// audit record of a bulk query naming an ID-card column raises
/// `pii:bulk_query` with the rows as its people. No alert holds a value.
#[test]
fn leak_alerts_carry_people_not_values() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ids = LEAK_IDS;
    let mobile = "13800138000";
    let outbound = json!({
        "@timestamp": now,
        "source.ip": "10.20.0.9",
        "destination.ip": "203.0.113.77",
        "url.original": format!("http://paste.example.net/up?phone={mobile}&idcard={}", ids[0]),
        "http.request.body.content": format!("身份证 {}\n身份证 {}\n身份证 {}", ids[0], ids[1], ids[2]),
    });
    let inside = json!({
        "@timestamp": now,
        "source.ip": "10.20.0.9",
        "destination.ip": "10.20.0.80",
        "url.original": format!("http://crm.internal/api?idcard={}", ids[1]),
    });
    let audit = json!({
        "@timestamp": now,
        "event.category": "database",
        "user.name": "report_svc",
        "db.statement": "SELECT name, id_card, mobile FROM crm.customers",
        "db.response.returned_rows": 250000,
    });
    let (s, r) = c.post_raw(
        "/api/v1/ingest",
        "application/x-ndjson",
        &ndjson(&[outbound, inside, audit]),
    );
    assert_eq!(s, 200, "{r}");
    let pii_alerts = || -> Vec<serde_json::Value> {
        c.get("/api/v1/alerts?limit=200").1["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["kind"] == "pii")
            .collect()
    };
    assert!(
        wait_until(30, || pii_alerts().len() >= 2),
        "{:#}",
        c.get("/api/v1/alerts").1
    );
    let alerts = pii_alerts();
    assert_eq!(
        alerts.len(),
        2,
        "the internal request raised none: {alerts:#?}"
    );
    let out = alerts
        .iter()
        .find(|a| a["rule_id"] == "pii:outbound")
        .expect("pii:outbound");
    let ctx = &out["context"];
    // One ID in the URL (the same person as the first in the body), three
    // in the body: 4 findings, 3 people.
    assert_eq!(ctx["kinds"]["cn_resident_id"], 4, "{out:#}");
    assert_eq!(ctx["kinds"]["cn_mobile"], 1, "{out:#}");
    assert_eq!(ctx["people"], 3, "{out:#}");
    assert_eq!(ctx["people_exact"], true);
    assert_eq!(out["destination_ip"], "203.0.113.77");
    assert_eq!(
        out["level"], "medium",
        "resident IDs are sensitive: {out:#}"
    );
    assert!(out["rule_title_zh"]
        .as_str()
        .unwrap()
        .contains("个人信息外发"));
    assert!(ctx["incident_grade"]["zh"].is_string(), "{out:#}");
    let bulk = alerts
        .iter()
        .find(|a| a["rule_id"] == "pii:bulk_query")
        .expect("pii:bulk_query");
    assert_eq!(bulk["context"]["rows"], 250000, "{bulk:#}");
    assert_eq!(bulk["context"]["people"], 250000);
    assert_eq!(bulk["context"]["fields"], json!(["id_card", "mobile"]));
    let text = serde_json::to_string(&alerts).unwrap();
    for v in ids.iter().copied().chain([mobile]) {
        assert!(!text.contains(v), "{v} in an alert: {text}");
    }
    rt.block_on(server.shutdown()).unwrap();
}
