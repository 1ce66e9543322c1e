//! The yearly risk assessment report (年度风险评估报告, issue 15): the CII
//! regulation (关键信息基础设施安全保护条例) Art. 17 asks an operator for a
//! risk assessment at least once a year. This module is pure: it takes the
//! rows of one period ([`taishi_state::risk_period::PeriodRows`]) and
//! computes the report's numbers ([`YearlyReport`], the JSON answer), and
//! [`YearlyReport::document`] lays them out as a document (DOCX and PDF
//! through `taishi_report`), Chinese first, English too.
//!
//! Sections: 1 概述 summary, 2 资产清单 inventory, 3 漏洞发现 findings,
//! 4 风险评估 risk, 5 威胁与预警 threats and warnings, 6 整改情况
//! remediation, 7 建议 recommendations. Every list is bounded ([`TOP`]
//! lines, then "and N more").
//!
//! Scores are the stored ones: a business system's score is the roll-up
//! of its assets' (`taishi_risk::rollup`), an organisation's the roll-up of
//! its systems', the report's the roll-up of its organisations' (the same
//! rule as the ranking page), evaluated at any instant from each asset's
//! latest stored score before it, so the monthly trend and the change since
//! the period's start come from the history, not from today's values.
//!
//! Bands of a 0–100 score: ≥ 80 critical (极高), ≥ 60 high (高), ≥ 40
//! medium (中), below low (低).

mod doc;

pub use doc::SECTIONS;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Datelike, FixedOffset, SecondsFormat, TimeZone, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use taishi_asset::Asset;
use taishi_risk::{rollup, BiText, RiskScore};
use taishi_state::risk::{AssetRow, FindingRow};
use taishi_state::risk_period::PeriodRows;

pub use taishi_asset::Lang;

/// Lines of each list before "and N more".
pub const TOP: usize = 10;
/// Months of trend at most (a period is at most five years).
pub const MAX_MONTHS: usize = 60;

/// What the report is computed from.
#[derive(Debug, Clone)]
pub struct YearlyInput {
    /// The organisation's name.
    pub org: String,
    pub from: DateTime<FixedOffset>,
    pub to: DateTime<FixedOffset>,
    pub generated: DateTime<FixedOffset>,
    pub rows: PeriodRows,
    /// Assets seen in traffic but never registered, when discovery keeps
    /// them; `None`: not recorded.
    pub unknown_assets: Option<Vec<String>>,
}

/// A 0–100 score's band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Low,
    Medium,
    High,
    Critical,
}

impl Band {
    pub fn of(score: f64) -> Band {
        match score {
            s if s >= 80.0 => Band::Critical,
            s if s >= 60.0 => Band::High,
            s if s >= 40.0 => Band::Medium,
            _ => Band::Low,
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Band::Low => lang.pick("低", "low"),
            Band::Medium => lang.pick("中", "medium"),
            Band::High => lang.pick("高", "high"),
            Band::Critical => lang.pick("极高", "critical"),
        }
    }
}

/// A key (language-neutral) and how many.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Count {
    pub key: String,
    pub count: usize,
}

/// The first [`TOP`] lines of a list and how many more there are.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Top<T> {
    pub items: Vec<T>,
    pub more: usize,
}

