//! The reference evaluator for pipe stages: what the store must reproduce.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeZone, Utc};
use serde::Serialize;
use taishi_event::{Event, Str, Value};

use crate::ast::{Agg, AggFunc, SortKey, Stage, TIMESTAMP};
use crate::compile::{any_value, Node};

/// What a query returns: events (filtered, maybe sorted, cut and projected)
/// or a table (after `stats`, `top`, `rare`, `timechart`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum QueryResult {
    Events { events: Vec<Event> },
    Table(Table),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// A cell by row index and column name.
    pub fn get(&self, row: usize, column: &str) -> Option<&Value> {
        self.rows.get(row)?.get(self.column(column)?)
    }

    fn into_events(self) -> Vec<Event> {
        self.rows
            .into_iter()
            .map(|row| {
                let mut ev = Event::with_capacity(row.len());
                for (c, v) in self.columns.iter().zip(row) {
                    if c == TIMESTAMP {
                        ev.timestamp = v.as_str().and_then(taishi_event::time::parse_rfc3339);
                    } else {
                        ev.push(c.as_str(), v);
                    }
                }
                ev
            })
            .collect()
    }
}

/// A compiled stage (the `where` condition compiled).
pub(crate) enum CStage {
    Plain(Stage),
    Where(Node),
}

enum Data {
    Events(Vec<Event>),
    Table(Table),
}

impl Data {
    fn into_events(self) -> Vec<Event> {
        match self {
            Data::Events(e) => e,
            Data::Table(t) => t.into_events(),
        }
    }
}

/// Most buckets a `timechart` without an interval has (Kibana's auto
/// interval aims at about as many): enough for a line across a chart,
/// few enough to read and send.
pub const AUTO_BUCKETS: u64 = 200;

/// Round bucket widths, in seconds, as a person would choose them.
const ROUND_INTERVALS: [u64; 16] = [
    1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400, 604800, 2592000, 31536000,
];

/// The smallest round interval that cuts `span_secs` into at most
/// `buckets` buckets (the widest one, a year, for anything longer).
pub fn round_interval(span_secs: u64, buckets: u64) -> u64 {
    let want = span_secs.div_ceil(buckets.max(1));
    ROUND_INTERVALS
        .iter()
        .copied()
        .find(|s| *s >= want)
        .unwrap_or(31536000)
}

/// The interval of a `timechart` that names none, over a range of
/// `span_secs`.
pub fn auto_interval(span_secs: u64) -> u64 {
    round_interval(span_secs, AUTO_BUCKETS)
}

/// `span` is the length of the searched range in seconds, when known: a
/// `timechart` without an interval chooses its bucket from it.
pub(crate) fn run(
    stages: &[CStage],
    mut input: impl Iterator<Item = Event>,
    span: Option<u64>,
) -> QueryResult {
    // The first stage consumes the filtered stream directly, so that an
    // aggregation or a `head` never holds all matching events.
    let (mut data, rest) = match stages.split_first() {
        None => (Data::Events(input.collect()), stages),
        Some((first, rest)) => {
            let data = match first {
                CStage::Plain(Stage::Head(n)) => Data::Events(input.by_ref().take(*n).collect()),
                CStage::Plain(
                    s @ (Stage::Stats { .. } | Stage::Top { .. } | Stage::Timechart { .. }),
                ) => Data::Table(aggregate(s, input, span)),
                CStage::Plain(Stage::Tail(n)) => {
                    let mut ring = std::collections::VecDeque::with_capacity((*n).min(1 << 16));
                    for e in input {
                        if ring.len() == *n {
                            ring.pop_front();
                        }
                        if *n > 0 {
                            ring.push_back(e);
                        }
                    }
                    Data::Events(ring.into())
                }
                other => apply(other, Data::Events(input.collect()), span),
            };
            (data, rest)
        }
    };
    for s in rest {
        data = apply(s, data, span);
    }
    match data {
        Data::Events(events) => QueryResult::Events { events },
        Data::Table(t) => QueryResult::Table(t),
    }
}

