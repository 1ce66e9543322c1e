//! Why correlation rules cannot be used.

/// A correlation rule, or a set of them, that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorrelationError {
    /// One rule is malformed; the message starts with the key at fault
    /// (`correlation.timespan: …`).
    #[error("{0}")]
    Rule(String),
    /// The rules cannot be used together: an id or name given twice, a
    /// cycle of references, too many rules.
    #[error("{0}")]
    Set(String),
}

impl From<&str> for CorrelationError {
    fn from(s: &str) -> CorrelationError {
        CorrelationError::Rule(s.to_string())
    }
}

impl From<String> for CorrelationError {
    fn from(s: String) -> CorrelationError {
        CorrelationError::Rule(s)
    }
}
