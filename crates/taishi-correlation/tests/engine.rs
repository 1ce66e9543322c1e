//! Correlation semantics, type by type, with inline fixtures.

mod common;
use common::*;
use taishi_correlation::{Correlator, CorrelatorOptions};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// ---------------------------------------------------------------- event_count

const EVENT_COUNT: &str = "title: brute force\nid: ec-1\nlevel: high\ntags: [attack.t1110]\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [User]\n  timespan: 5m\n  condition: {gte: 3}\n";

#[test]
fn event_count_in_window_fires() {
    let hits = run_yaml(
        EVENT_COUNT,
        &[
            M("failed", 0, &[("User", "alice")]),
            M("failed", 60, &[("User", "alice")]),
            M("failed", 120, &[("User", "alice")]),
        ],
    );
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    assert_eq!(group(h), [("User", "alice")]);
    assert_eq!(h.value, 3.0);
    assert_eq!(h.event_count, 3);
    assert_eq!(h.first, t(0));
    assert_eq!(h.last, t(120));
    assert_eq!(h.first.offset().local_minus_utc(), 8 * 3600, "zone kept");
    assert_eq!(h.matched_rules, ["failed"]);
    assert_eq!(h.rule.tags, ["attack.t1110"]);
}

#[test]
fn event_count_out_of_window_does_not_fire() {
    let hits = run_yaml(
        EVENT_COUNT,
        &[
            M("failed", 0, &[("User", "alice")]),
            M("failed", 200, &[("User", "alice")]),
            M("failed", 301, &[("User", "alice")]),
        ],
    );
    assert!(hits.is_empty(), "{hits:?}");
    // The window is inclusive: exactly one timespan apart still counts.
    let hits = run_yaml(
        EVENT_COUNT,
        &[
            M("failed", 0, &[("User", "alice")]),
            M("failed", 200, &[("User", "alice")]),
            M("failed", 300, &[("User", "alice")]),
        ],
    );
    assert_eq!(hits.len(), 1);
}

#[test]
fn event_count_wrong_group_does_not_add_up() {
    let hits = run_yaml(
        EVENT_COUNT,
        &[
            M("failed", 0, &[("User", "alice")]),
            M("failed", 10, &[("User", "bob")]),
            M("failed", 20, &[("User", "alice")]),
            M("failed", 30, &[("User", "bob")]),
            M("failed", 40, &[("Other", "x")]),
        ],
    );
    assert!(hits.is_empty());
}

#[test]
fn groups_never_span_organisations_and_the_hit_names_its_own() {
    // Two failures from each of two operators for the same user name: no
    // operator reaches three, together they would.
    let four = || {
        vec![
            M(
                "failed",
                0,
                &[("User", "alice"), ("organization.id", "op-a")],
            ),
            M(
                "failed",
                10,
                &[("User", "alice"), ("organization.id", "op-b")],
            ),
            M(
                "failed",
                20,
                &[("User", "alice"), ("organization.id", "op-a")],
            ),
            M(
                "failed",
                30,
                &[("User", "alice"), ("organization.id", "op-b")],
            ),
        ]
    };
    assert!(run_yaml(EVENT_COUNT, &four()).is_empty());
    let mut ms = four();
    ms.push(M(
        "failed",
        40,
        &[("User", "alice"), ("organization.id", "op-b")],
    ));
    let hits = run_yaml(EVENT_COUNT, &ms);
    assert_eq!(hits.len(), 1);
    assert_eq!(
        group(&hits[0]),
        [("User", "alice"), ("organization.id", "op-b")]
    );
}

#[test]
fn event_count_fires_once_per_timespan_then_on_what_gathered() {
    // 9 failures within 80 s: the 3rd raises a hit; the group is muted for
    // 5 minutes; at its end the 6 gathered meanwhile are evaluated once.
    let ms: Vec<M> = (0..9)
        .map(|i| M("failed", i * 10, &[("User", "alice")]))
        .collect();
    let hits = run_yaml(EVENT_COUNT, &ms);
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0].value, 3.0);
    assert_eq!(hits[0].last, t(20));
    assert_eq!(hits[1].value, 6.0);
    assert_eq!((hits[1].first, hits[1].last), (t(30), t(80)));
    // A sustained attack (one failure every 10 s for 30 minutes) gives one
    // hit per timespan, not one per event: six, plus the tail gathered in
    // the last muted timespan, evaluated at flush.
    let ms: Vec<M> = (0..180)
        .map(|i| M("failed", i * 10, &[("User", "alice")]))
        .collect();
    let hits = run_yaml(EVENT_COUNT, &ms);
    assert_eq!(
        hits.len(),
        7,
        "{:?}",
        hits.iter().map(|h| h.last).collect::<Vec<_>>()
    );
    for w in hits.windows(2) {
        assert!(w[1].first > w[0].last, "hits cover disjoint events");
    }
}

