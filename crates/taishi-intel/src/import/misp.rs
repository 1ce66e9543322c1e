//! MISP: events (feed files, exports, REST results) and feeds
//! (`manifest.json` plus one `<uuid>.json` per event).
//!
//! Attributes flagged `to_ids` become indicators; others (`text`, `link`,
//! `comment`, or any attribute not meant for detection) are counted as
//! ignored. Event and attribute tags give the TLP, galaxy clusters give the
//! malware family and ATT&CK techniques, `osint:certainty` the confidence.

use crate::model::DataError;
use std::path::Path;

use serde_json::{Map, Value};

use super::{parse_time, Batch};
use crate::model::{Indicator, IndicatorType, Tlp};

pub fn parse_event(entry: &str, source: &str, data: &[u8]) -> Batch {
    let mut b = Batch::default();
    let root: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => {
            b.error(entry, format!("not JSON: {e}"));
            return b;
        }
    };
    parse_value(entry, source, &root, &mut b);
    b
}

/// Any of: `{"Event": …}`, a bare event, `{"response": [{"Event": …}]}`,
/// `{"response": {"Attribute": […]}}`, or an array of those.
pub fn parse_value(entry: &str, source: &str, root: &Value, b: &mut Batch) {
    match root {
        Value::Array(xs) => {
            for (i, x) in xs.iter().enumerate() {
                parse_value(&format!("{entry}[{i}]"), source, x, b);
            }
        }
        Value::Object(m) => {
            if let Some(r) = m.get("response") {
                parse_value(entry, source, r, b);
            } else if let Some(Value::Object(ev)) = m.get("Event") {
                event(entry, source, ev, b);
            } else if m.contains_key("Attribute") || m.contains_key("Object") {
                event(entry, source, m, b);
            } else {
                b.error(entry, "not a MISP event: no Event, Attribute or Object");
            }
        }
        _ => b.error(entry, "not a MISP event"),
    }
}

#[derive(Default, Clone)]
struct Ctx {
    tlp: Option<Tlp>,
    labels: Vec<String>,
    malware: Vec<String>,
    attack: Vec<String>,
    confidence: Option<u8>,
}

fn tags(m: &Map<String, Value>, ctx: &mut Ctx) {
    let Some(Value::Array(tags)) = m.get("Tag") else {
        return;
    };
    for t in tags {
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            continue;
        };
        tag(name, ctx);
    }
}

fn tag(name: &str, ctx: &mut Ctx) {
    if let Some(t) = Tlp::parse(name) {
        ctx.tlp = Some(ctx.tlp.map_or(t, |o| o.max(t)));
        return;
    }
    let value = name
        .split_once('=')
        .map(|(_, v)| v.trim_matches('"').to_string());
    if name.starts_with("misp-galaxy:mitre-attack-pattern=")
        || name.starts_with("misp-galaxy:mitre-enterprise-attack-attack-pattern=")
    {
        // "Spearphishing Attachment - T1193"
        if let Some(id) = value.as_deref().and_then(|v| v.rsplit(" - ").next()) {
            if id.starts_with('T') {
                push(&mut ctx.attack, id);
                return;
            }
        }
    }
    if name.starts_with("misp-galaxy:mitre-malware=")
        || name.starts_with("misp-galaxy:malpedia=")
        || name.starts_with("misp-galaxy:ransomware=")
        || name.starts_with("misp-galaxy:tool=")
        || name.starts_with("misp-galaxy:mitre-tool=")
        || name.starts_with("misp-galaxy:banker=")
        || name.starts_with("misp-galaxy:rat=")
    {
        if let Some(v) = &value {
            let v = v.split(" - ").next().unwrap_or(v);
            push(&mut ctx.malware, v);
            return;
        }
    }
    if name.starts_with("osint:certainty=") {
        if let Some(c) = value.as_deref().and_then(|v| v.parse::<u8>().ok()) {
            ctx.confidence = Some(c.min(100));
            return;
        }
    }
    push(&mut ctx.labels, name);
}

