//! RFC 6587 framing of syslog over a byte stream: octet counting
//! (`<len> <msg>`) and non-transparent framing (one message per line).
//!
//! The TCP listener keeps a buffer and calls [`next_frame`] until it answers
//! `Ok(None)` (wait for more bytes); files and captured streams go through
//! [`split_octet_counted`], where a frame cut short by the end of the input
//! is an error, not a wait.

use std::fmt;

/// Longest frame we accept. RFC 5425 lets receivers limit the size; 16 MiB
/// is far above any real message and stops a bogus length from making a
/// listener buffer without bound.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Why a frame could not be cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix is not `NONZERO-DIGIT *DIGIT SP`.
    BadLength { offset: usize, reason: String },
    /// The length is larger than [`MAX_FRAME_LEN`].
    TooLong { offset: usize, len: usize },
    /// The input ends before the declared length.
    Truncated {
        offset: usize,
        declared: usize,
        available: usize,
    },
}

impl FrameError {
    /// Byte offset of the frame (its length prefix) in the buffer.
    pub fn offset(&self) -> usize {
        match *self {
            FrameError::BadLength { offset, .. }
            | FrameError::TooLong { offset, .. }
            | FrameError::Truncated { offset, .. } => offset,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadLength { reason, .. } => {
                write!(f, "bad octet-counting length prefix: {reason}")
            }
            FrameError::TooLong { len, .. } => write!(
                f,
                "octet-counted frame declares {len} bytes, more than the {MAX_FRAME_LEN}-byte limit"
            ),
            FrameError::Truncated {
                declared,
                available,
                ..
            } => write!(
                f,
                "octet-counted frame truncated: declares {declared} bytes, only {available} present"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// True when `buf` starts like an octet-counted frame: digits, a space and
/// the `<` of a PRI. Requiring the `<` keeps a plain line that happens to
/// start with a number (`2015-04-16T…`, `1990 Oct 22 …`) out.
pub fn looks_octet_counted(buf: &[u8]) -> bool {
    let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
    (1..=9).contains(&digits)
        && buf.first() != Some(&b'0')
        && buf.get(digits) == Some(&b' ')
        && buf.get(digits + 1) == Some(&b'<')
}

/// Cuts one octet-counted frame from the start of `buf`: `Ok(Some((msg,
/// consumed)))`, `Ok(None)` when more bytes are needed, or an error when the
/// prefix is malformed (the stream cannot be resynchronised then).
pub fn next_octet_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, FrameError> {
    let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err(FrameError::BadLength {
            offset: 0,
            reason: "expected a decimal length".into(),
        });
    }
    if buf.first() == Some(&b'0') {
        return Err(FrameError::BadLength {
            offset: 0,
            reason: "length starts with 0".into(),
        });
    }
    if digits > 9 {
        return Err(FrameError::TooLong {
            offset: 0,
            len: usize::MAX,
        });
    }
    let Some(&sep) = buf.get(digits) else {
        return Ok(None);
    };
    if sep != b' ' {
        return Err(FrameError::BadLength {
            offset: 0,
            reason: format!("expected a space after the length, found {:?}", sep as char),
        });
    }
    // At most 9 ASCII digits: the parse cannot fail or overflow.
    let len: usize = buf[..digits]
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLong { offset: 0, len });
    }
    let start = digits + 1;
    match buf.get(start..start + len) {
        Some(msg) => Ok(Some((msg, start + len))),
        None => Ok(None),
    }
}

/// Cuts one frame of either kind: octet-counted when the buffer starts with
/// a length prefix, else everything up to the next LF (non-transparent
/// framing; a trailing CR and NUL trailers are dropped). `Ok(None)` means
/// wait for more bytes.
pub fn next_frame(buf: &[u8]) -> Result<Option<(&[u8], usize)>, FrameError> {
    if buf.first().is_some_and(u8::is_ascii_digit) && looks_octet_counted(buf) {
        return next_octet_frame(buf);
    }
    match memchr::memchr(b'\n', buf) {
        Some(nl) => {
            let mut line = &buf[..nl];
            while let [rest @ .., b'\r' | b'\0'] = line {
                line = rest;
            }
            Ok(Some((line, nl + 1)))
        }
        None => Ok(None),
    }
}

/// One frame cut from a buffer, with its byte offset there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub offset: usize,
    pub data: &'a [u8],
}

/// Iterator over the octet-counted frames of a complete buffer; see
/// [`split_octet_counted`].
#[derive(Debug, Clone)]
pub struct OctetFrames<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> OctetFrames<'a> {
    /// The bytes not yet consumed.
    pub fn remainder(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }
}

impl<'a> Iterator for OctetFrames<'a> {
    type Item = Result<Frame<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // Whitespace between frames (a newline after each, as some senders
        // add) is not part of any frame.
        while self
            .buf
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == 0)
        {
            self.pos += 1;
        }
        let rest = self.buf.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let offset = self.pos;
        let with_offset = |e: FrameError| match e {
            FrameError::BadLength { reason, .. } => FrameError::BadLength { offset, reason },
            FrameError::TooLong { len, .. } => FrameError::TooLong { offset, len },
            FrameError::Truncated {
                declared,
                available,
                ..
            } => FrameError::Truncated {
                offset,
                declared,
                available,
            },
        };
        match next_octet_frame(rest) {
            Ok(Some((data, used))) => {
                self.pos += used;
                Some(Ok(Frame { offset, data }))
            }
            Ok(None) => {
                self.done = true;
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                let declared = std::str::from_utf8(&rest[..digits])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                Some(Err(FrameError::Truncated {
                    offset,
                    declared,
                    available: rest.len().saturating_sub(digits + 1),
                }))
            }
            Err(e) => {
                // A bad prefix loses the frame boundaries: stop here.
                self.done = true;
                Some(Err(with_offset(e)))
            }
        }
    }
}

/// Splits a complete buffer of RFC 6587 octet-counted frames (`<len> <msg>`
/// repeated). A frame the buffer ends inside is a `Truncated` error; a bad
/// length prefix ends the iteration with an error, since the following
/// frame boundaries are unknown.
pub fn split_octet_counted(buf: &[u8]) -> OctetFrames<'_> {
    OctetFrames {
        buf,
        pos: 0,
        done: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frames_and_reports_truncation() {
        let buf = b"5 <1>ab11 <13>hello w\n4 <1>";
        let frames: Vec<_> = split_octet_counted(buf).collect();
        assert_eq!(
            frames[0],
            Ok(Frame {
                offset: 0,
                data: b"<1>ab"
            })
        );
        assert_eq!(
            frames[1],
            Ok(Frame {
                offset: 7,
                data: b"<13>hello w"
            })
        );
        assert_eq!(
            frames[2],
            Err(FrameError::Truncated {
                offset: 22,
                declared: 4,
                available: 3
            })
        );
        assert_eq!(frames.len(), 3);
    }

    #[test]
    fn streaming_waits_for_more_bytes() {
        assert_eq!(next_frame(b"12 <13>abc"), Ok(None));
        assert_eq!(next_frame(b"3 <1>"), Ok(Some((&b"<1>"[..], 5))));
        assert_eq!(
            next_frame(b"<13>abc\r\n<14>"),
            Ok(Some((&b"<13>abc"[..], 9)))
        );
        assert_eq!(next_frame(b"<13>abc"), Ok(None));
        assert!(matches!(
            next_octet_frame(b"12x<13>"),
            Err(FrameError::BadLength { .. })
        ));
        assert!(matches!(
            next_octet_frame(b"99999999 <"),
            Err(FrameError::TooLong { .. })
        ));
    }
}
