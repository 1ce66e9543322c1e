//! The report's numbers on a small hand-made period, checked by hand.

use chrono::{DateTime, FixedOffset};
use taishi_asset::{Asset, AssetId, OrgId};
use taishi_state::risk::{AssetRow, AttackRow, FindingRow, WarningRow};
use taishi_state::risk_period::{PeriodRows, ScorePoint};

use super::*;

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn asset(
    id: i64,
    name: &str,
    system: Option<&str>,
    importance: Option<&str>,
    cii: bool,
) -> (AssetRow, String) {
    let mut doc =
        serde_json::to_value(Asset::new(AssetId(id as u64), OrgId("acme".into()))).unwrap();
    if cii {
        doc["dengbao"] = serde_json::json!({"value": 3, "provenance": []});
    }
    (
        AssetRow {
            id,
            org: "acme".into(),
            name: Some(name.into()),
            business_system: system.map(str::to_string),
            importance: importance.map(str::to_string),
            cii,
            exposed_ports: i64::from(cii),
            score: 0.0,
            first_seen: None,
            last_seen: None,
            updated: "2026-01-01T00:00:00.000Z".into(),
        },
        doc.to_string(),
    )
}

#[allow(clippy::too_many_arguments)]
fn finding(
    id: &str,
    asset: i64,
    cve: &str,
    kev: bool,
    status: &str,
    priority: f64,
    decision: &str,
    deadline: Option<&str>,
) -> FindingRow {
    FindingRow {
        id: id.into(),
        org: "acme".into(),
        asset_id: asset,
        vuln: cve.into(),
        cve: Some(cve.into()),
        location: "tcp/22".into(),
        severity: "high".into(),
        scanners: "nmap".into(),
        kev,
        exploitable: kev,
        priority,
        decision: decision.into(),
        status: status.into(),
        approver: None,
        accepted_until: None,
        deadline: deadline.map(str::to_string),
        first_seen: "2026-03-01T00:00:00.000Z".into(),
        last_seen: "2026-03-01T00:00:00.000Z".into(),
        updated: "2026-03-01T00:00:00.000Z".into(),
    }
}

fn point(asset_id: i64, at: &str, score: f64) -> ScorePoint {
    ScorePoint {
        asset_id,
        at: at.into(),
        score,
    }
}

fn attack(asset_id: i64, id: &str) -> AttackRow {
    AttackRow {
        org: "acme".into(),
        asset_id,
        alert_id: id.into(),
        kind: "alert".into(),
        severity: "critical".into(),
        at: "2026-07-01T00:00:00.000Z".into(),
        title: "exploit".into(),
    }
}

fn input() -> YearlyInput {
    let (from, to) = year(2026, FixedOffset::east_opt(8 * 3600).unwrap()).unwrap();
    let mut accepted = finding(
        "f3",
        1,
        "CVE-2023-0002",
        false,
        "accepted",
        40.0,
        "scheduled",
        None,
    );
    accepted.approver = Some("王五".into());
    accepted.accepted_until = Some("2026-06-30T00:00:00.000Z".into());
    let mut fixed = finding(
        "f4",
        2,
        "CVE-2022-0003",
        false,
        "fixed",
        30.0,
        "scheduled",
        None,
    );
    fixed.updated = "2026-03-11T00:00:00.000Z".into();
    let rows = PeriodRows {
        assets: vec![
            asset(
                1,
                "网上营业厅前置机",
                Some("网上营业厅"),
                Some("critical"),
                true,
            ),
            asset(2, "营业厅数据库", Some("网上营业厅"), Some("high"), false),
            asset(3, "打印机", None, None, false),
        ],
        findings: vec![
            finding(
                "f1",
                1,
                "CVE-2024-0001",
                true,
                "open",
                90.0,
                "immediate",
                Some("2026-02-01T00:00:00.000Z"),
            ),
            finding(
                "f2",
                2,
                "CVE-2024-0001",
                true,
                "in_progress",
                80.0,
                "out-of-cycle",
                Some("2027-01-01T00:00:00.000Z"),
            ),
            accepted,
            fixed,
            finding(
                "f5",
                3,
                "CVE-2021-0004",
                false,
                "false_positive",
                10.0,
                "defer",
                None,
            ),
        ],
        ransomware: vec!["CVE-2024-0001".into()],
        scores: vec![
            point(1, "2026-01-10T00:00:00.000Z", 20.0),
            point(1, "2026-06-15T00:00:00.000Z", 70.0),
            point(2, "2025-12-01T00:00:00.000Z", 10.0),
        ],
        warnings: vec![WarningRow {
            id: "w1".into(),
            org: "acme".into(),
            dedup_key: "k".into(),
            level: "red".into(),
            kind: "kev_added".into(),
            asset_id: 1,
            cve: Some("CVE-2024-0001".into()),
            status: "open".into(),
            created: "2026-06-15T00:00:00.000Z".into(),
            updated: "2026-06-15T00:00:00.000Z".into(),
            doc: "{}".into(),
        }],
        attacks: vec![attack(1, "a1"), attack(1, "a2"), attack(2, "a3")],
        truncated: false,
    };
    YearlyInput {
        org: "示例电力公司".into(),
        from,
        to,
        generated: t("2026-12-06T12:00:00+08:00"),
        rows,
        unknown_assets: None,
    }
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.11
}

