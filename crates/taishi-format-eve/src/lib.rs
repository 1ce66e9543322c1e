//! Suricata EVE JSON: one JSON object per line, every `event_type`.
//!
//! Suricata's own fields are kept, flattened to dotted names (`src_ip`,
//! `alert.signature_id`, `dns.rrname`, `tls.ja3.hash`; arrays stay arrays),
//! and ECS fields are added beside them (see [`ecs`]). Event types without a
//! specific mapping (modbus, enip, quic, …) are kept the same way with the
//! common network ECS fields, never rejected.
//!
//! Where an ECS name is also a Suricata name with a different form
//! (`tls.version` "TLS 1.2" vs ECS "1.2", `dns.answers` with `rrname`/`rdata`
//! vs ECS `name`/`data`, Suricata 8's `dns.type` "request"/"response" vs ECS
//! "query"/"answer"), the ECS form takes the name and Suricata's original
//! moves to `suricata.eve.<name>`, so nothing is lost.
//!
//! A line that is not a JSON object, or whose `timestamp` cannot be read, is
//! rejected with its line number; the rest of the input is still decoded.

mod ecs;

use taishi_event::{
    for_each_line, time, Confidence, DecodeContext, Decoder, Event, Format, Location, Reject, Sink,
    Value,
};

pub use taishi_event::json::flatten_object;

/// How sure we are that `sample` (the first 64 KiB of an input) is EVE: ~90
/// when the first line is a JSON object with `event_type` and `timestamp`.
pub fn probe(sample: &[u8]) -> Confidence {
    let sample = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    let Some(line) = sample
        .split(|b| *b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
    else {
        return 0;
    };
    let line = line.trim_ascii();
    if !line.starts_with(b"{") {
        return 0;
    }
    let mut ev = Event::new();
    let parsed = flatten_object(line, &mut ev);
    let has_keys = match parsed {
        Ok(()) => ev.contains("event_type") && ev.contains("timestamp"),
        // The first line may be cut by the end of the sample (large stats
        // records): fall back to looking for the two keys in its text.
        Err(e) if e.is_eof() => {
            let has = |k: &[u8]| memchr::memmem::find(line, k).is_some();
            has(b"\"event_type\"") && has(b"\"timestamp\"")
        }
        Err(_) => false,
    };
    if has_keys {
        90
    } else {
        0
    }
}

/// Decodes one EVE line (without its newline). `loc` names the line in its
/// source for a reject. This is the entry point for streaming inputs.
// A reject is the rare path and is handed on by value to a sink anyway;
// boxing it would only add an allocation.
#[allow(clippy::result_large_err)]
pub fn decode_line(line: &[u8], ctx: &DecodeContext, loc: Location) -> Result<Event, Reject> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let mut ev = Event::with_capacity(48);
    if let Err(e) = flatten_object(line, &mut ev) {
        return Err(Reject::new(ctx, loc, format!("not a JSON object: {e}")).raw(line));
    }
    match ev.get("timestamp") {
        None | Some(Value::Null) => {}
        Some(Value::Str(s)) => match time::parse_iso_in(s, ctx.default_tz) {
            Some(t) => ev.timestamp = Some(t),
            None => {
                return Err(Reject::new(ctx, loc, format!("unreadable timestamp `{s}`"))
                    .field("timestamp")
                    .raw(line))
            }
        },
        Some(_) => {
            return Err(Reject::new(ctx, loc, "timestamp is not a string")
                .field("timestamp")
                .raw(line))
        }
    }
    ecs::map(&mut ev);
    Ok(ev)
}

/// The EVE decoder. It keeps no state between lines: every line is a whole
/// record.
#[derive(Debug, Default)]
pub struct EveDecoder;

impl EveDecoder {
    pub fn new() -> Self {
        EveDecoder
    }
}

impl Decoder for EveDecoder {
    fn format(&self) -> Format {
        Format::Eve
    }

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        for_each_line(data, ctx, |line, loc| match decode_line(line, ctx, loc) {
            Ok(ev) => sink.event(ev),
            Err(r) => sink.reject(r),
        });
    }
}
