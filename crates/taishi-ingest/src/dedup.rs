//! Idempotent `_bulk` retries: the `(_index, _id)` pairs stored recently,
//! so that a shipper resending a request it got no answer to stores
//! nothing twice (Beats and Logstash rely on Elasticsearch treating `_id`
//! that way).
//!
//! The window is bounded by count and by age: ids older than the window,
//! or beyond the count, are forgotten, and a document sent again after
//! that is stored again. Only a 128-bit digest of each pair is kept, in
//! memory and in an append-only journal that is made durable after the
//! store made the events durable, and read back at start. A crash between
//! those two writes leaves those ids out of the window: their retry is
//! stored again (at least once, never lost).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// A digest of one `(_index, _id)` pair.
pub type Key = [u64; 2];

/// FNV-1a, 128 bits: stable across builds and Rust versions, which the
/// journal needs (std's hasher promises neither).
pub fn key(index: &str, id: &str) -> Key {
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in index
        .as_bytes()
        .iter()
        .chain(std::iter::once(&0xff))
        .chain(id.as_bytes())
    {
        h ^= u128::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    [(h >> 64) as u64, h as u64]
}

/// What is known of an id about to be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Not seen: it is now pending until [`BulkIds::commit`] or
    /// [`BulkIds::release`].
    New,
    /// Stored within the window.
    Stored,
    /// Another request is storing it right now.
    InFlight,
}

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DedupError {
    #[error(
        "bulk id journal {path}: {source} (check the data directory's permissions and free space)"
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Default)]
struct Inner {
    stored: HashMap<Key, u64>,
    order: VecDeque<(Key, u64)>,
    pending: HashSet<Key>,
    journal: Option<File>,
    journal_lines: usize,
}

/// The window of stored bulk ids.
pub struct BulkIds {
    window_secs: u64,
    max: usize,
    path: Option<PathBuf>,
    inner: Mutex<Inner>,
}

