//! `taishi pii scan postgres://…|mysql://…` against real servers on
//! 127.0.0.1: PostgreSQL from `TAISHI_TEST_PG` (scripts/setup.d/postgres.sh)
//! and MariaDB from `TAISHI_TEST_MYSQL` (scripts/setup.d/mariadb.sh). Each
//! test makes a database of its own, seeds a table with personal data,
//! scans it and checks the findings per column. Without the variable a
//! test prints SKIP and passes, except under CI=true or
//! TAISHI_REQUIRE_TEST_PG=1 / TAISHI_REQUIRE_TEST_MYSQL=1.

mod common;

use common::*;
use taishi_pii::Kind;
use taishi_pii_scan::{scan_database, DbLimits, DbReport};

fn server(var: &str, require: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            let required = std::env::var("CI").is_ok_and(|v| v == "true")
                || std::env::var_os(require).is_some_and(|v| v != "0");
            assert!(
                !required,
                "{var} is not set and {require} or CI=true asks for the test"
            );
            eprintln!("SKIP: {var} not set (scripts/setup.d)");
            None
        }
    }
}

/// The URL with its database replaced by `db`.
fn with_db(url: &str, db: &str) -> String {
    let (head, _) = url.rsplit_once('/').unwrap();
    format!("{head}/{db}")
}

const ROWS: u32 = 60;

/// An empty database `db` (one statement each: PostgreSQL will not create
/// a database inside the transaction a multi-statement string is).
fn fresh(admin: &mut postgres::Client, db: &str) {
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
}

fn check(report: &DbReport, schema: &str, sample: u64) {
    let locs = &report.locations;
    let ids = at(locs, &format!("{schema}.customers.id_number"));
    assert_eq!(count(ids, Kind::CnResidentId), sample);
    assert_eq!(ids.people().count, sample);
    assert!(ids.people().exact);
    // The mobile is a bigint column: read as its digits.
    let phones = at(locs, &format!("{schema}.customers.phone"));
    assert_eq!(count(phones, Kind::CnMobile), sample);
    let notes = at(locs, &format!("{schema}.customers.note"));
    assert_eq!(count(notes, Kind::Email), sample);
    // A column without personal information is no location.
    assert!(
        !locs.keys().any(|k| k.ends_with(".city")),
        "{:?}",
        locs.keys().collect::<Vec<_>>()
    );
    assert_eq!(report.rows, sample + 1, "sampled rows of both tables");
    assert_eq!(report.tables, 2);
    let raw: Vec<String> = (0..ROWS)
        .flat_map(|i| [resident_id(i), mobile(i)])
        .collect();
    no_raw(locs, &raw);
}

fn seed_rows() -> Vec<(String, i64, String)> {
    (0..ROWS)
        .map(|i| {
            (
                resident_id(i),
                mobile(i).parse().unwrap(),
                format!("联系邮箱 user{i}@example.cn"),
            )
        })
        .collect()
}

#[test]
fn postgres_per_column() {
    let Some(url) = server("TAISHI_TEST_PG", "TAISHI_REQUIRE_TEST_PG") else {
        return;
    };
    let db = format!("piiscan_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    fresh(&mut admin, &db);
    let url_db = with_db(&url, &db);
    let mut c = postgres::Client::connect(&url_db, postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE SCHEMA crm; \
         CREATE TABLE crm.customers (id serial, id_number varchar(18), phone bigint, note text, city text); \
         CREATE TABLE crm.\"odd \"\"name\" (x text)",
    )
    .unwrap();
    for (id, phone, note) in seed_rows() {
        c.execute(
            "INSERT INTO crm.customers (id_number, phone, note, city) VALUES ($1, $2, $3, '北京')",
            &[&id, &phone, &note],
        )
        .unwrap();
    }
    c.execute("INSERT INTO crm.\"odd \"\"name\" VALUES ('x')", &[])
        .unwrap();
    let sample = 40;
    let limits = DbLimits {
        sample,
        ..DbLimits::default()
    };
    let mut seen = Vec::new();
    let report = scan_database(&url_db, &detect(), &limits, &mut |p| {
        seen.push((p.done, p.total))
    })
    .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    check(&report, "crm", sample);
    assert_eq!(seen.last(), Some(&(2, 2)), "progress ends at every table");
    // The session is read-only: the scan cannot have written.
    drop(c);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

#[test]
fn postgres_statement_timeout_fails_a_table_not_the_scan() {
    let Some(url) = server("TAISHI_TEST_PG", "TAISHI_REQUIRE_TEST_PG") else {
        return;
    };
    let db = format!("piiscan_slow_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    fresh(&mut admin, &db);
    let url_db = with_db(&url, &db);
    let mut c = postgres::Client::connect(&url_db, postgres::NoTls).unwrap();
    // A view that sleeps stands for a table too slow to read.
    c.batch_execute(
        "CREATE TABLE fast (id_number text); \
         INSERT INTO fast VALUES ('身份证 11010119900307803X'); \
         CREATE VIEW slow AS SELECT 'x'::text AS v FROM pg_sleep(5)",
    )
    .unwrap();
    let limits = DbLimits {
        statement_timeout: std::time::Duration::from_millis(200),
        ..DbLimits::default()
    };
    let report = scan_database(&url_db, &detect(), &limits, &mut |_| {}).unwrap();
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert!(report.failed[0].0.ends_with(".slow"));
    assert_eq!(
        count(at(&report.locations, ".fast.id_number"), Kind::CnResidentId),
        1
    );
    drop(c);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

#[test]
fn mariadb_per_column() {
    let Some(url) = server("TAISHI_TEST_MYSQL", "TAISHI_REQUIRE_TEST_MYSQL") else {
        return;
    };
    use mysql::prelude::Queryable;
    let db = format!("piiscan_{}", std::process::id());
    let mut c = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
    c.query_drop(format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    c.query_drop(format!("CREATE DATABASE {db} CHARACTER SET utf8mb4"))
        .unwrap();
    c.query_drop(format!(
        "CREATE TABLE {db}.customers (id int auto_increment primary key, id_number char(18), \
         phone bigint, note text, city varchar(20)) CHARACTER SET utf8mb4"
    ))
    .unwrap();
    c.query_drop(format!("CREATE TABLE {db}.`odd ``name` (x text)"))
        .unwrap();
    c.query_drop(format!("INSERT INTO {db}.`odd ``name` VALUES ('x')"))
        .unwrap();
    c.exec_batch(
        format!(
            "INSERT INTO {db}.customers (id_number, phone, note, city) VALUES (?, ?, ?, '上海')"
        ),
        seed_rows(),
    )
    .unwrap();
    let sample = 25;
    let limits = DbLimits {
        sample,
        ..DbLimits::default()
    };
    let url_db = with_db(&url, &db).replacen("mysql://", "mariadb://", 1);
    let report = scan_database(&url_db, &detect(), &limits, &mut |_| {}).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    check(&report, &db, sample);
    c.query_drop(format!("DROP DATABASE {db}")).unwrap();
}
