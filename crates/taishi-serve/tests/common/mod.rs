//! A real `taishi serve` on loopback, and a client for it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};
use taishi_ingest::{NetflowConfig, SyslogTcpConfig, SyslogTlsConfig, SyslogUdpConfig};
use taishi_serve::config::{Config, Listener};

pub const WINDOWS_RULE: &str = r#"
title: Taishi test marker in a command line
id: 0b5c2d9e-7d4f-4c4b-9a57-000000000001
status: test
description: Fires on a marker the tests put in process command lines.
level: high
tags:
  - attack.execution
  - attack.t1059.001
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    CommandLine|contains: 'taishi-e2e-marker'
  condition: selection
"#;

pub const SSHD_RULE: &str = r#"
title: Taishi test sshd failure
id: 0b5c2d9e-7d4f-4c4b-9a57-000000000002
status: test
level: medium
tags:
  - attack.credential_access
  - attack.t1110
logsource:
  product: linux
  service: sshd
detection:
  keywords:
    - 'Failed password for taishi-test'
  condition: keywords
"#;

pub fn rules_dir(dir: &Path) -> std::path::PathBuf {
    let r = dir.join("rules");
    std::fs::create_dir_all(&r).unwrap();
    std::fs::write(r.join("windows.yml"), WINDOWS_RULE).unwrap();
    std::fs::write(r.join("sshd.yml"), SSHD_RULE).unwrap();
    r
}

/// The password of `admin`, an account tests use for everything but the
/// audit trail (the three first-start administrators' duties together,
/// as an upgraded pre-三权分立 database has it). Made in-process on first
/// use: a new Taishi only makes the three separate administrators.
pub const ADMIN_PASSWORD: &str = "Test-admin-Passw0rd";

pub fn admin_password(s: &taishi_serve::Server) -> &'static str {
    let state = &s.app.state;
    if state.user("admin").unwrap().is_none() {
        let roles: Vec<String> = taishi_auth::LEGACY_ADMIN
            .iter()
            .map(|r| r.id().to_string())
            .collect();
        let hash = taishi_auth::hash_password(ADMIN_PASSWORD).unwrap();
        state
            .create_user("admin", taishi_serve::state::ROOT_ORG, &roles, &hash)
            .unwrap();
    }
    ADMIN_PASSWORD
}

pub fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn config(dir: &Path) -> Config {
    let mut c = Config {
        data_dir: dir.join("data"),
        ..Config::default()
    };
    c.http.listen = any();
    c.store.refresh_ms = 200;
    c.detection.rules = vec![rules_dir(dir)];
    c.detection.min_level = "informational".into();
    c
}

pub fn with_listeners(mut c: Config, tls: Option<(&Path, &Path)>) -> Config {
    c.listeners.push(Listener::SyslogUdp(SyslogUdpConfig {
        name: None,
        org: None,
        org_by_source: Default::default(),
        timezone: None,
        listen: any(),
    }));
    c.listeners.push(Listener::SyslogTcp(SyslogTcpConfig {
        name: None,
        org: None,
        org_by_source: Default::default(),
        timezone: None,
        listen: any(),
    }));
    c.listeners.push(Listener::Netflow(NetflowConfig {
        name: None,
        org: None,
        org_by_source: Default::default(),
        listen: any(),
    }));
    if let Some((cert, key)) = tls {
        c.listeners.push(Listener::SyslogTls(SyslogTlsConfig {
            name: None,
            org: None,
            org_by_source: Default::default(),
            timezone: None,
            listen: any(),
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
        }));
    }
    c
}

pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub auth: String,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client {
            base: format!("http://{addr}"),
            agent,
            auth: String::new(),
        }
    }

    /// Signs in as admin and switches to a fresh API token.
    pub fn login(addr: SocketAddr, password: &str) -> Client {
        Client::login_as(addr, "admin", password, None)
    }

    /// Signs in as `username` and switches to a fresh API token of theirs
    /// (of `role`, or the user's own).
    pub fn login_as(
        addr: SocketAddr,
        username: &str,
        password: &str,
        role: Option<&str>,
    ) -> Client {
        let mut c = Client::new(addr);
        // Tokens need a signed-in user: the token is made with the
        // session's cookie and CSRF value.
        let (mut cookie, mut body) = c.session(username, password);
        if body["user"]["must_change_password"] == true {
            // A one-time password (the first start's): the server answers
            // nothing but the account routes until it is changed, and the
            // change ends the session.
            let new = format!("{password}-Own-9");
            let resp = c
                .agent
                .post(&format!("{}/api/v1/auth/password", c.base))
                .header("cookie", &cookie)
                .header("x-taishi-csrf", body["csrf"].as_str().unwrap())
                .send_json(json!({"old": password, "new": new}))
                .unwrap();
            assert_eq!(resp.status(), 204, "password change of {username}");
            (cookie, body) = c.session(username, &new);
        }
        let csrf = body["csrf"].as_str().unwrap().to_string();
        let mut resp = c
            .agent
            .post(&format!("{}/api/v1/tokens", c.base))
            .header("cookie", &cookie)
            .header("x-taishi-csrf", &csrf)
            .send_json(json!({"name": "tests", "roles": role.map(|r| vec![r])}))
            .unwrap();
        assert_eq!(resp.status(), 200);
        let tok: J = resp.body_mut().read_json().unwrap();
        c.auth = format!("Bearer {}", tok["secret"].as_str().unwrap());
        c
    }

    /// Signs in: the session cookie and the answer.
    fn session(&self, username: &str, password: &str) -> (String, J) {
        let mut resp = self
            .agent
            .post(&format!("{}/api/v1/auth/login", self.base))
            .send_json(json!({"username": username, "password": password}))
            .unwrap();
        assert_eq!(resp.status(), 200);
        let cookie = resp
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        (cookie, resp.body_mut().read_json().unwrap())
    }

    pub fn get(&self, path: &str) -> (u16, J) {
        let mut r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .call()
            .unwrap();
        let s = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (s, serde_json::from_str(&text).unwrap_or(J::String(text)))
    }

    pub fn post(&self, path: &str, body: &J) -> (u16, J) {
        let req = self.agent.post(&format!("{}{path}", self.base));
        Client::answer(req.header("authorization", &self.auth).send_json(body))
    }

    pub fn put(&self, path: &str, body: &J) -> (u16, J) {
        let req = self.agent.put(&format!("{}{path}", self.base));
        Client::answer(req.header("authorization", &self.auth).send_json(body))
    }

    pub fn patch(&self, path: &str, body: &J) -> (u16, J) {
        let req = self.agent.patch(&format!("{}{path}", self.base));
        Client::answer(req.header("authorization", &self.auth).send_json(body))
    }

    /// Status and the body as JSON (or as a JSON string when it is not).
    fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, J) {
        let mut r = r.unwrap();
        let s = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (s, serde_json::from_str(&text).unwrap_or(J::String(text)))
    }

    /// Status, one header's value, and the body as text.
    pub fn get_text(&self, path: &str, header: &str) -> (u16, Option<String>, String) {
        let (s, h, body) = self.get_bytes(path, header);
        (s, h, String::from_utf8_lossy(&body).into_owned())
    }

    /// Status, one header's value, and the body as bytes (downloads).
    pub fn get_bytes(&self, path: &str, header: &str) -> (u16, Option<String>, Vec<u8>) {
        let mut r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .call()
            .unwrap();
        let h = r
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap_or_default();
        (r.status().as_u16(), h, body)
    }

    pub fn delete(&self, path: &str) -> u16 {
        self.agent
            .delete(&format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .call()
            .unwrap()
            .status()
            .as_u16()
    }

    /// `None` when the connection failed (a killed server).
    pub fn try_post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Option<u16> {
        self.agent
            .post(&format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .header("content-type", content_type)
            .send(body)
            .ok()
            .map(|r| r.status().as_u16())
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, J) {
        let mut r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .header("content-type", content_type)
            .send(body)
            .unwrap();
        let s = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (s, serde_json::from_str(&text).unwrap_or(J::String(text)))
    }
}

pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// A Sysmon process-creation event as winlogbeat-less NDJSON (the layout
/// `taishi parse` gives EVTX records).
pub fn sysmon_event(i: usize, marker: bool) -> J {
    json!({
        "@timestamp": format!("2026-11-23T08:{:02}:{:02}+08:00", (i / 60) % 60, i % 60),
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "Computer": format!("ws{:02}.corp.example", i % 5),
        "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "CommandLine": if marker { format!("powershell -enc taishi-e2e-marker {i}") } else { format!("powershell Get-Date {i}") },
        "User": "CORP\\alice",
        "test.seq": i,
    })
}

pub fn ndjson(events: &[J]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        serde_json::to_writer(&mut out, e).unwrap();
        out.push(b'\n');
    }
    out
}

