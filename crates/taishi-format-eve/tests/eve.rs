use std::collections::BTreeMap;

use taishi_event::{DecodeContext, Decoder, Event, Format, Value, VecSink};
use taishi_format_eve::{decode_line, probe, EveDecoder};

fn decode(data: &[u8]) -> VecSink {
    let ctx = DecodeContext::new("test.json", Format::Eve);
    let mut sink = VecSink::default();
    let mut d = EveDecoder::new();
    d.decode(data, &ctx, &mut sink);
    d.finish(&ctx, &mut sink);
    sink
}

fn s<'a>(ev: &'a Event, k: &str) -> Option<&'a str> {
    ev.get_str(k)
}

fn i(ev: &Event, k: &str) -> Option<i64> {
    ev.get(k).and_then(Value::as_i64)
}

fn strs(ev: &Event, k: &str) -> Vec<String> {
    match ev.get(k) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn surevego_counts_by_type() {
    let Some(data) = taishi_testdata::read("network/suricata/surevego_eve.json") else {
        return;
    };
    let out = decode(&data);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects.first());
    assert_eq!(out.events.len(), 266);
    let mut by_type = BTreeMap::new();
    for ev in &out.events {
        *by_type
            .entry(s(ev, "event_type").unwrap().to_owned())
            .or_insert(0) += 1;
        assert!(ev.timestamp.is_some());
        assert_eq!(s(ev, "event.module"), Some("suricata"));
        assert_eq!(s(ev, "event.dataset"), Some("suricata.eve"));
        assert_eq!(s(ev, "observer.vendor"), Some("OISF"));
        assert_eq!(s(ev, "observer.product"), Some("Suricata"));
    }
    let want: BTreeMap<String, i32> = [
        ("alert", 68),
        ("http", 68),
        ("fileinfo", 68),
        ("dns", 48),
        ("flow", 13),
        ("stats", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(by_type, want);

    let alert = out
        .events
        .iter()
        .find(|e| s(e, "event_type") == Some("alert"))
        .unwrap();
    assert_eq!(s(alert, "event.kind"), Some("alert"));
    assert_eq!(s(alert, "rule.id"), Some("2013504"));
    assert_eq!(i(alert, "alert.signature_id"), Some(2013504));
    assert_eq!(
        s(alert, "rule.name"),
        Some("ET POLICY GNU/Linux APT User-Agent Outbound likely related to package management")
    );
    assert_eq!(s(alert, "rule.category"), Some("Not Suspicious Traffic"));
    assert_eq!(i(alert, "event.severity"), Some(3));
    assert_eq!(s(alert, "event.action"), Some("allowed"));
    assert_eq!(strs(alert, "event.type"), ["allowed"]);
    assert_eq!(
        strs(alert, "event.category"),
        ["network", "intrusion_detection"]
    );
    // The alert's HTTP metadata is mapped too.
    assert_eq!(s(alert, "url.domain"), Some("deb.debian.org"));
    assert_eq!(
        s(alert, "user_agent.original"),
        Some("Debian APT-HTTP/1.3 (1.4~beta3)")
    );
    assert_eq!(
        alert.timestamp.unwrap().to_rfc3339(),
        "2017-01-30T16:12:36.066011+01:00"
    );

    let stats = out
        .events
        .iter()
        .find(|e| s(e, "event_type") == Some("stats"))
        .unwrap();
    assert_eq!(s(stats, "event.kind"), Some("metric"));
    assert_eq!(i(stats, "stats.decoder.pkts"), Some(56690));
    assert_eq!(i(stats, "stats.detect.alert"), Some(68));

    let flow = out
        .events
        .iter()
        .find(|e| s(e, "event_type") == Some("flow"))
        .unwrap();
    assert_eq!(i(flow, "source.bytes"), Some(216833));
    assert_eq!(i(flow, "destination.bytes"), Some(10333230));
    assert_eq!(i(flow, "network.bytes"), Some(216833 + 10333230));
    assert_eq!(i(flow, "network.packets"), Some(3247 + 6922));
    assert_eq!(s(flow, "network.transport"), Some("tcp"));
    assert_eq!(strs(flow, "event.type"), ["connection", "end"]);
    assert_eq!(i(flow, "event.duration"), Some(2_906_271_000));

    let dns_answers = out
        .events
        .iter()
        .filter(|e| s(e, "dns.type") == Some("answer"))
        .count();
    assert!(dns_answers > 0);
}

#[test]
fn beats_small_spot_checks() {
    let Some(data) = taishi_testdata::read("network/suricata/beats_eve-small.json") else {
        return;
    };
    let out = decode(&data);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects.first());
    let types: Vec<_> = out
        .events
        .iter()
        .map(|e| s(e, "event_type").unwrap())
        .collect();
    assert_eq!(
        types,
        ["ssh", "alert", "http", "fileinfo", "dns", "tls", "flow"]
    );
    let [ssh, alert, http, file, dns, tls, flow] = &out.events[..] else {
        panic!()
    };

    assert_eq!(
        ssh.timestamp.unwrap().to_rfc3339(),
        "2018-07-05T15:01:09.820360-04:00"
    );
    assert_eq!(s(ssh, "source.ip"), Some("192.168.86.85"));
    assert_eq!(i(ssh, "source.port"), Some(55406));
    assert_eq!(s(ssh, "destination.ip"), Some("192.168.253.112"));
    assert_eq!(i(ssh, "destination.port"), Some(22));
    assert_eq!(s(ssh, "network.protocol"), Some("ssh"));
    assert_eq!(s(ssh, "ssh.client.software_version"), Some("OpenSSH_7.6"));
    assert_eq!(i(ssh, "flow_id"), Some(298824096901438));
    assert_eq!(s(ssh, "observer.ingress.interface.name"), Some("en0"));

    assert_eq!(s(alert, "event.kind"), Some("alert"));
    assert_eq!(s(alert, "rule.id"), Some("2024833"));
    assert_eq!(
        s(alert, "rule.name"),
        Some("ET POLICY Observed IP Lookup Domain (l2 .io in TLS SNI)")
    );
    assert_eq!(
        s(alert, "rule.category"),
        Some("Potential Corporate Privacy Violation")
    );
    assert_eq!(i(alert, "event.severity"), Some(1));
    assert_eq!(s(alert, "tls.client.server_name"), Some("l2.io"));
    assert_eq!(s(alert, "tls.sni"), Some("l2.io"));
    assert_eq!(s(alert, "network.protocol"), Some("tls"));
    assert_eq!(i(alert, "source.bytes"), Some(793));
    assert_eq!(i(alert, "destination.packets"), Some(3));
    // ECS form of the version; Suricata's own text kept beside it.
    assert_eq!(s(alert, "tls.version"), Some("1.2"));
    assert_eq!(s(alert, "tls.version_protocol"), Some("tls"));
    assert_eq!(s(alert, "suricata.eve.tls.version"), Some("TLS 1.2"));

    assert_eq!(s(http, "url.original"), Some("/dd.xml"));
    assert_eq!(s(http, "url.path"), Some("/dd.xml"));
    assert_eq!(s(http, "url.domain"), Some("192.168.86.28"));
    assert_eq!(s(http, "http.request.method"), Some("GET"));
    assert_eq!(i(http, "http.response.status_code"), Some(200));
    assert_eq!(s(http, "http.version"), Some("1.1"));
    assert!(s(http, "user_agent.original")
        .unwrap()
        .starts_with("Mozilla/5.0 (Macintosh"));
    assert_eq!(s(http, "http.hostname"), Some("192.168.86.28"));
    assert_eq!(strs(http, "event.type"), ["protocol"]);

    assert_eq!(s(file, "file.name"), Some("device-desc.xml"));
    assert_eq!(s(file, "file.path"), Some("/ssdp/device-desc.xml"));
    assert_eq!(i(file, "file.size"), Some(1071));
    assert_eq!(
        s(file, "file.hash.md5"),
        Some("427b7337ff37eeb24d74f47d8e04cf21")
    );
    assert_eq!(
        s(file, "file.hash.sha1"),
        Some("313573490192c685e9e53abef25453ed0d5e2aee")
    );
    assert_eq!(
        s(file, "file.hash.sha256"),
        Some("f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b")
    );
    assert_eq!(s(file, "fileinfo.sha256"), s(file, "file.hash.sha256"));
    assert_eq!(strs(file, "event.category"), ["network", "file"]);

    assert_eq!(s(dns, "dns.question.name"), Some("clients.l.google.com"));
    assert_eq!(s(dns, "dns.question.type"), Some("A"));
    assert_eq!(s(dns, "dns.response_code"), Some("NOERROR"));
    assert_eq!(s(dns, "dns.type"), Some("answer"));
    assert_eq!(strs(dns, "dns.resolved_ip"), ["172.217.13.110"]);
    let ans = dns.get("dns.answers").unwrap();
    assert_eq!(
        ans.to_json(),
        serde_json::json!([{"name":"clients.l.google.com","type":"A","ttl":299,"data":"172.217.13.110"}])
    );
    assert_eq!(s(dns, "network.transport"), Some("udp"));
    assert_eq!(s(dns, "network.protocol"), Some("dns"));

    assert_eq!(
        s(tls, "tls.client.server_name"),
        Some("p33-btmmdns.icloud.com.")
    );
    assert_eq!(
        s(tls, "tls.server.x509.subject.distinguished_name"),
        Some("CN=*.icloud.com, OU=management:idms.group.506364, O=Apple Inc., ST=California, C=US")
    );
    assert_eq!(
        s(tls, "tls.server.x509.issuer.distinguished_name"),
        Some("CN=Apple IST CA 2 - G1, OU=Certification Authority, O=Apple Inc., C=US")
    );
    assert_eq!(
        s(tls, "tls.server.x509.serial_number"),
        Some("5C9CE1097887F807")
    );
    assert_eq!(
        s(tls, "tls.server.hash.sha1"),
        Some("6AFFACA65F8A05E7A98C7629B908C769ADDC7247")
    );
    assert_eq!(
        s(tls, "tls.server.not_before"),
        Some("2017-02-27T17:54:31Z")
    );

    // IPv6 written fully expanded by Suricata, canonical in ECS.
    assert_eq!(
        s(flow, "src_ip"),
        Some("fe80:0000:0000:0000:fada:0cff:fedc:87f1")
    );
    assert_eq!(s(flow, "source.ip"), Some("fe80::fada:cff:fedc:87f1"));
    assert_eq!(s(flow, "destination.ip"), Some("ff02::1:2"));
    assert_eq!(i(flow, "network.packets"), Some(1));
    assert_eq!(i(flow, "network.bytes"), Some(110));
    assert_eq!(i(flow, "event.duration"), Some(0));
    // app_proto "failed" is not a protocol.
    assert_eq!(s(flow, "network.protocol"), None);
}

#[test]
fn suricata_verify_fileinfo() {
    let Some(data) =
        taishi_testdata::read("network/suricata/suricata-verify_output-eve-fileinfo_eve.json")
    else {
        return;
    };
    let out = decode(&data);
    assert!(out.rejects.is_empty());
    // test.yaml: exactly one record with fileinfo.filename eicar.com.
    let hits: Vec<_> = out
        .events
        .iter()
        .filter(|e| s(e, "fileinfo.filename") == Some("eicar.com"))
        .collect();
    assert_eq!(hits.len(), 1);
    let ev = hits[0];
    assert_eq!(s(ev, "file.name"), Some("eicar.com"));
    assert_eq!(s(ev, "file.path"), None);
    assert_eq!(i(ev, "file.size"), Some(68));
    assert_eq!(s(ev, "url.original"), Some("/download/eicar.com"));
    assert_eq!(s(ev, "url.domain"), Some("www.eicar.org"));
    assert_eq!(i(ev, "pcap_cnt"), Some(9));
    assert_eq!(
        ev.timestamp.unwrap().to_rfc3339(),
        "2016-06-08T20:01:52.875791+00:00"
    );
}

#[test]
fn malformed_line_is_rejected_with_its_number_and_rest_decoded() {
    let data = concat!(
        r#"{"timestamp":"2017-04-07T22:24:37.251547+0100","event_type":"dns","src_ip":"10.0.0.1","dns":{"type":"query","rrname":"a.example","rrtype":"A"}}"#,
        "\n",
        r#"{"timestamp":"2017-04-07T22:24:38.000000+0100","event_type":"flow","src_ip":"#,
        "\n\n",
        r#"{"timestamp":"not a time","event_type":"flow"}"#,
        "\n",
        r#"{"timestamp":"2017-04-07T22:24:39.5+0100","event_type":"alert","alert":{"signature_id":1,"signature":"x","action":"blocked","severity":2}}"#,
        "\n",
    );
    let out = decode(data.as_bytes());
    assert_eq!(out.events.len(), 2);
    assert_eq!(out.rejects.len(), 2);
    assert_eq!(out.rejects[0].location.line, Some(2));
    assert!(
        out.rejects[0].reason.contains("not a JSON object"),
        "{}",
        out.rejects[0]
    );
    assert_eq!(out.rejects[1].location.line, Some(4));
    assert_eq!(out.rejects[1].field.as_deref(), Some("timestamp"));
    let ts = out.events[0].timestamp.unwrap();
    assert_eq!(ts.to_rfc3339(), "2017-04-07T22:24:37.251547+01:00");
    assert_eq!(s(&out.events[1], "event.action"), Some("blocked"));
    assert_eq!(strs(&out.events[1], "event.type"), ["denied"]);
}

#[test]
fn pieces_carry_line_numbers() {
    // The reader hands runs of whole lines with line_base set.
    let mut ctx = DecodeContext::new("big.json", Format::Eve);
    ctx.line_base = 1001;
    ctx.offset_base = 4096;
    let mut sink = VecSink::default();
    EveDecoder::new().decode(b"{\"event_type\":\"flow\"}\n{oops\n", &ctx, &mut sink);
    assert_eq!(sink.events.len(), 1);
    assert_eq!(sink.rejects[0].location.line, Some(1002));
    assert_eq!(sink.rejects[0].location.offset, Some(4096 + 22));
}

#[test]
fn dns_v1_query_and_answer() {
    let data = concat!(
        r#"{"timestamp":"2017-01-30T16:12:27.008407+0100","event_type":"dns","src_ip":"172.17.0.2","src_port":47719,"dest_ip":"172.21.3.254","dest_port":53,"proto":"UDP","dns":{"type":"query","id":22800,"rrname":"prod.debian.map.fastly.net","rrtype":"A","tx_id":0}}"#,
        "\n",
        r#"{"timestamp":"2017-01-30T16:12:27.027213+0100","event_type":"dns","src_ip":"172.21.3.254","src_port":53,"dest_ip":"172.17.0.2","dest_port":47719,"proto":"UDP","dns":{"type":"answer","id":22800,"rcode":"NOERROR","rrname":"fastly.net","rrtype":"NS","ttl":5412,"rdata":"ns1.fastly.net"}}"#,
        "\n",
    );
    let out = decode(data.as_bytes());
    assert!(out.rejects.is_empty());
    let [q, a] = &out.events[..] else { panic!() };
    assert_eq!(s(q, "dns.type"), Some("query"));
    assert_eq!(
        s(q, "dns.question.name"),
        Some("prod.debian.map.fastly.net")
    );
    assert_eq!(s(q, "dns.question.type"), Some("A"));
    assert_eq!(q.get("dns.answers"), None);
    assert_eq!(s(a, "dns.question.name"), Some("fastly.net"));
    assert_eq!(s(a, "dns.response_code"), Some("NOERROR"));
    assert_eq!(
        a.get("dns.answers").unwrap().to_json(),
        serde_json::json!([{"name":"fastly.net","type":"NS","ttl":5412,"data":"ns1.fastly.net"}])
    );
    assert_eq!(a.get("dns.resolved_ip"), None);
}

#[test]
fn dns_v2_detailed_and_grouped() {
    let data = concat!(
        r#"{"timestamp":"2019-03-01T10:00:00.000001+0000","event_type":"dns","proto":"UDP","dns":{"version":2,"type":"answer","id":45444,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"www.suricata-ids.org","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"www.suricata-ids.org","rrtype":"CNAME","ttl":3324,"rdata":"suricata-ids.org"},{"rrname":"suricata-ids.org","rrtype":"A","ttl":10,"rdata":"192.0.78.24"}],"grouped":{"CNAME":["suricata-ids.org"],"A":["192.0.78.24"]}}}"#,
        "\n",
        r#"{"timestamp":"2019-03-01T10:00:00.000002+0000","event_type":"dns","proto":"UDP","dns":{"version":2,"type":"answer","id":1,"rrname":"example.com","rrtype":"AAAA","rcode":"NOERROR","grouped":{"AAAA":["2606:2800:0220:0001:0248:1893:25c8:1946"]}}}"#,
        "\n",
    );
    let out = decode(data.as_bytes());
    assert!(out.rejects.is_empty());
    let [d, g] = &out.events[..] else { panic!() };
    assert_eq!(s(d, "dns.question.name"), Some("www.suricata-ids.org"));
    assert_eq!(
        d.get("dns.answers").unwrap().to_json(),
        serde_json::json!([
            {"name":"www.suricata-ids.org","type":"CNAME","ttl":3324,"data":"suricata-ids.org"},
            {"name":"suricata-ids.org","type":"A","ttl":10,"data":"192.0.78.24"}
        ])
    );
    // Suricata's own array is kept under suricata.eve.
    assert_eq!(
        d.get("suricata.eve.dns.answers").unwrap().to_json()[1]["rdata"],
        "192.0.78.24"
    );
    assert_eq!(strs(d, "dns.grouped.A"), ["192.0.78.24"]);
    assert_eq!(strs(d, "dns.resolved_ip"), ["192.0.78.24"]);
    assert_eq!(strs(d, "dns.header_flags"), ["QR", "RD", "RA"]);

    assert_eq!(
        g.get("dns.answers").unwrap().to_json(),
        serde_json::json!([{"type":"AAAA","data":"2606:2800:0220:0001:0248:1893:25c8:1946"}])
    );
    assert_eq!(
        strs(g, "dns.resolved_ip"),
        ["2606:2800:220:1:248:1893:25c8:1946"]
    );
}

#[test]
fn dns_v3_suricata8_request_response_and_alert() {
    let data = concat!(
        r#"{"timestamp":"2024-06-01T12:00:00.100000+0200","flow_id":7,"event_type":"dns","src_ip":"10.0.0.5","src_port":5353,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP","pkt_src":"wire/pcap","dns":{"version":3,"type":"request","tx_id":0,"id":4242,"flags":"100","rd":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"www.example.org","rrtype":"A"}]}}"#,
        "\n",
        r#"{"timestamp":"2024-06-01T12:00:00.120000+0200","flow_id":7,"event_type":"dns","src_ip":"10.0.0.1","src_port":53,"dest_ip":"10.0.0.5","dest_port":5353,"proto":"UDP","dns":{"version":3,"type":"response","tx_id":0,"id":4242,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rcode":"NXDOMAIN","queries":[{"rrname":"www.example.org","rrtype":"A"}],"authorities":[{"rrname":"example.org","rrtype":"SOA","ttl":3600,"soa":{"mname":"ns.example.org","rname":"hostmaster.example.org","serial":1,"refresh":7200,"retry":3600,"expire":1209600,"minimum":3600}}]}}"#,
        "\n",
        r#"{"timestamp":"2024-06-01T12:00:00.130000+0200","flow_id":8,"event_type":"alert","src_ip":"10.0.0.5","src_port":5354,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP","app_proto":"dns","alert":{"action":"allowed","gid":1,"signature_id":2027863,"rev":2,"signature":"ET INFO Observed DNS Query to .cloud TLD","category":"Potentially Bad Traffic","severity":2},"dns":{"queries":[{"type":"query","id":1,"rrname":"evil.cloud","rrtype":"A","tx_id":0,"opcode":0}]}}"#,
        "\n",
        r#"{"timestamp":"2024-06-01T12:00:00.140000+0200","event_type":"dns","proto":"UDP","dns":{"version":3,"type":"response","id":9,"rcode":"NOERROR","queries":[{"rrname":"b.example","rrtype":"A"}],"answers":[{"rrname":"b.example","rrtype":"A","ttl":60,"rdata":"198.51.100.7"}]}}"#,
        "\n",
    );
    let out = decode(data.as_bytes());
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let [req, resp, alert, ans] = &out.events[..] else {
        panic!()
    };
    assert_eq!(s(req, "dns.question.name"), Some("www.example.org"));
    assert_eq!(s(req, "dns.question.type"), Some("A"));
    assert_eq!(s(req, "dns.type"), Some("query"));
    assert_eq!(s(req, "suricata.eve.dns.type"), Some("request"));
    assert_eq!(i(req, "dns.id"), Some(4242));
    assert_eq!(s(resp, "dns.type"), Some("answer"));
    assert_eq!(s(resp, "dns.response_code"), Some("NXDOMAIN"));
    // Authorities stay as Suricata wrote them: an array of objects.
    assert_eq!(
        resp.get("dns.authorities").unwrap().to_json()[0]["soa"]["mname"],
        "ns.example.org"
    );
    assert_eq!(s(alert, "dns.question.name"), Some("evil.cloud"));
    assert_eq!(
        s(alert, "rule.name"),
        Some("ET INFO Observed DNS Query to .cloud TLD")
    );
    assert_eq!(s(alert, "network.protocol"), Some("dns"));
    assert_eq!(strs(ans, "dns.resolved_ip"), ["198.51.100.7"]);
    assert_eq!(
        ans.get("dns.answers").unwrap().to_json(),
        serde_json::json!([{"name":"b.example","type":"A","ttl":60,"data":"198.51.100.7"}])
    );
}

#[test]
fn other_event_types_are_kept_generically() {
    let data = concat!(
        r#"{"timestamp":"2023-01-01T00:00:00.000000+0000","event_type":"anomaly","src_ip":"10.1.1.1","proto":"TCP","anomaly":{"type":"stream","event":"stream.pkt_invalid_ack","code":1}}"#,
        "\n",
        r#"{"timestamp":"2023-01-01T00:00:01.000000+0000","event_type":"smb","src_ip":"10.1.1.1","proto":"TCP","community_id":"1:abc=","smb":{"id":1,"dialect":"2.10","command":"SMB2_COMMAND_CREATE","status":"STATUS_SUCCESS","filename":"a\\b.txt"}}"#,
        "\n",
        r#"{"timestamp":"2023-01-01T00:00:02.000000+0000","event_type":"modbus","host":"sensor-1","proto":"TCP","modbus":{"id":10,"request":{"transaction_id":1,"function_code":"RdCoils","access_type":"READ | COILS"}}}"#,
        "\n",
        r#"{"timestamp":"2023-01-01T00:00:03.000000+0000","event_type":"netflow","src_ip":"10.1.1.1","proto":"17","netflow":{"pkts":3,"bytes":300,"start":"2023-01-01T00:00:00.000000+0000","end":"2023-01-01T00:00:01.500000+0000","age":1}}"#,
        "\n",
        r#"{"timestamp":"2023-01-01T00:00:04.000000+0000","event_type":"something_new","x":{"y":[1,2]}}"#,
        "\n",
    );
    let out = decode(data.as_bytes());
    assert!(out.rejects.is_empty());
    let [an, smb, mb, nf, new] = &out.events[..] else {
        panic!()
    };
    assert_eq!(s(an, "event.action"), Some("stream.pkt_invalid_ack"));
    assert_eq!(strs(an, "event.type"), ["info"]);
    assert_eq!(s(an, "network.protocol"), None);
    assert_eq!(s(smb, "smb.command"), Some("SMB2_COMMAND_CREATE"));
    assert_eq!(s(smb, "network.protocol"), Some("smb"));
    assert_eq!(s(smb, "network.community_id"), Some("1:abc="));
    assert_eq!(i(mb, "modbus.id"), Some(10));
    assert_eq!(s(mb, "modbus.request.function_code"), Some("RdCoils"));
    assert_eq!(s(mb, "host.name"), Some("sensor-1"));
    assert_eq!(s(nf, "network.transport"), Some("udp"));
    assert_eq!(i(nf, "network.bytes"), Some(300));
    assert_eq!(i(nf, "source.packets"), Some(3));
    assert_eq!(i(nf, "event.duration"), Some(1_500_000_000));
    assert_eq!(
        new.get("x.y"),
        Some(&Value::Array(vec![Value::Int(1), Value::Int(2)]))
    );
    assert_eq!(s(new, "event.kind"), Some("event"));
}

#[test]
fn probe_recognises_eve_only() {
    let Some(data) = taishi_testdata::read("network/suricata/surevego_eve.json") else {
        return;
    };
    assert_eq!(probe(&data), 90);
    // Cut inside the first line, as a 64 KiB sample of a huge stats line.
    let line = br#"{"timestamp":"2017-01-30T16:14:11.442531+0100","event_type":"stats","stats":{"uptime":1,"#;
    assert_eq!(probe(line), 90);
    assert_eq!(probe(br#"{"_path":"conn","ts":1.0}"#), 0);
    assert_eq!(probe(b"#separator \\x09\n"), 0);
    assert_eq!(probe(b""), 0);
}

#[test]
fn decode_line_is_usable_alone() {
    let ctx = DecodeContext::new("stream", Format::Eve);
    let ev = decode_line(
        br#"{"timestamp":"2020-01-01T00:00:00Z","event_type":"tls","tls":{"sni":"a.b","version":"TLSv1","ja3":{"hash":"e7d705a3286e19ea42f587b344ee6865","string":"771,..."},"ja3s":{"hash":"0ad94fbc1b5a8d09b0ecc2ed0ae2e0a2"}}}"#,
        &ctx,
        taishi_event::Location::line(1, 0),
    )
    .unwrap();
    assert_eq!(
        s(&ev, "tls.client.ja3"),
        Some("e7d705a3286e19ea42f587b344ee6865")
    );
    assert_eq!(
        s(&ev, "tls.server.ja3s"),
        Some("0ad94fbc1b5a8d09b0ecc2ed0ae2e0a2")
    );
    assert_eq!(s(&ev, "tls.version"), Some("1.0"));
    assert_eq!(s(&ev, "tls.ja3.string"), Some("771,..."));
}
