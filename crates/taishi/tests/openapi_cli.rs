//! `taishi openapi`: the hidden command that `scripts/gen-types` reads the
//! console's API types from. It must print exactly the document that
//! `taishi serve` serves, and stay out of the help people read.

use std::process::Command;

fn taishi(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_taishi"))
        .args(args)
        .output()
        .expect("run taishi")
}

#[test]
fn prints_the_served_document_as_json() {
    let out = taishi(&["openapi"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the output is one JSON document");
    // The value GET /api/v1/openapi.json answers with.
    assert_eq!(printed, taishi_serve::openapi_document());
    assert!(printed["openapi"].as_str().unwrap_or("").starts_with("3.1"));
    assert!(printed["paths"]["/alerts"]["get"].is_object());
    // Pretty-printed with a final newline, so the file diffs line by line.
    assert!(out.stdout.ends_with(b"}\n"));
    assert!(out.stdout.iter().filter(|&&b| b == b'\n').count() > 100);
}

#[test]
fn is_hidden_from_help() {
    let out = taishi(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("serve"), "{help}");
    assert!(!help.contains("openapi"), "{help}");
}
