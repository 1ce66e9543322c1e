//! Acknowledged means stored: ingest over HTTP into a server running as a
//! separate process, `kill -9` it part-way (twice), restart it, and find
//! every acknowledged event exactly once.
//!
//! The test binary runs itself as the server: `server_process` does nothing
//! unless `TAISHI_DURABILITY_DIR` is set.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::*;
use serde_json::json;
use taishi_store::{Filter, SearchRequest, Store, StoreConfig, TimeRange};

#[test]
fn server_process() {
    let Ok(dir) = std::env::var("TAISHI_DURABILITY_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let mut cfg = config(dir);
    cfg.http.listen = std::env::var("TAISHI_DURABILITY_ADDR")
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = taishi_serve::start(cfg).await.unwrap();
        println!("ADDR {}", s.http_addr);
        if !s.first_accounts.is_empty() {
            println!("PW {}", common::admin_password(&s));
        }
        println!("READY");
        // Runs until killed.
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

fn spawn(dir: &Path, addr: SocketAddr) -> (Child, Option<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "server_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TAISHI_DURABILITY_DIR", dir)
        .env("TAISHI_DURABILITY_ADDR", addr.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut pw = None;
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(p) = line.strip_prefix("PW ") {
            pw = Some(p.to_string());
        }
        if line.contains("READY") {
            break;
        }
    }
    (child, pw)
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Sends batches of 50 until the server stops answering; returns the ids
/// of the batches it acknowledged.
fn ingest_until_killed(
    c: &Client,
    first_batch: usize,
    child: Arc<Mutex<Child>>,
    kill_after: usize,
) -> Vec<usize> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let mut batch = first_batch;
    loop {
        let events: Vec<_> = (0..50)
            .map(|i| {
                let mut e = sysmon_event(batch * 50 + i, false);
                e["test.id"] = json!(format!("b{batch}-{i}"));
                e
            })
            .collect();
        let s = c
            .try_post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&events))
            .unwrap_or(0);
        if s == 200 {
            acked.lock().unwrap().push(batch);
        } else if killed.load(Ordering::SeqCst) {
            break;
        }
        batch += 1;
        if batch - first_batch == kill_after && !killed.load(Ordering::SeqCst) {
            // Kill while the next requests are in flight.
            let (child, killed) = (child.clone(), killed.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                child.lock().unwrap().kill().unwrap();
                killed.store(true, Ordering::SeqCst);
            });
        }
        if batch - first_batch > kill_after + 10_000 {
            break;
        }
    }
    let v = acked.lock().unwrap().clone();
    v
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();

    let (child, pw) = spawn(dir.path(), addr);
    let child = Arc::new(Mutex::new(child));
    let mut c = Client::login(addr, &pw.expect("first start"));
    let mut acked = ingest_until_killed(&c, 0, child.clone(), 40);
    child.lock().unwrap().wait().unwrap();
    assert!(acked.len() >= 40, "{}", acked.len());

    // Restart: the token still works (state survived), ingest continues.
    let (child2, pw2) = spawn(dir.path(), addr);
    assert!(pw2.is_none(), "the admin is created only once");
    let child2 = Arc::new(Mutex::new(child2));
    c.base = format!("http://{addr}");
    let more = ingest_until_killed(&c, 100_000, child2.clone(), 20);
    child2.lock().unwrap().wait().unwrap();
    assert!(more.len() >= 20);
    acked.extend(more);

    // Open the store as the next start would, and count.
    let store = Store::open(dir.path().join("data/events"), StoreConfig::default()).unwrap();
    let range = TimeRange::new(
        Utc.timestamp_opt(0, 0).unwrap(),
        Utc::now() + chrono::TimeDelta::days(3650),
    );
    let res = store
        .search(&SearchRequest {
            filter: Filter::exists("test.id"),
            range,
            limit: 1_000_000,
            offset: 0,
        })
        .unwrap();
    let mut seen = std::collections::HashMap::new();
    for h in &res.hits {
        let id = h.event.get_str("test.id").unwrap().to_string();
        *seen.entry(id).or_insert(0u32) += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dups.is_empty(),
        "duplicated: {:?}",
        &dups[..dups.len().min(5)]
    );
    let mut missing = Vec::new();
    for b in &acked {
        for i in 0..50 {
            let id = format!("b{b}-{i}");
            if !seen.contains_key(&id) {
                missing.push(id);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    eprintln!(
        "durability: {} batches acknowledged ({} events), {} stored, 0 lost, 0 duplicated",
        acked.len(),
        acked.len() * 50,
        res.hits.len()
    );
}
