//! Scanner imports on the public sample reports in
//! `$TAISHI_TEST_DATA/vuln/scanners`. Expected counts were worked out
//! independently of this crate (a short Python pass over the same files with
//! the same dedup key), and the exact findings were read off the files by
//! hand.

use chrono::{TimeZone, Utc};
use taishi_asset::*;

fn opts(name: &str) -> ImportOptions {
    ImportOptions::new(
        OrgId("org-1".into()),
        name,
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    )
}

fn report(rel: &str) -> Option<ScanReport> {
    let bytes = taishi_testdata::read(&format!("vuln/scanners/{rel}"))?;
    Some(parse_report(&bytes, &opts(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")))
}

fn find<'a>(r: &'a ScanReport, asset: &str, vuln: &str, loc: &str) -> &'a Finding {
    let k = FindingKey {
        asset: asset.into(),
        vuln: vuln.into(),
        location: loc.into(),
    };
    r.findings
        .iter()
        .find(|f| f.key() == k)
        .unwrap_or_else(|| panic!("{}: no finding {k}", r.source_name))
}

/// (file, scanner, items, findings, assets scanned)
const COUNTS: &[(&str, Scanner, usize, usize, usize)] = &[
    ("nmap/defectdojo_sV_vulners_ssh.xml", Scanner::Nmap, 2, 2, 1),
    (
        "nmap/defectdojo_sV_vulners_k8s-node.xml",
        Scanner::Nmap,
        42,
        42,
        1,
    ),
    (
        "nmap/libnmap_sV_O_default-safe_vulners_dionaea.xml",
        Scanner::Nmap,
        8,
        8,
        1,
    ),
    ("nmap/libnmap_A_subnet_cpe.xml", Scanner::Nmap, 0, 0, 4),
    (
        "nmap/defectdojo_connect_T4_multihost.xml",
        Scanner::Nmap,
        0,
        0,
        2,
    ),
    (
        "nmap/defectdojo_connect_single_host.xml",
        Scanner::Nmap,
        0,
        0,
        1,
    ),
    ("nmap/libnmap_sV_O_http-scripts.xml", Scanner::Nmap, 0, 0, 1),
    (
        "openvas/defectdojo_dc01_1result.xml",
        Scanner::OpenVas,
        1,
        12,
        1,
    ),
    (
        "openvas/defectdojo_metasploitable2_44results.xml",
        Scanner::OpenVas,
        44,
        76,
        1,
    ),
    (
        "openvas/defectdojo_report_detail_v2.xml",
        Scanner::OpenVas,
        1,
        93,
        1,
    ),
    (
        "nessus/defectdojo_basic_cvssv3_49items.nessus",
        Scanner::Nessus,
        49,
        165,
        1,
    ),
    (
        "nessus/defectdojo_internal_7hosts_296items.nessus",
        Scanner::Nessus,
        296,
        296,
        7,
    ),
    (
        "nessus/defectdojo_webapp_1host_7items.nessus",
        Scanner::Nessus,
        7,
        7,
        1,
    ),
    (
        "trivy/defectdojo_image_schema2.json",
        Scanner::Trivy,
        5,
        5,
        1,
    ),
    (
        "trivy/defectdojo_fs_misconfig_secrets.json",
        Scanner::Trivy,
        5,
        5,
        1,
    ),
    (
        "trivy/defectdojo_fs_jar_cvssv4.json",
        Scanner::Trivy,
        3,
        3,
        1,
    ),
    (
        "trivy/trivy-golden_alpine-310.json",
        Scanner::Trivy,
        4,
        4,
        1,
    ),
    (
        "trivy/trivy-golden_debian-buster.json",
        Scanner::Trivy,
        2,
        2,
        1,
    ),
    ("trivy/trivy-golden_npm.json", Scanner::Trivy, 1, 1, 1),
    ("trivy/trivy-golden_secrets.json", Scanner::Trivy, 2, 2, 1),
    (
        "trivy/trivy-golden_spring4shell-jre11.json",
        Scanner::Trivy,
        1,
        1,
        1,
    ),
    (
        "grype/defectdojo_busybox_epss.json",
        Scanner::Grype,
        15,
        15,
        1,
    ),
    // Django's GHSA match is listed twice: one finding.
    (
        "grype/defectdojo_check_all_fields.json",
        Scanner::Grype,
        6,
        5,
        1,
    ),
    ("grype/defectdojo_directory.json", Scanner::Grype, 9, 9, 1),
    (
        "grype/defectdojo_fix_available.json",
        Scanner::Grype,
        1,
        1,
        1,
    ),
    (
        "grype/defectdojo_image_35matches.json",
        Scanner::Grype,
        35,
        35,
        1,
    ),
    // Plugin 22964 appears twice on tcp/443.
    (
        "csv/nessus-export_default_columns.csv",
        Scanner::Nessus,
        30,
        29,
        1,
    ),
    (
        "csv/nessus-export_all_columns.csv",
        Scanner::Nessus,
        30,
        29,
        1,
    ),
    // 529 padding rows of empty cells are no records.
    ("csv/tenable-sc_export.csv", Scanner::Nessus, 4, 5, 2),
    (
        "csv/openvas-export_many_vuln.csv",
        Scanner::OpenVas,
        4,
        5,
        1,
    ),
    (
        "csv/openvas-export_report_using_CVE.csv",
        Scanner::OpenVas,
        43,
        43,
        1,
    ),
    ("csv/defectdojo-generic_report1.csv", Scanner::Csv, 5, 5, 1),
    ("csv/defectdojo-generic_report3.csv", Scanner::Csv, 2, 2, 1),
    (
        "csv/defectdojo-generic_csv_with_epss.csv",
        Scanner::Csv,
        1,
        1,
        1,
    ),
    (
        "csv/defectdojo-generic_report_kev_cvssv4.csv",
        Scanner::Csv,
        1,
        1,
        1,
    ),
];

#[test]
fn every_sample_gives_the_expected_counts() {
    for &(rel, scanner, items, findings, scanned) in COUNTS {
        let Some(r) = report(rel) else { return };
        assert_eq!(r.scanner, scanner, "{rel}");
        assert_eq!(
            (r.items, r.findings.len(), r.scanned.len()),
            (items, findings, scanned),
            "{rel}: (items, findings, scanned)"
        );
        assert!(r.rejects.is_empty(), "{rel}: {:?}", r.rejects);
    }
}

#[test]
fn nmap_vulners_ssh() {
    let Some(r) = report("nmap/defectdojo_sV_vulners_ssh.xml") else {
        return;
    };
    let f = find(&r, "ip:192.168.0.1", "CVE-2018-15919", "tcp/5022");
    let s = &f.sources[0];
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(s.cvss_score, Some(5.0));
    assert_eq!(s.scanner_id, "vulners:CVE-2018-15919");
    assert_eq!(s.service.as_deref(), Some("ssh"));
    // The host as an asset: the open port and its service CPE, in 2.3 form.
    let a = &r.assets[0];
    assert!(a.has_identity(&Identity::Ip("192.168.0.1".parse().unwrap())));
    assert_eq!(a.services[0].value.port, 5022);
    assert_eq!(
        a.software[0].value.cpe.as_ref().unwrap().formatted(),
        "cpe:2.3:a:openbsd:openssh:7.4:*:*:*:*:*:*:*"
    );
}

#[test]
fn nmap_vulners_exploits_and_nse_vulns() {
    if let Some(r) = report("nmap/defectdojo_sV_vulners_k8s-node.xml") {
        let exploits = r
            .findings
            .iter()
            .filter(|f| f.sources[0].exploit_available)
            .count();
        assert_eq!(exploits, 34, "vulners entries with is_exploit=true");
        assert_eq!(r.findings.iter().filter(|f| f.cve.is_some()).count(), 8);
        assert_eq!(r.assets[0].services.len(), 25);
    }
    if let Some(r) = report("nmap/libnmap_sV_O_default-safe_vulners_dionaea.xml") {
        // smb-vuln-ms17-010, a host script of the NSE vulns library.
        let f = find(&r, "ip:172.28.1.3", "CVE-2017-0143", "host");
        assert_eq!(f.sources[0].scanner_id, "smb-vuln-ms17-010");
        assert_eq!(f.severity, Severity::High);
        let f = find(&r, "ip:172.28.1.3", "CVE-2016-8704", "tcp/11211");
        assert_eq!(f.sources[0].cvss_score, Some(7.5));
    }
}

#[test]
fn nessus_internal_scan() {
    let Some(r) = report("nessus/defectdojo_internal_7hosts_296items.nessus") else {
        return;
    };
    let f = find(&r, "ip:10.31.112.29", "CVE-2005-1794", "tcp/3389");
    let s = &f.sources[0];
    assert_eq!(s.scanner_id, "18405");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(
        s.cvss_vector.as_deref(),
        Some("CVSS2#AV:N/AC:H/Au:N/C:P/I:P/A:P")
    );
    assert_eq!(s.cvss_score, Some(5.1));
    assert!(s.exploit_available);
    assert_eq!(s.service.as_deref(), Some("msrdp"));
    assert_eq!(f.asset.hostname.as_deref(), Some("qa3app09"));
    // Informational plugins are findings at Info, on the host.
    let f = find(&r, "ip:10.31.112.29", "nessus:19506", "host");
    assert_eq!(f.severity, Severity::Info);
    assert!(f.sources[0]
        .evidence
        .as_deref()
        .unwrap()
        .contains("Nessus version : 5.2.1"));
    // The host's MAC from its properties.
    let a = r
        .assets
        .iter()
        .find(|a| a.has_identity(&Identity::Ip("10.31.112.29".parse().unwrap())))
        .unwrap();
    assert!(a.has_identity(&Identity::Mac(Mac::parse("00:50:56:81:01:e3").unwrap())));
}

#[test]
fn nessus_cvss3() {
    let Some(r) = report("nessus/defectdojo_basic_cvssv3_49items.nessus") else {
        return;
    };
    let with_v3 = r
        .findings
        .iter()
        .filter(|f| {
            f.sources[0]
                .cvss_vector
                .as_deref()
                .is_some_and(|v| v.starts_with("CVSS:3"))
        })
        .count();
    assert!(with_v3 > 0, "CVSS v3 vectors are taken over v2");
    assert!(r.findings.iter().all(|f| f.severity <= Severity::Critical));
}

#[test]
fn openvas_results() {
    if let Some(r) = report("openvas/defectdojo_dc01_1result.xml") {
        let f = find(&r, "ip:10.0.101.2", "CVE-2023-4573", "host");
        let s = &f.sources[0];
        assert_eq!(s.scanner_id, "1.3.6.1.4.1.25623.1.0.832260");
        assert_eq!(f.severity, Severity::High);
        assert_eq!(s.cvss_score, Some(10.0));
        assert!(s
            .evidence
            .as_deref()
            .unwrap()
            .contains("Fixed version:     117"));
    }
    if let Some(r) = report("openvas/defectdojo_report_detail_v2.xml") {
        let f = find(&r, "ip:10.99.99.99", "CVE-2025-47981", "tcp/42");
        assert_eq!(f.asset.hostname.as_deref(), Some("server99"));
        assert_eq!(
            f.sources[0].cvss_vector.as_deref(),
            Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
        );
    }
    if let Some(r) = report("openvas/defectdojo_metasploitable2_44results.xml") {
        // The sample's host is `192.168.1.1001`, not an address: it is kept
        // as a name rather than dropped.
        let f = find(&r, "host:192.168.1.1001", "CVE-1999-0618", "tcp/512");
        assert_eq!(f.sources[0].title, "The rexec service is running");
    }
}

#[test]
fn trivy_vulnerabilities_misconfigurations_secrets() {
    if let Some(r) = report("trivy/defectdojo_image_schema2.json") {
        let f = find(
            &r,
            "artifact:teamdojo:latest",
            "CVE-2020-15999",
            "pkg:freetype@2.9.1-r2",
        );
        let s = &f.sources[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(s.fixed_version.as_deref(), Some("2.9.1-r3"));
        // The severity source (nvd) gives the vector, not redhat's.
        assert_eq!(
            s.cvss_vector.as_deref(),
            Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H")
        );
    }
    if let Some(r) = report("trivy/defectdojo_fs_jar_cvssv4.json") {
        let f = find(
            &r,
            "artifact:lib/catalina.jar",
            "CVE-2025-66614",
            "pkg:maven/org.apache.tomcat/tomcat-catalina@9.0.109",
        );
        assert_eq!(
            f.sources[0].cvss_vector.as_deref(),
            Some("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N")
        );
    }
    if let Some(r) = report("trivy/defectdojo_fs_misconfig_secrets.json") {
        let f = find(&r, "artifact:.", "trivy:DS002", "file:Dockerfile");
        assert_eq!(f.severity, Severity::High);
        let f = find(
            &r,
            "artifact:.",
            "trivy:secret:github-pat",
            "file:Dockerfile:24",
        );
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.sources[0].evidence.as_deref(),
            Some("ENV GITHUB_PAT=*****")
        );
    }
}

#[test]
fn grype_matches() {
    if let Some(r) = report("grype/defectdojo_busybox_epss.json") {
        let f = r
            .findings
            .iter()
            .find(|f| f.cve.as_deref() == Some("CVE-2022-28391"))
            .expect("CVE-2022-28391");
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.asset.key(), "artifact:busybox:1.32.1");
        assert_eq!(f.sources[0].cvss_score, Some(8.8));
        assert_eq!(
            f.sources[0].cvss_vector.as_deref(),
            Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H")
        );
    }
    if let Some(r) = report("grype/defectdojo_check_all_fields.json") {
        // A GHSA id takes its CVE from relatedVulnerabilities.
        let f = find(
            &r,
            "artifact:vulnerable-image:latest",
            "CVE-2021-44420",
            "pkg:pypi/Django@3.2.9",
        );
        assert_eq!(f.sources[0].scanner_id, "GHSA-v6rh-hp5x-86rv");
    }
}

