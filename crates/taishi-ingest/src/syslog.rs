//! Syslog listeners: UDP (RFC 5426, one message per datagram), TCP (RFC
//! 6587: octet counting or newline framing, detected per connection) and
//! TLS (RFC 5425). CEF and LEEF carried in syslog are decoded as such. The
//! source named in rejects is the peer address, which every event also
//! carries as `log.source.address`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use taishi_event::{DecodeContext, Decoder, Format, Location, Reject, Sink};
use tokio::net::{TcpListener, TcpSocket};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::internal_events::{ConnectionClosed, ConnectionOpened, TlsHandshakeFailed};
use crate::stream::{read_stream, StreamShared};
use crate::udp::{self, Datagrams};
use crate::{
    Batch, CancellationToken, ConnLimits, Conns, IngestSink, ListenOptions, ListenerMetrics,
    Running,
};

/// The field naming the sender of a network message (as Filebeat's
/// syslog, tcp and udp inputs set it).
pub const SOURCE_ADDRESS_FIELD: &str = "log.source.address";

/// Decodes one message in the listener's format. For syslog, a message
/// whose text is CEF or LEEF goes to that decoder (appliances send both
/// over the same port); if that fails it is still taken as plain syslog.
pub(crate) struct MessageParser {
    format: Format,
    other: Option<Box<dyn Decoder>>,
}

impl MessageParser {
    pub(crate) fn new(format: Format) -> Self {
        MessageParser {
            format,
            other: (format != Format::Syslog).then(|| taishi_decode::new_decoder(format)),
        }
    }

    pub(crate) fn decode(
        &mut self,
        msg: &[u8],
        ctx: &DecodeContext,
        loc: Location,
        peer: &Arc<str>,
        batch: &mut Batch,
    ) {
        let before = batch.events.len();
        match &mut self.other {
            None => {
                let parsed = match embedded(msg) {
                    Some(f) => {
                        let mut c = ctx.clone();
                        c.format = f;
                        let r = if f == Format::Cef {
                            taishi_format_cef::parse_cef_line(msg, &c, loc)
                        } else {
                            taishi_format_cef::parse_leef_line(msg, &c, loc)
                        };
                        match r {
                            Ok(ev) => Ok(ev),
                            Err(_) => taishi_format_syslog::parse_line(msg, ctx, loc),
                        }
                    }
                    None => taishi_format_syslog::parse_line(msg, ctx, loc),
                };
                match parsed {
                    Ok(ev) => batch.event(ev),
                    Err(r) => batch.reject(r),
                }
            }
            Some(d) => {
                let mut c = ctx.clone();
                c.format = self.format;
                c.line_base = loc.line.unwrap_or(1);
                c.offset_base = loc.offset.unwrap_or(0);
                d.decode(msg, &c, batch);
            }
        }
        for ev in batch.events.get_mut(before..).unwrap_or_default() {
            ev.push(SOURCE_ADDRESS_FIELD, &**peer);
        }
    }
}

/// `CEF:<digits>|` or `LEEF:1.0|`/`LEEF:2.0|` at the start of the message
/// or after a space (behind a syslog header).
fn embedded(msg: &[u8]) -> Option<Format> {
    let at_word = |i: usize| i == 0 || msg.get(i - 1) == Some(&b' ');
    if let Some(i) = memchr::memmem::find(msg, b"CEF:") {
        let rest = msg.get(i + 4..).unwrap_or_default();
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if at_word(i) && digits > 0 && rest.get(digits) == Some(&b'|') {
            return Some(Format::Cef);
        }
    }
    if let Some(i) = memchr::memmem::find(msg, b"LEEF:") {
        let rest = msg.get(i + 5..).unwrap_or_default();
        if at_word(i) && (rest.starts_with(b"1.0|") || rest.starts_with(b"2.0|")) {
            return Some(Format::Leef);
        }
    }
    None
}

