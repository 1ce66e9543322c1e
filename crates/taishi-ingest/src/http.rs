//! HTTP ingest: `POST /ingest` (any format Taishi decodes, recognised by
//! its content or named with `?format=`)
//! and the Elasticsearch `_bulk` API with the endpoints shippers probe
//! before sending (Vector, Fluent Bit, Logstash, Beats), returned as an
//! [`axum::Router`] the service mounts beside its own API.
//!
//! Responses are sent only after the sink made the batch durable; a
//! transient sink failure is a 503 (shippers retry), a rejected batch a 400
//! or 413 (they do not). Bodies may be gzip-compressed
//! (`Content-Encoding: gzip`, what Beats send by default).

use std::io::Write;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value as J};
use taishi_event::{DecodeContext, Decoder, Format, Framing, Location, Reject, Sink};
use tokio::sync::Semaphore;

use crate::dedup::{self, BulkIds, Claim, Key};
use crate::internal_events::{BudgetRefused, BytesReceived, DuplicatesSkipped, Refusal};
use crate::{
    deliver, Batch, IngestSink, ListenerMetrics, MemoryBudget, Reservation, SinkError,
    DECODED_FACTOR,
};

/// Decides whether a request may ingest: `Ok(Some(principal))` or
/// `Ok(None)` to accept (the principal is carried on the batch),
/// `Err(reason)` to answer 401. The service plugs its API keys or basic
/// auth in here; every route of the router goes through it.
pub trait Authenticate: Send + Sync + 'static {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, Denied>;
}

/// Who may send, as the authentication hook named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: Arc<str>,
    /// The organisation the credential binds what it sends to: every event
    /// of the request belongs to it, whatever the sender wrote.
    pub org: Option<Arc<str>>,
}

impl Principal {
    pub fn named(name: impl Into<Arc<str>>) -> Principal {
        Principal {
            name: name.into(),
            org: None,
        }
    }
}

/// Why a request may not ingest.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Denied {
    /// No valid credential: 401.
    #[error("{0}")]
    Unauthenticated(String),
    /// A credential that may not ingest (a viewer, a browser session): 403.
    #[error("{0}")]
    Forbidden(String),
}

/// Settings of the HTTP ingest router.
#[derive(Clone)]
pub struct HttpConfig {
    pub name: Arc<str>,
    /// Largest request body, after decompression. Elasticsearch's default
    /// `http.max_content_length` is 100 MiB.
    pub max_body: usize,
    /// Requests whose batches may wait on the sink at once; more wait for
    /// a turn (answered later, not refused).
    pub max_in_flight: usize,
    /// The Elasticsearch version announced on `GET /`: shippers choose
    /// their API by its major number.
    pub es_version: String,
    /// Index named in bulk items whose action gives none.
    pub default_index: String,
    pub default_tz: chrono::FixedOffset,
    pub auth: Option<Arc<dyn Authenticate>>,
    /// The process-wide ingest memory budget: bodies and their decoded
    /// events are reserved against it before they are held.
    pub budget: Arc<MemoryBudget>,
    /// A body that sends nothing for this long is answered 408.
    pub body_timeout: Duration,
    /// Bodies are decoded and submitted in pieces of about this many
    /// bytes, so that a large request never holds all its events at once.
    pub piece_bytes: usize,
    /// Stored `(_index, _id)` pairs, making bulk retries idempotent.
    pub bulk_ids: Option<Arc<BulkIds>>,
    /// Longest single line or document of a line-framed body: what one
    /// request may hold undecoded (a bomb of one endless line stops here).
    pub max_document: usize,
}

impl HttpConfig {
    /// What one step of compressed input may inflate to: a piece and a
    /// document, about 20,000 times the step with the defaults.
    fn step_cap(&self) -> usize {
        self.piece_bytes + self.max_document
    }

    pub fn new(name: impl Into<Arc<str>>) -> Self {
        HttpConfig {
            name: name.into(),
            max_body: 100 << 20,
            max_in_flight: 64,
            es_version: "8.17.0".into(),
            default_index: "taishi".into(),
            default_tz: chrono::Offset::fix(&chrono::Utc),
            auth: None,
            budget: MemoryBudget::unlimited(),
            body_timeout: Duration::from_secs(30),
            piece_bytes: 4 << 20,
            bulk_ids: None,
            max_document: 16 << 20,
        }
    }
}

struct HttpState<S> {
    sink: Arc<S>,
    cfg: HttpConfig,
    metrics: Arc<ListenerMetrics>,
    in_flight: Arc<Semaphore>,
    seq: AtomicU64,
    /// Prefix of generated document ids: unique per process start.
    id_prefix: String,
}

