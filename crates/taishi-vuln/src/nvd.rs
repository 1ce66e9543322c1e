//! NVD CVE API 2.0 records: a typed model of what matching, enrichment and
//! display need, and a bounded loader that accepts an API page
//! (`{"vulnerabilities":[{"cve":…}]}`), one element (`{"cve":…}`) or a bare
//! `cve` object.
//!
//! Unknown fields are ignored (NVD adds fields, e.g. `cveTags`, `affected`),
//! missing optional ones default, so a record NVD has not analysed yet (no
//! `configurations`, no `metrics`) still loads.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::lang::{Lang, Text};

/// Limits on one document.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of one JSON document (NVD pages of 2,000 records are ~30 MiB).
    pub max_bytes: usize,
    /// Records in one document.
    pub max_records: usize,
    /// Configurations in one record.
    pub max_configurations: usize,
    /// Nodes in one configuration.
    pub max_nodes: usize,
    /// `cpeMatch` entries in one record, over all its nodes (the largest NVD
    /// records, e.g. Linux kernel or Cisco IOS, hold a few thousand).
    pub max_cpe_matches: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 256 << 20,
            max_records: 10_000,
            max_configurations: 1_000,
            max_nodes: 1_000,
            max_cpe_matches: 50_000,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, Error)]
pub enum NvdError {
    /// Over `max_bytes`.
    #[error("{source_name}: {len} bytes, over the limit of {max}")]
    TooLarge {
        /// Where the document came from.
        source_name: String,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON of one of the three shapes.
    #[error("{source_name}: line {line}, column {column}: {message}")]
    Json {
        /// Where the document came from.
        source_name: String,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// serde_json's message (names the field).
        message: String,
    },
    /// Valid JSON but none of the three shapes.
    #[error("{source_name}: neither an API 2.0 page (vulnerabilities[]), an element ({{\"cve\":…}}) nor a cve object (id)")]
    Shape {
        /// Where the document came from.
        source_name: String,
    },
    /// A count limit was passed.
    #[error("{source_name}: {what} {found} is over the limit of {max}{}", record.as_ref().map(|r| format!(" (record {r})")).unwrap_or_default())]
    Limit {
        /// Where the document came from.
        source_name: String,
        /// The record, when the limit is per record.
        record: Option<String>,
        /// What was counted.
        what: &'static str,
        /// How many.
        found: usize,
        /// The limit.
        max: usize,
    },
}

/// An API 2.0 response page.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiPage {
    /// Records per page asked for.
    #[serde(default)]
    pub results_per_page: u64,
    /// Index of the first record.
    #[serde(default)]
    pub start_index: u64,
    /// Records matching the query overall.
    #[serde(default)]
    pub total_results: u64,
    /// `NVD_CVE`.
    #[serde(default)]
    pub format: String,
    /// `2.0`.
    #[serde(default)]
    pub version: String,
    /// When NVD produced the page.
    #[serde(default)]
    pub timestamp: String,
    /// The records.
    #[serde(default)]
    pub vulnerabilities: Vec<Item>,
}

/// One element of `vulnerabilities[]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    /// The record.
    pub cve: Cve,
}

/// A CVE record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cve {
    /// `CVE-YYYY-NNNN`.
    pub id: String,
    /// Who assigned it.
    #[serde(default)]
    pub source_identifier: Option<String>,
    /// Publication time (NVD: UTC, no zone).
    #[serde(default)]
    pub published: Option<String>,
    /// Last modification.
    #[serde(default)]
    pub last_modified: Option<String>,
    /// `Analyzed`, `Modified`, `Awaiting Analysis`, `Rejected`, …
    #[serde(default)]
    pub vuln_status: Option<String>,
    /// Descriptions by language.
    #[serde(default)]
    pub descriptions: Vec<LangString>,
    /// CVSS metrics.
    #[serde(default)]
    pub metrics: Metrics,
    /// CWE ids.
    #[serde(default)]
    pub weaknesses: Vec<Weakness>,
    /// Applicability statements.
    #[serde(default)]
    pub configurations: Vec<Configuration>,
    /// References.
    #[serde(default)]
    pub references: Vec<Reference>,
    /// Date CISA added it to KEV.
    #[serde(default)]
    pub cisa_exploit_add: Option<String>,
    /// KEV due date.
    #[serde(default)]
    pub cisa_action_due: Option<String>,
    /// KEV required action.
    #[serde(default)]
    pub cisa_required_action: Option<String>,
    /// KEV name.
    #[serde(default)]
    pub cisa_vulnerability_name: Option<String>,
}

