//! Finding 7: fresh NetFlow v9/IPFIX templates from made-up exporters and
//! observation domains (UDP: no authentication) must not grow the
//! collector's memory without bound.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crate::harness::*;

/// Datagrams sent, each a fresh 250-field template of its own observation
/// domain. Before the fix all were kept (≈ 250 MiB of templates).
const DATAGRAMS: u32 = 25_000;
const FIELDS: u16 = 250;
/// RSS growth allowed over the run: the default cache (4,096 templates) of
/// these large templates plus the queue and allocator slack.
const GROWTH_CAP_MIB: u64 = 150;

fn ipfix_template(domain: u32) -> Vec<u8> {
    let mut set = Vec::new();
    set.extend_from_slice(&2u16.to_be_bytes());
    set.extend_from_slice(&(8 + 4 * FIELDS).to_be_bytes());
    set.extend_from_slice(&256u16.to_be_bytes());
    set.extend_from_slice(&FIELDS.to_be_bytes());
    for i in 0..FIELDS {
        // Enterprise-less element ids from 1 up, 4 bytes each.
        set.extend_from_slice(&(1 + i).to_be_bytes());
        set.extend_from_slice(&4u16.to_be_bytes());
    }
    let mut m = Vec::new();
    m.extend_from_slice(&10u16.to_be_bytes());
    m.extend_from_slice(&((16 + set.len()) as u16).to_be_bytes());
    m.extend_from_slice(&(chrono::Utc::now().timestamp() as u32).to_be_bytes());
    m.extend_from_slice(&domain.to_be_bytes());
    m.extend_from_slice(&domain.to_be_bytes());
    m.extend_from_slice(&set);
    m
}

/// A NetFlow v5 datagram of one TCP flow 10.1.2.3 → 10.4.5.6:443.
fn v5_flow() -> Vec<u8> {
    let now = chrono::Utc::now().timestamp() as u32;
    let mut p = Vec::new();
    p.extend_from_slice(&5u16.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend_from_slice(&100_000u32.to_be_bytes()); // sys uptime ms
    p.extend_from_slice(&now.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes()); // flow sequence
    p.extend_from_slice(&[0, 0, 0, 0]); // engine type, id, sampling
    p.extend_from_slice(&[10, 1, 2, 3, 10, 4, 5, 6, 0, 0, 0, 0]); // src, dst, next hop
    p.extend_from_slice(&[0, 1, 0, 2]); // input, output
    p.extend_from_slice(&10u32.to_be_bytes()); // packets
    p.extend_from_slice(&1000u32.to_be_bytes()); // bytes
    p.extend_from_slice(&90_000u32.to_be_bytes()); // first
    p.extend_from_slice(&99_000u32.to_be_bytes()); // last
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&443u16.to_be_bytes());
    p.extend_from_slice(&[0, 0x1b, 6, 0]); // pad, tcp flags, proto, tos
    p.extend_from_slice(&[0, 0, 0, 0, 24, 24, 0, 0]); // AS, masks, pad
    p
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn template_flood_from_many_domains_stays_bounded_and_counted() {
    let mut s = Server::start(Opts {
        listeners: vec!["netflow"],
        ..Opts::default()
    });
    let nf = s.listener("netflow");
    let admin = s.admin();
    let base = s.rss_mib();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    for d in 0..DATAGRAMS {
        sock.send_to(&ipfix_template(d), nf).unwrap();
        // Paced so the kernel queue does not drop most of them.
        if d % 200 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        if Instant::now() > end {
            break;
        }
    }
    // Let the decoder drain the queue.
    let mut text = String::new();
    wait_until(30, || {
        let (_, b) = admin.get("/metrics");
        text = b.as_str().unwrap_or_default().to_string();
        metric(&text, "taishi_ingest_netflow_templates_dropped_total")
            + metric(&text, "taishi_ingest_netflow_templates{")
            + metric(&text, "taishi_ingest_udp_dropped_total")
            >= f64::from(DATAGRAMS) * 0.95
    });
    s.assert_alive();
    let held = metric(&text, "taishi_ingest_netflow_templates{");
    let dropped = metric(&text, "taishi_ingest_netflow_templates_dropped_total");
    assert!(held <= 4096.0, "templates held: {held}\n{text}");
    assert!(dropped > 0.0, "evictions not counted:\n{text}");
    let grown = s.rss_mib().saturating_sub(base);
    assert!(grown < GROWTH_CAP_MIB, "RSS grew {grown} MiB (from {base})");

    // A good exporter's v5 flows are still stored.
    let good = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        good.send_to(&v5_flow(), nf).unwrap();
    }
    let c = s.token("viewer");
    assert!(
        wait_until(20, || count(&c, "destination.port:443", "now-1d") >= 3),
        "v5 flows not stored"
    );
    s.assert_alive();
}
