//! Reading rule files: multi-document YAML (with the legacy `action:
//! global/reset/repeat` collections), rules, meta-filters and correlation
//! rules (kept aside, as parsed YAML, for the correlation engine).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_yaml::Value as Y;

use crate::condition::Expr;
use crate::error::{RuleError, RuleErrorKind};
use crate::rule::{self, parse_logsource, LogSource, Rule, Search};

/// A rule file (or one document of it) that could not be used, and why:
/// where (path, document, line, column) and what kind of problem, as
/// fields, so an editor can mark the place without reading the message.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub path: String,
    /// 1-based document number in a multi-document file.
    pub document: usize,
    /// 1-based line in the file of the key at fault (or of the YAML error,
    /// or of the document's start when a key is missing); None when the
    /// whole file is at fault (unreadable, too large).
    pub line: Option<usize>,
    /// 1-based column on `line`.
    pub column: Option<usize>,
    pub kind: RuleErrorKind,
    pub title: Option<String>,
    pub id: Option<String>,
    pub reason: String,
}

impl std::error::Error for Rejected {}

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
    /// 1-based document number in its file.
    pub document: usize,
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
    /// Not valid YAML; where, when the parser says.
    #[error("YAML: {message}")]
    Syntax {
        message: String,
        /// 1-based document number.
        document: usize,
        /// 1-based line and column in the text.
        at: Option<(usize, usize)>,
    },
}

