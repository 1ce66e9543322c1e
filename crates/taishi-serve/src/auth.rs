//! Who is calling: session cookies for people, bearer tokens for machines.
//!
//! Passwords are stored as Argon2id PHC strings. Session ids and API tokens
//! are random 256-bit values; only their SHA-256 digests are stored, so a
//! copy of the state database does not let anyone in.

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

/// What a route may require of its caller: defined once, with the roles,
/// in `taishi-auth`.
pub use taishi_auth::{BuiltinRole, Grants, Permission};

use crate::state::Scope;

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub username: String,
    /// The role ids it holds (a token: its own, capped by its owner's).
    pub roles: Vec<String>,
    /// What those roles grant together.
    pub grants: Grants,
    /// The organisation it belongs to (a token: the one it is bound to).
    pub org: String,
    /// That organisation and every one below it: all it may see.
    pub scope: Scope,
    /// The organisation the caller narrowed its view to (the console's
    /// switcher), if any.
    pub view: Option<String>,
    /// The session's CSRF value when the caller came with a session cookie
    /// (it must be echoed in a header on unsafe methods); None for tokens.
    pub csrf: Option<String>,
    /// A session whose password is one-time (set by someone else) or past
    /// the policy's age: only the `account` routes answer until it is
    /// changed.
    pub must_change_password: bool,
}

impl Caller {
    pub fn can(&self, p: Permission) -> bool {
        self.grants.has(p)
    }

    /// The organisation the caller acts for: the one it narrowed its view
    /// to, else its own. An override (a rule switched, an intel source
    /// imported) belongs to it.
    pub fn acting_org(&self) -> &str {
        self.view.as_deref().unwrap_or(&self.org)
    }

    /// Roles as one line for messages and the audit trail.
    pub fn roles_text(&self) -> String {
        self.roles.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
