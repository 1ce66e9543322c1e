//! One day of events: a Tantivy index in `partitions/YYYY-MM-DD/`.
//!
//! Schema (the same for every partition):
//! - `ts`: `@timestamp` in UTC, microseconds; indexed and fast (range, sort,
//!   histograms).
//! - `f`: every event field in one JSON field with dots expanded
//!   (`source.ip` is the path `source`→`ip`). Strings are indexed whole and
//!   exactly as they are (case-sensitive term and wildcard match on the term
//!   dictionary, as the query language defines them); the fast (columnar)
//!   copy serves aggregations; numbers are numeric terms and columns (range,
//!   stats).
//! - `text`: the words of every string value and the decimal text of every
//!   number, lower-cased, with positions, for free-text words and phrases
//!   (see [`WORDS_TOKENIZER`]).
//! - `doc`: the event's JSON, stored (zstd-compressed blocks) and returned by
//!   searches; `seq`: its write-ahead-log sequence.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use taishi_event::{Event, Str, Value};
use tantivy::directory::MmapDirectory;
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, Schema,
    TextFieldIndexing, TextOptions, FAST, STORED,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::tokenizer::{
    LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{
    DateTime, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument,
};

use crate::StoreError;

/// Whole values, exactly as they are.
pub const EXACT_TOKENIZER: &str = "taishi_exact";
/// Partitions written before values were indexed case-sensitively name this
/// one (whole values, lower-cased); it stays registered so they still open.
const LEGACY_KEYWORD_TOKENIZER: &str = "taishi_keyword";
/// Words: maximal runs of alphanumeric characters (`char::is_alphanumeric`),
/// lower-cased character by character; a word of [`MAX_WORD_BYTES`] bytes or
/// more is left out but keeps its position. `taishi-query`'s evaluator
/// defines free text with the same rule.
pub const WORDS_TOKENIZER: &str = "taishi_words";
pub const MAX_WORD_BYTES: usize = 256;

#[derive(Clone, Copy)]
pub struct Fields {
    pub ts: Field,
    pub f: Field,
    pub text: Field,
    pub doc: Field,
    pub seq: Field,
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let ts = b.add_date_field(
        "ts",
        DateOptions::default()
            .set_indexed()
            .set_fast()
            .set_precision(DateTimePrecision::Microseconds),
    );
    let f = b.add_json_field(
        "f",
        JsonObjectOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(EXACT_TOKENIZER)
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_fast("raw")
            .set_expand_dots_enabled(),
    );
    let text = b.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(WORDS_TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        ),
    );
    let doc = b.add_bytes_field("doc", STORED);
    let seq = b.add_u64_field("seq", STORED | FAST);
    (
        b.build(),
        Fields {
            ts,
            f,
            text,
            doc,
            seq,
        },
    )
}

/// Which events a partition holds.
///
/// `Day(d)`: events whose `@timestamp` falls on UTC day `d`, received while
/// `d` was inside the store's day window (see `StoreConfig::past_days`).
/// `Outside(r)`: events received on UTC day `r` whose time was outside that
/// window (a backfill of old logs, a sender's wrong clock, a hostile spray of
/// timestamps) or not representable at all. One such partition per receipt
/// day means an event never opens a partition of its own far from today, so
/// no timestamp can make ingest open and commit index writers one after
/// another, and retention drops these by receipt day, so far-future dates do
/// not outlive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartKey {
    Day(NaiveDate),
    Outside(NaiveDate),
}

const OUTSIDE_PREFIX: &str = "outside-";

impl PartKey {
    /// The directory name under `partitions/`.
    pub fn dir_name(&self) -> String {
        match self {
            PartKey::Day(d) => d.format("%Y-%m-%d").to_string(),
            PartKey::Outside(d) => format!("{OUTSIDE_PREFIX}{}", d.format("%Y-%m-%d")),
        }
    }

    pub fn parse(name: &str) -> Option<PartKey> {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        match name.strip_prefix(OUTSIDE_PREFIX) {
            Some(rest) => date(rest).map(PartKey::Outside),
            None => date(name).map(PartKey::Day),
        }
    }

    /// The day of the events (`Day`) or of their receipt (`Outside`).
    pub fn date(&self) -> NaiveDate {
        match self {
            PartKey::Day(d) | PartKey::Outside(d) => *d,
        }
    }
}

