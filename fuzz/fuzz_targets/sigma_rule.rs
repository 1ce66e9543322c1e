#![no_main]
//! Sigma rule YAML (detections, conditions, modifiers, correlations): any
//! text is loaded or rejected with a reason, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = taishi_sigma::load::rule_from_yaml(text);
        let mut set = taishi_sigma::RuleSet::default();
        set.add_yaml(text, "fuzz.yml");
    }
});
