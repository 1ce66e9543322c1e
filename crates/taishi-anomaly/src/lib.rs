//! Anomaly detection on plain network and authentication records: what no
//! signature names.
//!
//! Every detector here works on small records of its own ([`FlowRecord`],
//! [`DnsRecord`], [`HttpRecord`], [`AuthRecord`]) rather than on Taishi's
//! event type, so the statistics can be tested and benchmarked alone; the
//! runtime maps ECS fields onto these records (see each record's docs for the
//! field it comes from).
//!
//! Each detector
//! - keeps its state in [`BoundedMap`]s with an explicit cap and
//!   least-recently-seen eviction, so memory never grows with the input;
//! - reports [`Finding`]s whose score is explained by the [`Feature`]s that
//!   fired, each with zh-CN and English text;
//! - takes its thresholds from a config struct with serde defaults.

pub mod beacon;
pub mod brute;
pub mod dga;
pub mod domain;
pub mod ecs;
pub mod engine;
pub mod exfil;
pub mod finding;
pub mod lookalike;
pub mod record;
pub mod scan;
pub mod stats;
pub mod table;
pub mod tunnel;

pub use beacon::{BeaconConfig, BeaconDetector, BeaconScore, BeaconState, BeaconTarget};
pub use brute::{BruteForceConfig, BruteForceDetector, BruteForceState};
pub use dga::{DgaConfig, DgaDetector, DgaModel, DgaState};
pub use engine::{
    AnomalyConfig, DetectorStatus, Engine, EngineStatus, OrgFinding, OrgStatus, StateError,
    Switches,
};
pub use exfil::{ExfilConfig, ExfilDetector, ExfilState};
pub use finding::{Feature, Finding, FindingKind, Lang, Severity, Text};
pub use lookalike::{Brand, LookalikeConfig, LookalikeMatch, LookalikeWatch, Method, Variant};

pub use record::{
    AuthOutcome, AuthRecord, ConnState, DnsRecord, FlowRecord, HttpRecord, Transport,
};
pub use scan::{ScanConfig, ScanDetector, ScanState};
pub use table::{BoundedMap, TableStatus};
pub use tunnel::{TunnelConfig, TunnelDetector, TunnelState};

/// What can go wrong building a detector: a bad threshold or a damaged
/// model file. Runtime observation never fails; bad records are skipped.
#[derive(Debug, thiserror::Error)]
pub enum AnomalyError {
    /// A config field is out of its allowed range.
    #[error("invalid anomaly config: {section}.{field} = {value}: {reason}")]
    Config {
        section: &'static str,
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    /// The shipped or supplied DGA model does not parse.
    #[error("DGA model {source_name}: {reason}")]
    Model { source_name: String, reason: String },
    /// A brand in the look-alike config cannot be used.
    #[error("look-alike brand {brand:?}: {reason}")]
    Brand { brand: String, reason: String },
}

/// Whether `ts` falls outside the tumbling window that started at `start`:
/// past its end, or more than one window before its start (a clock jump
/// back). Saturating, since timestamps come from logs and can be anything.
pub(crate) fn window_over(ts: i64, start: i64, window: i64) -> bool {
    let d = ts.saturating_sub(start);
    d >= window || d < -window
}

/// Checks that a config value lies in a range, naming it when it does not.
pub(crate) fn check_range<T: PartialOrd + std::fmt::Display>(
    section: &'static str,
    field: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<(), AnomalyError> {
    if value < min || value > max {
        return Err(AnomalyError::Config {
            section,
            field,
            value: value.to_string(),
            reason: "out of range",
        });
    }
    Ok(())
}
