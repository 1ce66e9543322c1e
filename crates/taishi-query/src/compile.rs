//! The filter compiled for evaluation: literals interpreted once (numbers,
//! times, addresses), wildcards turned into matchers, relative times
//! resolved against the query's `now`. Matching allocates nothing.

use std::cmp::Ordering;
use std::net::IpAddr;

use chrono::{DateTime, FixedOffset};
use ipnet::IpNet;
use taishi_event::{Event, Value};

use crate::ast::{Bound, Expr, GlobPart, Pattern, TIMESTAMP};
use crate::error::Error;
use crate::glob::Glob;
use crate::time::parse_time;

#[derive(Debug, Clone)]
pub(crate) enum FieldRef {
    Timestamp,
    Name(Box<str>),
}

impl FieldRef {
    pub(crate) fn new(name: &str) -> FieldRef {
        if name == TIMESTAMP {
            FieldRef::Timestamp
        } else {
            FieldRef::Name(name.into())
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    True,
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Exists(Box<str>),
    Eq(Box<str>, Lit),
    Glob(Box<str>, Glob),
    Range(Box<str>, Box<[CBound; 2]>),
    Cidr(Box<str>, IpNet),
    Text(Box<TextMatcher>),
    HasTimestamp,
    /// `@timestamp` within bounds (None = open).
    TsRange(
        Option<(DateTime<FixedOffset>, bool)>,
        Option<(DateTime<FixedOffset>, bool)>,
    ),
    False,
}

/// An equality literal with every reading of it worked out once.
#[derive(Debug, Clone)]
pub(crate) struct Lit {
    text: Box<str>,
    int: Option<i64>,
    uint: Option<u64>,
    float: Option<f64>,
    boolean: Option<bool>,
    ip: Option<IpAddr>,
}

impl Lit {
    fn new(text: &str) -> Lit {
        let t = text.trim();
        Lit {
            text: text.into(),
            int: t.parse().ok(),
            uint: t.parse().ok(),
            float: t.parse::<f64>().ok().filter(|f| f.is_finite()),
            boolean: if t.eq_ignore_ascii_case("true") {
                Some(true)
            } else if t.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            },
            ip: t.parse().ok(),
        }
    }

    fn eq(&self, v: &Value) -> bool {
        match v {
            Value::Str(s) => {
                if s.as_str() == &*self.text {
                    return true;
                }
                // Addresses compare as addresses (`2001:db8::1` equals
                // `2001:0db8:0:0::1`); the parse is tried only when the
                // literal is one.
                match self.ip {
                    Some(ip) => s.parse::<IpAddr>().is_ok_and(|a| a == ip),
                    None => false,
                }
            }
            Value::Int(i) => match self.int {
                Some(n) => n == *i,
                None => self.float == Some(*i as f64),
            },
            Value::UInt(u) => match self.uint {
                Some(n) => n == *u,
                None => self.float == Some(*u as f64),
            },
            Value::Float(f) => self.float == Some(*f),
            Value::Bool(b) => self.boolean == Some(*b),
            Value::Null | Value::Array(_) | Value::Object(_) => false,
        }
    }
}

/// One end of a range, read every way it can be compared.
#[derive(Debug, Clone)]
pub(crate) struct CBound {
    text: Box<str>,
    num: Option<f64>,
    time: Option<DateTime<FixedOffset>>,
    inclusive: bool,
    open: bool,
}

impl CBound {
    fn new(b: &Bound, now: DateTime<FixedOffset>) -> CBound {
        let (text, inclusive, open) = match b {
            Bound::Unbounded => ("", true, true),
            Bound::Included(t) => (t.as_str(), true, false),
            Bound::Excluded(t) => (t.as_str(), false, false),
        };
        CBound {
            text: text.into(),
            num: text.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            time: if open {
                None
            } else {
                parse_time(text, now).ok()
            },
            inclusive,
            open,
        }
    }