#[test]
fn event_count_lt_is_decided_when_the_window_ends() {
    let yaml = "title: quiet\ncorrelation:\n  type: event_count\n  rules: [hb]\n  group-by: [host]\n  timespan: 1m\n  condition: {lt: 3}\n";
    let hits = run_yaml(
        yaml,
        &[
            M("hb", 0, &[("host", "a")]),
            M("hb", 10, &[("host", "a")]),
            M("hb", 0, &[("host", "b")]),
            M("hb", 10, &[("host", "b")]),
            M("hb", 20, &[("host", "b")]),
            // a's window [0, 60] ends before this event: decided then.
            M("hb", 100, &[("host", "b")]),
        ],
    );
    let got: Vec<_> = hits.iter().map(|h| (group(h)[0].1, h.value)).collect();
    // a: 2 < 3; b: first window has 3 (no), second (100) has 1, decided at flush.
    assert_eq!(got, [("a", 2.0), ("b", 1.0)]);
}

#[test]
fn ranges_eq_and_neq() {
    let mk = |cond: &str| {
        format!("title: r\ncorrelation:\n  type: event_count\n  rules: [x]\n  timespan: 1m\n  condition: {cond}\n")
    };
    let n_events = |n: i64| -> Vec<M> { (0..n).map(|i| M("x", i, &[])).collect() };
    let fires = |cond: &str, n: i64| !run_yaml(&mk(cond), &n_events(n)).is_empty();
    assert!(!fires("{gt: 2, lte: 4}", 2));
    assert!(fires("{gt: 2, lte: 4}", 3));
    assert!(fires("{gt: 2, lte: 4}", 4));
    assert!(!fires("{gt: 2, lte: 4}", 5));
    assert!(fires("{eq: 4}", 4));
    assert!(!fires("{eq: 4}", 5));
    assert!(fires("{neq: 4}", 5));
    assert!(!fires("{neq: 4}", 4));
}

// ---------------------------------------------------------------- value_count

const VALUE_COUNT: &str = "title: spray\ncorrelation:\n  type: value_count\n  rules: [failed]\n  group-by: [Computer]\n  timespan: 10m\n  condition: {field: User, gte: 3}\n";

