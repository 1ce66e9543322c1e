//! The reporting clock of the 2025 measures, as a pure function of the
//! incident's reporting facts and a time the caller passes (tests set it).
//!
//! Method: once an incident is graded 较大 or above, the first report is
//! due a fixed time after discovery, by reporter type (Art. 4: a CII
//! operator 1 h, central and state organs 2 h, every other operator 4 h).
//! Supplementary reports follow as facts emerge; the measures give no
//! fixed time, so a soft deadline after each new fact is the operator's
//! policy ([`ClockPolicy::supplementary_within`]). The summary report is
//! due 30 days after the incident is closed. Each obligation sends
//! notifications at configured leads before its deadline and one at the
//! deadline; [`Clock::at`] says which are due at a given time, each with a
//! stable key so the caller sends each once.

use chrono::{DateTime, Duration, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::grade::Grade;
use crate::lang::{Label, Lang, Text};

/// Who reports, which sets the first deadline and the recipient.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReporterType {
    /// 关键信息基础设施运营者: to the protection department and public security, 1 h.
    CiiOperator,
    /// 中央和国家机关各部门及其直属单位: to the department's cyberspace office, 2 h.
    CentralStateOrgan,
    /// 其他网络运营者: to the provincial cyberspace administration, 4 h.
    #[default]
    Other,
}

impl ReporterType {
    /// Time from discovery to the first report (Art. 4).
    pub fn first_report_within(self) -> Duration {
        match self {
            ReporterType::CiiOperator => Duration::hours(1),
            ReporterType::CentralStateOrgan => Duration::hours(2),
            ReporterType::Other => Duration::hours(4),
        }
    }

    /// Whom the first report goes to.
    pub fn recipient(self) -> Text {
        match self {
            ReporterType::CiiOperator => Text::new(
                "保护工作部门、公安机关",
                "the protection department and the public security organ",
            ),
            ReporterType::CentralStateOrgan => Text::new(
                "本部门网信工作机构",
                "the department's cyberspace affairs office",
            ),
            ReporterType::Other => Text::new(
                "属地省级网信部门",
                "the provincial cyberspace administration where the operator is",
            ),
        }
    }
}

impl Label for ReporterType {
    fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (ReporterType::CiiOperator, Lang::Zh) => "关键信息基础设施运营者",
            (ReporterType::CentralStateOrgan, Lang::Zh) => "中央和国家机关各部门及其直属单位",
            (ReporterType::Other, Lang::Zh) => "其他网络运营者",
            (ReporterType::CiiOperator, Lang::En) => "CII operator",
            (ReporterType::CentralStateOrgan, Lang::En) => "central or state organ",
            (ReporterType::Other, Lang::En) => "other network operator",
        }
    }
}

/// Days after closing within which the summary report is due.
pub const SUMMARY_WITHIN_DAYS: i64 = 30;

/// The operator's clock settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockPolicy {
    /// Warn this long before each deadline (one notification per lead).
    /// At most [`MAX_LEADS`].
    pub warn_before: Vec<Duration>,
    /// A supplementary report is expected this long after a new fact.
    pub supplementary_within: Duration,
}

/// A policy has at most this many warning leads.
pub const MAX_LEADS: usize = 8;

impl Default for ClockPolicy {
    fn default() -> Self {
        ClockPolicy {
            warn_before: vec![Duration::minutes(30), Duration::minutes(10)],
            supplementary_within: Duration::hours(24),
        }
    }
}

/// What the clock knows of an incident's reporting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportingFacts {
    pub discovered_at: Option<DateTime<FixedOffset>>,
    /// The current grade and when it was set.
    pub grade: Option<(Grade, DateTime<FixedOffset>)>,
    pub first_report_at: Option<DateTime<FixedOffset>>,
    /// New facts that call for a supplementary report (times).
    pub new_facts_at: Vec<DateTime<FixedOffset>>,
    /// Supplementary reports sent (times).
    pub supplementary_at: Vec<DateTime<FixedOffset>>,
    pub closed_at: Option<DateTime<FixedOffset>>,
    pub summary_at: Option<DateTime<FixedOffset>>,
}

/// One report owed.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "n")]
pub enum Obligation {
    FirstReport,
    /// The n-th supplementary report (from 1).
    Supplementary(usize),
    Summary,
}

impl Obligation {
    pub fn label(&self, lang: Lang) -> String {
        match (self, lang) {
            (Obligation::FirstReport, Lang::Zh) => "首次报告".into(),
            (Obligation::FirstReport, Lang::En) => "first report".into(),
            (Obligation::Supplementary(n), Lang::Zh) => format!("第{n}次补充报告"),
            (Obligation::Supplementary(n), Lang::En) => format!("supplementary report {n}"),
            (Obligation::Summary, Lang::Zh) => "总结报告".into(),
            (Obligation::Summary, Lang::En) => "summary report".into(),
        }
    }

    fn key(&self) -> String {
        match self {
            Obligation::FirstReport => "first".into(),
            Obligation::Supplementary(n) => format!("supplementary-{n}"),
            Obligation::Summary => "summary".into(),
        }
    }
}