    /// How `v` compares with this bound; None when they cannot be compared
    /// (a number bound against a word).
    fn cmp(&self, v: &Value) -> Option<Ordering> {
        match v {
            Value::Int(i) => {
                let n = self.num?;
                (*i as f64).partial_cmp(&n)
            }
            Value::UInt(u) => (*u as f64).partial_cmp(&self.num?),
            Value::Float(f) => f.partial_cmp(&self.num?),
            Value::Str(s) => {
                if let Some(n) = self.num {
                    let x: f64 = s.trim().parse().ok()?;
                    return x.partial_cmp(&n);
                }
                if let Some(t) = self.time {
                    if looks_like_time(s) {
                        if let Some(x) = taishi_event::time::parse_rfc3339(s) {
                            return Some(x.cmp(&t));
                        }
                    }
                }
                Some(s.as_str().cmp(&self.text))
            }
            _ => None,
        }
    }

    fn admits_lower(&self, v: &Value) -> bool {
        self.open
            || match self.cmp(v) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => self.inclusive,
                _ => false,
            }
    }

    fn admits_upper(&self, v: &Value) -> bool {
        self.open
            || match self.cmp(v) {
                Some(Ordering::Less) => true,
                Some(Ordering::Equal) => self.inclusive,
                _ => false,
            }
    }
}

fn looks_like_time(s: &str) -> bool {
    s.len() >= 10 && s.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// Words longer than this (in bytes, before lower-casing) are not words:
/// they keep their position but match nothing. The store's word index uses
/// the same limit.
pub const MAX_WORD_BYTES: usize = 256;

/// The words of a text with their positions: maximal runs of alphanumeric
/// characters (`char::is_alphanumeric`), lower-cased character by character
/// (no context rules), long ones left out but counted. This is the rule of
/// free-text search, in memory and in the store's index.
pub fn words(s: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut start = None;
    let mut push = |from: usize, to: usize, pos: &mut usize| {
        let w = &s[from..to];
        if w.len() < MAX_WORD_BYTES {
            out.push((*pos, w.chars().flat_map(char::to_lowercase).collect()));
        }
        *pos += 1;
    };
    for (i, c) in s.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(from)) => {
                push(from, i, &mut pos);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        push(from, s.len(), &mut pos);
    }
    out
}

fn lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// Free text, as analysts know it from Kibana and Splunk: words, not
/// substrings.
/// - a word or a phrase matches when its words appear consecutively in one
///   string value (or a number's decimal text), ignoring case;
/// - a wildcard word (`mimi*`, `*whoami*`) matches when one word matches the
///   glob, ignoring case;
/// - a wildcard pattern with other characters than letters and digits
///   (`*\\cmd.exe`) matches whole string values, ignoring case.
#[derive(Debug, Clone)]
pub(crate) enum TextMatcher {
    Phrase(Vec<(usize, String)>),
    Word(Glob),
    Whole(Glob),
}

fn lower_parts(parts: &[GlobPart]) -> Vec<GlobPart> {
    parts
        .iter()
        .map(|p| match p {
            GlobPart::Literal(l) => GlobPart::Literal(lower(l)),
            other => other.clone(),
        })
        .collect()
}

impl TextMatcher {
    fn new(p: &Pattern) -> Result<TextMatcher, Error> {
        Ok(match p {
            Pattern::Exact(t) => TextMatcher::Phrase(words(t)),
            Pattern::Wildcard(parts) => {
                let wordy = parts.iter().all(|p| match p {
                    GlobPart::Literal(l) => l.chars().all(char::is_alphanumeric),
                    _ => true,
                });
                let g = Glob::new(&lower_parts(parts));
                if wordy {
                    TextMatcher::Word(g)
                } else {
                    TextMatcher::Whole(g)
                }
            }
        })
    }

    fn text_matches(&self, s: &str) -> bool {
        match self {
            TextMatcher::Phrase(phrase) => {
                let Some((p0, w0)) = phrase.first() else {
                    return false;
                };
                let ws = words(s);
                ws.iter().any(|(start, w)| {
                    w == w0
                        && phrase.iter().skip(1).all(|(p, pw)| {
                            let at = start + (p - p0);
                            ws.iter().any(|(q, qw)| *q == at && qw == pw)
                        })
                })
            }
            TextMatcher::Word(g) => words(s).iter().any(|(_, w)| g.matches(w)),
            TextMatcher::Whole(g) => g.matches(&lower(s)),
        }
    }

