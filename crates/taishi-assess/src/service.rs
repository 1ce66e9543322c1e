//! The risk service: the asset register in memory (rebuilt from the state
//! at start), imports of inventories, scanner reports and KEV/EPSS feeds,
//! scores stored over time, and early warnings sent through the alert
//! outputs. The models and rules are the pure crates' (`taishi_asset`,
//! `taishi_vuln`, `taishi_risk`); this module loads, applies and stores.
//!
//! The pipeline's hook only queues each stored alert (a bounded channel:
//! when the risk worker is this far behind the alert is counted as dropped,
//! never waited for); one thread matches the alert's host and addresses to
//! assets, records the attack, recomputes those assets' scores and raises
//! the warnings the alert calls for.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use taishi_alert::{Alert, AlertKind, AlertRecord, Level};
use taishi_asset::{Asset, AssetId, Finding, Identity, ImportOptions, OrgId, Register, ScanReport};
use taishi_risk::{
    assess_finding, asset_context, exposed_ports, score_asset, Attack, AttackKind, FeedView,
    FindingInput, Remediation, RiskInput, RiskScore, ScoreModel, Severity, Trigger, WarnAsset,
    Warning,
};
use taishi_state::risk::{
    finding_id, AssetRow, AttackRow, FeedEntry, FindingRow, NewWarning, ScoreRow, WarningRow,
};
use taishi_state::{now_iso, State, StateError, ROOT_ORG};
use taishi_vuln::epss::EpssScore;
use taishi_vuln::kev::Ransomware;
use taishi_vuln::priority::{Exploitation, Policy, Priority};

use crate::RiskSection;

// Discovery from received events and the outbound-transfer rule: a child
// module, so it reads the register without widening its visibility.
pub mod discover;

/// Why an import or a change failed.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error(transparent)]
    State(#[from] StateError),
    /// The input could not be read (the message in English, then zh-CN).
    #[error("{0}")]
    Input(String),
    /// The input is over a limit.
    #[error("{0}")]
    TooLarge(String),
}

/// The worker's counters (on `/metrics`).
#[derive(Debug, Default)]
pub struct RiskCounters {
    pub alerts_matched: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
    pub warnings: AtomicU64,
}

enum Msg {
    Alert(Box<AlertRecord>),
    Flush(SyncSender<()>),
}

/// The risk service.
pub struct Risk {
    pub(crate) state: Arc<State>,
    register: Mutex<Register>,
    model: ScoreModel,
    policy: Policy,
    outputs: Arc<taishi_alert::Outputs>,
    tx: Mutex<Option<SyncSender<Msg>>>,
    pub counters: RiskCounters,
    /// The NVD records compiled for matching (`crate::nvd`), built on first
    /// need and after each NVD import.
    pub(crate) nvd: Mutex<Option<Arc<crate::nvd::NvdIndex>>>,
    /// Bumped whenever the register's identities may have changed
    /// (imports, merges): discovery rebuilds its look-up view then.
    changes: AtomicU64,
}

/// What an inventory import did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AssetImportAnswer {
    /// Records read, good and bad.
    pub records: usize,
    /// Assets new to the register.
    pub created: usize,
    /// Assets that were known (merged on a shared identity).
    pub updated: usize,
    /// Assets joined into another because the import linked them.
    pub merged: usize,
    /// The assets written, by id.
    pub assets: Vec<i64>,
    /// Refused records, each in zh-CN and English.
    pub rejects: Vec<taishi_risk::BiText>,
    /// Headers no field took.
    pub unmapped_columns: Vec<String>,
}

/// What a scanner report import did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScanImportAnswer {
    pub scanner: String,
    /// Report items read.
    pub items: usize,
    /// Findings after deduplication.
    pub findings: usize,
    /// Findings new to the state.
    pub new: usize,
    /// Findings absent from this rescan of the same scope: now fixed.
    pub fixed: usize,
    /// Findings on no asset with an address or name (images, file systems).
    pub unmatched: usize,
    /// Assets the report touched.
    pub assets: Vec<i64>,
    pub rejects: Vec<taishi_risk::BiText>,
    /// Warnings raised: a new finding on a CVE in KEV.
    pub warnings: Vec<WarningRow>,
}

