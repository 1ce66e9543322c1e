//! The rule classes of the public Sigma rules' own log sources: identity
//! rules group by user, network rules by address, endpoint rules by host.
//! Reads `sigma/rules` from the shared test data (SKIP without it).

use std::path::Path;

use serde::Deserialize;
use taishi_alert::{Alert, AlertKind, Level};
use taishi_incident::group::classify;
use taishi_incident::{LogSource, SourceClass};

#[derive(Deserialize)]
struct Rule {
    logsource: Option<LogSource>,
}

fn rules(dir: &Path, out: &mut Vec<LogSource>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rules(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml") {
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            // Multi-document rules: the first document has the log source.
            let first = text.split("\n---").next().unwrap_or("");
            if let Ok(Rule {
                logsource: Some(ls),
            }) = serde_yaml::from_str::<Rule>(first)
            {
                out.push(ls);
            }
        }
    }
}

#[test]
fn public_rules_fall_into_the_expected_classes() {
    let Some(root) = taishi_testdata::path("sigma/rules") else {
        return;
    };
    let alert = Alert::new(
        AlertKind::Sigma,
        "r",
        "t",
        Level::High,
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap(),
    );
    for (dir, want) in [
        ("identity", SourceClass::Identity),
        ("cloud/azure/signin_logs", SourceClass::Identity),
        ("network", SourceClass::Network),
        ("web/proxy_generic", SourceClass::Network),
        ("web/webserver_generic", SourceClass::Network),
        ("windows/process_creation", SourceClass::Endpoint),
        ("windows/registry", SourceClass::Endpoint),
        ("linux", SourceClass::Endpoint),
        ("macos", SourceClass::Endpoint),
    ] {
        let mut found = Vec::new();
        rules(&root.join(dir), &mut found);
        assert!(!found.is_empty(), "no rules under {dir}");
        // Authentication services on an endpoint (sshd, PAM) are about
        // the account: identity rules by design.
        let auth = |ls: &LogSource| {
            ls.service
                .as_deref()
                .is_some_and(|s| ["sshd", "auth", "pam"].contains(&s))
        };
        let wrong: Vec<_> = found
            .iter()
            .filter(|ls| {
                let want = if auth(ls) {
                    SourceClass::Identity
                } else {
                    want
                };
                classify(&alert, Some(ls)) != want
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{dir}: {} of {} not {want:?}: {:?}",
            wrong.len(),
            found.len(),
            &wrong[..wrong.len().min(5)]
        );
    }
}
