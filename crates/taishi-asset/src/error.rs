//! Typed errors. A whole input that cannot be read is an [`ImportError`];
//! one bad row or record inside it is a [`RecordError`], counted and kept
//! beside the records that were imported.

use crate::lang::Lang;
use serde::Serialize;

/// Bounds on every input. A report past a bound is refused whole rather
/// than cut short: a truncated scan would make the rescan logic call the
/// findings it lost "fixed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one file.
    pub max_bytes: usize,
    /// XML element nesting.
    pub max_depth: usize,
    /// Rows, records or hosts of one file.
    pub max_records: usize,
    /// Findings of one report.
    pub max_findings: usize,
    /// Bytes of one field kept (evidence is cut at this, at a char boundary).
    pub max_field_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 512 << 20,
            max_depth: 64,
            max_records: 1_000_000,
            max_findings: 2_000_000,
            max_field_bytes: 16 << 10,
        }
    }
}

/// An input that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("{source_name}: {size} bytes is over the limit of {limit}")]
    TooLarge {
        source_name: String,
        size: usize,
        limit: usize,
    },
    #[error(
        "{source_name}: XML nested deeper than {limit} elements at line {line} (byte {offset})"
    )]
    TooDeep {
        source_name: String,
        limit: usize,
        line: u64,
        offset: u64,
    },
    #[error(
        "{source_name}: entity declarations in a DTD are refused (line {line}, byte {offset})"
    )]
    Dtd {
        source_name: String,
        line: u64,
        offset: u64,
    },
    #[error("{source_name}: not UTF-8 at byte {offset}")]
    NotUtf8 { source_name: String, offset: u64 },
    #[error("{source_name}: XML error{}: {message}", at.map(|(l, o)| format!(" at line {l} (byte {o})")).unwrap_or_default())]
    Xml {
        source_name: String,
        /// Line and byte offset, known for syntax errors; a structure error
        /// found while mapping the document onto the report's types has
        /// none.
        at: Option<(u64, u64)>,
        message: String,
    },
    #[error("{source_name}: JSON error at line {line}, column {column}: {message}")]
    Json {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{source_name}: CSV error at line {line}: {message}")]
    Csv {
        source_name: String,
        line: u64,
        message: String,
    },
    #[error("{source_name}: not a {expected} report: {reason}")]
    Format {
        source_name: String,
        expected: &'static str,
        reason: String,
    },
    #[error("{source_name}: more than {limit} records")]
    TooManyRecords { source_name: String, limit: usize },
    #[error("{source_name}: more than {limit} findings")]
    TooManyFindings { source_name: String, limit: usize },
}

impl ImportError {
    /// The message in the reader's language.
    pub fn message(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        match self {
            ImportError::TooLarge {
                source_name,
                size,
                limit,
            } => format!("{source_name}：{size} 字节，超过上限 {limit}"),
            ImportError::TooDeep {
                source_name,
                limit,
                line,
                offset,
            } => {
                format!("{source_name}：XML 嵌套超过 {limit} 层（第 {line} 行，第 {offset} 字节）")
            }
            ImportError::Dtd {
                source_name,
                line,
                offset,
            } => format!("{source_name}：拒绝 DTD 实体声明（第 {line} 行，第 {offset} 字节）"),
            ImportError::NotUtf8 {
                source_name,
                offset,
            } => format!("{source_name}：第 {offset} 字节起不是 UTF-8 编码"),
            ImportError::Xml {
                source_name,
                at,
                message,
            } => format!(
                "{source_name}：XML 错误{}：{message}",
                at.map(|(l, o)| format!("（第 {l} 行，第 {o} 字节）"))
                    .unwrap_or_default()
            ),
            ImportError::Json {
                source_name,
                line,
                column,
                message,
            } => format!("{source_name}：JSON 错误（第 {line} 行第 {column} 列）：{message}"),
            ImportError::Csv {
                source_name,
                line,
                message,
            } => format!("{source_name}：CSV 错误（第 {line} 行）：{message}"),
            ImportError::Format {
                source_name,
                expected,
                reason,
            } => format!("{source_name}：不是 {expected} 报告：{reason}"),
            ImportError::TooManyRecords { source_name, limit } => {
                format!("{source_name}：记录数超过上限 {limit}")
            }
            ImportError::TooManyFindings { source_name, limit } => {
                format!("{source_name}：发现项超过上限 {limit}")
            }
        }
    }
}

/// What was wrong with one field of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A required field is absent or empty.
    Missing,
    /// The value is not of the expected kind.
    Invalid { value: String, expected: String },
    /// The record names nothing that identifies an asset.
    NoIdentity,
    /// The record is not an object / row of the expected shape.
    Shape { message: String },
}

impl Problem {
    pub fn label(&self, lang: Lang) -> String {
        match (self, lang) {
            (Problem::Missing, Lang::Zh) => "缺少必填值".into(),
            (Problem::Missing, Lang::En) => "required value missing".into(),
            (Problem::Invalid { value, expected }, Lang::Zh) => {
                format!("值 “{value}” 无效，应为{expected}")
            }
            (Problem::Invalid { value, expected }, Lang::En) => {
                format!("invalid value \"{value}\", expected {expected}")
            }
            (Problem::NoIdentity, Lang::Zh) => {
                "没有可识别资产的标识（IP、MAC、主机名或域名）".into()
            }
            (Problem::NoIdentity, Lang::En) => {
                "no identity (IP, MAC, host name or FQDN) to recognise the asset by".into()
            }
            (Problem::Shape { message }, Lang::Zh) => format!("记录结构错误：{message}"),
            (Problem::Shape { message }, Lang::En) => format!("malformed record: {message}"),
        }
    }
}

/// One bad record: where it is and what is wrong. The rest of the input is
/// imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{source_name}: record {record}{}: {}", field.as_ref().map(|f| format!(", field {f}")).unwrap_or_default(), problem.label(Lang::En))]
pub struct RecordError {
    pub source_name: String,
    /// Line for CSV (the header is line 1), record number (1-based) for
    /// JSON, host or result number for XML.
    pub record: u64,
    pub field: Option<String>,
    pub problem: Problem,
}

impl RecordError {
    pub fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::Zh => format!(
                "{}：第 {} 条记录{}：{}",
                self.source_name,
                self.record,
                self.field
                    .as_ref()
                    .map(|f| format!("，字段 {f}"))
                    .unwrap_or_default(),
                self.problem.label(Lang::Zh)
            ),
        }
    }
}

/// Cuts a string to at most `max` bytes at a char boundary.
pub(crate) fn clip(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}