#[test]
fn value_count_in_window_fires() {
    let hits = run_yaml(
        VALUE_COUNT,
        &[
            M("failed", 0, &[("Computer", "dc1"), ("User", "a")]),
            M("failed", 5, &[("Computer", "dc1"), ("User", "a")]),
            M("failed", 10, &[("Computer", "dc1"), ("User", "b")]),
            M("failed", 20, &[("Computer", "dc1"), ("User", "c")]),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 3.0);
    assert_eq!(hits[0].event_count, 4);
}

#[test]
fn value_count_same_value_out_of_window_or_wrong_group() {
    let same: Vec<M> = (0..10)
        .map(|i| M("failed", i, &[("Computer", "dc1"), ("User", "a")]))
        .collect();
    assert!(run_yaml(VALUE_COUNT, &same).is_empty());
    let spread = [
        M("failed", 0, &[("Computer", "dc1"), ("User", "a")]),
        M("failed", 400, &[("Computer", "dc1"), ("User", "b")]),
        M("failed", 900, &[("Computer", "dc1"), ("User", "c")]),
    ];
    assert!(run_yaml(VALUE_COUNT, &spread).is_empty());
    let split = [
        M("failed", 0, &[("Computer", "dc1"), ("User", "a")]),
        M("failed", 1, &[("Computer", "dc2"), ("User", "b")]),
        M("failed", 2, &[("Computer", "dc1"), ("User", "c")]),
        M("failed", 3, &[("Computer", "dc2"), ("User", "d")]),
    ];
    assert!(run_yaml(VALUE_COUNT, &split).is_empty());
}

#[test]
fn value_count_of_field_combinations() {
    let yaml = "title: combos\ncorrelation:\n  type: value_count\n  rules: [c]\n  timespan: 1h\n  condition: {field: [ip, port], gte: 3}\n";
    let hits = run_yaml(
        yaml,
        &[
            M("c", 0, &[("ip", "1.1.1.1"), ("port", "80")]),
            M("c", 1, &[("ip", "1.1.1.1"), ("port", "443")]),
            M("c", 2, &[("ip", "1.1.1.1"), ("port", "80")]),
            M("c", 3, &[("ip", "1.1.1.1")]),
        ],
    );
    assert!(hits.is_empty());
    let hits = run_yaml(
        yaml,
        &[
            M("c", 0, &[("ip", "1.1.1.1"), ("port", "80")]),
            M("c", 1, &[("ip", "1.1.1.1"), ("port", "443")]),
            M("c", 2, &[("ip", "2.2.2.2"), ("port", "80")]),
        ],
    );
    assert_eq!(hits.len(), 1);
}

// ---------------------------------------------------------------- temporal

const TEMPORAL: &str = "title: Recon\ncorrelation:\n  type: temporal\n  rules: [recon_cmd_a, recon_cmd_b, recon_cmd_c]\n  group-by: [ComputerName, User]\n  timespan: 5m\n";

#[test]
fn temporal_any_order_in_window_fires() {
    let f: &[(&str, &str)] = &[("ComputerName", "ws1"), ("User", "eve")];
    let hits = run_yaml(
        TEMPORAL,
        &[
            M("recon_cmd_c", 0, f),
            M("recon_cmd_a", 30, f),
            M("recon_cmd_a", 40, f),
            M("recon_cmd_b", 60, f),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 3.0);
    assert_eq!(
        hits[0].matched_rules,
        ["recon_cmd_a", "recon_cmd_b", "recon_cmd_c"]
    );
    assert_eq!(group(&hits[0]), [("ComputerName", "ws1"), ("User", "eve")]);
}

#[test]
fn temporal_out_of_window_or_split_groups_does_not_fire() {
    let f: &[(&str, &str)] = &[("ComputerName", "ws1"), ("User", "eve")];
    let g: &[(&str, &str)] = &[("ComputerName", "ws1"), ("User", "mallory")];
    assert!(run_yaml(
        TEMPORAL,
        &[
            M("recon_cmd_a", 0, f),
            M("recon_cmd_b", 100, f),
            M("recon_cmd_c", 301, f)
        ]
    )
    .is_empty());
    assert!(run_yaml(
        TEMPORAL,
        &[
            M("recon_cmd_a", 0, f),
            M("recon_cmd_b", 1, g),
            M("recon_cmd_c", 2, f)
        ]
    )
    .is_empty());
}

#[test]
fn temporal_with_partial_condition() {
    let yaml = "title: two of three\ncorrelation:\n  type: temporal\n  rules: [a, b, c]\n  timespan: 5m\n  condition: {gte: 2}\n";
    let hits = run_yaml(yaml, &[M("a", 0, &[]), M("a", 1, &[]), M("c", 2, &[])]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].matched_rules, ["a", "c"]);
}

// ---------------------------------------------------------------- temporal_ordered

const ORDERED: &str = "title: Recon ordered\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b, c]\n  group-by: [User]\n  timespan: 5m\n";

#[test]
fn temporal_ordered_in_order_fires() {
    let u: &[(&str, &str)] = &[("User", "eve")];
    let hits = run_yaml(
        ORDERED,
        &[
            M("b", 0, u),
            M("a", 10, u),
            M("c", 20, u),
            M("b", 30, u),
            M("c", 40, u),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].first, hits[0].last), (t(10), t(40)));
    assert_eq!(hits[0].matched_rules, ["a", "b", "c"]);
    assert_eq!(hits[0].event_count, 4);
}

#[test]
fn temporal_ordered_wrong_order_does_not_fire() {
    let u: &[(&str, &str)] = &[("User", "eve")];
    // All three within the window, but by event time c < b < a.
    assert!(run_yaml(ORDERED, &[M("c", 0, u), M("b", 10, u), M("a", 20, u)]).is_empty());
    // Arrival order a, b, c but event time says b came first.
    assert!(run_yaml(ORDERED, &[M("a", 10, u), M("b", 5, u), M("c", 20, u)]).is_empty());
    // Out of window and wrong group.
    assert!(run_yaml(ORDERED, &[M("a", 0, u), M("b", 100, u), M("c", 301, u)]).is_empty());
    let v: &[(&str, &str)] = &[("User", "bob")];
    assert!(run_yaml(ORDERED, &[M("a", 0, u), M("b", 1, v), M("c", 2, u)]).is_empty());
}

