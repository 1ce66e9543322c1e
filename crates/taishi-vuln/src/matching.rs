//! Matching an asset's software against NVD configurations.
//!
//! # The model
//!
//! A CVE applies to an asset when one of its configurations holds:
//!
//! - a **configuration** combines its nodes with `operator` (absent: OR) and
//!   may be negated;
//! - a **node** combines its `cpeMatch` entries with `operator` and may be
//!   negated;
//! - a **`cpeMatch` entry** holds when one of the asset's CPEs matches its
//!   criterion: the same vendor and product, `part` and the other attributes
//!   compatible (below), and the version inside the range
//!   (`versionStart/End{In,Ex}cluding`) or, without a range, equal to the
//!   criterion's version (`*` = every version, `-` = none).
//!
//! A configuration that holds yields a finding only through entries with
//! `vulnerable: true`: an entry with `vulnerable: false` names a platform
//! the vulnerable product runs on or with (Windows under an application,
//! the hardware under a firmware) and **never makes the platform itself
//! vulnerable** — an asset with only the platform has no finding (the
//! false-positive class of Grype issue #2770). One finding per (asset, CVE):
//! the first configuration that holds, with every vulnerable and platform
//! entry that matched, which asset CPE matched it, and the version
//! comparisons that decided.
//!
//! # Attributes other than vendor, product and version
//!
//! NISTIR 7696 matches when every attribute of the criterion is a superset
//! of or equal to the asset's. An asset CPE often leaves attributes unknown
//! (`*`, e.g. Nmap's `cpe:/a:openbsd:openssh:7.4`), which is a *subset*
//! relation in the standard; here an unknown `edition`, `language`,
//! `sw_edition`, `target_sw`, `target_hw` or `other` on the asset side is
//! taken to match (recall first; the explanation shows the criterion), while
//! an unknown `update` is read as "no update" (`-`): `5.0` is the release,
//! not `5.0 rc1`. For range comparisons the asset's version and update are
//! joined (`5.0` + `rc1` → `5.0-rc1`), see [`Cpe::range_version`].
//!
//! # The index
//!
//! The feed is compiled once: criteria parsed, versions tokenised, vendor and
//! product interned, and a posting list from each (vendor, product) to the
//! CVEs where it appears in a *vulnerable* entry. An asset is matched by
//! looking up its CPEs' (vendor, product) pairs and evaluating only those
//! CVEs; a CVE whose only mention of a product is as a platform is never a
//! candidate for it.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::cpe::{relation, Attr, Cpe, CpeError, Relation, PART, UPDATE, VERSION};
use crate::lang::Text;
use crate::nvd::{self, Operator};
use crate::version::Version;

/// Result of comparing two versions, for explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cmp {
    /// Less.
    Less,
    /// Equal.
    Equal,
    /// Greater.
    Greater,
}

impl From<std::cmp::Ordering> for Cmp {
    fn from(o: std::cmp::Ordering) -> Self {
        match o {
            std::cmp::Ordering::Less => Self::Less,
            std::cmp::Ordering::Equal => Self::Equal,
            std::cmp::Ordering::Greater => Self::Greater,
        }
    }
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Self::Less => "<",
            Self::Equal => "=",
            Self::Greater => ">",
        }
    }
}

/// One end of a range, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundCheck {
    /// The bound's version.
    pub version: String,
    /// Whether the bound is included.
    pub inclusive: bool,
    /// The asset's version compared with the bound.
    pub cmp: Cmp,
}

/// How the version decided a match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VersionCheck {
    /// The criterion covers every version (`*`, no range).
    AllVersions,
    /// The criterion has no version (`-`), nor has the asset's CPE.
    NotApplicable,
    /// The criterion names one version and the asset's equals it.
    Exact {
        /// The criterion's version.
        criterion: String,
        /// The asset's.
        asset: String,
    },
    /// The criterion's version has wildcards (`2.4.*`) that the asset's fits.
    Pattern {
        /// The criterion's version.
        criterion: String,
        /// The asset's.
        asset: String,
    },
    /// A range; the asset's version lies inside.
    Range {
        /// The asset's version (with its update joined, see [`Cpe::range_version`]).
        asset: String,
        /// The start, if any.
        start: Option<BoundCheck>,
        /// The end, if any.
        end: Option<BoundCheck>,
    },
}

