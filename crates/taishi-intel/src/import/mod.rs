//! Importers: each turns one input into indicators plus an [`ImportError`]
//! for every entry it could not use, naming the entry and the reason.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::model::{ImportError, Indicator};

pub mod abusech;
pub mod csv;
pub mod misp;
pub mod stix;

pub use self::csv::CsvMapping;

/// Input formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// A STIX 2.1 bundle (or a TAXII envelope of objects).
    Stix,
    /// A MISP event (`{"Event": …}`, a bare event, or a REST search result).
    MispEvent,
    /// A MISP feed: `manifest.json` and one file per event beside it.
    MispFeed,
    /// A MISP warninglist (`list.json`).
    Warninglist,
    /// abuse.ch Feodo Tracker IP blocklist (CSV).
    Feodo,
    /// abuse.ch URLhaus CSV dump.
    Urlhaus,
    /// abuse.ch ThreatFox (API JSON, JSON export, or NDJSON records).
    ThreatFox,
    /// abuse.ch MalwareBazaar (API JSON or NDJSON records).
    MalwareBazaar,
    /// CSV with a column mapping.
    Csv(CsvMapping),
    /// One value per line, type guessed per value, `#` comments.
    Text,
}

impl Format {
    pub fn name(&self) -> &'static str {
        match self {
            Format::Stix => "stix",
            Format::MispEvent => "misp",
            Format::MispFeed => "misp-feed",
            Format::Warninglist => "warninglist",
            Format::Feodo => "feodo",
            Format::Urlhaus => "urlhaus",
            Format::ThreatFox => "threatfox",
            Format::MalwareBazaar => "malwarebazaar",
            Format::Csv(_) => "csv",
            Format::Text => "text",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--format` that names no import format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("unknown format {0:?} (stix, misp, misp-feed, warninglist, feodo, urlhaus, threatfox, malwarebazaar, csv[:MAPPING], text)")]
    Unknown(String),
    #[error(transparent)]
    Csv(#[from] csv::MappingError),
}

impl FromStr for Format {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Format, FormatError> {
        Ok(match s {
            "stix" => Format::Stix,
            "misp" | "misp-event" => Format::MispEvent,
            "misp-feed" => Format::MispFeed,
            "warninglist" => Format::Warninglist,
            "feodo" => Format::Feodo,
            "urlhaus" => Format::Urlhaus,
            "threatfox" => Format::ThreatFox,
            "malwarebazaar" => Format::MalwareBazaar,
            "text" => Format::Text,
            s if s == "csv" || s.starts_with("csv:") => {
                Format::Csv(CsvMapping::parse(s.strip_prefix("csv:").unwrap_or(""))?)
            }
            other => return Err(FormatError::Unknown(other.to_string())),
        })
    }
}

/// What one input gave.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub indicators: Vec<Indicator>,
    pub errors: Vec<ImportError>,
    /// Entries read but not indicators Taishi matches on (MISP `text`,
    /// `comment`, `link` attributes…), counted by kind.
    pub ignored: BTreeMap<String, u64>,
    /// STIX ids revoked by this input (incremental imports remove them).
    pub revoked: Vec<String>,
}

impl Batch {
    pub fn error(&mut self, entry: impl Into<String>, reason: impl std::fmt::Display) {
        self.errors.push(ImportError {
            entry: entry.into(),
            reason: reason.to_string(),
        });
    }
    pub fn ignore(&mut self, what: &str) {
        *self.ignored.entry(what.to_string()).or_default() += 1;
    }
    pub fn extend(&mut self, other: Batch) {
        self.indicators.extend(other.indicators);
        self.errors.extend(other.errors);
        for (k, v) in other.ignored {
            *self.ignored.entry(k).or_default() += v;
        }
        self.revoked.extend(other.revoked);
    }
}

/// Guesses the format from the content (and the name, for CSV dialects).
pub fn detect(name: &str, data: &[u8]) -> Option<Format> {
    let head = &data[..data.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        let has = |k: &str| compact.contains(k);
        if has("\"type\":\"bundle\"") || (has("\"objects\":[") && has("\"spec_version\"")) {
            return Some(Format::Stix);
        }
        if has("\"matching_attributes\"") && has("\"list\":[") {
            return Some(Format::Warninglist);
        }
        if has("\"ioc_type\"") || has("\"ioc_value\"") {
            return Some(Format::ThreatFox);
        }
        if has("\"sha256_hash\"") {
            return Some(Format::MalwareBazaar);
        }
        if has("\"Event\"") || has("\"Attribute\"") || has("\"Object\"") {
            return Some(Format::MispEvent);
        }
        if name.ends_with("manifest.json") || has("\"Orgc\"") {
            return Some(Format::MispFeed);
        }
        return None;
    }
    let lower = t.to_ascii_lowercase();
    if lower.contains("feodo tracker") || lower.contains("\"dst_ip\",\"dst_port\"") {
        return Some(Format::Feodo);
    }
    if lower.contains("urlhaus") || lower.contains("# id,dateadded,url") {
        return Some(Format::Urlhaus);
    }
    Some(Format::Text)
}

/// Parses one input already read into memory. `entry` names it in errors
/// (a file name or URL). MISP feeds need their event files: use
/// [`misp::read_feed_dir`] or [`crate::fetch`] for those.
pub fn parse(format: &Format, entry: &str, source: &str, data: &[u8]) -> Batch {
    match format {
        Format::Stix => stix::parse_bundle(entry, source, data),
        Format::MispEvent => misp::parse_event(entry, source, data),
        Format::MispFeed => {
            let mut b = Batch::default();
            b.error(
                entry,
                "a MISP feed is read from its folder or URL, not from manifest.json alone",
            );
            b
        }
        Format::Warninglist => {
            let mut b = Batch::default();
            b.error(
                entry,
                "a warninglist is not indicators: install it with `taishi intel warninglists add`",
            );
            b
        }
        Format::Feodo => abusech::parse_feodo(entry, source, data),
        Format::Urlhaus => abusech::parse_urlhaus(entry, source, data),
        Format::ThreatFox => abusech::parse_threatfox(entry, source, data),
        Format::MalwareBazaar => abusech::parse_malwarebazaar(entry, source, data),
        Format::Csv(m) => csv::parse_csv(entry, source, data, m),
        Format::Text => csv::parse_text(entry, source, data),
    }
}

/// Timestamps as feeds write them: RFC 3339, `2024-04-04 07:03:03`,
/// `… UTC`, a bare date, or Unix seconds.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let s2 = s.trim_end_matches(" UTC").trim_end_matches('Z');
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s2, f) {
            return Some(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s2, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    if s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(|n| DateTime::from_timestamp(n, 0));
    }
    None
}
