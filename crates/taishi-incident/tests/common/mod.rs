//! Alerts for the tests.

#![allow(dead_code)]

use chrono::{DateTime, Duration, FixedOffset};
use serde_json::json;
use taishi_alert::{Alert, AlertKind, Level};

pub fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

pub fn base() -> DateTime<FixedOffset> {
    t("2026-03-02T09:00:00+08:00")
}

/// A Windows process-creation alert on `host` by `user`.
pub fn endpoint(id: &str, host: &str, user: &str, minutes: i64, tags: &[&str]) -> Alert {
    let mut a = Alert::new(
        AlertKind::Sigma,
        format!("rule-{id}"),
        format!("Suspicious process {id}"),
        Level::High,
        base() + Duration::minutes(minutes),
    );
    a.id = id.to_string();
    a.host = Some(host.to_string());
    a.tags = tags.iter().map(|s| s.to_string()).collect();
    a.summary.insert("User".into(), json!(user));
    a.event = json!({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": host, "User": user,
        "Hashes": "SHA256=2BC0C3CB1DB5C0B5D1E3C9F6E1D8A4B2C3D4E5F60718293A4B5C6D7E8F901234,MD5=0123456789ABCDEF0123456789ABCDEF"});
    a
}

/// A failed-logon alert for `user` (Windows Security 4625).
pub fn logon(id: &str, host: &str, user: &str, minutes: i64) -> Alert {
    let mut a = Alert::new(
        AlertKind::Sigma,
        "rule-logon",
        "Failed logons",
        Level::Medium,
        base() + Duration::minutes(minutes),
    );
    a.id = id.to_string();
    a.host = Some(host.to_string());
    a.tags = vec!["attack.credential_access".into(), "attack.t1110".into()];
    a.summary.insert("TargetUserName".into(), json!(user));
    a.event = json!({"EventID": 4625, "Channel": "Security", "TargetUserName": user});
    a
}

/// A network IDS alert.
pub fn network(id: &str, src: &str, dst: &str, minutes: i64) -> Alert {
    let mut a = Alert::new(
        AlertKind::Sigma,
        "rule-ids",
        "IDS signature",
        Level::Medium,
        base() + Duration::minutes(minutes),
    );
    a.id = id.to_string();
    a.source_ip = Some(src.to_string());
    a.destination_ip = Some(dst.to_string());
    a.tags = vec!["attack.command_and_control".into()];
    a.event = json!({"event_type": "alert", "src_ip": src, "dest_ip": dst});
    a
}

/// A correlation alert grouped by `group`.
pub fn correlation(id: &str, group: &[(&str, &str)], minutes: i64) -> Alert {
    let mut a = Alert::new(
        AlertKind::Correlation,
        "corr-1",
        "Many failures",
        Level::High,
        base() + Duration::minutes(minutes),
    );
    a.id = id.to_string();
    let g: serde_json::Map<String, serde_json::Value> = group
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    a.event = json!({"title": "Many failures", "group": g});
    a
}

/// A personal-information leak alert (the data-security stage's
/// `pii:outbound`) that counted `people`.
pub fn leak(id: &str, host: &str, people: u64, minutes: i64) -> Alert {
    let mut a = Alert::new(
        AlertKind::Pii,
        "pii:outbound",
        "Personal information sent outside",
        Level::Medium,
        base() + Duration::minutes(minutes),
    );
    a.id = id.to_string();
    a.host = Some(host.to_string());
    a.summary.insert("pii.people".into(), json!(people));
    a.context = json!({"people": people, "people_exact": true});
    a
}
