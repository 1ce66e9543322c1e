//! The yearly report laid out as a document: seven numbered sections in
//! the order of the assessment (概述 … 建议), each table bounded with an
//! "and N more" line under it.

use taishi_report::Document;
use taishi_risk::BiText;

use super::{Count, Lang, Top, YearlyReport};

/// The section headings, in order (zh-CN, English).
pub const SECTIONS: [(&str, &str); 7] = [
    ("概述", "Summary"),
    ("资产清单", "Asset inventory"),
    ("漏洞发现", "Vulnerability findings"),
    ("风险评估", "Risk assessment"),
    ("威胁与预警", "Threats and warnings"),
    ("整改情况", "Remediation"),
    ("建议", "Recommendations"),
];

const NUMERALS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "七"];

fn heading(n: usize, lang: Lang) -> String {
    let (zh, en) = SECTIONS[n];
    match lang {
        Lang::Zh => format!("{}、{zh}", NUMERALS[n]),
        Lang::En => format!("{}. {en}", n + 1),
    }
}

fn bi(t: &BiText, lang: Lang) -> String {
    lang.pick(&t.zh, &t.en).to_string()
}

/// A language-neutral key shown in `lang`.
fn label(key: &str, lang: Lang) -> String {
    let (zh, en) = match key {
        "" => ("（未登记）", "(none)"),
        "unknown" => ("未登记", "not recorded"),
        "critical" => ("关键/严重", "critical"),
        "high" => ("高", "high"),
        "medium" => ("中", "medium"),
        "low" => ("低", "low"),
        "info" | "informational" => ("信息", "informational"),
        "general" => ("一般数据", "general data"),
        "important" => ("重要数据", "important data"),
        "core" => ("核心数据", "core data"),
        "immediate" => ("立即处置", "immediate"),
        "out-of-cycle" => ("计划外尽快", "out-of-cycle"),
        "scheduled" => ("按计划", "scheduled"),
        "defer" => ("暂缓", "defer"),
        "red" => ("红色", "red"),
        "orange" => ("橙色", "orange"),
        "yellow" => ("黄色", "yellow"),
        "blue" => ("蓝色", "blue"),
        "alert" => ("告警", "alert"),
        "intel" => ("情报命中", "intel hit"),
        k @ ("1" | "2" | "3" | "4" | "5") => {
            return match lang {
                Lang::Zh => format!(
                    "第{}级",
                    ["一", "二", "三", "四", "五"][k.as_bytes()[0] as usize - b'1' as usize]
                ),
                Lang::En => format!("level {k}"),
            }
        }
        k => return k.to_string(),
    };
    lang.pick(zh, en).to_string()
}

fn yes(b: bool, lang: Lang) -> String {
    if b {
        lang.pick("是", "yes")
    } else {
        lang.pick("否", "no")
    }
    .to_string()
}

fn count_rows(c: &[Count], lang: Lang) -> Vec<Vec<String>> {
    c.iter()
        .map(|c| vec![label(&c.key, lang), c.count.to_string()])
        .collect()
}

fn none(lang: Lang) -> String {
    lang.pick("无。", "None.").to_string()
}

/// A table of a bounded list, "and N more" under it; "None." when empty.
fn top_table<T>(
    d: &mut Document,
    lang: Lang,
    header: &[(&str, &str)],
    top: &Top<T>,
    row: impl Fn(&T) -> Vec<String>,
) {
    if top.items.is_empty() {
        d.paragraph(none(lang));
        return;
    }
    d.table(
        header
            .iter()
            .map(|(zh, en)| lang.pick(zh, en).to_string())
            .collect(),
        top.items.iter().map(row).collect(),
    );
    if top.more > 0 {
        d.paragraph(match lang {
            Lang::Zh => format!("另有 {} 项未列出。", top.more),
            Lang::En => format!("and {} more not listed.", top.more),
        });
    }
}

