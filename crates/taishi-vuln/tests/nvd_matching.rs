//! Matching on the saved NVD API 2.0 records, against expectations written
//! by hand from reading each record (see the comments: the configuration
//! that decides, and the boundary versions on both sides of each end).

use taishi_vuln::cpe::{Attr, Cpe, VERSION};
use taishi_vuln::matching::{FeedIndex, Inventory, VersionCheck};
use taishi_vuln::nvd::{self, Cve};

fn records(rel: &str) -> Option<Vec<Cve>> {
    let bytes = taishi_testdata::read(rel)?;
    Some(nvd::load(&bytes, rel, &nvd::Limits::default()).unwrap_or_else(|e| panic!("{e}")))
}

fn a(v: &str) -> String {
    // A short way to write a CPE: "a:vendor:product:version[:update]".
    let n = v.split(':').count();
    let mut s = format!("cpe:2.3:{v}");
    for _ in n..11 {
        s.push_str(":*");
    }
    s
}

/// Checks that each inventory yields exactly the expected CVE ids, and that
/// the index agrees with a plain scan of every record.
fn expect(rel: &str, cases: &[(&[&str], &[&str])]) {
    let Some(recs) = records(rel) else { return };
    let ix = FeedIndex::build(&recs);
    assert!(ix.rejected.is_empty(), "{rel}: {:?}", ix.rejected);
    for (cpes, want) in cases {
        let cpes: Vec<String> = cpes.iter().map(|c| a(c)).collect();
        let (inv, bad) = Inventory::parse(&cpes);
        assert!(bad.is_empty(), "{bad:?}");
        let got: Vec<String> = ix
            .match_inventory(&inv)
            .into_iter()
            .map(|f| f.cve)
            .collect();
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "{rel}: inventory {cpes:?}");
        let scan: Vec<String> = ix
            .match_inventory_scan(&inv)
            .into_iter()
            .map(|f| f.cve)
            .collect();
        assert_eq!(scan, got, "{rel}: index and scan disagree for {cpes:?}");
    }
}

const GO: &str = "CVE-2023-45283";

#[test]
fn platform_cpe_first_and_last() {
    // AND(OR[o:microsoft:windows:- platform], OR[go < 1.20.11, 1.21.0-0 ≤ go < 1.21.4]),
    // in both node orders.
    for rel in [
        "vuln/nvd-extra/grype_CVE-2023-45283_platform-cpe-first.cve.json",
        "vuln/nvd-extra/grype_CVE-2023-45283_platform-cpe-last.cve.json",
    ] {
        expect(
            rel,
            &[
                (&["a:golang:go:1.20.10", "o:microsoft:windows:-"], &[GO]),
                (&["a:golang:go:1.20.11", "o:microsoft:windows:-"], &[]), // end exclusive
                (&["a:golang:go:1.21.0", "o:microsoft:windows:-"], &[GO]), // start inclusive (1.21.0-0 = 1.21.0)
                (&["a:golang:go:1.21.3", "o:microsoft:windows:-"], &[GO]),
                (&["a:golang:go:1.21.4", "o:microsoft:windows:-"], &[]),
                (&["a:golang:go:1.21.0:rc2", "o:microsoft:windows:-"], &[GO]), // rc2 ≥ 1.21.0-0 (see go_release_candidate_boundary)
                (&["a:golang:go:1.20.10"], &[]),                               // not on Windows
                (&["o:microsoft:windows:-"], &[]), // the platform alone is never vulnerable
                (&["a:golang:go:*", "o:microsoft:windows:-"], &[]), // unknown version: no range can be decided
            ],
        );
    }
}

