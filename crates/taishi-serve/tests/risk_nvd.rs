//! NVD matching and merging/splitting assets by hand, against a running
//! server (issue 15).
//!
//! NVD: an inventory whose software matches saved NVD API 2.0 records (an
//! AND configuration of Python on a Windows platform, an AND node of two
//! Cisco products) is imported, then the records (a JSON array, then the
//! same gzip-compressed): the findings appear with their explanations; an
//! asset with only the platform, or Python without the platform, has none.
//! After a restart they are still there, a second import adds nothing, an
//! inventory change rematches that asset, and a record that no longer
//! applies fixes only the `nvd` finding.
//!
//! By hand: an asset split in two stays two after a restart, even when an
//! import links both halves again; another organisation gets 404; a merge by
//! hand joins them, with who, when and why kept.

mod common;

use std::io::Write;

use common::*;
use serde_json::{json, Value as J};

const PY_WIN: &str = "CVE-2022-26488";
const CISCO_AND: &str = "CVE-2021-1566";

const INVENTORY: &str = "ip,hostname,software\n\
10.9.0.1,py-win,cpe:2.3:a:python:python:3.9.5:*:*:*:*:*:*:*;cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*\n\
10.9.0.2,win-only,cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*\n\
10.9.0.3,py-linux,cpe:2.3:a:python:python:3.9.5:*:*:*:*:*:*:*;cpe:2.3:o:linux:linux_kernel:5.10:*:*:*:*:*:*:*\n\
10.9.0.4,esa,cpe:2.3:a:cisco:email_security_appliance:-:*:*:*:*:*:*:*;cpe:2.3:o:cisco:asyncos:13.0.0-020:*:*:*:*:*:*:*\n";

fn record(rel: &str) -> J {
    let bytes = taishi_testdata::read(rel).unwrap_or_else(|| {
        panic!("{rel}: not found (set TAISHI_TEST_DATA to the shared test data)")
    });
    serde_json::from_slice(&bytes).unwrap()
}

