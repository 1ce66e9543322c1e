//! Compiled value tests and their evaluation against event values.

use crate::error::RuleError;
use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, Timelike};
use ipnet::IpNet;
use memchr::memmem::Finder;
use regex::Regex;
use taishi_event::{Event, Str, Value};

use crate::rule::{Matcher, NumOp, RefKind, TimePart};
use crate::string::{Part, SigmaString};

#[derive(Debug, Clone)]
pub enum Tok {
    Lit(String),
    Star,
    One,
}

/// A compiled value test. Case-insensitive literals are stored lowercased
/// and compared with the lowercased event value.
#[derive(Debug, Clone)]
pub enum CMatch {
    Exact {
        s: String,
        cased: bool,
    },
    Prefix {
        s: String,
        cased: bool,
    },
    Suffix {
        s: String,
        cased: bool,
    },
    Contains {
        s: String,
        finder: Box<Finder<'static>>,
        cased: bool,
    },
    /// `*`: any value that is present and not null.
    Any,
    Glob {
        toks: Vec<Tok>,
        cased: bool,
    },
    Num {
        v: f64,
        text: String,
    },
    Bool(bool),
    Null,
    Exists(bool),
    Re(Regex),
    Cidr(IpNet),
    FieldRef {
        fields: Vec<Str>,
        kind: RefKind,
        cased: bool,
    },
    Cmp {
        op: NumOp,
        v: f64,
    },
    Time {
        part: TimePart,
        op: NumOp,
        v: i64,
    },
}

fn lower(s: &str, cased: bool) -> String {
    if cased {
        s.to_string()
    } else {
        s.to_lowercase()
    }
}

/// Compiles a string value with wildcards into the cheapest test.
pub fn compile_string(s: &SigmaString, cased: bool) -> Result<CMatch, RuleError> {
    let mut toks = Vec::new();
    for p in &s.parts {
        match p {
            Part::Lit(l) => toks.push(Tok::Lit(lower(l, cased))),
            Part::Star => toks.push(Tok::Star),
            Part::One => toks.push(Tok::One),
            Part::Placeholder(n) => {
                return Err(RuleError::modifier(format!(
                    "placeholder %{n}% was not expanded"
                )))
            }
        }
    }
    Ok(match toks.as_slice() {
        [] => CMatch::Exact {
            s: String::new(),
            cased,
        },
        [Tok::Lit(l)] => CMatch::Exact {
            s: l.clone(),
            cased,
        },
        [Tok::Star] => CMatch::Any,
        [Tok::Lit(l), Tok::Star] => CMatch::Prefix {
            s: l.clone(),
            cased,
        },
        [Tok::Star, Tok::Lit(l)] => CMatch::Suffix {
            s: l.clone(),
            cased,
        },
        [Tok::Star, Tok::Lit(l), Tok::Star] => CMatch::Contains {
            finder: Box::new(Finder::new(l.as_bytes()).into_owned()),
            s: l.clone(),
            cased,
        },
        _ => CMatch::Glob { toks, cased },
    })
}

/// Regular expressions compiled so far in one engine build, by their full
/// pattern (flags included): a rule compiled for several pipeline variants
/// and profiles shares one `Regex` (cloning it shares its compiled program).
pub type RegexCache = HashMap<String, Result<Regex, RuleError>>;

