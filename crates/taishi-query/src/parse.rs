//! Recursive-descent parser over the query text. Works on chars so that
//! error columns count characters, as an editor shows them.

use crate::ast::*;
use crate::error::{Error, ErrorKind};
use crate::time::parse_time;

/// Bounds on what one query may ask for, so that no query can exhaust the
/// stack (the parser and every walk over the AST recurse) or the time and
/// memory of a search (each term is a posting list or a matcher per event).
///
/// The defaults follow Elasticsearch's guards, scaled to what analysts
/// write in KQL: real queries nest a handful of levels (the SigmaHQ rules
/// translated to queries nest at most 6), so 64 leaves ample room while
/// every recursion stays far inside a 2 MiB thread stack even in a debug
/// build; 1,024 terms is a quarter of ES's `max_clause_count` (4,096),
/// enough for a pasted list of several hundred hashes or addresses, and it
/// bounds the per-event matching work of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of parentheses and `NOT`/`-`/`+` prefixes.
    pub max_depth: usize,
    /// Most terms (field tests, free-text words, stage items) in one query.
    pub max_clauses: usize,
}

/// Default of [`Limits::max_depth`].
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Default of [`Limits::max_clauses`].
pub const DEFAULT_MAX_CLAUSES: usize = 1024;
/// The deepest nesting any configuration may allow: the evaluator, the
/// store translation and `Display` recurse once per level, and at this
/// depth they still fit a 2 MiB thread stack in a debug build (checked by
/// a test).
pub const MAX_DEPTH_CEILING: usize = 256;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_clauses: DEFAULT_MAX_CLAUSES,
        }
    }
}

/// Parses a whole query: a filter, then `| stage`s, with the default
/// [`Limits`].
pub fn parse(text: &str) -> Result<Search, Error> {
    parse_with(text, &Limits::default())
}

/// Parses a whole query under the given limits (a depth above
/// [`MAX_DEPTH_CEILING`] counts as the ceiling).
pub fn parse_with(text: &str, limits: &Limits) -> Result<Search, Error> {
    let mut p = Parser {
        s: text.chars().collect(),
        pos: 0,
        in_group: false,
        depth: 0,
        clauses: 0,
        max_depth: limits.max_depth.min(MAX_DEPTH_CEILING),
        max_clauses: limits.max_clauses,
    };
    p.skip_ws();
    let filter = if p.at_end() || p.peek() == Some('|') {
        Expr::All
    } else {
        p.or_expr(None)?
    };
    p.skip_ws();
    let mut stages = Vec::new();
    let mut positions = Vec::new();
    while !p.at_end() {
        match p.peek() {
            Some('|') => {
                p.pos += 1;
                let (stage, at) = p.stage()?;
                stages.push(stage);
                positions.push(at);
                p.skip_ws();
            }
            Some(')') => return Err(p.err("unexpected ')' without a matching '('")),
            _ => return Err(p.err("expected '|' or the end of the query")),
        }
    }
    let search = Search { filter, stages };
    check_columns(&search).map_err(|e| {
        let at = positions
            .get(e.stage)
            .and_then(|p: &Vec<usize>| p.get(e.item))
            .copied()
            .unwrap_or(0);
        Error::at(at, e.message())
    })?;
    Ok(search)
}

/// Parses a filter expression alone (no stages).
pub fn parse_filter(text: &str) -> Result<Expr, Error> {
    let s = parse(text)?;
    if !s.stages.is_empty() {
        return Err(Error::at(
            text.chars().position(|c| c == '|').unwrap_or(0),
            "expected a filter without pipe stages",
        ));
    }
    Ok(s.filter)
}

struct Parser {
    s: Vec<char>,
    pos: usize,
    /// Inside `field:( … )`, where words are values, never field names.
    in_group: bool,
    /// Current nesting (parentheses and prefixes on the recursion stack).
    depth: usize,
    /// Terms read so far.
    clauses: usize,
    max_depth: usize,
    max_clauses: usize,
}

/// A bare word as read: its text with escapes removed, and its glob parts
/// when it holds unescaped wildcards.
struct Word {
    start: usize,
    text: String,
    parts: Vec<GlobPart>,
    wildcard: bool,
    escaped: bool,
    quoted: bool,
}