/// What a feed import did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FeedImportAnswer {
    /// kev, epss or nvd.
    pub kind: String,
    pub entries: usize,
    /// KEV: entries new to this installation; NVD: records new to it.
    pub added: usize,
    /// EPSS: CVEs whose probability changed; NVD: records replaced by a
    /// newer import.
    pub changed: usize,
    /// Findings whose priority was recomputed; NVD: matches (asset × CVE).
    pub findings: usize,
    /// Warnings raised (new ones only).
    pub warnings: Vec<WarningRow>,
    /// NVD: findings new to the state.
    pub new_findings: usize,
    /// NVD: findings of source `nvd` the records no longer support, now
    /// fixed.
    pub fixed: usize,
}

fn err_input(en: String, zh: String) -> RiskError {
    RiskError::Input(format!("{en} / {zh}"))
}

fn asset_error(e: taishi_asset::ImportError) -> RiskError {
    let msg = format!(
        "{} / {}",
        e.message(taishi_asset::Lang::En),
        e.message(taishi_asset::Lang::Zh)
    );
    match e {
        taishi_asset::ImportError::TooLarge { .. }
        | taishi_asset::ImportError::TooManyRecords { .. }
        | taishi_asset::ImportError::TooManyFindings { .. } => RiskError::TooLarge(msg),
        _ => RiskError::Input(msg),
    }
}

fn reject_text(r: &taishi_asset::RecordError) -> taishi_risk::BiText {
    taishi_risk::BiText::new(
        r.message(taishi_asset::Lang::Zh),
        r.message(taishi_asset::Lang::En),
    )
}

fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The stored document of a finding: the scanner's finding (absent for an
/// NVD match) and its priority with factors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FindingDoc {
    #[serde(default)]
    pub finding: Option<Finding>,
    pub priority: Priority,
    /// An NVD match: why the record applies (configuration, node, range,
    /// version comparison).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvd: Option<crate::nvd::NvdMatch>,
}

/// The register's identities of an alert: its host (as a name, and its
/// first label when it is a FQDN) and its addresses.
fn alert_identities(a: &Alert) -> Vec<String> {
    identities_of(
        a.host.as_deref().into_iter(),
        [a.source_ip.as_deref(), a.destination_ip.as_deref()]
            .into_iter()
            .flatten(),
    )
}

/// The register's identity keys (`host:web01`, `ip:10.0.0.5`) under which
/// host names and addresses are looked up: a fully qualified name also by
/// its first label, since inventories often hold the short name.
pub fn identities_of<'a>(
    hosts: impl Iterator<Item = &'a str>,
    ips: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut out = BTreeSet::new();
    for h in hosts {
        if let Some(id) = Identity::name(h) {
            if let Identity::Fqdn(f) = &id {
                if let Some(first) = f.split('.').next() {
                    out.insert(format!("host:{first}"));
                }
            }
            out.insert(id.to_string());
        }
    }
    for ip in ips {
        if let Ok(ip) = ip.trim().parse::<std::net::IpAddr>() {
            out.insert(Identity::Ip(ip).to_string());
        }
    }
    out.into_iter().collect()
}

fn level_of(l: Level) -> Severity {
    match l {
        Level::Informational => Severity::Informational,
        Level::Low => Severity::Low,
        Level::Medium => Severity::Medium,
        Level::High => Severity::High,
        Level::Critical => Severity::Critical,
    }
}

impl Risk {
    /// Rebuilds the register from the stored assets and starts the worker.
    pub fn start(
        state: Arc<State>,
        outputs: Arc<taishi_alert::Outputs>,
        cfg: &RiskSection,
    ) -> Result<Arc<Risk>, StateError> {
        let mut assets = serde_json::Map::new();
        let mut next = 0u64;
        for doc in state.all_asset_docs()? {
            let a: Asset = serde_json::from_str(&doc).map_err(|e| {
                StateError::Invalid(format!("risk_assets: a stored asset does not read: {e}"))
            })?;
            next = next.max(a.id.0);
            assets.insert(
                a.id.0.to_string(),
                serde_json::from_str(&doc).unwrap_or_default(),
            );
        }
        let register: Register = serde_json::from_value(serde_json::json!({
            "assets": assets, "next": next, "journal": [], "apart": state.apart_pairs()?
        }))
        .map_err(|e| StateError::Invalid(format!("risk register: {e}")))?;
        let risk = Arc::new(Risk {
            state,
            register: Mutex::new(register),
            model: ScoreModel::default(),
            policy: cfg.deadline_days.policy(),
            outputs,
            tx: Mutex::new(None),
            counters: RiskCounters::default(),
            nvd: Mutex::new(None),
            changes: AtomicU64::new(0),
        });
        if cfg.enabled {
            let (tx, rx) = sync_channel(cfg.queue.max(1));
            let worker = risk.clone();
            std::thread::Builder::new()
                .name("risk".into())
                .spawn(move || worker.run(rx))
                .map_err(|e| StateError::Invalid(format!("risk thread: {e}")))?;
            *risk.tx.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        }
        Ok(risk)
    }

