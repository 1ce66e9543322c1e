//! Every detector, run per organisation over ECS events: what `taishi
//! serve` and `taishi hunt` plug into the runtime.
//!
//! - One set of stateful detectors per organisation seen (baselines are
//!   the organisation's own), at most `max_orgs` sets; events of further
//!   organisations are counted and not examined.
//! - The look-alike watch is shared: brands are the operator's.
//! - Findings are deduplicated: one per (kind, entity) per `dedup_secs`
//!   of event time, so a beacon re-scored at every evaluation or a scan
//!   crossing its threshold again raises one alert per window.
//! - [`Engine::save_state`] / [`Engine::load_state`] keep the baselines
//!   across a restart (JSON, as the detectors' own states).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use taishi_event::Event;

use crate::ecs::{records, NameSource, Record};
use crate::lookalike::Brand;
use crate::table::{BoundedMap, TableStatus};
use crate::{
    check_range, AnomalyError, BeaconConfig, BeaconDetector, BeaconState, BruteForceConfig,
    BruteForceDetector, BruteForceState, DgaConfig, DgaDetector, DgaModel, DgaState, ExfilConfig,
    ExfilDetector, ExfilState, Finding, FlowRecord, LookalikeConfig, LookalikeWatch, ScanConfig,
    ScanDetector, ScanState, Text, TunnelConfig, TunnelDetector, TunnelState,
};

/// Which detectors run (`[anomaly.enabled]`): each on unless switched off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switches {
    pub beacon: bool,
    pub scan: bool,
    pub brute_force: bool,
    pub dga: bool,
    pub tunnel: bool,
    pub exfil: bool,
    pub lookalike: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            beacon: true,
            scan: true,
            brute_force: true,
            dga: true,
            tunnel: true,
            exfil: true,
            lookalike: true,
        }
    }
}

/// The `[anomaly]` section of `taishi.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalyConfig {
    /// All anomaly detection on or off.
    pub enabled: bool,
    /// Each detector's own switch.
    #[serde(rename = "detectors")]
    pub switches: Switches,
    /// The organisation's own networks: outbound volume is counted only
    /// from these to elsewhere. Empty: the private ranges (RFC 1918, ULA).
    pub internal_networks: Vec<IpNet>,
    /// Brands watched for look-alike domains (added to `lookalike.brands`).
    pub brands: Vec<Brand>,
    /// Hours of an organisation's events (event time, from its first
    /// record) during which the detectors that learn a baseline (beacons,
    /// DNS tunnels, exfiltration) raise nothing: they learn. 0: none.
    pub learning_hours: u64,
    /// How often the batch detectors (beacons) are evaluated, in seconds.
    pub evaluate_secs: u64,
    /// One alert per (kind, entity) per this many seconds of event time.
    pub dedup_secs: u64,
    /// How often the baselines are saved, in seconds (and at shutdown).
    pub save_secs: u64,
    /// Organisations with their own detectors, at most.
    pub max_orgs: usize,
    /// (kind, entity) pairs remembered for deduplication, per organisation.
    pub max_dedup: usize,
    /// A saved state file larger than this is not loaded (MiB).
    pub state_max_mib: u64,
    pub beacon: BeaconConfig,
    pub scan: ScanConfig,
    pub brute_force: BruteForceConfig,
    pub dga: DgaConfig,
    pub tunnel: TunnelConfig,
    pub exfil: ExfilConfig,
    pub lookalike: LookalikeConfig,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            enabled: true,
            switches: Switches::default(),
            internal_networks: Vec::new(),
            brands: Vec::new(),
            learning_hours: 24,
            evaluate_secs: 600,
            dedup_secs: 3600,
            save_secs: 300,
            max_orgs: 64,
            max_dedup: 100_000,
            state_max_mib: 1024,
            beacon: BeaconConfig::default(),
            scan: ScanConfig::default(),
            brute_force: BruteForceConfig::default(),
            dga: DgaConfig::default(),
            tunnel: TunnelConfig::default(),
            exfil: ExfilConfig::default(),
            lookalike: LookalikeConfig::default(),
        }
    }
}

