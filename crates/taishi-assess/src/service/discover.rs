//! Discovery from what Taishi receives (issue 15) and the large-outbound-
//! transfer leak rule (issue 16), as one stream detector in the pipeline.
//!
//! Every stored event (enriched, with `organization.id` stamped) is read
//! for the hosts it names:
//!
//! | source | what is read |
//! |---|---|
//! | EVTX | `host.name` (`Computer`) |
//! | syslog | `host.name` (the header's host) |
//! | Zeek `known_hosts`, `known_services`, `software` | `host.ip`; `software` also its name and version |
//! | DHCP (Zeek `dhcp`) | `host_name`/`client_fqdn` with `assigned_addr` |
//! | DNS | the question name with each answer inside the internal ranges |
//! | flows (any event with both endpoints) | `source.ip`, `destination.ip` inside the internal ranges |
//!
//! A host the organisation's register knows (by address, or by name, short
//! or fully qualified) gets its `last_seen` moved (written at most once a
//! minute per asset) and the software Zeek saw on it; any other host is an
//! unknown-asset candidate (shadow IT), kept per organisation in a capped
//! table (the least recently seen evicted, and counted) that is saved to
//! `DATA_DIR/discovery-state.json` so a restart keeps it. A candidate the
//! register comes to know (an import adds the host) leaves the list.
//!
//! The outbound rule: the bytes a registered asset whose data level is 重要
//! or 核心 sends to addresses outside the internal ranges add up per asset
//! in fixed windows of `outbound_window_secs` (by the events' time); past
//! `outbound_bytes` one `pii:outbound_transfer` alert is raised for that
//! asset and window.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as J};
use taishi_alert::{Alert, AlertKind, Level};
use taishi_asset::{
    AssetId, DataLevel, Fact, Identity, Lang, Provenance, Software, SourceKind, UnknownAsset,
};
use taishi_event::{Event, Value};
use taishi_state::ROOT_ORG;

use super::{iso, Risk, RiskError};
use crate::RiskSection;

/// Host names kept per candidate.
const MAX_NAMES: usize = 8;
/// Sources kept per candidate.
const MAX_SOURCES: usize = 16;
/// Outside peers named per outbound window.
const MAX_PEERS: usize = 16;
/// DNS answers read per event.
const MAX_ANSWERS: usize = 16;
/// Software entries discovery adds to one asset.
const MAX_SOFTWARE: usize = 256;
/// Outbound windows followed at once (assets × organisations).
const MAX_WINDOWS: usize = 100_000;
/// A registered asset's `last_seen` is written at most this often.
const SEEN_EVERY_SECS: i64 = 60;
/// The candidates are saved at most this often while events arrive (and
/// at each tick and at shutdown).
const SAVE_EVERY_SECS: i64 = 60;
/// The saved table is read up to this size.
const MAX_FILE: u64 = 256 << 20;
/// A host name longer than a DNS name can be is not one.
const MAX_NAME: usize = 253;

/// The detector's counters (on `/metrics`).
#[derive(Debug, Default)]
pub struct DiscoveryCounters {
    /// Hosts read from events (known and unknown).
    pub sightings: AtomicU64,
    /// Candidates evicted because an organisation's table was full.
    pub evicted: AtomicU64,
    /// `last_seen` writes of registered assets.
    pub assets_seen: AtomicU64,
    /// `pii:outbound_transfer` alerts raised.
    pub outbound_alerts: AtomicU64,
    /// Flows not counted because `MAX_WINDOWS` windows were open.
    pub windows_full: AtomicU64,
}

/// The register as discovery looks things up, per organisation.
#[derive(Default)]
struct OrgView {
    ips: HashMap<IpAddr, AssetId>,
    /// Names lower-case, and FQDNs' first labels too.
    names: HashMap<String, AssetId>,
}

struct Holder {
    name: String,
    level: DataLevel,
}

#[derive(Default)]
struct View {
    changes: u64,
    orgs: HashMap<String, OrgView>,
    /// Assets holding 重要 or 核心 data.
    holders: HashMap<AssetId, Holder>,
}

impl View {
    fn find(&self, org: &str, ip: Option<IpAddr>, name: Option<&str>) -> Option<AssetId> {
        let o = self.orgs.get(org)?;
        ip.and_then(|ip| o.ips.get(&ip).copied()).or_else(|| {
            let n = name?;
            o.names
                .get(n)
                .or_else(|| o.names.get(first_label(n)))
                .copied()
        })
    }
}

/// One organisation's candidates, by key (`ip:…` or `name:…`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct OrgTable {
    entries: HashMap<String, UnknownAsset>,
    /// Evicted over the table's life.
    evicted: u64,
}

