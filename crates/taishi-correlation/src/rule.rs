//! Correlation documents: the parsed form and the parser.

use crate::CorrelationError;
use std::fmt;

use serde_yaml::{Mapping, Value as Yaml};

/// The correlation types of the Sigma correlation specification 2.1.0, plus
/// `value_median` (pySigma's name for the 50th percentile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
    ValueMedian,
}

impl CorrelationType {
    pub const ALL: [CorrelationType; 8] = [
        CorrelationType::EventCount,
        CorrelationType::ValueCount,
        CorrelationType::Temporal,
        CorrelationType::TemporalOrdered,
        CorrelationType::ValueSum,
        CorrelationType::ValueAvg,
        CorrelationType::ValuePercentile,
        CorrelationType::ValueMedian,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
            CorrelationType::ValueMedian => "value_median",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Types that aggregate a field named in `condition.field`.
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
                | CorrelationType::ValueMedian
        )
    }

    /// Types whose measure aggregates numbers (non-numeric values are skipped).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
                | CorrelationType::ValueMedian
        )
    }

    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        )
    }
}

impl fmt::Display for CorrelationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl Op {
    pub const ALL: [Op; 6] = [Op::Gt, Op::Gte, Op::Lt, Op::Lte, Op::Eq, Op::Neq];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Eq => "eq",
            Op::Neq => "neq",
        }
    }

    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Op::Gt => value > bound,
            Op::Gte => value >= bound,
            Op::Lt => value < bound,
            Op::Lte => value <= bound,
            Op::Eq => value == bound,
            Op::Neq => value != bound,
        }
    }
}

/// `correlation.condition`: a conjunction of comparisons (the spec's ranges,
/// `gt: 100` + `lte: 200`), the aggregated field(s) and, for
/// `value_percentile`, the percentile.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub bounds: Vec<(Op, f64)>,
    /// `condition.field`: one field, or several for `value_count` (the
    /// distinct combinations are counted).
    pub fields: Vec<String>,
    /// `condition.percentile` (0–100) for `value_percentile`; 50 for
    /// `value_median`.
    pub percentile: Option<f64>,
}

impl Condition {
    pub fn holds(&self, value: f64) -> bool {
        !value.is_nan() && self.bounds.iter().all(|&(op, b)| op.holds(value, b))
    }

    /// True when only `gt`/`gte` bounds are given: adding events to a window
    /// can then only move a count towards satisfying it, so a hit can be
    /// raised the moment it is crossed instead of when the window ends.
    pub fn lower_bounds_only(&self) -> bool {
        self.bounds
            .iter()
            .all(|(op, _)| matches!(op, Op::Gt | Op::Gte))
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (op, b)) in self.bounds.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            write!(f, "{} {}", op.as_str(), b)?;
        }
        Ok(())
    }
}

/// `correlation.timespan`, kept as written and in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timespan {
    pub text: String,
    pub seconds: u64,
}

impl Timespan {
    /// `30s`, `5m`, `1h`, `1d`; also `w`, and pySigma's `M` (30.44 days) and
    /// `y` (365.24 days) so that rules written for pySigma load.
    pub fn parse(s: &str) -> Option<Timespan> {
        let s = s.trim();
        let unit = s.chars().last()?;
        let digits = &s[..s.len() - unit.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        let mult: u64 = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            'M' => 2_629_746,
            'y' => 31_556_952,
            _ => return None,
        };
        let seconds = n.checked_mul(mult)?;
        // Beyond ~100 years a window is meaningless and microsecond maths
        // would come close to overflowing.
        if seconds > 100 * 31_556_952 {
            return None;
        }
        Some(Timespan {
            text: s.to_string(),
            seconds,
        })
    }

    pub fn micros(&self) -> i64 {
        (self.seconds as i64).saturating_mul(1_000_000)
    }
}

/// One definition of the levels, shared with detection rules, alerts and the API.
pub use taishi_event::Level;

const STATUSES: [&str; 5] = [
    "stable",
    "test",
    "experimental",
    "deprecated",
    "unsupported",
];