pub(crate) fn resume(stages: &[CStage], input: QueryResult, span: Option<u64>) -> QueryResult {
    let mut data = match input {
        QueryResult::Events { events } => Data::Events(events),
        QueryResult::Table(t) => Data::Table(t),
    };
    for s in stages {
        data = apply(s, data, span);
    }
    match data {
        Data::Events(events) => QueryResult::Events { events },
        Data::Table(t) => QueryResult::Table(t),
    }
}

fn apply(stage: &CStage, data: Data, span: Option<u64>) -> Data {
    let stage = match stage {
        CStage::Where(node) => {
            return match data {
                Data::Events(mut e) => {
                    e.retain(|ev| node.matches(ev));
                    Data::Events(e)
                }
                Data::Table(t) => {
                    let columns = t.columns.clone();
                    let rows = t
                        .into_events()
                        .into_iter()
                        .filter(|ev| node.matches(ev))
                        .map(|ev| row_of(&ev, &columns))
                        .collect();
                    Data::Table(Table { columns, rows })
                }
            }
        }
        CStage::Plain(s) => s,
    };
    match stage {
        Stage::Stats { .. } | Stage::Top { .. } | Stage::Timechart { .. } => {
            Data::Table(aggregate(stage, data.into_events().into_iter(), span))
        }
        Stage::Head(n) => match data {
            Data::Events(mut e) => {
                e.truncate(*n);
                Data::Events(e)
            }
            Data::Table(mut t) => {
                t.rows.truncate(*n);
                Data::Table(t)
            }
        },
        Stage::Tail(n) => match data {
            Data::Events(mut e) => {
                e.drain(..e.len().saturating_sub(*n));
                Data::Events(e)
            }
            Data::Table(mut t) => {
                t.rows.drain(..t.rows.len().saturating_sub(*n));
                Data::Table(t)
            }
        },
        Stage::Sort(keys) => match data {
            Data::Events(e) => Data::Events(sort_events(e, keys)),
            Data::Table(t) => Data::Table(sort_table(t, keys)),
        },
        Stage::Fields(fields) => match data {
            Data::Events(e) => Data::Events(e.into_iter().map(|ev| project(ev, fields)).collect()),
            Data::Table(t) => {
                let idx: Vec<Option<usize>> = fields.iter().map(|f| t.column(f)).collect();
                let rows = t
                    .rows
                    .into_iter()
                    .map(|r| {
                        idx.iter()
                            .map(|i| i.and_then(|i| r.get(i).cloned()).unwrap_or(Value::Null))
                            .collect()
                    })
                    .collect();
                Data::Table(Table {
                    columns: fields.clone(),
                    rows,
                })
            }
        },
        Stage::Where(_) => data,
    }
}

fn row_of(ev: &Event, columns: &[String]) -> Vec<Value> {
    columns
        .iter()
        .map(|c| {
            if c == TIMESTAMP {
                ev.timestamp
                    .map_or(Value::Null, |t| Value::from(fmt_time(t)))
            } else {
                ev.get(c).cloned().unwrap_or(Value::Null)
            }
        })
        .collect()
}

/// Keeps the listed fields in the listed order; `@timestamp` is always
/// kept, as it is the event's place in time rather than a field.
fn project(ev: Event, fields: &[String]) -> Event {
    let mut out = Event::with_capacity(fields.len());
    out.timestamp = ev.timestamp;
    for f in fields {
        if f == TIMESTAMP {
            continue;
        }
        if let Some(v) = ev.lookup(f) {
            out.push(f.as_str(), v.clone());
        }
    }
    out
}

