//! Risk assessment (风险评估, issue 15): assets, vulnerabilities, the risk
//! ranking and early warnings. Reading needs `assets:read`, imports and
//! remediation `assets:write`. Every list is scoped to the caller's
//! organisation and those below it; imports land in the acting
//! organisation. The logic is in `taishi_assess` and the pure crates.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use taishi_risk::{rollup, RiskScore, Warning};
use taishi_state::risk::{
    AssetFilter, AssetRow, AttackRow, FindingFilter, FindingRow, WarningFilter, WarningRow,
};

use super::{blocking, Access, ApiError, Object, Page, Route, R, S};
use crate::auth::{Caller, Permission as P};
use taishi_assess::{
    AssetImportAnswer, FeedImportAnswer, FindingDoc, FindingExplanation, RiskError,
    ScanImportAnswer,
};
use taishi_state::risk_nvd::AssetChangeRow;

/// Assets listed with their factors per business system in the ranking.
const RANKED_ASSETS: usize = 50;
/// Assets read for the ranking's roll-ups.
const MAX_RANKED: usize = 100_000;
/// Identities an asset's row in the list shows.
const MAX_LISTED_IDENTITIES: usize = 8;
/// Score history rows an asset's page shows.
const HISTORY: usize = 200;

const FILES: &[&str] = &[
    "text/csv",
    "application/json",
    "application/xml",
    "text/xml",
    "text/plain",
    "application/octet-stream",
];