/// The router and the metrics of its listener. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` for the peer
/// address to name sources in rejects (else `http` is used).
pub fn router<S: IngestSink>(cfg: HttpConfig, sink: Arc<S>) -> (Router, Arc<ListenerMetrics>) {
    let metrics = Arc::new(ListenerMetrics::new(cfg.name.clone(), "http"));
    let boot = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let state = Arc::new(HttpState {
        sink,
        in_flight: Arc::new(Semaphore::new(cfg.max_in_flight.max(1))),
        metrics: metrics.clone(),
        seq: AtomicU64::new(0),
        id_prefix: format!("{boot:x}"),
        cfg,
    });
    let ack = || any(acknowledge);
    let mut r = Router::new()
        .route("/ingest", post(ingest::<S>))
        .route("/_bulk", post(bulk::<S>).put(bulk::<S>))
        .route("/{index}/_bulk", post(bulk_index::<S>).put(bulk_index::<S>))
        .route("/", get(info::<S>).head(info::<S>))
        .route("/_license", get(license))
        .route("/_xpack", get(xpack))
        .route("/_cluster/health", get(health))
        .route("/_index_template/{name}", ack())
        .route("/_template/{name}", ack())
        .route("/_component_template/{name}", ack())
        .route("/_ilm/policy/{name}", ack())
        .route("/_data_stream/{name}", ack())
        .route("/_ingest/pipeline/{name}", ack())
        .route("/_alias/{name}", ack())
        .route(
            "/{index}",
            axum::routing::put(acknowledge)
                .head(acknowledge)
                .fallback(not_found),
        )
        .fallback(not_found);
    if state.cfg.auth.is_some() {
        r = r.layer(middleware::from_fn_with_state(
            state.clone(),
            authenticate::<S>,
        ));
    }
    let r = r
        .layer(middleware::from_fn(elastic_product))
        .with_state(state);
    (r, metrics)
}

/// Elasticsearch clients since 7.14 check this header before trusting a
/// server.
async fn elastic_product(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    resp
}

async fn authenticate<S: IngestSink>(
    State(st): State<Arc<HttpState<S>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(auth) = &st.cfg.auth else {
        return next.run(req).await;
    };
    match auth.authenticate(req.headers()) {
        Ok(principal) => {
            if let Some(p) = principal {
                req.extensions_mut().insert(p);
            }
            next.run(req).await
        }
        Err(Denied::Forbidden(reason)) => {
            es_error(StatusCode::FORBIDDEN, "security_exception", &reason)
        }
        Err(Denied::Unauthenticated(reason)) => {
            let mut resp = es_error(StatusCode::UNAUTHORIZED, "security_exception", &reason);
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"taishi\" charset=\"UTF-8\", ApiKey"),
            );
            resp
        }
    }
}

fn es_error(status: StatusCode, kind: &str, reason: &str) -> Response {
    (status, axum::Json(es_error_body(status, kind, reason))).into_response()
}

/// Elasticsearch's error shape, which shippers parse.
fn es_error_body(status: StatusCode, kind: &str, reason: &str) -> J {
    json!({
        "error": {
            "root_cause": [{"type": kind, "reason": reason}],
            "type": kind,
            "reason": reason,
        },
        "status": status.as_u16(),
    })
}

async fn info<S: IngestSink>(State(st): State<Arc<HttpState<S>>>) -> Response {
    axum::Json(json!({
        "name": "taishi",
        "cluster_name": "taishi",
        "cluster_uuid": "taishi-ingest",
        "version": {
            "number": st.cfg.es_version,
            "build_flavor": "default",
            "build_type": "taishi",
            "build_hash": "0000000000000000000000000000000000000000",
            "build_date": "2024-01-01T00:00:00.000Z",
            "build_snapshot": false,
            "lucene_version": "9.12.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    }))
    .into_response()
}

async fn license() -> Response {
    axum::Json(json!({
        "license": {
            "status": "active",
            "uid": "taishi-ingest",
            "type": "basic",
            "issue_date_in_millis": 0,
            "max_nodes": 1000,
            "issued_to": "taishi",
            "issuer": "taishi",
            "start_date_in_millis": -1,
        }
    }))
    .into_response()
}

async fn xpack() -> Response {
    axum::Json(json!({
        "build": {"hash": "0000000000000000000000000000000000000000", "date": "2024-01-01T00:00:00.000Z"},
        "license": {"uid": "taishi-ingest", "type": "basic", "mode": "basic", "status": "active"},
        "features": {},
        "tagline": "You know, for X",
    }))
    .into_response()
}

async fn health() -> Response {
    axum::Json(json!({
        "cluster_name": "taishi",
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
    }))
    .into_response()
}

/// Templates, ILM policies, pipelines and index creation: taishi keeps
/// its own schema, so these are answered as done (a GET/HEAD as present,
/// so that shippers do not try to install them again).
async fn acknowledge(method: Method) -> Response {
    match method {
        Method::HEAD => StatusCode::OK.into_response(),
        Method::GET => axum::Json(json!({})).into_response(),
        _ => axum::Json(json!({"acknowledged": true})).into_response(),
    }
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    es_error(
        StatusCode::NOT_FOUND,
        "illegal_argument_exception",
        &format!("taishi ingest does not serve {method} {}", uri.path()),
    )
}

fn peer_of(req: &Request) -> Arc<str> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| Arc::from("http"), |c| Arc::from(c.0.to_string()))
}

fn principal_of(req: &Request) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("request body is larger than the {limit}-byte limit after decompression (raise http.max_body_mib, or send smaller batches)")]
    TooLarge { limit: usize },
    #[error("request body holds a line or document larger than the {limit}-byte limit (raise http.max_document_mib; the whole body is bounded by http.max_body_mib)")]
    LongDocument { limit: usize },
    #[error("{encoding} body inflates more than {limit} bytes from {step} compressed bytes: refused as a compression bomb (the limits are http.max_document_mib and http.max_body_mib)")]
    Bomb {
        encoding: &'static str,
        limit: usize,
        step: usize,
    },
    #[error("request body sent nothing for {secs} s (http.body_timeout_secs); send it faster or in smaller requests")]
    Stalled { secs: u64 },
    #[error("{encoding} body could not be inflated: {reason}")]
    Inflate {
        encoding: &'static str,
        reason: String,
    },
    #[error("unsupported Content-Encoding `{0}`: send gzip, deflate, zstd or none")]
    Encoding(String),
    #[error("request body could not be read: {0}")]
    Read(String),
}