    fn matches_value(&self, v: &Value) -> bool {
        match v {
            Value::Str(s) => self.text_matches(s),
            Value::Array(a) => a.iter().any(|x| self.matches_value(x)),
            Value::Object(o) => o.iter().any(|(_, x)| self.matches_value(x)),
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => {
                !matches!(self, TextMatcher::Whole(_))
                    && v.to_text().is_some_and(|t| self.text_matches(&t))
            }
            Value::Null | Value::Bool(_) => false,
        }
    }

    fn matches(&self, ev: &Event) -> bool {
        ev.fields().any(|(_, v)| self.matches_value(v))
    }
}

/// The test a field filter (`field:value`, `field:pow*`, a range, a CIDR)
/// applies to each single value of the field (arrays are tried element by
/// element by the caller). Backends that can enumerate a field's values use
/// it to reproduce the evaluator exactly.
#[derive(Debug, Clone)]
pub struct ValueTest(Node);

impl ValueTest {
    /// The test of a field filter; None for other expressions (and for
    /// `@timestamp`, which is not a field value).
    pub fn new(e: &Expr, now: DateTime<FixedOffset>) -> Result<Option<ValueTest>, Error> {
        let node = compile(e, now)?;
        Ok(match node {
            Node::Eq(..) | Node::Glob(..) | Node::Range(..) | Node::Cidr(..) => {
                Some(ValueTest(node))
            }
            _ => None,
        })
    }

    pub fn matches(&self, v: &Value) -> bool {
        match &self.0 {
            Node::Eq(_, lit) => lit.eq(v),
            Node::Glob(_, g) => glob_value(g, v),
            Node::Range(_, b) => {
                let [lo, hi] = &**b;
                lo.admits_lower(v) && hi.admits_upper(v)
            }
            Node::Cidr(_, net) => match v {
                Value::Str(s) => s.parse::<IpAddr>().is_ok_and(|a| net.contains(&a)),
                _ => false,
            },
            _ => false,
        }
    }
}

fn glob_value(g: &Glob, v: &Value) -> bool {
    match v {
        Value::Str(s) => g.matches(s),
        // Wildcards on numbers match their decimal text, as on a
        // keyword field (`EventID:46*`).
        Value::Int(_) | Value::UInt(_) | Value::Float(_) | Value::Bool(_) => {
            v.to_text().is_some_and(|t| g.matches(&t))
        }
        _ => false,
    }
}

/// Calls `f` on the value and, for arrays, on every element (nested arrays
/// flattened): an array field matches if any element does.
#[inline]
pub(crate) fn any_value(v: &Value, f: &mut impl FnMut(&Value) -> bool) -> bool {
    match v {
        Value::Array(a) => a.iter().any(|x| any_value(x, f)),
        _ => f(v),
    }
}

#[inline]
fn field_any(ev: &Event, name: &str, mut f: impl FnMut(&Value) -> bool) -> bool {
    match ev.lookup(name) {
        Some(v) => any_value(v, &mut f),
        None => false,
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => a.iter().any(present),
        _ => true,
    }
}

