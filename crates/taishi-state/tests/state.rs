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

fn r(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|x| x.to_string()).collect()
}

#[test]
fn a_token_carries_its_roles_its_owners_and_its_organisation() {
    for db in TestDb::both("a_token_carries_its_roles_its_owners_and_its_organisation") {
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_user("root", ROOT_ORG, &r(&["sysadmin"]), "h")
            .unwrap();
        s.create_org("op-a", ROOT_ORG, "Operator A").unwrap();
        s.create_user("bob", "op-a", &r(&["analyst"]), "h").unwrap();
        s.create_token("t1", "ci", &r(&["analyst"]), "bob", "op-a", "hash1")
            .unwrap();
        let t = s.token("hash1").unwrap().unwrap();
        assert_eq!(
            (t.roles, t.owner_roles, t.org.as_str(), t.owner_org.as_str()),
            (r(&["analyst"]), r(&["analyst"]), "op-a", "op-a")
        );
        s.update_user("bob", Some(&r(&["viewer"])), None, None, None)
            .unwrap();
        assert_eq!(
            s.token("hash1").unwrap().unwrap().owner_roles,
            r(&["viewer"])
        );
        s.update_user("bob", None, None, Some(true), None).unwrap();
        assert_eq!(s.token("hash1").unwrap(), None);
        s.update_user("bob", None, None, Some(false), None).unwrap();
        let scope_a = Scope::Orgs(vec!["op-a".into()]);
        assert_eq!(s.tokens(None, &scope_a).unwrap().len(), 1);
        assert_eq!(
            s.tokens(None, &Scope::Orgs(vec![ROOT_ORG.into()]))
                .unwrap()
                .len(),
            0
        );
        assert!(s.delete_token("t1", None, &Scope::Orgs(vec![])).is_err());
        s.delete_user("bob").unwrap();
        assert_eq!(s.token("hash1").unwrap(), None);
        assert!(s
            .create_token("t2", "x", &r(&["viewer"]), "root", "nowhere", "h2")
            .is_err());
    }
}

#[test]
fn the_last_enabled_system_administrator_stays() {
    for db in TestDb::both("the_last_enabled_system_administrator_stays") {
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_user("root", ROOT_ORG, &r(&["sysadmin"]), "h")
            .unwrap();
        let conflict = |r: Result<User>| matches!(r, Err(StateError::Conflict(_)));
        assert!(conflict(s.update_user(
            "root",
            Some(&r(&["viewer"])),
            None,
            None,
            None
        )));
        assert!(conflict(s.update_user(
            "root",
            None,
            None,
            Some(true),
            None
        )));
        assert!(matches!(
            s.delete_user("root"),
            Err(StateError::Conflict(_))
        ));
        // Changing the password or re-stating the role is fine.
        assert!(s
            .update_user(
                "root",
                Some(&r(&["sysadmin", "viewer"])),
                Some("h2"),
                None,
                None
            )
            .is_ok());
        s.create_user("ops", ROOT_ORG, &r(&["sysadmin"]), "h")
            .unwrap();
        s.update_user("ops", None, None, Some(true), None).unwrap();
        // A disabled administrator is no stand-in.
        assert!(conflict(s.update_user(
            "root",
            Some(&r(&["analyst"])),
            None,
            None,
            None
        )));
        s.update_user("ops", None, None, Some(false), None).unwrap();
        assert!(s
            .update_user("root", Some(&r(&["analyst"])), None, None, None)
            .is_ok());
        assert!(matches!(s.delete_user("ops"), Err(StateError::Conflict(_))));
        assert!(s.delete_user("root").is_ok());
    }
}

