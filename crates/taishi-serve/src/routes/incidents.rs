//! Incidents (事件处置, issue 14): the queue, one incident with what the
//! console shows beside it (timeline, "seen in" other incidents, category
//! suggestions, the grade and its deciding row, the reporting clock), the
//! analyst's actions, and the Art. 7 report as JSON. The model and its
//! rules are `taishi_incident`'s; this module loads, applies and stores.
//!
//! Reading needs `incidents:read`, changing `incidents:write`. Every call
//! is scoped: a sibling organisation's incident answers 404. Every change
//! names the version it read (optional; without it the latest is changed)
//! and a stale one answers 409. The guard audits every change; an action
//! also records what it did (`AuditChange`).

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as J};
use taishi_incident::grade::Matched;
use taishi_incident::incident::{Pap, ReportSent, TaskStatus, TimelineItem, Tlp};
use taishi_incident::{
    Actor, Art7Report, Categories, CategoryMapping, Clock, Grade, GradingInput, GradingTable,
    Incident, IncidentError, Lang, ObservableKind, Playbooks, Provenance, ReportDraft, ReportKind,
    Status, Suggestion, SummaryReport, Text,
};
use taishi_state::{IncidentFilter, IncidentSummary, Scope, StateError, StoredIncident};

use super::audit::AuditChange;
use super::{bad, blocking, Access, ApiError, Object, Page, Route, R, S};
use crate::auth::{Caller, Permission as P};
use crate::App;

/// Alerts one create or split names at most.
const MAX_ALERTS_PER_CALL: usize = 1_000;
/// Other incidents listed per observable.
const SEEN_IN: usize = 20;

pub fn routes() -> Vec<Route> {
    let read = Access::Needs(P::IncidentsRead);
    let write = Access::Needs(P::IncidentsWrite);
    vec![
        Route::new(Method::GET, "/incidents", read, list)
            .doc(
                "incidents",
                "Incidents of your organisation and those below it (filter by status — `open` for all but closed —, severity and above, owner, category, an alert they hold; sort by updated, discovered or severity)",
                "本组织及下级组织的安全事件（可按状态（open 为未关闭）、严重程度及以上、负责人、分类、所含告警筛选；按更新时间、发现时间或严重程度排序）",
            )
            .query::<IncidentFilter>()
            .answer::<Page<QueueItem>>(),
        Route::new(Method::POST, "/incidents", write, create)
            .doc(
                "incidents",
                "Create an incident from alerts (in your organisation)",
                "由告警创建安全事件",
            )
            .json::<CreateIncident>()
            .answer::<IncidentView>(),
        Route::new(Method::GET, "/incidents/{id}", read, get_one)
            .doc(
                "incidents",
                "One incident: the document (status, owner, severity, TLP/PAP, alerts with provenance, observables, tasks, category, grade, timeline), the timeline in time order, observables with the other incidents they were seen in, category suggestions, the grade's deciding row and the reporting clock",
                "单个安全事件：事件内容（状态、负责人、严重程度、TLP/PAP、告警及来源、观察项、任务、分类、定级、时间线），按时间排序的时间线、观察项在其他事件中的出现、分类建议、定级依据及报告时限",
            )
            .answer::<IncidentView>(),
        Route::new(Method::POST, "/incidents/{id}/actions", write, act)
            .doc(
                "incidents",
                "Act on an incident: transition, assign, severity, tlp (and pap), comment, add_alert, remove_alert, add_observable, confirm_category, grade (the grading inputs), playbook, task, new_fact, report_sent",
                "处置安全事件：状态流转、指派、严重程度、TLP/PAP、评论、添加/移除告警、添加观察项、确认分类、定级（定级输入）、应用预案、更新任务、新情况、记录已报送",
            )
            .json::<ActionRequest>()
            .answer::<IncidentView>(),
        Route::new(Method::POST, "/incidents/{id}/merge", write, merge)
            .doc(
                "incidents",
                "Merge another incident into this one (its alerts keep their provenance; the highest severity is kept; the other is closed)",
                "将另一事件合并到本事件（告警保留来源记录，取最高严重程度，被合并事件关闭）",
            )
            .json::<MergeRequest>()
            .answer::<IncidentView>(),
        Route::new(Method::POST, "/incidents/{id}/split", write, split)
            .doc(
                "incidents",
                "Split some of an incident's alerts into a new incident (answers the new one)",
                "将事件的部分告警拆分为新事件（返回新事件）",
            )
            .json::<SplitRequest>()
            .answer::<IncidentView>(),
        Route::new(Method::GET, "/incidents/{id}/report", read, report)
            .doc(
                "incidents",
                "The report pre-filled from the incident and the analyst's draft: `kind` first (Art. 7; items 1–2 suffice while the cause is unknown), supplement (the n-th supplementary report, `n`) or summary (the summary report after closing); `format` json (the report and what it still lacks), docx or pdf (a download, CJK font embedded; 503 naming the font package to install when the server has none); `lang` zh or en. Every export is audited (incidents.report_export)",
                "由事件及分析员草稿预填的报告：kind 为 first（第七条首次报告，原因未明时可只含第一、二项）、supplement（第 n 次补充报告）或 summary（关闭后的总结报告）；format 为 json（报告及尚缺内容）、docx 或 pdf（下载，内嵌中文字体；服务器无中文字体时返回 503 并说明应安装的字体包）；lang 为 zh 或 en。每次导出均记入审计（incidents.report_export）",
            )
            .query::<ReportQuery>()
            .answer::<ReportView>(),
        Route::new(Method::GET, "/incidents/{id}/iocs", read, iocs)
            .doc(
                "incidents",
                "The incident's observables as a block list (`format` nftables, ipset, iptables, suricata or plain; IPv4 and IPv6 apart, domains as Suricata DNS and TLS rules, hashes in plain; internal addresses left out). Audited",
                "事件观察项导出为封禁列表（format：nftables、ipset、iptables、suricata 或 plain；IPv4 与 IPv6 分开，域名生成 Suricata DNS/TLS 规则，哈希仅在 plain 中；内网地址不导出）。记入审计",
            )
            .query::<IocQuery>()
            .text("text/plain"),
        Route::new(Method::POST, "/incidents/{id}/webhook", write, webhook)
            .doc(
                "incidents",
                "Post the incident to a configured system (`[incidents.webhooks]`, through the egress guard); the timeline records it",
                "将事件推送到已配置的外部系统（[incidents.webhooks]，受出站策略约束），并记入时间线",
            )
            .json::<WebhookRequest>()
            .answer::<WebhookAnswer>(),
        Route::new(Method::POST, "/incidents/{id}/evidence", write, upload_evidence)
            .doc(
                "incidents",
                "Add an evidence file (the body, at most `http.max_upload_mib`; `name` its file name): stored with its SHA-256",
                "上传证据文件（请求体，不超过 http.max_upload_mib；name 为文件名），保存时记录 SHA-256",
            )
            .query::<EvidenceQuery>()
            .raw(&["application/octet-stream"])
            .upload()
            .answer::<IncidentView>(),
        Route::new(Method::GET, "/incidents/{id}/evidence/{n}", read, download_evidence)
            .doc(
                "incidents",
                "An evidence file, checked against its SHA-256 first: a file changed since upload answers 409 naming it. Audited",
                "下载证据文件（先校验 SHA-256，文件被改动则返回 409 并指明文件）。记入审计",
            )
            .text("application/octet-stream"),
    ]
}

