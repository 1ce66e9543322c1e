//! Soak: good senders over HTTP, syslog TCP and UDP at the highest rate the
//! service acknowledges, for `TAISHI_SOAK_SECS` (default 600) — once alone
//! ("calm") and once with a hostile client mixed in ("hostile": deep and
//! wide queries from a viewer, slow and idle connections, events with
//! scattered and out-of-range timestamps). Each run has a fresh server (the
//! release binary) with every SigmaHQ rule.
//!
//! Run: `cargo bench -p taishi --bench soak` (`TAISHI_SOAK_SECS=60` for a
//! short look). Prints, for both runs and their ratio: good events
//! acknowledged per second (HTTP, TCP, UDP), the HTTP acknowledgement
//! latency (median, p99), good events stored, peak RSS, and what the
//! hostile client got back.

#[path = "../tests/hostile/harness.rs"]
mod harness;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use harness::*;
use serde_json::json;

#[derive(Default)]
struct Tally {
    http_events: AtomicU64,
    tcp_lines: AtomicU64,
    udp_sent: AtomicU64,
    latencies_ms: Mutex<Vec<f64>>,
    http_errors: AtomicU64,
    hostile_requests: AtomicU64,
    hostile_4xx: AtomicU64,
    hostile_other: AtomicU64,
}

struct Report {
    secs: f64,
    http_eps: f64,
    tcp_lps: f64,
    udp_sps: f64,
    p50_ms: f64,
    p99_ms: f64,
    stored: u64,
    sent: u64,
    peak_rss_mib: u64,
    http_errors: u64,
    hostile: (u64, u64, u64),
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn run(label: &str, secs: u64, hostile: bool, rules: Option<std::path::PathBuf>) -> Report {
    eprintln!(
        "== {label}: {secs} s{}",
        if hostile {
            " with a hostile client"
        } else {
            ""
        }
    );
    let mut s = Server::start(Opts {
        listeners: vec!["syslog-tcp", "syslog-udp"],
        rules: rules.into_iter().collect(),
        ..Opts::default()
    });
    let admin = s.admin();
    let analyst = s.token("analyst");
    let viewer = s.token("viewer");
    let tcp_addr = s.listener("syslog-tcp");
    let udp_addr = s.listener("syslog-udp");
    let http_addr = s.http;
    let tally = Tally::default();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);