fn fmt_time(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

// ---------------------------------------------------------------------------
// Ordering

/// The order of values in `sort` and in group output: numbers (by value),
/// then strings (by bytes), then booleans; missing/null values last in
/// either direction.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => 0,
            Value::Str(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) | Value::Object(_) => 3,
            Value::Null => 4,
        }
    }
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::UInt(x), Value::UInt(y)) => x.cmp(y),
        (Value::Int(x), Value::UInt(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (Value::UInt(x), Value::Int(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (x, y) if rank(x) == 0 && rank(y) == 0 => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (x, y) if rank(x) == 3 && rank(y) == 3 => x.to_string().cmp(&y.to_string()),
        (x, y) => rank(x).cmp(&rank(y)),
    }
}

fn cmp_keyed(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for ((x, y), k) in a.iter().zip(b).zip(keys) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if k.descending => compare_values(y, x),
            _ => compare_values(x, y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A sort value for an event field; arrays sort by their first element,
/// numbers kept as text as numbers, and `@timestamp` by its instant (UTC
/// nanoseconds, so zones mix).
fn sort_value(ev: &Event, field: &str) -> Value {
    if field == TIMESTAMP {
        return ev
            .timestamp
            .and_then(|t| t.timestamp_nanos_opt())
            .map_or(Value::Null, Value::Int);
    }
    // Numbers kept as text sort as numbers.
    match ev.lookup(field) {
        Some(Value::Array(a)) => a.first().map_or(Value::Null, as_number),
        Some(v) => as_number(v),
        None => Value::Null,
    }
}

fn sort_events(events: Vec<Event>, keys: &[SortKey]) -> Vec<Event> {
    let mut keyed: Vec<(Vec<Value>, Event)> = events
        .into_iter()
        .map(|ev| (keys.iter().map(|k| sort_value(&ev, &k.field)).collect(), ev))
        .collect();
    keyed.sort_by(|a, b| cmp_keyed(&a.0, &b.0, keys));
    keyed.into_iter().map(|(_, e)| e).collect()
}

fn sort_table(mut t: Table, keys: &[SortKey]) -> Table {
    let idx: Vec<Option<usize>> = keys.iter().map(|k| t.column(&k.field)).collect();
    let key_of = |r: &[Value]| -> Vec<Value> {
        idx.iter()
            .map(|i| i.and_then(|i| r.get(i).cloned()).unwrap_or(Value::Null))
            .collect()
    };
    let mut keyed: Vec<(Vec<Value>, Vec<Value>)> =
        t.rows.drain(..).map(|r| (key_of(&r), r)).collect();
    keyed.sort_by(|a, b| cmp_keyed(&a.0, &b.0, keys));
    t.rows = keyed.into_iter().map(|(_, r)| r).collect();
    t
}

// ---------------------------------------------------------------------------
// Aggregation

/// A hashable group key part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(u64),
    Str(Str),
}

impl Key {
    fn of(v: &Value) -> Option<Key> {
        Some(match v {
            Value::Bool(b) => Key::Bool(*b),
            // One key for a number whatever integer type the decoder chose.
            Value::Int(i) => match u64::try_from(*i) {
                Ok(u) => Key::UInt(u),
                Err(_) => Key::Int(*i),
            },
            Value::UInt(u) => Key::UInt(*u),
            Value::Float(f) => Key::Float(f.to_bits()),
            Value::Str(s) => Key::Str(s.clone()),
            Value::Object(_) => Key::Str(v.to_string().into()),
            Value::Null | Value::Array(_) => return None,
        })
    }

    fn to_value(&self) -> Value {
        match self {
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::Int(*i),
            Key::UInt(u) => Value::UInt(*u),
            Key::Float(f) => Value::Float(f64::from_bits(*f)),
            Key::Str(s) => Value::Str(s.clone()),
        }
    }
}

/// Calls `f` with every non-null value of a field (array elements one by
/// one); `@timestamp` as RFC 3339 text.
fn each_value(ev: &Event, field: &str, f: &mut impl FnMut(&Value)) {
    if field == TIMESTAMP {
        if let Some(t) = ev.timestamp {
            f(&Value::from(fmt_time(t)));
        }
        return;
    }
    if let Some(v) = ev.lookup(field) {
        any_value(v, &mut |x| {
            if !x.is_null() {
                f(x);
            }
            false
        });
    }
}

enum Acc {
    Count(u64),
    Distinct(HashSet<Key>),
    Sum {
        int: i128,
        float: f64,
        is_float: bool,
        n: u64,
    },
    Avg {
        sum: f64,
        n: u64,
    },
    /// Best numeric and best textual value seen; numbers win.
    MinMax {
        num: Option<(f64, Value)>,
        text: Option<Str>,
        max: bool,
    },
    /// min/max(@timestamp), by instant.
    Time(Option<DateTime<FixedOffset>>, bool),
}

struct AggSpec {
    func: AggFunc,
    field: Option<String>,
}

impl AggSpec {
    fn new_acc(&self) -> Acc {
        let ts = self.field.as_deref() == Some(TIMESTAMP);
        match self.func {
            AggFunc::Count => Acc::Count(0),
            AggFunc::DistinctCount => Acc::Distinct(HashSet::new()),
            AggFunc::Sum => Acc::Sum {
                int: 0,
                float: 0.0,
                is_float: false,
                n: 0,
            },
            AggFunc::Avg => Acc::Avg { sum: 0.0, n: 0 },
            AggFunc::Min | AggFunc::Max if ts => Acc::Time(None, self.func == AggFunc::Max),
            AggFunc::Min | AggFunc::Max => Acc::MinMax {
                num: None,
                text: None,
                max: self.func == AggFunc::Max,
            },
        }
    }
}

/// A number kept as text (`"400"`) as the number it is; other values as
/// they are.
fn as_number(v: &Value) -> Value {
    match v {
        Value::Str(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                Value::Int(i)
            } else if let Some(f) = t.parse::<f64>().ok().filter(|f| f.is_finite()) {
                Value::Float(f)
            } else {
                v.clone()
            }
        }
        _ => v.clone(),
    }
}

fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => v.as_f64(),
        Value::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

impl Acc {
    fn add(&mut self, spec: &AggSpec, ev: &Event) {
        let Some(field) = spec.field.as_deref() else {
            // count()
            if let Acc::Count(n) = self {
                *n += 1;
            }
            return;
        };
        if let Acc::Time(best, max) = self {
            if let Some(t) = ev.timestamp {
                let better = best.is_none_or(|b| if *max { t > b } else { t < b });
                if better {
                    *best = Some(t);
                }
            }
            return;
        }
        each_value(ev, field, &mut |v| match self {
            Acc::Count(n) => *n += 1,
            Acc::Distinct(set) => {
                if let Some(k) = Key::of(v) {
                    if !set.contains(&k) {
                        set.insert(k);
                    }
                }
            }
            Acc::Sum {
                int,
                float,
                is_float,
                n,
            } => {
                let as_int = match v {
                    Value::Int(i) => Some(i128::from(*i)),
                    Value::UInt(u) => Some(i128::from(*u)),
                    Value::Str(s) => s.trim().parse::<i64>().ok().map(i128::from),
                    _ => None,
                };
                match as_int {
                    Some(i) => {
                        *int = int.saturating_add(i);
                        *n += 1;
                    }
                    None => {
                        if let Some(f) = numeric(v) {
                            *float += f;
                            *is_float = true;
                            *n += 1;
                        }
                    }
                }
            }
            Acc::Avg { sum, n } => {
                if let Some(f) = numeric(v) {
                    *sum += f;
                    *n += 1;
                }
            }
            Acc::MinMax { num, text, max } => {
                if let Some(f) = numeric(v) {
                    let better = num
                        .as_ref()
                        .is_none_or(|(b, _)| if *max { f > *b } else { f < *b });
                    if better {
                        *num = Some((f, as_number(v)));
                    }
                } else if let Value::Str(s) = v {
                    let better = text
                        .as_ref()
                        .is_none_or(|b| if *max { s > b } else { s < b });
                    if better {
                        *text = Some(s.clone());
                    }
                }
            }
            Acc::Time(..) => {}
        });
    }

    fn finish(&self) -> Value {
        match self {
            Acc::Count(n) => Value::UInt(*n),
            Acc::Distinct(s) => Value::UInt(s.len() as u64),
            Acc::Sum {
                int,
                float,
                is_float,
                n,
            } => {
                if *n == 0 {
                    Value::Null
                } else if *is_float {
                    Value::Float(*float + *int as f64)
                } else if let Ok(i) = i64::try_from(*int) {
                    Value::Int(i)
                } else {
                    Value::Float(*int as f64)
                }
            }
            Acc::Avg { sum, n } => {
                if *n == 0 {
                    Value::Null
                } else {
                    Value::Float(sum / *n as f64)
                }
            }
            Acc::MinMax { num, text, .. } => match (num, text) {
                (Some((_, v)), _) => v.clone(),
                (None, Some(s)) => Value::Str(s.clone()),
                (None, None) => Value::Null,
            },
            Acc::Time(t, _) => t.map_or(Value::Null, |t| Value::from(fmt_time(t))),
        }
    }
}

/// Groups events by the values of `by` fields (an event with an array value
/// joins one group per element; an event missing a `by` field joins none)
/// and accumulates `aggs` per group.
struct Grouper {
    by: Vec<String>,
    specs: Vec<AggSpec>,
    groups: HashMap<Vec<Key>, Vec<Acc>>,
    /// Reused per event: the key values of each by-field.
    vals: Vec<Vec<Key>>,
    key: Vec<Key>,
}

impl Grouper {
    fn new(by: Vec<String>, aggs: &[Agg]) -> Grouper {
        Grouper {
            vals: vec![Vec::new(); by.len()],
            by,
            specs: aggs
                .iter()
                .map(|a| AggSpec {
                    func: a.func,
                    field: a.field.clone(),
                })
                .collect(),
            groups: HashMap::new(),
            key: Vec::new(),
        }
    }

    /// `prefix` is prepended to the key (the time bucket of `timechart`).
    fn add(&mut self, ev: &Event, prefix: Option<Key>) {
        for (slot, field) in self.vals.iter_mut().zip(&self.by) {
            slot.clear();
            each_value(ev, field, &mut |v| {
                if let Some(k) = Key::of(v) {
                    if !slot.contains(&k) {
                        slot.push(k);
                    }
                }
            });
            if slot.is_empty() {
                return;
            }
        }
        // Walk the cartesian product of the by-values with an odometer.
        let mut idx = vec![0usize; self.by.len()];
        loop {
            self.key.clear();
            self.key.extend(prefix.clone());
            for (slot, i) in self.vals.iter().zip(&idx) {
                if let Some(k) = slot.get(*i) {
                    self.key.push(k.clone());
                }
            }
            let accs = match self.groups.get_mut(self.key.as_slice()) {
                Some(a) => a,
                None => {
                    let fresh = self.specs.iter().map(AggSpec::new_acc).collect();
                    self.groups.entry(self.key.clone()).or_insert(fresh)
                }
            };
            for (acc, spec) in accs.iter_mut().zip(&self.specs) {
                acc.add(spec, ev);
            }
            let mut d = idx.len();
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                idx[d] += 1;
                if idx[d] < self.vals[d].len() {
                    break;
                }
                idx[d] = 0;
            }
        }
    }

    /// Rows of key values then aggregate values, ordered by key.
    fn rows(self) -> Vec<Vec<Value>> {
        let mut rows: Vec<Vec<Value>> = self
            .groups
            .into_iter()
            .map(|(k, accs)| {
                k.iter()
                    .map(Key::to_value)
                    .chain(accs.iter().map(Acc::finish))
                    .collect()
            })
            .collect();
        let n = self.by.len() + 1;
        rows.sort_by(|a, b| {
            a.iter()
                .zip(b)
                .take(n)
                .map(|(x, y)| compare_values(x, y))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        rows
    }
}

fn aggregate(stage: &Stage, events: impl Iterator<Item = Event>, span: Option<u64>) -> Table {
    match stage {
        Stage::Stats { aggs, by } => {
            let mut g = Grouper::new(by.clone(), aggs);
            for ev in events {
                g.add(&ev, None);
            }
            let empty_total = by.is_empty() && g.groups.is_empty();
            let mut rows = g.rows();
            if empty_total {
                // Without `by`, stats always answer one row (count 0).
                let specs: Vec<AggSpec> = aggs
                    .iter()
                    .map(|a| AggSpec {
                        func: a.func,
                        field: a.field.clone(),
                    })
                    .collect();
                rows.push(specs.iter().map(|s| s.new_acc().finish()).collect());
            }
            let mut columns = by.clone();
            columns.extend(aggs.iter().map(Agg::column_name));
            Table { columns, rows }
        }
        Stage::Top {
            limit,
            fields,
            rare,
        } => {
            let count = Agg {
                func: AggFunc::Count,
                field: None,
                alias: None,
            };
            let mut g = Grouper::new(fields.clone(), std::slice::from_ref(&count));
            for ev in events {
                g.add(&ev, None);
            }
            let mut rows = g.rows();
            let n = fields.len();
            // Stable sort keeps ties in value order.
            rows.sort_by(|a, b| {
                let (x, y) = (&a[n], &b[n]);
                if *rare {
                    compare_values(x, y)
                } else {
                    compare_values(y, x)
                }
            });
            rows.truncate(*limit);
            let mut columns = fields.clone();
            columns.push("count".into());
            Table { columns, rows }
        }
        Stage::Timechart {
            interval_secs,
            aggs,
            by,
        } => match (interval_secs, span) {
            (Some(i), _) => timechart(*i, aggs, by.as_deref(), events),
            (None, Some(span)) => timechart(auto_interval(span), aggs, by.as_deref(), events),
            // No range to go by (an in-memory run over all it is given):
            // the events' own span decides.
            (None, None) => {
                let events: Vec<Event> = events.collect();
                let times = || {
                    events
                        .iter()
                        .filter_map(|e| e.timestamp.map(|t| t.timestamp()))
                };
                let span = match (times().min(), times().max()) {
                    (Some(lo), Some(hi)) => hi.saturating_sub(lo).saturating_add(1).unsigned_abs(),
                    _ => 1,
                };
                timechart(auto_interval(span), aggs, by.as_deref(), events.into_iter())
            }
        },
        _ => Table::default(),
    }
}

/// Buckets start at multiples of the interval since the Unix epoch. Gaps
/// between the first and the last bucket are filled (count 0, other
/// aggregations null) for every series, up to 10 000 buckets.
fn timechart(
    interval: u64,
    aggs: &[Agg],
    by: Option<&str>,
    events: impl Iterator<Item = Event>,
) -> Table {
    const MAX_FILL: i64 = 10_000;
    let step = i64::try_from(interval).unwrap_or(i64::MAX);
    let mut g = Grouper::new(by.map(str::to_string).into_iter().collect(), aggs);
    for ev in events {
        let Some(t) = ev.timestamp else { continue };
        let bucket = t.timestamp().div_euclid(step).saturating_mul(step);
        g.add(&ev, Some(Key::Int(bucket)));
    }
    let specs: Vec<AggSpec> = aggs
        .iter()
        .map(|a| AggSpec {
            func: a.func,
            field: a.field.clone(),
        })
        .collect();
    let mut rows = g.rows();
    let buckets: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.first().and_then(Value::as_i64))
        .collect();
    if let (Some(lo), Some(hi)) = (buckets.iter().min(), buckets.iter().max()) {
        if (hi - lo) / step <= MAX_FILL {
            let series: Vec<Option<Value>> = if by.is_some() {
                let mut s: Vec<Value> = rows.iter().filter_map(|r| r.get(1).cloned()).collect();
                s.sort_by(compare_values);
                s.dedup();
                s.into_iter().map(Some).collect()
            } else {
                vec![None]
            };
            let have: HashSet<(i64, Option<Key>)> = rows
                .iter()
                .filter_map(|r| {
                    let b = r.first()?.as_i64()?;
                    let s = if by.is_some() {
                        Key::of(r.get(1)?)
                    } else {
                        None
                    };
                    Some((b, s))
                })
                .collect();
            let mut b = *lo;
            while b <= *hi {
                for s in &series {
                    if !have.contains(&(b, s.as_ref().and_then(Key::of))) {
                        let mut row = vec![Value::Int(b)];
                        row.extend(s.clone());
                        row.extend(specs.iter().map(|sp| sp.new_acc().finish()));
                        rows.push(row);
                    }
                }
                b += step;
            }
            let n = if by.is_some() { 2 } else { 1 };
            rows.sort_by(|a, b| {
                a.iter()
                    .zip(b)
                    .take(n)
                    .map(|(x, y)| compare_values(x, y))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            });
        }
    }
    for r in &mut rows {
        if let Some(cell) = r.first_mut() {
            if let Some(secs) = cell.as_i64() {
                *cell = Utc
                    .timestamp_opt(secs, 0)
                    .single()
                    .map_or(Value::Null, |t| Value::from(fmt_time(t.fixed_offset())));
            }
        }
    }
    let mut columns = vec![TIMESTAMP.to_string()];
    columns.extend(by.map(str::to_string));
    columns.extend(aggs.iter().map(Agg::column_name));
    Table { columns, rows }
}
