//! CVSS scores from vector strings, through the RustSec `cvss` crate.
//!
//! The crate computes v2 base/temporal/environmental, v3.0/v3.1
//! base/temporal/environmental and v4.0 (the MacroVector method, whatever of
//! base, threat and environmental the vector carries). This module picks the
//! version from the prefix, checks that the base metrics are all present
//! (the crate accepts partial v3 vectors and scores missing metrics as 0),
//! and turns the result into one [`CvssScore`] with bilingual severity labels.

use std::collections::HashMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::lang::{Label, Lang};

/// Longest vector accepted: a full v4.0 vector with every metric is ~250 bytes.
pub const MAX_VECTOR_LEN: usize = 512;

/// A CVSS version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CvssVersion {
    /// 2.0 (NVD writes its vectors without a prefix).
    #[serde(rename = "2.0")]
    V2,
    /// 3.0.
    #[serde(rename = "3.0")]
    V30,
    /// 3.1.
    #[serde(rename = "3.1")]
    V31,
    /// 4.0.
    #[serde(rename = "4.0")]
    V40,
}

impl CvssVersion {
    /// "2.0", "3.0", "3.1" or "4.0".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2 => "2.0",
            Self::V30 => "3.0",
            Self::V31 => "3.1",
            Self::V40 => "4.0",
        }
    }
}

/// Qualitative severity (v3/v4 scale; v2 uses NVD's Low/Medium/High).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// 0.0.
    None,
    /// 0.1–3.9.
    Low,
    /// 4.0–6.9.
    Medium,
    /// 7.0–8.9 (v2: 7.0–10.0).
    High,
    /// 9.0–10.0.
    Critical,
}

impl Label for Severity {
    fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::None, Lang::ZhCn) => "无",
            (Self::None, Lang::En) => "None",
            (Self::Low, Lang::ZhCn) => "低危",
            (Self::Low, Lang::En) => "Low",
            (Self::Medium, Lang::ZhCn) => "中危",
            (Self::Medium, Lang::En) => "Medium",
            (Self::High, Lang::ZhCn) => "高危",
            (Self::High, Lang::En) => "High",
            (Self::Critical, Lang::ZhCn) => "超危",
            (Self::Critical, Lang::En) => "Critical",
        }
    }
}

impl From<::cvss::Severity> for Severity {
    fn from(s: ::cvss::Severity) -> Self {
        match s {
            ::cvss::Severity::None => Self::None,
            ::cvss::Severity::Low => Self::Low,
            ::cvss::Severity::Medium => Self::Medium,
            ::cvss::Severity::High => Self::High,
            ::cvss::Severity::Critical => Self::Critical,
        }
    }
}

/// The scores of one vector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvssScore {
    /// Version, from the prefix.
    pub version: CvssVersion,
    /// The vector as given (trimmed).
    pub vector: String,
    /// Base score (v4.0: the score of the vector's base metrics alone).
    pub base: f64,
    /// v2/v3 temporal score, when the vector has temporal metrics.
    pub temporal: Option<f64>,
    /// v2/v3 environmental score, when the vector has environmental metrics.
    pub environmental: Option<f64>,
    /// The score to act on: v2/v3 the most specific of environmental,
    /// temporal, base; v4.0 the score of the whole vector (CVSS-B/BT/BE/BTE).
    pub overall: f64,
    /// v4.0 nomenclature of `overall` (CVSS-B, CVSS-BT, CVSS-BE, CVSS-BTE).
    pub nomenclature: Option<String>,
    /// Severity of `overall`.
    pub severity: Severity,
}

/// Why a vector was refused.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CvssError {
    /// Longer than [`MAX_VECTOR_LEN`].
    #[error("CVSS vector is {len} bytes, over the limit of {MAX_VECTOR_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// `CVSS:x.y/` with a version this module does not know.
    #[error("CVSS vector `{vector}`: unknown version prefix")]
    UnknownVersion {
        /// The vector.
        vector: String,
    },
    /// A base metric is missing.
    #[error("CVSS {version} vector `{vector}`: base metric {metric} is missing")]
    MissingBaseMetric {
        /// Version.
        version: &'static str,
        /// The vector.
        vector: String,
        /// The missing metric's abbreviation.
        metric: &'static str,
    },
    /// The `cvss` crate refused the vector.
    #[error("CVSS {version} vector `{vector}`: {reason}")]
    Invalid {
        /// Version.
        version: &'static str,
        /// The vector.
        vector: String,
        /// The crate's message.
        reason: String,
    },
}

