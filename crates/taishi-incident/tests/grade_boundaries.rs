//! Every threshold row at its boundary value ("以上" includes the number:
//! the row is met) and just below it (the row is not met).

use taishi_incident::grade::{input_for, Source};
use taishi_incident::{Grade, GradingTable};

#[test]
fn every_row_at_and_below_its_threshold() {
    let t = GradingTable::builtin();
    assert!(t.rows.len() >= 40, "{} rows", t.rows.len());
    for row in &t.rows {
        let at = t.grade(&input_for(row, row.threshold));
        assert_eq!(
            at.grade, row.grade,
            "{} at {}: {:?}",
            row.id, row.threshold, at
        );
        let d = at.decided_by.as_ref().expect("a row decided");
        assert_eq!(
            d.id, row.id,
            "{} at its threshold decided by {}",
            row.id, d.id
        );
        assert_eq!(d.value, row.threshold);

        let below_value = row.threshold - row.criterion.step();
        let below = t.grade(&input_for(row, below_value));
        assert!(
            !below.matched.iter().any(|m| m.id == row.id),
            "{} met at {below_value}",
            row.id
        );
        assert!(
            below.grade < row.grade,
            "{} below: {:?}",
            row.id,
            below.grade
        );
    }
}

#[test]
fn every_grade_has_rows_and_final_rows_are_marked() {
    let t = GradingTable::builtin();
    for g in [Grade::RelativelyMajor, Grade::Major, Grade::EspeciallyMajor] {
        assert!(t.rows.iter().any(|r| r.grade == g), "{g:?}");
    }
    // The 特别重大 section was checked against the final text.
    assert!(t
        .rows
        .iter()
        .filter(|r| r.grade == Grade::EspeciallyMajor)
        .all(|r| r.source == Source::Final));
    assert!(t.rows.iter().any(|r| r.source == Source::Unverified));
}

#[test]
fn operator_table_is_checked() {
    let bad = "measures: x\nfile_version: 1\nimportant_system_min_dengbao_level: 3\nrows:\n  - { id: a, grade: general, criterion: pi_people_leaked, threshold: 1, source: final, text: {zh: a, en: a} }\n";
    let e = GradingTable::from_yaml("grading.yaml", bad).unwrap_err();
    assert!(e.to_string().contains("rows[0].grade"), "{e}");
    let unscoped = "measures: x\nfile_version: 1\nimportant_system_min_dengbao_level: 3\nrows:\n  - { id: a, grade: major, criterion: spread_views, threshold: 1, source: draft, text: {zh: a, en: a} }\n";
    let e = GradingTable::from_yaml("grading.yaml", unscoped).unwrap_err();
    assert!(e.to_string().contains("rows[0].scope"), "{e}");
}
