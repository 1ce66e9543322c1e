//! Runs Taishi queries (KQL/Lucene filters and pipe stages, `taishi-query`)
//! against the embedded store (`taishi-store`).
//!
//! The filter is translated into the store's [`Filter`] so that the store
//! returns exactly the events `taishi-query`'s in-memory evaluator would
//! (case-sensitive terms and wildcards, numbers by value, IPv6 spellings,
//! ranges over numbers kept as text, word-based free text). Stages the
//! store can compute are pushed down:
//!
//! | stages | run as |
//! |---|---|
//! | none, `head`, `fields`, `sort -@timestamp` | newest-first hits from the index, total counted there |
//! | `stats count() [by a[, b]]`, `top`/`rare N a[, b]` | terms aggregations (every group, up to `max_groups`) |
//! | `stats count/sum/avg/min/max(x)` without `by`, `x` numeric | a stats aggregation |
//! | `timechart <interval> count() [by a]` | a date histogram (split by a) |
//!
//! Stages after a pushed-down one run in memory over its (small) result.
//! Anything else (`sort` by a field, `dc`, `where` after a stage, grouped
//! sums…) streams the matching events through the in-memory evaluator, at
//! most `max_scan` of them: beyond that the query fails with
//! [`Error::TooManyEvents`], asking for a narrower range or filter.

use std::time::Instant;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use taishi_event::Value;
use taishi_query::ast::{Agg, AggFunc, Bound, Expr, GlobPart, Pattern, Stage, TIMESTAMP};
use taishi_query::{compare_values, parse_time, Query, QueryResult, Table, ValueTest};
use taishi_store::{
    AggResult, Aggregation, Budget, Filter, RangeValue, SearchRequest, Store, StoreError,
    TimeRange, ValueKinds, ValuePredicate,
};

/// How a search runs.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Events returned for a search without aggregation.
    pub limit: usize,
    /// The span searched when the query names no `from` (ending at `to`, or
    /// now).
    pub default_span: TimeDelta,
    /// Events streamed through the in-memory evaluator at most, for stages
    /// the store cannot run.
    pub max_scan: usize,
    /// Groups of a pushed-down `stats … by`, `top`, `rare` or series of a
    /// `timechart … by`, at most.
    pub max_groups: usize,
    /// About this many buckets in the hits-over-time histogram (0: none).
    pub histogram_buckets: usize,
    /// Deadline, cancellation and memory cap of the whole search (every
    /// store call it makes shares it).
    pub budget: Budget,
    /// A filter every match must also pass, whatever the query says: the
    /// caller's organisations (a query cannot widen it).
    pub scope: Option<Filter>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            limit: 100,
            default_span: TimeDelta::hours(24),
            max_scan: 100_000,
            max_groups: 10_000,
            histogram_buckets: 60,
            budget: Budget::unlimited(),
            scope: None,
        }
    }
}

