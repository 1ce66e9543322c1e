//! Searching events: queries, the field list, and the events around an
//! alert. Every search runs in a slot of `crate::searches` with a budget.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::{Extension, Json};
use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use taishi_store::{Filter, SearchRequest, TimeRange};

use super::{bad, page, parse_range, Access, Flat, Route, R, S};
use crate::auth::{Caller, Permission as P};
use crate::state::Scope;
use crate::App;

pub fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::POST, "/search", Access::Needs(P::Search), search)
            .doc(
                "search",
                "Run a query (KQL filter and pipe stages) over a time range",
                "在时间范围内执行查询（KQL 过滤与管道阶段）",
            )
            .json::<SearchBody>()
            .answer::<SearchAnswer>(),
        Route::new(Method::GET, "/fields", Access::Needs(P::Search), fields)
            .doc(
                "search",
                "Fields of matching events with their top values",
                "匹配事件的字段及其高频取值",
            )
            .query::<FieldsQuery>()
            .answer::<FieldsAnswer>(),
        Route::new(
            Method::GET,
            "/alerts/{id}/related",
            Access::Needs(P::AlertsRead),
            alert_related,
        )
        .doc(
            "alerts",
            "Events before and after the alert's event",
            "告警事件前后的相关事件",
        )
        .query::<RelatedQuery>()
        .answer::<Related>(),
    ]
}

#[derive(Deserialize, JsonSchema)]
pub struct SearchBody {
    pub query: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// `taishi_search::SearchOutput` (what `taishi search --server` reads),
/// each event once, plus the console's forms of the histogram
/// (`interval_ms`, buckets with `t`).
#[derive(Serialize, JsonSchema)]
pub struct SearchAnswer {
    /// The effective time range, `from` inclusive, `to` exclusive.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub took_ms: f64,
    #[serde(flatten)]
    pub result: SearchResult,
    /// Matching events over time (searches without aggregation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    /// How the query ran (`index`, `index+aggregation`, `scan`).
    pub plan: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SearchResult {
    /// Events, newest first unless sorted, each with its `@timestamp`.
    Hits {
        /// Events matching the filter in the range (before `head`).
        total: u64,
        #[schemars(with = "Vec<Flat>")]
        events: Vec<J>,
    },
    /// The table of an aggregation or timechart.
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<J>>,
    },
}

#[derive(Serialize, JsonSchema)]
pub struct Histogram {
    pub interval_secs: u64,
    pub interval_ms: u64,
    pub buckets: Vec<Bucket>,
}

#[derive(Serialize, JsonSchema)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    /// The same as `start` (the console's name).
    pub t: DateTime<Utc>,
    pub count: u64,
}

impl SearchAnswer {
    /// The answer for one page: `offset` events skipped.
    fn new(out: taishi_search::SearchOutput, offset: usize) -> SearchAnswer {
        let result = match out.result {
            taishi_search::Output::Hits { total, mut events } => {
                events.drain(..offset.min(events.len()));
                SearchResult::Hits { total, events }
            }
            taishi_search::Output::Table { columns, rows } => SearchResult::Table { columns, rows },
        };
        SearchAnswer {
            from: out.from,
            to: out.to,
            took_ms: out.took_ms,
            result,
            histogram: out.histogram.map(|h| Histogram {
                interval_secs: h.interval_secs,
                interval_ms: h.interval_secs * 1000,
                buckets: h
                    .buckets
                    .into_iter()
                    .map(|b| Bucket {
                        start: b.start,
                        t: b.start,
                        count: b.count,
                    })
                    .collect(),
            }),
            plan: out.plan,
        }
    }
}

async fn search(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(b): Json<SearchBody>,
) -> R<Json<SearchAnswer>> {
    let searches = app.searches.clone();
    searches
        .run(move |budget| run_search(&app, &c.scope, &b, budget).map(Json))
        .await
}

/// A query that does not parse: a 400 naming its column.
pub(crate) fn query_error(e: taishi_query::Error) -> super::ApiError {
    let col = e
        .column
        .map(|c| format!(" (column {c})"))
        .unwrap_or_default();
    let mut err = bad(format!("query{col}: {}", e.message)).code(super::ErrorCode::InvalidQuery);
    if let Some(c) = e.column {
        err = err.param("column", c);
    }
    err
}

