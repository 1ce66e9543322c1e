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
/// day, so what a sender sent is not lost silently even when it cannot be
/// decoded. Bounded three ways (`[rejects]`): each record is cut at
/// `max_record_kib` (marked `"truncated": true` with its whole length in
/// `raw_bytes`), day files older than `retention_days` are deleted, and
/// the folder never holds more than `max_mib`: the oldest days go first,
/// and when today alone fills it, further rejects are counted in `dropped`
/// and not written.
pub struct RejectLog {
    dir: PathBuf,
    limits: RejectLimits,
    open: Mutex<OpenDay>,
    pub count: AtomicU64,
    /// Rejects not written because the folder was full.
    pub dropped: AtomicU64,
    /// Day files deleted by age or size.
    pub expired: AtomicU64,
}

/// The `[rejects]` limits, in bytes and days.
#[derive(Debug, Clone, Copy)]
pub struct RejectLimits {
    pub max_record: usize,
    pub max_total: u64,
    pub retention_days: u32,
}

#[derive(Default)]
struct OpenDay {
    file: Option<(String, std::fs::File)>,
    /// Bytes of the whole folder, kept up to date as lines are written.
    total: u64,
}

impl RejectLog {
    pub fn new(dir: PathBuf, limits: RejectLimits) -> std::io::Result<RejectLog> {
        std::fs::create_dir_all(&dir)?;
        let log = RejectLog {
            dir,
            limits,
            open: Mutex::new(OpenDay::default()),
            count: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        };
        {
            let mut o = log.open.lock().unwrap_or_else(|e| e.into_inner());
            let today = Utc::now().format("%Y-%m-%d").to_string();
            o.total = log.expire(&today, 0);
        }
        Ok(log)
    }

