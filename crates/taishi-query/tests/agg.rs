//! Stages over a small dataset, against results computed by hand.
//!
//! | i | @timestamp (UTC)  | host | user  | port | bytes | category   |
//! |---|-------------------|------|-------|------|-------|------------|
//! | 0 | 05-01 10:05:00    | a    | alice | 22   | 100   | net        |
//! | 1 | 05-01 10:20:00    | a    | bob   | 443  | 200   | net        |
//! | 2 | 05-01 10:59:59    | b    | alice | 443  | 300   | net, ids   |
//! | 3 | 05-01 11:00:00    | b    | alice | 80   | "400" | net        |
//! | 4 | 05-01 03:30 (11:30+08:00) | a | carol | 443 | 50 | auth     |
//! | 5 | 05-01 12:10:00    | c    | —     | 22   | —     | net        |
//! | 6 | —                 | a    | alice | 443  | 1     | net        |
//! | 7 | 05-01 12:15:00    | b    | bob   | 22   | 2.5   | net        |

use chrono::DateTime;
use taishi_event::{Event, Value};
use taishi_query::{Query, QueryResult, Table};

/// time, host, user, port, bytes, categories
type Row<'a> = (
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    u64,
    Option<Value>,
    &'a [&'a str],
);

fn data() -> Vec<Event> {
    let rows: [Row; 8] = [
        (
            Some("2024-05-01T10:05:00Z"),
            "a",
            Some("alice"),
            22,
            Some(100u64.into()),
            &["net"],
        ),
        (
            Some("2024-05-01T10:20:00Z"),
            "a",
            Some("bob"),
            443,
            Some(200u64.into()),
            &["net"],
        ),
        (
            Some("2024-05-01T10:59:59Z"),
            "b",
            Some("alice"),
            443,
            Some(300i64.into()),
            &["net", "ids"],
        ),
        (
            Some("2024-05-01T11:00:00Z"),
            "b",
            Some("alice"),
            80,
            Some("400".into()),
            &["net"],
        ),
        (
            Some("2024-05-01T11:30:00+08:00"),
            "a",
            Some("carol"),
            443,
            Some(50u64.into()),
            &["auth"],
        ),
        (Some("2024-05-01T12:10:00Z"), "c", None, 22, None, &["net"]),
        (None, "a", Some("alice"), 443, Some(1u64.into()), &["net"]),
        (
            Some("2024-05-01T12:15:00Z"),
            "b",
            Some("bob"),
            22,
            Some(2.5f64.into()),
            &["net"],
        ),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, (t, host, user, port, bytes, cat))| {
            let mut e = Event::new();
            e.timestamp = t.map(|t| DateTime::parse_from_rfc3339(t).unwrap());
            e.push("i", i as u64);
            e.push("host.name", *host);
            if let Some(u) = user {
                e.push("user.name", *u);
            }
            e.push("destination.port", *port);
            if let Some(b) = bytes {
                e.push("bytes", b.clone());
            }
            e.push("event.category", Value::from(cat.to_vec()));
            e
        })
        .collect()
}

fn run(q: &str) -> QueryResult {
    let now = DateTime::parse_from_rfc3339("2024-05-01T13:00:00Z").unwrap();
    Query::parse_at(q, now)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .execute(data())
}

fn table(q: &str) -> Table {
    match run(q) {
        QueryResult::Table(t) => t,
        other => panic!("{q}: not a table: {other:?}"),
    }
}

/// The `i` of each returned event.
fn ids(q: &str) -> Vec<u64> {
    match run(q) {
        QueryResult::Events { events } => events
            .iter()
            .map(|e| e.get("i").and_then(Value::as_u64).unwrap())
            .collect(),
        other => panic!("{q}: not events: {other:?}"),
    }
}

fn s(x: &str) -> Value {
    Value::from(x)
}

fn u(x: u64) -> Value {
    Value::UInt(x)
}

#[test]
fn stats_by_one_field() {
    let t = table("* | stats count() by host.name");
    assert_eq!(t.columns, ["host.name", "count"]);
    assert_eq!(
        t.rows,
        [vec![s("a"), u(4)], vec![s("b"), u(3)], vec![s("c"), u(1)]]
    );
}

