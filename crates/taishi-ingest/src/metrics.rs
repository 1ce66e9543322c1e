//! Per-listener counters, cheap enough to bump on every datagram.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::budget::MemoryBudget;

/// Live counters of one listener. Shared between its tasks and the
/// service; read with [`ListenerMetrics::snapshot`].
#[derive(Debug)]
pub struct ListenerMetrics {
    name: Arc<str>,
    kind: &'static str,
    bytes: AtomicU64,
    messages: AtomicU64,
    events: AtomicU64,
    rejects: AtomicU64,
    events_acked: AtomicU64,
    rejects_acked: AtomicU64,
    batches_acked: AtomicU64,
    sink_errors: AtomicU64,
    udp_dropped: AtomicU64,
    queue_depth: AtomicU64,
    queue_capacity: AtomicU64,
    connections_open: AtomicI64,
    connections_total: AtomicU64,
    tls_failures: AtomicU64,
    conns_refused: AtomicU64,
    conns_evicted: AtomicU64,
    conns_timed_out: AtomicU64,
    budget_refused: AtomicU64,
    duplicates: AtomicU64,
    last_event_ms: AtomicI64,
    /// NetFlow/IPFIX template cache (netflow listeners only).
    templates_held: AtomicU64,
    templates_dropped: AtomicU64,
}

/// A point-in-time copy of a listener's counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    pub name: String,
    pub kind: &'static str,
    /// Bytes read from sockets, request bodies or files.
    pub bytes_received: u64,
    /// Datagrams, stream frames, documents or file chunks received.
    pub messages_received: u64,
    /// Events and rejects decoded (before the sink).
    pub events_received: u64,
    pub rejects: u64,
    /// Events and rejects the sink made durable.
    pub events_acked: u64,
    pub rejects_acked: u64,
    pub batches_acked: u64,
    pub sink_errors: u64,
    /// Datagrams dropped because the queue to the decoder was full.
    pub udp_dropped: u64,
    pub queue_depth: u64,
    pub queue_capacity: u64,
    pub connections_open: i64,
    pub connections_total: u64,
    pub tls_handshake_failures: u64,
    /// Connections closed at once: their address held its share, or every
    /// slot was busy.
    pub connections_refused: u64,
    /// Idle connections closed to make room for a new one.
    pub connections_evicted: u64,
    /// Connections closed for sending nothing (idle, header, body or
    /// handshake timeouts).
    pub connections_timed_out: u64,
    /// Input refused, dropped or held back because the ingest memory
    /// budget was spent.
    pub budget_refused: u64,
    /// Bulk items whose `_id` was already stored (not stored again).
    pub duplicates: u64,
    /// Unix milliseconds of the last decoded event, if any.
    pub last_event_unix_ms: Option<i64>,
    /// NetFlow/IPFIX templates held, and dropped (evicted past the cache's
    /// limits or expired).
    pub netflow_templates_held: u64,
    pub netflow_templates_dropped: u64,
}

impl ListenerMetrics {
    pub fn new(name: Arc<str>, kind: &'static str) -> Self {
        ListenerMetrics {
            name,
            kind,
            bytes: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            events: AtomicU64::new(0),
            rejects: AtomicU64::new(0),
            events_acked: AtomicU64::new(0),
            rejects_acked: AtomicU64::new(0),
            batches_acked: AtomicU64::new(0),
            sink_errors: AtomicU64::new(0),
            udp_dropped: AtomicU64::new(0),
            queue_depth: AtomicU64::new(0),
            queue_capacity: AtomicU64::new(0),
            connections_open: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            tls_failures: AtomicU64::new(0),
            conns_refused: AtomicU64::new(0),
            conns_evicted: AtomicU64::new(0),
            conns_timed_out: AtomicU64::new(0),
            budget_refused: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            last_event_ms: AtomicI64::new(i64::MIN),
            templates_held: AtomicU64::new(0),
            templates_dropped: AtomicU64::new(0),
        }
    }

