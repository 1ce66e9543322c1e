//! Parsing correlation documents: the specification's examples and the
//! errors for bad documents.

mod common;
use common::*;
use taishi_correlation::{CorrelationError, CorrelationType, Correlator, Level, Op};

const SPEC_EVENT_COUNT: &str = r#"
title: Many failed logins
id: 0e95725d-7320-415d-80f7-004da920fc11
correlation:
    type: event_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
    timespan: 1h
    condition:
        gte: 100
"#;

const SPEC_VALUE_COUNT: &str = r#"
title: Failed login
id: 0e95725d-7320-415d-80f7-004da920fc12
correlation:
    type: value_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
        - WorkstationName
    timespan: 1d
    condition:
        field: User
        gte: 100
"#;

const SPEC_TEMPORAL: &str = r#"
title: Recon
correlation:
    type: temporal
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
"#;

const SPEC_VALUE_PERCENTILE: &str = r#"
title: A computer spawned a processes name in the last 24h than 1% of all the processes.
correlation:
    type: value_percentile
    rules:
        - process_creation
    group-by:
        - ComputerName
    timespan: 24h
    condition:
        field: image
        lte: 1
"#;

#[test]
fn spec_event_count() {
    let r = rule(SPEC_EVENT_COUNT);
    assert_eq!(r.title, "Many failed logins");
    assert_eq!(
        r.id.as_deref(),
        Some("0e95725d-7320-415d-80f7-004da920fc11")
    );
    assert_eq!(r.kind, CorrelationType::EventCount);
    assert_eq!(r.rules, ["5638f7c0-ac70-491d-8465-2a65075e0d86"]);
    assert_eq!(r.group_by, ["ComputerName"]);
    assert_eq!(r.timespan.seconds, 3600);
    assert_eq!(r.condition.bounds, [(Op::Gte, 100.0)]);
    assert!(!r.generate);
    assert!(r.warnings.is_empty());
}

#[test]
fn spec_value_count() {
    let r = rule(SPEC_VALUE_COUNT);
    assert_eq!(r.kind, CorrelationType::ValueCount);
    assert_eq!(r.group_by, ["ComputerName", "WorkstationName"]);
    assert_eq!(r.timespan.seconds, 86_400);
    assert_eq!(r.condition.fields, ["User"]);
}

#[test]
fn spec_temporal_defaults_to_all_rules() {
    let r = rule(SPEC_TEMPORAL);
    assert_eq!(r.kind, CorrelationType::Temporal);
    assert_eq!(r.condition.bounds, [(Op::Gte, 3.0)]);
    assert!(r.id.is_none());
}