pub fn compile_matcher(
    m: &Matcher,
    map_field: &dyn Fn(&str) -> Vec<String>,
    regexes: &mut RegexCache,
) -> Result<Vec<CMatch>, RuleError> {
    Ok(vec![match m {
        Matcher::Str { s, cased } => compile_string(s, *cased)?,
        Matcher::Num { v, text } => CMatch::Num {
            v: *v,
            text: text.clone(),
        },
        Matcher::Cmp { op, v } => CMatch::Cmp { op: *op, v: *v },
        Matcher::Bool(b) => CMatch::Bool(*b),
        Matcher::Null => CMatch::Null,
        Matcher::Exists(b) => CMatch::Exists(*b),
        Matcher::Re { pattern, i, m, s } => {
            let mut flags = String::new();
            if *i {
                flags.push('i');
            }
            if *m {
                flags.push('m');
            }
            if *s {
                flags.push('s');
            }
            let full = if flags.is_empty() {
                pattern.clone()
            } else {
                format!("(?{flags}){pattern}")
            };
            let re = regexes
                .entry(full)
                .or_insert_with_key(|full| {
                    regex::RegexBuilder::new(full)
                        .size_limit(1 << 22)
                        .build()
                        .map_err(|e| {
                            RuleError::modifier(format!(
                                "regular expression `{pattern}`: {}",
                                first_line(&e.to_string())
                            ))
                        })
                })
                .clone()?;
            CMatch::Re(re)
        }
        Matcher::Cidr(n) => CMatch::Cidr(*n),
        Matcher::FieldRef { field, kind, cased } => CMatch::FieldRef {
            fields: map_field(field).into_iter().map(Str::from).collect(),
            kind: *kind,
            cased: *cased,
        },
        Matcher::Time { part, op, v } => CMatch::Time {
            part: *part,
            op: *op,
            v: *v,
        },
    }])
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

/// Wildcard match over already-lowered text. `?` is one character.
pub fn glob(toks: &[Tok], hay: &str) -> bool {
    let mut ti = 0;
    let mut hi = 0;
    let mut star: Option<(usize, usize)> = None;
    let hb = hay.as_bytes();
    loop {
        if ti < toks.len() {
            match &toks[ti] {
                Tok::Star => {
                    star = Some((ti, hi));
                    ti += 1;
                    continue;
                }
                Tok::One => {
                    if let Some(c) = hay[hi..].chars().next() {
                        hi += c.len_utf8();
                        ti += 1;
                        continue;
                    }
                }
                Tok::Lit(l) => {
                    if hb[hi..].starts_with(l.as_bytes()) {
                        hi += l.len();
                        ti += 1;
                        continue;
                    }
                }
            }
        } else if hi == hb.len() {
            return true;
        }
        // Mismatch: let the last star take more characters, up to the next
        // place where the literal after it occurs (found with memchr's
        // vectorised search). Stepping one character at a time and
        // comparing there made `*join*split*` over a 30,000-character value
        // the costliest test of the SigmaHQ rules.
        match star {
            Some((sti, shi)) if shi < hb.len() => {
                let step = hay[shi..].chars().next().map_or(1, char::len_utf8);
                let next = match toks.get(sti + 1) {
                    // A UTF-8 needle found in UTF-8 text starts on a
                    // character boundary.
                    Some(Tok::Lit(l)) if !l.is_empty() => {
                        match memchr::memmem::find(&hb[shi + step..], l.as_bytes()) {
                            Some(i) => shi + step + i,
                            None => return false,
                        }
                    }
                    _ => shi + step,
                };
                star = Some((sti, next));
                ti = sti + 1;
                hi = next;
            }
            _ => return false,
        }
    }
}

/// Per-thread buffers for one event's evaluation: lowered copies of field
/// values (made once per value, reused across rules) and number texts.
#[derive(Default)]
pub struct TextCache {
    /// (value address, lowered text, the text is ASCII)
    entries: Vec<(usize, String, bool)>,
    used: usize,
    raw: Vec<(usize, String)>,
    raw_used: usize,
    lower_index: PtrIndex,
    raw_index: PtrIndex,
}

/// Value address to entry number, for the current event: an open-addressed
/// table whose slots count only when stamped with the current epoch, so
/// starting an event costs nothing and a lookup is one or two probes
/// (events have dozens of fields; a linear search showed in profiles).
#[derive(Default)]
struct PtrIndex {
    /// (address, epoch, entry)
    slots: Vec<(usize, u32, u32)>,
    epoch: u32,
    len: usize,
}

impl PtrIndex {
    fn clear(&mut self) {
        self.len = 0;
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.slots.iter_mut().for_each(|s| s.1 = 0);
            self.epoch = 1;
        }
    }

    fn home(&self, key: usize) -> usize {
        let h = (key as u64 >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 32) as usize & (self.slots.len() - 1)
    }

    fn get(&self, key: usize) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let (k, e, v) = self.slots[i];
            if e != self.epoch {
                return None;
            }
            if k == key {
                return Some(v as usize);
            }
            i = (i + 1) & mask;
        }
    }

    fn insert(&mut self, key: usize, value: usize) {
        if (self.len + 1) * 2 > self.slots.len() {
            // Grow (and rehash what this event holds).
            let old = std::mem::take(&mut self.slots);
            let epoch = self.epoch;
            self.slots = vec![(0, 0, 0); (old.len() * 2).max(64)];
            self.len = 0;
            for (k, e, v) in old {
                if e == epoch {
                    self.insert(k, v as usize);
                }
            }
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        while self.slots[i].1 == self.epoch {
            i = (i + 1) & mask;
        }
        self.slots[i] = (key, self.epoch, value as u32);
        self.len += 1;
    }
}

