//! Reading rule files: multi-document YAML (with the legacy `action:
//! global/reset/repeat` collections), rules, meta-filters and correlation
//! rules (kept aside, as parsed YAML, for the correlation engine).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_yaml::Value as Y;

use crate::condition::Expr;
use crate::rule::{self, parse_logsource, LogSource, Rule, Search};

/// A rule file (or one document of it) that could not be used, and why.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub path: String,
    /// 1-based document number in a multi-document file.
    pub document: usize,
    pub title: Option<String>,
    pub id: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path)?;
        if self.document > 1 {
            write!(f, " (document {})", self.document)?;
        }
        if let Some(t) = &self.title {
            write!(f, " [{t}]")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A Sigma meta-filter: its condition is ANDed, negated, to every rule it
/// names (by id or name) whose log source it fits.
#[derive(Debug, Clone)]
pub struct Filter {
    pub title: String,
    pub id: Option<String>,
    pub path: String,
    pub logsource: LogSource,
    pub rules: Vec<String>,
    pub names: Vec<String>,
    pub searches: Vec<Search>,
    pub condition: Expr,
}

/// A correlation rule as written, for `taishi-correlation`.
#[derive(Debug, Clone)]
pub struct CorrelationDoc {
    pub path: String,
    pub doc: Y,
}

#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub filters: Vec<Filter>,
    pub correlations: Vec<CorrelationDoc>,
    pub rejected: Vec<Rejected>,
    /// Rule files read.
    pub files: usize,
    /// Bounds on each rule file read from now on.
    pub limits: LoadLimits,
}

/// Bounds on one rule file, which may come from anyone allowed to upload
/// or validate rules: its size, and the size of its YAML once aliases are
/// expanded (an "alias bomb" of a few hundred bytes expands to gigabytes;
/// the YAML library's own guard, 100 alias uses per event, still lets a
/// wide alias repeated a few hundred thousand times through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// Largest rule file, in bytes. SigmaHQ's largest is 290 KiB.
    pub max_file_bytes: usize,
    /// Most YAML nodes (scalars, lists, maps) in one file with aliases
    /// expanded. SigmaHQ's largest file has about 13,000.
    pub max_yaml_nodes: usize,
}

/// Default of [`LoadLimits::max_file_bytes`].
pub const DEFAULT_MAX_FILE_BYTES: usize = 4 << 20;
/// Default of [`LoadLimits::max_yaml_nodes`].
pub const DEFAULT_MAX_YAML_NODES: usize = 250_000;

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_yaml_nodes: DEFAULT_MAX_YAML_NODES,
        }
    }
}

/// A YAML file refused before it is read into memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlLimitError {
    #[error(
        "the rule file is {size} bytes, more than the limit of {limit} \
         (`[detection] max_rule_file_bytes` in the server config); split it into several files"
    )]
    TooLarge { size: usize, limit: usize },
    #[error(
        "the YAML has more than {limit} nodes once its aliases (`*name`) are expanded \
         (`[detection] max_rule_yaml_nodes` in the server config); write the values out or split the file"
    )]
    TooManyNodes { limit: usize },
    #[error("the YAML nests `[`/`{{` deeper than {limit} levels; Sigma rules need two or three")]
    TooDeep { limit: usize },
    #[error("YAML: {0}")]
    Syntax(String),
}

/// Walks a YAML document as the deserializer replays it (aliases
/// included), counting nodes against a budget and keeping nothing, so an
/// alias bomb costs at most `budget` steps and no memory.
struct CountNodes<'a> {
    left: &'a mut usize,
}

impl CountNodes<'_> {
    fn take<E: serde::de::Error>(&mut self) -> Result<(), E> {
        if *self.left == 0 {
            return Err(E::custom(NODE_BUDGET_SPENT));
        }
        *self.left -= 1;
        Ok(())
    }
}

const NODE_BUDGET_SPENT: &str = "taishi: YAML node budget spent";

