//! Taishi's tamper-evident audit trail core (issue 12).
//!
//! * [`NewRecord`] is what a route reports (who, organisation, roles, source,
//!   action, target, outcome, settings before/after); [`Trail::append`] gives
//!   it a sequence number and chains it: `hash = SHA-256(domain ‖ canonical
//!   JSON of the record with prev_hash)` (see [`canonical`]).
//! * Every N records or T minutes, and whenever the file store closes a
//!   segment, the trail signs a [`Checkpoint`] (seq, hash, time) with Ed25519.
//! * [`AuditStore`] is the small storage trait; [`FileStore`] keeps
//!   append-only JSON lines in segments with fsync by group commit and a
//!   retention that never deletes records younger than 180 days.
//! * [`verify()`] names the first broken record; [`forward`] renders records as
//!   RFC 5424 syslog and CEF.
//!
//! The README writes the method down exactly, so an auditor can re-implement
//! the check offline.

pub mod canonical;
pub mod export;
mod file;
pub mod forward;
mod record;
mod sign;
mod store;
mod trail;
mod verify;

pub use file::{
    dir_checkpoints, read_checkpoints, walk_dir, walk_dir_since, walk_jsonl, FileStore,
    FileStoreOptions, RetentionReport,
};
pub use record::{
    action_label, actions, is_secret_key, mask_secrets, Actor, NewRecord, Outcome, Record,
    GENESIS_HASH, MASK, MAX_JSON_DEPTH, MAX_RECORD_BYTES,
};
pub use sign::{Checkpoint, KeyError, PublicKey, SigningKey};
pub use store::{AuditStore, ReadItem, StoreError};
pub use trail::{CheckpointPolicy, Durability, Trail, TrailError, TrailOptions};
pub use verify::{verify, verify_parts, Break, BreakKind, VerifyOptions, VerifyReport};

/// The language of a user-visible string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    #[serde(rename = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
}

/// The audit data folder under a Taishi data directory (`DATA_DIR/audit`).
pub fn audit_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("audit")
}