#[test]
fn spec_value_percentile_without_percentile_uses_median_and_warns() {
    let r = rule(SPEC_VALUE_PERCENTILE);
    assert_eq!(r.kind, CorrelationType::ValuePercentile);
    assert_eq!(r.condition.percentile, Some(50.0));
    assert!(
        r.warnings.iter().any(|w| w.contains("percentile")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn spec_value_sum_avg_and_percentile_with_percentile() {
    let r = rule(
        "title: Possible Exfiltration to Website\ncorrelation:\n  type: value_sum\n  rules:\n    - website_access\n  group-by:\n    - SourceIP\n    - User\n  timespan: 1h\n  condition:\n    field: bytes_sent\n    gt: 1000000\n",
    );
    assert_eq!(r.kind, CorrelationType::ValueSum);
    assert_eq!(r.condition.bounds, [(Op::Gt, 1_000_000.0)]);
    let r = rule(
        "title: avg\ncorrelation:\n  type: value_avg\n  rules: [rule_a_id]\n  group-by: [SourceIP, User]\n  timespan: 24h\n  condition: {field: BytesOut, gt: 500.5}\n",
    );
    assert_eq!(r.condition.bounds, [(Op::Gt, 500.5)]);
    let r = rule(
        "title: p95\ncorrelation:\n  type: value_percentile\n  rules: r\n  group-by: h\n  timespan: 8h\n  condition: {field: d, percentile: 95, gte: 8000}\n",
    );
    assert_eq!(r.condition.percentile, Some(95.0));
    assert_eq!(r.rules, ["r"]);
    assert_eq!(r.group_by, ["h"]);
    let r = rule(
        "title: med\ncorrelation:\n  type: value_median\n  rules: [r]\n  timespan: 1h\n  condition: {field: d, gt: 3}\n",
    );
    assert_eq!(r.kind, CorrelationType::ValueMedian);
    assert_eq!(r.condition.percentile, Some(50.0));
    assert!(r.group_by.is_empty());
}

/// The spec's "failed logins followed by successful login" file: four
/// documents, two of them ordinary rules, chained by name.
pub const SPEC_FAILED_THEN_SUCCESS: &str = r#"
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
"#;

#[test]
fn spec_multi_document_example() {
    let rs = rules(SPEC_FAILED_THEN_SUCCESS);
    assert_eq!(rs.len(), 2);
    let outer = &rs[0];
    assert_eq!(outer.kind, CorrelationType::TemporalOrdered);
    assert_eq!(outer.level, Some(Level::High));
    assert_eq!(outer.status.as_deref(), Some("experimental"));
    assert_eq!(outer.date.as_deref(), Some("2023-06-16"));
    assert_eq!(outer.falsepositives, ["Unlikely"]);
    assert_eq!(outer.references, ["https://reference.com"]);
    assert_eq!(rs[1].name.as_deref(), Some("multiple_failed_login"));
    let c = Correlator::new(rs).unwrap();
    assert_eq!(c.rule_references(), ["failed_login", "successful_login"]);
}

#[test]
fn spec_schema_test_rules_parse() {
    let names = [
        "event_count",
        "event_count_ecs",
        "temporal",
        "temporal_ordered",
        "value_avg",
        "value_count",
        "value_percentile",
        "value_sum",
    ];
    for n in names {
        let rel = format!("sigma/specification/tests/schema/correlation/{n}.yml");
        let Some(data) = taishi_testdata::read(&rel) else {
            return;
        };
        let text = String::from_utf8(data).unwrap();
        let r = rule(&text);
        assert_eq!(r.kind.as_str(), n.trim_end_matches("_ecs"), "{rel}");
    }
}

#[test]
fn older_spellings_accepted_but_not_both() {
    let r = rule(
        "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  group_by: [User]\n  timeframe: 90m\n  condition: {gte: 2}\n",
    );
    assert_eq!(r.group_by, ["User"]);
    assert_eq!(r.timespan.seconds, 5400);
    let e = parse_err(
        "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1h\n  timeframe: 1h\n  condition: {gte: 2}\n",
    );
    assert_eq!(
        e,
        "correlation.timeframe: also given as correlation.timespan; keep one"
    );
}

#[test]
fn range_conditions() {
    let r = rule(
        "title: x\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {gt: 100, lte: 200}\n",
    );
    assert!(!r.condition.holds(100.0));
    assert!(r.condition.holds(101.0));
    assert!(r.condition.holds(200.0));
    assert!(!r.condition.holds(201.0));
    assert!(!r.condition.lower_bounds_only());
}

#[test]
fn generate_top_level_or_in_correlation() {
    let base = "title: x\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 1h\n";
    assert!(!rule(base).generate);
    assert!(rule(&format!("{base}generate: true\n")).generate);
    assert!(rule(&format!("{base}  generate: true\n")).generate);
    let e = parse_err(&format!("{base}  generate: true\ngenerate: false\n"));
    assert!(e.starts_with("generate:"), "{e}");
    let e = parse_err(&format!("{base}  generate: yes please\n"));
    assert_eq!(
        e,
        "correlation.generate: expected true or false, found \"yes please\""
    );
}

#[test]
fn timespan_units() {
    for (s, secs) in [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86_400),
        ("2w", 1_209_600),
    ] {
        let r = rule(&format!(
            "title: x\ncorrelation:\n  type: temporal\n  rules: [a]\n  timespan: {s}\n"
        ));
        assert_eq!(r.timespan.seconds, secs, "{s}");
    }
}

fn err_for(corr_body: &str) -> String {
    parse_err(&format!("title: x\ncorrelation:\n{corr_body}"))
}

#[test]
fn bad_documents_name_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            "  type: event_count\n  rules: [a]\n  timespan: 5x\n  condition: {gte: 1}\n",
            r#"correlation.timespan: "5x" is not a duration (use 30s, 5m, 1h, 1d)"#,
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 10\n  condition: {gte: 1}\n",
            r#"correlation.timespan: "10" is not a duration (use 30s, 5m, 1h, 1d)"#,
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 0s\n  condition: {gte: 1}\n",
            r#"correlation.timespan: "0s" must be longer than zero"#,
        ),
        (
            "  type: event_count\n  rules: [a]\n  condition: {gte: 1}\n",
            "correlation.timespan: missing",
        ),
        ("  rules: [a]\n  timespan: 1h\n", "correlation.type: missing"),
        (
            "  type: event_cnt\n  rules: [a]\n  timespan: 1h\n",
            "correlation.type: \"event_cnt\" is not one of event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, value_median",
        ),
        ("  type: temporal\n  timespan: 1h\n", "correlation.rules: missing"),
        (
            "  type: temporal\n  rules: []\n  timespan: 1h\n",
            "correlation.rules: empty; name at least one rule by id or name",
        ),
        (
            "  type: temporal\n  rules: [a, b, a]\n  timespan: 1h\n",
            "correlation.rules[2]: \"a\" is listed twice",
        ),
        (
            "  type: temporal\n  rules: [a, {x: 1}]\n  timespan: 1h\n",
            "correlation.rules[1]: expected text, found a mapping",
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 1h\n",
            "correlation.condition: missing; event_count needs one, e.g. {gte: 10}",
        ),
        (
            "  type: value_count\n  rules: [a]\n  timespan: 1h\n  condition: {gte: 3}\n",
            "correlation.condition.field: missing; value_count aggregates the field named here",
        ),
        (
            "  type: value_sum\n  rules: [a]\n  timespan: 1h\n  condition: {gte: 3, field: [a, b]}\n",
            "correlation.condition.field: value_sum takes one field, not a list",
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {gte: 3, field: User}\n",
            "correlation.condition.field: event_count does not aggregate a field",
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {greater: 3}\n",
            "correlation.condition.greater: unknown key (use gt, gte, lt, lte, eq, neq, field, percentile)",
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {gte: many}\n",
            "correlation.condition.gte: many is not a number",
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {field_x: 1}\n",
            "correlation.condition.field_x: unknown key (use gt, gte, lt, lte, eq, neq, field, percentile)",
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {gt: 100, lt: 50}\n",
            "correlation.condition: gt 100 and lt 50 can never all hold",
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {gt: 5, lte: 5}\n",
            "correlation.condition: gt 5 and lte 5 can never all hold",
        ),
        (
            "  type: event_count\n  rules: [a]\n  timespan: 1h\n  condition: {}\n",
            "correlation.condition: no comparison; give one of gt, gte, lt, lte, eq, neq",
        ),
        (
            "  type: temporal\n  rules: [a, b]\n  timespan: 1h\n  condition: a and b\n",
            "correlation.condition: \"a and b\" is an expression; only a mapping such as {gte: 10} is supported",
        ),
        (
            "  type: value_percentile\n  rules: [a]\n  timespan: 1h\n  condition: {field: d, percentile: 101, gt: 1}\n",
            "correlation.condition.percentile: 101 is not a percentile between 0 and 100",
        ),
        (
            "  type: value_sum\n  rules: [a]\n  timespan: 1h\n  condition: {field: d, percentile: 90, gt: 1}\n",
            "correlation.condition.percentile: only value_percentile takes a percentile, not value_sum",
        ),
        (
            "  type: temporal\n  rules: [a]\n  timespan: 1h\n  aliases: [x]\n",
            "correlation.aliases: expected a mapping, found a list",
        ),
        (
            "  type: temporal\n  rules: [a]\n  timespan: 1h\n  aliases: {ip: source.ip}\n",
            "correlation.aliases.ip: expected a mapping of rule name to field name, found \"source.ip\"",
        ),
        (
            "  type: temporal\n  rules: [a]\n  timespan: 1h\n  group-by: [User, User]\n",
            "correlation.group-by[1]: \"User\" is listed twice",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(&err_for(body), want, "for:\n{body}");
    }
}

