//! Where personal information is at rest (issue 16): the scanners that read
//! — files of many shapes and databases over a real connection — around
//! `taishi-pii`'s pure detectors. Everything found comes out per location
//! (`file`, `file:column`, `schema.table.column`) as a
//! [`LocationSummary`]: counts, confidence, masked examples, distinct
//! people. A raw value never leaves this crate.
//!
//! Every input is bounded: files by line and archive limits
//! ([`FileLimits`]), databases by tables, rows, cell size and a statement
//! timeout ([`DbLimits`]).

mod db;
mod files;
mod office;

use std::collections::BTreeMap;

pub use db::{redact, scan_database, DbError, DbLimits, DbReport, DbTarget, TableProgress};
pub use files::{FileError, FileLimits, FileScanner, Rejects};
use taishi_pii::{LocationSummary, MaskKey, Masker};

/// Locations of one input kept at most (columns, JSON fields, sheets).
pub const MAX_LOCATIONS: usize = 1000;

/// What every scanner shares: the masker (for masked examples) and the key
/// people are counted by.
#[derive(Clone)]
pub struct Detect {
    pub masker: Masker,
    pub key: MaskKey,
}

/// Findings by location, sorted by name.
pub type Locations = BTreeMap<String, LocationSummary>;

impl Detect {
    /// Scans `text` (with `field` as its context word when it comes from a
    /// named column or field) into `loc`.
    pub fn add(&self, locs: &mut Locations, loc: &str, field: Option<&str>, text: &[u8]) {
        let scanner = self.masker.scanner();
        let found = match field {
            Some(f) => scanner.scan_field(f, text),
            None => scanner.scan(text),
        };
        if found.findings.is_empty() {
            return;
        }
        if !locs.contains_key(loc) && locs.len() >= MAX_LOCATIONS {
            return;
        }
        locs.entry(loc.to_string())
            .or_insert_with(|| LocationSummary::new(self.key.clone()))
            .add(&self.masker, text, &found.findings);
    }
}
