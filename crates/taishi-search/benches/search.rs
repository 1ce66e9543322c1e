//! Search benchmark: a store of realistic generated events (Zeek-style
//! connections, Windows 4688/Sysmon 1 process events, syslog auth lines)
//! over several days, then the median latency of typical searches through
//! `taishi_search::execute`.
//!
//!     cargo bench -p taishi-search --bench search          # 10,000,000 events
//!     TAISHI_BENCH_EVENTS=500000 cargo bench -p taishi-search --bench search
//!
//! The store is kept under the temp dir, keyed by size
//! (`taishi-search-bench-<N>`), and reused by later runs; delete it to
//! measure ingest again. Each line gives the median of 7 warm runs; the
//! baseline is the same work asked of the store directly (the cost of the
//! query language on top).
//!
//! Measured 2026-11-23 on the 2-core build machine (other builds running),
//! 10,000,000 events (40 % Zeek conn, 40 % Windows process, 20 % sshd auth;
//! 725 B of JSON each) over 5 UTC days:
//!
//! ```text
//! ingest: 10000000 events in 318.0 s = 31443 events/s (WAL fsync per 1,000, checkpoint per 500,000)
//! disk: 3849.9 MB in 5 partitions = 385 B/event
//! term user.name:dave (100 newest + histogram)        3.77 ms   100 of 11689 hits  x2.02 vs store call
//! free text "hidden enc"                             88.99 ms   100 of 1000431 hits
//! free text failed password                          29.07 ms   100 of 1498840 hits
//! count by event.code, 1 h                            1.70 ms   4 rows
//! count by event.code, whole range                   86.98 ms   4 rows
//! top 10 source.ip                                  109.26 ms   10 rows  x1.13 vs store call
//! timechart 1h count() by event.dataset             181.13 ms   240 rows
//! ```

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use taishi_event::Event;
use taishi_query::Query;
use taishi_search::{execute, Output, SearchOptions};
use taishi_store::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, no dependency.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Skewed pick: low indices far more often (like real traffic).
    fn skewed(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b).min(self.below(n))
    }
}

const USERS: [&str; 8] = [
    "SYSTEM",
    "admin",
    "alice",
    "bob",
    "carol",
    "svc_backup",
    "LOCAL SERVICE",
    "dave",
];
const IMAGES: [&str; 6] = [
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
    "C:\\Windows\\explorer.exe",
    "C:\\Windows\\System32\\rundll32.exe",
];

fn ip4(r: &mut Rng, net: &str, hosts: u64) -> String {
    let h = r.skewed(hosts);
    format!("{net}.{}.{}", h / 250, h % 250 + 1)
}

fn network(r: &mut Rng, ts: DateTime<Utc>, n: u64) -> Event {
    let mut e = Event::with_capacity(26);
    e.timestamp = Some(ts.fixed_offset());
    let (proto, port) = [
        ("dns", 53u16),
        ("tls", 443),
        ("http", 80),
        ("ssh", 22),
        ("smb", 445),
    ][r.skewed(5) as usize];
    let src = ip4(r, "10.1", 5000);
    let dst = if r.below(3) == 0 {
        ip4(r, "192.168", 400)
    } else {
        format!(
            "{}.{}.{}.{}",
            r.below(223) + 1,
            r.below(256),
            r.below(256),
            r.below(254) + 1
        )
    };
    let sport = 1024 + r.below(60000);
    let ob = r.skewed(200_000);
    let rb = r.skewed(2_000_000);
    e.push("ts", ts.timestamp() as f64 + 0.123);
    e.push("uid", format!("C{:016x}", r.next()));
    e.push("id.orig_h", src.as_str());
    e.push("id.orig_p", sport);
    e.push("id.resp_h", dst.as_str());
    e.push("id.resp_p", port);
    e.push("proto", if port == 53 { "udp" } else { "tcp" });
    e.push("service", proto);
    e.push("duration", r.below(100_000) as f64 / 1000.0);
    e.push("orig_bytes", ob);
    e.push("resp_bytes", rb);
    e.push(
        "conn_state",
        ["SF", "S0", "REJ", "RSTO"][r.skewed(4) as usize],
    );
    e.push("history", "ShADadFf");
    e.push("event.kind", "event");
    e.push("event.category", "network");
    e.push("event.dataset", "zeek.conn");
    e.push("source.ip", src);
    e.push("source.port", sport);
    e.push("destination.ip", dst);
    e.push("destination.port", port);
    e.push("network.transport", if port == 53 { "udp" } else { "tcp" });
    e.push("network.protocol", proto);
    e.push("network.bytes", ob + rb);
    e.push("network.community_id", format!("1:{:x}", r.next()));
    e.push("observer.name", format!("sensor-{:02}", n % 7));
    e
}

