//! Risk assessment in the platform state, on SQLite and PostgreSQL: assets
//! with their identity index, findings deduplicated and their remediation,
//! the score history, warnings raised once, feeds and what changed in them.

use taishi_state::risk::*;
use taishi_state::testdb::TestDb;
use taishi_state::*;

fn asset(id: i64, org: &str) -> AssetRow {
    AssetRow {
        id,
        org: org.into(),
        name: Some(format!("web{id:02}")),
        business_system: Some("网上营业厅".into()),
        importance: Some("high".into()),
        cii: false,
        exposed_ports: 1,
        score: 0.0,
        first_seen: None,
        last_seen: None,
        updated: now_iso(),
    }
}

fn finding(org: &str, asset_id: i64, cve: &str, kev: bool, priority: f64) -> FindingRow {
    FindingRow {
        id: finding_id(org, &format!("ip:10.0.0.{asset_id} {cve} tcp/443")),
        org: org.into(),
        asset_id,
        vuln: cve.into(),
        cve: Some(cve.into()),
        location: "tcp/443".into(),
        severity: "high".into(),
        scanners: "nessus".into(),
        kev,
        exploitable: kev,
        priority,
        decision: "scheduled".into(),
        status: "open".into(),
        approver: None,
        accepted_until: None,
        deadline: Some("2027-03-01T00:00:00Z".into()),
        first_seen: now_iso(),
        last_seen: now_iso(),
        updated: now_iso(),
    }
}

