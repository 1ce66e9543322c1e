//! The anomaly detectors in the service: built from `[anomaly]`, their
//! baselines loaded from DATA_DIR/anomaly-state.json at start; every
//! `evaluate_secs` the batch scoring (beacons) runs through the pipeline,
//! every `save_secs` and at shutdown the baselines are saved.

use std::sync::Arc;
use std::time::Duration;

use taishi_anomaly::Engine;
use taishi_ingest::CancellationToken;

use crate::config::Config;
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
