//! Personal information masked before storage, and counted per location
//! (issue 16): the pipeline stage between enrichment and the store.
//!
//! What a sender sent reaches the disk in three ways, and each passes here
//! first: the events (the WAL, the index, the alerts and the outbox that
//! carry them), the malformed records kept aside (`rejects/`), and nothing
//! else (the listeners log counts and reasons, never input). The configured
//! fields of each event are scanned (`message`, `event.original`, `url.*`,
//! HTTP bodies … by default) and every finding replaced by its partial mask,
//! its keyed hash or nothing. Rejects are masked whole, since a line that
//! could not be decoded has no fields to choose from.
//!
//! Per location — organisation, listener and field — the stage keeps what
//! was found: counts per kind, a few masked examples, the distinct people
//! (keyed hashes of their ID numbers, exact then HyperLogLog). Each batch's
//! findings are gathered apart and merged under one lock; the inventory is
//! written to `pii-inventory.json` in the data directory every few seconds
//! (write to a temporary file, rename), bounded in locations.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::pii_leak::{Leak, LeakRules, DEFAULT_PI_COLUMNS};
use serde::{Deserialize, Serialize};
use taishi_event::{Event, Reject, Value};
use taishi_pii::{
    CounterSnapshot, Grading, Kind, KindSet, KindSummary, Lang, LocationSummary, MaskKey, MaskMode,
    MaskPolicy, Masker, ScanConfig, Scanner,
};

/// `[pii]` in taishi.toml.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct PiiConfig {
    /// Mask personal information before anything is stored.
    pub enabled: bool,
    /// `partial` (`110101********1234`), `hash` (`[cn_resident_id:…]`, equal
    /// values correlate) or `remove`.
    pub mode: String,
    /// Per kind (`cn_resident_id = "hash"`); `keep` leaves a kind unmasked
    /// and uncounted. IPv4 and IPv6 addresses are `keep` unless named here:
    /// detection and enrichment need them.
    pub kinds: BTreeMap<String, String>,
    /// Per field (`"user.email" = "remove"`), before the kind's mode.
    pub field_modes: BTreeMap<String, String>,
    /// The fields scanned: exact names, `prefix.*` for a field and all below
    /// it, `*` for every field.
    pub fields: Vec<String>,
    /// The HMAC key of hashes and person keys (created at first start, 0600);
    /// relative to the data directory.
    pub key_file: PathBuf,
    /// Locations kept in the inventory (organisation × listener × field);
    /// further ones are counted in `dropped_locations` only.
    pub max_locations: usize,
    /// Seconds between writes of the inventory file.
    pub flush_secs: u64,
    /// Alerts of kind `pii` for personal information leaving (outbound
    /// URLs and bodies, bulk queries of personal-information columns).
    pub leak_alerts: bool,
    /// The organisation's own networks (CIDR); a request to anywhere else
    /// is outbound. Empty: the private, loopback and link-local ranges.
    pub internal_networks: Vec<String>,
    /// A database audit record is a bulk query from this many rows returned.
    pub bulk_query_rows: u64,
    /// Column names that hold personal information, as SQL statements
    /// name them (whole identifiers, any case).
    pub pi_columns: Vec<String>,
}

