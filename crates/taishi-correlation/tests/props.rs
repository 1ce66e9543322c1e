//! Property tests: input order within the reorder tolerance never changes
//! the result, and the order-independent types give the same hits for any
//! permutation of events inside one window.

mod common;
use common::*;
use proptest::prelude::*;
use taishi_correlation::{CorrelationHit, CorrelationRule, Correlator, CorrelatorOptions};

/// Every type, a range, an upper bound and a chain, over rules a/b/c.
const ALL_TYPES: &str = r#"
title: ec
correlation: {type: event_count, rules: [a, b], group-by: [User], timespan: 60s, condition: {gte: 3}}
---
title: ec-range
correlation: {type: event_count, rules: [a], group-by: [User], timespan: 60s, condition: {gt: 1, lte: 4}}
---
title: vc
correlation: {type: value_count, rules: [a, c], group-by: [User], timespan: 60s, condition: {field: v, gte: 3}}
---
title: tmp
name: tmp
correlation: {type: temporal, rules: [a, b, c], group-by: [User], timespan: 60s}
---
title: ord
correlation: {type: temporal_ordered, rules: [a, b, c], group-by: [User], timespan: 60s}
---
title: sum
correlation: {type: value_sum, rules: [b], group-by: [User], timespan: 60s, condition: {field: v, gt: 150}}
---
title: avg
correlation: {type: value_avg, rules: [a, b, c], group-by: [User], timespan: 60s, condition: {field: v, lt: 40}}
---
title: p90
correlation: {type: value_percentile, rules: [c], timespan: 60s, condition: {field: v, percentile: 90, gte: 50}}
---
title: median
correlation: {type: value_median, rules: [a], group-by: [User], timespan: 60s, condition: {field: v, gt: 20}}
---
title: chained
correlation: {type: event_count, rules: [tmp], timespan: 5m, condition: {gte: 2}}
"#;

#[derive(Debug, Clone)]
struct Ev {
    rule: usize,
    user: usize,
    v: u32,
    ts: i64,
}

const RULES: [&str; 3] = ["a", "b", "c"];
const USERS: [&str; 3] = ["u0", "u1", "u2"];

type Summary = (
    String,
    Vec<(String, String)>,
    i64,
    i64,
    String,
    usize,
    Vec<String>,
);

fn summary(h: &CorrelationHit) -> Summary {
    (
        h.rule.title.clone(),
        h.group.clone(),
        h.first.timestamp(),
        h.last.timestamp(),
        format!("{:.6}", h.value),
        h.event_count,
        h.matched_rules.clone(),
    )
}

fn feed(rs: &[CorrelationRule], opts: CorrelatorOptions, evs: &[Ev]) -> (Vec<Summary>, u64) {
    let mut c = Correlator::with_options(rs.to_vec(), opts).unwrap();
    let mut out = Vec::new();
    for e in evs {
        let v = e.v.to_string();
        let event = ev(&[("User", USERS[e.user]), ("v", &v)]);
        c.observe(RULES[e.rule], None, &event, t(e.ts), &mut out);
    }
    c.flush(&mut out);
    (out.iter().map(summary).collect(), c.stats().late_dropped)
}

