//! The picture drawn from a real event store and a real state database.

mod common;

use chrono::{TimeDelta, Utc};
use common::{record, World};
use taishi_alert::Level;
use taishi_overview::{overview, threat, threat_of, OverviewCache};
use taishi_state::{AlertTime, ThreatInputs};
use taishi_store::TimeRange;

#[test]
fn alerts_of_the_range_give_levels_assets_sources_the_matrix_and_the_threat() {
    let w = World::new();
    let state = &w.state;
    let tags = ["attack.execution", "attack.t1059.001"];
    state
        .insert_alerts(&[
            record(Level::High, "ws-01", "10.0.0.5", &tags, 5),
            record(Level::High, "ws-01", "10.0.0.5", &tags, 4),
            record(Level::Critical, "db-02", "10.0.0.9", &tags, 3),
            // An event of two days ago, detected now: in the range by
            // detection time only.
            record(Level::Critical, "old-03", "10.0.0.7", &tags, 60 * 48),
        ])
        .unwrap();
    let src = w.sources();
    let now = Utc::now();
    let range = TimeRange::new(now - TimeDelta::hours(24), now + TimeDelta::seconds(1));
    let o = overview(src, range, AlertTime::Event).unwrap();
    assert_eq!((o.alerts_total, o.alerts_open), (3, 3));
    assert_eq!((o.alerts_by_level.high, o.alerts_by_level.critical), (2, 1));
    assert_eq!(o.top_assets[0].host, "ws-01");
    assert_eq!(o.top_assets[0].count, 2);
    assert_eq!(o.top_sources[0].ip, "10.0.0.5");
    let cell = &o.attack_matrix[0];
    assert_eq!(
        (cell.tactic.as_str(), cell.technique.as_str(), cell.count),
        ("execution", "T1059.001", 3)
    );
    let over_time: u64 = o
        .alerts_over_time
        .iter()
        .map(|b| b.levels.high + b.levels.critical)
        .sum();
    assert_eq!(over_time, 3);

    // By detection time (the default) the old event's alert is news.
    let d = overview(src, range, AlertTime::Detected).unwrap();
    assert_eq!((d.alerts_total, d.alerts_by_level.critical), (4, 2));
    assert_eq!(d.top_assets.len(), 3);

    // One critical and two highs on one host in the range by event time:
    // two findings (ws-01's highs are one), 12 + 5 points.
    let t = threat(
        state,
        &taishi_state::Scope::All,
        (range.from, range.to),
        AlertTime::Event,
    )
    .unwrap();
    assert_eq!((t.open, t.hosts, t.closed), (3, 2, 0));
    assert_eq!(o.threat, t);
    assert_eq!(o.threat_level, t.level);
    assert_eq!(t.points, 17.0);
    assert_eq!(t.score, 49.3);
    assert_eq!(t.level, "elevated");
    let f: Vec<_> = t
        .factors
        .iter()
        .map(|f| (f.level.as_str(), f.alerts, f.findings, f.points))
        .collect();
    assert_eq!(f, [("critical", 1, 1, 12.0), ("high", 2, 1, 5.0)]);

    // The cache answers the same picture until alerts change.
    let cache = OverviewCache::default();
    let a = cache
        .get(src, ("now-24h", ""), range, AlertTime::Event)
        .unwrap();
    assert_eq!(a.alerts_total, 3);
    state
        .insert_alerts(&[record(Level::Low, "ws-01", "10.0.0.5", &tags, 1)])
        .unwrap();
    let b = cache
        .get(src, ("now-24h", ""), range, AlertTime::Event)
        .unwrap();
    assert_eq!(b.alerts_total, 4, "a new alert makes a fresh picture");
}

/// The threat level is defined by its factors (see `Threat`): the cases
/// the first-hour report named, and the saturating scale.
#[test]
fn the_threat_level_counts_open_findings_of_the_range_by_weight() {
    let at = |open: [u64; 5], pairs: [u64; 5]| {
        threat_of(&ThreatInputs {
            open,
            pairs,
            hosts: 0,
            closed: 0,
        })
    };
    // One encoded PowerShell command (a high rule) on three hosts, fired
    // many times: three findings, elevated, not severe.
    let t = at([0, 0, 0, 40, 0], [0, 0, 0, 3, 0]);
    assert_eq!((t.score, t.level), (45.1, "elevated"));
    // Two open medium alerts over 30 days count (they did not at all when
    // the level looked at the last 24 hours only).
    let t = at([0, 0, 2, 0, 0], [0, 0, 2, 0, 0]);
    assert_eq!((t.score, t.level), (14.8, "low"));
    assert_eq!(t.open, 2);
    // Nothing open: zero, with no factors.
    let t = at([0; 5], [0; 5]);
    assert_eq!((t.score, t.level, t.factors.len()), (0.0, "low", 0));
    // One critical finding alone is guarded; five are severe.
    assert_eq!(at([0, 0, 0, 0, 1], [0, 0, 0, 0, 1]).level, "guarded");
    assert_eq!(at([0, 0, 0, 0, 5], [0, 0, 0, 0, 5]).level, "severe");
    // Informational alerts are shown but weigh nothing.
    let t = at([9, 0, 0, 0, 0], [3, 0, 0, 0, 0]);
    assert_eq!((t.score, t.factors[0].points), (0.0, 0.0));
}