#[test]
fn temporal_ordered_uses_event_time_not_arrival_within_tolerance() {
    let u: &[(&str, &str)] = &[("User", "eve")];
    // Arrives c, a, b but event time is a < b < c: fires in streaming mode
    // as long as the disorder is within max_lateness.
    let ms = [M("c", 20, u), M("a", 0, u), M("b", 10, u)];
    let mut c = Correlator::new(rules(ORDERED)).unwrap();
    assert_eq!(run_with(&mut c, &ms).len(), 1);
    assert_eq!(c.stats().late_dropped, 0);
    // With no tolerance the older matches come too late: counted, not used.
    let opts = CorrelatorOptions {
        max_lateness: Some(std::time::Duration::ZERO),
        ..CorrelatorOptions::default()
    };
    let mut c = Correlator::with_options(rules(ORDERED), opts).unwrap();
    assert!(run_with(&mut c, &ms).is_empty());
    assert_eq!(c.stats().late_dropped, 2);
}

#[test]
fn temporal_ordered_prefix_condition() {
    let yaml = "title: first two steps\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b, c]\n  timespan: 5m\n  condition: {gte: 2}\n";
    assert_eq!(run_yaml(yaml, &[M("a", 0, &[]), M("b", 1, &[])]).len(), 1);
    assert!(run_yaml(yaml, &[M("b", 0, &[]), M("c", 1, &[])]).is_empty());
    // "a happened but b did not follow within 5 minutes".
    let yaml = "title: a without b\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b]\n  group-by: [User]\n  timespan: 5m\n  condition: {lt: 2}\n";
    let hits = run_yaml(
        yaml,
        &[
            M("a", 0, &[("User", "x")]),
            M("b", 60, &[("User", "x")]),
            M("a", 0, &[("User", "y")]),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(group(&hits[0]), [("User", "y")]);
}

// ---------------------------------------------------------------- value_sum / avg / percentile / median

const SUM: &str = "title: Possible Exfiltration\ncorrelation:\n  type: value_sum\n  rules: [web]\n  group-by: [SourceIP]\n  timespan: 1h\n  condition: {field: bytes_sent, gt: 1000}\n";

#[test]
fn value_sum_fires_on_crossing() {
    let ip = |b: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![("SourceIP", "10.0.0.1"), ("bytes_sent", b)]
    };
    let (a, b, c) = (ip("400"), ip("abc"), ip("601"));
    let mut cr = Correlator::with_options(rules(SUM), CorrelatorOptions::batch()).unwrap();
    let hits = run_with(
        &mut cr,
        &[M("web", 0, &a), M("web", 1, &b), M("web", 2, &c)],
    );
    assert_eq!(hits.len(), 1);
    assert!(close(hits[0].value, 1001.0));
    assert_eq!(hits[0].event_count, 3);
    assert_eq!(cr.stats().missing_value, 1, "non-numeric value counted");
}

#[test]
fn value_sum_out_of_window_or_split_groups() {
    let a: &[(&str, &str)] = &[("SourceIP", "10.0.0.1"), ("bytes_sent", "600")];
    let b: &[(&str, &str)] = &[("SourceIP", "10.0.0.2"), ("bytes_sent", "600")];
    assert!(run_yaml(SUM, &[M("web", 0, a), M("web", 3601, a)]).is_empty());
    assert!(run_yaml(SUM, &[M("web", 0, a), M("web", 1, b)]).is_empty());
    assert_eq!(run_yaml(SUM, &[M("web", 0, a), M("web", 3600, a)]).len(), 1);
}

#[test]
fn value_sum_numbers_from_typed_fields() {
    let mut c = Correlator::with_options(rules(SUM), CorrelatorOptions::batch()).unwrap();
    let mut out = Vec::new();
    for (i, n) in [700i64, 400].into_iter().enumerate() {
        let mut e = ev(&[("SourceIP", "10.0.0.1")]);
        e.push("bytes_sent", n);
        c.observe("web", None, &e, t(i as i64), &mut out);
    }
    c.flush(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].value, 1100.0);
}

fn values_yaml(kind: &str, extra: &str, cond: &str) -> String {
    format!("title: {kind}\ncorrelation:\n  type: {kind}\n  rules: [r]\n  group-by: [host]\n  timespan: 1h\n  condition: {{field: v, {extra}{cond}}}\n")
}