/// A NetFlow v5 export packet with `n` flows from 192.0.2.10 to 198.51.100.x.
pub fn netflow_v5(n: u16) -> Vec<u8> {
    let mut p = Vec::new();
    let secs = 1_795_000_000u32;
    p.extend_from_slice(&5u16.to_be_bytes());
    p.extend_from_slice(&n.to_be_bytes());
    p.extend_from_slice(&1_000_000u32.to_be_bytes()); // sysuptime ms
    p.extend_from_slice(&secs.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes()); // flow sequence
    p.extend_from_slice(&[0, 0, 0, 0]); // engine type/id, sampling
    for i in 0..n {
        p.extend_from_slice(&[192, 0, 2, 10]);
        p.extend_from_slice(&[198, 51, 100, (i % 250) as u8 + 1]);
        p.extend_from_slice(&[0, 0, 0, 0]); // next hop
        p.extend_from_slice(&1u16.to_be_bytes());
        p.extend_from_slice(&2u16.to_be_bytes());
        p.extend_from_slice(&10u32.to_be_bytes()); // packets
        p.extend_from_slice(&1500u32.to_be_bytes()); // bytes
        p.extend_from_slice(&990_000u32.to_be_bytes()); // first
        p.extend_from_slice(&999_000u32.to_be_bytes()); // last
        p.extend_from_slice(&(40000 + i).to_be_bytes());
        p.extend_from_slice(&443u16.to_be_bytes());
        p.push(0);
        p.push(0x18); // tcp flags
        p.push(6); // tcp
        p.push(0);
        p.extend_from_slice(&64512u16.to_be_bytes());
        p.extend_from_slice(&64513u16.to_be_bytes());
        p.push(24);
        p.push(24);
        p.extend_from_slice(&[0, 0]);
    }
    p
}

/// A TLS client that trusts one (self-signed) certificate.
pub fn tls_connector(cert: &rcgen::CertifiedKey) -> tokio_rustls::TlsConnector {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
}

/// A server on a runtime of its own, shut down (and its directory removed)
/// when dropped.
pub struct Running {
    pub rt: tokio::runtime::Runtime,
    pub server: Option<taishi_serve::Server>,
    _dir: tempfile::TempDir,
}

impl Running {
    pub fn start(cfg: Config, dir: tempfile::TempDir) -> Running {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
        Running {
            rt,
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn server(&self) -> &taishi_serve::Server {
        self.server.as_ref().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.shutdown());
        }
    }
}

/// A minimal HTTP/1.1 receiver: keeps each request body, answers 200.
pub fn webhook_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut w = conn;
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let t = line.trim_end();
                        if t.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = t.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    g.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}");
                }
            });
        }
    });
    (url, got)
}

