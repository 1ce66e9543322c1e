//! `taishi parse` end to end: the real binary on real files.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn taishi(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_taishi"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run taishi");
    let mut sin = child.stdin.take().expect("stdin");
    if let Some(data) = stdin {
        sin.write_all(data).expect("write stdin");
    }
    drop(sin);
    child.wait_with_output().expect("wait for taishi")
}

fn events(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect()
}

const SYSLOG: &[u8] = b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8\n\
<13>Feb  5 17:32:18 10.0.0.99 myproc[10]: Use the BFG!\n";

#[test]
fn stdin_with_named_format() {
    let out = taishi(&["parse", "--format", "syslog", "-"], Some(SYSLOG));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&out);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0]["@timestamp"], "2003-10-11T22:14:15.003Z");
    assert_eq!(ev[0]["host.name"], "mymachine.example.com");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("2 events, 0 rejected"), "{summary}");
}

#[test]
fn compressed_inputs_and_folders_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(SYSLOG).unwrap();
    std::fs::write(dir.path().join("a.log.gz"), gz.finish().unwrap()).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("sub/b.log.zst"),
        zstd::encode_all(SYSLOG, 3).unwrap(),
    )
    .unwrap();
    let out = taishi(&["parse", dir.path().to_str().unwrap()], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(events(&out).len(), 4);
}

#[test]
fn bad_records_are_named_kept_and_set_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.log");
    let mut data = SYSLOG.to_vec();
    data.extend_from_slice(b"<999>1 2003-10-11T22:14:15.003Z host app - - - bad priority\n");
    data.extend_from_slice(SYSLOG);
    std::fs::write(&input, &data).unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let output = dir.path().join("events.jsonl");
    let out = taishi(
        &[
            "parse",
            "--format",
            "syslog",
            "--rejects",
            rejects.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mixed.log: line 3"), "{stderr}");
    let written = std::fs::read_to_string(&output).unwrap();
    assert_eq!(
        written.lines().count(),
        4,
        "the good records around the bad one are kept"
    );
    let rej: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&rejects).unwrap().trim()).unwrap();
    assert_eq!(rej["line"], 3);
    assert!(rej["raw"].as_str().unwrap().contains("bad priority"));
}

#[test]
fn nothing_readable_is_exit_1_with_advice() {
    let out = taishi(&["parse", "/nonexistent/path.log"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/path.log"));

    let out = taishi(
        &["parse", "-"],
        Some(b"\x00\x01\x02 not any known format \xff\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
}

#[test]
fn corrupt_evtx_chunk_is_reported_and_the_rest_kept() {
    let Some(path) = taishi_testdata::path("host-logs/windows-evtx/sysmon.evtx") else {
        return;
    };
    let out = taishi(&["parse", path.to_str().unwrap()], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(events(&out).len(), 358);
}

#[test]
fn every_sample_folder_is_detected_and_decoded() {
    let Some(root) = taishi_testdata::root() else {
        eprintln!("SKIP: no test data");
        return;
    };
    // Folders whose every file is a format Taishi reads, with the format
    // detection must pick.
    for (rel, format) in [
        ("host-logs/syslog", "syslog"),
        ("host-logs/cef", "cef"),
        ("network/suricata", "eve"),
        ("network/zeek/wrccdc-tsv", "zeek"),
        ("network/zeek/wrccdc-json", "zeek"),
    ] {
        let dir = root.join(rel);
        if !Path::new(&dir).is_dir() {
            continue;
        }
        let out = taishi(&["parse", dir.to_str().unwrap()], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(1), "{rel}: {stderr}");
        assert!(
            stderr.lines().any(|l| l.starts_with(format)),
            "{rel} not detected as {format}: {stderr}"
        );
        assert!(!events(&out).is_empty(), "{rel}: no events");
    }
}

/// A zone-less RFC 3164 line is read in the machine's zone by default, as
/// `taishi serve`'s listeners read it (issue 13, item 3): a box in UTC+8
/// must not put its own logs 8 hours into the future. `--tz` overrides it
/// and takes the zone names the listeners take.
#[test]
fn zone_less_lines_are_read_in_the_machines_zone_unless_told() {
    let line: &[u8] = b"<13>Feb  5 17:32:18 10.0.0.99 myproc[10]: Use the BFG!\n";
    let run = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_taishi"))
            .args(args)
            // POSIX form: no zoneinfo files needed. "CST-8" is UTC+8.
            .env("TZ", "CST-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run taishi");
        child.stdin.take().unwrap().write_all(line).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        events(&out).remove(0)
    };
    let local = run(&["parse", "--format", "syslog", "--year", "2026", "-"]);
    assert_eq!(local["@timestamp"], "2026-02-05T17:32:18+08:00", "{local}");
    assert_eq!(local["event.timezone"], "+08:00");
    assert_eq!(local["taishi.timezone_assumed"], true);
    let utc = run(&[
        "parse", "--format", "syslog", "--year", "2026", "--tz", "UTC", "-",
    ]);
    assert_eq!(utc["@timestamp"], "2026-02-05T17:32:18Z", "{utc}");
    let named = run(&[
        "parse",
        "--format",
        "syslog",
        "--year",
        "2026",
        "--tz",
        "Asia/Shanghai",
        "-",
    ]);
    assert_eq!(named["@timestamp"], "2026-02-05T17:32:18+08:00");
    let bad = taishi(&["parse", "--tz", "Mars/Olympus", "-"], Some(line));
    assert_ne!(bad.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Asia/Shanghai"));
}
