//! The alert outputs a service runs: the `[alerts]` section of its
//! config, or the outputs an administrator saved since (the caller keeps
//! them), run by a [`Dispatcher`] that is replaced when they change, with
//! an outbox that keeps undelivered notifications over a restart.
//!
//! Storage of the saved outputs is the caller's: [`Outputs::start`] takes
//! what was saved and [`Outputs::replace`] hands the text to keep to a
//! closure, so this crate needs no database.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use schemars::JsonSchema;
use serde::Serialize;

use crate::config::{AlertsConfig, OutputConfig};
use crate::dispatch::{ConfigProblems, Dispatcher, OutputMetrics, Unsent};
use crate::output::DeliveryError;

/// What a masked secret reads as; sent back unchanged, it keeps the saved
/// secret.
pub const MASK: &str = "********";

/// The outbox file in the data directory.
pub const OUTBOX: &str = "alerts-outbox.jsonl";

/// An output as the settings page shows it: its configuration with the
/// secrets masked and its name filled in, and its delivery counters.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OutputItem {
    #[serde(flatten)]
    pub config: OutputConfig,
    /// None until the dispatcher has counted anything for it.
    pub metrics: Option<OutputMetrics>,
}

/// The outputs and the grouping windows (`GET /settings/outputs`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OutputsList {
    pub items: Vec<OutputItem>,
    pub group_window_s: u64,
    pub suppress_s: u64,
    pub outbox: OutboxCounters,
}

/// Notifications of the disk outbox sent after a restart, and dropped.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct OutboxCounters {
    pub resent: u64,
    pub dropped: u64,
}

