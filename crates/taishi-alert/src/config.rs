//! The `[alerts]` section of `taishi.toml`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::Level;

/// The `[alerts]` section.
///
/// ```toml
/// [alerts]
/// group_window = "30s"      # same rule (+ group_by) within the window → one notification with a count
/// suppress = "10m"          # after a notification, the same rule+key is held back this long, then "N more"
/// group_by = ["host"]       # host | source_ip | destination_ip | kind | a summary/event field; [] = per rule
/// console_url = "https://taishi.example.cn"   # each notification links <console_url>/alerts/<id>
///
/// [[alerts.outputs]]
/// type = "webhook"
/// url = "https://soar.example/hooks/taishi"
/// headers = { Authorization = "Bearer …" }
/// secret = "…"              # optional: X-Taishi-Signature HMAC header
/// min_level = "medium"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Alerts of one rule (and group key) arriving within this window of the
    /// first are sent as one notification with their count; `0s` sends
    /// each alert at once.
    #[serde(with = "duration")]
    pub group_window: Duration,
    /// After a notification for a rule and key, further alerts for it are
    /// held back this long and counted; when the window ends with some held
    /// back, one "N more suppressed" notification goes out (and the window
    /// starts again). `0s` disables suppression.
    #[serde(with = "duration")]
    pub suppress: Duration,
    /// What besides the rule separates groups.
    pub group_by: Vec<String>,
    /// Alerts kept in full in one grouped notification (the rest are
    /// counted).
    pub max_alerts_per_notification: usize,
    /// Distinct rule+key groups tracked at once; alerts of further keys are
    /// grouped per rule only, so a scan over many addresses cannot exhaust
    /// memory.
    pub max_groups: usize,
    /// Alerts waiting for the grouping stage; more are dropped and counted.
    pub queue_size: usize,
    /// Notifications waiting per output.
    pub output_queue_size: usize,
    /// Notify alerts raised by hunts over stored data too.
    pub notify_retrospective: bool,
    /// At shutdown, how long the outputs may take to deliver what they
    /// hold; what is left is kept on disk and sent after the next start.
    #[serde(with = "duration")]
    pub drain: Duration,
    /// Notifications kept on disk over a restart; more are dropped and
    /// counted (`taishi_alert_outbox_dropped_total`).
    pub outbox_max: usize,
    /// The console's address as the people notified reach it
    /// (`https://taishi.example.cn`); each notification carries a link to
    /// the alert's page, `<console_url>/alerts/<id>`. Unset, the service
    /// derives it from `[http] listen` unless that is 0.0.0.0 / [::] (no
    /// address a receiver could use), and notifications carry no link.
    pub console_url: Option<String>,
    pub outputs: Vec<OutputConfig>,
    /// Where outputs may connect: the service's `[egress]` section, set by
    /// the service rather than read from `[alerts]` so there is one policy
    /// for every outgoing fetch. The default refuses private targets.
    #[serde(skip)]
    pub egress: taishi_egress::EgressPolicy,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            group_window: Duration::from_secs(30),
            suppress: Duration::from_secs(600),
            group_by: Vec::new(),
            max_alerts_per_notification: 10,
            max_groups: 10_000,
            queue_size: 10_000,
            output_queue_size: 1_000,
            notify_retrospective: false,
            drain: Duration::from_secs(10),
            outbox_max: 10_000,
            console_url: None,
            outputs: Vec::new(),
            egress: taishi_egress::EgressPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputType {
    Webhook,
    Dingtalk,
    Wecom,
    Feishu,
    Smtp,
    Syslog,
}

impl OutputType {
    pub fn name(self) -> &'static str {
        match self {
            OutputType::Webhook => "webhook",
            OutputType::Dingtalk => "dingtalk",
            OutputType::Wecom => "wecom",
            OutputType::Feishu => "feishu",
            OutputType::Smtp => "smtp",
            OutputType::Syslog => "syslog",
        }
    }

    fn is_http(self) -> bool {
        matches!(
            self,
            OutputType::Webhook | OutputType::Dingtalk | OutputType::Wecom | OutputType::Feishu
        )
    }
}

