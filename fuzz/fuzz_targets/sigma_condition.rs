#![no_main]
//! Sigma conditions, depth-heavy: the input is read as (token, count)
//! pairs from the condition grammar (selection names, `1 of`, `all of
//! them`, `not`, `and`/`or`, parentheses), so a few bytes nest thousands
//! of levels. Whatever parses is resolved, loaded as a rule, compiled and
//! run over an event: every recursive walk over the condition runs too.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use taishi_event::{Event, Value};
use taishi_sigma::{condition, Engine, Profile, RuleSet, Scratch};

const TOKENS: &[&str] = &[
    "(", ")", "not ", "and ", "or ", "1 of ", "all of ", "them ", "sel ", "sel_* ",
    "filter ", "*", "2 of ", "sel? ", "_aux ", "NOT ", "AND ", "OR ", " ", "0 of ",
    "1 of sel* ", "all of them ", "sel and not filter ", "| count() ",
];

const NAMES: &[&str] = &["sel", "sel_a", "filter", "_aux"];

fn build(data: &[u8]) -> String {
    let mut out = String::new();
    for pair in data.chunks(2) {
        let tok = TOKENS[pair[0] as usize % TOKENS.len()];
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

fn profiles() -> &'static [Profile] {
    static P: OnceLock<Vec<Profile>> = OnceLock::new();
    P.get_or_init(|| Profile::defaults().unwrap_or_default())
}

fuzz_target!(|data: &[u8]| {
    let cond = build(data);
    let names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let Ok(parsed) = condition::parse(&cond) else {
        return;
    };
    if condition::resolve(&parsed, &names).is_err() {
        return;
    }
    // YAML single quotes keep the condition as written.
    let rule = format!(
        "title: fuzz\nlogsource: {{product: windows, category: process_creation}}\ndetection:\n  sel:\n    CommandLine|contains: mimi\n  sel_a:\n    Image|endswith: '\\\\x.exe'\n  filter:\n    User: SYSTEM\n  _aux:\n    - katz\n  condition: '{}'\n",
        cond.replace('\'', "''")
    );
    let mut set = RuleSet::default();
    set.add_yaml(&rule, "fuzz.yml");
    if set.rules.is_empty() {
        return;
    }
    let engine = Engine::with_profiles(&set.rules, profiles(), false);
    let mut ev = Event::new();
    ev.push("EventID", Value::Int(1));
    ev.push("Channel", "Microsoft-Windows-Sysmon/Operational");
    ev.push("CommandLine", "mimikatz.exe");
    ev.push("Image", "C:\\x.exe");
    ev.push("User", "alice");
    let mut out = Vec::new();
    engine.detect(&ev, &mut Scratch::new(), &mut out);
});
