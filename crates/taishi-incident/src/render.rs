//! The reports as documents ([`taishi_report::Document`]), to be rendered
//! to DOCX or PDF: the Art. 7 report with its eight items in the order of
//! the measures, each under its own heading (一、… 八、), and the summary
//! report with its own template (原因、处置、损失和影响、责任处理、经验教训、
//! 整改). An item a first report leaves empty says it follows in a
//! supplementary report, so the eight headings are always there.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use taishi_report::Document;

use crate::category::Categories;
use crate::lang::{Label, Lang};
use crate::report::{Art7Report, Item, ReportKind, SummaryReport};

const NUMERALS: [&str; 8] = ["一", "二", "三", "四", "五", "六", "七", "八"];

/// ISO 8601 with the zone, to the second.
fn when(t: Option<DateTime<FixedOffset>>, lang: Lang) -> String {
    match t {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Secs, false),
        None => tr(lang, "未知", "unknown").to_string(),
    }
}

fn tr(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// The heading of item `n` (from 1) or of a summary section.
fn heading(n: usize, label: &str, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{}、{label}", NUMERALS.get(n - 1).copied().unwrap_or("")),
        Lang::En => format!("{n}. {label}"),
    }
}

fn kv(rows: &[(&str, String)]) -> Vec<(String, String)> {
    rows.iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The title of an Art. 7 report of `kind`.
pub fn art7_title(kind: ReportKind, lang: Lang) -> String {
    match (kind, lang) {
        (ReportKind::First, Lang::Zh) => "网络安全事件报告（首次报告）".into(),
        (ReportKind::Supplementary(n), Lang::Zh) => {
            format!("网络安全事件报告（第{n}次补充报告）")
        }
        (ReportKind::First, Lang::En) => "Cybersecurity incident report (first report)".into(),
        (ReportKind::Supplementary(n), Lang::En) => {
            format!("Cybersecurity incident report (supplementary report {n})")
        }
    }
}

/// The summary report's sections, in order.
pub const SUMMARY_SECTIONS: [(&str, &str); 6] = [
    ("事件发生原因", "Cause of the incident"),
    ("应急处置情况", "Emergency response"),
    ("造成的损失和影响", "Losses and impact"),
    ("责任处理情况", "Accountability"),
    ("经验教训", "Lessons learned"),
    ("整改情况", "Rectification"),
];

impl Art7Report {
    /// The report as a document; `now` is when it is generated.
    pub fn document(&self, lang: Lang, now: DateTime<FixedOffset>) -> Document {
        let first = self.kind == ReportKind::First;
        let or = |s: &str| -> String {
            if !s.trim().is_empty() {
                s.to_string()
            } else if first {
                tr(
                    lang,
                    "尚未查明，将在补充报告中报告。",
                    "Not yet known; to follow in a supplementary report.",
                )
                .to_string()
            } else {
                tr(lang, "（未填写）", "(not filled in)").to_string()
            }
        };
        let join = |l: &[String]| l.join(tr(lang, "；", "; "));
        let mut d = Document::new(art7_title(self.kind, lang));
        head(&mut d, &self.unit.name, &self.incident_id, lang, now);
        for (n, item) in Item::ALL.into_iter().enumerate() {
            d.heading(1, heading(n + 1, item.label(lang), lang));
            match item {
                Item::Unit => {
                    d.key_value(kv(&[
                        (tr(lang, "单位名称", "Unit"), or(&self.unit.name)),
                        (
                            tr(lang, "联系人", "Contact"),
                            or(self.unit.contact.as_deref().unwrap_or("")),
                        ),
                        (
                            tr(
                                lang,
                                "受影响的设施、系统、平台",
                                "Facilities, systems, platforms affected",
                            ),
                            or(&join(&self.unit.affected_systems)),
                        ),
                    ]));
                }
                Item::Occurrence => {
                    let o = &self.occurrence;
                    let category = match (&o.category_code, &o.category) {
                        (Some(c), Some(t)) => format!("{c} {}", t.get(lang)),
                        (Some(c), None) => c.clone(),
                        _ => table_name_none(lang),
                    };
                    let mut rows = vec![
                        (tr(lang, "发生时间", "Occurred"), when(o.occurred_at, lang)),
                        (
                            tr(lang, "发现时间", "Discovered"),
                            when(o.discovered_at, lang),
                        ),
                        (tr(lang, "地点", "Place"), or(&o.place)),
                        type_row(category, lang),
                        grade_row(o.grade, lang),
                        (
                            tr(lang, "已造成的影响和危害", "Impact and harm so far"),
                            or(&o.impact),
                        ),
                        (
                            tr(
                                lang,
                                "已采取的应急处置措施及效果",
                                "Measures taken and their effect",
                            ),
                            or(&o.measures_taken),
                        ),
                    ];
                    if let Some(r) = &o.ransom {
                        rows.push((tr(lang, "赎金金额", "Ransom amount"), r.amount.clone()));
                        rows.push((tr(lang, "支付方式", "Payment method"), r.method.clone()));
                        rows.push((tr(lang, "赎金日期", "Ransom date"), when(r.date, lang)));
                    }
                    d.key_value(kv(&rows));
                }
                Item::Development => {
                    d.paragraph(or(&self.development));
                }
                Item::Cause => {
                    d.paragraph(or(&self.cause));
                }
                Item::Leads => {
                    let l = &self.leads;
                    d.key_value(kv(&[
                        (
                            tr(lang, "可能的攻击者", "Possible attackers"),
                            or(&join(&l.attackers)),
                        ),
                        (tr(lang, "攻击路径", "Attack paths"), or(&join(&l.paths))),
                        (
                            tr(lang, "存在的漏洞", "Vulnerabilities"),
                            or(&join(&l.vulnerabilities)),
                        ),
                    ]));
                }
                Item::Measures => {
                    d.key_value(kv(&[
                        (
                            tr(lang, "拟进一步采取的应对措施", "Further measures planned"),
                            or(&self.further_measures),
                        ),
                        (
                            tr(lang, "请求支援事项", "Support requested"),
                            or(&self.support_requested),
                        ),
                    ]));
                }
                Item::Scene => {
                    d.paragraph(or(&self.scene_preservation));
                }
                Item::Other => {
                    let other = if self.other.trim().is_empty() {
                        tr(lang, "无。", "None.").to_string()
                    } else {
                        self.other.clone()
                    };
                    d.paragraph(other);
                }
            }
        }
        d
    }
}

/// The line under the title (unit, incident, when generated) and the
/// footer.
fn head(d: &mut Document, unit: &str, id: &str, lang: Lang, now: DateTime<FixedOffset>) {
    d.subtitle = Some(format!(
        "{unit} · {} {id} · {} {}",
        tr(lang, "事件编号", "Incident"),
        tr(lang, "生成于", "generated"),
        when(Some(now), lang)
    ));
    d.footer = Some(format!("{} {id}", tr(lang, "事件", "Incident")));
}

fn type_row(category: String, lang: Lang) -> (&'static str, String) {
    (
        tr(
            lang,
            "事件类型（GB/T 20986-2023）",
            "Type (GB/T 20986-2023)",
        ),
        category,
    )
}

fn grade_row(grade: Option<crate::grade::Grade>, lang: Lang) -> (&'static str, String) {
    (
        tr(lang, "事件级别", "Grade"),
        grade
            .map(|g| g.label(lang).to_string())
            .unwrap_or_else(|| tr(lang, "未定级", "not graded").into()),
    )
}

fn table_name_none(lang: Lang) -> String {
    tr(lang, "未确认", "not confirmed").to_string()
}

impl SummaryReport {
    /// The summary report as a document; `now` is when it is generated.
    pub fn document(&self, table: &Categories, lang: Lang, now: DateTime<FixedOffset>) -> Document {
        let mut d = Document::new(tr(
            lang,
            "网络安全事件总结报告",
            "Cybersecurity incident summary report",
        ));
        head(&mut d, &self.unit_name, &self.incident_id, lang, now);
        let category = match &self.category_code {
            Some(c) => match table.subcategory(c) {
                Some((cat, sub)) => match lang {
                    Lang::Zh => format!("{} {}/{}", sub.code, cat.zh, sub.zh),
                    Lang::En => format!("{} {} / {}", sub.code, cat.en, sub.en),
                },
                None => c.clone(),
            },
            None => table_name_none(lang),
        };
        d.key_value(kv(&[
            (tr(lang, "单位名称", "Unit"), self.unit_name.clone()),
            (tr(lang, "事件编号", "Incident"), self.incident_id.clone()),
            type_row(category, lang),
            grade_row(self.grade, lang),
            (
                tr(lang, "发生时间", "Occurred"),
                when(self.occurred_at, lang),
            ),
            (tr(lang, "关闭时间", "Closed"), when(self.closed_at, lang)),
        ]));
        let texts = [
            &self.cause,
            &self.response,
            &self.loss_and_impact,
            &self.accountability,
            &self.lessons,
            &self.rectification,
        ];
        for (n, ((zh, en), text)) in SUMMARY_SECTIONS.iter().zip(texts).enumerate() {
            d.heading(1, heading(n + 1, tr(lang, zh, en), lang));
            d.paragraph(if text.trim().is_empty() {
                tr(lang, "（未填写）", "(not filled in)").to_string()
            } else {
                text.clone()
            });
        }
        d
    }
}