// ---- request and answer shapes ------------------------------------------------

/// A new incident from alerts.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateIncident {
    /// Alert ids (1–1,000) in your organisation.
    pub alerts: Vec<String>,
    /// Defaults to the first alert's rule title.
    #[serde(default)]
    pub title: Option<String>,
    /// Why (kept in each alert's provenance).
    #[serde(default)]
    pub why: Option<String>,
}

/// One action on an incident.
#[derive(Deserialize, Serialize, JsonSchema)]
pub struct ActionRequest {
    /// The version read; a stale one answers 409. Absent: the latest.
    #[serde(default)]
    pub version: Option<i64>,
    /// Why (kept in the timeline).
    #[serde(default)]
    pub why: Option<String>,
    #[serde(flatten)]
    pub action: Action,
}

/// What to do.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// `to`: new, triage, containment, eradication, recovery, summary, closed.
    Transition {
        to: String,
    },
    /// None: unassigned.
    Assign {
        owner: Option<String>,
    },
    /// informational, low, medium, high, critical.
    Severity {
        severity: String,
    },
    /// `tlp`: clear, green, amber, amber_strict, red; `pap`: clear, green, amber, red.
    Tlp {
        #[serde(default)]
        tlp: Option<String>,
        #[serde(default)]
        pap: Option<String>,
    },
    Comment {
        text: String,
    },
    AddAlert {
        alert: String,
    },
    RemoveAlert {
        alert: String,
    },
    /// `kind`: ip, domain, hash, user, host, url.
    AddObservable {
        kind: String,
        value: String,
    },
    /// A GB/T 20986-2023 subcategory code.
    ConfirmCategory {
        code: String,
    },
    /// The grading inputs (see the grading table): the grade and the row
    /// that decided it are computed from them.
    Grade {
        input: Object,
    },
    /// The tasks of the confirmed category's playbook.
    Playbook {},
    /// `status`: open, done, skipped.
    Task {
        task: u32,
        status: String,
    },
    /// A new fact (owes a supplementary report once the first is sent).
    NewFact {
        text: String,
    },
    /// `report`: first, supplementary, summary.
    ReportSent {
        report: String,
    },
    /// What the analyst writes into the reports
    /// (`taishi_incident::ReportDraft`: place, impact, measures_taken,
    /// ransom, development, cause, attackers, paths, vulnerabilities,
    /// further_measures, support_requested, scene_preservation, other, and
    /// `summary` with cause, response, loss_and_impact, accountability,
    /// lessons, rectification); the fields given replace earlier ones.
    ReportDraft {
        draft: Object,
    },
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MergeRequest {
    /// The incident merged into this one.
    pub other: String,
    #[serde(default)]
    pub why: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SplitRequest {
    /// Alert ids moved to the new incident (some, not all).
    pub alerts: Vec<String>,
    #[serde(default)]
    pub why: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReportQuery {
    /// first (default), supplement (or supplementary), or summary.
    #[serde(default)]
    pub kind: Option<String>,
    /// json (default), docx or pdf.
    #[serde(default)]
    pub format: Option<String>,
    /// The n-th supplementary report (from 1).
    #[serde(default)]
    pub n: Option<u32>,
    /// zh (default) or en.
    #[serde(default)]
    pub lang: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct IocQuery {
    /// nftables, ipset, iptables, suricata or plain (default).
    #[serde(default)]
    pub format: Option<String>,
    /// The first Suricata rule id (default 1400000).
    #[serde(default)]
    pub sid_base: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WebhookRequest {
    /// A name of `[incidents.webhooks]`.
    pub target: String,
    #[serde(default)]
    pub why: Option<String>,
}

/// What the receiving system answered.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WebhookAnswer {
    pub target: String,
    /// Its HTTP status (2xx: taken).
    pub status: u16,
    /// The incident's version after the timeline recorded the post.
    pub version: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EvidenceQuery {
    /// The file name (its directories are dropped).
    pub name: String,
}

/// One row of the incident queue: the summary and the reporting deadline
/// that comes next (pending or overdue), so the queue sorts deadline first.
#[derive(Serialize, JsonSchema)]
pub struct QueueItem {
    #[serde(flatten)]
    pub summary: IncidentSummary,
    pub next_due: Option<taishi_incident::Due>,
}

/// An observable and the other incidents (in your scope) it was seen in.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SeenIn {
    pub kind: String,
    pub value: String,
    pub incidents: Vec<String>,
}

/// An incident as the console shows it.
#[derive(Serialize, JsonSchema)]
pub struct IncidentView {
    /// The incident document.
    pub incident: Incident,
    /// Name it in the next change.
    pub version: i64,
    /// The entity the automatic grouping filed it under (`host:ws01`).
    pub group_key: Option<String>,
    /// Alerts (at the time their event happened) and actions, in time order.
    pub timeline: Vec<Typed<TimelineItem<'static>>>,
    pub seen_in: Vec<SeenIn>,
    /// Category suggestions from the alerts' tags, best first, each with
    /// its reasons.
    pub category_suggestions: Vec<Suggestion>,
    /// The grade's deciding row, in zh-CN and English.
    pub grade_explained: Option<GradeExplained>,
    /// The reporting clock now: deadlines (first report 1/2/4 h from
    /// discovery by the organisation's reporter type once graded 较大 or
    /// above; supplementary; the 30-day summary) and their state.
    pub clock: Clock,
    /// `cii_operator`, `central_state_organ` or `other`.
    pub reporter_type: String,
    /// The systems this incident may be posted to (`[incidents.webhooks]`).
    pub webhooks: Vec<String>,
    /// What the asset register and the leak alerts say of the grading
    /// inputs (the console fills its grading form from it).
    pub grading_hints: GradingHints,
}

/// Grading inputs that Taishi knows without asking the analyst.
#[derive(Serialize, JsonSchema)]
pub struct GradingHints {
    /// The inputs filled from the register (system importance: CII flag and
    /// highest 等保 level; core or important data) and the leak alerts.
    pub input: GradingInput,
    /// The registered assets among the incident's hosts and addresses.
    pub assets: Vec<HintAsset>,
}

/// A registered asset the incident touches, with what grading reads of it.
#[derive(Serialize, JsonSchema)]
pub struct HintAsset {
    pub id: i64,
    pub name: String,
    pub cii: bool,
    pub dengbao_level: Option<u8>,
    /// `general`, `important` or `core` (GB/T 43697-2024).
    pub data_level: Option<String>,
}

/// Registered assets read for the grading hints.
const HINT_ASSETS: usize = 50;

fn grading_hints(app: &App, i: &Incident) -> R<GradingHints> {
    use taishi_asset::DataLevel;
    let of = |k: ObservableKind| {
        i.observables
            .iter()
            .filter(move |o| o.kind == k)
            .map(|o| o.value.as_str())
    };
    let ids = taishi_assess::identities_of(of(ObservableKind::Host), of(ObservableKind::Ip));
    let found = app.risk.assets_of(&i.org, &ids, HINT_ASSETS)?;
    let mut input = GradingInput {
        pi_people_leaked: i.pi_people_leaked(),
        ..GradingInput::default()
    };
    let mut assets = Vec::new();
    for a in found {
        let cii = a.cii.as_ref().is_some_and(|f| f.value);
        let dengbao_level = a.dengbao.as_ref().map(|f| f.value.get());
        let data = a.data_level.as_ref().map(|f| f.value);
        input.system.cii |= cii;
        input.system.dengbao_level = input.system.dengbao_level.max(dengbao_level);
        input.data.core |= data == Some(DataLevel::Core);
        input.data.important |= data == Some(DataLevel::Important);
        assets.push(HintAsset {
            id: a.id.0 as i64,
            name: a
                .name
                .as_ref()
                .map(|f| f.value.clone())
                .or_else(|| a.identities.first().map(|f| f.value.to_string()))
                .unwrap_or_else(|| format!("#{}", a.id.0)),
            cii,
            dengbao_level,
            data_level: data.map(|d| name(&d)),
        });
    }
    Ok(GradingHints { input, assets })
}

/// The grade and the row of the grading table that decided it.
#[derive(Serialize, JsonSchema)]
pub struct GradeExplained {
    pub grade: Grade,
    /// None for 一般 (no row met).
    pub decided_by: Option<Matched>,
    pub zh: String,
    pub en: String,
    /// Cautions (a deciding row from the draft, not the final text).
    pub warnings: Vec<Text>,
}

/// A value serialised once and documented as `T` (a borrowed view such as
/// a timeline item cannot outlive the incident it reads).
pub struct Typed<T>(J, std::marker::PhantomData<fn() -> T>);

impl<T> Typed<T> {
    /// `v` is `T` under another lifetime.
    fn of<U: Serialize>(v: &U) -> Typed<T> {
        Typed(
            serde_json::to_value(v).unwrap_or(J::Null),
            std::marker::PhantomData,
        )
    }
}

impl<T> Serialize for Typed<T> {
    fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        self.0.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Typed<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(g)
    }
}

/// The Art. 7 report and what it still lacks.
#[derive(Serialize, JsonSchema)]
pub struct ReportView {
    pub report: Object,
    /// Empty when the report may be sent.
    pub missing: Vec<String>,
}

// ---- helpers -------------------------------------------------------------------

fn parse<T: serde::de::DeserializeOwned>(field: &str, v: &str) -> R<T> {
    serde_json::from_value(J::String(v.trim().to_string())).map_err(|_| {
        bad(format!(
            "{field}: `{v}` is not a known value / {field}：`{v}` 不是有效值"
        ))
    })
}

fn incident_error(e: IncidentError) -> ApiError {
    let status = match e {
        IncidentError::Closed { .. } => axum::http::StatusCode::CONFLICT,
        _ => axum::http::StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, format!("{e} / {}", e.message(Lang::Zh)))
}

fn by(c: &Caller, why: Option<&str>) -> Provenance {
    Provenance::new(
        Actor::User(c.username.clone()),
        Utc::now().fixed_offset(),
        why.unwrap_or("").trim(),
    )
}

fn doc<T: Serialize>(v: &T) -> Object {
    Object(serde_json::to_value(v).unwrap_or(J::Null))
}

/// What the console shows of a stored incident.
fn view(app: &App, s: StoredIncident, scope: &Scope) -> R<IncidentView> {
    let i = &s.incident;
    let mut seen_in = Vec::new();
    for o in &i.observables {
        let others = app
            .state
            .incidents_seen(o.kind, &o.value, &i.id, scope, SEEN_IN)?;
        if !others.is_empty() {
            seen_in.push(SeenIn {
                kind: name(&o.kind),
                value: o.value.clone(),
                incidents: others,
            });
        }
    }
    let reporter = app.config.incidents.reporter(&i.org);
    let clock = Clock::at(
        &i.reporting_facts(),
        reporter,
        &app.config.incidents.clock_policy(),
        app.clock.now(),
    );
    let grade_explained = i.grade.as_ref().map(|g| {
        let grading = GradingTable::builtin().grade(&g.input);
        GradeExplained {
            zh: grading.explain(Lang::Zh),
            en: grading.explain(Lang::En),
            grade: grading.grade,
            decided_by: grading.decided_by,
            warnings: grading.warnings,
        }
    });
    Ok(IncidentView {
        timeline: i.timeline_view().iter().map(Typed::of).collect(),
        seen_in,
        category_suggestions: i.suggest_category(CategoryMapping::builtin(), Categories::builtin()),
        grade_explained,
        clock,
        reporter_type: name(&reporter),
        webhooks: app.config.incidents.webhooks.keys().cloned().collect(),
        grading_hints: grading_hints(app, i)?,
        version: s.version,
        group_key: s.group_key,
        incident: s.incident,
    })
}

fn name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The alert `id` if it is in `scope`. One named in a body that is not
/// there is a bad request (400), not a missing resource (the path's).
fn alert_in_scope(app: &App, id: &str, scope: &Scope) -> R<taishi_alert::Alert> {
    match app.state.alert(id) {
        Ok(a) if scope.contains(a.org.as_deref().unwrap_or(taishi_state::ROOT_ORG)) => Ok(a.alert),
        Ok(_) | Err(StateError::NotFound(_)) => Err(bad(format!(
            "alert `{id}`: no such alert in this incident's organisation / 告警 `{id}` 不存在或不属于本组织"
        ))),
        Err(e) => Err(e.into()),
    }
}

fn check_version(s: &StoredIncident, want: Option<i64>) -> R<()> {
    match want {
        Some(v) if v != s.version => Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!(
                "incident `{}` is at version {}, not {v}: reload and try again / 事件 `{}` 已是第 {} 版，请刷新后重试",
                s.incident.id, s.version, s.incident.id, s.version
            ),
        )),
        _ => Ok(()),
    }
}

