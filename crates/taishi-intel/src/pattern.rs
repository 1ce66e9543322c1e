//! The STIX 2.1 patterning language, as far as one event can answer it.
//!
//! A pattern is parsed whole (every comparison operator, `NOT`, `IN`,
//! `EXISTS`, observation operators and qualifiers), then reduced to what a
//! single event can be tested against: one or more observations joined by
//! `OR`, each a disjunction of conjunctions of comparisons. Observation `AND`,
//! `FOLLOWEDBY` and qualifiers (`WITHIN`, `REPEATS`, `START…STOP`) relate
//! several events; they are reported as unsupported rather than dropped or
//! loosened.

use std::fmt;

use crate::model::CondOp;

/// One comparison: `object-type:path OP value(s)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Quotes around path components removed: `file:hashes.SHA-256`.
    pub path: String,
    pub op: Op,
    pub values: Vec<Literal>,
    pub negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
    Exists,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::In => "IN",
            Op::Like => "LIKE",
            Op::Matches => "MATCHES",
            Op::IsSubset => "ISSUBSET",
            Op::IsSuperset => "ISSUPERSET",
            Op::Exists => "EXISTS",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Timestamp(String),
    Binary(String),
    Hex(String),
}

impl Literal {
    /// The value as the text an event field would hold.
    pub fn text(&self) -> String {
        match self {
            Literal::Str(s) | Literal::Timestamp(s) | Literal::Binary(s) | Literal::Hex(s) => {
                s.clone()
            }
            Literal::Int(i) => i.to_string(),
            Literal::Float(f) => f.to_string(),
            Literal::Bool(b) => b.to_string(),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == Op::Exists {
            return write!(f, "EXISTS {}", self.path);
        }
        write!(f, "{} ", self.path)?;
        if self.negated {
            f.write_str("NOT ")?;
        }
        write!(f, "{} ", self.op.as_str())?;
        let quote = |l: &Literal| match l {
            Literal::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            other => other.text(),
        };
        if self.op == Op::In {
            let vals: Vec<String> = self.values.iter().map(quote).collect();
            write!(f, "({})", vals.join(", "))
        } else {
            f.write_str(&self.values.first().map(quote).unwrap_or_default())
        }
    }
}

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Not valid STIX patterning; the byte offset of the problem.
    Syntax { offset: usize, reason: String },
    /// Valid, but not something a single event can be matched against.
    Unsupported(String),
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Syntax { offset, reason } => {
                write!(f, "pattern syntax error at offset {offset}: {reason}")
            }
            PatternError::Unsupported(r) => write!(f, "pattern not supported: {r}"),
        }
    }
}

/// A conjunction of comparisons on one observation.
pub type Conjunction = Vec<Comparison>;

/// The alternatives of a pattern: the event matches when every comparison of
/// one conjunction holds.
pub fn parse(pattern: &str) -> Result<Vec<Conjunction>, PatternError> {
    let tokens = lex(pattern)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        len: pattern.len(),
    };
    let obs = p.observation_or()?;
    if let Some((t, off)) = p.tokens.get(p.pos) {
        return Err(p.syntax(*off, format!("unexpected {t} after the pattern")));
    }
    let mut out = Vec::new();
    for cmp in obs {
        to_dnf(&cmp, &mut out)?;
    }
    Ok(out)
}

const MAX_CONJUNCTIONS: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Cmp(Comparison),
}

fn to_dnf(e: &Expr, out: &mut Vec<Conjunction>) -> Result<(), PatternError> {
    let mut d = dnf(e)?;
    out.append(&mut d);
    Ok(())
}

