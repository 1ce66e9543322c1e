//! The CLI against a running server: `taishi incidents list|show|export`
//! over the incident that the server grouped from a detection.

use crate::harness::*;

#[test]
fn incidents_cli_lists_shows_and_exports() {
    let s = Server::start(Opts::default());
    let c = s.token("analyst");
    send_marker(&c);
    let mut id = String::new();
    assert!(
        wait_until(30, || {
            let (_, v) = c.get("/api/v1/incidents");
            v["items"][0]["id"]
                .as_str()
                .map(|x| id = x.to_string())
                .is_some()
        }),
        "the alert was not grouped into an incident"
    );
    let server = format!("http://{}", s.http);
    let token = c
        .auth
        .clone()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_string();
    let taishi = |args: &[&str]| {
        let out = std::process::Command::new(taishi_bin())
            .args(args)
            .args(["--server", &server, "--token", &token])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.stdout,
        )
    };

    let (ok, out, err, _) = taishi(&["incidents", "list"]);
    assert!(ok, "{err}");
    assert!(out.contains(&id) && out.contains("报告时限"), "{out}");
    let (ok, out, err, _) = taishi(&["incidents", "list", "--csv"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("id,status,severity,grade,deadline"),
        "{out}"
    );
    assert!(out.contains(&id), "{out}");

    let (ok, out, err, _) = taishi(&["incidents", "show", &id]);
    assert!(ok, "{err}");
    assert!(out.contains(&id) && out.contains("状态 / status"), "{out}");
    let (ok, out, err, _) = taishi(&["incidents", "show", &id, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["incident"]["id"], id.as_str());

    let dir = tempfile::tempdir().unwrap();
    let docx = dir.path().join("报告.docx");
    let (ok, _, err, _) = taishi(&[
        "incidents",
        "export",
        &id,
        "--format",
        "docx",
        "-o",
        docx.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(std::fs::read(&docx).unwrap().starts_with(b"PK"));
    let (ok, out, err, _) = taishi(&["incidents", "export", &id]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(report.is_object(), "{out}");
    let (ok, _, err, _) = taishi(&["incidents", "export", &id, "--iocs", "plain"]);
    assert!(ok, "{err}");

    // An id that would change the path is refused before any request.
    let (ok, _, err, _) = taishi(&["incidents", "show", "../users"]);
    assert!(!ok && err.contains("incident id"), "{err}");
    // Another's incident, or none: the server's 404 is the error.
    let (ok, _, err, _) = taishi(&["incidents", "show", "inc-0000"]);
    assert!(!ok && err.contains("404"), "{err}");
}