#[test]
fn go_release_candidate_boundary() {
    // 1.21.0-rc2 is a pre-release of 1.21.0, after 1.20.11; the second range
    // starts at 1.21.0-0, Go's "lowest 1.21.0 pre-release", so rc2 is inside.
    let Some(recs) = records("vuln/nvd-extra/grype_CVE-2023-45283_platform-cpe-last.cve.json")
    else {
        return;
    };
    let ix = FeedIndex::build(&recs);
    let (inv, _) = Inventory::parse(&[a("a:golang:go:1.21.0:rc2"), a("o:microsoft:windows:-")]);
    let f = ix.match_inventory(&inv);
    assert_eq!(f.len(), 1);
    let VersionCheck::Range { asset, start, end } = &f[0].vulnerable[0].version else {
        panic!()
    };
    assert_eq!(asset, "1.21.0-rc2");
    assert_eq!(start.as_ref().unwrap().version, "1.21.0-0");
    assert_eq!(end.as_ref().unwrap().version, "1.21.4");
}

#[test]
fn explanation_names_configuration_node_range_and_comparison() {
    let Some(recs) = records("vuln/nvd-extra/grype_CVE-2023-45283_platform-cpe-first.cve.json")
    else {
        return;
    };
    let ix = FeedIndex::build(&recs);
    let (inv, _) = Inventory::parse(&[a("o:microsoft:windows:-"), a("a:golang:go:1.20.10")]);
    let f = &ix.match_inventory(&inv)[0];
    assert_eq!(f.configuration, 0);
    assert_eq!(f.items, vec![1], "only go is vulnerable, not Windows");
    assert_eq!((f.vulnerable[0].node, f.vulnerable[0].cpe_match), (1, 0));
    assert_eq!(f.platforms.len(), 1);
    assert!(!f.platforms[0].vulnerable);
    assert_eq!(f.platforms[0].node, 0);
    let text = f.explanation();
    let en = &text.en;
    assert!(en.contains("configuration 1 (AND of 2 nodes)"), "{en}");
    assert!(
        en.contains("node 2, match 1: cpe:2.3:a:golang:go:*:*:*:*:*:*:*:* (vulnerable)"),
        "{en}"
    );
    assert!(
        en.contains("1.20.10 < 1.20.11, so < 1.20.11 holds (end, exclusive)"),
        "{en}"
    );
    assert!(
        en.contains("node 1, match 1: cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:* (platform"),
        "{en}"
    );
    let zh = &text.zh;
    assert!(zh.contains("配置 1（2 个节点，与）"), "{zh}");
    assert!(zh.contains("结束版本，不含"), "{zh}");
    assert!(zh.contains("运行平台，本身不受影响"), "{zh}");
}

#[test]
fn python_on_windows_and_netapp() {
    const PY: &str = "CVE-2022-26488";
    expect(
        "vuln/nvd-extra/grype_CVE-2022-26488_platform-cpe.cve.json",
        &[
            (&["a:python:python:3.7.12", "o:microsoft:windows:-"], &[PY]), // end inclusive
            (&["a:python:python:3.7.13", "o:microsoft:windows:-"], &[]),
            (&["a:python:python:3.8.0", "o:microsoft:windows:-"], &[PY]),
            (&["a:python:python:3.9.10", "o:microsoft:windows:-"], &[PY]),
            (&["a:python:python:3.9.11", "o:microsoft:windows:-"], &[]),
            (&["a:python:python:3.9.10"], &[]), // Linux: not affected
            (&["o:microsoft:windows:-"], &[]),
            // Config 2: one node, target_sw=windows on the NetApp entry.
            (
                &["a:netapp:active_iq_unified_manager:-:*:*:*:*:windows"],
                &[PY],
            ),
            (&["a:netapp:active_iq_unified_manager:-:*:*:*:*:linux"], &[]),
            (&["a:netapp:active_iq_unified_manager:-"], &[PY]), // target_sw unknown: taken to match
            (
                &["a:netapp:ontap_select_deploy_administration_utility:-"],
                &[PY],
            ),
        ],
    );
}

