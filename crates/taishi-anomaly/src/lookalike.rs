//! Look-alike domains of the operator's own brands: generation and matching.
//!
//! For each configured brand domain the generator applies the typo-squatting
//! methods dnstwist made standard (addition, bitsquatting, homoglyph,
//! hyphenation, insertion, omission, repetition, replacement, subdomain,
//! transposition, vowel swap, dictionary, TLD swap), plus pinyin and
//! initial-letter abbreviations of the brand's Chinese names. IDN variants
//! are carried in punycode (`idna`). The matcher looks an observed name up
//! in the generated set and, past it, compares TR39 confusable skeletons
//! (`unicode-security`), brand tokens inside labels (combosquatting such as
//! `brand-login.com`, `brand.com.evil.net`) and small edit distances, so
//! variants the generator did not enumerate are still caught.

use foldhash::{HashMap, HashSet};
use serde::{Deserialize, Serialize};
use unicode_security::confusable_detection::skeleton;

use crate::finding::{Feature, Finding, FindingKind, Lang, Severity, Text};
use crate::AnomalyError;

/// The homoglyph table shipped with the crate.
static HOMOGLYPHS: &str = include_str!("../data/homoglyphs.txt");

/// How a look-alike imitates its brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Addition,
    Bitsquatting,
    Homoglyph,
    Hyphenation,
    Insertion,
    Omission,
    Repetition,
    Replacement,
    Subdomain,
    Transposition,
    VowelSwap,
    Dictionary,
    TldSwap,
    /// Same TR39 skeleton (Unicode confusables) as the brand.
    Confusable,
    /// Pinyin of a Chinese brand name.
    Pinyin,
    /// Initials of the pinyin of a Chinese brand name.
    Abbreviation,
    /// The brand as a token inside another name (combosquatting).
    Keyword,
    /// Within a small edit distance of the brand, found by the matcher.
    EditDistance,
}

impl Method {
    pub fn label(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            Method::Addition => ("末尾加字符", "addition"),
            Method::Bitsquatting => ("比特翻转", "bitsquatting"),
            Method::Homoglyph => ("形近字符替换", "homoglyph"),
            Method::Hyphenation => ("插入连字符", "hyphenation"),
            Method::Insertion => ("插入相邻键", "insertion"),
            Method::Omission => ("缺字", "omission"),
            Method::Repetition => ("重复字符", "repetition"),
            Method::Replacement => ("相邻键替换", "replacement"),
            Method::Subdomain => ("拆成子域名", "subdomain"),
            Method::Transposition => ("字符换位", "transposition"),
            Method::VowelSwap => ("元音替换", "vowel swap"),
            Method::Dictionary => ("品牌加常用词", "dictionary"),
            Method::TldSwap => ("更换顶级域", "TLD swap"),
            Method::Confusable => ("Unicode 易混淆字符（TR39）", "Unicode confusable (TR39)"),
            Method::Pinyin => ("中文品牌拼音", "pinyin of the Chinese brand name"),
            Method::Abbreviation => (
                "中文品牌拼音首字母",
                "pinyin initials of the Chinese brand name",
            ),
            Method::Keyword => ("名称中嵌入品牌", "brand embedded in the name"),
            Method::EditDistance => (
                "与品牌仅差一两个字符",
                "one or two characters off the brand",
            ),
        };
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// One brand of the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Brand {
    /// Display name.
    pub name: String,
    /// The brand's real domains (`example.com.cn`); they and their
    /// subdomains never match.
    pub domains: Vec<String>,
    /// Chinese names (`中国工商银行`): their pinyin and initials are variants.
    #[serde(default)]
    pub names_zh: Vec<String>,
    /// Extra keywords to watch for inside names (product names, old names).
    #[serde(default)]
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LookalikeConfig {
    pub brands: Vec<Brand>,
    /// TLDs tried by the TLD-swap, pinyin and abbreviation methods.
    pub tlds: Vec<String>,
    /// Words tried by the dictionary method.
    pub dictionary: Vec<String>,
    /// Most variants kept per brand domain.
    pub max_variants_per_domain: usize,
    /// Names remembered as "no look-alike" by [`LookalikeWatch::observe`]
    /// (DNS traffic repeats the same names all day).
    pub max_cached_names: usize,
    /// Shortest brand token matched as a substring of a label (shorter ones
    /// must be a whole hyphen/dot-separated token).
    pub min_substring_len: usize,
    /// Shortest brand token compared by edit distance (1 edit) …
    pub min_fuzzy_len: usize,
    /// … and the shortest allowed 2 edits.
    pub min_fuzzy2_len: usize,
}

impl Default for LookalikeConfig {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        LookalikeConfig {
            brands: Vec::new(),
            tlds: s(&[
                "com", "net", "org", "cn", "com.cn", "net.cn", "info", "top", "xyz", "vip", "shop",
                "online", "site", "club", "cc", "co", "io", "me", "app", "live", "ltd", "work",
                "icu", "asia", "hk", "tk", "ml", "ga", "cf", "gq", "ru", "biz", "us",
            ]),
            dictionary: s(&[
                "login", "signin", "secure", "account", "verify", "update", "support", "service",
                "online", "mail", "sso", "auth", "vpn", "portal", "pay", "bank", "help", "my",
                "app", "web", "office", "kefu", "denglu", "zhanghu", "anquan", "yanzheng", "fuwu",
            ]),
            max_variants_per_domain: 50_000,
            max_cached_names: 100_000,
            min_substring_len: 4,
            min_fuzzy_len: 5,
            min_fuzzy2_len: 8,
        }
    }
}

