//! Greenbone/OpenVAS XML reports (GMP `get_reports` with the XML format):
//! each `<result>` is a finding on its host and port, one per CVE its NVT
//! references (GMP 8+ `<refs><ref type="cve">`, older `<cve>` lists), or
//! one under the NVT OID when it names none.

use super::{check_xml, from_xml, nonempty, score, ReportBuilder, ScanReport, MAX_REFS};
use crate::error::{ImportError, Problem};
use crate::finding::{cves_in, AssetRef, FindingSource, Location, Scanner, Severity};
use crate::import::ImportOptions;
use serde::Deserialize;

/// The export wraps the report in a second `<report>`; some tools save the
/// inner one alone, so both shapes are read.
#[derive(Deserialize)]
struct Outer {
    #[serde(default)]
    report: Option<Inner>,
    #[serde(default)]
    results: Option<Results>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(default)]
    results: Option<Results>,
    #[serde(default)]
    host: Vec<HostSummary>,
}

#[derive(Deserialize)]
struct HostSummary {
    #[serde(default)]
    ip: Option<String>,
}

#[derive(Deserialize)]
struct Results {
    #[serde(default)]
    result: Vec<ResultEl>,
}

#[derive(Deserialize)]
struct ResultEl {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    host: Option<HostEl>,
    #[serde(default)]
    port: Option<String>,
    #[serde(default)]
    nvt: Option<Nvt>,
    #[serde(default)]
    threat: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct HostEl {
    #[serde(rename = "$text", default)]
    ip: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
}

#[derive(Deserialize)]
struct Nvt {
    #[serde(rename = "@oid", default)]
    oid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    cvss_base: Option<String>,
    #[serde(default)]
    tags: Option<String>,
    #[serde(default)]
    cve: Option<String>,
    #[serde(default)]
    refs: Option<Refs>,
    #[serde(default)]
    severities: Option<Severities>,
}

#[derive(Deserialize)]
struct Refs {
    #[serde(rename = "ref", default)]
    refs: Vec<Ref>,
}

#[derive(Deserialize)]
struct Ref {
    #[serde(rename = "@id", default)]
    id: String,
    #[serde(rename = "@type", default)]
    ty: String,
}

#[derive(Deserialize)]
struct Severities {
    #[serde(default)]
    severity: Vec<SeverityEl>,
}

#[derive(Deserialize)]
struct SeverityEl {
    #[serde(default)]
    value: Option<String>,
}

/// Reads a Greenbone/OpenVAS XML report.
pub fn parse(bytes: &[u8], opts: &ImportOptions) -> Result<ScanReport, ImportError> {
    let text = check_xml(bytes, opts)?;
    let outer: Outer = from_xml(text, opts)?;
    let (results, hosts) = match outer.report {
        Some(inner) if inner.results.is_some() => (inner.results, inner.host),
        _ => (outer.results, Vec::new()),
    };
    let mut b = ReportBuilder::new(opts, Scanner::OpenVas);
    // The report's host list also names hosts without results.
    for (n, h) in hosts.iter().filter_map(|h| h.ip.as_deref()).enumerate() {
        b.note_host(&AssetRef::host(h), n as u64 + 1);
    }
    for (n, r) in results.iter().flat_map(|r| &r.result).enumerate() {
        b.item()?;
        let host = r.host.as_ref();
        let asset = AssetRef::host(host.and_then(|h| h.ip.as_deref()).unwrap_or(""))
            .with_hostname(host.and_then(|h| h.hostname.as_deref()));
        if asset.key() == "unknown" {
            b.reject(n as u64 + 1, "host", Problem::NoIdentity);
            continue;
        }
        b.note_host(&asset, n as u64 + 1);
        // An override an analyst set in Greenbone: the host was scanned,
        // the result is not a finding.
        if r.threat.as_deref().map(str::trim) == Some("False Positive") {
            continue;
        }
        let loc = Location::port(r.port.as_deref().unwrap_or(""), "tcp");
        let nvt = r.nvt.as_ref();
        let sev_score = score(r.severity.as_deref());
        let severity = r
            .threat
            .as_deref()
            .and_then(Severity::parse)
            .or(sev_score.map(Severity::from_cvss))
            .unwrap_or(Severity::Info);
        let tags = nvt.and_then(|n| n.tags.as_deref()).unwrap_or("");
        let vector = nvt
            .and_then(|n| n.severities.as_ref())
            .and_then(|s| s.severity.iter().find_map(|s| nonempty(s.value.as_deref())))
            .or_else(|| {
                tags.split('|')
                    .find_map(|kv| kv.strip_prefix("cvss_base_vector="))
                    .and_then(|v| nonempty(Some(v)))
            });
        let mut cves: Vec<String> = nvt
            .and_then(|n| n.refs.as_ref())
            .map(|refs| {
                refs.refs
                    .iter()
                    .filter(|r| r.ty.eq_ignore_ascii_case("cve"))
                    .flat_map(|r| cves_in(&r.id))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(list) = nvt.and_then(|n| n.cve.as_deref()) {
            for c in cves_in(list) {
                if !cves.contains(&c) {
                    cves.push(c);
                }
            }
        }
        // Chinese feeds give CNVD/CNNVD references beside the CVEs.
        let refs: Vec<String> = nvt
            .and_then(|n| n.refs.as_ref())
            .map(|refs| {
                refs.refs
                    .iter()
                    .filter(|r| r.ty.to_ascii_lowercase().starts_with("cn"))
                    .take(MAX_REFS)
                    .map(|r| r.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let source = FindingSource {
            cvss_score: sev_score.or_else(|| score(nvt.and_then(|n| n.cvss_base.as_deref()))),
            cvss_vector: vector,
            evidence: nonempty(r.description.as_deref()),
            refs,
            ..FindingSource::new(
                Scanner::OpenVas,
                &opts.source_name,
                nvt.map(|n| n.oid.clone()).unwrap_or_default(),
                nvt.and_then(|n| n.name.clone())
                    .or_else(|| r.name.clone())
                    .unwrap_or_default(),
                severity,
            )
        };
        b.push_per_cve(&asset, &loc, cves, source)?;
    }
    Ok(b.finish())
}
