//! The score's factors, its recompute, roll-ups and the early warnings.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use taishi_asset::Importance;
use taishi_risk::{
    cves_in, evaluate, rollup, score_asset, techniques_in, Attack, AttackKind, BiText, Factor,
    FactorKind, FindingInput, Item, Remediation, RiskInput, RiskScore, ScoreModel, Severity,
    Trigger, WarnAsset, Warning, WarningKind, WarningLevel,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
}

fn finding(id: &str, vuln: &str, priority: f64, kev: bool) -> FindingInput {
    FindingInput {
        id: id.into(),
        vuln: vuln.into(),
        priority,
        decision: "out-of-cycle".into(),
        kev,
        exploitable: kev,
        status: Remediation::Open,
        accepted_until: None,
        deadline: Some(now() + Duration::days(14)),
    }
}

fn attack(id: &str, sev: Severity, hours_ago: i64) -> Attack {
    Attack {
        id: id.into(),
        kind: AttackKind::Alert,
        severity: sev,
        at: now() - Duration::hours(hours_ago),
        title: format!("rule {id}"),
    }
}

fn input() -> RiskInput {
    RiskInput {
        importance: Some(Importance::High),
        cii: false,
        exposed_ports: vec!["tcp/443".into()],
        findings: vec![
            finding("f1", "CVE-2021-44228", 80.0, true),
            finding("f2", "CVE-2023-0001", 40.0, false),
        ],
        attacks: Vec::new(),
    }
}

#[test]
fn score_is_made_of_its_factors() {
    let s = score_asset(&input(), &ScoreModel::default(), now());
    let keys: Vec<&str> = s.factors.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["vulns", "exposure", "attacks", "importance"]);
    // vulns: 0.8 + 0.4 × 0.5 = 1.0; exposure 0.55; attacks 0; × 0.85.
    assert_eq!(s.factors[0].input, 1.0);
    assert_eq!(s.factors[1].input, 0.55);
    assert_eq!(s.factors[2].input, 0.0);
    assert_eq!(s.score, 45.3); // 100 × 0.85 × (0.45 + 0.0825)
    assert_eq!(s.recompute(), s.score);
    assert_eq!(s.factors[0].items[0].id, "f1");
    assert!(s.factors[0].items[0].text.zh.contains("CVE-2021-44228"));
}

#[test]
fn attacks_raise_the_score_most_severe_first_and_decay() {
    let m = ScoreModel::default();
    let quiet = score_asset(&input(), &m, now()).score;
    let mut i = input();
    i.attacks = vec![
        attack("a-low", Severity::Low, 1),
        attack("a-high", Severity::High, 2),
        attack("a-old", Severity::Critical, 24 * 40), // outside 30 days
    ];
    let s = score_asset(&i, &m, now());
    assert!(s.score > quiet, "{} > {quiet}", s.score);
    let a = &s.factors[2];
    assert_eq!(a.items.len(), 2);
    assert_eq!(a.items[0].id, "a-high");
    assert_eq!(a.items[1].id, "a-low");
    assert!(a.items[1].weight < 0.5);
    assert!(a.text.en.contains("2 attacks"));
    // A week later the same attacks weigh half as much.
    let later = score_asset(&i, &m, now() + Duration::days(7));
    assert!(later.factors[2].input < a.input * 0.55);
}

#[test]
fn closed_and_accepted_findings_do_not_count_until_acceptance_expires() {
    let m = ScoreModel::default();
    let mut i = input();
    i.findings[0].status = Remediation::Fixed;
    i.findings[1].status = Remediation::Accepted;
    i.findings[1].accepted_until = Some(now() + Duration::days(1));
    assert_eq!(score_asset(&i, &m, now()).factors[0].input, 0.0);
    assert_eq!(
        score_asset(&i, &m, now() + Duration::days(2)).factors[0].input,
        0.4
    );
}

#[test]
fn rollup_shows_the_worst_and_the_crowd() {
    let r = rollup(
        &[("a".into(), 80.0), ("b".into(), 20.0), ("c".into(), 0.0)],
        1,
    );
    // 0.6 × 0.8 + 0.4 × (100/3/100)
    assert_eq!(r.score, 61.3);
    assert_eq!(r.recompute(), r.score);
    assert_eq!(r.factors[0].items[0].id, "a");
    assert_eq!(rollup(&[], 1).score, 0.0);
}

fn warn_asset(critical: bool, exposed: bool) -> WarnAsset {
    WarnAsset {
        id: "7".into(),
        name: "web01".into(),
        critical,
        exposed_ports: if exposed {
            vec!["tcp/443".into()]
        } else {
            vec![]
        },
        findings: vec![
            finding("f1", "CVE-2021-44228", 80.0, false),
            finding("f2", "CVE-2020-1472", 90.0, true),
        ],
    }
}

