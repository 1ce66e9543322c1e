//! Threat intelligence in the running service: events stored first, an
//! indicator list imported later raises retrospective alerts for the
//! earlier contact, and new events matching it raise live alerts that carry
//! the indicator's context.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use common::*;
use serde_json::{json, Value as J};

fn connection(ts: chrono::DateTime<Utc>, dst: &str, domain: &str) -> J {
    json!({
        "@timestamp": ts.to_rfc3339(),
        "event.dataset": "zeek.dns",
        "host.name": "gw01",
        "source.ip": "10.1.2.3",
        "destination.ip": dst,
        "dns.question.name": domain,
    })
}

#[test]
fn indicators_match_live_and_retrospectively() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, common::admin_password(&server));

    // Contact with infrastructure nobody knows to be bad yet.
    let earlier = Utc::now() - TimeDelta::days(3);
    let evs = vec![
        connection(earlier, "198.51.100.77", "www.example.com"),
        connection(
            earlier + TimeDelta::minutes(1),
            "192.0.2.1",
            "cdn.evil-c2.example",
        ),
        connection(
            earlier + TimeDelta::minutes(2),
            "192.0.2.2",
            "www.example.org",
        ),
    ];
    assert_eq!(
        c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs))
            .0,
        200
    );
    let searchable = || {
        c.post(
            "/api/v1/search",
            &json!({"query": "host.name:gw01", "from": "now-30d", "to": "now"}),
        )
        .1["total"]
            == 3
    };
    assert!(wait_until(10, searchable), "events not searchable");
    assert_eq!(c.get("/api/v1/alerts").1["total"], 0);

    // The list arrives: an IP and a domain (matching its subdomains).
    let (s, r) = c.post_raw(
        "/api/v1/intel/import?name=cert-list&format=text",
        "text/plain",
        b"# CERT advisory\n198.51.100.77\nevil-c2.example\n",
    );
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["report"]["added"], 2, "{r}");

    let retro = || c.get("/api/v1/alerts?limit=10").1;
    assert!(wait_until(15, || retro()["total"] == 2), "{}", retro());
    let alerts = retro();
    for a in alerts["items"].as_array().unwrap() {
        assert_eq!(a["kind"], "intel", "{a}");
        assert_eq!(a["retrospective"], true, "{a}");
        assert_eq!(a["summary"]["intel.source"], "cert-list", "{a}");
        assert_eq!(a["host"], "gw01");
    }
    let titles: Vec<&str> = alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule_title"].as_str().unwrap())
        .collect();
    assert!(
        titles.iter().any(|t| t.contains("198.51.100.77")),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.contains("evil-c2.example")),
        "{titles:?}"
    );

    // New contact is matched as it arrives.
    let now = Utc::now();
    let live = vec![
        connection(now, "192.0.2.9", "a.b.evil-c2.example"),
        connection(now, "192.0.2.10", "benign.example"),
    ];
    assert_eq!(
        c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&live))
            .0,
        200
    );
    assert!(wait_until(5, || retro()["total"] == 3));
    let newest = &retro()["items"][0];
    assert_eq!(newest["retrospective"], false, "{newest}");
    assert_eq!(
        newest["summary"]["matched"], "a.b.evil-c2.example",
        "{newest}"
    );
    assert_eq!(
        newest["event"]["threat.indicator"]["indicator"], "evil-c2.example",
        "{newest}"
    );

    // Indicator search and source status.
    let found = c.get("/api/v1/intel/indicators?q=evil").1;
    assert_eq!(found["total"], 1, "{found}");
    let st = c.get("/api/v1/intel").1;
    assert!(st["sources"]["cert-list"].is_object(), "{st}");
    let (s, e) = c.post_raw(
        "/api/v1/intel/import?name=bad&format=nonsense",
        "text/plain",
        b"x",
    );
    assert_eq!(s, 400, "{e}");

    rt.block_on(server.shutdown()).unwrap();
}

/// A feed server on 127.0.0.1: `/feodo.csv` is the abuse.ch Feodo Tracker
/// sample, anything else a 404. Counts the requests for the sample.
fn feed_server(body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut line = String::new();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            if r.read_line(&mut line).is_err() {
                continue;
            }
            // Skip the headers.
            loop {
                let mut hdr = String::new();
                if r.read_line(&mut hdr).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let (status, data): (&str, &[u8]) = if line.starts_with("GET /feodo.csv ") {
                h.fetch_add(1, Ordering::SeqCst);
                ("200 OK", &body)
            } else {
                ("404 Not Found", b"not here")
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                data.len()
            );
            let _ = conn.write_all(data);
        }
    });
    (base, hits)
}

