//! Findings 1, 2, 5 (the parser half) and 10: what a viewer can send to the
//! query and rule parsers, and what a sender can put in one field.
//!
//! Before the fixes, the deep inputs overflowed a parser's stack and
//! aborted the whole process; now each is a 400 (or a validation error)
//! naming the limit and the config key that changes it.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// Peak RSS the server may reach in these tests. A debug server with the
/// marker rule idles at about 60 MiB; the parsers' own work on a 2 MB
/// request is a few MiB. 400 MiB leaves room for allocator slack while
/// still catching any expansion (an alias bomb or a 20,000-term query grew
/// to gigabytes).
const RSS_CAP_MIB: u64 = 400;

/// How long one refused request may take in a debug build: refusing is a
/// scan of the text, so this is generous.
const REFUSAL_BOUND: Duration = Duration::from_secs(10);

fn message(b: &serde_json::Value) -> String {
    b["error"]
        .as_str()
        .or_else(|| b["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| b.to_string())
}

#[test]
fn deep_search_queries_are_refused_not_a_crash() {
    let mut s = Server::start(Opts::default());
    let viewer = s.token("viewer");
    let shapes = [
        (
            "2,000 nested (",
            format!("{}a{}", "(".repeat(2_000), ")".repeat(2_000)),
        ),
        ("100,000 -", format!("{}a", "-".repeat(100_000))),
        ("50,000 NOT", format!("{}a", "NOT ".repeat(50_000))),
        (
            "5,000 nested field groups",
            format!("CommandLine:{}a{}", "(".repeat(5_000), ")".repeat(5_000)),
        ),
        (
            "a deep where stage",
            format!("* | where {}a{}", "(".repeat(5_000), ")".repeat(5_000)),
        ),
    ];
    for (what, q) in &shapes {
        let ((st, b), took) = timed(|| viewer.search(q, "now-1d"));
        assert_eq!(st, 400, "{what}: {b}");
        let m = message(&b);
        assert!(m.contains("64") && m.contains("max_depth"), "{what}: {m}");
        assert!(took < REFUSAL_BOUND, "{what}: {took:?}");
        s.assert_alive();
    }
    // The field list parses the same language.
    let q = format!("{}a{}", "(".repeat(2_000), ")".repeat(2_000));
    let (st, b) = viewer.get(&format!(
        "/api/v1/fields?query={}",
        "(".repeat(2_000) + "a" + &")".repeat(2_000)
    ));
    assert_eq!(st, 400, "fields: {b} ({} chars)", q.len());
    s.assert_alive();
    // The server still answers ordinary searches.
    let (st, b) = viewer.search("CommandLine:*powershell* | stats count()", "now-1d");
    assert_eq!(st, 200, "{b}");
    assert!(
        s.peak_rss_mib() < RSS_CAP_MIB,
        "peak RSS {} MiB",
        s.peak_rss_mib()
    );
}

#[test]
fn a_query_of_twenty_thousand_terms_is_refused() {
    let mut s = Server::start(Opts::default());
    let viewer = s.token("viewer");
    let terms: Vec<String> = (0..20_000)
        .map(|i| format!("CommandLine:*x{i:05}y*"))
        .collect();
    let q = terms.join(" OR ");
    assert!(q.len() > 400_000);
    let ((st, b), took) = timed(|| viewer.search(&q, "now-1d"));
    assert_eq!(st, 400, "{b}");
    let m = message(&b);
    assert!(m.contains("1024") && m.contains("max_clauses"), "{m}");
    assert!(took < REFUSAL_BOUND, "{took:?}");
    s.assert_alive();
    assert!(
        s.peak_rss_mib() < RSS_CAP_MIB,
        "peak RSS {} MiB",
        s.peak_rss_mib()
    );
}

#[test]
fn search_limits_come_from_the_config() {
    let mut s = Server::start(Opts {
        extra: "[search]\nmax_depth = 4\nmax_clauses = 3\n".into(),
        ..Opts::default()
    });
    let viewer = s.token("viewer");
    let (st, b) = viewer.search("((a:1))", "now-1d");
    assert_eq!(st, 200, "{b}");
    let (st, b) = viewer.search("((((a:1))))", "now-1d");
    assert_eq!(st, 400, "{b}");
    assert!(message(&b).contains("4 levels"), "{b}");
    let (st, b) = viewer.search("a b c d", "now-1d");
    assert_eq!(st, 400, "{b}");
    assert!(message(&b).contains("3 terms"), "{b}");
    s.assert_alive();
}

/// `POST /rules/validate` answers 200 with `ok: false` and the reasons (it
/// reports on the rule, not on the request), or a 4xx for a body it will
/// not read at all.
fn refused_rule(viewer: &Client, text: &str) -> (String, Duration) {
    let ((st, b), took) = timed(|| {
        viewer.post_raw(
            "/api/v1/rules/validate",
            "application/yaml",
            text.as_bytes(),
        )
    });
    if (400..500).contains(&st) {
        return (message(&b), took);
    }
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["ok"], json!(false), "{b}");
    (b["errors"].to_string(), took)
}

#[test]
fn hostile_rules_are_refused_not_a_crash() {
    let mut s = Server::start(Opts::default());
    let viewer = s.token("viewer");
    let rule = |cond: &str| {
        format!("title: t\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    CommandLine: x\n  condition: {cond}\n")
    };
    // 5,000 nested parentheses in a condition.
    let (m, took) = refused_rule(
        &viewer,
        &rule(&format!("{}sel{}", "(".repeat(5_000), ")".repeat(5_000))),
    );
    assert!(m.contains("condition"), "{m}");
    assert!(took < REFUSAL_BOUND, "{took:?}");
    s.assert_alive();
    // 2,000: under the token limit, over the depth limit.
    let (m, _) = refused_rule(
        &viewer,
        &rule(&format!("{}sel{}", "(".repeat(2_000), ")".repeat(2_000))),
    );
    assert!(m.contains("deeper than 64"), "{m}");
    let (m, _) = refused_rule(&viewer, &rule(&format!("{}sel", "not ".repeat(2_000))));
    assert!(m.contains("deeper than 64"), "{m}");
    s.assert_alive();

    // A wide alias bomb: 150 KB of text, 10^8 nodes expanded.
    let items: Vec<String> = (0..5_000).map(|i| format!("v{i}")).collect();
    let bomb = format!(
        "title: bomb\nlogsource: {{product: windows}}\nbig: &big [{}]\nuse: [{}]\ndetection:\n  sel:\n    CommandLine: x\n  condition: sel\n",
        items.join(", "),
        vec!["*big"; 20_000].join(", ")
    );
    let (m, took) = refused_rule(&viewer, &bomb);
    assert!(m.contains("max_rule_yaml_nodes"), "{m}");
    assert!(took < REFUSAL_BOUND, "{took:?}");
    s.assert_alive();

    // 500,000 nested flow lists: the YAML scanner's time is quadratic in
    // the depth, so this ran for minutes.
    let deep = format!(
        "title: t\nx: {}1{}\n",
        "[".repeat(500_000),
        "]".repeat(500_000)
    );
    let (m, took) = refused_rule(&viewer, &deep);
    assert!(m.contains("nests") || m.contains("recursion"), "{m}");
    assert!(took < REFUSAL_BOUND, "{took:?}");
    s.assert_alive();

    // windash over 40 flags: 5^40 variants.
    let flags: Vec<String> = (0..40).map(|i| format!("-f{i}")).collect();
    let text = format!(
        "title: t\nlogsource: {{product: windows, category: process_creation}}\ndetection:\n  sel:\n    CommandLine|windash|contains: '{}'\n  condition: sel\n",
        flags.join(" ")
    );
    let (m, took) = refused_rule(&viewer, &text);
    assert!(m.contains("variants"), "{m}");
    assert!(took < REFUSAL_BOUND, "{took:?}");
    s.assert_alive();

    // A good rule still validates.
    let (st, b) = viewer.post_raw(
        "/api/v1/rules/validate",
        "application/yaml",
        rule("sel").as_bytes(),
    );
    assert_eq!((st, &b["ok"]), (200, &json!(true)), "{b}");
    assert!(
        s.peak_rss_mib() < RSS_CAP_MIB,
        "peak RSS {} MiB",
        s.peak_rss_mib()
    );
}

/// Finding 10: detection cost grows with field length. A rule of wildcard
/// values (`prefix*aaa…ab`) over 30,000-character CommandLines: the old
/// glob stepped the star one character at a time and compared the whole
/// literal at each (28,000 × 2,000 bytes per value and event), so a burst
/// of such events held the four pipeline slots for seconds and every other
/// sender's acknowledgement waited behind them.
#[test]
fn long_command_lines_do_not_hold_up_other_senders() {
    /// A short event's acknowledgement while the burst runs: a debug build
    /// stores and checks a 25-event batch of 30 KB events in well under a
    /// second; before the fix it waited for batches of several seconds.
    const ACK_BOUND: Duration = Duration::from_secs(3);
    /// The whole burst (12 batches of 25 events of 30 KB).
    const BURST_BOUND: Duration = Duration::from_secs(60);

    let mut s = Server::start(Opts::default());
    let analyst = s.token("analyst");
    // The prefix is the longest literal of each value, so the prefilter
    // (which looks for it) lets the rule through to the glob.
    let prefix: String = (0..3_000).map(|i| (b'm' + (i % 7) as u8) as char).collect();
    let values: Vec<String> = (0..60)
        .map(|i| {
            format!(
                "      - '{prefix}*{}{}'",
                "a".repeat(2_000 + i),
                (b'b' + (i % 20) as u8) as char
            )
        })
        .collect();
    let rule = format!(
        "title: Long wildcard values\nid: 5d1c2a70-0000-4000-8000-00000000f10a\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  sel:\n    CommandLine|contains:\n{}\n  condition: sel\nlevel: low\n",
        values.join("\n")
    );
    let (st, b) = analyst.post_raw("/api/v1/rules", "application/yaml", rule.as_bytes());
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["loaded"].as_array().map(Vec::len), Some(1), "{b}");

    let long_cmd = format!("{prefix}{}", "a".repeat(27_000));
    let batch = ndjson(
        &(0..25)
            .map(|i| sysmon(i, &long_cmd, None))
            .collect::<Vec<_>>(),
    );
    let started = Instant::now();
    let senders: Vec<_> = (0..6)
        .map(|_| {
            let c = s.token("analyst");
            let batch = batch.clone();
            std::thread::spawn(move || {
                for _ in 0..2 {
                    let (st, b) = c.post_raw("/api/v1/ingest", "application/x-ndjson", &batch);
                    assert_eq!(st, 200, "{b}");
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let ((st, b), ack) = timed(|| {
        analyst.post_raw(
            "/api/v1/ingest",
            "application/x-ndjson",
            &ndjson(&[sysmon(1, "short", None)]),
        )
    });
    assert_eq!(st, 200, "{b}");
    for t in senders {
        t.join().unwrap();
    }
    let burst = started.elapsed();
    s.assert_alive();
    assert!(
        ack < ACK_BOUND,
        "a short event waited {ack:?} behind the long ones"
    );
    assert!(burst < BURST_BOUND, "the burst took {burst:?}");
    assert!(
        s.peak_rss_mib() < RSS_CAP_MIB,
        "peak RSS {} MiB",
        s.peak_rss_mib()
    );
}
