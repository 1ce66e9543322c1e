//! Software identities: CPE 2.3 names and package URLs, in a light parsed
//! form. The full CPE matching (NVD configurations, version ranges) lives in
//! `taishi-vuln`; here a name only has to be read, normalised and written
//! back, so that imports from Nmap (CPE 2.2 URIs), Nessus, Grype and CSV files
//! all land in one spelling.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a CPE or purl string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoftwareError {
    #[error("not a CPE name (expected `cpe:2.3:` or `cpe:/`): {0}")]
    NotCpe(String),
    #[error("CPE part must be a, o or h: {0}")]
    BadPart(String),
    #[error("CPE 2.3 name has {found} components, 13 expected: {name}")]
    Components { name: String, found: usize },
    #[error("not a package URL (expected `pkg:type/name`): {0}")]
    NotPurl(String),
}

/// A CPE 2.3 name: its eleven attributes, unescaped. `*` is ANY and `-` is
/// NA, as in the formatted-string binding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cpe {
    pub part: char,
    pub vendor: String,
    pub product: String,
    pub version: String,
    pub update: String,
    pub edition: String,
    pub language: String,
    pub sw_edition: String,
    pub target_sw: String,
    pub target_hw: String,
    pub other: String,
}

impl Cpe {
    /// Reads a CPE 2.3 formatted string (`cpe:2.3:a:openbsd:openssh:7.4:…`)
    /// or a CPE 2.2 URI (`cpe:/a:openbsd:openssh:7.4`, what Nmap and older
    /// Nessus plugins print). Vendor and product are lower-cased: NVD's
    /// dictionary is lower case and scanners are not always.
    pub fn parse(s: &str) -> Result<Cpe, SoftwareError> {
        let s = s.trim();
        let lower = s.get(..6).map(str::to_ascii_lowercase).unwrap_or_default();
        if lower.starts_with("cpe:2.") {
            Self::parse_formatted(s)
        } else if lower.starts_with("cpe:/") {
            Self::parse_uri(s)
        } else {
            Err(SoftwareError::NotCpe(s.to_string()))
        }
    }

    fn parse_formatted(s: &str) -> Result<Cpe, SoftwareError> {
        let mut parts: Vec<String> = Vec::with_capacity(13);
        let mut cur = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                ':' => parts.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        parts.push(cur);
        if parts.len() != 13 {
            return Err(SoftwareError::Components {
                name: s.to_string(),
                found: parts.len(),
            });
        }
        let mut it = parts.into_iter().skip(2);
        let mut next = || it.next().unwrap_or_else(|| "*".into());
        let part = part_char(&next(), s)?;
        Ok(Cpe {
            part,
            vendor: next().to_lowercase(),
            product: next().to_lowercase(),
            version: next(),
            update: next(),
            edition: next(),
            language: next(),
            sw_edition: next(),
            target_sw: next(),
            target_hw: next(),
            other: next(),
        })
    }

    fn parse_uri(s: &str) -> Result<Cpe, SoftwareError> {
        // cpe:/part:vendor:product:version:update:edition:language; a
        // missing or empty component is ANY (CPE 2.3 name matching, 6.1.3).
        let comps: Vec<String> = s[5..].split(':').map(percent_decode).collect();
        let get = |i: usize| -> String {
            match comps.get(i).map(String::as_str) {
                None | Some("") => "*".into(),
                Some(v) => v.to_string(),
            }
        };
        // A packed edition (`~edition~sw_edition~target_sw~target_hw~other`)
        // is how 2.2 carries the extended attributes.
        let edition = get(5);
        let packed: Vec<String> = match edition.strip_prefix('~') {
            Some(p) => p
                .split('~')
                .map(|v| {
                    if v.is_empty() {
                        "*".into()
                    } else {
                        v.to_string()
                    }
                })
                .collect(),
            None => vec![edition],
        };
        let ext = |i: usize| packed.get(i).cloned().unwrap_or_else(|| "*".into());
        Ok(Cpe {
            part: part_char(&get(0), s)?,
            vendor: get(1).to_lowercase(),
            product: get(2).to_lowercase(),
            version: get(3),
            update: get(4),
            edition: ext(0),
            language: get(6),
            sw_edition: ext(1),
            target_sw: ext(2),
            target_hw: ext(3),
            other: ext(4),
        })
    }