pub(crate) fn compile(e: &Expr, now: DateTime<FixedOffset>) -> Result<Node, Error> {
    Ok(match e {
        Expr::All => Node::True,
        Expr::And(xs) => Node::And(
            xs.iter()
                .map(|x| compile(x, now))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(xs) => Node::Or(
            xs.iter()
                .map(|x| compile(x, now))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(x) => Node::Not(Box::new(compile(x, now)?)),
        Expr::Exists { field } => match FieldRef::new(field) {
            FieldRef::Timestamp => Node::HasTimestamp,
            FieldRef::Name(n) => Node::Exists(n),
        },
        Expr::Match { field, value } => match (FieldRef::new(field), value) {
            (FieldRef::Timestamp, Pattern::Exact(t)) => {
                let t = timestamp_literal(t, now)?;
                Node::TsRange(Some((t, true)), Some((t, true)))
            }
            (FieldRef::Timestamp, Pattern::Wildcard(_)) => {
                return Err(Error::msg(
                    "wildcards do not apply to @timestamp; use a range",
                ))
            }
            (FieldRef::Name(n), Pattern::Exact(t)) => Node::Eq(n, Lit::new(t)),
            (FieldRef::Name(n), Pattern::Wildcard(parts)) => Node::Glob(n, Glob::new(parts)),
        },
        Expr::Range {
            field,
            lower,
            upper,
        } => match FieldRef::new(field) {
            FieldRef::Timestamp => {
                let b = |b: &Bound| -> Result<_, Error> {
                    Ok(match b {
                        Bound::Unbounded => None,
                        Bound::Included(t) => Some((timestamp_literal(t, now)?, true)),
                        Bound::Excluded(t) => Some((timestamp_literal(t, now)?, false)),
                    })
                };
                Node::TsRange(b(lower)?, b(upper)?)
            }
            FieldRef::Name(n) => Node::Range(
                n,
                Box::new([CBound::new(lower, now), CBound::new(upper, now)]),
            ),
        },
        Expr::Cidr { field, network } => {
            let net: IpNet = network
                .parse()
                .map_err(|_| Error::msg(format!("'{network}' is not a valid CIDR network")))?;
            match FieldRef::new(field) {
                FieldRef::Timestamp => Node::False,
                FieldRef::Name(n) => Node::Cidr(n, net.trunc()),
            }
        }
        Expr::Text { value } => Node::Text(Box::new(TextMatcher::new(value)?)),
    })
}

fn timestamp_literal(t: &str, now: DateTime<FixedOffset>) -> Result<DateTime<FixedOffset>, Error> {
    parse_time(t, now).map_err(|e| Error::msg(format!("@timestamp: {}", e.message)))
}

fn ts_ok(
    t: &DateTime<FixedOffset>,
    lo: &Option<(DateTime<FixedOffset>, bool)>,
    hi: &Option<(DateTime<FixedOffset>, bool)>,
) -> bool {
    let lo_ok = match lo {
        None => true,
        Some((b, true)) => t >= b,
        Some((b, false)) => t > b,
    };
    let hi_ok = match hi {
        None => true,
        Some((b, true)) => t <= b,
        Some((b, false)) => t < b,
    };
    lo_ok && hi_ok
}

impl Node {
    pub(crate) fn matches(&self, ev: &Event) -> bool {
        match self {
            Node::True => true,
            Node::False => false,
            Node::And(xs) => xs.iter().all(|x| x.matches(ev)),
            Node::Or(xs) => xs.iter().any(|x| x.matches(ev)),
            Node::Not(x) => !x.matches(ev),
            Node::Exists(f) => ev.lookup(f).is_some_and(present),
            Node::Eq(f, lit) => field_any(ev, f, |v| lit.eq(v)),
            Node::Glob(f, g) => field_any(ev, f, |v| glob_value(g, v)),
            Node::Range(f, b) => {
                let [lo, hi] = &**b;
                field_any(ev, f, |v| lo.admits_lower(v) && hi.admits_upper(v))
            }
            Node::Cidr(f, net) => field_any(ev, f, |v| match v {
                Value::Str(s) => s.parse::<IpAddr>().is_ok_and(|a| net.contains(&a)),
                _ => false,
            }),
            Node::Text(t) => t.matches(ev),
            Node::HasTimestamp => ev.timestamp.is_some(),
            Node::TsRange(lo, hi) => ev.timestamp.as_ref().is_some_and(|t| ts_ok(t, lo, hi)),
        }
    }
}

/// The `from`/`to` of a query: `from` inclusive, `to` exclusive. An event
/// without a timestamp is outside any range that has a bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<FixedOffset>>,
    pub to: Option<DateTime<FixedOffset>>,
}

impl TimeRange {
    /// Parses the API's `from`/`to` strings (ISO 8601 or `now-24h`).
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        now: DateTime<FixedOffset>,
    ) -> Result<TimeRange, Error> {
        let p = |s: Option<&str>, what: &str| -> Result<_, Error> {
            s.map(|s| parse_time(s, now).map_err(|e| Error::msg(format!("{what}: {}", e.message))))
                .transpose()
        };
        Ok(TimeRange {
            from: p(from, "from")?,
            to: p(to, "to")?,
        })
    }

    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// Seconds from `from` to `to`, when both are set.
    pub fn span_secs(&self) -> Option<u64> {
        let (f, t) = (self.from?, self.to?);
        Some((t - f).num_seconds().max(1).unsigned_abs())
    }

    #[inline]
    pub fn contains(&self, ev: &Event) -> bool {
        if self.is_unbounded() {
            return true;
        }
        let Some(t) = ev.timestamp else { return false };
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|x| t < x)
    }
}
