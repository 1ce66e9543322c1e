//! docs/outputs.md shows, for one fixed alert, the exact payload each
//! output sends. This test sends that alert through every output to real
//! receivers (an HTTP server, UDP/TCP/TLS syslog sockets, the SMTP sink)
//! and compares what arrives with the documented blocks, so the document
//! cannot go stale. `TAISHI_BLESS=1` writes what arrived into the document
//! instead. The TOML examples of the document are parsed and validated too.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as J;
use taishi_alert::{
    Alert, AlertKind, AlertsConfig, Dispatcher, Format, Language, Level, OutputConfig, OutputType,
    Protocol, SmtpTls,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

mod support;

/// The console address of the examples.
const CONSOLE: &str = "https://taishi.example.cn";
/// The syslog header's host name in the examples (the sender's own name
/// in reality).
const HOSTNAME: &str = "soc-taishi-01";
/// The Feishu signature's time in the examples (the sending time in
/// reality).
const FEISHU_TS: i64 = 1_740_791_702;
const FEISHU_SECRET: &str = "SECfeishu-example";

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/outputs.md")
}

/// The alert of every example: a Sigma rule on a Sysmon process event, its
/// id fixed (random bits in reality).
fn fixed_alert() -> Alert {
    let mut a = Alert::from_event(
        AlertKind::Sigma,
        "502b42de-4306-40b4-9596-6f590c81f073",
        "Whoami Execution",
        Level::High,
        vec!["attack.discovery".into(), "attack.t1033".into()],
        &support::sysmon_event(),
    );
    a.id = "001954f45626b3f9a1c0e7d52".into();
    a
}

/// The fenced block after each `<!-- KIND: name -->` line.
fn blocks(doc: &str, kind: &str) -> BTreeMap<String, String> {
    let marker = format!("<!-- {kind}: ");
    let mut out = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(l) = lines.next() {
        let Some(name) = l.strip_prefix(&marker).and_then(|r| r.strip_suffix(" -->")) else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "no fenced block after {l}");
        let mut body = String::new();
        for b in lines.by_ref() {
            if b == "```" {
                break;
            }
            body.push_str(b);
            body.push('\n');
        }
        out.insert(name.to_string(), body);
    }
    out
}

/// The document with each named payload block's content replaced.
fn bless(doc: &str, got: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut lines = doc.lines();
    while let Some(l) = lines.next() {
        out.push_str(l);
        out.push('\n');
        let name = l
            .strip_prefix("<!-- payload: ")
            .and_then(|r| r.strip_suffix(" -->"));
        let Some(text) = name.and_then(|n| got.get(n)) else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        out.push_str(fence);
        out.push('\n');
        for b in lines.by_ref() {
            if b == "```" {
                break;
            }
        }
        out.push_str(text);
        out.push_str("```\n");
    }
    out
}

fn out(kind: OutputType, name: &str) -> OutputConfig {
    let mut o = OutputConfig::new(kind);
    o.name = Some(name.into());
    o.timeout = Duration::from_secs(10);
    o.retry_backoff = Duration::from_millis(50);
    o
}

fn pretty(body: &[u8]) -> String {
    let j: J = serde_json::from_slice(body).unwrap();
    serde_json::to_string_pretty(&j).unwrap() + "\n"
}