fn dnf(e: &Expr) -> Result<Vec<Conjunction>, PatternError> {
    Ok(match e {
        Expr::Cmp(c) => vec![vec![c.clone()]],
        Expr::Or(xs) => {
            let mut out = Vec::new();
            for x in xs {
                out.extend(dnf(x)?);
                if out.len() > MAX_CONJUNCTIONS {
                    return Err(PatternError::Unsupported(format!(
                        "more than {MAX_CONJUNCTIONS} alternatives"
                    )));
                }
            }
            out
        }
        Expr::And(xs) => {
            let mut acc: Vec<Conjunction> = vec![Vec::new()];
            for x in xs {
                let d = dnf(x)?;
                if acc.len().saturating_mul(d.len()) > MAX_CONJUNCTIONS {
                    return Err(PatternError::Unsupported(format!(
                        "more than {MAX_CONJUNCTIONS} alternatives"
                    )));
                }
                let mut next = Vec::with_capacity(acc.len() * d.len());
                for a in &acc {
                    for b in &d {
                        let mut c = a.clone();
                        c.extend(b.iter().cloned());
                        next.push(c);
                    }
                }
                acc = next;
            }
            acc
        }
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Op(&'static str),
    Word(String),
    Path(String),
    Lit(Literal),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LBracket => f.write_str("'['"),
            Tok::RBracket => f.write_str("']'"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::Comma => f.write_str("','"),
            Tok::Op(o) => write!(f, "'{o}'"),
            Tok::Word(w) => write!(f, "{w}"),
            Tok::Path(p) => write!(f, "object path {p}"),
            Tok::Lit(l) => write!(f, "literal {}", l.text()),
        }
    }
}

fn lex(s: &str) -> Result<Vec<(Tok, usize)>, PatternError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |offset: usize, reason: &str| PatternError::Syntax {
        offset,
        reason: reason.to_string(),
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'[' => {
                out.push((Tok::LBracket, i));
                i += 1;
            }
            b']' => {
                out.push((Tok::RBracket, i));
                i += 1;
            }
            b'(' => {
                out.push((Tok::LParen, i));
                i += 1;
            }
            b')' => {
                out.push((Tok::RParen, i));
                i += 1;
            }
            b',' => {
                out.push((Tok::Comma, i));
                i += 1;
            }
            b'=' => {
                out.push((Tok::Op("="), i));
                i += 1;
            }
            b'!' | b'<' | b'>' => {
                let two = b.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'!', true) => "!=",
                    (b'<', true) => "<=",
                    (b'>', true) => ">=",
                    (b'<', false) => "<",
                    (b'>', false) => ">",
                    _ => return Err(err(i, "'!' must be followed by '='")),
                };
                out.push((Tok::Op(op), i));
                i += if two { 2 } else { 1 };
            }
            b'\'' => {
                let (v, next) = string_lit(s, i).ok_or_else(|| err(i, "unterminated string"))?;
                out.push((Tok::Lit(Literal::Str(v)), start));
                i = next;
            }
            b'-' | b'0'..=b'9' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                    j += 1;
                }
                let text = &s[i..j];
                let lit = if text.contains('.') {
                    Literal::Float(text.parse().map_err(|_| err(i, "bad number"))?)
                } else {
                    Literal::Int(text.parse().map_err(|_| err(i, "bad number"))?)
                };
                out.push((Tok::Lit(lit), start));
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                // t'…', b'…', h'…' literals.
                if matches!(c, b't' | b'b' | b'h') && b.get(i + 1) == Some(&b'\'') {
                    let (v, next) =
                        string_lit(s, i + 1).ok_or_else(|| err(i, "unterminated literal"))?;
                    let lit = match c {
                        b't' => Literal::Timestamp(v),
                        b'b' => Literal::Binary(v),
                        _ => Literal::Hex(v),
                    };
                    out.push((Tok::Lit(lit), start));
                    i = next;
                    continue;
                }
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-')
                {
                    j += 1;
                }
                if b.get(j) == Some(&b':') {
                    let (path, next) = object_path(s, i, j + 1)?;
                    out.push((Tok::Path(path), start));
                    i = next;
                } else {
                    out.push((Tok::Word(s[i..j].to_ascii_uppercase()), start));
                    i = j;
                }
            }
            _ => return Err(err(i, "unexpected character")),
        }
    }
    Ok(out)
}

/// A quoted literal starting at `q` (the quote); returns the unescaped value
/// and the index after the closing quote.
fn string_lit(s: &str, q: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.get(q + 1..)?.char_indices();
    while let Some((k, ch)) = chars.next() {
        match ch {
            '\\' => {
                let (_, e) = chars.next()?;
                out.push(e);
            }
            '\'' => return Some((out, q + 1 + k + 1)),
            c => out.push(c),
        }
    }
    None
}

