//! Forwarding the audit trail to an outside collector (`[audit.forward]`):
//! every record is queued after it is appended and sent by one task, as RFC
//! 5424 syslog or CEF (rendered by `taishi_audit::forward`), over UDP or TCP.
//!
//! The request path only ever does a `try_send` onto a bounded queue: a slow
//! or absent collector costs dropped (and counted) forwards, never a slower
//! answer. The trail itself stays complete on disk either way.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use taishi_audit::{Lang, Record};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// `[audit]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AuditSection {
    /// `[audit.forward]`: send every new record to a collector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<ForwardConfig>,
}

impl AuditSection {
    /// What `taishi config check` says about `[audit]`.
    pub fn problems(&self) -> Vec<String> {
        let Some(f) = &self.forward else {
            return Vec::new();
        };
        let mut p = Vec::new();
        if let Err(e) = Target::parse(&f.address) {
            p.push(e.to_string());
        }
        if !(1..=1_000_000).contains(&f.queue) {
            p.push("audit.forward.queue: between 1 and 1000000".into());
        }
        p
    }
}

/// `[audit.forward]`.
///
/// The address is not checked against `[egress]`: that guard keeps
/// API-supplied URLs (feeds, webhooks) off the internal network, while a
/// collector is set by the operator in the config file and is usually on
/// exactly such a private network.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ForwardConfig {
    /// `udp://host:port` or `tcp://host:port`.
    pub address: String,
    /// `syslog` (RFC 5424; octet-counted on TCP, RFC 6587) or `cef` (one
    /// line per record).
    pub format: ForwardFormat,
    /// Language of the action labels and summaries sent.
    pub lang: Lang,
    /// Records waiting to be sent at most; beyond it new ones are dropped
    /// and counted (`taishi_audit_forward_dropped_total`).
    pub queue: usize,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardConfig {
            address: String::new(),
            format: ForwardFormat::Syslog,
            lang: Lang::Zh,
            queue: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardFormat {
    #[default]
    Syslog,
    Cef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Udp,
    Tcp,
}

/// Where records go: the protocol and `host:port` (resolved at each
/// connection, so a collector that moves is followed).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    proto: Proto,
    host_port: String,
}

#[derive(Debug, thiserror::Error)]
#[error("audit.forward.address: `{0}` is not udp://host:port or tcp://host:port")]
pub struct BadAddress(String);

impl Target {
    fn parse(s: &str) -> Result<Target, BadAddress> {
        let bad = || BadAddress(s.to_string());
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let proto = match scheme.to_ascii_lowercase().as_str() {
            "udp" => Proto::Udp,
            "tcp" => Proto::Tcp,
            _ => return Err(bad()),
        };
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let host_ok = !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']);
        match port.parse::<u16>() {
            Ok(p) if p > 0 && host_ok => Ok(Target {
                proto,
                host_port: rest.to_string(),
            }),
            _ => Err(bad()),
        }
    }
}

/// The forwarder's counters (`/metrics`).
#[derive(Default)]
struct Stats {
    sent: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
    connected: AtomicBool,
}

/// The request path's end of the forwarding queue; a no-op when
/// `[audit.forward]` is not configured.
#[derive(Default)]
pub struct Forwarder {
    tx: Option<mpsc::Sender<Record>>,
    stats: Arc<Stats>,
}

/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A collector that takes longer to accept a TCP write is treated as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest UDP payload; a longer record (large settings before/after) is cut.
const UDP_MAX: usize = 65_507;

impl Forwarder {
    /// Starts the sending task; it stops when `cancel` fires, after a last
    /// short attempt to send what is queued.
    pub fn start(
        cfg: &ForwardConfig,
        cancel: CancellationToken,
    ) -> Result<(Forwarder, tokio::task::JoinHandle<()>), BadAddress> {
        let target = Target::parse(&cfg.address)?;
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(run(target, cfg.format, cfg.lang, rx, stats.clone(), cancel));
        Ok((
            Forwarder {
                tx: Some(tx),
                stats,
            },
            task,
        ))
    }