#[test]
fn multiple_platforms() {
    const RPA: &str = "CVE-2023-38733";
    expect(
        "vuln/nvd-extra/grype_CVE-2023-38733_multiple-platforms.cve.json",
        &[
            (
                &[
                    "a:ibm:robotic_process_automation:21.0.7.3",
                    "a:redhat:openshift:-",
                ],
                &[RPA],
            ),
            (
                &[
                    "a:ibm:robotic_process_automation:21.0.0",
                    "o:microsoft:windows:-",
                ],
                &[RPA],
            ),
            (
                &[
                    "a:ibm:robotic_process_automation:21.0.7.4",
                    "o:microsoft:windows:-",
                ],
                &[],
            ),
            (
                &[
                    "a:ibm:robotic_process_automation:23.0.3",
                    "o:microsoft:windows:-",
                ],
                &[RPA],
            ),
            (
                &[
                    "a:ibm:robotic_process_automation:22.0.0",
                    "o:microsoft:windows:-",
                ],
                &[],
            ),
            (&["a:ibm:robotic_process_automation:23.0.3"], &[]),
            (&["a:redhat:openshift:-", "o:microsoft:windows:-"], &[]), // both platforms, no app
        ],
    );
}

#[test]
fn ansible_on_rhel_and_debian() {
    const ANS: &str = "CVE-2020-10729";
    expect(
        "vuln/nvd-extra/grype_CVE-2020-10729.cve.json",
        &[
            (
                &[
                    "a:redhat:ansible_engine:2.9.5",
                    "o:redhat:enterprise_linux:8.0",
                ],
                &[ANS],
            ),
            (
                &[
                    "a:redhat:ansible_engine:2.9.6",
                    "o:redhat:enterprise_linux:8.0",
                ],
                &[],
            ), // end exclusive
            (
                &[
                    "a:redhat:ansible_engine:2.9.5",
                    "o:redhat:enterprise_linux:9.0",
                ],
                &[],
            ),
            (&["a:redhat:ansible_engine:2.9.5"], &[]),
            (&["o:redhat:enterprise_linux:7.0"], &[]), // RHEL is only the platform
            (&["o:debian:debian_linux:10.0"], &[ANS]), // config 2: Debian itself is vulnerable
            (&["o:debian:debian_linux:10"], &[ANS]),   // 10 = 10.0
            (&["o:debian:debian_linux:11.0"], &[]),
        ],
    );
}

#[test]
fn redis_with_na_version_on_debian() {
    const REDIS: &str = "CVE-2022-0543";
    // AND(OR[a:redis:redis:- vulnerable], OR[5 Debian/Ubuntu releases, platforms]).
    // NVD's `-` means "no version": a redis whose version the asset knows is
    // disjoint from it under CPE matching; one whose version is unknown matches.
    expect(
        "vuln/nvd-extra/grype_CVE-2022-0543.cve.json",
        &[
            (&["a:redis:redis:*", "o:debian:debian_linux:10.0"], &[REDIS]),
            (
                &[
                    "a:redis:redis:-",
                    "o:canonical:ubuntu_linux:20.04:*:*:*:lts",
                ],
                &[REDIS],
            ),
            (&["a:redis:redis:6.0.16", "o:debian:debian_linux:10.0"], &[]),
            (&["a:redis:redis:-", "o:debian:debian_linux:12.0"], &[]),
            (&["a:redis:redis:-"], &[]),
            (&["o:debian:debian_linux:10.0"], &[]),
        ],
    );
}

