//! The decoder against the captures in shared/data/network/pcap/netflow
//! (see network/SOURCES.md) and NetGauze's decoded output for them.
//!
//! NetGauze names enumerations where we keep the number (the IANA value):
//! `protocolIdentifier` (we add `network.transport`), `flowEndReason`,
//! `flowDirection`, `tcpControlBits` (flag object vs the bit mask) are
//! compared through their numbers. Not compared, because NetGauze decodes
//! them into its own structures and we keep the raw number:
//! `forwardingStatus`, `mplsTopLabelType`, `selectorAlgorithm`.

use std::collections::HashMap;
use std::net::SocketAddr;

use proptest::prelude::*;
use taishi_event::{DecodeContext, Decoder, Event, Format, Location, Value, VecSink};
use taishi_format_netflow::{probe, protocol_name, NetflowDecoder};

fn decode(data: &[u8]) -> (VecSink, NetflowDecoder) {
    let ctx = DecodeContext::new("t", Format::Netflow);
    let mut d = NetflowDecoder::new();
    let mut sink = VecSink::default();
    d.decode(data, &ctx, &mut sink);
    d.finish(&ctx, &mut sink);
    (sink, d)
}

fn s<'a>(e: &'a Event, k: &str) -> Option<&'a str> {
    e.get_str(k)
}

fn u(e: &Event, k: &str) -> Option<u64> {
    e.get(k).and_then(Value::as_u64)
}

