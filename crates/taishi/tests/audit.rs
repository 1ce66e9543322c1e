//! `taishi audit verify` and `taishi audit export` on a real trail.

use std::path::Path;
use std::process::Command;

use taishi_audit::*;

fn taishi(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_taishi"))
        .args(args)
        .env("LANG", "C")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn export(data: &str, format: &str) -> (i32, String, String) {
    taishi(&[
        "audit",
        "export",
        "--data-dir",
        data,
        "--since",
        "now-1d",
        "--format",
        format,
    ])
}

fn trail(data: &Path) {
    let t = Trail::open_dir(
        &audit_dir(data),
        FileStoreOptions::default(),
        TrailOptions {
            durability: Durability::Os,
            ..TrailOptions::default()
        },
    )
    .unwrap();
    let who = Actor {
        id: "u-1".into(),
        name: "alice".into(),
    };
    for (i, action) in [
        "auth.login",
        "settings.update",
        "users.create",
        "auth.logout",
    ]
    .into_iter()
    .enumerate()
    {
        let mut n = NewRecord::new(who.clone(), "cert", action, Outcome::Success);
        n.target = Some(format!("=target,{i}"));
        t.append(n).unwrap();
    }
    t.checkpoint_now().unwrap();
}

#[test]
fn verify_names_the_first_broken_record_and_export_writes_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    trail(dir.path());
    let pem = dir.path().join("auditor.pem");
    std::fs::copy(audit_dir(dir.path()).join("public.pem"), &pem).unwrap();
    let pem = pem.to_str().unwrap();

    let (code, out, err) = taishi(&["audit", "verify", "--data-dir", data, "--public-key", pem]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("INTACT: audit trail intact: 4 records"),
        "{out}"
    );
    let (code, out, _) = taishi(&["audit", "verify", "--data-dir", data, "--lang", "zh"]);
    assert_eq!(code, 0);
    assert!(out.contains("完整"), "{out}");

    let (code, jsonl, _) = export(data, "jsonl");
    assert_eq!((code, jsonl.lines().count()), (0, 4));
    let (code, csv, _) = export(data, "csv");
    assert_eq!(code, 0);
    assert!(csv.starts_with("seq,time,actor_id"), "{csv}");
    assert!(csv.contains(",\"'=target,1\","), "{csv}");
    let (code, cef, _) = export(data, "cef");
    assert_eq!(code, 0);
    assert!(
        cef.lines().all(|l| l.starts_with("CEF:0|Taishi|Taishi|")),
        "{cef}"
    );
    let (_, none, _) = taishi(&[
        "audit",
        "export",
        "--data-dir",
        data,
        "--since",
        "now+1d",
        "--format",
        "jsonl",
    ]);
    assert!(none.is_empty());

    // An export verifies on its own (not anchored, so no checkpoint needed).
    let export = dir.path().join("export.jsonl");
    std::fs::write(&export, &jsonl).unwrap();
    let (code, out, _) = taishi(&[
        "audit",
        "verify",
        "--file",
        export.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["records"], 4);

    // One byte edited in the stored trail.
    let seg = audit_dir(dir.path()).join("records-00000000000000000001.jsonl");
    let text = std::fs::read_to_string(&seg)
        .unwrap()
        .replacen("users.create", "users.cr3ate", 1);
    std::fs::write(&seg, text).unwrap();
    let (code, out, _) = taishi(&["audit", "verify", "--data-dir", data, "--public-key", pem]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BROKEN: record seq 3: hash mismatch"), "{out}");
    let (code, out, _) = taishi(&["audit", "verify", "--data-dir", data, "--json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["broken"]["seq"], 3);
    assert_eq!(report["broken"]["kind"]["code"], "hash_mismatch");

    let (code, _, err) = taishi(&[
        "audit",
        "verify",
        "--data-dir",
        dir.path().join("nope").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no audit trail"), "{err}");
}
