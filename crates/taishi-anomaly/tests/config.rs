//! Every threshold is settable from configuration; defaults fill the rest.

use taishi_anomaly::{
    AnomalyError, BeaconConfig, BeaconDetector, BruteForceConfig, DgaConfig, LookalikeConfig,
    LookalikeWatch, ScanConfig, TunnelConfig,
};

#[test]
fn configs_deserialise_with_defaults_and_refuse_unknown_fields() {
    let b: BeaconConfig =
        serde_json::from_str(r#"{"alert_score": 0.8, "exclude_domains": ["windowsupdate.com"]}"#)
            .unwrap();
    assert_eq!(b.alert_score, 0.8);
    assert_eq!(b.min_connections, BeaconConfig::default().min_connections);
    let s: ScanConfig = serde_json::from_str(r#"{"port_scan_threshold": 20}"#).unwrap();
    assert_eq!(s.addr_scan_threshold, 25);
    let _: BruteForceConfig = serde_json::from_str(r#"{"spray_users": 5}"#).unwrap();
    let _: DgaConfig = serde_json::from_str(r#"{"name_threshold": 2.0}"#).unwrap();
    let _: TunnelConfig = serde_json::from_str(r#"{"unique_subdomains": 50}"#).unwrap();
    let l: LookalikeConfig = serde_json::from_str(
        r#"{"brands": [{"name": "工商银行", "domains": ["icbc.com.cn"], "names_zh": ["中国工商银行"]}]}"#,
    )
    .unwrap();
    assert!(LookalikeWatch::new(l).unwrap().variants_len() > 300);
    let e = serde_json::from_str::<ScanConfig>(r#"{"port_scan_treshold": 20}"#).unwrap_err();
    assert!(e.to_string().contains("port_scan_treshold"), "{e}");
}

#[test]
fn bad_values_name_their_field() {
    let e = BeaconDetector::new(BeaconConfig {
        alert_score: 1.5,
        ..BeaconConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(
            e,
            AnomalyError::Config {
                field: "alert_score",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("beacon.alert_score = 1.5"), "{e}");
    let e = LookalikeWatch::new(
        serde_json::from_str(r#"{"brands": [{"name": "x", "domains": ["com"]}]}"#).unwrap(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("\"x\""), "{e}");
}