impl BodyError {
    fn response(&self) -> Response {
        let (status, kind) = match self {
            BodyError::TooLarge { .. }
            | BodyError::LongDocument { .. }
            | BodyError::Bomb { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "content_too_long_exception")
            }
            BodyError::Stalled { .. } => (StatusCode::REQUEST_TIMEOUT, "timeout_exception"),
            BodyError::Inflate { .. } | BodyError::Read(_) => {
                (StatusCode::BAD_REQUEST, "parse_exception")
            }
            BodyError::Encoding(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "illegal_argument_exception",
            ),
        };
        es_error(status, kind, &self.to_string())
    }
}

/// A writer that refuses to grow past its caps, so that a decompression
/// bomb fails at the limit instead of after filling memory: `cap` is what
/// is left of the body limit, `step_cap` what one step of
/// [`INFLATE_STEP`] compressed bytes may inflate to.
struct Capped {
    out: Vec<u8>,
    cap: usize,
    step_cap: usize,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + data.len() > self.cap {
            return Err(std::io::Error::other(TOO_LARGE));
        }
        if self.out.len() + data.len() > self.step_cap {
            return Err(std::io::Error::other(BOMB));
        }
        self.out.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const TOO_LARGE: &str = "inflated body over the limit";
const BOMB: &str = "inflated step over the ratio limit";

enum Inflate {
    Identity,
    Gzip(Box<flate2::write::MultiGzDecoder<Capped>>),
    Deflate(Box<flate2::write::ZlibDecoder<Capped>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Capped>>),
}

impl Inflate {
    fn name(&self) -> &'static str {
        match self {
            Inflate::Identity => "identity",
            Inflate::Gzip(_) => "gzip",
            Inflate::Deflate(_) => "deflate",
            Inflate::Zstd(_) => "zstd",
        }
    }

    fn sink(&mut self) -> Option<&mut Capped> {
        match self {
            Inflate::Identity => None,
            Inflate::Gzip(d) => Some(d.get_mut()),
            Inflate::Deflate(d) => Some(d.get_mut()),
            Inflate::Zstd(d) => Some(d.get_mut()),
        }
    }
}

/// Compressed input is fed to the decoder this much at a time, so that
/// what one step inflates to stays small (deflate expands at most about
/// 1,000 times; zstd more, which the cap catches).
const INFLATE_STEP: usize = 1024;

/// A request body, decompressed, read piece by piece within the body
/// limit and the stall timeout.
struct BodyReader {
    stream: axum::body::BodyDataStream,
    inflate: Inflate,
    limit: usize,
    total: usize,
    raw: usize,
    timeout: Duration,
    step_cap: usize,
    done: bool,
}

impl BodyReader {
    /// `step_cap`: what [`INFLATE_STEP`] compressed bytes may inflate to.
    /// Real logs compress 10 to 100 times; far more is a bomb.
    fn new(
        req: Request,
        limit: usize,
        step_cap: usize,
        timeout: Duration,
    ) -> Result<BodyReader, BodyError> {
        let enc = req
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let capped = || Capped {
            out: Vec::new(),
            cap: limit,
            step_cap,
        };
        let inflate = match enc.as_str() {
            "" | "identity" => Inflate::Identity,
            "gzip" | "x-gzip" => {
                Inflate::Gzip(Box::new(flate2::write::MultiGzDecoder::new(capped())))
            }
            "deflate" => Inflate::Deflate(Box::new(flate2::write::ZlibDecoder::new(capped()))),
            "zstd" => Inflate::Zstd(Box::new(
                zstd::stream::write::Decoder::new(capped())
                    .map_err(|e| BodyError::Read(e.to_string()))?,
            )),
            other => return Err(BodyError::Encoding(other.to_string())),
        };
        // A plain body declared over the limit is refused before a byte of
        // it is read: the sender learns at once, and nothing is buffered.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if matches!(inflate, Inflate::Identity) && declared.is_some_and(|n| n > limit as u64) {
            return Err(BodyError::TooLarge { limit });
        }
        Ok(BodyReader {
            stream: req.into_body().into_data_stream(),
            inflate,
            limit,
            total: 0,
            raw: 0,
            timeout,
            step_cap,
            done: false,
        })
    }

    /// Appends the next decompressed bytes to `out`; false once the body
    /// has ended (what it ended with is appended too).
    async fn next_into(&mut self, out: &mut Vec<u8>) -> Result<bool, BodyError> {
        if self.done {
            return Ok(false);
        }
        let frame = match tokio::time::timeout(self.timeout, self.stream.next()).await {
            Err(_) => {
                return Err(BodyError::Stalled {
                    secs: self.timeout.as_secs(),
                })
            }
            Ok(None) => None,
            Ok(Some(Err(e))) => {
                // hyper reports a body over the length limit this way too.
                return Err(BodyError::Read(e.to_string()));
            }
            Ok(Some(Ok(b))) => Some(b),
        };
        let name = self.inflate.name();
        let step_cap = self.step_cap;
        let inflate_err = |e: std::io::Error, limit: usize| {
            let text = e.to_string();
            if text.contains(TOO_LARGE) {
                BodyError::TooLarge { limit }
            } else if text.contains(BOMB) {
                BodyError::Bomb {
                    encoding: name,
                    limit: step_cap,
                    step: INFLATE_STEP,
                }
            } else {
                BodyError::Inflate {
                    encoding: name,
                    reason: e.to_string(),
                }
            }
        };
        let limit = self.limit;
        let Some(b) = frame else {
            self.done = true;
            let r = match &mut self.inflate {
                Inflate::Identity => Ok(()),
                Inflate::Gzip(d) => d.try_finish(),
                Inflate::Deflate(d) => d.try_finish(),
                Inflate::Zstd(d) => d.flush(),
            };
            r.map_err(|e| inflate_err(e, limit))?;
            if let Some(sink) = self.inflate.sink() {
                self.total += sink.out.len();
                out.append(&mut sink.out);
            }
            return Ok(false);
        };
        self.raw += b.len();
        if let Inflate::Identity = self.inflate {
            if self.total + b.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            self.total += b.len();
            out.extend_from_slice(&b);
            return Ok(true);
        }
        for step in b.chunks(INFLATE_STEP) {
            let r = match &mut self.inflate {
                Inflate::Identity => Ok(()),
                Inflate::Gzip(d) => d.write_all(step),
                Inflate::Deflate(d) => d.write_all(step),
                Inflate::Zstd(d) => d.write_all(step),
            };
            r.map_err(|e| inflate_err(e, limit))?;
            if let Some(sink) = self.inflate.sink() {
                self.total += sink.out.len();
                sink.cap = limit.saturating_sub(self.total);
                out.append(&mut sink.out);
            }
        }
        Ok(true)
    }
}

