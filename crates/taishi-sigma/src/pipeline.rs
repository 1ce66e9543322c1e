//! Processing pipelines in the YAML format of pySigma: `field_name_mapping`,
//! `field_name_prefix`, `add_condition`, `change_logsource`,
//! `value_placeholders`/`wildcard_placeholders` with `vars`, each gated by
//! `rule_conditions` on the log source (`rule_cond_op: and|or`,
//! `rule_cond_not`). Unknown transformation or condition types are errors,
//! never silently ignored.
//!
//! How pipelines combine (documented for `--pipeline`): a pipeline with
//! `add_condition` transformations describes *one way* log sources are
//! recorded (Sysmon, Security 4688, …) and is a *variant*: a rule is compiled
//! once per variant whose `add_condition` applies to it, and matches when any
//! of them does. Pipelines without `add_condition` (pure field mappings,
//! placeholder values) are chained after every variant.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_yaml::Value as Y;

use crate::rule::{self, FieldItem, LogSource};

/// A pipeline that cannot be read or used; the message names the file (or
/// the built-in pipeline) and the transformation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PipelineError(String);

impl From<&str> for PipelineError {
    fn from(s: &str) -> PipelineError {
        PipelineError(s.to_string())
    }
}

impl From<String> for PipelineError {
    fn from(s: String) -> PipelineError {
        PipelineError(s)
    }
}

/// The pipelines shipped in the crate.
pub const BUILTIN: [(&str, &str); 4] = [
    ("windows", include_str!("../pipelines/windows.yml")),
    (
        "windows-security",
        include_str!("../pipelines/windows-security.yml"),
    ),
    ("ecs-windows", include_str!("../pipelines/ecs-windows.yml")),
    ("taishi", include_str!("../pipelines/taishi.yml")),
];

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub priority: i64,
    pub vars: HashMap<String, Vec<String>>,
    pub transformations: Vec<Transformation>,
}

