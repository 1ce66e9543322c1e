//! The grade of an incident (特别重大/重大/较大/一般): a decision aid that
//! follows the 网络安全事件分级指南 annexed to the 2025 reporting measures.
//!
//! Method: the annex lists, per grade, conditions of which any one is
//! enough ("满足下列条件之一的"). Each condition with a number is a row of
//! `data/grading-2025.yaml`: a criterion, a threshold and, for sites, a
//! scope. A row matches when the input's value for its criterion is at
//! least the threshold ("以上" includes the number). The grade is the
//! highest grade with a matching row; the first matching row of that grade
//! (in table order) is the one that decided. Nothing matching is 一般.
//! Qualitative conditions ("特别严重的系统损失", "特别严重威胁") are ordinal
//! inputs the analyst sets (0–3), compared the same way.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::data::{parse_yaml, DataError};
use crate::lang::{Label, Lang, Text};

const GRADING_FILE: &str = "data/grading-2025.yaml";
const GRADING_YAML: &str = include_str!("../data/grading-2025.yaml");

/// At most this many rows in a grading table.
pub const MAX_ROWS: usize = 1_000;

/// The four grades, ordered: `Grade::EspeciallyMajor > Grade::General`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 一般
    #[default]
    General,
    /// 较大
    RelativelyMajor,
    /// 重大
    Major,
    /// 特别重大
    EspeciallyMajor,
}

impl Grade {
    pub const ALL: [Grade; 4] = [
        Grade::General,
        Grade::RelativelyMajor,
        Grade::Major,
        Grade::EspeciallyMajor,
    ];

    /// 较大 and above must be reported (Art. 4).
    pub fn reportable(self) -> bool {
        self >= Grade::RelativelyMajor
    }

    /// 0 (一般) to 3 (特别重大): how ordinal inputs are compared.
    pub fn rank(self) -> u8 {
        self as u8
    }
}

impl Label for Grade {
    fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Grade::General, Lang::Zh) => "一般",
            (Grade::RelativelyMajor, Lang::Zh) => "较大",
            (Grade::Major, Lang::Zh) => "重大",
            (Grade::EspeciallyMajor, Lang::Zh) => "特别重大",
            (Grade::General, Lang::En) => "general",
            (Grade::RelativelyMajor, Lang::En) => "relatively major",
            (Grade::Major, Lang::En) => "major",
            (Grade::EspeciallyMajor, Lang::En) => "especially major",
        }
    }
}

/// What a row measures.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Loss to an important system, ordinal 0–3 ([`SystemLoss`]).
    SystemLoss,
    /// Core or important data compromised, threat ordinal 0–3 ([`Threat`]).
    DataThreat,
    /// A portal or key news site unreachable, minutes (with a scope).
    PortalOutageMinutes,
    /// The CII wholly out of operation, minutes.
    CiiTotalOutageMinutes,
    /// The CII's main functions out of operation, minutes.
    CiiMainFunctionOutageMinutes,
    /// Share of the population of one or more provinces affected, percent.
    PopulationShareProvincePct,
    /// Share of the population of one or more prefectures affected, percent.
    PopulationShareCityPct,
    /// People whose utilities, transport, care… were affected.
    PeopleAffected,
    /// People whose personal information leaked.
    PiPeopleLeaked,
    /// Direct economic loss, yuan.
    DirectLossYuan,
    /// Illegal content from a defacement on the home page, minutes.
    SpreadHomepageMinutes,
    /// … on other pages, minutes.
    SpreadOtherPageMinutes,
    /// … reposts on social platforms.
    SpreadReposts,
    /// … views or clicks.
    SpreadViews,
    /// An authority determined the spread's extent, ordinal 1–3.
    SpreadDetermined,
    /// The analyst's judgement under the catch-all "其他…" clause, 1–3.
    OtherJudgement,
}

impl Criterion {
    /// The smallest step of the criterion's unit: "just below" a threshold
    /// is the threshold minus this.
    pub fn step(self) -> f64 {
        match self {
            Criterion::PopulationShareProvincePct | Criterion::PopulationShareCityPct => 0.01,
            _ => 1.0,
        }
    }

