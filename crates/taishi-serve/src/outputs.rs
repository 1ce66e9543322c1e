//! Alert outputs: the `[alerts]` section of the config, or the outputs an
//! admin saved from the console (kept in the state database), run by a
//! `taishi_alert::Dispatcher` that is replaced when they change.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::{json, Value as J};
use taishi_alert::{AlertsConfig, ConfigProblems, Dispatcher, OutputConfig, Unsent};

use crate::state::{Alert, State};
use taishi_runtime::AlertHook;

const SETTING: &str = "alerts.outputs";
pub const MASK: &str = "********";

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

/// The outbox file in the data directory.
pub const OUTBOX: &str = "alerts-outbox.jsonl";

fn start(cfg: &AlertsConfig) -> anyhow::Result<Dispatcher> {
    Dispatcher::start(cfg).map_err(|p| anyhow::anyhow!("alerts: {p}"))
}

impl Outputs {
    /// Must run inside the tokio runtime. Notifications kept in the outbox
    /// at the last stop (`data_dir/alerts-outbox.jsonl`) are queued again.
    pub fn start(base: &AlertsConfig, state: &State, data_dir: &Path) -> anyhow::Result<Outputs> {
        let mut cfg = base.clone();
        if let Some(saved) = state.setting(SETTING)? {
            match serde_json::from_str::<Vec<OutputConfig>>(&saved) {
                Ok(o) => cfg.outputs = o,
                Err(e) => {
                    tracing::warn!(error = %e, "saved alert outputs unreadable; using the config file's")
                }
            }
        }
        let d = start(&cfg)?;
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

    /// The outputs with secrets masked.
    pub fn list(&self) -> J {
        let cur = self.current.load();
        let m = cur.1.metrics();
        let items: Vec<J> = cur
            .0
            .outputs
            .iter()
            .map(|o| {
                let mut v = serde_json::to_value(o).unwrap_or(J::Null);
                for k in ["secret", "password"] {
                    if v.get(k).is_some_and(|x| !x.is_null()) {
                        v[k] = J::String(MASK.into());
                    }
                }
                let name = o.name();
                v["name"] = J::String(name.clone());
                v["metrics"] = m
                    .outputs
                    .iter()
                    .find(|x| x.name == name)
                    .map(|x| serde_json::to_value(x).unwrap_or(J::Null))
                    .unwrap_or(J::Null);
                v
            })
            .collect();
        json!({ "items": items, "group_window_s": cur.0.group_window.as_secs(), "suppress_s": cur.0.suppress.as_secs(),
                "outbox": {"resent": self.outbox_resent.load(Ordering::Relaxed), "dropped": self.outbox_dropped.load(Ordering::Relaxed)} })
    }

    /// Replaces the outputs; a masked secret keeps the saved one.
    pub async fn replace(
        &self,
        state: &State,
        mut outputs: Vec<OutputConfig>,
    ) -> Result<J, ConfigProblems> {
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
            return Err(ConfigProblems(problems));
        }
        let d = Dispatcher::start(&cfg)?;
        let problem = |e: String| ConfigProblems(vec![e]);
        let text = serde_json::to_string(&cfg.outputs).map_err(|e| problem(e.to_string()))?;
        state
            .set_setting(SETTING, &text)
            .map_err(|e| problem(e.to_string()))?;
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

    pub async fn test(&self, name: &str) -> Result<(), taishi_alert::DeliveryError> {
        self.dispatcher().test_output(name).await
    }

    pub fn prometheus(&self) -> String {
        let mut s = self.dispatcher().metrics().to_prometheus();
        for (name, help, v) in [
            (
                "taishi_alert_outbox_resent_total",
                "Notifications kept at the last stop and queued again at start.",
                &self.outbox_resent,
            ),
            (
                "taishi_alert_outbox_dropped_total",
                "Notifications the outbox could not keep (alerts.outbox_max) or send again.",
                &self.outbox_dropped,
            ),
        ] {
            s.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        s
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

impl AlertHook for Outputs {
    fn alert(&self, alert: &Alert) {
        self.dispatcher().submit(alert.alert.clone());
    }
}
