//! Live ingest listeners for `taishi serve`: syslog over UDP, TCP and TLS
//! (RFC 5426, RFC 6587, RFC 5425), HTTP (NDJSON and any decoder's raw
//! format on `/ingest`, the Elasticsearch `_bulk` API that Vector, Fluent
//! Bit, Logstash and Beats speak), NetFlow v5/v9/IPFIX over UDP, and file
//! tailing with checkpoints.
//!
//! # The contract with the service
//!
//! Every listener decodes what it receives into [`Batch`]es of events and
//! [`Reject`]s and hands them to an [`IngestSink`]. The future returned by
//! [`IngestSink::submit`] resolves when the batch is **durable** (the store
//! committed it), and acknowledgement follows durability:
//!
//! - HTTP answers only after the sink resolved (a transient sink error is a
//!   503, so shippers retry; a rejected batch a 400 or 413, so they do not);
//! - a TCP/TLS connection is not read further while its batch is pending,
//!   so a slow store slows the sender through TCP flow control instead of
//!   dropping anything;
//! - a tailed file is checkpointed only past acknowledged lines;
//! - UDP cannot be slowed: datagrams go through a bounded queue, and those
//!   that find it full are dropped and counted ([`MetricsSnapshot::udp_dropped`]).
//!
//! Each listener owns a [`ListenerMetrics`] that the service exposes on
//! `/metrics` ([`Registry::render_prometheus`]) and in health. Listeners
//! move it only through typed [`internal_events`], each of which writes its
//! log line and its series.
//!
//! # Starting listeners
//!
//! Each `[[listeners]]` entry of `taishi.toml` is a [`ListenerConfig`]; its
//! [`SourceConfig::build`] binds and starts the listener from a
//! [`SourceContext`], so the service never needs to know the kinds.

mod budget;
mod conns;
pub mod dedup;
pub mod http;
pub mod internal_events;
mod kernel;
mod metrics;
pub mod netflow;
mod source;
mod status;
mod stream;
pub mod syslog;
pub mod tail;
pub mod tenancy;
mod udp;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{FixedOffset, Offset};
use taishi_event::{ErrorKind, Event, Kinded, Reject, Sink};

use crate::internal_events::{BatchDecoded, BatchFailed, BatchStored};

pub use budget::{MemoryBudget, Reservation, DECODED_FACTOR};
pub use conns::{Activity, ConnGuard, ConnLimits, Conns, Refused};
pub use metrics::{
    ListenerMetrics, Metric, MetricKind, MetricsSnapshot, Registry, Scope, Series, BATCH_BUCKETS,
    PREFIX,
};
pub use source::{
    BuildError, ListenerConfig, NetflowConfig, Problem, SourceConfig, SourceContext,
    SyslogTcpConfig, SyslogTlsConfig, SyslogUdpConfig, TailSourceConfig, TcpConfig, Timezone,
};
pub use status::{ListenerInfo, ListenerStatus};
pub use tenancy::{OrgBinding, Tenancy};
pub use tokio_util::sync::CancellationToken;

/// What a listener hands the service: events decoded from one piece of
/// input, and the records that could not be decoded.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The listener's configured name (`syslog-udp`, `http`, …).
    pub listener: Arc<str>,
    pub events: Vec<Event>,
    pub rejects: Vec<Reject>,
    /// Who sent it, when the HTTP authentication hook named a principal.
    pub principal: Option<Arc<str>>,
    /// The organisation the sender's credential binds it to; when none,
    /// the pipeline's tenancy decides by listener and sender address.
    pub org: Option<Arc<str>>,
}

impl Batch {
    pub fn new(listener: Arc<str>) -> Self {
        Batch {
            listener,
            ..Default::default()
        }
    }

    /// Events plus rejects.
    pub fn len(&self) -> usize {
        self.events.len() + self.rejects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.rejects.is_empty()
    }

    /// An empty batch for the same listener, leaving this one to be sent.
    fn take(&mut self) -> Batch {
        let fresh = Batch {
            listener: self.listener.clone(),
            principal: self.principal.clone(),
            org: self.org.clone(),
            ..Default::default()
        };
        std::mem::replace(self, fresh)
    }
}

/// Decoders write straight into a batch.
impl Sink for Batch {
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
    fn reject(&mut self, reject: Reject) {
        self.rejects.push(reject);
    }
}

