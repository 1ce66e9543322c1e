//! `taishi pii scan` on real files (issue 16): a log, a CSV, NDJSON and a
//! gzip log; findings per file, column and field, people counted, and no
//! raw value in anything the command prints.

use std::io::Write;
use std::process::Command;

const ID: &str = "11010119900307803X";
const ID2: &str = "440305200002290002";
const PHONE: &str = "13800138000";
const EMAIL: &str = "zhang.san@example.com";

fn taishi(args: &[&str]) -> (String, String, bool) {
    let o = Command::new(env!("CARGO_BIN_EXE_taishi"))
        .args(args)
        .output()
        .expect("run taishi");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.success(),
    )
}

#[test]
fn scan_reports_locations_people_and_no_raw_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("app.log"),
        format!("2026-12-06T10:00:00+08:00 开户 身份证 {ID} 手机 {PHONE}\n2026-12-06T10:00:01+08:00 查询 身份证号 {ID}\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("customers.csv"),
        format!("name,idcard,phone,order_no\n张三,{ID},{PHONE},20261206000001\n李四,{ID2},13912345678,20261206000002\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("events.ndjson"),
        format!("{{\"user\":{{\"email\":\"{EMAIL}\",\"phone\":{PHONE}}},\"msg\":\"ok\"}}\nnot json 身份证 {ID2}\n"),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(gz, "身份证 {ID2} 手机 {PHONE}").unwrap();
    std::fs::write(d.join("old.log.gz"), gz.finish().unwrap()).unwrap();

    let path = d.to_str().unwrap();
    let (out, err, ok) = taishi(&["pii", "scan", "--format", "json", path]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["files"], 4, "{out}");
    let loc = |suffix: &str| {
        v["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["location"].as_str().unwrap().ends_with(suffix))
            .cloned()
            .unwrap_or_else(|| panic!("no location {suffix} in {out}"))
    };
    let log = loc("app.log");
    assert_eq!(log["kinds"]["cn_resident_id"], 2, "{log}");
    assert_eq!(log["people"], 1, "{log}");
    let col = loc("customers.csv:idcard");
    assert_eq!(col["people"], 2, "{col}");
    assert_eq!(loc("customers.csv:phone")["kinds"]["cn_mobile"], 2);
    assert_eq!(loc("events.ndjson:user.email")["kinds"]["email"], 1);
    assert_eq!(loc("events.ndjson:user.phone")["kinds"]["cn_mobile"], 1);
    assert_eq!(loc("old.log.gz")["kinds"]["cn_resident_id"], 1);
    assert!(!out.contains("order_no"), "order numbers are not PI: {out}");

    for format in ["json", "csv", "table"] {
        for lang in ["zh", "en"] {
            let (out, err, ok) = taishi(&["pii", "scan", "--format", format, "--lang", lang, path]);
            assert!(ok, "{err}");
            for raw in [ID, ID2, PHONE, EMAIL, "13912345678"] {
                assert!(
                    !out.contains(raw) && !err.contains(raw),
                    "{raw} printed ({format}): {out}"
                );
            }
            assert!(
                out.contains("110101********803X") || out.contains("440305********0002"),
                "{out}"
            );
        }
    }
    let (table, _, _) = taishi(&["pii", "scan", "--lang", "zh", path]);
    assert!(
        table.contains("位置") && table.contains("居民身份证"),
        "{table}"
    );
    let (_, err, ok) = taishi(&["pii", "scan", "--kinds", "shoe_size", path]);
    assert!(!ok && err.contains("shoe_size"), "{err}");
}