/// One parsed correlation document.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationRule {
    pub title: String,
    /// The file the rule came from, set by whoever loaded it (empty when
    /// parsed from a string): with the title it keys a rule that has
    /// neither `id` nor `name`.
    pub source: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub references: Vec<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub falsepositives: Vec<String>,
    pub level: Option<Level>,
    pub tags: Vec<String>,
    pub kind: CorrelationType,
    /// Referenced rules (ids or names), in the order written: the order
    /// `temporal_ordered` requires.
    pub rules: Vec<String>,
    /// Empty: one group for all events.
    pub group_by: Vec<String>,
    pub timespan: Timespan,
    pub condition: Condition,
    /// `alias -> [(rule id or name, field in that rule's events)]`.
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    /// Whether the referenced rules' own matches are still reported.
    pub generate: bool,
    /// Things that are accepted but worth telling the rule author.
    pub warnings: Vec<String>,
}

impl CorrelationRule {
    /// `id`, else `name`, else `title`: how logs and errors name the rule.
    pub fn label(&self) -> &str {
        self.id
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.title)
    }

    /// The event field that carries `field` for events of the rule known as
    /// `rule_id`/`rule_name`, after `aliases`.
    pub fn resolve_field<'a>(
        &'a self,
        field: &'a str,
        rule_id: &str,
        rule_name: Option<&str>,
    ) -> &'a str {
        let Some((_, map)) = self.aliases.iter().find(|(a, _)| a == field) else {
            return field;
        };
        map.iter()
            .find(|(r, _)| r == rule_id || Some(r.as_str()) == rule_name)
            .map_or(field, |(_, f)| f.as_str())
    }
}

/// True when a YAML document is a correlation rule (has a `correlation`
/// section), so a caller reading a multi-document rule file can sort the
/// documents.
pub fn is_correlation(doc: &Yaml) -> bool {
    doc.as_mapping()
        .is_some_and(|m| m.get("correlation").is_some())
}