struct Window {
    bucket: i64,
    bytes: u64,
    peers: BTreeSet<IpAddr>,
    alerted: bool,
}

#[derive(Default)]
struct Inner {
    unknown: HashMap<String, OrgTable>,
    windows: HashMap<(String, AssetId), Window>,
    /// When each asset's `last_seen` was last written (event time, Unix s).
    written: HashMap<AssetId, i64>,
    dirty: bool,
    saved_at: i64,
}

/// What the saved file holds.
#[derive(Serialize, Deserialize)]
struct Saved {
    orgs: HashMap<String, OrgTable>,
}

/// Why the saved candidates could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a discovery table: {source}")]
    Format {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: larger than {MAX_FILE} bytes")]
    TooLarge { path: String },
}

/// One unknown-asset candidate as `GET /assets/unknown` lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UnknownView {
    pub org: String,
    /// The address inside the internal ranges, when one was seen.
    pub ip: Option<String>,
    pub hostnames: Vec<String>,
    /// What saw it: `evtx Computer`, `syslog host`, `zeek known_hosts`,
    /// `dhcp`, `dns`, `flow (zeek.conn)` …
    pub sources: Vec<String>,
    /// ISO 8601, UTC.
    pub first_seen: String,
    pub last_seen: String,
    pub sightings: u64,
    /// Why it is listed, in zh-CN.
    pub reason_zh: String,
    pub reason_en: String,
}

/// `GET /assets/unknown`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UnknownAnswer {
    /// Candidates in the caller's scope.
    pub total: usize,
    /// Candidates evicted from the capped tables in scope (`risk.max_unknown`).
    pub evicted: u64,
    /// Most recently seen first.
    pub items: Vec<UnknownView>,
}

/// The detector.
pub struct Discovery {
    risk: Arc<Risk>,
    internal: Vec<IpNet>,
    max_unknown: usize,
    outbound_bytes: u64,
    window_secs: i64,
    path: PathBuf,
    view: Mutex<Arc<View>>,
    inner: Mutex<Inner>,
    pub counters: DiscoveryCounters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn first_label(h: &str) -> &str {
    h.split('.').next().unwrap_or(h)
}

/// A host name as discovery keys it: lower-case, no trailing dot; none for
/// placeholders, addresses and what cannot be a DNS name.
fn host_name(s: &str) -> Option<String> {
    let n = s.trim().trim_end_matches('.').to_lowercase();
    let ok = !n.is_empty()
        && n.len() <= MAX_NAME
        && n != "-"
        && n != "localhost"
        && n.parse::<IpAddr>().is_err()
        && !n.ends_with(".arpa")
        && n.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'));
    ok.then_some(n)
}

fn text<'a>(ev: &'a Event, name: &str) -> Option<&'a str> {
    ev.get_str(name)
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "-")
}

fn ip_of(ev: &Event, name: &str) -> Option<IpAddr> {
    text(ev, name)?.parse().ok()
}

fn u64_of(ev: &Event, name: &str) -> Option<u64> {
    match ev.get(name)? {
        Value::Str(s) => s.trim().parse().ok(),
        v => v.as_u64(),
    }
}

