//! `SqlAuditStore` on SQLite and PostgreSQL: the audit crate's sequence of
//! actions gives the expected rows, and a row edited or deleted with plain
//! SQL is named by `taishi_audit::verify`.

use std::time::Duration;

use serde_json::json;
use taishi_audit::*;
use taishi_state::testdb::TestDb;
use taishi_state::SqlAuditStore;

fn alice() -> Actor {
    Actor {
        id: "u-1".into(),
        name: "alice".into(),
    }
}

/// The trail's signing key, kept in a file so a reopened trail signs with
/// the same one (keys are not `Clone` on purpose).
struct Key(tempfile::TempDir);

impl Key {
    fn new() -> Key {
        Key(tempfile::tempdir().unwrap())
    }
    fn load(&self) -> SigningKey {
        SigningKey::load_or_create(&self.0.path().join("signing.key"))
            .unwrap()
            .0
    }
    fn public(&self) -> PublicKey {
        self.load().public()
    }
}

fn trail(db: &TestDb, key: &Key, every: u64) -> Trail<SqlAuditStore> {
    let store = SqlAuditStore::open(&db.target).unwrap();
    let opts = TrailOptions {
        checkpoint: CheckpointPolicy {
            every_records: every,
            every: Duration::from_secs(3600),
        },
        durability: Durability::Os,
    };
    Trail::new(store, key.load(), opts).unwrap()
}

fn check(db: &TestDb, key: &Key) -> VerifyReport {
    let store = SqlAuditStore::open(&db.target).unwrap();
    verify(
        &store,
        &VerifyOptions {
            key: Some(key.public()),
            require_anchor: true,
        },
    )
    .unwrap()
}

#[test]
fn a_sequence_of_actions_produces_the_expected_rows() {
    for db in TestDb::both("a_sequence_of_actions_produces_the_expected_rows") {
        let on = db.name;
        let key = Key::new();
        let t = trail(&db, &key, 1000);
        let mut login = NewRecord::new(alice(), "cert", "auth.login", Outcome::Success);
        login.roles = vec!["auditor".into()];
        login.source = Some("192.0.2.7".into());
        t.append(login).unwrap();
        let mut failed = NewRecord::new(
            Actor {
                id: String::new(),
                name: "mallory".into(),
            },
            "cert",
            "auth.login_failed",
            Outcome::Failed,
        );
        failed.reason = Some("wrong password".into());
        t.append(failed).unwrap();
        let mut before = json!({"smtp": {"host": "a", "password": "old"}});
        let mut after = json!({"smtp": {"host": "b", "password": "new"}});
        mask_secrets(&mut before);
        mask_secrets(&mut after);
        let mut set = NewRecord::new(alice(), "cert", "settings.update", Outcome::Success);
        set.before = Some(before);
        set.after = Some(after);
        set.target = Some("outputs.smtp".into());
        t.append(set).unwrap();
        t.append(NewRecord::new(
            alice(),
            "cert",
            "auth.logout",
            Outcome::Success,
        ))
        .unwrap();
        t.checkpoint_now().unwrap();

        let recs: Vec<Record> = t
            .store()
            .read(1, 100)
            .unwrap()
            .into_iter()
            .map(|i| match i {
                ReadItem::Item(r) => r,
                other => panic!("{on}: {other:?}"),
            })
            .collect();
        let actions: Vec<_> = recs
            .iter()
            .map(|r| (r.seq, r.action.as_str(), r.outcome))
            .collect();
        assert_eq!(
            actions,
            [
                (1, "auth.login", Outcome::Success),
                (2, "auth.login_failed", Outcome::Failed),
                (3, "settings.update", Outcome::Success),
                (4, "auth.logout", Outcome::Success),
            ],
            "{on}"
        );
        assert_eq!(recs[0].prev_hash, GENESIS_HASH);
        for w in recs.windows(2) {
            assert_eq!(w[1].prev_hash, w[0].hash, "{on}");
        }
        assert_eq!(recs[1].reason.as_deref(), Some("wrong password"));
        assert_eq!(
            recs[2].after,
            Some(json!({"smtp": {"host": "b", "password": "***"}})),
            "{on}"
        );
        assert_eq!(t.store().read(3, 1).unwrap().len(), 1, "{on}");
        assert_eq!(t.head(), (4, recs[3].hash.clone()));
        drop(t);
        // Reopened, the trail carries on from the stored head.
        let t = trail(&db, &key, 1000);
        assert_eq!(t.head().0, 4, "{on}");
        let r = check(&db, &key);
        assert!(r.ok(), "{on}: {}", r.message_en);
        assert_eq!(
            (r.records, r.checkpoints, r.last_checkpoint_seq),
            (4, 1, Some(4))
        );
    }
}

fn ten(db: &TestDb, key: &Key) {
    let t = trail(db, key, 4);
    for i in 0..10 {
        let mut n = NewRecord::new(alice(), "org-a", "users.update", Outcome::Success);
        n.target = Some(format!("user-{i}"));
        t.append(n).unwrap();
    }
    t.checkpoint_now().unwrap();
}

fn broken(db: &TestDb, key: &Key) -> Break {
    let r = check(db, key);
    r.broken
        .clone()
        .unwrap_or_else(|| panic!("{}: not detected: {}", db.name, r.message_en))
}

#[test]
fn an_edited_row_is_named() {
    for db in TestDb::both("an_edited_row_is_named") {
        let key = Key::new();
        ten(&db, &key);
        db.execute_raw(
            "UPDATE audit_records SET line = replace(line, 'user-4', 'user-X') WHERE seq = 5",
        );
        let b = broken(&db, &key);
        assert_eq!(b.seq, 5, "{}", db.name);
        assert!(matches!(b.kind, BreakKind::HashMismatch { .. }), "{b:?}");
    }
}

#[test]
fn a_row_edited_into_bad_json_is_named_with_its_place() {
    for db in TestDb::both("a_row_edited_into_bad_json_is_named_with_its_place") {
        let key = Key::new();
        ten(&db, &key);
        db.execute_raw("UPDATE audit_records SET line = '[' || line WHERE seq = 7");
        let b = broken(&db, &key);
        assert_eq!(b.seq, 7, "{}", db.name);
        assert!(matches!(b.kind, BreakKind::Unreadable { .. }), "{b:?}");
        assert_eq!(b.location.as_deref(), Some("audit_records seq=7"));
    }
}

#[test]
fn a_deleted_row_is_named() {
    for db in TestDb::both("a_deleted_row_is_named") {
        let key = Key::new();
        ten(&db, &key);
        db.execute_raw("DELETE FROM audit_records WHERE seq = 6");
        let b = broken(&db, &key);
        assert_eq!(
            (b.seq, b.kind),
            (6, BreakKind::Gap { found: 7 }),
            "{}",
            db.name
        );
    }
}

#[test]
fn a_deleted_tail_past_a_checkpoint_is_named() {
    for db in TestDb::both("a_deleted_tail_past_a_checkpoint_is_named") {
        let key = Key::new();
        ten(&db, &key);
        db.execute_raw("DELETE FROM audit_records WHERE seq > 7");
        let r = check(&db, &key);
        assert!(!r.ok(), "{}: a truncated tail passed", db.name);
    }
}
