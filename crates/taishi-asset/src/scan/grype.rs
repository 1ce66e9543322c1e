//! Grype JSON (`-o json`): each match is a finding on the scanned image or
//! directory, at the matched package. A GHSA or distribution advisory id
//! takes its CVE from `relatedVulnerabilities`.

use super::{from_json, ReportBuilder, ScanReport};
use crate::error::{ImportError, Problem};
use crate::finding::{normalise_cve, AssetRef, FindingSource, Location, Scanner, Severity};
use crate::import::ImportOptions;
use serde::Deserialize;

#[derive(Deserialize)]
struct Report {
    matches: Vec<Match>,
    #[serde(default)]
    source: Option<Source>,
}

#[derive(Deserialize)]
struct Source {
    #[serde(default)]
    target: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Match {
    vulnerability: Vuln,
    #[serde(default)]
    related_vulnerabilities: Vec<Vuln>,
    artifact: Artifact,
}

#[derive(Deserialize)]
struct Vuln {
    #[serde(default)]
    id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    cvss: Vec<CvssEntry>,
    #[serde(default)]
    fix: Option<Fix>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct CvssEntry {
    #[serde(default)]
    version: String,
    #[serde(default)]
    vector: Option<String>,
    #[serde(default)]
    metrics: Option<Metrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    base_score: Option<f32>,
}

#[derive(Deserialize)]
struct Fix {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct Artifact {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    purl: Option<String>,
}

/// The newest CVSS version among the entries (v4 > v3.x > v2).
fn best_cvss(entries: &[CvssEntry]) -> Option<(Option<f32>, String)> {
    entries
        .iter()
        .filter(|c| c.vector.is_some())
        .max_by(|a, b| a.version.cmp(&b.version))
        .map(|c| {
            let v = c.vector.clone().unwrap_or_default();
            // Grype prints v3 vectors without the `CVSS:3.x/` prefix at times.
            let v = if c.version.starts_with('3') && !v.starts_with("CVSS:") {
                format!("CVSS:{}/{v}", c.version)
            } else {
                v
            };
            (c.metrics.as_ref().and_then(|m| m.base_score), v)
        })
}

/// Reads a Grype JSON report.
pub fn parse(bytes: &[u8], opts: &ImportOptions) -> Result<ScanReport, ImportError> {
    let rep: Report = from_json(bytes, opts)?;
    let target = rep.source.as_ref().map(|s| &s.target);
    let artifact = match target {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Object(o)) => o
            .get("userInput")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| opts.source_name.clone()),
        _ => opts.source_name.clone(),
    };
    let asset = AssetRef {
        artifact: Some(artifact),
        ..AssetRef::default()
    };
    let mut b = ReportBuilder::new(opts, Scanner::Grype);
    b.scanned.insert(asset.key());
    for m in &rep.matches {
        b.item()?;
        let v = &m.vulnerability;
        if v.id.trim().is_empty() {
            b.reject(b.items as u64, "vulnerability.id", Problem::Missing);
            continue;
        }
        let cve = normalise_cve(&v.id).or_else(|| {
            m.related_vulnerabilities
                .iter()
                .find_map(|r| normalise_cve(&r.id))
        });
        let cvss = best_cvss(&v.cvss).or_else(|| {
            m.related_vulnerabilities
                .iter()
                .find_map(|r| best_cvss(&r.cvss))
        });
        let severity = v
            .severity
            .as_deref()
            .and_then(Severity::parse)
            .unwrap_or(Severity::Info);
        let a = &m.artifact;
        let fixed = v
            .fix
            .as_ref()
            .map(|f| f.versions.join(", "))
            .filter(|s| !s.is_empty());
        b.push_per_cve(
            &asset,
            &Location::package(&a.name, a.version.as_deref(), a.purl.as_deref()),
            cve.into_iter().collect(),
            FindingSource {
                cvss_score: cvss.as_ref().and_then(|c| c.0),
                cvss_vector: cvss.map(|c| c.1),
                evidence: Some(format!(
                    "{} {}{}",
                    a.name,
                    a.version.as_deref().unwrap_or("?"),
                    a.purl
                        .as_deref()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default()
                )),
                fixed_version: fixed,
                ..FindingSource::new(
                    Scanner::Grype,
                    &opts.source_name,
                    v.id.clone(),
                    v.description
                        .as_deref()
                        .or_else(|| {
                            m.related_vulnerabilities
                                .iter()
                                .find_map(|r| r.description.as_deref())
                        })
                        .map(|d| d.lines().next().unwrap_or("").chars().take(200).collect())
                        .unwrap_or_else(|| v.id.clone()),
                    severity,
                )
            },
        )?;
    }
    Ok(b.finish())
}
