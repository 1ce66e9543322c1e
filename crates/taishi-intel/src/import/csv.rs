//! CSV with a column mapping, plain value lists, and the small RFC 4180
//! record splitter the abuse.ch CSV formats share.

use super::{parse_time, Batch};
use crate::model::{Indicator, IndicatorError, IndicatorType};

/// Which columns hold what (1-based in the written form, 0-based here).
///
/// Written `value=1,type=2,malware=3,labels=4,first_seen=5,last_seen=6,confidence=7`,
/// optionally with `kind=domain` (every row one type), `delimiter=;` and
/// `header` (skip the first non-comment line). Columns may also be header
/// names: `value=ioc,type=ioc_type`. Unmapped type: guessed per value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsvMapping {
    pub value: Col,
    pub kind_column: Option<Col>,
    pub kind: Option<IndicatorType>,
    pub malware: Option<Col>,
    pub labels: Option<Col>,
    pub first_seen: Option<Col>,
    pub last_seen: Option<Col>,
    pub confidence: Option<Col>,
    pub delimiter: u8,
    pub header: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Col {
    Index(usize),
    Name(String),
}

impl Default for Col {
    fn default() -> Self {
        Col::Index(0)
    }
}

/// A `--csv` column mapping that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Kind(#[from] IndicatorError),
}

impl From<String> for MappingError {
    fn from(s: String) -> MappingError {
        MappingError::Invalid(s)
    }
}

impl CsvMapping {
    pub fn parse(spec: &str) -> Result<CsvMapping, MappingError> {
        let mut m = CsvMapping {
            delimiter: b',',
            ..Default::default()
        };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "header" {
                m.header = true;
                continue;
            }
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("column mapping {part:?}: expected name=column"))?;
            let col = || -> Result<Col, MappingError> {
                match v.parse::<usize>() {
                    Ok(0) => Err(format!("column mapping {part:?}: columns count from 1").into()),
                    Ok(n) => Ok(Col::Index(n - 1)),
                    Err(_) => Ok(Col::Name(v.to_string())),
                }
            };
            match k {
                "value" => m.value = col()?,
                "type" => m.kind_column = Some(col()?),
                "kind" => m.kind = Some(v.parse::<IndicatorType>()?),
                "malware" => m.malware = Some(col()?),
                "labels" | "tags" => m.labels = Some(col()?),
                "first_seen" => m.first_seen = Some(col()?),
                "last_seen" => m.last_seen = Some(col()?),
                "confidence" => m.confidence = Some(col()?),
                "delimiter" => {
                    m.delimiter = match v {
                        "tab" | "\\t" => b'\t',
                        v if v.len() == 1 => v.as_bytes()[0],
                        _ => return Err(format!("delimiter {v:?}: one character or tab").into()),
                    }
                }
                other => return Err(format!("column mapping: unknown key {other:?}").into()),
            }
        }
        if matches!(m.value, Col::Name(_)) {
            m.header = true;
        }
        Ok(m)
    }
}

/// Splits one CSV record (quotes, doubled quotes inside quotes).
pub fn split_record(line: &str, delim: u8) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    let d = delim as char;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && cur.is_empty() {
            quoted = true;
        } else if c == d {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Lines that are data: not empty, not `#` comments; with their 1-based
/// line numbers.
pub fn data_lines(data: &[u8]) -> impl Iterator<Item = (usize, &str)> {
    let text = std::str::from_utf8(data).unwrap_or("");
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
}

pub fn parse_csv(entry: &str, source: &str, data: &[u8], m: &CsvMapping) -> Batch {
    let mut b = Batch::default();
    if std::str::from_utf8(data).is_err() {
        b.error(entry, "not UTF-8 text");
        return b;
    }
    let mut header: Option<Vec<String>> = None;
    let mut first = true;
    for (no, line) in data_lines(data) {
        let rec = split_record(line, m.delimiter);
        if first && m.header {
            first = false;
            header = Some(rec.iter().map(|s| s.trim().to_string()).collect());
            continue;
        }
        first = false;
        let where_ = format!("{entry}:{no}");
        let idx = |c: &Col| -> Option<usize> {
            match c {
                Col::Index(i) => Some(*i),
                Col::Name(n) => header.as_ref()?.iter().position(|h| h == n),
            }
        };
        let get = |c: &Option<Col>| -> Option<&str> {
            c.as_ref()
                .and_then(idx)
                .and_then(|i| rec.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let Some(value) = idx(&m.value).and_then(|i| rec.get(i)).map(|s| s.trim()) else {
            b.error(where_, "no value column in this row");
            continue;
        };
        let kind = match (m.kind, get(&m.kind_column)) {
            (Some(k), _) => Ok(k),
            (None, Some(t)) => t.parse::<IndicatorType>(),
            (None, None) => IndicatorType::guess(value)
                .ok_or_else(|| IndicatorError::Unrecognised(value.to_string())),
        };
        let kind = match kind {
            Ok(k) => k,
            Err(e) => {
                b.error(where_, e);
                continue;
            }
        };
        match Indicator::parse(kind, value, source) {
            Ok(mut ind) => {
                if let Some(mw) = get(&m.malware) {
                    ind.malware.push(mw.to_string());
                }
                if let Some(ls) = get(&m.labels) {
                    ind.labels = ls
                        .split([',', ';', '|'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                }
                ind.first_seen = get(&m.first_seen).and_then(parse_time);
                ind.last_seen = get(&m.last_seen).and_then(parse_time);
                ind.confidence = get(&m.confidence)
                    .and_then(|c| c.parse::<u8>().ok())
                    .map(|c| c.min(100));
                b.indicators.push(ind);
            }
            Err(e) => b.error(where_, e),
        }
    }
    b
}

pub fn parse_text(entry: &str, source: &str, data: &[u8]) -> Batch {
    let mut b = Batch::default();
    if std::str::from_utf8(data).is_err() {
        b.error(entry, "not UTF-8 text");
        return b;
    }
    for (no, line) in data_lines(data) {
        // Hosts-file style lines (`0.0.0.0 evil.example`) and trailing
        // comments are common in blocklists.
        let line = line.split(" #").next().unwrap_or(line).trim();
        let value = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [ip, host] if *ip == "0.0.0.0" || *ip == "127.0.0.1" => *host,
            [v] => *v,
            _ => line,
        };
        let where_ = format!("{entry}:{no}");
        match IndicatorType::guess(value) {
            Some(k) => match Indicator::parse(k, value, source) {
                Ok(ind) => b.indicators.push(ind),
                Err(e) => b.error(where_, e),
            },
            None => b.error(where_, format!("cannot tell the type of {value:?}")),
        }
    }
    b
}