    /// Day files, oldest first: (day, path, bytes).
    fn days(&self) -> Vec<(String, PathBuf, u64)> {
        let mut v: Vec<_> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let day = name.strip_suffix(".jsonl")?.to_string();
                chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok()?;
                let len = e.metadata().ok()?.len();
                Some((day, e.path(), len))
            })
            .collect();
        v.sort();
        v
    }

    /// Deletes day files past the retention, then the oldest while more
    /// than `need` bytes would not fit (today's file is kept). Returns the
    /// bytes left.
    fn expire(&self, today: &str, need: u64) -> u64 {
        let oldest_kept = (Utc::now()
            - chrono::TimeDelta::days(i64::from(self.limits.retention_days.max(1))))
        .format("%Y-%m-%d")
        .to_string();
        let mut days = self.days();
        let mut total: u64 = days.iter().map(|d| d.2).sum();
        days.retain(|(day, path, len)| {
            let old = day.as_str() < oldest_kept.as_str();
            let over = total + need > self.limits.max_total && day.as_str() != today;
            if (old || over) && std::fs::remove_file(path).is_ok() {
                total -= len;
                self.expired.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            true
        });
        total
    }

    pub fn write(&self, listener: &str, rejects: &[Reject]) -> std::io::Result<()> {
        if rejects.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in rejects {
            let mut j = r.to_json();
            if let J::Object(m) = &mut j {
                if r.raw.len() > self.limits.max_record {
                    let cut = &r.raw[..self.limits.max_record];
                    m.insert("raw".into(), J::String(String::from_utf8_lossy(cut).into()));
                    m.insert("truncated".into(), J::Bool(true));
                }
                m.insert("listener".into(), J::String(listener.into()));
                m.insert("received".into(), J::String(now_iso()));
            }
            let _ = serde_json::to_writer(&mut buf, &j);
            buf.push(b'\n');
        }
        self.count
            .fetch_add(rejects.len() as u64, Ordering::Relaxed);
        let day = Utc::now().format("%Y-%m-%d").to_string();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let need = buf.len() as u64;
        if open.file.as_ref().is_none_or(|(d, _)| *d != day)
            || open.total + need > self.limits.max_total
        {
            open.total = self.expire(&day, need);
        }
        if open.total + need > self.limits.max_total {
            let n = self
                .dropped
                .fetch_add(rejects.len() as u64, Ordering::Relaxed)
                + rejects.len() as u64;
            if n.is_power_of_two() || n == rejects.len() as u64 {
                tracing::warn!(
                    dropped = n,
                    max_mib = self.limits.max_total >> 20,
                    "reject log full: rejects counted but not kept (raise rejects.max_mib)"
                );
            }
            return Ok(());
        }
        if open.file.as_ref().is_none_or(|(d, _)| *d != day) {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(format!("{day}.jsonl")))?;
            open.file = Some((day, f));
        }
        let Some((_, f)) = open.file.as_mut() else {
            return Ok(());
        };
        f.write_all(&buf)?;
        // Kept as durable as the events of the same batch.
        f.sync_data()?;
        open.total += need;
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
    max_in_flight: u32,
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
            max_in_flight: max_in_flight.clamp(1, u32::MAX as usize) as u32,
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
            .map_err(SinkError::from)?;
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
        self.store.commit().map_err(SinkError::from)?;
        self.events_in
            .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
        Ok(alerts)
    }

    /// Waits until no batch is in process (their alerts are then handed to
    /// the outputs), or until `deadline`; true when none is left. Taking
    /// every permit also keeps new batches out.
    pub async fn drain(&self, deadline: tokio::time::Instant) -> bool {
        match tokio::time::timeout_at(deadline, self.in_flight.acquire_many(self.max_in_flight))
            .await
        {
            Ok(Ok(permits)) => {
                permits.forget();
                self.in_flight.close();
                true
            }
            _ => false,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use taishi_event::{DecodeContext, Format, Location};

    fn reject(len: usize) -> Reject {
        let ctx = DecodeContext::new("test", Format::Json);
        Reject::new(&ctx, Location::line(1, 0), "bad JSON").raw(&vec![b'x'; len])
    }

    fn limits(max_total: u64) -> RejectLimits {
        RejectLimits {
            max_record: 1024,
            max_total,
            retention_days: 7,
        }
    }

    #[test]
    fn a_record_is_cut_at_the_cap_and_marked() {
        let dir = tempfile::tempdir().unwrap();
        let log = RejectLog::new(dir.path().to_path_buf(), limits(1 << 20)).unwrap();
        log.write("http", &[reject(5000), reject(10)]).unwrap();
        let day = Utc::now().format("%Y-%m-%d").to_string();
        let text = std::fs::read_to_string(dir.path().join(format!("{day}.jsonl"))).unwrap();
        let lines: Vec<J> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["raw"].as_str().unwrap().len(), 1024);
        assert_eq!(lines[0]["truncated"], J::Bool(true));
        assert_eq!(lines[0]["raw_bytes"], J::from(5000));
        assert_eq!(lines[1]["raw"].as_str().unwrap().len(), 10);
        assert_eq!(lines[1]["truncated"], J::Bool(false));
    }

    #[test]
    fn old_days_expire_and_the_folder_stays_within_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let old = (Utc::now() - chrono::TimeDelta::days(30)).format("%Y-%m-%d");
        let recent = (Utc::now() - chrono::TimeDelta::days(1)).format("%Y-%m-%d");
        std::fs::write(dir.path().join(format!("{old}.jsonl")), "x\n").unwrap();
        std::fs::write(dir.path().join(format!("{recent}.jsonl")), vec![b'y'; 3000]).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a day file").unwrap();
        let log = RejectLog::new(dir.path().to_path_buf(), limits(8 * 1024)).unwrap();
        assert!(!dir.path().join(format!("{old}.jsonl")).exists());
        assert!(dir.path().join(format!("{recent}.jsonl")).exists());
        assert!(dir.path().join("notes.txt").exists());
        // Each write is about 1.2 KB: yesterday's file goes first, then
        // today's own file fills the cap and the rest is counted.
        for _ in 0..20 {
            log.write("http", &[reject(2000)]).unwrap();
        }
        assert!(!dir.path().join(format!("{recent}.jsonl")).exists());
        let total: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(total <= 8 * 1024, "{total}");
        assert!(log.dropped.load(Ordering::Relaxed) > 0);
        assert_eq!(log.count.load(Ordering::Relaxed), 20);
        assert_eq!(log.expired.load(Ordering::Relaxed), 2);
    }
}
