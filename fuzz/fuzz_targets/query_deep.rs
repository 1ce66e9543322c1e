#![no_main]
//! The search language, depth-heavy: the input is read as (token, count)
//! pairs from a grammar of nesting and terms, so that a few bytes become
//! thousands of `(`, `NOT`, `-` levels, long OR chains, ranges, wildcards
//! and pipes. Whatever parses is compiled, evaluated, printed, parsed
//! back and sent through JSON: every recursive walk runs on the deepest
//! AST the limits allow, at the default limits and at the ceiling.
use libfuzzer_sys::fuzz_target;
use taishi_event::{Event, Value};
use taishi_query::{parse_with, Limits, Query, MAX_DEPTH_CEILING};

const TOKENS: &[&str] = &[
    "(", ")", "NOT ", "not ", "-", "+", "!", "f:", "f:(", "CommandLine:*mimi*katz* ",
    "x:[1 TO 5] ", "x:{a TO *] ", "n>=10 ", "n<3 ", "ip:10.0.0.0/8 ", "\"a phrase\" ",
    "word ", "*w?ld* ", "_exists_:f ", "*:* ", " AND ", " OR ", " and ", " or ", "| where ",
    "| stats count() by f ", "| sort -n ", "| head 3 ", "| top 2 f ", "| fields a, b ",
    "| timechart 1h count() ", "@timestamp>=now-1d ", "\\(", "\\\\", " ", "?",
];

fn build(data: &[u8]) -> String {
    let mut out = String::new();
    for pair in data.chunks(2) {
        let tok = TOKENS[pair[0] as usize % TOKENS.len()];
        // Counts up to 255, or up to 255 × 64 when the token byte's high
        // bit is set: deep enough to pass any limit in a few bytes.
        let n = pair.get(1).copied().unwrap_or(1).max(1) as usize;
        let n = if pair[0] & 0x80 != 0 { n * 64 } else { n };
        for _ in 0..n {
            out.push_str(tok);
        }
        if out.len() > 1 << 20 {
            break;
        }
    }
    out
}

fn walk(text: &str, limits: &Limits, ev: &Event) {
    let Ok(s) = parse_with(text, limits) else {
        return;
    };
    let printed = s.to_string();
    let _ = parse_with(&printed, limits);
    if let Ok(json) = serde_json::to_string(&s) {
        let _ = serde_json::from_str::<taishi_query::Search>(&json);
    }
    let now = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").unwrap();
    if let Ok(q) = Query::compile_with(s, now, limits) {
        let _ = q.matches(ev);
        let _ = q.execute(vec![ev.clone()]);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = build(data);
    let mut ev = Event::new();
    ev.push("f", "a phrase word");
    ev.push("CommandLine", "mimikatz.exe");
    ev.push("n", Value::Int(12));
    ev.push("ip", "10.1.2.3");
    walk(&text, &Limits::default(), &ev);
    walk(
        &text,
        &Limits {
            max_depth: MAX_DEPTH_CEILING,
            max_clauses: 1 << 16,
        },
        &ev,
    );
});
