//! The report of Art. 7 of the 2025 measures, typed, pre-filled from an
//! incident and serialisable to JSON (DOCX and PDF are rendered later from
//! this form). The eight items:
//!
//! 1. the unit and the affected facilities, systems or platforms;
//! 2. time, place, type, impact, measures taken, and for ransomware the
//!    ransom amount, method and date;
//! 3. how it may develop; 4. the preliminary cause; 5. leads for tracing
//!    (attacker, path, vulnerabilities); 6. further measures and support
//!    requested; 7. how the scene is preserved; 8. anything else.
//!
//! When the cause is not yet known a first report with items 1–2 is
//! allowed; supplementary reports follow. The summary report after closing
//! has its own template.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::category::Categories;
use crate::grade::Grade;
use crate::incident::{Incident, ObservableKind};
use crate::lang::{Label, Lang, Text};

/// A text field is at most this many characters.
pub const MAX_FIELD_CHARS: usize = 20_000;
/// A list field holds at most this many entries.
pub const MAX_LIST: usize = 1_000;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind", content = "n")]
pub enum ReportKind {
    /// The first report: items 1–2 suffice when the cause is unknown.
    First,
    /// The n-th supplementary report (from 1).
    Supplementary(u32),
}

/// Item 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Unit {
    pub name: String,
    pub contact: Option<String>,
    /// The facilities, systems or platforms affected.
    pub affected_systems: Vec<String>,
}

/// Ransomware particulars (part of item 2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Ransom {
    /// As demanded, with its currency ("5 BTC", "¥2,000,000").
    pub amount: String,
    /// How payment is demanded (wallet, channel).
    pub method: String,
    pub date: Option<DateTime<FixedOffset>>,
}

/// Item 2.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Occurrence {
    pub occurred_at: Option<DateTime<FixedOffset>>,
    pub discovered_at: Option<DateTime<FixedOffset>>,
    pub place: String,
    /// GB/T 20986-2023 subcategory code and names.
    pub category_code: Option<String>,
    pub category: Option<Text>,
    pub grade: Option<Grade>,
    pub impact: String,
    pub measures_taken: String,
    pub ransom: Option<Ransom>,
}

/// What the analyst writes into the reports; the rest is pre-filled from
/// the incident. A field that is set replaces what the incident gives
/// (`affected_systems` replaces the hosts found in the alerts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct ReportDraft {
    pub contact: Option<String>,
    pub affected_systems: Option<Vec<String>>,
    pub place: Option<String>,
    pub impact: Option<String>,
    pub measures_taken: Option<String>,
    pub ransom: Option<Ransom>,
    pub development: Option<String>,
    pub cause: Option<String>,
    pub attackers: Option<Vec<String>>,
    pub paths: Option<Vec<String>>,
    pub vulnerabilities: Option<Vec<String>>,
    pub further_measures: Option<String>,
    pub support_requested: Option<String>,
    pub scene_preservation: Option<String>,
    pub other: Option<String>,
    /// The summary report's sections.
    pub summary: SummaryDraft,
}

/// The summary report's sections as the analyst writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct SummaryDraft {
    pub cause: Option<String>,
    pub response: Option<String>,
    pub loss_and_impact: Option<String>,
    pub accountability: Option<String>,
    pub lessons: Option<String>,
    pub rectification: Option<String>,
}

/// `newer`'s fields that are set replace `old`'s; the names of those set.
macro_rules! overlay {
    ($old:expr, $newer:expr, $set:expr, $prefix:literal; $($f:ident),*) => {
        $(if $newer.$f.is_some() {
            $old.$f = $newer.$f.clone();
            $set.push(concat!($prefix, stringify!($f)));
        })*
    };
}

