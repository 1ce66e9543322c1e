//! The authorisation matrix against a running server: every route of the
//! table × every built-in role × a resource of the caller's own
//! organisation, of one below it and of a sibling, each with the answer
//! the permission and the scope call for. Generated from the route table:
//! a new route is in the matrix as soon as it is in the table, and a new
//! path parameter fails here until it is classified below.

mod common;

use std::net::SocketAddr;

use common::*;
use serde_json::{json, Value as J};
use taishi_auth::{BuiltinRole, Permission};
use taishi_serve::routes::{table, Access, Route};

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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Own,
    Child,
    Sibling,
}

impl Place {
    fn org(self) -> &'static str {
        match self {
            Place::Own => "op-a",
            Place::Child => "op-a-1",
            Place::Sibling => "op-b",
        }
    }
}

/// What a path parameter names. Every parameter of the table must be here.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Param {
    /// A resource that belongs to an organisation.
    Alert,
    User,
    Org,
    Token,
    SavedSearch,
    RuleException,
    Incident,
    /// An asset of the register (issue 15).
    Asset,
    /// A vulnerability finding on an asset.
    Finding,
    /// A name outside the organisation tree (rules, feeds, outputs, custom
    /// roles, Elasticsearch index names).
    Free,
}

/// The number in a fresh name (an octet of a test address).
fn fresh_n(fresh: &mut impl FnMut(&str) -> String) -> u32 {
    fresh("").parse::<u32>().unwrap() % 250
}

fn classify(path: &str) -> Option<Param> {
    let p = path.trim_start_matches("/api/v1");
    let param = p.split('/').find(|s| s.starts_with('{'))?;
    if p.starts_with("/alerts/exceptions/") {
        return Some(Param::RuleException);
    }
    Some(match (p.split('/').nth(1).unwrap_or_default(), param) {
        ("alerts", "{id}") => Param::Alert,
        ("users", "{username}") => Param::User,
        ("orgs", "{id}") => Param::Org,
        ("tokens", "{id}") => Param::Token,
        ("saved-searches", "{id}") => Param::SavedSearch,
        ("incidents", "{id}") => Param::Incident,
        ("assets", "{id}") => Param::Asset,
        ("vulns", "{id}") => Param::Finding,
        // KEV/EPSS feed names: the same for every organisation.
        ("vulns", "{kind}") => Param::Free,
        ("rules", "{id}") | ("roles", "{id}") => Param::Free,
        ("intel", "{name}") | ("settings", "{name}") => Param::Free,
        // ATT&CK ids: public reference data, the same for every organisation.
        ("attack", "{id}") => Param::Free,
        (_, "{index}") | (_, "{name}") if !p.starts_with("/alerts") => Param::Free,
        _ => panic!("{path}: classify this path parameter in tests/matrix.rs"),
    })
}

/// A body the handler accepts, so that the scope check (not a body
/// rejection) decides a call on an organisation's resource.
fn body(r: &Route) -> Option<J> {
    if matches!(r.method.as_str(), "GET" | "HEAD" | "DELETE") {
        return None;
    }
    let p = r.path;
    Some(if p.ends_with("/close") {
        json!({"resolution": "false_positive"})
    } else if p.ends_with("/comments") {
        json!({"text": "matrix"})
    } else if p.ends_with("/assign") {
        json!({"assignee": null})
    } else if p == "/orgs/{id}" {
        json!({"name": "renamed"})
    } else if p.ends_with("/actions") {
        json!({"action": "comment", "text": "matrix"})
    } else if p == "/vulns/{id}/status" {
        json!({"status": "in_progress"})
    } else if p.ends_with("/webhook") {
        json!({"target": "matrix"})
    } else if p == "/assets/{id}/merge" {
        // Refused for its empty reason once the asset is found in scope.
        json!({"other": 0, "reason": ""})
    } else if p == "/assets/{id}/split" {
        json!({"identities": [], "reason": "matrix"})
    } else if p.ends_with("/merge") {
        json!({"other": "no-such-incident"})
    } else if p.ends_with("/split") {
        json!({"alerts": ["no-such-alert"]})
    } else if p.starts_with("/saved-searches") {
        json!({"name": format!("matrix {}", r.method), "query": "* | stats count by host.name | sort -count"})
    } else {
        json!({})
    })
}

fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: &str,
    body: Option<J>,
) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("authorization", bearer)
        .header("content-type", "application/json");
    let mut resp = match body {
        Some(b) => agent.run(req.body(b.to_string()).unwrap()).unwrap(),
        None => agent.run(req.body(()).unwrap()).unwrap(),
    };
    // The live stream never ends: its status (and the guard's refusal
    // text) is all there is to read.
    let status = resp.status().as_u16();
    if path.ends_with("/stream") && status == 200 {
        return (status, String::new());
    }
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, text)
}

#[test]
fn every_route_every_role_own_child_and_sibling_organisation() {
    let dir = tempfile::tempdir().unwrap();
    run(config(dir.path()), dir);
}

/// The same against a real PostgreSQL (`TAISHI_TEST_PG`, see
/// scripts/setup.d/postgres.sh): the scoping is the state's SQL, so it is
/// checked on both databases.
#[test]
fn every_route_every_role_own_child_and_sib_on_postgresql() {
    let Some(db) =
        taishi_state::testdb::TestDb::postgres("every_route_every_role_own_child_and_sib")
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
    for (id, parent) in [("op-a", None), ("op-a-1", Some("op-a")), ("op-b", None)] {
        let (s, b) = cert.post(
            "/api/v1/orgs",
            &json!({"id": id, "parent": parent, "name": id}),
        );
        assert_eq!(s, 200, "{b}");
    }
    let places = [Place::Own, Place::Child, Place::Sibling];
    let mut n = 0usize;
    let mut fresh = |what: &str| {
        n += 1;
        format!("{what}{n}")
    };
    // A token of `cert` bound to `org` (its id), and optionally its secret.
    let token_in = |org: &str, name: &str| -> (String, String) {
        let (s, t) = cert.post(
            "/api/v1/tokens",
            &json!({"name": name, "roles": ["analyst"], "org": org}),
        );
        assert_eq!(s, 200, "{t}");
        (
            t["id"].as_str().unwrap().to_string(),
            t["secret"].as_str().unwrap().to_string(),
        )
    };
    // One alert and one user in each place.
    let mut alert_of = std::collections::HashMap::new();
    let mut analyst_of = std::collections::HashMap::new();
    for p in places {
        let (_, secret) = token_in(p.org(), &format!("ingest-{}", p.org()));
        analyst_of.insert(p.org(), secret.clone());
        let mut c = Client::new(addr);
        c.auth = format!("Bearer {secret}");
        let mut e = sysmon_event(1, true);
        e["Computer"] = json!(format!("host-{}", p.org()));
        let (s, b) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&[e]));
        assert_eq!(s, 200, "{b}");
        let (s, b) = cert.post(
            "/api/v1/users",
            &json!({"username": format!("t-{}", p.org()), "password": "Lantern-orchid-71",
                    "roles": ["viewer"], "org": p.org()}),
        );
        assert_eq!(s, 200, "{b}");
    }
    assert!(wait_until(15, || {
        let (_, r) =
            cert.get("/api/v1/alerts?time=event&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z");
        r["total"] == 3
    }));
    let (_, r) =
        cert.get("/api/v1/alerts?time=event&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z");
    for a in r["items"].as_array().unwrap() {
        alert_of.insert(
            a["org"].as_str().unwrap().to_string(),
            a["id"].as_str().unwrap().to_string(),
        );
    }
    // One account per built-in role, in op-a.
    let callers: Vec<(BuiltinRole, String)> = BuiltinRole::ALL
        .iter()
        .map(|role| {
            let user = format!("u-{}", role.id());
            let (s, b) = cert.post(
                "/api/v1/users",
                &json!({"username": user, "password": "Copper-harbor-52", "roles": [role.id()], "org": "op-a"}),
            );
            assert_eq!(s, 200, "{b}");
            let c = Client::login_as(addr, &user, "Copper-harbor-52", None);
            (*role, c.auth.clone())
        })
        .collect();

    let mut calls = 0;
    let (mut denied, mut hidden) = (0, 0);
    let mut failures = Vec::new();
    for r in table() {
        let Access::Needs(permission) = r.access else {
            continue;
        };
        // Signing out would end nothing here (tokens), but keep it last in spirit: skip.
        if r.path == "/auth/logout" {
            continue;
        }
        let param = classify(&r.full_path());
        for (role, bearer) in &callers {
            let allowed = role.grants().has(permission);
            let bound = matches!(
                param,
                Some(
                    Param::Alert
                        | Param::User
                        | Param::Org
                        | Param::Token
                        | Param::SavedSearch
                        | Param::RuleException
                        | Param::Incident
                        | Param::Asset
                        | Param::Finding
                )
            );
            for place in if bound { &places[..] } else { &places[..1] } {
                let value = match param {
                    None => String::new(),
                    Some(Param::Free) => "x".into(),
                    Some(Param::Alert) => alert_of[place.org()].clone(),
                    Some(Param::User) if r.method == "DELETE" => {
                        let u = fresh("d");
                        let (s, b) = cert.post(
                            "/api/v1/users",
                            &json!({"username": u, "password": "Lantern-orchid-71", "roles": ["viewer"], "org": place.org()}),
                        );
                        assert_eq!(s, 200, "{b}");
                        u
                    }
                    Some(Param::User) => format!("t-{}", place.org()),
                    Some(Param::Token) => token_in(place.org(), &fresh("t")).0,
                    // A fresh one each time (a DELETE removes it), saved by an
                    // analyst token of that organisation.
                    Some(Param::SavedSearch) => {
                        let mut c = Client::new(addr);
                        c.auth = format!("Bearer {}", analyst_of[place.org()]);
                        let (s, b) = c.post(
                            "/api/v1/saved-searches",
                            &json!({"name": fresh("saved-"), "query": "*"}),
                        );
                        assert_eq!(s, 200, "{b}");
                        b["id"].as_str().unwrap().to_string()
                    }
                    // A fresh one each time (a DELETE removes it), made by an
                    // analyst token of that organisation.
                    Some(Param::RuleException) => {
                        let mut c = Client::new(addr);
                        c.auth = format!("Bearer {}", analyst_of[place.org()]);
                        let (s, b) = c.post(
                            "/api/v1/alerts/exceptions",
                            &json!({"rule_id": "matrix", "fields": [{"field": "host.name", "value": fresh("h")}]}),
                        );
                        assert_eq!(s, 200, "{b}");
                        b["id"].as_str().unwrap().to_string()
                    }
                    // An incident of that organisation, made from its alert.
                    Some(Param::Incident) => {
                        let mut c = Client::new(addr);
                        c.auth = format!("Bearer {}", analyst_of[place.org()]);
                        let (s, b) = c.post(
                            "/api/v1/incidents",
                            &json!({"alerts": [alert_of[place.org()]]}),
                        );
                        assert_eq!(s, 200, "{b}");
                        let id = b["incident"]["id"].as_str().unwrap().to_string();
                        if r.path.contains("/evidence/{") {
                            // Something to download: evidence file 1.
                            let (s, b) = c.post_raw(
                                &format!("/api/v1/incidents/{id}/evidence?name=m.txt"),
                                "application/octet-stream",
                                b"matrix",
                            );
                            assert_eq!(s, 200, "{b}");
                        }
                        id
                    }
                    // An asset of that organisation, imported by its analyst.
                    Some(Param::Asset) => {
                        let mut c = Client::new(addr);
                        c.auth = format!("Bearer {}", analyst_of[place.org()]);
                        let ip = format!("10.77.{}.1", fresh_n(&mut fresh));
                        let (s, b) = c.post_raw(
                            "/api/v1/assets?format=csv",
                            "text/csv",
                            format!("ip,hostname\n{ip},asset-{}\n", place.org()).as_bytes(),
                        );
                        assert_eq!(s, 200, "{b}");
                        let (s, b) = c.get(&format!("/api/v1/assets?identity={ip}"));
                        assert_eq!(s, 200, "{b}");
                        b["items"][0]["id"].to_string()
                    }
                    // A finding of that organisation, from a scan its analyst imported.
                    Some(Param::Finding) => {
                        let mut c = Client::new(addr);
                        c.auth = format!("Bearer {}", analyst_of[place.org()]);
                        let n = fresh_n(&mut fresh);
                        let (ip, cve) =
                            (format!("10.78.{n}.1"), format!("CVE-2021-{:05}", 10000 + n));
                        let (s, b) = c.post_raw(
                            "/api/v1/vulns/import?name=scan.csv",
                            "text/csv",
                            format!("ip,cve,severity\n{ip},{cve},critical\n").as_bytes(),
                        );
                        assert_eq!(s, 200, "{b}");
                        let (s, b) = c.get("/api/v1/vulns?limit=500");
                        assert_eq!(s, 200, "{b}");
                        let item = b["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|f| f["cve"] == cve.as_str())
                            .unwrap_or_else(|| panic!("no finding {cve}: {b}"));
                        item["id"].as_str().unwrap().to_string()
                    }
                    Some(Param::Org) if r.method == "DELETE" => {
                        let id = fresh("del-");
                        let (s, b) = cert.post(
                            "/api/v1/orgs",
                            &json!({"id": id, "parent": place.org(), "name": id}),
                        );
                        assert_eq!(s, 200, "{b}");
                        id
                    }
                    Some(Param::Org) => place.org().to_string(),
                };
                // The first parameter names the resource; a second one is
                // an index inside it (evidence file 1).
                let mut first = true;
                let mut path: String = r
                    .full_path()
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') {
                            if std::mem::take(&mut first) {
                                value.as_str()
                            } else {
                                "1"
                            }
                        } else {
                            s
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                if r.method == "POST" && r.path.ends_with("/evidence") {
                    path.push_str("?name=matrix.txt");
                }
                let (status, text) = call(addr, r.method.as_str(), &path, bearer, body(&r));
                calls += 1;
                denied += usize::from(!allowed);
                hidden += usize::from(allowed && bound && *place == Place::Sibling);
                let theirs_only =
                    param == Some(Param::Token) && !role.grants().has(Permission::UsersWrite);
                let ok = if !allowed {
                    status == 403
                } else if bound && *place == Place::Sibling {
                    status == 404
                } else if theirs_only {
                    // Without users:write, only one's own tokens: another's is absent.
                    status == 404
                } else {
                    !matches!(status, 401 | 403 | 404)
                        || (param == Some(Param::Free) || param.is_none()) && status == 404
                };
                if !ok {
                    failures.push(format!(
                        "{} {path} as {} on {:?} ({}): {status} {}",
                        r.method,
                        role.id(),
                        place,
                        if allowed { "allowed" } else { "denied" },
                        text.chars().take(160).collect::<String>()
                    ));
                }
            }
        }
    }
    // Most of the matrix is refusals (the six roles are narrow) and every
    // organisation-bound route is tried on a sibling by each role that may
    // call it at all.
    assert!(
        calls > 400 && denied > 200 && hidden > 20,
        "{calls} calls, {denied} denied, {hidden} sibling"
    );
    assert!(
        failures.is_empty(),
        "{} of {calls} calls:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
