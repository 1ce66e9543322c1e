//! Automatic grouping of stored alerts into incidents (issue 14), beside
//! the pipeline: the pipeline's hook only queues each new alert (a bounded
//! channel; when the grouping is this far behind the alert is counted as
//! dropped, never waited for), and one thread feeds the queue to a
//! `taishi_incident::Grouper` per organisation and creates or extends the
//! incidents through the state layer.
//!
//! Restart-safe: at start the grouper of each organisation is seeded with
//! the open incidents it filed under an entity (their `group_key`), so a
//! new alert of the same host joins the incident it joined before the
//! restart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use chrono::Utc;
use taishi_alert::AlertRecord;
use taishi_incident::group::GroupId;
use taishi_incident::{
    Actor, EntityKey, EntityKind, GroupConfig, Grouper, Incident, IncidentError, Provenance, Status,
};
use taishi_state::{Scope, State, StateError, StoredIncident, ROOT_ORG};

use crate::config::IncidentsSection;

/// Writes retried when an analyst changed the incident at the same moment.
const RETRIES: usize = 3;
/// Merges followed from an incident to the one it was merged into.
const MAX_MERGE_HOPS: usize = 8;

/// The grouping's counters (on `/metrics`).
#[derive(Debug, Default)]
pub struct GroupingCounters {
    /// Alerts filed into an incident.
    pub grouped: AtomicU64,
    /// New incidents the grouping opened.
    pub created: AtomicU64,
    /// Alerts not grouped: the queue was full.
    pub dropped: AtomicU64,
    /// Alerts not grouped: the state database refused the write.
    pub failed: AtomicU64,
}

enum Msg {
    Alert(Box<AlertRecord>),
    /// Answered once every alert queued before it is handled (tests, and
    /// shutdown's last word).
    Flush(SyncSender<()>),
}

/// The pipeline's side of the grouping: queues alerts.
pub struct Grouping {
    tx: Option<SyncSender<Msg>>,
    pub counters: Arc<GroupingCounters>,
}

