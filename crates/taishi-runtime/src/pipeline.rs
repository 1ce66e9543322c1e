//! decode (done by the listeners) → enrich → store → detect → alert.
//!
//! Every listener hands its batches to the pipeline ([`IngestSink`]),
//! which resolves once the batch's events are durable in the store: that is
//! when a listener may acknowledge. Work runs on blocking threads, and at
//! most `max_in_flight` batches are in process at once; further submitters
//! wait, which is the backpressure senders feel when the store is slow.
//!
//! A batch's alerts reach the alert store through the journal (see
//! `journal.rs`): written before its events commit, let go after the
//! insert, replayed at start. An insert that fails is retried with the next
//! batch and counted; its alerts stay in the journal meanwhile.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use taishi_event::metrics::{Exposition, MetricKind, Scalar};

use taishi_alert::{Alert, AlertRecord};
use taishi_event::Event;
use taishi_ingest::{Batch, IngestSink, SinkError, Tenancy};
use taishi_intel::{IntelHit, Matcher};
use taishi_sigma::{Detection, Scratch};
use taishi_store::{Store, StoreError};
use tokio::sync::{broadcast, Semaphore};

use crate::journal::{Journal, Ticket};
use crate::pii::PiiStage;
use crate::rejects::RejectLog;
use crate::rules::{Raised, Rules};
use crate::{alerts, failpoint, BoxError, RuntimeError};

/// Where alerts are kept: SQLite in `taishi serve`, a table in a hunt.
pub trait AlertStore: Send + Sync + 'static {
    /// Stores the records, skipping ids it already holds (a journal replay
    /// offers them again); says for each whether it was new.
    fn insert(&self, alerts: &[AlertRecord]) -> Result<Vec<bool>, BoxError>;
}

/// Receives each new alert after it is stored (alert outputs).
pub trait AlertHook: Send + Sync + 'static {
    fn alert(&self, alert: &AlertRecord);
}

/// A service's alert outputs hear of every stored alert.
impl AlertHook for taishi_alert::Outputs {
    fn alert(&self, alert: &AlertRecord) {
        self.dispatcher().submit(alert.alert.clone());
    }
}

/// What one batch did, for whoever measures the pipeline.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchReport {
    pub events: usize,
    pub rejects: usize,
    pub alerts: usize,
    pub seconds: f64,
}

/// A detector that sees every stored event, after enrichment and with its
/// organisation stamped, in batches, and keeps state across them (the
/// anomaly detectors). `observe` runs on the pipeline's worker threads
/// (several batches at once), so implementations lock what they share.
pub trait StreamDetector: Send + Sync + 'static {
    /// The alerts the batch's events raise; `first_seq` is the store's
    /// sequence number of `events[0]`.
    fn observe(&self, events: &[Event], first_seq: u64, out: &mut Vec<Alert>);
    /// The periodic part (batch scoring such as beacons): every few
    /// minutes in a service ([`Pipeline::tick`]), once at the end of a hunt.
    fn tick(&self, out: &mut Vec<Alert>);
}

/// The metrics hook: called once per batch processed.
pub trait Metrics: Send + Sync + 'static {
    fn batch(&self, report: &BatchReport);
}

/// The pipeline's own counters (served on `/metrics`).
#[derive(Debug, Default)]
pub struct Counters {
    pub events_in: AtomicU64,
    pub alerts_raised: AtomicU64,
    /// Alerts the gate held back (an organisation switched the rule off,
    /// an intel source of another organisation).
    pub alerts_gated: AtomicU64,
    /// Inserts into the alert store that failed (each is retried).
    pub alert_store_failures: AtomicU64,
    /// Alerts found in the journal at start and stored then.
    pub alerts_recovered: AtomicU64,
}

/// The enrichment stage applied to each event before it is stored.
pub type Enricher = Box<dyn Fn(&mut Event) + Send + Sync>;

/// The intel matcher in force now (it changes when feeds are pulled).
pub type MatcherSource = Arc<dyn Fn() -> Arc<Matcher> + Send + Sync>;

/// What detecting one event needs besides the event, kept per worker
/// thread so the events of a batch allocate none of it.
struct Buffers {
    scratch: Scratch,
    hits: Vec<Detection>,
    raised: Vec<Raised>,
    intel_hits: Vec<IntelHit>,
}

