//! The embedded data files (`data/*.txt`), parsed once into lookup tables.
//!
//! Every file starts with `#` lines naming its source and version; a parse
//! error names the file, the line and what was wrong.

use crate::kind::{Kind, KindSet};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::collections::HashMap;
use std::sync::OnceLock;

/// A malformed embedded data file (a build defect, reported instead of a panic).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum DataError {
    /// A line that does not follow the file's format.
    #[error("data/{file} line {line}: {what}")]
    Line {
        file: &'static str,
        line: usize,
        what: String,
    },
    /// A word list could not be compiled into an automaton.
    #[error("data/{file}: cannot build the matcher: {what}")]
    Matcher { file: &'static str, what: String },
}

const REGIONS: &str = include_str!("../data/regions.txt");
const MOBILE: &str = include_str!("../data/mobile-segments.txt");
const IINS: &str = include_str!("../data/card-iins.txt");
const SURNAMES: &str = include_str!("../data/surnames.txt");
const CONTEXT: &str = include_str!("../data/context.txt");
const CONFIDENCE: &str = include_str!("../data/confidence.txt");
pub(crate) const GRADING: &str = include_str!("../data/grading.txt");

/// Lines that carry data: (1-based line number, trimmed text).
pub(crate) fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn bad(file: &'static str, line: usize, what: impl Into<String>) -> DataError {
    DataError::Line {
        file,
        line,
        what: what.into(),
    }
}

/// One card issuer range: prefixes of `digits` digits from `lo` to `hi`.
pub(crate) struct Iin {
    pub lo: u32,
    pub hi: u32,
    pub digits: u8,
    pub network: &'static str,
    pub strong: bool,
    /// Card lengths the network issues (bit n set: n digits).
    pub lengths: u32,
}

/// The detectors' confidences (data/confidence.txt).
#[derive(Clone, Debug, Default)]
pub(crate) struct Conf {
    pub report: f32,
    pub context_bonus: f32,
    pub context_penalty: f32,
    pub id18_full: f32,
    pub id18_unknown_county: f32,
    pub id18_unknown_city: f32,
    pub id15: f32,
    pub uscc: f32,
    pub mobile: f32,
    pub mobile_prefixed: f32,
    pub card_strong: f32,
    pub card_known: f32,
    pub card_luhn_only: f32,
    pub passport: f32,
    pub hk_macao_permit: f32,
    pub taiwan_permit: f32,
    pub email: f32,
    pub ipv4: f32,
    pub ipv4_special: f32,
    pub ipv6: f32,
    pub plate: f32,
    pub person_name: f32,
    pub address: f32,
    pub private_key: f32,
    pub cloud_key: f32,
    pub jwt: f32,
    pub github_token: f32,
    pub url_password: f32,
}