/// Addresses that are neither the operator's nor anyone's destination on
/// the Internet (loopback, link-local, multicast, unspecified, broadcast).
fn special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_loopback()
                || v.is_link_local()
                || v.is_multicast()
                || v.is_unspecified()
                || v.is_broadcast()
        }
        IpAddr::V6(v) => {
            v.is_loopback()
                || v.is_multicast()
                || v.is_unspecified()
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// One host an event names.
struct Seen {
    ip: Option<IpAddr>,
    name: Option<String>,
    source: String,
}

/// The dataset an event came from (`zeek.conn`, `netflow` …), short.
fn dataset(ev: &Event) -> Option<&str> {
    text(ev, "event.dataset")
        .or_else(|| text(ev, "event.module"))
        .filter(|d| d.len() <= 40)
}

/// The hosts an event names (see the module's table).
fn sightings(ev: &Event, out: &mut Vec<Seen>) {
    let ds = dataset(ev).unwrap_or_default();
    let name = ["host.name", "host.hostname", "Computer"]
        .iter()
        .find_map(|f| text(ev, f));
    if let Some(n) = name.and_then(host_name) {
        let source = if ev.contains("winlog.computer_name") || ev.contains("Computer") {
            "evtx Computer"
        } else if ev.contains("log.syslog.hostname") {
            "syslog host"
        } else {
            "host.name"
        };
        out.push(Seen {
            ip: None,
            name: Some(n),
            source: source.into(),
        });
    }
    if let Some(ip) = ip_of(ev, "host.ip") {
        let source = match ds {
            "zeek.known_hosts" | "zeek.known_services" | "zeek.software" => ds.replace('.', " "),
            _ => "host.ip".into(),
        };
        out.push(Seen {
            ip: Some(ip),
            name: None,
            source,
        });
    }
    // DHCP: the address handed out and the name the client asked for.
    if ds == "zeek.dhcp" || ev.contains("assigned_addr") || ev.contains("dhcp.assigned_ip") {
        let ip = ip_of(ev, "assigned_addr")
            .or_else(|| ip_of(ev, "dhcp.assigned_ip"))
            .or_else(|| ip_of(ev, "client_addr"));
        let name = ["host_name", "client_fqdn", "dhcp.hostname"]
            .iter()
            .find_map(|f| text(ev, f))
            .and_then(host_name);
        if ip.is_some() || name.is_some() {
            out.push(Seen {
                ip,
                name,
                source: "dhcp".into(),
            });
        }
    }
    // DNS answers: an internal name resolving to an internal address.
    if let Some(q) = text(ev, "dns.question.name").and_then(host_name) {
        let mut n = 0;
        let mut add = |ip: IpAddr, out: &mut Vec<Seen>| {
            if n < MAX_ANSWERS {
                n += 1;
                out.push(Seen {
                    ip: Some(ip),
                    name: Some(q.clone()),
                    source: "dns".into(),
                });
            }
        };
        match ev.get("dns.resolved_ip") {
            Some(Value::Array(a)) => {
                for ip in a.iter().filter_map(|v| v.as_str()?.parse().ok()) {
                    add(ip, out);
                }
            }
            Some(Value::Str(s)) => {
                if let Ok(ip) = s.parse() {
                    add(ip, out);
                }
            }
            _ => {}
        }
    }
    // Flow endpoints: both ends of anything with two addresses.
    let src = ip_of(ev, "source.ip");
    let dst = ip_of(ev, "destination.ip");
    if src.is_some() && dst.is_some() {
        let source = if ds.is_empty() {
            "flow".to_string()
        } else {
            format!("flow ({ds})")
        };
        for ip in [src, dst].into_iter().flatten() {
            out.push(Seen {
                ip: Some(ip),
                name: None,
                source: source.clone(),
            });
        }
    }
}

/// Software Zeek's `software` log saw on a host: its name and version
/// (`version.major`.`minor`.`minor2`.`minor3`, else what follows `/` in
/// the unparsed version). Names that are not product names (a Shellshock
/// probe in a User-Agent) are refused.
fn software_of(ev: &Event) -> Option<(IpAddr, Software)> {
    if dataset(ev) != Some("zeek.software") {
        return None;
    }
    let ip = ip_of(ev, "host.ip").or_else(|| ip_of(ev, "host"))?;
    let name = text(ev, "name")?;
    let name_ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_' | '+' | '/'));
    if !name_ok {
        return None;
    }
    let parts: Vec<String> = [
        "version.major",
        "version.minor",
        "version.minor2",
        "version.minor3",
    ]
    .iter()
    .map_while(|f| u64_of(ev, f).map(|v| v.to_string()))
    .collect();
    let version = if parts.is_empty() {
        text(ev, "unparsed_version")
            .and_then(|u| u.split_once('/'))
            .map(|(_, v)| v.split_whitespace().next().unwrap_or_default().to_string())
    } else {
        Some(parts.join("."))
    }
    .filter(|v| {
        !v.is_empty()
            && v.len() <= 64
            && v.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '~' | ':'))
    });
    Some((
        ip,
        Software {
            cpe: None,
            purl: None,
            name: Some(name.to_string()),
            version,
        },
    ))
}

/// Bytes the asset sent in a flow: as the initiator its own count
/// (`source.bytes`, else a one-way record's `network.bytes` such as
/// NetFlow's), as the responder `destination.bytes`.
fn bytes_sent(ev: &Event, asset_is_source: bool) -> Option<u64> {
    if asset_is_source {
        u64_of(ev, "source.bytes").or_else(|| {
            if ev.contains("destination.bytes") {
                None
            } else {
                u64_of(ev, "network.bytes")
            }
        })
    } else {
        u64_of(ev, "destination.bytes")
    }
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// What one outbound window reached when it crossed the threshold.
struct Crossed<'a> {
    asset: AssetId,
    holder: &'a Holder,
    bytes: u64,
    peers: Vec<IpAddr>,
    window_start: i64,
}

