use taishi_event::{DecodeContext, Decoder, Event, Format, Location, Value, VecSink};
use taishi_format_zeek::{decode_json_line, probe, ZeekDecoder};

const LOGS: [&str; 17] = [
    "dce_rpc",
    "dns",
    "ftp",
    "kerberos",
    "known_services",
    "modbus",
    "notice",
    "ntlm",
    "rdp",
    "smtp",
    "snmp",
    "software",
    "ssh",
    "ssl",
    "syslog",
    "weird",
    "x509",
];

const BASELINES: [&str; 9] = [
    "ftp-bruteforce_ftp",
    "ftp-bruteforce_notice",
    "modbus-port502_conn",
    "opt.basic_conn",
    "opt.basic_dns",
    "opt.basic_http",
    "ssh-basic_ssh",
    "ssh-bruteforce_notice",
    "x509-known-certs_ssl",
];

fn decode_as(source: &str, data: &[u8]) -> VecSink {
    let ctx = DecodeContext::new(source, Format::Zeek);
    let mut sink = VecSink::default();
    let mut d = ZeekDecoder::new();
    d.decode(data, &ctx, &mut sink);
    d.finish(&ctx, &mut sink);
    sink
}

fn decode(data: &[u8]) -> VecSink {
    decode_as("test", data)
}

