//! One engine (issue 11): `taishi hunt` and `taishi serve` raise the same
//! alerts for the same input, and an alert survives a `kill -9` that lands
//! between its events' commit and its insert, stored exactly once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value as J};

use crate::harness::*;

/// A correlation over a rule that fires in `sysmon.evtx`, so the
/// comparison covers correlations too (no `id`: it is keyed by file and
/// title, the case that used to lose its hit counts).
const CORRELATION: &str = r#"
title: Many Sysmon process creations on one host
status: test
level: medium
correlation:
  type: event_count
  rules:
    - taishi-equivalence-any-process
  group-by:
    - Computer
  timespan: 1h
  condition:
    gte: 3
---
title: Any Sysmon process creation
name: taishi-equivalence-any-process
status: test
level: low
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    EventID: 1
  condition: selection
"#;

/// Rule key → number of alerts.
type Counts = BTreeMap<String, u64>;

fn hunt_counts(rules: &[PathBuf], evtx: &PathBuf) -> Counts {
    let mut cmd = Command::new(taishi_bin());
    cmd.args(["hunt", "-q", "-f", "jsonl"]);
    for r in rules {
        cmd.arg("-r").arg(r);
    }
    let out = cmd.arg(evtx).output().expect("run taishi hunt");
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "hunt failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut counts = Counts::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: J = serde_json::from_str(line).expect("a JSON line");
        let key = v["rule_id"].as_str().unwrap_or_default().to_string();
        *counts.entry(key).or_default() += 1;
    }
    counts
}

fn serve_counts(c: &Client, expect: u64) -> Counts {
    let mut counts = Counts::new();
    let done = wait_until(60, || {
        let (st, b) = c.get("/api/v1/alerts/groups?by=rule&from=2000-01-01T00:00:00Z&limit=1000");
        assert_eq!(st, 200, "{b}");
        counts = b["items"]
            .as_array()
            .into_iter()
            .flatten()
            // The hostile suite's own marker rule is not part of the input.
            .filter(|g| g["key"] != "5f1c2d9e-7d4f-4c4b-9a57-00000000beef")
            .map(|g| {
                (
                    g["key"].as_str().unwrap_or_default().to_string(),
                    g["count"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        counts.values().sum::<u64>() >= expect
    });
    assert!(done, "serve raised {counts:?}, hunt {expect} alerts");
    counts
}

#[test]
fn hunt_and_serve_raise_the_same_alerts() {
    let (Some(windows), Some(evtx)) = (
        taishi_testdata::path("sigma/rules/windows/process_creation"),
        taishi_testdata::path("host-logs/windows-evtx/sysmon.evtx"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let corr = dir.path().join("correlation.yml");
    std::fs::write(&corr, CORRELATION).unwrap();
    let rules = vec![windows, corr.clone()];
    let hunted = hunt_counts(&rules, &evtx);
    let total: u64 = hunted.values().sum();
    assert!(
        hunted.len() >= 2,
        "hunt found too little to compare: {hunted:?}"
    );
    let corr_key = format!(
        "{}#Many Sysmon process creations on one host",
        corr.display()
    );
    assert!(
        hunted.contains_key(&corr_key),
        "no correlation in {hunted:?}"
    );

    let mut s = Server::start(Opts {
        rules: rules.clone(),
        ..Opts::default()
    });
    let admin = s.admin();
    let body = std::fs::read(&evtx).unwrap();
    let (st, b) = admin.post_raw(
        "/api/v1/ingest?format=evtx",
        "application/octet-stream",
        &body,
    );
    assert_eq!(st, 200, "{b}");
    // The correlation's hits are counted under the key its alerts carry
    // (health is kept in memory: read it before the restart).
    let corr_info = || {
        let (_, r) = admin.get("/api/v1/rules?q=Many%20Sysmon");
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == json!(corr_key))
            .cloned()
            .unwrap_or(J::Null)
    };
    assert!(
        wait_until(60, || corr_info()["health"]["last_hit"].is_string()),
        "correlation rule has no last hit: {}",
        corr_info()
    );
    // A stream never ends, so a service decides the correlation windows
    // still open when it stops (a hunt does at the end of its files).
    s.restart_within(Duration::from_secs(30));
    let admin = s.admin();
    let served = serve_counts(&admin, total);
    assert_eq!(served, hunted, "serve (left) and hunt (right) disagree");
}

fn marker_alerts(c: &Client) -> u64 {
    let (st, b) =
        c.get("/api/v1/alerts?from=now-1d&rule_id=5f1c2d9e-7d4f-4c4b-9a57-00000000beef&limit=100");
    assert_eq!(st, 200, "{b}");
    b["total"].as_u64().unwrap_or(0)
}

#[test]
fn an_alert_survives_kill_9_between_event_commit_and_alert_insert_exactly_once() {
    let mut s = Server::start(Opts {
        failpoint: Some("alerts-before-insert"),
        ..Opts::default()
    });
    let body = ndjson(&[sysmon(1, "powershell taishi-hostile-marker", None)]);
    // The request never gets its answer: the server stops at the failpoint.
    let sender_client = s.admin();
    let sender = std::thread::spawn(move || {
        sender_client.post_raw("/api/v1/ingest", "application/x-ndjson", &body)
    });
    assert!(
        wait_until(30, || s
            .stderr_tail()
            .contains("failpoint alerts-before-insert reached")),
        "the failpoint was not reached:\n{}",
        s.stderr_tail()
    );
    s.kill9();
    let _ = sender.join();

    s.restart();
    let admin = s.admin();
    // The event committed before the kill, so it is there …
    assert!(wait_until(20, || count(
        &admin,
        "CommandLine:*taishi-hostile-marker*",
        "now-1d"
    ) == 1));
    // … and so is its alert, once.
    assert_eq!(marker_alerts(&admin), 1);
    assert!(s.metric(&admin, "taishi_pipeline_alerts_recovered_total") >= 1.0);
    // A second restart does not store it again.
    s.restart_within(Duration::from_secs(20));
    let admin = s.admin();
    assert_eq!(marker_alerts(&admin), 1);
}
