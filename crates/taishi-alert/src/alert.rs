//! The alert model: what detection hands to the outputs.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as J};
use taishi_event::Event;

/// Sigma's levels, ordered: `Level::High > Level::Low`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Informational,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Level::Informational => "信息",
            Level::Low => "低危",
            Level::Medium => "中危",
            Level::High => "高危",
            Level::Critical => "严重",
        }
    }

    /// CEF severity (0–10), spaced the way ArcSight reads it: Low 0–3,
    /// Medium 4–6, High 7–8, Very-High 9–10.
    pub fn cef_severity(self) -> u8 {
        match self {
            Level::Informational => 1,
            Level::Low => 3,
            Level::Medium => 5,
            Level::High => 8,
            Level::Critical => 10,
        }
    }

    /// Syslog severity (RFC 5424): critical → crit … informational → info.
    pub fn syslog_severity(self) -> u8 {
        match self {
            Level::Critical => 2,
            Level::High => 3,
            Level::Medium => 4,
            Level::Low => 5,
            Level::Informational => 6,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Level, String> {
        match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Ok(Level::Informational),
            "low" => Ok(Level::Low),
            "medium" => Ok(Level::Medium),
            "high" => Ok(Level::High),
            "critical" => Ok(Level::Critical),
            _ => Err(format!(
                "unknown level `{s}` (informational, low, medium, high, critical)"
            )),
        }
    }
}

/// What raised the alert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// A Sigma rule matched one event.
    #[default]
    Sigma,
    /// A Sigma correlation rule fired over rule matches.
    Correlation,
    /// An indicator of compromise matched.
    Intel,
}

impl AlertKind {
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Sigma => "sigma",
            AlertKind::Correlation => "correlation",
            AlertKind::Intel => "intel",
        }
    }
}

/// One alert.
///
/// The JSON form is the one `taishi serve`'s API uses for alerts (API.md):
/// an API alert deserialises into this type (`status`, `created`… are
/// ignored), so the service can hand its alerts over with
/// `serde_json::from_value(serde_json::to_value(&api_alert)?)` or build
/// them with [`Alert::from_event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub kind: AlertKind,
    pub rule_id: String,
    pub rule_title: String,
    pub level: Level,
    /// ATT&CK and other rule tags (`attack.t1059.001`, `attack.execution`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// When it happened (the matching event's time, zone kept).
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<FixedOffset>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub destination_ip: Option<String>,
    /// Raised by a hunt over stored data rather than on arrival: outputs
    /// skip these unless `alerts.notify_retrospective` is set.
    #[serde(default)]
    pub retrospective: bool,
    /// Key fields of the matching event, shown in notifications in order.
    #[serde(default)]
    pub summary: Map<String, J>,
    /// The (first) matching event as JSON.
    #[serde(default, skip_serializing_if = "J::is_null")]
    pub event: J,
    /// Further matching events: JSON objects, or the store's sequence
    /// numbers when the events are in the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<J>,
    /// Free context from the detector (correlation group, intel match…).
    #[serde(default, skip_serializing_if = "J::is_null")]
    pub context: J,
}

/// Fields that name what happened, in the order notifications show them:
/// the source's names beside ECS ones, since rules use both.
pub const SUMMARY_FIELDS: &[&str] = &[
    "user.name",
    "TargetUserName",
    "SubjectUserName",
    "User",
    "process.command_line",
    "CommandLine",
    "process.executable",
    "Image",
    "ParentImage",
    "TargetFilename",
    "TargetObject",
    "QueryName",
    "dns.question.name",
    "url.original",
    "url.full",
    "destination.port",
    "DestinationPort",
    "event.code",
    "EventID",
    "event.dataset",
    "rule.name",
    "message",
];

const HOST_FIELDS: &[&str] = &["host.name", "Computer", "hostname", "host.hostname"];
const SOURCE_FIELDS: &[&str] = &["source.ip", "src_ip", "id.orig_h", "IpAddress", "SourceIp"];
const DESTINATION_FIELDS: &[&str] = &["destination.ip", "dest_ip", "id.resp_h", "DestinationIp"];

/// A summary value longer than this is cut (command lines can be huge).
const SUMMARY_MAX_CHARS: usize = 512;

fn first_text(ev: &Event, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| ev.get(n))
        .filter_map(|v| v.to_text())
        .map(|s| s.into_owned())
        .find(|s| !s.is_empty() && s != "-")
}

/// A process-unique, time-ordered alert id: milliseconds since the epoch
/// and a counter, in hex.
pub fn new_id(ts: &DateTime<FixedOffset>) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:011x}-{:06x}",
        ts.timestamp_millis().max(0),
        n & 0xff_ffff
    )
}