#[test]
fn cisco_node_level_and() {
    const C: &str = "CVE-2021-1566";
    // Six configurations, each one node AND(appliance, asyncos range), both vulnerable.
    expect(
        "vuln/nvd-extra/grype_CVE-2021-1566_cisco-and-nodes.cve.json",
        &[
            (
                &[
                    "a:cisco:email_security_appliance:-",
                    "o:cisco:asyncos:12.5.3-034",
                ],
                &[C],
            ),
            (
                &[
                    "a:cisco:email_security_appliance:-",
                    "o:cisco:asyncos:12.5.3-035",
                ],
                &[],
            ), // end exclusive
            (
                &[
                    "a:cisco:email_security_appliance:-",
                    "o:cisco:asyncos:13.0.0-029",
                ],
                &[C],
            ),
            (
                &[
                    "a:cisco:email_security_appliance:-",
                    "o:cisco:asyncos:13.0.0-030",
                ],
                &[],
            ),
            (
                &[
                    "a:cisco:email_security_appliance:-",
                    "o:cisco:asyncos:13.5.3-010",
                ],
                &[],
            ),
            (
                &["a:cisco:web_security_appliance:-", "o:cisco:asyncos:12.0.0"],
                &[C],
            ), // start inclusive
            (
                &[
                    "a:cisco:web_security_appliance:-",
                    "o:cisco:asyncos:12.0.3-005",
                ],
                &[],
            ),
            (
                &[
                    "a:cisco:web_security_appliance:-",
                    "o:cisco:asyncos:11.8.3-020",
                ],
                &[C],
            ),
            (&["o:cisco:asyncos:12.5.3-034"], &[]), // AND node: the appliance is needed
            (&["a:cisco:email_security_appliance:-"], &[]),
        ],
    );
    // Both entries are vulnerable: the finding names both asset CPEs.
    let Some(recs) = records("vuln/nvd-extra/grype_CVE-2021-1566_cisco-and-nodes.cve.json") else {
        return;
    };
    let (inv, _) = Inventory::parse(&[
        a("a:cisco:email_security_appliance:-"),
        a("o:cisco:asyncos:12.5.2"),
    ]);
    let f = FeedIndex::build(&recs).match_inventory(&inv);
    assert_eq!(f[0].items, vec![0, 1]);
}

#[test]
fn eternalblue_and_siemens_firmware() {
    const EB: &str = "CVE-2017-0144";
    expect(
        "vuln/nvd-extra/fkie_CVE-2017-0144.cve.json",
        &[
            (
                &[
                    "a:microsoft:server_message_block:1.0",
                    "o:microsoft:windows_10_1507:-:*:*:*:*:*:x64",
                ],
                &[EB],
            ),
            (
                &[
                    "a:microsoft:server_message_block:1.0",
                    "o:microsoft:windows_10_1507:-",
                ],
                &[EB],
            ), // target_hw unknown
            (
                &[
                    "a:microsoft:server_message_block:1.0",
                    "o:microsoft:windows_10_1507:-:*:*:*:*:*:arm64",
                ],
                &[],
            ),
            (
                &[
                    "a:microsoft:server_message_block:2.0",
                    "o:microsoft:windows_10_1507:-",
                ],
                &[],
            ),
            (&["o:microsoft:windows_10_1507:-"], &[]),
            // Siemens ACUSON SC2000: 4.0 ≤ firmware < 4.0e, or 5.0a; with the hardware.
            (
                &[
                    "o:siemens:acuson_sc2000_firmware:4.0",
                    "h:siemens:acuson_sc2000:-",
                ],
                &[EB],
            ),
            (
                &[
                    "o:siemens:acuson_sc2000_firmware:4.0d",
                    "h:siemens:acuson_sc2000:-",
                ],
                &[EB],
            ),
            (
                &[
                    "o:siemens:acuson_sc2000_firmware:4.0e",
                    "h:siemens:acuson_sc2000:-",
                ],
                &[],
            ),
            (
                &[
                    "o:siemens:acuson_sc2000_firmware:5.0a",
                    "h:siemens:acuson_sc2000:-",
                ],
                &[EB],
            ),
            (
                &[
                    "o:siemens:acuson_sc2000_firmware:5.0",
                    "h:siemens:acuson_sc2000:-",
                ],
                &[],
            ),
            (&["o:siemens:acuson_sc2000_firmware:4.0d"], &[]),
            (&["h:siemens:acuson_sc2000:-"], &[]),
            (
                &[
                    "o:siemens:acuson_p500_firmware:va10",
                    "h:siemens:acuson_p500:-",
                ],
                &[EB],
            ),
            (
                &[
                    "o:siemens:acuson_p500_firmware:vc10",
                    "h:siemens:acuson_p500:-",
                ],
                &[],
            ),
            (
                &[
                    "o:siemens:tissue_preparation_system_firmware:1",
                    "h:siemens:tissue_preparation_system:*",
                ],
                &[EB],
            ),
        ],
    );
}

