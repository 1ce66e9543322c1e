//! The store's own small query model and its translation to Tantivy. The
//! search language (`taishi-query`) is translated to [`Filter`] by its
//! caller; the store stays independent of the language.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::ops::Bound;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
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

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All,
    /// Whole-value match, case-insensitive for strings; a value that reads
    /// as a number also matches the numeric field value.
    Term {
        field: String,
        value: String,
    },
    /// `*` any run, `?` one character; case-insensitive; whole value.
    Wildcard {
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
    /// Words in sequence in any string value (case-insensitive).
    Text {
        phrase: String,
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
}

fn json_term(field: tantivy::schema::Field, path: &str) -> Term {
    Term::from_field_json_path(field, path, true)
}

fn to_micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
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
        Ok(match filter {
            Filter::All => Box::new(AllQuery),
            Filter::Term { field, value } => self.term(field, value),
            Filter::Wildcard { field, pattern } => self.wildcard(field, pattern)?,
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
        let mut terms = Vec::with_capacity(2);
        let mut t = json_term(f, field);
        t.append_type_and_str(&value.to_lowercase());
        terms.push(t);
        let base = json_term(f, field);
        if let Some(t) = tantivy::json_utils::convert_to_fast_value_and_append_to_json_term(
            &base,
            value.trim(),
            false,
        ) {
            terms.push(t);
        }
        if terms.len() == 1 {
            let t = terms.pop().unwrap_or_else(|| json_term(f, field));
            Box::new(TermQuery::new(t, IndexRecordOption::Basic))
        } else {
            Box::new(TermSetQuery::new(terms))
        }
    }

    /// The term-dictionary key prefix of string values at `field`.
    fn str_prefix(&self, field: &str) -> Vec<u8> {
        let mut t = json_term(self.fields.f, field);
        t.append_type_and_str("");
        t.serialized_value_bytes().to_vec()
    }

    fn wildcard(&self, field: &str, pattern: &str) -> Result<Box<dyn Query>, StoreError> {
        let prefix = self.str_prefix(field);
        let mut re = String::with_capacity(prefix.len() * 2 + pattern.len() * 2);
        // The key prefix is the path (UTF-8 with \x01 separators), \x00 and
        // the type byte: valid UTF-8, escaped character by character.
        push_literal(&String::from_utf8_lossy(&prefix), &mut re);
        for c in pattern.to_lowercase().chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => push_literal(c.encode_utf8(&mut [0u8; 4]), &mut re),
            }
        }
        let regex = Regex::new(&re)
            .map_err(|e| StoreError::BadQuery(format!("wildcard {pattern:?}: {e}")))?;
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
                let micros = match v {
                    RangeValue::Time(t) => t.timestamp_micros(),
                    RangeValue::Number(n) => (*n * 1e6) as i64,
                };
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
        let prefix = self.str_prefix(field);
        let mut end = prefix.clone();
        // The prefix ends in the type byte 's'; the next byte bounds the range.
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let mut matched: BTreeSet<Vec<u8>> = BTreeSet::new();
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
                let key = stream.key();
                let Some(value) = key.get(prefix.len()..) else {
                    continue;
                };
                let Ok(s) = std::str::from_utf8(value) else {
                    continue;
                };
                if s.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)) {
                    matched.insert(key.to_vec());
                }
            }
        }
        if matched.is_empty() {
            return Ok(Box::new(EmptyQuery));
        }
        let terms = matched.into_iter().map(|key| {
            let mut t = json_term(self.fields.f, field);
            // The key repeats the path, the type byte and the value.
            t.truncate_value_bytes(0);
            t.append_bytes(&key);
            t
        });
        Ok(Box::new(TermSetQuery::new(terms)))
    }

    fn text(&self, phrase: &str) -> Box<dyn Query> {
        let mut analyzer = self
            .searcher
            .index()
            .tokenizers()
            .get("default")
            .unwrap_or_else(|| {
                tantivy::tokenizer::TextAnalyzer::from(
                    tantivy::tokenizer::SimpleTokenizer::default(),
                )
            });
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
            0 => Box::new(AllQuery),
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
