//! Ed25519 signing of checkpoints: the key file, the public key an auditor
//! pins, and the checkpoint statement itself.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, FixedOffset};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use crate::canonical;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32 key bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// Largest key file read (a PKCS#8 Ed25519 PEM is about 170 bytes).
const MAX_KEY_FILE: u64 = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a key file: {what}")]
    Format { path: PathBuf, what: &'static str },
    #[error("{path}: the signing key is readable by others (mode {mode:o}); it must be 0600 (chmod 600 {path})")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("could not generate an Ed25519 key (no system randomness)")]
    Generate,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |error| KeyError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The trail's Ed25519 signing key, kept as a PKCS#8 PEM file with mode 0600.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().key_id())
    }
}

impl SigningKey {
    /// A fresh key held in memory only (tests, benchmarks).
    pub fn generate() -> Result<SigningKey, KeyError> {
        let doc =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generate)?;
        Ok(SigningKey {
            pair: Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| KeyError::Generate)?,
        })
    }

    /// Loads the key at `path`, or generates it there at first start; the
    /// flag says whether it was created. A key file readable by group or
    /// others is refused rather than used.
    pub fn load_or_create(path: &Path) -> Result<(SigningKey, bool), KeyError> {
        match fs::metadata(path) {
            Ok(_) => Ok((SigningKey::load(path)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((SigningKey::create(path)?, true))
            }
            Err(e) => Err(io(path)(e)),
        }
    }

    fn load(path: &Path) -> Result<SigningKey, KeyError> {
        let meta = fs::metadata(path).map_err(io(path))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        if meta.len() > MAX_KEY_FILE {
            return Err(KeyError::Format {
                path: path.to_path_buf(),
                what: "larger than 16 KiB",
            });
        }
        let text = fs::read_to_string(path).map_err(io(path))?;
        let der = pem_body(&text, "PRIVATE KEY").ok_or(KeyError::Format {
            path: path.to_path_buf(),
            what: "no PEM PRIVATE KEY block",
        })?;
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| KeyError::Format {
                path: path.to_path_buf(),
                what: "not an Ed25519 PKCS#8 key",
            })?;
        Ok(SigningKey { pair })
    }

    fn create(path: &Path) -> Result<SigningKey, KeyError> {
        let doc =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generate)?;
        let pem = pem("PRIVATE KEY", doc.as_ref());
        // Written under a temporary name and renamed, so a crash never leaves
        // a half-written key that the next start would refuse.
        let tmp = path.with_extension("tmp");
        let _ = fs::remove_file(&tmp);
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        f.write_all(pem.as_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, path).map_err(io(path))?;
        if let Some(dir) = path.parent() {
            crate::file::sync_dir(dir).map_err(io(dir))?;
        }
        Ok(SigningKey {
            pair: Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| KeyError::Generate)?,
        })
    }

    pub fn public(&self) -> PublicKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(k)
    }

    /// Signs the statement that the chain's record `seq` has `hash`, at `time`.
    pub fn checkpoint(&self, seq: u64, hash: &str, time: DateTime<FixedOffset>) -> Checkpoint {
        let mut cp = Checkpoint {
            seq,
            hash: hash.to_string(),
            time,
            key_id: self.public().key_id(),
            signature: String::new(),
        };
        cp.signature = B64.encode(self.pair.sign(&cp.signed_bytes()).as_ref());
        cp
    }
}

/// An Ed25519 public key (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The first 8 bytes of SHA-256 over the key, hex: names the key in checkpoints.
    pub fn key_id(&self) -> String {
        canonical::sha256_hex(b"", &self.0)[..16].to_string()
    }

    /// PEM `PUBLIC KEY` (SubjectPublicKeyInfo, RFC 8410): `openssl pkey -pubin` reads it.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem("PUBLIC KEY", &der)
    }

    /// Reads a PEM `PUBLIC KEY` or 64 hex digits.
    pub fn parse(text: &str) -> Option<PublicKey> {
        let raw = match pem_body(text, "PUBLIC KEY") {
            Some(der) => der.strip_prefix(&SPKI_PREFIX[..])?.to_vec(),
            None => canonical::unhex(text.trim())?,
        };
        Some(PublicKey(raw.try_into().ok()?))
    }

    /// Reads a public key file (at most 16 KiB).
    pub fn read(path: &Path) -> Result<PublicKey, KeyError> {
        let len = fs::metadata(path).map_err(io(path))?.len();
        if len > MAX_KEY_FILE {
            return Err(KeyError::Format {
                path: path.to_path_buf(),
                what: "larger than 16 KiB",
            });
        }
        let text = fs::read_to_string(path).map_err(io(path))?;
        PublicKey::parse(&text).ok_or(KeyError::Format {
            path: path.to_path_buf(),
            what: "neither a PEM Ed25519 PUBLIC KEY nor 64 hex digits",
        })
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = B64.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop].split_whitespace().collect();
    B64.decode(body).ok()
}

/// A signed statement that record `seq` of the chain has `hash`, made at `time`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
    pub time: DateTime<FixedOffset>,
    /// [`PublicKey::key_id`] of the signing key.
    pub key_id: String,
    /// Ed25519 signature (base64) over
    /// `"taishi-audit-checkpoint-v1\n" ‖ canonical({hash, key_id, seq, time})`.
    pub signature: String,
}

impl Checkpoint {
    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let v = serde_json::json!({
            "seq": self.seq,
            "hash": self.hash,
            "time": self.time,
            "key_id": self.key_id,
        });
        let mut out = canonical::CHECKPOINT_DOMAIN.to_vec();
        canonical::write(&v, &mut out);
        out
    }

    /// Whether the signature is valid for `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        let Ok(sig) = B64.decode(&self.signature) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, &key.0)
            .verify(&self.signed_bytes(), &sig)
            .is_ok()
    }

    /// The stored line: canonical JSON, without the newline.
    pub fn to_line(&self) -> Vec<u8> {
        canonical::to_vec(&serde_json::to_value(self).expect("a checkpoint is plain JSON"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_0600_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("signing.key");
        let (k1, created) = SigningKey::load_or_create(&p).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (k2, created) = SigningKey::load_or_create(&p).unwrap();
        assert!(!created);
        assert_eq!(k1.public(), k2.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                SigningKey::load_or_create(&p),
                Err(KeyError::Permissions { .. })
            ));
        }
    }

    #[test]
    fn checkpoint_signature_checks_out() {
        let k = SigningKey::generate().unwrap();
        let t = DateTime::parse_from_rfc3339("2026-12-06T08:00:00.123+08:00").unwrap();
        let cp = k.checkpoint(7, &"ab".repeat(32), t);
        let pk = PublicKey::parse(&k.public().to_pem()).unwrap();
        assert!(cp.verify(&pk));
        let back: Checkpoint = serde_json::from_slice(&cp.to_line()).unwrap();
        assert!(back.verify(&pk));
        let mut bad = cp.clone();
        bad.seq = 8;
        assert!(!bad.verify(&pk));
        let other = SigningKey::generate().unwrap().public();
        assert!(!cp.verify(&other));
    }
}
