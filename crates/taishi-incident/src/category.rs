//! GB/T 20986-2023 categories and the suggestion of a category from the
//! alerts' tags.
//!
//! The table is data (`data/gbt20986-2023.yaml`), as is the tag mapping
//! (`data/attack-categories.yaml`); both say where they come from and which
//! entries could not be checked against the standard.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::data::{parse_yaml, DataError};
use crate::lang::{Lang, Text};

const CATEGORIES_FILE: &str = "data/gbt20986-2023.yaml";
const MAPPING_FILE: &str = "data/attack-categories.yaml";
const CATEGORIES_YAML: &str = include_str!("../data/gbt20986-2023.yaml");
const MAPPING_YAML: &str = include_str!("../data/attack-categories.yaml");

/// A table or mapping holds at most this many entries.
pub const MAX_ENTRIES: usize = 10_000;

/// One entry of the table: a category or a subcategory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub code: String,
    pub zh: String,
    pub en: String,
    /// The name was read from the standard (or a faithful quotation).
    #[serde(default)]
    pub name_verified: bool,
    /// The code was read from Annex B.
    #[serde(default)]
    pub code_verified: bool,
}

impl Entry {
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// A subcategory.
pub type Subcategory = Entry;

/// One of the ten categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    #[serde(flatten)]
    pub entry: Entry,
    pub subcategories: Vec<Subcategory>,
}

impl std::ops::Deref for Category {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        &self.entry
    }
}

#[derive(Debug, Clone, Deserialize)]
struct CategoryFile {
    standard: String,
    file_version: u32,
    categories: Vec<Category>,
}

/// The category table.
#[derive(Debug, Clone)]
pub struct Categories {
    pub standard: String,
    pub file_version: u32,
    pub categories: Vec<Category>,
    /// Subcategory code → (category index, subcategory index).
    index: HashMap<String, (usize, usize)>,
}

/// Where an entry of the table stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unverified {
    pub code: String,
    pub name_verified: bool,
    pub code_verified: bool,
}

impl Categories {
    /// The table shipped with the crate.
    pub fn builtin() -> &'static Categories {
        static T: OnceLock<Categories> = OnceLock::new();
        T.get_or_init(|| {
            Categories::from_yaml(CATEGORIES_FILE, CATEGORIES_YAML)
                .expect("the built-in category table is checked by the crate's tests")
        })
    }

    /// A table from YAML (the built-in one, or an operator's corrected copy).
    pub fn from_yaml(file: &str, text: &str) -> Result<Categories, DataError> {
        let f: CategoryFile = parse_yaml(file, text)?;
        let mut index = HashMap::new();
        let mut count = 0usize;
        for (ci, c) in f.categories.iter().enumerate() {
            if c.code.is_empty() || c.zh.is_empty() || c.en.is_empty() {
                return Err(DataError::invalid(
                    file,
                    format!("categories[{ci}]"),
                    "code, zh and en are required",
                ));
            }
            for (si, s) in c.subcategories.iter().enumerate() {
                count += 1;
                if count > MAX_ENTRIES {
                    return Err(DataError::invalid(file, "categories", "too many entries"));
                }
                if !s.code.starts_with(&c.code) {
                    return Err(DataError::invalid(
                        file,
                        format!("categories[{ci}].subcategories[{si}].code"),
                        format!(
                            "`{}` does not start with its category's code `{}`",
                            s.code, c.code
                        ),
                    ));
                }
                if index.insert(s.code.clone(), (ci, si)).is_some() {
                    return Err(DataError::invalid(
                        file,
                        format!("categories[{ci}].subcategories[{si}].code"),
                        format!("`{}` appears twice", s.code),
                    ));
                }
            }
        }
        Ok(Categories {
            standard: f.standard,
            file_version: f.file_version,
            categories: f.categories,
            index,
        })
    }

    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }

    /// A subcategory and its category.
    pub fn subcategory(&self, code: &str) -> Option<(&Category, &Subcategory)> {
        let &(ci, si) = self.index.get(code)?;
        let c = &self.categories[ci];
        Some((c, &c.subcategories[si]))
    }

    /// Every entry whose name or code could not be checked against the
    /// standard: shown beside the code wherever one is displayed.
    pub fn unverified(&self) -> Vec<Unverified> {
        let mut out = Vec::new();
        for c in &self.categories {
            if !(c.name_verified && c.code_verified) {
                out.push(Unverified {
                    code: c.code.clone(),
                    name_verified: c.name_verified,
                    code_verified: c.code_verified,
                });
            }
            for s in &c.subcategories {
                if !(s.name_verified && s.code_verified) {
                    out.push(Unverified {
                        code: s.code.clone(),
                        name_verified: s.name_verified,
                        code_verified: s.code_verified,
                    });
                }
            }
        }
        out
    }
}

/// One row of the tag mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagMapping {
    pub tag: String,
    pub subcategory: String,
    pub weight: u32,
    pub reason: Text,
}

#[derive(Debug, Clone, Deserialize)]
struct MappingFile {
    mappings: Vec<TagMapping>,
}

/// The tag → subcategory mapping.
#[derive(Debug, Clone)]
pub struct CategoryMapping {
    pub mappings: Vec<TagMapping>,
    /// Lowercased tag → rows, for the exact and prefix look-ups.
    by_tag: HashMap<String, Vec<usize>>,
}

/// Why a subcategory was suggested: a tag seen on the alerts and the row's
/// reason.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuggestionReason {
    pub tag: String,
    pub weight: u32,
    pub reason: Text,
}

