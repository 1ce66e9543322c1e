//! The incident: status through 新建 → 研判 → 处置 (遏制/根除/恢复) → 总结
//! → 关闭, owner, severity, TLP/PAP, ATT&CK techniques, category and grade,
//! observables, tasks from playbooks, a timeline of every action, and the
//! provenance (who, when, why) of every alert added, removed, merged or
//! split.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use taishi_alert::{Alert, Level};

use crate::category::{Categories, CategoryMapping, Suggestion};
use crate::clock::ReportingFacts;
use crate::data::{parse_yaml, DataError};
use crate::grade::{Grade, Grading, GradingInput, GradingTable};
use crate::lang::{Label, Lang, Text};
use crate::placeholder::Placeholders;

/// Bounds on one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_alerts: usize,
    pub max_observables: usize,
    pub max_tasks: usize,
    pub max_timeline: usize,
    /// Characters of a free text (title, reason, comment).
    pub max_text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_alerts: 100_000,
            max_observables: 10_000,
            max_tasks: 1_000,
            max_timeline: 200_000,
            max_text_chars: 4_096,
        }
    }
}

/// What an operation on an incident refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("incident {incident}: {from:?} → {to:?} is not an allowed transition")]
    Transition {
        incident: String,
        from: Status,
        to: Status,
    },
    #[error("incident {incident}: {what} would exceed the limit of {limit}")]
    Limit {
        incident: String,
        what: &'static str,
        limit: usize,
    },
    #[error("incident {incident}: {field} is {chars} characters, over the limit of {limit}")]
    TextTooLong {
        incident: String,
        field: &'static str,
        chars: usize,
        limit: usize,
    },
    #[error("incident {incident}: alert {alert} is not attached")]
    UnknownAlert { incident: String, alert: String },
    #[error("incident {incident}: task {task} does not exist")]
    UnknownTask { incident: String, task: u32 },
    #[error("incident {incident}: subcategory `{code}` is not in the category table")]
    UnknownCategory { incident: String, code: String },
    #[error("incidents {a} and {b} belong to different organisations")]
    OrgMismatch { a: String, b: String },
    #[error("incident {incident} is closed")]
    Closed { incident: String },
    #[error("incident {incident}: a split must move some but not all of its alerts")]
    BadSplit { incident: String },
    #[error("incident {incident}: {field}: `{value}` is empty or a placeholder")]
    BadValue {
        incident: String,
        field: &'static str,
        value: String,
    },
    /// What the analyst wrote into a report is over a limit.
    #[error(transparent)]
    Report(Box<crate::report::ReportError>),
}

impl IncidentError {
    /// The error for the analyst, in `lang` (the `Display` form is the
    /// English one, for logs).
    pub fn message(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        match self {
            IncidentError::Transition { incident, from, to } => format!(
                "事件 {incident}：不允许从“{}”转到“{}”",
                from.label(Lang::Zh),
                to.label(Lang::Zh)
            ),
            IncidentError::Limit {
                incident,
                what,
                limit,
            } => {
                let what = match *what {
                    "alerts" => "告警数",
                    "the timeline" => "时间线",
                    "observables" => "观察项数",
                    "evidence files" => "证据文件数",
                    "tasks" => "任务数",
                    other => other,
                };
                format!("事件 {incident}：{what}将超过上限 {limit}")
            }
            IncidentError::TextTooLong {
                incident,
                field,
                chars,
                limit,
            } => {
                format!("事件 {incident}：{field} 有 {chars} 个字符，超过上限 {limit}")
            }
            IncidentError::UnknownAlert { incident, alert } => {
                format!("事件 {incident}：告警 {alert} 不在本事件中")
            }
            IncidentError::UnknownTask { incident, task } => {
                format!("事件 {incident}：任务 {task} 不存在")
            }
            IncidentError::UnknownCategory { incident, code } => {
                format!("事件 {incident}：分类表中没有子类 {code}")
            }
            IncidentError::OrgMismatch { a, b } => {
                format!("事件 {a} 与 {b} 属于不同单位，不能合并")
            }
            IncidentError::Closed { incident } => format!("事件 {incident} 已关闭"),
            IncidentError::BadSplit { incident } => {
                format!("事件 {incident}：拆分须移出部分而非全部告警")
            }
            IncidentError::BadValue {
                incident,
                field,
                value,
            } => {
                format!("事件 {incident}：{field} 的值“{value}”为空或为占位值")
            }
            IncidentError::Report(e) => e.message(Lang::Zh),
        }
    }
}

/// Who acted: a person or a part of the system.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Actor {
    User(String),
    System(String),
}

/// Who, when and why.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub who: Actor,
    pub when: DateTime<FixedOffset>,
    pub why: String,
}

impl Provenance {
    pub fn new(who: Actor, when: DateTime<FixedOffset>, why: impl Into<String>) -> Provenance {
        Provenance {
            who,
            when,
            why: why.into(),
        }
    }
}

/// Where an incident is.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 新建
    #[default]
    New,
    /// 研判
    Triage,
    /// 处置·遏制
    Containment,
    /// 处置·根除
    Eradication,
    /// 处置·恢复
    Recovery,
    /// 总结
    Summary,
    /// 关闭
    Closed,
}

/// The allowed transitions. Response may step back (re-infection found
/// during eradication or recovery); triage may close a false positive
/// directly; a closed incident may be reopened to triage.
pub const TRANSITIONS: &[(Status, Status)] = &[
    (Status::New, Status::Triage),
    (Status::Triage, Status::Containment),
    (Status::Triage, Status::Closed),
    (Status::Containment, Status::Eradication),
    (Status::Eradication, Status::Recovery),
    (Status::Eradication, Status::Containment),
    (Status::Recovery, Status::Containment),
    (Status::Recovery, Status::Summary),
    (Status::Summary, Status::Closed),
    (Status::Closed, Status::Triage),
];

impl Status {
    pub fn can_go_to(self, to: Status) -> bool {
        TRANSITIONS.contains(&(self, to))
    }

