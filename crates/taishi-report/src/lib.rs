//! A small document model and its renderers, for the reports Taishi
//! hands to people outside it (the Art. 7 incident report, the summary
//! report, the yearly risk report): a title, headings, paragraphs,
//! key/value tables, tables and lists, rendered to
//!
//! * DOCX ([`docx`]): WordprocessingML in a zip, East-Asian fonts declared
//!   (宋体 for the body, 黑体 for headings) so Word shows Chinese properly;
//! * PDF ([`pdf`]): A4, the text set in a CJK font found at run time
//!   ([`font`]), a subset of it embedded as a CID font with a ToUnicode map
//!   (the text can be searched and extracted), lines wrapped for Chinese and
//!   Latin text, page breaks, and page numbers.
//!
//! Pure apart from reading the font file: no other I/O. Every document is
//! checked against [`Limits`] before it is rendered.

pub mod docx;
pub mod font;
pub mod pdf;

pub use font::{Font, FontError};

/// One block of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Level 1 (a section) or 2 (a subsection).
    Heading { level: u8, text: String },
    /// A paragraph; `\n` breaks the line.
    Paragraph(String),
    /// Two columns: a field name and its value.
    KeyValue(Vec<(String, String)>),
    /// A header row and rows (rows shorter than the header are padded).
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// Numbered (1. 2. …) or bulleted.
    List { ordered: bool, items: Vec<String> },
}

/// A document: its title, a line under it (organisation, date) and blocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    pub title: String,
    pub subtitle: Option<String>,
    /// The footer's words before the page number ("第 n 页" is added).
    pub footer: Option<String>,
    pub blocks: Vec<Block>,
}

impl Document {
    pub fn new(title: impl Into<String>) -> Document {
        Document {
            title: title.into(),
            ..Document::default()
        }
    }

    pub fn heading(&mut self, level: u8, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Heading {
            level: level.clamp(1, 2),
            text: text.into(),
        });
        self
    }

    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    pub fn key_value(&mut self, rows: Vec<(String, String)>) -> &mut Self {
        self.blocks.push(Block::KeyValue(rows));
        self
    }

    pub fn table(&mut self, header: Vec<String>, rows: Vec<Vec<String>>) -> &mut Self {
        self.blocks.push(Block::Table { header, rows });
        self
    }

    pub fn list(&mut self, ordered: bool, items: Vec<String>) -> &mut Self {
        self.blocks.push(Block::List { ordered, items });
        self
    }

    /// Every piece of text in reading order (tests, and the size check).
    pub fn texts(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![&self.title];
        out.extend(self.subtitle.as_deref());
        out.extend(self.footer.as_deref());
        for b in &self.blocks {
            match b {
                Block::Heading { text, .. } | Block::Paragraph(text) => out.push(text),
                Block::KeyValue(rows) => {
                    for (k, v) in rows {
                        out.push(k);
                        out.push(v);
                    }
                }
                Block::Table { header, rows } => {
                    out.extend(header.iter().map(String::as_str));
                    for r in rows {
                        out.extend(r.iter().map(String::as_str));
                    }
                }
                Block::List { items, .. } => out.extend(items.iter().map(String::as_str)),
            }
        }
        out
    }

    /// Checks the document against `limits`.
    pub fn check(&self, limits: &Limits) -> Result<(), RenderError> {
        let too = |what: &'static str, limit: usize| Err(RenderError::TooLarge { what, limit });
        if self.blocks.len() > limits.max_blocks {
            return too("blocks", limits.max_blocks);
        }
        for b in &self.blocks {
            match b {
                Block::Table { header, rows } => {
                    if rows.len() > limits.max_table_rows {
                        return too("table rows", limits.max_table_rows);
                    }
                    let cols = columns(header, rows);
                    if cols > limits.max_columns {
                        return too("table columns", limits.max_columns);
                    }
                }
                Block::KeyValue(rows) if rows.len() > limits.max_table_rows => {
                    return too("table rows", limits.max_table_rows);
                }
                Block::List { items, .. } if items.len() > limits.max_table_rows => {
                    return too("list items", limits.max_table_rows);
                }
                _ => {}
            }
        }
        let chars: usize = self.texts().iter().map(|t| t.chars().count()).sum();
        if chars > limits.max_chars {
            return too("characters", limits.max_chars);
        }
        Ok(())
    }
}

/// How large a document may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_blocks: usize,
    /// Characters over all the text.
    pub max_chars: usize,
    /// Rows of one table, key/value table or list.
    pub max_table_rows: usize,
    pub max_columns: usize,
    /// PDF pages.
    pub max_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blocks: 10_000,
            max_chars: 1_000_000,
            max_table_rows: 10_000,
            max_columns: 16,
            max_pages: 2_000,
        }
    }
}

/// A document that could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the document is too large: more than {limit} {what} / 文档过大：{what} 超过 {limit}")]
    TooLarge { what: &'static str, limit: usize },
    #[error(transparent)]
    Font(#[from] FontError),
    #[error("writing the DOCX package: {0} / 生成 DOCX 失败：{0}")]
    Zip(String),
}

/// Columns of a table: its widest row or its header.
pub(crate) fn columns(header: &[String], rows: &[Vec<String>]) -> usize {
    rows.iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(header.len())
}

/// Text as XML character data: escaped, and without the control
/// characters XML 1.0 forbids (a log line may carry any byte).
pub(crate) fn clean(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_over_the_row_limit_is_refused() {
        let mut d = Document::new("t");
        d.table(vec!["a".into()], vec![vec!["x".into()]; 11]);
        let l = Limits {
            max_table_rows: 10,
            ..Limits::default()
        };
        assert!(matches!(
            d.check(&l),
            Err(RenderError::TooLarge {
                what: "table rows",
                ..
            })
        ));
        let l = Limits {
            max_table_rows: 11,
            ..l
        };
        assert!(d.check(&l).is_ok());
    }

    #[test]
    fn text_over_the_character_limit_is_refused() {
        let mut d = Document::new("标题");
        d.paragraph("字".repeat(100));
        let l = Limits {
            max_chars: 102,
            ..Limits::default()
        };
        assert!(d.check(&l).is_ok());
        let l = Limits {
            max_chars: 101,
            ..Limits::default()
        };
        assert!(d.check(&l).is_err());
    }
}
