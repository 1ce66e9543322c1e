//! CISA KEV and FIRST EPSS on the saved files.

use taishi_vuln::epss::{self, EpssTable};
use taishi_vuln::kev::{self, KevCatalog, Ransomware};

#[test]
fn kev_json_catalog() {
    let Some(b) = taishi_testdata::read("vuln/kev/known_exploited_vulnerabilities.json") else {
        return;
    };
    let c = KevCatalog::from_json(
        &b,
        "known_exploited_vulnerabilities.json",
        &kev::Limits::default(),
    )
    .unwrap();
    assert_eq!(c.version.as_deref(), Some("2025.08.25"));
    assert_eq!(c.len(), 1404);
    let git = c.get("CVE-2025-48384").unwrap();
    assert_eq!(
        (git.vendor_project.as_str(), git.product.as_str()),
        ("Git", "Git")
    );
    assert_eq!(git.cwes, vec!["CWE-59", "CWE-436"]);
    assert_eq!(git.due_date, "2025-09-15");
    let known = c
        .entries
        .values()
        .filter(|e| e.known_ransomware_campaign_use == Ransomware::Known)
        .count();
    println!(
        "KEV: {} entries, {known} with known ransomware use",
        c.len()
    );
    assert!(known > 100 && known < c.len());
    // EternalBlue: in KEV, used by ransomware (WannaCry).
    assert_eq!(
        c.get("CVE-2017-0144")
            .unwrap()
            .known_ransomware_campaign_use,
        Ransomware::Known
    );
}

#[test]
fn kev_csv_agrees_with_json() {
    let (Some(csv), Some(json)) = (
        taishi_testdata::read("vuln/kev/known_exploited_vulnerabilities_head50.csv"),
        taishi_testdata::read("vuln/kev/known_exploited_vulnerabilities.json"),
    ) else {
        return;
    };
    let head = KevCatalog::from_csv(&csv, "head50.csv", &kev::Limits::default()).unwrap();
    let full = KevCatalog::from_json(&json, "kev.json", &kev::Limits::default()).unwrap();
    assert_eq!(head.len(), 50);
    for (id, e) in &head.entries {
        assert_eq!(Some(e), full.get(id), "{id}");
    }
}

#[test]
fn epss_file_with_and_without_the_model_line() {
    let Some(b) = taishi_testdata::read("vuln/epss/epss_scores_head.csv") else {
        return;
    };
    let t = EpssTable::from_csv(&b, "epss_scores_head.csv", &epss::Limits::default()).unwrap();
    assert_eq!(t.scores.len(), 29);
    assert_eq!(t.model_version, None);
    let s = t.get("CVE-1999-0002").unwrap();
    assert_eq!((s.epss, s.percentile), (0.27858, 0.97877));
    // The real FIRST file starts with a comment line; the saved copy lacks it.
    let mut with = b"#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\n".to_vec();
    with.extend_from_slice(&b);
    let t2 = EpssTable::from_csv(&with, "with-comment.csv", &epss::Limits::default()).unwrap();
    assert_eq!(t2.model_version.as_deref(), Some("v2025.03.14"));
    assert_eq!(t2.scores, t.scores);
}
