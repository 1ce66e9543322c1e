//! Early warnings (预警), levels 红/橙/黄/蓝, each with a recommended action
//! in both languages and a dedup key (the same situation never warns twice).
//!
//! | trigger | level |
//! |---|---|
//! | a new KEV entry matches an open finding | 红 when the asset is exposed, critical/CII or the CVE is used by ransomware; else 橙 |
//! | a large EPSS rise (≥ 0.2, or crossing 0.5) on an open finding | 橙 when the asset is exposed or critical/CII; else 黄 |
//! | an alert on the asset names a CVE it carries open | 红 |
//! | an alert with an exploit technique (T1190, T1210, T1203, T1068, T1211, T1212) on an asset with an open exploitable finding | 橙 when the asset is exposed (红 if that finding is in KEV); else 黄 |
//! | an intel hit on a critical or CII asset | 红 when it carries a KEV finding; else 橙 |
//! | a finding past its remediation deadline, or an accepted risk past its expiry | 橙 when exploitable on an exposed or critical/CII asset; 黄 when exploitable, exposed or critical; else 蓝 (one per finding and deadline) |

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::score::FindingInput;

/// A text in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct BiText {
    pub zh: String,
    pub en: String,
}

impl BiText {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> BiText {
        BiText {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

impl From<taishi_vuln::Text> for BiText {
    fn from(t: taishi_vuln::Text) -> Self {
        BiText { zh: t.zh, en: t.en }
    }
}

/// Where a finding's remediation stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Remediation {
    Open,
    InProgress,
    /// Accepted risk (an approver and an expiry).
    Accepted,
    Fixed,
    FalsePositive,
}

impl Remediation {
    pub const ALL: [Remediation; 5] = [
        Remediation::Open,
        Remediation::InProgress,
        Remediation::Accepted,
        Remediation::Fixed,
        Remediation::FalsePositive,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Remediation::Open => "open",
            Remediation::InProgress => "in_progress",
            Remediation::Accepted => "accepted",
            Remediation::Fixed => "fixed",
            Remediation::FalsePositive => "false_positive",
        }
    }

    pub fn parse(s: &str) -> Option<Remediation> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }

    pub fn label(self) -> BiText {
        let (zh, en) = match self {
            Remediation::Open => ("待处理", "open"),
            Remediation::InProgress => ("处理中", "in progress"),
            Remediation::Accepted => ("风险已接受", "accepted risk"),
            Remediation::Fixed => ("已修复", "fixed"),
            Remediation::FalsePositive => ("误报", "false positive"),
        };
        BiText::new(zh, en)
    }
}

/// The warning levels of GB/T 20984-style early warning: 红 highest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WarningLevel {
    Blue,
    Yellow,
    Orange,
    Red,
}

impl WarningLevel {
    pub fn name(self) -> &'static str {
        match self {
            WarningLevel::Blue => "blue",
            WarningLevel::Yellow => "yellow",
            WarningLevel::Orange => "orange",
            WarningLevel::Red => "red",
        }
    }

    pub fn parse(s: &str) -> Option<WarningLevel> {
        [Self::Blue, Self::Yellow, Self::Orange, Self::Red]
            .into_iter()
            .find(|l| l.name() == s)
    }

    pub fn label(self) -> BiText {
        let (zh, en) = match self {
            WarningLevel::Blue => ("蓝色预警", "blue warning"),
            WarningLevel::Yellow => ("黄色预警", "yellow warning"),
            WarningLevel::Orange => ("橙色预警", "orange warning"),
            WarningLevel::Red => ("红色预警", "red warning"),
        };
        BiText::new(zh, en)
    }

    /// The alert level a warning is sent at through the alert outputs.
    pub fn alert_level(self) -> &'static str {
        match self {
            WarningLevel::Blue => "low",
            WarningLevel::Yellow => "medium",
            WarningLevel::Orange => "high",
            WarningLevel::Red => "critical",
        }
    }
}

/// What raised a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    KevMatch,
    EpssRise,
    AttackOnVulnerable,
    IntelOnCritical,
    RemediationOverdue,
}