/// `POST /api/v1/search`, over the events of the organisations in `scope`.
pub fn run_search(
    app: &App,
    scope: &Scope,
    b: &SearchBody,
    budget: &taishi_store::Budget,
) -> R<SearchAnswer> {
    let limits = app.config.search.limits();
    let q = taishi_query::Query::parse_with(&b.query, Utc::now().fixed_offset(), &limits)
        .map_err(query_error)?;
    // The range is read at the query's own `now`, so `now-1h` in the body
    // and in the query text mean the same instant.
    let now = q.now();
    let time = |param: &str, s: &Option<String>| {
        s.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                taishi_query::parse_time_param(param, s, now).map_err(|e| {
                    bad(e.to_string())
                        .code(super::ErrorCode::InvalidTime)
                        .param("field", param)
                })
            })
            .transpose()
    };
    let range = taishi_query::TimeRange {
        from: time("from", &b.from)?,
        to: time("to", &b.to)?,
    };
    let q = q.with_range(range);
    let (limit, offset) = page(app, b.limit, b.offset, 100, 10_000)?;
    let opts = taishi_search::SearchOptions {
        limit: limit + offset,
        budget: budget.clone(),
        scope: Some(taishi_overview::event_filter(scope)),
        ..Default::default()
    };
    let out = taishi_search::execute(&app.store, &q, &opts).map_err(|e| match e {
        taishi_search::Error::Store(e) => app.searches.store_error(e),
        other => bad(other.to_string()).code(super::ErrorCode::InvalidQuery),
    })?;
    Ok(SearchAnswer::new(out, offset))
}