/// What a search answers; the HTTP API returns it as JSON unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchOutput {
    /// The effective time range, `from` inclusive, `to` exclusive.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub took_ms: f64,
    #[serde(flatten)]
    pub result: Output,
    /// Matching events over time (searches without aggregation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    /// How the query ran (`index`, `index+aggregation`, `scan`), for people
    /// wondering why a query is slow.
    pub plan: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// Events, newest first unless sorted: each one's JSON form.
    Hits {
        /// Events matching the filter in the range (before `head`).
        total: u64,
        events: Vec<serde_json::Value>,
    },
    /// The table of an aggregation or timechart.
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<serde_json::Value>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub interval_secs: u64,
    pub buckets: Vec<HistogramBucket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramBucket {
    pub start: DateTime<Utc>,
    pub count: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query cannot run as written; `column` (1-based, characters)
    /// points into the query text when known.
    #[error("{}", fmt_at(*.column, .message))]
    Query {
        column: Option<usize>,
        message: String,
    },
    #[error("{stage}: more than {limit} matching events would have to be read in memory; narrow the time range or the filter, or start with an aggregation the index runs (stats count() by, top, timechart count())")]
    TooManyEvents { stage: String, limit: usize },
    #[error("{what} has more than {limit} groups; narrow the query or use top")]
    TooManyGroups { what: String, limit: usize },
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

fn fmt_at(column: Option<usize>, message: &str) -> String {
    match column {
        Some(c) => format!("at column {c}: {message}"),
        None => message.to_string(),
    }
}

impl From<taishi_query::Error> for Error {
    fn from(e: taishi_query::Error) -> Self {
        Error::Query {
            column: e.column,
            message: e.message,
        }
    }
}

impl Error {
    /// The 1-based column in the query text, when the error has one.
    pub fn column(&self) -> Option<usize> {
        match self {
            Error::Query { column, .. } => *column,
            _ => None,
        }
    }
}

fn qerr(message: impl Into<String>) -> Error {
    Error::Query {
        column: None,
        message: message.into(),
    }
}

/// The effective range: the query's, else `default_span` before its `to`
/// (or before the query's `now`).
pub fn effective_range(query: &Query, opts: &SearchOptions) -> TimeRange {
    let r = query.range();
    let to = r.to.unwrap_or_else(|| query.now()).with_timezone(&Utc);
    let from = r
        .from
        .map(|f| f.with_timezone(&Utc))
        .unwrap_or(to - opts.default_span);
    TimeRange::new(from, to)
}

/// Runs a query against the store.
pub fn execute(store: &Store, query: &Query, opts: &SearchOptions) -> Result<SearchOutput, Error> {
    let started = Instant::now();
    let store = &Bounded {
        store,
        budget: &opts.budget,
    };
    let range = effective_range(query, opts);
    let now = query.now();
    let search = query.search();

    // Leading `where` stages are more filter.
    let mut first = 0;
    let mut parts = vec![search.filter.clone()];
    while let Some(Stage::Where(e)) = search.stages.get(first) {
        parts.push(e.clone());
        first += 1;
    }
    let expr = if parts.len() == 1 {
        parts.remove(0)
    } else {
        Expr::And(parts)
    };
    let filter = match &opts.scope {
        Some(s) => Filter::And(vec![s.clone(), translate(&expr, now)?]),
        None => translate(&expr, now)?,
    };
    let stages = &search.stages[first..];

    let mut out = SearchOutput {
        from: range.from,
        to: range.to,
        took_ms: 0.0,
        result: Output::Hits {
            total: 0,
            events: Vec::new(),
        },
        histogram: None,
        plan: String::new(),
    };

    // Newest-first hits: no stages, or only ones that keep a newest prefix.
    let mut limit = opts.limit;
    let mut prefix_only = true;
    for (i, s) in stages.iter().enumerate() {
        match s {
            Stage::Head(n) => limit = limit.min(*n),
            Stage::Fields(_) => {}
            Stage::Sort(keys)
                if i == 0
                    && keys.len() == 1
                    && keys[0].field == TIMESTAMP
                    && keys[0].descending => {}
            _ => prefix_only = false,
        }
    }
    if prefix_only {
        let res = store.search(&SearchRequest {
            filter: filter.clone(),
            range,
            limit,
            offset: 0,
        })?;
        let events = res.hits.into_iter().map(|h| h.event).collect();
        let span = Some(span_secs(range));
        let events = match query.continue_stages_over(first, QueryResult::Events { events }, span) {
            QueryResult::Events { events } => events,
            QueryResult::Table(_) => Vec::new(),
        };
        out.result = Output::Hits {
            total: res.total,
            events: events.iter().map(event_json).collect(),
        };
        out.histogram = histogram(store, &filter, range, opts)?;
        out.plan = "index".into();
    } else if let Some(table) = push_down(store, &filter, range, &stages[0], opts)? {
        out.result = table_output(query.continue_stages_over(
            first + 1,
            QueryResult::Table(table),
            Some(span_secs(range)),
        ));
        out.plan = format!("index+aggregation ({})", stages[0]);
    } else {
        let res = store.search(&SearchRequest {
            filter: filter.clone(),
            range,
            limit: opts.max_scan.saturating_add(1),
            offset: 0,
        })?;
        if res.total > opts.max_scan as u64 {
            return Err(Error::TooManyEvents {
                stage: format!("| {}", stages[0]),
                limit: opts.max_scan,
            });
        }
        let events = res.hits.into_iter().map(|h| h.event).collect();
        let total = res.total;
        out.result = match query.continue_stages_over(
            first,
            QueryResult::Events { events },
            Some(span_secs(range)),
        ) {
            QueryResult::Events { events } => Output::Hits {
                total,
                events: events.iter().map(event_json).collect(),
            },
            t @ QueryResult::Table(_) => table_output(t),
        };
        out.plan = format!("scan ({total} events through | {})", stages[0]);
    }
    out.took_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(out)
}

fn event_json(e: &taishi_event::Event) -> serde_json::Value {
    serde_json::to_value(e).unwrap_or(serde_json::Value::Null)
}

fn table_output(r: QueryResult) -> Output {
    match r {
        QueryResult::Table(t) => Output::Table {
            columns: t.columns,
            rows: t
                .rows
                .iter()
                .map(|r| r.iter().map(Value::to_json).collect())
                .collect(),
        },
        QueryResult::Events { events } => Output::Hits {
            total: events.len() as u64,
            events: events.iter().map(event_json).collect(),
        },
    }
}

/// The store seen through one search's budget: every call the search
/// makes is bounded by the same deadline, cancel flag and memory cap.
struct Bounded<'a> {
    store: &'a Store,
    budget: &'a Budget,
}

