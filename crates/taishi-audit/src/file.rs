//! The file implementation of [`AuditStore`]: append-only JSON lines in
//! segments `records-<first seq, 20 digits>.jsonl`, checkpoints in
//! `checkpoints.jsonl`, fsync by group commit (driven by the trail), and a
//! retention that removes whole old segments only.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, FixedOffset, TimeDelta};

use crate::record::MAX_RECORD_BYTES;
use crate::store::{AuditStore, ReadItem, StoreError};
use crate::{Checkpoint, Record};

const CHECKPOINTS: &str = "checkpoints.jsonl";
/// Most checkpoints read (one per 1,000 records or 5 minutes: over 50 years of
/// the time policy alone, far more than retention keeps).
const MAX_CHECKPOINTS: usize = 10_000_000;

#[derive(Debug, Clone)]
pub struct FileStoreOptions {
    /// A segment is closed once it reaches this size.
    pub segment_bytes: u64,
    /// Records younger than this are never deleted.
    pub retention_days: u32,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        FileStoreOptions {
            segment_bytes: 64 * 1024 * 1024,
            // 等保 2.0 / 网络安全法 第二十一条: logs kept at least six months.
            retention_days: 180,
        }
    }
}

/// What [`FileStore::apply_retention`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub segments_deleted: usize,
    pub bytes_deleted: u64,
    /// The first record kept (its prev_hash is anchored by a checkpoint).
    pub first_kept_seq: Option<u64>,
}

pub struct FileStore {
    dir: PathBuf,
    opts: FileStoreOptions,
    w: Mutex<Writer>,
}

struct Writer {
    file: Arc<File>,
    path: PathBuf,
    bytes: u64,
    head: Option<Record>,
    checkpoints: File,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// fsync of a directory, so a created or renamed file survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn segment_name(first_seq: u64) -> String {
    format!("records-{first_seq:020}.jsonl")
}