impl Default for PiiConfig {
    fn default() -> Self {
        PiiConfig {
            enabled: true,
            mode: "partial".into(),
            kinds: BTreeMap::new(),
            field_modes: BTreeMap::new(),
            fields: DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect(),
            key_file: PathBuf::from("pii.key"),
            max_locations: 10_000,
            flush_secs: 10,
            leak_alerts: true,
            internal_networks: Vec::new(),
            bulk_query_rows: 1000,
            pi_columns: DEFAULT_PI_COLUMNS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Where personal information travels in events: free text, URLs, bodies,
/// user and e-mail fields.
pub const DEFAULT_FIELDS: &[&str] = &[
    "message",
    "event.original",
    "log.original",
    "error.message",
    "url.*",
    "http.request.body.content",
    "http.response.body.content",
    "http.request.referrer",
    "user.*",
    "email.*",
    "user_agent.original",
    "process.command_line",
    "file.path",
];

/// The file the inventory is kept in, in the data directory.
pub const INVENTORY_FILE: &str = "pii-inventory.json";

/// Locations deeper than this in nested objects are masked whole without
/// their names (a hostile event cannot recurse without end).
const MAX_DEPTH: usize = 32;

/// Person keys kept exactly in the inventory file per location; above it
/// the count is kept as its sketch.
const FILE_MAX_KEYS: usize = 10_000;

/// Largest inventory file read back (a damaged or foreign file is ignored).
const MAX_FILE_BYTES: u64 = 512 << 20;

fn parse_mode(s: &str) -> Option<Option<MaskMode>> {
    match s {
        "partial" => Some(Some(MaskMode::Partial)),
        "hash" => Some(Some(MaskMode::Hash)),
        "remove" => Some(Some(MaskMode::Remove)),
        "keep" => Some(None),
        _ => None,
    }
}

impl PiiConfig {
    /// Values that parse but cannot work, as `key: message` lines.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !matches!(parse_mode(&self.mode), Some(Some(_))) {
            p.push(format!(
                "pii.mode: `{}` is not a mode (partial, hash, remove) / 不是脱敏方式",
                self.mode
            ));
        }
        for n in &self.internal_networks {
            if n.parse::<ipnet::IpNet>().is_err() {
                p.push(format!(
                    "pii.internal_networks: `{n}` is not a network (10.0.0.0/8) / 不是网段"
                ));
            }
        }
        for (k, m) in &self.kinds {
            if Kind::from_code(k).is_none() {
                let all: Vec<&str> = Kind::ALL.iter().map(|k| k.code()).collect();
                p.push(format!(
                    "pii.kinds.{k}: not a kind ({}) / 不是个人信息类型",
                    all.join(", ")
                ));
            }
            if parse_mode(m).is_none() {
                p.push(format!(
                    "pii.kinds.{k}: `{m}` is not a mode (partial, hash, remove, keep) / 不是脱敏方式"
                ));
            }
        }
        for (f, m) in &self.field_modes {
            if !matches!(parse_mode(m), Some(Some(_))) {
                p.push(format!(
                    "pii.field_modes.{f}: `{m}` is not a mode (partial, hash, remove) / 不是脱敏方式"
                ));
            }
        }
        if self.enabled && self.fields.is_empty() {
            p.push(
                "pii.fields: empty; name the fields to scan, or `*` / 未指定要检查的字段".into(),
            );
        }
        if self.max_locations == 0 || self.max_locations > 1_000_000 {
            p.push("pii.max_locations: between 1 and 1000000".into());
        }
        if self.flush_secs == 0 {
            p.push("pii.flush_secs: must be at least 1".into());
        }
        p
    }

    /// Kinds that are detected (and so masked and counted).
    fn kind_set(&self) -> KindSet {
        Kind::ALL
            .iter()
            .copied()
            .filter(|k| {
                let m = self.kinds.get(k.code()).and_then(|m| parse_mode(m));
                match m {
                    Some(mode) => mode.is_some(),
                    None => !matches!(k, Kind::Ipv4 | Kind::Ipv6),
                }
            })
            .collect()
    }

    fn policy(&self) -> MaskPolicy {
        let mode = |s: &str| parse_mode(s).flatten();
        MaskPolicy {
            default: mode(&self.mode).unwrap_or(MaskMode::Partial),
            kinds: self
                .kinds
                .iter()
                .filter_map(|(k, m)| Some((Kind::from_code(k)?, mode(m)?)))
                .collect(),
            fields: self
                .field_modes
                .iter()
                .filter_map(|(f, m)| Some((f.clone(), mode(m)?)))
                .collect(),
        }
    }
}

/// Why the stage could not start.
#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("pii key file {path}: {source}")]
    KeyIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pii key file {path}: {source} (delete it to make a new one; hashes made with the old key will not match)")]
    Key {
        path: PathBuf,
        source: taishi_pii::KeyError,
    },
    #[error("pii detectors: {0}")]
    Data(#[from] taishi_pii::DataError),
    #[error("pii: {0}")]
    Config(String),
}

/// Reads the masking key, or makes one of 32 random bytes readable by the
/// owner only (written under a temporary name and renamed, so a crash never
/// leaves half a key).
pub fn load_or_create_key(path: &Path) -> Result<MaskKey, PiiError> {
    let io = |source| PiiError::KeyIo {
        path: path.to_path_buf(),
        source,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut k = [0u8; 32];
            getrandom::fill(&mut k).map_err(|e| io(std::io::Error::other(e.to_string())))?;
            let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
            let tmp = path.with_extension("tmp");
            let _ = std::fs::remove_file(&tmp);
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(io)?;
            f.write_all(hex.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            std::fs::rename(&tmp, path).map_err(io)?;
            hex.into_bytes()
        }
        Err(e) => return Err(io(e)),
    };
    // Hex in the file (as made above); any other content is used as it is.
    let text = String::from_utf8_lossy(&bytes);
    let t = text.trim();
    let raw = if t.len().is_multiple_of(2) && t.bytes().all(|c| c.is_ascii_hexdigit()) {
        (0..t.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
            .collect()
    } else {
        bytes.clone()
    };
    MaskKey::new(&raw).map_err(|source| PiiError::Key {
        path: path.to_path_buf(),
        source,
    })
}

/// Field patterns: exact names, `prefix.*`, `*`.
#[derive(Debug, Clone)]
struct Fields {
    all: bool,
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl Fields {
    fn new(list: &[String]) -> Fields {
        let mut f = Fields {
            all: false,
            exact: Vec::new(),
            prefixes: Vec::new(),
        };
        for p in list {
            if p == "*" {
                f.all = true;
            } else if let Some(pre) = p.strip_suffix(".*") {
                f.prefixes.push(pre.to_string());
            } else {
                f.exact.push(p.clone());
            }
        }
        f
    }

    /// Whether the field at dotted `path` is scanned.
    fn matches(&self, path: &str) -> bool {
        self.all
            || self.exact.iter().any(|e| e == path)
            || self.prefixes.iter().any(|p| {
                path == p
                    || (path.len() > p.len()
                        && path.starts_with(p.as_str())
                        && path.as_bytes()[p.len()] == b'.')
            })
    }

    /// Whether anything at or below `path` may be scanned (so an object is
    /// worth walking into).
    fn may_match_below(&self, path: &str) -> bool {
        let under = |name: &str| {
            name.len() > path.len() && name.starts_with(path) && name.as_bytes()[path.len()] == b'.'
        };
        self.all || self.exact.iter().any(|e| under(e)) || self.prefixes.iter().any(|p| under(p))
    }
}

/// Where something was found: whose, through which listener, in which field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LocationKey {
    pub org: String,
    pub listener: String,
    pub field: String,
}

struct Location {
    summary: LocationSummary,
    first_seen: i64,
    last_seen: i64,
    /// Hosts the events named (`host.name`, else `host.ip`), at most 5.
    hosts: Vec<String>,
}

#[derive(Default)]
struct Inventory {
    locations: HashMap<LocationKey, Location>,
    dirty: bool,
    dropped: u64,
}

/// The stage's counters (served on `/metrics` and in the inventory answer).
#[derive(Debug, Default)]
pub struct PiiCounters {
    /// Findings masked in events.
    pub masked: AtomicU64,
    /// Rejected records that held personal information (masked).
    pub rejects_masked: AtomicU64,
    /// Values left unscanned because they passed a limit (too deep).
    pub limited: AtomicU64,
}

/// The pipeline's masking stage and the inventory it fills.
pub struct PiiStage {
    masker: Masker,
    key: MaskKey,
    fields: Fields,
    grading: Grading,
    max_locations: usize,
    flush_every: Duration,
    path: PathBuf,
    inventory: Mutex<Inventory>,
    last_flush: Mutex<Instant>,
    leaks: Option<LeakRules>,
    pub counters: PiiCounters,
}

/// Told of each value that held something: its field path, its text, the findings.
type OnFound<'a> = dyn FnMut(&str, &[u8], &[taishi_pii::Finding]) + 'a;

/// One finding-bearing value in a batch: the location and what was found.
type Found = HashMap<LocationKey, (LocationSummary, Option<String>)>;

impl PiiStage {
    /// The stage of a `[pii]` section: the key read or made under
    /// `data_dir`, the inventory file read back when there is one.
    pub fn open(cfg: &PiiConfig, data_dir: &Path) -> Result<PiiStage, PiiError> {
        let problems = cfg.validate();
        if !problems.is_empty() {
            return Err(PiiError::Config(problems.join("; ")));
        }
        let key_path = if cfg.key_file.is_absolute() {
            cfg.key_file.clone()
        } else {
            data_dir.join(&cfg.key_file)
        };
        let key = load_or_create_key(&key_path)?;
        let scanner = Scanner::new(ScanConfig {
            kinds: cfg.kind_set(),
            ..ScanConfig::default()
        })?;
        let stage = PiiStage {
            masker: Masker::new(scanner, key.clone(), cfg.policy()),
            key,
            fields: Fields::new(&cfg.fields),
            grading: Grading::builtin()?,
            max_locations: cfg.max_locations,
            flush_every: Duration::from_secs(cfg.flush_secs.max(1)),
            path: data_dir.join(INVENTORY_FILE),
            inventory: Mutex::new(Inventory::default()),
            last_flush: Mutex::new(Instant::now()),
            leaks: cfg.leak_alerts.then(|| {
                LeakRules::new(
                    cfg.internal_networks
                        .iter()
                        .filter_map(|n| n.parse().ok())
                        .collect(),
                    cfg.bulk_query_rows,
                    &cfg.pi_columns,
                )
            }),
            counters: PiiCounters::default(),
        };
        stage.load();
        Ok(stage)
    }

    /// Masks the malformed records of a batch before they are kept aside:
    /// the whole raw bytes and the reason (a decoder may quote the input).
    pub fn mask_rejects(&self, rejects: &mut [Reject]) {
        for r in rejects {
            let (mut masked, found) = self.masker.mask_bytes(&r.raw);
            let cut = r.raw_len > r.raw.len();
            if cut {
                // A value cut at the end is too short to be recognised:
                // the trailing token is starred rather than kept.
                let n = masked
                    .iter()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .count();
                let len = masked.len();
                masked[len - n..].fill(b'*');
            }
            if !found.findings.is_empty() {
                self.counters.rejects_masked.fetch_add(1, Ordering::Relaxed);
            }
            if !found.findings.is_empty() || cut {
                r.raw = masked;
            }
            let (reason, f) = self.masker.mask_bytes(r.reason.as_bytes());
            if !f.findings.is_empty() {
                r.reason = String::from_utf8_lossy(&reason).into_owned();
            }
        }
    }

    /// Masks the scanned fields of each event in place and adds what was
    /// found to the inventory (one merge per batch). Returns the leaks the
    /// batch showed (`pii_leak`), by event index, for the pipeline to
    /// raise once the events have their sequence numbers.
    pub fn mask_events(&self, listener: &str, events: &mut [Event]) -> Vec<Leak> {
        let mut found: Found = HashMap::new();
        let mut leaks = Vec::new();
        let mut n = 0u64;
        for (index, ev) in events.iter_mut().enumerate() {
            let dir = self.leaks.as_ref().map(|r| r.direction(ev));
            if let Some(l) = self.leaks.as_ref().and_then(|r| r.bulk_query(index, ev)) {
                leaks.push(l);
            }
            // What leaves with this event, and in which fields.
            let mut out = LocationSummary::new(self.key.clone());
            let mut out_fields: Vec<String> = Vec::new();
            let org = ev
                .get_str("organization.id")
                .unwrap_or_default()
                .to_string();
            let host = ev
                .get_str("host.name")
                .or_else(|| ev.get_str("host.hostname"))
                .map(str::to_string)
                .or_else(|| ev.get("host.ip").map(value_text));
            let mut path = String::new();
            for (name, value) in ev.fields_mut().iter_mut() {
                path.clear();
                path.push_str(name);
                n += self.walk(value, &mut path, 0, false, &mut |field, text, findings| {
                    let key = LocationKey {
                        org: org.clone(),
                        listener: listener.to_string(),
                        field: field.to_string(),
                    };
                    let e = found
                        .entry(key)
                        .or_insert_with(|| (LocationSummary::new(self.key.clone()), None));
                    e.0.add(&self.masker, text, findings);
                    if e.1.is_none() {
                        e.1 = host.clone();
                    }
                    if dir.is_some_and(|d| LeakRules::leaves(d, field)) {
                        out.add(&self.masker, text, findings);
                        if !out_fields.iter().any(|f| f == field) {
                            out_fields.push(field.to_string());
                        }
                    }
                });
            }
            leaks.extend(LeakRules::outbound(index, &out, out_fields));
        }
        if n == 0 {
            return leaks;
        }
        self.counters.masked.fetch_add(n, Ordering::Relaxed);
        let now = chrono::Utc::now().timestamp();
        let mut inv = self.inventory.lock().unwrap_or_else(|e| e.into_inner());
        inv.dirty = true;
        for (key, (summary, host)) in found {
            if !inv.locations.contains_key(&key) && inv.locations.len() >= self.max_locations {
                inv.dropped += 1;
                continue;
            }
            let loc = inv.locations.entry(key).or_insert_with(|| Location {
                summary: LocationSummary::new(self.key.clone()),
                first_seen: now,
                last_seen: now,
                hosts: Vec::new(),
            });
            loc.summary.merge(&summary);
            loc.last_seen = now;
            if let Some(h) = host {
                if loc.hosts.len() < 5 && !loc.hosts.contains(&h) {
                    loc.hosts.push(h);
                }
            }
        }
        leaks
    }

    /// Masks `v` (at dotted `path`) when its field is scanned; walks into
    /// objects and arrays. Returns the findings masked.
    fn walk(
        &self,
        v: &mut Value,
        path: &mut String,
        depth: usize,
        inside: bool,
        found: &mut OnFound<'_>,
    ) -> u64 {
        let scanned = inside || self.fields.matches(path);
        match v {
            Value::Str(s) if scanned => {
                // The whole path: its words are context (`user.phone`), and
                // per-field modes are written as paths.
                let (masked, out) = self.masker.mask_field(Some(path), s.as_bytes());
                if out.findings.is_empty() {
                    return 0;
                }
                found(path, s.as_bytes(), &out.findings);
                *s = String::from_utf8_lossy(&masked).as_ref().into();
                out.findings.len() as u64
            }
            Value::Int(_) | Value::UInt(_) if scanned => {
                let text = value_text(v);
                let (masked, out) = self.masker.mask_field(Some(path), text.as_bytes());
                if out.findings.is_empty() {
                    return 0;
                }
                found(path, text.as_bytes(), &out.findings);
                *v = Value::Str(String::from_utf8_lossy(&masked).as_ref().into());
                out.findings.len() as u64
            }
            Value::Array(items) if scanned || self.fields.may_match_below(path) => {
                let mut n = 0;
                for x in items {
                    n += self.walk(x, path, depth + 1, scanned, found);
                }
                n
            }
            Value::Object(members) if scanned || self.fields.may_match_below(path) => {
                if depth >= MAX_DEPTH {
                    // Too deep to name: masked whole as its JSON text.
                    self.counters.limited.fetch_add(1, Ordering::Relaxed);
                    let text = serde_json::to_string(&*v).unwrap_or_default();
                    let (masked, out) = self.masker.mask_bytes(text.as_bytes());
                    if !out.findings.is_empty() {
                        *v = Value::Str(String::from_utf8_lossy(&masked).as_ref().into());
                    }
                    return out.findings.len() as u64;
                }
                let mut n = 0;
                for (k, x) in members.iter_mut() {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    n += self.walk(x, path, depth + 1, scanned, found);
                    path.truncate(len);
                }
                n
            }
            _ => 0,
        }
    }

    /// Writes the inventory file when something changed and `flush_secs`
    /// passed (`force`: whatever the time, at shutdown).
    pub fn flush(&self, force: bool) -> std::io::Result<()> {
        {
            let mut last = self.last_flush.lock().unwrap_or_else(|e| e.into_inner());
            if !force && last.elapsed() < self.flush_every {
                return Ok(());
            }
            *last = Instant::now();
        }
        let file = {
            let mut inv = self.inventory.lock().unwrap_or_else(|e| e.into_inner());
            if !inv.dirty {
                return Ok(());
            }
            inv.dirty = false;
            InventoryFile {
                dropped_locations: inv.dropped,
                locations: inv
                    .locations
                    .iter()
                    .map(|(k, l)| StoredLocation {
                        key: k.clone(),
                        kinds: l.summary.kinds.clone(),
                        people: l.summary.people_snapshot(FILE_MAX_KEYS),
                        first_seen: l.first_seen,
                        last_seen: l.last_seen,
                        hosts: l.hosts.clone(),
                    })
                    .collect(),
            }
        };
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        serde_json::to_writer(&mut f, &file).map_err(std::io::Error::other)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)
    }

    fn load(&self) {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return;
        };
        if meta.len() > MAX_FILE_BYTES {
            tracing::warn!(path = %self.path.display(), "pii inventory file too large: ignored");
            return;
        }
        let file: InventoryFile = match std::fs::read(&self.path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "pii inventory file unreadable: starting empty");
                return;
            }
        };
        let mut inv = self.inventory.lock().unwrap_or_else(|e| e.into_inner());
        inv.dropped = file.dropped_locations;
        for l in file.locations.into_iter().take(self.max_locations) {
            if let Some(summary) = LocationSummary::restore(self.key.clone(), l.kinds, &l.people) {
                inv.locations.insert(
                    l.key,
                    Location {
                        summary,
                        first_seen: l.first_seen,
                        last_seen: l.last_seen,
                        hosts: l.hosts,
                    },
                );
            }
        }
    }

    /// The data inventory: every location with its kinds, people and grade,
    /// of the organisations `visible` admits; most people first.
    pub fn inventory(&self, visible: &dyn Fn(&str) -> bool) -> InventoryAnswer {
        let inv = self.inventory.lock().unwrap_or_else(|e| e.into_inner());
        let mut locations: Vec<InventoryLocation> = inv
            .locations
            .iter()
            .filter(|(k, _)| visible(&k.org))
            .map(|(k, l)| self.row(k, l))
            .collect();
        locations.sort_by(|a, b| {
            b.people
                .cmp(&a.people)
                .then(b.findings.cmp(&a.findings))
                .then_with(|| (&a.org, &a.listener, &a.field).cmp(&(&b.org, &b.listener, &b.field)))
        });
        InventoryAnswer {
            locations,
            dropped_locations: inv.dropped,
        }
    }

    fn row(&self, k: &LocationKey, l: &Location) -> InventoryLocation {
        let people = l.summary.people();
        let grade = l.summary.grade(&self.grading);
        let kinds: Vec<InventoryKind> = l
            .summary
            .kinds
            .iter()
            .map(|(kind, s)| {
                let g = self.grading.grade(*kind);
                InventoryKind {
                    kind: kind.code().into(),
                    label_zh: kind.label(Lang::Zh).into(),
                    label_en: kind.label(Lang::En).into(),
                    count: s.count,
                    max_confidence: s.max_confidence,
                    examples: s.examples.clone(),
                    category: g.category.code().into(),
                    sensitive: g.sensitive,
                }
            })
            .collect();
        let ts = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        InventoryLocation {
            org: k.org.clone(),
            listener: k.listener.clone(),
            field: k.field.clone(),
            findings: kinds.iter().map(|k| k.count).sum(),
            kinds,
            people: people.count,
            people_exact: people.exact,
            people_rel_std_error: people.rel_std_error,
            category: grade.map(|g| g.category.code().to_string()),
            category_zh: grade.map(|g| g.category.label(Lang::Zh).to_string()),
            category_en: grade.map(|g| g.category.label(Lang::En).to_string()),
            sensitive: grade.map(|g| g.sensitive).unwrap_or(false),
            level: grade.map(|g| g.level.code()),
            level_zh: grade.map(|g| g.level.label(Lang::Zh)),
            level_en: grade.map(|g| g.level.label(Lang::En)),
            hosts: l.hosts.clone(),
            assets: Vec::new(),
            first_seen: ts(l.first_seen),
            last_seen: ts(l.last_seen),
        }
    }
}

