//! Listeners start themselves from their configuration.
//!
//! Each `[[listeners]]` entry of `taishi.toml` is one of the config types
//! here, and each implements [`SourceConfig`]: it checks itself (for
//! `taishi config check`) and builds its running listener from a
//! [`SourceContext`] that carries what the service shares with every
//! listener (the sink, the shutdown signal, the limits and memory budget,
//! the metrics registry, where state is kept). The service only walks its
//! configured listeners and calls [`SourceConfig::build`]; a new kind of
//! listener is a new type here, not a new arm in the service.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::FixedOffset;
use serde::{Deserialize, Serialize};
use taishi_event::time::ZoneError;
use taishi_event::Format;

use crate::syslog::TlsConfigError;
use crate::{CancellationToken, IngestSink, ListenOptions, Registry, Running};

/// What the service hands every listener it starts.
#[derive(Debug)]
pub struct SourceContext<S> {
    pub sink: Arc<S>,
    /// Cancelled at shutdown: listeners stop accepting and submit what
    /// they hold.
    pub shutdown: CancellationToken,
    /// Batching, connection limits and the shared memory budget. Each
    /// listener takes a copy and sets its own name (and, for UDP, its
    /// receive buffer).
    pub limits: ListenOptions,
    /// The template cache limits of NetFlow/IPFIX listeners.
    pub netflow: taishi_format_netflow::Limits,
    /// Where each started listener's metrics are registered.
    pub registry: Registry,
    /// Where listeners keep state across restarts (file-tailing
    /// checkpoints go in `<state_dir>/tail/<name>`).
    pub state_dir: PathBuf,
}

impl<S> SourceContext<S> {
    /// The limits under a listener's own name, with its own zone for
    /// zone-less timestamps when it sets one.
    fn options(&self, name: &Arc<str>, tz: Option<&Timezone>) -> ListenOptions {
        let mut o = self.limits.clone();
        o.name = name.clone();
        if let Some(tz) = tz {
            o.default_tz = tz.offset();
        }
        o
    }
}

/// A `timezone` setting: the zone zone-less timestamps (RFC 3164, many
/// Chinese appliances) are read in. Written `+08:00`, `UTC`, `local` (the
/// host's zone when the service starts) or a zone name without daylight
/// saving (`Asia/Shanghai`); kept as written, so `taishi config` prints
/// what the operator wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timezone {
    text: String,
    offset: FixedOffset,
}

impl Timezone {
    pub fn parse(text: &str) -> Result<Self, ZoneError> {
        Ok(Timezone {
            offset: taishi_event::time::parse_zone(text)?,
            text: text.trim().to_string(),
        })
    }

    /// The host's zone, read now: the default, because a collector in
    /// China runs in +08:00 and so do the devices that send to it.
    pub fn local() -> Self {
        Timezone {
            text: "local".into(),
            offset: taishi_event::time::local_offset(),
        }
    }

    pub fn offset(&self) -> FixedOffset {
        self.offset
    }
}

impl Default for Timezone {
    fn default() -> Self {
        Timezone::local()
    }
}

impl Serialize for Timezone {
    fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timezone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timezone::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A problem `taishi config check` reports, under the listener's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key within the listener (`cert`, `paths`, …).
    pub key: &'static str,
    pub message: String,
}