fn values(
    host: &'static str,
    at: i64,
    vs: &[&'static str],
) -> Vec<(i64, Vec<(&'static str, &'static str)>)> {
    vs.iter()
        .enumerate()
        .map(|(i, v)| (at + i as i64, vec![("host", host), ("v", *v)]))
        .collect()
}

fn run_values(
    yaml: &str,
    evs: &[(i64, Vec<(&'static str, &'static str)>)],
) -> Vec<taishi_correlation::CorrelationHit> {
    let ms: Vec<M> = evs.iter().map(|(s, f)| M("r", *s, f)).collect();
    run_yaml(yaml, &ms)
}

#[test]
fn value_avg_arithmetic_and_windows() {
    let yaml = values_yaml("value_avg", "", "gt: 250");
    let hits = run_values(&yaml, &values("h", 0, &["100", "200", "600"]));
    assert_eq!(hits.len(), 1);
    assert!(close(hits[0].value, 300.0));
    assert_eq!(hits[0].event_count, 3);
    // Average 250 is not above 250.
    assert!(run_values(&yaml, &values("h", 0, &["100", "400"])).is_empty());
    // Out of window: the 900 is in the first hour, the 100s in the next, so
    // neither window averages above 250 with the other's values... and the
    // first window alone does.
    let mut evs = values("h", 0, &["300"]);
    evs.extend(values("h", 4000, &["100", "100"]));
    let hits = run_values(&yaml, &evs);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 300.0);
    // Split groups do not average together.
    let mut evs = values("a", 0, &["500"]);
    evs.extend(values("b", 0, &["100"]));
    let yaml = values_yaml("value_avg", "", "lt: 400");
    let hits = run_values(&yaml, &evs);
    assert_eq!(hits.len(), 1);
    assert_eq!(group(&hits[0]), [("host", "b")]);
}

#[test]
fn value_percentile_arithmetic() {
    let nums: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
    let leaked: Vec<&'static str> = nums
        .into_iter()
        .map(|s| &*Box::leak(s.into_boxed_str()))
        .collect();
    let evs = values("h", 0, &leaked);
    let hits = run_values(
        &values_yaml("value_percentile", "percentile: 95, ", "gt: 95"),
        &evs,
    );
    assert_eq!(hits.len(), 1);
    // Rank 0.95 × 99 = 94.05 → 95 + 0.05 × (96 − 95).
    assert!(close(hits[0].value, 95.05), "{}", hits[0].value);
    assert!(run_values(
        &values_yaml("value_percentile", "percentile: 95, ", "gt: 95.1"),
        &evs
    )
    .is_empty());
    let hits = run_values(
        &values_yaml("value_percentile", "percentile: 0, ", "gte: 1"),
        &evs,
    );
    assert_eq!(hits[0].value, 1.0);
    let hits = run_values(
        &values_yaml("value_percentile", "percentile: 100, ", "gte: 1"),
        &evs,
    );
    assert_eq!(hits[0].value, 100.0);
    // Out of window and wrong group: a lone 1000 elsewhere does not lift
    // this group's percentile.
    let mut evs = values("h", 0, &["1", "2", "3"]);
    evs.extend(values("h", 4000, &["1000"]));
    evs.extend(values("other", 0, &["1000"]));
    let hits = run_values(
        &values_yaml("value_percentile", "percentile: 90, ", "gt: 500"),
        &evs,
    );
    let got: Vec<_> = hits.iter().map(|h| (group(h)[0].1, h.value)).collect();
    assert_eq!(got, [("other", 1000.0), ("h", 1000.0)]);
}

#[test]
fn value_median_arithmetic() {
    let yaml = values_yaml("value_median", "", "gte: 0");
    let hits = run_values(&yaml, &values("h", 0, &["4", "1", "3", "2"]));
    assert_eq!(hits[0].value, 2.5);
    let hits = run_values(&yaml, &values("h", 0, &["5", "1", "3"]));
    assert_eq!(hits[0].value, 3.0);
    // Non-numeric values are left out (and counted).
    let hits = run_values(&yaml, &values("h", 0, &["5", "x", "1"]));
    assert_eq!(hits[0].value, 3.0);
    assert_eq!(hits[0].event_count, 3);
    // Only non-numeric values: no median, no hit.
    assert!(run_values(&yaml, &values("h", 0, &["x"])).is_empty());
}

