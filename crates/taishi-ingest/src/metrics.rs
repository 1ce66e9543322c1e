//! Per-listener series, defined once.
//!
//! Every series a listener exposes is one row of [`Series`]: its
//! Prometheus name, type and help. Listeners never touch a counter
//! directly; they emit an [`InternalEvent`](crate::internal_events::InternalEvent),
//! which writes its log line and moves its series in one place. `/metrics`
//! ([`Registry::render_prometheus`]) walks the same table, so a series
//! cannot be counted without being exposed, nor exposed without its
//! HELP and TYPE.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;

use crate::budget::MemoryBudget;
use crate::internal_events::InternalEvent;
use crate::kernel::KernelSocket;

use taishi_event::metrics::escape_label;
/// How Prometheus is told to read a series (one definition for every
/// component's series).
pub use taishi_event::metrics::MetricKind;

/// Which listeners show a series: most apply to every listener, a few
/// only where they can mean something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Every,
    /// UDP listeners (syslog UDP, NetFlow), whose socket the kernel may
    /// drop datagrams for.
    Udp,
    /// NetFlow/IPFIX listeners, which keep a template cache.
    Netflow,
}

/// The definition of one series family.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The name after `taishi_ingest_`.
    pub name: &'static str,
    pub kind: MetricKind,
    pub help: &'static str,
    pub scope: Scope,
}

impl Metric {
    /// The full Prometheus name.
    pub fn full_name(&self) -> String {
        format!("{PREFIX}{}", self.name)
    }
}

/// Every series of the ingest side starts with this.
pub const PREFIX: &str = "taishi_ingest_";

