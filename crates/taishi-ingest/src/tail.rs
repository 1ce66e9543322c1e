//! File tailing with checkpoints.
//!
//! Paths are files, or patterns with `*`/`?` in the file name
//! (`/var/log/nginx/*.log`) matched again every `rescan`; a file removed
//! from its path is read to its end and let go after `close_removed`.
//!
//! Each file is read in whole lines from its checkpoint: path, identity
//! (device and inode) and the offset up to which the sink acknowledged
//! lines, written atomically to the state directory after every
//! acknowledged batch. A restart resumes there: nothing acknowledged is
//! read again, nothing unacknowledged is skipped.
//!
//! Rotation: when the path names a new file (rename + create), the old one
//! is read to its end (a last line without a newline included) before the
//! new one is read from its start; if that happened while taishi was
//! stopped, the rotated file is looked up by its inode beside the path.
//! When the file shrinks below the offset (copytruncate), it is read again
//! from its start.
//!
//! State that a decoder keeps across lines (auditd records waiting for
//! their event's end) is flushed at rotation and shutdown; after a crash it
//! is lost with the checkpoint already past it. A Zeek TSV file resumed
//! mid-way has no header for its decoder: tail Zeek JSON instead.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use taishi_event::{DecodeContext, Decoder, Format, Framing, Location, Reject, Sink};
use tokio::task::JoinSet;

use crate::internal_events::BytesReceived;
use crate::{deliver, Batch, CancellationToken, IngestSink, ListenerMetrics, Running};

/// What to tail and how.
#[derive(Debug, Clone)]
pub struct TailConfig {
    pub name: Arc<str>,
    pub paths: Vec<PathBuf>,
    /// None: detected from the first lines of each file.
    pub format: Option<Format>,
    /// Where checkpoints live (created if missing).
    pub state_dir: PathBuf,
    /// How often an idle file is looked at again.
    pub poll: Duration,
    /// Bytes read at a time; also the longest line kept (longer lines are
    /// rejected and skipped).
    pub read_chunk: usize,
    /// How often patterns (`/var/log/*.log`) are matched again.
    pub rescan: Duration,
    /// A file removed from its path is read to its end and closed after
    /// this long (its checkpoint goes with it).
    pub close_removed: Duration,
    pub default_tz: chrono::FixedOffset,
}

impl TailConfig {
    pub fn new(name: impl Into<Arc<str>>, paths: Vec<PathBuf>, state_dir: PathBuf) -> Self {
        TailConfig {
            name: name.into(),
            paths,
            format: None,
            state_dir,
            poll: Duration::from_millis(250),
            read_chunk: 1 << 20,
            rescan: Duration::from_secs(10),
            close_removed: Duration::from_secs(300),
            default_tz: chrono::Offset::fix(&chrono::Utc),
        }
    }
}

/// A file's identity: device and inode (zero where the platform has none,
/// and then only truncation is detected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct FileId {
    dev: u64,
    ino: u64,
}

fn id_of(m: &std::fs::Metadata) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: m.dev(),
            ino: m.ino(),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        FileId { dev: 0, ino: 0 }
    }
}

/// What is persisted per file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Checkpoint {
    path: PathBuf,
    #[serde(flatten)]
    id: FileId,
    /// Bytes acknowledged: the start of the first line not yet stored.
    offset: u64,
    /// Line number (1-based) at `offset`.
    line: u64,
}

