//! Threat intelligence in the running service: events stored first, an
//! indicator list imported later raises retrospective alerts for the
//! earlier contact, and new events matching it raise live alerts that carry
//! the indicator's context.

mod common;

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
    let c = Client::login(server.http_addr, server.admin_password.as_deref().unwrap());

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
