//! The reports as documents: the eight items of Art. 7 each under its
//! heading, what the analyst drafted in place of the pre-filled text, a
//! first report's empty items saying they follow, and the summary
//! report's own sections.

mod common;

use common::*;
use taishi_incident::report::{Item, ReportDraft, SummaryDraft};
use taishi_incident::{
    Actor, Art7Report, Categories, Incident, Label, Lang, Provenance, ReportKind, SummaryReport,
};
use taishi_report::Block;

fn incident() -> Incident {
    let a = endpoint("a1", "ws01.corp.local", "ann", 0, &["attack.execution"]);
    let by = Provenance::new(Actor::System("t".into()), base(), "");
    Incident::from_alerts("INC-1", "org", &[&a], by).unwrap()
}

fn headings(d: &taishi_report::Document) -> Vec<String> {
    d.blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn by() -> Provenance {
    Provenance::new(Actor::User("ann".into()), base(), "")
}

#[test]
fn a_first_report_has_all_eight_headings_and_says_what_follows() {
    let i = incident();
    let r = Art7Report::prefill(
        &i,
        "甲单位",
        Categories::builtin(),
        ReportKind::First,
        Lang::Zh,
    );
    let d = r.document(Lang::Zh, base());
    let h = headings(&d);
    assert_eq!(h.len(), 8);
    for (n, item) in Item::ALL.iter().enumerate() {
        assert!(h[n].ends_with(item.label(Lang::Zh)), "{}", h[n]);
    }
    assert!(h[0].starts_with("一、") && h[7].starts_with("八、"));
    assert_eq!(d.title, "网络安全事件报告（首次报告）");
    let text = d.texts().join("\n");
    assert!(text.contains("尚未查明，将在补充报告中报告。"), "{text}");
    assert!(text.contains("ws01.corp.local"));
    let en = r.document(Lang::En, base());
    assert!(headings(&en)[3].starts_with("4. "));
}

#[test]
fn what_the_analyst_drafts_replaces_the_prefill_and_is_in_the_timeline() {
    let mut i = incident();
    let d = ReportDraft {
        cause: Some("弱口令被暴力破解".into()),
        place: Some("北京市海淀区数据中心".into()),
        ..ReportDraft::default()
    };
    i.draft_report(&d, by()).unwrap();
    let later = ReportDraft {
        development: Some("可能横向移动".into()),
        summary: SummaryDraft {
            lessons: Some("启用多因素认证".into()),
            ..SummaryDraft::default()
        },
        ..ReportDraft::default()
    };
    i.draft_report(&later, by()).unwrap();
    // An empty draft changes nothing and is not recorded.
    let n = i.timeline.len();
    i.draft_report(&ReportDraft::default(), by()).unwrap();
    assert_eq!(i.timeline.len(), n);
    let r = Art7Report::prefill(
        &i,
        "甲单位",
        Categories::builtin(),
        ReportKind::Supplementary(1),
        Lang::Zh,
    );
    assert_eq!(r.cause, "弱口令被暴力破解");
    assert_eq!(r.development, "可能横向移动");
    assert_eq!(r.occurrence.place, "北京市海淀区数据中心");
    let s = SummaryReport::prefill(&i, "甲单位", None);
    assert_eq!(s.lessons, "启用多因素认证");
    let doc = s.document(Categories::builtin(), Lang::Zh, base());
    assert_eq!(
        headings(&doc),
        [
            "一、事件发生原因",
            "二、应急处置情况",
            "三、造成的损失和影响",
            "四、责任处理情况",
            "五、经验教训",
            "六、整改情况"
        ]
    );
    assert!(doc.texts().contains(&"启用多因素认证"));
}

#[test]
fn a_draft_over_the_limit_is_refused() {
    let mut i = incident();
    let d = ReportDraft {
        other: Some("字".repeat(taishi_incident::report::MAX_FIELD_CHARS + 1)),
        ..ReportDraft::default()
    };
    let e = i.draft_report(&d, by()).unwrap_err();
    assert!(
        e.message(Lang::Zh).contains("超过"),
        "{}",
        e.message(Lang::Zh)
    );
    assert_eq!(i.report_draft, ReportDraft::default());
}
