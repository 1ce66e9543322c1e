//! Sigma rules as written: metadata, log source, search identifiers with
//! their field items and value modifiers, and the resolved condition. This
//! is independent of any pipeline; `compile` turns it into a matcher.

use std::sync::Arc;

use ipnet::IpNet;
use serde_yaml::Value as Y;

use crate::condition::{self, Expr};
use crate::error::{RuleError, RuleErrorKind};
use crate::string::{self, Part, SigmaString, Staged};

/// One definition of the levels, shared with correlations, alerts and the API.
pub use taishi_event::Level;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LogSource {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = &self.product {
            parts.push(format!("product: {p}"));
        }
        if let Some(c) = &self.category {
            parts.push(format!("category: {c}"));
        }
        if let Some(s) = &self.service {
            parts.push(format!("service: {s}"));
        }
        if parts.is_empty() {
            f.write_str("(no log source)")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// What a match reports about its rule.
#[derive(Debug, Clone, Default)]
pub struct RuleMeta {
    pub id: Option<String>,
    /// The Sigma `name`, which correlation rules may refer to.
    pub name: Option<String>,
    pub title: String,
    pub level: Level,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub author: Option<String>,
    pub description: Option<String>,
    pub logsource: LogSource,
    /// The rule's `fields`: what an analyst should see.
    pub fields: Vec<String>,
    pub path: String,
}

impl RuleMeta {
    /// The ATT&CK tags (`attack.t1059.001`, `attack.execution`).
    pub fn attack_tags(&self) -> impl Iterator<Item = &str> {
        self.tags
            .iter()
            .filter_map(|t| t.strip_prefix("attack."))
            .filter(|t| !t.is_empty())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Exact,
    Prefix,
    Suffix,
    Contains,
}

/// One value test, before compilation.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// A string with wildcards; case-insensitive unless `cased`.
    Str {
        s: SigmaString,
        cased: bool,
    },
    /// A YAML number: equal as a number, or as text (`4688` = `"4688"`).
    Num {
        v: f64,
        text: String,
    },
    Cmp {
        op: NumOp,
        v: f64,
    },
    Bool(bool),
    /// `null`: the field is absent or null.
    Null,
    Exists(bool),
    Re {
        pattern: String,
        i: bool,
        m: bool,
        s: bool,
    },
    Cidr(IpNet),
    FieldRef {
        field: String,
        kind: RefKind,
        cased: bool,
    },
    Time {
        part: TimePart,
        op: NumOp,
        v: i64,
    },
}

/// `field|mods: values` (or a keyword list, with no field).
#[derive(Debug, Clone)]
pub struct FieldItem {
    pub field: Option<String>,
    /// Outer list: the values as written (OR, or AND with `all`); inner list:
    /// what one value expanded to (`windash`, `base64offset`, placeholders),
    /// always OR.
    pub values: Vec<Vec<Matcher>>,
    pub all: bool,
    /// `neq`: true when no value matches.
    pub negate: bool,
}

/// A search identifier: OR of ANDs of field items.
#[derive(Debug, Clone)]
pub struct Search {
    pub alternatives: Vec<Vec<FieldItem>>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: Arc<RuleMeta>,
    pub names: Vec<String>,
    pub searches: Vec<Search>,
    pub condition: Expr,
}

fn yaml_str(v: &Y) -> Option<String> {
    match v {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get<'a>(doc: &'a Y, key: &str) -> Option<&'a Y> {
    doc.as_mapping()?.get(key)
}

fn str_list(v: Option<&Y>) -> Vec<String> {
    match v {
        Some(Y::Sequence(s)) => s.iter().filter_map(yaml_str).collect(),
        Some(v) => yaml_str(v).into_iter().collect(),
        None => Vec::new(),
    }
}

pub fn parse_logsource(v: Option<&Y>) -> LogSource {
    let f = |k: &str| {
        v.and_then(|v| get(v, k))
            .and_then(yaml_str)
            .map(|s| s.trim().to_string())
    };
    LogSource {
        category: f("category"),
        product: f("product"),
        service: f("service"),
    }
}

fn parse_meta(doc: &Y, path: &str) -> Result<RuleMeta, RuleError> {
    let title = get(doc, "title")
        .and_then(yaml_str)
        .ok_or(RuleError::from("the rule has no `title`"))?;
    // A rule without a name cannot be listed, searched or told apart in an
    // alert: refused here so validation, upload and loading all say so.
    if title.trim().is_empty() {
        return Err(
            RuleError::from("the rule's `title` is empty: give the rule a title").at("title"),
        );
    }
    let level = match get(doc, "level").and_then(yaml_str) {
        Some(l) => Level::parse(&l)
            .ok_or_else(|| RuleError::from(format!("unknown level `{l}`")).at("level"))?,
        None => Level::Informational,
    };
    Ok(RuleMeta {
        id: get(doc, "id").and_then(yaml_str),
        name: get(doc, "name").and_then(yaml_str),
        title,
        level,
        status: get(doc, "status").and_then(yaml_str),
        tags: str_list(get(doc, "tags")),
        author: get(doc, "author").and_then(yaml_str),
        description: get(doc, "description").and_then(yaml_str),
        logsource: parse_logsource(get(doc, "logsource")),
        fields: str_list(get(doc, "fields")),
        path: path.to_string(),
    })
}

/// Parses one rule document (a map with `detection`).
pub fn parse_rule(doc: &Y, path: &str) -> Result<Rule, RuleError> {
    let meta = parse_meta(doc, path)?;
    if get(doc, "logsource").is_none() {
        return Err("the rule has no `logsource`".into());
    }
    let detection = get(doc, "detection").ok_or("the rule has no `detection`")?;
    let (names, searches, condition) =
        parse_detection(detection, "condition", &["timeframe"]).map_err(|e| e.at("detection"))?;
    Ok(Rule {
        meta: Arc::new(meta),
        names,
        searches,
        condition,
    })
}

/// Parses a detection (or a filter's `filter` section): its searches and
/// the condition found under `cond_key`.
pub fn parse_detection(
    det: &Y,
    cond_key: &str,
    skip: &[&str],
) -> Result<(Vec<String>, Vec<Search>, Expr), RuleError> {
    let map = det.as_mapping().ok_or("`detection` is not a map")?;
    let mut names = Vec::new();
    let mut searches = Vec::new();
    let mut cond_src = None;
    for (k, v) in map {
        let Some(k) = yaml_str(k) else {
            return Err("a search identifier that is not a string".into());
        };
        if k == cond_key {
            cond_src = Some(v);
            continue;
        }
        // Keys that are not searches: the legacy `timeframe`, a filter's `rules`.
        if skip.contains(&k.as_str()) {
            continue;
        }
        let search = parse_search(v).map_err(|e| e.at(&k).within(format_args!("search `{k}`")))?;
        names.push(k);
        searches.push(search);
    }
    let cond_src = cond_src.ok_or_else(|| format!("the detection has no `{cond_key}`"))?;
    let condition_error = |c: &str, e: condition::ConditionError| {
        RuleError::new(RuleErrorKind::Condition, format!("condition `{c}`: {e}")).at(cond_key)
    };
    let conds: Vec<String> = match cond_src {
        Y::Sequence(s) => s.iter().filter_map(yaml_str).collect(),
        v => yaml_str(v).into_iter().collect(),
    };
    if conds.is_empty() {
        return Err(
            RuleError::new(RuleErrorKind::Condition, "the condition is empty").at(cond_key),
        );
    }
    let mut exprs = Vec::new();
    for c in &conds {
        let parsed = condition::parse(c).map_err(|e| condition_error(c, e))?;
        exprs.push(condition::resolve(&parsed, &names).map_err(|e| condition_error(c, e))?);
    }
    let expr = if exprs.len() == 1 {
        exprs.remove(0)
    } else {
        Expr::Or(exprs)
    };
    Ok((names, searches, expr))
}

fn parse_search(v: &Y) -> Result<Search, RuleError> {
    match v {
        Y::Mapping(m) => Ok(Search {
            alternatives: vec![parse_map(m)?],
        }),
        Y::Sequence(seq) if seq.iter().all(|x| x.is_mapping()) && !seq.is_empty() => {
            let mut alts = Vec::new();
            for x in seq {
                if let Y::Mapping(m) = x {
                    alts.push(parse_map(m)?);
                }
            }
            Ok(Search { alternatives: alts })
        }
        Y::Sequence(seq) => {
            if seq.iter().any(|x| x.is_mapping() || x.is_sequence()) {
                return Err("a list mixing maps and plain values".into());
            }
            Ok(Search {
                alternatives: vec![vec![parse_item(None, &[], v)?]],
            })
        }
        Y::String(_) | Y::Number(_) | Y::Bool(_) => Ok(Search {
            alternatives: vec![vec![parse_item(None, &[], v)?]],
        }),
        Y::Null => Err("the search is empty".into()),
        Y::Tagged(_) => Err("YAML tags are not Sigma".into()),
    }
}

fn parse_map(m: &serde_yaml::Mapping) -> Result<Vec<FieldItem>, RuleError> {
    let mut items = Vec::new();
    for (k, v) in m {
        let k = yaml_str(k).ok_or("a field name that is not a string")?;
        let mut parts = k.split('|');
        let field = parts.next().unwrap_or_default();
        let mods: Vec<&str> = parts.collect();
        let field = if field.is_empty() {
            None
        } else {
            Some(field.to_string())
        };
        items
            .push(parse_item(field, &mods, v).map_err(|e| e.at(&k).within(format_args!("`{k}`")))?);
    }
    Ok(items)
}

const STRING_MODS: [&str; 12] = [
    "contains",
    "startswith",
    "endswith",
    "windash",
    "base64",
    "base64offset",
    "utf16le",
    "utf16be",
    "utf16",
    "wide",
    "expand",
    "cased",
];

/// Builds a field item from its modifiers and YAML value(s). Whatever is
/// wrong there is a [`RuleErrorKind::Modifier`] error.
pub fn parse_item(field: Option<String>, mods: &[&str], v: &Y) -> Result<FieldItem, RuleError> {
    field_item(field, mods, v).map_err(|e| RuleError {
        kind: RuleErrorKind::Modifier,
        ..e
    })
}

fn field_item(field: Option<String>, mods: &[&str], v: &Y) -> Result<FieldItem, RuleError> {
    let mut all = false;
    let mut negate = false;
    let mut cased = false;
    let mut re = false;
    let (mut ri, mut rm, mut rs) = (false, false, false);
    let mut cidr = false;
    let mut exists = false;
    let mut fieldref = false;
    let mut cmp: Option<NumOp> = None;
    let mut time: Option<TimePart> = None;
    let mut transforms: Vec<&str> = Vec::new();
    for &m in mods {
        match m {
            "all" => all = true,
            "neq" => negate = true,
            "cased" => cased = true,
            "re" => re = true,
            "i" | "ignorecase" if re => ri = true,
            "m" | "multiline" if re => rm = true,
            "s" | "dotall" if re => rs = true,
            "cidr" => cidr = true,
            "exists" => exists = true,
            "fieldref" => fieldref = true,
            "lt" => cmp = Some(NumOp::Lt),
            "lte" => cmp = Some(NumOp::Lte),
            "gt" => cmp = Some(NumOp::Gt),
            "gte" => cmp = Some(NumOp::Gte),
            "minute" => time = Some(TimePart::Minute),
            "hour" => time = Some(TimePart::Hour),
            "day" => time = Some(TimePart::Day),
            "week" => time = Some(TimePart::Week),
            "month" => time = Some(TimePart::Month),
            "year" => time = Some(TimePart::Year),
            m if STRING_MODS.contains(&m) => transforms.push(m),
            "i" | "m" | "s" => {
                return Err(RuleError::modifier(format!(
                    "modifier `{m}` only applies after `re`"
                )))
            }
            "" => return Err(RuleError::modifier("an empty modifier (`||`)")),
            m => return Err(RuleError::modifier(format!("unknown modifier `{m}`"))),
        }
    }
    let raw: Vec<&Y> = match v {
        Y::Sequence(s) => s.iter().collect(),
        v => vec![v],
    };
    if raw.iter().any(|x| x.is_mapping() || x.is_sequence()) {
        return Err("a value that is a map or a nested list".into());
    }
    if raw.is_empty() {
        return Err("an empty list of values".into());
    }
    let mut values = Vec::with_capacity(raw.len());
    let type_mods = [
        re,
        cidr,
        exists,
        fieldref,
        cmp.is_some() && time.is_none(),
        time.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if type_mods > 1 {
        return Err("conflicting type modifiers".into());
    }
    for y in raw {
        let m: Vec<Matcher> = if exists {
            let b = match y {
                Y::Bool(b) => *b,
                Y::String(s) if s.eq_ignore_ascii_case("true") => true,
                Y::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err("`exists` takes true or false".into()),
            };
            if field.is_none() {
                return Err("`exists` needs a field".into());
            }
            vec![Matcher::Exists(b)]
        } else if re {
            let p = yaml_str(y).ok_or("`re` takes a string")?;
            if !transforms.iter().all(|t| *t == "cased") {
                return Err(
                    format!("`re` cannot be combined with `{}`", transforms.join("|")).into(),
                );
            }
            vec![Matcher::Re {
                pattern: p,
                i: ri,
                m: rm,
                s: rs,
            }]
        } else if cidr {
            let s = yaml_str(y).ok_or("`cidr` takes a network such as 10.0.0.0/8")?;
            let net: IpNet = s
                .trim()
                .parse()
                .or_else(|_| s.trim().parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{s}` is not a CIDR network"))?;
            vec![Matcher::Cidr(net)]
        } else if fieldref {
            let other = yaml_str(y).ok_or("`fieldref` takes a field name")?;
            let mut kind = RefKind::Exact;
            for t in &transforms {
                kind = match (*t, kind) {
                    ("contains", _) => RefKind::Contains,
                    ("startswith", RefKind::Suffix) | ("endswith", RefKind::Prefix) => {
                        RefKind::Contains
                    }
                    ("startswith", _) => RefKind::Prefix,
                    ("endswith", _) => RefKind::Suffix,
                    ("cased", k) => k,
                    (t, _) => {
                        return Err(format!("`fieldref` cannot be combined with `{t}`").into())
                    }
                };
            }
            vec![Matcher::FieldRef {
                field: other,
                kind,
                cased,
            }]
        } else if let Some(part) = time {
            let n = yaml_num(y).ok_or("time modifiers take a number")?;
            vec![Matcher::Time {
                part,
                op: cmp.unwrap_or(NumOp::Eq),
                v: n as i64,
            }]
        } else if let Some(op) = cmp {
            let n = yaml_num(y).ok_or_else(|| format!("`{}` takes a number", op_name(op)))?;
            vec![Matcher::Cmp { op, v: n }]
        } else {
            plain_matchers(y, &transforms, cased, field.is_none())?
        };
        values.push(m);
    }
    Ok(FieldItem {
        field,
        values,
        all,
        negate,
    })
}

fn op_name(op: NumOp) -> &'static str {
    match op {
        NumOp::Eq => "eq",
        NumOp::Lt => "lt",
        NumOp::Lte => "lte",
        NumOp::Gt => "gt",
        NumOp::Gte => "gte",
    }
}

fn yaml_num(y: &Y) -> Option<f64> {
    match y {
        Y::Number(n) => n.as_f64(),
        Y::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Values without a type modifier: strings with the transformation
/// modifiers applied in the order written, numbers, booleans, null.
fn plain_matchers(
    y: &Y,
    transforms: &[&str],
    cased: bool,
    keyword: bool,
) -> Result<Vec<Matcher>, RuleError> {
    let only_cased = transforms.iter().all(|t| *t == "cased");
    match y {
        Y::Null => {
            if !only_cased {
                return Err("`null` cannot take string modifiers".into());
            }
            return Ok(vec![Matcher::Null]);
        }
        Y::Number(n) if only_cased && !keyword => {
            return Ok(vec![Matcher::Num {
                v: n.as_f64().unwrap_or(f64::NAN),
                text: n.to_string(),
            }]);
        }
        Y::Bool(b) if only_cased && !keyword => return Ok(vec![Matcher::Bool(*b)]),
        _ => {}
    }
    let text = match y {
        Y::String(s) => s.clone(),
        other => yaml_str(other).unwrap_or_default(),
    };
    // Numbers and booleans under string modifiers are their text, taken
    // literally; strings follow the wildcard and escape rules.
    let start = if matches!(y, Y::String(_)) {
        let parsed = SigmaString::parse(&text);
        if transforms.contains(&"expand") {
            parsed
        } else {
            parsed.restore_escaped_percent()
        }
    } else {
        SigmaString::plain(&text)
    };
    let mut vals = vec![Staged::Str(start)];
    let mut has_position = false;
    for &t in transforms {
        let mut next = Vec::with_capacity(vals.len());
        for v in vals {
            match t {
                "cased" => next.push(v),
                "contains" | "startswith" | "endswith" => {
                    has_position = true;
                    let s = v.into_string();
                    next.push(Staged::Str(match t {
                        "contains" => s.prepend_star().append_star(),
                        "startswith" => s.append_star(),
                        _ => s.prepend_star(),
                    }));
                }
                "windash" => match v {
                    Staged::Str(s) => match s.windash_within(MAX_VARIANT_BYTES) {
                        Some(vs) => next.extend(vs.into_iter().map(Staged::Str)),
                        None => {
                            return Err(format!(
                                "`windash` would turn the value into more than {MAX_VARIANT_BYTES} \
                                 bytes of variants (5 per flag); shorten the value or split it"
                            )
                            .into())
                        }
                    },
                    b => next.push(b),
                },
                "expand" => match v {
                    Staged::Str(s) => next.push(Staged::Str(s.mark_placeholders())),
                    b => next.push(b),
                },
                "base64" => {
                    next.push(Staged::Str(SigmaString::plain(&string::base64(
                        &v.bytes(t)?,
                    ))));
                }
                "base64offset" => {
                    for e in string::base64_offsets(&v.bytes(t)?) {
                        next.push(Staged::Str(SigmaString::plain(&e)));
                    }
                }
                "utf16le" | "wide" => next.push(Staged::Bytes(string::utf16le(&v.bytes(t)?))),
                "utf16be" => next.push(Staged::Bytes(string::utf16be(&v.bytes(t)?))),
                "utf16" => next.push(Staged::Bytes(string::utf16_bom(&v.bytes(t)?))),
                _ => return Err(format!("unknown modifier `{t}`").into()),
            }
        }
        check_variants(t, &next).map_err(|e| RuleError::modifier(e.to_string()))?;
        vals = next;
    }
    let mut out: Vec<Matcher> = Vec::with_capacity(vals.len());
    for v in vals {
        let mut s = v.into_string();
        // Keywords search the event's text: a keyword is found anywhere in a
        // value unless a position modifier says otherwise.
        if keyword && !has_position {
            s = s.prepend_star().append_star();
        }
        out.push(Matcher::Str { s, cased });
    }
    Ok(out)
}

/// Most values one YAML value may become through its modifiers: `windash`
/// multiplies by 5 per flag and `base64offset` by 3, so a chain of them
/// over a long value could otherwise make millions. SigmaHQ's rules make at
/// most 25 from one value.
pub const MAX_VARIANTS: usize = 4096;
/// Most bytes of text one YAML value may become through its modifiers.
pub const MAX_VARIANT_BYTES: usize = 1 << 20;

/// A value's modifiers would make more of it than one value may become.
#[derive(Debug, thiserror::Error)]
#[error("`{modifier}` turns the value into {variants} variants of {bytes} bytes in all, more than the {MAX_VARIANTS} variants or {MAX_VARIANT_BYTES} bytes one value may become; shorten the value or use fewer expanding modifiers (windash, base64offset)")]
pub struct TooManyVariants {
    pub modifier: String,
    pub variants: usize,
    pub bytes: usize,
}

fn check_variants(modifier: &str, vals: &[Staged]) -> Result<(), TooManyVariants> {
    let bytes: usize = vals.iter().map(Staged::len).sum();
    if vals.len() > MAX_VARIANTS || bytes > MAX_VARIANT_BYTES {
        return Err(TooManyVariants {
            modifier: modifier.to_string(),
            variants: vals.len(),
            bytes,
        });
    }
    Ok(())
}

impl Matcher {
    pub fn has_placeholders(&self) -> bool {
        matches!(self, Matcher::Str { s, .. } if s.has_placeholders())
    }
}

/// Placeholders still present after parsing (for messages).
pub fn placeholders_of(rule: &Rule) -> Vec<String> {
    let mut out = Vec::new();
    for s in &rule.searches {
        for alt in &s.alternatives {
            for it in alt {
                for vs in &it.values {
                    for m in vs {
                        if let Matcher::Str { s, .. } = m {
                            for p in &s.parts {
                                if let Part::Placeholder(n) = p {
                                    if !out.contains(n) {
                                        out.push(n.clone());
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod title_tests {
    use crate::RuleSet;

    fn load(title: &str) -> RuleSet {
        let mut set = RuleSet::default();
        set.add_yaml(
            &format!(
                "title: {title}\nlogsource:\n  product: windows\ndetection:\n  sel:\n    a: b\n  condition: sel\n"
            ),
            "t.yml",
        );
        set
    }

    #[test]
    fn an_empty_or_blank_title_is_refused_with_a_reason() {
        for t in ["''", "'   '", "\"\""] {
            let set = load(t);
            assert!(set.rules.is_empty(), "{t}");
            assert_eq!(set.rejected.len(), 1, "{t}");
            assert!(set.rejected[0].reason.contains("title"), "{t}");
        }
        assert_eq!(load("Real title").rules.len(), 1);
    }
}
