//! The `[alerts]` section as an operator writes it in taishi.toml.

use std::time::Duration;

use taishi_alert::{AlertsConfig, Format, Level, OutputType, Protocol, SmtpTls};

const EXAMPLE: &str = r#"
group_window = "1m"
suppress = "15m"
group_by = ["host"]

[[outputs]]
type = "webhook"
url = "https://soar.example/hooks/taishi"
headers = { Authorization = "Bearer abc" }
secret = "s3cret"
min_level = "medium"

[[outputs]]
type = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=0123"
secret = "SEC0123"
at_mobiles = ["13800000000"]
language = "zh"

[[outputs]]
type = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6"

[[outputs]]
type = "feishu"
url = "https://open.feishu.cn/open-apis/bot/v2/hook/abc"
secret = "fs"
format = "card"

[[outputs]]
type = "smtp"
host = "mail.corp.example"
tls = "starttls"
username = "taishi"
password = "pw"
from = "Taishi <taishi@corp.example>"
to = ["soc@corp.example"]
min_level = "high"
timeout = "20s"

[[outputs]]
name = "arcsight"
type = "syslog"
host = "siem.corp.example"
port = 1514
protocol = "tcp"
format = "cef"
bypass_grouping = true
"#;

#[test]
fn the_documented_example_parses_and_validates() {
    let c: AlertsConfig = toml::from_str(EXAMPLE).unwrap();
    assert_eq!(c.validate(), Vec::<String>::new());
    assert_eq!(
        (c.group_window, c.suppress),
        (Duration::from_secs(60), Duration::from_secs(900))
    );
    assert_eq!(c.outputs.len(), 6);
    assert_eq!(c.outputs[0].min_level, Level::Medium);
    assert_eq!(c.outputs[4].smtp_tls(), SmtpTls::Starttls);
    assert_eq!(c.outputs[4].smtp_port(), 587);
    assert_eq!(c.outputs[4].timeout, Duration::from_secs(20));
    let s = &c.outputs[5];
    assert_eq!(
        (s.kind, s.name(), s.protocol, s.syslog_format()),
        (
            OutputType::Syslog,
            "arcsight".to_string(),
            Some(Protocol::Tcp),
            Format::Cef
        )
    );
    // Defaults.
    let d: AlertsConfig = toml::from_str("").unwrap();
    assert_eq!(d, AlertsConfig::default());
    assert_eq!(
        (d.group_window, d.suppress),
        (Duration::from_secs(30), Duration::from_secs(600))
    );
}

#[test]
fn unknown_keys_and_bad_values_are_named() {
    let e = toml::from_str::<AlertsConfig>("group_windw = \"1m\"").unwrap_err();
    assert!(e.to_string().contains("group_windw"), "{e}");
    let e = toml::from_str::<AlertsConfig>("[[outputs]]\ntype = \"webhook\"\nurll = \"x\"")
        .unwrap_err();
    assert!(e.to_string().contains("urll"), "{e}");
    let e = toml::from_str::<AlertsConfig>("[[outputs]]\ntype = \"pager\"").unwrap_err();
    assert!(e.to_string().contains("pager"), "{e}");
    let e = toml::from_str::<AlertsConfig>("suppress = \"5 minutes\"").unwrap_err();
    assert!(e.to_string().contains("5 minutes"), "{e}");

    let c: AlertsConfig = toml::from_str(
        r#"
[[outputs]]
type = "webhook"
url = "not a url"
to = ["x@example.com"]

[[outputs]]
type = "smtp"
host = "mail"
from = "taishi"

[[outputs]]
type = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send"

[[outputs]]
type = "syslog"
host = "siem"
facility = "local9"
format = "card"

[[outputs]]
type = "syslog"
host = "siem2"
"#,
    )
    .unwrap();
    let p = c.validate();
    let has = |s: &str| assert!(p.iter().any(|m| m.contains(s)), "no `{s}` in {p:#?}");
    has("alerts.outputs.webhook: url `not a url` is not a URL");
    has("alerts.outputs.webhook: `to` is not a setting of a webhook output");
    has("alerts.outputs.smtp: from `taishi` is not an e-mail address");
    has("alerts.outputs.smtp: an smtp output needs `to`");
    has("alerts.outputs.dingtalk: url `https://oapi.dingtalk.com/robot/send` has no access_token");
    has("facility `local9`");
    has("format must be `cef` or `rfc5424` for syslog");
    has("two outputs are named `syslog`");
}

#[test]
fn console_links_and_syslog_over_tls() {
    let cfg: AlertsConfig = toml::from_str(
        r#"
console_url = "https://taishi.example.cn/"

[[outputs]]
type = "syslog"
host = "siem.example.cn"
protocol = "tls"
"#,
    )
    .unwrap();
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    let o = &cfg.outputs[0];
    // RFC 5425: port 6514, octet counting.
    assert_eq!(o.syslog_port(), 6514);
    assert_eq!(o.syslog_framing(), taishi_alert::Framing::Octet);
    // The trailing slash is not doubled; an id is one path segment.
    assert_eq!(
        cfg.alert_link("001954f45626b3f9a1c0e7d52").as_deref(),
        Some("https://taishi.example.cn/alerts/001954f45626b3f9a1c0e7d52")
    );
    assert_eq!(
        cfg.alert_link("a/b?c").as_deref(),
        Some("https://taishi.example.cn/alerts/a%2Fb%3Fc")
    );
    assert_eq!(AlertsConfig::default().alert_link("x"), None);

    for bad in ["taishi.example.cn", "ftp://x", "https://x/?a=1"] {
        let c = AlertsConfig {
            console_url: Some(bad.into()),
            ..AlertsConfig::default()
        };
        let p = c.validate();
        assert!(
            p.len() == 1 && p[0].contains("alerts.console_url"),
            "{bad}: {p:?}"
        );
    }
    // ca_file and framing are for TLS (and TCP) syslog only.
    let mut udp = o.clone();
    udp.protocol = None;
    udp.framing = Some(taishi_alert::Framing::Octet);
    assert!(udp.validate().iter().any(|p| p.contains("framing")));
}