    /// The five phases of the issue: 处置 covers three statuses.
    pub fn phase(self) -> Phase {
        match self {
            Status::New => Phase::New,
            Status::Triage => Phase::Triage,
            Status::Containment | Status::Eradication | Status::Recovery => Phase::Response,
            Status::Summary => Phase::Summary,
            Status::Closed => Phase::Closed,
        }
    }
}

impl Label for Status {
    fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Status::New, Lang::Zh) => "新建",
            (Status::Triage, Lang::Zh) => "研判",
            (Status::Containment, Lang::Zh) => "处置·遏制",
            (Status::Eradication, Lang::Zh) => "处置·根除",
            (Status::Recovery, Lang::Zh) => "处置·恢复",
            (Status::Summary, Lang::Zh) => "总结",
            (Status::Closed, Lang::Zh) => "关闭",
            (Status::New, Lang::En) => "new",
            (Status::Triage, Lang::En) => "triage",
            (Status::Containment, Lang::En) => "response: containment",
            (Status::Eradication, Lang::En) => "response: eradication",
            (Status::Recovery, Lang::En) => "response: recovery",
            (Status::Summary, Lang::En) => "summary",
            (Status::Closed, Lang::En) => "closed",
        }
    }
}

/// 新建, 研判, 处置, 总结, 关闭.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    New,
    Triage,
    Response,
    Summary,
    Closed,
}

/// Traffic Light Protocol 2.0: who may see what is shared.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Tlp {
    Clear,
    Green,
    #[default]
    Amber,
    AmberStrict,
    Red,
}

/// Permissible Actions Protocol: what may be done with it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Pap {
    Clear,
    Green,
    #[default]
    Amber,
    Red,
}

/// What happened to an alert's membership.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LinkEvent {
    Added,
    Removed,
    /// Came with a merge from another incident.
    MergedFrom {
        incident: String,
    },
    /// Moved to another incident by a split.
    SplitTo {
        incident: String,
    },
    /// Came by a split of another incident.
    SplitFrom {
        incident: String,
    },
}

/// An alert attached to an incident, with its whole membership history.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertLink {
    pub alert_id: String,
    pub rule_id: String,
    pub rule_title: String,
    pub level: Level,
    pub timestamp: DateTime<FixedOffset>,
    /// Still part of the incident.
    pub active: bool,
    pub history: Vec<(LinkEvent, Provenance)>,
    /// The people whose personal information the alert saw leave (a `pii`
    /// leak alert's count; none for other alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pi_people: Option<u64>,
}

/// Kinds of observables.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservableKind {
    Ip,
    Domain,
    Hash,
    User,
    Host,
    Url,
}

impl Label for ObservableKind {
    fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (ObservableKind::Ip, Lang::Zh) => "IP 地址",
            (ObservableKind::Domain, Lang::Zh) => "域名",
            (ObservableKind::Hash, Lang::Zh) => "哈希",
            (ObservableKind::User, Lang::Zh) => "用户",
            (ObservableKind::Host, Lang::Zh) => "主机",
            (ObservableKind::Url, Lang::Zh) => "URL",
            (ObservableKind::Ip, Lang::En) => "IP address",
            (ObservableKind::Domain, Lang::En) => "domain",
            (ObservableKind::Hash, Lang::En) => "hash",
            (ObservableKind::User, Lang::En) => "user",
            (ObservableKind::Host, Lang::En) => "host",
            (ObservableKind::Url, Lang::En) => "URL",
        }
    }
}

/// Where an observable came from.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ObservableSource {
    Alert { alert_id: String },
    Manual { by: Provenance },
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observable {
    pub kind: ObservableKind,
    pub value: String,
    /// The first few sources (bounded: a host seen in 100 000 alerts keeps
    /// [`MAX_OBSERVABLE_SOURCES`]); `seen` counts them all.
    pub sources: Vec<ObservableSource>,
    pub seen: u64,
}

/// Sources kept per observable.
pub const MAX_OBSERVABLE_SOURCES: usize = 16;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[default]
    Open,
    Done,
    Cancelled,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: u32,
    pub phase: Status,
    pub title: Text,
    pub status: TaskStatus,
    pub owner: Option<String>,
    pub created: Provenance,
    pub closed: Option<Provenance>,
}

/// The analyst's confirmed category.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryDecision {
    pub category: String,
    pub subcategory: String,
    pub by: Provenance,
}

/// The grade as decided, with the input and the deciding row.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradeDecision {
    pub grade: Grade,
    pub decided_by: Option<String>,
    pub input: GradingInput,
    pub by: Provenance,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// An evidence file. The bytes live outside the incident (the server keeps
/// them under its data directory); the incident keeps the digest taken as
/// they arrived, so a download can prove they were not changed since.
pub struct Evidence {
    /// 1, 2, … in the order added.
    pub id: u32,
    /// The file name given at upload (no directories).
    pub name: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes as received.
    pub sha256: String,
    pub media_type: Option<String>,
    pub added: Provenance,
}

/// Evidence files one incident holds at most.
pub const MAX_EVIDENCE: usize = 1_000;

/// One action on the incident.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    Created,
    Status {
        from: Status,
        to: Status,
    },
    Assigned {
        owner: Option<String>,
    },
    Severity {
        from: Level,
        to: Level,
    },
    Tlp {
        to: Tlp,
    },
    Pap {
        to: Pap,
    },
    AlertAdded {
        alert_id: String,
    },
    AlertRemoved {
        alert_id: String,
    },
    ObservableAdded {
        kind: ObservableKind,
        value: String,
    },
    TaskAdded {
        task: u32,
    },
    TaskClosed {
        task: u32,
        status: TaskStatus,
    },
    Category {
        subcategory: String,
    },
    Graded {
        grade: Grade,
        decided_by: Option<String>,
    },
    Merged {
        from: String,
    },
    MergedInto {
        into: String,
    },
    Split {
        to: String,
        alerts: usize,
    },
    SplitFrom {
        from: String,
    },
    Comment {
        text: String,
    },
    /// A report was sent to the regulator.
    Reported {
        report: ReportSent,
    },
    /// A fact emerged that calls for a supplementary report.
    NewFact {
        text: String,
    },
    /// The incident was posted to another system (a webhook action).
    Posted {
        target: String,
        /// The receiver's HTTP status.
        status: u16,
    },
    /// An evidence file was stored.
    EvidenceAdded {
        evidence: u32,
        name: String,
        sha256: String,
    },
    /// The analyst wrote these fields of the reports.
    ReportDrafted {
        fields: Vec<String>,
    },
    /// The reporting clock's notice `key` went out through the alert
    /// outputs (each key once).
    DeadlineNotified {
        key: String,
    },
}