impl Discovery {
    /// The detector of `[risk]`, with the candidates a previous run saved
    /// at `path` (a damaged file costs the candidates, not the service).
    pub fn open(risk: Arc<Risk>, cfg: &RiskSection, path: &Path) -> Discovery {
        let d = Discovery {
            risk,
            internal: cfg.internal(),
            max_unknown: cfg.max_unknown.max(1),
            outbound_bytes: cfg.outbound_bytes.max(1),
            window_secs: cfg.outbound_window_secs.max(1) as i64,
            path: path.to_path_buf(),
            view: Mutex::new(Arc::new(View {
                changes: u64::MAX,
                ..View::default()
            })),
            inner: Mutex::new(Inner::default()),
            counters: DiscoveryCounters::default(),
        };
        match d.load() {
            Ok(n) if n > 0 => tracing::info!(candidates = n, "unknown-asset candidates loaded"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "unknown-asset candidates not loaded"),
        }
        d
    }

    fn load(&self) -> Result<usize, DiscoveryError> {
        let path = self.path.display().to_string();
        let io = |source| DiscoveryError::Io {
            path: path.clone(),
            source,
        };
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(e)),
        };
        if f.metadata().map_err(io)?.len() > MAX_FILE {
            return Err(DiscoveryError::TooLarge { path });
        }
        let saved: Saved = serde_json::from_reader(std::io::BufReader::new(f))
            .map_err(|source| DiscoveryError::Format { path, source })?;
        let mut inner = lock(&self.inner);
        let mut n = 0;
        for (org, mut t) in saved.orgs {
            self.evict(&mut t, 0);
            n += t.entries.len();
            inner.unknown.insert(org, t);
        }
        Ok(n)
    }

    /// Writes the candidates when they changed (atomically: a temporary
    /// file renamed over the old one).
    pub fn save(&self) -> Result<(), DiscoveryError> {
        let bytes = {
            let mut inner = lock(&self.inner);
            if !inner.dirty {
                return Ok(());
            }
            inner.dirty = false;
            inner.saved_at = Utc::now().timestamp();
            let orgs: Map<String, J> = inner
                .unknown
                .iter()
                .map(|(o, t)| (o.clone(), serde_json::to_value(t).unwrap_or(J::Null)))
                .collect();
            serde_json::to_vec(&json!({ "orgs": orgs })).unwrap_or_default()
        };
        let path = self.path.display().to_string();
        let io = |source| DiscoveryError::Io {
            path: path.clone(),
            source,
        };
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        Ok(())
    }

    /// Keeps at most `max_unknown - room` candidates: the least recently
    /// seen go (a sixteenth at a time, so a burst of new hosts does not
    /// rescan the table for each).
    fn evict(&self, t: &mut OrgTable, room: usize) -> u64 {
        let cap = self.max_unknown.saturating_sub(room);
        if t.entries.len() <= cap {
            return 0;
        }
        let over = t.entries.len() - cap;
        let n = over.max(self.max_unknown / 16).min(t.entries.len());
        let mut by_age: Vec<(DateTime<Utc>, String)> = t
            .entries
            .iter()
            .map(|(k, u)| (u.last_seen, k.clone()))
            .collect();
        by_age.sort();
        for (_, k) in by_age.into_iter().take(n) {
            t.entries.remove(&k);
        }
        t.evicted += n as u64;
        n as u64
    }

    /// The register's look-up view, rebuilt when the register changed.
    fn view(&self) -> Arc<View> {
        let changes = self.risk.changes.load(Ordering::Relaxed);
        let current = lock(&self.view).clone();
        if current.changes == changes {
            return current;
        }
        let mut v = View {
            changes,
            ..View::default()
        };
        {
            let reg = self.risk.register();
            for a in reg.assets() {
                let o = v.orgs.entry(a.org.0.clone()).or_default();
                for f in &a.identities {
                    match &f.value {
                        Identity::Ip(ip) => {
                            o.ips.insert(*ip, a.id);
                        }
                        Identity::Hostname(h) | Identity::Fqdn(h) => {
                            o.names.insert(h.clone(), a.id);
                            o.names.entry(first_label(h).to_string()).or_insert(a.id);
                        }
                        Identity::Mac(_) => {}
                    }
                }
                if let Some(level) = a.data_level.as_ref().map(|f| f.value) {
                    if level != DataLevel::General {
                        v.holders.insert(
                            a.id,
                            Holder {
                                name: Risk::display_name(a),
                                level,
                            },
                        );
                    }
                }
            }
        }
        let v = Arc::new(v);
        // Candidates the register now knows leave the list.
        {
            let mut inner = lock(&self.inner);
            let mut gone = false;
            for (org, t) in inner.unknown.iter_mut() {
                let before = t.entries.len();
                t.entries.retain(|_, u| !known(&v, org, u));
                gone |= t.entries.len() != before;
            }
            inner.dirty |= gone;
        }
        *lock(&self.view) = v.clone();
        v
    }

    fn outside(&self, ip: IpAddr) -> bool {
        !special(ip) && !self.internal.iter().any(|n| n.contains(&ip))
    }

    fn inside(&self, ip: IpAddr) -> bool {
        !special(ip) && self.internal.iter().any(|n| n.contains(&ip))
    }

    /// Adds one unknown sighting to the organisation's table.
    fn note(
        &self,
        inner: &mut Inner,
        org: &str,
        ip: Option<IpAddr>,
        name: Option<String>,
        source: &str,
        at: DateTime<Utc>,
    ) {
        let key = match (ip, &name) {
            (Some(ip), _) => format!("ip:{ip}"),
            (None, Some(n)) => format!("name:{}", first_label(n)),
            (None, None) => return,
        };
        let t = inner.unknown.entry(org.to_string()).or_default();
        if !t.entries.contains_key(&key) {
            let n = self.evict(t, 1);
            self.counters.evicted.fetch_add(n, Ordering::Relaxed);
        }
        let u = t.entries.entry(key).or_insert_with(|| UnknownAsset {
            ip,
            hostnames: BTreeSet::new(),
            sources: BTreeSet::new(),
            first_seen: at,
            last_seen: at,
            sightings: 0,
        });
        if let Some(n) = name {
            if u.hostnames.len() < MAX_NAMES {
                u.hostnames.insert(n);
            }
        }
        if u.sources.len() < MAX_SOURCES && !u.sources.contains(source) {
            u.sources.insert(source.to_string());
        }
        u.first_seen = u.first_seen.min(at);
        u.last_seen = u.last_seen.max(at);
        u.sightings += 1;
        inner.dirty = true;
    }

    /// Adds a flow's outbound bytes to the asset's window; the window's
    /// figures when it crosses the threshold for the first time.
    fn flow<'v>(
        &self,
        inner: &mut Inner,
        view: &'v View,
        org: &str,
        ev: &Event,
        at: DateTime<Utc>,
    ) -> Option<Crossed<'v>> {
        let src = ip_of(ev, "source.ip")?;
        let dst = ip_of(ev, "destination.ip")?;
        let (asset, peer, as_source) = if self.outside(dst) {
            (view.find(org, Some(src), None)?, dst, true)
        } else if self.outside(src) {
            (view.find(org, Some(dst), None)?, src, false)
        } else {
            return None;
        };
        let holder = view.holders.get(&asset)?;
        let bytes = bytes_sent(ev, as_source).filter(|b| *b > 0)?;
        let bucket = at.timestamp().div_euclid(self.window_secs);
        let key = (org.to_string(), asset);
        if !inner.windows.contains_key(&key) && inner.windows.len() >= MAX_WINDOWS {
            // Closed windows go first; when all are open the flow is counted.
            inner.windows.retain(|_, w| w.bucket >= bucket);
            if inner.windows.len() >= MAX_WINDOWS {
                self.counters.windows_full.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
        let w = inner.windows.entry(key).or_insert(Window {
            bucket,
            bytes: 0,
            peers: BTreeSet::new(),
            alerted: false,
        });
        if bucket > w.bucket {
            *w = Window {
                bucket,
                bytes: 0,
                peers: BTreeSet::new(),
                alerted: false,
            };
        }
        // A late flow of an earlier window counts toward the current one.
        w.bytes = w.bytes.saturating_add(bytes);
        if w.peers.len() < MAX_PEERS {
            w.peers.insert(peer);
        }
        if w.alerted || w.bytes < self.outbound_bytes {
            return None;
        }
        w.alerted = true;
        Some(Crossed {
            asset,
            holder,
            bytes: w.bytes,
            peers: w.peers.iter().copied().collect(),
            window_start: w.bucket * self.window_secs,
        })
    }

    /// The `pii:outbound_transfer` alert of a window that crossed.
    fn alert(&self, c: &Crossed<'_>, ev: &Event, seq: u64) -> Alert {
        let level = match c.holder.level {
            DataLevel::Core => Level::High,
            _ => Level::Medium,
        };
        let (lz, le) = (
            c.holder.level.label(Lang::Zh),
            c.holder.level.label(Lang::En),
        );
        let size = human_bytes(c.bytes);
        let mins = self.window_secs / 60;
        let peers: Vec<String> = c.peers.iter().map(IpAddr::to_string).collect();
        let en = format!(
            "Large outbound transfer from an asset holding {le}: {} sent {size} to {} outside address(es) within {mins} min",
            c.holder.name,
            peers.len()
        );
        let zh = format!(
            "持有{lz}的资产大量外发数据：{} 在 {mins} 分钟内向 {} 个外部地址发送 {size}",
            c.holder.name,
            peers.len()
        );
        let mut a = Alert::from_event(
            AlertKind::Pii,
            "pii:outbound_transfer",
            en.clone(),
            level,
            vec![
                "attack.exfiltration".into(),
                "attack.t1048".into(),
                "pii.outbound_transfer".into(),
            ],
            ev,
        );
        a.rule_title_zh = Some(zh.clone());
        let s = &mut a.summary;
        s.insert("pii.rule".into(), J::from("outbound_transfer"));
        s.insert("asset.id".into(), J::from(c.asset.0));
        s.insert("asset.name".into(), J::from(c.holder.name.clone()));
        s.insert("asset.data_level".into(), J::from(lz));
        s.insert("bytes.out".into(), J::from(c.bytes));
        s.insert("peers".into(), J::from(peers.join(", ")));
        let start = DateTime::from_timestamp(c.window_start, 0).unwrap_or_default();
        a.context = json!({
            "rule": "outbound_transfer",
            "title": {"zh": zh, "en": en},
            "asset": {"id": c.asset.0, "name": c.holder.name},
            "data_level": {
                "code": serde_json::to_value(c.holder.level).unwrap_or(J::Null),
                "zh": lz,
                "en": le,
            },
            "bytes": c.bytes,
            "threshold": self.outbound_bytes,
            "window_secs": self.window_secs,
            "window_start": iso(start),
            "peers": peers,
        });
        a.events = vec![seq];
        a
    }

    /// The candidates in scope, most recently seen first; those the
    /// register has come to know since are dropped first.
    pub fn unknown(&self, visible: &dyn Fn(&str) -> bool, limit: usize) -> UnknownAnswer {
        let view = self.view();
        let mut inner = lock(&self.inner);
        let mut items = Vec::new();
        let mut evicted = 0;
        let mut gone = false;
        for (org, t) in inner.unknown.iter_mut().filter(|(o, _)| visible(o)) {
            evicted += t.evicted;
            let before = t.entries.len();
            t.entries.retain(|_, u| !known(&view, org, u));
            gone |= before != t.entries.len();
            items.extend(t.entries.values().map(|u| (org.clone(), u.clone())));
        }
        inner.dirty |= gone;
        drop(inner);
        items.sort_by(|a, b| {
            b.1.last_seen
                .cmp(&a.1.last_seen)
                .then_with(|| (&a.0, a.1.ip, &a.1.hostnames).cmp(&(&b.0, b.1.ip, &b.1.hostnames)))
        });
        let total = items.len();
        items.truncate(limit);
        UnknownAnswer {
            total,
            evicted,
            items: items
                .into_iter()
                .map(|(org, u)| UnknownView {
                    reason_zh: u.reason(Lang::Zh),
                    reason_en: u.reason(Lang::En),
                    org,
                    ip: u.ip.map(|i| i.to_string()),
                    hostnames: u.hostnames.into_iter().collect(),
                    sources: u.sources.into_iter().collect(),
                    first_seen: iso(u.first_seen),
                    last_seen: iso(u.last_seen),
                    sightings: u.sightings,
                })
                .collect(),
        }
    }

    /// The asset of an organisation a host name or address names (the data
    /// inventory's link from a location to its asset): id and name.
    pub fn asset_of(&self, org: &str, host: &str) -> Option<(u64, String)> {
        let h = host.trim();
        let (ip, name) = match h.parse::<IpAddr>() {
            Ok(ip) => (Some(ip), None),
            Err(_) => (None, host_name(h)),
        };
        let org = if org.is_empty() { ROOT_ORG } else { org };
        let id = self.view().find(org, ip, name.as_deref())?;
        let a = self.risk.register().get(id).map(Risk::display_name)?;
        Some((id.0, a))
    }

    /// The detector's series in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let c = &self.counters;
        let mut out = String::new();
        for (name, help, v) in [
            (
                "sightings",
                "Hosts read from events by discovery.",
                &c.sightings,
            ),
            (
                "unknown_evicted",
                "Unknown-asset candidates evicted from full tables.",
                &c.evicted,
            ),
            (
                "assets_seen",
                "last_seen writes of registered assets seen in events.",
                &c.assets_seen,
            ),
            (
                "outbound_alerts",
                "Large outbound transfers from assets holding important or core data.",
                &c.outbound_alerts,
            ),
            (
                "outbound_windows_full",
                "Flows not counted because every outbound window was open.",
                &c.windows_full,
            ),
        ] {
            counter(&mut out, "taishi_discovery", name, help, v);
        }
        out
    }
}