#[test]
fn huawei_router_and_ios_xe() {
    expect(
        "vuln/nvd-extra/fkie_CVE-2017-17215.cve.json",
        &[
            (
                &["o:huawei:hg532_firmware:-", "h:huawei:hg532:-"],
                &["CVE-2017-17215"],
            ),
            (&["h:huawei:hg532:-"], &[]),
            (&["o:huawei:hg532_firmware:-"], &[]),
        ],
    );
    const XE: &str = "CVE-2023-20198";
    expect(
        "vuln/nvd-extra/fkie_CVE-2023-20198.cve.json",
        &[
            (&["o:cisco:ios_xe:16.12"], &[XE]),
            (&["o:cisco:ios_xe:16.12.10"], &[XE]),
            (&["o:cisco:ios_xe:16.12.10a"], &[]), // end exclusive, letter release
            (&["o:cisco:ios_xe:17.3.8"], &[XE]),
            (&["o:cisco:ios_xe:17.3.8a"], &[]),
            (&["o:cisco:ios_xe:17.9.4"], &[XE]),
            (&["o:cisco:ios_xe:17.12.1"], &[]),
            (&["o:cisco:ios_xe:16.11.1"], &[]),
            (
                &[
                    "o:rockwellautomation:allen-bradley_stratix_5200_firmware:17.12.01",
                    "h:rockwellautomation:allen-bradley_stratix_5200:-",
                ],
                &[XE],
            ),
            (
                &[
                    "o:rockwellautomation:allen-bradley_stratix_5200_firmware:17.12.02",
                    "h:rockwellautomation:allen-bradley_stratix_5200:-",
                ],
                &[],
            ),
        ],
    );
}

