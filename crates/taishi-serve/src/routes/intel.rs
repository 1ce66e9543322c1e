//! Threat intelligence: sources, indicators, imports, scheduled feeds and
//! the hits of an indicator.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::intel::{FeedStatus, IntelStatus};

use super::{bad, blocking, internal, page, Access, ApiError, Items, Page, Route, R, S};
use crate::auth::{Caller, Permission as P};
use crate::state::{Alert, IntelHitCount};
use taishi_intel::{ImportReport, Indicator};

pub fn routes() -> Vec<Route> {
    let read = Access::Needs(P::IntelRead);
    let write = Access::Needs(P::IntelWrite);
    let feeds = Access::Needs(P::IntelFeeds);
    vec![
        Route::new(Method::GET, "/intel", read, intel_status)
            .doc(
                "intel",
                "Indicator sources with counts, the matcher's size and the number of feeds",
                "情报来源及数量、匹配器规模和订阅源数",
            )
            .answer::<IntelStatus>(),
        Route::new(Method::GET, "/intel/indicators", read, intel_indicators)
            .doc(
                "intel",
                "Search indicators, each with hits and last hit",
                "搜索指标，附命中数和最近命中时间",
            )
            .query::<IntelQuery>()
            .answer::<Page<IndicatorHits>>(),
        Route::new(Method::POST, "/intel/import", write, intel_import)
            .upload()
            .doc(
                "intel",
                "Import a feed file as source ?name= (?format=stix|misp-event|feodo|urlhaus|threatfox|malwarebazaar|text|csv…); a retro-hunt follows",
                "以 ?name= 为来源导入情报文件（?format=stix|misp-event|…）；随后进行回溯检测",
            )
            .query::<ImportQuery>()
            .raw(&["application/json", "text/plain", "text/csv", "application/octet-stream"])
            .answer::<ImportAnswer>(),
        Route::new(Method::GET, "/intel/feeds", read, intel_feeds)
            .doc(
                "intel",
                "Scheduled feeds with last pull, last success, counts, last error and next pull",
                "定时订阅源及最近拉取、最近成功、数量、最近错误和下次拉取",
            )
            .answer::<Items<FeedStatus>>(),
        Route::new(Method::POST, "/intel/feeds", feeds, intel_add_feed)
            .doc(
                "intel",
                "Add a scheduled feed {name, kind: url|misp-feed|taxii|misp-rest, url, format?, interval_secs, auth?}",
                "添加定时订阅源 {name, kind: url|misp-feed|taxii|misp-rest, url, format?, interval_secs, auth?}",
            )
            .json::<taishi_intel::Feed>()
            .created::<FeedStatus>(),
        Route::new(Method::DELETE, "/intel/feeds/{name}", feeds, intel_delete_feed).doc(
            "intel",
            "Remove a feed and its indicators",
            "删除订阅源及其指标",
        ),
        Route::new(Method::POST, "/intel/feeds/{name}/pull", write, intel_pull_feed)
            .doc(
                "intel",
                "Pull a feed now (502 with the feed's error when the pull fails); a retro-hunt follows",
                "立即拉取订阅源（失败时返回 502 及错误）；随后进行回溯检测",
            )
            .answer::<ImportAnswer>(),
        Route::new(Method::GET, "/intel/hits", read, intel_hits)
            .doc(
                "intel",
                "The intel alerts of one indicator, newest first",
                "某个指标的情报告警，最新在前",
            )
            .query::<HitsQuery>()
            .answer::<Page<Alert>>(),
        Route::new(Method::GET, "/intel/hits/top", read, intel_hits_top)
            .doc("intel", "Indicators by number of hits", "按命中数排序的指标")
            .query::<TopQuery>()
            .answer::<Items<IntelHitCount>>(),
    ]
}

/// Whether the caller may see a source: one of its own organisations'
/// (or below), or one shared down to it from above (the top's are
/// everyone's). A sibling's source is absent.
fn source_visible(app: &crate::App, c: &Caller, source: &str) -> bool {
    let gate = app.gate.current();
    match gate.source_org(source) {
        None => true,
        Some(owner) => c.scope.contains(owner) || gate.source_applies(source, c.acting_org()),
    }
}