#[test]
fn stats_all_functions() {
    let t = table(
        "* | stats count(), dc(user.name) as users, sum(bytes), avg(bytes), min(bytes), max(bytes), count(bytes) by host.name",
    );
    assert_eq!(
        t.columns,
        [
            "host.name",
            "count",
            "users",
            "sum(bytes)",
            "avg(bytes)",
            "min(bytes)",
            "max(bytes)",
            "count(bytes)"
        ]
    );
    // a: bytes 100, 200, 50, 1. b: 300, "400", 2.5. c: none.
    assert_eq!(
        t.rows[0],
        [
            s("a"),
            u(4),
            u(3),
            Value::Int(351),
            Value::Float(87.75),
            Value::UInt(1),
            Value::UInt(200),
            u(4)
        ]
    );
    assert_eq!(
        t.rows[1],
        [
            s("b"),
            u(3),
            u(2),
            Value::Float(702.5),
            Value::Float(702.5 / 3.0),
            Value::Float(2.5),
            Value::Int(400),
            u(3)
        ]
    );
    assert_eq!(
        t.rows[2],
        [
            s("c"),
            u(1),
            u(0),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            u(0)
        ]
    );
}

#[test]
fn stats_by_two_fields_drops_missing() {
    let t = table("* | stats count() as n by host.name, user.name");
    assert_eq!(t.columns, ["host.name", "user.name", "n"]);
    assert_eq!(
        t.rows,
        [
            vec![s("a"), s("alice"), u(2)],
            vec![s("a"), s("bob"), u(1)],
            vec![s("a"), s("carol"), u(1)],
            vec![s("b"), s("alice"), u(2)],
            vec![s("b"), s("bob"), u(1)],
        ]
    );
}

#[test]
fn stats_over_arrays_count_each_value() {
    let t = table("* | stats count() by event.category");
    assert_eq!(
        t.rows,
        [
            vec![s("auth"), u(1)],
            vec![s("ids"), u(1)],
            vec![s("net"), u(7)]
        ]
    );
}

#[test]
fn stats_without_by() {
    let t = table(
        "host.name:a | stats count(), min(@timestamp), max(@timestamp), dc(destination.port)",
    );
    // Event 4 (11:30+08:00) is the earliest by instant though not by text.
    assert_eq!(
        t.rows,
        [vec![
            u(4),
            s("2024-05-01T11:30:00+08:00"),
            s("2024-05-01T10:20:00Z"),
            u(2)
        ]]
    );
    let t = table("host.name:zzz | stats count(), sum(bytes)");
    assert_eq!(t.rows, [vec![u(0), Value::Null]]);
    let t = table("host.name:zzz | stats count() by host.name");
    assert!(t.rows.is_empty());
}

#[test]
fn top_and_rare() {
    let t = table("* | top 2 destination.port");
    assert_eq!(t.columns, ["destination.port", "count"]);
    assert_eq!(t.rows, [vec![u(443), u(4)], vec![u(22), u(3)]]);
    let t = table("* | rare 2 destination.port");
    assert_eq!(t.rows, [vec![u(80), u(1)], vec![u(22), u(3)]]);
    // Ties keep value order.
    let t = table("* | rare 2 event.category");
    assert_eq!(t.rows, [vec![s("auth"), u(1)], vec![s("ids"), u(1)]]);
    let t = table("* | top user.name");
    assert_eq!(
        t.rows,
        [
            vec![s("alice"), u(4)],
            vec![s("bob"), u(2)],
            vec![s("carol"), u(1)]
        ]
    );
    let t = table("* | top 1 host.name, user.name");
    assert_eq!(t.columns, ["host.name", "user.name", "count"]);
    assert_eq!(t.rows, [vec![s("a"), s("alice"), u(2)]]);
}

#[test]
fn timechart_buckets() {
    let t = table("event.category:net | timechart 1h count()");
    assert_eq!(t.columns, ["@timestamp", "count"]);
    assert_eq!(
        t.rows,
        [
            vec![s("2024-05-01T10:00:00Z"), u(3)],
            vec![s("2024-05-01T11:00:00Z"), u(1)],
            vec![s("2024-05-01T12:00:00Z"), u(2)],
        ]
    );
    // Gaps are filled between the first and last bucket.
    let t = table("* | timechart 1h count()");
    assert_eq!(t.rows.len(), 10);
    assert_eq!(t.rows[0], [s("2024-05-01T03:00:00Z"), u(1)]);
    assert_eq!(t.rows[1], [s("2024-05-01T04:00:00Z"), u(0)]);
    assert_eq!(t.rows[7], [s("2024-05-01T10:00:00Z"), u(3)]);
    assert_eq!(t.rows[9], [s("2024-05-01T12:00:00Z"), u(2)]);
    // Days align to UTC midnight whatever the event's zone.
    let t = table("* | timechart 1d count(), sum(bytes)");
    assert_eq!(
        t.rows,
        [vec![s("2024-05-01T00:00:00Z"), u(7), Value::Float(1052.5)]]
    );
    let t = table("* | timechart 30m count()");
    // 03:30, 10:00 (0, 1), 10:30 (2), 11:00 (3), 12:00 (5, 7).
    assert_eq!(t.rows.iter().filter(|r| r[1] != u(0)).count(), 5);
    assert_eq!(
        t.rows.last().unwrap(),
        &vec![s("2024-05-01T12:00:00Z"), u(2)]
    );
}