/// Every table the detectors read.
pub(crate) struct Tables {
    /// Province codes (two digits) to names.
    pub provinces: [Option<&'static str>; 100],
    /// Prefecture codes (four digits) to names.
    pub cities: HashMap<u16, &'static str>,
    /// County codes (six digits) to names.
    pub counties: HashMap<u32, &'static str>,
    /// Mobile segments 1xy → carrier, indexed by xy.
    pub mobile: [Option<&'static str>; 100],
    pub iins: Vec<Iin>,
    /// Single-character surnames.
    pub surnames: IdeoSet,
    /// Characters of the street-level part of an address (路, 号 …).
    pub address_detail: IdeoSet,
    pub compound_surnames: Vec<&'static str>,
    /// Context words (UTF-8 and GBK), ASCII case-insensitive; pattern → kinds.
    pub context: AhoCorasick,
    /// Per pattern: the kinds it raises, the kinds it lowers, the word as written.
    pub context_kinds: Vec<(KindSet, KindSet, &'static str)>,
    /// Per kind (by `Kind as usize`): an automaton of only the words that raise
    /// or lower it, and per pattern whether it raises and the word. Small sets
    /// let aho-corasick use its SIMD prefilters, so a window without any of
    /// the kind's words is skipped quickly; one automaton of all the words
    /// cannot (its first bytes cover most of ASCII).
    pub context_by_kind: Vec<Option<KindContext>>,
    /// Administrative names that start an address (provinces, short provinces, prefectures).
    pub admin: AhoCorasick,
    pub conf: Conf,
}

static TABLES: OnceLock<Result<Tables, DataError>> = OnceLock::new();

/// The tables, parsed on first use.
pub(crate) fn tables() -> Result<&'static Tables, DataError> {
    TABLES
        .get_or_init(Tables::load)
        .as_ref()
        .map_err(Clone::clone)
}

impl Tables {
    fn load() -> Result<Tables, DataError> {
        let (provinces, cities, counties) = regions()?;
        let mut mobile = [None; 100];
        for (n, l) in lines(MOBILE) {
            let (seg, carrier) = l.split_once(' ').unwrap_or((l, ""));
            let seg: u16 = seg
                .parse()
                .ok()
                .filter(|s| (100..200).contains(s))
                .ok_or_else(|| {
                    bad(
                        "mobile-segments.txt",
                        n,
                        format!("segment {seg:?} is not 100-199"),
                    )
                })?;
            mobile[(seg - 100) as usize] = Some(carrier.trim());
        }
        let mut iins = Vec::new();
        for (n, l) in lines(IINS) {
            let f: Vec<&str> = l.split_whitespace().collect();
            let err = || {
                bad(
                    "card-iins.txt",
                    n,
                    "expected 'first-last network strong|known lengths'",
                )
            };
            if f.len() != 4 {
                return Err(err());
            }
            let (lo, hi) = f[0].split_once('-').ok_or_else(err)?;
            if lo.len() != hi.len() {
                return Err(err());
            }
            iins.push(Iin {
                lo: lo.parse().map_err(|_| err())?,
                hi: hi.parse().map_err(|_| err())?,
                digits: lo.len() as u8,
                network: f[1],
                strong: match f[2] {
                    "strong" => true,
                    "known" => false,
                    _ => return Err(err()),
                },
                lengths: card_lengths(f[3]).ok_or_else(err)?,
            });
        }
        let mut surnames = IdeoSet::default();
        let mut compound_surnames = Vec::new();
        for (n, l) in lines(SURNAMES) {
            for s in l.split_whitespace() {
                let mut cs = s.chars();
                match (cs.next(), cs.next()) {
                    (Some(c), None) => {
                        if !surnames.insert(c) {
                            return Err(bad(
                                "surnames.txt",
                                n,
                                format!("{c} is not a CJK ideograph"),
                            ));
                        }
                    }
                    _ => compound_surnames.push(s),
                }
            }
        }
        let (context, context_kinds) = context()?;
        let context_by_kind = Kind::ALL
            .iter()
            .map(|k| kind_context(*k, &context_kinds))
            .collect::<Result<_, _>>()?;
        let mut admin_names: Vec<&'static str> = Vec::new();
        for name in provinces.iter().flatten() {
            admin_names.push(name);
            if let Some(short) = short_province(name) {
                admin_names.push(short);
            }
        }
        for name in cities.values() {
            // 市辖区/县 are placeholders in the table, not names anyone writes.
            if !name.contains("辖") && *name != "县" && name.chars().count() >= 2 {
                admin_names.push(name);
            }
        }
        admin_names.retain(|n| !n.contains("居住证"));
        admin_names.sort_unstable();
        admin_names.dedup();
        // DFAs: both automata run on the hot path; they are small enough to build eagerly.
        let admin = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::LeftmostLongest)
            .build(&admin_names)
            .map_err(|e| DataError::Matcher {
                file: "regions.txt",
                what: e.to_string(),
            })?;
        Ok(Tables {
            provinces,
            cities,
            counties,
            mobile,
            iins,
            surnames,
            address_detail: crate::scan::ADDRESS_DETAIL.chars().fold(
                IdeoSet::default(),
                |mut s, c| {
                    s.insert(c);
                    s
                },
            ),
            compound_surnames,
            context,
            context_kinds,
            context_by_kind,
            admin,
            conf: confidence()?,
        })
    }

    /// The network of a card number's issuer range, if known.
    pub fn issuer(&self, digits: &[u8]) -> Option<&Iin> {
        self.iins.iter().find(|r| {
            let k = r.digits as usize;
            k <= digits.len()
                && r.lengths & (1 << digits.len().min(31)) != 0
                && (r.lo..=r.hi).contains(&num(&digits[..k]))
        })
    }
}

/// The CJK Unified Ideographs block, U+4E00-U+9FFF.
const IDEOGRAPHS: usize = 0x9FFF - 0x4E00 + 1;

fn ideograph_index(c: char) -> Option<usize> {
    (c as usize).checked_sub(0x4E00).filter(|i| *i < IDEOGRAPHS)
}

/// A set of CJK ideographs: a bit per character of U+4E00-U+9FFF (2.6 KB,
/// one lookup, no hashing: it is asked for every candidate character).
#[derive(Clone)]
pub(crate) struct IdeoSet(Vec<u64>);

impl Default for IdeoSet {
    fn default() -> Self {
        IdeoSet(vec![0; IDEOGRAPHS.div_ceil(64)])
    }
}

impl IdeoSet {
    /// Adds `c`; false if it is not an ideograph of the block.
    pub fn insert(&mut self, c: char) -> bool {
        let Some(i) = ideograph_index(c) else {
            return false;
        };
        self.0[i / 64] |= 1 << (i % 64);
        true
    }

