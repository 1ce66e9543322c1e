//! `taishi hunt` and `taishi rules` end to end: the real binary on real
//! files, the SigmaHQ rules, and fixtures of our own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn taishi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taishi"))
        .args(args)
        .output()
        .expect("run taishi")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The SigmaHQ Windows rules (the hunt tests run on EVTX; the whole set
/// is loaded once, in `hunt_on_evtx_with_every_sigmahq_rule`).
fn windows_rules() -> Option<PathBuf> {
    taishi_testdata::path("sigma/rules/windows")
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// ISO 8601 with a zone: `2019-03-19T23:34:26.123+00:00` (or `Z`).
fn is_iso8601_with_zone(t: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(t).is_ok()
        && (t.ends_with('Z') || t[t.len().saturating_sub(6)..].starts_with(['+', '-']))
}

const COLUMNS: [&str; 10] = [
    "timestamp",
    "computer",
    "channel",
    "event_id",
    "rule",
    "level",
    "attack",
    "rule_id",
    "details",
    "source",
];

#[test]
fn hunt_on_evtx_with_every_sigmahq_rule() {
    let Some(rules) = taishi_testdata::path("sigma/rules") else {
        return;
    };
    let Some(evtx) = taishi_testdata::path("host-logs/windows-evtx/sysmon.evtx") else {
        return;
    };
    let out = taishi(&["hunt", "-r", s(&rules), "-f", "jsonl", s(&evtx)]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert!(!rows.is_empty());
    for r in &rows {
        for c in COLUMNS {
            assert!(r.get(c).is_some(), "column {c} in {r}");
        }
        let ts = r["timestamp"].as_str().unwrap_or_default();
        assert!(is_iso8601_with_zone(ts), "{ts}");
        assert_eq!(r["computer"], "DESKTOP-2KGM189");
        assert_eq!(r["channel"], "Microsoft-Windows-Sysmon/Operational");
        assert!(r["event_id"]
            .as_str()
            .is_some_and(|e| e.parse::<u32>().is_ok()));
        assert!(r["rule_id"].as_str().is_some_and(|id| id.len() == 36));
        assert!(r["source"]
            .as_str()
            .is_some_and(|p| p.ends_with("sysmon.evtx")));
        assert!(r["level"].is_string() && r["rule"].is_string() && r["details"].is_string());
    }
    // ATT&CK tags without the `attack.` prefix, as a list.
    assert!(rows.iter().any(|r| r["attack"].as_array().is_some_and(|a| a
        .iter()
        .any(|t| t.as_str().is_some_and(|t| t.starts_with('t'))))));
    // The summary goes to stderr.
    assert!(
        text(&out.stderr).contains("detections"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn hunt_timeline_as_table_csv_and_jsonl() {
    let Some(rules) = windows_rules() else { return };
    let Some(evtx) = taishi_testdata::path("host-logs/windows-evtx/new-user-security.evtx") else {
        return;
    };
    // Table: the header, then one line per detection (two rules fire on
    // the user creation: 4720 and 4728).
    let out = taishi(&["hunt", "-q", "-r", s(&rules), s(&evtx)]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, COLUMNS);
    assert!(table.contains("Local User Creation"), "{table}");
    assert!(table.contains("IE8Win7") && table.contains("Security"));
    assert!(table.contains("4720") && table.contains("t1136.001"));
    assert!(table.contains("new-user-security.evtx"));
    assert!(table.contains("2013-10-23T16:22:39.973+00:00"), "{table}");
    let detections = table.lines().filter(|l| l.contains("IE8Win7")).count();
    assert_eq!(detections, 2, "{table}");

    // CSV, written with --output: the header and the same detections.
    let dir = tempfile::tempdir().expect("tempdir");
    let csv_path = dir.path().join("timeline.csv");
    let out = taishi(&[
        "hunt",
        "-q",
        "-r",
        s(&rules),
        "--format",
        "csv",
        "--output",
        s(&csv_path),
        s(&evtx),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).trim().is_empty(),
        "the timeline goes to the file"
    );
    let csv = std::fs::read_to_string(&csv_path).expect("--output wrote the file");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(COLUMNS.join(",").as_str()));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let creation = rows
        .iter()
        .find(|r| r.contains("Local User Creation"))
        .expect("4720 row");
    let cells: Vec<&str> = creation.split(',').collect();
    assert!(is_iso8601_with_zone(cells[0]), "{creation}");
    assert_eq!(
        &cells[1..6],
        ["IE8Win7", "Security", "4720", "Local User Creation", "low"]
    );
    assert!(creation.contains("\"persistence,t1136.001\""), "{creation}");
    assert!(creation.contains("66b6be3d-55d0-4f47-9855-d69df21740ea"));
    assert!(creation.contains("TargetUserName: IEUser"));
    assert!(creation.ends_with("new-user-security.evtx"));

    // JSON lines.
    let out = taishi(&["hunt", "-q", "-r", s(&rules), "-f", "jsonl", s(&evtx)]);
    assert_eq!(out.status.code(), Some(3));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(rows.len(), 2);
    let r = rows
        .iter()
        .find(|r| r["event_id"] == "4720")
        .expect("4720 row");
    assert_eq!(r["rule"], "Local User Creation");
    assert_eq!(r["level"], "low");
    assert_eq!(r["computer"], "IE8Win7");
    assert_eq!(r["channel"], "Security");
    assert_eq!(r["rule_id"], "66b6be3d-55d0-4f47-9855-d69df21740ea");
    assert_eq!(r["attack"], serde_json::json!(["persistence", "t1136.001"]));
    assert_eq!(r["timestamp"], "2013-10-23T16:22:39.973+00:00");
}

#[test]
fn min_level_filters_detections() {
    let Some(rules) = windows_rules() else { return };
    let Some(evtx) = taishi_testdata::path("host-logs/windows-evtx/new-user-security.evtx") else {
        return;
    };
    // Both detections are `low`.
    let out = taishi(&[
        "hunt",
        "-r",
        s(&rules),
        "--min-level",
        "low",
        "-f",
        "csv",
        s(&evtx),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout).lines().count(), 3);
    let out = taishi(&[
        "hunt",
        "-r",
        s(&rules),
        "--min-level",
        "medium",
        "-f",
        "csv",
        s(&evtx),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        text(&out.stdout).lines().count() <= 1,
        "{}",
        text(&out.stdout)
    );
    // An unknown level is an error.
    let out = taishi(&["hunt", "-r", s(&rules), "--min-level", "severe", s(&evtx)]);
    assert_ne!(out.status.code(), Some(0));
    assert_ne!(out.status.code(), Some(3));
}

#[test]
fn exit_status_no_detections_and_errors() {
    let Some(evtx) = taishi_testdata::path("host-logs/windows-evtx/new-user-security.evtx") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = dir.path().join("quiet.yml");
    std::fs::write(
        &rule,
        "title: never\nid: 6f1d3c2a-0000-4000-8000-000000000001\nlevel: high\nlogsource:\n    product: windows\n    service: security\ndetection:\n    sel:\n        EventID: 4720\n        TargetUserName: 'no-such-user'\n    condition: sel\n",
    )
    .expect("write rule");
    // 0: nothing detected.
    let out = taishi(&["hunt", "-r", s(&rule), s(&evtx)]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(text(&out.stderr).contains("0 detections"), "{}", both(&out));
    // 1: a missing input.
    let missing = dir.path().join("missing.evtx");
    let out = taishi(&["hunt", "-r", s(&rule), s(&missing)]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(both(&out).contains("missing.evtx"), "{}", both(&out));
    // 1: a rule path that does not exist.
    let no_rules = dir.path().join("no-rules");
    let out = taishi(&["hunt", "-r", s(&no_rules), s(&evtx)]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(both(&out).contains("no-rules"), "{}", both(&out));
    // 1: an unknown timeline format.
    let out = taishi(&["hunt", "-r", s(&rule), "-f", "xml", s(&evtx)]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
}

#[test]
fn rules_check_lists_a_broken_rule_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("good.yml"),
        "title: good\nid: 6f1d3c2a-0000-4000-8000-000000000002\nlogsource:\n    product: linux\n    service: sshd\ndetection:\n    kw:\n        - 'Failed password'\n    condition: kw\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("broken.yml"),
        "title: broken\nid: 6f1d3c2a-0000-4000-8000-000000000003\nlogsource:\n    product: linux\n    service: sshd\ndetection:\n    kw:\n        - 'Failed password'\n    condition: kw and missing_search\n",
    )
    .expect("write");
    let out = taishi(&["rules", "check", s(dir.path())]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let all = both(&out);
    assert!(all.contains("broken.yml"), "{all}");
    assert!(
        all.contains("missing_search"),
        "the reason names the fault: {all}"
    );
    assert!(
        !all.contains("good.yml"),
        "only the broken rule is listed: {all}"
    );

    // Without the broken rule everything loads: exit 0.
    std::fs::remove_file(dir.path().join("broken.yml")).expect("rm");
    let out = taishi(&["rules", "check", s(dir.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn rules_test_runs_one_regression_folder() {
    let Some(case) = taishi_testdata::path(
        "sigma/regression_data/rules/windows/process_creation/proc_creation_win_curl_custom_user_agent",
    ) else {
        return;
    };
    let out = taishi(&["rules", "test", s(&case)]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(both(&out).contains("1 passed, 0 failed"), "{}", both(&out));
}

/// RFC 5424 sshd lines: six failed passwords from one address within two
/// minutes, two from another, one success.
fn brute_force_log() -> String {
    let mut s = String::new();
    for i in 0..6 {
        let t = i * 20;
        s.push_str(&format!(
            "<38>1 2026-03-01T08:{:02}:{:02}Z bastion sshd 900{i} - - Failed password for root from 198.51.100.7 port {} ssh2\n",
            t / 60,
            t % 60,
            40000 + i
        ));
    }
    for i in 0..2 {
        s.push_str(&format!(
            "<38>1 2026-03-01T08:02:{:02}Z bastion sshd 910{i} - - Failed password for invalid user admin from 203.0.113.50 port {} ssh2\n",
            i * 10,
            50000 + i
        ));
    }
    s.push_str("<38>1 2026-03-01T08:03:00Z bastion sshd 9200 - - Accepted password for alice from 192.0.2.10 port 51000 ssh2\n");
    s
}

#[test]
fn correlation_rule_fires_in_hunt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("auth.log");
    std::fs::write(&log, brute_force_log()).expect("write log");
    let rules = fixture("correlation");

    let out = taishi(&["hunt", "-r", s(&rules), "-f", "jsonl", s(&log)]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    // Eight base detections, through the taishi pipeline (linux/sshd).
    let base: Vec<_> = rows
        .iter()
        .filter(|r| r["rule"] == "SSH Failed Password")
        .collect();
    assert_eq!(base.len(), 8, "{}", text(&out.stdout));
    assert!(base
        .iter()
        .all(|r| r["attack"] == serde_json::json!(["credential-access", "t1110.001"])));
    // One correlation hit: 198.51.100.7 only (203.0.113.50 tried twice).
    let corr: Vec<_> = rows.iter().filter(|r| r["kind"] == "correlation").collect();
    assert_eq!(corr.len(), 1, "{}", text(&out.stdout));
    let c = corr[0];
    assert_eq!(c["title"], "SSH Brute Force From One Source");
    assert_eq!(c["type"], "event_count");
    assert_eq!(c["level"], "high");
    assert_eq!(c["group"]["source.ip"], "198.51.100.7");
    assert!(c["event_count"].as_u64().is_some_and(|n| n >= 5), "{c}");
    assert!(
        text(&out.stderr).contains("1 correlation hits"),
        "{}",
        both(&out)
    );

    // The table shows the correlation below the timeline.
    let out = taishi(&["hunt", "-q", "-r", s(&rules), s(&log)]);
    assert_eq!(out.status.code(), Some(3));
    let table = text(&out.stdout);
    assert!(table.contains("SSH Brute Force From One Source"), "{table}");
    assert!(table.contains("source.ip=198.51.100.7"), "{table}");
}

/// Issue 13 item 16: a folder of logs and other files. The files that are
/// not logs are summed up in one line (listed with --verbose), a file that
/// cannot be read is still an error of its own, and the table fits
/// `COLUMNS` while CSV stays whole.
#[test]
fn junk_files_are_summed_up_and_the_table_fits_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("auth.log"), brute_force_log()).unwrap();
    for i in 0..30 {
        let (name, body): (String, &[u8]) = if i % 2 == 0 {
            (
                format!("report-{i:02}.pdf"),
                b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n\x00\x01\x02\x03 obj stream\n",
            )
        } else {
            (
                format!("logo-{i:02}.png"),
                b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
            )
        };
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    // gzip magic, then garbage: a read error, not a "not a log".
    std::fs::write(
        dir.path().join("broken.log.gz"),
        b"\x1f\x8b\x08\x00garbage-garbage",
    )
    .unwrap();
    let rules = fixture("correlation");
    let run = |extra: &[&str], columns: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_taishi"));
        c.args(["hunt", "-r", s(&rules)])
            .args(extra)
            .arg(dir.path());
        match columns {
            Some(n) => c.env("COLUMNS", n),
            None => c.env_remove("COLUMNS"),
        };
        c.output().expect("run taishi")
    };

    let out = run(&[], Some("100"));
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let err = text(&out.stderr);
    let skip: Vec<&str> = err.lines().filter(|l| l.contains("not logs /")).collect();
    assert_eq!(skip.len(), 1, "{err}");
    assert!(
        skip[0].starts_with("skipped 30 files that are not logs"),
        "{err}"
    );
    assert!(
        skip[0].contains("logo-01.png, ") && skip[0].contains("…") && skip[0].contains("--verbose"),
        "{err}"
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("broken.log.gz"), "{err}");
    let table = text(&out.stdout);
    assert!(table.contains("SSH Failed Password"), "{table}");
    for line in table.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(table.contains('…'), "{table}");

    // --verbose lists every skipped file.
    let out = run(&["-q", "--verbose"], Some("100"));
    let err = text(&out.stderr);
    for i in 0..30 {
        assert!(err.contains(&format!("-{i:02}.")), "{i}: {err}");
    }

    // A pipe with no COLUMNS, and CSV, keep whole lines.
    let out = run(&["-q"], None);
    assert!(text(&out.stdout).lines().any(|l| l.chars().count() > 100));
    let out = run(&["-q", "-f", "csv"], Some("100"));
    assert!(text(&out.stdout).lines().any(|l| l.chars().count() > 100));
}