impl Bounded<'_> {
    fn search(&self, req: &SearchRequest) -> Result<taishi_store::SearchResult, StoreError> {
        self.store.search_with(req, self.budget)
    }

    fn count(&self, filter: &Filter, range: TimeRange) -> Result<u64, StoreError> {
        self.store.count_with(filter, range, self.budget)
    }

    fn aggregate(
        &self,
        filter: &Filter,
        range: TimeRange,
        agg: &Aggregation,
    ) -> Result<AggResult, StoreError> {
        self.store.aggregate_with(filter, range, agg, self.budget)
    }

    fn field_kinds(&self, field: &str, range: TimeRange) -> Result<ValueKinds, StoreError> {
        self.budget.check()?;
        self.store.field_kinds(field, range)
    }
}

// ---------------------------------------------------------------------------
// Filters

fn time_of(t: &str, now: DateTime<FixedOffset>) -> Result<DateTime<Utc>, Error> {
    parse_time(t, now)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| qerr(format!("@timestamp: {}", e.message)))
}

fn predicate(e: &Expr, now: DateTime<FixedOffset>) -> Result<ValuePredicate, Error> {
    let test = ValueTest::new(e, now)?.ok_or_else(|| qerr("internal: not a field filter"))?;
    Ok(ValuePredicate::new(move |v| test.matches(v)))
}

fn glob_text(parts: &[GlobPart]) -> Option<String> {
    let mut s = String::new();
    for p in parts {
        match p {
            GlobPart::Any => s.push('*'),
            GlobPart::One => s.push('?'),
            // The store's globs have no escapes: a literal * or ? is left
            // to a value scan.
            GlobPart::Literal(l) if l.contains(['*', '?']) => return None,
            GlobPart::Literal(l) => s.push_str(l),
        }
    }
    Some(s)
}

fn num_bound(b: &Bound) -> Option<Option<(f64, bool)>> {
    match b {
        Bound::Unbounded => Some(None),
        Bound::Included(t) | Bound::Excluded(t) => {
            let n = t.trim().parse::<f64>().ok().filter(|f| f.is_finite())?;
            Some(Some((n, matches!(b, Bound::Included(_)))))
        }
    }
}