/// Which report was sent (the reporting clock reads these).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportSent {
    First,
    Supplementary,
    Summary,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub action: Action,
    pub by: Provenance,
}

/// One line of the incident's timeline as shown: an alert at the time its
/// event happened, or an action at the time it was taken.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "item")]
pub enum TimelineItem<'a> {
    Alert {
        at: DateTime<FixedOffset>,
        alert_id: &'a str,
        rule_title: &'a str,
        level: Level,
        active: bool,
    },
    Action {
        at: DateTime<FixedOffset>,
        entry: &'a TimelineEntry,
    },
}

impl TimelineItem<'_> {
    pub fn at(&self) -> DateTime<FixedOffset> {
        match self {
            TimelineItem::Alert { at, .. } | TimelineItem::Action { at, .. } => *at,
        }
    }
}

/// One incident.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    /// Every record belongs to an organisation.
    pub org: String,
    pub title: String,
    pub status: Status,
    pub owner: Option<String>,
    pub severity: Level,
    pub tlp: Tlp,
    pub pap: Pap,
    /// ATT&CK technique ids (`T1059.001`), from the alerts' tags and by hand.
    pub techniques: BTreeSet<String>,
    /// The alerts' distinct rule tags (category suggestions read them).
    #[serde(default)]
    pub tags: BTreeSet<String>,
    pub category: Option<CategoryDecision>,
    pub grade: Option<GradeDecision>,
    /// When the operator discovered it: the reporting clock counts from here.
    pub discovered_at: DateTime<FixedOffset>,
    pub first_seen: Option<DateTime<FixedOffset>>,
    pub last_seen: Option<DateTime<FixedOffset>>,
    pub alerts: Vec<AlertLink>,
    pub observables: Vec<Observable>,
    pub tasks: Vec<Task>,
    pub timeline: Vec<TimelineEntry>,
    /// Set when merged into another incident (this one is then closed).
    pub merged_into: Option<String>,
    /// Evidence files (documents stored before they existed have none).
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// What the analyst wrote into the reports (Art. 7 and summary).
    #[serde(default)]
    pub report_draft: crate::report::ReportDraft,
    #[serde(skip)]
    limits: Limits,
}

/// The people a personal-information leak alert counted (`pii.people` of
/// the data-security stage's alerts), none for every other alert.
pub fn pi_people_of(alert: &Alert) -> Option<u64> {
    if alert.kind != taishi_alert::AlertKind::Pii {
        return None;
    }
    alert
        .summary
        .get("pii.people")
        .or_else(|| alert.context.get("people"))
        .and_then(|v| v.as_u64())
}

/// The ATT&CK technique id in a tag (`attack.t1059.001` → `T1059.001`).
pub fn technique_of(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("attack.")?;
    let b = rest.as_bytes();
    if b.len() >= 5 && (b[0] == b't' || b[0] == b'T') && b[1..5].iter().all(u8::is_ascii_digit) {
        let ok = match b.len() {
            5 => true,
            9 => b[5] == b'.' && b[6..9].iter().all(u8::is_ascii_digit),
            _ => false,
        };
        if ok {
            return Some(rest.to_ascii_uppercase());
        }
    }
    None
}

/// One spelling per observable, so "seen in other incidents" finds it:
/// host names, domains, users, addresses and hashes are case-insensitive
/// (a domain's trailing dot is dropped); URLs are kept as written.
pub fn normalise_observable(kind: ObservableKind, v: &str) -> String {
    match kind {
        ObservableKind::Url => v.to_string(),
        ObservableKind::Domain => v.trim_end_matches('.').to_lowercase(),
        _ => v.to_lowercase(),
    }
}

/// The observables an alert carries: host, addresses, users, domains,
/// URLs and hashes, placeholders left out.
pub fn observables_of(alert: &Alert, ph: &Placeholders) -> Vec<(ObservableKind, String)> {
    let mut out = Vec::new();
    let mut push = |k: ObservableKind, v: &str| {
        let v = v.trim();
        if !ph.is_placeholder(v) && v.len() <= 2048 {
            out.push((k, normalise_observable(k, v)));
        }
    };
    if let Some(h) = &alert.host {
        push(ObservableKind::Host, h);
    }
    for ip in [&alert.source_ip, &alert.destination_ip]
        .into_iter()
        .flatten()
    {
        push(ObservableKind::Ip, ip);
    }
    let text = |k: &str| alert.summary.get(k).and_then(|v| v.as_str());
    for f in ["user.name", "TargetUserName", "SubjectUserName", "User"] {
        if let Some(u) = text(f) {
            push(ObservableKind::User, u);
        }
    }
    for f in ["QueryName", "dns.question.name"] {
        if let Some(d) = text(f) {
            push(ObservableKind::Domain, d);
        }
    }
    for f in ["url.original", "url.full"] {
        if let Some(u) = text(f) {
            push(ObservableKind::Url, u);
        }
    }
    // Sysmon writes `SHA256=…,MD5=…`; ECS has `file.hash.*`.
    let hashes = alert
        .event
        .get("Hashes")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    for part in hashes.split(',') {
        if let Some((_, h)) = part.split_once('=') {
            if h.len() >= 32 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                push(ObservableKind::Hash, &h.to_ascii_lowercase());
            }
        }
    }
    for f in ["file.hash.sha256", "file.hash.md5", "file.hash.sha1"] {
        if let Some(h) = alert.event.get(f).and_then(|v| v.as_str()) {
            push(ObservableKind::Hash, &h.to_ascii_lowercase());
        }
    }
    out
}

