#![no_main]
//! The search language (KQL filters and pipes).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = taishi_query::parse(text);
    }
});
