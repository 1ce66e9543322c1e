//! The overview and its live stream.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{blocking, internal, parse_range, Access, Route, R, S};
use crate::auth::{Caller, Permission as P};
use crate::state::{Alert, AlertTime};
use taishi_ingest::ListenerStatus;
use taishi_overview::{Overview, OverviewError, Threat};

pub fn routes() -> Vec<Route> {
    let read = Access::Needs(P::OverviewRead);
    vec![
        Route::new(Method::GET, "/overview", read, overview)
            .doc(
                "overview",
                "The situational picture over a time range",
                "时间范围内的态势总览",
            )
            .query::<OverviewQuery>()
            .answer::<OverviewAnswer>(),
        Route::new(Method::GET, "/stream", read, stream)
            .doc(
                "overview",
                "Server-sent events: a tick every 2 s with rates and new alerts",
                "服务器推送事件：每 2 秒一次，含速率和新告警",
            )
            .events::<Tick>(),
    ]
}

#[derive(Deserialize, JsonSchema)]
pub struct OverviewQuery {
    /// Default `now-24h`.
    pub from: Option<String>,
    /// Default `now`.
    pub to: Option<String>,
    /// Which alert time the range selects alerts by: `detected` (default:
    /// when Taishi raised them) or `event` (when their events happened).
    pub time: Option<AlertTime>,
}

/// The picture of a time range, and the service's own live part: its
/// event rate and its listeners (never cached).
#[derive(Serialize, JsonSchema)]
pub struct OverviewAnswer {
    #[serde(flatten)]
    pub picture: Overview,
    /// Events stored per second since the service started.
    pub events_per_s: f64,
    pub listeners: Vec<ListenerStatus>,
}

/// The platform's own figures (event rate, listeners) are the whole
/// platform's: shown to callers who see the top organisation, not to a
/// member, whose picture is its own data only.
fn sees_platform(c: &Caller) -> bool {
    c.scope.contains(crate::state::ROOT_ORG)
}

async fn overview(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<OverviewQuery>,
) -> R<Json<OverviewAnswer>> {
    blocking(move || {
        let (from, to) = (q.from.as_deref(), q.to.as_deref());
        let (f, t) = parse_range(from, to, "now-24h")?;
        let params = (from.unwrap_or_default(), to.unwrap_or_default());
        let picture = app
            .overview_cache
            .get(
                app.picture_sources(&c.scope),
                params,
                taishi_store::TimeRange::new(f, t),
                q.time.unwrap_or_default(),
            )
            .map_err(|e| match e {
                OverviewError::State(e) => e.into(),
                e => internal(e),
            })?;
        let platform = sees_platform(&c);
        Ok(Json(OverviewAnswer {
            picture,
            events_per_s: if platform {
                app.pipeline.counters.events_in.load(Ordering::Relaxed) as f64
                    / app.started.elapsed().as_secs_f64().max(1.0)
            } else {
                0.0
            },
            listeners: if platform {
                app.listener_status()
            } else {
                Vec::new()
            },
        }))
    })
    .await
}

/// One `tick` event of the live stream.
#[derive(Serialize, JsonSchema)]
pub struct Tick {
    pub events_per_s: f64,
    pub alerts_open: u64,
    pub threat_level: &'static str,
    pub threat_score: f64,
    /// Alerts raised since the last tick (at most 50).
    pub new_alerts: Vec<Alert>,
}

async fn stream(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = app.pipeline.live.subscribe();
    let c = std::sync::Arc::new(c);
    let state = (app, rx, 0u64, std::time::Instant::now(), c);
    let s =
        futures_util::stream::unfold(state, |(app, mut rx, last_events, last_t, c)| async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let mut new_alerts = Vec::new();
            loop {
                match rx.try_recv() {
                    // Only the caller's organisations' alerts.
                    Ok(a)
                        if !c
                            .scope
                            .contains(a.org.as_deref().unwrap_or(crate::state::ROOT_ORG)) => {}
                    Ok(a) if new_alerts.len() < 50 => new_alerts.push(a),
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
            let events = app.pipeline.counters.events_in.load(Ordering::Relaxed);
            let dt = last_t.elapsed().as_secs_f64().max(0.001);
            let rate = if last_events == 0 || !sees_platform(&c) {
                0.0
            } else {
                (events - last_events) as f64 / dt
            };
            let (app2, c2) = (app.clone(), c.clone());
            let threat = tokio::task::spawn_blocking(move || {
                let now = chrono::Utc::now();
                let day = (
                    now - chrono::TimeDelta::hours(24),
                    now + chrono::TimeDelta::seconds(1),
                );
                taishi_overview::threat(&app2.state, &c2.scope, day, AlertTime::Detected)
            })
            .await;
            let threat = match threat {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "live stream: threat level not computed");
                    Threat::default()
                }
                Err(_) => Threat::default(),
            };
            let tick = Tick {
                events_per_s: rate,
                alerts_open: threat.open,
                threat_level: threat.level,
                threat_score: threat.score,
                new_alerts,
            };
            let data = serde_json::to_string(&tick).unwrap_or_default();
            let ev = SseEvent::default().event("tick").data(data);
            Some((Ok(ev), (app, rx, events, std::time::Instant::now(), c)))
        });
    Sse::new(s).keep_alive(KeepAlive::default())
}