#[test]
fn kev_entry_matching_an_asset_warns_red_when_exposed_orange_otherwise() {
    let t = Trigger::KevAdded {
        cve: "CVE-2021-44228".into(),
        ransomware: false,
    };
    let w = evaluate(&warn_asset(false, true), &t, now()).unwrap();
    assert_eq!(w.level, WarningLevel::Red);
    assert_eq!(w.kind, WarningKind::KevMatch);
    assert_eq!(w.dedup_key, "kev:7:CVE-2021-44228");
    assert!(w.text.zh.contains("KEV") && w.text.en.contains("tcp/443"));
    assert!(w.title.zh.starts_with("红色预警"));
    assert!(!w.action.zh.is_empty() && !w.action.en.is_empty());
    let w = evaluate(&warn_asset(false, false), &t, now()).unwrap();
    assert_eq!(w.level, WarningLevel::Orange);
    // A CVE the asset does not carry: nothing.
    let other = Trigger::KevAdded {
        cve: "CVE-1999-0001".into(),
        ransomware: true,
    };
    assert!(evaluate(&warn_asset(true, true), &other, now()).is_none());
}

#[test]
fn epss_warns_only_on_a_large_rise() {
    let a = warn_asset(false, false);
    let small = Trigger::EpssRise {
        cve: "CVE-2021-44228".into(),
        from: Some(0.1),
        to: 0.2,
    };
    assert!(evaluate(&a, &small, now()).is_none());
    let large = Trigger::EpssRise {
        cve: "CVE-2021-44228".into(),
        from: Some(0.1),
        to: 0.6,
    };
    let w = evaluate(&a, &large, now()).unwrap();
    assert_eq!(w.level, WarningLevel::Yellow);
    assert_eq!(w.dedup_key, "epss:7:CVE-2021-44228:6");
}

#[test]
fn attacks_on_vulnerable_assets_warn() {
    let a = warn_asset(false, true);
    let names_cve = Trigger::Alert {
        alert_id: "al1".into(),
        title: "Log4Shell".into(),
        cves: vec!["CVE-2021-44228".into()],
        techniques: vec![],
    };
    let w = evaluate(&a, &names_cve, now()).unwrap();
    assert_eq!(
        (w.level, w.kind),
        (WarningLevel::Red, WarningKind::AttackOnVulnerable)
    );
    assert_eq!(w.dedup_key, "attack:7:CVE-2021-44228:2026-12-06");
    let technique = Trigger::Alert {
        alert_id: "al2".into(),
        title: "Exploit public-facing app".into(),
        cves: vec![],
        techniques: vec!["T1059".into(), "T1190".into()],
    };
    let w = evaluate(&a, &technique, now()).unwrap();
    assert_eq!(w.level, WarningLevel::Red); // exposed and the exploitable finding is KEV
    assert_eq!(w.cve.as_deref(), Some("CVE-2020-1472"));
    let benign = Trigger::Alert {
        alert_id: "al3".into(),
        title: "PowerShell".into(),
        cves: vec![],
        techniques: vec!["T1059".into()],
    };
    assert!(evaluate(&a, &benign, now()).is_none());
}

#[test]
fn intel_hits_warn_on_critical_assets_only() {
    let t = Trigger::IntelHit {
        alert_id: "al".into(),
        indicator: "203.0.113.9".into(),
    };
    assert!(evaluate(&warn_asset(false, false), &t, now()).is_none());
    let w = evaluate(&warn_asset(true, false), &t, now()).unwrap();
    assert_eq!(w.level, WarningLevel::Red); // carries a KEV finding
    assert_eq!(w.kind, WarningKind::IntelOnCritical);
}

#[test]
fn cve_and_technique_extraction() {
    assert_eq!(
        cves_in("Exploit cve-2021-44228 and CVE.2020.1472, not CVE-21-1 nor xCVE-2020-1234"),
        ["CVE-2021-44228", "CVE-2020-1472"]
    );
    assert_eq!(
        techniques_in([
            "attack.t1190",
            "attack.t1059.001",
            "attack.initial_access",
            "cve.2021.1"
        ]),
        ["T1059", "T1190"]
    );
}

fn arb_text() -> impl Strategy<Value = BiText> {
    ("[a-z 中文]{0,12}", "[a-z ]{0,12}").prop_map(|(z, e)| BiText::new(z, e))
}

fn arb_factor() -> impl Strategy<Value = Factor> {
    (
        "[a-z_]{1,10}",
        any::<bool>(),
        0.0f64..=1.0,
        0.0f64..=1.0,
        arb_text(),
        proptest::collection::vec(("[a-z0-9]{1,6}", 0.0f64..=1.0, 0.0f64..=1.0), 0..4),
    )
        .prop_map(|(key, mult, weight, input, text, items)| Factor {
            key,
            kind: if mult {
                FactorKind::Multiplier
            } else {
                FactorKind::Additive
            },
            weight: (weight * 10_000.0).round() / 10_000.0,
            input: (input * 10_000.0).round() / 10_000.0,
            text,
            items: items
                .into_iter()
                .map(|(id, i, w)| Item {
                    id,
                    text: BiText::default(),
                    input: i,
                    weight: w,
                    contribution: i * w,
                })
                .collect(),
        })
}