/// Why a listener could not start. Each names the listener and says what
/// to change. The underlying error is part of the message (not a separate
/// source) so that it is printed once, where the sentence needs it.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "listener {name}: cannot listen on {addr}: {error}. Another program may hold the port, \
         or ports below 1024 need privileges: change its `listen` or free the port. \
         / 监听器 {name} 无法监听 {addr}：端口可能已被其他程序占用，或 1024 以下端口需要特权；请修改 `listen` 或释放该端口。"
    )]
    Bind {
        name: Arc<str>,
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error(
        "listener {name}: cannot read {key} {}: {error} / 监听器 {name} 无法读取 {key} 文件 {}",
        path.display(),
        path.display()
    )]
    TlsFile {
        name: Arc<str>,
        key: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "listener {name}: TLS certificate or key: {error} (give a PEM certificate chain and its private key) \
         / 监听器 {name} 的 TLS 证书或私钥无效（请提供 PEM 格式的证书链及其私钥）"
    )]
    Tls {
        name: Arc<str>,
        error: TlsConfigError,
    },
    #[error(
        "listener {name}: format `{format}` {reason} / 监听器 {name} 的格式 `{format}` 不可用于文件跟踪"
    )]
    Format {
        name: Arc<str>,
        format: String,
        reason: &'static str,
    },
    #[error(
        "listener {name}: cannot create the checkpoint folder {}: {error} / 监听器 {name} 无法创建检查点目录 {}",
        path.display(),
        path.display()
    )]
    StateDir {
        name: Arc<str>,
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The configuration of one kind of listener.
pub trait SourceConfig {
    /// The `type` in `taishi.toml`, and the name when none is given.
    const KIND: &'static str;

    /// The configured name, or the kind.
    fn name(&self) -> Arc<str>;

    /// What cannot work, found without starting anything.
    fn check(&self) -> Vec<Problem> {
        Vec::new()
    }

    /// Starts the listener (bound when this resolves) and registers its
    /// metrics in the context's registry.
    fn build<S: IngestSink>(
        &self,
        ctx: &SourceContext<S>,
    ) -> impl Future<Output = Result<Running, BuildError>> + Send;
}

fn name_or(name: &Option<String>, kind: &str) -> Arc<str> {
    Arc::from(name.as_deref().unwrap_or(kind))
}

fn registered(ctx_registry: &Registry, r: Running) -> Running {
    ctx_registry.register(r.metrics.clone());
    r
}

/// Waits for a socket listener to bind, and registers it.
async fn bound<S>(
    ctx: &SourceContext<S>,
    name: Arc<str>,
    addr: SocketAddr,
    start: impl Future<Output = std::io::Result<Running>>,
) -> Result<Running, BuildError> {
    let r = start
        .await
        .map_err(|error| BuildError::Bind { name, addr, error })?;
    Ok(registered(&ctx.registry, r))
}

/// Receive buffer of UDP listeners: bursts wait in the kernel until the
/// decoder catches up (the kernel caps it at net.core.rmem_max).
const UDP_RECV_BUFFER: u32 = 16 << 20;

/// `type = "syslog-udp"`: RFC 5426, one message per datagram.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogUdpConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// The organisation what arrives here belongs to (the top one when unset).
    #[serde(default)]
    pub org: Option<String>,
    /// Sender address or prefix → organisation, tried before `org`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub org_by_source: std::collections::BTreeMap<String, String>,
    /// Zone for timestamps that carry none; `[ingest] timezone` (the
    /// host's zone) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Timezone>,
    pub listen: SocketAddr,
}

impl SourceConfig for SyslogUdpConfig {
    const KIND: &'static str = "syslog-udp";

    fn name(&self) -> Arc<str> {
        name_or(&self.name, Self::KIND)
    }

    async fn build<S: IngestSink>(&self, ctx: &SourceContext<S>) -> Result<Running, BuildError> {
        let name = self.name();
        let mut opts = ctx.options(&name, self.timezone.as_ref());
        opts.recv_buffer = Some(UDP_RECV_BUFFER);
        let (sink, shutdown) = (ctx.sink.clone(), ctx.shutdown.clone());
        let start = crate::syslog::udp(self.listen, Format::Syslog, opts, sink, shutdown);
        bound(ctx, name, self.listen, start).await
    }
}

/// `type = "syslog-tcp"`: RFC 6587, octet counting or newlines.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogTcpConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// The organisation what arrives here belongs to (the top one when unset).
    #[serde(default)]
    pub org: Option<String>,
    /// Sender address or prefix → organisation, tried before `org`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub org_by_source: std::collections::BTreeMap<String, String>,
    /// Zone for timestamps that carry none; `[ingest] timezone` (the
    /// host's zone) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Timezone>,
    pub listen: SocketAddr,
}

impl SourceConfig for SyslogTcpConfig {
    const KIND: &'static str = "syslog-tcp";

    fn name(&self) -> Arc<str> {
        name_or(&self.name, Self::KIND)
    }

