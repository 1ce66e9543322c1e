use std::fmt;

/// What kind of problem a query has, for callers that answer differently
/// (a limit is the operator's to raise; a syntax error is the analyst's to
/// fix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text does not follow the grammar, or a literal is invalid.
    Syntax,
    /// Terms nest deeper than `limit` levels (parentheses and `NOT`/`-`
    /// prefixes).
    TooDeep { limit: usize },
    /// More than `limit` terms (clauses, stage items).
    TooManyClauses { limit: usize },
}

/// A query that cannot be parsed or run. `column` (1-based, in characters)
/// points at the offending spot in the query text when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub column: Option<usize>,
    pub message: String,
    pub kind: ErrorKind,
}

impl Error {
    /// An error at a 0-based char index.
    pub(crate) fn at(index: usize, message: impl Into<String>) -> Error {
        Error {
            column: Some(index + 1),
            message: message.into(),
            kind: ErrorKind::Syntax,
        }
    }

    pub(crate) fn msg(message: impl Into<String>) -> Error {
        Error {
            column: None,
            message: message.into(),
            kind: ErrorKind::Syntax,
        }
    }

    /// A limit exceeded at a 0-based char index (None for an AST that did
    /// not come from text).
    pub(crate) fn limit(index: Option<usize>, kind: ErrorKind) -> Error {
        let message = match kind {
            ErrorKind::TooDeep { limit } => format!(
                "the query nests deeper than {limit} levels (parentheses and NOT/-/+ prefixes; \
                 the limit is `[search] max_depth` in the server config): flatten it, e.g. \
                 write `NOT (a OR b)` once instead of nesting"
            ),
            ErrorKind::TooManyClauses { limit } => format!(
                "the query has more than {limit} terms (the limit is `[search] max_clauses` in \
                 the server config): combine values with a wildcard, a range or a CIDR, or split \
                 the search"
            ),
            ErrorKind::Syntax => String::new(),
        };
        Error {
            column: index.map(|i| i + 1),
            message,
            kind,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "at column {c}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}
