//! Incident handling against a running server (issue 14): events that fire
//! a rule on one host group into one incident; an analyst works it
//! 新建 → 研判 → 处置, comments, confirms the suggested category, grades it
//! (较大 for a CII → the 1-hour deadline); another organisation cannot see
//! it; after a restart a new alert of the same host joins the same open
//! incident.

mod common;

use chrono::DateTime;
use common::*;
use serde_json::{json, Value as J};

const PW: &str = "Lantern-orchid-71";

fn on_host(i: usize, host: &str) -> J {
    let mut e = sysmon_event(i, true);
    e["Computer"] = json!(host);
    e
}

/// The incidents `c` sees holding alerts of `host`, once the grouping has
/// caught up.
fn incidents_of(server: &taishi_serve::Server, c: &Client) -> Vec<J> {
    server.app.grouping.flush();
    let (s, page) = c.get("/api/v1/incidents?status=open");
    assert_eq!(s, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn act(c: &Client, id: &str, body: J) -> J {
    let (s, v) = c.post(&format!("/api/v1/incidents/{id}/actions"), &body);
    assert_eq!(s, 200, "{body}: {v}");
    v
}

#[test]
fn alerts_of_one_host_become_one_incident_worked_graded_and_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.incidents
        .reporters
        .insert("op-a".into(), taishi_incident::ReporterType::CiiOperator);
    let rt1 = rt();
    let server = rt1.block_on(taishi_serve::start(cfg.clone())).unwrap();
    let addr = server.http_addr;
    let admin = Client::login(addr, admin_password(&server));
    for (id, name) in [("op-a", "Operator A 甲"), ("op-b", "Operator B 乙")] {
        let (s, b) = admin.post("/api/v1/orgs", &json!({"id": id, "name": name}));
        assert_eq!(s, 200, "{b}");
    }
    for (u, org, role) in [
        ("ann", "op-a", "analyst"),
        ("bob", "op-b", "analyst"),
        ("vic", "op-a", "viewer"),
    ] {
        let (s, b) = admin.post(
            "/api/v1/users",
            &json!({"username": u, "password": PW, "roles": [role], "org": org}),
        );
        assert_eq!(s, 200, "{b}");
    }
    let (s, t) = admin.post(
        "/api/v1/tokens",
        &json!({"name": "ingest-a", "roles": ["analyst"], "org": "op-a"}),
    );
    assert_eq!(s, 200, "{t}");
    let mut sender = Client::new(addr);
    sender.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
    let send = |c: &Client, events: &[J]| {
        let (s, b) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(events));
        assert_eq!(s, 200, "{b}");
    };
    // Three attack events on one host (in its long and short name), one on
    // another host.
    send(
        &sender,
        &[
            on_host(1, "ws-drill.corp.example"),
            on_host(2, "WS-DRILL"),
            on_host(3, "ws-drill.corp.example"),
            on_host(4, "ws-other.corp.example"),
        ],
    );
    let ann = Client::login_as(addr, "ann", PW, None);
    assert!(wait_until(30, || {
        incidents_of(&server, &ann)
            .iter()
            .map(|i| i["alerts"].as_u64().unwrap())
            .sum::<u64>()
            == 4
    }));
    let list = incidents_of(&server, &ann);
    assert_eq!(list.len(), 2, "{list:?}");
    let drill = list
        .iter()
        .find(|i| i["alerts"] == 3)
        .expect("3 alerts, one incident");
    let id = drill["id"].as_str().unwrap().to_string();
    assert_eq!(
        (drill["org"].as_str(), drill["status"].as_str()),
        (Some("op-a"), Some("new"))
    );

    // The incident page: its alerts, the grouping key, suggestions.
    let (s, v) = ann.get(&format!("/api/v1/incidents/{id}"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["group_key"], "host:ws-drill");
    assert_eq!(v["incident"]["alerts"].as_array().unwrap().len(), 3);
    let alert_id = v["incident"]["alerts"][0]["alert_id"]
        .as_str()
        .unwrap()
        .to_string();
    // An alert shows its incident.
    let (_, by_alert) = ann.get(&format!("/api/v1/incidents?alert={alert_id}"));
    assert_eq!(by_alert["items"][0]["id"], id.as_str());
    let suggested = v["category_suggestions"][0]["subcategory"]
        .as_str()
        .expect("a category suggestion from the rule's ATT&CK tags")
        .to_string();

    // Another organisation does not see it, nor may it act on it; a viewer
    // reads but does not write.
    let bob = Client::login_as(addr, "bob", PW, None);
    assert_eq!(bob.get(&format!("/api/v1/incidents/{id}")).0, 404);
    let (s, _) = bob.post(
        &format!("/api/v1/incidents/{id}/actions"),
        &json!({"action": "comment", "text": "mine now"}),
    );
    assert_eq!(s, 404);
    assert_eq!(incidents_of(&server, &bob).len(), 0);
    let vic = Client::login_as(addr, "vic", PW, None);
    assert_eq!(vic.get(&format!("/api/v1/incidents/{id}")).0, 200);
    let (s, _) = vic.post(
        &format!("/api/v1/incidents/{id}/actions"),
        &json!({"action": "comment", "text": "x"}),
    );
    assert_eq!(s, 403);

    // 新建 → 研判 → 处置 (遏制); a skipped step is refused.
    let (s, e) = ann.post(
        &format!("/api/v1/incidents/{id}/actions"),
        &json!({"action": "transition", "to": "recovery"}),
    );
    assert_eq!(s, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("不允许"), "{e}");
    let v = act(
        &ann,
        &id,
        json!({"action": "transition", "to": "triage", "why": "looks real"}),
    );
    let stale = v["version"].as_i64().unwrap() - 1;
    act(&ann, &id, json!({"action": "assign", "owner": "ann"}));
    act(
        &ann,
        &id,
        json!({"action": "transition", "to": "containment"}),
    );
    act(
        &ann,
        &id,
        json!({"action": "comment", "text": "隔离主机 ws-drill / host isolated"}),
    );
    // A change naming an old version is refused.
    let (s, e) = ann.post(
        &format!("/api/v1/incidents/{id}/actions"),
        &json!({"action": "comment", "text": "late", "version": stale}),
    );
    assert_eq!(s, 409, "{e}");
    act(
        &ann,
        &id,
        json!({"action": "confirm_category", "code": suggested}),
    );
    let v = act(
        &ann,
        &id,
        json!({"action": "grade", "input": {
            "system": {"cii": true, "dengbao_level": 3},
            "system_loss": "considerable",
            "cii_total_outage_minutes": 40
        }}),
    );
    let inc = &v["incident"];
    assert_eq!(inc["status"], "containment");
    assert_eq!(inc["owner"], "ann");
    assert_eq!(inc["category"]["subcategory"], suggested.as_str());
    assert_eq!(inc["grade"]["grade"], "relatively_major");
    assert_eq!(v["grade_explained"]["decided_by"]["id"], "rm.system_loss");
    assert!(v["grade_explained"]["zh"]
        .as_str()
        .unwrap()
        .starts_with("较大"));
    // The clock: a CII operator reports within 1 hour of discovery.
    assert_eq!(v["reporter_type"], "cii_operator");
    let first = v["clock"]["due"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["obligation"]["kind"] == "first_report")
        .expect("a first-report deadline")
        .clone();
    let discovered = DateTime::parse_from_rfc3339(inc["discovered_at"].as_str().unwrap()).unwrap();
    let deadline = DateTime::parse_from_rfc3339(first["deadline"].as_str().unwrap()).unwrap();
    assert_eq!(deadline - discovered, chrono::Duration::hours(1));
    // The timeline holds the alerts and every action.
    let actions = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["item"] == "action")
        .count();
    assert!(actions >= 7, "{}", v["timeline"]);
    // The Art. 7 report as JSON.
    let (s, r) = ann.get(&format!("/api/v1/incidents/{id}/report?kind=first"));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["report"]["incident_id"], id.as_str());

    // Restart: the grouping's index comes back from the open incidents.
    rt1.block_on(server.shutdown()).unwrap();
    drop(rt1);
    let rt2 = rt();
    let server = rt2.block_on(taishi_serve::start(cfg)).unwrap();
    let addr = server.http_addr;
    let mut sender = Client::new(addr);
    sender.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
    send(&sender, &[on_host(5, "ws-drill")]);
    let ann = Client::login_as(addr, "ann", PW, None);
    assert!(wait_until(30, || {
        server.app.grouping.flush();
        let (_, v) = ann.get(&format!("/api/v1/incidents/{id}"));
        v["incident"]["alerts"].as_array().map(Vec::len) == Some(4)
    }));
    assert_eq!(incidents_of(&server, &ann).len(), 2, "no new incident");
    rt2.block_on(server.shutdown()).unwrap();
}
