//! The platform state's behaviour, on SQLite and on PostgreSQL
//! (`TAISHI_TEST_PG`; see `taishi_state::testdb`): every test runs on both.

use chrono::DateTime;
use taishi_alert::{AlertKind, AlertStatus, Level, Resolution};
use taishi_state::testdb::TestDb;
use taishi_state::*;

fn alert(id: &str, level: &str, host: &str) -> Alert {
    let mut a = taishi_alert::Alert::new(
        AlertKind::Sigma,
        "r1",
        "Rule one",
        Level::parse(level).unwrap(),
        DateTime::parse_from_rfc3339("2026-11-23T08:00:00+08:00").unwrap(),
    );
    a.id = id.into();
    a.tags = vec!["attack.execution".into()];
    a.host = Some(host.into());
    a.events = vec![7];
    a.record()
}

#[test]
fn alert_lifecycle() {
    for db in TestDb::both("alert_lifecycle") {
        let s = State::open_target(db.target.clone()).unwrap();
        s.insert_alerts(&[alert("a", "high", "h1"), alert("b", "low", "h2")])
            .unwrap();
        let (n, v) = s
            .alerts(&AlertFilter {
                level: Some("medium".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((n, v[0].id.as_str()), (1, "a"));
        let a = s
            .update_alert(
                "a",
                Some(AlertStatus::Acknowledged),
                None,
                Some(Some("bob")),
            )
            .unwrap();
        assert_eq!(
            (a.status, a.assignee.as_deref()),
            (AlertStatus::Acknowledged, Some("bob"))
        );
        let a = s
            .update_alert(
                "a",
                Some(AlertStatus::Closed),
                Some(Some(Resolution::FalsePositive)),
                None,
            )
            .unwrap();
        assert_eq!(a.resolution, Some(Resolution::FalsePositive));
        assert_eq!(a.assignee.as_deref(), Some("bob"));
        s.add_comment("a", "bob", "benign admin script").unwrap();
        assert_eq!(s.comments("a").unwrap().len(), 1);
        let g = s.alert_groups("host", &AlertFilter::default()).unwrap();
        assert_eq!(g.len(), 2);
        let (_, open) = s
            .alerts(&AlertFilter {
                status: Some("open".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(open.len(), 1);
        assert!(s
            .update_alert("zzz", Some(AlertStatus::Closed), None, None)
            .is_err());
    }
}

#[test]
fn a_tokens_role_is_capped_by_its_owners_current_role() {
    for db in TestDb::both("a_tokens_role_is_capped_by_its_owners_current_role") {
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_user("root", "admin", "h").unwrap();
        s.create_user("bob", "admin", "h").unwrap();
        s.create_token("t1", "ci", "admin", "bob", "hash1").unwrap();
        s.create_token("t2", "ro", "viewer", "bob", "hash2")
            .unwrap();
        let role = |h: &str| s.token(h).unwrap().map(|t| t.2);
        assert_eq!(role("hash1").as_deref(), Some("admin"));
        s.update_user("bob", Some("analyst"), None, None).unwrap();
        assert_eq!(role("hash1").as_deref(), Some("analyst"));
        assert_eq!(role("hash2").as_deref(), Some("viewer"));
        s.update_user("bob", None, None, Some(true)).unwrap();
        assert_eq!(role("hash1"), None);
        s.update_user("bob", None, None, Some(false)).unwrap();
        s.delete_user("bob").unwrap();
        assert_eq!(role("hash1"), None);
        for (a, b, low) in [
            ("admin", "viewer", "viewer"),
            ("analyst", "admin", "analyst"),
            ("nonsense", "admin", "nonsense"),
        ] {
            assert_eq!(lower_role(a, b), low);
            assert_eq!(role_rank(lower_role(b, a)), role_rank(low));
        }
    }
}

#[test]
fn the_last_enabled_admin_stays() {
    for db in TestDb::both("the_last_enabled_admin_stays") {
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_user("root", "admin", "h").unwrap();
        let conflict = |r: Result<User>| matches!(r, Err(StateError::Conflict(_)));
        assert!(conflict(s.update_user("root", Some("viewer"), None, None)));
        assert!(conflict(s.update_user("root", None, None, Some(true))));
        assert!(matches!(
            s.delete_user("root"),
            Err(StateError::Conflict(_))
        ));
        // Changing the password or re-stating the role is fine.
        assert!(s
            .update_user("root", Some("admin"), Some("h2"), None)
            .is_ok());
        s.create_user("ops", "admin", "h").unwrap();
        s.update_user("ops", None, None, Some(true)).unwrap();
        // A disabled admin is no stand-in.
        assert!(conflict(s.update_user("root", Some("analyst"), None, None)));
        s.update_user("ops", None, None, Some(false)).unwrap();
        assert!(s.update_user("root", Some("analyst"), None, None).is_ok());
        assert!(matches!(s.delete_user("ops"), Err(StateError::Conflict(_))));
        // Non-admins come and go freely.
        assert!(s.delete_user("root").is_ok());
    }
}

fn intel_alert(id: &str, indicator: &str, minute: u32) -> Alert {
    let mut a = taishi_alert::Alert::new(
        AlertKind::Intel,
        "intel",
        "Known bad address",
        Level::High,
        DateTime::parse_from_rfc3339(&format!("2026-11-23T08:{minute:02}:00+08:00")).unwrap(),
    );
    a.id = id.into();
    a.source_ip = Some(indicator.into());
    for (k, v) in [
        ("indicator", indicator),
        ("indicator.type", "ipv4"),
        ("intel.source", "feed-a"),
    ] {
        a.summary.insert(k.into(), v.into());
    }
    a.record()
}

#[test]
fn intel_hits_are_counted_per_indicator() {
    for db in TestDb::both("intel_hits_are_counted_per_indicator") {
        let on = db.name;
        let s = State::open_target(db.target.clone()).unwrap();
        let fresh = s
            .insert_alerts(&[
                intel_alert("i1", "203.0.113.9", 1),
                intel_alert("i2", "203.0.113.9", 2),
                intel_alert("i3", "198.51.100.4", 3),
            ])
            .unwrap();
        assert_eq!(fresh, [true, true, true], "{on}");
        // A replayed journal offers the same alerts again: kept once.
        let again = s
            .insert_alerts(&[intel_alert("i1", "203.0.113.9", 1)])
            .unwrap();
        assert_eq!(again, [false], "{on}");
        let counts = s.intel_hit_counts(&["203.0.113.9", "192.0.2.1"]).unwrap();
        assert_eq!(counts.len(), 1, "{on}");
        assert_eq!(counts["203.0.113.9"].0, 2, "{on}");
        assert!(
            counts["203.0.113.9"]
                .1
                .as_deref()
                .unwrap()
                .starts_with("2026-11-23T00:02"),
            "{on}"
        );
        let (n, hits) = s.intel_hits("203.0.113.9", 10, 0).unwrap();
        assert_eq!((n, hits[0].id.as_str()), (2, "i2"), "{on}");
        let top = s.intel_top(10).unwrap();
        assert_eq!(
            (top[0].indicator.as_str(), top[0].hits),
            ("203.0.113.9", 2),
            "{on}"
        );
        assert_eq!(top[0].kind.as_deref(), Some("ipv4"), "{on}");
    }
}

#[test]
fn overview_counts_groups_and_search() {
    for db in TestDb::both("overview_counts_groups_and_search") {
        let on = db.name;
        let s = State::open_target(db.target.clone()).unwrap();
        let mut b = alert("b", "low", "h2");
        b.alert.rule_title = "Encoded PowerShell_50%".into();
        s.insert_alerts(&[alert("a", "high", "h1"), b, alert("c", "critical", "h1")])
            .unwrap();
        s.update_alert("c", Some(AlertStatus::Closed), None, None)
            .unwrap();
        let (all, open, levels) = s.alert_counts(0, i64::MAX).unwrap();
        assert_eq!((all, open), (3, 2), "{on}");
        assert_eq!(levels.iter().sum::<u64>(), 3, "{on}");
        let o = s.alert_overview(0, i64::MAX, 0, 3_600_000_000, 10).unwrap();
        assert_eq!(o.rules.len(), 1, "{on}");
        assert_eq!(o.rules[0].3, 3, "{on}");
        assert_eq!(o.rules[0].4, vec!["attack.execution".to_string()], "{on}");
        assert_eq!(
            o.hosts[0],
            ("h1".to_string(), 2, Level::Critical.rank()),
            "{on}"
        );
        let g = s.alert_groups("rule", &AlertFilter::default()).unwrap();
        assert_eq!((g[0].key.as_str(), g[0].count), ("r1", 3), "{on}");
        assert!(!g[0].label.is_empty(), "{on}");
        assert!(s.alert_groups("nonsense", &AlertFilter::default()).is_err());
        // `q` matches case-insensitively on both, and `%`/`_` literally.
        for (q, want) in [
            ("powershell", 1),
            ("_50%", 1),
            ("5_%", 0),
            ("RULE", 2),
            ("a", 1),
        ] {
            let (n, _) = s
                .alerts(&AlertFilter {
                    q: Some(q.into()),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(n, want, "{on}: q={q}");
        }
        let (n, page) = s
            .alerts(&AlertFilter {
                status: Some("new,closed".into()),
                sort: Some("-level".into()),
                limit: Some(2),
                offset: Some(1),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(n, 3, "{on}");
        assert_eq!(
            page.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "{on}"
        );
        assert!(s.generation() >= 2, "{on}");
    }
}

#[test]
fn sessions_settings_and_rule_switches() {
    for db in TestDb::both("sessions_settings_and_rule_switches") {
        let on = db.name;
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_user("ann", "analyst", "h").unwrap();
        assert!(s.create_user("ann", "viewer", "h").is_err(), "{on}");
        assert!(s.create_user("two words", "viewer", "h").is_err(), "{on}");
        let far = chrono::Utc::now().timestamp() + 3600;
        s.create_session("sid", "ann", "csrf", far).unwrap();
        s.create_session("old", "ann", "csrf", 1).unwrap();
        let sess = s.session("sid").unwrap().unwrap();
        assert_eq!(
            (sess.username.as_str(), sess.role.as_str()),
            ("ann", "analyst")
        );
        assert!(s.session("old").unwrap().is_none(), "{on}");
        // A new password ends the sessions.
        s.update_user("ann", None, Some("h2"), None).unwrap();
        assert!(s.session("sid").unwrap().is_none(), "{on}");
        assert_eq!(s.password_hash("ann").unwrap(), Some(("h2".into(), false)));
        s.touch_login("ann").unwrap();
        assert!(s.user("ann").unwrap().unwrap().last_login.is_some(), "{on}");
        assert_eq!(s.users().unwrap().len(), 1, "{on}");
        assert_eq!(s.user_count().unwrap(), 1, "{on}");
        s.create_token("t1", "ci", "viewer", "ann", "hh").unwrap();
        assert_eq!(s.tokens(Some("ann")).unwrap().len(), 1, "{on}");
        assert_eq!(s.tokens(None).unwrap().len(), 1, "{on}");
        assert!(s.delete_token("t1", Some("bob")).is_err(), "{on}");
        s.delete_token("t1", None).unwrap();
        assert!(s.tokens(None).unwrap().is_empty(), "{on}");
        s.set_rule_enabled("r1", false).unwrap();
        s.set_rule_enabled("r1", true).unwrap();
        s.set_rule_enabled("r2", false).unwrap();
        let mut sw = s.rule_switches().unwrap();
        sw.sort();
        assert_eq!(sw, [("r1".into(), true), ("r2".into(), false)], "{on}");
        assert_eq!(s.setting("k").unwrap(), None, "{on}");
        s.set_setting("k", "v1").unwrap();
        s.set_setting("k", "v2").unwrap();
        assert_eq!(s.setting("k").unwrap().as_deref(), Some("v2"), "{on}");
    }
}