#[test]
fn plain_or_configurations() {
    expect(
        "vuln/nvd-extra/osv-dev_nvd-api2_CVE-2023-4863.json",
        &[
            (&["a:google:chrome:116.0.5845.186"], &["CVE-2023-4863"]),
            (&["a:google:chrome:116.0.5845.187"], &[]),
            (&["a:webmproject:libwebp:1.3.1"], &["CVE-2023-4863"]),
            (&["a:webmproject:libwebp:1.3.2"], &[]),
            (&["a:mozilla:firefox_esr:115.2.0"], &["CVE-2023-4863"]),
            (&["a:mozilla:firefox_esr:115.2.1"], &[]),
            (&["a:mozilla:firefox_esr:102.15.0"], &["CVE-2023-4863"]),
            (&["a:mozilla:firefox_esr:103.0"], &[]), // between the two ESR ranges
            (&["o:debian:debian_linux:12.0"], &["CVE-2023-4863"]),
            (&["o:debian:debian_linux:9.0"], &[]),
        ],
    );
    expect(
        "vuln/nvd-extra/osv-dev_nvd-api2_CVE-2024-3094.json",
        &[
            (&["a:tukaani:xz:5.6.0"], &["CVE-2024-3094"]),
            (&["a:tukaani:xz:5.6.1"], &["CVE-2024-3094"]),
            (&["a:tukaani:xz:5.6.2"], &[]),
            (&["a:tukaani:xz:5.4.6"], &[]),
        ],
    );
    expect(
        "vuln/nvd-extra/grype_CVE-2018-1000222.cve.json",
        &[
            (&["a:libgd:libgd:2.2.5"], &["CVE-2018-1000222"]),
            (&["a:libgd:libgd:2.2.4"], &[]),
            (
                &["o:canonical:ubuntu_linux:18.04:*:*:*:lts"],
                &["CVE-2018-1000222"],
            ),
            (&["o:canonical:ubuntu_linux:18.04"], &["CVE-2018-1000222"]), // sw_edition unknown
            (&["o:canonical:ubuntu_linux:20.04:*:*:*:lts"], &[]),
        ],
    );
    expect(
        "vuln/nvd-extra/osv-dev_nvd-api2_CVE-2017-6507.json",
        &[
            (&["a:apparmor:apparmor:2.11"], &["CVE-2017-6507"]), // end inclusive
            (&["a:apparmor:apparmor:2.11.1"], &[]),
            (&["a:apparmor:apparmor:2.10.95"], &["CVE-2017-6507"]),
        ],
    );
    expect(
        "vuln/nvd-extra/osv-dev_nvd-api2_CVE-2020-13595.json",
        &[
            (
                &["a:espressif:esp-idf:4.2", "h:espressif:esp32:-"],
                &["CVE-2020-13595"],
            ),
            (
                &["a:espressif:esp-idf:4.0.0", "h:espressif:esp32:-"],
                &["CVE-2020-13595"],
            ),
            (&["a:espressif:esp-idf:4.2.1", "h:espressif:esp32:-"], &[]),
            (&["a:espressif:esp-idf:3.3", "h:espressif:esp32:-"], &[]),
            (&["a:espressif:esp-idf:4.2"], &[]),
        ],
    );
    expect(
        "vuln/nvd-extra/osv-dev_nvd-api2_CVE-2023-24256.json",
        &[
            (&["o:nio:aspen:3.2.9", "h:nio:ec6:-"], &["CVE-2023-24256"]),
            (&["o:nio:aspen:3.3.0", "h:nio:ec6:-"], &[]),
        ],
    );
    // No configurations yet (awaiting analysis): nothing can match.
    expect(
        "vuln/nvd-extra/osv-dev_nvd-api2_CVE-2023-5341.json",
        &[(&["a:*:*:*"], &[])],
    );
}

#[test]
fn nvdlib_records() {
    expect(
        "vuln/nvd/nvd-api2-CVE-2021-26855.json",
        &[
            (
                &["a:microsoft:exchange_server:2013:cumulative_update_22"],
                &["CVE-2021-26855"],
            ),
            (
                &["a:microsoft:exchange_server:2013:cumulative_update_20"],
                &[],
            ),
            (&["a:microsoft:exchange_server:2019"], &["CVE-2021-26855"]), // no update: the release, listed as 2019:-
            (&["a:microsoft:exchange_server:2013"], &[]), // 2013 without update is not listed
            (
                &["a:microsoft:exchange_server:2016:cumulative_update_8"],
                &["CVE-2021-26855"],
            ),
        ],
    );
    expect(
        "vuln/nvd/nvd-api2-CVE-2017-7542.json",
        &[
            (&["o:linux:linux_kernel:4.12.3"], &["CVE-2017-7542"]),
            (&["o:linux:linux_kernel:4.9.0"], &["CVE-2017-7542"]),
            (&["o:linux:linux_kernel:4.12.4"], &[]),
            (&["o:linux:linux_kernel:4.12.3-rc1"], &["CVE-2017-7542"]),
        ],
    );
    expect(
        "vuln/nvd/nvd-api2-CVE-2021-45357.json",
        &[
            (&["a:piwigo:piwigo:12.0.0"], &["CVE-2021-45357"]),
            (&["a:piwigo:piwigo:12.1.0"], &["CVE-2021-45357"]),
            (&["a:piwigo:piwigo:12.1.1"], &[]),
            (&["a:piwigo:piwigo:11.5.0"], &[]),
        ],
    );
}