pub struct Partition {
    pub key: PartKey,
    pub path: PathBuf,
    pub index: Index,
    pub reader: IndexReader,
}

pub fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .build()
}

fn register_tokenizers(index: &Index) {
    let t = index.tokenizers();
    t.register(
        EXACT_TOKENIZER,
        TextAnalyzer::builder(RawTokenizer::default()).build(),
    );
    t.register(
        LEGACY_KEYWORD_TOKENIZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    t.register(WORDS_TOKENIZER, words_analyzer());
}

impl Partition {
    pub fn open_or_create(
        root: &Path,
        key: PartKey,
        docstore_zstd_level: i32,
    ) -> Result<Partition, StoreError> {
        let path = root.join(key.dir_name());
        std::fs::create_dir_all(&path).map_err(|e| StoreError::io(&path, e))?;
        let dir = MmapDirectory::open(&path)
            .map_err(|e| StoreError::Index(format!("{}: {e}", path.display())))?;
        let (schema, _) = schema();
        let index = Index::builder()
            .schema(schema)
            .settings(IndexSettings {
                docstore_compression: Compressor::Zstd(ZstdCompressor {
                    compression_level: Some(docstore_zstd_level),
                }),
                // Larger blocks compress events (many alike) much better;
                // a newest-100 page still touches only a few blocks.
                docstore_blocksize: 64 * 1024,
                ..IndexSettings::default()
            })
            .open_or_create(dir)?;
        register_tokenizers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Partition {
            key,
            path,
            index,
            reader,
        })
    }

    /// Opens an existing index for reading; None when the directory holds
    /// no index (yet).
    pub fn open_existing(root: &Path, key: PartKey) -> Result<Option<Partition>, StoreError> {
        let path = root.join(key.dir_name());
        if !path.join("meta.json").exists() {
            return Ok(None);
        }
        let dir = MmapDirectory::open(&path)
            .map_err(|e| StoreError::Index(format!("{}: {e}", path.display())))?;
        let index = Index::open(dir)?;
        register_tokenizers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Some(Partition {
            key,
            path,
            index,
            reader,
        }))
    }

    /// The highest WAL sequence whose events (for this day) this partition's
    /// last commit holds.
    pub fn committed_seq(&self) -> Result<u64, StoreError> {
        let meta = self.index.load_metas()?;
        Ok(meta
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|v| v.get("wal_seq").and_then(|s| s.as_u64()))
            .unwrap_or(0))
    }

    pub fn writer(
        &self,
        threads: usize,
        memory: usize,
    ) -> Result<IndexWriter<TantivyDocument>, StoreError> {
        // Tantivy wants at least 15 MB per indexing thread: a small budget
        // gets fewer threads rather than an error.
        let threads = threads.clamp(1, (memory / 15_000_000).max(1));
        Ok(self.index.writer_with_num_threads(threads, memory)?)
    }

    pub fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.path)
    }

    /// The lowest and highest `ts` (µs) of the searcher's documents; None
    /// when it holds none. Lets a search skip an `Outside` partition whose
    /// events all lie outside the range asked for.
    pub fn ts_bounds(searcher: &tantivy::Searcher) -> Option<(i64, i64)> {
        let mut out: Option<(i64, i64)> = None;
        for seg in searcher.segment_readers() {
            if seg.num_docs() == 0 {
                continue;
            }
            let Ok(col) = seg.fast_fields().date("ts") else {
                continue;
            };
            let (lo, hi) = (
                col.min_value().into_timestamp_micros(),
                col.max_value().into_timestamp_micros(),
            );
            out = Some(out.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
        out
    }

    /// When the partition last changed (its last commit), for retention of
    /// partitions whose day says nothing about their age.
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.path.join("meta.json"))
            .and_then(|m| m.modified())
            .ok()
    }
}

/// The `ts` field holds nanoseconds in an i64: times from 1677-09-21 to
/// 2262-04-11. Microsecond timestamps outside this cannot be indexed.
pub const MIN_TS_MICROS: i64 = i64::MIN / 1_000 + 1;
pub const MAX_TS_MICROS: i64 = i64::MAX / 1_000 - 1;

pub fn representable(micros: i64) -> bool {
    (MIN_TS_MICROS..=MAX_TS_MICROS).contains(&micros)
}

/// A query bound in the indexable range (a bound beyond it would overflow
/// Tantivy's nanoseconds; every stored `ts` is inside it).
pub fn clamp_ts(micros: i64) -> i64 {
    micros.clamp(MIN_TS_MICROS, MAX_TS_MICROS + 1)
}

pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(path) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// An event value seen through Tantivy's document-value trait, so that
/// documents are built straight from the event (no intermediate
/// `OwnedValue` tree with a `String` per key and per value).
#[derive(Clone, Copy, Debug)]
enum DocVal<'a> {
    /// The event's top level: its fields are a flat list of pairs.
    Top(&'a [(&'a str, &'a Value)]),
    Val(&'a Value),
}

enum ObjIter<'a> {
    Top(std::slice::Iter<'a, (&'a str, &'a Value)>),
    Nested(std::slice::Iter<'a, (Str, Value)>),
}

impl<'a> Iterator for ObjIter<'a> {
    type Item = (&'a str, DocVal<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ObjIter::Top(it) => it.next().map(|(k, v)| (*k, DocVal::Val(v))),
            ObjIter::Nested(it) => it.next().map(|(k, v)| (k.as_str(), DocVal::Val(v))),
        }
    }
}

type ArrIter<'a> = std::iter::Map<std::slice::Iter<'a, Value>, fn(&'a Value) -> DocVal<'a>>;

impl<'a> tantivy::schema::Value<'a> for DocVal<'a> {
    type ArrayIter = ArrIter<'a>;
    type ObjectIter = ObjIter<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        match *self {
            DocVal::Top(f) => ReferenceValue::Object(ObjIter::Top(f.iter())),
            DocVal::Val(v) => match v {
                Value::Null => ReferenceValue::Leaf(ReferenceValueLeaf::Null),
                Value::Bool(b) => ReferenceValue::Leaf(ReferenceValueLeaf::Bool(*b)),
                Value::Int(i) => ReferenceValue::Leaf(ReferenceValueLeaf::I64(*i)),
                Value::UInt(u) => ReferenceValue::Leaf(ReferenceValueLeaf::U64(*u)),
                Value::Float(f) if f.is_finite() => {
                    ReferenceValue::Leaf(ReferenceValueLeaf::F64(*f))
                }
                Value::Float(_) => ReferenceValue::Leaf(ReferenceValueLeaf::Null),
                Value::Str(s) => ReferenceValue::Leaf(ReferenceValueLeaf::Str(s.as_str())),
                Value::Array(a) => {
                    ReferenceValue::Array(a.iter().map(DocVal::Val as fn(&'a Value) -> DocVal<'a>))
                }
                Value::Object(o) => ReferenceValue::Object(ObjIter::Nested(o.iter())),
            },
        }
    }
}

/// Adds the free-text values of `v` to the document: strings, and numbers
/// as their decimal text. A value already given by another field of the
/// same event (ECS copies such as `process.command_line` of `CommandLine`)
/// is added once: free text asks whether any value holds the words, so a
/// copy adds nothing but indexing work.
fn add_text<'a>(
    doc: &mut TantivyDocument,
    field: Field,
    v: &'a Value,
    seen: &mut Vec<&'a str>,
    buf: &mut String,
) {
    match v {
        Value::Str(s) => {
            let s = s.as_str();
            if !seen.iter().any(|x| x.len() == s.len() && *x == s) {
                seen.push(s);
                doc.add_text(field, s);
            }
        }
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => {
            if let Some(t) = v.to_text() {
                buf.clear();
                buf.push_str(&t);
                doc.add_text(field, buf.as_str());
            }
        }
        Value::Array(a) => {
            for x in a {
                add_text(doc, field, x, seen, buf);
            }
        }
        Value::Object(o) => {
            for (_, x) in o {
                add_text(doc, field, x, seen, buf);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// Builds the index document; `json` is the event's JSON (already written to
/// the WAL) and becomes the stored copy.
/// The WAL sequence (`seq`) is added by the caller once it is assigned.
pub fn document(fields: &Fields, ts_micros: i64, event: &Event, json: &[u8]) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_date(fields.ts, DateTime::from_timestamp_micros(ts_micros));
    let pairs: Vec<(&str, &Value)> = event.fields().collect();
    doc.add_field_value(fields.f, DocVal::Top(&pairs));
    let mut seen = Vec::with_capacity(event.len());
    let mut buf = String::new();
    for (_, v) in event.fields() {
        add_text(&mut doc, fields.text, v, &mut seen, &mut buf);
    }
    doc.add_bytes(fields.doc, json);
    doc
}