/// A value as the text it is scanned as.
fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[derive(Serialize, Deserialize)]
struct InventoryFile {
    dropped_locations: u64,
    locations: Vec<StoredLocation>,
}

#[derive(Serialize, Deserialize)]
struct StoredLocation {
    key: LocationKey,
    kinds: BTreeMap<Kind, KindSummary>,
    people: CounterSnapshot,
    first_seen: i64,
    last_seen: i64,
    hosts: Vec<String>,
}

/// `GET /data/inventory`: where personal information was seen.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InventoryAnswer {
    pub locations: Vec<InventoryLocation>,
    /// Locations not kept because `pii.max_locations` was reached.
    pub dropped_locations: u64,
}

/// One data location (organisation × listener × field).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InventoryLocation {
    pub org: String,
    pub listener: String,
    /// The event field (dotted path).
    pub field: String,
    pub kinds: Vec<InventoryKind>,
    /// Findings of every kind.
    pub findings: u64,
    /// Distinct people (by resident ID number).
    pub people: u64,
    /// True while the count is exact; else a HyperLogLog estimate.
    pub people_exact: bool,
    /// Relative standard error of `people` (0 when exact, 0.0081 for the sketch).
    pub people_rel_std_error: f64,
    /// GB/T 35273 category of the most protected kind (`identity`, `property` …).
    pub category: Option<String>,
    pub category_zh: Option<String>,
    pub category_en: Option<String>,
    /// Sensitive personal information (GB/T 35273 附录 B).
    pub sensitive: bool,
    /// GB/T 43697 level: `general-1`..`general-4`, `important`, `core`.
    pub level: Option<String>,
    pub level_zh: Option<String>,
    pub level_en: Option<String>,
    /// Hosts the events named (the asset to look up), at most 5.
    pub hosts: Vec<String>,
    /// The registered assets those hosts are, in the location's
    /// organisation (filled by the service from the asset register).
    pub assets: Vec<InventoryAsset>,
    /// ISO 8601, UTC.
    pub first_seen: String,
    pub last_seen: String,
}

