#![no_main]
//! STIX 2.1 indicator patterns.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = taishi_intel::pattern::parse(text);
    }
});