#[derive(Debug, Clone)]
pub struct Transformation {
    pub id: Option<String>,
    pub kind: Kind,
    pub rule_conditions: Vec<RuleCond>,
    pub cond_or: bool,
    pub cond_not: bool,
    pub include_fields: Vec<String>,
    pub exclude_fields: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum RuleCond {
    Logsource(LogSource),
    /// The rule carries this tag.
    Tag(String),
}

#[derive(Debug, Clone)]
pub enum Kind {
    FieldNameMapping(Vec<(String, Vec<String>)>),
    FieldNamePrefixMapping(Vec<(String, String)>),
    FieldNamePrefix(String),
    FieldNameSuffix(String),
    AddCondition(Vec<FieldItem>),
    ChangeLogsource(LogSource),
    ValuePlaceholders,
    WildcardPlaceholders,
}

fn s(v: &Y) -> Option<String> {
    match v {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn str_list(v: Option<&Y>) -> Vec<String> {
    match v {
        Some(Y::Sequence(q)) => q.iter().filter_map(s).collect(),
        Some(v) => s(v).into_iter().collect(),
        None => Vec::new(),
    }
}

impl Pipeline {
    pub fn builtin(name: &str) -> Option<Pipeline> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(n, text)| Pipeline::parse(text, &format!("built-in pipeline {n}")).ok())
    }

    pub fn load(path: &Path) -> Result<Pipeline, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Pipeline::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Pipeline, PipelineError> {
        let doc: Y = serde_yaml::from_str(text).map_err(|e| format!("{origin}: YAML: {e}"))?;
        let name = doc
            .get("name")
            .and_then(s)
            .unwrap_or_else(|| origin.to_string());
        let priority = doc.get("priority").and_then(Y::as_i64).unwrap_or(0);
        let mut vars = HashMap::new();
        if let Some(Y::Mapping(m)) = doc.get("vars") {
            for (k, v) in m {
                if let Some(k) = s(k) {
                    vars.insert(k, str_list(Some(v)));
                }
            }
        }
        let mut transformations = Vec::new();
        if let Some(Y::Sequence(items)) = doc.get("transformations") {
            for (i, t) in items.iter().enumerate() {
                let t = parse_transformation(t)
                    .map_err(|e| format!("{origin}: transformation {}: {e}", i + 1))?;
                transformations.push(t);
            }
        }
        Ok(Pipeline {
            name,
            priority,
            vars,
            transformations,
        })
    }

    /// Whether the pipeline names log sources (a variant) rather than only
    /// mapping fields or giving placeholder values.
    pub fn is_variant(&self) -> bool {
        self.transformations
            .iter()
            .any(|t| matches!(t.kind, Kind::AddCondition(_)))
    }
}

fn parse_transformation(t: &Y) -> Result<Transformation, PipelineError> {
    let ty = t.get("type").and_then(Y::as_str).ok_or("no `type`")?;
    let kind = match ty {
        "field_name_mapping" => {
            let m = t
                .get("mapping")
                .and_then(Y::as_mapping)
                .ok_or("`field_name_mapping` needs a `mapping`")?;
            Kind::FieldNameMapping(
                m.iter()
                    .filter_map(|(k, v)| Some((s(k)?, str_list(Some(v)))))
                    .collect(),
            )
        }
        "field_name_prefix_mapping" => {
            let m = t
                .get("mapping")
                .and_then(Y::as_mapping)
                .ok_or("needs a `mapping`")?;
            Kind::FieldNamePrefixMapping(
                m.iter().filter_map(|(k, v)| Some((s(k)?, s(v)?))).collect(),
            )
        }
        "field_name_prefix" => {
            Kind::FieldNamePrefix(t.get("prefix").and_then(s).ok_or("needs a `prefix`")?)
        }
        "field_name_suffix" => {
            Kind::FieldNameSuffix(t.get("suffix").and_then(s).ok_or("needs a `suffix`")?)
        }
        "add_condition" => {
            let m = t
                .get("conditions")
                .and_then(Y::as_mapping)
                .ok_or("`add_condition` needs `conditions`")?;
            let mut items = Vec::new();
            for (k, v) in m {
                let k = s(k).ok_or("a condition field that is not a string")?;
                let mut parts = k.split('|');
                let field = parts.next().unwrap_or_default().to_string();
                let mods: Vec<&str> = parts.collect();
                items.push(
                    rule::parse_item(Some(field), &mods, v)
                        .map_err(|e| format!("condition `{k}`: {e}"))?,
                );
            }
            Kind::AddCondition(items)
        }
        "change_logsource" => Kind::ChangeLogsource(LogSource {
            category: t.get("category").and_then(s),
            product: t.get("product").and_then(s),
            service: t.get("service").and_then(s),
        }),
        "value_placeholders" => Kind::ValuePlaceholders,
        "wildcard_placeholders" => Kind::WildcardPlaceholders,
        other => return Err(format!("unsupported transformation type `{other}`").into()),
    };
    let mut rule_conditions = Vec::new();
    if let Some(Y::Sequence(conds)) = t.get("rule_conditions") {
        for c in conds {
            match c.get("type").and_then(Y::as_str) {
                Some("logsource") => {
                    rule_conditions.push(RuleCond::Logsource(rule::parse_logsource(Some(c))))
                }
                Some("tag") => rule_conditions
                    .push(RuleCond::Tag(c.get("tag").and_then(s).unwrap_or_default())),
                Some(o) => return Err(format!("unsupported rule condition type `{o}`").into()),
                None => return Err("a rule condition without `type`".into()),
            }
        }
    }
    let mut include_fields = Vec::new();
    let mut exclude_fields = Vec::new();
    if let Some(Y::Sequence(conds)) = t.get("field_name_conditions") {
        for c in conds {
            match c.get("type").and_then(Y::as_str) {
                Some("include_fields") => include_fields.extend(str_list(c.get("fields"))),
                Some("exclude_fields") => exclude_fields.extend(str_list(c.get("fields"))),
                Some(o) => {
                    return Err(format!("unsupported field name condition type `{o}`").into())
                }
                None => return Err("a field name condition without `type`".into()),
            }
        }
    }
    Ok(Transformation {
        id: t.get("id").and_then(s),
        kind,
        rule_conditions,
        cond_or: t.get("rule_cond_op").and_then(Y::as_str) == Some("or"),
        cond_not: t.get("rule_cond_not").and_then(Y::as_bool).unwrap_or(false),
        include_fields,
        exclude_fields,
    })
}

fn logsource_matches(cond: &LogSource, ls: &LogSource) -> bool {
    let eq = |c: &Option<String>, r: &Option<String>| match c {
        None => true,
        Some(c) => r.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(c)),
    };
    eq(&cond.category, &ls.category)
        && eq(&cond.product, &ls.product)
        && eq(&cond.service, &ls.service)
}

