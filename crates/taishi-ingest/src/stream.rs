//! One syslog stream connection (TCP or TLS): frames cut by octet counting
//! or newlines, batched, and submitted before the connection is read
//! further, so that a slow store slows the sender.

use std::net::SocketAddr;
use std::sync::Arc;

use taishi_event::{DecodeContext, Format, Location, Reject, Sink};
use taishi_format_syslog::{looks_octet_counted, next_octet_frame};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::internal_events::{BudgetRefused, BytesReceived, ConnectionTimedOut, Refusal, Timeout};
use crate::syslog::MessageParser;
use crate::{
    deliver, Batch, CancellationToken, ConnGuard, IngestSink, ListenOptions, ListenerMetrics,
    DECODED_FACTOR,
};

pub(crate) struct StreamShared<S> {
    pub sink: Arc<S>,
    pub metrics: Arc<ListenerMetrics>,
    pub opts: ListenOptions,
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Octet,
    Lines,
}

struct Conn<'a, S> {
    shared: &'a StreamShared<S>,
    ctx: DecodeContext,
    source: Arc<str>,
    parser: MessageParser,
    batch: Batch,
    batch_bytes: usize,
    /// Messages so far (octet mode: the record number in rejects).
    frames: u64,
    /// Lines so far (newline mode).
    lines: u64,
}

impl<S: IngestSink> Conn<'_, S> {
    fn message(&mut self, msg: &[u8], offset: u64, mode: Mode) {
        self.frames += 1;
        let loc = match mode {
            Mode::Lines => Location::line(self.lines, offset),
            Mode::Octet => Location {
                line: None,
                offset: Some(offset),
                record: Some(self.frames),
            },
        };
        if msg.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            return;
        }
        self.shared.metrics.emit(BytesReceived {
            bytes: 0,
            messages: 1,
        });
        self.batch_bytes += msg.len();
        self.parser
            .decode(msg, &self.ctx, loc, &self.source, &mut self.batch);
    }

    fn reject(&mut self, offset: u64, reason: String, raw: &[u8]) {
        let loc = Location::offset(offset);
        let r = Reject::new(&self.ctx, loc, reason).raw(&raw[..raw.len().min(256)]);
        self.batch.reject(r);
    }

    fn full(&self) -> bool {
        self.batch.len() >= self.shared.opts.max_batch
            || self.batch_bytes >= self.shared.opts.max_batch_bytes
    }

    /// Submits what is pending; false when the sink failed and the
    /// connection must close (its data is not durable).
    async fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        self.batch_bytes = 0;
        let batch = self.batch.take();
        deliver(&*self.shared.sink, &self.shared.metrics, batch)
            .await
            .is_ok()
    }
}

/// Bytes to ask the socket for at a time.
const READ_CHUNK: usize = 64 * 1024;

