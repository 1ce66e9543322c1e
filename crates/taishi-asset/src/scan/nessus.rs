//! Nessus `.nessus` (NessusClientData_v2): each ReportHost's properties
//! give the host's identities and software; each ReportItem is a finding,
//! one per CVE it names (or one under its plugin id when it names none).
//! Informational items (severity 0) are findings too, at `Info`: they are
//! what the scanner saw, and the risk model weighs them at nothing.

use super::{check_xml, from_xml, nonempty, score, ReportBuilder, ScanReport, MAX_REFS};
use crate::error::{ImportError, Problem};
use crate::finding::{normalise_cve, AssetRef, FindingSource, Location, Scanner, Severity};
use crate::import::{parse_time, push_unique, ImportOptions};
use crate::model::*;
use crate::software::{Cpe, Software};
use serde::Deserialize;

#[derive(Deserialize)]
struct Root {
    #[serde(rename = "Report", default)]
    report: Vec<Report>,
}

#[derive(Deserialize)]
struct Report {
    #[serde(rename = "ReportHost", default)]
    hosts: Vec<ReportHost>,
}

#[derive(Deserialize)]
struct ReportHost {
    #[serde(rename = "@name", default)]
    name: String,
    #[serde(rename = "HostProperties", default)]
    props: Option<Props>,
    #[serde(rename = "ReportItem", default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Props {
    #[serde(default)]
    tag: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    #[serde(rename = "@name", default)]
    name: String,
    #[serde(rename = "$text", default)]
    text: String,
}

#[derive(Deserialize)]
struct Item {
    #[serde(rename = "@port", default)]
    port: String,
    #[serde(rename = "@svc_name", default)]
    svc_name: Option<String>,
    #[serde(rename = "@protocol", default)]
    protocol: String,
    #[serde(rename = "@severity", default)]
    severity: String,
    #[serde(rename = "@pluginID", default)]
    plugin_id: String,
    #[serde(rename = "@pluginName", default)]
    plugin_name: String,
    #[serde(default)]
    cve: Vec<String>,
    #[serde(default)]
    cvss3_vector: Option<String>,
    #[serde(default)]
    cvss3_base_score: Option<String>,
    #[serde(default)]
    cvss_vector: Option<String>,
    #[serde(default)]
    cvss_base_score: Option<String>,
    #[serde(default)]
    risk_factor: Option<String>,
    #[serde(default)]
    plugin_output: Option<String>,
    #[serde(default)]
    synopsis: Option<String>,
    #[serde(default)]
    exploit_available: Option<String>,
    /// Cross references (`CNVD:2021-95914`, `IAVA:…`).
    #[serde(default)]
    xref: Vec<String>,
}

/// Reads a `.nessus` report.
pub fn parse(bytes: &[u8], opts: &ImportOptions) -> Result<ScanReport, ImportError> {
    let text = check_xml(bytes, opts)?;
    let root: Root = from_xml(text, opts)?;
    let mut b = ReportBuilder::new(opts, Scanner::Nessus);
    let mut host_no = 0u64;
    for h in root.report.iter().flat_map(|r| &r.hosts) {
        host_no += 1;
        let tag = |n: &str| {
            h.props
                .iter()
                .flat_map(|p| &p.tag)
                .find(|t| t.name == n)
                .map(|t| t.text.trim())
                .filter(|t| !t.is_empty())
        };
        let at = tag("HOST_END")
            .or(tag("HOST_START"))
            .and_then(|t| nessus_time(t, opts.zone))
            .unwrap_or(opts.at);
        let prov = Provenance::new(SourceKind::Scan, &opts.source_name, at).at_record(host_no);
        let mut r = AssetRef::host(tag("host-ip").unwrap_or(&h.name));
        if r.key() == "unknown" {
            b.reject(host_no, "ReportHost@name", Problem::NoIdentity);
            continue;
        }
        r = r.with_hostname(tag("host-fqdn").or(tag("netbios-name")).or(Some(&h.name)));
        if let Some(m) = tag("mac-address")
            .and_then(|m| m.split_whitespace().next())
            .and_then(Mac::parse)
        {
            r.mac = Some(m);
        }
        let mut asset = Asset::new(AssetId(host_no), opts.org.clone());
        for id in r.identities() {
            push_unique(&mut asset.identities, prov.fact(id));
        }
        // The FQDN and the NetBIOS name both: EVTX `Computer` and syslog
        // hosts name machines either way, and discovery compares on both.
        for n in [tag("host-fqdn"), tag("netbios-name")]
            .into_iter()
            .flatten()
        {
            if let Some(id) = Identity::name(n) {
                push_unique(&mut asset.identities, prov.fact(id));
            }
        }
        for c in tag("cpe")
            .into_iter()
            .chain((0..32).map_while(|i| tag(&format!("cpe-{i}"))))
        {
            // `cpe-0` values look like `cpe:/o:microsoft:windows -> Microsoft Windows`.
            let c = c.split(" -> ").next().unwrap_or(c);
            if let Ok(c) = Cpe::parse(c) {
                push_unique(&mut asset.software, prov.fact(Software::from_cpe(c)));
            }
        }
        b.scanned.insert(r.key());
        for it in &h.items {
            b.item()?;
            let loc = Location::port(&it.port, &it.protocol);
            if let (Location::Port { transport, port }, Some(svc)) = (&loc, &it.svc_name) {
                crate::model::merge_services(
                    &mut asset.services,
                    vec![prov.fact(Service {
                        transport: *transport,
                        port: *port,
                        name: Some(svc.trim_end_matches('?').to_string()),
                        external: opts.external,
                    })],
                );
            }
            let severity = Severity::parse(&it.severity)
                .or_else(|| it.risk_factor.as_deref().and_then(Severity::parse))
                .unwrap_or(Severity::Info);
            let (cvss_score, cvss_vector) = match &it.cvss3_vector {
                Some(v) => (
                    score(it.cvss3_base_score.as_deref()),
                    Some(v.trim().to_string()),
                ),
                None => (
                    score(it.cvss_base_score.as_deref()),
                    it.cvss_vector.as_deref().map(|v| v.trim().to_string()),
                ),
            };
            let source = FindingSource {
                cvss_score,
                cvss_vector,
                evidence: nonempty(it.plugin_output.as_deref())
                    .or(nonempty(it.synopsis.as_deref())),
                service: it.svc_name.clone(),
                exploit_available: it.exploit_available.as_deref() == Some("true"),
                refs: it.xref.iter().take(MAX_REFS).cloned().collect(),
                ..FindingSource::new(
                    Scanner::Nessus,
                    &opts.source_name,
                    it.plugin_id.clone(),
                    it.plugin_name.clone(),
                    severity,
                )
            };
            let mut cves: Vec<String> = it.cve.iter().filter_map(|c| normalise_cve(c)).collect();
            cves.dedup();
            b.push_per_cve(&r, &loc, cves, source)?;
        }
        asset.seen(at);
        b.assets.push(asset);
    }
    Ok(b.finish())
}

/// Nessus writes `Mon Jul  1 11:40:48 2013` in the scanner's local time,
/// with no zone; it is read in the options' zone.
fn nessus_time(s: &str, zone: chrono::FixedOffset) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    let norm: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match chrono::NaiveDateTime::parse_from_str(&norm, "%a %b %d %H:%M:%S %Y") {
        Ok(n) => zone.from_local_datetime(&n).single().map(|t| t.to_utc()),
        Err(_) => parse_time(s, zone),
    }
}