/// Parses one correlation document. Errors name the offending field, e.g.
/// `correlation.timespan: "5x" is not a duration (use 30s, 5m, 1h, 1d)`.
pub fn parse_correlation(doc: &Yaml) -> Result<CorrelationRule, CorrelationError> {
    let top = doc
        .as_mapping()
        .ok_or("a correlation rule must be a YAML mapping")?;
    let corr = match top.get("correlation") {
        Some(Yaml::Mapping(m)) => m,
        Some(other) => {
            return Err(
                format!("correlation: expected a mapping, found {}", describe(other)).into(),
            )
        }
        None => return Err("correlation: missing (not a correlation rule)".into()),
    };
    let mut warnings = Vec::new();

    let title = opt_string(top, "title", "title")?.ok_or("title: missing")?;
    if title.trim().is_empty() {
        return Err("title: empty".into());
    }
    if title.chars().count() > 256 {
        warnings.push("title: longer than the 256 characters the specification allows".into());
    }
    let id = opt_string(top, "id", "id")?;
    let name = opt_string(top, "name", "name")?;
    let status = opt_string(top, "status", "status")?;
    if let Some(s) = &status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(format!("status: {s:?} is not one of {}", STATUSES.join(", ")).into());
        }
    }
    let level = match opt_string(top, "level", "level")? {
        None => None,
        Some(s) => Some(Level::parse(&s).ok_or_else(|| {
            format!("level: {s:?} is not one of informational, low, medium, high, critical")
        })?),
    };

    let kind_text =
        opt_string(corr, "type", "correlation.type")?.ok_or("correlation.type: missing")?;
    let kind = CorrelationType::parse(&kind_text).ok_or_else(|| {
        let all: Vec<_> = CorrelationType::ALL.iter().map(|t| t.as_str()).collect();
        format!(
            "correlation.type: {kind_text:?} is not one of {}",
            all.join(", ")
        )
    })?;

    let rules =
        string_list(corr, "rules", "correlation.rules")?.ok_or("correlation.rules: missing")?;
    if rules.is_empty() {
        return Err("correlation.rules: empty; name at least one rule by id or name".into());
    }
    // A set, not a scan of the list so far: a validated document may list
    // a hundred thousand names, and a quadratic check would take minutes.
    let mut seen = std::collections::HashSet::new();
    for (i, r) in rules.iter().enumerate() {
        if r.trim().is_empty() {
            return Err(format!("correlation.rules[{i}]: empty reference").into());
        }
        if !seen.insert(r) {
            return Err(format!("correlation.rules[{i}]: {r:?} is listed twice").into());
        }
    }

    let group_by = one_of(corr, &["group-by", "group_by", "groupby"], "correlation")?;
    let group_by = match group_by {
        None => Vec::new(),
        Some((key, v)) => list_of_strings(v, &format!("correlation.{key}"))?,
    };
    let mut seen = std::collections::HashSet::new();
    for (i, g) in group_by.iter().enumerate() {
        if !seen.insert(g) {
            return Err(format!("correlation.group-by[{i}]: {g:?} is listed twice").into());
        }
    }

    let (ts_key, ts_val) = one_of(corr, &["timespan", "timeframe"], "correlation")?
        .ok_or("correlation.timespan: missing")?;
    let ts_text = scalar_text(ts_val);
    let timespan = match &ts_text {
        Some(t) => Timespan::parse(t),
        None => None,
    }
    .ok_or_else(|| {
        let shown = ts_text.unwrap_or_else(|| describe(ts_val));
        format!("correlation.{ts_key}: {shown:?} is not a duration (use 30s, 5m, 1h, 1d)")
    })?;
    if timespan.seconds == 0 {
        return Err(format!(
            "correlation.{ts_key}: {:?} must be longer than zero",
            timespan.text
        )
        .into());
    }

    let condition = parse_condition(corr.get("condition"), kind, rules.len())?;

    let listed: std::collections::HashSet<&str> = rules.iter().map(String::as_str).collect();
    let grouped: std::collections::HashSet<&str> = group_by.iter().map(String::as_str).collect();
    let aliases = match corr.get("aliases") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Mapping(m)) => {
            let mut out = Vec::new();
            for (k, v) in m {
                let alias =
                    scalar_text(k).ok_or("correlation.aliases: alias names must be text")?;
                let path = format!("correlation.aliases.{alias}");
                let Yaml::Mapping(per_rule) = v else {
                    return Err(format!(
                        "{path}: expected a mapping of rule name to field name, found {}",
                        describe(v)
                    )
                    .into());
                };
                let mut map = Vec::new();
                for (r, f) in per_rule {
                    let r =
                        scalar_text(r).ok_or_else(|| format!("{path}: rule names must be text"))?;
                    let f = f
                        .as_str()
                        .ok_or_else(|| format!("{path}.{r}: expected a field name"))?;
                    if !listed.contains(r.as_str()) {
                        warnings.push(format!(
                            "{path}.{r}: {r:?} is not in correlation.rules; the alias applies only if it is the id or name of a listed rule"
                        ));
                    }
                    map.push((r, f.to_string()));
                }
                if !grouped.contains(alias.as_str()) && !condition.fields.contains(&alias) {
                    warnings.push(format!(
                        "{path}: the alias is used neither in group-by nor in condition.field"
                    ));
                }
                out.push((alias, map));
            }
            out
        }
        Some(other) => {
            return Err(format!(
                "correlation.aliases: expected a mapping, found {}",
                describe(other)
            )
            .into())
        }
    };

    // The specification lists `generate` among the top-level attributes;
    // pySigma reads it inside `correlation`. Both are accepted.
    let g_top = opt_bool(top, "generate", "generate")?;
    let g_corr = opt_bool(corr, "generate", "correlation.generate")?;
    let generate =
        match (g_top, g_corr) {
            (Some(a), Some(b)) if a != b => return Err(
                "generate: given both at the top level and in correlation, with different values"
                    .into(),
            ),
            (a, b) => a.or(b).unwrap_or(false),
        };

    if kind == CorrelationType::ValuePercentile
        && corr
            .get("condition")
            .and_then(Yaml::as_mapping)
            .is_some_and(|m| m.get("percentile").is_none())
    {
        warnings
            .push("correlation.condition.percentile: missing; the median (50) is used".to_string());
    }

    Ok(CorrelationRule {
        source: String::new(),
        title,
        id,
        name,
        status,
        description: opt_string(top, "description", "description")?,
        author: opt_string(top, "author", "author")?,
        references: string_list(top, "references", "references")?.unwrap_or_default(),
        date: opt_string(top, "date", "date")?,
        modified: opt_string(top, "modified", "modified")?,
        falsepositives: string_list(top, "falsepositives", "falsepositives")?.unwrap_or_default(),
        level,
        tags: string_list(top, "tags", "tags")?.unwrap_or_default(),
        kind,
        rules,
        group_by,
        timespan,
        condition,
        aliases,
        generate,
        warnings,
    })
}

