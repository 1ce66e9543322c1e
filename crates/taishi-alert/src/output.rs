//! Delivery to each kind of output.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Utc;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value as J};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use taishi_egress::{reqwest_guard, EgressError, EgressPolicy};

use crate::config::{Format, Framing, Language, OutputConfig, OutputType, Protocol, SmtpTls};
use crate::notification::{self, Notification};
use crate::sign;

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    /// A refusal that a retry cannot change (bad signature, unknown
    /// recipient, 4xx); retries are skipped.
    pub permanent: bool,
}

impl DeliveryError {
    pub fn transient(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            permanent: false,
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            permanent: true,
        }
    }
    /// The same error naming what failed (`webhook: …`).
    fn prefixed(mut self, what: impl std::fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An output the service supplies itself (the console's live feed, a
/// ticket system…), fed through the same grouping, queues, retries and
/// metrics as the configured ones.
pub trait Deliver: Send + Sync + 'static {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), DeliveryError>>;
}

/// An output whose configuration cannot be used (the message names its
/// key), or a message that cannot be built for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OutputError(String);

impl From<OutputError> for DeliveryError {
    /// An output that cannot be built never delivers: not worth retrying.
    fn from(e: OutputError) -> DeliveryError {
        DeliveryError::permanent(e.0)
    }
}

impl From<String> for OutputError {
    fn from(s: String) -> OutputError {
        OutputError(s)
    }
}

impl From<EgressError> for DeliveryError {
    /// A refusal stands until the config changes; a name that did not
    /// resolve may resolve later.
    fn from(e: EgressError) -> DeliveryError {
        DeliveryError {
            permanent: e.is_refusal(),
            message: e.to_string(),
        }
    }
}

impl From<&str> for OutputError {
    fn from(s: &str) -> OutputError {
        OutputError(s.to_string())
    }
}

pub(crate) enum Sender {
    Http(Box<HttpOut>),
    Smtp(Box<SmtpOut>),
    Syslog(SyslogOut),
    Custom(Arc<dyn Deliver>),
}

impl Sender {
    pub(crate) fn build(cfg: &OutputConfig, egress: &EgressPolicy) -> Result<Sender, OutputError> {
        let egress = Arc::new(egress.clone());
        let at = format!("alerts.outputs.{}", cfg.name());
        Ok(match cfg.kind {
            OutputType::Webhook | OutputType::Dingtalk | OutputType::Wecom | OutputType::Feishu => {
                Sender::Http(Box::new(
                    HttpOut::build(cfg, egress).map_err(|e| format!("{at}: {e}"))?,
                ))
            }
            OutputType::Smtp => Sender::Smtp(Box::new(
                SmtpOut::build(cfg, egress).map_err(|e| format!("{at}: {e}"))?,
            )),
            OutputType::Syslog => {
                Sender::Syslog(SyslogOut::build(cfg, egress).map_err(|e| format!("{at}: {e}"))?)
            }
        })
    }

    pub(crate) async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        match self {
            Sender::Http(h) => h.send(n).await,
            Sender::Smtp(s) => s.send(n).await,
            Sender::Syslog(s) => s.send(n).await,
            Sender::Custom(c) => c.deliver(n).await,
        }
    }
}

pub(crate) struct HttpOut {
    kind: OutputType,
    client: reqwest::Client,
    /// Checked before each request: reqwest connects to an address literal
    /// without asking the guarded resolver.
    egress: Arc<EgressPolicy>,
    url: String,
    secret: Option<String>,
    headers: reqwest::header::HeaderMap,
    lang: Language,
    at_mobiles: Vec<String>,
    at_all: bool,
    format: Format,
}