impl AnomalyConfig {
    /// Every problem of the section, each naming its field.
    pub fn validate(&self) -> Vec<AnomalyError> {
        let mut errs = Vec::new();
        let mut push = |r: Result<(), AnomalyError>| {
            if let Err(e) = r {
                errs.push(e);
            }
        };
        push(check_range(
            "anomaly",
            "learning_hours",
            self.learning_hours,
            0,
            24 * 366,
        ));
        push(check_range(
            "anomaly",
            "evaluate_secs",
            self.evaluate_secs,
            1,
            86_400,
        ));
        push(check_range(
            "anomaly",
            "dedup_secs",
            self.dedup_secs,
            0,
            30 * 86_400,
        ));
        push(check_range(
            "anomaly",
            "save_secs",
            self.save_secs,
            0,
            86_400,
        ));
        push(check_range(
            "anomaly",
            "max_orgs",
            self.max_orgs,
            1,
            100_000,
        ));
        push(check_range(
            "anomaly",
            "max_dedup",
            self.max_dedup,
            2,
            100_000_000,
        ));
        push(check_range(
            "anomaly",
            "state_max_mib",
            self.state_max_mib,
            1,
            1 << 20,
        ));
        push(self.beacon.validate());
        push(self.scan.validate());
        push(self.brute_force.validate());
        push(self.dga.validate());
        push(self.tunnel.validate());
        push(self.exfil.validate());
        push(LookalikeWatch::new(self.lookalike_config()).map(|_| ()));
        errs
    }

    fn lookalike_config(&self) -> LookalikeConfig {
        let mut l = self.lookalike.clone();
        l.brands.extend(self.brands.iter().cloned());
        l
    }
}

/// A finding and whose it is.
#[derive(Debug, Clone)]
pub struct OrgFinding {
    /// The organisation of the events (None: events without one).
    pub org: Option<String>,
    pub finding: Finding,
}

/// One organisation's detectors.
struct Org {
    beacon: Option<BeaconDetector>,
    scan: Option<ScanDetector>,
    brute: Option<BruteForceDetector>,
    dga: Option<DgaDetector>,
    tunnel: Option<TunnelDetector>,
    exfil: Option<ExfilDetector>,
    /// (kind, entity) hash → event time of its last alert.
    seen: BoundedMap<u64, i64>,
    /// Event time of the organisation's first record: the learning period
    /// runs from here (saved, so a restart does not start it again).
    learning_since: Option<i64>,
    /// Latest event time seen (the organisation's "now").
    last_ms: Option<i64>,
}

/// One table of a detector, per organisation, for `GET /anomaly/status`.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorStatus {
    /// `beacon`, `scan`, `brute_force`, `dga`, `tunnel`, `exfil`.
    pub detector: &'static str,
    /// Whether it learns a baseline (and so waits out the learning period).
    pub learns: bool,
    pub tables: Vec<TableStatus>,
    /// A detector's own word on its state (exfiltration: hosts learning).
    pub note: Option<Text>,
}

/// One organisation's detectors.
#[derive(Debug, Clone, Serialize)]
pub struct OrgStatus {
    pub org: Option<String>,
    /// Event time of its first record (Unix ms).
    pub learning_since_ms: Option<i64>,
    /// When the learning period ends, in event time (Unix ms); None when
    /// there is no learning period.
    pub learning_until_ms: Option<i64>,
    /// Latest event time seen.
    pub last_event_ms: Option<i64>,
    /// Whether the learning detectors are still quiet.
    pub learning: bool,
    pub detectors: Vec<DetectorStatus>,
    /// Alerts remembered for deduplication.
    pub dedup: TableStatus,
}

/// What the engine says of itself.
#[derive(Debug, Clone, Serialize)]
pub struct EngineStatus {
    pub learning_hours: u64,
    pub orgs: Vec<OrgStatus>,
    /// Events not examined: their organisation came after `max_orgs`.
    pub refused_events: u64,
    /// The look-alike watch's cache, when brands are configured.
    pub lookalike: Vec<TableStatus>,
}

/// One organisation's saved baselines.
#[derive(Debug, Default, Serialize, Deserialize)]
struct OrgState {
    beacon: Option<BeaconState>,
    scan: Option<ScanState>,
    brute: Option<BruteForceState>,
    dga: Option<DgaState>,
    tunnel: Option<TunnelState>,
    exfil: Option<ExfilState>,
    seen: Vec<(u64, i64)>,
    /// Absent in states saved before the learning period existed: those
    /// baselines count as learned.
    #[serde(default)]
    learning_since: Option<i64>,
    #[serde(default)]
    last_ms: Option<i64>,
}