/// One generated look-alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    /// ASCII form (punycode for IDN).
    pub domain: String,
    /// Unicode form when it differs.
    pub unicode: Option<String>,
    pub method: Method,
}

/// What the matcher found for an observed name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LookalikeMatch {
    pub observed: String,
    pub brand: String,
    pub brand_domain: String,
    pub method: Method,
}

impl LookalikeMatch {
    pub fn explain(&self) -> Text {
        Text::new(
            format!(
                "{} 仿冒品牌「{}」（{}），手法：{}",
                self.observed,
                self.brand,
                self.brand_domain,
                self.method.label(Lang::Zh)
            ),
            format!(
                "{} imitates brand {} ({}) by {}",
                self.observed,
                self.brand,
                self.brand_domain,
                self.method.label(Lang::En)
            ),
        )
    }
}

const QWERTY: [&str; 4] = ["1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm"];

fn keyboard_neighbours(c: char) -> Vec<char> {
    let mut out = Vec::new();
    for (r, row) in QWERTY.iter().enumerate() {
        if let Some(col) = row.find(c) {
            let at = |rr: usize, cc: isize, out: &mut Vec<char>| {
                if cc >= 0 {
                    if let Some(ch) = QWERTY[rr].chars().nth(cc as usize) {
                        out.push(ch);
                    }
                }
            };
            let col = col as isize;
            at(r, col - 1, &mut out);
            at(r, col + 1, &mut out);
            if r > 0 {
                at(r - 1, col, &mut out);
                at(r - 1, col + 1, &mut out);
            }
            if r + 1 < QWERTY.len() {
                at(r + 1, col - 1, &mut out);
                at(r + 1, col, &mut out);
            }
        }
    }
    out.retain(|x| *x != '-');
    out
}

fn homoglyph_table() -> HashMap<char, Vec<String>> {
    let mut m = HashMap::default();
    for line in HOMOGLYPHS.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some((k, v)) = line.split_once('\t') {
            if let Some(c) = k.chars().next() {
                m.insert(c, v.split(' ').map(str::to_string).collect());
            }
        }
    }
    m
}

fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || !c.is_ascii())
}

/// Most pinyin readings kept per name: each heteronym (行 is both xing and
/// hang) multiplies the readings, so the product is capped.
const MAX_READINGS: usize = 16;