impl TextCache {
    pub fn clear(&mut self) {
        self.used = 0;
        self.raw_used = 0;
        self.lower_index.clear();
        self.raw_index.clear();
    }

    /// The value's text as written (numbers formatted).
    pub fn raw<'a>(&'a mut self, v: &'a Value) -> Option<&'a str> {
        if let Value::Str(s) = v {
            return Some(s.as_str());
        }
        let key = v as *const Value as usize;
        if let Some(i) = self.raw_index.get(key) {
            return self.raw.get(i).map(|e| e.1.as_str());
        }
        let text = v.to_text()?;
        if self.raw_used == self.raw.len() {
            self.raw.push((key, String::new()));
        }
        let slot = &mut self.raw[self.raw_used];
        slot.0 = key;
        slot.1.clear();
        slot.1.push_str(&text);
        self.raw_index.insert(key, self.raw_used);
        self.raw_used += 1;
        Some(self.raw[self.raw_used - 1].1.as_str())
    }

    /// The value's text lowercased.
    pub fn lower<'a>(&'a mut self, v: &'a Value) -> Option<&'a str> {
        self.lower_ascii(v).map(|(t, _)| t)
    }

    /// The value's text lowercased, and whether it is ASCII.
    pub fn lower_ascii<'a>(&'a mut self, v: &'a Value) -> Option<(&'a str, bool)> {
        let key = v as *const Value as usize;
        if let Some(i) = self.lower_index.get(key) {
            return self.entries.get(i).map(|e| (e.1.as_str(), e.2));
        }
        let text = v.to_text()?;
        if self.used == self.entries.len() {
            self.entries.push((key, String::new(), true));
        }
        let slot = &mut self.entries[self.used];
        slot.0 = key;
        slot.1.clear();
        slot.2 = text.is_ascii();
        if slot.2 {
            slot.1.push_str(&text);
            slot.1.make_ascii_lowercase();
        } else {
            slot.1.push_str(&text.to_lowercase());
        }
        self.lower_index.insert(key, self.used);
        self.used += 1;
        let e = &self.entries[self.used - 1];
        Some((e.1.as_str(), e.2))
    }
}

fn cmp(op: NumOp, a: f64, b: f64) -> bool {
    match op {
        NumOp::Eq => a == b,
        NumOp::Lt => a < b,
        NumOp::Lte => a <= b,
        NumOp::Gt => a > b,
        NumOp::Gte => a >= b,
    }
}

pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    let utc = FixedOffset::east_opt(0)?;
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%S%.fZ",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return n.and_local_timezone(utc).single();
        }
    }
    None
}