/// `type:prop`, `file:hashes.'SHA-256'`, `email-message:to_refs[*].value`.
fn object_path(s: &str, start: usize, mut i: usize) -> Result<(String, usize), PatternError> {
    let b = s.as_bytes();
    let mut path = String::from(&s[start..i]);
    let comp_start = i;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']' | b'*') {
            path.push(c as char);
            i += 1;
        } else if c == b'\'' {
            let (v, next) = string_lit(s, i).ok_or_else(|| PatternError::Syntax {
                offset: i,
                reason: "unterminated quoted path component".into(),
            })?;
            path.push_str(&v);
            i = next;
        } else {
            break;
        }
    }
    // `]` is part of an index only when an index was opened.
    while path.ends_with(']') && path.matches('[').count() < path.matches(']').count() {
        path.pop();
        i -= 1;
    }
    if i == comp_start {
        return Err(PatternError::Syntax {
            offset: i,
            reason: "object path without a property".into(),
        });
    }
    Ok((path, i))
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    pos: usize,
    len: usize,
}

impl Parser {
    fn syntax(&self, offset: usize, reason: String) -> PatternError {
        PatternError::Syntax { offset, reason }
    }
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }
    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.len, |(_, o)| *o)
    }
    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn expect(&mut self, t: Tok) -> Result<(), PatternError> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            let found = self.peek().map_or("the end".to_string(), |x| x.to_string());
            Err(self.syntax(self.offset(), format!("expected {t}, found {found}")))
        }
    }

    /// Observations joined by OR (what one event can satisfy); AND and
    /// FOLLOWEDBY between observations are parsed and refused.
    fn observation_or(&mut self) -> Result<Vec<Expr>, PatternError> {
        let mut out = self.observation()?;
        loop {
            if self.word("OR") {
                self.pos += 1;
                out.extend(self.observation()?);
            } else if self.word("AND") || self.word("FOLLOWEDBY") {
                let w = match self.peek() {
                    Some(Tok::Word(w)) => w.clone(),
                    _ => String::new(),
                };
                self.pos += 1;
                self.observation()?;
                return Err(PatternError::Unsupported(format!(
                    "observations joined by {w} relate several events"
                )));
            } else {
                return Ok(out);
            }
        }
    }

    fn observation(&mut self) -> Result<Vec<Expr>, PatternError> {
        let out = match self.peek() {
            Some(Tok::LBracket) => {
                self.pos += 1;
                let e = self.comparison_or()?;
                self.expect(Tok::RBracket)?;
                vec![e]
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let e = self.observation_or()?;
                self.expect(Tok::RParen)?;
                e
            }
            _ => {
                let found = self.peek().map_or("the end".to_string(), |x| x.to_string());
                return Err(self.syntax(
                    self.offset(),
                    format!("expected '[' or '(' to start an observation, found {found}"),
                ));
            }
        };
        if self.word("WITHIN") || self.word("REPEATS") || self.word("START") {
            let w = match self.peek() {
                Some(Tok::Word(w)) => w.clone(),
                _ => String::new(),
            };
            return Err(PatternError::Unsupported(format!(
                "qualifier {w} relates several events or a time window"
            )));
        }
        Ok(out)
    }

    fn comparison_or(&mut self) -> Result<Expr, PatternError> {
        let mut xs = vec![self.comparison_and()?];
        while self.word("OR") {
            self.pos += 1;
            xs.push(self.comparison_and()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::Or(xs)
        })
    }

    fn comparison_and(&mut self) -> Result<Expr, PatternError> {
        let mut xs = vec![self.prop_test()?];
        while self.word("AND") {
            self.pos += 1;
            xs.push(self.prop_test()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::And(xs)
        })
    }

    fn prop_test(&mut self) -> Result<Expr, PatternError> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.comparison_or()?;
            self.expect(Tok::RParen)?;
            return Ok(e);
        }
        if self.word("EXISTS") {
            self.pos += 1;
            let Some(Tok::Path(p)) = self.peek().cloned() else {
                return Err(self.syntax(self.offset(), "EXISTS needs an object path".into()));
            };
            self.pos += 1;
            return Ok(Expr::Cmp(Comparison {
                path: p,
                op: Op::Exists,
                values: Vec::new(),
                negated: false,
            }));
        }
        let Some(Tok::Path(path)) = self.peek().cloned() else {
            let found = self.peek().map_or("the end".to_string(), |x| x.to_string());
            return Err(self.syntax(
                self.offset(),
                format!("expected an object path, found {found}"),
            ));
        };
        self.pos += 1;
        let mut negated = false;
        if self.word("NOT") {
            negated = true;
            self.pos += 1;
        }
        let op = match self.peek() {
            Some(Tok::Op(o)) => match *o {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "<" => Op::Lt,
                _ => Op::Le,
            },
            Some(Tok::Word(w)) => match w.as_str() {
                "IN" => Op::In,
                "LIKE" => Op::Like,
                "MATCHES" => Op::Matches,
                "ISSUBSET" => Op::IsSubset,
                "ISSUPERSET" => Op::IsSuperset,
                _ => return Err(self.syntax(self.offset(), format!("unknown operator {w}"))),
            },
            other => {
                let found = other.map_or("the end".to_string(), |x| x.to_string());
                return Err(self.syntax(
                    self.offset(),
                    format!("expected a comparison operator, found {found}"),
                ));
            }
        };
        self.pos += 1;
        let values = if op == Op::In {
            self.expect(Tok::LParen)?;
            let mut vals = Vec::new();
            loop {
                vals.push(self.literal()?);
                if self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            self.expect(Tok::RParen)?;
            vals
        } else {
            vec![self.literal()?]
        };
        Ok(Expr::Cmp(Comparison {
            path,
            op,
            values,
            negated,
        }))
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        match self.peek().cloned() {
            Some(Tok::Lit(l)) => {
                self.pos += 1;
                Ok(l)
            }
            Some(Tok::Word(w)) if w == "TRUE" || w == "FALSE" => {
                self.pos += 1;
                Ok(Literal::Bool(w == "TRUE"))
            }
            other => {
                let found = other.map_or("the end".to_string(), |x| x.to_string());
                Err(self.syntax(self.offset(), format!("expected a literal, found {found}")))
            }
        }
    }
}

