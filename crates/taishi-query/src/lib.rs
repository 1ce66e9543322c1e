//! Taishi's search language: a KQL/Lucene-style filter followed by pipe
//! stages, its AST ([`ast`], serialisable: the contract with the store), and
//! the reference evaluator over in-memory [`Event`]s, which defines the
//! semantics every backend must reproduce.
//!
//! ```text
//! event.category:process AND CommandLine:*mimikatz* | stats count() by host.name
//! source.ip:10.0.0.0/8 -destination.port:(80 OR 443) | top 10 destination.ip
//! ```
//!
//! ```
//! use taishi_query::{Query, QueryResult};
//! use taishi_event::Event;
//!
//! let mut ev = Event::new();
//! ev.push("event.code", 4688u32);
//! ev.push("CommandLine", "powershell.exe -enc AAAA");
//! let q = Query::parse("event.code:4688 AND CommandLine:pow*").unwrap();
//! assert!(q.matches(&ev));
//! let QueryResult::Events { events } = q.execute(vec![ev]) else { panic!() };
//! assert_eq!(events.len(), 1);
//! ```

pub mod ast;
mod compile;
mod error;
mod exec;
mod glob;
mod parse;
mod time;

use chrono::{DateTime, FixedOffset, Utc};
use taishi_event::Event;

pub use ast::Search;
pub use compile::{words, TimeRange, ValueTest, MAX_WORD_BYTES};
pub use error::{Error, ErrorKind};
pub use exec::{auto_interval, compare_values, round_interval, QueryResult, Table, AUTO_BUCKETS};
pub use parse::{
    parse, parse_filter, parse_with, Limits, DEFAULT_MAX_CLAUSES, DEFAULT_MAX_DEPTH,
    MAX_DEPTH_CEILING,
};
pub use time::{parse_time, parse_time_param, TimeError, MAX_TIME, MIN_TIME};

use compile::Node;
use exec::CStage;

/// A query ready to run: the AST, its compiled filter and stages, the time
/// range, and the `now` that relative times were resolved against.
pub struct Query {
    search: Search,
    filter: Node,
    stages: Vec<CStage>,
    range: TimeRange,
    now: DateTime<FixedOffset>,
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("search", &self.search)
            .field("range", &self.range)
            .field("now", &self.now)
            .finish()
    }
}

impl Query {
    /// Parses and compiles query text, with `now` the current time.
    pub fn parse(text: &str) -> Result<Query, Error> {
        Query::parse_at(text, Utc::now().fixed_offset())
    }

    /// Parses and compiles query text, resolving `now-1h` and the like
    /// against `now`.
    pub fn parse_at(text: &str, now: DateTime<FixedOffset>) -> Result<Query, Error> {
        Query::parse_with(text, now, &Limits::default())
    }

    /// Parses and compiles query text under the given depth and clause
    /// limits (the server's `[search]` settings).
    pub fn parse_with(
        text: &str,
        now: DateTime<FixedOffset>,
        limits: &Limits,
    ) -> Result<Query, Error> {
        Query::compile_unchecked(parse_with(text, limits)?, now)
    }

    /// Compiles an AST (for instance one deserialised from a saved search).
    /// It is checked as the parser would: CIDRs and `@timestamp` literals
    /// must be valid, and it must keep within the default [`Limits`].
    pub fn compile(search: Search, now: DateTime<FixedOffset>) -> Result<Query, Error> {
        Query::compile_with(search, now, &Limits::default())
    }

    /// [`Query::compile`] under the given limits.
    pub fn compile_with(
        search: Search,
        now: DateTime<FixedOffset>,
        limits: &Limits,
    ) -> Result<Query, Error> {
        ast::check_limits(&search, limits)?;
        ast::check_columns(&search).map_err(|e| Error::msg(e.message()))?;
        Query::compile_unchecked(search, now)
    }

    fn compile_unchecked(search: Search, now: DateTime<FixedOffset>) -> Result<Query, Error> {
        let filter = compile::compile(&search.filter, now)?;
        let stages = search
            .stages
            .iter()
            .map(|s| match s {
                ast::Stage::Where(e) => compile::compile(e, now).map(CStage::Where),
                other => Ok(CStage::Plain(other.clone())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Query {
            search,
            filter,
            stages,
            range: TimeRange::default(),
            now,
        })
    }

    /// Restricts the query to `from` (inclusive) .. `to` (exclusive).
    pub fn with_range(mut self, range: TimeRange) -> Query {
        self.range = range;
        self
    }

    /// Restricts the query with the API's `from`/`to` strings (ISO 8601 or
    /// relative to the query's `now`).
    pub fn with_time_range(self, from: Option<&str>, to: Option<&str>) -> Result<Query, Error> {
        let range = TimeRange::parse(from, to, self.now)?;
        Ok(self.with_range(range))
    }

    /// Applies the stages from `from` on to a result computed so far (a
    /// backend that ran the first stages itself hands over here).
    pub fn continue_stages(&self, from: usize, input: QueryResult) -> QueryResult {
        self.continue_stages_over(from, input, self.range.span_secs())
    }

    /// [`Query::continue_stages`] over a searched range of `span_secs`
    /// (a backend's effective range, which may be wider than the query's
    /// own): a `timechart` without an interval chooses its bucket from it.
    pub fn continue_stages_over(
        &self,
        from: usize,
        input: QueryResult,
        span_secs: Option<u64>,
    ) -> QueryResult {
        exec::resume(self.stages.get(from..).unwrap_or(&[]), input, span_secs)
    }

    pub fn search(&self) -> &Search {
        &self.search
    }

    pub fn range(&self) -> TimeRange {
        self.range
    }

    pub fn now(&self) -> DateTime<FixedOffset> {
        self.now
    }

    /// Whether the event passes the filter and the time range (stages are
    /// not involved).
    #[inline]
    pub fn matches(&self, ev: &Event) -> bool {
        self.range.contains(ev) && self.filter.matches(ev)
    }

    /// Runs the whole query over events in memory.
    pub fn execute(&self, events: impl IntoIterator<Item = Event>) -> QueryResult {
        execute(self, events)
    }
}

/// Applies the filter, the time range and the stages, in memory.
pub fn execute(query: &Query, events: impl IntoIterator<Item = Event>) -> QueryResult {
    exec::run(
        &query.stages,
        events.into_iter().filter(|e| query.matches(e)),
        query.range.span_secs(),
    )
}
