//! The people whose personal information leaked feed the grade from the
//! attached leak alerts (issue 14's "fed by the data-security counters"),
//! at the 较大 row's boundary: 1,000,000 people (以上 includes the number).

mod common;

use common::*;
use taishi_incident::{Actor, Grade, GradingInput, GradingTable, Incident, Provenance};

fn by(why: &str) -> Provenance {
    Provenance::new(Actor::User("analyst".into()), base(), why)
}

fn graded(alerts: &[taishi_alert::Alert], entered: GradingInput) -> Incident {
    let refs: Vec<_> = alerts.iter().collect();
    let mut i = Incident::from_alerts("inc-1", "op-a", &refs, by("opened")).unwrap();
    let input = i.fed_input(entered);
    let g = GradingTable::builtin().grade(&input);
    i.set_grade(&g, input, by("graded")).unwrap();
    i
}

#[test]
fn leak_alert_counts_feed_the_grade_at_the_boundary() {
    let i = graded(&[leak("a1", "db1", 999_999, 0)], GradingInput::default());
    let g = i.grade.as_ref().unwrap();
    assert_eq!(
        (g.grade, g.input.pi_people_leaked),
        (Grade::General, Some(999_999))
    );

    let i = graded(
        &[leak("a1", "db1", 400_000, 0), leak("a2", "db1", 600_000, 1)],
        GradingInput::default(),
    );
    let g = i.grade.as_ref().unwrap();
    assert_eq!(g.input.pi_people_leaked, Some(1_000_000), "summed");
    assert_eq!(g.grade, Grade::RelativelyMajor);

    // Entered by the analyst: kept.
    let entered = GradingInput {
        pi_people_leaked: Some(10),
        ..GradingInput::default()
    };
    let i = graded(&[leak("a1", "db1", 5_000_000, 0)], entered);
    assert_eq!(i.grade.as_ref().unwrap().grade, Grade::General);

    // Other alerts count nobody.
    let i = graded(
        &[endpoint("e1", "db1", "bob", 0, &[])],
        GradingInput::default(),
    );
    assert_eq!(i.grade.as_ref().unwrap().input.pi_people_leaked, None);
    assert_eq!(i.pi_people_leaked(), None);
}

#[test]
fn a_leak_alert_added_after_grading_grades_again_and_a_removed_one_stops_counting() {
    let mut i = graded(&[leak("a1", "db1", 999_999, 0)], GradingInput::default());
    assert_eq!(i.grade.as_ref().unwrap().grade, Grade::General);
    i.add_alert(&leak("a2", "db1", 1, 5), by("more")).unwrap();
    assert!(i
        .regrade_on_pi(GradingTable::builtin(), by("count rose"))
        .unwrap());
    let g = i.grade.as_ref().unwrap();
    assert_eq!(
        (g.grade, g.input.pi_people_leaked),
        (Grade::RelativelyMajor, Some(1_000_000))
    );
    // No rise, no new grading.
    assert!(!i
        .regrade_on_pi(GradingTable::builtin(), by("same"))
        .unwrap());
    i.remove_alert("a2", by("not ours")).unwrap();
    assert_eq!(i.pi_people_leaked(), Some(999_999));
}
