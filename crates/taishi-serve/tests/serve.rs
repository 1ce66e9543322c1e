//! `taishi serve` end to end on loopback: every listener, detection,
//! triage, rules, authentication.

mod common;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value as J};

/// A running server and the certificate its TLS listeners present.
struct Served {
    run: Running,
    cert: Option<rcgen::CertifiedKey>,
}

impl std::ops::Deref for Served {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.run
    }
}

impl Served {
    fn addr(&self, kind: &str) -> std::net::SocketAddr {
        self.server()
            .listeners
            .iter()
            .find(|l| l.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} listener"))
            .address
            .parse()
            .unwrap()
    }
}

fn start(listeners: bool) -> (Served, Client) {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cp, kp) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cp, cert.cert.pem()).unwrap();
    std::fs::write(&kp, cert.key_pair.serialize_pem()).unwrap();
    let mut cfg = config(dir.path());
    if listeners {
        cfg = with_listeners(cfg, Some((&cp, &kp)));
    }
    let run = Running::start(cfg, dir);
    assert_eq!(
        run.server().first_accounts.len(),
        3,
        "first start makes the three administrators"
    );
    let client = Client::login(run.server().http_addr, common::admin_password(run.server()));
    (
        Served {
            run,
            cert: Some(cert),
        },
        client,
    )
}

fn events(c: &Client) -> u64 {
    c.get("/api/v1/health").1["store"]["events"]
        .as_u64()
        .unwrap_or(0)
}

fn alerts(c: &Client, q: &str) -> J {
    c.get(&format!("/api/v1/alerts?{q}")).1
}

