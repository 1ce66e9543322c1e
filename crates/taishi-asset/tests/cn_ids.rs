//! CNVD and CNNVD ids (China's national vulnerability databases) carried by
//! findings where the reports give them: a domestic scanner's CSV column,
//! Nessus cross references, Greenbone references, or the text.

use chrono::{TimeZone, Utc};
use taishi_asset::*;

fn opts(name: &str) -> ImportOptions {
    ImportOptions::new(
        OrgId("org-1".into()),
        name,
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    )
}

#[test]
fn ids_are_found_in_text_exactly() {
    assert_eq!(
        cn_ids_in("Apache Log4j2 远程代码执行漏洞（CNVD-2021-95914，cnnvd-202112-799）"),
        ["CNVD-2021-95914", "CNNVD-202112-799"]
    );
    assert_eq!(
        cn_ids_in("xref CNVD:2019-12345; CNNVD-201404-5300"),
        ["CNVD-2019-12345", "CNNVD-201404-5300"]
    );
    // Not ids: wrong digit counts, glued to other words or digits.
    for no in [
        "CNVD-21-95914",
        "CNVD-2021-123",
        "CNVD-2021-1234567",
        "XCNVD-2021-95914",
        "CNVD-2021-95914A",
        "CNNVD-2021-799",
        "CNNVD-202112-79",
        "CNVD 2021-95914",
        "",
    ] {
        assert!(cn_ids_in(no).is_empty(), "{no}");
    }
    // Bounded.
    let many: String = (10000..10100).map(|n| format!("CNVD-2020-{n} ")).collect();
    assert_eq!(cn_ids_in(&many).len(), 16);
}

#[test]
fn a_domestic_csv_export_carries_the_cnvd_column() {
    let csv = "IP地址,端口,CVE编号,CNVD编号,漏洞名称,风险等级\n\
               10.0.0.5,443,CVE-2021-44228,CNVD-2021-95914,Apache Log4j2 远程代码执行漏洞,高危\n\
               10.0.0.6,80,,CNVD-2020-10487,Apache Tomcat 文件包含漏洞,高危\n";
    let r = parse_report(csv.as_bytes(), &opts("rsas.csv")).unwrap();
    assert_eq!(r.findings.len(), 2, "{:?}", r.rejects);
    let log4j = r
        .findings
        .iter()
        .find(|f| f.cve.as_deref() == Some("CVE-2021-44228"))
        .unwrap();
    assert_eq!(log4j.cn_ids(), ["CNVD-2021-95914"]);
    // No CVE: the CNVD id names the check.
    let tomcat = r.findings.iter().find(|f| f.cve.is_none()).unwrap();
    assert_eq!(tomcat.sources[0].scanner_id, "CNVD-2020-10487");
    assert_eq!(tomcat.cn_ids(), ["CNVD-2020-10487"]);
}

#[test]
fn nessus_cross_references_carry_cnvd_ids() {
    let Some(bytes) =
        taishi_testdata::read("vuln/scanners/nessus/defectdojo_basic_cvssv3_49items.nessus")
    else {
        eprintln!("SKIP: no test data");
        return;
    };
    let text = String::from_utf8(bytes).unwrap();
    let with = text.replace("</ReportItem>", "<xref>CNVD:2021-95914</xref></ReportItem>");
    let plain = parse_report(text.as_bytes(), &opts("a.nessus")).unwrap();
    assert!(plain.findings.iter().all(|f| f.cn_ids().is_empty()));
    let r = parse_report(with.as_bytes(), &opts("a.nessus")).unwrap();
    assert_eq!(r.findings.len(), plain.findings.len());
    assert!(r.findings.iter().all(|f| f.cn_ids() == ["CNVD-2021-95914"]));
}
