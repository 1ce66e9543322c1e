//! CPE 2.3 names: the formatted-string binding (`cpe:2.3:a:vendor:…`, all
//! 11 attributes, `\` escapes, `*` = ANY, `-` = NA, `*`/`?` wildcards at
//! either end of a value), the 2.2 URI binding (`cpe:/a:vendor:product:…`,
//! as Nmap writes it), and attribute comparison after NISTIR 7696 (CPE Name
//! Matching).
//!
//! Values are kept unescaped and lower-cased (CPE is case-insensitive and
//! NVD writes lower case), with their wildcards apart, so comparing two
//! literal values is a string comparison.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest CPE string accepted (NVD's longest names are a few hundred bytes).
pub const MAX_CPE_LEN: usize = 1024;

/// The 11 attributes, in binding order.
pub const ATTRIBUTES: [&str; 11] = [
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
];

/// Index of `part` in [`Cpe::attrs`].
pub const PART: usize = 0;
/// Index of `vendor`.
pub const VENDOR: usize = 1;
/// Index of `product`.
pub const PRODUCT: usize = 2;
/// Index of `version`.
pub const VERSION: usize = 3;
/// Index of `update`.
pub const UPDATE: usize = 4;

/// A wildcard at one end of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Wild {
    /// None.
    #[default]
    None,
    /// `*`: any run of characters (also none).
    Star,
    /// `?`×n: exactly n characters.
    Any(u8),
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Attr {
    /// `*`: any value.
    Any,
    /// `-`: not applicable.
    Na,
    /// A value: literal text (unescaped, lower-case) with optional
    /// wildcards before and after.
    Value {
        /// Wildcard before the text.
        lead: Wild,
        /// The literal text.
        text: Box<str>,
        /// Wildcard after the text.
        trail: Wild,
    },
}

impl Attr {
    /// A literal value (lower-cased).
    pub fn literal(s: &str) -> Self {
        Self::Value {
            lead: Wild::None,
            text: s.to_ascii_lowercase().into(),
            trail: Wild::None,
        }
    }

    /// The literal text, when the value has no wildcards.
    pub fn as_literal(&self) -> Option<&str> {
        match self {
            Self::Value {
                lead: Wild::None,
                text,
                trail: Wild::None,
            } => Some(text),
            _ => None,
        }
    }

    fn has_wildcards(&self) -> bool {
        matches!(self, Self::Value { lead, trail, .. } if *lead != Wild::None || *trail != Wild::None)
    }
}

/// A CPE name: the 11 attributes in binding order ([`ATTRIBUTES`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cpe {
    /// part, vendor, product, version, update, edition, language,
    /// sw_edition, target_sw, target_hw, other.
    pub attrs: [Attr; 11],
}