fn time_part(t: &DateTime<FixedOffset>, part: TimePart) -> i64 {
    i64::from(match part {
        TimePart::Minute => t.minute(),
        TimePart::Hour => t.hour(),
        TimePart::Day => t.day(),
        TimePart::Week => t.iso_week().week(),
        TimePart::Month => t.month(),
        TimePart::Year => return i64::from(t.year()),
    })
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    // A zone index (`fe80::1%eth0`) is not part of the address.
    let s = s.split('%').next().unwrap_or(s);
    s.parse().ok()
}

fn cidr_contains(net: &IpNet, ip: IpAddr) -> bool {
    if net.contains(&ip) {
        return true;
    }
    // IPv4-mapped IPv6 addresses (::ffff:10.1.2.3) against IPv4 networks.
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .is_some_and(|v4| net.contains(&IpAddr::V4(v4))),
        IpAddr::V4(_) => false,
    }
}

/// Where a test looks: the event, the values found for the item's field
/// (None = absent), and per-thread text buffers.
pub struct Ctx<'e, 'c> {
    pub event: &'e Event,
    pub cache: &'c mut TextCache,
    /// Whether the event has field names with spaces (`Threat Name`),
    /// which rules write without them (`ThreatName`).
    pub spaced: &'c SpacedNames,
    /// The event's fields in order.
    pub view: &'c [(&'e str, &'e Value)],
    /// Where each field the rules read was found in this event.
    pub slots: &'c mut FieldSlots,
}

/// Per field id: the event (by epoch) it was looked up for and where it
/// was found. Kept across events; an epoch bump forgets everything.
#[derive(Default)]
pub struct FieldSlots {
    stamp: Vec<u32>,
    pos: Vec<u32>,
    epoch: u32,
}

const ABSENT: u32 = u32::MAX;
/// Found by a path into an object (`dns.answers`), not as a field.
const NESTED: u32 = u32::MAX - 1;

impl FieldSlots {
    /// Starts a new event for `n` field ids.
    pub fn start(&mut self, n: usize) {
        if self.stamp.len() < n {
            self.stamp.resize(n, 0);
            self.pos.resize(n, ABSENT);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.iter_mut().for_each(|x| *x = 0);
            self.epoch = 1;
        }
    }
}

impl<'e> Ctx<'e, '_> {
    /// The value of field `id` (named `name`), looked up in the event once
    /// per event.
    #[inline]
    pub fn field(&mut self, id: u32, name: &str) -> Option<&'e Value> {
        let i = id as usize;
        if let (Some(st), Some(&pos)) = (self.slots.stamp.get(i), self.slots.pos.get(i)) {
            if *st == self.slots.epoch {
                return match pos {
                    ABSENT => None,
                    NESTED => lookup(self.event, name, self.spaced),
                    p => self.view.get(p as usize).map(|(_, v)| *v),
                };
            }
        }
        let found = self
            .view
            .iter()
            .position(|(k, _)| k.len() == name.len() && *k == name);
        let (pos, v) = match found {
            Some(p) => (p as u32, self.view.get(p).map(|(_, v)| *v)),
            None => match lookup(self.event, name, self.spaced) {
                Some(v) => (NESTED, Some(v)),
                None => (ABSENT, None),
            },
        };
        if let (Some(st), Some(p)) = (self.slots.stamp.get_mut(i), self.slots.pos.get_mut(i)) {
            *st = self.slots.epoch;
            *p = pos;
        }
        v
    }
}