thread_local! {
    static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers {
        scratch: Scratch::new(),
        hits: Vec::new(),
        raised: Vec::new(),
        intel_hits: Vec::new(),
    });
}

/// Alerts that could not be stored yet, with the journal entries that
/// keep them safe until they are.
struct Unstored {
    records: Vec<AlertRecord>,
    tickets: Vec<Ticket>,
}

pub struct Pipeline {
    pub store: Arc<Store>,
    pub rules: Arc<Rules>,
    alerts: Arc<dyn AlertStore>,
    pub rejects: RejectLog,
    enrich: Option<Enricher>,
    /// Personal information masked (and counted) before anything is written.
    pub pii: Option<Arc<PiiStage>>,
    /// Whose each event is (`organization.id`), stamped before anything
    /// else reads it.
    tenancy: Option<Tenancy>,
    gate: Option<Arc<dyn AlertGate>>,
    hooks: Vec<Arc<dyn AlertHook>>,
    intel: Option<MatcherSource>,
    metrics: Option<Arc<dyn Metrics>>,
    streams: Vec<Arc<dyn StreamDetector>>,
    journal: Journal,
    unstored: Mutex<Unstored>,
    in_flight: Semaphore,
    max_in_flight: u32,
    /// Every stored alert, as it is stored (the console's live feed).
    pub live: broadcast::Sender<AlertRecord>,
    pub counters: Counters,
}

/// Decides, per alert, whether it is raised at all: what the detectors
/// share across organisations, each organisation may narrow for itself
/// and those below it (the service's gate reads their overrides).
pub trait AlertGate: Send + Sync {
    fn admits(&self, a: &Alert) -> bool;
}

/// Builds a [`Pipeline`]: the event store, the rules and the alert store
/// are required; the rest is optional.
pub struct PipelineBuilder {
    store: Arc<Store>,
    rules: Arc<Rules>,
    alerts: Arc<dyn AlertStore>,
    rejects: RejectLog,
    enrich: Option<Enricher>,
    pii: Option<Arc<PiiStage>>,
    tenancy: Option<Tenancy>,
    gate: Option<Arc<dyn AlertGate>>,
    hooks: Vec<Arc<dyn AlertHook>>,
    intel: Option<MatcherSource>,
    metrics: Option<Arc<dyn Metrics>>,
    streams: Vec<Arc<dyn StreamDetector>>,
    max_in_flight: usize,
}

impl PipelineBuilder {
    pub fn enrich(mut self, f: Enricher) -> Self {
        self.enrich = Some(f);
        self
    }

    /// Masks personal information in events and rejects before they are
    /// written anywhere (after enrichment: what it adds is masked too).
    pub fn pii(mut self, stage: Arc<PiiStage>) -> Self {
        self.pii = Some(stage);
        self
    }

    /// Stamps each event with its organisation (listener, sender address
    /// or the credential that sent it).
    pub fn tenancy(mut self, t: Tenancy) -> Self {
        self.tenancy = Some(t);
        self
    }

    /// Holds back the alerts an organisation's overrides refuse.
    pub fn gate(mut self, g: Arc<dyn AlertGate>) -> Self {
        self.gate = Some(g);
        self
    }

    pub fn intel(mut self, source: MatcherSource) -> Self {
        self.intel = Some(source);
        self
    }

    pub fn hook(mut self, hook: Arc<dyn AlertHook>) -> Self {
        self.hooks.push(hook);
        self
    }

    pub fn metrics(mut self, m: Arc<dyn Metrics>) -> Self {
        self.metrics = Some(m);
        self
    }

