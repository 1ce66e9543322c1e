//! Literals a regular expression needs: a set of strings one of which
//! occurs in every text the expression matches, so that regex rules take
//! part in the literal prefilter instead of running on every event.
//!
//! The strings are ASCII and lowercased, and are looked for in the
//! lowercased event value: lowering maps every ASCII letter to its
//! lowercase and never turns non-ASCII into ASCII except where the
//! regex's own case folding does too (Kelvin sign to `k`), so a literal
//! required in the raw text is present in the lowered text. The one
//! character Unicode folds to an ASCII letter but `to_lowercase` leaves
//! alone, `ſ` (long s, folded with `s`), is handled by the caller (see
//! [`fold_long_s`]).

use regex_syntax::hir::{Class, Hir, HirKind};

/// At most this many alternatives in a literal set (`(a|b)(c|d)` is 4).
const MAX_SET: usize = 16;

/// What a sub-expression contributes.
struct Info {
    /// The sub-expression matches exactly one of these strings.
    exact: Option<Vec<String>>,
    /// Every match contains one of these strings (never empty strings).
    required: Option<Vec<String>>,
}

/// The literals one of which every match of `pattern` (a pattern as the
/// `regex` crate takes it, inline flags included) contains; None when no
/// useful set is known.
pub fn required_literals(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let info = analyse(&hir);
    let set = better(info.required, info.exact.filter(|e| useful(e)))?;
    useful(&set).then_some(set)
}

/// Replaces `ſ` by `s` (both fold to `s` in case-insensitive regexes).
pub fn fold_long_s(s: &str) -> Option<String> {
    s.contains('ſ').then(|| s.replace('ſ', "s"))
}

fn useful(set: &[String]) -> bool {
    !set.is_empty() && set.iter().all(|s| !s.is_empty())
}

/// Expected share of texts a set lets through (as the engine's atom cost).
fn cost(set: &[String]) -> f64 {
    set.iter()
        .map(|s| {
            let l = s.len().min(12) as f64;
            1.0 / (l * l * l)
        })
        .sum()
}

