//! The EVTX decoder on the public samples: record counts, damaged chunks,
//! and agreement with the JSON dumps of the same files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use taishi_event::{DecodeContext, Decoder, Event, Format, Value, VecSink};
use taishi_format_evtx::{probe, EvtxDecoder};
use taishi_format_json::JsonDecoder;

fn decode(data: &[u8]) -> VecSink {
    let ctx = DecodeContext::new("test.evtx", Format::Evtx);
    let mut sink = VecSink::default();
    EvtxDecoder::new().decode(data, &ctx, &mut sink);
    sink
}

fn decode_json(data: &[u8]) -> VecSink {
    let ctx = DecodeContext::new("test.json", Format::Json);
    let mut sink = VecSink::default();
    JsonDecoder::new().decode(data, &ctx, &mut sink);
    sink
}

fn event_ids(events: &[Event]) -> Vec<(i64, usize)> {
    let mut by_id = BTreeMap::new();
    for e in events {
        *by_id
            .entry(e.get("EventID").and_then(Value::as_i64).unwrap_or(-1))
            .or_insert(0) += 1;
    }
    by_id.into_iter().collect()
}

/// Field-by-field comparison with a message that names the first difference.
fn assert_same(evtx: &[Event], json: &[Event], what: &str) {
    assert_eq!(evtx.len(), json.len(), "{what}: event counts differ");
    for (i, (a, b)) in evtx.iter().zip(json).enumerate() {
        assert_eq!(a.timestamp, b.timestamp, "{what}: event {i}: @timestamp");
        let fa: Vec<_> = a.fields().collect();
        let fb: Vec<_> = b.fields().collect();
        for (x, y) in fa.iter().zip(&fb) {
            assert_eq!(x, y, "{what}: event {i}");
        }
        assert_eq!(fa.len(), fb.len(), "{what}: event {i}: field counts differ");
    }
}

#[test]
fn sysmon_evtx_yields_its_good_records_then_rejects_the_corrupt_chunk() {
    let Some(data) = taishi_testdata::read("host-logs/windows-evtx/sysmon.evtx") else {
        return;
    };
    assert_eq!(probe(&data[..65536]), 100);
    let sink = decode(&data);
    assert_eq!(sink.events.len(), 358);
    assert_eq!(
        event_ids(&sink.events),
        [
            (1, 227),
            (3, 2),
            (10, 60),
            (11, 34),
            (12, 8),
            (13, 24),
            (15, 2),
            (16, 1)
        ]
    );
    assert_eq!(sink.rejects.len(), 1, "{:?}", sink.rejects);
    let r = &sink.rejects[0];
    assert_eq!(r.location.offset, Some(4096 + 9 * 65536));
    assert!(r.reason.starts_with("chunks 9-16"), "{}", r.reason);
    assert!(r.to_string().contains("byte 593920"));
    let first = &sink.events[0];
    assert_eq!(first.get("EventRecordID"), Some(&Value::Int(1742)));
    assert_eq!(first.get_str("process.name"), Some("PING.EXE"));
}

#[test]
fn evtx_and_its_json_dump_agree() {
    for name in ["sysmon", "Security_short_selected", "new-user-security"] {
        let Some(evtx) = taishi_testdata::read(&format!("host-logs/windows-evtx/{name}.evtx"))
        else {
            return;
        };
        let Some(json) = taishi_testdata::read(&format!("host-logs/windows-evtx/{name}.jsonl"))
        else {
            return;
        };
        let a = decode(&evtx);
        let b = decode_json(&json);
        assert!(b.rejects.is_empty(), "{name}: {:?}", b.rejects);
        // The dump holds the first 400 records.
        let n = b.events.len();
        assert!(n > 0 && n <= 400);
        assert_same(&a.events[..n.min(a.events.len())], &b.events, name);
    }
}

#[test]
fn security_samples_decode_fully() {
    for (name, count) in [("Security_short_selected", 7), ("new-user-security", 4)] {
        let Some(data) = taishi_testdata::read(&format!("host-logs/windows-evtx/{name}.evtx"))
        else {
            return;
        };
        let sink = decode(&data);
        assert!(sink.rejects.is_empty(), "{name}: {:?}", sink.rejects);
        assert_eq!(sink.events.len(), count, "{name}");
        for e in &sink.events {
            assert_eq!(e.get_str("Channel"), Some("Security"));
            assert!(e.timestamp.is_some());
            assert_eq!(e.get_str("event.module"), Some("security"));
        }
    }
}

fn first_difference(a: &[Event], b: &[Event], what: &str) -> String {
    if a.len() != b.len() {
        return format!("{what}: {} vs {} events", a.len(), b.len());
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x.timestamp != y.timestamp {
            return format!(
                "{what}: event {i}: @timestamp {:?} vs {:?}",
                x.timestamp, y.timestamp
            );
        }
        for (f, g) in x.fields().zip(y.fields()) {
            if f != g {
                return format!("{what}: event {i}: {f:?} vs {g:?}");
            }
        }
        if x.len() != y.len() {
            return format!("{what}: event {i}: {} vs {} fields", x.len(), y.len());
        }
    }
    String::new()
}

fn trim_ends(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            for (_, v) in e.fields_mut() {
                trim_value(v);
            }
            e
        })
        .collect()
}

