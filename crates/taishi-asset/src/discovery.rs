//! Discovery: hosts seen in what Taishi receives (EVTX `Computer`, syslog
//! hosts, Zeek `known_hosts`/`software`, DHCP, DNS, flow endpoints) that the
//! register does not know: "unknown asset" candidates (shadow IT).
//!
//! An address counts only inside the configured internal ranges: a flow's
//! external peer is not the operator's asset. A sighting is known when its
//! address, or its name (short or fully qualified, compared on the first
//! label too, since `Computer` is often `web01.corp.local` where the
//! inventory says `web01`), is registered in the organisation.

use crate::lang::Lang;
use crate::model::{Identity, OrgId};
use crate::register::Register;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

/// One sighting of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    pub ip: Option<IpAddr>,
    pub hostname: Option<String>,
    /// What saw it: `evtx Computer`, `zeek known_hosts`, `dhcp`, `flow` …
    pub source: String,
    pub at: DateTime<Utc>,
}

/// A host seen but never registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownAsset {
    pub ip: Option<IpAddr>,
    pub hostnames: BTreeSet<String>,
    pub sources: BTreeSet<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub sightings: u64,
}

impl UnknownAsset {
    /// Why it is flagged.
    pub fn reason(&self, lang: Lang) -> String {
        let what = match (&self.ip, self.hostnames.iter().next()) {
            (Some(ip), Some(h)) => format!("{ip} ({h})"),
            (Some(ip), None) => ip.to_string(),
            (None, Some(h)) => h.clone(),
            (None, None) => String::new(),
        };
        let srcs = self.sources.iter().cloned().collect::<Vec<_>>().join(", ");
        match lang {
            Lang::Zh => format!(
                "{what} 在流量/日志中出现 {} 次（来源：{srcs}），但未登记在资产台账中",
                self.sightings
            ),
            Lang::En => format!(
                "{what} was seen {} times in traffic or logs ({srcs}) but is not in the asset register",
                self.sightings
            ),
        }
    }
}

/// Bounds on a discovery run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryLimits {
    /// Candidates returned at most (the most-sighted first).
    pub max_candidates: usize,
    /// Distinct host names kept per candidate.
    pub max_names: usize,
}

impl Default for DiscoveryLimits {
    fn default() -> Self {
        DiscoveryLimits {
            max_candidates: 10_000,
            max_names: 8,
        }
    }
}

/// The unknown-asset candidates among the sightings, most sighted first.
pub fn discover(
    sightings: impl IntoIterator<Item = Sighting>,
    register: &Register,
    org: &OrgId,
    internal: &[IpNet],
    limits: DiscoveryLimits,
) -> Vec<UnknownAsset> {
    // What the organisation has registered, as sets for O(1) look-ups.
    let mut ips: HashSet<IpAddr> = HashSet::new();
    let mut names: HashSet<String> = HashSet::new();
    for a in register.assets().filter(|a| &a.org == org) {
        for f in &a.identities {
            match &f.value {
                Identity::Ip(ip) => {
                    ips.insert(*ip);
                }
                Identity::Hostname(h) | Identity::Fqdn(h) => {
                    names.insert(h.clone());
                    names.insert(first_label(h).to_string());
                }
                Identity::Mac(_) => {}
            }
        }
    }
    let known_name = |h: &str| names.contains(h) || names.contains(first_label(h));
    let mut out: BTreeMap<String, UnknownAsset> = BTreeMap::new();
    for s in sightings {
        let ip = s.ip.filter(|ip| internal.iter().any(|n| n.contains(ip)));
        let name = s
            .hostname
            .as_deref()
            .map(|h| h.trim().trim_end_matches('.').to_lowercase())
            .filter(|h| !h.is_empty() && h.parse::<IpAddr>().is_err() && h != "-");
        if s.ip.is_some() && ip.is_none() {
            // An external address: not ours, whatever name it carries.
            continue;
        }
        let ip_known = ip.is_some_and(|i| ips.contains(&i));
        let name_known = name.as_deref().is_some_and(known_name);
        if ip_known || name_known || (ip.is_none() && name.is_none()) {
            continue;
        }
        let key = match (ip, &name) {
            (Some(ip), _) => format!("ip:{ip}"),
            (None, Some(n)) => format!("name:{}", first_label(n)),
            (None, None) => continue,
        };
        if !out.contains_key(&key) && out.len() >= limits.max_candidates.saturating_mul(4) {
            // Memory bound while streaming; the most-sighted are kept below.
            continue;
        }
        let c = out.entry(key).or_insert_with(|| UnknownAsset {
            ip,
            hostnames: BTreeSet::new(),
            sources: BTreeSet::new(),
            first_seen: s.at,
            last_seen: s.at,
            sightings: 0,
        });
        if let Some(n) = name {
            if c.hostnames.len() < limits.max_names {
                c.hostnames.insert(n);
            }
        }
        if c.sources.len() < 32 {
            c.sources.insert(s.source);
        }
        c.first_seen = c.first_seen.min(s.at);
        c.last_seen = c.last_seen.max(s.at);
        c.sightings += 1;
    }
    let mut v: Vec<UnknownAsset> = out.into_values().collect();
    v.sort_by(|a, b| b.sightings.cmp(&a.sightings).then(a.ip.cmp(&b.ip)));
    v.truncate(limits.max_candidates);
    v
}

fn first_label(h: &str) -> &str {
    h.split('.').next().unwrap_or(h)
}
