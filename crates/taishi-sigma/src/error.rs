//! Why a rule document was refused, in fields a caller can use: the kind of
//! problem, the YAML keys leading to it (which the loader turns into a line
//! and column), and the message.

/// What part of a rule is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleErrorKind {
    /// The file is not valid YAML.
    Yaml,
    /// The document is not a usable rule: a missing or malformed key.
    Rule,
    /// The detection's condition.
    Condition,
    /// A field's modifiers or the values they apply to.
    Modifier,
    /// A correlation rule.
    Correlation,
    /// A bound on rule files (size, YAML nodes) was exceeded.
    Limit,
    /// The file could not be read.
    File,
}

impl RuleErrorKind {
    /// The name the API and tools show.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleErrorKind::Yaml => "yaml",
            RuleErrorKind::Rule => "rule",
            RuleErrorKind::Condition => "condition",
            RuleErrorKind::Modifier => "modifier",
            RuleErrorKind::Correlation => "correlation",
            RuleErrorKind::Limit => "limit",
            RuleErrorKind::File => "file",
        }
    }
}

/// A rule document that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub kind: RuleErrorKind,
    /// The YAML keys leading to the fault, innermost first (a field with its
    /// modifiers, then its search, then `detection`; or `condition`,
    /// `title` …); empty when no key is at fault (a key is missing).
    pub keys: Vec<String>,
    pub message: String,
}

impl RuleError {
    pub fn new(kind: RuleErrorKind, message: impl Into<String>) -> RuleError {
        RuleError {
            kind,
            keys: Vec::new(),
            message: message.into(),
        }
    }

    pub fn modifier(message: impl Into<String>) -> RuleError {
        RuleError::new(RuleErrorKind::Modifier, message)
    }

    /// Names the key the error was found under (called from the innermost
    /// key outwards).
    pub fn at(mut self, key: &str) -> RuleError {
        self.keys.push(key.to_string());
        self
    }

    /// Puts `what` (such as "search `selection`") before the message.
    pub fn within(mut self, what: impl std::fmt::Display) -> RuleError {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl From<&str> for RuleError {
    fn from(s: &str) -> RuleError {
        RuleError::new(RuleErrorKind::Rule, s)
    }
}

impl From<String> for RuleError {
    fn from(s: String) -> RuleError {
        RuleError::new(RuleErrorKind::Rule, s)
    }
}
