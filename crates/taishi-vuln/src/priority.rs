//! Priority of a finding: the SSVC deployer decision (CERT/CC SSVC v2) and
//! a numeric priority beside it, each with its factors in zh-CN and English.
//!
//! # Decision points, and where Taishi takes them from
//!
//! - **Exploitation** (none / PoC / active): *active* when the CVE is in
//!   CISA KEV; *PoC* when a scanner reports a public exploit or the EPSS
//!   probability reaches the policy's threshold (0.1 by default: EPSS is a
//!   forecast, not evidence of exploitation, so it never gives *active*);
//!   else *none*.
//! - **System Exposure** (small / controlled / open): the asset's, from the
//!   register (open = reachable from outside).
//! - **Automatable** (no / yes): from the CVSS vector — network vector, low
//!   complexity, no privileges, no user interaction (v4.0: no attack
//!   requirements). Unknown counts as *no* and says so.
//! - **Human Impact** from *Situated Safety Impact* and *Mission Impact*
//!   (SSVC's table), which the asset's register entry gives:
//!   Mission from importance (low → degraded, medium → crippled, high → MEF
//!   failure, critical → mission failure), one step up for a CII asset;
//!   Safety (well-being) from the 等保 level (≤2 → minor, 3 → major,
//!   4 → hazardous, 5 → catastrophic; unknown → minor), at least *major* for
//!   a CII asset, at least *major* / *hazardous* for 重要 / 核心 data
//!   (GB/T 43697-2024).
//!
//! The decision table is SSVC's deployer tree (`data/ssvc-deployer.csv`).
//!
//! # Numeric priority (0–100)
//!
//! Each decision owns a band of 25 (Defer 0–25, Scheduled 25–50,
//! Out-of-Cycle 50–75, Immediate 75–100), so the number never contradicts
//! the decision; within the band a weighted mean places the finding: CVSS
//! (score / 10), EPSS probability, known ransomware use (0/1), asset
//! importance (0, ⅓, ⅔, 1) and exposure (0, ½, 1), weights from
//! `data/priority-policy.json`. The factors list every input and its
//! contribution, so the number can be recomputed from them
//! ([`Priority::recompute`]).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::cvss::CvssScore;
use crate::epss::EpssScore;
use crate::kev::Ransomware;
use crate::lang::{Label, Lang, Text};

macro_rules! labelled_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $key:literal, $zh:literal, $en:literal;)+ }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $key)] $var,)+
        }
        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [Self] = &[$(Self::$var),+];
            /// The key used in data files and the API.
            pub fn key(self) -> &'static str {
                match self { $(Self::$var => $key,)+ }
            }
            /// The value for a key (as in the data files and the API).
            pub fn from_key(s: &str) -> Option<Self> {
                match s { $($key => Some(Self::$var),)+ _ => None }
            }
        }
        impl Label for $name {
            fn label(&self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Self::$var, Lang::ZhCn) => $zh, (Self::$var, Lang::En) => $en,)+
                }
            }
        }
    };
}

labelled_enum!(
    /// SSVC Exploitation.
    Exploitation {
        /// No evidence of exploitation.
        None = "none", "无已知利用", "none";
        /// A public proof of concept, or EPSS above the threshold.
        Poc = "poc", "存在公开利用代码", "public PoC";
        /// Exploited in the wild (KEV).
        Active = "active", "已被在野利用", "active";
    }
);

labelled_enum!(
    /// SSVC System Exposure.
    Exposure {
        /// Isolated, local access only.
        Small = "small", "隔离（小）", "small";
        /// Reachable from internal networks, with controls.
        Controlled = "controlled", "受控", "controlled";
        /// Reachable from outside (the Internet).
        Open = "open", "暴露于外部", "open";
    }
);

labelled_enum!(
    /// SSVC Automatable.
    Automatable {
        /// No.
        No = "no", "不可自动化利用", "no";
        /// Yes.
        Yes = "yes", "可自动化利用", "yes";
    }
);

labelled_enum!(
    /// SSVC Situated Safety Impact (public well-being).
    Safety {
        /// None.
        None = "none", "无", "none";
        /// Minor.
        Minor = "minor", "轻微", "minor";
        /// Major.
        Major = "major", "重大", "major";
        /// Hazardous.
        Hazardous = "hazardous", "危险", "hazardous";
        /// Catastrophic.
        Catastrophic = "catastrophic", "灾难性", "catastrophic";
    }
);

