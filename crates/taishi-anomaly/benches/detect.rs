//! Throughput of every detector on synthetic flow and DNS records, against
//! building the records alone in the same run; then the same records as
//! Zeek conn/dns TSV lines, decoded (taishi-format-zeek) and mapped
//! (`ecs::records`) with and without every detector, so the detectors'
//! cost is also a ratio to decoding, as the service pays it.
//!
//! cargo bench -p taishi-anomaly --bench detect
//!
//! Prints, per detector, records/s on one core (median of 5 runs) and the
//! ratio of its time to building the records alone; `decode` prints the
//! added cost over decoding.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use taishi_anomaly::ecs::{self, Record};
use taishi_anomaly::record::DnsRecord;
use taishi_anomaly::{
    BeaconConfig, BeaconDetector, Brand, ConnState, DgaConfig, DgaDetector, DgaModel, ExfilConfig,
    ExfilDetector, FlowRecord, LookalikeConfig, LookalikeWatch, ScanConfig, ScanDetector,
    Transport, TunnelConfig, TunnelDetector,
};
use taishi_event::{DecodeContext, Decoder, Format, VecSink};
use taishi_format_zeek::ZeekDecoder;

const N: usize = 1_000_000;
const RUNS: usize = 5;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// 10,000 internal hosts talking to 50,000 servers; 5 % failed attempts.
fn flow(rng: &mut Rng, i: usize) -> FlowRecord {
    let r = rng.next();
    FlowRecord {
        ts_ms: 1_700_000_000_000 + i as i64 * 10,
        src: IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | (r % 10_000) as u32)),
        dst: IpAddr::V4(Ipv4Addr::from(0x6400_0000 | ((r >> 16) % 50_000) as u32)),
        dst_port: [443, 80, 53, 22, 8080][(r >> 40) as usize % 5],
        transport: Transport::Tcp,
        orig_bytes: (r >> 20) % 4000,
        resp_bytes: (r >> 30) % 40_000,
        duration_ms: ((r >> 44) % 5000) as i64,
        state: if (r >> 50).is_multiple_of(20) {
            ConnState::Rejected
        } else {
            ConnState::Established
        },
    }
}

/// The same network with locality, as real traffic has it: 90 % of a
/// host's flows go to its own 20 usual servers, 10 % anywhere.
fn flow_local(rng: &mut Rng, i: usize) -> FlowRecord {
    let mut f = flow(rng, i);
    let r = rng.next();
    if !r.is_multiple_of(10) {
        let IpAddr::V4(src) = f.src else {
            unreachable!()
        };
        let usual = (u32::from(src).wrapping_mul(2_654_435_761) ^ ((r >> 8) % 20) as u32) % 50_000;
        f.dst = IpAddr::V4(Ipv4Addr::from(0x6400_0000 | usual));
    }
    f
}

const WORDS: [&str; 12] = [
    "www", "mail", "api", "cdn", "static", "login", "img", "news", "shop", "app", "m", "video",
];
const DOMAINS: [&str; 10] = [
    "baidu.com",
    "qq.com",
    "taobao.com",
    "example.com.cn",
    "gov.cn",
    "microsoft.com",
    "apple.com",
    "github.com",
    "aliyun.com",
    "jd.com",
];

/// Names from 10 popular domains, 2 % random-looking labels.
fn dns(rng: &mut Rng, i: usize) -> DnsRecord {
    let r = rng.next();
    let qname = if r.is_multiple_of(50) {
        format!("{:x}.{}", r >> 8, DOMAINS[(r >> 4) as usize % 10])
    } else {
        format!(
            "{}.{}",
            WORDS[(r >> 8) as usize % 12],
            DOMAINS[(r >> 16) as usize % 10]
        )
    };
    DnsRecord {
        ts_ms: 1_700_000_000_000 + i as i64 * 10,
        src: IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | ((r >> 24) % 10_000) as u32)),
        qname,
        qtype: "A".into(),
        rcode: if r.is_multiple_of(97) {
            "NXDOMAIN".into()
        } else {
            "NOERROR".into()
        },
    }
}

