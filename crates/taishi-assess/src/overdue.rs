//! Remediation deadlines watched: findings past the deadline their priority
//! set, and accepted risks past their expiry, raise a warning each (once per
//! finding and deadline) through the same path as every other warning. The
//! schedule is the caller's (serve runs [`Risk::check_overdue`] every
//! `[risk] overdue_check_minutes`); the time is a parameter so that a test
//! can look a year ahead.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::{Risk, RiskError};

/// Assets looked at per check. Past this the rest wait for the next check
/// (warnings are deduplicated, so nothing is raised twice meanwhile).
const MAX_ASSETS: usize = 100_000;

/// What a check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverdueCheck {
    /// Assets with a finding that may be overdue.
    pub assets: usize,
    /// Warnings raised now (a finding already warned of is not counted).
    pub raised: usize,
}

impl Risk {
    /// Raises the warnings for every finding overdue at `now`.
    pub fn check_overdue(&self, now: DateTime<Utc>) -> Result<OverdueCheck, RiskError> {
        let at = now.to_rfc3339_opts(SecondsFormat::Millis, true);
        let assets = self.state.assets_maybe_overdue(&at, MAX_ASSETS)?;
        let mut out = OverdueCheck {
            assets: assets.len(),
            raised: 0,
        };
        for (org, id) in assets {
            let Some(wa) = self.warn_asset(id)? else {
                continue;
            };
            for w in taishi_risk::overdue(&wa, now) {
                if self.raise(&org, &w)?.is_some() {
                    out.raised += 1;
                }
            }
        }
        Ok(out)
    }
}
