//! Shared driver for the fuzz targets: one per decoder, each feeding
//! arbitrary bytes through the decoder the way the input reader does.

use taishi_event::{DecodeContext, Event, Format, Framing, Reject, Sink};

struct Check;

impl Sink for Check {
    fn event(&mut self, event: Event) {
        // Serialising must not panic either: it is the next thing every
        // caller does with an event.
        let mut buf = Vec::new();
        event.write_json_line(&mut buf);
    }
    fn reject(&mut self, reject: Reject) {
        let _ = reject.to_string();
    }
}

pub fn run(format: Format, data: &[u8]) {
    let ctx = DecodeContext::new("fuzz", format);
    let mut dec = taishi_decode::new_decoder(format);
    if dec.framing() == Framing::Lines {
        // Split at a line boundary too, as the chunked reader does, so
        // state carried between calls is exercised.
        if let Some(nl) = data.iter().position(|&b| b == b'\n') {
            let (a, b) = data.split_at(nl + 1);
            dec.decode(a, &ctx, &mut Check);
            let mut ctx2 = ctx.clone();
            ctx2.line_base += 1;
            ctx2.offset_base += a.len() as u64;
            dec.decode(b, &ctx2, &mut Check);
            dec.finish(&ctx2, &mut Check);
            return;
        }
    }
    dec.decode(data, &ctx, &mut Check);
    dec.finish(&ctx, &mut Check);
    let _ = taishi_decode::detect(data);
}