#[test]
fn pages_load_and_index_agrees_with_scan() {
    let mut all = Vec::new();
    for (rel, n) in [
        ("vuln/nvd/nvd-api2-search_page_1.json", 47),
        ("vuln/nvd/nvd-api2-simple_search.json", 2),
        ("vuln/nvd-extra/vunnel_nvd-api2_full-page_38cves.json", 38),
        ("vuln/nvd-extra/fkie_3cves_wrapped-in-api2-envelope.json", 3),
    ] {
        let Some(r) = records(rel) else { return };
        assert_eq!(r.len(), n, "{rel}");
        all.extend(r);
    }
    let unconfigured = all.iter().filter(|c| c.configurations.is_empty()).count();
    assert_eq!(unconfigured, 13);
    let ix = FeedIndex::build(&all);
    assert!(ix.rejected.is_empty(), "{:?}", ix.rejected);
    // Every vulnerable criterion, with a version inside its range or equal to
    // its version, is an inventory; the index must find what the scan finds.
    let mut checked = 0;
    for c in &all {
        for conf in &c.configurations {
            let cpes: Vec<String> = conf
                .nodes
                .iter()
                .flat_map(|n| &n.cpe_match)
                .map(|m| {
                    let v = m
                        .version_end_including
                        .clone()
                        .or(m.version_start_including.clone())
                        .or(m.version_start_excluding.as_ref().map(|v| format!("{v}.1")))
                        .or(m.version_end_excluding.as_ref().map(|_| "0".into()))
                        .unwrap_or_else(|| "1.0".into());
                    let mut c = Cpe::parse(&m.criteria).unwrap();
                    if c.attrs[VERSION] == Attr::Any {
                        c.attrs[VERSION] = Attr::literal(&v);
                    }
                    c.to_string()
                })
                .collect();
            let (inv, _) = Inventory::parse(&cpes);
            let mut fast: Vec<String> = ix
                .match_inventory(&inv)
                .into_iter()
                .map(|f| f.cve)
                .collect();
            let mut slow: Vec<String> = ix
                .match_inventory_scan(&inv)
                .into_iter()
                .map(|f| f.cve)
                .collect();
            fast.sort();
            slow.sort();
            assert_eq!(fast, slow);
            assert!(
                fast.contains(&c.id) || conf.nodes.iter().any(|n| n.negate),
                "{} not found from its own criteria {cpes:?}",
                c.id
            );
            checked += 1;
        }
    }
    assert!(checked > 50);
    // NVD's KEV fields are read.
    assert!(all.iter().any(|c| c.id == "CVE-2017-0144" && c.in_kev()));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Arbitrary versions and updates never panic, and the index always
    /// agrees with the plain scan.
    #[test]
    fn arbitrary_versions_index_equals_scan(v in "[0-9a-z.\\-_]{0,16}", u in "[0-9a-z_]{0,8}", w in "[0-9.]{0,8}") {
        let Some(recs) = records("vuln/nvd-extra/fkie_CVE-2023-20198.cve.json") else { return Ok(()) };
        let ix = FeedIndex::build(&recs);
        let upd = if u.is_empty() { "*".to_owned() } else { u };
        let cpes = [
            format!("cpe:2.3:o:cisco:ios_xe:{}:{upd}:*:*:*:*:*:*", if v.is_empty() { "*" } else { &v }),
            format!("cpe:2.3:o:rockwellautomation:allen-bradley_stratix_5200_firmware:{}:*:*:*:*:*:*:*", if w.is_empty() { "-" } else { &w }),
            "cpe:2.3:h:rockwellautomation:allen-bradley_stratix_5200:-:*:*:*:*:*:*:*".to_owned(),
        ];
        let (inv, _) = Inventory::parse(&cpes);
        let a: Vec<String> = ix.match_inventory(&inv).into_iter().map(|f| f.cve).collect();
        let b: Vec<String> = ix.match_inventory_scan(&inv).into_iter().map(|f| f.cve).collect();
        proptest::prop_assert_eq!(a, b);
    }
}
