//! E-mail to a real SMTP server the test runs: Python's aiosmtpd
//! (installed by scripts/setup.d/smtp.sh), in plain, STARTTLS and implicit
//! TLS modes, with a certificate made for the test and trusted through
//! `ca_file`. Without python3 + aiosmtpd the test says SKIP, unless
//! TAISHI_REQUIRE_TEST_DATA=1.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chrono::DateTime;
use serde_json::Value as J;
use taishi_alert::{
    Alert, AlertKind, AlertsConfig, Dispatcher, Language, Level, OutputConfig, OutputType, SmtpTls,
};
use taishi_event::Event;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SINK: &str = r#"
import email, email.policy, json, os, ssl, sys, time
from aiosmtpd.controller import Controller

out, port, mode, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

class Store:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Store.n += 1
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "content_type": msg.get_content_type(),
            "body": msg.get_body(("plain",)).get_content(),
        }
        # Named by time: every sink of the test writes into the same folder.
        path = os.path.join(out, "%020d.json" % time.time_ns())
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(rec, f, ensure_ascii=False)
        os.rename(path + ".tmp", path)
        return "250 OK stored"

ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
kw = {"hostname": "127.0.0.1", "port": port}
if mode == "starttls":
    kw.update(tls_context=ctx, require_starttls=True)
elif mode == "tls":
    kw.update(ssl_context=ctx)
c = Controller(Store(), **kw)
c.start()
print("READY", flush=True)
sys.stdin.read()
c.stop()
"#;

fn sink_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("TAISHI_REQUIRE_TEST_DATA").is_some_and(|v| v != "0") {
            panic!("python3 with aiosmtpd is needed for the SMTP tests (scripts/setup.d/smtp.sh installs it)");
        }
        eprintln!("SKIP: python3 with aiosmtpd not found (scripts/setup.d/smtp.sh installs it)");
    }
    ok
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_sink(dir: &Path, port: u16, mode: &str) -> Child {
    let script = dir.join("sink.py");
    std::fs::write(&script, SINK).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(dir.join("mail"))
        .arg(port.to_string())
        .arg(mode)
        .arg(dir.join("cert.pem"))
        .arg(dir.join("key.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the SMTP sink started within 30 s")
        .unwrap();
    assert_eq!(first.as_deref(), Some("READY"));
    child
}

async fn wait_mail(dir: &Path, n: usize, d: &Dispatcher) -> J {
    let mail = dir.join("mail");
    for _ in 0..500 {
        let mut files: Vec<_> = std::fs::read_dir(&mail)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        if files.len() >= n {
            files.sort();
            let text = std::fs::read_to_string(&files[n - 1]).unwrap();
            return serde_json::from_str(&text).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("mail {n} did not arrive: {:?}", d.metrics());
}

fn alert() -> Alert {
    let mut e = Event::new();
    e.timestamp = Some(DateTime::parse_from_rfc3339("2025-03-01T09:15:02+08:00").unwrap());
    e.push("host.name", "WS-042.corp.example");
    e.push("source.ip", "10.20.30.40");
    e.push("CommandLine", "whoami /all");
    e.push("User", "CORP\\alice");
    Alert::from_event(
        AlertKind::Sigma,
        "502b42de-4306-40b4-9596-6f590c81f073",
        "Whoami Execution",
        Level::High,
        vec!["attack.t1033".into()],
        &e,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_reaches_a_real_smtp_server_plain_starttls_and_tls() {
    if !sink_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mail")).unwrap();
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    std::fs::write(dir.path().join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), ck.key_pair.serialize_pem()).unwrap();

    let mut n = 0;
    for (mode, tls, lang) in [
        ("plain", SmtpTls::None, Language::En),
        ("starttls", SmtpTls::Starttls, Language::Zh),
        ("tls", SmtpTls::Tls, Language::En),
    ] {
        let port = free_port();
        let mut sink = start_sink(dir.path(), port, mode).await;
        let mut o = OutputConfig::new(OutputType::Smtp);
        o.name = Some(format!("mail-{mode}"));
        o.host = Some("127.0.0.1".into());
        o.port = Some(port);
        o.tls = Some(tls);
        o.language = lang;
        o.from = Some("Taishi <taishi@example.com>".into());
        o.to = vec!["soc@example.com".into(), "oncall@example.com".into()];
        o.timeout = Duration::from_secs(10);
        o.retry_backoff = Duration::from_millis(50);
        if tls != SmtpTls::None {
            o.ca_file = Some(dir.path().join("cert.pem"));
        }
        let cfg = AlertsConfig {
            group_window: Duration::ZERO,
            suppress: Duration::ZERO,
            outputs: vec![o],
            // The mail sink is on 127.0.0.1.
            egress: taishi_egress::EgressPolicy::allow_private(),
            ..AlertsConfig::default()
        };
        let d = Dispatcher::start(&cfg).unwrap();
        d.submit(alert());
        n += 1;
        let m = wait_mail(dir.path(), n, &d).await;
        assert_eq!(m["mail_from"], "taishi@example.com", "{mode}");
        assert_eq!(
            m["rcpt_tos"],
            serde_json::json!(["soc@example.com", "oncall@example.com"])
        );
        assert_eq!(m["content_type"], "text/plain");
        let subject = m["subject"].as_str().unwrap();
        let body = m["body"].as_str().unwrap();
        match lang {
            Language::En => {
                assert_eq!(subject, "[Taishi] [HIGH] Whoami Execution", "{mode}");
                assert!(body.contains("Level: high"), "{body}");
                assert!(body.contains("Host: WS-042.corp.example"), "{body}");
                assert!(body.contains("Source: 10.20.30.40"), "{body}");
            }
            Language::Zh => {
                assert_eq!(subject, "[Taishi] [高危] Whoami Execution", "{mode}");
                assert!(body.contains("主机: WS-042.corp.example"), "{body}");
            }
        }
        assert!(body.contains("CommandLine: whoami /all"), "{body}");
        assert!(
            body.contains("Rule id: 502b42de") || body.contains("规则 ID: 502b42de"),
            "{body}"
        );

        // The settings page's test message goes the same way.
        d.test_output(&format!("mail-{mode}")).await.unwrap();
        n += 1;
        let t = wait_mail(dir.path(), n, &d).await;
        assert!(
            t["subject"].as_str().unwrap().contains("test")
                || t["subject"].as_str().unwrap().contains("测试")
        );
        for _ in 0..100 {
            if d.metrics().outputs[0].sent == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(d.metrics().outputs[0].sent, 1);
        d.shutdown(Duration::from_secs(5)).await;
        drop(sink.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(5), sink.wait()).await;
    }

    // A plain connection to a server that insists on STARTTLS… is upgraded;
    // one to a TLS-only port without TLS fails and is reported.
    let port = free_port();
    let _sink = start_sink(dir.path(), port, "tls").await;
    let mut o = OutputConfig::new(OutputType::Smtp);
    o.host = Some("127.0.0.1".into());
    o.port = Some(port);
    o.tls = Some(SmtpTls::None);
    o.from = Some("taishi@example.com".into());
    o.to = vec!["soc@example.com".into()];
    o.timeout = Duration::from_secs(3);
    assert!(
        taishi_alert::test_output(&o, &taishi_egress::EgressPolicy::allow_private())
            .await
            .is_err()
    );
}