/// The syslog line as documented: the example host name and version.
fn normalise_line(line: &str) -> String {
    line.replacen(
        &format!(" {} taishi ", taishi_alert::output::local_hostname()),
        &format!(" {HOSTNAME} taishi "),
        1,
    )
    .replacen(
        &format!("|Taishi|Taishi|{}|", env!("CARGO_PKG_VERSION")),
        "|Taishi|Taishi|0.1.0|",
        1,
    ) + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_payloads_are_what_the_outputs_send() {
    let mail = support::sink_available();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mail")).unwrap();
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), ck.key_pair.serialize_pem()).unwrap();

    // What each robot answers on success.
    let (addr, mut rx) = support::receiver(|_| {
        (
            200,
            r#"{"errcode":0,"errmsg":"ok","code":0,"msg":"success"}"#.into(),
        )
    })
    .await;
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let acceptor = {
        use tokio_rustls::rustls;
        let key = rustls::pki_types::PrivateKeyDer::try_from(ck.key_pair.serialize_der()).unwrap();
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
    };

    let mut outputs = Vec::new();
    let mut o = out(OutputType::Webhook, "webhook");
    o.url = Some(format!("http://{addr}/webhook"));
    o.secret = Some("webhook-secret".into());
    outputs.push(o);
    let mut o = out(OutputType::Dingtalk, "dingtalk");
    o.url = Some(format!("http://{addr}/dingtalk?access_token=t"));
    o.language = Language::Zh;
    o.at_mobiles = vec!["13800000000".into()];
    outputs.push(o);
    let mut o = out(OutputType::Wecom, "wecom");
    o.url = Some(format!("http://{addr}/wecom?key=k"));
    o.language = Language::Zh;
    outputs.push(o);
    let mut o = out(OutputType::Feishu, "feishu");
    o.url = Some(format!("http://{addr}/feishu"));
    o.language = Language::Zh;
    o.secret = Some(FEISHU_SECRET.into());
    outputs.push(o);
    let mut o = out(OutputType::Syslog, "syslog-cef");
    o.host = Some("127.0.0.1".into());
    o.port = Some(udp.local_addr().unwrap().port());
    outputs.push(o);
    let mut o = out(OutputType::Syslog, "syslog-rfc5424");
    o.host = Some("127.0.0.1".into());
    o.port = Some(tcp.local_addr().unwrap().port());
    o.protocol = Some(Protocol::Tcp);
    o.format = Some(Format::Rfc5424);
    o.facility = Some("auth".into());
    outputs.push(o);
    let mut o = out(OutputType::Syslog, "syslog-tls");
    o.host = Some("localhost".into());
    o.port = Some(tls.local_addr().unwrap().port());
    o.protocol = Some(Protocol::Tls);
    o.ca_file = Some(cert.clone());
    outputs.push(o);
    let mut sink = None;
    if mail {
        let port = support::free_port();
        sink = Some(support::start_sink(dir.path(), port, "plain").await);
        let mut o = out(OutputType::Smtp, "smtp");
        o.host = Some("127.0.0.1".into());
        o.port = Some(port);
        o.tls = Some(SmtpTls::None);
        o.from = Some("Taishi <taishi@example.cn>".into());
        o.to = vec!["soc@example.cn".into()];
        outputs.push(o);
    }
    let cfg = AlertsConfig {
        group_window: Duration::ZERO,
        suppress: Duration::ZERO,
        console_url: Some(CONSOLE.into()),
        outputs,
        // The receivers are on 127.0.0.1.
        egress: taishi_egress::EgressPolicy::allow_private(),
        ..AlertsConfig::default()
    };
    let d = Dispatcher::start(&cfg).unwrap();
    assert!(d.submit(fixed_alert()));

    let mut got = BTreeMap::new();
    for _ in 0..4 {
        let g = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("every HTTP output posts within 20 s")
            .unwrap();
        let path = g.uri.split('?').next().unwrap_or_default();
        let name = path.trim_start_matches('/').to_string();
        let mut body = g.body;
        if name == "feishu" {
            // The signature of the example's time, as the sender signs.
            let mut j: J = serde_json::from_slice(&body).unwrap();
            j["timestamp"] = J::String(FEISHU_TS.to_string());
            j["sign"] = J::String(taishi_alert::sign::feishu(FEISHU_SECRET, FEISHU_TS));
            body = serde_json::to_vec(&j).unwrap();
        }
        got.insert(name, pretty(&body));
    }

    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(Duration::from_secs(20), udp.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    got.insert(
        "syslog-cef".into(),
        normalise_line(std::str::from_utf8(&buf[..n]).unwrap()),
    );

    let (conn, _) = tokio::time::timeout(Duration::from_secs(20), tcp.accept())
        .await
        .unwrap()
        .unwrap();
    let line = BufReader::new(conn)
        .lines()
        .next_line()
        .await
        .unwrap()
        .unwrap();
    got.insert("syslog-rfc5424".into(), normalise_line(&line));

    // TLS: octet-counted (RFC 5425), the same CEF line as over UDP.
    let (conn, _) = tokio::time::timeout(Duration::from_secs(20), tls.accept())
        .await
        .unwrap()
        .unwrap();
    let mut conn = acceptor.accept(conn).await.unwrap();
    let msg = support::read_octet_frame(&mut conn).await;
    assert_eq!(
        normalise_line(&msg),
        got["syslog-cef"],
        "TLS carries the same line"
    );

    if mail {
        let m = support::wait_mail(dir.path(), 1, &d).await;
        got.insert(
            "smtp".into(),
            format!(
                "Subject: {}\n\n{}",
                m["subject"].as_str().unwrap(),
                m["body"].as_str().unwrap().replace("\r\n", "\n")
            ),
        );
        let mut s = sink.take().unwrap();
        drop(s.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(5), s.wait()).await;
    }
    d.shutdown(Duration::from_secs(5)).await;

    let path = doc_path();
    let doc = std::fs::read_to_string(&path).unwrap();
    if std::env::var_os("TAISHI_BLESS").is_some_and(|v| v == "1") {
        assert!(
            mail,
            "blessing needs the SMTP sink (scripts/setup.d/smtp.sh)"
        );
        std::fs::write(&path, bless(&doc, &got)).unwrap();
        return;
    }
    let want = blocks(&doc, "payload");
    for (name, text) in &got {
        let Some(w) = want.get(name) else {
            panic!("docs/outputs.md has no `<!-- payload: {name} -->` block");
        };
        assert_eq!(
            w, text,
            "docs/outputs.md `{name}` differs from what is sent (TAISHI_BLESS=1 rewrites it)"
        );
    }
    assert!(got.len() >= 7, "{:?}", got.keys());
}

#[test]
fn documented_toml_examples_are_valid() {
    #[derive(serde::Deserialize)]
    struct Root {
        alerts: AlertsConfig,
    }
    let doc = std::fs::read_to_string(doc_path()).unwrap();
    let examples = blocks(&doc, "example");
    let mut kinds = std::collections::BTreeSet::new();
    for (name, text) in &examples {
        let root: Root =
            toml::from_str(text).unwrap_or_else(|e| panic!("example `{name}`: {e}\n{text}"));
        let problems = root.alerts.validate();
        assert!(problems.is_empty(), "example `{name}`: {problems:?}");
        for o in &root.alerts.outputs {
            kinds.insert(o.kind.name());
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["dingtalk", "feishu", "smtp", "syslog", "webhook", "wecom"],
        "an example for every output type"
    );
}
