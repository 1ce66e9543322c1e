//! A real `taishi serve` process on loopback, started from the built binary,
//! so each test can read the server's own memory (`/proc/PID/status`), see
//! whether it is still alive, and kill or stop it like an operator would.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};

/// A rule that fires on a marker, so tests can tell detection still works.
pub const MARKER_RULE: &str = r#"
title: Taishi hostile-suite marker
id: 5f1c2d9e-7d4f-4c4b-9a57-00000000beef
status: test
level: high
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    CommandLine|contains: 'taishi-hostile-marker'
  condition: selection
"#;

pub struct Server {
    pub dir: tempfile::TempDir,
    child: Child,
    pub http: SocketAddr,
    /// Listener kind (`syslog-tcp`, `syslog-udp`, `netflow` …) → address.
    pub listeners: Vec<(String, SocketAddr)>,
    pub admin_password: String,
    pub first_accounts: Vec<(String, String)>,
    stderr_path: PathBuf,
}

/// Options for one server: extra TOML appended to the generated config.
#[derive(Default)]
pub struct Opts {
    /// Extra top-level TOML (tables such as `[http]` must not repeat the
    /// generated ones: use `http` below for those keys).
    pub extra: String,
    /// Extra keys for the generated `[http]` table.
    pub http: String,
    /// Extra keys for the generated `[store]` table.
    pub store: String,
    /// Extra keys for the generated `[intel]` table.
    pub intel: String,
    /// Listener kinds to start besides HTTP.
    pub listeners: Vec<&'static str>,
    /// Rule files or folders besides the marker rule.
    pub rules: Vec<PathBuf>,
    /// A failpoint armed for the first start only (`TAISHI_FAILPOINT`).
    pub failpoint: Option<&'static str>,
}

/// What `taishi serve` prints before `ready`.
#[derive(Default)]
struct Banner {
    http: Option<SocketAddr>,
    listeners: Vec<(String, SocketAddr)>,
    /// The first start's administrators and their one-time passwords.
    first: Vec<(String, String)>,
}

/// The tests' `admin` (see `Server::with_admin`).
pub const ADMIN_PASSWORD: &str = "Hostile-Harbor-Passw0rd";
/// What `sysadmin` chooses at its first sign-in (its one-time password
/// opens nothing else).
pub const SYSADMIN_PASSWORD: &str = "Hostile-Keeper-Passw0rd";

