//! Windows EVTX decoder. Records are parsed by the `evtx` crate, rendered to
//! its evtx-style JSON and mapped by [`taishi_format_json::windows`], so an
//! `.evtx` file and its JSON dump give identical events.
//!
//! Chunks are walked here rather than through `EvtxParser`'s iterator so that
//! every damaged chunk is reported with its number and byte offset and the
//! chunks after it are still read.

use std::sync::Arc;

use evtx::{EvtxChunkData, EvtxChunkHeader, EvtxFileHeader, ParserSettings};
use taishi_event::{Confidence, DecodeContext, Decoder, Format, Framing, Location, Reject, Sink};
use taishi_format_json::windows_event;

const MAGIC: &[u8; 8] = b"ElfFile\0";
const CHUNK_MAGIC: &[u8; 8] = b"ElfChnk\0";
const FILE_HEADER_SIZE: usize = 4096;
const CHUNK_SIZE: usize = 65536;
const CHUNK_HEADER_SIZE: usize = 512;

/// How sure we are that `sample` (the first 64 KiB of an input) is EVTX: its
/// file magic. A file header whose magic is gone but whose first chunk
/// is intact (a carved log) is still recognised.
pub fn probe(sample: &[u8]) -> Confidence {
    if sample.starts_with(MAGIC) {
        100
    } else if sample
        .get(FILE_HEADER_SIZE..FILE_HEADER_SIZE + CHUNK_MAGIC.len())
        .is_some_and(|m| m == CHUNK_MAGIC)
    {
        80
    } else {
        0
    }
}

#[derive(Debug)]
pub struct EvtxDecoder {
    settings: Arc<ParserSettings>,
}

impl Default for EvtxDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl EvtxDecoder {
    pub fn new() -> Self {
        let settings = ParserSettings::new()
            .num_threads(1)
            .indent(false)
            .separate_json_attributes(false)
            // A chunk whose checksum is off may still hold readable records;
            // records that do not parse are rejected one by one.
            .validate_checksums(false);
        EvtxDecoder {
            settings: Arc::new(settings),
        }
    }
}

/// An error with its causes, outermost first: the `evtx` crate's top-level
/// messages ("Failed to parse chunk number 9") say little on their own.
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    let mut depth = 0;
    while let Some(c) = cur {
        let msg = c.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = c.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    s
}

/// Chunk numbers in record order: from the chunk holding the oldest records
/// to the end, then from the start (a full log wraps around and overwrites
/// its oldest chunk).
fn chunk_order(data: &[u8], count: usize) -> Vec<usize> {
    let mut oldest = (u64::MAX, 0usize);
    for n in 0..count {
        let start = FILE_HEADER_SIZE + n * CHUNK_SIZE;
        let Some(header) = data.get(start..start + CHUNK_HEADER_SIZE) else {
            break;
        };
        if let Ok(h) = EvtxChunkHeader::from_bytes(header) {
            if h.first_event_record_id <= h.last_event_record_id
                && h.first_event_record_id < oldest.0
            {
                oldest = (h.first_event_record_id, n);
            }
        }
    }
    (oldest.1..count).chain(0..oldest.1).collect()
}

impl Decoder for EvtxDecoder {
    fn format(&self) -> Format {
        Format::Evtx
    }