impl Incident {
    /// A new, empty incident.
    pub fn new(
        id: impl Into<String>,
        org: impl Into<String>,
        title: impl Into<String>,
        discovered_at: DateTime<FixedOffset>,
        by: Provenance,
    ) -> Result<Incident, IncidentError> {
        let mut i = Incident {
            id: id.into(),
            org: org.into(),
            title: String::new(),
            status: Status::New,
            owner: None,
            severity: Level::Informational,
            tlp: Tlp::default(),
            pap: Pap::default(),
            techniques: BTreeSet::new(),
            tags: BTreeSet::new(),
            category: None,
            grade: None,
            discovered_at,
            first_seen: None,
            last_seen: None,
            alerts: Vec::new(),
            observables: Vec::new(),
            tasks: Vec::new(),
            timeline: Vec::new(),
            merged_into: None,
            evidence: Vec::new(),
            report_draft: Default::default(),
            limits: Limits::default(),
        };
        let title = title.into();
        i.check_text("title", &title)?;
        i.check_text("why", &by.why)?;
        i.title = title;
        i.push(Action::Created, by)?;
        Ok(i)
    }

    /// An incident from alerts: titled after the first, discovered when the
    /// first of them happened (or `by.when` when there are none).
    pub fn from_alerts(
        id: impl Into<String>,
        org: impl Into<String>,
        alerts: &[&Alert],
        by: Provenance,
    ) -> Result<Incident, IncidentError> {
        let discovered = alerts.iter().map(|a| a.timestamp).min().unwrap_or(by.when);
        let title = match alerts {
            [] => String::new(),
            [a] => a.rule_title.clone(),
            [a, rest @ ..] => format!("{} (+{})", a.rule_title, rest.len()),
        };
        let title: String = title
            .chars()
            .take(Limits::default().max_text_chars)
            .collect();
        let mut i = Incident::new(id, org, title, discovered, by.clone())?;
        for a in alerts {
            i.add_alert(a, by.clone())?;
        }
        Ok(i)
    }

    pub fn with_limits(mut self, limits: Limits) -> Incident {
        self.limits = limits;
        self
    }

    fn check_text(&self, field: &'static str, s: &str) -> Result<(), IncidentError> {
        let chars = s.chars().count();
        if chars > self.limits.max_text_chars {
            return Err(IncidentError::TextTooLong {
                incident: self.id.clone(),
                field,
                chars,
                limit: self.limits.max_text_chars,
            });
        }
        Ok(())
    }

    fn limit(&self, what: &'static str, len: usize, limit: usize) -> Result<(), IncidentError> {
        if len >= limit {
            return Err(IncidentError::Limit {
                incident: self.id.clone(),
                what,
                limit,
            });
        }
        Ok(())
    }

    fn push(&mut self, action: Action, by: Provenance) -> Result<(), IncidentError> {
        self.limit(
            "the timeline",
            self.timeline.len(),
            self.limits.max_timeline,
        )?;
        self.timeline.push(TimelineEntry { action, by });
        Ok(())
    }

    fn open(&self) -> Result<(), IncidentError> {
        if self.status == Status::Closed {
            return Err(IncidentError::Closed {
                incident: self.id.clone(),
            });
        }
        Ok(())
    }

    /// Moves the incident along its lifecycle.
    pub fn transition(&mut self, to: Status, by: Provenance) -> Result<(), IncidentError> {
        if !self.status.can_go_to(to) {
            return Err(IncidentError::Transition {
                incident: self.id.clone(),
                from: self.status,
                to,
            });
        }
        self.check_text("why", &by.why)?;
        let from = self.status;
        self.push(Action::Status { from, to }, by)?;
        self.status = to;
        Ok(())
    }

    pub fn assign(&mut self, owner: Option<String>, by: Provenance) -> Result<(), IncidentError> {
        if let Some(o) = &owner {
            self.check_text("owner", o)?;
        }
        self.push(
            Action::Assigned {
                owner: owner.clone(),
            },
            by,
        )?;
        self.owner = owner;
        Ok(())
    }

    pub fn set_severity(&mut self, to: Level, by: Provenance) -> Result<(), IncidentError> {
        let from = self.severity;
        self.push(Action::Severity { from, to }, by)?;
        self.severity = to;
        Ok(())
    }

    pub fn set_tlp(&mut self, to: Tlp, by: Provenance) -> Result<(), IncidentError> {
        self.push(Action::Tlp { to }, by)?;
        self.tlp = to;
        Ok(())
    }

    pub fn set_pap(&mut self, to: Pap, by: Provenance) -> Result<(), IncidentError> {
        self.push(Action::Pap { to }, by)?;
        self.pap = to;
        Ok(())
    }

    pub fn comment(&mut self, text: &str, by: Provenance) -> Result<(), IncidentError> {
        self.check_text("comment", text)?;
        self.push(
            Action::Comment {
                text: text.to_string(),
            },
            by,
        )
    }

    /// Records that the incident was posted to `target` (a response
    /// action: kept on the timeline beside the analyst's other actions).
    pub fn record_post(
        &mut self,
        target: &str,
        status: u16,
        by: Provenance,
    ) -> Result<(), IncidentError> {
        self.check_text("target", target)?;
        self.push(
            Action::Posted {
                target: target.to_string(),
                status,
            },
            by,
        )
    }