/// One counter in the Prometheus text format (`{prefix}_{name}_total`).
pub(super) fn counter(out: &mut String, prefix: &str, name: &str, help: &str, v: &AtomicU64) {
    out.push_str(&format!(
        "# HELP {prefix}_{name}_total {help}\n# TYPE {prefix}_{name}_total counter\n{prefix}_{name}_total {}\n",
        v.load(Ordering::Relaxed)
    ));
}

/// Whether the register of `org` now knows a candidate.
fn known(view: &View, org: &str, u: &UnknownAsset) -> bool {
    view.find(org, u.ip, None).is_some()
        || u.hostnames
            .iter()
            .any(|h| view.find(org, None, Some(h)).is_some())
}

/// What a batch observed on registered assets.
#[derive(Default)]
struct Observed {
    seen: HashMap<AssetId, DateTime<Utc>>,
    software: Vec<(AssetId, Software, DateTime<Utc>)>,
}

impl Risk {
    /// Moves the assets' `last_seen` and adds the software seen on them;
    /// stores the assets that changed.
    fn observed(&self, o: &Observed) -> Result<usize, RiskError> {
        let mut touched = BTreeSet::new();
        let mut reg = self.register();
        for (id, at) in &o.seen {
            let moved = reg.update(*id, |a| {
                let before = a.last_seen;
                a.seen(*at);
                before != a.last_seen
            });
            if moved == Some(true) {
                touched.insert(*id);
            }
        }
        for (id, sw, at) in &o.software {
            let added = reg.update(*id, |a| {
                if a.software.len() >= MAX_SOFTWARE || a.software.iter().any(|f| &f.value == sw) {
                    return false;
                }
                let p = Provenance::new(SourceKind::Observation, "zeek software", *at);
                a.software.push(Fact::new(sw.clone(), p));
                true
            });
            if added == Some(true) {
                touched.insert(*id);
            }
        }
        for id in &touched {
            if let Some(a) = reg.get(*id) {
                self.store_asset(a)?;
            }
        }
        Ok(touched.len())
    }
}