fn counts_table(d: &mut Document, lang: Lang, what: (&str, &str), c: &[Count]) {
    if c.is_empty() {
        return;
    }
    d.table(
        vec![
            lang.pick(what.0, what.1).to_string(),
            lang.pick("数量", "Count").to_string(),
        ],
        count_rows(c, lang),
    );
}

fn kv(rows: Vec<(&str, &str, String)>, lang: Lang) -> Vec<(String, String)> {
    rows.into_iter()
        .map(|(zh, en, v)| (lang.pick(zh, en).to_string(), v))
        .collect()
}

fn score(s: f64) -> String {
    format!("{s:.1}")
}

impl YearlyReport {
    /// The title in `lang`.
    pub fn title(lang: Lang) -> &'static str {
        lang.pick(
            "网络安全风险评估年度报告",
            "Annual cybersecurity risk assessment report",
        )
    }

    /// The report as a document in `lang`.
    pub fn document(&self, lang: Lang) -> Document {
        let mut d = Document::new(Self::title(lang));
        d.subtitle = Some(match lang {
            Lang::Zh => format!(
                "{} · 评估期间 {} 至 {} · 生成于 {}",
                self.org, self.from, self.to, self.generated
            ),
            Lang::En => format!(
                "{} · period {} to {} · generated {}",
                self.org, self.from, self.to, self.generated
            ),
        });
        d.footer = Some(format!("{} {}", self.org, Self::title(lang)));
        d.paragraph(lang.pick(
            "依据《关键信息基础设施安全保护条例》第十七条，运营者应当每年至少进行一次网络安全检测和风险评估。本报告由太始平台根据资产登记、漏洞发现、风险评分历史、预警和攻击记录生成。",
            "The CII regulation (关键信息基础设施安全保护条例), Art. 17, asks operators for a cybersecurity test and risk assessment at least once a year. Taishi generated this report from its asset register, vulnerability findings, risk score history, warnings and attack records.",
        ));
        if self.summary.truncated {
            d.paragraph(lang.pick(
                "注意：数据量超过报告上限，部分统计仅覆盖已读取的记录。",
                "Note: the data exceeded the report's limits; some counts cover only the records read.",
            ));
        }
        self.summary_section(&mut d, lang);
        self.inventory_section(&mut d, lang);
        self.findings_section(&mut d, lang);
        self.risk_section(&mut d, lang);
        self.threats_section(&mut d, lang);
        self.remediation_section(&mut d, lang);
        d.heading(1, heading(6, lang));
        d.list(
            true,
            self.recommendations.iter().map(|r| bi(r, lang)).collect(),
        );
        d
    }

    fn summary_section(&self, d: &mut Document, lang: Lang) {
        let s = &self.summary;
        d.heading(1, heading(0, lang));
        let trend = match (s.change, lang) {
            (c, Lang::Zh) if c > 0.0 => format!("较期初上升 {c:.1}"),
            (c, Lang::Zh) if c < 0.0 => format!("较期初下降 {:.1}", -c),
            (_, Lang::Zh) => "与期初持平".to_string(),
            (c, Lang::En) if c > 0.0 => format!("up {c:.1} since the start of the period"),
            (c, Lang::En) if c < 0.0 => format!("down {:.1} since the start of the period", -c),
            (_, Lang::En) => "unchanged since the start of the period".to_string(),
        };
        d.key_value(kv(
            vec![
                ("资产总数", "Assets", s.assets.to_string()),
                (
                    "关键信息基础设施资产",
                    "CII assets",
                    s.cii_assets.to_string(),
                ),
                (
                    "对外暴露资产",
                    "Exposed assets",
                    s.exposed_assets.to_string(),
                ),
                (
                    "业务系统",
                    "Business systems",
                    s.business_systems.to_string(),
                ),
                (
                    "漏洞发现（期末累计）",
                    "Findings (to the period's end)",
                    s.findings.to_string(),
                ),
                (
                    "未解决漏洞",
                    "Unresolved findings",
                    s.unresolved.to_string(),
                ),
                (
                    "其中列入 KEV",
                    "of which in KEV",
                    s.kev_unresolved.to_string(),
                ),
                (
                    "其中被勒索软件利用",
                    "of which used by ransomware",
                    s.ransomware_unresolved.to_string(),
                ),
                ("超期未整改", "Overdue", s.overdue.to_string()),
                (
                    "本期修复",
                    "Fixed in the period",
                    s.fixed_in_period.to_string(),
                ),
                ("本期预警", "Warnings in the period", s.warnings.to_string()),
                ("本期攻击", "Attacks in the period", s.attacks.to_string()),
                (
                    "整体风险分",
                    "Overall risk score",
                    format!("{}（{}）", score(s.score), s.band.label(lang)),
                ),
                ("期初风险分", "Score at the start", score(s.score_at_start)),
                ("趋势", "Trend", trend),
            ],
            lang,
        ));
    }

    fn inventory_section(&self, d: &mut Document, lang: Lang) {
        let i = &self.inventory;
        d.heading(1, heading(1, lang));
        d.heading(2, lang.pick("按业务系统", "By business system"));
        top_table(
            d,
            lang,
            &[("业务系统", "Business system"), ("资产数", "Assets")],
            &i.by_system,
            |c| vec![label(&c.key, lang), c.count.to_string()],
        );
        d.heading(
            2,
            lang.pick(
                "按重要性、等保级别和数据级别",
                "By importance, 等保 level and data level",
            ),
        );
        counts_table(d, lang, ("重要性", "Importance"), &i.by_importance);
        counts_table(d, lang, ("等保级别", "等保 (MLPS) level"), &i.by_dengbao);
        counts_table(
            d,
            lang,
            (
                "数据级别（GB/T 43697-2024）",
                "Data level (GB/T 43697-2024)",
            ),
            &i.by_data_level,
        );
        d.paragraph(match lang {
            Lang::Zh => format!("关键信息基础设施资产 {} 个。", i.cii),
            Lang::En => format!("{} CII assets.", i.cii),
        });
        d.heading(2, lang.pick("对外暴露面", "Exposure"));
        top_table(
            d,
            lang,
            &[
                ("资产", "Asset"),
                ("业务系统", "Business system"),
                ("暴露端口", "Exposed ports"),
            ],
            &i.exposed,
            |e| vec![e.name.clone(), label(&e.system, lang), e.ports.join(", ")],
        );
        d.heading(2, lang.pick("未登记资产", "Unknown assets"));
        match &i.unknown {
            None => {
                d.paragraph(lang.pick(
                    "平台未记录流量中发现的未登记资产。",
                    "The platform keeps no record of unregistered assets seen in traffic.",
                ));
            }
            Some(u) => top_table(d, lang, &[("标识", "Identity")], u, |n| vec![n.clone()]),
        }
    }

    fn findings_section(&self, d: &mut Document, lang: Lang) {
        let f = &self.findings;
        d.heading(1, heading(2, lang));
        d.key_value(kv(
            vec![
                ("漏洞发现", "Findings", f.total.to_string()),
                ("未解决", "Unresolved", f.unresolved.to_string()),
                ("列入 KEV", "In KEV", f.kev.to_string()),
                (
                    "被勒索软件利用",
                    "Used by ransomware",
                    f.ransomware.to_string(),
                ),
                ("超期", "Overdue", f.overdue.to_string()),
            ],
            lang,
        ));
        counts_table(
            d,
            lang,
            ("处置优先级（SSVC）", "Priority (SSVC decision)"),
            &f.by_decision,
        );
        counts_table(d, lang, ("严重程度", "Severity"), &f.by_severity);
        // Named in a paragraph too: a table cell may wrap a long id.
        let kev: Vec<&str> = f
            .top
            .items
            .iter()
            .filter(|v| v.kev)
            .map(|v| v.vuln.as_str())
            .collect();
        if !kev.is_empty() {
            d.paragraph(match lang {
                Lang::Zh => format!("列入 KEV 的未解决漏洞：{}。", kev.join("、")),
                Lang::En => format!("Unresolved vulnerabilities in KEV: {}.", kev.join(", ")),
            });
        }
        d.heading(
            2,
            lang.pick(
                "主要漏洞（KEV 与勒索软件优先）",
                "Top vulnerabilities (KEV and ransomware first)",
            ),
        );
        top_table(
            d,
            lang,
            &[
                ("漏洞", "Vulnerability"),
                ("资产数", "Assets"),
                ("KEV", "KEV"),
                ("勒索软件", "Ransomware"),
                ("优先级", "Priority"),
                ("处置决策", "Decision"),
            ],
            &f.top,
            |v| {
                vec![
                    v.vuln.clone(),
                    v.assets.to_string(),
                    yes(v.kev, lang),
                    yes(v.ransomware, lang),
                    score(v.priority),
                    label(&v.decision, lang),
                ]
            },
        );
        d.heading(2, lang.pick("超期未整改", "Overdue"));
        top_table(
            d,
            lang,
            &[
                ("漏洞", "Vulnerability"),
                ("资产", "Asset"),
                ("处置决策", "Decision"),
                ("整改期限", "Deadline"),
            ],
            &f.overdue_list,
            |o| {
                vec![
                    o.vuln.clone(),
                    o.asset.clone(),
                    label(&o.decision, lang),
                    o.deadline.clone(),
                ]
            },
        );
    }

    fn risk_section(&self, d: &mut Document, lang: Lang) {
        let r = &self.risk;
        d.heading(1, heading(3, lang));
        d.paragraph(match lang {
            Lang::Zh => format!(
                "整体风险分 {}（{}）。业务系统分为其资产分的汇总，组织分为其业务系统分的汇总（最高分 × 0.6 + 前五名均值 × 0.4）。",
                score(r.score),
                r.band.label(lang)
            ),
            Lang::En => format!(
                "Overall risk score {} ({}). A business system's score rolls up its assets', an organisation's its systems' (0.6 × the highest + 0.4 × the mean of the top five).",
                score(r.score),
                r.band.label(lang)
            ),
        });
        d.heading(2, lang.pick("组织", "Organisations"));
        if r.org_scores.is_empty() {
            d.paragraph(none(lang));
        } else {
            d.table(
                vec![
                    lang.pick("组织", "Organisation").into(),
                    lang.pick("风险分", "Score").into(),
                ],
                r.org_scores
                    .iter()
                    .map(|o| vec![o.org.clone(), score(o.score)])
                    .collect(),
            );
        }
        d.heading(2, lang.pick("业务系统排名", "Business systems ranked"));
        top_table(
            d,
            lang,
            &[
                ("组织", "Organisation"),
                ("业务系统", "Business system"),
                ("资产数", "Assets"),
                ("风险分", "Score"),
            ],
            &r.systems,
            |s| {
                vec![
                    s.org.clone(),
                    label(&s.name, lang),
                    s.assets.to_string(),
                    score(s.score),
                ]
            },
        );
        d.heading(
            2,
            lang.pick("资产排名及风险因素", "Assets ranked, with their factors"),
        );
        top_table(
            d,
            lang,
            &[
                ("资产", "Asset"),
                ("业务系统", "Business system"),
                ("风险分", "Score"),
                ("主要因素", "Factors"),
            ],
            &r.assets,
            |a| {
                vec![
                    a.name.clone(),
                    label(&a.system, lang),
                    score(a.score),
                    a.factors
                        .iter()
                        .take(4)
                        .map(|f| bi(f, lang))
                        .collect::<Vec<_>>()
                        .join(lang.pick("；", "; ")),
                ]
            },
        );
        d.heading(2, lang.pick("月度风险趋势", "Monthly trend"));
        d.table(
            vec![
                lang.pick("月份", "Month").into(),
                lang.pick("月末风险分", "Score at the month's end").into(),
            ],
            r.monthly
                .iter()
                .map(|m| vec![m.month.clone(), score(m.score)])
                .collect(),
        );
    }

    fn threats_section(&self, d: &mut Document, lang: Lang) {
        let t = &self.threats;
        d.heading(1, heading(4, lang));
        d.paragraph(match lang {
            Lang::Zh => format!(
                "本期资产遭受攻击（告警与情报命中）{} 次，产生预警 {} 条。",
                t.attacks, t.warnings
            ),
            Lang::En => format!(
                "{} attacks on assets (alerts and intel hits) and {} warnings in the period.",
                t.attacks, t.warnings
            ),
        });
        counts_table(
            d,
            lang,
            ("攻击严重程度", "Attack severity"),
            &t.attacks_by_severity,
        );
        counts_table(d, lang, ("攻击来源", "Attack source"), &t.attacks_by_kind);
        d.heading(2, lang.pick("受攻击最多的资产", "Most attacked assets"));
        top_table(
            d,
            lang,
            &[("资产", "Asset"), ("攻击次数", "Attacks")],
            &t.most_attacked,
            |c| vec![c.key.clone(), c.count.to_string()],
        );
        d.heading(2, lang.pick("预警", "Warnings"));
        counts_table(d, lang, ("预警级别", "Warning level"), &t.warnings_by_level);
        top_table(
            d,
            lang,
            &[
                ("时间", "Time"),
                ("级别", "Level"),
                ("资产", "Asset"),
                ("预警", "Warning"),
            ],
            &t.warning_list,
            |w| {
                vec![
                    w.created.clone(),
                    label(&w.level, lang),
                    w.asset.clone(),
                    bi(&w.title, lang),
                ]
            },
        );
    }

    fn remediation_section(&self, d: &mut Document, lang: Lang) {
        let r = &self.remediation;
        d.heading(1, heading(5, lang));
        d.key_value(kv(
            vec![
                ("已修复", "Fixed", r.fixed.to_string()),
                (
                    "其中本期修复",
                    "of which fixed in the period",
                    r.fixed_in_period.to_string(),
                ),
                ("处理中", "In progress", r.in_progress.to_string()),
                ("待处理", "Open", r.open.to_string()),
                ("风险已接受", "Accepted risk", r.accepted.to_string()),
                ("误报", "False positive", r.false_positive.to_string()),
                ("超期", "Overdue", r.overdue.to_string()),
            ],
            lang,
        ));
        d.heading(2, lang.pick("平均修复时间", "Mean time to fix"));
        if r.mean_time_to_fix.is_empty() {
            d.paragraph(lang.pick("本期无修复记录。", "Nothing was fixed in the period."));
        } else {
            d.table(
                vec![
                    lang.pick("处置决策", "Decision").into(),
                    lang.pick("修复数", "Fixed").into(),
                    lang.pick("平均天数", "Mean days").into(),
                ],
                r.mean_time_to_fix
                    .iter()
                    .map(|m| {
                        vec![
                            label(&m.decision, lang),
                            m.fixed.to_string(),
                            format!("{:.1}", m.mean_days),
                        ]
                    })
                    .collect(),
            );
        }
        d.heading(2, lang.pick("已接受的风险", "Accepted risks"));
        top_table(
            d,
            lang,
            &[
                ("漏洞", "Vulnerability"),
                ("资产", "Asset"),
                ("审批人", "Approver"),
                ("有效期至", "Until"),
                ("已到期", "Expired"),
            ],
            &r.accepted_list,
            |a| {
                vec![
                    a.vuln.clone(),
                    a.asset.clone(),
                    a.approver.clone(),
                    a.until.clone(),
                    yes(a.expired, lang),
                ]
            },
        );
    }
}