impl HttpOut {
    fn build(cfg: &OutputConfig, egress: Arc<EgressPolicy>) -> Result<HttpOut, OutputError> {
        let url = cfg.url.clone().ok_or("no url")?;
        let mut b = reqwest_guard::builder(egress.clone())
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .user_agent(concat!("taishi/", env!("CARGO_PKG_VERSION")));
        if let Some(p) = &cfg.proxy {
            b = b.proxy(reqwest::Proxy::all(p.as_str()).map_err(|e| format!("proxy `{p}`: {e}"))?);
        }
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            b = b.add_root_certificate(cert);
        }
        if cfg.tls_insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        let client = b.build().map_err(|e| format!("HTTP client: {e}"))?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &cfg.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("header name `{k}` is not valid"))?;
            let value = reqwest::header::HeaderValue::from_str(v)
                .map_err(|_| format!("header `{k}` has a value that cannot be sent"))?;
            headers.insert(name, value);
        }
        Ok(HttpOut {
            kind: cfg.kind,
            client,
            egress,
            url,
            secret: cfg.secret.clone().filter(|s| !s.is_empty()),
            headers,
            lang: cfg.language,
            at_mobiles: cfg.at_mobiles.clone(),
            at_all: cfg.at_all,
            format: cfg.feishu_format(),
        })
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        let mut url = self.url.clone();
        let mut headers = self.headers.clone();
        let body: Vec<u8> = match self.kind {
            OutputType::Webhook => {
                let body =
                    serde_json::to_vec(n).map_err(|e| DeliveryError::permanent(e.to_string()))?;
                if let Some(secret) = &self.secret {
                    let ts = Utc::now().timestamp();
                    let sig = sign::webhook(secret, ts, &body);
                    headers.insert("x-taishi-timestamp", ts.into());
                    if let Ok(v) = reqwest::header::HeaderValue::from_str(&sig) {
                        headers.insert("x-taishi-signature", v);
                    }
                }
                body
            }
            OutputType::Dingtalk => {
                if let Some(secret) = &self.secret {
                    let ts = Utc::now().timestamp_millis();
                    let sep = if url.contains('?') { '&' } else { '?' };
                    url = format!(
                        "{url}{sep}timestamp={ts}&sign={}",
                        sign::dingtalk(secret, ts)
                    );
                }
                dingtalk_body(n, self.lang, &self.at_mobiles, self.at_all)
                    .to_string()
                    .into_bytes()
            }
            OutputType::Wecom => wecom_body(n, self.lang).to_string().into_bytes(),
            OutputType::Feishu => {
                let signed = self.secret.as_deref().map(|s| {
                    let ts = Utc::now().timestamp();
                    (ts, sign::feishu(s, ts))
                });
                feishu_body(n, self.lang, self.format, signed)
                    .to_string()
                    .into_bytes()
            }
            OutputType::Smtp | OutputType::Syslog => {
                return Err(DeliveryError::permanent("not an HTTP output"))
            }
        };
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        reqwest_guard::check_request(&self.egress, &url)
            .map_err(|e| DeliveryError::from(e).prefixed(self.kind))?;
        let resp = self
            .client
            .post(&url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| match reqwest_guard::refusal(&e) {
                Some(r) => DeliveryError::from(r.clone()).prefixed(self.kind),
                None => DeliveryError::transient(format!("{}: {}", self.kind, error_chain(&e))),
            })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            let msg = format!(
                "{}: HTTP {status}: {}",
                self.kind,
                crate::alert::cut(&text, 300)
            );
            let retry =
                status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408;
            return Err(DeliveryError {
                message: msg,
                permanent: !retry,
            });
        }
        check_robot_reply(self.kind, &text)
    }
}

