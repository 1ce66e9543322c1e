//! The UDP plumbing shared by syslog and NetFlow: a receive task that never
//! waits (datagrams go into a bounded queue, or are dropped and counted when
//! it is full) and a worker that decodes, batches and submits.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::{timeout_at, Instant};

use crate::internal_events::{BytesReceived, DatagramDropped, DropReason, QueueLevel};
use crate::kernel::KernelSocket;
use crate::{
    deliver, Batch, CancellationToken, IngestSink, ListenOptions, ListenerMetrics, Reservation,
    DECODED_FACTOR,
};

/// Binds a UDP socket with the receive buffer asked for (None: the OS
/// default). The buffer must be set before datagrams arrive, which
/// tokio's own `bind` gives no chance to do.
pub(crate) fn bind(addr: SocketAddr, recv_buffer: Option<u32>) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size as usize)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// Turns one datagram into events and rejects.
pub(crate) trait Datagrams: Send + 'static {
    fn decode(
        &mut self,
        peer: SocketAddr,
        source: &Arc<str>,
        payload: &[u8],
        n: u64,
        batch: &mut Batch,
    );
}

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

pub(crate) fn spawn<S: IngestSink, D: Datagrams>(
    socket: UdpSocket,
    mut decoder: D,
    opts: ListenOptions,
    sink: Arc<S>,
    metrics: Arc<ListenerMetrics>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let capacity = opts.udp_queue.max(1);
    let (tx, mut rx) = mpsc::channel::<(SocketAddr, Vec<u8>, Reservation)>(capacity);
    let level = move |depth| QueueLevel { depth, capacity };
    metrics.emit(level(0));
    if let Some(k) = KernelSocket::of(&socket) {
        metrics.watch_socket(k);
    }

    let recv_metrics = metrics.clone();
    let budget = opts.budget.clone();
    let receiver = tokio::spawn(async move {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let (n, peer) = tokio::select! {
                r = socket.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // ICMP errors surface here on some systems; the
                        // socket stays usable.
                        tracing::debug!(error = %e, "udp receive error");
                        continue;
                    }
                },
                _ = shutdown.cancelled() => break,
            };
            recv_metrics.emit(BytesReceived {
                bytes: n,
                messages: 1,
            });
            // The datagram and the events it becomes count against the
            // ingest memory budget until their batch is durable; when the
            // budget is spent it is dropped and counted, like a full queue.
            let Some(held) = budget.try_reserve(n * (1 + DECODED_FACTOR)) else {
                recv_metrics.emit(DatagramDropped {
                    reason: DropReason::Budget,
                });
                continue;
            };
            let payload = buf.get(..n).unwrap_or_default().to_vec();
            match tx.try_send((peer, payload, held)) {
                Ok(()) => recv_metrics.emit(level(capacity - tx.capacity())),
                Err(TrySendError::Full(_)) => {
                    recv_metrics.emit(DatagramDropped {
                        reason: DropReason::QueueFull,
                    });
                    recv_metrics.emit(level(capacity));
                }
                Err(TrySendError::Closed(_)) => break,
            }
        }
    });

    let worker = tokio::spawn(async move {
        let mut names: HashMap<SocketAddr, Arc<str>> = HashMap::new();
        let mut batch = Batch::new(opts.name.clone());
        let mut seq = 0u64;
        let mut decode_one = |peer: SocketAddr, payload: &[u8], batch: &mut Batch| {
            if names.len() > 4096 {
                names.clear();
            }
            let source = names
                .entry(peer)
                .or_insert_with(|| Arc::from(peer.to_string()))
                .clone();
            seq += 1;
            decoder.decode(peer, &source, payload, seq, batch);
        };
        // The sender side closes after shutdown; what is queued is still
        // decoded and submitted.
        let mut held: Vec<Reservation> = Vec::new();
        while let Some((peer, payload, r)) = rx.recv().await {
            let mut bytes = payload.len();
            held.push(r);
            decode_one(peer, &payload, &mut batch);
            let deadline = Instant::now() + opts.linger;
            while batch.len() < opts.max_batch && bytes < opts.max_batch_bytes {
                match timeout_at(deadline, rx.recv()).await {
                    Ok(Some((peer, payload, r))) => {
                        bytes += payload.len();
                        held.push(r);
                        decode_one(peer, &payload, &mut batch);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            metrics.emit(level(rx.len()));
            if !batch.is_empty() {
                // A failed batch cannot be given back to a UDP sender: it
                // is counted as a sink error and the listener goes on.
                let _ = deliver(&*sink, &metrics, batch.take()).await;
            }
            held.clear();
            metrics.emit(level(rx.len()));
        }
    });

    tokio::spawn(async move {
        let _ = receiver.await;
        let _ = worker.await;
    })
}