const V2_BASE: [&str; 6] = ["AV", "AC", "Au", "C", "I", "A"];
const V2_TEMPORAL: [&str; 3] = ["E", "RL", "RC"];
const V2_ENV: [&str; 5] = ["CDP", "TD", "CR", "IR", "AR"];
const V3_BASE: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
const V3_TEMPORAL: [&str; 3] = ["E", "RL", "RC"];
const V3_ENV: [&str; 11] = [
    "CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA",
];
const V4_BASE: [&str; 11] = [
    "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
];

/// Splits `A:B/C:D` into a map (a metric's last value wins; the `cvss`
/// crate rejects duplicates anyway).
pub fn metrics(vector: &str) -> HashMap<&str, &str> {
    let body = vector
        .strip_prefix("CVSS:")
        .and_then(|r| r.split_once('/').map(|(_, b)| b))
        .unwrap_or(vector);
    let body = body.trim_start_matches('(').trim_end_matches(')');
    body.split('/').filter_map(|c| c.split_once(':')).collect()
}

fn has_any(m: &HashMap<&str, &str>, keys: &[&str]) -> bool {
    // "X" means "not defined" in every version: it does not make a group present.
    keys.iter()
        .any(|k| m.get(k).is_some_and(|v| *v != "X" && *v != "ND"))
}

fn require(
    m: &HashMap<&str, &str>,
    keys: &[&'static str],
    version: &'static str,
    vector: &str,
) -> Result<(), CvssError> {
    match keys.iter().find(|k| !m.contains_key(**k)) {
        Some(metric) => Err(CvssError::MissingBaseMetric {
            version,
            vector: vector.to_owned(),
            metric,
        }),
        None => Ok(()),
    }
}

/// Scores a vector: `CVSS:4.0/…`, `CVSS:3.1/…`, `CVSS:3.0/…`, or a v2
/// vector (`AV:N/AC:L/Au:N/…`, optionally in parentheses or after `CVSS:2.0/`).
pub fn score(vector: &str) -> Result<CvssScore, CvssError> {
    let vector = vector.trim();
    if vector.len() > MAX_VECTOR_LEN {
        return Err(CvssError::TooLong { len: vector.len() });
    }
    let invalid = |version: &'static str, e: ::cvss::Error| CvssError::Invalid {
        version,
        vector: vector.to_owned(),
        reason: e.to_string(),
    };
    let m = metrics(vector);
    if let Some(rest) = vector.strip_prefix("CVSS:") {
        let ver = rest.split('/').next().unwrap_or_default();
        match ver {
            "3.0" | "3.1" => {
                let version = if ver == "3.0" {
                    CvssVersion::V30
                } else {
                    CvssVersion::V31
                };
                require(&m, &V3_BASE, version.as_str(), vector)?;
                let v = ::cvss::v3::Vector::from_str(vector)
                    .map_err(|e| invalid(version.as_str(), e))?;
                let base = v.base_score().value();
                let temporal = has_any(&m, &V3_TEMPORAL).then(|| v.temporal_score().value());
                let environmental = has_any(&m, &V3_ENV).then(|| v.environmental_score().value());
                return Ok(v2_v3(version, vector, base, temporal, environmental, |x| {
                    ::cvss::v3::Score::new(x).severity().into()
                }));
            }
            "4.0" => {
                require(&m, &V4_BASE, "4.0", vector)?;
                let v = ::cvss::v4::Vector::from_str(vector).map_err(|e| invalid("4.0", e))?;
                let s = v.score();
                let overall = s.clone().value();
                // The base score alone: the same vector cut to its base metrics.
                let base_vec = base_only_v4(vector);
                let base = if base_vec == vector {
                    overall
                } else {
                    ::cvss::v4::Vector::from_str(&base_vec)
                        .map_err(|e| invalid("4.0", e))?
                        .score()
                        .value()
                };
                return Ok(CvssScore {
                    version: CvssVersion::V40,
                    vector: vector.to_owned(),
                    base,
                    temporal: None,
                    environmental: None,
                    overall,
                    nomenclature: Some(v.nomenclature().to_string()),
                    severity: s.severity().into(),
                });
            }
            "2.0" => {}
            _ => {
                return Err(CvssError::UnknownVersion {
                    vector: vector.to_owned(),
                })
            }
        }
    }
    // CVSS v2: the crate wants the bare `AV:…` form.
    let bare = vector
        .strip_prefix("CVSS:2.0/")
        .unwrap_or(vector)
        .trim_start_matches('(')
        .trim_end_matches(')');
    require(&m, &V2_BASE, "2.0", vector)?;
    let v = ::cvss::v2::Vector::from_str(bare).map_err(|e| invalid("2.0", e))?;
    let base = v.score().value();
    let temporal = has_any(&m, &V2_TEMPORAL).then(|| v.temporal_score().value());
    let environmental = has_any(&m, &V2_ENV).then(|| v.environmental_score().value());
    Ok(v2_v3(
        CvssVersion::V2,
        vector,
        base,
        temporal,
        environmental,
        |x| ::cvss::v2::Score::new(x).severity().into(),
    ))
}

