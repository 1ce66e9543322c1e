//! Trivy JSON (schema version 2): vulnerabilities per package, failed
//! misconfiguration checks per file, and secrets per file and line, all on
//! the scanned artifact (image, file system, repository).

use super::{from_json, nonempty, ReportBuilder, ScanReport};
use crate::error::{ImportError, Problem};
use crate::finding::{normalise_cve, AssetRef, FindingSource, Location, Scanner, Severity};
use crate::import::ImportOptions;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    #[serde(default)]
    artifact_name: Option<String>,
    #[serde(default)]
    results: Option<Vec<TResult>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TResult {
    #[serde(default)]
    target: String,
    #[serde(default)]
    vulnerabilities: Option<Vec<Vuln>>,
    #[serde(default)]
    misconfigurations: Option<Vec<Misconf>>,
    #[serde(default)]
    secrets: Option<Vec<Secret>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Vuln {
    #[serde(rename = "VulnerabilityID", default)]
    id: String,
    #[serde(default)]
    pkg_name: String,
    #[serde(default)]
    installed_version: Option<String>,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    pkg_identifier: Option<PkgId>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    severity_source: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(rename = "CVSS", default)]
    cvss: Option<BTreeMap<String, Cvss>>,
    #[serde(rename = "VendorIDs", default)]
    vendor_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct PkgId {
    #[serde(rename = "PURL", default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct Cvss {
    #[serde(rename = "V40Vector", default)]
    v40_vector: Option<String>,
    #[serde(rename = "V40Score", default)]
    v40_score: Option<f32>,
    #[serde(rename = "V3Vector", default)]
    v3_vector: Option<String>,
    #[serde(rename = "V3Score", default)]
    v3_score: Option<f32>,
    #[serde(rename = "V2Vector", default)]
    v2_vector: Option<String>,
    #[serde(rename = "V2Score", default)]
    v2_score: Option<f32>,
}

impl Cvss {
    /// The newest version the source scored.
    fn best(&self) -> Option<(Option<f32>, String)> {
        [
            (self.v40_score, &self.v40_vector),
            (self.v3_score, &self.v3_vector),
            (self.v2_score, &self.v2_vector),
        ]
        .into_iter()
        .find_map(|(s, v)| v.as_ref().map(|v| (s, v.clone())))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Misconf {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Secret {
    #[serde(rename = "RuleID", default)]
    rule_id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    start_line: Option<u64>,
    #[serde(rename = "Match", default)]
    matched: Option<String>,
}

/// Reads a Trivy JSON report.
pub fn parse(bytes: &[u8], opts: &ImportOptions) -> Result<ScanReport, ImportError> {
    let rep: Report = from_json(bytes, opts)?;
    let Some(results) = rep
        .results
        .as_ref()
        .filter(|_| rep.artifact_name.is_some())
        .or(rep.results.as_ref())
    else {
        return Err(ImportError::Format {
            source_name: opts.source_name.clone(),
            expected: "Trivy",
            reason: "no Results array".into(),
        });
    };
    let asset = AssetRef {
        artifact: Some(
            rep.artifact_name
                .clone()
                .unwrap_or_else(|| opts.source_name.clone()),
        ),
        ..AssetRef::default()
    };
    let mut b = ReportBuilder::new(opts, Scanner::Trivy);
    b.scanned.insert(asset.key());
    let sev = |s: &Option<String>| {
        s.as_deref()
            .and_then(Severity::parse)
            .unwrap_or(Severity::Info)
    };
    for r in results {
        for v in r.vulnerabilities.iter().flatten() {
            b.item()?;
            if v.id.trim().is_empty() {
                b.reject(b.items as u64, "VulnerabilityID", Problem::Missing);
                continue;
            }
            let cvss = v.cvss.as_ref().and_then(|m| {
                v.severity_source
                    .as_ref()
                    .and_then(|s| m.get(s))
                    .and_then(Cvss::best)
                    .or_else(|| m.get("nvd").and_then(Cvss::best))
                    .or_else(|| m.values().find_map(Cvss::best))
            });
            let cve = normalise_cve(&v.id)
                .or_else(|| v.vendor_ids.iter().flatten().find_map(|i| normalise_cve(i)));
            let purl = v.pkg_identifier.as_ref().and_then(|p| p.purl.as_deref());
            let severity = sev(&v.severity);
            b.push_per_cve(
                &asset,
                &Location::package(&v.pkg_name, v.installed_version.as_deref(), purl),
                cve.into_iter().collect(),
                FindingSource {
                    cvss_score: cvss.as_ref().and_then(|c| c.0),
                    cvss_vector: cvss.map(|c| c.1),
                    evidence: Some(format!(
                        "{} {} in {}",
                        v.pkg_name,
                        v.installed_version.as_deref().unwrap_or("?"),
                        r.target
                    )),
                    fixed_version: nonempty(v.fixed_version.as_deref()),
                    ..FindingSource::new(
                        Scanner::Trivy,
                        &opts.source_name,
                        v.id.clone(),
                        v.title.clone().unwrap_or_else(|| v.id.clone()),
                        severity,
                    )
                },
            )?;
        }
        for m in r.misconfigurations.iter().flatten() {
            if m.status.as_deref().is_some_and(|s| s != "FAIL") {
                continue;
            }
            b.item()?;
            let severity = sev(&m.severity);
            b.push_per_cve(
                &asset,
                &Location::File {
                    path: r.target.clone(),
                },
                Vec::new(),
                FindingSource {
                    evidence: nonempty(m.message.as_deref()),
                    ..FindingSource::new(
                        Scanner::Trivy,
                        &opts.source_name,
                        m.id.clone(),
                        m.title.clone().unwrap_or_else(|| m.id.clone()),
                        severity,
                    )
                },
            )?;
        }
        for s in r.secrets.iter().flatten() {
            b.item()?;
            let severity = sev(&s.severity);
            let path = match s.start_line {
                Some(l) => format!("{}:{l}", r.target),
                None => r.target.clone(),
            };
            b.push_per_cve(
                &asset,
                &Location::File { path },
                Vec::new(),
                FindingSource {
                    // Trivy already masks the secret in `Match`.
                    evidence: nonempty(s.matched.as_deref()),
                    ..FindingSource::new(
                        Scanner::Trivy,
                        &opts.source_name,
                        format!("secret:{}", s.rule_id),
                        s.title.clone().unwrap_or_else(|| s.rule_id.clone()),
                        severity,
                    )
                },
            )?;
        }
    }
    Ok(b.finish())
}
