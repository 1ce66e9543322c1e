//! Finding 4: decompression bombs through intel feeds and imports.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// The feed limit the server runs with in these tests, MiB.
const LIMIT_MIB: u64 = 32;
/// The bomb inflates to 1 GiB. Peak RSS cap: the limit's worth of inflated
/// bytes plus the server's own (~100 MiB in a debug build) with room to
/// spare; before the fix the whole GiB was held (and parsed).
const RSS_CAP_MIB: u64 = 400;

/// About 1 MiB of gzip that inflates to 1 GiB: 64 identical members of
/// 16 MiB of zeros (gzip readers take concatenated members as one stream).
fn bomb() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; 16 << 20]).unwrap();
    let member = e.finish().unwrap();
    member.repeat(64)
}

/// Serves `body` to every request (at most `n` of them, for 60 s), with
/// `Content-Encoding: gzip` on paths ending in `.enc`.
fn serve(body: Vec<u8>, n: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().take(n) {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut req = [0u8; 4096];
            let got = s.read(&mut req).unwrap_or(0);
            let line = String::from_utf8_lossy(&req[..got]).to_string();
            let enc = line
                .split_whitespace()
                .nth(1)
                .is_some_and(|p| p.ends_with(".enc"));
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{}connection: close\r\n\r\n",
                body.len(),
                if enc { "content-encoding: gzip\r\n" } else { "" }
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}")
}

fn server() -> Server {
    Server::start(Opts {
        intel: format!("max_feed_mib = {LIMIT_MIB}"),
        // The bomb server is on 127.0.0.1.
        extra: "[egress]\nallow_private = true\n".into(),
        ..Opts::default()
    })
}

#[test]
fn gzip_bomb_feed_fails_its_pull_naming_the_limit() {
    let mut s = server();
    let admin = s.admin();
    let base = serve(bomb(), 4);
    // A gzip file, and the same bytes as a gzip Content-Encoding.
    for (name, path) in [("bomb-file", "/list.txt.gz"), ("bomb-enc", "/list.txt.enc")] {
        let (st, b) = admin.post(
            "/api/v1/intel/feeds",
            &json!({"name": name, "kind": "url", "url": format!("{base}{path}"), "interval_secs": 3600}),
        );
        assert_eq!(st, 201, "{b}");
        let (st, b) = admin.post(&format!("/api/v1/intel/feeds/{name}/pull"), &json!({}));
        assert!((400..600).contains(&st) && st != 500, "{name}: {st} {b}");
        let msg = b["error"].as_str().unwrap_or_default();
        assert!(
            msg.contains(&format!("{LIMIT_MIB} MiB")) && msg.contains("max_feed_mib"),
            "{name}: {msg}"
        );
        s.assert_alive();
    }
    // The failure is on the feed for the console and the API.
    let (_, feeds) = admin.get("/api/v1/intel/feeds");
    assert!(feeds.to_string().contains("max_feed_mib"), "{feeds}");
    let peak = s.peak_rss_mib();
    assert!(peak < RSS_CAP_MIB, "peak RSS {peak} MiB");
}

#[test]
fn gzip_bomb_import_is_refused_with_413() {
    let mut s = server();
    let analyst = s.token("analyst");
    let (st, b) = analyst.post_raw(
        "/api/v1/intel/import?name=bomb",
        "application/octet-stream",
        &bomb(),
    );
    assert_eq!(st, 413, "{b}");
    let msg = b["error"].as_str().unwrap_or_default();
    assert!(msg.contains("max_feed_mib"), "{msg}");
    s.assert_alive();
    let peak = s.peak_rss_mib();
    assert!(peak < RSS_CAP_MIB, "peak RSS {peak} MiB");
    // An honest import still works.
    let (st, b) = analyst.post_raw(
        "/api/v1/intel/import?name=ok&format=text",
        "text/plain",
        b"203.0.113.7\n",
    );
    assert!(st == 200, "{st} {b}");
}

/// Issue 13 item 4: `taishi intel import` beside a running server. The CLI
/// refuses to write behind the server's back and imports through it with
/// --server; indicators written to the folder by another process anyway
/// are not erased by the next import from the console, and are matched.
#[test]
fn cli_import_beside_a_server_goes_through_it_and_nothing_is_lost() {
    let s = Server::start(Opts::default());
    let data = s.dir.path().join("data");
    let file = s.dir.path().join("cli-list.txt");
    std::fs::write(&file, "203.0.113.50\n203.0.113.51\n").unwrap();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(taishi_bin())
            .args(["intel", "import", "--data", data.to_str().unwrap()])
            .args(extra)
            .arg(&file)
            .env_remove("TAISHI_TOKEN")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // Without --server: a clear refusal, nothing written.
    let (code, err, _) = run(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("taishi serve` is running") && err.contains("--server"),
        "{err}"
    );
    assert!(
        !data.join("intel/state.json").exists()
            || !std::fs::read_to_string(data.join("intel/state.json"))
                .unwrap()
                .contains("cli-list")
    );

    // With --server: imported through the server, visible at once.
    let analyst = s.token("analyst");
    let token = analyst
        .auth
        .clone()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_string();
    let url = format!("http://{}", s.http);
    let (code, err, out) = run(&["--server", &url, "--token", &token]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("cli-list.txt: 2 added"), "{out}");
    let (st, b) = analyst.get("/api/v1/intel");
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["sources"]["cli-list.txt"]["indicators"], 2, "{b}");

    // Another process writes the folder behind the server's back (an older
    // CLI, a script)…
    let mut behind = taishi_intel::IndicatorStore::open(data.join("intel")).unwrap();
    let batch = taishi_intel::import::parse(
        &taishi_intel::Format::Text,
        "behind",
        "behind",
        b"198.51.100.77\n",
    );
    behind
        .import(
            "behind",
            batch,
            taishi_intel::ImportMode::Replace,
            None,
            None,
        )
        .unwrap();
    // …then someone imports from the console: every source stays.
    let (st, b) = analyst.post_raw(
        "/api/v1/intel/import?name=console&format=text",
        "text/plain",
        b"192.0.2.99\n",
    );
    assert_eq!(st, 200, "{b}");
    let (_, b) = analyst.get("/api/v1/intel");
    for (source, n) in [("cli-list.txt", 2), ("behind", 1), ("console", 1)] {
        assert_eq!(b["sources"][source]["indicators"], n, "{source}: {b}");
    }
    let (_, b) = analyst.get("/api/v1/intel/indicators?source=behind");
    assert_eq!(b["total"], 1, "{b}");
}
