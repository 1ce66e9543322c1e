//! Zeek decoding throughput over the public TSV and JSON samples, repeated to ~20 MiB.
//!
//! `cargo bench -p taishi-format-zeek --bench decode` prints MiB/s and
//! events/s (it says SKIP without the samples).

use std::time::Instant;

use taishi_event::{DecodeContext, Decoder, Event, Format, Reject, Sink};
use taishi_format_zeek::ZeekDecoder;

#[derive(Default)]
struct Count {
    events: u64,
    fields: u64,
    rejects: u64,
}

impl Sink for Count {
    fn event(&mut self, e: Event) {
        self.events += 1;
        self.fields += e.len() as u64;
    }
    fn reject(&mut self, _: Reject) {
        self.rejects += 1;
    }
}

const LOGS: [&str; 17] = [
    "dce_rpc",
    "dns",
    "ftp",
    "kerberos",
    "known_services",
    "modbus",
    "notice",
    "ntlm",
    "rdp",
    "smtp",
    "snmp",
    "software",
    "ssh",
    "ssl",
    "syslog",
    "weird",
    "x509",
];

fn main() {
    for (kind, dir, ext) in [
        ("tsv", "wrccdc-tsv", "log"),
        ("json", "wrccdc-json", "json"),
    ] {
        // Concatenated logs: each TSV log brings its own header.
        let mut sample = Vec::new();
        for log in LOGS {
            let Some(d) = taishi_testdata::read(&format!("network/zeek/{dir}/{log}.{ext}")) else {
                return;
            };
            sample.extend_from_slice(&d);
            if !sample.ends_with(b"\n") {
                sample.push(b'\n');
            }
        }
        run(kind, &sample);
    }
}

fn run(kind: &str, sample: &[u8]) {
    let mut data = Vec::with_capacity(21 << 20);
    while data.len() < 20 << 20 {
        data.extend_from_slice(sample);
    }
    let ctx = DecodeContext::new("bench", Format::Zeek);
    for _ in 0..3 {
        let mut sink = Count::default();
        let start = Instant::now();
        ZeekDecoder::new().decode(&data, &ctx, &mut sink);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{kind}: {:.1} MiB in {:.3} s: {:.1} MiB/s, {:.0} events/s ({} events, {:.1} fields each, {} rejects)",
            data.len() as f64 / (1 << 20) as f64,
            secs,
            data.len() as f64 / (1 << 20) as f64 / secs,
            sink.events as f64 / secs,
            sink.events,
            sink.fields as f64 / sink.events.max(1) as f64,
            sink.rejects
        );
    }
}
