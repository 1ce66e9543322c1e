//! The anomaly detectors in the service: built from `[anomaly]`, their
//! baselines loaded from DATA_DIR/anomaly-state.json at start; every
//! `evaluate_secs` the batch scoring (beacons) runs through the pipeline,
//! every `save_secs` and at shutdown the baselines are saved.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::Extension;
use axum::Json;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use taishi_anomaly::Engine;
use taishi_ingest::CancellationToken;

use crate::auth::Caller;
use crate::config::Config;
use crate::routes::{blocking, R, S};
use crate::App;

/// The engine, with what the previous run learned; None when switched off.
pub(crate) async fn open(config: &Config) -> anyhow::Result<Option<Arc<Engine>>> {
    if !config.anomaly.enabled {
        return Ok(None);
    }
    let cfg = config.anomaly.clone();
    let path = config.anomaly_state_path();
    let engine = tokio::task::spawn_blocking(move || -> anyhow::Result<Engine> {
        let e = Engine::new(cfg)?;
        match e.load_from(&path) {
            Ok(true) => tracing::info!(orgs = e.orgs(), "anomaly baselines loaded"),
            Ok(false) => tracing::info!("anomaly detectors start learning (no saved baselines)"),
            // A damaged file costs the baselines, not the service.
            Err(err) => {
                tracing::warn!(error = %err, "anomaly baselines not loaded: learning again")
            }
        }
        Ok(e)
    })
    .await??;
    Ok(Some(Arc::new(engine)))
}

/// Saves the baselines (logged, never fatal).
pub(crate) async fn save(app: &Arc<App>) {
    let Some(e) = app.anomaly.clone() else { return };
    let path = app.config.anomaly_state_path();
    let done = tokio::task::spawn_blocking(move || e.save_to(&path)).await;
    if let Ok(Err(err)) = done {
        tracing::warn!(error = %err, "anomaly baselines not saved");
    }
}

pub(crate) fn spawn(
    app: Arc<App>,
    engine: Arc<Engine>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let c = engine.config();
    let every = Duration::from_secs(c.evaluate_secs.max(1));
    let save_every = Duration::from_secs(c.save_secs);
    tokio::spawn(async move {
        let mut next_eval = tokio::time::Instant::now() + every;
        let mut next_save = tokio::time::Instant::now() + save_every;
        loop {
            let wake = if save_every.is_zero() {
                next_eval
            } else {
                next_eval.min(next_save)
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep_until(wake) => {}
            }
            let now = tokio::time::Instant::now();
            if now >= next_eval {
                let p = app.pipeline.clone();
                let _ = tokio::task::spawn_blocking(move || p.tick()).await;
                next_eval = now + every;
            }
            if !save_every.is_zero() && now >= next_save {
                save(&app).await;
                next_save = now + save_every;
            }
        }
    })
}

// ---- GET /anomaly/status -----------------------------------------------------

/// `GET /api/v1/anomaly/status`: the detectors of each organisation in the
/// caller's scope,
/// whether the ones that learn a baseline are still quiet and until when,
/// and how full their bounded tables are.
#[derive(Serialize, JsonSchema)]
pub struct AnomalyStatus {
    /// `[anomaly] enabled`.
    pub enabled: bool,
    /// `[anomaly] learning_hours`: hours of each organisation's events
    /// (event time, from its first) during which beacon, DNS-tunnel and
    /// exfiltration findings are not raised.
    pub learning_hours: u64,
    /// Events not examined: their organisation came after `max_orgs`.
    pub refused_events: u64,
    pub orgs: Vec<AnomalyOrg>,
    /// The look-alike watch's cache of clean names (empty without brands).
    pub lookalike: Vec<AnomalyTable>,
}