/// Where an obligation stands at the clock's time.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DueState {
    /// Not yet sent; `remaining` is negative once overdue.
    Pending {
        remaining_seconds: i64,
    },
    Overdue {
        overdue_seconds: i64,
    },
    Met {
        at: DateTime<FixedOffset>,
        late: bool,
    },
}

/// One deadline.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Due {
    pub obligation: Obligation,
    pub deadline: DateTime<FixedOffset>,
    pub state: DueState,
    pub recipient: Text,
}

/// A notification to send.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// Stable across calls: the caller sends each key once.
    pub key: String,
    pub obligation: Obligation,
    /// When it was meant to go out (deadline − lead, or the deadline).
    pub scheduled: DateTime<FixedOffset>,
    pub deadline: DateTime<FixedOffset>,
    /// None: the deadline itself has passed.
    pub lead_seconds: Option<i64>,
    pub message: Text,
}

/// What is due and what to send at one time.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clock {
    pub now: DateTime<FixedOffset>,
    pub due: Vec<Due>,
    /// Notifications whose time has come and whose obligation is still
    /// open (the caller filters those it already sent by key).
    pub notify: Vec<Notice>,
}

fn state(
    deadline: DateTime<FixedOffset>,
    met: Option<DateTime<FixedOffset>>,
    now: DateTime<FixedOffset>,
) -> DueState {
    match met {
        Some(at) => DueState::Met {
            at,
            late: at > deadline,
        },
        None if now > deadline => DueState::Overdue {
            overdue_seconds: (now - deadline).num_seconds(),
        },
        None => DueState::Pending {
            remaining_seconds: (deadline - now).num_seconds(),
        },
    }
}

fn hm(d: Duration) -> (i64, i64) {
    (d.num_hours(), d.num_minutes() % 60)
}

impl Clock {
    /// The clock at `now`.
    pub fn at(
        facts: &ReportingFacts,
        reporter: ReporterType,
        policy: &ClockPolicy,
        now: DateTime<FixedOffset>,
    ) -> Clock {
        let mut due = Vec::new();
        let reportable = facts.grade.is_some_and(|(g, _)| g.reportable());
        if let (true, Some(discovered)) = (reportable, facts.discovered_at) {
            let deadline = discovered + reporter.first_report_within();
            due.push(Due {
                obligation: Obligation::FirstReport,
                deadline,
                state: state(deadline, facts.first_report_at, now),
                recipient: reporter.recipient(),
            });
            // Each new fact after the first report owes one supplementary
            // report; they are met in order by the reports sent.
            if let Some(first) = facts.first_report_at {
                let mut facts_after: Vec<_> = facts
                    .new_facts_at
                    .iter()
                    .filter(|t| **t >= first)
                    .copied()
                    .collect();
                facts_after.sort();
                let mut sent = facts.supplementary_at.clone();
                sent.sort();
                for (i, fact) in facts_after.iter().enumerate() {
                    let deadline = *fact + policy.supplementary_within;
                    due.push(Due {
                        obligation: Obligation::Supplementary(i + 1),
                        deadline,
                        state: state(deadline, sent.get(i).copied(), now),
                        recipient: reporter.recipient(),
                    });
                }
            }
            if let Some(closed) = facts.closed_at {
                let deadline = closed + Duration::days(SUMMARY_WITHIN_DAYS);
                due.push(Due {
                    obligation: Obligation::Summary,
                    deadline,
                    state: state(deadline, facts.summary_at, now),
                    recipient: reporter.recipient(),
                });
            }
        }
        let mut notify = Vec::new();
        for d in &due {
            if matches!(d.state, DueState::Met { .. }) {
                continue;
            }
            let mut leads: Vec<Duration> =
                policy.warn_before.iter().take(MAX_LEADS).copied().collect();
            leads.sort();
            leads.dedup();
            // Only the latest lead whose time has come: a deadline found
            // late (graded after most of the hour went) warns once, not
            // once per lead.
            if now >= d.deadline {
                let (h, m) = hm(now - d.deadline);
                notify.push(Notice {
                    key: format!("{}@expiry", d.obligation.key()),
                    obligation: d.obligation,
                    scheduled: d.deadline,
                    deadline: d.deadline,
                    lead_seconds: None,
                    message: Text::new(
                        format!(
                            "{}已超过报送时限（{}），已超时{}小时{}分",
                            d.obligation.label(Lang::Zh),
                            d.deadline.to_rfc3339(),
                            h,
                            m
                        ),
                        format!(
                            "{} is overdue (deadline {}), by {}h{:02}m",
                            d.obligation.label(Lang::En),
                            d.deadline.to_rfc3339(),
                            h,
                            m
                        ),
                    ),
                });
            } else if let Some(lead) = leads.iter().find(|l| now >= d.deadline - **l) {
                let (h, m) = hm(d.deadline - now);
                notify.push(Notice {
                    key: format!("{}@-{}s", d.obligation.key(), lead.num_seconds()),
                    obligation: d.obligation,
                    scheduled: d.deadline - *lead,
                    deadline: d.deadline,
                    lead_seconds: Some(lead.num_seconds()),
                    message: Text::new(
                        format!(
                            "{}须在{}前报送{}，剩余{}小时{}分",
                            d.obligation.label(Lang::Zh),
                            d.deadline.to_rfc3339(),
                            d.recipient.zh,
                            h,
                            m
                        ),
                        format!(
                            "{} is due to {} by {}: {}h{:02}m left",
                            d.obligation.label(Lang::En),
                            d.recipient.en,
                            d.deadline.to_rfc3339(),
                            h,
                            m
                        ),
                    ),
                });
            }
        }
        Clock { now, due, notify }
    }

