//! Alerts: lists, groups, one alert, and triage.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use taishi_alert::{AlertKind, AlertStatus, Resolution};

use super::{bad, blocking, page, time_arg, Access, Items, Page, Route, R, S};
use crate::auth::{Caller, Permission as P};
use crate::state::{Alert, AlertFilter, AlertGroup, AlertTime, Comment};
use crate::App;

pub fn routes() -> Vec<Route> {
    let read = Access::Needs(P::AlertsRead);
    let write = Access::Needs(P::AlertsWrite);
    vec![
        Route::new(Method::GET, "/alerts", read, list_alerts)
            .doc(
                "alerts",
                "List alerts with filters and sort",
                "按条件筛选并排序的告警列表",
            )
            .query::<AlertQuery>()
            .answer::<Page<Alert>>(),
        Route::new(Method::GET, "/alerts/groups", read, alert_groups)
            .doc(
                "alerts",
                "Alert counts grouped by rule, host or source",
                "按规则、主机或来源分组的告警数",
            )
            .query::<AlertQuery>()
            .answer::<Items<AlertGroup>>(),
        Route::new(Method::GET, "/alerts/assignees", write, assignees)
            .doc(
                "alerts",
                "Users an alert may be assigned to (they can work alerts and see it)",
                "可分配告警的用户（能处置告警且能看到该告警）",
            )
            .query::<AssigneeQuery>()
            .answer::<Items<Assignee>>(),
        Route::new(Method::GET, "/alerts/{id}", read, get_alert)
            .doc(
                "alerts",
                "One alert with its comments and rule",
                "单条告警及其评论和规则",
            )
            .answer::<AlertDetail>(),
        Route::new(Method::POST, "/alerts/{id}/ack", write, ack_alert)
            .doc(
                "alerts",
                "Acknowledge (takes an unassigned alert)",
                "确认告警（未分配的告警归确认人）",
            )
            .answer::<Alert>(),
        Route::new(Method::POST, "/alerts/{id}/assign", write, assign_alert)
            .doc(
                "alerts",
                "Assign to a user, or unassign with null",
                "分配给用户，null 表示取消分配",
            )
            .json::<Assign>()
            .answer::<Alert>(),
        Route::new(Method::POST, "/alerts/{id}/close", write, close_alert)
            .doc(
                "alerts",
                "Close as true or false positive",
                "以真阳性或误报关闭",
            )
            .json::<Close>()
            .answer::<Alert>(),
        Route::new(Method::POST, "/alerts/{id}/reopen", write, reopen_alert)
            .doc("alerts", "Reopen", "重新打开")
            .answer::<Alert>(),
        Route::new(Method::POST, "/alerts/{id}/comments", write, comment_alert)
            .doc("alerts", "Comment", "添加评论")
            .json::<NewComment>()
            .answer::<Comment>(),
    ]
}

