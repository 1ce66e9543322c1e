//! What outputs send: one alert, a group of alerts of one rule, a
//! suppression summary, or a test message; and how each is written.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use crate::alert::{cut, json_text, Alert, Level};
use crate::config::Language;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    /// One alert.
    Alert,
    /// Several alerts of one rule (and key) within the group window.
    Group,
    /// Alerts held back by the suppression window, counted.
    Suppressed,
    /// A test message from the settings page.
    Test,
    /// A reporting deadline of an incident is near or has passed (the
    /// reporting clock of the 2025 measures); `id` is the incident and the
    /// notice, so a receiver drops repeats.
    Deadline,
}

/// One message to the outputs. Its JSON form is what the generic webhook
/// posts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// A key for the receiver to drop repeats by: a notification kept on
    /// disk over a restart is sent again, and one whose delivery was cut
    /// off by the drain deadline may have arrived already (at least once).
    /// The same content gives the same key.
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: NotificationKind,
    /// The console's page of the (first) alert, `<console_url>/alerts/<id>`;
    /// null when the console's address is not known (`alerts.console_url`)
    /// and in test messages.
    #[serde(default)]
    pub url: Option<String>,
    pub rule_id: String,
    pub rule_title: String,
    /// The title in zh-CN, where the alerts have one: Chinese layouts show
    /// it, with the English title beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_title_zh: Option<String>,
    /// The highest level among the alerts.
    pub level: Level,
    /// The group-by values that set this group apart (empty per rule).
    pub group: BTreeMap<String, String>,
    /// How many alerts it stands for (suppressed: how many were held back).
    pub count: u64,
    pub first: DateTime<FixedOffset>,
    pub last: DateTime<FixedOffset>,
    /// Distinct hosts and addresses among the alerts (at most 20 each).
    pub hosts: Vec<String>,
    pub source_ips: Vec<String>,
    pub destination_ips: Vec<String>,
    /// Up to `max_alerts_per_notification` alerts in full: the first ones
    /// of a group, the latest ones of a suppression summary.
    pub alerts: Vec<Alert>,
}

const MAX_DISTINCT: usize = 20;

impl Notification {
    /// A notification for alerts of one rule (non-empty).
    pub fn from_alerts(
        kind: NotificationKind,
        group: BTreeMap<String, String>,
        count: u64,
        alerts: Vec<Alert>,
        first: DateTime<FixedOffset>,
        last: DateTime<FixedOffset>,
        level: Level,
    ) -> Notification {
        let mut n = Notification {
            id: String::new(),
            kind,
            url: None,
            rule_id: String::new(),
            rule_title: String::new(),
            rule_title_zh: None,
            level,
            group,
            count,
            first,
            last,
            hosts: Vec::new(),
            source_ips: Vec::new(),
            destination_ips: Vec::new(),
            alerts: Vec::new(),
        };
        if let Some(a) = alerts.first() {
            n.rule_id = a.rule_id.clone();
            n.rule_title = a.rule_title.clone();
            n.rule_title_zh = a.rule_title_zh.clone();
        }
        for a in &alerts {
            n.note(a);
        }
        n.alerts = alerts;
        n
    }

    /// Sets the dedup key from the content (kind, rule, group, times,
    /// count and the alerts), unless it has one.
    pub fn assign_id(&mut self) {
        if !self.id.is_empty() {
            return;
        }
        let body = serde_json::to_vec(&*self).unwrap_or_default();
        let d = ring::digest::digest(&ring::digest::SHA256, &body);
        self.id = d.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    }

    /// Links the notification to its first alert's page in the console
    /// (before `assign_id`, so the key covers the link).
    pub fn link(&mut self, console: Option<&str>) {
        self.url = self
            .alerts
            .first()
            .and_then(|a| crate::config::alert_link(console, &a.id));
    }