impl fmt::Display for OutputType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an SMTP connection is secured.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (port 25 inside a trusted network).
    None,
    /// STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Udp,
    Tcp,
    // TCP inside TLS (RFC 5425, port 6514), octet-counted by default (a
    // plain comment: a documented variant would split the schema's enum).
    Tls,
}

/// Message layout: `cef`/`rfc5424` for syslog, `card`/`text` for Feishu.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Cef,
    Rfc5424,
    Card,
    Text,
}

/// TCP syslog framing: one message per line (what most SIEM receivers
/// take) or RFC 6587 octet counting.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    #[default]
    Newline,
    Octet,
}

/// The language of chat and e-mail notifications: Chinese unless an
/// output says `language = "en"` (the people who read them are, first).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
pub enum Language {
    #[serde(rename = "en")]
    En,
    #[default]
    #[serde(rename = "zh")]
    Zh,
}

/// One `[[alerts.outputs]]` entry. One flat table for every type keeps the
/// TOML plain and `deny_unknown_fields` working; `validate` names settings
/// given to a type they do not apply to.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    #[serde(rename = "type")]
    pub kind: OutputType,
    /// Unique name (metrics, the settings page, `test_output`); defaults to
    /// the type.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Notifications below this level are not sent here.
    #[serde(default)]
    pub min_level: Level,
    /// Send every alert here as it comes, without grouping or suppression
    /// (for forwarding to another SIEM).
    #[serde(default)]
    pub bypass_grouping: bool,
    /// Further attempts after a failed delivery, with doubling backoff.
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_backoff", with = "duration")]
    #[schemars(with = "String")]
    pub retry_backoff: Duration,
    /// Per attempt.
    #[serde(default = "default_timeout", with = "duration")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    #[serde(default)]
    pub language: Language,

    // HTTP outputs.
    #[serde(default)]
    pub url: Option<String>,
    /// DingTalk/Feishu signing secret; for `webhook`, the key of the
    /// `X-Taishi-Signature` header.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `http://proxy:3128` for networks that reach the internet through one.
    #[serde(default)]
    pub proxy: Option<String>,
    /// Extra CA certificate (PEM) trusted for HTTPS/SMTP TLS.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Skip certificate checks (test installations only).
    #[serde(default)]
    pub tls_insecure: bool,
    /// DingTalk: mobiles to @-mention.
    #[serde(default)]
    pub at_mobiles: Vec<String>,
    /// DingTalk: @all.
    #[serde(default)]
    pub at_all: bool,
    #[serde(default)]
    pub format: Option<Format>,

    // SMTP and syslog.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: Option<SmtpTls>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub protocol: Option<Protocol>,
    #[serde(default)]
    pub framing: Option<Framing>,
    /// Syslog facility name (`local0`…`local7`, `auth`, `authpriv`, `user`…).
    #[serde(default)]
    pub facility: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_retries() -> u32 {
    3
}
fn default_backoff() -> Duration {
    Duration::from_secs(2)
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl OutputConfig {
    /// A configuration of the given type with every default.
    pub fn new(kind: OutputType) -> OutputConfig {
        OutputConfig {
            kind,
            name: None,
            enabled: true,
            min_level: Level::Informational,
            bypass_grouping: false,
            retries: default_retries(),
            retry_backoff: default_backoff(),
            timeout: default_timeout(),
            language: Language::default(),
            url: None,
            secret: None,
            headers: BTreeMap::new(),
            proxy: None,
            ca_file: None,
            tls_insecure: false,
            at_mobiles: Vec::new(),
            at_all: false,
            format: None,
            host: None,
            port: None,
            tls: None,
            username: None,
            password: None,
            from: None,
            to: Vec::new(),
            protocol: None,
            framing: None,
            facility: None,
        }
    }

    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.kind.name().to_string())
    }

    pub fn smtp_tls(&self) -> SmtpTls {
        self.tls.unwrap_or_default()
    }

    pub fn smtp_port(&self) -> u16 {
        self.port.unwrap_or(match self.smtp_tls() {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }

    /// 514, or 6514 for TLS (RFC 5425).
    pub fn syslog_port(&self) -> u16 {
        self.port.unwrap_or(match self.protocol {
            Some(Protocol::Tls) => 6514,
            _ => 514,
        })
    }

    /// Newline, except TLS where RFC 5425 asks for octet counting.
    pub fn syslog_framing(&self) -> Framing {
        self.framing.unwrap_or(match self.protocol {
            Some(Protocol::Tls) => Framing::Octet,
            _ => Framing::Newline,
        })
    }

    pub fn syslog_format(&self) -> Format {
        self.format.unwrap_or(Format::Cef)
    }

    pub fn feishu_format(&self) -> Format {
        self.format.unwrap_or(Format::Card)
    }

    /// The facility code (RFC 5424 §6.2.1); local0 when unset.
    pub fn facility_code(&self) -> Option<u8> {
        let f = self.facility.as_deref().unwrap_or("local0");
        let code = match f.to_ascii_lowercase().as_str() {
            "kern" => 0,
            "user" => 1,
            "mail" => 2,
            "daemon" => 3,
            "auth" => 4,
            "syslog" => 5,
            "lpr" => 6,
            "news" => 7,
            "uucp" => 8,
            "cron" => 9,
            "authpriv" => 10,
            "ftp" => 11,
            "security" => 13,
            "local0" => 16,
            "local1" => 17,
            "local2" => 18,
            "local3" => 19,
            "local4" => 20,
            "local5" => 21,
            "local6" => 22,
            "local7" => 23,
            _ => return None,
        };
        Some(code)
    }

    /// Problems with this output, each starting with `alerts.outputs.<name>`.
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        let at = format!("alerts.outputs.{}", self.name());
        let mut bad = |msg: String| out.push(format!("{at}: {msg}"));
        let t = self.kind;

        // Settings that do not apply to this type are mistakes, not noise:
        // a `to` on a webhook means the operator meant something else.
        let given: [(&str, bool, bool); 18] = [
            ("url", self.url.is_some(), t.is_http()),
            (
                "secret",
                self.secret.is_some(),
                matches!(
                    t,
                    OutputType::Webhook | OutputType::Dingtalk | OutputType::Feishu
                ),
            ),
            (
                "headers",
                !self.headers.is_empty(),
                t == OutputType::Webhook,
            ),
            ("proxy", self.proxy.is_some(), t.is_http()),
            (
                "ca_file",
                self.ca_file.is_some(),
                t.is_http() || matches!(t, OutputType::Smtp | OutputType::Syslog),
            ),
            (
                "tls_insecure",
                self.tls_insecure,
                t.is_http() || t == OutputType::Smtp,
            ),
            (
                "at_mobiles",
                !self.at_mobiles.is_empty(),
                t == OutputType::Dingtalk,
            ),
            ("at_all", self.at_all, t == OutputType::Dingtalk),
            (
                "format",
                self.format.is_some(),
                matches!(t, OutputType::Feishu | OutputType::Syslog),
            ),
            (
                "host",
                self.host.is_some(),
                matches!(t, OutputType::Smtp | OutputType::Syslog),
            ),
            (
                "port",
                self.port.is_some(),
                matches!(t, OutputType::Smtp | OutputType::Syslog),
            ),
            ("tls", self.tls.is_some(), t == OutputType::Smtp),
            ("username", self.username.is_some(), t == OutputType::Smtp),
            ("password", self.password.is_some(), t == OutputType::Smtp),
            ("from", self.from.is_some(), t == OutputType::Smtp),
            ("to", !self.to.is_empty(), t == OutputType::Smtp),
            ("protocol", self.protocol.is_some(), t == OutputType::Syslog),
            (
                "facility",
                self.facility.is_some() || self.framing.is_some(),
                t == OutputType::Syslog,
            ),
        ];
        for (key, set, applies) in given {
            if set && !applies {
                bad(format!("`{key}` is not a setting of a {t} output"));
            }
        }
        if self.timeout.is_zero() {
            bad("timeout must be more than 0s".into());
        }

        if t.is_http() {
            match self.url.as_deref() {
                None => bad(format!("a {t} output needs `url`")),
                Some(u) => match reqwest::Url::parse(u) {
                    Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                        if parsed.host_str().is_none_or(str::is_empty) {
                            bad(format!("url `{u}` has no host"));
                        }
                        let q =
                            |k: &str| parsed.query_pairs().any(|(n, v)| n == k && !v.is_empty());
                        if t == OutputType::Dingtalk && !q("access_token") {
                            bad(format!("url `{u}` has no access_token (copy the robot's whole webhook address)"));
                        }
                        if t == OutputType::Wecom && !q("key") {
                            bad(format!(
                                "url `{u}` has no key (copy the robot's whole webhook address)"
                            ));
                        }
                    }
                    Ok(parsed) => bad(format!(
                        "url `{u}`: scheme `{}` is not http or https",
                        parsed.scheme()
                    )),
                    Err(e) => bad(format!("url `{u}` is not a URL: {e}")),
                },
            }
            if let Some(p) = &self.proxy {
                if reqwest::Proxy::all(p.as_str()).is_err() {
                    bad(format!("proxy `{p}` is not a proxy URL"));
                }
            }
            for (k, v) in &self.headers {
                if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                    bad(format!("header name `{k}` is not valid"));
                }
                if reqwest::header::HeaderValue::from_str(v).is_err() {
                    bad(format!("header `{k}` has a value that cannot be sent"));
                }
            }
        }
        if let Some(ca) = &self.ca_file {
            if !ca.is_file() {
                bad(format!("ca_file {} is not a readable file", ca.display()));
            }
        }
        if matches!(self.secret.as_deref(), Some("")) {
            bad("secret is empty".into());
        }
        match t {
            OutputType::Feishu if !matches!(self.feishu_format(), Format::Card | Format::Text) => {
                bad("format must be `card` or `text` for feishu".into());
            }
            OutputType::Smtp => {
                if self.host.as_deref().is_none_or(str::is_empty) {
                    bad("an smtp output needs `host`".into());
                }
                match self.from.as_deref() {
                    None => bad("an smtp output needs `from`".into()),
                    Some(f) => {
                        if f.parse::<lettre::message::Mailbox>().is_err() {
                            bad(format!("from `{f}` is not an e-mail address"));
                        }
                    }
                }
                if self.to.is_empty() {
                    bad("an smtp output needs `to` (one or more addresses)".into());
                }
                for a in &self.to {
                    if a.parse::<lettre::message::Mailbox>().is_err() {
                        bad(format!("to `{a}` is not an e-mail address"));
                    }
                }
                if self.username.is_some() != self.password.is_some() {
                    bad("username and password go together".into());
                }
                if self.port == Some(0) {
                    bad("port 0".into());
                }
            }
            OutputType::Syslog => {
                if self.host.as_deref().is_none_or(str::is_empty) {
                    bad("a syslog output needs `host`".into());
                }
                if !matches!(self.syslog_format(), Format::Cef | Format::Rfc5424) {
                    bad("format must be `cef` or `rfc5424` for syslog".into());
                }
                if self.facility_code().is_none() {
                    bad(format!(
                        "facility `{}` is not a syslog facility (local0…local7, user, auth, authpriv, daemon…)",
                        self.facility.as_deref().unwrap_or_default()
                    ));
                }
                if self.port == Some(0) {
                    bad("port 0".into());
                }
                if self.ca_file.is_some() && self.protocol != Some(Protocol::Tls) {
                    bad("ca_file applies to protocol = \"tls\" only".into());
                }
                if self.framing.is_some()
                    && !matches!(self.protocol, Some(Protocol::Tcp | Protocol::Tls))
                {
                    bad("framing applies to protocol = \"tcp\" or \"tls\" only".into());
                }
            }
            _ => {}
        }
        out
    }
}

