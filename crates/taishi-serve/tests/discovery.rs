//! Discovery from received events (issue 15) and the large-outbound-
//! transfer rule (issue 16) against a running server:
//!
//! - real EVTX files (`Computer` = `temporal`, `IE8Win7`) and real Zeek
//!   `known_services`/`software` logs are ingested; the hosts the register
//!   does not know are listed by `GET /assets/unknown` (with why, in zh-CN
//!   and English, and their sources), the registered ones are not, and get
//!   their `last_seen` and the software Zeek saw; a restart keeps the list;
//!   importing a listed host removes it;
//! - Zeek conn lines over a `tcp` listener: a 核心 asset sending past
//!   `[risk] outbound_bytes` outside raises one `pii:outbound_transfer`
//!   alert per window, a 一般 asset and an internal destination none;
//! - the data inventory names the registered asset a location was seen on.

mod common;

use chrono::Utc;
use common::*;
use serde_json::{json, Value as J};

fn data(rel: &str) -> Vec<u8> {
    taishi_testdata::read(rel).unwrap_or_else(|| {
        panic!("{rel}: not found (set TAISHI_TEST_DATA to the shared test data)")
    })
}

fn import(c: &Client, csv: &str) -> J {
    let v = import_inventory(c, csv);
    assert!(v["rejects"].as_array().unwrap().is_empty(), "{v}");
    v
}

fn unknown(c: &Client) -> Vec<J> {
    let (s, v) = c.get("/api/v1/assets/unknown?limit=10000");
    assert_eq!(s, 200, "{v}");
    v["items"].as_array().cloned().unwrap_or_default()
}

fn by_ip<'a>(items: &'a [J], ip: &str) -> Option<&'a J> {
    items.iter().find(|u| u["ip"] == ip)
}

fn by_name<'a>(items: &'a [J], name: &str) -> Option<&'a J> {
    items
        .iter()
        .find(|u| u["hostnames"].as_array().unwrap().contains(&json!(name)))
}

fn ingest(c: &Client, format: &str, body: &[u8]) {
    let (s, r) = c.post_raw(
        &format!("/api/v1/ingest?format={format}"),
        "application/octet-stream",
        body,
    );
    assert_eq!(s, 200, "{r}");
}

fn asset(c: &Client, identity: &str) -> J {
    let (s, v) = c.get(&format!("/api/v1/assets?identity={identity}"));
    assert_eq!(s, 200, "{v}");
    v["items"][0].clone()
}

