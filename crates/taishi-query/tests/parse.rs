//! Parser: every construct, precedence, escaping, errors with columns.

use taishi_query::ast::*;
use taishi_query::{parse, parse_filter};

fn f(q: &str) -> Expr {
    parse_filter(q).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn m(field: &str, v: &str) -> Expr {
    Expr::Match {
        field: field.into(),
        value: Pattern::Exact(v.into()),
    }
}

fn text(v: &str) -> Expr {
    Expr::Text {
        value: Pattern::Exact(v.into()),
    }
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

fn range(field: &str, lower: Bound, upper: Bound) -> Expr {
    Expr::Range {
        field: field.into(),
        lower,
        upper,
    }
}

fn inc(s: &str) -> Bound {
    Bound::Included(s.into())
}

fn exc(s: &str) -> Bound {
    Bound::Excluded(s.into())
}

fn err(q: &str) -> String {
    match parse(q) {
        Ok(s) => panic!("{q} parsed as {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn field_values() {
    assert_eq!(f("event.code:4688"), m("event.code", "4688"));
    assert_eq!(f("id.orig_h:10.0.0.1"), m("id.orig_h", "10.0.0.1"));
    assert_eq!(f("user.name : alice"), m("user.name", "alice"));
    assert_eq!(f("user.name: alice"), m("user.name", "alice"));
    assert_eq!(f(r#"message:"two words""#), m("message", "two words"));
    assert_eq!(
        f(r#"message:"say \"hi\" \\o/""#),
        m("message", r#"say "hi" \o/"#)
    );
    // A pasted Windows path keeps its backslashes inside quotes.
    assert_eq!(
        f(r#"Image:"C:\Windows\System32\cmd.exe""#),
        m("Image", r"C:\Windows\System32\cmd.exe")
    );
    // Values may hold ':' (IPv6, MACs) but not unescaped spaces.
    assert_eq!(f("source.ip:fe80::1"), m("source.ip", "fe80::1"));
    assert_eq!(f("mac:00:1a:2b:3c:4d:5e"), m("mac", "00:1a:2b:3c:4d:5e"));
    assert_eq!(f("n:-5"), m("n", "-5"));
    assert_eq!(f(r#"a:"""#), m("a", ""));
}

#[test]
fn escaping() {
    assert_eq!(
        f(r"Image:C\:\\Windows\\cmd.exe"),
        m("Image", r"C:\Windows\cmd.exe")
    );
    assert_eq!(f(r"a:b\*c"), m("a", "b*c"));
    assert_eq!(f(r"a:what\?"), m("a", "what?"));
    assert_eq!(f(r#"a:say\"x"#), m("a", "say\"x"));
    assert_eq!(f(r"a:two\ words"), m("a", "two words"));
    assert_eq!(f(r"weird\:name:1"), m("weird:name", "1"));
    assert_eq!(f(r"\and:1"), m("and", "1"));
    assert_eq!(
        f("@timestamp:2024-05-01T10:00:00Z"),
        m("@timestamp", "2024-05-01T10:00:00Z")
    );
    // An escaped keyword is a word.
    assert_eq!(f(r"\AND"), text("AND"));
    assert_eq!(f(r#""OR""#), text("OR"));
    // Field names that are keywords are fields when followed by ':'.
    assert_eq!(f("not:1"), m("not", "1"));
}

#[test]
fn wildcards() {
    assert_eq!(
        f("Image:pow*shell.exe"),
        Expr::Match {
            field: "Image".into(),
            value: Pattern::Wildcard(vec![
                GlobPart::Literal("pow".into()),
                GlobPart::Any,
                GlobPart::Literal("shell.exe".into())
            ])
        }
    );
    assert_eq!(
        f("a:?x*"),
        Expr::Match {
            field: "a".into(),
            value: Pattern::Wildcard(vec![
                GlobPart::One,
                GlobPart::Literal("x".into()),
                GlobPart::Any
            ])
        }
    );
    assert_eq!(
        f(r"a:x\**"),
        Expr::Match {
            field: "a".into(),
            value: Pattern::Wildcard(vec![GlobPart::Literal("x*".into()), GlobPart::Any])
        }
    );
    // Quoted values never hold wildcards.
    assert_eq!(f(r#"a:"pow*""#), m("a", "pow*"));
    assert_eq!(
        f("mimi*"),
        Expr::Text {
            value: Pattern::Wildcard(vec![GlobPart::Literal("mimi".into()), GlobPart::Any])
        }
    );
}

#[test]
fn ranges() {
    assert_eq!(f("bytes>=10"), range("bytes", inc("10"), Bound::Unbounded));
    assert_eq!(
        f("bytes >= 10"),
        range("bytes", inc("10"), Bound::Unbounded)
    );
    assert_eq!(f("bytes>10"), range("bytes", exc("10"), Bound::Unbounded));
    assert_eq!(f("bytes<5"), range("bytes", Bound::Unbounded, exc("5")));
    assert_eq!(f("bytes<=5"), range("bytes", Bound::Unbounded, inc("5")));
    assert_eq!(
        f("bytes:>100"),
        range("bytes", exc("100"), Bound::Unbounded)
    );
    assert_eq!(
        f("bytes:<=-1.5"),
        range("bytes", Bound::Unbounded, inc("-1.5"))
    );
    assert_eq!(f("port:[10 TO 20]"), range("port", inc("10"), inc("20")));
    assert_eq!(f("host:{a TO b}"), range("host", exc("a"), exc("b")));
    assert_eq!(f("port:[10 to 20}"), range("port", inc("10"), exc("20")));
    assert_eq!(
        f("port:[1024 TO *]"),
        range("port", inc("1024"), Bound::Unbounded)
    );
    assert_eq!(
        f("port:{* TO 1024}"),
        range("port", Bound::Unbounded, exc("1024"))
    );
    assert_eq!(
        f("@timestamp:[now-1h TO now]"),
        range("@timestamp", inc("now-1h"), inc("now"))
    );
    assert_eq!(
        f(r#"@timestamp>="2024-05-01T00:00:00+08:00""#),
        range(
            "@timestamp",
            inc("2024-05-01T00:00:00+08:00"),
            Bound::Unbounded
        )
    );
}

#[test]
fn existence_cidr_lists() {
    let ex = |f: &str| Expr::Exists { field: f.into() };
    assert_eq!(f("CommandLine:*"), ex("CommandLine"));
    assert_eq!(f("_exists_:CommandLine"), ex("CommandLine"));
    assert_eq!(f("*"), Expr::All);
    assert_eq!(f("*:*"), Expr::All);
    assert_eq!(f(""), Expr::All);
    assert_eq!(f("   "), Expr::All);
    assert_eq!(
        f("source.ip:10.0.0.0/8"),
        Expr::Cidr {
            field: "source.ip".into(),
            network: "10.0.0.0/8".into()
        }
    );
    assert_eq!(
        f("source.ip:fe80::/10"),
        Expr::Cidr {
            field: "source.ip".into(),
            network: "fe80::/10".into()
        }
    );
    // Not a network: a plain value.
    assert_eq!(f("url.path:/admin/login"), m("url.path", "/admin/login"));
    assert_eq!(f(r#"source.ip:"10.0.0.0/8""#), m("source.ip", "10.0.0.0/8"));
    assert_eq!(
        f("event.code:(4624 OR 4625 OR 4648)"),
        Expr::Or(vec![
            m("event.code", "4624"),
            m("event.code", "4625"),
            m("event.code", "4648")
        ])
    );
    assert_eq!(
        f("tags:(a AND NOT b)"),
        Expr::And(vec![m("tags", "a"), not(m("tags", "b"))])
    );
    assert_eq!(
        f("port:(22 or >1024)"),
        Expr::Or(vec![
            m("port", "22"),
            range("port", exc("1024"), Bound::Unbounded)
        ])
    );
}

#[test]
fn boolean_precedence() {
    let (a, b, c, d) = (m("a", "1"), m("b", "2"), m("c", "3"), m("d", "4"));
    // NOT > AND > OR
    assert_eq!(
        f("a:1 OR b:2 AND c:3"),
        Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        f("a:1 AND b:2 OR c:3"),
        Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        f("NOT a:1 AND b:2"),
        Expr::And(vec![not(a.clone()), b.clone()])
    );
    assert_eq!(
        f("NOT (a:1 AND b:2)"),
        not(Expr::And(vec![a.clone(), b.clone()]))
    );
    assert_eq!(
        f("(a:1 OR b:2) AND (c:3 OR d:4)"),
        Expr::And(vec![
            Expr::Or(vec![a.clone(), b.clone()]),
            Expr::Or(vec![c.clone(), d.clone()])
        ])
    );
    // Lowercase operators, implicit AND, -term and +term.
    assert_eq!(f("a:1 and b:2 or not c:3"), f("(a:1 AND b:2) OR NOT c:3"));
    assert_eq!(
        f("a:1 b:2 c:3"),
        Expr::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        f("a:1 b:2 OR c:3"),
        Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(f("-a:1 +b:2"), Expr::And(vec![not(a.clone()), b.clone()]));
    assert_eq!(
        f("-(a:1 OR b:2)"),
        not(Expr::Or(vec![a.clone(), b.clone()]))
    );
    assert_eq!(f("NOT NOT a:1"), not(not(a.clone())));
    // Nesting of the same operator is flattened.
    assert_eq!(
        f("a:1 AND (b:2 AND c:3)"),
        Expr::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(f("((a:1))"), a);
}

#[test]
fn free_text() {
    assert_eq!(f("mimikatz"), text("mimikatz"));
    assert_eq!(
        f(r#""invoke-mimikatz -dump""#),
        text("invoke-mimikatz -dump")
    );
    assert_eq!(
        f(r#"mimikatz "lsass dump" -test"#),
        Expr::And(vec![
            text("mimikatz"),
            text("lsass dump"),
            not(text("test"))
        ])
    );
    assert_eq!(
        f("to by as"),
        Expr::And(vec![text("to"), text("by"), text("as")])
    );
}

#[test]
fn stages() {
    let s = parse("event.code:4625 | stats count() by source.ip, user.name").unwrap();
    assert_eq!(s.filter, m("event.code", "4625"));
    assert_eq!(
        s.stages,
        vec![Stage::Stats {
            aggs: vec![Agg {
                func: AggFunc::Count,
                field: None,
                alias: None
            }],
            by: vec!["source.ip".into(), "user.name".into()]
        }]
    );
    let s = parse("| stats count(user.name) as n, dc(user.name) AS users, sum(bytes), avg(bytes), min(bytes), max(@timestamp)").unwrap();
    assert_eq!(s.filter, Expr::All);
    let Stage::Stats { aggs, by } = &s.stages[0] else {
        panic!()
    };
    assert!(by.is_empty());
    let got: Vec<(AggFunc, Option<&str>, Option<&str>)> = aggs
        .iter()
        .map(|a| (a.func, a.field.as_deref(), a.alias.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (AggFunc::Count, Some("user.name"), Some("n")),
            (AggFunc::DistinctCount, Some("user.name"), Some("users")),
            (AggFunc::Sum, Some("bytes"), None),
            (AggFunc::Avg, Some("bytes"), None),
            (AggFunc::Min, Some("bytes"), None),
            (AggFunc::Max, Some("@timestamp"), None),
        ]
    );
    // Splunk's bare `count`.
    assert_eq!(
        parse("* | stats count by host").unwrap().stages,
        parse("* | stats count() by host").unwrap().stages
    );
    assert_eq!(
        parse("* | top 5 destination.port").unwrap().stages,
        vec![Stage::Top {
            limit: 5,
            fields: vec!["destination.port".into()],
            rare: false
        }]
    );
    assert_eq!(
        parse("* | top host.name, user.name").unwrap().stages,
        vec![Stage::Top {
            limit: 10,
            fields: vec!["host.name".into(), "user.name".into()],
            rare: false
        }]
    );
    assert_eq!(
        parse("* | rare 3 process.name").unwrap().stages,
        vec![Stage::Top {
            limit: 3,
            fields: vec!["process.name".into()],
            rare: true
        }]
    );
    assert_eq!(
        parse("* | timechart 1h count() by event.category")
            .unwrap()
            .stages,
        vec![Stage::Timechart {
            interval_secs: Some(3600),
            aggs: vec![Agg {
                func: AggFunc::Count,
                field: None,
                alias: None
            }],
            by: Some("event.category".into())
        }]
    );
    for (i, secs) in [
        ("span=30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1d", 86_400),
        ("90m", 5_400),
    ] {
        let s = parse(&format!("| timechart {i} count()")).unwrap();
        let Stage::Timechart { interval_secs, .. } = s.stages[0] else {
            panic!()
        };
        assert_eq!(interval_secs, Some(secs), "{i}");
    }
    assert_eq!(
        parse(
            "* | sort -bytes, host.name, +user.name | head 5 | tail 2 | fields a, b.c, @timestamp"
        )
        .unwrap()
        .stages,
        vec![
            Stage::Sort(vec![
                SortKey {
                    field: "bytes".into(),
                    descending: true
                },
                SortKey {
                    field: "host.name".into(),
                    descending: false
                },
                SortKey {
                    field: "user.name".into(),
                    descending: false
                },
            ]),
            Stage::Head(5),
            Stage::Tail(2),
            Stage::Fields(vec!["a".into(), "b.c".into(), "@timestamp".into()]),
        ]
    );
    assert_eq!(parse("|head").unwrap().stages, vec![Stage::Head(10)]);
    assert_eq!(
        parse("* | stats count() as n by host | where n > 3")
            .unwrap()
            .stages[1],
        Stage::Where(range("n", exc("3"), Bound::Unbounded))
    );
    assert_eq!(
        parse("* | where host:a OR host:b").unwrap().stages[0],
        Stage::Where(Expr::Or(vec![m("host", "a"), m("host", "b")]))
    );
}

#[test]
fn errors_name_the_column() {
    assert_eq!(
        err("* | stats count() by"),
        "at column 21: expected a field name after 'by'"
    );
    assert_eq!(
        err("event.code:4625 | stats count() by , x"),
        "at column 36: expected a field name after 'by'"
    );
    assert_eq!(
        err("a:1 AND"),
        "at column 5: expected a term after 'AND', found the end of the query"
    );
    assert_eq!(
        err("a:1 OR OR b:1"),
        "at column 5: expected a term after 'OR', found 'OR'"
    );
    assert_eq!(err("OR b:1"), "at column 1: expected a term before 'OR'");
    assert_eq!(
        err("NOT"),
        "at column 1: expected a term after 'NOT', found the end of the query"
    );
    assert_eq!(
        err("(a:1 OR b:2"),
        "at column 12: expected ')' to close the '(' at column 1, found the end of the query"
    );
    assert_eq!(
        err("a:1)"),
        "at column 4: unexpected ')' without a matching '('"
    );
    assert_eq!(err(r#"a:"open"#), "at column 3: unterminated quoted string");
    assert_eq!(err("a: )"), "at column 4: expected a value after 'a:'");
    assert_eq!(err("a:"), "at column 3: expected a value after 'a:'");
    assert_eq!(
        err("port:[1 20]"),
        "at column 9: expected 'TO' in the range opened at column 6"
    );
    assert_eq!(
        err("port:[1 TO 20"),
        "at column 14: expected ']' or '}' to close the range opened at column 6"
    );
    assert_eq!(err("bytes>"), "at column 7: expected a value after '>'");
    assert_eq!(err("- a"), "at column 1: expected a term right after '-'");
    assert_eq!(err(r"a:b\"), "at column 4: expected a character after '\\'");
    assert_eq!(
        err("foo*:1"),
        "at column 1: wildcards are not supported in field names"
    );
    assert_eq!(
        err("*:x"),
        "at column 3: only '*:*' may use '*' as the field name"
    );
    assert_eq!(
        err("* | stat count()"),
        "at column 5: unknown stage 'stat': expected stats, top, rare, timechart, sort, head, tail, fields or where"
    );
    assert_eq!(err("* |"), "at column 4: expected a stage name after '|'");
    assert_eq!(
        err("* | stats"),
        "at column 10: expected an aggregation (count, dc, sum, avg, min, max) after 'stats', found the end of the query"
    );
    assert_eq!(
        err("* | stats sum()"),
        "at column 11: 'sum' needs a field: sum(field)"
    );
    assert_eq!(
        err("* | stats count(x"),
        "at column 18: expected ')' to close 'count('"
    );
    // Without an interval one is chosen from the range (tests/agg.rs).
    assert!(parse("* | timechart count()").is_ok());
    assert_eq!(
        err("* | timechart 1x count()"),
        "at column 15: expected an interval such as 5m, 1h or 1d after 'timechart' (or none: one is chosen from the time range)"
    );
    assert_eq!(
        err("* | head 5 6"),
        "at column 12: expected '|' or the end of the query, found '6'"
    );
    assert_eq!(
        err("* | sort"),
        "at column 9: expected a field name after 'sort'"
    );
    assert_eq!(
        err("* | where"),
        "at column 10: expected a condition after 'where'"
    );
    assert_eq!(
        err("@timestamp>yesterday"),
        "at column 12: expected a time for @timestamp (ISO 8601 like 2024-05-01T10:00:00Z, or now-1h), found 'yesterday'"
    );
    assert_eq!(
        err("@timestamp:2024*"),
        "at column 12: wildcards do not apply to @timestamp; use a range"
    );
    assert_eq!(
        err("_exists_:"),
        "at column 10: expected a field name after '_exists_:'"
    );
    // Errors count characters, not bytes.
    assert_eq!(
        err("名前:値 AND"),
        "at column 6: expected a term after 'AND', found the end of the query"
    );
}

#[test]
fn display_round_trips() {
    for q in [
        "event.code:4688 AND CommandLine:*mimikatz*",
        r#"a:"two words" OR (b:x AND NOT c:*)"#,
        r"Image:C\:\\Windows\\*",
        "source.ip:10.0.0.0/8 -destination.port:(80 OR 443) | top 10 destination.ip",
        "port:[10 TO 20} bytes>=5 @timestamp:[now-1h TO now]",
        "* | stats count() as n, dc(user.name) by host.name | where n > 3 | sort -n | head 5",
        "| timechart 15m count(), avg(bytes) by event.category",
        "mimikatz \"lsass dump\" -\"by\"",
        r#"\and:1 "or" to"#,
    ] {
        let a = parse(q).unwrap();
        let printed = a.to_string();
        let b = parse(&printed).unwrap_or_else(|e| panic!("{q} printed as {printed}: {e}"));
        assert_eq!(a, b, "{q} printed as {printed}");
    }
    assert_eq!(
        parse("a:1 or b:2 and not c:3").unwrap().to_string(),
        "a:1 OR b:2 AND NOT c:3"
    );
    assert_eq!(
        parse("(a:1 or b:2) c:3 | stats count by x")
            .unwrap()
            .to_string(),
        "(a:1 OR b:2) AND c:3 | stats count() by x"
    );
}

#[test]
fn ast_serialises() {
    let s = parse("event.code:4625 source.ip:10.0.0.0/8 | stats count() by user.name").unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(
        json,
        r#"{"filter":{"and":[{"match":{"field":"event.code","value":{"exact":"4625"}}},{"cidr":{"field":"source.ip","network":"10.0.0.0/8"}}]},"stages":[{"stats":{"aggs":[{"func":"count"}],"by":["user.name"]}}]}"#
    );
    let back: Search = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
}