impl taishi_runtime::AlertHook for Grouping {
    fn alert(&self, alert: &AlertRecord) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Msg::Alert(Box::new(alert.clone()))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Grouping {
    /// Off: alerts are not grouped (`[incidents] grouping = false`).
    pub fn off() -> Grouping {
        Grouping {
            tx: None,
            counters: Arc::default(),
        }
    }

    /// Seeds the groupers from the open incidents and starts the thread.
    pub fn start(state: Arc<State>, cfg: &IncidentsSection) -> Result<Grouping, StateError> {
        if !cfg.grouping {
            return Ok(Grouping::off());
        }
        let group_cfg = GroupConfig {
            window: chrono::Duration::hours(cfg.window_hours as i64),
            max_open_groups: cfg.max_open_groups,
            ..GroupConfig::default()
        };
        let mut worker = Worker {
            state,
            cfg: group_cfg,
            orgs: HashMap::new(),
            counters: Arc::default(),
        };
        for s in worker.state.open_grouped_incidents()? {
            worker.seed(&s);
        }
        let counters = worker.counters.clone();
        let (tx, rx) = sync_channel(cfg.queue.max(1));
        std::thread::Builder::new()
            .name("incident-grouping".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| StateError::Invalid(format!("incident grouping thread: {e}")))?;
        Ok(Grouping {
            tx: Some(tx),
            counters,
        })
    }

    /// The grouping's series in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let c = &self.counters;
        let mut out = String::new();
        for (name, help, v) in [
            ("grouped", "Alerts filed into an incident.", &c.grouped),
            ("created", "Incidents the grouping opened.", &c.created),
            (
                "dropped",
                "Alerts not grouped because the grouping queue was full.",
                &c.dropped,
            ),
            (
                "failed",
                "Alerts not grouped because the state database refused the write.",
                &c.failed,
            ),
        ] {
            let metric = if name == "created" {
                "taishi_incidents_created_total".to_string()
            } else {
                format!("taishi_incident_alerts_{name}_total")
            };
            out.push_str(&format!(
                "# HELP {metric} {help}\n# TYPE {metric} counter\n{metric} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out
    }

    /// Waits until every alert queued so far is grouped (blocking).
    pub fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (done, wait) = sync_channel(1);
            if tx.send(Msg::Flush(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }
}

struct OrgGroups {
    grouper: Grouper,
    /// The grouper's groups → incident ids.
    incidents: HashMap<GroupId, String>,
}

struct Worker {
    state: Arc<State>,
    cfg: GroupConfig,
    orgs: HashMap<String, OrgGroups>,
    counters: Arc<GroupingCounters>,
}

/// `host:ws01`: how an entity key is kept in `incidents.group_key`.
fn key_text(k: &EntityKey) -> String {
    let kind = serde_json::to_value(k.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!("{kind}:{}", k.value)
}

fn key_of(text: &str) -> Option<EntityKey> {
    let (kind, value) = text.split_once(':')?;
    let kind: EntityKind = serde_json::from_value(serde_json::Value::String(kind.into())).ok()?;
    Some(EntityKey {
        kind,
        value: value.to_string(),
    })
}

fn system(why: &taishi_incident::Text) -> Provenance {
    Provenance::new(
        Actor::System("grouper".into()),
        Utc::now().fixed_offset(),
        format!("{} / {}", why.zh, why.en),
    )
}

/// A new incident id: time-ordered, like alert ids.
pub fn new_incident_id() -> String {
    format!(
        "inc-{}",
        taishi_alert::alert::new_id(&Utc::now().fixed_offset())
    )
}

impl Worker {
    fn org(&mut self, org: &str) -> &mut OrgGroups {
        let cfg = &self.cfg;
        self.orgs
            .entry(org.to_string())
            .or_insert_with(|| OrgGroups {
                grouper: Grouper::new(cfg.clone()),
                incidents: HashMap::new(),
            })
    }

    fn seed(&mut self, s: &StoredIncident) {
        let Some(key) = s.group_key.as_deref().and_then(key_of) else {
            return;
        };
        let i = &s.incident;
        let first = i.first_seen.unwrap_or(i.discovered_at);
        let last = i.last_seen.unwrap_or(first);
        let alerts = i.active_alerts().count() as u64;
        let o = self.org(&i.org);
        let g = o.grouper.seed(key, first, last, alerts, i.severity);
        o.incidents.insert(g, i.id.clone());
    }

    fn run(mut self, rx: Receiver<Msg>) {
        while let Ok(m) = rx.recv() {
            match m {
                Msg::Alert(a) => {
                    if let Err(e) = self.file(&a) {
                        self.counters.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(alert = %a.id, error = %e, "alert not grouped into an incident");
                    }
                }
                Msg::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Files one alert: into its entity's open incident, else a new one.
    fn file(&mut self, a: &AlertRecord) -> Result<(), StateError> {
        let org = a.org.clone().unwrap_or_else(|| ROOT_ORG.to_string());
        let o = self.org(&org);
        let asg = o.grouper.assign(&a.alert);
        for closed in o.grouper.drain_closed() {
            o.incidents.remove(&closed.group);
        }
        let by = system(&asg.reason);
        if !asg.new {
            if let Some(id) = o.incidents.get(&asg.group).cloned() {
                if let Some(joined) = self.join(&id, a, &by)? {
                    if joined != id {
                        self.org(&org).incidents.insert(asg.group, joined);
                    }
                    self.counters.grouped.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
            }
        }
        let id = new_incident_id();
        let mut inc = Incident::from_alerts(&id, &org, &[&a.alert], by).map_err(incident_error)?;
        // Discovered when Taishi raised the alert, not when its event
        // happened: an old log read today is discovered today, and the
        // reporting clock counts from discovery.
        if let Ok(raised) = chrono::DateTime::parse_from_rfc3339(&a.created) {
            inc.discovered_at = raised;
        }
        let key = asg.key.as_ref().map(key_text);
        self.state.create_incident(&inc, key.as_deref())?;
        if asg.key.is_some() {
            self.org(&org).incidents.insert(asg.group, id);
        }
        self.counters.created.fetch_add(1, Ordering::Relaxed);
        self.counters.grouped.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Adds the alert to incident `id` (or the one it was merged into);
    /// the id it joined, or None when that incident is closed or gone.
    fn join(
        &self,
        id: &str,
        a: &AlertRecord,
        by: &Provenance,
    ) -> Result<Option<String>, StateError> {
        let mut id = id.to_string();
        for _ in 0..RETRIES {
            let mut hops = 0;
            let mut s = loop {
                let s = match self.state.incident(&id, &Scope::All) {
                    Ok(s) => s,
                    Err(StateError::NotFound(_)) => return Ok(None),
                    Err(e) => return Err(e),
                };
                match &s.incident.merged_into {
                    Some(into) if hops < MAX_MERGE_HOPS => {
                        id = into.clone();
                        hops += 1;
                    }
                    _ => break s,
                }
            };
            if s.incident.status == Status::Closed {
                return Ok(None);
            }
            match s.incident.add_alert(&a.alert, by.clone()) {
                // A leak alert that counts more people than the grade was
                // decided on grades the incident again (the clock follows).
                Ok(true) => {
                    s.incident
                        .regrade_on_pi(taishi_incident::GradingTable::builtin(), by.clone())
                        .map_err(incident_error)?;
                }
                Ok(false) => {}
                Err(IncidentError::Limit { .. }) | Err(IncidentError::Closed { .. }) => {
                    return Ok(None)
                }
                Err(e) => return Err(incident_error(e)),
            }
            match self.state.update_incident(&s.incident, s.version) {
                Ok(_) => return Ok(Some(id)),
                Err(StateError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StateError::Conflict(format!(
            "incident `{id}` kept changing: alert {} not added / 事件 `{id}` 持续变化，告警 {} 未加入",
            a.id, a.id
        )))
    }
}

fn incident_error(e: IncidentError) -> StateError {
    StateError::Invalid(format!("{e} / {}", e.message(taishi_incident::Lang::Zh)))
}
