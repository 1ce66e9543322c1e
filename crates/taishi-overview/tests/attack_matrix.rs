//! The ATT&CK heatmap places a rule's techniques by ATT&CK's
//! technique→tactic mapping, not by every tactic the rule names.

mod common;

use chrono::{TimeDelta, Utc};
use common::{record, World};
use taishi_alert::Level;
use taishi_overview::overview;
use taishi_store::TimeRange;

/// An alert of `rule` with these tags (the picture groups by rule).
fn fired(rule: &str, tags: &[&str]) -> taishi_alert::AlertRecord {
    let mut r = record(Level::High, "ws-01", "10.0.0.5", tags, 5);
    r.alert.rule_id = rule.into();
    r
}

#[test]
fn techniques_go_under_their_own_tactics() {
    let w = World::new();
    let state = &w.state;
    state
        .insert_alerts(&[
            fired(
                "c2",
                &["attack.command-and-control", "attack.t1071", "attack.t1027"],
            ),
            // Pre-v19 tag: Defense Evasion is Stealth (TA0005) now.
            fired("old", &["attack.defense-evasion", "attack.t1027"]),
            // A v19 tactic with a technique the v18.1 data files under TA0005.
            fired("impair", &["attack.defense-impairment", "attack.t1562.001"]),
            // A v19-only technique: the rule's tactic.
            fired("new", &["attack.defense-impairment", "attack.t1685"]),
            // No tactic tagged: the technique's own (several).
            fired("bare", &["attack.t1053.005"]),
            // Unknown technique, no tactic: unknown, as before.
            fired("none", &["attack.t1999"]),
        ])
        .unwrap();
    let src = w.sources();
    let now = Utc::now();
    let range = TimeRange::new(now - TimeDelta::hours(1), now + TimeDelta::seconds(1));
    let o = overview(src, range, taishi_state::AlertTime::Detected).unwrap();
    let mut cells: Vec<(String, String, u64)> = o
        .attack_matrix
        .iter()
        .map(|c| (c.tactic.clone(), c.technique.clone(), c.count))
        .collect();
    cells.sort();
    let want: Vec<(String, String, u64)> = [
        ("command_and_control", "T1071", 1),
        ("defense_impairment", "T1562.001", 1),
        ("defense_impairment", "T1685", 1),
        ("execution", "T1053.005", 1),
        ("persistence", "T1053.005", 1),
        ("privilege_escalation", "T1053.005", 1),
        ("stealth", "T1027", 2),
        ("unknown", "T1999", 1),
    ]
    .iter()
    .map(|(a, b, n)| (a.to_string(), b.to_string(), *n))
    .collect();
    assert_eq!(cells, want);
    assert!(!o
        .attack_matrix
        .iter()
        .any(|c| c.technique == "T1027" && c.tactic == "command_and_control"));
}
