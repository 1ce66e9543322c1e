//! Response actions and evidence on an incident, against a running server
//! (issue 14): the observables as block lists in every format (audited), a
//! webhook post to a configured receiver (and one the egress guard
//! refuses), and evidence files stored with their SHA-256, listed, verified
//! on download, and refused by name once tampered with.

mod common;

use common::*;
use serde_json::{json, Value as J};

const PW: &str = "Lantern-orchid-71";

fn act(c: &Client, id: &str, body: J) -> J {
    let (s, v) = c.post(&format!("/api/v1/incidents/{id}/actions"), &body);
    assert_eq!(s, 200, "{body}: {v}");
    v
}

/// One incident from one alert of the test rule.
fn an_incident(server: &taishi_serve::Server, root: &Client, admin: &Client) -> String {
    let (s, t) = root.post(
        "/api/v1/tokens",
        &json!({"name": "ingest", "roles": ["analyst"]}),
    );
    assert_eq!(s, 200, "{t}");
    let mut sender = Client::new(server.http_addr);
    sender.auth = format!("Bearer {}", t["secret"].as_str().unwrap());
    let (s, b) = sender.post_raw(
        "/api/v1/ingest",
        "application/x-ndjson",
        &ndjson(&[sysmon_event(1, true)]),
    );
    assert_eq!(s, 200, "{b}");
    let mut id = None;
    assert!(wait_until(30, || {
        server.app.grouping.flush();
        let (_, page) = admin.get("/api/v1/incidents?status=open");
        id = page["items"][0]["id"].as_str().map(str::to_string);
        id.is_some()
    }));
    id.unwrap()
}

fn audit_has(auditor: &Client, action: &str) -> bool {
    let (s, v) = auditor.get(&format!("/api/v1/audit?action={action}"));
    assert_eq!(s, 200, "{v}");
    v["items"].as_array().is_some_and(|a| !a.is_empty())
}