    /// Criteria about a site carry a scope.
    pub fn has_scope(self) -> bool {
        matches!(
            self,
            Criterion::PortalOutageMinutes
                | Criterion::SpreadHomepageMinutes
                | Criterion::SpreadOtherPageMinutes
                | Criterion::SpreadReposts
                | Criterion::SpreadViews
        )
    }
}

/// Where a row's threshold comes from.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Checked against the final text of the annex.
    Final,
    /// From the 2023 draft, not found in the final text.
    Draft,
    /// Could not be checked against either text.
    Unverified,
}

/// One threshold row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub id: String,
    pub grade: Grade,
    pub criterion: Criterion,
    pub threshold: f64,
    /// For site criteria: the least site scope the row applies to.
    #[serde(default)]
    pub scope: Option<u8>,
    pub source: Source,
    /// The draft's value where the final text changed it.
    #[serde(default)]
    pub draft_value: Option<f64>,
    pub text: Text,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradingFile {
    measures: String,
    file_version: u32,
    important_system_min_dengbao_level: u8,
    rows: Vec<Row>,
}

/// The thresholds.
#[derive(Debug, Clone)]
pub struct GradingTable {
    pub measures: String,
    pub file_version: u32,
    pub important_system_min_dengbao_level: u8,
    pub rows: Vec<Row>,
}

/// Which sites a portal or spread criterion speaks of.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SiteScope {
    /// 企事业单位门户网站 and other sites.
    #[default]
    Other,
    /// 地市级以上党政机关门户网站、重点新闻网站、大型网络平台.
    CityOrAbove,
    /// 省级以上党政机关门户网站、中央重点新闻网站、超大型网络平台.
    ProvincialOrCentral,
}

impl SiteScope {
    fn rank(self) -> u8 {
        self as u8
    }
}

/// How badly an important system was hit (the annex's qualitative rows).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SystemLoss {
    #[default]
    None,
    /// 较大的系统损失: interruption, efficiency clearly reduced.
    Considerable,
    /// 严重的系统损失: long interruption or partial paralysis.
    Severe,
    /// 特别严重的系统损失: widespread paralysis, capability lost.
    EspeciallySevere,
}

/// How serious a threat to national security and social stability.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Threat {
    #[default]
    None,
    /// 较严重
    RelativelySerious,
    /// 严重
    Serious,
    /// 特别严重
    EspeciallySerious,
}

/// The affected systems' importance (from the asset register or entered).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemImportance {
    /// A critical information infrastructure (关键信息基础设施).
    #[serde(default)]
    pub cii: bool,
    /// The 等保 (MLPS 2.0) level, 1–5.
    #[serde(default)]
    pub dengbao_level: Option<u8>,
}

/// A site that was unreachable.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteOutage {
    pub scope: SiteScope,
    pub unreachable_minutes: u64,
}

/// Illegal content spread through a defaced site.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spread {
    pub scope: SiteScope,
    #[serde(default)]
    pub homepage_minutes: u64,
    #[serde(default)]
    pub other_page_minutes: u64,
    #[serde(default)]
    pub reposts: u64,
    #[serde(default)]
    pub views: u64,
    /// An authority's determination of the extent (较大/大/特大范围).
    #[serde(default)]
    pub determined: Option<Grade>,
}

/// Core or important data involved.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataImpact {
    #[serde(default)]
    pub core: bool,
    #[serde(default)]
    pub important: bool,
    #[serde(default)]
    pub threat: Threat,
}

/// What the analyst (or the asset register and counters) knows.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GradingInput {
    #[serde(default)]
    pub system: SystemImportance,
    #[serde(default)]
    pub system_loss: SystemLoss,
    #[serde(default)]
    pub cii_total_outage_minutes: Option<u64>,
    #[serde(default)]
    pub cii_main_function_outage_minutes: Option<u64>,
    #[serde(default)]
    pub portal: Option<SiteOutage>,
    #[serde(default)]
    pub population_share_province_pct: Option<f64>,
    #[serde(default)]
    pub population_share_city_pct: Option<f64>,
    #[serde(default)]
    pub people_affected: Option<u64>,
    #[serde(default)]
    pub data: DataImpact,
    /// People whose personal information leaked (the data-security
    /// counters feed this when present).
    #[serde(default)]
    pub pi_people_leaked: Option<u64>,
    #[serde(default)]
    pub direct_loss_yuan: Option<u64>,
    #[serde(default)]
    pub spread: Option<Spread>,
    /// The catch-all clause, when the analyst judges it applies.
    #[serde(default)]
    pub other_judgement: Option<Grade>,
}

