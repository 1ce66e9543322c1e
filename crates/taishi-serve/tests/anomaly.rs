//! The anomaly detectors in a running service (issue 17): a beacon in a
//! generated Zeek conn log sent over TCP (a `tcp` listener, format zeek)
//! raises an alert that carries its score and features, and a look-alike
//! of a configured brand seen in a Zeek DNS log raises one too. The beacon
//! evaluation runs every second here (`anomaly.evaluate_secs`), so the
//! test does not wait for the default ten minutes.

mod common;

use chrono::{TimeDelta, Utc};
use common::*;
use serde_json::{json, Value as J};

const DNS_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n";

/// A host calling home every 5 minutes (± 10 %, a fixed pseudo-random
/// jitter) with the same small request, for the last 20 hours, among
/// irregular browsing of other hosts.
fn conn_log() -> String {
    let start = Utc::now() - TimeDelta::hours(20);
    let mut s = String::from(CONN_HEADER);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut t = start.timestamp() as f64;
    let end = Utc::now().timestamp() as f64 - 60.0;
    let mut i = 0;
    while t < end {
        let jitter = (rnd() % 61) as f64 - 30.0;
        s.push_str(&format!(
            "{t:.6}\tCb{i}\t10.20.0.5\t{}\t203.0.113.50\t443\ttcp\tssl\t0.2\t310\t1200\tSF\tT\tF\t0\tShADadFf\t6\t630\t5\t1460\t-\n",
            40000 + i % 20000
        ));
        // Background: another host, at random times and sizes.
        let bt = t + (rnd() % 300) as f64;
        s.push_str(&format!(
            "{bt:.6}\tCn{i}\t10.20.0.{}\t{}\t198.51.100.{}\t443\ttcp\tssl\t1.5\t{}\t{}\tSF\tT\tF\t0\tShADadFf\t9\t900\t9\t9000\t-\n",
            10 + rnd() % 50,
            30000 + i % 20000,
            1 + rnd() % 200,
            200 + rnd() % 5000,
            1000 + rnd() % 90000,
        ));
        t += 300.0 + jitter;
        i += 1;
    }
    s
}

fn dns_log(names: &[&str]) -> String {
    let ts = (Utc::now() - TimeDelta::minutes(5)).timestamp();
    let mut s = String::from(DNS_HEADER);
    for (i, n) in names.iter().enumerate() {
        s.push_str(&format!(
            "{ts}.000000\tCd{i}\t10.20.0.9\t5353{}\t10.20.0.1\t53\tudp\t{}\t0.01\t{n}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.10\t60.0\tF\n",
            i % 10,
            100 + i
        ));
    }
    s
}