/// Pinyin syllable sequences of a Chinese name, one per combination of the
/// readings of its heteronyms (at most [`MAX_READINGS`]). Latin letters and
/// digits are kept, lower-cased; other characters without pinyin dropped.
fn pinyin_readings(name: &str) -> Vec<Vec<String>> {
    use pinyin::ToPinyinMulti;
    let mut seqs: Vec<Vec<String>> = vec![Vec::new()];
    for (ch, multi) in name.chars().zip(name.to_pinyin_multi()) {
        let options: Vec<String> = match multi {
            Some(m) => m.into_iter().map(|p| p.plain().to_string()).collect(),
            None if ch.is_ascii_alphanumeric() => vec![ch.to_ascii_lowercase().to_string()],
            None => continue,
        };
        let mut next = Vec::new();
        for s in &seqs {
            for o in &options {
                if next.len() < MAX_READINGS {
                    let mut v = s.clone();
                    v.push(o.clone());
                    next.push(v);
                }
            }
        }
        seqs = next;
    }
    seqs.retain(|s| !s.is_empty());
    seqs
}

/// Splits a normalised domain into (first label of the registrable part,
/// the public suffix after it).
fn split_brand(domain: &str) -> Option<(String, String)> {
    let d = crate::domain::normalize(domain)?;
    let reg = crate::domain::registered(&d).to_string();
    let (label, suffix) = reg.split_once('.')?;
    Some((label.to_string(), suffix.to_string()))
}

/// All variants of one brand domain (plus its Chinese names), deduplicated,
/// without the domain itself, at most `cfg.max_variants_per_domain`.
pub fn generate(domain: &str, names_zh: &[String], cfg: &LookalikeConfig) -> Vec<Variant> {
    let Some((label, suffix)) = split_brand(domain) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Method)> = Vec::new();
    let chars: Vec<char> = label.chars().collect();
    let n = chars.len();
    let with = |s: String, m: Method, out: &mut Vec<(String, Method)>| out.push((s, m));
    let join = |l: &str| format!("{l}.{suffix}");
    let alnum: Vec<char> = ('a'..='z').chain('0'..='9').collect();
    for c in &alnum {
        with(join(&format!("{label}{c}")), Method::Addition, &mut out);
    }
    for i in 0..n {
        let b = chars[i] as u32;
        if b > 127 {
            continue;
        }
        for bit in 0..8 {
            let f = b ^ (1 << bit);
            if let Some(fc) = char::from_u32(f) {
                if fc.is_ascii_lowercase() || fc.is_ascii_digit() || fc == '-' {
                    let mut v = chars.clone();
                    v[i] = fc;
                    with(
                        join(&v.iter().collect::<String>()),
                        Method::Bitsquatting,
                        &mut out,
                    );
                }
            }
        }
    }
    let glyphs = homoglyph_table();
    for i in 0..n {
        if let Some(reps) = glyphs.get(&chars[i]) {
            for r in reps {
                let v: String = chars[..i].iter().collect::<String>()
                    + r
                    + &chars[i + 1..].iter().collect::<String>();
                with(join(&v), Method::Homoglyph, &mut out);
            }
        }
    }
    // multi-letter ASCII look-alikes the other way round (rn → m …)
    for (from, to) in [
        ("rn", "m"),
        ("vv", "w"),
        ("cl", "d"),
        ("nn", "m"),
        ("ii", "u"),
    ] {
        if label.contains(from) {
            with(join(&label.replace(from, to)), Method::Homoglyph, &mut out);
        }
    }
    for i in 1..n {
        let (a, b): (String, String) = (chars[..i].iter().collect(), chars[i..].iter().collect());
        with(join(&format!("{a}-{b}")), Method::Hyphenation, &mut out);
        with(join(&format!("{a}.{b}")), Method::Subdomain, &mut out);
    }
    for i in 0..n {
        let pre: String = chars[..i].iter().collect();
        let post: String = chars[i + 1..].iter().collect();
        let c = chars[i];
        for k in keyboard_neighbours(c) {
            with(
                join(&format!("{pre}{k}{c}{post}")),
                Method::Insertion,
                &mut out,
            );
            with(
                join(&format!("{pre}{c}{k}{post}")),
                Method::Insertion,
                &mut out,
            );
            with(
                join(&format!("{pre}{k}{post}")),
                Method::Replacement,
                &mut out,
            );
        }
        with(join(&format!("{pre}{post}")), Method::Omission, &mut out);
        with(
            join(&format!("{pre}{c}{c}{post}")),
            Method::Repetition,
            &mut out,
        );
        if "aeiou".contains(c) {
            for v in "aeiou".chars().filter(|v| *v != c) {
                with(
                    join(&format!("{pre}{v}{post}")),
                    Method::VowelSwap,
                    &mut out,
                );
            }
        }
        if i + 1 < n && chars[i] != chars[i + 1] {
            let mut v = chars.clone();
            v.swap(i, i + 1);
            with(
                join(&v.iter().collect::<String>()),
                Method::Transposition,
                &mut out,
            );
        }
    }
    for w in &cfg.dictionary {
        for v in [
            format!("{label}-{w}"),
            format!("{w}-{label}"),
            format!("{label}{w}"),
            format!("{w}{label}"),
        ] {
            with(join(&v), Method::Dictionary, &mut out);
        }
    }
    for t in &cfg.tlds {
        if *t != suffix {
            with(format!("{label}.{t}"), Method::TldSwap, &mut out);
        }
    }
    for syl in names_zh.iter().flat_map(|zh| pinyin_readings(zh)) {
        let full = syl.concat();
        let hyph = syl.join("-");
        let initials: String = syl.iter().filter_map(|s| s.chars().next()).collect();
        for t in std::iter::once(suffix.as_str()).chain(cfg.tlds.iter().map(String::as_str)) {
            with(format!("{full}.{t}"), Method::Pinyin, &mut out);
            with(format!("{hyph}.{t}"), Method::Pinyin, &mut out);
            if initials.len() >= 2 {
                with(format!("{initials}.{t}"), Method::Abbreviation, &mut out);
            }
        }
    }
    let own = format!("{label}.{suffix}");
    let mut seen: HashSet<String> = HashSet::default();
    let mut res = Vec::new();
    for (d, m) in out {
        if res.len() >= cfg.max_variants_per_domain {
            break;
        }
        if d == own || !d.split('.').all(valid_label) {
            continue;
        }
        let (ascii, unicode) = if d.is_ascii() {
            (d.clone(), None)
        } else {
            match idna::domain_to_ascii(&d) {
                Ok(a) => (a, Some(d.clone())),
                Err(_) => continue,
            }
        };
        if seen.insert(ascii.clone()) {
            res.push(Variant {
                domain: ascii,
                unicode,
                method: m,
            });
        }
    }
    res
}

