//! The risk score and early warnings of Taishi's risk assessment (风险评估,
//! issue 15), as pure functions: no storage, no clock of its own (every
//! function takes `now`), no network.
//!
//! - [`score`]: the score of an asset from its open findings (each with its
//!   priority from `taishi_vuln::priority`), its exposure and the attacks
//!   observed on it in the last 30 days; roll-ups per business system and
//!   organisation. Every score carries its factors and
//!   [`score::RiskScore::recompute`] gives the same number from them.
//! - [`warn`]: early warnings 红/橙/黄/蓝 with a recommended action and a
//!   dedup key.
//! - [`context`]: from the register's asset and the feeds to the inputs
//!   above (the priority of a scanner finding on an asset).
//!
//! The model is written down in `docs/risk-model.md`.

pub mod context;
pub mod score;
pub mod warn;

pub use context::{assess_finding, asset_context, exposed_ports, FeedView};
pub use score::{
    rollup, score_asset, Attack, AttackKind, Factor, FactorKind, FindingInput, Item, RiskInput,
    RiskScore, ScoreModel, Severity,
};
pub use warn::{
    cves_in, evaluate, overdue, techniques_in, BiText, Remediation, Trigger, WarnAsset, Warning,
    WarningKind, WarningLevel,
};
