//! Bounds on one search: a deadline, cancellation, and a memory estimate.
//!
//! Elasticsearch guards every search with a timeout, cancellation when the
//! client goes away, and a request circuit breaker that refuses a query
//! before it allocates what it would need. A [`Budget`] carries the same
//! three to the store:
//!
//! - the deadline and the cancel flag are checked between partitions, while
//!   term dictionaries are scanned, while stored documents are read, and
//!   every [`CHECK_EVERY`] documents inside Tantivy's own loops (the whole
//!   query is wrapped in a [`BudgetQuery`] whose scorer stops early);
//! - the memory estimate is made before a partition is searched: every
//!   multi-term clause (wildcard, value scan, CIDR) holds a bitset of the
//!   partition's documents and, for wildcards, a compiled automaton; a query
//!   whose estimate passes the cap is refused with what it would need.
//!
//! A search stopped by its budget returns an error, never a partial answer
//! that looks complete.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED};

use crate::query::Filter;
use crate::StoreError;

/// How many documents a scorer yields between two looks at the clock.
pub const CHECK_EVERY: u32 = 4096;

/// Bytes a compiled wildcard automaton takes per state, about (a
/// 256-entry transition table of `Option<usize>`s in tantivy-fst).
const AUTOMATON_STATE_BYTES: u64 = 256 * 16;
/// Tantivy-fst refuses automata past this many states.
const AUTOMATON_MAX_STATES: u64 = 1_000;

const RUNNING: u8 = 0;
const TIMED_OUT: u8 = 1;
const CANCELLED: u8 = 2;

#[derive(Debug)]
struct Inner {
    started: Instant,
    timeout: Option<Duration>,
    max_bytes: Option<u64>,
    cancelled: AtomicBool,
    /// Set by whoever owns many searches (the service, at shutdown).
    parent: Option<Arc<AtomicBool>>,
    stopped: AtomicU8,
}

/// The limits of one search; cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct Budget(Arc<Inner>);

impl Default for Budget {
    fn default() -> Self {
        Budget::unlimited()
    }
}

impl Budget {
    /// No deadline, no memory cap: for the command line and tests.
    pub fn unlimited() -> Budget {
        Budget::new(None, None, None)
    }

    /// A budget that starts now. `parent`, when set, cancels this search
    /// too (one flag for every search of a stopping service).
    pub fn new(
        timeout: Option<Duration>,
        max_bytes: Option<u64>,
        parent: Option<Arc<AtomicBool>>,
    ) -> Budget {
        Budget(Arc::new(Inner {
            started: Instant::now(),
            timeout,
            max_bytes,
            cancelled: AtomicBool::new(false),
            parent,
            stopped: AtomicU8::new(RUNNING),
        }))
    }

    /// Stops the search at its next check.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }

    /// A guard that cancels the search when dropped: hold it in the future
    /// that waits for the search, so a client that goes away (the future is
    /// dropped) stops the work it asked for.
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.0.timeout
    }

    pub fn max_bytes(&self) -> Option<u64> {
        self.0.max_bytes
    }

    /// Whether the search must stop, recording why.
    pub fn exhausted(&self) -> bool {
        if self.0.stopped.load(Ordering::Relaxed) != RUNNING {
            return true;
        }
        let cancelled = self.0.cancelled.load(Ordering::Relaxed)
            || self
                .0
                .parent
                .as_ref()
                .is_some_and(|p| p.load(Ordering::Relaxed));
        if cancelled {
            self.0.stopped.store(CANCELLED, Ordering::Relaxed);
            return true;
        }
        if self.0.timeout.is_some_and(|t| self.0.started.elapsed() > t) {
            self.0.stopped.store(TIMED_OUT, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// `Ok` while the search may go on; else the error that says why not.
    pub fn check(&self) -> Result<(), StoreError> {
        if !self.exhausted() {
            return Ok(());
        }
        Err(match self.0.stopped.load(Ordering::Relaxed) {
            TIMED_OUT => StoreError::TimedOut {
                limit: self.0.timeout.unwrap_or_default(),
            },
            _ => StoreError::Cancelled,
        })
    }

    /// Refuses a query whose estimate for one partition of `docs` documents
    /// passes the cap.
    pub fn admit(&self, filter: &Filter, docs: u64) -> Result<(), StoreError> {
        let Some(max) = self.0.max_bytes else {
            return Ok(());
        };
        let need = estimate_bytes(filter, docs);
        if need > max {
            return Err(StoreError::TooCostly {
                need_mib: need.div_ceil(1 << 20),
                limit_mib: max >> 20,
                clauses: multi_term_clauses(filter),
            });
        }
        Ok(())
    }

    /// Bytes a term-dictionary scan may keep for its matched keys.
    pub(crate) fn scan_cap(&self) -> Option<u64> {
        self.0.max_bytes
    }
}

/// Cancels its budget when dropped (unless [`CancelOnDrop::disarm`]ed).
#[derive(Debug)]
pub struct CancelOnDrop(Option<Budget>);

impl CancelOnDrop {
    /// The search finished: dropping the guard changes nothing.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            b.cancel();
        }
    }
}

