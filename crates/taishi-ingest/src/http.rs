//! HTTP ingest: `POST /ingest` (NDJSON, or any format with `?format=`)
//! and the Elasticsearch `_bulk` API with the endpoints shippers probe
//! before sending (Vector, Fluent Bit, Logstash, Beats), returned as an
//! [`axum::Router`] the service mounts beside its own API.
//!
//! Responses are sent only after the sink made the batch durable; a sink
//! failure is a 503 (shippers retry). Bodies may be gzip-compressed
//! (`Content-Encoding: gzip`, what Beats send by default).

use std::io::Read;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value as J};
use taishi_event::{DecodeContext, Format, Location, Reject, Sink};
use tokio::sync::Semaphore;

use crate::{deliver, Batch, IngestSink, ListenerMetrics, SinkError};

/// Decides whether a request may ingest: `Ok(Some(principal))` or
/// `Ok(None)` to accept (the principal is carried on the batch),
/// `Err(reason)` to answer 401. The service plugs its API keys or basic
/// auth in here; every route of the router goes through it.
pub trait Authenticate: Send + Sync + 'static {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<String>, String>;
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
}

impl HttpConfig {
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        HttpConfig {
            name: name.into(),
            max_body: 100 << 20,
            max_in_flight: 64,
            es_version: "8.17.0".into(),
            default_index: "taishi".into(),
            default_tz: chrono::Offset::fix(&chrono::Utc),
            auth: None,
        }
    }
}

struct HttpState<S> {
    sink: Arc<S>,
    cfg: HttpConfig,
    metrics: Arc<ListenerMetrics>,
    in_flight: Semaphore,
    seq: AtomicU64,
    /// Prefix of generated document ids: unique per process start.
    id_prefix: String,
}

/// The principal the authentication hook named, kept for the handlers.
#[derive(Clone)]
struct Principal(Arc<str>);

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
        in_flight: Semaphore::new(cfg.max_in_flight.max(1)),
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
                req.extensions_mut().insert(Principal(Arc::from(p)));
            }
            next.run(req).await
        }
        Err(reason) => {
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
    let body = json!({
        "error": {
            "root_cause": [{"type": kind, "reason": reason}],
            "type": kind,
            "reason": reason,
        },
        "status": status.as_u16(),
    });
    (status, axum::Json(body)).into_response()
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

fn principal_of(req: &Request) -> Option<Arc<str>> {
    req.extensions().get::<Principal>().map(|p| p.0.clone())
}

/// Reads the body, inflating gzip, within `limit` bytes.
async fn read_body(req: Request, limit: usize) -> Result<Bytes, Response> {
    let gzip = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip"));
    let too_large = || {
        es_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "content_too_long_exception",
            &format!("request body is larger than the {limit}-byte limit"),
        )
    };
    let body = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_large())?;
    if !gzip {
        return Ok(body);
    }
    let out = tokio::task::spawn_blocking(move || {
        let mut out = Vec::with_capacity(body.len() * 4);
        flate2::read::MultiGzDecoder::new(&body[..])
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map(|_| out)
    })
    .await
    .map_err(|_| {
        es_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            "decompression task failed",
        )
    })?
    .map_err(|e| {
        es_error(
            StatusCode::BAD_REQUEST,
            "parse_exception",
            &format!("gzip body could not be inflated: {e}"),
        )
    })?;
    if out.len() > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(out))
}

/// Submits under the in-flight bound; a sink failure is a 503.
async fn submit<S: IngestSink>(st: &HttpState<S>, batch: Batch) -> Result<(), Response> {
    let _permit = st.in_flight.acquire().await.map_err(|_| {
        es_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "ingest is shutting down",
        )
    })?;
    deliver(&*st.sink, &st.metrics, batch).await.map_err(|e| {
        let kind = match e {
            SinkError::Closed => "node_closed_exception",
            SinkError::Unavailable(_) => "unavailable_shards_exception",
        };
        let mut resp = es_error(StatusCode::SERVICE_UNAVAILABLE, kind, &e.to_string());
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        resp
    })
}

#[derive(Debug, Deserialize)]
struct IngestParams {
    format: Option<String>,
}

/// How many rejects an `/ingest` response lists (all are in the batch).
const REJECTS_SHOWN: usize = 20;

