//! The condition grammar: `and`, `or`, `not`, parentheses, `1 of x*`,
//! `all of x*`, `N of them`, with the precedence of the specification
//! (least to most binding: or, and, not, x of, parentheses).
//!
//! A condition comes from whoever may upload or validate a rule, so its
//! nesting and length are bounded before the recursive descent runs:
//! [`MAX_DEPTH`] levels and [`MAX_TOKENS`] tokens.

/// Deepest nesting of parentheses and `not` in a condition. SigmaHQ's
/// rules nest at most 3; the bound keeps the parser, the resolver and the
/// engine's evaluation (each recursing once per level) far inside a 2 MiB
/// thread stack.
pub const MAX_DEPTH: usize = 64;
/// Most tokens in one condition. SigmaHQ's longest condition has under 40;
/// the bound caps the work and memory of one condition however it is
/// shaped.
pub const MAX_TOKENS: usize = 4096;

/// Why a condition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("{0}")]
    Syntax(String),
    #[error(
        "the condition nests deeper than {limit} levels of parentheses and `not` (at token \
         {token}); Sigma rules need a few: flatten it with `1 of`/`all of` or by distributing `not`"
    )]
    TooDeep { limit: usize, token: usize },
    #[error(
        "the condition has more than {limit} tokens; split the rule or group searches with \
         `1 of selection_*`"
    )]
    TooManyTokens { limit: usize },
}

impl From<&str> for ConditionError {
    fn from(s: &str) -> Self {
        ConditionError::Syntax(s.to_string())
    }
}

impl From<String> for ConditionError {
    fn from(s: String) -> Self {
        ConditionError::Syntax(s)
    }
}

/// A parsed condition, naming search identifiers.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Ident(String),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// At least `n` of the identifiers matching the pattern (None = them).
    OneOf {
        n: usize,
        pattern: Option<String>,
    },
    AllOf {
        pattern: Option<String>,
    },
}

/// A condition resolved to search indices.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Search(usize),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    AtLeast(usize, Vec<Expr>),
    Const(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of,
    All,
    Them,
    Num(usize),
    Word(String),
}

fn lex(s: &str) -> Result<Vec<Tok>, ConditionError> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some(&(_, c)) = it.peek() {
        if out.len() >= MAX_TOKENS {
            return Err(ConditionError::TooManyTokens { limit: MAX_TOKENS });
        }
        if c.is_whitespace() {
            it.next();
        } else if c == '(' {
            it.next();
            out.push(Tok::LParen);
        } else if c == ')' {
            it.next();
            out.push(Tok::RParen);
        } else if c == '|' {
            return Err(
                "the aggregation syntax (`| count() …`) is legacy Sigma; write a correlation rule instead"
                    .into(),
            );
        } else {
            let mut w = String::new();
            while let Some(&(_, c)) = it.peek() {
                if c.is_whitespace() || c == '(' || c == ')' {
                    break;
                }
                w.push(c);
                it.next();
            }
            out.push(match w.to_ascii_lowercase().as_str() {
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                "of" => Tok::Of,
                "all" => Tok::All,
                "them" => Tok::Them,
                _ => match w.parse::<usize>() {
                    Ok(n) => Tok::Num(n),
                    Err(_) => Tok::Word(w),
                },
            });
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Cond, ConditionError> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.next();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, ConditionError> {
        let mut items = vec![self.not()?];
        while self.peek() == Some(&Tok::And) {
            self.next();
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::And(items)
        })
    }

    /// `not` and parentheses both recurse through here, so the depth is
    /// checked once, before going deeper.
    fn not(&mut self) -> Result<Cond, ConditionError> {
        if self.depth >= MAX_DEPTH {
            return Err(ConditionError::TooDeep {
                limit: MAX_DEPTH,
                token: self.pos + 1,
            });
        }
        self.depth += 1;
        let r = if self.peek() == Some(&Tok::Not) {
            self.next();
            self.not().map(|c| Cond::Not(Box::new(c)))
        } else {
            self.atom()
        };
        self.depth -= 1;
        r
    }

    fn atom(&mut self) -> Result<Cond, ConditionError> {
        match self.next() {
            Some(Tok::LParen) => {
                let c = self.or()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(c),
                    _ => Err("missing `)`".into()),
                }
            }
            Some(Tok::Num(n)) => {
                self.expect_of()?;
                let pattern = self.target()?;
                if n == 0 {
                    return Err("`0 of` is not a condition".into());
                }
                Ok(Cond::OneOf { n, pattern })
            }
            Some(Tok::All) => {
                self.expect_of()?;
                let pattern = self.target()?;
                Ok(Cond::AllOf { pattern })
            }
            Some(Tok::Word(w)) => Ok(Cond::Ident(w)),
            Some(t) => Err(format!("unexpected `{}`", tok_text(&t)).into()),
            None => Err("the condition ends too early".into()),
        }
    }

    fn expect_of(&mut self) -> Result<(), ConditionError> {
        match self.next() {
            Some(Tok::Of) => Ok(()),
            _ => Err("expected `of` after a count".into()),
        }
    }

    fn target(&mut self) -> Result<Option<String>, ConditionError> {
        match self.next() {
            Some(Tok::Them) => Ok(None),
            Some(Tok::Word(w)) => Ok(Some(w)),
            _ => Err("expected `them` or a search identifier pattern after `of`".into()),
        }
    }
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::And => "and".into(),
        Tok::Or => "or".into(),
        Tok::Not => "not".into(),
        Tok::Of => "of".into(),
        Tok::All => "all".into(),
        Tok::Them => "them".into(),
        Tok::Num(n) => n.to_string(),
        Tok::Word(w) => w.clone(),
    }
}