/// A two-thread runtime for a server a test starts and stops itself.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The first start's audit administrator: the one account that reads
/// the trail (三权分立: `admin` acts, `auditor` reads).
pub fn auditor(s: &taishi_serve::Server) -> Client {
    let pw = s
        .first_accounts
        .iter()
        .find(|a| a.username == "auditor")
        .map(|a| a.password.clone())
        .expect("first start made the auditor");
    // Its one-time password would have to be changed first (two more
    // records in the trail these tests read exactly): taken as its own.
    s.app.state.set_must_change("auditor", false).unwrap();
    Client::login_as(s.http_addr, "auditor", &pw, None)
}

/// A PDF's text as poppler's pdftotext extracts it, whitespace removed
/// (a line may break anywhere); None, said on stderr, when pdftotext is
/// not installed, unless TAISHI_REQUIRE_TEST_DATA=1 asks for it.
pub fn pdf_text(path: &Path) -> Option<String> {
    match std::process::Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
    {
        Ok(out) if out.status.success() => Some(
            String::from_utf8_lossy(&out.stdout)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
        ),
        other => {
            assert!(
                std::env::var("TAISHI_REQUIRE_TEST_DATA").as_deref() != Ok("1"),
                "pdftotext (poppler-utils, scripts/setup.d/fonts.sh) is needed: {other:?}"
            );
            eprintln!("PDF text not checked: no pdftotext ({other:?})");
            None
        }
    }
}

/// A DOCX package's main part, word/document.xml.
pub fn docx_xml(docx: Vec<u8>) -> String {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
    let mut xml = String::new();
    z.by_name("word/document.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// A viewer of a new organisation `branch` (named "Branch") under the top
/// one, signed in: what a reader of another subtree sees.
pub fn branch_viewer(server: &taishi_serve::Server) -> Client {
    let st = &server.app.state;
    st.create_org("branch", taishi_serve::state::ROOT_ORG, "Branch")
        .unwrap();
    let pw = "Branch-viewer-Passw0rd!";
    st.create_user(
        "branchview",
        "branch",
        &["viewer".to_string()],
        &taishi_auth::hash_password(pw).unwrap(),
    )
    .unwrap();
    Client::login_as(server.http_addr, "branchview", pw, None)
}

/// A `tcp` listener for Zeek logs as a sensor ships them (raw lines).
pub fn zeek_tcp_listener() -> Listener {
    Listener::Tcp(taishi_ingest::TcpConfig {
        name: Some("zeek-tcp".into()),
        org: None,
        org_by_source: Default::default(),
        timezone: None,
        listen: any(),
        format: "zeek".into(),
    })
}

/// The header of a Zeek conn log (TSV).
pub const CONN_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n";

/// A one-entry CISA KEV catalogue naming `cve` (OpenSSH), with known
/// ransomware use or not.
pub fn kev_file(cve: &str, ransomware: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2026.12.06",
        "dateReleased": "2026-12-06T10:00:00.000Z",
        "count": 1,
        "vulnerabilities": [{
            "cveID": cve, "vendorProject": "OpenBSD", "product": "OpenSSH",
            "vulnerabilityName": "OpenSSH test entry", "dateAdded": "2026-12-06",
            "shortDescription": "test", "requiredAction": "Apply updates",
            "dueDate": "2026-12-27",
            "knownRansomwareCampaignUse": if ransomware { "Known" } else { "Unknown" },
            "notes": "", "cwes": []
        }]
    }))
    .unwrap()
}

/// Imports an asset inventory (CSV) into the caller's organisation; its
/// answer (records, created, merged, rejects).
pub fn import_inventory(c: &Client, csv: &str) -> serde_json::Value {
    let (s, v) = c.post_raw(
        "/api/v1/assets?format=csv&name=inventory.csv",
        "text/csv",
        csv.as_bytes(),
    );
    assert_eq!(s, 200, "{v}");
    v
}
