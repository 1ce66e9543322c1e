//! CEF and LEEF decoders against Tenzir's Check Point sample and fixtures
//! of our own (escape rules, syslog headers, the LEEF spec's examples).

use proptest::prelude::*;
use taishi_event::{DecodeContext, Decoder, Event, Format, Location, Value, VecSink};
use taishi_format_cef::{
    escape_header, escape_value, java_to_chrono, leef_delimiter, parse_cef_line, parse_leef_line,
    probe_cef, probe_leef, CefDecoder, LeefDecoder,
};

fn ctx(f: Format) -> DecodeContext {
    let mut c = DecodeContext::new("test", f);
    c.default_year = Some(2021);
    c
}

fn cef(line: &str) -> Event {
    parse_cef_line(line.as_bytes(), &ctx(Format::Cef), Location::line(1, 0))
        .unwrap_or_else(|r| panic!("{line}: {r}"))
}

fn leef(line: &str) -> Event {
    parse_leef_line(line.as_bytes(), &ctx(Format::Leef), Location::line(1, 0))
        .unwrap_or_else(|r| panic!("{line}: {r}"))
}

fn s<'a>(e: &'a Event, k: &str) -> &'a str {
    e.get_str(k)
        .unwrap_or_else(|| panic!("no string field {k} in {}", e.to_json_string()))
}

fn n(e: &Event, k: &str) -> i64 {
    e.get(k)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("no number field {k} in {}", e.to_json_string()))
}

#[test]
fn checkpoint_sample() {
    let Some(data) = taishi_testdata::read("host-logs/cef/tenzir_checkpoint.cef.log") else {
        return;
    };
    let mut sink = VecSink::default();
    CefDecoder::new().decode(&data, &ctx(Format::Cef), &mut sink);
    assert!(sink.rejects.is_empty(), "{:?}", sink.rejects);
    let e = &sink.events;
    assert_eq!(e.len(), 3);

    assert_eq!(s(&e[0], "cef.version"), "0");
    assert_eq!(s(&e[0], "observer.vendor"), "Check Point");
    assert_eq!(s(&e[0], "observer.product"), "VPN-1 & FireWall-1");
    assert_eq!(s(&e[0], "observer.version"), "Check Point");
    assert_eq!(s(&e[0], "rule.id"), "Log");
    assert_eq!(s(&e[0], "rule.name"), "https");
    assert_eq!(s(&e[0], "cef.severity"), "Unknown");
    assert!(e[0].get("event.severity").is_none());
    assert_eq!(s(&e[0], "event.action"), "Accept");
    assert_eq!(
        e[0].timestamp.unwrap().to_rfc3339(),
        "2018-11-26T22:17:32+00:00"
    );
    assert_eq!(s(&e[0], "source.ip"), "192.168.101.100");
    assert_eq!(s(&e[0], "destination.ip"), "52.173.84.157");
    assert_eq!(n(&e[0], "source.port"), 49363);
    assert_eq!(n(&e[0], "destination.port"), 443);
    assert_eq!(s(&e[0], "network.transport"), "tcp");
    assert_eq!(s(&e[0], "network.direction"), "inbound");
    assert_eq!(s(&e[0], "source.nat.ip"), "192.168.103.254");
    assert_eq!(n(&e[0], "source.nat.port"), 35398);
    // `\=` inside a value.
    assert_eq!(s(&e[0], "originsicname"), "CN=R80,O=R80_M..6u6bdo");
    // Values with spaces run to the next key.
    assert_eq!(s(&e[0], "product"), "VPN-1 & FireWall-1");
    assert_eq!(s(&e[0], "cs5"), "Business / Economy");
    assert_eq!(s(&e[0], "Matched Category"), "Business / Economy");
    // A label whose value is absent: kept as is, nothing invented.
    assert_eq!(s(&e[0], "cs2Label"), "Rule Name");
    assert!(e[0].get("Rule Name").is_none());
    assert_eq!(s(&e[0], "This field is made up"), "1508150533713");
    assert_eq!(s(&e[0], "loguid"), "{0x5bfc70fc,0x1,0xfe65a8c0,0xc0000001}");

    assert_eq!(s(&e[1], "message"), "Encrypted session");
    assert_eq!(
        s(&e[1], "file.hash.sha1"),
        "55f4a511e6f630a6b1319505414f114e7bcaf13d"
    );
    assert_eq!(s(&e[1], "Subscription expiration"), "Apr 11 2020 10:42:13");
    assert_eq!(s(&e[1], "cs4"), "SMTP Policy Restrictions");
    assert_eq!(s(&e[1], "Email Control"), "SMTP Policy Restrictions");

    assert_eq!(s(&e[2], "c6a2"), "fd00::555");
    assert_eq!(s(&e[2], "Source IPv6 Address"), "fd00::555");
    assert_eq!(s(&e[2], "source.ip"), "fd00::555");
    assert_eq!(s(&e[2], "destination.ip"), "::1");
    assert_eq!(
        s(&e[2], "file.hash.md5"),
        "580a783c1cb2b20613323f715d231a69"
    );
    assert_eq!(s(&e[2], "Duration in Seconds"), "5");
    assert_eq!(s(&e[2], "cp_severity"), "Very-High");
    assert_eq!(n(&e[2], "event.count"), 12);

    assert_eq!(probe_cef(&data), 95);
    assert_eq!(probe_leef(&data), 0);
}

