//! Leaks of personal information seen in the event stream (issue 16),
//! raised as alerts of kind `pii` that carry kinds, counts and the number
//! of people — never a value:
//!
//! - `pii:outbound`: personal information in what leaves the organisation's
//!   networks — the URL, referrer or body of a request to an outside
//!   address, or the body of an answer to an outside client (web and proxy
//!   logs, Suricata EVE `http`);
//! - `pii:bulk_query`: a database audit record of a statement that names a
//!   personal-information column and returned many rows.
//!
//! The masking stage finds the values; this module decides which findings
//! are a leak, from the event's addresses and fields.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use taishi_event::{roles, Event, Value};
use taishi_pii::{Kind, LocationSummary};

/// One leak in a batch: the event (its index) and what went out.
#[derive(Debug, Clone)]
pub struct Leak {
    pub index: usize,
    pub rule: LeakRule,
    /// Findings per kind (outbound), empty for a bulk query.
    pub kinds: BTreeMap<Kind, u64>,
    /// Distinct people (by resident ID) in what went out; for a bulk query
    /// the rows returned, an upper bound (`people_exact` false).
    pub people: u64,
    pub people_exact: bool,
    /// Fields the findings were in (outbound), or the columns the statement
    /// named (bulk query).
    pub fields: Vec<String>,
    /// Rows the statement returned (bulk query).
    pub rows: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakRule {
    Outbound,
    BulkQuery,
}

impl LeakRule {
    pub fn code(self) -> &'static str {
        match self {
            LeakRule::Outbound => "outbound",
            LeakRule::BulkQuery => "bulk_query",
        }
    }
}

/// Which way an event's content travels, from its addresses.
#[derive(Clone, Copy, Default)]
pub(crate) struct Direction {
    /// A request to an outside address: its URL and body leave.
    request_out: bool,
    /// An answer to an outside client: its body leaves.
    response_out: bool,
}

/// Statement and row-count fields of database audit records (ECS-like
/// names first, then those of MySQL/MariaDB audit plugins and pgAudit
/// exports).
const STATEMENT_FIELDS: &[&str] = &[
    "db.statement",
    "db.query.text",
    "db.query",
    "mysql.audit.query",
    "statement",
    "sql",
    "query",
];
const ROWS_FIELDS: &[&str] = &[
    "db.response.returned_rows",
    "db.rows",
    "db.rows_returned",
    "mysql.audit.rows",
    "rows_sent",
    "rows",
];

/// A statement is read this far for column names.
const MAX_STATEMENT: usize = 64 * 1024;

/// Column name words that hold personal information, in English and pinyin
/// (`sfz` 身份证, `xm` 姓名, `sjh` 手机号) as schemas name them.
pub const DEFAULT_PI_COLUMNS: &[&str] = &[
    "id_card",
    "idcard",
    "id_no",
    "id_number",
    "idno",
    "identity",
    "sfz",
    "sfzh",
    "shenfenzheng",
    "mobile",
    "phone",
    "telephone",
    "tel",
    "sjh",
    "bank_card",
    "bankcard",
    "card_no",
    "cardno",
    "email",
    "passport",
    "address",
    "real_name",
    "realname",
    "xm",
];

/// The leak rules of a `[pii]` section.
pub(crate) struct LeakRules {
    internal: Vec<IpNet>,
    bulk_rows: u64,
    pi_columns: Vec<String>,
}

/// Loopback, link-local and the private ranges: never "outside".
pub fn private_networks() -> Vec<IpNet> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    ]
    .iter()
    .filter_map(|n| n.parse().ok())
    .collect()
}

impl LeakRules {
    pub(crate) fn new(internal: Vec<IpNet>, bulk_rows: u64, pi_columns: &[String]) -> LeakRules {
        LeakRules {
            internal: if internal.is_empty() {
                private_networks()
            } else {
                internal
            },
            bulk_rows: bulk_rows.max(1),
            pi_columns: pi_columns.iter().map(|c| c.to_ascii_lowercase()).collect(),
        }
    }

    /// An address is outside when it parses and no internal range holds it
    /// (an event without addresses leaves nothing).
    fn outside(&self, ip: Option<String>) -> Option<bool> {
        let ip: IpAddr = ip?.trim().parse().ok()?;
        Some(!self.internal.iter().any(|n| n.contains(&ip)))
    }

    pub(crate) fn direction(&self, ev: &Event) -> Direction {
        let dst = self.outside(roles::destination_ip(ev));
        let src = self.outside(roles::source_ip(ev));
        Direction {
            request_out: dst == Some(true),
            response_out: src == Some(true) && dst == Some(false),
        }
    }

    /// Whether findings in `field` leave, given the event's direction.
    pub(crate) fn leaves(dir: Direction, field: &str) -> bool {
        (dir.request_out
            && (field == "url" || field.starts_with("url.") || field.starts_with("http.request.")))
            || (dir.response_out && field.starts_with("http.response.body"))
    }