/// A text with its language.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LangString {
    /// `en`, `es`.
    #[serde(default)]
    pub lang: String,
    /// The text.
    #[serde(default)]
    pub value: String,
}

/// CVSS metrics by version; each a list (NVD's own and the CNA's).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// v4.0.
    #[serde(default, rename = "cvssMetricV40")]
    pub v40: Vec<CvssMetric>,
    /// v3.1.
    #[serde(default, rename = "cvssMetricV31")]
    pub v31: Vec<CvssMetric>,
    /// v3.0.
    #[serde(default, rename = "cvssMetricV30")]
    pub v30: Vec<CvssMetric>,
    /// v2.
    #[serde(default, rename = "cvssMetricV2")]
    pub v2: Vec<CvssMetric>,
}

/// One CVSS metric.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvssMetric {
    /// Who scored it.
    #[serde(default)]
    pub source: String,
    /// `Primary` (NVD) or `Secondary` (CNA).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The vector and score.
    pub cvss_data: CvssData,
    /// v2 keeps its severity outside `cvssData`.
    #[serde(default)]
    pub base_severity: Option<String>,
    /// Exploitability sub-score (v2/v3).
    #[serde(default)]
    pub exploitability_score: Option<f64>,
    /// Impact sub-score (v2/v3).
    #[serde(default)]
    pub impact_score: Option<f64>,
}

/// `cvssData`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CvssData {
    /// `2.0`, `3.0`, `3.1`, `4.0`.
    #[serde(default)]
    pub version: String,
    /// The vector.
    pub vector_string: String,
    /// The published base score.
    pub base_score: f64,
    /// v3/v4 severity.
    #[serde(default)]
    pub base_severity: Option<String>,
}

/// A weakness (CWE) statement.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Weakness {
    /// Who said so.
    #[serde(default)]
    pub source: String,
    /// `Primary`/`Secondary`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// `CWE-79`, `NVD-CWE-Other`, …
    #[serde(default)]
    pub description: Vec<LangString>,
}

/// A reference.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reference {
    /// The URL.
    pub url: String,
    /// Who gave it.
    #[serde(default)]
    pub source: Option<String>,
    /// `Patch`, `Exploit`, `Vendor Advisory`, …
    #[serde(default)]
    pub tags: Vec<String>,
}

/// AND or OR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Operator {
    /// All must hold.
    #[serde(rename = "AND")]
    And,
    /// One must hold (NVD's default when `operator` is absent).
    #[default]
    #[serde(rename = "OR")]
    Or,
}

impl Operator {
    /// `AND`/`OR` as in NVD, and 与/或.
    pub fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::And, Lang::En) => "AND",
            (Self::Or, Lang::En) => "OR",
            (Self::And, Lang::ZhCn) => "与",
            (Self::Or, Lang::ZhCn) => "或",
        }
    }
}

/// A configuration: nodes combined by `operator`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    /// How the nodes combine (absent: one node, or OR).
    #[serde(default)]
    pub operator: Option<Operator>,
    /// Negates the configuration.
    #[serde(default)]
    pub negate: bool,
    /// The nodes.
    #[serde(default)]
    pub nodes: Vec<Node>,
}

/// A node: `cpeMatch` entries combined by `operator`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// How the entries combine.
    #[serde(default)]
    pub operator: Operator,
    /// Negates the node.
    #[serde(default)]
    pub negate: bool,
    /// The entries.
    #[serde(default)]
    pub cpe_match: Vec<CpeMatch>,
}

/// One match criterion.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpeMatch {
    /// True: the product named is vulnerable; false: it is the platform the
    /// vulnerable product runs on / with.
    pub vulnerable: bool,
    /// A CPE 2.3 formatted string (the version `*` when a range is given).
    pub criteria: String,
    /// NVD's id of the criterion.
    #[serde(default)]
    pub match_criteria_id: Option<String>,
    /// Range start, inclusive.
    #[serde(default)]
    pub version_start_including: Option<String>,
    /// Range start, exclusive.
    #[serde(default)]
    pub version_start_excluding: Option<String>,
    /// Range end, inclusive.
    #[serde(default)]
    pub version_end_including: Option<String>,
    /// Range end, exclusive.
    #[serde(default)]
    pub version_end_excluding: Option<String>,
}

impl Cve {
    /// The English description (or the first one).
    pub fn description(&self) -> Option<&str> {
        self.descriptions
            .iter()
            .find(|d| d.lang == "en")
            .or_else(|| self.descriptions.first())
            .map(|d| d.value.as_str())
    }

