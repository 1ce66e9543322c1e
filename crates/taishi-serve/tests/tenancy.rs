//! Organisations against a running server: two operators under one CERT
//! send events with their own ingest tokens; search, alerts, the overview,
//! the live stream's threat figures, intel hits and the field list of one
//! never show the other's, and the CERT sees both. A sender cannot file
//! its events under a sibling's name.

mod common;

use common::*;
use serde_json::{json, Value as J};

struct Running {
    rt: tokio::runtime::Runtime,
    server: Option<taishi_serve::Server>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

const RANGE: (&str, &str) = ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");

fn marker(i: usize, host: &str, claims: Option<&str>) -> J {
    let mut e = sysmon_event(i, true);
    e["Computer"] = json!(host);
    if let Some(c) = claims {
        e["organization"] = json!({"id": c});
    }
    e
}

#[test]
fn two_operators_never_see_each_other_and_the_cert_sees_both() {
    let dir = tempfile::tempdir().unwrap();
    run(config(dir.path()), dir);
}

/// The same against a real PostgreSQL (`TAISHI_TEST_PG`, see
/// scripts/setup.d/postgres.sh): the scoping is the state's SQL, so it is
/// checked on both databases.
#[test]
fn two_operators_never_see_each_other_and_t_on_postgresql() {
    let Some(db) =
        taishi_state::testdb::TestDb::postgres("two_operators_never_see_each_other_and_t")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.state.database = db.url();
    run(cfg, dir);
    drop(db);
}

fn run(cfg: taishi_serve::Config, dir: tempfile::TempDir) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let addr = server.http_addr;
    let cert = Client::login(addr, admin_password(&server));
    let _run = Running {
        rt,
        server: Some(server),
        _dir: dir,
    };

    for (id, name) in [("op-a", "Operator A 甲"), ("op-b", "Operator B 乙")] {
        let (s, b) = cert.post("/api/v1/orgs", &json!({"id": id, "name": name}));
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = cert.post(
        "/api/v1/orgs",
        &json!({"id": "op-a-1", "parent": "op-a", "name": "A's subsidiary"}),
    );
    assert_eq!(s, 200, "{b}");
    // An ingest token per operator: what it sends belongs there.
    let sender = |org: &str| {
        let (s, t) = cert.post(
            "/api/v1/tokens",
            &json!({"name": format!("ingest-{org}"), "roles": ["analyst"], "org": org}),
        );
        assert_eq!(s, 200, "{t}");
        assert_eq!(t["org"], org);
        let mut c = Client::new(addr);
        c.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
        c
    };
    let (a_in, a1_in, b_in) = (sender("op-a"), sender("op-a-1"), sender("op-b"));
    let send = |c: &Client, events: &[J]| {
        let (s, b) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(events));
        assert_eq!(s, 200, "{b}");
    };
    send(
        &a_in,
        &[marker(1, "a-ws1", None), marker(2, "a-ws2", Some("op-b"))],
    );
    send(&a1_in, &[marker(3, "a1-ws1", None)]);
    // op-b claims op-a's name in the event: stamped op-b all the same.
    send(
        &b_in,
        &[marker(4, "b-ws1", Some("op-a")), marker(5, "b-ws2", None)],
    );

    // A viewer in each operator.
    for (u, org) in [("ann", "op-a"), ("bob", "op-b")] {
        let (s, b) = cert.post(
            "/api/v1/users",
            &json!({"username": u, "password": "Lantern-orchid-71", "roles": ["viewer"], "org": org}),
        );
        assert_eq!(s, 200, "{b}");
    }
    let ann = Client::login_as(addr, "ann", "Lantern-orchid-71", None);
    let bob = Client::login_as(addr, "bob", "Lantern-orchid-71", None);

