//! Rescan semantics: given the open findings of a scope and a new report of
//! the same scope, which findings are new, still open, and fixed.
//!
//! A previous finding is judged only when the new report could have seen
//! it: its asset was scanned this time (a host that was down says nothing)
//! and it came from the same scanner (a Nessus plugin id cannot be absent
//! from a Greenbone report). Otherwise it is `not_rescanned` and stays as
//! it was.

use crate::finding::{Finding, FindingKey};
use crate::lang::Lang;
use crate::scan::ScanReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What a rescan says about each finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RescanDiff {
    pub new: Vec<FindingKey>,
    pub still_open: Vec<FindingKey>,
    pub fixed: Vec<FindingKey>,
    pub not_rescanned: Vec<FindingKey>,
}

/// The state a rescan gives a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RescanState {
    New,
    StillOpen,
    Fixed,
    NotRescanned,
}

impl RescanState {
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            RescanState::New => lang.pick("新发现", "new"),
            RescanState::StillOpen => lang.pick("仍存在", "still open"),
            RescanState::Fixed => {
                lang.pick("已修复（复扫未再发现）", "fixed (absent from the rescan)")
            }
            RescanState::NotRescanned => lang.pick("未复扫", "not rescanned"),
        }
    }
}

impl RescanDiff {
    /// The state of one key.
    pub fn state(&self, k: &FindingKey) -> Option<RescanState> {
        [
            (&self.new, RescanState::New),
            (&self.still_open, RescanState::StillOpen),
            (&self.fixed, RescanState::Fixed),
            (&self.not_rescanned, RescanState::NotRescanned),
        ]
        .into_iter()
        .find(|(v, _)| v.binary_search(k).is_ok())
        .map(|(_, s)| s)
    }
}

/// Compares the previous open findings of a scope with a new report.
pub fn rescan<'a>(
    previous: impl IntoIterator<Item = &'a Finding>,
    report: &ScanReport,
) -> RescanDiff {
    let now: BTreeSet<FindingKey> = report.findings.iter().map(Finding::key).collect();
    let mut before: BTreeSet<FindingKey> = BTreeSet::new();
    let mut d = RescanDiff::default();
    for f in previous {
        let k = f.key();
        if !before.insert(k.clone()) {
            continue;
        }
        if now.contains(&k) {
            d.still_open.push(k);
        } else if report.scanned.contains(&k.asset) && f.scanners().any(|s| s == report.scanner) {
            d.fixed.push(k);
        } else {
            d.not_rescanned.push(k);
        }
    }
    d.new = now.difference(&before).cloned().collect();
    d.still_open.sort();
    d.fixed.sort();
    d.not_rescanned.sort();
    d
}
