//! The situational picture (态势总览) and the search-side helpers of the API.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{json, Value as J};
use taishi_event::roles;
use taishi_store::{AggResult, Aggregation, Filter, SearchRequest, TimeRange};

use crate::api::{ApiError, SearchBody};
use crate::App;

type R<T> = Result<T, ApiError>;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// A time parameter of the API (`from`, `to`): the query language's own
/// time parser, so `now-7d/d`, ISO 8601 and its range checks mean the same
/// here as in a query. Out-of-range or malformed times are 400s naming
/// the parameter.
pub fn parse_time(param: &str, s: &str) -> R<DateTime<Utc>> {
    taishi_query::parse_time_param(param, s, Utc::now().fixed_offset())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad(e.to_string()))
}

fn range_of(from: Option<&str>, to: Option<&str>, default_from: &str) -> R<TimeRange> {
    let (f, t) = crate::api::parse_range(from, to, default_from)?;
    Ok(TimeRange::new(f, t))
}

/// `POST /api/v1/search`: `taishi_search::SearchOutput` as JSON (what
/// `taishi search --server` reads), plus the console's forms of the same
/// data (`hits` with `@timestamp`, histogram buckets with `t`).
pub fn run_search(app: &App, b: &SearchBody, budget: &taishi_store::Budget) -> R<J> {
    let query = |e: taishi_query::Error| {
        let col = e
            .column
            .map(|c| format!(" (column {c})"))
            .unwrap_or_default();
        bad(format!("query{col}: {}", e.message))
    };
    let limits = app.config.search.limits();
    let q = taishi_query::Query::parse_with(&b.query, Utc::now().fixed_offset(), &limits)
        .map_err(query)?;
    let now = q.now();
    let time = |param: &str, s: &Option<String>| {
        s.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| taishi_query::parse_time_param(param, s, now).map_err(|e| bad(e.to_string())))
            .transpose()
    };
    let range = taishi_query::TimeRange {
        from: time("from", &b.from)?,
        to: time("to", &b.to)?,
    };
    let q = q.with_range(range);
    let (limit, offset) = crate::api::page(app, b.limit, b.offset, 100, 10_000)?;
    let opts = taishi_search::SearchOptions {
        limit: limit + offset,
        budget: budget.clone(),
        ..Default::default()
    };
    let out = taishi_search::execute(&app.store, &q, &opts).map_err(|e| match e {
        taishi_search::Error::Store(e) => app.searches.store_error(e),
        other => bad(other.to_string()),
    })?;
    let mut v = serde_json::to_value(&out)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if let Some(events) = v.get_mut("events").and_then(J::as_array_mut) {
        if offset > 0 {
            events.drain(..offset.min(events.len()));
        }
        let hits: Vec<J> = events
            .iter()
            .map(|e| json!({"@timestamp": e.get("@timestamp"), "event": e}))
            .collect();
        v["hits"] = J::Array(hits);
    }
    if let Some(h) = v.get_mut("histogram").filter(|h| h.is_object()) {
        let secs = h["interval_secs"].as_u64().unwrap_or(0);
        h["interval_ms"] = J::from(secs * 1000);
        if let Some(bs) = h.get_mut("buckets").and_then(J::as_array_mut) {
            for b in bs {
                b["t"] = b["start"].clone();
            }
        }
    }
    Ok(v)
}

/// Events the field list samples: as many as Kibana's Discover samples; more
/// cost a stored-document read each (2,000 took 0.6 s at 10 M events).
const FIELD_SAMPLE: usize = 500;