/// A row that matched, with the value that met it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matched {
    pub id: String,
    pub grade: Grade,
    pub criterion: Criterion,
    pub threshold: f64,
    pub value: f64,
    pub source: Source,
    pub text: Text,
}

/// The outcome: the grade, the row that decided it and every row met.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grading {
    pub grade: Grade,
    /// None for 一般 (no row met).
    pub decided_by: Option<Matched>,
    pub matched: Vec<Matched>,
    pub table_version: u32,
    /// Cautions: the deciding row is not checked against the final text.
    pub warnings: Vec<Text>,
}

impl Grading {
    /// One sentence: the grade and why.
    pub fn explain(&self, lang: Lang) -> String {
        match (&self.decided_by, lang) {
            (Some(m), Lang::Zh) => format!("{}：{}（{}）", self.grade.label(lang), m.text.zh, m.id),
            (Some(m), Lang::En) => format!("{}: {} ({})", self.grade.label(lang), m.text.en, m.id),
            (None, Lang::Zh) => "一般：未达到较大以上网络安全事件的任何条件".to_string(),
            (None, Lang::En) => {
                "general: no condition of a relatively major or higher incident is met".to_string()
            }
        }
    }
}

impl GradingTable {
    pub fn builtin() -> &'static GradingTable {
        static T: OnceLock<GradingTable> = OnceLock::new();
        T.get_or_init(|| {
            GradingTable::from_yaml(GRADING_FILE, GRADING_YAML)
                .expect("the built-in grading table is checked by the crate's tests")
        })
    }

    /// A table from YAML (the built-in one or an operator's configuration).
    pub fn from_yaml(file: &str, text: &str) -> Result<GradingTable, DataError> {
        let f: GradingFile = parse_yaml(file, text)?;
        if f.rows.len() > MAX_ROWS {
            return Err(DataError::invalid(file, "rows", "too many rows"));
        }
        let mut ids = std::collections::HashSet::new();
        for (i, r) in f.rows.iter().enumerate() {
            let field = |f: &str| format!("rows[{i}].{f}");
            if !ids.insert(r.id.as_str()) {
                return Err(DataError::invalid(
                    file,
                    field("id"),
                    format!("`{}` appears twice", r.id),
                ));
            }
            if !r.threshold.is_finite() || r.threshold <= 0.0 {
                return Err(DataError::invalid(
                    file,
                    field("threshold"),
                    "must be a positive number",
                ));
            }
            if r.grade == Grade::General {
                return Err(DataError::invalid(
                    file,
                    field("grade"),
                    "一般 is what no row meets; rows grade 较大 and above",
                ));
            }
            if r.criterion.has_scope() && r.scope.is_none_or(|s| s > 2) {
                return Err(DataError::invalid(
                    file,
                    field("scope"),
                    "a site row needs scope 0, 1 or 2",
                ));
            }
        }
        Ok(GradingTable {
            measures: f.measures,
            file_version: f.file_version,
            important_system_min_dengbao_level: f.important_system_min_dengbao_level,
            rows: f.rows,
        })
    }

    fn important(&self, s: &SystemImportance) -> bool {
        s.cii
            || s.dengbao_level
                .is_some_and(|l| l >= self.important_system_min_dengbao_level)
    }

    /// The input's value for a row, None when the row does not apply.
    fn value(&self, row: &Row, x: &GradingInput) -> Option<f64> {
        let scoped = |scope: SiteScope| row.scope.is_some_and(|s| scope.rank() >= s);
        Some(match row.criterion {
            Criterion::SystemLoss if self.important(&x.system) => x.system_loss as u8 as f64,
            Criterion::SystemLoss => return None,
            Criterion::DataThreat if x.data.core || x.data.important => x.data.threat as u8 as f64,
            Criterion::DataThreat => return None,
            Criterion::PortalOutageMinutes => {
                let p = x.portal?;
                if !scoped(p.scope) {
                    return None;
                }
                p.unreachable_minutes as f64
            }
            Criterion::CiiTotalOutageMinutes if x.system.cii => x.cii_total_outage_minutes? as f64,
            Criterion::CiiMainFunctionOutageMinutes if x.system.cii => {
                x.cii_main_function_outage_minutes? as f64
            }
            Criterion::CiiTotalOutageMinutes | Criterion::CiiMainFunctionOutageMinutes => {
                return None
            }
            Criterion::PopulationShareProvincePct => x.population_share_province_pct?,
            Criterion::PopulationShareCityPct => x.population_share_city_pct?,
            Criterion::PeopleAffected => x.people_affected? as f64,
            Criterion::PiPeopleLeaked => x.pi_people_leaked? as f64,
            Criterion::DirectLossYuan => x.direct_loss_yuan? as f64,
            Criterion::SpreadHomepageMinutes
            | Criterion::SpreadOtherPageMinutes
            | Criterion::SpreadReposts
            | Criterion::SpreadViews => {
                let s = x.spread?;
                if !scoped(s.scope) {
                    return None;
                }
                (match row.criterion {
                    Criterion::SpreadHomepageMinutes => s.homepage_minutes,
                    Criterion::SpreadOtherPageMinutes => s.other_page_minutes,
                    Criterion::SpreadReposts => s.reposts,
                    _ => s.views,
                }) as f64
            }
            Criterion::SpreadDetermined => x.spread?.determined?.rank() as f64,
            Criterion::OtherJudgement => x.other_judgement?.rank() as f64,
        })
    }

    /// Grades `input`.
    pub fn grade(&self, input: &GradingInput) -> Grading {
        let mut matched: Vec<Matched> = Vec::new();
        for row in &self.rows {
            let Some(v) = self.value(row, input) else {
                continue;
            };
            // NaN never meets a threshold: a share that is not a number
            // is no evidence.
            if v >= row.threshold {
                matched.push(Matched {
                    id: row.id.clone(),
                    grade: row.grade,
                    criterion: row.criterion,
                    threshold: row.threshold,
                    value: v,
                    source: row.source,
                    text: row.text.clone(),
                });
            }
        }
        let grade = matched.iter().map(|m| m.grade).max().unwrap_or_default();
        let decided_by = matched.iter().find(|m| m.grade == grade).cloned();
        let mut warnings = Vec::new();
        if let Some(d) = &decided_by {
            match d.source {
                Source::Final => {}
                Source::Draft => warnings.push(Text::new(
                    format!("决定分级的阈值 {} 取自征求意见稿，未见于正式文本", d.id),
                    format!(
                        "the deciding threshold {} comes from the draft, not the final text",
                        d.id
                    ),
                )),
                Source::Unverified => warnings.push(Text::new(
                    format!("决定分级的阈值 {} 尚未与正式文本核对", d.id),
                    format!(
                        "the deciding threshold {} is not yet checked against the final text",
                        d.id
                    ),
                )),
            }
        }
        Grading {
            grade,
            decided_by,
            matched,
            table_version: self.file_version,
            warnings,
        }
    }
}

