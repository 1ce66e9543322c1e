//! Every vector in `vuln/cvss` gives the published score.
//!
//! - `redhat-cvss-tests/*.txt`: `VECTOR - (base, temporal, environmental)`
//!   for v2/v3 (`None` where a group is absent) and `VECTOR - score` or
//!   `VECTOR - (score,)` for v4.0.
//! - `first-cvss4/*.json`: FIRST's calculator tables. For each of the 270
//!   MacroVectors, every combination of its highest vectors (`max_composed`,
//!   one per equivalence set) lies at distance 0 from the MacroVector's top,
//!   so its score must be exactly the MacroVector's value in the lookup table.
//! - Every `cvssMetricV*` in the saved NVD records: vector → NVD's baseScore.

use std::collections::BTreeMap;

use serde_json::Value;
use taishi_vuln::cvss::{score, CvssVersion};

#[derive(Default)]
struct Tally {
    checked: usize,
    failed: Vec<String>,
}

impl Tally {
    fn check(&mut self, what: &str, got: f64, want: f64) {
        self.checked += 1;
        if (got - want).abs() > 1e-9 {
            self.failed
                .push(format!("{what}: got {got}, published {want}"));
        }
    }
}

fn parse_num(s: &str) -> Option<f64> {
    let s = s.trim();
    (s != "None" && !s.is_empty()).then(|| s.parse().expect("score"))
}

#[test]
fn redhat_vectors() {
    let Some(dir) = taishi_testdata::path("vuln/cvss/redhat-cvss-tests") else {
        return;
    };
    let mut per_file: BTreeMap<String, Tally> = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let t = per_file.entry(name.clone()).or_default();
        for (ln, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            let Some((vector, scores)) = line.split_once(" - ") else {
                continue;
            };
            let at = format!("{name}:{} {vector}", ln + 1);
            let s = match score(vector) {
                Ok(s) => s,
                Err(e) => {
                    t.checked += 1;
                    t.failed.push(format!("{at}: {e}"));
                    continue;
                }
            };
            let nums: Vec<&str> = scores
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .filter(|x| !x.trim().is_empty())
                .collect();
            if s.version == CvssVersion::V40 {
                t.check(&at, s.overall, parse_num(nums[0]).unwrap());
                continue;
            }
            if let Some(b) = parse_num(nums[0]) {
                t.check(&format!("{at} base"), s.base, b);
            }
            // The Red Hat files give the temporal/environmental score of
            // the vector even where the group is absent (then equal to the
            // base); the crate's full scores are what they list.
            let (tmp, env) = match s.version {
                CvssVersion::V2 => {
                    let v: cvss::v2::Vector = vector.parse().unwrap();
                    (v.temporal_score().value(), v.environmental_score().value())
                }
                _ => {
                    let v: cvss::v3::Vector = vector.parse().unwrap();
                    (v.temporal_score().value(), v.environmental_score().value())
                }
            };
            if let Some(want) = nums.get(1).and_then(|x| parse_num(x)) {
                t.check(&format!("{at} temporal"), s.temporal.unwrap_or(tmp), want);
            }
            if let Some(want) = nums.get(2).and_then(|x| parse_num(x)) {
                t.check(
                    &format!("{at} environmental"),
                    s.environmental.unwrap_or(env),
                    want,
                );
            }
        }
    }
    let mut total = Tally::default();
    for (name, t) in &per_file {
        println!(
            "{name}: {}/{} scores as published",
            t.checked - t.failed.len(),
            t.checked
        );
        total.checked += t.checked;
        total.failed.extend(t.failed.iter().cloned());
    }
    let pct = 100.0 * (total.checked - total.failed.len()) as f64 / total.checked as f64;
    println!(
        "Red Hat vectors: {}/{} ({pct:.2} %)",
        total.checked - total.failed.len(),
        total.checked
    );
    assert!(total.checked > 5000, "only {} scores read", total.checked);
    assert!(
        total.failed.is_empty(),
        "{} mismatches, first: {:#?}",
        total.failed.len(),
        &total.failed[..total.failed.len().min(10)]
    );
}