    /// Records an evidence file whose bytes the caller stored: `name` is
    /// kept without any directory part, `sha256` must be 64 hex digits.
    pub fn add_evidence(
        &mut self,
        name: &str,
        size: u64,
        sha256: &str,
        media_type: Option<&str>,
        by: Provenance,
    ) -> Result<u32, IncidentError> {
        self.open()?;
        self.limit("evidence files", self.evidence.len(), MAX_EVIDENCE)?;
        // A path in the name says nothing about the evidence and could
        // mislead whoever saves it again: keep the last component.
        let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
        if base.is_empty() || base == "." || base == ".." || base.chars().any(char::is_control) {
            return Err(IncidentError::BadValue {
                incident: self.id.clone(),
                field: "name",
                value: name.chars().take(100).collect(),
            });
        }
        self.check_text("name", base)?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IncidentError::BadValue {
                incident: self.id.clone(),
                field: "sha256",
                value: sha256.chars().take(100).collect(),
            });
        }
        let media_type = media_type
            .map(str::trim)
            .filter(|m| !m.is_empty() && m.len() <= 255 && !m.chars().any(char::is_control))
            .map(str::to_string);
        let id = self.evidence.iter().map(|e| e.id).max().unwrap_or(0) + 1;
        let sha256 = sha256.to_ascii_lowercase();
        self.push(
            Action::EvidenceAdded {
                evidence: id,
                name: base.to_string(),
                sha256: sha256.clone(),
            },
            by.clone(),
        )?;
        self.evidence.push(Evidence {
            id,
            name: base.to_string(),
            size,
            sha256,
            media_type,
            added: by,
        });
        Ok(id)
    }

    /// The timeline built from the alerts' events and every action, in
    /// time order (alerts first at equal times: the event came before
    /// anyone acted on it).
    pub fn timeline_view(&self) -> Vec<TimelineItem<'_>> {
        let mut v: Vec<TimelineItem<'_>> = self
            .alerts
            .iter()
            .map(|l| TimelineItem::Alert {
                at: l.timestamp,
                alert_id: &l.alert_id,
                rule_title: &l.rule_title,
                level: l.level,
                active: l.active,
            })
            .chain(self.timeline.iter().map(|e| TimelineItem::Action {
                at: e.by.when,
                entry: e,
            }))
            .collect();
        // A stable sort keeps alerts (listed first) ahead at equal times.
        v.sort_by_key(|i| i.at());
        v
    }

    /// Records a report sent to the regulator.
    pub fn record_report(
        &mut self,
        report: ReportSent,
        by: Provenance,
    ) -> Result<(), IncidentError> {
        self.check_text("why", &by.why)?;
        self.push(Action::Reported { report }, by)
    }

    /// Takes what the analyst wrote into the reports (the fields set
    /// replace earlier ones). Allowed after closing: the summary report is
    /// written then.
    pub fn draft_report(
        &mut self,
        draft: &crate::report::ReportDraft,
        by: Provenance,
    ) -> Result<(), IncidentError> {
        self.check_text("why", &by.why)?;
        draft
            .check(&self.id)
            .map_err(|e| IncidentError::Report(Box::new(e)))?;
        let mut next = self.report_draft.clone();
        let fields = next.merge(draft);
        if fields.is_empty() {
            return Ok(());
        }
        self.push(
            Action::ReportDrafted {
                fields: fields.into_iter().map(str::to_string).collect(),
            },
            by,
        )?;
        self.report_draft = next;
        Ok(())
    }

    /// The reporting clock's notices already sent (their keys).
    pub fn notified(&self) -> std::collections::BTreeSet<&str> {
        self.timeline
            .iter()
            .filter_map(|e| match &e.action {
                Action::DeadlineNotified { key } => Some(key.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Records that the reporting clock's notice `key` was sent.
    pub fn record_notice(&mut self, key: &str, by: Provenance) -> Result<(), IncidentError> {
        self.check_text("key", key)?;
        self.push(
            Action::DeadlineNotified {
                key: key.to_string(),
            },
            by,
        )
    }

    /// Records a new fact that calls for a supplementary report.
    pub fn new_fact(&mut self, text: &str, by: Provenance) -> Result<(), IncidentError> {
        self.check_text("fact", text)?;
        self.push(
            Action::NewFact {
                text: text.to_string(),
            },
            by,
        )
    }

    /// What the reporting clock needs, read from the grade and the
    /// timeline (reports sent, new facts, the last closing).
    pub fn reporting_facts(&self) -> ReportingFacts {
        let mut f = ReportingFacts {
            discovered_at: Some(self.discovered_at),
            grade: self.grade.as_ref().map(|g| (g.grade, g.by.when)),
            ..ReportingFacts::default()
        };
        for e in &self.timeline {
            let when = e.by.when;
            match &e.action {
                Action::Reported {
                    report: ReportSent::First,
                } => {
                    f.first_report_at.get_or_insert(when);
                }
                Action::Reported {
                    report: ReportSent::Supplementary,
                } => f.supplementary_at.push(when),
                Action::Reported {
                    report: ReportSent::Summary,
                } => f.summary_at = Some(when),
                Action::NewFact { .. } => f.new_facts_at.push(when),
                Action::Status {
                    to: Status::Closed, ..
                } => f.closed_at = Some(when),
                Action::Status {
                    from: Status::Closed,
                    ..
                } => f.closed_at = None,
                _ => {}
            }
        }
        f
    }

    /// Suggested categories from the alerts' tags, best first.
    pub fn suggest_category(
        &self,
        mapping: &CategoryMapping,
        table: &Categories,
    ) -> Vec<Suggestion> {
        mapping.suggest(table, self.tags.iter().map(String::as_str))
    }

    /// The ids of the alerts currently attached.
    pub fn active_alerts(&self) -> impl Iterator<Item = &AlertLink> {
        self.alerts.iter().filter(|l| l.active)
    }

    /// The people whose personal information leaked, from the attached
    /// leak alerts: their counts added up. Two alerts can count the same
    /// person (the alerts carry counts, not the people), so this is an upper
    /// bound; for a reporting duty erring high is the safe side, and the
    /// analyst can enter a lower figure. None when no leak alert is attached.
    pub fn pi_people_leaked(&self) -> Option<u64> {
        self.active_alerts()
            .filter_map(|l| l.pi_people)
            .fold(None, |acc, n| Some(acc.unwrap_or(0u64).saturating_add(n)))
    }

    /// The grading input as entered, with the people whose personal
    /// information leaked taken from the attached leak alerts when the
    /// analyst entered none (the data-security counters feed the grade).
    pub fn fed_input(&self, mut input: GradingInput) -> GradingInput {
        if input.pi_people_leaked.is_none() {
            input.pi_people_leaked = self.pi_people_leaked();
        }
        input
    }

    /// Grades again when the leak alerts now count more people than the
    /// recorded grade was decided on (a leak alert joined after grading),
    /// keeping the analyst's other inputs. Returns whether it regraded.
    pub fn regrade_on_pi(
        &mut self,
        table: &GradingTable,
        by: Provenance,
    ) -> Result<bool, IncidentError> {
        // Most incidents are ungraded: asked first, it spares the sum.
        let Some(g) = &self.grade else {
            return Ok(false);
        };
        let Some(n) = self.pi_people_leaked() else {
            return Ok(false);
        };
        if g.input.pi_people_leaked.is_some_and(|had| had >= n) {
            return Ok(false);
        }
        let mut input = g.input.clone();
        input.pi_people_leaked = Some(n);
        let grading = table.grade(&input);
        self.set_grade(&grading, input, by)?;
        Ok(true)
    }

    /// Attaches an alert. Returns false when it is already attached. The
    /// severity rises to the alert's level (never falls by itself); its
    /// techniques and observables are taken.
    pub fn add_alert(&mut self, alert: &Alert, by: Provenance) -> Result<bool, IncidentError> {
        self.open()?;
        self.check_text("why", &by.why)?;
        if let Some(l) = self.alerts.iter_mut().find(|l| l.alert_id == alert.id) {
            if l.active {
                return Ok(false);
            }
            l.active = true;
            l.history.push((LinkEvent::Added, by.clone()));
        } else {
            self.limit("alerts", self.alerts.len(), self.limits.max_alerts)?;
            self.alerts.push(AlertLink {
                alert_id: alert.id.clone(),
                rule_id: alert.rule_id.clone(),
                rule_title: alert.rule_title.clone(),
                level: alert.level,
                timestamp: alert.timestamp,
                active: true,
                history: vec![(LinkEvent::Added, by.clone())],
                pi_people: pi_people_of(alert),
            });
        }
        self.severity = self.severity.max(alert.level);
        self.first_seen = Some(
            self.first_seen
                .map_or(alert.timestamp, |t| t.min(alert.timestamp)),
        );
        self.last_seen = Some(
            self.last_seen
                .map_or(alert.timestamp, |t| t.max(alert.timestamp)),
        );
        for t in alert.tags.iter().filter_map(|t| technique_of(t)) {
            if self.techniques.len() < self.limits.max_observables {
                self.techniques.insert(t);
            }
        }
        for t in &alert.tags {
            if self.tags.len() < self.limits.max_observables && t.len() <= 256 {
                self.tags.insert(t.to_ascii_lowercase());
            }
        }
        for (k, v) in observables_of(alert, Placeholders::builtin()) {
            self.note_observable(
                k,
                v,
                ObservableSource::Alert {
                    alert_id: alert.id.clone(),
                },
            );
        }
        self.push(
            Action::AlertAdded {
                alert_id: alert.id.clone(),
            },
            by,
        )?;
        Ok(true)
    }

    /// Records an observable; silently stops growing at the limit, since an
    /// automatic extraction must not fail an alert's attachment.
    fn note_observable(
        &mut self,
        kind: ObservableKind,
        value: String,
        src: ObservableSource,
    ) -> bool {
        if let Some(o) = self
            .observables
            .iter_mut()
            .find(|o| o.kind == kind && o.value == value)
        {
            o.seen += 1;
            if o.sources.len() < MAX_OBSERVABLE_SOURCES {
                o.sources.push(src);
            }
            return false;
        }
        if self.observables.len() >= self.limits.max_observables {
            return false;
        }
        self.observables.push(Observable {
            kind,
            value,
            sources: vec![src],
            seen: 1,
        });
        true
    }

    /// An observable added by hand.
    pub fn add_observable(
        &mut self,
        kind: ObservableKind,
        value: &str,
        by: Provenance,
    ) -> Result<(), IncidentError> {
        let v = value.trim();
        if Placeholders::builtin().is_placeholder(v) {
            return Err(IncidentError::BadValue {
                incident: self.id.clone(),
                field: "observable",
                value: v.to_string(),
            });
        }
        self.check_text("observable", v)?;
        self.limit(
            "observables",
            self.observables.len(),
            self.limits.max_observables,
        )?;
        let v = normalise_observable(kind, v);
        self.note_observable(kind, v.clone(), ObservableSource::Manual { by: by.clone() });
        self.push(
            Action::ObservableAdded {
                kind,
                value: v.to_string(),
            },
            by,
        )
    }

    /// Detaches an alert; its link and history stay.
    pub fn remove_alert(&mut self, alert_id: &str, by: Provenance) -> Result<(), IncidentError> {
        self.open()?;
        self.check_text("why", &by.why)?;
        let Some(l) = self
            .alerts
            .iter_mut()
            .find(|l| l.alert_id == alert_id && l.active)
        else {
            return Err(IncidentError::UnknownAlert {
                incident: self.id.clone(),
                alert: alert_id.to_string(),
            });
        };
        l.active = false;
        l.history.push((LinkEvent::Removed, by.clone()));
        self.push(
            Action::AlertRemoved {
                alert_id: alert_id.to_string(),
            },
            by,
        )
    }

    /// The analyst confirms a category (a subcategory code of the table).
    pub fn confirm_category(
        &mut self,
        table: &Categories,
        subcategory: &str,
        by: Provenance,
    ) -> Result<(), IncidentError> {
        let Some((cat, sub)) = table.subcategory(subcategory) else {
            return Err(IncidentError::UnknownCategory {
                incident: self.id.clone(),
                code: subcategory.to_string(),
            });
        };
        self.push(
            Action::Category {
                subcategory: sub.code.clone(),
            },
            by.clone(),
        )?;
        self.category = Some(CategoryDecision {
            category: cat.code.clone(),
            subcategory: sub.code.clone(),
            by,
        });
        Ok(())
    }

    /// Records a grading.
    pub fn set_grade(
        &mut self,
        grading: &Grading,
        input: GradingInput,
        by: Provenance,
    ) -> Result<(), IncidentError> {
        let decided_by = grading.decided_by.as_ref().map(|m| m.id.clone());
        self.push(
            Action::Graded {
                grade: grading.grade,
                decided_by: decided_by.clone(),
            },
            by.clone(),
        )?;
        self.grade = Some(GradeDecision {
            grade: grading.grade,
            decided_by,
            input,
            by,
        });
        Ok(())
    }

    /// Adds the playbook's tasks for the incident's category (and those for
    /// every incident), skipping tasks already present by title.
    pub fn apply_playbook(
        &mut self,
        books: &Playbooks,
        by: Provenance,
    ) -> Result<usize, IncidentError> {
        let code = self.category.as_ref().map(|c| c.category.clone());
        let templates: Vec<TaskTemplate> = books.tasks_for(code.as_deref()).cloned().collect();
        let have: HashSet<String> = self.tasks.iter().map(|t| t.title.en.clone()).collect();
        let mut added = 0;
        for t in templates
            .into_iter()
            .filter(|t| !have.contains(&t.title.en))
        {
            self.add_task(t.phase, t.title, by.clone())?;
            added += 1;
        }
        Ok(added)
    }

    pub fn add_task(
        &mut self,
        phase: Status,
        title: Text,
        by: Provenance,
    ) -> Result<u32, IncidentError> {
        self.limit("tasks", self.tasks.len(), self.limits.max_tasks)?;
        self.check_text("task", &title.zh)?;
        self.check_text("task", &title.en)?;
        let id = self.tasks.iter().map(|t| t.id).max().unwrap_or(0) + 1;
        self.push(Action::TaskAdded { task: id }, by.clone())?;
        self.tasks.push(Task {
            id,
            phase,
            title,
            status: TaskStatus::Open,
            owner: None,
            created: by,
            closed: None,
        });
        Ok(id)
    }

    pub fn close_task(
        &mut self,
        id: u32,
        status: TaskStatus,
        by: Provenance,
    ) -> Result<(), IncidentError> {
        let Some(i) = self.tasks.iter().position(|t| t.id == id) else {
            return Err(IncidentError::UnknownTask {
                incident: self.id.clone(),
                task: id,
            });
        };
        self.push(Action::TaskClosed { task: id, status }, by.clone())?;
        self.tasks[i].status = status;
        self.tasks[i].closed = Some(by);
        Ok(())
    }

    /// Merges `other` into this incident: its alerts (with their history),
    /// observables, techniques and tasks come over, the highest severity
    /// is kept, and `other` is closed with `merged_into` set. Both
    /// timelines record the merge.
    pub fn merge(&mut self, other: &mut Incident, by: Provenance) -> Result<(), IncidentError> {
        if self.org != other.org {
            return Err(IncidentError::OrgMismatch {
                a: self.id.clone(),
                b: other.id.clone(),
            });
        }
        self.open()?;
        other.open()?;
        self.check_text("why", &by.why)?;
        let new_links = other
            .active_alerts()
            .filter(|l| !self.alerts.iter().any(|m| m.alert_id == l.alert_id))
            .count();
        if self.alerts.len() + new_links > self.limits.max_alerts {
            return Err(IncidentError::Limit {
                incident: self.id.clone(),
                what: "alerts",
                limit: self.limits.max_alerts,
            });
        }
        for l in other.alerts.iter_mut().filter(|l| l.active) {
            let event = LinkEvent::MergedFrom {
                incident: other.id.clone(),
            };
            match self.alerts.iter_mut().find(|m| m.alert_id == l.alert_id) {
                Some(m) => {
                    m.active = true;
                    m.history.extend(l.history.iter().cloned());
                    m.history.push((event, by.clone()));
                }
                None => {
                    let mut m = l.clone();
                    m.history.push((event, by.clone()));
                    self.alerts.push(m);
                }
            }
        }
        self.severity = self.severity.max(other.severity);
        self.first_seen = match (self.first_seen, other.first_seen) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_seen = match (self.last_seen, other.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        // The earlier discovery governs the reporting clock.
        self.discovered_at = self.discovered_at.min(other.discovered_at);
        self.techniques.extend(other.techniques.iter().cloned());
        self.tags.extend(other.tags.iter().cloned());
        for o in &other.observables {
            for s in &o.sources {
                self.note_observable(o.kind, o.value.clone(), s.clone());
            }
        }
        let have: HashSet<String> = self.tasks.iter().map(|t| t.title.en.clone()).collect();
        for t in other.tasks.iter().filter(|t| !have.contains(&t.title.en)) {
            if self.tasks.len() >= self.limits.max_tasks {
                break;
            }
            let mut t = t.clone();
            t.id = self.tasks.iter().map(|t| t.id).max().unwrap_or(0) + 1;
            self.tasks.push(t);
        }
        self.push(
            Action::Merged {
                from: other.id.clone(),
            },
            by.clone(),
        )?;
        other.push(
            Action::MergedInto {
                into: self.id.clone(),
            },
            by.clone(),
        )?;
        for l in other.alerts.iter_mut().filter(|l| l.active) {
            l.active = false;
        }
        other.merged_into = Some(self.id.clone());
        other.status = Status::Closed;
        Ok(())
    }

    /// Moves the named alerts to a new incident `new_id`. Each moved link
    /// records the split on both sides; severities are recomputed from
    /// the alerts for the new incident (this one keeps its own, which the
    /// analyst may lower).
    pub fn split(
        &mut self,
        alert_ids: &[&str],
        new_id: impl Into<String>,
        by: Provenance,
    ) -> Result<Incident, IncidentError> {
        self.open()?;
        let new_id = new_id.into();
        let wanted: HashSet<&str> = alert_ids.iter().copied().collect();
        let active = self.active_alerts().count();
        let moving = self
            .active_alerts()
            .filter(|l| wanted.contains(l.alert_id.as_str()))
            .count();
        if moving == 0 || moving == active || moving != wanted.len() {
            return Err(IncidentError::BadSplit {
                incident: self.id.clone(),
            });
        }
        let mut n = Incident::new(
            new_id.clone(),
            self.org.clone(),
            format!("{} (split)", self.title)
                .chars()
                .take(self.limits.max_text_chars)
                .collect::<String>(),
            self.discovered_at,
            by.clone(),
        )?
        .with_limits(self.limits);
        n.tlp = self.tlp;
        n.pap = self.pap;
        n.owner = self.owner.clone();
        n.severity = Level::Informational;
        for l in self
            .alerts
            .iter_mut()
            .filter(|l| l.active && wanted.contains(l.alert_id.as_str()))
        {
            l.active = false;
            l.history.push((
                LinkEvent::SplitTo {
                    incident: new_id.clone(),
                },
                by.clone(),
            ));
            let mut m = l.clone();
            m.active = true;
            m.history.push((
                LinkEvent::SplitFrom {
                    incident: self.id.clone(),
                },
                by.clone(),
            ));
            n.severity = n.severity.max(m.level);
            n.first_seen = Some(n.first_seen.map_or(m.timestamp, |t| t.min(m.timestamp)));
            n.last_seen = Some(n.last_seen.map_or(m.timestamp, |t| t.max(m.timestamp)));
            n.alerts.push(m);
        }
        // Observables that came from a moved alert go along with it.
        let moved: HashSet<&str> = wanted;
        for o in &self.observables {
            for s in &o.sources {
                if let ObservableSource::Alert { alert_id } = s {
                    if moved.contains(alert_id.as_str()) {
                        n.note_observable(o.kind, o.value.clone(), s.clone());
                    }
                }
            }
        }
        // … and leave this one, unless other sources still vouch for them.
        for o in &mut self.observables {
            let before = o.sources.len();
            o.sources.retain(|s| {
                !matches!(s, ObservableSource::Alert { alert_id } if moved.contains(alert_id.as_str()))
            });
            o.seen = o.seen.saturating_sub((before - o.sources.len()) as u64);
        }
        self.observables.retain(|o| !o.sources.is_empty());
        self.push(
            Action::Split {
                to: new_id.clone(),
                alerts: moving,
            },
            by.clone(),
        )?;
        n.push(
            Action::SplitFrom {
                from: self.id.clone(),
            },
            by,
        )?;
        Ok(n)
    }
}

/// A task template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTemplate {
    pub phase: Status,
    pub title: Text,
}

#[derive(Debug, Clone, Deserialize)]
struct Playbook {
    category: String,
    tasks: Vec<TaskTemplate>,
}

#[derive(Debug, Clone, Deserialize)]
struct PlaybookFile {
    playbooks: Vec<Playbook>,
}

/// Task templates per category (`data/playbooks.yaml`).
#[derive(Debug, Clone)]
pub struct Playbooks {
    by_category: HashMap<String, Vec<TaskTemplate>>,
}

const PLAYBOOKS_FILE: &str = "data/playbooks.yaml";
const PLAYBOOKS_YAML: &str = include_str!("../data/playbooks.yaml");

impl Playbooks {
    pub fn builtin() -> &'static Playbooks {
        static P: OnceLock<Playbooks> = OnceLock::new();
        P.get_or_init(|| {
            Playbooks::from_yaml(PLAYBOOKS_FILE, PLAYBOOKS_YAML)
                .expect("the built-in playbooks are checked by the tests")
        })
    }

    pub fn from_yaml(file: &str, text: &str) -> Result<Playbooks, DataError> {
        let f: PlaybookFile = parse_yaml(file, text)?;
        let mut by_category: HashMap<String, Vec<TaskTemplate>> = HashMap::new();
        let mut n = 0;
        for (i, p) in f.playbooks.into_iter().enumerate() {
            n += p.tasks.len();
            if n > crate::category::MAX_ENTRIES {
                return Err(DataError::invalid(
                    file,
                    format!("playbooks[{i}]"),
                    "too many tasks",
                ));
            }
            by_category.entry(p.category).or_default().extend(p.tasks);
        }
        Ok(Playbooks { by_category })
    }

    /// The tasks for every incident, then the category's own.
    pub fn tasks_for<'a>(
        &'a self,
        category: Option<&str>,
    ) -> impl Iterator<Item = &'a TaskTemplate> {
        let all = self.by_category.get("*").into_iter().flatten();
        let own = category
            .and_then(|c| self.by_category.get(c))
            .into_iter()
            .flatten();
        all.chain(own)
    }
}