/// A suggested subcategory, with its score and every reason for it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub category: String,
    pub subcategory: String,
    pub score: u32,
    pub reasons: Vec<SuggestionReason>,
}

impl CategoryMapping {
    pub fn builtin() -> &'static CategoryMapping {
        static M: OnceLock<CategoryMapping> = OnceLock::new();
        M.get_or_init(|| {
            CategoryMapping::from_yaml(MAPPING_FILE, MAPPING_YAML, Categories::builtin())
                .expect("the built-in mapping is checked by the crate's tests")
        })
    }

    /// A mapping from YAML, every subcategory checked against `table`.
    pub fn from_yaml(
        file: &str,
        text: &str,
        table: &Categories,
    ) -> Result<CategoryMapping, DataError> {
        let f: MappingFile = parse_yaml(file, text)?;
        if f.mappings.len() > MAX_ENTRIES {
            return Err(DataError::invalid(file, "mappings", "too many entries"));
        }
        let mut by_tag: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, m) in f.mappings.iter().enumerate() {
            if table.subcategory(&m.subcategory).is_none() {
                return Err(DataError::invalid(
                    file,
                    format!("mappings[{i}].subcategory"),
                    format!("`{}` is not a subcategory of the table", m.subcategory),
                ));
            }
            if m.tag.is_empty() {
                return Err(DataError::invalid(
                    file,
                    format!("mappings[{i}].tag"),
                    "empty",
                ));
            }
            by_tag
                .entry(m.tag.to_ascii_lowercase())
                .or_default()
                .push(i);
        }
        Ok(CategoryMapping {
            mappings: f.mappings,
            by_tag,
        })
    }

    /// The rows a tag matches: the tag itself, then each of its
    /// dot-separated prefixes (`attack.t1059.001` → `attack.t1059`).
    fn rows_for(&self, tag: &str) -> Vec<usize> {
        let t = tag.to_ascii_lowercase();
        let mut out = Vec::new();
        let mut end = t.len();
        loop {
            if let Some(rows) = self.by_tag.get(&t[..end]) {
                out.extend_from_slice(rows);
            }
            match t[..end].rfind('.') {
                Some(dot) => end = dot,
                None => break,
            }
        }
        out
    }

    /// Subcategories suggested by `tags` (each distinct tag counted once),
    /// best first; ties go to the lower code so the order is stable.
    pub fn suggest<'a>(
        &self,
        table: &Categories,
        tags: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Suggestion> {
        let mut seen = std::collections::HashSet::new();
        let mut acc: BTreeMap<String, Suggestion> = BTreeMap::new();
        for tag in tags {
            if !seen.insert(tag.to_ascii_lowercase()) {
                continue;
            }
            for row in self.rows_for(tag) {
                let m = &self.mappings[row];
                let Some((cat, _)) = table.subcategory(&m.subcategory) else {
                    continue;
                };
                let s = acc
                    .entry(m.subcategory.clone())
                    .or_insert_with(|| Suggestion {
                        category: cat.code.clone(),
                        subcategory: m.subcategory.clone(),
                        score: 0,
                        reasons: Vec::new(),
                    });
                s.score += m.weight;
                s.reasons.push(SuggestionReason {
                    tag: tag.to_string(),
                    weight: m.weight,
                    reason: m.reason.clone(),
                });
            }
        }
        let mut v: Vec<Suggestion> = acc.into_values().collect();
        v.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then(a.subcategory.cmp(&b.subcategory))
        });
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_has_ten_categories_and_unique_codes() {
        let t = Categories::builtin();
        assert_eq!(t.standard, "GB/T 20986-2023");
        assert_eq!(t.categories.len(), 10);
        assert!(t.categories.iter().all(|c| !c.subcategories.is_empty()));
        let (c, s) = t.subcategory("0107").unwrap();
        assert_eq!(c.zh, "恶意程序事件");
        assert_eq!(s.name(Lang::En), "Ransomware incidents");
        // No code could be checked against Annex B: all are flagged.
        assert!(t
            .unverified()
            .iter()
            .any(|u| u.code == "0107" && !u.code_verified));
    }

    #[test]
    fn mapping_suggests_ransomware_with_reasons() {
        let t = Categories::builtin();
        let m = CategoryMapping::builtin();
        let s = m.suggest(
            t,
            [
                "attack.impact",
                "attack.t1486",
                "attack.t1490",
                "attack.t1059.001",
                "attack.t1486",
            ],
        );
        assert_eq!(s[0].subcategory, "0107");
        assert_eq!(s[0].category, "01");
        assert_eq!(s[0].score, 8, "t1486 counted once: {s:?}");
        assert_eq!(s[0].reasons.len(), 2);
        // The sub-technique found its technique's row.
        assert!(s
            .iter()
            .any(|x| x.subcategory == "0199"
                && x.reasons.iter().any(|r| r.tag == "attack.t1059.001")));
    }

    #[test]
    fn mapping_rejects_unknown_subcategory_naming_the_field() {
        let y = "mappings:\n  - tag: attack.x\n    subcategory: \"9999\"\n    weight: 1\n    reason: {zh: a, en: b}\n";
        let e = CategoryMapping::from_yaml("m.yaml", y, Categories::builtin()).unwrap_err();
        assert!(e.to_string().contains("mappings[0].subcategory"), "{e}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = Categories::from_yaml("c.yaml", "standard: x\nfile_version: [\n").unwrap_err();
        assert!(
            matches!(e, DataError::Syntax { line: Some(_), .. }),
            "{e:?}"
        );
    }
}
