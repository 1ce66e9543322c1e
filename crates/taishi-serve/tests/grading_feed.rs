//! Issue 14's grading aid fed by what Taishi already knows, against a
//! running server:
//! - the people whose personal information leaked come from the attached
//!   `pii` leak alerts (issue 16's counters): grading without entering them
//!   uses the alerts' count, and a leak alert added after grading grades
//!   the incident again;
//! - the affected system's importance (CII flag, 等保 level) and the data
//!   level come from the asset register as hints for the grading form;
//! - the queue's deadline order (`?sort=deadline`) holds across pages.

mod common;

use common::*;
use serde_json::{json, Value as J};

/// A database audit record of a bulk query naming personal-information
/// columns on `host`: a `pii:bulk_query` alert counting `rows` people.
fn bulk_query(host: &str, rows: u64) -> J {
    json!({
        "@timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "event.category": "database",
        "host.name": host,
        "user.name": "report_svc",
        "db.statement": "SELECT name, id_card, mobile FROM crm.customers",
        "db.response.returned_rows": rows,
    })
}

fn act(c: &Client, id: &str, body: J) -> J {
    let (s, v) = c.post(&format!("/api/v1/incidents/{id}/actions"), &body);
    assert_eq!(s, 200, "{body}: {v}");
    v
}

fn create(c: &Client, alert: &str) -> String {
    let (s, v) = c.post("/api/v1/incidents", &json!({"alerts": [alert]}));
    assert_eq!(s, 200, "{v}");
    v["incident"]["id"].as_str().unwrap().to_string()
}

#[test]
fn leak_counts_and_the_register_feed_the_grade_and_the_queue_sorts_by_deadline_across_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // Incidents are made by hand here, so the test knows each one's alerts.
    cfg.incidents.grouping = false;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, admin_password(&server));

    // The register: the CRM database is a CII system at 等保 level 3
    // holding core data.
    import_inventory(
        &c,
        "主机名,资产名称,业务系统,关基,等保级别,数据级别\ndb-crm,客户数据库,客户服务,是,3,核心\n",
    );

    let ingest = |events: &[J]| {
        let (s, r) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(events));
        assert_eq!(s, 200, "{r}");
    };
    let pii_alerts = || -> Vec<J> {
        let (_, page) = c.get("/api/v1/alerts?kind=pii&limit=100");
        page["items"].as_array().cloned().unwrap_or_default()
    };
    // Discovery times one second apart, so the deadlines differ.
    ingest(&[bulk_query("db-crm", 1_200_000)]);
    assert!(wait_until(30, || pii_alerts().len() == 1));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ingest(&[bulk_query("db-hr", 300_000), bulk_query("db-web", 5_000)]);
    assert!(wait_until(30, || pii_alerts().len() == 3));
    let by_host = |h: &str| -> String {
        pii_alerts()
            .into_iter()
            .find(|a| a["host"] == h)
            .unwrap_or_else(|| panic!("no alert on {h}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (crm, hr, web) = (by_host("db-crm"), by_host("db-hr"), by_host("db-web"));

    // The HR leak alone: 300,000 people, below the 较大 row of 1,000,000.
    let late = create(&c, &hr);
    let v = act(&c, &late, json!({"action": "grade", "input": {}}));
    let g = &v["incident"]["grade"];
    assert_eq!(
        g["input"]["pi_people_leaked"], 300_000,
        "fed from the alert: {g:#}"
    );
    assert_eq!(g["grade"], "general", "{g:#}");
    assert_eq!(v["grading_hints"]["input"]["pi_people_leaked"], 300_000);
    // The CRM leak joins it: 1,500,000 people now (an upper bound: the two
    // alerts could count the same person), which grades it 较大 again by
    // itself, and the reporting clock starts.
    let v = act(&c, &late, json!({"action": "add_alert", "alert": crm}));
    let g = &v["incident"]["grade"];
    assert_eq!(g["input"]["pi_people_leaked"], 1_500_000, "{g:#}");
    assert_eq!(g["grade"], "relatively_major", "{g:#}");
    assert!(
        v["grade_explained"]["decided_by"]["criterion"] == "pi_people_leaked",
        "{:#}",
        v["grade_explained"]
    );
    assert!(
        !v["clock"]["due"].as_array().unwrap().is_empty(),
        "{:#}",
        v["clock"]
    );
    // What the analyst enters wins over the count.
    let mut entered = act(
        &c,
        &late,
        json!({"action": "grade", "input": {"pi_people_leaked": 5}}),
    );
    assert_eq!(entered["incident"]["grade"]["grade"], "general");
    entered = act(&c, &late, json!({"action": "grade", "input": {}}));
    assert_eq!(entered["incident"]["grade"]["grade"], "relatively_major");

    // The register's hints: db-crm is a registered CII asset with core data.
    let hints = &entered["grading_hints"];
    assert_eq!(hints["assets"][0]["name"], "客户数据库", "{hints:#}");
    assert_eq!(hints["input"]["system"]["cii"], true, "{hints:#}");
    assert_eq!(hints["input"]["system"]["dengbao_level"], 3, "{hints:#}");
    assert_eq!(hints["input"]["data"]["core"], true, "{hints:#}");
    assert_eq!(
        hints["assets"].as_array().unwrap().len(),
        1,
        "db-hr is not registered"
    );

    // The queue across pages of one: the incident whose deadline comes
    // first (the CRM leak, discovered a second earlier), then the one above,
    // then the ungraded one.
    let early = create(&c, &crm);
    act(&c, &early, json!({"action": "grade", "input": {}}));
    let none = create(&c, &web);
    // Touch the ungraded one last so that newest-first would put it first.
    act(&c, &none, json!({"action": "comment", "text": "checked"}));
    let mut order = Vec::new();
    for offset in 0..3 {
        let (s, page) = c.get(&format!(
            "/api/v1/incidents?sort=deadline&limit=1&offset={offset}"
        ));
        assert_eq!(s, 200, "{page}");
        assert_eq!(page["total"], 3, "{page:#}");
        order.push(page["items"][0]["id"].as_str().unwrap().to_string());
    }
    let deadline_of = |id: &str| {
        let (_, v) = c.get(&format!("/api/v1/incidents/{id}"));
        v["clock"]["due"][0]["deadline"].clone()
    };
    assert_eq!(
        order,
        [early.clone(), late.clone(), none.clone()],
        "deadlines {} and {}",
        deadline_of(&early),
        deadline_of(&late)
    );
    let (_, page) = c.get("/api/v1/incidents?sort=deadline&limit=10");
    assert!(
        page["items"][0]["next_due"]["deadline"].is_string(),
        "{page:#}"
    );
    assert!(page["items"][2]["next_due"].is_null(), "{page:#}");
    rt.block_on(server.shutdown()).unwrap();
}