    /// CWE ids (`CWE-79`), deduplicated, in order.
    pub fn cwes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for w in &self.weaknesses {
            for d in &w.description {
                if d.value.starts_with("CWE-") && !out.contains(&d.value.as_str()) {
                    out.push(&d.value);
                }
            }
        }
        out
    }

    /// The metric to show: the newest version present, NVD's (`Primary`)
    /// before a CNA's.
    pub fn preferred_metric(&self) -> Option<&CvssMetric> {
        [
            &self.metrics.v40,
            &self.metrics.v31,
            &self.metrics.v30,
            &self.metrics.v2,
        ]
        .into_iter()
        .find_map(|list| list.iter().find(|m| m.kind == "Primary").or(list.first()))
    }

    /// Whether NVD marks it as in the KEV catalog.
    pub fn in_kev(&self) -> bool {
        self.cisa_exploit_add.is_some()
    }

    /// Status text for the console.
    pub fn status_text(&self) -> Option<Text> {
        let s = self.vuln_status.as_deref()?;
        let zh = match s {
            "Analyzed" => "已分析",
            "Modified" => "已修改",
            "Awaiting Analysis" => "待分析",
            "Undergoing Analysis" => "分析中",
            "Received" => "已接收",
            "Rejected" => "已拒绝",
            "Deferred" => "已推迟",
            _ => s,
        };
        Some(Text::new(zh, s))
    }
}