impl VersionCheck {
    /// The comparison in words.
    pub fn text(&self) -> Text {
        match self {
            Self::AllVersions => Text::new("影响所有版本", "all versions are affected"),
            Self::NotApplicable => Text::new("无版本（不适用）", "no version applies"),
            Self::Exact { criterion, asset } => Text::new(
                format!("版本 {asset} 等于 {criterion}"),
                format!("version {asset} equals {criterion}"),
            ),
            Self::Pattern { criterion, asset } => Text::new(
                format!("版本 {asset} 符合通配 {criterion}"),
                format!("version {asset} fits the pattern {criterion}"),
            ),
            Self::Range { asset, start, end } => {
                let mut zh = format!("版本 {asset}：");
                let mut en = format!("version {asset}: ");
                let mut parts_zh = Vec::new();
                let mut parts_en = Vec::new();
                for (b, is_start) in [(start, true), (end, false)] {
                    let Some(b) = b else { continue };
                    let want = match (is_start, b.inclusive) {
                        (true, true) => "≥",
                        (true, false) => ">",
                        (false, true) => "≤",
                        (false, false) => "<",
                    };
                    let (kind_zh, kind_en) = match (is_start, b.inclusive) {
                        (true, true) => ("起始版本，含", "start, inclusive"),
                        (true, false) => ("起始版本，不含", "start, exclusive"),
                        (false, true) => ("结束版本，含", "end, inclusive"),
                        (false, false) => ("结束版本，不含", "end, exclusive"),
                    };
                    let got = b.cmp.symbol();
                    parts_zh.push(format!(
                        "{asset} {got} {v}，满足 {want} {v}（{kind_zh}）",
                        v = b.version
                    ));
                    parts_en.push(format!(
                        "{asset} {got} {v}, so {want} {v} holds ({kind_en})",
                        v = b.version
                    ));
                }
                zh.push_str(&parts_zh.join("，"));
                en.push_str(&parts_en.join(" and "));
                Text::new(zh, en)
            }
        }
    }
}

/// A `cpeMatch` entry that one of the asset's CPEs satisfied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Node index in the configuration (0-based).
    pub node: usize,
    /// Entry index in the node (0-based).
    pub cpe_match: usize,
    /// The criterion (CPE 2.3).
    pub criteria: String,
    /// NVD's `matchCriteriaId`.
    pub match_criteria_id: Option<String>,
    /// Whether the entry is vulnerable (false: a platform).
    pub vulnerable: bool,
    /// Index of the asset's CPE in its inventory.
    pub item: usize,
    /// The asset's CPE.
    pub asset_cpe: String,
    /// How the version decided.
    pub version: VersionCheck,
}

/// A CVE that applies to an asset, with why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The CVE id.
    pub cve: String,
    /// The configuration that holds (0-based).
    pub configuration: usize,
    /// Its operator.
    pub operator: Operator,
    /// Its number of nodes.
    pub node_count: usize,
    /// The vulnerable entries that matched (at least one).
    pub vulnerable: Vec<Evidence>,
    /// The platform entries that matched.
    pub platforms: Vec<Evidence>,
    /// Negated nodes that held because nothing of the asset matched them.
    pub negated_nodes: Vec<usize>,
    /// The asset CPEs found vulnerable (indices into the inventory).
    pub items: Vec<usize>,
}

impl Finding {
    /// The explanation in words (zh-CN and English): the configuration,
    /// each matched node and entry with its criterion, the asset CPE that
    /// met it and the version comparison that decided. Rendered from the
    /// fields above on demand: a scan of 100,000 assets yields millions of
    /// findings, and their text is read only when someone looks.
    pub fn explanation(&self) -> Text {
        explain(self)
    }
}

/// A criterion that could not be compiled (it never matches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The CVE.
    pub cve: String,
    /// The criterion.
    pub criteria: String,
    /// Why.
    pub reason: String,
}

struct Bound {
    version: Version,
    inclusive: bool,
}