#[test]
fn risk_rows_are_stored_scoped_and_deduplicated() {
    for db in TestDb::both("risk_rows_are_stored_scoped_and_deduplicated") {
        let on = db.name;
        let s = State::open_target(db.target.clone()).unwrap();
        s.create_org("op-a", ROOT_ORG, "A").unwrap();
        s.create_org("op-b", ROOT_ORG, "B").unwrap();
        let a_scope = Scope::Orgs(vec!["op-a".into()]);
        let b_scope = Scope::Orgs(vec!["op-b".into()]);

        // Assets and identities.
        s.put_asset(
            &asset(1, "op-a"),
            &["ip:10.0.0.1".into(), "host:web01".into()],
            "{}",
        )
        .unwrap();
        s.put_asset(&asset(2, "op-a"), &["ip:10.0.0.2".into()], "{}")
            .unwrap();
        s.put_asset(&asset(3, "op-b"), &["ip:10.0.0.1".into()], "{}")
            .unwrap();
        assert_eq!(
            s.assets_with_identity("op-a", "ip:10.0.0.1").unwrap(),
            [1],
            "{on}"
        );
        assert_eq!(
            s.assets_with_identity("op-b", "ip:10.0.0.1").unwrap(),
            [3],
            "{on}"
        );
        let (n, rows) = s.assets(&AssetFilter::default(), &a_scope).unwrap();
        assert_eq!((n, rows.len()), (2, 2), "{on}");
        let f = AssetFilter {
            identity: Some("10.0.0.2".into()),
            ..Default::default()
        };
        assert_eq!(s.assets(&f, &a_scope).unwrap().1[0].id, 2, "{on}");
        assert!(s.asset(3, &a_scope).is_err(), "{on}: another org's asset");
        // Re-put replaces identities.
        s.put_asset(&asset(2, "op-a"), &["ip:10.0.0.22".into()], "{\"x\":1}")
            .unwrap();
        assert!(s
            .assets_with_identity("op-a", "ip:10.0.0.2")
            .unwrap()
            .is_empty());
        assert_eq!(s.asset(2, &a_scope).unwrap().1, "{\"x\":1}");

        // Findings: the same id twice is one row; a fixed one reopens; the
        // deadline only comes closer.
        let f1 = finding("op-a", 1, "CVE-2021-44228", false, 40.0);
        assert!(s.upsert_finding(&f1, "{}").unwrap(), "{on}");
        s.set_finding_status(&f1.id, &a_scope, "fixed", None, None)
            .unwrap();
        let mut again = f1.clone();
        again.kev = true;
        again.priority = 80.0;
        again.deadline = Some("2026-12-20T00:00:00Z".into());
        assert!(!s.upsert_finding(&again, "{}").unwrap(), "{on}");
        let (row, _) = s.finding(&f1.id, &a_scope).unwrap();
        assert_eq!(row.status, "open", "{on}");
        assert!(row.kev);
        assert_eq!(row.deadline.as_deref(), Some("2026-12-20T00:00:00Z"));
        let mut later = again.clone();
        later.deadline = Some("2027-06-01T00:00:00Z".into());
        s.upsert_finding(&later, "{}").unwrap();
        assert_eq!(
            s.finding(&f1.id, &a_scope).unwrap().0.deadline.as_deref(),
            Some("2026-12-20T00:00:00Z")
        );
        s.upsert_finding(&finding("op-a", 2, "CVE-2023-0001", false, 90.0), "{}")
            .unwrap();
        // KEV first, then priority.
        let (n, rows) = s.findings(&FindingFilter::default(), &a_scope).unwrap();
        assert_eq!(n, 2);
        assert_eq!(rows[0].vuln, "CVE-2021-44228", "{on}");
        assert_eq!(
            s.findings(&FindingFilter::default(), &b_scope).unwrap().0,
            0
        );
        assert_eq!(s.findings_with_cve("cve-2021-44228").unwrap().len(), 1);
        // Accepted risk needs approver and expiry.
        assert!(s
            .set_finding_status(&f1.id, &a_scope, "accepted", None, None)
            .is_err());
        let r = s
            .set_finding_status(
                &f1.id,
                &a_scope,
                "accepted",
                Some("ciso"),
                Some("2027-01-01T00:00:00Z"),
            )
            .unwrap();
        assert_eq!(r.approver.as_deref(), Some("ciso"));
        assert!(s
            .set_finding_status(&f1.id, &b_scope, "fixed", None, None)
            .is_err());

        // Scores.
        for (i, score) in [10.0, 42.5].iter().enumerate() {
            s.add_score(&ScoreRow {
                org: "op-a".into(),
                asset_id: 1,
                at: format!("2026-12-06T10:00:0{i}.000Z"),
                score: *score,
                factors: "{}".into(),
                reason: "test".into(),
            })
            .unwrap();
        }
        assert_eq!(s.scores(1, 10).unwrap()[0].score, 42.5, "{on}");
        assert_eq!(s.asset(1, &a_scope).unwrap().0.score, 42.5);
        assert_eq!(s.all_scores(&a_scope, 100).unwrap().len(), 2);

        // Merge moves findings and history.
        s.merge_asset_rows(2, 1).unwrap();
        assert!(s.asset(2, &a_scope).is_err());
        assert_eq!(s.findings_of_asset(1).unwrap().len(), 2, "{on}");

        // Warnings: once per dedup key and organisation.
        let w = NewWarning {
            org: "op-a".into(),
            dedup_key: "kev:1:CVE-2021-44228".into(),
            level: "red".into(),
            level_rank: 3,
            kind: "kev_match".into(),
            asset_id: 1,
            cve: Some("CVE-2021-44228".into()),
            doc: "{}".into(),
        };
        assert!(s.raise_warning(&w).unwrap().is_some(), "{on}");
        assert!(s.raise_warning(&w).unwrap().is_none(), "{on}");
        let mut yellow = w.clone();
        yellow.dedup_key = "epss:1:CVE-2021-44228:5".into();
        yellow.level = "yellow".into();
        yellow.level_rank = 1;
        s.raise_warning(&yellow).unwrap();
        let (n, rows) = s.warnings(&WarningFilter::default(), &a_scope).unwrap();
        assert_eq!((n, rows[0].level.as_str()), (2, "red"));
        let orange_up = WarningFilter {
            level: Some("orange".into()),
            ..Default::default()
        };
        assert_eq!(s.warnings(&orange_up, &a_scope).unwrap().0, 1);
        assert_eq!(s.warnings(&orange_up, &b_scope).unwrap().0, 0);

        // Feeds: what is new, what changed.
        let kev = |c: &str| FeedEntry {
            cve: c.into(),
            ransomware: false,
            epss: None,
            percentile: None,
        };
        let ch = s.put_feed("kev", &[kev("CVE-2020-1472")]).unwrap();
        assert_eq!(ch.added, ["CVE-2020-1472"]);
        let ch = s
            .put_feed("kev", &[kev("CVE-2020-1472"), kev("cve-2021-44228")])
            .unwrap();
        assert_eq!(ch.added, ["CVE-2021-44228"], "{on}");
        let epss = |c: &str, p: f64| FeedEntry {
            cve: c.into(),
            ransomware: false,
            epss: Some(p),
            percentile: Some(0.9),
        };
        s.put_feed("epss", &[epss("CVE-2021-44228", 0.1)]).unwrap();
        let ch = s.put_feed("epss", &[epss("CVE-2021-44228", 0.7)]).unwrap();
        assert_eq!(ch.changed, [("CVE-2021-44228".into(), Some(0.1), 0.7)]);
        assert_eq!(
            s.feed_of("CVE-2021-44228").unwrap(),
            (Some(false), Some((0.7, 0.9))),
            "{on}"
        );
    }
}
