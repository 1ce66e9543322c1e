//! `taishi config check` and `taishi serve` on a config with many mistakes:
//! the real binary lists every one in one run, each with its line.

use std::process::{Command, Output};

fn taishi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taishi"))
        .args(args)
        .output()
        .expect("run taishi")
}

/// Four typos in four sections, an unknown key inside a listener, a value
/// of the wrong type and one that cannot work.
const BAD: &str = "\
colour = \"blue\"
[http]
lisen = \"127.0.0.1:9000\"
max_body_mib = \"lots\"
[store]
retenion_days = 3
[search]
timeout = 5
[[listeners]]
type = \"syslog-tls\"
name = \"edge\"
listen = \"127.0.0.1:6514\"
cert = \"c.pem\"
key = \"k.pem\"
clientca = \"ca.pem\"
[detection]
min_level = \"urgent\"
";

const EXPECTED: [&str; 7] = [
    ":1:1: `colour`: unknown key",
    ":3:1: `http.lisen`: unknown key",
    ":4:16: `http.max_body_mib`: bad value",
    ":6:1: `store.retenion_days`: unknown key",
    ":8:1: `search.timeout`: unknown key",
    ":15:1: `listeners[0].clientca`: unknown key",
    ":17:1: `detection.min_level`: will not work",
];

#[test]
fn config_check_lists_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taishi.toml");
    std::fs::write(&file, BAD).unwrap();
    let out = taishi(&["config", "check", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in EXPECTED {
        assert!(err.contains(want), "{want} missing from:\n{err}");
    }
    // The listener is named, and its cert and key are checked too.
    assert!(err.contains("(listener `edge`, syslog-tls)"), "{err}");
    assert!(err.contains("`listeners[0].cert`"), "{err}");

    // The server refuses the same file with the same list.
    let out = taishi(&[
        "serve",
        "--config",
        file.to_str().unwrap(),
        "--data",
        dir.path().join("data").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for want in EXPECTED {
        assert!(err.contains(want), "serve: {want} missing from:\n{err}");
    }
}

#[test]
fn a_good_config_checks_ok() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taishi.toml");
    std::fs::write(
        &file,
        "[http]\nlisten = \"127.0.0.1:9000\"\n[[listeners]]\ntype = \"netflow\"\nlisten = \"127.0.0.1:2055\"\n",
    )
    .unwrap();
    let out = taishi(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 listener(s)"));
}