struct CMatch {
    /// The CVE (index into `FeedIndex::cves`).
    cve: u32,
    vulnerable: bool,
    /// Interned (vendor, product); `u32::MAX` when the criterion failed to
    /// compile (never matches).
    product: u32,
    /// `a`, `o`, `h`, or 0 for ANY.
    part: u8,
    version: Attr,
    /// `version` parsed, when it is a literal (compared by order, so
    /// `1.0` = `1.0.0`).
    exact: Option<Box<Version>>,
    /// update … other, `None` when all are ANY (the common case).
    rest: Option<Box<[Attr; 7]>>,
    start: Option<Box<Bound>>,
    end: Option<Box<Bound>>,
    /// [`Version::key`] of the bounds, kept inline so that most range
    /// checks touch no other memory (`0` / `u64::MAX` when absent).
    start_key: u64,
    end_key: u64,
    match_criteria_id: Option<Box<str>>,
    /// The criterion as NVD wrote it.
    criteria: Box<str>,
}

struct CNode {
    operator: Operator,
    negate: bool,
    /// Its entries: `FeedIndex::matches[first..first + len]`.
    first: u32,
    len: u32,
    /// The products its entries name (sorted, deduplicated), for the
    /// pre-check of AND configurations.
    products: Box<[u32]>,
}

struct CConfig {
    operator: Operator,
    negate: bool,
    nodes: Box<[CNode]>,
    /// The products of its vulnerable entries (sorted, deduplicated): a
    /// configuration none of whose products the asset has cannot yield a
    /// finding and is skipped without evaluation.
    vulnerable_products: Box<[u32]>,
}

struct CCve {
    id: Box<str>,
    configs: Box<[CConfig]>,
}

/// The vulnerable entries of one product, split so that a version finds
/// its entries by binary search instead of a scan.
#[derive(Default)]
struct Postings {
    /// Entries without a range or a literal version (`*`, `-`, wildcards):
    /// checked one by one.
    other: Vec<u32>,
    /// Entries with a literal version and no range, sorted by version.
    exact: Vec<u32>,
    /// Entries with a range, sorted by their end (no end last).
    ranges: Vec<u32>,
    /// Whether `exact` and `ranges` are sorted ([`FeedIndex::finish`]).
    sorted: bool,
}

impl Postings {
    fn len(&self) -> usize {
        self.other.len() + self.exact.len() + self.ranges.len()
    }
}

/// The compiled feed.
pub struct FeedIndex {
    cves: Vec<CCve>,
    /// Every compiled entry, in feed order (nodes point into it).
    matches: Vec<CMatch>,
    /// vendor → product → id.
    products: HashMap<Box<str>, HashMap<Box<str>, u32>>,
    /// id → (vendor, product).
    names: Vec<(Box<str>, Box<str>)>,
    /// id → the vulnerable entries naming it.
    postings: Vec<Postings>,
    /// Criteria that failed to compile.
    pub rejected: Vec<Rejected>,
}

/// An asset's software, prepared for matching.
pub struct Inventory {
    items: Vec<Item>,
}

struct Item {
    /// `part` as a byte (0 = ANY).
    part: u8,
    cpe: Cpe,
    text: String,
    /// Version + update, for ranges.
    range_version: Option<Version>,
    /// Its [`Version::key`].
    range_key: u64,
    /// Version alone, for exact comparisons.
    version: Option<Version>,
}

impl Inventory {
    /// From parsed CPEs.
    pub fn new(cpes: Vec<Cpe>) -> Self {
        let items = cpes
            .into_iter()
            .map(|cpe| Item {
                part: part_byte(&cpe.attrs[PART]),
                text: cpe.to_string(),
                range_version: cpe.range_version().map(|v| Version::parse(&v)),
                range_key: cpe.range_version().map_or(0, |v| Version::parse(&v).key()),
                version: cpe.version().as_literal().map(Version::parse),
                cpe,
            })
            .collect();
        Self { items }
    }

    /// From CPE strings (2.3 or 2.2 URI); the ones that fail to parse are
    /// returned with their index.
    pub fn parse<S: AsRef<str>>(cpes: &[S]) -> (Self, Vec<(usize, CpeError)>) {
        let mut ok = Vec::with_capacity(cpes.len());
        let mut bad = Vec::new();
        for (i, s) in cpes.iter().enumerate() {
            match Cpe::parse(s.as_ref()) {
                Ok(c) => ok.push(c),
                Err(e) => bad.push((i, e)),
            }
        }
        (Self::new(ok), bad)
    }

    /// Number of CPEs.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The CPE at `i`.
    pub fn cpe(&self, i: usize) -> &Cpe {
        &self.items[i].cpe
    }
}