/// Why a batch was not made durable. Nothing of the batch may be assumed
/// stored. A transient one (the store is busy or down): the listener tells
/// its sender (HTTP 503), closes the connection (TCP), retries (tailing) or
/// counts the loss (UDP). A rejected batch is never retried: HTTP answers
/// 4xx, tailing skips it (logged and counted).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// The store is busy or unavailable: the same batch may be stored later
    /// (HTTP 503 with `Retry-After`; tailing retries).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The batch itself cannot be stored: sending it again fails the same
    /// way (HTTP 400; never retried).
    #[error("batch rejected: {0}")]
    Rejected(String),
    /// Rejected for its size (HTTP 413): smaller batches may be stored.
    #[error("batch too large: {0}")]
    TooLarge(String),
    #[error("ingest is shutting down")]
    Closed,
}

impl SinkError {
    /// Whether the sender may send the same batch again.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SinkError::Unavailable(_) | SinkError::Closed => ErrorKind::Transient,
            SinkError::Rejected(_) => ErrorKind::Rejected,
            SinkError::TooLarge(_) => ErrorKind::TooLarge,
        }
    }
}

/// Any error that knows its kind (the store's, for one) becomes the sink
/// error of that kind, so a sink maps with `?` or `map_err(SinkError::from)`.
impl<E: Kinded> From<E> for SinkError {
    fn from(e: E) -> SinkError {
        let msg = e.to_string();
        match e.kind() {
            ErrorKind::Transient => SinkError::Unavailable(msg),
            ErrorKind::Rejected => SinkError::Rejected(msg),
            ErrorKind::TooLarge => SinkError::TooLarge(msg),
        }
    }
}

/// Where listeners deliver their batches. `submit` resolves once the batch
/// is durable; listeners await it before acknowledging the input, so the
/// time the sink takes is the backpressure senders feel.
pub trait IngestSink: Send + Sync + 'static {
    fn submit(&self, batch: Batch) -> impl Future<Output = Result<(), SinkError>> + Send;
}

impl<T: IngestSink> IngestSink for Arc<T> {
    fn submit(&self, batch: Batch) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).submit(batch)
    }
}

/// Batching and limits shared by the socket listeners.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// Listener name: metrics label and [`Batch::listener`].
    pub name: Arc<str>,
    /// A batch is submitted when it holds this many events and rejects…
    pub max_batch: usize,
    /// …or this many bytes of input…
    pub max_batch_bytes: usize,
    /// …or when no more input came for this long.
    pub linger: Duration,
    /// Datagrams waiting for the decoder (UDP only); beyond it they drop.
    pub udp_queue: usize,
    /// Longest message accepted on a stream; longer ones are rejected.
    pub max_message: usize,
    /// Concurrent TCP/TLS connections; at the cap the longest-idle one is
    /// closed to admit a new one.
    pub max_connections: usize,
    /// Concurrent TCP/TLS connections from one source address; further
    /// ones are closed at once.
    pub max_connections_per_ip: usize,
    /// A TCP/TLS connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// How long a client may take to complete the TLS handshake.
    pub handshake_timeout: Duration,
    /// The process-wide ingest memory budget shared by all listeners.
    pub budget: Arc<MemoryBudget>,
    /// Kernel receive buffer for accepted/bound sockets (None: OS default).
    /// A smaller one makes TCP backpressure reach senders sooner; a larger
    /// one lets UDP absorb bursts.
    pub recv_buffer: Option<u32>,
    /// Zone for timestamps that carry none (RFC 3164).
    pub default_tz: FixedOffset,
}

impl ListenOptions {
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        ListenOptions {
            name: name.into(),
            max_batch: 1000,
            max_batch_bytes: 4 << 20,
            linger: Duration::from_millis(100),
            udp_queue: 8192,
            max_message: 1 << 20,
            max_connections: 1024,
            max_connections_per_ip: 256,
            idle_timeout: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(10),
            budget: MemoryBudget::unlimited(),
            recv_buffer: None,
            default_tz: chrono::Utc.fix(),
        }
    }
}

/// A started listener: its bound address, its counters and its task. The
/// task ends after the shared [`CancellationToken`] is cancelled, once what
/// was already received has been submitted.
#[derive(Debug)]
pub struct Running {
    pub name: Arc<str>,
    pub local_addr: Option<SocketAddr>,
    pub metrics: Arc<ListenerMetrics>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Submits a batch and keeps the counters; an error means the batch is not
/// durable.
pub(crate) async fn deliver<S: IngestSink>(
    sink: &S,
    metrics: &ListenerMetrics,
    batch: Batch,
) -> Result<(), SinkError> {
    let (events, rejects) = (batch.events.len() as u64, batch.rejects.len() as u64);
    metrics.emit(BatchDecoded { events, rejects });
    let started = std::time::Instant::now();
    let result = sink.submit(batch).await;
    let elapsed = started.elapsed();
    match &result {
        Ok(()) => metrics.emit(BatchStored {
            events,
            rejects,
            elapsed,
        }),
        Err(error) => metrics.emit(BatchFailed { error, elapsed }),
    }
    result
}
