//! Field getters shared by the syslog tests: a missing field fails with the
//! whole event printed.

use taishi_event::{Event, Value};

pub fn s<'a>(e: &'a Event, k: &str) -> &'a str {
    e.get_str(k)
        .unwrap_or_else(|| panic!("no string field {k} in {}", e.to_json_string()))
}

pub fn n(e: &Event, k: &str) -> i64 {
    e.get(k)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("no number field {k} in {}", e.to_json_string()))
}