fn ids_ok(ids: &[String]) -> R<()> {
    if ids.is_empty() || ids.len() > MAX_ALERTS_PER_CALL {
        return Err(bad(format!(
            "alerts: 1–{MAX_ALERTS_PER_CALL} alert ids / alerts：1–{MAX_ALERTS_PER_CALL} 个告警"
        )));
    }
    Ok(())
}

// ---- handlers --------------------------------------------------------------------

async fn list(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(f): Query<IncidentFilter>,
) -> R<Json<Page<QueueItem>>> {
    super::page(
        &app,
        f.limit,
        f.offset,
        50,
        taishi_state::incidents::MAX_PAGE,
    )?;
    blocking(move || {
        let now = app.clock.now();
        if f.sort.as_deref() == Some("deadline") {
            return Ok(Json(deadline_first(&app, f, &c.scope, now)?));
        }
        let (total, items) = app.state.incidents(&f, &c.scope)?;
        let out = queue_items(&app, items, &c.scope, now);
        Ok(Json(Page { total, items: out }))
    })
    .await
}

/// Each summary with its next deadline. A page is bounded (MAX_PAGE), so
/// one document load per row is too.
fn queue_items(
    app: &App,
    items: Vec<IncidentSummary>,
    scope: &Scope,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Vec<QueueItem> {
    items
        .into_iter()
        .map(|summary| {
            let next_due = match app.state.incident(&summary.id, scope) {
                Ok(s) => next_due(app, &s.incident, now),
                Err(_) => None,
            };
            QueueItem { summary, next_due }
        })
        .collect()
}

/// The queue in deadline order across pages: the incidents with a
/// reporting deadline still to meet (only those graded 较大 or above can
/// have one: the most recently changed `MAX_PAGE` of them are read),
/// soonest (or most overdue) first, then the most severe; after them every
/// other incident of the filter, newest change first.
fn deadline_first(
    app: &App,
    f: IncidentFilter,
    scope: &Scope,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> R<Page<QueueItem>> {
    use taishi_state::incidents::MAX_PAGE;
    let limit = f.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let offset = f.offset.unwrap_or(0);
    let reportable = IncidentFilter {
        reportable_only: true,
        limit: Some(MAX_PAGE),
        offset: Some(0),
        ..f.clone()
    };
    let (_, graded) = app.state.incidents(&reportable, scope)?;
    let mut due: Vec<QueueItem> = queue_items(app, graded, scope, now)
        .into_iter()
        .filter(|q| q.next_due.is_some())
        .collect();
    due.sort_by(|a, b| {
        let deadline = |q: &QueueItem| q.next_due.as_ref().map(|d| d.deadline);
        deadline(a)
            .cmp(&deadline(b))
            .then_with(|| severity_rank(&b.summary).cmp(&severity_rank(&a.summary)))
            .then_with(|| a.summary.id.cmp(&b.summary.id))
    });
    let n = due.len();
    let exclude = due.iter().map(|q| q.summary.id.clone()).collect();
    let mut items: Vec<QueueItem> = due.into_iter().skip(offset).take(limit).collect();
    // The rest: what the due ones leave of this page, after them in order.
    let rest = IncidentFilter {
        exclude,
        offset: Some(offset.saturating_sub(n)),
        limit: Some((limit - items.len()).max(1)),
        ..f
    };
    let (others, more) = app.state.incidents(&rest, scope)?;
    if items.len() < limit {
        items.extend(queue_items(app, more, scope, now));
    }
    Ok(Page {
        total: n as u64 + others,
        items,
    })
}

fn severity_rank(s: &IncidentSummary) -> u8 {
    taishi_alert::Level::parse(&s.severity).map_or(0, |l| l as u8)
}

/// The earliest deadline not yet met.
fn next_due(
    app: &App,
    i: &Incident,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Option<taishi_incident::Due> {
    let reporter = app.config.incidents.reporter(&i.org);
    Clock::at(
        &i.reporting_facts(),
        reporter,
        &app.config.incidents.clock_policy(),
        now,
    )
    .due
    .into_iter()
    .filter(|d| !matches!(d.state, taishi_incident::DueState::Met { .. }))
    .min_by_key(|d| d.deadline)
}

async fn get_one(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<IncidentView>> {
    blocking(move || {
        let s = app.state.incident(&id, &c.scope)?;
        Ok(Json(view(&app, s, &c.scope)?))
    })
    .await
}

async fn create(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(req): Json<CreateIncident>,
) -> R<Json<IncidentView>> {
    ids_ok(&req.alerts)?;
    blocking(move || {
        let org = c.acting_org().to_string();
        let mut alerts = Vec::with_capacity(req.alerts.len());
        for id in &req.alerts {
            let a = alert_in_scope(&app, id, &Scope::Orgs(vec![org.clone()]))?;
            alerts.push(a);
        }
        let refs: Vec<&taishi_alert::Alert> = alerts.iter().collect();
        let id = crate::incidents::new_incident_id();
        let mut inc = Incident::from_alerts(&id, &org, &refs, by(&c, req.why.as_deref()))
            .map_err(incident_error)?;
        if let Some(t) = req
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let mut titled =
                Incident::new(&id, &org, t, inc.discovered_at, by(&c, req.why.as_deref()))
                    .map_err(incident_error)?;
            for a in &refs {
                titled
                    .add_alert(a, by(&c, req.why.as_deref()))
                    .map_err(incident_error)?;
            }
            inc = titled;
        }
        app.state.create_incident(&inc, None)?;
        let s = app.state.incident(&id, &c.scope)?;
        Ok(Json(view(&app, s, &c.scope)?))
    })
    .await
}

/// Applies one action to a loaded incident.
fn apply(app: &App, c: &Caller, i: &mut Incident, req: &ActionRequest) -> R<()> {
    let p = || by(c, req.why.as_deref());
    let e = incident_error;
    match &req.action {
        Action::Transition { to } => i.transition(parse::<Status>("to", to)?, p()).map_err(e),
        Action::Assign { owner } => {
            let owner = owner
                .as_deref()
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_string);
            if let Some(o) = &owner {
                // Only someone who could see it may own it.
                let u = app.state.user(o)?.ok_or_else(|| {
                    StateError::NotFound(format!("no user `{o}` / 没有用户 `{o}`"))
                })?;
                if u.disabled || !app.state.subtree(&u.org)?.contains(&i.org) {
                    return Err(bad(format!(
                        "owner `{o}` cannot see this incident's organisation / 用户 `{o}` 无权查看本事件所属组织"
                    )));
                }
            }
            i.assign(owner, p()).map_err(e)
        }
        Action::Severity { severity } => {
            let l = taishi_alert::Level::parse(severity.trim()).ok_or_else(|| {
                bad(format!(
                    "severity `{severity}`: informational, low, medium, high or critical / 严重程度 `{severity}` 无效"
                ))
            })?;
            i.set_severity(l, p()).map_err(e)
        }
        Action::Tlp { tlp, pap } => {
            if tlp.is_none() && pap.is_none() {
                return Err(bad("tlp or pap: give at least one / 请至少给出 tlp 或 pap"));
            }
            if let Some(t) = tlp {
                i.set_tlp(parse::<Tlp>("tlp", t)?, p()).map_err(e)?;
            }
            if let Some(x) = pap {
                i.set_pap(parse::<Pap>("pap", x)?, p()).map_err(e)?;
            }
            Ok(())
        }
        Action::Comment { text } => {
            if text.trim().is_empty() {
                return Err(bad("text: empty / 评论内容为空"));
            }
            i.comment(text, p()).map_err(e)
        }
        Action::AddAlert { alert } => {
            let a = alert_in_scope(app, alert, &Scope::Orgs(vec![i.org.clone()]))?;
            if i.add_alert(&a, p()).map_err(e)? {
                i.regrade_on_pi(GradingTable::builtin(), p()).map_err(e)?;
            }
            Ok(())
        }
        Action::RemoveAlert { alert } => i.remove_alert(alert, p()).map_err(e),
        Action::AddObservable { kind, value } => i
            .add_observable(parse::<ObservableKind>("kind", kind)?, value, p())
            .map_err(e),
        Action::ConfirmCategory { code } => i
            .confirm_category(Categories::builtin(), code.trim(), p())
            .map_err(e),
        Action::Grade { input } => {
            let input: GradingInput = serde_json::from_value(input.0.clone())
                .map_err(|x| bad(format!("input: {x} / 定级输入无效：{x}")))?;
            // The people whose personal information leaked come from the
            // attached leak alerts when the analyst entered none.
            let input = i.fed_input(input);
            let grading = GradingTable::builtin().grade(&input);
            i.set_grade(&grading, input, p()).map_err(e)
        }
        Action::Playbook {} => i
            .apply_playbook(Playbooks::builtin(), p())
            .map_err(e)
            .map(|_| ()),
        Action::Task { task, status } => i
            .close_task(*task, parse::<TaskStatus>("status", status)?, p())
            .map_err(e),
        Action::NewFact { text } => i.new_fact(text, p()).map_err(e),
        Action::ReportSent { report } => i
            .record_report(parse::<ReportSent>("report", report)?, p())
            .map_err(e),
        Action::ReportDraft { draft } => {
            let d: ReportDraft = serde_json::from_value(draft.0.clone())
                .map_err(|x| bad(format!("draft: {x} / 报告草稿无效：{x}")))?;
            i.draft_report(&d, p()).map_err(e)
        }
    }
}

async fn act(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(req): Json<ActionRequest>,
) -> R<axum::response::Response> {
    blocking(move || {
        let mut s = app.state.incident(&id, &c.scope)?;
        check_version(&s, req.version)?;
        let before = json!({"status": s.incident.status, "version": s.version});
        apply(&app, &c, &mut s.incident, &req)?;
        s.version = app.state.update_incident(&s.incident, s.version)?;
        let after = serde_json::to_value(&req).unwrap_or(J::Null);
        let v = view(&app, s, &c.scope)?;
        let mut resp = Json(v).into_response();
        resp.extensions_mut().insert(AuditChange {
            before: Some(before),
            after: Some(after),
        });
        Ok(resp)
    })
    .await
}

async fn merge(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(req): Json<MergeRequest>,
) -> R<Json<IncidentView>> {
    blocking(move || {
        if req.other == id {
            return Err(bad(
                "other: an incident cannot merge into itself / 不能与自身合并",
            ));
        }
        let mut s = app.state.incident(&id, &c.scope)?;
        let mut o = match app.state.incident(&req.other, &c.scope) {
            Err(StateError::NotFound(_)) => {
                return Err(bad(format!(
                    "other: no incident `{}` you can see / 没有可见的事件 `{}`",
                    req.other, req.other
                )))
            }
            o => o?,
        };
        s.incident
            .merge(&mut o.incident, by(&c, req.why.as_deref()))
            .map_err(incident_error)?;
        // The other first: if this one then conflicts, the other's alerts
        // are still listed there (closed, merged_into set) and the analyst
        // retries; never an incident whose alerts are nowhere.
        app.state.update_incident(&o.incident, o.version)?;
        s.version = app.state.update_incident(&s.incident, s.version)?;
        Ok(Json(view(&app, s, &c.scope)?))
    })
    .await
}

async fn split(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(req): Json<SplitRequest>,
) -> R<Json<IncidentView>> {
    ids_ok(&req.alerts)?;
    blocking(move || {
        let mut s = app.state.incident(&id, &c.scope)?;
        let ids: Vec<&str> = req.alerts.iter().map(String::as_str).collect();
        let new_id = crate::incidents::new_incident_id();
        let part = s
            .incident
            .split(&ids, &new_id, by(&c, req.why.as_deref()))
            .map_err(incident_error)?;
        app.state.update_incident(&s.incident, s.version)?;
        app.state.create_incident(&part, None)?;
        let n = app.state.incident(&new_id, &c.scope)?;
        Ok(Json(view(&app, n, &c.scope)?))
    })
    .await
}

/// Which report.
enum Which {
    Art7(ReportKind),
    Summary,
}

/// The file name of a download: an ASCII one, and the Chinese one for
/// clients that read `filename*` (RFC 6266, RFC 5987).
fn disposition(id: &str, which: &Which, lang: Lang, ext: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let (en, zh) = match which {
        Which::Art7(ReportKind::First) => ("report-first".to_string(), "首次报告".to_string()),
        Which::Art7(ReportKind::Supplementary(n)) => {
            (format!("report-supplement-{n}"), format!("第{n}次补充报告"))
        }
        Which::Summary => ("report-summary".to_string(), "总结报告".to_string()),
    };
    let title = match lang {
        Lang::Zh => format!("网络安全事件报告-{safe}-{zh}.{ext}"),
        Lang::En => format!("incident-{safe}-{en}.{ext}"),
    };
    let mut pct = String::new();
    for b in title.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            pct.push(b as char);
        } else {
            pct.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"incident-{safe}-{en}.{ext}\"; filename*=UTF-8''{pct}")
}

async fn report(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> R<axum::response::Response> {
    let which = match (q.kind.as_deref().unwrap_or("first"), q.n) {
        ("first", _) => Which::Art7(ReportKind::First),
        ("supplement" | "supplementary", n) => {
            Which::Art7(ReportKind::Supplementary(n.unwrap_or(1).clamp(1, 1_000)))
        }
        ("summary", _) => Which::Summary,
        (k, _) => {
            return Err(bad(format!(
                "kind `{k}`: first, supplement or summary / 报告类型 `{k}`：first、supplement 或 summary"
            )))
        }
    };
    let (en, format) = crate::reporting::report_options(q.lang.as_deref(), q.format.as_deref())?;
    let lang = if en { Lang::En } else { Lang::Zh };
    let a = app.clone();
    let (c2, f2) = (c.clone(), format.clone());
    let resp = blocking(move || {
        let (app, c, format) = (a, c2, f2);
        let s = app.state.incident(&id, &c.scope)?;
        let i = &s.incident;
        let unit = app
            .state
            .org(&i.org)
            .map(|o| o.name)
            .unwrap_or_else(|_| i.org.clone());
        let now = app.clock.now();
        let (json, missing, document) = match which {
            Which::Art7(kind) => {
                let r = Art7Report::prefill(i, &unit, Categories::builtin(), kind, lang);
                let missing = r.validate().err();
                (doc(&r), missing, r.document(lang, now))
            }
            Which::Summary => {
                let r = SummaryReport::prefill(i, &unit, i.reporting_facts().closed_at);
                let missing = r.validate().err();
                (
                    doc(&r),
                    missing,
                    r.document(Categories::builtin(), lang, now),
                )
            }
        };
        if format == "json" {
            let missing = missing
                .map(|e| vec![format!("{e} / {}", e.message(Lang::Zh))])
                .unwrap_or_default();
            return Ok(Json(ReportView {
                report: json,
                missing,
            })
            .into_response());
        }
        let rendered = crate::reporting::render(&app, &document, &format)?;
        let ext = rendered.2;
        Ok(crate::reporting::download(
            rendered,
            disposition(&i.id, &which, lang, ext),
        ))
    })
    .await?;
    crate::reporting::audit_export(&app, &c, peer, &uri, "incidents.report_export", &format).await;
    Ok(resp)
}

// ---- response actions: block lists, webhook ----------------------------------

/// Records a read that is itself a response action (a block list taken, an
/// evidence file downloaded): the guard audits only changes.
async fn audit_read(
    app: &App,
    c: &Caller,
    ext: &axum::http::Extensions,
    action: &str,
    target: String,
    failed: Option<&ApiError>,
) {
    let source = ext
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (outcome, reason) = match failed {
        None => (taishi_audit::Outcome::Success, None),
        Some(e) => (taishi_audit::Outcome::Failed, Some(e.message.clone())),
    };
    super::audit(
        app,
        super::Who::of(c),
        source,
        action.to_string(),
        Some(target),
        outcome,
        reason,
    )
    .await;
}

pub(super) fn attachment(name: &str) -> String {
    // RFC 6266/8187: an ASCII fallback and the UTF-8 name percent-encoded.
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut enc = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{enc}")
}

async fn iocs(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    ext: axum::http::Extensions,
    Path(id): Path<String>,
    Query(q): Query<IocQuery>,
) -> R<axum::response::Response> {
    let fmt_name = q.format.as_deref().unwrap_or("plain").trim().to_string();
    let Some(format) = taishi_incident::BlocklistFormat::parse(&fmt_name) else {
        return Err(bad(format!(
            "format `{fmt_name}`: nftables, ipset, iptables, suricata or plain / 格式 `{fmt_name}` 无效：nftables、ipset、iptables、suricata 或 plain"
        )));
    };
    let sid = q
        .sid_base
        .unwrap_or(taishi_incident::iocs::DEFAULT_SID_BASE);
    let a = app.clone();
    let (cc, iid) = (c.clone(), id.clone());
    let got = blocking(move || {
        let s = a.state.incident(&iid, &cc.scope)?;
        let now = Utc::now().fixed_offset().to_rfc3339();
        Ok(taishi_incident::blocklist(&s.incident, format, &now, sid))
    })
    .await;
    let target = format!("/api/v1/incidents/{id}/iocs?format={}", format.name());
    audit_read(
        &app,
        &c,
        &ext,
        "incidents.iocs_export",
        target,
        got.as_ref().err(),
    )
    .await;
    let text = got?;
    let ext_name = match format {
        taishi_incident::BlocklistFormat::Nftables => "nft",
        taishi_incident::BlocklistFormat::Suricata => "rules",
        _ => "txt",
    };
    let file = format!("{id}-{}.{ext_name}", format.name());
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, attachment(&file)),
        ],
        text,
    )
        .into_response())
}

