//! `taishi serve` end to end: events sent over HTTP with every SigmaHQ rule
//! loaded, acknowledged once decoded, enriched, detected on and durable in
//! the store — against decoding the same events the way `taishi parse` does,
//! in the same run.
//!
//! Run: `cargo bench -p taishi-serve --bench serve` (TAISHI_BENCH_MIB: size of
//! the EVTX the events come from, default 32; TAISHI_BENCH_CLIENTS: concurrent
//! senders, default 4). Prints medians of 3 runs, events/s, the ratio, bytes
//! on disk per event, and search latencies on what was stored. Search and
//! aggregation latencies on 10 M events: `cargo bench -p taishi-search`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};
use taishi_serve::config::Config;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

fn main() {
    let Some(root) = taishi_testdata::root() else {
        eprintln!("SKIP: no test data (../shared/data or TAISHI_TEST_DATA)");
        return;
    };
    let mib = env("TAISHI_BENCH_MIB", 32);
    let clients = env("TAISHI_BENCH_CLIENTS", 4) as usize;
    let evtx = taishi_testdata::large_evtx(mib << 20).expect("building the EVTX");

    // Baseline: what `taishi parse` does — decode, write JSON lines.
    let mut parse_times = Vec::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let (sink, _) = taishi_decode::decode_path(&evtx, &taishi_decode::Options::default());
        let mut out = Vec::with_capacity(sink.events.len());
        // Live traffic: the samples span years, but what a sensor sends now
        // is stamped now, which is what the store's day partitions expect.
        let now = chrono::Utc::now().fixed_offset();
        let count = sink.events.len() as i64;
        let mut events = sink.events;
        for (i, ev) in events.iter_mut().enumerate() {
            ev.timestamp = Some(now - chrono::TimeDelta::milliseconds(count - i as i64));
        }
        for ev in &events {
            let mut l = Vec::new();
            ev.write_json_line(&mut l);
            out.push(l);
        }
        parse_times.push(t.elapsed().as_secs_f64());
        lines = out;
    }
    let n = lines.len();
    let parse = median(parse_times);
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(lines.chunks(1000).map(|c| c.concat()).collect());
    println!(
        "input: {} ({} MiB), {n} events, {} bodies of ≤1000",
        evtx.display(),
        mib,
        bodies.len()
    );
    println!(
        "parse (decode + JSON lines): {parse:.2} s, {:.0} events/s",
        n as f64 / parse
    );

    let rules: Vec<_> = [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
    ]
    .iter()
    .map(|r| root.join("sigma").join(r))
    .filter(|p| p.exists())
    .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut e2e = Vec::new();
    let mut e2e_anomaly = Vec::new();
    let mut bytes_per_event = 0.0;
    let mut alerts = 0;
    let mut load = 0.0;
    let mut last_dir = None;
    // Anomaly detection off and on in turn, so both see the same load.
    for run in 0..3 {
        for anomaly in [false, true] {
            let r = run_once(&rt, &rules, &bodies, clients, anomaly);
            println!(
                "run {} (anomaly {}): {n} events acknowledged in {:.2} s ({:.0} events/s), {} alerts, store {} events",
                run + 1,
                if anomaly { "on" } else { "off" },
                r.took,
                n as f64 / r.took,
                r.alerts,
                r.stored
            );
            load = r.load;
            if anomaly {
                e2e_anomaly.push(r.took);
            } else {
                e2e.push(r.took);
                bytes_per_event = r.bytes_per_event;
                alerts = r.alerts;
                last_dir = Some((r.dir, r.app));
            }
        }
    }
    let e = median(e2e);
    let ea = median(e2e_anomaly);
    println!();
    println!("rules loaded and compiled at start: {load:.2} s");
    println!("end to end (HTTP → decode → enrich → store → detect → durable), {clients} clients: median {e:.2} s, {:.0} events/s", n as f64 / e);
    println!("ratio end-to-end / parse: {:.2}", e / parse);
    println!("alerts per run: {alerts}; bytes on disk per event: {bytes_per_event:.0}");
    println!(
        "with anomaly detection: median {ea:.2} s, {:.0} events/s; added ingest cost (EVTX events): {:+.1} %",
        n as f64 / ea,
        (ea / e - 1.0) * 100.0
    );
    network_mix(&rt, &rules, clients);

    // Search latencies on what the last run stored.
    if let Some((_dir, app)) = last_dir {
        for q in [
            "EventID:4688",
            "CommandLine:*powershell*",
            "* | stats count() by EventID",
            "* | top 10 Computer",
            "* | timechart 1m count() by Channel",
        ] {
            let query = taishi_query::Query::parse(q)
                .unwrap()
                .with_time_range(Some("now-3h"), Some("now+1h"))
                .unwrap();
            let mut times = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                taishi_search::execute(
                    &app.store,
                    &query,
                    &taishi_search::SearchOptions::default(),
                )
                .unwrap();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            println!(
                "search `{q}`: median {:.1} ms over {n} events",
                median(times)
            );
        }
    }
}