    /// The link line of the chat and mail layouts.
    pub(crate) fn link_label(lang: Language) -> &'static str {
        match lang {
            Language::En => "Open in the console",
            Language::Zh => "在控制台中查看",
        }
    }

    pub fn single(alert: Alert) -> Notification {
        let ts = alert.timestamp;
        let level = alert.level;
        Notification::from_alerts(
            NotificationKind::Alert,
            BTreeMap::new(),
            1,
            vec![alert],
            ts,
            ts,
            level,
        )
    }

    /// Adds an alert's hosts and addresses to the distinct lists.
    pub(crate) fn note(&mut self, a: &Alert) {
        for (list, v) in [
            (&mut self.hosts, &a.host),
            (&mut self.source_ips, &a.source_ip),
            (&mut self.destination_ips, &a.destination_ip),
        ] {
            if let Some(v) = v {
                if list.len() < MAX_DISTINCT && !list.contains(v) {
                    list.push(v.clone());
                }
            }
        }
    }

    /// The message an output sends when asked to test it.
    pub fn test() -> Notification {
        let now = Utc::now().fixed_offset();
        let mut a = Alert::new(
            crate::alert::AlertKind::Sigma,
            "taishi-test",
            "Taishi test notification",
            Level::Informational,
            now,
        );
        a.host = Some(crate::output::local_hostname().to_string());
        a.summary.insert(
            "message".into(),
            J::String("This is a test message from Taishi. / 这是态势平台的测试消息。".into()),
        );
        let mut n = Notification::single(a);
        n.kind = NotificationKind::Test;
        n
    }

    /// The rule's title in `lang`: the zh-CN one where there is one.
    pub fn title_in(&self, lang: Language) -> &str {
        match (&self.rule_title_zh, lang) {
            (Some(t), Language::Zh) => t,
            _ => &self.rule_title,
        }
    }

    /// The one-line title: `[HIGH] Rule title`, with the count for groups.
    pub fn title(&self, lang: Language) -> String {
        let lv = match lang {
            Language::En => self.level.name().to_ascii_uppercase(),
            Language::Zh => self.level.name_zh().to_string(),
        };
        let mut t = format!("[{lv}] {}", self.title_in(lang));
        match (self.kind, lang) {
            (NotificationKind::Group, Language::En) => {
                let _ = write!(t, " ({} alerts)", self.count);
            }
            (NotificationKind::Group, Language::Zh) => {
                let _ = write!(t, "（{} 条告警）", self.count);
            }
            (NotificationKind::Suppressed, Language::En) => {
                let _ = write!(t, ": {} more suppressed", self.count);
            }
            (NotificationKind::Suppressed, Language::Zh) => {
                let _ = write!(t, "：另有 {} 条已抑制", self.count);
            }
            (NotificationKind::Test, Language::Zh) => t = "态势平台测试消息".into(),
            (NotificationKind::Test, Language::En) => t = "Taishi test notification".into(),
            (NotificationKind::Alert, _) | (NotificationKind::Deadline, _) => {}
        }
        t
    }

    /// Label/value lines shared by the chat, mail and syslog layouts.
    pub fn lines(&self, lang: Language) -> Vec<(String, String)> {
        let zh = lang == Language::Zh;
        let l = |en: &str, cn: &str| if zh { cn.to_string() } else { en.to_string() };
        let mut out: Vec<(String, String)> = Vec::new();
        let rule = match (&self.rule_title_zh, zh) {
            (Some(t), true) => format!("{t}（{}）", self.rule_title),
            _ => self.rule_title.clone(),
        };
        out.push((l("Rule", "规则"), rule));
        if !self.rule_id.is_empty() {
            out.push((l("Rule id", "规则 ID"), self.rule_id.clone()));
        }
        let level = if zh {
            format!("{} ({})", self.level.name_zh(), self.level.name())
        } else {
            self.level.name().to_string()
        };
        out.push((l("Level", "级别"), level));
        match self.kind {
            NotificationKind::Alert | NotificationKind::Test | NotificationKind::Deadline => {
                out.push((l("Time", "时间"), iso(&self.first)));
            }
            NotificationKind::Group | NotificationKind::Suppressed => {
                let what = if self.kind == NotificationKind::Group {
                    l("Alerts", "告警数")
                } else {
                    l("Suppressed", "已抑制")
                };
                out.push((what, self.count.to_string()));
                out.push((l("First", "首次"), iso(&self.first)));
                out.push((l("Last", "最近"), iso(&self.last)));
            }
        }
        for (k, v) in &self.group {
            out.push((k.clone(), v.clone()));
        }
        let join = |v: &[String]| {
            let mut s = v.join(", ");
            if v.len() >= MAX_DISTINCT {
                s.push_str(", …");
            }
            s
        };
        if !self.hosts.is_empty() {
            out.push((l("Host", "主机"), join(&self.hosts)));
        }
        if !self.source_ips.is_empty() {
            out.push((l("Source", "源地址"), join(&self.source_ips)));
        }
        if !self.destination_ips.is_empty() {
            out.push((l("Destination", "目的地址"), join(&self.destination_ips)));
        }
        if let Some(a) = self.alerts.first() {
            if !a.tags.is_empty() {
                out.push((l("Tags", "标签"), a.tags.join(", ")));
            }
            for (k, v) in &a.summary {
                out.push((k.clone(), cut(&json_text(v), 300)));
            }
            if a.retrospective {
                out.push((l("Retrospective", "回溯"), l("yes", "是")));
            }
            out.push((l("Alert id", "告警 ID"), a.id.clone()));
        }
        out
    }

    /// Markdown for DingTalk, WeCom and Feishu.
    pub fn markdown(&self, lang: Language) -> String {
        let mut s = format!("### {}\n\n", md_escape(&self.title(lang)));
        for (k, v) in self.lines(lang) {
            let _ = writeln!(s, "- **{}**: {}", md_escape(&k), md_escape(&v));
        }
        if let Some(u) = &self.url {
            let _ = write!(s, "\n[{}]({u})\n", Self::link_label(lang));
        }
        s
    }

    /// Plain text for e-mail and Feishu text messages.
    pub fn text(&self, lang: Language) -> String {
        let mut s = format!("{}\n\n", self.title(lang));
        for (k, v) in self.lines(lang) {
            let _ = writeln!(s, "{k}: {v}");
        }
        if let Some(u) = &self.url {
            let _ = writeln!(s, "\n{}: {u}", Self::link_label(lang));
        }
        if self.alerts.len() > 1 {
            let _ = writeln!(
                s,
                "\n{}",
                if lang == Language::Zh {
                    "告警列表："
                } else {
                    "Alerts:"
                }
            );
            for a in &self.alerts {
                let _ = writeln!(
                    s,
                    "- {} {} host={} src={} dst={} id={}",
                    iso(&a.timestamp),
                    a.level,
                    a.host.as_deref().unwrap_or("-"),
                    a.source_ip.as_deref().unwrap_or("-"),
                    a.destination_ip.as_deref().unwrap_or("-"),
                    a.id
                );
            }
        }
        s
    }
}