labelled_enum!(
    /// SSVC Mission Impact.
    Mission {
        /// None.
        None = "none", "无", "none";
        /// Degraded.
        Degraded = "degraded", "降级", "degraded";
        /// Mission-essential function support crippled.
        Crippled = "crippled", "支撑功能瘫痪", "MEF support crippled";
        /// A mission-essential function fails.
        MefFailure = "mef failure", "关键业务功能失效", "MEF failure";
        /// The mission fails.
        MissionFailure = "mission failure", "使命失败", "mission failure";
    }
);

labelled_enum!(
    /// SSVC Human Impact.
    HumanImpact {
        /// Low.
        Low = "low", "低", "low";
        /// Medium.
        Medium = "medium", "中", "medium";
        /// High.
        High = "high", "高", "high";
        /// Very high.
        VeryHigh = "very high", "极高", "very high";
    }
);

labelled_enum!(
    /// SSVC deployer decision.
    Decision {
        /// Do not act at present.
        Defer = "defer", "暂缓", "Defer";
        /// Act during regularly scheduled maintenance.
        Scheduled = "scheduled", "计划修复", "Scheduled";
        /// Act faster than usual, out of the regular cycle.
        OutOfCycle = "out-of-cycle", "尽快修复（周期外）", "Out-of-Cycle";
        /// Act immediately.
        Immediate = "immediate", "立即修复", "Immediate";
    }
);

labelled_enum!(
    /// The asset's importance in the register.
    Importance {
        /// Low.
        Low = "low", "一般", "low";
        /// Medium.
        Medium = "medium", "较重要", "medium";
        /// High.
        High = "high", "重要", "high";
        /// Critical.
        Critical = "critical", "核心", "critical";
    }
);

labelled_enum!(
    /// Data level after GB/T 43697-2024.
    DataLevel {
        /// 一般数据.
        General = "general", "一般数据", "general data";
        /// 重要数据.
        Important = "important", "重要数据", "important data";
        /// 核心数据.
        Core = "core", "核心数据", "core data";
    }
);

/// What the register says about the asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetContext {
    /// Importance.
    pub importance: Importance,
    /// Critical information infrastructure (关键信息基础设施).
    pub cii: bool,
    /// 等保 level, 1–5.
    pub dengbao_level: Option<u8>,
    /// Data level.
    pub data_level: Option<DataLevel>,
    /// Exposure.
    pub exposure: Exposure,
}

/// What is known about the vulnerability.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VulnContext {
    /// The CVSS score to act on.
    pub cvss: Option<CvssScore>,
    /// The KEV entry's ransomware flag, when the CVE is in KEV.
    pub kev: Option<Ransomware>,
    /// EPSS.
    pub epss: Option<EpssScore>,
    /// A scanner reported a public exploit (e.g. Nmap vulners `is_exploit`).
    pub exploit_public: bool,
}

/// Deadlines in days per decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// Immediate.
    pub immediate: u32,
    /// Out-of-Cycle.
    pub out_of_cycle: u32,
    /// Scheduled.
    pub scheduled: u32,
    /// Defer (a review date, not a fix date).
    pub defer: u32,
}

impl Deadlines {
    /// Days for a decision.
    pub fn days(&self, d: Decision) -> u32 {
        match d {
            Decision::Immediate => self.immediate,
            Decision::OutOfCycle => self.out_of_cycle,
            Decision::Scheduled => self.scheduled,
            Decision::Defer => self.defer,
        }
    }
}

/// Weights of the numeric priority within a decision's band.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// CVSS / 10.
    pub cvss: f64,
    /// EPSS probability.
    pub epss: f64,
    /// Known ransomware use.
    pub ransomware: f64,
    /// Asset importance.
    pub importance: f64,
    /// Exposure.
    pub exposure: f64,
}

/// The configurable policy (`data/priority-policy.json` is the default).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Version of the policy.
    pub version: u32,
    /// EPSS at or above which exploitation counts as PoC.
    pub epss_poc_threshold: f64,
    /// Deadlines.
    pub deadline_days: Deadlines,
    /// Weights.
    pub weights: Weights,
}