#[derive(Deserialize, JsonSchema)]
pub struct AlertQuery {
    /// `new`, `acknowledged` or `closed`.
    pub status: Option<String>,
    /// Minimum level.
    pub level: Option<String>,
    pub rule_id: Option<String>,
    pub host: Option<String>,
    pub source_ip: Option<String>,
    /// What raised it: `sigma`, `correlation`, `intel`, `search`, `anomaly` or `pii`.
    pub kind: Option<AlertKind>,
    /// The account the alert is about (its event's user role).
    pub user: Option<String>,
    /// Its source or destination address.
    pub ip: Option<String>,
    /// Text in the title or the host.
    pub q: Option<String>,
    /// `time`, `-time`, `level` or `-level`.
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Which time `from`, `to` and the time sort read: `detected` (default:
    /// when Taishi raised the alert) or `event` (when its event happened).
    pub time: Option<AlertTime>,
    /// Groups only: `rule`, `host` or `source`.
    pub by: Option<String>,
}

/// An alert the caller may see: one of an organisation in its scope (any
/// other is answered as missing, so ids of siblings' alerts tell nothing).
pub(crate) fn visible_alert(app: &App, c: &Caller, id: &str) -> R<Alert> {
    let a = app.state.alert(id)?;
    if !c
        .scope
        .contains(a.org.as_deref().unwrap_or(crate::state::ROOT_ORG))
    {
        return Err(crate::state::StateError::NotFound(format!("no alert `{id}`")).into());
    }
    Ok(a)
}

impl AlertQuery {
    fn filter(&self, app: &App, c: &Caller) -> R<AlertFilter> {
        let (limit, offset) = page(app, self.limit, self.offset, 50, 1000)?;
        let us = |param, s: &Option<String>| {
            time_arg(param, s.as_deref()).map(|t| t.map(|t| t.timestamp_micros()))
        };
        Ok(AlertFilter {
            status: self.status.clone(),
            level: self.level.clone(),
            rule_id: self.rule_id.clone(),
            host: self.host.clone(),
            source_ip: self.source_ip.clone(),
            kind: self.kind.map(|k| k.name().to_string()),
            user: self.user.clone(),
            ip: self.ip.clone(),
            q: self.q.clone(),
            sort: self.sort.clone(),
            limit: Some(limit),
            offset: Some(offset),
            from_us: us("from", &self.from)?,
            to_us: us("to", &self.to)?,
            time: self.time.unwrap_or_default(),
            scope: c.scope.clone(),
        })
    }
}

async fn list_alerts(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<AlertQuery>,
) -> R<Json<Page<Alert>>> {
    blocking(move || {
        let f = q.filter(&app, &c)?;
        let (total, items) = app.state.alerts(&f)?;
        Ok(Json(Page { total, items }))
    })
    .await
}

async fn alert_groups(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<AlertQuery>,
) -> R<Json<Items<AlertGroup>>> {
    blocking(move || {
        let f = q.filter(&app, &c)?;
        let items = app
            .state
            .alert_groups(q.by.as_deref().unwrap_or("rule"), &f)?;
        Ok(Json(Items { items }))
    })
    .await
}

/// An alert with its comments and the rule that raised it (when loaded).
#[derive(Serialize, JsonSchema)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: Alert,
    pub comments: Vec<Comment>,
    pub rule: Option<AlertRule>,
    /// The hosts, users, addresses and file hashes of the alert and its
    /// event, each a way to its events and its other alerts.
    pub pivots: Vec<Pivot>,
}

/// What a pivot is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PivotRole {
    Host,
    User,
    Source,
    Destination,
    Hash,
}

/// One value to pivot on: the event field it came from (the search
/// page's `field:value`) and the alert list's filter for "other alerts"
/// (`host`, `user`, `ip`; none for a hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Pivot {
    pub role: PivotRole,
    pub field: String,
    pub value: String,
    pub alert_filter: Option<String>,
}

/// Hash fields besides Sysmon's `Hashes` list (`SHA256=…,MD5=…`).
const HASH_FIELDS: &[&str] = &[
    "file.hash.sha256",
    "file.hash.sha1",
    "file.hash.md5",
    "process.hash.sha256",
    "process.hash.md5",
    "sha256",
    "sha1",
    "md5",
    "Hash",
];

/// Pivots shown at most (an event of many hash fields stays readable).
const MAX_PIVOTS: usize = 40;