    fn framing(&self) -> Framing {
        Framing::Whole
    }

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        let base = ctx.offset_base;
        let header_ok = data.starts_with(MAGIC);
        if !header_ok {
            // Without the magic there may still be chunks (a carved file);
            // say so, then try them.
            sink.reject(
                Reject::new(
                    ctx,
                    Location::offset(base),
                    "not an EVTX file header (no `ElfFile` magic); reading chunks anyway",
                )
                .raw(data.get(..64).unwrap_or(data)),
            );
        } else if let Err(e) = EvtxFileHeader::from_bytes(data) {
            sink.reject(
                Reject::new(
                    ctx,
                    Location::offset(base),
                    format!(
                        "damaged EVTX file header: {}; reading chunks anyway",
                        describe(&e)
                    ),
                )
                .raw(data.get(..128).unwrap_or(data)),
            );
        }
        if data.len() < FILE_HEADER_SIZE {
            sink.reject(Reject::new(
                ctx,
                Location::offset(base),
                format!(
                    "truncated EVTX file: {} bytes, shorter than its {FILE_HEADER_SIZE}-byte header",
                    data.len()
                ),
            ));
            return;
        }
        let body = data.len() - FILE_HEADER_SIZE;
        let count = body / CHUNK_SIZE;
        // A run of chunks without their magic (garbage or overwritten space
        // after the last real chunk, as in a log copied while in use) is one
        // reject, not one per 64 KiB.
        let mut bad_run: Option<(usize, usize)> = None;
        let flush = |run: &mut Option<(usize, usize)>, sink: &mut dyn Sink| {
            if let Some((first, last)) = run.take() {
                let start = FILE_HEADER_SIZE + first * CHUNK_SIZE;
                let end = FILE_HEADER_SIZE + (last + 1) * CHUNK_SIZE;
                let what = if first == last {
                    format!("chunk {first}")
                } else {
                    format!("chunks {first}-{last}")
                };
                let magic = data.get(start..start + 8).unwrap_or_default();
                sink.reject(
                    Reject::new(
                        ctx,
                        Location::offset(ctx.offset_base + start as u64),
                        format!(
                            "{what} (bytes {start}-{}): damaged, no `ElfChnk` magic (found {magic:02x?}); {} bytes skipped",
                            end - 1,
                            end - start
                        ),
                    )
                    .raw(data.get(start..start + CHUNK_HEADER_SIZE).unwrap_or_default()),
                );
            }
        };
        for n in chunk_order(data, count) {
            if self.decode_chunk(data, n, ctx, sink) == Chunk::NoMagic {
                bad_run = match bad_run {
                    Some((first, last)) if last + 1 == n => Some((first, n)),
                    other => {
                        let mut other = other;
                        flush(&mut other, sink);
                        Some((n, n))
                    }
                };
            } else {
                flush(&mut bad_run, sink);
            }
        }
        flush(&mut bad_run, sink);
        let tail = body % CHUNK_SIZE;
        if tail > 0 {
            let start = FILE_HEADER_SIZE + count * CHUNK_SIZE;
            let rest = data.get(start..).unwrap_or_default();
            if rest.iter().any(|b| *b != 0) {
                sink.reject(Reject::new(
                    ctx,
                    Location::offset(base + start as u64),
                    format!("chunk {count}: truncated, {tail} of {CHUNK_SIZE} bytes present"),
                ));
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Chunk {
    Read,
    Empty,
    NoMagic,
}

impl EvtxDecoder {
    fn decode_chunk(
        &self,
        data: &[u8],
        n: usize,
        ctx: &DecodeContext,
        sink: &mut dyn Sink,
    ) -> Chunk {
        let start = FILE_HEADER_SIZE + n * CHUNK_SIZE;
        let Some(bytes) = data.get(start..start + CHUNK_SIZE) else {
            return Chunk::Empty;
        };
        let chunk_offset = ctx.offset_base + start as u64;
        let chunk_reject = |reason: String| {
            Reject::new(
                ctx,
                Location::offset(chunk_offset),
                format!("chunk {n}: {reason}"),
            )
            .raw(bytes.get(..CHUNK_HEADER_SIZE).unwrap_or(bytes))
        };
        // Unused chunks of a pre-allocated log are zero-filled.
        if bytes.iter().all(|b| *b == 0) {
            return Chunk::Empty;
        }
        if !bytes.starts_with(CHUNK_MAGIC) {
            return Chunk::NoMagic;
        }
        let mut chunk_data = match EvtxChunkData::new(bytes.to_vec(), false) {
            Ok(c) => c,
            Err(e) => {
                sink.reject(chunk_reject(format!(
                    "damaged chunk header: {}",
                    describe(&e)
                )));
                return Chunk::Read;
            }
        };
        chunk_data.number = Some(n as u64);
        let checksum_ok = chunk_data.validate_checksum();
        let mut chunk = match chunk_data.parse(self.settings.clone()) {
            Ok(c) => c,
            Err(e) => {
                sink.reject(chunk_reject(format!("damaged chunk: {}", describe(&e))));
                return Chunk::Read;
            }
        };
        for record in chunk.iter() {
            match record {
                Ok(record) => {
                    let id = record.event_record_id;
                    // The record header (24 bytes) precedes its BinXML.
                    let rec_offset = chunk_offset + record.binxml_offset.saturating_sub(24);
                    let loc = Location {
                        line: None,
                        offset: Some(rec_offset),
                        record: Some(id),
                    };
                    let rendered = match record.into_json_bytes() {
                        Ok(r) => r,
                        Err(e) => {
                            sink.reject(Reject::new(
                                ctx,
                                loc,
                                format!(
                                    "chunk {n}: record {id} could not be rendered: {}",
                                    describe(&e)
                                ),
                            ));
                            continue;
                        }
                    };
                    let value = match serde_json::from_slice::<serde_json::Value>(&rendered.data) {
                        Ok(v) => v,
                        Err(e) => {
                            sink.reject(
                                Reject::new(
                                    ctx,
                                    loc,
                                    format!("chunk {n}: record {id} rendered to invalid JSON: {e}"),
                                )
                                .raw(&rendered.data),
                            );
                            continue;
                        }
                    };
                    match windows_event(&value) {
                        Some(ev) => sink.event(ev),
                        None => {
                            sink.reject(
                                Reject::new(
                                    ctx,
                                    loc,
                                    format!("chunk {n}: record {id} has no Event/System element"),
                                )
                                .raw(&rendered.data),
                            );
                        }
                    }
                }
                Err(e) => {
                    let mut loc = Location::offset(chunk_offset);
                    match &e {
                        evtx::err::EvtxError::FailedToReadRecordAt { offset, .. } => {
                            loc.offset = Some(chunk_offset + offset);
                        }
                        evtx::err::EvtxError::FailedToParseRecord { record_id, .. } => {
                            loc.record = Some(*record_id);
                        }
                        _ => {}
                    }
                    let checksum = if checksum_ok {
                        ""
                    } else {
                        " (the chunk's checksum does not match: it is damaged)"
                    };
                    sink.reject(Reject::new(
                        ctx,
                        loc,
                        format!("chunk {n}: damaged record: {}{checksum}", describe(&e)),
                    ));
                }
            }
        }
        Chunk::Read
    }
}
