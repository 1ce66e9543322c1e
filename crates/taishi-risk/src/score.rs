//! The risk score of an asset, and roll-ups (see `docs/risk-model.md`).
//!
//! score = 100 × Π(multiplier inputs) × Σ(weight × input of additive factors)
//!
//! Additive factors: `vulns` (open findings, most urgent first, each
//! weighing half the one before), `exposure` (ports reachable from outside)
//! and `attacks` (alerts and intel hits of the last 30 days, most severe
//! first, each weighing half the one before and losing half its weight
//! every 7 days). Multiplier: `importance` (一般/较重要/重要/关键; a CII asset
//! counts at least as 重要). Inputs are rounded to 4 decimals and the score
//! to 1, so the stored JSON (whose numbers are short decimals) gives back
//! exactly the same number: [`RiskScore::recompute`].

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use taishi_asset::Importance;

use crate::warn::Remediation;

/// A text in both languages (the API's shape of `taishi_vuln::lang::Text`).
pub use crate::warn::BiText;

/// The model's parameters. `version` is stored with every score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreModel {
    pub version: u32,
    /// Weights of the additive factors (sum 1).
    pub w_vulns: f64,
    pub w_exposure: f64,
    pub w_attacks: f64,
    /// The k-th finding (0-based, most urgent first) weighs `decay^k`.
    pub finding_decay: f64,
    /// The k-th attack (most severe first) weighs `decay^k`.
    pub attack_decay: f64,
    /// An attack's weight halves every this many days.
    pub attack_half_life_days: f64,
    /// Attacks older than this are not counted.
    pub attack_window_days: i64,
    /// Findings and attacks listed per factor (the rest are counted in the
    /// input but not itemised; the decay makes them negligible).
    pub max_items: usize,
}

impl Default for ScoreModel {
    fn default() -> Self {
        ScoreModel {
            version: 1,
            w_vulns: 0.45,
            w_exposure: 0.15,
            w_attacks: 0.40,
            finding_decay: 0.5,
            attack_decay: 0.5,
            attack_half_life_days: 7.0,
            attack_window_days: 30,
            max_items: 20,
        }
    }
}

/// How a factor enters the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FactorKind {
    /// Adds `weight × input`.
    Additive,
    /// Multiplies the sum by `input`.
    Multiplier,
}

/// One thing that went into a factor's input (a finding, an attack).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// Finding id, alert id, asset id.
    pub id: String,
    pub text: BiText,
    /// Its own strength (0–1): priority / 100, alert level.
    pub input: f64,
    /// Its weight from its rank and age.
    pub weight: f64,
    /// `input × weight`, rounded to 4 decimals.
    pub contribution: f64,
}

/// One input of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Factor {
    /// `vulns`, `exposure`, `attacks`, `importance`, `max`, `top_mean`.
    pub key: String,
    pub kind: FactorKind,
    pub weight: f64,
    /// 0–1, rounded to 4 decimals.
    pub input: f64,
    /// Why, in both languages.
    pub text: BiText,
    /// What the input was made from, most weighty first.
    #[serde(default)]
    pub items: Vec<Item>,
}

/// A score with the factors it is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RiskScore {
    /// 0–100, one decimal.
    pub score: f64,
    pub model_version: u32,
    pub factors: Vec<Factor>,
}

pub(crate) fn round_to(x: f64, places: i32) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let m = 10f64.powi(places);
    (x * m).round() / m
}

/// Inputs are kept in 0–1 at 4 decimals.
pub(crate) fn unit(x: f64) -> f64 {
    round_to(x.clamp(0.0, 1.0), 4)
}

impl RiskScore {
    /// The score from factors alone (how it is computed, and recomputed).
    pub fn of_factors(factors: &[Factor]) -> f64 {
        let mut sum = 0.0;
        let mut mult = 1.0;
        for f in factors {
            match f.kind {
                FactorKind::Additive => sum += f.weight * f.input,
                FactorKind::Multiplier => mult *= f.input,
            }
        }
        round_to((100.0 * mult * sum).clamp(0.0, 100.0), 1)
    }

    pub fn from_factors(model_version: u32, factors: Vec<Factor>) -> RiskScore {
        RiskScore {
            score: Self::of_factors(&factors),
            model_version,
            factors,
        }
    }

    /// The number recomputed from the stored factors: equals `score` for an
    /// untampered record.
    pub fn recompute(&self) -> f64 {
        Self::of_factors(&self.factors)
    }
}

/// An alert's or intel hit's severity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Its strength as an attack factor item.
    pub fn strength(self) -> f64 {
        match self {
            Severity::Informational => 0.1,
            Severity::Low => 0.25,
            Severity::Medium => 0.5,
            Severity::High => 0.75,
            Severity::Critical => 1.0,
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// An alert or an intel hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttackKind {
    Alert,
    Intel,
}

/// An attack observed on the asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Attack {
    /// The alert id.
    pub id: String,
    pub kind: AttackKind,
    pub severity: Severity,
    pub at: DateTime<Utc>,
    /// The rule's title.
    pub title: String,
}

