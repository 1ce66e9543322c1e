//! STIX 2.1 bundles: `indicator` objects with `pattern_type: stix`, their
//! context from the bundle (malware families and ATT&CK techniques they
//! `indicate`, TLP markings, labels, confidence, validity).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{parse_time, Batch};
use crate::fields::{path_fields, path_type};
use crate::model::{Condition, Indicator, IndicatorType, Tlp};
use crate::pattern::{self, cond_op, Comparison, Literal, Op};

/// TLP 1.0 marking-definition ids fixed by the STIX 2.1 specification.
fn tlp_by_id(id: &str) -> Option<Tlp> {
    Some(match id {
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Tlp::Clear,
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Tlp::Green,
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Tlp::Amber,
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Tlp::Red,
        // TLP 2.0 (the OASIS TLP 2.0 extension's markings).
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487" => Tlp::Clear,
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb" => Tlp::Green,
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421" => Tlp::Amber,
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" => Tlp::AmberStrict,
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1" => Tlp::Red,
        _ => return None,
    })
}

pub fn parse_bundle(entry: &str, source: &str, data: &[u8]) -> Batch {
    let mut b = Batch::default();
    let root: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => {
            b.error(entry, format!("not JSON: {e}"));
            return b;
        }
    };
    let objects = match &root {
        Value::Object(m) => match m.get("objects") {
            Some(Value::Array(a)) => a.as_slice(),
            _ if m.get("type").and_then(Value::as_str) == Some("indicator") => {
                std::slice::from_ref(&root)
            }
            _ => {
                b.error(entry, "not a STIX bundle: no \"objects\" array");
                return b;
            }
        },
        Value::Array(a) => a.as_slice(),
        _ => {
            b.error(entry, "not a STIX bundle");
            return b;
        }
    };
    parse_objects(entry, source, objects, &mut b);
    b
}

/// Indicators from a list of STIX objects (a bundle's, or a TAXII page's).
pub fn parse_objects(entry: &str, source: &str, objects: &[Value], b: &mut Batch) {
    let mut malware: HashMap<&str, String> = HashMap::new();
    let mut attack: HashMap<&str, Vec<String>> = HashMap::new();
    let mut other_names: HashMap<&str, String> = HashMap::new();
    let mut markings: HashMap<&str, Tlp> = HashMap::new();
    let mut indicates: HashMap<&str, Vec<&str>> = HashMap::new();
    for o in objects {
        let Some(m) = o.as_object() else { continue };
        let id = m.get("id").and_then(Value::as_str).unwrap_or("");
        match m.get("type").and_then(Value::as_str).unwrap_or("") {
            "malware" => {
                if let Some(n) = m.get("name").and_then(Value::as_str) {
                    malware.insert(id, n.to_string());
                }
            }
            "attack-pattern" => {
                let ids = mitre_ids(m);
                if !ids.is_empty() {
                    attack.insert(id, ids);
                }
            }
            "intrusion-set" | "threat-actor" | "campaign" | "tool" | "infrastructure" => {
                if let Some(n) = m.get("name").and_then(Value::as_str) {
                    let t = m.get("type").and_then(Value::as_str).unwrap_or("");
                    other_names.insert(id, format!("{t}:{n}"));
                }
            }
            "marking-definition" => {
                let tlp = tlp_by_id(id)
                    .or_else(|| {
                        m.get("definition")
                            .and_then(|d| d.get("tlp"))
                            .and_then(Value::as_str)
                            .and_then(Tlp::parse)
                    })
                    .or_else(|| m.get("name").and_then(Value::as_str).and_then(Tlp::parse));
                if let Some(t) = tlp {
                    markings.insert(id, t);
                }
            }
            "relationship"
                if m.get("relationship_type").and_then(Value::as_str) == Some("indicates") =>
            {
                if let (Some(s), Some(t)) = (
                    m.get("source_ref").and_then(Value::as_str),
                    m.get("target_ref").and_then(Value::as_str),
                ) {
                    indicates.entry(s).or_default().push(t);
                }
            }
            _ => {}
        }
    }
    for (i, o) in objects.iter().enumerate() {
        let Some(m) = o.as_object() else {
            b.error(format!("{entry}: objects[{i}]"), "not a JSON object");
            continue;
        };
        if m.get("type").and_then(Value::as_str) != Some("indicator") {
            continue;
        }
        let id = m.get("id").and_then(Value::as_str).unwrap_or("");
        let where_ = format!("{entry}: {id} (objects[{i}])");
        if m.get("revoked").and_then(Value::as_bool) == Some(true) {
            b.revoked.push(id.to_string());
            continue;
        }
        let ptype = m
            .get("pattern_type")
            .and_then(Value::as_str)
            .unwrap_or("stix");
        if ptype != "stix" {
            b.error(
                where_,
                format!("pattern_type {ptype:?} is not evaluated by Taishi"),
            );
            continue;
        }
        let Some(pat) = m.get("pattern").and_then(Value::as_str) else {
            b.error(where_, "indicator without a pattern");
            continue;
        };
        let mut base = Indicator::new(IndicatorType::Pattern, String::new(), source);
        base.id = Some(id.to_string()).filter(|s| !s.is_empty());
        base.name = m.get("name").and_then(Value::as_str).map(str::to_string);
        base.description = m
            .get("description")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        base.confidence = m
            .get("confidence")
            .and_then(Value::as_u64)
            .map(|c| c.min(100) as u8);
        for key in ["labels", "indicator_types"] {
            if let Some(Value::Array(ls)) = m.get(key) {
                for l in ls.iter().filter_map(Value::as_str) {
                    if !base.labels.iter().any(|x| x == l) {
                        base.labels.push(l.to_string());
                    }
                }
            }
        }
        base.attack = mitre_ids(m);
        if let Some(Value::Array(ph)) = m.get("kill_chain_phases") {
            for p in ph {
                if let Some(n) = p.get("phase_name").and_then(Value::as_str) {
                    let l = format!("kill-chain:{n}");
                    if !base.labels.contains(&l) {
                        base.labels.push(l);
                    }
                }
            }
        }
        if let Some(Value::Array(refs)) = m.get("object_marking_refs") {
            base.tlp = refs
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|r| markings.get(r).copied().or_else(|| tlp_by_id(r)))
                .max();
        }
        for t in indicates.get(id).into_iter().flatten() {
            if let Some(n) = malware.get(t) {
                base.malware.push(n.clone());
            } else if let Some(a) = attack.get(t) {
                base.attack.extend(a.iter().cloned());
            } else if let Some(n) = other_names.get(t) {
                base.labels.push(n.clone());
            }
        }
        let time = |k: &str| m.get(k).and_then(Value::as_str).and_then(parse_time);
        base.valid_from = time("valid_from");
        base.valid_until = time("valid_until");
        base.first_seen = time("created");
        base.last_seen = time("modified").or(base.first_seen);
        compile_pattern(&where_, pat, &base, b);
    }
}

