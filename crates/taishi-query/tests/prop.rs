//! Properties: the parser never panics; printing an AST and parsing it back
//! gives the same AST; a parsed query compiles and runs without panicking.

use chrono::DateTime;
use proptest::prelude::*;
use taishi_event::{Event, Value};
use taishi_query::ast::*;
use taishi_query::{parse, Query};

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z_][a-zA-Z0-9_.]{0,10}",
        1 => Just("id.orig_h".to_string()),
        1 => prop::sample::select(vec!["and", "OR", "not", "to", "by", "as", "_exists_", "-x", "+y"]).prop_map(String::from),
        1 => "[a-z][ :()\\[\\]{}\"\\\\*?|,<>=+\\-]{1,4}[a-z]",
        1 => "\\PC{1,6}",
    ]
    .prop_filter("@timestamp takes times", |f| f != TIMESTAMP)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9.@_\\-]{1,10}",
        1 => "\\PC{0,10}",
        1 => ".{0,6}",
        1 => prop::sample::select(vec!["AND", "or", "Not", "TO", "*", "?", "-", "10.0.0.0/8", "\"", "\\"]).prop_map(String::from),
    ]
}

fn pattern() -> impl Strategy<Value = Pattern> {
    let glob = prop::collection::vec(
        prop_oneof![
            2 => "\\PC{1,5}".prop_map(GlobPart::Literal),
            1 => Just(GlobPart::Any),
            1 => Just(GlobPart::One),
        ],
        1..6,
    )
    .prop_map(|parts| {
        // One literal between wildcards, as the parser builds them.
        let mut out: Vec<GlobPart> = Vec::new();
        for p in parts {
            match (out.last_mut(), p) {
                (Some(GlobPart::Literal(a)), GlobPart::Literal(b)) => a.push_str(&b),
                (_, p) => out.push(p),
            }
        }
        out
    })
    .prop_filter(
        "a wildcard pattern has a wildcard and is not the bare '*'",
        |p| p.iter().any(|x| !matches!(x, GlobPart::Literal(_))) && p != &[GlobPart::Any],
    );
    prop_oneof![
        text().prop_map(Pattern::Exact),
        glob.prop_map(Pattern::Wildcard)
    ]
}

fn bound() -> impl Strategy<Value = Bound> {
    prop_oneof![
        Just(Bound::Unbounded),
        text().prop_map(Bound::Included),
        text().prop_map(Bound::Excluded),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(Expr::All),
        field().prop_map(|field| Expr::Exists { field }),
        (field(), pattern()).prop_map(|(field, value)| Expr::Match { field, value }),
        (field(), bound(), bound()).prop_map(|(field, lower, upper)| Expr::Range {
            field,
            lower,
            upper
        }),
        (
            field(),
            prop::sample::select(vec![
                "10.0.0.0/8",
                "192.168.1.0/24",
                "fe80::/10",
                "2001:db8::/32"
            ])
        )
            .prop_map(|(field, n)| Expr::Cidr {
                field,
                network: n.into()
            }),
        pattern().prop_map(|value| Expr::Text { value }),
    ]
}

/// ASTs in the parser's normal form: `And`/`Or` of two or more, never
/// directly nesting their own kind.
fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|xs| {
                Expr::And(
                    xs.into_iter()
                        .flat_map(|x| match x {
                            Expr::And(v) => v,
                            x => vec![x],
                        })
                        .collect(),
                )
            }),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|xs| {
                Expr::Or(
                    xs.into_iter()
                        .flat_map(|x| match x {
                            Expr::Or(v) => v,
                            x => vec![x],
                        })
                        .collect(),
                )
            }),
            inner.prop_map(|x| Expr::Not(Box::new(x))),
        ]
    })
}

fn agg() -> impl Strategy<Value = Agg> {
    (
        prop::sample::select(vec![
            AggFunc::Count,
            AggFunc::DistinctCount,
            AggFunc::Sum,
            AggFunc::Avg,
            AggFunc::Min,
            AggFunc::Max,
        ]),
        prop::option::of(field()),
        prop::option::of(field()),
    )
        .prop_map(|(func, f, alias)| Agg {
            func,
            field: if func == AggFunc::Count {
                f
            } else {
                Some(f.unwrap_or_else(|| "x".into()))
            },
            alias,
        })
}

