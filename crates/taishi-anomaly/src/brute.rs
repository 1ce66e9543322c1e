//! Password guessing and spraying: failures per source, per user, and many
//! users per source; a success after many failures is high severity.
//!
//! Defaults follow Zeek's `SSH::password_guesses_limit` (30 failures) and
//! `SSH::guessing_timeout` (30 min) for the per-source count; the per-user
//! and spraying thresholds are ours (README).

use std::net::IpAddr;

use foldhash::HashSet;
use serde::{Deserialize, Serialize};

use crate::finding::{Feature, Finding, FindingKind, Severity, Text};
use crate::record::{AuthOutcome, AuthRecord};
use crate::table::BoundedMap;
use crate::{check_range, AnomalyError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BruteForceConfig {
    /// Window (ms) all counts are kept over (Zeek: 30 min).
    pub window_ms: i64,
    /// Failures from one source in a window (Zeek: 30).
    pub source_failures: u32,
    /// Failures against one user, from any source, in a window.
    pub user_failures: u32,
    /// Distinct users a source fails on in a window (spraying).
    pub spray_users: u32,
    /// Failures before a success from the same source that make it a
    /// compromise alert.
    pub success_after_failures: u32,
    /// Most sources and users tracked.
    pub max_keys: usize,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            window_ms: 30 * 60_000,
            source_failures: 30,
            user_failures: 30,
            spray_users: 10,
            success_after_failures: 20,
            max_keys: 200_000,
        }
    }
}

