//! Incidents in the platform state, on SQLite and PostgreSQL: stored whole,
//! listed by their columns, scoped to organisations, alert links and
//! observables indexed, and a stale write refused.

use chrono::DateTime;
use taishi_alert::{AlertKind, Level};
use taishi_incident::{Actor, Incident, ObservableKind, Provenance, Status};
use taishi_state::testdb::TestDb;
use taishi_state::*;

fn alert(id: &str, host: &str, ip: &str) -> taishi_alert::Alert {
    let mut a = taishi_alert::Alert::new(
        AlertKind::Sigma,
        "r1",
        "Mimikatz",
        Level::High,
        DateTime::parse_from_rfc3339("2026-11-23T08:00:00+08:00").unwrap(),
    );
    a.id = id.into();
    a.tags = vec!["attack.credential_access".into(), "attack.t1003".into()];
    a.host = Some(host.into());
    a.source_ip = Some(ip.into());
    a
}

fn by(who: &str) -> Provenance {
    Provenance::new(
        Actor::User(who.into()),
        DateTime::parse_from_rfc3339("2026-11-23T09:00:00+08:00").unwrap(),
        "test",
    )
}

fn incident(id: &str, org: &str, alerts: &[&taishi_alert::Alert]) -> Incident {
    Incident::from_alerts(id, org, alerts, by("alice")).unwrap()
}

fn in_triage() -> IncidentFilter {
    IncidentFilter {
        status: Some("triage".into()),
        ..Default::default()
    }
}

#[test]
fn incidents_are_stored_listed_scoped_and_versioned() {
    for db in TestDb::both("incidents_are_stored_listed_scoped_and_versioned") {
        let on = db.name;
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_org("op-a", ROOT_ORG, "A").unwrap();
        s.create_org("op-b", ROOT_ORG, "B").unwrap();
        let a1 = alert("a1", "ws01", "198.51.100.7");
        let a2 = alert("a2", "ws01", "198.51.100.7");
        let a3 = alert("a3", "ws02", "198.51.100.7");
        let i1 = incident("i1", "op-a", &[&a1, &a2]);
        assert_eq!(
            s.create_incident(&i1, Some("host:ws01")).unwrap(),
            1,
            "{on}"
        );
        s.create_incident(&incident("i2", "op-a", &[&a3]), None)
            .unwrap();
        s.create_incident(
            &incident("i3", "op-b", &[&alert("b1", "x", "203.0.113.1")]),
            None,
        )
        .unwrap();
        // The same id twice is a conflict, not an overwrite.
        assert!(matches!(
            s.create_incident(&i1, None),
            Err(StateError::Conflict(_))
        ));

        // Read back whole.
        let a_scope = Scope::Orgs(vec!["op-a".into()]);
        let got = s.incident("i1", &a_scope).unwrap();
        assert_eq!(got.incident, i1, "{on}");
        assert_eq!(
            (got.version, got.group_key.as_deref()),
            (1, Some("host:ws01"))
        );
        // Another organisation does not see it.
        let b_scope = Scope::Orgs(vec!["op-b".into()]);
        assert!(matches!(
            s.incident("i1", &b_scope),
            Err(StateError::NotFound(_))
        ));

        // An update at the version read succeeds; a second one at the same
        // (now stale) version is refused.
        let mut x = got.incident.clone();
        x.transition(Status::Triage, by("alice")).unwrap();
        x.assign(Some("alice".into()), by("alice")).unwrap();
        assert_eq!(s.update_incident(&x, got.version).unwrap(), 2);
        let mut y = got.incident.clone();
        y.assign(Some("bob".into()), by("bob")).unwrap();
        assert!(
            matches!(
                s.update_incident(&y, got.version),
                Err(StateError::Conflict(_))
            ),
            "{on}: a stale version must conflict"
        );
        let now = s.incident("i1", &Scope::All).unwrap();
        assert_eq!(
            (now.incident.owner.as_deref(), now.version),
            (Some("alice"), 2)
        );

        // Lists: scoped, filtered, sorted.
        let (n, v) = s.incidents(&IncidentFilter::default(), &a_scope).unwrap();
        assert_eq!(n, 2, "{on}");
        assert!(v.iter().all(|i| i.org == "op-a"));
        let (n, v) = s.incidents(&in_triage(), &Scope::All).unwrap();
        assert_eq!((n, v[0].id.as_str(), v[0].alerts), (1, "i1", 2), "{on}");
        assert_eq!(v[0].owner.as_deref(), Some("alice"));
        let (n, _) = s
            .incidents(
                &IncidentFilter {
                    owner: Some("alice".into()),
                    status: Some("open".into()),
                    ..Default::default()
                },
                &Scope::All,
            )
            .unwrap();
        assert_eq!(n, 1);
        let (n, _) = s
            .incidents(
                &IncidentFilter {
                    severity: Some("critical".into()),
                    ..Default::default()
                },
                &Scope::All,
            )
            .unwrap();
        assert_eq!(n, 0);
        for bad in [
            IncidentFilter {
                status: Some("nope".into()),
                ..Default::default()
            },
            IncidentFilter {
                sort: Some("nope".into()),
                ..Default::default()
            },
        ] {
            assert!(matches!(
                s.incidents(&bad, &Scope::All),
                Err(StateError::Invalid(_))
            ));
        }

        // An alert shows its incident; an observable the other incidents.
        assert_eq!(s.incidents_of_alert("a2", &a_scope).unwrap(), vec!["i1"]);
        assert!(s.incidents_of_alert("a2", &b_scope).unwrap().is_empty());
        assert_eq!(
            s.incidents_seen(ObservableKind::Ip, "198.51.100.7", "i1", &a_scope, 10)
                .unwrap(),
            vec!["i2"],
            "{on}"
        );
        let (n, v) = s
            .incidents(
                &IncidentFilter {
                    alert: Some("a3".into()),
                    ..Default::default()
                },
                &a_scope,
            )
            .unwrap();
        assert_eq!((n, v[0].id.as_str()), (1, "i2"), "{on}");
        // Removing an alert keeps its link, inactive.
        let cur = s.incident("i1", &Scope::All).unwrap();
        let mut z = cur.incident.clone();
        z.remove_alert("a2", by("alice")).unwrap();
        s.update_incident(&z, cur.version).unwrap();
        let (_, v) = s.incidents(&in_triage(), &Scope::All).unwrap();
        assert_eq!(v[0].alerts, 1, "{on}");

        // Open incidents with a grouping key, for the grouper's rebuild.
        let open = s.open_grouped_incidents().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].incident.id, "i1");
    }
}
