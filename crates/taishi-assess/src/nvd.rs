//! NVD matching as a service: NVD CVE API 2.0 records imported (a file or
//! the `[risk] nvd_url` pull) are kept in the state, compiled into
//! `taishi_vuln`'s `FeedIndex`, and every registered asset's software is
//! matched against them. A match is a finding of source `nvd` carrying its
//! explanation (configuration, node, criterion, range and the version
//! comparison that decided).
//!
//! Where the feed lives: state rows (`risk_nvd_records`), one per CVE, the
//! record trimmed to what matching and priorities read. Rows, not files
//! under DATA_DIR, because the state is what survives a restart on both
//! backends (a PostgreSQL deployment has no shared DATA_DIR), a re-import of
//! a CVE replaces its row in one transaction, and the count is bounded
//! ([`MAX_NVD_RECORDS`], above the ~300,000 CVEs NVD has).
//!
//! Software is matched by its CPE 2.3 name. A purl is not matched: NVD
//! names products by CPE only and `taishi_vuln` has no purl→CPE map (a
//! guessed one would invent findings); scanners (Trivy, Grype) cover
//! packages.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use taishi_asset::{
    AssetRef, Finding, FindingSource, Location, Scanner, Severity as FindingSeverity,
};
use taishi_risk::BiText;
use taishi_state::risk::WarningRow;
use taishi_state::risk_nvd::NvdRecord;
use taishi_state::Scope;
use taishi_vuln::matching::{FeedIndex, Inventory};
use taishi_vuln::nvd::{self, Cve};

use crate::{FeedImportAnswer, FindingDoc, Risk, RiskError};

/// Largest NVD file taken in one import, after gzip (an API page of 2,000
/// records is ~30 MiB).
pub const MAX_NVD_IMPORT_BYTES: u64 = 256 << 20;
/// Records in one import.
const MAX_NVD_IMPORT_RECORDS: usize = 50_000;
/// Records kept in the state (NVD holds ~300,000).
pub const MAX_NVD_RECORDS: usize = 500_000;

/// Why the NVD says a CVE applies to an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NvdMatch {
    pub cve: String,
    /// The configuration that holds (0-based).
    pub configuration: usize,
    /// How its nodes combine: AND or OR.
    pub operator: String,
    pub node_count: usize,
    /// The entries the asset's software met: vulnerable ones (at least
    /// one) and platforms ("running on/with", never vulnerable themselves).
    pub entries: Vec<NvdEntry>,
    /// Negated nodes that held because nothing of the asset matched them.
    pub negated_nodes: Vec<usize>,
    /// The whole explanation in words.
    pub text: BiText,
}

/// One `cpeMatch` entry an asset's CPE met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NvdEntry {
    /// The node in the configuration (0-based).
    pub node: usize,
    /// The criterion (CPE 2.3).
    pub criteria: String,
    /// false: a platform entry.
    pub vulnerable: bool,
    /// The asset's CPE that met it.
    pub asset_cpe: String,
    /// The version comparison (range bounds, exact or all versions).
    pub version: BiText,
}

/// A finding's NVD explanation, as the asset page carries it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FindingExplanation {
    /// The finding's id.
    pub finding: String,
    pub nvd: NvdMatch,
}

/// What a record says of severity and CVSS.
struct Meta {
    vector: Option<String>,
    score: Option<f32>,
    severity: FindingSeverity,
}

/// The stored records, compiled.
pub struct NvdIndex {
    index: FeedIndex,
    meta: HashMap<String, Meta>,
}

fn text(t: taishi_vuln::Text) -> BiText {
    BiText::new(t.zh, t.en)
}

/// The record without what matching and priorities never read
/// (descriptions, references, weaknesses: most of a record's bytes).
fn trimmed(c: &Cve) -> Cve {
    Cve {
        descriptions: Vec::new(),
        references: Vec::new(),
        weaknesses: Vec::new(),
        source_identifier: None,
        ..c.clone()
    }
}

fn meta_of(c: &Cve) -> Meta {
    let m = c.preferred_metric();
    let score = m.map(|m| m.cvss_data.base_score as f32);
    let severity = m
        .and_then(|m| {
            m.cvss_data
                .base_severity
                .as_deref()
                .or(m.base_severity.as_deref())
        })
        .and_then(FindingSeverity::parse)
        .or(score.map(FindingSeverity::from_cvss))
        // Not yet scored by NVD: medium until it is.
        .unwrap_or(FindingSeverity::Medium);
    Meta {
        vector: m.map(|m| m.cvss_data.vector_string.clone()),
        score,
        severity,
    }
}

fn nvd_error(e: nvd::NvdError) -> RiskError {
    let m = e.to_string();
    match e {
        nvd::NvdError::TooLarge { .. } | nvd::NvdError::Limit { .. } => {
            RiskError::TooLarge(format!("{m} / NVD 文件超过上限"))
        }
        _ => RiskError::Input(format!("{m} / NVD 文件无法读取")),
    }
}