#[test]
fn unknown_hosts_from_evtx_and_zeek_are_listed_registered_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));

    // `temporal` (an EVTX Computer) and two hosts of the Zeek logs are
    // registered; the rest of what the files name is not.
    import(
        &c,
        "IP地址,主机名,资产名称\n,temporal,审计终端\n10.47.3.200,,门户网站\n10.47.27.80,,应用服务器\n",
    );
    ingest(
        &c,
        "evtx",
        &data("host-logs/windows-evtx/Security_short_selected.evtx"),
    );
    ingest(
        &c,
        "evtx",
        &data("host-logs/windows-evtx/new-user-security.evtx"),
    );
    ingest(
        &c,
        "zeek",
        &data("network/zeek/wrccdc-tsv/known_services.log"),
    );
    ingest(&c, "zeek", &data("network/zeek/wrccdc-tsv/software.log"));

    assert!(
        wait_until(30, || by_ip(&unknown(&c), "10.47.8.208").is_some()
            && by_name(&unknown(&c), "ie8win7").is_some()),
        "{:#?}",
        unknown(&c)
    );
    let items = unknown(&c);
    let ie = by_name(&items, "ie8win7").unwrap();
    assert_eq!(ie["sources"], json!(["evtx Computer"]), "{ie:#}");
    assert!(
        ie["reason_zh"]
            .as_str()
            .unwrap()
            .contains("未登记在资产台账中"),
        "{ie:#}"
    );
    assert!(
        ie["reason_en"]
            .as_str()
            .unwrap()
            .contains("not in the asset register"),
        "{ie:#}"
    );
    // ISO 8601 with the zone, from the events' own time.
    assert!(ie["first_seen"].as_str().unwrap().ends_with('Z'), "{ie:#}");
    let svc = by_ip(&items, "10.47.8.208").unwrap();
    assert!(
        svc["sources"]
            .as_array()
            .unwrap()
            .contains(&json!("zeek known_services")),
        "{svc:#}"
    );
    assert!(svc["first_seen"]
        .as_str()
        .unwrap()
        .starts_with("2018-03-24T"));
    // The registered ones are not listed.
    assert!(by_name(&items, "temporal").is_none(), "{items:#?}");
    assert!(by_ip(&items, "10.47.3.200").is_none(), "{items:#?}");
    assert!(by_ip(&items, "10.47.27.80").is_none(), "{items:#?}");

    // Registered hosts got their last_seen from the events, and the
    // software Zeek saw on them.
    assert!(
        wait_until(10, || asset(&c, "10.47.3.200")["last_seen"]
            .as_str()
            .is_some_and(|t| t.starts_with("2018-03-24T"))),
        "{:#}",
        asset(&c, "10.47.3.200")
    );
    assert!(asset(&c, "host:temporal")["last_seen"].is_string());
    let app = asset(&c, "10.47.27.80")["id"].as_i64().unwrap();
    let (_, view) = c.get(&format!("/api/v1/assets/{app}"));
    let software = &view["record"]["software"];
    assert!(
        software
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["value"]["name"] == "Microsoft-IIS" && f["value"]["version"] == "7.5"),
        "{software:#}"
    );

    // A restart keeps the list.
    let before = unknown(&c).len();
    rt.block_on(server.shutdown()).unwrap();
    let server = rt
        .block_on(taishi_serve::start(config(dir.path())))
        .unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));
    let after = unknown(&c);
    assert_eq!(after.len(), before, "{after:#?}");
    assert!(by_name(&after, "ie8win7").is_some());

    // Registering a listed host removes it from the list.
    import(
        &c,
        "IP地址,主机名,资产名称\n,IE8Win7,测试终端\n10.47.8.208,,远程桌面\n",
    );
    let now = unknown(&c);
    assert!(by_name(&now, "ie8win7").is_none(), "{now:#?}");
    assert!(by_ip(&now, "10.47.8.208").is_none(), "{now:#?}");
    assert_eq!(now.len(), before - 2);
    rt.block_on(server.shutdown()).unwrap();
}

/// One conn line: `from` sent `mib` MiB to `to`.
fn conn(uid: &str, from: &str, to: &str, mib: u64) -> String {
    let ts = Utc::now().timestamp();
    let b = mib << 20;
    format!(
        "{ts}.000000\t{uid}\t{from}\t50000\t{to}\t443\ttcp\tssl\t30.0\t{b}\t4000\tSF\tT\tF\t0\tShADadFf\t9000\t{b}\t900\t4000\t-\n"
    )
}

