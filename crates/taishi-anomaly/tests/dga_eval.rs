//! The shipped DGA model on the held-out split of network/anomaly/dga
//! (names with fnv1a32(name) % 5 == 0, never seen by tools/train_dga.py).

mod common;

use std::collections::BTreeMap;

use taishi_anomaly::dga::fnv1a32;
use taishi_anomaly::record::DnsRecord;
use taishi_anomaly::stats::roc_auc;
use taishi_anomaly::{DgaConfig, DgaDetector, DgaModel, FindingKind};

fn normalise(d: &str) -> String {
    let d = d.trim().to_lowercase();
    let d = d.trim_end_matches('.');
    d.strip_prefix("www.").unwrap_or(d).to_string()
}

#[test]
fn held_out_auc_per_family() {
    let Some(p) = taishi_testdata::path("network/anomaly/dga/dga_vs_benign_labeled.csv") else {
        return;
    };
    let text = std::fs::read_to_string(&p).unwrap();
    let model = DgaModel::shipped().unwrap();
    let cfg = DgaConfig::default();
    let mut neg = Vec::new();
    let mut fams: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut it = line.split(',');
        let (Some(dom), Some(label), Some(fam)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let n = normalise(dom);
        if !fnv1a32(n.as_bytes()).is_multiple_of(5) {
            continue;
        }
        let s = model.score(&n);
        if label == "benign" {
            neg.push(s);
        } else {
            fams.entry(fam.to_string()).or_default().push(s);
        }
    }
    let pos: Vec<f64> = fams.values().flatten().copied().collect();
    let auc = roc_auc(&pos, &neg);
    let t = cfg.name_threshold;
    let tp = pos.iter().filter(|s| **s >= t).count() as f64;
    let fp = neg.iter().filter(|s| **s >= t).count() as f64;
    eprintln!(
        "DGA held-out: {} DGA, {} benign names; ROC AUC {auc:.4}; at threshold {t}: recall {:.3}, false-positive rate {:.3}, precision {:.3}",
        pos.len(),
        neg.len(),
        tp / pos.len() as f64,
        fp / neg.len() as f64,
        tp / (tp + fp)
    );
    for (f, v) in &fams {
        eprintln!(
            "  {f:10} n={:5} AUC {:.4} recall {:.3}",
            v.len(),
            roc_auc(v, &neg),
            v.iter().filter(|s| **s >= t).count() as f64 / v.len() as f64
        );
    }
    eprintln!(
        "model: {} bytes (goal: under 1 MiB)",
        taishi_anomaly::dga::SHIPPED_MODEL.len()
    );
    assert!(auc >= 0.98, "AUC {auc}");
    assert!(taishi_anomaly::dga::SHIPPED_MODEL.len() < 1 << 20);
}

#[test]
fn nxdomain_burst_raises_the_score() {
    let mut d = DgaDetector::new(DgaConfig::default(), DgaModel::shipped().unwrap()).unwrap();
    let mut out = Vec::new();
    let q = |i: i64, name: &str, rcode: &str| DnsRecord {
        ts_ms: i * 100,
        src: "10.0.0.9".parse().unwrap(),
        qname: name.into(),
        qtype: "A".into(),
        rcode: rcode.into(),
    };
    let names = [
        "kqzvxjwpl",
        "xbrtqmnvz",
        "pqlwzkrtx",
        "zvbnqwtrk",
        "wxqzvplkj",
    ];
    for i in 0..40 {
        let n = format!("{}{}.net", names[i as usize % 5], i);
        d.observe(&q(i, &n, "NXDOMAIN"), &mut out);
    }
    assert!(out.iter().any(|f| f.kind == FindingKind::NxdomainBurst));
    let after_burst: Vec<_> = out.iter().filter(|f| f.kind == FindingKind::Dga).collect();
    assert!(after_burst.len() >= 30);
    assert!(after_burst
        .last()
        .unwrap()
        .fired()
        .any(|f| f.id == "nxdomain_burst"));
    let before = out.len();
    d.observe(&q(50, "www.baidu.com", "NOERROR"), &mut out);
    assert_eq!(out.len(), before, "a popular name is not reported");
}
