//! One JSON object straight into a flat [`Event`]: nested objects become
//! dotted names (`alert.signature`, `id.orig_h`), arrays stay arrays. Shared
//! by the JSON-per-line decoders (Suricata EVE, Zeek JSON). Walking the parser
//! with a visitor avoids building a `serde_json::Value` tree per line and
//! then copying it into the event; strings go once from the input into
//! inline `Str`s.

use std::fmt;

use crate::{Event, Str, Value};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Parses `line` as one JSON object and appends its leaves to `ev`.
pub fn flatten_object(line: &[u8], ev: &mut Event) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let mut prefix = String::with_capacity(64);
    de::Deserializer::deserialize_map(
        &mut de,
        ObjectVisitor {
            ev,
            prefix: &mut prefix,
        },
    )?;
    de.end()
}

struct ObjectVisitor<'a> {
    ev: &'a mut Event,
    prefix: &'a mut String,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.prefix.len();
        let mut any = false;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            any = true;
            if base > 0 {
                self.prefix.push('.');
            }
            self.prefix.push_str(&key);
            map.next_value_seed(FieldSeed {
                ev: self.ev,
                prefix: self.prefix,
            })?;
            self.prefix.truncate(base);
        }
        // An empty nested object still says the source had the field.
        if !any && base > 0 {
            self.ev
                .push(self.prefix.as_str(), Value::Object(Vec::new()));
        }
        Ok(())
    }
}

/// A key, borrowed from the input unless it holds escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = std::borrow::Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v))
    }
}

/// A member value: objects recurse into dotted names, anything else is
/// pushed under the current prefix.
struct FieldSeed<'a> {
    ev: &'a mut Event,
    prefix: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl FieldSeed<'_> {
    fn put(self, v: Value) {
        self.ev.push(self.prefix.as_str(), v);
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.put(Value::Bool(v));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.put(Value::Int(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.put(int_value(v));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.put(Value::Float(v));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.put(Value::Str(Str::from(v)));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.put(Value::Null);
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.put(Value::Null);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(v) = seq.next_element_seed(ValueSeed)? {
            items.push(v);
        }
        self.put(Value::Array(items));
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        ObjectVisitor {
            ev: self.ev,
            prefix: self.prefix,
        }
        .visit_map(map)
    }
}

/// Non-negative integers become `Int` when they fit, as
/// `Value::from_json` does, so that equal numbers compare equal whichever
/// decoder produced them.
fn int_value(v: u64) -> Value {
    i64::try_from(v).map_or(Value::UInt(v), Value::Int)
}

/// A value inside an array: kept in its own shape (objects stay objects).
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(int_value(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(Str::from(v)))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(v) = seq.next_element_seed(ValueSeed)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(4));
        while let Some(k) = map.next_key_seed(KeySeed)? {
            let v = map.next_value_seed(ValueSeed)?;
            fields.push((Str::from(k.as_ref()), v));
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_objects_become_dotted_names_and_arrays_stay() {
        let mut ev = Event::new();
        flatten_object(
            br#"{"a":1,"b":{"c":"x","d":{"e":true}},"f":[{"g":1},2],"h":{},"i":null,"big":18446744073709551615}"#,
            &mut ev,
        )
        .unwrap();
        let names: Vec<_> = ev.fields().map(|(k, _)| k.to_owned()).collect();
        assert_eq!(names, ["a", "b.c", "b.d.e", "f", "h", "i", "big"]);
        assert_eq!(ev.get("a"), Some(&Value::Int(1)));
        assert_eq!(ev.get("big"), Some(&Value::UInt(u64::MAX)));
        assert_eq!(
            ev.get("f"),
            Some(&Value::Array(vec![
                Value::Object(vec![("g".into(), Value::Int(1))]),
                Value::Int(2)
            ]))
        );
    }

    #[test]
    fn non_objects_and_trailing_text_fail() {
        let mut ev = Event::new();
        assert!(flatten_object(b"[1]", &mut ev).is_err());
        assert!(flatten_object(b"{\"a\":1} x", &mut ev).is_err());
        assert!(flatten_object(b"{\"a\":", &mut ev).is_err());
    }
}