struct SyslogDatagrams {
    parser: MessageParser,
    format: Format,
    default_tz: chrono::FixedOffset,
}

impl Datagrams for SyslogDatagrams {
    fn decode(
        &mut self,
        _peer: SocketAddr,
        source: &Arc<str>,
        payload: &[u8],
        n: u64,
        batch: &mut Batch,
    ) {
        let mut ctx = DecodeContext::new(source.clone(), self.format);
        ctx.default_tz = self.default_tz;
        let mut msg = payload;
        // Senders often end the datagram with a newline or NUL; RFC 5426
        // puts one message in each datagram, so interior newlines stay.
        while let [rest @ .., b'\n' | b'\r' | b'\0'] = msg {
            msg = rest;
        }
        let loc = Location {
            line: None,
            offset: Some(0),
            record: Some(n),
        };
        if msg.iter().all(u8::is_ascii_whitespace) {
            batch.reject(Reject::new(&ctx, loc, "empty datagram").raw(payload));
            return;
        }
        self.parser.decode(msg, &ctx, loc, source, batch);
    }
}

/// Binds `addr` and receives syslog datagrams until `shutdown`.
/// `format` is [`Format::Syslog`] for syslog (with CEF/LEEF inside it
/// recognised), or another line format sent one record per datagram.
pub async fn udp<S: IngestSink>(
    addr: SocketAddr,
    format: Format,
    opts: ListenOptions,
    sink: Arc<S>,
    shutdown: CancellationToken,
) -> std::io::Result<Running> {
    let socket = udp::bind(addr, opts.recv_buffer)?;
    let local_addr = socket.local_addr()?;
    let metrics = Arc::new(ListenerMetrics::new(opts.name.clone(), "syslog-udp"));
    let decoder = SyslogDatagrams {
        parser: MessageParser::new(format),
        format,
        default_tz: opts.default_tz,
    };
    let name = opts.name.clone();
    let task = udp::spawn(socket, decoder, opts, sink, metrics.clone(), shutdown);
    Ok(Running {
        name,
        local_addr: Some(local_addr),
        metrics,
        task,
    })
}