/// Reads `source()` down the chain: reqwest's own message alone says
/// "error sending request" without the cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The robots answer HTTP 200 with an error code in the body.
fn check_robot_reply(kind: OutputType, text: &str) -> Result<(), DeliveryError> {
    let (code_keys, msg_keys, rate_limited): (&[&str], &[&str], &[i64]) = match kind {
        // 130101: sending too fast.
        OutputType::Dingtalk => (&["errcode"], &["errmsg"], &[130101]),
        // 45009: API frequency limit.
        OutputType::Wecom => (&["errcode"], &["errmsg"], &[45009]),
        // 9499 / 11232: frequency limited. Old replies use StatusCode.
        OutputType::Feishu => (
            &["code", "StatusCode"],
            &["msg", "StatusMessage"],
            &[9499, 11232],
        ),
        _ => return Ok(()),
    };
    let Ok(j) = serde_json::from_str::<J>(text) else {
        return Err(DeliveryError::transient(format!(
            "{kind}: reply is not JSON: {}",
            crate::alert::cut(text, 200)
        )));
    };
    let code = code_keys
        .iter()
        .find_map(|k| j.get(*k))
        .and_then(J::as_i64)
        .unwrap_or(0);
    if code == 0 {
        return Ok(());
    }
    let msg = msg_keys
        .iter()
        .find_map(|k| j.get(*k))
        .and_then(J::as_str)
        .unwrap_or("");
    Err(DeliveryError {
        message: format!("{kind}: error {code}: {msg}"),
        permanent: !rate_limited.contains(&code),
    })
}

/// `{"msgtype":"markdown","markdown":{"title","text"},"at":{…}}`.
pub fn dingtalk_body(n: &Notification, lang: Language, at_mobiles: &[String], at_all: bool) -> J {
    let mut text = n.markdown(lang);
    // DingTalk only notifies mentioned mobiles written into the text.
    for m in at_mobiles {
        text.push_str(&format!("\n@{m}"));
    }
    let mut body = json!({
        "msgtype": "markdown",
        "markdown": {"title": crate::alert::cut(&n.title(lang), 60), "text": text},
    });
    if at_all || !at_mobiles.is_empty() {
        body["at"] = json!({"atMobiles": at_mobiles, "isAtAll": at_all});
    }
    body
}

/// `{"msgtype":"markdown","markdown":{"content"}}`; WeCom refuses content
/// over 4096 bytes.
pub fn wecom_body(n: &Notification, lang: Language) -> J {
    json!({"msgtype": "markdown", "markdown": {"content": cut_bytes(&n.markdown(lang), 4000)}})
}

/// A card (`msg_type: interactive`) with a header coloured by level, or a
/// text message; `timestamp`/`sign` when signed.
pub fn feishu_body(
    n: &Notification,
    lang: Language,
    format: Format,
    signed: Option<(i64, String)>,
) -> J {
    let mut body = if format == Format::Text {
        json!({"msg_type": "text", "content": {"text": n.text(lang)}})
    } else {
        let template = match n.level {
            crate::alert::Level::Critical => "red",
            crate::alert::Level::High => "orange",
            crate::alert::Level::Medium => "yellow",
            crate::alert::Level::Low => "blue",
            crate::alert::Level::Informational => "grey",
        };
        let mut md: String = n
            .lines(lang)
            .iter()
            .map(|(k, v)| format!("**{k}**: {v}\n"))
            .collect();
        if let Some(u) = &n.url {
            md.push_str(&format!("[{}]({u})\n", Notification::link_label(lang)));
        }
        json!({
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": true},
                "header": {"title": {"tag": "plain_text", "content": n.title(lang)}, "template": template},
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": md}}]
            }
        })
    };
    if let Some((ts, sign)) = signed {
        body["timestamp"] = J::String(ts.to_string());
        body["sign"] = J::String(sign);
    }
    body
}

fn cut_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub(crate) struct SmtpOut {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// The server's host and port, checked against `egress` before each
    /// send (lettre resolves the name itself, so a rebinding DNS answer
    /// between the check and lettre's lookup is not covered: see the
    /// crate's README).
    host: String,
    port: u16,
    egress: Arc<EgressPolicy>,
    from: Mailbox,
    to: Vec<Mailbox>,
    lang: Language,
}

