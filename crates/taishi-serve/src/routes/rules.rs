//! Detection rules: list, read, upload, validate, switch, reload, delete.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{bad, blocking, internal, page, Access, ApiError, Page, Route, R, S};
use crate::auth::{self, Caller, Permission as P};
use crate::App;
use taishi_runtime::RuleInfo;

pub fn routes() -> Vec<Route> {
    let read = Access::Needs(P::RulesRead);
    let write = Access::Needs(P::RulesWrite);
    vec![
        Route::new(Method::GET, "/rules", read, list_rules)
            .doc("rules", "List rules with health", "规则列表及运行状况")
            .query::<RuleQuery>()
            .answer::<Page<RuleInfo>>(),
        Route::new(Method::POST, "/rules", write, upload_rules)
            .upload()
            .doc(
                "rules",
                "Upload rules (YAML text, or JSON {files:[{name,content}]})",
                "上传规则（YAML 文本，或 JSON {files:[{name,content}]}）",
            )
            .json_or_raw::<UploadFiles>(&["application/yaml", "text/plain"])
            .answer::<UploadAnswer>(),
        Route::new(Method::POST, "/rules/validate", read, validate_rule)
            .doc("rules", "Validate rule YAML", "校验规则 YAML")
            .raw(&["application/yaml", "text/plain"])
            .answer::<Validation>(),
        Route::new(Method::POST, "/rules/reload", write, reload_rules)
            .doc(
                "rules",
                "Re-read the configured rule paths",
                "重新读取配置的规则路径",
            )
            .answer::<Reloaded>(),
        Route::new(Method::GET, "/rules/{id}", read, get_rule)
            .doc(
                "rules",
                "One rule with its YAML and health",
                "单条规则及其 YAML 和运行状况",
            )
            .answer::<RuleDetail>(),
        Route::new(Method::DELETE, "/rules/{id}", write, delete_rule).doc(
            "rules",
            "Delete an uploaded rule",
            "删除上传的规则",
        ),
        Route::new(Method::POST, "/rules/{id}/enable", write, enable_rule)
            .doc("rules", "Enable a rule", "启用规则")
            .answer::<Option<RuleInfo>>(),
        Route::new(Method::POST, "/rules/{id}/disable", write, disable_rule)
            .doc("rules", "Disable a rule", "停用规则")
            .answer::<Option<RuleInfo>>(),
    ]
}