/// A chain of pipelines applied to one rule.
#[derive(Debug, Clone)]
pub struct Applied {
    /// Some `add_condition` applied.
    pub claimed: bool,
    /// Conditions the event must meet, with final field names.
    pub guard: Vec<FieldItem>,
    mappings: Vec<Transformation>,
    pub vars: HashMap<String, Vec<String>>,
    pub wildcard_placeholders: bool,
}

impl Applied {
    /// The event field names a rule field maps to.
    pub fn map_field(&self, field: &str) -> Vec<String> {
        map_through(&self.mappings, field)
    }
}

fn map_through(mappings: &[Transformation], field: &str) -> Vec<String> {
    let mut names = vec![field.to_string()];
    for t in mappings {
        let mut next = Vec::with_capacity(names.len());
        for n in names {
            if (!t.include_fields.is_empty() && !t.include_fields.contains(&n))
                || t.exclude_fields.contains(&n)
            {
                next.push(n);
                continue;
            }
            match &t.kind {
                Kind::FieldNameMapping(m) => match m.iter().find(|(k, _)| *k == n) {
                    Some((_, to)) if !to.is_empty() => next.extend(to.iter().cloned()),
                    _ => next.push(n),
                },
                Kind::FieldNamePrefixMapping(m) => {
                    match m.iter().find(|(k, _)| n.starts_with(k.as_str())) {
                        Some((k, to)) => next.push(format!("{to}{}", &n[k.len()..])),
                        None => next.push(n),
                    }
                }
                Kind::FieldNamePrefix(p) => next.push(format!("{p}{n}")),
                Kind::FieldNameSuffix(p) => next.push(format!("{n}{p}")),
                _ => next.push(n),
            }
        }
        names = next;
    }
    names.dedup();
    names
}

/// Applies a chain of pipelines (in order) to a rule.
pub fn apply(chain: &[Arc<Pipeline>], meta: &rule::RuleMeta) -> Applied {
    let mut ls = meta.logsource.clone();
    let mut out = Applied {
        claimed: false,
        guard: Vec::new(),
        mappings: Vec::new(),
        vars: HashMap::new(),
        wildcard_placeholders: false,
    };
    // Guard items with the index of the mapping list when they were added,
    // so only later mappings rename their fields.
    let mut pending: Vec<(usize, FieldItem)> = Vec::new();
    let mut use_vars = false;
    for p in chain {
        for t in &p.transformations {
            let results = t.rule_conditions.iter().map(|c| match c {
                RuleCond::Logsource(l) => logsource_matches(l, &ls),
                RuleCond::Tag(tag) => meta.tags.iter().any(|x| x.eq_ignore_ascii_case(tag)),
            });
            let hit = if t.rule_conditions.is_empty() {
                true
            } else if t.cond_or {
                results.into_iter().any(|b| b)
            } else {
                results.into_iter().all(|b| b)
            };
            if hit == t.cond_not {
                continue;
            }
            match &t.kind {
                Kind::AddCondition(items) => {
                    out.claimed = true;
                    for it in items {
                        pending.push((out.mappings.len(), it.clone()));
                    }
                }
                Kind::ChangeLogsource(l) => {
                    if l.category.is_some() {
                        ls.category = l.category.clone();
                    }
                    if l.product.is_some() {
                        ls.product = l.product.clone();
                    }
                    if l.service.is_some() {
                        ls.service = l.service.clone();
                    }
                }
                Kind::ValuePlaceholders => use_vars = true,
                Kind::WildcardPlaceholders => out.wildcard_placeholders = true,
                _ => out.mappings.push(t.clone()),
            }
        }
        for (k, v) in &p.vars {
            out.vars.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // `vars` are offered to `expand` even without an explicit
    // `value_placeholders` step: giving values is the intent.
    let _ = use_vars;
    for (at, mut it) in pending {
        if let Some(f) = &it.field {
            let mapped = map_through(&out.mappings[at..], f);
            it.field = mapped.into_iter().next();
        }
        out.guard.push(it);
    }
    out
}

/// How events are routed to a set of variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Every event.
    Any,
    /// The Windows layout: `EventID` beside `Channel`.
    Windows,
    /// Windows events with ECS/winlogbeat names (`winlog.event_id`).
    EcsWindows,
    /// Everything that is neither.
    Other,
}

/// A named set of variants (each a chain of pipelines) for one layout.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub layout: Layout,
    pub variants: Vec<Vec<Arc<Pipeline>>>,
    /// Rules that no variant claims are skipped rather than applied to every
    /// event (the built-in profiles know their log sources).
    pub only_mapped: bool,
    /// Compiled on the first event of its layout rather than up front. For
    /// a profile that maps the same log sources as an eager one (so that
    /// which rules load and fail is already known), and whose events many
    /// runs never see: winlogbeat JSON in a hunt over EVTX files.
    pub lazy: bool,
}

