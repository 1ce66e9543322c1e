//! Sigma correlation rules (specification 2.1.0) over the matches of
//! ordinary Sigma rules.
//!
//! The Sigma engine matches single events and hands every match of a rule
//! that some correlation references to [`Correlator::observe`]; the
//! correlator turns them into [`CorrelationHit`]s. Documents are parsed by
//! [`parse_correlation`].
//!
//! # Semantics
//!
//! **Event time.** Windows run over the timestamp passed to `observe` (the
//! event's `@timestamp`), never the wall clock, so replaying old logs gives
//! the same hits as seeing them live.
//!
//! **Out-of-order input.** Observations wait in a reorder buffer and are
//! processed in timestamp order once the newest timestamp seen is
//! `max_lateness` beyond them ([`CorrelatorOptions`], 60 s by default). An
//! observation older than what was already processed is counted in
//! [`CorrelatorStats::late_dropped`] and not used. With
//! [`CorrelatorOptions::batch`] everything is buffered until
//! [`Correlator::flush`]: the right mode for hunting over files that are not
//! in one time order (several EVTX files, say); matches are few next to
//! events, and `max_buffered` still bounds the buffer.
//!
//! **Windows, and when a hit is raised.** Groups are the distinct values of
//! `group-by` (after `aliases`); a match whose event lacks a group-by field
//! belongs to no group (as in SIEM `stats … by`) and is counted in
//! [`CorrelatorStats::missing_group_field`].
//!
//! * *Threshold crossing* — `event_count`, `value_count`, `value_sum`,
//!   `temporal`, `temporal_ordered` with only `gt`/`gte` bounds. The window
//!   slides: at each match the group's window is `[t − timespan, t]`, and the
//!   first match that makes the condition true raises the hit. The events in
//!   the window are then consumed and the group is muted for one timespan;
//!   at the end of that timespan the events gathered meanwhile are evaluated
//!   once (and may raise the next hit, muting again); after that, crossing
//!   works as before. So a group raises at most one hit per timespan, each
//!   hit's events are disjoint from the previous hit's, and a sustained
//!   attack gives one alert per timespan rather than one per event (a
//!   sliding window re-evaluated on every event would fire on every event
//!   past the threshold). This is what a Sigma backend's aggregation query
//!   produces — one row per group per window — without the fixed window
//!   boundaries the specification warns cause false negatives. Disjoint
//!   evidence also keeps chained correlations meaningful: "the brute-force
//!   correlation fired three times in a day" counts three separate bursts.
//! * *Window end* — every other combination: any `lt`, `lte`, `eq`, `neq`
//!   bound or range, and `value_avg`, `value_percentile`, `value_median`
//!   (an average can fall again when events are added, so deciding early
//!   would be wrong). A window opens at the group's first match and covers
//!   `[first, first + timespan]`; it is evaluated once event time passes its
//!   end (or at `flush`), raising at most one hit; the next match opens the
//!   next window. A group with no matches at all raises nothing: a
//!   correlation cannot detect the absence of a group it never saw.
//!
//! **temporal / temporal_ordered.** The measure is the number of referenced
//! rules that matched in the window; without a condition all of them must
//! (`gte: <number of rules>`). `temporal_ordered` counts the longest prefix
//! of `rules` that matched in that order (each step strictly after the
//! previous in event time, or later in input order at the same timestamp)
//! within one timespan.
//!
//! **Values.** `value_count` counts distinct values (distinct combinations
//! when `field` is a list); `value_sum`/`value_avg` use the numeric values
//! (numbers, or text that parses as one; others are counted in
//! [`CorrelatorStats::missing_value`]); `value_percentile` interpolates
//! linearly between closest ranks (SQL `PERCENTILE_CONT`), `value_median` is
//! its 50th percentile.
//!
//! **Chaining.** A correlation may reference another by id or name; the inner
//! correlation's hits are fed to the outer one at the time they are raised,
//! as events holding the inner group-by values plus any field the outer
//! correlation needs (its group-by and condition fields, after aliases),
//! taken from the most recent event of the inner window. Cycles are
//! rejected by [`Correlator::new`].
//!
//! **generate.** A rule's own matches (and an inner correlation's hits) are
//! reported unless every correlation that references it has
//! `generate: false` (the default); see [`Correlator::should_generate`].
//! Suppressed inner hits still feed the outer correlations.
//!
//! **Memory.** Per correlation, groups whose window is over are dropped as
//! event time moves on, the number of groups is capped (the least recently
//! active are evicted first, counted in
//! [`CorrelatorStats::evicted_groups`]), and so is the number of entries one
//! group keeps ([`CorrelatorStats::truncated_entries`]).

mod engine;
mod error;
mod rule;

pub use engine::{CorrelationHit, Correlator, CorrelatorOptions, CorrelatorStats};
pub use error::CorrelationError;
pub use rule::{
    is_correlation, parse_correlation, Condition, CorrelationRule, CorrelationType, Level, Op,
    Timespan,
};