#[test]
fn scheduled_feeds_are_pulled_with_status_and_hits() {
    let Some(feodo) = taishi_testdata::read("threat-intel/abusech/feodotracker_ipblocklist.csv")
    else {
        return;
    };
    let (base, pulls) = feed_server(feodo);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.intel.feed_check_secs = 1;
    // The feed server is on 127.0.0.1.
    cfg.egress.allow_private = true;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let addr = server.http_addr;
    let c = Client::login(addr, common::admin_password(&server));

    // An analyst may pull but not add; a viewer may only read.
    let token = |role: &str| {
        let (s, t) = c.post("/api/v1/tokens", &json!({"name": role, "roles": [role]}));
        assert_eq!(s, 200, "{t}");
        let mut cl = Client::new(addr);
        cl.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
        cl
    };
    let (analyst, viewer) = (token("analyst"), token("viewer"));
    let feodo_feed = json!({"name": "feodo", "kind": "url", "url": format!("{base}/feodo.csv"),
        "format": "feodo", "interval_secs": 3600});
    assert_eq!(analyst.post("/api/v1/intel/feeds", &feodo_feed).0, 403);
    assert_eq!(viewer.post("/api/v1/intel/feeds", &feodo_feed).0, 403);

    // Bad feeds are refused with the field named.
    let (s, e) = c.post(
        "/api/v1/intel/feeds",
        &json!({"name": "x", "kind": "url", "url": "ftp://nowhere", "interval_secs": 60}),
    );
    assert_eq!(s, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("url"), "{e}");

    let (s, f) = c.post("/api/v1/intel/feeds", &feodo_feed);
    assert_eq!(s, 201, "{f}");
    assert_eq!(f["name"], "feodo");
    assert_eq!(c.post("/api/v1/intel/feeds", &feodo_feed).0, 409);
    // A feed that fails does not stop the others.
    let (s, _) = c.post(
        "/api/v1/intel/feeds",
        &json!({"name": "gone", "kind": "url", "url": format!("{base}/missing.csv"),
            "format": "text", "interval_secs": 3600}),
    );
    assert_eq!(s, 201);

    // The scheduler pulls both within a few seconds.
    let feeds = || c.get("/api/v1/intel/feeds").1;
    let by_name = |v: &J, n: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == n)
            .cloned()
            .unwrap_or(J::Null)
    };
    assert!(
        wait_until(20, || {
            let v = feeds();
            !by_name(&v, "feodo")["last_success"].is_null()
                && !by_name(&v, "gone")["last_pull"].is_null()
        }),
        "{}",
        feeds()
    );
    let v = feeds();
    let ok = by_name(&v, "feodo");
    assert!(ok["indicators"].as_u64().unwrap() > 10, "{ok}");
    assert_eq!(ok["added"], ok["indicators"], "{ok}");
    assert!(ok["last_error"].is_null(), "{ok}");
    assert!(ok["next_pull"].as_str().unwrap() > ok["last_pull"].as_str().unwrap());
    let bad = by_name(&v, "gone");
    assert!(bad["last_error"].as_str().unwrap().contains("404"), "{bad}");
    assert_eq!(pulls.load(Ordering::SeqCst), 1, "pulled once per interval");

    // Contact with a Feodo C2 raises an intel alert with its context.
    let now = Utc::now();
    let ev = json!({"@timestamp": now.to_rfc3339(), "event.dataset": "zeek.conn",
        "host.name": "ws7", "source.ip": "10.0.0.7", "destination.ip": "192.9.135.73",
        "destination.port": 1194});
    assert_eq!(
        c.post_raw(
            "/api/v1/ingest",
            "application/x-ndjson",
            &ndjson(&[ev.clone(), ev])
        )
        .0,
        200
    );
    let hits = || c.get("/api/v1/intel/hits?indicator=192.9.135.73").1;
    assert!(wait_until(10, || hits()["total"] == 2), "{}", hits());
    let h = hits();
    assert_eq!(h["items"][0]["kind"], "intel");
    assert_eq!(h["items"][0]["summary"]["malware"], "Pikabot", "{h}");
    let found = viewer
        .get("/api/v1/intel/indicators?q=192.9.135&source=feodo")
        .1;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["hits"], 2, "{found}");
    assert!(found["items"][0]["last_hit"].is_string(), "{found}");
    let typed = viewer
        .get("/api/v1/intel/indicators?type=ip&limit=5&offset=5")
        .1;
    assert_eq!(typed["total"], ok["indicators"], "{typed}");
    assert_eq!(typed["items"].as_array().unwrap().len(), 5, "{typed}");
    let top = viewer.get("/api/v1/intel/hits/top").1;
    assert_eq!(top["items"][0]["indicator"], "192.9.135.73", "{top}");
    assert_eq!(top["items"][0]["hits"], 2, "{top}");
    assert_eq!(top["items"][0]["source"], "feodo", "{top}");
    assert_eq!(viewer.get("/api/v1/intel/hits").0, 400);

    // Pull now: analysts may; the same list changes nothing; a failing
    // feed answers 502 with its error.
    assert_eq!(
        viewer.post("/api/v1/intel/feeds/feodo/pull", &json!({})).0,
        403
    );
    let (s, r) = analyst.post("/api/v1/intel/feeds/feodo/pull", &json!({}));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["report"]["added"], 0, "{r}");
    assert_eq!(pulls.load(Ordering::SeqCst), 2);
    let (s, r) = analyst.post("/api/v1/intel/feeds/gone/pull", &json!({}));
    assert_eq!(s, 502, "{r}");
    assert_eq!(
        analyst.post("/api/v1/intel/feeds/nope/pull", &json!({})).0,
        404
    );
    assert_eq!(c.get("/api/v1/intel").1["feeds"], 2);

    // Removing a feed removes its indicators.
    assert_eq!(analyst.delete("/api/v1/intel/feeds/feodo"), 403);
    assert_eq!(c.delete("/api/v1/intel/feeds/feodo"), 204);
    assert_eq!(c.delete("/api/v1/intel/feeds/feodo"), 404);
    let left = c.get("/api/v1/intel/indicators?source=feodo").1;
    assert_eq!(left["total"], 0, "{left}");
    assert_eq!(by_name(&feeds(), "feodo"), J::Null);

    rt.block_on(server.shutdown()).unwrap();
}
