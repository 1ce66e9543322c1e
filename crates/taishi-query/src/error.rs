use std::fmt;

/// A query that cannot be parsed or run. `column` (1-based, in characters)
/// points at the offending spot in the query text when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub column: Option<usize>,
    pub message: String,
}

impl Error {
    /// An error at a 0-based char index.
    pub(crate) fn at(index: usize, message: impl Into<String>) -> Error {
        Error {
            column: Some(index + 1),
            message: message.into(),
        }
    }

    pub(crate) fn msg(message: impl Into<String>) -> Error {
        Error {
            column: None,
            message: message.into(),
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
