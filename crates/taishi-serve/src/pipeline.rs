//! decode (done by the listeners) → enrich → store → detect → alert.
//!
//! Every listener hands its batches to [`Pipeline::submit`], which resolves
//! once the batch's events are durable in the store: that is when a
//! listener may acknowledge. Work runs on blocking threads, and at most
//! `max_in_flight` batches are in process at once; further submitters
//! wait, which is the backpressure senders feel when the store is slow.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value as J};
use taishi_correlation::CorrelationHit;
use taishi_event::{Event, Reject};
use taishi_ingest::{Batch, IngestSink, SinkError};
use taishi_sigma::{Detection, Scratch};
use taishi_store::Store;
use tokio::sync::{broadcast, Semaphore};

use crate::detect::{rule_key, Raised, Rules};
use crate::state::{now_iso, Alert, State};

/// Where malformed records go: one JSON line per reject, a file per UTC
/// day, so nothing a sender sent is lost even when it cannot be decoded.
pub struct RejectLog {
    dir: PathBuf,
    open: Mutex<Option<(String, std::fs::File)>>,
    pub count: AtomicU64,
}

impl RejectLog {
    pub fn new(dir: PathBuf) -> std::io::Result<RejectLog> {
        std::fs::create_dir_all(&dir)?;
        Ok(RejectLog {
            dir,
            open: Mutex::new(None),
            count: AtomicU64::new(0),
        })
    }

    pub fn write(&self, listener: &str, rejects: &[Reject]) -> std::io::Result<()> {
        if rejects.is_empty() {
            return Ok(());
        }
        let day = Utc::now().format("%Y-%m-%d").to_string();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.as_ref().is_none_or(|(d, _)| *d != day) {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(format!("{day}.jsonl")))?;
            *open = Some((day, f));
        }
        let Some((_, f)) = open.as_mut() else {
            return Ok(());
        };
        let mut buf = Vec::new();
        for r in rejects {
            let mut j = r.to_json();
            if let J::Object(m) = &mut j {
                m.insert("listener".into(), J::String(listener.into()));
                m.insert("received".into(), J::String(now_iso()));
            }
            let _ = serde_json::to_writer(&mut buf, &j);
            buf.push(b'\n');
        }
        f.write_all(&buf)?;
        // Kept as durable as the events of the same batch.
        f.sync_data()?;
        self.count
            .fetch_add(rejects.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Receives each new alert after it is stored (alert outputs).
pub trait AlertHook: Send + Sync + 'static {
    fn alert(&self, alert: &Alert);
}

/// The enrichment stage applied to each event before it is stored.
pub type Enricher = Box<dyn Fn(&mut Event) + Send + Sync>;

pub struct Pipeline {
    pub store: Arc<Store>,
    pub rules: Arc<Rules>,
    pub state: Arc<State>,
    pub rejects: RejectLog,
    pub enrich: Option<Enricher>,
    pub hooks: Vec<Arc<dyn AlertHook>>,
    pub intel: Option<Arc<crate::intel::Intel>>,
    in_flight: Semaphore,
    pub live: broadcast::Sender<Alert>,
    pub events_in: AtomicU64,
    pub alerts_raised: AtomicU64,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::new());
}

/// Key fields shown with an alert: the same list the alert outputs show.
use taishi_alert::alert::SUMMARY_FIELDS;

fn first(ev: &Event, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| ev.get(n))
        .map(|v| v.to_string())
        .filter(|s| !s.is_empty())
}

pub fn host_of(ev: &Event) -> Option<String> {
    first(
        ev,
        &[
            "host.name",
            "Computer",
            "observer.name",
            "host.hostname",
            "host.ip",
        ],
    )
}

pub fn source_ip_of(ev: &Event) -> Option<String> {
    first(
        ev,
        &[
            "source.ip",
            "client.ip",
            "IpAddress",
            "SourceIp",
            "SourceAddress",
        ],
    )
}

pub fn destination_ip_of(ev: &Event) -> Option<String> {
    first(
        ev,
        &[
            "destination.ip",
            "server.ip",
            "DestinationIp",
            "DestAddress",
        ],
    )
}

fn new_id(ts: &DateTime<FixedOffset>) -> String {
    format!(
        "{:013x}{}",
        ts.timestamp_millis().max(0),
        crate::auth::random_hex(6)
    )
}

fn event_json(ev: &Event) -> J {
    serde_json::from_str(&ev.to_json_string()).unwrap_or(J::Null)
}

pub fn alert_from_detection(d: &Detection, ev: &Event, seq: u64) -> Alert {
    let m = &d.meta;
    let ts = ev.timestamp.unwrap_or_else(|| Utc::now().fixed_offset());
    let mut summary = Map::new();
    for f in SUMMARY_FIELDS {
        if let Some(v) = ev.get(f) {
            let s = v.to_string();
            if !s.is_empty() {
                summary.insert((*f).to_string(), J::String(s.chars().take(512).collect()));
            }
        }
    }
    let now = now_iso();
    Alert {
        id: new_id(&ts),
        kind: "sigma".into(),
        rule_id: rule_key(m),
        rule_title: m.title.clone(),
        level: m.level.name().into(),
        tags: m.tags.clone(),
        timestamp: ts,
        host: host_of(ev),
        source_ip: source_ip_of(ev),
        destination_ip: destination_ip_of(ev),
        summary,
        events: vec![seq],
        event: event_json(ev),
        status: "new".into(),
        resolution: None,
        assignee: None,
        retrospective: false,
        created: now.clone(),
        updated: now,
    }
}