impl Word {
    fn is_keyword(&self, k: &str) -> bool {
        !self.escaped && !self.quoted && !self.wildcard && self.text.eq_ignore_ascii_case(k)
    }

    fn is_star(&self) -> bool {
        self.wildcard && self.parts == [GlobPart::Any]
    }

    fn pattern(self) -> Pattern {
        if self.wildcard {
            Pattern::Wildcard(self.parts)
        } else {
            Pattern::Exact(self.text)
        }
    }
}

/// Characters that end a bare word in the filter. `:` `<` `>` end only a
/// field name: values may hold them (`fe80::1`, `C:`).
fn ends_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | '|')
}

fn ends_field(c: char) -> bool {
    ends_value(c) || matches!(c, ':' | '<' | '>')
}

fn ends_bound(c: char) -> bool {
    ends_value(c) || matches!(c, ']' | '}')
}

fn ends_stage_word(c: char) -> bool {
    ends_value(c) || c == ','
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, i: usize) -> Option<char> {
        self.s.get(self.pos + i).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn err(&self, msg: impl Into<String>) -> Error {
        Error::at(self.pos, msg)
    }

    /// What stands at the current position, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the query".into(),
            Some(_) => {
                let w: String = self.s[self.pos..]
                    .iter()
                    .take_while(|c| !c.is_whitespace())
                    .take(20)
                    .collect();
                format!("'{w}'")
            }
        }
    }

    fn read_quoted(&mut self) -> Result<String, Error> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(Error::at(start, "unterminated quoted string")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                // Inside quotes only `\"` and `\\` are escapes, so that a
                // pasted Windows path (`"C:\Windows\System32"`) means what
                // it shows.
                Some('\\') if matches!(self.peek_at(1), Some('"' | '\\')) => {
                    out.push(self.peek_at(1).unwrap_or('\\'));
                    self.pos += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Reads a bare word (escapes and wildcards) or a quoted string.
    fn read_word(&mut self, ends: fn(char) -> bool) -> Result<Word, Error> {
        let start = self.pos;
        if self.peek() == Some('"') {
            let text = self.read_quoted()?;
            return Ok(Word {
                start,
                text,
                parts: Vec::new(),
                wildcard: false,
                escaped: false,
                quoted: true,
            });
        }
        let mut w = Word {
            start,
            text: String::new(),
            parts: Vec::new(),
            wildcard: false,
            escaped: false,
            quoted: false,
        };
        let mut lit = String::new();
        while let Some(c) = self.peek() {
            match c {
                '\\' => {
                    let Some(next) = self.peek_at(1) else {
                        return Err(self.err("expected a character after '\\'"));
                    };
                    w.escaped = true;
                    w.text.push(next);
                    lit.push(next);
                    self.pos += 2;
                }
                _ if ends(c) => break,
                '*' | '?' => {
                    w.wildcard = true;
                    w.text.push(c);
                    if !lit.is_empty() {
                        w.parts.push(GlobPart::Literal(std::mem::take(&mut lit)));
                    }
                    w.parts.push(if c == '*' {
                        GlobPart::Any
                    } else {
                        GlobPart::One
                    });
                    self.pos += 1;
                }
                _ => {
                    w.text.push(c);
                    lit.push(c);
                    self.pos += 1;
                }
            }
        }
        if !lit.is_empty() {
            w.parts.push(GlobPart::Literal(lit));
        }
        Ok(w)
    }

    /// Whether the next word is the keyword `k` used as an operator (not a
    /// field name: `not:x` is a field).
    fn peek_keyword(&mut self, k: &str) -> bool {
        let save = self.pos;
        let is = match self.read_word(ends_field) {
            Ok(w) if w.is_keyword(k) => {
                self.skip_ws();
                self.in_group || !matches!(self.peek(), Some(':' | '<' | '>'))
            }
            _ => false,
        };
        self.pos = save;
        is
    }

    fn expr_ends(&self) -> bool {
        matches!(self.peek(), None | Some(')' | '|'))
    }

    fn or_expr(&mut self, field: Option<&str>) -> Result<Expr, Error> {
        let mut xs = vec![self.and_expr(field)?];
        loop {
            self.skip_ws();
            if !self.peek_keyword("or") {
                break;
            }
            let kw = self.pos;
            self.read_word(ends_field)?;
            self.skip_ws();
            if self.expr_ends() || self.peek_keyword("and") || self.peek_keyword("or") {
                return Err(Error::at(
                    kw,
                    format!("expected a term after 'OR', found {}", self.found()),
                ));
            }
            xs.push(self.and_expr(field)?);
        }
        Ok(join(xs, false))
    }

    fn and_expr(&mut self, field: Option<&str>) -> Result<Expr, Error> {
        let mut xs = vec![self.unary(field)?];
        loop {
            self.skip_ws();
            if self.expr_ends() || self.peek_keyword("or") {
                break;
            }
            if self.peek_keyword("and") {
                let kw = self.pos;
                self.read_word(ends_field)?;
                self.skip_ws();
                if self.expr_ends() || self.peek_keyword("and") || self.peek_keyword("or") {
                    return Err(Error::at(
                        kw,
                        format!("expected a term after 'AND', found {}", self.found()),
                    ));
                }
            }
            xs.push(self.unary(field)?);
        }
        Ok(join(xs, true))
    }

    /// Every nesting (a parenthesis, a prefix) recurses through here, so
    /// the depth is bounded in one place, before the recursion goes on.
    fn unary(&mut self, field: Option<&str>) -> Result<Expr, Error> {
        self.skip_ws();
        if self.depth >= self.max_depth {
            return Err(Error::limit(
                Some(self.pos),
                ErrorKind::TooDeep {
                    limit: self.max_depth,
                },
            ));
        }
        self.depth += 1;
        let r = self.unary_inner(field);
        self.depth -= 1;
        r
    }

    /// Counts one term against the clause limit.
    fn clause(&mut self, at: usize) -> Result<(), Error> {
        self.clauses += 1;
        if self.clauses > self.max_clauses {
            return Err(Error::limit(
                Some(at),
                ErrorKind::TooManyClauses {
                    limit: self.max_clauses,
                },
            ));
        }
        Ok(())
    }

    fn unary_inner(&mut self, field: Option<&str>) -> Result<Expr, Error> {
        let start = self.pos;
        let prefix = match self.peek() {
            Some(c @ ('-' | '+')) if field.is_none() => Some(c),
            _ => None,
        };
        if let Some(c) = prefix {
            self.pos += 1;
            if self
                .peek()
                .is_none_or(|n| n.is_whitespace() || matches!(n, ')' | '|'))
            {
                return Err(Error::at(
                    start,
                    format!("expected a term right after '{c}'"),
                ));
            }
            let inner = self.unary(field)?;
            return Ok(if c == '-' {
                Expr::Not(Box::new(inner))
            } else {
                inner
            });
        }
        if self.peek_keyword("not") {
            self.read_word(ends_field)?;
            self.skip_ws();
            if self.expr_ends() || self.peek_keyword("and") || self.peek_keyword("or") {
                return Err(Error::at(
                    start,
                    format!("expected a term after 'NOT', found {}", self.found()),
                ));
            }
            return Ok(Expr::Not(Box::new(self.unary(field)?)));
        }
        if self.peek_keyword("and") || self.peek_keyword("or") {
            return Err(self.err(format!("expected a term before {}", self.found())));
        }
        self.primary(field)
    }

    fn primary(&mut self, field: Option<&str>) -> Result<Expr, Error> {
        match self.peek() {
            Some('(') => {
                let open = self.pos;
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(')') {
                    return Err(self.err("expected a term inside '()'"));
                }
                let e = self.or_expr(field)?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.err(format!(
                        "expected ')' to close the '(' at column {}, found {}",
                        open + 1,
                        self.found()
                    )));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(')') => Err(self.err("unexpected ')' without a matching '('")),
            None => Err(self.err("expected a search term")),
            _ => {
                self.clause(self.pos)?;
                match field {
                    Some(f) => self.value(f),
                    None => self.term(),
                }
            }
        }
    }

    /// A term outside a field group: `field:value`, `field>=v`,
    /// `_exists_:f`, or free text.
    fn term(&mut self) -> Result<Expr, Error> {
        let word = self.read_word(ends_field)?;
        let after = self.pos;
        self.skip_ws();
        match self.peek() {
            Some(':') => {
                self.pos += 1;
                self.skip_ws();
                if word.is_keyword("_exists_") {
                    let f = self.read_word(ends_value)?;
                    if f.text.is_empty() && !f.quoted {
                        return Err(self.err("expected a field name after '_exists_:'"));
                    }
                    return Ok(Expr::Exists { field: f.text });
                }
                let field = self.field_of(word)?;
                match field {
                    None => {
                        // `*:*` is match-all; no other value makes sense
                        // against every field at once.
                        let v = self.read_word(ends_value)?;
                        if v.is_star() {
                            Ok(Expr::All)
                        } else {
                            Err(Error::at(
                                v.start,
                                "only '*:*' may use '*' as the field name",
                            ))
                        }
                    }
                    Some(f) => {
                        if self.expr_ends() {
                            return Err(self.err(format!("expected a value after '{f}:'")));
                        }
                        self.value(&f)
                    }
                }
            }
            Some('<' | '>') => {
                let Some(field) = self.field_of(word)? else {
                    return Err(Error::at(
                        after,
                        "expected a field name before the comparison",
                    ));
                };
                self.comparison(&field)
            }
            _ => {
                self.pos = after;
                if word.text.is_empty() && !word.quoted {
                    return Err(Error::at(
                        word.start,
                        format!("expected a search term, found {}", self.found()),
                    ));
                }
                if word.is_star() {
                    Ok(Expr::All)
                } else {
                    Ok(Expr::Text {
                        value: word.pattern(),
                    })
                }
            }
        }
    }

    /// The field name a word stands for; None for the bare `*`.
    fn field_of(&self, w: Word) -> Result<Option<String>, Error> {
        if w.is_star() {
            return Ok(None);
        }
        if w.wildcard {
            return Err(Error::at(
                w.start,
                "wildcards are not supported in field names",
            ));
        }
        if w.text.is_empty() && !w.quoted {
            return Err(Error::at(w.start, "expected a field name"));
        }
        Ok(Some(w.text))
    }

    /// `>=v`, `>v`, `<=v`, `<v` after a field.
    fn comparison(&mut self, field: &str) -> Result<Expr, Error> {
        let gt = self.peek() == Some('>');
        self.pos += 1;
        let eq = self.peek() == Some('=');
        if eq {
            self.pos += 1;
        }
        let op = match (gt, eq) {
            (true, true) => ">=",
            (true, false) => ">",
            (false, true) => "<=",
            (false, false) => "<",
        };
        self.skip_ws();
        let v = self.read_word(ends_value)?;
        if v.text.is_empty() && !v.quoted {
            return Err(Error::at(v.start, format!("expected a value after '{op}'")));
        }
        if v.wildcard {
            return Err(Error::at(
                v.start,
                format!("expected a value without wildcards after '{op}'"),
            ));
        }
        check_time(field, &v)?;
        let b = |incl: bool| {
            if incl {
                Bound::Included(v.text.clone())
            } else {
                Bound::Excluded(v.text.clone())
            }
        };
        let (lower, upper) = if gt {
            (b(eq), Bound::Unbounded)
        } else {
            (Bound::Unbounded, b(eq))
        };
        Ok(Expr::Range {
            field: field.to_string(),
            lower,
            upper,
        })
    }

    /// A value after `field:` (or inside `field:( … )`).
    fn value(&mut self, field: &str) -> Result<Expr, Error> {
        match self.peek() {
            Some('(') => {
                let outer = std::mem::replace(&mut self.in_group, true);
                let e = self.primary(Some(field));
                self.in_group = outer;
                e
            }
            Some('<' | '>') => self.comparison(field),
            Some(c @ ('[' | '{')) => {
                let open = self.pos;
                self.pos += 1;
                self.skip_ws();
                let lo = self.bound_value(field)?;
                self.skip_ws();
                let to = self.read_word(ends_bound)?;
                if !to.is_keyword("to") {
                    return Err(Error::at(
                        to.start,
                        format!("expected 'TO' in the range opened at column {}", open + 1),
                    ));
                }
                self.skip_ws();
                let hi = self.bound_value(field)?;
                self.skip_ws();
                let close = match self.peek() {
                    Some(c @ (']' | '}')) => c,
                    _ => {
                        return Err(self.err(format!(
                            "expected ']' or '}}' to close the range opened at column {}",
                            open + 1
                        )))
                    }
                };
                self.pos += 1;
                let lower = match lo {
                    None => Bound::Unbounded,
                    Some(v) if c == '[' => Bound::Included(v),
                    Some(v) => Bound::Excluded(v),
                };
                let upper = match hi {
                    None => Bound::Unbounded,
                    Some(v) if close == ']' => Bound::Included(v),
                    Some(v) => Bound::Excluded(v),
                };
                Ok(Expr::Range {
                    field: field.to_string(),
                    lower,
                    upper,
                })
            }
            _ => {
                let v = self.read_word(ends_value)?;
                if v.text.is_empty() && !v.quoted {
                    return Err(Error::at(
                        v.start,
                        format!("expected a value for '{field}'"),
                    ));
                }
                if v.is_star() {
                    return Ok(Expr::Exists {
                        field: field.to_string(),
                    });
                }
                if field == TIMESTAMP {
                    if v.wildcard {
                        return Err(Error::at(
                            v.start,
                            "wildcards do not apply to @timestamp; use a range",
                        ));
                    }
                    check_time(field, &v)?;
                }
                if !v.quoted && !v.wildcard && v.text.contains('/') {
                    if let Ok(net) = v.text.parse::<ipnet::IpNet>() {
                        let _ = net;
                        return Ok(Expr::Cidr {
                            field: field.to_string(),
                            network: v.text,
                        });
                    }
                }
                Ok(Expr::Match {
                    field: field.to_string(),
                    value: v.pattern(),
                })
            }
        }
    }

    /// One end of `[a TO b]`: None for `*`.
    fn bound_value(&mut self, field: &str) -> Result<Option<String>, Error> {
        let v = self.read_word(ends_bound)?;
        if v.text.is_empty() && !v.quoted {
            return Err(Error::at(
                v.start,
                format!("expected a range bound, found {}", self.found()),
            ));
        }
        if v.is_star() {
            return Ok(None);
        }
        if v.wildcard {
            return Err(Error::at(
                v.start,
                "expected a range bound without wildcards",
            ));
        }
        check_time(field, &v)?;
        Ok(Some(v.text))
    }

    // -- stages -------------------------------------------------------------

    /// A stage, and where each of its sort keys or fields starts (for the
    /// column check's error).
    fn stage(&mut self) -> Result<(Stage, Vec<usize>), Error> {
        let mut item_pos = Vec::new();
        self.skip_ws();
        let start = self.pos;
        // A stage runs over every result, so a query of thousands of
        // stages costs as much as thousands of terms.
        self.clause(start)?;
        let name = self.read_word(ends_stage_word)?;
        let lname = name.text.to_ascii_lowercase();
        self.skip_ws();
        let stage = match lname.as_str() {
            "stats" => {
                let aggs = self.aggs("stats")?;
                let by = if self.keyword_here("by") {
                    self.field_list("by")?
                } else {
                    Vec::new()
                };
                Stage::Stats { aggs, by }
            }
            "top" | "rare" => {
                let limit = self.opt_number()?.unwrap_or(10);
                let fields = self.field_list(&lname)?;
                Stage::Top {
                    limit,
                    fields,
                    rare: lname == "rare",
                }
            }
            "timechart" => {
                // `timechart 1h …`, `timechart span=1h …` or, with no
                // interval, `timechart count()`: chosen from the range.
                let at = self.pos;
                let w = self.read_word(ends_stage_word)?;
                let text = w.text.strip_prefix("span=").unwrap_or(&w.text);
                let interval_secs = match parse_interval(text) {
                    Some(secs) => Some(secs),
                    None if w.text.starts_with("span=")
                        || w.text.starts_with(|c: char| c.is_ascii_digit()) =>
                    {
                        return Err(Error::at(
                            at,
                            "expected an interval such as 5m, 1h or 1d after 'timechart' (or none: one is chosen from the time range)",
                        ))
                    }
                    None => {
                        self.pos = at;
                        None
                    }
                };
                self.skip_ws();
                let aggs = self.aggs("timechart")?;
                let by = if self.keyword_here("by") {
                    Some(self.field("by")?)
                } else {
                    None
                };
                Stage::Timechart {
                    interval_secs,
                    aggs,
                    by,
                }
            }
            "sort" => {
                let mut keys = Vec::new();
                loop {
                    self.skip_ws();
                    let descending = match self.peek() {
                        Some('-') => {
                            self.pos += 1;
                            true
                        }
                        Some('+') => {
                            self.pos += 1;
                            false
                        }
                        _ => false,
                    };
                    self.skip_ws();
                    item_pos.push(self.pos);
                    let field = self.sort_column(if keys.is_empty() { "sort" } else { "," })?;
                    keys.push(SortKey { field, descending });
                    self.skip_ws();
                    if self.peek() != Some(',') {
                        break;
                    }
                    self.pos += 1;
                }
                Stage::Sort(keys)
            }
            "head" => Stage::Head(self.opt_number()?.unwrap_or(10)),
            "tail" => Stage::Tail(self.opt_number()?.unwrap_or(10)),
            "fields" => {
                self.skip_ws();
                item_pos.push(self.pos);
                let mut out = vec![self.field("fields")?];
                loop {
                    self.skip_ws();
                    if self.peek() != Some(',') {
                        break;
                    }
                    self.pos += 1;
                    self.skip_ws();
                    item_pos.push(self.pos);
                    out.push(self.field(",")?);
                }
                Stage::Fields(out)
            }
            "where" => {
                self.skip_ws();
                if self.expr_ends() {
                    return Err(self.err("expected a condition after 'where'"));
                }
                Stage::Where(self.or_expr(None)?)
            }
            "" => return Err(Error::at(start, "expected a stage name after '|'")),
            _ => {
                return Err(Error::at(
                    start,
                    format!(
                        "unknown stage '{}': expected stats, top, rare, timechart, sort, head, tail, fields or where",
                        name.text
                    ),
                ))
            }
        };
        self.skip_ws();
        if !matches!(self.peek(), None | Some('|')) {
            return Err(self.err(format!(
                "expected '|' or the end of the query, found {}",
                self.found()
            )));
        }
        Ok((stage, item_pos))
    }

    /// A sort key: a field or column name, or an aggregation as it was
    /// written in `stats` (`count()`, `dc(user.name)`), which names that
    /// aggregation's column (`count`, `dc(user.name)`).
    fn sort_column(&mut self, after: &str) -> Result<String, Error> {
        let start = self.pos;
        let name = self.field(after)?;
        if self.peek() != Some('(') {
            return Ok(name);
        }
        let Some(func) = AggFunc::from_name(&name) else {
            return Err(Error::at(
                start,
                format!("'{name}(' is not an aggregation (count, dc, sum, avg, min, max)"),
            ));
        };
        self.pos += 1;
        self.skip_ws();
        let field = if self.peek() == Some(')') {
            None
        } else {
            let w = self.read_word(|c| ends_stage_word(c) || c == ')')?;
            Some(w.text)
        };
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(self.err(format!("expected ')' to close '{name}('")));
        }
        self.pos += 1;
        Ok(Agg {
            func,
            field,
            alias: None,
        }
        .column_name())
    }

    /// Consumes the keyword `k` if it is next.
    fn keyword_here(&mut self, k: &str) -> bool {
        self.skip_ws();
        let save = self.pos;
        match self.read_word(ends_stage_word) {
            Ok(w) if w.is_keyword(k) => true,
            _ => {
                self.pos = save;
                false
            }
        }
    }

    fn opt_number(&mut self) -> Result<Option<usize>, Error> {
        self.skip_ws();
        let save = self.pos;
        let w = self.read_word(ends_stage_word)?;
        if !w.quoted
            && !w.escaped
            && !w.text.is_empty()
            && w.text.bytes().all(|b| b.is_ascii_digit())
        {
            let n = w
                .text
                .parse()
                .map_err(|_| Error::at(save, format!("number '{}' is too large", w.text)))?;
            self.skip_ws();
            return Ok(Some(n));
        }
        self.pos = save;
        Ok(None)
    }

    fn field(&mut self, after: &str) -> Result<String, Error> {
        self.skip_ws();
        self.clause(self.pos)?;
        let w = self.read_word(ends_stage_word)?;
        if (w.text.is_empty() && !w.quoted) || w.wildcard {
            return Err(Error::at(
                w.start,
                format!("expected a field name after '{after}'"),
            ));
        }
        Ok(w.text)
    }

    fn field_list(&mut self, after: &str) -> Result<Vec<String>, Error> {
        let mut out = vec![self.field(after)?];
        loop {
            self.skip_ws();
            if self.peek() != Some(',') {
                return Ok(out);
            }
            self.pos += 1;
            out.push(self.field(",")?);
        }
    }

    fn aggs(&mut self, after: &str) -> Result<Vec<Agg>, Error> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            let start = self.pos;
            self.clause(start)?;
            let name: String = self.s[self.pos..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic() || **c == '_')
                .collect();
            let Some(func) = AggFunc::from_name(&name) else {
                let prev = if out.is_empty() { after } else { "," };
                return Err(Error::at(
                    start,
                    format!("expected an aggregation (count, dc, sum, avg, min, max) after '{prev}', found {}", self.found()),
                ));
            };
            self.pos += name.chars().count();
            let field = if self.peek() == Some('(') {
                self.pos += 1;
                self.skip_ws();
                let f = if self.peek() == Some(')') {
                    None
                } else {
                    let w = self.read_word(|c| ends_stage_word(c) || c == ')')?;
                    if (w.text.is_empty() && !w.quoted) || w.wildcard {
                        return Err(Error::at(
                            w.start,
                            format!("expected a field name in '{name}( )'"),
                        ));
                    }
                    Some(w.text)
                };
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.err(format!("expected ')' to close '{name}('")));
                }
                self.pos += 1;
                f
            } else {
                None
            };
            if field.is_none() && func != AggFunc::Count {
                return Err(Error::at(
                    start,
                    format!("'{name}' needs a field: {name}(field)"),
                ));
            }
            let alias = if self.keyword_here("as") {
                Some(self.field("as")?)
            } else {
                None
            };
            out.push(Agg { func, field, alias });
            self.skip_ws();
            if self.peek() != Some(',') {
                return Ok(out);
            }
            self.pos += 1;
        }
    }
}