/// The outputs could not be replaced.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError<E: std::error::Error + 'static> {
    /// The new outputs are not valid (every problem is named); nothing changed.
    #[error(transparent)]
    Invalid(#[from] ConfigProblems),
    /// The caller could not keep them; nothing changed.
    #[error("the outputs could not be saved: {0}")]
    Save(#[source] E),
}

pub struct Outputs {
    base: AlertsConfig,
    current: ArcSwap<(AlertsConfig, Dispatcher)>,
    /// Notifications kept over a restart: written at shutdown with what the
    /// outputs had not delivered by the drain deadline, read back at start.
    outbox: PathBuf,
    /// Notifications sent again from the outbox since start.
    outbox_resent: AtomicU64,
    /// Notifications the outbox could not keep (over `alerts.outbox_max`,
    /// or their output is gone).
    outbox_dropped: AtomicU64,
}

impl Outputs {
    /// Starts the outputs of `base`, or the `saved` ones (the JSON text
    /// [`Outputs::replace`] gave to keep) when there are. Must run inside
    /// the tokio runtime. Notifications kept in the outbox at the last stop
    /// (`data_dir/alerts-outbox.jsonl`) are queued again.
    pub fn start(
        base: &AlertsConfig,
        saved: Option<&str>,
        data_dir: &Path,
    ) -> Result<Outputs, ConfigProblems> {
        let mut cfg = base.clone();
        if let Some(saved) = saved {
            match serde_json::from_str::<Vec<OutputConfig>>(saved) {
                Ok(o) => cfg.outputs = o,
                Err(e) => {
                    tracing::warn!(error = %e, "saved alert outputs unreadable; using the config file's")
                }
            }
        }
        let d = Dispatcher::start(&cfg)?;
        let o = Outputs {
            base: base.clone(),
            current: ArcSwap::from_pointee((cfg, d)),
            outbox: data_dir.join(OUTBOX),
            outbox_resent: AtomicU64::new(0),
            outbox_dropped: AtomicU64::new(0),
        };
        o.resend_outbox();
        Ok(o)
    }

    /// Queues the outbox's notifications again, then removes it. A line
    /// that cannot be read, or whose output no longer exists, is counted as
    /// dropped and logged.
    fn resend_outbox(&self) {
        let f = match std::fs::File::open(&self.outbox) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(error = %e, path = %self.outbox.display(), "alert outbox unreadable");
                return;
            }
        };
        let d = self.dispatcher();
        let (mut resent, mut dropped) = (0u64, 0u64);
        for line in std::io::BufReader::new(f).lines() {
            let Ok(line) = line else {
                dropped += 1;
                break;
            };
            if line.trim().is_empty() {
                continue;
            }
            let ok = serde_json::from_str::<Unsent>(&line)
                .is_ok_and(|u| d.resend(&u.output, u.notification));
            if ok {
                resent += 1;
            } else {
                dropped += 1;
            }
        }
        self.outbox_resent.fetch_add(resent, Ordering::Relaxed);
        self.outbox_dropped.fetch_add(dropped, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "alert outbox: notifications not sent again (their output is gone, its queue is full, or the line is unreadable)");
        }
        if resent > 0 {
            tracing::info!(
                resent,
                "alert outbox: notifications kept at the last stop queued again"
            );
        }
        // Queued again (or given up on): a second start must not send them twice.
        if let Err(e) = std::fs::remove_file(&self.outbox) {
            tracing::warn!(error = %e, "alert outbox not removed; its notifications may be sent again");
        }
    }

    /// Writes what the outputs did not deliver to the outbox, durably (a
    /// temporary file, synced, then renamed), at most `alerts.outbox_max`.
    fn keep(&self, unsent: Vec<Unsent>, max: usize) {
        if unsent.is_empty() {
            return;
        }
        let over = unsent.len().saturating_sub(max);
        let write = || -> std::io::Result<()> {
            let tmp = self.outbox.with_extension("jsonl.tmp");
            let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            for u in unsent.iter().take(max) {
                serde_json::to_writer(&mut w, u)?;
                w.write_all(b"\n")?;
            }
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.outbox)?;
            if let Some(dir) = self.outbox.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        match write() {
            Ok(()) => tracing::info!(
                kept = unsent.len() - over,
                dropped = over,
                "alert notifications not delivered by the drain deadline were kept for the next start (alerts.drain, alerts.outbox_max)"
            ),
            Err(e) => tracing::error!(error = %e, lost = unsent.len(), "alert outbox not written"),
        }
        self.outbox_dropped
            .fetch_add(over as u64, Ordering::Relaxed);
    }

    pub fn dispatcher(&self) -> Dispatcher {
        self.current.load().1.clone()
    }

    /// The outputs with secrets masked, each with its counters.
    pub fn list(&self) -> OutputsList {
        let cur = self.current.load();
        let m = cur.1.metrics();
        let items = cur
            .0
            .outputs
            .iter()
            .map(|o| {
                let name = o.name();
                let mut config = o.clone();
                for secret in [&mut config.secret, &mut config.password] {
                    if secret.is_some() {
                        *secret = Some(MASK.into());
                    }
                }
                config.name = Some(name.clone());
                OutputItem {
                    config,
                    metrics: m.outputs.iter().find(|x| x.name == name).cloned(),
                }
            })
            .collect();
        OutputsList {
            items,
            group_window_s: cur.0.group_window.as_secs(),
            suppress_s: cur.0.suppress.as_secs(),
            outbox: OutboxCounters {
                resent: self.outbox_resent.load(Ordering::Relaxed),
                dropped: self.outbox_dropped.load(Ordering::Relaxed),
            },
        }
    }

    /// Replaces the outputs; a masked secret keeps the saved one. `save`
    /// keeps the new outputs' JSON (what [`Outputs::start`] takes as
    /// `saved`) before they run; when it fails nothing changes.
    pub async fn replace<E: std::error::Error + 'static>(
        &self,
        mut outputs: Vec<OutputConfig>,
        save: impl FnOnce(&str) -> Result<(), E>,
    ) -> Result<OutputsList, ReplaceError<E>> {
        let old = self.current.load_full();
        for o in &mut outputs {
            let prev = old.0.outputs.iter().find(|p| p.name() == o.name());
            if o.secret.as_deref() == Some(MASK) {
                o.secret = prev.and_then(|p| p.secret.clone());
            }
            if o.password.as_deref() == Some(MASK) {
                o.password = prev.and_then(|p| p.password.clone());
            }
        }
        let mut cfg = self.base.clone();
        cfg.outputs = outputs;
        let problems = cfg.validate();
        if !problems.is_empty() {
            return Err(ConfigProblems(problems).into());
        }
        let d = Dispatcher::start(&cfg)?;
        // A Vec of plain structs always serialises.
        let text = serde_json::to_string(&cfg.outputs).unwrap_or_default();
        save(&text).map_err(ReplaceError::Save)?;
        let prev = self.current.swap(Arc::new((cfg, d)));
        let next = self.dispatcher();
        tokio::spawn(async move {
            // What the replaced outputs still hold goes to the new ones of
            // the same name.
            for u in prev.1.shutdown(Duration::from_secs(10)).await {
                next.resend(&u.output, u.notification);
            }
        });
        Ok(self.list())
    }

    pub async fn test(&self, name: &str) -> Result<(), DeliveryError> {
        self.dispatcher().test_output(name).await
    }

    /// The dispatcher's series and the outbox's, in the Prometheus text
    /// format.
    pub fn prometheus(&self) -> String {
        use taishi_event::metrics::{Exposition, MetricKind::Counter};
        let mut e = Exposition::new();
        e.append(&self.dispatcher().metrics().to_prometheus());
        e.scalar(
            "taishi_alert_outbox_resent_total",
            Counter,
            "Notifications kept at the last stop and queued again at start.",
            self.outbox_resent.load(Ordering::Relaxed),
        );
        e.scalar(
            "taishi_alert_outbox_dropped_total",
            Counter,
            "Notifications the outbox could not keep (alerts.outbox_max) or send again.",
            self.outbox_dropped.load(Ordering::Relaxed),
        );
        e.finish()
    }

    /// Flushes the grouping windows and lets the outputs deliver until
    /// `deadline`; what they still hold is kept in the outbox.
    pub async fn shutdown(&self, deadline: tokio::time::Instant) {
        let max = self.current.load().0.outbox_max;
        let grace = deadline.saturating_duration_since(tokio::time::Instant::now());
        let unsent = self.dispatcher().shutdown(grace).await;
        self.keep(unsent, max);
    }
}
