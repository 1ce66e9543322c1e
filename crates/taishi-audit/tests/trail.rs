//! The trail end to end on the file store: expected records, tampering of
//! every kind named, retention with an anchor, concurrency, crash recovery.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeDelta};
use serde_json::json;
use taishi_audit::*;

fn opts(every: u64) -> TrailOptions {
    TrailOptions {
        checkpoint: CheckpointPolicy {
            every_records: every,
            every: Duration::from_secs(3600),
        },
        durability: Durability::Os,
    }
}

fn alice() -> Actor {
    Actor {
        id: "u-1".into(),
        name: "alice".into(),
    }
}

fn open(dir: &Path, every: u64) -> Trail<FileStore> {
    Trail::open_dir(dir, FileStoreOptions::default(), opts(every)).unwrap()
}

fn segment(dir: &Path) -> PathBuf {
    dir.join("records-00000000000000000001.jsonl")
}

fn check(dir: &Path) -> VerifyReport {
    let store = FileStore::open(dir, FileStoreOptions::default()).unwrap();
    let key = PublicKey::read(&dir.join("public.pem")).unwrap();
    verify(
        &store,
        &VerifyOptions {
            key: Some(key),
            require_anchor: true,
        },
    )
    .unwrap()
}

/// Ten records, checkpoints at 4 and 8, and one at 10 at shutdown.
fn ten(dir: &Path) {
    let t = open(dir, 4);
    for i in 0..10 {
        let mut n = NewRecord::new(alice(), "org-a", "users.update", Outcome::Success);
        n.target = Some(format!("user-{i}"));
        t.append(n).unwrap();
    }
    t.checkpoint_now().unwrap();
}

fn lines(dir: &Path) -> Vec<String> {
    fs::read_to_string(segment(dir))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(dir: &Path, l: &[String]) {
    fs::write(
        segment(dir),
        l.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

fn broken(dir: &Path) -> Break {
    let r = check(dir);
    let b = r
        .broken
        .clone()
        .unwrap_or_else(|| panic!("not detected: {}", r.message_en));
    // Every break reads in both languages.
    assert!(b
        .message(Lang::Zh)
        .contains(&format!("第 {} 条记录", b.seq)));
    assert!(b.message(Lang::En).contains(&format!("seq {}", b.seq)));
    b
}

#[test]
fn a_sequence_of_actions_produces_the_expected_records() {
    let dir = tempfile::tempdir().unwrap();
    let t = open(dir.path(), 1000);
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
            other => panic!("{other:?}"),
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
        ]
    );
    assert_eq!(recs[0].prev_hash, GENESIS_HASH);
    for w in recs.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    assert_eq!(recs[0].source.as_deref(), Some("192.0.2.7"));
    assert_eq!(recs[1].reason.as_deref(), Some("wrong password"));
    assert_eq!(
        recs[2].before,
        Some(json!({"smtp": {"host": "a", "password": "***"}}))
    );
    assert_eq!(
        recs[2].after,
        Some(json!({"smtp": {"host": "b", "password": "***"}}))
    );
    // RFC 3339 with the zone on disk.
    let raw = lines(dir.path());
    assert!(raw[0].contains("\"time\":\"20"), "{}", raw[0]);
    assert!(DateTime::parse_from_rfc3339(&recs[0].time.to_rfc3339()).is_ok());
    assert_eq!(t.head(), (4, recs[3].hash.clone()));
    let r = check(dir.path());
    assert!(r.ok(), "{}", r.message_en);
    assert_eq!(
        (r.records, r.checkpoints, r.last_checkpoint_seq),
        (4, 1, Some(4))
    );
    assert!(r.message(Lang::Zh).contains("审计记录完整"));
    assert_eq!(recs[1].action_label(Lang::Zh), "登录失败");
}

#[test]
fn an_edited_byte_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    let mut l = lines(dir.path());
    l[4] = l[4].replace("user-4", "user-X");
    write_lines(dir.path(), &l);
    let b = broken(dir.path());
    assert_eq!(b.seq, 5);
    assert!(matches!(b.kind, BreakKind::HashMismatch { .. }), "{b:?}");
}

#[test]
fn an_edit_that_breaks_the_json_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    let mut l = lines(dir.path());
    l[6] = l[6].replacen('{', "[", 1);
    write_lines(dir.path(), &l);
    let b = broken(dir.path());
    assert_eq!(b.seq, 7);
    assert!(matches!(b.kind, BreakKind::Unreadable { .. }), "{b:?}");
    assert!(
        b.location.as_deref().unwrap().ends_with(".jsonl:7"),
        "{b:?}"
    );
}

