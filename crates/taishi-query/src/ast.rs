//! The query AST: the contract between the parser, the reference evaluator
//! and the store. It carries the analyst's literals as text (numbers, times,
//! addresses are interpreted when the query is compiled) so that a query
//! serialised today means the same thing when it is run later, and relative
//! times (`now-1h`) are resolved against the moment of execution.
//!
//! `Display` prints a query back as query text that parses to the same AST.

use std::fmt::{self, Write};

use serde::{Deserialize, Serialize};

/// A whole query: a filter, then pipe stages applied in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub filter: Expr,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
}

/// The special field naming an event's own timestamp.
pub const TIMESTAMP: &str = "@timestamp";

/// A boolean filter over events.
///
/// `And`/`Or` always hold at least two operands and never directly contain
/// an operand of their own kind (the parser flattens `a AND (b AND c)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// Matches every event: the empty query, `*`, `*:*`.
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `field:*`, `_exists_:field`: the field is present and not null (an
    /// empty array counts as absent).
    Exists {
        field: String,
    },
    /// `field:value`, `field:"a phrase"`, `field:pow*sh?ll`.
    Match {
        field: String,
        value: Pattern,
    },
    /// `field>=10`, `field:<5`, `field:[10 TO 20]`, `field:{a TO b]`.
    Range {
        field: String,
        lower: Bound,
        upper: Bound,
    },
    /// `source.ip:10.0.0.0/8`: the field holds an address inside `network`
    /// (kept as the analyst wrote it; it is a valid CIDR by construction).
    Cidr {
        field: String,
        network: String,
    },
    /// A bare word or phrase: the words appear, in order, in one string
    /// value (or a number), ignoring case; see `words`.
    Text {
        value: Pattern,
    },
}

/// A value to compare with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Literal text (escapes removed, no wildcards).
    Exact(String),
    /// Text with `*` (any run of characters) and `?` (one character).
    Wildcard(Vec<GlobPart>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GlobPart {
    Literal(String),
    /// `*`
    Any,
    /// `?`
    One,
}

/// One end of a range. Values are the literal text: numbers compare
/// numerically against numeric fields, times (ISO 8601, `now-1h`) against
/// `@timestamp`, anything else as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Unbounded,
    Included(String),
    Excluded(String),
}

/// A pipe stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `stats count(), dc(user.name) as users by host.name, event.code`
    Stats {
        aggs: Vec<Agg>,
        by: Vec<String>,
    },
    /// `top 10 field[, field2]` (most frequent first) or `rare 10 field`.
    Top {
        limit: usize,
        fields: Vec<String>,
        rare: bool,
    },
    /// `timechart 1h count() by field` (also `span=1h`): buckets
    /// `interval_secs` wide, aligned to the Unix epoch (so to UTC midnight
    /// for days). Without an interval the bucket is chosen when the query
    /// runs, from its time range ([`crate::auto_interval`]), as Kibana's
    /// auto interval is: a chart has at most [`crate::AUTO_BUCKETS`]
    /// points whatever range is searched.
    Timechart {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interval_secs: Option<u64>,
        aggs: Vec<Agg>,
        by: Option<String>,
    },
    /// `sort -field, field2`
    Sort(Vec<SortKey>),
    Head(usize),
    Tail(usize),
    /// `fields a, b, c`
    Fields(Vec<String>),
    /// `where <filter expression>`
    Where(Expr),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
}

/// One aggregation. `field` is None only for `count()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agg {
    pub func: AggFunc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggFunc {
    /// `count()` events, `count(field)` non-null values of the field.
    Count,
    /// `dc(field)`: exact number of distinct values.
    DistinctCount,
    Sum,
    Avg,
    Min,
    Max,
}

impl AggFunc {
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::DistinctCount => "dc",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
    }

    pub fn from_name(s: &str) -> Option<AggFunc> {
        Some(match s.to_ascii_lowercase().as_str() {
            "count" => AggFunc::Count,
            "dc" | "distinct_count" => AggFunc::DistinctCount,
            "sum" => AggFunc::Sum,
            "avg" | "mean" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            _ => return None,
        })
    }
}