#[test]
fn passwords_keep_a_history() {
    for db in TestDb::both("passwords_keep_a_history") {
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_user("u", ROOT_ORG, &r(&["viewer"]), "h0").unwrap();
        for i in 1..=8 {
            s.update_user("u", None, Some(&format!("h{i}")), None, None)
                .unwrap();
        }
        let recent = s.recent_password_hashes("u", 3).unwrap();
        assert_eq!(recent, r(&["h8", "h7", "h6"]));
        assert_eq!(
            s.recent_password_hashes("u", 100).unwrap().len(),
            PASSWORD_HISTORY + 1
        );
        assert!(s.user("u").unwrap().unwrap().password_changed.is_some());
    }
}

#[test]
fn organisations_form_a_tree_and_scope_what_is_seen() {
    for db in TestDb::both("organisations_form_a_tree_and_scope_what_is_seen") {
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_org("op-a", ROOT_ORG, "A").unwrap();
        s.create_org("op-b", ROOT_ORG, "B").unwrap();
        s.create_org("op-a-1", "op-a", "A subsidiary").unwrap();
        let mut sub = s.subtree("op-a").unwrap();
        sub.sort();
        assert_eq!(sub, r(&["op-a", "op-a-1"]));
        assert_eq!(s.subtree(ROOT_ORG).unwrap().len(), 4);
        assert_eq!(
            s.ancestry("op-a-1").unwrap(),
            r(&[ROOT_ORG, "op-a", "op-a-1"])
        );
        let ids: Vec<String> = s
            .orgs(&Scope::All)
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids[0], ROOT_ORG);
        assert!(ids.iter().position(|x| x == "op-a") < ids.iter().position(|x| x == "op-a-1"));
        assert!(matches!(
            s.create_org("op-a", ROOT_ORG, "again"),
            Err(StateError::Conflict(_))
        ));
        assert!(matches!(
            s.create_org("X!", ROOT_ORG, "bad"),
            Err(StateError::Invalid(_))
        ));
        assert!(matches!(
            s.create_org("op-c", "nowhere", "c"),
            Err(StateError::NotFound(_))
        ));
        let mut parent = "op-a-1".to_string();
        for i in 0..10 {
            match s.create_org(&format!("deep-{i}"), &parent, "d") {
                Ok(o) => parent = o.id,
                Err(e) => {
                    assert!(matches!(e, StateError::Invalid(_)), "{e}");
                    break;
                }
            }
        }
        assert!(s.ancestry(&parent).unwrap().len() <= taishi_state::orgs::MAX_DEPTH + 1);

        let mut a = alert("x1", "high", "h1");
        a.alert.org = Some("op-a-1".into());
        let mut b = alert("x2", "high", "h2");
        b.alert.org = Some("op-b".into());
        s.insert_alerts(&[a, b, alert("x3", "low", "h3")]).unwrap();
        let seen = |scope: Scope| {
            let (n, v) = s
                .alerts(&AlertFilter {
                    scope,
                    ..Default::default()
                })
                .unwrap();
            let mut ids: Vec<String> = v.into_iter().map(|a| a.id.clone()).collect();
            ids.sort();
            (n, ids)
        };
        assert_eq!(
            seen(Scope::Orgs(s.subtree("op-a").unwrap())),
            (1, r(&["x1"]))
        );
        assert_eq!(seen(Scope::Orgs(r(&["op-b"]))), (1, r(&["x2"])));
        assert_eq!(seen(Scope::All).0, 3);
        assert_eq!(s.alert("x3").unwrap().org.as_deref(), Some(ROOT_ORG));
        let (_, _, levels) = s
            .alert_counts(0, i64::MAX, AlertTime::Event, &Scope::Orgs(r(&["op-b"])))
            .unwrap();
        assert_eq!(levels.iter().sum::<u64>(), 1);
        let o = s
            .alert_overview(
                AlertSpan {
                    from_us: 0,
                    to_us: i64::MAX,
                    time: AlertTime::Event,
                },
                0,
                3_600_000_000,
                10,
                &Scope::Orgs(r(&["op-a-1"])),
            )
            .unwrap();
        assert_eq!(o.hosts, vec![("h1".to_string(), 1, Level::High.rank())]);
        assert!(matches!(s.delete_org("op-b"), Err(StateError::Conflict(_))));
        assert!(matches!(
            s.delete_org(ROOT_ORG),
            Err(StateError::Conflict(_))
        ));
    }
}