#[test]
fn an_injected_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    let mut l = lines(dir.path());
    l[2] = l[2].replacen('{', "{\"approved\":true,", 1);
    write_lines(dir.path(), &l);
    let b = broken(dir.path());
    assert_eq!(b.seq, 3);
    assert!(matches!(b.kind, BreakKind::Unreadable { .. }), "{b:?}");
}

#[test]
fn a_deleted_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    let mut l = lines(dir.path());
    l.remove(5);
    write_lines(dir.path(), &l);
    let b = broken(dir.path());
    assert_eq!((b.seq, b.kind), (6, BreakKind::Gap { found: 7 }));
}

#[test]
fn two_reordered_records_are_named() {
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    let mut l = lines(dir.path());
    l.swap(1, 2);
    write_lines(dir.path(), &l);
    let b = broken(dir.path());
    assert_eq!((b.seq, b.kind), (2, BreakKind::Gap { found: 3 }));
}

#[test]
fn a_truncated_tail_past_a_checkpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    let l = lines(dir.path());
    write_lines(dir.path(), &l[..7]);
    let b = broken(dir.path());
    assert_eq!(
        (b.seq, b.kind),
        (
            8,
            BreakKind::Truncated {
                last_seq: 7,
                checkpoint_seq: 10
            }
        )
    );
}

#[test]
fn a_rechained_edit_is_caught_by_the_next_checkpoint() {
    // An attacker who edits record 6 and recomputes every later hash keeps
    // the chain consistent; the checkpoint signed at 8 still disagrees.
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    let mut recs: Vec<Record> = lines(dir.path())
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    recs[5].target = Some("someone-else".into());
    for i in 5..recs.len() {
        recs[i].prev_hash = recs[i - 1].hash.clone();
        recs[i].hash = recs[i].compute_hash();
    }
    let l: Vec<String> = recs
        .iter()
        .map(|r| String::from_utf8(r.to_line()).unwrap())
        .collect();
    write_lines(dir.path(), &l);
    let b = broken(dir.path());
    assert_eq!(b.seq, 8);
    assert!(
        matches!(b.kind, BreakKind::CheckpointDisagrees { .. }),
        "{b:?}"
    );
}

#[test]
fn a_forged_checkpoint_or_a_wrong_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    let p = dir.path().join("checkpoints.jsonl");
    let text = fs::read_to_string(&p).unwrap();
    let mut cps: Vec<Checkpoint> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(cps.iter().map(|c| c.seq).collect::<Vec<_>>(), [4, 8, 10]);
    cps[1].hash = "0".repeat(64);
    let forged: String = cps
        .iter()
        .map(|c| format!("{}\n", String::from_utf8(c.to_line()).unwrap()))
        .collect();
    fs::write(&p, forged).unwrap();
    let b = broken(dir.path());
    assert_eq!(b.seq, 8);
    assert!(
        matches!(b.kind, BreakKind::CheckpointSignatureInvalid { .. }),
        "{b:?}"
    );

    fs::write(&p, text).unwrap();
    let store = FileStore::open(dir.path(), FileStoreOptions::default()).unwrap();
    let other = SigningKey::generate().unwrap().public();
    let r = verify(
        &store,
        &VerifyOptions {
            key: Some(other),
            require_anchor: true,
        },
    )
    .unwrap();
    assert_eq!(r.broken.unwrap().seq, 4);
}

#[test]
fn a_deleted_head_of_the_trail_is_named_unless_anchored() {
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    let l = lines(dir.path());
    write_lines(dir.path(), &l[1..]);
    let b = broken(dir.path());
    assert_eq!(b.seq, 2);
    assert!(matches!(b.kind, BreakKind::Unanchored { .. }), "{b:?}");
    // Cut at a checkpoint (seq 4), the rest is anchored.
    write_lines(dir.path(), &l[4..]);
    let r = check(dir.path());
    assert!(r.ok(), "{}", r.message_en);
    assert_eq!((r.first_seq, r.anchored_by), (Some(5), Some(4)));
}

fn at(days_ago: i64) -> DateTime<FixedOffset> {
    chrono::Utc::now().fixed_offset() - TimeDelta::days(days_ago)
}

