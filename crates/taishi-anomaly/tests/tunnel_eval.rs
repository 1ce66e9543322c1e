//! DNS tunnel detection on netrack/learn's labelled query names
//! (network/anomaly/dns-tunnel): tunnel tools against ordinary browsing.

mod common;

use common::label_qnames;
use taishi_anomaly::record::DnsRecord;
use taishi_anomaly::{FindingKind, TunnelConfig, TunnelDetector};

#[test]
fn precision_and_recall_per_tool() {
    let Some(dir) = taishi_testdata::path("network/anomaly/dns-tunnel") else {
        return;
    };
    let plain = label_qnames(&dir.join("netrack_plain-benign_qnames.csv"));
    let mut total = (0u64, 0u64, 0u64, 0u64); // tp fp fn tn
    for tool in [
        "netrack_dns2tcp_qnames.csv",
        "netrack_iodine_qnames.csv",
        "netrack_dnscapy_qnames_head4000.csv",
    ] {
        let tunnel = label_qnames(&dir.join(tool));
        // Interleave tunnel and plain traffic as one resolver would see it,
        // 10 ms apart (the CSVs carry no times).
        let mut mixed: Vec<(bool, &str)> = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < tunnel.len() || j < plain.len() {
            if i < tunnel.len() {
                mixed.push((tunnel[i].0, &tunnel[i].1));
                i += 1;
            }
            if j < plain.len() {
                mixed.push((plain[j].0, &plain[j].1));
                j += 1;
            }
        }
        let mut d = TunnelDetector::new(TunnelConfig::default()).unwrap();
        let mut out = Vec::new();
        let (mut tp, mut fp, mut fneg, mut tn) = (0u64, 0u64, 0u64, 0u64);
        let mut first_detect = None;
        for (k, (label, name)) in mixed.iter().enumerate() {
            d.observe(
                &DnsRecord {
                    ts_ms: k as i64 * 10,
                    src: "10.0.0.1".parse().unwrap(),
                    qname: name.to_string(),
                    qtype: "A".into(),
                    rcode: "NOERROR".into(),
                },
                &mut out,
            );
            // A question is flagged when its domain is (now) over the alert score.
            let flagged = d
                .domain_score(name)
                .is_some_and(|s| s.score >= TunnelConfig::default().alert_score);
            match (label, flagged) {
                (true, true) => {
                    tp += 1;
                    first_detect.get_or_insert(tp + fneg);
                }
                (false, true) => fp += 1,
                (true, false) => fneg += 1,
                (false, false) => tn += 1,
            }
        }
        let domains: Vec<&str> = out.iter().map(|f| f.entity.as_str()).collect();
        eprintln!(
            "{tool}: per question precision {:.3} recall {:.3} (tp {tp} fp {fp} fn {fneg} tn {tn}); first flagged at tunnel question #{}; domains alerted: {domains:?}",
            tp as f64 / (tp + fp).max(1) as f64,
            tp as f64 / (tp + fneg).max(1) as f64,
            first_detect.unwrap_or(0)
        );
        assert!(out.iter().all(|f| f.kind == FindingKind::DnsTunnel));
        assert!(tp as f64 / (tp + fneg) as f64 > 0.95);
        assert!(tp as f64 / (tp + fp) as f64 > 0.95);
        total = (total.0 + tp, total.1 + fp, total.2 + fneg, total.3 + tn);
    }
    eprintln!(
        "all tools: precision {:.3} recall {:.3}",
        total.0 as f64 / (total.0 + total.1) as f64,
        total.0 as f64 / (total.0 + total.2) as f64
    );
}