impl FileStore {
    /// Opens (creating when missing) the store in `dir`. A partial last line
    /// (a crash in the middle of a write) is cut off; a complete but
    /// unreadable last line is refused ([`StoreError::BadHead`]) because
    /// appending after it would chain onto a record nobody can check.
    pub fn open(dir: &Path, opts: FileStoreOptions) -> Result<FileStore, StoreError> {
        create_private_dir(dir).map_err(io(dir))?;
        let mut segments = list_segments(dir)?;
        if segments.is_empty() {
            let p = dir.join(segment_name(1));
            File::create(&p).map_err(io(&p))?;
            sync_dir(dir).map_err(io(dir))?;
            segments.push((1, p));
        }
        let mut head = None;
        for (_, p) in segments.iter().rev() {
            if let Some(r) = tail_record(p)? {
                head = Some(r);
                break;
            }
        }
        let last = &segments.last().expect("one segment").1;
        let file = OpenOptions::new()
            .append(true)
            .open(last)
            .map_err(io(last))?;
        let bytes = file.metadata().map_err(io(last))?.len();
        let cpp = dir.join(CHECKPOINTS);
        let checkpoints = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&cpp)
            .map_err(io(&cpp))?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
            opts,
            w: Mutex::new(Writer {
                file: Arc::new(file),
                path: last.clone(),
                bytes,
                head,
                checkpoints,
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock leaves at worst a partial line, which
        // verify names; carrying on is better than losing every later record.
        self.w.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Deletes whole segments whose newest record is older than the
    /// retention, oldest first, never the open segment, and only while a
    /// checkpoint signs the last record of the deleted segment: that
    /// checkpoint anchors the first kept record's prev_hash.
    pub fn apply_retention(
        &self,
        now: DateTime<FixedOffset>,
    ) -> Result<RetentionReport, StoreError> {
        let _w = self.lock();
        let cutoff = now - TimeDelta::days(i64::from(self.opts.retention_days));
        let segments = list_segments(&self.dir)?;
        let cps: Vec<Checkpoint> = read_checkpoints(&self.dir.join(CHECKPOINTS))?
            .into_iter()
            .filter_map(|c| match c {
                ReadItem::Item(c) => Some(c),
                ReadItem::Unreadable { .. } => None,
            })
            .collect();
        let mut report = RetentionReport::default();
        for (_, p) in segments.iter().take(segments.len().saturating_sub(1)) {
            let Some(last) = tail_record(p)? else { break };
            let anchored = cps.iter().any(|c| c.seq == last.seq && c.hash == last.hash);
            if last.time >= cutoff || !anchored {
                break;
            }
            report.bytes_deleted += fs::metadata(p).map_err(io(p))?.len();
            fs::remove_file(p).map_err(io(p))?;
            report.segments_deleted += 1;
            report.first_kept_seq = Some(last.seq + 1);
        }
        if report.segments_deleted > 0 {
            sync_dir(&self.dir).map_err(io(&self.dir))?;
        }
        Ok(report)
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix("records-")
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            out.push((n, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The last record of a segment, cutting off a partial last line.
fn tail_record(path: &Path) -> Result<Option<Record>, StoreError> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io(path))?;
    let len = f.metadata().map_err(io(path))?.len();
    let window = (MAX_RECORD_BYTES as u64 + 2).min(len);
    f.seek(SeekFrom::Start(len - window)).map_err(io(path))?;
    let mut buf = Vec::with_capacity(window as usize);
    f.read_to_end(&mut buf).map_err(io(path))?;
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
        if len > 0 && len <= MAX_RECORD_BYTES as u64 {
            // Only a partial first line: a crash during the very first write.
            f.set_len(0).map_err(io(path))?;
        }
        return Ok(None);
    };
    if end + 1 < buf.len() {
        f.set_len(len - window + end as u64 + 1).map_err(io(path))?;
        f.sync_all().map_err(io(path))?;
    }
    let start = buf[..end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = &buf[start..end];
    serde_json::from_slice(line)
        .map(Some)
        .map_err(|e| StoreError::BadHead {
            location: format!("{}, last line", path.display()),
            reason: e.to_string(),
        })
}

/// Gets (line number, the line or the length of an over-long one).
type LineVisitor<'a> = dyn FnMut(usize, Result<&[u8], usize>) -> bool + 'a;

/// Calls `visit(line number, line)` for every line of `path`; a line longer
/// than [`MAX_RECORD_BYTES`] comes as `Err(len)` without being buffered.
fn for_each_line(path: &Path, visit: &mut LineVisitor<'_>) -> Result<bool, StoreError> {
    let f = File::open(path).map_err(io(path))?;
    let mut r = BufReader::with_capacity(256 * 1024, f);
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        line.clear();
        let mut too_long = 0usize;
        let mut any = false;
        let mut terminated = false;
        loop {
            let buf = r.fill_buf().map_err(io(path))?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, done) = match memchr_nl(buf) {
                Some(i) => (&buf[..i], i + 1),
                None => (buf, buf.len()),
            };
            let found = done > chunk.len();
            if too_long > 0 || line.len() + chunk.len() > MAX_RECORD_BYTES {
                too_long = too_long.max(line.len()) + chunk.len();
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
            r.consume(done);
            if found {
                terminated = true;
                break;
            }
        }
        if !any {
            return Ok(true);
        }
        n += 1;
        if !terminated {
            // An unterminated last line is a write in progress (or a crash
            // the writer cuts off when it opens): not a record yet. Cutting a
            // newline to hide a record reads as a truncated tail.
            return Ok(true);
        }
        let item = if too_long > 0 {
            Err(too_long)
        } else {
            Ok(&line[..])
        };
        if !visit(n, item) {
            return Ok(false);
        }
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

fn parse_line<T: serde::de::DeserializeOwned>(
    path: &Path,
    n: usize,
    line: Result<&[u8], usize>,
) -> ReadItem<T> {
    let location = || {
        format!(
            "{}:{n}",
            path.file_name().map_or_else(
                || path.display().to_string(),
                |f| f.to_string_lossy().into()
            )
        )
    };
    match line {
        Err(len) => ReadItem::Unreadable {
            location: location(),
            reason: format!("line of {len} bytes, longer than the {MAX_RECORD_BYTES}-byte limit"),
        },
        Ok(l) => match serde_json::from_slice(l) {
            Ok(v) => ReadItem::Item(v),
            Err(e) => ReadItem::Unreadable {
                location: location(),
                reason: e.to_string(),
            },
        },
    }
}

/// Walks a JSON-lines file of records (a segment or an export), in order.
pub fn walk_jsonl(
    path: &Path,
    visit: &mut dyn FnMut(ReadItem<Record>) -> bool,
) -> Result<bool, StoreError> {
    for_each_line(path, &mut |n, line| visit(parse_line(path, n, line)))
}

/// Walks every segment of a store directory in order without opening it for
/// writing: safe beside a running writer (`taishi audit verify`/`export`).
pub fn walk_dir(
    dir: &Path,
    visit: &mut dyn FnMut(ReadItem<Record>) -> bool,
) -> Result<(), StoreError> {
    for (_, p) in list_segments(dir)? {
        if !walk_jsonl(&p, visit)? {
            break;
        }
    }
    Ok(())
}

/// Like [`walk_dir`] from the segment that may hold records at or after
/// `since`: a segment ends where the next one begins, so every segment
/// before the last one whose first record is older than `since` is skipped
/// unread (a ranged read of a 180-day trail then reads days, not months).
/// This trusts the records' time order, i.e. the server clock; a clock set
/// back can hide a record from a ranged read, never from `verify`, which
/// walks everything.
pub fn walk_dir_since(
    dir: &Path,
    since: DateTime<FixedOffset>,
    visit: &mut dyn FnMut(ReadItem<Record>) -> bool,
) -> Result<(), StoreError> {
    let segments = list_segments(dir)?;
    let mut start = 0;
    for (i, (_, p)) in segments.iter().enumerate().skip(1) {
        let mut first = None;
        walk_jsonl(p, &mut |item| {
            first = Some(item);
            false
        })?;
        match first {
            Some(ReadItem::Item(r)) if r.time <= since => start = i,
            Some(ReadItem::Item(_)) => break,
            // Unreadable or empty: no time to skip by; read from here on.
            _ => break,
        }
    }
    for (_, p) in &segments[start..] {
        if !walk_jsonl(p, visit)? {
            break;
        }
    }
    Ok(())
}

/// The checkpoints of a store directory, read-only.
pub fn dir_checkpoints(dir: &Path) -> Result<Vec<ReadItem<Checkpoint>>, StoreError> {
    read_checkpoints(&dir.join(CHECKPOINTS))
}

/// Reads a JSON-lines file of checkpoints; a missing file has none.
pub fn read_checkpoints(path: &Path) -> Result<Vec<ReadItem<Checkpoint>>, StoreError> {
    let mut out = Vec::new();
    if !path.exists() {
        return Ok(out);
    }
    for_each_line(path, &mut |n, line| {
        out.push(parse_line(path, n, line));
        out.len() < MAX_CHECKPOINTS
    })?;
    Ok(out)
}

impl AuditStore for FileStore {
    fn append(&self, rec: &Record) -> Result<bool, StoreError> {
        let mut line = rec.to_line();
        line.push(b'\n');
        let mut w = self.lock();
        // One write per record: the kernel keeps it whole for readers.
        (&*w.file).write_all(&line).map_err(io(&w.path))?;
        w.bytes += line.len() as u64;
        w.head = Some(rec.clone());
        if w.bytes < self.opts.segment_bytes {
            return Ok(false);
        }
        w.file.sync_data().map_err(io(&w.path))?;
        let next = self.dir.join(segment_name(rec.seq + 1));
        let f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&next)
            .map_err(io(&next))?;
        sync_dir(&self.dir).map_err(io(&self.dir))?;
        w.file = Arc::new(f);
        w.path = next;
        w.bytes = 0;
        Ok(true)
    }

    fn sync(&self) -> Result<(), StoreError> {
        // fsync outside the lock: appends carry on while the disk works,
        // which is what lets one fsync cover many records (group commit).
        let (f, path) = {
            let w = self.lock();
            (w.file.clone(), w.path.clone())
        };
        f.sync_data().map_err(io(&path))
    }

    fn head(&self) -> Result<Option<Record>, StoreError> {
        Ok(self.lock().head.clone())
    }

    fn read(&self, from_seq: u64, limit: usize) -> Result<Vec<ReadItem<Record>>, StoreError> {
        let segments = list_segments(&self.dir)?;
        let start = segments
            .iter()
            .rposition(|(first, _)| *first <= from_seq)
            .unwrap_or(0);
        let mut out = Vec::new();
        let mut started = false;
        for (_, p) in &segments[start..] {
            let more = walk_jsonl(p, &mut |item| {
                if !started {
                    started = matches!(&item, ReadItem::Item(r) if r.seq >= from_seq);
                }
                if started {
                    out.push(item);
                }
                out.len() < limit
            })?;
            if !more {
                break;
            }
        }
        Ok(out)
    }

    fn walk(&self, visit: &mut dyn FnMut(ReadItem<Record>) -> bool) -> Result<(), StoreError> {
        walk_dir(&self.dir, visit)
    }

    fn append_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        let mut line = cp.to_line();
        line.push(b'\n');
        let w = self.lock();
        let p = self.dir.join(CHECKPOINTS);
        (&w.checkpoints).write_all(&line).map_err(io(&p))?;
        w.checkpoints.sync_data().map_err(io(&p))
    }

    fn checkpoints(&self) -> Result<Vec<ReadItem<Checkpoint>>, StoreError> {
        read_checkpoints(&self.dir.join(CHECKPOINTS))
    }
}
