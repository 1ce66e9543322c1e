//! Property tests: nothing panics on arbitrary input.

use proptest::prelude::*;
use taishi_anomaly::record::{AuthService, DnsRecord};
use taishi_anomaly::{
    AuthOutcome, AuthRecord, BeaconConfig, BeaconDetector, Brand, BruteForceConfig,
    BruteForceDetector, ConnState, DgaConfig, DgaDetector, DgaModel, FlowRecord, HttpRecord,
    LookalikeConfig, LookalikeWatch, ScanConfig, ScanDetector, Transport, TunnelConfig,
    TunnelDetector,
};

fn watch() -> LookalikeWatch {
    LookalikeWatch::new(LookalikeConfig {
        brands: vec![Brand {
            name: "示例".into(),
            domains: vec!["example.com.cn".into()],
            names_zh: vec!["示例银行".into()],
            keywords: vec![],
        }],
        ..LookalikeConfig::default()
    })
    .unwrap()
}

proptest! {
    // No regression files: the crate keeps no proptest-regressions folder.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn model_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), header in "TAISHI-DGA-NGRAM v1 [a-z=0-9., ]{0,80}\n") {
        let _ = DgaModel::parse(&bytes, "prop");
        let mut b = header.into_bytes();
        b.extend_from_slice(&bytes);
        if let Ok(m) = DgaModel::parse(&b, "prop") {
            prop_assert!(m.score("abc.example").is_finite());
        }
    }

    #[test]
    fn name_functions_never_panic(name in "\\PC{0,300}") {
        let w = watch();
        let _ = w.check(&name);
        let _ = w.finding(&name, 0);
        let _ = taishi_anomaly::lookalike::generate(&name, std::slice::from_ref(&name), &LookalikeConfig::default());
        let m = DgaModel::shipped().unwrap();
        prop_assert!(m.score(&name).is_finite());
        if let Some(n) = taishi_anomaly::domain::normalize(&name) {
            let r = taishi_anomaly::domain::registered(&n);
            let _ = taishi_anomaly::domain::subdomain(&n, r);
        }
    }

    #[test]
    fn detectors_never_panic(
        ts in proptest::collection::vec(any::<i64>(), 1..40),
        names in proptest::collection::vec("[a-zA-Z0-9.\\-:\\[\\]]{0,80}", 1..40),
        attempts in any::<u32>(),
    ) {
        let mut b = BeaconDetector::new(BeaconConfig { dns_pairs: true, ..BeaconConfig::default() }).unwrap();
        let mut s = ScanDetector::new(ScanConfig::default()).unwrap();
        let mut bf = BruteForceDetector::new(BruteForceConfig::default()).unwrap();
        let mut t = TunnelDetector::new(TunnelConfig::default()).unwrap();
        let mut g = DgaDetector::new(DgaConfig::default(), DgaModel::shipped().unwrap()).unwrap();
        let mut x = taishi_anomaly::ExfilDetector::new(taishi_anomaly::ExfilConfig::default()).unwrap();
        let mut out = Vec::new();
        for (i, (t_ms, n)) in ts.iter().cycle().zip(names.iter()).enumerate() {
            let ip = std::net::IpAddr::from([10, 0, 0, (i % 3) as u8]);
            let f = FlowRecord {
                ts_ms: *t_ms, src: ip, dst: ip, dst_port: i as u16, transport: Transport::Tcp,
                orig_bytes: *t_ms as u64, resp_bytes: 0, duration_ms: *t_ms, state: ConnState::Rejected,
            };
            b.observe_flow(&f);
            s.observe(&f, &mut out);
            x.observe_flow(&f, &mut out);
            let h = HttpRecord {
                ts_ms: *t_ms, src: ip, host: n.clone(), method: "POST".into(),
                request_bytes: *t_ms as u64, response_bytes: 0, user_agent: String::new(),
            };
            b.observe_http(&h);
            x.observe_http(&h, &mut out);
            let d = DnsRecord { ts_ms: *t_ms, src: ip, qname: n.clone(), qtype: "TXT".into(), rcode: "NXDOMAIN".into() };
            b.observe_dns(&d);
            t.observe(&d, &mut out);
            g.observe(&d, &mut out);
            bf.observe(&AuthRecord {
                ts_ms: *t_ms, src: Some(ip), user: Some(n.clone()), service: AuthService::Web,
                outcome: if i % 2 == 0 { AuthOutcome::Failure } else { AuthOutcome::Success }, attempts,
            }, &mut out);
        }
        for f in b.evaluate().iter().chain(out.iter()) {
            prop_assert!(f.score.is_finite());
        }
    }
}