#[derive(Serialize, JsonSchema)]
pub struct AnomalyOrg {
    /// `organization.id` of the events; null for events without one.
    pub org: Option<String>,
    /// Whether the learning detectors are still quiet.
    pub learning: bool,
    /// Event time of the organisation's first record.
    pub learning_since: Option<DateTime<Utc>>,
    /// When the learning period ends (event time); null without one.
    pub learning_until: Option<DateTime<Utc>>,
    /// Latest event time seen.
    pub last_event: Option<DateTime<Utc>>,
    /// The state in words.
    pub message: Words,
    pub detectors: Vec<AnomalyDetector>,
    /// (kind, entity) pairs remembered to raise one alert per window.
    pub dedup: AnomalyTable,
}

#[derive(Serialize, JsonSchema)]
pub struct AnomalyDetector {
    /// `beacon`, `scan`, `brute_force`, `dga`, `tunnel`, `exfil`.
    pub detector: String,
    /// Whether it learns a baseline (and waits out the learning period).
    pub learns: bool,
    pub tables: Vec<AnomalyTable>,
    pub note: Option<Words>,
}

/// One bounded table: entries held, its cap, entries evicted so far.
#[derive(Serialize, JsonSchema)]
pub struct AnomalyTable {
    pub name: String,
    pub entries: u64,
    pub cap: u64,
    pub evicted: u64,
}

/// A sentence in both languages (the audit trail's label type).
type Words = crate::routes::audit::Labels;

fn words(t: taishi_anomaly::Text) -> Words {
    Words { en: t.en, zh: t.zh }
}

fn table(t: taishi_anomaly::TableStatus) -> AnomalyTable {
    AnomalyTable {
        name: t.name.to_string(),
        entries: t.entries as u64,
        cap: t.cap as u64,
        evicted: t.evicted,
    }
}

fn at(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

fn org_status(o: taishi_anomaly::OrgStatus) -> AnomalyOrg {
    let until = at(o.learning_until_ms);
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let message = match (o.learning, until) {
        (true, Some(u)) => Words {
            zh: format!(
                "学习期：信标、DNS 隧道与外传检测在 {}（事件时间）之前只学习基线，不告警",
                stamp(u)
            ),
            en: format!(
                "learning: beacon, DNS-tunnel and exfiltration detection learn their baselines and raise nothing until {} (event time)",
                stamp(u)
            ),
        },
        (true, None) => Words {
            zh: "学习期：尚未收到事件".into(),
            en: "learning: no events yet".into(),
        },
        (false, _) => Words {
            zh: "全部检测已启用".into(),
            en: "every detector is raising alerts".into(),
        },
    };
    AnomalyOrg {
        org: o.org,
        learning: o.learning,
        learning_since: at(o.learning_since_ms),
        learning_until: until,
        last_event: at(o.last_event_ms),
        message,
        detectors: o
            .detectors
            .into_iter()
            .map(|d| AnomalyDetector {
                detector: d.detector.to_string(),
                learns: d.learns,
                tables: d.tables.into_iter().map(table).collect(),
                note: d.note.map(words),
            })
            .collect(),
        dedup: table(o.dedup),
    }
}

pub(crate) async fn status(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
) -> R<Json<AnomalyStatus>> {
    blocking(move || {
        let Some(e) = app.anomaly.clone() else {
            return Ok(Json(AnomalyStatus {
                enabled: false,
                learning_hours: app.config.anomaly.learning_hours,
                refused_events: 0,
                orgs: Vec::new(),
                lookalike: Vec::new(),
            }));
        };
        let s = e.status();
        Ok(Json(AnomalyStatus {
            enabled: true,
            learning_hours: s.learning_hours,
            refused_events: s.refused_events,
            // Each caller sees the organisations of its own subtree (events
            // without an organisation: the whole platform's callers only).
            orgs: s
                .orgs
                .into_iter()
                .filter(|o| match &o.org {
                    Some(org) => c.scope.contains(org),
                    None => matches!(c.scope, crate::state::Scope::All),
                })
                .map(org_status)
                .collect(),
            lookalike: s.lookalike.into_iter().map(table).collect(),
        }))
    })
    .await
}