impl AlertsConfig {
    /// The link to an alert's page in the console, when the console's
    /// address is known (the path is the console's route of AlertPage).
    pub fn alert_link(&self, alert_id: &str) -> Option<String> {
        alert_link(self.console_url.as_deref(), alert_id)
    }

    /// Every problem, each naming its key; empty when the section is usable.
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.queue_size == 0 {
            out.push("alerts.queue_size must be at least 1".into());
        }
        if self.output_queue_size == 0 {
            out.push("alerts.output_queue_size must be at least 1".into());
        }
        if self.drain > Duration::from_secs(600) {
            out.push(
                "alerts.drain: at most 10m (a stop must not wait longer for slow receivers)".into(),
            );
        }
        if self.max_groups == 0 {
            out.push("alerts.max_groups must be at least 1".into());
        }
        for k in &self.group_by {
            if k.trim().is_empty() {
                out.push("alerts.group_by has an empty name".into());
            }
        }
        if let Some(u) = &self.console_url {
            match reqwest::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") && p.host_str().is_some() => {
                    if p.query().is_some() || p.fragment().is_some() {
                        out.push(format!(
                            "alerts.console_url `{u}`: no query or fragment (the alert's path is appended)"
                        ));
                    }
                }
                _ => out.push(format!(
                    "alerts.console_url `{u}` is not an http(s) address such as https://taishi.example.cn"
                )),
            }
        }
        let mut names = HashSet::new();
        for o in &self.outputs {
            let n = o.name();
            if !names.insert(n.clone()) {
                out.push(format!(
                    "alerts.outputs: two outputs are named `{n}` (give each a distinct `name`)"
                ));
            }
            out.extend(o.validate());
        }
        out
    }
}