impl Alert {
    /// A bare alert; the caller fills the rest.
    pub fn new(
        kind: AlertKind,
        rule_id: impl Into<String>,
        rule_title: impl Into<String>,
        level: Level,
        timestamp: DateTime<FixedOffset>,
    ) -> Alert {
        Alert {
            id: new_id(&timestamp),
            kind,
            rule_id: rule_id.into(),
            rule_title: rule_title.into(),
            level,
            tags: Vec::new(),
            timestamp,
            host: None,
            source_ip: None,
            destination_ip: None,
            retrospective: false,
            summary: Map::new(),
            event: J::Null,
            events: Vec::new(),
            context: J::Null,
        }
    }

    /// An alert for a rule that matched `event`: time, host, addresses and
    /// summary taken from the event (ECS names first, then the sources'
    /// own), the event kept as JSON. For a Sigma match:
    /// `Alert::from_event(AlertKind::Sigma, id, &meta.title, meta.level.name().parse()?, meta.tags.clone(), &ev)`.
    pub fn from_event(
        kind: AlertKind,
        rule_id: impl Into<String>,
        rule_title: impl Into<String>,
        level: Level,
        tags: Vec<String>,
        event: &Event,
    ) -> Alert {
        let ts = event.timestamp.unwrap_or_else(|| Utc::now().fixed_offset());
        let mut a = Alert::new(kind, rule_id, rule_title, level, ts);
        a.tags = tags;
        a.host = first_text(event, HOST_FIELDS);
        a.source_ip = first_text(event, SOURCE_FIELDS);
        a.destination_ip = first_text(event, DESTINATION_FIELDS);
        for f in SUMMARY_FIELDS {
            if let Some(v) = event.get(f).and_then(|v| v.to_text()) {
                if !v.is_empty() {
                    a.summary
                        .insert((*f).to_string(), J::String(cut(&v, SUMMARY_MAX_CHARS)));
                }
            }
        }
        a.event = serde_json::to_value(event).unwrap_or(J::Null);
        a
    }

    /// The value of a group-by key: `host`, `source_ip`, `destination_ip`,
    /// `kind`, or a summary or event field name.
    pub fn key_value(&self, key: &str) -> Option<String> {
        match key {
            "host" => self.host.clone(),
            "source_ip" => self.source_ip.clone(),
            "destination_ip" => self.destination_ip.clone(),
            "kind" => Some(self.kind.name().to_string()),
            "rule_id" => Some(self.rule_id.clone()),
            _ => self
                .summary
                .get(key)
                .or_else(|| self.event.get(key))
                .map(json_text),
        }
    }
}

pub(crate) fn json_text(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        J::Null => String::new(),
        other => other.to_string(),
    }
}

/// Cuts at a character boundary, marking the cut.
pub(crate) fn cut(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_event_takes_ecs_and_source_names() {
        let mut e = Event::new();
        e.timestamp = Some(DateTime::parse_from_rfc3339("2024-05-01T10:00:00+08:00").unwrap());
        e.push("Computer", "WS01.corp.local");
        e.push("IpAddress", "10.1.1.5");
        e.push("CommandLine", "x".repeat(600));
        e.push("EventID", 4688i64);
        let a = Alert::from_event(
            AlertKind::Sigma,
            "r1",
            "Rule",
            Level::High,
            vec!["attack.t1059".into()],
            &e,
        );
        assert_eq!(a.host.as_deref(), Some("WS01.corp.local"));
        assert_eq!(a.source_ip.as_deref(), Some("10.1.1.5"));
        assert_eq!(a.summary["EventID"], "4688");
        assert_eq!(
            a.summary["CommandLine"].as_str().unwrap().chars().count(),
            513
        );
        assert_eq!(a.timestamp.offset().local_minus_utc(), 8 * 3600);
        let j = serde_json::to_value(&a).unwrap();
        assert_eq!(j["@timestamp"], "2024-05-01T10:00:00+08:00");
        assert_eq!(j["level"], "high");
        let back: Alert = serde_json::from_value(j).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn api_alert_json_deserialises() {
        let j = serde_json::json!({
            "id": "a1", "kind": "correlation", "rule_id": "r", "rule_title": "T",
            "level": "critical", "tags": [], "@timestamp": "2024-01-01T00:00:00Z",
            "host": null, "source_ip": "1.2.3.4", "destination_ip": null,
            "summary": {"user.name": "bob"}, "events": [17, 18], "event": {"a": 1},
            "status": "new", "resolution": null, "assignee": null,
            "retrospective": true, "created": "x", "updated": "y"
        });
        let a: Alert = serde_json::from_value(j).unwrap();
        assert_eq!(a.level, Level::Critical);
        assert_eq!(a.kind, AlertKind::Correlation);
        assert!(a.retrospective);
        assert_eq!(a.events.len(), 2);
        assert_eq!(a.key_value("user.name").as_deref(), Some("bob"));
        assert_eq!(a.key_value("a").as_deref(), Some("1"));
    }

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::Critical > Level::High && Level::Low > Level::Informational);
        assert_eq!("Info".parse::<Level>().unwrap(), Level::Informational);
        assert!("severe".parse::<Level>().is_err());
    }
}
