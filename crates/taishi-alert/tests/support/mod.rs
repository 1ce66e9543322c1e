//! Helpers shared by the test files: a Sysmon event, an HTTP receiver, and
//! the SMTP sink (Python's aiosmtpd, installed by scripts/setup.d/smtp.sh)
//! that stores each mail it receives as JSON.

// Each test file uses a part of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::Request;
use chrono::DateTime;
use serde_json::Value as J;
use taishi_alert::Dispatcher;
use taishi_event::Event;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const SINK: &str = r#"
import email, email.policy, json, os, ssl, sys, time
from aiosmtpd.controller import Controller

out, port, mode, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

class Store:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Store.n += 1
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "content_type": msg.get_content_type(),
            "body": msg.get_body(("plain",)).get_content(),
        }
        # Named by time: every sink of the test writes into the same folder.
        path = os.path.join(out, "%020d.json" % time.time_ns())
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(rec, f, ensure_ascii=False)
        os.rename(path + ".tmp", path)
        return "250 OK stored"

ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
kw = {"hostname": "127.0.0.1", "port": port}
if mode == "starttls":
    kw.update(tls_context=ctx, require_starttls=True)
elif mode == "tls":
    kw.update(ssl_context=ctx)
c = Controller(Store(), **kw)
c.start()
print("READY", flush=True)
sys.stdin.read()
c.stop()
"#;

pub fn sink_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("TAISHI_REQUIRE_TEST_DATA").is_some_and(|v| v != "0") {
            panic!("python3 with aiosmtpd is needed for the SMTP tests (scripts/setup.d/smtp.sh installs it)");
        }
        eprintln!("SKIP: python3 with aiosmtpd not found (scripts/setup.d/smtp.sh installs it)");
    }
    ok
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn start_sink(dir: &Path, port: u16, mode: &str) -> Child {
    let script = dir.join("sink.py");
    std::fs::write(&script, SINK).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(dir.join("mail"))
        .arg(port.to_string())
        .arg(mode)
        .arg(dir.join("cert.pem"))
        .arg(dir.join("key.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the SMTP sink started within 30 s")
        .unwrap();
    assert_eq!(first.as_deref(), Some("READY"));
    child
}

pub async fn wait_mail(dir: &Path, n: usize, d: &Dispatcher) -> J {
    let mail = dir.join("mail");
    for _ in 0..500 {
        let mut files: Vec<_> = std::fs::read_dir(&mail)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        if files.len() >= n {
            files.sort();
            let text = std::fs::read_to_string(&files[n - 1]).unwrap();
            return serde_json::from_str(&text).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("mail {n} did not arrive: {:?}", d.metrics());
}

/// A Sysmon process creation of whoami.exe on WS-042.
pub fn sysmon_event() -> Event {
    let mut e = Event::new();
    e.timestamp = Some(DateTime::parse_from_rfc3339("2025-03-01T09:15:02.123+08:00").unwrap());
    e.push("EventID", 1i64);
    e.push("Channel", "Microsoft-Windows-Sysmon/Operational");
    e.push("Computer", "WS-042.corp.example");
    e.push("Image", "C:\\Windows\\System32\\whoami.exe");
    e.push("CommandLine", "whoami /all");
    e.push("User", "CORP\\alice");
    e.push("host.name", "WS-042.corp.example");
    e.push("source.ip", "10.20.30.40");
    e.push("destination.ip", "203.0.113.9");
    e.push("event.code", "1");
    e
}

#[derive(Debug)]
pub struct Got {
    pub method: String,
    pub uri: String,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> J {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn query(&self, k: &str) -> Option<String> {
        let q = self.uri.split_once('?')?.1;
        q.split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

/// An HTTP server answering the n-th request (0-based) with `reply(n)`.
pub async fn receiver(
    reply: impl Fn(usize) -> (u16, String) + Send + Sync + 'static,
) -> (SocketAddr, mpsc::UnboundedReceiver<Got>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let n = Arc::new(AtomicUsize::new(0));
    let reply = Arc::new(reply);
    let app = axum::Router::new().fallback(move |req: Request| {
        let (tx, n, reply) = (tx.clone(), n.clone(), reply.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
            let _ = tx.send(Got {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts.headers,
                body,
            });
            let (code, text) = reply(n.fetch_add(1, Ordering::SeqCst));
            (axum::http::StatusCode::from_u16(code).unwrap(), text)
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, rx)
}

/// One RFC 6587 octet-counted message: its length, a space, the message.
pub async fn read_octet_frame(conn: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    use tokio::io::AsyncReadExt;
    let mut len = Vec::new();
    loop {
        let b = conn.read_u8().await.unwrap();
        if b == b' ' {
            break;
        }
        len.push(b);
    }
    let len: usize = String::from_utf8(len).unwrap().parse().unwrap();
    let mut msg = vec![0u8; len];
    conn.read_exact(&mut msg).await.unwrap();
    String::from_utf8(msg).unwrap()
}