/// A v2/v3 result: the score to act on is the most specific group present.
fn v2_v3(
    version: CvssVersion,
    vector: &str,
    base: f64,
    temporal: Option<f64>,
    environmental: Option<f64>,
    severity: fn(f64) -> Severity,
) -> CvssScore {
    let overall = environmental.or(temporal).unwrap_or(base);
    CvssScore {
        version,
        vector: vector.to_owned(),
        base,
        temporal,
        environmental,
        overall,
        nomenclature: None,
        severity: severity(overall),
    }
}

fn base_only_v4(vector: &str) -> String {
    let mut out = String::from("CVSS:4.0");
    for part in vector.split('/').skip(1) {
        let key = part.split(':').next().unwrap_or_default();
        if V4_BASE.contains(&key) {
            out.push('/');
            out.push_str(part);
        }
    }
    out
}

/// Whether the vector says exploitation can be automated (SSVC
/// *Automatable*): network attack vector, low complexity, no privileges,
/// no user interaction (and, in v4.0, no attack requirements). A proxy:
/// SSVC asks whether steps 1–4 of the kill chain can be automated, which a
/// vector approximates but does not state. `None` when the vector does not
/// carry those metrics.
pub fn automatable(vector: &str) -> Option<bool> {
    let m = metrics(vector);
    let av = *m.get("AV")?;
    let ac = *m.get("AC")?;
    if let Some(au) = m.get("Au") {
        return Some(av == "N" && ac == "L" && *au == "N");
    }
    let pr = *m.get("PR")?;
    let ui = *m.get("UI")?;
    let at_none = m.get("AT").is_none_or(|v| *v == "N");
    Some(av == "N" && ac == "L" && pr == "N" && ui == "N" && at_none)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_groups() {
        let s = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!(
            (s.version, s.base, s.severity),
            (CvssVersion::V31, 9.8, Severity::Critical)
        );
        assert_eq!(s.temporal, None);
        let s = score("AV:N/AC:L/Au:N/C:P/I:P/A:P").unwrap();
        assert_eq!(
            (s.version, s.base, s.severity),
            (CvssVersion::V2, 7.5, Severity::High)
        );
        let s =
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U").unwrap();
        assert_eq!(s.base, 9.3);
        assert!(s.overall < s.base);
        assert_eq!(s.nomenclature.as_deref(), Some("CVSS-BT"));
        assert!(matches!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H"),
            Err(CvssError::MissingBaseMetric { metric: "A", .. })
        ));
        assert!(matches!(
            score("CVSS:9.9/AV:N"),
            Err(CvssError::UnknownVersion { .. })
        ));
        assert_eq!(Severity::Critical.label(Lang::ZhCn), "超危");
    }

    #[test]
    fn automatable_proxy() {
        assert_eq!(
            automatable("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(true)
        );
        assert_eq!(
            automatable("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"),
            Some(false)
        );
        assert_eq!(automatable("AV:N/AC:L/Au:N/C:P/I:P/A:P"), Some(true));
        assert_eq!(automatable("garbage"), None);
    }
}
