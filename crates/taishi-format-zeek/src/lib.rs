//! Zeek logs: the ASCII/TSV writer's output with its `#` header, and Zeek
//! JSON (one object per line), mixed freely in one input.
//!
//! # TSV
//!
//! The header (`#separator`, `#set_separator`, `#empty_field`,
//! `#unset_field`, `#path`, `#fields`, `#types`, `#open`, `#close`) is state
//! kept in the decoder across calls; a `#separator` line starts a new log, so
//! concatenated logs decode each with its own header. Values are typed by
//! `#types`:
//!
//! | Zeek type | value |
//! |---|---|
//! | `time` | RFC 3339 text with microseconds, `…Z` (as Zeek's own JSON writes it); `ts` also gives `@timestamp` |
//! | `interval`, `double` | float (seconds for an interval) |
//! | `count`, `int`, `port` | integer |
//! | `bool` | `T`/`F` → boolean |
//! | `addr`, `subnet`, `string`, `enum`, others | text, `\xNN` and `\\` escapes decoded |
//! | `set[…]`, `vector[…]` | array of the element type; `(empty)` → `[]` |
//!
//! The unset field (`-`) leaves the field out; the empty field (`(empty)`)
//! is an empty string or an empty array. An epoch `time` is UTC; an ISO
//! `time` without a zone is read in `ctx.default_tz`. A string whose escapes
//! decode to bytes that are not UTF-8 keeps its escaped text, so nothing is
//! lost.
//!
//! A line starting with `###` (the BTest baseline banner) is a comment.
//! BTest baselines replace times with `XXXXXXXXXX.XXXXXX`: such a
//! placeholder is kept as its raw text and the event has no `@timestamp`;
//! the record is not dropped. Any other value that does not read as its
//! declared type rejects the record, naming the field; a record with the
//! wrong number of columns is rejected with its line.
//!
//! # JSON
//!
//! One object per line with Zeek's field names (nested objects are flattened
//! to dotted names); `ts` is ISO 8601 or epoch seconds. The log type comes
//! from `_path`, else from the file name (`conn.log`, `dns.json`,
//! `http.00:00:00-01:00:00.log`), else from the fields present.
//!
//! ECS fields are added per log type; see the `ecs` module.

// A reject is the rare path and is handed on by value to a sink anyway;
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod ecs;

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use taishi_event::{
    for_each_line, time, Confidence, DecodeContext, Decoder, Event, Format, Location, Reject, Sink,
    Str, Value,
};

pub use taishi_event::json::flatten_object;

/// How sure we are that `sample` (the first 64 KiB of an input) is Zeek:
/// ~95 for a TSV `#separator` header, ~90 for a JSON object with `_path` or
/// `id.orig_h`.
pub fn probe(sample: &[u8]) -> Confidence {
    let sample = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    let mut lines = sample
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .filter(|l| !l.starts_with(b"###"));
    let Some(first) = lines.next() else {
        return 0;
    };
    if first.starts_with(b"#separator ") || first.starts_with(b"#separator\t") {
        return 95;
    }
    if first.starts_with(b"#fields\t") || first.starts_with(b"#path\t") {
        return 85;
    }
    let first = first.trim_ascii();
    if first.starts_with(b"{") {
        let mut ev = Event::new();
        let keys = match flatten_object(first, &mut ev) {
            Ok(()) => ev.contains("_path") || ev.contains("id.orig_h"),
            Err(e) if e.is_eof() => {
                let has = |k: &[u8]| memchr::memmem::find(first, k).is_some();
                has(b"\"_path\"") || has(b"\"id.orig_h\"")
            }
            Err(_) => false,
        };
        // Suricata EVE also has flows, but never these keys.
        if keys && !ev.contains("event_type") {
            return 90;
        }
    }
    0
}

/// The scalar types of Zeek's ASCII writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Time,
    Interval,
    Count,
    Int,
    Double,
    Bool,
    Port,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ZType {
    scalar: Scalar,
    /// `set[…]`, `vector[…]`, `table[…]`: an array of `scalar`.
    container: bool,
}

impl ZType {
    fn parse(s: &str) -> ZType {
        let (container, inner) = match s.split_once('[') {
            Some(("set" | "vector" | "table", rest)) => {
                (true, rest.strip_suffix(']').unwrap_or(rest))
            }
            _ => (false, s),
        };
        let scalar = match inner {
            "time" => Scalar::Time,
            "interval" => Scalar::Interval,
            "count" | "counter" => Scalar::Count,
            "int" => Scalar::Int,
            "double" => Scalar::Double,
            "bool" => Scalar::Bool,
            "port" => Scalar::Port,
            _ => Scalar::Text,
        };
        ZType { scalar, container }
    }
}

