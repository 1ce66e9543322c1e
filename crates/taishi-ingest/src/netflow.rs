//! NetFlow v5/v9 and IPFIX collector over UDP. Templates are kept per
//! exporter (address and port) and observation domain by the decoder, for
//! the life of the listener.

use std::net::SocketAddr;
use std::sync::Arc;

use taishi_event::{DecodeContext, Format, Location};
use taishi_format_netflow::{Limits, NetflowDecoder};

use crate::internal_events::TemplateCache;
use crate::udp::{self, Datagrams};
use crate::{CancellationToken, IngestSink, ListenOptions, ListenerMetrics, Running};

/// The metrics kind of NetFlow/IPFIX listeners.
pub const KIND: &str = "netflow-udp";

struct Flows {
    decoder: NetflowDecoder,
    default_tz: chrono::FixedOffset,
    metrics: Arc<ListenerMetrics>,
}

impl Datagrams for Flows {
    fn decode(
        &mut self,
        peer: SocketAddr,
        source: &Arc<str>,
        payload: &[u8],
        n: u64,
        batch: &mut crate::Batch,
    ) {
        let mut ctx = DecodeContext::new(source.clone(), Format::Netflow);
        ctx.default_tz = self.default_tz;
        let loc = Location {
            line: None,
            offset: Some(0),
            record: Some(n),
        };
        self.decoder
            .decode_datagram(peer, payload, loc, &ctx, batch);
        let st = self.decoder.stats();
        self.metrics.emit(TemplateCache {
            held: st.templates_held,
            dropped: st.templates_evicted + st.templates_expired,
        });
    }
}

/// Binds `addr` and collects NetFlow/IPFIX datagrams until `shutdown`.
pub async fn udp<S: IngestSink>(
    addr: SocketAddr,
    opts: ListenOptions,
    sink: Arc<S>,
    shutdown: CancellationToken,
) -> std::io::Result<Running> {
    udp_with_limits(addr, opts, Limits::default(), sink, shutdown).await
}

/// [`udp`] with the template cache's limits given.
pub async fn udp_with_limits<S: IngestSink>(
    addr: SocketAddr,
    opts: ListenOptions,
    limits: Limits,
    sink: Arc<S>,
    shutdown: CancellationToken,
) -> std::io::Result<Running> {
    let socket = udp::bind(addr, opts.recv_buffer)?;
    let local_addr = socket.local_addr()?;
    let metrics = Arc::new(ListenerMetrics::new(opts.name.clone(), KIND));
    let flows = Flows {
        decoder: NetflowDecoder::with_limits(limits),
        default_tz: opts.default_tz,
        metrics: metrics.clone(),
    };
    let name = opts.name.clone();
    let task = udp::spawn(socket, flows, opts, sink, metrics.clone(), shutdown);
    Ok(Running {
        name,
        local_addr: Some(local_addr),
        metrics,
        task,
    })
}
