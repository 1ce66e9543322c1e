//! (being written: this placeholder compiles so the workspace builds while the
//! real decoder is written; it rejects every input with a clear reason.)

use taishi_event::{Confidence, DecodeContext, Decoder, Format, Location, Reject, Sink};

/// How sure we are that `sample` (the first 64 KiB of an input) is this format.
pub fn probe(_sample: &[u8]) -> Confidence {
    0
}

#[derive(Debug, Default)]
pub struct JsonDecoder;

impl JsonDecoder {
    pub fn new() -> Self {
        JsonDecoder
    }
}

impl Decoder for JsonDecoder {
    fn format(&self) -> Format {
        Format::Json
    }

    fn decode(&mut self, _data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        sink.reject(Reject::new(
            ctx,
            Location::offset(ctx.offset_base),
            "this decoder is not built yet",
        ));
    }
}