    async fn build<S: IngestSink>(&self, ctx: &SourceContext<S>) -> Result<Running, BuildError> {
        let name = self.name();
        let opts = ctx.options(&name, self.timezone.as_ref());
        let (sink, shutdown) = (ctx.sink.clone(), ctx.shutdown.clone());
        let start = crate::syslog::tcp(self.listen, Format::Syslog, opts, sink, shutdown);
        bound(ctx, name, self.listen, start).await
    }
}

/// `type = "tcp"`: lines of one format over plain TCP (newline framing, or
/// RFC 6587 octet counting when a connection starts with it), as Filebeat's
/// `tcp` input and Vector's `socket` source take them: Zeek TSV (its header
/// lines first, kept per connection) or JSON, Suricata EVE, CEF, auditd,
/// access logs. The same connection caps and message limits as syslog-tcp.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// The organisation what arrives here belongs to (the top one when unset).
    #[serde(default)]
    pub org: Option<String>,
    /// Sender address or prefix → organisation, tried before `org`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub org_by_source: std::collections::BTreeMap<String, String>,
    /// Zone for timestamps that carry none; `[ingest] timezone` (the
    /// host's zone) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Timezone>,
    pub listen: SocketAddr,
    /// Decoder name (`zeek`, `json`, `eve`, `cef`, `auditd`, `access` …):
    /// a format read line by line.
    pub format: String,
}

impl TcpConfig {
    fn line_format(&self) -> Result<Format, &'static str> {
        let f = self.format.parse::<Format>().map_err(|_| "is unknown")?;
        if !crate::tail::tailable(f) {
            return Err("cannot be read line by line");
        }
        Ok(f)
    }
}

impl SourceConfig for TcpConfig {
    const KIND: &'static str = "tcp";

    fn name(&self) -> Arc<str> {
        name_or(&self.name, Self::KIND)
    }

    fn check(&self) -> Vec<Problem> {
        match self.line_format() {
            Ok(_) => Vec::new(),
            Err(why) => vec![Problem {
                key: "format",
                message: format!("`{}` {why}", self.format),
            }],
        }
    }

    async fn build<S: IngestSink>(&self, ctx: &SourceContext<S>) -> Result<Running, BuildError> {
        let name = self.name();
        let format = self.line_format().map_err(|reason| BuildError::Format {
            name: name.clone(),
            format: self.format.clone(),
            reason,
        })?;
        let opts = ctx.options(&name, self.timezone.as_ref());
        let (sink, shutdown) = (ctx.sink.clone(), ctx.shutdown.clone());
        // The syslog-tcp machinery (framing, caps, limits), its own kind in
        // the metrics.
        let start =
            crate::syslog::serve_stream(self.listen, format, None, opts, sink, shutdown, "tcp");
        bound(ctx, name, self.listen, start).await
    }
}

/// `type = "syslog-tls"`: RFC 5425.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogTlsConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// The organisation what arrives here belongs to (the top one when unset).
    #[serde(default)]
    pub org: Option<String>,
    /// Sender address or prefix → organisation, tried before `org`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub org_by_source: std::collections::BTreeMap<String, String>,
    /// Zone for timestamps that carry none; `[ingest] timezone` (the
    /// host's zone) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Timezone>,
    pub listen: SocketAddr,
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its PEM private key.
    pub key: PathBuf,
    /// CA bundle: when set, clients must present a certificate it signed.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

impl SyslogTlsConfig {
    fn files(&self) -> [(&'static str, Option<&PathBuf>); 3] {
        [
            ("cert", Some(&self.cert)),
            ("key", Some(&self.key)),
            ("client_ca", self.client_ca.as_ref()),
        ]
    }

    /// The TLS material: the files read and checked.
    fn tls(&self, name: &Arc<str>) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, BuildError> {
        let mut pem: [Option<Vec<u8>>; 3] = Default::default();
        for (slot, (key, path)) in pem.iter_mut().zip(self.files()) {
            if let Some(path) = path {
                let bytes = std::fs::read(path).map_err(|error| BuildError::TlsFile {
                    name: name.clone(),
                    key,
                    path: path.clone(),
                    error,
                })?;
                *slot = Some(bytes);
            }
        }
        let [cert, key, ca] = pem;
        crate::syslog::tls_server_config(
            cert.as_deref().unwrap_or_default(),
            key.as_deref().unwrap_or_default(),
            ca.as_deref(),
        )
        .map_err(|error| BuildError::Tls {
            name: name.clone(),
            error,
        })
    }
}

impl SourceConfig for SyslogTlsConfig {
    const KIND: &'static str = "syslog-tls";