/// One request's hold on ingest: its turn among the requests in flight and
/// its bytes in the memory budget. Taken before the body is read.
struct Turn {
    _permit: tokio::sync::OwnedSemaphorePermit,
    held: Reservation,
}

fn busy(what: &str, retry: &'static str) -> Response {
    let mut resp = es_error(
        StatusCode::TOO_MANY_REQUESTS,
        "es_rejected_execution_exception",
        what,
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(retry));
    resp
}

impl<S: IngestSink> HttpState<S> {
    async fn turn(self: &Arc<Self>) -> Result<Turn, Response> {
        let sem = self.in_flight.clone();
        let permit = match tokio::time::timeout(self.cfg.body_timeout, sem.acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => {
                return Err(es_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "ingest is shutting down",
                ))
            }
            Err(_) => {
                self.metrics.emit(BudgetRefused {
                    what: Refusal::Request,
                });
                return Err(busy(
                    &format!(
                        "{} ingest requests are already in progress (http.ingest_in_flight); retry later",
                        self.cfg.max_in_flight
                    ),
                    "1",
                ));
            }
        };
        Ok(Turn {
            _permit: permit,
            held: self.cfg.budget.empty(),
        })
    }

    fn over_budget(&self, wanted: usize) -> Response {
        self.metrics.emit(BudgetRefused {
            what: Refusal::Request,
        });
        busy(
            &format!(
                "ingest memory budget of {} MiB is in use ({} MiB held; this request needed {} MiB more) (ingest.inflight_mib); retry later or send smaller batches",
                self.cfg.budget.limit() >> 20,
                self.cfg.budget.used() >> 20,
                wanted >> 20,
            ),
            "2",
        )
    }

    /// Holds `total` bytes for this request, or answers 429.
    fn reserve(&self, turn: &mut Turn, total: usize) -> Result<(), Box<Response>> {
        if total > turn.held.bytes() && !turn.held.try_grow(total - turn.held.bytes()) {
            return Err(Box::new(self.over_budget(total - turn.held.bytes())));
        }
        turn.held.shrink_to(total);
        Ok(())
    }
}

/// Submits a batch. A transient sink failure is a 503 with `Retry-After`
/// (shippers retry); a rejected batch is a 400, or a 413 when too large, so
/// that it is never sent again as it is.
async fn submit<S: IngestSink>(st: &HttpState<S>, batch: Batch) -> Result<(), Response> {
    submit_part(st, batch, None).await
}

/// What of a request body was stored before one of its later pieces
/// failed. A body larger than one piece (`piece_bytes`) is stored piece by
/// piece, each all-or-nothing; the error then says where to resume, so a
/// sender that resends from there sends nothing twice.
#[derive(Debug, Clone, Copy)]
struct Stored {
    events: usize,
    /// Lines of the body wholly stored (the failed piece starts after them).
    lines: u64,
    /// Bytes of the body wholly stored.
    bytes: u64,
}

async fn submit_part<S: IngestSink>(
    st: &HttpState<S>,
    batch: Batch,
    stored: Option<Stored>,
) -> Result<(), Response> {
    deliver(&*st.sink, &st.metrics, batch).await.map_err(|e| {
        let (status, kind) = match e {
            SinkError::Closed => (StatusCode::SERVICE_UNAVAILABLE, "node_closed_exception"),
            SinkError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable_shards_exception",
            ),
            SinkError::Rejected(_) => (StatusCode::BAD_REQUEST, "illegal_argument_exception"),
            SinkError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "content_too_long_exception"),
        };
        let mut resp = match stored.filter(|s| s.events > 0 || s.bytes > 0) {
            None => es_error(status, kind, &e.to_string()),
            Some(s) => {
                let reason = format!(
                    "{e}; the first {} lines ({} bytes, {} events) of this body were stored: \
                     send the rest again from line {} / byte {}",
                    s.lines,
                    s.bytes,
                    s.events,
                    s.lines + 1,
                    s.bytes
                );
                let mut body = es_error_body(status, kind, &reason);
                body["stored"] = json!({"events": s.events, "lines": s.lines, "bytes": s.bytes});
                body["resume"] = json!({"line": s.lines + 1, "offset": s.bytes});
                (status, axum::Json(body)).into_response()
            }
        };
        if e.kind().is_transient() {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    })
}