#[test]
fn retention_keeps_young_records_and_anchors_the_first_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStoreOptions {
        segment_bytes: 1500,
        retention_days: 180,
    };
    let t = Trail::open_dir(dir.path(), store.clone(), opts(1_000_000)).unwrap();
    let add = |days_ago: i64, n: usize| {
        for _ in 0..n {
            let mut r = NewRecord::new(alice(), "org-a", "settings.update", Outcome::Success);
            r.time = Some(at(days_ago));
            t.append(r).unwrap();
        }
    };
    add(400, 30);
    add(179, 30);
    add(1, 5);
    let segments_before = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("records-"))
        .count();
    assert!(segments_before > 4, "{segments_before}");
    let rep = t
        .store()
        .apply_retention(chrono::Utc::now().fixed_offset())
        .unwrap();
    assert!(rep.segments_deleted >= 1, "{rep:?}");
    let first = rep.first_kept_seq.unwrap();
    assert!(first > 1 && first <= 31, "{rep:?}");
    // Nothing younger than 180 days went.
    let kept: Vec<Record> = t
        .store()
        .read(0, 1000)
        .unwrap()
        .into_iter()
        .filter_map(|i| match i {
            ReadItem::Item(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(kept.first().unwrap().seq, first);
    assert_eq!(kept.iter().filter(|r| r.time > at(180)).count(), 35);
    drop(t);
    let r = check(dir.path());
    assert!(r.ok(), "{}", r.message_en);
    assert_eq!(r.anchored_by, Some(first - 1));
    // Appending carries on across the retention.
    let t = Trail::open_dir(dir.path(), store, opts(1_000_000)).unwrap();
    assert_eq!(
        t.append(NewRecord::new(
            alice(),
            "o",
            "auth.logout",
            Outcome::Success
        ))
        .unwrap()
        .seq,
        66
    );
}

#[test]
fn concurrent_appends_never_fork_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let t = Arc::new(
        Trail::open_dir(
            dir.path(),
            FileStoreOptions {
                segment_bytes: 64 * 1024,
                retention_days: 180,
            },
            TrailOptions {
                checkpoint: CheckpointPolicy {
                    every_records: 100,
                    every: Duration::from_secs(3600),
                },
                durability: Durability::GroupCommit,
            },
        )
        .unwrap(),
    );
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                for j in 0..100 {
                    let mut n = NewRecord::new(alice(), "org", "alerts.update", Outcome::Success);
                    n.target = Some(format!("{i}-{j}"));
                    t.append(n).unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    assert_eq!(t.head().0, 800);
    let r = check(dir.path());
    assert!(r.ok(), "{}", r.message_en);
    assert_eq!(r.records, 800);
    assert!(r.checkpoints >= 8);
}

#[test]
fn reopening_continues_the_chain_and_cuts_a_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    ten(dir.path());
    // A crash in the middle of a write.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(segment(dir.path()))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"seq\":11,\"ti").unwrap();
    drop(f);
    let t = open(dir.path(), 4);
    assert_eq!(t.head().0, 10);
    let r = t
        .append(NewRecord::new(
            alice(),
            "o",
            "auth.logout",
            Outcome::Success,
        ))
        .unwrap();
    assert_eq!(r.seq, 11);
    drop(t);
    assert!(check(dir.path()).ok());
    // A complete but edited last line is refused rather than chained onto.
    let mut l = lines(dir.path());
    let last = l.len() - 1;
    l[last] = l[last].replacen('{', "[", 1);
    write_lines(dir.path(), &l);
    assert!(matches!(
        Trail::open_dir(dir.path(), FileStoreOptions::default(), opts(4)),
        Err(TrailError::Store(StoreError::BadHead { .. }))
    ));
}

/// A ranged read skips the segments wholly before its start and still
/// sees every record from there on, and the records just before it too
/// when they share a segment.
#[test]
fn walk_dir_since_skips_old_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStoreOptions {
        segment_bytes: 1500,
        retention_days: 180,
    };
    let t = Trail::open_dir(dir.path(), store, opts(1_000_000)).unwrap();
    for (days_ago, n) in [(30, 20), (10, 20), (1, 20)] {
        for _ in 0..n {
            let mut r = NewRecord::new(alice(), "org-a", "settings.update", Outcome::Success);
            r.time = Some(at(days_ago));
            t.append(r).unwrap();
        }
    }
    let since = at(5);
    let mut seen = Vec::new();
    walk_dir_since(dir.path(), since, &mut |item| {
        if let ReadItem::Item(r) = item {
            seen.push(r);
        }
        true
    })
    .unwrap();
    let young: Vec<u64> = seen
        .iter()
        .filter(|r| r.time >= since)
        .map(|r| r.seq)
        .collect();
    assert_eq!(
        young,
        (41..=60).collect::<Vec<_>>(),
        "every record from `since` on"
    );
    let first = seen.first().unwrap().seq;
    assert!(
        first > 1 && first <= 41,
        "old segments skipped: read from seq {first}"
    );
    // A start before everything reads it all.
    let mut all = 0;
    walk_dir_since(dir.path(), at(100), &mut |_| {
        all += 1;
        true
    })
    .unwrap();
    assert_eq!(all, 60);
}