fn parse_condition(
    v: Option<&Yaml>,
    kind: CorrelationType,
    n_rules: usize,
) -> Result<Condition, CorrelationError> {
    let m = match v {
        None | Some(Yaml::Null) if kind.is_temporal() => {
            // The spec's temporal examples have no condition: every
            // referenced rule must match (pySigma's default too).
            return Ok(Condition {
                bounds: vec![(Op::Gte, n_rules as f64)],
                fields: Vec::new(),
                percentile: None,
            });
        }
        None | Some(Yaml::Null) => {
            return Err(format!(
                "correlation.condition: missing; {kind} needs one, e.g. {{gte: 10}}"
            ).into())
        }
        Some(Yaml::Mapping(m)) => m,
        Some(Yaml::String(s)) => {
            return Err(format!(
                "correlation.condition: {s:?} is an expression; only a mapping such as {{gte: 10}} is supported"
            ).into())
        }
        Some(other) => {
            return Err(format!(
                "correlation.condition: expected a mapping such as {{gte: 10}}, found {}",
                describe(other)
            ).into())
        }
    };
    let mut bounds = Vec::new();
    let mut fields = Vec::new();
    let mut percentile = None;
    for (k, val) in m {
        let key = scalar_text(k).unwrap_or_else(|| describe(k));
        let path = format!("correlation.condition.{key}");
        if let Some(op) = Op::ALL.into_iter().find(|o| o.as_str() == key) {
            let n = number(val).ok_or_else(|| {
                format!(
                    "{path}: {} is not a number",
                    scalar_text(val).unwrap_or_else(|| describe(val))
                )
            })?;
            bounds.push((op, n));
        } else if key == "field" {
            fields = list_of_strings(val, &path)?;
            if fields.is_empty() || fields.iter().any(|f| f.is_empty()) {
                return Err(format!("{path}: empty field name").into());
            }
        } else if key == "percentile" {
            let p = number(val)
                .filter(|p| (0.0..=100.0).contains(p))
                .ok_or_else(|| {
                    format!(
                        "{path}: {} is not a percentile between 0 and 100",
                        scalar_text(val).unwrap_or_else(|| describe(val))
                    )
                })?;
            percentile = Some(p);
        } else {
            return Err(format!(
                "{path}: unknown key (use gt, gte, lt, lte, eq, neq, field, percentile)"
            )
            .into());
        }
    }
    if bounds.is_empty() {
        return Err(
            "correlation.condition: no comparison; give one of gt, gte, lt, lte, eq, neq".into(),
        );
    }
    check_satisfiable(&bounds)?;
    if kind.needs_field() {
        if fields.is_empty() {
            return Err(format!(
                "correlation.condition.field: missing; {kind} aggregates the field named here"
            )
            .into());
        }
        if fields.len() > 1 && kind != CorrelationType::ValueCount {
            return Err(
                format!("correlation.condition.field: {kind} takes one field, not a list").into(),
            );
        }
    } else if !fields.is_empty() {
        return Err(
            format!("correlation.condition.field: {kind} does not aggregate a field").into(),
        );
    }
    match kind {
        CorrelationType::ValuePercentile => {
            percentile = Some(percentile.unwrap_or(50.0));
        }
        CorrelationType::ValueMedian => {
            if percentile.is_some_and(|p| p != 50.0) {
                return Err(
                    "correlation.condition.percentile: value_median is the 50th percentile; use value_percentile for others".into(),
                );
            }
            percentile = Some(50.0);
        }
        _ if percentile.is_some() => {
            return Err(format!(
                "correlation.condition.percentile: only value_percentile takes a percentile, not {kind}"
            ).into());
        }
        _ => {}
    }
    Ok(Condition {
        bounds,
        fields,
        percentile,
    })
}

