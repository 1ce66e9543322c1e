//! What the detectors learnt survives a restart: state saved half-way
//! through (as JSON), loaded into fresh detectors, gives the same results as
//! an uninterrupted run.

use taishi_anomaly::record::{AuthService, DnsRecord};
use taishi_anomaly::{
    AuthOutcome, AuthRecord, BeaconConfig, BeaconDetector, BeaconState, BeaconTarget,
    BruteForceConfig, BruteForceDetector, BruteForceState, ConnState, DgaConfig, DgaDetector,
    DgaModel, DgaState, FindingKind, FlowRecord, ScanConfig, ScanDetector, ScanState, Transport,
    TunnelConfig, TunnelDetector, TunnelState,
};

fn through_json<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}

fn flow(ts: i64, port: u16, state: ConnState) -> FlowRecord {
    FlowRecord {
        ts_ms: ts,
        src: "10.0.0.5".parse().unwrap(),
        dst: "203.0.113.9".parse().unwrap(),
        dst_port: port,
        transport: Transport::Tcp,
        orig_bytes: 512,
        resp_bytes: 0,
        duration_ms: 10,
        state,
    }
}

#[test]
fn beacon_and_scan_state_survive_a_restart() {
    let flows: Vec<FlowRecord> = (0..288)
        .map(|i| {
            flow(
                i * 300_000 + (i * 7919 % 60) * 1000,
                443,
                ConnState::Established,
            )
        })
        .chain((0..20).map(|p| flow(40_000_000 + p as i64 * 1000, 1000 + p, ConnState::Rejected)))
        .collect::<Vec<_>>();
    let mut flows = flows;
    flows.sort_by_key(|f| f.ts_ms);
    let (a, b) = flows.split_at(flows.len() / 2 + 5);

    let mut whole = BeaconDetector::new(BeaconConfig::default()).unwrap();
    let mut scan_whole = ScanDetector::new(ScanConfig::default()).unwrap();
    let mut out_whole = Vec::new();
    for f in &flows {
        whole.observe_flow(f);
        scan_whole.observe(f, &mut out_whole);
    }

    let mut first = BeaconDetector::new(BeaconConfig::default()).unwrap();
    let mut scan_first = ScanDetector::new(ScanConfig::default()).unwrap();
    let mut out = Vec::new();
    for f in a {
        first.observe_flow(f);
        scan_first.observe(f, &mut out);
    }
    let saved: (BeaconState, ScanState) =
        through_json(&(first.save_state(), scan_first.save_state()));
    let mut second = BeaconDetector::new(BeaconConfig::default()).unwrap();
    let mut scan_second = ScanDetector::new(ScanConfig::default()).unwrap();
    second.load_state(saved.0);
    scan_second.load_state(saved.1);
    for f in b {
        second.observe_flow(f);
        scan_second.observe(f, &mut out);
    }
    let target = BeaconTarget::Ip("203.0.113.9".parse().unwrap());
    let src = "10.0.0.5".parse().unwrap();
    let (x, y) = (
        whole.score(src, &target).unwrap(),
        second.score(src, &target).unwrap(),
    );
    assert_eq!(x, y);
    assert!(x.score > 0.8, "{x:?}");
    assert_eq!(out.len(), out_whole.len());
    assert!(out.iter().any(|f| f.kind == FindingKind::VerticalScan));
}

#[test]
fn brute_dga_and_tunnel_state_survive_a_restart() {
    let auth = |t: i64, ok: bool| AuthRecord {
        ts_ms: t,
        src: Some("192.0.2.7".parse().unwrap()),
        user: Some("admin".into()),
        service: AuthService::Ssh,
        outcome: if ok {
            AuthOutcome::Success
        } else {
            AuthOutcome::Failure
        },
        attempts: 1,
    };
    let mut b = BruteForceDetector::new(BruteForceConfig::default()).unwrap();
    let mut out = Vec::new();
    for i in 0..25 {
        b.observe(&auth(i * 1000, false), &mut out);
    }
    let saved: BruteForceState = through_json(&b.save_state());
    let mut b = BruteForceDetector::new(BruteForceConfig::default()).unwrap();
    b.load_state(saved);
    assert_eq!(b.source_failures("192.0.2.7".parse().unwrap()), 25);
    b.observe(&auth(30_000, true), &mut out);
    assert_eq!(
        out.last().map(|f| f.kind),
        Some(FindingKind::SuccessAfterFailures)
    );

    let q = |i: i64, name: String| DnsRecord {
        ts_ms: i,
        src: "10.9.9.9".parse().unwrap(),
        qname: name,
        qtype: "TXT".into(),
        rcode: "NXDOMAIN".into(),
    };
    let mut t = TunnelDetector::new(TunnelConfig::default()).unwrap();
    let mut d = DgaDetector::new(DgaConfig::default(), DgaModel::shipped().unwrap()).unwrap();
    for i in 0..50 {
        let r = q(
            i,
            format!("{:x}{:x}.t.example.net", i * 7_919_393, i * 104_729),
        );
        t.observe(&r, &mut out);
        d.observe(&r, &mut out);
    }
    let before = t.domain_score("example.net").unwrap();
    let (ts, ds): (TunnelState, DgaState) = through_json(&(t.save_state(), d.save_state()));
    let mut t = TunnelDetector::new(TunnelConfig::default()).unwrap();
    t.load_state(ts);
    assert_eq!(t.domain_score("example.net").unwrap(), before);
    let mut d = DgaDetector::new(DgaConfig::default(), DgaModel::shipped().unwrap()).unwrap();
    d.load_state(ds);
    let n = out.len();
    d.observe(&q(60, "zzqxkvbwpl.com".into()), &mut out);
    // the host's NXDOMAIN count came back: its burst state is remembered
    assert!(out[n..]
        .iter()
        .all(|f| f.kind != FindingKind::NxdomainBurst));
}
