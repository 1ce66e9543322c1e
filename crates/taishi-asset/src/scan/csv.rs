//! Finding CSVs, with the column mapping of `data/finding_columns.tsv`:
//! Nessus and Tenable.sc exports (counted as Nessus, so they deduplicate
//! with `.nessus` files of the same scan), Greenbone/OpenVAS exports
//! (counted as OpenVAS), DefectDojo's generic format and hand-made sheets
//! (counted as CSV). A row may name several CVEs; it gives one finding per
//! CVE, as the XML formats do.

use super::{nonempty, score, ReportBuilder, ScanReport};
use crate::columns::{normalise_header, ColumnMap, FINDING_COLUMNS};
use crate::error::{ImportError, Problem};
use crate::finding::{
    cves_in, normalise_cve, AssetRef, FindingSource, Location, Scanner, Severity,
};
use crate::import::{csv_error, open_csv, ImportOptions};
use crate::model::Mac;
use std::sync::OnceLock;

fn finding_map() -> &'static ColumnMap {
    static MAP: OnceLock<ColumnMap> = OnceLock::new();
    MAP.get_or_init(|| ColumnMap::parse(FINDING_COLUMNS))
}

/// Which tool wrote the CSV, from its headers.
fn flavour(headers: &[String]) -> Scanner {
    let has = |h: &str| headers.iter().any(|x| normalise_header(x) == h);
    if has("nvtoid") {
        Scanner::OpenVas
    } else if has("pluginid") || (has("plugin") && has("pluginname")) {
        Scanner::Nessus
    } else {
        Scanner::Csv
    }
}

/// Reads a finding CSV.
pub fn parse(bytes: &[u8], opts: &ImportOptions) -> Result<ScanReport, ImportError> {
    let (mut rdr, headers) = open_csv(bytes, opts)?;
    let (map, _) = finding_map().resolve(&headers);
    let scanner = flavour(&headers);
    let mut b = ReportBuilder::new(opts, scanner);
    for row in rdr.records() {
        let row = row.map_err(|e| csv_error(opts, &e))?;
        let line = row.position().map_or(0, |p| p.line());
        // Spreadsheet exports pad with rows of empty cells; they are no
        // record at all.
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        b.item()?;
        let get = |f: &str| {
            map.get(f)
                .and_then(|&i| row.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let header = |f: &str| map.get(f).map(|&i| headers[i].as_str());
        let host_cell = get("ip").or_else(|| get("url").and_then(url_host));
        let mut asset = AssetRef::host(host_cell.unwrap_or("")).with_hostname(get("hostname"));
        asset.mac = get("mac").and_then(Mac::parse);
        if asset.key() == "unknown" {
            b.rejects
                .push(opts.reject(line, header("ip"), Problem::NoIdentity));
            continue;
        }
        let mut cves = get("cve").map(cves_in).unwrap_or_default();
        // Greenbone's CVE-scanner results carry the CVE as the check's id.
        if cves.is_empty() {
            cves.extend(get("scanner_id").and_then(normalise_cve));
        }
        let title = get("title").map(str::to_string);
        // The check's id: the scanner's own, else the CNVD/CNNVD id, else the
        // title (DefectDojo's generic rows have only that), else the first CVE.
        let Some(scanner_id) = get("scanner_id")
            .or_else(|| get("cn_id"))
            .map(str::to_string)
            .or_else(|| title.clone())
            .or_else(|| cves.first().cloned())
        else {
            b.rejects
                .push(opts.reject(line, header("cve").or(Some("CVE")), Problem::Missing));
            continue;
        };
        let cvss_score = score(get("cvss_score"));
        let severity = match get("severity") {
            Some(s) => match Severity::parse(s) {
                Some(s) => s,
                None => {
                    b.rejects.push(opts.reject(
                        line,
                        header("severity"),
                        Problem::Invalid {
                            value: s.chars().take(40).collect(),
                            expected:
                                "critical/high/medium/low/info / 严重/高危/中危/低危/信息".into(),
                        },
                    ));
                    continue;
                }
            },
            None => cvss_score.map_or(Severity::Info, Severity::from_cvss),
        };
        b.note_host(&asset, line);
        // A web finding without a port is located by its URL, so the same
        // check on five pages is five findings.
        let location = match (get("port"), get("url")) {
            (None, Some(url)) => Location::Url {
                url: url.to_string(),
            },
            (port, _) => Location::port(port.unwrap_or(""), get("protocol").unwrap_or("tcp")),
        };
        let source = FindingSource {
            cvss_score,
            cvss_vector: nonempty(get("cvss_vector")),
            evidence: nonempty(get("evidence")),
            refs: get("cn_id").map(str::to_string).into_iter().collect(),
            ..FindingSource::new(
                scanner,
                &opts.source_name,
                scanner_id,
                title.unwrap_or_default(),
                severity,
            )
        };
        b.push_per_cve(&asset, &location, cves, source)?;
    }
    Ok(b.finish())
}

/// The host of `https://192.168.1.1/path` or `host:8080/x`.
fn url_host(u: &str) -> Option<&str> {
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    let hostport = rest.split(['/', '?', '#']).next()?;
    let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        hostport.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}
