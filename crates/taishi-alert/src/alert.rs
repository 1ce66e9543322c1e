//! The alert model: what detection hands to the outputs.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as J};
use taishi_event::{roles, Event};

/// One definition of the levels, shared with the rules and the API.
pub use taishi_event::Level;

/// What raised the alert.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// A Sigma rule matched one event.
    #[default]
    Sigma,
    /// A Sigma correlation rule fired over rule matches.
    Correlation,
    /// An indicator of compromise matched.
    Intel,
    /// A scheduled saved search answered more than its threshold.
    Search,
    /// An anomaly detector (beaconing, scans, brute force, DGA, DNS
    /// tunnels, exfiltration, look-alike domains) scored above its
    /// threshold; `context` carries the score and the features that fired.
    Anomaly,
    /// An early warning of the risk assessment (预警: a new KEV entry on an
    /// asset, an attack on a vulnerable asset…), sent through the outputs;
    /// `context` carries the warning with its level and action.
    Warning,
    /// Personal information leaving (outbound URLs and bodies, bulk
    /// queries of personal-information columns); `context` carries the
    /// kinds, counts and people, never a value.
    Pii,
}

impl AlertKind {
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Sigma => "sigma",
            AlertKind::Correlation => "correlation",
            AlertKind::Intel => "intel",
            AlertKind::Search => "search",
            AlertKind::Anomaly => "anomaly",
            AlertKind::Warning => "warning",
            AlertKind::Pii => "pii",
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "RaisedAlert")]
pub struct Alert {
    pub id: String,
    pub kind: AlertKind,
    pub rule_id: String,
    pub rule_title: String,
    /// The rule's title in zh-CN, where Taishi has one (SigmaHQ rules the
    /// shipped titles data translates, intel and correlation alerts):
    /// Chinese notifications and the console in zh-CN show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_title_zh: Option<String>,
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
    /// The organisation of the matching event (its `organization.id`);
    /// none for an event that came without one (the top organisation's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
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
    /// The store's sequence numbers of the matching events (empty when
    /// they are not in a store, as in a hunt over files).
    #[serde(default)]
    pub events: Vec<u64>,
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

/// A summary value longer than this is cut (command lines can be huge).
const SUMMARY_MAX_CHARS: usize = 512;

/// A unique, time-ordered alert id: the event's milliseconds since the
/// epoch, then 48 random bits. Random rather than a counter because ids
/// must stay unique across restarts: a replayed alert journal inserts by
/// id and ignores the ids it already holds.
pub fn new_id(ts: &DateTime<FixedOffset>) -> String {
    let mut b = [0u8; 6];
    // The OS generator failing is not recoverable for a security service.
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    let mut id = format!("{:013x}", ts.timestamp_millis().max(0));
    for x in b {
        id.push_str(&format!("{x:02x}"));
    }
    id
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
            rule_title_zh: None,
            level,
            tags: Vec::new(),
            timestamp,
            host: None,
            source_ip: None,
            destination_ip: None,
            org: None,
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
        a.host = roles::host(event);
        a.source_ip = roles::source_ip(event);
        a.destination_ip = roles::destination_ip(event);
        a.org = roles::org(event);
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

    /// The stored record of a new alert: status `new`, created now.
    pub fn record(self) -> AlertRecord {
        let now = now_iso();
        AlertRecord {
            alert: self,
            status: AlertStatus::New,
            resolution: None,
            assignee: None,
            created: now.clone(),
            updated: now,
        }
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

/// Where an analyst is with an alert.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    #[default]
    New,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 3] = [
        AlertStatus::New,
        AlertStatus::Acknowledged,
        AlertStatus::Closed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AlertStatus::New => "new",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<AlertStatus> {
        AlertStatus::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// How a closed alert was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    TruePositive,
    FalsePositive,
}

impl Resolution {
    pub fn name(self) -> &'static str {
        match self {
            Resolution::TruePositive => "true_positive",
            Resolution::FalsePositive => "false_positive",
        }
    }

    pub fn parse(s: &str) -> Option<Resolution> {
        [Resolution::TruePositive, Resolution::FalsePositive]
            .into_iter()
            .find(|x| x.name() == s)
    }
}

/// An alert as it is stored and worked: the detection's [`Alert`] and,
/// beside it, what analysts did with it. Its JSON is the alert's fields
/// with these added (the API's alert, see `API.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Alert")]
pub struct AlertRecord {
    #[serde(flatten)]
    pub alert: Alert,
    pub status: AlertStatus,
    pub resolution: Option<Resolution>,
    pub assignee: Option<String>,
    /// When it was stored and last changed (RFC 3339, UTC).
    pub created: String,
    pub updated: String,
}

impl std::ops::Deref for AlertRecord {
    type Target = Alert;
    fn deref(&self) -> &Alert {
        &self.alert
    }
}

/// Now, as the alert records write their times.
pub fn now_iso() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
