//! The alert journal: the alerts of a batch are written here and synced
//! *before* the batch's events commit, and let go once the alert store
//! holds them. A process that dies in between (after the sender was, or
//! could have been, told its events are safe) finds them here at the next
//! start and stores them then: alerts carry random ids and the store
//! ignores ids it holds, so each is stored exactly once.
//!
//! One JSON line per alert record. The file is emptied whenever no batch
//! with alerts is between its write and its insert, which is most of the
//! time: few batches raise alerts.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use taishi_alert::AlertRecord;

pub(crate) struct Journal {
    path: PathBuf,
    inner: Mutex<Inner>,
    /// Group commit: the number of writes known synced. A writer syncs
    /// only if no one synced past its write while it waited, so batches
    /// that raise alerts at the same time share one `fsync`.
    synced: Mutex<u64>,
    /// The same file, for syncing outside the write lock.
    sync_file: File,
}

struct Inner {
    file: File,
    /// Batches written and not yet stored.
    pending: usize,
    /// Writes so far.
    written: u64,
}

/// A batch's alerts are in the journal until [`Journal::done`].
#[must_use]
pub(crate) struct Ticket(());

impl Journal {
    /// Opens the journal at `path`, returning what a previous run left in
    /// it. A torn last line (the process died while writing it, before the
    /// sync that would have let its events commit) is skipped.
    pub(crate) fn open(path: &Path) -> std::io::Result<(Journal, Vec<AlertRecord>, u64)> {
        let mut left = Vec::new();
        let mut torn = 0;
        if let Ok(f) = File::open(path) {
            for line in BufReader::new(f).split(b'\n') {
                let line = line?;
                if line.is_empty() {
                    continue;
                }
                match serde_json::from_slice::<AlertRecord>(&line) {
                    Ok(r) => left.push(r),
                    Err(_) => torn += 1,
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let sync_file = file.try_clone()?;
        Ok((
            Journal {
                path: path.to_path_buf(),
                inner: Mutex::new(Inner {
                    file,
                    pending: 0,
                    written: 0,
                }),
                synced: Mutex::new(0),
                sync_file,
            },
            left,
            torn,
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes and syncs the alerts of one batch.
    pub(crate) fn write(&self, alerts: &[AlertRecord]) -> std::io::Result<Ticket> {
        let mut buf = Vec::with_capacity(alerts.len() * 1024);
        for a in alerts {
            serde_json::to_writer(&mut buf, a).map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        let mine = {
            let mut inner = self.lock();
            inner.file.write_all(&buf)?;
            inner.pending += 1;
            inner.written += 1;
            inner.written
        };
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        if *synced < mine {
            // Everything written before this point is covered by the sync.
            let upto = self.lock().written;
            if let Err(e) = self.sync_file.sync_data() {
                // The batch fails (its sender retries): it is not pending.
                let mut inner = self.lock();
                inner.pending = inner.pending.saturating_sub(1);
                return Err(e);
            }
            *synced = upto;
        }
        Ok(Ticket(()))
    }

    /// The alerts of a ticket's batch are stored; once no batch is pending
    /// the journal is emptied.
    pub(crate) fn done(&self, ticket: Ticket) {
        let Ticket(()) = ticket;
        let mut inner = self.lock();
        inner.pending = inner.pending.saturating_sub(1);
        if inner.pending == 0 {
            if let Err(e) = inner.file.set_len(0) {
                tracing::warn!(path = %self.path.display(), error = %e, "alert journal not emptied; its alerts would be offered again at the next start (they are stored once)");
            }
        }
    }

    /// Empties the journal after what a previous run left was stored.
    pub(crate) fn clear(&self) -> std::io::Result<()> {
        let inner = self.lock();
        inner.file.set_len(0)?;
        inner.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taishi_alert::{Alert, AlertKind, Level};

    fn record(id: &str) -> AlertRecord {
        let ts = chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00+08:00").unwrap();
        let mut a = Alert::new(AlertKind::Sigma, "r", "Rule", Level::High, ts);
        a.id = id.into();
        a.record()
    }

    #[test]
    fn what_was_not_stored_comes_back_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (j, left, _) = Journal::open(&path).unwrap();
        assert!(left.is_empty());
        let stored = j.write(&[record("a")]).unwrap();
        let _kept = j.write(&[record("b"), record("c")]).unwrap();
        j.done(stored);
        // Another batch is still pending, so nothing was let go yet.
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"id\":\"torn")
            .unwrap();
        let (j, left, torn) = Journal::open(&path).unwrap();
        let ids: Vec<&str> = left.iter().map(|r| r.id.as_str()).collect();
        assert_eq!((ids, torn), (vec!["a", "b", "c"], 1));
        j.clear().unwrap();
        let t = j.write(&[record("d")]).unwrap();
        j.done(t);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }
}
