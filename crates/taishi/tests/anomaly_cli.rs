//! `taishi hunt` runs the anomaly detectors over files (issue 17), and
//! `taishi lookalike` prints and checks look-alike domains: the real binary
//! on RITA's public Zeek capture and on names given on stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn taishi(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_taishi"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run taishi");
    let mut i = c.stdin.take().unwrap();
    if let Some(s) = stdin {
        i.write_all(s.as_bytes()).unwrap();
    }
    drop(i);
    c.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `taishi hunt` with no rules over `args`, in JSON lines: asserts the
/// exit of a hunt that found something (3) and gives the rows.
fn hunt_rows(args: &[&str]) -> Vec<serde_json::Value> {
    let rules = tempfile::tempdir().unwrap();
    let mut all = vec![
        "hunt",
        "-r",
        rules.path().to_str().unwrap(),
        "--format",
        "jsonl",
        "--quiet",
    ];
    all.extend_from_slice(args);
    let out = taishi(&all, None);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn hunt_finds_the_scanners_and_the_beacon_of_the_rita_capture() {
    let Some(data) = taishi_testdata::path("network/anomaly/rita-missing-host") else {
        return;
    };
    let rows = hunt_rows(&["--threads", "1", data.to_str().unwrap()]);
    let of = |id: &str| -> Vec<&serde_json::Value> {
        rows.iter().filter(|r| r["rule_id"] == id).collect()
    };
    // The README's four scanners, found by the 24-hour window.
    for scanner in [
        "165.154.254.36",
        "79.124.62.78",
        "79.124.62.130",
        "79.110.62.70",
    ] {
        assert!(
            of("anomaly:vertical_scan")
                .iter()
                .any(|r| r["anomaly"]["entity"]
                    .as_str()
                    .unwrap()
                    .starts_with(scanner)),
            "{scanner} not found: {rows:#?}"
        );
    }
    let beacon = of("anomaly:beacon")
        .into_iter()
        .find(|r| r["anomaly"]["entity"] == "73.54.23.243 → 64.225.56.201")
        .unwrap_or_else(|| panic!("the RITA beacon is not found: {rows:#?}"));
    assert_eq!(beacon["channel"], "anomaly");
    assert!(
        beacon["anomaly"]["score"].as_f64().unwrap() >= 0.7,
        "{beacon:#}"
    );
    assert!(!beacon["anomaly"]["features"].as_array().unwrap().is_empty());
    assert!(of("anomaly:brute_force").len() >= 2, "{rows:#?}");

    let rules = tempfile::tempdir().unwrap();
    let off = taishi(
        &[
            "hunt",
            "-r",
            rules.path().to_str().unwrap(),
            "--no-anomaly",
            "--quiet",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(off.status.code(), Some(0), "{}", text(&off.stderr));
}

#[test]
fn lookalike_prints_variants_and_checks_names() {
    let out = taishi(
        &[
            "lookalike",
            "icbc.com.cn",
            "--zh",
            "工商银行",
            "--format",
            "jsonl",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let methods: std::collections::BTreeSet<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["method"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for m in [
        "homoglyph",
        "omission",
        "tld-swap",
        "pinyin",
        "abbreviation",
    ] {
        assert!(methods.contains(m), "{m} missing from {methods:?}");
    }
    let out = taishi(
        &["lookalike", "examplebank.com", "--check", "-"],
        Some("examp1ebank.com\nwww.examplebank.com\nwikipedia.org\n"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("examp1ebank.com") && table.contains("homoglyph"),
        "{table}"
    );
    assert!(!table.contains("wikipedia"), "{table}");
    assert!(
        text(&out.stderr).contains("3 names checked, 1 imitate"),
        "{}",
        text(&out.stderr)
    );
    let clean = taishi(
        &["lookalike", "examplebank.com", "--check", "-"],
        Some("wikipedia.org\n"),
    );
    assert_eq!(clean.status.code(), Some(0));
}

/// Certificate names reach the look-alike watch (issue 17): on the public
/// WRCCDC Zeek x509 log a SAN of Google's ad certificate imitates the brand
/// `google.com` by embedding it, and on Suricata's EVE sample the subject
/// CN `*.icloud.com` and the SNI imitate `icloud.com.cn` by a TLD swap;
/// each alert says where the name was seen.
#[test]
fn hunt_watches_certificate_names_of_zeek_x509_and_suricata_tls() {
    let (Some(x509), Some(eve)) = (
        taishi_testdata::path("network/zeek/wrccdc-json/x509.json"),
        taishi_testdata::path("network/suricata/beats_eve-small.json"),
    ) else {
        return;
    };
    let rows: Vec<serde_json::Value> = hunt_rows(&[
        "--brand",
        "google.com",
        "--brand",
        "icloud.com.cn",
        x509.to_str().unwrap(),
        eve.to_str().unwrap(),
    ])
    .into_iter()
    .filter(|r| r["rule_id"] == "anomaly:lookalike")
    .collect();
    let seen_in = |entity: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r["anomaly"]["entity"] == entity)
            .flat_map(|r| r["anomaly"]["features"].as_array().unwrap().iter())
            .filter_map(|f| f["id"].as_str())
            .filter(|id| id.starts_with("seen_in_"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        seen_in("googleadservices.com"),
        ["seen_in_certificate_san"],
        "{rows:#?}"
    );
    assert_eq!(
        seen_in("icloud.com"),
        ["seen_in_certificate_subject"],
        "{rows:#?}"
    );
    assert_eq!(
        seen_in("p33-btmmdns.icloud.com"),
        ["seen_in_tls_sni"],
        "{rows:#?}"
    );
    // The brand's own names raise nothing.
    assert!(seen_in("www.google.com").is_empty(), "{rows:#?}");
}