#[cfg(test)]
mod cut_tests {
    use super::*;

    #[test]
    fn json_is_cut_between_documents_only() {
        let nd = b"{\"a\":1}\n{\"a\":2}\n{\"a\":3";
        assert_eq!(json_cut_point(nd, 4, false), 16);
        let pretty = b"{\n  \"a\": {\n    \"b\": 1\n  }\n}\n";
        assert_eq!(json_cut_point(pretty, 4, false), 0);
        let array = b"[{\"a\":1},\n{\"a\":2}]";
        assert_eq!(json_cut_point(array, 4, false), 0);
        assert_eq!(json_cut_point(nd, 1 << 20, false), 0);
        assert_eq!(json_cut_point(nd, 1 << 20, true), nd.len());
    }

    #[test]
    fn lines_are_cut_after_the_last_newline() {
        assert_eq!(cut_point(b"a\nb\nc", 2, false), 4);
        assert_eq!(cut_point(b"abc", 2, false), 0);
        assert_eq!(cut_point(b"abc", 2, true), 3);
    }
}

#[derive(Debug, Deserialize)]
struct IngestParams {
    format: Option<String>,
}

/// How many rejects an `/ingest` response lists (all are in the batch).
const REJECTS_SHOWN: usize = 20;

/// Bytes auto-detection looks at.
const DETECT_BYTES: usize = 64 << 10;

fn task_failed() -> Response {
    es_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "exception",
        "decoder task failed",
    )
}

/// The whole lines at the front of `pending` once there are `piece` bytes
/// of them, or everything at the end: how much to decode now.
fn cut_point(pending: &[u8], piece: usize, eof: bool) -> usize {
    if eof {
        pending.len()
    } else if pending.len() < piece {
        0
    } else {
        memchr::memrchr(b'\n', pending).map_or(0, |nl| nl + 1)
    }
}

/// Like [`cut_point`] for JSON, whose documents may span lines: cuts only
/// where one line ends a top-level object and the next starts one (`}` then
/// `{` at the start of a line), which is every line of NDJSON and never the
/// inside of a document (strings hold no raw newline; nested objects of a
/// pretty-printed document are indented, and array elements end in `},`).
/// A single document or array is decoded whole.
fn json_cut_point(pending: &[u8], piece: usize, eof: bool) -> usize {
    if eof {
        return pending.len();
    }
    if pending.len() < piece {
        return 0;
    }
    let a = memchr::memmem::rfind(pending, b"}\n{").map(|i| i + 2);
    let b = memchr::memmem::rfind(pending, b"}\r\n{").map(|i| i + 3);
    a.max(b).unwrap_or(0)
}

