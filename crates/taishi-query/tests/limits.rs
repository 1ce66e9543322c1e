//! Depth and clause limits: hostile queries are refused with a typed error
//! naming the limit and where it was crossed, and every walk over the
//! deepest AST the limits allow fits an ordinary 2 MiB thread stack.

use chrono::DateTime;
use proptest::prelude::*;
use taishi_event::Event;
use taishi_query::ast::{check_limits, Expr, Search};
use taishi_query::{parse, parse_with, ErrorKind, Limits, Query, MAX_DEPTH_CEILING};

fn kind(text: &str) -> ErrorKind {
    parse(text).expect_err("the query should be refused").kind
}

#[test]
fn deep_parentheses_are_refused_not_a_crash() {
    let q = format!("{}a{}", "(".repeat(2_000), ")".repeat(2_000));
    let e = parse(&q).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooDeep { limit: 64 });
    assert_eq!(e.column, Some(65), "the column of the first '(' too deep");
    assert!(
        e.message.contains("64") && e.message.contains("max_depth"),
        "{e}"
    );
}

#[test]
fn long_prefix_chains_are_refused() {
    assert_eq!(
        kind(&format!("{}a", "-".repeat(100_000))),
        ErrorKind::TooDeep { limit: 64 }
    );
    assert_eq!(
        kind(&format!("{}a", "+".repeat(100_000))),
        ErrorKind::TooDeep { limit: 64 }
    );
    assert_eq!(
        kind(&format!("{}a", "NOT ".repeat(50_000))),
        ErrorKind::TooDeep { limit: 64 }
    );
    assert_eq!(
        kind(&format!("f:{}a{}", "(".repeat(5_000), ")".repeat(5_000))),
        ErrorKind::TooDeep { limit: 64 }
    );
    assert_eq!(
        kind(&format!(
            "* | where {}a{}",
            "(".repeat(5_000),
            ")".repeat(5_000)
        )),
        ErrorKind::TooDeep { limit: 64 }
    );
}

#[test]
fn nesting_up_to_the_limit_parses() {
    // 63 parentheses around a term: the term is at depth 64.
    let q = format!("{}a{}", "(".repeat(63), ")".repeat(63));
    parse(&q).unwrap();
    let q = format!("{}a", "NOT ".repeat(63));
    parse(&q).unwrap();
    let q = format!("{}a", "NOT ".repeat(64));
    assert_eq!(kind(&q), ErrorKind::TooDeep { limit: 64 });
}

#[test]
fn too_many_terms_are_refused() {
    let terms: Vec<String> = (0..20_000).map(|i| format!("*w{i}*")).collect();
    let e = parse(&terms.join(" OR ")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyClauses { limit: 1024 });
    assert!(e.message.contains("max_clauses"), "{e}");
    // The column is the first term past the limit.
    let col = e.column.unwrap();
    let text = terms.join(" OR ");
    let at: String = text.chars().skip(col - 1).take(6).collect();
    assert_eq!(at, "*w1024");

    parse(&terms[..1024].join(" OR ")).unwrap();
    // Values in a field group count too, and so do stage items.
    let group = format!("f:({})", terms[..1025].join(" OR "));
    assert_eq!(kind(&group), ErrorKind::TooManyClauses { limit: 1024 });
    let stages = format!("a{}", " | head 1".repeat(1_100));
    assert_eq!(kind(&stages), ErrorKind::TooManyClauses { limit: 1024 });
    let fields: Vec<String> = (0..1_100).map(|i| format!("f{i}")).collect();
    assert_eq!(
        kind(&format!("a | fields {}", fields.join(", "))),
        ErrorKind::TooManyClauses { limit: 1024 }
    );
}

#[test]
fn limits_are_parameters() {
    let tight = Limits {
        max_depth: 3,
        max_clauses: 2,
    };
    assert!(parse_with("((a))", &tight).is_ok());
    assert_eq!(
        parse_with("(((a)))", &tight).unwrap_err().kind,
        ErrorKind::TooDeep { limit: 3 }
    );
    assert_eq!(
        parse_with("a b c", &tight).unwrap_err().kind,
        ErrorKind::TooManyClauses { limit: 2 }
    );
    // No configuration lifts the depth past the ceiling.
    let loose = Limits {
        max_depth: usize::MAX,
        max_clauses: usize::MAX,
    };
    let q = format!("{}a", "-".repeat(MAX_DEPTH_CEILING + 1));
    assert_eq!(
        parse_with(&q, &loose).unwrap_err().kind,
        ErrorKind::TooDeep {
            limit: MAX_DEPTH_CEILING
        }
    );
}

