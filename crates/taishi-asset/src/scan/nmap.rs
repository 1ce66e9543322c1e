//! Nmap XML (`-oX`): hosts, addresses, names, open ports and service/OS
//! CPEs become assets; the `vulners` script's tables and the NSE `vulns`
//! library's VULNERABLE tables (smb-vuln-*, ssl-heartbleed …) become
//! findings.

use super::{check_xml, from_xml, score, ReportBuilder, ScanReport};
use crate::error::{ImportError, Problem};
use crate::finding::{normalise_cve, AssetRef, FindingSource, Location, Scanner, Severity};
use crate::import::{push_unique, ImportOptions};
use crate::model::*;
use crate::software::{Cpe, Software};
use chrono::DateTime;
use serde::Deserialize;

#[derive(Deserialize)]
struct NmapRun {
    #[serde(rename = "@start", default)]
    start: Option<String>,
    #[serde(default)]
    host: Vec<Host>,
}

#[derive(Deserialize)]
struct Host {
    #[serde(rename = "@starttime", default)]
    starttime: Option<String>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    address: Vec<Address>,
    #[serde(default)]
    hostnames: Option<Hostnames>,
    #[serde(default)]
    ports: Option<Ports>,
    #[serde(default)]
    os: Option<Os>,
    #[serde(default)]
    hostscript: Option<Scripts>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(rename = "@state", default)]
    state: String,
}

#[derive(Deserialize)]
struct Address {
    #[serde(rename = "@addr", default)]
    addr: String,
    #[serde(rename = "@addrtype", default)]
    addrtype: String,
}

#[derive(Deserialize)]
struct Hostnames {
    #[serde(default)]
    hostname: Vec<Hostname>,
}

#[derive(Deserialize)]
struct Hostname {
    #[serde(rename = "@name", default)]
    name: String,
}

#[derive(Deserialize)]
struct Ports {
    #[serde(default)]
    port: Vec<Port>,
}

#[derive(Deserialize)]
struct Port {
    #[serde(rename = "@protocol", default)]
    protocol: String,
    #[serde(rename = "@portid", default)]
    portid: String,
    #[serde(default)]
    state: Option<Status>,
    #[serde(default)]
    service: Option<ServiceEl>,
    #[serde(default)]
    script: Vec<Script>,
}

#[derive(Deserialize)]
struct ServiceEl {
    #[serde(rename = "@name", default)]
    name: Option<String>,
    #[serde(default)]
    cpe: Vec<String>,
}

#[derive(Deserialize)]
struct Os {
    #[serde(default)]
    osmatch: Vec<OsMatch>,
}

#[derive(Deserialize)]
struct OsMatch {
    #[serde(default)]
    osclass: Vec<OsClass>,
}

#[derive(Deserialize)]
struct OsClass {
    #[serde(default)]
    cpe: Vec<String>,
}

#[derive(Deserialize)]
struct Scripts {
    #[serde(default)]
    script: Vec<Script>,
}

#[derive(Deserialize)]
struct Script {
    #[serde(rename = "@id", default)]
    id: String,
    #[serde(default)]
    table: Vec<Table>,
}

#[derive(Deserialize)]
struct Table {
    #[serde(rename = "@key", default)]
    key: Option<String>,
    #[serde(default)]
    table: Vec<Table>,
    #[serde(default)]
    elem: Vec<Elem>,
}

#[derive(Deserialize)]
struct Elem {
    #[serde(rename = "@key", default)]
    key: Option<String>,
    #[serde(rename = "$text", default)]
    text: String,
}

impl Table {
    fn elem(&self, key: &str) -> Option<&str> {
        self.elem
            .iter()
            .find(|e| e.key.as_deref() == Some(key))
            .map(|e| e.text.trim())
    }

    fn sub(&self, key: &str) -> Option<&Table> {
        self.table.iter().find(|t| t.key.as_deref() == Some(key))
    }
}