async fn webhook(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(req): Json<WebhookRequest>,
) -> R<axum::response::Response> {
    // The incident first: one outside the caller's scope is absent (404),
    // whatever the target.
    let (a, cc, iid) = (app.clone(), c.clone(), id.clone());
    let s = blocking(move || Ok(a.state.incident(&iid, &cc.scope)?)).await?;
    let target = req.target.trim().to_string();
    let Some(hook) = app.config.incidents.webhooks.get(&target).cloned() else {
        return Err(bad(format!(
            "target `{target}`: not in [incidents.webhooks] / 推送目标 `{target}` 未配置"
        )));
    };
    let body = serde_json::to_vec(&json!({
        "kind": "taishi.incident",
        "sent_by": c.username,
        "sent_at": Utc::now().fixed_offset().to_rfc3339(),
        "incident": s.incident,
    }))
    .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let status = post_incident(&app, &target, &hook, body).await?;
    let (a, cc) = (app.clone(), c.clone());
    let why = req.why.clone();
    let t = target.clone();
    let version = blocking(move || {
        let mut s = a.state.incident(&id, &cc.scope)?;
        s.incident
            .record_post(&t, status, by(&cc, why.as_deref()))
            .map_err(incident_error)?;
        Ok(a.state.update_incident(&s.incident, s.version)?)
    })
    .await?;
    let mut resp = Json(WebhookAnswer {
        target: target.clone(),
        status,
        version,
    })
    .into_response();
    resp.extensions_mut().insert(AuditChange {
        before: None,
        after: Some(json!({"target": target, "status": status})),
    });
    Ok(resp)
}