#[test]
fn header_escapes_and_severity_words() {
    let e = cef(r"CEF:0|Ven\|dor|Pro\\duct|1.0|100|Name with \| pipe|Very-High|src=10.0.0.1");
    assert_eq!(s(&e, "observer.vendor"), "Ven|dor");
    assert_eq!(s(&e, "observer.product"), r"Pro\duct");
    assert_eq!(s(&e, "rule.name"), "Name with | pipe");
    assert_eq!(n(&e, "event.severity"), 10);
    assert_eq!(s(&e, "message"), "Name with | pipe");
    for (sev, want) in [("Low", 3), ("Medium", 6), ("High", 8), ("7", 7), ("0", 0)] {
        let e = cef(&format!("CEF:0|V|P|1|1|N|{sev}|"));
        assert_eq!(n(&e, "event.severity"), want, "{sev}");
    }
}

#[test]
fn extension_escapes() {
    let e = cef(
        r"CEF:0|V|P|1|1|N|5|msg=line1\nline2\r done a\=b c\\d request=http://x/?a=b&c=d cs1=back\\slash\=eq cs1Label=My Label dhost=h",
    );
    assert_eq!(s(&e, "message"), "line1\nline2\r done a=b c\\d");
    assert_eq!(s(&e, "request"), "http://x/?a=b&c=d");
    assert_eq!(s(&e, "url.original"), "http://x/?a=b&c=d");
    assert_eq!(s(&e, "cs1"), r"back\slash=eq");
    assert_eq!(s(&e, "My Label"), r"back\slash=eq");
    assert_eq!(s(&e, "destination.domain"), "h");
    // A trailing space is not part of the last value; an unknown escape
    // keeps its backslash.
    let e = cef(r"CEF:0|V|P|1|1|N|5|act=blocked  fname=C:\temp\x.exe ");
    assert_eq!(s(&e, "act"), "blocked");
    assert_eq!(s(&e, "file.name"), r"C:\temp\x.exe");
}

#[test]
fn mapping_and_timestamps() {
    let e = cef("CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 dpt=80 proto=TCP in=100 out=2000 shost=a.example suser=alice duser=bob requestMethod=POST requestClientApplication=Mozilla/5.0 (X11) app=HTTP rt=Oct 12 2021 10:11:12 start=Oct 12 2021 10:11:00.250 +08:00 end=1634033472000 deviceExternalId=FW-1 dvc=10.9.9.9 dvchost=fw.example cn1=42 cn1Label=Hits outcome=Failure");
    assert_eq!(n(&e, "event.severity"), 10);
    assert_eq!(s(&e, "network.transport"), "tcp");
    assert_eq!(s(&e, "network.protocol"), "http");
    assert_eq!(n(&e, "source.bytes"), 100);
    assert_eq!(n(&e, "destination.bytes"), 2000);
    assert_eq!(s(&e, "source.domain"), "a.example");
    assert_eq!(s(&e, "source.user.name"), "alice");
    assert_eq!(s(&e, "destination.user.name"), "bob");
    assert_eq!(s(&e, "http.request.method"), "POST");
    assert_eq!(s(&e, "user_agent.original"), "Mozilla/5.0 (X11)");
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2021-10-12T10:11:12+00:00"
    );
    assert_eq!(s(&e, "event.start"), "2021-10-12T10:11:00.250+08:00");
    assert_eq!(s(&e, "event.end"), "2021-10-12T10:11:12+00:00");
    assert_eq!(s(&e, "observer.serial_number"), "FW-1");
    assert_eq!(s(&e, "observer.ip"), "10.9.9.9");
    assert_eq!(s(&e, "observer.hostname"), "fw.example");
    assert_eq!(s(&e, "Hits"), "42");
    assert_eq!(s(&e, "event.outcome"), "failure");
}

