//! The scanner: one pass over the bytes, a cheap prefilter that stops only at
//! bytes that can start a candidate, and validation of candidates only.
//!
//! On x86-64 the pass classifies 64 bytes at a time into bit masks and skips
//! the tokens nothing can start there (`Run::block`); everything else, and the
//! last bytes, go byte by byte, stopping at ASCII digits, `@`, `-`, `_` and
//! non-ASCII bytes (16 at a time with SSE2). At a digit it takes the whole alphanumeric token
//! around it and dispatches on its length and shape (an ID number is 18
//! characters, a mobile 11 digits, …); a token is maximal, so a number inside
//! a longer run of digits or letters is never a candidate. `@` starts e-mail
//! and URL-password checks, `-` PEM headers, `_` GitHub tokens, and runs of
//! non-ASCII bytes the name and address detectors. Bytes that are not UTF-8
//! (GBK logs) are only ever compared, never decoded, so they cannot panic.

use crate::data::{num, tables, DataError, Tables};
use crate::kind::{Kind, KindSet, Reason, Reasons};
use crate::validate::{
    gb11643_check, gb11714_valid, gb32100_check, luhn_valid, today_yyyymmdd, valid_birth_date,
};
use memchr::memmem;
use std::net::{Ipv4Addr, Ipv6Addr};

/// What to look for and how much to report.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// The detectors that run.
    pub kinds: KindSet,
    /// Findings below this confidence are not reported (None: the `report`
    /// value of data/confidence.txt, 0.5).
    pub min_confidence: Option<f32>,
    /// At most this many findings per call; `ScanOutput::truncated` says when
    /// more were left out. Bounds the memory a hostile input can cost.
    pub max_findings: usize,
    /// How far before and after a candidate context words are looked for, in bytes.
    pub context_before: usize,
    pub context_after: usize,
    /// At most this many bytes of a PEM block are taken into a finding.
    pub max_pem_bytes: usize,
    /// Today as YYYYMMDD (birth dates after it are impossible); None: the clock's UTC date.
    pub today: Option<u32>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            kinds: KindSet::all(),
            min_confidence: None,
            max_findings: 100_000,
            context_before: 48,
            context_after: 16,
            max_pem_bytes: 64 * 1024,
            today: None,
        }
    }
}

/// One piece of personal information or one secret found in the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub kind: Kind,
    /// Byte span in the scanned input (`start..end`).
    pub start: usize,
    pub end: usize,
    /// 0-1: how sure the detector is.
    pub confidence: f32,
    /// Why (validation steps that passed, context words, caveats).
    pub reasons: Reasons,
}

impl Finding {
    /// The value's canonical form, which keyed hashes are computed over, so that
    /// equal values correlate however they were written: resident IDs in their
    /// 18-character form, digits only for phone and card numbers (without +86),
    /// e-mail lower-cased; other kinds as found.
    pub fn normalised(&self, input: &[u8]) -> Vec<u8> {
        let raw = &input[self.start.min(input.len())..self.end.min(input.len())];
        match self.kind {
            Kind::CnResidentId => crate::validate::normalise_resident_id(raw)
                .map(|a| a.to_vec())
                .unwrap_or_else(|| raw.to_vec()),
            Kind::CnMobile => {
                let d: Vec<u8> = raw.iter().copied().filter(u8::is_ascii_digit).collect();
                d[d.len().saturating_sub(11)..].to_vec()
            }
            Kind::BankCard => raw.iter().copied().filter(u8::is_ascii_digit).collect(),
            Kind::Email => raw.to_ascii_lowercase(),
            _ => raw.to_vec(),
        }
    }
}

/// The findings of one call, in order of their start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScanOutput {
    pub findings: Vec<Finding>,
    /// More findings than `max_findings` were there.
    pub truncated: bool,
}

/// The detectors, ready to run. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Scanner {
    cfg: ScanConfig,
    t: &'static Tables,
    min: f32,
    today: u32,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner").field("cfg", &self.cfg).finish()
    }
}

