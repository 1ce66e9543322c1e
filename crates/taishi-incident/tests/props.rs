//! Never panics on arbitrary input: the data loaders (operators may load
//! their own tables), the grouper and the tag parser.

mod common;

use proptest::prelude::*;
use taishi_incident::incident::technique_of;
use taishi_incident::{
    Categories, CategoryMapping, GradingInput, GradingTable, GroupConfig, Grouper, Placeholders,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn loaders_never_panic(text in ".{0,400}") {
        let _ = GradingTable::from_yaml("x.yaml", &text);
        let _ = Categories::from_yaml("x.yaml", &text);
        let _ = CategoryMapping::from_yaml("x.yaml", &text, Categories::builtin());
        let _ = Placeholders::from_yaml("x.yaml", &text);
    }

    #[test]
    fn yaml_shaped_tables_never_panic(
        threshold in prop_oneof![Just("1".to_string()), Just("-1".into()), Just(".nan".into()), Just("1e400".into()), "[0-9.e-]{0,8}"],
        scope in prop_oneof![Just("".to_string()), Just(", scope: 9".into()), Just(", scope: 1".into())],
        crit in prop_oneof![Just("spread_views"), Just("pi_people_leaked"), Just("nope")],
    ) {
        let y = format!("measures: m\nfile_version: 1\nimportant_system_min_dengbao_level: 3\nrows:\n  - {{ id: a, grade: major, criterion: {crit}, threshold: {threshold}{scope}, source: draft, text: {{zh: a, en: b}} }}\n");
        if let Ok(t) = GradingTable::from_yaml("g.yaml", &y) {
            let _ = t.grade(&GradingInput { pi_people_leaked: Some(u64::MAX), ..GradingInput::default() });
        }
    }

    #[test]
    fn grouper_never_panics(
        host in ".{0,40}", user in ".{0,40}", ip in ".{0,40}", minutes in -100_000i64..100_000,
        tag in ".{0,30}", group_field in ".{0,20}", group_value in ".{0,300}",
    ) {
        let mut g = Grouper::new(GroupConfig { max_open_groups: 2, max_key_chars: 16, ..GroupConfig::default() });
        let mut a = common::endpoint("p", &host, &user, minutes, &[&tag]);
        a.source_ip = Some(ip.clone());
        let x = g.assign(&a);
        if let Some(k) = x.key {
            prop_assert!(k.value.chars().count() <= 16);
        }
        let c = common::correlation("c", &[(&group_field, &group_value)], minutes);
        let _ = g.assign(&c);
        let _ = technique_of(&tag);
    }
}
