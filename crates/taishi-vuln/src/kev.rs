//! CISA Known Exploited Vulnerabilities: the JSON catalog and its CSV.
//!
//! Both have the same fields (`cveID, vendorProject, product,
//! vulnerabilityName, dateAdded, shortDescription, requiredAction, dueDate,
//! knownRansomwareCampaignUse, notes, cwes`); in the CSV `cwes` is one
//! comma-separated cell.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::lang::{Label, Lang};

/// Limits on a catalog.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes (the full JSON catalog is ~1.3 MiB in 2025).
    pub max_bytes: usize,
    /// Entries.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            max_entries: 100_000,
        }
    }
}

/// Why a catalog was refused.
#[derive(Debug, Error)]
pub enum KevError {
    /// Over `max_bytes`.
    #[error("{source_name}: {len} bytes, over the limit of {max}")]
    TooLarge {
        /// The document.
        source_name: String,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Over `max_entries`.
    #[error("{source_name}: more than {max} entries")]
    TooMany {
        /// The document.
        source_name: String,
        /// The limit.
        max: usize,
    },
    /// Bad JSON.
    #[error("{source_name}: line {line}, column {column}: {message}")]
    Json {
        /// The document.
        source_name: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// Bad CSV (a row, a missing column).
    #[error("{source_name}: line {line}: {message}")]
    Csv {
        /// The document.
        source_name: String,
        /// Line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// An entry without a CVE id.
    #[error("{source_name}: entry {index}: cveID `{value}` is not a CVE id")]
    BadId {
        /// The document.
        source_name: String,
        /// Entry index (0-based).
        index: usize,
        /// The value.
        value: String,
    },
}

/// Known use in ransomware campaigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Ransomware {
    /// `Known`.
    Known,
    /// `Unknown` (anything else).
    #[default]
    Unknown,
}

impl Label for Ransomware {
    fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::Known, Lang::ZhCn) => "已知被勒索软件利用",
            (Self::Known, Lang::En) => "known ransomware use",
            (Self::Unknown, Lang::ZhCn) => "未知是否被勒索软件利用",
            (Self::Unknown, Lang::En) => "ransomware use unknown",
        }
    }
}

fn ransomware<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Ransomware, D::Error> {
    let s = String::deserialize(d)?;
    Ok(if s.trim().eq_ignore_ascii_case("known") {
        Ransomware::Known
    } else {
        Ransomware::Unknown
    })
}

/// One catalog entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KevEntry {
    /// CVE id.
    #[serde(rename = "cveID")]
    pub cve_id: String,
    /// Vendor or project.
    #[serde(default)]
    pub vendor_project: String,
    /// Product.
    #[serde(default)]
    pub product: String,
    /// CISA's name of the vulnerability.
    #[serde(default)]
    pub vulnerability_name: String,
    /// When it was added (YYYY-MM-DD).
    #[serde(default)]
    pub date_added: String,
    /// Description.
    #[serde(default)]
    pub short_description: String,
    /// What to do.
    #[serde(default)]
    pub required_action: String,
    /// Due date for US federal agencies (YYYY-MM-DD).
    #[serde(default)]
    pub due_date: String,
    /// Known ransomware use.
    #[serde(default, deserialize_with = "ransomware")]
    pub known_ransomware_campaign_use: Ransomware,
    /// Notes (links).
    #[serde(default)]
    pub notes: String,
    /// CWE ids.
    #[serde(default)]
    pub cwes: Vec<String>,
}

/// The catalog, by CVE id.
#[derive(Clone, Debug, Default)]
pub struct KevCatalog {
    /// `catalogVersion` (JSON only).
    pub version: Option<String>,
    /// `dateReleased` (JSON only).
    pub released: Option<String>,
    /// Entries by CVE id (upper case).
    pub entries: HashMap<String, KevEntry>,
}

