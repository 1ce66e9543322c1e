//! Sigma string values: wildcards, the escape rules of the specification and
//! the transformation modifiers (`contains`, `windash`, `base64`, `utf16`…).

use crate::error::RuleError;
use base64::Engine as _;

/// Stands for `\%` between parsing and the modifiers (a private-use
/// character no rule contains).
const ESCAPED_PERCENT: char = '\u{E000}';

/// One piece of a Sigma string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    /// `*`: any number of characters.
    Star,
    /// `?`: exactly one character.
    One,
    /// `%name%` under the `expand` modifier.
    Placeholder(String),
}

/// A value as the specification reads it: literal text with wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SigmaString {
    pub parts: Vec<Part>,
}

impl SigmaString {
    /// Reads a rule value with the escape rules of the specification:
    /// `\*` `\?` `\\` are a literal `*` `?` `\`; a backslash before any other
    /// character (or at the end) is itself literal. So `\\\*` is `\*` as
    /// plain text and both `\\\\` and `\\\` are a plain `\\`.
    pub fn parse(s: &str) -> SigmaString {
        let mut out = SigmaString::default();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => out.push_part(Part::Star),
                '?' => out.push_part(Part::One),
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        out.push_char(n);
                    }
                    // `\%` escapes a percent sign for `expand`; kept apart
                    // until we know whether `expand` applies.
                    Some('%') => {
                        chars.next();
                        out.push_char(ESCAPED_PERCENT);
                    }
                    _ => out.push_char('\\'),
                },
                c => out.push_char(c),
            }
        }
        out
    }

    /// Without `expand`, `\%` is just the two characters.
    pub fn restore_escaped_percent(mut self) -> SigmaString {
        for p in &mut self.parts {
            if let Part::Lit(l) = p {
                if l.contains(ESCAPED_PERCENT) {
                    *l = l.replace(ESCAPED_PERCENT, "\\%");
                }
            }
        }
        self
    }

    /// A value taken literally (numbers, field references).
    pub fn plain(s: &str) -> SigmaString {
        let mut out = SigmaString::default();
        if !s.is_empty() {
            out.parts.push(Part::Lit(s.to_string()));
        }
        out
    }

    fn push_char(&mut self, c: char) {
        if let Some(Part::Lit(l)) = self.parts.last_mut() {
            l.push(c);
        } else {
            self.parts.push(Part::Lit(c.to_string()));
        }
    }

    fn push_str(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Part::Lit(l)) = self.parts.last_mut() {
            l.push_str(s);
        } else {
            self.parts.push(Part::Lit(s.to_string()));
        }
    }

    fn push_part(&mut self, p: Part) {
        match p {
            Part::Lit(s) => self.push_str(&s),
            // `**` is `*`.
            Part::Star if self.parts.last() == Some(&Part::Star) => {}
            p => self.parts.push(p),
        }
    }

    pub fn has_wildcards(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Star | Part::One))
    }

    pub fn has_placeholders(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Placeholder(_)))
    }

    /// The text when the value has no wildcards or placeholders.
    pub fn as_plain(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => s.push_str(l),
                _ => return None,
            }
        }
        Some(s)
    }

    /// Literal text with wildcards written back (for messages).
    pub fn display(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => {
                    for c in l.chars() {
                        if matches!(c, '*' | '?') {
                            s.push('\\');
                        }
                        s.push(c);
                    }
                }
                Part::Star => s.push('*'),
                Part::One => s.push('?'),
                Part::Placeholder(n) => {
                    s.push('%');
                    s.push_str(n);
                    s.push('%');
                }
            }
        }
        s
    }

    pub fn prepend_star(mut self) -> SigmaString {
        if self.parts.first() != Some(&Part::Star) {
            self.parts.insert(0, Part::Star);
        }
        self
    }

    pub fn append_star(mut self) -> SigmaString {
        if self.parts.last() != Some(&Part::Star) {
            self.parts.push(Part::Star);
        }
        self
    }

    /// `expand`: `%name%` becomes a placeholder; `\%` stays a plain `%`.
    pub fn mark_placeholders(&self) -> SigmaString {
        let mut out = SigmaString::default();
        for p in &self.parts {
            let Part::Lit(l) = p else {
                out.push_part(p.clone());
                continue;
            };
            let mut rest = l.as_str();
            while !rest.is_empty() {
                if let Some(after) = rest.strip_prefix(ESCAPED_PERCENT) {
                    out.push_char('%');
                    rest = after;
                    continue;
                }
                if let Some(after) = rest.strip_prefix('%') {
                    if let Some(end) = after.find('%') {
                        let name = &after[..end];
                        if !name.is_empty() && !name.contains(char::is_whitespace) {
                            out.parts.push(Part::Placeholder(name.to_string()));
                            rest = &after[end + 1..];
                            continue;
                        }
                    }
                }
                let mut it = rest.chars();
                if let Some(c) = it.next() {
                    out.push_char(c);
                }
                rest = it.as_str();
            }
        }
        out
    }

    /// Replaces placeholders with each combination of their values (each
    /// value read with the wildcard rules). Err names a missing placeholder.
    pub fn resolve_placeholders(
        &self,
        lookup: &dyn Fn(&str) -> Option<Vec<String>>,
    ) -> Result<Vec<SigmaString>, RuleError> {
        let mut outs = vec![SigmaString::default()];
        for p in &self.parts {
            match p {
                Part::Placeholder(name) => {
                    let values = lookup(name).ok_or_else(|| {
                        format!("placeholder %{name}% is not configured (give its values in a pipeline's `vars`)")
                    })?;
                    let mut next = Vec::with_capacity(outs.len() * values.len());
                    for o in &outs {
                        for v in &values {
                            let mut n = o.clone();
                            for vp in SigmaString::parse(v).restore_escaped_percent().parts {
                                n.push_part(vp);
                            }
                            next.push(n);
                        }
                    }
                    outs = next;
                }
                other => {
                    for o in &mut outs {
                        o.push_part(other.clone());
                    }
                }
            }
        }
        Ok(outs)
    }

    /// `windash`: every `-` or `/` (or en dash, em dash, horizontal bar) that
    /// starts a command-line flag (not preceded by a word character, followed
    /// by one) is tried in all five forms. Restricting it to flag starts keeps
    /// the permutations few and follows pySigma; dashes inside words
    /// (`x-ms`) are left alone.
    pub fn windash(&self) -> Vec<SigmaString> {
        self.windash_within(usize::MAX).unwrap_or_default()
    }

    /// `windash` that gives up (None) before making variants of more than
    /// `max_bytes` in all: each flag multiplies the copies by 5, so a long
    /// value with many flags would otherwise be copied thousands of times
    /// before anyone could check the result.
    pub fn windash_within(&self, max_bytes: usize) -> Option<Vec<SigmaString>> {
        const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
        let mut outs = vec![SigmaString::default()];
        let flat: Vec<FlatChar> = self.flatten();
        let len = flat.len().max(1);
        for (i, fc) in flat.iter().enumerate() {
            let FlatChar::C(c) = *fc else {
                for o in &mut outs {
                    o.push_part(fc.to_part());
                }
                continue;
            };
            let prev_word = i > 0 && matches!(flat[i - 1], FlatChar::C(p) if is_word(p));
            let next_word = matches!(flat.get(i + 1), Some(FlatChar::C(n)) if is_word(*n));
            if DASHES.contains(&c) && !prev_word && next_word && outs.len() < 4096 {
                if outs.len().saturating_mul(5).saturating_mul(len) > max_bytes {
                    return None;
                }
                let mut next = Vec::with_capacity(outs.len() * 5);
                for o in &outs {
                    for d in DASHES {
                        let mut n = o.clone();
                        n.push_char(d);
                        next.push(n);
                    }
                }
                outs = next;
            } else {
                for o in &mut outs {
                    o.push_char(c);
                }
            }
        }
        Some(outs)
    }

    fn flatten(&self) -> Vec<FlatChar> {
        let mut v = Vec::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => v.extend(l.chars().map(FlatChar::C)),
                Part::Star => v.push(FlatChar::Star),
                Part::One => v.push(FlatChar::One),
                Part::Placeholder(n) => v.push(FlatChar::Ph(n.clone())),
            }
        }
        v
    }

    /// The bytes of a plain value, for the encoding modifiers.
    pub fn bytes_for_encoding(&self, modifier: &str) -> Result<Vec<u8>, RuleError> {
        self.as_plain().map(String::into_bytes).ok_or_else(|| {
            RuleError::modifier(format!(
                "`{modifier}` cannot encode a value with wildcards or placeholders ({})",
                self.display()
            ))
        })
    }
}