impl WarningKind {
    pub fn name(self) -> &'static str {
        match self {
            WarningKind::KevMatch => "kev_match",
            WarningKind::EpssRise => "epss_rise",
            WarningKind::AttackOnVulnerable => "attack_on_vulnerable",
            WarningKind::IntelOnCritical => "intel_on_critical",
            WarningKind::RemediationOverdue => "remediation_overdue",
        }
    }
}

/// What the warning logic needs to know of the asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarnAsset {
    pub id: String,
    pub name: String,
    /// Importance 关键 or a CII asset.
    pub critical: bool,
    /// Ports reachable from outside (`tcp/443`).
    pub exposed_ports: Vec<String>,
    pub findings: Vec<FindingInput>,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Trigger {
    /// A CVE entered the KEV catalog.
    KevAdded { cve: String, ransomware: bool },
    /// A CVE's EPSS probability rose.
    EpssRise {
        cve: String,
        from: Option<f64>,
        to: f64,
    },
    /// An alert on the asset.
    Alert {
        alert_id: String,
        title: String,
        /// CVE ids the alert names (title, tags, fields).
        cves: Vec<String>,
        /// ATT&CK technique ids of its tags (`T1190`).
        techniques: Vec<String>,
    },
    /// An intel hit on the asset.
    IntelHit { alert_id: String, indicator: String },
}

/// An early warning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Warning {
    pub level: WarningLevel,
    pub kind: WarningKind,
    /// The same situation gives the same key: it is raised once.
    pub dedup_key: String,
    pub asset_id: String,
    #[serde(default)]
    pub cve: Option<String>,
    pub title: BiText,
    /// What happened and why this level.
    pub text: BiText,
    /// What to do.
    pub action: BiText,
    pub at: DateTime<Utc>,
}

/// Techniques that are exploitation of a vulnerability.
pub const EXPLOIT_TECHNIQUES: &[&str] = &["T1190", "T1210", "T1203", "T1068", "T1211", "T1212"];

/// EPSS rise that warns: by at least this much…
pub const EPSS_RISE: f64 = 0.2;
/// …or crossing this.
pub const EPSS_HIGH: f64 = 0.5;

