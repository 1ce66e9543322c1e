//! Documents that are not Windows records: nested objects flattened to
//! dotted names (arrays kept whole), and the first recognised time field
//! used as `@timestamp`.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value as J};
use taishi_event::time::{from_epoch_millis, parse_iso_in};
use taishi_event::{Event, Str, Value};

/// Time fields, most specific first. `@timestamp` is consumed (it is the
/// event's own timestamp, as `Event::write_json_line` writes it); the others
/// stay as fields too.
const TIME_FIELDS: [&str; 6] = ["@timestamp", "timestamp", "time", "ts", "date", "eventTime"];

/// Nesting below this depth is kept as an object value instead of being
/// flattened further; serde_json already refuses documents deeper than 128.
const MAX_FLATTEN_DEPTH: usize = 32;

pub fn generic_event(map: Map<String, J>, default_tz: FixedOffset) -> Event {
    let mut ev = Event::with_capacity(map.len() + 4);
    for name in TIME_FIELDS {
        if let Some(t) = map.get(name).and_then(|v| parse_time(v, default_tz)) {
            ev.timestamp = Some(t);
            break;
        }
    }
    let consume_at = ev.timestamp.is_some()
        && map
            .get("@timestamp")
            .and_then(|v| parse_time(v, default_tz))
            .is_some();
    let mut prefix = String::new();
    for (k, v) in map {
        if consume_at && k == "@timestamp" {
            continue;
        }
        push_flat(&mut ev, &mut prefix, &k, v, 0);
    }
    ev
}

fn push_flat(ev: &mut Event, prefix: &mut String, key: &str, v: J, depth: usize) {
    match v {
        J::Object(inner) if !inner.is_empty() && depth < MAX_FLATTEN_DEPTH => {
            let keep = prefix.len();
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(key);
            for (k, v) in inner {
                push_flat(ev, prefix, &k, v, depth + 1);
            }
            prefix.truncate(keep);
        }
        other => {
            let name = if prefix.is_empty() {
                Str::from(key)
            } else {
                let mut n = Str::from(prefix.as_str());
                n.push('.');
                n.push_str(key);
                n
            };
            ev.push(name, Value::from_json(other));
        }
    }
}

/// ISO 8601 text (a zone-less one read in `default_tz`), or epoch seconds /
/// milliseconds as a number or numeric text.
pub fn parse_time(v: &J, default_tz: FixedOffset) -> Option<DateTime<FixedOffset>> {
    match v {
        J::String(s) => {
            let s = s.trim();
            if s.len() >= 10 && s.as_bytes().get(4) == Some(&b'-') {
                return parse_iso_in(s, default_tz);
            }
            s.parse::<f64>().ok().and_then(epoch)
        }
        J::Number(n) => n.as_f64().and_then(epoch),
        _ => None,
    }
}

/// Epoch seconds unless the number is too large to be seconds of a
/// plausible date (after year 5138), then milliseconds.
fn epoch(x: f64) -> Option<DateTime<FixedOffset>> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    if x >= 1e11 {
        if x >= 1e15 {
            return None;
        }
        from_epoch_millis(x as i64)
    } else {
        // An f64 of today's epoch seconds carries about a microsecond of
        // precision: rounding there gives back the digits the source wrote
        // (`1258531221.486539` is .486539, not .486538887).
        DateTime::from_timestamp_micros((x * 1e6).round() as i64).map(|t| t.fixed_offset())
    }
}