/// TR39 skeleton, lower-cased (so `0`→`O`→`o` and `1`→`l` compare equal to
/// the letters they imitate).
/// What a word looks like: for ASCII, a fold of the look-alikes TR39
/// lists among ASCII characters (`0`→`o`, `1`/`|`→`l`, `rn`→`m`, `cl`→`d`,
/// plus `vv`→`w`), cheap enough for every DNS question; for anything else
/// the full TR39 skeleton.
fn shape(s: &str) -> String {
    if s.is_ascii() {
        ascii_fold(s)
    } else {
        skel(s)
    }
}

fn ascii_fold(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i].to_ascii_lowercase();
        let next = b.get(i + 1).map(u8::to_ascii_lowercase);
        let pair = match (c, next) {
            (b'r', Some(b'n')) => Some('m'),
            (b'v', Some(b'v')) => Some('w'),
            (b'c', Some(b'l')) => Some('d'),
            _ => None,
        };
        if let Some(p) = pair {
            out.push(p);
            i += 2;
            continue;
        }
        out.push(match c {
            b'0' => 'o',
            b'1' | b'|' => 'l',
            _ => c as char,
        });
        i += 1;
    }
    out
}

/// Whether the domain `finder` looks for occurs in `sub` as whole labels
/// (`a.brand.com.b`).
fn contains_labels(sub: &str, finder: &memchr::memmem::Finder<'static>) -> bool {
    let (s, n) = (sub.as_bytes(), finder.needle().len());
    finder.find_iter(s).any(|i| {
        let before = i == 0 || s[i - 1] == b'.';
        let after = i + n == s.len() || s[i + n] == b'.';
        before && after
    })
}

fn skel(s: &str) -> String {
    let once: String = skeleton(&s.to_lowercase())
        .collect::<String>()
        .to_lowercase();
    skeleton(&once).collect::<String>().to_lowercase()
}