pub fn parse(s: &str) -> Result<Cond, ConditionError> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err("the condition is empty".into());
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let c = p.or()?;
    if let Some(t) = p.peek() {
        return Err(format!("unexpected `{}`", tok_text(t)).into());
    }
    Ok(c)
}

/// Wildcard match of identifier patterns (`selection_*`), byte-wise.
///
/// Iterative, remembering only the last `*`: a star-heavy pattern from an
/// uploaded rule (`*a*a*a…`) costs at most pattern × name steps, where a
/// recursive matcher is exponential and recurses once per pattern byte.
pub fn ident_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Resolves identifiers against the rule's search names.
pub fn resolve(c: &Cond, names: &[String]) -> Result<Expr, ConditionError> {
    let find = |pattern: &Option<String>| -> Result<Vec<Expr>, ConditionError> {
        let hits: Vec<Expr> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| match pattern {
                None => !n.starts_with('_'),
                Some(p) => ident_matches(p, n),
            })
            .map(|(i, _)| Expr::Search(i))
            .collect();
        if hits.is_empty() {
            return Err(match pattern {
                None => "`of them` but the detection has no search identifiers".into(),
                Some(p) => format!("no search identifier matches `{p}`").into(),
            });
        }
        Ok(hits)
    };
    Ok(match c {
        Cond::Ident(n) => match names.iter().position(|x| x == n) {
            Some(i) => Expr::Search(i),
            None => {
                return Err(format!(
                    "the condition names `{n}`, which the detection does not define"
                )
                .into())
            }
        },
        Cond::And(v) => Expr::And(
            v.iter()
                .map(|x| resolve(x, names))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Or(v) => Expr::Or(
            v.iter()
                .map(|x| resolve(x, names))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Not(x) => Expr::Not(Box::new(resolve(x, names)?)),
        Cond::OneOf { n, pattern } => {
            let hits = find(pattern)?;
            if *n == 1 {
                Expr::Or(hits)
            } else {
                Expr::AtLeast(*n, hits)
            }
        }
        Cond::AllOf { pattern } => Expr::And(find(pattern)?),
    })
}

impl Expr {
    /// Shifts search indices (for a filter's searches appended to a rule's).
    pub fn offset(&self, by: usize) -> Expr {
        match self {
            Expr::Search(i) => Expr::Search(i + by),
            Expr::And(v) => Expr::And(v.iter().map(|e| e.offset(by)).collect()),
            Expr::Or(v) => Expr::Or(v.iter().map(|e| e.offset(by)).collect()),
            Expr::Not(e) => Expr::Not(Box::new(e.offset(by))),
            Expr::AtLeast(n, v) => Expr::AtLeast(*n, v.iter().map(|e| e.offset(by)).collect()),
            Expr::Const(b) => Expr::Const(*b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Cond {
        Cond::Ident(s.into())
    }

    #[test]
    fn precedence_not_and_or() {
        assert_eq!(
            parse("a or b and not c").unwrap(),
            Cond::Or(vec![
                id("a"),
                Cond::And(vec![id("b"), Cond::Not(Box::new(id("c")))])
            ])
        );
        assert_eq!(
            parse("(a or b) and c").unwrap(),
            Cond::And(vec![Cond::Or(vec![id("a"), id("b")]), id("c")])
        );
        assert_eq!(
            parse("not a and b").unwrap(),
            Cond::And(vec![Cond::Not(Box::new(id("a"))), id("b")])
        );
        assert_eq!(
            parse("not not a").unwrap(),
            Cond::Not(Box::new(Cond::Not(Box::new(id("a")))))
        );
    }

    #[test]
    fn of_forms() {
        assert_eq!(
            parse("1 of selection* and not 1 of filter*").unwrap(),
            Cond::And(vec![
                Cond::OneOf {
                    n: 1,
                    pattern: Some("selection*".into())
                },
                Cond::Not(Box::new(Cond::OneOf {
                    n: 1,
                    pattern: Some("filter*".into())
                })),
            ])
        );
        assert_eq!(parse("all of them").unwrap(), Cond::AllOf { pattern: None });
        assert_eq!(
            parse("1 of them").unwrap(),
            Cond::OneOf {
                n: 1,
                pattern: None
            }
        );
        assert_eq!(
            parse("ALL OF sel_*").unwrap(),
            Cond::AllOf {
                pattern: Some("sel_*".into())
            }
        );
    }

    #[test]
    fn errors_are_named() {
        assert!(parse("a and").is_err());
        assert!(parse("(a or b").is_err());
        assert!(parse("a b").is_err());
        assert!(parse("sel | count() > 5")
            .unwrap_err()
            .to_string()
            .contains("correlation"));
        assert!(parse("").is_err());
    }

    #[test]
    fn resolving_them_skips_underscore_names() {
        let names = vec![
            "sel1".to_string(),
            "sel2".to_string(),
            "_aux".to_string(),
            "filter".to_string(),
        ];
        assert_eq!(
            resolve(&parse("all of them").unwrap(), &names).unwrap(),
            Expr::And(vec![Expr::Search(0), Expr::Search(1), Expr::Search(3)])
        );
        assert_eq!(
            resolve(&parse("1 of sel*").unwrap(), &names).unwrap(),
            Expr::Or(vec![Expr::Search(0), Expr::Search(1)])
        );
        assert!(resolve(&parse("missing").unwrap(), &names).is_err());
        assert!(resolve(&parse("1 of nope*").unwrap(), &names).is_err());
        assert!(ident_matches("*_x_*", "a_x_b"));
    }

    #[test]
    fn deep_conditions_are_refused_not_a_crash() {
        let huge = format!("{}a{}", "(".repeat(5_000), ")".repeat(5_000));
        assert!(parse(&huge).is_err());
        let deep = format!("{}a{}", "(".repeat(2_000), ")".repeat(2_000));
        assert_eq!(
            parse(&deep).unwrap_err(),
            ConditionError::TooDeep {
                limit: MAX_DEPTH,
                token: MAX_DEPTH + 1
            }
        );
        let nots = format!("{}a", "not ".repeat(50_000));
        assert!(matches!(
            parse(&nots).unwrap_err(),
            ConditionError::TooManyTokens { .. }
        ));
        let nots = format!("{}a", "not ".repeat(1_000));
        assert!(matches!(
            parse(&nots).unwrap_err(),
            ConditionError::TooDeep { .. }
        ));
        // Up to the limit, it parses.
        let ok = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse(&ok).is_ok());
        let msg = parse(&deep).unwrap_err().to_string();
        assert!(msg.contains("64") && msg.contains("flatten"), "{msg}");
    }

    #[test]
    fn long_conditions_are_refused() {
        let long = vec!["a"; MAX_TOKENS].join(" or ");
        assert_eq!(
            parse(&long).unwrap_err(),
            ConditionError::TooManyTokens { limit: MAX_TOKENS }
        );
        let fits = vec!["a"; MAX_TOKENS / 2].join(" or ");
        assert!(parse(&fits).is_ok());
    }

    #[test]
    fn star_heavy_identifier_patterns_are_fast() {
        let p = format!("{}b", "*a".repeat(2_000));
        let n = "a".repeat(5_000);
        let t = std::time::Instant::now();
        assert!(!ident_matches(&p, &n));
        assert!(ident_matches(&p[..p.len() - 1], &n));
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        for (p, n, want) in [
            ("sel*", "selection", true),
            ("sel*", "se", false),
            ("*", "", true),
            ("?", "", false),
            ("a?c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("*x", "x", true),
            ("x*", "yx", false),
        ] {
            assert_eq!(ident_matches(p, n), want, "{p} vs {n}");
        }
    }
}