/// Why a CPE string was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CpeError {
    /// Over [`MAX_CPE_LEN`].
    #[error("CPE is {len} bytes, over the limit of {MAX_CPE_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Neither `cpe:2.3:` nor `cpe:/`.
    #[error("`{cpe}` is not a CPE 2.3 formatted string (cpe:2.3:…) nor a 2.2 URI (cpe:/…)")]
    Prefix {
        /// The input.
        cpe: String,
    },
    /// Wrong number of attributes.
    #[error("`{cpe}`: {found} attributes, a CPE 2.3 formatted string has 11")]
    Count {
        /// The input.
        cpe: String,
        /// How many were found.
        found: usize,
    },
    /// A bad attribute value.
    #[error("`{cpe}`: attribute {attribute}: {reason}")]
    Attribute {
        /// The input.
        cpe: String,
        /// Attribute name.
        attribute: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl Cpe {
    /// Parses a 2.3 formatted string or a 2.2 URI.
    pub fn parse(s: &str) -> Result<Self, CpeError> {
        let s = s.trim();
        if s.len() > MAX_CPE_LEN {
            return Err(CpeError::TooLong { len: s.len() });
        }
        if let Some(rest) = strip_prefix_ci(s, "cpe:2.3:") {
            parse_fs(s, rest)
        } else if let Some(rest) = strip_prefix_ci(s, "cpe:/") {
            parse_uri(s, rest)
        } else {
            Err(CpeError::Prefix { cpe: s.to_owned() })
        }
    }

    /// The `part` letter (`a`, `o`, `h`), if a literal.
    pub fn part(&self) -> Option<&str> {
        self.attrs[PART].as_literal()
    }
    /// The vendor, if a literal.
    pub fn vendor(&self) -> Option<&str> {
        self.attrs[VENDOR].as_literal()
    }
    /// The product, if a literal.
    pub fn product(&self) -> Option<&str> {
        self.attrs[PRODUCT].as_literal()
    }
    /// The version attribute.
    pub fn version(&self) -> &Attr {
        &self.attrs[VERSION]
    }
    /// The update attribute.
    pub fn update(&self) -> &Attr {
        &self.attrs[UPDATE]
    }

    /// The version to compare against ranges: `version`, followed by
    /// `update` when the update is a literal (`5.0` + `rc1` → `5.0-rc1`,
    /// `1.8.0` + `update_181` → `1.8.0-update_181`), since NVD splits
    /// what vendors write as one version. `None` when the version is not a
    /// literal.
    pub fn range_version(&self) -> Option<String> {
        let v = self.attrs[VERSION].as_literal()?;
        Some(match self.attrs[UPDATE].as_literal() {
            Some(u) if !u.is_empty() => format!("{v}-{u}"),
            _ => v.to_owned(),
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

fn attr_err(cpe: &str, i: usize, reason: &'static str) -> CpeError {
    CpeError::Attribute {
        cpe: cpe.to_owned(),
        attribute: ATTRIBUTES[i],
        reason,
    }
}

fn parse_fs(whole: &str, rest: &str) -> Result<Cpe, CpeError> {
    // Split on unescaped ':'.
    let mut fields: Vec<&str> = Vec::with_capacity(11);
    let b = rest.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b':' => {
                fields.push(&rest[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
        if fields.len() > 11 {
            break;
        }
    }
    fields.push(&rest[start.min(rest.len())..]);
    if fields.len() != 11 {
        return Err(CpeError::Count {
            cpe: whole.to_owned(),
            found: fields.len(),
        });
    }
    let mut attrs: [Attr; 11] = std::array::from_fn(|_| Attr::Any);
    for (i, f) in fields.iter().enumerate() {
        attrs[i] = parse_fs_value(f).map_err(|r| attr_err(whole, i, r))?;
    }
    check_part(whole, &attrs[PART])?;
    Ok(Cpe { attrs })
}

fn check_part(whole: &str, part: &Attr) -> Result<(), CpeError> {
    match part {
        Attr::Any => Ok(()),
        Attr::Value { .. } if matches!(part.as_literal(), Some("a" | "o" | "h")) => Ok(()),
        _ => Err(attr_err(whole, PART, "part must be a, o, h or *")),
    }
}

/// Unbinds one formatted-string value.
fn parse_fs_value(f: &str) -> Result<Attr, &'static str> {
    match f {
        "*" | "" => return Ok(Attr::Any),
        "-" => return Ok(Attr::Na),
        _ => {}
    }
    let chars: Vec<char> = f.chars().collect();
    let mut lead = Wild::None;
    let mut trail = Wild::None;
    let mut text = String::with_capacity(f.len());
    let mut i = 0;
    // Leading wildcard.
    if chars.first() == Some(&'*') {
        lead = Wild::Star;
        i = 1;
    } else {
        let q = chars.iter().take_while(|c| **c == '?').count();
        if q > 0 {
            lead = Wild::Any(q.min(255) as u8);
            i = q;
        }
    }
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let next = *chars.get(i + 1).ok_or("ends with a lone backslash")?;
                text.push(next.to_ascii_lowercase());
                i += 2;
            }
            '*' => {
                if i + 1 != chars.len() {
                    return Err("an unescaped * may only stand at either end");
                }
                trail = Wild::Star;
                i += 1;
            }
            '?' => {
                let q = chars[i..].iter().take_while(|c| **c == '?').count();
                if i + q != chars.len() {
                    return Err("an unescaped ? may only stand at either end");
                }
                trail = Wild::Any(q.min(255) as u8);
                i += q;
            }
            c if c.is_control() || c == ' ' => return Err("contains a space or control character"),
            c => {
                text.push(c.to_ascii_lowercase());
                i += 1;
            }
        }
    }
    if text.is_empty() && (lead != Wild::None || trail != Wild::None) {
        // `**`, `*?`: as broad as ANY for matching purposes.
        return Ok(Attr::Any);
    }
    Ok(Attr::Value {
        lead,
        text: text.into(),
        trail,
    })
}

fn percent_decode(s: &str) -> Result<String, &'static str> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("truncated % escape")?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| "bad % escape")?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "% escapes are not UTF-8")
}

fn parse_uri_value(f: &str) -> Result<Attr, &'static str> {
    match f {
        "" => return Ok(Attr::Any),
        "-" => return Ok(Attr::Na),
        _ => {}
    }
    // %01 is `?` and %02 is `*` as wildcards in the 2.2 binding.
    let lead = if f.starts_with("%02") {
        Wild::Star
    } else if f.starts_with("%01") {
        Wild::Any(1)
    } else {
        Wild::None
    };
    let trail = if f.len() > 3 && f.ends_with("%02") {
        Wild::Star
    } else if f.len() > 3 && f.ends_with("%01") {
        Wild::Any(1)
    } else {
        Wild::None
    };
    let inner = &f
        [if lead == Wild::None { 0 } else { 3 }..f.len() - if trail == Wild::None { 0 } else { 3 }];
    let text = percent_decode(inner)?.to_ascii_lowercase();
    if text.chars().any(|c| c.is_control() || c == ' ') {
        return Err("contains a space or control character");
    }
    Ok(Attr::Value {
        lead,
        text: text.into(),
        trail,
    })
}

fn parse_uri(whole: &str, rest: &str) -> Result<Cpe, CpeError> {
    let fields: Vec<&str> = rest.splitn(8, ':').collect();
    if fields.len() > 7 {
        return Err(CpeError::Count {
            cpe: whole.to_owned(),
            found: fields.len(),
        });
    }
    let mut attrs: [Attr; 11] = std::array::from_fn(|_| Attr::Any);
    for (i, f) in fields.iter().enumerate() {
        if i == 5 && f.starts_with('~') {
            // Packed edition: ~edition~sw_edition~target_sw~target_hw~other.
            let packed: Vec<&str> = f[1..].split('~').collect();
            if packed.len() != 5 {
                return Err(attr_err(whole, 5, "packed edition needs 5 parts"));
            }
            for (k, p) in packed.iter().enumerate() {
                let idx = [5, 7, 8, 9, 10][k];
                attrs[idx] = parse_uri_value(p).map_err(|r| attr_err(whole, idx, r))?;
            }
            continue;
        }
        let idx = [0, 1, 2, 3, 4, 5, 6][i];
        attrs[idx] = parse_uri_value(f).map_err(|r| attr_err(whole, idx, r))?;
    }
    check_part(whole, &attrs[PART])?;
    Ok(Cpe { attrs })
}

fn write_value(f: &mut fmt::Formatter<'_>, a: &Attr) -> fmt::Result {
    match a {
        Attr::Any => f.write_str("*"),
        Attr::Na => f.write_str("-"),
        Attr::Value { lead, text, trail } => {
            write_wild(f, *lead)?;
            for c in text.chars() {
                if !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-') {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            write_wild(f, *trail)
        }
    }
}

fn write_wild(f: &mut fmt::Formatter<'_>, w: Wild) -> fmt::Result {
    match w {
        Wild::None => Ok(()),
        Wild::Star => f.write_str("*"),
        Wild::Any(n) => (0..n).try_for_each(|_| f.write_str("?")),
    }
}

impl fmt::Display for Cpe {
    /// The 2.3 formatted string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cpe:2.3")?;
        for a in &self.attrs {
            f.write_str(":")?;
            write_value(f, a)?;
        }
        Ok(())
    }
}

/// How a source attribute (the criterion) relates to a target (the asset's),
/// after NISTIR 7696 table 6-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    /// The source covers the target and more.
    Superset,
    /// The same.
    Equal,
    /// The target covers the source and more (the asset's value is unknown).
    Subset,
    /// No overlap.
    Disjoint,
}