#[derive(Deserialize, JsonSchema)]
pub struct FieldsQuery {
    /// A query; only its filter applies.
    pub query: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct FieldsAnswer {
    pub fields: Vec<FieldInfo>,
    /// Events the counts come from.
    pub sampled: usize,
}

#[derive(Serialize, JsonSchema)]
pub struct FieldInfo {
    pub name: String,
    pub count: u64,
    pub top: Vec<ValueCount>,
}

#[derive(Serialize, JsonSchema)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

async fn fields(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<FieldsQuery>,
) -> R<Json<FieldsAnswer>> {
    let searches = app.searches.clone();
    searches
        .run(move |budget| {
            field_list(
                &app,
                &c.scope,
                q.query.as_deref().unwrap_or(""),
                q.from.as_deref(),
                q.to.as_deref(),
                budget,
            )
            .map(Json)
        })
        .await
}

/// Events the field list samples: as many as Kibana's Discover samples; more
/// cost a stored-document read each (2,000 took 0.6 s at 10 M events).
const FIELD_SAMPLE: usize = 500;

/// Field list with top values over the newest matching events. The
/// query's filter runs in the index (its pipe stages do not apply here), so
/// a narrow query still samples its own matches.
pub fn field_list(
    app: &App,
    scope: &Scope,
    query: &str,
    from: Option<&str>,
    to: Option<&str>,
    budget: &taishi_store::Budget,
) -> R<FieldsAnswer> {
    let (f, t) = parse_range(from, to, "now-24h")?;
    let filter = if query.trim().is_empty() {
        Filter::All
    } else {
        let limits = app.config.search.limits();
        let q = taishi_query::Query::parse_with(query, Utc::now().fixed_offset(), &limits)
            .map_err(query_error)?;
        taishi_search::translate(&q.search().filter, q.now())
            .map_err(|e| bad(e.to_string()).code(super::ErrorCode::InvalidQuery))?
    };
    let res = app
        .store
        .search_with(
            &SearchRequest {
                filter: Filter::And(vec![taishi_overview::event_filter(scope), filter]),
                range: TimeRange::new(f, t),
                limit: FIELD_SAMPLE,
                offset: 0,
            },
            budget,
        )
        .map_err(|e| app.searches.store_error(e))?;
    let mut counts: BTreeMap<String, (u64, HashMap<String, u64>)> = BTreeMap::new();
    for h in &res.hits {
        for (k, v) in h.event.fields() {
            let e = counts.entry(k.to_string()).or_default();
            e.0 += 1;
            if e.1.len() < 10_000 {
                *e.1.entry(v.to_string()).or_default() += 1;
            }
        }
    }
    let fields = counts
        .into_iter()
        .map(|(name, (count, vals))| {
            let mut top: Vec<(String, u64)> = vals.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            top.truncate(10);
            FieldInfo {
                name,
                count,
                top: top
                    .into_iter()
                    .map(|(value, count)| ValueCount { value, count })
                    .collect(),
            }
        })
        .collect();
    Ok(FieldsAnswer {
        fields,
        sampled: res.hits.len(),
    })
}

#[derive(Deserialize, JsonSchema)]
pub struct RelatedQuery {
    /// Events before the alert's (default 10, at most 200).
    pub before: Option<usize>,
    /// Events after it (default 10, at most 200).
    pub after: Option<usize>,
}

/// Events of the same host (else the same source IP) around an alert's
/// event, oldest first.
#[derive(Serialize, JsonSchema)]
pub struct Related {
    pub before: Vec<StoredEvent>,
    pub after: Vec<StoredEvent>,
}

#[derive(Serialize, JsonSchema)]
pub struct StoredEvent {
    pub seq: u64,
    #[serde(rename = "@timestamp")]
    pub timestamp: Option<String>,
    #[schemars(with = "Flat")]
    pub event: J,
}

async fn alert_related(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<RelatedQuery>,
) -> R<Json<Related>> {
    let searches = app.searches.clone();
    searches
        .run(move |budget| {
            related(
                &app,
                &c,
                &id,
                q.before.unwrap_or(10).min(200),
                q.after.unwrap_or(10).min(200),
                budget,
            )
            .map(Json)
        })
        .await
}

/// Events of the same host just before and after an alert's event.
pub fn related(
    app: &App,
    c: &Caller,
    id: &str,
    before: usize,
    after: usize,
    budget: &taishi_store::Budget,
) -> R<Related> {
    let a = super::alerts::visible_alert(app, c, id)?;
    let ts = a.timestamp.with_timezone(&Utc);
    let filter = match (&a.host, &a.source_ip) {
        // The same field roles that named the alert's host and address.
        (Some(h), _) => Filter::Or(
            taishi_event::roles::HOST
                .iter()
                .map(|f| Filter::term(f, h))
                .collect(),
        ),
        (None, Some(ip)) => Filter::Or(
            taishi_event::roles::SOURCE_IP
                .iter()
                .chain(taishi_event::roles::DESTINATION_IP)
                .map(|f| Filter::term(f, ip))
                .collect(),
        ),
        _ => Filter::All,
    };
    let hits = |range: TimeRange, limit: usize| {
        app.store
            .search_with(
                &SearchRequest {
                    filter: Filter::And(vec![
                        taishi_overview::event_filter(&c.scope),
                        filter.clone(),
                    ]),
                    range,
                    limit,
                    offset: 0,
                },
                budget,
            )
            .map_err(|e| app.searches.store_error(e))
    };
    // An alert's time comes from its event, which a sender chose: near the
    // ends of the time range the windows are cut rather than overflowing.
    let plus = |d: TimeDelta| ts.checked_add_signed(d).unwrap_or(ts);
    let minus = |d: TimeDelta| ts.checked_sub_signed(d).unwrap_or(ts);
    let b = hits(TimeRange::new(minus(TimeDelta::hours(24)), ts), before)?;
    // Newest-first: widen the window after the event until enough are found.
    let mut after_hits = Vec::new();
    for minutes in [1, 10, 60, 24 * 60] {
        let r = hits(
            TimeRange::new(
                plus(TimeDelta::microseconds(1)),
                plus(TimeDelta::minutes(minutes)),
            ),
            10_000,
        )?;
        if r.hits.len() >= after || minutes == 24 * 60 {
            after_hits = r.hits.into_iter().rev().take(after).collect();
            break;
        }
    }
    let conv = |h: &taishi_store::Hit| StoredEvent {
        seq: h.seq,
        timestamp: h.event.timestamp.map(|t| t.to_rfc3339()),
        event: serde_json::to_value(&h.event).unwrap_or(J::Null),
    };
    let mut before_v: Vec<StoredEvent> = b.hits.iter().map(conv).collect();
    before_v.reverse();
    Ok(Related {
        before: before_v,
        after: after_hits.iter().map(conv).collect(),
    })
}
