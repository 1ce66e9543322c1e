//! Aggregations: requests in the store's terms, run by Tantivy's aggregation
//! engine per partition, merged across partitions, and read back.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value as Json};
use taishi_event::Value;

use crate::query::TimeRange;
use crate::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub enum Aggregation {
    /// Count by one field's values, top `size`; optionally each bucket split
    /// by a second field (top `size` of it).
    Terms {
        field: String,
        size: usize,
        then: Option<(String, usize)>,
    },
    /// Counts per fixed interval (UTC-aligned) over the whole search range,
    /// empty buckets included; optionally split by a field (top `size`).
    DateHistogram {
        interval: TimeDelta,
        split: Option<(String, usize)>,
    },
    /// Count/min/max/sum/avg of a numeric field.
    Stats { field: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TermBucket {
    pub key: Value,
    pub count: u64,
    /// Buckets of the second field, when one was asked for.
    pub sub: Vec<TermBucket>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistogramBucket {
    pub start: DateTime<Utc>,
    pub count: u64,
    pub split: Vec<TermBucket>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub count: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub sum: f64,
    pub avg: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AggResult {
    Terms {
        buckets: Vec<TermBucket>,
        other: u64,
    },
    DateHistogram(Vec<HistogramBucket>),
    Stats(Stats),
}

const NAME: &str = "a";
const SUB: &str = "b";

fn terms_req(field: &str, size: usize) -> Json {
    // Each partition's segments return more than `size` candidates so the
    // merged top N is exact unless counts are spread very evenly.
    json!({ "terms": { "field": format!("f.{field}"), "size": size, "segment_size": (size * 10).max(100) } })
}

/// The Tantivy request (Elasticsearch form).
pub fn request(
    agg: &Aggregation,
    range: &TimeRange,
) -> Result<tantivy::aggregation::agg_req::Aggregations, StoreError> {
    let body = match agg {
        Aggregation::Terms { field, size, then } => {
            let mut t = terms_req(field, *size);
            if let Some((f2, s2)) = then {
                t["aggs"] = json!({ SUB: terms_req(f2, *s2) });
            }
            t
        }
        Aggregation::DateHistogram { interval, split } => {
            let ms = interval.num_milliseconds();
            if ms <= 0 {
                return Err(StoreError::BadQuery(
                    "date histogram interval must be positive".into(),
                ));
            }
            let min = range.from.timestamp_millis();
            let max = range.to.timestamp_millis() - 1;
            let mut h = json!({ "date_histogram": {
                "field": "ts",
                "fixed_interval": format!("{ms}ms"),
                "min_doc_count": 0,
                "hard_bounds": { "min": min, "max": max },
                "extended_bounds": { "min": min, "max": max },
            }});
            if let Some((f2, s2)) = split {
                h["aggs"] = json!({ SUB: terms_req(f2, *s2) });
            }
            h
        }
        Aggregation::Stats { field } => json!({ "stats": { "field": format!("f.{field}") } }),
    };
    serde_json::from_value(json!({ NAME: body }))
        .map_err(|e| StoreError::BadQuery(format!("aggregation: {e}")))
}

fn key_value(k: &Json) -> Value {
    match k {
        Json::String(s) => Value::Str(s.as_str().into()),
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Int(f as i64),
            Some(f) => Value::Float(f),
            None => Value::Null,
        },
        Json::Bool(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}

fn term_buckets(v: Option<&Json>) -> Vec<TermBucket> {
    let Some(buckets) = v.and_then(|v| v.get("buckets")).and_then(Json::as_array) else {
        return Vec::new();
    };
    buckets
        .iter()
        .map(|b| TermBucket {
            key: b.get("key").map(key_value).unwrap_or(Value::Null),
            count: b.get("doc_count").and_then(Json::as_u64).unwrap_or(0),
            sub: term_buckets(b.get(SUB)),
        })
        .collect()
}

/// Reads the final result (its JSON form is the stable, documented one).
pub fn read_result(
    agg: &Aggregation,
    res: &tantivy::aggregation::agg_result::AggregationResults,
) -> Result<AggResult, StoreError> {
    let v = serde_json::to_value(res)
        .map_err(|e| StoreError::Index(format!("aggregation result: {e}")))?;
    let a = v.get(NAME);
    Ok(match agg {
        Aggregation::Terms { .. } => AggResult::Terms {
            buckets: term_buckets(a),
            other: a
                .and_then(|a| a.get("sum_other_doc_count"))
                .and_then(Json::as_u64)
                .unwrap_or(0),
        },
        Aggregation::DateHistogram { .. } => {
            let buckets = a
                .and_then(|a| a.get("buckets"))
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            AggResult::DateHistogram(
                buckets
                    .iter()
                    .filter_map(|b| {
                        let ms = b.get("key").and_then(Json::as_f64)? as i64;
                        Some(HistogramBucket {
                            start: DateTime::<Utc>::from_timestamp_millis(ms)?,
                            count: b.get("doc_count").and_then(Json::as_u64).unwrap_or(0),
                            split: term_buckets(b.get(SUB)),
                        })
                    })
                    .collect(),
            )
        }
        Aggregation::Stats { .. } => {
            let num = |k: &str| a.and_then(|a| a.get(k)).and_then(Json::as_f64);
            let count = a
                .and_then(|a| a.get("count"))
                .and_then(Json::as_u64)
                .unwrap_or(0);
            AggResult::Stats(Stats {
                count,
                min: num("min").filter(|_| count > 0),
                max: num("max").filter(|_| count > 0),
                sum: num("sum").unwrap_or(0.0),
                avg: num("avg").filter(|_| count > 0),
            })
        }
    })
}

/// Buckets for a range with no partitions at all (so the caller still gets
/// every empty bucket).
pub fn empty_result(agg: &Aggregation, range: &TimeRange) -> AggResult {
    match agg {
        Aggregation::Terms { .. } => AggResult::Terms {
            buckets: Vec::new(),
            other: 0,
        },
        Aggregation::Stats { .. } => AggResult::Stats(Stats {
            count: 0,
            min: None,
            max: None,
            sum: 0.0,
            avg: None,
        }),
        Aggregation::DateHistogram { interval, .. } => {
            let ms = interval.num_milliseconds().max(1);
            let mut out = Vec::new();
            let mut t = range.from.timestamp_millis().div_euclid(ms) * ms;
            while t < range.to.timestamp_millis() {
                if let Some(start) = DateTime::<Utc>::from_timestamp_millis(t) {
                    out.push(HistogramBucket {
                        start,
                        count: 0,
                        split: Vec::new(),
                    });
                }
                t += ms;
            }
            AggResult::DateHistogram(out)
        }
    }
}
