//! CEF and LEEF decoders, with or without a syslog header before `CEF:` /
//! `LEEF:` (read by the syslog decoder: its time, host and program become
//! `@timestamp`, `host.name`, `log.syslog.*`).
//!
//! # CEF fields
//!
//! Header: `cef.version`, `cef.device.vendor`, `cef.device.product`,
//! `cef.device.version`, `cef.device.event_class_id`, `cef.name`,
//! `cef.severity` (as written), and in ECS `observer.vendor`/`product`/
//! `version`, `event.code` and `rule.id` (Signature ID), `rule.name` (Name),
//! `event.severity` (0–10; Low = 3, Medium = 6, High = 8, Very-High = 10;
//! absent for `Unknown`).
//!
//! Extension keys are kept **as written, at the top level** (`src`, `act`,
//! `cs1`, `cs1Label`, `deviceCustomDate2`…), unescaped, the way ArcSight
//! users know them; a custom field with a label (`csN`, `cnN`, `cfpN`,
//! `c6aN`, `flexStringN`, `deviceCustomDateN`…) is also under its label
//! (`Matched Category`). ECS mapping: `src`/`dst` → `source.ip`/
//! `destination.ip` (`c6a2`/`c6a3` when those are absent), `spt`/`dpt` →
//! ports, `proto` → `network.transport`, `app` → `network.protocol`,
//! `in`/`out` → `source.bytes`/`destination.bytes`, `shost`/`dhost` →
//! `source.domain`/`destination.domain`, `suser`/`duser` → `source.user.name`
//! / `destination.user.name` (and `user.name`), translated addresses →
//! `*.nat.*`, `act` → `event.action`, `request` → `url.original`,
//! `requestMethod` → `http.request.method`, `requestClientApplication` →
//! `user_agent.original`, `fname`/`filePath`/`fsize`/`fileHash` → `file.*`,
//! `dvc`/`dvchost`/`deviceExternalId` → `observer.*`, `deviceDirection` →
//! `network.direction`, `msg` → `message` (else the Name), `rt` →
//! `@timestamp`, `start`/`end` → `event.start`/`event.end` (epoch ms or
//! `MMM dd yyyy HH:mm:ss[.SSS][ zone]`).
//!
//! # LEEF fields
//!
//! Header: `leef.version`, `leef.vendor`, `leef.product`,
//! `leef.product_version`, `leef.event_id`, `leef.delimiter` (2.0), and
//! `observer.*`, `event.code`. Attributes are kept as written at the top
//! level and mapped: `src`/`dst`/`srcPort`/`dstPort`, NAT and MAC fields,
//! byte and packet counts, `proto`, `usrName`/`accountName` → `user.name`,
//! `domain`, `identHostName`, `identSrc`, `sev` → `event.severity`, `url`,
//! `devTime` (with `devTimeFormat`, a Java date pattern) → `@timestamp`.

mod cef;
mod common;
mod leef;

pub use cef::{escape_header, escape_value, split_extension, unescape_value};
pub use common::java_to_chrono;
pub use leef::delimiter as leef_delimiter;

use taishi_event::{
    for_each_line, Confidence, DecodeContext, Decoder, Format, Location, Reject, Sink,
};

/// Parses one CEF line (a datagram or a file line).
// `Reject` is the workspace's error type; rejects are the rare path.
#[allow(clippy::result_large_err)]
pub fn parse_cef_line(
    line: &[u8],
    ctx: &DecodeContext,
    loc: Location,
) -> Result<taishi_event::Event, Reject> {
    cef::parse_line(line, ctx, loc)
}

/// Parses one LEEF line (a datagram or a file line).
#[allow(clippy::result_large_err)]
pub fn parse_leef_line(
    line: &[u8],
    ctx: &DecodeContext,
    loc: Location,
) -> Result<taishi_event::Event, Reject> {
    leef::parse_line(line, ctx, loc)
}

fn probe_marker(sample: &[u8], marker: &str) -> Confidence {
    let (mut hit, mut total) = (0, 0);
    for line in sample
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(20)
    {
        total += 1;
        let text = String::from_utf8_lossy(line);
        if let Some(at) = common::find_marker(&text, marker) {
            if text[at..].matches('|').count() >= 5 {
                hit += 1;
            }
        }
    }
    if total == 0 || hit == 0 {
        0
    } else if hit * 2 >= total {
        95
    } else {
        60
    }
}

/// How sure we are that `sample` is CEF: lines holding `CEF:<n>|` with its
/// header pipes, after an optional syslog header.
pub fn probe_cef(sample: &[u8]) -> Confidence {
    probe_marker(sample, "CEF:")
}

/// How sure we are that `sample` is LEEF.
pub fn probe_leef(sample: &[u8]) -> Confidence {
    probe_marker(sample, "LEEF:")
}

/// Decodes CEF, one record per line.
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

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        for_each_line(data, ctx, |line, loc| {
            match cef::parse_line(line, ctx, loc) {
                Ok(ev) => sink.event(ev),
                Err(r) => sink.reject(r),
            }
        });
    }
}

/// Decodes LEEF 1.0 and 2.0, one record per line.
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

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        for_each_line(data, ctx, |line, loc| {
            match leef::parse_line(line, ctx, loc) {
                Ok(ev) => sink.event(ev),
                Err(r) => sink.reject(r),
            }
        });
    }
}
