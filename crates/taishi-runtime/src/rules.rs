//! The rules a hunt or a service runs, compiled once into a [`Detector`]:
//! one Sigma engine, one correlator over its matches, and one key per rule.
//!
//! A service's rule change builds a new detector and swaps it in atomically
//! ([`Rules`]); batches in flight finish on the old one. Per-rule health
//! survives swaps: counters of the old engine are folded into cumulative
//! totals keyed by rule key.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use taishi_correlation::{parse_correlation, CorrelationHit, Correlator, CorrelatorOptions};
use taishi_event::{Event, Level};
use taishi_sigma::{Detection, Engine, EngineOptions, LoadLimits, RuleSet, Scratch};

use crate::RuntimeError;

/// A rule as the API lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    /// The title in zh-CN, where the shipped titles data translates this
    /// rule's current title (`taishi_sigma::titles`).
    pub title_zh: Option<String>,
    pub level: Level,
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

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
#[schemars(rename = "RuleHealth")]
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

/// The one key of a rule, detection or correlation alike: its `id`, else
/// its `name`, else its file and title. Alerts carry it as `rule_id`, hit
/// counts and switches are kept by it.
pub fn rule_key(id: Option<&str>, name: Option<&str>, path: &str, title: &str) -> String {
    id.or(name)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{path}#{title}"))
}

/// The level a correlation rule alerts at when it names none.
pub const CORRELATION_DEFAULT_LEVEL: Level = Level::Medium;

/// How a detector is built.
#[derive(Debug, Clone)]
pub struct DetectorOptions {
    /// Processing pipelines: built-in names or pySigma YAML files.
    pub pipelines: Vec<String>,
    /// Matches below this level raise nothing (correlations still see them).
    pub min_level: Level,
    /// Streaming (a bounded lateness) in a service, batch in a hunt.
    pub correlation: CorrelatorOptions,
    /// Measure time per rule.
    pub timing: bool,
    pub limits: LoadLimits,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions {
            pipelines: Vec::new(),
            min_level: Level::Informational,
            correlation: CorrelatorOptions::default(),
            timing: false,
            limits: LoadLimits::default(),
        }
    }
}

/// What one event raised.
pub enum Raised {
    Rule(Detection),
    Correlation(CorrelationHit),
}

pub struct Detector {
    pub engine: Engine,
    /// The key of each engine rule.
    pub keys: Vec<String>,
    min_level: Level,
    correlator: Option<Mutex<Correlator>>,
    referenced: Vec<bool>,
    generate: Vec<bool>,
    /// Every rule loaded (switched off ones too), for listing.
    pub infos: Vec<RuleInfo>,
    /// Files or documents that are not rules, with the reason.
    pub rejected: Vec<(String, String)>,
    /// Correlation rules that could not be parsed, `path: reason`.
    pub correlation_errors: Vec<String>,
    /// What was read, for summaries: rule files, detection rules (before
    /// switched-off ones were taken out), filters, correlation documents.
    pub files: usize,
    pub loaded: usize,
    pub filters: usize,
    pub correlations: usize,
}

fn lock(c: &Mutex<Correlator>) -> std::sync::MutexGuard<'_, Correlator> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