    fn name(&self) -> Arc<str> {
        name_or(&self.name, Self::KIND)
    }

    fn check(&self) -> Vec<Problem> {
        self.files()
            .into_iter()
            .filter_map(|(key, f)| {
                let f = f?;
                (!f.exists()).then(|| Problem {
                    key,
                    message: format!("{} does not exist", f.display()),
                })
            })
            .collect()
    }

    async fn build<S: IngestSink>(&self, ctx: &SourceContext<S>) -> Result<Running, BuildError> {
        let name = self.name();
        let tls = self.tls(&name)?;
        let opts = ctx.options(&name, self.timezone.as_ref());
        let (sink, shutdown) = (ctx.sink.clone(), ctx.shutdown.clone());
        let start = crate::syslog::tls(self.listen, Format::Syslog, tls, opts, sink, shutdown);
        bound(ctx, name, self.listen, start).await
    }
}

/// `type = "netflow"`: NetFlow v5/v9 and IPFIX over UDP.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetflowConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// The organisation what arrives here belongs to (the top one when unset).
    #[serde(default)]
    pub org: Option<String>,
    /// Sender address or prefix → organisation, tried before `org`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub org_by_source: std::collections::BTreeMap<String, String>,
    pub listen: SocketAddr,
}

impl SourceConfig for NetflowConfig {
    const KIND: &'static str = "netflow";

    fn name(&self) -> Arc<str> {
        name_or(&self.name, Self::KIND)
    }

    async fn build<S: IngestSink>(&self, ctx: &SourceContext<S>) -> Result<Running, BuildError> {
        let name = self.name();
        // NetFlow carries epoch times: no zone to assume.
        let mut opts = ctx.options(&name, None);
        opts.recv_buffer = Some(UDP_RECV_BUFFER);
        let (sink, shutdown) = (ctx.sink.clone(), ctx.shutdown.clone());
        let start = crate::netflow::udp_with_limits(self.listen, opts, ctx.netflow, sink, shutdown);
        bound(ctx, name, self.listen, start).await
    }
}

/// `type = "tail"`: files followed across rotation, checkpointed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TailSourceConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// The organisation what arrives here belongs to (the top one when unset).
    #[serde(default)]
    pub org: Option<String>,
    /// Sender address or prefix → organisation, tried before `org`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub org_by_source: std::collections::BTreeMap<String, String>,
    /// Zone for timestamps that carry none; `[ingest] timezone` (the
    /// host's zone) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Timezone>,
    pub paths: Vec<PathBuf>,
    /// Decoder name; detected from content when absent.
    #[serde(default)]
    pub format: Option<String>,
}

impl TailSourceConfig {
    fn format(&self, name: &Arc<str>) -> Result<Option<Format>, BuildError> {
        let Some(f) = &self.format else {
            return Ok(None);
        };
        let bad = |reason| BuildError::Format {
            name: name.clone(),
            format: f.clone(),
            reason,
        };
        let format = f.parse::<Format>().map_err(|_| bad("is unknown"))?;
        if !crate::tail::tailable(format) {
            return Err(bad("cannot be tailed line by line"));
        }
        Ok(Some(format))
    }
}

impl SourceConfig for TailSourceConfig {
    const KIND: &'static str = "tail";

    fn name(&self) -> Arc<str> {
        name_or(&self.name, Self::KIND)
    }

    fn check(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        if self.paths.is_empty() {
            p.push(Problem {
                key: "paths",
                message: "give at least one file or glob".into(),
            });
        }
        if let Some(f) = &self.format {
            if f.parse::<Format>().is_err() {
                p.push(Problem {
                    key: "format",
                    message: format!("unknown format `{f}`"),
                });
            }
        }
        p
    }

