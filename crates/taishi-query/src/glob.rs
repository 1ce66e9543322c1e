//! Case-sensitive glob matching for `field:pow*sh?ll.exe`: the pattern is
//! split at `*` into segments; the first is anchored at the start, the last
//! at the end, and the ones between are found leftmost-first, which is
//! exact for `*`-only gaps. No backtracking, no allocation.

use crate::ast::GlobPart;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(Box<str>),
    /// `?`: one character.
    One,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Glob {
    /// Segments between stars.
    segs: Vec<Vec<Tok>>,
    star_start: bool,
    star_end: bool,
}

impl Glob {
    pub(crate) fn new(parts: &[GlobPart]) -> Glob {
        let mut segs: Vec<Vec<Tok>> = vec![Vec::new()];
        for p in parts {
            match p {
                GlobPart::Any => {
                    if segs.last().is_some_and(|s| !s.is_empty()) {
                        segs.push(Vec::new());
                    }
                }
                GlobPart::One => segs.last_mut().into_iter().for_each(|s| s.push(Tok::One)),
                GlobPart::Literal(l) => segs
                    .last_mut()
                    .into_iter()
                    .for_each(|s| s.push(Tok::Lit(l.as_str().into()))),
            }
        }
        let star_start = matches!(parts.first(), Some(GlobPart::Any));
        let star_end = matches!(parts.last(), Some(GlobPart::Any));
        segs.retain(|s| !s.is_empty());
        Glob {
            segs,
            star_start,
            star_end,
        }
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        let n = self.segs.len();
        if n == 0 {
            // Only stars (or nothing): `**` matches anything.
            return self.star_start || s.is_empty();
        }
        let mut pos = 0;
        for (i, seg) in self.segs.iter().enumerate() {
            let first = i == 0;
            let last = i == n - 1;
            let anchored_start = first && !self.star_start;
            let anchored_end = last && !self.star_end;
            if anchored_start {
                match match_at(seg, s, pos) {
                    Some(end) if !anchored_end || end == s.len() => pos = end,
                    _ => return false,
                }
                continue;
            }
            if anchored_end {
                return ends_with(seg, s, pos);
            }
            match find(seg, s, pos) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }
}

/// Matches a segment at byte `pos`; returns the end.
fn match_at(seg: &[Tok], s: &str, mut pos: usize) -> Option<usize> {
    for t in seg {
        let rest = s.get(pos..)?;
        match t {
            Tok::Lit(l) => {
                if !rest.starts_with(&**l) {
                    return None;
                }
                pos += l.len();
            }
            Tok::One => pos += rest.chars().next()?.len_utf8(),
        }
    }
    Some(pos)
}

/// Leftmost occurrence of the segment at or after `pos`; returns its end.
fn find(seg: &[Tok], s: &str, pos: usize) -> Option<usize> {
    if let [Tok::Lit(l)] = seg {
        let rest = s.get(pos..)?;
        return rest.find(&**l).map(|i| pos + i + l.len());
    }
    let rest = s.get(pos..)?;
    for (i, _) in rest.char_indices() {
        if let Some(end) = match_at(seg, s, pos + i) {
            return Some(end);
        }
    }
    None
}

/// Whether the segment matches a suffix of `s` starting at or after `pos`.
fn ends_with(seg: &[Tok], s: &str, pos: usize) -> bool {
    if let [Tok::Lit(l)] = seg {
        return s.len() >= pos + l.len() && s.ends_with(&**l);
    }
    let Some(rest) = s.get(pos..) else {
        return false;
    };
    rest.char_indices()
        .map(|(i, _)| pos + i)
        .chain(std::iter::once(s.len()))
        .any(|start| match_at(seg, s, start) == Some(s.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::GlobPart::*;

    fn g(p: &str) -> Glob {
        let mut parts = Vec::new();
        let mut lit = String::new();
        for c in p.chars() {
            match c {
                '*' | '?' => {
                    if !lit.is_empty() {
                        parts.push(Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(if c == '*' { Any } else { One });
                }
                _ => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Literal(lit));
        }
        Glob::new(&parts)
    }

    #[test]
    fn globs() {
        let cases = [
            ("pow*shell.exe", "powershell.exe", true),
            ("pow*shell.exe", "pow.shell.exe", true),
            ("pow*shell.exe", "powershell.exe.bak", false),
            ("pow*shell.exe", "xpowershell.exe", false),
            ("*shell*", "powershell.exe", true),
            ("*shell*", "cmd.exe", false),
            ("a?c", "abc", true),
            ("a?c", "aéc", true),
            ("a?c", "ac", false),
            ("*a*a", "aa", true),
            ("*a*a", "a", false),
            ("a*a", "a", false),
            ("a*b*c", "abbbc", true),
            ("a*b*c", "acb", false),
            ("*.exe", "x.exe", true),
            ("*?", "", false),
            ("*?", "é", true),
            ("**", "", true),
            ("*?x", "abx", true),
            ("?*", "", false),
        ];
        for (p, s, want) in cases {
            assert_eq!(g(p).matches(s), want, "{p} vs {s}");
        }
    }
}