fn windows(r: &mut Rng, ts: DateTime<Utc>, n: u64) -> Event {
    let mut e = Event::with_capacity(28);
    e.timestamp = Some(ts.fixed_offset());
    let host = format!("WS{:04}.corp.example", r.skewed(800));
    let user = USERS[r.skewed(USERS.len() as u64) as usize];
    let image = IMAGES[r.skewed(IMAGES.len() as u64) as usize];
    let (id, channel) = if r.below(2) == 0 {
        (4688i64, "Security")
    } else {
        (1, "Microsoft-Windows-Sysmon/Operational")
    };
    let pid = 1000 + r.below(60000);
    let cmd = match r.below(4) {
        0 => format!("{image} -k netsvcs -p -s Schedule"),
        1 => format!(
            "\"{image}\" /c whoami /all > C:\\Users\\{user}\\AppData\\Local\\Temp\\out{}.txt",
            r.below(1000)
        ),
        2 => format!("{image} -nop -w hidden -enc {:x}{:x}", r.next(), r.next()),
        _ => format!("{image} shell32.dll,Control_RunDLL {}", r.below(100)),
    };
    e.push("EventID", id);
    e.push("Channel", channel);
    e.push("Computer", host.as_str());
    e.push(
        "Provider_Name",
        if id == 1 {
            "Microsoft-Windows-Sysmon"
        } else {
            "Microsoft-Windows-Security-Auditing"
        },
    );
    e.push("EventRecordID", n);
    e.push("Level", 4);
    e.push("Task", 13312);
    e.push("ProcessID", 4);
    e.push("ThreadID", 100 + r.below(9000));
    e.push("Image", image);
    e.push("CommandLine", cmd.as_str());
    e.push("ParentImage", IMAGES[r.below(IMAGES.len() as u64) as usize]);
    e.push("User", format!("CORP\\{user}"));
    e.push(
        "IntegrityLevel",
        ["Medium", "High", "System"][r.skewed(3) as usize],
    );
    e.push(
        "Hashes",
        format!("SHA256={:016X}{:016X}", r.next(), r.next()),
    );
    e.push("event.code", id.to_string());
    e.push("event.category", "process");
    e.push("event.type", "start");
    e.push("host.name", host);
    e.push("user.name", user);
    e.push("user.domain", "CORP");
    e.push("process.pid", pid);
    e.push("process.executable", image);
    e.push("process.command_line", cmd);
    e.push("process.parent.pid", 1000 + r.below(60000));
    e.push("winlog.channel", channel);
    e
}

fn syslog(r: &mut Rng, ts: DateTime<Utc>, n: u64) -> Event {
    let mut e = Event::with_capacity(14);
    e.timestamp = Some(ts.fixed_offset());
    let host = format!("srv{:03}", r.skewed(200));
    let user = USERS[r.skewed(USERS.len() as u64) as usize];
    let src = ip4(r, "203.0", 20000);
    let ok = r.below(4) == 0;
    let port = 1024 + r.below(60000);
    let msg = if ok {
        format!("Accepted publickey for {user} from {src} port {port} ssh2")
    } else {
        format!("Failed password for invalid user {user} from {src} port {port} ssh2")
    };
    e.push("host.name", host.as_str());
    e.push("process.name", "sshd");
    e.push("process.pid", 1000 + r.below(30000));
    e.push("log.syslog.facility.name", "auth");
    e.push("log.syslog.severity.name", "info");
    e.push("message", msg);
    e.push("event.dataset", "system.auth");
    e.push("event.category", "authentication");
    e.push("event.outcome", if ok { "success" } else { "failure" });
    e.push("event.code", if ok { "ssh_login" } else { "ssh_fail" });
    e.push("source.ip", src);
    e.push("source.port", port);
    e.push("user.name", user);
    e.push("observer.name", format!("relay-{}", n % 3));
    e
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut last = None;
    let mut runs = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        last = Some(f());
        runs.push(t.elapsed());
    }
    (median(runs), last.unwrap())
}

const DAYS: i64 = 5;

