//! Decoder throughput, one row per format, on inputs built from the public
//! samples in ../shared/data (replicated to a few MiB so timings are stable).
//!
//! Each row prints MB/s and events/s (medians of several runs) and, measured
//! in the same run on the same bytes, the ratio to two baselines:
//! - `×read`: reading the bytes back from a file (page cache), the least any
//!   decoder must pay;
//! - `×serde`: for JSON formats, a plain `serde_json::Value` parse of every
//!   line/document — what a decoder built on the obvious approach would cost.
//!
//! Run: `cargo bench -p taishi-decode --bench decoders` (add `-- FORMAT...`
//! to run some formats only).

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use taishi_event::{DecodeContext, Event, Format, Reject, Sink};

const TARGET_BYTES: usize = 16 << 20;
const RUNS: usize = 7;

struct Count {
    events: u64,
    rejects: u64,
}

impl Sink for Count {
    fn event(&mut self, e: Event) {
        self.events += 1;
        black_box(e);
    }
    fn reject(&mut self, r: Reject) {
        self.rejects += 1;
        black_box(r);
    }
}

/// One benchmark input: either one buffer decoded once, or one file decoded
/// `repeat` times (binary containers cannot simply be concatenated).
struct Input {
    format: Format,
    data: Vec<u8>,
    repeat: usize,
    json_lines: bool,
}

fn read_sample(rel: &str) -> Option<Vec<u8>> {
    let root = taishi_testdata::root()?;
    std::fs::read(root.join(rel)).ok()
}

