//! The condition grammar: `and`, `or`, `not`, parentheses, `1 of x*`,
//! `all of x*`, `N of them`, with the precedence of the specification
//! (least to most binding: or, and, not, x of, parentheses).

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

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some(&(_, c)) = it.peek() {
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

    fn or(&mut self) -> Result<Cond, String> {
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

    fn and(&mut self) -> Result<Cond, String> {
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

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek() == Some(&Tok::Not) {
            self.next();
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, String> {
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
            Some(t) => Err(format!("unexpected `{}`", tok_text(&t))),
            None => Err("the condition ends too early".into()),
        }
    }

    fn expect_of(&mut self) -> Result<(), String> {
        match self.next() {
            Some(Tok::Of) => Ok(()),
            _ => Err("expected `of` after a count".into()),
        }
    }

    fn target(&mut self) -> Result<Option<String>, String> {
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

pub fn parse(s: &str) -> Result<Cond, String> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err("the condition is empty".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let c = p.or()?;
    if let Some(t) = p.peek() {
        return Err(format!("unexpected `{}`", tok_text(t)));
    }
    Ok(c)
}

/// Wildcard match of identifier patterns (`selection_*`).
pub fn ident_matches(pattern: &str, name: &str) -> bool {
    fn rec(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| rec(rest, &n[i..])),
            Some((b'?', rest)) => !n.is_empty() && rec(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && rec(rest, &n[1..]),
        }
    }
    rec(pattern.as_bytes(), name.as_bytes())
}

/// Resolves identifiers against the rule's search names.
pub fn resolve(c: &Cond, names: &[String]) -> Result<Expr, String> {
    let find = |pattern: &Option<String>| -> Result<Vec<Expr>, String> {
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
                Some(p) => format!("no search identifier matches `{p}`"),
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
                ))
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
}
