//! The rules the service runs: configured rule paths plus uploaded rules,
//! minus the ones switched off, compiled into one Sigma engine and one
//! streaming correlator.
//!
//! A rule change builds a new [`Detector`] on a blocking thread and swaps
//! it in atomically; batches in flight finish on the old one. Per-rule
//! health survives swaps: counters of the old engine are folded into
//! cumulative totals keyed by rule id.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use taishi_correlation::{parse_correlation, CorrelationHit, Correlator, CorrelatorOptions};
use taishi_event::Event;
use taishi_sigma::{
    Detection, Engine, EngineOptions, Level, LoadLimits, RuleMeta, RuleSet, Scratch,
};

/// A rule as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub level: String,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub logsource: serde_json::Value,
    pub path: String,
    pub enabled: bool,
    pub kind: &'static str,
    pub origin: &'static str,
    pub health: Health,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    pub hits: u64,
    pub evaluations: u64,
    pub errors: u64,
    pub time_ms: f64,
    pub last_hit: Option<String>,
    /// Why the rule does not run, when it does not (not compiled, no
    /// pipeline maps its log source).
    pub error: Option<String>,
}

/// The id the service uses for a rule: its `id`, else its `name`, else
/// file and title.
pub fn rule_key(m: &RuleMeta) -> String {
    m.id.clone()
        .or_else(|| m.name.clone())
        .unwrap_or_else(|| format!("{}#{}", m.path, m.title))
}

pub struct Detector {
    pub engine: Engine,
    /// Service rule id of each engine rule.
    pub keys: Vec<String>,
    pub min_level: Level,
    pub correlator: Option<Mutex<Correlator>>,
    referenced: Vec<bool>,
    generate: Vec<bool>,
    pub infos: Vec<RuleInfo>,
    pub rejected: Vec<(String, String)>,
}

/// What one event raised.
pub enum Raised {
    Rule(Detection),
    Correlation(CorrelationHit),
}

impl Detector {
    /// Runs every rule over one event; correlation hits that become due are
    /// returned too.
    pub fn detect(
        &self,
        ev: &Event,
        scratch: &mut Scratch,
        hits: &mut Vec<Detection>,
        out: &mut Vec<Raised>,
    ) {
        hits.clear();
        self.engine.detect(ev, scratch, hits);
        let mut corr = Vec::new();
        for d in hits.drain(..) {
            if self.referenced[d.rule] {
                if let (Some(c), Some(ts)) = (&self.correlator, ev.timestamp) {
                    let m = &d.meta;
                    let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
                    c.observe(
                        m.id.as_deref().unwrap_or(""),
                        m.name.as_deref(),
                        ev,
                        ts,
                        &mut corr,
                    );
                }
            }
            if self.generate[d.rule] && d.meta.level >= self.min_level {
                out.push(Raised::Rule(d));
            }
        }
        out.extend(corr.into_iter().map(Raised::Correlation));
    }
}

pub struct Rules {
    configured: Vec<PathBuf>,
    uploaded: PathBuf,
    pipelines: Vec<String>,
    min_level: Level,
    lateness: Duration,
    limits: LoadLimits,
    current: ArcSwap<Detector>,
    /// Health carried over from engines that were replaced.
    carried: Mutex<HashMap<String, Health>>,
    last_hit: Mutex<HashMap<String, DateTime<FixedOffset>>>,
    rebuild: Mutex<()>,
}

impl Rules {
    pub fn new(
        configured: Vec<PathBuf>,
        uploaded: PathBuf,
        pipelines: Vec<String>,
        min_level: Level,
        lateness: Duration,
        limits: LoadLimits,
        disabled: &HashSet<String>,
    ) -> anyhow::Result<Rules> {
        std::fs::create_dir_all(&uploaded)?;
        let d = build(
            &configured,
            &uploaded,
            &pipelines,
            min_level,
            lateness,
            limits,
            disabled,
        )?;
        Ok(Rules {
            configured,
            uploaded,
            pipelines,
            min_level,
            lateness,
            limits,
            current: ArcSwap::from_pointee(d),
            carried: Mutex::new(HashMap::new()),
            last_hit: Mutex::new(HashMap::new()),
            rebuild: Mutex::new(()),
        })
    }

    pub fn current(&self) -> Arc<Detector> {
        self.current.load_full()
    }

    pub fn uploaded_dir(&self) -> &Path {
        &self.uploaded
    }

    /// Rebuilds from disk with the given switched-off rules; on error the
    /// running rules stay.
    pub fn reload(&self, disabled: &HashSet<String>) -> anyhow::Result<Arc<Detector>> {
        let _one = self.rebuild.lock().unwrap_or_else(|e| e.into_inner());
        let d = Arc::new(build(
            &self.configured,
            &self.uploaded,
            &self.pipelines,
            self.min_level,
            self.lateness,
            self.limits,
            disabled,
        )?);
        let old = self.current.swap(d.clone());
        let mut carried = self.carried.lock().unwrap_or_else(|e| e.into_inner());
        for (i, s) in old.engine.stats().iter().enumerate() {
            let h = carried.entry(old.keys[i].clone()).or_default();
            h.hits += s.hits.load(Ordering::Relaxed);
            h.evaluations += s.evaluations.load(Ordering::Relaxed);
            h.time_ms += s.nanos.load(Ordering::Relaxed) as f64 / 1e6;
        }
        Ok(d)
    }

    pub fn note_hit(&self, key: &str, ts: DateTime<FixedOffset>) {
        let mut m = self.last_hit.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(key.to_string()).or_insert(ts);
        if ts > *e {
            *e = ts;
        }
    }