/// Translates a filter expression into the store's terms, with the
/// evaluator's semantics.
pub fn translate(e: &Expr, now: DateTime<FixedOffset>) -> Result<Filter, Error> {
    Ok(match e {
        Expr::All => Filter::All,
        Expr::And(xs) => Filter::And(
            xs.iter()
                .map(|x| translate(x, now))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(xs) => Filter::Or(
            xs.iter()
                .map(|x| translate(x, now))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(x) => Filter::Not(Box::new(translate(x, now)?)),
        Expr::Exists { field } if field == TIMESTAMP => Filter::All,
        Expr::Exists { field } => Filter::exists(field),
        Expr::Match { field, value } if field == TIMESTAMP => match value {
            Pattern::Exact(t) => {
                let t = time_of(t, now)?;
                Filter::Range {
                    field: TIMESTAMP.into(),
                    gt: None,
                    gte: Some(RangeValue::Time(t)),
                    lt: None,
                    lte: Some(RangeValue::Time(t)),
                }
            }
            Pattern::Wildcard(_) => {
                return Err(qerr("wildcards do not apply to @timestamp; use a range"))
            }
        },
        Expr::Match {
            field,
            value: Pattern::Exact(t),
        } => {
            let mut alts = vec![Filter::term(field, t)];
            // Addresses compare as addresses: an IPv4 address has one
            // spelling, an IPv6 one many (read from the term dictionary).
            match t.trim().parse::<std::net::IpAddr>() {
                Ok(ip @ std::net::IpAddr::V4(_)) if ip.to_string() != *t => {
                    alts.push(Filter::term(field, &ip.to_string()))
                }
                Ok(ip @ std::net::IpAddr::V6(_)) => {
                    alts.push(Filter::cidr(field, ipnet::IpNet::from(ip)))
                }
                _ => {}
            }
            if alts.len() == 1 {
                alts.remove(0)
            } else {
                Filter::Or(alts)
            }
        }
        Expr::Match {
            field,
            value: Pattern::Wildcard(parts),
        } => {
            let pred = predicate(e, now)?;
            let others = Filter::Values {
                field: field.clone(),
                kinds: ValueKinds {
                    strings: false,
                    numbers: true,
                    bools: true,
                },
                pred: pred.clone(),
            };
            let strings = match glob_text(parts) {
                Some(g) => Filter::wildcard(field, &g),
                None => Filter::Values {
                    field: field.clone(),
                    kinds: ValueKinds::STRINGS,
                    pred,
                },
            };
            Filter::Or(vec![strings, others])
        }
        Expr::Range {
            field,
            lower,
            upper,
        } if field == TIMESTAMP => {
            let b = |b: &Bound| -> Result<Option<(RangeValue, bool)>, Error> {
                Ok(match b {
                    Bound::Unbounded => None,
                    Bound::Included(t) => Some((RangeValue::Time(time_of(t, now)?), true)),
                    Bound::Excluded(t) => Some((RangeValue::Time(time_of(t, now)?), false)),
                })
            };
            let (lo, hi) = (b(lower)?, b(upper)?);
            if lo.is_none() && hi.is_none() {
                return Ok(Filter::All);
            }
            let (mut gt, mut gte, mut lt, mut lte) = (None, None, None, None);
            match lo {
                Some((v, true)) => gte = Some(v),
                Some((v, false)) => gt = Some(v),
                None => {}
            }
            match hi {
                Some((v, true)) => lte = Some(v),
                Some((v, false)) => lt = Some(v),
                None => {}
            }
            Filter::Range {
                field: TIMESTAMP.into(),
                gt,
                gte,
                lt,
                lte,
            }
        }
        Expr::Range {
            field,
            lower,
            upper,
        } => {
            if matches!((lower, upper), (Bound::Unbounded, Bound::Unbounded)) {
                return Ok(Filter::exists(field));
            }
            let strings = Filter::Values {
                field: field.clone(),
                kinds: ValueKinds::STRINGS,
                pred: predicate(e, now)?,
            };
            match (num_bound(lower), num_bound(upper)) {
                (Some(lo), Some(hi)) => {
                    let (mut gt, mut gte, mut lt, mut lte) = (None, None, None, None);
                    match lo {
                        Some((n, true)) => gte = Some(RangeValue::Number(n)),
                        Some((n, false)) => gt = Some(RangeValue::Number(n)),
                        None => {}
                    }
                    match hi {
                        Some((n, true)) => lte = Some(RangeValue::Number(n)),
                        Some((n, false)) => lt = Some(RangeValue::Number(n)),
                        None => {}
                    }
                    let numbers = Filter::Range {
                        field: field.clone(),
                        gt,
                        gte,
                        lt,
                        lte,
                    };
                    Filter::Or(vec![numbers, strings])
                }
                // A bound that is not a number: numbers never fall inside,
                // strings compare as the evaluator says.
                _ => strings,
            }
        }
        Expr::Cidr { field, network } => {
            let net: ipnet::IpNet = network
                .parse()
                .map_err(|_| qerr(format!("'{network}' is not a valid CIDR network")))?;
            if field == TIMESTAMP {
                Filter::Or(Vec::new())
            } else {
                Filter::cidr(field, net.trunc())
            }
        }
        Expr::Text {
            value: Pattern::Exact(t),
        } => Filter::text(t),
        Expr::Text {
            value: Pattern::Wildcard(parts),
        } => {
            let g = glob_text(parts).ok_or_else(|| {
                qerr("free-text wildcards cannot contain an escaped * or ?; name a field")
            })?;
            let wordy = parts.iter().all(|p| match p {
                GlobPart::Literal(l) => l.chars().all(char::is_alphanumeric),
                _ => true,
            });
            if wordy {
                Filter::WordWildcard { pattern: g }
            } else {
                Filter::AnyWildcard { pattern: g }
            }
        }
    })
}

// ---------------------------------------------------------------------------
// Aggregations

/// A group key as the evaluator makes it: non-negative integers unsigned.
fn key(v: Value) -> Value {
    match v {
        Value::Int(i) if i >= 0 => Value::UInt(i as u64),
        v => v,
    }
}

/// Group key values and the group's event count.
type Group = (Vec<Value>, u64);

fn pairs(
    store: &Bounded<'_>,
    filter: &Filter,
    range: TimeRange,
    by: &[String],
    opts: &SearchOptions,
) -> Result<Option<Vec<Group>>, Error> {
    let size = opts.max_groups.saturating_add(1);
    let too_many = || Error::TooManyGroups {
        what: format!("by {}", by.join(", ")),
        limit: opts.max_groups,
    };
    Ok(Some(match by {
        [] => vec![(Vec::new(), store.count(filter, range)?)],
        [a] | [a, _] => {
            let then = by.get(1).map(|b| (b.clone(), size));
            let AggResult::Terms { buckets, .. } = store.aggregate(
                filter,
                range,
                &Aggregation::Terms {
                    field: a.clone(),
                    size,
                    then: then.clone(),
                },
            )?
            else {
                return Ok(None);
            };
            if buckets.len() > opts.max_groups {
                return Err(too_many());
            }
            let mut out = Vec::new();
            for b in buckets {
                if then.is_some() {
                    if b.sub.len() > opts.max_groups {
                        return Err(too_many());
                    }
                    for s in b.sub {
                        out.push((vec![key(b.key.clone()), key(s.key)], s.count));
                    }
                } else {
                    out.push((vec![key(b.key)], b.count));
                }
            }
            out
        }
        _ => return Ok(None),
    }))
}

fn sort_rows(rows: &mut [Vec<Value>], n: usize) {
    rows.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .take(n)
            .map(|(x, y)| compare_values(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

fn is_count(a: &Agg) -> bool {
    a.func == AggFunc::Count && a.field.is_none()
}

fn integral(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Int(f as i64)
    } else {
        Value::Float(f)
    }
}

/// Runs one aggregation stage in the store, when it can be run there with
/// the evaluator's result.
fn push_down(
    store: &Bounded<'_>,
    filter: &Filter,
    range: TimeRange,
    stage: &Stage,
    opts: &SearchOptions,
) -> Result<Option<Table>, Error> {
    let plain = |fields: &[String]| fields.iter().all(|f| f != TIMESTAMP);
    match stage {
        Stage::Stats { aggs, by } if aggs.iter().all(is_count) && by.len() <= 2 && plain(by) => {
            let Some(groups) = pairs(store, filter, range, by, opts)? else {
                return Ok(None);
            };
            let mut rows: Vec<Vec<Value>> = groups
                .into_iter()
                .map(|(mut k, n)| {
                    k.extend(aggs.iter().map(|_| Value::UInt(n)));
                    k
                })
                .collect();
            sort_rows(&mut rows, by.len() + 1);
            let mut columns = by.clone();
            columns.extend(aggs.iter().map(Agg::column_name));
            Ok(Some(Table { columns, rows }))
        }
        Stage::Stats { aggs, by } if by.is_empty() => {
            let mut row = Vec::new();
            for a in aggs {
                if is_count(a) {
                    row.push(Value::UInt(store.count(filter, range)?));
                    continue;
                }
                let Some(field) = a.field.as_deref().filter(|f| *f != TIMESTAMP) else {
                    return Ok(None);
                };
                let kinds = store.field_kinds(field, range)?;
                if kinds.strings || kinds.bools || a.func == AggFunc::DistinctCount {
                    return Ok(None);
                }
                let AggResult::Stats(s) = store.aggregate(
                    filter,
                    range,
                    &Aggregation::Stats {
                        field: field.into(),
                    },
                )?
                else {
                    return Ok(None);
                };
                row.push(match a.func {
                    AggFunc::Count => Value::UInt(s.count),
                    AggFunc::Sum if s.count == 0 => Value::Null,
                    AggFunc::Sum => integral(s.sum),
                    AggFunc::Avg => s.avg.map_or(Value::Null, Value::Float),
                    AggFunc::Min => s.min.map_or(Value::Null, integral),
                    AggFunc::Max => s.max.map_or(Value::Null, integral),
                    AggFunc::DistinctCount => return Ok(None),
                });
            }
            Ok(Some(Table {
                columns: aggs.iter().map(Agg::column_name).collect(),
                rows: vec![row],
            }))
        }
        Stage::Top {
            limit,
            fields,
            rare,
        } if (1..=2).contains(&fields.len()) && plain(fields) => {
            let groups = if let ([field], false) = (fields.as_slice(), *rare) {
                // The most frequent values of one field: the store's top
                // candidates with a margin. Exact when the field has no more
                // values than that (`other` is 0); otherwise counts are
                // exact for values every segment ranked high, as in
                // Elasticsearch.
                let AggResult::Terms { buckets, .. } = store.aggregate(
                    filter,
                    range,
                    &Aggregation::Terms {
                        field: field.clone(),
                        size: limit.saturating_add(100),
                        then: None,
                    },
                )?
                else {
                    return Ok(None);
                };
                buckets
                    .into_iter()
                    .map(|b| (vec![key(b.key)], b.count))
                    .collect()
            } else {
                let Some(groups) = pairs(store, filter, range, fields, opts)? else {
                    return Ok(None);
                };
                groups
            };
            let mut rows: Vec<Vec<Value>> = groups
                .into_iter()
                .map(|(mut k, n)| {
                    k.push(Value::UInt(n));
                    k
                })
                .collect();
            let n = fields.len();
            sort_rows(&mut rows, n);
            rows.sort_by(|a, b| {
                if *rare {
                    compare_values(&a[n], &b[n])
                } else {
                    compare_values(&b[n], &a[n])
                }
            });
            rows.truncate(*limit);
            let mut columns = fields.clone();
            columns.push("count".into());
            Ok(Some(Table { columns, rows }))
        }
        Stage::Timechart {
            interval_secs,
            aggs,
            by,
        } if aggs.iter().all(is_count) && by.as_deref() != Some(TIMESTAMP) => timechart(
            store,
            filter,
            range,
            interval_secs.unwrap_or_else(|| taishi_query::auto_interval(span_secs(range))),
            aggs,
            by.as_deref(),
            opts,
        ),
        _ => Ok(None),
    }
}

fn timechart(
    store: &Bounded<'_>,
    filter: &Filter,
    range: TimeRange,
    interval_secs: u64,
    aggs: &[Agg],
    by: Option<&str>,
    opts: &SearchOptions,
) -> Result<Option<Table>, Error> {
    const MAX_FILL: i64 = 10_000;
    let step = i64::try_from(interval_secs).unwrap_or(i64::MAX).max(1);
    let size = opts.max_groups.saturating_add(1);
    let AggResult::DateHistogram(buckets) = store.aggregate(
        filter,
        range,
        &Aggregation::DateHistogram {
            interval: TimeDelta::seconds(step),
            split: by.map(|b| (b.to_string(), size)),
        },
    )?
    else {
        return Ok(None);
    };
    let nonempty: Vec<_> = buckets.iter().filter(|b| b.count > 0).collect();
    let mut columns = vec![TIMESTAMP.to_string()];
    columns.extend(by.map(str::to_string));
    columns.extend(aggs.iter().map(Agg::column_name));
    let (Some(lo), Some(hi)) = (nonempty.first(), nonempty.last()) else {
        return Ok(Some(Table {
            columns,
            rows: Vec::new(),
        }));
    };
    let (lo, hi) = (lo.start.timestamp(), hi.start.timestamp());
    let fill = (hi - lo) / step <= MAX_FILL;
    let mut series: Vec<Value> = Vec::new();
    for b in &buckets {
        if b.split.len() > opts.max_groups {
            return Err(Error::TooManyGroups {
                what: format!("timechart by {}", by.unwrap_or_default()),
                limit: opts.max_groups,
            });
        }
        series.extend(b.split.iter().map(|s| key(s.key.clone())));
    }
    series.sort_by(compare_values);
    series.dedup();
    let mut rows = Vec::new();
    for b in &buckets {
        let t = b.start.timestamp();
        if t < lo || t > hi || (!fill && b.count == 0) {
            continue;
        }
        let cell = Value::from(
            b.start
                .fixed_offset()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        );
        match by {
            None => {
                let mut row = vec![cell];
                row.extend(aggs.iter().map(|_| Value::UInt(b.count)));
                rows.push(row);
            }
            Some(_) => {
                for s in &series {
                    let n = b
                        .split
                        .iter()
                        .find(|x| key(x.key.clone()) == *s)
                        .map_or(0, |x| x.count);
                    if n == 0 && !fill {
                        continue;
                    }
                    let mut row = vec![cell.clone(), s.clone()];
                    row.extend(aggs.iter().map(|_| Value::UInt(n)));
                    rows.push(row);
                }
            }
        }
    }
    Ok(Some(Table { columns, rows }))
}

/// The length of the searched range, at least a second.
fn span_secs(range: TimeRange) -> u64 {
    (range.to - range.from).num_seconds().max(1).unsigned_abs()
}

/// A round interval giving about `opts.histogram_buckets` buckets.
fn histogram(
    store: &Bounded<'_>,
    filter: &Filter,
    range: TimeRange,
    opts: &SearchOptions,
) -> Result<Option<Histogram>, Error> {
    if opts.histogram_buckets == 0 {
        return Ok(None);
    }
    let interval = taishi_query::round_interval(span_secs(range), opts.histogram_buckets as u64);
    let AggResult::DateHistogram(b) = store.aggregate(
        filter,
        range,
        &Aggregation::DateHistogram {
            interval: TimeDelta::seconds(interval as i64),
            split: None,
        },
    )?
    else {
        return Ok(None);
    };
    Ok(Some(Histogram {
        interval_secs: interval,
        buckets: b
            .into_iter()
            .map(|b| HistogramBucket {
                start: b.start,
                count: b.count,
            })
            .collect(),
    }))
}