/// Posts `body` to the webhook through the egress guard; a non-2xx answer
/// or a refused address is an error naming the target.
async fn post_incident(
    app: &App,
    target: &str,
    hook: &crate::config::IncidentWebhook,
    body: Vec<u8>,
) -> R<u16> {
    use taishi_egress::reqwest_guard;
    let gateway = |m: String| ApiError::new(axum::http::StatusCode::BAD_GATEWAY, m);
    let policy = std::sync::Arc::new(app.config.egress.clone());
    let timeout = std::time::Duration::from_secs(hook.timeout_secs.clamp(1, 120));
    let client = reqwest_guard::builder(policy.clone())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("taishi/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| gateway(format!("webhook `{target}`: {e}")))?;
    if let Err(e) = reqwest_guard::check_request(&policy, &hook.url) {
        // The guard's message is in both languages already.
        return Err(bad(format!(
            "webhook `{target}` / 推送目标 `{target}`: {e}"
        )));
    }
    let mut r = client
        .post(&hook.url)
        .header("content-type", "application/json; charset=utf-8");
    if let Some(var) = &hook.secret_env {
        let secret = std::env::var(var).map_err(|_| {
            gateway(format!(
                "webhook `{target}`: the environment variable {var} (secret_env) is not set / 推送目标 `{target}` 的密钥环境变量 {var} 未设置"
            ))
        })?;
        let ts = Utc::now().timestamp();
        r = r.header("x-taishi-timestamp", ts.to_string()).header(
            "x-taishi-signature",
            taishi_alert::sign::webhook(&secret, ts, &body),
        );
    }
    let resp = r
        .body(body)
        .send()
        .await
        .map_err(|e| match reqwest_guard::refusal(&e) {
            Some(x) => bad(format!("webhook `{target}` / 推送目标 `{target}`: {x}")),
            None => gateway(format!(
                "webhook `{target}`: {e} / 推送目标 `{target}` 无法送达"
            )),
        })?;
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        return Err(gateway(format!(
            "webhook `{target}` answered HTTP {status} / 推送目标 `{target}` 返回 HTTP {status}"
        )));
    }
    Ok(status)
}

