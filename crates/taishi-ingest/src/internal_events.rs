//! What happens inside a listener, one type per happening.
//!
//! Each type writes its `tracing` line and moves its series
//! ([`Series`]) in one `emit`, so the log and `/metrics` cannot disagree
//! and a new happening is added in one place. Events that can come at
//! line rate (bytes, decoded events, drops) log at `trace`/`debug`;
//! those an operator must see (a batch the store failed) at `warn`.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::conns::Refused;
use crate::metrics::{ListenerMetrics, Series};
use crate::SinkError;

/// One happening inside a listener.
pub trait InternalEvent {
    /// The series `emit` moves. `/metrics` must show each of them (a test
    /// checks every event's list against the rendered text).
    const SERIES: &'static [Series];

    /// Writes the log line and moves the series.
    fn emit(self, m: &ListenerMetrics);
}

/// Input read from a socket, request body or file.
#[derive(Debug, Clone, Copy)]
pub struct BytesReceived {
    pub bytes: usize,
    /// Datagrams, frames, documents or file chunks it held (0 when the
    /// messages are counted as they are cut out of a stream).
    pub messages: u64,
}

impl InternalEvent for BytesReceived {
    const SERIES: &'static [Series] = &[Series::BytesReceived, Series::MessagesReceived];

    fn emit(self, m: &ListenerMetrics) {
        tracing::trace!(listener = %m.name(), bytes = self.bytes, messages = self.messages, "input received");
        m.add(Series::BytesReceived, self.bytes as u64);
        m.add(Series::MessagesReceived, self.messages);
    }
}

/// A batch decoded and about to be handed to the store.
#[derive(Debug, Clone, Copy)]
pub struct BatchDecoded {
    pub events: u64,
    pub rejects: u64,
}

impl InternalEvent for BatchDecoded {
    const SERIES: &'static [Series] = &[
        Series::EventsReceived,
        Series::Rejects,
        Series::LastEventTimestamp,
    ];

    fn emit(self, m: &ListenerMetrics) {
        tracing::trace!(listener = %m.name(), events = self.events, rejects = self.rejects, "batch decoded");
        m.add(Series::EventsReceived, self.events);
        m.add(Series::Rejects, self.rejects);
        if self.events > 0 {
            let now = chrono::Utc::now().timestamp_millis().max(1);
            m.set(Series::LastEventTimestamp, now as u64);
        }
    }
}

/// The store made a batch durable.
#[derive(Debug, Clone, Copy)]
pub struct BatchStored {
    pub events: u64,
    pub rejects: u64,
    pub elapsed: Duration,
}

impl InternalEvent for BatchStored {
    const SERIES: &'static [Series] = &[
        Series::EventsAcked,
        Series::RejectsAcked,
        Series::BatchesAcked,
        Series::BatchDuration,
    ];

    fn emit(self, m: &ListenerMetrics) {
        tracing::trace!(listener = %m.name(), events = self.events, rejects = self.rejects,
            elapsed_ms = self.elapsed.as_millis() as u64, "batch stored");
        m.add(Series::EventsAcked, self.events);
        m.add(Series::RejectsAcked, self.rejects);
        m.add(Series::BatchesAcked, 1);
        m.observe(self.elapsed);
    }
}

/// The store did not make a batch durable; nothing of it may be assumed
/// stored.
#[derive(Debug, Clone, Copy)]
pub struct BatchFailed<'a> {
    pub error: &'a SinkError,
    pub elapsed: Duration,
}

impl InternalEvent for BatchFailed<'_> {
    const SERIES: &'static [Series] = &[Series::SinkErrors, Series::BatchDuration];

    fn emit(self, m: &ListenerMetrics) {
        tracing::warn!(listener = %m.name(), error = %self.error, "batch not stored");
        m.add(Series::SinkErrors, 1);
        m.observe(self.elapsed);
    }
}

/// Why a datagram was dropped before it was decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The queue to the decoder was full.
    QueueFull,
    /// The ingest memory budget was spent (`ingest.inflight_mib`).
    Budget,
}

/// A datagram dropped by the listener (UDP cannot be slowed).
#[derive(Debug, Clone, Copy)]
pub struct DatagramDropped {
    pub reason: DropReason,
}

impl InternalEvent for DatagramDropped {
    const SERIES: &'static [Series] = &[Series::UdpDropped, Series::BudgetRefused];

    fn emit(self, m: &ListenerMetrics) {
        tracing::debug!(listener = %m.name(), reason = ?self.reason, "datagram dropped");
        m.add(Series::UdpDropped, 1);
        if self.reason == DropReason::Budget {
            m.add(Series::BudgetRefused, 1);
        }
    }
}

/// How full the datagram queue is.
#[derive(Debug, Clone, Copy)]
pub struct QueueLevel {
    pub depth: usize,
    pub capacity: usize,
}

impl InternalEvent for QueueLevel {
    const SERIES: &'static [Series] = &[Series::QueueDepth, Series::QueueCapacity];