#[test]
fn bad_top_level_fields() {
    let corr = "correlation:\n  type: temporal\n  rules: [a]\n  timespan: 1h\n";
    assert_eq!(parse_err(corr), "title: missing");
    assert_eq!(
        parse_err(&format!("title: x\nlevel: severe\n{corr}")),
        "level: \"severe\" is not one of informational, low, medium, high, critical"
    );
    assert_eq!(
        parse_err(&format!("title: x\nstatus: draft\n{corr}")),
        "status: \"draft\" is not one of stable, test, experimental, deprecated, unsupported"
    );
    assert_eq!(
        parse_err(&format!("title: [x]\n{corr}")),
        "title: expected text, found a list"
    );
    assert_eq!(
        parse_err("title: x\ncorrelation: event_count\n"),
        "correlation: expected a mapping, found \"event_count\""
    );
    assert_eq!(
        parse_err("title: x\ndetection: {}\n"),
        "correlation: missing (not a correlation rule)"
    );
    assert_eq!(
        parse_err("- a\n- b\n"),
        "a correlation rule must be a YAML mapping"
    );
}

#[test]
fn alias_warnings() {
    let r = rule(
        "title: x\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  group-by: [ip]\n  timespan: 1h\n  aliases:\n    ip: {a: source.ip, c: destination.ip}\n    unused: {a: x}\n",
    );
    assert_eq!(r.aliases.len(), 2);
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
}

