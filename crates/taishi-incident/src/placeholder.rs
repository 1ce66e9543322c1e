//! Placeholder values (`-`, `unknown`, `localhost`, `SYSTEM`, loopback …)
//! that must never join alerts: data in `data/placeholders.yaml`.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::data::{parse_yaml, DataError};

const FILE: &str = "data/placeholders.yaml";
const YAML: &str = include_str!("../data/placeholders.yaml");

/// At most this many placeholder values.
pub const MAX_VALUES: usize = 10_000;

#[derive(Deserialize)]
struct PlaceholderFile {
    values: Vec<String>,
}

/// The set of placeholder values, lowercased.
#[derive(Debug, Clone)]
pub struct Placeholders {
    values: HashSet<String>,
}

impl Placeholders {
    pub fn builtin() -> &'static Placeholders {
        static P: OnceLock<Placeholders> = OnceLock::new();
        P.get_or_init(|| {
            Placeholders::from_yaml(FILE, YAML).expect("the built-in list is checked by the tests")
        })
    }

    pub fn from_yaml(file: &str, text: &str) -> Result<Placeholders, DataError> {
        let f: PlaceholderFile = parse_yaml(file, text)?;
        if f.values.len() > MAX_VALUES {
            return Err(DataError::invalid(file, "values", "too many values"));
        }
        Ok(Placeholders {
            values: f.values.iter().map(|v| v.trim().to_lowercase()).collect(),
        })
    }

    /// True when `v` names nothing. Allocates only for values with
    /// uppercase letters (most values are already lowercase or digits).
    pub fn is_placeholder(&self, v: &str) -> bool {
        let v = v.trim();
        if v.is_empty() {
            return true;
        }
        if v.bytes().any(|b| b.is_ascii_uppercase()) || !v.is_ascii() {
            self.values.contains(&v.to_lowercase())
        } else {
            self.values.contains(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_placeholders_are_in() {
        let p = Placeholders::builtin();
        for v in [
            "-",
            "unknown",
            "localhost",
            "SYSTEM",
            "",
            "  ",
            "127.0.0.1",
            "Unknown",
            "::1",
        ] {
            assert!(p.is_placeholder(v), "{v:?}");
        }
        for v in ["WS01", "bob", "10.0.0.1", "systemd"] {
            assert!(!p.is_placeholder(v), "{v:?}");
        }
    }
}
