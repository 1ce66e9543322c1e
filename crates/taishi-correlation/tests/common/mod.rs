//! Shared helpers: fixtures are written inline by the tests.
#![allow(dead_code)]

use chrono::{DateTime, Duration, FixedOffset};
use taishi_correlation::{
    parse_correlation, CorrelationError, CorrelationHit, CorrelationRule, Correlator,
    CorrelatorOptions,
};
use taishi_event::Event;

/// 2024-03-01T10:00:00+08:00 plus `secs`.
pub fn t(secs: i64) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2024-03-01T10:00:00+08:00").unwrap() + Duration::seconds(secs)
}

pub fn ev(fields: &[(&str, &str)]) -> Event {
    let mut e = Event::new();
    for (k, v) in fields {
        e.push(*k, *v);
    }
    e
}

pub fn rule(yaml: &str) -> CorrelationRule {
    let doc: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    parse_correlation(&doc).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

pub fn parse_err(yaml: &str) -> String {
    let doc: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    let e = parse_correlation(&doc).expect_err("document should be rejected");
    assert!(matches!(e, CorrelationError::Rule(_)), "{e:?}");
    e.to_string()
}

/// All correlation documents of a multi-document YAML text.
pub fn rules(yaml: &str) -> Vec<CorrelationRule> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde_yaml::Value::deserialize(d).unwrap())
        .filter(taishi_correlation::is_correlation)
        .map(|d| parse_correlation(&d).unwrap())
        .collect()
}

use serde::Deserialize;

/// One base-rule match: rule reference (id; the name is the same text with
/// a `name:` prefix stripped), seconds after `t(0)`, fields.
pub struct M<'a>(pub &'a str, pub i64, pub &'a [(&'a str, &'a str)]);

/// Feeds the matches in the given order and flushes.
pub fn run_with(c: &mut Correlator, ms: &[M]) -> Vec<CorrelationHit> {
    let mut out = Vec::new();
    for M(r, s, f) in ms {
        c.observe(r, Some(r), &ev(f), t(*s), &mut out);
    }
    c.flush(&mut out);
    out
}

pub fn run(rs: Vec<CorrelationRule>, ms: &[M]) -> Vec<CorrelationHit> {
    let mut c = Correlator::with_options(rs, CorrelatorOptions::batch()).unwrap();
    run_with(&mut c, ms)
}

pub fn run_yaml(yaml: &str, ms: &[M]) -> Vec<CorrelationHit> {
    run(rules(yaml), ms)
}

pub fn group(h: &CorrelationHit) -> Vec<(&str, &str)> {
    h.group
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}
