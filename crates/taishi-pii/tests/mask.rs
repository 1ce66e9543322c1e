//! Masking text and JSON: every mode, per-field policy, correlation by hash,
//! and limits on JSON size and depth.

use serde_json::json;
use std::collections::HashMap;
use taishi_pii::{Kind, MaskError, MaskKey, MaskMode, MaskPolicy, Masker, ScanConfig, Scanner};

fn masker(policy: MaskPolicy) -> Masker {
    let sc = Scanner::new(ScanConfig::default()).unwrap();
    Masker::new(
        sc,
        MaskKey::new(b"0123456789abcdef0123456789abcdef").unwrap(),
        policy,
    )
}

#[test]
fn text_partial_hash_remove() {
    let text = "身份证 11010119900307803X 手机 13800138000 mail zhang@example.com";
    let m = masker(MaskPolicy::default());
    assert_eq!(
        m.mask_str(text),
        "身份证 110101********803X 手机 138****8000 mail z****@example.com"
    );
    let h = masker(MaskPolicy {
        default: MaskMode::Hash,
        ..MaskPolicy::default()
    });
    let a = h.mask_str("身份证 11010119900307803X");
    // the same person written in lower case correlates
    assert_eq!(a, h.mask_str("身份证 11010119900307803x"));
    assert!(a.starts_with("身份证 [cn_resident_id:") && !a.contains("19900307"));
    let r = masker(MaskPolicy {
        default: MaskMode::Remove,
        ..MaskPolicy::default()
    });
    assert_eq!(r.mask_str("手机 13800138000。"), "手机 。");
    assert!(MaskKey::new(b"short").is_err());
}

#[test]
fn json_per_field_and_numbers() {
    let mut fields = HashMap::new();
    fields.insert("owner_phone".to_string(), MaskMode::Hash);
    let m = masker(MaskPolicy {
        fields,
        kinds: HashMap::from([(Kind::Email, MaskMode::Remove)]),
        ..MaskPolicy::default()
    });
    let mut v = json!({
        "user": {"name": "张三", "phone": 13800138000u64, "owner_phone": "13900139000"},
        "notes": ["身份证 11010119900307803X", "mail a.b@example.com"],
        "count": 3
    });
    let n = m.mask_json(&mut v).unwrap();
    assert_eq!(n, 5);
    assert_eq!(v["user"]["name"], "张*");
    assert_eq!(v["user"]["phone"], "138****8000");
    assert!(v["user"]["owner_phone"]
        .as_str()
        .unwrap()
        .starts_with("[cn_mobile:"));
    assert_eq!(v["notes"][0], "身份证 110101********803X");
    assert_eq!(v["notes"][1], "mail ");
    assert_eq!(v["count"], 3);
}

#[test]
fn json_limits() {
    let m = masker(MaskPolicy::default());
    let mut deep = json!("x");
    for _ in 0..100 {
        deep = json!([deep]);
    }
    assert!(matches!(
        m.mask_json(&mut deep),
        Err(MaskError::TooDeep { .. })
    ));
    let mut m2 = masker(MaskPolicy::default());
    m2.max_nodes = 10;
    let mut big = json!((0..20).collect::<Vec<_>>());
    assert!(matches!(
        m2.mask_json(&mut big),
        Err(MaskError::TooLarge { .. })
    ));
}