/// Rejects ranges no value can satisfy (`gt: 100` with `lt: 50`), which
/// would silently never fire.
fn check_satisfiable(bounds: &[(Op, f64)]) -> Result<(), CorrelationError> {
    let mut lo = f64::NEG_INFINITY;
    let mut lo_strict = false;
    let mut hi = f64::INFINITY;
    let mut hi_strict = false;
    for &(op, b) in bounds {
        match op {
            Op::Gt | Op::Gte if b > lo || (b == lo && op == Op::Gt) => {
                lo = b;
                lo_strict = op == Op::Gt;
            }
            Op::Lt | Op::Lte if b < hi || (b == hi && op == Op::Lt) => {
                hi = b;
                hi_strict = op == Op::Lt;
            }
            Op::Eq => {
                if b > lo || (b == lo && !lo_strict) {
                    lo = b;
                    lo_strict = false;
                }
                if b < hi || (b == hi && !hi_strict) {
                    hi = b;
                    hi_strict = false;
                }
            }
            _ => {}
        }
    }
    let eqs: Vec<f64> = bounds
        .iter()
        .filter(|(o, _)| *o == Op::Eq)
        .map(|&(_, b)| b)
        .collect();
    let empty = lo > hi
        || (lo == hi && (lo_strict || hi_strict))
        || eqs.windows(2).any(|w| w[0] != w[1])
        || bounds
            .iter()
            .any(|&(o, b)| o == Op::Neq && lo == hi && b == lo);
    if empty {
        let shown: Vec<String> = bounds
            .iter()
            .map(|(o, b)| format!("{} {}", o.as_str(), b))
            .collect();
        return Err(format!(
            "correlation.condition: {} can never all hold",
            shown.join(" and ")
        )
        .into());
    }
    Ok(())
}

fn describe(v: &Yaml) -> String {
    match v {
        Yaml::Null => "nothing".into(),
        Yaml::Bool(b) => format!("{b}"),
        Yaml::Number(n) => format!("{n}"),
        Yaml::String(s) => format!("{s:?}"),
        Yaml::Sequence(_) => "a list".into(),
        Yaml::Mapping(_) => "a mapping".into(),
        Yaml::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// Scalars as text: YAML reads `id: 1234` as a number, which is still a
/// valid reference.
fn scalar_text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(v: &Yaml) -> Option<f64> {
    let n = match v {
        Yaml::Number(n) => n.as_f64(),
        Yaml::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    n.is_finite().then_some(n)
}

fn opt_string(m: &Mapping, key: &str, path: &str) -> Result<Option<String>, CorrelationError> {
    match m.get(key) {
        None | Some(Yaml::Null) => Ok(None),
        Some(v) => scalar_text(v)
            .map(Some)
            .ok_or_else(|| format!("{path}: expected text, found {}", describe(v)).into()),
    }
}

fn opt_bool(m: &Mapping, key: &str, path: &str) -> Result<Option<bool>, CorrelationError> {
    match m.get(key) {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(format!("{path}: expected true or false, found {}", describe(v)).into()),
    }
}

/// A list of text, also accepting a single text (pySigma does too).
fn list_of_strings(v: &Yaml, path: &str) -> Result<Vec<String>, CorrelationError> {
    match v {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                scalar_text(it).ok_or_else(|| {
                    format!("{path}[{i}]: expected text, found {}", describe(it)).into()
                })
            })
            .collect(),
        other => scalar_text(other).map(|s| vec![s]).ok_or_else(|| {
            format!("{path}: expected a list of text, found {}", describe(other)).into()
        }),
    }
}

fn string_list(
    m: &Mapping,
    key: &str,
    path: &str,
) -> Result<Option<Vec<String>>, CorrelationError> {
    m.get(key).map(|v| list_of_strings(v, path)).transpose()
}

/// The one key of `keys` present (current spelling first, then older
/// ones); two spellings at once are an error rather than a silent pick.
fn one_of<'a>(
    m: &'a Mapping,
    keys: &[&'static str],
    section: &str,
) -> Result<Option<(&'static str, &'a Yaml)>, CorrelationError> {
    let mut found: Option<(&'static str, &Yaml)> = None;
    for &k in keys {
        if let Some(v) = m.get(k) {
            if let Some((first, _)) = found {
                return Err(
                    format!("{section}.{k}: also given as {section}.{first}; keep one").into(),
                );
            }
            found = Some((k, v));
        }
    }
    Ok(found)
}