impl BulkIds {
    /// A window kept in memory only (tests, `taishi hunt`).
    pub fn in_memory(window_secs: u64, max: usize) -> BulkIds {
        BulkIds {
            window_secs,
            max: max.max(1),
            path: None,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Reads the journal at `path` (a torn last line is skipped), keeps
    /// what is inside the window, and rewrites it compacted.
    pub fn open(path: &Path, window_secs: u64, max: usize, now: u64) -> Result<Self, DedupError> {
        let io = |source| DedupError::Io {
            path: path.to_path_buf(),
            source,
        };
        let ids = BulkIds {
            path: Some(path.to_path_buf()),
            ..BulkIds::in_memory(window_secs, max)
        };
        {
            let mut g = ids.lock();
            match File::open(path) {
                Ok(f) => {
                    for line in BufReader::new(f).split(b'\n') {
                        let line = line.map_err(io)?;
                        if let Some((k, ts)) = parse_line(&line) {
                            ids.remember(&mut g, k, ts);
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
            ids.expire(&mut g, now);
            ids.compact(&mut g).map_err(io)?;
        }
        Ok(ids)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().stored.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remember(&self, g: &mut Inner, k: Key, ts: u64) {
        g.stored.insert(k, ts);
        g.order.push_back((k, ts));
        while g.order.len() > self.max {
            self.pop_oldest(g);
        }
    }

    fn pop_oldest(&self, g: &mut Inner) {
        if let Some((k, ts)) = g.order.pop_front() {
            // The same id may have been stored again later; only the entry
            // this one put in is removed.
            if g.stored.get(&k) == Some(&ts) {
                g.stored.remove(&k);
            }
        }
    }

    fn expire(&self, g: &mut Inner, now: u64) {
        let cutoff = now.saturating_sub(self.window_secs);
        while g.order.front().is_some_and(|(_, ts)| *ts < cutoff) {
            self.pop_oldest(g);
        }
    }

    /// Looks up `k` and, when it is new, marks it pending.
    pub fn claim(&self, k: Key, now: u64) -> Claim {
        let mut g = self.lock();
        self.expire(&mut g, now);
        if g.stored.contains_key(&k) {
            Claim::Stored
        } else if !g.pending.insert(k) {
            Claim::InFlight
        } else {
            Claim::New
        }
    }

    /// The pending ids were not stored: a retry must store them.
    pub fn release(&self, keys: &[Key]) {
        let mut g = self.lock();
        for k in keys {
            g.pending.remove(k);
        }
    }

    /// The pending ids are durable in the store: remember them, in the
    /// journal too. On a journal error they stay remembered in memory.
    pub fn commit(&self, keys: &[Key], now: u64) -> Result<(), DedupError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut g = self.lock();
        let mut text = String::with_capacity(keys.len() * 48);
        for k in keys {
            g.pending.remove(k);
            self.remember(&mut g, *k, now);
            text.push_str(&format!("{now} {:016x}{:016x}\n", k[0], k[1]));
        }
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let io = |source| DedupError::Io {
            path: path.clone(),
            source,
        };
        g.journal_lines += keys.len();
        if g.journal_lines > self.max.saturating_mul(2).max(1024) {
            self.expire(&mut g, now);
            return self.compact(&mut g).map_err(io);
        }
        if g.journal.is_none() {
            g.journal = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(io)?,
            );
        }
        let f = g
            .journal
            .as_mut()
            .ok_or_else(|| io(std::io::ErrorKind::Other.into()))?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_data().map_err(io)
    }

    /// Rewrites the journal with what the window holds, atomically.
    fn compact(&self, g: &mut Inner) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let tmp = path.with_extension("tmp");
        let mut out = String::with_capacity(g.order.len() * 48);
        for (k, ts) in &g.order {
            if g.stored.get(k) == Some(ts) {
                out.push_str(&format!("{ts} {:016x}{:016x}\n", k[0], k[1]));
            }
        }
        {
            let mut f = File::create(&tmp)?;
            f.write_all(out.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        g.journal = Some(OpenOptions::new().append(true).open(path)?);
        g.journal_lines = g.stored.len();
        Ok(())
    }
}

fn parse_line(line: &[u8]) -> Option<(Key, u64)> {
    let s = std::str::from_utf8(line).ok()?;
    let (ts, hex) = s.trim_end().split_once(' ')?;
    if hex.len() != 32 {
        return None;
    }
    let hi = u64::from_str_radix(hex.get(..16)?, 16).ok()?;
    let lo = u64::from_str_radix(hex.get(16..)?, 16).ok()?;
    Some(([hi, lo], ts.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_committed_id_is_a_duplicate_a_released_one_is_not() {
        let ids = BulkIds::in_memory(3600, 100);
        let (a, b) = (key("logs", "1"), key("logs", "2"));
        assert_eq!(ids.claim(a, 10), Claim::New);
        assert_eq!(ids.claim(a, 10), Claim::InFlight);
        assert_eq!(ids.claim(b, 10), Claim::New);
        ids.commit(&[a], 10).unwrap();
        ids.release(&[b]);
        assert_eq!(ids.claim(a, 11), Claim::Stored);
        assert_eq!(ids.claim(b, 11), Claim::New);
    }

    #[test]
    fn the_index_is_part_of_the_key() {
        assert_ne!(key("a", "1"), key("b", "1"));
        assert_ne!(key("a1", ""), key("a", "1"));
    }

    #[test]
    fn ids_are_forgotten_beyond_the_window_and_the_count() {
        let ids = BulkIds::in_memory(100, 2);
        for (i, n) in ["1", "2", "3"].into_iter().enumerate() {
            let k = key("i", n);
            assert_eq!(ids.claim(k, 10 + i as u64), Claim::New);
            ids.commit(&[k], 10 + i as u64).unwrap();
        }
        assert_eq!(ids.len(), 2);
        assert_eq!(ids.claim(key("i", "1"), 20), Claim::New);
        assert_eq!(ids.claim(key("i", "3"), 20), Claim::Stored);
        assert_eq!(ids.claim(key("i", "3"), 200), Claim::New);
    }

    #[test]
    fn the_journal_survives_a_restart_and_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bulk-ids");
        let ids = BulkIds::open(&path, 3600, 100, 1000).unwrap();
        let k = key("logs", "abc");
        assert_eq!(ids.claim(k, 1000), Claim::New);
        ids.commit(&[k], 1000).unwrap();
        drop(ids);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"1001 0123").unwrap();
        drop(f);
        let ids = BulkIds::open(&path, 3600, 100, 1001).unwrap();
        assert_eq!(ids.claim(k, 1001), Claim::Stored);
        assert_eq!(ids.len(), 1);
        let ids = BulkIds::open(&path, 3600, 100, 9000).unwrap();
        assert!(ids.is_empty());
    }

    proptest! {
        #[test]
        fn memory_stays_within_the_count(
            n in proptest::collection::vec(0u16..50, 0..300),
        ) {
            let ids = BulkIds::in_memory(1 << 30, 16);
            for (t, x) in n.iter().enumerate() {
                let k = key("i", &x.to_string());
                if ids.claim(k, t as u64) == Claim::New {
                    ids.commit(&[k], t as u64).unwrap();
                }
                prop_assert!(ids.len() <= 16);
                prop_assert!(ids.lock().order.len() <= 16);
            }
        }
    }
}
