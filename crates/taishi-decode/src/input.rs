use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::FixedOffset;
use taishi_event::{DecodeContext, Event, Format, Framing, Location, Reject, Sink};

use crate::detect::{detect, new_decoder};

/// How much of an input auto-detection looks at.
const SAMPLE: usize = 64 * 1024;
/// Line-framed inputs are decoded in pieces of about this size, cut at a
/// line boundary, so memory stays flat on multi-gigabyte logs.
const CHUNK: usize = 4 * 1024 * 1024;
/// A line longer than this is rejected and skipped rather than gathered
/// whole: a compressed input of one endless line (a gzip or zstd bomb)
/// must not decompress into memory.
pub const MAX_LINE: usize = 64 * 1024 * 1024;
/// Formats read whole (EVTX, pcap, NetFlow captures) stop at this many
/// bytes after decompression, for the same reason.
pub const MAX_WHOLE: u64 = 4 << 30;

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "-".to_string(),
        }
    }

    /// Size on disk (compressed size for compressed files), for progress.
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin => None,
        }
    }
}

/// Why an input could not be read (to its end).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: no such file or folder (check the path; use - for stdin)", .0.display())]
    Missing(PathBuf),
    #[error("{input}: cannot open: {error}")]
    Open {
        input: String,
        error: std::io::Error,
    },
    #[error("{input}: byte {offset}: read failed: {error}")]
    Read {
        input: String,
        offset: u64,
        error: std::io::Error,
    },
    #[error("{input}: the format could not be recognised from its content; name it with --format (one of: {})", Format::ALL.map(|f| f.name()).join(", "))]
    UnknownFormat { input: String },
    #[error("{input}: more than {} GiB (after decompression) of {}, which is read whole; stopped there (split the file, or it is a decompression bomb)", MAX_WHOLE >> 30, .format.name())]
    TooLarge { input: String, format: Format },
}

/// Expands the command line's paths: folders are walked recursively (files
/// sorted by path, hidden files skipped), `-` is stdin. A path that does not
/// exist is an error naming it.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if p.is_dir() {
            let mut files: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .follow_links(true)
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                })
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .collect();
            files.sort();
            out.extend(files.into_iter().map(Input::Path));
        } else if p.exists() {
            out.push(Input::Path(p.clone()));
        } else {
            return Err(InputError::Missing(p.clone()));
        }
    }
    Ok(out)
}

/// How inputs are decoded.
#[derive(Debug, Clone)]
pub struct Options {
    /// None: detect each input's format from its content.
    pub format: Option<Format>,
    /// Zone for sources whose timestamps carry none.
    pub default_tz: FixedOffset,
    /// Year for sources whose timestamps carry none.
    pub default_year: Option<i32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: None,
            default_tz: taishi_event::time::utc(),
            default_year: None,
        }
    }
}

/// What reading one input gave.
#[derive(Debug, Clone, Default)]
pub struct SourceReport {
    pub source: String,
    pub format: Option<Format>,
    pub events: u64,
    pub rejects: u64,
    /// Bytes decoded (after decompression).
    pub bytes: u64,
    pub elapsed: Duration,
    /// Why the input could not be read at all.
    pub error: Option<String>,
    /// The error is only that the content is no log format Taishi reads
    /// (a PDF, an image in a log folder): callers sum these up in one line
    /// rather than an error each.
    pub not_a_log: bool,
}

struct Counting<'a> {
    inner: &'a mut dyn Sink,
    events: u64,
    rejects: u64,
}

impl Sink for Counting<'_> {
    fn event(&mut self, event: Event) {
        self.events += 1;
        self.inner.event(event);
    }
    fn reject(&mut self, reject: Reject) {
        self.rejects += 1;
        self.inner.reject(reject);
    }
}

