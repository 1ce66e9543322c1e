//! A bounded load test on loopback: a fixed count of events as fast as the
//! senders can push them over HTTP (4 clients), TCP syslog and UDP syslog.
//! Nothing acknowledged over HTTP or TCP may be lost; UDP may drop under
//! load, but every drop the service sees is counted; memory stays bounded.
//! (Rates are measured by the benchmark, not asserted here.)

mod common;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};

use common::*;
use serde_json::json;

const HTTP_CLIENTS: usize = 4;
const HTTP_BATCHES: usize = 20;
const BATCH: usize = 500;
const TCP_LINES: usize = 20_000;
const UDP_DATAGRAMS: usize = 20_000;

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|k| k / 1024)
        .unwrap_or(0)
}

#[test]
fn fixed_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_listeners(config(dir.path()), None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(taishi_serve::start(cfg)).unwrap();
    let c = Client::login(server.http_addr, common::admin_password(&server));
    let addr = |kind: &str| -> std::net::SocketAddr {
        server
            .listeners
            .iter()
            .find(|l| l.kind == kind)
            .unwrap()
            .address
            .parse()
            .unwrap()
    };
    let (tcp_addr, udp_addr) = (addr("syslog-tcp"), addr("syslog-udp"));

    std::thread::scope(|s| {
        for t in 0..HTTP_CLIENTS {
            let c = &c;
            s.spawn(move || {
                for b in 0..HTTP_BATCHES {
                    let evs: Vec<_> = (0..BATCH)
                        .map(|i| {
                            let n = (t * HTTP_BATCHES + b) * BATCH + i;
                            let mut e = sysmon_event(n, false);
                            e["load.via"] = json!("http");
                            e
                        })
                        .collect();
                    let (st, body) =
                        c.post_raw("/api/v1/ingest", "application/x-ndjson", &ndjson(&evs));
                    assert_eq!(st, 200, "{body}");
                }
            });
        }
        s.spawn(move || {
            let mut tcp = std::io::BufWriter::new(TcpStream::connect(tcp_addr).unwrap());
            for i in 0..TCP_LINES {
                writeln!(tcp, "<38>Nov 23 08:00:{:02} loadhost sshd[{i}]: Accepted publickey for load from 192.0.2.{} port {} ssh2", i % 60, i % 250, 10000 + i % 50000).unwrap();
            }
            tcp.flush().unwrap();
            // Closing after the last write: the server stores what it read.
        });
        s.spawn(move || {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            for i in 0..UDP_DATAGRAMS {
                let m = format!("<38>Nov 23 08:00:{:02} udphost sshd[{i}]: Connection closed by 198.51.100.{} port 22", i % 60, i % 250);
                udp.send_to(m.as_bytes(), udp_addr).unwrap();
            }
        });
    });

    let http_tcp = HTTP_CLIENTS * HTTP_BATCHES * BATCH + TCP_LINES;
    let udp_metrics = || {
        let h = c.get("/api/v1/health").1;
        let l = h["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["kind"] == "syslog-udp")
            .unwrap()
            .clone();
        (
            h["store"]["events"].as_u64().unwrap_or(0),
            l["acked"].as_u64().unwrap(),
            l["udp_dropped"].as_u64().unwrap(),
        )
    };
    // Wait until everything that arrived is stored and searchable.
    let mut last = (0, 0, 0);
    assert!(
        wait_until(120, || {
            let m = udp_metrics();
            let settled = m == last && m.0 as usize >= http_tcp && m.0 == http_tcp as u64 + m.1;
            last = m;
            settled
        }),
        "stored {} of {http_tcp} HTTP/TCP events (+ {} UDP acked)",
        last.0,
        last.1
    );
    let (stored, udp_acked, udp_dropped) = last;
    let q = |query: &str| {
        c.post(
            "/api/v1/search",
            &json!({"query": query, "from": "2026-01-01T00:00:00Z", "to": "now+1d"}),
        )
        .1["total"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        q("load.via:http"),
        (HTTP_CLIENTS * HTTP_BATCHES * BATCH) as u64,
        "HTTP events lost"
    );
    assert_eq!(q("host.name:loadhost"), TCP_LINES as u64, "TCP events lost");
    // Every datagram is either stored or counted as dropped (by the service's
    // queue or, when its receive buffer overflowed, by the kernel).
    if std::path::Path::new("/proc/net/udp").exists() {
        assert_eq!(
            udp_acked + udp_dropped,
            UDP_DATAGRAMS as u64,
            "UDP datagrams unaccounted for"
        );
    }
    let peak = peak_rss_mib();
    eprintln!(
        "load: {stored} stored; HTTP+TCP {http_tcp}/{http_tcp}; UDP {udp_acked} stored, {udp_dropped} dropped and counted; peak RSS {peak} MiB"
    );
    assert!(peak < 2048, "peak RSS {peak} MiB");
    rt.block_on(server.shutdown()).unwrap();
}
