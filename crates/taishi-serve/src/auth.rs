//! Who is calling: session cookies for people, bearer tokens for machines.
//!
//! Passwords are stored as Argon2id PHC strings. Session ids and API tokens
//! are random 256-bit values; only their SHA-256 digests are stored, so a
//! copy of the state database does not let anyone in.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "taishi_session";
pub const CSRF_HEADER: &str = "x-taishi-csrf";

pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // The OS generator failing is not recoverable for a security service.
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    hex(&b)
}

fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// A password people can type from a printout: 20 characters without
/// look-alikes.
pub fn one_time_password() -> String {
    const A: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 20];
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    b.iter().map(|x| A[*x as usize % A.len()] as char).collect()
}

pub fn hash_password(pw: &str) -> Result<String, String> {
    if pw.chars().count() < 8 {
        return Err("password: at least 8 characters".into());
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(pw: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    if let Some(t) = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
    {
        return Some(t.trim().to_string());
    }
    // Beats and Logstash send `user:token` as basic auth; the token is the password.
    let b = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.split_once(':').map(|(_, p)| p.to_string())
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub username: String,
    pub role: String,
    /// The session's CSRF value when the caller came with a session cookie
    /// (it must be echoed in a header on unsafe methods); None for tokens.
    pub csrf: Option<String>,
}

impl Caller {
    pub fn can_write(&self) -> bool {
        matches!(self.role.as_str(), "admin" | "analyst")
    }
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn credentials_from_headers() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; taishi_session=abc; b=2".parse().unwrap());
        h.insert(
            "authorization",
            "Basic ZWxhc3RpYzp0c2tfeHl6".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(bearer(&h).as_deref(), Some("tsk_xyz"));
        assert_eq!(one_time_password().len(), 20);
        assert_eq!(digest("a").len(), 64);
    }
}
