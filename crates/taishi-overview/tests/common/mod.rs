//! What the tests of the picture share: alerts as the state stores them.

use chrono::{TimeDelta, Utc};
use taishi_alert::{now_iso, Alert, AlertKind, AlertRecord, AlertStatus, Level};
use taishi_enrich::GeoIp;
use taishi_overview::Sources;
use taishi_state::State;
use taishi_store::{Store, StoreConfig};

/// A real state database and event store in a temporary directory.
pub struct World {
    _dir: tempfile::TempDir,
    pub state: State,
    pub store: Store,
    pub geo: GeoIp,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("state.db")).unwrap();
        let store = Store::open(dir.path().join("store"), StoreConfig::default()).unwrap();
        World {
            _dir: dir,
            state,
            store,
            geo: GeoIp::disabled(),
        }
    }

    /// The whole platform's picture.
    pub fn sources(&self) -> Sources<'_> {
        Sources {
            scope: &taishi_state::Scope::All,
            store: &self.store,
            state: &self.state,
            geo: &self.geo,
        }
    }
}

pub fn record(level: Level, host: &str, src: &str, tags: &[&str], minutes_ago: i64) -> AlertRecord {
    let ts = (Utc::now() - TimeDelta::minutes(minutes_ago)).fixed_offset();
    let mut a = Alert::new(AlertKind::Sigma, "r-1", "Encoded PowerShell", level, ts);
    a.host = Some(host.into());
    a.source_ip = Some(src.into());
    a.tags = tags.iter().map(|t| t.to_string()).collect();
    AlertRecord {
        alert: a,
        status: AlertStatus::New,
        resolution: None,
        assignee: None,
        created: now_iso(),
        updated: now_iso(),
    }
}