    /// Adds a detector that sees every stored event ([`StreamDetector`]).
    pub fn stream(mut self, d: Arc<dyn StreamDetector>) -> Self {
        self.streams.push(d);
        self
    }

    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Opens the alert journal in `dir` and stores what a previous run
    /// left in it (the hooks hear of those alerts as of new ones).
    pub fn build(self, dir: &Path) -> Result<Pipeline, RuntimeError> {
        let path = dir.join(JOURNAL);
        let io = |what: &str, source| RuntimeError::Io {
            what: format!("{what} {}", path.display()),
            source,
        };
        let (journal, left, torn) = Journal::open(&path).map_err(|e| io("opening", e))?;
        if torn > 0 {
            tracing::warn!(
                torn,
                "alert journal: torn lines skipped (their batches never committed)"
            );
        }
        let max = self.max_in_flight.max(1);
        let p = Pipeline {
            store: self.store,
            rules: self.rules,
            alerts: self.alerts,
            rejects: self.rejects,
            enrich: self.enrich,
            pii: self.pii,
            tenancy: self.tenancy,
            gate: self.gate,
            hooks: self.hooks,
            intel: self.intel,
            metrics: self.metrics,
            streams: self.streams,
            journal,
            unstored: Mutex::new(Unstored {
                records: Vec::new(),
                tickets: Vec::new(),
            }),
            in_flight: Semaphore::new(max),
            max_in_flight: max.min(u32::MAX as usize) as u32,
            live: broadcast::channel(1024).0,
            counters: Counters::default(),
        };
        if !left.is_empty() {
            let new = p.alerts.insert(&left).map_err(RuntimeError::AlertStore)?;
            let mut n = 0;
            for (r, fresh) in left.into_iter().zip(new) {
                if fresh {
                    n += 1;
                    p.announce(r);
                }
            }
            p.counters.alerts_recovered.fetch_add(n, Ordering::Relaxed);
            tracing::info!(stored = n, "alert journal replayed");
        }
        p.journal.clear().map_err(|e| io("emptying", e))?;
        Ok(p)
    }
}

/// The journal's file name in the data directory.
pub const JOURNAL: &str = "alerts-journal.jsonl";

/// Store errors as a listener answers them.
pub fn sink_error(e: StoreError) -> SinkError {
    SinkError::Unavailable(e.to_string())
}

/// What one batch raised, on its way to the alert store.
pub struct Raising {
    records: Vec<AlertRecord>,
    ticket: Option<Ticket>,
}

impl Pipeline {
    pub fn builder(
        store: Arc<Store>,
        rules: Arc<Rules>,
        alerts: Arc<dyn AlertStore>,
        rejects: RejectLog,
    ) -> PipelineBuilder {
        PipelineBuilder {
            store,
            rules,
            alerts,
            rejects,
            enrich: None,
            pii: None,
            tenancy: None,
            gate: None,
            hooks: Vec::new(),
            intel: None,
            metrics: None,
            streams: Vec::new(),
            max_in_flight: 4,
        }
    }

    /// What every detector raises for one event stored as `seq`; `bufs`
    /// are reused across the events of a batch.
    fn detect_event(
        detector: &crate::Detector,
        matcher: Option<&Matcher>,
        ev: &Event,
        seq: u64,
        bufs: &mut Buffers,
        out: &mut Vec<Alert>,
    ) {
        let Buffers {
            scratch,
            hits,
            raised,
            intel_hits,
        } = bufs;
        detector.detect(ev, scratch, hits, raised);
        for r in raised.drain(..) {
            out.push(match r {
                Raised::Rule(d) => alerts::sigma(
                    &d,
                    &detector.keys[d.rule],
                    ev,
                    Some(seq),
                    alerts::Body::Full,
                ),
                Raised::Correlation(h) => alerts::correlation(&h, &detector.correlation_key(&h)),
            });
        }
        if let Some(m) = matcher {
            intel_hits.clear();
            m.match_event(ev, intel_hits);
            for h in intel_hits.iter() {
                out.push(alerts::intel(h, ev, Some(seq)));
            }
        }
    }

