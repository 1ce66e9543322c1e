//! The engine `taishi hunt` and `taishi serve` share.
//!
//! ```text
//! events ─▶ [enrich] ─▶ [event store] ─▶ Detector (Sigma ▸ correlation ▸ intel) ─▶ alerts ─▶ AlertStore ─▶ hooks
//! ```
//!
//! - [`Detector`]: the rules compiled once (Sigma engine, correlator, one
//!   [`rule_key`] for both) and what one event raises; [`Rules`] holds the
//!   running detector of a service and swaps it on reload.
//! - [`alerts`]: the constructors that turn a Sigma match, a correlation hit
//!   or an intel hit into a [`taishi_alert::Alert`].
//! - [`Pipeline`]: enrich → store → detect → commit → alerts, built with a
//!   [`PipelineBuilder`]; it is every listener's `IngestSink` in serve.
//!   Alerts go to an [`AlertStore`] (SQLite in serve, a table in hunt)
//!   through a durable journal, so none is lost between the events' commit
//!   and the alert insert.
//! - [`Metrics`]: the hook counters go through.
//!
//! - [`StreamDetector`]: the seam for detectors that keep state across
//!   events (see every stored event of a batch, and a periodic `tick`);
//!   [`anomaly::Anomaly`] runs taishi-anomaly's detectors through it.
//!
//! Detectors still to come (personal data, risk, incidents) plug in here,
//! not into the service.

pub mod alerts;
pub mod anomaly;
pub mod failpoint;
pub mod intel;
mod journal;
pub mod pii;
pub mod pii_leak;
pub mod pipeline;
pub mod rejects;
pub mod rules;

pub use pipeline::{
    AlertGate, AlertHook, AlertStore, BatchReport, Counters, Enricher, MatcherSource, Metrics,
    Pipeline, PipelineBuilder, Sink, StreamDetector,
};
pub use rejects::{RejectLimits, RejectLog};
pub use rules::{
    rule_key, Detector, DetectorOptions, Health, Raised, RuleInfo, Rules, RulesConfig,
};

/// An error from a part the runtime drives (rules, the alert store).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong building or running the engine.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The rule files could not be loaded or compiled.
    #[error("rules: {0}")]
    Rules(#[source] BoxError),
    /// The alert store refused the alerts a killed run left in the journal
    /// (they stay there for the next start).
    #[error("storing the alerts left in the alert journal: {0}")]
    AlertStore(#[source] BoxError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}
