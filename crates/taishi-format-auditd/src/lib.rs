//! Linux audit logs (`/var/log/audit/audit.log`, audisp output) decoded into
//! one event per audit event.
//!
//! Auditd writes one line per *record*; the records of one kernel event
//! share `msg=audit(SECS.MILLIS:SERIAL)` (and `node=` when forwarded) and
//! may interleave with other events' records. The decoder keeps unfinished
//! events across `decode` calls and emits an event when
//! - its `EOE` record arrives, or
//! - its first record is a user-space message (USER_*, CRED_*, DAEMON_*,
//!   ADD_USER …) that stands alone, or
//! - it has not been seen for [`STALE_AFTER_LINES`] further lines (kernels
//!   do not send EOE for every multi-record event), or
//! - at `finish`.
//!
//! ## Event layout
//!
//! - `auditd.<TYPE>`: every record's key/values as an object, by record
//!   type (`auditd.SYSCALL.syscall`, `auditd.CWD.cwd`). `PATH` is always an
//!   array of objects (`auditd.PATH` in item order); another type becomes an
//!   array only when it repeats within the event. Values are strings as
//!   auditd wrote them, with quotes removed, hex-encoded values decoded
//!   (`proctitle` argv joined by spaces, `exe`, `comm`, `name`, `cmd`,
//!   `key`, EXECVE arguments …), `?`/`(null)`/empty values left out, and
//!   `msg='…'` nested key/values of USER_* records flattened into their
//!   record. SOCKADDR records gain `family`, `addr`, `port`, `path`. The
//!   enriched part after `\x1d` (`UID="root"` …) keeps its upper-case keys.
//!   Numbers keep auditd's raw form (`auid=4294967295`, `arch=c000003e`,
//!   `syscall=42`); the interpretations live in the normalised fields.
//! - `auditd.sequence` (serial), `auditd.message_type` (the primary
//!   record's type, lower-case, like go-libaudit's `record_type`),
//!   `auditd.result` (`success`/`fail`), `auditd.session` (`unset` for
//!   4294967295), `auditd.arch`, `auditd.syscall` (name),
//!   `auditd.summary.{actor.primary, actor.secondary, action,
//!   object.type, object.primary, object.secondary, how}` as go-libaudit's
//!   aucoalesce computes them.
//! - ECS: `@timestamp` (UTC, from the header), `event.module`=auditd,
//!   `event.action` (= summary action: executed, connected-to, opened-file,
//!   logged-in …), `event.category`, `event.type`, `event.outcome`,
//!   `host.name` (from `node=`), `user.id` (uid), `user.name` (acct or the
//!   enriched UID), `user.audit.id` (auid unless unset), `user.effective.id`,
//!   `group.id`, `process.pid`, `process.parent.pid`, `process.name`,
//!   `process.executable`, `process.working_directory`, `process.title`,
//!   `process.args`, `process.command_line`, `file.path` (first PATH item,
//!   made absolute with CWD), `file.inode/device/mode/uid/gid/type`,
//!   `source.*`/`destination.*` from SOCKADDR (destination for connect and
//!   send*, source otherwise) or from `addr=` of user-space messages, and
//!   `tags` from the rule key(s).

mod normalize;
mod record;
mod syscalls;

use std::borrow::Cow;
use std::collections::VecDeque;

use taishi_event::{
    for_each_line, Confidence, DecodeContext, Decoder, Format, Framing, Location, Reject, Sink,
};

pub use normalize::{arch_name, syscall_name};
use record::{parse_fields, parse_header, EventKey, Record};

/// An event not seen for this many further lines is considered complete.
pub const STALE_AFTER_LINES: u64 = 500;
/// At most this many events wait for more records; beyond it the oldest is
/// emitted, so a stream of EOE-less events cannot grow memory without bound.
pub const MAX_PENDING: usize = 4096;

