use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::value::{Str, Value};

/// One normalised event.
///
/// Fields are a flat, ordered list of `(name, value)`: the source's own field
/// names (`CommandLine`, `id.orig_h`, `src_ip`) side by side with ECS names
/// (`source.ip`, `event.category`). A flat list keeps the source's dotted
/// names unambiguous, costs one allocation per event instead of one per
/// nesting level, and a lookup by name is a scan over inline keys that
/// allocates nothing. Events hold a few dozen fields, where a scan beats
/// hashing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    /// `@timestamp`, with the zone the source gave (or the configured one).
    pub timestamp: Option<DateTime<FixedOffset>>,
    fields: Vec<(Str, Value)>,
}

impl Event {
    pub fn new() -> Self {
        Event::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Event {
            timestamp: None,
            fields: Vec::with_capacity(n),
        }
    }

    /// Appends a field without checking for an earlier one of the same name.
    /// Decoders use it for names they know are new; `set` replaces.
    #[inline]
    pub fn push(&mut self, name: impl Into<Str>, value: impl Into<Value>) {
        self.fields.push((name.into(), value.into()));
    }

    /// Appends unless the value is null or an empty string: sources mark
    /// absent values in many ways and ECS fields should simply be absent.
    #[inline]
    pub fn push_some(&mut self, name: impl Into<Str>, value: impl Into<Value>) {
        let v = value.into();
        match &v {
            Value::Null => {}
            Value::Str(s) if s.is_empty() => {}
            _ => self.fields.push((name.into(), v)),
        }
    }

    /// Sets a field, replacing an existing one of the same name in place.
    pub fn set(&mut self, name: impl Into<Str>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name, value)),
        }
    }

    /// Looks a field up by its exact name. `@timestamp` is a struct field and
    /// is not found here; use `timestamp`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(k, _)| k.len() == name.len() && k.as_str() == name)
            .map(|(_, v)| v)
    }

    /// Like `get`, but also walks into nested objects: `dns.answers` finds a
    /// field named `dns` holding an object with `answers`.
    pub fn lookup(&self, path: &str) -> Option<&Value> {
        if let Some(v) = self.get(path) {
            return Some(v);
        }
        let mut split = path.len();
        while let Some(dot) = path[..split].rfind('.') {
            if let Some(v) = self.get(&path[..dot]) {
                if let Some(inner) = v.get_path(&path[dot + 1..]) {
                    return Some(inner);
                }
            }
            split = dot;
        }
        None
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(k, _)| k == name)?;
        Some(self.fields.remove(i).1)
    }

    pub fn fields(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn fields_mut(&mut self) -> &mut Vec<(Str, Value)> {
        &mut self.fields
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.timestamp.is_none()
    }

    /// One JSON object: `@timestamp` first (RFC 3339 with its zone), then the
    /// fields in the order the decoder produced them.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Appends the JSON form and a newline to `out`, reusing its buffer.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        // Serialising into a Vec cannot fail for these types.
        let _ = serde_json::to_writer(&mut *out, self);
        out.push(b'\n');
    }

    /// Builds an event back from its JSON form (the output of `taishi parse`).
    pub fn from_json(v: serde_json::Value) -> Option<Event> {
        let serde_json::Value::Object(map) = v else {
            return None;
        };
        let mut ev = Event::with_capacity(map.len());
        for (k, v) in map {
            if k == "@timestamp" {
                ev.timestamp = v
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
            } else {
                ev.fields.push((Str::from(k), Value::from_json(v)));
            }
        }
        Some(ev)
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.fields.len() + usize::from(self.timestamp.is_some());
        let mut map = s.serialize_map(Some(n))?;
        if let Some(ts) = &self.timestamp {
            map.serialize_entry(
                "@timestamp",
                &ts.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            )?;
        }
        for (k, v) in &self.fields {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_flat_and_nested_fields() {
        let mut e = Event::new();
        e.push("id.orig_h", "10.0.0.1");
        e.push(
            "dns",
            Value::Object(vec![("rrname".into(), Value::from("example.com"))]),
        );
        assert_eq!(e.get_str("id.orig_h"), Some("10.0.0.1"));
        assert_eq!(
            e.lookup("dns.rrname").and_then(Value::as_str),
            Some("example.com")
        );
        assert!(e.lookup("dns.nope").is_none());
    }

    #[test]
    fn json_round_trip_keeps_zone_and_order() {
        let mut e = Event::new();
        e.timestamp = Some(DateTime::parse_from_rfc3339("2003-10-11T22:14:15.003+08:00").unwrap());
        e.push("b", 1i64);
        e.push("a", "x");
        let s = e.to_json_string();
        assert_eq!(
            s,
            r#"{"@timestamp":"2003-10-11T22:14:15.003+08:00","b":1,"a":"x"}"#
        );
        let back = Event::from_json(serde_json::from_str(&s).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn set_replaces_in_place() {
        let mut e = Event::new();
        e.push("a", 1i64);
        e.push("b", 2i64);
        e.set("a", 3i64);
        assert_eq!(e.fields().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(e.get("a"), Some(&Value::Int(3)));
    }
}
