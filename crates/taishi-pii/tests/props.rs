//! Properties: the scanner and the masker never panic on arbitrary bytes,
//! findings stay in bounds and sorted, and masked output never holds the raw
//! values that were found.

mod common;

use common::*;
use proptest::prelude::*;
use taishi_pii::{Kind, MaskKey, MaskMode, MaskPolicy, Masker, ScanConfig, Scanner};

fn masker(mode: MaskMode) -> Masker {
    let sc = Scanner::new(ScanConfig::default()).unwrap();
    let policy = MaskPolicy {
        default: mode,
        ..MaskPolicy::default()
    };
    Masker::new(
        sc,
        MaskKey::new(b"0123456789abcdef0123456789abcdef").unwrap(),
        policy,
    )
}

/// Bytes that look like the inputs the scanner cares about: digits, separators,
/// Chinese, GBK and broken UTF-8, with a valid value spliced in now and then.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        "[0-9]{1,20}".prop_map(String::into_bytes),
        "[ .:@_+x-]{1,3}".prop_map(String::into_bytes),
        Just("身份证号：".as_bytes().to_vec()),
        Just("-----BEGIN RSA PRIVATE KEY-----".as_bytes().to_vec()),
        Just(b"eyJhbGciOiJub25lIn0.eyJ".to_vec()),
        Just(b"ghp_".to_vec()),
        Just("广东省深圳市南山区".as_bytes().to_vec()),
        Just(vec![0xE4, 0xB8]),
        Just("粤B".as_bytes().to_vec()),
        "[A-Z]{1,2}[0-9]{4,8}".prop_map(String::into_bytes),
        "[0-9a-f:]{2,12}".prop_map(String::into_bytes),
        Just(b"AKIA".to_vec()),
        Just(vec![0xB0, 0xA1, 0xFF]),
        any::<u64>().prop_map(|s| resident_id(&mut Rng(s)).into_bytes()),
        any::<u64>().prop_map(|s| card(&mut Rng(s)).into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn scanner_never_panics_and_stays_in_bounds(b in input()) {
        let sc = Scanner::new(ScanConfig { min_confidence: Some(0.0), ..ScanConfig::default() }).unwrap();
        let out = sc.scan(&b);
        let mut last = 0;
        for f in &out.findings {
            prop_assert!(f.start < f.end && f.end <= b.len());
            prop_assert!(f.start >= last);
            prop_assert!((0.0..=1.0).contains(&f.confidence));
            last = f.start;
        }
    }

    #[test]
    fn block_loop_finds_what_the_byte_loop_finds(b in proptest::collection::vec(input(), 1..6)) {
        // Long inputs, so that 64-byte blocks, tokens across block edges and the tail all occur.
        let b = b.concat();
        let sc = Scanner::new(ScanConfig { min_confidence: Some(0.0), ..ScanConfig::default() }).unwrap();
        prop_assert_eq!(sc.scan(&b), sc.scan_reference(&b));
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let m = masker(MaskMode::Partial);
        let (masked, _) = m.mask_bytes(&b);
        prop_assert!(masked.len() <= b.len() + 64 * (b.len() / 8 + 1));
    }

    #[test]
    fn masked_output_holds_no_found_value(b in input(), mode in prop_oneof![Just(MaskMode::Partial), Just(MaskMode::Hash), Just(MaskMode::Remove)]) {
        let m = masker(mode);
        let (masked, found) = m.mask_bytes(&b);
        for f in &found.findings {
            let raw = &b[f.start..f.end];
            // Short values (a 2-character name) can recur by chance in the rest of the text.
            if raw.len() >= 11 && matches!(f.kind, Kind::CnResidentId | Kind::BankCard | Kind::CnMobile) {
                prop_assert!(memchr::memmem::find(&masked, raw).is_none(), "{:?} survived masking", String::from_utf8_lossy(raw));
            }
        }
    }
}