/// An open (or otherwise) finding as the score sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FindingInput {
    pub id: String,
    /// CVE id, else the scanner's check.
    pub vuln: String,
    /// Priority 0–100 (`taishi_vuln::priority`).
    pub priority: f64,
    /// The SSVC decision's key.
    pub decision: String,
    pub kev: bool,
    /// In KEV or a public exploit (SSVC exploitation ≠ none).
    pub exploitable: bool,
    pub status: Remediation,
    /// Accepted risk: until when.
    #[serde(default)]
    pub accepted_until: Option<DateTime<Utc>>,
    /// The remediation deadline its priority set (SSVC decision → days).
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
}

impl FindingInput {
    /// Whether it counts in the score now: open or in progress, or an
    /// accepted risk whose acceptance has expired.
    pub fn counts(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            Remediation::Open | Remediation::InProgress => true,
            Remediation::Accepted => self.accepted_until.is_some_and(|u| u <= now),
            Remediation::Fixed | Remediation::FalsePositive => false,
        }
    }

    /// Since when it is overdue: open or in progress past its deadline, or
    /// an accepted risk past its expiry (the acceptance ran out and nobody
    /// renewed it or fixed the finding).
    pub fn overdue_since(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let since = match self.status {
            Remediation::Open | Remediation::InProgress => self.deadline?,
            Remediation::Accepted => self.accepted_until?,
            Remediation::Fixed | Remediation::FalsePositive => return None,
        };
        (since <= now).then_some(since)
    }
}

/// Everything an asset's score is made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskInput {
    pub importance: Option<Importance>,
    pub cii: bool,
    /// Ports reachable from outside.
    pub exposed_ports: Vec<String>,
    pub findings: Vec<FindingInput>,
    pub attacks: Vec<Attack>,
}

fn importance_multiplier(i: Option<Importance>, cii: bool) -> (f64, &'static str, &'static str) {
    let i = i.unwrap_or(Importance::Medium);
    let i = if cii { i.max(Importance::High) } else { i };
    match i {
        Importance::Low => (0.55, "一般", "low"),
        Importance::Medium => (0.7, "较重要", "medium"),
        Importance::High => (0.85, "重要", "high"),
        Importance::Critical => (1.0, "关键", "critical"),
    }
}

/// Sum of decaying items, capped at 1, with the first `max_items` listed.
fn decayed(mut items: Vec<Item>, max_items: usize) -> (f64, Vec<Item>) {
    let total: f64 = items.iter().map(|i| i.contribution).sum();
    items.truncate(max_items);
    (unit(total), items)
}