fn wild_match(lead: Wild, text: &str, trail: Wild, target: &str) -> bool {
    // Character positions, since `?` counts characters.
    let t: Vec<char> = target.chars().collect();
    let p: Vec<char> = text.chars().collect();
    let fits = |start: usize| -> bool {
        if start + p.len() > t.len() || t[start..start + p.len()] != p[..] {
            return false;
        }
        let after = t.len() - start - p.len();
        match trail {
            Wild::None => after == 0,
            Wild::Star => true,
            Wild::Any(n) => after == n as usize,
        }
    };
    match lead {
        Wild::None => fits(0),
        Wild::Any(n) => fits(n as usize),
        Wild::Star => (0..=t.len()).any(fits),
    }
}

/// Compares one attribute of a source name with the target's.
pub fn relation(source: &Attr, target: &Attr) -> Relation {
    match (source, target) {
        (Attr::Any, Attr::Any) => Relation::Equal,
        (Attr::Any, _) => Relation::Superset,
        (Attr::Na, Attr::Any) => Relation::Subset,
        (Attr::Na, Attr::Na) => Relation::Equal,
        (Attr::Na, Attr::Value { .. }) => Relation::Disjoint,
        (Attr::Value { .. }, Attr::Any) => Relation::Subset,
        (Attr::Value { .. }, Attr::Na) => Relation::Disjoint,
        // A target with wildcards is undefined in the spec; refuse it.
        (_, t) if t.has_wildcards() => Relation::Disjoint,
        (Attr::Value { lead, text, trail }, Attr::Value { text: tt, .. }) => {
            if *lead == Wild::None && *trail == Wild::None {
                if text == tt {
                    Relation::Equal
                } else {
                    Relation::Disjoint
                }
            } else if wild_match(*lead, text, *trail, tt) {
                Relation::Superset
            } else {
                Relation::Disjoint
            }
        }
    }
}