proptest! {
    /// Any factor set, stored as JSON and read back, recomputes to the
    /// stored score.
    #[test]
    fn recompute_equals_stored(factors in proptest::collection::vec(arb_factor(), 0..8), v in 0u32..5) {
        let s = RiskScore::from_factors(v, factors);
        prop_assert!((0.0..=100.0).contains(&s.score));
        let json = serde_json::to_string(&s).unwrap();
        let back: RiskScore = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.recompute(), s.score);
        prop_assert_eq!(back.score, s.score);
    }

    /// Scores of arbitrary assets are within 0–100 and recompute.
    #[test]
    fn asset_scores_recompute(
        prios in proptest::collection::vec(0.0f64..=100.0, 0..30),
        sevs in proptest::collection::vec((0u8..5, 0i64..24 * 40), 0..30),
        ports in 0usize..10,
        imp in 0u8..5,
        cii in any::<bool>(),
    ) {
        let i = RiskInput {
            importance: [None, Some(Importance::Low), Some(Importance::Medium), Some(Importance::High), Some(Importance::Critical)][imp as usize],
            cii,
            exposed_ports: (0..ports).map(|p| format!("tcp/{p}")).collect(),
            findings: prios.iter().enumerate().map(|(k, p)| finding(&format!("f{k}"), &format!("CVE-2020-{k:04}"), *p, k % 3 == 0)).collect(),
            attacks: sevs.iter().enumerate().map(|(k, (s, h))| attack(&format!("a{k}"), [Severity::Informational, Severity::Low, Severity::Medium, Severity::High, Severity::Critical][*s as usize], *h)).collect(),
        };
        let s = score_asset(&i, &ScoreModel::default(), now());
        prop_assert!((0.0..=100.0).contains(&s.score));
        let back: RiskScore = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        prop_assert_eq!(back.recompute(), s.score);
    }

    #[test]
    fn extraction_never_panics(s in any::<String>()) {
        let _ = cves_in(&s);
        let _ = techniques_in([s.as_str()]);
    }
}

/// Remediation deadlines: a finding warns once when it falls due (蓝 for a
/// plain one, 黄 when exploitable or on an exposed/critical asset, 橙 when
/// both), an accepted risk when its acceptance runs out; fixed findings and
/// those still in time never do.
#[test]
fn overdue_findings_and_expired_acceptances_warn_once_per_deadline() {
    let mut plain = finding("f-plain", "CVE-2020-0001", 30.0, false);
    plain.deadline = Some(now() - Duration::days(3));
    let mut kev = finding("f-kev", "CVE-2021-44228", 90.0, true);
    kev.deadline = Some(now() - Duration::hours(1));
    let in_time = finding("f-later", "CVE-2022-0002", 50.0, false);
    let mut fixed = finding("f-fixed", "CVE-2019-0003", 50.0, false);
    fixed.deadline = Some(now() - Duration::days(30));
    fixed.status = Remediation::Fixed;
    let mut accepted = finding("f-acc", "CVE-2018-0004", 20.0, false);
    accepted.deadline = Some(now() - Duration::days(100));
    accepted.status = Remediation::Accepted;
    accepted.accepted_until = Some(now() - Duration::days(1));
    let mut renewed = accepted.clone();
    renewed.id = "f-renewed".into();
    renewed.accepted_until = Some(now() + Duration::days(60));
    let mut asset = WarnAsset {
        id: "7".into(),
        name: "web01".into(),
        critical: false,
        exposed_ports: vec![],
        findings: vec![plain, kev, in_time, fixed, accepted, renewed],
    };
    let ws = taishi_risk::overdue(&asset, now());
    let by = |id: &str| ws.iter().find(|w| w.text.en.contains(id));
    assert_eq!(ws.len(), 3, "{ws:#?}");
    assert_eq!(by("f-plain").unwrap().level, WarningLevel::Blue);
    assert!(by("f-plain").unwrap().text.en.contains("3 days overdue"));
    assert_eq!(by("f-kev").unwrap().level, WarningLevel::Yellow);
    assert!(by("f-acc").unwrap().text.zh.contains("风险接受已于"));
    assert!(by("f-later").is_none() && by("f-fixed").is_none() && by("f-renewed").is_none());
    for w in &ws {
        assert_eq!(w.kind, WarningKind::RemediationOverdue);
        assert!(w.title.zh.contains("逾期未修复") && !w.action.en.is_empty());
    }
    // The same situation tomorrow: the same keys (raised once).
    let keys = |ws: &[Warning]| ws.iter().map(|w| w.dedup_key.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys(&ws),
        keys(&taishi_risk::overdue(&asset, now() + Duration::days(1)))
    );
    // An exposed asset: the KEV one is 橙, the plain one 黄.
    asset.exposed_ports = vec!["tcp/443".into()];
    let ws = taishi_risk::overdue(&asset, now());
    let by = |id: &str| ws.iter().find(|w| w.text.en.contains(id)).unwrap().level;
    assert_eq!(
        (by("f-kev"), by("f-plain")),
        (WarningLevel::Orange, WarningLevel::Yellow)
    );
}
