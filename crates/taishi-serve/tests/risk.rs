//! Risk assessment against a running server (issue 15): an asset inventory
//! imported, a scanner report imported (Nmap with vulners), the real CISA
//! KEV catalog imported (nothing of ours in it: no warning), then a KEV
//! entry that matches the scan's CVE arrives and the 红 warning reaches a
//! webhook receiver the test runs; an attack alert on the asset (a Sigma
//! rule fires on an event of that host) raises its score and the factors
//! say why. Every stored score recomputes from its stored factors.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value as J};
use taishi_risk::RiskScore;

const EXPLOIT_RULE: &str = r#"
title: Exploitation of a public-facing service (taishi risk test)
id: 0b5c2d9e-7d4f-4c4b-9a57-000000000015
status: test
level: critical
tags:
  - attack.initial_access
  - attack.t1190
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    CommandLine|contains: 'taishi-risk-exploit'
  condition: selection
"#;

const INVENTORY: &str = "IP地址,主机名,资产名称,业务系统,重要性,关基,等保级别,暴露端口,负责人\n\
192.168.0.1,web-risk01,网上营业厅前置机,网上营业厅,关键,是,3,tcp/5022,张三\n\
192.168.0.9,db-risk09,营业厅数据库,网上营业厅,重要,否,3,,李四\n";

fn data(rel: &str) -> Vec<u8> {
    taishi_testdata::read(rel).unwrap_or_else(|| {
        panic!("{rel}: not found (set TAISHI_TEST_DATA to the shared test data)")
    })
}

struct Setup {
    _dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
    server: taishi_serve::Server,
    admin: Client,
    hooks: Arc<Mutex<Vec<String>>>,
    asset: i64,
}

/// A server with the webhook output and the exploit rule, the inventory
/// and the Nmap scan imported.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (url, hooks) = webhook_receiver();
    let mut cfg = config(dir.path());
    std::fs::write(dir.path().join("rules").join("exploit.yml"), EXPLOIT_RULE).unwrap();
    cfg.alerts = toml::from_str(&format!(
        "group_window = \"0s\"\nsuppress = \"0s\"\n[[outputs]]\ntype = \"webhook\"\nurl = \"{url}\"\n"
    ))
    .unwrap();
    cfg.egress.allow_private = true;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let admin = Client::login(server.http_addr, admin_password(&server));

    let v = import_inventory(&admin, INVENTORY);
    assert_eq!(
        (v["records"].as_u64(), v["created"].as_u64()),
        (Some(2), Some(2)),
        "{v}"
    );
    assert!(v["rejects"].as_array().unwrap().is_empty(), "{v}");
    let (s, v) = admin.get("/api/v1/assets?identity=192.168.0.1");
    assert_eq!(s, 200, "{v}");
    let asset = v["items"][0]["id"].as_i64().unwrap();
    assert_eq!(v["items"][0]["business_system"], "网上营业厅");
    assert_eq!(v["items"][0]["exposed_ports"], 1);
    // What the console's list shows beside the row: identities, 等保 level.
    assert!(
        v["items"][0]["identities"]
            .as_array()
            .unwrap()
            .contains(&json!("ip:192.168.0.1")),
        "{v}"
    );
    assert_eq!(v["items"][0]["dengbao"], 3, "{v}");
    assert_eq!(v["items"][0]["open_findings"], 0, "{v}");

    let (s, v) = admin.post_raw(
        "/api/v1/vulns/import?name=ssh.xml",
        "application/xml",
        &data("vuln/scanners/nmap/defectdojo_sV_vulners_ssh.xml"),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["scanner"], "nmap");
    assert_eq!(
        (v["findings"].as_u64(), v["new"].as_u64()),
        (Some(2), Some(2)),
        "{v}"
    );
    // The findings are on the inventory's asset. (The 2020 sample's host
    // is also registered on its own: an IP seen years apart is not merged,
    // see taishi-asset's MergePolicy::ip_window.)
    assert!(
        v["assets"].as_array().unwrap().contains(&json!(asset)),
        "{v}"
    );
    Setup {
        _dir: dir,
        _rt: rt,
        server,
        admin,
        hooks,
        asset,
    }
}