#[test]
fn a_large_transfer_outside_from_a_core_asset_raises_one_leak_alert() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.listeners.push(zeek_tcp_listener());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));
    import(
        &c,
        "IP地址,主机名,资产名称,数据级别\n192.168.10.5,db-core05,客户数据库,核心\n192.168.10.6,ws-gen06,办公终端,一般\n",
    );
    // The default threshold is 100 MiB per hour: the core asset's first
    // 60 MiB stay under it, the second crosses it (one alert), the third
    // is in the same window (no second alert); 300 MiB to an internal
    // address and 300 MiB from a 一般 asset raise nothing.
    let mut log = String::from(CONN_HEADER);
    log.push_str(&conn("Ca1", "192.168.10.5", "203.0.113.50", 60));
    log.push_str(&conn("Ca2", "192.168.10.5", "198.51.100.7", 60));
    log.push_str(&conn("Ca3", "192.168.10.5", "203.0.113.50", 60));
    log.push_str(&conn("Cb1", "192.168.10.5", "192.168.20.7", 300));
    log.push_str(&conn("Cc1", "192.168.10.6", "203.0.113.50", 300));
    let tcp: std::net::SocketAddr = server
        .listeners
        .iter()
        .find(|l| l.kind == "tcp")
        .expect("the tcp listener")
        .address
        .parse()
        .unwrap();
    let mut sock = std::net::TcpStream::connect(tcp).unwrap();
    std::io::Write::write_all(&mut sock, log.as_bytes()).unwrap();
    drop(sock);
    assert!(
        wait_until(30, || c.get("/api/v1/health").1["store"]["events"]
            .as_u64()
            .unwrap_or(0)
            >= 5),
        "the conn lines did not arrive over TCP"
    );
    let leaks = || -> Vec<J> {
        c.get("/api/v1/alerts?limit=200").1["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["rule_id"] == "pii:outbound_transfer")
            .collect()
    };
    assert!(wait_until(30, || !leaks().is_empty()), "no alert");
    // Everything was stored before the alert; nothing else is coming.
    let all = leaks();
    assert_eq!(all.len(), 1, "{all:#?}");
    let a = &all[0];
    assert_eq!(a["kind"], "pii");
    assert_eq!(a["level"], "high", "核心 data: {a:#}");
    assert_eq!(a["source_ip"], "192.168.10.5");
    let ctx = &a["context"];
    assert_eq!(ctx["asset"]["name"], "客户数据库", "{a:#}");
    assert_eq!(ctx["data_level"]["zh"], "核心数据");
    assert_eq!(ctx["data_level"]["en"], "core data");
    assert_eq!(ctx["bytes"], 120u64 << 20, "{a:#}");
    assert_eq!(ctx["peers"], json!(["198.51.100.7", "203.0.113.50"]));
    assert!(a["rule_title_zh"]
        .as_str()
        .unwrap()
        .contains("持有核心数据的资产大量外发数据"));
    assert!(a["rule_title"]
        .as_str()
        .unwrap()
        .contains("Large outbound transfer"));
    rt.block_on(server.shutdown()).unwrap();
}

#[test]
fn a_data_location_names_the_asset_it_was_seen_on() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));
    let imported = import(
        &c,
        "IP地址,主机名,资产名称,数据级别\n192.168.30.9,crm-db09.corp.local,客户关系库,重要\n",
    );
    let id = imported["assets"][0].as_i64().unwrap();
    let now = Utc::now().to_rfc3339();
    let events = [
        // Seen on the registered host (its short name).
        json!({"@timestamp": now, "host.name": "crm-db09", "message": "手机 13800138000 已登记"}),
        // And on one the register does not know.
        json!({"@timestamp": now, "host.name": "laptop-x", "user.phone": "13900139000"}),
    ];
    let (s, r) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&events));
    assert_eq!(s, 200, "{r}");
    let inv = || c.get("/api/v1/data/inventory").1;
    assert!(
        wait_until(30, || inv()["locations"]
            .as_array()
            .is_some_and(|l| l.len() >= 2)),
        "{:#}",
        inv()
    );
    let v = inv();
    let locs = v["locations"].as_array().unwrap();
    let msg = locs.iter().find(|l| l["field"] == "message").unwrap();
    assert_eq!(
        msg["assets"],
        json!([{"host": "crm-db09", "id": id, "name": "客户关系库"}]),
        "{msg:#}"
    );
    let phone = locs.iter().find(|l| l["field"] == "user.phone").unwrap();
    assert_eq!(phone["assets"], json!([]), "{phone:#}");
    // The export carries it too.
    let (s, _, csv) = c.get_text("/api/v1/data/inventory?format=csv", "content-type");
    assert_eq!(s, 200);
    assert!(csv.contains(&format!("#{id} 客户关系库")), "{csv}");
    let (_, _, csv) = c.get_text("/api/v1/data/inventory?format=csv&lang=en", "content-type");
    assert!(csv.lines().next().unwrap().contains(",assets,"), "{csv}");
    rt.block_on(server.shutdown()).unwrap();
}