/// What `save_state` writes: every organisation's baselines.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EngineState {
    version: u32,
    orgs: Vec<(Option<String>, OrgState)>,
}

const STATE_VERSION: u32 = 1;

struct Inner {
    orgs: HashMap<Option<String>, Org>,
    lookalike: Option<LookalikeWatch>,
    /// Events of organisations beyond `max_orgs`, not examined.
    refused: u64,
    records: Vec<Record>,
}

/// The detectors of every organisation; cheap to share (`Arc`).
pub struct Engine {
    cfg: AnomalyConfig,
    internal: Vec<IpNet>,
    model: Option<Arc<DgaModel>>,
    hasher: foldhash::fast::FixedState,
    inner: Mutex<Inner>,
}

fn private_networks() -> Vec<IpNet> {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}

impl Engine {
    /// Builds the engine; the first problem of the config is the error
    /// (`AnomalyConfig::validate` lists them all).
    pub fn new(cfg: AnomalyConfig) -> Result<Engine, AnomalyError> {
        if let Some(e) = cfg.validate().into_iter().next() {
            return Err(e);
        }
        let model = if cfg.switches.dga {
            Some(Arc::new(DgaModel::shipped()?))
        } else {
            None
        };
        let lc = cfg.lookalike_config();
        let lookalike = (cfg.switches.lookalike && !lc.brands.is_empty())
            .then(|| LookalikeWatch::new(lc))
            .transpose()?;
        let internal = if cfg.internal_networks.is_empty() {
            private_networks()
        } else {
            cfg.internal_networks.clone()
        };
        Ok(Engine {
            internal,
            model,
            hasher: foldhash::fast::FixedState::with_seed(0xa0a1),
            inner: Mutex::new(Inner {
                orgs: HashMap::new(),
                lookalike,
                refused: 0,
                records: Vec::new(),
            }),
            cfg,
        })
    }

    pub fn config(&self) -> &AnomalyConfig {
        &self.cfg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_org(&self) -> Org {
        let c = &self.cfg;
        let s = &c.switches;
        // Configs were validated in `new`: these constructors cannot fail.
        Org {
            beacon: s
                .beacon
                .then(|| BeaconDetector::new(c.beacon.clone()).ok())
                .flatten(),
            scan: s
                .scan
                .then(|| ScanDetector::new(c.scan.clone()).ok())
                .flatten(),
            brute: s
                .brute_force
                .then(|| BruteForceDetector::new(c.brute_force.clone()).ok())
                .flatten(),
            dga: self
                .model
                .as_ref()
                .and_then(|m| DgaDetector::with_model(c.dga.clone(), m.clone()).ok()),
            tunnel: s
                .tunnel
                .then(|| TunnelDetector::new(c.tunnel.clone()).ok())
                .flatten(),
            exfil: s
                .exfil
                .then(|| ExfilDetector::new(c.exfil.clone()).ok())
                .flatten(),
            seen: BoundedMap::new(c.max_dedup),
            learning_since: None,
            last_ms: None,
        }
    }

    /// When an organisation's learning period ends (event time).
    fn learning_until(&self, o: &Org) -> Option<i64> {
        if self.cfg.learning_hours == 0 {
            return None;
        }
        let span = (self.cfg.learning_hours as i64).saturating_mul(3_600_000);
        Some(
            o.learning_since
                .map_or(i64::MAX, |s| s.saturating_add(span)),
        )
    }

    /// Whether a finding waits: its kind learns and its organisation's
    /// learning period had not ended at the finding's time.
    fn learning(&self, o: &Org, f: &Finding) -> bool {
        f.kind.learns() && self.learning_until(o).is_some_and(|u| f.last_ms < u)
    }

    fn internal(&self, ip: &IpAddr) -> bool {
        self.internal.iter().any(|n| n.contains(ip))
    }

    /// Outbound: from one of the organisation's networks to elsewhere.
    fn outbound(&self, f: &FlowRecord) -> bool {
        self.internal(&f.src) && !self.internal(&f.dst)
    }

    /// Runs every event through its organisation's detectors; new findings
    /// (deduplicated) are appended to `out`.
    pub fn observe<'a>(
        &self,
        events: impl IntoIterator<Item = &'a Event>,
        out: &mut Vec<OrgFinding>,
    ) {
        let mut g = self.lock();
        let inner = &mut *g;
        let mut found = Vec::new();
        for ev in events {
            inner.records.clear();
            records(ev, &mut inner.records);
            if inner.records.is_empty() {
                continue;
            }
            let org = taishi_event::roles::org(ev);
            if !inner.orgs.contains_key(&org) {
                if inner.orgs.len() >= self.cfg.max_orgs {
                    inner.refused += 1;
                    continue;
                }
                inner.orgs.insert(org.clone(), self.new_org());
            }
            let Some(o) = inner.orgs.get_mut(&org) else {
                continue;
            };
            if let Some(ts) = ev.timestamp.map(|t| t.timestamp_millis()) {
                o.learning_since.get_or_insert(ts);
                o.last_ms = Some(o.last_ms.map_or(ts, |l| l.max(ts)));
            }
            for r in &inner.records {
                self.feed(o, inner.lookalike.as_mut(), r, &mut found);
            }
            self.keep_new(o, &org, &mut found, out);
        }
    }