#[test]
fn every_listener_feeds_detection_and_triage() {
    let (srv, c) = start(true);

    // NDJSON over HTTP: 20 Sysmon events, 3 with the marker the rule looks for.
    let evs: Vec<J> = (0..20).map(|i| sysmon_event(i, i % 7 == 0)).collect();
    let (s, body) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs));
    assert_eq!(s, 200, "{body}");

    // Elasticsearch _bulk as Beats send it.
    let mut bulk = Vec::new();
    for i in 100..110 {
        writeln!(bulk, "{{\"create\":{{\"_index\":\"winlogbeat\"}}}}").unwrap();
        serde_json::to_writer(&mut bulk, &sysmon_event(i, false)).unwrap();
        bulk.push(b'\n');
    }
    let (s, body) = c.post_raw("/api/v1/_bulk", "application/x-ndjson", &bulk);
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["errors"], J::Bool(false), "{body}");

    // Syslog over UDP, TCP and TLS: sshd failures that the sshd rule matches.
    let line = |i: usize, via: &str| {
        format!("<38>Nov 23 08:00:{:02} bastion sshd[41{i:02}]: Failed password for taishi-test from 203.0.113.{i} port 5{i:04} ssh2 via {via}", i % 60)
    };
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..5 {
        udp.send_to(line(i, "udp").as_bytes(), srv.addr("syslog-udp"))
            .unwrap();
    }
    let mut tcp = TcpStream::connect(srv.addr("syslog-tcp")).unwrap();
    for i in 5..10 {
        writeln!(tcp, "{}", line(i, "tcp")).unwrap();
    }
    tcp.flush().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        use tokio_rustls::rustls;
        let cert = srv.cert.as_ref().unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.cert.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let addr = srv.addr("syslog-tls");
        srv.rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
                .connect(name, tcp)
                .await
                .unwrap();
            for i in 10..15 {
                let msg = line(i, "tls");
                tls.write_all(format!("{} {msg}", msg.len()).as_bytes())
                    .await
                    .unwrap();
            }
            tls.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = tls.shutdown().await;
        });
    }

    // NetFlow v5: one packet of 6 flows.
    udp.send_to(&netflow_v5(6), srv.addr("netflow")).unwrap();

    // 20 + 10 + 15 + 6 events.
    assert!(
        wait_until(20, || events(&c) >= 51),
        "events stored: {}",
        events(&c)
    );
    assert_eq!(events(&c), 51);
    drop(tcp);

    // Search finds the events, and the aggregations are right.
    let search = |q: &str| {
        c.post("/api/v1/search", &json!({"query": q, "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "limit": 100}))
    };
    let ok = wait_until(10, || {
        search("Channel:\"Microsoft-Windows-Sysmon/Operational\"").1["total"] == 30
    });
    assert!(
        ok,
        "{} / {}",
        search("Channel:\"Microsoft-Windows-Sysmon/Operational\"").1,
        search("*").1["total"]
    );
    let (s, r) = search("CommandLine:*taishi-e2e-marker*");
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["total"], 3, "{r}");
    // Each event once: in `events`, with its own `@timestamp`.
    let events = r["events"].as_array().unwrap();
    assert_eq!(events.len(), 3, "{r}");
    assert!(events.iter().all(|e| e["@timestamp"].is_string()), "{r}");
    assert!(r.get("hits").is_none(), "the events were sent twice: {r}");
    // What `taishi search --server` reads.
    let out: taishi_search::SearchOutput = serde_json::from_value(r.clone()).unwrap();
    assert!(matches!(
        out.result,
        taishi_search::Output::Hits { total: 3, .. }
    ));
    assert!(
        r["histogram"]["buckets"]
            .as_array()
            .is_some_and(|b| !b.is_empty()),
        "{r}"
    );
    let (_, r) = search("EventID:1 | stats count() by Computer");
    assert_eq!(r["kind"], "table", "{r}");
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{r}");
    let total: u64 = rows.iter().map(|row| row[1].as_u64().unwrap()).sum();
    assert_eq!(total, 30, "{r}");
    let (_, r) = search("event.dataset:* OR log.syslog.appname:sshd | top 3 log.syslog.appname");
    assert_eq!(r["rows"][0][0], "sshd", "{r}");
    assert_eq!(r["rows"][0][1], 15, "{r}");
    // The field list samples the query's own matches.
    let f = c.get("/api/v1/fields?query=CommandLine:*taishi-e2e-marker*&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z").1;
    let cl = f["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "CommandLine")
        .unwrap();
    assert_eq!(cl["count"], 3, "{f}");
    let (s, r) = search("CommandLine:(");
    assert_eq!(s, 400, "{r}");
    assert!(r["error"].as_str().unwrap().contains("column"), "{r}");

    // Detections: 3 Sysmon markers (high) and 15 sshd failures (medium).
    assert!(
        wait_until(10, || alerts(&c, "limit=100")["total"] == 18),
        "{}",
        alerts(&c, "limit=1")
    );
    let high = alerts(&c, "level=high&limit=100");
    assert_eq!(high["total"], 3, "{high}");
    let a = &high["items"][0];
    assert_eq!(a["rule_title"], "Taishi test marker in a command line");
    assert_eq!(a["kind"], "sigma");
    assert!(a["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("attack.t1059.001")));
    assert!(a["host"].as_str().unwrap().starts_with("ws"));
    assert!(a["summary"]["CommandLine"]
        .as_str()
        .unwrap()
        .contains("taishi-e2e-marker"));
    assert_eq!(a["status"], "new");

    // Grouping by rule and by source.
    let g = c.get("/api/v1/alerts/groups?by=rule").1;
    assert_eq!(g["items"].as_array().unwrap().len(), 2, "{g}");
    let g = c.get("/api/v1/alerts/groups?by=source").1;
    assert!(g["items"].as_array().unwrap().len() >= 15, "{g}");

    // Triage: acknowledge (takes it), comment, close as false positive.
    let id = a["id"].as_str().unwrap().to_string();
    let (s, acked) = c.post(&format!("/api/v1/alerts/{id}/ack"), &json!({}));
    assert_eq!((s, acked["status"].as_str()), (200, Some("acknowledged")));
    assert_eq!(acked["assignee"], "admin");
    let (s, _) = c.post(
        &format!("/api/v1/alerts/{id}/comments"),
        &json!({"text": "admin's own test"}),
    );
    assert_eq!(s, 200);
    let (s, closed) = c.post(
        &format!("/api/v1/alerts/{id}/close"),
        &json!({"resolution": "false_positive"}),
    );
    assert_eq!(s, 200);
    assert_eq!(
        (closed["status"].as_str(), closed["resolution"].as_str()),
        (Some("closed"), Some("false_positive"))
    );
    let full = c.get(&format!("/api/v1/alerts/{id}")).1;
    assert_eq!(full["comments"][0]["text"], "admin's own test");
    assert!(full["rule"]["yaml"]
        .as_str()
        .unwrap()
        .contains("taishi-e2e-marker"));
    assert_eq!(alerts(&c, "status=open")["total"], 17);
    let (s, e) = c.post(
        &format!("/api/v1/alerts/{id}/close"),
        &json!({"resolution": "maybe"}),
    );
    assert_eq!(s, 400, "{e}");

    // Related events: the same host's events around the alert.
    let rel = c
        .get(&format!("/api/v1/alerts/{id}/related?before=5&after=5"))
        .1;
    assert!(
        !rel["before"].as_array().unwrap().is_empty()
            || !rel["after"].as_array().unwrap().is_empty(),
        "{rel}"
    );

    // Rules: health counts the hits; disabling stops the rule firing.
    let rules = c.get("/api/v1/rules?q=marker").1;
    assert_eq!(rules["total"], 1);
    assert_eq!(rules["items"][0]["health"]["hits"], 3, "{rules}");
    let rid = rules["items"][0]["id"].as_str().unwrap().to_string();
    let (s, r) = c.post(&format!("/api/v1/rules/{rid}/disable"), &json!({}));
    assert_eq!((s, r["enabled"].as_bool()), (200, Some(false)), "{r}");
    let evs: Vec<J> = (200..205).map(|i| sysmon_event(i, true)).collect();
    assert_eq!(
        c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs))
            .0,
        200
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        alerts(&c, "level=high")["total"],
        3,
        "a disabled rule fired"
    );
    let (s, _) = c.post(&format!("/api/v1/rules/{rid}/enable"), &json!({}));
    assert_eq!(s, 200);
    assert_eq!(
        c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs))
            .0,
        200
    );
    assert!(wait_until(5, || alerts(&c, "level=high")["total"] == 8));
    // Hits survive the engine swaps.
    let rules = c.get("/api/v1/rules?q=marker").1;
    assert_eq!(rules["items"][0]["health"]["hits"], 8, "{rules}");

    // Upload a rule; it takes effect at once.
    let upload = WINDOWS_RULE
        .replace(
            "0b5c2d9e-7d4f-4c4b-9a57-000000000001",
            "0b5c2d9e-7d4f-4c4b-9a57-0000000000aa",
        )
        .replace("taishi-e2e-marker", "uploaded-marker")
        .replace("Taishi test marker", "Uploaded marker");
    let (s, r) = c.post_raw("/api/v1/rules", "application/yaml", upload.as_bytes());
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["loaded"].as_array().unwrap().len(), 1, "{r}");
    let mut ev = sysmon_event(300, false);
    ev["CommandLine"] = json!("cmd /c uploaded-marker");
    assert_eq!(
        c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&[ev]))
            .0,
        200
    );
    assert!(wait_until(5, || alerts(&c, "q=Uploaded")["total"] == 1));
    let (s, v) = c.post_raw(
        "/api/v1/rules/validate",
        "application/yaml",
        b"title: x\ndetection: [unclosed\n",
    );
    assert_eq!(s, 200);
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["errors"][0]["line"].is_u64(), "{v}");
    // The place as fields: document 2, the bad modifier's line and column.
    let (_, v) = c.post_raw(
        "/api/v1/rules/validate",
        "application/yaml",
        b"title: a\nlogsource: {product: windows}\ndetection: {s: x, condition: s}\n---\ntitle: b\nlogsource: {product: windows}\ndetection:\n  s:\n    CommandLine|nosuch: x\n  condition: s\n",
    );
    let e = &v["errors"][0];
    assert_eq!(
        (
            &e["path"],
            &e["document"],
            &e["line"],
            &e["column"],
            &e["kind"]
        ),
        (
            &json!("<upload>"),
            &json!(2),
            &json!(9),
            &json!(5),
            &json!("modifier")
        ),
        "{v}"
    );

    // Overview: events over time, alerts by level and rule, ATT&CK, listeners.
    let o = c
        .get("/api/v1/overview?time=event&from=2026-11-22T00:00:00Z&to=2026-11-24T00:00:00Z")
        .1;
    assert_eq!(o["alerts_by_level"]["high"], 9, "{o}");
    assert!(o["events_total"].as_u64().unwrap() >= 45, "{o}");
    assert!(
        o["attack_matrix"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["tactic"] == "execution" && m["technique"] == "T1059.001"),
        "{}",
        o["attack_matrix"]
    );
    assert!(!o["top_assets"].as_array().unwrap().is_empty());
    assert_eq!(o["listeners"].as_array().unwrap().len(), 5);
    assert!(["low", "guarded", "elevated", "high", "severe"]
        .contains(&o["threat_level"].as_str().unwrap()));

    // Metrics and OpenAPI.
    let (s, m) = c.get("/metrics");
    assert_eq!(s, 200);
    let m = m.as_str().unwrap().to_string();
    assert!(m.contains("taishi_pipeline_alerts_total"), "{m}");
    let doc = c.get("/api/v1/openapi.json").1;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/alerts/{id}/close"]["post"].is_object());
}

