//! The store's own small query model and its translation to Tantivy. The
//! search language (`taishi-query`) is translated to [`Filter`] by its
//! caller; the store stays independent of the language.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::ops::Bound;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use taishi_event::Value;
use tantivy::columnar::MonotonicallyMappableToU64;
use tantivy::query::{
    AllQuery, AutomatonWeight, BooleanQuery, EmptyQuery, EnableScoring, ExistsQuery, Occur,
    PhraseQuery, Query, RangeQuery, TermQuery, TermSetQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{Searcher, Term};
use tantivy_fst::Regex;

use crate::partition::Fields;
use crate::StoreError;

/// The name of the event timestamp in filters and aggregations.
pub const TIMESTAMP: &str = "@timestamp";

/// A bound value of a [`Filter::Range`].
#[derive(Debug, Clone, PartialEq)]
pub enum RangeValue {
    Number(f64),
    Time(DateTime<Utc>),
}

/// Which kinds of indexed values a [`Filter::Values`] scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValueKinds {
    pub strings: bool,
    pub numbers: bool,
    pub bools: bool,
}

impl ValueKinds {
    pub const ALL: ValueKinds = ValueKinds {
        strings: true,
        numbers: true,
        bools: true,
    };
    pub const STRINGS: ValueKinds = ValueKinds {
        strings: true,
        numbers: false,
        bools: false,
    };
    pub const NUMBERS: ValueKinds = ValueKinds {
        strings: false,
        numbers: true,
        bools: false,
    };
}

/// A test on one field value, for [`Filter::Values`].
#[derive(Clone)]
pub struct ValuePredicate(pub Arc<dyn Fn(&Value) -> bool + Send + Sync>);

impl ValuePredicate {
    pub fn new(f: impl Fn(&Value) -> bool + Send + Sync + 'static) -> ValuePredicate {
        ValuePredicate(Arc::new(f))
    }
}

impl std::fmt::Debug for ValuePredicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ValuePredicate(..)")
    }
}

impl PartialEq for ValuePredicate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All,
    /// Whole-value match, exact (case-sensitive) for strings; a value that
    /// reads as a number also matches numeric field values equal to it
    /// (`4688`, `4688.0`), `true`/`false` (any case) booleans.
    Term {
        field: String,
        value: String,
    },
    /// `*` any run, `?` one character; case-sensitive; whole string value.
    Wildcard {
        field: String,
        pattern: String,
    },
    /// As `Wildcard`, ignoring case: for values whose case carries no
    /// meaning (domain names, hex hashes), looked for in whatever case a
    /// sensor wrote them.
    WildcardAnyCase {
        field: String,
        pattern: String,
    },
    /// Numeric range on a field, or a time range on `@timestamp`.
    Range {
        field: String,
        gt: Option<RangeValue>,
        gte: Option<RangeValue>,
        lt: Option<RangeValue>,
        lte: Option<RangeValue>,
    },
    Exists {
        field: String,
    },
    /// String field values that are IP addresses inside `net`.
    Cidr {
        field: String,
        net: IpNet,
    },
    /// Words in sequence in any string value or number (case-insensitive;
    /// words as `partition::WORDS_TOKENIZER` cuts them). A phrase without
    /// any word matches nothing.
    Text {
        phrase: String,
    },
    /// A single word matching a glob (`*`, `?`), case-insensitive, in any
    /// string value or number.
    WordWildcard {
        pattern: String,
    },
    /// A whole string value of any field matching a glob, case-insensitive.
    /// Reads every string term of the partition: slow on big partitions.
    AnyWildcard {
        pattern: String,
    },
    /// Field values of the given kinds for which the predicate holds. The
    /// field's terms are read from the term dictionary and tested one by one
    /// (exact for any test, at the cost of a dictionary scan).
    Values {
        field: String,
        kinds: ValueKinds,
        pred: ValuePredicate,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn term(field: &str, value: &str) -> Filter {
        Filter::Term {
            field: field.into(),
            value: value.into(),
        }
    }
    pub fn wildcard(field: &str, pattern: &str) -> Filter {
        Filter::Wildcard {
            field: field.into(),
            pattern: pattern.into(),
        }
    }
    pub fn wildcard_any_case(field: &str, pattern: &str) -> Filter {
        Filter::WildcardAnyCase {
            field: field.into(),
            pattern: pattern.into(),
        }
    }
    pub fn exists(field: &str) -> Filter {
        Filter::Exists {
            field: field.into(),
        }
    }
    pub fn text(phrase: &str) -> Filter {
        Filter::Text {
            phrase: phrase.into(),
        }
    }
    pub fn cidr(field: &str, net: IpNet) -> Filter {
        Filter::Cidr {
            field: field.into(),
            net,
        }
    }
    /// `gte <= field < lt` on numbers.
    pub fn range(field: &str, gte: Option<f64>, lt: Option<f64>) -> Filter {
        Filter::Range {
            field: field.into(),
            gt: None,
            gte: gte.map(RangeValue::Number),
            lt: lt.map(RangeValue::Number),
            lte: None,
        }
    }
}