impl ReportDraft {
    /// Takes the fields `newer` sets; answers their names (for the
    /// timeline).
    pub fn merge(&mut self, newer: &ReportDraft) -> Vec<&'static str> {
        let mut set = Vec::new();
        overlay!(self, newer, set, ""; contact, affected_systems, place, impact, measures_taken,
            ransom, development, cause, attackers, paths, vulnerabilities, further_measures,
            support_requested, scene_preservation, other);
        overlay!(self.summary, newer.summary, set, "summary."; cause, response,
            loss_and_impact, accountability, lessons, rectification);
        set
    }

    /// Checks each text against [`MAX_FIELD_CHARS`] and each list against
    /// [`MAX_LIST`].
    pub fn check(&self, incident: &str) -> Result<(), ReportError> {
        let too = |field, limit| ReportError::TooLong {
            incident: incident.to_string(),
            field,
            limit,
        };
        let d = &self.summary;
        for (field, s) in [
            ("contact", &self.contact),
            ("place", &self.place),
            ("impact", &self.impact),
            ("measures_taken", &self.measures_taken),
            ("development", &self.development),
            ("cause", &self.cause),
            ("further_measures", &self.further_measures),
            ("support_requested", &self.support_requested),
            ("scene_preservation", &self.scene_preservation),
            ("other", &self.other),
            ("summary.cause", &d.cause),
            ("summary.response", &d.response),
            ("summary.loss_and_impact", &d.loss_and_impact),
            ("summary.accountability", &d.accountability),
            ("summary.lessons", &d.lessons),
            ("summary.rectification", &d.rectification),
        ] {
            if s.as_deref()
                .is_some_and(|s| s.chars().count() > MAX_FIELD_CHARS)
            {
                return Err(too(field, MAX_FIELD_CHARS));
            }
        }
        for (field, l) in [
            ("affected_systems", &self.affected_systems),
            ("attackers", &self.attackers),
            ("paths", &self.paths),
            ("vulnerabilities", &self.vulnerabilities),
        ] {
            if let Some(l) = l {
                if l.len() > MAX_LIST {
                    return Err(too(field, MAX_LIST));
                }
                if l.iter().any(|s| s.chars().count() > MAX_FIELD_CHARS) {
                    return Err(too(field, MAX_FIELD_CHARS));
                }
            }
        }
        if let Some(r) = &self.ransom {
            if r.amount.chars().count() > MAX_FIELD_CHARS
                || r.method.chars().count() > MAX_FIELD_CHARS
            {
                return Err(too("ransom", MAX_FIELD_CHARS));
            }
        }
        Ok(())
    }
}

/// Item 5.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Leads {
    pub attackers: Vec<String>,
    pub paths: Vec<String>,
    pub vulnerabilities: Vec<String>,
}

impl Leads {
    fn is_empty(&self) -> bool {
        self.attackers.is_empty() && self.paths.is_empty() && self.vulnerabilities.is_empty()
    }
}

/// The Art. 7 report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Art7Report {
    pub kind: ReportKind,
    pub incident_id: String,
    pub org: String,
    pub unit: Unit,
    pub occurrence: Occurrence,
    pub development: String,
    pub cause: String,
    pub leads: Leads,
    pub further_measures: String,
    pub support_requested: String,
    pub scene_preservation: String,
    pub other: String,
}

/// An item of the report, for labels and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Item {
    Unit = 1,
    Occurrence = 2,
    Development = 3,
    Cause = 4,
    Leads = 5,
    Measures = 6,
    Scene = 7,
    Other = 8,
}

impl Item {
    pub const ALL: [Item; 8] = [
        Item::Unit,
        Item::Occurrence,
        Item::Development,
        Item::Cause,
        Item::Leads,
        Item::Measures,
        Item::Scene,
        Item::Other,
    ];

    pub fn number(self) -> u8 {
        self as u8
    }
}

impl Label for Item {
    fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Item::Unit, Lang::Zh) => "事发单位名称及发生事件的设施、系统、平台的基本情况",
            (Item::Occurrence, Lang::Zh) => "事件发现或发生时间、地点、事件类型、已造成的影响和危害、已采取的应急处置措施及效果（勒索软件攻击事件还应包括赎金金额、支付方式、日期等）",
            (Item::Development, Lang::Zh) => "事态发展趋势及可能造成的进一步影响和危害",
            (Item::Cause, Lang::Zh) => "事件原因初步分析",
            (Item::Leads, Lang::Zh) => "调查分析所需的线索（可能的攻击者信息、攻击路径、存在的漏洞等）",
            (Item::Measures, Lang::Zh) => "拟进一步采取的应对措施以及请求支援事项",
            (Item::Scene, Lang::Zh) => "事件现场保护情况",
            (Item::Other, Lang::Zh) => "其他应当报告的情况",
            (Item::Unit, Lang::En) => "The unit, and the facilities, systems or platforms where the incident occurred",
            (Item::Occurrence, Lang::En) => "Time, place, type, impact and harm so far, response measures taken and their effect (for ransomware: ransom amount, payment method, date)",
            (Item::Development, Lang::En) => "How the incident may develop and further impact and harm",
            (Item::Cause, Lang::En) => "Preliminary analysis of the cause",
            (Item::Leads, Lang::En) => "Leads for investigation (possible attackers, attack paths, vulnerabilities)",
            (Item::Measures, Lang::En) => "Further measures planned and support requested",
            (Item::Scene, Lang::En) => "How the scene is preserved",
            (Item::Other, Lang::En) => "Anything else to report",
        }
    }
}