    fn feed(
        &self,
        o: &mut Org,
        watch: Option<&mut LookalikeWatch>,
        r: &Record,
        found: &mut Vec<Finding>,
    ) {
        match r {
            Record::Flow(f) => {
                if let Some(b) = &mut o.beacon {
                    b.observe_flow(f);
                }
                if let Some(s) = &mut o.scan {
                    s.observe(f, found);
                }
                if let Some(x) = &mut o.exfil {
                    if self.outbound(f) {
                        x.observe_flow(f, found);
                    }
                }
            }
            Record::Dns(d) => {
                if let Some(b) = &mut o.beacon {
                    b.observe_dns(d);
                }
                if let Some(x) = &mut o.dga {
                    x.observe(d, found);
                }
                if let Some(t) = &mut o.tunnel {
                    t.observe(d, found);
                }
                if let Some(w) = watch {
                    watch_name(w, &d.qname, d.ts_ms, NameSource::Dns, found);
                }
            }
            Record::Http(h) => {
                if let Some(b) = &mut o.beacon {
                    b.observe_http(h);
                }
                if let Some(x) = &mut o.exfil {
                    x.observe_http(h, found);
                }
                if let Some(w) = watch {
                    let source = if h.method == "TLS" {
                        NameSource::TlsSni
                    } else {
                        NameSource::Http
                    };
                    watch_name(w, &h.host, h.ts_ms, source, found);
                }
            }
            Record::Auth(a) => {
                if let Some(b) = &mut o.brute {
                    b.observe(a, found);
                }
            }
            Record::Name {
                ts_ms,
                name,
                source,
                ..
            } => {
                if let Some(w) = watch {
                    watch_name(w, name, *ts_ms, *source, found);
                }
            }
        }
    }

    /// Moves the findings not raised for their (kind, entity) within the
    /// dedup window into `out`.
    fn keep_new(
        &self,
        o: &mut Org,
        org: &Option<String>,
        found: &mut Vec<Finding>,
        out: &mut Vec<OrgFinding>,
    ) {
        let window = (self.cfg.dedup_secs as i64).saturating_mul(1000);
        for f in found.drain(..) {
            if self.learning(o, &f) {
                continue;
            }
            let key = self.hasher.hash_one((f.kind, f.entity.as_str()));
            let last = o.seen.entry_or_insert_with(&key, || i64::MIN);
            if *last != i64::MIN && f.last_ms.saturating_sub(*last) < window && f.last_ms >= *last {
                continue;
            }
            *last = f.last_ms;
            out.push(OrgFinding {
                org: org.clone(),
                finding: f,
            });
        }
    }

    /// The periodic part: scores every beacon candidate of every
    /// organisation (serve: every `evaluate_secs`; hunt: at the end).
    pub fn evaluate(&self, out: &mut Vec<OrgFinding>) {
        let mut g = self.lock();
        for (org, o) in g.orgs.iter_mut() {
            let mut found = match &o.beacon {
                Some(b) => b.evaluate(),
                None => continue,
            };
            self.keep_new(o, org, &mut found, out);
        }
    }