    /// Every rule with its health now.
    pub fn infos(&self) -> Vec<RuleInfo> {
        let d = self.current();
        let carried = self.carried.lock().unwrap_or_else(|e| e.into_inner());
        let last = self.last_hit.lock().unwrap_or_else(|e| e.into_inner());
        let live: HashMap<&str, usize> = d
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        d.infos
            .iter()
            .map(|info| {
                let mut info = info.clone();
                if let Some(c) = carried.get(&info.id) {
                    info.health.hits += c.hits;
                    info.health.evaluations += c.evaluations;
                    info.health.time_ms += c.time_ms;
                }
                if let Some(&i) = live.get(info.id.as_str()) {
                    let s = &d.engine.stats()[i];
                    info.health.hits += s.hits.load(Ordering::Relaxed);
                    info.health.evaluations += s.evaluations.load(Ordering::Relaxed);
                    info.health.time_ms += s.nanos.load(Ordering::Relaxed) as f64 / 1e6;
                }
                info.health.last_hit = last.get(&info.id).map(|t| t.to_rfc3339());
                info
            })
            .collect()
    }

    /// The YAML file a rule came from.
    pub fn path_of(&self, id: &str) -> Option<PathBuf> {
        self.current()
            .infos
            .iter()
            .find(|i| i.id == id)
            .map(|i| PathBuf::from(&i.path))
    }
}

fn level_of(l: Level) -> String {
    l.name().to_string()
}

fn build(
    configured: &[PathBuf],
    uploaded: &Path,
    pipelines: &[String],
    min_level: Level,
    lateness: Duration,
    limits: LoadLimits,
    disabled: &HashSet<String>,
) -> anyhow::Result<Detector> {
    let mut paths: Vec<PathBuf> = configured.to_vec();
    paths.push(uploaded.to_path_buf());
    let mut set = RuleSet::load_paths_with(&paths, limits)?;
    let uploaded_prefix = uploaded.display().to_string();
    let origin = |p: &str| {
        if p.starts_with(&uploaded_prefix) {
            "uploaded"
        } else {
            "configured"
        }
    };
    let mut infos = Vec::new();
    for r in &set.rules {
        let m = &r.meta;
        let id = rule_key(m);
        infos.push(RuleInfo {
            enabled: !disabled.contains(&id),
            id,
            title: m.title.clone(),
            level: level_of(m.level),
            status: m.status.clone(),
            tags: m.tags.clone(),
            description: m.description.clone(),
            logsource: serde_json::json!({
                "category": m.logsource.category,
                "product": m.logsource.product,
                "service": m.logsource.service,
            }),
            path: m.path.clone(),
            kind: "detection",
            origin: origin(&m.path),
            health: Health::default(),
        });
    }
    set.rules.retain(|r| !disabled.contains(&rule_key(&r.meta)));

    let mut corr_rules = Vec::new();
    let mut rejected: Vec<(String, String)> = set
        .rejected
        .iter()
        .map(|r| (r.path.clone(), r.reason.clone()))
        .collect();
    for c in &set.correlations {
        match parse_correlation(&c.doc) {
            Ok(r) => {
                let id =
                    r.id.clone()
                        .or_else(|| r.name.clone())
                        .unwrap_or_else(|| format!("{}#{}", c.path, r.title));
                let enabled = !disabled.contains(&id);
                infos.push(RuleInfo {
                    id,
                    title: r.title.clone(),
                    level: r
                        .level
                        .map(|l| l.as_str().to_string())
                        .unwrap_or_else(|| "medium".into()),
                    status: r.status.clone(),
                    tags: r.tags.clone(),
                    description: r.description.clone(),
                    logsource: serde_json::Value::Null,
                    path: c.path.clone(),
                    enabled,
                    kind: "correlation",
                    origin: origin(&c.path),
                    health: Health::default(),
                });
                if enabled {
                    corr_rules.push(r);
                }
            }
            Err(e) => rejected.push((c.path.clone(), e.to_string())),
        }
    }
    let engine = Engine::new(
        &set,
        &EngineOptions {
            pipelines: pipelines.to_vec(),
            timing: true,
        },
    )?;
    let keys: Vec<String> = engine.rules().iter().map(|m| rule_key(m)).collect();
    let errors: HashMap<String, String> = engine
        .errors()
        .iter()
        .map(|e| (rule_key(&e.meta), e.reason.clone()))
        .chain(engine.unmapped().iter().map(|&i| {
            (
                keys[i].clone(),
                "no pipeline maps its log source".to_string(),
            )
        }))
        .collect();
    for info in &mut infos {
        if let Some(e) = errors.get(&info.id) {
            info.health.error = Some(e.clone());
            info.health.errors = 1;
        }
    }
    let correlator = if corr_rules.is_empty() {
        None
    } else {
        let opts = CorrelatorOptions {
            max_lateness: Some(lateness),
            ..CorrelatorOptions::default()
        };
        Some(Mutex::new(Correlator::with_options(corr_rules, opts)?))
    };
    let referenced = engine
        .rules()
        .iter()
        .map(|m| {
            correlator.as_ref().is_some_and(|c| {
                c.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_referenced(m.id.as_deref().unwrap_or(""), m.name.as_deref())
            })
        })
        .collect();
    let generate = engine
        .rules()
        .iter()
        .map(|m| {
            correlator.as_ref().is_none_or(|c| {
                c.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .should_generate(m.id.as_deref().unwrap_or(""), m.name.as_deref())
            })
        })
        .collect();
    Ok(Detector {
        engine,
        keys,
        min_level,
        correlator,
        referenced,
        generate,
        infos,
        rejected,
    })
}
