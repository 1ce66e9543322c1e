//! Grouping: the same host groups; placeholders never group; entities by
//! rule class; correlation group-by; window and bounded memory; merge and
//! split keep provenance; similar incidents.

mod common;

use chrono::Duration;
use common::*;
use taishi_alert::Level;
use taishi_incident::group::{CloseReason, EntityKind};
use taishi_incident::incident::LinkEvent;
use taishi_incident::{
    Actor, GroupConfig, Grouper, Incident, LogSource, ObservableIndex, ObservableKind, Provenance,
    SourceClass, Status,
};

fn by(why: &str) -> Provenance {
    Provenance::new(Actor::User("analyst".into()), base(), why)
}

#[test]
fn same_host_groups_across_users_and_fqdn() {
    let mut g = Grouper::new(GroupConfig::default());
    let a = g.assign(&endpoint("a1", "WS01.corp.local", "alice", 0, &[]));
    let b = g.assign(&endpoint("a2", "ws01", "bob", 30, &[]));
    let c = g.assign(&endpoint("a3", "WS02", "alice", 31, &[]));
    assert!(a.new && !b.new && c.new);
    assert_eq!(a.group, b.group);
    assert_ne!(a.group, c.group);
    assert_eq!(a.class, SourceClass::Endpoint);
    assert_eq!(a.key.as_ref().unwrap().kind, EntityKind::Host);
    assert!(a.reason.zh.contains("按主机 ws01"), "{}", a.reason.zh);
}

#[test]
fn placeholders_never_group() {
    let mut g = Grouper::new(GroupConfig::default());
    let mut seen = std::collections::HashSet::new();
    for (i, host) in [
        "-",
        "unknown",
        "localhost",
        "SYSTEM",
        "",
        "127.0.0.1",
        "Unknown",
    ]
    .iter()
    .enumerate()
    {
        // Users are placeholders too, and no address: nothing to join by.
        let mut a = endpoint(&format!("p{i}"), host, "SYSTEM", i as i64, &[]);
        a.summary
            .insert("User".into(), serde_json::json!("NT AUTHORITY\\SYSTEM"));
        let x = g.assign(&a);
        assert!(x.new && x.key.is_none(), "{host:?} → {x:?}");
        assert!(seen.insert(x.group));
    }
    // A placeholder host falls through to the user, never to a `-` group.
    let x = g.assign(&endpoint("u1", "-", "carol", 1, &[]));
    let y = g.assign(&endpoint("u2", "unknown", "CORP\\Carol", 2, &[]));
    assert_eq!(x.group, y.group);
    assert_eq!(x.key.unwrap().kind, EntityKind::User);
}

#[test]
fn identity_rules_group_by_user_and_network_rules_by_ip() {
    let mut g = Grouper::new(GroupConfig::default());
    let a = g.assign(&logon("l1", "DC01", "admin", 0));
    let b = g.assign(&logon("l2", "DC02", "admin@corp.local", 5));
    assert_eq!(a.class, SourceClass::Identity);
    assert_eq!(a.group, b.group, "same user on two hosts");
    let n1 = g.assign(&network("n1", "203.0.113.7", "10.0.0.5", 0));
    let n2 = g.assign(&network("n2", "203.0.113.7", "10.0.0.9", 1));
    assert_eq!(n1.class, SourceClass::Network);
    assert_eq!(n1.group, n2.group);
    // A registered log source decides over the event.
    g.register_rule(
        "rule-x",
        LogSource {
            product: Some("okta".into()),
            ..LogSource::default()
        },
    );
    let mut o = logon("l3", "x", "admin", 6);
    o.rule_id = "rule-x".into();
    assert_eq!(g.assign(&o).group, a.group);
}

