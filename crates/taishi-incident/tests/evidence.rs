//! Evidence files on the incident: the name keeps no directory, the digest
//! must be a SHA-256, a closed incident takes none, and each is on the
//! timeline.

use chrono::DateTime;
use taishi_incident::incident::Action;
use taishi_incident::{Actor, Incident, IncidentError, Provenance, Status};

const SHA: &str = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";

fn by() -> Provenance {
    Provenance::new(
        Actor::User("ann".into()),
        DateTime::parse_from_rfc3339("2026-12-06T10:00:00+08:00").unwrap(),
        "",
    )
}

fn incident() -> Incident {
    Incident::new("inc-1", "op-a", "t", by().when, by()).unwrap()
}

#[test]
fn evidence_is_named_without_directories_and_its_digest_kept_lower_case() {
    let mut i = incident();
    let id = i
        .add_evidence(
            "../../etc/capture.pcap",
            42,
            SHA,
            Some("application/vnd.tcpdump.pcap"),
            by(),
        )
        .unwrap();
    assert_eq!(id, 1);
    let e = &i.evidence[0];
    assert_eq!(e.name, "capture.pcap");
    assert_eq!(e.sha256, SHA.to_ascii_lowercase());
    assert_eq!(e.size, 42);
    assert!(matches!(
        i.timeline.last().unwrap().action,
        Action::EvidenceAdded { evidence: 1, .. }
    ));
    assert_eq!(
        i.add_evidence("b\\c\\memory.raw", 1, SHA, None, by())
            .unwrap(),
        2
    );
    assert_eq!(i.evidence[1].name, "memory.raw");
}

#[test]
fn bad_names_and_digests_are_refused() {
    let mut i = incident();
    for name in ["", "dir/", "..", "a\nb"] {
        assert!(
            matches!(
                i.add_evidence(name, 1, SHA, None, by()),
                Err(IncidentError::BadValue { .. })
            ),
            "{name:?}"
        );
    }
    for sha in ["", "abc", &"g".repeat(64)] {
        assert!(matches!(
            i.add_evidence("x", 1, sha, None, by()),
            Err(IncidentError::BadValue {
                field: "sha256",
                ..
            })
        ));
    }
    assert!(i.evidence.is_empty());
}

#[test]
fn a_closed_incident_takes_no_evidence_and_old_documents_read_without_it() {
    let mut i = incident();
    i.transition(Status::Triage, by()).unwrap();
    i.transition(Status::Closed, by()).unwrap();
    assert!(matches!(
        i.add_evidence("x", 1, SHA, None, by()),
        Err(IncidentError::Closed { .. })
    ));
    let mut doc = serde_json::to_value(incident()).unwrap();
    doc.as_object_mut().unwrap().remove("evidence");
    let back: Incident = serde_json::from_value(doc).unwrap();
    assert!(back.evidence.is_empty());
}