const POLICY_JSON: &str = include_str!("../data/priority-policy.json");
const DEPLOYER_CSV: &str = include_str!("../data/ssvc-deployer.csv");
const HUMAN_CSV: &str = include_str!("../data/ssvc-human-impact.csv");

impl Default for Policy {
    fn default() -> Self {
        static P: OnceLock<Policy> = OnceLock::new();
        *P.get_or_init(|| {
            serde_json::from_str(POLICY_JSON).expect("data/priority-policy.json is valid (tested)")
        })
    }
}

struct Tables {
    deployer: Vec<(Exploitation, Exposure, Automatable, HumanImpact, Decision)>,
    human: Vec<(Safety, Mission, HumanImpact)>,
}

fn rows(csv: &str) -> impl Iterator<Item = Vec<&str>> {
    csv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| l.split(',').map(str::trim).collect())
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        // The embedded tables are checked by tests; a bad row is a build defect.
        let bad = |r: &[&str]| -> ! { panic!("bad row in an embedded SSVC table: {r:?}") };
        let deployer = rows(DEPLOYER_CSV)
            .map(|r| {
                (|| {
                    Some((
                        Exploitation::from_key(r.first()?)?,
                        Exposure::from_key(r.get(1)?)?,
                        Automatable::from_key(r.get(2)?)?,
                        HumanImpact::from_key(r.get(3)?)?,
                        Decision::from_key(r.get(4)?)?,
                    ))
                })()
                .unwrap_or_else(|| bad(&r))
            })
            .collect();
        let human = rows(HUMAN_CSV)
            .map(|r| {
                (|| {
                    Some((
                        Safety::from_key(r.first()?)?,
                        Mission::from_key(r.get(1)?)?,
                        HumanImpact::from_key(r.get(2)?)?,
                    ))
                })()
                .unwrap_or_else(|| bad(&r))
            })
            .collect();
        Tables { deployer, human }
    })
}

/// SSVC's Human Impact.
pub fn human_impact(s: Safety, m: Mission) -> HumanImpact {
    tables()
        .human
        .iter()
        .find(|(a, b, _)| *a == s && *b == m)
        .map(|r| r.2)
        .expect("the human-impact table covers every pair (tested)")
}

/// SSVC's deployer decision.
pub fn decide(e: Exploitation, x: Exposure, a: Automatable, h: HumanImpact) -> Decision {
    tables()
        .deployer
        .iter()
        .find(|r| r.0 == e && r.1 == x && r.2 == a && r.3 == h)
        .map(|r| r.4)
        .expect("the deployer table covers every combination (tested)")
}

/// One input of the priority.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    /// A stable key (`exploitation`, `cvss`, …).
    pub key: String,
    /// The value as used (a key or a number).
    pub value: String,
    /// Its weight in the numeric priority (0 for decision points).
    pub weight: f64,
    /// Its normalised input (0–1) for the numeric priority.
    pub input: f64,
    /// The explanation.
    pub text: Text,
}

/// The priority of one finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Priority {
    /// SSVC decision.
    pub decision: Decision,
    /// 0–100, inside the decision's band.
    pub score: f64,
    /// Remediation deadline in days from the finding.
    pub deadline_days: u32,
    /// SSVC Exploitation.
    pub exploitation: Exploitation,
    /// SSVC Exposure.
    pub exposure: Exposure,
    /// SSVC Automatable.
    pub automatable: Automatable,
    /// SSVC Situated Safety Impact.
    pub safety: Safety,
    /// SSVC Mission Impact.
    pub mission: Mission,
    /// SSVC Human Impact.
    pub human_impact: HumanImpact,
    /// Every input, in order.
    pub factors: Vec<Factor>,
    /// A one-line summary.
    pub summary: Text,
}

fn band(d: Decision) -> f64 {
    match d {
        Decision::Defer => 0.0,
        Decision::Scheduled => 25.0,
        Decision::OutOfCycle => 50.0,
        Decision::Immediate => 75.0,
    }
}

fn step(m: Mission) -> Mission {
    let all = Mission::ALL;
    let i = all.iter().position(|x| *x == m).unwrap_or(0);
    all[(i + 1).min(all.len() - 1)]
}