// ---- evidence files ----------------------------------------------------------------

/// A path component made of an id the state layer handed out; anything
/// else (a separator, a leading dot) is refused rather than cleaned.
fn safe_component(what: &str, v: &str) -> R<()> {
    let ok = !v.is_empty()
        && v.len() <= 128
        && !v.starts_with('.')
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "{what} `{v}` cannot name a directory / {what} `{v}` 不能用作目录名"
        )))
    }
}

/// DATA_DIR/evidence/<org>/<incident>.
fn evidence_dir(app: &App, org: &str, incident: &str) -> R<std::path::PathBuf> {
    safe_component("organisation", org)?;
    safe_component("incident", incident)?;
    Ok(app.data_dir.join("evidence").join(org).join(incident))
}

fn io_error(what: &str, e: std::io::Error) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        format!("evidence: {what}: {e} / 证据文件：{what}：{e}"),
    )
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

async fn upload_evidence(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<EvidenceQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> R<Json<IncidentView>> {
    use futures_util::StreamExt;
    use sha2::Digest;
    use tokio::io::AsyncWriteExt;
    // The incident first: nothing is written for one the caller cannot see.
    let (a, cc, iid) = (app.clone(), c.clone(), id.clone());
    let s = blocking(move || Ok(a.state.incident(&iid, &cc.scope)?)).await?;
    if s.incident.status == Status::Closed {
        return Err(incident_error(IncidentError::Closed {
            incident: s.incident.id.clone(),
        }));
    }
    let dir = evidence_dir(&app, &s.incident.org, &s.incident.id)?;
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| io_error("directory", e))?;
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| io_error("random", std::io::Error::other(e)))?;
    let tmp = dir.join(format!(".upload-{}", hex(&rnd)));
    let limit = (app.config.http.max_upload_mib as u64) << 20;
    let streamed = async {
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io_error("create", e))?;
        let mut hash = sha2::Sha256::new();
        let mut size: u64 = 0;
        let mut data = body.into_data_stream();
        while let Some(chunk) = data.next().await {
            let chunk = chunk.map_err(|e| bad(format!("body: {e} / 请求体读取失败：{e}")))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "evidence over {} MiB (http.max_upload_mib) / 证据文件超过 {} MiB",
                        limit >> 20,
                        limit >> 20
                    ),
                ));
            }
            hash.update(&chunk);
            f.write_all(&chunk)
                .await
                .map_err(|e| io_error("write", e))?;
        }
        f.sync_all().await.map_err(|e| io_error("sync", e))?;
        Ok::<_, ApiError>((hex(&hash.finalize()), size))
    }
    .await;
    let (sha, size) = match streamed {
        Ok(v) => v,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    let media = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (a, cc) = (app.clone(), c.clone());
    let t = tmp.clone();
    let done = blocking(move || {
        let mut s = a.state.incident(&id, &cc.scope)?;
        let n = s
            .incident
            .add_evidence(&q.name, size, &sha, media.as_deref(), by(&cc, None))
            .map_err(incident_error)?;
        let path = dir.join(n.to_string());
        std::fs::rename(&t, &path).map_err(|e| io_error("rename", e))?;
        match a.state.update_incident(&s.incident, s.version) {
            Ok(v) => s.version = v,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e.into());
            }
        }
        view(&a, s, &cc.scope)
    })
    .await;
    if done.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    Ok(Json(done?))
}