/// One log's header. The defaults are Zeek's, so that a log whose header
/// starts at `#fields` still reads.
#[derive(Debug, Clone)]
struct Header {
    separator: Vec<u8>,
    set_separator: Vec<u8>,
    empty_field: Vec<u8>,
    unset_field: Vec<u8>,
    path: Option<Str>,
    fields: Vec<Str>,
    types: Vec<ZType>,
    /// Whether the data lines' `ts` column is a `time` (gives `@timestamp`).
    ts_col: Option<usize>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            separator: b"\t".to_vec(),
            set_separator: b",".to_vec(),
            empty_field: b"(empty)".to_vec(),
            unset_field: b"-".to_vec(),
            path: None,
            fields: Vec::new(),
            types: Vec::new(),
            ts_col: None,
        }
    }
}

impl Header {
    fn type_of(&self, i: usize) -> ZType {
        self.types.get(i).copied().unwrap_or_else(|| {
            // Without `#types`, `ts` is still Zeek's time and the rest text.
            let scalar = if self.fields.get(i).is_some_and(|f| f == "ts") {
                Scalar::Time
            } else {
                Scalar::Text
            };
            ZType {
                scalar,
                container: false,
            }
        })
    }

    fn update_ts_col(&mut self) {
        self.ts_col = self.fields.iter().position(|f| f == "ts").filter(|&i| {
            let t = self.type_of(i);
            t.scalar == Scalar::Time && !t.container
        });
    }
}

/// The Zeek decoder: keeps the current TSV header across calls.
#[derive(Debug, Default)]
pub struct ZeekDecoder {
    header: Header,
    /// The log type guessed from the source's file name, for inputs that do
    /// not say it (`#path` absent, JSON without `_path`).
    path_hint: Option<(std::sync::Arc<str>, Option<Str>)>,
}

impl ZeekDecoder {
    pub fn new() -> Self {
        ZeekDecoder::default()
    }

    /// Decodes one line (without its newline): Ok(None) for a header or
    /// comment line, Ok(Some) for a record. This is the entry point for
    /// streaming inputs; header lines must be fed in order like the rest.
    pub fn decode_line(
        &mut self,
        line: &[u8],
        ctx: &DecodeContext,
        loc: Location,
    ) -> Result<Option<Event>, Reject> {
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        if line.first() == Some(&b'#') {
            return self.header_line(line, ctx, loc).map(|()| None);
        }
        if line.trim_ascii_start().first() == Some(&b'{') && !self.is_tsv_record(line) {
            let hint = self.hint(ctx);
            return decode_json_line(line, ctx, loc, hint.as_deref()).map(Some);
        }
        self.tsv_record(line, ctx, loc).map(Some)
    }

    /// Whether a line starting with `{` is a record of the TSV log in force
    /// (its first column starts with a brace) rather than Zeek JSON: it is
    /// when it has the header's number of columns.
    fn is_tsv_record(&self, line: &[u8]) -> bool {
        let n = self.header.fields.len();
        n > 1 && split(line, &self.header.separator).count() == n
    }

    fn hint(&mut self, ctx: &DecodeContext) -> Option<Str> {
        match &self.path_hint {
            Some((src, hint)) if *src == ctx.source => hint.clone(),
            _ => {
                let hint = path_from_source(&ctx.source);
                self.path_hint = Some((ctx.source.clone(), hint.clone()));
                hint
            }
        }
    }

