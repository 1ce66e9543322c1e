//! Throughput of the scanner with every detector on, over ≥ 1 GiB of generated
//! mixed text (syslog, access logs, JSON, CSV, Chinese application logs) with
//! personal information sprinkled in, against a plain read of the same bytes
//! (a memchr count of newlines) in the same run. Medians of three runs, one
//! thread, timed in CPU time (the build machines are shared).
//!
//! `cargo bench -p taishi-pii --bench scan` (TAISHI_PII_BENCH_MIB sets the size).

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::{Duration, Instant};
use taishi_pii::{Kind, KindSet, ScanConfig, ScanOutput, Scanner};

/// One generated line; about one line in twelve holds personal information.
fn line(r: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let pi = r.below(12) == 0;
    let ip = format!(
        "{}.{}.{}.{}",
        1 + r.below(223),
        r.below(256),
        r.below(256),
        1 + r.below(254)
    );
    let ts = format!(
        "2026-12-{:02}T{:02}:{:02}:{:02}.{:03}+08:00",
        1 + r.below(28),
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000)
    );
    let _ = match r.below(10) {
        0..=2 => writeln!(
            out,
            "{ts} web{:02} sshd[{}]: Accepted publickey for deploy from {ip} port {} ssh2: RSA SHA256:{}",
            r.below(20),
            r.below(65536),
            1024 + r.below(60000),
            r.digits(12)
        ),
        3..=4 => writeln!(
            out,
            "{ip} - - [06/Dec/2026:{:02}:{:02}:{:02} +0800] \"GET /api/v1/orders/{}?page={}{} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36\"",
            r.below(24),
            r.below(60),
            r.below(60),
            r.digits(10),
            r.below(50),
            if pi { format!("&mobile={}", mobile(r)) } else { String::new() },
            r.below(100_000)
        ),
        5..=6 => writeln!(
            out,
            "{{\"@timestamp\":\"{ts}\",\"level\":\"info\",\"service\":\"order\",\"trace_id\":\"{}\",\"user_id\":{},\"msg\":\"order created\",\"amount\":{}.{:02}{}}}",
            r.digits(16),
            r.below(10_000_000),
            r.below(10_000),
            r.below(100),
            if pi { format!(",\"id_card\":\"{}\",\"name\":\"{}\"", resident_id(r), name(r)) } else { String::new() }
        ),
        7..=8 => writeln!(
            out,
            "{},{},{},{},{}.{:02},{}",
            r.digits(8),
            if pi { name(r) } else { "N/A".into() },
            if pi { mobile(r) } else { format!("0755-{}", r.digits(8)) },
            if pi { card(r) } else { r.digits(6) },
            r.below(100_000),
            r.below(100),
            if pi { address(r) } else { "-".into() }
        ),
        _ => writeln!(
            out,
            "{ts} [INFO] 用户登录成功，来源 {ip}，耗时 {} 毫秒{}",
            r.below(1000),
            if pi { format!("，联系人：{}，手机：{}，邮箱 user{}@example.com", name(r), mobile(r), r.below(100_000)) } else { String::new() }
        ),
    };
}

/// `mib` MiB of text: a 64 MiB pool of lines repeated (generation would
/// otherwise take longer than the scans).
fn corpus(mib: usize) -> Vec<u8> {
    let mut r = Rng(2026);
    let pool_size = (64usize << 20).min(mib << 20);
    let mut pool = String::with_capacity(pool_size + 4096);
    while pool.len() < pool_size {
        line(&mut r, &mut pool);
    }
    let mut buf = Vec::with_capacity((mib << 20) + pool.len());
    while buf.len() < mib << 20 {
        buf.extend_from_slice(pool.as_bytes());
    }
    buf
}

/// Splits at newlines into pieces of about 1 MiB (as the file scanner will read them).
fn pieces(buf: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let want = (at + (1 << 20)).min(buf.len());
        let end = memchr::memchr(b'\n', &buf[want..]).map_or(buf.len(), |p| want + p + 1);
        out.push(&buf[at..end]);
        at = end;
    }
    out
}