    /// Events not examined because their organisation came after
    /// `max_orgs` others.
    pub fn refused(&self) -> u64 {
        self.lock().refused
    }

    /// Every organisation's detectors: learning or not, until when, table
    /// fills and evictions.
    pub fn status(&self) -> EngineStatus {
        let g = self.lock();
        let mut orgs: Vec<OrgStatus> = g
            .orgs
            .iter()
            .map(|(org, o)| {
                let until = self.learning_until(o);
                let mut detectors = Vec::new();
                let mut add = |detector, learns, tables, note| {
                    detectors.push(DetectorStatus {
                        detector,
                        learns,
                        tables,
                        note,
                    })
                };
                if let Some(d) = &o.beacon {
                    add("beacon", true, d.tables(), None);
                }
                if let Some(d) = &o.scan {
                    add("scan", false, d.tables(), None);
                }
                if let Some(d) = &o.brute {
                    add("brute_force", false, d.tables(), None);
                }
                if let Some(d) = &o.dga {
                    add("dga", false, d.tables(), None);
                }
                if let Some(d) = &o.tunnel {
                    add("tunnel", true, d.tables(), None);
                }
                if let Some(d) = &o.exfil {
                    add("exfil", true, d.tables(), Some(d.learning_status()));
                }
                OrgStatus {
                    org: org.clone(),
                    learning_since_ms: o.learning_since.filter(|s| *s != i64::MIN),
                    learning_until_ms: until.filter(|u| *u != i64::MAX),
                    last_event_ms: o.last_ms,
                    // Baselines saved before learning periods existed (MIN) count as learned.
                    learning: o.learning_since != Some(i64::MIN)
                        && until.is_some_and(|u| o.last_ms.is_none_or(|l| l < u)),
                    detectors,
                    dedup: o.seen.status("dedup"),
                }
            })
            .collect();
        orgs.sort_by(|a, b| a.org.cmp(&b.org));
        EngineStatus {
            learning_hours: self.cfg.learning_hours,
            orgs,
            refused_events: g.refused,
            lookalike: g
                .lookalike
                .as_ref()
                .map(LookalikeWatch::tables)
                .unwrap_or_default(),
        }
    }

    /// Organisations with detectors.
    pub fn orgs(&self) -> usize {
        self.lock().orgs.len()
    }

