//! The canonical serialisation that record hashes and checkpoint signatures
//! are computed over.
//!
//! Canonical JSON: objects with keys sorted by their UTF-8 bytes, no
//! whitespace, strings escaped as serde_json writes them (`"` `\` and control
//! characters; `\n` `\r` `\t` `\b` `\f` short forms, others `\u00XX`; all
//! other characters raw UTF-8), integers in plain decimal, other numbers in
//! serde_json's shortest round-trip form, `true`/`false`/`null` as is, arrays
//! in order. A record's hash is
//! `SHA-256("taishi-audit-record-v1\n" ‖ canonical(record without "hash"))`.

use serde_json::Value;

/// Prefixed to a record's canonical bytes before hashing, so a record hash can
/// never be confused with a checkpoint signature input or a hash of anything else.
pub const RECORD_DOMAIN: &[u8] = b"taishi-audit-record-v1\n";
/// Prefixed to a checkpoint's canonical bytes before signing.
pub const CHECKPOINT_DOMAIN: &[u8] = b"taishi-audit-checkpoint-v1\n";

/// Appends the canonical form of `v` to `out`.
pub fn write(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_str(s, out),
        // Numbers, booleans and null: serde_json's own text is already canonical.
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing a &str into a Vec cannot fail.
    serde_json::to_writer(&mut *out, s).expect("string into Vec");
}

/// The canonical bytes of `v`.
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(v, &mut out);
    out
}

/// SHA-256 of `domain ‖ bytes`, lower-case hex.
pub fn sha256_hex(domain: &[u8], bytes: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(domain);
    ctx.update(bytes);
    hex(ctx.finish().as_ref())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Decodes lower- or upper-case hex; `None` on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(p[0])? * 16 + d(p[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sorted_no_whitespace() {
        let v = json!({"b": 1, "a": {"z": [true, null], "y": "x\n\""}, "é": 1.5});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"a":{"y":"x\n\"","z":[true,null]},"b":1,"é":1.5}"#
        );
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
    }
}