async fn ingest<S: IngestSink>(
    State(st): State<Arc<HttpState<S>>>,
    Query(params): Query<IngestParams>,
    req: Request,
) -> Response {
    // `?format=` names the format. Without it the body's content decides,
    // as `taishi parse` does: Zeek, auditd or CEF posted with curl's
    // defaults are decoded as what they are, not refused as bad JSON. A
    // body no probe recognises is read as JSON when the sender said JSON in
    // its Content-Type (so its lines' errors are JSON's), else rejected
    // whole with a reason that names `?format=`.
    let mut format = match params.format.as_deref() {
        None | Some("auto") => None,
        Some("ndjson") | Some("json") => Some(Format::Json),
        Some(f) => match Format::from_str(f) {
            Ok(f) => Some(f),
            Err(e) => return es_error(StatusCode::BAD_REQUEST, "illegal_argument_exception", &e),
        },
    };
    let says_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    let source = peer_of(&req);
    let principal = principal_of(&req);
    // The turn and the budget come before the body is read: a request
    // that must wait holds nothing but its socket.
    let mut turn = match st.turn().await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let mut body =
        match BodyReader::new(req, st.cfg.max_body, st.cfg.step_cap(), st.cfg.body_timeout) {
            Ok(b) => b,
            Err(e) => return e.response(),
        };
    let mut ctx = DecodeContext::new(source, format.unwrap_or(Format::Json));
    ctx.default_tz = st.cfg.default_tz;
    let mut decoder: Option<Box<dyn Decoder>> = None;
    let mut pending: Vec<u8> = Vec::new();
    let (mut accepted, mut rejected) = (0usize, 0usize);
    let mut shown: Vec<J> = Vec::new();
    let mut eof = false;
    let mut recognised = true;
    while !eof {
        eof = match body.next_into(&mut pending).await {
            Ok(more) => !more,
            Err(e) => return e.response(),
        };
        if let Err(resp) = st.reserve(&mut turn, pending.len()) {
            return *resp;
        }
        if decoder.is_none() && recognised {
            if format.is_none() && (pending.len() >= DETECT_BYTES || eof) {
                format = taishi_decode::detect(&pending[..pending.len().min(DETECT_BYTES)])
                    .map(|d| d.0)
                    .or(says_json.then_some(Format::Json));
                recognised = format.is_some();
            }
            if let Some(f) = format {
                ctx.format = f;
                decoder = Some(taishi_decode::new_decoder(f));
            }
        }
        let cut = match decoder.as_ref().map(|d| (d.framing(), d.format())) {
            Some((Framing::Lines, _)) => cut_point(&pending, st.cfg.piece_bytes, eof),
            Some((Framing::Whole, Format::Json)) => {
                json_cut_point(&pending, st.cfg.piece_bytes, eof)
            }
            _ if eof => pending.len(),
            _ => 0,
        };
        if cut == 0 && !eof {
            let framed = decoder
                .as_ref()
                .is_some_and(|d| d.framing() == Framing::Lines || d.format() == Format::Json);
            if framed && pending.len() > st.cfg.max_document + st.cfg.piece_bytes {
                return BodyError::LongDocument {
                    limit: st.cfg.max_document,
                }
                .response();
            }
            continue;
        }
        // The piece's events are about to exist beside its bytes.
        if let Err(resp) = st.reserve(&mut turn, pending.len() + cut * DECODED_FACTOR) {
            return *resp;
        }
        let rest = pending.split_off(cut);
        let piece = std::mem::replace(&mut pending, rest);
        let mut batch = Batch::new(st.cfg.name.clone());
        batch.principal = principal.as_ref().map(|p| p.name.clone());
        batch.org = principal.as_ref().and_then(|p| p.org.clone());
        let c = ctx.clone();
        let mut d = decoder.take();
        let done = tokio::task::spawn_blocking(move || {
            match d.as_mut() {
                Some(dec) => {
                    dec.decode(&piece, &c, &mut batch);
                    if eof {
                        dec.finish(&c, &mut batch);
                    }
                }
                None => batch.reject(
                    Reject::new(
                        &c,
                        Location::offset(c.offset_base),
                        "format not recognised by its content; name it with ?format= \
                         (json, syslog, cef, leef, eve, zeek, auditd, access, netflow, evtx)",
                    )
                    .raw(&piece),
                ),
            }
            let lines = memchr::memchr_iter(b'\n', &piece).count() as u64;
            (d, batch, lines, piece.len())
        })
        .await;
        let Ok((d, batch, lines, len)) = done else {
            return task_failed();
        };
        decoder = d;
        let before = Stored {
            events: accepted,
            // `line_base` is the number of the piece's first line.
            lines: ctx.line_base - 1,
            bytes: ctx.offset_base,
        };
        ctx.line_base += lines;
        ctx.offset_base += len as u64;
        accepted += batch.events.len();
        rejected += batch.rejects.len();
        shown.extend(
            batch
                .rejects
                .iter()
                .take(REJECTS_SHOWN.saturating_sub(shown.len()))
                .map(Reject::to_json),
        );
        if !batch.is_empty() {
            if let Err(resp) = submit_part(&st, batch, Some(before)).await {
                return resp;
            }
        }
        turn.held.shrink_to(pending.len());
    }
    st.metrics.emit(BytesReceived {
        bytes: body.raw,
        messages: 1,
    });
    axum::Json(json!({
        "accepted": accepted,
        "rejected": rejected,
        "rejects": shown,
    }))
    .into_response()
}

async fn bulk<S: IngestSink>(State(st): State<Arc<HttpState<S>>>, req: Request) -> Response {
    bulk_request(st, None, req).await
}

async fn bulk_index<S: IngestSink>(
    State(st): State<Arc<HttpState<S>>>,
    Path(index): Path<String>,
    req: Request,
) -> Response {
    bulk_request(st, Some(index), req).await
}

/// One bulk item's outcome, in request order.
#[derive(Debug)]
enum Item {
    Stored {
        action: &'static str,
        index: String,
        id: String,
        /// `created`, or `noop` for an `index` of an id already stored.
        result: &'static str,
        status: u16,
    },
    Failed {
        action: String,
        index: String,
        id: Option<String>,
        status: u16,
        kind: &'static str,
        reason: String,
    },
}

/// A request-level fault: Elasticsearch answers 400 for the whole request.
/// Pieces of a large body before the fault are already stored.
#[derive(Debug)]
struct Malformed(String);

/// Ids claimed in the window but not yet durable: released if the request
/// ends before they are (a failed store, a client that went away), so a
/// retry stores them.
struct Claimed {
    ids: Option<Arc<BulkIds>>,
    keys: Vec<Key>,
}

