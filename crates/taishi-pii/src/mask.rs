//! Masking before storage: partial (`110101********1234`), keyed hash
//! (HMAC-SHA256, so equal values still correlate), or removal — per kind and
//! per field.

use crate::kind::Kind;
use crate::scan::{Finding, ScanOutput, Scanner};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;

/// How a finding is replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaskMode {
    /// Keep the parts people need to recognise the value (region and last
    /// digits of an ID, domain of an e-mail), star the rest.
    Partial,
    /// `[kind:16 hex digits]` of the keyed hash of the normalised value.
    Hash,
    /// Drop the value.
    Remove,
}

/// A bad masking key.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum KeyError {
    /// Shorter than 16 bytes: too easy to brute-force the ID space through the hashes.
    #[error("masking key is {0} bytes; at least 16 are required (32 random bytes recommended)")]
    TooShort(usize),
}

/// A JSON value too big or too deep to mask within the limits.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum MaskError {
    /// Nested deeper than the limit, at this JSON pointer.
    #[error("JSON nested deeper than {limit} levels at {path}")]
    TooDeep { limit: usize, path: String },
    /// More nodes than the limit.
    #[error("JSON has more than {limit} values (at {path})")]
    TooLarge { limit: usize, path: String },
}

/// The secret key of keyed hashes (masking by hash and person keys). Hashes
/// from different keys never match, so one deployment keeps one key.
#[derive(Clone)]
pub struct MaskKey(Vec<u8>);

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaskKey(..)")
    }
}

impl MaskKey {
    /// A key of at least 16 bytes.
    pub fn new(bytes: &[u8]) -> Result<MaskKey, KeyError> {
        if bytes.len() < 16 {
            return Err(KeyError::TooShort(bytes.len()));
        }
        Ok(MaskKey(bytes.to_vec()))
    }

    /// HMAC-SHA256 over the parts, each followed by a zero byte (so part
    /// boundaries cannot shift).
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        // A key of any length is accepted by HMAC; new_from_slice cannot fail.
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        for p in parts {
            m.update(p);
            m.update(&[0]);
        }
        m.finalize().into_bytes().into()
    }
}

/// Which mode applies: per field name first, then per kind, then the default.
#[derive(Clone, Debug)]
pub struct MaskPolicy {
    pub default: MaskMode,
    pub kinds: HashMap<Kind, MaskMode>,
    pub fields: HashMap<String, MaskMode>,
}

impl Default for MaskPolicy {
    fn default() -> Self {
        MaskPolicy {
            default: MaskMode::Partial,
            kinds: HashMap::new(),
            fields: HashMap::new(),
        }
    }
}

impl MaskPolicy {
    fn mode(&self, field: Option<&str>, kind: Kind) -> MaskMode {
        field
            .and_then(|f| self.fields.get(f))
            .or_else(|| self.kinds.get(&kind))
            .copied()
            .unwrap_or(self.default)
    }
}

/// Scans and masks text and JSON.
#[derive(Clone, Debug)]
pub struct Masker {
    scanner: Scanner,
    key: MaskKey,
    policy: MaskPolicy,
    /// JSON limits.
    pub max_depth: usize,
    pub max_nodes: usize,
}

impl Masker {
    pub fn new(scanner: Scanner, key: MaskKey, policy: MaskPolicy) -> Masker {
        Masker {
            scanner,
            key,
            policy,
            max_depth: 64,
            max_nodes: 1_000_000,
        }
    }

    /// The scanner in use.
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// The keyed hash of a finding's normalised value, as `[kind:16 hex]`.
    pub fn hash_token(&self, kind: Kind, normalised: &[u8]) -> String {
        let h = self.key.mac(&[b"mask", kind.code().as_bytes(), normalised]);
        let hex: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("[{}:{hex}]", kind.code())
    }

    /// The replacement of one finding of `input` under `mode`.
    pub fn replacement(&self, input: &[u8], f: &Finding, mode: MaskMode) -> Vec<u8> {
        let raw = &input[f.start.min(input.len())..f.end.min(input.len())];
        match mode {
            MaskMode::Remove => Vec::new(),
            MaskMode::Hash => self.hash_token(f.kind, &f.normalised(input)).into_bytes(),
            MaskMode::Partial => partial(f.kind, raw),
        }
    }

    /// `input` with every finding masked, and the findings (spans in `input`).
    pub fn mask_bytes(&self, input: &[u8]) -> (Vec<u8>, ScanOutput) {
        self.mask_field(None, input)
    }

    /// Like `mask_bytes` for the value of a named field: the name is context for
    /// the scanner and selects a per-field mode.
    pub fn mask_field(&self, field: Option<&str>, input: &[u8]) -> (Vec<u8>, ScanOutput) {
        let found = match field {
            Some(f) => self.scanner.scan_field(f, input),
            None => self.scanner.scan(input),
        };
        let mut out = Vec::with_capacity(input.len());
        let mut at = 0;
        for f in &found.findings {
            if f.end <= at {
                continue; // inside a finding already masked (a phone inside an e-mail)
            }
            if f.start < at {
                // Partly overlapping: star what sticks out rather than leak it.
                out.extend(std::iter::repeat_n(b'*', f.end - at));
            } else {
                out.extend_from_slice(&input[at..f.start]);
                out.extend(self.replacement(input, f, self.policy.mode(field, f.kind)));
            }
            at = f.end;
        }
        out.extend_from_slice(&input[at.min(input.len())..]);
        (out, found)
    }

