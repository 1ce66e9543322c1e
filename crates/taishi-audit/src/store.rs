//! The storage trait: small on purpose, so a SQL implementation in the state
//! layer is a few statements.

use crate::{Checkpoint, Record};

/// One stored entry: parsed, or named with why it cannot be.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadItem<T> {
    Item(T),
    /// A stored entry that does not parse (edited, truncated, injected).
    Unreadable {
        /// Where it is, e.g. `records-00000000000000000001.jsonl:17` or a row id.
        location: String,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {error}")]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("{location}: the newest audit record cannot be read ({reason}); run `taishi audit verify` before appending")]
    BadHead { location: String, reason: String },
    #[error("audit store: {0}")]
    Other(String),
}

/// Where audit records and checkpoints live. Appends are serialised by the
/// [`crate::Trail`]; implementations must keep storage order = append order.
pub trait AuditStore: Send + Sync {
    /// Appends a chained record. It need not be durable before [`sync`](Self::sync).
    /// Returns `true` when the store closed a storage unit (a file segment)
    /// right after this record: the trail then signs a checkpoint at it, which
    /// later anchors the next unit once retention removes this one.
    fn append(&self, rec: &Record) -> Result<bool, StoreError>;
    /// Makes every appended record durable (fsync / commit).
    fn sync(&self) -> Result<(), StoreError>;
    /// The newest record.
    fn head(&self) -> Result<Option<Record>, StoreError>;
    /// Up to `limit` entries in storage order, from the first record with
    /// `seq >= from_seq` (unreadable entries after it included).
    fn read(&self, from_seq: u64, limit: usize) -> Result<Vec<ReadItem<Record>>, StoreError>;
    /// Every entry in storage order; `visit` returns `false` to stop.
    fn walk(&self, visit: &mut dyn FnMut(ReadItem<Record>) -> bool) -> Result<(), StoreError>;
    /// Appends a checkpoint, durably.
    fn append_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError>;
    /// Every checkpoint in storage order.
    fn checkpoints(&self) -> Result<Vec<ReadItem<Checkpoint>>, StoreError>;
}