    /// The blocking part: enrich, store, detect, journal, commit.
    fn process(&self, mut batch: Batch) -> Result<Raising, SinkError> {
        let started = Instant::now();
        if let Some(p) = &self.pii {
            p.mask_rejects(&mut batch.rejects);
        }
        self.rejects
            .write(&batch.listener, &batch.rejects)
            .map_err(|e| SinkError::Unavailable(format!("reject log: {e}")))?;
        let mut raising = Raising {
            records: Vec::new(),
            ticket: None,
        };
        if batch.events.is_empty() {
            return Ok(raising);
        }
        if let Some(t) = &self.tenancy {
            t.stamp(&mut batch);
        }
        if let Some(f) = &self.enrich {
            for ev in &mut batch.events {
                f(ev);
            }
        }
        let leaks = match &self.pii {
            Some(p) => p.mask_events(&batch.listener, &mut batch.events),
            None => Vec::new(),
        };
        let seqs = self.store.append_batch(&batch.events).map_err(sink_error)?;
        let first = *seqs.start();
        let detector = self.rules.current();
        let matcher = self.intel.as_ref().map(|f| f()).filter(|m| !m.is_empty());
        let mut raised = Vec::new();
        BUFFERS.with(|b| {
            let mut bufs = b.borrow_mut();
            for (i, ev) in batch.events.iter().enumerate() {
                Pipeline::detect_event(
                    &detector,
                    matcher.as_deref(),
                    ev,
                    first + i as u64,
                    &mut bufs,
                    &mut raised,
                );
            }
        });
        for s in &self.streams {
            s.observe(&batch.events, first, &mut raised);
        }
        for l in &leaks {
            // Built from the masked event: the alert holds no raw value.
            raised.push(alerts::pii(
                l,
                &batch.events[l.index],
                first + l.index as u64,
            ));
        }
        self.apply_gate(&mut raised);
        if !raised.is_empty() {
            raising.records = raised.into_iter().map(Alert::record).collect();
            // Synced before the events commit: once the sender may hear
            // "stored", the alerts are on disk too.
            raising.ticket = Some(
                self.journal
                    .write(&raising.records)
                    .map_err(|e| SinkError::Unavailable(format!("alert journal: {e}")))?,
            );
        }
        self.store.commit().map_err(sink_error)?;
        if let Some(p) = &self.pii {
            // The inventory is a summary: a write that fails is tried again
            // at the next batch, the events are stored either way.
            if let Err(e) = p.flush(false) {
                tracing::warn!(error = %e, "pii inventory not written");
            }
        }
        self.counters
            .events_in
            .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.batch(&BatchReport {
                events: batch.events.len(),
                rejects: batch.rejects.len(),
                alerts: raising.records.len(),
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        Ok(raising)
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

    /// The input ends (the service stops): matches still waiting in the
    /// correlations' reorder buffer are used and every open window is
    /// decided as it stands, as a hunt does at the end of its files, so
    /// the hits they hold are stored rather than forgotten with the
    /// process.
    pub fn finish(&self) {
        let detector = self.rules.current();
        let mut hits = Vec::new();
        detector.flush(&mut hits);
        let alerts = hits
            .iter()
            .filter(|h| detector.raises_correlation(h))
            .map(|h| alerts::correlation(h, &detector.correlation_key(h)))
            .collect();
        self.raise(alerts);
        self.tick();
        if let Some(p) = &self.pii {
            if let Err(e) = p.flush(true) {
                tracing::warn!(error = %e, "pii inventory not written at stop");
            }
        }
    }

    /// Runs the stream detectors' periodic part and stores what it raised
    /// (a service calls it every few minutes, and at the end).
    pub fn tick(&self) {
        let mut alerts = Vec::new();
        for s in &self.streams {
            s.tick(&mut alerts);
        }
        if !alerts.is_empty() {
            self.raise(alerts);
        }
    }

    /// Stores alerts raised outside a batch (a retro-hunt) and announces
    /// them.
    pub fn raise(&self, mut alerts: Vec<Alert>) {
        self.apply_gate(&mut alerts);
        self.store_alerts(Raising {
            records: alerts.into_iter().map(Alert::record).collect(),
            ticket: None,
        });
    }

    fn apply_gate(&self, alerts: &mut Vec<Alert>) {
        if let Some(g) = &self.gate {
            let before = alerts.len();
            alerts.retain(|a| g.admits(a));
            self.counters
                .alerts_gated
                .fetch_add((before - alerts.len()) as u64, Ordering::Relaxed);
        }
    }

    /// Alerts of a batch are stored after its events, then announced. If
    /// the store refuses, they are counted, kept (in memory and in the
    /// journal) and tried again with the next batch's alerts.
    fn store_alerts(&self, raising: Raising) {
        let mut u = self.unstored.lock().unwrap_or_else(|e| e.into_inner());
        if raising.records.is_empty() && u.records.is_empty() {
            return;
        }
        failpoint::hit(failpoint::ALERTS_BEFORE_INSERT);
        u.records.extend(raising.records);
        u.tickets.extend(raising.ticket);
        match self.alerts.insert(&u.records) {
            Ok(fresh) => {
                let records = std::mem::take(&mut u.records);
                for t in std::mem::take(&mut u.tickets) {
                    self.journal.done(t);
                }
                drop(u);
                let mut n = 0;
                for (r, new) in records.into_iter().zip(fresh) {
                    if new {
                        n += 1;
                        self.rules.note_hit(&r.rule_id, r.timestamp);
                        self.announce(r);
                    }
                }
                self.counters.alerts_raised.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters
                    .alert_store_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, waiting = u.records.len(), "alerts not stored yet: kept in the journal and tried again with the next batch");
            }
        }
    }

    fn announce(&self, r: AlertRecord) {
        for h in &self.hooks {
            h.alert(&r);
        }
        let _ = self.live.send(r);
    }
    /// The pipeline's series (events, alerts, the alert journal, rejects,
    /// rules running) in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let mut e = Exposition::new();
        e.scalars(PIPELINE_SERIES, self);
        e.finish()
    }

    /// Alerts waiting for the alert store to take them.
    pub fn unstored(&self) -> usize {
        self.unstored
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .records
            .len()
    }
}

/// The service's sink: a cloneable handle over the shared pipeline.
#[derive(Clone)]
pub struct Sink(pub Arc<Pipeline>);

impl IngestSink for Sink {
    async fn submit(&self, batch: Batch) -> Result<(), SinkError> {
        let p = self.0.clone();
        let _permit = p.in_flight.acquire().await.map_err(|_| SinkError::Closed)?;
        let worker = p.clone();
        let raising = tokio::task::spawn_blocking(move || worker.process(batch))
            .await
            .map_err(|e| SinkError::Unavailable(format!("pipeline worker: {e}")))??;
        let raiser = p.clone();
        tokio::task::spawn_blocking(move || raiser.store_alerts(raising))
            .await
            .map_err(|e| SinkError::Unavailable(format!("alert worker: {e}")))?;
        Ok(())
    }
}

fn load(a: &AtomicU64) -> f64 {
    a.load(Ordering::Relaxed) as f64
}

/// Every series of the pipeline: one line each, read from the counters
/// beside which they are counted.
const PIPELINE_SERIES: &[Scalar<Pipeline>] = &[
    Scalar {
        name: "taishi_pipeline_events_total",
        kind: MetricKind::Counter,
        help: "Events stored by the pipeline.",
        get: |p| load(&p.counters.events_in),
    },
    Scalar {
        name: "taishi_pipeline_alerts_total",
        kind: MetricKind::Counter,
        help: "Alerts raised.",
        get: |p| load(&p.counters.alerts_raised),
    },
    Scalar {
        name: "taishi_pipeline_alerts_gated_total",
        kind: MetricKind::Counter,
        help: "Alerts held back by an organisation's overrides (a rule switched off for it, another organisation's intel source).",
        get: |p| load(&p.counters.alerts_gated),
    },
    Scalar {
        name: "taishi_pipeline_alert_store_failures_total",
        kind: MetricKind::Counter,
        help: "Alert inserts that failed; their alerts stay in the journal and are tried again.",
        get: |p| load(&p.counters.alert_store_failures),
    },
    Scalar {
        name: "taishi_pipeline_alerts_unstored",
        kind: MetricKind::Gauge,
        help: "Alerts waiting for the alert store.",
        get: |p| p.unstored() as f64,
    },
    Scalar {
        name: "taishi_pipeline_alerts_recovered_total",
        kind: MetricKind::Counter,
        help: "Alerts a killed run had journaled, stored at this start.",
        get: |p| load(&p.counters.alerts_recovered),
    },
    Scalar {
        name: "taishi_pipeline_rejects_total",
        kind: MetricKind::Counter,
        help: "Malformed records kept aside.",
        get: |p| load(&p.rejects.count),
    },
    Scalar {
        name: "taishi_pipeline_rejects_dropped_total",
        kind: MetricKind::Counter,
        help: "Rejects counted but not kept: the reject folder was full (rejects.max_mib).",
        get: |p| load(&p.rejects.dropped),
    },
    Scalar {
        name: "taishi_pipeline_rejects_expired_files_total",
        kind: MetricKind::Counter,
        help: "Reject day files deleted by age (rejects.retention_days) or size (rejects.max_mib).",
        get: |p| load(&p.rejects.expired),
    },
    Scalar {
        name: "taishi_rules_compiled",
        kind: MetricKind::Gauge,
        help: "Rules running.",
        get: |p| p.rules.current().engine.active_rules() as f64,
    },
];
