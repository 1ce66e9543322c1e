use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::FixedOffset;

use crate::event::Event;

/// Every telemetry format Taishi decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Evtx,
    Json,
    Syslog,
    Cef,
    Leef,
    Eve,
    Zeek,
    Auditd,
    Netflow,
    Access,
}

impl Format {
    pub const ALL: [Format; 10] = [
        Format::Evtx,
        Format::Json,
        Format::Syslog,
        Format::Cef,
        Format::Leef,
        Format::Eve,
        Format::Zeek,
        Format::Auditd,
        Format::Netflow,
        Format::Access,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Evtx => "evtx",
            Format::Json => "json",
            Format::Syslog => "syslog",
            Format::Cef => "cef",
            Format::Leef => "leef",
            Format::Eve => "eve",
            Format::Zeek => "zeek",
            Format::Auditd => "auditd",
            Format::Netflow => "netflow",
            Format::Access => "access",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown format `{s}`; expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// Where in its source a record sits. Line numbers are 1-based; byte offsets
/// count from the start of the (decompressed) source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location {
    pub line: Option<u64>,
    pub offset: Option<u64>,
    /// Record number within a binary container (EVTX record id, pcap packet).
    pub record: Option<u64>,
}

impl Location {
    pub fn line(line: u64, offset: u64) -> Self {
        Location {
            line: Some(line),
            offset: Some(offset),
            record: None,
        }
    }
    pub fn offset(offset: u64) -> Self {
        Location {
            offset: Some(offset),
            ..Default::default()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(l) = self.line {
            write!(f, "line {l}")?;
            sep = ", ";
        }
        if let Some(r) = self.record {
            write!(f, "{sep}record {r}")?;
            sep = ", ";
        }
        if let Some(o) = self.offset {
            write!(f, "{sep}byte {o}")?;
        }
        Ok(())
    }
}

/// A record that could not be decoded: kept aside with its reason, never
/// dropped silently.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub source: Arc<str>,
    pub format: Format,
    pub location: Location,
    /// The field that was bad, when the fault is in one field.
    pub field: Option<String>,
    pub reason: String,
    /// The offending bytes (at most [`Reject::MAX_RAW`]; where they are
    /// kept, a smaller cap may apply).
    pub raw: Vec<u8>,
    /// The length of the whole offending record, so a cut can be told.
    pub raw_len: usize,
}

impl Reject {
    pub fn new(ctx: &DecodeContext, location: Location, reason: impl Into<String>) -> Self {
        Reject {
            source: ctx.source.clone(),
            format: ctx.format,
            location,
            field: None,
            reason: reason.into(),
            raw: Vec::new(),
            raw_len: 0,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The most of one record a reject carries: enough to see what went
    /// wrong with a large document; the reject log cuts further to its own
    /// configured cap.
    pub const MAX_RAW: usize = 1 << 20;

    /// Keeps at most [`Reject::MAX_RAW`] of the offending record, and its
    /// whole length.
    pub fn raw(mut self, raw: &[u8]) -> Self {
        self.raw = raw[..raw.len().min(Self::MAX_RAW)].to_vec();
        self.raw_len = raw.len();
        self
    }

    /// Whether `raw` holds less than the whole record.
    pub fn is_cut(&self) -> bool {
        self.raw_len > self.raw.len()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "source": &*self.source,
            "format": self.format.name(),
            "line": self.location.line,
            "offset": self.location.offset,
            "record": self.location.record,
            "field": self.field,
            "reason": self.reason,
            "raw": String::from_utf8_lossy(&self.raw),
            "raw_bytes": self.raw_len.max(self.raw.len()),
            "truncated": self.is_cut(),
        })
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.location)?;
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {} ({})", self.reason, self.format)
    }
}

/// Receives what a decoder produces.
pub trait Sink {
    fn event(&mut self, event: Event);
    fn reject(&mut self, reject: Reject);
}

