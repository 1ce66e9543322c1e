//! Taishi's Sigma engine.
//!
//! * [`load::RuleSet`] reads rule files: rules, meta-filters (applied to the
//!   rules they name) and correlation rules (kept as YAML for
//!   `taishi-correlation`); every rule that cannot be used is a
//!   [`load::Rejected`] with its reason.
//! * [`pipeline`] reads pySigma-style processing pipelines; the built-in
//!   ones map Sigma log sources to Windows channels and event ids (Sysmon
//!   and Security 4688), to winlogbeat/ECS names, and to the fields Taishi's
//!   other decoders produce.
//! * [`engine::Engine`] compiles a rule set into one matcher (dispatch by
//!   log source, EventID and Channel; shared Aho-Corasick literal automata
//!   choosing the few rules worth evaluating) and runs it over events.
//!
//! Matching semantics, where the specification leaves a choice:
//! * Strings compare case-insensitively (Unicode lowercase) unless `cased`;
//!   `re` is case-sensitive unless `i`, and searches (not anchored).
//! * Keywords (values not bound to a field) are searched as substrings of
//!   every field value of the event (strings and numbers as text), not of
//!   field names; `startswith`/`endswith`/`re` given explicitly apply as
//!   written.
//! * `null` matches an absent field or a null value; `''` matches an empty
//!   string or a null value; `exists` checks presence only.
//! * A number matches a numeric field by value and a text field equal to its
//!   text or parsing to the same number.
//! * A field holding a list matches when any element does.
//! * `windash` permutes the five dash characters where they start a flag
//!   (after a non-word character, before a word character), as pySigma does.

pub mod condition;
pub mod engine;
pub mod error;
pub mod literal;
pub mod load;
pub mod matcher;
pub mod pipeline;
pub mod regression;
pub mod rule;
pub mod string;
pub mod titles;

pub use engine::{CompileError, Detection, Engine, EngineOptions, RuleStats, Scratch};
pub use error::{RuleError, RuleErrorKind};
pub use load::{rule_from_yaml, CorrelationDoc, Filter, LoadError, LoadLimits, Rejected, RuleSet};
pub use pipeline::{Pipeline, Profile};
pub use rule::{Level, LogSource, Rule, RuleMeta};
