//! The robots' signature schemes.

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use ring::hmac;

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&k, msg).as_ref().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// DingTalk custom robot "加签": `string_to_sign = timestamp_ms + "\n" +
/// secret`, HMAC-SHA256 keyed with the secret, Base64, then URL-encoded.
/// Returns the encoded `sign` for `&timestamp=…&sign=…`.
pub fn dingtalk(secret: &str, timestamp_ms: i64) -> String {
    let to_sign = format!("{timestamp_ms}\n{secret}");
    let sig = b64(&hmac_sha256(secret.as_bytes(), to_sign.as_bytes()));
    utf8_percent_encode(&sig, NON_ALPHANUMERIC).to_string()
}

/// Feishu/Lark custom bot: `string_to_sign = timestamp_s + "\n" + secret`
/// is the HMAC-SHA256 *key*, over an empty message; Base64. Goes in the
/// body as `sign` beside `timestamp` (seconds, as a string).
pub fn feishu(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    b64(&hmac_sha256(key.as_bytes(), b""))
}

/// The generic webhook's `X-Taishi-Signature`: `sha256=` and the hex
/// HMAC-SHA256 of `timestamp + "." + body` keyed with the secret, the
/// timestamp (seconds) sent as `X-Taishi-Timestamp` so receivers can refuse
/// replays.
pub fn webhook(secret: &str, timestamp_s: i64, body: &[u8]) -> String {
    let mut msg = format!("{timestamp_s}.").into_bytes();
    msg.extend_from_slice(body);
    let mac = hmac_sha256(secret.as_bytes(), &msg);
    let mut hex = String::with_capacity(7 + mac.len() * 2);
    hex.push_str("sha256=");
    for b in mac {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}
