//! The write-ahead log: what makes an acknowledged event durable.
//!
//! Segment files `wal/<first seq, 20 digits>.wal` start with an 8-byte magic;
//! each record is
//!
//! ```text
//! u32 LE payload length | u32 LE CRC32 of (seq ‖ payload) | u64 LE seq | payload
//! ```
//!
//! The length's top bit (never needed: records are at most [`MAX_RECORD`])
//! marks a record that is not the last of its batch; the CRC then also
//! covers a trailing `1` byte, so the flag cannot flip unnoticed. A batch is
//! all-or-nothing: it never spans segments, an error while appending it cuts
//! the log back to where the batch began, and a batch that a crash left
//! without its last record is cut off on open like a torn record. Logs
//! written before the flag existed read as batches of one record.
//!
//! Sequence numbers are consecutive from 1 across segments. A record is
//! durable once [`Wal::commit`] has returned a durable sequence at or past it:
//! commits are grouped, so every appender waiting while one `fsync` runs is
//! covered by the next one instead of paying for its own.
//!
//! On open, the last segment is scanned: a torn tail (short header, short
//! payload, CRC mismatch, sequence gap — what a crash mid-write leaves) is
//! cut off and its size reported. The same damage in an earlier segment is
//! not a crash artefact and fails the open instead of silently losing data.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::StoreError;

const MAGIC: &[u8; 8] = b"TSWAL\x00\x00\x01";
const HEADER: usize = 16;
/// Top bit of the length word: "more records of this batch follow".
const MORE: u32 = 1 << 31;
/// Larger than any event we accept; a length beyond it is corruption.
pub const MAX_RECORD: usize = 64 << 20;

/// What opening the log found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalOpenReport {
    /// Bytes cut from the end of the last segment (a record torn by a crash).
    pub torn_bytes: u64,
    /// Highest sequence number in the log after repair (0 when empty).
    pub last_seq: u64,
    pub segments: usize,
}

struct Segment {
    first_seq: u64,
    path: PathBuf,
}

struct Writer {
    file: Arc<File>,
    segment_bytes: u64,
    buf: Vec<u8>,
    /// Bytes of the current segment known to be in the file (what a failed
    /// write is cut back to).
    file_len: u64,
    /// Highest sequence appended (in `buf` or in the file).
    last_seq: u64,
    /// Highest sequence written to the file (not necessarily synced).
    flushed_seq: u64,
    segments: Vec<Segment>,
    /// Where the last batch began, while it can still be undone.
    last_batch: Option<Mark>,
    /// Set when a write failed part-way: the file may end in a partial record,
    /// so nothing more is appended until the log is reopened (and repaired).
    poisoned: bool,
}

pub struct Wal {
    dir: PathBuf,
    segment_size: u64,
    writer: Mutex<Writer>,
    sync_lock: Mutex<()>,
    durable_seq: AtomicU64,
    /// Test hook: the write this many writes from now fails half-way.
    fail_write: AtomicU64,
}

/// Where a batch began: what an error cuts the log back to.
struct Mark {
    /// Offset in the current segment, counting buffered bytes.
    at: u64,
    last_seq: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind, still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.wal"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn record_crc(seq: u64, more: bool, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    if more {
        h.update(&[1]);
    }
    h.finalize()
}

/// Result of reading one record from a stream.
enum Next {
    /// Sequence, payload, and whether more records of its batch follow.
    Record(u64, Vec<u8>, bool),
    End,
    /// Damage at the current position, with the reason.
    Bad(&'static str),
}

fn read_record<R: Read>(r: &mut R, payload: &mut Vec<u8>) -> io::Result<Next> {
    let mut header = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match r.read(&mut header[got..])? {
            0 if got == 0 => return Ok(Next::End),
            0 => return Ok(Next::Bad("short record header")),
            n => got += n,
        }
    }
    let word = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let more = word & MORE != 0;
    let len = (word & !MORE) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let mut seq_bytes = [0u8; 8];
    seq_bytes.copy_from_slice(&header[8..16]);
    let seq = u64::from_le_bytes(seq_bytes);
    if len > MAX_RECORD {
        return Ok(Next::Bad("record length out of range"));
    }
    payload.clear();
    payload.resize(len, 0);
    if let Err(e) = r.read_exact(payload) {
        return if e.kind() == io::ErrorKind::UnexpectedEof {
            Ok(Next::Bad("short record payload"))
        } else {
            Err(e)
        };
    }
    if record_crc(seq, more, payload) != crc {
        return Ok(Next::Bad("record CRC mismatch"));
    }
    Ok(Next::Record(seq, std::mem::take(payload), more))
}