impl KevCatalog {
    /// The entry for a CVE, if listed.
    pub fn get(&self, cve: &str) -> Option<&KevEntry> {
        self.entries.get(&cve.to_ascii_uppercase())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Parses the JSON catalog.
    pub fn from_json(bytes: &[u8], source_name: &str, limits: &Limits) -> Result<Self, KevError> {
        size(bytes, source_name, limits)?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Doc {
            catalog_version: Option<String>,
            date_released: Option<String>,
            #[serde(default)]
            vulnerabilities: Vec<KevEntry>,
        }
        let doc: Doc = serde_json::from_slice(bytes).map_err(|e| KevError::Json {
            source_name: source_name.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let mut cat = Self {
            version: doc.catalog_version,
            released: doc.date_released,
            entries: HashMap::with_capacity(doc.vulnerabilities.len()),
        };
        for (i, e) in doc.vulnerabilities.into_iter().enumerate() {
            cat.insert(e, i, source_name, limits)?;
        }
        Ok(cat)
    }

    /// Parses the CSV catalog (header row required).
    pub fn from_csv(bytes: &[u8], source_name: &str, limits: &Limits) -> Result<Self, KevError> {
        size(bytes, source_name, limits)?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            #[serde(rename = "cveID")]
            cve_id: String,
            #[serde(default)]
            vendor_project: String,
            #[serde(default)]
            product: String,
            #[serde(default)]
            vulnerability_name: String,
            #[serde(default)]
            date_added: String,
            #[serde(default)]
            short_description: String,
            #[serde(default)]
            required_action: String,
            #[serde(default)]
            due_date: String,
            #[serde(default, deserialize_with = "ransomware")]
            known_ransomware_campaign_use: Ransomware,
            #[serde(default)]
            notes: String,
            #[serde(default)]
            cwes: String,
        }
        let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
        let mut cat = Self::default();
        for (i, row) in rdr.deserialize::<Row>().enumerate() {
            let r = row.map_err(|e| KevError::Csv {
                source_name: source_name.to_owned(),
                line: e.position().map(|p| p.line()).unwrap_or(0),
                message: e.to_string(),
            })?;
            let e = KevEntry {
                cve_id: r.cve_id,
                vendor_project: r.vendor_project,
                product: r.product,
                vulnerability_name: r.vulnerability_name,
                date_added: r.date_added,
                short_description: r.short_description,
                required_action: r.required_action,
                due_date: r.due_date,
                known_ransomware_campaign_use: r.known_ransomware_campaign_use,
                notes: r.notes,
                cwes: r
                    .cwes
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            };
            cat.insert(e, i, source_name, limits)?;
        }
        Ok(cat)
    }

    fn insert(
        &mut self,
        mut e: KevEntry,
        index: usize,
        source_name: &str,
        limits: &Limits,
    ) -> Result<(), KevError> {
        if self.entries.len() >= limits.max_entries {
            return Err(KevError::TooMany {
                source_name: source_name.to_owned(),
                max: limits.max_entries,
            });
        }
        e.cve_id = e.cve_id.trim().to_ascii_uppercase();
        if !is_cve_id(&e.cve_id) {
            return Err(KevError::BadId {
                source_name: source_name.to_owned(),
                index,
                value: e.cve_id,
            });
        }
        self.entries.insert(e.cve_id.clone(), e);
        Ok(())
    }
}

fn size(bytes: &[u8], source_name: &str, limits: &Limits) -> Result<(), KevError> {
    if bytes.len() > limits.max_bytes {
        return Err(KevError::TooLarge {
            source_name: source_name.to_owned(),
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    Ok(())
}

/// `CVE-YYYY-NNNN…` (4 or more digits).
pub fn is_cve_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((y, n)) = rest.split_once('-') else {
        return false;
    };
    y.len() == 4
        && y.bytes().all(|b| b.is_ascii_digit())
        && n.len() >= 4
        && n.len() <= 19
        && n.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_catalogs() {
        let json = br#"{"catalogVersion":"1","vulnerabilities":[{"cveID":"cve-2021-44228","knownRansomwareCampaignUse":"Known","cwes":["CWE-20"]}]}"#;
        let c = KevCatalog::from_json(json, "t.json", &Limits::default()).unwrap();
        let e = c.get("CVE-2021-44228").unwrap();
        assert_eq!(e.known_ransomware_campaign_use, Ransomware::Known);
        assert_eq!(
            e.known_ransomware_campaign_use.label(Lang::ZhCn),
            "已知被勒索软件利用"
        );
        let csv = "cveID,knownRansomwareCampaignUse,cwes\nCVE-2020-0001,Unknown,\"CWE-1, CWE-2\"\n";
        let c = KevCatalog::from_csv(csv.as_bytes(), "t.csv", &Limits::default()).unwrap();
        assert_eq!(c.get("CVE-2020-0001").unwrap().cwes, vec!["CWE-1", "CWE-2"]);
        let bad = "cveID\nnot-a-cve\n";
        assert!(matches!(
            KevCatalog::from_csv(bad.as_bytes(), "b.csv", &Limits::default()),
            Err(KevError::BadId { index: 0, .. })
        ));
        let two = "cveID\nCVE-2020-0001\nCVE-2020-0002\n";
        let lim = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        assert!(matches!(
            KevCatalog::from_csv(two.as_bytes(), "t.csv", &lim),
            Err(KevError::TooMany { .. })
        ));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = KevCatalog::from_json(s.as_bytes(), "f", &Limits::default());
            let _ = KevCatalog::from_csv(format!("cveID,cwes\n{s}").as_bytes(), "f", &Limits::default());
        }
    }
}