pub fn pivots(a: &Alert) -> Vec<Pivot> {
    use taishi_event::roles;
    let ev = &a.event;
    let text =
        |f: &str| crate::state::exceptions::event_text(ev, f).filter(|s| !s.is_empty() && s != "-");
    // "Other alerts" filters the alert list's columns, which hold the
    // first value of each role: other values of a role (a second user
    // field) get "search events" only.
    let user = crate::state::alert_user(ev);
    let column = |role| match role {
        PivotRole::Host => a.host.clone(),
        PivotRole::User => user.clone(),
        PivotRole::Source => a.source_ip.clone(),
        PivotRole::Destination => a.destination_ip.clone(),
        PivotRole::Hash => None,
    };
    let mut out: Vec<Pivot> = Vec::new();
    let mut push = |role, field: &str, value: String, filter: Option<&str>| {
        if out.len() < MAX_PIVOTS && !out.iter().any(|p| p.role == role && p.value == value) {
            let filter = filter.filter(|_| column(role).as_deref() == Some(value.as_str()));
            out.push(Pivot {
                role,
                field: field.into(),
                value,
                alert_filter: filter.map(str::to_string),
            });
        }
    };
    for (role, names, filter) in [
        (PivotRole::Host, roles::HOST, "host"),
        (PivotRole::User, roles::USER, "user"),
        (PivotRole::Source, roles::SOURCE_IP, "ip"),
        (PivotRole::Destination, roles::DESTINATION_IP, "ip"),
    ] {
        for f in names {
            if let Some(v) = text(f) {
                push(role, f, v, Some(filter));
            }
        }
    }
    // The alert's own columns, when its event did not carry them as such
    // (a correlation's group, an intel match).
    for (role, v, field, filter) in [
        (PivotRole::Host, &a.host, "host.name", "host"),
        (PivotRole::Source, &a.source_ip, "source.ip", "ip"),
        (
            PivotRole::Destination,
            &a.destination_ip,
            "destination.ip",
            "ip",
        ),
    ] {
        if let Some(v) = v.clone().filter(|v| !v.is_empty()) {
            push(role, field, v, Some(filter));
        }
    }
    if let Some(list) = text("Hashes") {
        // Sysmon: `SHA1=…,MD5=…,SHA256=…,IMPHASH=…`; searched as a
        // wildcard on the list, since the values are not fields of their own.
        for part in list.split(',').take(8) {
            if let Some((_, h)) = part.split_once('=') {
                push(PivotRole::Hash, "Hashes", h.trim().to_string(), None);
            }
        }
    }
    for f in HASH_FIELDS {
        if let Some(v) = text(f) {
            push(PivotRole::Hash, f, v, None);
        }
    }
    out
}

#[derive(Serialize, JsonSchema)]
pub struct AlertRule {
    pub id: String,
    pub title: String,
    /// The title in zh-CN, where Taishi has one.
    pub title_zh: Option<String>,
    pub description: Option<String>,
    pub level: taishi_alert::Level,
    pub tags: Vec<String>,
    /// The rule's file as text, when readable.
    pub yaml: Option<String>,
    pub enabled: bool,
}

async fn get_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<AlertDetail>> {
    blocking(move || {
        let alert = visible_alert(&app, &c, &id)?;
        let comments = app.state.comments(&id)?;
        let rule = app
            .rules
            .infos()
            .into_iter()
            .find(|r| r.id == alert.rule_id)
            .map(|r| AlertRule {
                yaml: std::fs::read_to_string(&r.path).ok(),
                id: r.id,
                title: r.title,
                title_zh: r.title_zh,
                description: r.description,
                level: r.level,
                tags: r.tags,
                enabled: r.enabled,
            });
        Ok(Json(AlertDetail {
            pivots: pivots(&alert),
            alert,
            comments,
            rule,
        }))
    })
    .await
}