/// Counts the raw bytes read, for a progress bar that other threads read.
struct Metered<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn open(input: &Input, progress: Arc<AtomicU64>) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = match input {
        Input::Path(p) => Box::new(File::open(p)?),
        Input::Stdin => Box::new(io::stdin()),
    };
    let mut buffered = BufReader::with_capacity(
        256 * 1024,
        Metered {
            inner: raw,
            read: progress,
        },
    );
    let magic = buffered.fill_buf()?;
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(buffered),
        ))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            zstd::stream::read::Decoder::with_buffer(buffered)?,
        ))
    } else {
        Box::new(buffered)
    })
}

/// Reads until `buf` holds at least `want` bytes or the input ends.
fn fill(r: &mut dyn BufRead, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    while buf.len() < want {
        let n = (&mut *r).take((want - buf.len()) as u64).read_to_end(buf)?;
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// Decodes one input into `sink`. `progress` is advanced by the raw bytes
/// read so a caller can show a progress bar. A failure to read at all is
/// reported in the `SourceReport`, not as a panic or a lost input.
pub fn decode_input(
    input: &Input,
    opts: &Options,
    sink: &mut dyn Sink,
    progress: Arc<AtomicU64>,
) -> SourceReport {
    let started = Instant::now();
    let source = input.name();
    let mut report = SourceReport {
        source: source.clone(),
        ..Default::default()
    };
    let mut counting = Counting {
        inner: sink,
        events: 0,
        rejects: 0,
    };
    let result = run(input, opts, &mut counting, progress, &mut report);
    report.events = counting.events;
    report.rejects = counting.rejects;
    report.elapsed = started.elapsed();
    if let Err(e) = result {
        report.not_a_log = matches!(e, InputError::UnknownFormat { .. });
        report.error = Some(e.to_string());
    }
    report
}

fn run(
    input: &Input,
    opts: &Options,
    sink: &mut dyn Sink,
    progress: Arc<AtomicU64>,
    report: &mut SourceReport,
) -> Result<(), InputError> {
    let source = report.source.clone();
    let read_failed = |offset: u64, error| InputError::Read {
        input: source.clone(),
        offset,
        error,
    };
    let mut reader = open(input, progress).map_err(|error| InputError::Open {
        input: source.clone(),
        error,
    })?;
    let mut buf = Vec::with_capacity(SAMPLE);
    fill(&mut *reader, &mut buf, SAMPLE).map_err(|e| read_failed(0, e))?;
    if buf.is_empty() {
        report.format = opts.format;
        return Ok(());
    }
    let format = match opts.format {
        Some(f) => f,
        None => detect(&buf)
            .map(|(f, _)| f)
            .ok_or_else(|| InputError::UnknownFormat {
                input: source.clone(),
            })?,
    };
    report.format = Some(format);
    let mut decoder = new_decoder(format);
    let mut skipping = false;
    let mut ctx = DecodeContext::new(source.as_str(), format);
    ctx.default_tz = opts.default_tz;
    ctx.default_year = opts.default_year;

    match decoder.framing() {
        Framing::Whole => {
            let room = MAX_WHOLE.saturating_sub(buf.len() as u64) + 1;
            (&mut *reader)
                .take(room)
                .read_to_end(&mut buf)
                .map_err(|e| read_failed(buf.len() as u64, e))?;
            if buf.len() as u64 > MAX_WHOLE {
                return Err(InputError::TooLarge {
                    input: source,
                    format,
                });
            }
            report.bytes = buf.len() as u64;
            decoder.decode(&buf, &ctx, sink);
        }
        Framing::Lines => loop {
            if skipping {
                // The rest of an over-long line, up to its newline.
                fill(&mut *reader, &mut buf, CHUNK)
                    .map_err(|e| read_failed(ctx.offset_base + buf.len() as u64, e))?;
                let at_end = buf.len() < CHUNK;
                let cut = match buf.iter().position(|&c| c == b'\n') {
                    Some(i) => {
                        skipping = false;
                        ctx.line_base += 1;
                        i + 1
                    }
                    None => buf.len(),
                };
                ctx.offset_base += cut as u64;
                report.bytes += cut as u64;
                buf.drain(..cut);
                if at_end && buf.is_empty() {
                    break;
                }
                continue;
            }
            let before = buf.len();
            let want = if before >= CHUNK {
                before + CHUNK
            } else {
                CHUNK
            };
            fill(&mut *reader, &mut buf, want)
                .map_err(|e| read_failed(ctx.offset_base + buf.len() as u64, e))?;
            let at_end = buf.len() < want;
            // Decode up to the last newline; carry the partial line over.
            let cut = if at_end {
                buf.len()
            } else {
                match memchr_last_newline(&buf) {
                    Some(i) => i + 1,
                    None if buf.len() > MAX_LINE => {
                        sink.reject(Reject::new(
                            &ctx,
                            Location {
                                line: Some(ctx.line_base + 1),
                                offset: Some(ctx.offset_base),
                                record: None,
                            },
                            format!(
                                "line longer than {} MiB; skipped to its end",
                                MAX_LINE >> 20
                            ),
                        ));
                        ctx.offset_base += buf.len() as u64;
                        report.bytes += buf.len() as u64;
                        buf.clear();
                        skipping = true;
                        continue;
                    }
                    None => continue, // one line longer than a chunk: read more
                }
            };
            if cut > 0 {
                decoder.decode(&buf[..cut], &ctx, sink);
                ctx.line_base += count_newlines(&buf[..cut]);
                ctx.offset_base += cut as u64;
                report.bytes += cut as u64;
                buf.drain(..cut);
            }
            if at_end {
                break;
            }
        },
    }
    decoder.finish(&ctx, sink);
    Ok(())
}

fn memchr_last_newline(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&c| c == b'\n')
}

fn count_newlines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

/// Convenience for tests and tools: decodes a file with auto-detection into
/// a `VecSink`.
pub fn decode_path(path: &Path, opts: &Options) -> (taishi_event::VecSink, SourceReport) {
    let mut sink = taishi_event::VecSink::default();
    let report = decode_input(
        &Input::Path(path.to_path_buf()),
        opts,
        &mut sink,
        Arc::new(AtomicU64::new(0)),
    );
    (sink, report)
}

/// Why [`events_of`] has no events to give.
#[derive(Debug, thiserror::Error)]
pub enum NoEvents {
    /// The file could not be read (the message of [`InputError`]).
    #[error("{0}")]
    Unreadable(String),
    /// Every record was rejected; the first one says why.
    #[error("{0}")]
    Rejected(Box<Reject>),
}

/// Reads a whole file into events with its format detected (tools and
/// tests): an error when it cannot be read or when all of it was rejected.
pub fn events_of(path: &Path) -> Result<Vec<Event>, NoEvents> {
    let (sink, report) = decode_path(path, &Options::default());
    if let Some(e) = report.error {
        return Err(NoEvents::Unreadable(e));
    }
    if sink.events.is_empty() {
        if let Some(r) = sink.rejects.into_iter().next() {
            return Err(NoEvents::Rejected(Box::new(r)));
        }
    }
    Ok(sink.events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A gzip bomb of one endless line is skipped in pieces, never
    /// gathered whole; the line after it is still decoded.
    #[test]
    fn an_endless_compressed_line_is_rejected_and_skipped() {
        let member = gz(&vec![b'a'; 16 << 20]);
        let mut file = member.repeat(5); // 80 MiB of one line
        let tail: &[u8] = b"\n<13>1 2026-01-01T00:00:00Z host app - - - after the bomb\n";
        file.extend(gz(tail));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.log.gz");
        std::fs::write(&p, file).unwrap();
        let (sink, report) = decode_path(
            &p,
            &Options {
                format: Some(Format::Syslog),
                ..Options::default()
            },
        );
        assert!(report.error.is_none(), "{:?}", report.error);
        assert_eq!(
            sink.events.len(),
            1,
            "{:?}",
            sink.rejects.first().map(|r| &r.reason)
        );
        assert_eq!(sink.rejects.len(), 1);
        assert!(
            sink.rejects[0].reason.contains("longer than 64 MiB"),
            "{}",
            sink.rejects[0].reason
        );
        assert_eq!(report.bytes, (80 << 20) + tail.len() as u64);
    }
}