impl Agg {
    /// The output column name, as Splunk names it so that a later stage
    /// can refer to it: the alias, else `count` for `count()` (what
    /// `sort -count` names, as in Splunk and Kibana), else the aggregation
    /// as written (`dc(user.name)`).
    pub fn column_name(&self) -> String {
        if let Some(a) = &self.alias {
            return a.clone();
        }
        match &self.field {
            Some(f) => format!("{}({f})", self.func.name()),
            None => self.func.name().to_string(),
        }
    }
}

/// The columns of the table a stage leaves, given those of the table before
/// it (`None`: the data is events, whose fields are open-ended).
pub fn columns_after(stage: &Stage, before: Option<Vec<String>>) -> Option<Vec<String>> {
    match stage {
        Stage::Stats { aggs, by } => {
            let mut c = by.clone();
            c.extend(aggs.iter().map(Agg::column_name));
            Some(c)
        }
        Stage::Top { fields, .. } => {
            let mut c = fields.clone();
            c.push("count".into());
            Some(c)
        }
        Stage::Timechart { aggs, by, .. } => {
            let mut c = vec![TIMESTAMP.to_string()];
            c.extend(by.iter().cloned());
            c.extend(aggs.iter().map(Agg::column_name));
            Some(c)
        }
        Stage::Fields(f) => before.map(|_| f.clone()),
        Stage::Sort(_) | Stage::Head(_) | Stage::Tail(_) | Stage::Where(_) => before,
    }
}

/// A stage names a column the table before it does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownColumn {
    /// Index of the stage in [`Search::stages`].
    pub stage: usize,
    /// Index of the column among the stage's sort keys or fields.
    pub item: usize,
    pub column: String,
    /// The columns the table has.
    pub available: Vec<String>,
}

impl UnknownColumn {
    /// The message, in English and zh-CN (the console shows it as it is).
    pub fn message(&self) -> String {
        let list = self.available.join(", ");
        format!(
            "unknown column '{}': the table has {list} / 未知列 '{}'：可用的列为 {list}",
            self.column, self.column
        )
    }
}

