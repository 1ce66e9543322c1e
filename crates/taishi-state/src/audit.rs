//! The audit trail's storage ([`taishi_audit::AuditStore`]) in the state
//! database, on SQLite or PostgreSQL: for deployments whose nodes share one
//! PostgreSQL and keep no trail on local disks.
//!
//! Each record is stored as the canonical JSON line the file store writes
//! (`audit_records(seq, line)`), so the hash covers exactly what is kept and
//! `taishi_audit::verify` reads it back unchanged; an edited or deleted row
//! breaks the chain there and is named by its seq. Checkpoints are lines
//! too, in the order they were signed (`audit_checkpoints`, by rowid).
//!
//! One trail writes at a time (the [`taishi_audit::Trail`] serialises its
//! appends): nodes sharing a database need one writer for the trail, or a
//! second append of the same seq fails on the primary key rather than
//! forking the chain.

use std::sync::Mutex;

use taishi_audit::{AuditStore, Checkpoint, ReadItem, Record, StoreError};

use crate::db::{Backend, Conn, DbError, Target};
use crate::migrate;

/// Rows read per query while walking the trail.
const PAGE: i64 = 1000;
/// Checkpoints read at most (one per segment or interval: years of them).
const MAX_CHECKPOINTS: i64 = 1_000_000;

pub struct SqlAuditStore {
    conn: Mutex<Conn>,
    database: String,
}

fn parse<T: serde::de::DeserializeOwned>(table: &str, seq: i64, line: &str) -> ReadItem<T> {
    match serde_json::from_str(line) {
        Ok(v) => ReadItem::Item(v),
        Err(e) => ReadItem::Unreadable {
            location: format!("{table} seq={seq}"),
            reason: e.to_string(),
        },
    }
}

impl SqlAuditStore {
    /// Opens (and migrates) the state database at `target` for the trail.
    pub fn open(target: &Target) -> crate::Result<SqlAuditStore> {
        let mut conn = Conn::open(target)?;
        migrate::migrate(&mut conn, &target.describe(), false)?;
        if conn.backend() == Backend::Sqlite {
            // A committed record survives a power cut (WAL's NORMAL would
            // only promise that at the next checkpoint).
            conn.execute_batch("PRAGMA synchronous = FULL")?;
        }
        Ok(SqlAuditStore {
            conn: Mutex::new(conn),
            database: target.describe(),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, e: DbError) -> StoreError {
        StoreError::Other(format!("{}: {e}", self.database))
    }

    fn page(&self, after: i64, limit: i64) -> Result<Vec<(i64, String)>, StoreError> {
        self.conn()
            .query_map(
                "SELECT seq, line FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2",
                params![after, limit],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))
    }
}

fn to_text(line: Vec<u8>) -> String {
    // Canonical JSON is UTF-8 by construction.
    String::from_utf8_lossy(&line).into_owned()
}

impl AuditStore for SqlAuditStore {
    fn append(&self, rec: &Record) -> Result<bool, StoreError> {
        self.conn()
            .execute(
                "INSERT INTO audit_records(seq, line) VALUES ($1, $2)",
                params![rec.seq as i64, to_text(rec.to_line())],
            )
            .map_err(|e| self.err(e))?;
        // No segments here: nothing closes after a record.
        Ok(false)
    }

    fn sync(&self) -> Result<(), StoreError> {
        // Every append is its own committed statement.
        Ok(())
    }

    fn head(&self) -> Result<Option<Record>, StoreError> {
        let row: Option<(i64, String)> =
            crate::db::OptionalExtension::optional(self.conn().query_row(
                "SELECT seq, line FROM audit_records ORDER BY seq DESC LIMIT 1",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ))
            .map_err(|e| self.err(e))?;
        match row.map(|(seq, line)| parse("audit_records", seq, &line)) {
            None => Ok(None),
            Some(ReadItem::Item(r)) => Ok(Some(r)),
            Some(ReadItem::Unreadable { location, reason }) => {
                Err(StoreError::BadHead { location, reason })
            }
        }
    }

    fn read(&self, from_seq: u64, limit: usize) -> Result<Vec<ReadItem<Record>>, StoreError> {
        let limit = limit.min(PAGE as usize * 100) as i64;
        Ok(self
            .page(from_seq as i64 - 1, limit)?
            .into_iter()
            .map(|(seq, line)| parse("audit_records", seq, &line))
            .collect())
    }

    fn walk(&self, visit: &mut dyn FnMut(ReadItem<Record>) -> bool) -> Result<(), StoreError> {
        let mut after = i64::MIN;
        loop {
            let rows = self.page(after, PAGE)?;
            let Some(last) = rows.last().map(|r| r.0) else {
                return Ok(());
            };
            for (seq, line) in rows {
                if !visit(parse("audit_records", seq, &line)) {
                    return Ok(());
                }
            }
            after = last;
        }
    }

    fn append_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO audit_checkpoints(seq, line) VALUES ($1, $2)",
                params![cp.seq as i64, to_text(cp.to_line())],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<ReadItem<Checkpoint>>, StoreError> {
        Ok(self
            .conn()
            .query_map(
                "SELECT seq, line FROM audit_checkpoints ORDER BY rowid LIMIT $1",
                params![MAX_CHECKPOINTS],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .map_err(|e| self.err(e))?
            .into_iter()
            .map(|(seq, line)| parse("audit_checkpoints", seq, &line))
            .collect())
    }
}
