use proptest::prelude::*;
use taishi_event::{DecodeContext, Decoder, Format, Value, VecSink};
use taishi_format_zeek::{probe, ZeekDecoder};

fn decode(data: &[u8]) -> VecSink {
    let ctx = DecodeContext::new("p", Format::Zeek);
    let mut sink = VecSink::default();
    let mut d = ZeekDecoder::new();
    d.decode(data, &ctx, &mut sink);
    d.finish(&ctx, &mut sink);
    sink
}

/// Escapes a string the way Zeek's ASCII writer does: backslash doubled,
/// the separators, control bytes and a value equal to the unset or empty
/// marker written as `\xNN`.
fn zeek_escape(s: &str, in_set: bool) -> String {
    if s == "-" {
        return "\\x2d".to_owned();
    }
    if s.is_empty() {
        return "(empty)".to_owned();
    }
    if s == "(empty)" {
        return "\\x28empty)".to_owned();
    }
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\x09"),
            ',' if in_set => out.push_str("\\x2c"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

const HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tprop\n#fields\tts\tuid\ttext\ttags\tn\td\tflag\n#types\ttime\tstring\tstring\tset[string]\tcount\tinterval\tbool\n";

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = probe(&data);
        let out = decode(&data);
        // Nothing is dropped: each non-blank, non-`#` line is an event or a
        // reject (`#` lines are headers or comments).
        let records = data
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .filter(|l| !l.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(l).starts_with(b"#"))
            .count();
        prop_assert!(out.events.len() + out.rejects.len() >= records);
    }

    #[test]
    fn arbitrary_records_under_a_header_never_panic(
        body in proptest::collection::vec("[ -~\t\\\\]{0,60}", 0..8)
    ) {
        let data = format!("{HEADER}{}\n", body.join("\n"));
        let out = decode(data.as_bytes());
        let records = body.iter().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).count();
        prop_assert!(out.events.len() + out.rejects.len() >= records);
    }

    /// A record written as Zeek writes it reads back to the same values.
    #[test]
    fn tsv_round_trip(
        secs in 0u64..4_000_000_000,
        micros in 0u32..1_000_000,
        uid in "C[A-Za-z0-9]{5,17}",
        text in "\\PC{0,40}",
        tags in proptest::collection::vec("[ -~]{1,12}", 0..5),
        n in proptest::option::of(any::<u64>()),
        d in -1.0e6f64..1.0e6,
        flag in any::<bool>(),
    ) {
        let tags_col = if tags.is_empty() {
            "(empty)".to_owned()
        } else {
            tags.iter().map(|t| zeek_escape(t, true)).collect::<Vec<_>>().join(",")
        };
        let line = format!(
            "{secs}.{micros:06}\t{uid}\t{}\t{tags_col}\t{}\t{d:.6}\t{}\n",
            zeek_escape(&text, false),
            n.map_or("-".to_owned(), |n| n.to_string()),
            if flag { "T" } else { "F" },
        );
        let data = format!("{HEADER}{line}");
        let out = decode(data.as_bytes());
        prop_assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        let ev = &out.events[0];
        let t = ev.timestamp.unwrap();
        prop_assert_eq!(t.timestamp() as u64, secs);
        prop_assert_eq!(t.timestamp_subsec_micros(), micros);
        prop_assert_eq!(ev.get_str("uid"), Some(uid.as_str()));
        prop_assert_eq!(ev.get_str("text"), Some(text.as_str()));
        let back: Vec<String> = match ev.get("tags") {
            Some(Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap_or("?").to_owned()).collect(),
            other => panic!("{other:?}"),
        };
        prop_assert_eq!(back, tags);
        prop_assert_eq!(ev.get("n").and_then(Value::as_u64), n);
        let dd = ev.get("d").and_then(Value::as_f64).unwrap();
        prop_assert!((dd - d).abs() < 1e-6);
        prop_assert_eq!(ev.get("flag"), Some(&Value::Bool(flag)));
    }
}