pub(crate) async fn read_stream<R, S>(
    mut reader: R,
    peer: SocketAddr,
    shared: &StreamShared<S>,
    shutdown: &CancellationToken,
    guard: Option<&ConnGuard>,
) where
    R: AsyncRead + Unpin,
    S: IngestSink,
{
    let source: Arc<str> = Arc::from(peer.to_string());
    let mut ctx = DecodeContext::new(source.clone(), shared.format);
    ctx.default_tz = shared.opts.default_tz;
    let mut conn = Conn {
        shared,
        ctx,
        source,
        parser: MessageParser::new(shared.format),
        batch: Batch::new(shared.opts.name.clone()),
        batch_bytes: 0,
        frames: 0,
        lines: 0,
    };
    let max_message = shared.opts.max_message;
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    // Connection offset of buf[0].
    let mut base = 0u64;
    let mut mode: Option<Mode> = None;
    // Newline mode: inside an over-long line, dropping until its end.
    let mut discarding = false;
    // When the pending batch must be submitted.
    let mut flush_at: Option<Instant> = None;
    let never = CancellationToken::new();
    let evicted = guard.map_or(&never, |g| &g.evicted);
    let idle = shared.opts.idle_timeout;
    let mut idle_at = Instant::now() + idle;
    // What this connection holds against the ingest memory budget: what it
    // buffered, its pending batch as decoded events, and the next read.
    let mut held = shared.opts.budget.empty();
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        let need = buf.len() + conn.batch_bytes * DECODED_FACTOR + READ_CHUNK;
        if need > held.bytes() {
            if !held.try_grow(need - held.bytes()) {
                // The budget is spent: hand over what is pending (giving
                // its bytes back) and stop reading until others have
                // given back too. The sender is slowed by TCP flow control.
                shared.metrics.emit(BudgetRefused {
                    what: Refusal::StreamPaused,
                });
                flush_at = None;
                if !conn.flush().await {
                    return;
                }
                let need = buf.len() + READ_CHUNK;
                held.shrink_to(need);
                tokio::select! {
                    _ = held.resize(need) => {}
                    _ = shutdown.cancelled() => return,
                    _ = evicted.cancelled() => return,
                }
            }
        } else {
            held.shrink_to(need);
        }
        let read = if conn.batch.is_empty() {
            tokio::select! {
                r = reader.read_buf(&mut buf) => Some(r),
                _ = tokio::time::sleep_until(idle_at) => {
                    shared.metrics.emit(ConnectionTimedOut {
                        timeout: Timeout::Idle,
                    });
                    return;
                }
                _ = evicted.cancelled() => None,
                _ = shutdown.cancelled() => None,
            }
        } else {
            // Something is pending: submit it `linger` after it came, even
            // if the sender keeps trickling.
            let due = *flush_at.get_or_insert_with(|| Instant::now() + shared.opts.linger);
            tokio::select! {
                r = reader.read_buf(&mut buf) => Some(r),
                _ = tokio::time::sleep_until(due) => {
                    flush_at = None;
                    if !conn.flush().await {
                        return;
                    }
                    continue;
                }
                _ = evicted.cancelled() => None,
                _ = shutdown.cancelled() => None,
            }
        };
        if let Some(Ok(n)) = &read {
            if *n > 0 {
                idle_at = Instant::now() + idle;
                if let Some(g) = guard {
                    g.activity.touch();
                }
            }
        }
        let eof = match read {
            None => {
                conn.flush().await;
                return;
            }
            Some(Ok(0)) => true,
            Some(Ok(n)) => {
                shared.metrics.emit(BytesReceived {
                    bytes: n,
                    messages: 0,
                });
                false
            }
            Some(Err(e)) => {
                tracing::debug!(%peer, error = %e, "stream read failed");
                // What was read completely is still good.
                true
            }
        };

        let mut start = 0usize;
        let mut close = false;
        loop {
            let rest = buf.get(start..).unwrap_or_default();
            let skip = rest
                .iter()
                .take_while(|b| b.is_ascii_whitespace() || **b == 0)
                .count();
            let m = match mode {
                Some(m) => m,
                None => {
                    let rest = rest.get(skip..).unwrap_or_default();
                    if rest.is_empty() {
                        break;
                    }
                    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                    let undecided = digits > 0
                        && (digits == rest.len()
                            || (rest.get(digits) == Some(&b' ') && digits + 1 == rest.len()));
                    if undecided && !eof {
                        break;
                    }
                    let m = if looks_octet_counted(rest) {
                        Mode::Octet
                    } else {
                        Mode::Lines
                    };
                    mode = Some(m);
                    m
                }
            };
            match m {
                Mode::Octet => {
                    // Senders may put a newline after each frame.
                    start += skip;
                    let rest = buf.get(start..).unwrap_or_default();
                    if rest.is_empty() {
                        break;
                    }
                    let offset = base + start as u64;
                    match next_octet_frame(rest) {
                        Ok(Some((msg, used))) if msg.len() <= max_message => {
                            conn.message(msg, offset, Mode::Octet);
                            start += used;
                        }
                        Ok(Some((msg, _))) => {
                            conn.reject(
                                offset,
                                format!(
                                    "message of {} bytes exceeds the {max_message}-byte limit",
                                    msg.len()
                                ),
                                msg,
                            );
                            close = true;
                            break;
                        }
                        Ok(None) => {
                            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                            let declared: usize =
                                std::str::from_utf8(rest.get(..digits).unwrap_or_default())
                                    .ok()
                                    .and_then(|s| s.parse().ok())
                                    .unwrap_or(0);
                            if declared > max_message {
                                conn.reject(offset, format!("octet-counted frame declares {declared} bytes, more than the {max_message}-byte limit"), rest);
                                close = true;
                            } else if eof {
                                conn.reject(offset, format!("connection closed inside an octet-counted frame of {declared} bytes"), rest);
                            }
                            break;
                        }
                        Err(e) => {
                            // Frame boundaries are lost: nothing after this
                            // can be trusted, so the connection ends.
                            conn.reject(offset, e.to_string(), rest);
                            close = true;
                            break;
                        }
                    }
                }
                Mode::Lines => {
                    let offset = base + start as u64;
                    match memchr::memchr(b'\n', rest) {
                        Some(nl) => {
                            conn.lines += 1;
                            if discarding {
                                discarding = false;
                            } else {
                                conn.message(trim_end(&rest[..nl]), offset, Mode::Lines);
                            }
                            start += nl + 1;
                        }
                        None if eof => {
                            if !discarding && !rest.is_empty() {
                                conn.lines += 1;
                                conn.message(trim_end(rest), offset, Mode::Lines);
                            }
                            start = buf.len();
                            break;
                        }
                        None => {
                            if rest.len() > max_message {
                                if !discarding {
                                    conn.lines += 1;
                                    conn.reject(offset, format!("line longer than the {max_message}-byte limit; dropped up to its end"), rest);
                                }
                                discarding = true;
                                start = buf.len();
                            }
                            break;
                        }
                    }
                }
            }
        }
        buf.drain(..start.min(buf.len()));
        base += start as u64;
        if eof || close {
            conn.flush().await;
            return;
        }
        if conn.full() {
            flush_at = None;
            if !conn.flush().await {
                return;
            }
        }
    }
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\0'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::task::{Context, Poll};

    use proptest::prelude::*;
    use tokio::io::ReadBuf;

    use super::*;
    use crate::SinkError;

    /// Hands out its pieces one read at a time.
    struct Pieces(VecDeque<Vec<u8>>);

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if let Some(mut p) = self.0.pop_front() {
                let n = p.len().min(buf.remaining());
                buf.put_slice(&p[..n]);
                if n < p.len() {
                    self.0.push_front(p.split_off(n));
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    #[derive(Default)]
    struct Keep(Mutex<Vec<Batch>>);

    impl IngestSink for Keep {
        fn submit(&self, batch: Batch) -> impl Future<Output = Result<(), SinkError>> + Send {
            self.0.lock().unwrap().push(batch);
            std::future::ready(Ok(()))
        }
    }

    /// Runs a connection over `data` cut at `cuts`; (messages, rejects).
    fn run(data: &[u8], cuts: &[usize], max_message: usize) -> (Vec<String>, usize) {
        let mut pieces = VecDeque::new();
        let mut rest = data;
        for &c in cuts {
            let c = c.min(rest.len());
            let (a, b) = rest.split_at(c);
            pieces.push_back(a.to_vec());
            rest = b;
        }
        pieces.push_back(rest.to_vec());
        let mut opts = ListenOptions::new("t");
        opts.max_batch = 7;
        opts.max_message = max_message;
        let shared = StreamShared {
            sink: Arc::new(Keep::default()),
            metrics: Arc::new(ListenerMetrics::new("t".into(), "test")),
            opts,
            format: Format::Syslog,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(read_stream(
            Pieces(pieces),
            "127.0.0.1:1".parse().unwrap(),
            &shared,
            &CancellationToken::new(),
            None,
        ));
        let batches = shared.sink.0.lock().unwrap();
        let msgs = batches
            .iter()
            .flat_map(|b| &b.events)
            .map(|e| e.get_str("message").unwrap_or_default().to_string())
            .collect();
        let rejects = batches.iter().map(|b| b.rejects.len()).sum();
        (msgs, rejects)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_in_arbitrary_pieces_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(0usize..300, 0..20),
        ) {
            run(&data, &cuts, 256);
        }

        #[test]
        fn framing_does_not_depend_on_how_the_stream_is_cut(
            msgs in proptest::collection::vec("[a-zA-Z0-9 .,:=-]{1,80}", 1..40),
            cuts in proptest::collection::vec(1usize..64, 0..30),
            octet in any::<bool>(),
        ) {
            let mut data = Vec::new();
            for m in &msgs {
                let frame = format!("<13>1 2025-03-01T10:00:00Z h app - - - {m}");
                if octet {
                    data.extend_from_slice(format!("{} {frame}", frame.len()).as_bytes());
                } else {
                    data.extend_from_slice(frame.as_bytes());
                    data.push(b'\n');
                }
            }
            let (got, rejects) = run(&data, &cuts, 1 << 20);
            let want: Vec<String> = msgs.iter().map(|m| m.trim_end().to_string()).collect();
            prop_assert_eq!(rejects, 0);
            prop_assert_eq!(got.iter().map(|m| m.trim_end().to_string()).collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn overlong_lines_are_rejected_and_the_stream_goes_on() {
        let mut data = b"<13>Mar  1 10:00:00 h app: short\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 1000));
        data.extend_from_slice(b"\n<13>Mar  1 10:00:00 h app: after\n");
        let (msgs, rejects) = run(&data, &[10, 300, 300, 300], 256);
        assert_eq!(msgs, ["short", "after"]);
        assert_eq!(rejects, 1);
    }
}
