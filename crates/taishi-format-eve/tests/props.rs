use proptest::prelude::*;
use taishi_event::{DecodeContext, Decoder, Format, Value, VecSink};
use taishi_format_eve::{probe, EveDecoder};

fn decode(data: &[u8]) -> VecSink {
    let ctx = DecodeContext::new("p", Format::Eve);
    let mut sink = VecSink::default();
    EveDecoder::new().decode(data, &ctx, &mut sink);
    sink
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let out = decode(&data);
        let _ = probe(&data);
        // Every non-blank line is an event or a reject.
        let lines = data
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .count();
        prop_assert_eq!(out.events.len() + out.rejects.len(), lines);
    }

    #[test]
    fn json_like_lines_never_panic(line in r#"\{("[a-z_.]{1,8}":("[ -~]{0,10}"|-?[0-9]{1,20}|true|null|\[\]|\{\}),?){0,6}\}"#) {
        let _ = decode(line.as_bytes());
    }

    /// An alert written as Suricata writes it decodes back to the same
    /// values, both as Suricata's fields and as ECS.
    #[test]
    fn alert_round_trip(
        sig in "[ -~]{0,60}",
        sid in 1u64..u32::MAX as u64,
        sport in any::<u16>(),
        dport in any::<u16>(),
        src in any::<[u8; 4]>(),
        v6 in any::<[u16; 8]>(),
        sev in 1i64..4,
        blocked in any::<bool>(),
        micros in 0u32..1_000_000,
        offset_min in -720i32..720,
    ) {
        let src_ip = std::net::Ipv4Addr::from(src).to_string();
        let dst = std::net::Ipv6Addr::from(v6);
        let sign = if offset_min < 0 { '-' } else { '+' };
        let ts = format!(
            "2021-05-06T07:08:09.{micros:06}{sign}{:02}{:02}",
            offset_min.abs() / 60,
            offset_min.abs() % 60
        );
        let line = serde_json::json!({
            "timestamp": ts,
            "event_type": "alert",
            "src_ip": src_ip,
            "src_port": sport,
            "dest_ip": dst.to_string(),
            "dest_port": dport,
            "proto": "TCP",
            "alert": {
                "action": if blocked { "blocked" } else { "allowed" },
                "signature_id": sid,
                "signature": sig,
                "severity": sev,
            }
        })
        .to_string();
        let out = decode(line.as_bytes());
        prop_assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        let ev = &out.events[0];
        let t = ev.timestamp.unwrap();
        prop_assert_eq!(t.offset().local_minus_utc(), offset_min * 60);
        prop_assert_eq!(t.timestamp_subsec_micros(), micros);
        prop_assert_eq!(ev.get_str("alert.signature"), Some(sig.as_str()));
        if !sig.is_empty() {
            prop_assert_eq!(ev.get_str("rule.name"), Some(sig.as_str()));
        }
        let sid_text = sid.to_string();
        prop_assert_eq!(ev.get_str("rule.id"), Some(sid_text.as_str()));
        prop_assert_eq!(ev.get_str("source.ip"), Some(src_ip.as_str()));
        let dst_text = dst.to_string();
        prop_assert_eq!(ev.get_str("destination.ip"), Some(dst_text.as_str()));
        prop_assert_eq!(ev.get("source.port").and_then(Value::as_u64), Some(u64::from(sport)));
        prop_assert_eq!(ev.get("destination.port").and_then(Value::as_u64), Some(u64::from(dport)));
        prop_assert_eq!(ev.get("event.severity").and_then(Value::as_i64), Some(sev));
        prop_assert_eq!(ev.get_str("event.action"), Some(if blocked { "blocked" } else { "allowed" }));
    }
}