#[test]
fn v5_three_flows() {
    let Some(data) = taishi_testdata::read("network/pcap/netflow/bitkeks_netflow_v5_3flows.bin")
    else {
        return;
    };
    assert_eq!(probe(&data), 60);
    let (sink, _) = decode(&data);
    assert!(sink.rejects.is_empty(), "{:?}", sink.rejects);
    let flows: Vec<(&str, &str, &str)> = sink
        .events
        .iter()
        .map(|e| {
            (
                s(e, "source.ip").unwrap(),
                s(e, "destination.ip").unwrap(),
                s(e, "network.transport").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flows,
        [
            ("172.17.0.2", "172.17.0.1", "icmp"),
            ("172.17.0.1", "172.17.0.2", "icmp"),
            ("172.17.0.1", "224.0.0.251", "udp"),
        ]
    );
    let mdns = &sink.events[2];
    assert_eq!(u(mdns, "destination.port"), Some(5353));
    assert_eq!(s(mdns, "network.iana_number"), Some("17"));
    for e in &sink.events {
        assert_eq!(s(e, "event.module"), Some("netflow"));
        assert_eq!(s(e, "event.dataset"), Some("netflow.log"));
        assert_eq!(u(e, "netflow.exporter.version"), Some(5));
        assert!(u(e, "network.bytes").unwrap() > 0);
        assert!(u(e, "network.packets").unwrap() > 0);
        // sysUptime-relative times placed before the export time.
        let end = e.timestamp.unwrap();
        let start = taishi_event::time::parse_rfc3339(s(e, "event.start").unwrap()).unwrap();
        let export =
            taishi_event::time::parse_rfc3339(s(e, "netflow.exporter.timestamp").unwrap()).unwrap();
        assert!(start <= end && end <= export);
    }
}

#[test]
fn v9_two_templates_eight_flows() {
    let Some(data) =
        taishi_testdata::read("network/pcap/netflow/bitkeks_netflow_v9_2templates_8flows.bin")
    else {
        return;
    };
    assert_eq!(probe(&data), 60);
    let (sink, d) = decode(&data);
    assert!(sink.rejects.is_empty(), "{:?}", sink.rejects);
    assert_eq!(sink.events.len(), 8);
    assert_eq!(d.stats().templates, 2);
    for e in &sink.events {
        assert_eq!(u(e, "netflow.exporter.version"), Some(9));
        assert!(s(e, "source.ip").is_some() && s(e, "destination.ip").is_some());
        assert!(s(e, "network.transport").is_some());
        assert!(s(e, "event.start").is_some() && s(e, "event.end").is_some());
    }
}

/// camelCase IANA name → our snake_case name.
fn snake(name: &str) -> String {
    if name == "VRFname" {
        return "vrf_name".into();
    }
    let n = name.replace("IPv4", "Ipv4").replace("IPv6", "Ipv6");
    let c: Vec<char> = n.chars().collect();
    let mut out = String::new();
    for (i, &ch) in c.iter().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            let prev = c[i - 1];
            let next_lower = c.get(i + 1).is_some_and(|x| x.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

fn hex(bytes: &[serde_json::Value]) -> String {
    bytes
        .iter()
        .map(|b| format!("{:02x}", b.as_u64().unwrap()))
        .collect()
}

/// Compares one NetGauze field with ours. Ok(false): not comparable (an
/// interpretation NetGauze makes and we do not).
fn same(golden_name: &str, want: &serde_json::Value, ours: Option<&Value>) -> Result<bool, String> {
    use serde_json::Value as J;
    let fail = || Err(format!("{golden_name}: golden {want}, ours {ours:?}"));
    let Some(ours) = ours else { return fail() };
    let ok = match (golden_name, want) {
        ("forwardingStatus" | "mplsTopLabelType" | "selectorAlgorithm", _) => return Ok(false),
        ("tcpControlBits", J::Object(flags)) => {
            let mut bits = 0u64;
            for (i, f) in ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"]
                .iter()
                .enumerate()
            {
                if flags.get(*f).and_then(J::as_bool) == Some(true) {
                    bits |= 1 << i;
                }
            }
            ours.as_u64().map(|o| o & 0xff) == Some(bits)
        }
        ("protocolIdentifier", J::String(p)) => {
            let n = ours.as_u64().unwrap_or(999);
            let ours_name = protocol_name(n).unwrap_or("").replace('-', "");
            ours_name == p.to_ascii_lowercase()
        }
        ("flowEndReason", J::String(r)) => {
            let n = match r.as_str() {
                "idletimeout" => 1,
                "activetimeout" => 2,
                "endofflowdetected" => 3,
                "forcedend" => 4,
                "lackofresources" => 5,
                _ => return fail(),
            };
            ours.as_u64() == Some(n)
        }
        ("flowDirection", J::String(d)) => {
            ours.as_u64() == Some(if d == "ingress" { 0 } else { 1 })
        }
        // NetGauze lists this bitmap bit by bit.
        ("ipv6ExtensionHeadersFull", J::Array(bits)) => {
            let ours_bits: Vec<u64> = ours
                .as_str()
                .unwrap_or("")
                .chars()
                .filter_map(|c| c.to_digit(16))
                .flat_map(|d| (0..4).rev().map(move |i| u64::from((d >> i) & 1)))
                .collect();
            ours_bits == bits.iter().filter_map(J::as_u64).collect::<Vec<_>>()
        }
        (_, J::Object(o)) if o.contains_key("Unassigned") => {
            ours.as_u64() == o["Unassigned"].as_u64()
        }
        (_, J::Number(n)) => ours.as_u64() == n.as_u64(),
        (_, J::Array(a)) => ours.as_str() == Some(hex(a).as_str()),
        (_, J::String(t)) if t.ends_with('Z') && t.contains('T') => {
            let a = chrono::DateTime::parse_from_rfc3339(t).ok();
            let b = ours
                .as_str()
                .and_then(|o| chrono::DateTime::parse_from_rfc3339(o).ok());
            a.is_some() && a == b
        }
        (_, J::String(t)) => ours.as_str() == Some(t.as_str()),
        _ => false,
    };
    if ok {
        Ok(true)
    } else {
        fail()
    }
}

#[test]
fn pcaps_match_netgauze() {
    let mut total_values = 0;
    for name in [
        "100-IPFIXv10-CISCO",
        "101-NFv9-CISCO-cust_primitives",
        "104-IPFIXv10-IPv6-CISCO-sampling_option",
        "106-IPFIXv10-HUAWEI-vrf_name",
    ] {
        let Some(pcap) = taishi_testdata::read(&format!("network/pcap/netflow/{name}.pcap")) else {
            return;
        };
        let Some(golden) = taishi_testdata::read(&format!(
            "network/pcap/netflow/{name}.netgauze-decoded.json"
        )) else {
            return;
        };
        assert_eq!(probe(&pcap), 95, "{name}");
        let (sink, d) = decode(&pcap);
        assert!(sink.rejects.is_empty(), "{name}: {:?}", sink.rejects);
        // Every data record NetGauze decoded, in capture order.
        let mut records = Vec::new();
        for line in String::from_utf8_lossy(&golden).lines() {
            let msg: serde_json::Value = serde_json::from_str(line).unwrap();
            let body = msg.as_object().unwrap().values().next().unwrap();
            for set in body["sets"].as_array().unwrap() {
                if let Some(data) = set.get("Data") {
                    for r in data["records"].as_array().unwrap() {
                        records.push(r.clone());
                    }
                }
            }
        }
        assert_eq!(sink.events.len(), records.len(), "{name}: record count");
        assert_eq!(
            d.stats().flow_records + d.stats().options_records,
            records.len() as u64
        );
        let mut failures = Vec::new();
        let mut skipped = Vec::new();
        for (i, (ev, rec)) in sink.events.iter().zip(&records).enumerate() {
            let fields = rec["scope_fields"]
                .as_array()
                .unwrap()
                .iter()
                .chain(rec["fields"].as_array().unwrap());
            let mut seen: HashMap<String, usize> = HashMap::new();
            for f in fields {
                let (gname, want) = f.as_object().unwrap().iter().next().unwrap();
                // Enterprise elements NetGauze does not know: {"Huawei":
                // {"Unknown": {"id", "value"}}}; Huawei's PEN is 2011.
                let (ours_name, gname, want) = if gname == "Huawei" {
                    let id = &want["Unknown"]["id"];
                    (
                        format!("netflow.enterprise_2011_{id}"),
                        gname.as_str(),
                        &want["Unknown"]["value"],
                    )
                } else {
                    (format!("netflow.{}", snake(gname)), gname.as_str(), want)
                };
                let n = seen.entry(ours_name.clone()).or_default();
                *n += 1;
                let key = if *n > 1 {
                    format!("{ours_name}_{n}")
                } else {
                    ours_name
                };
                match same(gname, want, ev.get(&key)) {
                    Ok(true) => total_values += 1,
                    Ok(false) => skipped.push(gname.to_string()),
                    Err(e) => failures.push(format!("{name} record {i}: {key}: {e}")),
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        skipped.sort();
        skipped.dedup();
        eprintln!(
            "{name}: {} records; not compared: {skipped:?}",
            records.len()
        );
    }
    eprintln!("compared {total_values} values");
    assert!(total_values > 2000, "{total_values}");
}

#[test]
fn vrf_names_and_sampling_from_options_enrich_flows() {
    let Some(pcap) =
        taishi_testdata::read("network/pcap/netflow/106-IPFIXv10-HUAWEI-vrf_name.pcap")
    else {
        return;
    };
    let (sink, _) = decode(&pcap);
    let opts = &sink.events[0];
    assert_eq!(s(opts, "netflow.type"), Some("netflow_options"));
    assert_eq!(s(opts, "netflow.vrf_name"), Some("A4"));
    let flows: Vec<&Event> = sink
        .events
        .iter()
        .filter(|e| s(e, "netflow.type") == Some("netflow_flow"))
        .collect();
    assert_eq!(flows.len(), 3);
    assert!(flows
        .iter()
        .any(|e| s(e, "netflow.egress_vrf_name") == Some("A4")));
    // systemInitTimeMilliseconds places the *SysUpTime fields in time.
    assert!(flows.iter().all(|e| s(e, "event.start").is_some()));

    let Some(pcap) =
        taishi_testdata::read("network/pcap/netflow/104-IPFIXv10-IPv6-CISCO-sampling_option.pcap")
    else {
        return;
    };
    let (sink, _) = decode(&pcap);
    let flows: Vec<&Event> = sink
        .events
        .iter()
        .filter(|e| s(e, "netflow.type") == Some("netflow_flow"))
        .collect();
    assert_eq!(flows.len(), 3);
    // Random 1-out-of-256 sampling.
    assert!(flows
        .iter()
        .all(|e| u(e, "netflow.exporter.sampling_interval") == Some(256)));
}

fn v9_template_packet() -> Vec<u8> {
    let mut p = vec![
        0, 9, 0, 1, 0, 0, 0, 100, 0x5f, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7,
    ];
    // Template flowset: id 0, length 4 + 4 + 3*4 = 20; template 300 with
    // srcaddr(8,4) dstaddr(12,4) protocol(4,1).
    p.extend_from_slice(&[
        0, 0, 0, 20, 1, 44, 0, 3, 0, 8, 0, 4, 0, 12, 0, 4, 0, 4, 0, 1,
    ]);
    p
}

fn v9_data_packet() -> Vec<u8> {
    let mut p = vec![
        0, 9, 0, 1, 0, 0, 0, 200, 0x5f, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 7,
    ];
    // Data flowset for template 300: two records of 9 bytes + 2 padding.
    p.extend_from_slice(&[1, 44, 0, 24]);
    p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 6]);
    p.extend_from_slice(&[10, 0, 0, 3, 10, 0, 0, 4, 17]);
    p.extend_from_slice(&[0, 0]);
    p
}

#[test]
fn templates_are_per_exporter_and_unknown_ones_rejected() {
    let ctx = DecodeContext::new("udp", Format::Netflow);
    let a: SocketAddr = "192.0.2.1:2055".parse().unwrap();
    let b: SocketAddr = "192.0.2.2:2055".parse().unwrap();
    let mut d = NetflowDecoder::new();
    let mut sink = VecSink::default();
    let loc = |n| Location {
        line: None,
        offset: Some(0),
        record: Some(n),
    };
    // Data before its template: rejected and counted.
    d.decode_datagram(a, &v9_data_packet(), loc(1), &ctx, &mut sink);
    assert_eq!(sink.events.len(), 0);
    assert_eq!(sink.rejects.len(), 1);
    assert!(
        sink.rejects[0].reason.contains("template 300"),
        "{}",
        sink.rejects[0].reason
    );
    assert_eq!(sink.rejects[0].location.record, Some(1));
    assert_eq!(sink.rejects[0].location.offset, Some(20));
    d.decode_datagram(a, &v9_template_packet(), loc(2), &ctx, &mut sink);
    d.decode_datagram(a, &v9_data_packet(), loc(3), &ctx, &mut sink);
    assert_eq!(sink.events.len(), 2);
    assert_eq!(s(&sink.events[0], "observer.ip"), Some("192.0.2.1"));
    assert_eq!(s(&sink.events[1], "network.transport"), Some("udp"));
    // Another exporter does not share exporter a's templates.
    d.decode_datagram(b, &v9_data_packet(), loc(4), &ctx, &mut sink);
    assert_eq!(sink.events.len(), 2);
    assert_eq!(sink.rejects.len(), 2);
    assert_eq!(d.stats().unknown_template_sets, 2);
}

#[test]
fn truncated_input_is_rejected_with_location_never_a_panic() {
    for name in [
        "100-IPFIXv10-CISCO.pcap",
        "101-NFv9-CISCO-cust_primitives.pcap",
        "bitkeks_netflow_v5_3flows.bin",
        "bitkeks_netflow_v9_2templates_8flows.bin",
    ] {
        let Some(data) = taishi_testdata::read(&format!("network/pcap/netflow/{name}")) else {
            return;
        };
        let (full, _) = decode(&data);
        for cut in (1..data.len()).step_by(7) {
            let (sink, _) = decode(&data[..cut]);
            assert!(sink.events.len() <= full.events.len());
            for r in &sink.rejects {
                assert!(
                    r.location.offset.is_some() || r.location.record.is_some(),
                    "{r}"
                );
            }
        }
    }
    // A pcap cut inside a packet names that packet.
    let Some(data) = taishi_testdata::read("network/pcap/netflow/100-IPFIXv10-CISCO.pcap") else {
        return;
    };
    let (sink, _) = decode(&data[..data.len() - 10]);
    assert_eq!(sink.rejects.len(), 1);
    assert_eq!(sink.rejects[0].location.record, Some(6));
    assert!(
        sink.rejects[0].reason.contains("truncated"),
        "{}",
        sink.rejects[0].reason
    );
}

#[test]
fn probe_leaves_other_pcaps_alone() {
    for p in [
        "network/pcap/zeek/dns53.pcap",
        "network/pcap/zeek/http_get.pcap",
    ] {
        if let Some(data) = taishi_testdata::read(p) {
            assert_eq!(probe(&data), 0, "{p}");
        }
    }
    assert_eq!(probe(b"type=SYSCALL msg=audit(1.0:1): a=b\n"), 0);
    assert_eq!(probe(&v9_template_packet()), 60);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = probe(&data);
        let _ = decode(&data);
    }

    #[test]
    fn arbitrary_sets_after_valid_headers_never_panic(
        version in prop_oneof![Just(5u8), Just(9u8), Just(10u8)],
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut p = vec![0, version, 0, 1, 0, 0, 0, 100, 0x5f, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7];
        if version == 10 {
            let len = (16 + body.len()) as u16;
            p.truncate(16);
            p[2..4].copy_from_slice(&len.to_be_bytes());
        }
        // A template first so that data sets reach the record parser.
        let mut d = NetflowDecoder::new();
        let ctx = DecodeContext::new("p", Format::Netflow);
        let mut sink = VecSink::default();
        let exporter: SocketAddr = "192.0.2.9:9995".parse().unwrap();
        d.decode_datagram(exporter, &v9_template_packet(), Location::default(), &ctx, &mut sink);
        p.extend_from_slice(&body);
        d.decode_datagram(exporter, &p, Location::default(), &ctx, &mut sink);
    }
}