impl<'de> serde::de::DeserializeSeed<'de> for CountNodes<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CountNodes<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: serde::de::Error>(mut self, _: bool) -> Result<(), E> {
        self.take()
    }
    fn visit_i64<E: serde::de::Error>(mut self, _: i64) -> Result<(), E> {
        self.take()
    }
    fn visit_u64<E: serde::de::Error>(mut self, _: u64) -> Result<(), E> {
        self.take()
    }
    fn visit_i128<E: serde::de::Error>(mut self, _: i128) -> Result<(), E> {
        self.take()
    }
    fn visit_u128<E: serde::de::Error>(mut self, _: u128) -> Result<(), E> {
        self.take()
    }
    fn visit_f64<E: serde::de::Error>(mut self, _: f64) -> Result<(), E> {
        self.take()
    }
    fn visit_str<E: serde::de::Error>(mut self, _: &str) -> Result<(), E> {
        self.take()
    }
    fn visit_unit<E: serde::de::Error>(mut self) -> Result<(), E> {
        self.take()
    }
    fn visit_none<E: serde::de::Error>(mut self) -> Result<(), E> {
        self.take()
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.take()?;
        while seq
            .next_element_seed(CountNodes {
                left: &mut *self.left,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.take()?;
        while map
            .next_key_seed(CountNodes {
                left: &mut *self.left,
            })?
            .is_some()
        {
            map.next_value_seed(CountNodes {
                left: &mut *self.left,
            })?;
        }
        Ok(())
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(mut self, data: A) -> Result<(), A::Error> {
        // A tagged value (`!tag x`): the tag, then its value.
        use serde::de::VariantAccess;
        self.take()?;
        let (_, v): (serde::de::IgnoredAny, _) = data.variant()?;
        v.newtype_variant_seed(CountNodes {
            left: &mut *self.left,
        })
    }
}

/// Deepest `[`/`{` nesting let through to the YAML parser, which would
/// refuse more than 128 levels anyway, but only after a scan whose time
/// grows with the square of the depth (a 2 MB line of `[` takes minutes).
const MAX_FLOW_DEPTH: usize = 128;

/// Whether `[`/`{` nest deeper than `max`: a linear byte scan done before
/// the YAML parser sees the text. It counts every bracket, in quotes and
/// comments too: telling those apart needs a YAML scanner (a stray quote
/// in a plain scalar would hide what follows from a simple one), and only a
/// text with over `max` unclosed brackets is refused, which no rule has.
fn flow_nesting_exceeds(text: &str, max: usize) -> bool {
    let mut depth = 0usize;
    for &c in text.as_bytes() {
        match c {
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Checks a YAML text against the limits without building it.
pub fn check_yaml(text: &str, limits: &LoadLimits) -> Result<(), YamlLimitError> {
    if text.len() > limits.max_file_bytes {
        return Err(YamlLimitError::TooLarge {
            size: text.len(),
            limit: limits.max_file_bytes,
        });
    }
    if flow_nesting_exceeds(text, MAX_FLOW_DEPTH) {
        return Err(YamlLimitError::TooDeep {
            limit: MAX_FLOW_DEPTH,
        });
    }
    let mut left = limits.max_yaml_nodes;
    for de in serde_yaml::Deserializer::from_str(text) {
        use serde::de::DeserializeSeed;
        if let Err(e) = (CountNodes { left: &mut left }).deserialize(de) {
            let msg = e.to_string();
            if msg.contains(NODE_BUDGET_SPENT) {
                return Err(YamlLimitError::TooManyNodes {
                    limit: limits.max_yaml_nodes,
                });
            }
            return Err(YamlLimitError::Syntax(msg));
        }
    }
    Ok(())
}

fn yaml_files(p: &Path) -> Vec<PathBuf> {
    if p.is_dir() {
        let mut v: Vec<PathBuf> = walkdir::WalkDir::new(p)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")))
            .collect();
        v.sort();
        v
    } else {
        vec![p.to_path_buf()]
    }
}

fn merge(base: &Y, over: &Y) -> Y {
    match (base, over) {
        (Y::Mapping(b), Y::Mapping(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(bv) => merge(bv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Y::Mapping(out)
        }
        (_, o) => o.clone(),
    }
}

/// Why a set of rule paths could not be read at all (a bad rule is not
/// this: it becomes a `Rejected` entry and the rest load).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: no such rule file or folder; check the path in detection.rules or --rules", .0.display())]
    Missing(PathBuf),
}

impl RuleSet {
    /// Loads every `.yml`/`.yaml` file under the paths (folders are walked).
    /// A missing path is an error; a bad rule is a `Rejected` entry.
    pub fn load_paths(paths: &[PathBuf]) -> Result<RuleSet, LoadError> {
        RuleSet::load_paths_with(paths, LoadLimits::default())
    }

    /// [`RuleSet::load_paths`] with each file held to `limits`.
    pub fn load_paths_with(paths: &[PathBuf], limits: LoadLimits) -> Result<RuleSet, LoadError> {
        let mut set = RuleSet {
            limits,
            ..RuleSet::default()
        };
        for p in paths {
            if !p.exists() {
                return Err(LoadError::Missing(p.clone()));
            }
            for f in yaml_files(p) {
                set.load_file(&f);
            }
        }
        set.apply_filters();
        Ok(set)
    }

    pub fn load_file(&mut self, path: &Path) {
        let name = path.display().to_string();
        if let Ok(m) = std::fs::metadata(path) {
            if m.len() > self.limits.max_file_bytes as u64 {
                self.files += 1;
                let e = YamlLimitError::TooLarge {
                    size: usize::try_from(m.len()).unwrap_or(usize::MAX),
                    limit: self.limits.max_file_bytes,
                };
                self.reject(&name, 1, None, e.to_string());
                return;
            }
        }
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => self.add_yaml(&text, &name),
                Err(e) => self.reject(&name, 1, None, format!("not UTF-8 text: {e}")),
            },
            Err(e) => self.reject(&name, 1, None, format!("cannot read: {e}")),
        }
    }

    fn reject(&mut self, path: &str, document: usize, doc: Option<&Y>, reason: String) {
        let f = |k: &str| {
            doc.and_then(|d| d.as_mapping())
                .and_then(|m| m.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        self.rejected.push(Rejected {
            path: path.to_string(),
            document,
            title: f("title"),
            id: f("id"),
            reason,
        });
    }

    /// Adds the documents of one YAML text. Filters are applied by
    /// `apply_filters` once everything is loaded.
    pub fn add_yaml(&mut self, text: &str, path: &str) {
        self.files += 1;
        if let Err(e) = check_yaml(text, &self.limits) {
            self.reject(path, 1, None, e.to_string());
            return;
        }
        let mut docs = Vec::new();
        for (i, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
            match Y::deserialize(de) {
                Ok(v) => docs.push(v),
                Err(e) => {
                    self.reject(path, i + 1, None, format!("YAML: {e}"));
                    return;
                }
            }
        }
        let mut global: Option<Y> = None;
        let mut previous: Option<Y> = None;
        for (i, doc) in docs.into_iter().enumerate() {
            let n = i + 1;
            if doc.is_null() {
                continue;
            }
            let action = doc.get("action").and_then(Y::as_str).map(str::to_string);
            let mut body = doc.clone();
            if let Y::Mapping(m) = &mut body {
                m.remove("action");
            }
            let doc = match action.as_deref() {
                Some("global") => {
                    global = Some(body);
                    continue;
                }
                Some("reset") => {
                    global = None;
                    continue;
                }
                Some("repeat") => match &previous {
                    Some(p) => merge(p, &body),
                    None => {
                        self.reject(
                            path,
                            n,
                            Some(&doc),
                            "`action: repeat` with no document before it".into(),
                        );
                        continue;
                    }
                },
                Some(a) => {
                    self.reject(path, n, Some(&doc), format!("unknown `action: {a}`"));
                    continue;
                }
                None => match &global {
                    Some(g) => merge(g, &body),
                    None => body,
                },
            };
            previous = Some(doc.clone());
            self.add_document(doc, path, n);
        }
    }

    fn add_document(&mut self, doc: Y, path: &str, n: usize) {
        if !doc.is_mapping() {
            self.reject(path, n, None, "the document is not a YAML map".into());
            return;
        }
        if doc.get("correlation").is_some() {
            self.correlations.push(CorrelationDoc {
                path: path.to_string(),
                doc,
            });
            return;
        }
        if doc.get("filter").is_some() && doc.get("detection").is_none() {
            match parse_filter(&doc, path) {
                Ok(f) => self.filters.push(f),
                Err(e) => self.reject(path, n, Some(&doc), e),
            }
            return;
        }
        if doc.get("detection").is_none() {
            self.reject(
                path,
                n,
                Some(&doc),
                "not a Sigma rule, filter or correlation (no `detection`, `filter` or `correlation`)".into(),
            );
            return;
        }
        match rule::parse_rule(&doc, path) {
            Ok(r) => self.rules.push(r),
            Err(e) => self.reject(path, n, Some(&doc), e),
        }
    }

    /// Applies every meta-filter to the rules it names: the rule's condition
    /// becomes `(condition) and not (filter condition)`.
    pub fn apply_filters(&mut self) {
        let filters = std::mem::take(&mut self.filters);
        for f in &filters {
            for r in &mut self.rules {
                let named = f.rules.iter().any(|t| {
                    r.meta.id.as_deref() == Some(t.as_str())
                        || r.meta.name.as_deref() == Some(t.as_str())
                });
                if !named || !logsource_fits(&f.logsource, &r.meta.logsource) {
                    continue;
                }
                let base = r.searches.len();
                for (name, s) in f.names.iter().zip(&f.searches) {
                    r.names
                        .push(format!("{}:{name}", f.id.as_deref().unwrap_or(&f.title)));
                    r.searches.push(s.clone());
                }
                let not = Expr::Not(Box::new(f.condition.offset(base)));
                // Each filter joins one top-level `and`: nesting one level per
                // filter would let many filters naming a rule deepen its
                // condition without bound (the engine recurses per level).
                // (`(a and b) and not f` is `a and b and not f`.)
                match &mut r.condition {
                    Expr::And(v) => v.push(not),
                    cond => {
                        let c = std::mem::replace(cond, Expr::Const(false));
                        *cond = Expr::And(vec![c, not]);
                    }
                }
            }
        }
        self.filters = filters;
    }

    /// Rules by id or name, for the correlation engine and `rules test`.
    pub fn find(&self, id_or_name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| {
            r.meta.id.as_deref() == Some(id_or_name) || r.meta.name.as_deref() == Some(id_or_name)
        })
    }
}

/// A filter fits a rule when each log source attribute it sets is the
/// rule's.
fn logsource_fits(filter: &LogSource, rule: &LogSource) -> bool {
    let eq = |f: &Option<String>, r: &Option<String>| match f {
        None => true,
        Some(f) => r.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(f)),
    };
    eq(&filter.category, &rule.category)
        && eq(&filter.product, &rule.product)
        && eq(&filter.service, &rule.service)
}

fn parse_filter(doc: &Y, path: &str) -> Result<Filter, String> {
    let title = doc
        .get("title")
        .and_then(Y::as_str)
        .ok_or("the filter has no `title`")?
        .to_string();
    let section = doc.get("filter").ok_or("no `filter`")?;
    let rules: Vec<String> = match section.get("rules") {
        Some(Y::Sequence(s)) => s
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Y::String(s)) => vec![s.clone()],
        _ => return Err("the filter has no `rules` list naming the rules it applies to".into()),
    };
    let (names, searches, condition) = rule::parse_detection(section, "condition", &["rules"])?;
    Ok(Filter {
        title,
        id: doc.get("id").and_then(Y::as_str).map(str::to_string),
        path: path.to_string(),
        logsource: parse_logsource(doc.get("logsource")),
        rules,
        names,
        searches,
        condition,
    })
}

/// Parses a single rule from YAML text (tests, tools).
pub fn rule_from_yaml(text: &str) -> Result<Rule, String> {
    let mut set = RuleSet::default();
    set.add_yaml(text, "<inline>");
    set.apply_filters();
    if let Some(r) = set.rejected.first() {
        return Err(r.reason.clone());
    }
    set.rules
        .into_iter()
        .next()
        .ok_or_else(|| "no rule in the text".to_string())
}

impl Rule {
    pub fn meta_arc(&self) -> Arc<rule::RuleMeta> {
        self.meta.clone()
    }
}