impl<T> Top<T> {
    fn of(mut all: Vec<T>) -> Top<T> {
        let more = all.len().saturating_sub(TOP);
        all.truncate(TOP);
        Top { items: all, more }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Summary {
    pub assets: usize,
    pub cii_assets: usize,
    pub exposed_assets: usize,
    pub business_systems: usize,
    /// Findings first seen before the period's end.
    pub findings: usize,
    /// Open, in progress or accepted.
    pub unresolved: usize,
    pub kev_unresolved: usize,
    pub ransomware_unresolved: usize,
    pub overdue: usize,
    pub fixed_in_period: usize,
    pub warnings: usize,
    pub attacks: usize,
    /// The score at the period's end, its band, at the start, and the change.
    pub score: f64,
    pub band: Band,
    pub score_at_start: f64,
    pub change: f64,
    /// A list reached its bound: the counts are partial.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ExposedAsset {
    pub name: String,
    pub system: String,
    /// `tcp/443`.
    pub ports: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Inventory {
    /// Assets per business system (empty key: none), most first.
    pub by_system: Top<Count>,
    /// low, medium, high, critical, unknown.
    pub by_importance: Vec<Count>,
    /// 1–5, unknown.
    pub by_dengbao: Vec<Count>,
    /// general, important, core, unknown.
    pub by_data_level: Vec<Count>,
    pub cii: usize,
    pub exposed: Top<ExposedAsset>,
    /// `None`: discovery does not record them.
    pub unknown: Option<Top<String>>,
}

/// A vulnerability (CVE or check) across the assets it is on.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct VulnLine {
    pub vuln: String,
    pub assets: usize,
    pub kev: bool,
    pub ransomware: bool,
    /// The highest priority (0–100) and its SSVC decision.
    pub priority: f64,
    pub decision: String,
    pub severity: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct OverdueLine {
    pub vuln: String,
    pub asset: String,
    pub decision: String,
    pub deadline: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Findings {
    pub total: usize,
    pub unresolved: usize,
    /// Unresolved by SSVC decision: immediate, out-of-cycle, scheduled, defer.
    pub by_decision: Vec<Count>,
    /// Unresolved by severity, critical first.
    pub by_severity: Vec<Count>,
    pub kev: usize,
    pub ransomware: usize,
    pub overdue: usize,
    /// Unresolved, KEV and ransomware first, then by priority.
    pub top: Top<VulnLine>,
    pub overdue_list: Top<OverdueLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SystemScore {
    pub org: String,
    /// Empty: assets with no business system.
    pub name: String,
    pub assets: usize,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AssetScore {
    pub id: i64,
    pub name: String,
    pub system: String,
    pub score: f64,
    /// The latest score's factors, weightiest first.
    pub factors: Vec<BiText>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct MonthScore {
    /// `2026-01`.
    pub month: String,
    /// At the month's end (or the period's).
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RiskPart {
    pub score: f64,
    pub band: Band,
    pub orgs: Vec<Count>,
    pub org_scores: Vec<OrgScore>,
    pub systems: Top<SystemScore>,
    pub assets: Top<AssetScore>,
    pub monthly: Vec<MonthScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct OrgScore {
    pub org: String,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct WarningLine {
    pub created: String,
    /// red, orange, yellow, blue.
    pub level: String,
    pub asset: String,
    pub title: BiText,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Threats {
    pub attacks: usize,
    pub attacks_by_severity: Vec<Count>,
    /// alert, intel.
    pub attacks_by_kind: Vec<Count>,
    /// Asset name → attacks.
    pub most_attacked: Top<Count>,
    pub warnings: usize,
    pub warnings_by_level: Vec<Count>,
    pub warning_list: Top<WarningLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AcceptedLine {
    pub vuln: String,
    pub asset: String,
    pub approver: String,
    pub until: String,
    /// The acceptance has run out.
    pub expired: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct MeanTimeToFix {
    pub decision: String,
    pub fixed: usize,
    pub mean_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Remediation {
    pub open: usize,
    pub in_progress: usize,
    pub accepted: usize,
    pub fixed: usize,
    pub fixed_in_period: usize,
    pub false_positive: usize,
    pub overdue: usize,
    pub accepted_list: Top<AcceptedLine>,
    /// Findings fixed in the period, first seen → fixed, per decision.
    pub mean_time_to_fix: Vec<MeanTimeToFix>,
}

/// The yearly report's numbers (the JSON answer).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct YearlyReport {
    pub org: String,
    /// ISO 8601 with the zone.
    pub from: String,
    pub to: String,
    pub generated: String,
    pub summary: Summary,
    pub inventory: Inventory,
    pub findings: Findings,
    pub risk: RiskPart,
    pub threats: Threats,
    pub remediation: Remediation,
    pub recommendations: Vec<BiText>,
}

/// Why a period is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period ends before it starts / 评估期间的结束早于开始")]
    Reversed,
    #[error("the period is longer than five years / 评估期间超过五年")]
    TooLong,
}

/// Checks a period: it starts before it ends and spans at most five years.
pub fn check_period(
    from: DateTime<FixedOffset>,
    to: DateTime<FixedOffset>,
) -> Result<(), PeriodError> {
    if to <= from {
        return Err(PeriodError::Reversed);
    }
    if (to - from).num_days() > 5 * 366 {
        return Err(PeriodError::TooLong);
    }
    Ok(())
}

/// A calendar year in `zone`: [1 January, next 1 January).
pub fn year(y: i32, zone: FixedOffset) -> Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)> {
    let start = zone.with_ymd_and_hms(y, 1, 1, 0, 0, 0).single()?;
    let end = zone
        .with_ymd_and_hms(y.checked_add(1)?, 1, 1, 0, 0, 0)
        .single()?;
    Some((start, end))
}

/// ISO 8601 with the zone, to the second.
pub fn iso(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A period bound as the state stores times (UTC, milliseconds).
pub fn stored(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn name_of(a: &AssetRow) -> String {
    a.name.clone().unwrap_or_else(|| format!("#{}", a.id))
}

fn unresolved(f: &FindingRow) -> bool {
    matches!(f.status.as_str(), "open" | "in_progress" | "accepted")
}

/// Counts of `keys` in the order of `order` (keys not in it after, by
/// count), zero counts left out.
fn counts<'a>(keys: impl Iterator<Item = &'a str>, order: &[&str]) -> Vec<Count> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for k in keys {
        *m.entry(k.to_string()).or_default() += 1;
    }
    let mut out: Vec<Count> = order
        .iter()
        .filter_map(|k| {
            m.remove(*k).map(|count| Count {
                key: k.to_string(),
                count,
            })
        })
        .collect();
    let mut rest: Vec<Count> = m
        .into_iter()
        .map(|(key, count)| Count { key, count })
        .collect();
    rest.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out.extend(rest);
    out
}

const DECISIONS: [&str; 4] = ["immediate", "out-of-cycle", "scheduled", "defer"];
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// The assets' latest stored score before an instant.
struct History {
    /// Per asset, (time, score) oldest first.
    points: HashMap<i64, Vec<(DateTime<Utc>, f64)>>,
}

impl History {
    fn new(rows: &PeriodRows) -> History {
        let mut points: HashMap<i64, Vec<(DateTime<Utc>, f64)>> = HashMap::new();
        for p in &rows.scores {
            if let Some(t) = parse(&p.at) {
                points.entry(p.asset_id).or_default().push((t, p.score));
            }
        }
        for v in points.values_mut() {
            v.sort_by_key(|a| a.0);
        }
        History { points }
    }

    fn at(&self, asset: i64, t: DateTime<Utc>) -> f64 {
        let Some(v) = self.points.get(&asset) else {
            return 0.0;
        };
        let n = v.partition_point(|(at, _)| *at < t);
        if n == 0 {
            0.0
        } else {
            v[n - 1].1
        }
    }
}

/// The roll-ups at one instant: the overall score, per organisation, per
/// business system (organisation, system, assets, score).
struct Rolled {
    overall: f64,
    orgs: Vec<(String, f64)>,
    systems: Vec<SystemScore>,
}

/// Roll-up members: (id, score).
type Members = Vec<(String, f64)>;

fn roll(assets: &[AssetRow], score: impl Fn(i64) -> f64) -> Rolled {
    let mut tree: BTreeMap<&str, BTreeMap<&str, Members>> = BTreeMap::new();
    for a in assets {
        tree.entry(a.org.as_str())
            .or_default()
            .entry(a.business_system.as_deref().unwrap_or(""))
            .or_default()
            .push((a.id.to_string(), score(a.id)));
    }
    let mut orgs = Vec::new();
    let mut systems = Vec::new();
    for (org, sys) in tree {
        let mut members = Vec::new();
        for (name, assets) in sys {
            let s = rollup(&assets, 1).score;
            members.push((name.to_string(), s));
            systems.push(SystemScore {
                org: org.to_string(),
                name: name.to_string(),
                assets: assets.len(),
                score: s,
            });
        }
        orgs.push((org.to_string(), rollup(&members, 1).score));
    }
    let overall = rollup(&orgs, 1).score;
    systems.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.name.cmp(&b.name))
    });
    orgs.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Rolled {
        overall,
        orgs,
        systems,
    }
}

/// The first instant of each month of the period after its start, and its end.
fn month_ends(
    from: DateTime<FixedOffset>,
    to: DateTime<FixedOffset>,
) -> Vec<(String, DateTime<Utc>)> {
    let zone = *from.offset();
    let mut out = Vec::new();
    let (mut y, mut m) = (from.year(), from.month());
    while out.len() < MAX_MONTHS {
        let label = format!("{y:04}-{m:02}");
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let Some(next) = zone.with_ymd_and_hms(ny, nm, 1, 0, 0, 0).single() else {
            break;
        };
        let end = next.min(to);
        out.push((label, end.with_timezone(&Utc)));
        if next >= to {
            break;
        }
        (y, m) = (ny, nm);
    }
    out
}

/// A factor's weight in the score, to order the factors by.
fn weight(f: &taishi_risk::Factor) -> f64 {
    match f.kind {
        taishi_risk::FactorKind::Additive => f.weight * f.input,
        // A multiplier's pull is how far it is from 1.
        taishi_risk::FactorKind::Multiplier => (1.0 - f.input).abs(),
    }
}

impl YearlyReport {
    /// Gives the ranked assets their factors: `factors` holds the latest
    /// stored score of the assets the ranking lists (read after
    /// [`YearlyReport::compute`] says which), weightiest factor first.
    pub fn set_factors(&mut self, factors: &HashMap<i64, RiskScore>) {
        for a in &mut self.risk.assets.items {
            if let Some(s) = factors.get(&a.id) {
                let mut f: Vec<&taishi_risk::Factor> = s.factors.iter().collect();
                f.sort_by(|x, y| weight(y).total_cmp(&weight(x)));
                a.factors = f.into_iter().map(|f| f.text.clone()).collect();
            }
        }
    }

    /// The report's numbers from the period's rows.
    pub fn compute(i: &YearlyInput) -> YearlyReport {
        let rows = &i.rows;
        let asof = i.generated.min(i.to).with_timezone(&Utc);
        let from = i.from.with_timezone(&Utc);
        let to = i.to.with_timezone(&Utc);
        let assets: Vec<&AssetRow> = rows.assets.iter().map(|(a, _)| a).collect();
        let names: HashMap<i64, String> = assets.iter().map(|a| (a.id, name_of(a))).collect();
        let asset_name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
        let docs: HashMap<i64, Asset> = rows
            .assets
            .iter()
            .filter_map(|(a, d)| Some((a.id, serde_json::from_str::<Asset>(d).ok()?)))
            .collect();
        let ransomware: HashSet<&str> = rows.ransomware.iter().map(String::as_str).collect();
        let is_ransomware =
            |f: &FindingRow| f.kev && f.cve.as_deref().is_some_and(|c| ransomware.contains(c));

        // ---- inventory
        let system = |a: &AssetRow| a.business_system.clone().unwrap_or_default();
        let by_system = Top::of(counts(
            assets
                .iter()
                .map(|a| a.business_system.as_deref().unwrap_or("")),
            &[],
        ));
        let by_importance = counts(
            assets
                .iter()
                .map(|a| a.importance.as_deref().unwrap_or("unknown")),
            &["critical", "high", "medium", "low", "unknown"],
        );
        let dengbao: Vec<String> = assets
            .iter()
            .map(|a| {
                docs.get(&a.id)
                    .and_then(|d| d.dengbao.as_ref())
                    .map(|l| l.value.get().to_string())
                    .unwrap_or_else(|| "unknown".into())
            })
            .collect();
        let by_dengbao = counts(
            dengbao.iter().map(String::as_str),
            &["5", "4", "3", "2", "1", "unknown"],
        );
        let data_levels: Vec<String> = assets
            .iter()
            .map(|a| {
                docs.get(&a.id)
                    .and_then(|d| d.data_level.as_ref())
                    .and_then(|l| serde_json::to_value(l.value).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "unknown".into())
            })
            .collect();
        let by_data_level = counts(
            data_levels.iter().map(String::as_str),
            &["core", "important", "general", "unknown"],
        );
        let cii = assets.iter().filter(|a| a.cii).count();
        let mut exposed: Vec<(f64, ExposedAsset)> = assets
            .iter()
            .filter(|a| a.exposed_ports > 0)
            .map(|a| {
                let ports = docs
                    .get(&a.id)
                    .map(taishi_risk::exposed_ports)
                    .unwrap_or_default();
                (
                    a.score,
                    ExposedAsset {
                        name: name_of(a),
                        system: system(a),
                        ports,
                    },
                )
            })
            .collect();
        exposed.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        let exposed_assets = exposed.len();
        let inventory = Inventory {
            by_system,
            by_importance,
            by_dengbao,
            by_data_level,
            cii,
            exposed: Top::of(exposed.into_iter().map(|(_, e)| e).collect()),
            unknown: i.unknown_assets.clone().map(Top::of),
        };

        // ---- findings
        let open: Vec<&FindingRow> = rows.findings.iter().filter(|f| unresolved(f)).collect();
        let overdue_of = |f: &FindingRow| {
            matches!(f.status.as_str(), "open" | "in_progress")
                && f.deadline
                    .as_deref()
                    .and_then(parse)
                    .is_some_and(|d| d < asof)
        };
        let overdue: Vec<&FindingRow> = open.iter().copied().filter(|f| overdue_of(f)).collect();
        let mut vulns: BTreeMap<&str, (BTreeSet<i64>, &FindingRow, bool, bool)> = BTreeMap::new();
        for f in open.iter().copied() {
            let e = vulns
                .entry(f.vuln.as_str())
                .or_insert_with(|| (BTreeSet::new(), f, false, false));
            e.0.insert(f.asset_id);
            if f.priority > e.1.priority {
                e.1 = f;
            }
            e.2 |= f.kev;
            e.3 |= is_ransomware(f);
        }
        let mut top: Vec<VulnLine> = vulns
            .into_iter()
            .map(|(v, (assets, f, kev, rw))| VulnLine {
                vuln: v.to_string(),
                assets: assets.len(),
                kev,
                ransomware: rw,
                priority: f.priority,
                decision: f.decision.clone(),
                severity: f.severity.clone(),
            })
            .collect();
        top.sort_by(|a, b| {
            (b.kev, b.ransomware)
                .cmp(&(a.kev, a.ransomware))
                .then_with(|| b.priority.total_cmp(&a.priority))
                .then_with(|| b.assets.cmp(&a.assets))
                .then_with(|| a.vuln.cmp(&b.vuln))
        });
        let mut overdue_lines: Vec<(&FindingRow, OverdueLine)> = overdue
            .iter()
            .map(|f| {
                (
                    *f,
                    OverdueLine {
                        vuln: f.vuln.clone(),
                        asset: asset_name(f.asset_id),
                        decision: f.decision.clone(),
                        deadline: f.deadline.clone().unwrap_or_default(),
                    },
                )
            })
            .collect();
        overdue_lines.sort_by(|a, b| {
            a.1.deadline
                .cmp(&b.1.deadline)
                .then_with(|| a.0.id.cmp(&b.0.id))
        });
        let findings = Findings {
            total: rows.findings.len(),
            unresolved: open.len(),
            by_decision: counts(open.iter().map(|f| f.decision.as_str()), &DECISIONS),
            by_severity: counts(open.iter().map(|f| f.severity.as_str()), &SEVERITIES),
            kev: open.iter().filter(|f| f.kev).count(),
            ransomware: open.iter().filter(|f| is_ransomware(f)).count(),
            overdue: overdue.len(),
            top: Top::of(top),
            overdue_list: Top::of(overdue_lines.into_iter().map(|(_, l)| l).collect()),
        };

        // ---- risk
        let history = History::new(rows);
        let rows_owned: Vec<AssetRow> = assets.iter().map(|a| (*a).clone()).collect();
        let end = roll(&rows_owned, |id| history.at(id, to));
        let start = roll(&rows_owned, |id| history.at(id, from));
        let mut ranked: Vec<AssetScore> = assets
            .iter()
            .map(|a| AssetScore {
                id: a.id,
                name: name_of(a),
                system: system(a),
                score: history.at(a.id, to),
                factors: Vec::new(),
            })
            .filter(|a| a.score > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        let ranked = Top::of(ranked);
        let monthly = month_ends(i.from, i.to)
            .into_iter()
            .map(|(month, t)| MonthScore {
                month,
                score: roll(&rows_owned, |id| history.at(id, t)).overall,
            })
            .collect();
        let change = ((end.overall - start.overall) * 10.0).round() / 10.0;
        let risk = RiskPart {
            score: end.overall,
            band: Band::of(end.overall),
            orgs: counts(assets.iter().map(|a| a.org.as_str()), &[]),
            org_scores: end
                .orgs
                .iter()
                .map(|(org, score)| OrgScore {
                    org: org.clone(),
                    score: *score,
                })
                .collect(),
            systems: Top::of(end.systems),
            assets: ranked,
            monthly,
        };

        // ---- threats
        let mut attacked = counts(
            rows.attacks
                .iter()
                .map(|a| a.asset_id.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
            &[],
        );
        for c in &mut attacked {
            c.key = c
                .key
                .parse()
                .map(asset_name)
                .unwrap_or_else(|_| c.key.clone());
        }
        let warning_list: Vec<WarningLine> = rows
            .warnings
            .iter()
            .map(|w| WarningLine {
                created: w.created.clone(),
                level: w.level.clone(),
                asset: asset_name(w.asset_id),
                title: serde_json::from_str::<taishi_risk::Warning>(&w.doc)
                    .map(|d| d.title)
                    .unwrap_or_else(|_| BiText::new(w.kind.clone(), w.kind.clone())),
            })
            .collect();
        let threats = Threats {
            attacks: rows.attacks.len(),
            attacks_by_severity: counts(
                rows.attacks.iter().map(|a| a.severity.as_str()),
                &["critical", "high", "medium", "low", "informational"],
            ),
            attacks_by_kind: counts(
                rows.attacks.iter().map(|a| a.kind.as_str()),
                &["alert", "intel"],
            ),
            most_attacked: Top::of(attacked),
            warnings: rows.warnings.len(),
            warnings_by_level: counts(
                rows.warnings.iter().map(|w| w.level.as_str()),
                &["red", "orange", "yellow", "blue"],
            ),
            warning_list: Top::of(warning_list),
        };

        // ---- remediation
        let status = |s: &str| rows.findings.iter().filter(|f| f.status == s).count();
        let fixed_in: Vec<(&FindingRow, f64)> = rows
            .findings
            .iter()
            .filter(|f| f.status == "fixed")
            .filter_map(|f| {
                let done = parse(&f.updated)?;
                let seen = parse(&f.first_seen)?;
                (done >= from && done < to)
                    .then(|| (f, (done - seen).num_seconds().max(0) as f64 / 86_400.0))
            })
            .collect();
        let mut mttf: Vec<MeanTimeToFix> = Vec::new();
        for d in DECISIONS {
            let days: Vec<f64> = fixed_in
                .iter()
                .filter(|(f, _)| f.decision == d)
                .map(|(_, d)| *d)
                .collect();
            if !days.is_empty() {
                mttf.push(MeanTimeToFix {
                    decision: d.to_string(),
                    fixed: days.len(),
                    mean_days: (days.iter().sum::<f64>() / days.len() as f64 * 10.0).round() / 10.0,
                });
            }
        }
        let mut accepted: Vec<AcceptedLine> = rows
            .findings
            .iter()
            .filter(|f| f.status == "accepted")
            .map(|f| AcceptedLine {
                vuln: f.vuln.clone(),
                asset: asset_name(f.asset_id),
                approver: f.approver.clone().unwrap_or_default(),
                until: f.accepted_until.clone().unwrap_or_default(),
                expired: f
                    .accepted_until
                    .as_deref()
                    .and_then(parse)
                    .is_some_and(|u| u < asof),
            })
            .collect();
        accepted
            .sort_by(|a, b| (b.expired, &a.until, &a.vuln).cmp(&(a.expired, &b.until, &b.vuln)));
        let remediation = Remediation {
            open: status("open"),
            in_progress: status("in_progress"),
            accepted: accepted.len(),
            fixed: status("fixed"),
            fixed_in_period: fixed_in.len(),
            false_positive: status("false_positive"),
            overdue: findings.overdue,
            accepted_list: Top::of(accepted),
            mean_time_to_fix: mttf,
        };

        let summary = Summary {
            assets: assets.len(),
            cii_assets: cii,
            exposed_assets,
            business_systems: inventory.by_system.items.len() + inventory.by_system.more,
            findings: findings.total,
            unresolved: findings.unresolved,
            kev_unresolved: findings.kev,
            ransomware_unresolved: findings.ransomware,
            overdue: findings.overdue,
            fixed_in_period: remediation.fixed_in_period,
            warnings: threats.warnings,
            attacks: threats.attacks,
            score: end.overall,
            band: Band::of(end.overall),
            score_at_start: start.overall,
            change,
            truncated: rows.truncated,
        };
        let mut r = YearlyReport {
            org: i.org.clone(),
            from: iso(i.from),
            to: iso(i.to),
            generated: iso(i.generated),
            summary,
            inventory,
            findings,
            risk,
            threats,
            remediation,
            recommendations: Vec::new(),
        };
        r.recommendations = recommend(&r, &docs, &rows_owned);
        r
    }
}

/// Recommendations that follow from the numbers, most urgent first; the
/// yearly assessment itself always closes the list.
fn recommend(r: &YearlyReport, docs: &HashMap<i64, Asset>, assets: &[AssetRow]) -> Vec<BiText> {
    let mut out = Vec::new();
    let f = &r.findings;
    if f.kev > 0 {
        out.push(BiText::new(
            format!(
                "立即修复 {} 个已列入 CISA KEV（已被在野利用）的漏洞，其中 {} 个已知被勒索软件利用；无法立即修复的，先行隔离或限制访问。",
                f.kev, f.ransomware
            ),
            format!(
                "Fix now the {} findings listed in CISA KEV (exploited in the wild), {} of them known to be used by ransomware; isolate or restrict access to what cannot be fixed at once.",
                f.kev, f.ransomware
            ),
        ));
    }
    if f.overdue > 0 {
        out.push(BiText::new(
            format!("{} 个漏洞已超过整改期限：明确责任人并重新排期，或按程序审批接受风险。", f.overdue),
            format!(
                "{} findings are past their remediation deadline: name an owner and reschedule them, or have the risk accepted through the approval procedure.",
                f.overdue
            ),
        ));
    }
    let expired = r
        .remediation
        .accepted_list
        .items
        .iter()
        .filter(|a| a.expired)
        .count();
    if expired > 0 {
        out.push(BiText::new(
            format!("{expired} 项风险接受已到期：重新评审，修复或续批。"),
            format!("{expired} accepted risks have expired: review them again, fix or renew the approval."),
        ));
    }
    if r.summary.exposed_assets > 0 {
        out.push(BiText::new(
            format!(
                "{} 个资产有可从外部访问的端口：逐一确认业务必要性，关闭不必要的暴露面。",
                r.summary.exposed_assets
            ),
            format!(
                "{} assets have ports reachable from outside: confirm each is needed and close the rest.",
                r.summary.exposed_assets
            ),
        ));
    }
    let cii_unlevelled = assets
        .iter()
        .filter(|a| a.cii && docs.get(&a.id).is_none_or(|d| d.dengbao.is_none()))
        .count();
    if cii_unlevelled > 0 {
        out.push(BiText::new(
            format!("{cii_unlevelled} 个关键信息基础设施资产未登记等保级别：补充定级备案信息。"),
            format!("{cii_unlevelled} CII assets have no 等保 (MLPS) level in the register: record their grading."),
        ));
    }
    let unknown = r
        .inventory
        .by_importance
        .iter()
        .find(|c| c.key == "unknown")
        .map_or(0, |c| c.count);
    if unknown > 0 {
        out.push(BiText::new(
            format!("{unknown} 个资产未登记重要性：补全资产清单，风险评分才能反映业务影响。"),
            format!("{unknown} assets have no importance in the register: complete the inventory so their scores reflect business impact."),
        ));
    }
    let severe = r
        .threats
        .warnings_by_level
        .iter()
        .filter(|c| c.key == "red" || c.key == "orange")
        .map(|c| c.count)
        .sum::<usize>();
    if severe > 0 {
        out.push(BiText::new(
            format!("本期共 {severe} 条红色/橙色预警：复盘处置过程，确认相关漏洞已修复、攻击路径已阻断。"),
            format!("{severe} red or orange warnings this period: review how each was handled and confirm the vulnerabilities are fixed and the attack paths closed."),
        ));
    }
    if r.summary.change > 0.0 {
        out.push(BiText::new(
            format!("整体风险分较期初上升 {:.1}：优先处置风险排名靠前的业务系统和资产。", r.summary.change),
            format!("The overall score rose by {:.1} since the period's start: deal first with the highest-ranked business systems and assets.", r.summary.change),
        ));
    }
    out.push(BiText::new(
        "保持持续监测，并至少每年开展一次网络安全检测和风险评估（《关键信息基础设施安全保护条例》第十七条）。",
        "Keep monitoring continuously and carry out a cybersecurity test and risk assessment at least once a year (CII regulation, Art. 17).",
    ));
    out
}

#[cfg(test)]
mod tests;