#[test]
fn timechart_by_field() {
    let t = table("event.category:net | timechart 1h count() by host.name");
    assert_eq!(t.columns, ["@timestamp", "host.name", "count"]);
    let h = |x: &str| s(&format!("2024-05-01T{x}:00:00Z"));
    assert_eq!(
        t.rows,
        [
            vec![h("10"), s("a"), u(2)],
            vec![h("10"), s("b"), u(1)],
            vec![h("10"), s("c"), u(0)],
            vec![h("11"), s("a"), u(0)],
            vec![h("11"), s("b"), u(1)],
            vec![h("11"), s("c"), u(0)],
            vec![h("12"), s("a"), u(0)],
            vec![h("12"), s("b"), u(1)],
            vec![h("12"), s("c"), u(1)],
        ]
    );
}

#[test]
fn sort_head_tail() {
    // "400" (text) sorts as the number it is; the event without bytes last.
    assert_eq!(ids("* | sort -bytes | head 3"), [3, 2, 1]);
    assert_eq!(ids("* | sort bytes"), [6, 7, 4, 0, 1, 2, 3, 5]);
    assert_eq!(ids("* | sort -@timestamp | head 2"), [7, 5]);
    assert_eq!(ids("* | sort @timestamp | head 2"), [4, 0]);
    assert_eq!(
        ids("* | sort host.name, -destination.port"),
        [1, 4, 6, 0, 2, 3, 7, 5]
    );
    assert_eq!(ids("* | head 2"), [0, 1]);
    assert_eq!(ids("* | tail 2"), [6, 7]);
    assert_eq!(ids("* | tail 0"), Vec::<u64>::new());
    assert_eq!(ids("* | head 5 | tail 2"), [3, 4]);
    assert_eq!(ids("host.name:b | sort -i | head 1"), [7]);
}

#[test]
fn stages_over_tables() {
    let t = table("* | stats count() as n by host.name | sort -n | head 2");
    assert_eq!(t.rows, [vec![s("a"), u(4)], vec![s("b"), u(3)]]);
    let t = table("* | stats count() as n by host.name | where n >= 3 | fields n, host.name");
    assert_eq!(t.columns, ["n", "host.name"]);
    assert_eq!(t.rows, [vec![u(4), s("a")], vec![u(3), s("b")]]);
    let t = table("* | stats count() as n by host.name, user.name | stats sum(n) as events, count() as users by host.name");
    assert_eq!(
        t.rows,
        [
            vec![s("a"), Value::Int(4), u(3)],
            vec![s("b"), Value::Int(3), u(2)]
        ]
    );
    let t = table("* | top 3 user.name | tail 1");
    assert_eq!(t.rows, [vec![s("carol"), u(1)]]);
}

#[test]
fn result_serialises() {
    let r = run("* | stats count() by host.name | head 1");
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"kind":"table","columns":["host.name","count"],"rows":[["a",4]]}"#
    );
    let r = run("i:0 | fields host.name");
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"kind":"events","events":[{"@timestamp":"2024-05-01T10:05:00Z","host.name":"a"}]}"#
    );
}

/// `stats count() by f | sort -count`, as Splunk and Kibana users type it,
/// sorts by the count: the column is named `count`, and `sort -count()`
/// names the same column.
#[test]
fn sort_by_an_aggregate_column() {
    let hosts = |t: &Table| -> Vec<Value> { t.rows.iter().map(|r| r[0].clone()).collect() };
    for q in [
        "* | stats count() by host.name | sort -count",
        "* | stats count() by host.name | sort -count()",
        "* | stats count by host.name | sort -count",
    ] {
        let t = table(q);
        assert_eq!(t.columns, ["host.name", "count"], "{q}");
        assert_eq!(hosts(&t), [s("a"), s("b"), s("c")], "{q}");
    }
    let t = table("* | stats count() by host.name | sort count");
    assert_eq!(hosts(&t), [s("c"), s("b"), s("a")]);
    // A field's aggregation keeps its written name and sorts by it too.
    let t = table("* | stats dc(user.name) by host.name | sort -dc(user.name), host.name");
    assert_eq!(t.columns, ["host.name", "dc(user.name)"]);
    assert_eq!(hosts(&t), [s("a"), s("b"), s("c")]);
    let t = table("* | stats dc(user.name) as users by host.name | sort -users | head 1");
    assert_eq!(t.rows, [vec![s("a"), u(3)]]);
}

