//! What the tests share: a detector set and valid, made-up personal data.

#![allow(dead_code)]

use taishi_pii::{Kind, LocationSummary, MaskKey, MaskPolicy, Masker, ScanConfig, Scanner};
use taishi_pii_scan::{Detect, Locations};

pub fn detect() -> Detect {
    let key = MaskKey::new(&[7u8; 32]).unwrap();
    let scanner = Scanner::new(ScanConfig::default()).unwrap();
    Detect {
        masker: Masker::new(scanner, key.clone(), MaskPolicy::default()),
        key,
    }
}

/// The `i`-th valid resident ID number (region 110101, born in 1990).
pub fn resident_id(i: u32) -> String {
    let first = format!(
        "1101011990{:02}{:02}{:03}",
        1 + i % 12,
        1 + i % 28,
        i % 1000
    );
    let c = taishi_pii::gb11643_check(first.as_bytes()).unwrap();
    format!("{first}{}", c as char)
}

/// The `i`-th mobile number on a current segment.
pub fn mobile(i: u32) -> String {
    format!("138{:08}", 10_000_000 + i)
}

/// The one location whose name ends with `suffix`.
pub fn at<'a>(locs: &'a Locations, suffix: &str) -> &'a LocationSummary {
    let hits: Vec<_> = locs.iter().filter(|(k, _)| k.ends_with(suffix)).collect();
    assert_eq!(
        hits.len(),
        1,
        "one location ending in {suffix}: {:?}",
        locs.keys().collect::<Vec<_>>()
    );
    hits[0].1
}

pub fn count(l: &LocationSummary, k: Kind) -> u64 {
    l.kinds.get(&k).map(|s| s.count).unwrap_or(0)
}

/// No raw value of `raw` anywhere in what a report could show.
pub fn no_raw(locs: &Locations, raw: &[String]) {
    for (loc, l) in locs {
        let shown = format!("{loc} {:?}", l.kinds);
        for r in raw {
            assert!(!shown.contains(r.as_str()), "{r} shown raw in {shown}");
        }
    }
}