fn push(v: &mut Vec<String>, x: &str) {
    if !v.iter().any(|y| y == x) {
        v.push(x.to_string());
    }
}

fn event(entry: &str, source: &str, ev: &Map<String, Value>, b: &mut Batch) {
    let mut ctx = Ctx::default();
    tags(ev, &mut ctx);
    if let Some(Value::Array(gal)) = ev.get("Galaxy") {
        for g in gal {
            let gtype = g.get("type").and_then(Value::as_str).unwrap_or("");
            for c in g
                .get("GalaxyCluster")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let v = c.get("value").and_then(Value::as_str).unwrap_or("");
                if gtype.contains("attack-pattern") {
                    if let Some(id) = v.rsplit(" - ").next().filter(|i| i.starts_with('T')) {
                        push(&mut ctx.attack, id);
                    }
                } else if gtype.contains("malware") || gtype == "malpedia" || gtype == "tool" {
                    push(&mut ctx.malware, v.split(" - ").next().unwrap_or(v));
                } else if !v.is_empty() {
                    push(&mut ctx.labels, &format!("{gtype}:{v}"));
                }
            }
        }
    }
    let info = ev.get("info").and_then(Value::as_str).map(str::to_string);
    let org = ev
        .get("Orgc")
        .and_then(|o| o.get("name"))
        .and_then(Value::as_str);
    let ev_uuid = ev.get("uuid").and_then(Value::as_str).unwrap_or("");
    let ev_name = if ev_uuid.is_empty() {
        entry.to_string()
    } else {
        format!("{entry}: event {ev_uuid}")
    };
    let mut attrs: Vec<(&Map<String, Value>, Option<&str>)> = Vec::new();
    for a in ev
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(a) = a.as_object() {
            attrs.push((a, None));
        }
    }
    for o in ev
        .get("Object")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let oname = o.get("name").and_then(Value::as_str);
        for a in o
            .get("Attribute")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(a) = a.as_object() {
                attrs.push((a, oname));
            }
        }
    }
    for (a, obj) in attrs {
        let atype = a.get("type").and_then(Value::as_str).unwrap_or("");
        let uuid = a.get("uuid").and_then(Value::as_str).unwrap_or("");
        let where_ = format!("{ev_name}: attribute {uuid} ({atype})");
        if a.get("deleted").and_then(Value::as_bool) == Some(true) {
            b.ignore("deleted");
            continue;
        }
        let to_ids = match a.get("to_ids") {
            Some(Value::Bool(x)) => *x,
            Some(Value::String(s)) => s == "1" || s == "true",
            Some(Value::Number(n)) => n.as_u64() == Some(1),
            _ => true,
        };
        if !to_ids {
            b.ignore(&format!("{atype} (not to_ids)"));
            continue;
        }
        let Some(value) = a.get("value").and_then(Value::as_str) else {
            b.error(where_, "attribute without a value");
            continue;
        };
        let parts = match split_attribute(atype, value) {
            Some(p) => p,
            None => {
                b.ignore(atype);
                continue;
            }
        };
        let mut actx = ctx.clone();
        tags(a, &mut actx);
        for (kind, raw) in parts {
            let norm = if kind == IndicatorType::Ip && raw.contains('/') {
                IndicatorType::Cidr
                    .normalise(raw)
                    .map(|v| (IndicatorType::Cidr, v))
            } else {
                kind.normalise(raw).map(|v| (kind, v))
            };
            match norm {
                Ok((kind, v)) => {
                    let mut ind = Indicator::new(kind, v, source);
                    ind.id = Some(uuid.to_string()).filter(|s| !s.is_empty());
                    ind.name = info.clone();
                    ind.description = a
                        .get("comment")
                        .and_then(Value::as_str)
                        .filter(|c| !c.is_empty())
                        .map(str::to_string);
                    ind.tlp = actx.tlp;
                    ind.confidence = actx.confidence;
                    ind.labels = actx.labels.clone();
                    if let Some(o) = org {
                        push(&mut ind.labels, &format!("org:{o}"));
                    }
                    if let Some(o) = obj {
                        push(&mut ind.labels, &format!("misp-object:{o}"));
                    }
                    if let Some(cat) = a.get("category").and_then(Value::as_str) {
                        push(&mut ind.labels, &format!("misp-category:{cat}"));
                    }
                    ind.malware = actx.malware.clone();
                    ind.attack = actx.attack.clone();
                    let ts = |k: &str| match a.get(k) {
                        Some(Value::String(s)) => parse_time(s),
                        Some(Value::Number(n)) => n
                            .as_i64()
                            .and_then(|n| chrono::DateTime::from_timestamp(n, 0)),
                        _ => None,
                    };
                    ind.first_seen = ts("first_seen").or_else(|| ts("timestamp"));
                    ind.last_seen = ts("last_seen").or_else(|| ts("timestamp"));
                    b.indicators.push(ind);
                }
                Err(e) => b.error(&where_, e),
            }
        }
    }
}

