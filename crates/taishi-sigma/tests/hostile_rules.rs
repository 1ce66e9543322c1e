//! Rule documents built to exhaust the loader: alias bombs, deep nesting,
//! expanding modifiers, huge conditions. Each is refused quickly, with a
//! reason that names the limit, and without building the expansion.

use std::time::{Duration, Instant};

use taishi_sigma::{LoadLimits, RuleSet};

/// Classic nested "billion laughs": 10 levels of 10 references.
fn nested_bomb(levels: usize, width: usize) -> String {
    let mut y = String::from("title: bomb\nlogsource: {product: windows}\na0: &a0 [\"lol\"]\n");
    for i in 1..levels {
        let refs: Vec<String> = (0..width).map(|_| format!("*a{}", i - 1)).collect();
        y.push_str(&format!("a{i}: &a{i} [{}]\n", refs.join(", ")));
    }
    y.push_str(&format!(
        "detection:\n  sel:\n    CommandLine: *a{}\n  condition: sel\n",
        levels - 1
    ));
    y
}

/// A flat bomb, which the YAML library's own guard (100 alias uses per
/// event) lets through: one wide anchor referenced many times.
fn wide_bomb(anchor_items: usize, refs: usize) -> String {
    let items: Vec<String> = (0..anchor_items).map(|i| format!("v{i}")).collect();
    let mut y = format!(
        "title: bomb\nlogsource: {{product: windows}}\nbig: &big [{}]\nuse: [",
        items.join(", ")
    );
    y.push_str(&vec!["*big"; refs].join(", "));
    y.push_str("]\ndetection:\n  sel:\n    CommandLine: x\n  condition: sel\n");
    y
}

fn load(text: &str) -> (RuleSet, Duration) {
    let t = Instant::now();
    let mut set = RuleSet::default();
    set.add_yaml(text, "bomb.yml");
    (set, t.elapsed())
}

fn reason(set: &RuleSet) -> String {
    set.rejected
        .first()
        .map(|r| r.reason.clone())
        .unwrap_or_default()
}

#[test]
fn nested_alias_bombs_are_refused() {
    let (set, took) = load(&nested_bomb(10, 10));
    assert!(set.rules.is_empty());
    assert!(!reason(&set).is_empty());
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn wide_alias_bombs_are_refused_before_they_are_built() {
    // 5,000 items × 20,000 references: 10^8 nodes (several GB as a YAML
    // value) from a 150 KB text.
    let text = wide_bomb(5_000, 20_000);
    assert!(text.len() < 200_000);
    let (set, took) = load(&text);
    assert!(set.rules.is_empty());
    let r = reason(&set);
    assert!(
        r.contains("250000 nodes") && r.contains("max_rule_yaml_nodes"),
        "{r}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn oversized_files_are_refused_and_the_limits_are_settable() {
    let mut set = RuleSet {
        limits: LoadLimits {
            max_file_bytes: 1_000,
            max_yaml_nodes: 100,
        },
        ..RuleSet::default()
    };
    set.add_yaml(&"#".repeat(2_000), "big.yml");
    assert!(
        reason(&set).contains("max_rule_file_bytes"),
        "{}",
        reason(&set)
    );
    let mut set = RuleSet {
        limits: LoadLimits {
            max_file_bytes: 1 << 20,
            max_yaml_nodes: 100,
        },
        ..RuleSet::default()
    };
    set.add_yaml(&wide_bomb(10, 20), "w.yml");
    assert!(reason(&set).contains("100 nodes"), "{}", reason(&set));
    // A real rule passes the default limits.
    let (set, _) = load(
        "title: t\nlogsource: {product: windows}\ndetection:\n  sel:\n    CommandLine|contains: x\n  condition: sel\n",
    );
    assert_eq!(set.rules.len(), 1, "{:?}", set.rejected);
}

#[test]
fn deep_yaml_and_deep_conditions_are_refused() {
    let deep = format!(
        "title: t\nlogsource: {{product: windows}}\nx: {}1{}\ndetection:\n  sel:\n    a: 1\n  condition: sel\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (set, _) = load(&deep);
    assert!(set.rules.is_empty());
    let cond = format!(
        "title: t\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    a: 1\n  condition: {}sel{}\n",
        "(".repeat(5_000),
        ")".repeat(5_000)
    );
    let (set, _) = load(&cond);
    assert!(set.rules.is_empty());
    assert!(reason(&set).contains("condition"), "{}", reason(&set));
}

#[test]
fn expanding_modifiers_are_bounded() {
    // 40 flags: 5^40 windash variants.
    let flags: Vec<String> = (0..40).map(|i| format!("-f{i}")).collect();
    let text = format!(
        "title: t\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    CommandLine|windash|contains: '{}'\n  condition: sel\n",
        flags.join(" ")
    );
    let (set, took) = load(&text);
    assert!(set.rules.is_empty());
    assert!(reason(&set).contains("variants"), "{}", reason(&set));
    assert!(took < Duration::from_secs(5));
    // A long value through windash and base64offset: 5 × 3 copies of 200 KB.
    let long = format!("-{}", "a".repeat(200_000));
    let text = format!(
        "title: t\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    CommandLine|windash|base64offset|contains: '{long} -b -c'\n  condition: sel\n"
    );
    let (set, _) = load(&text);
    assert!(set.rules.is_empty());
    assert!(reason(&set).contains("bytes"), "{}", reason(&set));
    // Ordinary use still loads.
    let text = "title: t\nlogsource: {product: windows}\ndetection:\n  sel:\n    CommandLine|windash|contains: ' -enc -nop'\n  condition: sel\n";
    let (set, _) = load(text);
    assert_eq!(set.rules.len(), 1, "{:?}", set.rejected);
}

#[test]
fn many_filters_on_one_rule_do_not_deepen_its_condition() {
    let mut text = String::from(
        "title: r\nid: r1\nlogsource: {product: windows}\ndetection:\n  sel:\n    a: 1\n  condition: sel\n",
    );
    for i in 0..3_000 {
        text.push_str(&format!(
            "---\ntitle: f{i}\nlogsource: {{product: windows}}\nfilter:\n  rules: [r1]\n  sel:\n    b: {i}\n  condition: sel\n"
        ));
    }
    let mut set = RuleSet::default();
    set.add_yaml(&text, "filters.yml");
    set.apply_filters();
    assert_eq!(set.rules.len(), 1, "{:?}", set.rejected.first());
    match &set.rules[0].condition {
        taishi_sigma::condition::Expr::And(v) => assert_eq!(v.len(), 3_001),
        other => panic!("{other:?}"),
    }
}