#[test]
fn correlations_group_by_their_group_by() {
    let mut g = Grouper::new(GroupConfig::default());
    let host = g.assign(&endpoint("e1", "WS09", "dave", 0, &[]));
    // A group-by on a host field joins the host's incident.
    let c1 = g.assign(&correlation("c1", &[("Computer", "WS09.corp")], 3));
    assert_eq!(c1.class, SourceClass::Correlation);
    assert_eq!(c1.group, host.group);
    // Other fields form their own key; placeholders are left out.
    let c2 = g.assign(&correlation("c2", &[("rule.name", "X"), ("proto", "-")], 3));
    let c3 = g.assign(&correlation("c3", &[("rule.name", "x")], 4));
    assert_eq!(c2.group, c3.group);
    assert_eq!(c2.key.unwrap().kind, EntityKind::Group);
    let c4 = g.assign(&correlation("c4", &[("proto", "-")], 4));
    assert!(c4.key.is_none());
}

#[test]
fn window_closes_groups_and_memory_is_capped() {
    let cfg = GroupConfig {
        window: Duration::hours(1),
        max_open_groups: 3,
        ..GroupConfig::default()
    };
    let mut g = Grouper::new(cfg);
    let a = g.assign(&endpoint("w1", "H1", "u", 0, &[]));
    // Two hours later the same host is a new incident.
    let b = g.assign(&endpoint("w2", "H1", "u", 120, &[]));
    assert_ne!(a.group, b.group);
    let closed = g.drain_closed();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].reason, CloseReason::Window);
    for (i, h) in ["H2", "H3", "H4", "H5"].iter().enumerate() {
        g.assign(&endpoint(&format!("m{i}"), h, "u", 121 + i as i64, &[]));
    }
    assert_eq!(g.open_groups(), 3);
    let closed = g.drain_closed();
    assert!(closed.iter().all(|c| c.reason == CloseReason::Evicted));
    assert_eq!(closed.len(), 2);
}

#[test]
fn incident_from_grouped_alerts_merge_and_split_keep_provenance() {
    let a1 = endpoint(
        "a1",
        "WS01",
        "alice",
        0,
        &["attack.execution", "attack.t1059.001"],
    );
    let mut a2 = endpoint("a2", "WS01", "alice", 5, &["attack.t1486"]);
    a2.level = Level::Critical;
    let a3 = endpoint("a3", "WS02", "bob", 6, &[]);
    let sys = Provenance::new(
        Actor::System("grouper".into()),
        base(),
        "grouped by host ws01",
    );
    let mut i1 = Incident::from_alerts("INC-1", "org1", &[&a1], sys.clone()).unwrap();
    assert_eq!(i1.severity, Level::High);
    i1.add_alert(&a2, sys.clone()).unwrap();
    assert_eq!(i1.severity, Level::Critical);
    assert!(i1.techniques.contains("T1059.001") && i1.techniques.contains("T1486"));
    assert!(i1
        .observables
        .iter()
        .any(|o| o.kind == ObservableKind::Hash));
    assert!(!i1.add_alert(&a2, sys.clone()).unwrap(), "already attached");

    let mut i2 = Incident::from_alerts("INC-2", "org1", &[&a3], sys.clone()).unwrap();
    i1.merge(&mut i2, by("same intrusion")).unwrap();
    assert_eq!(i2.status, Status::Closed);
    assert_eq!(i2.merged_into.as_deref(), Some("INC-1"));
    assert_eq!(i1.active_alerts().count(), 3);
    assert_eq!(i1.severity, Level::Critical, "merge keeps the highest");
    let l3 = i1.alerts.iter().find(|l| l.alert_id == "a3").unwrap();
    assert_eq!(l3.history[0].0, LinkEvent::Added);
    assert_eq!(l3.history[0].1.who, Actor::System("grouper".into()));
    assert!(matches!(&l3.history[1].0, LinkEvent::MergedFrom { incident } if incident == "INC-2"));
    assert_eq!(l3.history[1].1.why, "same intrusion");

    let mut i3 = i1
        .split(&["a3"], "INC-3", by("different host after all"))
        .unwrap();
    assert_eq!(i3.active_alerts().count(), 1);
    assert_eq!(i3.severity, Level::High);
    let moved = &i3.alerts[0];
    assert_eq!(moved.history.len(), 4, "{:?}", moved.history);
    assert!(
        matches!(&moved.history[3].0, LinkEvent::SplitFrom { incident } if incident == "INC-1")
    );
    assert!(
        !i1.alerts
            .iter()
            .find(|l| l.alert_id == "a3")
            .unwrap()
            .active
    );
    assert!(
        i1.split(&["a1", "a2"], "INC-4", by("x")).is_err(),
        "not all"
    );
    assert!(i1.split(&["nope"], "INC-4", by("x")).is_err());

    // Removing keeps the link and says who and why.
    i1.remove_alert("a1", by("false positive")).unwrap();
    let l1 = i1.alerts.iter().find(|l| l.alert_id == "a1").unwrap();
    assert!(!l1.active && l1.history.last().unwrap().1.why == "false positive");

    // Similar incidents share observables.
    let mut idx = ObservableIndex::new();
    idx.insert(&i1);
    idx.insert(&i3);
    let other = Incident::from_alerts("INC-5", "org1", &[&endpoint("z", "WS02", "x", 9, &[])], sys)
        .unwrap();
    idx.insert(&other);
    let sim = idx.similar(&i3, 10);
    assert_eq!(sim[0].incident, "INC-5");
    assert!(sim[0]
        .shared
        .contains(&(ObservableKind::Host, "ws02".to_string())));
    assert_eq!(
        idx.seen_in(ObservableKind::Host, "WS02", "INC-3"),
        ["INC-5"]
    );
    i3.comment("checked", by("note")).unwrap();
}

