//! Access-log decoder against fail2ban's labelled web-attack logs and
//! fixtures of our own.

use chrono::NaiveDateTime;
use proptest::prelude::*;
use taishi_event::{DecodeContext, Decoder, Event, Format, Location, Value, VecSink};
use taishi_format_access::{format_combined, parse_line, probe, AccessDecoder};

fn ctx() -> DecodeContext {
    DecodeContext::new("test", Format::Access)
}

fn one(line: &str) -> Event {
    parse_line(line.as_bytes(), &ctx(), Location::line(1, 0))
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
fn combined_line() {
    let e = one(
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1&b=2 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
    );
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2000-10-10T13:55:36-07:00"
    );
    assert_eq!(s(&e, "source.ip"), "127.0.0.1");
    assert_eq!(s(&e, "user.name"), "frank");
    assert_eq!(s(&e, "http.request.method"), "GET");
    assert_eq!(s(&e, "url.original"), "/apache_pb.gif?a=1&b=2");
    assert_eq!(s(&e, "url.path"), "/apache_pb.gif");
    assert_eq!(s(&e, "url.query"), "a=1&b=2");
    assert_eq!(s(&e, "http.version"), "1.0");
    assert_eq!(n(&e, "http.response.status_code"), 200);
    assert_eq!(n(&e, "http.response.body.bytes"), 2326);
    assert_eq!(
        s(&e, "http.request.referrer"),
        "http://www.example.com/start.html"
    );
    assert_eq!(
        s(&e, "user_agent.original"),
        "Mozilla/4.08 [en] (Win98; I ;Nav)"
    );
    assert_eq!(e.get("event.category"), Some(&Value::from(vec!["web"])));
    assert_eq!(s(&e, "event.outcome"), "success");
    assert!(e.get("http.request.original").is_none());

    // common format, `-` size, 404.
    let e = one(r#"::1 - - [10/Oct/2000:13:55:36 +0800] "POST /login HTTP/1.1" 404 -"#);
    assert_eq!(s(&e, "source.ip"), "::1");
    assert!(e.get("user.name").is_none());
    assert!(e.get("http.response.body.bytes").is_none());
    assert_eq!(s(&e, "event.outcome"), "failure");
    assert_eq!(
        e.timestamp.unwrap().to_rfc3339(),
        "2000-10-10T13:55:36+08:00"
    );
}

#[test]
fn vhost_and_nginx_variants() {
    let e = one(
        r#"www.example.com:443 192.0.2.5 - - [18/Aug/2024:21:08:39 +0100] "GET /x HTTP/2.0" 403 332 "-" "curl/8""#,
    );
    assert_eq!(s(&e, "destination.domain"), "www.example.com");
    assert_eq!(n(&e, "destination.port"), 443);
    assert_eq!(s(&e, "source.ip"), "192.0.2.5");
    assert!(e.get("http.request.referrer").is_none());
    assert_eq!(s(&e, "http.version"), "2.0");

    let e = one(
        r#"10.0.0.2 - - [20/Jan/2015:19:53:28 +0100] "GET / HTTP/1.1" 200 47 "-" "ua" "203.0.113.9, 10.0.0.1" 0.005"#,
    );
    assert_eq!(
        s(&e, "http.request.x_forwarded_for"),
        "203.0.113.9, 10.0.0.1"
    );
    assert_eq!(s(&e, "network.forwarded_ip"), "203.0.113.9");
    assert_eq!(s(&e, "access.extra"), "0.005");

    // A host name instead of an address; an absolute URI (proxy).
    let e = one(
        r#"client.example - - [20/Jan/2015:19:53:28 +0100] "GET http://a.example:8080/p?q=1 HTTP/1.1" 200 1"#,
    );
    assert_eq!(s(&e, "source.domain"), "client.example");
    assert_eq!(s(&e, "url.domain"), "a.example:8080");
    assert_eq!(s(&e, "url.path"), "/p");
    assert_eq!(s(&e, "url.query"), "q=1");
}

#[test]
fn odd_requests_still_decode() {
    for (req, method) in [
        ("-", None),
        ("", None),
        ("HELP", Some("HELP")),
        ("batman", None),
        (
            r"\x03\x00\x00/*\xE0\x00\x00\x00\x00\x00Cookie: mstshash=Administr",
            None,
        ),
        ("CONNECT 123.123.123.123 HTTP/1.1", Some("CONNECT")),
        (
            "GET /cgi-bin/x.cgi?() { :;}; /bin/bash -c \\\"id\\\" HTTP/1.1",
            Some("GET"),
        ),
    ] {
        let line = format!(
            r#"12.34.56.78 - - [20/Jan/2015:19:53:28 +0100] "{req}" 400 47 "-" "() {{ :; }}; echo; /bin/cat /etc/passwd""#
        );
        let e = one(&line);
        assert_eq!(e.get_str("http.request.method"), method, "{req}");
        assert_eq!(n(&e, "http.response.status_code"), 400);
        assert_eq!(
            s(&e, "user_agent.original"),
            "() { :; }; echo; /bin/cat /etc/passwd"
        );
        if method != Some("CONNECT") {
            assert_eq!(
                s(&e, "http.request.original"),
                req.replace("\\\"", "\""),
                "{req}"
            );
        }
    }
    let e = one(r#"1.2.3.4 - - [20/Jan/2015:19:53:28 +0100] "GET /a b c HTTP/1.1" 400 1"#);
    assert_eq!(s(&e, "url.original"), "/a b c");
    assert_eq!(s(&e, "http.version"), "1.1");
    // An unescaped quote in the URI does not end the request early.
    let e = one(r#"1.2.3.4 - - [20/Jan/2015:19:53:28 +0100] "GET /x"y HTTP/1.1" 400 1 "-" "ua""#);
    assert_eq!(s(&e, "url.original"), "/x\"y");
    assert_eq!(s(&e, "user_agent.original"), "ua");
}

#[test]
fn bad_lines_are_rejected_with_reasons() {
    let data = b"1.2.3.4 - - [20/Jan/2015:19:53:28 +0100] \"GET / HTTP/1.1\" 200 1\n\
[Tue Jul 22 06:48:30 2008] [error] [client 198.51.100.86] File does not exist: /x\n\
2015/01/21 10:56:10 [error] 2833#0: *16336 open() failed, client: 5.7.9.2\n\
1.2.3.4 - - [99/Foo/2015:19:53:28 +0100] \"GET / HTTP/1.1\" 200 1\n\
1.2.3.4 - - [20/Jan/2015:19:53:28 +0100] \"GET / HTTP/1.1\" abc 1\n\
1.2.3.4 - - [20/Jan/2015:19:53:28 +0100] \"GET / HTTP/1.1\" 200 12x\n\
1.2.3.4 - - [20/Jan/2015:19:53:28 +0100] GET / 200 1\n";
    let mut sink = VecSink::default();
    AccessDecoder::new().decode(data, &ctx(), &mut sink);
    assert_eq!(sink.events.len(), 1);
    let r = &sink.rejects;
    assert_eq!(r.len(), 6);
    assert!(r[0].reason.contains("Apache error-log"), "{}", r[0]);
    assert_eq!(r[0].location.line, Some(2));
    assert!(r[1].reason.contains("nginx error-log"), "{}", r[1]);
    assert_eq!(r[2].field.as_deref(), Some("time"));
    assert_eq!(r[3].field.as_deref(), Some("request"));
    assert_eq!(r[4].field.as_deref(), Some("bytes"));
    assert_eq!(r[5].field.as_deref(), Some("request"));
}

/// UTC to Paris wall-clock time, the zone fail2ban's labels are in (EU
/// summer time: last Sunday of March to last Sunday of October, 01:00 UTC).
fn paris(utc: NaiveDateTime) -> NaiveDateTime {
    use chrono::{Datelike, NaiveDate, Weekday};
    let last_sunday = |m: u32| {
        let mut d = NaiveDate::from_ymd_opt(utc.year(), m, 31).unwrap();
        while d.weekday() != Weekday::Sun {
            d = d.pred_opt().unwrap();
        }
        d.and_hms_opt(1, 0, 0).unwrap()
    };
    let summer = utc >= last_sunday(3) && utc < last_sunday(10);
    utc + chrono::Duration::hours(if summer { 2 } else { 1 })
}

/// The fail2ban web test logs mix `# failJSON` labels, access lines and
/// error-log lines. Access lines must decode with the labelled client and
/// time; everything else must be rejected, none dropped.
#[test]
fn fail2ban_web_attack_logs() {
    let Some(dir) = taishi_testdata::path("host-logs/web-attacks") else {
        return;
    };
    let (mut access, mut checked, mut rejected) = (0, 0, 0);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
    {
        let data = std::fs::read(path).unwrap();
        let mut label: Option<serde_json::Value> = None;
        for raw in data.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(raw);
            if let Some(j) = line.strip_prefix("# failJSON:") {
                label = serde_json::from_str(j.trim()).ok();
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let l = label.take();
            // The access shape: `[vhost] client ident user [dd/Mon/yyyy:`.
            let looks_access = line.split_once(" [").is_some_and(|(h, t)| {
                (3..=4).contains(&h.split(' ').count()) && t.as_bytes().get(2) == Some(&b'/')
            });
            match parse_line(raw, &ctx(), Location::default()) {
                Ok(e) => {
                    assert!(
                        looks_access,
                        "{}: decoded a non-access line: {line}",
                        path.display()
                    );
                    access += 1;
                    let Some(l) = l else { continue };
                    if let Some(h) = l.get("host").and_then(|h| h.as_str()) {
                        assert_eq!(s(&e, "source.address"), h, "{line}");
                    }
                    if let Some(t) = l.get("time").and_then(|t| t.as_str()) {
                        let want = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").unwrap();
                        assert_eq!(paris(e.timestamp.unwrap().naive_utc()), want, "{line}");
                        checked += 1;
                    }
                }
                Err(r) => {
                    assert!(!looks_access, "{}: {line}: {r}", path.display());
                    assert!(r.reason.contains("access-log line"), "{r}");
                    rejected += 1;
                }
            }
        }
    }
    eprintln!("web-attacks: {access} access lines decoded ({checked} checked against labels), {rejected} error-log lines rejected");
    assert!(access >= 21, "{access}");
    assert_eq!(checked, access);
    assert!(rejected >= 50, "{rejected}");
}

#[test]
fn probe_confidence() {
    let line = b"1.2.3.4 - - [05/Mar/2007:14:39:21 +0100] \"GET / HTTP/1.0\" 301 459 \"-\" \"x\"\n";
    assert_eq!(probe(line), 85);
    assert_eq!(probe(b"<13>Oct 11 22:14:15 host app: x\n"), 0);
    assert_eq!(probe(b"{\"a\":1}\n"), 0);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut sink = VecSink::default();
        AccessDecoder::new().decode(&data, &ctx(), &mut sink);
        for e in &sink.events { let _ = e.to_json_string(); }
        let _ = probe(&data);
    }

    #[test]
    fn accessish_never_panics(req in "[ -~]{0,40}", tail in "[ -~]{0,40}") {
        let line = format!("1.2.3.4 - - [20/Jan/2015:19:53:28 +0100] \"{req}\" {tail}");
        let _ = parse_line(line.as_bytes(), &ctx(), Location::default());
    }

    /// A combined line written from an event decodes back to the same event.
    #[test]
    fn combined_round_trip(
        ip in any::<[u8; 4]>(), user in "[a-z]{1,8}", method in "GET|POST|HEAD|PROPFIND",
        path in "/[a-zA-Z0-9/._-]{0,20}", query in proptest::option::of("[a-z0-9=&]{1,10}"),
        status in 100u16..600, bytes in any::<u32>(), ua in "[a-zA-Z][ -~]{0,29}", off in -12i32..14,
    ) {
        let uri = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
        let sign = if off < 0 { '-' } else { '+' };
        let line = format!(
            "{}.{}.{}.{} - {user} [04/Mar/2021:05:06:07 {sign}{:02}00] \"{method} {uri} HTTP/1.1\" {status} {bytes} \"-\" \"{}\"",
            ip[0], ip[1], ip[2], ip[3], off.abs(), ua.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let e = parse_line(line.as_bytes(), &ctx(), Location::default()).unwrap();
        prop_assert_eq!(s(&e, "url.path"), path.as_str());
        prop_assert_eq!(e.get_str("url.query"), query.as_deref());
        prop_assert_eq!(s(&e, "user_agent.original"), ua.as_str());
        prop_assert_eq!(n(&e, "http.response.status_code"), i64::from(status));
        let again = parse_line(format_combined(&e).as_bytes(), &ctx(), Location::default()).unwrap();
        prop_assert_eq!(again, e);
    }
}