pub fn alert_from_correlation(h: &CorrelationHit) -> Alert {
    let r = &h.rule;
    let mut summary = Map::new();
    for (k, v) in h.group.iter().chain(&h.fields) {
        summary.insert(k.clone(), J::String(v.clone()));
    }
    summary.insert("event_count".into(), J::from(h.event_count));
    summary.insert("value".into(), J::from(h.value));
    summary.insert("first".into(), J::String(h.first.to_rfc3339()));
    let get = |names: &[&str]| {
        h.group
            .iter()
            .chain(&h.fields)
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
    };
    let now = now_iso();
    Alert {
        id: new_id(&h.last),
        kind: "correlation".into(),
        rule_id: r
            .id
            .clone()
            .or_else(|| r.name.clone())
            .unwrap_or_else(|| r.title.clone()),
        rule_title: r.title.clone(),
        level: r
            .level
            .map(|l| l.as_str().to_string())
            .unwrap_or_else(|| "medium".into()),
        tags: r.tags.clone(),
        timestamp: h.last,
        host: get(&["host.name", "Computer", "host"]),
        source_ip: get(&["source.ip", "IpAddress", "SourceIp", "src_ip"]),
        destination_ip: get(&["destination.ip", "DestinationIp"]),
        summary,
        events: Vec::new(),
        event: h.to_json(),
        status: "new".into(),
        resolution: None,
        assignee: None,
        retrospective: false,
        created: now.clone(),
        updated: now,
    }
}

impl Pipeline {
    pub fn new(
        store: Arc<Store>,
        rules: Arc<Rules>,
        state: Arc<State>,
        rejects: RejectLog,
        max_in_flight: usize,
    ) -> Pipeline {
        Pipeline {
            store,
            rules,
            state,
            rejects,
            enrich: None,
            hooks: Vec::new(),
            intel: None,
            in_flight: Semaphore::new(max_in_flight.max(1)),
            live: broadcast::channel(1024).0,
            events_in: AtomicU64::new(0),
            alerts_raised: AtomicU64::new(0),
        }
    }

    /// The blocking part: enrich, store, detect, commit.
    fn process(&self, mut batch: Batch) -> Result<Vec<Alert>, SinkError> {
        self.rejects
            .write(&batch.listener, &batch.rejects)
            .map_err(|e| SinkError::Unavailable(format!("reject log: {e}")))?;
        if batch.events.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(f) = &self.enrich {
            for ev in &mut batch.events {
                f(ev);
            }
        }
        let seqs = self
            .store
            .append_batch(&batch.events)
            .map_err(|e| SinkError::Unavailable(e.to_string()))?;
        let first = *seqs.start();
        let detector = self.rules.current();
        let matcher = self
            .intel
            .as_ref()
            .map(|i| i.matcher())
            .filter(|m| !m.is_empty());
        let mut intel_hits = Vec::new();
        let mut alerts = Vec::new();
        SCRATCH.with(|s| {
            let mut scratch = s.borrow_mut();
            let mut hits = Vec::new();
            let mut raised = Vec::new();
            for (i, ev) in batch.events.iter().enumerate() {
                detector.detect(ev, &mut scratch, &mut hits, &mut raised);
                for r in raised.drain(..) {
                    let a = match r {
                        Raised::Rule(d) => alert_from_detection(&d, ev, first + i as u64),
                        Raised::Correlation(h) => alert_from_correlation(&h),
                    };
                    alerts.push(a);
                }
                if let Some(m) = &matcher {
                    intel_hits.clear();
                    m.match_event(ev, &mut intel_hits);
                    for h in &intel_hits {
                        alerts.push(crate::intel::alert_from_hit(h, ev, Some(first + i as u64)));
                    }
                }
            }
        });
        self.store
            .commit()
            .map_err(|e| SinkError::Unavailable(e.to_string()))?;
        self.events_in
            .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
        Ok(alerts)
    }

    /// Alerts of a batch are stored after its events, then announced.
    pub fn raise(&self, alerts: Vec<Alert>) {
        if alerts.is_empty() {
            return;
        }
        for a in &alerts {
            self.rules.note_hit(&a.rule_id, a.timestamp);
        }
        if let Err(e) = self.state.insert_alerts(&alerts) {
            tracing::error!(error = %e, count = alerts.len(), "alerts not stored");
            return;
        }
        self.alerts_raised
            .fetch_add(alerts.len() as u64, Ordering::Relaxed);
        for a in alerts {
            for h in &self.hooks {
                h.alert(&a);
            }
            let _ = self.live.send(a);
        }
    }
}

/// The service's sink: cloneable handle over the shared pipeline.
#[derive(Clone)]
pub struct Sink(pub Arc<Pipeline>);

impl IngestSink for Sink {
    async fn submit(&self, batch: Batch) -> Result<(), SinkError> {
        let p = self.0.clone();
        let _permit = p.in_flight.acquire().await.map_err(|_| SinkError::Closed)?;
        let worker = p.clone();
        let alerts = tokio::task::spawn_blocking(move || worker.process(batch))
            .await
            .map_err(|e| SinkError::Unavailable(format!("pipeline worker: {e}")))??;
        let raiser = p.clone();
        tokio::task::spawn_blocking(move || raiser.raise(alerts))
            .await
            .map_err(|e| SinkError::Unavailable(format!("alert worker: {e}")))?;
        Ok(())
    }
}
