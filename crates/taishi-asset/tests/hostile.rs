//! Bounds: size, XML depth, entities, record and finding caps; and the
//! parsers never panic on arbitrary or damaged input.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use taishi_asset::*;

fn opts() -> ImportOptions {
    ImportOptions::new(
        OrgId("o".into()),
        "hostile",
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    )
}

#[test]
fn entity_declarations_are_refused() {
    let xxe = br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<NessusClientData_v2><Report><ReportHost name="&xxe;"/></Report></NessusClientData_v2>"#;
    let e = scan::nessus::parse(xxe, &opts()).unwrap_err();
    assert!(matches!(e, ImportError::Dtd { line: 1, .. }), "{e}");
    assert!(e.message(Lang::Zh).contains("拒绝 DTD 实体声明"));
    let lol = br#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><nmaprun>&lol2;</nmaprun>"#;
    assert!(matches!(
        scan::nmap::parse(lol, &opts()),
        Err(ImportError::Dtd { .. })
    ));
    // An undeclared entity is an XML error, not a lookup.
    let undeclared = br#"<nmaprun><host><address addr="&x;" addrtype="ipv4"/></host></nmaprun>"#;
    assert!(scan::nmap::parse(undeclared, &opts()).is_err());
}

#[test]
fn depth_and_size_limits() {
    let deep = format!(
        "<nmaprun>\n{}{}</nmaprun>",
        "<a>".repeat(100),
        "</a>".repeat(100)
    );
    let e = scan::nmap::parse(deep.as_bytes(), &opts()).unwrap_err();
    assert!(
        matches!(
            e,
            ImportError::TooDeep {
                limit: 64,
                line: 2,
                ..
            }
        ),
        "{e}"
    );
    let mut o = opts();
    o.limits.max_bytes = 10;
    let e = import_csv(b"ip\n10.0.0.1\n", &o).unwrap_err();
    assert_eq!(
        e,
        ImportError::TooLarge {
            source_name: "hostile".into(),
            size: 12,
            limit: 10
        }
    );
    let e = scan::nmap::parse(b"<nmaprun>\xff</nmaprun>", &opts()).unwrap_err();
    assert!(matches!(e, ImportError::NotUtf8 { offset: 9, .. }), "{e}");
}

#[test]
fn record_and_finding_caps_refuse_the_report_whole() {
    let csv =
        "IP,CVE\n10.0.0.1,CVE-2020-0001 CVE-2020-0002 CVE-2020-0003\n10.0.0.2,CVE-2020-0004\n";
    let mut o = opts();
    o.limits.max_findings = 3;
    let e = scan::csv::parse(csv.as_bytes(), &o).unwrap_err();
    assert!(
        matches!(e, ImportError::TooManyFindings { limit: 3, .. }),
        "{e}"
    );
    let mut o = opts();
    o.limits.max_records = 1;
    let e = scan::csv::parse(csv.as_bytes(), &o).unwrap_err();
    assert!(
        matches!(e, ImportError::TooManyRecords { limit: 1, .. }),
        "{e}"
    );
    let e = import_csv(b"ip\n10.0.0.1\n10.0.0.2\n", &o).unwrap_err();
    assert!(matches!(e, ImportError::TooManyRecords { .. }), "{e}");
}

#[test]
fn evidence_is_clipped() {
    let long = "x".repeat(100_000);
    let csv = format!("IP,Plugin ID,Plugin Output\n10.0.0.1,1,\"é{long}\"\n");
    let mut o = opts();
    o.limits.max_field_bytes = 1000;
    let r = scan::csv::parse(csv.as_bytes(), &o).unwrap();
    let ev = r.findings[0].sources[0].evidence.as_ref().unwrap();
    assert!(ev.len() <= 1000 && ev.starts_with('é'));
}

