//! E-mail to a real SMTP server the test runs: Python's aiosmtpd
//! (installed by scripts/setup.d/smtp.sh), in plain, STARTTLS and implicit
//! TLS modes, with a certificate made for the test and trusted through
//! `ca_file`. Without python3 + aiosmtpd the test says SKIP, unless
//! TAISHI_REQUIRE_TEST_DATA=1.

use std::time::Duration;

use chrono::DateTime;
use taishi_alert::{
    Alert, AlertKind, AlertsConfig, Dispatcher, Language, Level, OutputConfig, OutputType, SmtpTls,
};
use taishi_event::Event;

mod support;
use support::{free_port, sink_available, start_sink, wait_mail};

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
