#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| taishi_fuzz::run(taishi_event::Format::Cef, data));
