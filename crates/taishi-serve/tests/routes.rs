//! The route table: every route of the router is in the OpenAPI document
//! with its permission; only the allow-list answers without credentials;
//! the guard refuses a role that lacks a route's permission; every time
//! parameter takes the query language's forms; API.md lists the table.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;

use common::*;
use serde_json::{json, Value as J};
use taishi_serve::routes::{table, Access, Route};

/// The only calls that answer without credentials (the console's static
/// files are the fallback, outside the table).
const PUBLIC: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/livez"),
];

fn start() -> (Running, Client) {
    let dir = tempfile::tempdir().unwrap();
    let srv = Running::start(config(dir.path()), dir);
    let c = Client::login(srv.server().http_addr, common::admin_password(srv.server()));
    (srv, c)
}

fn addr(s: &Running) -> SocketAddr {
    s.server().http_addr
}

/// A route's path with every parameter filled in.
fn concrete(r: &Route) -> String {
    r.full_path()
        .split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Calls a route with no body; `auth` is an Authorization header value.
fn call(addr: SocketAddr, r: &Route, auth: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder()
        .method(r.method.as_str())
        .uri(format!("http://{addr}{}", concrete(r)));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let mut resp = agent.run(req.body(()).unwrap()).unwrap();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (resp.status().as_u16(), text)
}

/// Every `$ref` of the document points at something in it.
fn check_refs(doc: &J, v: &J) {
    match v {
        J::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(J::as_str) {
                let target = doc.pointer(r.trim_start_matches('#'));
                assert!(target.is_some(), "dangling $ref {r}");
            }
            m.values().for_each(|x| check_refs(doc, x));
        }
        J::Array(a) => a.iter().for_each(|x| check_refs(doc, x)),
        _ => {}
    }
}

#[test]
fn every_route_is_in_the_openapi_document_with_its_permission() {
    let routes = table();
    let doc = taishi_serve::openapi_document();
    assert_eq!(doc["openapi"], "3.1.0");
    check_refs(&doc, &doc);
    let mut seen = HashSet::new();
    let mut ids = HashSet::new();
    for r in &routes {
        let method = r.method.as_str().to_ascii_lowercase();
        assert!(
            seen.insert((method.clone(), r.full_path())),
            "{} {} is in the table twice",
            r.method,
            r.full_path()
        );
        let op = &doc["paths"][r.path][&method];
        assert!(op.is_object(), "{} {} is not documented", r.method, r.path);
        let want = match r.access {
            Access::Public => "public",
            Access::Needs(p) => p.name(),
        };
        assert_eq!(op["x-permission"], want, "{} {}", r.method, r.path);
        assert!(
            !r.summary.is_empty() && !r.summary_zh.is_empty(),
            "{}",
            r.path
        );
        assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()));
        assert!(op["responses"].as_object().is_some_and(|m| !m.is_empty()));
    }
    // Nothing documented that the table does not have.
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| {
            p.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "servers")
                .count()
        })
        .sum();
    assert_eq!(documented, routes.len());
    // The routes the hand-written table had missed are there, with types.
    let outputs = &doc["paths"]["/settings/outputs"];
    assert_eq!(outputs["put"]["x-permission"], "outputs:write");
    assert!(
        outputs["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            .is_string()
    );
    let alert = &doc["components"]["schemas"]["Alert"];
    assert!(alert["properties"]["@timestamp"].is_object(), "{alert}");
}

#[test]
fn only_the_allow_list_answers_without_credentials() {
    let (srv, _) = start();
    let addr = addr(&srv);
    for r in table() {
        let key = (r.method.as_str(), r.full_path());
        let public = PUBLIC
            .iter()
            .any(|(m, p)| (*m, p.to_string()) == (key.0, key.1.clone()));
        assert_eq!(public, r.access == Access::Public, "{key:?}");
        let (status, body) = call(addr, &r, None);
        if public {
            assert_ne!(status, 401, "{key:?}: {body}");
        } else {
            assert_eq!(status, 401, "{key:?} answered without credentials: {body}");
        }
    }
    // A route outside the table is the console, not the API.
    let anon = Client::new(addr);
    assert_eq!(anon.get("/").0, 200);
}