fn records() -> J {
    json!([
        record("vuln/nvd-extra/grype_CVE-2022-26488_platform-cpe.cve.json"),
        record("vuln/nvd-extra/grype_CVE-2021-1566_cisco-and-nodes.cve.json"),
    ])
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn asset_id(c: &Client, ip: &str) -> i64 {
    let (s, v) = c.get(&format!("/api/v1/assets?identity={ip}"));
    assert_eq!(s, 200, "{v}");
    v["items"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no asset {ip}: {v}"))
}

/// (CVE, asset id, status) of every `nvd` finding, sorted.
fn nvd_findings(c: &Client) -> Vec<(String, i64, String)> {
    let (s, v) = c.get("/api/v1/vulns?limit=500");
    assert_eq!(s, 200, "{v}");
    let mut out: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["scanners"] == "nvd")
        .map(|f| {
            (
                f["cve"].as_str().unwrap().to_string(),
                f["asset_id"].as_i64().unwrap(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn import_nvd(c: &Client, body: &[u8]) -> J {
    let (s, v) = c.post_raw(
        "/api/v1/vulns/feeds/nvd?name=nvd.json",
        "application/octet-stream",
        body,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["kind"], "nvd", "{v}");
    v
}

/// The explanation of the asset's finding of `cve`.
fn explanation(c: &Client, asset: i64, cve: &str) -> J {
    let (s, v) = c.get(&format!("/api/v1/assets/{asset}"));
    assert_eq!(s, 200, "{v}");
    v["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["nvd"]["cve"] == cve)
        .unwrap_or_else(|| panic!("no explanation of {cve} on {asset}: {v}"))["nvd"]
        .clone()
}

#[test]
fn nvd_records_match_the_register_with_explanations_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let rt1 = rt();
    let server = rt1.block_on(taishi_serve::start(cfg.clone())).unwrap();
    let admin = Client::login(server.http_addr, admin_password(&server));
    let v = import_inventory(&admin, INVENTORY);
    assert_eq!(v["created"], 4, "{v}");
    let [py_win, win_only, py_linux, esa] =
        ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4"].map(|ip| asset_id(&admin, ip));
    // No records yet: nothing matched.
    assert!(nvd_findings(&admin).is_empty());

    let v = import_nvd(&admin, &serde_json::to_vec(&records()).unwrap());
    assert_eq!(
        (
            &v["entries"],
            &v["added"],
            &v["findings"],
            &v["new_findings"]
        ),
        (&json!(2), &json!(2), &json!(2), &json!(2)),
        "{v}"
    );
    let expected = {
        let mut e = vec![
            (PY_WIN.to_string(), py_win, "open".to_string()),
            (CISCO_AND.to_string(), esa, "open".to_string()),
        ];
        e.sort();
        e
    };
    // The platform alone (win-only) and Python without its platform
    // (py-linux) are not vulnerable.
    let found = nvd_findings(&admin);
    assert_eq!(found, expected);
    assert!(!found
        .iter()
        .any(|(_, a, _)| *a == win_only || *a == py_linux));

    // Explanations: the configuration, the entries met, the comparisons.
    let e = explanation(&admin, py_win, PY_WIN);
    assert_eq!(e["operator"], "AND", "{e}");
    let entries = e["entries"].as_array().unwrap();
    let vulnerable = entries.iter().find(|x| x["vulnerable"] == true).unwrap();
    assert_eq!(
        vulnerable["asset_cpe"],
        "cpe:2.3:a:python:python:3.9.5:*:*:*:*:*:*:*"
    );
    let range = vulnerable["version"]["en"].as_str().unwrap();
    assert!(
        range.contains("3.9.5") && range.contains("3.9.0") && range.contains("3.9.10"),
        "{range}"
    );
    assert!(!vulnerable["version"]["zh"].as_str().unwrap().is_empty());
    let platform = entries.iter().find(|x| x["vulnerable"] == false).unwrap();
    assert_eq!(
        platform["criteria"],
        "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*"
    );
    assert!(e["text"]["zh"].as_str().unwrap().contains(PY_WIN), "{e}");
    assert!(e["text"]["en"].as_str().unwrap().contains(PY_WIN), "{e}");
    // The AND node: both Cisco entries are vulnerable and both were met.
    let e = explanation(&admin, esa, CISCO_AND);
    let met: Vec<&str> = e["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["vulnerable"] == true)
        .map(|x| x["asset_cpe"].as_str().unwrap())
        .collect();
    assert_eq!(met.len(), 2, "{e}");
    assert!(e["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["node"] == 0));

    // A restart: the findings, their explanations and the records stay.
    rt1.block_on(server.shutdown()).unwrap();
    drop(rt1);
    let rt2 = rt();
    let server = rt2.block_on(taishi_serve::start(cfg)).unwrap();
    let admin = Client::login(server.http_addr, admin_password(&server));
    assert_eq!(nvd_findings(&admin), expected);
    assert_eq!(explanation(&admin, esa, CISCO_AND)["operator"], "OR");

    // The same records again, gzip-compressed: no duplicates.
    let v = import_nvd(&admin, &gzip(&serde_json::to_vec(&records()).unwrap()));
    assert_eq!(
        (&v["added"], &v["changed"], &v["new_findings"], &v["fixed"]),
        (&json!(0), &json!(2), &json!(0), &json!(0)),
        "{v}"
    );
    assert_eq!(nvd_findings(&admin), expected);

    // A software change rematches that asset (the records are read back
    // from the state after the restart): py-linux now runs on Windows.
    let (s, v) = admin.post_raw(
        "/api/v1/assets?format=csv&name=change.csv",
        "text/csv",
        b"ip,software\n10.9.0.3,cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*\n",
    );
    assert_eq!(s, 200, "{v}");
    assert!(nvd_findings(&admin).contains(&(PY_WIN.to_string(), py_linux, "open".to_string())));

    // NVD revises CVE-2021-1566 so that it no longer names the email
    // appliance: that `nvd` finding becomes fixed, the others stay.
    let mut revised = record("vuln/nvd-extra/grype_CVE-2021-1566_cisco-and-nodes.cve.json");
    let cve = if revised.get("cve").is_some() {
        &mut revised["cve"]
    } else {
        &mut revised
    };
    let confs: Vec<J> = cve["configurations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c.to_string().contains("email_security_appliance"))
        .cloned()
        .collect();
    cve["configurations"] = json!(confs);
    let v = import_nvd(&admin, &serde_json::to_vec(&revised).unwrap());
    assert_eq!(
        (&v["fixed"], &v["new_findings"]),
        (&json!(1), &json!(0)),
        "{v}"
    );
    let found = nvd_findings(&admin);
    assert!(
        found.contains(&(CISCO_AND.to_string(), esa, "fixed".to_string())),
        "{found:?}"
    );
    assert!(
        found.contains(&(PY_WIN.to_string(), py_win, "open".to_string())),
        "{found:?}"
    );
    rt2.block_on(server.shutdown()).unwrap();
}

#[test]
fn a_split_pair_never_merges_again_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let rt1 = rt();
    let server = rt1.block_on(taishi_serve::start(cfg.clone())).unwrap();
    let addr = server.http_addr;
    let admin = Client::login(addr, admin_password(&server));
    let row = b"ip,mac,fqdn\n10.8.0.1,00:11:22:33:44:55,a.corp.local\n";
    let (s, v) = admin.post_raw("/api/v1/assets?format=csv&name=one.csv", "text/csv", row);
    assert_eq!(s, 200, "{v}");
    let x = asset_id(&admin, "10.8.0.1");

    // Another organisation's analyst: the asset is not there for it.
    let (s, b) = admin.post("/api/v1/orgs", &json!({"id": "op-b", "name": "B 乙"}));
    assert_eq!(s, 200, "{b}");
    let (s, t) = admin.post(
        "/api/v1/tokens",
        &json!({"name": "b", "roles": ["analyst"], "org": "op-b"}),
    );
    assert_eq!(s, 200, "{t}");
    let mut other = Client::new(addr);
    other.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
    let split = json!({"identities": ["fqdn:a.corp.local"], "reason": "两台机器共用了一个域名 / two machines"});
    let (s, b) = other.post(&format!("/api/v1/assets/{x}/split"), &split);
    assert_eq!(s, 404, "{b}");
    let (s, b) = other.post(
        &format!("/api/v1/assets/{x}/merge"),
        &json!({"other": x, "reason": "no"}),
    );
    assert_eq!(s, 404, "{b}");
    // A viewer may not.
    let (s, t) = admin.post(
        "/api/v1/tokens",
        &json!({"name": "v", "roles": ["viewer"], "org": "root"}),
    );
    assert_eq!(s, 200, "{t}");
    let mut viewer = Client::new(addr);
    viewer.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
    let (s, b) = viewer.post(&format!("/api/v1/assets/{x}/split"), &split);
    assert_eq!(s, 403, "{b}");
    // A reason is required.
    let (s, b) = admin.post(
        &format!("/api/v1/assets/{x}/split"),
        &json!({"identities": ["fqdn:a.corp.local"], "reason": " "}),
    );
    assert_eq!(s, 400, "{b}");

    let (s, c) = admin.post(&format!("/api/v1/assets/{x}/split"), &split);
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        (&c["change"], &c["asset_id"], &c["by"]),
        (&json!("split"), &json!(x), &json!("admin"))
    );
    let y = c["other_id"].as_i64().unwrap();
    assert_eq!(asset_id(&admin, "a.corp.local"), y);
    assert_eq!(asset_id(&admin, "10.8.0.1"), x);

    rt1.block_on(server.shutdown()).unwrap();
    drop(rt1);
    let rt2 = rt();
    let server = rt2.block_on(taishi_serve::start(cfg)).unwrap();
    let admin = Client::login(server.http_addr, admin_password(&server));
    // The same row again links both halves (the MAC and the FQDN): they
    // stay two assets.
    let (s, v) = admin.post_raw("/api/v1/assets?format=csv&name=again.csv", "text/csv", row);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["merged"], 0, "{v}");
    let (s, v) = admin.get("/api/v1/assets?limit=50");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 2, "{v}");
    assert_eq!(asset_id(&admin, "a.corp.local"), y);

    // Merged by hand: one asset, both changes kept with who and why.
    let (s, c) = admin.post(
        &format!("/api/v1/assets/{x}/merge"),
        &json!({"other": y, "reason": "同一台机器 / the same machine after all"}),
    );
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["change"], "merge");
    let (s, v) = admin.get("/api/v1/assets?limit=50");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(asset_id(&admin, "a.corp.local"), x);
    let (s, v) = admin.get(&format!("/api/v1/assets/{x}"));
    assert_eq!(s, 200, "{v}");
    let changes: Vec<(&str, &str, &str)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap(),
                c["by"].as_str().unwrap(),
                c["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("merge", "admin", "同一台机器 / the same machine after all"),
            ("split", "admin", "两台机器共用了一个域名 / two machines"),
        ]
    );
    rt2.block_on(server.shutdown()).unwrap();
}
