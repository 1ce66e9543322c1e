//! Filter semantics over events in the Taishi layout.

use chrono::{DateTime, FixedOffset};
use taishi_event::{Event, Value};
use taishi_query::{Query, QueryResult, TimeRange};

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap()
}

fn ts(s: &str) -> Option<DateTime<FixedOffset>> {
    Some(DateTime::parse_from_rfc3339(s).unwrap())
}

/// 0: a Sysmon process creation; 1: a Zeek conn; 2: a Suricata alert;
/// 3: a failed logon; 4: an event without a timestamp.
fn sample() -> Vec<Event> {
    let mut a = Event::new();
    a.timestamp = ts("2024-05-01T11:30:00+08:00"); // 03:30Z
    a.push("EventID", 1u32);
    a.push("Channel", "Microsoft-Windows-Sysmon/Operational");
    a.push(
        "Image",
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    );
    a.push("CommandLine", "powershell.exe -nop -w hidden -enc SQBFAFgA");
    a.push("event.category", Value::from(vec!["process"]));
    a.push("event.type", Value::from(vec!["start", "info"]));
    a.push("host.name", "WS-01");
    a.push("user.name", "Alice");
    a.push("process.pid", 4242i64);

    let mut b = Event::new();
    b.timestamp = ts("2024-05-01T11:55:00Z");
    b.push("id.orig_h", "10.1.2.3");
    b.push("id.orig_p", 51515u64);
    b.push("id.resp_h", "93.184.216.34");
    b.push("id.resp_p", 443u64);
    b.push("source.ip", "10.1.2.3");
    b.push("destination.ip", "93.184.216.34");
    b.push("destination.port", 443u64);
    b.push("network.bytes", 15_000u64);
    b.push("duration", 1.25f64);
    b.push("event.category", Value::from(vec!["network"]));
    b.push(
        "tags",
        Value::Array(vec![
            Value::from("internal"),
            Value::Array(vec![Value::from("nested")]),
        ]),
    );

    let mut c = Event::new();
    c.timestamp = ts("2024-05-01T11:59:00Z");
    c.push("source.ip", "2001:db8::7");
    c.push("destination.ip", "10.9.9.9");
    c.push("destination.port", 22u64);
    c.push(
        "event.category",
        Value::from(vec!["network", "intrusion_detection"]),
    );
    c.push(
        "alert",
        Value::Object(vec![
            ("signature".into(), Value::from("ET SCAN SSH Brute Force")),
            ("severity".into(), Value::from(2u64)),
        ]),
    );
    c.push("network.bytes", "900");

    let mut d = Event::new();
    d.timestamp = ts("2024-04-30T00:00:00Z");
    d.push("EventID", 4625u32);
    d.push("event.code", "4625");
    d.push("event.outcome", "failure");
    d.push("user.name", "admin");
    d.push("source.ip", "192.168.1.50");
    d.push("LogonType", "3");
    d.push("Success", false);
    d.push("empty", Value::Null);
    d.push("none", Value::Array(vec![]));

    let mut e = Event::new();
    e.push("message", "Connection closed by 10.1.2.3 port 22 [preauth]");
    e.push("host.name", "gw");

    vec![a, b, c, d, e]
}