#[test]
fn the_guard_refuses_a_viewer_every_route_their_role_lacks() {
    let (srv, admin) = start();
    let addr = addr(&srv);
    let (s, u) = admin.post(
        "/api/v1/users",
        &json!({"username": "vera", "password": "Lantern-orchid-71", "roles": ["viewer"]}),
    );
    assert_eq!(s, 200, "{u}");
    let vera = Client::login_as(addr, "vera", "Lantern-orchid-71", None);
    let bearer = vera.auth.clone();
    let viewer = taishi_auth::BuiltinRole::Viewer.grants();
    let mut refused = 0;
    for r in table() {
        let Access::Needs(p) = r.access else { continue };
        if viewer.has(p) {
            continue;
        }
        let (status, body) = call(addr, &r, Some(&bearer));
        assert_eq!(status, 403, "{} {}: {body}", r.method, r.full_path());
        if !r.is_ingest() && r.method != "HEAD" {
            // The guard's answer (it names the permission), not a handler's.
            assert!(body.contains(p.name()), "{} {}: {body}", r.method, r.path);
        }
        refused += 1;
    }
    assert!(refused > 20, "{refused}");
    // What a viewer may do, it does.
    assert_eq!(vera.get("/api/v1/alerts").0, 200);
    assert_eq!(vera.get("/api/v1/tokens").0, 200);
}

#[test]
fn every_time_parameter_takes_the_query_languages_forms() {
    let (_srv, c) = start();
    for path in [
        "/api/v1/alerts?from=now/d",
        "/api/v1/alerts/groups?from=now/d&by=host",
        "/api/v1/overview?from=now/d",
        "/api/v1/fields?from=now/d",
        "/api/v1/alerts?from=now-7d/d&to=now",
        "/api/v1/overview?from=2026-11-23T08:00:00%2B08:00&to=now",
    ] {
        let (s, b) = c.get(path);
        assert_eq!(s, 200, "{path}: {b}");
    }
    let (s, b) = c.post(
        "/api/v1/search",
        &json!({"query": "*", "from": "now/d", "to": "now"}),
    );
    assert_eq!(s, 200, "{b}");
    for path in [
        "/api/v1/alerts?from=yesterday",
        "/api/v1/alerts/groups?to=now-",
        "/api/v1/overview?from=now-1x",
        "/api/v1/fields?to=99999-01-01",
    ] {
        let (s, b) = c.get(path);
        assert_eq!(s, 400, "{path}: {b}");
        let name = if path.contains("from=") { "from" } else { "to" };
        assert!(b["error"].as_str().unwrap().contains(name), "{path}: {b}");
    }
}

#[test]
fn a_revoked_token_or_demoted_owner_takes_effect_at_once_despite_the_cache() {
    let (srv, admin) = start();
    let addr = addr(&srv);
    let (_, u) = admin.post(
        "/api/v1/users",
        &json!({"username": "ana", "password": "Copper-harbor-52", "roles": ["analyst"]}),
    );
    assert!(u["username"] == "ana", "{u}");
    let ana = Client::login_as(addr, "ana", "Copper-harbor-52", None);
    let tokens = admin.get("/api/v1/tokens").1;
    let tok = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["owner"] == "ana")
        .unwrap()
        .clone();
    let ingest = |c: &Client| {
        c.post_raw("/api/v1/ingest", "application/x-ndjson", b"{\"a\":1}\n")
            .0
    };
    assert_eq!(ingest(&ana), 200);
    assert_eq!(ana.get("/api/v1/alerts").0, 200);
    // Demoted: the cached check must not outlive the change.
    let (s, b) = admin_patch(&admin, "/api/v1/users/ana", &json!({"roles": ["viewer"]}));
    assert_eq!(s, 200, "{b}");
    assert_eq!(ingest(&ana), 403);
    assert_eq!(ana.post("/api/v1/rules/reload", &json!({})).0, 403);
    // Revoked: refused at the next request.
    assert_eq!(
        admin.delete(&format!("/api/v1/tokens/{}", tok["id"].as_str().unwrap())),
        204
    );
    assert_eq!(ana.get("/api/v1/alerts").0, 401);
    assert_eq!(ingest(&ana), 401);
}

fn admin_patch(c: &Client, path: &str, body: &J) -> (u16, J) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .patch(&format!("{}{path}", c.base))
        .header("authorization", &c.auth)
        .send_json(body)
        .unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_json().unwrap_or(J::Null),
    )
}

/// API.md's route list is the table's; `TAISHI_BLESS=1` rewrites it.
#[test]
fn api_md_lists_the_route_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("API.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- routes:begin -->\n", "<!-- routes:end -->");
    let (a, b) = (
        text.find(begin).expect("API.md has no routes:begin marker") + begin.len(),
        text.find(end).expect("API.md has no routes:end marker"),
    );
    let want = taishi_serve::routes::markdown(&table());
    if text[a..b] != want {
        if std::env::var_os("TAISHI_BLESS").is_some() {
            std::fs::write(&path, format!("{}{want}{}", &text[..a], &text[b..])).unwrap();
        } else {
            panic!("API.md's route list is stale: run `TAISHI_BLESS=1 cargo test -p taishi-serve --test routes api_md`");
        }
    }
}

