//! Every output against a real receiver the test runs: an HTTP server on
//! 127.0.0.1 (webhook, DingTalk, WeCom, Feishu) and UDP/TCP syslog sockets
//! whose CEF lines the project's CEF decoder reads back.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value as J;
use sha2::Sha256;
use taishi_alert::{
    Alert, AlertKind, AlertsConfig, Dispatcher, Format, Framing, OutputConfig, OutputType, Protocol,
};
use taishi_event::{DecodeContext, Event, Location};
use taishi_sigma::{Detection, Engine, EngineOptions, RuleSet, Scratch};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

mod support;
use support::{receiver, sysmon_event};

const RULE: &str = r#"
title: Whoami Execution
id: 502b42de-4306-40b4-9596-6f590c81f073
status: test
level: high
tags:
    - attack.discovery
    - attack.t1033
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
"#;

/// The alert a Sigma rule raises on the Sysmon event, built the way the
/// service builds it.
fn sigma_alert() -> Alert {
    let mut set = RuleSet::default();
    set.add_yaml(RULE, "whoami.yml");
    let engine = Engine::new(&set, &EngineOptions::default()).unwrap();
    let ev = sysmon_event();
    let mut out: Vec<Detection> = Vec::new();
    engine.detect(&ev, &mut Scratch::new(), &mut out);
    assert_eq!(out.len(), 1, "the rule fires");
    let m = &out[0].meta;
    Alert::from_event(
        AlertKind::Sigma,
        m.id.clone().unwrap_or_default(),
        m.title.clone(),
        m.level.name().parse().unwrap(),
        m.tags.clone(),
        &ev,
    )
}

fn immediate(outputs: Vec<OutputConfig>) -> AlertsConfig {
    AlertsConfig {
        group_window: Duration::ZERO,
        suppress: Duration::ZERO,
        outputs,
        // The receivers are on 127.0.0.1.
        egress: allow_private(),
        ..AlertsConfig::default()
    }
}

fn allow_private() -> taishi_egress::EgressPolicy {
    taishi_egress::EgressPolicy::allow_private()
}

fn out(kind: OutputType) -> OutputConfig {
    let mut o = OutputConfig::new(kind);
    // The English rendering (Chinese is the default; a test sets it).
    o.language = taishi_alert::Language::En;
    o.retry_backoff = Duration::from_millis(20);
    o.timeout = Duration::from_secs(5);
    o
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the receiver got nothing within 10 s")
        .unwrap()
}