/// Mission and Safety impact from the register entry (see the module docs).
pub fn impacts(a: &AssetContext) -> (Safety, Mission) {
    let mut mission = match a.importance {
        Importance::Low => Mission::Degraded,
        Importance::Medium => Mission::Crippled,
        Importance::High => Mission::MefFailure,
        Importance::Critical => Mission::MissionFailure,
    };
    if a.cii {
        mission = step(mission);
    }
    let mut safety = match a.dengbao_level {
        Some(0..=2) | None => Safety::Minor,
        Some(3) => Safety::Major,
        Some(4) => Safety::Hazardous,
        Some(_) => Safety::Catastrophic,
    };
    if a.cii {
        safety = safety.max(Safety::Major);
    }
    match a.data_level {
        Some(DataLevel::Important) => safety = safety.max(Safety::Major),
        Some(DataLevel::Core) => safety = safety.max(Safety::Hazardous),
        _ => {}
    }
    (safety, mission)
}

fn point(key: &str, value: &str, zh_name: &str, en_name: &str, zh: &str, en: &str) -> Factor {
    Factor {
        key: key.into(),
        value: value.into(),
        weight: 0.0,
        input: 0.0,
        text: Text::new(format!("{zh_name}：{zh}"), format!("{en_name}: {en}")),
    }
}

