//! Two processes on one indicator store (`taishi serve` and `taishi intel
//! import`, issue 13 item 4): neither drops the sources the other imported.

use taishi_intel::import::{self, Format};
use taishi_intel::{ImportMode, IndicatorStore};

/// Imports `body` (one indicator a line) as `source`'s whole list.
fn put(store: &mut IndicatorStore, source: &str, body: &[u8]) {
    let batch = import::parse(&Format::Text, source, source, body);
    store
        .import(source, batch, ImportMode::Replace, None, None)
        .unwrap();
}

fn names(store: &IndicatorStore) -> Vec<String> {
    store.sources().keys().cloned().collect()
}

#[test]
fn a_store_opened_earlier_keeps_what_another_imported() {
    let dir = tempfile::tempdir().unwrap();
    // The server opened the store at start…
    let mut server = IndicatorStore::open(dir.path()).unwrap();
    put(&mut server, "console", b"198.51.100.1\n");
    // …the CLI imports beside it…
    let mut cli = IndicatorStore::open(dir.path()).unwrap();
    put(&mut cli, "cli", b"203.0.113.9\nbad.example\n");
    // …the server sees the change…
    assert!(server.refresh().unwrap());
    assert!(server.sources().contains_key("cli"));
    assert!(!server.refresh().unwrap(), "nothing changed since");
    // …and its next import (from the console) keeps the CLI's source, even
    // without that refresh.
    put(&mut cli, "cli2", b"192.0.2.5\n");
    put(&mut server, "console", b"198.51.100.2\n");
    let fresh = IndicatorStore::open(dir.path()).unwrap();
    assert_eq!(names(&fresh), ["cli", "cli2", "console"]);
    assert_eq!(fresh.indicators("cli").unwrap().len(), 2);
    assert_eq!(fresh.all().unwrap().len(), 4);
    // A removal by one keeps the other's sources too.
    server.remove_source("cli2").unwrap();
    put(&mut cli, "cli3", b"192.0.2.6\n");
    let fresh = IndicatorStore::open(dir.path()).unwrap();
    assert_eq!(names(&fresh), ["cli", "cli3", "console"]);
}