pub fn routes() -> Vec<Route> {
    let read = Access::Needs(P::AssetsRead);
    let write = Access::Needs(P::AssetsWrite);
    vec![
        Route::new(Method::GET, "/assets", read, list_assets)
            .doc(
                "risk",
                "Assets of your organisation and those below it, highest risk score first (filter by business system or an identity: `ip:10.0.0.5`, `host:web01`, or a bare address or name)",
                "本组织及下级组织的资产，按风险分从高到低（可按业务系统或标识筛选：ip:10.0.0.5、host:web01，或直接写地址、主机名）",
            )
            .query::<AssetFilter>()
            .answer::<Page<AssetListRow>>(),
        Route::new(Method::POST, "/assets", write, import_assets)
            .upload()
            .doc(
                "risk",
                "Import an asset inventory into your organisation: CSV or JSON (the documented column mapping, Chinese or English headers) or Nmap XML (?format=csv|json|nmap, detected when absent; ?name= the file name); assets sharing a MAC, FQDN or recent IP merge",
                "向本组织导入资产清单：CSV 或 JSON（按文档中的列映射，中英文表头均可）或 Nmap XML（?format=csv|json|nmap，缺省自动识别；?name= 文件名）；共用 MAC、域名或近期 IP 的资产合并",
            )
            .query::<ImportQuery>()
            .raw(FILES)
            .answer::<AssetImportAnswer>(),
        Route::new(Method::GET, "/assets/{id}", read, get_asset)
            .doc(
                "risk",
                "One asset: the register's record (identities, owner, business system, importance, exposure, software, each value with its provenance), its findings, the alerts and intel hits on it, its risk score history with factors, its warnings",
                "单个资产：资产登记内容（标识、负责人、业务系统、重要性、暴露面、软件，每项附来源），漏洞发现，相关告警与情报命中，风险分历史及其因素，预警",
            )
            .answer::<AssetView>(),
        Route::new(Method::POST, "/assets/{id}/merge", write, merge_asset)
            .doc(
                "risk",
                "Merge another asset of your organisation into this one by hand (with a reason): its identities, values, findings, scores and alerts join this asset; who, when and why are kept",
                "手工将本组织的另一资产并入此资产（须写明原因）：其标识、属性、漏洞、风险分与告警归入此资产；记录操作人、时间与原因",
            )
            .json::<MergeRequest>()
            .answer::<AssetChangeRow>(),
        Route::new(Method::POST, "/assets/{id}/split", write, split_asset)
            .doc(
                "risk",
                "Split identities off this asset into a new one by hand (with a reason); the values only those identities' sources gave move with them, and the two are never merged again automatically; who, when and why are kept",
                "手工将部分标识从此资产拆分为新资产（须写明原因）；仅由这些标识的来源提供的属性随之移出，此后两者不再自动合并；记录操作人、时间与原因",
            )
            .json::<SplitRequest>()
            .answer::<AssetChangeRow>(),
        Route::new(Method::POST, "/vulns/import", write, import_scan)
            .upload()
            .doc(
                "risk",
                "Import a scanner report into your organisation: Nmap XML (vulners), Greenbone/OpenVAS XML, Nessus, Trivy JSON, Grype JSON or CSV (detected); the same finding from two scanners is one; findings of the same scanner absent from a rescan of an asset become fixed (?external=true: the scan ran from outside, its open ports are exposure)",
                "向本组织导入漏洞扫描报告：Nmap XML（vulners）、Greenbone/OpenVAS XML、Nessus、Trivy JSON、Grype JSON 或 CSV（自动识别）；两个扫描器的同一漏洞合为一条；同一扫描器复扫中不再出现的漏洞标为已修复（?external=true：外部扫描，开放端口计为暴露面）",
            )
            .query::<ScanQuery>()
            .raw(FILES)
            .answer::<ScanImportAnswer>(),
        Route::new(Method::POST, "/vulns/feeds/{kind}", write, import_feed)
            .upload()
            .doc(
                "risk",
                "Import a vulnerability feed file (air-gapped networks): `kev` (CISA KEV JSON or CSV), `epss` (FIRST EPSS CSV) or `nvd` (NVD CVE API 2.0: a page, or a JSON array of pages or records; gzip accepted); the findings it concerns are re-prioritised, and a new KEV entry or a large EPSS rise on an asset raises a warning sent through the alert outputs. `nvd`: every asset's software (CPE) is matched, each match a finding of source `nvd` with its explanation, and `nvd` findings the records no longer support become fixed",
                "导入漏洞情报文件（适用于隔离网络）：kev（CISA KEV 的 JSON 或 CSV）、epss（FIRST EPSS CSV）或 nvd（NVD CVE API 2.0：单页，或多页/多条记录组成的 JSON 数组；可为 gzip）；相关漏洞重新评定优先级，新列入 KEV 或 EPSS 大幅上升且命中资产时产生预警并经告警输出发送。nvd：以全部资产的软件（CPE）匹配，每条匹配为来源 nvd 的漏洞发现并附匹配依据；记录不再支持的 nvd 发现标为已修复",
            )
            .query::<FeedQuery>()
            .raw(FILES)
            .answer::<FeedImportAnswer>(),
        Route::new(Method::GET, "/vulns", read, list_vulns)
            .doc(
                "risk",
                "Vulnerability findings of your organisation and those below it, KEV first then by priority (filter by CVE, asset, status — `unresolved` for open, in progress and accepted — or KEV only)",
                "本组织及下级组织的漏洞发现，KEV 优先，其次按优先级（可按 CVE、资产、状态（unresolved 为待处理、处理中与已接受）或仅 KEV 筛选）",
            )
            .query::<FindingFilter>()
            .answer::<Page<FindingView>>(),
        Route::new(Method::POST, "/vulns/{id}/status", write, set_status)
            .doc(
                "risk",
                "Set a finding's remediation: open, in_progress, accepted (with approver and expiry), fixed or false_positive; the asset's score is recomputed",
                "设置漏洞处置状态：open、in_progress、accepted（须填审批人与到期时间）、fixed 或 false_positive；随后重算资产风险分",
            )
            .json::<StatusRequest>()
            .answer::<FindingRow>(),
        Route::new(Method::GET, "/risk", read, ranking)
            .doc(
                "risk",
                "The risk ranking: organisation → business system → asset, each with its score and the factors it is made of",
                "风险排行：组织 → 业务系统 → 资产，各带分数及其构成因素",
            )
            .answer::<RiskView>(),
        Route::new(Method::GET, "/risk/warnings", read, list_warnings)
            .doc(
                "risk",
                "Early warnings (预警) 红/橙/黄/蓝, highest level first, each with what happened, why this level and the recommended action in zh-CN and English (filter by level and above, or asset)",
                "预警（红/橙/黄/蓝），按级别从高到低，每条含事由、定级理由及中英文处置建议（可按级别及以上或资产筛选）",
            )
            .query::<WarningFilter>()
            .answer::<Page<WarningView>>(),
    ]
}