async fn bind_tcp(addr: SocketAddr, opts: &ListenOptions) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if let Some(size) = opts.recv_buffer {
        // Set on the listening socket so accepted sockets inherit it
        // before the handshake fixes the window scale.
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Binds `addr` and receives syslog over TCP until `shutdown`; each
/// connection is framed by octet counting or newlines, whichever its first
/// bytes show.
pub async fn tcp<S: IngestSink>(
    addr: SocketAddr,
    format: Format,
    opts: ListenOptions,
    sink: Arc<S>,
    shutdown: CancellationToken,
) -> std::io::Result<Running> {
    serve_stream(addr, format, None, opts, sink, shutdown, "syslog-tcp").await
}

/// Binds `addr` and receives syslog over TLS (RFC 5425) until `shutdown`.
/// Build `tls` with [`tls_server_config`].
pub async fn tls<S: IngestSink>(
    addr: SocketAddr,
    format: Format,
    tls: Arc<rustls::ServerConfig>,
    opts: ListenOptions,
    sink: Arc<S>,
    shutdown: CancellationToken,
) -> std::io::Result<Running> {
    serve_stream(addr, format, Some(tls), opts, sink, shutdown, "syslog-tls").await
}

pub(crate) async fn serve_stream<S: IngestSink>(
    addr: SocketAddr,
    format: Format,
    tls: Option<Arc<rustls::ServerConfig>>,
    opts: ListenOptions,
    sink: Arc<S>,
    shutdown: CancellationToken,
    kind: &'static str,
) -> std::io::Result<Running> {
    let listener = bind_tcp(addr, &opts).await?;
    let local_addr = listener.local_addr()?;
    let metrics = Arc::new(ListenerMetrics::new(opts.name.clone(), kind));
    let name = opts.name.clone();
    let conns = Conns::new(
        ConnLimits {
            max: opts.max_connections,
            per_ip: opts.max_connections_per_ip,
        },
        metrics.clone(),
    );
    let handshake_timeout = opts.handshake_timeout;
    let shared = Arc::new(StreamShared {
        sink,
        metrics: metrics.clone(),
        opts,
        format,
    });
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let task = tokio::spawn(async move {
        let mut conns_tasks = tokio::task::JoinSet::new();
        loop {
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = shutdown.cancelled() => break,
            };
            // Accepting always and closing what is over a limit (rather
            // than leaving it in the backlog) keeps idle connections from
            // one address from locking every other sender out.
            let guard = match conns.admit(peer.ip()) {
                Ok(g) => g,
                Err(_) => {
                    // Counted and logged by `admit`.
                    drop(stream);
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let shared = shared.clone();
            let shutdown = shutdown.clone();
            let acceptor = acceptor.clone();
            while conns_tasks.try_join_next().is_some() {}
            conns_tasks.spawn(async move {
                shared.metrics.emit(ConnectionOpened);
                match acceptor {
                    None => read_stream(stream, peer, &shared, &shutdown, Some(&guard)).await,
                    Some(acc) => {
                        let hs = tokio::select! {
                            r = tokio::time::timeout(handshake_timeout, acc.accept(stream)) => Some(r),
                            _ = guard.evicted.cancelled() => None,
                        };
                        match hs {
                            Some(Ok(Ok(tls))) => {
                                guard.activity.touch();
                                read_stream(tls, peer, &shared, &shutdown, Some(&guard)).await
                            }
                            Some(Ok(Err(e))) => shared.metrics.emit(TlsHandshakeFailed {
                                peer,
                                error: Some(&e),
                            }),
                            Some(Err(_)) => shared.metrics.emit(TlsHandshakeFailed {
                                peer,
                                error: None,
                            }),
                            None => {}
                        }
                    }
                }
                drop(guard);
                shared.metrics.emit(ConnectionClosed);
            });
        }
        // Connections flush what they hold when they see the shutdown.
        while conns_tasks.join_next().await.is_some() {}
    });
    Ok(Running {
        name,
        local_addr: Some(local_addr),
        metrics,
        task,
    })
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("certificate chain: {0}")]
    Certificates(String),
    #[error("private key: {0}")]
    Key(String),
    #[error("client CA certificates: {0}")]
    ClientCa(String),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// A TLS server configuration from PEM: the certificate chain (leaf
/// first), its private key (PKCS#8, PKCS#1 or SEC1), and optionally the CA
/// certificates that client certificates must chain to (mutual TLS, as RFC
/// 5425 recommends for authenticating senders). Uses the ring provider.
pub fn tls_server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: Option<&[u8]>,
) -> Result<Arc<rustls::ServerConfig>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Certificates(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsConfigError::Certificates(
            "no PEM certificate found".into(),
        ));
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsConfigError::Key(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca) {
                let cert = cert.map_err(|e| TlsConfigError::ClientCa(e.to_string()))?;
                roots.add(cert)?;
            }
            if roots.is_empty() {
                return Err(TlsConfigError::ClientCa("no PEM certificate found".into()));
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| TlsConfigError::ClientCa(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(Arc::new(builder.with_single_cert(certs, key)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_cef_and_leef_are_recognised() {
        assert_eq!(
            embedded(b"<13>Jan  1 00:00:00 fw CEF:0|a|b|1|2|n|3|"),
            Some(Format::Cef)
        );
        assert_eq!(embedded(b"CEF:0|a|b|1|2|n|3|"), Some(Format::Cef));
        assert_eq!(
            embedded(b"<13>Jan  1 00:00:00 fw LEEF:2.0|a|b|1|2|"),
            Some(Format::Leef)
        );
        assert_eq!(embedded(b"<13>Jan  1 00:00:00 h app: see xCEF:0|"), None);
        assert_eq!(embedded(b"<13>Jan  1 00:00:00 h app: CEF: none"), None);
    }
}