    fn run(self: Arc<Self>, rx: Receiver<Msg>) {
        while let Ok(m) = rx.recv() {
            match m {
                Msg::Alert(a) => {
                    if let Err(e) = self.on_alert(&a.alert) {
                        self.counters.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, alert = %a.alert.id, "risk: alert not matched");
                    }
                }
                Msg::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Waits until every alert queued before the call is handled.
    pub fn flush(&self) {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(tx) = tx {
            let (done, wait) = sync_channel(1);
            if tx.send(Msg::Flush(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }

    /// The worker's series in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let c = &self.counters;
        let mut out = String::new();
        for (name, help, v) in [
            (
                "alerts_matched",
                "Stored alerts that matched an asset.",
                &c.alerts_matched,
            ),
            (
                "alerts_dropped",
                "Alerts not matched because the risk queue was full.",
                &c.dropped,
            ),
            (
                "alerts_failed",
                "Alerts not matched because the state refused a write.",
                &c.failed,
            ),
            ("warnings", "Early warnings raised.", &c.warnings),
        ] {
            discover::counter(&mut out, "taishi_risk", name, help, v);
        }
        out
    }

    pub(crate) fn register(&self) -> std::sync::MutexGuard<'_, Register> {
        self.register.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A registered asset, by id.
    /// The organisation's registered assets with any of these identities
    /// (keys as [`identities_of`] makes them), at most `limit`.
    pub fn assets_of(
        &self,
        org: &str,
        identities: &[String],
        limit: usize,
    ) -> Result<Vec<Asset>, RiskError> {
        let mut ids = BTreeSet::new();
        for i in identities {
            ids.extend(self.state.assets_with_identity(org, i)?);
            if ids.len() >= limit {
                break;
            }
        }
        Ok(ids
            .into_iter()
            .take(limit)
            .filter_map(|id| self.asset_doc(id))
            .collect())
    }

    pub fn asset_doc(&self, id: i64) -> Option<Asset> {
        self.register().get(AssetId(id as u64)).cloned()
    }

    fn row_of(a: &Asset, score: f64) -> AssetRow {
        AssetRow {
            id: a.id.0 as i64,
            org: a.org.0.clone(),
            name: a
                .name
                .as_ref()
                .map(|f| f.value.clone())
                .or_else(|| a.identities.first().map(|f| f.value.to_string())),
            business_system: a.business_system.as_ref().map(|f| f.value.clone()),
            importance: a.importance.as_ref().map(|f| name_of(&f.value)),
            cii: a.cii.as_ref().is_some_and(|f| f.value),
            exposed_ports: exposed_ports(a).len() as i64,
            score,
            first_seen: a.first_seen.map(iso),
            last_seen: a.last_seen.map(iso),
            updated: now_iso(),
        }
    }

    fn display_name(a: &Asset) -> String {
        a.name
            .as_ref()
            .map(|f| f.value.clone())
            .or_else(|| a.identities.first().map(|f| f.value.to_string()))
            .unwrap_or_else(|| format!("#{}", a.id))
    }

    /// Ingests assets into the register and stores what changed; the ids
    /// written.
    fn ingest(&self, assets: Vec<Asset>) -> Result<(usize, usize, usize, Vec<i64>), RiskError> {
        let (mut created, mut updated, mut merged) = (0, 0, 0);
        let mut touched = BTreeSet::new();
        let mut reg = self.register();
        for a in assets {
            let out = reg.ingest(a);
            if out.created {
                created += 1;
            } else {
                updated += 1;
            }
            for (from, _) in &out.merged {
                merged += 1;
                touched.remove(&(from.0 as i64));
                self.state
                    .merge_asset_rows(from.0 as i64, out.id.0 as i64)?;
            }
            touched.insert(out.id.0 as i64);
        }
        for id in &touched {
            self.store(&reg, *id)?;
        }
        self.changes.fetch_add(1, Ordering::Relaxed);
        Ok((created, updated, merged, touched.into_iter().collect()))
    }

    /// Writes the register's asset `id` (with its latest score) to the
    /// state.
    pub(crate) fn store(&self, reg: &Register, id: i64) -> Result<(), RiskError> {
        match reg.get(AssetId(id as u64)) {
            Some(a) => self.store_asset(a),
            None => Ok(()),
        }
    }

    /// Writes an asset's row, identities and document, with its latest score.
    pub(crate) fn store_asset(&self, a: &Asset) -> Result<(), RiskError> {
        let score = self
            .state
            .scores(a.id.0 as i64, 1)?
            .first()
            .map(|s| s.score)
            .unwrap_or(0.0);
        let identities: Vec<String> = a.identities.iter().map(|f| f.value.to_string()).collect();
        let doc = serde_json::to_string(a).map_err(|e| RiskError::Input(e.to_string()))?;
        self.state
            .put_asset(&Self::row_of(a, score), &identities, &doc)?;
        Ok(())
    }

    /// Imports an inventory (`csv`, `json`, `nmap`, or detected).
    pub fn import_assets(
        &self,
        org: &str,
        name: &str,
        format: Option<&str>,
        bytes: &[u8],
    ) -> Result<AssetImportAnswer, RiskError> {
        let opts = ImportOptions::new(OrgId(org.into()), name, Utc::now());
        let imp = match format.unwrap_or("auto") {
            "csv" => taishi_asset::import_csv(bytes, &opts),
            "json" => taishi_asset::import_json(bytes, &opts),
            "nmap" | "xml" => taishi_asset::import_nmap(bytes, &opts),
            "auto" | "" => taishi_asset::import_assets(bytes, &opts),
            f => {
                return Err(err_input(
                    format!("format `{f}`: csv, json or nmap"),
                    format!("格式 `{f}`：csv、json 或 nmap"),
                ))
            }
        }
        .map_err(asset_error)?;
        let rejects = imp.rejects.iter().map(reject_text).collect();
        let (created, updated, merged, ids) = self.ingest(imp.assets)?;
        // Software may have changed: rematch against the NVD records.
        self.rematch_nvd(&ids)?;
        for id in &ids {
            self.rescore(*id, "import")?;
        }
        Ok(AssetImportAnswer {
            records: imp.records,
            created,
            updated,
            merged,
            assets: ids,
            rejects,
            unmapped_columns: imp.unmapped_columns,
        })
    }

    fn feeds(&self, cve: Option<&str>) -> Result<FeedView, RiskError> {
        let Some(cve) = cve else {
            return Ok(FeedView::default());
        };
        let (kev, epss) = self.state.feed_of(cve)?;
        Ok(FeedView {
            kev: kev.map(|r| {
                if r {
                    Ransomware::Known
                } else {
                    Ransomware::Unknown
                }
            }),
            epss: epss.map(|(epss, percentile)| EpssScore { epss, percentile }),
        })
    }

    /// The row and document of a finding on an asset, its priority
    /// computed now.
    pub(crate) fn finding_row(
        &self,
        org: &str,
        asset: &Asset,
        f: &Finding,
        now: DateTime<Utc>,
        nvd: Option<&crate::nvd::NvdMatch>,
    ) -> Result<(FindingRow, String), RiskError> {
        let feeds = self.feeds(f.cve.as_deref())?;
        let p = assess_finding(f, &asset_context(asset), feeds, &self.policy);
        let key = f.key();
        let mut scanners: Vec<&str> = f.sources.iter().map(|s| s.scanner.as_str()).collect();
        scanners.sort();
        scanners.dedup();
        let row = FindingRow {
            id: finding_id(org, &key.to_string()),
            org: org.into(),
            asset_id: asset.id.0 as i64,
            vuln: key.vuln.clone(),
            cve: f.cve.as_ref().map(|c| c.to_ascii_uppercase()),
            location: key.location.clone(),
            severity: name_of(&f.severity),
            scanners: scanners.join(","),
            kev: feeds.kev.is_some(),
            exploitable: p.exploitation != Exploitation::None,
            priority: p.score,
            decision: p.decision.key().into(),
            status: Remediation::Open.name().into(),
            approver: None,
            accepted_until: None,
            deadline: Some(iso(now + Duration::days(p.deadline_days as i64))),
            first_seen: iso(now),
            last_seen: iso(now),
            updated: iso(now),
        };
        let doc = serde_json::to_string(&FindingDoc {
            finding: Some(f.clone()),
            priority: p,
            nvd: nvd.cloned(),
        })
        .map_err(|e| RiskError::Input(e.to_string()))?;
        Ok((row, doc))
    }

    /// Imports a scanner report: its hosts into the register, its findings
    /// (deduplicated, prioritised), and the previous findings of the same
    /// scanner on the scanned assets that this report no longer has, fixed.
    pub fn import_scan(
        &self,
        org: &str,
        name: &str,
        external: bool,
        bytes: &[u8],
    ) -> Result<ScanImportAnswer, RiskError> {
        let now = Utc::now();
        let mut opts = ImportOptions::new(OrgId(org.into()), name, now);
        opts.external = external;
        let report: ScanReport = taishi_asset::parse_report(bytes, &opts).map_err(asset_error)?;
        let (_, _, _, mut touched) = self.ingest(report.assets.clone())?;
        self.rematch_nvd(&touched)?;
        let org_id = OrgId(org.into());
        let mut new = 0;
        let mut warnings = Vec::new();
        let mut unmatched = 0;
        let mut by_asset: BTreeMap<i64, Vec<&Finding>> = BTreeMap::new();
        for f in &report.findings {
            let asset = {
                let reg = self.register();
                f.asset
                    .identities()
                    .iter()
                    .find_map(|i| reg.find(&org_id, i).first().copied())
                    .and_then(|id| reg.get(id).cloned())
            };
            let Some(asset) = asset else {
                unmatched += 1;
                continue;
            };
            let (row, doc) = self.finding_row(org, &asset, f, now, None)?;
            if self.state.upsert_finding(&row, &doc)? {
                new += 1;
                warnings.extend(self.warn_new_kev(org, &row, &doc)?);
            }
            by_asset.entry(row.asset_id).or_default().push(f);
        }
        // Rescan: the open findings of the assets this report scanned.
        let mut fixed = 0;
        let scanned_assets: BTreeSet<i64> = {
            let reg = self.register();
            report
                .scanned
                .iter()
                .filter_map(|k| {
                    let id = Identity::name(k.split_once(':').map(|(_, v)| v).unwrap_or(k))?;
                    reg.find(&org_id, &id).first().map(|a| a.0 as i64)
                })
                .collect()
        };
        for asset_id in &scanned_assets {
            let open: Vec<(FindingRow, Finding)> = self
                .state
                .findings_of_asset(*asset_id)?
                .into_iter()
                .filter(|(r, _)| matches!(r.status.as_str(), "open" | "in_progress"))
                .filter_map(|(r, d)| {
                    let doc: FindingDoc = serde_json::from_str(&d).ok()?;
                    Some((r, doc.finding?))
                })
                .collect();
            let diff = taishi_asset::rescan(open.iter().map(|(_, f)| f), &report);
            for k in &diff.fixed {
                if let Some((r, _)) = open.iter().find(|(_, f)| &f.key() == k) {
                    self.state.set_finding_status(
                        &r.id,
                        &taishi_state::Scope::All,
                        "fixed",
                        None,
                        None,
                    )?;
                    fixed += 1;
                }
            }
        }
        touched.extend(by_asset.keys().copied());
        touched.extend(scanned_assets);
        touched.sort();
        touched.dedup();
        for id in &touched {
            self.rescore(*id, "scan")?;
        }
        Ok(ScanImportAnswer {
            scanner: report.scanner.as_str().into(),
            items: report.items,
            findings: report.findings.len(),
            new,
            fixed,
            unmatched,
            assets: touched,
            rejects: report.rejects.iter().map(reject_text).collect(),
            warnings,
        })
    }

    /// Imports a KEV (JSON or CSV) or EPSS (CSV) file; recomputes the
    /// priority of the findings it concerns and raises the warnings a new
    /// KEV entry or a large EPSS rise calls for.
    pub fn import_feed(
        &self,
        kind: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<FeedImportAnswer, RiskError> {
        if kind == "nvd" {
            return self.import_nvd(name, bytes);
        }
        let entries: Vec<FeedEntry> = match kind {
            "kev" => {
                let limits = taishi_vuln::kev::Limits::default();
                let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
                let cat = if first == Some(&b'{') {
                    taishi_vuln::kev::KevCatalog::from_json(bytes, name, &limits)
                } else {
                    taishi_vuln::kev::KevCatalog::from_csv(bytes, name, &limits)
                }
                .map_err(|e| RiskError::Input(e.to_string()))?;
                cat.entries
                    .values()
                    .map(|e| FeedEntry {
                        cve: e.cve_id.clone(),
                        ransomware: e.known_ransomware_campaign_use == Ransomware::Known,
                        epss: None,
                        percentile: None,
                    })
                    .collect()
            }
            "epss" => {
                let t = taishi_vuln::epss::EpssTable::from_csv(
                    bytes,
                    name,
                    &taishi_vuln::epss::Limits::default(),
                )
                .map_err(|e| RiskError::Input(e.to_string()))?;
                t.scores
                    .iter()
                    .map(|(cve, s)| FeedEntry {
                        cve: cve.clone(),
                        ransomware: false,
                        epss: Some(s.epss),
                        percentile: Some(s.percentile),
                    })
                    .collect()
            }
            k => {
                return Err(err_input(
                    format!("feed `{k}`: kev, epss or nvd"),
                    format!("情报源 `{k}`：kev、epss 或 nvd"),
                ))
            }
        };
        let change = self.state.put_feed(kind, &entries)?;
        let ours = self.state.finding_cves()?;
        let now = Utc::now();
        let mut answer = FeedImportAnswer {
            kind: kind.into(),
            entries: change.total,
            added: change.added.len(),
            changed: change.changed.len(),
            findings: 0,
            warnings: Vec::new(),
            new_findings: 0,
            fixed: 0,
        };
        let ransomware: BTreeMap<&str, bool> = entries
            .iter()
            .map(|e| (e.cve.as_str(), e.ransomware))
            .collect();
        let triggers: Vec<(String, Trigger)> = if kind == "kev" {
            change
                .added
                .iter()
                .filter(|c| ours.contains(*c))
                .map(|c| {
                    let r = ransomware
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(c))
                        .is_some_and(|(_, r)| *r);
                    (
                        c.clone(),
                        Trigger::KevAdded {
                            cve: c.clone(),
                            ransomware: r,
                        },
                    )
                })
                .collect()
        } else {
            change
                .changed
                .iter()
                .filter(|(c, _, _)| ours.contains(c))
                .map(|(c, from, to)| {
                    (
                        c.clone(),
                        Trigger::EpssRise {
                            cve: c.clone(),
                            from: *from,
                            to: *to,
                        },
                    )
                })
                .collect()
        };
        for (cve, trigger) in triggers {
            let mut assets = BTreeSet::new();
            for (row, doc) in self.state.findings_with_cve(&cve)? {
                let Ok(doc) = serde_json::from_str::<FindingDoc>(&doc) else {
                    continue;
                };
                let Some(asset) = self.asset_doc(row.asset_id) else {
                    continue;
                };
                if let Some(f) = &doc.finding {
                    let (mut new_row, new_doc) =
                        self.finding_row(&row.org, &asset, f, now, doc.nvd.as_ref())?;
                    new_row.status = row.status.clone();
                    new_row.first_seen = row.first_seen.clone();
                    new_row.last_seen = row.last_seen.clone();
                    self.state.upsert_finding(&new_row, &new_doc)?;
                    answer.findings += 1;
                }
                assets.insert((row.org.clone(), row.asset_id));
            }
            for (org, id) in assets {
                self.rescore(id, "feed")?;
                if let Some(w) = self.evaluate(id, &trigger, now)? {
                    if let Some(row) = self.raise(&org, &w)? {
                        answer.warnings.push(row);
                    }
                }
            }
        }
        Ok(answer)
    }

    fn finding_inputs(&self, asset_id: i64) -> Result<Vec<FindingInput>, RiskError> {
        Ok(self
            .state
            .findings_of_asset(asset_id)?
            .into_iter()
            .map(|(r, _)| FindingInput {
                id: r.id,
                vuln: r.vuln,
                priority: r.priority,
                decision: r.decision,
                kev: r.kev,
                exploitable: r.exploitable,
                status: Remediation::parse(&r.status).unwrap_or(Remediation::Open),
                accepted_until: r.accepted_until.as_deref().and_then(parse_time),
                deadline: r.deadline.as_deref().and_then(parse_time),
            })
            .collect())
    }

    /// Computes an asset's score now and stores it in its history.
    pub fn rescore(&self, asset_id: i64, reason: &str) -> Result<Option<RiskScore>, RiskError> {
        let Some(asset) = self.asset_doc(asset_id) else {
            return Ok(None);
        };
        let now = Utc::now();
        let since = iso(now - Duration::days(self.model.attack_window_days));
        let attacks = self
            .state
            .attacks(asset_id, &since, 1_000)?
            .into_iter()
            .filter_map(|a| {
                Some(Attack {
                    at: parse_time(&a.at)?,
                    kind: if a.kind == "intel" {
                        AttackKind::Intel
                    } else {
                        AttackKind::Alert
                    },
                    severity: Severity::parse(&a.severity).unwrap_or(Severity::Medium),
                    title: a.title,
                    id: a.alert_id,
                })
            })
            .collect();
        let input = RiskInput {
            importance: asset.importance.as_ref().map(|f| f.value),
            cii: asset.cii.as_ref().is_some_and(|f| f.value),
            exposed_ports: exposed_ports(&asset),
            findings: self.finding_inputs(asset_id)?,
            attacks,
        };
        let score = score_asset(&input, &self.model, now);
        self.state.add_score(&ScoreRow {
            org: asset.org.0.clone(),
            asset_id,
            at: iso(now),
            score: score.score,
            factors: serde_json::to_string(&score).map_err(|e| RiskError::Input(e.to_string()))?,
            reason: reason.into(),
        })?;
        Ok(Some(score))
    }

    fn evaluate(
        &self,
        asset_id: i64,
        trigger: &Trigger,
        now: DateTime<Utc>,
    ) -> Result<Option<Warning>, RiskError> {
        Ok(self
            .warn_asset(asset_id)?
            .and_then(|wa| taishi_risk::evaluate(&wa, trigger, now)))
    }

    /// A finding new to the state on a CVE already in KEV is a KEV entry
    /// that now matches an asset (a scan or the NVD found it after the
    /// entry arrived): it warns as a new KEV entry does, under the same
    /// dedup key, so the asset is warned of once whichever came first.
    pub(crate) fn warn_new_kev(
        &self,
        org: &str,
        row: &FindingRow,
        doc: &str,
    ) -> Result<Option<WarningRow>, RiskError> {
        let (true, Some(cve)) = (row.kev, row.cve.clone()) else {
            return Ok(None);
        };
        let ransomware = serde_json::from_str::<FindingDoc>(doc).is_ok_and(|d| {
            d.priority
                .factors
                .iter()
                .any(|f| f.key == "ransomware" && f.value == "true")
        });
        let trigger = Trigger::KevAdded { cve, ransomware };
        match self.evaluate(row.asset_id, &trigger, Utc::now())? {
            Some(w) => self.raise(org, &w),
            None => Ok(None),
        }
    }

    /// What the warning rules read of an asset (none when it is gone).
    pub(crate) fn warn_asset(&self, asset_id: i64) -> Result<Option<WarnAsset>, RiskError> {
        let Some(asset) = self.asset_doc(asset_id) else {
            return Ok(None);
        };
        Ok(Some(WarnAsset {
            id: asset_id.to_string(),
            name: Self::display_name(&asset),
            critical: taishi_risk::context::is_critical(&asset),
            exposed_ports: exposed_ports(&asset),
            findings: self.finding_inputs(asset_id)?,
        }))
    }

    /// Stores a warning unless raised already, and sends it through the
    /// alert outputs as an alert of kind `warning`.
    pub(crate) fn raise(&self, org: &str, w: &Warning) -> Result<Option<WarningRow>, RiskError> {
        let asset_id: i64 = w.asset_id.parse().unwrap_or(0);
        let doc = serde_json::to_string(w).map_err(|e| RiskError::Input(e.to_string()))?;
        let Some(row) = self.state.raise_warning(&NewWarning {
            org: org.into(),
            dedup_key: w.dedup_key.clone(),
            level: w.level.name().into(),
            level_rank: w.level as i64,
            kind: w.kind.name().into(),
            asset_id,
            cve: w.cve.clone(),
            doc,
        })?
        else {
            return Ok(None);
        };
        self.counters.warnings.fetch_add(1, Ordering::Relaxed);
        let mut a = Alert::new(
            AlertKind::Warning,
            format!("risk:{}", w.kind.name()),
            w.title.en.clone(),
            Level::parse(w.level.alert_level()).unwrap_or(Level::High),
            w.at.fixed_offset(),
        );
        a.rule_title_zh = Some(w.title.zh.clone());
        a.org = (org != ROOT_ORG).then(|| org.to_string());
        a.host = self.asset_doc(asset_id).map(|x| Self::display_name(&x));
        a.tags = vec![format!("risk.warning.{}", w.level.name())];
        if let Some(c) = &w.cve {
            a.tags.push(format!("cve.{}", c.to_ascii_lowercase()));
        }
        let mut s = serde_json::Map::new();
        s.insert("warning.level".into(), w.level.name().into());
        s.insert("warning.id".into(), row.id.clone().into());
        s.insert("warning.dedup_key".into(), w.dedup_key.clone().into());
        s.insert("asset.id".into(), asset_id.into());
        if let Some(c) = &w.cve {
            s.insert("vulnerability.id".into(), c.clone().into());
        }
        s.insert("message".into(), w.text.zh.clone().into());
        s.insert("message_en".into(), w.text.en.clone().into());
        s.insert("action".into(), w.action.zh.clone().into());
        s.insert("action_en".into(), w.action.en.clone().into());
        a.summary = s;
        a.context = serde_json::to_value(w).unwrap_or_default();
        self.outputs.dispatcher().submit(a);
        Ok(Some(row))
    }

    /// A stored alert: the assets it is on record the attack, are
    /// rescored, and may raise a warning.
    fn on_alert(&self, a: &Alert) -> Result<(), RiskError> {
        if a.kind == AlertKind::Warning {
            return Ok(());
        }
        let org = a.org.as_deref().unwrap_or(ROOT_ORG);
        let mut ids = BTreeSet::new();
        for i in alert_identities(a) {
            ids.extend(self.state.assets_with_identity(org, &i)?);
        }
        if ids.is_empty() {
            return Ok(());
        }
        self.counters.alerts_matched.fetch_add(1, Ordering::Relaxed);
        let at = a.timestamp.with_timezone(&Utc);
        let kind = if a.kind == AlertKind::Intel {
            "intel"
        } else {
            "alert"
        };
        let trigger = if a.kind == AlertKind::Intel {
            Trigger::IntelHit {
                alert_id: a.id.clone(),
                indicator: a
                    .summary
                    .get("intel.indicator")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    .or_else(|| a.source_ip.clone())
                    .unwrap_or_else(|| a.rule_id.clone()),
            }
        } else {
            let mut text = format!("{} {} {}", a.rule_title, a.rule_id, a.tags.join(" "));
            for v in a.summary.values() {
                if let Some(s) = v.as_str() {
                    text.push(' ');
                    text.push_str(s);
                }
            }
            Trigger::Alert {
                alert_id: a.id.clone(),
                title: a
                    .rule_title_zh
                    .clone()
                    .unwrap_or_else(|| a.rule_title.clone()),
                cves: taishi_risk::cves_in(&text),
                techniques: taishi_risk::techniques_in(a.tags.iter().map(String::as_str)),
            }
        };
        for id in ids {
            self.state.add_attack(&AttackRow {
                org: org.into(),
                asset_id: id,
                alert_id: a.id.clone(),
                kind: kind.into(),
                severity: level_of(a.level).name().into(),
                at: iso(at),
                title: a.rule_title.clone(),
            })?;
            self.rescore(id, &format!("alert {}", a.id))?;
            if let Some(w) = self.evaluate(id, &trigger, Utc::now())? {
                self.raise(org, &w)?;
            }
        }
        Ok(())
    }
}

/// The pipeline's side: queues each stored alert.
pub struct RiskHook(pub Arc<Risk>);

impl taishi_runtime::AlertHook for RiskHook {
    fn alert(&self, alert: &AlertRecord) {
        let tx = self.0.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(tx) = tx else { return };
        match tx.try_send(Msg::Alert(Box::new(alert.clone()))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.0.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