    let hosts = |c: &Client| -> Vec<String> {
        let (s, r) = c.post(
            "/api/v1/search",
            &json!({"query": "CommandLine:*taishi-e2e-marker*", "from": RANGE.0, "to": RANGE.1, "limit": 100}),
        );
        assert_eq!(s, 200, "{r}");
        let mut v: Vec<String> = r["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Computer"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert!(
        wait_until(15, || hosts(&cert).len() == 5),
        "{:?}",
        hosts(&cert)
    );
    assert_eq!(hosts(&ann), ["a-ws1", "a-ws2", "a1-ws1"]);
    assert_eq!(hosts(&bob), ["b-ws1", "b-ws2"]);
    // The query language cannot widen the view.
    let (_, r) = bob.post(
        "/api/v1/search",
        &json!({"query": "organization.id:op-a OR NOT organization.id:op-b", "from": RANGE.0, "to": RANGE.1}),
    );
    assert_eq!(r["total"], 0, "{r}");

    let alert_hosts = |c: &Client| -> Vec<String> {
        let (s, r) = c.get(&format!(
            "/api/v1/alerts?time=event&from={}&to={}&limit=100",
            RANGE.0, RANGE.1
        ));
        assert_eq!(s, 200, "{r}");
        let mut v: Vec<String> = r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["host"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    };
    assert!(wait_until(15, || alert_hosts(&cert).len() == 5));
    assert_eq!(alert_hosts(&ann), ["a-ws1", "a-ws2", "a1-ws1"]);
    assert_eq!(alert_hosts(&bob), ["b-ws1", "b-ws2"]);
    // A sibling's alert by id is as absent as a missing one.
    let (_, r) = ann.get(&format!(
        "/api/v1/alerts?time=event&from={}&to={}",
        RANGE.0, RANGE.1
    ));
    let a_id = r["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(bob.get(&format!("/api/v1/alerts/{a_id}")).0, 404);
    assert_eq!(ann.get(&format!("/api/v1/alerts/{a_id}")).0, 200);
    assert_eq!(bob.get(&format!("/api/v1/alerts/{a_id}/related")).0, 404);

    // The overview: each its own alerts; the platform's figures only for
    // the CERT.
    let overview = |c: &Client| {
        c.get(&format!(
            "/api/v1/overview?time=event&from={}&to={}",
            RANGE.0, RANGE.1
        ))
        .1
    };
    let (oa, ob, oc) = (overview(&ann), overview(&bob), overview(&cert));
    assert_eq!(
        (
            oa["alerts_total"].clone(),
            ob["alerts_total"].clone(),
            oc["alerts_total"].clone()
        ),
        (json!(3), json!(2), json!(5))
    );
    assert_eq!(ob["events_total"], 2, "{ob}");
    assert!(ob["listeners"].as_array().unwrap().is_empty());
    let top_hosts = |o: &J| o.to_string();
    assert!(!top_hosts(&ob).contains("a-ws1"), "{ob}");
    assert!(!top_hosts(&oa).contains("b-ws1"), "{oa}");

    // Alert groups and the field list follow the same scope.
    let (_, g) = bob.get(&format!(
        "/api/v1/alerts/groups?by=host&time=event&from={}&to={}",
        RANGE.0, RANGE.1
    ));
    assert!(!g.to_string().contains("a-ws"), "{g}");
    let (_, f) = bob.get(&format!("/api/v1/fields?from={}&to={}", RANGE.0, RANGE.1));
    assert!(
        !f.to_string().contains("a-ws1") && f.to_string().contains("b-ws1"),
        "{f}"
    );

    // The organisation switcher narrows the CERT's view to one member (and
    // its children); a member cannot widen its own.
    let narrowed = |c: &Client, org: &str| -> (u16, J) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .get(&format!(
                "{}/api/v1/alerts?time=event&from={}&to={}&limit=100",
                c.base, RANGE.0, RANGE.1
            ))
            .header("authorization", &c.auth)
            .header("x-taishi-org", org)
            .call()
            .unwrap();
        let s = r.status().as_u16();
        (s, r.body_mut().read_json().unwrap_or(J::Null))
    };
    assert_eq!(narrowed(&cert, "op-a").1["total"], 3);
    assert_eq!(narrowed(&cert, "op-a-1").1["total"], 1);
    assert_eq!(narrowed(&cert, "op-b").1["total"], 2);
    assert_eq!(narrowed(&bob, "op-a").0, 403);
    assert_eq!(narrowed(&ann, "op-a-1").1["total"], 1);

    // Shared down, overridden below: op-b's analyst switches the marker
    // rule off for op-b; it keeps running for op-a, and the CERT's view of
    // the rule is unchanged.
    let analyst = |u: &str, org: &str| {
        let (s, b) = cert.post(
            "/api/v1/users",
            &json!({"username": u, "password": "Copper-harbor-52", "roles": ["analyst"], "org": org}),
        );
        assert_eq!(s, 200, "{b}");
        Client::login_as(addr, u, "Copper-harbor-52", None)
    };
    let (ana, bea) = (analyst("ana", "op-a"), analyst("bea", "op-b"));
    let rule = "/api/v1/rules/0b5c2d9e-7d4f-4c4b-9a57-000000000001";
    let (s, r) = bea.post(&format!("{rule}/disable"), &json!({}));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["enabled"], false, "{r}");
    assert_eq!(bea.get(rule).1["enabled"], false);
    assert_eq!(cert.get(rule).1["enabled"], true);
    assert_eq!(ana.get(rule).1["enabled"], true);
    send(&a_in, &[marker(10, "a-ws3", None)]);
    send(&b_in, &[marker(11, "b-ws3", None)]);
    assert!(
        wait_until(15, || alert_hosts(&cert).len() == 6),
        "{:?}",
        alert_hosts(&cert)
    );
    assert!(alert_hosts(&cert).contains(&"a-ws3".to_string()));
    assert!(!alert_hosts(&cert).contains(&"b-ws3".to_string()));

    // An intel source op-a imports applies to op-a's events only.
    let (s, r) = ana.post_raw(
        "/api/v1/intel/import?name=a-list&format=text",
        "text/plain",
        b"198.51.100.77\n",
    );
    assert_eq!(s, 200, "{r}");
    let contact = |i: usize, host: &str| {
        let mut e = sysmon_event(i, false);
        e["Computer"] = json!(host);
        e["destination.ip"] = json!("198.51.100.77");
        e
    };
    send(&a_in, &[contact(20, "a-ws4")]);
    send(&b_in, &[contact(21, "b-ws4")]);
    let intel_hosts = || -> Vec<String> {
        let (_, r) = cert.get(&format!(
            "/api/v1/alerts?time=event&from={}&to={}&limit=100",
            RANGE.0, RANGE.1
        ));
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "intel")
            .map(|a| a["host"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert!(wait_until(15, || !intel_hosts().is_empty()));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(intel_hosts(), ["a-ws4"]);
    // op-b may not take op-a's source over.
    let (s, _) = bea.post_raw(
        "/api/v1/intel/import?name=a-list&format=text",
        "text/plain",
        b"203.0.113.9\n",
    );
    assert_eq!(s, 409);
    // A sibling's indicators are absent from lists; the CERT's are shared.
    let (s, r) = cert.post_raw(
        "/api/v1/intel/import?name=cert-list&format=text",
        "text/plain",
        b"203.0.113.50\n",
    );
    assert_eq!(s, 200, "{r}");
    let listed = |c: &Client| c.get("/api/v1/intel/indicators?limit=100").1.to_string();
    assert!(listed(&ann).contains("198.51.100.77") && listed(&ann).contains("203.0.113.50"));
    assert!(!listed(&bea).contains("198.51.100.77"), "{}", listed(&bea));
    assert!(listed(&bea).contains("203.0.113.50"), "{}", listed(&bea));
    assert!(!bea.get("/api/v1/intel").1["sources"]
        .to_string()
        .contains("a-list"));
    assert_eq!(
        bea.get("/api/v1/intel/indicators?source=a-list").1["total"],
        0
    );
    // Nor may a member overwrite the CERT's source.
    let (s, _) = bea.post_raw(
        "/api/v1/intel/import?name=cert-list&format=text",
        "text/plain",
        b"203.0.113.9\n",
    );
    assert_eq!(s, 409);

    // The live stream: bob's ticks carry op-b's new alerts, never op-a's.
    let stream = |c: &Client| {
        let (base, auth) = (c.base.clone(), c.auth.clone());
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(std::time::Duration::from_secs(7)))
                .build()
                .into();
            let mut r = agent
                .get(&format!("{base}/api/v1/stream"))
                .header("authorization", &auth)
                .call()
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let mut out = Vec::new();
            let mut reader = r.body_mut().as_reader();
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let (ann_stream, bob_stream) = (stream(&ann), stream(&bob));
    std::thread::sleep(std::time::Duration::from_millis(500));
    send(&a_in, &[marker(30, "a-ws5", None)]);
    send(&b_in, &[marker(31, "b-ws5", None)]);
    let ticks = bob_stream.join().unwrap();
    let ann_ticks = ann_stream.join().unwrap();
    assert!(
        ann_ticks.contains("a-ws5"),
        "op-a's stream lacks its own alert: {ann_ticks}"
    );
    assert!(ticks.contains("event: tick"), "{ticks}");
    assert!(
        !ticks.contains("a-ws5"),
        "op-a's alert in op-b's stream: {ticks}"
    );
    // (op-b switched the marker rule off above: its own alert is held back too.)
    assert!(!ticks.contains("b-ws5"), "{ticks}");

    // Intel hits: op-a's indicator hit is op-a's.
    let top = |c: &Client| c.get("/api/v1/intel/hits/top").1.to_string();
    assert!(top(&ann).contains("198.51.100.77"), "{}", top(&ann));
    assert!(!top(&bob).contains("198.51.100.77"), "{}", top(&bob));
    let (_, h) = bob.get("/api/v1/intel/hits?indicator=198.51.100.77");
    assert_eq!(h["total"], 0, "{h}");

    // An audit administrator of op-b reads op-b's records only.
    let (s, b) = cert.post(
        "/api/v1/users",
        &json!({"username": "bo-aud", "password": "Copper-harbor-52", "roles": ["auditor"], "org": "op-b"}),
    );
    assert_eq!(s, 200, "{b}");
    let aud = Client::login_as(addr, "bo-aud", "Copper-harbor-52", None);
    let (s, p) = aud.get("/api/v1/audit?limit=1000");
    assert_eq!(s, 200, "{p}");
    let actors: std::collections::BTreeSet<String> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actor"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        actors.contains("bea") && actors.contains("bo-aud"),
        "{actors:?}"
    );
    assert!(
        !actors.contains("ana") && !actors.contains("admin"),
        "{actors:?}"
    );

    // Users and organisations: each sees its own subtree.
    let (_, orgs) = ann.get("/api/v1/orgs");
    let ids: Vec<&str> = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["op-a", "op-a-1"]);
    let (_, me) = bob.get("/api/v1/auth/me");
    assert_eq!(me["org"], "op-b");
    assert!(me["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("search")));
}

/// A listener binds what it receives: by the sender's address first
/// (`org_by_source`), else its `org`; the organisations a listener names
/// exist from the first start on.
#[test]
fn a_syslog_listener_binds_senders_to_organisations() {
    use std::net::UdpSocket;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.listeners
        .push(taishi_serve::config::Listener::SyslogUdp(
            taishi_ingest::SyslogUdpConfig {
                name: Some("plant-syslog".into()),
                org: Some("plant".into()),
                org_by_source: [("127.0.0.2".to_string(), "plant-b".to_string())].into(),
                timezone: None,
                listen: "127.0.0.1:0".parse().unwrap(),
            },
        ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let addr = server.http_addr;
    let to: std::net::SocketAddr = server
        .listeners
        .iter()
        .find(|l| l.kind == "syslog-udp")
        .unwrap()
        .address
        .parse()
        .unwrap();
    let cert = Client::login(addr, admin_password(&server));
    let _run = Running {
        rt,
        server: Some(server),
        _dir: dir,
    };
    let (_, orgs) = cert.get("/api/v1/orgs");
    let ids: Vec<&str> = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"plant") && ids.contains(&"plant-b"),
        "{ids:?}"
    );
    let line = |host: &str| {
        format!("<38>Nov 23 08:00:01 {host} sshd[4101]: Failed password for taishi-test from 203.0.113.1 port 50001 ssh2")
    };
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(line("from-one").as_bytes(), to)
        .unwrap();
    UdpSocket::bind("127.0.0.2:0")
        .unwrap()
        .send_to(line("from-two").as_bytes(), to)
        .unwrap();
    let org_of = |host: &str| -> Option<String> {
        let (_, r) = cert.post(
            "/api/v1/search",
            &json!({"query": format!("\"{host}\""), "from": "now-400d", "to": "now+1d"}),
        );
        r["events"].as_array()?.first()?["organization.id"]
            .as_str()
            .map(str::to_string)
    };
    assert!(wait_until(15, || org_of("from-two").is_some()
        && org_of("from-one").is_some()));
    assert_eq!(org_of("from-one").as_deref(), Some("plant"));
    assert_eq!(org_of("from-two").as_deref(), Some("plant-b"));
}