/// Starts `taishi serve --config cfg` and reads its banner up to `ready`.
fn spawn(cfg: &Path, stderr: std::fs::File, failpoint: Option<&str>) -> (Child, Banner) {
    let mut child = Command::new(taishi_bin())
        .arg("serve")
        .arg("--config")
        .arg(cfg)
        .env("RUST_LOG", "warn")
        .env("TAISHI_FAILPOINT", failpoint.unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start taishi serve");
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut b = Banner::default();
    for line in out.lines() {
        let Ok(line) = line else { break };
        let t = line.trim();
        if t == "ready" {
            break;
        }
        if let Some(rest) = t.strip_prefix("console and API") {
            let a = rest
                .trim()
                .trim_start_matches("http://")
                .trim_end_matches('/');
            b.http = a.parse().ok();
        } else if let Some(rest) = t.strip_prefix("First start: user `") {
            let name = rest.split('`').next().unwrap_or_default().to_string();
            let pw = rest.rsplit("one-time password:").next().unwrap_or_default();
            b.first.push((name, pw.trim().to_string()));
        } else {
            let mut it = t.split_whitespace();
            if let (Some(k), Some(a), None) = (it.next(), it.next(), it.next()) {
                if let Ok(a) = a.parse::<SocketAddr>() {
                    b.listeners.push((k.to_string(), a));
                }
            }
        }
    }
    (child, b)
}

impl Server {
    pub fn start(opts: Opts) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::write(rules.join("marker.yml"), MARKER_RULE).unwrap();
        let rule_paths: Vec<String> = std::iter::once(&rules)
            .chain(&opts.rules)
            .map(|p| format!("{p:?}"))
            .collect();
        let mut cfg = format!(
            "data_dir = {:?}\n[http]\nlisten = \"127.0.0.1:0\"\n{}\n[store]\nrefresh_ms = 200\n{}\n[detection]\nrules = [{}]\nmin_level = \"informational\"\n[intel]\nfeeds = false\n{}\n",
            dir.path().join("data"),
            opts.http,
            opts.store,
            rule_paths.join(", "),
            opts.intel,
        );
        for l in &opts.listeners {
            cfg.push_str(&format!(
                "[[listeners]]\ntype = \"{l}\"\nlisten = \"127.0.0.1:0\"\n"
            ));
        }
        cfg.push_str(&opts.extra);
        let cfg_path = dir.path().join("taishi.toml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let stderr_path = dir.path().join("stderr.log");
        let (child, banner) = spawn(
            &cfg_path,
            std::fs::File::create(&stderr_path).unwrap(),
            opts.failpoint,
        );
        let http = banner.http.unwrap_or_else(|| {
            panic!(
                "taishi serve did not start:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            )
        });
        Server {
            dir,
            child,
            http,
            listeners: banner.listeners,
            admin_password: ADMIN_PASSWORD.to_string(),
            first_accounts: banner.first,
            stderr_path,
        }
        .with_admin()
    }

    /// The one-time password the first start printed for `user`
    /// (`sysadmin`, `secadmin`, `auditor`).
    pub fn first_password(&self, user: &str) -> &str {
        &self
            .first_accounts
            .iter()
            .find(|(u, _)| u == user)
            .unwrap_or_else(|| panic!("first start printed no `{user}`: {:?}", self.first_accounts))
            .1
    }

    /// Signs in as the first start's system administrator and makes
    /// `admin`, an account with every duty but the audit trail's (as an
    /// upgraded older Taishi has it), which the tests use for everything.
    fn with_admin(self) -> Server {
        assert_eq!(
            self.first_accounts.len(),
            3,
            "first start makes three administrators"
        );
        let mut c = Client::new(self.http);
        let one_time = self.first_password("sysadmin").to_string();
        let (s, b) = c.post(
            "/api/v1/auth/login",
            &json!({"username": "sysadmin", "password": one_time}),
        );
        assert_eq!(s, 200, "login: {b}");
        assert_eq!(b["user"]["must_change_password"], true, "{b}");
        c.csrf = Some(b["csrf"].as_str().unwrap().to_string());
        // A one-time password opens nothing but the account routes.
        let (s, b) = c.get("/api/v1/users");
        assert_eq!(s, 403, "{b}");
        let (s, b) = c.post(
            "/api/v1/auth/password",
            &json!({"old": one_time, "new": SYSADMIN_PASSWORD}),
        );
        assert!(s == 204 || s == 200, "password change: {s} {b}");
        // The change ended the session: sign in with the new password.
        let (s, b) = c.post(
            "/api/v1/auth/login",
            &json!({"username": "sysadmin", "password": SYSADMIN_PASSWORD}),
        );
        assert_eq!(s, 200, "login: {b}");
        assert_eq!(b["user"]["must_change_password"], false, "{b}");
        c.csrf = Some(b["csrf"].as_str().unwrap().to_string());
        let (s, b) = c.post(
            "/api/v1/users",
            &json!({"username": "admin", "password": ADMIN_PASSWORD,
                    "roles": ["sysadmin", "secadmin", "analyst"]}),
        );
        assert_eq!(s, 200, "admin: {b}");
        self
    }

    /// Sends SIGKILL (`kill -9`) and reaps the process.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn listener(&self, kind: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(k, _)| k == kind)
            .unwrap_or_else(|| panic!("no {kind} listener in {:?}", self.listeners))
            .1
    }

    fn status_kib(&self, key: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .unwrap_or(0)
    }

    /// Resident memory now, MiB.
    pub fn rss_mib(&self) -> u64 {
        self.status_kib("VmRSS:") / 1024
    }

    /// The most resident memory the server has had, MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        self.status_kib("VmHWM:") / 1024
    }

    /// The process runs and answers its liveness probe.
    pub fn alive(&mut self) -> bool {
        if self.child.try_wait().ok().flatten().is_some() {
            return false;
        }
        let c = Client::new(self.http);
        matches!(c.get("/api/v1/health").0, 200 | 401)
    }

    /// Asserts the server is up, printing its log when it is not.
    pub fn assert_alive(&mut self) {
        if !self.alive() {
            panic!("taishi serve is down; its log:\n{}", self.stderr_tail());
        }
    }

    pub fn stderr_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let start = s.len().saturating_sub(8000);
        let start = (start..s.len())
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        s[start..].to_string()
    }

    /// An admin signed in with a bearer token.
    pub fn admin(&self) -> Client {
        let mut c = Client::new(self.http);
        let (s, b) = c.post(
            "/api/v1/auth/login",
            &json!({"username": "admin", "password": self.admin_password}),
        );
        assert_eq!(s, 200, "login: {b}");
        let csrf = b["csrf"].as_str().unwrap().to_string();
        c.csrf = Some(csrf);
        let (s, tok) = c.post("/api/v1/tokens", &json!({"name": "hostile-admin"}));
        assert_eq!(s, 200, "token: {tok}");
        let mut t = Client::new(self.http);
        t.auth = Some(format!("Bearer {}", tok["secret"].as_str().unwrap()));
        t
    }

    /// A client with a token of `role` (viewer, analyst, admin), made by the admin.
    /// A token of `admin` holding `role` (`admin`: all of admin's roles).
    pub fn token(&self, role: &str) -> Client {
        let admin = self.admin();
        let roles = (role != "admin").then(|| vec![role]);
        let (s, tok) = admin.post(
            "/api/v1/tokens",
            &json!({"name": format!("hostile-{role}"), "roles": roles}),
        );
        assert_eq!(s, 200, "token: {tok}");
        let mut t = Client::new(self.http);
        t.auth = Some(format!("Bearer {}", tok["secret"].as_str().unwrap()));
        t
    }

    /// SIGTERM, then waits up to `within` for the process to exit.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        unsafe_kill(self.pid(), 15);
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- taishi serve log (tail) ---\n{}", self.stderr_tail());
        }
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// A small HTTP client that keeps a cookie jar of one cookie and a CSRF value.
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub auth: Option<String>,
    pub cookie: std::sync::Mutex<Option<String>>,
    pub csrf: Option<String>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Client {
            base: format!("http://{addr}"),
            agent,
            auth: None,
            cookie: Default::default(),
            csrf: None,
        }
    }

    fn finish(&self, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, J) {
        let mut r = match r {
            Ok(r) => r,
            Err(e) => return (0, J::String(e.to_string())),
        };
        if let Some(c) = r.headers().get("set-cookie") {
            if let Some(v) = c.to_str().ok().and_then(|s| s.split(';').next()) {
                *self.cookie.lock().unwrap() = Some(v.to_string());
            }
        }
        let s = r.status().as_u16();
        let text = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap_or_default();
        (s, serde_json::from_str(&text).unwrap_or(J::String(text)))
    }

    fn with_auth<B>(&self, mut rb: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        if let Some(a) = &self.auth {
            rb = rb.header("authorization", a);
        }
        if let Some(c) = self.cookie.lock().unwrap().as_ref() {
            rb = rb.header("cookie", c);
        }
        if let Some(c) = &self.csrf {
            rb = rb.header("x-taishi-csrf", c);
        }
        rb
    }

    pub fn get(&self, path: &str) -> (u16, J) {
        let rb = self.with_auth(self.agent.get(&format!("{}{path}", self.base)));
        self.finish(rb.call())
    }

    pub fn post(&self, path: &str, body: &J) -> (u16, J) {
        let rb = self.with_auth(self.agent.post(&format!("{}{path}", self.base)));
        self.finish(rb.send_json(body))
    }

    pub fn put_json(&self, path: &str, body: &J) -> (u16, J) {
        let rb = self.with_auth(self.agent.put(&format!("{}{path}", self.base)));
        self.finish(rb.send_json(body))
    }

    pub fn patch(&self, path: &str, body: &J) -> (u16, J) {
        let rb = self.with_auth(self.agent.patch(&format!("{}{path}", self.base)));
        self.finish(rb.send_json(body))
    }

    pub fn delete(&self, path: &str) -> (u16, J) {
        let rb = self.with_auth(self.agent.delete(&format!("{}{path}", self.base)));
        self.finish(rb.call())
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, J) {
        let rb = self
            .with_auth(self.agent.post(&format!("{}{path}", self.base)))
            .header("content-type", content_type);
        self.finish(rb.send(body))
    }

    /// Runs a search; returns the status and answer.
    pub fn search(&self, q: &str, from: &str) -> (u16, J) {
        self.post("/api/v1/search", &json!({"query": q, "from": from}))
    }
}

