//! What a detector reports: a scored, explained finding.

use serde::{Deserialize, Serialize};

/// Language of user-visible text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    /// Simplified Chinese.
    Zh,
    /// English.
    En,
}

/// A user-visible string in both languages Taishi serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// How bad a finding is, on Taishi's alert levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Severity::Low, Lang::Zh) => "低",
            (Severity::Medium, Lang::Zh) => "中",
            (Severity::High, Lang::Zh) => "高",
            (Severity::Critical, Lang::Zh) => "严重",
            (Severity::Low, Lang::En) => "low",
            (Severity::Medium, Lang::En) => "medium",
            (Severity::High, Lang::En) => "high",
            (Severity::Critical, Lang::En) => "critical",
        }
    }

    /// The level a score in 0..=1 maps to, with the cut points RITA uses for
    /// its beacon score (0.75 / 0.9 / 1.0 after a 0.5 floor); other
    /// detectors reuse them so one number reads the same everywhere.
    pub fn from_score(score: f64) -> Severity {
        if score >= 0.97 {
            Severity::Critical
        } else if score >= 0.9 {
            Severity::High
        } else if score >= 0.75 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

/// Which detector (and which of its outcomes) raised a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Beacon,
    Strobe,
    LongConnection,
    HorizontalScan,
    VerticalScan,
    BruteForce,
    TargetedUser,
    PasswordSpray,
    SuccessAfterFailures,
    Dga,
    NxdomainBurst,
    DnsTunnel,
    ExfilVolume,
    StorageUpload,
    Lookalike,
}

impl FindingKind {
    /// Whether the finding rests on what the organisation's traffic taught
    /// the detector (beacon prevalence and persistence, DNS volume per
    /// domain, outbound volume), so it waits out the learning period
    /// (`[anomaly] learning_hours`). Scans and password guessing use
    /// Zeek's fixed rates, DGA a shipped model, look-alikes the configured
    /// brands: those fire from the first record.
    pub fn learns(self) -> bool {
        matches!(
            self,
            FindingKind::Beacon
                | FindingKind::Strobe
                | FindingKind::LongConnection
                | FindingKind::DnsTunnel
                | FindingKind::ExfilVolume
                | FindingKind::StorageUpload
        )
    }

    /// MITRE ATT&CK techniques the finding is evidence of.
    pub fn techniques(self) -> &'static [&'static str] {
        match self {
            FindingKind::Beacon | FindingKind::Strobe | FindingKind::LongConnection => {
                &["T1071", "T1573"]
            }
            FindingKind::HorizontalScan | FindingKind::VerticalScan => &["T1046"],
            FindingKind::BruteForce
            | FindingKind::TargetedUser
            | FindingKind::PasswordSpray
            | FindingKind::SuccessAfterFailures => &["T1110"],
            FindingKind::Dga | FindingKind::NxdomainBurst => &["T1568.002"],
            FindingKind::DnsTunnel => &["T1071.004", "T1048"],
            FindingKind::ExfilVolume => &["T1048", "T1041"],
            FindingKind::StorageUpload => &["T1567.002", "T1041"],
            FindingKind::Lookalike => &["T1566", "T1583.001"],
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            FindingKind::Beacon => ("C2 信标（周期性外联）", "C2 beaconing"),
            FindingKind::Strobe => ("高频连接（频闪）", "strobe (very many connections)"),
            FindingKind::LongConnection => ("超长连接", "long-lived connection"),
            FindingKind::HorizontalScan => ("横向扫描（多主机同端口）", "horizontal scan"),
            FindingKind::VerticalScan => ("纵向扫描（同主机多端口）", "vertical (port) scan"),
            FindingKind::BruteForce => ("口令暴力破解", "password brute force"),
            FindingKind::TargetedUser => ("针对单一账户的登录失败", "failures against one account"),
            FindingKind::PasswordSpray => ("口令喷洒（多账户）", "password spraying"),
            FindingKind::SuccessAfterFailures => {
                ("多次失败后登录成功", "success after many failures")
            }
            FindingKind::Dga => ("算法生成域名（DGA）", "algorithmically generated domain"),
            FindingKind::NxdomainBurst => ("NXDOMAIN 突发", "NXDOMAIN burst"),
            FindingKind::DnsTunnel => ("DNS 隧道", "DNS tunnelling"),
            FindingKind::ExfilVolume => (
                "外发流量异常（偏离自身基线）",
                "outbound volume far above the host's baseline",
            ),
            FindingKind::StorageUpload => {
                ("向网盘/粘贴站点上传", "upload to a storage or paste site")
            }
            FindingKind::Lookalike => ("仿冒域名", "look-alike domain"),
        };
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// One feature that contributed to a score: its measured value, the part of
/// the score it gave, and why that matters. Serialised into alerts; never
/// read back (its `id` is a static name), so no Deserialize.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feature {
    /// Stable machine name, e.g. `interval_skew`.
    pub id: &'static str,
    /// The measured value (an interval in seconds, a count, a ratio …).
    pub value: f64,
    /// This feature's sub-score in 0..=1 (1 = most suspicious).
    pub score: f64,
    /// Whether it passed its own threshold ("fired").
    pub fired: bool,
    pub text: Text,
}

impl Feature {
    pub fn new(id: &'static str, value: f64, score: f64, fired: bool, text: Text) -> Self {
        Feature {
            id,
            value,
            score,
            fired,
            text,
        }
    }
}

/// A scored, explained anomaly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// What the finding is about: `src → dst`, a host, a user, a domain.
    pub entity: String,
    /// 0..=1.
    pub score: f64,
    pub severity: Severity,
    pub first_ms: i64,
    pub last_ms: i64,
    pub features: Vec<Feature>,
}

impl Finding {
    pub fn techniques(&self) -> &'static [&'static str] {
        self.kind.techniques()
    }

    /// The features that fired, for an alert's "why".
    pub fn fired(&self) -> impl Iterator<Item = &Feature> {
        self.features.iter().filter(|f| f.fired)
    }

    /// One line: kind, entity, score and the fired features.
    pub fn summary(&self, lang: Lang) -> String {
        let why: Vec<&str> = self.fired().map(|f| f.text.get(lang)).collect();
        let sep = if lang == Lang::Zh { "；" } else { "; " };
        format!(
            "{} {} ({:.3}): {}",
            self.kind.label(lang),
            self.entity,
            self.score,
            why.join(sep)
        )
    }
}