fn mitre_ids(m: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Array(refs)) = m.get("external_references") {
        for r in refs {
            let src = r.get("source_name").and_then(Value::as_str).unwrap_or("");
            if src.starts_with("mitre-") {
                if let Some(x) = r.get("external_id").and_then(Value::as_str) {
                    out.push(x.to_string());
                }
            }
        }
    }
    out
}

/// Turns a pattern into indicators: each conjunction is anchored on its
/// most selective indexable equality; the other comparisons become
/// conditions. Conjunctions with no such comparison become `Pattern`
/// indicators. Anything Taishi cannot evaluate is an error for this entry.
pub fn compile_pattern(where_: &str, pat: &str, base: &Indicator, b: &mut Batch) {
    let conjunctions = match pattern::parse(pat) {
        Ok(c) => c,
        Err(e) => {
            b.error(where_, format!("{e}: {pat}"));
            return;
        }
    };
    'conj: for conj in conjunctions {
        for c in &conj {
            if cond_op(c.op).is_none() {
                b.error(
                    where_,
                    format!("{} is not evaluated by Taishi: {c}", c.op.as_str()),
                );
                continue 'conj;
            }
            if path_fields(&c.path).is_none() {
                b.error(
                    where_,
                    format!("object path {} has no Taishi event field: {c}", c.path),
                );
                continue 'conj;
            }
        }
        let anchor = conj
            .iter()
            .enumerate()
            .filter_map(|(i, c)| anchor_type(c).map(|t| (i, t)))
            .min_by_key(|(_, t)| rank(*t));
        let residual: Vec<Condition> = conj
            .iter()
            .enumerate()
            .filter(|(i, _)| anchor.map(|a| a.0) != Some(*i))
            .map(|(_, c)| to_condition(c))
            .collect();
        match anchor {
            Some((i, kind)) => {
                for lit in &conj[i].values {
                    let raw = lit.text();
                    let kind = if kind == IndicatorType::Ip && raw.contains('/') {
                        IndicatorType::Cidr
                    } else {
                        kind
                    };
                    match kind.normalise(&raw) {
                        Ok(v) => {
                            let mut ind = base.clone();
                            ind.kind = kind;
                            ind.value = v;
                            ind.conditions = residual.clone();
                            b.indicators.push(ind);
                        }
                        Err(e) => b.error(where_, format!("{}: {e}", conj[i].path)),
                    }
                }
            }
            None => {
                let mut ind = base.clone();
                ind.kind = IndicatorType::Pattern;
                ind.value = conj
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" AND ");
                ind.conditions = residual;
                b.indicators.push(ind);
            }
        }
    }
}

fn anchor_type(c: &Comparison) -> Option<IndicatorType> {
    if c.negated {
        return None;
    }
    let t = path_type(&c.path)?;
    match c.op {
        Op::Eq | Op::In => Some(t),
        Op::IsSubset if t == IndicatorType::Ip => Some(IndicatorType::Cidr),
        _ => None,
    }
}

/// Most selective first: a hash names one file, a network many hosts.
fn rank(t: IndicatorType) -> u8 {
    match t {
        IndicatorType::Sha256 => 0,
        IndicatorType::Sha1 => 1,
        IndicatorType::Md5 => 2,
        IndicatorType::Url => 3,
        IndicatorType::IpPort => 4,
        IndicatorType::Ip => 5,
        IndicatorType::Email => 6,
        IndicatorType::Domain => 7,
        IndicatorType::Cidr => 8,
        _ => 9,
    }
}

fn to_condition(c: &Comparison) -> Condition {
    let (op, neg) = cond_op(c.op).unwrap_or((crate::model::CondOp::Eq, false));
    Condition {
        path: c.path.clone(),
        op,
        values: c
            .values
            .iter()
            .map(|l| match l {
                Literal::Str(s) => s.clone(),
                other => other.text(),
            })
            .collect(),
        negated: c.negated != neg,
    }
}
