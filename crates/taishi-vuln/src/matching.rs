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

use crate::cpe::{relation, Attr, Cpe, CpeError, Relation, PART, PRODUCT, UPDATE, VENDOR, VERSION};
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
    /// Its operator and node count, for the explanation.
    pub operator: Operator,
    /// The vulnerable entries that matched (at least one).
    pub vulnerable: Vec<Evidence>,
    /// The platform entries that matched.
    pub platforms: Vec<Evidence>,
    /// Negated nodes that held because nothing of the asset matched them.
    pub negated_nodes: Vec<usize>,
    /// The asset CPEs found vulnerable (indices into the inventory).
    pub items: Vec<usize>,
    /// The whole explanation.
    pub explanation: Text,
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
    part: Attr,
    version: Attr,
    /// `version` parsed, when it is a literal (compared by order, so
    /// `1.0` = `1.0.0`).
    exact: Option<Box<Version>>,
    /// update … other, `None` when all are ANY (the common case).
    rest: Option<Box<[Attr; 7]>>,
    start: Option<Box<Bound>>,
    end: Option<Box<Bound>>,
    match_criteria_id: Option<Box<str>>,
}

struct CNode {
    operator: Operator,
    negate: bool,
    /// Its entries: `FeedIndex::matches[first..first + len]`.
    first: u32,
    len: u32,
}

struct CConfig {
    operator: Operator,
    negate: bool,
    nodes: Box<[CNode]>,
}

struct CCve {
    id: Box<str>,
    configs: Box<[CConfig]>,
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
    /// id → the vulnerable entries naming it (indices into `matches`).
    postings: Vec<Vec<u32>>,
    /// Criteria that failed to compile.
    pub rejected: Vec<Rejected>,
}

/// An asset's software, prepared for matching.
pub struct Inventory {
    items: Vec<Item>,
}

struct Item {
    cpe: Cpe,
    text: String,
    /// Version + update, for ranges.
    range_version: Option<Version>,
    /// Version alone, for exact comparisons.
    version: Option<Version>,
}