#[test]
fn lifecycle_only_allows_listed_transitions() {
    let mut i = Incident::new("INC-9", "org1", "t", base(), by("new")).unwrap();
    assert!(i.transition(Status::Containment, by("skip")).is_err());
    for s in [
        Status::Triage,
        Status::Containment,
        Status::Eradication,
        Status::Recovery,
        Status::Summary,
        Status::Closed,
    ] {
        i.transition(s, by("next")).unwrap();
    }
    assert!(
        i.add_alert(&endpoint("q", "H", "u", 0, &[]), by("late"))
            .is_err(),
        "closed"
    );
    i.transition(Status::Triage, by("reopened")).unwrap();
    assert_eq!(i.status.phase(), taishi_incident::incident::Phase::Triage);
    assert_eq!(i.timeline.len(), 8);
}

#[test]
fn merge_across_organisations_is_refused() {
    let mut a = Incident::new("A", "org1", "t", base(), by("x")).unwrap();
    let mut b = Incident::new("B", "org2", "t", base(), by("x")).unwrap();
    assert!(a.merge(&mut b, by("no")).is_err());
}

#[test]
fn a_late_alert_from_before_the_window_does_not_close_the_open_group() {
    let mut g = Grouper::new(GroupConfig {
        window: Duration::hours(1),
        ..GroupConfig::default()
    });
    let a = g.assign(&endpoint("o1", "H1", "u", 300, &[]));
    let late = g.assign(&endpoint("o0", "H1", "u", 0, &[]));
    assert!(late.new && late.group != a.group);
    let b = g.assign(&endpoint("o2", "H1", "u", 310, &[]));
    assert_eq!(b.group, a.group);
    assert!(g.drain_closed().is_empty());
}

/// A restarted service seeds the grouper with its open incidents: a new
/// alert of the same host within the window joins the seeded group, one
/// of another host does not, and one past the window starts a new group.
#[test]
fn a_seeded_group_takes_later_alerts_of_its_entity() {
    let mut g = Grouper::new(GroupConfig::default());
    let key = g.key(EntityKind::Host, "WS01.corp.local").unwrap();
    let seeded = g.seed(key, base(), base() + Duration::hours(1), 3, Level::High);
    let got = g.assign(&endpoint("a1", "ws01", "bob", 120, &[]));
    assert_eq!((got.group, got.new), (seeded, false));
    assert_ne!(
        g.assign(&endpoint("a2", "ws02", "bob", 121, &[])).group,
        seeded
    );
    let late = g.assign(&endpoint("a3", "ws01", "bob", 60 * 48, &[]));
    assert!(late.new && late.group != seeded);
}