/// Starts one tailer per path; they run until `shutdown`.
pub async fn tail<S: IngestSink>(
    cfg: TailConfig,
    sink: Arc<S>,
    shutdown: CancellationToken,
) -> io::Result<Running> {
    if let Some(f) = cfg.format {
        if !tailable(f) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{f} files cannot be tailed line by line"),
            ));
        }
    }
    tokio::fs::create_dir_all(&cfg.state_dir).await?;
    let metrics = Arc::new(ListenerMetrics::new(cfg.name.clone(), "tail"));
    let mut patterns = Vec::with_capacity(cfg.paths.len());
    for p in &cfg.paths {
        patterns.push(std::path::absolute(p)?);
    }
    let cfg = Arc::new(cfg);
    let name = cfg.name.clone();
    let m = metrics.clone();
    let task = tokio::spawn(async move {
        let mut files = JoinSet::new();
        let mut active: HashSet<PathBuf> = HashSet::new();
        loop {
            for path in expand(&patterns) {
                if active.insert(path.clone()) {
                    files.spawn(Tailer::new(path, &cfg, &sink, &m).run(shutdown.clone()));
                }
            }
            // Wait for the next scan, a tailer that closed its (removed)
            // file, or shutdown.
            let rescan = tokio::time::sleep(cfg.rescan);
            tokio::pin!(rescan);
            loop {
                tokio::select! {
                    _ = &mut rescan => break,
                    Some(Ok(done)) = files.join_next(), if !files.is_empty() => {
                        active.remove(&done);
                    }
                    _ = shutdown.cancelled() => {
                        while files.join_next().await.is_some() {}
                        return;
                    }
                }
            }
        }
    });
    Ok(Running {
        name,
        local_addr: None,
        metrics,
        task,
    })
}

/// The files that `patterns` name now: a path as is (it is tailed once it
/// exists), or, with `*` or `?` in its last component, the regular files
/// of its directory that match. Rotated copies must not match the pattern
/// (`app.log.1` and `app.log-20250101` do not match `*.log`), or they are
/// read again as new files.
fn expand(patterns: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in patterns {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if !name.contains(['*', '?']) {
            out.push(p.clone());
            continue;
        }
        let Some(dir) = p.parent() else { continue };
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let file_name = e.file_name();
            let is_file = e.file_type().is_ok_and(|t| t.is_file());
            if is_file && glob_match(name.as_bytes(), file_name.as_encoded_bytes()) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `*` (any run) and `?` (one byte) against a file name.
fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pat.get(p..).unwrap_or_default().iter().all(|&c| c == b'*')
}

/// Line formats, and JSON as JSON lines.
pub(crate) fn tailable(f: Format) -> bool {
    f == Format::Json || taishi_decode::new_decoder(f).framing() == Framing::Lines
}

/// `tail-<FNV-1a of the path>.json`: stable across runs and Rust versions.
fn checkpoint_path(dir: &Path, file: &Path) -> PathBuf {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    dir.join(format!("tail-{h:016x}.json"))
}

fn load_checkpoint(cp_path: &Path, path: &Path) -> Option<Checkpoint> {
    let data = std::fs::read(cp_path).ok()?;
    match serde_json::from_slice::<Checkpoint>(&data) {
        Ok(cp) if cp.path == path => Some(cp),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(checkpoint = %cp_path.display(), error = %e, "unreadable checkpoint ignored");
            None
        }
    }
}

