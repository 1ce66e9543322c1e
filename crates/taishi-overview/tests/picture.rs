//! The picture drawn from a real event store and a real state database.

mod common;

use chrono::{TimeDelta, Utc};
use common::{record, World};
use taishi_alert::Level;
use taishi_overview::{overview, threat, OverviewCache};
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
            // Outside the range asked for: counted nowhere.
            record(Level::Critical, "old-03", "10.0.0.7", &tags, 60 * 48),
        ])
        .unwrap();
    let src = w.sources();
    let now = Utc::now();
    let range = TimeRange::new(now - TimeDelta::hours(24), now + TimeDelta::seconds(1));
    let o = overview(src, range).unwrap();
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

    // One critical and two highs in a day: the score the weights give.
    let t = threat(state, &taishi_state::Scope::All, now).unwrap();
    assert_eq!(t.open, 3);
    assert_eq!(o.threat_level, t.level);
    assert!(t.score > 0.0 && t.score <= 100.0, "{t:?}");

    // The cache answers the same picture until alerts change.
    let cache = OverviewCache::default();
    let a = cache.get(src, ("now-24h", ""), range).unwrap();
    assert_eq!(a.alerts_total, 3);
    state
        .insert_alerts(&[record(Level::Low, "ws-01", "10.0.0.5", &tags, 1)])
        .unwrap();
    let b = cache.get(src, ("now-24h", ""), range).unwrap();
    assert_eq!(b.alerts_total, 4, "a new alert makes a fresh picture");
}