/// Reads an Nmap XML report.
pub fn parse(bytes: &[u8], opts: &ImportOptions) -> Result<ScanReport, ImportError> {
    let text = check_xml(bytes, opts)?;
    let run: NmapRun = from_xml(text, opts)?;
    let run_time = unix(run.start.as_deref()).unwrap_or(opts.at);
    let mut b = ReportBuilder::new(opts, Scanner::Nmap);
    for (i, h) in run.host.iter().enumerate() {
        if h.status.as_ref().is_some_and(|s| s.state != "up") {
            continue;
        }
        let at = unix(h.starttime.as_deref()).unwrap_or(run_time);
        let prov = Provenance::new(SourceKind::Scan, &opts.source_name, at).at_record(i as u64 + 1);
        let mut asset = Asset::new(AssetId(i as u64 + 1), opts.org.clone());
        let mut r = AssetRef::default();
        for a in &h.address {
            match a.addrtype.as_str() {
                "mac" => {
                    if let Some(m) = Mac::parse(&a.addr) {
                        r.mac.get_or_insert(m);
                        push_unique(&mut asset.identities, prov.fact(Identity::Mac(m)));
                    }
                }
                _ => {
                    if let Ok(ip) = a.addr.parse() {
                        r.ip.get_or_insert(ip);
                        push_unique(&mut asset.identities, prov.fact(Identity::Ip(ip)));
                    }
                }
            }
        }
        for n in h.hostnames.iter().flat_map(|hn| &hn.hostname) {
            if let Some(id) = Identity::name(&n.name) {
                r = r.with_hostname(Some(&n.name));
                push_unique(&mut asset.identities, prov.fact(id));
            }
        }
        if asset.identities.is_empty() {
            b.reject(i as u64 + 1, "address", Problem::NoIdentity);
            continue;
        }
        b.scanned.insert(r.key());
        for cpe in
            h.os.iter()
                .flat_map(|o| &o.osmatch)
                .flat_map(|m| &m.osclass)
                .flat_map(|c| &c.cpe)
        {
            if let Ok(c) = Cpe::parse(cpe) {
                push_unique(&mut asset.software, prov.fact(Software::from_cpe(c)));
            }
        }
        for p in h.ports.iter().flat_map(|ps| &ps.port) {
            let loc = Location::port(&p.portid, &p.protocol);
            let open = p.state.as_ref().is_some_and(|s| s.state == "open");
            if let (true, Location::Port { transport, port }) = (open, &loc) {
                crate::model::merge_services(
                    &mut asset.services,
                    vec![prov.fact(Service {
                        transport: *transport,
                        port: *port,
                        name: p.service.as_ref().and_then(|s| s.name.clone()),
                        external: opts.external,
                    })],
                );
                for cpe in p.service.iter().flat_map(|s| &s.cpe) {
                    if let Ok(c) = Cpe::parse(cpe) {
                        push_unique(&mut asset.software, prov.fact(Software::from_cpe(c)));
                    }
                }
            }
            let svc = p.service.as_ref().and_then(|s| s.name.clone());
            for s in &p.script {
                script_findings(&mut b, s, &r, &loc, svc.as_deref())?;
            }
        }
        for s in h.hostscript.iter().flat_map(|hs| &hs.script) {
            script_findings(&mut b, s, &r, &Location::Host, None)?;
        }
        asset.seen(at);
        b.assets.push(asset);
    }
    Ok(b.finish())
}

fn unix(s: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    DateTime::from_timestamp(s?.trim().parse().ok()?, 0)
}

fn script_findings(
    b: &mut ReportBuilder,
    s: &Script,
    r: &AssetRef,
    loc: &Location,
    service: Option<&str>,
) -> Result<(), ImportError> {
    if s.id == "vulners" {
        // <table key="cpe:/a:openbsd:openssh:7.4"><table><elem key="id">…
        for cpe_table in &s.table {
            let cpe = cpe_table.key.clone().unwrap_or_default();
            for v in &cpe_table.table {
                let Some(id) = v.elem("id").filter(|i| !i.is_empty()) else {
                    continue;
                };
                b.item()?;
                let cvss = score(v.elem("cvss"));
                let exploit = v.elem("is_exploit") == Some("true");
                let cve = (v.elem("type") == Some("cve"))
                    .then(|| normalise_cve(id))
                    .flatten();
                let source = FindingSource {
                    cvss_score: cvss,
                    evidence: Some(format!(
                        "{cpe} {id} cvss={} type={}",
                        v.elem("cvss").unwrap_or("?"),
                        v.elem("type").unwrap_or("?")
                    )),
                    service: service.map(str::to_string),
                    exploit_available: exploit,
                    ..FindingSource::new(
                        Scanner::Nmap,
                        &b.opts.source_name,
                        format!("vulners:{id}"),
                        id.to_string(),
                        cvss.map_or(Severity::Info, Severity::from_cvss),
                    )
                };
                b.push_per_cve(r, loc, cve.into_iter().collect(), source)?;
            }
        }
        return Ok(());
    }
    // The NSE vulns library writes one table per vulnerability with a
    // `state` element; only the (likely) vulnerable ones are findings.
    for t in &s.table {
        let Some(state) = t.elem("state") else {
            continue;
        };
        let st = state.to_ascii_uppercase();
        if !st.contains("VULNERABLE") || st.contains("NOT VULNERABLE") {
            continue;
        }
        b.item()?;
        let mut cves: Vec<String> = t
            .sub("ids")
            .map(|ids| {
                ids.elem
                    .iter()
                    .filter_map(|e| normalise_cve(&e.text))
                    .collect()
            })
            .unwrap_or_default();
        if cves.is_empty() {
            cves.extend(t.key.as_deref().and_then(normalise_cve));
        }
        let title = t.elem("title").unwrap_or(&s.id).to_string();
        let sev = if st.contains("LIKELY") {
            Severity::Medium
        } else {
            Severity::High
        };
        let source = FindingSource {
            evidence: Some(format!("{}: {state}", s.id)),
            service: service.map(str::to_string),
            ..FindingSource::new(
                Scanner::Nmap,
                &b.opts.source_name,
                s.id.clone(),
                title.clone(),
                sev,
            )
        };
        b.push_per_cve(r, loc, cves, source)?;
    }
    Ok(())
}