impl taishi_runtime::StreamDetector for Discovery {
    fn observe(&self, events: &[Event], first_seq: u64, out: &mut Vec<Alert>) {
        let view = self.view();
        let now = Utc::now();
        let mut obs = Observed::default();
        let mut seen = Vec::new();
        let mut inner = lock(&self.inner);
        for (i, ev) in events.iter().enumerate() {
            let org = ev
                .get_str("organization.id")
                .filter(|o| !o.is_empty())
                .unwrap_or(ROOT_ORG);
            let at = ev.timestamp.map(|t| t.with_timezone(&Utc)).unwrap_or(now);
            seen.clear();
            sightings(ev, &mut seen);
            for s in seen.drain(..) {
                // An address outside the internal ranges is not ours,
                // whatever name it carries.
                if s.ip.is_some_and(|ip| !self.inside(ip)) {
                    continue;
                }
                self.counters.sightings.fetch_add(1, Ordering::Relaxed);
                match view.find(org, s.ip, s.name.as_deref()) {
                    Some(id) => {
                        let e = obs.seen.entry(id).or_insert(at);
                        *e = (*e).max(at);
                    }
                    None => self.note(&mut inner, org, s.ip, s.name, &s.source, at),
                }
            }
            if let Some((ip, sw)) = software_of(ev) {
                if let Some(id) = view.find(org, Some(ip), None) {
                    obs.software.push((id, sw, at));
                }
            }
            if let Some(c) = self.flow(&mut inner, &view, org, ev, at) {
                self.counters
                    .outbound_alerts
                    .fetch_add(1, Ordering::Relaxed);
                out.push(self.alert(&c, ev, first_seq + i as u64));
            }
        }
        // `last_seen` at most once a minute per asset.
        obs.seen.retain(|id, at| {
            let t = at.timestamp();
            match inner.written.get(id) {
                Some(w) if (t - w).abs() < SEEN_EVERY_SECS => false,
                _ => {
                    inner.written.insert(*id, t);
                    true
                }
            }
        });
        let save = inner.dirty && now.timestamp() - inner.saved_at >= SAVE_EVERY_SECS;
        drop(inner);
        if !obs.seen.is_empty() || !obs.software.is_empty() {
            match self.risk.observed(&obs) {
                Ok(n) => {
                    self.counters
                        .assets_seen
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "discovery: assets seen not stored"),
            }
        }
        if save {
            if let Err(e) = self.save() {
                tracing::warn!(error = %e, "unknown-asset candidates not saved");
            }
        }
    }

