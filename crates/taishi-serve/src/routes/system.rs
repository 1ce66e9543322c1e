//! The service itself: liveness, health, Prometheus metrics, this API's
//! OpenAPI document; and the HTTP ingest routes (served by
//! `taishi_ingest::http`).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as J;

use super::{blocking, Access, Object, Route, R, S};
use crate::auth::Permission as P;
use crate::App;

pub fn routes() -> Vec<Route> {
    let mut r = vec![
        Route::new(Method::GET, "/livez", Access::Public, livez)
            .doc(
                "system",
                "Liveness probe: answers while the process serves HTTP",
                "存活探针：进程能响应 HTTP 即返回",
            )
            .answer::<Live>(),
        Route::new(Method::GET, "/health", Access::Needs(P::SystemRead), health)
            .doc(
                "system",
                "Service health: store, listeners, rules, pipeline",
                "服务健康：存储、监听器、规则、流水线",
            )
            .answer::<Health>(),
        Route::new(
            Method::GET,
            "/metrics",
            Access::Needs(P::SystemRead),
            metrics_text,
        )
        .at_root()
        .doc("system", "Prometheus metrics", "Prometheus 指标")
        .text("text/plain"),
        Route::new(Method::GET, "/openapi.json", Access::Public, openapi)
            .doc("system", "This document", "本文档")
            .answer::<Object>(),
        Route::new(
            Method::GET,
            "/anomaly/status",
            Access::Needs(P::SystemRead),
            crate::anomaly::status,
        )
        .doc(
            "system",
            "Anomaly detectors: learning period per organisation, table fills and evictions",
            "异常检测状态：各组织的学习期、表容量与淘汰数",
        )
        .answer::<crate::anomaly::AnomalyStatus>(),
    ];
    r.extend(ingest_routes());
    r
}

/// The routes of `taishi_ingest::http::router`, which the service merges
/// under `/api/v1`: NDJSON and the Elasticsearch `_bulk` API, and the
/// handshake calls Elasticsearch clients make before they send.
fn ingest_routes() -> Vec<Route> {
    const NDJSON: &[&str] = &["application/x-ndjson", "application/json", "text/plain"];
    let (es, es_zh) = (
        "Elasticsearch client handshake (answered so that shippers start)",
        "Elasticsearch 客户端握手（应答以便采集器启动）",
    );
    let mut r = vec![Route::ingest(Method::POST, "/ingest")
        .doc(
            "ingest",
            "Ingest NDJSON (or ?format=syslog|cef|eve|…); answered once durable",
            "写入 NDJSON（或 ?format=syslog|cef|eve|…）；持久化后应答",
        )
        .raw(NDJSON)];
    for m in [Method::POST, Method::PUT] {
        r.push(
            Route::ingest(m.clone(), "/_bulk")
                .doc(
                    "ingest",
                    "Elasticsearch bulk API (Vector, Fluent Bit, Logstash, Beats)",
                    "Elasticsearch 批量接口（Vector、Fluent Bit、Logstash、Beats）",
                )
                .raw(NDJSON),
        );
        r.push(
            Route::ingest(m, "/{index}/_bulk")
                .doc(
                    "ingest",
                    "Elasticsearch bulk API with a default index",
                    "带默认索引的 Elasticsearch 批量接口",
                )
                .raw(NDJSON),
        );
    }
    for (m, p) in [
        (Method::GET, "/"),
        (Method::HEAD, "/"),
        (Method::GET, "/_license"),
        (Method::GET, "/_xpack"),
        (Method::GET, "/_cluster/health"),
        (Method::PUT, "/_index_template/{name}"),
        (Method::PUT, "/_template/{name}"),
        (Method::PUT, "/_component_template/{name}"),
        (Method::PUT, "/_ilm/policy/{name}"),
        (Method::PUT, "/_data_stream/{name}"),
        (Method::PUT, "/_ingest/pipeline/{name}"),
        (Method::PUT, "/_alias/{name}"),
        (Method::PUT, "/{index}"),
        (Method::HEAD, "/{index}"),
    ] {
        r.push(Route::ingest(m, p).doc("ingest", es, es_zh));
    }
    r
}

#[derive(Serialize, JsonSchema)]
pub struct Live {
    /// Always `ok`.
    pub status: &'static str,
}