fn builtin_arc(name: &str) -> Result<Arc<Pipeline>, PipelineError> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| PipelineError(format!("no built-in pipeline `{name}`")))
        .and_then(|(n, text)| Pipeline::parse(text, &format!("built-in pipeline {n}")))
        .map(Arc::new)
}

impl Profile {
    /// The built-in profiles, routed by event layout.
    pub fn defaults() -> Result<Vec<Profile>, PipelineError> {
        let win = builtin_arc("windows")?;
        let sec = builtin_arc("windows-security")?;
        let ecs = builtin_arc("ecs-windows")?;
        let taishi = builtin_arc("taishi")?;
        Ok(vec![
            Profile {
                name: "windows".into(),
                layout: Layout::Windows,
                variants: vec![vec![win.clone()], vec![sec.clone()]],
                only_mapped: true,
                lazy: false,
            },
            Profile {
                name: "ecs-windows".into(),
                layout: Layout::EcsWindows,
                variants: vec![vec![win, ecs.clone()], vec![sec, ecs]],
                only_mapped: true,
                lazy: true,
            },
            Profile {
                name: "taishi".into(),
                layout: Layout::Other,
                variants: vec![vec![taishi]],
                only_mapped: true,
                lazy: false,
            },
        ])
    }

    /// One profile for every event from `--pipeline` arguments: built-in
    /// profile or pipeline names, or pipeline files. Variants are tried
    /// alternatively; the other pipelines are chained after each.
    pub fn from_args(args: &[String]) -> Result<Profile, PipelineError> {
        let defaults = Profile::defaults()?;
        let mut variants: Vec<Vec<Arc<Pipeline>>> = Vec::new();
        let mut commons: Vec<Arc<Pipeline>> = Vec::new();
        for a in args {
            for a in a.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                if let Some(p) = defaults.iter().find(|p| p.name == a) {
                    variants.extend(p.variants.iter().cloned());
                    continue;
                }
                let p =
                    if BUILTIN.iter().any(|(n, _)| *n == a) {
                        builtin_arc(a)?
                    } else {
                        let path = Path::new(a);
                        if !path.exists() {
                            return Err(format!(
                            "--pipeline {a}: neither a file nor a built-in pipeline (built-in: {})",
                            BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        )
                            .into());
                        }
                        Arc::new(Pipeline::load(path)?)
                    };
                if p.is_variant() {
                    variants.push(vec![p]);
                } else {
                    commons.push(p);
                }
            }
        }
        if variants.is_empty() {
            variants.push(Vec::new());
        }
        for v in &mut variants {
            v.extend(commons.iter().cloned());
            v.sort_by_key(|p| p.priority);
        }
        Ok(Profile {
            name: args.join(","),
            layout: Layout::Any,
            variants,
            only_mapped: false,
            lazy: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for (n, text) in BUILTIN {
            Pipeline::parse(text, n).unwrap();
        }
    }

    #[test]
    fn mapping_applies_only_to_later_conditions() {
        let p = Pipeline::parse(
            r#"
name: t
transformations:
  - type: add_condition
    conditions: {EventID: 1}
    rule_conditions: [{type: logsource, category: process_creation}]
  - type: field_name_mapping
    mapping: {EventID: winlog.event_id, Image: [process.executable, Image]}
"#,
            "t",
        )
        .unwrap();
        let meta = rule::RuleMeta {
            logsource: LogSource {
                category: Some("process_creation".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let a = apply(&[Arc::new(p)], &meta);
        assert!(a.claimed);
        assert_eq!(a.guard[0].field.as_deref(), Some("winlog.event_id"));
        assert_eq!(a.map_field("Image"), ["process.executable", "Image"]);
        assert_eq!(a.map_field("CommandLine"), ["CommandLine"]);
    }
}