async fn ingest<S: IngestSink>(
    State(st): State<Arc<HttpState<S>>>,
    Query(params): Query<IngestParams>,
    req: Request,
) -> Response {
    let format = match params.format.as_deref() {
        None | Some("ndjson") | Some("json") => Some(Format::Json),
        Some("auto") => None,
        Some(f) => match Format::from_str(f) {
            Ok(f) => Some(f),
            Err(e) => return es_error(StatusCode::BAD_REQUEST, "illegal_argument_exception", &e),
        },
    };
    let source = peer_of(&req);
    let principal = principal_of(&req);
    let body = match read_body(req, st.cfg.max_body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    st.metrics.input(body.len(), 1);
    let mut batch = Batch::new(st.cfg.name.clone());
    batch.principal = principal;
    let tz = st.cfg.default_tz;
    let decoded = tokio::task::spawn_blocking(move || {
        let format = format
            .or_else(|| taishi_decode::detect(&body[..body.len().min(64 << 10)]).map(|d| d.0));
        let mut ctx = DecodeContext::new(source, format.unwrap_or(Format::Json));
        ctx.default_tz = tz;
        match format {
            Some(f) => {
                let mut d = taishi_decode::new_decoder(f);
                d.decode(&body, &ctx, &mut batch);
                d.finish(&ctx, &mut batch);
            }
            None => batch.reject(
                Reject::new(
                    &ctx,
                    Location::offset(0),
                    "format not recognised; name it with ?format=",
                )
                .raw(&body),
            ),
        }
        batch
    })
    .await;
    let Ok(batch) = decoded else {
        return es_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            "decoder task failed",
        );
    };
    let (accepted, rejected) = (batch.events.len(), batch.rejects.len());
    let shown: Vec<J> = batch
        .rejects
        .iter()
        .take(REJECTS_SHOWN)
        .map(Reject::to_json)
        .collect();
    if let Err(resp) = submit(&st, batch).await {
        return resp;
    }
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
enum Item {
    Stored {
        action: &'static str,
        index: String,
        id: String,
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

/// A request-level fault: Elasticsearch answers 400 for the whole request
/// and stores nothing.
struct Malformed(String);

async fn bulk_request<S: IngestSink>(
    st: Arc<HttpState<S>>,
    path_index: Option<String>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let source = peer_of(&req);
    let principal = principal_of(&req);
    let body = match read_body(req, st.cfg.max_body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut batch = Batch::new(st.cfg.name.clone());
    batch.principal = principal;
    let default_index = path_index.unwrap_or_else(|| st.cfg.default_index.clone());
    let tz = st.cfg.default_tz;
    let st2 = st.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let mut ctx = DecodeContext::new(source, Format::Json);
        ctx.default_tz = tz;
        let items = parse_bulk(&body, &default_index, &ctx, &mut batch, || {
            let n = st2.seq.fetch_add(1, Ordering::Relaxed);
            format!("{}-{n:x}", st2.id_prefix)
        });
        (body.len(), items, batch)
    })
    .await;
    let Ok((len, items, batch)) = parsed else {
        return es_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            "bulk task failed",
        );
    };
    let items = match items {
        Ok(items) if items.is_empty() => {
            return es_error(
                StatusCode::BAD_REQUEST,
                "action_request_validation_exception",
                "Validation Failed: 1: no requests added;",
            )
        }
        Ok(items) => items,
        Err(Malformed(reason)) => {
            return es_error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &reason,
            )
        }
    };
    st.metrics.input(len, items.len() as u64);
    if let Err(resp) = submit(&st, batch).await {
        return resp;
    }
    let mut errors = false;
    let items: Vec<J> = items
        .into_iter()
        .map(|item| match item {
            Item::Stored { action, index, id } => {
                let seq = st.seq.fetch_add(1, Ordering::Relaxed);
                json!({ action: {
                    "_index": index,
                    "_id": id,
                    "_version": 1,
                    "result": "created",
                    "_shards": {"total": 1, "successful": 1, "failed": 0},
                    "_seq_no": seq,
                    "_primary_term": 1,
                    "status": 201,
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

/// Cuts a bulk body into items; documents go into `batch` (with `_index`
/// and, when the action names one, `_id`), bad documents become rejects
/// and failed items.
fn parse_bulk(
    body: &[u8],
    default_index: &str,
    ctx: &DecodeContext,
    batch: &mut Batch,
    mut new_id: impl FnMut() -> String,
) -> Result<Vec<Item>, Malformed> {
    let mut items = Vec::new();
    let mut lines = LineIter {
        data: body,
        pos: 0,
        line: 0,
    };
    while let Some((action_line, line_no, _)) = lines.next_nonblank() {
        let action: Map<String, J> = serde_json::from_slice(action_line)
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
        let index = text("_index").unwrap_or_else(|| default_index.to_string());
        let id = text("_id");
        let action: &'static str = match name.as_str() {
            "index" => "index",
            "create" => "create",
            "update" => {
                let _ = lines.next_nonblank();
                items.push(Item::Failed {
                    action: name, index, id, status: 400,
                    kind: "action_request_validation_exception",
                    reason: "taishi stores events: update is not supported, send index or create".into(),
                });
                continue;
            }
            "delete" => {
                items.push(Item::Failed {
                    action: name, index, id, status: 400,
                    kind: "action_request_validation_exception",
                    reason: "taishi stores events: delete is not supported".into(),
                });
                continue;
            }
            other => {
                return Err(Malformed(format!(
                    "Malformed action/metadata line [{line_no}], expected field [create, delete, index, update] but found [{other}]"
                )))
            }
        };
        let Some((doc, doc_line, doc_off)) = lines.next_nonblank() else {
            return Err(Malformed(format!(
                "The bulk request must be terminated by a newline [\\n]; action on line [{line_no}] has no document"
            )));
        };
        let loc = Location::line(doc_line, doc_off as u64);
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
                continue;
            }
        };
        match taishi_format_json::document_event(value, ctx) {
            Ok(mut ev) => {
                ev.set("_index", index.as_str());
                if let Some(id) = &id {
                    ev.set("_id", id.as_str());
                }
                batch.event(ev);
                items.push(Item::Stored {
                    action,
                    index,
                    id: id.unwrap_or_else(&mut new_id),
                });
            }
            Err(reason) => items.push(fail(reason, batch)),
        }
    }
    Ok(items)
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
