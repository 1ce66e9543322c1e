//! Store benchmark on synthetic events in the Taishi layout (a mix of
//! network and Windows events, ~25 fields each).
//!
//!     cargo bench -p taishi-store --bench store            # 1,000,000 events
//!     TAISHI_STORE_BENCH_EVENTS=200000 cargo bench -p taishi-store --bench store
//!
//! Prints ingest throughput (through the WAL, group commits of 1,000 events,
//! an index checkpoint every 100,000), bytes on disk, and median latencies of
//! typical searches (11 warm runs each).

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use taishi_event::{Event, Value};
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut last = None;
    let mut runs = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        last = Some(f());
        runs.push(t.elapsed());
    }
    (median(runs), last.unwrap())
}

fn main() {
    let total: u64 = std::env::var("TAISHI_STORE_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir_in(
        std::env::var("TAISHI_STORE_BENCH_DIR")
            .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .unwrap();
    let mut config = StoreConfig::default();
    if let Some(n) = std::env::var("TAISHI_STORE_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        config.writer_threads = n;
    }
    if let Some(n) = std::env::var("TAISHI_STORE_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        config.writer_memory_bytes = n << 20;
    }
    println!(
        "taishi-store bench: {total} events, writer {} thread(s) x {} MiB, zstd {}",
        config.writer_threads,
        config.writer_memory_bytes >> 20,
        config.docstore_zstd_level
    );
    let store = Store::open(dir.path(), config).unwrap();

    let day = DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let step = 86_400_000_000 / total as i64; // spread evenly over one UTC day
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ingest = Duration::ZERO;
    let mut raw_json = 0u64;
    let mut n = 0u64;
    while n < total {
        let batch: Vec<Event> = (n..(n + 1000).min(total))
            .map(|i| {
                let ts = day + TimeDelta::microseconds(step * i as i64);
                if r.below(5) < 2 {
                    network(&mut r, ts, i)
                } else {
                    windows(&mut r, ts, i)
                }
            })
            .collect();
        raw_json += batch
            .iter()
            .map(|e| e.to_json_string().len() as u64 + 1)
            .sum::<u64>();
        let t = Instant::now();
        store.append_batch(&batch).unwrap();
        store.commit().unwrap();
        n += batch.len() as u64;
        if n.is_multiple_of(100_000) || n == total {
            store.checkpoint().unwrap();
        }
        ingest += t.elapsed();
    }
    let stats = store.stats();
    println!(
        "ingest: {:.0} events/s ({:.1} s); JSON {:.0} B/event; index {:.1} MB = {:.0} B/event ({} partition(s)); WAL left {} B",
        total as f64 / ingest.as_secs_f64(),
        ingest.as_secs_f64(),
        raw_json as f64 / total as f64,
        stats.index_bytes as f64 / 1e6,
        stats.bytes_per_event,
        stats.partitions.len(),
        stats.wal_bytes
    );

    let whole = TimeRange::new(day, day + TimeDelta::days(1));
    let search = |filter: Filter| {
        let req = SearchRequest {
            filter,
            range: whole,
            limit: 100,
            offset: 0,
        };
        time(|| store.search(&req).unwrap())
    };
    let row = |name: &str, d: Duration, what: String| {
        println!("{name:<44} {:>9.2} ms   {what}", d.as_secs_f64() * 1e3)
    };

    let (d, r) = search(Filter::term("user.name", "Dave"));
    row(
        "term user.name:dave (top 100 + count)",
        d,
        format!("{} hits", r.total),
    );
    let (d, r) = search(Filter::And(vec![
        Filter::term("destination.port", "443"),
        Filter::range("network.bytes", Some(1_000_000.0), None),
    ]));
    row(
        "range + term (port 443, bytes >= 1e6)",
        d,
        format!("{} hits", r.total),
    );
    let (d, r) = search(Filter::And(vec![
        Filter::term("EventID", "4688"),
        Filter::wildcard("CommandLine", "*whoami*"),
    ]));
    row("term + wildcard *whoami*", d, format!("{} hits", r.total));
    let (d, r) = search(Filter::text("hidden enc"));
    row(
        "full-text phrase \"hidden enc\"",
        d,
        format!("{} hits", r.total),
    );
    let (d, r) = search(Filter::cidr(
        "destination.ip",
        "192.168.0.0/22".parse().unwrap(),
    ));
    row(
        "cidr destination.ip 192.168.0.0/22",
        d,
        format!("{} hits", r.total),
    );
    let (d, r) = search(Filter::All);
    row("100 newest hits", d, format!("{} total", r.total));
    let (d, r) = time(|| {
        store
            .aggregate(
                &Filter::All,
                whole,
                &Aggregation::Terms {
                    field: "source.ip".into(),
                    size: 10,
                    then: None,
                },
            )
            .unwrap()
    });
    let top = match r {
        AggResult::Terms { buckets, .. } => {
            buckets.first().map(|b| format!("{} x{}", b.key, b.count))
        }
        _ => None,
    };
    row("top-10 source.ip", d, top.unwrap_or_default());
    let (d, r) = time(|| {
        store
            .aggregate(
                &Filter::All,
                whole,
                &Aggregation::DateHistogram {
                    interval: TimeDelta::hours(1),
                    split: None,
                },
            )
            .unwrap()
    });
    let n = match r {
        AggResult::DateHistogram(b) => b.len(),
        _ => 0,
    };
    row("1 h date histogram over the day", d, format!("{n} buckets"));
    let (d, _) = time(|| {
        store
            .aggregate(
                &Filter::All,
                whole,
                &Aggregation::DateHistogram {
                    interval: TimeDelta::hours(1),
                    split: Some(("event.category".into(), 5)),
                },
            )
            .unwrap()
    });
    row("1 h histogram split by event.category", d, String::new());
    let (d, r) = time(|| {
        store
            .aggregate(
                &Filter::term("event.category", "network"),
                whole,
                &Aggregation::Stats {
                    field: "network.bytes".into(),
                },
            )
            .unwrap()
    });
    let avg = match r {
        AggResult::Stats(s) => s.avg.unwrap_or(0.0),
        _ => 0.0,
    };
    row(
        "stats network.bytes (network events)",
        d,
        format!("avg {avg:.0}"),
    );
    let _ = Value::Null;
}
