//! The severity of a finding: Sigma's five levels. One definition for the
//! rules, the correlations, the alerts, the outputs and the API.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Sigma's levels, ordered: `Level::High > Level::Low`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

/// A level name that is none of the five.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLevel(pub String);

impl fmt::Display for UnknownLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown level `{}`: expected informational, low, medium, high or critical",
            self.0
        )
    }
}

impl std::error::Error for UnknownLevel {}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Informational,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    /// Case-insensitive; `info` is accepted for `informational`.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "informational" | "info" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// Same as [`Level::name`] (the correlation crate's spelling).
    pub fn as_str(self) -> &'static str {
        self.name()
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Level::Informational => "信息",
            Level::Low => "低危",
            Level::Medium => "中危",
            Level::High => "高危",
            Level::Critical => "严重",
        }
    }

    /// 0 (informational) to 4 (critical): how the alert table stores and
    /// compares levels.
    pub fn rank(self) -> i64 {
        self as i64
    }

    /// The level of a stored rank; out-of-range ranks are clamped.
    pub fn from_rank(r: i64) -> Level {
        Level::ALL[r.clamp(0, 4) as usize]
    }

    /// CEF severity (0–10), spaced the way ArcSight reads it: Low 0–3,
    /// Medium 4–6, High 7–8, Very-High 9–10.
    pub fn cef_severity(self) -> u8 {
        match self {
            Level::Informational => 1,
            Level::Low => 3,
            Level::Medium => 5,
            Level::High => 8,
            Level::Critical => 10,
        }
    }

    /// Syslog severity (RFC 5424): critical → crit … informational → info.
    pub fn syslog_severity(self) -> u8 {
        match self {
            Level::Critical => 2,
            Level::High => 3,
            Level::Medium => 4,
            Level::Low => 5,
            Level::Informational => 6,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Level, UnknownLevel> {
        Level::parse(s).ok_or_else(|| UnknownLevel(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_parse_and_rank() {
        assert!(Level::Critical > Level::High && Level::Low > Level::Informational);
        assert_eq!("Info".parse::<Level>().unwrap(), Level::Informational);
        assert!("severe".parse::<Level>().is_err());
        for l in Level::ALL {
            assert_eq!(Level::from_rank(l.rank()), l);
            assert_eq!(Level::parse(l.name()), Some(l));
        }
        assert_eq!(Level::from_rank(99), Level::Critical);
    }
}