#[test]
fn first_cvss4_macrovectors() {
    let (Some(lookup), Some(maxc)) = (
        taishi_testdata::read("vuln/cvss/first-cvss4/cvss4_macrovector_lookup.json"),
        taishi_testdata::read("vuln/cvss/first-cvss4/cvss4_max_composed.json"),
    ) else {
        return;
    };
    let lookup: Value = serde_json::from_slice(&lookup).unwrap();
    let maxc: Value = serde_json::from_slice(&maxc).unwrap();
    let lookup = lookup["macrovector_score"].as_object().unwrap();
    let mc = &maxc["max_composed"];
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    };
    let mut t = Tally::default();
    let mut macrovectors = 0;
    for (mv, want) in lookup {
        let d: Vec<char> = mv.chars().collect();
        let (e1, e2, e3, e4, e5, e6) = (d[0], d[1], d[2], d[3], d[4], d[5]);
        let eq1 = list(&mc["eq1"][e1.to_string()]);
        let eq2 = list(&mc["eq2"][e2.to_string()]);
        let eq3 = list(&mc["eq3"][e3.to_string()][e6.to_string()]);
        let eq4 = list(&mc["eq4"][e4.to_string()]);
        let eq5 = list(&mc["eq5"][e5.to_string()]);
        macrovectors += 1;
        for a in &eq1 {
            for b in &eq2 {
                for c in &eq3 {
                    for dd in &eq4 {
                        for e in &eq5 {
                            let v = to_vector(&format!("{a}{b}{c}{dd}{e}"));
                            match score(&v) {
                                Ok(s) => {
                                    t.check(&format!("{mv} {v}"), s.overall, want.as_f64().unwrap())
                                }
                                Err(err) => {
                                    t.checked += 1;
                                    t.failed.push(format!("{mv} {v}: {err}"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    println!(
        "FIRST CVSS 4.0 MacroVectors: {macrovectors}, highest vectors scored {}/{} ({:.2} %)",
        t.checked - t.failed.len(),
        t.checked,
        100.0 * (t.checked - t.failed.len()) as f64 / t.checked as f64
    );
    assert_eq!(macrovectors, 270);
    assert!(
        t.failed.is_empty(),
        "{} mismatches: {:#?}",
        t.failed.len(),
        &t.failed[..t.failed.len().min(10)]
    );
}

/// `AV:N/PR:N/UI:N/AC:L/AT:N/…/SI:S/…/E:A/` from max_composed → a v4.0
/// vector. `SI:S`/`SA:S` (Safety) exist only as the modified metrics
/// MSI/MSA; the base SI/SA are then H.
fn to_vector(parts: &str) -> String {
    let mut m: BTreeMap<&str, &str> = BTreeMap::new();
    for p in parts.split('/').filter(|p| !p.is_empty()) {
        let (k, v) = p.split_once(':').unwrap();
        m.insert(k, v);
    }
    let mut extra = Vec::new();
    for k in ["SI", "SA"] {
        if m.get(k) == Some(&"S") {
            m.insert(k, "H");
            extra.push(format!("M{k}:S"));
        }
    }
    let order = [
        "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA", "E", "CR", "IR", "AR",
    ];
    let mut v = String::from("CVSS:4.0");
    for k in order {
        if let Some(x) = m.get(k) {
            v.push_str(&format!("/{k}:{x}"));
        }
    }
    for e in extra {
        v.push('/');
        v.push_str(&e);
    }
    v
}

#[test]
fn nvd_metrics_match_their_vectors() {
    let mut t = Tally::default();
    for dir in ["vuln/nvd", "vuln/nvd-extra"] {
        let Some(dir) = taishi_testdata::path(dir) else {
            return;
        };
        for f in std::fs::read_dir(dir).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let recs =
                taishi_vuln::nvd::load(&bytes, &p.display().to_string(), &Default::default())
                    .unwrap();
            for r in recs {
                let m = &r.metrics;
                for metric in m.v40.iter().chain(&m.v31).chain(&m.v30).chain(&m.v2) {
                    let d = &metric.cvss_data;
                    let s = score(&d.vector_string).unwrap_or_else(|e| panic!("{}: {e}", r.id));
                    t.check(
                        &format!("{} {}", r.id, d.vector_string),
                        s.base,
                        d.base_score,
                    );
                }
            }
        }
    }
    println!(
        "NVD metrics: {}/{} base scores as published",
        t.checked - t.failed.len(),
        t.checked
    );
    assert!(t.checked > 100);
    assert!(t.failed.is_empty(), "{:#?}", t.failed);
}