    /// A string with every finding masked (bytes that were not UTF-8 are replaced).
    pub fn mask_str(&self, s: &str) -> String {
        String::from_utf8_lossy(&self.mask_bytes(s.as_bytes()).0).into_owned()
    }

    /// Masks every string (and every integer that holds PI, such as a phone
    /// number written as a number) in a JSON value in place; object keys are
    /// the context of their values. Returns the number of findings masked.
    pub fn mask_json(&self, v: &mut serde_json::Value) -> Result<usize, MaskError> {
        let mut nodes = 0;
        let mut path = String::new();
        self.json(v, None, 0, &mut nodes, &mut path)
    }

    fn json(
        &self,
        v: &mut serde_json::Value,
        key: Option<&str>,
        depth: usize,
        nodes: &mut usize,
        path: &mut String,
    ) -> Result<usize, MaskError> {
        use serde_json::Value;
        *nodes += 1;
        if *nodes > self.max_nodes {
            return Err(MaskError::TooLarge {
                limit: self.max_nodes,
                path: path.clone(),
            });
        }
        if depth > self.max_depth {
            return Err(MaskError::TooDeep {
                limit: self.max_depth,
                path: path.clone(),
            });
        }
        let mut n = 0;
        match v {
            Value::String(s) => {
                let (masked, found) = self.mask_field(key, s.as_bytes());
                if !found.findings.is_empty() {
                    n += found.findings.len();
                    *s = String::from_utf8_lossy(&masked).into_owned();
                }
            }
            Value::Number(num) if num.is_u64() || num.is_i64() => {
                let text = num.to_string();
                let (masked, found) = self.mask_field(key, text.as_bytes());
                if !found.findings.is_empty() {
                    n += found.findings.len();
                    *v = Value::String(String::from_utf8_lossy(&masked).into_owned());
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    n += self.json(x, key, depth + 1, nodes, path)?;
                    path.truncate(len);
                }
            }
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    n += self.json(x, Some(k), depth + 1, nodes, path)?;
                    path.truncate(len);
                }
            }
            _ => {}
        }
        Ok(n)
    }
}

/// Whether a byte starts a character that partial masking counts (letters,
/// digits, any non-ASCII character); separators and punctuation are kept.
fn significant(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c >= 0xC0
}

/// Stars every significant character except the first `head` and last `tail`.
fn keep(raw: &[u8], head: usize, tail: usize) -> Vec<u8> {
    let total = raw.iter().filter(|c| significant(**c)).count();
    let mut out = Vec::with_capacity(raw.len());
    let mut k = 0; // index of the current significant character
    let mut starring = false;
    for &c in raw {
        if significant(c) {
            k += 1;
            starring = k > head && k + tail <= total;
            out.push(if starring { b'*' } else { c });
        } else if (0x80..0xC0).contains(&c) {
            // Continuation byte: dropped when its character is starred.
            if !starring {
                out.push(c);
            }
        } else {
            starring = false;
            out.push(c);
        }
    }
    out
}

/// The partial mask of each kind.
fn partial(kind: Kind, raw: &[u8]) -> Vec<u8> {
    match kind {
        Kind::CnResidentId | Kind::BankCard | Kind::Uscc => keep(raw, 6, 4),
        Kind::CnMobile => {
            let digits = raw.iter().filter(|c| c.is_ascii_digit()).count();
            keep(raw, digits.saturating_sub(11) + 3, 4)
        }
        Kind::Passport | Kind::HkMacaoPermit | Kind::TaiwanPermit => keep(raw, 1, 3),
        Kind::CnPlate => keep(raw, 2, 2),
        Kind::PersonName => keep(raw, 1, 0),
        Kind::Address => keep(raw, 6, 0),
        Kind::Email => match raw.iter().position(|c| *c == b'@') {
            Some(a) => {
                let mut out = keep(&raw[..a], 1, 0);
                out.extend_from_slice(&raw[a..]);
                out
            }
            None => keep(raw, 1, 0),
        },
        Kind::Ipv4 | Kind::Ipv6 => {
            // Keep the network part (first two octets or groups).
            let sep = if kind == Kind::Ipv4 { b'.' } else { b':' };
            let mut seen = 0;
            raw.iter()
                .map(|&c| {
                    if c == sep {
                        seen += 1;
                        c
                    } else if seen >= 2 {
                        b'*'
                    } else {
                        c
                    }
                })
                .collect()
        }
        // Secrets: a prefix that says what it was, never its length.
        Kind::CloudAccessKey | Kind::GithubToken | Kind::Jwt => {
            let mut out = raw[..raw.len().min(4)].to_vec();
            out.extend_from_slice(b"****");
            out
        }
        Kind::PrivateKey => b"[private key removed]".to_vec(),
        Kind::UrlPassword => b"****".to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_masks() {
        assert_eq!(
            partial(Kind::CnResidentId, b"11010119900307803X"),
            b"110101********803X"
        );
        assert_eq!(
            partial(Kind::CnMobile, b"+86 138 0013 8000"),
            b"+86 138 **** 8000"
        );
        assert_eq!(partial(Kind::CnMobile, b"13800138000"), b"138****8000");
        assert_eq!(
            partial(Kind::Email, b"zhang.san@example.com"),
            b"z****.***@example.com"
        );
        assert_eq!(
            partial(Kind::PersonName, "张三丰".as_bytes()),
            "张**".as_bytes()
        );
        assert_eq!(
            partial(Kind::CnPlate, "京A12345".as_bytes()),
            "京A***45".as_bytes()
        );
        assert_eq!(partial(Kind::Ipv4, b"203.0.113.7"), b"203.0.***.*");
    }
}