/// What matching some assets did.
#[derive(Default)]
pub(crate) struct Outcome {
    pub matched: usize,
    pub new: usize,
    pub fixed: usize,
    /// Warnings raised: new findings on CVEs in KEV.
    pub warnings: Vec<WarningRow>,
}

impl Risk {
    /// Imports NVD CVE API 2.0 records (one page, element or record, or a
    /// JSON array of them; gzip accepted), stores them, and rematches every
    /// registered asset: new matches become findings of source `nvd`, and
    /// unresolved `nvd` findings the records no longer support become
    /// fixed. Findings of scanners are left alone.
    pub fn import_nvd(&self, name: &str, bytes: &[u8]) -> Result<FeedImportAnswer, RiskError> {
        let (entries, change) = self.store_nvd(name, bytes)?;
        let out = self.rematch_all_nvd()?;
        Ok(FeedImportAnswer {
            kind: "nvd".into(),
            entries,
            added: change.added,
            changed: change.replaced,
            findings: out.matched,
            warnings: out.warnings,
            new_findings: out.new,
            fixed: out.fixed,
        })
    }

    /// Reads and stores the records of one NVD file; how many it held and
    /// what storing them changed. Matching is the caller's (a pull stores
    /// every page first, then matches once).
    pub(crate) fn store_nvd(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<(usize, taishi_state::risk_nvd::NvdChange), RiskError> {
        let bytes = crate::pull::gunzip(bytes.to_vec(), MAX_NVD_IMPORT_BYTES).map_err(|e| {
            RiskError::TooLarge(format!("{name}: {e} / {name}：解压失败或超过上限"))
        })?;
        let limits = nvd::Limits {
            max_bytes: MAX_NVD_IMPORT_BYTES as usize,
            max_records: MAX_NVD_IMPORT_RECORDS,
            ..nvd::Limits::default()
        };
        let cves = nvd::load_any(&bytes, name, &limits).map_err(nvd_error)?;
        let mut records = Vec::with_capacity(cves.len());
        for c in &cves {
            records.push(NvdRecord {
                cve: c.id.trim().to_ascii_uppercase(),
                last_modified: c.last_modified.clone(),
                doc: serde_json::to_string(&trimmed(c))
                    .map_err(|e| RiskError::Input(e.to_string()))?,
            });
        }
        let change = self.state.put_nvd_records(&records, MAX_NVD_RECORDS)?;
        Ok((cves.len(), change))
    }

    /// Recompiles the stored records and matches every registered asset.
    pub(crate) fn rematch_all_nvd(&self) -> Result<Outcome, RiskError> {
        let index = self.nvd_index(true)?;
        let ids: Vec<i64> = self.register().assets().map(|a| a.id.0 as i64).collect();
        match index {
            Some(ix) => self.match_assets(&ix, &ids),
            None => Ok(Outcome::default()),
        }
    }

    /// Rematches assets whose software may have changed (an import, a
    /// merge or split), when NVD records are stored.
    pub(crate) fn rematch_nvd(&self, ids: &[i64]) -> Result<(), RiskError> {
        if ids.is_empty() {
            return Ok(());
        }
        if let Some(ix) = self.nvd_index(false)? {
            self.match_assets(&ix, ids)?;
        }
        Ok(())
    }

    /// The compiled records: built from the state on first need (after a
    /// restart) or when `rebuild`; None when no record is stored.
    fn nvd_index(&self, rebuild: bool) -> Result<Option<Arc<NvdIndex>>, RiskError> {
        let mut cached = self.nvd.lock().unwrap_or_else(|p| p.into_inner());
        if !rebuild {
            if let Some(ix) = cached.as_ref() {
                return Ok(Some(ix.clone()));
            }
        }
        let docs = self.state.nvd_docs()?;
        if docs.is_empty() {
            *cached = None;
            return Ok(None);
        }
        let mut index = FeedIndex::new();
        let mut meta = HashMap::with_capacity(docs.len());
        for d in docs {
            // A row this version cannot read is skipped, not fatal: the
            // next import of that CVE replaces it.
            let Ok(c) = serde_json::from_str::<Cve>(&d) else {
                continue;
            };
            index.add(&c);
            meta.insert(c.id.to_ascii_uppercase(), meta_of(&c));
        }
        index.finish();
        let ix = Arc::new(NvdIndex { index, meta });
        *cached = Some(ix.clone());
        Ok(Some(ix))
    }

    /// Matches each asset's CPEs; stores the findings, fixes the `nvd`
    /// findings no longer supported, rescores the assets that changed.
    fn match_assets(&self, ix: &NvdIndex, ids: &[i64]) -> Result<Outcome, RiskError> {
        let now = Utc::now();
        let mut out = Outcome::default();
        for &id in ids {
            let Some(asset) = self.asset_doc(id) else {
                continue;
            };
            let org = asset.org.0.clone();
            let cpes: Vec<taishi_vuln::cpe::Cpe> = asset
                .software
                .iter()
                .filter_map(|f| f.value.cpe.as_ref())
                .filter_map(|c| taishi_vuln::cpe::Cpe::parse(&c.formatted()).ok())
                .collect();
            let matches = if cpes.is_empty() {
                Vec::new()
            } else {
                ix.index.match_inventory(&Inventory::new(cpes))
            };
            // Every `nvd` finding of the asset, by (CVE, location): a match
            // found again keeps its row (and the key it was stored under,
            // also after a merge moved it here).
            let known: HashMap<(String, String), (String, Option<Finding>)> = self
                .state
                .nvd_findings(id)?
                .into_iter()
                .map(|(r, d)| {
                    let f = serde_json::from_str::<FindingDoc>(&d)
                        .ok()
                        .and_then(|d| d.finding);
                    ((r.vuln.clone(), r.location.clone()), (r.status, f))
                })
                .collect();
            let mut seen = BTreeSet::new();
            let mut changed = false;
            for m in &matches {
                let Some(first) = m.vulnerable.first() else {
                    continue;
                };
                let cve = m.cve.to_ascii_uppercase();
                let (product, version) = match taishi_asset::Cpe::parse(&first.asset_cpe) {
                    Ok(c) => (
                        format!("cpe:{}:{}", c.vendor, c.product),
                        (c.version != "*" && c.version != "-").then_some(c.version),
                    ),
                    Err(_) => (first.asset_cpe.clone(), None),
                };
                let location = Location::Package {
                    name: product.clone(),
                    version: version.clone(),
                };
                let key = (cve.clone(), location.key());
                let asset_ref = known
                    .get(&key)
                    .and_then(|(_, f)| f.as_ref().map(|f| f.asset.clone()))
                    .unwrap_or_else(|| AssetRef {
                        artifact: Some(format!("asset:{id}")),
                        ..AssetRef::default()
                    });
                let explanation = explain(m);
                let meta = ix.meta.get(&cve);
                let severity = meta.map_or(FindingSeverity::Medium, |m| m.severity);
                let f = Finding {
                    asset: asset_ref,
                    location,
                    cve: Some(cve.clone()),
                    severity,
                    sources: vec![FindingSource {
                        cvss_score: meta.and_then(|m| m.score),
                        cvss_vector: meta.and_then(|m| m.vector.clone()),
                        evidence: Some(explanation.text.en.clone()),
                        ..FindingSource::new(
                            Scanner::Nvd,
                            "nvd",
                            cve.clone(),
                            format!("{cve} {product} {}", version.as_deref().unwrap_or_default())
                                .trim_end()
                                .to_string(),
                            severity,
                        )
                    }],
                };
                let (row, doc) = self.finding_row(&org, &asset, &f, now, Some(&explanation))?;
                if self.state.upsert_finding(&row, &doc)? {
                    out.new += 1;
                    out.warnings.extend(self.warn_new_kev(&org, &row, &doc)?);
                    changed = true;
                } else if known.get(&key).is_some_and(|(s, _)| s == "fixed") {
                    changed = true;
                }
                out.matched += 1;
                seen.insert(key);
            }
            for (r, _) in self.state.nvd_findings(id)? {
                let unresolved = matches!(r.status.as_str(), "open" | "in_progress");
                if unresolved && !seen.contains(&(r.vuln.clone(), r.location.clone())) {
                    self.state
                        .set_finding_status(&r.id, &Scope::All, "fixed", None, None)?;
                    out.fixed += 1;
                    changed = true;
                }
            }
            if changed {
                self.rescore(id, "nvd")?;
            }
        }
        Ok(out)
    }
}

/// A matching finding in the answer's terms.
fn explain(m: &taishi_vuln::matching::Finding) -> NvdMatch {
    let entries = m
        .vulnerable
        .iter()
        .chain(&m.platforms)
        .map(|e| NvdEntry {
            node: e.node,
            criteria: e.criteria.clone(),
            vulnerable: e.vulnerable,
            asset_cpe: e.asset_cpe.clone(),
            version: text(e.version.text()),
        })
        .collect();
    NvdMatch {
        cve: m.cve.to_ascii_uppercase(),
        configuration: m.configuration,
        operator: m.operator.text(taishi_vuln::Lang::En).into(),
        node_count: m.node_count,
        entries,
        negated_nodes: m.negated_nodes.clone(),
        text: text(m.explanation()),
    }
}

/// The NVD explanations of an asset's findings (for its page).
pub fn explanations(docs: &[(String, String)]) -> Vec<FindingExplanation> {
    docs.iter()
        .filter_map(|(id, d)| {
            let doc: FindingDoc = serde_json::from_str(d).ok()?;
            Some(FindingExplanation {
                finding: id.clone(),
                nvd: doc.nvd?,
            })
        })
        .collect()
}
