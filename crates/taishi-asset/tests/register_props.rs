//! Register invariants under random sequences of ingests.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use taishi_asset::*;

/// One incoming asset: org 0/1, and a few identities from small pools so
/// that collisions (and so merges) are frequent.
fn incoming() -> impl Strategy<Value = (u8, Vec<(u8, u8)>, u8)> {
    (
        0u8..2,
        proptest::collection::vec((0u8..3, 0u8..4), 1..4),
        0u8..60,
    )
}

fn build(org: u8, ids: &[(u8, u8)], day: u8) -> Asset {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(day as i64);
    let p = Provenance::new(SourceKind::Scan, format!("scan-{day}"), at);
    let mut a = Asset::new(AssetId(0), OrgId(format!("org{org}")));
    for &(kind, n) in ids {
        let id = match kind {
            0 => Identity::Ip(format!("10.0.0.{n}").parse().unwrap()),
            1 => Identity::Mac(Mac([0, 0, 0, 0, 0, n])),
            _ => Identity::Fqdn(format!("h{n}.example")),
        };
        if !a.has_identity(&id) {
            a.identities.push(p.fact(id));
        }
    }
    a
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn ingest_keeps_the_register_consistent(seq in proptest::collection::vec(incoming(), 1..40)) {
        let mut reg = Register::new(MergePolicy::default());
        let mut all: Vec<(OrgId, Identity)> = Vec::new();
        for (org, ids, day) in &seq {
            let a = build(*org, ids, *day);
            for f in &a.identities {
                all.push((a.org.clone(), f.value.clone()));
            }
            let out = reg.ingest(a);
            prop_assert!(reg.get(out.id).is_some());
        }
        // Nothing said is lost: every identity is on an asset of its org.
        for (org, id) in &all {
            prop_assert!(!reg.find(org, id).is_empty(), "{id} lost");
        }
        // A MAC or FQDN is on one asset per organisation (no analyst split
        // here); an IP may be on several (sightings far apart in time).
        for (org, id) in &all {
            if !matches!(id, Identity::Ip(_)) {
                prop_assert_eq!(reg.find(org, id).len(), 1, "{} on several assets", id);
            }
        }
        // The index agrees with a scan of the assets (a deserialised
        // register has no index and scans).
        let copy: Register = serde_json::from_str(&serde_json::to_string(&reg).unwrap()).unwrap();
        for (org, id) in &all {
            prop_assert_eq!(reg.find(org, id), copy.find(org, id));
        }
        // Organisations never mix.
        for a in reg.assets() {
            prop_assert!(a.identities.iter().all(|f| all.contains(&(a.org.clone(), f.value.clone()))));
        }
    }
}

#[test]
fn provenance_per_fact_is_bounded_and_keeps_the_first() {
    let mut reg = Register::new(MergePolicy::default());
    let mut id = None;
    for day in 0..100u8 {
        let out = reg.ingest(build(0, &[(1, 1)], day % 60));
        id = Some(out.id);
    }
    let a = reg.get(id.unwrap()).unwrap();
    assert_eq!(reg.len(), 1);
    let p = &a.identities[0].provenance;
    assert_eq!(p.len(), MAX_PROVENANCE);
    assert_eq!(p[0].source, "scan-0");
    assert_eq!(p.last().unwrap().source, "scan-59");
}
