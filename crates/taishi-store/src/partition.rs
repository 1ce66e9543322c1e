//! One day of events: a Tantivy index in `partitions/YYYY-MM-DD/`.
//!
//! Schema (the same for every partition):
//! - `ts`: `@timestamp` in UTC, microseconds; indexed and fast (range, sort,
//!   histograms).
//! - `f`: every event field in one JSON field with dots expanded
//!   (`source.ip` is the path `source`→`ip`). Strings are indexed whole and
//!   lower-cased (case-insensitive term and wildcard match on the term
//!   dictionary); the fast (columnar) copy keeps the exact value for
//!   aggregations; numbers are numeric terms and columns (range, stats).
//! - `text`: every string value, word-tokenised with positions, for full-text
//!   phrases.
//! - `doc`: the event's JSON, stored (zstd-compressed blocks) and returned by
//!   searches; `seq`: its write-ahead-log sequence.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use taishi_event::{Event, Value};
use tantivy::directory::MmapDirectory;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, OwnedValue,
    Schema, TextFieldIndexing, TextOptions, FAST, STORED,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer};
use tantivy::{
    DateTime, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument,
};

use crate::StoreError;

pub const KEYWORD_TOKENIZER: &str = "taishi_keyword";

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
                    .set_tokenizer(KEYWORD_TOKENIZER)
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_fast("raw")
            .set_expand_dots_enabled(),
    );
    let text = b.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("default")
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

pub struct Partition {
    pub day: NaiveDate,
    pub path: PathBuf,
    pub index: Index,
    pub reader: IndexReader,
}

fn register_tokenizers(index: &Index) {
    index.tokenizers().register(
        KEYWORD_TOKENIZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
}

impl Partition {
    pub fn open_or_create(
        root: &Path,
        day: NaiveDate,
        docstore_zstd_level: i32,
    ) -> Result<Partition, StoreError> {
        let path = root.join(day.format("%Y-%m-%d").to_string());
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
            day,
            path,
            index,
            reader,
        })
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
        Ok(self.index.writer_with_num_threads(threads, memory)?)
    }

    pub fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.path)
    }
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

fn owned(v: &Value, text: &mut Vec<String>) -> Option<OwnedValue> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => OwnedValue::Bool(*b),
        Value::Int(i) => OwnedValue::I64(*i),
        Value::UInt(u) => OwnedValue::U64(*u),
        Value::Float(f) if f.is_finite() => OwnedValue::F64(*f),
        Value::Float(_) => return None,
        Value::Str(s) => {
            text.push(s.to_string());
            OwnedValue::Str(s.to_string())
        }
        Value::Array(a) => OwnedValue::Array(a.iter().filter_map(|v| owned(v, text)).collect()),
        Value::Object(o) => OwnedValue::Object(
            o.iter()
                .filter_map(|(k, v)| Some((k.to_string(), owned(v, text)?)))
                .collect(),
        ),
    })
}

/// Builds the index document; `json` is the event's JSON (already written to
/// the WAL) and becomes the stored copy.
/// The WAL sequence (`seq`) is added by the caller once it is assigned.
pub fn document(fields: &Fields, ts_micros: i64, event: &Event, json: &[u8]) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_date(fields.ts, DateTime::from_timestamp_micros(ts_micros));
    let mut text = Vec::new();
    let obj: Vec<(String, OwnedValue)> = event
        .fields()
        .filter_map(|(k, v)| Some((k.to_string(), owned(v, &mut text)?)))
        .collect();
    doc.add_field_value(fields.f, &OwnedValue::Object(obj));
    for t in &text {
        doc.add_text(fields.text, t);
    }
    doc.add_bytes(fields.doc, json);
    doc
}