impl BruteForceConfig {
    pub fn validate(&self) -> Result<(), AnomalyError> {
        const S: &str = "brute_force";
        check_range(S, "window_ms", self.window_ms, 1_000, 30 * 24 * 3_600_000)?;
        check_range(S, "source_failures", self.source_failures, 2, 10_000_000)?;
        check_range(S, "user_failures", self.user_failures, 2, 10_000_000)?;
        check_range(S, "spray_users", self.spray_users, 2, 1_000_000)?;
        check_range(
            S,
            "success_after_failures",
            self.success_after_failures,
            1,
            10_000_000,
        )?;
        check_range(S, "max_keys", self.max_keys, 1, 100_000_000)?;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SrcState {
    start_ms: i64,
    first_ms: i64,
    last_ms: i64,
    failures: u64,
    users: HashSet<u64>,
    fired_failures: bool,
    fired_spray: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserState {
    start_ms: i64,
    first_ms: i64,
    last_ms: i64,
    failures: u64,
    sources: HashSet<u64>,
    fired: bool,
}

/// What a [`BruteForceDetector`] holds, to save and load across a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BruteForceState {
    by_src: Vec<(IpAddr, SrcState)>,
    by_user: Vec<(String, UserState)>,
}

/// Counts authentication failures; `observe` returns findings as they happen.
#[derive(Debug)]
pub struct BruteForceDetector {
    cfg: BruteForceConfig,
    by_src: BoundedMap<IpAddr, SrcState>,
    by_user: BoundedMap<String, UserState>,
}

/// Most distinct users (or sources) remembered per key: past the spraying
/// threshold the exact number no longer matters.
const MAX_DISTINCT: usize = 1024;

impl BruteForceDetector {
    pub fn new(cfg: BruteForceConfig) -> Result<Self, AnomalyError> {
        cfg.validate()?;
        Ok(BruteForceDetector {
            by_src: BoundedMap::new(cfg.max_keys),
            by_user: BoundedMap::new(cfg.max_keys),
            cfg,
        })
    }

    /// Its tables' fill (entries, cap, evictions).
    pub fn tables(&self) -> Vec<crate::table::TableStatus> {
        vec![
            self.by_src.status("brute_force.sources"),
            self.by_user.status("brute_force.users"),
        ]
    }

    pub fn save_state(&self) -> BruteForceState {
        BruteForceState {
            by_src: self.by_src.entries(),
            by_user: self.by_user.entries(),
        }
    }

    pub fn load_state(&mut self, s: BruteForceState) {
        self.by_src.load(s.by_src);
        self.by_user.load(s.by_user);
    }

    /// Failures counted for a source in its current window.
    pub fn source_failures(&self, src: IpAddr) -> u64 {
        self.by_src.get(&src).map_or(0, |s| s.failures)
    }

    pub fn observe(&mut self, r: &AuthRecord, out: &mut Vec<Finding>) {
        let c = &self.cfg;
        let fails = r.failures() as u64;
        let user_h = r.user.as_deref().map(|u| {
            use std::hash::BuildHasher;
            foldhash::fast::FixedState::with_seed(7).hash_one(u.to_lowercase())
        });
        if let Some(src) = r.src {
            let s = self.by_src.entry_or_insert_with(&src, || SrcState {
                start_ms: r.ts_ms,
                first_ms: r.ts_ms,
                last_ms: r.ts_ms,
                failures: 0,
                users: HashSet::default(),
                fired_failures: false,
                fired_spray: false,
            });
            if crate::window_over(r.ts_ms, s.start_ms, c.window_ms) {
                *s = SrcState {
                    start_ms: r.ts_ms,
                    first_ms: r.ts_ms,
                    last_ms: r.ts_ms,
                    failures: 0,
                    users: HashSet::default(),
                    fired_failures: false,
                    fired_spray: false,
                };
            }
            s.last_ms = s.last_ms.max(r.ts_ms);
            if r.outcome == AuthOutcome::Success
                && s.failures + fails >= c.success_after_failures as u64
            {
                let n = s.failures + fails;
                out.push(Finding {
                    kind: FindingKind::SuccessAfterFailures,
                    entity: match &r.user {
                        Some(u) => format!("{src} → {u}"),
                        None => src.to_string(),
                    },
                    score: 1.0,
                    severity: Severity::Critical,
                    first_ms: s.first_ms,
                    last_ms: r.ts_ms,
                    features: vec![Feature::new(
                        "failures_before_success",
                        n as f64,
                        1.0,
                        true,
                        Text::new(
                            format!("同一来源 {n} 次登录失败后登录成功"),
                            format!("a login succeeded after {n} failures from the same source"),
                        ),
                    )],
                });
                // the guessing run ended in a success: start counting afresh
                s.failures = 0;
                s.fired_failures = false;
                return;
            }
            s.failures += fails;
            if fails > 0 {
                if let Some(h) = user_h {
                    if s.users.len() < MAX_DISTINCT {
                        s.users.insert(h);
                    }
                }
            }
            let mins = c.window_ms as f64 / 60_000.0;
            if !s.fired_failures && s.failures >= c.source_failures as u64 {
                s.fired_failures = true;
                let score =
                    (0.8 + 0.2 * (s.failures as f64 / (10.0 * c.source_failures as f64))).min(1.0);
                out.push(Finding {
                    kind: FindingKind::BruteForce,
                    entity: src.to_string(),
                    score,
                    severity: Severity::from_score(score),
                    first_ms: s.first_ms,
                    last_ms: s.last_ms,
                    features: vec![Feature::new(
                        "source_failures",
                        s.failures as f64,
                        score,
                        true,
                        Text::new(
                            format!("{mins:.0} 分钟内 {} 次登录失败", s.failures),
                            format!("{} failed logins within {mins:.0} min", s.failures),
                        ),
                    )],
                });
            }
            if !s.fired_spray && s.users.len() >= c.spray_users as usize {
                s.fired_spray = true;
                out.push(Finding {
                    kind: FindingKind::PasswordSpray,
                    entity: src.to_string(),
                    score: 0.9,
                    severity: Severity::High,
                    first_ms: s.first_ms,
                    last_ms: s.last_ms,
                    features: vec![Feature::new(
                        "distinct_users",
                        s.users.len() as f64,
                        0.9,
                        true,
                        Text::new(
                            format!("{mins:.0} 分钟内对 {} 个账户登录失败", s.users.len()),
                            format!(
                                "failed logins to {} accounts within {mins:.0} min",
                                s.users.len()
                            ),
                        ),
                    )],
                });
            }
        }
        if let (Some(user), true) = (&r.user, fails > 0) {
            let key = user.to_lowercase();
            let u = self.by_user.entry_or_insert_with(&key, || UserState {
                start_ms: r.ts_ms,
                first_ms: r.ts_ms,
                last_ms: r.ts_ms,
                failures: 0,
                sources: HashSet::default(),
                fired: false,
            });
            if crate::window_over(r.ts_ms, u.start_ms, c.window_ms) {
                *u = UserState {
                    start_ms: r.ts_ms,
                    first_ms: r.ts_ms,
                    last_ms: r.ts_ms,
                    failures: 0,
                    sources: HashSet::default(),
                    fired: false,
                };
            }
            u.last_ms = u.last_ms.max(r.ts_ms);
            u.failures += fails;
            if let Some(src) = r.src {
                if u.sources.len() < MAX_DISTINCT {
                    u.sources.insert(crate::beacon::hash_ip(&src));
                }
            }
            if !u.fired && u.failures >= c.user_failures as u64 {
                u.fired = true;
                out.push(Finding {
                    kind: FindingKind::TargetedUser,
                    entity: key,
                    score: 0.8,
                    severity: Severity::Medium,
                    first_ms: u.first_ms,
                    last_ms: u.last_ms,
                    features: vec![Feature::new(
                        "user_failures",
                        u.failures as f64,
                        0.8,
                        true,
                        Text::new(
                            format!(
                                "该账户 {} 次登录失败，来自 {} 个来源",
                                u.failures,
                                u.sources.len()
                            ),
                            format!(
                                "{} failed logins to this account from {} sources",
                                u.failures,
                                u.sources.len()
                            ),
                        ),
                    )],
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AuthService;

    fn rec(ts: i64, src: &str, user: &str, ok: bool) -> AuthRecord {
        AuthRecord {
            ts_ms: ts,
            src: Some(src.parse().unwrap()),
            user: Some(user.into()),
            service: AuthService::Windows,
            outcome: if ok {
                AuthOutcome::Success
            } else {
                AuthOutcome::Failure
            },
            attempts: 1,
        }
    }

    #[test]
    fn spray_then_success() {
        let mut d = BruteForceDetector::new(BruteForceConfig::default()).unwrap();
        let mut out = Vec::new();
        for i in 0..40 {
            d.observe(
                &rec(i * 1000, "192.0.2.1", &format!("user{}", i % 12), false),
                &mut out,
            );
        }
        d.observe(&rec(41_000, "192.0.2.1", "user3", true), &mut out);
        let kinds: Vec<FindingKind> = out.iter().map(|f| f.kind).collect();
        assert!(kinds.contains(&FindingKind::BruteForce));
        assert!(kinds.contains(&FindingKind::PasswordSpray));
        assert_eq!(kinds.last(), Some(&FindingKind::SuccessAfterFailures));
        assert_eq!(out.last().unwrap().severity, Severity::Critical);
    }
}