/// A report that cannot be sent as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("report of incident {incident}: item {} ({field}) is empty", item.number())]
    Missing {
        incident: String,
        item: Item,
        field: &'static str,
    },
    #[error("report of incident {incident}: {field} is over the limit of {limit}")]
    TooLong {
        incident: String,
        field: &'static str,
        limit: usize,
    },
}

impl ReportError {
    /// The error for the analyst, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (
                ReportError::Missing {
                    incident,
                    item,
                    field,
                },
                Lang::Zh,
            ) => format!(
                "事件 {incident} 的报告：第{}项（{}）缺少 {field}",
                item.number(),
                item.label(Lang::Zh)
            ),
            (
                ReportError::TooLong {
                    incident,
                    field,
                    limit,
                },
                Lang::Zh,
            ) => {
                format!("事件 {incident} 的报告：{field} 超过 {limit} 个字符")
            }
            (e, Lang::En) => e.to_string(),
        }
    }
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

impl Art7Report {
    /// A report pre-filled from the incident: what the system knows (the
    /// unit, hosts, times, category, grade, impact so far, leads from the
    /// observables and techniques); the analyst writes the rest.
    /// `lang` is the language of the report (a report to a Chinese
    /// regulator is in Chinese; the English form is for review).
    pub fn prefill(
        incident: &Incident,
        unit_name: &str,
        table: &Categories,
        kind: ReportKind,
        lang: Lang,
    ) -> Art7Report {
        // `ws01` and `ws01.corp.local` are one system.
        let mut hosts: Vec<String> = Vec::new();
        for o in incident
            .observables
            .iter()
            .filter(|o| o.kind == ObservableKind::Host)
        {
            let short = o.value.split('.').next().unwrap_or(&o.value);
            if hosts.len() < MAX_LIST && !hosts.iter().any(|h| h.split('.').next() == Some(short)) {
                hosts.push(o.value.clone());
            }
        }
        let (code, cat) = match &incident.category {
            Some(c) => match table.subcategory(&c.subcategory) {
                Some((cat, sub)) => (
                    Some(sub.code.clone()),
                    Some(Text::new(
                        format!("{}/{}", cat.zh, sub.zh),
                        format!("{} / {}", cat.en, sub.en),
                    )),
                ),
                None => (Some(c.subcategory.clone()), None),
            },
            None => (None, None),
        };
        let alerts = incident.active_alerts().count();
        let impact = match lang {
            Lang::Zh => format!(
                "{} 条告警，涉及主机 {} 台；最高严重程度 {}。",
                alerts,
                hosts.len(),
                incident.severity.name_zh()
            ),
            Lang::En => format!(
                "{} alerts on {} host(s); highest severity {}.",
                alerts,
                hosts.len(),
                incident.severity.name()
            ),
        };
        let ips: Vec<String> = incident
            .observables
            .iter()
            .filter(|o| {
                matches!(
                    o.kind,
                    ObservableKind::Ip | ObservableKind::Domain | ObservableKind::Url
                )
            })
            .map(|o| o.value.clone())
            .take(MAX_LIST)
            .collect();
        let paths: Vec<String> = incident
            .techniques
            .iter()
            .take(MAX_LIST)
            .map(|t| format!("ATT&CK {t}"))
            .collect();
        let measures: Vec<String> = incident
            .tasks
            .iter()
            .filter(|t| t.status == crate::incident::TaskStatus::Done)
            .map(|t| t.title.get(lang).to_string())
            .collect();
        let mut r = Art7Report {
            kind,
            incident_id: incident.id.clone(),
            org: incident.org.clone(),
            unit: Unit {
                name: unit_name.to_string(),
                contact: incident.owner.clone(),
                affected_systems: hosts,
            },
            occurrence: Occurrence {
                occurred_at: incident.first_seen,
                discovered_at: Some(incident.discovered_at),
                place: String::new(),
                category_code: code,
                category: cat,
                grade: incident.grade.as_ref().map(|g| g.grade),
                impact,
                measures_taken: measures.join(if lang == Lang::Zh { "；" } else { "; " }),
                ransom: None,
            },
            development: String::new(),
            cause: String::new(),
            leads: Leads {
                attackers: ips,
                paths,
                vulnerabilities: Vec::new(),
            },
            further_measures: String::new(),
            support_requested: String::new(),
            scene_preservation: String::new(),
            other: String::new(),
        };
        r.apply(&incident.report_draft);
        r
    }