impl SmtpOut {
    fn build(cfg: &OutputConfig, egress: Arc<EgressPolicy>) -> Result<SmtpOut, OutputError> {
        let host = cfg.host.clone().ok_or("no host")?;
        let tls = cfg.smtp_tls();
        let params = || -> Result<TlsParameters, OutputError> {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(ca) = &cfg.ca_file {
                let pem =
                    std::fs::read(ca).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
                b = b.add_root_certificate(cert);
            }
            if cfg.tls_insecure {
                b = b
                    .dangerous_accept_invalid_certs(true)
                    .dangerous_accept_invalid_hostnames(true);
            }
            b.build_rustls().map_err(|e| format!("TLS: {e}").into())
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(cfg.smtp_port())
            .timeout(Some(cfg.timeout));
        b = match tls {
            SmtpTls::None => b.tls(Tls::None),
            SmtpTls::Starttls => b.tls(Tls::Required(params()?)),
            SmtpTls::Tls => b.tls(Tls::Wrapper(params()?)),
        };
        if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        let from = cfg
            .from
            .as_deref()
            .ok_or("no from")?
            .parse::<Mailbox>()
            .map_err(|e| format!("from: {e}"))?;
        let to = cfg
            .to
            .iter()
            .map(|t| t.parse::<Mailbox>().map_err(|e| format!("to `{t}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err("no `to` addresses".into());
        }
        Ok(SmtpOut {
            transport: b.build(),
            port: cfg.smtp_port(),
            host,
            egress,
            from,
            to,
            lang: cfg.language,
        })
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        let msg = email(n, self.lang, &self.from, &self.to)?;
        self.egress
            .resolve_async(&self.host, self.port)
            .await
            .map_err(|e| DeliveryError::from(e).prefixed("smtp"))?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| DeliveryError {
                message: format!("smtp: {}", error_chain(&e)),
                permanent: e.is_permanent(),
            })
    }
}

/// The e-mail: subject `[Taishi] [HIGH] Rule title …`, plain-text body with
/// the key fields and, for groups, a line per alert.
pub fn email(
    n: &Notification,
    lang: Language,
    from: &Mailbox,
    to: &[Mailbox],
) -> Result<Message, OutputError> {
    let mut b = Message::builder()
        .from(from.clone())
        .subject(format!("[Taishi] {}", n.title(lang)));
    for t in to {
        b = b.to(t.clone());
    }
    b.header(ContentType::TEXT_PLAIN)
        .body(n.text(lang))
        .map_err(|e| format!("building the message: {e}").into())
}

/// A TCP or TLS connection to a syslog receiver.
trait SyslogStream: tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncWrite + Unpin + Send> SyslogStream for T {}

pub(crate) struct SyslogOut {
    host: String,
    port: u16,
    protocol: Protocol,
    framing: Framing,
    cef: bool,
    facility: u8,
    tcp: tokio::sync::Mutex<Option<Box<dyn SyslogStream>>>,
    /// For `protocol = "tls"`: the client config (Mozilla's roots and
    /// `ca_file`) and the name the certificate must carry.
    tls: Option<(
        tokio_rustls::TlsConnector,
        tokio_rustls::rustls::pki_types::ServerName<'static>,
    )>,
    timeout: Duration,
    /// The host is resolved through it and only its checked addresses are
    /// connected to.
    egress: Arc<EgressPolicy>,
}

/// UDP payloads above this are cut: a datagram larger than the path MTU
/// allows is fragmented, and many receivers read at most 8 KiB.
const UDP_MAX: usize = 8192;

impl SyslogOut {
    fn build(cfg: &OutputConfig, egress: Arc<EgressPolicy>) -> Result<SyslogOut, OutputError> {
        let host = cfg.host.clone().ok_or("no host")?;
        let protocol = cfg.protocol.unwrap_or_default();
        let tls = if protocol == Protocol::Tls {
            Some(syslog_tls(cfg, &host)?)
        } else {
            None
        };
        Ok(SyslogOut {
            host,
            port: cfg.syslog_port(),
            protocol,
            framing: cfg.syslog_framing(),
            cef: cfg.syslog_format() == Format::Cef,
            facility: cfg.facility_code().ok_or("unknown facility")?,
            tcp: tokio::sync::Mutex::new(None),
            tls,
            timeout: cfg.timeout,
            egress,
        })
    }

    /// A connection step bounded by the output's timeout; errors name the
    /// step and the receiver.
    async fn timed<T>(
        &self,
        what: &str,
        step: impl Future<Output = std::io::Result<T>>,
    ) -> Result<T, DeliveryError> {
        match tokio::time::timeout(self.timeout, step).await {
            Err(_) => Err(DeliveryError::transient(format!(
                "syslog: {what} {}:{} timed out",
                self.host, self.port
            ))),
            Ok(Err(e)) => Err(DeliveryError::transient(format!(
                "syslog: {what} {}:{}: {e}",
                self.host, self.port
            ))),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// The host's addresses, each allowed by the egress policy.
    async fn addrs(&self) -> Result<Vec<std::net::SocketAddr>, DeliveryError> {
        self.egress
            .resolve_async(&self.host, self.port)
            .await
            .map_err(|e| DeliveryError::from(e).prefixed("syslog"))
    }

    async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        let line = notification::syslog_line(n, self.facility, self.cef, local_hostname());
        match self.protocol {
            Protocol::Udp => {
                // check_addrs never answers with no address.
                let addr = self.addrs().await?[0];
                let bind = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let sock = UdpSocket::bind(bind)
                    .await
                    .map_err(|e| DeliveryError::transient(format!("syslog: {e}")))?;
                let bytes = line.as_bytes();
                let bytes = &bytes[..bytes.len().min(UDP_MAX)];
                sock.send_to(bytes, addr).await.map_err(|e| {
                    DeliveryError::transient(format!("syslog: sending to {addr}: {e}"))
                })?;
                Ok(())
            }
            Protocol::Tcp | Protocol::Tls => {
                let mut frame = Vec::with_capacity(line.len() + 8);
                match self.framing {
                    Framing::Newline => {
                        frame.extend_from_slice(line.as_bytes());
                        frame.push(b'\n');
                    }
                    Framing::Octet => {
                        frame.extend_from_slice(format!("{} ", line.len()).as_bytes());
                        frame.extend_from_slice(line.as_bytes());
                    }
                }
                let mut conn = self.tcp.lock().await;
                if conn.is_none() {
                    let addrs = self.addrs().await?;
                    let c = self
                        .timed("connecting to", TcpStream::connect(&addrs[..]))
                        .await?;
                    *conn = Some(match &self.tls {
                        None => Box::new(c),
                        Some((connector, name)) => Box::new(
                            self.timed("TLS with", connector.connect(name.clone(), c))
                                .await?,
                        ),
                    });
                }
                let Some(stream) = conn.as_mut() else {
                    return Err(DeliveryError::transient("syslog: no connection"));
                };
                // TLS holds written bytes until flushed.
                let written = match stream.write_all(&frame).await {
                    Ok(()) => stream.flush().await,
                    Err(e) => Err(e),
                };
                if let Err(e) = written {
                    // The receiver closed or reset: the next attempt reconnects.
                    *conn = None;
                    return Err(DeliveryError::transient(format!("syslog: writing: {e}")));
                }
                Ok(())
            }
        }
    }
}

/// The TLS client of a syslog output: Mozilla's roots (the ones reqwest
/// uses) and the `ca_file` certificates.
fn syslog_tls(
    cfg: &OutputConfig,
    host: &str,
) -> Result<
    (
        tokio_rustls::TlsConnector,
        tokio_rustls::rustls::pki_types::ServerName<'static>,
    ),
    OutputError,
> {
    use tokio_rustls::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("host `{host}`: {e}"))?;
    Ok((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
}

/// This machine's name, for the syslog header and test messages.
pub fn local_hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "taishi".into())
    })
}