    fn tick(&self, _out: &mut Vec<Alert>) {
        if let Err(e) = self.save() {
            tracing::warn!(error = %e, "unknown-asset candidates not saved");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(fields: &[(&str, Value)]) -> Event {
        let mut ev = Event::default();
        for (k, v) in fields {
            ev.push(*k, v.clone());
        }
        ev
    }

    #[test]
    fn evtx_dhcp_dns_and_flows_name_hosts() {
        let mut out = Vec::new();
        sightings(
            &event(&[
                ("host.name", Value::from("WS01.corp.local")),
                ("winlog.computer_name", Value::from("WS01.corp.local")),
            ]),
            &mut out,
        );
        sightings(
            &event(&[
                ("event.dataset", Value::from("zeek.dhcp")),
                ("assigned_addr", Value::from("10.1.2.3")),
                ("host_name", Value::from("laptop-7")),
            ]),
            &mut out,
        );
        sightings(
            &event(&[
                ("dns.question.name", Value::from("files.corp.local")),
                (
                    "dns.resolved_ip",
                    Value::Array(vec![Value::from("10.9.9.9"), Value::from("8.8.8.8")]),
                ),
            ]),
            &mut out,
        );
        let got: Vec<(Option<String>, Option<String>, String)> = out
            .iter()
            .map(|s| {
                (
                    s.ip.map(|i| i.to_string()),
                    s.name.clone(),
                    s.source.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (None, Some("ws01.corp.local".into()), "evtx Computer".into()),
                (
                    Some("10.1.2.3".into()),
                    Some("laptop-7".into()),
                    "dhcp".into()
                ),
                (
                    Some("10.9.9.9".into()),
                    Some("files.corp.local".into()),
                    "dns".into()
                ),
                (
                    Some("8.8.8.8".into()),
                    Some("files.corp.local".into()),
                    "dns".into()
                ),
            ]
        );
    }

    #[test]
    fn software_refuses_probes_and_reads_versions() {
        let iis = event(&[
            ("event.dataset", Value::from("zeek.software")),
            ("host.ip", Value::from("10.47.27.80")),
            ("name", Value::from("Microsoft-IIS")),
            ("version.major", Value::UInt(7)),
            ("version.minor", Value::UInt(5)),
        ]);
        let (_, sw) = software_of(&iis).unwrap();
        assert_eq!(
            (sw.name.as_deref(), sw.version.as_deref()),
            (Some("Microsoft-IIS"), Some("7.5"))
        );
        let probe = event(&[
            ("event.dataset", Value::from("zeek.software")),
            ("host.ip", Value::from("10.47.27.80")),
            ("name", Value::from(") {")),
        ]);
        assert!(software_of(&probe).is_none());
    }

    #[test]
    fn bytes_sent_by_side() {
        let zeek = event(&[
            ("source.bytes", Value::UInt(10)),
            ("destination.bytes", Value::UInt(99)),
            ("network.bytes", Value::UInt(109)),
        ]);
        assert_eq!(bytes_sent(&zeek, true), Some(10));
        assert_eq!(bytes_sent(&zeek, false), Some(99));
        let netflow = event(&[("network.bytes", Value::UInt(500))]);
        assert_eq!(bytes_sent(&netflow, true), Some(500));
        assert_eq!(bytes_sent(&netflow, false), None);
    }

    proptest! {
        #[test]
        fn arbitrary_fields_do_not_panic(
            fields in proptest::collection::vec(
                (prop::sample::select(vec![
                    "host.name", "host.ip", "Computer", "assigned_addr", "host_name",
                    "dns.question.name", "dns.resolved_ip", "source.ip", "destination.ip",
                    "event.dataset", "name", "version.major", "unparsed_version",
                    "source.bytes", "network.bytes",
                ]), ".{0,40}"),
                0..12,
            )
        ) {
            let ev = event(&fields.iter().map(|(k, v)| (*k, Value::from(v.as_str()))).collect::<Vec<_>>());
            let mut out = Vec::new();
            sightings(&ev, &mut out);
            let _ = software_of(&ev);
            let _ = bytes_sent(&ev, true);
            for s in &out {
                if let Some(n) = &s.name {
                    prop_assert!(n.len() <= MAX_NAME);
                }
            }
        }
    }
}