#[test]
fn cycles_and_duplicates_rejected() {
    let a = "title: A\nname: corr_a\ncorrelation:\n  type: event_count\n  rules: [corr_b]\n  timespan: 1h\n  condition: {gte: 2}\n";
    let b = "title: B\nname: corr_b\ncorrelation:\n  type: event_count\n  rules: [base, corr_a]\n  timespan: 1h\n  condition: {gte: 2}\n";
    let e = Correlator::new(vec![rule(a), rule(b)]).err().unwrap();
    assert_eq!(
        e,
        CorrelationError::Set(
            "correlation.rules: correlations reference each other in a cycle: corr_a -> corr_b -> corr_a".into()
        )
    );
    let selfref = "title: S\nid: s-1\ncorrelation:\n  type: event_count\n  rules: [s-1]\n  timespan: 1h\n  condition: {gte: 2}\n";
    let e = Correlator::new(vec![rule(selfref)])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("cycle: s-1 -> s-1"), "{e}");
    let dup =
        "title: D\nname: corr_a\ncorrelation:\n  type: temporal\n  rules: [x]\n  timespan: 1h\n";
    let e = Correlator::new(vec![rule(a), rule(dup)])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("\"corr_a\" is also the id or name"), "{e}");
}

#[test]
fn arbitrary_yaml_never_panics() {
    use proptest::prelude::*;
    proptest!(|(s in "[a-z:\\[\\]{}\\-, \n0-9_.]{0,200}")| {
        if let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(&s) {
            let _ = taishi_correlation::parse_correlation(&doc);
        }
    });
    proptest!(|(ts in "\\PC{0,12}", kind in "[a-z_]{0,18}", cond in "[a-z]{0,5}", n in any::<f64>())| {
        let doc = serde_yaml::to_value(serde_json::json!({
            "title": "x",
            "correlation": {"type": kind, "rules": ["a"], "timespan": ts, "condition": {cond: n}}
        })).unwrap();
        let _ = taishi_correlation::parse_correlation(&doc);
    });
}