#[test]
fn custom_roles_are_kept_and_not_deleted_while_held() {
    use taishi_auth::{CustomRole, Permission as P};
    for db in TestDb::both("custom_roles_are_kept_and_not_deleted_while_held") {
        let s = State::open_target(db.target.clone()).unwrap();
        let role = CustomRole::new("hunter", "Hunter", vec![P::Search, P::AlertsRead]).unwrap();
        s.put_custom_role(&role).unwrap();
        assert_eq!(s.custom_roles().unwrap(), vec![role]);
        s.create_user("h", ROOT_ORG, &r(&["hunter"]), "x").unwrap();
        assert!(matches!(
            s.delete_custom_role("hunter"),
            Err(StateError::Conflict(_))
        ));
        s.delete_user("h").unwrap();
        s.delete_custom_role("hunter").unwrap();
        assert!(s.custom_roles().unwrap().is_empty());
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
        let counts = s
            .intel_hit_counts(&["203.0.113.9", "192.0.2.1"], &Scope::All)
            .unwrap();
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
        let (n, hits) = s.intel_hits("203.0.113.9", 10, 0, &Scope::All).unwrap();
        assert_eq!((n, hits[0].id.as_str()), (2, "i2"), "{on}");
        let top = s.intel_top(10, &Scope::All).unwrap();
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
        let (all, open, levels) = s
            .alert_counts(0, i64::MAX, AlertTime::Detected, &Scope::All)
            .unwrap();
        assert_eq!((all, open), (3, 2), "{on}");
        assert_eq!(levels.iter().sum::<u64>(), 3, "{on}");
        let o = s
            .alert_overview(
                AlertSpan {
                    from_us: 0,
                    to_us: i64::MAX,
                    time: AlertTime::Detected,
                },
                0,
                3_600_000_000,
                10,
                &Scope::All,
            )
            .unwrap();
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
        s.create_user("ann", ROOT_ORG, &r(&["analyst"]), "h")
            .unwrap();
        assert!(
            s.create_user("ann", ROOT_ORG, &r(&["viewer"]), "h")
                .is_err(),
            "{on}"
        );
        assert!(
            s.create_user("two words", ROOT_ORG, &r(&["viewer"]), "h")
                .is_err(),
            "{on}"
        );
        let far = chrono::Utc::now().timestamp() + 3600;
        s.create_session("sid", "ann", "csrf", far).unwrap();
        s.create_session("old", "ann", "csrf", 1).unwrap();
        let sess = s.session("sid", 3600).unwrap().unwrap();
        assert_eq!(
            (sess.username.as_str(), sess.roles.clone()),
            ("ann", r(&["analyst"]))
        );
        assert!(s.session("old", 3600).unwrap().is_none(), "{on}");
        // A new password ends the sessions.
        s.update_user("ann", None, Some("h2"), None, None).unwrap();
        assert!(s.session("sid", 3600).unwrap().is_none(), "{on}");
        assert_eq!(s.password_hash("ann").unwrap(), Some(("h2".into(), false)));
        s.touch_login("ann").unwrap();
        assert!(s.user("ann").unwrap().unwrap().last_login.is_some(), "{on}");
        assert_eq!(s.users(&Scope::All).unwrap().len(), 1, "{on}");
        assert_eq!(s.user_count().unwrap(), 1, "{on}");
        s.create_token("t1", "ci", &r(&["viewer"]), "ann", ROOT_ORG, "hh")
            .unwrap();
        assert_eq!(s.tokens(Some("ann"), &Scope::All).unwrap().len(), 1, "{on}");
        assert_eq!(s.tokens(None, &Scope::All).unwrap().len(), 1, "{on}");
        assert!(
            s.delete_token("t1", Some("bob"), &Scope::All).is_err(),
            "{on}"
        );
        s.delete_token("t1", None, &Scope::All).unwrap();
        assert!(s.tokens(None, &Scope::All).unwrap().is_empty(), "{on}");
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

/// An alert raised now about an event of two weeks ago is in "the last
/// 24 hours" by detection time (the default), and in its event's day by
/// event time; both times sort; the threat inputs count open findings.
#[test]
fn alerts_are_found_by_detection_or_event_time() {
    for db in TestDb::both("alerts_are_found_by_detection_or_event_time") {
        let on = db.name;
        let s = State::open_target(db.target.clone()).unwrap();
        let now = chrono::Utc::now();
        let mut old = alert("old", "high", "h1");
        old.alert.timestamp = (now - chrono::TimeDelta::days(14)).fixed_offset();
        let mut fresh = alert("fresh", "high", "h1");
        fresh.alert.timestamp = now.fixed_offset();
        let mut other = alert("other", "medium", "h2");
        other.alert.timestamp = (now - chrono::TimeDelta::hours(1)).fixed_offset();
        s.insert_alerts(&[old, fresh, other]).unwrap();
        s.update_alert("other", Some(AlertStatus::Closed), None, None)
            .unwrap();
        let day_ago = (now - chrono::TimeDelta::hours(24)).timestamp_micros();
        let ids = |time, sort: &str| {
            let (n, v) = s
                .alerts(&AlertFilter {
                    from_us: Some(day_ago),
                    time,
                    sort: Some(sort.into()),
                    ..Default::default()
                })
                .unwrap();
            (n, v.into_iter().map(|a| a.alert.id).collect::<Vec<_>>())
        };
        let (n, _) = ids(AlertTime::Detected, "-time");
        assert_eq!(n, 3, "{on}: every alert was detected within the day");
        let (n, v) = ids(AlertTime::Event, "-time");
        assert_eq!((n, v), (2, vec!["fresh".into(), "other".into()]), "{on}");
        let (_, v) = ids(AlertTime::Event, "time");
        assert_eq!(v, ["other", "fresh"], "{on}");
        let counts = |time| {
            s.alert_counts(day_ago, i64::MAX, time, &Scope::All)
                .unwrap()
                .0
        };
        assert_eq!(
            (counts(AlertTime::Detected), counts(AlertTime::Event)),
            (3, 2),
            "{on}"
        );
        // Two open highs on one host are one finding; the closed one counts apart.
        let t = s
            .threat_inputs(day_ago, i64::MAX, AlertTime::Detected, &Scope::All)
            .unwrap();
        assert_eq!(
            t,
            ThreatInputs {
                open: [0, 0, 0, 2, 0],
                pairs: [0, 0, 0, 1, 0],
                hosts: 1,
                closed: 1,
            },
            "{on}"
        );
    }
}

#[test]
fn saved_searches_are_kept_per_organisation_and_scheduled() {
    for db in TestDb::both("saved_searches") {
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_org("op-a", ROOT_ORG, "Operator A").unwrap();
        s.create_org("op-b", ROOT_ORG, "Operator B").unwrap();
        let spec = SavedSearchSpec {
            name: " Failed logons ".into(),
            query: "event.code:4625 | stats count() by user.name | sort -count".into(),
            ..Default::default()
        };
        let a = s.create_saved_search("op-a", "alice", &spec).unwrap();
        assert_eq!(
            (
                a.name.as_str(),
                a.from.as_str(),
                a.level.as_str(),
                a.enabled
            ),
            ("Failed logons", "now-24h", "medium", false),
            "{}",
            db.name
        );
        // The same name in another organisation is another search; in the
        // same one it is refused.
        s.create_saved_search("op-b", "bob", &spec).unwrap();
        assert!(matches!(
            s.create_saved_search("op-a", "carol", &spec),
            Err(StateError::Conflict(_))
        ));
        let only_a = Scope::Orgs(vec!["op-a".into()]);
        assert_eq!(s.saved_searches(&only_a).unwrap().len(), 1);
        assert_eq!(s.saved_searches(&Scope::All).unwrap().len(), 2);
        let b_id = s.saved_searches(&Scope::Orgs(vec!["op-b".into()])).unwrap()[0]
            .id
            .clone();
        assert!(matches!(
            s.saved_search(&b_id, &only_a),
            Err(StateError::NotFound(_))
        ));
        assert!(s.delete_saved_search(&b_id, &only_a).is_err());
        // Limits: the schedule is at least a minute, the level one of five.
        for bad in [
            SavedSearchSpec {
                interval_secs: Some(59),
                ..spec.clone()
            },
            SavedSearchSpec {
                level: Some("urgent".into()),
                ..spec.clone()
            },
            SavedSearchSpec {
                name: "".into(),
                ..spec.clone()
            },
            SavedSearchSpec {
                query: "x".repeat(10_001),
                ..spec.clone()
            },
        ] {
            assert!(matches!(
                s.update_saved_search(&a.id, &only_a, &bad),
                Err(StateError::Invalid(_))
            ));
        }
        let sched = SavedSearchSpec {
            interval_secs: Some(300),
            threshold: 5,
            level: Some("HIGH".into()),
            enabled: true,
            ..spec.clone()
        };
        let a = s.update_saved_search(&a.id, &only_a, &sched).unwrap();
        assert_eq!(
            (a.interval_secs, a.threshold, a.level.as_str(), a.enabled),
            (Some(300), 5, "high", true)
        );
        let now = chrono::Utc::now();
        let due = s.due_saved_searches(now).unwrap();
        assert_eq!(
            due.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            [a.id.as_str()]
        );
        s.record_saved_search_run(&a.id, now, "7 rows > 5: alert raised")
            .unwrap();
        assert!(s.due_saved_searches(now).unwrap().is_empty());
        assert_eq!(
            s.due_saved_searches(now + chrono::TimeDelta::seconds(300))
                .unwrap()
                .len(),
            1
        );
        let a = s.saved_search(&a.id, &only_a).unwrap();
        assert_eq!(a.last_result.as_deref(), Some("7 rows > 5: alert raised"));
        s.delete_saved_search(&a.id, &only_a).unwrap();
        assert!(s.saved_searches(&only_a).unwrap().is_empty());
    }
}

/// Issue 13 item 13: "other alerts of this user / address" read the
/// alert's user role (a column filled from its event) and either address.
#[test]
fn alerts_filter_by_user_and_either_address() {
    for db in TestDb::both("alerts_by_user_ip") {
        let s = State::open_target(db.target.clone()).unwrap();
        let mut a = alert("a", "high", "h1");
        a.alert.event = serde_json::json!({"TargetUserName": "alice", "User": "-"});
        a.alert.destination_ip = Some("10.0.0.9".into());
        let mut b = alert("b", "high", "h2");
        b.alert.event = serde_json::json!({"user.name": "-", "SubjectUserName": "bob"});
        b.alert.source_ip = Some("10.0.0.9".into());
        let c = alert("c", "high", "h3");
        s.insert_alerts(&[a, b, c]).unwrap();
        let ids = |f: AlertFilter| {
            let mut v: Vec<String> = s
                .alerts(&f)
                .unwrap()
                .1
                .into_iter()
                .map(|a| a.alert.id)
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            ids(AlertFilter {
                user: Some("alice".into()),
                ..Default::default()
            }),
            ["a"]
        );
        assert_eq!(
            ids(AlertFilter {
                user: Some("bob".into()),
                ..Default::default()
            }),
            ["b"]
        );
        assert_eq!(
            ids(AlertFilter {
                ip: Some("10.0.0.9".into()),
                ..Default::default()
            }),
            ["a", "b"]
        );
    }
}

/// Rule exceptions: created with limits, listed per rule, indexed for the
/// gate by rule, organisation scope and expiry, counted, deleted.
#[test]
fn rule_exceptions_apply_by_rule_scope_and_expiry() {
    for db in TestDb::both("rule_exceptions") {
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_org("east", ROOT_ORG, "East").unwrap();
        let cond = |f: &str, v: &str| Condition {
            field: f.into(),
            value: v.into(),
        };
        let new = |scope| NewRuleException {
            rule_id: "r1".into(),
            conditions: vec![cond("Computer", "pc1"), cond("CommandLine", "backup.exe")],
            scope,
            expires: Some(chrono::Utc::now() + chrono::TimeDelta::days(90)),
            comment: Some("nightly backup".into()),
            alert_id: Some("a".into()),
        };
        let own = s
            .create_rule_exception(ROOT_ORG, "ann", &new(ExceptionScope::Org))
            .unwrap();
        assert_eq!(
            (own.author.as_str(), own.hits, own.expired),
            ("ann", 0, false)
        );
        let mut too_many = new(ExceptionScope::Org);
        too_many.conditions = (0..11).map(|i| cond(&format!("f{i}"), "v")).collect();
        assert!(matches!(
            s.create_rule_exception(ROOT_ORG, "ann", &too_many),
            Err(StateError::Invalid(_))
        ));
        let mut past = new(ExceptionScope::Org);
        past.expires = Some(chrono::Utc::now() - chrono::TimeDelta::days(1));
        assert!(matches!(
            s.create_rule_exception(ROOT_ORG, "ann", &past),
            Err(StateError::Invalid(_))
        ));

        let idx = s.exception_index().unwrap();
        let o = s.overrides().unwrap();
        let within = |org: &str, anc: &str| o.within(org, anc);
        let now = chrono::Utc::now().timestamp_micros();
        let ev = serde_json::json!({"Computer": "pc1", "CommandLine": "backup.exe", "x": 1});
        let other = serde_json::json!({"Computer": "pc1", "CommandLine": "evil.exe"});
        assert!(idx.matching("r1", ROOT_ORG, &ev, now, within).is_some());
        assert!(idx.matching("r1", ROOT_ORG, &other, now, within).is_none());
        assert!(idx.matching("r2", ROOT_ORG, &ev, now, within).is_none());
        // Own organisation only: not the one below.
        assert!(idx.matching("r1", "east", &ev, now, within).is_none());
        let sub = s
            .create_rule_exception(ROOT_ORG, "ann", &new(ExceptionScope::Subtree))
            .unwrap();
        let idx = s.exception_index().unwrap();
        assert_eq!(
            idx.matching("r1", "east", &ev, now, within)
                .map(|x| x.id.as_str()),
            Some(sub.id.as_str())
        );
        // Past the expiry it stops applying.
        let later = now + chrono::TimeDelta::days(91).num_microseconds().unwrap();
        assert!(idx.matching("r1", ROOT_ORG, &ev, later, within).is_none());

        s.add_rule_exception_hits(&[(own.id.clone(), 2, "2026-12-06T10:00:00.000Z".into())])
            .unwrap();
        let listed = s.rule_exceptions(&Scope::All, Some("r1")).unwrap();
        assert_eq!(listed.len(), 2);
        let got = listed.iter().find(|x| x.id == own.id).unwrap();
        assert_eq!(
            (got.hits, got.last_hit.as_deref()),
            (2, Some("2026-12-06T10:00:00.000Z"))
        );
        assert!(s
            .rule_exceptions(&Scope::All, Some("r2"))
            .unwrap()
            .is_empty());
        // Another organisation's caller does not see or delete it.
        let east = Scope::Orgs(vec!["east".into()]);
        assert!(s.rule_exceptions(&east, None).unwrap().is_empty());
        assert!(matches!(
            s.delete_rule_exception(&own.id, &east),
            Err(StateError::NotFound(_))
        ));
        s.delete_rule_exception(&own.id, &Scope::All).unwrap();
        assert_eq!(s.rule_exceptions(&Scope::All, None).unwrap().len(), 1);
    }
}
