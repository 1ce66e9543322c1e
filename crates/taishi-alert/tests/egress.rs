//! Every output kind obeys the egress policy: webhook and chat-robot URLs,
//! SMTP and syslog hosts that are (or resolve to) loopback, link-local,
//! private or metadata addresses are refused with a permanent error naming
//! the setting, and the receiver never sees a connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use taishi_alert::{OutputConfig, OutputType, Protocol};
use taishi_egress::EgressPolicy;
use tokio::net::TcpListener;

/// A TCP receiver on 127.0.0.1 that counts connections.
async fn receiver() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = l.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, hits)
}

fn http(kind: OutputType, url: &str) -> OutputConfig {
    let mut o = OutputConfig::new(kind);
    o.url = Some(url.into());
    o.timeout = Duration::from_secs(3);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_to_private_targets_are_refused() {
    let (port, hits) = receiver().await;
    let deny = EgressPolicy::default();
    let mut cases: Vec<(OutputConfig, &str)> = Vec::new();
    for (url, want) in [
        (format!("http://127.0.0.1:{port}/hook"), "loopback"),
        (format!("http://localhost:{port}/hook"), "loopback"),
        (format!("http://[::1]:{port}/hook"), "loopback"),
        (
            "http://169.254.169.254/latest/meta-data".into(),
            "cloud metadata",
        ),
        ("http://10.0.0.1/hook".into(), "private"),
    ] {
        // The robots' own checks want their token in the URL.
        let url = format!("{url}?access_token=t&key=k");
        for kind in [
            OutputType::Webhook,
            OutputType::Dingtalk,
            OutputType::Wecom,
            OutputType::Feishu,
        ] {
            cases.push((http(kind, &url), want));
        }
    }
    let mut smtp = OutputConfig::new(OutputType::Smtp);
    smtp.host = Some("127.0.0.1".into());
    smtp.port = Some(port);
    smtp.tls = Some(taishi_alert::SmtpTls::None);
    smtp.from = Some("taishi@example.org".into());
    smtp.to = vec!["soc@example.org".into()];
    cases.push((smtp, "loopback"));
    for proto in [Protocol::Tcp, Protocol::Udp] {
        let mut s = OutputConfig::new(OutputType::Syslog);
        s.host = Some("localhost".into());
        s.port = Some(port);
        s.protocol = Some(proto);
        cases.push((s, "loopback"));
    }
    for (o, want) in cases {
        let e = taishi_alert::test_output(&o, &deny).await.unwrap_err();
        assert!(e.permanent, "{:?}: {e}", o.kind);
        assert!(
            e.message.contains(want) && e.message.contains("[egress]"),
            "{:?}: {e}",
            o.kind
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a refused receiver was reached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_http_schemes_are_refused() {
    let deny = EgressPolicy::default();
    for url in ["file:///etc/passwd", "gopher://127.0.0.1:70/"] {
        let o = http(OutputType::Webhook, url);
        // The config check may refuse it first; either way it is not sent.
        let e = taishi_alert::test_output(&o, &deny).await.unwrap_err();
        assert!(e.permanent, "{url}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_entry_lets_one_receiver_through() {
    let (port, hits) = receiver().await;
    let allow = EgressPolicy {
        allow_private: false,
        allow: vec!["127.0.0.1".parse().unwrap()],
    };
    let mut s = OutputConfig::new(OutputType::Syslog);
    s.host = Some("127.0.0.1".into());
    s.port = Some(port);
    s.protocol = Some(Protocol::Tcp);
    taishi_alert::test_output(&s, &allow).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