#[derive(Debug)]
struct BrandToken {
    brand: usize,
    domain: String,
    token: String,
    /// TR39 skeleton, compared with non-ASCII words.
    skeleton: String,
    /// ASCII fold, compared with ASCII words.
    fold: String,
    /// Prebuilt substring searchers for the token and the domain: building
    /// one per comparison was a quarter of the matcher's time.
    token_finder: memchr::memmem::Finder<'static>,
    domain_finder: memchr::memmem::Finder<'static>,
}

impl BrandToken {
    fn new(brand: usize, domain: String, token: String) -> Self {
        BrandToken {
            brand,
            skeleton: skel(&token),
            fold: ascii_fold(&token),
            token_finder: memchr::memmem::Finder::new(token.as_bytes()).into_owned(),
            domain_finder: memchr::memmem::Finder::new(domain.as_bytes()).into_owned(),
            domain,
            token,
        }
    }

    /// The form of this token to compare with `word`'s [`shape`].
    fn shape_for(&self, word: &str) -> &str {
        if word.is_ascii() {
            &self.fold
        } else {
            &self.skeleton
        }
    }
}

/// Generated variants plus the fuzzy matcher, for every configured brand.
#[derive(Debug)]
pub struct LookalikeWatch {
    cfg: LookalikeConfig,
    variants: HashMap<String, (usize, usize, Method)>,
    tokens: Vec<BrandToken>,
    own: Vec<String>,
    /// 64-bit hashes of names already checked and found clean.
    clean: crate::table::BoundedMap<u64, ()>,
    hasher: foldhash::fast::FixedState,
}

impl LookalikeWatch {
    pub fn new(cfg: LookalikeConfig) -> Result<Self, AnomalyError> {
        let mut variants = HashMap::default();
        let mut tokens = Vec::new();
        let mut own = Vec::new();
        for (bi, b) in cfg.brands.iter().enumerate() {
            if b.domains.is_empty() {
                return Err(AnomalyError::Brand {
                    brand: b.name.clone(),
                    reason: "no domains".into(),
                });
            }
            for (di, d) in b.domains.iter().enumerate() {
                let Some((label, _)) = split_brand(d) else {
                    return Err(AnomalyError::Brand {
                        brand: b.name.clone(),
                        reason: format!("domain {d:?} is not a registrable name"),
                    });
                };
                own.push(crate::domain::normalize(d).unwrap_or_default());
                for v in generate(d, &b.names_zh, &cfg) {
                    variants.entry(v.domain).or_insert((bi, di, v.method));
                }
                let mut toks = vec![label];
                toks.extend(b.keywords.iter().map(|k| k.to_lowercase()));
                for t in toks {
                    tokens.push(BrandToken::new(bi, d.clone(), t));
                }
            }
            for syl in b.names_zh.iter().flat_map(|zh| pinyin_readings(zh)) {
                if syl.len() >= 2 {
                    let full = syl.concat();
                    tokens.push(BrandToken::new(bi, b.domains[0].clone(), full));
                }
            }
        }
        Ok(LookalikeWatch {
            clean: crate::table::BoundedMap::new(cfg.max_cached_names),
            hasher: foldhash::fast::FixedState::with_seed(0x100c),
            cfg,
            variants,
            tokens,
            own,
        })
    }

    /// The cache of names found clean.
    pub fn tables(&self) -> Vec<crate::table::TableStatus> {
        vec![self.clean.status("lookalike.clean_names")]
    }

    /// Number of generated variants held for exact lookup.
    pub fn variants_len(&self) -> usize {
        self.variants.len()
    }

    /// The variants of one domain under this watch's settings (what
    /// `taishi lookalike DOMAIN` prints).
    pub fn variants_of(&self, domain: &str, names_zh: &[String]) -> Vec<Variant> {
        generate(domain, names_zh, &self.cfg)
    }