impl Scanner {
    /// A scanner with this configuration (fails only if the embedded data is malformed).
    pub fn new(cfg: ScanConfig) -> Result<Scanner, DataError> {
        let t = tables()?;
        Ok(Scanner {
            min: cfg.min_confidence.unwrap_or(t.conf.report),
            today: cfg.today.unwrap_or_else(today_yyyymmdd),
            cfg,
            t,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ScanConfig {
        &self.cfg
    }

    /// Finds everything in `input`.
    pub fn scan(&self, input: &[u8]) -> ScanOutput {
        let mut out = ScanOutput::default();
        self.scan_into(input, None, &mut out);
        out
    }

    /// Finds everything in the value of a named field (a JSON key, a column):
    /// the name counts as a context word for the whole value, so that
    /// `{"phone": "13800138000"}` and a column `id_card` raise their kinds and
    /// a column `order_no` lowers the numeric ones.
    pub fn scan_field(&self, field: &str, input: &[u8]) -> ScanOutput {
        let mut out = ScanOutput::default();
        self.scan_into(input, Some(field), &mut out);
        out
    }

    /// `scan` through the byte-at-a-time loop only, every token dispatched (no
    /// 64-byte blocks, no token prefilter): the reference the fast paths are
    /// tested against. Not for production use.
    #[doc(hidden)]
    pub fn scan_reference(&self, input: &[u8]) -> ScanOutput {
        let mut out = ScanOutput::default();
        let mut r = Run {
            sc: self,
            b: input,
            field: (KindSet::EMPTY, KindSet::EMPTY),
            out: &mut out,
            reference: true,
        };
        r.run_reference();
        out.findings
            .sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        out
    }

    /// The kinds that context words in `text` (e.g. a field name) raise, and those they lower.
    pub fn context_kinds(&self, text: &[u8]) -> (KindSet, KindSet) {
        let mut acc = (KindSet::EMPTY, KindSet::EMPTY);
        for m in self.t.context.find_iter(text) {
            let (raise, lower, word) = self.t.context_kinds[m.pattern().as_usize()];
            if ascii_word_start(text, m.start(), word) {
                acc = (acc.0.union(raise), acc.1.union(lower));
            }
        }
        acc
    }

    /// Appends the findings of `input` to `out` (sorted by start within this
    /// call); `field` names the field the input is the value of, if any.
    pub fn scan_into(&self, input: &[u8], field: Option<&str>, out: &mut ScanOutput) {
        let first = out.findings.len();
        let field = field.map_or((KindSet::EMPTY, KindSet::EMPTY), |f| {
            self.context_kinds(f.as_bytes())
        });
        let mut r = Run {
            sc: self,
            b: input,
            field,
            out,
            reference: false,
        };
        r.run();
        out.findings[first..].sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    }
}

/// Whether a match of an ASCII context word starts a word (so `tel` does not
/// match inside `hotel`, nor `pan` inside `company`).
fn ascii_word_start(text: &[u8], at: usize, word: &str) -> bool {
    !word.is_ascii() || at == 0 || !text[at - 1].is_ascii_alphabetic()
}

/// Bytes that can start a candidate.
const fn trigger_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_digit() || b == b'@' || b == b'-' || b == b'_' || b >= 0x80;
        i += 1;
    }
    t
}
static TRIGGER: [bool; 256] = trigger_table();

/// The first index at or after `i` whose byte is a trigger (or `b.len()`).
#[inline]
fn next_trigger(b: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline; every load reads 16 bytes
        // at `i` with `i + 16 <= b.len()`, and loadu has no alignment needs.
        unsafe {
            // Digits map to 0x80..=0x89 after adding 0x50, the only bytes below
            // -118 as signed; bytes >= 0x80 come from the sign mask directly.
            let off = _mm_set1_epi8(0x50);
            let lim = _mm_set1_epi8(-118);
            let at = _mm_set1_epi8(b'@' as i8);
            let dash = _mm_set1_epi8(b'-' as i8);
            let us = _mm_set1_epi8(b'_' as i8);
            while i + 16 <= b.len() {
                let v = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
                let d = _mm_cmplt_epi8(_mm_add_epi8(v, off), lim);
                let p = _mm_or_si128(
                    _mm_cmpeq_epi8(v, at),
                    _mm_or_si128(_mm_cmpeq_epi8(v, dash), _mm_cmpeq_epi8(v, us)),
                );
                let mask = (_mm_movemask_epi8(_mm_or_si128(d, p)) | _mm_movemask_epi8(v)) as u32;
                if mask != 0 {
                    return i + mask.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
    }
    while i < b.len() && !TRIGGER[b[i] as usize] {
        i += 1;
    }
    i
}

/// Byte classes for the token walks: one load instead of three range tests.
const DIGIT: u8 = 1;
const ALNUM: u8 = 2;
const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_digit() {
            DIGIT | ALNUM
        } else if b.is_ascii_alphabetic() {
            ALNUM
        } else {
            0
        };
        i += 1;
    }
    t
}
static CLASS: [u8; 256] = class_table();

#[inline]
fn is_alnum(c: u8) -> bool {
    CLASS[c as usize] & ALNUM != 0
}

/// Whether the token `b[s..e]` (holding `digits` digits) could be anything:
/// a cheap superset of what `Run::token` accepts, so that the tokens of
/// times, sizes, ports, versions and hashes skip the dispatch. Kept next to
/// `token`'s rules; the property test comparing the block and byte loops and
/// the detector tests catch a rule added there and not here.
#[inline]
fn token_may_matter(b: &[u8], s: usize, e: usize, digits: usize) -> bool {
    let len = e - s;
    let prev = if s > 0 { b[s - 1] } else { b' ' };
    let next = b.get(e).copied().unwrap_or(b' ');
    // An IPv6 group: first of a candidate, or right after "::".
    let ipv6 = len <= 4
        && ((next == b':' && !(prev == b':' || prev.is_ascii_hexdigit()))
            || (prev == b':' && s >= 2 && b[s - 2] == b':'));
    if digits < len {
        let t = &b[s..e];
        return matches!(len, 9 | 11 | 18)
            || (len >= 16 && matches!(&t[..4], b"AKIA" | b"ASIA" | b"LTAI" | b"AKID"))
            || ((4..=7).contains(&len)
                && (t[0].is_ascii_uppercase() || prev == 0xB7)
                && prev >= 0x80)
            || t.starts_with(b"eyJ")
            || ipv6;
    }
    // A plate written with a middle dot (粤B·12345).
    if len >= 8 || ipv6 || (prev == 0xB7 && (4..=6).contains(&len)) {
        return true;
    }
    // A dotted quad.
    if len <= 3 && next == b'.' && prev != b'.' {
        return true;
    }
    // The first group of a grouped number (138 0013 8000, 6222-0200-…, +86 138 …):
    // its second group has 3, 4 or 10-13 digits.
    let after = b.get(e + 1).copied().unwrap_or(b' ');
    if matches!(next, b' ' | b'-')
        && after.is_ascii_digit()
        && matches!(len, 2..=4 | 6)
        && !(prev == b'.' && s >= 2 && b[s - 2].is_ascii_digit())
    {
        let g2 = b[e + 1..]
            .iter()
            .take(14)
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        return matches!(g2, 3 | 4 | 10..=13);
    }
    false
}

/// One bit per byte of a 64-byte block.
#[cfg(target_arch = "x86_64")]
struct Masks {
    digit: u64,
    letter: u64,
    high: u64,
    at: u64,
    underscore: u64,
    dash: u64,
}

#[cfg(target_arch = "x86_64")]
impl Masks {
    /// The masks of `b[i..i + 64]` (the caller guarantees 64 bytes).
    #[inline]
    fn at(b: &[u8], i: usize) -> Masks {
        use std::arch::x86_64::*;
        assert!(i + 64 <= b.len());
        let mut m = Masks {
            digit: 0,
            letter: 0,
            high: 0,
            at: 0,
            underscore: 0,
            dash: 0,
        };
        // SAFETY: SSE2 is part of the x86-64 baseline; the four loads read
        // b[i..i + 64], in bounds by the assert; loadu needs no alignment.
        unsafe {
            let digit_off = _mm_set1_epi8(0x50);
            let digit_lim = _mm_set1_epi8(-118);
            // Letters: b | 0x20 in 'a'..='z' maps to 0x80..=0x99 after adding 0x1F.
            let case = _mm_set1_epi8(0x20);
            let letter_off = _mm_set1_epi8(0x1F);
            let letter_lim = _mm_set1_epi8(-102);
            for k in 0..4 {
                let v = _mm_loadu_si128(b.as_ptr().add(i + 16 * k) as *const __m128i);
                let bits = |x: __m128i| (_mm_movemask_epi8(x) as u32 as u64) << (16 * k);
                m.digit |= bits(_mm_cmplt_epi8(_mm_add_epi8(v, digit_off), digit_lim));
                m.letter |= bits(_mm_cmplt_epi8(
                    _mm_add_epi8(_mm_or_si128(v, case), letter_off),
                    letter_lim,
                ));
                m.high |= bits(v);
                m.at |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'@' as i8)));
                m.underscore |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8)));
                m.dash |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8)));
            }
        }
        m
    }
}

#[inline]
fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// The three UTF-8 bytes at `i` as a CJK ideograph (U+4E00-U+9FFF), if they are one.
#[inline]
fn ideograph_at(b: &[u8], i: usize) -> Option<char> {
    let s = b.get(i..i + 3)?;
    if !(0xE4..=0xE9).contains(&s[0]) || s[1] & 0xC0 != 0x80 || s[2] & 0xC0 != 0x80 {
        return None;
    }
    let c = ((s[0] as u32 & 0x0F) << 12) | ((s[1] as u32 & 0x3F) << 6) | (s[2] as u32 & 0x3F);
    char::from_u32(c).filter(|c| ('\u{4E00}'..='\u{9FFF}').contains(c))
}

/// One-character province abbreviations that start a plate (plus 使/领 for
/// embassies and consulates).
const PLATE_PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领";
/// Characters that end special plates (coach, police, trailer, HK/Macao, consulate, test, over-size).
const PLATE_SUFFIXES: &str = "学警挂港澳领试超";
/// Plate letters: capitals without I and O.
fn plate_letter(c: u8) -> bool {
    c.is_ascii_uppercase() && c != b'I' && c != b'O'
}