#[test]
fn an_ast_from_the_wire_is_checked_without_recursing() {
    let mut e = Expr::Exists { field: "a".into() };
    for _ in 0..100_000 {
        e = Expr::Not(Box::new(e));
    }
    let search = Search {
        filter: e,
        stages: Vec::new(),
    };
    let err = check_limits(&search, &Limits::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooDeep { limit: 64 });
    // Dropping a 100,000-deep Box chain would itself recurse; unwind it
    // by hand.
    let mut e = search.filter;
    while let Expr::Not(inner) = e {
        e = *inner;
    }
    let mut e = Expr::Exists { field: "a".into() };
    for _ in 0..200 {
        e = Expr::Not(Box::new(e));
    }
    let now = DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").unwrap();
    let err = Query::compile(
        Search {
            filter: e,
            stages: Vec::new(),
        },
        now,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooDeep { limit: 64 });
    let wide = Search {
        filter: Expr::Or(
            (0..5_000)
                .map(|i| Expr::Exists {
                    field: format!("f{i}"),
                })
                .collect(),
        ),
        stages: Vec::new(),
    };
    assert_eq!(
        check_limits(&wide, &Limits::default()).unwrap_err().kind,
        ErrorKind::TooManyClauses { limit: 1024 }
    );
}

/// The deepest query the ceiling allows goes through every recursive walk
/// (compile, evaluate, print, parse back, JSON both ways) on a thread with
/// the 2 MiB stack that tokio's blocking pool and `std::thread` give.
#[test]
fn the_deepest_allowed_query_fits_a_small_stack() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let limits = Limits {
                max_depth: MAX_DEPTH_CEILING,
                max_clauses: 4096,
            };
            let mut shapes = vec![
                format!(
                    "{}a:1{}",
                    "(".repeat(MAX_DEPTH_CEILING - 1),
                    ")".repeat(MAX_DEPTH_CEILING - 1)
                ),
                format!("{}a:1", "NOT ".repeat(MAX_DEPTH_CEILING - 1)),
            ];
            // Alternating AND/OR levels, which flattening cannot merge.
            let mut q = "a:1".to_string();
            for i in 0..MAX_DEPTH_CEILING - 1 {
                q = if i % 2 == 0 {
                    format!("(b{i}:x OR {q})")
                } else {
                    format!("(c{i}:y AND {q})")
                };
            }
            shapes.push(q.clone());
            shapes.push(format!("* | where {q}"));
            let now = DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").unwrap();
            let mut ev = Event::new();
            ev.push("a", 1u32);
            for text in shapes {
                let s = parse_with(&text, &limits).unwrap();
                let printed = s.to_string();
                assert_eq!(parse_with(&printed, &limits).unwrap(), s);
                let json = serde_json::to_string(&s).unwrap();
                // serde_json's own recursion limit (128) refuses the
                // deepest ASTs before they reach us; both outcomes are
                // safe.
                if let Ok(back) = serde_json::from_str::<Search>(&json) {
                    assert_eq!(back, s);
                }
                let q = Query::compile_with(s, now, &limits).unwrap();
                let _ = q.matches(&ev);
                let _ = q.execute(vec![ev.clone()]);
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the parser accepts, the AST check accepts under the same
    /// limits: a query that parsed is never refused when compiled later.
    #[test]
    fn parsed_asts_pass_the_ast_check(
        parts in prop::collection::vec(
            prop::sample::select(vec!["(", ")", "NOT ", "-", "+", "a:1 ", "b ", "OR ", "AND ", "c:(x OR y) ", "| where ", "| head 3 "]),
            0..80,
        ),
        depth in 1usize..12,
        clauses in 1usize..12,
    ) {
        let text: String = parts.concat();
        let limits = Limits { max_depth: depth, max_clauses: clauses };
        if let Ok(s) = parse_with(&text, &limits) {
            prop_assert!(check_limits(&s, &limits).is_ok(), "{text}");
        }
    }

    /// Nesting of any shape and size is refused or parsed, never a crash.
    #[test]
    fn deep_soup_never_crashes(
        unit in prop::sample::select(vec!["(", "NOT ", "-", "!", "f:(", "+", "not "]),
        n in 0usize..20_000,
    ) {
        let text = format!("{}x", unit.repeat(n));
        let _ = parse(&text);
    }
}
