//! An order on the version strings NVD carries.
//!
//! NVD version fields are free text: `2.4.49`, `1.0.2k` (OpenSSL letter
//! releases), `5.0-rc1`, `16.12.10a` (Cisco), `2021.1`, `1.8.0_181`,
//! `7.4p1`, `9.0.0.M1`, leading zeros (`1.01`). No single scheme fits all,
//! so the order is a documented compromise:
//!
//! 1. The string is lower-cased and cut into tokens: runs of digits and
//!    runs of letters; `.`, `-`, `_`, `+`, `~`, `:`, `(`, `)` and spaces
//!    only separate.
//! 2. Numbers compare as numbers (`01` = `1`; any length, no overflow).
//! 3. Words are *pre-release* when they are `dev`, `snapshot`, `alpha`,
//!    `beta`, `pre`, `preview`, `rc`, `cr`, `milestone`, or a single `a`,
//!    `b`, `c`, `m` glued to a number on both sides (`1.0a1`, `2.0b3`); a
//!    pre-release sorts *before* the release it leads to (`5.0-rc1` <
//!    `5.0`). `ga`, `final`, `release` and `stable` are the release itself.
//!    Every other word is a *post-release* suffix (`1.0.2k` > `1.0.2`,
//!    `7.4p1` > `7.4`, `sp1`, `update_181`), ordered by rank
//!    (`alpha` < `beta` < `rc`) or else alphabetically.
//! 4. Token by token: a missing token counts as `0` (`1.0` = `1.0.0`); at
//!    one position pre-release < missing/0 < post-release word < number
//!    (so `1.0.2k` < `1.0.2.1`).
//! 5. A final `-0` after a number (semver's lowest pre-release, as in Go's
//!    `1.21.0-0`) sorts before every other pre-release of that version.

use std::cmp::Ordering;
use std::fmt;

/// Longest version string compared; longer ones are cut (NVD's longest are
/// about 60 characters).
pub const MAX_VERSION_LEN: usize = 128;
/// Most tokens compared; the rest are ignored.
pub const MAX_TOKENS: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Token {
    /// A pre-release word, with its rank (lower = earlier) and text.
    Pre(u8, Box<str>),
    /// A number that fits in a u64 (nearly all).
    Num(u64),
    /// Digits without leading zeros, too long for a u64.
    Big(Box<str>),
    /// A post-release word.
    Post(Box<str>),
}

/// A parsed version, ready to compare. `Eq` follows the order (so
/// `1.0` == `1.0.0`), not the text; [`Version::as_str`] keeps the text.
#[derive(Clone, Debug)]
pub struct Version {
    text: Box<str>,
    tokens: Box<[Token]>,
}

fn pre_rank(word: &str) -> Option<u8> {
    Some(match word {
        "dev" | "snapshot" => 0,
        "alpha" | "a" => 1,
        "beta" | "b" => 2,
        "milestone" | "m" => 3,
        "pre" | "preview" | "c" => 4,
        "rc" | "cr" => 5,
        _ => return None,
    })
}

fn is_release_word(w: &str) -> bool {
    matches!(w, "ga" | "final" | "release" | "stable")
}