/// A sort key or field the table does not have is an error naming it and
/// the columns there are, at its place in the query (it used to be
/// ignored, leaving the rows unsorted).
#[test]
fn an_unknown_column_after_an_aggregation_is_refused() {
    let e = Query::parse("* | stats count() by host.name | sort -nosuch").unwrap_err();
    assert_eq!(e.column, Some(40));
    assert!(e.message.contains("unknown column 'nosuch'"), "{e}");
    assert!(e.message.contains("host.name, count"), "{e}");
    assert!(e.message.contains("未知列"), "{e}");
    let e = Query::parse("* | top 5 user.name | sort -n").unwrap_err();
    assert!(e.message.contains("user.name, count"), "{e}");
    let e = Query::parse("* | timechart 1h count() | fields @timestamp, total").unwrap_err();
    assert_eq!(e.column, Some(47));
    // Over events any field may be sorted on, present or not.
    assert!(Query::parse("* | sort -nosuch").is_ok());
    // An AST from elsewhere is checked the same way.
    let ast = taishi_query::parse("* | stats count() by host.name | sort -count").unwrap();
    let mut bad = ast.clone();
    if let taishi_query::ast::Stage::Sort(keys) = &mut bad.stages[1] {
        keys[0].field = "nosuch".into();
    }
    let now = DateTime::parse_from_rfc3339("2024-05-01T13:00:00Z").unwrap();
    assert!(Query::compile(ast, now).is_ok());
    assert!(Query::compile(bad, now).is_err());
}

/// A timechart without an interval chooses one that cuts the searched
/// range into at most `AUTO_BUCKETS` buckets (a 20-day range at one minute
/// was a 28,800-row table); `span=` and a bare interval still choose.
#[test]
fn timechart_chooses_its_interval_from_the_range() {
    let now = DateTime::parse_from_rfc3339("2024-05-01T13:00:00Z").unwrap();
    let over = |q: &str, from: &str, to: &str| -> Table {
        let q = Query::parse_at(q, now)
            .unwrap()
            .with_time_range(Some(from), Some(to))
            .unwrap();
        match q.execute(data()) {
            QueryResult::Table(t) => t,
            other => panic!("not a table: {other:?}"),
        }
    };
    // One day: 10 minutes (144 buckets), the first round width that fits.
    let t = over(
        "* | timechart count()",
        "2024-05-01T00:00:00Z",
        "2024-05-02T00:00:00Z",
    );
    assert_eq!(t.columns, ["@timestamp", "count"]);
    assert_eq!(t.rows[0], [s("2024-05-01T03:30:00Z"), u(1)]);
    assert_eq!(t.rows[1], [s("2024-05-01T03:40:00Z"), u(0)]);
    // Twenty days: 3 hours.
    let t = over(
        "* | timechart count by host.name",
        "2024-04-12T00:00:00Z",
        "2024-05-02T00:00:00Z",
    );
    assert_eq!(t.rows[0][0], s("2024-05-01T03:00:00Z"));
    assert!(t.rows.len() <= 200 * 3);
    let t = over(
        "* | timechart span=1h count()",
        "2024-05-01T00:00:00Z",
        "2024-05-02T00:00:00Z",
    );
    assert_eq!(t.rows.len(), 10);
    // Without a range, the events' own span decides (03:30 to 12:15: 5 min).
    let t = table("* | timechart count()");
    assert_eq!(t.rows[1], [s("2024-05-01T03:35:00Z"), u(0)]);
    assert_eq!(taishi_query::auto_interval(20 * 86_400), 10_800);
    assert_eq!(taishi_query::auto_interval(3_600), 30);
    assert_eq!(taishi_query::auto_interval(200), 1);
    assert_eq!(taishi_query::auto_interval(201), 5);
    assert!(Query::parse("* | timechart span=5x count()").is_err());
    assert!(Query::parse("* | timechart 0m count()").is_err());
}