/// How sure we are that `sample` (the first 64 KiB of an input) is audit.log.
pub fn probe(sample: &[u8]) -> Confidence {
    let text = String::from_utf8_lossy(sample);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    let mut total = 0;
    let mut good = 0;
    let mut at_start = 0;
    while let Some(line) = lines.next() {
        // The sample may end mid-line.
        if lines.peek().is_none() && sample.last() != Some(&b'\n') && total > 0 {
            break;
        }
        total += 1;
        if parse_header(line).is_ok() {
            good += 1;
            if line.starts_with("type=") || line.starts_with("node=") {
                at_start += 1;
            }
        }
        if total == 20 {
            break;
        }
    }
    if good == 0 {
        return 0;
    }
    if good * 10 >= total * 8 {
        if at_start == good {
            95
        } else {
            // Audit records behind a syslog header: syslog may claim it too.
            70
        }
    } else {
        30
    }
}

#[derive(Debug)]
struct Pending {
    key: EventKey,
    records: Vec<Record>,
    last_seen: u64,
}

/// Decodes audit.log lines, coalescing the records of each event.
#[derive(Debug, Default)]
pub struct AuditdDecoder {
    /// Events waiting for more records, oldest first.
    pending: VecDeque<Pending>,
    /// Lines seen so far across all `decode` calls.
    lines: u64,
}

impl AuditdDecoder {
    pub fn new() -> Self {
        AuditdDecoder::default()
    }

    fn emit(p: Pending, sink: &mut dyn Sink) {
        sink.event(normalize::build_event(&p.key, &p.records));
    }

    fn line(&mut self, line: &[u8], loc: Location, ctx: &DecodeContext, sink: &mut dyn Sink) {
        self.lines += 1;
        let text = match std::str::from_utf8(line) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(line),
        };
        let header = match parse_header(&text) {
            Ok(h) => h,
            Err(reason) => {
                sink.reject(Reject::new(ctx, loc, reason).field("msg").raw(line));
                return;
            }
        };
        let rtype = header.rtype;
        let is_eoe = rtype == "EOE";
        let idx = self.pending.iter().rposition(|p| p.key == header.key);
        if is_eoe {
            if let Some(p) = idx.and_then(|i| self.pending.remove(i)) {
                Self::emit(p, sink);
            }
            return;
        }
        let mut fields = Vec::with_capacity(24);
        parse_fields(rtype, header.body, &mut fields);
        let rec = Record {
            rtype: rtype.into(),
            fields,
        };
        match idx {
            Some(i) => {
                let p = &mut self.pending[i];
                p.records.push(rec);
                p.last_seen = self.lines;
            }
            None if record::is_standalone(rtype) => {
                Self::emit(
                    Pending {
                        key: header.key,
                        records: vec![rec],
                        last_seen: self.lines,
                    },
                    sink,
                );
            }
            None => {
                if self.pending.len() >= MAX_PENDING {
                    if let Some(p) = self.pending.pop_front() {
                        Self::emit(p, sink);
                    }
                }
                self.pending.push_back(Pending {
                    key: header.key,
                    records: vec![rec],
                    last_seen: self.lines,
                });
            }
        }
        self.flush_stale(sink);
    }

    fn flush_stale(&mut self, sink: &mut dyn Sink) {
        while let Some(front) = self.pending.front() {
            if self.lines.saturating_sub(front.last_seen) <= STALE_AFTER_LINES {
                break;
            }
            if let Some(p) = self.pending.pop_front() {
                Self::emit(p, sink);
            }
        }
    }
}

impl Decoder for AuditdDecoder {
    fn format(&self) -> Format {
        Format::Auditd
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn decode(&mut self, data: &[u8], ctx: &DecodeContext, sink: &mut dyn Sink) {
        for_each_line(data, ctx, |line, loc| self.line(line, loc, ctx, sink));
    }

    fn finish(&mut self, _ctx: &DecodeContext, sink: &mut dyn Sink) {
        while let Some(p) = self.pending.pop_front() {
            Self::emit(p, sink);
        }
    }
}

/// A record's key/values in source order.
pub type RecordFields = Vec<(String, String)>;

/// One record line parsed on its own, without coalescing: its type and its
/// key/values as the decoder stores them under `auditd.<TYPE>`. For tools
/// and tests that look at single records.
pub fn parse_record(line: &str) -> Result<(String, RecordFields), &'static str> {
    let h = parse_header(line)?;
    let mut fields = Vec::new();
    parse_fields(h.rtype, h.body, &mut fields);
    Ok((
        h.rtype.to_string(),
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    ))
}