// ---- request and answer shapes ------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ImportQuery {
    /// csv, json or nmap; detected when absent.
    #[serde(default)]
    pub format: Option<String>,
    /// The file name (kept in each value's provenance).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ScanQuery {
    #[serde(default)]
    pub name: Option<String>,
    /// The scan ran from outside: its open ports are exposure.
    #[serde(default)]
    pub external: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FeedQuery {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MergeRequest {
    /// The asset merged into this one (it is gone afterwards).
    pub other: i64,
    /// Why (kept with the change).
    pub reason: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SplitRequest {
    /// The identities that move to the new asset (`ip:10.0.0.5`,
    /// `mac:…`, `host:web01`, `fqdn:…`).
    pub identities: Vec<String>,
    /// Why (kept with the change).
    pub reason: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct StatusRequest {
    /// open, in_progress, accepted, fixed, false_positive.
    pub status: String,
    /// accepted: who approved the risk.
    #[serde(default)]
    pub approver: Option<String>,
    /// accepted: until when (RFC 3339).
    #[serde(default)]
    pub until: Option<String>,
}

/// An asset as the console's list shows it: the row and what the list
/// needs from the record (identities, 等保 and data level) and its count of
/// unresolved findings.
#[derive(Serialize, JsonSchema)]
pub struct AssetListRow {
    #[serde(flatten)]
    pub row: AssetRow,
    /// `ip:10.0.0.5`, `host:web01`, …, at most 8.
    pub identities: Vec<String>,
    /// 等保 level 1–5.
    pub dengbao: Option<u8>,
    /// general, important, core (GB/T 43697-2024).
    pub data_level: Option<String>,
    /// Open, in progress and accepted findings.
    pub open_findings: u64,
}

/// A finding as the console's list shows it: the row, the asset's name and
/// the inputs of its priority that the list shows beside it.
#[derive(Serialize, JsonSchema)]
pub struct FindingView {
    #[serde(flatten)]
    pub row: FindingRow,
    pub asset_name: Option<String>,
    /// The CVSS base score used (v4.0 or v3.x).
    pub cvss: Option<f64>,
    /// The EPSS probability (0–1).
    pub epss: Option<f64>,
    /// In KEV with known ransomware use.
    pub ransomware: bool,
    /// The priority in one line (SSVC decision, priority, deadline).
    pub summary: Option<taishi_risk::BiText>,
    /// CNVD and CNNVD ids, where the reports gave them.
    pub cn_ids: Vec<String>,
}

/// One score of an asset's history.
#[derive(Serialize, JsonSchema)]
pub struct ScoreView {
    pub at: String,
    pub score: f64,
    /// import, scan, feed, alert <id>, status.
    pub reason: String,
    /// The score's factors; `factors.score` recomputes from them.
    pub factors: RiskScore,
}

/// An asset as its page shows it.
#[derive(Serialize, JsonSchema)]
pub struct AssetView {
    pub asset: AssetRow,
    /// The register's record (`taishi_asset::Asset`): identities, services,
    /// software, tags, each with its provenance.
    pub record: Object,
    /// With the priority's inputs, as the vulnerability list has them.
    pub findings: Vec<FindingView>,
    /// Why each finding of source `nvd` applies: the configuration, the
    /// nodes and entries met, the version comparisons.
    pub explanations: Vec<FindingExplanation>,
    /// Merges and splits by hand it took part in (who, when, why), newest
    /// first.
    pub changes: Vec<AssetChangeRow>,
    /// Alerts and intel hits on it of the last 30 days, newest first.
    pub alerts: Vec<AttackRow>,
    /// Newest first.
    pub history: Vec<ScoreView>,
    pub warnings: Vec<WarningView>,
}

/// A warning with its text.
#[derive(Serialize, JsonSchema)]
pub struct WarningView {
    pub id: String,
    pub org: String,
    pub status: String,
    pub created: String,
    pub warning: Warning,
}

/// An asset in the ranking.
#[derive(Serialize, JsonSchema)]
pub struct RankedAsset {
    pub id: i64,
    pub name: Option<String>,
    pub score: RiskScore,
}

/// A business system in the ranking.
#[derive(Serialize, JsonSchema)]
pub struct RankedSystem {
    /// Empty: assets with no business system.
    pub name: String,
    pub score: RiskScore,
    pub assets_total: usize,
    /// The highest, at most 50.
    pub assets: Vec<RankedAsset>,
}

/// An organisation in the ranking.
#[derive(Serialize, JsonSchema)]
pub struct RankedOrg {
    pub org: String,
    pub score: RiskScore,
    pub systems: Vec<RankedSystem>,
}

#[derive(Serialize, JsonSchema)]
pub struct RiskView {
    /// Highest first.
    pub orgs: Vec<RankedOrg>,
}

// ---- handlers ----------------------------------------------------------------

impl From<RiskError> for ApiError {
    fn from(e: RiskError) -> Self {
        match e {
            RiskError::State(e) => e.into(),
            RiskError::Input(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
            RiskError::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, m),
        }
    }
}

fn file_name(n: Option<String>, default: &str) -> String {
    n.filter(|n| !n.trim().is_empty())
        .map(|n| n.chars().take(256).collect())
        .unwrap_or_else(|| default.to_string())
}

/// A finding with its asset's name and its priority's inputs, read from
/// its stored document (`taishi_assess::FindingDoc`).
fn finding_view(row: FindingRow, doc: Option<&str>, asset_name: Option<String>) -> FindingView {
    let doc = doc.and_then(|d| serde_json::from_str::<FindingDoc>(d).ok());
    let factor = |key: &str| {
        doc.as_ref().and_then(|d| {
            d.priority
                .factors
                .iter()
                .find(|f| f.key == key)
                .map(|f| f.value.clone())
        })
    };
    FindingView {
        asset_name,
        cvss: factor("cvss").and_then(|v| v.parse().ok()),
        epss: factor("epss").and_then(|v| v.parse().ok()),
        ransomware: factor("ransomware").as_deref() == Some("true"),
        summary: doc.as_ref().map(|d| {
            taishi_risk::BiText::new(d.priority.summary.zh.clone(), d.priority.summary.en.clone())
        }),
        cn_ids: doc
            .as_ref()
            .and_then(|d| d.finding.as_ref())
            .map(|f| f.cn_ids())
            .unwrap_or_default(),
        row,
    }
}

fn warning_view(r: WarningRow) -> Option<WarningView> {
    Some(WarningView {
        warning: serde_json::from_str(&r.doc).ok()?,
        id: r.id,
        org: r.org,
        status: r.status,
        created: r.created,
    })
}

async fn list_assets(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(f): Query<AssetFilter>,
) -> R<Json<Page<AssetListRow>>> {
    blocking(move || {
        let (total, rows) = app.state.assets(&f, &c.scope)?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let (_, doc) = app.state.asset(row.id, &c.scope)?;
            let rec: serde_json::Value = serde_json::from_str(&doc).unwrap_or_default();
            let identities = rec["identities"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|i| {
                            Some(format!(
                                "{}:{}",
                                i["value"]["kind"].as_str()?,
                                i["value"]["value"].as_str()?
                            ))
                        })
                        .take(MAX_LISTED_IDENTITIES)
                        .collect()
                })
                .unwrap_or_default();
            let unresolved = FindingFilter {
                asset: Some(row.id),
                status: Some("unresolved".into()),
                limit: Some(1),
                ..Default::default()
            };
            let open_findings = app.state.findings(&unresolved, &c.scope)?.0;
            items.push(AssetListRow {
                dengbao: rec["dengbao"]["value"].as_u64().map(|v| v as u8),
                data_level: rec["data_level"]["value"].as_str().map(str::to_string),
                identities,
                open_findings,
                row,
            });
        }
        Ok(Json(Page { total, items }))
    })
    .await
}

