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

/// What a route may require of its caller. Each route of the table
/// (`crate::routes`) names one; the guard checks it before the handler
/// runs, and the OpenAPI document carries it as `x-permission`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// One's own session and password.
    Account,
    /// Creating, listing and revoking one's own API tokens.
    TokensWrite,
    UsersRead,
    /// Users, and every user's tokens.
    UsersWrite,
    AlertsRead,
    /// Triage: acknowledge, assign, close, reopen, comment.
    AlertsWrite,
    /// Listing rules and validating rule text.
    RulesRead,
    /// Uploading, deleting, switching and reloading rules.
    RulesWrite,
    IntelRead,
    /// Imports and pulls (each followed by a retro-hunt).
    IntelWrite,
    /// Adding and removing scheduled feeds (credentials, outbound fetches).
    IntelFeeds,
    /// Searching events and listing their fields.
    Search,
    /// The overview and its live stream.
    OverviewRead,
    SettingsRead,
    /// Sending a test notification through a configured output.
    OutputsTest,
    SettingsWrite,
    /// Health and Prometheus metrics.
    SystemRead,
    /// HTTP ingest (NDJSON, `_bulk`), with an API token only.
    Ingest,
    /// Reading, verifying and exporting the audit trail.
    AuditRead,
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::Account,
        Permission::TokensWrite,
        Permission::UsersRead,
        Permission::UsersWrite,
        Permission::AlertsRead,
        Permission::AlertsWrite,
        Permission::RulesRead,
        Permission::RulesWrite,
        Permission::IntelRead,
        Permission::IntelWrite,
        Permission::IntelFeeds,
        Permission::Search,
        Permission::OverviewRead,
        Permission::SettingsRead,
        Permission::OutputsTest,
        Permission::SettingsWrite,
        Permission::SystemRead,
        Permission::Ingest,
        Permission::AuditRead,
    ];

    /// The name on the wire and in the OpenAPI document (`alerts:write`).
    pub fn name(self) -> &'static str {
        match self {
            Permission::Account => "account",
            Permission::TokensWrite => "tokens:write",
            Permission::UsersRead => "users:read",
            Permission::UsersWrite => "users:write",
            Permission::AlertsRead => "alerts:read",
            Permission::AlertsWrite => "alerts:write",
            Permission::RulesRead => "rules:read",
            Permission::RulesWrite => "rules:write",
            Permission::IntelRead => "intel:read",
            Permission::IntelWrite => "intel:write",
            Permission::IntelFeeds => "intel:feeds",
            Permission::Search => "search",
            Permission::OverviewRead => "overview:read",
            Permission::SettingsRead => "settings:read",
            Permission::OutputsTest => "outputs:test",
            Permission::SettingsWrite => "settings:write",
            Permission::SystemRead => "system:read",
            Permission::Ingest => "ingest",
            Permission::AuditRead => "audit:read",
        }
    }
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl schemars::JsonSchema for Permission {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Permission".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
        schemars::json_schema!({"type": "string", "enum": names})
    }
}

/// What every role may do: read, and manage one's own account and tokens.
const VIEWER: &[Permission] = &[
    Permission::Account,
    Permission::TokensWrite,
    Permission::AlertsRead,
    Permission::RulesRead,
    Permission::IntelRead,
    Permission::Search,
    Permission::OverviewRead,
    Permission::SettingsRead,
    Permission::SystemRead,
];

/// What an analyst may do besides: triage, rules, imports, tests, ingest.
const ANALYST_ALSO: &[Permission] = &[
    Permission::AlertsWrite,
    Permission::RulesWrite,
    Permission::IntelWrite,
    Permission::OutputsTest,
    Permission::Ingest,
];

/// Whether a role grants a permission: today's three roles, exactly as
/// their checks inside the handlers allowed before the route table (an
/// unknown role may do nothing).
pub fn role_allows(role: &str, p: Permission) -> bool {
    match role {
        "admin" => true,
        "analyst" => VIEWER.contains(&p) || ANALYST_ALSO.contains(&p),
        "viewer" => VIEWER.contains(&p),
        _ => false,
    }
}

/// Every permission of a role.
pub fn role_permissions(role: &str) -> Vec<Permission> {
    Permission::ALL
        .iter()
        .copied()
        .filter(|p| role_allows(role, *p))
        .collect()
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub username: String,
    pub role: String,
    /// The session's CSRF value when the caller came with a session cookie
    /// (it must be echoed in a header on unsafe methods); None for tokens.
    pub csrf: Option<String>,
}

impl Caller {
    pub fn can(&self, p: Permission) -> bool {
        role_allows(&self.role, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The map reproduces the three roles: admins everything, analysts
    /// the triage and write side but no user, feed or settings
    /// administration, viewers only reading (and their own account).
    #[test]
    fn roles_map_to_permissions() {
        use Permission as P;
        let can = role_allows;
        for p in Permission::ALL {
            assert!(can("admin", *p), "{}", p.name());
        }
        for p in [P::UsersRead, P::UsersWrite, P::IntelFeeds, P::SettingsWrite] {
            assert!(!can("analyst", p), "{}", p.name());
        }
        for p in [
            P::AlertsWrite,
            P::RulesWrite,
            P::IntelWrite,
            P::OutputsTest,
            P::Ingest,
        ] {
            assert!(can("analyst", p) && !can("viewer", p), "{}", p.name());
        }
        assert!(can("viewer", P::Search) && can("viewer", P::TokensWrite));
        assert!(role_permissions("root").is_empty());
        let names: std::collections::HashSet<_> =
            Permission::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Permission::ALL.len());
        assert_eq!(
            serde_json::to_value(P::AlertsWrite).unwrap(),
            "alerts:write"
        );
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
