//! Files: text and logs per file, CSV per column, JSON per field, gzip read
//! through; zip archives entry by entry, docx as its text, xlsx per sheet
//! and column, PDF as its text.
//!
//! Archives are where a small input becomes a large one, so each top-level
//! file has a budget of uncompressed bytes shared by everything inside it,
//! and an archive is refused — counted in [`Rejects`], never half-read in
//! silence — when it has too many entries, nests too deep, or an entry
//! inflates beyond the ratio a real document reaches (a zip bomb).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Read, Seek};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::{office, Detect, Locations};

/// Text is scanned in pieces of about this size, cut at a newline.
const CHUNK: usize = 1 << 20;
/// JSON nesting followed at most.
const MAX_JSON_DEPTH: usize = 32;

/// Bounds on what one file may make the scanner read.
#[derive(Clone, Debug)]
pub struct FileLimits {
    /// Longest line or CSV cell scanned; longer ones are cut.
    pub max_line: usize,
    /// Entries of one archive (a docx or xlsx is one too).
    pub max_entries: usize,
    /// Uncompressed bytes read out of one top-level file, archives and all.
    pub max_total: u64,
    /// Uncompressed ÷ compressed size above which an entry is a bomb (only
    /// for entries above `ratio_floor` bytes: a small file of spaces may
    /// compress a thousandfold and harm nobody).
    pub max_ratio: u64,
    pub ratio_floor: u64,
    /// Archives inside archives, at most.
    pub max_depth: usize,
    /// One entry, XML part or PDF held in memory at most.
    pub max_part: u64,
    /// PDF pages read at most.
    pub max_pdf_pages: usize,
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits {
            max_line: 16 << 20,
            max_entries: 10_000,
            max_total: 1 << 30,
            max_ratio: 200,
            ratio_floor: 1 << 20,
            max_depth: 3,
            max_part: 256 << 20,
            max_pdf_pages: 10_000,
        }
    }
}

/// Why part of a file was not read, by reason code, counted.
pub type Rejects = BTreeMap<&'static str, u64>;

/// A file that could not be read (it is reported and the scan goes on).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("PDF: {0}")]
    Pdf(#[from] lopdf::Error),
    #[error("XML: {0}")]
    Xml(#[from] quick_xml::Error),
}

impl taishi_event::Kinded for FileError {
    /// A damaged, hostile or absent file stays so; other I/O failures
    /// (a busy disk, a network share gone) may pass.
    fn kind(&self) -> taishi_event::ErrorKind {
        use taishi_event::ErrorKind;
        match self {
            FileError::Io(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidData
                        | std::io::ErrorKind::UnexpectedEof
                        | std::io::ErrorKind::NotFound
                        | std::io::ErrorKind::InvalidInput
                ) =>
            {
                ErrorKind::Rejected
            }
            FileError::Io(_) => ErrorKind::Transient,
            FileError::Csv(_) | FileError::Zip(_) | FileError::Pdf(_) | FileError::Xml(_) => {
                ErrorKind::Rejected
            }
        }
    }
}

/// Counts the raw bytes read, for a progress bar.
struct Metered<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What a file's content is, from its first bytes, then its name.
#[derive(PartialEq, Clone, Copy, Debug)]
enum Shape {
    Gzip,
    Zip,
    Pdf,
    Csv { tsv: bool },
    Json,
    Text,
}

fn shape(head: &[u8], name: &str) -> Shape {
    if head.starts_with(&[0x1f, 0x8b]) {
        Shape::Gzip
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Shape::Zip
    } else if head.starts_with(b"%PDF-") {
        Shape::Pdf
    } else if name.ends_with(".csv") || name.ends_with(".tsv") {
        Shape::Csv {
            tsv: name.ends_with(".tsv"),
        }
    } else if name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        Shape::Json
    } else {
        Shape::Text
    }
}

/// The uncompressed bytes one top-level file may still yield.
pub(crate) struct Budget {
    pub(crate) left: u64,
}

/// Scans files; one per call, from any number of threads.
pub struct FileScanner {
    detect: Detect,
    limits: FileLimits,
    read: Arc<AtomicU64>,
    rejects: Mutex<Rejects>,
}