impl YamlLimitError {
    /// The rule error it is, with its document and place.
    fn located(self) -> (usize, Option<(usize, usize)>, RuleError) {
        match self {
            YamlLimitError::Syntax { document, at, .. } => (
                document,
                at,
                RuleError::new(RuleErrorKind::Yaml, self.to_string()),
            ),
            e => (1, None, RuleError::new(RuleErrorKind::Limit, e.to_string())),
        }
    }
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
    for (i, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
        use serde::de::DeserializeSeed;
        if let Err(e) = (CountNodes { left: &mut left }).deserialize(de) {
            let message = e.to_string();
            if message.contains(NODE_BUDGET_SPENT) {
                return Err(YamlLimitError::TooManyNodes {
                    limit: limits.max_yaml_nodes,
                });
            }
            return Err(YamlLimitError::Syntax {
                message,
                document: i + 1,
                at: e.location().map(|l| (l.line(), l.column())),
            });
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
                let e = RuleError::new(RuleErrorKind::Limit, e.to_string());
                self.reject(&name, 1, None, e, None);
                return;
            }
        }
        let file_error = |what: String| RuleError::new(RuleErrorKind::File, what);
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => self.add_yaml(&text, &name),
                Err(e) => self.reject(
                    &name,
                    1,
                    None,
                    file_error(format!("not UTF-8 text: {e}")),
                    None,
                ),
            },
            Err(e) => self.reject(
                &name,
                1,
                None,
                file_error(format!("cannot read: {e}")),
                None,
            ),
        }
    }

    fn reject(
        &mut self,
        path: &str,
        document: usize,
        doc: Option<&Y>,
        err: RuleError,
        at: Option<(usize, usize)>,
    ) {
        let f = |k: &str| {
            doc.and_then(|d| d.as_mapping())
                .and_then(|m| m.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        self.rejected.push(Rejected {
            path: path.to_string(),
            document,
            line: at.map(|a| a.0),
            column: at.map(|a| a.1),
            kind: err.kind,
            title: f("title"),
            id: f("id"),
            reason: err.message,
        });
    }

    /// Adds the documents of one YAML text. Filters are applied by
    /// `apply_filters` once everything is loaded.
    pub fn add_yaml(&mut self, text: &str, path: &str) {
        self.files += 1;
        if let Err(e) = check_yaml(text, &self.limits) {
            let (document, at, e) = e.located();
            self.reject(path, document, None, e, at);
            return;
        }
        let mut docs = Vec::new();
        for (i, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
            match Y::deserialize(de) {
                Ok(v) => docs.push(v),
                Err(e) => {
                    let at = e.location().map(|l| (l.line(), l.column()));
                    let e = RuleError::new(RuleErrorKind::Yaml, format!("YAML: {e}"));
                    self.reject(path, i + 1, None, e, at);
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
                        let e = RuleError::from("`action: repeat` with no document before it");
                        self.reject_in(text, path, n, &doc, e.at("action"));
                        continue;
                    }
                },
                Some(a) => {
                    let e = RuleError::from(format!("unknown `action: {a}`"));
                    self.reject_in(text, path, n, &doc, e.at("action"));
                    continue;
                }
                None => match &global {
                    Some(g) => merge(g, &body),
                    None => body,
                },
            };
            previous = Some(doc.clone());
            if let Err(e) = self.add_document(doc.clone(), path, n) {
                self.reject_in(text, path, n, &doc, e);
            }
        }
    }

    /// Rejects document `n` of `text` at the place its error names.
    fn reject_in(&mut self, text: &str, path: &str, n: usize, doc: &Y, e: RuleError) {
        let at = locate(text, n, &e.keys);
        self.reject(path, n, Some(doc), e, at);
    }

    fn add_document(&mut self, doc: Y, path: &str, document: usize) -> Result<(), RuleError> {
        if !doc.is_mapping() {
            return Err("the document is not a YAML map".into());
        }
        if doc.get("correlation").is_some() {
            self.correlations.push(CorrelationDoc {
                path: path.to_string(),
                document,
                doc,
            });
            return Ok(());
        }
        if doc.get("filter").is_some() && doc.get("detection").is_none() {
            self.filters.push(parse_filter(&doc, path)?);
            return Ok(());
        }
        if doc.get("detection").is_none() {
            return Err("not a Sigma rule, filter or correlation (no `detection`, `filter` or `correlation`)".into());
        }
        self.rules.push(rule::parse_rule(&doc, path)?);
        Ok(())
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

fn parse_filter(doc: &Y, path: &str) -> Result<Filter, RuleError> {
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
    let (names, searches, condition) =
        rule::parse_detection(section, "condition", &["rules"]).map_err(|e| e.at("filter"))?;
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
pub fn rule_from_yaml(text: &str) -> Result<Rule, Box<Rejected>> {
    let mut set = RuleSet::default();
    set.add_yaml(text, "<inline>");
    set.apply_filters();
    if let Some(r) = set.rejected.into_iter().next() {
        return Err(Box::new(r));
    }
    set.rules.into_iter().next().ok_or_else(|| {
        Box::new(Rejected {
            path: "<inline>".into(),
            document: 1,
            line: None,
            column: None,
            kind: RuleErrorKind::Rule,
            title: None,
            id: None,
            reason: "no rule in the text".into(),
        })
    })
}

/// Where the key path `keys` (innermost first, as [`RuleError::keys`]) is
/// in document `document` (1-based) of `text`: the 1-based line and column
/// of the innermost key found, each key searched for below the one that
/// holds it; the document's first line when no key is found or none is
/// named. A text search, not a YAML parse: the values were parsed already,
/// this only finds the place to show (flow maps and keys split over lines
/// fall back to the enclosing key).
pub fn locate(text: &str, document: usize, keys: &[String]) -> Option<(usize, usize)> {
    let mut doc = 1;
    let mut content = false;
    let mut start = None;
    let mut at = None;
    let mut want = keys.iter().rev().peekable();
    for (i, line) in text.lines().enumerate() {
        let marker = line == "---" || line.starts_with("--- ");
        if marker && content {
            if doc == document {
                break;
            }
            doc += 1;
            content = false;
        }
        let blank = line.trim().is_empty() || line.trim_start().starts_with('#');
        if marker || blank {
            continue;
        }
        content = true;
        if doc != document {
            continue;
        }
        start.get_or_insert((i + 1, 1));
        let Some(key) = want.peek() else { break };
        if let Some(col) = key_column(line, key) {
            at = Some((i + 1, col));
            want.next();
        }
    }
    at.or(start)
}

/// The 1-based column where `line` holds `key` as a map key (plain or
/// quoted, possibly as a list item).
fn key_column(line: &str, key: &str) -> Option<usize> {
    let body = line.trim_start_matches([' ', '-']);
    let col = line.len() - body.len() + 1;
    let (quote, rest) = match body.chars().next() {
        Some(q @ ('"' | '\'')) => (Some(q), &body[1..]),
        _ => (None, body),
    };
    let rest = rest.strip_prefix(key)?;
    let rest = match quote {
        Some(q) => rest.strip_prefix(q)?,
        None => rest,
    };
    rest.trim_start().starts_with(':').then_some(col)
}

impl Rule {
    pub fn meta_arc(&self) -> Arc<rule::RuleMeta> {
        self.meta.clone()
    }
}

#[cfg(test)]
mod position_tests {
    use super::*;

    fn first_reject(text: &str) -> Rejected {
        let mut set = RuleSet::default();
        set.add_yaml(text, "rules/broken.yml");
        assert_eq!(set.rejected.len(), 1, "{:?}", set.rejected);
        set.rejected.remove(0)
    }

    const GOOD: &str = "title: fine\nlogsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n";

    #[test]
    fn a_broken_rule_names_path_document_line_and_column() {
        // Document 2: a bad modifier on line 8 + 6, column 5.
        let text = format!(
            "{GOOD}---\n# second rule\ntitle: broken\nlogsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 1\n    CommandLine|nosuch: x\n  condition: sel\n"
        );
        let r = first_reject(&text);
        assert_eq!(r.path, "rules/broken.yml");
        assert_eq!(r.document, 2);
        assert_eq!(r.kind, RuleErrorKind::Modifier);
        assert_eq!((r.line, r.column), (Some(16), Some(5)), "{}", r.reason);
        assert!(
            r.reason.contains("unknown modifier `nosuch`"),
            "{}",
            r.reason
        );
        assert_eq!(r.title.as_deref(), Some("broken"));
    }

    #[test]
    fn the_same_key_in_another_search_is_not_taken_for_it() {
        let text = "title: t\nlogsource:\n  product: windows\ndetection:\n  a:\n    Image|endswith: x\n  b:\n    - Image|endswith|bad: y\n  condition: a or b\n";
        let r = first_reject(text);
        assert_eq!((r.line, r.column), (Some(8), Some(7)), "{}", r.reason);
    }

    #[test]
    fn condition_yaml_and_missing_keys() {
        let cond = GOOD.replace("condition: sel", "condition: sel and (");
        let r = first_reject(&cond);
        assert_eq!(r.kind, RuleErrorKind::Condition);
        assert_eq!((r.line, r.column), (Some(7), Some(3)));

        // A YAML error: serde_yaml's position, in the whole file.
        let yaml = format!("{GOOD}---\ntitle: x\n  bad: [\n");
        let r = first_reject(&yaml);
        assert_eq!(r.kind, RuleErrorKind::Yaml);
        assert_eq!(r.document, 2);
        assert_eq!(r.line, Some(10), "{}", r.reason);
        assert!(r.column.is_some());

        // No `title`: the document's first line.
        let untitled =
            format!("{GOOD}---\n\nlogsource: {{}}\ndetection:\n  s: x\n  condition: s\n");
        let r = first_reject(&untitled);
        assert_eq!(r.kind, RuleErrorKind::Rule);
        assert_eq!((r.document, r.line, r.column), (2, Some(10), Some(1)));
    }
}