impl Inventory {
    /// From parsed CPEs.
    pub fn new(cpes: Vec<Cpe>) -> Self {
        let items = cpes
            .into_iter()
            .map(|cpe| Item {
                text: cpe.to_string(),
                range_version: cpe.range_version().map(|v| Version::parse(&v)),
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
        ix
    }

    fn intern(&mut self, vendor: &str, product: &str) -> u32 {
        if let Some(id) = self.products.get(vendor).and_then(|m| m.get(product)) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push((vendor.into(), product.into()));
        self.postings.push(Vec::new());
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
                        self.postings[cm.product as usize].push(self.matches.len() as u32);
                    }
                    self.matches.push(cm);
                }
                nodes.push(CNode {
                    operator: n.operator,
                    negate: n.negate,
                    first,
                    len: n.cpe_match.len() as u32,
                });
            }
            configs.push(CConfig {
                operator: c.operator.unwrap_or_default(),
                negate: c.negate,
                nodes: nodes.into(),
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
        let mut out = CMatch {
            cve: cve_idx,
            vulnerable: m.vulnerable,
            product: u32::MAX,
            part: Attr::Any,
            version: Attr::Any,
            exact: None,
            rest: None,
            start,
            end,
            match_criteria_id: m.match_criteria_id.as_deref().map(Into::into),
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
        out.part = part;
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
            postings: self.postings.iter().map(Vec::len).sum(),
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
            for &mi in &self.postings[p as usize] {
                let m = &self.matches[mi as usize];
                if out.last() != Some(&m.cve) && entry_ok(m, it) {
                    out.push(m.cve);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
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
        for c in self.candidates(inv, &res) {
            if let Some(f) = self.evaluate_cve(&self.cves[c as usize], inv, &res) {
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
        self.evaluate_cve(c, inv, &res)
    }

    /// Every CVE evaluated in turn, without the posting lists: the naive
    /// baseline for the benchmark and tests.
    pub fn match_inventory_scan(&self, inv: &Inventory) -> Vec<Finding> {
        let res = self.resolve(inv);
        self.cves
            .iter()
            .filter_map(|c| self.evaluate_cve(c, inv, &res))
            .collect()
    }

    fn evaluate_cve(&self, c: &CCve, inv: &Inventory, res: &Resolved) -> Option<Finding> {
        for (ci, conf) in c.configs.iter().enumerate() {
            let mut vulnerable = Vec::new();
            let mut platforms = Vec::new();
            let mut negated_nodes = Vec::new();
            let node_value = |ni: usize,
                              node: &CNode,
                              vulnerable: &mut Vec<Evidence>,
                              platforms: &mut Vec<Evidence>|
             -> bool {
                let mut any = false;
                let mut all = true;
                let mut found = Vec::new();
                let entries = &self.matches[node.first as usize..(node.first + node.len) as usize];
                for (mi, m) in entries.iter().enumerate() {
                    let hits = self.entry_hits(m, inv, res);
                    if hits.is_empty() {
                        all = false;
                        if node.operator == Operator::And {
                            break;
                        }
                        continue;
                    }
                    any = true;
                    if !node.negate {
                        for (item, version) in hits {
                            found.push(Evidence {
                                node: ni,
                                cpe_match: mi,
                                criteria: self.criteria_text(m),
                                match_criteria_id: m.match_criteria_id.as_deref().map(Into::into),
                                vulnerable: m.vulnerable,
                                item,
                                asset_cpe: inv.items[item].text.clone(),
                                version,
                            });
                        }
                    }
                }
                let v = match node.operator {
                    Operator::Or => any,
                    Operator::And => all && node.len > 0,
                };
                let v = v != node.negate;
                if v && !node.negate {
                    for e in found {
                        if e.vulnerable {
                            vulnerable.push(e)
                        } else {
                            platforms.push(e)
                        }
                    }
                }
                v
            };
            let mut values = Vec::with_capacity(conf.nodes.len());
            for (ni, node) in conf.nodes.iter().enumerate() {
                let v = node_value(ni, node, &mut vulnerable, &mut platforms);
                if v && node.negate {
                    negated_nodes.push(ni);
                }
                values.push(v);
                if conf.operator == Operator::And && !v && !conf.negate {
                    break;
                }
            }
            let holds = match conf.operator {
                Operator::Or => values.iter().any(|v| *v),
                Operator::And => values.len() == conf.nodes.len() && values.iter().all(|v| *v),
            } && !conf.nodes.is_empty();
            let holds = holds != conf.negate;
            // A configuration that holds only through platforms (or through
            // negation) names nothing vulnerable on this asset.
            if !holds || vulnerable.is_empty() {
                continue;
            }
            let mut items: Vec<usize> = vulnerable.iter().map(|e| e.item).collect();
            items.sort_unstable();
            items.dedup();
            let mut f = Finding {
                cve: c.id.to_string(),
                configuration: ci,
                operator: conf.operator,
                vulnerable,
                platforms,
                negated_nodes,
                items,
                explanation: Text::default(),
            };
            f.explanation = explain(&f, conf.nodes.len());
            return Some(f);
        }
        None
    }

    fn criteria_text(&self, m: &CMatch) -> String {
        let (v, p) = &self.names[m.product as usize];
        let mut attrs: [Attr; 11] = std::array::from_fn(|_| Attr::Any);
        attrs[PART] = m.part.clone();
        attrs[VENDOR] = Attr::literal(v);
        attrs[PRODUCT] = Attr::literal(p);
        attrs[VERSION] = m.version.clone();
        if let Some(rest) = &m.rest {
            attrs[UPDATE..].clone_from_slice(&rest[..]);
        }
        Cpe { attrs }.to_string()
    }

    /// The inventory items that satisfy one entry, with the version check.
    fn entry_hits(
        &self,
        m: &CMatch,
        inv: &Inventory,
        res: &Resolved,
    ) -> Vec<(usize, VersionCheck)> {
        if m.product == u32::MAX {
            return Vec::new();
        }
        res.items(m.product)
            .filter(|i| entry_ok(m, &inv.items[*i]))
            .map(|i| (i, version_check(m, &inv.items[i])))
            .collect()
    }
}

/// Whether one asset CPE (already known to have the entry's vendor and
/// product) satisfies the entry. Allocates nothing: this is the hot path.
fn entry_ok(m: &CMatch, it: &Item) -> bool {
    if !attr_ok(&m.part, &it.cpe.attrs[PART], true) {
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

fn bound_ok(v: &Version, b: &Bound, is_start: bool) -> bool {
    let cmp = v.cmp(&b.version);
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
        return m.start.as_ref().is_none_or(|b| bound_ok(v, b, true))
            && m.end.as_ref().is_none_or(|b| bound_ok(v, b, false))
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
        let v = it
            .range_version
            .as_ref()
            .map(|v| v.as_str())
            .unwrap_or_default();
        let pv = Version::parse(v);
        let check = |b: &Option<Box<Bound>>| {
            b.as_ref().map(|b| BoundCheck {
                version: b.version.as_str().to_owned(),
                inclusive: b.inclusive,
                cmp: pv.cmp(&b.version).into(),
            })
        };
        return VersionCheck::Range {
            asset: v.to_owned(),
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

fn explain(f: &Finding, nodes: usize) -> Text {
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
