//! FIRST EPSS scores: the daily CSV (`cve,epss,percentile`), optionally
//! preceded by FIRST's comment line `#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::kev::is_cve_id;

/// Limits on one file (the full daily file holds ~300,000 rows, ~10 MiB).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes.
    pub max_bytes: usize,
    /// Rows.
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 128 << 20,
            max_rows: 2_000_000,
        }
    }
}

/// Why a file was refused.
#[derive(Debug, Error)]
pub enum EpssError {
    /// Over `max_bytes`.
    #[error("{source_name}: {len} bytes, over the limit of {max}")]
    TooLarge {
        /// The file.
        source_name: String,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Over `max_rows`.
    #[error("{source_name}: more than {max} rows")]
    TooMany {
        /// The file.
        source_name: String,
        /// The limit.
        max: usize,
    },
    /// The header lacks a column.
    #[error("{source_name}: header has no `{column}` column")]
    MissingColumn {
        /// The file.
        source_name: String,
        /// The column.
        column: &'static str,
    },
    /// A bad row.
    #[error("{source_name}: line {line}, field {field}: {message}")]
    Row {
        /// The file.
        source_name: String,
        /// Line (1-based, counting the comment line).
        line: u64,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// One CVE's EPSS.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpssScore {
    /// Probability of exploitation activity in the next 30 days (0–1).
    pub epss: f64,
    /// Percentile among all scored CVEs (0–1).
    pub percentile: f64,
}

/// A day's scores.
#[derive(Clone, Debug, Default)]
pub struct EpssTable {
    /// `model_version` from the comment line.
    pub model_version: Option<String>,
    /// `score_date` from the comment line.
    pub score_date: Option<String>,
    /// Scores by CVE id.
    pub scores: HashMap<String, EpssScore>,
}

impl EpssTable {
    /// The score of a CVE.
    pub fn get(&self, cve: &str) -> Option<EpssScore> {
        self.scores.get(&cve.to_ascii_uppercase()).copied()
    }

    /// Parses a file.
    pub fn from_csv(bytes: &[u8], source_name: &str, limits: &Limits) -> Result<Self, EpssError> {
        if bytes.len() > limits.max_bytes {
            return Err(EpssError::TooLarge {
                source_name: source_name.to_owned(),
                len: bytes.len(),
                max: limits.max_bytes,
            });
        }
        let mut table = Self::default();
        let mut body = bytes;
        let mut line_offset = 0;
        if body.first() == Some(&b'#') {
            let end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
            let comment = String::from_utf8_lossy(&body[1..end]);
            for part in comment.trim().split(',') {
                match part.split_once(':') {
                    Some(("model_version", v)) => table.model_version = Some(v.trim().to_owned()),
                    Some(("score_date", v)) => table.score_date = Some(v.trim().to_owned()),
                    _ => {}
                }
            }
            body = &body[(end + 1).min(body.len())..];
            line_offset = 1;
        }
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(body);
        let row_err = |line: u64, field, message: String| EpssError::Row {
            source_name: source_name.to_owned(),
            line: line + line_offset,
            field,
            message,
        };
        let headers = rdr
            .headers()
            .map_err(|e| row_err(1, "header", e.to_string()))?
            .clone();
        let col = |name: &'static str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or(EpssError::MissingColumn {
                    source_name: source_name.to_owned(),
                    column: name,
                })
        };
        let (ci, ei, pi) = (col("cve")?, col("epss")?, col("percentile")?);
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                row_err(
                    e.position().map(|p| p.line()).unwrap_or(0),
                    "row",
                    e.to_string(),
                )
            })?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            if table.scores.len() >= limits.max_rows {
                return Err(EpssError::TooMany {
                    source_name: source_name.to_owned(),
                    max: limits.max_rows,
                });
            }
            let cve = rec.get(ci).unwrap_or_default().trim().to_ascii_uppercase();
            if !is_cve_id(&cve) {
                return Err(row_err(line, "cve", format!("`{cve}` is not a CVE id")));
            }
            let num = |i: usize, field: &'static str| -> Result<f64, EpssError> {
                let s = rec.get(i).unwrap_or_default().trim();
                match s.parse::<f64>() {
                    Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
                    _ => Err(row_err(
                        line,
                        field,
                        format!("`{s}` is not a number in 0–1"),
                    )),
                }
            };
            let score = EpssScore {
                epss: num(ei, "epss")?,
                percentile: num(pi, "percentile")?,
            };
            table.scores.insert(cve, score);
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn with_and_without_comment() {
        let f = "#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\nCVE-2021-44228,0.94358,0.99957\n";
        let t = EpssTable::from_csv(f.as_bytes(), "e.csv", &Limits::default()).unwrap();
        assert_eq!(t.model_version.as_deref(), Some("v2025.03.14"));
        assert_eq!(t.score_date.as_deref(), Some("2025-08-25T12:55:00Z"));
        assert_eq!(t.get("cve-2021-44228").unwrap().epss, 0.94358);
        let bad = "#x\ncve,epss,percentile\nCVE-2021-0001,2.0,0.5\n";
        let e = EpssTable::from_csv(bad.as_bytes(), "b.csv", &Limits::default()).unwrap_err();
        assert!(
            matches!(
                e,
                EpssError::Row {
                    field: "epss",
                    line: 3,
                    ..
                }
            ),
            "{e}"
        );
        assert!(matches!(
            EpssTable::from_csv(b"cve,score\n", "h.csv", &Limits::default()),
            Err(EpssError::MissingColumn { column: "epss", .. })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = EpssTable::from_csv(s.as_bytes(), "f", &Limits::default());
            let _ = EpssTable::from_csv(format!("#{s}\ncve,epss,percentile\n{s}").as_bytes(), "f", &Limits::default());
        }
    }
}