    std::thread::scope(|sc| {
        // Good HTTP senders: closed loop, 500 events a request.
        for t in 0..2 {
            let (c, tally, stop) = (&analyst, &tally, &stop);
            sc.spawn(move || {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let evs: Vec<_> = (0..500)
                        .map(|k| {
                            let mut e = sysmon(i + k, "powershell Get-Date soak", None);
                            e["soak.good"] = json!(format!("http{t}"));
                            e
                        })
                        .collect();
                    i += 500;
                    let t0 = Instant::now();
                    let (st, _) =
                        c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs));
                    let ms = t0.elapsed().as_secs_f64() * 1e3;
                    if st == 200 {
                        tally.http_events.fetch_add(500, Ordering::Relaxed);
                        tally.latencies_ms.lock().unwrap().push(ms);
                    } else {
                        tally.http_errors.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            });
        }
        // A good syslog TCP sender: as fast as the socket takes lines.
        {
            let (tally, stop) = (&tally, &stop);
            sc.spawn(move || {
                let mut w = std::io::BufWriter::new(TcpStream::connect(tcp_addr).unwrap());
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
                    if writeln!(w, "<38>1 {ts} goodhost sshd {i} - - Accepted publickey for soak from 192.0.2.{} port {} ssh2", i % 250, 10000 + i % 50000).is_err() {
                        break;
                    }
                    i += 1;
                    if i.is_multiple_of(1000) {
                        let _ = w.flush();
                        tally.tcp_lines.store(i, Ordering::Relaxed);
                    }
                }
                let _ = w.flush();
                tally.tcp_lines.store(i, Ordering::Relaxed);
            });
        }
        // A good UDP sender at a steady 2,000 datagrams a second.
        {
            let (tally, stop) = (&tally, &stop);
            sc.spawn(move || {
                let u = UdpSocket::bind("127.0.0.1:0").unwrap();
                let mut i = 0u64;
                let t0 = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
                    let line = format!("<38>1 {ts} udphost sshd {i} - - Accepted password for soak from 198.51.100.{} port 22 ssh2", i % 250);
                    let _ = u.send_to(line.as_bytes(), udp_addr);
                    i += 1;
                    tally.udp_sent.store(i, Ordering::Relaxed);
                    let due = t0 + Duration::from_micros(i * 500);
                    if let Some(d) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
            });
        }
        if hostile {
            spawn_hostile(sc, &viewer, &analyst, http_addr, tcp_addr, &tally, &stop);
        }
        // Sample memory while it runs (the peak is read at the end too).
        while Instant::now() < end {
            std::thread::sleep(Duration::from_secs(1));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let took = started.elapsed().as_secs_f64();
    s.assert_alive();
    // Every good event, UDP included (a datagram may be dropped under load,
    // counted on /metrics; HTTP and TCP may not lose any).
    let sent = tally.http_events.load(Ordering::Relaxed)
        + tally.tcp_lines.load(Ordering::Relaxed)
        + tally.udp_sent.load(Ordering::Relaxed);
    // Wait for the good events to be searchable, up to a minute.
    let mut stored = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        stored = count(&admin, "soak.good:* OR message:*soak*", "now-1d");
        if stored >= sent {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let mut lat = tally.latencies_ms.lock().unwrap().clone();
    Report {
        secs: took,
        http_eps: tally.http_events.load(Ordering::Relaxed) as f64 / took,
        tcp_lps: tally.tcp_lines.load(Ordering::Relaxed) as f64 / took,
        udp_sps: tally.udp_sent.load(Ordering::Relaxed) as f64 / took,
        p50_ms: percentile(&mut lat, 0.5),
        p99_ms: percentile(&mut lat, 0.99),
        stored,
        sent,
        peak_rss_mib: s.peak_rss_mib(),
        http_errors: tally.http_errors.load(Ordering::Relaxed),
        hostile: (
            tally.hostile_requests.load(Ordering::Relaxed),
            tally.hostile_4xx.load(Ordering::Relaxed),
            tally.hostile_other.load(Ordering::Relaxed),
        ),
    }
}

fn spawn_hostile<'s>(
    sc: &'s std::thread::Scope<'s, '_>,
    viewer: &'s Client,
    analyst: &'s Client,
    http_addr: std::net::SocketAddr,
    tcp_addr: std::net::SocketAddr,
    tally: &'s Tally,
    stop: &'s AtomicBool,
) {
    let record = move |st: u16| {
        tally.hostile_requests.fetch_add(1, Ordering::Relaxed);
        if (400..500).contains(&st) {
            tally.hostile_4xx.fetch_add(1, Ordering::Relaxed);
        } else {
            tally.hostile_other.fetch_add(1, Ordering::Relaxed);
        }
    };
    // Deep and wide queries from a viewer, one after another.
    sc.spawn(move || {
        let deep = format!("{}a:b{}", "(".repeat(2_000), ")".repeat(2_000));
        let nots = format!("{}a:b", "NOT ".repeat(50_000));
        let wide = (0..20_000)
            .map(|i| format!("CommandLine:*{i}*"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let heavy = (0..1_000)
            .map(|i| format!("CommandLine:*{:03}*", i))
            .collect::<Vec<_>>()
            .join(" OR ");
        let sigma_deep = format!(
            "title: t\nlogsource: {{product: windows}}\ndetection:\n  sel: {{a: b}}\n  condition: {}sel{}\n",
            "(".repeat(5_000),
            ")".repeat(5_000)
        );
        while !stop.load(Ordering::Relaxed) {
            for q in [&deep, &nots, &wide, &heavy] {
                record(viewer.search(q, "now-1d").0);
            }
            record(
                viewer
                    .post_raw("/api/v1/rules/validate", "application/yaml", sigma_deep.as_bytes())
                    .0,
            );
            record(viewer.get("/api/v1/overview?from=now-99999999999d").0);
        }
    });
    // Slow and idle connections: half-sent HTTP headers and silent TCP.
    sc.spawn(move || {
        let mut conns: Vec<TcpStream> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            conns.retain_mut(|c| c.write_all(b"X").is_ok());
            while conns.len() < 400 {
                let addr = if conns.len().is_multiple_of(2) {
                    http_addr
                } else {
                    tcp_addr
                };
                match TcpStream::connect(addr) {
                    Ok(mut c) => {
                        let _ = c.write_all(b"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n");
                        conns.push(c);
                    }
                    Err(_) => break,
                }
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    // Scattered and out-of-range timestamps, over TCP and HTTP.
    sc.spawn(move || {
        let mut w = TcpStream::connect(tcp_addr).ok();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let day = (i * 7919) % 160;
            let ts = (chrono::Utc::now() - chrono::TimeDelta::days(day as i64))
                .format("%Y-%m-%dT%H:%M:%SZ");
            if let Some(c) = w.as_mut() {
                let line = format!("<38>1 {ts} badhost sshd {i} - - scattered\n");
                if c.write_all(line.as_bytes()).is_err() {
                    w = TcpStream::connect(tcp_addr).ok();
                }
            }
            if i.is_multiple_of(200) {
                let evs: Vec<_> = [
                    "1500-01-01T00:00:00Z",
                    "2300-01-01T00:00:00Z",
                    "9999-12-31T23:59:59Z",
                ]
                .iter()
                .map(|t| sysmon(i as usize, "out of range", Some(t)))
                .collect();
                record(
                    analyst
                        .post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs))
                        .0,
                );
            }
            i += 1;
        }
    });
}

fn main() {
    let secs: u64 = std::env::var("TAISHI_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let rules = taishi_testdata::root().map(|r| r.join("sigma/rules"));
    if rules.is_none() {
        eprintln!("no test data: the soak runs with the marker rule only");
    }
    let calm = run("calm", secs, false, rules.clone());
    let hostile = run("hostile", secs, true, rules);
    println!("\nsoak: {secs} s each, good senders: 2 HTTP (500-event requests), 1 syslog TCP, 1 UDP at 2,000/s");
    println!("{:<34} {:>14} {:>14} {:>8}", "", "calm", "hostile", "ratio");
    let row = |name: &str, a: f64, b: f64| {
        println!("{name:<34} {a:>14.1} {b:>14.1} {:>8.2}", b / a);
    };
    row(
        "HTTP events acknowledged/s",
        calm.http_eps,
        hostile.http_eps,
    );
    row("syslog TCP lines taken/s", calm.tcp_lps, hostile.tcp_lps);
    row("UDP datagrams sent/s", calm.udp_sps, hostile.udp_sps);
    row("HTTP ack latency p50 (ms)", calm.p50_ms, hostile.p50_ms);
    row("HTTP ack latency p99 (ms)", calm.p99_ms, hostile.p99_ms);
    row(
        "peak RSS (MiB)",
        calm.peak_rss_mib as f64,
        hostile.peak_rss_mib as f64,
    );
    row(
        "good HTTP+TCP events sent",
        calm.sent as f64,
        hostile.sent as f64,
    );
    row(
        "good HTTP+TCP events stored",
        calm.stored as f64,
        hostile.stored as f64,
    );
    row(
        "HTTP errors (good senders)",
        calm.http_errors as f64,
        hostile.http_errors as f64,
    );
    println!(
        "hostile requests: {} ({} answered 4xx, {} otherwise); wall {:.0} s / {:.0} s",
        hostile.hostile.0, hostile.hostile.1, hostile.hostile.2, calm.secs, hostile.secs
    );
}