impl CMatch {
    /// Whether the test holds for one (non-array) value of the field.
    pub fn test_value(&self, v: &Value, ctx: &mut Ctx<'_, '_>) -> bool {
        match self {
            CMatch::Exact { s, cased } => {
                if s.is_empty() && v.is_null() {
                    return true;
                }
                text(v, *cased, ctx.cache).is_some_and(|t| t == s)
            }
            CMatch::Prefix { s, cased } => {
                text(v, *cased, ctx.cache).is_some_and(|t| t.starts_with(s.as_str()))
            }
            CMatch::Suffix { s, cased } => {
                text(v, *cased, ctx.cache).is_some_and(|t| t.ends_with(s.as_str()))
            }
            CMatch::Contains { finder, cased, .. } => {
                text(v, *cased, ctx.cache).is_some_and(|t| finder.find(t.as_bytes()).is_some())
            }
            CMatch::Any => !v.is_null() && v.to_text().is_some(),
            CMatch::Glob { toks, cased } => {
                text(v, *cased, ctx.cache).is_some_and(|t| glob(toks, t))
            }
            CMatch::Num { v: n, text: nt } => match v {
                Value::Int(_) | Value::UInt(_) | Value::Float(_) => v.as_f64() == Some(*n),
                Value::Str(s) => {
                    s.eq_ignore_ascii_case(nt) || s.trim().parse::<f64>().ok() == Some(*n)
                }
                Value::Bool(_) => false,
                _ => false,
            },
            CMatch::Bool(b) => match v {
                Value::Bool(x) => x == b,
                Value::Str(s) => s.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
                _ => false,
            },
            CMatch::Null => v.is_null(),
            CMatch::Exists(_) => true,
            CMatch::Re(re) => ctx.cache.raw(v).is_some_and(|t| re.is_match(t)),
            CMatch::Cidr(net) => ctx
                .cache
                .raw(v)
                .and_then(parse_ip)
                .is_some_and(|ip| cidr_contains(net, ip)),
            CMatch::Cmp { op, v: n } => match v {
                Value::Bool(_) | Value::Null => false,
                _ => v.as_f64().is_some_and(|x| cmp(*op, x, *n)),
            },
            CMatch::Time { part, op, v: n } => ctx
                .cache
                .raw(v)
                .and_then(parse_time)
                .is_some_and(|t| cmp(*op, time_part(&t, *part) as f64, *n as f64)),
            CMatch::FieldRef {
                fields,
                kind,
                cased,
            } => {
                let Some(mine) = text(v, *cased, ctx.cache).map(str::to_string) else {
                    return false;
                };
                let event = ctx.event;
                let spaced: &SpacedNames = ctx.spaced;
                fields.iter().any(|f| {
                    lookup(event, f, spaced).is_some_and(|other| {
                        for_each_scalar(other, &mut |o| {
                            text(o, *cased, ctx.cache).is_some_and(|t| match kind {
                                RefKind::Exact => mine == t,
                                RefKind::Prefix => mine.starts_with(t),
                                RefKind::Suffix => mine.ends_with(t),
                                RefKind::Contains => mine.contains(t),
                            })
                        })
                    })
                })
            }
        }
    }

    /// Result when the field is absent.
    pub fn test_absent(&self, ctx: &mut Ctx<'_, '_>, field: &str) -> bool {
        match self {
            CMatch::Null => true,
            CMatch::Exists(b) => !*b,
            // `@timestamp` is the event's own time, not a field.
            CMatch::Time { part, op, v } if field == "@timestamp" || field == "timestamp" => ctx
                .event
                .timestamp
                .is_some_and(|t| cmp(*op, time_part(&t, *part) as f64, *v as f64)),
            _ => false,
        }
    }

    /// Whether the test takes the field's presence rather than its values.
    pub fn is_presence(&self) -> bool {
        matches!(self, CMatch::Exists(_))
    }
}

fn text<'a>(v: &'a Value, cased: bool, cache: &'a mut TextCache) -> Option<&'a str> {
    if cased {
        cache.raw(v)
    } else {
        cache.lower(v)
    }
}

/// Calls `f` on each scalar of a value (array elements one by one).
pub fn for_each_scalar(v: &Value, f: &mut dyn FnMut(&Value) -> bool) -> bool {
    match v {
        Value::Array(a) => a.iter().any(|x| for_each_scalar(x, f)),
        Value::Object(_) => false,
        v => f(v),
    }
}