#[test]
fn every_call_needs_authentication_and_the_right_role() {
    let (srv, admin) = start(false);
    let addr = srv.server.as_ref().unwrap().http_addr;
    let anon = Client::new(addr);
    for p in [
        "/api/v1/alerts",
        "/api/v1/rules",
        "/api/v1/health",
        "/api/v1/overview",
        "/metrics",
        "/api/v1/users",
    ] {
        assert_eq!(anon.get(p).0, 401, "{p}");
    }
    assert_eq!(
        anon.post_raw("/api/v1/ingest", "application/x-ndjson", b"{}\n")
            .0,
        401
    );
    assert_eq!(anon.get("/api/v1/openapi.json").0, 200);
    let (s, _) = anon.post(
        "/api/v1/auth/login",
        &json!({"username": "admin", "password": "wrong-password"}),
    );
    assert_eq!(s, 401);

    // A viewer reads but cannot change or ingest.
    let (s, u) = admin.post(
        "/api/v1/users",
        &json!({"username": "vera", "password": "Lantern-orchid-71", "roles": ["viewer"]}),
    );
    assert_eq!(s, 200, "{u}");
    let (s, t) = admin.post(
        "/api/v1/tokens",
        &json!({"name": "viewer token", "roles": ["viewer"]}),
    );
    assert_eq!(s, 200);
    let mut viewer = Client::new(addr);
    viewer.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
    assert_eq!(viewer.get("/api/v1/alerts").0, 200);
    assert_eq!(viewer.get("/api/v1/users").0, 403);
    assert_eq!(viewer.post("/api/v1/rules/reload", &json!({})).0, 403);
    assert_eq!(
        viewer
            .post_raw("/api/v1/ingest", "application/x-ndjson", b"{\"a\":1}\n")
            .0,
        // Known but not allowed: forbidden, not unauthenticated.
        403
    );
    assert_eq!(
        admin
            .post(
                "/api/v1/users",
                &json!({"username": "x", "password": "short", "roles": ["viewer"]})
            )
            .0,
        400
    );
    assert_eq!(
        admin
            .post(
                "/api/v1/users",
                &json!({"username": "y", "password": "long-enough-1", "roles": ["root"]})
            )
            .0,
        400
    );

    // Session cookies need the CSRF header on changes.
    let a2 = Client::new(addr);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&format!("{}/api/v1/auth/login", a2.base))
        .send_json(json!({"username": "vera", "password": "Lantern-orchid-71"}))
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let cookie = cookie.split(';').next().unwrap().to_string();
    let body: J = r.body_mut().read_json().unwrap();
    let me = agent
        .get(&format!("{}/api/v1/auth/me", a2.base))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(me.status(), 200);
    let no_csrf = agent
        .post(&format!("{}/api/v1/tokens", a2.base))
        .header("cookie", &cookie)
        .send_json(json!({"name": "x"}))
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    let with_csrf = agent
        .post(&format!("{}/api/v1/tokens", a2.base))
        .header("cookie", &cookie)
        .header("x-taishi-csrf", body["csrf"].as_str().unwrap())
        .send_json(json!({"name": "x", "roles": ["sysadmin"]}))
        .unwrap();
    // 403, as API.md has it for the wrong role: the caller's role is what
    // falls short, not the request's form.
    assert_eq!(with_csrf.status(), 403, "a viewer made an admin token");
}