impl FileScanner {
    /// `read` counts the bytes read from disk (a progress bar polls it).
    pub fn new(detect: Detect, limits: FileLimits, read: Arc<AtomicU64>) -> FileScanner {
        FileScanner {
            detect,
            limits,
            read,
            rejects: Mutex::new(Rejects::new()),
        }
    }

    /// What was refused so far, by reason.
    pub fn rejects(&self) -> Rejects {
        self.rejects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn reject(&self, why: &'static str) {
        *self
            .rejects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(why)
            .or_default() += 1;
    }

    pub(crate) fn detect(&self) -> &Detect {
        &self.detect
    }

    pub(crate) fn limits(&self) -> &FileLimits {
        &self.limits
    }

    /// The findings of one file, by location (`path`, `path:column`,
    /// `path!entry:field` inside archives).
    pub fn file(&self, path: &Path) -> Result<Locations, FileError> {
        let f = std::fs::File::open(path)?;
        let mut r = BufReader::with_capacity(
            256 * 1024,
            Metered {
                inner: f,
                read: self.read.clone(),
            },
        );
        let name = path.to_string_lossy().to_lowercase();
        let base = path.display().to_string();
        let mut locs = Locations::new();
        let mut budget = Budget {
            left: self.limits.max_total,
        };
        match shape(r.fill_buf()?, &name) {
            Shape::Zip => {
                // The archive reader seeks: the file itself, metered by its size.
                let f = std::fs::File::open(path)?;
                let len = f.metadata()?.len();
                self.zip(f, &base, 0, &mut budget, &mut locs)?;
                self.read.fetch_add(len, Ordering::Relaxed);
            }
            s => self.stream(s, &mut r, &name, &base, 0, &mut budget, &mut locs)?,
        }
        Ok(locs)
    }

    /// Bytes that came out of an archive, by their own shape.
    pub(crate) fn bytes(
        &self,
        data: &[u8],
        name: &str,
        base: &str,
        depth: usize,
        budget: &mut Budget,
        locs: &mut Locations,
    ) -> Result<(), FileError> {
        let name = name.to_lowercase();
        match shape(data, &name) {
            Shape::Zip => self.zip(Cursor::new(data), base, depth, budget, locs),
            s => self.stream(s, &mut &data[..], &name, base, depth, budget, locs),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn stream(
        &self,
        shape: Shape,
        r: &mut dyn BufRead,
        name: &str,
        base: &str,
        depth: usize,
        budget: &mut Budget,
        locs: &mut Locations,
    ) -> Result<(), FileError> {
        match shape {
            Shape::Gzip => {
                let inner = name.trim_end_matches(".gz").trim_end_matches(".tgz");
                let mut gz = BufReader::new(flate2::bufread::MultiGzDecoder::new(r));
                let head = gz.fill_buf()?.to_vec();
                match self::shape(&head, inner) {
                    // A compressed archive or PDF: read out whole, within the budget.
                    s @ (Shape::Zip | Shape::Pdf | Shape::Gzip) => {
                        let data = self.read_part(&mut gz, budget)?;
                        match (s, data) {
                            (Shape::Zip, Some(d)) => {
                                self.zip(Cursor::new(&d[..]), base, depth + 1, budget, locs)
                            }
                            (Shape::Pdf, Some(d)) => office::pdf(self, &d, base, locs),
                            (Shape::Gzip, Some(_)) => {
                                // gzip of gzip is no document anyone writes.
                                self.reject("nested_gzip");
                                Ok(())
                            }
                            _ => Ok(()),
                        }
                    }
                    s => self.stream(s, &mut gz, inner, base, depth, budget, locs),
                }
            }
            Shape::Zip => {
                let data = self.read_part(r, budget)?;
                match data {
                    Some(d) => self.zip(Cursor::new(&d[..]), base, depth, budget, locs),
                    None => Ok(()),
                }
            }
            Shape::Pdf => match self.read_part(r, budget)? {
                Some(d) => office::pdf(self, &d, base, locs),
                None => Ok(()),
            },
            Shape::Csv { tsv } => self.csv(r, tsv, base, locs),
            Shape::Json => self.json_lines(r, base, locs),
            Shape::Text => self.text(r, base, locs),
        }
    }

    /// Reads a part into memory: `None` (and a reject) when it is larger
    /// than a part may be or than the file's budget has left.
    fn read_part(
        &self,
        r: &mut dyn Read,
        budget: &mut Budget,
    ) -> Result<Option<Vec<u8>>, FileError> {
        let cap = self.limits.max_part.min(budget.left);
        let mut data = Vec::new();
        r.take(cap + 1).read_to_end(&mut data)?;
        if data.len() as u64 > cap {
            self.reject(if cap == budget.left {
                "archive_total"
            } else {
                "part_size"
            });
            return Ok(None);
        }
        budget.left -= data.len() as u64;
        Ok(Some(data))
    }

    /// A zip archive: a docx or an xlsx is read as a document, any other as
    /// its entries, each by its own shape.
    fn zip<R: Read + Seek>(
        &self,
        r: R,
        base: &str,
        depth: usize,
        budget: &mut Budget,
        locs: &mut Locations,
    ) -> Result<(), FileError> {
        if depth > self.limits.max_depth {
            self.reject("archive_depth");
            return Ok(());
        }
        let mut z = zip::ZipArchive::new(r)?;
        if z.len() > self.limits.max_entries {
            self.reject("archive_entries");
            return Ok(());
        }
        // Declared sizes first: a bomb is refused before anything inflates.
        let mut declared = 0u64;
        for i in 0..z.len() {
            let e = z.by_index_raw(i)?;
            declared = declared.saturating_add(e.size());
            if self.bomb(e.size(), e.compressed_size()) {
                self.reject("archive_ratio");
                return Ok(());
            }
        }
        if declared > budget.left {
            self.reject("archive_total");
            return Ok(());
        }
        if z.index_for_name("word/document.xml").is_some() {
            return office::docx(self, &mut z, base, budget, locs);
        }
        if z.index_for_name("xl/workbook.xml").is_some() {
            return office::xlsx(self, &mut z, base, budget, locs);
        }
        for i in 0..z.len() {
            let (name, data) = match self.entry(&mut z, i, budget)? {
                Some(x) => x,
                None => continue,
            };
            let loc = format!("{base}!{name}");
            self.bytes(&data, &name, &loc, depth + 1, budget, locs)?;
        }
        Ok(())
    }

    fn bomb(&self, size: u64, compressed: u64) -> bool {
        size > self.limits.ratio_floor && size / compressed.max(1) > self.limits.max_ratio
    }

    /// One entry's name and bytes: `None` for directories and for entries
    /// refused (encrypted, larger than they said, over the budget).
    pub(crate) fn entry<R: Read + Seek>(
        &self,
        z: &mut zip::ZipArchive<R>,
        i: usize,
        budget: &mut Budget,
    ) -> Result<Option<(String, Vec<u8>)>, FileError> {
        let e = match z.by_index(i) {
            Ok(e) => e,
            Err(zip::result::ZipError::UnsupportedArchive(_)) => {
                self.reject("archive_unsupported");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if e.is_dir() {
            return Ok(None);
        }
        if e.encrypted() {
            self.reject("archive_encrypted");
            return Ok(None);
        }
        let name = e
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{i}"));
        let (size, compressed) = (e.size(), e.compressed_size());
        let cap = self.limits.max_part.min(budget.left);
        let mut data = Vec::new();
        // The declared size can lie: what inflates is bounded on its own.
        e.take(cap.min(size) + 1).read_to_end(&mut data)?;
        if data.len() as u64 > size || self.bomb(data.len() as u64, compressed) {
            self.reject("archive_ratio");
            return Ok(None);
        }
        if data.len() as u64 > cap {
            self.reject("part_size");
            return Ok(None);
        }
        budget.left -= data.len() as u64;
        Ok(Some((name, data)))
    }

    /// One line into `line`, at most `max_line` bytes of it (the rest of a
    /// longer one comes as the next "line").
    fn line(&self, r: &mut dyn BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
        r.take(self.limits.max_line as u64).read_until(b'\n', line)
    }

    /// Plain text in pieces cut at newlines.
    pub(crate) fn text(
        &self,
        r: &mut dyn BufRead,
        base: &str,
        locs: &mut Locations,
    ) -> Result<(), FileError> {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        let mut line = Vec::new();
        loop {
            buf.clear();
            while buf.len() < CHUNK {
                line.clear();
                let n = self.line(r, &mut line)?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&line);
            }
            if buf.is_empty() {
                return Ok(());
            }
            self.detect.add(locs, base, None, &buf);
        }
    }

    /// CSV: the first record names the columns; each column is a location
    /// and its name is the scanner's context.
    fn csv(
        &self,
        r: &mut dyn BufRead,
        tsv: bool,
        base: &str,
        locs: &mut Locations,
    ) -> Result<(), FileError> {
        let mut rd = csv::ReaderBuilder::new()
            .delimiter(if tsv { b'\t' } else { b',' })
            .flexible(true)
            .has_headers(true)
            .from_reader(r);
        let header: Vec<String> = rd
            .byte_headers()?
            .iter()
            .map(|h| {
                String::from_utf8_lossy(h)
                    .trim_start_matches('\u{feff}')
                    .to_string()
            })
            .collect();
        let mut rec = csv::ByteRecord::new();
        while rd.read_byte_record(&mut rec)? {
            for (i, cell) in rec.iter().enumerate() {
                let col = header
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", i + 1));
                let cell = &cell[..cell.len().min(self.limits.max_line)];
                self.detect
                    .add(locs, &format!("{base}:{col}"), Some(&col), cell);
            }
        }
        Ok(())
    }

    /// JSON documents, one per line (or one whole file when it is a single
    /// document): each field path is a location; lines that are not JSON
    /// are scanned as text.
    fn json_lines(
        &self,
        r: &mut dyn BufRead,
        base: &str,
        locs: &mut Locations,
    ) -> Result<(), FileError> {
        let mut line = Vec::new();
        let mut whole = Vec::new();
        loop {
            line.clear();
            let n = self.line(r, &mut line)?;
            if n == 0 {
                break;
            }
            if whole.len() < self.limits.max_line {
                whole.extend_from_slice(&line);
            }
            match serde_json::from_slice::<serde_json::Value>(&line) {
                Ok(v) => self.json(&v, base, String::new(), 0, locs),
                Err(_) if line.iter().all(|c| c.is_ascii_whitespace()) => {}
                Err(_) => {
                    // A pretty-printed document spans lines: tried whole at the end.
                    continue;
                }
            }
            whole.clear();
        }
        if !whole.iter().all(|c| c.is_ascii_whitespace()) {
            match serde_json::from_slice::<serde_json::Value>(&whole) {
                Ok(v) => self.json(&v, base, String::new(), 0, locs),
                Err(_) => self.detect.add(locs, base, None, &whole),
            }
        }
        Ok(())
    }

    fn json(
        &self,
        v: &serde_json::Value,
        base: &str,
        path: String,
        depth: usize,
        locs: &mut Locations,
    ) {
        use serde_json::Value as J;
        let leaf = path.rsplit(['.', '[']).next().unwrap_or("").to_string();
        let loc = || {
            if path.is_empty() {
                base.to_string()
            } else {
                format!("{base}:{path}")
            }
        };
        match v {
            J::String(s) => self.detect.add(locs, &loc(), Some(&leaf), s.as_bytes()),
            J::Number(n) if n.is_u64() || n.is_i64() => {
                self.detect
                    .add(locs, &loc(), Some(&leaf), n.to_string().as_bytes())
            }
            J::Array(a) if depth < MAX_JSON_DEPTH => {
                for x in a {
                    // Elements of an array share their field's location.
                    self.json(x, base, path.clone(), depth + 1, locs);
                }
            }
            J::Object(o) if depth < MAX_JSON_DEPTH => {
                for (k, x) in o {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.json(x, base, p, depth + 1, locs);
                }
            }
            J::Array(_) | J::Object(_) => {
                let text = v.to_string();
                self.detect.add(locs, &loc(), None, text.as_bytes());
            }
            _ => {}
        }
    }
}