/// An inventory resolved against one index: items grouped by product id.
struct Resolved {
    /// (product id, item index), sorted.
    by_product: Vec<(u32, usize)>,
}

impl Resolved {
    fn has(&self, product: u32) -> bool {
        let i = self.by_product.partition_point(|(p, _)| *p < product);
        self.by_product.get(i).is_some_and(|(p, _)| *p == product)
    }

    fn items(&self, product: u32) -> impl Iterator<Item = usize> + '_ {
        let start = self.by_product.partition_point(|(p, _)| *p < product);
        self.by_product[start..]
            .iter()
            .take_while(move |(p, _)| *p == product)
            .map(|(_, i)| *i)
    }
}

/// Statistics of a compiled index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    /// CVEs.
    pub cves: usize,
    /// Distinct (vendor, product) pairs.
    pub products: usize,
    /// Compiled `cpeMatch` entries.
    pub cpe_matches: usize,
    /// Entries in the posting lists.
    pub postings: usize,
    /// Criteria that failed to compile.
    pub rejected: usize,
}

impl Default for FeedIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl FeedIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self {
            cves: Vec::new(),
            matches: Vec::new(),
            products: HashMap::new(),
            names: Vec::new(),
            postings: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// Compiles records into a new index.
    pub fn build<'a>(records: impl IntoIterator<Item = &'a nvd::Cve>) -> Self {
        let mut ix = Self::new();
        for r in records {
            ix.add(r);
        }
        ix.finish();
        ix
    }

    /// Sorts the posting lists after [`FeedIndex::add`] calls. Matching is
    /// correct without it (unsorted lists are scanned whole), only slower.
    pub fn finish(&mut self) {
        let matches = &self.matches;
        for p in &mut self.postings {
            if p.sorted {
                continue;
            }
            p.exact
                .sort_by(|a, b| matches[*a as usize].exact.cmp(&matches[*b as usize].exact));
            // `None` (no end) sorts last, as the greatest end.
            p.ranges.sort_by(|a, b| {
                let (ea, eb) = (&matches[*a as usize].end, &matches[*b as usize].end);
                match (ea, eb) {
                    (Some(x), Some(y)) => x.version.cmp(&y.version),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            });
            p.sorted = true;
        }
    }

    /// Calls `f` for every vulnerable entry of a product that the asset CPE
    /// satisfies on its own.
    fn product_hits<'s>(&'s self, p: &Postings, it: &Item, mut f: impl FnMut(&'s CMatch)) {
        let m = |i: &u32| &self.matches[*i as usize];
        for e in p.other.iter().map(m) {
            if entry_ok(e, it) {
                f(e);
            }
        }
        if let Some(v) = &it.version {
            let (lo, hi) = if p.sorted {
                let key = |i: &u32| m(i).exact.as_deref();
                (
                    p.exact.partition_point(|i| key(i).is_some_and(|x| x < v)),
                    p.exact.partition_point(|i| key(i).is_some_and(|x| x <= v)),
                )
            } else {
                (0, p.exact.len())
            };
            for e in p.exact[lo..hi].iter().map(m) {
                if entry_ok(e, it) {
                    f(e);
                }
            }
        }
        if it.range_version.is_some() {
            // Entries whose end lies below the version cannot hold.
            // Sorted by end, so the keys are sorted too; a smaller key is a
            // smaller version.
            let key = it.range_key;
            let lo = if p.sorted {
                p.ranges.partition_point(|i| m(i).end_key < key)
            } else {
                0
            };
            for e in p.ranges[lo..].iter().map(m) {
                if entry_ok(e, it) {
                    f(e);
                }
            }
        }
    }

    fn intern(&mut self, vendor: &str, product: &str) -> u32 {
        if let Some(id) = self.products.get(vendor).and_then(|m| m.get(product)) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push((vendor.into(), product.into()));
        self.postings.push(Postings::default());
        self.products
            .entry(vendor.into())
            .or_default()
            .insert(product.into(), id);
        id
    }

    fn lookup(&self, vendor: &str, product: &str) -> Option<u32> {
        self.products.get(vendor)?.get(product).copied()
    }

    /// Adds one record. A record with no configurations is kept (it has no
    /// findings until NVD analyses it).
    pub fn add(&mut self, r: &nvd::Cve) {
        let cve_idx = self.cves.len() as u32;
        let mut configs = Vec::with_capacity(r.configurations.len());
        for c in &r.configurations {
            let mut nodes = Vec::with_capacity(c.nodes.len());
            for n in &c.nodes {
                let first = self.matches.len() as u32;
                for m in &n.cpe_match {
                    let cm = self.compile(cve_idx, &r.id, m);
                    if cm.vulnerable && cm.product != u32::MAX {
                        let p = &mut self.postings[cm.product as usize];
                        let idx = self.matches.len() as u32;
                        if cm.start.is_some() || cm.end.is_some() {
                            p.ranges.push(idx);
                        } else if cm.exact.is_some() {
                            p.exact.push(idx);
                        } else {
                            p.other.push(idx);
                        }
                        p.sorted = false;
                    }
                    self.matches.push(cm);
                }
                let mut products: Vec<u32> = self.matches[first as usize..]
                    .iter()
                    .map(|m| m.product)
                    .filter(|p| *p != u32::MAX)
                    .collect();
                products.sort_unstable();
                products.dedup();
                nodes.push(CNode {
                    operator: n.operator,
                    negate: n.negate,
                    first,
                    len: n.cpe_match.len() as u32,
                    products: products.into(),
                });
            }
            let mut vp: Vec<u32> = nodes
                .iter()
                .filter(|n| !n.negate)
                .flat_map(|n| &self.matches[n.first as usize..(n.first + n.len) as usize])
                .filter(|m| m.vulnerable && m.product != u32::MAX)
                .map(|m| m.product)
                .collect();
            vp.sort_unstable();
            vp.dedup();
            configs.push(CConfig {
                operator: c.operator.unwrap_or_default(),
                negate: c.negate,
                nodes: nodes.into(),
                vulnerable_products: vp.into(),
            });
        }
        self.cves.push(CCve {
            id: r.id.as_str().into(),
            configs: configs.into(),
        });
    }

    fn compile(&mut self, cve_idx: u32, cve: &str, m: &nvd::CpeMatch) -> CMatch {
        let bound = |v: &Option<String>, inclusive: bool| {
            v.as_deref().map(|v| {
                Box::new(Bound {
                    version: Version::parse(v),
                    inclusive,
                })
            })
        };
        let start =
            bound(&m.version_start_including, true).or(bound(&m.version_start_excluding, false));
        let end = bound(&m.version_end_including, true).or(bound(&m.version_end_excluding, false));
        let start_key = start.as_ref().map_or(0, |b| b.version.key());
        let end_key = end.as_ref().map_or(u64::MAX, |b| b.version.key());
        let mut out = CMatch {
            start_key,
            end_key,
            cve: cve_idx,
            vulnerable: m.vulnerable,
            product: u32::MAX,
            part: 0,
            version: Attr::Any,
            exact: None,
            rest: None,
            start,
            end,
            match_criteria_id: m.match_criteria_id.as_deref().map(Into::into),
            criteria: m.criteria.as_str().into(),
        };
        let reject = |ix: &mut Self, reason: String| {
            ix.rejected.push(Rejected {
                cve: cve.to_owned(),
                criteria: m.criteria.clone(),
                reason,
            })
        };
        let cpe = match Cpe::parse(&m.criteria) {
            Ok(c) => c,
            Err(e) => {
                reject(self, e.to_string());
                return out;
            }
        };
        let (Some(vendor), Some(product)) = (cpe.vendor(), cpe.product()) else {
            reject(
                self,
                "vendor and product must be literal to be indexed".into(),
            );
            return out;
        };
        out.product = self.intern(vendor, product);
        let [part, _, _, version, rest @ ..] = cpe.attrs;
        out.part = part_byte(&part);
        out.exact = version.as_literal().map(|v| Box::new(Version::parse(v)));
        out.version = version;
        if rest.iter().any(|a| *a != Attr::Any) {
            out.rest = Some(Box::new(rest));
        }
        out
    }

    /// Statistics.
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            cves: self.cves.len(),
            products: self.names.len(),
            cpe_matches: self.matches.len(),
            postings: self.postings.iter().map(Postings::len).sum(),
            rejected: self.rejected.len(),
        }
    }

    fn resolve(&self, inv: &Inventory) -> Resolved {
        let mut by_product: Vec<(u32, usize)> = inv
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| {
                let p = self.lookup(it.cpe.vendor()?, it.cpe.product()?)?;
                Some((p, i))
            })
            .collect();
        by_product.sort_unstable();
        Resolved { by_product }
    }

    /// The CVEs worth evaluating for an inventory (indices), deduplicated:
    /// those with a vulnerable entry that one of the inventory's CPEs
    /// satisfies on its own (the full configuration is evaluated after).
    fn candidates(&self, inv: &Inventory, res: &Resolved) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for &(p, i) in &res.by_product {
            let it = &inv.items[i];
            self.product_hits(&self.postings[p as usize], it, |m| {
                if out.last() != Some(&m.cve) {
                    out.push(m.cve);
                }
            });
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Number of CVEs the posting lists leave to evaluate in full for an
    /// inventory (for benchmarks).
    pub fn candidate_count(&self, inv: &Inventory) -> usize {
        self.candidates(inv, &self.resolve(inv)).len()
    }

    /// Number of vulnerable entries the inventory's products appear in (the
    /// work the posting lists leave to do), for benchmarks.
    pub fn postings_for(&self, inv: &Inventory) -> usize {
        self.resolve(inv)
            .by_product
            .iter()
            .map(|(p, _)| self.postings[*p as usize].len())
            .sum()
    }

    /// Every CVE that applies to the inventory, each with its explanation,
    /// in the index's order.
    pub fn match_inventory(&self, inv: &Inventory) -> Vec<Finding> {
        let res = self.resolve(inv);
        let mut out = Vec::new();
        let mut hits = Vec::new();
        for c in self.candidates(inv, &res) {
            if let Some(f) = self.evaluate_cve(&self.cves[c as usize], inv, &res, &mut hits) {
                out.push(f);
            }
        }
        out
    }

    /// The findings for one CVE (by id), evaluated without the posting lists
    /// (used to check the index against a plain scan).
    pub fn match_cve(&self, cve: &str, inv: &Inventory) -> Option<Finding> {
        let res = self.resolve(inv);
        let c = self.cves.iter().find(|c| &*c.id == cve)?;
        self.evaluate_cve(c, inv, &res, &mut Vec::new())
    }

    /// Every CVE evaluated in turn, without the posting lists: the naive
    /// baseline for the benchmark and tests.
    pub fn match_inventory_scan(&self, inv: &Inventory) -> Vec<Finding> {
        let res = self.resolve(inv);
        let mut hits = Vec::new();
        self.cves
            .iter()
            .filter_map(|c| self.evaluate_cve(c, inv, &res, &mut hits))
            .collect()
    }

    /// `hits` is scratch space, passed in so that one buffer serves a
    /// whole inventory.
    fn evaluate_cve(
        &self,
        c: &CCve,
        inv: &Inventory,
        res: &Resolved,
        hits: &mut Vec<(u32, u32, u32)>,
    ) -> Option<Finding> {
        // Phase 1 decides without allocating text: hits are (node, entry
        // index into `matches`, item). Phase 2 explains a configuration
        // that holds.
        for (ci, conf) in c.configs.iter().enumerate() {
            if !may_hold(conf, res) {
                continue;
            }
            hits.clear();
            let mut negated_nodes = Vec::new();
            let mut values = 0usize;
            let mut trues = 0usize;
            for (ni, node) in conf.nodes.iter().enumerate() {
                let mark = hits.len();
                let (mut any, mut all) = (false, true);
                for mi in node.first..node.first + node.len {
                    let m = &self.matches[mi as usize];
                    let before = hits.len();
                    if m.product != u32::MAX {
                        for i in res.items(m.product) {
                            if entry_ok(m, &inv.items[i]) {
                                hits.push((ni as u32, mi, i as u32));
                            }
                        }
                    }
                    if hits.len() == before {
                        all = false;
                        if node.operator == Operator::And {
                            break;
                        }
                    } else {
                        any = true;
                    }
                }
                let v = match node.operator {
                    Operator::Or => any,
                    Operator::And => all && node.len > 0,
                } != node.negate;
                if node.negate || !v {
                    // A negated node's matches are not evidence; a false
                    // node's are not either.
                    hits.truncate(mark);
                }
                if v && node.negate {
                    negated_nodes.push(ni);
                }
                values += 1;
                trues += usize::from(v);
                if conf.operator == Operator::And && !v && !conf.negate {
                    break;
                }
            }
            let holds = !conf.nodes.is_empty()
                && match conf.operator {
                    Operator::Or => trues > 0,
                    Operator::And => values == conf.nodes.len() && trues == values,
                };
            // A configuration that holds only through platforms (or through
            // negation) names nothing vulnerable on this asset.
            if holds == conf.negate || !hits.iter().any(|h| self.matches[h.1 as usize].vulnerable) {
                continue;
            }
            let mut vulnerable = Vec::new();
            let mut platforms = Vec::new();
            for &(ni, mi, item) in hits.iter() {
                let node = &conf.nodes[ni as usize];
                let m = &self.matches[mi as usize];
                let it = &inv.items[item as usize];
                let e = Evidence {
                    node: ni as usize,
                    cpe_match: (mi - node.first) as usize,
                    criteria: m.criteria.to_string(),
                    match_criteria_id: m.match_criteria_id.as_deref().map(Into::into),
                    vulnerable: m.vulnerable,
                    item: item as usize,
                    asset_cpe: it.text.clone(),
                    version: version_check(m, it),
                };
                if m.vulnerable {
                    vulnerable.push(e);
                } else {
                    platforms.push(e);
                }
            }
            let mut items: Vec<usize> = vulnerable.iter().map(|e| e.item).collect();
            items.sort_unstable();
            items.dedup();
            return Some(Finding {
                cve: c.id.to_string(),
                configuration: ci,
                operator: conf.operator,
                node_count: conf.nodes.len(),
                vulnerable,
                platforms,
                negated_nodes,
                items,
            });
        }
        None
    }
}