/// Field list with top values over the newest matching events. The
/// query's filter runs in the index (its pipe stages do not apply here), so
/// a narrow query still samples its own matches.
pub fn fields(
    app: &App,
    query: &str,
    from: Option<&str>,
    to: Option<&str>,
    budget: &taishi_store::Budget,
) -> R<J> {
    let range = range_of(from, to, "now-24h")?;
    let filter = if query.trim().is_empty() {
        Filter::All
    } else {
        let limits = app.config.search.limits();
        let q = taishi_query::Query::parse_with(query, Utc::now().fixed_offset(), &limits)
            .map_err(|e| bad(e.to_string()))?;
        taishi_search::translate(&q.search().filter, q.now()).map_err(|e| bad(e.to_string()))?
    };
    let res = app
        .store
        .search_with(
            &SearchRequest {
                filter,
                range,
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
    let fields: Vec<J> = counts
        .into_iter()
        .map(|(name, (count, vals))| {
            let mut top: Vec<(String, u64)> = vals.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            top.truncate(10);
            json!({"name": name, "count": count,
                   "top": top.into_iter().map(|(value, count)| json!({"value": value, "count": count})).collect::<Vec<_>>()})
        })
        .collect();
    Ok(json!({ "fields": fields, "sampled": res.hits.len() }))
}

/// Events of the same host just before and after an alert's event.
pub fn related(
    app: &App,
    id: &str,
    before: usize,
    after: usize,
    budget: &taishi_store::Budget,
) -> R<J> {
    let a = app.state.alert(id)?;
    let ts = a.timestamp.with_timezone(&Utc);
    let filter = match (&a.host, &a.source_ip) {
        // The same field roles that named the alert's host and address.
        (Some(h), _) => Filter::Or(roles::HOST.iter().map(|f| Filter::term(f, h)).collect()),
        (None, Some(ip)) => Filter::Or(
            roles::SOURCE_IP
                .iter()
                .chain(roles::DESTINATION_IP)
                .map(|f| Filter::term(f, ip))
                .collect(),
        ),
        _ => Filter::All,
    };
    let hits = |range: TimeRange, limit: usize| {
        app.store
            .search_with(
                &SearchRequest {
                    filter: filter.clone(),
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
    let conv = |h: &taishi_store::Hit| {
        json!({"seq": h.seq, "@timestamp": h.event.timestamp.map(|t| t.to_rfc3339()),
               "event": serde_json::from_str::<J>(&h.event.to_json_string()).unwrap_or(J::Null)})
    };
    let mut before_v: Vec<J> = b.hits.iter().map(conv).collect();
    before_v.reverse();
    Ok(json!({"before": before_v, "after": after_hits.iter().map(conv).collect::<Vec<_>>()}))
}

/// Each listener's counters for health and the overview. UDP listeners
/// carry the kernel's drops for their socket in their own metrics.
pub fn listeners(app: &App) -> Vec<J> {
    let snaps = app.registry.snapshots();
    let now_ms = Utc::now().timestamp_millis();
    app.listeners
        .iter()
        .map(|l| {
            let s = snaps.iter().find(|s| s.name == l.name);
            let kernel = s.and_then(|s| s.kernel_dropped);
            json!({
                "name": l.name, "kind": l.kind, "address": l.address,
                "received": s.map(|s| s.events_received).unwrap_or(0),
                "acked": s.map(|s| s.events_acked).unwrap_or(0),
                "rejected": s.map(|s| s.rejects).unwrap_or(0),
                // Drops in the service's queue plus drops by the kernel
                // when the socket's receive buffer overflowed.
                "udp_dropped": s.map(|s| s.udp_dropped).unwrap_or(0) + kernel.unwrap_or(0),
                "kernel_dropped": kernel,
                "errors": s.map(|s| s.sink_errors).unwrap_or(0),
                "queue_depth": s.map(|s| s.queue_depth).unwrap_or(0),
                "lag_ms": s.and_then(|s| s.last_event_unix_ms).map(|t| (now_ms - t).max(0)),
                "events_per_s": J::Null,
            })
        })
        .collect()
}

/// Threat score 0–100, its level name, and open alerts, over the last 24 h.
pub fn threat(app: &App) -> (f64, &'static str, u64) {
    let now = Utc::now();
    let from = (now - TimeDelta::hours(24)).timestamp_micros();
    let (_, open, lv) = app
        .state
        .alert_counts(from, now.timestamp_micros() + 1)
        .unwrap_or((0, 0, [0; 5]));
    // Weighted so that one critical outweighs many lows.
    let w = 0.2 * lv[1] as f64 + 1.0 * lv[2] as f64 + 4.0 * lv[3] as f64 + 10.0 * lv[4] as f64;
    let score = 100.0 * (1.0 - (-w / 20.0).exp());
    let level = match score {
        s if s < 20.0 => "low",
        s if s < 40.0 => "guarded",
        s if s < 60.0 => "elevated",
        s if s < 80.0 => "high",
        _ => "severe",
    };
    ((score * 10.0).round() / 10.0, level, open)
}

#[derive(Deserialize)]
pub struct OverviewQuery {
    from: Option<String>,
    to: Option<String>,
}

fn interval_for(span: TimeDelta) -> TimeDelta {
    let target = span.num_seconds().max(60) / 60;
    for s in [
        60,
        300,
        600,
        1800,
        3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        86_400,
        7 * 86_400,
    ] {
        if s >= target {
            return TimeDelta::seconds(s);
        }
    }
    TimeDelta::days(7)
}

pub async fn overview(
    State(app): State<std::sync::Arc<App>>,
    Query(q): Query<OverviewQuery>,
) -> R<Json<J>> {
    tokio::task::spawn_blocking(move || {
        // Several consoles (a wall screen, analysts' tabs) refreshing the
        // same range share one computation for a few seconds; a change to
        // alerts makes a fresh one.
        let key = (
            std::sync::Arc::as_ptr(&app) as usize,
            q.from.clone().unwrap_or_default(),
            q.to.clone().unwrap_or_default(),
            app.state.generation(),
        );
        let cache = OVERVIEW_CACHE.get_or_init(Default::default);
        {
            let c = cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((t, v)) = c.get(&key) {
                if t.elapsed() < OVERVIEW_TTL {
                    return Ok(Json(v.clone()));
                }
            }
        }
        let v = overview_json(&app, q.from.as_deref(), q.to.as_deref())?;
        let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
        c.retain(|_, (t, _)| t.elapsed() < OVERVIEW_TTL);
        c.insert(key, (std::time::Instant::now(), v.clone()));
        Ok(Json(v))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

const OVERVIEW_TTL: std::time::Duration = std::time::Duration::from_secs(5);

type OverviewCache =
    std::sync::Mutex<HashMap<(usize, String, String, u64), (std::time::Instant, J)>>;
static OVERVIEW_CACHE: std::sync::OnceLock<OverviewCache> = std::sync::OnceLock::new();

const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource_development",
    "initial_access",
    "execution",
    "persistence",
    "privilege_escalation",
    "defense_evasion",
    "credential_access",
    "discovery",
    "lateral_movement",
    "collection",
    "command_and_control",
    "exfiltration",
    "impact",
];

fn source_json(app: &App, ip: &str, n: u64) -> J {
    let mut v = json!({"ip": ip, "count": n});
    if let Ok(addr) = ip.parse::<std::net::IpAddr>() {
        if let Ok(g) = app.geo.lookup(addr) {
            v["country_iso_code"] = json!(g.country_iso_code);
            v["country_name"] = json!(g.country_name);
            v["country_name_zh"] = json!(g.country_name_zh);
            v["city_name"] = json!(g.city_name);
            v["city_name_zh"] = json!(g.city_name_zh);
            // ISO 3166-2 (`CN-GD`): the China map shades provinces by it.
            v["region_iso_code"] = json!(g.region_iso_code);
            v["region_name"] = json!(g.region_name);
            v["region_name_zh"] = json!(g.region_name_zh);
            v["lat"] = json!(g.lat);
            v["lon"] = json!(g.lon);
            v["as_organization"] = json!(g.as_organization);
        }
    }
    v
}

pub fn overview_json(app: &App, from: Option<&str>, to: Option<&str>) -> R<J> {
    let range = range_of(from, to, "now-24h")?;
    let span = range.to - range.from;
    let interval = interval_for(span);
    let err =
        |e: taishi_store::StoreError| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let hist = app
        .store
        .aggregate(
            &Filter::All,
            range,
            &Aggregation::DateHistogram {
                interval,
                split: None,
            },
        )
        .map_err(err)?;
    let events_over_time: Vec<J> = match &hist {
        AggResult::DateHistogram(b) => b
            .iter()
            .map(|b| json!({"t": b.start.to_rfc3339(), "count": b.count}))
            .collect(),
        _ => Vec::new(),
    };
    let events_total: u64 = match &hist {
        AggResult::DateHistogram(b) => b.iter().map(|b| b.count).sum(),
        _ => 0,
    };
    let (fu, tu) = (range.from.timestamp_micros(), range.to.timestamp_micros());
    let (alerts_total, alerts_open, by_level) = app.state.alert_counts(fu, tu)?;

    let step = interval.num_microseconds().unwrap_or(i64::MAX).max(1);
    let start = fu - fu.rem_euclid(step);
    let nb = ((tu - start) / step + 1).clamp(1, 10_000) as usize;
    let agg = app.state.alert_overview(fu, tu, start, step, 20)?;
    let mut over = vec![[0u64; 5]; nb];
    for (b, level, n) in &agg.over_time {
        over[(*b).clamp(0, nb as i64 - 1) as usize][(*level).clamp(0, 4) as usize] += n;
    }
    let mut matrix: HashMap<(String, String), u64> = HashMap::new();
    for (_, _, _, n, tags) in &agg.rules {
        let tactics: Vec<&str> = tags
            .iter()
            .filter_map(|t| t.strip_prefix("attack."))
            .filter(|t| TACTICS.contains(&t.replace('-', "_").as_str()))
            .collect();
        let techniques: Vec<String> = tags
            .iter()
            .filter_map(|t| t.strip_prefix("attack."))
            .filter(|t| {
                t.starts_with('t') && t[1..].chars().next().is_some_and(|c| c.is_ascii_digit())
            })
            .map(|t| t.to_uppercase())
            .collect();
        for ta in if tactics.is_empty() {
            vec!["unknown"]
        } else {
            tactics
        } {
            for te in techniques.iter() {
                *matrix
                    .entry((ta.replace('-', "_"), te.clone()))
                    .or_default() += n;
            }
        }
    }
    let names = ["informational", "low", "medium", "high", "critical"];
    let alerts_over_time: Vec<J> = over
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let t = DateTime::from_timestamp_micros(start + i as i64 * step).unwrap_or_default();
            let mut o = serde_json::Map::new();
            o.insert("t".into(), J::String(t.to_rfc3339()));
            for (k, n) in names.iter().zip(c) {
                o.insert((*k).into(), J::from(*n));
            }
            J::Object(o)
        })
        .collect();
    let sources: Vec<(&str, u64)> = agg
        .sources
        .iter()
        .filter(|(s, _)| s.parse::<std::net::IpAddr>().is_ok())
        .map(|(s, n)| (s.as_str(), *n))
        .collect();
    let mut matrix: Vec<_> = matrix.into_iter().collect();
    matrix.sort_by_key(|m| std::cmp::Reverse(m.1));
    let (score, level, _) = threat(app);
    Ok(json!({
        "from": range.from.to_rfc3339(), "to": range.to.to_rfc3339(),
        "threat_level": level, "threat_score": score,
        "events_total": events_total, "alerts_total": alerts_total, "alerts_open": alerts_open,
        "events_per_s": app.pipeline.counters.events_in.load(Ordering::Relaxed) as f64 / app.started.elapsed().as_secs_f64().max(1.0),
        "interval_ms": interval.num_milliseconds(),
        "events_over_time": events_over_time,
        "alerts_over_time": alerts_over_time,
        "alerts_by_level": names.iter().zip(by_level).map(|(k, n)| ((*k).to_string(), J::from(n))).collect::<serde_json::Map<_, _>>(),
        "alerts_by_rule": agg.rules.iter().take(20).map(|(id, t, l, n, _)| json!({"rule_id": id, "title": t, "level": taishi_alert::Level::from_rank(*l), "count": n})).collect::<Vec<_>>(),
        "top_assets": agg.hosts.iter().take(10).map(|(h, n, l)| json!({"host": h, "count": n, "max_level": taishi_alert::Level::from_rank(*l)})).collect::<Vec<_>>(),
        "top_sources": sources.iter().take(20).map(|(ip, n)| source_json(app, ip, *n)).collect::<Vec<_>>(),
        "attack_matrix": matrix.iter().take(200).map(|((ta, te), n)| json!({"tactic": ta, "technique": te, "count": n})).collect::<Vec<_>>(),
        "listeners": listeners(app),
    }))
}