#[test]
fn the_numbers_follow_from_the_rows() {
    let r = YearlyReport::compute(&input());
    let s = &r.summary;
    assert_eq!(
        (s.assets, s.cii_assets, s.exposed_assets, s.business_systems),
        (3, 1, 1, 2)
    );
    assert_eq!(
        (
            s.findings,
            s.unresolved,
            s.kev_unresolved,
            s.ransomware_unresolved
        ),
        (5, 3, 2, 2)
    );
    assert_eq!(
        (s.overdue, s.fixed_in_period, s.warnings, s.attacks),
        (1, 1, 1, 3)
    );
    // Start (2025-12-31T16:00Z): A 0, B 10 → system 0.6·10 + 0.4·5 = 8,
    // the unsystemed 0 → organisation 0.6·8 + 0.4·4 = 6.4.
    assert!(near(s.score_at_start, 6.4), "{s:?}");
    // End: A 70, B 10 → system 42 + 16 = 58 → organisation 34.8 + 11.6 = 46.4.
    assert!(near(s.score, 46.4), "{s:?}");
    assert!(near(s.change, 40.0), "{s:?}");
    assert_eq!(s.band, Band::Medium);
    // January's end: A 20, B 10 → system 12 + 6 = 18 → 10.8 + 3.6 = 14.4.
    let m = &r.risk.monthly;
    assert_eq!(m.len(), 12);
    assert_eq!(
        (m[0].month.as_str(), m[11].month.as_str()),
        ("2026-01", "2026-12")
    );
    assert!(near(m[0].score, 14.4) && near(m[4].score, 14.4), "{m:?}");
    assert!(near(m[5].score, 46.4) && near(m[11].score, 46.4), "{m:?}");
    assert_eq!(r.risk.assets.items[0].name, "网上营业厅前置机");

    // Inventory.
    assert_eq!(
        r.inventory.by_system.items[0],
        Count {
            key: "网上营业厅".into(),
            count: 2
        }
    );
    assert_eq!(
        r.inventory.by_dengbao[0],
        Count {
            key: "3".into(),
            count: 1
        }
    );
    assert_eq!(
        r.inventory.by_importance.last().unwrap(),
        &Count {
            key: "unknown".into(),
            count: 1
        }
    );

    // Findings: the KEV CVE used by ransomware first, on two assets.
    let top = &r.findings.top.items[0];
    assert_eq!(
        (top.vuln.as_str(), top.assets, top.kev, top.ransomware),
        ("CVE-2024-0001", 2, true, true)
    );
    assert_eq!(r.findings.overdue_list.items[0].vuln, "CVE-2024-0001");
    assert_eq!(
        r.findings.by_decision[0],
        Count {
            key: "immediate".into(),
            count: 1
        }
    );

    // Remediation: one of each; the acceptance ran out; 10 days to fix.
    let rem = &r.remediation;
    assert_eq!(
        (
            rem.open,
            rem.in_progress,
            rem.accepted,
            rem.fixed,
            rem.false_positive,
            rem.overdue
        ),
        (1, 1, 1, 1, 1, 1)
    );
    assert!(rem.accepted_list.items[0].expired);
    assert_eq!(rem.accepted_list.items[0].approver, "王五");
    assert_eq!(rem.mean_time_to_fix.len(), 1);
    assert!(near(rem.mean_time_to_fix[0].mean_days, 10.0));

    // Threats.
    assert_eq!(
        r.threats.most_attacked.items[0],
        Count {
            key: "网上营业厅前置机".into(),
            count: 2
        }
    );
    assert_eq!(
        r.threats.warnings_by_level[0],
        Count {
            key: "red".into(),
            count: 1
        }
    );

    // Recommendations: KEV first, the yearly assessment last.
    assert!(
        r.recommendations[0].zh.contains("KEV"),
        "{:?}",
        r.recommendations
    );
    assert!(r.recommendations.last().unwrap().zh.contains("第十七条"));
}

#[test]
fn the_document_has_every_section_in_both_languages() {
    let r = YearlyReport::compute(&input());
    for (lang, n) in [(Lang::Zh, 0), (Lang::En, 1)] {
        let d = r.document(lang);
        let text = d.texts().join("\n");
        for (i, s) in SECTIONS.iter().enumerate() {
            let h = [s.0, s.1][n];
            assert!(text.contains(h), "section {i} `{h}` missing");
        }
        for want in [
            "网上营业厅前置机",
            "CVE-2024-0001",
            "2026-01-01T00:00:00+08:00",
            "王五",
        ] {
            assert!(text.contains(want), "{want} missing in {lang:?}");
        }
        d.check(&taishi_report::Limits::default()).unwrap();
    }
}

#[test]
fn lists_are_bounded_with_how_many_more() {
    let mut i = input();
    for n in 0..15 {
        i.rows.assets.push(asset(
            100 + n,
            &format!("host{n}"),
            Some(&format!("系统{n}")),
            None,
            false,
        ));
    }
    let r = YearlyReport::compute(&i);
    assert_eq!(r.inventory.by_system.items.len(), TOP);
    assert_eq!(r.inventory.by_system.more, 17 - TOP);
    let text = r.document(Lang::En).texts().join("\n");
    assert!(text.contains("and 7 more"), "{text}");
}

#[test]
fn periods_are_checked() {
    let z = FixedOffset::east_opt(8 * 3600).unwrap();
    let (a, b) = year(2026, z).unwrap();
    assert_eq!(iso(a), "2026-01-01T00:00:00+08:00");
    assert_eq!(stored(a), "2025-12-31T16:00:00.000Z");
    assert!(check_period(a, b).is_ok());
    assert_eq!(check_period(b, a), Err(PeriodError::Reversed));
    let (_, far) = year(2032, z).unwrap();
    assert_eq!(check_period(a, far), Err(PeriodError::TooLong));
}