fn lines_of(rels: &[&str], keep: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    for rel in rels {
        if let Some(d) = read_sample(rel) {
            for line in d.split(|&b| b == b'\n') {
                if !line.is_empty() && keep(line) {
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
            }
        }
    }
    out
}

fn replicate(mut unit: Vec<u8>) -> Vec<u8> {
    if unit.is_empty() {
        return unit;
    }
    let n = TARGET_BYTES / unit.len() + 1;
    let one = unit.clone();
    for _ in 1..n {
        unit.extend_from_slice(&one);
    }
    unit
}

fn whole_file(format: Format, rel: &str) -> Option<Input> {
    let data = read_sample(rel)?;
    let repeat = (TARGET_BYTES / data.len().max(1)).clamp(1, 10_000);
    Some(Input {
        format,
        data,
        repeat,
        json_lines: false,
    })
}

fn inputs() -> Vec<Input> {
    let not_comment = |l: &[u8]| !l.starts_with(b"#");
    let mut v = Vec::new();
    // Every intact chunk of the EVTX samples (Sysmon, Security and the
    // SigmaHQ regression captures), built once into one file.
    if let Some(p) = taishi_testdata::large_evtx(TARGET_BYTES as u64) {
        if let Ok(data) = std::fs::read(p) {
            v.push(Input {
                format: Format::Evtx,
                data,
                repeat: 1,
                json_lines: false,
            });
        }
    }
    let lines = |format, data: Vec<u8>, json_lines| Input {
        format,
        data: replicate(data),
        repeat: 1,
        json_lines,
    };
    v.push(lines(
        Format::Json,
        lines_of(&["host-logs/windows-evtx/sysmon.jsonl"], |_| true),
        true,
    ));
    v.push(lines(
        Format::Syslog,
        lines_of(
            &[
                "host-logs/syslog/beats_system_auth_test.log",
                "host-logs/syslog/rfc5424_examples.log",
                "host-logs/syslog/rfc3164_examples.log",
                "host-logs/fail2ban/fail2ban_sshd.log",
            ],
            not_comment,
        ),
        false,
    ));
    v.push(lines(
        Format::Cef,
        lines_of(&["host-logs/cef/tenzir_checkpoint.cef.log"], |_| true),
        false,
    ));
    v.push(lines(
        Format::Leef,
        b"LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe.black\n\
LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^srcPort=81^dstPort=21\n"
            .to_vec(),
        false,
    ));
    v.push(lines(
        Format::Eve,
        lines_of(
            &[
                "network/suricata/surevego_eve.json",
                "network/suricata/beats_eve-small.json",
            ],
            |_| true,
        ),
        true,
    ));
    // Zeek TSV files carry their header: replicate whole files.
    if let Some(d) = read_sample("network/zeek/wrccdc-tsv/dns.log") {
        v.push(lines(Format::Zeek, d, false));
    }
    v.push(lines(
        Format::Auditd,
        lines_of(
            &[
                "host-logs/auditd/go-libaudit_audit-rhel7.log",
                "host-logs/auditd/go-libaudit_audit-ubuntu16.log",
            ],
            not_comment,
        ),
        false,
    ));
    v.extend(whole_file(
        Format::Netflow,
        "network/pcap/netflow/100-IPFIXv10-CISCO.pcap",
    ));
    v.push(lines(
        Format::Access,
        lines_of(
            &[
                "host-logs/web-attacks/fail2ban_apache-botsearch.log",
                "host-logs/web-attacks/fail2ban_nginx-botsearch.log",
                "host-logs/web-attacks/fail2ban_apache-shellshock.log",
            ],
            // Access lines only: the files mix in error-log lines.
            |l| !l.starts_with(b"#") && l.windows(3).any(|w| w == b"] \""),
        ),
        false,
    ));
    v.retain(|i| !i.data.is_empty());
    v
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn time_runs(mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let inputs = inputs();
    if inputs.is_empty() {
        println!("SKIP: no samples found (../shared/data or $TAISHI_TEST_DATA)");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("taishi-bench-{}", std::process::id()));
    println!(
        "{:<8} {:>9} {:>10} {:>8} {:>10} {:>12} {:>7} {:>7}",
        "format", "MiB", "events", "rejects", "MB/s", "events/s", "×read", "×serde"
    );
    for input in inputs {
        if !only.is_empty() && !only.iter().any(|o| o == input.format.name()) {
            continue;
        }
        let total_bytes = input.data.len() * input.repeat;
        let ctx = DecodeContext::new("bench", input.format);

        // Baseline: read the same bytes back from a file.
        let mut f = std::fs::File::create(&tmp).expect("temp file");
        f.write_all(&input.data).expect("write temp file");
        drop(f);
        let read = time_runs(|| {
            for _ in 0..input.repeat {
                black_box(std::fs::read(&tmp).expect("read temp file"));
            }
        });

        let mut counts = (0, 0);
        let decode = time_runs(|| {
            let mut sink = Count {
                events: 0,
                rejects: 0,
            };
            for _ in 0..input.repeat {
                let mut d = taishi_decode::new_decoder(input.format);
                d.decode(&input.data, &ctx, &mut sink);
                d.finish(&ctx, &mut sink);
            }
            counts = (sink.events, sink.rejects);
        });

        let serde = input.json_lines.then(|| {
            time_runs(|| {
                for line in input.data.split(|&b| b == b'\n') {
                    if !line.is_empty() {
                        black_box(serde_json::from_slice::<serde_json::Value>(line).ok());
                    }
                }
            })
        });

        let secs = decode.as_secs_f64().max(1e-9);
        println!(
            "{:<8} {:>9.1} {:>10} {:>8} {:>10.1} {:>12.0} {:>7.1} {:>7}",
            input.format.name(),
            total_bytes as f64 / (1024.0 * 1024.0),
            counts.0,
            counts.1,
            total_bytes as f64 / secs / 1e6,
            counts.0 as f64 / secs,
            secs / read.as_secs_f64().max(1e-9),
            serde.map_or("-".to_string(), |s| format!(
                "{:.2}",
                secs / s.as_secs_f64().max(1e-9)
            )),
        );
    }
    let _ = std::fs::remove_file(&tmp);
    println!("(medians of {RUNS} runs; ×read and ×serde are decode time divided by the baseline's time on the same bytes)");
}
