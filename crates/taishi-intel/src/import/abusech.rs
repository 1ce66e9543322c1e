//! abuse.ch feeds: Feodo Tracker (CSV), URLhaus (CSV dump), ThreatFox and
//! MalwareBazaar (API JSON, JSON exports, NDJSON records).

use serde_json::{Map, Value};

use super::csv::{data_lines, split_record};
use super::{parse_time, Batch};
use crate::model::{Indicator, IndicatorType, Tlp};

/// `"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"`.
/// The C2's address is the indicator (any port: C2 servers move ports).
pub fn parse_feodo(entry: &str, source: &str, data: &[u8]) -> Batch {
    let mut b = Batch::default();
    let mut cols: Option<Vec<String>> = None;
    for (no, line) in data_lines(data) {
        let rec = split_record(line, b',');
        if cols.is_none() && rec.iter().any(|c| c == "dst_ip") {
            cols = Some(rec);
            continue;
        }
        let where_ = format!("{entry}:{no}");
        let names = cols.clone().unwrap_or_else(|| {
            [
                "first_seen_utc",
                "dst_ip",
                "dst_port",
                "c2_status",
                "last_online",
                "malware",
            ]
            .map(String::from)
            .to_vec()
        });
        let get = |n: &str| {
            names
                .iter()
                .position(|c| c == n)
                .and_then(|i| rec.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let Some(ip) = get("dst_ip") else {
            b.error(where_, "no dst_ip");
            continue;
        };
        match Indicator::parse(IndicatorType::Ip, ip, source) {
            Ok(mut ind) => {
                ind.tlp = Some(Tlp::Clear);
                ind.labels.push("botnet_cc".into());
                if let Some(s) = get("c2_status") {
                    ind.labels.push(format!("c2_status:{s}"));
                }
                if let Some(p) = get("dst_port") {
                    ind.labels.push(format!("port:{p}"));
                }
                if let Some(m) = get("malware") {
                    ind.malware.push(m.to_string());
                }
                ind.first_seen = get("first_seen_utc").and_then(parse_time);
                ind.last_seen = get("last_online").and_then(parse_time).or(ind.first_seen);
                b.indicators.push(ind);
            }
            Err(e) => b.error(where_, format!("dst_ip: {e}")),
        }
    }
    b
}

/// `id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter`.
pub fn parse_urlhaus(entry: &str, source: &str, data: &[u8]) -> Batch {
    let mut b = Batch::default();
    for (no, line) in data_lines(data) {
        let rec = split_record(line, b',');
        let where_ = format!("{entry}:{no}");
        if rec.first().map(String::as_str) == Some("id") {
            continue;
        }
        if rec.len() < 6 {
            b.error(
                where_,
                format!("{} columns, URLhaus rows have 9", rec.len()),
            );
            continue;
        }
        let url = rec[2].trim();
        match Indicator::parse(IndicatorType::Url, url, source) {
            Ok(mut ind) => {
                ind.id = Some(rec[0].trim().to_string()).filter(|s| !s.is_empty());
                ind.tlp = Some(Tlp::Clear);
                ind.first_seen = parse_time(&rec[1]);
                ind.last_seen = parse_time(&rec[4]).or(ind.first_seen);
                if !rec[5].trim().is_empty() {
                    ind.labels.push(rec[5].trim().to_string());
                }
                if !rec[3].trim().is_empty() {
                    ind.labels.push(format!("url_status:{}", rec[3].trim()));
                }
                if let Some(tags) = rec.get(6).filter(|t| t.as_str() != "None") {
                    for t in tags.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                        ind.labels.push(t.to_string());
                    }
                }
                if let Some(link) = rec.get(7).filter(|l| !l.is_empty()) {
                    ind.description = Some(link.clone());
                }
                b.indicators.push(ind);
            }
            Err(e) => b.error(where_, format!("url: {e}")),
        }
    }
    b
}

/// Records from an API response (`{"query_status":"ok","data":[…]}`), a
/// JSON export (`{"<id>": [{…}]}`), an array, or NDJSON.
fn records(entry: &str, data: &[u8], b: &mut Batch) -> Vec<(String, Map<String, Value>)> {
    let mut out = Vec::new();
    let text = String::from_utf8_lossy(data);
    let trimmed = text.trim_start();
    let whole: Option<Value> = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        serde_json::from_slice::<Value>(data).ok()
    } else {
        None
    };
    let mut push = |name: String, v: Value, b: &mut Batch| match v {
        Value::Object(m) => out.push((name, m)),
        _ => b.error(name, "record is not a JSON object"),
    };
    match whole {
        Some(Value::Object(mut m)) if m.contains_key("query_status") => {
            let status = m
                .get("query_status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match m.remove("data") {
                Some(Value::Array(xs)) => {
                    for (i, x) in xs.into_iter().enumerate() {
                        push(format!("{entry}: data[{i}]"), x, b);
                    }
                }
                _ if status == "no_result" => {}
                _ => b.error(
                    entry,
                    format!("API answered query_status {status:?} without data"),
                ),
            }
        }
        Some(Value::Object(m)) if m.values().all(Value::is_array) && !m.is_empty() => {
            for (k, v) in m {
                if let Value::Array(xs) = v {
                    for x in xs {
                        push(format!("{entry}: {k}"), x, b);
                    }
                }
            }
        }
        Some(Value::Object(m)) => out.push((entry.to_string(), m)),
        Some(Value::Array(xs)) => {
            for (i, x) in xs.into_iter().enumerate() {
                push(format!("{entry}[{i}]"), x, b);
            }
        }
        _ => {
            for (no, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let name = format!("{entry}:{}", no + 1);
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => push(name, v, b),
                    Err(e) => b.error(name, format!("not JSON: {e}")),
                }
            }
        }
    }
    out
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn tags(m: &Map<String, Value>) -> Vec<String> {
    match m.get("tags") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(t)) => t
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

