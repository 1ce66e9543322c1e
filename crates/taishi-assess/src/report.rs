//! The yearly risk report read from the state: the period's rows in the
//! caller's scope, the numbers ([`crate::yearly`], pure), then the factors
//! of the assets the ranking lists.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use taishi_state::risk_period::PeriodLimits;
use taishi_state::{Scope, State, StateError};

use crate::yearly::{stored, YearlyInput, YearlyReport};

/// The yearly report of `org` (its name) for the period [`from`, `to`)
/// over the organisations of `scope`.
pub fn yearly_report(
    state: &State,
    scope: &Scope,
    org: String,
    from: DateTime<FixedOffset>,
    to: DateTime<FixedOffset>,
    generated: DateTime<FixedOffset>,
) -> Result<YearlyReport, StateError> {
    let rows = state.risk_period(scope, &stored(from), &stored(to), &PeriodLimits::default())?;
    let mut r = YearlyReport::compute(&YearlyInput {
        org,
        from,
        to,
        generated,
        rows,
        unknown_assets: None,
    });
    let mut factors = HashMap::new();
    for a in &r.risk.assets.items {
        let latest = state.scores(a.id, 1)?.into_iter().next();
        if let Some(s) = latest.and_then(|s| serde_json::from_str(&s.factors).ok()) {
            factors.insert(a.id, s);
        }
    }
    r.set_factors(&factors);
    Ok(r)
}