fn json_err(source_name: &str, e: serde_json::Error) -> NvdError {
    NvdError::Json {
        source_name: source_name.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// Loads the records of one document (a page, an element or a bare cve),
/// checking the limits. `source_name` names the document in errors.
pub fn load(bytes: &[u8], source_name: &str, limits: &Limits) -> Result<Vec<Cve>, NvdError> {
    if bytes.len() > limits.max_bytes {
        return Err(NvdError::TooLarge {
            source_name: source_name.to_owned(),
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    // Decide the shape from the top-level keys without building a Value of
    // the whole document: deserialise into a struct with all three options.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Any {
        vulnerabilities: Option<Vec<Item>>,
        cve: Option<Box<Cve>>,
        id: Option<String>,
    }
    let any: Any = serde_json::from_slice(bytes).map_err(|e| json_err(source_name, e))?;
    let records = match any {
        Any {
            vulnerabilities: Some(v),
            ..
        } => v.into_iter().map(|i| i.cve).collect(),
        Any { cve: Some(c), .. } => vec![*c],
        Any { id: Some(_), .. } => {
            vec![serde_json::from_slice::<Cve>(bytes).map_err(|e| json_err(source_name, e))?]
        }
        _ => {
            return Err(NvdError::Shape {
                source_name: source_name.to_owned(),
            })
        }
    };
    check(&records, source_name, limits)?;
    Ok(records)
}

/// Loads one document ([`load`]) or a JSON array of them: pages, elements
/// or bare records, mixed (what a file of several saved API answers, or a
/// list of records, holds). The limits apply to the whole array: bytes and
/// records over all its elements.
pub fn load_any(bytes: &[u8], source_name: &str, limits: &Limits) -> Result<Vec<Cve>, NvdError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'[') {
        return load(bytes, source_name, limits);
    }
    if bytes.len() > limits.max_bytes {
        return Err(NvdError::TooLarge {
            source_name: source_name.to_owned(),
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let values: Vec<serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| json_err(source_name, e))?;
    let shape = || NvdError::Shape {
        source_name: source_name.to_owned(),
    };
    let mut records = Vec::new();
    for v in values {
        let serde_json::Value::Object(mut obj) = v else {
            return Err(shape());
        };
        if let Some(items) = obj.remove("vulnerabilities") {
            let items: Vec<Item> =
                serde_json::from_value(items).map_err(|e| json_err(source_name, e))?;
            records.extend(items.into_iter().map(|i| i.cve));
        } else if let Some(c) = obj.remove("cve") {
            records.push(serde_json::from_value(c).map_err(|e| json_err(source_name, e))?);
        } else if obj.contains_key("id") {
            records.push(
                serde_json::from_value(serde_json::Value::Object(obj))
                    .map_err(|e| json_err(source_name, e))?,
            );
        } else {
            return Err(shape());
        }
        // Stop early: an array of many pages must not be read whole first.
        if records.len() > limits.max_records {
            return Err(NvdError::Limit {
                source_name: source_name.to_owned(),
                record: None,
                what: "records",
                found: records.len(),
                max: limits.max_records,
            });
        }
    }
    check(&records, source_name, limits)?;
    Ok(records)
}

fn check(records: &[Cve], source_name: &str, limits: &Limits) -> Result<(), NvdError> {
    let limit = |record: Option<&str>, what, found, max| NvdError::Limit {
        source_name: source_name.to_owned(),
        record: record.map(str::to_owned),
        what,
        found,
        max,
    };
    if records.len() > limits.max_records {
        return Err(limit(None, "records", records.len(), limits.max_records));
    }
    for r in records {
        let id = Some(r.id.as_str());
        if r.configurations.len() > limits.max_configurations {
            return Err(limit(
                id,
                "configurations",
                r.configurations.len(),
                limits.max_configurations,
            ));
        }
        let mut matches = 0;
        for c in &r.configurations {
            if c.nodes.len() > limits.max_nodes {
                return Err(limit(id, "nodes", c.nodes.len(), limits.max_nodes));
            }
            matches += c.nodes.iter().map(|n| n.cpe_match.len()).sum::<usize>();
        }
        if matches > limits.max_cpe_matches {
            return Err(limit(
                id,
                "cpeMatch entries",
                matches,
                limits.max_cpe_matches,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shapes() {
        let bare = br#"{"id":"CVE-1","configurations":[{"nodes":[{"operator":"OR","negate":false,"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:x:y:*:*:*:*:*:*:*:*","versionEndExcluding":"2"}]}]}]}"#;
        let l = Limits::default();
        let r = load(bare, "bare", &l).unwrap();
        assert_eq!(
            r[0].configurations[0].nodes[0].cpe_match[0]
                .version_end_excluding
                .as_deref(),
            Some("2")
        );
        let item = format!(r#"{{"cve":{}}}"#, std::str::from_utf8(bare).unwrap());
        assert_eq!(load(item.as_bytes(), "item", &l).unwrap()[0].id, "CVE-1");
        let page = format!(r#"{{"resultsPerPage":1,"vulnerabilities":[{item}]}}"#);
        assert_eq!(load(page.as_bytes(), "page", &l).unwrap().len(), 1);
        assert!(matches!(
            load(b"{}", "empty", &l),
            Err(NvdError::Shape { .. })
        ));
        let e = load(b"{\"id\": 5}", "bad.json", &l).unwrap_err();
        assert!(e.to_string().starts_with("bad.json: line 1"), "{e}");
        let tight = Limits {
            max_cpe_matches: 0,
            ..l
        };
        assert!(matches!(
            load(bare, "bare", &tight),
            Err(NvdError::Limit {
                what: "cpeMatch entries",
                ..
            })
        ));
        let tiny = Limits { max_bytes: 10, ..l };
        assert!(matches!(
            load(bare, "bare", &tiny),
            Err(NvdError::TooLarge { .. })
        ));
    }

    #[test]
    fn arrays_of_pages_elements_and_records() {
        let l = Limits::default();
        let bare = r#"{"id":"CVE-1"}"#;
        let arr = format!(
            r#"[{{"vulnerabilities":[{{"cve":{{"id":"CVE-2"}}}},{{"cve":{{"id":"CVE-3"}}}}]}}, {{"cve":{{"id":"CVE-4"}}}}, {bare}]"#
        );
        let ids: Vec<String> = load_any(arr.as_bytes(), "arr", &l)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["CVE-2", "CVE-3", "CVE-4", "CVE-1"]);
        // One document still reads as before.
        assert_eq!(load_any(bare.as_bytes(), "one", &l).unwrap()[0].id, "CVE-1");
        assert!(matches!(
            load_any(b"[1]", "num", &l),
            Err(NvdError::Shape { .. })
        ));
        assert!(matches!(
            load_any(b"[{}]", "empty", &l),
            Err(NvdError::Shape { .. })
        ));
        let two = Limits {
            max_records: 2,
            ..l
        };
        assert!(matches!(
            load_any(arr.as_bytes(), "arr", &two),
            Err(NvdError::Limit {
                what: "records",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = load(s.as_bytes(), "fuzz", &Limits::default());
            let _ = load_any(s.as_bytes(), "fuzz", &Limits::default());
        }

        #[test]
        fn arrays_never_panic(s in r#"\[(\{"(id|cve|vulnerabilities)":[\[\{"a-z0-9:,\]\}]{0,40}\}?,?){0,4}\]?"#) {
            let _ = load_any(s.as_bytes(), "fuzz", &Limits::default());
        }

        #[test]
        fn never_panics_on_json_like(s in r#"\{"(id|cve|vulnerabilities|configurations|nodes)":[\[\{"a-z0-9:,\]\}]{0,60}"#) {
            let _ = load(s.as_bytes(), "fuzz", &Limits::default());
        }
    }
}