fn build(dir: &std::path::Path, total: u64, start: DateTime<Utc>) {
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    let step = DAYS * 86_400_000_000 / total as i64;
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ingest = Duration::ZERO;
    let mut json = 0u64;
    let mut n = 0u64;
    while n < total {
        let batch: Vec<Event> = (n..(n + 1000).min(total))
            .map(|i| {
                let ts = start + TimeDelta::microseconds(step * i as i64);
                match r.below(10) {
                    0..=3 => network(&mut r, ts, i),
                    4..=7 => windows(&mut r, ts, i),
                    _ => syslog(&mut r, ts, i),
                }
            })
            .collect();
        if n < 100_000 {
            json += batch
                .iter()
                .map(|e| e.to_json_string().len() as u64 + 1)
                .sum::<u64>();
        }
        let t = Instant::now();
        store.append_batch(&batch).unwrap();
        store.commit().unwrap();
        n += batch.len() as u64;
        if n.is_multiple_of(500_000) || n == total {
            store.checkpoint().unwrap();
        }
        ingest += t.elapsed();
    }
    let stats = store.stats();
    println!(
        "ingest: {total} events in {:.1} s = {:.0} events/s (WAL fsync per 1,000, checkpoint per 500,000); JSON {:.0} B/event",
        ingest.as_secs_f64(),
        total as f64 / ingest.as_secs_f64(),
        json as f64 / total.min(100_000) as f64,
    );
    println!(
        "disk: {:.1} MB in {} partitions = {:.0} B/event",
        stats.index_bytes as f64 / 1e6,
        stats.partitions.len(),
        stats.bytes_per_event
    );
    store.close().unwrap();
    std::fs::write(dir.join("bench-complete"), b"").unwrap();
}

fn main() {
    let total: u64 = std::env::var("TAISHI_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let start = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let end = start + TimeDelta::days(DAYS);
    let dir = std::env::temp_dir().join(format!("taishi-search-bench-{total}"));
    if !dir.join("bench-complete").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        println!(
            "building a store of {total} events over {DAYS} days in {}",
            dir.display()
        );
        build(&dir, total, start);
    } else {
        println!(
            "reusing {} (delete it to measure ingest again)",
            dir.display()
        );
    }
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let st = store.stats();
    println!(
        "store: {} events, {:.0} B/event on disk",
        st.events, st.bytes_per_event
    );
    let now = end.fixed_offset();
    let whole = (start.to_rfc3339(), end.to_rfc3339());
    let hour = (
        (start + TimeDelta::hours(50)).to_rfc3339(),
        (start + TimeDelta::hours(51)).to_rfc3339(),
    );
    let opts = SearchOptions::default();
    let run = |text: &str, range: &(String, String)| {
        let q = Query::parse_at(text, now)
            .unwrap()
            .with_time_range(Some(&range.0), Some(&range.1))
            .unwrap();
        time(|| execute(&store, &q, &opts).unwrap())
    };
    let what = |o: &taishi_search::SearchOutput| match &o.result {
        Output::Hits { total, events } => format!("{} of {total} hits", events.len()),
        Output::Table { rows, .. } => format!("{} rows", rows.len()),
    };
    let row = |name: &str, d: Duration, base: Option<Duration>, what: String| {
        let ratio = base.map_or(String::new(), |b| {
            format!(
                "  x{:.2} vs store call",
                d.as_secs_f64() / b.as_secs_f64().max(1e-9)
            )
        });
        println!(
            "{name:<46} {:>9.2} ms   {what}{ratio}",
            d.as_secs_f64() * 1e3
        );
    };
    let range = TimeRange::new(start, end);

    let (base, _) = time(|| {
        store
            .search(&SearchRequest {
                filter: Filter::term("user.name", "dave"),
                range,
                limit: 100,
                offset: 0,
            })
            .unwrap()
    });
    let (d, o) = run("user.name:dave", &whole);
    row(
        "term user.name:dave (100 newest + histogram)",
        d,
        Some(base),
        what(&o),
    );
    let (d, o) = run("\"hidden enc\"", &whole);
    row("free text \"hidden enc\"", d, None, what(&o));
    let (d, o) = run("failed password", &whole);
    row("free text failed password", d, None, what(&o));
    let (d, o) = run("* | stats count() by event.code", &hour);
    row("count by event.code, 1 h", d, None, what(&o));
    let (d, o) = run("* | stats count() by event.code", &whole);
    row("count by event.code, whole range", d, None, what(&o));
    let (base, _) = time(|| {
        store
            .aggregate(
                &Filter::All,
                range,
                &Aggregation::Terms {
                    field: "source.ip".into(),
                    size: 10,
                    then: None,
                },
            )
            .unwrap()
    });
    let (d, o) = run("* | top 10 source.ip", &whole);
    row("top 10 source.ip", d, Some(base), what(&o));
    let (d, o) = run("* | timechart 1h count() by event.dataset", &whole);
    row("timechart 1h count() by event.dataset", d, None, what(&o));
}