/// Half-open `[from, to)` in UTC. Every search names one: it selects the
/// partitions to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl TimeRange {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> TimeRange {
        TimeRange { from, to }
    }
}

/// Compiles filters against one partition's searcher (CIDR filters read the
/// partition's term dictionary).
pub struct Compiler<'a> {
    pub fields: Fields,
    pub searcher: &'a Searcher,
    /// Checked while term dictionaries are scanned, which can take long on
    /// a field of many distinct values.
    pub budget: &'a crate::Budget,
}

fn json_term(field: tantivy::schema::Field, path: &str) -> Term {
    Term::from_field_json_path(field, path, true)
}

fn to_micros(t: &DateTime<Utc>) -> i64 {
    crate::partition::clamp_ts(t.timestamp_micros())
}

impl Compiler<'_> {
    pub fn time_range(&self, range: &TimeRange) -> Box<dyn Query> {
        let lo = Term::from_field_date(
            self.fields.ts,
            tantivy::DateTime::from_timestamp_micros(to_micros(&range.from)),
        );
        let hi = Term::from_field_date(
            self.fields.ts,
            tantivy::DateTime::from_timestamp_micros(to_micros(&range.to)),
        );
        Box::new(RangeQuery::new(Bound::Included(lo), Bound::Excluded(hi)))
    }

    pub fn compile(&self, filter: &Filter) -> Result<Box<dyn Query>, StoreError> {
        self.budget.check()?;
        let q = self.compile_unbounded(filter)?;
        // A multi-term clause does its work (a dictionary walk and a bitset)
        // when its scorer is made, before any document is scored: each one
        // looks at the budget first, so a query of many stops between them.
        Ok(match filter {
            Filter::Wildcard { .. }
            | Filter::WildcardAnyCase { .. }
            | Filter::WordWildcard { .. }
            | Filter::AnyWildcard { .. }
            | Filter::Values { .. }
            | Filter::Cidr { .. } => Box::new(crate::budget::BudgetQuery {
                inner: q,
                budget: self.budget.clone(),
            }),
            _ => q,
        })
    }

    fn compile_unbounded(&self, filter: &Filter) -> Result<Box<dyn Query>, StoreError> {
        Ok(match filter {
            Filter::All => Box::new(AllQuery),
            Filter::Term { field, value } => self.term(field, value),
            Filter::Wildcard { field, pattern } => self.wildcard(field, pattern, false)?,
            Filter::WildcardAnyCase { field, pattern } => self.wildcard(field, pattern, true)?,
            Filter::Range {
                field,
                gt,
                gte,
                lt,
                lte,
            } => self.range(field, gt, gte, lt, lte)?,
            Filter::Exists { field } => {
                if field == TIMESTAMP {
                    Box::new(AllQuery)
                } else {
                    Box::new(ExistsQuery::new(format!("f.{field}"), false))
                }
            }
            Filter::Cidr { field, net } => self.cidr(field, net)?,
            Filter::Text { phrase } => self.text(phrase),
            Filter::WordWildcard { pattern } => {
                let re = glob_regex(&lower_chars(pattern), "")?;
                Box::new(AutomatonQuery {
                    field: self.fields.text,
                    regex: Arc::new(re),
                    prefix: None,
                })
            }
            Filter::AnyWildcard { pattern } => {
                // Any path (no \x00 inside), the end-of-path byte, the
                // string type, then the value.
                let re = glob_regex(pattern, "(?:[^\\x00])*\\x00s(?i)")?;
                Box::new(AutomatonQuery {
                    field: self.fields.f,
                    regex: Arc::new(re),
                    prefix: None,
                })
            }
            Filter::Values { field, kinds, pred } => self.values(field, *kinds, pred)?,
            Filter::And(parts) => {
                let mut clauses = Vec::with_capacity(parts.len() + 1);
                let mut positive = false;
                for p in parts {
                    match p {
                        Filter::Not(inner) => clauses.push((Occur::MustNot, self.compile(inner)?)),
                        _ => {
                            positive = true;
                            clauses.push((Occur::Must, self.compile(p)?));
                        }
                    }
                }
                if !positive {
                    // Tantivy matches nothing for a query of exclusions only.
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Filter::Or(parts) => {
                if parts.is_empty() {
                    return Ok(Box::new(EmptyQuery));
                }
                let clauses = parts
                    .iter()
                    .map(|p| Ok((Occur::Should, self.compile(p)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Box::new(BooleanQuery::new(clauses))
            }
            Filter::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, self.compile(inner)?),
            ])),
        })
    }

    fn term(&self, field: &str, value: &str) -> Box<dyn Query> {
        let f = self.fields.f;
        let mut terms = Vec::with_capacity(3);
        let mut t = json_term(f, field);
        t.append_type_and_str(value);
        terms.push(t);
        let v = value.trim();
        // Numbers are indexed normalised (an integral float as i64, a u64
        // within i64 as i64), so one numeric term covers every reading.
        let num = if let Ok(i) = v.parse::<i64>() {
            Some(NumTerm::I(i))
        } else if let Ok(u) = v.parse::<u64>() {
            Some(NumTerm::U(u))
        } else {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(normalise_f64)
        };
        if let Some(n) = num {
            let mut t = json_term(f, field);
            match n {
                NumTerm::I(i) => t.append_type_and_fast_value(i),
                NumTerm::U(u) => t.append_type_and_fast_value(u),
                NumTerm::F(x) => t.append_type_and_fast_value(x),
            }
            terms.push(t);
        }
        let b = if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        };
        if let Some(b) = b {
            let mut t = json_term(f, field);
            t.append_type_and_fast_value(b);
            terms.push(t);
        }
        if terms.len() == 1 {
            let t = terms.pop().unwrap_or_else(|| json_term(f, field));
            Box::new(TermQuery::new(t, IndexRecordOption::Basic))
        } else {
            Box::new(TermSetQuery::new(terms))
        }
    }

    /// The term-dictionary key prefix of values of one type at `field`.
    fn typed_prefix(&self, field: &str, code: u8) -> Vec<u8> {
        let mut p = self.str_prefix(field);
        if let Some(last) = p.last_mut() {
            *last = code;
        }
        p
    }

    /// Reads the field's terms of the given kinds in every segment and keeps
    /// the keys `keep` accepts.
    fn scan(
        &self,
        field: &str,
        kinds: ValueKinds,
        mut keep: impl FnMut(&Value) -> bool,
    ) -> Result<BTreeSet<Vec<u8>>, StoreError> {
        let mut codes = Vec::new();
        if kinds.strings {
            codes.push(b's');
        }
        if kinds.numbers {
            codes.extend([b'i', b'u', b'f']);
        }
        if kinds.bools {
            codes.push(b'o');
        }
        let mut matched = BTreeSet::new();
        // The matched keys are held until the query runs: they count
        // against the search's memory cap.
        let mut kept_bytes = 0u64;
        let mut seen = 0u32;
        for code in codes {
            let prefix = self.typed_prefix(field, code);
            let mut end = prefix.clone();
            if let Some(last) = end.last_mut() {
                *last += 1;
            }
            for seg in self.searcher.segment_readers() {
                let inv = seg.inverted_index(self.fields.f)?;
                let mut stream = inv
                    .terms()
                    .range()
                    .ge(&prefix)
                    .lt(&end)
                    .into_stream()
                    .map_err(|e| StoreError::Index(format!("term dictionary: {e}")))?;
                while stream.advance() {
                    seen = seen.wrapping_add(1);
                    if seen.is_multiple_of(crate::budget::CHECK_EVERY) {
                        self.budget.check()?;
                    }
                    let key = stream.key();
                    let Some(raw) = key.get(prefix.len()..) else {
                        continue;
                    };
                    let value = match code {
                        b's' => match std::str::from_utf8(raw) {
                            Ok(s) => Value::Str(s.into()),
                            Err(_) => continue,
                        },
                        _ => {
                            let Ok(bytes) = <[u8; 8]>::try_from(raw) else {
                                continue;
                            };
                            let u = u64::from_be_bytes(bytes);
                            match code {
                                b'i' => Value::Int(i64::from_u64(u)),
                                b'u' => Value::UInt(u),
                                b'f' => Value::Float(f64::from_u64(u)),
                                _ => Value::Bool(bool::from_u64(u)),
                            }
                        }
                    };
                    if keep(&value) {
                        kept_bytes += key.len() as u64 + 48;
                        if let Some(cap) = self.budget.scan_cap() {
                            if kept_bytes > cap {
                                return Err(StoreError::TooCostly {
                                    need_mib: kept_bytes.div_ceil(1 << 20),
                                    limit_mib: cap >> 20,
                                    clauses: 1,
                                });
                            }
                        }
                        matched.insert(key.to_vec());
                    }
                }
            }
        }
        Ok(matched)
    }

    /// Which kinds of values the field holds in this partition.
    pub fn kinds_present(&self, field: &str) -> Result<ValueKinds, StoreError> {
        let mut out = ValueKinds::default();
        for code in [b's', b'i', b'u', b'f', b'o'] {
            let prefix = self.typed_prefix(field, code);
            let mut end = prefix.clone();
            if let Some(last) = end.last_mut() {
                *last += 1;
            }
            let mut any = false;
            for seg in self.searcher.segment_readers() {
                let inv = seg.inverted_index(self.fields.f)?;
                let mut stream = inv
                    .terms()
                    .range()
                    .ge(&prefix)
                    .lt(&end)
                    .into_stream()
                    .map_err(|e| StoreError::Index(format!("term dictionary: {e}")))?;
                if stream.advance() {
                    any = true;
                    break;
                }
            }
            if any {
                match code {
                    b's' => out.strings = true,
                    b'o' => out.bools = true,
                    _ => out.numbers = true,
                }
            }
        }
        Ok(out)
    }

    fn term_set(&self, field: &str, keys: BTreeSet<Vec<u8>>) -> Box<dyn Query> {
        if keys.is_empty() {
            return Box::new(EmptyQuery);
        }
        let terms = keys.into_iter().map(|key| {
            let mut t = json_term(self.fields.f, field);
            // The key repeats the path, the type byte and the value.
            t.truncate_value_bytes(0);
            t.append_bytes(&key);
            t
        });
        Box::new(TermSetQuery::new(terms))
    }

    fn values(
        &self,
        field: &str,
        kinds: ValueKinds,
        pred: &ValuePredicate,
    ) -> Result<Box<dyn Query>, StoreError> {
        let keys = self.scan(field, kinds, |v| (pred.0)(v))?;
        Ok(self.term_set(field, keys))
    }

    /// The term-dictionary key prefix of string values at `field`.
    fn str_prefix(&self, field: &str) -> Vec<u8> {
        let mut t = json_term(self.fields.f, field);
        t.append_type_and_str("");
        t.serialized_value_bytes().to_vec()
    }

    fn wildcard(
        &self,
        field: &str,
        pattern: &str,
        any_case: bool,
    ) -> Result<Box<dyn Query>, StoreError> {
        let prefix = self.str_prefix(field);
        let mut head = String::with_capacity(prefix.len() * 4);
        // The key prefix is the path (UTF-8 with \x01 separators), \x00 and
        // the type byte: valid UTF-8, escaped character by character.
        push_literal(&String::from_utf8_lossy(&prefix), &mut head);
        if any_case {
            // Only the value ignores case; the path before it stays exact.
            head.push_str("(?i)");
        }
        let regex = glob_regex(pattern, &head)?;
        Ok(Box::new(JsonAutomatonQuery {
            field: self.fields.f,
            regex: std::sync::Arc::new(regex),
            prefix,
        }))
    }

    fn range(
        &self,
        field: &str,
        gt: &Option<RangeValue>,
        gte: &Option<RangeValue>,
        lt: &Option<RangeValue>,
        lte: &Option<RangeValue>,
    ) -> Result<Box<dyn Query>, StoreError> {
        let make = |v: &RangeValue| -> Result<Term, StoreError> {
            if field == TIMESTAMP {
                let micros = crate::partition::clamp_ts(match v {
                    RangeValue::Time(t) => t.timestamp_micros(),
                    RangeValue::Number(n) => (*n * 1e6) as i64,
                });
                Ok(Term::from_field_date(
                    self.fields.ts,
                    tantivy::DateTime::from_timestamp_micros(micros),
                ))
            } else {
                let RangeValue::Number(n) = v else {
                    return Err(StoreError::BadQuery(format!(
                        "time range on {field}: only {TIMESTAMP} holds times"
                    )));
                };
                let mut t = json_term(self.fields.f, field);
                t.append_type_and_fast_value(*n);
                Ok(t)
            }
        };
        let lower = match (gt, gte) {
            (Some(v), _) => Bound::Excluded(make(v)?),
            (None, Some(v)) => Bound::Included(make(v)?),
            (None, None) => Bound::Unbounded,
        };
        let upper = match (lt, lte) {
            (Some(v), _) => Bound::Excluded(make(v)?),
            (None, Some(v)) => Bound::Included(make(v)?),
            (None, None) => Bound::Unbounded,
        };
        if matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
            return Ok(Box::new(ExistsQuery::new(format!("f.{field}"), false)));
        }
        Ok(Box::new(RangeQuery::new(lower, upper)))
    }

    /// Reads the field's string terms in every segment and keeps those that
    /// parse as addresses inside `net`: exact for any prefix length and for
    /// every textual IPv6 form.
    fn cidr(&self, field: &str, net: &IpNet) -> Result<Box<dyn Query>, StoreError> {
        let keys = self.scan(field, ValueKinds::STRINGS, |v| match v {
            Value::Str(s) => s.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
            _ => false,
        })?;
        Ok(self.term_set(field, keys))
    }

    fn text(&self, phrase: &str) -> Box<dyn Query> {
        let mut analyzer = crate::partition::words_analyzer();
        let mut stream = analyzer.token_stream(phrase);
        let mut terms = Vec::new();
        while stream.advance() {
            let tok = stream.token();
            terms.push((
                tok.position,
                Term::from_field_text(self.fields.text, &tok.text),
            ));
        }
        match terms.len() {
            0 => Box::new(EmptyQuery),
            1 => Box::new(TermQuery::new(terms.remove(0).1, IndexRecordOption::Basic)),
            _ => Box::new(PhraseQuery::new_with_offset(terms)),
        }
    }
}

