//! Alert outputs: the `[alerts]` section of the config, or the outputs an
//! admin saved from the console (kept in the state database), run by a
//! `taishi_alert::Dispatcher` that is replaced when they change.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::{json, Value as J};
use taishi_alert::{AlertsConfig, Dispatcher, OutputConfig};

use crate::pipeline::AlertHook;
use crate::state::{Alert, State};

const SETTING: &str = "alerts.outputs";
pub const MASK: &str = "********";

pub struct Outputs {
    base: AlertsConfig,
    current: ArcSwap<(AlertsConfig, Dispatcher)>,
}

fn start(cfg: &AlertsConfig) -> anyhow::Result<Dispatcher> {
    Dispatcher::start(cfg).map_err(|p| anyhow::anyhow!("alerts: {}", p.join("; ")))
}

impl Outputs {
    /// Must run inside the tokio runtime.
    pub fn start(base: &AlertsConfig, state: &State) -> anyhow::Result<Outputs> {
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
        Ok(Outputs {
            base: base.clone(),
            current: ArcSwap::from_pointee((cfg, d)),
        })
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
        json!({ "items": items, "group_window_s": cur.0.group_window.as_secs(), "suppress_s": cur.0.suppress.as_secs() })
    }

    /// Replaces the outputs; a masked secret keeps the saved one.
    pub async fn replace(
        &self,
        state: &State,
        mut outputs: Vec<OutputConfig>,
    ) -> Result<J, Vec<String>> {
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
            return Err(problems);
        }
        let d = Dispatcher::start(&cfg)?;
        let text = serde_json::to_string(&cfg.outputs).map_err(|e| vec![e.to_string()])?;
        state
            .set_setting(SETTING, &text)
            .map_err(|e| vec![e.to_string()])?;
        let prev = self.current.swap(Arc::new((cfg, d)));
        tokio::spawn(async move { prev.1.shutdown(Duration::from_secs(10)).await });
        Ok(self.list())
    }

    pub async fn test(&self, name: &str) -> Result<(), String> {
        self.dispatcher()
            .test_output(name)
            .await
            .map_err(|e| e.to_string())
    }

    pub fn prometheus(&self) -> String {
        self.dispatcher().metrics().to_prometheus()
    }

    pub async fn shutdown(&self) {
        self.dispatcher().shutdown(Duration::from_secs(5)).await;
    }
}

impl AlertHook for Outputs {
    fn alert(&self, alert: &Alert) {
        match serde_json::to_value(alert).and_then(serde_json::from_value::<taishi_alert::Alert>) {
            Ok(a) => {
                self.dispatcher().submit(a);
            }
            Err(e) => tracing::error!(error = %e, id = %alert.id, "alert not handed to outputs"),
        }
    }
}