impl Claimed {
    fn commit(&mut self) {
        if let Some(ids) = &self.ids {
            let now = unix_now();
            if let Err(e) = ids.commit(&self.keys, now) {
                tracing::warn!(error = %e, "bulk ids not journalled; a retry of these may be stored twice");
            }
        }
        self.keys.clear();
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if let Some(ids) = &self.ids {
            ids.release(&self.keys);
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn bulk_request<S: IngestSink>(
    st: Arc<HttpState<S>>,
    path_index: Option<String>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let source = peer_of(&req);
    let principal = principal_of(&req);
    let mut turn = match st.turn().await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let mut body =
        match BodyReader::new(req, st.cfg.max_body, st.cfg.step_cap(), st.cfg.body_timeout) {
            Ok(b) => b,
            Err(e) => return e.response(),
        };
    let default_index = path_index.unwrap_or_else(|| st.cfg.default_index.clone());
    let mut ctx = DecodeContext::new(source, Format::Json);
    ctx.default_tz = st.cfg.default_tz;
    let mut parser = Some(BulkParser::new(default_index));
    let mut items: Vec<Item> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut eof = false;
    while !eof {
        eof = match body.next_into(&mut pending).await {
            Ok(more) => !more,
            Err(e) => return e.response(),
        };
        if let Err(resp) = st.reserve(&mut turn, pending.len()) {
            return *resp;
        }
        let cut = cut_point(&pending, st.cfg.piece_bytes, eof);
        if cut == 0 && !eof {
            if pending.len() > st.cfg.max_document + st.cfg.piece_bytes {
                return BodyError::LongDocument {
                    limit: st.cfg.max_document,
                }
                .response();
            }
            continue;
        }
        if let Err(resp) = st.reserve(&mut turn, pending.len() + cut * DECODED_FACTOR) {
            return *resp;
        }
        let rest = pending.split_off(cut);
        let piece = std::mem::replace(&mut pending, rest);
        let mut batch = Batch::new(st.cfg.name.clone());
        batch.principal = principal.as_ref().map(|p| p.name.clone());
        batch.org = principal.as_ref().and_then(|p| p.org.clone());
        let (c, st2, mut p) = (ctx.clone(), st.clone(), parser.take());
        let parsed = tokio::task::spawn_blocking(move || {
            let mut claimed = Claimed {
                ids: st2.cfg.bulk_ids.clone(),
                keys: Vec::new(),
            };
            let mut got = Vec::new();
            let r = p.as_mut().map(|p| {
                p.feed(&piece, &c, &mut batch, &mut got, &mut claimed, || {
                    let n = st2.seq.fetch_add(1, Ordering::Relaxed);
                    format!("{}-{n:x}", st2.id_prefix)
                })?;
                if eof {
                    p.finish()?;
                }
                Ok(())
            });
            (p, r, got, batch, claimed)
        })
        .await;
        let Ok((p, r, got, batch, mut claimed)) = parsed else {
            return task_failed();
        };
        parser = p;
        if let Some(Err(Malformed(reason))) = r {
            return es_error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &reason,
            );
        }
        let dups = got
            .iter()
            .filter(|i| {
                matches!(
                    i,
                    Item::Stored { result: "noop", .. } | Item::Failed { status: 409, .. }
                )
            })
            .count();
        st.metrics.emit(DuplicatesSkipped { count: dups as u64 });
        items.extend(got);
        if !batch.is_empty() {
            if let Err(resp) = submit(&st, batch).await {
                return resp;
            }
        }
        claimed.commit();
        turn.held.shrink_to(pending.len());
    }
    if items.is_empty() {
        return es_error(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        );
    }
    st.metrics.emit(BytesReceived {
        bytes: body.raw,
        messages: items.len() as u64,
    });
    let mut errors = false;
    let items: Vec<J> = items
        .into_iter()
        .map(|item| match item {
            Item::Stored {
                action,
                index,
                id,
                result,
                status,
            } => {
                let seq = st.seq.fetch_add(1, Ordering::Relaxed);
                json!({ action: {
                    "_index": index,
                    "_id": id,
                    "_version": 1,
                    "result": result,
                    "_shards": {"total": 1, "successful": 1, "failed": 0},
                    "_seq_no": seq,
                    "_primary_term": 1,
                    "status": status,
                }})
            }
            Item::Failed {
                action,
                index,
                id,
                status,
                kind,
                reason,
            } => {
                errors = true;
                let mut m = Map::new();
                m.insert(
                    action,
                    json!({
                        "_index": index,
                        "_id": id,
                        "status": status,
                        "error": {"type": kind, "reason": reason},
                    }),
                );
                J::Object(m)
            }
        })
        .collect();
    let took = started.elapsed().as_millis() as u64;
    axum::Json(json!({"took": took, "errors": errors, "items": items})).into_response()
}

/// An action line waiting for its document.
struct Awaiting {
    action: &'static str,
    index: String,
    id: Option<String>,
    line_no: u64,
}

/// Cuts a bulk body into items, piece by piece (an action and its
/// document may fall into different pieces). Documents go into the batch
/// (with `_index` and, when the action names one, `_id`); bad documents
/// become rejects and failed items.
struct BulkParser {
    default_index: String,
    awaiting: Option<Awaiting>,
    /// After `update`: its document line is skipped.
    skip_doc: bool,
    line: u64,
    offset: u64,
}

impl BulkParser {
    fn new(default_index: String) -> Self {
        BulkParser {
            default_index,
            awaiting: None,
            skip_doc: false,
            line: 0,
            offset: 0,
        }
    }

    fn finish(&mut self) -> Result<(), Malformed> {
        match self.awaiting.take() {
            Some(a) => Err(Malformed(format!(
                "The bulk request must be terminated by a newline [\\n]; action on line [{}] has no document",
                a.line_no
            ))),
            None => Ok(()),
        }
    }

    fn feed(
        &mut self,
        piece: &[u8],
        ctx: &DecodeContext,
        batch: &mut Batch,
        items: &mut Vec<Item>,
        claimed: &mut Claimed,
        mut new_id: impl FnMut() -> String,
    ) -> Result<(), Malformed> {
        let mut lines = LineIter {
            data: piece,
            pos: 0,
            line: self.line,
        };
        let base = self.offset;
        let result = (|| {
            while let Some((line, line_no, off)) = lines.next_nonblank() {
                if self.skip_doc {
                    self.skip_doc = false;
                    continue;
                }
                match self.awaiting.take() {
                    None => self.action(line, line_no, items)?,
                    Some(a) => {
                        let loc = Location::line(line_no, base + off as u64);
                        self.document(
                            a,
                            line,
                            line_no,
                            loc,
                            ctx,
                            batch,
                            items,
                            claimed,
                            &mut new_id,
                        )
                    }
                }
            }
            Ok(())
        })();
        self.line = lines.line;
        self.offset += piece.len() as u64;
        result
    }

    fn action(
        &mut self,
        line: &[u8],
        line_no: u64,
        items: &mut Vec<Item>,
    ) -> Result<(), Malformed> {
        let action: Map<String, J> = serde_json::from_slice(line)
            .map_err(|e| Malformed(format!("Malformed action/metadata line [{line_no}]: {e}")))?;
        let mut entries = action.into_iter();
        let (Some((name, meta)), None) = (entries.next(), entries.next()) else {
            return Err(Malformed(format!(
                "Malformed action/metadata line [{line_no}], expected a single action"
            )));
        };
        let meta = meta.as_object();
        let text = |k: &str| {
            meta.and_then(|m| m.get(k)).and_then(|v| match v {
                J::String(s) => Some(s.clone()),
                J::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let index = text("_index").unwrap_or_else(|| self.default_index.clone());
        let id = text("_id");
        let action: &'static str = match name.as_str() {
            "index" => "index",
            "create" => "create",
            "update" => {
                self.skip_doc = true;
                items.push(Item::Failed {
                    action: name, index, id, status: 400,
                    kind: "action_request_validation_exception",
                    reason: "taishi stores events: update is not supported, send index or create".into(),
                });
                return Ok(());
            }
            "delete" => {
                items.push(Item::Failed {
                    action: name, index, id, status: 400,
                    kind: "action_request_validation_exception",
                    reason: "taishi stores events: delete is not supported".into(),
                });
                return Ok(());
            }
            other => {
                return Err(Malformed(format!(
                    "Malformed action/metadata line [{line_no}], expected field [create, delete, index, update] but found [{other}]"
                )))
            }
        };
        self.awaiting = Some(Awaiting {
            action,
            index,
            id,
            line_no,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn document(
        &mut self,
        a: Awaiting,
        doc: &[u8],
        doc_line: u64,
        loc: Location,
        ctx: &DecodeContext,
        batch: &mut Batch,
        items: &mut Vec<Item>,
        claimed: &mut Claimed,
        new_id: &mut impl FnMut() -> String,
    ) {
        let Awaiting {
            action, index, id, ..
        } = a;
        let fail = |reason: String, batch: &mut Batch| {
            batch.reject(Reject::new(ctx, loc, reason.clone()).raw(doc));
            Item::Failed {
                action: action.to_string(),
                index: index.clone(),
                id: id.clone(),
                status: 400,
                kind: "document_parsing_exception",
                reason: format!("[{doc_line}:1] failed to parse: {reason}"),
            }
        };
        let value: J = match serde_json::from_slice(doc) {
            Ok(v) => v,
            Err(e) => {
                items.push(fail(format!("document is not valid JSON: {e}"), batch));
                return;
            }
        };
        let mut ev = match taishi_format_json::document_event(value, ctx) {
            Ok(ev) => ev,
            Err(reason) => {
                items.push(fail(reason.to_string(), batch));
                return;
            }
        };
        ev.set("_index", index.as_str());
        let Some(id) = id else {
            batch.event(ev);
            items.push(Item::Stored {
                action,
                index,
                id: new_id(),
                result: "created",
                status: 201,
            });
            return;
        };
        ev.set("_id", id.as_str());
        let claim = match &claimed.ids {
            Some(ids) => {
                let k = dedup::key(&index, &id);
                let c = ids.claim(k, unix_now());
                if c == Claim::New {
                    claimed.keys.push(k);
                }
                c
            }
            None => Claim::New,
        };
        items.push(match (claim, action) {
            (Claim::New, _) => {
                batch.event(ev);
                Item::Stored {
                    action,
                    index,
                    id,
                    result: "created",
                    status: 201,
                }
            }
            // Elasticsearch overwrites on `index`; events are immutable
            // here, and the one stored is the same document resent.
            (Claim::Stored, "index") => Item::Stored {
                action,
                index,
                id,
                result: "noop",
                status: 200,
            },
            (Claim::Stored, _) => Item::Failed {
                action: action.to_string(),
                reason: format!(
                    "[{id}]: version conflict, document already exists (current version [1])"
                ),
                index,
                id: Some(id),
                status: 409,
                kind: "version_conflict_engine_exception",
            },
            (Claim::InFlight, _) => Item::Failed {
                action: action.to_string(),
                reason: format!("[{id}] is being stored by another request; retry this item"),
                index,
                id: Some(id),
                status: 429,
                kind: "es_rejected_execution_exception",
            },
        });
    }
}

struct LineIter<'a> {
    data: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> LineIter<'a> {
    /// The next line that is not blank: (line, 1-based number, offset).
    fn next_nonblank(&mut self) -> Option<(&'a [u8], u64, usize)> {
        loop {
            let rest = self.data.get(self.pos..)?;
            if rest.is_empty() {
                return None;
            }
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let start = self.pos;
            self.pos += end + 1;
            self.line += 1;
            let mut line = &rest[..end];
            while let [l @ .., b'\r'] = line {
                line = l;
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some((line, self.line, start));
            }
        }
    }
}
