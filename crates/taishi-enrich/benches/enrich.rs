//! Enrichment throughput: events/s of clone + enrich against a baseline of
//! cloning the same events, measured in the same run.
//!
//! `cargo bench -p taishi-enrich --bench enrich`
//!
//! The events carry source/destination addresses: a third public addresses
//! the test databases know, a third public addresses they do not, a third
//! private (skipped before any lookup), as in mixed perimeter telemetry.

use std::hint::black_box;
use std::time::Instant;

use taishi_enrich::{EnrichConfig, GeoIp};
use taishi_event::Event;

const KNOWN: &[&str] = &[
    "81.2.69.142",
    "2.125.160.216",
    "216.160.83.56",
    "175.16.199.7",
    "1.128.0.5",
    "89.160.20.128",
    "2001:480::1",
    "67.43.156.1",
];
const UNKNOWN: &[&str] = &["8.8.8.8", "9.9.9.9", "203.0.113.7", "2606:4700::1111"];
const PRIVATE: &[&str] = &["10.1.2.3", "192.168.10.20", "172.16.0.9", "fd00::5"];

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let pick = |k: usize| match k % 3 {
                0 => KNOWN[k % KNOWN.len()],
                1 => UNKNOWN[k % UNKNOWN.len()],
                _ => PRIVATE[k % PRIVATE.len()],
            };
            let mut e = Event::with_capacity(32);
            e.push("event.dataset", "suricata.flow");
            e.push("event.category", "network");
            e.push("network.transport", "tcp");
            e.push("source.ip", pick(i));
            e.push("source.port", 50_000u64 + (i % 1000) as u64);
            e.push("destination.ip", pick(i / 3 + 1));
            e.push("destination.port", 443u64);
            e.push("source.bytes", 1200u64);
            e.push("destination.bytes", 48_000u64);
            e.push("host.name", "sensor-01");
            e
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (Some(city), Some(asn)) = (
        taishi_testdata::path("geoip/test-data/GeoIP2-City-Test.mmdb"),
        taishi_testdata::path("geoip/test-data/GeoLite2-ASN-Test.mmdb"),
    ) else {
        return;
    };
    let geo = GeoIp::open(&EnrichConfig {
        geoip_city: Some(city),
        geoip_asn: Some(asn),
        verify: true,
    })
    .expect("open");
    let input = events(60_000);
    let runs = 9;
    let (mut base, mut enr) = (Vec::new(), Vec::new());
    let mut added = 0usize;
    for _ in 0..runs {
        let t = Instant::now();
        let out: Vec<Event> = input.to_vec();
        black_box(&out);
        base.push(input.len() as f64 / t.elapsed().as_secs_f64());
        drop(out);

        let t = Instant::now();
        let mut out: Vec<Event> = input.to_vec();
        for e in &mut out {
            geo.enrich(e);
        }
        black_box(&out);
        enr.push(input.len() as f64 / t.elapsed().as_secs_f64());
        added =
            out.iter().map(Event::len).sum::<usize>() - input.iter().map(Event::len).sum::<usize>();
    }
    let (b, e) = (median(base), median(enr));
    println!(
        "events: {}  fields added per event: {:.2}",
        input.len(),
        added as f64 / input.len() as f64
    );
    println!("clone (baseline):  {:>12.0} events/s (median of {runs})", b);
    println!("clone + enrich:    {:>12.0} events/s (median of {runs})", e);
    println!("ratio enrich/baseline throughput: {:.3}", e / b);
}