    /// The nearest open deadline (the console's countdown).
    pub fn next_deadline(&self) -> Option<&Due> {
        self.due
            .iter()
            .filter(|d| !matches!(d.state, DueState::Met { .. }))
            .min_by_key(|d| d.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn graded(g: Grade) -> ReportingFacts {
        ReportingFacts {
            discovered_at: Some(t("2026-01-05T10:00:00+08:00")),
            grade: Some((g, t("2026-01-05T10:20:00+08:00"))),
            ..ReportingFacts::default()
        }
    }

    #[test]
    fn deadlines_by_reporter_type() {
        let p = ClockPolicy::default();
        let f = graded(Grade::RelativelyMajor);
        for (r, h) in [
            (ReporterType::CiiOperator, 11),
            (ReporterType::CentralStateOrgan, 12),
            (ReporterType::Other, 14),
        ] {
            let c = Clock::at(&f, r, &p, t("2026-01-05T10:21:00+08:00"));
            assert_eq!(c.due.len(), 1);
            assert_eq!(c.due[0].deadline, t(&format!("2026-01-05T{h}:00:00+08:00")));
        }
    }

    #[test]
    fn general_grade_owes_nothing() {
        let c = Clock::at(
            &graded(Grade::General),
            ReporterType::CiiOperator,
            &ClockPolicy::default(),
            t("2026-01-05T12:00:00+08:00"),
        );
        assert!(c.due.is_empty() && c.notify.is_empty());
    }

    #[test]
    fn notifications_before_and_at_expiry() {
        let p = ClockPolicy::default();
        let f = graded(Grade::Major);
        let r = ReporterType::CiiOperator;
        assert!(Clock::at(&f, r, &p, t("2026-01-05T10:29:59+08:00"))
            .notify
            .is_empty());
        let c = Clock::at(&f, r, &p, t("2026-01-05T10:30:00+08:00"));
        assert_eq!(c.notify.len(), 1);
        assert_eq!(c.notify[0].key, "first@-1800s");
        assert!(c.notify[0].message.zh.contains("保护工作部门"));
        let c = Clock::at(&f, r, &p, t("2026-01-05T10:55:00+08:00"));
        assert_eq!(c.notify[0].key, "first@-600s");
        let c = Clock::at(&f, r, &p, t("2026-01-05T11:00:00+08:00"));
        assert_eq!(c.notify[0].key, "first@expiry");
        assert!(matches!(
            c.due[0].state,
            DueState::Pending {
                remaining_seconds: 0
            }
        ));
        let c = Clock::at(&f, r, &p, t("2026-01-05T11:05:00+08:00"));
        assert!(matches!(
            c.due[0].state,
            DueState::Overdue {
                overdue_seconds: 300
            }
        ));
        // Sent: nothing more to say.
        let mut sent = f.clone();
        sent.first_report_at = Some(t("2026-01-05T10:50:00+08:00"));
        let c = Clock::at(&sent, r, &p, t("2026-01-05T11:05:00+08:00"));
        assert!(c.notify.is_empty());
        assert!(matches!(c.due[0].state, DueState::Met { late: false, .. }));
    }

    #[test]
    fn supplementary_and_summary() {
        let p = ClockPolicy::default();
        let mut f = graded(Grade::RelativelyMajor);
        f.first_report_at = Some(t("2026-01-05T11:00:00+08:00"));
        f.new_facts_at = vec![
            t("2026-01-06T09:00:00+08:00"),
            t("2026-01-07T09:00:00+08:00"),
        ];
        f.supplementary_at = vec![t("2026-01-06T15:00:00+08:00")];
        f.closed_at = Some(t("2026-01-10T18:00:00+08:00"));
        let c = Clock::at(&f, ReporterType::Other, &p, t("2026-01-10T20:00:00+08:00"));
        let kinds: Vec<_> = c.due.iter().map(|d| d.obligation).collect();
        assert_eq!(
            kinds,
            [
                Obligation::FirstReport,
                Obligation::Supplementary(1),
                Obligation::Supplementary(2),
                Obligation::Summary
            ]
        );
        assert!(matches!(c.due[1].state, DueState::Met { .. }));
        assert!(matches!(c.due[2].state, DueState::Overdue { .. }));
        assert_eq!(c.due[3].deadline, t("2026-02-09T18:00:00+08:00"));
        assert_eq!(
            c.next_deadline().unwrap().obligation,
            Obligation::Supplementary(2)
        );
        assert_eq!(c.notify.len(), 1);
        assert_eq!(c.notify[0].key, "supplementary-2@expiry");
    }
}
