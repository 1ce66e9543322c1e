//! (being written: this placeholder compiles so the workspace builds while the
//! real decoder is written; it rejects every input with a clear reason.)

use taishi_event::{Confidence, DecodeContext, Decoder, Format, Location, Reject, Sink};

/// How sure we are that `sample` (the first 64 KiB of an input) is this format.
pub fn probe_cef(_sample: &[u8]) -> Confidence {
    0
}

#[derive(Debug, Default)]
pub struct CefDecoder;

impl CefDecoder {
    pub fn new() -> Self {
        CefDecoder
    }
}

impl Decoder for CefDecoder {
    fn format(&self) -> Format {
        Format::Cef
    }

    fn decode(&mut self, _data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        sink.reject(Reject::new(
            ctx,
            Location::offset(ctx.offset_base),
            "this decoder is not built yet",
        ));
    }
}

pub fn probe_leef(_sample: &[u8]) -> Confidence {
    0
}

#[derive(Debug, Default)]
pub struct LeefDecoder;

impl LeefDecoder {
    pub fn new() -> Self {
        LeefDecoder
    }
}

impl Decoder for LeefDecoder {
    fn format(&self) -> Format {
        Format::Leef
    }

    fn decode(&mut self, _data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        sink.reject(Reject::new(
            ctx,
            Location::offset(ctx.offset_base),
            "this decoder is not built yet",
        ));
    }
}