/// `<console>/alerts/<id>`; a trailing `/` of the console address is not
/// doubled. The service's ids are hex, but an alert handed over through
/// the API may carry any id: it is escaped as one path segment.
pub fn alert_link(console: Option<&str>, alert_id: &str) -> Option<String> {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    const SEGMENT: &percent_encoding::AsciiSet =
        &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
    let c = console?.trim_end_matches('/');
    if c.is_empty() || alert_id.is_empty() {
        return None;
    }
    Some(format!(
        "{c}/alerts/{}",
        utf8_percent_encode(alert_id, SEGMENT)
    ))
}

/// Durations written as `30s`, `5m`, `1h`, `1d`, `250ms`, combinations
/// (`1h30m`), or a bare number of seconds.
pub mod duration {
    use super::*;

    /// Text that is not a duration.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum DurationError {
        #[error("empty duration")]
        Empty,
        #[error("`{0}` is not a duration (30s, 5m, 1h, 1d, 250ms)")]
        NotADuration(String),
        #[error("`{0}`: number too large")]
        TooLarge(String),
        #[error("`{text}`: unknown unit `{unit}` (ms, s, m, h, d)")]
        UnknownUnit { text: String, unit: String },
    }

    pub fn parse(s: &str) -> Result<Duration, DurationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        if let Ok(n) = s.parse::<u64>() {
            return Ok(Duration::from_secs(n));
        }
        let mut total = Duration::ZERO;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(DurationError::NotADuration(s.to_string()));
            }
            let n: u64 = rest[..digits]
                .parse()
                .map_err(|_| DurationError::TooLarge(s.to_string()))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let d = match unit {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n.saturating_mul(60)),
                "h" => Duration::from_secs(n.saturating_mul(3600)),
                "d" => Duration::from_secs(n.saturating_mul(86_400)),
                _ => {
                    return Err(DurationError::UnknownUnit {
                        text: s.to_string(),
                        unit: unit.to_string(),
                    })
                }
            };
            total = total.saturating_add(d);
        }
        Ok(total)
    }

    pub fn format(d: Duration) -> String {
        let ms = d.as_millis();
        if !ms.is_multiple_of(1000) {
            format!("{ms}ms")
        } else {
            let s = d.as_secs();
            if s != 0 && s.is_multiple_of(3600) {
                format!("{}h", s / 3600)
            } else if s != 0 && s.is_multiple_of(60) {
                format!("{}m", s / 60)
            } else {
                format!("{s}s")
            }
        }
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(Duration::from_secs(n)),
            Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration::parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(duration::parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            duration::parse("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(duration::parse("90").unwrap(), Duration::from_secs(90));
        assert!(duration::parse("5 minutes").is_err());
        assert!(duration::parse("m5").is_err());
        for d in ["30s", "10m", "2h", "250ms", "0s"] {
            assert_eq!(duration::format(duration::parse(d).unwrap()), d);
        }
    }
}