#[test]
fn spec_value_percentile_example_runs() {
    // The spec's example aggregates `image`, which is text: nothing to take
    // a percentile of, so no hit, and the values are counted as missing.
    let yaml = "title: rare\ncorrelation:\n  type: value_percentile\n  rules: [process_creation]\n  group-by: [ComputerName]\n  timespan: 24h\n  condition: {field: image, lte: 1}\n";
    let mut c = Correlator::with_options(rules(yaml), CorrelatorOptions::batch()).unwrap();
    let f: &[(&str, &str)] = &[("ComputerName", "ws1"), ("image", "C:\\x.exe")];
    assert!(run_with(&mut c, &[M("process_creation", 0, f)]).is_empty());
    assert_eq!(c.stats().missing_value, 1);
}

// ---------------------------------------------------------------- aliases

const ALIASES: &str = r#"
title: error then connection
id: alias-1
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
"#;

#[test]
fn aliases_join_different_fields() {
    let err: &[(&str, &str)] = &[("destination.ip", "10.0.0.5"), ("source.ip", "203.0.113.9")];
    let conn: &[(&str, &str)] = &[("source.ip", "10.0.0.5"), ("destination.ip", "203.0.113.9")];
    let hits = run_yaml(
        ALIASES,
        &[
            M("internal_error", 0, err),
            M("new_network_connection", 5, conn),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(
        group(&hits[0]),
        [("internal_ip", "10.0.0.5"), ("remote_ip", "203.0.113.9")]
    );
    // The same addresses in the same fields (not swapped) are another pair.
    assert!(run_yaml(
        ALIASES,
        &[
            M("internal_error", 0, err),
            M("new_network_connection", 5, err)
        ]
    )
    .is_empty());
    // Outside 10 s.
    assert!(run_yaml(
        ALIASES,
        &[
            M("internal_error", 0, err),
            M("new_network_connection", 11, conn)
        ]
    )
    .is_empty());
}

#[test]
fn aliases_by_name_when_rules_are_listed_by_id() {
    let yaml = "title: x\ncorrelation:\n  type: temporal\n  rules: [id-1, id-2]\n  group-by: [ip]\n  timespan: 1m\n  aliases:\n    ip: {rule_one: src, rule_two: dst}\n";
    let mut c = Correlator::with_options(rules(yaml), CorrelatorOptions::batch()).unwrap();
    let mut out = Vec::new();
    c.observe(
        "id-1",
        Some("rule_one"),
        &ev(&[("src", "1.2.3.4")]),
        t(0),
        &mut out,
    );
    c.observe(
        "id-2",
        Some("rule_two"),
        &ev(&[("dst", "1.2.3.4")]),
        t(1),
        &mut out,
    );
    c.flush(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(group(&out[0]), [("ip", "1.2.3.4")]);
}

// ---------------------------------------------------------------- chaining and generate

const FAILED_THEN_SUCCESS: &str = r#"
title: Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
level: high
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
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
"#;

fn failures(user: &'static str, from: i64, n: i64) -> Vec<M<'static>> {
    let f: &'static [(&str, &str)] = Box::leak(vec![("User", user)].into_boxed_slice());
    (0..n).map(|i| M("failed_login", from + i * 5, f)).collect()
}

#[test]
fn chained_spec_example_fires() {
    let mut ms = failures("alice", 0, 10);
    ms.push(M("successful_login", 120, &[("User", "alice")]));
    let mut c =
        Correlator::with_options(rules(FAILED_THEN_SUCCESS), CorrelatorOptions::batch()).unwrap();
    let hits = run_with(&mut c, &ms);
    assert_eq!(hits.len(), 1, "{hits:?}");
    let h = &hits[0];
    assert_eq!(
        h.rule.title,
        "Multiple Failed Logins Followed by Successful Login"
    );
    assert_eq!(group(h), [("User", "alice")]);
    assert_eq!((h.first, h.last), (t(45), t(120)));
    assert_eq!(
        h.matched_rules,
        ["multiple_failed_login", "successful_login"]
    );
    let s = c.stats();
    assert_eq!(
        (s.hits, s.suppressed_hits),
        (2, 1),
        "the inner hit is not reported"
    );
}

#[test]
fn chained_spec_example_does_not_fire_otherwise() {
    // Success before the failures.
    let mut ms = vec![M("successful_login", 0, &[("User", "alice")])];
    ms.extend(failures("alice", 10, 10));
    assert!(run_yaml(FAILED_THEN_SUCCESS, &ms).is_empty());
    // Nine failures only.
    let mut ms = failures("alice", 0, 9);
    ms.push(M("successful_login", 120, &[("User", "alice")]));
    assert!(run_yaml(FAILED_THEN_SUCCESS, &ms).is_empty());
    // Another user's success.
    let mut ms = failures("alice", 0, 10);
    ms.push(M("successful_login", 120, &[("User", "bob")]));
    assert!(run_yaml(FAILED_THEN_SUCCESS, &ms).is_empty());
    // Success more than 10 minutes after the 10th failure.
    let mut ms = failures("alice", 0, 10);
    ms.push(M("successful_login", 45 + 601, &[("User", "alice")]));
    assert!(run_yaml(FAILED_THEN_SUCCESS, &ms).is_empty());
}

#[test]
fn generate_true_reports_the_inner_hits_too() {
    let yaml = FAILED_THEN_SUCCESS.replace("level: high\n", "level: high\ngenerate: true\n");
    let mut ms = failures("alice", 0, 10);
    ms.push(M("successful_login", 120, &[("User", "alice")]));
    let hits = run_yaml(&yaml, &ms);
    let titles: Vec<&str> = hits.iter().map(|h| h.rule.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Multiple failed logons",
            "Multiple Failed Logins Followed by Successful Login"
        ]
    );
}

#[test]
fn generate_api() {
    let rs = rules(FAILED_THEN_SUCCESS);
    let c = Correlator::new(rs).unwrap();
    assert!(c.is_referenced("53ba33fd-3a50-4468-a5ef-c583635cfa92", Some("failed_login")));
    assert!(!c.should_generate("53ba33fd-3a50-4468-a5ef-c583635cfa92", Some("failed_login")));
    assert!(c.is_referenced("x", Some("successful_login")));
    assert!(!c.is_referenced("unrelated", Some("other")));
    assert!(c.should_generate("unrelated", Some("other")));
    assert!(c.should_generate("unrelated", None));
    // The inner correlation itself: referenced by name, so the caller passes
    // both id and name (by id alone it looks unreferenced).
    assert!(!c.should_generate(
        "a8418a5a-5fc4-46b5-b23b-6c73beb19d41",
        Some("multiple_failed_login")
    ));
    assert!(c.should_generate("a8418a5a-5fc4-46b5-b23b-6c73beb19d41", None));
    // Referenced by one correlation with generate false and one with true.
    let a = "title: a\ncorrelation:\n  type: temporal\n  rules: [base]\n  timespan: 1m\n";
    let b = "title: b\ncorrelation:\n  type: temporal\n  rules: [base]\n  timespan: 1m\n  generate: true\n";
    let c = Correlator::new(vec![rule(a)]).unwrap();
    assert!(!c.should_generate("base", None));
    let c = Correlator::new(vec![rule(a), rule(b)]).unwrap();
    assert!(c.should_generate("base", None));
}

#[test]
fn chained_outer_groups_by_a_field_the_inner_does_not() {
    // Inner groups by host; the outer (count of inner hits per user) needs
    // User, carried from the latest event of the inner window.
    let yaml = "title: outer\ncorrelation:\n  type: event_count\n  rules: [inner]\n  group-by: [User]\n  timespan: 1h\n  condition: {gte: 2}\n---\ntitle: inner\nname: inner\ncorrelation:\n  type: event_count\n  rules: [failed]\n  group-by: [host]\n  timespan: 1m\n  condition: {gte: 2}\n";
    let hits = run_yaml(
        yaml,
        &[
            M("failed", 0, &[("host", "a"), ("User", "eve")]),
            M("failed", 1, &[("host", "a"), ("User", "eve")]),
            M("failed", 10, &[("host", "b"), ("User", "eve")]),
            M("failed", 11, &[("host", "b"), ("User", "eve")]),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(group(&hits[0]), [("User", "eve")]);
    assert_eq!(hits[0].matched_rules, ["inner"]);
    assert_eq!(hits[0].value, 2.0);
}

#[test]
fn chained_window_end_inner_feeds_outer_in_time_order() {
    // Inner: a host with fewer than 2 heartbeats in a minute (decided at
    // window end); outer: such a quiet host followed by a login on it.
    let yaml = "title: quiet then login\ncorrelation:\n  type: temporal_ordered\n  rules: [quiet, login]\n  group-by: [host]\n  timespan: 10m\n---\ntitle: quiet\nname: quiet\ncorrelation:\n  type: event_count\n  rules: [hb]\n  group-by: [host]\n  timespan: 1m\n  condition: {lt: 2}\n";
    let h: &[(&str, &str)] = &[("host", "a")];
    // The quiet window ends at 60; the login at 90 follows it.
    assert_eq!(run_yaml(yaml, &[M("hb", 0, h), M("login", 90, h)]).len(), 1);
    // A login at 30 is before the window was decided: not "after".
    assert!(run_yaml(yaml, &[M("hb", 0, h), M("login", 30, h)]).is_empty());
}

// ---------------------------------------------------------------- memory and input order

#[test]
fn bounded_memory_many_groups() {
    let opts = CorrelatorOptions {
        max_groups: 100,
        max_lateness: Some(std::time::Duration::ZERO),
        ..CorrelatorOptions::default()
    };
    let mut c = Correlator::with_options(rules(EVENT_COUNT), opts).unwrap();
    let mut out = Vec::new();
    for i in 0..10_000 {
        let user = format!("user{i}");
        c.observe(
            "failed",
            None,
            &ev(&[("User", &user)]),
            t(i / 100),
            &mut out,
        );
        assert!(c.stats().groups <= 100);
    }
    let s = c.stats();
    assert!(s.evicted_groups >= 9_900, "{s:?}");
    c.flush(&mut out);
    assert!(out.is_empty());
    assert_eq!(c.stats().groups, 0);
}

#[test]
fn expired_groups_are_dropped_as_time_moves() {
    let mut c = Correlator::new(rules(EVENT_COUNT)).unwrap();
    let mut out = Vec::new();
    // One new user per second for 2 hours: with a 5-minute window only the
    // recent few hundred groups stay alive.
    for i in 0..7200 {
        let user = format!("user{i}");
        c.observe("failed", None, &ev(&[("User", &user)]), t(i), &mut out);
    }
    let s = c.stats();
    assert!(s.groups <= 2 * 300 + 60 + 2, "{s:?}");
    assert_eq!(s.evicted_groups, 0);
}

#[test]
fn entries_per_group_are_capped() {
    let opts = CorrelatorOptions {
        max_entries_per_group: 50,
        ..CorrelatorOptions::batch()
    };
    let yaml = values_yaml("value_median", "", "gte: 0");
    let mut c = Correlator::with_options(rules(&yaml), opts).unwrap();
    let evs = values("h", 0, &["1"; 80]);
    let ms: Vec<M> = evs.iter().map(|(s, f)| M("r", *s, f)).collect();
    let hits = run_with(&mut c, &ms);
    assert_eq!(hits.len(), 1);
    assert_eq!(c.stats().truncated_entries, 30);
}

#[test]
fn missing_group_field_is_counted() {
    let mut c = Correlator::with_options(rules(EVENT_COUNT), CorrelatorOptions::batch()).unwrap();
    assert!(run_with(&mut c, &[M("failed", 0, &[("user", "lowercase")])]).is_empty());
    assert_eq!(c.stats().missing_group_field, 1);
}

#[test]
fn streaming_hits_come_once_the_tolerance_has_passed() {
    let mut c = Correlator::new(rules(EVENT_COUNT)).unwrap(); // 60 s tolerance
    let mut out = Vec::new();
    for s in [0, 10, 20] {
        c.observe("failed", None, &ev(&[("User", "alice")]), t(s), &mut out);
    }
    assert!(out.is_empty(), "still inside the reorder tolerance");
    assert_eq!(c.stats().buffered, 3);
    c.observe(
        "other_rule_not_referenced",
        None,
        &ev(&[]),
        t(500),
        &mut out,
    );
    assert!(out.is_empty(), "unreferenced rules do not move time");
    c.observe("failed", None, &ev(&[("User", "bob")]), t(81), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(c.stats().buffered, 1);
}

#[test]
fn hit_as_event_and_json() {
    let hits = run_yaml(
        EVENT_COUNT,
        &[
            M("failed", 0, &[("User", "alice")]),
            M("failed", 1, &[("User", "alice")]),
            M("failed", 2, &[("User", "alice")]),
        ],
    );
    let e = hits[0].to_event();
    assert_eq!(e.get_str("User"), Some("alice"));
    assert_eq!(e.timestamp, Some(t(2)));
    let j = hits[0].to_json();
    assert_eq!(j["title"], "brute force");
    assert_eq!(j["level"], "high");
    assert_eq!(j["group"]["User"], "alice");
    assert_eq!(j["first"], "2024-03-01T10:00:00+08:00");
    assert_eq!(j["value"], 3.0);
}