/// Assesses one finding.
pub fn assess(v: &VulnContext, a: &AssetContext, policy: &Policy) -> Priority {
    let mut factors = Vec::new();
    // Exploitation.
    let epss = v.epss.map(|e| e.epss);
    let (exploitation, why_zh, why_en) = if v.kev.is_some() {
        (
            Exploitation::Active,
            "列入 CISA KEV 已知被利用漏洞目录".to_owned(),
            "listed in CISA KEV".to_owned(),
        )
    } else if v.exploit_public {
        (
            Exploitation::Poc,
            "扫描器报告存在公开利用代码".to_owned(),
            "a scanner reports a public exploit".to_owned(),
        )
    } else if let Some(p) = epss.filter(|p| *p >= policy.epss_poc_threshold) {
        (
            Exploitation::Poc,
            format!("EPSS {p:.3} ≥ 阈值 {}", policy.epss_poc_threshold),
            format!("EPSS {p:.3} ≥ threshold {}", policy.epss_poc_threshold),
        )
    } else {
        (
            Exploitation::None,
            "未列入 KEV，无公开利用，EPSS 低于阈值或未知".to_owned(),
            "not in KEV, no public exploit, EPSS below the threshold or unknown".to_owned(),
        )
    };
    factors.push(point(
        "exploitation",
        exploitation.key(),
        "利用状态",
        "Exploitation",
        &format!("{}（{why_zh}）", exploitation.label(Lang::ZhCn)),
        &format!("{} ({why_en})", exploitation.label(Lang::En)),
    ));
    factors.push(point(
        "exposure",
        a.exposure.key(),
        "暴露面",
        "Exposure",
        a.exposure.label(Lang::ZhCn),
        a.exposure.label(Lang::En),
    ));
    let auto = v
        .cvss
        .as_ref()
        .and_then(|c| crate::cvss::automatable(&c.vector));
    let automatable = if auto == Some(true) {
        Automatable::Yes
    } else {
        Automatable::No
    };
    let (az, ae) = match auto {
        Some(_) => (
            "依据 CVSS 向量（网络、低复杂度、无需权限与交互）",
            "from the CVSS vector (network, low complexity, no privileges, no interaction)",
        ),
        None => (
            "无 CVSS 向量，按不可自动化计",
            "no CVSS vector: counted as no",
        ),
    };
    factors.push(point(
        "automatable",
        automatable.key(),
        "可自动化",
        "Automatable",
        &format!("{}（{az}）", automatable.label(Lang::ZhCn)),
        &format!("{} ({ae})", automatable.label(Lang::En)),
    ));
    let (safety, mission) = impacts(a);
    let human = human_impact(safety, mission);
    factors.push(point(
        "human_impact",
        human.key(),
        "人员与使命影响",
        "Human impact",
        &format!(
            "{}（安全影响 {}，使命影响 {}；资产重要性 {}{}{}{}）",
            human.label(Lang::ZhCn),
            safety.label(Lang::ZhCn),
            mission.label(Lang::ZhCn),
            a.importance.label(Lang::ZhCn),
            if a.cii {
                "，关键信息基础设施"
            } else {
                ""
            },
            a.dengbao_level
                .map(|l| format!("，等保 {l} 级"))
                .unwrap_or_default(),
            a.data_level
                .map(|d| format!("，{}", d.label(Lang::ZhCn)))
                .unwrap_or_default(),
        ),
        &format!(
            "{} (safety {}, mission {}; asset importance {}{}{}{})",
            human.label(Lang::En),
            safety.label(Lang::En),
            mission.label(Lang::En),
            a.importance.label(Lang::En),
            if a.cii { ", CII" } else { "" },
            a.dengbao_level
                .map(|l| format!(", MLPS level {l}"))
                .unwrap_or_default(),
            a.data_level
                .map(|d| format!(", {}", d.label(Lang::En)))
                .unwrap_or_default(),
        ),
    ));
    let decision = decide(exploitation, a.exposure, automatable, human);

    // Numeric inputs.
    let w = policy.weights;
    let cvss = v.cvss.as_ref().map(|c| c.overall);
    let rank = |i: usize, n: usize| i as f64 / (n - 1) as f64;
    let imp = rank(
        Importance::ALL
            .iter()
            .position(|x| *x == a.importance)
            .unwrap_or(0),
        Importance::ALL.len(),
    );
    let exp = rank(
        Exposure::ALL
            .iter()
            .position(|x| *x == a.exposure)
            .unwrap_or(0),
        Exposure::ALL.len(),
    );
    let ransom = v.kev == Some(Ransomware::Known);
    let mut num = |key: &str, value: String, weight: f64, input: f64, zh: String, en: String| {
        factors.push(Factor {
            key: key.into(),
            value,
            weight,
            input,
            text: Text::new(zh, en),
        });
    };
    num(
        "cvss",
        cvss.map(|c| format!("{c:.1}")).unwrap_or_default(),
        w.cvss,
        cvss.unwrap_or(0.0) / 10.0,
        match &v.cvss {
            Some(c) => format!(
                "CVSS {} 评分 {:.1}（{}）",
                c.version.as_str(),
                c.overall,
                c.severity.label(Lang::ZhCn)
            ),
            None => "无 CVSS 评分，按 0 计".into(),
        },
        match &v.cvss {
            Some(c) => format!(
                "CVSS {} score {:.1} ({})",
                c.version.as_str(),
                c.overall,
                c.severity.label(Lang::En)
            ),
            None => "no CVSS score: counted as 0".into(),
        },
    );
    num(
        "epss",
        epss.map(|p| format!("{p:.5}")).unwrap_or_default(),
        w.epss,
        epss.unwrap_or(0.0),
        match v.epss {
            Some(e) => format!(
                "EPSS 概率 {:.3}（百分位 {:.1}%）",
                e.epss,
                e.percentile * 100.0
            ),
            None => "无 EPSS，按 0 计".into(),
        },
        match v.epss {
            Some(e) => format!(
                "EPSS probability {:.3} (percentile {:.1} %)",
                e.epss,
                e.percentile * 100.0
            ),
            None => "no EPSS: counted as 0".into(),
        },
    );
    num(
        "ransomware",
        ransom.to_string(),
        w.ransomware,
        if ransom { 1.0 } else { 0.0 },
        v.kev
            .map(|r| r.label(Lang::ZhCn))
            .unwrap_or("未列入 KEV")
            .into(),
        v.kev
            .map(|r| r.label(Lang::En))
            .unwrap_or("not in KEV")
            .into(),
    );
    num(
        "importance",
        a.importance.key().into(),
        w.importance,
        imp,
        format!("资产重要性 {}", a.importance.label(Lang::ZhCn)),
        format!("asset importance {}", a.importance.label(Lang::En)),
    );
    num(
        "exposure_rank",
        a.exposure.key().into(),
        w.exposure,
        exp,
        format!("暴露面 {}", a.exposure.label(Lang::ZhCn)),
        format!("exposure {}", a.exposure.label(Lang::En)),
    );
    let score = score_of(decision, &factors);
    let deadline_days = policy.deadline_days.days(decision);
    let summary = Text::new(
        format!(
            "SSVC 决策：{}，优先级 {score:.1}，{deadline_days} 天内处置",
            decision.label(Lang::ZhCn)
        ),
        format!(
            "SSVC decision: {}, priority {score:.1}, act within {deadline_days} days",
            decision.label(Lang::En)
        ),
    );
    Priority {
        decision,
        score,
        deadline_days,
        exploitation,
        exposure: a.exposure,
        automatable,
        safety,
        mission,
        human_impact: human,
        factors,
        summary,
    }
}