/// Words that label a name and may be glued to it (姓名张三).
const NAME_KEYS: [&str; 13] = [
    "真实姓名",
    "法定代表人",
    "姓名",
    "名字",
    "联系人",
    "收件人",
    "收货人",
    "持卡人",
    "户主",
    "申请人",
    "患者",
    "客户",
    "法人",
];
/// Labels that may follow a name without punctuation (张三电话).
const NAME_TAILS: [&str; 9] = [
    "电话",
    "手机",
    "身份证",
    "证件",
    "地址",
    "性别",
    "年龄",
    "邮箱",
    "卡号",
];
/// Characters that mark the street-level part of an address.
pub(crate) const ADDRESS_DETAIL: &str = "路街巷弄道村镇乡号栋幢楼室组苑园厦";
/// Detail characters that follow a number (88号, 3栋, 1201室).
const ADDRESS_NUMBERED: &str = "号栋幢楼室组弄";

/// What the context says about a candidate.
enum Ctx {
    Raise(&'static str),
    Lower(&'static str),
    None,
}

struct Run<'a> {
    sc: &'a Scanner,
    b: &'a [u8],
    /// Kinds the surrounding field's name raises and lowers.
    field: (KindSet, KindSet),
    out: &'a mut ScanOutput,
    /// Every token goes to `token` (no prefilters beyond the trigger bytes):
    /// the reference the fast paths are tested against.
    reference: bool,
}

impl Run<'_> {
    fn on(&self, k: Kind) -> bool {
        self.sc.cfg.kinds.contains(k)
    }

    fn run(&mut self) {
        let n = self.b.len();
        let (mut i, mut floor) = (0, 0);
        #[cfg(target_arch = "x86_64")]
        while i + 64 <= n {
            (i, floor) = self.block(i, floor);
        }
        while i < n {
            (i, floor) = self.step(i, floor);
        }
    }

    /// The byte-at-a-time loop alone: the reference the block loop is tested against.
    fn run_reference(&mut self) {
        let n = self.b.len();
        let (mut i, mut floor) = (0, 0);
        while i < n {
            (i, floor) = self.step(i, floor);
        }
    }

    /// Handles the first trigger at or after `i`; returns the new cursor and
    /// floor (bytes before the floor belong to a token already dispatched).
    fn step(&mut self, i: usize, floor: usize) -> (usize, usize) {
        let b = self.b;
        let n = b.len();
        let i = next_trigger(b, i);
        if i >= n {
            return (n, floor);
        }
        if !b[i].is_ascii_digit() {
            return self.trigger(i, floor);
        }
        let mut s = i;
        while s > floor && is_alnum(b[s - 1]) {
            s -= 1;
        }
        let mut digits = 1 + b[s..i].iter().filter(|c| c.is_ascii_digit()).count();
        let mut e = i + 1;
        while e < n {
            let k = CLASS[b[e] as usize];
            if k & ALNUM == 0 {
                break;
            }
            digits += (k & DIGIT) as usize;
            e += 1;
        }
        if !self.reference && !token_may_matter(b, s, e, digits) {
            return (e, e);
        }
        let next = self.token(s, e, digits).max(e);
        (next, next)
    }

    /// Handles a trigger that is not a digit (non-ASCII, `@`, `-`, `_`) at `i`.
    fn trigger(&mut self, i: usize, floor: usize) -> (usize, usize) {
        let b = self.b;
        let c = b[i];
        if c >= 0x80 {
            let mut e = i + 1;
            while e < b.len() && b[e] >= 0x80 {
                e += 1;
            }
            let next = self.high_run(i, e).max(e);
            return (next, next);
        }
        let next = match c {
            b'@' => self.at_sign(i),
            b'-' => self.dash(i),
            _ => self.underscore(i),
        };
        (next.max(i + 1), floor.max(next))
    }