/// Write to a temporary file, sync, rename over the old one, sync the
/// directory: a crash leaves the old checkpoint or the new, never half.
fn save_checkpoint(cp_path: &Path, cp: &Checkpoint) -> io::Result<()> {
    use std::io::Write;
    let tmp = cp_path.with_extension("json.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(cp).map_err(io::Error::other)?)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, cp_path)?;
    #[cfg(unix)]
    if let Some(dir) = cp_path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Reads up to `len` bytes at `pos`.
fn read_at(file: &std::fs::File, pos: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut got = 0usize;
    while got < len {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(file, &mut buf[got..], pos + got as u64);
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(file, &mut buf[got..], pos + got as u64);
        match n {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// The open file being read.
struct Open {
    file: Arc<std::fs::File>,
    id: FileId,
    pos: u64,
    line: u64,
}

enum Step {
    /// Lines were stored; read on.
    Progress,
    /// Nothing (more) to read for now.
    Idle,
    /// The sink failed or the file could not be read: retry later from the
    /// same offset.
    Failed,
}

struct Tailer<S> {
    cfg: Arc<TailConfig>,
    sink: Arc<S>,
    metrics: Arc<ListenerMetrics>,
    path: PathBuf,
    cp_path: PathBuf,
    ctx: DecodeContext,
    /// In a mutex only to make the tailer `Sync` (it is never contended).
    decoder: Mutex<Option<Box<dyn Decoder>>>,
    /// Inside a line longer than `read_chunk`, dropping up to its end.
    skipping: bool,
}

impl<S: IngestSink> Tailer<S> {
    fn new(
        path: PathBuf,
        cfg: &Arc<TailConfig>,
        sink: &Arc<S>,
        metrics: &Arc<ListenerMetrics>,
    ) -> Self {
        let mut ctx = DecodeContext::new(Arc::from(path.to_string_lossy()), Format::Syslog);
        ctx.default_tz = cfg.default_tz;
        Tailer {
            cp_path: checkpoint_path(&cfg.state_dir, &path),
            ctx,
            path,
            cfg: cfg.clone(),
            sink: sink.clone(),
            metrics: metrics.clone(),
            decoder: Mutex::new(None),
            skipping: false,
        }
    }

    /// Tails until shutdown, or until the file has been removed (and read
    /// to its end) for `close_removed`; returns the path.
    async fn run(mut self, shutdown: CancellationToken) -> PathBuf {
        self.tail(shutdown).await;
        self.path
    }

    async fn tail(&mut self, shutdown: CancellationToken) {
        let saved = {
            let (cp, p) = (self.cp_path.clone(), self.path.clone());
            tokio::task::spawn_blocking(move || load_checkpoint(&cp, &p))
                .await
                .ok()
                .flatten()
        };
        let Some(mut open) = self.open_wait(&shutdown).await else {
            return;
        };
        if let Some(cp) = saved {
            let len = open.file.metadata().map(|m| m.len()).unwrap_or(0);
            if cp.id == open.id {
                if len >= cp.offset {
                    open.pos = cp.offset;
                    open.line = cp.line;
                }
            } else {
                self.catch_up_rotated(&cp, &shutdown).await;
                self.save(&open).await;
            }
        }
        let mut backoff = self.cfg.poll;
        let mut gone_since: Option<tokio::time::Instant> = None;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            match self.step(&mut open, false).await {
                Step::Progress => {
                    backoff = self.cfg.poll;
                    continue;
                }
                Step::Failed => {
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    self.sleep(backoff, &shutdown).await;
                    continue;
                }
                Step::Idle => {}
            }
            match std::fs::metadata(&self.path) {
                Ok(m) if id_of(&m) != open.id => {
                    // Renamed away and replaced: finish the old file first.
                    if !self.drain(&mut open, &shutdown).await {
                        break;
                    }
                    self.finish_decoder().await;
                    match self.open_now() {
                        Ok(o) => {
                            open = o;
                            self.save(&open).await;
                        }
                        Err(e) => {
                            tracing::debug!(path = %self.path.display(), error = %e, "reopen failed")
                        }
                    }
                    continue;
                }
                Ok(m) if m.len() < open.pos => {
                    // Copied and truncated: the file starts again.
                    tracing::info!(path = %self.path.display(), "file truncated; reading from the start");
                    open.pos = 0;
                    open.line = 1;
                    self.skipping = false;
                    self.save(&open).await;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Rotated and not yet recreated, or removed: keep
                    // reading the open file for a while, then let it go.
                    let since = *gone_since.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() >= self.cfg.close_removed {
                        tracing::info!(path = %self.path.display(), "file removed; closed");
                        let cp = self.cp_path.clone();
                        let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(cp)).await;
                        break;
                    }
                }
                // Same file: wait for more.
                _ => gone_since = None,
            }
            self.sleep(self.cfg.poll, &shutdown).await;
        }
        self.finish_decoder().await;
    }

    async fn sleep(&self, d: Duration, shutdown: &CancellationToken) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = shutdown.cancelled() => {}
        }
    }

    fn open_now(&self) -> io::Result<Open> {
        let file = std::fs::File::open(&self.path)?;
        let id = id_of(&file.metadata()?);
        Ok(Open {
            file: Arc::new(file),
            id,
            pos: 0,
            line: 1,
        })
    }

    async fn open_wait(&self, shutdown: &CancellationToken) -> Option<Open> {
        let mut warned = false;
        loop {
            match self.open_now() {
                Ok(o) => return Some(o),
                Err(e) => {
                    if !warned && e.kind() != io::ErrorKind::NotFound {
                        tracing::warn!(path = %self.path.display(), error = %e, "cannot open file to tail");
                        warned = true;
                    }
                }
            }
            self.sleep(self.cfg.poll, shutdown).await;
            if shutdown.is_cancelled() {
                return None;
            }
        }
    }

    /// Reads the old file to its end; false on shutdown.
    async fn drain(&mut self, open: &mut Open, shutdown: &CancellationToken) -> bool {
        loop {
            match self.step(open, true).await {
                Step::Progress => continue,
                Step::Idle => return true,
                Step::Failed => {
                    self.sleep(self.cfg.poll, shutdown).await;
                    if shutdown.is_cancelled() {
                        return false;
                    }
                }
            }
        }
    }

    /// The checkpointed file was replaced while we were stopped: read the
    /// rest of it from where it now lies, or say that it is gone.
    async fn catch_up_rotated(&mut self, cp: &Checkpoint, shutdown: &CancellationToken) {
        let found = self.path.parent().and_then(|dir| {
            std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
                let m = e.metadata().ok()?;
                (m.is_file() && id_of(&m) == cp.id).then(|| e.path())
            })
        });
        match found.and_then(|p| std::fs::File::open(&p).ok().map(|f| (p, f))) {
            Some((p, file)) => {
                tracing::info!(rotated = %p.display(), path = %self.path.display(), "reading the rest of a file rotated while stopped");
                let mut old = Open {
                    file: Arc::new(file),
                    id: cp.id,
                    pos: cp.offset,
                    line: cp.line,
                };
                // Checkpoints keep naming the path; the old file's progress
                // is not saved, so a crash here re-reads its tail.
                let saved_cp = std::mem::take(&mut self.cp_path);
                self.drain(&mut old, shutdown).await;
                self.cp_path = saved_cp;
                self.finish_decoder().await;
            }
            None => {
                let mut b = Batch::new(self.cfg.name.clone());
                b.reject(Reject::new(
                    &self.ctx,
                    Location::line(cp.line, cp.offset),
                    format!(
                        "file was replaced while taishi was stopped and the old one (inode {}) was not found beside it; what was written to it after this offset is missing",
                        cp.id.ino
                    ),
                ));
                let _ = deliver(&*self.sink, &self.metrics, b).await;
            }
        }
    }

    async fn save(&self, open: &Open) {
        if self.cp_path.as_os_str().is_empty() {
            return;
        }
        let cp = Checkpoint {
            path: self.path.clone(),
            id: open.id,
            offset: open.pos,
            line: open.line,
        };
        let cp_path = self.cp_path.clone();
        match tokio::task::spawn_blocking(move || save_checkpoint(&cp_path, &cp)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(path = %self.path.display(), error = %e, "checkpoint not saved")
            }
            Err(e) => tracing::warn!(error = %e, "checkpoint task failed"),
        }
    }

    async fn finish_decoder(&mut self) {
        let Some(mut d) = self
            .decoder
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        let mut batch = Batch::new(self.cfg.name.clone());
        d.finish(&self.ctx, &mut batch);
        if !batch.is_empty() {
            let _ = deliver(&*self.sink, &self.metrics, batch).await;
        }
    }

    /// Reads, decodes and stores the next run of whole lines; with
    /// `last`, a final line without a newline counts too (the file is
    /// finished).
    async fn step(&mut self, open: &mut Open, last: bool) -> Step {
        let (file, pos, len) = (open.file.clone(), open.pos, self.cfg.read_chunk.max(1));
        let data = match tokio::task::spawn_blocking(move || read_at(&file, pos, len)).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                tracing::warn!(path = %self.path.display(), error = %e, "read failed");
                return Step::Failed;
            }
            Err(_) => return Step::Failed,
        };
        if data.is_empty() {
            return Step::Idle;
        }
        let mut batch = Batch::new(self.cfg.name.clone());
        let mut skip = 0usize;
        let mut skipped_lines = 0u64;
        if self.skipping {
            match memchr::memchr(b'\n', &data) {
                Some(nl) => {
                    skip = nl + 1;
                    skipped_lines = 1;
                    self.skipping = false;
                }
                None if last => {
                    skip = data.len();
                    self.skipping = false;
                }
                None if data.len() == len => skip = data.len(),
                None => return Step::Idle,
            }
        }
        let rest = data.get(skip..).unwrap_or_default();
        let whole = match memchr::memrchr(b'\n', rest) {
            Some(nl) => nl + 1,
            None if last => rest.len(),
            None => 0,
        };
        let mut used = skip + whole;
        let mut lines = skipped_lines;
        if whole > 0 {
            let chunk = rest.get(..whole).unwrap_or_default();
            lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
            self.ctx.line_base = open.line + skipped_lines;
            self.ctx.offset_base = open.pos + skip as u64;
            self.decode(chunk, &mut batch);
        } else if skip == 0 && rest.len() == len {
            // A line longer than the read size: rejected, then skipped to
            // its end.
            let loc = Location::line(open.line, open.pos);
            batch.reject(
                Reject::new(
                    &self.ctx,
                    loc,
                    format!("line longer than {len} bytes; skipped"),
                )
                .raw(rest),
            );
            used = rest.len();
            self.skipping = true;
        }
        if used == 0 {
            return Step::Idle;
        }
        self.metrics.emit(BytesReceived {
            bytes: used,
            messages: lines,
        });
        if !batch.is_empty() {
            match deliver(&*self.sink, &self.metrics, batch).await {
                Ok(()) => {}
                Err(e) if !e.kind().is_transient() => {
                    // Reading the same lines again would fail the same way:
                    // they are skipped (logged and counted by `deliver`).
                    tracing::error!(path = %self.path.display(), offset = open.pos, lines, error = %e, "lines rejected by the store; skipped");
                }
                Err(_) => {
                    // Not durable: the same lines are read again. A decoder
                    // that keeps state across calls starts afresh.
                    *self.decoder.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
                    return Step::Failed;
                }
            }
        }
        open.pos += used as u64;
        open.line += lines;
        self.save(open).await;
        Step::Progress
    }

    fn decode(&mut self, chunk: &[u8], batch: &mut Batch) {
        let decoder = self.decoder.get_mut().unwrap_or_else(|p| p.into_inner());
        if decoder.is_none() {
            let format = self.cfg.format.or_else(|| {
                taishi_decode::detect(&chunk[..chunk.len().min(64 << 10)])
                    .map(|d| d.0)
                    .filter(|f| tailable(*f))
            });
            match format {
                Some(f) => {
                    self.ctx.format = f;
                    *decoder = Some(taishi_decode::new_decoder(f));
                }
                None => {
                    let loc = Location::line(self.ctx.line_base, self.ctx.offset_base);
                    batch.reject(
                        Reject::new(
                            &self.ctx,
                            loc,
                            format!(
                                "{} bytes in a format not recognised; set the format of this file",
                                chunk.len()
                            ),
                        )
                        .raw(chunk),
                    );
                    return;
                }
            }
        }
        if let Some(d) = decoder {
            d.decode(chunk, &self.ctx, batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_file_names() {
        assert!(glob_match(b"*.log", b"app.log"));
        assert!(glob_match(b"app-?.log", b"app-1.log"));
        assert!(glob_match(b"*", b"x"));
        assert!(glob_match(b"a*b*c", b"aXXbYYc"));
        assert!(!glob_match(b"*.log", b"app.log.1"));
        assert!(!glob_match(b"*.log", b"app.log-20250101"));
        assert!(!glob_match(b"app-?.log", b"app-10.log"));
    }

    #[test]
    fn checkpoint_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.log");
        let cp_path = checkpoint_path(dir.path(), &file);
        let cp = Checkpoint {
            path: file.clone(),
            id: FileId { dev: 1, ino: 2 },
            offset: 30,
            line: 4,
        };
        save_checkpoint(&cp_path, &cp).unwrap();
        assert_eq!(load_checkpoint(&cp_path, &file), Some(cp));
        assert_eq!(load_checkpoint(&cp_path, &dir.path().join("b.log")), None);
        assert!(!cp_path.with_extension("json.tmp").exists());
    }
}
