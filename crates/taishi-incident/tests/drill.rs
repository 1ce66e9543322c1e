//! The drill, on the pure core (the server-side drill comes with
//! serve): attack alerts group into one incident, which is categorised,
//! graded 较大 for a CII asset, gets its 1-hour deadline and a
//! notification before it, a report with all eight items, and is closed
//! with its summary.

mod common;

use chrono::Duration;
use common::*;
use taishi_incident::grade::{GradingInput, SystemLoss};
use taishi_incident::incident::{ReportSent, TaskStatus};
use taishi_incident::report::{Item, Ransom};
use taishi_incident::{
    Actor, Art7Report, Categories, CategoryMapping, Clock, ClockPolicy, DueState, Grade,
    GradingTable, GroupConfig, Grouper, Incident, Label, Lang, Obligation, Playbooks, Provenance,
    ReportKind, ReporterType, Status, SummaryReport,
};

#[test]
fn drill() {
    let alerts = [
        endpoint(
            "d1",
            "HMI-01.plant.local",
            "operator",
            0,
            &["attack.execution", "attack.t1059.001"],
        ),
        endpoint(
            "d2",
            "HMI-01",
            "operator",
            4,
            &["attack.defense_evasion", "attack.t1490"],
        ),
        endpoint("d3", "hmi-01", "svc", 9, &["attack.impact", "attack.t1486"]),
    ];
    // 1–2. The alerts group into one incident.
    let mut g = Grouper::new(GroupConfig::default());
    let mut incident: Option<Incident> = None;
    for a in &alerts {
        let x = g.assign(a);
        let by = Provenance::new(
            Actor::System("grouper".into()),
            a.timestamp,
            x.reason.zh.clone(),
        );
        match &mut incident {
            None => {
                assert!(x.new);
                incident = Some(
                    Incident::from_alerts(format!("INC-{}", x.group), "plant", &[a], by).unwrap(),
                );
            }
            Some(i) => {
                assert!(!x.new);
                i.add_alert(a, by).unwrap();
            }
        }
    }
    let mut inc = incident.unwrap();
    assert_eq!(inc.active_alerts().count(), 3);
    let analyst = |m: i64, why: &str| {
        Provenance::new(
            Actor::User("li.lei".into()),
            base() + Duration::minutes(m),
            why,
        )
    };
    inc.transition(Status::Triage, analyst(12, "triage"))
        .unwrap();

    // 3. Categorised: the suggestion is ransomware, the analyst confirms.
    let table = Categories::builtin();
    let s = inc.suggest_category(CategoryMapping::builtin(), table);
    assert_eq!(s[0].subcategory, "0107");
    inc.confirm_category(
        table,
        &s[0].subcategory,
        analyst(14, &s[0].reasons[0].reason.zh),
    )
    .unwrap();
    assert!(
        inc.apply_playbook(Playbooks::builtin(), analyst(14, "playbook"))
            .unwrap()
            >= 5
    );

    // … graded 较大 for a CII asset.
    let mut input = GradingInput::default();
    input.system.cii = true;
    input.system.dengbao_level = Some(3);
    input.system_loss = SystemLoss::Considerable;
    input.cii_total_outage_minutes = Some(40);
    let grading = GradingTable::builtin().grade(&input);
    assert_eq!(grading.grade, Grade::RelativelyMajor);
    assert_eq!(grading.decided_by.as_ref().unwrap().id, "rm.system_loss");
    assert!(grading.explain(Lang::En).starts_with("relatively major"));
    inc.set_grade(&grading, input, analyst(15, "graded"))
        .unwrap();

    // … and the 1-hour deadline appears, counted from discovery.
    let mut facts = inc.reporting_facts();
    assert_eq!(
        facts.grade,
        Some((grading.grade, base() + Duration::minutes(15)))
    );
    let policy = ClockPolicy::default();
    let r = ReporterType::CiiOperator;
    let c = Clock::at(&facts, r, &policy, base() + Duration::minutes(16));
    let first = c.next_deadline().unwrap();
    assert_eq!(first.obligation, Obligation::FirstReport);
    assert_eq!(first.deadline, base() + Duration::hours(1));
    assert!(
        matches!(first.state, DueState::Pending { remaining_seconds } if remaining_seconds == 44 * 60)
    );

    // 4. A notification before the deadline (the test sets the clock).
    let c = Clock::at(&facts, r, &policy, base() + Duration::minutes(31));
    assert_eq!(c.notify.len(), 1);
    assert!(c.notify[0].scheduled < c.notify[0].deadline);
    assert!(c.notify[0].message.zh.contains("首次报告"));

    // 5. The report: first with items 1–2, then a full one with all eight.
    let mut report = Art7Report::prefill(&inc, "某电厂", table, ReportKind::First, Lang::Zh);
    assert_eq!(report.occurrence.category_code.as_deref(), Some("0107"));
    assert!(report.occurrence.impact.starts_with("3 条告警"));
    let en = Art7Report::prefill(&inc, "Plant", table, ReportKind::First, Lang::En);
    assert!(
        en.occurrence.impact.starts_with("3 alerts on 1 host(s)"),
        "{}",
        en.occurrence.impact
    );
    assert!(
        report.validate().is_err(),
        "place and measures not yet written"
    );
    report.occurrence.place = "一号机组控制室".into();
    report.occurrence.measures_taken = "已隔离 HMI-01".into();
    assert!(
        report.validate().is_err(),
        "ransomware needs its particulars"
    );
    report.occurrence.ransom = Some(Ransom {
        amount: "2 BTC".into(),
        method: "勒索信中的比特币钱包".into(),
        date: Some(base()),
    });
    report.validate().unwrap();
    inc.record_report(ReportSent::First, analyst(40, "sent by e-mail and phone"))
        .unwrap();
    facts = inc.reporting_facts();
    assert_eq!(facts.first_report_at, Some(base() + Duration::minutes(40)));
    let mut full = report.clone();
    full.kind = ReportKind::Supplementary(1);
    assert!(matches!(
        full.validate(),
        Err(taishi_incident::ReportError::Missing {
            item: Item::Development,
            ..
        })
    ));
    full.development = "可能横向扩散至其他 HMI".into();
    full.cause = "初步判断为钓鱼邮件投递的勒索软件".into();
    full.leads
        .vulnerabilities
        .push("未修补的远程桌面服务".into());
    full.further_measures = "全网排查同类样本".into();
    full.support_requested = "请求技术支援".into();
    full.scene_preservation = "已保全内存与磁盘镜像".into();
    full.other = "无".into();
    full.validate().unwrap();
    assert_eq!(full.filled(), Item::ALL);
    let json = serde_json::to_value(&full).unwrap();
    let back: Art7Report = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, full);
    assert_eq!(json["occurrence"]["ransom"]["amount"], "2 BTC");
    assert!(Item::Scene.label(Lang::Zh).contains("现场"));
    let c = Clock::at(&facts, r, &policy, base() + Duration::minutes(61));
    assert!(matches!(c.due[0].state, DueState::Met { late: false, .. }));
    assert!(c.notify.is_empty());

    // 6. Closed with its summary; the summary clock runs 30 days.
    for (m, s) in [
        (60, Status::Containment),
        (120, Status::Eradication),
        (180, Status::Recovery),
        (240, Status::Summary),
    ] {
        inc.transition(s, analyst(m, "next")).unwrap();
    }
    let ids: Vec<u32> = inc.tasks.iter().map(|t| t.id).collect();
    for id in ids {
        inc.close_task(id, TaskStatus::Done, analyst(241, "done"))
            .unwrap();
    }
    inc.transition(Status::Closed, analyst(300, "closed"))
        .unwrap();
    facts = inc.reporting_facts();
    assert_eq!(facts.closed_at, Some(base() + Duration::minutes(300)));
    let mut summary = SummaryReport::prefill(&inc, "某电厂", facts.closed_at);
    assert!(!summary.response.is_empty());
    assert!(summary.validate().is_err());
    summary.cause = "钓鱼邮件".into();
    summary.loss_and_impact = "一号机组 HMI 停运 40 分钟".into();
    summary.accountability = "已追责".into();
    summary.lessons = "加强邮件网关".into();
    summary.rectification = "已完成补丁".into();
    summary.validate().unwrap();
    let c = Clock::at(&facts, r, &policy, base() + Duration::days(2));
    let due = c
        .due
        .iter()
        .find(|d| d.obligation == Obligation::Summary)
        .unwrap();
    assert_eq!(
        due.deadline,
        base() + Duration::minutes(300) + Duration::days(30)
    );
    inc.transition(Status::Triage, analyst(400, "reopened"))
        .unwrap();
    assert_eq!(inc.reporting_facts().closed_at, None);
    inc.transition(Status::Closed, analyst(401, "closed again"))
        .unwrap();
    facts.summary_at = Some(base() + Duration::days(3));
    let c = Clock::at(&facts, r, &policy, base() + Duration::days(3));
    assert!(c
        .due
        .iter()
        .all(|d| matches!(d.state, DueState::Met { .. })));
    assert_eq!(Status::Closed.label(Lang::Zh), "关闭");
    let e = inc.add_alert(&alerts[0], analyst(301, "late")).unwrap_err();
    assert!(e.message(Lang::Zh).contains("已关闭"));
    // The timeline interleaves the alerts' events and the actions.
    let tl = inc.timeline_view();
    assert!(tl.windows(2).all(|w| w[0].at() <= w[1].at()));
    assert!(matches!(
        tl[0],
        taishi_incident::incident::TimelineItem::Alert { alert_id: "d1", .. }
    ));
    assert!(serde_json::to_value(&tl).unwrap()[0]["item"] == "alert");
    // The incident is stored and read back as JSON.
    let j = serde_json::to_string(&inc).unwrap();
    let back: Incident = serde_json::from_str(&j).unwrap();
    assert_eq!(back, inc);
}