#[test]
fn syslog_headers_before_cef() {
    let e = cef("<134>Feb 12 10:00:00 fw01 CEF:0|V|P|1|1|N|5|src=1.2.3.4");
    assert_eq!(s(&e, "host.name"), "fw01");
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2021-02-12T10:00:00+00:00"
    );
    assert_eq!(n(&e, "log.syslog.priority"), 134);
    assert_eq!(s(&e, "source.ip"), "1.2.3.4");
    assert_eq!(s(&e, "event.module"), "cef");

    let e = cef("<134>Feb 12 10:00:00 fw01 fwd[12]: CEF:0|V|P|1|1|N|5|src=1.2.3.4");
    assert_eq!(s(&e, "host.name"), "fw01");
    assert_eq!(s(&e, "log.syslog.appname"), "fwd");

    let e =
        cef("<134>1 2021-02-12T10:00:00.5+08:00 fw01 fwd - - - CEF:0|V|P|1|1|N|5|rt=1613095200000");
    assert_eq!(s(&e, "host.name"), "fw01");
    // `rt` is the event's time; the header's was the relay's.
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2021-02-12T02:00:00+00:00"
    );
}

#[test]
fn malformed_cef_is_rejected_with_the_field() {
    let data = b"CEF:0|V|P|1|100|Name\nCEF:0|V|P|1|1|N|5|src=1.1.1.1\nCEF:x|V|P|1|1|N|5|\nnot cef at all\n";
    let mut sink = VecSink::default();
    CefDecoder::new().decode(data, &ctx(Format::Cef), &mut sink);
    assert_eq!(sink.events.len(), 1);
    assert_eq!(sink.rejects.len(), 3);
    let r = &sink.rejects[0];
    assert_eq!(r.field.as_deref(), Some("Severity"));
    assert_eq!(r.location, Location::line(1, 0));
    assert!(r.reason.contains("missing"), "{}", r.reason);
    assert_eq!(sink.rejects[1].field.as_deref(), Some("Version"));
    assert_eq!(sink.rejects[1].location.line, Some(3));
    assert!(sink.rejects[2].reason.contains("CEF:"));
}

#[test]
fn gbk_cef_is_transcoded() {
    let (bytes, _, _) =
        encoding_rs::GBK.encode("CEF:0|奇安信|防火墙|1.0|1|拒绝访问|5|msg=拒绝 src=1.1.1.1");
    let e = parse_cef_line(&bytes, &ctx(Format::Cef), Location::default()).unwrap();
    assert_eq!(s(&e, "observer.vendor"), "奇安信");
    assert_eq!(s(&e, "message"), "拒绝");
    assert_eq!(s(&e, "log.syslog.charset"), "GB18030");
}

#[test]
fn leef_1_spec_examples() {
    // IBM's LEEF 1.0 example, tab-separated.
    let e = leef("Jan 18 11:07:53 host LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe.black");
    assert_eq!(s(&e, "host.name"), "host");
    assert_eq!(s(&e, "leef.version"), "1.0");
    assert_eq!(s(&e, "observer.vendor"), "Microsoft");
    assert_eq!(s(&e, "observer.product"), "MSExchange");
    assert_eq!(s(&e, "observer.version"), "4.0 SP1");
    assert_eq!(s(&e, "event.code"), "15345");
    assert_eq!(s(&e, "source.ip"), "192.0.2.0");
    assert_eq!(s(&e, "destination.ip"), "172.50.123.1");
    assert_eq!(n(&e, "event.severity"), 5);
    assert_eq!(s(&e, "cat"), "anomaly");
    assert_eq!(n(&e, "source.port"), 81);
    assert_eq!(n(&e, "destination.port"), 21);
    assert_eq!(s(&e, "user.name"), "joe.black");
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2021-01-18T11:07:53+00:00"
    );

    // devTime in the default format and with devTimeFormat.
    let e = leef("LEEF:1.0|V|P|1|E|devTime=Oct 12 2021 10:11:12\tproto=17");
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2021-10-12T10:11:12+00:00"
    );
    assert_eq!(s(&e, "network.transport"), "udp");
    let e = leef("LEEF:1.0|V|P|1|E|devTime=2021-10-12 10:11:12.345 +0800\tdevTimeFormat=yyyy-MM-dd HH:mm:ss.SSS Z");
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2021-10-12T10:11:12.345+08:00"
    );
    let e = leef("LEEF:1.0|V|P|1|E|devTime=1634033472000");
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2021-10-12T10:11:12+00:00"
    );

    // Space-separated LEEF 1.0 as some devices send it.
    let e = leef("LEEF:1.0|V|P|1|E|src=1.2.3.4 dst=5.6.7.8 usrName=a b");
    assert_eq!(s(&e, "destination.ip"), "5.6.7.8");
    assert_eq!(s(&e, "user.name"), "a b");
}

