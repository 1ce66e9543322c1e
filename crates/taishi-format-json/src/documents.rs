//! Splits a byte buffer into JSON documents: JSON lines, pretty-printed
//! documents back to back, and the elements of a top-level array, each with
//! the line and byte offset where it starts. A malformed document is an
//! error item and reading resumes at the next document.

use serde_json::Value as J;

/// One document and where it starts (1-based line, byte offset, both
/// relative to the buffer given to [`parse_json_documents`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub value: J,
    pub line: u64,
    pub offset: usize,
    /// Its length in bytes.
    pub len: usize,
}

/// A malformed document: where it starts, where the parser gave up, why,
/// and how many bytes were skipped to find the next document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentError {
    pub line: u64,
    pub offset: usize,
    /// Line and column (1-based) of the fault itself.
    pub error_line: u64,
    pub error_column: u64,
    pub reason: String,
    /// The bytes skipped: from `offset` up to where reading resumed.
    pub len: usize,
}

/// Iterates over the JSON documents in `data`. A top-level array yields its
/// elements one by one (a bad element does not lose the rest of the array).
pub fn parse_json_documents(data: &[u8]) -> JsonDocuments<'_> {
    let pos = if data.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    JsonDocuments {
        data,
        pos,
        line: 1,
        line_pos: 0,
        in_array: false,
    }
}

pub struct JsonDocuments<'a> {
    data: &'a [u8],
    pos: usize,
    /// Line number of `line_pos`; newlines before it have been counted.
    line: u64,
    line_pos: usize,
    /// Inside a top-level `[ … ]`, between elements.
    in_array: bool,
}

impl JsonDocuments<'_> {
    /// Line number of byte `at` (which must not be before `line_pos`).
    fn line_at(&mut self, at: usize) -> u64 {
        let at = at.min(self.data.len());
        if at > self.line_pos {
            let seg = self.data.get(self.line_pos..at).unwrap_or_default();
            self.line += memchr::memchr_iter(b'\n', seg).count() as u64;
            self.line_pos = at;
        }
        self.line
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.data.get(self.pos) {
            if b.is_ascii_whitespace() {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Where to resume after a bad document starting at `start`: the next
    /// line whose first non-blank byte opens an object at the indentation
    /// the bad document had (column 0 for JSON lines and concatenated
    /// documents, the element indentation inside an array).
    fn resync(&self, start: usize) -> usize {
        let data = self.data;
        let line_start = data
            .get(..start)
            .and_then(|d| memchr::memrchr(b'\n', d))
            .map_or(0, |i| i + 1);
        let prefix = data.get(line_start..start).unwrap_or_default();
        let indent = prefix
            .iter()
            .all(|b| *b == b' ' || *b == b'\t')
            .then_some(prefix.len());
        let rest = data.get(start..).unwrap_or_default();
        for nl in memchr::memchr_iter(b'\n', rest) {
            let ls = start + nl + 1;
            let line = data.get(ls..).unwrap_or_default();
            let ws = line
                .iter()
                .take_while(|b| **b == b' ' || **b == b'\t' || **b == b'\r')
                .count();
            let opens = matches!(line.get(ws), Some(b'{'));
            if opens && indent.is_none_or(|i| i == ws) {
                return ls + ws;
            }
        }
        data.len()
    }
}

impl Iterator for JsonDocuments<'_> {
    type Item = Result<Document, DocumentError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.skip_ws();
            let &b = self.data.get(self.pos)?;
            if self.in_array {
                match b {
                    b',' => {
                        self.pos += 1;
                        continue;
                    }
                    b']' => {
                        self.pos += 1;
                        self.in_array = false;
                        continue;
                    }
                    _ => {}
                }
            } else if b == b'[' && self.array_of_values() {
                self.pos += 1;
                self.in_array = true;
                continue;
            }
            return Some(self.one());
        }
    }
}

impl JsonDocuments<'_> {
    /// Whether the `[` at `pos` opens an array of documents (as opposed to,
    /// say, a JSON line that is an array of scalars, which is one document).
    fn array_of_values(&self) -> bool {
        let rest = self.data.get(self.pos + 1..).unwrap_or_default();
        let first = rest.iter().find(|b| !b.is_ascii_whitespace());
        matches!(first, Some(b'{') | Some(b']'))
    }

    fn one(&mut self) -> Result<Document, DocumentError> {
        let start = self.pos;
        let line = self.line_at(start);
        let rest = self.data.get(start..).unwrap_or_default();
        let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<J>();
        match stream.next() {
            Some(Ok(value)) => {
                let len = stream.byte_offset();
                self.pos = start + len;
                Ok(Document {
                    value,
                    line,
                    offset: start,
                    len,
                })
            }
            Some(Err(e)) => {
                let resume = self.resync(start).max(start + 1);
                self.pos = resume;
                // Inside an array, a bad element ends the array only if no
                // later element can be found.
                if resume >= self.data.len() {
                    self.in_array = false;
                }
                let msg = e.to_string();
                let reason = match msg.rfind(" at line ") {
                    Some(i) => msg.get(..i).unwrap_or(&msg).to_string(),
                    None => msg,
                };
                let error_line = line + (e.line() as u64).saturating_sub(1);
                let error_column = if e.line() <= 1 {
                    let line_start = self
                        .data
                        .get(..start)
                        .and_then(|d| memchr::memrchr(b'\n', d))
                        .map_or(0, |i| i + 1);
                    (start - line_start) as u64 + e.column() as u64
                } else {
                    e.column() as u64
                };
                Err(DocumentError {
                    line,
                    offset: start,
                    error_line,
                    error_column,
                    reason,
                    len: resume - start,
                })
            }
            None => {
                self.pos = self.data.len();
                Err(DocumentError {
                    line,
                    offset: start,
                    error_line: line,
                    error_column: 1,
                    reason: "unexpected end of input".into(),
                    len: self.data.len() - start,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Found = Result<(u64, usize), (u64, usize, String)>;

    fn collect(data: &[u8]) -> Vec<Found> {
        parse_json_documents(data)
            .map(|r| match r {
                Ok(d) => Ok((d.line, d.offset)),
                Err(e) => Err((e.line, e.offset, e.reason)),
            })
            .collect()
    }

    #[test]
    fn lines_pretty_and_arrays() {
        let r = collect(b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(r, vec![Ok((1, 0)), Ok((2, 8))]);
        let r = collect(b"{\n  \"a\": 1\n}\n{\n  \"b\": {\n    \"c\": 2\n  }\n}\n");
        assert_eq!(r, vec![Ok((1, 0)), Ok((4, 13))]);
        let r = collect(b"[\n  {\"a\":1},\n  {\"b\":2}\n]\n");
        assert_eq!(r, vec![Ok((2, 4)), Ok((3, 15))]);
        let r = collect(b"[1,2]\n");
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn bad_document_is_reported_and_skipped() {
        let r = collect(b"{\"a\":1}\n{\"b\":\n{\"c\":3}\n");
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], Ok((1, 0)));
        assert!(matches!(&r[1], Err((2, 8, _))));
        assert_eq!(r[2], Ok((3, 14)));

        let r = collect(b"{\n  \"a\": oops\n}\n{\n  \"b\": 1\n}\n");
        assert!(matches!(&r[0], Err((1, 0, _))));
        assert_eq!(r[1], Ok((4, 16)));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn bad_array_element_keeps_the_rest() {
        let r = collect(b"[\n  {\"a\":1},\n  {\"b\":x},\n  {\"c\":3}\n]");
        assert_eq!(r.len(), 3);
        assert!(r[0].is_ok() && r[1].is_err() && r[2].is_ok());
    }
}