/// `a AND (b AND c)` becomes one `And` of three, so that an AST has one
/// shape however it was parenthesised.
fn join(xs: Vec<Expr>, and: bool) -> Expr {
    if xs.len() == 1 {
        return xs.into_iter().next().unwrap_or(Expr::All);
    }
    let mut flat = Vec::with_capacity(xs.len());
    for x in xs {
        match x {
            Expr::And(inner) if and => flat.extend(inner),
            Expr::Or(inner) if !and => flat.extend(inner),
            x => flat.push(x),
        }
    }
    if and {
        Expr::And(flat)
    } else {
        Expr::Or(flat)
    }
}

/// Bounds and values on `@timestamp` must be times; checked here, where
/// the column is known.
fn check_time(field: &str, v: &Word) -> Result<(), Error> {
    if field != TIMESTAMP {
        return Ok(());
    }
    let epoch = chrono::DateTime::UNIX_EPOCH.fixed_offset();
    parse_time(&v.text, epoch)
        .map(|_| ())
        .map_err(|_| {
            Error::at(
                v.start,
                format!(
                    "expected a time for @timestamp (ISO 8601 like 2024-05-01T10:00:00Z, or now-1h), found '{}'",
                    v.text
                ),
            )
        })
}

/// `30s`, `5m`, `1h`, `1d` (also `1w`) in seconds.
pub(crate) fn parse_interval(s: &str) -> Option<u64> {
    let unit_at = s.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = s[..unit_at].parse().ok()?;
    let mult = match &s[unit_at..] {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    let secs = n.checked_mul(mult)?;
    (secs > 0).then_some(secs)
}
