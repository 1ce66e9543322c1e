#![no_main]
//! Threat-intel feed files: the first byte picks the format, the rest is
//! the file. Every malformed entry becomes an import error, never a panic.
use libfuzzer_sys::fuzz_target;
use taishi_intel::Format;

const FORMATS: &[&str] = &[
    "stix",
    "misp",
    "warninglist",
    "feodo",
    "urlhaus",
    "threatfox",
    "malwarebazaar",
    "text",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = FORMATS[pick as usize % FORMATS.len()];
    if let Ok(format) = name.parse::<Format>() {
        let _ = taishi_intel::import::parse(&format, "fuzz", "fuzz", rest);
    }
    let _ = taishi_intel::import::detect("fuzz", rest);
});
