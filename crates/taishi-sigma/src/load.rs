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

impl RuleSet {
    /// Loads every `.yml`/`.yaml` file under the paths (folders are walked).
    /// A missing path is an error; a bad rule is a `Rejected` entry.
    pub fn load_paths(paths: &[PathBuf]) -> Result<RuleSet, String> {
        let mut set = RuleSet::default();
        for p in paths {
            if !p.exists() {
                return Err(format!("{}: no such rule file or folder", p.display()));
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
                let cond = std::mem::replace(&mut r.condition, Expr::Const(false));
                r.condition = Expr::And(vec![cond, Expr::Not(Box::new(f.condition.offset(base)))]);
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