fn trim_value(v: &mut Value) {
    match v {
        Value::Str(s) => {
            let t = s.trim_end();
            if t.len() != s.len() {
                *v = Value::from(t);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(trim_value),
        _ => {}
    }
}

fn regression_pairs() -> Vec<(PathBuf, PathBuf)> {
    let Some(root) = taishi_testdata::path("sigma/regression_data") else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "evtx") {
                let json = p.with_extension("json");
                if json.exists() {
                    pairs.push((p, json));
                }
            }
        }
    }
    pairs.sort();
    pairs
}

#[test]
fn regression_data_evtx_and_json_agree() {
    let pairs = regression_pairs();
    if pairs.is_empty() {
        return;
    }
    assert!(pairs.len() > 150, "{}", pairs.len());
    let mut events = 0;
    let mut trimmed = 0;
    let mut other = Vec::new();
    for (evtx, json) in &pairs {
        let what = evtx
            .strip_prefix(Path::new("/"))
            .unwrap_or(evtx)
            .display()
            .to_string();
        let a = decode(&std::fs::read(evtx).unwrap());
        let b = decode_json(&std::fs::read(json).unwrap());
        assert!(a.rejects.is_empty(), "{what}: {:?}", a.rejects);
        assert!(b.rejects.is_empty(), "{what}: {:?}", b.rejects);
        if a.events != b.events {
            // SigmaHQ's JSON copies trim trailing blanks from values
            // (`"cmd.exe" ` is `"cmd.exe"` there); the EVTX keeps them, as
            // Windows wrote them. Nothing else may differ.
            let (ta, tb) = (trim_ends(&a.events), trim_ends(&b.events));
            if ta == tb {
                trimmed += 1;
            } else {
                other.push(first_difference(&ta, &tb, &what));
            }
        }
        events += a.events.len();
    }
    for o in &other {
        eprintln!("DIFF {o}");
    }
    // One JSON copy was edited by hand (`Explorer.exe` where the EVTX says
    // `Explorer.EXE`); any other difference is ours.
    assert!(
        other.iter().all(
            |o| o.contains("proc_creation_win_susp_right_to_left_override")
                && o.contains("Explorer.EXE")
        ),
        "{other:#?}"
    );
    eprintln!(
        "{} regression EVTX files, {events} events; {trimmed} files equal to their JSON only once trailing blanks are trimmed",
        pairs.len()
    );
}

#[test]
fn a_damaged_chunk_in_the_middle_does_not_stop_the_rest() {
    let Some(mut data) = taishi_testdata::read("host-logs/windows-evtx/sysmon.evtx") else {
        return;
    };
    // Chunk 3 (records 1862-1904, 43 records) loses its magic.
    let at = 4096 + 3 * 65536;
    data[at..at + 8].copy_from_slice(b"XXXXXXXX");
    let sink = decode(&data);
    assert_eq!(sink.events.len(), 358 - 43);
    assert_eq!(sink.rejects.len(), 2);
    assert!(
        sink.rejects[0].reason.starts_with("chunk 3 "),
        "{}",
        sink.rejects[0].reason
    );
    assert_eq!(sink.rejects[0].location.offset, Some(at as u64));
    assert!(sink
        .events
        .iter()
        .any(|e| e.get("EventRecordID") == Some(&Value::Int(2099))));

    // A record whose header is destroyed: that record is rejected with its
    // chunk and offset, the chunk's other records and the later chunks are
    // still read.
    let Some(mut data) = taishi_testdata::read("host-logs/windows-evtx/sysmon.evtx") else {
        return;
    };
    let chunk = 4096 + 2 * 65536;
    let records: Vec<usize> = data[chunk + 512..chunk + 65536]
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"**\0\0")
        .map(|(i, _)| chunk + 512 + i)
        .take(5)
        .collect();
    let victim = records[3];
    for b in &mut data[victim..victim + 24] {
        *b = 0xA5;
    }
    let sink = decode(&data);
    assert_eq!(sink.events.len(), 357, "{:?}", sink.rejects);
    assert_eq!(sink.rejects.len(), 2, "{:?}", sink.rejects);
    let r = &sink.rejects[0];
    assert!(
        r.reason.starts_with("chunk 2: damaged record"),
        "{}",
        r.reason
    );
    assert_eq!(r.location.offset, Some(victim as u64));
}

#[test]
fn truncated_and_foreign_inputs_are_rejected() {
    assert!(!decode(b"").rejects.is_empty());
    assert!(!decode(b"ElfFile\0short").rejects.is_empty());
    assert_eq!(probe(b"ElfFile\0"), 100);
    assert_eq!(probe(b"{\"a\":1}"), 0);
    let Some(data) = taishi_testdata::read("host-logs/windows-evtx/new-user-security.evtx") else {
        return;
    };
    // Cut inside the only chunk.
    let sink = decode(&data[..4096 + 30000]);
    assert!(sink.rejects.iter().any(|r| r.reason.contains("truncated")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = probe(&data);
        let _ = decode(&data);
        let mut with_magic = b"ElfFile\0".to_vec();
        with_magic.extend_from_slice(&data);
        let _ = decode(&with_magic);
    }

    #[test]
    fn damaged_real_files_never_panic(
        edits in prop::collection::vec((0usize..69632, any::<u8>()), 1..64),
    ) {
        let Some(mut data) = taishi_testdata::read("host-logs/windows-evtx/Security_short_selected.evtx") else {
            return Ok(());
        };
        for (at, b) in edits {
            if let Some(x) = data.get_mut(at) {
                *x = b;
            }
        }
        let sink = decode(&data);
        prop_assert!(sink.events.len() <= 7 + 64);
    }
}