impl Detector {
    /// Loads the rules under `paths` (files or folders) minus the `disabled`
    /// keys; `uploaded` marks which of them came through the service.
    pub fn load(
        paths: &[PathBuf],
        uploaded: Option<&Path>,
        opts: &DetectorOptions,
        disabled: &HashSet<String>,
    ) -> Result<Detector, RuntimeError> {
        let mut set = RuleSet::load_paths_with(paths, opts.limits)
            .map_err(|e| RuntimeError::Rules(e.into()))?;
        let uploaded_prefix = uploaded.map(|u| u.display().to_string());
        let origin = |p: &str| match &uploaded_prefix {
            Some(u) if p.starts_with(u.as_str()) => "uploaded",
            _ => "configured",
        };
        let mut infos = Vec::new();
        for r in &set.rules {
            let m = &r.meta;
            let id = rule_key(m.id.as_deref(), m.name.as_deref(), &m.path, &m.title);
            infos.push(RuleInfo {
                enabled: !disabled.contains(&id),
                title_zh: taishi_sigma::titles::zh(&id, &m.title).map(str::to_string),
                id,
                title: m.title.clone(),
                level: m.level,
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
        let infos_detection = infos.len();
        set.rules.retain(|r| {
            let m = &r.meta;
            !disabled.contains(&rule_key(
                m.id.as_deref(),
                m.name.as_deref(),
                &m.path,
                &m.title,
            ))
        });

        let mut corr_rules = Vec::new();
        let mut correlation_errors = Vec::new();
        let mut rejected: Vec<(String, String)> = set
            .rejected
            .iter()
            .map(|r| (r.path.clone(), r.reason.clone()))
            .collect();
        for c in &set.correlations {
            match parse_correlation(&c.doc) {
                Ok(mut r) => {
                    r.source = c.path.clone();
                    let id = rule_key(r.id.as_deref(), r.name.as_deref(), &c.path, &r.title);
                    let enabled = !disabled.contains(&id);
                    infos.push(RuleInfo {
                        title_zh: taishi_sigma::titles::zh(&id, &r.title).map(str::to_string),
                        id,
                        title: r.title.clone(),
                        level: r.level.unwrap_or(CORRELATION_DEFAULT_LEVEL),
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
                Err(e) => {
                    let e = e.to_string();
                    correlation_errors.push(format!("{}: {e}", c.path));
                    rejected.push((c.path.clone(), e));
                }
            }
        }
        let engine = Engine::new(
            &set,
            &EngineOptions {
                pipelines: opts.pipelines.clone(),
                timing: opts.timing,
            },
        )
        .map_err(|e| RuntimeError::Rules(e.into()))?;
        let keys: Vec<String> = engine
            .rules()
            .iter()
            .map(|m| rule_key(m.id.as_deref(), m.name.as_deref(), &m.path, &m.title))
            .collect();
        let errors: HashMap<String, String> = engine
            .errors()
            .iter()
            .map(|e| {
                let m = &e.meta;
                (
                    rule_key(m.id.as_deref(), m.name.as_deref(), &m.path, &m.title),
                    e.reason.clone(),
                )
            })
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
            Some(Mutex::new(
                Correlator::with_options(corr_rules, opts.correlation.clone())
                    .map_err(|e| RuntimeError::Rules(e.into()))?,
            ))
        };
        // Per engine rule: is it referenced by a correlation, and does it
        // still raise alerts of its own (`generate`)?
        let (referenced, generate) = engine
            .rules()
            .iter()
            .map(|m| {
                let (id, name) = (m.id.as_deref().unwrap_or(""), m.name.as_deref());
                match &correlator {
                    None => (false, true),
                    Some(c) => {
                        let c = lock(c);
                        (c.is_referenced(id, name), c.should_generate(id, name))
                    }
                }
            })
            .unzip();
        Ok(Detector {
            engine,
            keys,
            min_level: opts.min_level,
            correlator,
            referenced,
            generate,
            infos,
            rejected,
            correlation_errors,
            files: set.files,
            loaded: infos_detection,
            filters: set.filters.len(),
            correlations: set.correlations.len(),
        })
    }

    /// Whether a Sigma match raises an alert of its own (its level is high
    /// enough and no correlation keeps it to itself with `generate: false`).
    pub fn raises(&self, d: &Detection) -> bool {
        self.generate[d.rule] && d.meta.level >= self.min_level
    }

    /// Whether a correlation uses the matches of engine rule `rule`.
    pub fn is_referenced(&self, rule: usize) -> bool {
        self.referenced[rule]
    }

    /// Whether a correlation hit is at or above the minimum level.
    pub fn raises_correlation(&self, h: &CorrelationHit) -> bool {
        h.rule.level.unwrap_or(CORRELATION_DEFAULT_LEVEL) >= self.min_level
    }

    /// The key of the correlation rule of a hit (its `source` is the file
    /// it was loaded from, so this is the key its listing carries).
    pub fn correlation_key(&self, h: &CorrelationHit) -> String {
        let r = &h.rule;
        rule_key(r.id.as_deref(), r.name.as_deref(), &r.source, &r.title)
    }

    /// Hands the match of engine rule `rule` on `ev` (at `ts`) to the
    /// correlations; hits that become due go to `out`.
    pub fn observe(
        &self,
        rule: usize,
        ev: &Event,
        ts: DateTime<FixedOffset>,
        out: &mut Vec<CorrelationHit>,
    ) {
        if let Some(c) = &self.correlator {
            let m = &self.engine.rules()[rule];
            lock(c).observe(
                m.id.as_deref().unwrap_or(""),
                m.name.as_deref(),
                ev,
                ts,
                out,
            );
        }
    }

    /// Ends the input: every correlation window still open is evaluated.
    pub fn flush(&self, out: &mut Vec<CorrelationHit>) {
        if let Some(c) = &self.correlator {
            lock(c).flush(out);
        }
    }

    pub fn has_correlations(&self) -> bool {
        self.correlator.is_some()
    }

    /// Runs every rule over one event, feeding the correlations as it goes
    /// (streaming): what it raises goes to `out`, correlation hits that
    /// became due included.
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
                if let Some(ts) = ev.timestamp {
                    self.observe(d.rule, ev, ts, &mut corr);
                }
            }
            if self.raises(&d) {
                out.push(Raised::Rule(d));
            }
        }
        out.extend(
            corr.into_iter()
                .filter(|h| self.raises_correlation(h))
                .map(Raised::Correlation),
        );
    }
}

/// Where a service's rules come from and how they are built.
pub struct RulesConfig {
    pub configured: Vec<PathBuf>,
    /// Rules uploaded through the API live here.
    pub uploaded: PathBuf,
    pub options: DetectorOptions,
}

/// The detector a service runs now, swapped on reload, with health per rule.
pub struct Rules {
    config: RulesConfig,
    current: ArcSwap<Detector>,
    /// Health carried over from detectors that were replaced.
    carried: Mutex<HashMap<String, Health>>,
    last_hit: Mutex<HashMap<String, DateTime<FixedOffset>>>,
    rebuild: Mutex<()>,
}

impl Rules {
    pub fn new(config: RulesConfig, disabled: &HashSet<String>) -> Result<Rules, RuntimeError> {
        std::fs::create_dir_all(&config.uploaded).map_err(|source| RuntimeError::Io {
            what: format!("creating {}", config.uploaded.display()),
            source,
        })?;
        let d = Rules::build(&config, disabled)?;
        Ok(Rules {
            config,
            current: ArcSwap::from_pointee(d),
            carried: Mutex::new(HashMap::new()),
            last_hit: Mutex::new(HashMap::new()),
            rebuild: Mutex::new(()),
        })
    }

    fn build(config: &RulesConfig, disabled: &HashSet<String>) -> Result<Detector, RuntimeError> {
        let mut paths = config.configured.clone();
        paths.push(config.uploaded.clone());
        Detector::load(&paths, Some(&config.uploaded), &config.options, disabled)
    }

    pub fn current(&self) -> Arc<Detector> {
        self.current.load_full()
    }

    pub fn uploaded_dir(&self) -> &Path {
        &self.config.uploaded
    }

    /// Rebuilds from disk with the given switched-off rules; on error the
    /// running rules stay.
    pub fn reload(&self, disabled: &HashSet<String>) -> Result<Arc<Detector>, RuntimeError> {
        let _one = self.rebuild.lock().unwrap_or_else(|e| e.into_inner());
        let d = Arc::new(Rules::build(&self.config, disabled)?);
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

    /// Notes an alert of rule `key` at `ts` (the rule's last hit).
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