async fn livez() -> Json<Live> {
    Json(Live { status: "ok" })
}

async fn openapi() -> Json<J> {
    Json(crate::openapi_document())
}

#[derive(Serialize, JsonSchema)]
pub struct Health {
    /// `ok`, or `degraded` after a background store error.
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_s: u64,
    pub store: StoreHealth,
    pub listeners: Vec<taishi_ingest::ListenerStatus>,
    pub rules: RulesHealth,
    /// The outputs as `GET /settings/outputs` lists them.
    pub alerts_outputs: Vec<taishi_alert::OutputItem>,
    pub pipeline: PipelineHealth,
}

#[derive(Serialize, JsonSchema)]
pub struct StoreHealth {
    pub events: u64,
    pub bytes: u64,
    pub partitions: usize,
    pub wal_bytes: u64,
    pub bytes_per_event: f64,
    pub last_seq: u64,
    pub durable_seq: u64,
    pub checkpoint_seq: u64,
    pub outside_events: u64,
    pub unrepresentable_events: u64,
    pub open_writers: usize,
    /// How long events are kept, counted from when Taishi received them
    /// (old logs imported today are kept this long from today).
    pub retention_days: u32,
    /// The size cap (oldest days dropped first above it); 0 for none.
    pub max_size_gib: f64,
    /// The last background error (indexing, retention), if any.
    pub error: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct RulesHealth {
    pub loaded: usize,
    pub compiled: usize,
    pub rejected: usize,
    pub disabled: usize,
}

#[derive(Serialize, JsonSchema)]
pub struct PipelineHealth {
    pub events: u64,
    pub alerts: u64,
    pub rejects: u64,
    pub rejects_dropped: u64,
}

pub fn health_of(app: &App) -> Health {
    let st = app.store.stats();
    let d = app.rules.current();
    Health {
        status: if st.last_background_error.is_some() {
            "degraded"
        } else {
            "ok"
        },
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: app.started.elapsed().as_secs(),
        store: StoreHealth {
            events: st.events,
            bytes: st.index_bytes,
            partitions: st.partitions.len(),
            wal_bytes: st.wal_bytes,
            bytes_per_event: st.bytes_per_event,
            last_seq: st.last_seq,
            durable_seq: st.durable_seq,
            checkpoint_seq: st.checkpoint_seq,
            outside_events: st.outside_events,
            unrepresentable_events: st.unrepresentable_events,
            open_writers: st.open_writers,
            retention_days: app.config.store.retention_days,
            max_size_gib: app.config.store.max_size_gib,
            error: st.last_background_error,
        },
        listeners: app.listener_status(),
        rules: RulesHealth {
            loaded: d.infos.len(),
            compiled: d.engine.active_rules(),
            rejected: d.rejected.len(),
            disabled: d.infos.iter().filter(|i| !i.enabled).count(),
        },
        alerts_outputs: app.outputs.list().items,
        pipeline: PipelineHealth {
            events: app.pipeline.counters.events_in.load(Ordering::Relaxed),
            alerts: app.pipeline.counters.alerts_raised.load(Ordering::Relaxed),
            rejects: app.pipeline.rejects.count.load(Ordering::Relaxed),
            rejects_dropped: app.pipeline.rejects.dropped.load(Ordering::Relaxed),
        },
    }
}

async fn health(State(app): State<S>) -> R<Json<Health>> {
    blocking(move || Ok(Json(health_of(&app)))).await
}

/// Every component writes its own series; this only puts them together.
async fn metrics_text(State(app): State<S>) -> Response {
    let text = blocking(move || {
        let mut out = app.registry.render_prometheus();
        out.push_str(&app.outputs.prometheus());
        out.push_str(&app.searches.prometheus());
        out.push_str(&app.pipeline.prometheus());
        out.push_str(&app.store.stats().prometheus());
        out.push_str(&app.audit_forward.prometheus());
        out.push_str(&app.gate.prometheus());
        out.push_str(&app.grouping.prometheus());
        out.push_str(&app.risk.prometheus());
        if let Some(d) = &app.discovery {
            out.push_str(&d.prometheus());
        }
        Ok(out)
    })
    .await;
    match text {
        Ok(out) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response(),
        Err(e) => e.into_response(),
    }
}