/// Whether the caller may change a source: one of its organisations'
/// (the top's: only callers who see the top).
fn source_owned(app: &crate::App, c: &Caller, source: &str) -> R<()> {
    let owner = app
        .gate
        .current()
        .source_org(source)
        .unwrap_or(crate::state::ROOT_ORG)
        .to_string();
    if c.scope.contains(&owner) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no intel source `{source}` of yours"),
        ))
    }
}

async fn intel_status(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
) -> R<Json<IntelStatus>> {
    blocking(move || {
        let mut st = app.intel.sources();
        st.sources.retain(|name, _| source_visible(&app, &c, name));
        Ok(Json(st))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct IntelQuery {
    /// Text in the value, name, malware or labels.
    pub q: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub source: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// An indicator with its hits.
#[derive(Serialize, JsonSchema)]
pub struct IndicatorHits {
    #[serde(flatten)]
    pub indicator: Indicator,
    pub hits: u64,
    pub last_hit: Option<String>,
}

/// Indicator search, each with its hits and last hit.
async fn intel_indicators(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<IntelQuery>,
) -> R<Json<Page<IndicatorHits>>> {
    blocking(move || {
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let (limit, offset) = page(&app, q.limit, q.offset, 50, 1000)?;
        let query = crate::intel::IndicatorQuery {
            q: q.q.unwrap_or_default(),
            kind: nonempty(q.kind),
            source: nonempty(q.source),
            limit,
            offset,
        };
        if query
            .source
            .as_deref()
            .is_some_and(|s| !source_visible(&app, &c, s))
        {
            return Ok(Json(Page {
                total: 0,
                items: Vec::new(),
            }));
        }
        let (mut total, mut items) = app.intel.search(&query).map_err(feed_error)?;
        // Indicators of a sibling's source are left out (the total counts
        // what was left out of this page too).
        let before = items.len();
        items.retain(|i| source_visible(&app, &c, &i.source));
        total -= (before - items.len()) as u64;
        let values: Vec<&str> = items.iter().map(|i| i.value.as_str()).collect();
        let hits = app.state.intel_hit_counts(&values, &c.scope)?;
        let items = items
            .into_iter()
            .map(|indicator| {
                let (hits, last_hit) = hits.get(&indicator.value).cloned().unwrap_or((0, None));
                IndicatorHits {
                    indicator,
                    hits,
                    last_hit,
                }
            })
            .collect();
        Ok(Json(Page { total, items }))
    })
    .await
}

async fn intel_feeds(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
) -> R<Json<Items<FeedStatus>>> {
    blocking(move || {
        let mut items = app.intel.feed_status().map_err(feed_error)?;
        items.retain(|f| source_visible(&app, &c, &f.name));
        Ok(Json(Items { items }))
    })
    .await
}

async fn intel_add_feed(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> R<(StatusCode, Json<FeedStatus>)> {
    let feed: taishi_intel::Feed = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "feed: {e} (send {{\"name\", \"kind\": \"url|misp-feed|taxii|misp-rest\", \"url\", \"interval_secs\"}})"
        ))
    })?;
    // What a pull records is not the caller's to set.
    let feed = taishi_intel::Feed {
        last_pull: None,
        cursor: None,
        last_error: None,
        ..feed
    };
    blocking(move || {
        own_source(&app, &c, &feed.name)?;
        app.intel
            .add_feed(feed)
            .map(|v| (StatusCode::CREATED, Json(v)))
            .map_err(feed_error)
    })
    .await
}

/// An intel error as an answer: the caller's fault is a 4xx that says
/// which, a feed server's failure a 502.
fn feed_error(e: crate::intel::IntelError) -> ApiError {
    use crate::intel::IntelError;
    let code = match &e {
        IntelError::NotFound(_) => StatusCode::NOT_FOUND,
        IntelError::Exists(_) => StatusCode::CONFLICT,
        IntelError::Invalid(_) => StatusCode::BAD_REQUEST,
        IntelError::Pull(_) => StatusCode::BAD_GATEWAY,
        _ if e.over_limit() => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(code, e.to_string())
}

async fn intel_delete_feed(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> R<StatusCode> {
    blocking(move || {
        source_owned(&app, &c, &name)?;
        app.intel.remove_feed(&name).map_err(feed_error)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// What an import or pull brought, and the retro-hunt it started.
#[derive(Serialize, JsonSchema)]
pub struct ImportAnswer {
    /// Serialised before the report moves to the retro-hunt.
    #[schemars(with = "ImportReport")]
    pub report: serde_json::Value,
    pub retro_hunt: RetroHunt,
}

#[derive(Serialize, JsonSchema)]
pub struct RetroHunt {
    /// New indicators looked for in the stored events.
    pub indicators: usize,
    pub window_days: i64,
}

/// Answers an import or pull, then retro-hunts its new indicators in the
/// background.
fn imported(app: &S, report: ImportReport) -> R<Json<ImportAnswer>> {
    let out = ImportAnswer {
        report: serde_json::to_value(&report).map_err(internal)?,
        retro_hunt: RetroHunt {
            indicators: report.new_indicators.len(),
            window_days: app.intel.retro_window.num_days(),
        },
    };
    crate::spawn_retro_hunt(app, report);
    Ok(Json(out))
}

/// Pulls a feed now; its new indicators are then retro-hunted in the
/// background, as after an import.
async fn intel_pull_feed(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> R<Json<ImportAnswer>> {
    blocking(move || {
        source_owned(&app, &c, &name)?;
        let report = app.intel.pull_feed(&name).map_err(feed_error)?;
        imported(&app, report)
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct HitsQuery {
    /// The indicator's value, e.g. `1.2.3.4`.
    pub indicator: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

async fn intel_hits(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<HitsQuery>,
) -> R<Json<Page<Alert>>> {
    let indicator = q
        .indicator
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("indicator: give the indicator value, e.g. ?indicator=1.2.3.4"))?;
    blocking(move || {
        let (limit, offset) = page(&app, q.limit, q.offset, 50, 1000)?;
        let (total, items) = app.state.intel_hits(&indicator, limit, offset, &c.scope)?;
        Ok(Json(Page { total, items }))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct TopQuery {
    /// Default 10.
    pub limit: Option<usize>,
}

async fn intel_hits_top(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<TopQuery>,
) -> R<Json<Items<IntelHitCount>>> {
    blocking(move || {
        Ok(Json(Items {
            items: app.state.intel_top(q.limit.unwrap_or(10), &c.scope)?,
        }))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct ImportQuery {
    /// The source name the indicators are kept under.
    pub name: String,
    pub format: Option<String>,
}

/// Records that a source belongs to the acting organisation: its
/// indicators then apply to that organisation's events and those below
/// (a source of the top organisation applies to all). A member cannot
/// take over a source another organisation already owns.
fn own_source(app: &crate::App, c: &Caller, name: &str) -> R<()> {
    let gate = app.gate.current();
    // A source that exists without an owner row is the top's.
    let owner = gate.source_org(name).map(str::to_string).or_else(|| {
        app.intel
            .sources()
            .sources
            .contains_key(name)
            .then(|| crate::state::ROOT_ORG.to_string())
    });
    match owner {
        // Ours (or below): it keeps its owner.
        Some(owner) if c.scope.contains(&owner) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("intel source `{name}` belongs to another organisation; choose another name"),
        )),
        None => {
            app.state.set_source_org(name, c.acting_org())?;
            app.gate.reload(&app.state)?;
            Ok(())
        }
    }
}

/// Imports a feed file; a retro-hunt for the new indicators follows in the
/// background and raises retrospective alerts.
async fn intel_import(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> R<Json<ImportAnswer>> {
    blocking(move || {
        own_source(&app, &c, &q.name)?;
        let report = app
            .intel
            .import_bytes(&q.name, q.format.as_deref(), &body)
            .map_err(|e| {
                // Past a limit the upload itself is the problem: 413; any
                // other import failure is the file's (400).
                let code = if e.over_limit() {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                };
                ApiError::new(code, e.to_string())
            })?;
        imported(&app, report)
    })
    .await
}