/// Every series a listener can move is on `/metrics` with its HELP and
/// TYPE and a sample per listener it applies to; the UDP listeners carry
/// the kernel's drops for their own sockets, in `/metrics` and in health.
#[test]
fn metrics_show_every_listener_series_with_help_and_type() {
    let (srv, c) = start(true);
    let udp = srv.addr("syslog-udp");
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"<14>Mar  1 10:00:00 host app: counted", udp)
        .unwrap();
    assert!(wait_until(10, || {
        let m = c.get("/metrics").1;
        m.as_str().unwrap().contains(
            "taishi_ingest_events_acked_total{listener=\"syslog-udp\",kind=\"syslog-udp\"} 1",
        )
    }));
    let text = c.get("/metrics").1.as_str().unwrap().to_string();
    let linux = cfg!(target_os = "linux");
    for s in taishi_ingest::Series::ALL {
        let def = s.metric();
        let name = def.full_name();
        if def.scope == taishi_ingest::Scope::Udp && !linux {
            continue;
        }
        assert!(
            text.contains(&format!("# HELP {name} {}\n", def.help)),
            "{name}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} {}\n", def.kind.as_str())),
            "{name}"
        );
        let listener = match def.scope {
            taishi_ingest::Scope::Netflow => "netflow",
            _ => "syslog-udp",
        };
        let suffix = if def.kind == taishi_ingest::MetricKind::Histogram {
            "_count"
        } else {
            ""
        };
        assert!(
            text.contains(&format!("{name}{suffix}{{listener=\"{listener}\"")),
            "{name} for {listener}"
        );
    }
    assert!(!text.contains("taishi_ingest_udp_kernel_dropped_total{listener=\"syslog-tcp\""));

    let health = c.get("/api/v1/health").1;
    let listeners = health["listeners"].as_array().unwrap();
    let of = |name: &str| {
        listeners
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {listeners:?}"))
    };
    if linux {
        assert!(of("syslog-udp")["kernel_dropped"].is_u64(), "{listeners:?}");
        assert!(of("netflow")["kernel_dropped"].is_u64(), "{listeners:?}");
    }
    assert!(of("syslog-tcp")["kernel_dropped"].is_null());
}