/// The condition operator for a comparison, when one exists.
pub fn cond_op(op: Op) -> Option<(CondOp, bool)> {
    Some(match op {
        Op::Eq | Op::In => (CondOp::Eq, false),
        Op::Ne => (CondOp::Eq, true),
        Op::Matches => (CondOp::Matches, false),
        Op::Like => (CondOp::Like, false),
        Op::IsSubset => (CondOp::Subset, false),
        Op::Gt => (CondOp::Gt, false),
        Op::Ge => (CondOp::Ge, false),
        Op::Lt => (CondOp::Lt, false),
        Op::Le => (CondOp::Le, false),
        Op::IsSuperset | Op::Exists => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_or_and_in() {
        let d =
            parse("[domain-name:value = 'a.example' OR ipv4-addr:value IN ('1.2.3.4', '5.6.7.8')]")
                .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1][0].op, Op::In);
        assert_eq!(d[1][0].values.len(), 2);
        let d = parse(
            "[file:hashes.'SHA-256' = 'ab' AND file:name = 'x.exe'] OR [url:value = 'http://x/']",
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0][0].path, "file:hashes.SHA-256");
        assert_eq!(d[0].len(), 2);
    }

    #[test]
    fn distributes_and_over_or() {
        let d = parse("[(a:x = '1' OR a:x = '2') AND a:y = '3']").unwrap();
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|c| c.len() == 2));
    }

    #[test]
    fn escapes_and_paths() {
        let d = parse(
            r"[email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']",
        )
        .unwrap();
        assert_eq!(
            d[0][0].path,
            "email-message:body_multipart[*].body_raw_ref.name"
        );
        assert_eq!(
            d[0][0].values[0],
            Literal::Str(r"^Final Report.+\.exe$".into())
        );
    }

    #[test]
    fn refuses_multi_event_and_bad_syntax() {
        assert!(matches!(
            parse("[a:x = '1'] FOLLOWEDBY [a:y = '2']"),
            Err(PatternError::Unsupported(_))
        ));
        assert!(matches!(
            parse("[a:x = '1'] WITHIN 300 SECONDS"),
            Err(PatternError::Unsupported(_))
        ));
        assert!(matches!(
            parse("[a:x = ]"),
            Err(PatternError::Syntax { .. })
        ));
        assert!(matches!(
            parse("[a:x = 'unterminated]"),
            Err(PatternError::Syntax { .. })
        ));
        assert!(matches!(
            parse("a:x = '1'"),
            Err(PatternError::Syntax { .. })
        ));
    }
}