    fn emit(self, m: &ListenerMetrics) {
        // A gauge: set many times a second, so no log line.
        m.set(Series::QueueDepth, self.depth as u64);
        m.set(Series::QueueCapacity, self.capacity as u64);
    }
}

/// A connection admitted.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionOpened;

impl InternalEvent for ConnectionOpened {
    const SERIES: &'static [Series] = &[Series::ConnectionsOpen, Series::ConnectionsTotal];

    fn emit(self, m: &ListenerMetrics) {
        tracing::trace!(listener = %m.name(), "connection opened");
        m.add(Series::ConnectionsOpen, 1);
        m.add(Series::ConnectionsTotal, 1);
    }
}

/// An admitted connection ended.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionClosed;

impl InternalEvent for ConnectionClosed {
    const SERIES: &'static [Series] = &[Series::ConnectionsOpen];

    fn emit(self, m: &ListenerMetrics) {
        tracing::trace!(listener = %m.name(), "connection closed");
        m.sub(Series::ConnectionsOpen, 1);
    }
}

/// A connection closed at once by the connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionRefused<'a> {
    pub ip: IpAddr,
    pub reason: &'a Refused,
}

impl InternalEvent for ConnectionRefused<'_> {
    const SERIES: &'static [Series] = &[Series::ConnectionsRefused];

    fn emit(self, m: &ListenerMetrics) {
        tracing::debug!(listener = %m.name(), ip = %self.ip, reason = %self.reason, "connection refused");
        m.add(Series::ConnectionsRefused, 1);
    }
}

/// The longest-idle connection closed to admit a new one.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionEvicted;

impl InternalEvent for ConnectionEvicted {
    const SERIES: &'static [Series] = &[Series::ConnectionsEvicted];

    fn emit(self, m: &ListenerMetrics) {
        tracing::debug!(listener = %m.name(), "idle connection evicted for a new one");
        m.add(Series::ConnectionsEvicted, 1);
    }
}

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// Nothing sent for `ingest.tcp_idle_secs`.
    Idle,
    /// HTTP headers or a keep-alive wait (`http.header_timeout_secs`).
    Header,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timeout::Idle => "idle",
            Timeout::Header => "header",
        })
    }
}

/// A connection closed for sending nothing.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionTimedOut {
    pub timeout: Timeout,
}

impl InternalEvent for ConnectionTimedOut {
    const SERIES: &'static [Series] = &[Series::ConnectionsTimedOut];

    fn emit(self, m: &ListenerMetrics) {
        tracing::debug!(listener = %m.name(), timeout = %self.timeout, "connection timed out");
        m.add(Series::ConnectionsTimedOut, 1);
    }
}

/// A TLS handshake that failed, or did not finish in time.
#[derive(Debug)]
pub struct TlsHandshakeFailed<'a> {
    pub peer: std::net::SocketAddr,
    /// None: the handshake timed out (`ingest.tls_handshake_secs`).
    pub error: Option<&'a std::io::Error>,
}

impl InternalEvent for TlsHandshakeFailed<'_> {
    const SERIES: &'static [Series] = &[Series::TlsHandshakeFailures, Series::ConnectionsTimedOut];

    fn emit(self, m: &ListenerMetrics) {
        m.add(Series::TlsHandshakeFailures, 1);
        match self.error {
            Some(e) => {
                tracing::debug!(listener = %m.name(), peer = %self.peer, error = %e, "TLS handshake failed")
            }
            None => {
                tracing::debug!(listener = %m.name(), peer = %self.peer, "TLS handshake timed out");
                m.add(Series::ConnectionsTimedOut, 1);
            }
        }
    }
}

/// What the ingest memory budget refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// An HTTP request answered 429 (budget spent, or every ingest turn
    /// busy past the body timeout).
    Request,
    /// A stream not read further until the budget has room.
    StreamPaused,
}

/// Input refused or held back by the ingest memory budget.
#[derive(Debug, Clone, Copy)]
pub struct BudgetRefused {
    pub what: Refusal,
}

impl InternalEvent for BudgetRefused {
    const SERIES: &'static [Series] = &[Series::BudgetRefused];

    fn emit(self, m: &ListenerMetrics) {
        tracing::debug!(listener = %m.name(), what = ?self.what, "ingest memory budget refused input");
        m.add(Series::BudgetRefused, 1);
    }
}

/// Bulk items not stored again: their `_id` already was.
#[derive(Debug, Clone, Copy)]
pub struct DuplicatesSkipped {
    pub count: u64,
}

impl InternalEvent for DuplicatesSkipped {
    const SERIES: &'static [Series] = &[Series::BulkDuplicates];

    fn emit(self, m: &ListenerMetrics) {
        if self.count > 0 {
            tracing::debug!(listener = %m.name(), count = self.count, "bulk items already stored");
        }
        m.add(Series::BulkDuplicates, self.count);
    }
}