/// Field lookup: the flat name first (allocation-free), then nested
/// objects, then (when the event has any) names with their spaces removed,
/// as the specification writes them (`Threat Name` is `ThreatName`).
#[inline]
pub fn lookup<'e>(event: &'e Event, name: &str, spaced: &SpacedNames) -> Option<&'e Value> {
    if let Some(v) = event.get(name) {
        return Some(v);
    }
    if name.contains('.') {
        if let Some(v) = event.lookup(name) {
            return Some(v);
        }
    }
    if spaced.get(event) {
        return event
            .fields()
            .find(|(k, _)| k.len() > name.len() && k.contains(' ') && eq_without_spaces(k, name))
            .map(|(_, v)| v);
    }
    None
}

fn eq_without_spaces(spaced: &str, name: &str) -> bool {
    spaced.bytes().filter(|&b| b != b' ').eq(name.bytes())
}

/// Whether any field name of an event has a space: found out on the first
/// lookup that misses (most lookups hit), then remembered for the event.
#[derive(Default)]
pub struct SpacedNames(std::cell::Cell<Option<bool>>);

impl SpacedNames {
    pub fn get(&self, event: &Event) -> bool {
        if let Some(b) = self.0.get() {
            return b;
        }
        let b = event.fields().any(|(k, _)| k.as_bytes().contains(&b' '));
        self.0.set(Some(b));
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str) -> Vec<Tok> {
        match compile_string(&SigmaString::parse(p), false).unwrap() {
            CMatch::Glob { toks, .. } => toks,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn globs() {
        assert!(glob(&g("a*b*c"), "axxbyyc"));
        assert!(glob(&g("a*b*c"), "abc"));
        assert!(!glob(&g("a*b*c"), "acb"));
        assert!(glob(&g("prog?.exe*"), "proga.exe"));
        assert!(glob(&g("prog?.exe*"), "progé.exe -x"));
        assert!(!glob(&g("prog?.exe*"), "prog.exe"));
        assert!(glob(&g("*\\\\*.exe"), "c:\\windows\\x.exe"));
        assert!(glob(&g("?*"), "x"));
        assert!(!glob(&g("??*"), "x"));
        assert!(glob(&g("*a*a*a"), "aaaa"));
    }
}

#[cfg(test)]
mod glob_tests {
    use super::*;

    fn toks(p: &str) -> Vec<Tok> {
        let mut out = Vec::new();
        let mut lit = String::new();
        for c in p.chars() {
            match c {
                '*' | '?' => {
                    if !lit.is_empty() {
                        out.push(Tok::Lit(std::mem::take(&mut lit)));
                    }
                    out.push(if c == '*' { Tok::Star } else { Tok::One });
                }
                _ => lit.push(c),
            }
        }
        if !lit.is_empty() {
            out.push(Tok::Lit(lit));
        }
        out
    }

    /// The reference: a plain recursive matcher, for small inputs.
    fn slow(p: &[Tok], h: &str) -> bool {
        match p.split_first() {
            None => h.is_empty(),
            Some((Tok::Star, rest)) => h
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(h.len()))
                .any(|i| slow(rest, &h[i..])),
            Some((Tok::One, rest)) => h
                .chars()
                .next()
                .is_some_and(|c| slow(rest, &h[c.len_utf8()..])),
            Some((Tok::Lit(l), rest)) => h.starts_with(l.as_str()) && slow(rest, &h[l.len()..]),
        }
    }

    proptest::proptest! {
        #[test]
        fn glob_agrees_with_the_reference(p in "[ab*?é]{0,8}", h in "[abé]{0,12}") {
            let t = toks(&p);
            proptest::prop_assert_eq!(glob(&t, &h), slow(&t, &h), "{} vs {}", p, h);
        }
    }

    #[test]
    fn glob_over_a_long_value_is_fast() {
        let hay = "join ".repeat(20_000);
        let t = toks("*join*split*");
        let start = std::time::Instant::now();
        for _ in 0..100 {
            assert!(!glob(&t, &hay));
        }
        // 100 scans of 100 KB: milliseconds when the gaps are searched
        // with memchr, seconds when stepped a character at a time.
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert!(glob(&t, &(hay.clone() + "split")));
    }
}