/// ATT&CK technique ids in alert tags (`attack.t1190`, `attack.t1059.001`
/// → `T1059`).
pub fn techniques_in<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = tags
        .into_iter()
        .filter_map(|t| {
            let t = t.trim().to_ascii_lowercase();
            let t = t.strip_prefix("attack.").unwrap_or(&t);
            let id = t.strip_prefix('t')?;
            let digits: String = id.chars().take_while(|c| c.is_ascii_digit()).collect();
            (digits.len() == 4).then(|| format!("T{digits}"))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// CVE ids named in a text (`CVE-2021-44228`, any case; `cve.2021.44228`
/// as Sigma tags write it), upper-cased, at most 32.
pub fn cves_in(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= b.len() && out.len() < 32 {
        if b[i..i + 3].eq_ignore_ascii_case(b"cve") && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        {
            let sep = b[i + 3];
            if sep == b'-' || sep == b'.' || sep == b'_' {
                let year: Vec<u8> = b[i + 4..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .copied()
                    .collect();
                let after = i + 4 + year.len();
                if year.len() == 4 && after < b.len() && matches!(b[after], b'-' | b'.' | b'_') {
                    let num: Vec<u8> = b[after + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .copied()
                        .collect();
                    if (4..=7).contains(&num.len()) {
                        let id = format!(
                            "CVE-{}-{}",
                            String::from_utf8_lossy(&year),
                            String::from_utf8_lossy(&num)
                        );
                        if !out.contains(&id) {
                            out.push(id);
                        }
                        i = after + 1 + num.len();
                        continue;
                    }
                }
            }
        }
        i += 1;
    }
    out
}

fn open_with<'a>(a: &'a WarnAsset, cve: &str, now: DateTime<Utc>) -> Option<&'a FindingInput> {
    a.findings
        .iter()
        .filter(|f| f.counts(now) && f.vuln.eq_ignore_ascii_case(cve))
        .max_by(|x, y| x.priority.total_cmp(&y.priority))
}

fn action(kind: WarningKind, level: WarningLevel, cve: Option<&str>) -> BiText {
    let cve = cve.unwrap_or("");
    match (kind, level >= WarningLevel::Orange) {
        (WarningKind::KevMatch, true) => BiText::new(
            format!("立即修补 {cve} 或下线受影响服务；无法修补时限制外部访问并加强监测；排查是否已被利用"),
            format!("patch {cve} now or take the affected service offline; if it cannot be patched, block outside access and watch it closely; check for signs of exploitation"),
        ),
        (WarningKind::KevMatch, false) | (WarningKind::EpssRise, _) => BiText::new(
            format!("将 {cve} 提前到周期外修复，确认该服务的访问控制"),
            format!("move {cve} out of the regular cycle and confirm the service's access controls"),
        ),
        (WarningKind::AttackOnVulnerable, true) => BiText::new(
            "立即启动应急响应：隔离或限制该资产的网络访问，修补被利用的漏洞，排查失陷迹象并保全证据",
            "start incident response now: isolate or restrict the asset's network access, patch the exploited vulnerability, look for compromise and preserve evidence",
        ),
        (WarningKind::AttackOnVulnerable, false) => BiText::new(
            "核实告警，尽快修补该资产上的可利用漏洞，加强对其的监测",
            "verify the alert, patch the asset's exploitable vulnerabilities soon and watch it closely",
        ),
        (WarningKind::RemediationOverdue, _) => BiText::new(
            format!("尽快修复 {cve}；确实无法修复时由负责人审批接受风险并设定到期时间，同时采取缓解措施"),
            format!("fix {cve} soon; if it truly cannot be fixed, have its owner approve the risk with an expiry and put mitigations in place"),
        ),
        (WarningKind::IntelOnCritical, _) => BiText::new(
            "核查与该情报指标的通信，必要时封禁指标并对关键资产开展失陷排查",
            "review the traffic with the indicator, block it if needed and check the critical asset for compromise",
        ),
    }
}

fn day(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d").to_string()
}

/// A warning's title: its level and what happened, in both languages.
fn title_of(kind: WarningKind, level: WarningLevel, name: &str) -> BiText {
    let lz = level.label();
    match kind {
        WarningKind::KevMatch => BiText::new(
            format!("{}：{name} 存在新列入 KEV 的漏洞", lz.zh),
            format!("{}: {name} carries a new KEV entry", lz.en),
        ),
        WarningKind::EpssRise => BiText::new(
            format!("{}：{name} 的漏洞利用概率大幅上升", lz.zh),
            format!("{}: exploitation likelihood rose on {name}", lz.en),
        ),
        WarningKind::AttackOnVulnerable => BiText::new(
            format!("{}：存在可利用漏洞的 {name} 正遭受攻击", lz.zh),
            format!(
                "{}: {name}, which carries an exploitable vulnerability, is under attack",
                lz.en
            ),
        ),
        WarningKind::IntelOnCritical => BiText::new(
            format!("{}：关键资产 {name} 命中威胁情报", lz.zh),
            format!("{}: intel hit on critical asset {name}", lz.en),
        ),
        WarningKind::RemediationOverdue => BiText::new(
            format!("{}：{name} 的漏洞逾期未修复", lz.zh),
            format!(
                "{}: a vulnerability on {name} is past its remediation deadline",
                lz.en
            ),
        ),
    }
}

/// The warning a trigger raises on an asset, if any.
pub fn evaluate(asset: &WarnAsset, trigger: &Trigger, now: DateTime<Utc>) -> Option<Warning> {
    let exposed = !asset.exposed_ports.is_empty();
    let name = &asset.name;
    let ports = asset.exposed_ports.join(", ");
    let why_exposed = |zh: &mut String, en: &mut String| {
        if exposed {
            zh.push_str(&format!("；资产对外暴露（{ports}）"));
            en.push_str(&format!("; the asset is reachable from outside ({ports})"));
        }
        if asset.critical {
            zh.push_str("；资产为关键资产或关键信息基础设施");
            en.push_str("; the asset is critical or CII");
        }
    };
    let (level, kind, cve, dedup, mut zh, mut en) = match trigger {
        Trigger::KevAdded { cve, ransomware } => {
            let f = open_with(asset, cve, now)?;
            let level = if exposed || asset.critical || *ransomware {
                WarningLevel::Red
            } else {
                WarningLevel::Orange
            };
            let mut zh = format!(
                "{cve} 新列入 CISA KEV（已被在野利用），资产 {name} 存在该漏洞（发现 {}）",
                f.id
            );
            let mut en = format!(
                "{cve} was added to CISA KEV (exploited in the wild) and asset {name} carries it (finding {})",
                f.id
            );
            if *ransomware {
                zh.push_str("；已知被勒索软件利用");
                en.push_str("; known ransomware use");
            }
            (
                level,
                WarningKind::KevMatch,
                Some(cve.clone()),
                format!("kev:{}:{cve}", asset.id),
                zh,
                en,
            )
        }
        Trigger::EpssRise { cve, from, to } => {
            let f = open_with(asset, cve, now)?;
            let before = from.unwrap_or(0.0);
            let large = to - before >= EPSS_RISE || (before < EPSS_HIGH && *to >= EPSS_HIGH);
            if !large {
                return None;
            }
            let level = if exposed || asset.critical {
                WarningLevel::Orange
            } else {
                WarningLevel::Yellow
            };
            (
                level,
                WarningKind::EpssRise,
                Some(cve.clone()),
                // One warning per tenth of probability reached.
                format!("epss:{}:{cve}:{}", asset.id, (to * 10.0).floor() as i64),
                format!(
                    "{cve} 的 EPSS 利用概率由 {before:.3} 升至 {to:.3}，资产 {name} 存在该漏洞（发现 {}）",
                    f.id
                ),
                format!(
                    "{cve}'s EPSS probability rose from {before:.3} to {to:.3} and asset {name} carries it (finding {})",
                    f.id
                ),
            )
        }
        Trigger::Alert {
            alert_id,
            title,
            cves,
            techniques,
        } => {
            if let Some((cve, f)) = cves
                .iter()
                .find_map(|c| open_with(asset, c, now).map(|f| (c, f)))
            {
                (
                    WarningLevel::Red,
                    WarningKind::AttackOnVulnerable,
                    Some(cve.clone()),
                    format!("attack:{}:{cve}:{}", asset.id, day(now)),
                    format!(
                        "告警「{title}」（{alert_id}）指向 {cve}，资产 {name} 存在该漏洞且未修复（发现 {}）",
                        f.id
                    ),
                    format!(
                        "alert \"{title}\" ({alert_id}) names {cve}, which asset {name} carries unfixed (finding {})",
                        f.id
                    ),
                )
            } else {
                let t = techniques
                    .iter()
                    .find(|t| EXPLOIT_TECHNIQUES.contains(&t.as_str()))?;
                let f = asset
                    .findings
                    .iter()
                    .filter(|f| f.counts(now) && f.exploitable)
                    .max_by(|x, y| x.priority.total_cmp(&y.priority))?;
                let level = match (exposed, f.kev) {
                    (true, true) => WarningLevel::Red,
                    (true, false) => WarningLevel::Orange,
                    (false, _) => WarningLevel::Yellow,
                };
                (
                    level,
                    WarningKind::AttackOnVulnerable,
                    Some(f.vuln.clone()),
                    format!("attack:{}:{t}:{}", asset.id, day(now)),
                    format!(
                        "告警「{title}」（{alert_id}）为漏洞利用技术 {t}，资产 {name} 存在可利用漏洞 {}（优先级 {:.1}{}）",
                        f.vuln,
                        f.priority,
                        if f.kev { "，KEV" } else { "" }
                    ),
                    format!(
                        "alert \"{title}\" ({alert_id}) is exploitation technique {t} and asset {name} carries exploitable {} (priority {:.1}{})",
                        f.vuln,
                        f.priority,
                        if f.kev { ", KEV" } else { "" }
                    ),
                )
            }
        }
        Trigger::IntelHit {
            alert_id,
            indicator,
        } => {
            if !asset.critical {
                return None;
            }
            let kev = asset.findings.iter().find(|f| f.counts(now) && f.kev);
            (
                if kev.is_some() {
                    WarningLevel::Red
                } else {
                    WarningLevel::Orange
                },
                WarningKind::IntelOnCritical,
                kev.map(|f| f.vuln.clone()),
                format!("intel:{}:{indicator}:{}", asset.id, day(now)),
                format!("情报指标 {indicator} 命中关键资产 {name}（告警 {alert_id}）"),
                format!("intel indicator {indicator} hit critical asset {name} (alert {alert_id})"),
            )
        }
    };
    why_exposed(&mut zh, &mut en);
    let title = title_of(kind, level, name);
    Some(Warning {
        level,
        kind,
        action: action(kind, level, cve.as_deref()),
        dedup_key: dedup,
        asset_id: asset.id.clone(),
        cve,
        title,
        text: BiText::new(zh, en),
        at: now,
    })
}

/// The warnings for an asset's overdue findings (see the table above): one
/// per finding and deadline, so a finding warns once when it falls due, and
/// again only when a new deadline or acceptance also runs out.
pub fn overdue(asset: &WarnAsset, now: DateTime<Utc>) -> Vec<Warning> {
    let exposed = !asset.exposed_ports.is_empty();
    let name = &asset.name;
    let mut out = Vec::new();
    for f in &asset.findings {
        let Some(since) = f.overdue_since(now) else {
            continue;
        };
        let level = match (f.exploitable, exposed || asset.critical) {
            (true, true) => WarningLevel::Orange,
            (true, false) | (false, true) => WarningLevel::Yellow,
            (false, false) => WarningLevel::Blue,
        };
        let days = (now - since).num_days();
        let when = since.format("%Y-%m-%dT%H:%M:%SZ");
        let (mut zh, mut en) = if f.status == Remediation::Accepted {
            (
                format!(
                    "资产 {name} 的 {}（发现 {}）风险接受已于 {when} 到期（{days} 天前），仍未修复",
                    f.vuln, f.id
                ),
                format!(
                    "the accepted risk of {} (finding {}) on asset {name} expired at {when} ({days} days ago) and it is still not fixed",
                    f.vuln, f.id
                ),
            )
        } else {
            (
                format!(
                    "资产 {name} 的 {}（发现 {}，SSVC 决策 {}）处置期限为 {when}，已逾期 {days} 天，状态：{}",
                    f.vuln,
                    f.id,
                    f.decision,
                    f.status.label().zh
                ),
                format!(
                    "{} (finding {}, SSVC decision {}) on asset {name} was due by {when}, {days} days overdue, status: {}",
                    f.vuln,
                    f.id,
                    f.decision,
                    f.status.label().en
                ),
            )
        };
        if f.exploitable {
            zh.push_str(if f.kev {
                "；该漏洞在 KEV 中"
            } else {
                "；存在公开利用"
            });
            en.push_str(if f.kev {
                "; it is in KEV"
            } else {
                "; a public exploit exists"
            });
        }
        if exposed {
            zh.push_str(&format!(
                "；资产对外暴露（{}）",
                asset.exposed_ports.join(", ")
            ));
            en.push_str(&format!(
                "; the asset is reachable from outside ({})",
                asset.exposed_ports.join(", ")
            ));
        }
        if asset.critical {
            zh.push_str("；资产为关键资产或关键信息基础设施");
            en.push_str("; the asset is critical or CII");
        }
        let kind = WarningKind::RemediationOverdue;
        out.push(Warning {
            level,
            kind,
            action: action(kind, level, Some(&f.vuln)),
            dedup_key: format!("overdue:{}:{}:{}", asset.id, f.id, since.timestamp()),
            asset_id: asset.id.clone(),
            cve: f.vuln.starts_with("CVE-").then(|| f.vuln.clone()),
            title: title_of(kind, level, name),
            text: BiText::new(zh, en),
            at: now,
        });
    }
    out
}