/// Appends `s` to a regular expression as a literal. Only ASCII needs
/// escaping; `\xNN` keeps control bytes (path separators) readable.
fn push_literal(s: &str, out: &mut String) {
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || !c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
    }
}

/// A regular expression over one JSON path's string terms: Tantivy's
/// `RegexQuery` matches whole term-dictionary keys, which for a JSON field
/// start with the path, so the path prefix is part of the expression and
/// also bounds the dictionary scan.
#[derive(Clone, Debug)]
struct JsonAutomatonQuery {
    field: tantivy::schema::Field,
    regex: std::sync::Arc<Regex>,
    prefix: Vec<u8>,
}

impl Query for JsonAutomatonQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AutomatonWeight::<Regex>::new_for_json_path(
            self.field,
            self.regex.clone(),
            &self.prefix,
        )))
    }
}

enum NumTerm {
    I(i64),
    U(u64),
    F(f64),
}

/// The index's normal form of a float: integral values as integers.
fn normalise_f64(x: f64) -> NumTerm {
    if x.fract() == 0.0 && x >= i64::MIN as f64 && x <= i64::MAX as f64 {
        NumTerm::I(x as i64)
    } else if x.fract() == 0.0 && x >= 0.0 && x <= u64::MAX as f64 {
        NumTerm::U(x as u64)
    } else {
        NumTerm::F(x)
    }
}