/// The properties a schema allows (through `$ref`, and the `oneOf`/
/// `anyOf`/`allOf` that flattened and tagged types make) and the ones it
/// requires.
fn shape(doc: &J, s: &J) -> (HashSet<String>, HashSet<String>) {
    let s = match s["$ref"].as_str() {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap(),
        None => s,
    };
    let mut props: HashSet<String> = s["properties"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let required = s["required"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for k in ["oneOf", "anyOf", "allOf"] {
        for sub in s[k].as_array().into_iter().flatten() {
            props.extend(shape(doc, sub).0);
        }
    }
    (props, required)
}

/// What each readable route answers has the shape its declared type says,
/// so the table's answer types cannot drift from the handlers'.
#[test]
fn answers_have_the_shape_the_document_declares() {
    let (srv, admin) = start();
    let addr = addr(&srv);
    let doc = taishi_serve::openapi_document();
    let mut checked = 0;
    for r in table() {
        if r.method != "GET" || r.path.contains('{') || r.path == "/stream" {
            continue;
        }
        let Some(schema) = doc["paths"][r.path]["get"]["responses"]["200"]["content"]
            ["application/json"]
            .get("schema")
        else {
            continue;
        };
        let (status, body) = call(addr, &r, Some(&admin.auth));
        if status != 200 {
            continue;
        }
        let v: J = serde_json::from_str(&body).unwrap();
        let Some(obj) = v.as_object() else { continue };
        let (props, required) = shape(&doc, schema);
        if props.is_empty() {
            continue;
        }
        for k in obj.keys() {
            assert!(props.contains(k), "{}: `{k}` is not in its schema", r.path);
        }
        for k in &required {
            assert!(obj.contains_key(k), "{}: `{k}` is missing: {body}", r.path);
        }
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
}

/// An ATT&CK id explains itself from the compiled-in data (no internet):
/// a sub-technique with its tactic and the data's version, T1027 under
/// Stealth (TA0005), never command and control; an unknown id is a 404
/// that says so in both languages.
#[test]
fn attack_techniques_are_described_from_local_data() {
    let (_srv, admin) = start();
    let (s, t) = admin.get("/api/v1/attack/techniques/t1059.001");
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["id"], "T1059.001");
    assert_eq!(t["name"], "PowerShell");
    assert_eq!(t["tactics"][0]["shortname"], "execution");
    assert_eq!(t["tactics"][0]["name_zh"], "执行");
    assert_eq!(t["version"], "18.1");
    assert!(t["description"]
        .as_str()
        .unwrap()
        .starts_with("Adversaries"));
    let (s, t) = admin.get("/api/v1/attack/techniques/T1027");
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["tactics"], json!([t["tactics"][0]]), "one tactic: {t}");
    assert_eq!(t["tactics"][0]["shortname"], "stealth");
    assert_eq!(t["tactics"][0]["id"], "TA0005");
    let (s, t) = admin.get("/api/v1/attack/techniques/T9999");
    assert_eq!(s, 404, "{t}");
    let e = t["error"].as_str().unwrap();
    assert!(e.contains("T9999") && e.contains("本地"), "{e}");
}

/// Every error answer carries a stable `code` beside the English `error`,
/// and the values its message names in `params`: the console translates
/// the code (issue 13, item 12: server errors were English in the Chinese
/// console).
#[test]
fn error_answers_carry_a_stable_code() {
    let (srv, admin) = start();
    let addr = addr(&srv);
    let code = |(s, b): (u16, J)| (s, b["code"].as_str().unwrap_or("").to_string(), b);

    let (s, c, b) = code(Client::new(addr).get("/api/v1/alerts"));
    assert_eq!((s, c.as_str()), (401, "unauthenticated"), "{b}");
    assert!(b["error"].as_str().unwrap().contains("sign in"), "{b}");

    let (s, c, b) = code(admin.post("/api/v1/search", &json!({"query": "a = (("})));
    assert_eq!((s, c.as_str()), (400, "invalid_query"), "{b}");

    let (s, c, b) = code(admin.post(
        "/api/v1/search",
        &json!({"query": "*", "from": "yesterday-ish"}),
    ));
    assert_eq!((s, c.as_str()), (400, "invalid_time"), "{b}");
    assert_eq!(b["params"]["field"], "from", "{b}");

    let (s, c, b) = code(admin.get("/api/v1/rules/no-such-rule"));
    assert_eq!((s, c.as_str()), (404, "not_found"), "{b}");

    let big = vec![b' '; 3 << 20];
    let (s, c, b) = code(admin.post_raw("/api/v1/search", "application/json", &big));
    assert_eq!((s, c.as_str()), (413, "too_large"), "{b}");
    assert_eq!(b["params"]["limit_mib"], 2, "{b}");

    let mut wrong = Client::new(addr);
    wrong.auth = String::new();
    let (s, c, b) = code(wrong.post(
        "/api/v1/auth/login",
        &json!({"username": "admin", "password": "not-the-password"}),
    ));
    assert_eq!((s, c.as_str()), (401, "wrong_credentials"), "{b}");

    // The document declares the code as a named enum of every value (each
    // value a `const` with its description).
    let doc = taishi_serve::openapi_document();
    let schema = &doc["components"]["schemas"]["ErrorCode"];
    let declared: HashSet<&str> = schema["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            schema["oneOf"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| &v["const"]),
        )
        .filter_map(J::as_str)
        .collect();
    assert!(!declared.is_empty(), "no ErrorCode enum: {schema}");
    for c in taishi_serve::routes::ErrorCode::ALL {
        let name = serde_json::to_value(c).unwrap();
        assert!(declared.contains(name.as_str().unwrap()), "{name}");
    }
}

/// Each error code has its message in both of the console's languages, in
/// the `apiError` block of web/src/locales/*.ts.
#[test]
fn every_error_code_has_console_messages_in_both_languages() {
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/src/locales");
    for file in ["zh-CN.ts", "en.ts"] {
        let text = std::fs::read_to_string(web.join(file)).unwrap();
        let start = text
            .find("apiError: {")
            .unwrap_or_else(|| panic!("{file} has no apiError block"));
        let block = &text[start..];
        let block = &block[..block.find("\n  },").unwrap_or(block.len())];
        for c in taishi_serve::routes::ErrorCode::ALL {
            let name = serde_json::to_value(c).unwrap();
            let key = format!("{}:", name.as_str().unwrap());
            assert!(block.contains(&key), "{file}: no message for `{key}`");
        }
    }
}

/// A SigmaHQ rule the shipped titles data translates answers with its
/// zh-CN title beside the English one, in the rule list and on its alerts;
/// a rule retitled since the translation was made has none (stale).
#[test]
fn translated_rules_and_their_alerts_carry_the_zh_cn_title() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_dir(dir.path());
    let rule = |id: &str, title: &str| {
        format!(
            "title: {title}\nid: {id}\nlevel: medium\nlogsource:\n  category: process_creation\n  product: windows\n\
             detection:\n  selection:\n    CommandLine|contains: 'taishi-e2e-marker'\n  condition: selection\n"
        )
    };
    // As translated, and retitled after the translation.
    std::fs::write(
        rules.join("curl.yml"),
        rule("bbeaed61-1990-4773-bf57-b81dbad7db2d", "Curl.EXE Execution"),
    )
    .unwrap();
    std::fs::write(
        rules.join("retitled.yml"),
        rule(
            "9fc51a3c-81b3-4fa7-b35f-7c02cf10fd2d",
            "Usage Of Web Request Commands Retitled",
        ),
    )
    .unwrap();
    let srv = Running::start(config(dir.path()), dir);
    let c = Client::login(addr(&srv), common::admin_password(srv.server()));

    let (s, r) = c.get("/api/v1/rules/bbeaed61-1990-4773-bf57-b81dbad7db2d");
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["title"], "Curl.EXE Execution");
    assert_eq!(r["title_zh"], "执行 Curl.EXE", "{r}");
    let (_, r) = c.get("/api/v1/rules/9fc51a3c-81b3-4fa7-b35f-7c02cf10fd2d");
    assert!(
        r["title_zh"].is_null(),
        "a stale translation is not used: {r}"
    );

    let (s, b) = c.post_raw(
        "/api/v1/ingest",
        "application/x-ndjson",
        &ndjson(&[sysmon_event(1, true)]),
    );
    assert_eq!(s, 200, "{b}");
    let mut alert = J::Null;
    assert!(wait_until(30, || {
        let (_, a) = c.get("/api/v1/alerts?rule_id=bbeaed61-1990-4773-bf57-b81dbad7db2d");
        alert = a["items"]
            .as_array()
            .and_then(|v| {
                v.iter()
                    .find(|x| x["rule_id"] == "bbeaed61-1990-4773-bf57-b81dbad7db2d")
            })
            .cloned()
            .unwrap_or(J::Null);
        !alert.is_null()
    }));
    assert_eq!(alert["rule_title_zh"], "执行 Curl.EXE", "{alert}");
    let (_, detail) = c.get(&format!("/api/v1/alerts/{}", alert["id"].as_str().unwrap()));
    assert_eq!(detail["rule"]["title_zh"], "执行 Curl.EXE", "{detail}");
}

