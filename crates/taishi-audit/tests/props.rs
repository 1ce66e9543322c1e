//! Property tests: what reads outside input (stored lines, key files) or
//! renders it (syslog, CEF, masking) never panics on arbitrary input.

use proptest::prelude::*;
use serde_json::Value;
use taishi_audit::forward::{to_cef, to_syslog};
use taishi_audit::*;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("(password|token|[a-z_ -]{0,8})", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn stored_lines_never_panic(lines in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..8)) {
        let dir = tempfile::tempdir().unwrap();
        let mut body = Vec::new();
        for l in &lines {
            body.extend_from_slice(l);
            body.push(b'\n');
        }
        std::fs::write(dir.path().join("records-00000000000000000001.jsonl"), &body).unwrap();
        std::fs::write(dir.path().join("checkpoints.jsonl"), &body).unwrap();
        // Opening may refuse a bad head; it must not panic. Verify reads the rest.
        let _ = FileStore::open(dir.path(), FileStoreOptions::default());
        let mut n = 0;
        walk_jsonl(&dir.path().join("records-00000000000000000001.jsonl"), &mut |_| { n += 1; true }).unwrap();
        let cps = read_checkpoints(&dir.path().join("checkpoints.jsonl")).unwrap();
        let key = SigningKey::generate().unwrap().public();
        let r = verify_parts(
            &mut |v| walk_jsonl(&dir.path().join("records-00000000000000000001.jsonl"), v).map(|_| ()),
            cps,
            &VerifyOptions { key: Some(key), require_anchor: true },
        ).unwrap();
        let _ = (r.message(Lang::Zh), r.message(Lang::En));
    }

    #[test]
    fn key_text_never_panics(s in ".{0,300}", b in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = PublicKey::parse(&s);
        let _ = PublicKey::parse(&format!("-----BEGIN PUBLIC KEY-----\n{s}\n-----END PUBLIC KEY-----"));
        let _ = PublicKey::parse(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn renderings_stay_one_line(name in ".{0,40}", target in ".{0,40}", action in ".{0,20}", src in ".{0,20}") {
        let mut n = NewRecord::new(Actor { id: name.clone(), name }, "o", &action, Outcome::Denied);
        n.target = Some(target);
        n.source = Some(src);
        let r = Record::chain(n, 1, GENESIS_HASH, chrono::Utc::now().fixed_offset());
        for s in [to_syslog(&r, "h", Lang::En), to_cef(&r, "1", Lang::Zh)] {
            prop_assert!(!s.contains('\n') && !s.contains('\r'));
        }
    }

    #[test]
    fn masking_never_panics_and_leaves_no_secret(mut v in json_value()) {
        mask_secrets(&mut v);
        fn clean(v: &Value) -> bool {
            match v {
                Value::Object(m) => m.iter().all(|(k, x)| if is_secret_key(k) {
                    x.is_null() || x == "" || x == MASK
                } else {
                    clean(x)
                }),
                Value::Array(a) => a.iter().all(clean),
                _ => true,
            }
        }
        prop_assert!(clean(&v));
    }
}