    /// Checks one observed name (from DNS, proxy, mail or certificate logs).
    pub fn check(&self, observed: &str) -> Option<LookalikeMatch> {
        let name = crate::domain::normalize(observed)?;
        let ascii = if name.is_ascii() {
            name.clone()
        } else {
            idna::domain_to_ascii(&name).ok()?
        };
        if self.own.iter().any(|o| crate::domain::is_within(&ascii, o)) {
            return None;
        }
        let reg = crate::domain::registered(&ascii).to_string();
        let hit = |bi: usize, di: usize, method: Method| {
            let b = &self.cfg.brands[bi];
            Some(LookalikeMatch {
                observed: ascii.clone(),
                brand: b.name.clone(),
                brand_domain: b.domains[di].clone(),
                method,
            })
        };
        for cand in [&ascii, &reg] {
            if let Some(&(bi, di, m)) = self.variants.get(cand.as_str()) {
                return hit(bi, di, m);
            }
        }
        let by_token = |t: &BrandToken, method: Method| {
            let b = &self.cfg.brands[t.brand];
            Some(LookalikeMatch {
                observed: ascii.clone(),
                brand: b.name.clone(),
                brand_domain: t.domain.clone(),
                method,
            })
        };
        // A brand's full domain inside the subdomain part: brand.com.evil.net
        let sub = crate::domain::subdomain(&ascii, &reg);
        if !sub.is_empty() {
            for t in &self.tokens {
                if contains_labels(sub, &t.domain_finder) {
                    return by_token(t, Method::Subdomain);
                }
            }
        }
        // Everything left of the public suffix, in Unicode when it is IDN
        // (skeletons compare what a reader sees, not punycode).
        let suffix_len = reg.len() - reg.split('.').next().map_or(0, str::len);
        let body_ascii = &ascii[..ascii.len() - suffix_len];
        let body: std::borrow::Cow<str> = if body_ascii.contains("xn--") {
            idna::domain_to_unicode(body_ascii).0.into()
        } else {
            body_ascii.into()
        };
        let reg_label = body.rsplit('.').next().unwrap_or("");
        let reg_shape = shape(reg_label);
        for t in &self.tokens {
            if reg_shape == t.shape_for(reg_label) && reg_label != t.token {
                return by_token(t, Method::Confusable);
            }
        }
        // Tokens of every label, and the labels whole (brands such as
        // `t-mobile` contain a hyphen themselves).
        let mut words: Vec<&str> = body
            .split(['.', '-', '_'])
            .filter(|w| !w.is_empty())
            .collect();
        words.extend(body.split('.').filter(|w| w.contains('-')));
        for t in &self.tokens {
            if words.iter().any(|w| *w == t.token) {
                let m = if words
                    .iter()
                    .any(|o| self.cfg.dictionary.iter().any(|d| d == o))
                {
                    Method::Dictionary
                } else {
                    Method::Keyword
                };
                return by_token(t, m);
            }
        }
        for t in &self.tokens {
            if t.token.len() >= self.cfg.min_substring_len
                && words
                    .iter()
                    .any(|w| t.token_finder.find(w.as_bytes()).is_some())
            {
                return by_token(t, Method::Keyword);
            }
        }
        let shapes: Vec<(String, bool)> = words.iter().map(|w| (shape(w), w.is_ascii())).collect();
        for t in &self.tokens {
            if t.token.chars().count() < self.cfg.min_fuzzy_len {
                continue;
            }
            for (ws, is_ascii) in &shapes {
                let target = if *is_ascii { &t.fold } else { &t.skeleton };
                // lengths of shapes, not tokens: folding changes them (rn → m)
                let n = target.chars().count();
                let max = if n >= self.cfg.min_fuzzy2_len { 2 } else { 1 };
                if ws == target {
                    return by_token(t, Method::Confusable);
                }
                if ws.chars().count().abs_diff(n) <= max && osa_distance(ws, target, max) <= max {
                    return by_token(t, Method::EditDistance);
                }
            }
        }
        None
    }

    /// The streaming form of [`finding`](Self::finding): names found clean
    /// are remembered (bounded), so the common case is one hash lookup.
    pub fn observe(&mut self, observed: &str, ts_ms: i64) -> Option<Finding> {
        use std::hash::BuildHasher;
        let key = self.hasher.hash_one(observed);
        if self.clean.get(&key).is_some() {
            return None;
        }
        let f = self.finding(observed, ts_ms);
        if f.is_none() {
            self.clean.entry_or_insert_with(&key, || ());
        }
        f
    }