/// Median seconds of `RUNS` runs of `f` over N fresh records.
fn time<R>(make: fn(&mut Rng, usize) -> R, mut f: impl FnMut(&R)) -> f64 {
    let mut t: Vec<f64> = (0..RUNS)
        .map(|run| {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ run as u64);
            let start = Instant::now();
            for i in 0..N {
                let r = make(&mut rng, i);
                f(&r);
                black_box(&r);
            }
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[RUNS / 2]
}

/// `cargo bench --bench detect -- beacon` runs only the cases tagged
/// "beacon" (tags: beacon, scan, exfil, flows, local, dga, tunnel, lookalike,
/// dns), for
/// profiling one detector.
fn selected(name: &str) -> bool {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .is_none_or(|f| name.contains(f.as_str()))
}

fn report(name: &str, secs: f64, base: f64) {
    println!(
        "{name:34} {:>7.2} M records/s/core   {:>5.2}× the time of building the records",
        N as f64 / secs / 1e6,
        secs / base
    );
}

/// Two brands, one with a Chinese name (pinyin variants).
fn watch_config() -> LookalikeConfig {
    LookalikeConfig {
        brands: vec![
            Brand {
                name: "示例银行".into(),
                domains: vec!["examplebank.com.cn".into()],
                names_zh: vec!["示例银行".into()],
                keywords: vec![],
            },
            Brand {
                name: "Taishi".into(),
                domains: vec!["taishi.cn".into()],
                names_zh: vec![],
                keywords: vec![],
            },
        ],
        ..LookalikeConfig::default()
    }
}

fn main() {
    println!("{N} records per run, median of {RUNS} runs, one thread");
    let mut out = Vec::new();
    let base_flow = time(flow, |_| {});
    report("build flow records (baseline)", base_flow, base_flow);
    if selected("beacon") {
        let mut beacon = BeaconDetector::new(BeaconConfig::default()).unwrap();
        report(
            "beacon (flows)",
            time(flow, |r| beacon.observe_flow(r)),
            base_flow,
        );
        let start = Instant::now();
        let findings = beacon.evaluate();
        println!(
            "  beacon evaluate over {} pairs: {:.2} s, {} findings",
            beacon.pairs_len(),
            start.elapsed().as_secs_f64(),
            findings.len()
        );
    }
    if selected("scan") {
        let mut scan = ScanDetector::new(ScanConfig::default()).unwrap();
        let t = time(flow, |r| {
            scan.observe(r, &mut out);
            out.clear();
        });
        report("scan (flows)", t, base_flow);
    }
    if selected("exfil") {
        let mut exfil = ExfilDetector::new(ExfilConfig::default()).unwrap();
        let t = time(flow, |r| {
            exfil.observe_flow(r, &mut out);
            out.clear();
        });
        report("exfil volume baseline (flows)", t, base_flow);
    }
    if selected("flows") {
        let mut beacon = BeaconDetector::new(BeaconConfig::default()).unwrap();
        let mut scan = ScanDetector::new(ScanConfig::default()).unwrap();
        let mut exfil = ExfilDetector::new(ExfilConfig::default()).unwrap();
        let t = time(flow, |r| {
            beacon.observe_flow(r);
            scan.observe(r, &mut out);
            exfil.observe_flow(r, &mut out);
            out.clear();
        });
        report("all flow detectors", t, base_flow);
    }
    if selected("local") {
        let base_local = time(flow_local, |_| {});
        report(
            "build local flow records (baseline)",
            base_local,
            base_local,
        );
        let mut beacon = BeaconDetector::new(BeaconConfig::default()).unwrap();
        report(
            "beacon (local flows)",
            time(flow_local, |r| beacon.observe_flow(r)),
            base_local,
        );
        let mut beacon = BeaconDetector::new(BeaconConfig::default()).unwrap();
        let mut scan = ScanDetector::new(ScanConfig::default()).unwrap();
        let mut exfil = ExfilDetector::new(ExfilConfig::default()).unwrap();
        let t = time(flow_local, |r| {
            beacon.observe_flow(r);
            scan.observe(r, &mut out);
            exfil.observe_flow(r, &mut out);
            out.clear();
        });
        report("all flow detectors (local flows)", t, base_local);
    }

    let base_dns = time(dns, |_| {});
    report("build DNS records (baseline)", base_dns, base_dns);
    let watch = LookalikeWatch::new(watch_config()).unwrap();
    if selected("dga") {
        let mut dga = DgaDetector::new(DgaConfig::default(), DgaModel::shipped().unwrap()).unwrap();
        let t = time(dns, |r| {
            dga.observe(r, &mut out);
            out.clear();
        });
        report("DGA + NXDOMAIN (DNS)", t, base_dns);
    }
    if selected("tunnel") {
        let mut tunnel = TunnelDetector::new(TunnelConfig::default()).unwrap();
        let t = time(dns, |r| {
            tunnel.observe(r, &mut out);
            out.clear();
        });
        report("DNS tunnel (DNS)", t, base_dns);
    }
    if selected("lookalike") {
        let t = time(dns, |r| {
            black_box(watch.check(&r.qname));
        });
        report("look-alike check, uncached", t, base_dns);
        let mut w = LookalikeWatch::new(watch_config()).unwrap();
        let t = time(dns, |r| {
            black_box(w.observe(&r.qname, r.ts_ms));
        });
        report("look-alike observe (clean-name cache)", t, base_dns);
    }
    if selected("dns") {
        let mut w = LookalikeWatch::new(watch_config()).unwrap();
        let mut dga = DgaDetector::new(DgaConfig::default(), DgaModel::shipped().unwrap()).unwrap();
        let mut tunnel = TunnelDetector::new(TunnelConfig::default()).unwrap();
        let t = time(dns, |r| {
            dga.observe(r, &mut out);
            tunnel.observe(r, &mut out);
            black_box(w.observe(&r.qname, r.ts_ms));
            out.clear();
        });
        report("all DNS detectors", t, base_dns);
    }
    if selected("decode") {
        decode_baseline();
    }
}

/// The flows of `flow` as a Zeek conn TSV log (one header, N lines).
fn conn_log() -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = String::from(
        "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_bytes\tresp_bytes\tconn_state\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tcount\tcount\tstring\n",
    );
    for i in 0..N {
        let f = flow(&mut rng, i);
        let state = if f.state == ConnState::Rejected {
            "REJ"
        } else {
            "SF"
        };
        out.push_str(&format!(
            "{:.6}\tC{i}\t{}\t{}\t{}\t{}\ttcp\t{:.3}\t{}\t{}\t{state}\n",
            f.ts_ms as f64 / 1000.0,
            f.src,
            40000 + i % 20000,
            f.dst,
            f.dst_port,
            f.duration_ms as f64 / 1000.0,
            f.orig_bytes,
            f.resp_bytes,
        ));
    }
    out.into_bytes()
}