    /// The CPE 2.3 formatted string, with the binding's escaping.
    pub fn formatted(&self) -> String {
        let mut out = String::with_capacity(64);
        out.push_str("cpe:2.3:");
        out.push(self.part);
        for v in [
            &self.vendor,
            &self.product,
            &self.version,
            &self.update,
            &self.edition,
            &self.language,
            &self.sw_edition,
            &self.target_sw,
            &self.target_hw,
            &self.other,
        ] {
            out.push(':');
            escape_fs(v, &mut out);
        }
        out
    }
}

impl fmt::Display for Cpe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formatted())
    }
}

fn part_char(p: &str, whole: &str) -> Result<char, SoftwareError> {
    match p {
        "a" | "o" | "h" => Ok(p.as_bytes()[0] as char),
        _ => Err(SoftwareError::BadPart(whole.to_string())),
    }
}

/// Escapes a value for the formatted-string binding: `*` and `-` alone are
/// the logical values ANY and NA; inside a value every character other than
/// letters, digits, `_`, `.` and `-` is quoted (CPE 2.3 naming, 6.2.2.1).
fn escape_fs(v: &str, out: &mut String) {
    if v == "*" || v == "-" || v.is_empty() {
        out.push_str(if v.is_empty() { "*" } else { v });
        return;
    }
    for c in v.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') || !c.is_ascii() {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A package URL (`pkg:type/namespace/name@version?qualifiers#subpath`),
/// percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Purl {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// Kept as written (`arch=x86_64&distro=debian-10`): only matching
    /// needs them apart.
    pub qualifiers: Option<String>,
    pub subpath: Option<String>,
}

impl Purl {
    pub fn parse(s: &str) -> Result<Purl, SoftwareError> {
        let t = s.trim();
        let rest = t
            .strip_prefix("pkg:")
            .ok_or_else(|| SoftwareError::NotPurl(s.to_string()))?;
        let rest = rest.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((a, b)) => (a, Some(percent_decode(b))),
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((a, b)) => (a, Some(b.to_string())),
            None => (rest, None),
        };
        let (rest, version) = match rest.rsplit_once('@') {
            Some((a, b)) if !b.contains('/') => (a, Some(percent_decode(b))),
            _ => (rest, None),
        };
        let (ty, path) = rest
            .split_once('/')
            .ok_or_else(|| SoftwareError::NotPurl(s.to_string()))?;
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => (Some(percent_decode(ns)), percent_decode(n)),
            None => (None, percent_decode(path)),
        };
        if ty.is_empty() || name.is_empty() {
            return Err(SoftwareError::NotPurl(s.to_string()));
        }
        Ok(Purl {
            ty: ty.to_ascii_lowercase(),
            namespace,
            name,
            version,
            qualifiers,
            subpath,
        })
    }
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        if let Some(q) = &self.qualifiers {
            write!(f, "?{q}")?;
        }
        if let Some(p) = &self.subpath {
            write!(f, "#{p}")?;
        }
        Ok(())
    }
}

/// One piece of software on an asset: a CPE, a purl, or only a name and
/// version (what an inventory spreadsheet often has).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Software {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpe: Option<Cpe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<Purl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Software {
    /// Reads one software cell: a CPE, a purl, or `name version` /
    /// `name@version` / `name`.
    pub fn parse_cell(s: &str) -> Result<Software, SoftwareError> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("cpe:") {
            return Ok(Software::from_cpe(Cpe::parse(s)?));
        }
        if lower.starts_with("pkg:") {
            return Ok(Software::from_purl(Purl::parse(s)?));
        }
        let (name, version) = match s.rsplit_once(['@', ' ']) {
            Some((n, v)) if !n.trim().is_empty() && !v.is_empty() => {
                (n.trim().to_string(), Some(v.to_string()))
            }
            _ => (s.to_string(), None),
        };
        Ok(Software {
            cpe: None,
            purl: None,
            name: Some(name),
            version,
        })
    }

    pub fn from_cpe(cpe: Cpe) -> Software {
        let version = (cpe.version != "*" && cpe.version != "-").then(|| cpe.version.clone());
        Software {
            name: Some(cpe.product.clone()),
            version,
            cpe: Some(cpe),
            purl: None,
        }
    }

    pub fn from_purl(purl: Purl) -> Software {
        Software {
            name: Some(purl.name.clone()),
            version: purl.version.clone(),
            cpe: None,
            purl: Some(purl),
        }
    }
}