    /// Every organisation's baselines.
    pub fn save_state(&self) -> EngineState {
        let g = self.lock();
        EngineState {
            version: STATE_VERSION,
            orgs: g
                .orgs
                .iter()
                .map(|(k, o)| {
                    (
                        k.clone(),
                        OrgState {
                            beacon: o.beacon.as_ref().map(BeaconDetector::save_state),
                            scan: o.scan.as_ref().map(ScanDetector::save_state),
                            brute: o.brute.as_ref().map(BruteForceDetector::save_state),
                            dga: o.dga.as_ref().map(DgaDetector::save_state),
                            tunnel: o.tunnel.as_ref().map(TunnelDetector::save_state),
                            exfil: o.exfil.as_ref().map(ExfilDetector::save_state),
                            seen: o.seen.entries(),
                            learning_since: o.learning_since,
                            last_ms: o.last_ms,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Puts saved baselines back (under the current caps; detectors
    /// switched off since are left out, organisations past `max_orgs` too).
    pub fn load_state(&self, s: EngineState) {
        let mut g = self.lock();
        for (org, st) in s.orgs {
            if !g.orgs.contains_key(&org) && g.orgs.len() >= self.cfg.max_orgs {
                continue;
            }
            let o = g.orgs.entry(org).or_insert_with(|| self.new_org());
            if let (Some(d), Some(s)) = (&mut o.beacon, st.beacon) {
                d.load_state(s);
            }
            if let (Some(d), Some(s)) = (&mut o.scan, st.scan) {
                d.load_state(s);
            }
            if let (Some(d), Some(s)) = (&mut o.brute, st.brute) {
                d.load_state(s);
            }
            if let (Some(d), Some(s)) = (&mut o.dga, st.dga) {
                d.load_state(s);
            }
            if let (Some(d), Some(s)) = (&mut o.tunnel, st.tunnel) {
                d.load_state(s);
            }
            if let (Some(d), Some(s)) = (&mut o.exfil, st.exfil) {
                d.load_state(s);
            }
            o.seen.load(st.seen);
            o.learning_since = Some(st.learning_since.unwrap_or(i64::MIN));
            o.last_ms = st.last_ms.or(o.last_ms);
        }
    }

    /// Writes the baselines to `path` (through a temporary file, so a
    /// crash mid-write leaves the previous state).
    pub fn save_to(&self, path: &Path) -> Result<(), StateError> {
        let state = self.save_state();
        let tmp = path.with_extension("tmp");
        let io = |source| StateError::Io {
            path: path.display().to_string(),
            source,
        };
        let f = std::fs::File::create(&tmp).map_err(io)?;
        let mut w = std::io::BufWriter::new(f);
        serde_json::to_writer(&mut w, &state).map_err(|e| StateError::Format {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    /// Loads baselines saved by [`save_to`](Self::save_to); a missing file
    /// is a first start (false).
    pub fn load_from(&self, path: &Path) -> Result<bool, StateError> {
        let io = |source| StateError::Io {
            path: path.display().to_string(),
            source,
        };
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(e)),
        };
        let max = self.cfg.state_max_mib.saturating_mul(1 << 20);
        let len = f.metadata().map_err(io)?.len();
        if len > max {
            return Err(StateError::TooLarge {
                path: path.display().to_string(),
                bytes: len,
                max,
            });
        }
        let r = std::io::BufReader::new(f.take(max));
        let s: EngineState = serde_json::from_reader(r).map_err(|e| StateError::Format {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if s.version != STATE_VERSION {
            return Err(StateError::Format {
                path: path.display().to_string(),
                reason: format!("version {} (this build reads {STATE_VERSION})", s.version),
            });
        }
        self.load_state(s);
        Ok(true)
    }
}

/// Runs a name through the look-alike watch; a finding says where the
/// name was seen (a certificate is a domain already registered and in use).
fn watch_name(
    w: &mut LookalikeWatch,
    name: &str,
    ts_ms: i64,
    source: NameSource,
    found: &mut Vec<Finding>,
) {
    if let Some(mut f) = w.observe(name, ts_ms) {
        f.features.push(crate::Feature::new(
            source.id(),
            1.0,
            0.0,
            true,
            source.text(),
        ));
        found.push(f);
    }
}

/// Saving or loading the baselines failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("anomaly state {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("anomaly state {path}: {reason}")]
    Format { path: String, reason: String },
    #[error("anomaly state {path}: {bytes} bytes, more than state_max_mib ({max} bytes)")]
    TooLarge { path: String, bytes: u64, max: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FindingKind;

    fn ev(ts: i64, fields: &[(&str, &str)]) -> Event {
        let mut e = Event::new();
        e.timestamp = chrono::DateTime::from_timestamp_millis(ts).map(|t| t.fixed_offset());
        for (k, v) in fields {
            e.push(*k, *v);
        }
        e
    }

    fn failed_conn(ts: i64, src: &str, dst: &str, port: u16, org: &str) -> Event {
        let mut e = ev(
            ts,
            &[
                ("event.dataset", "zeek.conn"),
                ("source.ip", src),
                ("destination.ip", dst),
                ("network.transport", "tcp"),
                ("conn_state", "REJ"),
                ("organization.id", org),
            ],
        );
        e.push("destination.port", port as u64);
        e
    }

    #[test]
    fn a_scan_raises_once_per_window_and_organisations_are_apart() {
        let e = Engine::new(AnomalyConfig::default()).unwrap();
        let t0 = 1_780_000_000_000;
        let mut out = Vec::new();
        // 40 ports of one host in a minute: a vertical scan, in org a.
        let evs: Vec<Event> = (0..40)
            .map(|p| failed_conn(t0 + p * 1000, "10.0.0.9", "10.0.0.20", 1000 + p as u16, "a"))
            .collect();
        e.observe(&evs, &mut out);
        let scans: Vec<_> = out
            .iter()
            .filter(|f| f.finding.kind == FindingKind::VerticalScan)
            .collect();
        assert_eq!(scans.len(), 1, "{out:?}");
        assert_eq!(scans[0].org.as_deref(), Some("a"));
        // The same scan again within the hour: no second alert.
        out.clear();
        let evs: Vec<Event> = (0..40)
            .map(|p| {
                failed_conn(
                    t0 + 400_000 + p * 1000,
                    "10.0.0.9",
                    "10.0.0.20",
                    2000 + p as u16,
                    "a",
                )
            })
            .collect();
        e.observe(&evs, &mut out);
        assert!(out.is_empty(), "{out:?}");
        // Half the ports in org b: under b's own threshold.
        let evs: Vec<Event> = (0..10)
            .map(|p| failed_conn(t0 + p * 1000, "10.0.0.9", "10.0.0.20", 1000 + p as u16, "b"))
            .collect();
        e.observe(&evs, &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(e.orgs(), 2);
    }

    #[test]
    fn organisations_are_capped() {
        let cfg = AnomalyConfig {
            max_orgs: 2,
            ..AnomalyConfig::default()
        };
        let e = Engine::new(cfg).unwrap();
        let evs: Vec<Event> = ["a", "b", "c", "d"]
            .iter()
            .map(|o| failed_conn(1_780_000_000_000, "10.0.0.9", "10.0.0.20", 22, o))
            .collect();
        e.observe(&evs, &mut Vec::new());
        assert_eq!(e.orgs(), 2);
        assert_eq!(e.refused(), 2);
    }

    /// The brand `examplebank.com` watched.
    fn bank() -> AnomalyConfig {
        AnomalyConfig {
            brands: vec![Brand {
                name: "Example Bank".into(),
                domains: vec!["examplebank.com".into()],
                names_zh: vec![],
                keywords: vec![],
            }],
            ..AnomalyConfig::default()
        }
    }

    #[test]
    fn a_lookalike_of_a_configured_brand_in_dns() {
        let e = Engine::new(bank()).unwrap();
        let mut out = Vec::new();
        let q = |name: &str| {
            ev(
                1_780_000_000_000,
                &[("source.ip", "10.0.0.5"), ("dns.question.name", name)],
            )
        };
        e.observe(&[q("www.examplebank.com"), q("examp1ebank.com")], &mut out);
        let kinds: Vec<_> = out
            .iter()
            .map(|f| (f.finding.kind, f.finding.entity.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![(FindingKind::Lookalike, "examp1ebank.com".to_string())]
        );
        assert!(out[0]
            .finding
            .features
            .iter()
            .any(|f| f.id == "seen_in_dns"));
    }

    #[test]
    fn a_lookalike_in_a_certificate_names_the_certificate() {
        let e = Engine::new(bank()).unwrap();
        // A Zeek x509 record: no hosts, the certificate alone.
        let mut x509 = ev(
            1_780_000_000_000,
            &[
                ("event.dataset", "zeek.x509"),
                ("certificate.subject", "CN=www.example.org,O=Example"),
            ],
        );
        x509.push(
            "san.dns",
            taishi_event::Value::Array(vec![
                "www.example.org".into(),
                "examplebank-secure.com".into(),
            ]),
        );
        let mut out = Vec::new();
        e.observe(&[x509], &mut out);
        let [f] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(f.finding.entity, "examplebank-secure.com");
        let seen = f
            .finding
            .features
            .iter()
            .find(|x| x.id == "seen_in_certificate_san")
            .unwrap_or_else(|| panic!("{f:?}"));
        assert!(seen.fired);
        assert!(seen.text.en.contains("certificate") && seen.text.zh.contains("证书"));
    }

    #[test]
    fn baselines_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("taishi-anomaly-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("anomaly.json");
        let t0 = 1_780_000_000_000;
        let first = Engine::new(AnomalyConfig::default()).unwrap();
        let evs: Vec<Event> = (0..10)
            .map(|p| failed_conn(t0 + p * 1000, "10.0.0.9", "10.0.0.20", 1000 + p as u16, "a"))
            .collect();
        first.observe(&evs, &mut Vec::new());
        first.save_to(&path).unwrap();
        // 10 ports before the restart and 10 after cross the 15 of one epoch.
        let second = Engine::new(AnomalyConfig::default()).unwrap();
        assert!(second.load_from(&path).unwrap());
        let evs: Vec<Event> = (10..20)
            .map(|p| failed_conn(t0 + p * 1000, "10.0.0.9", "10.0.0.20", 1000 + p as u16, "a"))
            .collect();
        let mut out = Vec::new();
        second.observe(&evs, &mut out);
        assert!(
            out.iter()
                .any(|f| f.finding.kind == FindingKind::VerticalScan),
            "{out:?}"
        );
        // A damaged file is an error, not a panic; a missing one a first start.
        std::fs::write(&path, b"{not json").unwrap();
        assert!(second.load_from(&path).is_err());
        assert!(!second.load_from(&dir.join("none.json")).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A host calling one server every 5 minutes (± 30 s) from `t0` for
    /// `hours`, in org `a`.
    fn beacon_events(t0: i64, hours: i64) -> Vec<Event> {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut t = t0;
        let mut out = Vec::new();
        while t < t0 + hours * 3_600_000 {
            let mut e = ev(
                t,
                &[
                    ("event.dataset", "zeek.conn"),
                    ("source.ip", "10.20.0.5"),
                    ("destination.ip", "203.0.113.50"),
                    ("network.transport", "tcp"),
                    ("conn_state", "SF"),
                    ("organization.id", "a"),
                ],
            );
            e.push("destination.port", 443u64);
            e.push("source.bytes", 310u64);
            e.push("destination.bytes", 1200u64);
            out.push(e);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t += 300_000 + (x % 61_000) as i64 - 30_000;
        }
        out
    }

    fn beacons(e: &Engine) -> usize {
        let mut out = Vec::new();
        e.evaluate(&mut out);
        out.iter()
            .filter(|f| f.finding.kind == FindingKind::Beacon)
            .count()
    }

    #[test]
    fn learning_detectors_stay_quiet_during_the_learning_period_and_say_so() {
        let t0 = 1_780_000_000_000;
        let first = beacon_events(t0, 20);
        // Without a learning period, 20 hours of it are a beacon.
        let none = Engine::new(AnomalyConfig {
            learning_hours: 0,
            ..AnomalyConfig::default()
        })
        .unwrap();
        none.observe(&first, &mut Vec::new());
        assert_eq!(beacons(&none), 1);
        assert!(!none.status().orgs[0].learning);

        // With 24 hours of learning: quiet, and the status says until when.
        let cfg = AnomalyConfig {
            learning_hours: 24,
            ..AnomalyConfig::default()
        };
        let e = Engine::new(cfg.clone()).unwrap();
        e.observe(&first, &mut Vec::new());
        assert_eq!(beacons(&e), 0);
        let st = e.status();
        let a = &st.orgs[0];
        assert_eq!(a.org.as_deref(), Some("a"));
        assert!(a.learning);
        assert_eq!(a.learning_since_ms, Some(t0));
        assert_eq!(a.learning_until_ms, Some(t0 + 24 * 3_600_000));
        let beacon = a.detectors.iter().find(|d| d.detector == "beacon").unwrap();
        assert!(beacon.learns && beacon.tables[0].entries == 1, "{beacon:?}");
        assert!(
            !a.detectors
                .iter()
                .find(|d| d.detector == "scan")
                .unwrap()
                .learns
        );
        // Scans do not wait: Zeek's rates need no baseline.
        let scan: Vec<Event> = (0..40)
            .map(|p| failed_conn(t0 + p * 1000, "10.0.0.9", "10.0.0.20", 1000 + p as u16, "a"))
            .collect();
        let mut out = Vec::new();
        e.observe(&scan, &mut out);
        assert!(out
            .iter()
            .any(|f| f.finding.kind == FindingKind::VerticalScan));

        // The learning start survives a restart: the period is not begun again.
        let dir = std::env::temp_dir().join(format!("taishi-anomaly-learn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("anomaly.json");
        e.save_to(&path).unwrap();
        let again = Engine::new(cfg).unwrap();
        assert!(again.load_from(&path).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            again.status().orgs[0].learning_until_ms,
            Some(t0 + 24 * 3_600_000)
        );
        // Past the period (20 more hours of the same beacon): it fires.
        again.observe(&beacon_events(t0 + 20 * 3_600_000, 20), &mut Vec::new());
        assert!(!again.status().orgs[0].learning);
        assert_eq!(beacons(&again), 1);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut cfg = AnomalyConfig {
            evaluate_secs: 0,
            ..AnomalyConfig::default()
        };
        cfg.beacon.alert_score = 7.0;
        let errs = cfg.validate();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].to_string().contains("evaluate_secs"));
    }
}
