//! Events are stored first; the indicator arrives later; the retro-hunt
//! finds the earlier contact and marks it retrospective.

use chrono::{Duration, Utc};
use taishi_event::Event;
use taishi_intel::import::{self, Format};
use taishi_intel::{retro, ImportMode, IndicatorStore, Warninglists};
use taishi_store::{Store, StoreConfig};

fn event(minutes_ago: i64, fields: &[(&str, &str)]) -> Event {
    let mut e = Event::new();
    e.timestamp = Some((Utc::now() - Duration::minutes(minutes_ago)).fixed_offset());
    for (k, v) in fields {
        e.push(*k, *v);
    }
    e
}

/// An event store holding `batch`, committed and checkpointed.
fn stored(dir: &std::path::Path, batch: &[Event]) -> Store {
    let events = Store::open(dir.join("events"), StoreConfig::default()).unwrap();
    events.append_batch(batch).unwrap();
    events.commit().unwrap();
    events.checkpoint().unwrap();
    events
}

/// A retro-hunt now, over the default window, without warninglists.
fn hunt_now(events: &Store, report: &taishi_intel::ImportReport) -> retro::RetroResult {
    retro::hunt(
        events,
        &report.new_indicators,
        &Warninglists::default(),
        retro::DEFAULT_WINDOW,
        Utc::now(),
    )
    .unwrap()
}

#[test]
fn indicator_added_after_the_events_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let batch = vec![
        event(
            60 * 24 * 3,
            &[
                ("destination.ip", "198.51.100.23"),
                ("source.ip", "192.168.1.5"),
            ],
        ),
        event(60 * 5, &[("dns.question.name", "cdn.bad-actor.example")]),
        event(
            30,
            &[(
                "url.full",
                "http://files.bad-actor.example:80/a/../payload.bin",
            )],
        ),
        event(
            20,
            &[("url.full", "http://files.bad-actor.example/other.bin")],
        ),
        event(10, &[("destination.ip", "203.0.113.99")]),
        // Older than the 30-day window: not reported.
        event(60 * 24 * 40, &[("destination.ip", "198.51.100.23")]),
    ];
    let events = stored(dir.path(), &batch);

    // Later, a feed brings the indicators.
    let mut intel = IndicatorStore::open(dir.path().join("intel")).unwrap();
    let b = import::parse(
        &Format::Text,
        "late-feed.txt",
        "late",
        b"198.51.100.23\nbad-actor.example\nhttp://files.bad-actor.example/payload.bin\n",
    );
    let report = intel
        .import("late", b, ImportMode::Replace, None, None)
        .unwrap();
    assert_eq!(report.new_indicators.len(), 3);

    let (lists, _) = intel.warninglists().unwrap();
    let res = retro::hunt(
        &events,
        &report.new_indicators,
        &lists,
        retro::DEFAULT_WINDOW,
        Utc::now(),
    )
    .unwrap();
    let found: Vec<String> = res
        .matches
        .iter()
        .flat_map(|(_, hs)| hs.iter().map(|h| format!("{}={}", h.field, h.indicator)))
        .collect();
    assert!(res
        .matches
        .iter()
        .all(|(_, hs)| hs.iter().all(|h| h.retrospective)));
    assert!(
        found.contains(&"destination.ip=198.51.100.23".to_string()),
        "{found:?}"
    );
    assert!(
        found.contains(&"dns.question.name=bad-actor.example".to_string()),
        "{found:?}"
    );
    assert!(
        found.contains(&"url.full=http://files.bad-actor.example/payload.bin".to_string()),
        "{found:?}"
    );
    // other.bin is on the host but not the URL; 203.0.113.99 is unrelated;
    // the 40-day-old event is outside the window.
    assert_eq!(res.matches.len(), 3, "{found:?}");
    let json = serde_json::to_value(&res.matches[0].1[0]).unwrap();
    assert_eq!(json["retrospective"], true);
    assert_eq!(json["source"], "late");

    // Nothing found for an indicator with no earlier contact.
    let b = import::parse(&Format::Text, "x", "late2", b"never-seen.example\n");
    let r = intel
        .import("late2", b, ImportMode::Replace, None, None)
        .unwrap();
    let res = hunt_now(&events, &r);
    assert!(res.matches.is_empty());
}

#[test]
fn retro_hunt_ignores_the_case_sensors_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let sha = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
    let batch = vec![
        event(60, &[("dns.question.name", "WWW.Bad-Actor.EXAMPLE")]),
        event(50, &[("file.hash.sha256", sha)]),
        event(
            40,
            &[("url.full", "HTTP://FILES.BAD-ACTOR.EXAMPLE/payload.bin")],
        ),
        event(30, &[("dns.question.name", "good.example")]),
    ];
    let events = stored(dir.path(), &batch);
    let mut intel = IndicatorStore::open(dir.path().join("intel")).unwrap();
    let list = format!(
        "bad-actor.example\n{}\nhttp://files.bad-actor.example/payload.bin\n",
        sha.to_lowercase()
    );
    let b = import::parse(&Format::Text, "list.txt", "cased", list.as_bytes());
    let report = intel
        .import("cased", b, ImportMode::Replace, None, None)
        .unwrap();
    let res = hunt_now(&events, &report);
    let found: Vec<String> = res
        .matches
        .iter()
        .flat_map(|(_, hs)| hs.iter().map(|h| h.field.to_string()))
        .collect();
    assert_eq!(res.matches.len(), 3, "{found:?}");
    for f in ["dns.question.name", "file.hash.sha256", "url.full"] {
        assert!(found.iter().any(|x| x == f), "{f} not found: {found:?}");
    }
}