/// An input that meets exactly `row` with `value` (and nothing else, unless
/// another row shares the criterion). Tests and the console's "what would
/// make this 较大" hint use it.
pub fn input_for(row: &Row, value: f64) -> GradingInput {
    let mut x = GradingInput::default();
    let scope = match row.scope.unwrap_or(0) {
        0 => SiteScope::Other,
        1 => SiteScope::CityOrAbove,
        _ => SiteScope::ProvincialOrCentral,
    };
    let n = value.max(0.0) as u64;
    let ordinal = |v: f64| Grade::ALL[(v.max(0.0) as usize).min(3)];
    match row.criterion {
        Criterion::SystemLoss => {
            x.system.cii = true;
            x.system_loss = [
                SystemLoss::None,
                SystemLoss::Considerable,
                SystemLoss::Severe,
                SystemLoss::EspeciallySevere,
            ][(n as usize).min(3)];
        }
        Criterion::DataThreat => {
            x.data.important = true;
            x.data.threat = [
                Threat::None,
                Threat::RelativelySerious,
                Threat::Serious,
                Threat::EspeciallySerious,
            ][(n as usize).min(3)];
        }
        Criterion::PortalOutageMinutes => {
            x.portal = Some(SiteOutage {
                scope,
                unreachable_minutes: n,
            })
        }
        Criterion::CiiTotalOutageMinutes => {
            x.system.cii = true;
            x.cii_total_outage_minutes = Some(n);
        }
        Criterion::CiiMainFunctionOutageMinutes => {
            x.system.cii = true;
            x.cii_main_function_outage_minutes = Some(n);
        }
        Criterion::PopulationShareProvincePct => x.population_share_province_pct = Some(value),
        Criterion::PopulationShareCityPct => x.population_share_city_pct = Some(value),
        Criterion::PeopleAffected => x.people_affected = Some(n),
        Criterion::PiPeopleLeaked => x.pi_people_leaked = Some(n),
        Criterion::DirectLossYuan => x.direct_loss_yuan = Some(n),
        Criterion::SpreadHomepageMinutes
        | Criterion::SpreadOtherPageMinutes
        | Criterion::SpreadReposts
        | Criterion::SpreadViews => {
            let mut s = Spread {
                scope,
                ..Spread::default()
            };
            match row.criterion {
                Criterion::SpreadHomepageMinutes => s.homepage_minutes = n,
                Criterion::SpreadOtherPageMinutes => s.other_page_minutes = n,
                Criterion::SpreadReposts => s.reposts = n,
                _ => s.views = n,
            }
            x.spread = Some(s);
        }
        Criterion::SpreadDetermined => {
            x.spread = Some(Spread {
                determined: (n > 0).then(|| ordinal(value)),
                ..Spread::default()
            })
        }
        Criterion::OtherJudgement => x.other_judgement = (n > 0).then(|| ordinal(value)),
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cii_outage_grades_and_names_its_row() {
        let t = GradingTable::builtin();
        let mut x = GradingInput::default();
        x.system.cii = true;
        x.cii_total_outage_minutes = Some(45);
        let g = t.grade(&x);
        assert_eq!(g.grade, Grade::RelativelyMajor);
        assert_eq!(g.decided_by.as_ref().unwrap().id, "rm.cii_total");
        assert!(g.explain(Lang::Zh).starts_with("较大："));
        assert!(!g.warnings.is_empty(), "an unverified row decided");
        // The same outage on a non-CII system says nothing.
        x.system.cii = false;
        assert_eq!(t.grade(&x).grade, Grade::General);
    }

    #[test]
    fn highest_grade_wins_and_every_match_is_listed() {
        let t = GradingTable::builtin();
        let x = GradingInput {
            pi_people_leaked: Some(150_000_000),
            direct_loss_yuan: Some(6_000_000),
            ..GradingInput::default()
        };
        let g = t.grade(&x);
        assert_eq!(g.grade, Grade::EspeciallyMajor);
        assert_eq!(g.decided_by.unwrap().id, "em.pi");
        assert!(g.warnings.is_empty());
        assert_eq!(g.matched.len(), 4, "{:?}", g.matched);
    }

    #[test]
    fn system_loss_needs_an_important_system() {
        let t = GradingTable::builtin();
        let mut x = GradingInput {
            system_loss: SystemLoss::EspeciallySevere,
            ..GradingInput::default()
        };
        x.system.dengbao_level = Some(2);
        assert_eq!(t.grade(&x).grade, Grade::General);
        x.system.dengbao_level = Some(3);
        assert_eq!(t.grade(&x).grade, Grade::EspeciallyMajor);
    }

    #[test]
    fn nan_share_meets_nothing() {
        let x = GradingInput {
            population_share_province_pct: Some(f64::NAN),
            ..GradingInput::default()
        };
        assert_eq!(GradingTable::builtin().grade(&x).grade, Grade::General);
    }
}