/// A data location's asset in the register.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InventoryAsset {
    /// The host the location was seen on (as the events named it).
    pub host: String,
    /// The asset's id (`/assets/{id}`).
    pub id: u64,
    pub name: String,
}

/// One kind at a location.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InventoryKind {
    /// Machine code (`cn_resident_id`, `cn_mobile` …).
    pub kind: String,
    pub label_zh: String,
    pub label_en: String,
    pub count: u64,
    pub max_confidence: f32,
    /// Partial masks only, never a raw value.
    pub examples: Vec<String>,
    /// GB/T 35273 category code.
    pub category: String,
    pub sensitive: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(dir: &Path, cfg: PiiConfig) -> PiiStage {
        PiiStage::open(&cfg, dir).unwrap()
    }

    const ID: &str = "11010119900307803X";
    const PHONE: &str = "13800138000";

    #[test]
    fn masks_scanned_fields_only_and_counts_people() {
        let dir = tempfile::tempdir().unwrap();
        let s = stage(dir.path(), PiiConfig::default());
        let mut ev = Event::new();
        ev.push("organization.id", "acme");
        ev.push(
            "message",
            format!("身份证 {ID} 手机 {PHONE} from 203.0.113.7"),
        );
        ev.push(
            "url",
            Value::Object(vec![(
                "query".into(),
                Value::from(format!("phone={PHONE}")),
            )]),
        );
        ev.push("user.phone", Value::UInt(13800138000));
        ev.push("trace.id", "身份证 11010119900307803X");
        let mut evs = vec![ev];
        s.mask_events("syslog", &mut evs);
        let json = evs[0].to_json_string();
        assert!(json.contains("110101********803X"), "{json}");
        assert!(json.contains("138****8000"), "{json}");
        // IP addresses are kept by default (detection needs them).
        assert!(json.contains("203.0.113.7"), "{json}");
        assert!(!json.contains("13800138000"), "{json}");
        // A field not configured is left alone.
        assert!(
            json.contains("\"trace.id\":\"身份证 11010119900307803X\""),
            "{json}"
        );
        let inv = s.inventory(&|_| true);
        let msg = inv.locations.iter().find(|l| l.field == "message").unwrap();
        assert_eq!((msg.org.as_str(), msg.people), ("acme", 1));
        assert_eq!(msg.level.as_deref(), Some("general-4"));
        assert!(inv.locations.iter().any(|l| l.field == "url.query"));
        assert!(inv.locations.iter().any(|l| l.field == "user.phone"));
        assert!(inv.locations.iter().all(|l| l.org == "acme"));
        assert!(s.inventory(&|o| o != "acme").locations.is_empty());
    }

    #[test]
    fn modes_per_kind_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = PiiConfig::default();
        cfg.kinds.insert("cn_resident_id".into(), "hash".into());
        cfg.field_modes.insert("user.phone".into(), "remove".into());
        let s = stage(dir.path(), cfg);
        let mut ev = Event::new();
        ev.push("message", format!("身份证 {ID}"));
        ev.push("user.phone", PHONE);
        let mut evs = vec![ev];
        s.mask_events("l", &mut evs);
        let m = evs[0].get_str("message").unwrap();
        assert!(m.starts_with("身份证 [cn_resident_id:"), "{m}");
        assert_eq!(evs[0].get_str("user.phone"), Some(""));
    }

    #[test]
    fn rejects_are_masked_whole_and_cut_values_starred() {
        let dir = tempfile::tempdir().unwrap();
        let s = stage(dir.path(), PiiConfig::default());
        let ctx =
            taishi_event::DecodeContext::new(std::sync::Arc::from("t"), taishi_event::Format::Json);
        let mut r = Reject::new(&ctx, Default::default(), format!("bad json near {PHONE}"));
        r.raw = format!("{{\"tel\": \"{PHONE}\", \"id\": \"1101011990").into_bytes();
        r.raw_len = r.raw.len() + 8;
        let mut rs = vec![r];
        s.mask_rejects(&mut rs);
        let raw = String::from_utf8_lossy(&rs[0].raw).to_string();
        assert!(!raw.contains(PHONE) && !raw.contains("1101011990"), "{raw}");
        assert!(!rs[0].reason.contains(PHONE), "{}", rs[0].reason);
    }

    #[test]
    fn inventory_survives_a_restart_and_the_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = stage(dir.path(), PiiConfig::default());
            let mut ev = Event::new();
            ev.push("message", format!("身份证 {ID}, 身份证 440305200002290002"));
            s.mask_events("l", &mut [ev]);
            s.flush(true).unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join(INVENTORY_FILE)).unwrap();
        assert!(!text.contains(ID) && !text.contains("440305200002290002"));
        let s = stage(dir.path(), PiiConfig::default());
        let inv = s.inventory(&|_| true);
        assert_eq!(inv.locations[0].people, 2);
        assert!(inv.locations[0].people_exact);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("pii.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn config_problems_are_named() {
        let mut cfg = PiiConfig {
            mode: "scramble".into(),
            ..PiiConfig::default()
        };
        cfg.kinds.insert("shoe_size".into(), "hash".into());
        let p = cfg.validate();
        assert!(p.iter().any(|l| l.starts_with("pii.mode:")), "{p:?}");
        assert!(
            p.iter().any(|l| l.starts_with("pii.kinds.shoe_size:")),
            "{p:?}"
        );
    }
}
