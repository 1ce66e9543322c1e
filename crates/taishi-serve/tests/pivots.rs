//! Issue 13 item 13 on a real server: pivots from an alert (its hosts,
//! users, addresses and hashes; "other alerts" by user and address), the
//! process tree of a Sysmon process creation, assignment to anyone who can
//! work the alert, and rule exceptions made when closing a false positive.

mod common;

use common::*;
use serde_json::{json, Value as J};

const MARKER: &str = "taishi-e2e-marker";

/// A Sysmon process creation on `host`: `guid` created by `parent`.
fn proc(i: u32, host: &str, guid: &str, parent: &str, image: &str, cmd: &str) -> J {
    json!({
        "@timestamp": format!("2026-11-23T08:00:{i:02}+08:00"),
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": host,
        "ProcessGuid": guid,
        "ProcessId": 1000 + i,
        "ParentProcessGuid": parent,
        "ParentProcessId": 900 + i,
        "ParentImage": "C:\\Windows\\parent.exe",
        "Image": image,
        "CommandLine": cmd,
        "User": "CORP\\alice",
        "Hashes": "SHA256=AB12CD,MD5=EF34",
    })
}

#[test]
fn pivots_tree_assignment_and_rule_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    let run = Running::start(config(dir.path()), dir);
    let addr = run.server().http_addr;
    let admin = Client::login(addr, admin_password(run.server()));
    let (s, b) = admin.post("/api/v1/orgs", &json!({"id": "op-b", "name": "Operator B"}));
    assert_eq!(s, 200, "{b}");
    let sender = |org: &str| {
        let (s, t) = admin.post(
            "/api/v1/tokens",
            &json!({"name": format!("ingest-{org}"), "roles": ["analyst"], "org": org}),
        );
        assert_eq!(s, 200, "{t}");
        let mut c = Client::new(addr);
        c.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
        c
    };
    let (root_in, b_in) = (sender("root"), sender("op-b"));
    let send = |c: &Client, events: &[J]| {
        let (s, b) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(events));
        assert_eq!(s, 200, "{b}");
    };
    // Alerts of `host` (of every status), newest first.
    let alerts_of = |c: &Client, q: &str| -> Vec<J> {
        let (s, r) = c.get(&format!("/api/v1/alerts?status=&{q}"));
        assert_eq!(s, 200, "{r}");
        r["items"].as_array().unwrap().clone()
    };
    let wait_alerts = |q: &str, n: usize| -> Vec<J> {
        assert!(
            wait_until(30, || alerts_of(&admin, q).len() >= n),
            "{n} alerts of {q}"
        );
        alerts_of(&admin, q)
    };

    // A chain on pc1: explorer (whose own parent is not in the store) →
    // cmd → powershell with the marker (the alert) → whoami.
    let cmd = format!("powershell -enc {MARKER} backup");
    send(
        &root_in,
        &[
            proc(
                1,
                "pc1",
                "{G1}",
                "{G0}",
                "C:\\Windows\\explorer.exe",
                "explorer.exe",
            ),
            proc(
                2,
                "pc1",
                "{G2}",
                "{G1}",
                "C:\\Windows\\System32\\cmd.exe",
                "cmd /c run.bat",
            ),
            proc(
                3,
                "pc1",
                "{G3}",
                "{G2}",
                "C:\\Windows\\powershell.exe",
                &cmd,
            ),
            proc(
                4,
                "pc1",
                "{G4}",
                "{G3}",
                "C:\\Windows\\System32\\whoami.exe",
                "whoami /all",
            ),
        ],
    );
    let first = wait_alerts("host=pc1", 1);
    assert_eq!(first.len(), 1);
    let id = first[0]["id"].as_str().unwrap().to_string();

    // Pivots: host, user, hashes, each with its field; "other alerts" by user.
    let (s, detail) = admin.get(&format!("/api/v1/alerts/{id}"));
    assert_eq!(s, 200, "{detail}");
    let pivots = detail["pivots"].as_array().unwrap();
    let has = |role: &str, field: &str, value: &str| {
        pivots
            .iter()
            .any(|p| p["role"] == role && p["field"] == field && p["value"] == value)
    };
    // Sysmon's own names and their ECS copies (`host.name`, `user.name`)
    // both name them; the first of each role is the alert list's column.
    assert!(has("host", "host.name", "pc1"), "{pivots:?}");
    assert!(
        has("user", "user.name", "alice") && has("user", "User", "CORP\\alice"),
        "{pivots:?}"
    );
    let filter_of =
        |value: &str| pivots.iter().find(|p| p["value"] == value).unwrap()["alert_filter"].clone();
    assert_eq!(
        (filter_of("pc1"), filter_of("alice")),
        (json!("host"), json!("user"))
    );
    // Not the column's value: "search events" only.
    assert!(filter_of("CORP\\alice").is_null());
    assert!(
        has("hash", "Hashes", "AB12CD") && has("hash", "Hashes", "EF34"),
        "{pivots:?}"
    );
    assert_eq!(alerts_of(&admin, "user=alice").len(), 1);
    assert!(alerts_of(&admin, "user=bob").is_empty());

    // The process tree: two parents up, the missing grandparent named, one child.
    // Events become searchable a refresh after they are stored.
    let get_tree = || {
        let (s, tree) = admin.get(&format!("/api/v1/alerts/{id}/process-tree"));
        assert_eq!(s, 200, "{tree}");
        tree
    };
    assert!(wait_until(30, || get_tree()["children"]
        .as_array()
        .is_some_and(|c| !c.is_empty())));
    let tree = get_tree();
    assert_eq!(tree["source"], "sysmon");
    assert_eq!(tree["process"]["image"], "C:\\Windows\\powershell.exe");
    let images = |k: &str| -> Vec<String> {
        tree[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["image"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        images("ancestors"),
        [
            "C:\\Windows\\System32\\cmd.exe",
            "C:\\Windows\\explorer.exe"
        ]
    );
    assert_eq!(tree["parent_missing"], true);
    assert_eq!(tree["missing_parent"]["image"], "C:\\Windows\\parent.exe");
    assert_eq!(images("children"), ["C:\\Windows\\System32\\whoami.exe"]);

    // Assignment: anyone who can work alerts and see this one.
    for (u, role, org) in [
        ("rita", "responder", "root"),
        ("vic", "viewer", "root"),
        ("bea", "responder", "op-b"),
    ] {
        let (s, b) = admin.post(
            "/api/v1/users",
            &json!({"username": u, "password": "Lantern-orchid-71", "roles": [role], "org": org}),
        );
        assert_eq!(s, 200, "{b}");
    }
    let (s, who) = admin.get(&format!("/api/v1/alerts/assignees?alert_id={id}"));
    assert_eq!(s, 200, "{who}");
    let names: Vec<&str> = who["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"rita") && names.contains(&"admin"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"vic") && !names.contains(&"bea"),
        "{names:?}"
    );
    let (s, a) = admin.post(
        &format!("/api/v1/alerts/{id}/assign"),
        &json!({"assignee": "rita"}),
    );
    assert_eq!((s, a["assignee"].as_str()), (200, Some("rita")), "{a}");
    for u in ["vic", "bea"] {
        let (s, e) = admin.post(
            &format!("/api/v1/alerts/{id}/assign"),
            &json!({"assignee": u}),
        );
        assert_eq!(s, 400, "{e}");
        assert!(e.to_string().contains(u), "{e}");
    }
    let (s, a) = admin.post(
        &format!("/api/v1/alerts/{id}/assign"),
        &json!({"assignee": null}),
    );
    assert_eq!((s, a["assignee"].is_null()), (200, true), "{a}");

    // Closing as a false positive with an exception on host + command line.
    let (s, closed) = admin.post(
        &format!("/api/v1/alerts/{id}/close"),
        &json!({
            "resolution": "false_positive",
            "comment": "the nightly backup",
            "exception": {"fields": [
                {"field": "Computer", "value": "pc1"},
                {"field": "CommandLine", "value": cmd},
            ], "scope": "org"},
        }),
    );
    assert_eq!(s, 200, "{closed}");
    assert_eq!(closed["resolution"], "false_positive");
    let rule = first[0]["rule_id"].as_str().unwrap();
    let listed = |c: &Client| -> Vec<J> {
        let (s, r) = c.get(&format!("/api/v1/alerts/exceptions?rule_id={rule}"));
        assert_eq!(s, 200, "{r}");
        r["items"].as_array().unwrap().clone()
    };
    let x = listed(&admin);
    assert_eq!(x.len(), 1, "{x:?}");
    assert_eq!(
        (x[0]["author"].as_str(), x[0]["alert_id"].as_str()),
        (Some("admin"), Some(id.as_str()))
    );
    assert_eq!(x[0]["org"], "root");
    assert!(x[0]["expires"].is_string(), "a default expiry: {x:?}");

    // The identical event again: no alert; then one differing in its
    // command line: an alert (and, sent after, proof the first was seen).
    send(
        &root_in,
        &[proc(
            5,
            "pc1",
            "{G5}",
            "{G2}",
            "C:\\Windows\\powershell.exe",
            &cmd,
        )],
    );
    send(
        &root_in,
        &[proc(
            6,
            "pc1",
            "{G6}",
            "{G2}",
            "C:\\Windows\\powershell.exe",
            &format!("{cmd} --other"),
        )],
    );
    let now = wait_alerts("host=pc1", 2);
    assert_eq!(now.len(), 2, "the identical event raised no alert: {now:?}");
    assert!(now[0]["event"]["CommandLine"]
        .as_str()
        .unwrap()
        .ends_with("--other"));
    assert_eq!(listed(&admin)[0]["hits"], 1);
    assert!(listed(&admin)[0]["last_hit"].is_string());

    // Another organisation's identical event: the exception is root's own.
    send(
        &b_in,
        &[proc(
            7,
            "pc1",
            "{G7}",
            "{G2}",
            "C:\\Windows\\powershell.exe",
            &cmd,
        )],
    );
    let all = wait_alerts("host=pc1", 3);
    assert_eq!(all[0]["org"], "op-b");

    // An exception past its expiry applies no more.
    let soon = (chrono::Utc::now() + chrono::TimeDelta::seconds(2)).to_rfc3339();
    let (s, short) = admin.post(
        "/api/v1/alerts/exceptions",
        &json!({"rule_id": rule, "fields": [{"field": "Computer", "value": "pc2"}], "expires": soon}),
    );
    assert_eq!(s, 200, "{short}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    send(
        &root_in,
        &[proc(
            8,
            "pc2",
            "{G8}",
            "{G2}",
            "C:\\Windows\\powershell.exe",
            &cmd,
        )],
    );
    wait_alerts("host=pc2", 1);
    let listed_now = listed(&admin);
    let expired = listed_now.iter().find(|e| e["id"] == short["id"]).unwrap();
    assert_eq!(
        (expired["expired"].as_bool(), expired["hits"].as_u64()),
        (Some(true), Some(0))
    );

    // Limits and rights: an exception needs 1–10 values; a viewer may not
    // make one; deleting one makes the next identical alert fire again.
    let (s, _) = admin.post(
        "/api/v1/alerts/exceptions",
        &json!({"rule_id": rule, "fields": []}),
    );
    assert_eq!(s, 400);
    let vic = Client::login_as(addr, "vic", "Lantern-orchid-71", None);
    let (s, _) = vic.post(
        "/api/v1/alerts/exceptions",
        &json!({"rule_id": rule, "fields": [{"field": "Computer", "value": "pc9"}]}),
    );
    assert_eq!(s, 403);
    let xid = x[0]["id"].as_str().unwrap();
    assert_eq!(
        admin.delete(&format!("/api/v1/alerts/exceptions/{xid}")),
        200
    );
    send(
        &root_in,
        &[proc(
            9,
            "pc1",
            "{G9}",
            "{G2}",
            "C:\\Windows\\powershell.exe",
            &cmd,
        )],
    );
    wait_alerts("host=pc1", 4);
}