    /// Queues a record; never waits. A full queue drops it (counted).
    pub fn send(&self, r: &Record) {
        if let Some(tx) = &self.tx {
            if tx.try_send(r.clone()).is_err() {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The forwarder's series in the Prometheus text format (empty when off).
    pub fn prometheus(&self) -> String {
        let Some(tx) = &self.tx else {
            return String::new();
        };
        let s = &self.stats;
        let queued = tx.max_capacity() - tx.capacity();
        format!(
            "# HELP taishi_audit_forward_sent_total Audit records sent to the collector.\n\
             # TYPE taishi_audit_forward_sent_total counter\n\
             taishi_audit_forward_sent_total {}\n\
             # HELP taishi_audit_forward_dropped_total Audit records not forwarded because the queue was full (they stay in the trail).\n\
             # TYPE taishi_audit_forward_dropped_total counter\n\
             taishi_audit_forward_dropped_total {}\n\
             # HELP taishi_audit_forward_errors_total Failed connections and sends to the collector.\n\
             # TYPE taishi_audit_forward_errors_total counter\n\
             taishi_audit_forward_errors_total {}\n\
             # HELP taishi_audit_forward_queued Audit records waiting to be forwarded.\n\
             # TYPE taishi_audit_forward_queued gauge\n\
             taishi_audit_forward_queued {queued}\n\
             # HELP taishi_audit_forward_connected Whether the collector connection is up (1) or being retried (0).\n\
             # TYPE taishi_audit_forward_connected gauge\n\
             taishi_audit_forward_connected {}\n",
            s.sent.load(Ordering::Relaxed),
            s.dropped.load(Ordering::Relaxed),
            s.errors.load(Ordering::Relaxed),
            u8::from(s.connected.load(Ordering::Relaxed)),
        )
    }
}

/// The bytes sent for one record.
fn frame(r: &Record, format: ForwardFormat, lang: Lang, proto: Proto) -> Vec<u8> {
    use taishi_audit::forward;
    let mut b = match (format, proto) {
        (ForwardFormat::Syslog, Proto::Tcp) => {
            forward::octet_counted(&forward::to_syslog(r, local_hostname(), lang)).into_bytes()
        }
        (ForwardFormat::Syslog, Proto::Udp) => {
            forward::to_syslog(r, local_hostname(), lang).into_bytes()
        }
        (ForwardFormat::Cef, _) => {
            let mut l = forward::to_cef(r, env!("CARGO_PKG_VERSION"), lang).into_bytes();
            if proto == Proto::Tcp {
                l.push(b'\n');
            }
            l
        }
    };
    if proto == Proto::Udp {
        b.truncate(UDP_MAX);
    }
    b
}

fn local_hostname() -> &'static str {
    taishi_alert::output::local_hostname()
}

enum Link {
    Udp(tokio::net::UdpSocket),
    Tcp(tokio::net::TcpStream),
}

impl Link {
    async fn open(t: &Target) -> std::io::Result<Link> {
        let connect = async {
            match t.proto {
                Proto::Tcp => Ok(Link::Tcp(
                    tokio::net::TcpStream::connect(t.host_port.as_str()).await?,
                )),
                Proto::Udp => {
                    let addr = tokio::net::lookup_host(t.host_port.as_str())
                        .await?
                        .next()
                        .ok_or_else(|| std::io::Error::other("the name has no address"))?;
                    let bind = if addr.is_ipv4() {
                        "0.0.0.0:0"
                    } else {
                        "[::]:0"
                    };
                    let s = tokio::net::UdpSocket::bind(bind).await?;
                    s.connect(addr).await?;
                    Ok(Link::Udp(s))
                }
            }
        };
        tokio::time::timeout(WRITE_TIMEOUT, connect)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connecting"))?
    }

    async fn send(&mut self, b: &[u8]) -> std::io::Result<()> {
        let write = async {
            match self {
                Link::Udp(s) => s.send(b).await.map(|_| ()),
                Link::Tcp(s) => s.write_all(b).await,
            }
        };
        tokio::time::timeout(WRITE_TIMEOUT, write)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "sending"))?
    }
}

async fn run(
    target: Target,
    format: ForwardFormat,
    lang: Lang,
    mut rx: mpsc::Receiver<Record>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    // A record whose send failed is sent again after the reconnection.
    let mut pending: Option<Vec<u8>> = None;
    let mut backoff = Duration::from_secs(1);
    let mut conn: Option<Link> = None;
    loop {
        if conn.is_none() {
            match Link::open(&target).await {
                Ok(l) => {
                    stats.connected.store(true, Ordering::Relaxed);
                    backoff = Duration::from_secs(1);
                    conn = Some(l);
                }
                Err(e) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(address = %target.host_port, error = %e, retry_in = ?backoff,
                        "audit forwarding: cannot connect to the collector");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = cancel.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let bytes = match pending.take() {
            Some(b) => b,
            None => tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => frame(&r, format, lang, target.proto),
                    None => return,
                },
                _ = cancel.cancelled() => {
                    flush(c, &mut rx, format, lang, target.proto, &stats).await;
                    return;
                }
            },
        };
        match c.send(&bytes).await {
            Ok(()) => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                stats.connected.store(false, Ordering::Relaxed);
                tracing::warn!(address = %target.host_port, error = %e,
                    "audit forwarding: send failed; reconnecting");
                pending = Some(bytes);
                conn = None;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = cancel.cancelled() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// At shutdown: what is already queued gets two seconds to go out.
async fn flush(
    c: &mut Link,
    rx: &mut mpsc::Receiver<Record>,
    format: ForwardFormat,
    lang: Lang,
    proto: Proto,
    stats: &Stats,
) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(r) = rx.try_recv() {
            if c.send(&frame(&r, format, lang, proto)).await.is_err() {
                break;
            }
            stats.sent.fetch_add(1, Ordering::Relaxed);
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let t = Target::parse("udp://127.0.0.1:514").unwrap();
        assert_eq!(t.proto, Proto::Udp);
        assert_eq!(
            Target::parse("tcp://collector.example:6514").unwrap().proto,
            Proto::Tcp
        );
        assert!(Target::parse("tcp://[::1]:514").is_ok());
        for bad in [
            "collector:514",
            "http://c:514",
            "tcp://c",
            "tcp://:514",
            "udp://c:0",
            "udp://c:99999",
            "tcp://user@c:514",
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(e.contains("audit.forward.address"), "{bad}: {e}");
        }
    }
}