    /// The leak of an event's outbound findings, when there were any.
    pub(crate) fn outbound(
        index: usize,
        found: &LocationSummary,
        fields: Vec<String>,
    ) -> Option<Leak> {
        if found.kinds.is_empty() {
            return None;
        }
        let p = found.people();
        Some(Leak {
            index,
            rule: LeakRule::Outbound,
            kinds: found.kinds.iter().map(|(k, s)| (*k, s.count)).collect(),
            people: p.count,
            people_exact: p.exact,
            fields,
            rows: None,
        })
    }

    /// A database audit record of a statement that names personal-
    /// information columns and returned at least `bulk_query_rows` rows.
    pub(crate) fn bulk_query(&self, index: usize, ev: &Event) -> Option<Leak> {
        let rows = ROWS_FIELDS.iter().find_map(|f| match ev.lookup(f)? {
            Value::UInt(u) => Some(*u),
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        })?;
        if rows < self.bulk_rows {
            return None;
        }
        let stmt = STATEMENT_FIELDS
            .iter()
            .find_map(|f| ev.lookup(f).and_then(Value::as_str))?;
        let stmt = &stmt.as_bytes()[..stmt.len().min(MAX_STATEMENT)];
        let columns: Vec<String> = identifiers(stmt)
            .filter(|w| self.pi_columns.iter().any(|c| c == w))
            .fold(Vec::new(), |mut v, w| {
                if !v.contains(&w) {
                    v.push(w);
                }
                v
            });
        if columns.is_empty() {
            return None;
        }
        Some(Leak {
            index,
            rule: LeakRule::BulkQuery,
            kinds: BTreeMap::new(),
            people: rows,
            people_exact: false,
            fields: columns,
            rows: Some(rows),
        })
    }
}

/// The identifiers of a SQL statement, lower-cased: runs of letters,
/// digits and `_`, quotes and qualifiers split off (`t."ID_Card"` →
/// `t`, `id_card`).
fn identifiers(stmt: &[u8]) -> impl Iterator<Item = String> + '_ {
    stmt.split(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(pairs: &[(&str, Value)]) -> Event {
        let mut e = Event::default();
        for (k, v) in pairs {
            e.set(*k, v.clone());
        }
        e
    }

    fn rules() -> LeakRules {
        let cols: Vec<String> = DEFAULT_PI_COLUMNS.iter().map(|s| s.to_string()).collect();
        LeakRules::new(Vec::new(), 1000, &cols)
    }

    #[test]
    fn direction_from_addresses() {
        let r = rules();
        let out = r.direction(&ev(&[
            ("source.ip", Value::Str("10.1.2.3".into())),
            ("destination.ip", Value::Str("203.0.113.9".into())),
        ]));
        assert!(LeakRules::leaves(out, "url.query"));
        assert!(LeakRules::leaves(out, "http.request.body.content"));
        assert!(!LeakRules::leaves(out, "http.response.body.content"));
        assert!(!LeakRules::leaves(out, "message"));
        let inside = r.direction(&ev(&[
            ("source.ip", Value::Str("10.1.2.3".into())),
            ("destination.ip", Value::Str("192.168.1.1".into())),
        ]));
        assert!(!LeakRules::leaves(inside, "url.query"));
        let answer = r.direction(&ev(&[
            ("source.ip", Value::Str("198.51.100.7".into())),
            ("destination.ip", Value::Str("10.0.0.5".into())),
        ]));
        assert!(LeakRules::leaves(answer, "http.response.body.content"));
        assert!(!LeakRules::leaves(answer, "url.query"));
        assert!(!LeakRules::leaves(
            r.direction(&Event::default()),
            "url.query"
        ));
    }

    #[test]
    fn bulk_query_needs_rows_and_a_pi_column() {
        let r = rules();
        let q = |stmt: &str, rows: u64| {
            r.bulk_query(
                0,
                &ev(&[
                    ("db.statement", Value::Str(stmt.into())),
                    ("db.response.returned_rows", Value::UInt(rows)),
                ]),
            )
        };
        let l = q(
            "SELECT name, c.\"ID_Card\", mobile FROM customers c",
            50_000,
        )
        .unwrap();
        assert_eq!(l.fields, vec!["id_card", "mobile"]);
        assert_eq!(
            (l.rows, l.people, l.people_exact),
            (Some(50_000), 50_000, false)
        );
        assert!(q("SELECT id_card FROM customers WHERE id = 1", 1).is_none());
        assert!(q("SELECT count(*) FROM orders", 50_000).is_none());
        // `mobile_model` is not `mobile`: whole identifiers only.
        assert!(q("SELECT mobile_model FROM devices", 50_000).is_none());
    }
}
