//! The organisations' overrides as the pipeline's alert gate: rules and
//! indicators are shared down the tree, and each organisation may switch a
//! rule off (or back on) for itself and those below it; an intel source
//! imported by an organisation applies to its own events and those below.
//! Rule exceptions (an analyst's "this rule, these field values, is a false
//! positive here") hold back the alerts they match, counted per exception.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use taishi_alert::{Alert, AlertKind};
use taishi_ingest::CancellationToken;
use taishi_runtime::AlertGate;

use crate::state::{ExceptionIndex, Overrides, State, StateError, ROOT_ORG};

/// The overrides and the live rule exceptions as last read from the state;
/// [`OrgGate::reload`] after every change to them (a switch, an import, an
/// organisation, an exception).
#[derive(Default)]
pub struct OrgGate {
    now: RwLock<Arc<Overrides>>,
    exceptions: RwLock<Arc<ExceptionIndex>>,
    /// Alerts each exception held back since the last [`OrgGate::flush_hits`]:
    /// `(count, last time)`. Kept here so the gate never waits on the
    /// database per alert.
    hits: Mutex<HashMap<String, (u64, String)>>,
    /// Every alert an exception held back (for `/metrics`).
    pub excepted: AtomicU64,
}

impl OrgGate {
    pub fn load(state: &State) -> Result<OrgGate, StateError> {
        let g = OrgGate::default();
        g.reload(state)?;
        Ok(g)
    }

    pub fn reload(&self, state: &State) -> Result<(), StateError> {
        let fresh = Arc::new(state.overrides()?);
        let exceptions = Arc::new(state.exception_index()?);
        *self.now.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        *self.exceptions.write().unwrap_or_else(|e| e.into_inner()) = exceptions;
        Ok(())
    }

    pub fn current(&self) -> Arc<Overrides> {
        self.now.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Writes the exceptions' hit counts gathered since the last call.
    pub fn flush_hits(&self, state: &State) -> Result<(), StateError> {
        let taken: Vec<(String, u64, String)> = {
            let mut h = self.hits.lock().unwrap_or_else(|e| e.into_inner());
            h.drain().map(|(id, (n, last))| (id, n, last)).collect()
        };
        if let Err(e) = state.add_rule_exception_hits(&taken) {
            // Not lost: counted again with the next flush.
            let mut h = self.hits.lock().unwrap_or_else(|e| e.into_inner());
            for (id, n, last) in taken {
                let slot = h.entry(id).or_insert((0, last));
                slot.0 += n;
            }
            return Err(e);
        }
        Ok(())
    }

    /// The gate's own series for `/metrics`.
    pub fn prometheus(&self) -> String {
        format!(
            "# HELP taishi_alerts_excepted_total Alerts a rule exception held back.\n\
             # TYPE taishi_alerts_excepted_total counter\n\
             taishi_alerts_excepted_total {}\n",
            self.excepted.load(Ordering::Relaxed)
        )
    }

    /// Whether an exception holds `a` back (and if so, counts it).
    fn excepted_alert(&self, a: &Alert, o: &Overrides) -> bool {
        let idx = self
            .exceptions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if idx.is_empty() {
            return false;
        }
        let org = a.org.as_deref().unwrap_or(ROOT_ORG);
        let now = chrono::Utc::now();
        let Some(x) = idx.matching(
            &a.rule_id,
            org,
            &a.event,
            now.timestamp_micros(),
            |o2, anc| o.within(o2, anc),
        ) else {
            return false;
        };
        self.excepted.fetch_add(1, Ordering::Relaxed);
        let when = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut h = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        let slot = h.entry(x.id.clone()).or_insert((0, String::new()));
        slot.0 += 1;
        slot.1 = when;
        true
    }
}

impl AlertGate for OrgGate {
    fn admits(&self, a: &Alert) -> bool {
        let o = self.current();
        let org = a.org.as_deref().unwrap_or(ROOT_ORG);
        let on = match a.kind {
            AlertKind::Intel => a
                .summary
                .get("intel.source")
                .and_then(|v| v.as_str())
                .is_none_or(|source| o.source_applies(source, org)),
            // An anomaly's or a leak's rule id (`anomaly:beacon`, `pii:outbound` …)
            // switches like a rule's.
            AlertKind::Sigma | AlertKind::Correlation | AlertKind::Anomaly | AlertKind::Pii => {
                o.rule_on(org, &a.rule_id)
            }
            // An organisation's own scheduled search: it switches it itself.
            AlertKind::Search => true,
            // The organisation's own risk assessment.
            AlertKind::Warning => true,
        };
        on && !self.excepted_alert(a, &o)
    }
}

/// Writes the exceptions' hit counts every `every`, and once more when the
/// service stops.
pub(crate) fn spawn_hit_flush(
    app: Arc<crate::App>,
    cancel: CancellationToken,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let stop = tokio::select! {
                _ = cancel.cancelled() => true,
                _ = tokio::time::sleep(every) => false,
            };
            let a = app.clone();
            match tokio::task::spawn_blocking(move || a.gate.flush_hits(&a.state)).await {
                Ok(Err(e)) => tracing::warn!(error = %e, "rule exception hits not written"),
                Err(e) => tracing::warn!(error = %e, "rule exception hits not written"),
                Ok(Ok(())) => {}
            }
            if stop {
                break;
            }
        }
    })
}
