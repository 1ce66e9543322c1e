//! Search in the running service as a newcomer types it (`stats count by f
//! | sort -count`, an unknown column, a timechart over a long range), saved
//! searches scoped to their organisation, and a scheduled search that
//! raises an alert in its organisation's queue.

mod common;

use chrono::{TimeDelta, Utc};
use common::*;
use serde_json::{json, Value as J};

fn event(ts: chrono::DateTime<Utc>, host: &str, i: usize) -> J {
    json!({
        "@timestamp": ts.to_rfc3339(),
        "event.dataset": "test.saved",
        "host.name": host,
        "user.name": format!("u{i}"),
    })
}

#[test]
fn search_sorts_by_aggregates_saves_and_alerts_on_a_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // Looked at every second, so the first run of a new scheduled search
    // (due at once) comes within the test's patience.
    cfg.search.schedule_check_secs = 1;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let addr = server.http_addr;
    let admin = Client::login(addr, admin_password(&server));
    for id in ["op-a", "op-b"] {
        let (s, b) = admin.post("/api/v1/orgs", &json!({"id": id, "name": id}));
        assert_eq!(s, 200, "{b}");
    }
    let analyst_in = |org: &str| {
        let (s, t) = admin.post(
            "/api/v1/tokens",
            &json!({"name": format!("analyst-{org}"), "roles": ["analyst"], "org": org}),
        );
        assert_eq!(s, 200, "{t}");
        let mut c = Client::new(addr);
        c.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
        c
    };
    let (a, b) = (analyst_in("op-a"), analyst_in("op-b"));

    // host-1 ×3, host-2 ×1, host-3 ×2, just now, in op-a.
    let now = Utc::now() - TimeDelta::seconds(5);
    let hosts = ["host-1", "host-2", "host-3", "host-1", "host-3", "host-1"];
    let evs: Vec<J> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| event(now + TimeDelta::milliseconds(i as i64), h, i))
        .collect();
    let (s, r) = a.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs));
    assert_eq!(s, 200, "{r}");
    let search = |q: &str, from: &str| {
        a.post(
            "/api/v1/search",
            &json!({"query": q, "from": from, "to": "now"}),
        )
    };
    assert!(wait_until(15, || search(
        "event.dataset:test.saved | stats count()",
        "now-1h"
    )
    .1["rows"][0][0]
        == 6));

    // Sorted by the count, whichever way it is written.
    for q in [
        "event.dataset:test.saved | stats count() by host.name | sort -count",
        "event.dataset:test.saved | stats count by host.name | sort -count()",
    ] {
        let (s, r) = search(q, "now-1h");
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["columns"], json!(["host.name", "count"]), "{q}");
        assert_eq!(
            r["rows"],
            json!([["host-1", 3], ["host-3", 2], ["host-2", 1]]),
            "{q}"
        );
    }
    // An unknown column is refused, naming it and the ones there are.
    let (s, r) = search(
        "event.dataset:test.saved | stats count() by host.name | sort -nosuch",
        "now-1h",
    );
    assert_eq!(s, 400, "{r}");
    let msg = r["error"].as_str().unwrap();
    assert!(
        msg.contains("column 63") && msg.contains("'nosuch'") && msg.contains("host.name, count"),
        "{msg}"
    );
    // A timechart over 30 days without an interval: at most 200 buckets
    // (at one minute it would be 43,200).
    let (s, r) = search("event.dataset:test.saved | timechart count()", "now-30d");
    assert_eq!(s, 200, "{r}");
    let rows = r["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() <= 201, "{} rows", rows.len());
    assert_eq!(r["columns"], json!(["@timestamp", "count"]));

    // Saved searches: checked when saved, kept per organisation.
    let spec = json!({"name": "Busy hosts", "query": "event.dataset:test.saved | stats count by host.name | sort -count", "from": "now-7d"});
    let (s, saved) = a.post("/api/v1/saved-searches", &spec);
    assert_eq!(s, 200, "{saved}");
    assert_eq!(saved["org"], "op-a");
    let id = saved["id"].as_str().unwrap().to_string();
    let (s, r) = a.post("/api/v1/saved-searches", &spec);
    assert_eq!(s, 409, "{r}");
    let (s, r) = a.post(
        "/api/v1/saved-searches",
        &json!({"name": "broken", "query": "* | stats count() | sort -nosuch"}),
    );
    assert_eq!(s, 400, "{r}");
    let (s, r) = a.post(
        "/api/v1/saved-searches",
        &json!({"name": "too often", "query": "*", "interval_secs": 10, "enabled": true}),
    );
    assert_eq!(s, 400, "{r}");
    let (_, list) = a.get("/api/v1/saved-searches");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, list) = b.get("/api/v1/saved-searches");
    assert_eq!(list["items"], json!([]));
    assert_eq!(b.get(&format!("/api/v1/saved-searches/{id}")).0, 404);
    assert_eq!(b.delete(&format!("/api/v1/saved-searches/{id}")), 404);

    // Scheduled: every minute over the last minute, alert above 2 rows.
    let (s, r) = a.put(
        &format!("/api/v1/saved-searches/{id}"),
        &json!({"name": "Busy hosts", "query": "event.dataset:test.saved | stats count by host.name",
                "from": "now-7d", "interval_secs": 60, "threshold": 2, "level": "high", "enabled": true}),
    );
    assert_eq!(s, 200, "{r}");
    let alert = || -> Option<J> {
        let (_, r) = a.get("/api/v1/alerts?from=now-1h&to=now%2B1h");
        r["items"]
            .as_array()?
            .iter()
            .find(|x| x["kind"] == "search")
            .cloned()
    };
    assert!(
        wait_until(20, || alert().is_some()),
        "no alert from the schedule"
    );
    let al = alert().unwrap();
    assert_eq!(al["rule_title"], "Busy hosts");
    assert_eq!(al["org"], "op-a");
    assert_eq!(al["level"], "high");
    assert_eq!(al["summary"]["value"], 3);
    let (_, r) = a.get(&format!("/api/v1/saved-searches/{id}"));
    assert!(r["last_run"].is_string(), "{r}");
    assert!(r["last_result"].as_str().unwrap().contains("alert"), "{r}");
    // The other organisation sees neither the search nor its alert.
    let (_, r) = b.get("/api/v1/alerts?from=now-1h&to=now%2B1h");
    assert!(
        !r["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "search"),
        "{r}"
    );
    assert_eq!(a.delete(&format!("/api/v1/saved-searches/{id}")), 204);
    rt.block_on(server.shutdown()).unwrap();
}