/// Whether `source` matches `target` as a whole name (NISTIR 7696 name
/// match: every attribute Superset or Equal).
pub fn name_matches(source: &Cpe, target: &Cpe) -> bool {
    source
        .attrs
        .iter()
        .zip(&target.attrs)
        .all(|(s, t)| matches!(relation(s, t), Relation::Superset | Relation::Equal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formatted_strings() {
        let c =
            Cpe::parse("cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*").unwrap();
        assert_eq!(c.vendor(), Some("microsoft"));
        assert_eq!(c.version().as_literal(), Some("8.0.6001"));
        assert_eq!(c.attrs[5], Attr::Any);
        assert_eq!(c.range_version().as_deref(), Some("8.0.6001-beta"));
        let c =
            Cpe::parse(r"cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*")
                .unwrap();
        assert_eq!(c.update(), &Attr::Na);
        assert_eq!(c.attrs[9].as_literal(), Some("x64"));
        let c = Cpe::parse(r"cpe:2.3:a:foo\\bar:big\$money_2010:*:*:*:*:special:ipod_touch:80gb:*")
            .unwrap();
        assert_eq!(c.vendor(), Some(r"foo\bar"));
        assert_eq!(c.product(), Some("big$money_2010"));
        assert_eq!(
            c.to_string(),
            r"cpe:2.3:a:foo\\bar:big\$money_2010:*:*:*:*:special:ipod_touch:80gb:*"
        );
        let c = Cpe::parse(r"cpe:2.3:a:vendor:pro\:duct:1.0:*:*:*:*:*:*:*").unwrap();
        assert_eq!(c.product(), Some("pro:duct"));
        let c = Cpe::parse("cpe:2.3:a:apache:http_server:2.4.*:*:*:*:*:*:*:*").unwrap();
        assert!(matches!(
            c.version(),
            Attr::Value {
                trail: Wild::Star,
                ..
            }
        ));
        assert!(Cpe::parse("cpe:2.3:a:x:y:1.*0:*:*:*:*:*:*:*").is_err());
        assert!(matches!(
            Cpe::parse("cpe:2.3:a:x:y:1"),
            Err(CpeError::Count { found: 4, .. })
        ));
        assert!(matches!(
            Cpe::parse("cpe:2.3:q:x:y:1:*:*:*:*:*:*:*"),
            Err(CpeError::Attribute {
                attribute: "part",
                ..
            })
        ));
        assert!(matches!(
            Cpe::parse("cpe:2.3:a:x:y:1:*:*:*:*:*:*:*:*"),
            Err(CpeError::Count { .. })
        ));
        // Upper case is folded: CPE comparisons are case-insensitive.
        assert_eq!(
            Cpe::parse("CPE:2.3:A:Apache:Log4J:2.0:*:*:*:*:*:*:*")
                .unwrap()
                .product(),
            Some("log4j")
        );
    }

    #[test]
    fn uris() {
        let c = Cpe::parse("cpe:/a:openbsd:openssh:7.4").unwrap();
        assert_eq!(c.product(), Some("openssh"));
        assert_eq!(c.version().as_literal(), Some("7.4"));
        assert_eq!(c.update(), &Attr::Any);
        let c = Cpe::parse("cpe:/o:linux:linux_kernel").unwrap();
        assert_eq!(c.version(), &Attr::Any);
        let c = Cpe::parse("cpe:/a:hp:insight:7.4.0.1570::~~online~win2003~x64~").unwrap();
        assert_eq!(c.attrs[7].as_literal(), Some("online"));
        assert_eq!(c.attrs[9].as_literal(), Some("x64"));
        assert_eq!(c.attrs[10], Attr::Any);
        let c = Cpe::parse("cpe:/a:foo%21:bar").unwrap();
        assert_eq!(c.vendor(), Some("foo!"));
    }

    #[test]
    fn relations() {
        let r =
            |s: &str, t: &str| relation(&parse_fs_value(s).unwrap(), &parse_fs_value(t).unwrap());
        assert_eq!(r("*", "x"), Relation::Superset);
        assert_eq!(r("*", "*"), Relation::Equal);
        assert_eq!(r("-", "*"), Relation::Subset);
        assert_eq!(r("-", "-"), Relation::Equal);
        assert_eq!(r("-", "x"), Relation::Disjoint);
        assert_eq!(r("x", "*"), Relation::Subset);
        assert_eq!(r("x", "-"), Relation::Disjoint);
        assert_eq!(r("x", "x"), Relation::Equal);
        assert_eq!(r("x", "y"), Relation::Disjoint);
        assert_eq!(r("2.4*", "2.4.49"), Relation::Superset);
        assert_eq!(r("*.49", "2.4.49"), Relation::Superset);
        assert_eq!(r("2.4.4?", "2.4.49"), Relation::Superset);
        assert_eq!(r("2.4.4?", "2.4.490"), Relation::Disjoint);
        assert_eq!(r("?.4.49", "2.4.49"), Relation::Superset);
        assert_eq!(r("2.5*", "2.4.49"), Relation::Disjoint);
        let src = Cpe::parse("cpe:2.3:a:apache:http_server:*:*:*:*:*:*:*:*").unwrap();
        let tgt = Cpe::parse("cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*").unwrap();
        assert!(name_matches(&src, &tgt));
        assert!(!name_matches(&tgt, &src));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = Cpe::parse(&s);
            let _ = Cpe::parse(&format!("cpe:2.3:{s}"));
            let _ = Cpe::parse(&format!("cpe:/{s}"));
        }

        #[test]
        fn display_round_trips(v in "[a-z0-9_!$%&()+.\\-]{1,12}", p in "[a-z0-9_.:\\\\]{1,12}") {
            let mut c = Cpe::parse("cpe:2.3:a:x:y:*:*:*:*:*:*:*:*").unwrap();
            c.attrs[VENDOR] = Attr::literal(&v);
            c.attrs[PRODUCT] = Attr::literal(&p);
            // A lone "-" literal would print as NA; skip that one case.
            prop_assume!(v != "-" && p != "-");
            let back = Cpe::parse(&c.to_string()).unwrap();
            prop_assert_eq!(back, c);
        }
    }
}