pub(crate) fn iso(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Chat markdown dialects differ; escaping the characters that start
/// emphasis or links keeps a command line from turning into formatting.
fn md_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            _ => o.push(c),
        }
    }
    o
}

/// CEF (`CEF:0|Taishi|Taishi|version|rule id|title|severity|ext`), the
/// alert's fields in ArcSight's keys: `rt`, `src`, `dst`, `dhost`, `cnt`,
/// `cat` (alert kind), `externalId` (alert id), `cs1` tags, `cs2` group
/// type, `msg` the summary.
pub fn cef(n: &Notification) -> String {
    use std::fmt::Write;
    let a = n.alerts.first();
    let h = |s: &str| cef_header(s);
    let mut line = format!(
        "CEF:0|Taishi|Taishi|{}|{}|{}|{}|",
        env!("CARGO_PKG_VERSION"),
        h(if n.rule_id.is_empty() {
            "-"
        } else {
            &n.rule_id
        }),
        h(&n.rule_title),
        n.level.cef_severity()
    );
    let mut ext: Vec<(&str, String)> = vec![("rt", n.last.timestamp_millis().to_string())];
    if n.count > 1 || n.kind != NotificationKind::Alert {
        ext.push(("start", n.first.timestamp_millis().to_string()));
        ext.push(("end", n.last.timestamp_millis().to_string()));
    }
    ext.push(("cnt", n.count.to_string()));
    if let Some(ip) = n.source_ips.first() {
        ext.push(("src", ip.clone()));
    }
    if let Some(ip) = n.destination_ips.first() {
        ext.push(("dst", ip.clone()));
    }
    if let Some(host) = n.hosts.first() {
        ext.push(("dhost", host.clone()));
    }
    if let Some(a) = a {
        ext.push(("cat", a.kind.name().to_string()));
        ext.push(("externalId", a.id.clone()));
        if !a.tags.is_empty() {
            ext.push(("cs1Label", "tags".into()));
            ext.push(("cs1", a.tags.join(",")));
        }
        if let Some(u) = a
            .summary
            .get("user.name")
            .or_else(|| a.summary.get("TargetUserName"))
        {
            ext.push(("duser", json_text(u)));
        }
    }
    ext.push(("cs2Label", "notification".into()));
    ext.push((
        "cs2",
        serde_json::to_value(n.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    ));
    // ArcSight's key for a URL: SIEMs show it as a link.
    if let Some(u) = &n.url {
        ext.push(("request", u.clone()));
    }
    let msg = summary_line(n);
    if !msg.is_empty() {
        ext.push(("msg", msg));
    }
    for (i, (k, v)) in ext.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let _ = write!(line, "{k}={}", cef_value(v));
    }
    line
}