#[derive(Clone)]
enum FlatChar {
    C(char),
    Star,
    One,
    Ph(String),
}

impl FlatChar {
    fn to_part(&self) -> Part {
        match self {
            FlatChar::C(c) => Part::Lit(c.to_string()),
            FlatChar::Star => Part::Star,
            FlatChar::One => Part::One,
            FlatChar::Ph(n) => Part::Placeholder(n.clone()),
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A value in the middle of the modifier chain: text, or bytes once an
/// encoding modifier has run (UTF-16 is not text until base64 makes it so).
#[derive(Debug, Clone)]
pub enum Staged {
    Str(SigmaString),
    Bytes(Vec<u8>),
}

impl Staged {
    /// Length in bytes (of the text as written, wildcards counting one).
    pub fn len(&self) -> usize {
        match self {
            Staged::Str(s) => s
                .parts
                .iter()
                .map(|p| match p {
                    Part::Lit(l) => l.len(),
                    Part::Placeholder(n) => n.len() + 2,
                    Part::Star | Part::One => 1,
                })
                .sum(),
            Staged::Bytes(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self, modifier: &str) -> Result<Vec<u8>, RuleError> {
        match self {
            Staged::Str(s) => s.bytes_for_encoding(modifier),
            Staged::Bytes(b) => Ok(b.clone()),
        }
    }

    /// Back to a matchable string. Bytes that are not UTF-8 (UTF-16 of
    /// non-ASCII text without base64) are kept as Latin-1 so that no byte is
    /// lost; no event field holds such text, so they simply never match.
    pub fn into_string(self) -> SigmaString {
        match self {
            Staged::Str(s) => s,
            Staged::Bytes(b) => match String::from_utf8(b) {
                Ok(s) => SigmaString::plain(&s),
                Err(e) => SigmaString::plain(
                    &e.into_bytes()
                        .iter()
                        .map(|&b| b as char)
                        .collect::<String>(),
                ),
            },
        }
    }
}

pub fn utf16le(s: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(s)
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect()
}

pub fn utf16be(s: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(s)
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect()
}

/// `utf16`: a byte order mark, then UTF-16LE.
pub fn utf16_bom(s: &[u8]) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(utf16le(s));
    v
}

pub fn base64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// `base64offset`: the three encodings of `b` at byte offsets 0, 1 and 2 of
/// a longer encoded string, each cut to the characters that depend only on
/// `b` (the leading characters shared with earlier bytes and the trailing
/// ones that depend on later bytes or padding are dropped).
pub fn base64_offsets(b: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    // Characters to drop at the end by (shift + len) % 3.
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|shift| {
            let mut data = vec![0u8; shift];
            data.extend_from_slice(b);
            let enc = base64(&data);
            let end = enc.len().saturating_sub(END[(b.len() + shift) % 3]);
            enc.get(START[shift]..end).unwrap_or_default().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Lit(s.into())
    }

    #[test]
    fn escapes_follow_the_specification() {
        // Plain backslash not followed by a wildcard: single or double.
        assert_eq!(
            SigmaString::parse(r"C:\Windows").parts,
            [lit(r"C:\Windows")]
        );
        assert_eq!(
            SigmaString::parse(r"C:\\Windows").parts,
            [lit(r"C:\Windows")]
        );
        // Escaped wildcards are plain characters.
        assert_eq!(SigmaString::parse(r"a\*b\?").parts, [lit("a*b?")]);
        // A backslash before a wildcard must itself be escaped.
        assert_eq!(SigmaString::parse(r"a\\*").parts, [lit(r"a\"), Part::Star]);
        // Three backslashes: plain backslash then plain wildcard.
        assert_eq!(SigmaString::parse(r"a\\\*").parts, [lit(r"a\*")]);
        // Three or four backslashes are a double backslash.
        assert_eq!(SigmaString::parse(r"\\\\x").parts, [lit(r"\\x")]);
        assert_eq!(SigmaString::parse(r"\\\x").parts, [lit(r"\\x")]);
        // Trailing backslash stays.
        assert_eq!(SigmaString::parse(r"dir\").parts, [lit(r"dir\")]);
        assert_eq!(
            SigmaString::parse("prog?.exe").parts,
            [lit("prog"), Part::One, lit(".exe")]
        );
    }

    #[test]
    fn placeholders_and_escaped_percent() {
        let s = SigmaString::parse(r"\%plain%name%").mark_placeholders();
        assert_eq!(s.parts, [lit("%plain"), Part::Placeholder("name".into())]);
        let plain = SigmaString::parse("%name%");
        assert!(!plain.has_placeholders());
        let r = SigmaString::parse("x%a%")
            .mark_placeholders()
            .resolve_placeholders(&|n: &str| (n == "a").then(|| vec!["1".into(), "2*".into()]))
            .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].parts, [lit("x2"), Part::Star]);
        assert!(SigmaString::parse("%b%")
            .mark_placeholders()
            .resolve_placeholders(&|_| None)
            .is_err());
    }

    #[test]
    fn windash_permutes_flag_dashes_only() {
        let v = SigmaString::parse(" -encodedcommand x-ms").windash();
        assert_eq!(v.len(), 5);
        let texts: Vec<String> = v.iter().map(|s| s.as_plain().unwrap()).collect();
        assert!(texts.contains(&" /encodedcommand x-ms".to_string()));
        assert!(texts.contains(&" \u{2015}encodedcommand x-ms".to_string()));
        assert_eq!(SigmaString::parse("-a -b").windash().len(), 25);
    }

    #[test]
    fn encodings() {
        assert_eq!(utf16le(b"cmd"), [0x63, 0, 0x6d, 0, 0x64, 0]);
        assert_eq!(utf16be(b"cmd"), [0, 0x63, 0, 0x6d, 0, 0x64]);
        assert_eq!(utf16_bom(b"cmd"), [0xFF, 0xFE, 0x63, 0, 0x6d, 0, 0x64, 0]);
        assert_eq!(base64(b"/bin/sh"), "L2Jpbi9zaA==");
        // Well-known offsets of "http://" (pySigma documentation example).
        assert_eq!(
            base64_offsets(b"http://"),
            ["aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"]
        );
    }

    #[test]
    fn base64offset_variants_are_found_in_real_encodings() {
        let needle = b"Invoke-Mimikatz";
        let offs = base64_offsets(needle);
        for pre in [&b""[..], b"a", b"ab", b"abc", b"abcd"] {
            for post in [&b""[..], b"x", b"xy"] {
                let mut data = pre.to_vec();
                data.extend_from_slice(needle);
                data.extend_from_slice(post);
                let enc = base64(&data);
                assert!(offs.iter().any(|o| enc.contains(o.as_str())), "{enc}");
            }
        }
    }
}