/// Lower-cases character by character, as the word tokenizer does.
fn lower_chars(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// A glob (`*` any run, `?` one character, whole value) as an automaton
/// after `head` (regex source for the key bytes before the value).
fn glob_regex(pattern: &str, head: &str) -> Result<Regex, StoreError> {
    let mut re = String::with_capacity(head.len() + pattern.len() * 2);
    re.push_str(head);
    for c in pattern.chars() {
        match c {
            '*' => re.push_str("(?s:.)*"),
            '?' => re.push_str("(?s:.)"),
            c => push_literal(c.encode_utf8(&mut [0u8; 4]), &mut re),
        }
    }
    Regex::new(&re).map_err(|e| StoreError::BadQuery(format!("wildcard {pattern:?}: {e}")))
}

/// A regular expression over whole terms of a field (not JSON-path bound).
#[derive(Clone, Debug)]
struct AutomatonQuery {
    field: tantivy::schema::Field,
    regex: Arc<Regex>,
    prefix: Option<Vec<u8>>,
}

impl Query for AutomatonQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(match &self.prefix {
            Some(p) => {
                AutomatonWeight::<Regex>::new_for_json_path(self.field, self.regex.clone(), p)
            }
            None => AutomatonWeight::<Regex>::new(self.field, self.regex.clone()),
        }))
    }
}