async fn wait_for(d: &Dispatcher, what: impl Fn(&taishi_alert::Metrics) -> bool) {
    for _ in 0..500 {
        if what(&d.metrics()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("metrics never got there: {:?}", d.metrics());
}

fn hmac256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn signatures_match_an_independent_hmac_and_openssl() {
    // `printf '1700000000000\nSEC000' | openssl dgst -sha256 -hmac SEC000 -binary | base64`
    assert_eq!(
        taishi_alert::sign::dingtalk("SEC000", 1_700_000_000_000),
        "ltBBey5eZrWKh1cPzFIdz3v3xpkc4Tjx4lLsPSHqdtA%3D"
    );
    // Key "1700000000\nSEC000", empty message (openssl -mac HMAC -macopt hexkey:…).
    assert_eq!(
        taishi_alert::sign::feishu("SEC000", 1_700_000_000),
        "QKhXycVUGrhA1dUEbXA2Vo/zGkv/W88IgYgKNA7Xmk0="
    );
    for (secret, ts) in [("SECabc+/=中文", 1_234_567_890_123i64), ("x", 0)] {
        let want = b64(&hmac256(
            secret.as_bytes(),
            format!("{ts}\n{secret}").as_bytes(),
        ))
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
        assert_eq!(taishi_alert::sign::dingtalk(secret, ts), want);
        let want = b64(&hmac256(format!("{ts}\n{secret}").as_bytes(), b""));
        assert_eq!(taishi_alert::sign::feishu(secret, ts), want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigma_alert_reaches_the_webhook_signed() {
    let (addr, mut rx) = receiver(|_| (200, "ok".into())).await;
    let mut o = out(OutputType::Webhook);
    o.url = Some(format!("http://{addr}/hooks/taishi"));
    o.secret = Some("webhook-secret".into());
    o.headers
        .insert("Authorization".into(), "Bearer t0k".into());
    let d = Dispatcher::start(&immediate(vec![o])).unwrap();
    let alert = sigma_alert();
    assert!(d.submit(alert.clone()));

    let got = next(&mut rx).await;
    assert_eq!(
        (got.method.as_str(), got.uri.as_str()),
        ("POST", "/hooks/taishi")
    );
    assert_eq!(got.headers["authorization"], "Bearer t0k");
    assert!(got.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let ts = got.headers["x-taishi-timestamp"]
        .to_str()
        .unwrap()
        .to_string();
    let mut msg = format!("{ts}.").into_bytes();
    msg.extend_from_slice(&got.body);
    let want: String = hmac256(b"webhook-secret", &msg)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        got.headers["x-taishi-signature"],
        format!("sha256={want}").as_str()
    );

    let j = got.json();
    assert_eq!(j["type"], "alert");
    assert_eq!(j["rule_id"], "502b42de-4306-40b4-9596-6f590c81f073");
    assert_eq!(j["rule_title"], "Whoami Execution");
    assert_eq!(j["level"], "high");
    assert_eq!(j["count"], 1);
    assert_eq!(j["hosts"][0], "WS-042.corp.example");
    let a = &j["alerts"][0];
    assert_eq!(a["@timestamp"], "2025-03-01T09:15:02.123+08:00");
    assert_eq!(
        a["tags"],
        serde_json::json!(["attack.discovery", "attack.t1033"])
    );
    assert_eq!(a["source_ip"], "10.20.30.40");
    assert_eq!(a["summary"]["CommandLine"], "whoami /all");
    assert_eq!(a["event"]["Image"], "C:\\Windows\\System32\\whoami.exe");
    let back: Alert = serde_json::from_value(a.clone()).unwrap();
    assert_eq!(back, alert);
    wait_for(&d, |m| m.outputs[0].sent == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingtalk_request_is_signed_markdown() {
    let (addr, mut rx) = receiver(|_| (200, r#"{"errcode":0,"errmsg":"ok"}"#.into())).await;
    let mut o = out(OutputType::Dingtalk);
    o.url = Some(format!("http://{addr}/robot/send?access_token=abc123"));
    o.secret = Some("SECdingtalk".into());
    o.at_mobiles = vec!["13800000000".into()];
    let d = Dispatcher::start(&immediate(vec![o])).unwrap();
    let before = chrono::Utc::now().timestamp_millis();
    d.submit(sigma_alert());
    let got = next(&mut rx).await;
    assert!(
        got.uri
            .starts_with("/robot/send?access_token=abc123&timestamp="),
        "{}",
        got.uri
    );
    let ts: i64 = got.query("timestamp").unwrap().parse().unwrap();
    assert!(ts >= before && ts <= chrono::Utc::now().timestamp_millis());
    let want = b64(&hmac256(
        b"SECdingtalk",
        format!("{ts}\nSECdingtalk").as_bytes(),
    ))
    .replace('+', "%2B")
    .replace('/', "%2F")
    .replace('=', "%3D");
    assert_eq!(got.query("sign").unwrap(), want);
    let j = got.json();
    assert_eq!(j["msgtype"], "markdown");
    assert_eq!(j["markdown"]["title"], "[HIGH] Whoami Execution");
    let text = j["markdown"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("### \\[HIGH\\] Whoami Execution"),
        "{text}"
    );
    assert!(
        text.contains("WS-042.corp.example") && text.contains("whoami /all"),
        "{text}"
    );
    assert!(text.ends_with("@13800000000"), "{text}");
    assert_eq!(j["at"]["atMobiles"][0], "13800000000");
    wait_for(&d, |m| m.outputs[0].sent == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feishu_card_and_text_are_signed_in_the_body() {
    let (addr, mut rx) =
        receiver(|_| (200, r#"{"code":0,"msg":"success","data":{}}"#.into())).await;
    let mut card = out(OutputType::Feishu);
    card.name = Some("feishu-card".into());
    card.url = Some(format!("http://{addr}/open-apis/bot/v2/hook/card"));
    card.secret = Some("feishu-secret".into());
    card.language = taishi_alert::Language::Zh;
    let mut text = out(OutputType::Feishu);
    text.name = Some("feishu-text".into());
    text.url = Some(format!("http://{addr}/open-apis/bot/v2/hook/text"));
    text.format = Some(Format::Text);
    let d = Dispatcher::start(&immediate(vec![card, text])).unwrap();
    d.submit(sigma_alert());
    let mut got = [next(&mut rx).await, next(&mut rx).await];
    got.sort_by(|a, b| a.uri.cmp(&b.uri));

    let c = got[0].json();
    assert_eq!(got[0].uri, "/open-apis/bot/v2/hook/card");
    let ts = c["timestamp"].as_str().unwrap();
    let want = b64(&hmac256(format!("{ts}\nfeishu-secret").as_bytes(), b""));
    assert_eq!(c["sign"], want.as_str());
    assert!((chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap()).abs() < 60);
    assert_eq!(c["msg_type"], "interactive");
    assert_eq!(
        c["card"]["header"]["title"]["content"],
        "[高危] Whoami Execution"
    );
    assert_eq!(c["card"]["header"]["template"], "orange");
    let md = c["card"]["elements"][0]["text"]["content"]
        .as_str()
        .unwrap();
    assert!(md.contains("**主机**: WS-042.corp.example"), "{md}");

    let t = got[1].json();
    assert_eq!(t["msg_type"], "text");
    assert!(t.get("sign").is_none());
    let body = t["content"]["text"].as_str().unwrap();
    assert!(body.starts_with("[HIGH] Whoami Execution\n"), "{body}");
    assert!(body.contains("CommandLine: whoami /all"), "{body}");
    wait_for(&d, |m| m.outputs.iter().all(|o| o.sent == 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_markdown_and_robot_errors() {
    // The first reply is a rate limit (retried), then success; a second
    // robot refuses the key for good (not retried).
    let (addr, mut rx) = receiver(|n| match n {
        0 => (
            200,
            r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#.into(),
        ),
        _ => (200, r#"{"errcode":0,"errmsg":"ok"}"#.into()),
    })
    .await;
    let mut o = out(OutputType::Wecom);
    o.url = Some(format!("http://{addr}/cgi-bin/webhook/send?key=693a91f6"));
    let (bad_addr, mut bad_rx) = receiver(|_| {
        (
            200,
            r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#.into(),
        )
    })
    .await;
    let mut bad = out(OutputType::Wecom);
    bad.name = Some("wecom-bad".into());
    bad.url = Some(format!("http://{bad_addr}/cgi-bin/webhook/send?key=nope"));
    let d = Dispatcher::start(&immediate(vec![o, bad])).unwrap();
    d.submit(sigma_alert());
    let first = next(&mut rx).await;
    let again = next(&mut rx).await;
    assert_eq!(first.body, again.body);
    assert_eq!(first.uri, "/cgi-bin/webhook/send?key=693a91f6");
    let j = first.json();
    assert_eq!(j["msgtype"], "markdown");
    assert!(j["markdown"]["content"]
        .as_str()
        .unwrap()
        .contains("Whoami Execution"));
    next(&mut bad_rx).await;
    wait_for(&d, |m| m.outputs[0].sent == 1 && m.outputs[1].failed == 1).await;
    let m = d.metrics();
    assert_eq!(m.outputs[0].retries, 1);
    assert_eq!(m.outputs[1].retries, 0);
    assert!(m.outputs[1]
        .last_error
        .as_deref()
        .unwrap()
        .contains("93000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_server_errors_are_retried_client_errors_are_not() {
    let (addr, mut rx) = receiver(|n| {
        if n < 2 {
            (503, "busy".into())
        } else {
            (200, "".into())
        }
    })
    .await;
    let mut o = out(OutputType::Webhook);
    o.url = Some(format!("http://{addr}/"));
    let (addr4, mut rx4) = receiver(|_| (401, "no".into())).await;
    let mut o4 = out(OutputType::Webhook);
    o4.name = Some("refused".into());
    o4.url = Some(format!("http://{addr4}/"));
    let d = Dispatcher::start(&immediate(vec![o, o4])).unwrap();
    d.submit(sigma_alert());
    for _ in 0..3 {
        next(&mut rx).await;
    }
    next(&mut rx4).await;
    wait_for(&d, |m| m.outputs[0].sent == 1 && m.outputs[1].failed == 1).await;
    let m = d.metrics();
    assert_eq!((m.outputs[0].retries, m.outputs[1].retries), (2, 0));
    assert!(m.outputs[1].last_error.as_deref().unwrap().contains("401"));

    // Nobody listening: transient, retried, then failed.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let mut o = out(OutputType::Webhook);
    o.url = Some(format!("http://{dead_addr}/"));
    o.retries = 1;
    let err = taishi_alert::test_output(&o, &allow_private())
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_messages_from_the_settings_page() {
    let (addr, mut rx) = receiver(|_| (200, r#"{"errcode":0}"#.into())).await;
    let mut o = out(OutputType::Dingtalk);
    o.url = Some(format!("http://{addr}/robot/send?access_token=t"));
    taishi_alert::test_output(&o, &allow_private())
        .await
        .unwrap();
    let j = next(&mut rx).await.json();
    assert_eq!(j["markdown"]["title"], "Taishi test notification");

    let d = Dispatcher::start(&immediate(vec![o])).unwrap();
    d.test_output("dingtalk").await.unwrap();
    next(&mut rx).await;
    assert!(d.test_output("nope").await.is_err());

    let mut bad = out(OutputType::Webhook);
    bad.url = Some("ftp://x".into());
    let e = taishi_alert::test_output(&bad, &allow_private())
        .await
        .unwrap_err();
    assert!(e.permanent && e.message.contains("ftp"), "{e}");
}

fn parse_cef(line: &str) -> Event {
    let ctx = DecodeContext::new("test", taishi_event::Format::Cef);
    taishi_format_cef::parse_cef_line(line.as_bytes(), &ctx, Location::line(1, 0)).unwrap()
}

fn check_cef(ev: &Event, alert: &Alert) {
    let s = |k: &str| ev.get(k).map(|v| v.to_string());
    assert_eq!(s("cef.device.vendor").as_deref(), Some("Taishi"));
    assert_eq!(s("rule.id").as_deref(), Some(alert.rule_id.as_str()));
    assert_eq!(s("rule.name").as_deref(), Some("Whoami Execution"));
    assert_eq!(s("cef.severity").as_deref(), Some("8"));
    assert_eq!(s("source.ip").as_deref(), Some("10.20.30.40"));
    assert_eq!(s("destination.ip").as_deref(), Some("203.0.113.9"));
    assert_eq!(s("dhost").as_deref(), Some("WS-042.corp.example"));
    assert_eq!(s("cs1").as_deref(), Some("attack.discovery,attack.t1033"));
    assert_eq!(s("tags").as_deref(), Some("attack.discovery,attack.t1033"));
    assert_eq!(s("externalId").as_deref(), Some(alert.id.as_str()));
    assert_eq!(s("cnt").as_deref(), Some("1"));
    assert!(
        s("message").unwrap().contains("CommandLine=whoami /all"),
        "{:?}",
        s("message")
    );
    assert_eq!(
        ev.timestamp.map(|t| t.timestamp_millis()),
        Some(alert.timestamp.timestamp_millis())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_cef_over_udp_and_tcp_reads_back() {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp5424 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut u = out(OutputType::Syslog);
    u.name = Some("siem-udp".into());
    u.host = Some("127.0.0.1".into());
    u.port = Some(udp.local_addr().unwrap().port());
    let mut t = out(OutputType::Syslog);
    t.name = Some("siem-tcp".into());
    t.host = Some("localhost".into());
    t.port = Some(tcp.local_addr().unwrap().port());
    t.protocol = Some(Protocol::Tcp);
    t.facility = Some("local4".into());
    let mut r = out(OutputType::Syslog);
    r.name = Some("siem-5424".into());
    r.host = Some("127.0.0.1".into());
    r.port = Some(tcp5424.local_addr().unwrap().port());
    r.protocol = Some(Protocol::Tcp);
    r.framing = Some(Framing::Octet);
    r.format = Some(Format::Rfc5424);
    let d = Dispatcher::start(&immediate(vec![u, t, r])).unwrap();
    let alert = sigma_alert();
    d.submit(alert.clone());
    let mut second = sigma_alert();
    second.source_ip = Some("10.20.30.41".into());
    d.submit(second);

    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(Duration::from_secs(10), udp.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let line = std::str::from_utf8(&buf[..n]).unwrap();
    // local0 (16) * 8 + err (3) for high.
    // The alert's own zone is kept.
    assert!(
        line.starts_with("<131>1 2025-03-01T09:15:02.123+08:00 "),
        "{line}"
    );
    let ev = parse_cef(line);
    check_cef(&ev, &alert);

    let (conn, _) = tokio::time::timeout(Duration::from_secs(10), tcp.accept())
        .await
        .unwrap()
        .unwrap();
    let mut lines = BufReader::new(conn).lines();
    let l1 = lines.next_line().await.unwrap().unwrap();
    assert!(l1.starts_with("<163>1 "), "local4 * 8 + 3: {l1}");
    check_cef(&parse_cef(&l1), &alert);
    // The second alert on the same connection.
    let l2 = lines.next_line().await.unwrap().unwrap();
    assert_eq!(parse_cef(&l2).get_str("source.ip"), Some("10.20.30.41"));

    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(10), tcp5424.accept())
        .await
        .unwrap()
        .unwrap();
    let msg = support::read_octet_frame(&mut conn).await;
    assert!(msg.contains("[taishi@32473 type=\"alert\" rule_id=\"502b42de-4306-40b4-9596-6f590c81f073\" level=\"high\""), "{msg}");
    let json_start = msg.find("] {").unwrap() + 2;
    let j: J = serde_json::from_str(&msg[json_start..]).unwrap();
    assert_eq!(j["rule_title"], "Whoami Execution");
    assert!(
        j["alerts"][0].get("event").is_none(),
        "events are left out of syslog lines"
    );
    wait_for(&d, |m| m.outputs.iter().all(|o| o.sent == 2)).await;
}