    fn header_line(
        &mut self,
        line: &[u8],
        ctx: &DecodeContext,
        loc: Location,
    ) -> Result<(), Reject> {
        if line.starts_with(b"###") {
            return Ok(());
        }
        let body = &line[1..];
        // `#separator` is followed by a space: the separator is not known yet.
        if let Some(rest) = body
            .strip_prefix(b"separator ")
            .or_else(|| body.strip_prefix(b"separator\t"))
        {
            let sep = unescape_bytes(rest.trim_ascii());
            if sep.is_empty() {
                return Err(Reject::new(ctx, loc, "empty `#separator`")
                    .field("#separator")
                    .raw(line));
            }
            self.header = Header {
                separator: sep,
                ..Header::default()
            };
            return Ok(());
        }
        // Other directives are `#key<sep>value`; BTest canonifies `#open`
        // and `#close` with a space instead.
        let sep = self.header.separator.clone();
        let (key, value) = match find(body, &sep) {
            Some(i) => (&body[..i], &body[i + sep.len()..]),
            None => match body.iter().position(|b| *b == b' ') {
                Some(i) => (&body[..i], &body[i + 1..]),
                None => (body, &b""[..]),
            },
        };
        match key {
            b"set_separator" => self.header.set_separator = unescape_bytes(value),
            b"empty_field" => self.header.empty_field = unescape_bytes(value),
            b"unset_field" => self.header.unset_field = unescape_bytes(value),
            b"path" => self.header.path = Some(Str::from(text(value).as_ref())),
            b"fields" => {
                let fields: Vec<Str> = split(value, &sep)
                    .map(|f| Str::from(text(f).as_ref()))
                    .collect();
                if fields.iter().any(Str::is_empty) {
                    return Err(Reject::new(ctx, loc, "`#fields` has an empty name")
                        .field("#fields")
                        .raw(line));
                }
                self.header.fields = fields;
                // Types belong to the fields they follow.
                self.header.types.clear();
                self.header.update_ts_col();
            }
            b"types" => {
                let types: Vec<ZType> =
                    split(value, &sep).map(|t| ZType::parse(&text(t))).collect();
                let n = self.header.fields.len();
                let bad = n != 0 && types.len() != n;
                self.header.types = types;
                self.header.update_ts_col();
                if bad {
                    return Err(Reject::new(
                        ctx,
                        loc,
                        format!(
                            "`#types` has {} entries for {} `#fields`; the missing ones are read as text",
                            self.header.types.len(),
                            n
                        ),
                    )
                    .field("#types")
                    .raw(line));
                }
            }
            // `#open`, `#close` and unknown directives carry nothing a record
            // needs.
            _ => {}
        }
        Ok(())
    }

    fn tsv_record(
        &mut self,
        line: &[u8],
        ctx: &DecodeContext,
        loc: Location,
    ) -> Result<Event, Reject> {
        let h = &self.header;
        if h.fields.is_empty() {
            return Err(Reject::new(ctx, loc, "data line before any `#fields` header").raw(line));
        }
        let cols = split(line, &h.separator).count();
        if cols != h.fields.len() {
            return Err(Reject::new(
                ctx,
                loc,
                format!(
                    "expected {} columns (per `#fields`), found {cols}",
                    h.fields.len()
                ),
            )
            .raw(line));
        }
        let mut ev = Event::with_capacity(h.fields.len() + 24);
        for (i, raw) in split(line, &h.separator).enumerate() {
            let Some(name) = h.fields.get(i) else { break };
            if raw == h.unset_field.as_slice() {
                continue;
            }
            let ty = h.type_of(i);
            let value = if raw == h.empty_field.as_slice() {
                if ty.container {
                    Value::Array(Vec::new())
                } else if ty.scalar == Scalar::Text {
                    Value::Str(Str::default())
                } else {
                    continue;
                }
            } else if ty.container {
                let mut items = Vec::new();
                for el in split(raw, &h.set_separator) {
                    if el == h.unset_field.as_slice() {
                        items.push(Value::Null);
                        continue;
                    }
                    match scalar(el, ty.scalar, ctx.default_tz) {
                        Ok(v) => items.push(v),
                        Err(why) => return Err(field_reject(ctx, loc, name, el, why, line)),
                    }
                }
                Value::Array(items)
            } else if Some(i) == h.ts_col {
                // `ts` gives @timestamp: read it once for both.
                match parse_time(raw, ctx.default_tz) {
                    Some(t) => {
                        ev.timestamp = Some(t);
                        Value::Str(Str::from(zeek_time(&t)))
                    }
                    None if is_placeholder(raw) => Value::Str(Str::from(text(raw).as_ref())),
                    None => return Err(field_reject(ctx, loc, name, raw, "a time", line)),
                }
            } else {
                match scalar(raw, ty.scalar, ctx.default_tz) {
                    Ok(v) => v,
                    Err(_) if is_placeholder(raw) => Value::Str(Str::from(text(raw).as_ref())),
                    Err(why) => return Err(field_reject(ctx, loc, name, raw, why, line)),
                }
            };
            ev.push(name.clone(), value);
        }
        let path = h.path.clone();
        let path = path.or_else(|| self.hint(ctx));
        ecs::map(&mut ev, path.as_deref());
        Ok(ev)
    }
}

impl Decoder for ZeekDecoder {
    fn format(&self) -> Format {
        Format::Zeek
    }

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        for_each_line(data, ctx, |line, loc| {
            match self.decode_line(line, ctx, loc) {
                Ok(Some(ev)) => sink.event(ev),
                Ok(None) => {}
                Err(r) => sink.reject(r),
            }
        });
    }

    fn finish(&mut self, _ctx: &DecodeContext, _sink: &mut dyn Sink) {
        // The next source starts with its own header.
        self.header = Header::default();
        self.path_hint = None;
    }
}