    pub(crate) fn templates(&self, held: u64, dropped: u64) {
        self.templates_held.store(held, Relaxed);
        self.templates_dropped.store(dropped, Relaxed);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub(crate) fn input(&self, bytes: usize, messages: u64) {
        self.bytes.fetch_add(bytes as u64, Relaxed);
        self.messages.fetch_add(messages, Relaxed);
    }

    pub(crate) fn received(&self, events: u64, rejects: u64) {
        self.events.fetch_add(events, Relaxed);
        self.rejects.fetch_add(rejects, Relaxed);
        if events > 0 {
            self.last_event_ms
                .store(chrono::Utc::now().timestamp_millis(), Relaxed);
        }
    }

    pub(crate) fn acked(&self, events: u64, rejects: u64) {
        self.events_acked.fetch_add(events, Relaxed);
        self.rejects_acked.fetch_add(rejects, Relaxed);
        self.batches_acked.fetch_add(1, Relaxed);
    }

    pub(crate) fn sink_error(&self) {
        self.sink_errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn udp_drop(&self) {
        self.udp_dropped.fetch_add(1, Relaxed);
    }

    pub(crate) fn queue(&self, depth: usize, capacity: usize) {
        self.queue_depth.store(depth as u64, Relaxed);
        self.queue_capacity.store(capacity as u64, Relaxed);
    }

    pub(crate) fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Relaxed);
        self.connections_total.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Relaxed);
    }

    pub(crate) fn tls_failure(&self) {
        self.tls_failures.fetch_add(1, Relaxed);
    }

    pub fn connection_refused(&self) {
        self.conns_refused.fetch_add(1, Relaxed);
    }

    pub fn connection_evicted(&self) {
        self.conns_evicted.fetch_add(1, Relaxed);
    }

    pub fn connection_timed_out(&self) {
        self.conns_timed_out.fetch_add(1, Relaxed);
    }

    pub fn budget_refusal(&self) {
        self.budget_refused.fetch_add(1, Relaxed);
    }

    pub(crate) fn duplicate(&self, n: u64) {
        self.duplicates.fetch_add(n, Relaxed);
    }

    /// Counts an accepted connection (for accept loops outside this crate).
    pub fn opened(&self) {
        self.connection_opened();
    }

    pub fn closed(&self) {
        self.connection_closed();
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let last = self.last_event_ms.load(Relaxed);
        MetricsSnapshot {
            name: self.name.to_string(),
            kind: self.kind,
            bytes_received: self.bytes.load(Relaxed),
            messages_received: self.messages.load(Relaxed),
            events_received: self.events.load(Relaxed),
            rejects: self.rejects.load(Relaxed),
            events_acked: self.events_acked.load(Relaxed),
            rejects_acked: self.rejects_acked.load(Relaxed),
            batches_acked: self.batches_acked.load(Relaxed),
            sink_errors: self.sink_errors.load(Relaxed),
            udp_dropped: self.udp_dropped.load(Relaxed),
            queue_depth: self.queue_depth.load(Relaxed),
            queue_capacity: self.queue_capacity.load(Relaxed),
            connections_open: self.connections_open.load(Relaxed),
            connections_total: self.connections_total.load(Relaxed),
            tls_handshake_failures: self.tls_failures.load(Relaxed),
            connections_refused: self.conns_refused.load(Relaxed),
            connections_evicted: self.conns_evicted.load(Relaxed),
            connections_timed_out: self.conns_timed_out.load(Relaxed),
            budget_refused: self.budget_refused.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            last_event_unix_ms: (last != i64::MIN).then_some(last),
            netflow_templates_held: self.templates_held.load(Relaxed),
            netflow_templates_dropped: self.templates_dropped.load(Relaxed),
        }
    }
}

