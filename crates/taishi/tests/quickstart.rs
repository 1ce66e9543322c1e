//! The README's quick start, run as written (issue 13, item 15): `taishi
//! serve` with the SigmaHQ rules on a fresh data directory, then the
//! README's shell block under `sh` (dash on Debian, the strictest of the
//! shells it names) with the two things a reader fills in: the address the
//! server printed and the sysadmin's one-time password. The event it sends
//! is dated now, and its alert must be in the default views.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BLOCK_MARKER: &str = "<!-- quickstart:";
const README_API: &str = "http://127.0.0.1:8600";
const README_PW: &str = "'the one-time password printed for sysadmin'";

/// The shell block after the marker in README.md.
fn readme_block() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let after = &readme[readme
        .find(BLOCK_MARKER)
        .expect("quick-start marker in README.md")..];
    let body = after
        .split_once("```sh\n")
        .expect("a sh block after the marker")
        .1;
    body.split_once("\n```")
        .expect("the block's end")
        .0
        .to_string()
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_quick_start_runs_as_written_under_sh() {
    let Some(rules) = taishi_testdata::path("sigma/rules") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // As the README has it (`taishi serve --rules …` in an empty folder),
    // on a free port instead of 8600.
    let mut child = Command::new(env!("CARGO_BIN_EXE_taishi"))
        .args(["serve", "--listen", "127.0.0.1:0", "--rules"])
        .arg(&rules)
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start taishi serve");
    let out = BufReader::new(child.stdout.take().unwrap());
    let serve = Serve(child);
    let (mut addr, mut pw) = (None, None);
    for line in out.lines() {
        let line = line.unwrap();
        let t = line.trim();
        if t == "ready" {
            break;
        }
        if let Some(rest) = t.strip_prefix("console and API") {
            addr = Some(rest.trim().trim_end_matches('/').to_string());
        } else if let Some(rest) = t.strip_prefix("First start: user `sysadmin`") {
            pw = rest
                .rsplit("one-time password:")
                .next()
                .map(|p| p.trim().to_string());
        }
    }
    let (addr, pw) = (
        addr.expect("the banner names the address"),
        pw.expect("the first start prints sysadmin's one-time password"),
    );
    assert!(!pw.contains('\''), "a password the README's quoting holds");

    let script = readme_block()
        .replace(README_API, &addr)
        .replace(README_PW, &format!("'{pw}'"));
    assert!(script.contains(&addr) && script.contains(&pw), "{script}");
    let run = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .expect("sh");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    // The event went in whole, and its alert is in the last 24 hours.
    assert!(stdout.contains(r#""accepted":1"#), "{stdout}\n{stderr}");
    let alerts: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("the alert list answered"),
    )
    .unwrap();
    let items = alerts["items"].as_array().expect("a page of alerts");
    let certutil = items.iter().find(|a| {
        a["host"] == "ws01"
            && a["rule_title"]
                .as_str()
                .is_some_and(|t| t.to_lowercase().contains("certutil"))
    });
    assert!(certutil.is_some(), "no certutil alert for ws01: {alerts}");

    // The console's default views: the overview of the last 24 hours counts
    // it, and the event itself is searchable there.
    let token = std::fs::read_to_string(dir.path().join("token.json")).unwrap();
    let token: serde_json::Value = serde_json::from_str(&token).unwrap();
    let bearer = format!("Bearer {}", token["secret"].as_str().unwrap());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let overview: serde_json::Value = agent
        .get(&format!("{addr}/api/v1/overview"))
        .header("authorization", &bearer)
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert!(
        overview["alerts_total"].as_u64().unwrap_or(0) >= 1,
        "{overview}"
    );
    drop(serve);
}