/// A cheap necessary condition for a configuration to yield a finding: one
/// of its vulnerable products is on the asset, and, for an AND
/// configuration, every plain node names a product the asset has (all of
/// them for a node-level AND). Negated configurations are always evaluated.
fn may_hold(conf: &CConfig, res: &Resolved) -> bool {
    if conf.negate {
        return true;
    }
    if !conf.vulnerable_products.iter().any(|p| res.has(*p)) {
        return false;
    }
    if conf.operator == Operator::And {
        for n in conf.nodes.iter().filter(|n| !n.negate) {
            let ok = match n.operator {
                Operator::Or => n.products.iter().any(|p| res.has(*p)),
                Operator::And => n.products.iter().all(|p| res.has(*p)),
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// `part` as a byte: the parser only lets `a`, `o`, `h` or ANY through.
fn part_byte(a: &Attr) -> u8 {
    a.as_literal().and_then(|p| p.bytes().next()).unwrap_or(0)
}

/// Whether one asset CPE (already known to have the entry's vendor and
/// product) satisfies the entry. Allocates nothing: this is the hot path.
fn entry_ok(m: &CMatch, it: &Item) -> bool {
    if m.part != 0 && it.part != 0 && m.part != it.part {
        return false;
    }
    if let Some(rest) = &m.rest {
        let ok = rest.iter().enumerate().all(|(k, a)| {
            let t = &it.cpe.attrs[UPDATE + k];
            if k == 0 && *t == Attr::Any {
                // An unknown update is the release itself.
                return attr_ok(a, &Attr::Na, false);
            }
            attr_ok(a, t, true)
        });
        if !ok {
            return false;
        }
    }
    version_ok(m, it)
}

fn bound_ok(v: &Version, vkey: u64, b: &Bound, bkey: u64, is_start: bool) -> bool {
    // Different keys decide exactly; equal keys need the full comparison.
    let cmp = if vkey != bkey {
        vkey.cmp(&bkey)
    } else {
        v.cmp(&b.version)
    };
    match (is_start, b.inclusive) {
        (true, true) => cmp.is_ge(),
        (true, false) => cmp.is_gt(),
        (false, true) => cmp.is_le(),
        (false, false) => cmp.is_lt(),
    }
}

fn version_ok(m: &CMatch, it: &Item) -> bool {
    if m.start.is_some() || m.end.is_some() {
        // A range needs the asset's version; `*` or `-` cannot be placed.
        let Some(v) = it.range_version.as_ref() else {
            return false;
        };
        let k = it.range_key;
        return m.start.as_ref().is_none_or(|b| bound_ok(v, k, b, m.start_key, true))
            && m.end.as_ref().is_none_or(|b| bound_ok(v, k, b, m.end_key, false))
            // A range on a criterion that also names a version (rare): both must hold.
            && (m.version == Attr::Any || attr_ok(&m.version, &it.cpe.attrs[VERSION], false));
    }
    match &m.version {
        Attr::Any => true,
        Attr::Na => matches!(it.cpe.attrs[VERSION], Attr::Na | Attr::Any),
        Attr::Value { .. } => {
            let Some(asset) = it.cpe.attrs[VERSION].as_literal() else {
                return false;
            };
            match m.version.as_literal() {
                Some(c) => {
                    c == asset || matches!((&it.version, &m.exact), (Some(v), Some(e)) if **e == *v)
                }
                None => relation(&m.version, &it.cpe.attrs[VERSION]) == Relation::Superset,
            }
        }
    }
}

/// How the version decided, for an entry that [`entry_ok`] accepted.
fn version_check(m: &CMatch, it: &Item) -> VersionCheck {
    let asset = || {
        it.cpe.attrs[VERSION]
            .as_literal()
            .unwrap_or_default()
            .to_owned()
    };
    if m.start.is_some() || m.end.is_some() {
        let pv = it.range_version.as_ref();
        let check = |b: &Option<Box<Bound>>| {
            b.as_ref().map(|b| BoundCheck {
                version: b.version.as_str().to_owned(),
                inclusive: b.inclusive,
                cmp: pv
                    .map_or(std::cmp::Ordering::Less, |v| v.cmp(&b.version))
                    .into(),
            })
        };
        return VersionCheck::Range {
            asset: pv.map(|v| v.as_str().to_owned()).unwrap_or_default(),
            start: check(&m.start),
            end: check(&m.end),
        };
    }
    match &m.version {
        Attr::Any => VersionCheck::AllVersions,
        Attr::Na => VersionCheck::NotApplicable,
        Attr::Value { .. } => match m.version.as_literal() {
            Some(c) => VersionCheck::Exact {
                criterion: c.to_owned(),
                asset: asset(),
            },
            None => VersionCheck::Pattern {
                criterion: Cpe {
                    attrs: std::array::from_fn(|k| {
                        if k == VERSION {
                            m.version.clone()
                        } else {
                            Attr::Any
                        }
                    }),
                }
                .to_string()
                .split(':')
                .nth(5)
                .unwrap_or_default()
                .to_owned(),
                asset: asset(),
            },
        },
    }
}

fn attr_ok(source: &Attr, target: &Attr, unknown_target_matches: bool) -> bool {
    match relation(source, target) {
        Relation::Superset | Relation::Equal => true,
        Relation::Subset => unknown_target_matches && *target == Attr::Any,
        Relation::Disjoint => false,
    }
}

fn explain(f: &Finding) -> Text {
    let nodes = f.node_count;
    let mut zh = String::new();
    let mut en = String::new();
    let _ = write!(
        zh,
        "{} 适用：配置 {}（{} 个节点，{}）",
        f.cve,
        f.configuration + 1,
        nodes,
        f.operator.text(crate::Lang::ZhCn)
    );
    let _ = write!(
        en,
        "{} applies: configuration {} ({} of {} node{})",
        f.cve,
        f.configuration + 1,
        f.operator.text(crate::Lang::En),
        nodes,
        if nodes == 1 { "" } else { "s" }
    );
    let mut text = Text::new(zh, en);
    for e in f.vulnerable.iter().chain(&f.platforms) {
        let v = e.version.text();
        let (role_zh, role_en) = if e.vulnerable {
            ("存在漏洞", "vulnerable")
        } else {
            (
                "运行平台，本身不受影响",
                "platform it runs on/with, not itself vulnerable",
            )
        };
        text.push(&Text::new(
            format!(
                "节点 {} 匹配项 {}：{}（{}）由资产软件 {} 满足，{}",
                e.node + 1,
                e.cpe_match + 1,
                e.criteria,
                role_zh,
                e.asset_cpe,
                v.zh
            ),
            format!(
                "node {}, match {}: {} ({}) is met by the asset's {}, {}",
                e.node + 1,
                e.cpe_match + 1,
                e.criteria,
                role_en,
                e.asset_cpe,
                v.en
            ),
        ));
    }
    for n in &f.negated_nodes {
        text.push(&Text::new(
            format!("节点 {}（取反）成立：资产没有与之匹配的软件", n + 1),
            format!(
                "node {} (negated) holds: nothing on the asset matches it",
                n + 1
            ),
        ));
    }
    text
}