/// Indexes of the events the query matches.
fn hits(q: &str) -> Vec<usize> {
    let q = Query::parse_at(q, now()).unwrap_or_else(|e| panic!("{q}: {e}"));
    sample()
        .iter()
        .enumerate()
        .filter(|(_, e)| q.matches(e))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn exact_and_numeric() {
    assert_eq!(hits("EventID:1"), [0]);
    assert_eq!(hits("EventID:4625"), [3]);
    assert_eq!(hits("event.code:4625"), [3]);
    assert_eq!(hits("EventID:1.0"), [0]);
    assert_eq!(hits("host.name:WS-01"), [0]);
    // Field values are exact, case included (keyword semantics).
    assert_eq!(hits("host.name:ws-01"), Vec::<usize>::new());
    assert_eq!(hits("user.name:alice"), Vec::<usize>::new());
    assert_eq!(
        hits(r#"Image:"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe""#),
        [0]
    );
    assert_eq!(hits("duration:1.25"), [1]);
    assert_eq!(hits("Success:false"), [3]);
    assert_eq!(hits("id.orig_h:10.1.2.3"), [1]);
    assert_eq!(hits("id.resp_p:443 AND id.orig_p:51515"), [1]);
    // An address matches however it is written.
    assert_eq!(hits("source.ip:2001:0db8:0:0::7"), [2]);
    // Nested objects are reached by their dotted path.
    assert_eq!(hits("alert.severity:2"), [2]);
    assert_eq!(hits(r#"alert.signature:"ET SCAN SSH Brute Force""#), [2]);
}

#[test]
fn arrays_match_any_element() {
    assert_eq!(hits("event.category:network"), [1, 2]);
    assert_eq!(hits("event.category:intrusion_detection"), [2]);
    assert_eq!(hits("event.type:info"), [0]);
    assert_eq!(hits("tags:nested"), [1]);
    assert_eq!(
        hits("event.category:(process OR intrusion_detection)"),
        [0, 2]
    );
    assert_eq!(
        hits("event.category:network AND NOT event.category:intrusion_detection"),
        [1]
    );
}

#[test]
fn wildcards() {
    assert_eq!(hits(r"Image:*\\powershell.exe"), [0]);
    assert_eq!(hits("Image:*PowerShell*"), [0]);
    assert_eq!(hits("Image:*powershell"), Vec::<usize>::new());
    assert_eq!(hits("CommandLine:*-enc*"), [0]);
    assert_eq!(hits("host.name:WS-0?"), [0]);
    assert_eq!(hits("EventID:46*"), [3]);
    assert_eq!(hits("source.ip:10.*"), [1]);
    assert_eq!(hits("event.category:net*"), [1, 2]);
}

#[test]
fn ranges_numeric_and_string() {
    assert_eq!(hits("destination.port<1024"), [1, 2]);
    assert_eq!(hits("destination.port:[22 TO 443}"), [2]);
    assert_eq!(hits("destination.port:{22 TO 443]"), [1]);
    assert_eq!(hits("network.bytes>1000"), [1]);
    // A number kept as text still compares as a number.
    assert_eq!(hits("network.bytes:[500 TO 1000]"), [2]);
    assert_eq!(hits("LogonType>=3"), [3]);
    assert_eq!(hits("duration:>1"), [1]);
    assert_eq!(hits("process.pid:[4000 TO *]"), [0]);
    // Words compare as strings; a number bound never matches a word.
    assert_eq!(hits("user.name:[A TO B}"), [0]);
    assert_eq!(hits("user.name:{Alice TO *]"), [3]);
    assert_eq!(hits("host.name>5"), Vec::<usize>::new());
}

#[test]
fn timestamps() {
    assert_eq!(hits("@timestamp>=2024-05-01T11:50:00Z"), [1, 2]);
    // 11:30+08:00 is 03:30Z: zones are compared as instants.
    assert_eq!(
        hits("@timestamp:[2024-05-01T03:00:00Z TO 2024-05-01T04:00:00Z]"),
        [0]
    );
    assert_eq!(hits("@timestamp:2024-05-01T03:30:00Z"), [0]);
    assert_eq!(hits("@timestamp>now-10m"), [1, 2]);
    assert_eq!(hits("@timestamp:[now-1d/d TO now/d}"), [3]);
    assert_eq!(hits("@timestamp<2024-05-01"), [3]);
    assert_eq!(hits("@timestamp:*"), [0, 1, 2, 3]);
    assert_eq!(hits("NOT _exists_:@timestamp"), [4]);
}

#[test]
fn existence() {
    assert_eq!(hits("CommandLine:*"), [0]);
    assert_eq!(hits("_exists_:id.orig_h"), [1]);
    assert_eq!(hits("alert.signature:*"), [2]);
    // Null and empty arrays are absent, as in Elasticsearch.
    assert_eq!(hits("empty:*"), Vec::<usize>::new());
    assert_eq!(hits("none:*"), Vec::<usize>::new());
    assert_eq!(hits("-user.name:*"), [1, 2, 4]);
}

#[test]
fn cidr() {
    assert_eq!(hits("source.ip:10.0.0.0/8"), [1]);
    assert_eq!(
        hits("source.ip:192.168.0.0/16 OR source.ip:2001:db8::/32"),
        [2, 3]
    );
    assert_eq!(hits("destination.ip:10.0.0.0/8"), [2]);
    assert_eq!(
        hits("NOT destination.ip:10.0.0.0/8 AND destination.ip:*"),
        [1]
    );
    // An unaligned network means its prefix, as in Elasticsearch.
    assert_eq!(hits("source.ip:10.1.2.99/24"), [1]);
}

#[test]
fn free_text() {
    assert_eq!(hits("hidden"), [0]);
    // Words of any string field, ignoring case; not substrings of words.
    assert_eq!(hits("POWERSHELL"), [0]);
    assert_eq!(hits("owershel"), Vec::<usize>::new());
    assert_eq!(hits("owershel*"), Vec::<usize>::new());
    assert_eq!(hits("*owershel*"), [0]);
    assert_eq!(hits("preauth"), [4]);
    assert_eq!(hits(r#""closed by 10.1.2.3""#), [4]);
    assert_eq!(hits("10.1.2.3"), [1, 4]);
    // Inside arrays and nested objects too.
    assert_eq!(hits("brute"), [2]);
    assert_eq!(hits("intrusion"), [2]);
    // Numbers match a numeric word exactly.
    assert_eq!(hits("4242"), [0]);
    assert_eq!(hits("424"), Vec::<usize>::new());
    // A wildcard word matches one word; a pattern with other characters
    // matches whole values.
    assert_eq!(hits("pow*hidden"), Vec::<usize>::new());
    assert_eq!(hits("pow*"), [0]);
    assert_eq!(hits("POW*.EXE*hidden*"), [0]);
    assert_eq!(hits("pow*.exe"), Vec::<usize>::new());
    assert_eq!(hits("ssh brute"), [2]);
    assert_eq!(hits("ssh -brute"), Vec::<usize>::new());
    assert_eq!(hits("ssh OR preauth"), [2, 4]);
    assert_eq!(hits("*"), [0, 1, 2, 3, 4]);
    assert_eq!(hits(""), [0, 1, 2, 3, 4]);
}

#[test]
fn boolean_logic() {
    assert_eq!(
        hits("event.category:network OR EventID:4625 AND user.name:admin"),
        [1, 2, 3]
    );
    assert_eq!(
        hits("(event.category:network OR EventID:4625) AND destination.port:22"),
        [2]
    );
    assert_eq!(hits("NOT event.category:network"), [0, 3, 4]);
    assert_eq!(hits("-event.category:network -EventID:*"), [4]);
    assert_eq!(hits("+source.ip:* +destination.port:443"), [1]);
    assert_eq!(hits("source.ip:* destination.port:443"), [1]);
}

#[test]
fn time_range_and_execute() {
    let q = Query::parse_at("event.category:network", now())
        .unwrap()
        .with_time_range(Some("now-30m"), Some("2024-05-01T11:58:00Z"))
        .unwrap();
    let QueryResult::Events { events } = q.execute(sample()) else {
        panic!()
    };
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].get_str("id.orig_h"), Some("10.1.2.3"));
    // `to` is exclusive; an event without a timestamp is outside any range.
    let r = TimeRange::parse(
        Some("2024-04-30T00:00:00Z"),
        Some("2024-05-01T11:55:00Z"),
        now(),
    )
    .unwrap();
    let q = Query::parse_at("", now()).unwrap().with_range(r);
    let QueryResult::Events { events: got } = q.execute(sample()) else {
        panic!()
    };
    assert_eq!(got.len(), 2);
    assert!(Query::parse_at("", now())
        .unwrap()
        .with_time_range(Some("yesterday"), None)
        .is_err());
}

#[test]
fn fields_projection_and_where() {
    let q = Query::parse_at(
        "event.category:network | fields destination.ip, alert.signature, nope",
        now(),
    )
    .unwrap();
    let QueryResult::Events { events } = q.execute(sample()) else {
        panic!()
    };
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].fields().map(|(k, _)| k).collect::<Vec<_>>(),
        ["destination.ip"]
    );
    assert_eq!(
        events[1].fields().map(|(k, _)| k).collect::<Vec<_>>(),
        ["destination.ip", "alert.signature"]
    );
    assert!(events[0].timestamp.is_some());
    let q = Query::parse_at("* | where destination.port < 100", now()).unwrap();
    let QueryResult::Events { events } = q.execute(sample()) else {
        panic!()
    };
    assert_eq!(events.len(), 1);
}

#[test]
fn compile_checks_deserialised_asts() {
    let bad: taishi_query::Search = serde_json::from_str(
        r#"{"filter":{"cidr":{"field":"source.ip","network":"10.0.0.0/99"}}}"#,
    )
    .unwrap();
    let e = Query::compile(bad, now()).unwrap_err();
    assert_eq!(e.to_string(), "'10.0.0.0/99' is not a valid CIDR network");
    let bad: taishi_query::Search = serde_json::from_str(
        r#"{"filter":{"range":{"field":"@timestamp","lower":{"included":"soon"},"upper":"unbounded"}}}"#,
    )
    .unwrap();
    assert!(Query::compile(bad, now()).is_err());
}