/// Scans one segment; returns the byte length of its valid prefix, the last
/// good sequence, and the damage found after it, if any. The valid prefix
/// ends with a whole batch: records of a batch whose last record is missing
/// are damage too.
fn scan_segment(
    path: &Path,
    first_seq: u64,
) -> Result<(u64, Option<u64>, Option<&'static str>), StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 8];
    if r.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Ok((0, None, Some("bad or missing segment magic")));
    }
    // `good`/`last` advance at batch ends only; `read` is where the scan is.
    let mut good = MAGIC.len() as u64;
    let mut read = good;
    let mut expect = first_seq;
    let mut last = None;
    let mut buf = Vec::new();
    loop {
        let open_batch = read != good;
        match read_record(&mut r, &mut buf).map_err(|e| StoreError::io(path, e))? {
            Next::End if open_batch => return Ok((good, last, Some("batch cut short"))),
            Next::End => return Ok((good, last, None)),
            Next::Bad(why) => return Ok((good, last, Some(why))),
            Next::Record(seq, payload, more) => {
                if seq != expect {
                    return Ok((good, last, Some("sequence gap")));
                }
                read += (HEADER + payload.len()) as u64;
                expect += 1;
                if !more {
                    good = read;
                    last = Some(seq);
                }
                buf = payload;
            }
        }
    }
}

