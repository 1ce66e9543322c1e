//! The NVD records, the pairs kept apart and the log of merges and splits
//! by hand, on SQLite and PostgreSQL.

use taishi_state::risk_nvd::*;
use taishi_state::testdb::TestDb;
use taishi_state::*;

fn rec(cve: &str, modified: &str) -> NvdRecord {
    NvdRecord {
        cve: cve.into(),
        last_modified: Some(modified.into()),
        doc: format!(r#"{{"id":"{cve}"}}"#),
    }
}

#[test]
fn nvd_records_apart_pairs_and_changes_are_kept() {
    for db in TestDb::both("nvd_records_apart_pairs_and_changes_are_kept") {
        let on = db.name;
        let s = State::open_target(db.target.clone()).unwrap();
        let c = s
            .put_nvd_records(
                &[
                    rec("CVE-1", "2026-01-01T00:00:00.000"),
                    rec("CVE-2", "2026-02-01T00:00:00.000"),
                ],
                3,
            )
            .unwrap();
        assert_eq!((c.added, c.replaced, c.total), (2, 0, 2), "{on}");
        // The same CVE again replaces its row.
        let c = s
            .put_nvd_records(&[rec("CVE-2", "2026-03-01T00:00:00.000")], 3)
            .unwrap();
        assert_eq!((c.added, c.replaced, c.total), (0, 1, 2), "{on}");
        assert_eq!(s.nvd_count().unwrap(), 2, "{on}");
        assert_eq!(
            s.nvd_last_modified().unwrap().as_deref(),
            Some("2026-03-01T00:00:00.000"),
            "{on}"
        );
        // Over the bound: refused whole.
        assert!(s
            .put_nvd_records(&[rec("CVE-3", "x"), rec("CVE-4", "x")], 3)
            .is_err());
        assert_eq!(s.nvd_docs().unwrap().len(), 2, "{on}");

        s.put_apart("op-a", 9, 4).unwrap();
        s.put_apart("op-a", 4, 9).unwrap();
        s.put_apart("op-a", 1, 2).unwrap();
        assert_eq!(s.apart_pairs().unwrap(), [(1, 2), (4, 9)], "{on}");
        s.drop_apart(9, 4).unwrap();
        assert_eq!(s.apart_pairs().unwrap(), [(1, 2)], "{on}");

        let change = AssetChangeRow {
            id: "c1".into(),
            org: "op-a".into(),
            asset_id: 1,
            other_id: 2,
            change: "split".into(),
            by: "ann".into(),
            reason: "两台机器".into(),
            at: now_iso(),
            identities: vec!["fqdn:a.corp.local".into()],
        };
        s.add_asset_change(&change).unwrap();
        assert_eq!(
            s.asset_changes(2).unwrap(),
            std::slice::from_ref(&change),
            "{on}"
        );
        assert_eq!(s.asset_changes(1).unwrap(), [change], "{on}");
        assert!(s.asset_changes(3).unwrap().is_empty(), "{on}");
    }
}