async fn download_evidence(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    ext: axum::http::Extensions,
    Path((id, n)): Path<(String, u32)>,
) -> R<axum::response::Response> {
    use sha2::Digest;
    let (a, cc, iid) = (app.clone(), c.clone(), id.clone());
    let got = blocking(move || {
        let s = a.state.incident(&iid, &cc.scope)?;
        let e = s
            .incident
            .evidence
            .iter()
            .find(|e| e.id == n)
            .cloned()
            .ok_or_else(|| {
                StateError::NotFound(format!(
                    "incident `{iid}` has no evidence file {n} / 事件 `{iid}` 没有第 {n} 个证据文件"
                ))
            })?;
        let path = evidence_dir(&a, &s.incident.org, &s.incident.id)?.join(n.to_string());
        let bytes = std::fs::read(&path).map_err(|x| {
            ApiError::new(
                axum::http::StatusCode::CONFLICT,
                format!(
                    "evidence {n} `{}` is missing from the store ({x}) / 证据文件 {n}“{}”已丢失",
                    e.name, e.name
                ),
            )
        })?;
        let actual = hex(&sha2::Sha256::digest(&bytes));
        if actual != e.sha256 {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                format!(
                    "evidence {n} `{}` does not match the SHA-256 taken at upload ({} now {actual}): it was changed / 证据文件 {n}“{}”与上传时的 SHA-256 不一致，已被篡改",
                    e.name, e.sha256, e.name
                ),
            ));
        }
        Ok((e, bytes))
    })
    .await;
    audit_read(
        &app,
        &c,
        &ext,
        "incidents.evidence_download",
        format!("/api/v1/incidents/{id}/evidence/{n}"),
        got.as_ref().err(),
    )
    .await;
    let (e, bytes) = got?;
    Ok((
        [
            // Never the uploader's media type: the console must not render
            // evidence (an HTML file would run in its origin).
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_string(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, attachment(&e.name)),
            (
                axum::http::HeaderName::from_static("x-taishi-sha256"),
                e.sha256.clone(),
            ),
        ],
        bytes,
    )
        .into_response())
}