fn better(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if cost(&b) < cost(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The ASCII character every member of a class lowercases (or folds) to.
fn class_char(c: &Class) -> Option<char> {
    let mut out: Option<char> = None;
    let mut n = 0;
    let mut check = |ch: char| -> bool {
        n += 1;
        let l = match ch {
            'ſ' => 's',
            c if c.is_ascii() => c.to_ascii_lowercase(),
            c => {
                let mut it = c.to_lowercase();
                match (it.next(), it.next()) {
                    (Some(l), None) if l.is_ascii() => l,
                    _ => return false,
                }
            }
        };
        n <= 4 && *out.get_or_insert(l) == l
    };
    match c {
        Class::Unicode(u) => {
            for r in u.ranges() {
                if r.end() as u32 - r.start() as u32 > 4 {
                    return None;
                }
                for ch in r.start()..=r.end() {
                    if !check(ch) {
                        return None;
                    }
                }
            }
        }
        Class::Bytes(b) => {
            for r in b.ranges() {
                if r.end() - r.start() > 4 {
                    return None;
                }
                for byte in r.start()..=r.end() {
                    if !byte.is_ascii() || !check(char::from(byte)) {
                        return None;
                    }
                }
            }
        }
    }
    out
}

/// Lowercased text of a literal; None when it has non-ASCII characters.
fn literal_text(bytes: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(bytes).ok()?;
    s.is_ascii().then(|| s.to_ascii_lowercase())
}

fn product(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() * b.len() > MAX_SET {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            out.push(format!("{x}{y}"));
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn union(sets: impl Iterator<Item = Option<Vec<String>>>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for s in sets {
        out.extend(s?);
        if out.len() > MAX_SET {
            return None;
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn analyse(h: &Hir) -> Info {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Info {
            exact: Some(vec![String::new()]),
            required: None,
        },
        HirKind::Literal(l) => {
            let exact = literal_text(&l.0).map(|s| vec![s]);
            Info {
                required: exact.clone().filter(|e| useful(e)),
                exact,
            }
        }
        HirKind::Class(c) => Info {
            exact: class_char(c).map(|ch| vec![ch.to_string()]),
            required: None,
        },
        HirKind::Capture(c) => analyse(&c.sub),
        HirKind::Repetition(r) => {
            let sub = analyse(&r.sub);
            if r.min == 0 {
                return Info {
                    exact: None,
                    required: None,
                };
            }
            let exact = (r.min == 1 && r.max == Some(1))
                .then_some(sub.exact.clone())
                .flatten();
            Info {
                exact,
                required: better(sub.required, sub.exact.filter(|e| useful(e))),
            }
        }
        HirKind::Alternation(alts) => {
            let infos: Vec<Info> = alts.iter().map(analyse).collect();
            let exact = union(infos.iter().map(|i| i.exact.clone()));
            let required = union(
                infos
                    .into_iter()
                    .map(|i| better(i.required, i.exact.filter(|e| useful(e)))),
            );
            Info { exact, required }
        }
        HirKind::Concat(parts) => {
            let mut best: Option<Vec<String>> = None;
            // The run of consecutive exact parts, as a literal set.
            let mut run: Option<Vec<String>> = Some(vec![String::new()]);
            let mut whole_exact = true;
            for p in parts {
                let info = analyse(p);
                best = better(best, info.required);
                match (info.exact, run.take()) {
                    (Some(e), Some(r)) => match product(&r, &e) {
                        Some(x) => run = Some(x),
                        None => {
                            // Too many combinations: keep the run so far
                            // and start again from this part.
                            whole_exact = false;
                            best = better(best, Some(r).filter(|r| useful(r)));
                            run = Some(e);
                        }
                    },
                    (Some(e), None) => run = Some(e),
                    (None, r) => {
                        whole_exact = false;
                        best = better(best, r.filter(|r| useful(r)));
                        run = None;
                    }
                }
            }
            let exact = if whole_exact { run.clone() } else { None };
            best = better(best, run.filter(|r| useful(r)));
            Info {
                exact,
                required: best,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p)
    }

    #[test]
    fn plain_and_case_insensitive() {
        assert_eq!(lits("powershell"), Some(vec!["powershell".into()]));
        assert_eq!(lits("(?i)PowerShell"), Some(vec!["powershell".into()]));
        assert_eq!(lits("(?i)power.*shell"), Some(vec!["power".into()]));
    }

    #[test]
    fn alternations_and_repetitions() {
        assert_eq!(
            lits("(?i)cmd.{0,5}(/c|/r).+powershell"),
            Some(vec!["powershell".into()])
        );
        assert_eq!(
            lits("(abc|defg)x+"),
            Some(vec!["abc".into(), "defg".into()])
        );
        assert_eq!(lits("(abc)?x"), Some(vec!["x".into()]));
        assert_eq!(lits("(abc)?"), None);
        assert_eq!(lits("a|.*"), None);
        assert_eq!(
            lits("(?i)(ab|cd)(ef|gh)"),
            Some(vec![
                "abef".into(),
                "abgh".into(),
                "cdef".into(),
                "cdgh".into()
            ])
        );
    }

    #[test]
    fn nothing_required() {
        assert_eq!(lits(".*"), None);
        assert_eq!(lits("[a-z]+"), None);
        assert_eq!(lits("^$"), None);
        assert_eq!(lits("(?i)é+"), None);
    }

    /// Every match of a pattern contains one of its literals, lowercased.
    #[test]
    fn literals_are_necessary() {
        let cases = [
            ("(?i)\\$\\{?input\\}?", "x ${INPUT} y"),
            ("(?i)iex\\s*\\(", "IEX  (new-object)"),
            ("(?i)s", "ſ"),
            ("(?i)k", "\u{212A}"),
            ("\\\\[a-z]{1,8}\\.exe", "c:\\x\\abc.exe"),
        ];
        for (p, text) in cases {
            let re = regex::Regex::new(p).unwrap();
            assert!(re.is_match(text), "{p}");
            let lowered = text.to_lowercase();
            let lowered = fold_long_s(&lowered).unwrap_or(lowered);
            if let Some(set) = lits(p) {
                assert!(
                    set.iter().any(|l| lowered.contains(l.as_str())),
                    "{p}: {set:?}"
                );
            }
        }
    }
}