/// The indicator values in a MISP attribute, or None for types that are
/// not indicators Taishi matches on.
fn split_attribute<'a>(atype: &str, value: &'a str) -> Option<Vec<(IndicatorType, &'a str)>> {
    use IndicatorType::*;
    let pipe = || value.split_once('|');
    Some(match atype {
        "ip-src" | "ip-dst" => vec![(Ip, value)],
        "domain" | "hostname" => vec![(Domain, value)],
        "url" => vec![(Url, value)],
        "md5" => vec![(Md5, value)],
        "sha1" => vec![(Sha1, value)],
        "sha256" => vec![(Sha256, value)],
        "email" | "email-src" | "email-dst" | "email-reply-to" => vec![(Email, value)],
        "ja3-fingerprint-md5" => vec![(Ja3, value)],
        "filename|md5" => vec![(Md5, pipe()?.1)],
        "filename|sha1" => vec![(Sha1, pipe()?.1)],
        "filename|sha256" => vec![(Sha256, pipe()?.1)],
        "domain|ip" => {
            let (d, ip) = pipe()?;
            vec![(Domain, d), (Ip, ip)]
        }
        "hostname|port" => vec![(Domain, pipe()?.0)],
        // `ip|port`: the ip-port normaliser reads `|` as well as `:`.
        "ip-src|port" | "ip-dst|port" => vec![(IpPort, value)],
        _ => return None,
    })
}

/// A MISP feed from a folder: `manifest.json` lists the events, each in
/// `<uuid>.json` beside it.
pub fn read_feed_dir(dir: &Path, source: &str) -> Batch {
    let mut b = Batch::default();
    let manifest_path = dir.join("manifest.json");
    let manifest = match std::fs::read(&manifest_path) {
        Ok(d) => d,
        Err(e) => {
            b.error(manifest_path.display().to_string(), e.to_string());
            return b;
        }
    };
    let uuids = match manifest_uuids(&manifest) {
        Ok(u) => u,
        Err(e) => {
            b.error(manifest_path.display().to_string(), e);
            return b;
        }
    };
    for uuid in uuids {
        let p = dir.join(format!("{uuid}.json"));
        let name = p.display().to_string();
        match std::fs::read(&p) {
            Ok(d) => b.extend(parse_event(&name, source, &d)),
            Err(e) => b.error(name, format!("event listed in manifest.json: {e}")),
        }
    }
    b
}

/// Event UUIDs of a feed manifest (`{uuid: {info, Orgc, …}}`).
pub fn manifest_uuids(data: &[u8]) -> Result<Vec<String>, DataError> {
    let m: Map<String, Value> =
        serde_json::from_slice(data).map_err(|e| format!("not a MISP feed manifest: {e}"))?;
    let mut out = Vec::new();
    for (k, _) in m {
        if k.len() == 36 && k.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-') {
            out.push(k);
        } else {
            return Err(format!("manifest key {k:?} is not an event UUID").into());
        }
    }
    Ok(out)
}