/// The queries of `dns` as a Zeek dns TSV log.
fn dns_log() -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = String::from(
        "#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tqtype_name\trcode_name\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring\tstring\n",
    );
    for i in 0..N {
        let d = dns(&mut rng, i);
        out.push_str(&format!(
            "{:.6}\tD{i}\t{}\t{}\t10.255.0.53\t53\tudp\t{}\t{}\t{}\n",
            d.ts_ms as f64 / 1000.0,
            d.src,
            40000 + i % 20000,
            d.qname,
            d.qtype,
            d.rcode,
        ));
    }
    out.into_bytes()
}

/// Median seconds of `RUNS` runs: decode `log` in 1 MiB pieces cut at
/// lines (as a listener hands them over), map each event to records, and
/// give each record to `f`.
fn time_decode(log: &[u8], mut f: impl FnMut(&Record)) -> (f64, usize) {
    let ctx = DecodeContext::new("bench", Format::Zeek);
    let mut n = 0;
    let mut t: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let mut dec = ZeekDecoder::new();
            let mut records = Vec::new();
            n = 0;
            let mut rest = log;
            while !rest.is_empty() {
                let cut = rest.len().min(1 << 20);
                let end = rest[cut..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |p| cut + p + 1);
                let mut sink = VecSink::default();
                dec.decode(&rest[..end], &ctx, &mut sink);
                for ev in &sink.events {
                    records.clear();
                    ecs::records(ev, &mut records);
                    for r in &records {
                        n += 1;
                        f(r);
                    }
                }
                rest = &rest[end..];
            }
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[RUNS / 2], n)
}

fn report_decode(name: &str, secs: f64, base: f64, records: usize) {
    println!(
        "{name:34} {:>7.2} M records/s/core   {:>+6.1} % over decoding and mapping alone",
        records as f64 / secs / 1e6,
        (secs / base - 1.0) * 100.0
    );
}

fn decode_baseline() {
    let mut out = Vec::new();
    let conn = conn_log();
    let (base, n) = time_decode(&conn, |r| {
        black_box(r);
    });
    assert_eq!(n, N, "every conn line maps to one flow record");
    report_decode("decode + map Zeek conn (baseline)", base, base, n);
    let mut beacon = BeaconDetector::new(BeaconConfig::default()).unwrap();
    let mut scan = ScanDetector::new(ScanConfig::default()).unwrap();
    let mut exfil = ExfilDetector::new(ExfilConfig::default()).unwrap();
    let (t, n) = time_decode(&conn, |r| {
        if let Record::Flow(f) = r {
            beacon.observe_flow(f);
            scan.observe(f, &mut out);
            exfil.observe_flow(f, &mut out);
            out.clear();
        }
    });
    report_decode("decode + map + all flow detectors", t, base, n);

    let log = dns_log();
    let (base, n) = time_decode(&log, |r| {
        black_box(r);
    });
    assert_eq!(n, N, "every dns line maps to one DNS record");
    report_decode("decode + map Zeek dns (baseline)", base, base, n);
    let mut w = LookalikeWatch::new(watch_config()).unwrap();
    let mut dga = DgaDetector::new(DgaConfig::default(), DgaModel::shipped().unwrap()).unwrap();
    let mut tunnel = TunnelDetector::new(TunnelConfig::default()).unwrap();
    let (t, n) = time_decode(&log, |r| {
        if let Record::Dns(d) = r {
            dga.observe(d, &mut out);
            tunnel.observe(d, &mut out);
            black_box(w.observe(&d.qname, d.ts_ms));
            out.clear();
        }
    });
    report_decode("decode + map + all DNS detectors", t, base, n);
}