/// The score of one asset now.
pub fn score_asset(input: &RiskInput, model: &ScoreModel, now: DateTime<Utc>) -> RiskScore {
    let mut factors = Vec::with_capacity(4);

    // Findings, most urgent first.
    let mut open: Vec<&FindingInput> = input.findings.iter().filter(|f| f.counts(now)).collect();
    open.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then_with(|| a.vuln.cmp(&b.vuln))
            .then_with(|| a.id.cmp(&b.id))
    });
    let items: Vec<Item> = open
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let input = unit(f.priority / 100.0);
            let weight = unit(model.finding_decay.powi(k.min(64) as i32));
            let kev = if f.kev { "，KEV" } else { "" };
            let kev_en = if f.kev { ", KEV" } else { "" };
            Item {
                id: f.id.clone(),
                text: BiText::new(
                    format!(
                        "{}：优先级 {:.1}（{}{kev}）",
                        f.vuln, f.priority, f.decision
                    ),
                    format!(
                        "{}: priority {:.1} ({}{kev_en})",
                        f.vuln, f.priority, f.decision
                    ),
                ),
                input,
                weight,
                contribution: round_to(input * weight, 4),
            }
        })
        .collect();
    let (v, items) = decayed(items, model.max_items);
    let kev = open.iter().filter(|f| f.kev).count();
    factors.push(Factor {
        key: "vulns".into(),
        kind: FactorKind::Additive,
        weight: model.w_vulns,
        input: v,
        text: BiText::new(
            format!(
                "未修复漏洞 {} 个（其中 KEV {kev} 个），按优先级从高到低、逐个权重减半累计",
                open.len()
            ),
            format!(
                "{} open findings ({kev} in KEV), most urgent first, each weighing half the one before",
                open.len()
            ),
        ),
        items,
    });

    // Exposure.
    let n = input.exposed_ports.len();
    let e = if n == 0 {
        0.0
    } else {
        unit(0.4 + 0.15 * n as f64)
    };
    let ports = input.exposed_ports.join(", ");
    factors.push(Factor {
        key: "exposure".into(),
        kind: FactorKind::Additive,
        weight: model.w_exposure,
        input: e,
        text: if n == 0 {
            BiText::new("无对外暴露端口", "no port reachable from outside")
        } else {
            BiText::new(
                format!("对外暴露端口 {n} 个：{ports}"),
                format!("{n} ports reachable from outside: {ports}"),
            )
        },
        items: Vec::new(),
    });

    // Attacks of the window, most severe first, newest first among equals.
    let since = now - chrono::Duration::days(model.attack_window_days);
    let mut attacks: Vec<&Attack> = input
        .attacks
        .iter()
        .filter(|a| a.at >= since && a.at <= now + chrono::Duration::minutes(5))
        .collect();
    attacks.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| b.at.cmp(&a.at))
            .then_with(|| a.id.cmp(&b.id))
    });
    let items: Vec<Item> = attacks
        .iter()
        .enumerate()
        .map(|(k, a)| {
            let age_days = ((now - a.at).num_seconds().max(0) as f64) / 86_400.0;
            let weight = unit(
                model.attack_decay.powi(k.min(64) as i32)
                    * 0.5f64.powf(age_days / model.attack_half_life_days.max(0.01)),
            );
            let input = a.severity.strength();
            let (kz, ke) = match a.kind {
                AttackKind::Alert => ("告警", "alert"),
                AttackKind::Intel => ("情报命中", "intel hit"),
            };
            Item {
                id: a.id.clone(),
                text: BiText::new(
                    format!(
                        "{kz}「{}」（{}，{:.1} 天前）",
                        a.title,
                        a.severity.name(),
                        age_days
                    ),
                    format!(
                        "{ke} \"{}\" ({}, {:.1} days ago)",
                        a.title,
                        a.severity.name(),
                        age_days
                    ),
                ),
                input,
                weight,
                contribution: round_to(input * weight, 4),
            }
        })
        .collect();
    let (a, items) = decayed(items, model.max_items);
    factors.push(Factor {
        key: "attacks".into(),
        kind: FactorKind::Additive,
        weight: model.w_attacks,
        input: a,
        text: BiText::new(
            format!(
                "近 {} 天观察到的攻击 {} 次（告警与情报命中），按严重程度排序、逐个权重减半，每 {} 天衰减一半",
                model.attack_window_days,
                attacks.len(),
                model.attack_half_life_days
            ),
            format!(
                "{} attacks observed in the last {} days (alerts and intel hits), most severe first, each weighing half the one before, halving every {} days",
                attacks.len(),
                model.attack_window_days,
                model.attack_half_life_days
            ),
        ),
        items,
    });

    let (m, zh, en) = importance_multiplier(input.importance, input.cii);
    let cii = if input.cii {
        (
            "（关键信息基础设施，至少按重要计）",
            " (CII: at least high)",
        )
    } else {
        ("", "")
    };
    factors.push(Factor {
        key: "importance".into(),
        kind: FactorKind::Multiplier,
        weight: 1.0,
        input: m,
        text: BiText::new(
            format!("资产重要性：{zh}{}，乘数 {m}", cii.0),
            format!("asset importance: {en}{}, multiplier {m}", cii.1),
        ),
        items: Vec::new(),
    });
    RiskScore::from_factors(model.version, factors)
}

/// The roll-up of member scores (a business system's assets, an
/// organisation's business systems): 0.6 × the highest + 0.4 × the mean of
/// the five highest, so one badly exposed asset shows and a group of many
/// bad ones shows more.
pub fn rollup(members: &[(String, f64)], model_version: u32) -> RiskScore {
    let mut sorted: Vec<&(String, f64)> = members.iter().collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let top: Vec<&(String, f64)> = sorted.iter().take(5).copied().collect();
    let max = top.first().map(|m| m.1).unwrap_or(0.0);
    let mean = if top.is_empty() {
        0.0
    } else {
        top.iter().map(|m| m.1).sum::<f64>() / top.len() as f64
    };
    let item = |(id, s): &(String, f64)| Item {
        id: id.clone(),
        text: BiText::new(format!("{id}：{s:.1}"), format!("{id}: {s:.1}")),
        input: unit(s / 100.0),
        weight: 1.0,
        contribution: unit(s / 100.0),
    };
    let factors = vec![
        Factor {
            key: "max".into(),
            kind: FactorKind::Additive,
            weight: 0.6,
            input: unit(max / 100.0),
            text: BiText::new(
                format!("最高分 {max:.1}（共 {} 项）", members.len()),
                format!("highest score {max:.1} (of {})", members.len()),
            ),
            items: top.iter().take(1).map(|m| item(m)).collect(),
        },
        Factor {
            key: "top_mean".into(),
            kind: FactorKind::Additive,
            weight: 0.4,
            input: unit(mean / 100.0),
            text: BiText::new(
                format!("最高 {} 项的平均分 {mean:.1}", top.len()),
                format!("mean of the {} highest: {mean:.1}", top.len()),
            ),
            items: top.iter().map(|m| item(m)).collect(),
        },
        Factor {
            key: "scale".into(),
            kind: FactorKind::Multiplier,
            weight: 1.0,
            input: 1.0,
            text: BiText::new("汇总不再加乘数", "no multiplier on a roll-up"),
            items: Vec::new(),
        },
    ];
    RiskScore::from_factors(model_version, factors)
}
