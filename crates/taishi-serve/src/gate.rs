//! The organisations' overrides as the pipeline's alert gate: rules and
//! indicators are shared down the tree, and each organisation may switch a
//! rule off (or back on) for itself and those below it; an intel source
//! imported by an organisation applies to its own events and those below.

use std::sync::{Arc, RwLock};

use taishi_alert::{Alert, AlertKind};
use taishi_runtime::AlertGate;

use crate::state::{Overrides, State, StateError, ROOT_ORG};

/// The overrides as last read from the state; [`OrgGate::reload`] after
/// every change to them (a switch, an import, an organisation).
#[derive(Default)]
pub struct OrgGate {
    now: RwLock<Arc<Overrides>>,
}

impl OrgGate {
    pub fn load(state: &State) -> Result<OrgGate, StateError> {
        Ok(OrgGate {
            now: RwLock::new(Arc::new(state.overrides()?)),
        })
    }

    pub fn reload(&self, state: &State) -> Result<(), StateError> {
        let fresh = Arc::new(state.overrides()?);
        *self.now.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    pub fn current(&self) -> Arc<Overrides> {
        self.now.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl AlertGate for OrgGate {
    fn admits(&self, a: &Alert) -> bool {
        let o = self.current();
        let org = a.org.as_deref().unwrap_or(ROOT_ORG);
        match a.kind {
            AlertKind::Intel => a
                .summary
                .get("intel.source")
                .and_then(|v| v.as_str())
                .is_none_or(|source| o.source_applies(source, org)),
            // An anomaly's rule id (`anomaly:beacon` …) switches like a rule's.
            AlertKind::Sigma | AlertKind::Correlation | AlertKind::Anomaly => {
                o.rule_on(org, &a.rule_id)
            }
            // An organisation's own scheduled search: it switches it itself.
            AlertKind::Search => true,
        }
    }
}
