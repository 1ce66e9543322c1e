//! JSON decoder: JSON lines, a top-level array of objects, and pretty-printed
//! documents back to back. Evtx-style (`{"Event": {"System": …}}`) and flat
//! Windows documents (winlogbeat, NXLog, OTRF/Mordor) are mapped to the
//! Windows layout ([`windows`]); any other object becomes a generic event
//! with nested objects flattened to dotted names.

pub mod documents;
pub mod generic;
pub mod windows;
mod windows_ecs;

use serde_json::Value as J;
use taishi_event::{
    Confidence, DecodeContext, Decoder, Event, Format, Framing, Location, Reject, Sink,
};

pub use documents::{parse_json_documents, Document, DocumentError, JsonDocuments};
pub use generic::generic_event;
pub use windows::{flat_windows_event, is_evtx_style, is_flat_windows, windows_event};

/// How sure we are that `sample` (the first 64 KiB of an input) is JSON:
/// ~90 for Windows JSON (evtx-style or flat), ~50 for other JSON objects so
/// that the EVE and Zeek decoders, whose probes know their fields, win on
/// their own JSON.
pub fn probe(sample: &[u8]) -> Confidence {
    let s = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    let Some(start) = s.iter().position(|b| !b.is_ascii_whitespace()) else {
        return 0;
    };
    let s = s.get(start..).unwrap_or_default();
    if !matches!(s.first(), Some(b'{') | Some(b'[')) {
        return 0;
    }
    let first = parse_json_documents(s).next();
    let value = match first {
        Some(Ok(d)) => d.value,
        // A first document longer than the sample is cut off: it may still
        // be JSON, so a weaker guess.
        Some(Err(e)) if e.reason.contains("EOF") => {
            return if looks_windows_text(s) { 85 } else { 40 };
        }
        _ => return 0,
    };
    match &value {
        J::Object(map) if is_evtx_style(&value) || is_flat_windows(map) => 90,
        J::Object(_) => 50,
        J::Array(a) if a.iter().all(J::is_object) => 50,
        _ => 10,
    }
}

fn looks_windows_text(s: &[u8]) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(s, needle).is_some();
    (has(b"\"Event\"") && has(b"\"System\"") && has(b"\"EventID\""))
        || (has(b"\"winlog\"") && has(b"\"event_id\""))
}

#[derive(Debug, Default)]
pub struct JsonDecoder;

impl JsonDecoder {
    pub fn new() -> Self {
        JsonDecoder
    }
}

/// Why a JSON document is not an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAnEvent {
    #[error("empty JSON object: nothing to decode")]
    Empty,
    #[error("evtx-style record without a usable System")]
    NoSystem,
    /// Names what was found instead ("an array", "a string" …).
    #[error("expected a JSON object, found {0}")]
    NotAnObject(&'static str),
}

/// One document to an event, or why not.
pub fn document_event(value: J, ctx: &DecodeContext) -> Result<Event, NotAnEvent> {
    match value {
        J::Object(map) => {
            if map.is_empty() {
                return Err(NotAnEvent::Empty);
            }
            if map
                .get("Event")
                .and_then(|e| e.get("System"))
                .is_some_and(J::is_object)
            {
                let v = J::Object(map);
                return windows_event(&v).ok_or(NotAnEvent::NoSystem);
            }
            if is_flat_windows(&map) {
                if let Some(ev) = flat_windows_event(&map, ctx.default_tz) {
                    return Ok(ev);
                }
            }
            Ok(generic_event(map, ctx.default_tz))
        }
        other => Err(NotAnEvent::NotAnObject(match other {
            J::Null => "null",
            J::Bool(_) => "a boolean",
            J::Number(_) => "a number",
            J::String(_) => "a string",
            J::Array(_) => "an array",
            J::Object(_) => "an object",
        })),
    }
}

impl Decoder for JsonDecoder {
    fn format(&self) -> Format {
        Format::Json
    }

    fn framing(&self) -> Framing {
        Framing::Whole
    }

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        let line_of = |l: u64| ctx.line_base + l.saturating_sub(1);
        for doc in parse_json_documents(data) {
            match doc {
                Ok(d) => {
                    let loc = Location::line(line_of(d.line), ctx.offset_base + d.offset as u64);
                    match document_event(d.value, ctx) {
                        Ok(ev) => sink.event(ev),
                        Err(reason) => {
                            let raw = data.get(d.offset..d.offset + d.len).unwrap_or_default();
                            sink.reject(Reject::new(ctx, loc, reason.to_string()).raw(raw));
                        }
                    }
                }
                Err(e) => {
                    let loc = Location::line(line_of(e.line), ctx.offset_base + e.offset as u64);
                    let raw = data.get(e.offset..e.offset + e.len).unwrap_or_default();
                    let reason = format!(
                        "malformed JSON document: {} (at line {} column {})",
                        e.reason,
                        line_of(e.error_line),
                        e.error_column
                    );
                    sink.reject(Reject::new(ctx, loc, reason).raw(raw));
                }
            }
        }
    }
}
