//! Versioned migrations on SQLite and PostgreSQL: a database of the shape
//! before migrations is brought forward with every row; a newer one is
//! refused; nodes starting together migrate once.

use rusqlite::Connection;
use taishi_state::testdb::TestDb;
use taishi_state::*;

const BEFORE: &str = include_str!("fixtures/schema_before_migrations.sql");
const TENANCY_BEFORE: &str = include_str!("fixtures/schema_tenancy_before_migrations.sql");

/// Every table, index and their SQL (whitespace folded), without
/// statistics and the migrations' own table.
fn sqlite_schema(path: &std::path::Path) -> Vec<(String, String, String)> {
    let c = Connection::open(path).unwrap();
    let mut st = c
        .prepare(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master
             WHERE name NOT LIKE 'sqlite_stat%' AND name NOT LIKE '%schema_migrations%'
             ORDER BY type, name",
        )
        .unwrap();
    st.query_map([], |r| {
        let sql: String = r.get(2)?;
        Ok((
            r.get(0)?,
            r.get(1)?,
            sql.split_whitespace().collect::<Vec<_>>().join(" "),
        ))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

fn count(path: &std::path::Path, table: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Rows in every table of the old schema, as `State::open` of the time
/// would have written them.
fn fill_old(c: &Connection) {
    c.execute_batch(
        r#"
INSERT INTO users VALUES ('root', 'admin', '$argon2id$x', 0, '2026-01-01T00:00:00.000Z', NULL);
INSERT INTO users VALUES ('ann', 'analyst', '$argon2id$y', 1, '2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z');
INSERT INTO sessions VALUES ('sid', 'root', 'csrf', 99999999999);
INSERT INTO tokens VALUES ('t1', 'ci', 'viewer', 'root', 'hash1', '2026-01-01T00:00:00.000Z', NULL);
INSERT INTO alerts VALUES ('a1', 1764000000000000, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z',
  'intel', 'intel', 'Known bad', 3, 'h1', '203.0.113.9', NULL, 'acknowledged', NULL, 'ann', 0,
  '{"tags":[],"@timestamp":"2025-11-24T16:00:00+00:00","summary":{"indicator":"203.0.113.9","indicator.type":"ipv4","intel.source":"feed"},"events":[1],"event":{}}');
INSERT INTO alerts VALUES ('a2', 1764000001000000, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z',
  'sigma', 'r1', 'Rule one', 2, 'h2', NULL, NULL, 'new', NULL, NULL, 1,
  '{"tags":["attack.execution"],"@timestamp":"2025-11-24T16:00:01+00:00","summary":{},"events":[2],"event":{}}');
INSERT INTO comments VALUES ('a1', 'ann', '2026-01-01T00:00:00.000Z', 'looking');
INSERT INTO rule_switch VALUES ('r9', 0);
INSERT INTO settings VALUES ('outputs', '{"smtp":null}');
INSERT INTO intel_hits VALUES ('a1', '203.0.113.9', 'ipv4', 'feed', 1764000000000000);
"#,
    )
    .unwrap();
}

const OLD_TABLES: [(&str, i64); 8] = [
    ("users", 2),
    ("sessions", 1),
    ("tokens", 1),
    ("alerts", 2),
    ("comments", 1),
    ("rule_switch", 1),
    ("settings", 1),
    ("intel_hits", 1),
];

/// A SQLite file of the shape before migrations, filled.
fn old_database(db: &TestDb) -> std::path::PathBuf {
    let Target::Sqlite(path) = &db.target else {
        unreachable!()
    };
    let c = Connection::open(path).unwrap();
    c.execute_batch(BEFORE).unwrap();
    fill_old(&c);
    path.clone()
}

/// The same tables, indexes and their SQL as a database made fresh by
/// this binary.
fn assert_same_schema_as_fresh(path: &std::path::Path) {
    let fresh = TestDb::sqlite();
    let Target::Sqlite(fresh_path) = &fresh.target else {
        unreachable!()
    };
    drop(State::open(fresh_path).unwrap());
    assert_eq!(sqlite_schema(path), sqlite_schema(fresh_path));
}

#[test]
fn a_database_from_before_migrations_is_brought_forward_with_every_row() {
    let old = TestDb::sqlite();
    let path = old_database(&old);
    let st = migration_status(&old.target).unwrap();
    assert!(st.unversioned && st.version == 0 && st.pending.len() as i64 == st.latest);
    // A dry run changes nothing.
    migrate_database(&old.target, true).unwrap();
    assert!(migration_status(&old.target).unwrap().unversioned);

    let s = State::open(&path).unwrap();
    for (table, n) in OLD_TABLES {
        assert_eq!(count(&path, table), n, "{table}");
    }
    // The rows read back through the API.
    assert_eq!(
        s.user("ann").unwrap().unwrap().last_login.as_deref(),
        Some("2026-01-03T00:00:00.000Z")
    );
    // Kept, but with no recorded activity it is past any idle timeout.
    assert!(s.session("sid", 3600).unwrap().is_none());
    assert!(s.session("sid", i64::MAX / 4).unwrap().is_some());
    assert_eq!(s.token("hash1").unwrap().unwrap().roles, ["viewer"]);
    assert_eq!(s.alert("a1").unwrap().assignee.as_deref(), Some("ann"));
    // The one `admin` role of old is split; every row is the top organisation's.
    let root = s.user("root").unwrap().unwrap();
    assert_eq!(root.roles, ["sysadmin", "secadmin", "analyst"]);
    assert_eq!(
        (root.org.as_str(), s.alert("a2").unwrap().org.as_deref()),
        (ROOT_ORG, Some(ROOT_ORG))
    );
    assert!(s.alert("a2").unwrap().retrospective);
    // Old alerts get their detection time from when they were stored
    // (2026-01-01), not from their events' (2025-11-24).
    let day = |d: &str| {
        chrono::DateTime::parse_from_rfc3339(d)
            .unwrap()
            .timestamp_micros()
    };
    let on_jan_1 = |time| AlertFilter {
        from_us: Some(day("2026-01-01T00:00:00Z")),
        to_us: Some(day("2026-01-02T00:00:00Z")),
        time,
        ..Default::default()
    };
    assert_eq!(s.alerts(&on_jan_1(AlertTime::Detected)).unwrap().0, 2);
    assert_eq!(s.alerts(&on_jan_1(AlertTime::Event)).unwrap().0, 0);
    assert_eq!(s.comments("a1").unwrap()[0].text, "looking");
    assert_eq!(
        s.intel_hit_counts(&["203.0.113.9"], &Scope::All).unwrap()["203.0.113.9"].0,
        1
    );
    assert_eq!(
        s.setting("outputs").unwrap().as_deref(),
        Some(r#"{"smtp":null}"#)
    );
    let st = s.migration_status().unwrap();
    assert!(!st.unversioned && st.pending.is_empty() && st.version == migrate::latest());
    drop(s);

    // The same schema as a database made fresh by this binary.
    assert_same_schema_as_fresh(&path);
}

/// main's tenancy code upgraded databases in place before versioned
/// migrations: such a database (columns there already) migrates too.
#[test]
fn a_database_with_organisations_from_before_migrations_is_brought_forward() {
    let old = TestDb::sqlite();
    let path = old_database(&old);
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch(TENANCY_BEFORE).unwrap();
        c.execute_batch(
            "INSERT INTO orgs VALUES ('op-a', 'root', 'A', 'x');
             UPDATE users SET role = 'sysadmin secadmin analyst', org = 'op-a' WHERE username = 'root';
             INSERT INTO password_history VALUES ('root', 'old', 'x');",
        )
        .unwrap();
    }
    assert!(migration_status(&old.target).unwrap().unversioned);
    let s = State::open(&path).unwrap();
    for (table, n) in OLD_TABLES {
        assert_eq!(count(&path, table), n, "{table}");
    }
    assert_eq!(count(&path, "orgs"), 2);
    assert_eq!(count(&path, "password_history"), 1);
    assert_eq!(s.user("root").unwrap().unwrap().org, "op-a");
    drop(s);
    assert_same_schema_as_fresh(&path);
}

#[test]
fn a_database_from_before_intel_hits_gets_them_filled() {
    let old = TestDb::sqlite();
    let Target::Sqlite(path) = &old.target else {
        unreachable!()
    };
    {
        let c = Connection::open(path).unwrap();
        let before_hits = BEFORE
            .split("CREATE TABLE IF NOT EXISTS intel_hits")
            .next()
            .unwrap();
        c.execute_batch(before_hits).unwrap();
        c.execute_batch("CREATE TABLE intel_hits(alert_id TEXT PRIMARY KEY, indicator TEXT NOT NULL, type TEXT, source TEXT, ts INTEGER NOT NULL)").unwrap();
        fill_old(&c);
        c.execute_batch("DROP TABLE intel_hits").unwrap();
    }
    let s = State::open(path).unwrap();
    assert_eq!(
        s.intel_top(10, &Scope::All).unwrap()[0].indicator,
        "203.0.113.9"
    );
}

#[test]
fn opening_twice_applies_nothing_and_status_says_so() {
    for db in TestDb::both("opening_twice_applies_nothing_and_status_says_so") {
        let on = db.name;
        drop(State::open_target(db.target.clone()).unwrap());
        let s = State::open_target(db.target.clone()).unwrap();
        let st = s.migration_status().unwrap();
        assert_eq!(st.applied.len() as i64, migrate::latest(), "{on}");
        assert!(st.pending.is_empty() && !st.unversioned, "{on}");
        assert_eq!(st.backend, on);
        assert!(st.applied.iter().all(|a| a.checksum.len() == 64), "{on}");
        let dry = migrate_database(&db.target, true).unwrap();
        assert!(dry.pending.is_empty(), "{on}");
    }
}

#[test]
fn a_newer_database_is_refused_with_what_to_do() {
    for db in TestDb::both("a_newer_database_is_refused_with_what_to_do") {
        let on = db.name;
        let s = State::connect(&db.url()).unwrap();
        s.set_setting("x", "1").unwrap();
        drop(s);
        db.execute_raw("INSERT INTO schema_migrations VALUES (999, '0999_future', '2030-01-01T00:00:00Z', 'x')");
        let e = State::open_target(db.target.clone())
            .err()
            .expect("refused");
        assert!(
            matches!(e, StateError::Db(DbError::TooNew { found: 999, .. })),
            "{on}: {e}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("999") && msg.contains("newer Taishi") && msg.contains("版本"),
            "{on}: {msg}"
        );
        assert!(matches!(
            migrate_database(&db.target, false),
            Err(StateError::Db(DbError::TooNew { .. }))
        ));
        // An edited migration is refused too.
        db.execute_raw("DELETE FROM schema_migrations WHERE version = 999");
        db.execute_raw("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
        let e = State::open_target(db.target.clone())
            .err()
            .expect("refused");
        assert!(
            matches!(e, StateError::Db(DbError::Checksum { version: 1, .. })),
            "{on}: {e}"
        );
    }
}

#[test]
fn nodes_starting_together_migrate_once() {
    let Some(db) = TestDb::postgres("nodes_starting_together_migrate_once") else {
        return;
    };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let t = db.target.clone();
            std::thread::spawn(move || State::open_target(t).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let st = migration_status(&db.target).unwrap();
    assert_eq!(st.applied.len() as i64, migrate::latest());
}

/// Alerts stored before `alerts.user_name` get their user from the event
/// they keep (the user roles in order, `-` is none), so "other alerts of
/// this user" finds them too.
#[test]
fn alerts_from_before_the_user_column_get_their_user() {
    let old = TestDb::sqlite();
    let Target::Sqlite(path) = &old.target else {
        unreachable!()
    };
    {
        let c = Connection::open(path).unwrap();
        c.execute_batch(BEFORE).unwrap();
        fill_old(&c);
        c.execute_batch(
            r#"
INSERT INTO alerts VALUES ('a3', 1764000002000000, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z',
  'sigma', 'r1', 'Rule one', 2, 'h3', NULL, NULL, 'new', NULL, NULL, 0,
  '{"tags":[],"@timestamp":"2025-11-24T16:00:02+00:00","summary":{},"events":[3],"event":{"TargetUserName":"-","SubjectUserName":"bob","User":"CORP\\bob"}}');
"#,
        )
        .unwrap();
    }
    let s = State::open(path).unwrap();
    let of = |u: &str| {
        s.alerts(&AlertFilter {
            user: Some(u.into()),
            ..Default::default()
        })
        .unwrap()
        .1
        .into_iter()
        .map(|a| a.alert.id)
        .collect::<Vec<_>>()
    };
    assert_eq!(of("bob"), ["a3"]);
    assert!(of("-").is_empty());
}
