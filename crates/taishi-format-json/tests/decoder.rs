//! The JSON decoder on its own fixtures: lines, arrays, concatenated
//! documents, malformed documents, generic flattening and time fields.

use proptest::prelude::*;
use taishi_event::{DecodeContext, Decoder, Event, Format, Location, Value, VecSink};
use taishi_format_json::{probe, JsonDecoder};

fn decode(data: &[u8]) -> VecSink {
    let ctx = DecodeContext::new("test.json", Format::Json);
    let mut sink = VecSink::default();
    JsonDecoder::new().decode(data, &ctx, &mut sink);
    sink
}

#[test]
fn json_lines_flatten_nested_objects() {
    let sink = decode(
        b"{\"ts\":1258531221.486539,\"id\":{\"orig_h\":\"10.0.0.1\",\"orig_p\":53},\"tags\":[\"a\",{\"b\":1}]}\n\
          {\"@timestamp\":\"2024-03-01T08:00:00+08:00\",\"msg\":\"hi\"}\n",
    );
    assert!(sink.rejects.is_empty());
    assert_eq!(sink.events.len(), 2);
    let e = &sink.events[0];
    assert_eq!(e.get_str("id.orig_h"), Some("10.0.0.1"));
    assert_eq!(e.get("id.orig_p"), Some(&Value::Int(53)));
    assert_eq!(
        e.get("tags"),
        Some(&Value::Array(vec![
            "a".into(),
            Value::Object(vec![("b".into(), Value::Int(1))])
        ]))
    );
    assert_eq!(
        e.timestamp.map(|t| t.to_rfc3339()),
        Some("2009-11-18T08:00:21.486539+00:00".to_string())
    );
    // `ts` stays a field; `@timestamp` is the event's own.
    assert!(e.contains("ts"));
    let e = &sink.events[1];
    assert_eq!(
        e.timestamp.map(|t| t.to_rfc3339()),
        Some("2024-03-01T08:00:00+08:00".to_string())
    );
    assert!(!e.contains("@timestamp"));
}

#[test]
fn epoch_millis_and_zone_less_times() {
    let mut ctx = DecodeContext::new("t", Format::Json);
    ctx.default_tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let mut sink = VecSink::default();
    JsonDecoder::new().decode(
        b"{\"time\":1700000000123}\n{\"eventTime\":\"2023-01-02 03:04:05\"}\n{\"date\":\"2023-01-02T03:04:05Z\"}",
        &ctx,
        &mut sink,
    );
    let ts: Vec<String> = sink
        .events
        .iter()
        .map(|e| e.timestamp.unwrap().to_rfc3339())
        .collect();
    assert_eq!(
        ts,
        [
            "2023-11-14T22:13:20.123+00:00",
            "2023-01-02T03:04:05+08:00",
            "2023-01-02T03:04:05+00:00"
        ]
    );
}

#[test]
fn top_level_array_of_objects() {
    let sink = decode(b"[\n  {\"a\": 1},\n  {\"a\": 2},\n  {\"a\": 3}\n]\n");
    assert!(sink.rejects.is_empty());
    let a: Vec<_> = sink.events.iter().map(|e| e.get("a").cloned()).collect();
    assert_eq!(a, [Some(1i64.into()), Some(2i64.into()), Some(3i64.into())]);
}

#[test]
fn concatenated_pretty_documents() {
    let sink = decode(b"{\n  \"a\": {\n    \"b\": 1\n  }\n}\n{\n  \"a\": {\n    \"b\": 2\n  }\n}{\"a\":{\"b\":3}}");
    assert!(sink.rejects.is_empty());
    assert_eq!(sink.events.len(), 3);
    assert_eq!(sink.events[2].get("a.b"), Some(&Value::Int(3)));
}

#[test]
fn malformed_document_in_the_middle() {
    let data = b"{\"n\":1}\n{\"n\":2}\n{\"n\":3,,}\n{\"n\":4}\n";
    let sink = decode(data);
    assert_eq!(sink.events.len(), 3);
    assert_eq!(sink.rejects.len(), 1);
    let r = &sink.rejects[0];
    assert_eq!(r.location, Location::line(3, 16));
    assert!(r.reason.contains("malformed JSON"), "{}", r.reason);
    assert!(r.reason.contains("line 3 column 8"), "{}", r.reason);
    assert_eq!(r.raw, b"{\"n\":3,,}\n");

    // In pretty-printed documents the next document is still found.
    let data = b"{\n  \"n\": 1\n}\n{\n  \"n\": \n}\n{\n  \"n\": 3\n}\n";
    let sink = decode(data);
    assert_eq!(sink.events.len(), 2);
    assert_eq!(sink.rejects.len(), 1);
    assert_eq!(sink.rejects[0].location, Location::line(4, 13));

    // A truncated last document.
    let sink = decode(b"{\"n\":1}\n{\"n\":");
    assert_eq!((sink.events.len(), sink.rejects.len()), (1, 1));
    assert_eq!(sink.rejects[0].location, Location::line(2, 8));
}

#[test]
fn non_objects_are_rejected() {
    let sink = decode(b"42\n\"x\"\n{}\n{\"ok\":true}\n");
    assert_eq!(sink.events.len(), 1);
    assert_eq!(sink.rejects.len(), 3);
    assert!(sink.rejects[0].reason.contains("a number"));
    assert_eq!(sink.rejects[1].location, Location::line(2, 3));
}

