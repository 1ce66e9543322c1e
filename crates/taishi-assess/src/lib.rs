//! Risk assessment (风险评估, issue 15) as a running service.
//!
//! `taishi serve` builds one [`Risk`] at start, hands the pipeline its
//! [`RiskHook`], routes the imports and lists to it and runs
//! [`Risk::pull_feeds`] on its timer. Everything that loads, applies and
//! stores lives here; the models and rules are the pure crates'
//! (`taishi_asset`: the register, `taishi_vuln`: matching and priorities,
//! `taishi_risk`: scores and warnings), the rows `taishi_state::risk`'s.

mod config;
mod manual;
mod nvd;
mod overdue;
mod pull;
mod report;
mod service;
pub mod yearly;
pub use report::yearly_report;

pub use config::{DeadlineDays, RiskSection};
pub use manual::parse_identity;
pub use nvd::{
    explanations, FindingExplanation, NvdEntry, NvdMatch, MAX_NVD_IMPORT_BYTES, MAX_NVD_RECORDS,
};
pub use overdue::OverdueCheck;
pub use pull::MAX_PULL_BYTES;
pub use service::*;
