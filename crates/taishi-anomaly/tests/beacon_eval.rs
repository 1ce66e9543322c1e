//! Beacon detection on RITA's published test captures (README of
//! network/anomaly says which pairs beacon).

mod common;

use common::*;
use taishi_anomaly::{BeaconConfig, BeaconDetector, BeaconTarget, FindingKind, HttpRecord};

#[test]
fn rita_proxy_beacon_through_connect() {
    let Some(dir) = taishi_testdata::path("network/anomaly/beacon/rita-proxy") else {
        return;
    };
    let http = ZeekLog::read(&dir.join("http.log"));
    let conn = ZeekLog::read(&dir.join("conn.log"));
    let mut d = BeaconDetector::new(BeaconConfig::default()).unwrap();
    for f in conn_records(&conn) {
        d.observe_flow(&f);
    }
    let (ts, src, host, method, req) = (
        http.col("ts"),
        http.col("id.orig_h"),
        http.col("host"),
        http.col("method"),
        http.col("request_body_len"),
    );
    for row in &http.rows {
        d.observe_http(&HttpRecord {
            ts_ms: ts_ms(&row[ts]),
            src: ip(&row[src]),
            host: row[host].clone(),
            method: row[method].clone(),
            request_bytes: num(&row[req]),
            response_bytes: 0,
            user_agent: String::new(),
        });
    }
    let findings = d.evaluate();
    for f in findings.iter().take(5) {
        eprintln!("{:.3} {:?} {}", f.score, f.kind, f.entity);
    }
    // The capture's README labels exactly two proxied beacons.
    let labelled = [
        "10.136.0.18 → www.honestimnotevil.com",
        "10.136.0.18 → www.google.com",
    ];
    let (p, r) = precision_recall(&findings, &labelled);
    eprintln!(
        "rita-proxy at the alert score: precision {p:.3}, recall {r:.3} (labelled beacons: {})",
        labelled.len()
    );
    let src = ip("10.136.0.18");
    let evil = d
        .score(src, &BeaconTarget::Domain("www.honestimnotevil.com".into()))
        .expect("pair scored");
    let google = d.score(src, &BeaconTarget::Domain("www.google.com".into()));
    eprintln!("honestimnotevil: {evil:?}");
    eprintln!("google: {google:?}");
    assert!(evil.score >= 0.85, "named beacon scores high");
    let top = &findings[0];
    assert_eq!(top.kind, FindingKind::Beacon);
    assert_eq!(top.entity, "10.136.0.18 → www.honestimnotevil.com");
    // Everything else in the capture stays below the named beacon.
    assert!(findings[1..].iter().all(|f| f.score < evil.score));
    let fired: Vec<&str> = top.fired().map(|f| f.id).collect();
    eprintln!(
        "fired: {fired:?}\n{}",
        top.summary(taishi_anomaly::Lang::Zh)
    );
    assert!(fired.contains(&"interval_skew"));
}

#[test]
fn rita_missing_host_http_beacon_among_internet_background() {
    let Some(dir) = taishi_testdata::path("network/anomaly/rita-missing-host") else {
        return;
    };
    let beacon =
        ZeekLog::read(&dir.join("beacon_73.54.23.243-64.225.56.201_conn_2024-04-19_to_21.log"));
    let day = ZeekLog::read(&dir.join("conn_2024-04-19.log.gz"));
    let mut recs = conn_records(&day);
    // The 3-day extract adds days 2 and 3 of the beacon pair (day 1 is in
    // both files: keep one copy).
    let day_end = recs.iter().map(|r| r.ts_ms).max().unwrap();
    recs.extend(
        conn_records(&beacon)
            .into_iter()
            .filter(|r| r.ts_ms > day_end),
    );
    recs.sort_by_key(|r| r.ts_ms);
    let mut d = BeaconDetector::new(BeaconConfig::default()).unwrap();
    for r in &recs {
        d.observe_flow(r);
    }
    let findings = d.evaluate();
    let beacons: Vec<_> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Beacon)
        .collect();
    eprintln!(
        "{} records, {} pairs, {} beacon findings",
        recs.len(),
        d.pairs_len(),
        beacons.len()
    );
    for f in beacons.iter().take(8) {
        eprintln!("  {:.3} {}", f.score, f.entity);
    }
    let s = d
        .score(ip("73.54.23.243"), &BeaconTarget::Ip(ip("64.225.56.201")))
        .unwrap();
    eprintln!("named beacon: {s:?}");
    let (p, r) = precision_recall(&findings, &["73.54.23.243 → 64.225.56.201"]);
    eprintln!(
        "rita-missing-host at the alert score: precision {p:.3}, recall {r:.3} (one labelled beacon)"
    );
    assert!(s.score >= 0.85);
    assert_eq!(beacons[0].entity, "73.54.23.243 → 64.225.56.201");
    // The Internet background (scanners, crawlers) stays low: at most a
    // handful of other pairs reach the alert score.
    assert!(
        beacons.len() <= 5,
        "{} background pairs alert",
        beacons.len() - 1
    );
}

/// Precision and recall of the beacon findings (at the alert score)
/// against the labelled pairs.
fn precision_recall(findings: &[taishi_anomaly::Finding], labelled: &[&str]) -> (f64, f64) {
    let raised: Vec<&str> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Beacon)
        .map(|f| f.entity.as_str())
        .collect();
    let tp = raised.iter().filter(|e| labelled.contains(e)).count() as f64;
    (
        if raised.is_empty() {
            0.0
        } else {
            tp / raised.len() as f64
        },
        tp / labelled.len() as f64,
    )
}