/// Elapsed time of `f`.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// Sends one event that the marker rule detects, through the HTTP ingest.
pub fn send_marker(c: &Client) {
    let (st, b) = c.post_raw(
        "/api/v1/ingest",
        "application/x-ndjson",
        &ndjson(&[sysmon(1, "powershell taishi-hostile-marker", None)]),
    );
    assert_eq!(st, 200, "{b}");
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

/// One Sysmon process-creation event as NDJSON (the layout `taishi parse`
/// gives EVTX records), stamped now unless `ts` is given.
pub fn sysmon(i: usize, cmd: &str, ts: Option<&str>) -> J {
    let now = chrono::Utc::now().to_rfc3339();
    json!({
        "@timestamp": ts.unwrap_or(&now),
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "Computer": format!("ws{:02}.corp.example", i % 5),
        "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "CommandLine": cmd,
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

/// Sends syslog lines over one TCP connection and closes it.
pub fn syslog_tcp(addr: SocketAddr, lines: &[String]) {
    let mut s = TcpStream::connect(addr).unwrap();
    for l in lines {
        s.write_all(l.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
    }
    s.flush().unwrap();
}

/// Raw bytes on a fresh TCP connection; returns what came back before
/// `timeout` or the peer closed.
pub fn raw_tcp(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Counts events matching `q` over the last `from` (e.g. `now-1d`).
pub fn count(c: &Client, q: &str, from: &str) -> u64 {
    let (s, b) = c.post(
        "/api/v1/search",
        &json!({"query": format!("{q} | stats count()"), "from": from}),
    );
    assert_eq!(s, 200, "count {q}: {b}");
    // A table: `columns` names, `rows` arrays of values.
    let col = b["columns"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .position(|c| c.as_str().is_some_and(|c| c.starts_with("count")))
        })
        .unwrap_or(0);
    b["rows"][0][col].as_u64().unwrap_or(0)
}

pub fn data_dir(s: &Server) -> &Path {
    s.dir.path()
}

/// The binary under test: `TAISHI_HOSTILE_BIN` when set (to run the suite
/// against an older build and see a test fail there), else this build's.
pub fn taishi_bin() -> PathBuf {
    std::env::var_os("TAISHI_HOSTILE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_taishi")))
}

impl Server {
    /// Starts the server again on the same data directory and config, after
    /// it stopped (`terminate`). The admin password stays the first one.
    pub fn restart(&mut self) {
        assert!(
            self.child.try_wait().ok().flatten().is_some(),
            "restart: the server is still running"
        );
        let cfg_path = self.dir.path().join("taishi.toml");
        let stderr = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.stderr_path)
            .unwrap();
        let (child, banner) = spawn(&cfg_path, stderr, None);
        self.child = child;
        self.http = banner
            .http
            .unwrap_or_else(|| panic!("taishi serve did not start again:\n{}", self.stderr_tail()));
        self.listeners = banner.listeners;
    }

    /// A person signed in with a session cookie and its CSRF value.
    pub fn login(&self, username: &str, password: &str) -> Client {
        let c = Client::new(self.http);
        let (s, b) = c.post(
            "/api/v1/auth/login",
            &json!({"username": username, "password": password}),
        );
        assert_eq!(s, 200, "login {username}: {b}");
        let mut c = c;
        c.csrf = b["csrf"].as_str().map(str::to_string);
        c
    }

    /// The value of one metric line in `/metrics` (summed over labels).
    pub fn metric(&self, c: &Client, name: &str) -> f64 {
        let (_, b) = c.get("/metrics");
        let text = b.as_str().unwrap_or_default().to_string();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|r| r.starts_with(' ') || r.starts_with('{'))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Server {
    /// Stops the server (SIGTERM, then SIGKILL after `within`) and starts it
    /// again on the same data directory and config.
    pub fn restart_within(&mut self, within: Duration) {
        if self.terminate(within).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.restart();
    }

    /// The value of the first `/metrics` series that starts with `prefix`
    /// (labels included), read with an admin token.
    pub fn metric_first(&self, admin: &Client, prefix: &str) -> Option<f64> {
        let rb = admin.with_auth(admin.agent.get(&format!("{}/metrics", admin.base)));
        let mut r = rb.call().ok()?;
        let text = r.body_mut().read_to_string().ok()?;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }
}
/// A TCP connection to `addr` from the loopback address `from` (e.g.
/// 127.0.0.2), so a test can be one attacker and another sender at once.
pub fn connect_from(from: [u8; 4], addr: SocketAddr) -> std::io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4()?;
        s.bind(SocketAddr::from((from, 0)))?;
        let c = s.connect(addr).await?;
        let std = c.into_std()?;
        std.set_nonblocking(false)?;
        Ok(std)
    })
}

/// Whether the peer has closed `s` (reads EOF or a reset) within `wait`.
pub fn closed_by_peer(mut s: &TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 512];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}