impl Version {
    /// Parses any string; never fails (an empty string is version 0).
    pub fn parse(s: &str) -> Self {
        let text: Box<str> = s.trim().into();
        let mut cut = text.len().min(MAX_VERSION_LEN);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let lower = text[..cut].to_ascii_lowercase();
        let b = lower.as_bytes();
        // Raw runs: (is_digit, start, end).
        let mut runs: Vec<(bool, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < b.len() && runs.len() < MAX_TOKENS {
            let c = b[i];
            if c.is_ascii_digit() || c.is_ascii_alphabetic() {
                let digit = c.is_ascii_digit();
                let start = i;
                while i < b.len()
                    && (if digit {
                        b[i].is_ascii_digit()
                    } else {
                        b[i].is_ascii_alphabetic()
                    })
                {
                    i += 1;
                }
                runs.push((digit, start, i));
            } else {
                i += 1;
            }
        }
        // Semver's `-0` (as in Go's `1.21.0-0`) is the lowest pre-release
        // of that version, not a build number.
        let semver_floor = lower.ends_with("-0")
            && runs.len() >= 2
            && runs[runs.len() - 2].0
            && runs[runs.len() - 1].1 == lower.len() - 1;
        let mut tokens = Vec::with_capacity(runs.len());
        for (k, &(digit, s0, e0)) in runs.iter().enumerate() {
            let t = &lower[s0..e0];
            if digit && semver_floor && k == runs.len() - 1 {
                tokens.push(Token::Pre(0, "".into()));
                continue;
            }
            if digit {
                let digits = t.trim_start_matches('0');
                tokens.push(match digits.parse::<u64>() {
                    Ok(n) => Token::Num(n),
                    Err(_) if digits.is_empty() => Token::Num(0),
                    Err(_) => Token::Big(digits.into()),
                });
                continue;
            }
            if is_release_word(t) {
                continue;
            }
            let glued_before = k > 0 && runs[k - 1].0 && runs[k - 1].2 == s0;
            let glued_after = runs.get(k + 1).is_some_and(|n| n.0 && n.1 == e0);
            let pre = if t.len() == 1 {
                // `1.0a1` is an alpha, `1.0.2a` an OpenSSL letter release.
                (glued_before && glued_after).then(|| pre_rank(t)).flatten()
            } else {
                pre_rank(t)
            };
            tokens.push(match pre {
                Some(r) => Token::Pre(r, t.into()),
                None => Token::Post(t.into()),
            });
        }
        Self {
            text,
            tokens: tokens.into(),
        }
    }

    /// A 63-bit key that respects the order: `key(a) < key(b)` implies
    /// `a < b`, and `a < b` implies `key(a) <= key(b)`. It packs the class
    /// and number of the first three tokens (21 bits each), so most
    /// comparisons need no pointer chasing; equal keys need [`Ord::cmp`].
    pub fn key(&self) -> u64 {
        const BITS: u32 = 21;
        const MAX: u64 = (1 << BITS) - 1;
        let mut key = 0u64;
        for i in 0..3 {
            let t = self.tokens.get(i);
            let v = match t {
                Some(Token::Pre(..)) => 0,
                None | Some(Token::Num(0)) => 1,
                Some(Token::Post(_)) => 2,
                Some(Token::Num(n)) => (3 + *n).min(MAX),
                Some(Token::Big(_)) => MAX,
            };
            key = (key << BITS) | v;
            // Past a token whose key value is not exact (a word, a
            // saturated number), later positions must not decide: pad with
            // zeros so ties stay ties.
            let exact = matches!(t, None | Some(Token::Num(_))) && v < MAX;
            if !exact {
                key <<= BITS * (2 - i as u32);
                break;
            }
        }
        key
    }

    /// The text as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Kind rank at one position: pre < missing/zero < post word < number.
fn class(t: Option<&Token>) -> u8 {
    match t {
        Some(Token::Pre(..)) => 0,
        None => 1,
        Some(Token::Num(0)) => 1,
        Some(Token::Post(_)) => 2,
        Some(Token::Num(_) | Token::Big(_)) => 3,
    }
}

fn cmp_token(a: Option<&Token>, b: Option<&Token>) -> Ordering {
    class(a).cmp(&class(b)).then_with(|| match (a, b) {
        (Some(Token::Num(x)), Some(Token::Num(y))) => x.cmp(y),
        (Some(Token::Num(_)), Some(Token::Big(_))) => Ordering::Less,
        (Some(Token::Big(_)), Some(Token::Num(_))) => Ordering::Greater,
        (Some(Token::Big(x)), Some(Token::Big(y))) => cmp_num(x, y),
        (Some(Token::Pre(r, x)), Some(Token::Pre(s, y))) => r.cmp(s).then_with(|| x.cmp(y)),
        (Some(Token::Post(x)), Some(Token::Post(y))) => x.cmp(y),
        // Same class and not both present: missing vs zero.
        _ => Ordering::Equal,
    })
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.tokens.len().max(other.tokens.len());
        for i in 0..n {
            let o = cmp_token(self.tokens.get(i), other.tokens.get(i));
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Compares two version strings (see the module's rules).
pub fn compare(a: &str, b: &str) -> Ordering {
    Version::parse(a).cmp(&Version::parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Ordering::*;

    #[test]
    fn what_nvd_carries() {
        let cases = [
            ("1.0.2", "1.0.2k", Less),
            ("1.0.2k", "1.0.2l", Less),
            ("1.0.2k", "1.0.3", Less),
            ("1.0.2zh", "1.1.0", Less),
            ("5.0-rc1", "5.0", Less),
            ("5.0-rc1", "5.0-rc2", Less),
            ("5.0-beta2", "5.0-rc1", Less),
            ("5.0rc1", "5.0", Less),
            ("1.0a1", "1.0", Less),
            ("1.0a1", "1.0b1", Less),
            ("16.12.10", "16.12.10a", Less),
            ("16.12.10a", "16.12.11", Less),
            ("17.3", "17.3.8a", Less),
            ("2021.1", "2021.10", Less),
            ("2021.1", "2022", Less),
            ("1.01", "1.1", Equal),
            ("1.0", "1.0.0", Equal),
            ("1.0.0", "1.0.1", Less),
            ("7.4", "7.4p1", Less),
            ("7.4p1", "7.5", Less),
            ("1.8.0_181", "1.8.0_191", Less),
            ("1.8.0", "1.8.0_181", Less),
            ("2.4.49", "2.4.50", Less),
            ("10", "9", Greater),
            ("1.2.3-final", "1.2.3", Equal),
            (
                "99999999999999999999999",
                "99999999999999999999998",
                Greater,
            ),
            ("", "0", Equal),
            ("1.0-SNAPSHOT", "1.0-alpha", Less),
            ("3.0.0-milestone1", "3.0.0", Less),
            ("1.21.0-0", "1.21.0-rc2", Less),
            ("1.21.0-0", "1.21.0", Less),
            ("1.21.0-0", "1.20.11", Greater),
            ("12.5.3-034", "12.5.3-035", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_is_antisymmetric(a in "\\PC{0,40}", b in "[0-9a-z.\\-_]{0,20}") {
            let (x, y) = (Version::parse(&a), Version::parse(&b));
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            prop_assert_eq!(x.cmp(&x), Equal);
        }

        #[test]
        fn key_respects_the_order(a in "[0-9a-c.\\-]{0,12}", b in "[0-9a-c.\\-]{0,12}") {
            let (x, y) = (Version::parse(&a), Version::parse(&b));
            if x.key() < y.key() {
                prop_assert!(x < y, "{} {}", a, b);
            }
            if x < y {
                prop_assert!(x.key() <= y.key(), "{} {}", a, b);
            }
        }

        #[test]
        fn transitive(a in "[0-9a-c.\\-]{0,8}", b in "[0-9a-c.\\-]{0,8}", c in "[0-9a-c.\\-]{0,8}") {
            let mut v = [Version::parse(&a), Version::parse(&b), Version::parse(&c)];
            v.sort();
            prop_assert!(v[0] <= v[1] && v[1] <= v[2] && v[0] <= v[2]);
        }
    }
}