/// The NetFlow/IPFIX template cache after a datagram.
#[derive(Debug, Clone, Copy)]
pub struct TemplateCache {
    pub held: u64,
    /// Evicted past the cache's limits or expired, since start.
    pub dropped: u64,
}

impl InternalEvent for TemplateCache {
    const SERIES: &'static [Series] = &[Series::NetflowTemplates, Series::NetflowTemplatesDropped];

    fn emit(self, m: &ListenerMetrics) {
        // Gauges set per datagram, so no log line.
        m.set(Series::NetflowTemplates, self.held);
        m.set(Series::NetflowTemplatesDropped, self.dropped);
    }
}

/// Series read from outside rather than counted by an event (the kernel's
/// drop counter of a UDP socket).
pub const SAMPLED: &[Series] = &[Series::UdpKernelDropped];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;
    use crate::metrics::{MetricKind, Scope, PREFIX};
    use crate::Registry;

    /// Emits one of every event on `m` and returns the series they claim.
    fn emit_every_event(m: &ListenerMetrics) -> Vec<&'static [Series]> {
        let error = SinkError::Closed;
        let io = std::io::Error::other("handshake");
        let peer: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
        let refused = Refused::Full(1);
        let elapsed = Duration::from_millis(3);
        m.emit(BytesReceived {
            bytes: 10,
            messages: 1,
        });
        m.emit(BatchDecoded {
            events: 1,
            rejects: 1,
        });
        m.emit(BatchStored {
            events: 1,
            rejects: 1,
            elapsed,
        });
        m.emit(BatchFailed {
            error: &error,
            elapsed,
        });
        m.emit(DatagramDropped {
            reason: DropReason::Budget,
        });
        m.emit(QueueLevel {
            depth: 1,
            capacity: 2,
        });
        m.emit(ConnectionOpened);
        m.emit(ConnectionClosed);
        m.emit(ConnectionRefused {
            ip: peer.ip(),
            reason: &refused,
        });
        m.emit(ConnectionEvicted);
        m.emit(ConnectionTimedOut {
            timeout: Timeout::Idle,
        });
        m.emit(TlsHandshakeFailed {
            peer,
            error: Some(&io),
        });
        m.emit(TlsHandshakeFailed { peer, error: None });
        m.emit(BudgetRefused {
            what: Refusal::Request,
        });
        m.emit(DuplicatesSkipped { count: 1 });
        m.emit(TemplateCache {
            held: 1,
            dropped: 1,
        });
        vec![
            BytesReceived::SERIES,
            BatchDecoded::SERIES,
            BatchStored::SERIES,
            BatchFailed::SERIES,
            DatagramDropped::SERIES,
            QueueLevel::SERIES,
            ConnectionOpened::SERIES,
            ConnectionClosed::SERIES,
            ConnectionRefused::SERIES,
            ConnectionEvicted::SERIES,
            ConnectionTimedOut::SERIES,
            TlsHandshakeFailed::SERIES,
            BudgetRefused::SERIES,
            DuplicatesSkipped::SERIES,
            TemplateCache::SERIES,
            SAMPLED,
        ]
    }

    #[test]
    fn every_series_is_moved_by_an_event_and_rendered_with_help_and_type() {
        // A NetFlow listener over a real UDP socket: every scope applies.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let m = Arc::new(ListenerMetrics::new("nf".into(), crate::netflow::KIND));
        if let Some(k) = crate::kernel::KernelSocket::of(&socket) {
            m.watch_socket(k);
        }
        let claimed: HashSet<Series> = emit_every_event(&m)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let all: HashSet<Series> = Series::ALL.iter().copied().collect();
        assert_eq!(
            claimed, all,
            "a series no event moves, or an event moving an undefined one"
        );

        let reg = Registry::new();
        reg.register(m.clone());
        let text = reg.render_prometheus();
        for s in Series::ALL {
            let def = s.metric();
            if def.scope == Scope::Udp && !cfg!(target_os = "linux") {
                continue;
            }
            let name = format!("{PREFIX}{}", def.name);
            assert!(
                text.contains(&format!("# HELP {name} {}\n", def.help)),
                "{name}\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {name} {}\n", def.kind.as_str())),
                "{name}\n{text}"
            );
            let sample = match def.kind {
                MetricKind::Histogram => format!("{name}_count{{listener=\"nf\""),
                _ => format!("{name}{{listener=\"nf\""),
            };
            assert!(text.contains(&sample), "{sample}\n{text}");
        }
        // Two failed handshakes, one of them timed out, and one idle close.
        let snap = m.snapshot();
        assert_eq!(
            (snap.tls_handshake_failures, snap.connections_timed_out),
            (2, 2)
        );
        assert_eq!((snap.connections_open, snap.connections_total), (0, 1));
        assert_eq!((snap.udp_dropped, snap.budget_refused), (1, 2));
    }
}