macro_rules! series {
    ($($(#[$doc:meta])* $v:ident => $name:literal, $kind:ident, $scope:ident, $help:literal;)*) => {
        /// One series of a listener. The order is the order of `/metrics`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Series {
            $($(#[$doc])* $v,)*
        }

        impl Series {
            pub const ALL: &'static [Series] = &[$(Series::$v,)*];

            pub const fn metric(self) -> Metric {
                match self {
                    $(Series::$v => Metric {
                        name: $name,
                        kind: MetricKind::$kind,
                        help: $help,
                        scope: Scope::$scope,
                    },)*
                }
            }
        }
    };
}

series! {
    BytesReceived => "bytes_received_total", Counter, Every, "Bytes received.";
    MessagesReceived => "messages_received_total", Counter, Every,
        "Datagrams, frames, documents or file chunks received.";
    EventsReceived => "events_received_total", Counter, Every, "Events decoded.";
    Rejects => "rejects_total", Counter, Every, "Records that could not be decoded.";
    EventsAcked => "events_acked_total", Counter, Every, "Events made durable by the store.";
    RejectsAcked => "rejects_acked_total", Counter, Every,
        "Rejects the store kept aside durably.";
    BatchesAcked => "batches_acked_total", Counter, Every, "Batches made durable by the store.";
    SinkErrors => "sink_errors_total", Counter, Every,
        "Batches the store failed to make durable.";
    UdpDropped => "udp_dropped_total", Counter, Every,
        "Datagrams dropped because the queue was full.";
    QueueDepth => "queue_depth", Gauge, Every, "Datagrams waiting for the decoder.";
    QueueCapacity => "queue_capacity", Gauge, Every, "Capacity of the datagram queue.";
    ConnectionsOpen => "connections_open", Gauge, Every, "Open connections.";
    ConnectionsTotal => "connections_total", Counter, Every, "Connections accepted.";
    TlsHandshakeFailures => "tls_handshake_failures_total", Counter, Every,
        "Failed TLS handshakes.";
    ConnectionsRefused => "connections_refused_total", Counter, Every,
        "Connections closed at once (per-address limit, or every slot busy).";
    ConnectionsEvicted => "connections_evicted_total", Counter, Every,
        "Idle connections closed to make room for new ones.";
    ConnectionsTimedOut => "connections_timed_out_total", Counter, Every,
        "Connections closed by an idle, header, body or handshake timeout.";
    BudgetRefused => "budget_refused_total", Counter, Every,
        "Requests refused, datagrams dropped or reads held back by the ingest memory budget.";
    BulkDuplicates => "bulk_duplicates_total", Counter, Every,
        "Bulk items whose _id was already stored.";
    /// Kept in Unix milliseconds (0: none yet), shown in seconds.
    LastEventTimestamp => "last_event_timestamp_seconds", Gauge, Every,
        "Time of the last decoded event.";
    /// Read from the kernel when shown, not counted here.
    UdpKernelDropped => "udp_kernel_dropped_total", Counter, Udp,
        "Datagrams the kernel dropped because the socket's receive buffer was full.";
    NetflowTemplates => "netflow_templates", Gauge, Netflow, "NetFlow/IPFIX templates held.";
    NetflowTemplatesDropped => "netflow_templates_dropped_total", Counter, Netflow,
        "NetFlow/IPFIX templates evicted past the cache limits or expired.";
    BatchDuration => "batch_duration_seconds", Histogram, Every,
        "Time from handing a batch to the store until it was durable (or failed).";
}

const COUNT: usize = Series::ALL.len();

/// Upper bounds of the batch duration histogram, in seconds: a commit
/// takes milliseconds when the disk keeps up, seconds when it does not.
pub const BATCH_BUCKETS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Per bucket (not cumulative), then the +Inf overflow.
    buckets: [AtomicU64; BATCH_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BATCH_BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(BATCH_BUCKETS.len());
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Relaxed);
        }
        self.sum_micros
            .fetch_add(d.as_micros().min(u64::MAX as u128) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }
}

/// Live counters of one listener. Shared between its tasks and the
/// service; moved by [`ListenerMetrics::emit`], read with
/// [`ListenerMetrics::snapshot`].
#[derive(Debug)]
pub struct ListenerMetrics {
    name: Arc<str>,
    kind: &'static str,
    values: [AtomicU64; COUNT],
    batch_duration: Histogram,
    /// The UDP socket whose kernel drop counter is shown (UDP listeners).
    socket: OnceLock<KernelSocket>,
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
    /// Datagrams the kernel dropped for this listener's socket (its receive
    /// buffer was full). None: not a UDP listener, or the platform does
    /// not tell (Linux does, in /proc/net/udp).
    pub kernel_dropped: Option<u64>,
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
    /// Batches handed to the store (durable or failed).
    pub batches: u64,
}

impl ListenerMetrics {
    pub fn new(name: Arc<str>, kind: &'static str) -> Self {
        ListenerMetrics {
            name,
            kind,
            values: std::array::from_fn(|_| AtomicU64::new(0)),
            batch_duration: Histogram::default(),
            socket: OnceLock::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Records `event`: its log line and its series.
    pub fn emit(&self, event: impl InternalEvent) {
        event.emit(self);
    }

    fn slot(&self, s: Series) -> &AtomicU64 {
        // The array is sized by the same table, so every series has a slot.
        &self.values[s as usize]
    }

    pub(crate) fn add(&self, s: Series, n: u64) {
        self.slot(s).fetch_add(n, Relaxed);
    }

    /// Gauges that go down (open connections) wrap around zero; they are
    /// read back as signed.
    pub(crate) fn sub(&self, s: Series, n: u64) {
        self.slot(s).fetch_sub(n, Relaxed);
    }

    pub(crate) fn set(&self, s: Series, v: u64) {
        self.slot(s).store(v, Relaxed);
    }

    pub(crate) fn observe(&self, d: Duration) {
        self.batch_duration.observe(d);
    }

    fn get(&self, s: Series) -> u64 {
        self.slot(s).load(Relaxed)
    }

    /// Shows the kernel's drop counter of `socket` with this listener.
    pub(crate) fn watch_socket(&self, socket: KernelSocket) {
        let _ = self.socket.set(socket);
    }

    fn kernel_dropped(&self) -> Option<u64> {
        self.socket.get().and_then(KernelSocket::drops)
    }

    /// Whether `scope` applies to this listener.
    fn in_scope(&self, scope: Scope) -> bool {
        match scope {
            Scope::Every => true,
            Scope::Udp => self.socket.get().is_some(),
            Scope::Netflow => self.kind == crate::netflow::KIND,
        }
    }

    /// The value `/metrics` shows for a plain (non-histogram) series; None
    /// when there is nothing to show.
    fn value(&self, s: Series, kernel: Option<u64>) -> Option<f64> {
        match s {
            Series::LastEventTimestamp => {
                let ms = self.get(s);
                (ms != 0).then_some(ms as f64 / 1000.0)
            }
            Series::UdpKernelDropped => kernel.map(|d| d as f64),
            Series::ConnectionsOpen => Some(self.get(s) as i64 as f64),
            Series::BatchDuration => None,
            _ => Some(self.get(s) as f64),
        }
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let last = self.get(Series::LastEventTimestamp);
        MetricsSnapshot {
            name: self.name.to_string(),
            kind: self.kind,
            bytes_received: self.get(Series::BytesReceived),
            messages_received: self.get(Series::MessagesReceived),
            events_received: self.get(Series::EventsReceived),
            rejects: self.get(Series::Rejects),
            events_acked: self.get(Series::EventsAcked),
            rejects_acked: self.get(Series::RejectsAcked),
            batches_acked: self.get(Series::BatchesAcked),
            sink_errors: self.get(Series::SinkErrors),
            udp_dropped: self.get(Series::UdpDropped),
            kernel_dropped: self.kernel_dropped(),
            queue_depth: self.get(Series::QueueDepth),
            queue_capacity: self.get(Series::QueueCapacity),
            connections_open: self.get(Series::ConnectionsOpen) as i64,
            connections_total: self.get(Series::ConnectionsTotal),
            tls_handshake_failures: self.get(Series::TlsHandshakeFailures),
            connections_refused: self.get(Series::ConnectionsRefused),
            connections_evicted: self.get(Series::ConnectionsEvicted),
            connections_timed_out: self.get(Series::ConnectionsTimedOut),
            budget_refused: self.get(Series::BudgetRefused),
            duplicates: self.get(Series::BulkDuplicates),
            last_event_unix_ms: (last != 0).then_some(last as i64),
            netflow_templates_held: self.get(Series::NetflowTemplates),
            netflow_templates_dropped: self.get(Series::NetflowTemplatesDropped),
            batches: self.batch_duration.count.load(Relaxed),
        }
    }
}

/// Process-wide series of the ingest side (the memory budget), shown
/// beside the listeners'.
type BudgetGauge = fn(&MemoryBudget) -> f64;

const BUDGET_SERIES: [(&str, MetricKind, &str, BudgetGauge); 4] = [
    (
        "inflight_bytes",
        MetricKind::Gauge,
        "Bytes received and not yet durable (ingest.inflight_mib bounds it).",
        |b| b.used() as f64,
    ),
    (
        "inflight_limit_bytes",
        MetricKind::Gauge,
        "The ingest memory budget (ingest.inflight_mib).",
        |b| b.limit() as f64,
    ),
    (
        "inflight_peak_bytes",
        MetricKind::Gauge,
        "Most bytes in flight at once since start.",
        |b| b.peak() as f64,
    ),
    (
        "inflight_refused_total",
        MetricKind::Counter,
        "Reservations the ingest memory budget refused.",
        |b| b.refused() as f64,
    ),
];

/// Every listener's metrics, for `/metrics` and health.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    listeners: Arc<Mutex<Vec<Arc<ListenerMetrics>>>>,
    budget: Arc<Mutex<Option<Arc<MemoryBudget>>>>,
    /// The last look at each listener's stored events (its rate).
    rates: crate::status::Rates,
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

    pub(crate) fn rates(&self) -> &crate::status::Rates {
        &self.rates
    }

    fn listeners(&self) -> Vec<Arc<ListenerMetrics>> {
        self.listeners.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn snapshots(&self) -> Vec<MetricsSnapshot> {
        self.listeners().iter().map(|m| m.snapshot()).collect()
    }

    /// The Prometheus text exposition format: every [`Series`] with its
    /// HELP and TYPE, one sample per listener it applies to.
    pub fn render_prometheus(&self) -> String {
        let listeners = self.listeners();
        // The kernel is asked once per listener per scrape.
        let kernel: Vec<Option<u64>> = listeners.iter().map(|m| m.kernel_dropped()).collect();
        let mut out = String::new();
        if let Some(b) = self.budget() {
            for (name, kind, help, get) in BUDGET_SERIES {
                header(&mut out, &format!("{PREFIX}{name}"), kind, help);
                let _ = writeln!(out, "{PREFIX}{name} {}", get(&b));
            }
        }
        for &s in Series::ALL {
            let def = s.metric();
            let shown: Vec<(&Arc<ListenerMetrics>, Option<u64>)> = listeners
                .iter()
                .zip(kernel.iter().copied())
                .filter(|(m, _)| m.in_scope(def.scope))
                .collect();
            // Series of one kind of listener appear only when there is one.
            if def.scope != Scope::Every && shown.is_empty() {
                continue;
            }
            let full = def.full_name();
            header(&mut out, &full, def.kind, def.help);
            for (m, k) in shown {
                let labels = format!("listener=\"{}\",kind=\"{}\"", escape_label(&m.name), m.kind);
                if def.kind == MetricKind::Histogram {
                    render_histogram(&mut out, &full, &labels, &m.batch_duration);
                } else if let Some(v) = m.value(s, k) {
                    let _ = writeln!(out, "{full}{{{labels}}} {v}");
                }
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: MetricKind, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
}

fn render_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let mut cumulative = 0u64;
    for (i, b) in h.buckets.iter().enumerate() {
        cumulative += b.load(Relaxed);
        let le = BATCH_BUCKETS
            .get(i)
            .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
    }
    let sum = h.sum_micros.load(Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count.load(Relaxed));
}