    /// 64 bytes at `i` at once (x86-64): classify them into bit masks, skip
    /// every short digit run that nothing can continue without looking at it
    /// byte by byte, and hand the first event (a token that may be a
    /// candidate, a non-ASCII run, `@`, `--`, `_`) to the byte-at-a-time code.
    /// Same results as `step` alone (a property test compares them).
    #[cfg(target_arch = "x86_64")]
    fn block(&mut self, i: usize, floor: usize) -> (usize, usize) {
        let b = self.b;
        let m = Masks::at(b, i);
        let alnum = m.digit | m.letter;
        let starts = alnum & !(alnum << 1);
        // Positions from which a digit is reachable within the same token
        // (parallel prefix over the alphanumeric runs).
        let (mut reach, mut run) = (m.digit, alnum);
        for k in [1, 2, 4, 8, 16, 32] {
            reach |= (reach >> k) & run;
            run &= run >> k;
        }
        // '-' matters only as the start of "-----BEGIN"; the last byte's
        // neighbour is in the next block, so it is always looked at.
        let events_all =
            m.at | m.underscore | (m.dash & ((m.dash >> 1) | 1 << 63)) | (m.high & !(m.high << 1));
        // Events are handled in this block's masks until a handler moves past it.
        let (mut cur, mut floor) = (i, floor);
        'events: loop {
            let off = (cur - i) as u32;
            let valid = u64::MAX << off;
            // A cursor inside a run starts a token there (as the byte loop's floor does).
            let mut tokens = (starts | (alnum & (1 << off))) & reach & valid;
            // …and a cursor inside a non-ASCII run starts a run there.
            let first_event = ((events_all | (m.high & (1 << off))) & valid).trailing_zeros();
            while tokens != 0 {
                let p = tokens.trailing_zeros();
                if p >= first_event {
                    break;
                }
                tokens &= tokens - 1;
                let len = (!(alnum >> p)).trailing_zeros();
                if p + len >= 64 {
                    // Runs on into the next block: let the byte loop take it whole.
                    return self.step(i + p as usize, i + p as usize);
                }
                let e = p + len;
                let span = ((1u64 << len) - 1) << p;
                let digits = (m.digit & span).count_ones() as usize;
                if !token_may_matter(b, i + p as usize, i + e as usize, digits) {
                    continue;
                }
                let (s, e) = (i + p as usize, i + e as usize);
                let next = self.token(s, e, digits).max(e);
                if next >= i + 64 {
                    return (next, next);
                }
                (cur, floor) = (next, next);
                continue 'events;
            }
            if first_event < 64 {
                let (next, f) = self.trigger(i + first_event as usize, floor);
                if next >= i + 64 {
                    return (next, f);
                }
                (cur, floor) = (next, f);
                continue 'events;
            }
            break;
        }
        if alnum >> 63 == 1 {
            // Keep a trailing alphanumeric run whole for the next block.
            let tail = (!alnum).leading_zeros() as usize;
            if i + 64 - tail <= cur {
                // The cursor is inside that run: the byte loop takes it from there.
                return self.step(cur, cur);
            }
            return (i + 64 - tail, floor);
        }
        (i + 64, floor)
    }

    /// Records a finding after applying context; `base` is the validated confidence.
    fn emit(&mut self, kind: Kind, start: usize, end: usize, base: f32, reasons: &[Reason]) {
        if !self.on(kind) {
            return;
        }
        let conf = &self.sc.t.conf;
        if base + conf.context_bonus < self.sc.min {
            return;
        }
        let mut c = base;
        let extra = match self.context(kind, start, end, base < self.sc.min) {
            Ctx::Raise(word) => {
                c = (c + conf.context_bonus).min(0.99);
                Some(Reason::Context(word))
            }
            Ctx::Lower(word) => {
                c -= conf.context_penalty;
                Some(Reason::AntiContext(word))
            }
            Ctx::None => None,
        };
        if c < self.sc.min {
            return;
        }
        if self.out.findings.len() >= self.sc.cfg.max_findings {
            self.out.truncated = true;
            return;
        }
        self.out.findings.push(Finding {
            kind,
            start,
            end,
            confidence: c,
            reasons: Reasons::new(reasons, extra),
        });
    }

    /// The context of `kind` near `start..end` (or in the field name): a word
    /// that raises it wins over one that lowers it. With `raise_only` (the
    /// candidate is below the threshold) only raising words are looked for.
    fn context(&self, kind: Kind, start: usize, end: usize, raise_only: bool) -> Ctx {
        if self.field.0.contains(kind) {
            return Ctx::Raise("field");
        }
        let Some(kc) = &self.sc.t.context_by_kind[kind as usize] else {
            return Ctx::None;
        };
        let b = self.b;
        let ws = start.saturating_sub(self.sc.cfg.context_before);
        let we = (end + self.sc.cfg.context_after).min(b.len());
        let mut lower = self.field.1.contains(kind).then_some("field");
        for (lo, hi) in [(ws, start), (end, we)] {
            if raise_only {
                for m in kc.raise_ac.find_iter(&b[lo..hi]) {
                    let word = kc.raise_words[m.pattern().as_usize()];
                    if ascii_word_start(b, lo + m.start(), word) {
                        return Ctx::Raise(word);
                    }
                }
                continue;
            }
            for m in kc.ac.find_iter(&b[lo..hi]) {
                let (raises, word) = kc.words[m.pattern().as_usize()];
                if !ascii_word_start(b, lo + m.start(), word) {
                    continue;
                }
                if raises {
                    return Ctx::Raise(word);
                }
                lower = lower.or(Some(word));
            }
        }
        lower.map_or(Ctx::None, Ctx::Lower)
    }

    // ---- tokens ----------------------------------------------------------

    /// Dispatches one maximal alphanumeric token holding at least one digit;
    /// returns where scanning resumes. Not inlined: the loops that call it
    /// stay small (they run once per digit run, this only for the tokens that
    /// pass `token_may_matter`).
    #[inline(never)]
    fn token(&mut self, s: usize, e: usize, digits: usize) -> usize {
        let b = self.b;
        let len = e - s;
        let t = &b[s..e];
        let prev = if s > 0 { b[s - 1] } else { b' ' };
        let next = b.get(e).copied().unwrap_or(b' ');
        let after = b.get(e + 1).copied().unwrap_or(b' ');
        // A token glued to a decimal point is part of a longer number (3.14159…).
        let dotted = (prev == b'.' && s >= 2 && b[s - 2].is_ascii_digit())
            || (next == b'.' && after.is_ascii_digit());
        if digits == len {
            if !dotted {
                let found = match len {
                    18 => {
                        self.resident_id(s, e, t) || self.uscc(s, e, t) || self.bank_card(s, e, t)
                    }
                    15 => {
                        self.resident_id15(s, e, t)
                            || (t.starts_with(b"0086") && self.mobile(s, e, &t[4..], true))
                    }
                    11 => match self.prefix86(s) {
                        Some(p) => self.mobile(p, e, t, true),
                        None => self.mobile(s, e, t, false),
                    },
                    13 if t.starts_with(b"86") && prev == b'+' => {
                        self.mobile(s - 1, e, &t[2..], true)
                    }
                    16 | 17 | 19 => self.bank_card(s, e, t),
                    8 => self.taiwan_permit(s, e, t),
                    _ => false,
                };
                if found || (prev == 0xB7 && self.plate(s, e, t)) {
                    return e;
                }
                if (next == b' ' || next == b'-')
                    && after.is_ascii_digit()
                    && matches!(len, 2..=4 | 6)
                {
                    if let Some(end) = self.grouped(s, e, next) {
                        return end;
                    }
                }
            }
            if len <= 3 && next == b'.' && prev != b'.' {
                if let Some(end) = self.ipv4(s) {
                    return end;
                }
            }
        } else {
            let found = match len {
                18 => {
                    (digits == 17 && matches!(t[17], b'X' | b'x') && self.resident_id(s, e, t))
                        || self.uscc(s, e, t)
                }
                9 | 11 => self.travel_doc(s, e, t),
                _ => false,
            } || self.cloud_key(s, e, t)
                || self.plate(s, e, t);
            if found {
                return e;
            }
            // A JWT's header (or payload, after a dot) starts with eyJ: base64 of '{"'.
            if t.starts_with(b"eyJ") {
                if let Some(end) = self.jwt(s) {
                    return end;
                }
            }
        }
        // Once per candidate: at its first group, or at the group after a "::".
        let first_group = next == b':' && !(prev == b':' || prev.is_ascii_hexdigit());
        let after_gap = prev == b':' && s >= 2 && b[s - 2] == b':';
        if (first_group || after_gap) && len <= 4 {
            if let Some(end) = self.ipv6(s) {
                return end;
            }
        }
        e
    }

    /// Where a `+86`, `(+86)` or `0086` prefix (and one space or dash) written
    /// right before `s` starts, if there is one.
    fn prefix86(&self, s: usize) -> Option<usize> {
        let b = self.b;
        let mut p = s;
        if p > 0 && matches!(b[p - 1], b' ' | b'-') {
            p -= 1;
        }
        let paren = p > 0 && b[p - 1] == b')';
        if paren {
            p -= 1;
        }
        if b[..p].ends_with(b"+86") {
            let q = p - 3;
            return Some(if paren && q > 0 && b[q - 1] == b'(' {
                q - 1
            } else {
                q
            });
        }
        (!paren && b[..p].ends_with(b"0086") && !(p > 4 && b[p - 5].is_ascii_digit()))
            .then(|| p - 4)
    }

    fn resident_id(&mut self, s: usize, e: usize, t: &[u8]) -> bool {
        if !self.on(Kind::CnResidentId) {
            return false;
        }
        let last = if t[17] == b'x' { b'X' } else { t[17] };
        if gb11643_check(&t[..17]) != Some(last) {
            return false;
        }
        let date = num(&t[6..14]);
        if !valid_birth_date(date / 10000, date / 100 % 100, date % 100, self.sc.today) {
            return false;
        }
        let Some((base, region)) = self.region(&t[..6], true) else {
            return false;
        };
        let reasons = [
            Reason::Checksum("GB 11643"),
            region,
            Reason::BirthDate(date),
        ];
        self.emit(Kind::CnResidentId, s, e, base, &reasons);
        true
    }

    fn resident_id15(&mut self, s: usize, e: usize, t: &[u8]) -> bool {
        if !self.on(Kind::CnResidentId) {
            return false;
        }
        let yymmdd = num(&t[6..12]);
        let date = 19_000_000 + yymmdd;
        // Legacy numbers were issued until 2004 to people born in the 1900s.
        if !valid_birth_date(date / 10000, date / 100 % 100, date % 100, self.sc.today) {
            return false;
        }
        let Some((_, region)) = self.region(&t[..6], false) else {
            return false;
        };
        let base = self.sc.t.conf.id15;
        self.emit(
            Kind::CnResidentId,
            s,
            e,
            base,
            &[Reason::Legacy15, region, Reason::BirthDate(date)],
        );
        true
    }

    /// The confidence a region code allows and its reason. Old cards keep the
    /// codes of abolished counties, so only the province is checked strictly.
    fn region(&self, code: &[u8], id18: bool) -> Option<(f32, Reason)> {
        let t = self.sc.t;
        let c = num(code);
        let prov = t.provinces[(c / 10000) as usize]?;
        let conf = &t.conf;
        // Residence permits of HK, Macao and Taiwan residents use exactly 810000/820000/830000.
        if c / 10000 >= 81 {
            return c
                .is_multiple_of(10000)
                .then_some((conf.id18_full, Reason::Region(prov)));
        }
        if c / 10000 == 71 {
            return Some((conf.id18_unknown_county, Reason::Region(prov)));
        }
        let full = if id18 { conf.id18_full } else { conf.id15 };
        if let Some(name) = t.counties.get(&c) {
            return Some((full, Reason::Region(name)));
        }
        let city = t.cities.get(&((c / 100) as u16));
        match (city, c.is_multiple_of(100)) {
            (Some(name), true) => Some((full, Reason::Region(name))),
            (Some(_), false) => Some((
                if id18 {
                    conf.id18_unknown_county
                } else {
                    conf.id15
                },
                Reason::RegionCountyUnknown(prov),
            )),
            (None, _) => Some((
                if id18 {
                    conf.id18_unknown_city
                } else {
                    conf.id15 - 0.1
                },
                Reason::RegionCityUnknown(prov),
            )),
        }
    }

    /// An 11-digit mobile number `d` written at `start..e` (the span takes in
    /// any +86 prefix).
    fn mobile(&mut self, start: usize, e: usize, d: &[u8], prefixed: bool) -> bool {
        if !self.on(Kind::CnMobile) || d.len() != 11 || d[0] != b'1' {
            return false;
        }
        let Some(carrier) = self.sc.t.mobile[num(&d[1..3]) as usize] else {
            return false;
        };
        let conf = &self.sc.t.conf;
        let (base, reasons): (f32, &[Reason]) = if prefixed {
            (
                conf.mobile_prefixed,
                &[Reason::MobileSegment(carrier), Reason::CountryPrefix],
            )
        } else {
            (conf.mobile, &[Reason::MobileSegment(carrier)])
        };
        self.emit(Kind::CnMobile, start, e, base, reasons);
        true
    }

    fn bank_card(&mut self, s: usize, e: usize, d: &[u8]) -> bool {
        if !self.on(Kind::BankCard) || !(16..=19).contains(&d.len()) || !luhn_valid(d) {
            return false;
        }
        // 18 digits with an ID's region and birth date are an ID number with a
        // wrong check digit (a typo or a fake), not a card: 1 in 10 pass Luhn.
        if d.len() == 18 && self.sc.t.provinces[num(&d[..2]) as usize].is_some() {
            let date = num(&d[6..14]);
            if valid_birth_date(date / 10000, date / 100 % 100, date % 100, self.sc.today) {
                return false;
            }
        }
        let conf = &self.sc.t.conf;
        let (base, reason) = match self.sc.t.issuer(d) {
            Some(i) if i.strong => (conf.card_strong, Reason::Issuer(i.network)),
            Some(i) => (conf.card_known, Reason::Issuer(i.network)),
            None => (conf.card_luhn_only, Reason::IssuerUnknown),
        };
        self.emit(
            Kind::BankCard,
            s,
            e,
            base,
            &[Reason::Checksum("Luhn"), reason],
        );
        true
    }

    fn taiwan_permit(&mut self, s: usize, e: usize, t: &[u8]) -> bool {
        if !self.on(Kind::TaiwanPermit) {
            return false;
        }
        // Eight-digit dates (20240115) are far more common than permits.
        let d = num(t);
        if valid_birth_date(d / 10000, d / 100 % 100, d % 100, 21_000_000) {
            return false;
        }
        let before = self.out.findings.len();
        self.emit(
            Kind::TaiwanPermit,
            s,
            e,
            self.sc.t.conf.taiwan_permit,
            &[Reason::Format],
        );
        self.out.findings.len() > before
    }

    /// Digits written in groups with one kind of separator: 138 0013 8000,
    /// 6222-0200-0000-0000-000, +86 138 0013 8000, 110101 19900307 803X is not taken.
    fn grouped(&mut self, s: usize, e: usize, sep: u8) -> Option<usize> {
        let b = self.b;
        let mut d = [0u8; 24];
        let mut nd = 0;
        let mut groups = [0u8; 8];
        let mut ng = 0;
        let (mut gs, mut ge) = (s, e);
        loop {
            let g = ge - gs;
            if ng == groups.len() || nd + g > d.len() || !b[gs..ge].iter().all(u8::is_ascii_digit) {
                return None;
            }
            d[nd..nd + g].copy_from_slice(&b[gs..ge]);
            nd += g;
            groups[ng] = g as u8;
            ng += 1;
            if b.get(ge) == Some(&sep) && b.get(ge + 1).is_some_and(u8::is_ascii_digit) {
                gs = ge + 1;
                ge = gs;
                while ge < b.len() && is_alnum(b[ge]) {
                    ge += 1;
                }
                // Every accepted layout has a second group of 3, 4 or 10-13 digits;
                // dates and times (2026-12-06, 12 34) leave here.
                if ng == 1 && !matches!(ge - gs, 3 | 4 | 10..=13) {
                    return None;
                }
            } else {
                break;
            }
        }
        let groups = &groups[..ng];
        let digits = &d[..nd];
        // A group glued to a decimal point or a letter is not a plain number.
        if b.get(ge) == Some(&b'.') && b.get(ge + 1).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let prefixed_plus = s > 0 && b[s - 1] == b'+';
        let found = match groups {
            [3, 4, 4] => match self.prefix86(s) {
                Some(p) => self.mobile(p, ge, digits, true),
                None => self.mobile(s, ge, digits, false),
            },
            [2, 3, 4, 4] if prefixed_plus && digits.starts_with(b"86") => {
                self.mobile(s - 1, ge, &digits[2..], true)
            }
            [4, 3, 4, 4] if digits.starts_with(b"0086") => self.mobile(s, ge, &digits[4..], true),
            [2, 11] if prefixed_plus && digits.starts_with(b"86") => {
                self.mobile(s - 1, ge, &digits[2..], true)
            }
            [4, 4, 4, 4] | [4, 4, 4, 4, 1..=3] | [6, 10..=13] => self.bank_card(s, ge, digits),
            _ => false,
        };
        found.then_some(ge)
    }

    fn ipv4(&mut self, s: usize) -> Option<usize> {
        if !self.on(Kind::Ipv4) {
            return None;
        }
        let b = self.b;
        let mut p = s;
        let mut oct = [0u8; 4];
        for (k, o) in oct.iter_mut().enumerate() {
            let q = p;
            while p < b.len() && p - q < 4 && b[p].is_ascii_digit() {
                p += 1;
            }
            let g = &b[q..p];
            if g.is_empty() || g.len() > 3 || (g.len() > 1 && g[0] == b'0') {
                return None;
            }
            *o = u8::try_from(num(g)).ok()?;
            if k < 3 {
                if b.get(p) != Some(&b'.') {
                    return None;
                }
                p += 1;
            }
        }
        // Part of a longer dotted run (1.2.3.4.5, an OID) or glued to letters.
        let next = b.get(p).copied().unwrap_or(b' ');
        if is_alnum(next) || (next == b'.' && b.get(p + 1).is_some_and(u8::is_ascii_digit)) {
            return Some(p);
        }
        let ip = Ipv4Addr::from(oct);
        let conf = &self.sc.t.conf;
        let special = ip.is_private()
            || ip.is_loopback()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_documentation()
            || oct[0] >= 224
            || (oct[0] == 100 && (64..128).contains(&oct[1]));
        let (base, reasons) = if special {
            (conf.ipv4_special, &[Reason::Format, Reason::IpSpecial][..])
        } else {
            (conf.ipv4, &[Reason::Format][..])
        };
        self.emit(Kind::Ipv4, s, p, base, reasons);
        Some(p)
    }

    fn ipv6(&mut self, s: usize) -> Option<usize> {
        if !self.on(Kind::Ipv6) {
            return None;
        }
        let b = self.b;
        let hexc = |c: u8| c.is_ascii_hexdigit() || c == b':';
        let mut cs = s;
        while cs > 0 && s - cs < 40 && hexc(b[cs - 1]) {
            cs -= 1;
        }
        if cs > 0 && (is_alnum(b[cs - 1]) || b[cs - 1] == b':') {
            return None;
        }
        let mut ce = s;
        while ce < b.len() && ce - cs < 45 && (hexc(b[ce]) || b[ce] == b'.') {
            ce += 1;
        }
        while ce > cs && b[ce - 1] == b'.' {
            ce -= 1;
        }
        if ce < b.len() && (is_alnum(b[ce]) || b[ce] == b':') {
            return None;
        }
        let cand = &b[cs..ce];
        let colons = cand.iter().filter(|c| **c == b':').count();
        if colons < 2 || (colons < 7 && memmem::find(cand, b"::").is_none()) {
            return None;
        }
        let ip: Ipv6Addr = std::str::from_utf8(cand).ok()?.parse().ok()?;
        // Words that happen to be hex (dead::beef) without a digit are not addresses.
        if !cand.iter().any(u8::is_ascii_digit) {
            return None;
        }
        let seg = ip.segments();
        let special = ip.is_loopback()
            || ip.is_unspecified()
            || (seg[0] & 0xffc0) == 0xfe80
            || (seg[0] & 0xfe00) == 0xfc00
            || (seg[0] == 0x2001 && seg[1] == 0x0db8);
        let conf = &self.sc.t.conf;
        let (base, reasons) = if special {
            (conf.ipv4_special, &[Reason::Format, Reason::IpSpecial][..])
        } else {
            (conf.ipv6, &[Reason::Format][..])
        };
        self.emit(Kind::Ipv6, cs, ce, base, reasons);
        Some(ce)
    }

    fn uscc(&mut self, s: usize, e: usize, t: &[u8]) -> bool {
        if !self.on(Kind::Uscc) {
            return false;
        }
        // The registering authority and the organisation type it allows
        // (GB 32100-2015 表 1), then a six-digit region code.
        let types: &[u8] = match t[0] {
            b'1' | b'5' => b"1239",
            b'2' | b'3' | b'4' | b'6' | b'7' | b'8' | b'A' | b'N' => b"12359",
            b'9' => b"123",
            b'Y' => b"1",
            _ => return false,
        };
        if !types.contains(&t[1]) || !t[2..8].iter().all(u8::is_ascii_digit) {
            return false;
        }
        if gb32100_check(&t[..17]) != Some(t[17]) {
            return false;
        }
        let region = num(&t[2..8]);
        let prov = (region / 10000) as usize;
        // 10xxxx: registered with a national authority; 71-83 are not mainland
        // registration regions (the table has them for ID numbers only).
        let Some(prov) = (if prov == 10 {
            Some("全国")
        } else if prov >= 71 {
            None
        } else {
            self.sc.t.provinces[prov]
        }) else {
            return false;
        };
        let org_ok = gb11714_valid(&t[8..17]);
        // An all-digit code is the old numeric organisation code, which always
        // carries its own GB 11714 check, and was issued by a known prefecture;
        // requiring both keeps 18-digit order numbers (1 in 31 pass the outer
        // check) out.
        if t.iter().all(u8::is_ascii_digit) {
            let city_known = region.is_multiple_of(10000)
                || self.sc.t.cities.contains_key(&((region / 100) as u16));
            if !org_ok || !city_known {
                return false;
            }
        }
        let reasons = [
            Reason::Checksum("GB 32100"),
            Reason::Region(prov),
            Reason::OrgCodeChecksum,
        ];
        let n = if org_ok { 3 } else { 2 };
        self.emit(Kind::Uscc, s, e, self.sc.t.conf.uscc, &reasons[..n]);
        true
    }

    /// Passports (E/G + 8 digits, E + letter + 7, DE/SE/PE + 7) and the Hong
    /// Kong/Macao permits (C/H/M + 8 digits, H/M + 10 for the older cards).
    fn travel_doc(&mut self, s: usize, e: usize, t: &[u8]) -> bool {
        let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
        let conf = &self.sc.t.conf;
        let (kind, base) = match (t.len(), t[0], t[1]) {
            (9, b'E' | b'G', _) if digits(&t[1..]) => (Kind::Passport, conf.passport),
            (9, b'E', l) if plate_letter(l) && digits(&t[2..]) => (Kind::Passport, conf.passport),
            (9, b'D' | b'S' | b'P', b'E') if digits(&t[2..]) => (Kind::Passport, conf.passport),
            (9, b'C' | b'H' | b'M', _) if digits(&t[1..]) => {
                (Kind::HkMacaoPermit, conf.hk_macao_permit)
            }
            (11, b'H' | b'M', _) if digits(&t[1..]) => (Kind::HkMacaoPermit, conf.hk_macao_permit),
            _ => return false,
        };
        if !self.on(kind) {
            return false;
        }
        self.emit(kind, s, e, base, &[Reason::Format]);
        true
    }

    fn cloud_key(&mut self, s: usize, e: usize, t: &[u8]) -> bool {
        if !self.on(Kind::CloudAccessKey) || t.len() < 16 {
            return false;
        }
        let upper_digits = |r: &[u8]| {
            r.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        };
        let issuer = match &t[..4] {
            b"AKIA" | b"ASIA" if t.len() == 20 && upper_digits(t) => "AWS",
            b"LTAI" if (16..=30).contains(&t.len()) => "Alibaba Cloud",
            b"AKID" if t.len() == 36 => "Tencent Cloud",
            _ => return false,
        };
        self.emit(
            Kind::CloudAccessKey,
            s,
            e,
            self.sc.t.conf.cloud_key,
            &[Reason::SecretIssuer(issuer)],
        );
        true
    }

    /// A plate: province character, city letter, five or six characters (or
    /// four and a special character), the letter glued to the token or
    /// written before a middle dot (粤B·12345).
    fn plate(&mut self, s: usize, e: usize, t: &[u8]) -> bool {
        if !self.on(Kind::CnPlate) || !(4..=7).contains(&t.len()) {
            return false;
        }
        let b = self.b;
        let dotted = s >= 6 && b[s - 2..s] == [0xC2, 0xB7] && plate_letter(b[s - 3]);
        let (start, r) = if dotted {
            (s - 6, t)
        } else if s >= 3 && plate_letter(t[0]) {
            (s - 3, &t[1..])
        } else {
            return false;
        };
        let province = std::str::from_utf8(&b[start..start + 3])
            .ok()
            .and_then(|x| x.chars().next());
        if !province.is_some_and(|p| PLATE_PROVINCES.contains(p)) {
            return false;
        }
        let ok = |c: &u8| c.is_ascii_digit() || plate_letter(*c);
        let ndig = r.iter().filter(|c| c.is_ascii_digit()).count();
        let suffix = std::str::from_utf8(b.get(e..e + 3).unwrap_or(b""))
            .ok()
            .and_then(|x| x.chars().next())
            .filter(|c| PLATE_SUFFIXES.contains(*c));
        let (valid, end) = match r.len() {
            5 => (r.iter().all(ok) && ndig >= 3, e),
            // New-energy plates: D/F (or A-K) then five, or five digits then D/F.
            6 => (
                (matches!(r[0], b'A'..=b'H' | b'J' | b'K')
                    && ok(&r[1])
                    && r[2..].iter().all(u8::is_ascii_digit))
                    || (r[..5].iter().all(u8::is_ascii_digit) && matches!(r[5], b'D' | b'F')),
                e,
            ),
            4 if suffix.is_some() => (r.iter().all(ok) && ndig >= 3, e + 3),
            _ => (false, e),
        };
        if !valid {
            return false;
        }
        self.emit(
            Kind::CnPlate,
            start,
            end,
            self.sc.t.conf.plate,
            &[Reason::Format],
        );
        true
    }

    /// A JWT starting at or before `s` (three base64url segments, the header JSON with `alg`).
    fn jwt(&mut self, s: usize) -> Option<usize> {
        use base64::Engine;
        if !self.on(Kind::Jwt) {
            return None;
        }
        let b = self.b;
        let seg_start = |mut p: usize| {
            let q = p;
            while p > 0 && q - p < 4096 && is_b64url(b[p - 1]) {
                p -= 1;
            }
            p
        };
        let mut st = seg_start(s);
        if st >= 1 && b[st - 1] == b'.' {
            // Maybe the payload: the header is the segment before the dot.
            let h = seg_start(st - 1);
            if b[h..].starts_with(b"eyJ") {
                st = h;
            }
        }
        if !b[st..].starts_with(b"eyJ") || (st > 0 && (is_b64url(b[st - 1]) || b[st - 1] == b'.')) {
            return None;
        }
        let seg_end = |mut p: usize| {
            let q = p;
            while p < b.len() && p - q < 8192 && is_b64url(b[p]) {
                p += 1;
            }
            p
        };
        let h_end = seg_end(st);
        if b.get(h_end) != Some(&b'.') || !b[h_end + 1..].starts_with(b"eyJ") {
            return None;
        }
        let p_end = seg_end(h_end + 1);
        if b.get(p_end) != Some(&b'.') {
            return None;
        }
        let end = seg_end(p_end + 1);
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&b[st..h_end])
            .ok()?;
        if !header.starts_with(b"{") || memmem::find(&header, b"\"alg\"").is_none() {
            return None;
        }
        self.emit(Kind::Jwt, st, end, self.sc.t.conf.jwt, &[Reason::JwtHeader]);
        Some(end)
    }

    // ---- punctuation triggers -------------------------------------------

    fn at_sign(&mut self, a: usize) -> usize {
        let b = self.b;
        // scheme://user:password@host — the password is the finding.
        if self.on(Kind::UrlPassword) {
            let mut p = a;
            while p > 0
                && a - p < 256
                && !matches!(
                    b[p - 1],
                    b'/' | b'@' | b'"' | b'\'' | b'<' | b'>' | b' ' | b'\t' | b'\n' | b'\r'
                )
            {
                p -= 1;
            }
            if p >= 3 && &b[p - 3..p] == b"://" {
                // A password written with a raw '@' in it: the userinfo ends at
                // the last '@' before the host's end.
                let host_end = b[a + 1..]
                    .iter()
                    .take(256)
                    .position(|c| {
                        matches!(
                            c,
                            b'/' | b'?'
                                | b'#'
                                | b'"'
                                | b'\''
                                | b'<'
                                | b'>'
                                | b' '
                                | b'\t'
                                | b'\n'
                                | b'\r'
                        )
                    })
                    .map_or((a + 257).min(b.len()), |q| a + 1 + q);
                let a = b[a..host_end]
                    .iter()
                    .rposition(|c| *c == b'@')
                    .map_or(a, |q| a + q);
                if let Some(c) = b[p..a].iter().position(|c| *c == b':') {
                    if p + c + 1 < a {
                        self.emit(
                            Kind::UrlPassword,
                            p + c + 1,
                            a,
                            self.sc.t.conf.url_password,
                            &[Reason::Format],
                        );
                    }
                }
                return a + 1;
            }
        }
        if !self.on(Kind::Email) {
            return a + 1;
        }
        let local =
            |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
        let mut ls = a;
        while ls > 0 && a - ls < 64 && local(b[ls - 1]) {
            ls -= 1;
        }
        while ls < a && matches!(b[ls], b'.' | b'-') {
            ls += 1;
        }
        if ls == a || b[a - 1] == b'.' {
            return a + 1;
        }
        // Domain: labels of letters, digits and hyphens; a TLD of two or more letters.
        let mut p = a + 1;
        let mut labels = 0;
        let mut last_label = (p, p);
        let mut end = p;
        loop {
            let q = p;
            while p < b.len() && p - q < 63 && (b[p].is_ascii_alphanumeric() || b[p] == b'-') {
                p += 1;
            }
            if p == q {
                break;
            }
            labels += 1;
            last_label = (q, p);
            end = p;
            if p - a > 253
                || b.get(p) != Some(&b'.')
                || !b.get(p + 1).is_some_and(u8::is_ascii_alphanumeric)
            {
                break;
            }
            p += 1;
        }
        let tld = &b[last_label.0..last_label.1];
        if labels < 2
            || tld.len() < 2
            || !(tld.iter().all(u8::is_ascii_alphabetic) || tld.starts_with(b"xn--"))
        {
            return a + 1;
        }
        self.emit(
            Kind::Email,
            ls,
            end,
            self.sc.t.conf.email,
            &[Reason::Format],
        );
        end
    }

    fn dash(&mut self, i: usize) -> usize {
        const BEGIN: &[u8] = b"-----BEGIN ";
        let b = self.b;
        // Most dashes are in dates and words; two in a row are rare enough to compare further.
        if b.get(i + 1) != Some(&b'-') || !self.on(Kind::PrivateKey) || !b[i..].starts_with(BEGIN) {
            return i + 1;
        }
        let hs = i + BEGIN.len();
        let Some(he) = memmem::find(&b[hs..(hs + 48).min(b.len())], b"-----").map(|p| hs + p)
        else {
            return i + 1;
        };
        let label = &b[hs..he];
        let issuer = match label {
            b"PRIVATE KEY" => "PKCS#8",
            b"ENCRYPTED PRIVATE KEY" => "PKCS#8 (encrypted)",
            b"RSA PRIVATE KEY" => "RSA",
            b"EC PRIVATE KEY" => "EC",
            b"DSA PRIVATE KEY" => "DSA",
            b"OPENSSH PRIVATE KEY" => "OpenSSH",
            b"PGP PRIVATE KEY BLOCK" => "PGP",
            _ => return he + 5,
        };
        let limit = (he + self.sc.cfg.max_pem_bytes).min(b.len());
        let end = memmem::find(&b[he..limit], b"-----END ")
            .and_then(|p| {
                let q = he + p + 9;
                memmem::find(&b[q..(q + 48).min(b.len())], b"-----").map(|r| q + r + 5)
            })
            .unwrap_or(he + 5);
        self.emit(
            Kind::PrivateKey,
            i,
            end,
            self.sc.t.conf.private_key,
            &[Reason::SecretIssuer(issuer)],
        );
        end
    }

    fn underscore(&mut self, i: usize) -> usize {
        let b = self.b;
        if !self.on(Kind::GithubToken) || i < 3 {
            return i + 1;
        }
        let word_start = |p: usize| p == 0 || !is_alnum(b[p - 1]);
        let run = |p: usize, extra: u8| {
            b[p..]
                .iter()
                .take_while(|c| is_alnum(**c) || **c == extra)
                .count()
        };
        // ghp_ (personal), gho_ (OAuth), ghu_/ghs_ (app), ghr_ (refresh) + 36 characters.
        if matches!(&b[i - 3..i], b"ghp" | b"gho" | b"ghu" | b"ghs" | b"ghr") && word_start(i - 3) {
            let n = run(i + 1, 0);
            if n == 36 {
                self.emit(
                    Kind::GithubToken,
                    i - 3,
                    i + 37,
                    self.sc.t.conf.github_token,
                    &[Reason::SecretIssuer("GitHub")],
                );
                return i + 37;
            }
        } else if i >= 6
            && &b[i - 6..i] == b"github"
            && word_start(i - 6)
            && b[i..].starts_with(b"_pat_")
        {
            let n = run(i + 5, b'_');
            if (70..=100).contains(&n) {
                self.emit(
                    Kind::GithubToken,
                    i - 6,
                    i + 5 + n,
                    self.sc.t.conf.github_token,
                    &[Reason::SecretIssuer("GitHub")],
                );
                return i + 5 + n;
            }
        }
        i + 1
    }

    // ---- Chinese text -----------------------------------------------------

    /// A run of non-ASCII bytes `s..e`: addresses and names. Returns where scanning resumes.
    fn high_run(&mut self, s: usize, e: usize) -> usize {
        let mut resume = e;
        let mut names_until = e;
        if self.on(Kind::Address) && e - s >= 6 && self.address_detail_near(s, e) {
            let t = self.sc.t;
            for m in t.admin.find_iter(&self.b[s..e]) {
                if let Some(end) = self.address(s + m.start()) {
                    names_until = s + m.start();
                    resume = resume.max(end);
                    break;
                }
            }
        }
        if self.on(Kind::PersonName) {
            self.names(s, names_until);
        }
        resume
    }

    /// Whether a street-level character (路, 号 …), which every address needs,
    /// is in the run or shortly after it: most Chinese text has none, and this
    /// is cheaper than looking for administrative names.
    fn address_detail_near(&self, s: usize, e: usize) -> bool {
        let b = self.b;
        let lim = (e + 24).min(b.len());
        let mut p = s;
        while p < lim {
            match ideograph_at(b, p) {
                Some(c) if self.sc.t.address_detail.contains(c) => return true,
                Some(_) => p += 3,
                None => p += 1,
            }
        }
        false
    }

    /// An address starting with the administrative name at `p`, if the text
    /// after it has street-level detail.
    fn address(&mut self, p: usize) -> Option<usize> {
        let b = self.b;
        let limit = (p + 192).min(b.len());
        let mut q = p;
        let mut levels = 0u8;
        let mut detail = false;
        let mut numbered = false;
        let mut last_detail = p;
        let mut prev_digit = false;
        while q < limit {
            if let Some(c) = ideograph_at(b, q) {
                if ADDRESS_NUMBERED.contains(c) && prev_digit {
                    numbered = true;
                }
                if ADDRESS_DETAIL.contains(c) {
                    detail = true;
                    last_detail = q + 3;
                } else if matches!(c, '省' | '市' | '区' | '县' | '旗' | '州') {
                    levels += 1;
                }
                prev_digit = false;
                q += 3;
            } else if b[q].is_ascii_alphanumeric() || b[q] == b'-' || b[q] == b'#' {
                prev_digit = b[q].is_ascii_digit();
                q += 1;
            } else {
                break;
            }
        }
        // Short names (北京, 广东) count as a level though they lack the suffix.
        let levels = levels.max(1);
        if !detail || !(levels >= 2 || numbered) {
            return None;
        }
        let conf = &self.sc.t.conf;
        let base =
            conf.address + if levels >= 2 { 0.1 } else { 0.0 } + if numbered { 0.1 } else { 0.0 };
        self.emit(
            Kind::Address,
            p,
            last_detail,
            base,
            &[Reason::AddressParts { levels, detail }],
        );
        Some(last_detail)
    }

    /// Names: a 2-4 character word of ideographs starting with a known surname,
    /// possibly glued to a label (姓名张三) or followed by one (张三电话).
    fn names(&mut self, s: usize, e: usize) {
        let b = self.b;
        let mut p = s;
        while p < e {
            let ws = p;
            while p < e && ideograph_at(b, p).is_some() {
                p += 3;
            }
            let (mut a, mut z) = (ws, p);
            // 2-4 character names, plus a label of up to 5 before and 3 after.
            if (6..=36).contains(&(z - a)) {
                let w = &b[a..z];
                // Compare the first character before the whole label (most words are not labels).
                let head = [w[0], w[1], w[2]];
                let label = |k: &&&str| k.as_bytes()[..3] == head && w.starts_with(k.as_bytes());
                if let Some(k) = NAME_KEYS.iter().find(label) {
                    a += k.len();
                }
                let last = [b[z - 3], b[z - 2], b[z - 1]];
                let tail = |k: &&&str| {
                    k.as_bytes()[k.len() - 3..] == last && b[a..z].ends_with(k.as_bytes())
                };
                if let Some(k) = NAME_TAILS.iter().find(tail) {
                    z -= k.len();
                }
                self.name(a, z);
            }
            if p == ws {
                // Skip one non-ideograph byte (punctuation, GBK, other scripts).
                p += 1;
            }
        }
    }

    fn name(&mut self, a: usize, z: usize) {
        let t = self.sc.t;
        let w = &self.b[a..z];
        let chars = w.len() / 3;
        let head = w.get(..3);
        let compound = t
            .compound_surnames
            .iter()
            .any(|c| head == c.as_bytes().get(..3) && w.starts_with(c.as_bytes()));
        let ok = if compound {
            (3..=4).contains(&chars)
        } else {
            (2..=3).contains(&chars) && ideograph_at(w, 0).is_some_and(|c| t.surnames.contains(c))
        };
        if ok {
            self.emit(
                Kind::PersonName,
                a,
                z,
                t.conf.person_name,
                &[Reason::Surname],
            );
        }
    }
}