pub fn parse_threatfox(entry: &str, source: &str, data: &[u8]) -> Batch {
    let mut b = Batch::default();
    for (name, m) in records(entry, data, &mut b) {
        let id = s(&m, "id")
            .map(str::to_string)
            .or_else(|| m.get("id").map(|v| v.to_string()));
        let where_ = match &id {
            Some(i) => format!("{name} (ThreatFox id {i})"),
            None => name.clone(),
        };
        let Some(ioc) = s(&m, "ioc").or_else(|| s(&m, "ioc_value")) else {
            b.error(where_, "no ioc");
            continue;
        };
        let kind = match s(&m, "ioc_type") {
            Some("ip:port") => Ok(IndicatorType::IpPort),
            Some("domain") => Ok(IndicatorType::Domain),
            Some("url") => Ok(IndicatorType::Url),
            Some("md5_hash") => Ok(IndicatorType::Md5),
            Some("sha1_hash") => Ok(IndicatorType::Sha1),
            Some("sha256_hash") => Ok(IndicatorType::Sha256),
            Some(other) => Err(format!("ioc_type {other:?} is not matched by Taishi")),
            None => {
                IndicatorType::guess(ioc).ok_or_else(|| format!("cannot tell the type of {ioc:?}"))
            }
        };
        let kind = match kind {
            Ok(k) => k,
            Err(e) => {
                b.error(where_, e);
                continue;
            }
        };
        match Indicator::parse(kind, ioc, source) {
            Ok(mut ind) => {
                ind.id = id;
                ind.tlp = Some(Tlp::Clear);
                if let Some(t) = s(&m, "threat_type") {
                    ind.labels.push(t.to_string());
                }
                ind.labels.extend(tags(&m));
                if let Some(mw) = s(&m, "malware_printable").or_else(|| s(&m, "malware")) {
                    ind.malware.push(mw.to_string());
                }
                if let Some(al) = s(&m, "malware_alias") {
                    ind.malware
                        .extend(al.split(',').map(|x| x.trim().to_string()));
                }
                ind.confidence = m
                    .get("confidence_level")
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .map(|c| c.min(100) as u8);
                ind.first_seen = s(&m, "first_seen")
                    .or_else(|| s(&m, "first_seen_utc"))
                    .and_then(parse_time);
                ind.last_seen = s(&m, "last_seen")
                    .or_else(|| s(&m, "last_seen_utc"))
                    .and_then(parse_time)
                    .or(ind.first_seen);
                ind.description = s(&m, "reference").map(str::to_string);
                b.indicators.push(ind);
            }
            Err(e) => b.error(where_, e),
        }
    }
    b
}

pub fn parse_malwarebazaar(entry: &str, source: &str, data: &[u8]) -> Batch {
    let mut b = Batch::default();
    for (name, m) in records(entry, data, &mut b) {
        let sha = s(&m, "sha256_hash");
        let where_ = match sha {
            Some(h) => format!("{name} (sample {h})"),
            None => name.clone(),
        };
        let mut any = false;
        for (k, kind) in [
            ("sha256_hash", IndicatorType::Sha256),
            ("sha1_hash", IndicatorType::Sha1),
            ("md5_hash", IndicatorType::Md5),
        ] {
            let Some(v) = s(&m, k) else { continue };
            match Indicator::parse(kind, v, source) {
                Ok(mut ind) => {
                    any = true;
                    ind.id = sha.map(str::to_string);
                    ind.tlp = Some(Tlp::Clear);
                    ind.name = s(&m, "file_name").map(str::to_string);
                    ind.labels = tags(&m);
                    if let Some(t) = s(&m, "file_type") {
                        ind.labels.push(format!("file_type:{t}"));
                    }
                    if let Some(sig) = s(&m, "signature") {
                        ind.malware.push(sig.to_string());
                    }
                    ind.first_seen = s(&m, "first_seen").and_then(parse_time);
                    ind.last_seen = s(&m, "last_seen").and_then(parse_time).or(ind.first_seen);
                    b.indicators.push(ind);
                }
                Err(e) => b.error(&where_, format!("{k}: {e}")),
            }
        }
        if !any && sha.is_none() {
            b.error(where_, "no sha256_hash, sha1_hash or md5_hash");
        }
    }
    b
}