#[derive(Deserialize, JsonSchema)]
pub struct RuleQuery {
    /// Text in the title, the id or a tag.
    pub q: Option<String>,
    /// Minimum level.
    pub level: Option<String>,
    pub enabled: Option<bool>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// A rule as one organisation has it: switched off when it, or the
/// nearest organisation above it that said anything, switched it off.
fn as_seen_by(app: &App, org: &str, mut r: RuleInfo) -> RuleInfo {
    if org != crate::state::ROOT_ORG {
        r.enabled = r.enabled && app.gate.current().rule_on(org, &r.id);
    }
    r
}

async fn list_rules(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<RuleQuery>,
) -> R<Json<Page<RuleInfo>>> {
    blocking(move || {
        let needle = q.q.as_deref().unwrap_or("").to_lowercase();
        let min = q
            .level
            .as_deref()
            .and_then(taishi_alert::Level::parse)
            .unwrap_or_default();
        let mut items: Vec<_> = app
            .rules
            .infos()
            .into_iter()
            .map(|r| as_seen_by(&app, c.acting_org(), r))
            .filter(|r| {
                (needle.is_empty()
                    || r.title.to_lowercase().contains(&needle)
                    || r.id.to_lowercase().contains(&needle)
                    || r.tags.iter().any(|t| t.to_lowercase().contains(&needle)))
                    && r.level >= min
                    && q.enabled.is_none_or(|e| r.enabled == e)
            })
            .collect();
        items.sort_by(|a, b| {
            b.health
                .hits
                .cmp(&a.health.hits)
                .then_with(|| a.title.cmp(&b.title))
        });
        let (limit, offset) = page(&app, q.limit, q.offset, 50, 1000)?;
        let total = items.len() as u64;
        let items: Vec<_> = items.into_iter().skip(offset).take(limit).collect();
        Ok(Json(Page { total, items }))
    })
    .await
}

/// A rule with its file as text.
#[derive(Serialize, JsonSchema)]
pub struct RuleDetail {
    #[serde(flatten)]
    pub rule: RuleInfo,
    pub yaml: Option<String>,
}

async fn get_rule(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<RuleDetail>> {
    blocking(move || {
        let rule = as_seen_by(&app, c.acting_org(), find(&app, &id)?);
        let yaml = std::fs::read_to_string(&rule.path).ok();
        Ok(Json(RuleDetail { rule, yaml }))
    })
    .await
}

fn find(app: &App, id: &str) -> R<RuleInfo> {
    app.rules
        .infos()
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no rule `{id}`")))
}

fn disabled_set(app: &App) -> R<HashSet<String>> {
    Ok(app
        .state
        .rule_switches()?
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(id, _)| id)
        .collect())
}

/// What a reload loaded.
#[derive(Serialize, JsonSchema)]
pub struct Reloaded {
    /// Rules read.
    pub loaded: usize,
    /// Rules running.
    pub compiled: usize,
    pub rejected: Vec<Rejected>,
}

#[derive(Serialize, JsonSchema)]
pub struct Rejected {
    /// The file (and document) that was refused.
    pub name: String,
    pub reason: String,
}

fn reload(app: &App) -> R<Reloaded> {
    let d = app.rules.reload(&disabled_set(app)?)?;
    Ok(Reloaded {
        loaded: d.infos.len(),
        compiled: d.engine.active_rules(),
        rejected: d
            .rejected
            .iter()
            .map(|(p, r)| Rejected {
                name: p.to_string(),
                reason: r.to_string(),
            })
            .collect(),
    })
}

/// Switches a rule. At the top organisation the switch is the platform's
/// (the rule stops running); below it, the switch is the acting
/// organisation's override for itself and those below it (the rule keeps
/// running for the rest of the tree).
async fn switch_rule(app: S, c: Caller, id: String, on: bool) -> R<Json<Option<RuleInfo>>> {
    blocking(move || {
        find(&app, &id)?;
        let org = c.acting_org().to_string();
        if org == crate::state::ROOT_ORG {
            app.state.set_rule_enabled(&id, on)?;
            reload(&app)?;
        } else {
            app.state.set_org_rule(&org, &id, Some(on))?;
            app.gate.reload(&app.state)?;
        }
        Ok(Json(
            app.rules
                .infos()
                .into_iter()
                .find(|r| r.id == id)
                .map(|r| as_seen_by(&app, &org, r)),
        ))
    })
    .await
}

async fn enable_rule(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<Option<RuleInfo>>> {
    switch_rule(app, c, id, true).await
}

async fn disable_rule(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<Option<RuleInfo>>> {
    switch_rule(app, c, id, false).await
}

async fn reload_rules(State(app): State<S>) -> R<Json<Reloaded>> {
    blocking(move || reload(&app).map(Json)).await
}

/// What validating rule text found.
#[derive(Serialize, JsonSchema)]
pub struct Validation {
    pub ok: bool,
    pub errors: Vec<RuleProblem>,
    /// The first rule of the text.
    pub rule: Option<RuleRef>,
    /// Rules and correlations in the text.
    pub rules: usize,
}

#[derive(Serialize, JsonSchema)]
pub struct RuleProblem {
    /// The file (`<upload>` for text sent to validate).
    pub path: String,
    /// 1-based document of a multi-document text.
    pub document: usize,
    /// 1-based line and column of the fault in the text, when known: the
    /// editor marks the place from these fields.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What kind of fault: `yaml`, `rule`, `condition`, `correlation` …
    pub kind: String,
    pub message: String,
}

const UPLOAD: &str = "<upload>";

impl RuleProblem {
    fn at(document: usize, at: Option<(usize, usize)>, kind: &str, message: String) -> RuleProblem {
        RuleProblem {
            path: UPLOAD.into(),
            document,
            line: at.map(|a| a.0),
            column: at.map(|a| a.1),
            kind: kind.into(),
            message,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct RuleRef {
    pub id: Option<String>,
    pub title: String,
}

fn validate_text(text: &str, limits: taishi_sigma::LoadLimits) -> Validation {
    let mut set = taishi_sigma::RuleSet {
        limits,
        ..Default::default()
    };
    set.add_yaml(text, UPLOAD);
    let mut errors: Vec<RuleProblem> = set
        .rejected
        .iter()
        .map(|r| {
            RuleProblem::at(
                r.document,
                r.line.zip(r.column),
                r.kind.as_str(),
                r.reason.clone(),
            )
        })
        .collect();
    for c in &set.correlations {
        if let Err(e) = taishi_correlation::parse_correlation(&c.doc) {
            let at = taishi_sigma::load::locate(text, c.document, &["correlation".into()]);
            errors.push(RuleProblem::at(
                c.document,
                at,
                "correlation",
                e.to_string(),
            ));
        }
    }
    if set.rules.is_empty() && set.correlations.is_empty() && errors.is_empty() {
        errors.push(RuleProblem::at(
            1,
            None,
            "rule",
            "no rule in the text".into(),
        ));
    }
    Validation {
        ok: errors.is_empty(),
        rule: set.rules.first().map(|r| RuleRef {
            id: r.meta.id.clone(),
            title: r.meta.title.clone(),
        }),
        rules: set.rules.len() + set.correlations.len(),
        errors,
    }
}

async fn validate_rule(State(app): State<S>, body: Bytes) -> R<Json<Validation>> {
    let limits = app.config.detection.load_limits();
    if body.len() > limits.max_file_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the rule is {} bytes, more than the limit of {} (`[detection] max_rule_file_bytes` in the server config); split it into several files",
                body.len(),
                limits.max_file_bytes
            ),
        ));
    }
    // Parsing a rule is CPU work (YAML, conditions, modifiers): off the
    // async workers, like every other handler that computes.
    blocking(move || {
        let text = std::str::from_utf8(&body).map_err(|_| bad("the rule must be UTF-8 text"))?;
        Ok(Json(validate_text(text, limits)))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct UploadFiles {
    pub files: Vec<UploadFile>,
}

#[derive(Deserialize, JsonSchema)]
pub struct UploadFile {
    pub name: String,
    /// The rule YAML.
    pub content: String,
}

/// Files stored and files refused (with the validation errors).
#[derive(Serialize, JsonSchema)]
pub struct UploadAnswer {
    pub loaded: Vec<String>,
    pub rejected: Vec<UploadRejected>,
}

#[derive(Serialize, JsonSchema)]
pub struct UploadRejected {
    pub name: String,
    /// The `errors` of the validation.
    pub reason: Vec<RuleProblem>,
}

fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !(s.ends_with(".yml") || s.ends_with(".yaml")) {
        s.push_str(".yml");
    }
    s.trim_start_matches('.').to_string()
}

async fn upload_rules(
    State(app): State<S>,
    headers: HeaderMap,
    body: Bytes,
) -> R<Json<UploadAnswer>> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let files: Vec<UploadFile> = if is_json {
        serde_json::from_slice::<UploadFiles>(&body)
            .map_err(|e| bad(format!("body: {e}")))?
            .files
    } else {
        let text =
            String::from_utf8(body.to_vec()).map_err(|_| bad("the rule must be UTF-8 text"))?;
        vec![UploadFile {
            name: format!("upload-{}.yml", auth::random_hex(6)),
            content: text,
        }]
    };
    blocking(move || {
        let mut loaded = Vec::new();
        let mut rejected = Vec::new();
        for f in files {
            let v = validate_text(&f.content, app.config.detection.load_limits());
            if !v.ok {
                rejected.push(UploadRejected {
                    name: f.name,
                    reason: v.errors,
                });
                continue;
            }
            let path = app.rules.uploaded_dir().join(safe_name(&f.name));
            std::fs::write(&path, &f.content).map_err(internal)?;
            loaded.push(f.name);
        }
        if !loaded.is_empty() {
            reload(&app)?;
        }
        Ok(Json(UploadAnswer { loaded, rejected }))
    })
    .await
}

async fn delete_rule(State(app): State<S>, Path(id): Path<String>) -> R<StatusCode> {
    blocking(move || {
        let info = find(&app, &id)?;
        if info.origin != "uploaded" {
            return Err(bad(
                "only uploaded rules can be deleted; disable a configured rule instead",
            ));
        }
        std::fs::remove_file(&info.path).map_err(internal)?;
        reload(&app)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