#[test]
fn csv_exports() {
    if let Some(r) = report("csv/tenable-sc_export.csv") {
        // One row naming two CVEs: two findings.
        find(&r, "ip:10.2.1.1", "CVE-2013-2566", "tcp/443");
        find(&r, "ip:10.2.1.1", "CVE-2015-2808", "tcp/443");
    }
    if let Some(r) = report("csv/defectdojo-generic_report1.csv") {
        // The same check on five URLs: five findings.
        let f = find(
            &r,
            "host:vulnerable.endpoint.com",
            "csv:ASDF",
            "url:https://vulnerable.endpoint.com/resource2/qwerty",
        );
        assert_eq!(f.severity, Severity::Low);
    }
    if let Some(r) = report("csv/openvas-export_report_using_CVE.csv") {
        // The CVE scanner puts the CVE in the NVT OID column.
        let f = find(&r, "ip:45.33.32.156", "CVE-2021-26690", "host");
        assert_eq!(f.severity, Severity::High);
    }
}

#[test]
fn two_exports_of_one_scan_are_one_set_of_findings() {
    let (Some(a), Some(b)) = (
        report("csv/nessus-export_default_columns.csv"),
        report("csv/nessus-export_all_columns.csv"),
    ) else {
        return;
    };
    let mut set = FindingSet::new();
    set.extend(a.findings);
    set.extend(b.findings);
    assert_eq!(set.len(), 29);
    assert!(set.iter().all(|f| f.sources.len() == 2));
}

#[test]
fn the_same_finding_from_two_scanners_is_one_finding() {
    let Some(nmap) = report("nmap/defectdojo_sV_vulners_ssh.xml") else {
        return;
    };
    let csv = b"IP,Port,Protocol,CVE,Name,Severity\n192.168.0.1,5022,tcp,CVE-2017-15906,OpenSSH sftp-server,High\n";
    let csv = parse_report(csv, &opts("manual.csv")).unwrap();
    let mut set = FindingSet::new();
    set.extend(nmap.findings);
    set.extend(csv.findings);
    assert_eq!(set.len(), 2);
    let f = set
        .iter()
        .find(|f| f.cve.as_deref() == Some("CVE-2017-15906"))
        .unwrap();
    let scanners: Vec<Scanner> = f.scanners().collect();
    assert_eq!(scanners, vec![Scanner::Nmap, Scanner::Csv]);
    // The higher severity of the two wins; each source keeps its own.
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.sources[0].severity, Severity::Medium);
}