impl Wal {
    /// Opens (or creates) the log in `dir`, repairing a torn tail. `min_next`
    /// is the lowest sequence the next append may take (the store passes one
    /// past its checkpoint, so numbers are never reused even when every
    /// segment has been removed).
    pub fn open(
        dir: &Path,
        segment_size: u64,
        min_next: u64,
    ) -> Result<(Wal, WalOpenReport), StoreError> {
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut segments = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(dir, e))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".wal")) else {
                continue;
            };
            if let Ok(first_seq) = stem.parse::<u64>() {
                segments.push(Segment {
                    first_seq,
                    path: entry.path(),
                });
            }
        }
        segments.sort_by_key(|s| s.first_seq);

        let mut report = WalOpenReport {
            segments: segments.len(),
            ..Default::default()
        };
        let mut last_seq = 0u64;
        let n = segments.len();
        for (i, seg) in segments.iter().enumerate() {
            if last_seq != 0 && seg.first_seq != last_seq + 1 {
                return Err(StoreError::Corrupt(format!(
                    "{}: starts at sequence {} but the previous segment ends at {last_seq}",
                    seg.path.display(),
                    seg.first_seq
                )));
            }
            let (good, last, damage) = scan_segment(&seg.path, seg.first_seq)?;
            if let Some(why) = damage {
                if i + 1 != n {
                    return Err(StoreError::Corrupt(format!(
                        "{}: {why} at byte {good} in a segment that is not the last",
                        seg.path.display()
                    )));
                }
                let len = fs::metadata(&seg.path)
                    .map_err(|e| StoreError::io(&seg.path, e))?
                    .len();
                let f = OpenOptions::new()
                    .write(true)
                    .open(&seg.path)
                    .map_err(|e| StoreError::io(&seg.path, e))?;
                if good < MAGIC.len() as u64 {
                    // Torn while the header itself was being written.
                    f.set_len(0).map_err(|e| StoreError::io(&seg.path, e))?;
                    (&f).write_all(MAGIC)
                        .map_err(|e| StoreError::io(&seg.path, e))?;
                    report.torn_bytes += len;
                } else {
                    f.set_len(good).map_err(|e| StoreError::io(&seg.path, e))?;
                    report.torn_bytes += len - good;
                }
                f.sync_all().map_err(|e| StoreError::io(&seg.path, e))?;
            }
            last_seq = last.unwrap_or(seg.first_seq - 1);
        }

        let next = (last_seq + 1).max(min_next);
        let (file, segment_bytes) = match segments.last() {
            // Continue the last segment unless numbering has to jump ahead.
            Some(seg) if next == last_seq + 1 => {
                let f = OpenOptions::new()
                    .append(true)
                    .open(&seg.path)
                    .map_err(|e| StoreError::io(&seg.path, e))?;
                let len = f
                    .metadata()
                    .map_err(|e| StoreError::io(&seg.path, e))?
                    .len();
                (f, len)
            }
            _ => {
                let path = segment_path(dir, next);
                let f = create_segment(dir, &path)?;
                segments.push(Segment {
                    first_seq: next,
                    path,
                });
                (f, MAGIC.len() as u64)
            }
        };
        let last_seq = next - 1;
        report.last_seq = last_seq;
        let wal = Wal {
            dir: dir.to_path_buf(),
            segment_size,
            writer: Mutex::new(Writer {
                file: Arc::new(file),
                segment_bytes,
                buf: Vec::with_capacity(1 << 20),
                file_len: segment_bytes,
                last_seq,
                flushed_seq: last_seq,
                last_batch: None,
                segments,
                poisoned: false,
            }),
            sync_lock: Mutex::new(()),
            durable_seq: AtomicU64::new(last_seq),
            fail_write: AtomicU64::new(0),
        };
        Ok((wal, report))
    }

    /// Appends one record and returns its sequence number. Not durable until
    /// a `commit` covers it.
    pub fn append(&self, payload: &[u8]) -> Result<u64, StoreError> {
        self.append_all([payload])
    }

    /// Appends several records as one batch and returns the first sequence.
    /// All or nothing: on error none of them is in the log (nor will be
    /// after a crash), and the sequence numbers are not used up.
    pub fn append_all<'a>(
        &self,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<u64, StoreError> {
        let payloads: Vec<&[u8]> = payloads.into_iter().collect();
        // Checked before a byte is written: a rejected batch leaves no trace.
        if let Some(p) = payloads.iter().find(|p| p.len() > MAX_RECORD) {
            return Err(StoreError::TooLarge(p.len()));
        }
        let mut w = lock(&self.writer);
        if w.poisoned {
            return Err(StoreError::Poisoned);
        }
        let first = w.last_seq + 1;
        w.last_batch = None;
        if payloads.is_empty() {
            return Ok(first);
        }
        // Rolling only between batches keeps each batch in one segment, so
        // cutting it back is cutting one file.
        if w.segment_bytes >= self.segment_size {
            self.roll(&mut w)?;
        }
        let mark = Mark {
            at: w.segment_bytes,
            last_seq: w.last_seq,
        };
        let last = payloads.len() - 1;
        for (i, p) in payloads.into_iter().enumerate() {
            if let Err(e) = self.append_locked(&mut w, p, i != last) {
                self.cut_back(&mut w, &mark);
                return Err(e);
            }
        }
        w.last_batch = Some(mark);
        Ok(first)
    }

    /// Takes back the last batch appended, which began at `first`: the
    /// store calls it when indexing the batch failed, so a batch its sender
    /// was told failed does not come back at the next open. False when that
    /// batch is no longer the last one (nothing is changed then).
    pub fn undo_batch(&self, first: u64) -> Result<bool, StoreError> {
        // No fsync may run meanwhile: it would count the batch as durable.
        let _sync = lock(&self.sync_lock);
        let mut w = lock(&self.writer);
        let Some(mark) = w.last_batch.take_if(|m| m.last_seq + 1 == first) else {
            return Ok(false);
        };
        self.cut_back(&mut w, &mark);
        if w.poisoned {
            return Err(StoreError::Poisoned);
        }
        self.durable_seq.fetch_min(mark.last_seq, Ordering::AcqRel);
        Ok(true)
    }

    fn append_locked(&self, w: &mut Writer, payload: &[u8], more: bool) -> Result<(), StoreError> {
        let seq = w.last_seq + 1;
        let word = payload.len() as u32 | if more { MORE } else { 0 };
        w.buf.extend_from_slice(&word.to_le_bytes());
        w.buf
            .extend_from_slice(&record_crc(seq, more, payload).to_le_bytes());
        w.buf.extend_from_slice(&seq.to_le_bytes());
        w.buf.extend_from_slice(payload);
        w.segment_bytes += (HEADER + payload.len()) as u64;
        w.last_seq = seq;
        if w.buf.len() >= 1 << 20 {
            self.flush(w)?;
        }
        Ok(())
    }

    /// Undoes a batch that failed part-way: its bytes leave the buffer and
    /// the file (with any torn write after them), earlier records stay. If
    /// the file cannot be cut, the log is poisoned and the next open
    /// repairs it (the batch has no last record, so it is dropped there).
    fn cut_back(&self, w: &mut Writer, mark: &Mark) {
        let reached_file = w.file_len > mark.at;
        let keep_in_file = w.file_len.min(mark.at);
        let cut = w
            .file
            .set_len(keep_in_file)
            // Batch bytes an fsync may already have persisted must not
            // come back after a crash.
            .and_then(|()| {
                if reached_file {
                    w.file.sync_data()
                } else {
                    Ok(())
                }
            });
        if cut.is_err() {
            // The caller's error stands; this one only decides that
            // nothing more is appended until the open repairs the log.
            w.poisoned = true;
            return;
        }
        w.file_len = keep_in_file;
        w.buf.truncate((mark.at - keep_in_file) as usize);
        w.segment_bytes = mark.at;
        w.last_seq = mark.last_seq;
        // A flush inside the batch had moved it past the mark.
        w.flushed_seq = w.flushed_seq.min(mark.last_seq);
        w.poisoned = false;
    }

    fn flush(&self, w: &mut Writer) -> Result<(), StoreError> {
        if w.buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.write(&w.file, &w.buf) {
            w.poisoned = true;
            return Err(StoreError::io(&self.dir, e));
        }
        w.file_len += w.buf.len() as u64;
        w.buf.clear();
        w.flushed_seq = w.last_seq;
        Ok(())
    }

    fn write(&self, mut file: &File, bytes: &[u8]) -> io::Result<()> {
        let armed = self.fail_write.load(Ordering::Relaxed);
        if armed != 0 {
            self.fail_write.store(armed - 1, Ordering::Relaxed);
            if armed == 1 {
                // What a full disk does: part of the bytes land, then an error.
                file.write_all(&bytes[..bytes.len() / 2])?;
                return Err(io::Error::other("injected write failure"));
            }
        }
        file.write_all(bytes)
    }

    /// Fault injection for tests: the `n`th write to the log from now
    /// (1 = the next) writes half its bytes and fails.
    #[doc(hidden)]
    pub fn fail_nth_write(&self, n: u64) {
        self.fail_write.store(n, Ordering::Relaxed);
    }

    /// Starts a new segment. The old one is synced first, so a later commit
    /// only ever has to sync the current file.
    fn roll(&self, w: &mut Writer) -> Result<(), StoreError> {
        self.flush(w)?;
        w.file
            .sync_data()
            .map_err(|e| StoreError::io(&self.dir, e))?;
        let first_seq = w.last_seq + 1;
        let path = segment_path(&self.dir, first_seq);
        let f = create_segment(&self.dir, &path)?;
        w.file = Arc::new(f);
        w.segment_bytes = MAGIC.len() as u64;
        w.file_len = w.segment_bytes;
        w.last_batch = None;
        w.segments.push(Segment { first_seq, path });
        self.durable_seq.fetch_max(w.last_seq, Ordering::AcqRel);
        Ok(())
    }

    /// Makes every record appended so far durable; returns the highest
    /// durable sequence. Concurrent callers share one `fsync`.
    pub fn commit(&self) -> Result<u64, StoreError> {
        let target = {
            let mut w = lock(&self.writer);
            self.flush(&mut w)?;
            w.last_seq
        };
        self.commit_through(target)
    }

    /// Makes records up to `target` durable.
    pub fn commit_through(&self, target: u64) -> Result<u64, StoreError> {
        let durable = self.durable_seq.load(Ordering::Acquire);
        if durable >= target {
            return Ok(durable);
        }
        let _leader = lock(&self.sync_lock);
        let durable = self.durable_seq.load(Ordering::Acquire);
        if durable >= target {
            // Another caller's fsync covered this one while it waited.
            return Ok(durable);
        }
        let (file, upto) = {
            let mut w = lock(&self.writer);
            self.flush(&mut w)?;
            (w.file.clone(), w.flushed_seq)
        };
        file.sync_data().map_err(|e| StoreError::io(&self.dir, e))?;
        self.durable_seq.fetch_max(upto, Ordering::AcqRel);
        Ok(upto.max(durable))
    }

    pub fn last_seq(&self) -> u64 {
        lock(&self.writer).last_seq
    }

    pub fn durable_seq(&self) -> u64 {
        self.durable_seq.load(Ordering::Acquire)
    }

    /// Deletes segments whose records are all at or below `seq` (indexed and
    /// checkpointed). The current segment is kept.
    pub fn remove_through(&self, seq: u64) -> Result<usize, StoreError> {
        let mut w = lock(&self.writer);
        let mut removed = 0;
        while w.segments.len() > 1 && w.segments[1].first_seq <= seq + 1 {
            let seg = w.segments.remove(0);
            fs::remove_file(&seg.path).map_err(|e| StoreError::io(&seg.path, e))?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Bytes of all segments on disk.
    pub fn disk_bytes(&self) -> u64 {
        let w = lock(&self.writer);
        w.segments
            .iter()
            .filter_map(|s| fs::metadata(&s.path).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Reads every record with a sequence above `after`, in order. Records
    /// still in the append buffer are flushed first so they are seen.
    pub fn replay(
        &self,
        after: u64,
        mut f: impl FnMut(u64, &[u8]) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let (paths, last) = {
            let mut w = lock(&self.writer);
            self.flush(&mut w)?;
            let mut paths = Vec::new();
            for (i, s) in w.segments.iter().enumerate() {
                let next_first = w.segments.get(i + 1).map_or(u64::MAX, |n| n.first_seq);
                if next_first > after + 1 {
                    paths.push(s.path.clone());
                }
            }
            (paths, w.flushed_seq)
        };
        let mut n = 0;
        let mut buf = Vec::new();
        for path in paths {
            let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
            let mut r = BufReader::with_capacity(1 << 20, file);
            r.seek(SeekFrom::Start(MAGIC.len() as u64))
                .map_err(|e| StoreError::io(&path, e))?;
            loop {
                match read_record(&mut r, &mut buf).map_err(|e| StoreError::io(&path, e))? {
                    Next::End => break,
                    Next::Bad(why) => {
                        return Err(StoreError::Corrupt(format!(
                            "{}: {why} during replay",
                            path.display()
                        )))
                    }
                    Next::Record(seq, payload, _) => {
                        if seq > last {
                            return Ok(n);
                        }
                        if seq > after {
                            f(seq, &payload)?;
                            n += 1;
                        }
                        buf = payload;
                    }
                }
            }
        }
        Ok(n)
    }
}

fn create_segment(dir: &Path, path: &Path) -> Result<File, StoreError> {
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    f.write_all(MAGIC).map_err(|e| StoreError::io(path, e))?;
    f.sync_all().map_err(|e| StoreError::io(path, e))?;
    // The new name must survive a crash too, or the records in it would.
    sync_dir(dir).map_err(|e| StoreError::io(dir, e))?;
    drop(f);
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, rep) = Wal::open(dir.path(), 200, 1).unwrap();
        assert_eq!(rep.last_seq, 0);
        let payloads: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("record {i} {}", "x".repeat(i)).into_bytes())
            .collect();
        for (i, p) in payloads.iter().enumerate() {
            assert_eq!(wal.append(p).unwrap(), i as u64 + 1);
        }
        assert_eq!(wal.commit().unwrap(), 50);
        drop(wal);
        let (wal, rep) = Wal::open(dir.path(), 200, 1).unwrap();
        assert_eq!(rep.last_seq, 50);
        assert_eq!(rep.torn_bytes, 0);
        assert!(
            rep.segments > 3,
            "small segment size must roll: {}",
            rep.segments
        );
        let mut seen = Vec::new();
        wal.replay(10, |seq, p| {
            seen.push((seq, p.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 40);
        for (seq, p) in seen {
            assert_eq!(p, payloads[seq as usize - 1]);
        }
        // Appends continue the numbering.
        assert_eq!(wal.append(b"next").unwrap(), 51);
    }

    #[test]
    fn torn_tail_is_truncated_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(dir.path(), 1 << 20, 1).unwrap();
        for i in 0..10 {
            wal.append(format!("event {i}").as_bytes()).unwrap();
        }
        wal.commit().unwrap();
        drop(wal);
        let seg = segment_path(dir.path(), 1);
        let good_len = fs::metadata(&seg).unwrap().len();
        // A crash mid-append: header and half a payload.
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&100u32.to_le_bytes()).unwrap();
        f.write_all(&[1, 2, 3, 4, 11, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        f.write_all(b"partial").unwrap();
        drop(f);
        let (wal, rep) = Wal::open(dir.path(), 1 << 20, 1).unwrap();
        assert_eq!(rep.torn_bytes, 23);
        assert_eq!(rep.last_seq, 10);
        assert_eq!(fs::metadata(&seg).unwrap().len(), good_len);
        assert_eq!(wal.append(b"after").unwrap(), 11);
        wal.commit().unwrap();
        drop(wal);

        // A flipped byte in the last record's payload: CRC catches it.
        let mut bytes = fs::read(&seg).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&seg, &bytes).unwrap();
        let (_, rep) = Wal::open(dir.path(), 1 << 20, 1).unwrap();
        assert_eq!(rep.torn_bytes, (HEADER + 5) as u64);
        assert_eq!(rep.last_seq, 10);
    }

    fn payloads(wal: &Wal) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        wal.replay(0, |_, p| {
            seen.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        seen
    }

    #[test]
    fn a_batch_cut_short_by_a_crash_is_dropped_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(dir.path(), 1 << 20, 1).unwrap();
        wal.append_all([b"a1".as_slice(), b"a2"]).unwrap();
        wal.append_all([b"b1".as_slice(), b"b2", b"b3"]).unwrap();
        wal.commit().unwrap();
        drop(wal);
        let seg = segment_path(dir.path(), 1);
        let len = fs::metadata(&seg).unwrap().len();
        // The crash lands before the batch's last record was written.
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.set_len(len - (HEADER as u64 + 2)).unwrap();
        drop(f);
        let (wal, rep) = Wal::open(dir.path(), 1 << 20, 1).unwrap();
        assert_eq!(rep.last_seq, 2);
        assert_eq!(rep.torn_bytes, 2 * (HEADER as u64 + 2));
        assert_eq!(payloads(&wal), [b"a1".to_vec(), b"a2".to_vec()]);
        assert_eq!(wal.append(b"c").unwrap(), 3);
    }

    #[test]
    fn a_failed_write_takes_back_the_whole_batch() {
        // 1: the batch is still in the buffer when the write fails;
        // 2: part of it reached the file first.
        for nth in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            let (wal, _) = Wal::open(dir.path(), 64 << 20, 1).unwrap();
            wal.append(b"before").unwrap();
            let big = vec![b'x'; 300 << 10];
            let batch: Vec<&[u8]> = vec![&big; 8];
            wal.fail_nth_write(nth);
            assert!(matches!(
                wal.append_all(batch.iter().copied()),
                Err(StoreError::Io { .. })
            ));
            assert_eq!(wal.last_seq(), 1, "write {nth}");
            assert_eq!(wal.append(b"after").unwrap(), 2);
            assert_eq!(wal.commit().unwrap(), 2);
            drop(wal);
            let (wal, rep) = Wal::open(dir.path(), 64 << 20, 1).unwrap();
            assert_eq!((rep.last_seq, rep.torn_bytes), (2, 0), "write {nth}");
            assert_eq!(payloads(&wal), [b"before".to_vec(), b"after".to_vec()]);
        }
    }

    #[test]
    fn damage_in_an_older_segment_fails_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(dir.path(), 64, 1).unwrap();
        for i in 0..20 {
            wal.append(format!("event number {i}").as_bytes()).unwrap();
        }
        wal.commit().unwrap();
        drop(wal);
        let seg = segment_path(dir.path(), 1);
        let mut bytes = fs::read(&seg).unwrap();
        bytes[20] ^= 0xff;
        fs::write(&seg, &bytes).unwrap();
        assert!(matches!(
            Wal::open(dir.path(), 64, 1),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn removed_segments_keep_numbering() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(dir.path(), 64, 1).unwrap();
        for i in 0..20 {
            wal.append(format!("event number {i}").as_bytes()).unwrap();
        }
        wal.commit().unwrap();
        assert!(wal.remove_through(20).unwrap() > 0);
        drop(wal);
        let (wal, rep) = Wal::open(dir.path(), 64, 21).unwrap();
        assert_eq!(rep.last_seq, 20);
        assert_eq!(wal.append(b"x").unwrap(), 21);
    }
}
