//! The trail: serialises appends into one chain, commits them in groups, and
//! signs checkpoints.

use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};

use crate::file::{FileStore, FileStoreOptions};
use crate::sign::{KeyError, PublicKey, SigningKey};
use crate::store::{AuditStore, ReadItem, StoreError};
use crate::{Checkpoint, NewRecord, Record, GENESIS_HASH};

/// When the trail signs a checkpoint of its head.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointPolicy {
    /// After this many records since the last checkpoint.
    pub every_records: u64,
    /// Or once this much time has passed since the last checkpoint and there
    /// are new records (checked on append and on [`Trail::tick`]).
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every_records: 1000,
            every: Duration::from_secs(300),
        }
    }
}

/// When an append returns relative to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `append` returns once its record is fsynced; concurrent appenders
    /// share one fsync (group commit).
    #[default]
    GroupCommit,
    /// `append` returns after the write; the OS flushes later (tests, bulk imports).
    Os,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct TrailOptions {
    pub checkpoint: CheckpointPolicy,
    pub durability: Durability,
}

#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{path}: {error}")]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

struct Chain {
    seq: u64,
    hash: String,
    since_checkpoint: u64,
    last_checkpoint: Instant,
}

#[derive(Default)]
struct Synced {
    seq: u64,
    syncing: bool,
}

/// An audit trail over a store. Share it (`Arc<Trail<_>>`) between threads:
/// appends are serialised, so the chain never forks.
pub struct Trail<S: AuditStore> {
    store: S,
    key: SigningKey,
    opts: TrailOptions,
    chain: Mutex<Chain>,
    synced: Mutex<Synced>,
    synced_cv: Condvar,
}

fn now() -> DateTime<FixedOffset> {
    chrono::Local::now().fixed_offset()
}

impl Trail<FileStore> {
    /// Opens the trail in `dir` (normally `DATA_DIR/audit`): records and
    /// checkpoints, `signing.key` (0600, created at first start) and
    /// `public.pem`, the key an auditor copies to verify offline.
    pub fn open_dir(
        dir: &Path,
        store: FileStoreOptions,
        opts: TrailOptions,
    ) -> Result<Self, TrailError> {
        let fs = FileStore::open(dir, store)?;
        let (key, _created) = SigningKey::load_or_create(&dir.join("signing.key"))?;
        let pem = dir.join("public.pem");
        let want = key.public().to_pem();
        if std::fs::read_to_string(&pem).ok().as_deref() != Some(want.as_str()) {
            std::fs::write(&pem, want).map_err(|error| TrailError::Io { path: pem, error })?;
        }
        Trail::new(fs, key, opts)
    }
}

impl<S: AuditStore> Trail<S> {
    pub fn new(store: S, key: SigningKey, opts: TrailOptions) -> Result<Self, TrailError> {
        let (seq, hash) = match store.head()? {
            Some(r) => (r.seq, r.hash),
            None => (0, GENESIS_HASH.to_string()),
        };
        let last_cp = store
            .checkpoints()?
            .into_iter()
            .filter_map(|c| match c {
                ReadItem::Item(c) => Some(c.seq),
                ReadItem::Unreadable { .. } => None,
            })
            .max()
            .unwrap_or(0);
        Ok(Trail {
            store,
            key,
            opts,
            chain: Mutex::new(Chain {
                seq,
                hash,
                since_checkpoint: seq.saturating_sub(last_cp),
                last_checkpoint: Instant::now(),
            }),
            synced: Mutex::new(Synced {
                seq,
                syncing: false,
            }),
            synced_cv: Condvar::new(),
        })
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The key checkpoints are verified with.
    pub fn public_key(&self) -> PublicKey {
        self.key.public()
    }

    /// The head: (seq, hash); seq 0 for an empty trail.
    pub fn head(&self) -> (u64, String) {
        let c = self.lock_chain();
        (c.seq, c.hash.clone())
    }

    fn lock_chain(&self) -> MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Chains and stores one record; with [`Durability::GroupCommit`] it is
    /// on disk when this returns.
    pub fn append(&self, new: NewRecord) -> Result<Record, TrailError> {
        let rec = {
            let mut c = self.lock_chain();
            let rec = Record::chain(new, c.seq + 1, &c.hash, now());
            let closed = self.store.append(&rec)?;
            c.seq = rec.seq;
            c.hash.clone_from(&rec.hash);
            c.since_checkpoint += 1;
            let p = self.opts.checkpoint;
            if closed
                || c.since_checkpoint >= p.every_records
                || c.last_checkpoint.elapsed() >= p.every
            {
                self.checkpoint_locked(&mut c)?;
            }
            rec
        };
        if self.opts.durability == Durability::GroupCommit {
            self.durable(rec.seq)?;
        }
        Ok(rec)
    }

    /// Waits until `seq` is fsynced: the first waiter syncs for everyone
    /// written so far, the others wait for it (or sync the next group).
    fn durable(&self, seq: u64) -> Result<(), TrailError> {
        let mut s = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if s.seq >= seq {
                return Ok(());
            }
            if !s.syncing {
                s.syncing = true;
                drop(s);
                // Everything up to the head read now is written, so one
                // fsync makes all of it durable.
                let target = self.lock_chain().seq;
                let r = self.store.sync();
                s = self.synced.lock().unwrap_or_else(|e| e.into_inner());
                s.syncing = false;
                if r.is_ok() {
                    s.seq = s.seq.max(target);
                }
                self.synced_cv.notify_all();
                r?;
            } else {
                s = self.synced_cv.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        }
    }

    fn checkpoint_locked(&self, c: &mut Chain) -> Result<Option<Checkpoint>, TrailError> {
        if c.since_checkpoint == 0 || c.seq == 0 {
            c.last_checkpoint = Instant::now();
            return Ok(None);
        }
        // The signed head must be on disk first: a checkpoint beyond the
        // stored records reads as a truncated trail.
        self.store.sync()?;
        let cp = self.key.checkpoint(c.seq, &c.hash, now());
        self.store.append_checkpoint(&cp)?;
        c.since_checkpoint = 0;
        c.last_checkpoint = Instant::now();
        Ok(Some(cp))
    }

    /// Signs a checkpoint of the head now when there are records since the
    /// last one (call at shutdown).
    pub fn checkpoint_now(&self) -> Result<Option<Checkpoint>, TrailError> {
        let mut c = self.lock_chain();
        self.checkpoint_locked(&mut c)
    }

    /// The time policy for a quiet trail: call every minute or so.
    pub fn tick(&self) -> Result<Option<Checkpoint>, TrailError> {
        let mut c = self.lock_chain();
        if c.last_checkpoint.elapsed() >= self.opts.checkpoint.every {
            self.checkpoint_locked(&mut c)
        } else {
            Ok(None)
        }
    }
}