/// What `v` breaks of `schema` (the subset schemars and the OpenAPI
/// document use: `$ref`, `type` (one or a list), `nullable`, `enum`,
/// `const`, `properties`, `required`, `additionalProperties`, `items`,
/// `anyOf`/`oneOf`/`allOf`), each as `path: what`.
fn violations(doc: &J, schema: &J, v: &J, at: &str, out: &mut Vec<String>) {
    if out.len() > 50 {
        return;
    }
    let schema = match schema.get("$ref").and_then(J::as_str) {
        Some(r) => match doc.pointer(r.trim_start_matches('#')) {
            Some(s) => s,
            None => return out.push(format!("{at}: dangling {r}")),
        },
        None => schema,
    };
    if schema.get("nullable") == Some(&J::Bool(true)) && v.is_null() {
        return;
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            J::String(s) => vec![s.as_str()],
            J::Array(a) => a.iter().filter_map(J::as_str).collect(),
            _ => vec![],
        };
        let fits = |t: &str| match t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        };
        if !types.is_empty() && !types.iter().any(|t| fits(t)) {
            return out.push(format!("{at}: {v} is not {types:?}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(J::as_array) {
        if !e.contains(v) {
            out.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            out.push(format!("{at}: {v} is not {c}"));
        }
    }
    for k in ["anyOf", "oneOf"] {
        if let Some(alts) = schema.get(k).and_then(J::as_array) {
            let ok = alts.iter().any(|s| {
                let mut e = Vec::new();
                violations(doc, s, v, at, &mut e);
                e.is_empty()
            });
            if !ok {
                out.push(format!("{at}: {v} fits none of its {k}"));
            }
        }
    }
    for s in schema
        .get("allOf")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
    {
        violations(doc, s, v, at, out);
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(J::as_object);
        for r in schema
            .get("required")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap_or_default();
            if !obj.contains_key(r) {
                out.push(format!("{at}: `{r}` is required but missing"));
            }
        }
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => violations(doc, s, x, &format!("{at}.{k}"), out),
                None => match schema.get("additionalProperties") {
                    Some(J::Bool(false)) => out.push(format!("{at}: `{k}` is not declared")),
                    Some(s @ J::Object(_)) => violations(doc, s, x, &format!("{at}.{k}"), out),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(a)) = (schema.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate().take(200) {
            violations(doc, items, x, &format!("{at}[{i}]"), out);
        }
    }
}

/// Every GET route of the table answers, on a server holding events and
/// alerts, JSON its declared response schema accepts in full (types,
/// required and undeclared fields, enums, nested): API.md and the OpenAPI
/// document say what the server really answers (issue 13, item 16).
#[test]
fn every_get_answer_validates_against_its_declared_schema() {
    let (_srv, admin) = start();
    let evs: Vec<J> = (0..20).map(|i| sysmon_event(i, i % 4 == 0)).collect();
    let (s, b) = admin.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs));
    assert_eq!(s, 200, "{b}");
    assert!(wait_until(30, || admin.get("/api/v1/alerts").1["total"]
        .as_u64()
        .unwrap_or(0)
        > 0));
    let alert = admin.get("/api/v1/alerts").1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let doc = taishi_serve::openapi_document();
    let mut problems = Vec::new();
    let mut checked = 0;
    for r in table() {
        if r.method != "GET" || r.path == "/stream" {
            continue;
        }
        let Some(schema) = doc["paths"][r.path]["get"]["responses"]["200"]["content"]
            ["application/json"]
            .get("schema")
        else {
            continue;
        };
        // Ids that exist: an alert, a rule; other parameters as given.
        let path = r
            .full_path()
            .replace("/alerts/{id}", &format!("/alerts/{alert}"))
            .replace("/rules/{id}", "/rules/0b5c2d9e-7d4f-4c4b-9a57-000000000001")
            .replace("{id}", "T1059.001")
            .replace("{technique}", "T1059.001");
        if path.contains('{') {
            continue;
        }
        let (status, v) = admin.get(&path);
        if status != 200 {
            continue;
        }
        let mut e = Vec::new();
        violations(&doc, schema, &v, &path, &mut e);
        problems.extend(e);
        checked += 1;
    }
    assert!(checked >= 15, "{checked}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
