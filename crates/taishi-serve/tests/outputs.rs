//! A Sigma rule fires in the running service and the alert reaches a
//! webhook receiver and an SMTP server (Python's aiosmtpd) that the test runs.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value as J};

const SMTP_SINK: &str = r#"
import asyncio, sys
from aiosmtpd.controller import Controller
out, port = sys.argv[1], int(sys.argv[2])
class H:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "ab") as f:
            f.write(envelope.content + b"\n--END--\n")
        return "250 OK"
c = Controller(H(), hostname="127.0.0.1", port=port)
c.start()
print("READY", flush=True)
sys.stdin.read()
c.stop()
"#;

#[test]
fn alerts_reach_a_webhook_and_smtp() {
    let python_ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !python_ok {
        assert!(
            std::env::var_os("TAISHI_REQUIRE_TEST_DATA").is_none(),
            "python3 with aiosmtpd is needed (scripts/setup.d/smtp.sh installs it)"
        );
        eprintln!("SKIP: python3 with aiosmtpd not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail.txt");
    let script = dir.path().join("sink.py");
    std::fs::write(&script, SMTP_SINK).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut smtp = Command::new("python3")
        .arg(&script)
        .arg(&mail)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(smtp.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("READY"));

    let (url, hooks) = webhook_receiver();
    let mut cfg = config(dir.path());
    let alerts_toml = format!(
        "group_window = \"0s\"\nsuppress = \"0s\"\n\
         [[outputs]]\ntype = \"webhook\"\nurl = \"{url}\"\n\
         [[outputs]]\ntype = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         from = \"taishi@example.org\"\nto = [\"soc@example.org\"]\nmin_level = \"high\"\n\
         language = \"en\"\n"
    );
    let alerts: taishi_alert::AlertsConfig = toml::from_str(&alerts_toml).unwrap();
    cfg.alerts = alerts;
    // The webhook receiver and the mail sink are on 127.0.0.1.
    cfg.egress.allow_private = true;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, common::admin_password(&server));

    let evs: Vec<J> = (0..4).map(|i| sysmon_event(i, i == 2)).collect();
    assert_eq!(
        c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs))
            .0,
        200
    );

    assert!(
        wait_until(20, || !hooks.lock().unwrap().is_empty()),
        "no webhook call"
    );
    let body: J = serde_json::from_str(&hooks.lock().unwrap()[0]).unwrap();
    let text = body.to_string();
    assert!(
        text.contains("Taishi test marker in a command line"),
        "{text}"
    );
    assert!(text.contains("taishi-e2e-marker"), "{text}");
    // No alerts.console_url: the link is the console on the bound address.
    let link = format!(
        "http://{}/alerts/{}",
        server.http_addr,
        body["alerts"][0]["id"].as_str().unwrap()
    );
    assert_eq!(body["url"], json!(link), "{text}");

    assert!(
        wait_until(20, || std::fs::read_to_string(&mail)
            .is_ok_and(|m| m.contains("--END--"))),
        "no mail arrived"
    );
    let m = std::fs::read_to_string(&mail).unwrap();
    assert!(m.contains("soc@example.org"), "{m}");
    assert!(m.contains("Taishi test marker"), "{m}");
    // The mail is asked for in English (Chinese, the default, travels
    // quoted-printable and is checked in taishi-alert's SMTP test).
    assert!(m.contains(&format!("Open in the console: {link}")), "{m}");

    // Outputs as the console's settings page sees them, with counters.
    let (s, o) = c.get("/api/v1/settings/outputs");
    assert_eq!(s, 200);
    assert_eq!(o["items"].as_array().unwrap().len(), 2, "{o}");
    assert!(wait_until(5, || c.get("/api/v1/settings/outputs").1
        ["items"][0]["metrics"]["sent"]
        == json!(1)));
    let (_, m) = c.get("/metrics");
    assert!(m.as_str().unwrap().contains("sent"), "{m}");

    rt.block_on(server.shutdown()).unwrap();
    drop(smtp.stdin.take());
    let _ = smtp.kill();
    let _ = smtp.wait();
}