    /// A finding for an observed name, if it imitates a brand.
    pub fn finding(&self, observed: &str, ts_ms: i64) -> Option<Finding> {
        let m = self.check(observed)?;
        let score = match m.method {
            Method::Keyword | Method::Dictionary | Method::TldSwap | Method::EditDistance => 0.8,
            _ => 0.9,
        };
        Some(Finding {
            kind: FindingKind::Lookalike,
            entity: m.observed.clone(),
            score,
            severity: Severity::from_score(score),
            first_ms: ts_ms,
            last_ms: ts_ms,
            features: vec![Feature::new(
                "lookalike_method",
                1.0,
                score,
                true,
                m.explain(),
            )],
        })
    }
}

/// Optimal-string-alignment distance (Damerau with adjacent swaps), giving
/// up early once it exceeds `max`.
fn osa_distance(a: &str, b: &str, max: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max || a.len() > 64 || b.len() > 64 {
        return max + 1;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, v) in d.iter_mut().enumerate().take(w) {
        *v = j;
    }
    for i in 1..=a.len() {
        let mut row_min = usize::MAX;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return max + 1;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> LookalikeWatch {
        LookalikeWatch::new(LookalikeConfig {
            brands: vec![
                Brand {
                    name: "PayPal".into(),
                    domains: vec!["paypal.com".into()],
                    names_zh: vec![],
                    keywords: vec![],
                },
                Brand {
                    name: "工商银行".into(),
                    domains: vec!["icbc.com.cn".into()],
                    names_zh: vec!["工商银行".into()],
                    keywords: vec![],
                },
            ],
            ..LookalikeConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn generates_every_method() {
        let v = generate(
            "paypal.com",
            &["支付宝".to_string()],
            &LookalikeConfig::default(),
        );
        let methods: HashSet<Method> = v.iter().map(|x| x.method).collect();
        for m in [
            Method::Addition,
            Method::Bitsquatting,
            Method::Homoglyph,
            Method::Hyphenation,
            Method::Insertion,
            Method::Omission,
            Method::Repetition,
            Method::Replacement,
            Method::Subdomain,
            Method::Transposition,
            Method::VowelSwap,
            Method::Dictionary,
            Method::TldSwap,
            Method::Pinyin,
            Method::Abbreviation,
        ] {
            assert!(methods.contains(&m), "{m:?} missing");
        }
        assert!(v.iter().any(|x| x.domain == "zhifubao.com"));
        assert!(v.iter().any(|x| x.domain == "zfb.com"));
        assert!(
            v.iter().any(|x| x.domain.starts_with("xn--")),
            "IDN homoglyphs in punycode"
        );
    }

    #[test]
    fn matches_with_method() {
        let w = watch();
        let m = |d: &str| w.check(d).map(|x| (x.brand, x.method));
        assert_eq!(m("paypal.com"), None);
        assert_eq!(m("www.paypal.com"), None);
        assert_eq!(m("paypa1.com").unwrap().1, Method::Homoglyph);
        assert_eq!(m("paypal.top").unwrap().1, Method::TldSwap);
        assert_eq!(m("paypal-login.com").unwrap().1, Method::Dictionary);
        assert_eq!(
            m("paypal.com.secure.evil.net").unwrap().1,
            Method::Subdomain
        );
        assert_eq!(m("xn--pypal-4ve.com").unwrap().1, Method::Homoglyph); // pаypal, Cyrillic а
        assert_eq!(
            m("gongshangyinhang.com").unwrap(),
            ("工商银行".into(), Method::Pinyin)
        );
        assert_eq!(m("gsyh.cn").unwrap().1, Method::Abbreviation);
        assert_eq!(m("paypaal-verif.info").unwrap().1, Method::EditDistance);
        assert_eq!(m("example.org"), None);
        let f = w.finding("paypa1.com", 0).unwrap();
        let mut w = w;
        assert!(w.observe("example.org", 0).is_none());
        assert!(w.observe("example.org", 0).is_none(), "cached");
        assert!(w.observe("paypa1.com", 0).is_some());
        assert!(
            w.observe("paypa1.com", 0).is_some(),
            "matches are never cached away"
        );
        assert!(f.features[0].text.zh.contains("PayPal"));
    }
}