/// Records in a TSV log: lines that are neither blank nor `#` headers.
fn data_lines(data: &[u8]) -> usize {
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
        .count()
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
fn wrccdc_tsv_decodes_every_record() {
    let mut total = 0;
    for log in LOGS {
        let rel = format!("network/zeek/wrccdc-tsv/{log}.log");
        let Some(data) = taishi_testdata::read(&rel) else {
            return;
        };
        let out = decode_as(&rel, &data);
        assert!(out.rejects.is_empty(), "{log}: {}", out.rejects[0]);
        assert_eq!(out.events.len(), data_lines(&data), "{log}");
        for ev in &out.events {
            assert!(ev.timestamp.is_some(), "{log}");
            assert_eq!(s(ev, "event.dataset"), Some(format!("zeek.{log}").as_str()));
            assert_eq!(s(ev, "event.module"), Some("zeek"));
        }
        total += out.events.len();
    }
    assert_eq!(total, 2069);
}

#[test]
fn wrccdc_json_decodes_every_record() {
    let mut total = 0;
    for log in LOGS {
        let rel = format!("network/zeek/wrccdc-json/{log}.json");
        let Some(data) = taishi_testdata::read(&rel) else {
            return;
        };
        let out = decode_as(&rel, &data);
        assert!(out.rejects.is_empty(), "{log}: {}", out.rejects[0]);
        assert_eq!(out.events.len(), data_lines(&data), "{log}");
        for ev in &out.events {
            assert!(ev.timestamp.is_some(), "{log}");
            assert_eq!(s(ev, "event.dataset"), Some(format!("zeek.{log}").as_str()));
        }
        total += out.events.len();
    }
    assert_eq!(total, 2069);
}

/// The TSV and JSON writers' output of the same log agree on key fields and
/// on the ECS mapping.
#[test]
fn tsv_and_json_agree() {
    for log in LOGS {
        let (Some(tsv), Some(json)) = (
            taishi_testdata::read(&format!("network/zeek/wrccdc-tsv/{log}.log")),
            taishi_testdata::read(&format!("network/zeek/wrccdc-json/{log}.json")),
        ) else {
            return;
        };
        let t = decode(&tsv).events;
        let j = decode(&json).events;
        assert_eq!(t.len(), j.len(), "{log}");
        for (a, b) in t.iter().zip(&j) {
            assert_eq!(a.timestamp, b.timestamp, "{log}");
            for k in [
                "ts",
                "uid",
                "id.orig_h",
                "id.orig_p",
                "id.resp_p",
                "source.ip",
                "destination.port",
                "event.kind",
                "event.category",
                "network.protocol",
                "dns.question.name",
                "tls.version",
                "rule.name",
                "user.name",
                "file.x509.not_before",
                "certificate.not_valid_after",
                "answers",
                "actions",
            ] {
                assert_eq!(a.get(k), b.get(k), "{log} {k}");
            }
        }
    }
}

#[test]
fn wrccdc_ecs_spot_checks() {
    let Some(data) = taishi_testdata::read("network/zeek/wrccdc-tsv/dns.log") else {
        return;
    };
    let out = decode(&data);
    let ev = &out.events[0];
    assert_eq!(s(ev, "ts"), Some("2018-03-24T17:15:20.865716Z"));
    assert_eq!(
        ev.timestamp.unwrap().to_rfc3339(),
        "2018-03-24T17:15:20.865716+00:00"
    );
    assert_eq!(s(ev, "uid"), Some("CqKst53mF3det3eDV9"));
    assert_eq!(s(ev, "event.id"), Some("CqKst53mF3det3eDV9"));
    assert_eq!(s(ev, "source.ip"), Some("10.47.1.100"));
    assert_eq!(i(ev, "source.port"), Some(41772));
    assert_eq!(i(ev, "id.resp_p"), Some(53));
    assert_eq!(s(ev, "network.transport"), Some("udp"));
    assert_eq!(s(ev, "network.protocol"), Some("dns"));
    assert_eq!(s(ev, "dns.question.name"), Some("ise.wrccdc.org"));
    assert_eq!(s(ev, "dns.question.type"), Some("A"));
    assert_eq!(s(ev, "dns.response_code"), Some("NOERROR"));
    assert_eq!(strs(ev, "answers"), ["ise.wrccdc.cpp.edu", "134.71.3.16"]);
    assert_eq!(strs(ev, "dns.resolved_ip"), ["134.71.3.16"]);
    assert_eq!(ev.get("RD"), Some(&Value::Bool(true)));
    assert_eq!(ev.get("AA"), Some(&Value::Bool(false)));
    assert_eq!(ev.get("rtt"), Some(&Value::Float(0.000870)));
    assert_eq!(
        ev.get("TTLs"),
        Some(&Value::Array(vec![
            Value::Float(2230.0),
            Value::Float(41830.0)
        ]))
    );
    assert_eq!(
        ev.get("dns.answers").unwrap().to_json(),
        serde_json::json!([{"data":"ise.wrccdc.cpp.edu","ttl":2230},{"data":"134.71.3.16","ttl":41830}])
    );

    let Some(data) = taishi_testdata::read("network/zeek/wrccdc-tsv/notice.log") else {
        return;
    };
    let ev = &decode(&data).events[0];
    assert_eq!(s(ev, "event.kind"), Some("alert"));
    assert_eq!(s(ev, "rule.name"), Some("SSL::Invalid_Server_Cert"));
    assert_eq!(
        s(ev, "message"),
        Some("SSL certificate validation failed with (unable to get local issuer certificate)")
    );
    // `\\` in the TSV is one backslash, as the JSON writer shows.
    assert!(s(ev, "sub")
        .unwrap()
        .starts_with(r"unstructuredName=1315656901\,564d"));
    assert_eq!(strs(ev, "actions"), ["Notice::ACTION_LOG"]);
    assert_eq!(ev.get("email_dest"), Some(&Value::Array(vec![])));
    assert_eq!(ev.get("n"), None);

    let Some(data) = taishi_testdata::read("network/zeek/wrccdc-tsv/ssl.log") else {
        return;
    };
    let ev = &decode(&data).events[0];
    assert_eq!(s(ev, "tls.version"), Some("1.0"));
    assert_eq!(s(ev, "tls.version_protocol"), Some("tls"));
    assert_eq!(
        s(ev, "tls.cipher"),
        Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")
    );
    assert_eq!(
        s(ev, "tls.server.hash.sha256"),
        Some("b2dafbcdbc75210672f137f27ce882ccb799887631655d4f11191d5a678e44fe")
    );
    assert_eq!(s(ev, "network.protocol"), Some("tls"));

    let Some(data) = taishi_testdata::read("network/zeek/wrccdc-tsv/x509.log") else {
        return;
    };
    let ev = &decode(&data).events[0];
    assert_eq!(
        s(ev, "file.x509.not_before"),
        Some("2011-09-10T12:15:02.000000Z")
    );
    assert_eq!(
        s(ev, "file.x509.issuer.distinguished_name"),
        Some("O=VMware Installer")
    );
    assert_eq!(s(ev, "file.x509.version_number"), Some("3"));
    assert_eq!(
        strs(ev, "file.x509.alternative_names"),
        ["localhost.localdomain"]
    );
    assert_eq!(i(ev, "certificate.key_length"), Some(2048));

    let Some(data) = taishi_testdata::read("network/zeek/wrccdc-tsv/kerberos.log") else {
        return;
    };
    let ev = &decode(&data).events[0];
    assert_eq!(s(ev, "user.domain"), Some("NM"));
    assert_eq!(s(ev, "event.action"), Some("AS"));
    assert_eq!(strs(ev, "event.category"), ["network", "authentication"]);
    // `till` is a time of 0.000000: the epoch, not absent.
    assert_eq!(s(ev, "till"), Some("1970-01-01T00:00:00.000000Z"));
    assert_eq!(ev.get("from"), None);

    let Some(data) = taishi_testdata::read("network/zeek/wrccdc-tsv/known_services.log") else {
        return;
    };
    let ev = &decode(&data).events[0];
    assert_eq!(s(ev, "host.ip"), Some("10.47.3.200"));
    assert_eq!(strs(ev, "service"), ["HTTP"]);
    assert_eq!(s(ev, "network.protocol"), Some("http"));
    assert_eq!(s(ev, "network.transport"), Some("tcp"));
}

#[test]
fn baselines_decode_with_banner_and_canonified_times() {
    for name in BASELINES {
        let rel = format!("network/zeek/baselines/{name}.log");
        let Some(data) = taishi_testdata::read(&rel) else {
            return;
        };
        let out = decode_as(&rel, &data);
        assert!(out.rejects.is_empty(), "{name}: {}", out.rejects[0]);
        assert_eq!(out.events.len(), data_lines(&data), "{name}");
        assert!(!out.events.is_empty());
        for ev in &out.events {
            // `XXXXXXXXXX.XXXXXX` is kept as written; no @timestamp.
            assert_eq!(s(ev, "ts"), Some("XXXXXXXXXX.XXXXXX"), "{name}");
            assert!(ev.timestamp.is_none());
        }
    }
    let Some(data) = taishi_testdata::read("network/zeek/baselines/opt.basic_conn.log") else {
        return;
    };
    let out = decode(&data);
    let ev = &out.events[0];
    assert_eq!(s(ev, "event.dataset"), Some("zeek.conn"));
    assert_eq!(s(ev, "network.protocol"), Some("dns"));
    assert_eq!(s(ev, "network.direction"), Some("inbound"));
    assert_eq!(ev.get("duration"), None);
    assert_eq!(i(ev, "source.bytes"), Some(73));
    assert_eq!(i(ev, "network.packets"), Some(1));

    let Some(data) = taishi_testdata::read("network/zeek/baselines/modbus-port502_conn.log") else {
        return;
    };
    let ev = &decode(&data).events[0];
    assert_eq!(i(ev, "event.duration"), Some(177_095_534_000));
    assert_eq!(s(ev, "network.protocol"), Some("modbus"));
    assert_eq!(i(ev, "network.bytes"), Some(720 + 437));

    let Some(data) = taishi_testdata::read("network/zeek/baselines/opt.basic_http.log") else {
        return;
    };
    let ev = &decode(&data).events[0];
    assert_eq!(s(ev, "url.original"), Some("/skins-1.5/monobook/main.css"));
    assert_eq!(s(ev, "url.domain"), Some("bits.wikimedia.org"));
    assert_eq!(s(ev, "http.request.method"), Some("GET"));
    assert_eq!(i(ev, "http.response.status_code"), Some(304));
    assert_eq!(
        s(ev, "http.request.referrer"),
        Some("http://www.wikipedia.org/")
    );
    assert!(s(ev, "user_agent.original")
        .unwrap()
        .starts_with("Mozilla/5.0 (X11"));
    assert_eq!(ev.get("tags"), Some(&Value::Array(vec![])));
    assert_eq!(ev.get("orig_fuids"), None);

    let Some(data) = taishi_testdata::read("network/zeek/baselines/ssh-bruteforce_notice.log")
    else {
        return;
    };
    let ev = &decode(&data).events[0];
    assert_eq!(s(ev, "rule.name"), Some("SSH::Password_Guessing"));
    assert_eq!(s(ev, "source.ip"), Some("192.168.56.1"));
    assert_eq!(s(ev, "event.kind"), Some("alert"));

    let Some(data) = taishi_testdata::read("network/zeek/baselines/ssh-basic_ssh.log") else {
        return;
    };
    let out = decode(&data);
    assert_eq!(s(&out.events[1], "event.outcome"), Some("success"));
    assert_eq!(s(&out.events[0], "network.direction"), Some("outbound"));
}

const HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\ttest\n#open\t2024-01-01-00-00-00\n";

#[test]
fn escapes_sets_unset_and_empty() {
    let data = format!(
        "{HEADER}#fields\tts\tname\ttags\tv\tn\tok\td\tu\n#types\ttime\tstring\tset[string]\tvector[count]\tcount\tbool\tdouble\tstring\n\
         1300475167.096535\ta\\x09b\\\\c\\x2cd\tx\\x2cy,z\t1,2,3\t-\tT\t-1.5\t(empty)\n\
         1300475168\t-\t(empty)\t(empty)\t7\tF\t0\tcaf\\xc3\\xa9\n\
         #close\t2024-01-01-00-00-01\n"
    );
    let out = decode(data.as_bytes());
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let [a, b] = &out.events[..] else { panic!() };
    assert_eq!(s(a, "name"), Some("a\tb\\c,d"));
    assert_eq!(strs(a, "tags"), ["x,y", "z"]);
    assert_eq!(
        a.get("v"),
        Some(&Value::Array(vec![
            Value::Int(1),
            Value::Int(2),
            Value::Int(3)
        ]))
    );
    assert_eq!(a.get("n"), None, "unset is absent");
    assert_eq!(a.get("ok"), Some(&Value::Bool(true)));
    assert_eq!(a.get("d"), Some(&Value::Float(-1.5)));
    assert_eq!(s(a, "u"), Some(""), "empty string is present");
    assert_eq!(
        a.timestamp.unwrap().to_rfc3339(),
        "2011-03-18T19:06:07.096535+00:00"
    );
    assert_eq!(s(a, "event.dataset"), Some("zeek.test"));

    assert_eq!(b.get("name"), None);
    assert_eq!(b.get("tags"), Some(&Value::Array(vec![])));
    assert_eq!(b.get("v"), Some(&Value::Array(vec![])));
    assert_eq!(i(b, "n"), Some(7));
    assert_eq!(s(b, "u"), Some("café"));
    assert_eq!(s(b, "ts"), Some("2011-03-18T19:06:08.000000Z"));
}

#[test]
fn wrong_column_count_and_bad_values_are_rejected_and_rest_decoded() {
    let data = format!(
        "{HEADER}#fields\tts\tuid\tn\n#types\ttime\tstring\tcount\n\
         1.0\tA\t1\n\
         2.0\tB\n\
         3.0\tC\tmany\n\
         4.0\tD\t4\textra\n\
         5.0\tE\t5\n"
    );
    let out = decode(data.as_bytes());
    let uids: Vec<_> = out.events.iter().map(|e| s(e, "uid").unwrap()).collect();
    assert_eq!(uids, ["A", "E"]);
    assert_eq!(out.rejects.len(), 3);
    // Header lines 1-8; records start on line 9.
    assert_eq!(out.rejects[0].location.line, Some(10));
    assert!(
        out.rejects[0].reason.contains("expected 3 columns"),
        "{}",
        out.rejects[0]
    );
    assert_eq!(out.rejects[1].location.line, Some(11));
    assert_eq!(out.rejects[1].field.as_deref(), Some("n"));
    assert_eq!(out.rejects[2].location.line, Some(12));
}

#[test]
fn concatenated_logs_each_use_their_header() {
    let data = format!(
        "{HEADER}#fields\tts\ta\n#types\ttime\tcount\n1.0\t1\n#close\tx\n\
         #separator \\x7c\n#set_separator|;\n#empty_field|(empty)\n#unset_field|-\n#path|other\n#fields|ts|b|c\n#types|time|string|set[string]\n2.0|x\\x7cy|p;q\n"
    );
    let out = decode(data.as_bytes());
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let [a, b] = &out.events[..] else { panic!() };
    assert_eq!(i(a, "a"), Some(1));
    assert_eq!(s(a, "event.dataset"), Some("zeek.test"));
    assert_eq!(s(b, "b"), Some("x|y"));
    assert_eq!(strs(b, "c"), ["p", "q"]);
    assert_eq!(s(b, "event.dataset"), Some("zeek.other"));
    assert_eq!(b.get("a"), None);
}

#[test]
fn json_after_a_tsv_log_is_json() {
    let data = format!(
        "{HEADER}#fields\tuid\tnote\n#types\tstring\tstring\nA\tn\n{{x\tB\n#close\tx\n{}\n",
        r#"{"_path":"dns","ts":2.5,"uid":"C","query":"q.example"}"#
    );
    let out = decode(data.as_bytes());
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let uids: Vec<_> = out.events.iter().map(|e| s(e, "uid").unwrap()).collect();
    assert_eq!(uids, ["A", "{x", "C"]);
    assert_eq!(s(&out.events[2], "dns.question.name"), Some("q.example"));
    assert_eq!(
        out.events[2].timestamp.unwrap().to_rfc3339(),
        "1970-01-01T00:00:02.500+00:00"
    );
}

#[test]
fn header_state_spans_decode_calls() {
    // The reader may cut the input at any line: the header stays.
    let data = format!("{HEADER}#fields\tts\tuid\n#types\ttime\tstring\n1.0\tA\n2.0\tB\n");
    let cut = data.find("2.0").unwrap();
    let mut ctx = DecodeContext::new("t", Format::Zeek);
    let mut sink = VecSink::default();
    let mut d = ZeekDecoder::new();
    d.decode(&data.as_bytes()[..cut], &ctx, &mut sink);
    ctx.line_base = 1 + data[..cut].matches('\n').count() as u64;
    ctx.offset_base = cut as u64;
    d.decode(&data.as_bytes()[cut..], &ctx, &mut sink);
    assert_eq!(sink.events.len(), 2);
    assert!(sink.rejects.is_empty());
}

#[test]
fn data_before_header_is_rejected() {
    let out = decode(b"1.0\tA\n");
    assert_eq!(out.events.len(), 0);
    assert_eq!(out.rejects.len(), 1);
    assert!(out.rejects[0].reason.contains("before any `#fields`"));
}

#[test]
fn iso_times_without_zone_use_default_tz() {
    let data = format!("{HEADER}#fields\tts\tx\n#types\ttime\tstring\n2024-05-01T10:00:00.5\ta\n");
    let mut ctx = DecodeContext::new("t", Format::Zeek);
    ctx.default_tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let mut sink = VecSink::default();
    ZeekDecoder::new().decode(data.as_bytes(), &ctx, &mut sink);
    let ev = &sink.events[0];
    assert_eq!(
        ev.timestamp.unwrap().to_rfc3339(),
        "2024-05-01T10:00:00.500+08:00"
    );
    assert_eq!(s(ev, "ts"), Some("2024-05-01T10:00:00.500000+08:00"));
}

#[test]
fn json_without_path_takes_it_from_file_name_or_fields() {
    let conn = br#"{"ts":1521911720.865716,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5,"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp","service":"http","duration":1.5,"orig_bytes":10,"resp_bytes":20,"conn_state":"SF","orig_pkts":1,"orig_ip_bytes":50,"resp_pkts":2,"resp_ip_bytes":90,"community_id":"1:xyz"}"#;
    let out = decode_as("/logs/conn.00:00:00-01:00:00.log", conn);
    let ev = &out.events[0];
    assert_eq!(s(ev, "event.dataset"), Some("zeek.conn"));
    assert_eq!(
        ev.timestamp.unwrap().to_rfc3339(),
        "2018-03-24T17:15:20.865716+00:00"
    );
    assert_eq!(i(ev, "event.duration"), Some(1_500_000_000));
    assert_eq!(i(ev, "source.bytes"), Some(50));
    assert_eq!(i(ev, "destination.packets"), Some(2));
    assert_eq!(s(ev, "network.community_id"), Some("1:xyz"));
    assert_eq!(s(ev, "network.protocol"), Some("http"));
    // No file name to go by: the fields say conn.
    let out = decode_as("-", conn);
    assert_eq!(s(&out.events[0], "event.dataset"), Some("zeek.conn"));

    // Nested `id` objects flatten to Zeek's dotted names.
    let http = br#"{"_path":"http","ts":"2020-01-01T00:00:00.000000Z","id":{"orig_h":"10.0.0.1","orig_p":1,"resp_h":"10.0.0.2","resp_p":8080},"method":"POST","host":"h.example","uri":"/a/b?c=d","status_code":500,"user_agent":"curl/8"}"#;
    let ev = &decode(http).events[0];
    assert_eq!(s(ev, "id.orig_h"), Some("10.0.0.1"));
    assert_eq!(s(ev, "url.path"), Some("/a/b"));
    assert_eq!(s(ev, "url.query"), Some("c=d"));
    assert_eq!(i(ev, "url.port"), Some(8080));
    assert_eq!(i(ev, "http.response.status_code"), Some(500));
    assert_eq!(s(ev, "user_agent.original"), Some("curl/8"));
}

#[test]
fn json_bad_lines_are_rejected() {
    let data = b"{\"_path\":\"dns\",\"ts\":\"2020-01-01T00:00:00Z\"}\n{\"_path\":\n{\"_path\":\"dns\",\"ts\":\"yesterday\"}\n";
    let out = decode(data);
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.rejects.len(), 2);
    assert_eq!(out.rejects[0].location.line, Some(2));
    assert_eq!(out.rejects[1].location.line, Some(3));
    assert_eq!(out.rejects[1].field.as_deref(), Some("ts"));
    let ctx = DecodeContext::new("s", Format::Zeek);
    assert!(decode_json_line(b"[]", &ctx, Location::line(1, 0), None).is_err());
}

#[test]
fn probe_scores() {
    if let Some(d) = taishi_testdata::read("network/zeek/wrccdc-tsv/dns.log") {
        assert_eq!(probe(&d), 95);
    }
    if let Some(d) = taishi_testdata::read("network/zeek/baselines/opt.basic_conn.log") {
        assert_eq!(probe(&d), 95);
    }
    if let Some(d) = taishi_testdata::read("network/zeek/wrccdc-json/dns.json") {
        assert_eq!(probe(&d), 90);
    }
    assert_eq!(probe(br#"{"ts":1.0,"id.orig_h":"1.2.3.4"}"#), 90);
    assert_eq!(
        probe(br#"{"timestamp":"x","event_type":"flow","id.orig_h":"1"}"#),
        0
    );
    assert_eq!(probe(b"Jan  1 00:00:00 host sshd[1]: hi\n"), 0);
    assert_eq!(probe(b""), 0);
}