/// Events with distinct, increasing timestamps (1–40 s apart).
fn events(max: usize) -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec((0..3usize, 0..3usize, 0..100u32, 1..40i64), 1..max).prop_map(|v| {
        let mut ts = 0;
        v.into_iter()
            .map(|(rule, user, val, d)| {
                ts += d;
                Ev {
                    rule,
                    user,
                    v: val,
                    ts,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Batch mode: any arrival order gives exactly the hits of time order.
    #[test]
    fn arrival_order_does_not_matter_in_batch_mode(
        evs in events(80),
        seed in any::<u64>(),
    ) {
        let rs = rules(ALL_TYPES);
        let (sorted, _) = feed(&rs, CorrelatorOptions::batch(), &evs);
        let mut shuffled = evs.clone();
        shuffle(&mut shuffled, seed);
        let (got, late) = feed(&rs, CorrelatorOptions::batch(), &shuffled);
        prop_assert_eq!(late, 0);
        prop_assert_eq!(got, sorted);
    }

    /// Streaming: disorder within `max_lateness` gives the same hits as
    /// time order, with nothing dropped.
    #[test]
    fn disorder_within_tolerance_does_not_matter(
        evs in events(80),
        jitter in prop::collection::vec(0..30i64, 80),
    ) {
        let rs = rules(ALL_TYPES);
        let opts = CorrelatorOptions {
            max_lateness: Some(std::time::Duration::from_secs(30)),
            ..CorrelatorOptions::default()
        };
        let (sorted, _) = feed(&rs, opts.clone(), &evs);
        let mut arrival = evs.clone();
        // Arrival time = event time + up to 30 s of delay.
        let mut keyed: Vec<(i64, usize, Ev)> = arrival
            .drain(..)
            .enumerate()
            .map(|(i, e)| (e.ts + jitter[i % jitter.len()], i, e))
            .collect();
        keyed.sort_by_key(|(k, i, _)| (*k, *i));
        let arrival: Vec<Ev> = keyed.into_iter().map(|(_, _, e)| e).collect();
        let (got, late) = feed(&rs, opts, &arrival);
        prop_assert_eq!(late, 0);
        prop_assert_eq!(got, sorted);
    }

    /// Inside one window, which event carries which timestamp does not
    /// matter to event_count (the count per group is all it sees) nor to
    /// the window-end types (avg, median, percentile, upper bounds): same
    /// hits, same values.
    #[test]
    fn order_independent_types_within_one_window(
        evs in prop::collection::vec((0..3usize, 0..3usize, 0..100u32), 1..60),
        seed in any::<u64>(),
    ) {
        let yaml = r#"
title: ec
correlation: {type: event_count, rules: [a, b, c], group-by: [User], timespan: 5m, condition: {gte: 4}}
---
title: avg
correlation: {type: value_avg, rules: [a, b, c], group-by: [User], timespan: 5m, condition: {field: v, gt: 45}}
---
title: median
correlation: {type: value_median, rules: [a, b], timespan: 5m, condition: {field: v, lte: 60}}
---
title: p75
correlation: {type: value_percentile, rules: [a, b, c], group-by: [User], timespan: 5m, condition: {field: v, percentile: 75, gte: 30}}
---
title: sum-range
correlation: {type: value_sum, rules: [a, b, c], group-by: [User], timespan: 5m, condition: {field: v, gt: 50, lt: 400}}
---
title: vc-upper
correlation: {type: value_count, rules: [a, b, c], group-by: [User], timespan: 5m, condition: {field: v, lte: 5}}
---
title: tmp-not-all
correlation: {type: temporal, rules: [a, b, c], group-by: [User], timespan: 5m, condition: {lt: 3}}
"#;
        let rs = rules(yaml);
        // Timestamps 0..n seconds: all within one 5-minute window.
        let base: Vec<Ev> = evs
            .iter()
            .enumerate()
            .map(|(i, &(rule, user, v))| Ev { rule, user, v, ts: i as i64 })
            .collect();
        let mut permuted = base.clone();
        let mut times: Vec<i64> = permuted.iter().map(|e| e.ts).collect();
        shuffle(&mut times, seed);
        for (e, ts) in permuted.iter_mut().zip(times) {
            e.ts = ts;
        }
        // event_count promises the count, not which rules the first
        // threshold-worth of events came from.
        let key = |s: Vec<Summary>| {
            let mut v: Vec<_> = s
                .into_iter()
                .map(|(t, g, _, _, val, n, m)| {
                    let m = if t == "ec" { Vec::new() } else { m };
                    (t, g, val, n, m)
                })
                .collect();
            v.sort();
            v
        };
        let (a, _) = feed(&rs, CorrelatorOptions::batch(), &base);
        let (b, _) = feed(&rs, CorrelatorOptions::batch(), &permuted);
        prop_assert_eq!(key(a), key(b));
    }

    /// Threshold types fire at least once exactly when the whole window
    /// satisfies the condition (whatever the order that got there).
    #[test]
    fn threshold_types_fire_iff_the_window_satisfies(
        evs in prop::collection::vec((0..3usize, 0..6u32), 1..30),
    ) {
        let yaml = r#"
title: vc
correlation: {type: value_count, rules: [a, b, c], timespan: 5m, condition: {field: v, gte: 4}}
---
title: tmp
correlation: {type: temporal, rules: [a, b, c], timespan: 5m}
---
title: sum
correlation: {type: value_sum, rules: [a, b, c], timespan: 5m, condition: {field: v, gte: 40}}
"#;
        let full: Vec<Ev> = evs
            .iter()
            .enumerate()
            .map(|(i, &(rule, v))| Ev { rule, user: 0, v, ts: i as i64 })
            .collect();
        let (hits, _) = feed(&rules(yaml), CorrelatorOptions::batch(), &full);
        let distinct: std::collections::BTreeSet<u32> = full.iter().map(|e| e.v).collect();
        let rules_seen: std::collections::BTreeSet<usize> = full.iter().map(|e| e.rule).collect();
        let sum: u32 = full.iter().map(|e| e.v).sum();
        let fired = |t: &str| hits.iter().any(|h| h.0 == t);
        prop_assert_eq!(fired("vc"), distinct.len() >= 4);
        prop_assert_eq!(fired("tmp"), rules_seen.len() == 3);
        prop_assert_eq!(fired("sum"), sum >= 40);
    }
}

/// A small deterministic Fisher–Yates (xorshift), so failures replay.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    seed |= 1;
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}