/// Clauses that expand to many terms, each holding a document bitset while
/// the query runs.
pub fn multi_term_clauses(f: &Filter) -> u64 {
    match f {
        Filter::Wildcard { .. }
        | Filter::WildcardAnyCase { .. }
        | Filter::WordWildcard { .. }
        | Filter::AnyWildcard { .. }
        | Filter::Values { .. }
        | Filter::Cidr { .. } => 1,
        Filter::And(ps) | Filter::Or(ps) => ps.iter().map(multi_term_clauses).sum(),
        Filter::Not(p) => multi_term_clauses(p),
        _ => 0,
    }
}

/// What a filter needs, about, to run over one partition of `docs`
/// documents: a bitset per multi-term clause, plus each wildcard's
/// automaton (about a state per pattern byte, capped as tantivy-fst caps it).
pub fn estimate_bytes(f: &Filter, docs: u64) -> u64 {
    let bitset = docs.div_ceil(8) + 64;
    let automaton = |pattern: &str| {
        // The key prefix (path and type) adds states too.
        let states = (pattern.len() as u64 + 32).min(AUTOMATON_MAX_STATES);
        states * AUTOMATON_STATE_BYTES
    };
    match f {
        Filter::Wildcard { pattern, .. }
        | Filter::WildcardAnyCase { pattern, .. }
        | Filter::WordWildcard { pattern }
        | Filter::AnyWildcard { pattern } => bitset + automaton(pattern),
        Filter::Values { .. } | Filter::Cidr { .. } => bitset,
        Filter::And(ps) | Filter::Or(ps) => ps
            .iter()
            .map(|p| estimate_bytes(p, docs))
            .fold(0u64, u64::saturating_add),
        Filter::Not(p) => estimate_bytes(p, docs),
        _ => 64,
    }
}

/// Wraps a query so its scorers stop when the budget runs out. The caller
/// checks the budget after the search: a stopped scorer looks like an
/// exhausted one to Tantivy.
#[derive(Debug)]
pub struct BudgetQuery {
    pub inner: Box<dyn Query>,
    pub budget: Budget,
}

impl Clone for BudgetQuery {
    fn clone(&self) -> Self {
        BudgetQuery {
            inner: self.inner.box_clone(),
            budget: self.budget.clone(),
        }
    }
}

impl Query for BudgetQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(BudgetWeight {
            inner: self.inner.weight(scoring)?,
            budget: self.budget.clone(),
        }))
    }
}

struct BudgetWeight {
    inner: Box<dyn Weight>,
    budget: Budget,
}

impl Weight for BudgetWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        if self.budget.exhausted() {
            return Ok(Box::new(tantivy::query::EmptyScorer));
        }
        Ok(Box::new(BudgetScorer {
            inner: self.inner.scorer(reader, boost)?,
            budget: self.budget.clone(),
            until_check: CHECK_EVERY,
            stopped: false,
        }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.inner.explain(reader, doc)
    }
}

struct BudgetScorer {
    inner: Box<dyn Scorer>,
    budget: Budget,
    until_check: u32,
    stopped: bool,
}

impl BudgetScorer {
    fn tick(&mut self) -> bool {
        self.until_check -= 1;
        if self.until_check == 0 {
            self.until_check = CHECK_EVERY;
            if self.budget.exhausted() {
                self.stopped = true;
            }
        }
        self.stopped
    }
}

impl DocSet for BudgetScorer {
    fn advance(&mut self) -> DocId {
        if self.stopped || self.tick() {
            return TERMINATED;
        }
        self.inner.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.stopped || self.tick() {
            return TERMINATED;
        }
        self.inner.seek(target)
    }

    fn doc(&self) -> DocId {
        if self.stopped {
            TERMINATED
        } else {
            self.inner.doc()
        }
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }
}

impl Scorer for BudgetScorer {
    fn score(&mut self) -> Score {
        self.inner.score()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_cancels() {
        let b = Budget::unlimited();
        drop(b.cancel_on_drop());
        assert!(matches!(b.check(), Err(StoreError::Cancelled)));
    }

    #[test]
    fn a_disarmed_guard_does_not() {
        let b = Budget::unlimited();
        b.cancel_on_drop().disarm();
        assert!(b.check().is_ok());
    }

    #[test]
    fn the_deadline_passes() {
        let b = Budget::new(Some(Duration::from_millis(1)), None, None);
        std::thread::sleep(Duration::from_millis(5));
        assert!(matches!(b.check(), Err(StoreError::TimedOut { .. })));
    }

    #[test]
    fn the_parent_flag_cancels() {
        let flag = Arc::new(AtomicBool::new(false));
        let b = Budget::new(None, None, Some(flag.clone()));
        assert!(b.check().is_ok());
        flag.store(true, Ordering::Relaxed);
        assert!(matches!(b.check(), Err(StoreError::Cancelled)));
    }

    #[test]
    fn many_wildcards_over_a_big_partition_are_refused() {
        let one = Filter::wildcard("CommandLine", "*powershell*");
        let many = Filter::Or(vec![one.clone(); 2_000]);
        let b = Budget::new(None, Some(256 << 20), None);
        assert!(b.admit(&one, 10_000_000).is_ok());
        let e = b.admit(&many, 10_000_000).unwrap_err();
        assert!(
            matches!(e, StoreError::TooCostly { clauses: 2_000, .. }),
            "{e}"
        );
    }
}