    /// What the analyst wrote replaces what was pre-filled.
    fn apply(&mut self, d: &ReportDraft) {
        let text = |to: &mut String, from: &Option<String>| {
            if let Some(v) = from {
                *to = v.clone();
            }
        };
        let list = |to: &mut Vec<String>, from: &Option<Vec<String>>| {
            if let Some(v) = from {
                *to = v.clone();
            }
        };
        if d.contact.is_some() {
            self.unit.contact = d.contact.clone();
        }
        list(&mut self.unit.affected_systems, &d.affected_systems);
        let o = &mut self.occurrence;
        text(&mut o.place, &d.place);
        text(&mut o.impact, &d.impact);
        text(&mut o.measures_taken, &d.measures_taken);
        if d.ransom.is_some() {
            o.ransom = d.ransom.clone();
        }
        text(&mut self.development, &d.development);
        text(&mut self.cause, &d.cause);
        list(&mut self.leads.attackers, &d.attackers);
        list(&mut self.leads.paths, &d.paths);
        list(&mut self.leads.vulnerabilities, &d.vulnerabilities);
        text(&mut self.further_measures, &d.further_measures);
        text(&mut self.support_requested, &d.support_requested);
        text(&mut self.scene_preservation, &d.scene_preservation);
        text(&mut self.other, &d.other);
    }

    /// The items the report fills.
    pub fn filled(&self) -> Vec<Item> {
        Item::ALL
            .into_iter()
            .filter(|i| self.item_filled(*i))
            .collect()
    }

    fn item_filled(&self, i: Item) -> bool {
        match i {
            Item::Unit => !blank(&self.unit.name) && !self.unit.affected_systems.is_empty(),
            Item::Occurrence => {
                let o = &self.occurrence;
                (o.occurred_at.is_some() || o.discovered_at.is_some())
                    && !blank(&o.place)
                    && o.category_code.is_some()
                    && !blank(&o.impact)
                    && !blank(&o.measures_taken)
            }
            Item::Development => !blank(&self.development),
            Item::Cause => !blank(&self.cause),
            Item::Leads => !self.leads.is_empty(),
            Item::Measures => !blank(&self.further_measures) || !blank(&self.support_requested),
            Item::Scene => !blank(&self.scene_preservation),
            Item::Other => !blank(&self.other),
        }
    }