/// `k=v` pairs of the first alert's summary, for `msg` and RFC 5424.
fn summary_line(n: &Notification) -> String {
    let Some(a) = n.alerts.first() else {
        return String::new();
    };
    let mut s = String::new();
    for (k, v) in &a.summary {
        if !s.is_empty() {
            s.push_str("; ");
        }
        let _ = write!(s, "{k}={}", cut(&json_text(v), 200));
    }
    s
}

fn cef_header(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '|' => o.push_str("\\|"),
            '\n' | '\r' => o.push(' '),
            _ => o.push(c),
        }
    }
    o
}

fn cef_value(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '=' => o.push_str("\\="),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            _ => o.push(c),
        }
    }
    o
}

/// The syslog line: an RFC 5424 header, then the CEF text or (`rfc5424`)
/// structured data with the key fields and the notification as JSON.
pub fn syslog_line(n: &Notification, facility: u8, cef_format: bool, hostname: &str) -> String {
    let pri = u16::from(facility) * 8 + u16::from(n.level.syslog_severity());
    let ts = n.last.to_rfc3339_opts(SecondsFormat::Millis, true);
    let host = if hostname.is_empty() { "-" } else { hostname };
    if cef_format {
        return format!("<{pri}>1 {ts} {host} taishi - alert - {}", cef(n));
    }
    let mut sd = String::from("[taishi@32473");
    let mut param = |k: &str, v: &str| {
        let _ = write!(sd, " {k}=\"{}\"", sd_escape(v));
    };
    param(
        "type",
        &json_text(&serde_json::to_value(n.kind).unwrap_or(J::Null)),
    );
    param("rule_id", &n.rule_id);
    param("level", n.level.name());
    param("count", &n.count.to_string());
    if let Some(h) = n.hosts.first() {
        param("host", h);
    }
    if let Some(ip) = n.source_ips.first() {
        param("src", ip);
    }
    if let Some(ip) = n.destination_ips.first() {
        param("dst", ip);
    }
    if let Some(u) = &n.url {
        param("url", u);
    }
    sd.push(']');
    let body = serde_json::to_string(&compact(n)).unwrap_or_default();
    format!("<{pri}>1 {ts} {host} taishi - alert {sd} {body}")
}

/// The notification without the full matching events, for line-oriented
/// outputs where a whole event would exceed what receivers accept.
fn compact(n: &Notification) -> J {
    let mut j = serde_json::to_value(n).unwrap_or(J::Null);
    if let Some(list) = j.get_mut("alerts").and_then(J::as_array_mut) {
        for a in list {
            if let Some(o) = a.as_object_mut() {
                o.remove("event");
                o.remove("events");
            }
        }
    }
    j
}

fn sd_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' | ']' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            _ => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod zh_title_tests {
    use super::*;
    use crate::alert::AlertKind;

    /// A Chinese notification leads with the rule's zh-CN title and keeps
    /// the English one beside it; an English one shows only the English.
    #[test]
    fn chinese_notifications_use_the_zh_cn_title_where_there_is_one() {
        let now = Utc::now().fixed_offset();
        let mut a = Alert::new(
            AlertKind::Sigma,
            "r1",
            "Curl.EXE Execution",
            Level::High,
            now,
        );
        a.rule_title_zh = Some("执行 Curl.EXE".into());
        let n = Notification::single(a);
        assert_eq!(n.title(Language::Zh), "[高危] 执行 Curl.EXE");
        assert_eq!(n.title(Language::En), "[HIGH] Curl.EXE Execution");
        let rule = |lang| n.lines(lang).into_iter().next().unwrap().1;
        assert_eq!(rule(Language::Zh), "执行 Curl.EXE（Curl.EXE Execution）");
        assert_eq!(rule(Language::En), "Curl.EXE Execution");
    }
}