fn score_of(decision: Decision, factors: &[Factor]) -> f64 {
    let total: f64 = factors.iter().map(|f| f.weight).sum();
    let within = if total > 0.0 {
        factors
            .iter()
            .map(|f| f.weight * f.input.clamp(0.0, 1.0))
            .sum::<f64>()
            / total
    } else {
        0.0
    };
    ((band(decision) + 25.0 * within) * 10.0).round() / 10.0
}

impl Priority {
    /// The numeric priority recomputed from the stored decision and factors
    /// (equals `score` for an untampered record).
    pub fn recompute(&self) -> f64 {
        score_of(self.decision, &self.factors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_cover_every_combination() {
        let t = tables();
        assert_eq!(t.deployer.len(), 3 * 3 * 2 * 4);
        assert_eq!(t.human.len(), 5 * 5);
        for e in Exploitation::ALL {
            for x in Exposure::ALL {
                for a in Automatable::ALL {
                    for h in HumanImpact::ALL {
                        let _ = decide(*e, *x, *a, *h);
                    }
                }
            }
        }
        for s in Safety::ALL {
            for m in Mission::ALL {
                let _ = human_impact(*s, *m);
            }
        }
        // Spot checks against the published tree.
        assert_eq!(
            decide(
                Exploitation::Poc,
                Exposure::Controlled,
                Automatable::No,
                HumanImpact::Medium
            ),
            Decision::Scheduled
        );
        assert_eq!(
            decide(
                Exploitation::Active,
                Exposure::Open,
                Automatable::Yes,
                HumanImpact::High
            ),
            Decision::Immediate
        );
        assert_eq!(
            decide(
                Exploitation::None,
                Exposure::Small,
                Automatable::No,
                HumanImpact::Low
            ),
            Decision::Defer
        );
        assert_eq!(
            decide(
                Exploitation::None,
                Exposure::Open,
                Automatable::Yes,
                HumanImpact::VeryHigh
            ),
            Decision::OutOfCycle
        );
        assert_eq!(
            human_impact(Safety::Major, Mission::MefFailure),
            HumanImpact::High
        );
        assert_eq!(Policy::default().deadline_days.out_of_cycle, 14);
    }

    #[test]
    fn kev_on_an_exposed_cii_asset_is_immediate() {
        let cvss = crate::cvss::score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").ok();
        let v = VulnContext {
            cvss,
            kev: Some(Ransomware::Known),
            epss: Some(EpssScore {
                epss: 0.94,
                percentile: 0.999,
            }),
            exploit_public: false,
        };
        let a = AssetContext {
            importance: Importance::High,
            cii: true,
            dengbao_level: Some(3),
            data_level: None,
            exposure: Exposure::Open,
        };
        let p = assess(&v, &a, &Policy::default());
        assert_eq!(p.decision, Decision::Immediate);
        assert_eq!(p.deadline_days, 3);
        assert!(p.score > 95.0 && p.score <= 100.0, "{}", p.score);
        assert_eq!(p.recompute(), p.score);
        assert!(p.factors[0].text.zh.contains("CISA KEV"));
        assert!(p.summary.en.starts_with("SSVC decision: Immediate"));

        // The same vulnerability, unexploited, on an isolated low-value asset.
        let v2 = VulnContext {
            kev: None,
            epss: Some(EpssScore {
                epss: 0.01,
                percentile: 0.5,
            }),
            ..v
        };
        let a2 = AssetContext {
            importance: Importance::Low,
            cii: false,
            dengbao_level: None,
            data_level: None,
            exposure: Exposure::Small,
        };
        let p2 = assess(&v2, &a2, &Policy::default());
        // none, small, automatable, human impact low: row 5 of the tree.
        assert_eq!(p2.decision, Decision::Defer);
        assert_eq!(p2.deadline_days, 180);
        assert!(p2.score < p.score);
    }
}