    /// Checks the report can be sent: items 1–2 always; items 3–7 unless
    /// it is a first report (the cause may not be known yet); item 8 only
    /// when there is something else. Ransomware needs its particulars.
    pub fn validate(&self) -> Result<(), ReportError> {
        let missing = |item, field| ReportError::Missing {
            incident: self.incident_id.clone(),
            item,
            field,
        };
        for (field, s) in [
            ("cause", &self.cause),
            ("development", &self.development),
            ("further_measures", &self.further_measures),
            ("support_requested", &self.support_requested),
            ("scene_preservation", &self.scene_preservation),
            ("other", &self.other),
            ("occurrence.impact", &self.occurrence.impact),
            ("occurrence.measures_taken", &self.occurrence.measures_taken),
            ("occurrence.place", &self.occurrence.place),
        ] {
            if s.chars().count() > MAX_FIELD_CHARS {
                return Err(ReportError::TooLong {
                    incident: self.incident_id.clone(),
                    field,
                    limit: MAX_FIELD_CHARS,
                });
            }
        }
        if blank(&self.unit.name) {
            return Err(missing(Item::Unit, "unit.name"));
        }
        if self.unit.affected_systems.is_empty() {
            return Err(missing(Item::Unit, "unit.affected_systems"));
        }
        let o = &self.occurrence;
        if o.occurred_at.is_none() && o.discovered_at.is_none() {
            return Err(missing(Item::Occurrence, "occurrence.occurred_at"));
        }
        if blank(&o.place) {
            return Err(missing(Item::Occurrence, "occurrence.place"));
        }
        if o.category_code.is_none() {
            return Err(missing(Item::Occurrence, "occurrence.category_code"));
        }
        if blank(&o.impact) {
            return Err(missing(Item::Occurrence, "occurrence.impact"));
        }
        if blank(&o.measures_taken) {
            return Err(missing(Item::Occurrence, "occurrence.measures_taken"));
        }
        if o.category_code.as_deref() == Some("0107") {
            match &o.ransom {
                None => return Err(missing(Item::Occurrence, "occurrence.ransom")),
                Some(r) if blank(&r.amount) || blank(&r.method) || r.date.is_none() => {
                    return Err(missing(Item::Occurrence, "occurrence.ransom"))
                }
                Some(_) => {}
            }
        }
        if self.kind == ReportKind::First {
            return Ok(());
        }
        for (item, field) in [
            (Item::Development, "development"),
            (Item::Cause, "cause"),
            (Item::Leads, "leads"),
            (Item::Measures, "further_measures"),
            (Item::Scene, "scene_preservation"),
        ] {
            if !self.item_filled(item) {
                return Err(missing(item, field));
            }
        }
        Ok(())
    }
}

/// The summary report, due 30 days after closing: cause, response,
/// loss, responsibility and lessons, rectification.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SummaryReport {
    pub incident_id: String,
    pub org: String,
    pub unit_name: String,
    pub category_code: Option<String>,
    pub grade: Option<Grade>,
    pub occurred_at: Option<DateTime<FixedOffset>>,
    pub closed_at: Option<DateTime<FixedOffset>>,
    /// 事件发生原因
    pub cause: String,
    /// 应急处置情况
    pub response: String,
    /// 造成的损失和影响
    pub loss_and_impact: String,
    /// 责任处理情况
    pub accountability: String,
    /// 经验教训
    pub lessons: String,
    /// 整改情况
    pub rectification: String,
}

impl SummaryReport {
    pub fn prefill(
        incident: &Incident,
        unit_name: &str,
        closed_at: Option<DateTime<FixedOffset>>,
    ) -> SummaryReport {
        let done: Vec<String> = incident
            .tasks
            .iter()
            .filter(|t| t.status == crate::incident::TaskStatus::Done)
            .map(|t| t.title.zh.clone())
            .collect();
        let d = &incident.report_draft.summary;
        let or = |v: &Option<String>, default: String| v.clone().unwrap_or(default);
        SummaryReport {
            incident_id: incident.id.clone(),
            org: incident.org.clone(),
            unit_name: unit_name.to_string(),
            category_code: incident.category.as_ref().map(|c| c.subcategory.clone()),
            grade: incident.grade.as_ref().map(|g| g.grade),
            occurred_at: incident.first_seen,
            closed_at,
            cause: or(&d.cause, String::new()),
            response: or(&d.response, done.join("；")),
            loss_and_impact: or(&d.loss_and_impact, String::new()),
            accountability: or(&d.accountability, String::new()),
            lessons: or(&d.lessons, String::new()),
            rectification: or(&d.rectification, String::new()),
        }
    }

    /// Every section is required.
    pub fn validate(&self) -> Result<(), ReportError> {
        for (field, s) in [
            ("cause", &self.cause),
            ("response", &self.response),
            ("loss_and_impact", &self.loss_and_impact),
            ("accountability", &self.accountability),
            ("lessons", &self.lessons),
            ("rectification", &self.rectification),
        ] {
            if blank(s) {
                return Err(ReportError::Missing {
                    incident: self.incident_id.clone(),
                    item: Item::Other,
                    field,
                });
            }
            if s.chars().count() > MAX_FIELD_CHARS {
                return Err(ReportError::TooLong {
                    incident: self.incident_id.clone(),
                    field,
                    limit: MAX_FIELD_CHARS,
                });
            }
        }
        Ok(())
    }
}