fn stage() -> impl Strategy<Value = Stage> {
    let fields = || prop::collection::vec(field(), 1..3);
    prop_oneof![
        (
            prop::collection::vec(agg(), 1..3),
            prop::collection::vec(field(), 0..3)
        )
            .prop_map(|(aggs, by)| Stage::Stats { aggs, by }),
        (0usize..1000, fields(), any::<bool>()).prop_map(|(limit, fields, rare)| Stage::Top {
            limit,
            fields,
            rare
        }),
        (
            prop::option::of(prop::sample::select(vec![
                1u64, 30, 60, 90, 300, 3600, 5400, 86_400, 604_800
            ])),
            prop::collection::vec(agg(), 1..3),
            prop::option::of(field())
        )
            .prop_map(|(interval_secs, aggs, by)| Stage::Timechart {
                interval_secs,
                aggs,
                by
            }),
        prop::collection::vec((field(), any::<bool>()), 1..3).prop_map(|ks| Stage::Sort(
            ks.into_iter()
                .map(|(field, descending)| SortKey { field, descending })
                .collect()
        )),
        (0usize..100_000).prop_map(Stage::Head),
        (0usize..100_000).prop_map(Stage::Tail),
        fields().prop_map(Stage::Fields),
        expr().prop_map(Stage::Where),
    ]
}

fn sample_event() -> Event {
    let mut e = Event::new();
    e.timestamp = Some(DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z").unwrap());
    e.push("a", "x");
    e.push("id.orig_h", "10.1.2.3");
    e.push("n", 5u64);
    e.push("arr", Value::from(vec!["p", "q"]));
    e
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics(s in "\\PC{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn parser_never_panics_on_query_soup(
        toks in prop::collection::vec(
            prop::sample::select(vec![
                "a", ":", "b", "\"", "\\", "(", ")", "[", "]", "{", "}", " TO ", " AND ", " OR ", "NOT ",
                "-", "+", "*", "?", ">", "<", "=", "|", " stats ", "count()", " by ", ",", " top ", "5",
                " timechart ", "1h", " sort ", " head ", " where ", " ", "@timestamp", "now-1h", "10.0.0.0/8",
                "_exists_", "dc(", "as",
            ]),
            0..20,
        )
    ) {
        let q = toks.concat();
        if let Ok(ast) = parse(&q) {
            // Whatever parsed prints back to the same AST, and runs.
            let printed = ast.to_string();
            let again = parse(&printed);
            prop_assert_eq!(again.as_ref(), Ok(&ast), "{} printed as {}", q, printed);
            let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap();
            let compiled = Query::compile(ast, now);
            prop_assert!(compiled.is_ok(), "{}: {:?}", q, compiled.err());
            if let Ok(query) = compiled {
                let _ = query.execute(vec![sample_event(), Event::new()]);
            }
        }
    }

    #[test]
    fn printed_ast_parses_back(filter in expr(), stages in prop::collection::vec(stage(), 0..3)) {
        let ast = Search { filter, stages };
        let printed = ast.to_string();
        let back = parse(&printed);
        // A sort or fields after an aggregation naming a column the table
        // lacks is refused as text too.
        if taishi_query::ast::check_columns(&ast).is_err() {
            prop_assert!(back.is_err(), "printed as {}", printed);
        } else {
            prop_assert_eq!(back.as_ref(), Ok(&ast), "printed as {}", printed);
        }
    }

    #[test]
    fn generated_queries_compile_and_run(filter in expr(), stages in prop::collection::vec(stage(), 0..3)) {
        let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap();
        let ast = Search { filter, stages };
        if taishi_query::ast::check_columns(&ast).is_err() {
            prop_assert!(Query::compile(ast, now).is_err());
        } else {
            let q = Query::compile(ast, now).unwrap();
            let _ = q.execute(vec![sample_event(), Event::new(), sample_event()]);
        }
    }

    #[test]
    fn ast_json_round_trips(filter in expr(), stages in prop::collection::vec(stage(), 0..3)) {
        let ast = Search { filter, stages };
        let json = serde_json::to_string(&ast).unwrap();
        let back: Search = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, ast);
    }
}