fn asset_view(c: &Client, id: i64) -> J {
    let (s, v) = c.get(&format!("/api/v1/assets/{id}"));
    assert_eq!(s, 200, "{v}");
    v
}

fn factor<'a>(score: &'a J, key: &str) -> &'a J {
    score["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no factor {key} in {score}"))
}

/// An event of the asset's host that fires the exploit rule.
fn exploit_event() -> J {
    let mut e = sysmon_event(1, false);
    e["@timestamp"] = json!(chrono::Utc::now().to_rfc3339());
    e["Computer"] = json!("web-risk01.corp.example");
    e["CommandLine"] = json!("sshd-exploit taishi-risk-exploit CVE-2018-15919 192.168.0.1:5022");
    e
}

#[test]
fn kev_entry_warns_through_the_webhook_and_an_attack_raises_the_score() {
    // `_dir` and `_rt` bound (not `..`): dropping the runtime stops the server.
    let Setup {
        _dir,
        _rt,
        server,
        admin,
        hooks,
        asset,
    } = setup();

    // The findings, KEV first (none yet), each with its priority.
    let (s, v) = admin.get(&format!("/api/v1/vulns?asset={asset}"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 2, "{v}");
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["kev"] == false));
    // Each with what the console's list shows beside it: the asset's name
    // and the priority in one line.
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["asset_name"] == "网上营业厅前置机"
                && f["summary"]["en"].as_str().unwrap().contains("priority")
                && f["ransomware"] == false),
        "{v}"
    );
    let (_, v) = admin.get("/api/v1/assets?identity=192.168.0.1");
    assert_eq!(v["items"][0]["open_findings"], 2, "{v}");
    let before = asset_view(&admin, asset);
    // The asset's page lists its findings as the vulnerability list does.
    assert_eq!(before["findings"][0]["asset_name"], "网上营业厅前置机");
    assert!(
        before["findings"][0]["summary"]["zh"].is_string(),
        "{before}"
    );
    let s0 = before["history"][0]["factors"].clone();
    assert_eq!(factor(&s0, "vulns")["items"].as_array().unwrap().len(), 2);

    // The real catalog: nothing of ours in it, no warning.
    let (s, v) = admin.post_raw(
        "/api/v1/vulns/feeds/kev?name=known_exploited_vulnerabilities.json",
        "application/json",
        &data("vuln/kev/known_exploited_vulnerabilities.json"),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["entries"], 1404);
    assert!(v["warnings"].as_array().unwrap().is_empty(), "{v}");

    // A new KEV entry naming the scan's CVE: a red warning (exposed, CII).
    let (s, v) = admin.post_raw(
        "/api/v1/vulns/feeds/kev?name=kev-2026-12-06.json",
        "application/json",
        &kev_file("CVE-2018-15919", false),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["added"].as_u64(), v["findings"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    let w = &v["warnings"][0];
    assert_eq!(w["level"], "red", "{v}");
    assert_eq!(w["dedup_key"], format!("kev:{asset}:CVE-2018-15919"));
    // The same file again: deduplicated.
    let (_, again) = admin.post_raw(
        "/api/v1/vulns/feeds/kev?name=kev-2026-12-06.json",
        "application/json",
        &kev_file("CVE-2018-15919", false),
    );
    assert!(again["warnings"].as_array().unwrap().is_empty(), "{again}");

    // It reaches the webhook: level, CVE, text and action in both languages.
    assert!(
        wait_until(20, || hooks
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains("risk:kev_match"))),
        "no warning at the webhook: {:?}",
        hooks.lock().unwrap()
    );
    let body: J = hooks
        .lock()
        .unwrap()
        .iter()
        .find(|b| b.contains("risk:kev_match"))
        .map(|b| serde_json::from_str(b).unwrap())
        .unwrap();
    assert_eq!(body["level"], "critical", "{body}");
    let a = &body["alerts"][0];
    assert_eq!(a["kind"], "warning");
    assert!(
        a["rule_title_zh"].as_str().unwrap().starts_with("红色预警"),
        "{a}"
    );
    assert_eq!(a["summary"]["vulnerability.id"], "CVE-2018-15919");
    assert!(a["summary"]["action"]
        .as_str()
        .unwrap()
        .contains("CVE-2018-15919"));
    assert!(a["summary"]["action_en"]
        .as_str()
        .unwrap()
        .contains("patch"));
    assert_eq!(a["host"], "网上营业厅前置机");

    // KEV first in the list now, with a shorter deadline; the warnings page.
    let (_, v) = admin.get("/api/v1/vulns?kev=true");
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["items"][0]["cve"], "CVE-2018-15919");
    assert_eq!(v["items"][0]["decision"], "immediate", "{v}");
    let (_, v) = admin.get("/api/v1/risk/warnings?level=orange");
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["items"][0]["warning"]["kind"], "kev_match");
    assert!(!v["items"][0]["warning"]["action"]["zh"]
        .as_str()
        .unwrap()
        .is_empty());
    let kev_score = asset_view(&admin, asset)["history"][0]["score"]
        .as_f64()
        .unwrap();
    assert!(
        kev_score > s0["score"].as_f64().unwrap(),
        "KEV raised the priority"
    );

    // The attack: a Sigma rule fires on an event of the asset's host.
    let (s, b) = admin.post_raw(
        "/api/v1/ingest",
        "application/x-ndjson",
        &ndjson(&[exploit_event()]),
    );
    assert_eq!(s, 200, "{b}");
    assert!(wait_until(30, || {
        server.app.risk.flush();
        !asset_view(&admin, asset)["alerts"]
            .as_array()
            .unwrap()
            .is_empty()
    }));
    server.app.risk.flush();
    let after = asset_view(&admin, asset);
    let latest = &after["history"][0];
    assert!(
        latest["reason"].as_str().unwrap().starts_with("alert "),
        "{latest}"
    );
    let score = latest["score"].as_f64().unwrap();
    assert!(score > kev_score, "{score} > {kev_score}");
    let attacks = factor(&latest["factors"], "attacks");
    assert!(attacks["input"].as_f64().unwrap() > 0.0, "{attacks}");
    let why = &attacks["items"][0]["text"];
    assert!(
        why["en"]
            .as_str()
            .unwrap()
            .contains("Exploitation of a public-facing service")
            && why["en"].as_str().unwrap().contains("critical"),
        "{why}"
    );
    assert!(why["zh"].as_str().unwrap().contains("告警"), "{why}");
    assert!(
        attacks["text"]["zh"].as_str().unwrap().contains("1 次"),
        "{attacks}"
    );
    // The alert names the CVE the asset carries: a red attack warning too.
    let (_, v) = admin.get(&format!("/api/v1/risk/warnings?asset={asset}"));
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["warning"]["kind"] == "attack_on_vulnerable"
                && w["warning"]["level"] == "red"),
        "{v}"
    );

    // The ranking: organisation → business system → asset, with factors.
    let (s, v) = admin.get("/api/v1/risk");
    assert_eq!(s, 200, "{v}");
    let sys = &v["orgs"][0]["systems"][0];
    assert_eq!(sys["name"], "网上营业厅", "{v}");
    assert_eq!(sys["assets_total"], 2);
    assert_eq!(sys["assets"][0]["id"], asset);
    assert_eq!(sys["assets"][0]["score"]["score"].as_f64(), Some(score));
    assert!(v["orgs"][0]["score"]["score"].as_f64().unwrap() > 0.0);

    // Remediation: accepted needs an approver and an expiry.
    let fid = after["findings"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = admin.post(
        &format!("/api/v1/vulns/{fid}/status"),
        &json!({"status": "accepted"}),
    );
    assert_eq!(s, 400);
    let (s, v) = admin.post(
        &format!("/api/v1/vulns/{fid}/status"),
        &json!({"status": "in_progress"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "in_progress");

    // A viewer reads, does not import.
    let (s, u) = admin.post(
        "/api/v1/users",
        &json!({"username": "vera", "password": "Lantern-orchid-71", "roles": ["viewer"]}),
    );
    assert_eq!(s, 200, "{u}");
    let vera = Client::login_as(server.http_addr, "vera", "Lantern-orchid-71", None);
    assert_eq!(vera.get("/api/v1/risk").0, 200);
    assert_eq!(
        vera.post_raw(
            "/api/v1/assets?format=csv",
            "text/csv",
            INVENTORY.as_bytes()
        )
        .0,
        403
    );
}

#[test]
fn every_stored_score_recomputes_from_its_factors() {
    let Setup {
        _dir,
        _rt,
        server,
        admin,
        asset,
        ..
    } = setup();
    let (s, _) = admin.post_raw(
        "/api/v1/vulns/feeds/kev?name=kev.json",
        "application/json",
        &kev_file("CVE-2017-15906", false),
    );
    assert_eq!(s, 200);
    let (s, _) = admin.post_raw(
        "/api/v1/ingest",
        "application/x-ndjson",
        &ndjson(&[exploit_event()]),
    );
    assert_eq!(s, 200);
    assert!(wait_until(30, || {
        server.app.risk.flush();
        !asset_view(&admin, asset)["alerts"]
            .as_array()
            .unwrap()
            .is_empty()
    }));
    let rows = server
        .app
        .state
        .all_scores(&taishi_serve::state::Scope::All, 100_000)
        .unwrap();
    // import (2 assets), scan, feed, alert.
    assert!(rows.len() >= 5, "{}", rows.len());
    for r in &rows {
        let f: RiskScore = serde_json::from_str(&r.factors).unwrap();
        assert_eq!(f.recompute(), r.score, "asset {} at {}", r.asset_id, r.at);
        assert_eq!(f.score, r.score);
    }
    // And through the API, as a client would.
    for h in asset_view(&admin, asset)["history"].as_array().unwrap() {
        let f: RiskScore = serde_json::from_value(h["factors"].clone()).unwrap();
        assert_eq!(f.recompute(), h["score"].as_f64().unwrap());
    }
}

/// Remediation deadlines (issue 15: "Overdue findings warn"): with the
/// server's check looking past the findings' deadlines, each overdue
/// finding warns once, through the webhook too; an accepted risk whose
/// expiry passed warns; a finding fixed in time never does.
#[test]
fn overdue_findings_and_expired_acceptances_warn_once() {
    let Setup {
        _dir,
        _rt,
        server,
        admin,
        hooks,
        asset,
    } = setup();
    let (_, v) = admin.get(&format!("/api/v1/vulns?asset={asset}"));
    let items = v["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{v}");
    let risk = &server.app.risk;
    // Today nothing is overdue.
    assert_eq!(risk.check_overdue(chrono::Utc::now()).unwrap().raised, 0);

    // One finding accepted until yesterday (written in +08:00: kept in UTC),
    // the other fixed.
    let (accepted, fixed) = (
        items[0]["id"].as_str().unwrap(),
        items[1]["id"].as_str().unwrap(),
    );
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .to_rfc3339();
    let (s, row) = admin.post(
        &format!("/api/v1/vulns/{accepted}/status"),
        &json!({"status": "accepted", "approver": "张三", "until": yesterday}),
    );
    assert_eq!(s, 200, "{row}");
    assert!(
        row["accepted_until"].as_str().unwrap().ends_with('Z'),
        "{row}"
    );
    let r = risk.check_overdue(chrono::Utc::now()).unwrap();
    assert_eq!(r.raised, 1, "the expired acceptance: {r:?}");

    // A year on: the other finding is past its deadline too; fixed, it is not.
    let later = chrono::Utc::now() + chrono::Duration::days(400);
    let (s, row) = admin.post(
        &format!("/api/v1/vulns/{fixed}/status"),
        &json!({"status": "fixed"}),
    );
    assert_eq!(s, 200, "{row}");
    assert_eq!(
        risk.check_overdue(later).unwrap().raised,
        0,
        "already warned, or fixed"
    );
    let (s, row) = admin.post(
        &format!("/api/v1/vulns/{fixed}/status"),
        &json!({"status": "open"}),
    );
    assert_eq!(s, 200, "{row}");
    assert_eq!(
        risk.check_overdue(later).unwrap().raised,
        1,
        "reopened and overdue"
    );
    assert_eq!(risk.check_overdue(later).unwrap().raised, 0, "once");

    let (_, w) = admin.get("/api/v1/risk/warnings?limit=50");
    let overdue: Vec<&J> = w["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["warning"])
        .filter(|x| x["kind"] == "remediation_overdue")
        .collect();
    assert_eq!(overdue.len(), 2, "{w:#}");
    for x in &overdue {
        // The CII asset exposed to the outside: at least 黄.
        assert!(
            matches!(x["level"].as_str(), Some("yellow" | "orange")),
            "{x:#}"
        );
        assert!(
            x["title"]["zh"].as_str().unwrap().contains("逾期未修复"),
            "{x:#}"
        );
    }
    assert!(
        wait_until(20, || hooks
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b.contains("risk:remediation_overdue"))
            .count()
            >= 2),
        "{:?}",
        hooks.lock().unwrap()
    );
}

/// CNVD/CNNVD ids (issue 15: "CNVD/CNNVD ids where present"): a domestic
/// scanner's CSV export with a CNVD column shows them on the finding.
#[test]
fn cnvd_ids_of_a_domestic_scan_show_on_the_finding() {
    let Setup {
        _dir, _rt, admin, ..
    } = setup();
    let csv = "IP地址,端口,CVE编号,CNVD编号,漏洞名称,风险等级\n\
               192.168.0.9,8080,CVE-2020-1938,CNVD-2020-10487,Apache Tomcat 文件包含漏洞,高危\n";
    let (s, v) = admin.post_raw(
        "/api/v1/vulns/import?name=rsas.csv",
        "text/csv",
        csv.as_bytes(),
    );
    assert_eq!(s, 200, "{v}");
    let (_, v) = admin.get("/api/v1/vulns?cve=CVE-2020-1938");
    assert_eq!(v["items"][0]["cn_ids"], json!(["CNVD-2020-10487"]), "{v:#}");
}

/// A KEV entry that arrived before the scan that finds it on an asset:
/// the scan's new finding warns as the KEV entry would have (issue 15's
/// "a new KEV entry … that matches an asset"), once: importing the
/// catalogue again raises nothing more.
#[test]
fn a_scan_finding_a_cve_already_in_kev_warns_once() {
    let Setup {
        _dir,
        _rt,
        admin,
        asset,
        ..
    } = setup();
    let (s, v) = admin.post_raw(
        "/api/v1/vulns/feeds/kev?name=kev.json",
        "application/json",
        &kev_file("CVE-2024-3094", false),
    );
    assert_eq!(s, 200, "{v}");
    assert!(
        v["warnings"].as_array().unwrap().is_empty(),
        "no finding yet: {v}"
    );
    let csv = "IP,Port,Protocol,CVE,Name,Severity\n192.168.0.1,5022,tcp,CVE-2024-3094,XZ Utils backdoor,Critical\n";
    let (s, v) = admin.post_raw(
        "/api/v1/vulns/import?name=xz.csv",
        "text/csv",
        csv.as_bytes(),
    );
    assert_eq!(s, 200, "{v}");
    let w = &v["warnings"];
    assert_eq!(w.as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(w[0]["level"], "red", "an exposed CII asset: {v:#}");
    assert_eq!(w[0]["dedup_key"], format!("kev:{asset}:CVE-2024-3094"));
    let (_, again) = admin.post_raw(
        "/api/v1/vulns/feeds/kev?name=kev.json",
        "application/json",
        &kev_file("CVE-2024-3094", false),
    );
    assert!(again["warnings"].as_array().unwrap().is_empty(), "{again}");
}