#[test]
fn line_and_offset_bases_are_honoured() {
    let mut ctx = DecodeContext::new("t", Format::Json);
    ctx.line_base = 100;
    ctx.offset_base = 5000;
    let mut sink = VecSink::default();
    JsonDecoder::new().decode(b"{\"a\":1}\n{bad}\n", &ctx, &mut sink);
    assert_eq!(sink.rejects[0].location, Location::line(101, 5008));
}

#[test]
fn deep_nesting_and_huge_numbers_do_not_panic() {
    let mut deep = Vec::new();
    for _ in 0..10_000 {
        deep.extend_from_slice(b"{\"a\":");
    }
    deep.push(b'1');
    deep.extend(std::iter::repeat_n(b'}', 10_000));
    deep.extend_from_slice(b"\n{\"ok\":1}\n");
    let sink = decode(&deep);
    assert_eq!(sink.rejects.len(), 1);
    assert!(
        sink.rejects[0].reason.contains("recursion"),
        "{}",
        sink.rejects[0].reason
    );
    // The document after the bad one is on a line of its own.
    assert_eq!(sink.events.len(), 1);

    let mut nested = String::new();
    for _ in 0..100 {
        nested.push_str("{\"a\":");
    }
    nested.push('1');
    nested.push_str(&"}".repeat(100));
    let sink = decode(nested.as_bytes());
    assert_eq!(sink.events.len(), 1);
    assert!(sink.events[0].len() == 1);

    let sink = decode(
        b"{\"big\":123456789012345678901234567890,\"neg\":-99999999999999999999,\"u\":18446744073709551615,\"e\":1e400}",
    );
    // 1e400 is out of f64 range: serde_json refuses the document.
    assert_eq!(sink.rejects.len(), 1);
    let sink = decode(
        b"{\"big\":123456789012345678901234567890,\"neg\":-99999999999999999999,\"u\":18446744073709551615,\"time\":1e300}",
    );
    let e = &sink.events[0];
    assert!(matches!(e.get("big"), Some(Value::Float(_))));
    assert_eq!(e.get("u"), Some(&Value::UInt(u64::MAX)));
    assert!(e.timestamp.is_none());
}

#[test]
fn probe_scores() {
    assert_eq!(probe(b"hello"), 0);
    assert_eq!(probe(b"{\"a\":1}\n"), 50);
    assert_eq!(probe(b"[{\"a\":1}]"), 50);
    assert_eq!(
        probe(b"{\"Event\":{\"System\":{\"EventID\":1,\"Channel\":\"Security\"}}}"),
        90
    );
    assert_eq!(
        probe(b"{\"EventID\":4624,\"Channel\":\"Security\",\"Hostname\":\"x\"}"),
        90
    );
    assert_eq!(probe(b"{\"winlog\":{\"event_id\":\"4624\"}}"), 90);
    assert_eq!(probe(b"{\"a\":"), 40);
    assert_eq!(probe(b"{not json"), 0);
    if let Some(data) = taishi_testdata::read("host-logs/windows-evtx/sysmon.jsonl") {
        assert_eq!(probe(&data[..data.len().min(65536)]), 90);
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        ((i64::MAX as u64 + 1)..=u64::MAX).prop_map(Value::UInt),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        ".{0,40}".prop_map(|s: String| Value::from(s)),
    ]
}

fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
    ]
}

fn generic_event() -> impl Strategy<Value = Event> {
    (
        prop::option::of(0i64..4_000_000_000_000),
        prop::option::of(-50400i32..50400),
        prop::collection::btree_map("[a-z_][a-z0-9_.]{0,12}", field_value(), 1..12),
    )
        .prop_map(|(ms, off, fields)| {
            let mut e = Event::new();
            if let (Some(ms), Some(off)) = (ms, off) {
                let tz = chrono::FixedOffset::east_opt(off / 60 * 60).unwrap();
                e.timestamp =
                    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&tz));
            }
            for (k, v) in fields {
                // Names that are time fields or prefixes of another name
                // (`a` beside `a.b`) cannot round-trip through flattening;
                // neither can the names a decoder reads time from.
                e.push(k.as_str(), v);
            }
            e
        })
        .prop_filter("round-trippable names", |e| {
            let names: Vec<&str> = e.fields().map(|(k, _)| k).collect();
            names.iter().all(|n| {
                !matches!(*n, "timestamp" | "time" | "ts" | "date")
                    && !n.starts_with('.')
                    && !n.ends_with('.')
                    && !n.contains("..")
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = probe(&data);
        let sink = decode(&data);
        // Every non-blank input yields something: nothing vanishes.
        if data.iter().any(|b| !b.is_ascii_whitespace()) && data != b"\xEF\xBB\xBF" {
            prop_assert!(sink.events.len() + sink.rejects.len() > 0);
        }
    }

    #[test]
    fn json_like_bytes_never_panic(data in "[\\[\\]{}\",:0-9a-z \n.eE+-]{0,300}") {
        let _ = probe(data.as_bytes());
        let _ = decode(data.as_bytes());
    }

    #[test]
    fn written_events_decode_back(events in prop::collection::vec(generic_event(), 1..5)) {
        let mut out = Vec::new();
        for e in &events {
            e.write_json_line(&mut out);
        }
        let sink = decode(&out);
        prop_assert!(sink.rejects.is_empty(), "{:?}", sink.rejects);
        prop_assert_eq!(sink.events, events);
    }
}