#[test]
fn block_lists_webhook_and_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    let (url, got) = webhook_receiver();
    // The receiver is on loopback: allowed by name; a second target on
    // another loopback address is not, and the guard refuses it.
    cfg.egress.allow = vec!["127.0.0.1/32".parse().unwrap()];
    for (name, u) in [
        ("soar", url.clone()),
        ("elsewhere", url.replace("127.0.0.1", "127.0.0.2")),
    ] {
        cfg.incidents.webhooks.insert(
            name.into(),
            taishi_serve::config::IncidentWebhook {
                url: u,
                secret_env: None,
                timeout_secs: 5,
            },
        );
    }
    let rt = rt();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let root = Client::login(server.http_addr, admin_password(&server));
    // Separation of duties: an analyst works the incident, an auditor
    // reads the trail.
    for (u, role) in [("ann", "analyst"), ("aud", "auditor")] {
        let (s, b) = root.post(
            "/api/v1/users",
            &json!({"username": u, "password": PW, "roles": [role]}),
        );
        assert_eq!(s, 200, "{b}");
    }
    let admin = Client::login_as(server.http_addr, "ann", PW, None);
    let auditor = Client::login_as(server.http_addr, "aud", PW, None);
    let id = an_incident(&server, &root, &admin);
    let base = format!("/api/v1/incidents/{id}");

    // Observables by hand: an attacker's v4 and v6, an internal host, a
    // domain and a hash.
    for (kind, value) in [
        ("ip", "203.0.113.7"),
        ("ip", "2001:db8::66"),
        ("ip", "10.1.2.3"),
        ("domain", "c2.evil.example"),
        (
            "hash",
            "44d88612fea8a8f36de82e1278abb02f44d88612fea8a8f36de82e1278abb02f",
        ),
    ] {
        act(
            &admin,
            &id,
            json!({"action": "add_observable", "kind": kind, "value": value}),
        );
    }
    let (s, ct, nft) = admin.get_text(&format!("{base}/iocs?format=nftables"), "content-type");
    assert_eq!(s, 200, "{nft}");
    assert!(ct.unwrap().starts_with("text/plain"));
    assert!(
        nft.contains("type ipv4_addr\n    elements = { 203.0.113.7 }"),
        "{nft}"
    );
    assert!(
        nft.contains("type ipv6_addr\n    elements = { 2001:db8::66 }"),
        "{nft}"
    );
    assert!(
        !nft.contains("10.1.2.3"),
        "internal addresses stay out: {nft}"
    );
    let (_, _, ipset) = admin.get_text(&format!("{base}/iocs?format=ipset"), "x");
    assert!(ipset.contains("hash:ip family inet6") && ipset.contains(" 203.0.113.7 -exist"));
    let (_, _, ipt) = admin.get_text(&format!("{base}/iocs?format=iptables"), "x");
    assert!(
        ipt.contains("ip6tables -I INPUT -s 2001:db8::66 -j DROP"),
        "{ipt}"
    );
    let (_, disp, suri) = admin.get_text(
        &format!("{base}/iocs?format=suricata&sid_base=3000000"),
        "content-disposition",
    );
    assert!(
        suri.contains("dns.query; dotprefix; content:\".c2.evil.example\""),
        "{suri}"
    );
    assert!(
        suri.contains("tls.sni;") && suri.contains("sid:3000000;"),
        "{suri}"
    );
    assert!(disp.unwrap().contains(".rules"));
    let (_, _, plain) = admin.get_text(&format!("{base}/iocs?format=plain"), "x");
    assert!(plain.contains("\n44d88612fea8a8f36de82e1278abb02f44d88612fea8a8f36de82e1278abb02f\n"));
    let (s, e) = admin.get(&format!("{base}/iocs?format=pf"));
    assert_eq!(s, 400, "{e}");
    assert!(audit_has(&auditor, "incidents.iocs_export"));

    // The webhook: the incident reaches the receiver and the timeline says so.
    let (s, v) = admin.post(&format!("{base}/webhook"), &json!({"target": "soar"}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], 200);
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    let posted: J = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(posted["incident"]["id"], id.as_str());
    assert_eq!(posted["kind"], "taishi.incident");
    let (_, inc) = admin.get(&base);
    assert!(inc["incident"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["action"]["action"] == "posted" && t["action"]["target"] == "soar"));
    assert_eq!(inc["webhooks"], json!(["elsewhere", "soar"]));
    let (s, e) = admin.post(&format!("{base}/webhook"), &json!({"target": "elsewhere"}));
    assert_eq!(s, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("elsewhere"), "{e}");
    assert_eq!(
        got.lock().unwrap().len(),
        1,
        "nothing reached past the guard"
    );
    let (s, _) = admin.post(&format!("{base}/webhook"), &json!({"target": "nowhere"}));
    assert_eq!(s, 400);
    assert!(audit_has(&auditor, "api.post*"));

    // Evidence: stored with its SHA-256, listed, verified on download.
    let bytes = b"pcap bytes of the drill\n".repeat(1000);
    let (s, v) = admin.post_raw(
        &format!("{base}/evidence?name=../capture%20%E6%8A%93%E5%8C%85.pcap"),
        "application/vnd.tcpdump.pcap",
        &bytes,
    );
    assert_eq!(s, 200, "{v}");
    let ev = &v["incident"]["evidence"][0];
    assert_eq!(ev["name"], "capture 抓包.pcap");
    assert_eq!(ev["size"], bytes.len());
    let sha = ev["sha256"].as_str().unwrap().to_string();
    assert_eq!(sha.len(), 64);
    let (s, h, body) = admin.get_text(&format!("{base}/evidence/1"), "x-taishi-sha256");
    assert_eq!(s, 200);
    assert_eq!(h.as_deref(), Some(sha.as_str()));
    assert_eq!(body.as_bytes(), &bytes[..]);
    assert!(audit_has(&auditor, "incidents.evidence_download"));
    let (s, _) = admin.get(&format!("{base}/evidence/9"));
    assert_eq!(s, 404);
    // Over the upload limit: refused, nothing stored.
    let big = vec![0u8; (64 << 20) + 1];
    // The declared length is refused before the body is read: the client
    // sees the 413, or a closed connection while it still sends.
    let s = admin.try_post_raw(
        &format!("{base}/evidence?name=big.bin"),
        "application/octet-stream",
        &big,
    );
    assert!(matches!(s, Some(413) | None), "{s:?}");

    // Tampered on disk: the download names the file and refuses it.
    let org = v["incident"]["org"].as_str().unwrap();
    let stored = dir
        .path()
        .join("data/evidence")
        .join(org)
        .join(&id)
        .join("1");
    let mut changed = std::fs::read(&stored).unwrap();
    changed[0] ^= 1;
    std::fs::write(&stored, changed).unwrap();
    let (s, e) = admin.get(&format!("{base}/evidence/1"));
    assert_eq!(s, 409, "{e}");
    let msg = e["error"].as_str().unwrap();
    assert!(
        msg.contains("capture 抓包.pcap") && msg.contains("篡改"),
        "{msg}"
    );
    let (_, inc) = admin.get(&base);
    assert_eq!(inc["incident"]["evidence"].as_array().unwrap().len(), 1);
    rt.block_on(server.shutdown()).unwrap();
}