/// Every listener's metrics, for `/metrics` and health.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    listeners: Arc<Mutex<Vec<Arc<ListenerMetrics>>>>,
    budget: Arc<Mutex<Option<Arc<MemoryBudget>>>>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    pub fn register(&self, m: Arc<ListenerMetrics>) {
        if let Ok(mut l) = self.listeners.lock() {
            l.push(m);
        }
    }

    /// The ingest memory budget, shown as gauges beside the listeners.
    pub fn set_budget(&self, b: Arc<MemoryBudget>) {
        if let Ok(mut g) = self.budget.lock() {
            *g = Some(b);
        }
    }

    pub fn budget(&self) -> Option<Arc<MemoryBudget>> {
        self.budget.lock().ok().and_then(|g| g.clone())
    }

    pub fn snapshots(&self) -> Vec<MetricsSnapshot> {
        self.listeners
            .lock()
            .map(|l| l.iter().map(|m| m.snapshot()).collect())
            .unwrap_or_default()
    }

    /// The Prometheus text exposition format, one series per listener.
    pub fn render_prometheus(&self) -> String {
        let snaps = self.snapshots();
        let mut out = String::new();
        type Get = fn(&MetricsSnapshot) -> Option<f64>;
        let series: [(&str, &str, &str, Get); 19] = [
            ("bytes_received_total", "counter", "Bytes received.", |s| {
                Some(s.bytes_received as f64)
            }),
            (
                "messages_received_total",
                "counter",
                "Datagrams, frames, documents or file chunks received.",
                |s| Some(s.messages_received as f64),
            ),
            ("events_received_total", "counter", "Events decoded.", |s| {
                Some(s.events_received as f64)
            }),
            (
                "rejects_total",
                "counter",
                "Records that could not be decoded.",
                |s| Some(s.rejects as f64),
            ),
            (
                "events_acked_total",
                "counter",
                "Events made durable by the store.",
                |s| Some(s.events_acked as f64),
            ),
            (
                "batches_acked_total",
                "counter",
                "Batches made durable by the store.",
                |s| Some(s.batches_acked as f64),
            ),
            (
                "sink_errors_total",
                "counter",
                "Batches the store failed to make durable.",
                |s| Some(s.sink_errors as f64),
            ),
            (
                "udp_dropped_total",
                "counter",
                "Datagrams dropped because the queue was full.",
                |s| Some(s.udp_dropped as f64),
            ),
            (
                "queue_depth",
                "gauge",
                "Datagrams waiting for the decoder.",
                |s| Some(s.queue_depth as f64),
            ),
            (
                "queue_capacity",
                "gauge",
                "Capacity of the datagram queue.",
                |s| Some(s.queue_capacity as f64),
            ),
            ("connections_open", "gauge", "Open connections.", |s| {
                Some(s.connections_open as f64)
            }),
            (
                "connections_total",
                "counter",
                "Connections accepted.",
                |s| Some(s.connections_total as f64),
            ),
            (
                "tls_handshake_failures_total",
                "counter",
                "Failed TLS handshakes.",
                |s| Some(s.tls_handshake_failures as f64),
            ),
            (
                "connections_refused_total",
                "counter",
                "Connections closed at once (per-address limit, or every slot busy).",
                |s| Some(s.connections_refused as f64),
            ),
            (
                "connections_evicted_total",
                "counter",
                "Idle connections closed to make room for new ones.",
                |s| Some(s.connections_evicted as f64),
            ),
            (
                "connections_timed_out_total",
                "counter",
                "Connections closed by an idle, header, body or handshake timeout.",
                |s| Some(s.connections_timed_out as f64),
            ),
            (
                "budget_refused_total",
                "counter",
                "Requests refused, datagrams dropped or reads held back by the ingest memory budget.",
                |s| Some(s.budget_refused as f64),
            ),
            (
                "bulk_duplicates_total",
                "counter",
                "Bulk items whose _id was already stored.",
                |s| Some(s.duplicates as f64),
            ),
            (
                "last_event_timestamp_seconds",
                "gauge",
                "Time of the last decoded event.",
                |s| s.last_event_unix_ms.map(|ms| ms as f64 / 1000.0),
            ),
        ];
        if let Some(b) = self.budget() {
            for (name, kind, help, v) in [
                (
                    "inflight_bytes",
                    "gauge",
                    "Bytes received and not yet durable (ingest.inflight_mib bounds it).",
                    b.used() as f64,
                ),
                (
                    "inflight_limit_bytes",
                    "gauge",
                    "The ingest memory budget (ingest.inflight_mib).",
                    b.limit() as f64,
                ),
                (
                    "inflight_peak_bytes",
                    "gauge",
                    "Most bytes in flight at once since start.",
                    b.peak() as f64,
                ),
                (
                    "inflight_refused_total",
                    "counter",
                    "Reservations the ingest memory budget refused.",
                    b.refused() as f64,
                ),
            ] {
                let _ = writeln!(out, "# HELP taishi_ingest_{name} {help}");
                let _ = writeln!(out, "# TYPE taishi_ingest_{name} {kind}");
                let _ = writeln!(out, "taishi_ingest_{name} {v}");
            }
        }
        for (name, kind, help, get) in series {
            let _ = writeln!(out, "# HELP taishi_ingest_{name} {help}");
            let _ = writeln!(out, "# TYPE taishi_ingest_{name} {kind}");
            for s in &snaps {
                if let Some(v) = get(s) {
                    let _ = writeln!(
                        out,
                        "taishi_ingest_{name}{{listener=\"{}\",kind=\"{}\"}} {v}",
                        escape_label(&s.name),
                        s.kind
                    );
                }
            }
        }
        let netflow: Vec<&MetricsSnapshot> =
            snaps.iter().filter(|s| s.kind == "netflow-udp").collect();
        for (name, kind, help, get) in [
            (
                "netflow_templates",
                "gauge",
                "NetFlow/IPFIX templates held.",
                (|s| s.netflow_templates_held) as fn(&MetricsSnapshot) -> u64,
            ),
            (
                "netflow_templates_dropped_total",
                "counter",
                "NetFlow/IPFIX templates evicted past the cache limits or expired.",
                |s| s.netflow_templates_dropped,
            ),
        ] {
            if netflow.is_empty() {
                break;
            }
            let _ = writeln!(out, "# HELP taishi_ingest_{name} {help}");
            let _ = writeln!(out, "# TYPE taishi_ingest_{name} {kind}");
            for s in &netflow {
                let _ = writeln!(
                    out,
                    "taishi_ingest_{name}{{listener=\"{}\",kind=\"{}\"}} {}",
                    escape_label(&s.name),
                    s.kind,
                    get(s)
                );
            }
        }
        out
    }
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