/// One server run: start, send every body, shut down.
struct Run {
    took: f64,
    load: f64,
    alerts: u64,
    stored: u64,
    bytes_per_event: f64,
    dir: tempfile::TempDir,
    app: Arc<taishi_serve::App>,
}

fn run_once(
    rt: &tokio::runtime::Runtime,
    rules: &[std::path::PathBuf],
    bodies: &Arc<Vec<Vec<u8>>>,
    clients: usize,
    anomaly: bool,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    cfg.http.listen = "127.0.0.1:0".parse().unwrap();
    cfg.detection.rules = rules.to_vec();
    cfg.detection.min_level = "informational".into();
    cfg.anomaly.enabled = anomaly;
    let t = Instant::now();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let load = t.elapsed().as_secs_f64();
    let base = format!("http://{}", server.http_addr);
    // The first start's security administrator may make ingest tokens
    // only as an analyst too: one account with both, made in-process.
    let pw = "Bench-admin-Passw0rd";
    server
        .app
        .state
        .create_user(
            "admin",
            taishi_serve::state::ROOT_ORG,
            &["secadmin".to_string(), "analyst".to_string()],
            &taishi_auth::hash_password(pw).unwrap(),
        )
        .unwrap();
    let a = agent();
    let mut r = a
        .post(&format!("{base}/api/v1/auth/login"))
        .send_json(json!({"username": "admin", "password": pw}))
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf: J = r.body_mut().read_json().unwrap();
    let tok: J = a
        .post(&format!("{base}/api/v1/tokens"))
        .header("cookie", &cookie)
        .header("x-taishi-csrf", csrf["csrf"].as_str().unwrap())
        .send_json(json!({"name": "bench"}))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let auth = format!("Bearer {}", tok["secret"].as_str().unwrap());

    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            let (next, bodies, base, auth) =
                (next.clone(), bodies.clone(), base.clone(), auth.clone());
            s.spawn(move || {
                let a = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(b) = bodies.get(i) else { break };
                    let r = a
                        .post(&format!("{base}/api/v1/ingest"))
                        .header("authorization", &auth)
                        .header("content-type", "application/x-ndjson")
                        .send(&b[..])
                        .unwrap();
                    assert_eq!(r.status(), 200, "batch {i} not acknowledged");
                }
            });
        }
    });
    let took = t.elapsed().as_secs_f64();
    let app = server.app.clone();
    rt.block_on(server.shutdown()).unwrap();
    let st = app.store.stats();
    Run {
        took,
        load,
        alerts: app.pipeline.counters.alerts_raised.load(Ordering::Relaxed),
        stored: st.events,
        bytes_per_event: st.bytes_per_event,
        dir,
        app,
    }
}

/// Network events (what the anomaly detectors read): Zeek conn and DNS
/// records as ECS JSON lines, 500 hosts talking to 5,000 servers over
/// the last hour, sent with anomaly detection off and on in turn.
fn network_mix(rt: &tokio::runtime::Runtime, rules: &[std::path::PathBuf], clients: usize) {
    let n = env("TAISHI_BENCH_NET", 200_000) as usize;
    let now = chrono::Utc::now();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let lines: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let ts = now - chrono::TimeDelta::milliseconds(((n - i) * 3_600_000 / n) as i64);
            let src = format!("10.1.{}.{}", rnd() % 2, rnd() % 250);
            let v = if i % 10 < 7 {
                json!({"@timestamp": ts.to_rfc3339(), "event.dataset": "zeek.conn",
                    "source.ip": src, "destination.ip": format!("198.51.{}.{}", rnd() % 20, rnd() % 250),
                    "destination.port": 443, "network.transport": "tcp", "conn_state": "SF",
                    "source.bytes": rnd() % 5000, "destination.bytes": rnd() % 100_000})
            } else {
                json!({"@timestamp": ts.to_rfc3339(), "event.dataset": "zeek.dns",
                    "source.ip": src, "destination.ip": "10.1.0.1",
                    "dns.question.name": format!("host{}.example{}.com", rnd() % 50, rnd() % 2000),
                    "dns.question.type": "A", "dns.response_code": "NOERROR"})
            };
            let mut l = serde_json::to_vec(&v).unwrap();
            l.push(b'\n');
            l
        })
        .collect();
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(lines.chunks(1000).map(|c| c.concat()).collect());
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        for anomaly in [false, true] {
            let r = run_once(rt, rules, &bodies, clients, anomaly);
            if anomaly {
                on.push(r.took)
            } else {
                off.push(r.took)
            }
        }
    }
    let (off, on) = (median(off), median(on));
    println!(
        "network events ({n} Zeek conn/DNS): anomaly off {off:.2} s ({:.0} events/s), on {on:.2} s ({:.0} events/s); added ingest cost: {:+.1} %",
        n as f64 / off,
        n as f64 / on,
        (on / off - 1.0) * 100.0
    );
}