#[test]
fn bad_records_in_reports_are_counted_and_named() {
    let nmap = br#"<nmaprun><host><status state="up"/></host><host><status state="up"/><address addr="10.0.0.9" addrtype="ipv4"/></host></nmaprun>"#;
    let r = import_assets(nmap, &opts()).unwrap();
    assert_eq!((r.records, r.assets.len(), r.rejects.len()), (2, 1, 1));
    assert_eq!(r.rejects[0].record, 1);
    assert_eq!(r.rejects[0].field.as_deref(), Some("address"));
    assert!(r.rejects[0]
        .message(Lang::Zh)
        .contains("hostile：第 1 条记录，字段 address"));
    let trivy = br#"{"ArtifactName":"img","Results":[{"Target":"t","Vulnerabilities":[{"PkgName":"a"},{"VulnerabilityID":"CVE-2020-1111","PkgName":"b","InstalledVersion":"1"}]}]}"#;
    let r = scan::trivy::parse(trivy, &opts()).unwrap();
    assert_eq!((r.items, r.findings.len(), r.rejects.len()), (2, 1, 1));
    assert_eq!(r.rejects[0].field.as_deref(), Some("VulnerabilityID"));
    let gvm = br#"<report><report><results><result><name>x</name><port>22/tcp</port></result><result><host>10.0.0.4</host><port>22/tcp</port><nvt oid="1.3"><name>y</name></nvt><threat>Low</threat></result></results></report></report>"#;
    let r = scan::openvas::parse(gvm, &opts()).unwrap();
    assert_eq!((r.findings.len(), r.rejects.len()), (1, 1));
    assert_eq!(
        r.findings[0].key().to_string(),
        "ip:10.0.0.4 openvas:1.3 tcp/22"
    );
    let fp = br#"<report><results><result><host>10.0.0.5</host><port>22/tcp</port><nvt oid="1.4"/><threat>False Positive</threat></result></results></report>"#;
    let r = scan::openvas::parse(fp, &opts()).unwrap();
    assert_eq!((r.items, r.findings.len(), r.scanned.len()), (1, 0, 1));
    // A whole-document error names the byte.
    let e = scan::nmap::parse(b"<nmaprun><host></nmaprun>", &opts()).unwrap_err();
    assert!(
        matches!(
            e,
            ImportError::Xml {
                at: Some((1, _)),
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn detection_by_content() {
    assert_eq!(
        detect(b"<?xml version=\"1.0\"?>\n<nmaprun>"),
        Some(Scanner::Nmap)
    );
    assert_eq!(detect(b"<NessusClientData_v2>"), Some(Scanner::Nessus));
    assert_eq!(detect(b"<report id=\"x\">"), Some(Scanner::OpenVas));
    assert_eq!(
        detect(b"{\"SchemaVersion\": 2, \"Results\": []}"),
        Some(Scanner::Trivy)
    );
    assert_eq!(
        detect(b"{\"matches\": [], \"descriptor\": {}}"),
        Some(Scanner::Grype)
    );
    assert_eq!(detect(b"IP,CVE\n"), Some(Scanner::Csv));
    assert_eq!(detect(b"hello"), None);
    assert!(matches!(
        parse_report(b"hello", &opts()),
        Err(ImportError::Format { .. })
    ));
}

type Parser = fn(&[u8], &ImportOptions) -> Result<ScanReport, ImportError>;

const PARSERS: &[Parser] = &[
    scan::nmap::parse,
    scan::nessus::parse,
    scan::openvas::parse,
    scan::trivy::parse,
    scan::grype::parse,
    scan::csv::parse,
    parse_report,
];

fn run_all(bytes: &[u8]) {
    let o = opts();
    for p in PARSERS {
        let _ = p(bytes, &o);
    }
    let _ = import_csv(bytes, &o);
    let _ = import_json(bytes, &o);
}

/// Small pieces of each format, so random inputs reach the parsers' inner
/// code and not only their first check.
const FRAGMENTS: &[&str] = &[
    "<nmaprun>", "<host>", "<status state=\"up\"/>", "<address addr=\"10.0.0.1\" addrtype=\"ipv4\"/>",
    "<ports>", "<port protocol=\"tcp\" portid=\"22\">", "<state state=\"open\"/>", "<service name=\"ssh\">",
    "<cpe>cpe:/a:x:y:1</cpe>", "<script id=\"vulners\">", "<table key=\"cpe:/a:x\">", "<table>",
    "<elem key=\"id\">CVE-2020-1234</elem>", "<elem key=\"type\">cve</elem>", "<elem key=\"state\">VULNERABLE</elem>",
    "</table>", "</script>", "</port>", "</ports>", "</host>", "</nmaprun>",
    "<NessusClientData_v2>", "<Report>", "<ReportHost name=\"h\">", "<HostProperties><tag name=\"host-ip\">10.0.0.2</tag></HostProperties>",
    "<ReportItem port=\"443\" protocol=\"tcp\" severity=\"3\" pluginID=\"1\" pluginName=\"n\">", "<cve>CVE-2021-1</cve>", "</ReportItem>",
    "<report>", "<results>", "<result>", "<host>10.0.0.3<hostname>x</hostname></host>", "<port>general/tcp</port>",
    "<nvt oid=\"1.2\"><refs><ref type=\"cve\" id=\"CVE-2019-1\"/></refs></nvt>", "</result>", "&amp;", "&#x0;", "&bogus;",
    "{\"SchemaVersion\":2,\"ArtifactName\":\"a\",\"Results\":[{\"Target\":\"t\",\"Vulnerabilities\":[{\"VulnerabilityID\":\"CVE-1-1\"}]}]}",
    "{\"matches\":[{\"vulnerability\":{\"id\":\"GHSA-x\"},\"artifact\":{\"name\":\"n\"}}]}",
    "IP,Port,CVE,Severity\n", "10.0.0.1,80,CVE-2020-0001,high\n", "\"", ",", "\n", "资产名称,IP地址\n", "\u{feff}",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        run_all(&bytes);
    }

    #[test]
    fn never_panics_on_shuffled_fragments(idx in proptest::collection::vec(0..FRAGMENTS.len(), 0..60)) {
        let s: String = idx.iter().map(|&i| FRAGMENTS[i]).collect();
        run_all(s.as_bytes());
    }

    #[test]
    fn never_panics_on_damaged_samples(which in 0usize..6, cut in 0.0f64..1.0, flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..8)) {
        let rel = ["nmap/defectdojo_sV_vulners_ssh.xml", "openvas/defectdojo_dc01_1result.xml",
                   "trivy/defectdojo_image_schema2.json", "grype/defectdojo_fix_available.json",
                   "csv/openvas-export_many_vuln.csv", "nessus/defectdojo_webapp_1host_7items.nessus"][which];
        let Some(path) = taishi_testdata::root().map(|r| r.join("vuln/scanners").join(rel)) else { return Ok(()) };
        let Ok(mut bytes) = std::fs::read(path) else { return Ok(()) };
        bytes.truncate((bytes.len() as f64 * cut) as usize);
        let n = bytes.len();
        for (pos, b) in flips {
            if n > 0 {
                bytes[((n - 1) as f64 * pos) as usize] = b;
            }
        }
        run_all(&bytes);
    }
}
