//! What the yearly risk assessment report reads (issue 15, CII regulation
//! Art. 17): the register, the findings, the score history, the warnings
//! and the attacks of one period, in a caller's scope. Every list is
//! bounded; `truncated` says a bound was reached, so the report can say
//! it is partial instead of silently under-counting.

use crate::db::Value;
use crate::orgs::Scope;
use crate::risk::{
    row_asset, row_attack, row_finding, row_warning, AssetRow, AttackRow, FindingRow, WarningRow,
    ASSET_COLUMNS, FINDING_COLUMNS, WARNING_COLUMNS,
};
use crate::{Result, State};

/// How many rows of each kind a period read takes at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodLimits {
    pub assets: usize,
    pub findings: usize,
    pub scores: usize,
    pub warnings: usize,
    pub attacks: usize,
}

impl Default for PeriodLimits {
    fn default() -> Self {
        PeriodLimits {
            assets: 100_000,
            findings: 500_000,
            scores: 2_000_000,
            warnings: 100_000,
            attacks: 200_000,
        }
    }
}

/// One stored score, without its factors (the trend needs only the number).
#[derive(Debug, Clone, PartialEq)]
pub struct ScorePoint {
    pub asset_id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub score: f64,
}

/// The rows of one period.
#[derive(Debug, Clone, Default)]
pub struct PeriodRows {
    /// Every asset in scope, with its register document.
    pub assets: Vec<(AssetRow, String)>,
    /// Every finding in scope first seen before the period's end.
    pub findings: Vec<FindingRow>,
    /// CVEs KEV marks as used by ransomware.
    pub ransomware: Vec<String>,
    /// Scores before the period's end, by asset then time.
    pub scores: Vec<ScorePoint>,
    /// Warnings raised in the period.
    pub warnings: Vec<WarningRow>,
    /// Alerts and intel hits on assets in the period.
    pub attacks: Vec<AttackRow>,
    /// A list reached its bound.
    pub truncated: bool,
}

impl State {
    /// The rows of the period [`from`, `to`) (RFC 3339 UTC with
    /// milliseconds, as stored) in `scope`.
    pub fn risk_period(
        &self,
        scope: &Scope,
        from: &str,
        to: &str,
        l: &PeriodLimits,
    ) -> Result<PeriodRows> {
        let (w, p) = scope.sql("org");
        let n = p.len();
        let with = |extra: &[&str]| -> Vec<Value> {
            let mut v = p.clone();
            v.extend(extra.iter().map(|s| Value::Text(s.to_string())));
            v
        };
        let mut db = self.reader();
        let assets = db.query_map(
            &format!(
                "SELECT {ASSET_COLUMNS}, doc FROM risk_assets WHERE {w} ORDER BY score DESC, id LIMIT {}",
                l.assets
            ),
            &p,
            |r| Ok((row_asset(r)?, r.get::<_, String>(11)?)),
        )?;
        let findings = db.query_map(
            &format!(
                "SELECT {FINDING_COLUMNS} FROM risk_findings WHERE {w} AND first_seen < ${} \
                 ORDER BY kev DESC, priority DESC, id LIMIT {}",
                n + 1,
                l.findings
            ),
            &with(&[to]),
            row_finding,
        )?;
        let ransomware = db.query_map(
            "SELECT cve FROM risk_feed_entries WHERE kind = 'kev' AND ransomware != 0 ORDER BY cve",
            &[],
            |r| r.get::<_, String>(0),
        )?;
        let scores = db.query_map(
            &format!(
                "SELECT asset_id, at, score FROM risk_scores WHERE {w} AND at < ${} \
                 ORDER BY asset_id, at LIMIT {}",
                n + 1,
                l.scores
            ),
            &with(&[to]),
            |r| {
                Ok(ScorePoint {
                    asset_id: r.get(0)?,
                    at: r.get(1)?,
                    score: r.get(2)?,
                })
            },
        )?;
        let warnings = db.query_map(
            &format!(
                "SELECT {WARNING_COLUMNS} FROM risk_warnings WHERE {w} AND created >= ${} AND created < ${} \
                 ORDER BY level_rank DESC, created DESC, id LIMIT {}",
                n + 1,
                n + 2,
                l.warnings
            ),
            &with(&[from, to]),
            row_warning,
        )?;
        let attacks = db.query_map(
            &format!(
                "SELECT org, asset_id, alert_id, kind, severity, at, title FROM risk_asset_attacks \
                 WHERE {w} AND at >= ${} AND at < ${} ORDER BY at DESC LIMIT {}",
                n + 1,
                n + 2,
                l.attacks
            ),
            &with(&[from, to]),
            row_attack,
        )?;
        let truncated = assets.len() >= l.assets
            || findings.len() >= l.findings
            || scores.len() >= l.scores
            || warnings.len() >= l.warnings
            || attacks.len() >= l.attacks;
        Ok(PeriodRows {
            assets,
            findings,
            ransomware,
            scores,
            warnings,
            attacks,
            truncated,
        })
    }
}