/// A sink that keeps everything: for tests and small inputs.
#[derive(Debug, Default)]
pub struct VecSink {
    pub events: Vec<Event>,
    pub rejects: Vec<Reject>,
}

impl Sink for VecSink {
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
    fn reject(&mut self, reject: Reject) {
        self.rejects.push(reject);
    }
}

/// What a decoder knows about the input it is reading.
#[derive(Debug, Clone)]
pub struct DecodeContext {
    /// Source name for errors: a path, `-`, or a listener address.
    pub source: Arc<str>,
    pub format: Format,
    /// Zone for timestamps that carry none (RFC 3164, some Zeek TSV).
    pub default_tz: FixedOffset,
    /// Year for timestamps that carry none (RFC 3164); None means the
    /// current year at decode time.
    pub default_year: Option<i32>,
    /// Line number (1-based) of the first line in the data being decoded.
    pub line_base: u64,
    /// Byte offset of the data being decoded within its source.
    pub offset_base: u64,
}

impl DecodeContext {
    pub fn new(source: impl Into<Arc<str>>, format: Format) -> Self {
        DecodeContext {
            source: source.into(),
            format,
            default_tz: FixedOffset::east_opt(0).expect("UTC"),
            default_year: None,
            line_base: 1,
            offset_base: 0,
        }
    }
}

/// How a decoder wants its input cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Any run of whole lines; the reader may cut a large input at any line
    /// boundary and call `decode` once per piece.
    Lines,
    /// The whole input at once (binary containers, JSON documents that span
    /// lines).
    Whole,
}

/// A decoder for one format. Implementations may keep state across calls
/// (auditd records waiting for the rest of their event, a Zeek header,
/// NetFlow templates) and release it in `finish`.
pub trait Decoder: Send {
    fn format(&self) -> Format;

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    /// Decodes `data`; `ctx.line_base` and `ctx.offset_base` place it in
    /// its source so that rejects can name the line and offset.
    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink);

    /// Flushes whatever is still pending at the end of a source.
    fn finish(&mut self, _ctx: &DecodeContext, _sink: &mut dyn Sink) {}
}

/// Calls `f` for every line of `data` with its location, the line stripped
/// of its `\n` and any `\r`. Blank lines are skipped: no format gives them
/// meaning, and a reject for each would only be noise.
pub fn for_each_line(data: &[u8], ctx: &DecodeContext, mut f: impl FnMut(&[u8], Location)) {
    let mut line_no = ctx.line_base;
    let mut start = 0usize;
    let mut emit = |line: &[u8], start: usize, line_no: u64| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            f(
                line,
                Location::line(line_no, ctx.offset_base + start as u64),
            );
        }
    };
    for nl in memchr::memchr_iter(b'\n', data) {
        emit(&data[start..nl], start, line_no);
        start = nl + 1;
        line_no += 1;
    }
    if start < data.len() {
        emit(&data[start..], start, line_no);
    }
}

/// A decoder's guess of whether a sample of input is its format: 0 means
/// no, 100 means certain. Auto-detection asks every format and takes the
/// highest.
pub type Confidence = u8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_numbers_and_offsets() {
        let mut ctx = DecodeContext::new("t", Format::Syslog);
        ctx.line_base = 10;
        ctx.offset_base = 100;
        let mut seen = Vec::new();
        for_each_line(b"a\r\n\n  \nbb", &ctx, |l, loc| {
            seen.push((l.to_vec(), loc))
        });
        assert_eq!(
            seen,
            vec![
                (b"a".to_vec(), Location::line(10, 100)),
                (b"bb".to_vec(), Location::line(13, 107)),
            ]
        );
    }

    #[test]
    fn reject_names_source_location_and_field() {
        let ctx = DecodeContext::new("/var/log/x.log", Format::Cef);
        let r = Reject::new(&ctx, Location::line(3, 40), "bad severity").field("Severity");
        assert_eq!(
            r.to_string(),
            "/var/log/x.log: line 3, byte 40, field `Severity`: bad severity (cef)"
        );
    }
}