/// Checks that `sort` and `fields` after an aggregation name columns the
/// table has: an unknown one would sort by nothing or project nulls,
/// silently, which is how `sort -count` used to return unsorted rows.
pub fn check_columns(search: &Search) -> Result<(), UnknownColumn> {
    let mut cols: Option<Vec<String>> = None;
    for (i, stage) in search.stages.iter().enumerate() {
        if let Some(have) = &cols {
            let named: Vec<&str> = match stage {
                Stage::Sort(keys) => keys.iter().map(|k| k.field.as_str()).collect(),
                Stage::Fields(f) => f.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            };
            if let Some((item, c)) = named
                .iter()
                .enumerate()
                .find(|(_, c)| !have.iter().any(|h| h == *c))
            {
                return Err(UnknownColumn {
                    stage: i,
                    item,
                    column: c.to_string(),
                    available: have.clone(),
                });
            }
        }
        cols = columns_after(stage, cols);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Limits on an AST that did not come from the parser.

/// Checks an AST (from the wire, from storage) against the limits the
/// parser applies to text, without recursing: an over-deep AST is what
/// this guards against, so the check itself must not overflow on one.
/// Depth counts `Not` and `And`/`Or` nesting; clauses count leaves and
/// stage items, as the parser does.
pub fn check_limits(search: &Search, limits: &crate::Limits) -> Result<(), crate::Error> {
    use crate::error::{Error, ErrorKind};
    let max_depth = limits.max_depth.min(crate::MAX_DEPTH_CEILING);
    let mut clauses = 0usize;
    let mut count = |n: usize| {
        clauses = clauses.saturating_add(n);
        if clauses > limits.max_clauses {
            Err(Error::limit(
                None,
                ErrorKind::TooManyClauses {
                    limit: limits.max_clauses,
                },
            ))
        } else {
            Ok(())
        }
    };
    // The root sits at depth 0: the parser counts a top-level `a AND b` as
    // one level, the AST has the `And` above its operands.
    let mut stack: Vec<(&Expr, usize)> = vec![(&search.filter, 0)];
    for s in &search.stages {
        count(1)?;
        match s {
            Stage::Where(e) => stack.push((e, 0)),
            Stage::Stats { aggs, by } => count(aggs.len() + by.len())?,
            Stage::Timechart { aggs, by, .. } => count(aggs.len() + usize::from(by.is_some()))?,
            Stage::Top { fields, .. } | Stage::Fields(fields) => count(fields.len())?,
            Stage::Sort(keys) => count(keys.len())?,
            Stage::Head(_) | Stage::Tail(_) => {}
        }
    }
    while let Some((e, depth)) = stack.pop() {
        if depth > max_depth {
            return Err(Error::limit(None, ErrorKind::TooDeep { limit: max_depth }));
        }
        match e {
            Expr::And(xs) | Expr::Or(xs) => stack.extend(xs.iter().map(|x| (x, depth + 1))),
            Expr::Not(x) => stack.push((x, depth + 1)),
            _ => count(1)?,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Printing back as query text.

const KEYWORDS: [&str; 6] = ["and", "or", "not", "to", "by", "as"];

fn is_keyword(s: &str) -> bool {
    KEYWORDS.iter().any(|k| s.eq_ignore_ascii_case(k))
}

fn plain_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-')
}

/// A field name, with every character that the parser would read as syntax
/// escaped.
pub(crate) fn write_field(out: &mut impl Write, name: &str) -> fmt::Result {
    if name.is_empty() {
        return out.write_str("\"\"");
    }
    // A name that reads as a keyword or as `_exists_` is escaped so that it
    // stays a field name.
    let escape_first = is_keyword(name) || name == "_exists_";
    for (i, c) in name.chars().enumerate() {
        let needs = !plain_char(c) || (i == 0 && (escape_first || matches!(c, '-' | '+')));
        if needs {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    Ok(())
}

fn write_quoted(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    out.write_char('"')
}

/// Exact text: bare when it is a plain word, quoted otherwise.
fn write_exact(out: &mut impl Write, s: &str) -> fmt::Result {
    let bare = !s.is_empty() && s.chars().all(plain_char) && !s.starts_with('-') && !is_keyword(s);
    if bare {
        out.write_str(s)
    } else {
        write_quoted(out, s)
    }
}

fn write_pattern(out: &mut impl Write, p: &Pattern) -> fmt::Result {
    match p {
        Pattern::Exact(s) => write_exact(out, s),
        Pattern::Wildcard(parts) => {
            for (i, part) in parts.iter().enumerate() {
                match part {
                    GlobPart::Any => out.write_char('*')?,
                    GlobPart::One => out.write_char('?')?,
                    GlobPart::Literal(s) => {
                        for (j, c) in s.chars().enumerate() {
                            let lead = i == 0 && j == 0 && matches!(c, '-' | '+');
                            if !plain_char(c) || lead {
                                out.write_char('\\')?;
                            }
                            out.write_char(c)?;
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

fn write_bound_value(out: &mut impl Write, s: &str) -> fmt::Result {
    if s == "*" {
        return out.write_str("\"*\"");
    }
    let bare = !s.is_empty()
        && s.chars().all(|c| plain_char(c) || matches!(c, ':' | '+'))
        && !s.starts_with('-')
        && !is_keyword(s);
    if bare {
        out.write_str(s)
    } else {
        write_quoted(out, s)
    }
}

impl Expr {
    fn write(&self, out: &mut impl Write) -> fmt::Result {
        match self {
            Expr::All => out.write_char('*'),
            Expr::And(xs) => {
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.write_str(" AND ")?;
                    }
                    x.write_operand(out, matches!(x, Expr::Or(_)))?;
                }
                Ok(())
            }
            Expr::Or(xs) => {
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.write_str(" OR ")?;
                    }
                    x.write_operand(out, false)?;
                }
                Ok(())
            }
            Expr::Not(x) => {
                out.write_str("NOT ")?;
                x.write_operand(out, matches!(**x, Expr::And(_) | Expr::Or(_)))
            }
            Expr::Exists { field } => {
                write_field(out, field)?;
                out.write_str(":*")
            }
            Expr::Match { field, value } => {
                write_field(out, field)?;
                out.write_char(':')?;
                write_pattern(out, value)
            }
            Expr::Range {
                field,
                lower,
                upper,
            } => {
                write_field(out, field)?;
                out.write_char(':')?;
                match (lower, upper) {
                    (Bound::Included(v), Bound::Unbounded) => {
                        out.write_str(">=")?;
                        write_bound_value(out, v)
                    }
                    (Bound::Excluded(v), Bound::Unbounded) => {
                        out.write_str(">")?;
                        write_bound_value(out, v)
                    }
                    (Bound::Unbounded, Bound::Included(v)) => {
                        out.write_str("<=")?;
                        write_bound_value(out, v)
                    }
                    (Bound::Unbounded, Bound::Excluded(v)) => {
                        out.write_str("<")?;
                        write_bound_value(out, v)
                    }
                    _ => {
                        out.write_char(match lower {
                            Bound::Excluded(_) => '{',
                            _ => '[',
                        })?;
                        match lower {
                            Bound::Unbounded => out.write_char('*')?,
                            Bound::Included(v) | Bound::Excluded(v) => write_bound_value(out, v)?,
                        }
                        out.write_str(" TO ")?;
                        match upper {
                            Bound::Unbounded => out.write_char('*')?,
                            Bound::Included(v) | Bound::Excluded(v) => write_bound_value(out, v)?,
                        }
                        out.write_char(match upper {
                            Bound::Excluded(_) => '}',
                            _ => ']',
                        })
                    }
                }
            }
            Expr::Cidr { field, network } => {
                write_field(out, field)?;
                out.write_char(':')?;
                out.write_str(network)
            }
            Expr::Text { value } => write_pattern(out, value),
        }
    }

    fn write_operand(&self, out: &mut impl Write, parens: bool) -> fmt::Result {
        if parens {
            out.write_char('(')?;
            self.write(out)?;
            out.write_char(')')
        } else {
            self.write(out)
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

fn write_aggs(out: &mut fmt::Formatter<'_>, aggs: &[Agg]) -> fmt::Result {
    for (i, a) in aggs.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        out.write_str(a.func.name())?;
        out.write_char('(')?;
        if let Some(f) = &a.field {
            write_field(out, f)?;
        }
        out.write_char(')')?;
        if let Some(alias) = &a.alias {
            out.write_str(" as ")?;
            write_field(out, alias)?;
        }
    }
    Ok(())
}

fn write_fields(out: &mut fmt::Formatter<'_>, fields: &[String]) -> fmt::Result {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        write_field(out, f)?;
    }
    Ok(())
}

/// `3600` → `1h`: the largest unit that divides the interval.
pub(crate) fn format_interval(secs: u64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Stats { aggs, by } => {
                f.write_str("stats ")?;
                write_aggs(f, aggs)?;
                if !by.is_empty() {
                    f.write_str(" by ")?;
                    write_fields(f, by)?;
                }
                Ok(())
            }
            Stage::Top {
                limit,
                fields,
                rare,
            } => {
                write!(f, "{} {limit} ", if *rare { "rare" } else { "top" })?;
                write_fields(f, fields)
            }
            Stage::Timechart {
                interval_secs,
                aggs,
                by,
            } => {
                f.write_str("timechart ")?;
                if let Some(secs) = interval_secs {
                    write!(f, "{} ", format_interval(*secs))?;
                }
                write_aggs(f, aggs)?;
                if let Some(b) = by {
                    f.write_str(" by ")?;
                    write_field(f, b)?;
                }
                Ok(())
            }
            Stage::Sort(keys) => {
                f.write_str("sort ")?;
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if k.descending {
                        f.write_char('-')?;
                    }
                    write_field(f, &k.field)?;
                }
                Ok(())
            }
            Stage::Head(n) => write!(f, "head {n}"),
            Stage::Tail(n) => write!(f, "tail {n}"),
            Stage::Fields(fields) => {
                f.write_str("fields ")?;
                write_fields(f, fields)
            }
            Stage::Where(e) => write!(f, "where {e}"),
        }
    }
}

impl fmt::Display for Search {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.filter.write(f)?;
        for s in &self.stages {
            write!(f, " | {s}")?;
        }
        Ok(())
    }
}