#[test]
fn leef_2_delimiters() {
    let e = leef("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^srcPort=81^dstPort=21");
    assert_eq!(s(&e, "leef.delimiter"), "^");
    assert_eq!(s(&e, "source.ip"), "10.0.1.8");
    assert_eq!(n(&e, "destination.port"), 21);
    for d in ["x5E", "0x5E", "^"] {
        let e = leef(&format!("LEEF:2.0|V|P|1|E|{d}|src=10.0.1.8^dst=10.0.0.5"));
        assert_eq!(s(&e, "destination.ip"), "10.0.0.5", "{d}");
    }
    // No delimiter field, and an empty one: tab.
    let e = leef("LEEF:2.0|V|P|1|E|src=1.1.1.1\tdst=2.2.2.2");
    assert_eq!(s(&e, "destination.ip"), "2.2.2.2");
    let e = leef("LEEF:2.0|V|P|1|E||src=1.1.1.1\tdst=2.2.2.2");
    assert_eq!(s(&e, "destination.ip"), "2.2.2.2");
    assert_eq!(leef_delimiter("0x09"), Some('\t'));
    assert_eq!(leef_delimiter("xZZ"), None);

    let r = parse_leef_line(
        b"LEEF:2.0|V|P|1|E|xZZ|a=b",
        &ctx(Format::Leef),
        Location::default(),
    )
    .unwrap_err();
    assert_eq!(r.field.as_deref(), Some("DelimiterCharacter"));
    let r = parse_leef_line(
        b"LEEF:3.0|V|P|1|E|a=b",
        &ctx(Format::Leef),
        Location::default(),
    )
    .unwrap_err();
    assert_eq!(r.field.as_deref(), Some("Version"));
    let r =
        parse_leef_line(b"LEEF:1.0|V|P|1", &ctx(Format::Leef), Location::default()).unwrap_err();
    assert_eq!(r.field.as_deref(), Some("EventID"));

    let mut sink = VecSink::default();
    LeefDecoder::new().decode(
        b"LEEF:1.0|V|P|1|E|src=1.1.1.1\nLEEF:1.0|V\n",
        &ctx(Format::Leef),
        &mut sink,
    );
    assert_eq!((sink.events.len(), sink.rejects.len()), (1, 1));
    assert_eq!(sink.rejects[0].location.line, Some(2));
    assert_eq!(
        probe_leef(b"<13>Jan 18 11:07:53 host LEEF:1.0|a|b|c|d|src=1\n"),
        95
    );
    assert_eq!(
        probe_cef(b"<13>Jan 18 11:07:53 host LEEF:1.0|a|b|c|d|src=1\n"),
        0
    );
}

#[test]
fn java_patterns() {
    assert_eq!(java_to_chrono("MMM dd yyyy HH:mm:ss"), "%b %d %Y %H:%M:%S");
    assert_eq!(
        java_to_chrono("yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
        "%Y-%m-%dT%H:%M:%S.%3f%z"
    );
}

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 |\\\\=.:/_-]{1,20}"
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut sink = VecSink::default();
        CefDecoder::new().decode(&data, &ctx(Format::Cef), &mut sink);
        LeefDecoder::new().decode(&data, &ctx(Format::Leef), &mut sink);
        for e in &sink.events { let _ = e.to_json_string(); }
        let _ = probe_cef(&data);
        let _ = probe_leef(&data);
    }

    #[test]
    fn cefish_never_panics(ext in "([a-zA-Z0-9]{1,6}=[ -~]{0,12} ?){0,6}", hdr in "(\\|[ -~]{0,5}){0,8}") {
        let line = format!("CEF:0{hdr}|{ext}");
        let _ = parse_cef_line(line.as_bytes(), &ctx(Format::Cef), Location::default());
        let line = format!("LEEF:2.0{hdr}|{ext}");
        let _ = parse_leef_line(line.as_bytes(), &ctx(Format::Leef), Location::default());
    }

    /// A record written with CEF's escaping decodes back to its values.
    #[test]
    fn cef_round_trip(vendor in word(), name in word(), v1 in word(), v2 in "[ -~\n\r]{0,30}") {
        let v1 = v1.trim().to_owned();
        let v2 = v2.trim_end_matches(' ').to_owned();
        let line = format!(
            "CEF:0|{}|P|1|1|{}|5|cs1={} msg={} dst=10.0.0.1",
            escape_header(&vendor), escape_header(&name), escape_value(&v1), escape_value(&v2)
        );
        let e = parse_cef_line(line.as_bytes(), &ctx(Format::Cef), Location::default()).unwrap();
        prop_assert_eq!(s(&e, "observer.vendor"), vendor.as_str());
        prop_assert_eq!(s(&e, "cef.name"), name.as_str());
        prop_assert_eq!(e.get_str("cs1").unwrap_or(""), v1.as_str());
        prop_assert_eq!(e.get_str("msg").unwrap_or(""), v2.as_str());
        prop_assert_eq!(s(&e, "destination.ip"), "10.0.0.1");
    }
}
