//! The real server with its platform state on PostgreSQL (`[state]
//! database`, the password from `password_env`): sign-in, users, tokens,
//! ingest → alerts, triage and comments, rule switches; then a second
//! start on the same database finds all of it, and nothing of the state is
//! kept in the data directory. Needs `TAISHI_TEST_PG` (scripts/setup.d/
//! postgres.sh); without it the test prints SKIP and passes, except under
//! CI=true or TAISHI_REQUIRE_TEST_PG=1.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value as J};
use taishi_state::testdb::TestDb;
use taishi_state::Target;

/// The variable the config names for the password (set by this test only).
const PASSWORD_ENV: &str = "TAISHI_SERVE_TEST_STATE_PASSWORD";

fn pg_config(dir: &std::path::Path, db: &TestDb) -> taishi_serve::Config {
    let Target::Postgres(pg) = &db.target else {
        unreachable!()
    };
    let password = String::from_utf8(pg.get_password().unwrap_or_default().to_vec()).unwrap();
    // Edition 2021, one test in this binary: nothing reads the environment
    // concurrently.
    std::env::set_var(PASSWORD_ENV, &password);
    let mut c = config(dir);
    // The URL without its password: that comes from the environment.
    c.state.database = taishi_state::db::redact_url(&db.url()).replace(":***@", "@");
    c.state.password_env = Some(PASSWORD_ENV.into());
    assert!(!c.state.database.contains(&password));
    c
}

fn start(rt: &tokio::runtime::Runtime, c: taishi_serve::Config) -> (taishi_serve::Server, Client) {
    let server = rt.block_on(taishi_serve::start(c)).unwrap();
    let client = Client::login(server.http_addr, admin_password(&server));
    (server, client)
}

fn alerts(c: &Client, q: &str) -> J {
    c.get(&format!("/api/v1/alerts?{q}")).1
}

#[test]
fn the_server_keeps_its_state_on_postgresql() {
    let Some(db) = TestDb::postgres("the_server_keeps_its_state_on_postgresql") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = pg_config(dir.path(), &db);
    // The password is in neither the printed config nor its debug form.
    let pw = std::env::var(PASSWORD_ENV).unwrap();
    assert!(!serde_json::to_string(&cfg).unwrap().contains(&pw));
    assert!(!format!("{cfg:?}").contains(&pw));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (server, admin) = start(&rt, cfg.clone());
    let addr = server.http_addr;

    // Users and sign-in.
    let (s, u) = admin.post(
        "/api/v1/users",
        &json!({"username": "vera", "password": "Lantern-orchid-71", "roles": ["analyst"]}),
    );
    assert_eq!(s, 200, "{u}");
    let (_, users) = admin.get("/api/v1/users");
    assert!(users.to_string().contains("\"vera\""), "{users}");
    let vera = Client::login_as(addr, "vera", "Lantern-orchid-71", None);
    let (s, _) = Client::new(addr).post(
        "/api/v1/auth/login",
        &json!({"username": "vera", "password": "wrong-password-1"}),
    );
    assert_eq!(s, 401);

    // Tokens: made by sign-in above; listed and revoked.
    let (s, t) = admin.post(
        "/api/v1/tokens",
        &json!({"name": "spare", "roles": ["viewer"]}),
    );
    assert_eq!(s, 200, "{t}");
    let spare = t["id"].as_str().unwrap().to_string();
    let (_, toks) = admin.get("/api/v1/tokens");
    assert!(toks.to_string().contains("spare"), "{toks}");
    assert_eq!(admin.delete(&format!("/api/v1/tokens/{spare}")), 204);

    // Ingest → alerts, stored in PostgreSQL.
    let evs: Vec<J> = (0..10).map(|i| sysmon_event(i, i % 3 == 0)).collect();
    let (s, b) = vera.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs));
    assert_eq!(s, 200, "{b}");
    assert!(
        wait_until(15, || alerts(&vera, "level=high")["total"] == 4),
        "{}",
        alerts(&vera, "level=high")
    );
    let id = alerts(&vera, "level=high")["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Triage and comments.
    let (s, a) = vera.post(&format!("/api/v1/alerts/{id}/ack"), &json!({}));
    assert_eq!(
        (s, a["status"].as_str()),
        (200, Some("acknowledged")),
        "{a}"
    );
    let (s, a) = vera.post(
        &format!("/api/v1/alerts/{id}/assign"),
        &json!({"assignee": "admin"}),
    );
    assert_eq!((s, a["assignee"].as_str()), (200, Some("admin")), "{a}");
    let (s, c) = vera.post(
        &format!("/api/v1/alerts/{id}/comments"),
        &json!({"text": "在 PostgreSQL 上 / on PostgreSQL"}),
    );
    assert_eq!(s, 200, "{c}");
    let (s, a) = vera.post(
        &format!("/api/v1/alerts/{id}/close"),
        &json!({"resolution": "false_positive", "comment": "benign"}),
    );
    assert_eq!((s, a["status"].as_str()), (200, Some("closed")), "{a}");
    assert_eq!(alerts(&vera, "status=open&level=high")["total"], 3);

    // Rule switches.
    let rules = admin.get("/api/v1/rules?q=marker").1;
    let rid = rules["items"][0]["id"].as_str().unwrap().to_string();
    let (s, r) = admin.post(&format!("/api/v1/rules/{rid}/disable"), &json!({}));
    assert_eq!((s, r["enabled"].as_bool()), (200, Some(false)), "{r}");

    rt.block_on(server.shutdown()).unwrap();
    // Nothing of the state went to the data directory.
    assert!(!cfg.data_dir.join("state.db").exists());

    // A second start (another node, or a restart) finds all of it.
    let (server, admin) = start(&rt, cfg.clone());
    let (_, detail) = admin.get(&format!("/api/v1/alerts/{id}"));
    assert_eq!(detail["status"], "closed", "{detail}");
    let texts: Vec<&str> = detail["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"在 PostgreSQL 上 / on PostgreSQL"),
        "{texts:?}"
    );
    let rules = admin.get("/api/v1/rules?q=marker").1;
    assert_eq!(rules["items"][0]["enabled"], false, "{rules}");
    let vera = Client::login_as(server.http_addr, "vera", "Lantern-orchid-71", None);
    assert_eq!(alerts(&vera, "level=high")["total"], 4);
    rt.block_on(server.shutdown()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
}