/// Decodes one Zeek JSON line. `path` is the log type to assume when the
/// record has no `_path` (from the file name, say); without either it is
/// guessed from the fields.
pub fn decode_json_line(
    line: &[u8],
    ctx: &DecodeContext,
    loc: Location,
    path: Option<&str>,
) -> Result<Event, Reject> {
    let mut ev = Event::with_capacity(40);
    if let Err(e) = flatten_object(line, &mut ev) {
        return Err(Reject::new(ctx, loc, format!("not a JSON object: {e}")).raw(line));
    }
    match ev.get("ts") {
        None | Some(Value::Null) => {}
        Some(Value::Str(s)) => {
            match time::parse_iso_in(s, ctx.default_tz).or_else(|| epoch_text(s)) {
                Some(t) => ev.timestamp = Some(t),
                None if is_placeholder(s.as_bytes()) => {}
                None => {
                    return Err(Reject::new(ctx, loc, format!("unreadable time `{s}`"))
                        .field("ts")
                        .raw(line))
                }
            }
        }
        Some(v) => match v.as_f64().and_then(epoch_f64) {
            Some(t) => ev.timestamp = Some(t),
            None => {
                return Err(
                    Reject::new(ctx, loc, "ts is neither a time nor epoch seconds")
                        .field("ts")
                        .raw(line),
                )
            }
        },
    }
    let own = ev.get_str("_path").map(Str::from);
    let path = own
        .as_deref()
        .or(path)
        .map(Str::from)
        .or_else(|| ecs::guess_path(&ev).map(Str::from));
    ecs::map(&mut ev, path.as_deref());
    Ok(ev)
}

fn field_reject(
    ctx: &DecodeContext,
    loc: Location,
    name: &str,
    raw: &[u8],
    why: &str,
    line: &[u8],
) -> Reject {
    Reject::new(
        ctx,
        loc,
        format!("`{}` is not {why}", String::from_utf8_lossy(raw)),
    )
    .field(name)
    .raw(line)
}

/// One value of a scalar type; Err names what it should have been.
fn scalar(raw: &[u8], ty: Scalar, tz: FixedOffset) -> Result<Value, &'static str> {
    Ok(match ty {
        Scalar::Text => Value::Str(Str::from(text(raw).as_ref())),
        Scalar::Bool => match raw {
            b"T" => Value::Bool(true),
            b"F" => Value::Bool(false),
            _ => return Err("a bool (T or F)"),
        },
        Scalar::Count => {
            let n: u64 = ascii(raw).and_then(|s| s.parse().ok()).ok_or("a count")?;
            i64::try_from(n).map_or(Value::UInt(n), Value::Int)
        }
        Scalar::Int => Value::Int(ascii(raw).and_then(|s| s.parse().ok()).ok_or("an int")?),
        Scalar::Port => {
            let p: u16 = ascii(raw).and_then(|s| s.parse().ok()).ok_or("a port")?;
            Value::Int(i64::from(p))
        }
        Scalar::Interval | Scalar::Double => {
            let f: f64 =
                ascii(raw)
                    .and_then(|s| s.parse().ok())
                    .ok_or(if ty == Scalar::Interval {
                        "an interval"
                    } else {
                        "a double"
                    })?;
            Value::Float(f)
        }
        Scalar::Time => Value::Str(Str::from(zeek_time(&parse_time(raw, tz).ok_or("a time")?))),
    })
}

/// A TSV `time`: epoch seconds (UTC), or ISO 8601 read in `tz` when it has
/// no zone.
fn parse_time(raw: &[u8], tz: FixedOffset) -> Option<DateTime<FixedOffset>> {
    let s = ascii(raw)?;
    // Zeek prints far-off times (certificate expiry) in exponent form:
    // `2.385616957e+09`.
    epoch_text(s)
        .or_else(|| time::parse_iso_in(s, tz))
        .or_else(|| s.parse::<f64>().ok().and_then(epoch_f64))
}

/// Zeek's own ISO form (its JSON writer's): microseconds, `Z` for UTC.
fn zeek_time(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn ascii(raw: &[u8]) -> Option<&str> {
    std::str::from_utf8(raw).ok()
}

/// Epoch seconds written as decimal text, read exactly (no float rounding):
/// `1521911720.865716`.
fn epoch_text(s: &str) -> Option<DateTime<FixedOffset>> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || whole.len() > 12
        || frac.len() > 9
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let nanos = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    let total = secs.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    let total = if neg { -total } else { total };
    Some(DateTime::<Utc>::from_timestamp_nanos(total).fixed_offset())
}

