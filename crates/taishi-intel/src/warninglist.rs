//! MISP warninglists: known-benign values (private ranges, public
//! resolvers, popular domains) that must not raise intelligence matches.
//!
//! Lists are applied when the matcher is built: an indicator whose value a
//! list covers is kept in the store (and listed with the list's name) but
//! never matched, so suppression costs nothing per event.

use crate::model::DataError;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;

use crate::model::{parse_ip_port, Indicator, IndicatorType};
use crate::url::url_host;

#[derive(Debug, Clone)]
pub struct Warninglist {
    pub name: String,
    pub kind: ListKind,
    /// Indicator types the list applies to (from `matching_attributes`).
    pub types: Vec<IndicatorType>,
    entries: Entries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Cidr,
    String,
    Substring,
    Hostname,
    Regex,
}

#[derive(Debug, Clone)]
enum Entries {
    Nets(Vec<IpNet>),
    Strings(foldhash::HashSet<String>),
    Substrings(Vec<String>),
    Regex(regex::RegexSet),
}

#[derive(Deserialize)]
struct ListFile {
    name: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    list: Vec<String>,
    #[serde(default)]
    matching_attributes: Vec<String>,
}

impl Warninglist {
    /// A MISP `list.json`. Entries that do not fit the list's type are
    /// returned as errors (the rest of the list is used).
    pub fn from_json(data: &[u8]) -> Result<(Warninglist, Vec<String>), DataError> {
        let f: ListFile =
            serde_json::from_slice(data).map_err(|e| format!("not a MISP warninglist: {e}"))?;
        let kind = match f.kind.as_deref().unwrap_or("string") {
            "cidr" => ListKind::Cidr,
            "string" => ListKind::String,
            "substring" => ListKind::Substring,
            "hostname" => ListKind::Hostname,
            "regex" => ListKind::Regex,
            other => return Err(format!("warninglist {}: unknown type {other:?}", f.name).into()),
        };
        let mut types = Vec::new();
        for a in &f.matching_attributes {
            for t in misp_attribute_types(a) {
                if !types.contains(t) {
                    types.push(*t);
                }
            }
        }
        if types.is_empty() {
            types = IndicatorType::ALL.to_vec();
        }
        let mut errors = Vec::new();
        let entries = match kind {
            ListKind::Cidr => {
                let mut nets = Vec::new();
                for e in &f.list {
                    match e
                        .parse::<IpNet>()
                        .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    {
                        Ok(n) => nets.push(n.trunc()),
                        Err(_) => errors.push(format!("{}: {e:?} is not a network", f.name)),
                    }
                }
                Entries::Nets(nets)
            }
            ListKind::String | ListKind::Hostname => Entries::Strings(
                f.list
                    .iter()
                    .map(|s| s.trim().trim_end_matches('.').to_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
            ListKind::Substring => {
                Entries::Substrings(f.list.iter().map(|s| s.to_lowercase()).collect())
            }
            ListKind::Regex => {
                let mut ok = Vec::new();
                for e in &f.list {
                    match regex::Regex::new(e) {
                        Ok(_) => ok.push(e.clone()),
                        Err(err) => errors.push(format!("{}: {e:?}: {err}", f.name)),
                    }
                }
                Entries::Regex(regex::RegexSet::new(ok).map_err(|e| e.to_string())?)
            }
        };
        Ok((
            Warninglist {
                name: f.name,
                kind,
                types,
                entries,
            },
            errors,
        ))
    }

    /// A list built in code.
    pub fn new(name: &str, kind: ListKind, types: &[IndicatorType], list: &[&str]) -> Warninglist {
        let json = serde_json::json!({
            "name": name,
            "type": match kind {
                ListKind::Cidr => "cidr",
                ListKind::String => "string",
                ListKind::Substring => "substring",
                ListKind::Hostname => "hostname",
                ListKind::Regex => "regex",
            },
            "list": list,
        });
        let mut w = match Warninglist::from_json(json.to_string().as_bytes()) {
            Ok((w, _)) => w,
            Err(_) => Warninglist {
                name: name.into(),
                kind,
                types: Vec::new(),
                entries: Entries::Substrings(Vec::new()),
            },
        };
        w.types = types.to_vec();
        w
    }

    pub fn len(&self) -> usize {
        match &self.entries {
            Entries::Nets(n) => n.len(),
            Entries::Strings(s) => s.len(),
            Entries::Substrings(s) => s.len(),
            Entries::Regex(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this list covers the indicator.
    pub fn covers(&self, ind: &Indicator) -> bool {
        if !self.types.contains(&ind.kind) {
            return false;
        }
        let v = ind.value.as_str();
        match &self.entries {
            Entries::Nets(nets) => {
                let net: Option<IpNet> = match ind.kind {
                    IndicatorType::Ip | IndicatorType::Cidr => v
                        .parse::<IpNet>()
                        .ok()
                        .or_else(|| v.parse::<IpAddr>().ok().map(IpNet::from)),
                    IndicatorType::IpPort => parse_ip_port(v).map(|(ip, _)| IpNet::from(ip)),
                    IndicatorType::Url => url_host(v)
                        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
                        .and_then(|h| h.parse::<IpAddr>().ok())
                        .map(IpNet::from),
                    _ => None,
                };
                net.is_some_and(|n| nets.iter().any(|l| l.contains(&n)))
            }
            Entries::Strings(set) => match self.kind {
                ListKind::Hostname => host_of(ind).is_some_and(|h| {
                    let mut rest = h;
                    loop {
                        if set.contains(rest) {
                            return true;
                        }
                        match rest.split_once('.') {
                            Some((_, r)) => rest = r,
                            None => return false,
                        }
                    }
                }),
                _ => set.contains(v) || host_of(ind).is_some_and(|h| set.contains(h)),
            },
            Entries::Substrings(subs) => subs.iter().any(|s| v.contains(s.as_str())),
            Entries::Regex(set) => set.is_match(v),
        }
    }
}

/// The host name an indicator is about, for hostname lists.
fn host_of(ind: &Indicator) -> Option<&str> {
    match ind.kind {
        IndicatorType::Domain => Some(&ind.value),
        IndicatorType::Url => url_host(&ind.value),
        IndicatorType::Email => ind.value.split_once('@').map(|(_, d)| d),
        _ => None,
    }
}

/// Our indicator types for a MISP attribute type named in
/// `matching_attributes`.
pub fn misp_attribute_types(t: &str) -> &'static [IndicatorType] {
    use IndicatorType::*;
    match t {
        "ip-src" | "ip-dst" => &[Ip, Cidr],
        "ip-src|port" | "ip-dst|port" => &[IpPort],
        "domain|ip" => &[Domain, Ip, Cidr],
        "domain" | "hostname" | "hostname|port" => &[Domain],
        "url" | "uri" | "link" => &[Url],
        "email" | "email-src" | "email-dst" | "email-reply-to" => &[Email],
        "md5" | "filename|md5" => &[Md5],
        "sha1" | "filename|sha1" => &[Sha1],
        "sha256" | "filename|sha256" => &[Sha256],
        "ja3-fingerprint-md5" => &[Ja3],
        _ => &[],
    }
}

/// The set of lists a matcher applies.
#[derive(Debug, Clone, Default)]
pub struct Warninglists {
    pub lists: Vec<Warninglist>,
}

impl Warninglists {
    /// Taishi's own small defaults: RFC 1918 and other special-use ranges,
    /// the big public DNS resolvers, and domains so common that an indicator
    /// on them is a feed error. Import MISP's lists for fuller coverage.
    pub fn builtin() -> Warninglists {
        use IndicatorType::*;
        let ip = [Ip, Cidr, IpPort, Url];
        Warninglists {
            lists: vec![
                Warninglist::new(
                    "taishi: RFC 1918, loopback, link-local and other special-use ranges",
                    ListKind::Cidr,
                    &ip,
                    &[
                        "0.0.0.0/8",
                        "10.0.0.0/8",
                        "100.64.0.0/10",
                        "127.0.0.0/8",
                        "169.254.0.0/16",
                        "172.16.0.0/12",
                        "192.0.2.0/24",
                        "192.168.0.0/16",
                        "198.18.0.0/15",
                        "224.0.0.0/4",
                        "255.255.255.255/32",
                        "::1/128",
                        "fc00::/7",
                        "fe80::/10",
                        "ff00::/8",
                    ],
                ),
                Warninglist::new(
                    "taishi: public DNS resolvers",
                    ListKind::Cidr,
                    &ip,
                    &[
                        "8.8.8.8",
                        "8.8.4.4",
                        "1.1.1.1",
                        "1.0.0.1",
                        "9.9.9.9",
                        "149.112.112.112",
                        "208.67.222.222",
                        "208.67.220.220",
                        "114.114.114.114",
                        "114.114.115.115",
                        "223.5.5.5",
                        "223.6.6.6",
                        "119.29.29.29",
                        "180.76.76.76",
                        "2001:4860:4860::8888",
                        "2001:4860:4860::8844",
                        "2606:4700:4700::1111",
                        "2606:4700:4700::1001",
                    ],
                ),
                Warninglist::new(
                    "taishi: popular domains",
                    ListKind::String,
                    &[Domain],
                    &[
                        "google.com",
                        "www.google.com",
                        "microsoft.com",
                        "windowsupdate.com",
                        "apple.com",
                        "icloud.com",
                        "amazon.com",
                        "amazonaws.com",
                        "cloudflare.com",
                        "akamai.net",
                        "akamaiedge.net",
                        "facebook.com",
                        "github.com",
                        "githubusercontent.com",
                        "live.com",
                        "office.com",
                        "office365.com",
                        "outlook.com",
                        "bing.com",
                        "yahoo.com",
                        "baidu.com",
                        "qq.com",
                        "taobao.com",
                        "aliyun.com",
                        "alipay.com",
                        "weixin.qq.com",
                        "wikipedia.org",
                        "youtube.com",
                        "twitter.com",
                        "linkedin.com",
                        "gstatic.com",
                        "googleapis.com",
                        "msftncsi.com",
                        "digicert.com",
                        "verisign.com",
                        "localhost",
                    ],
                ),
            ],
        }
    }

    /// Every `*.json` list in a folder (or one file).
    pub fn load(path: &Path) -> Result<(Warninglists, Vec<String>), DataError> {
        let mut out = Warninglists::default();
        let mut errors = Vec::new();
        let files: Vec<_> = if path.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            v.sort();
            v
        } else {
            vec![path.to_path_buf()]
        };
        for f in files {
            let data = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            match Warninglist::from_json(&data) {
                Ok((w, errs)) => {
                    errors.extend(errs.into_iter().map(|e| format!("{}: {e}", f.display())));
                    out.lists.push(w);
                }
                Err(e) => errors.push(format!("{}: {e}", f.display())),
            }
        }
        Ok((out, errors))
    }

    /// The name of the first list covering the indicator.
    pub fn check(&self, ind: &Indicator) -> Option<&str> {
        self.lists
            .iter()
            .find(|l| l.covers(ind))
            .map(|l| l.name.as_str())
    }
}
