//! A million distinct source/destination pairs through the beacon and scan
//! detectors under fixed caps: the tables stay at their caps.

use std::net::{IpAddr, Ipv4Addr};

use taishi_anomaly::{
    BeaconConfig, BeaconDetector, ConnState, FlowRecord, ScanConfig, ScanDetector, Transport,
};

#[test]
fn million_pairs_stay_under_the_caps() {
    const CAP: usize = 20_000;
    let mut beacon = BeaconDetector::new(BeaconConfig {
        max_pairs: CAP,
        max_destinations: CAP,
        ..BeaconConfig::default()
    })
    .unwrap();
    let mut scan = ScanDetector::new(ScanConfig {
        max_keys: CAP,
        ..ScanConfig::default()
    })
    .unwrap();
    let mut out = Vec::new();
    let mut max_seen = [0usize; 3];
    for i in 0..1_000_000u32 {
        // every record a new (src, dst) pair: src walks 10/8, dst 100/8
        let r = FlowRecord {
            ts_ms: i as i64,
            src: IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | (i >> 4))),
            dst: IpAddr::V4(Ipv4Addr::from(0x6400_0000 | i)),
            dst_port: (i % 1000) as u16,
            transport: Transport::Tcp,
            orig_bytes: 60,
            resp_bytes: 0,
            duration_ms: 0,
            state: ConnState::Rejected,
        };
        beacon.observe_flow(&r);
        scan.observe(&r, &mut out);
        if i % 1000 == 0 {
            let t = scan.tables_len();
            for (m, v) in max_seen.iter_mut().zip([beacon.pairs_len(), t[0], t[1]]) {
                *m = (*m).max(v);
            }
        }
    }
    let t = scan.tables_len();
    eprintln!(
        "after 1,000,000 pairs: beacon pairs {} (evicted {}), scan tables {t:?}; largest seen {max_seen:?}; cap {CAP}",
        beacon.pairs_len(),
        beacon.pairs_evicted()
    );
    for v in [beacon.pairs_len(), t[0], t[1]] {
        assert!(v <= CAP);
        // eviction drops the older half at a time: full tables hold
        // between half the cap and the cap
        assert!(v >= CAP / 2, "{v}");
    }
    assert!(max_seen.iter().all(|m| *m <= CAP));
    assert_eq!(
        beacon.pairs_evicted(),
        1_000_000 - beacon.pairs_len() as u64
    );
}