/// CPU time of this thread (CLOCK_THREAD_CPUTIME_ID). The machine is shared,
/// so wall time would count other processes' slices; "per core" means per
/// CPU-second. None where the clock cannot be read (wall time is used then).
fn cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Runs `f` and returns the CPU time it took (wall time where CPU time cannot be read).
fn timed(f: impl FnOnce()) -> Duration {
    let (c, w) = (cpu_time(), Instant::now());
    f();
    match (c, cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => w.elapsed(),
    }
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn scan_all(sc: &Scanner, parts: &[&[u8]], counts: &mut [u64]) -> Duration {
    let mut out = ScanOutput::default();
    timed(|| {
        for p in parts {
            out.findings.clear();
            sc.scan_into(p, None, &mut out);
            for f in &out.findings {
                counts[f.kind as usize] += 1;
            }
        }
    })
}

fn main() {
    let mib: usize = std::env::var("TAISHI_PII_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let t = Instant::now();
    let buf = corpus(mib);
    let parts = pieces(&buf);
    let size = buf.len() as f64 / (1u64 << 20) as f64;
    println!(
        "corpus: {size:.0} MiB of mixed text in {} pieces, generated in {:.1} s",
        parts.len(),
        t.elapsed().as_secs_f64()
    );

    let read = median(
        (0..3)
            .map(|_| {
                timed(|| {
                    let n = memchr::memchr_iter(b'\n', std::hint::black_box(&buf)).count();
                    std::hint::black_box(n);
                })
            })
            .collect(),
    );
    println!(
        "times are CPU time of the scanning thread ({})",
        if cpu_time().is_some() {
            "CLOCK_THREAD_CPUTIME_ID"
        } else {
            "wall clock: no thread CPU clock here"
        }
    );
    let rate = |d: Duration| size / d.as_secs_f64();
    // What the prefilter stops at decides the speed: count it.
    let runs = buf
        .windows(2)
        .filter(|w| !w[0].is_ascii_digit() && w[1].is_ascii_digit())
        .count();
    let high = buf.iter().filter(|b| **b >= 0x80).count();
    println!(
        "density: {:.1} digit runs per KiB, {:.1} % non-ASCII bytes",
        runs as f64 / (buf.len() as f64 / 1024.0),
        high as f64 * 100.0 / buf.len() as f64
    );
    println!(
        "plain read (memchr newline count): {:>8.0} MiB/s",
        rate(read)
    );

    let configs: [(&str, KindSet); 4] = [
        ("every detector", KindSet::all()),
        (
            "without names and addresses",
            KindSet::all()
                .without(Kind::PersonName)
                .without(Kind::Address),
        ),
        (
            "numbers only (ID, credit code, mobile, card)",
            [
                Kind::CnResidentId,
                Kind::Uscc,
                Kind::CnMobile,
                Kind::BankCard,
            ]
            .into_iter()
            .collect(),
        ),
        // The floor: the prefilter and the tokenizer with every detector off.
        ("no detector (prefilter and tokens only)", KindSet::EMPTY),
    ];
    // The 64-byte block loop must find exactly what the byte loop finds.
    let check = Scanner::new(ScanConfig {
        max_findings: usize::MAX,
        ..ScanConfig::default()
    })
    .unwrap();
    for p in parts.iter().take(4) {
        assert_eq!(
            check.scan(p),
            check.scan_reference(p),
            "block and byte loops differ"
        );
    }
    for (i, (label, kinds)) in configs.iter().enumerate() {
        let sc = Scanner::new(ScanConfig {
            kinds: *kinds,
            max_findings: usize::MAX,
            ..ScanConfig::default()
        })
        .unwrap();
        let mut counts = vec![0u64; Kind::ALL.len()];
        let runs = if i == 0 { 3 } else { 1 };
        let times: Vec<Duration> = (0..runs)
            .map(|_| {
                counts.fill(0);
                scan_all(&sc, &parts, &mut counts)
            })
            .collect();
        let d = median(times);
        println!(
            "scan, {label}: {:>8.0} MiB/s per core ({:.2} GB/s), {:.1}x the time of a plain read",
            rate(d),
            buf.len() as f64 / d.as_secs_f64() / 1e9,
            d.as_secs_f64() / read.as_secs_f64()
        );
        if i == 0 {
            let found: Vec<String> = Kind::ALL
                .iter()
                .filter(|k| counts[**k as usize] > 0)
                .map(|k| format!("{k} {}", counts[*k as usize]))
                .collect();
            println!("  findings: {}", found.join(", "));
        }
    }
}