/// Epoch seconds as a JSON number. Zeek keeps times as doubles and prints
/// microseconds; rounding to the microsecond undoes the double's noise.
fn epoch_f64(secs: f64) -> Option<DateTime<FixedOffset>> {
    if !secs.is_finite() || secs.abs() > 1.0e12 {
        return None;
    }
    let micros = (secs * 1e6).round() as i64;
    DateTime::<Utc>::from_timestamp_micros(micros).map(|t| t.fixed_offset())
}

/// A BTest-canonified value: `XXXXXXXXXX.XXXXXX`, `XXXX-XX-XX…`.
fn is_placeholder(raw: &[u8]) -> bool {
    raw.contains(&b'X') && raw.iter().all(|b| matches!(b, b'X' | b'.' | b'-' | b':'))
}

/// Decodes Zeek's escapes: `\xNN` is a byte, `\\` a backslash; anything
/// else after a backslash is kept as written.
fn unescape_bytes(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' {
            if raw.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if raw.get(i + 1) == Some(&b'x') {
                if let (Some(h), Some(l)) = (
                    raw.get(i + 2).and_then(|c| hex(*c)),
                    raw.get(i + 3).and_then(|c| hex(*c)),
                ) {
                    out.push(h << 4 | l);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A text value: borrowed when it has no escapes; escapes decoded when the
/// result is UTF-8, else the escaped text kept as it is.
fn text(raw: &[u8]) -> Cow<'_, str> {
    if !raw.contains(&b'\\') {
        return String::from_utf8_lossy(raw);
    }
    match String::from_utf8(unescape_bytes(raw)) {
        Ok(s) => Cow::Owned(s),
        Err(_) => String::from_utf8_lossy(raw),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [b] => memchr::memchr(*b, hay),
        _ => memchr::memmem::find(hay, needle),
    }
}

/// Splits on a separator of one or more bytes.
fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let cur = rest?;
        match find(cur, sep).filter(|_| !sep.is_empty()) {
            Some(i) => {
                rest = Some(&cur[i + sep.len()..]);
                Some(&cur[..i])
            }
            None => {
                rest = None;
                Some(cur)
            }
        }
    })
}

/// The log type a file name says: `conn.log`, `dns.json.gz`,
/// `http.2024-01-01-00-00-00.log` → conn, dns, http.
fn path_from_source(source: &str) -> Option<Str> {
    let name = source.rsplit(['/', '\\']).next()?;
    let stem = name.split('.').next()?;
    ecs::is_known_path(stem).then(|| Str::from(stem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode() {
        assert_eq!(unescape_bytes(br"a\x09b\\c\x2c\xZZ\"), b"a\tb\\c,\\xZZ\\");
        assert_eq!(text(br"caf\xc3\xa9"), "café");
        // Not UTF-8 once decoded: the escaped text stays.
        assert_eq!(text(br"\xff\xfe"), r"\xff\xfe");
    }

    #[test]
    fn epoch_text_is_exact() {
        let t = epoch_text("1521911720.865716").unwrap();
        assert_eq!(zeek_time(&t), "2018-03-24T17:15:20.865716Z");
        assert_eq!(
            zeek_time(&epoch_text("0.5").unwrap()),
            "1970-01-01T00:00:00.500000Z"
        );
        assert!(epoch_text("1.2.3").is_none());
        assert!(epoch_text("XXXXXXXXXX.XXXXXX").is_none());
        assert_eq!(
            zeek_time(&epoch_f64(1521911720.865716).unwrap()),
            "2018-03-24T17:15:20.865716Z"
        );
    }

    #[test]
    fn split_handles_edges() {
        let v: Vec<_> = split(b"a\t\tb\t", b"\t").collect();
        assert_eq!(v, [&b"a"[..], b"", b"b", b""]);
        let v: Vec<_> = split(b"a::b", b"::").collect();
        assert_eq!(v, [&b"a"[..], b"b"]);
    }

    #[test]
    fn types_parse() {
        assert_eq!(
            ZType::parse("set[string]"),
            ZType {
                scalar: Scalar::Text,
                container: true
            }
        );
        assert_eq!(
            ZType::parse("vector[interval]"),
            ZType {
                scalar: Scalar::Interval,
                container: true
            }
        );
        assert_eq!(ZType::parse("port").scalar, Scalar::Port);
    }
}