async fn import_assets(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> R<Json<AssetImportAnswer>> {
    blocking(move || {
        let name = file_name(q.name, "inventory");
        Ok(Json(app.risk.import_assets(
            c.acting_org(),
            &name,
            q.format.as_deref(),
            &body,
        )?))
    })
    .await
}

async fn get_asset(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> R<Json<AssetView>> {
    blocking(move || {
        let (asset, doc) = app.state.asset(id, &c.scope)?;
        let rows = app.state.findings_of_asset(id)?;
        let docs: Vec<(String, String)> = rows
            .iter()
            .map(|(r, d)| (r.id.clone(), d.clone()))
            .collect();
        let explanations = taishi_assess::explanations(&docs);
        let changes = app.state.asset_changes(id)?;
        let findings = rows
            .into_iter()
            .map(|(r, d)| finding_view(r, Some(&d), asset.name.clone()))
            .collect();
        let since = (chrono::Utc::now() - chrono::Duration::days(30))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let alerts = app.state.attacks(id, &since, 200)?;
        let history = app
            .state
            .scores(id, HISTORY)?
            .into_iter()
            .filter_map(|s| {
                Some(ScoreView {
                    factors: serde_json::from_str(&s.factors).ok()?,
                    at: s.at,
                    score: s.score,
                    reason: s.reason,
                })
            })
            .collect();
        let wf = WarningFilter {
            asset: Some(id),
            limit: Some(100),
            ..Default::default()
        };
        let warnings = app
            .state
            .warnings(&wf, &c.scope)?
            .1
            .into_iter()
            .filter_map(warning_view)
            .collect();
        Ok(Json(AssetView {
            asset,
            record: Object(serde_json::from_str(&doc).unwrap_or_default()),
            findings,
            explanations,
            changes,
            alerts,
            history,
            warnings,
        }))
    })
    .await
}

async fn merge_asset(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(req): Json<MergeRequest>,
) -> R<Json<AssetChangeRow>> {
    blocking(move || {
        // Both in the caller's scope: another organisation's asset is 404.
        app.state.asset(id, &c.scope)?;
        if req.reason.trim().is_empty() {
            return Err(super::bad("a reason is required / 须写明原因"));
        }
        app.state.asset(req.other, &c.scope)?;
        Ok(Json(app.risk.merge_assets(
            id,
            req.other,
            &c.username,
            &req.reason,
        )?))
    })
    .await
}

async fn split_asset(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(req): Json<SplitRequest>,
) -> R<Json<AssetChangeRow>> {
    blocking(move || {
        app.state.asset(id, &c.scope)?;
        Ok(Json(app.risk.split_asset(
            id,
            &req.identities,
            &c.username,
            &req.reason,
        )?))
    })
    .await
}

async fn import_scan(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ScanQuery>,
    body: Bytes,
) -> R<Json<ScanImportAnswer>> {
    blocking(move || {
        let name = file_name(q.name, "scan");
        Ok(Json(app.risk.import_scan(
            c.acting_org(),
            &name,
            q.external.unwrap_or(false),
            &body,
        )?))
    })
    .await
}

async fn import_feed(
    State(app): State<S>,
    Path(kind): Path<String>,
    Query(q): Query<FeedQuery>,
    body: Bytes,
) -> R<Json<FeedImportAnswer>> {
    blocking(move || {
        let name = file_name(q.name, &kind);
        Ok(Json(app.risk.import_feed(&kind, &name, &body)?))
    })
    .await
}

async fn list_vulns(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(f): Query<FindingFilter>,
) -> R<Json<Page<FindingView>>> {
    blocking(move || {
        let (total, rows) = app.state.findings(&f, &c.scope)?;
        // The page's assets, each read once: their names and their
        // findings' documents (the priority's inputs).
        let mut assets: BTreeMap<i64, (Option<String>, BTreeMap<String, String>)> = BTreeMap::new();
        for r in &rows {
            if assets.contains_key(&r.asset_id) {
                continue;
            }
            let name = app
                .state
                .asset(r.asset_id, &c.scope)
                .ok()
                .and_then(|(a, _)| a.name);
            let docs = app
                .state
                .findings_of_asset(r.asset_id)?
                .into_iter()
                .map(|(f, d)| (f.id, d))
                .collect();
            assets.insert(r.asset_id, (name, docs));
        }
        let items = rows
            .into_iter()
            .map(|row| {
                let (name, docs) = &assets[&row.asset_id];
                let doc = docs.get(&row.id).map(String::as_str);
                finding_view(row, doc, name.clone())
            })
            .collect();
        Ok(Json(Page { total, items }))
    })
    .await
}

async fn set_status(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(req): Json<StatusRequest>,
) -> R<Json<FindingRow>> {
    blocking(move || {
        // Kept in UTC, as deadlines are, so that the overdue check can
        // compare them.
        let until = match req.until.as_deref() {
            None => None,
            Some(u) => Some(
                chrono::DateTime::parse_from_rfc3339(u)
                    .map_err(|_| {
                        super::bad(format!(
                            "until `{u}`: an RFC 3339 time with its zone / until `{u}`：须为带时区的 RFC 3339 时间"
                        ))
                    })?
                    .with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
        };
        let row = app.state.set_finding_status(
            &id,
            &c.scope,
            &req.status,
            req.approver.as_deref(),
            until.as_deref(),
        )?;
        app.risk.rescore(row.asset_id, "status")?;
        Ok(Json(row))
    })
    .await
}

async fn ranking(State(app): State<S>, Extension(c): Extension<Caller>) -> R<Json<RiskView>> {
    blocking(move || {
        let rows = app.state.asset_rows(&c.scope, MAX_RANKED)?;
        // org → system → assets (rows come highest score first).
        let mut tree: BTreeMap<String, BTreeMap<String, Vec<AssetRow>>> = BTreeMap::new();
        for r in rows {
            tree.entry(r.org.clone())
                .or_default()
                .entry(r.business_system.clone().unwrap_or_default())
                .or_default()
                .push(r);
        }
        let mut orgs = Vec::new();
        for (org, systems) in tree {
            let mut ranked = Vec::new();
            for (name, assets) in systems {
                let members: Vec<(String, f64)> =
                    assets.iter().map(|a| (a.id.to_string(), a.score)).collect();
                let mut top = Vec::new();
                for a in assets.iter().take(RANKED_ASSETS) {
                    let score = app
                        .state
                        .scores(a.id, 1)?
                        .into_iter()
                        .next()
                        .and_then(|s| serde_json::from_str(&s.factors).ok())
                        .unwrap_or_else(|| RiskScore::from_factors(0, Vec::new()));
                    top.push(RankedAsset {
                        id: a.id,
                        name: a.name.clone(),
                        score,
                    });
                }
                ranked.push(RankedSystem {
                    score: rollup(&members, 1),
                    name,
                    assets_total: assets.len(),
                    assets: top,
                });
            }
            ranked.sort_by(|a, b| b.score.score.total_cmp(&a.score.score));
            let members: Vec<(String, f64)> = ranked
                .iter()
                .map(|s| (s.name.clone(), s.score.score))
                .collect();
            orgs.push(RankedOrg {
                score: rollup(&members, 1),
                org,
                systems: ranked,
            });
        }
        orgs.sort_by(|a, b| b.score.score.total_cmp(&a.score.score));
        Ok(Json(RiskView { orgs }))
    })
    .await
}

async fn list_warnings(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(f): Query<WarningFilter>,
) -> R<Json<Page<WarningView>>> {
    blocking(move || {
        let (total, rows) = app.state.warnings(&f, &c.scope)?;
        Ok(Json(Page {
            total,
            items: rows.into_iter().filter_map(warning_view).collect(),
        }))
    })
    .await
}