    pub fn contains(&self, c: char) -> bool {
        ideograph_index(c).is_some_and(|i| self.0[i / 64] & (1 << (i % 64)) != 0)
    }
}

/// `16-19` or `16,19` as a bit set of lengths (13 to 19 digits).
fn card_lengths(s: &str) -> Option<u32> {
    let mut set = 0u32;
    for part in s.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (u32, u32) = (lo.parse().ok()?, hi.parse().ok()?);
        if !(13..=19).contains(&lo) || !(lo..=19).contains(&hi) {
            return None;
        }
        for n in lo..=hi {
            set |= 1 << n;
        }
    }
    Some(set)
}

/// The value of ASCII digits (callers pass at most nine).
pub(crate) fn num(d: &[u8]) -> u32 {
    d.iter().fold(0u32, |a, c| {
        a.wrapping_mul(10).wrapping_add((c - b'0') as u32)
    })
}

/// 北京市 → 北京, 广东省 → 广东, 广西壮族自治区 → 广西, 香港特别行政区 → 香港.
fn short_province(name: &'static str) -> Option<&'static str> {
    for suf in [
        "特别行政区",
        "维吾尔自治区",
        "壮族自治区",
        "回族自治区",
        "自治区",
        "省",
        "市",
    ] {
        if let Some(s) = name.strip_suffix(suf) {
            // 内蒙古自治区 → 内蒙古; keep two characters at least.
            return (s.chars().count() >= 2).then_some(s);
        }
    }
    None
}

type Regions = (
    [Option<&'static str>; 100],
    HashMap<u16, &'static str>,
    HashMap<u32, &'static str>,
);

fn regions() -> Result<Regions, DataError> {
    const F: &str = "regions.txt";
    let mut provinces = [None; 100];
    let mut cities = HashMap::new();
    let mut counties = HashMap::new();
    let mut city: Option<u32> = None;
    for (n, l) in lines(REGIONS) {
        let digits = |s: &str, k: usize| -> Result<u32, DataError> {
            if s.len() == k && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(num(s.as_bytes()))
            } else {
                Err(bad(F, n, format!("expected a {k}-digit code, found {s:?}")))
            }
        };
        let mut f = l.splitn(3, ' ');
        match (f.next(), f.next(), f.next()) {
            (Some("P"), Some(code), Some(name)) => {
                provinces[digits(code, 2)? as usize] = Some(name)
            }
            (Some("C"), Some(code), Some(name)) => {
                let c = digits(code, 4)?;
                cities.insert(c as u16, name);
                city = Some(c);
            }
            (Some(code), Some(name), None) => {
                let c = city.ok_or_else(|| bad(F, n, "county before any prefecture"))?;
                counties.insert(c * 100 + digits(code, 2)?, name);
            }
            _ => {
                return Err(bad(
                    F,
                    n,
                    "expected 'P code name', 'C code name' or 'NN name'",
                ))
            }
        }
    }
    Ok((provinces, cities, counties))
}

/// The context words of one kind.
pub(crate) struct KindContext {
    pub ac: AhoCorasick,
    /// Per pattern: true if the word raises the kind, false if it lowers it; the word.
    pub words: Vec<(bool, &'static str)>,
    /// Only the raising words: for a candidate below the threshold, lowering
    /// cannot matter, and fewer words search faster.
    pub raise_ac: AhoCorasick,
    pub raise_words: Vec<&'static str>,
}

fn kind_context(
    k: Kind,
    all: &[(KindSet, KindSet, &'static str)],
) -> Result<Option<KindContext>, DataError> {
    let mut pats: Vec<Vec<u8>> = Vec::new();
    let mut words = Vec::new();
    for (p, n, w) in all {
        // The table holds a word's UTF-8 and GBK forms as two entries; take it once.
        if (p.contains(k) || n.contains(k)) && !words.iter().any(|(_, x)| x == w) {
            pats.push(w.as_bytes().to_vec());
            words.push((p.contains(k), *w));
            if !w.is_ascii() {
                let (gbk, _, unmappable) = encoding_rs::GBK.encode(w);
                if !unmappable {
                    pats.push(gbk.into_owned());
                    words.push((p.contains(k), *w));
                }
            }
        }
    }
    if pats.is_empty() {
        return Ok(None);
    }
    let build = |pats: &[&Vec<u8>]| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(pats)
            .map_err(|e| DataError::Matcher {
                file: "context.txt",
                what: e.to_string(),
            })
    };
    let all: Vec<&Vec<u8>> = pats.iter().collect();
    let raising: Vec<&Vec<u8>> = pats
        .iter()
        .zip(&words)
        .filter(|(_, w)| w.0)
        .map(|(p, _)| p)
        .collect();
    let raise_words = words.iter().filter(|w| w.0).map(|w| w.1).collect();
    Ok(Some(KindContext {
        ac: build(&all)?,
        words,
        raise_ac: build(&raising)?,
        raise_words,
    }))
}

/// The context automaton and, per pattern, the kinds it raises and lowers and the word as written.
type Context = (AhoCorasick, Vec<(KindSet, KindSet, &'static str)>);

fn context() -> Result<Context, DataError> {
    const F: &str = "context.txt";
    // One pattern per distinct byte string; a word listed for several kinds raises all of them.
    let mut by_word: Vec<(Vec<u8>, KindSet, KindSet, &'static str)> = Vec::new();
    let mut add = |bytes: Vec<u8>, pos: KindSet, neg: KindSet, word: &'static str| match by_word
        .iter_mut()
        .find(|(b, _, _, _)| *b == bytes)
    {
        Some(e) => {
            e.1 = e.1.union(pos);
            e.2 = e.2.union(neg);
        }
        None => by_word.push((bytes, pos, neg, word)),
    };
    for (n, l) in lines(CONTEXT) {
        let (kinds, words) = l
            .split_once(':')
            .ok_or_else(|| bad(F, n, "expected 'kinds: words'"))?;
        // '!kinds: words' lists words that lower those kinds (order numbers, serials).
        let (negative, kinds) = match kinds.strip_prefix('!') {
            Some(k) => (true, k),
            None => (false, kinds),
        };
        let mut set = KindSet::EMPTY;
        for k in kinds.split(',') {
            set = set.with(
                Kind::from_code(k.trim())
                    .ok_or_else(|| bad(F, n, format!("unknown kind {k:?}")))?,
            );
        }
        let (pos, neg) = if negative {
            (KindSet::EMPTY, set)
        } else {
            (set, KindSet::EMPTY)
        };
        for w in words.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            add(w.as_bytes().to_vec(), pos, neg, w);
            if !w.is_ascii() {
                // Logs from older Windows and Chinese appliances are often GBK.
                let (gbk, _, unmappable) = encoding_rs::GBK.encode(w);
                if !unmappable {
                    add(gbk.into_owned(), pos, neg, w);
                }
            }
        }
    }
    let ac = AhoCorasickBuilder::new()
        .kind(Some(AhoCorasickKind::DFA))
        .ascii_case_insensitive(true)
        .build(by_word.iter().map(|(b, _, _, _)| b))
        .map_err(|e| DataError::Matcher {
            file: F,
            what: e.to_string(),
        })?;
    Ok((
        ac,
        by_word.into_iter().map(|(_, p, n, w)| (p, n, w)).collect(),
    ))
}

fn confidence() -> Result<Conf, DataError> {
    const F: &str = "confidence.txt";
    let mut c = Conf::default();
    let mut seen = 0usize;
    for (n, l) in lines(CONFIDENCE) {
        let (k, v) = l
            .split_once(' ')
            .ok_or_else(|| bad(F, n, "expected 'key value'"))?;
        let v: f32 = v
            .trim()
            .parse()
            .ok()
            .filter(|v| (0.0..=1.0).contains(v))
            .ok_or_else(|| bad(F, n, format!("{v:?} is not a number in 0-1")))?;
        let slot = match k {
            "report" => &mut c.report,
            "context_bonus" => &mut c.context_bonus,
            "context_penalty" => &mut c.context_penalty,
            "id18_full" => &mut c.id18_full,
            "id18_unknown_county" => &mut c.id18_unknown_county,
            "id18_unknown_city" => &mut c.id18_unknown_city,
            "id15" => &mut c.id15,
            "uscc" => &mut c.uscc,
            "mobile" => &mut c.mobile,
            "mobile_prefixed" => &mut c.mobile_prefixed,
            "card_strong" => &mut c.card_strong,
            "card_known" => &mut c.card_known,
            "card_luhn_only" => &mut c.card_luhn_only,
            "passport" => &mut c.passport,
            "hk_macao_permit" => &mut c.hk_macao_permit,
            "taiwan_permit" => &mut c.taiwan_permit,
            "email" => &mut c.email,
            "ipv4" => &mut c.ipv4,
            "ipv4_special" => &mut c.ipv4_special,
            "ipv6" => &mut c.ipv6,
            "plate" => &mut c.plate,
            "person_name" => &mut c.person_name,
            "address" => &mut c.address,
            "private_key" => &mut c.private_key,
            "cloud_key" => &mut c.cloud_key,
            "jwt" => &mut c.jwt,
            "github_token" => &mut c.github_token,
            "url_password" => &mut c.url_password,
            _ => return Err(bad(F, n, format!("unknown key {k:?}"))),
        };
        *slot = v;
        seen += 1;
    }
    if seen != 28 {
        return Err(bad(F, 0, format!("expected 28 keys, found {seen}")));
    }
    Ok(c)
}