/// Incidents that share observables with one another, found through an
/// index of observable → incidents.
#[derive(Debug, Default)]
pub struct ObservableIndex {
    postings: HashMap<(ObservableKind, String), Vec<String>>,
}

/// An observable in more incidents than this (a DNS server, a proxy)
/// says nothing about similarity and is left out of it.
pub const MAX_POSTINGS: usize = 1_000;

/// A similar incident and what it shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Similar {
    pub incident: String,
    pub shared: Vec<(ObservableKind, String)>,
}

impl ObservableIndex {
    pub fn new() -> ObservableIndex {
        ObservableIndex::default()
    }

    pub fn insert(&mut self, incident: &Incident) {
        for o in &incident.observables {
            let v = self.postings.entry((o.kind, o.value.clone())).or_default();
            if !v.contains(&incident.id) && v.len() <= MAX_POSTINGS {
                v.push(incident.id.clone());
            }
        }
    }

    /// The other incidents where one observable was seen (for "seen in").
    pub fn seen_in(&self, kind: ObservableKind, value: &str, except: &str) -> Vec<&str> {
        self.postings
            .get(&(kind, normalise_observable(kind, value.trim())))
            .map(|v| {
                v.iter()
                    .map(String::as_str)
                    .filter(|i| *i != except)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Incidents sharing observables with `incident`, most shared first,
    /// at most `limit`.
    pub fn similar(&self, incident: &Incident, limit: usize) -> Vec<Similar> {
        let mut acc: HashMap<&str, Vec<(ObservableKind, String)>> = HashMap::new();
        for o in &incident.observables {
            let Some(ids) = self.postings.get(&(o.kind, o.value.clone())) else {
                continue;
            };
            if ids.len() > MAX_POSTINGS {
                continue;
            }
            for id in ids.iter().filter(|i| **i != incident.id) {
                acc.entry(id).or_default().push((o.kind, o.value.clone()));
            }
        }
        let mut v: Vec<Similar> = acc
            .into_iter()
            .map(|(id, shared)| Similar {
                incident: id.to_string(),
                shared,
            })
            .collect();
        v.sort_by(|a, b| {
            b.shared
                .len()
                .cmp(&a.shared.len())
                .then(a.incident.cmp(&b.incident))
        });
        v.truncate(limit);
        v
    }
}