fn anomaly_alerts(c: &Client) -> Vec<J> {
    let v = c.get("/api/v1/alerts?limit=200").1;
    v["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["kind"] == "anomaly")
        .collect()
}

/// Beacons scored every second, a brand watched.
fn anomaly_config(dir: &std::path::Path) -> taishi_serve::config::Config {
    let mut cfg = config(dir);
    cfg.anomaly.evaluate_secs = 1;
    cfg.anomaly.brands = vec![taishi_anomaly::Brand {
        name: "Example Bank".into(),
        domains: vec!["examplebank.com".into()],
        names_zh: vec!["示例银行".into()],
        keywords: vec![],
    }];
    cfg
}

#[test]
fn a_beacon_and_a_lookalike_raise_explained_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = anomaly_config(dir.path());
    cfg.anomaly.learning_hours = 0;
    // Zeek's conn log comes as a sensor ships it: raw lines over TCP.
    cfg.listeners.push(zeek_tcp_listener());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));

    let tcp: std::net::SocketAddr = server
        .listeners
        .iter()
        .find(|l| l.kind == "tcp")
        .expect("the tcp listener")
        .address
        .parse()
        .unwrap();
    let conn = conn_log();
    let lines = conn.lines().filter(|l| !l.starts_with('#')).count() as u64;
    let mut sock = std::net::TcpStream::connect(tcp).unwrap();
    std::io::Write::write_all(&mut sock, conn.as_bytes()).unwrap();
    drop(sock);
    assert!(
        wait_until(30, || c.get("/api/v1/health").1["store"]["events"]
            .as_u64()
            .unwrap_or(0)
            >= lines),
        "the conn log's {lines} records did not arrive over TCP"
    );
    let (s, r) = c.post_raw(
        "/api/v1/ingest?format=zeek",
        "text/plain",
        dns_log(&[
            "www.examplebank.com",
            "www.example.org",
            "examp1ebank-login.com",
        ])
        .as_bytes(),
    );
    assert_eq!(s, 200, "{r}");

    let found = |rule: &str| {
        anomaly_alerts(&c)
            .into_iter()
            .find(|a| a["rule_id"] == rule)
    };
    assert!(
        wait_until(30, || found("anomaly:beacon").is_some()
            && found("anomaly:lookalike").is_some()),
        "{:#}",
        J::Array(anomaly_alerts(&c))
    );

    let b = found("anomaly:beacon").unwrap();
    assert_eq!(b["source_ip"], "10.20.0.5", "{b:#}");
    assert_eq!(b["destination_ip"], "203.0.113.50", "{b:#}");
    let score = b["context"]["score"].as_f64().unwrap();
    assert!(score >= 0.7, "{b:#}");
    assert_eq!(
        b["summary"]["score"].as_f64().unwrap(),
        (score * 1000.0).round() / 1000.0
    );
    let tags: Vec<&str> = b["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(J::as_str)
        .collect();
    assert!(tags.contains(&"attack.t1071"), "{tags:?}");
    let features = b["context"]["features"].as_array().unwrap();
    assert!(features.len() >= 4, "{b:#}");
    for f in features {
        assert!(
            f["id"].is_string() && f["value"].is_number() && f["score"].is_number(),
            "{f}"
        );
        assert!(f["fired"].is_boolean(), "{f}");
        assert!(!f["text"]["zh"].as_str().unwrap().is_empty(), "{f}");
        assert!(!f["text"]["en"].as_str().unwrap().is_empty(), "{f}");
    }
    assert!(features.iter().any(|f| f["fired"] == true), "{b:#}");
    assert!(b["context"]["title"]["zh"].is_string(), "{b:#}");
    // A title per language, as a Sigma rule's: not both run together.
    assert_eq!(b["rule_title"], "Anomaly: C2 beaconing", "{b:#}");
    assert_eq!(b["rule_title_zh"], "异常：C2 信标（周期性外联）", "{b:#}");
    // One alert for the pair, however many evaluations ran.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let beacons = anomaly_alerts(&c)
        .into_iter()
        .filter(|a| a["rule_id"] == "anomaly:beacon" && a["destination_ip"] == "203.0.113.50")
        .count();
    assert_eq!(beacons, 1);

    let l = found("anomaly:lookalike").unwrap();
    assert_eq!(l["context"]["entity"], "examp1ebank-login.com", "{l:#}");
    let lookalikes = anomaly_alerts(&c)
        .into_iter()
        .filter(|a| a["rule_id"] == "anomaly:lookalike")
        .count();
    assert_eq!(
        lookalikes, 1,
        "the brand's own domain and others raise nothing"
    );
    let tags: Vec<&str> = l["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(J::as_str)
        .collect();
    assert!(
        tags.contains(&"attack.t1566") && tags.contains(&"attack.t1583.001"),
        "{tags:?}"
    );

    // The list filters by kind.
    let (s, by_kind) = c.get("/api/v1/alerts?kind=anomaly&limit=200");
    assert_eq!(s, 200, "{by_kind}");
    assert_eq!(
        by_kind["total"].as_u64().unwrap() as usize,
        anomaly_alerts(&c).len(),
        "{by_kind}"
    );
    assert_eq!(c.get("/api/v1/alerts?kind=sigma").1["total"], 0);
    assert_eq!(c.get("/api/v1/alerts?kind=nonsense").0, 400);

    // The baselines are saved at shutdown and loaded at the next start.
    rt.block_on(server.shutdown()).unwrap();
    let state = dir.path().join("data").join("anomaly-state.json");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(
        saved.contains("\"beacon\""),
        "{}",
        &saved[..saved.len().min(300)]
    );
}

/// The learning period (issue 17): with 24 hours of it, 20 hours of a
/// beacon raise nothing while a look-alike (no baseline) still does, and
/// `GET /anomaly/status` says the organisation learns until when. The
/// start is saved: after a restart it is the same, and with 10 hours of
/// learning the same saved beacon, now past the period, raises its alert.
#[test]
fn learning_detectors_wait_out_the_learning_period_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = anomaly_config(dir.path());
    cfg.anomaly.learning_hours = 24;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg.clone())).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));
    let conn = conn_log();
    let (s, r) = c.post_raw("/api/v1/ingest?format=zeek", "text/plain", conn.as_bytes());
    assert_eq!(s, 200, "{r}");
    let (s, r) = c.post_raw(
        "/api/v1/ingest?format=zeek",
        "text/plain",
        dns_log(&["examp1ebank-login.com"]).as_bytes(),
    );
    assert_eq!(s, 200, "{r}");
    let has = |c: &Client, rule: &str| anomaly_alerts(c).iter().any(|a| a["rule_id"] == rule);
    assert!(wait_until(30, || has(&c, "anomaly:lookalike")));
    // Several evaluations (one a second) have run: no beacon.
    std::thread::sleep(std::time::Duration::from_millis(3000));
    assert!(
        !has(&c, "anomaly:beacon"),
        "{:#}",
        J::Array(anomaly_alerts(&c))
    );

    let (s, st) = c.get("/api/v1/anomaly/status");
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["enabled"], true);
    assert_eq!(st["learning_hours"], 24);
    let org = &st["orgs"][0];
    assert_eq!(org["learning"], true, "{st:#}");
    let since =
        chrono::DateTime::parse_from_rfc3339(org["learning_since"].as_str().unwrap()).unwrap();
    let until = org["learning_until"].as_str().unwrap().to_string();
    let until_t = chrono::DateTime::parse_from_rfc3339(&until).unwrap();
    assert_eq!(until_t - since, TimeDelta::hours(24), "{org:#}");
    assert!(
        org["message"]["en"].as_str().unwrap().contains("learning"),
        "{org:#}"
    );
    assert!(
        org["message"]["zh-CN"].as_str().unwrap().contains("学习期"),
        "{org:#}"
    );
    let beacon = org["detectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["detector"] == "beacon")
        .unwrap();
    assert_eq!(beacon["learns"], true);
    let pairs = &beacon["tables"][0];
    assert!(pairs["entries"].as_u64().unwrap() >= 2, "{beacon:#}");
    assert!(pairs["cap"].as_u64().unwrap() >= pairs["entries"].as_u64().unwrap());
    assert!(pairs["evicted"].is_u64());
    // A reader of another organisation sees its own subtree only: the
    // top organisation's detectors are not in its answer.
    let other = branch_viewer(&server);
    let (s, st) = other.get("/api/v1/anomaly/status");
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["orgs"], json!([]), "{st:#}");
    // Only a reader of the system's state may ask.
    assert_eq!(
        Client::new(server.http_addr)
            .get("/api/v1/anomaly/status")
            .0,
        401
    );
    rt.block_on(server.shutdown()).unwrap();

    // The same config again: the period is not begun anew.
    let server = rt.block_on(taishi_serve::start(cfg.clone())).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));
    let st = c.get("/api/v1/anomaly/status").1;
    assert_eq!(st["orgs"][0]["learning_until"], until.as_str(), "{st:#}");
    assert_eq!(st["orgs"][0]["learning"], true);
    rt.block_on(server.shutdown()).unwrap();

    // 10 hours of learning: the saved start (20 hours ago) puts the saved
    // beacon past it, and the next evaluation raises it.
    cfg.anomaly.learning_hours = 10;
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));
    assert!(
        wait_until(30, || has(&c, "anomaly:beacon")),
        "{:#}",
        J::Array(anomaly_alerts(&c))
    );
    assert_eq!(
        c.get("/api/v1/anomaly/status").1["orgs"][0]["learning"],
        false
    );
    rt.block_on(server.shutdown()).unwrap();
}