    async fn build<S: IngestSink>(&self, ctx: &SourceContext<S>) -> Result<Running, BuildError> {
        let name = self.name();
        let state = ctx.state_dir.join("tail").join(&*name);
        let mut tc = crate::tail::TailConfig::new(name.clone(), self.paths.clone(), state.clone());
        tc.format = self.format(&name)?;
        tc.default_tz = ctx.options(&name, self.timezone.as_ref()).default_tz;
        let r = crate::tail::tail(tc, ctx.sink.clone(), ctx.shutdown.clone())
            .await
            .map_err(|error| BuildError::StateDir {
                name,
                path: state,
                error,
            })?;
        Ok(registered(&ctx.registry, r))
    }
}

/// One `[[listeners]]` entry: `type` selects the kind. A key the kind
/// does not have is an error: the entry is read through serde's buffered
/// form, where `taishi.toml`'s collector of unknown keys cannot see it,
/// and a misspelt `client_ca` would otherwise turn client authentication
/// off without a word.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ListenerConfig {
    SyslogUdp(SyslogUdpConfig),
    SyslogTcp(SyslogTcpConfig),
    SyslogTls(SyslogTlsConfig),
    Tcp(TcpConfig),
    Netflow(NetflowConfig),
    Tail(TailSourceConfig),
}

/// Runs `$body` with `$c` bound to the entry's own config type.
macro_rules! each {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            ListenerConfig::SyslogUdp($c) => $body,
            ListenerConfig::SyslogTcp($c) => $body,
            ListenerConfig::SyslogTls($c) => $body,
            ListenerConfig::Tcp($c) => $body,
            ListenerConfig::Netflow($c) => $body,
            ListenerConfig::Tail($c) => $body,
        }
    };
}

/// Kind-independent access, so the service never matches on the kind.
impl ListenerConfig {
    /// Every `type` a listener may have.
    pub const KINDS: [&'static str; 6] = [
        SyslogUdpConfig::KIND,
        SyslogTcpConfig::KIND,
        SyslogTlsConfig::KIND,
        TcpConfig::KIND,
        NetflowConfig::KIND,
        TailSourceConfig::KIND,
    ];

    /// Reads an entry's keys (all but `type`) as the config of `kind`
    /// directly, not through serde's buffered form of a tagged enum: the
    /// deserializer then sees each key, so an error (an unknown key, a
    /// wrong value) carries the key's position for `taishi config check`.
    /// `None` when `kind` is not one of [`Self::KINDS`].
    pub fn deserialize_kind<'de, D: serde::Deserializer<'de>>(
        kind: &str,
        d: D,
    ) -> Result<Option<ListenerConfig>, D::Error> {
        Ok(Some(match kind {
            SyslogUdpConfig::KIND => ListenerConfig::SyslogUdp(Deserialize::deserialize(d)?),
            SyslogTcpConfig::KIND => ListenerConfig::SyslogTcp(Deserialize::deserialize(d)?),
            SyslogTlsConfig::KIND => ListenerConfig::SyslogTls(Deserialize::deserialize(d)?),
            TcpConfig::KIND => ListenerConfig::Tcp(Deserialize::deserialize(d)?),
            NetflowConfig::KIND => ListenerConfig::Netflow(Deserialize::deserialize(d)?),
            TailSourceConfig::KIND => ListenerConfig::Tail(Deserialize::deserialize(d)?),
            _ => return Ok(None),
        }))
    }

    /// The `type` in `taishi.toml`.
    pub fn kind(&self) -> &'static str {
        fn kind_of<C: SourceConfig>(_: &C) -> &'static str {
            C::KIND
        }
        each!(self, c => kind_of(c))
    }

    pub fn name(&self) -> Arc<str> {
        each!(self, c => c.name())
    }

    pub fn check(&self) -> Vec<Problem> {
        let mut v = each!(self, c => c.check());
        v.extend(
            self.binding()
                .problems()
                .into_iter()
                .map(|message| Problem {
                    key: "org_by_source",
                    message,
                }),
        );
        v
    }

    /// The organisations what arrives here belongs to.
    pub fn binding(&self) -> crate::tenancy::OrgBinding {
        each!(self, c => crate::tenancy::OrgBinding {
            org: c.org.clone(),
            by_source: c.org_by_source.clone(),
        })
    }

    pub async fn build<S: IngestSink>(
        &self,
        ctx: &SourceContext<S>,
    ) -> Result<Running, BuildError> {
        each!(self, c => c.build(ctx).await)
    }
}