/// A session of `username` with `password`: its cookie and CSRF value.
fn sign_in(agent: &ureq::Agent, base: &str, username: &str, password: &str) -> (u16, String, J) {
    let mut r = agent
        .post(&format!("{base}/api/v1/auth/login"))
        .send_json(json!({"username": username, "password": password}))
        .unwrap();
    let status = r.status().as_u16();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .unwrap_or_default();
    let body: J = r.body_mut().read_json().unwrap_or(J::Null);
    (status, cookie, body)
}

/// Issue 13, item 15: a one-time password (the first start's, or one an
/// administrator set with "must change") opens the account routes only;
/// the change ends the session; the new password opens everything the
/// roles allow. An administrator's reset can ask for it again.
#[test]
fn a_one_time_password_must_be_changed_before_anything_else() {
    let (srv, admin) = start(false);
    let s = srv.server.as_ref().unwrap();
    let base = format!("http://{}", s.http_addr);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let get = |path: &str, cookie: &str| {
        let mut r = agent
            .get(&format!("{base}{path}"))
            .header("cookie", cookie)
            .call()
            .unwrap();
        let st = r.status().as_u16();
        (st, r.body_mut().read_json::<J>().unwrap_or(J::Null))
    };
    let one_time = s
        .first_accounts
        .iter()
        .find(|a| a.username == "sysadmin")
        .unwrap()
        .password
        .clone();
    let (st, cookie, body) = sign_in(&agent, &base, "sysadmin", &one_time);
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["user"]["must_change_password"], true, "{body}");
    let (st, e) = get("/api/v1/users", &cookie);
    assert_eq!(st, 403, "{e}");
    let msg = e["error"].as_str().unwrap();
    assert!(
        msg.starts_with("password_change_required") && msg.contains("请先修改密码"),
        "{msg}"
    );
    let (st, me) = get("/api/v1/auth/me", &cookie);
    assert_eq!((st, &me["password_expired"]), (200, &J::Bool(true)), "{me}");
    // The change: the account route answers, and ends the session.
    let own = "Keeper-of-Ports-2026";
    let r = agent
        .post(&format!("{base}/api/v1/auth/password"))
        .header("cookie", &cookie)
        .header("x-taishi-csrf", body["csrf"].as_str().unwrap())
        .send_json(json!({"old": one_time, "new": own}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        get("/api/v1/auth/me", &cookie).0,
        401,
        "the old session ended"
    );
    let (st, cookie, body) = sign_in(&agent, &base, "sysadmin", own);
    assert_eq!(st, 200);
    assert_eq!(body["user"]["must_change_password"], false, "{body}");
    assert_eq!(get("/api/v1/users", &cookie).0, 200);

    // An administrator's new account with "must change", and a reset.
    let (st, u) = admin.post(
        "/api/v1/users",
        &json!({"username": "nina", "password": "Set-By-Admin-2026", "roles": ["analyst"],
                "must_change_password": true}),
    );
    assert_eq!(st, 200, "{u}");
    assert_eq!(u["must_change_password"], true, "{u}");
    let (_, cookie, _) = sign_in(&agent, &base, "nina", "Set-By-Admin-2026");
    assert_eq!(get("/api/v1/alerts", &cookie).0, 403);
    // Without the flag an API-made account works at once (scripts, loaders).
    let (st, _) = admin.post(
        "/api/v1/users",
        &json!({"username": "otto", "password": "Set-By-Script-2026", "roles": ["analyst"]}),
    );
    assert_eq!(st, 200);
    let (_, cookie, _) = sign_in(&agent, &base, "otto", "Set-By-Script-2026");
    assert_eq!(get("/api/v1/alerts", &cookie).0, 200);
    let (st, u) = admin.patch(
        "/api/v1/users/otto",
        &json!({"password": "Reset-By-Admin-2026", "must_change_password": true}),
    );
    assert_eq!(st, 200, "{u}");
    let (_, cookie, _) = sign_in(&agent, &base, "otto", "Reset-By-Admin-2026");
    assert_eq!(
        get("/api/v1/alerts", &cookie).0,
        403,
        "a reset asks for a new one"
    );
}
