//! Syslog decoder: RFC 5424, RFC 3164 (with and without PRI, as files such
//! as `/var/log/auth.log` hold it, also with rsyslog's ISO timestamps), RFC
//! 6587 octet-counted and newline framing, and payloads in GB18030/GBK.
//!
//! # Fields
//!
//! ECS: `log.syslog.priority`, `log.syslog.facility.code`/`.name`,
//! `log.syslog.severity.code`/`.name`, `log.level`, `log.syslog.version`
//! (5424), `host.name` and `log.syslog.hostname`, `log.syslog.appname` and
//! `process.name`, `log.syslog.procid` and `process.pid` (when numeric),
//! `log.syslog.msgid`, structured data as
//! `log.syslog.structured_data.<SD-ID>.<param>` (an array when a param
//! repeats), `message`, `event.kind`, `event.module` = `syslog`.
//!
//! A line that is not UTF-8 is read as GB18030 (what Chinese appliances
//! send; it includes GBK and GB2312) and `log.syslog.charset` says so;
//! bytes that decode to nothing are replaced by U+FFFD and counted in
//! `log.syslog.replaced_chars`. A line with a UTF-8 BOM is read as UTF-8.
//!
//! Messages of sshd, sudo, su, useradd/groupadd/userdel/usermod, passwd and
//! PAM are read further into `event.category`/`type`/`action`/`outcome`,
//! `user.name`, `source.ip`/`port`, `process.command_line`.
//!
//! Firewall logs in the message (netfilter/iptables/UFW, Huawei USG, H3C,
//! Hillstone, Topsec, Sangfor, and generic `key=value` with a source and a
//! destination address) are read into `source.*`, `destination.*`,
//! `network.transport`, `observer.*` and `event.action` = block, allow or
//! audit; see `firewall.rs` for each format and where it was taken from.
//!
//! A timestamp read in the configured zone because the line gave none
//! records it: `event.timezone` (`+08:00`) and `taishi.timezone_assumed`.
//!
//! RFC 3164 timestamps carry no year: `DecodeContext::default_year` is used,
//! else the current year (a date more than two days ahead is taken as last
//! year's). They carry no zone either, unless one follows the time
//! (`UTC`, `+0800`, `TZ-6`, unambiguous abbreviations): `default_tz` is used.

mod auth;
mod firewall;
pub mod framing;
mod parse;

pub use framing::{
    looks_octet_counted, next_frame, next_octet_frame, split_octet_counted, Frame, FrameError,
    OctetFrames,
};
pub use parse::{
    facility_name, parse_line, severity_name, transcode, CHARSET_FIELD, REPLACED_FIELD,
};

use taishi_event::{Confidence, DecodeContext, Decoder, Format, Location, Reject, Sink};

/// How sure we are that `sample` (the first 64 KiB of an input) is syslog:
/// 80 when lines start with `<PRI>` and a 5424 version or a 3164 timestamp,
/// 50 for `Mmm dd hh:mm:ss host tag:` lines without PRI (auth.log).
pub fn probe(sample: &[u8]) -> Confidence {
    let (mut strong, mut weak, mut other) = (0u32, 0u32, 0u32);
    for line in sample
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(20)
    {
        let mut line = line;
        if looks_octet_counted(line) {
            let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
            line = &line[digits + 1..];
        }
        let text = String::from_utf8_lossy(line);
        let score = line_score(&text);
        match score {
            2 => strong += 1,
            1 => weak += 1,
            _ => other += 1,
        }
    }
    let total = strong + weak + other;
    if total == 0 || strong + weak < total.div_ceil(2) {
        return 0;
    }
    if strong >= weak {
        80
    } else {
        50
    }
}

fn line_score(text: &str) -> u8 {
    if let Some(after) = text.strip_prefix('<') {
        if let Some(close) = after.find('>').filter(|&i| (1..=3).contains(&i)) {
            if after[..close].bytes().all(|b| b.is_ascii_digit()) {
                let rest = &after[close + 1..];
                if parse::is_version(rest) || parse::starts_with_3164_time(rest) {
                    return 2;
                }
            }
        }
        return 0;
    }
    u8::from(parse::looks_like_3164_line(text))
}

/// Decodes syslog files and streams: one message per line, or RFC 6587
/// octet-counted frames (`<len> <msg>`, several to a line or spanning
/// lines).
#[derive(Debug, Default)]
pub struct SyslogDecoder;

impl SyslogDecoder {
    pub fn new() -> Self {
        SyslogDecoder
    }
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n' | b'\0'] = s {
        s = rest;
    }
    s
}

impl Decoder for SyslogDecoder {
    fn format(&self) -> Format {
        Format::Syslog
    }

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        let mut pos = 0usize;
        let mut line_no = ctx.line_base;
        while pos < data.len() {
            let rest = &data[pos..];
            let loc = Location::line(line_no, ctx.offset_base + pos as u64);
            if looks_octet_counted(rest) {
                match next_octet_frame(rest) {
                    Ok(Some((msg, used))) => {
                        match parse_line(trim_end(msg), ctx, loc) {
                            Ok(ev) => sink.event(ev),
                            Err(r) => sink.reject(r),
                        }
                        line_no += memchr::memchr_iter(b'\n', &rest[..used]).count() as u64;
                        pos += used;
                        continue;
                    }
                    Ok(None) => {
                        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                        let e = split_octet_counted(rest)
                            .next()
                            .and_then(Result::err)
                            .map_or_else(
                                || "octet-counted frame truncated".into(),
                                |e| e.to_string(),
                            );
                        sink.reject(Reject::new(ctx, loc, e).field("MSG-LEN").raw(&rest[..end]));
                        pos += end;
                        continue;
                    }
                    Err(e) => {
                        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                        sink.reject(
                            Reject::new(ctx, loc, e.to_string())
                                .field("MSG-LEN")
                                .raw(&rest[..end]),
                        );
                        pos += end;
                        continue;
                    }
                }
            }
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let line = trim_end(&rest[..end]);
            if !line.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
                match parse_line(line, ctx, loc) {
                    Ok(ev) => sink.event(ev),
                    Err(r) => sink.reject(r),
                }
            }
            pos += end + 1;
            line_no += 1;
        }
    }
}