async fn ack_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<Alert>> {
    blocking(move || {
        let cur = visible_alert(&app, &c, &id)?;
        // Acknowledging an unassigned alert takes it.
        let assign = cur.assignee.is_none().then_some(Some(c.username.as_str()));
        Ok(Json(app.state.update_alert(
            &id,
            Some(AlertStatus::Acknowledged),
            None,
            assign,
        )?))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct Assign {
    /// A username, or null to unassign.
    pub assignee: Option<String>,
}

async fn assign_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(a): Json<Assign>,
) -> R<Json<Alert>> {
    blocking(move || {
        let alert = visible_alert(&app, &c, &id)?;
        if let Some(u) = &a.assignee {
            let Some(user) = app.state.user(u)?.filter(|u| c.scope.contains(&u.org)) else {
                return Err(bad(format!("assignee: no user `{u}` / 没有用户 `{u}`")));
            };
            if !can_work(&app, &user, &alert) {
                return Err(bad(format!(
                    "assignee: `{u}` cannot see or work this alert / 用户 `{u}` 无法查看或处置此告警"
                )));
            }
        }
        Ok(Json(app.state.update_alert(
            &id,
            None,
            None,
            Some(a.assignee.as_deref()),
        )?))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct AssigneeQuery {
    /// Only users who can see this alert.
    pub alert_id: Option<String>,
}

/// A user who can work alerts.
#[derive(Serialize, JsonSchema)]
pub struct Assignee {
    pub username: String,
    pub org: String,
}

/// Whether `user` may hold `alert`: enabled, granted `alerts:write`, and
/// of the alert's organisation or one above it.
fn can_work(app: &App, user: &crate::state::User, alert: &Alert) -> bool {
    let org = alert.org.as_deref().unwrap_or(crate::state::ROOT_ORG);
    !user.disabled
        && super::grants(app, &user.roles).is_ok_and(|g| g.has(P::AlertsWrite))
        && app.gate.current().within(org, &user.org)
}

async fn assignees(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<AssigneeQuery>,
) -> R<Json<Items<Assignee>>> {
    blocking(move || {
        let alert = match &q.alert_id {
            Some(id) => Some(visible_alert(&app, &c, id)?),
            None => None,
        };
        let items = app
            .state
            .users(&c.scope)?
            .into_iter()
            .filter(|u| match &alert {
                Some(a) => can_work(&app, u, a),
                None => {
                    !u.disabled
                        && super::grants(&app, &u.roles).is_ok_and(|g| g.has(P::AlertsWrite))
                }
            })
            .map(|u| Assignee {
                username: u.username,
                org: u.org,
            })
            .collect();
        Ok(Json(Items { items }))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct Close {
    /// `true_positive` or `false_positive`.
    pub resolution: String,
    pub comment: Option<String>,
    /// False positive only: a rule exception made in the same call, so
    /// the next alert of this rule with these field values is not raised.
    pub exception: Option<super::exceptions::ExceptionSpec>,
}

async fn close_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(b): Json<Close>,
) -> R<Json<Alert>> {
    let resolution = Resolution::parse(&b.resolution)
        .ok_or_else(|| bad("resolution: true_positive or false_positive"))?;
    if b.exception.is_some() && resolution != Resolution::FalsePositive {
        return Err(bad(
            "exception: only when closing as a false positive / 仅在以误报关闭时可添加例外",
        ));
    }
    blocking(move || {
        let alert = visible_alert(&app, &c, &id)?;
        // The exception first: if its values are refused, the alert stays
        // open and the analyst can correct them.
        if let Some(spec) = &b.exception {
            super::exceptions::make(
                &app,
                &c,
                alert.org.as_deref().unwrap_or(crate::state::ROOT_ORG),
                &alert.rule_id,
                spec,
                b.comment.clone(),
                Some(id.clone()),
            )?;
        }
        if let Some(t) = b.comment.as_deref().filter(|t| !t.trim().is_empty()) {
            app.state.add_comment(&id, &c.username, t)?;
        }
        Ok(Json(app.state.update_alert(
            &id,
            Some(AlertStatus::Closed),
            Some(Some(resolution)),
            None,
        )?))
    })
    .await
}

async fn reopen_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<Alert>> {
    blocking(move || {
        visible_alert(&app, &c, &id)?;
        Ok(Json(app.state.update_alert(
            &id,
            Some(AlertStatus::New),
            Some(None),
            None,
        )?))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct NewComment {
    pub text: String,
}

async fn comment_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(b): Json<NewComment>,
) -> R<Json<Comment>> {
    if b.text.trim().is_empty() {
        return Err(bad("text: empty comment"));
    }
    blocking(move || {
        visible_alert(&app, &c, &id)?;
        Ok(Json(app.state.add_comment(&id, &c.username, &b.text)?))
    })
    .await
}
