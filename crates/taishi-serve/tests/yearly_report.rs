//! The yearly risk assessment report (issue 15, CII regulation Art. 17)
//! against a running server: an inventory and a scanner report imported, a
//! KEV entry naming the scan's CVE, one finding's risk accepted; then the
//! report of this year as JSON (the counts), DOCX (word/document.xml read
//! back) and PDF (its text extracted with pdftotext) each carry the seven
//! section headings, a real asset name and the CVE, in zh-CN and English,
//! a reader of another organisation sees only its subtree, and every
//! export is audited.

mod common;

use common::*;
use serde_json::json;
use taishi_assess::yearly::{Lang, YearlyReport, SECTIONS};

const INVENTORY: &str = "IP地址,主机名,资产名称,业务系统,重要性,关基,等保级别,暴露端口,负责人\n\
192.168.0.1,web-risk01,网上营业厅前置机,网上营业厅,关键,是,3,tcp/5022,张三\n\
192.168.0.9,db-risk09,营业厅数据库,网上营业厅,重要,否,3,,李四\n";

const CVE: &str = "CVE-2018-15919";

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn the_yearly_report_has_every_section_as_json_docx_and_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(taishi_serve::start(config(dir.path())))
        .unwrap();
    let admin = Client::login(server.http_addr, admin_password(&server));

    import_inventory(&admin, INVENTORY);
    let scan = taishi_testdata::read("vuln/scanners/nmap/defectdojo_sV_vulners_ssh.xml")
        .expect("set TAISHI_TEST_DATA to the shared test data");
    let (s, v) = admin.post_raw(
        "/api/v1/vulns/import?name=ssh.xml",
        "application/xml",
        &scan,
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = admin.post_raw(
        "/api/v1/vulns/feeds/kev?name=kev.json",
        "application/json",
        &kev_file(CVE, true),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = admin.get("/api/v1/vulns?status=unresolved&limit=500");
    assert_eq!(s, 200, "{v}");
    let findings = v["total"].as_u64().unwrap();
    let other = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cve"] != CVE)
        .expect("a finding that is not the KEV one")
        .clone();
    let (s, v) = admin.post(
        &format!("/api/v1/vulns/{}/status", other["id"].as_str().unwrap()),
        &json!({"status": "accepted", "approver": "王五", "until": "2027-06-30T00:00:00+08:00"}),
    );
    assert_eq!(s, 200, "{v}");

    // JSON: the counts.
    let (s, r) = admin.get("/api/v1/risk/report");
    assert_eq!(s, 200, "{r}");
    assert!(r["summary"]["assets"].as_u64().unwrap() >= 2, "{r}");
    assert_eq!(r["summary"]["unresolved"].as_u64(), Some(findings), "{r}");
    assert!(r["summary"]["kev_unresolved"].as_u64().unwrap() >= 1, "{r}");
    assert!(
        r["summary"]["ransomware_unresolved"].as_u64().unwrap() >= 1,
        "{r}"
    );
    assert!(r["summary"]["cii_assets"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["remediation"]["accepted"], 1, "{r}");
    assert_eq!(
        r["remediation"]["accepted_list"]["items"][0]["approver"], "王五",
        "{r}"
    );
    assert_eq!(r["findings"]["top"]["items"][0]["vuln"], CVE, "{r}");
    assert_eq!(r["findings"]["top"]["items"][0]["kev"], true, "{r}");
    assert!(r["summary"]["score"].as_f64().unwrap() > 0.0, "{r}");
    // ISO 8601 with the server's zone.
    assert!(
        r["from"].as_str().unwrap().contains("-01-01T00:00:00+"),
        "{r}"
    );
    let months = r["risk"]["monthly"].as_array().unwrap();
    assert_eq!(months.len(), 12, "{r}");
    assert!(
        months.last().unwrap()["score"].as_f64().unwrap() > 0.0,
        "{r}"
    );
    assert!(!r["recommendations"].as_array().unwrap().is_empty());
    // The same through `year` and through `from`/`to`.
    let y = &r["from"].as_str().unwrap()[..4];
    let (s, ry) = admin.get(&format!("/api/v1/risk/report?year={y}"));
    assert_eq!(s, 200, "{ry}");
    assert_eq!(ry["summary"]["unresolved"], r["summary"]["unresolved"]);
    let (s, rr) = admin.get(&format!("/api/v1/risk/report?from={y}-01-01&to={y}-12-31"));
    assert_eq!(s, 200, "{rr}");
    assert_eq!(rr["to"], r["to"], "{rr}");
    // Bad periods are refused.
    for q in [
        "year=2026&from=2026-01-01",
        "from=2026-02-01&to=2026-01-01",
        "from=2026-01-01",
        "format=xlsx",
        "lang=fr",
    ] {
        let (s, v) = admin.get(&format!("/api/v1/risk/report?{q}"));
        assert_eq!(s, 400, "{q}: {v}");
    }

    for (lang, q, n) in [(Lang::Zh, "zh-CN", 0), (Lang::En, "en", 1)] {
        let heads: Vec<&str> = SECTIONS.iter().map(|s| [s.0, s.1][n]).collect();
        let title = YearlyReport::title(lang);
        // DOCX, read back.
        let (s, cd, docx) = admin.get_bytes(
            &format!("/api/v1/risk/report?format=docx&lang={q}"),
            "content-disposition",
        );
        assert_eq!(s, 200);
        assert!(cd.unwrap().starts_with("attachment; filename="));
        let xml = docx_xml(docx);
        for h in heads.iter().chain([&title]) {
            assert!(xml.contains(h), "DOCX ({q}) lacks `{h}`");
        }
        assert!(
            xml.contains("网上营业厅前置机") && xml.contains(CVE) && xml.contains("王五"),
            "DOCX ({q}) lacks the asset, the CVE or the approver"
        );

        // PDF, its text extracted.
        let (s, _, pdf) = admin.get_bytes(
            &format!("/api/v1/risk/report?format=pdf&lang={q}"),
            "content-type",
        );
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&pdf));
        assert!(pdf.starts_with(b"%PDF-"));
        let path = dir.path().join(format!("yearly-{q}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        if let Some(text) = pdf_text(&path) {
            for h in heads.iter().chain([&title]) {
                assert!(text.contains(&squeeze(h)), "PDF ({q}) lacks `{h}`: {text}");
            }
            assert!(
                text.contains("网上营业厅前置机") && text.contains(CVE),
                "PDF ({q}): {text}"
            );
        }
    }

    // A reader of another organisation reports on its own subtree only:
    // the top organisation's assets and findings are not in it.
    let other = branch_viewer(&server);
    let (s, b) = other.get("/api/v1/risk/report");
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["org"], "Branch", "{b}");
    assert_eq!(
        (
            b["summary"]["assets"].as_u64(),
            b["summary"]["findings"].as_u64()
        ),
        (Some(0), Some(0)),
        "{b}"
    );

    // Every export is in the audit trail.
    let (_, trail) = auditor(&server).get("/api/v1/audit?action=risk.report_export");
    assert!(
        trail["items"].as_array().map(Vec::len).unwrap_or(0) >= 4,
        "{trail}"
    );
    rt.block_on(server.shutdown()).unwrap();
}
