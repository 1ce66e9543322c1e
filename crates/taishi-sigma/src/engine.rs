//! The compiled rule set: one matcher whose cost grows slowly with the
//! number of rules.
//!
//! * Each rule is compiled once per pipeline variant that maps its log
//!   source (a *unit*); the variant's conditions are the unit's *guard*.
//! * Units with the same guard share a *bucket*. Guards on `EventID` and
//!   `Channel` are indexed, so a Windows event reaches only the buckets of
//!   its channel and event id; other guards are evaluated once per event,
//!   not once per rule.
//! * Within a bucket, every unit has a set of literal *atoms* of which at
//!   least one must occur in the event if the rule is to match (chosen from
//!   its condition: the most selective necessary field of each selection).
//!   The atoms of all units are compiled into one Aho-Corasick automaton per
//!   field, so a field is scanned once for every rule; only units with an
//!   atom present (and the few with no usable atom) are evaluated.
//! * Field lookups borrow from the event; lowercased copies of field values
//!   are made once per event and reused by every rule.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use taishi_event::{Event, Str, Value};

use crate::condition::Expr;
use crate::literal;
use crate::load::RuleSet;
use crate::matcher::{
    compile_matcher, for_each_scalar, CMatch, Ctx, FieldSlots, RegexCache, SpacedNames, TextCache,
};
use crate::pipeline::{self, Applied, Layout, PipelineError, Profile};
use crate::rule::{FieldItem, Matcher, Rule, RuleMeta};

/// A compiled field item.
#[derive(Debug, Clone)]
struct CItem {
    /// Alternative event field names (a mapping may give several); empty
    /// means a keyword: any field.
    fields: Box<[Str]>,
    /// The fields' ids (see `Interner`), for the per-event lookup cache.
    ids: Box<[u32]>,
    values: Vec<Vec<CMatch>>,
    all: bool,
    negate: bool,
}

#[derive(Debug, Clone)]
struct CSearch {
    alternatives: Vec<Vec<CItem>>,
}

#[derive(Debug)]
struct Unit {
    rule: u32,
    searches: Vec<CSearch>,
    expr: Expr,
}

/// Where an atom must be found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum AtomField {
    Field(Str),
    Any,
}

type Atoms = Vec<(AtomField, String)>;

#[derive(Default)]
struct Prefilter {
    /// Per field: the automaton over its atoms and, per pattern, the units.
    fields: Vec<(Str, u32, AhoCorasick, Vec<Vec<u32>>)>,
    keyword: Option<(AhoCorasick, Vec<Vec<u32>>)>,
    /// Units with no usable atom: always evaluated.
    always: Vec<u32>,
}

struct Bucket {
    /// The guard items not covered by the EventID/Channel index.
    residual: Vec<CItem>,
    /// Whether the guard was indexed (else `residual` is the whole guard).
    units: Vec<u32>,
    prefilter: Prefilter,
}

struct CompiledProfile {
    name: String,
    /// Field ids below this number occur in this profile (the size of the
    /// per-event lookup cache).
    fields: usize,
    units: Vec<Unit>,
    buckets: Vec<Bucket>,
    /// Channel (lowercased), then EventID.
    by_eid_channel: HashMap<String, HashMap<i64, Vec<u32>>>,
    by_channel: HashMap<String, Vec<u32>>,
    by_eid: HashMap<i64, Vec<u32>>,
    /// Buckets whose guard is not indexable (or empty).
    generic: Vec<u32>,
}

/// Numbers for the field names rules read, so that an event's field is
/// looked up once and then found by number by every rule.
#[derive(Default)]
struct Interner(HashMap<Str, u32>);

impl Interner {
    fn id(&mut self, name: &Str) -> u32 {
        let n = self.0.len() as u32;
        *self.0.entry(name.clone()).or_insert(n)
    }

    fn intern(&mut self, items: &mut [CItem]) {
        for it in items {
            it.ids = it.fields.iter().map(|f| self.id(f)).collect();
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Per-rule counters, updated by every thread.
#[derive(Debug, Default)]
pub struct RuleStats {
    pub hits: AtomicU64,
    pub evaluations: AtomicU64,
    pub nanos: AtomicU64,
}

/// One rule that matched one event.
#[derive(Debug, Clone)]
pub struct Detection {
    /// Index of the rule in the loaded rule set.
    pub rule: usize,
    pub meta: Arc<RuleMeta>,
}

/// A rule the engine could not compile, and why.
#[derive(Debug, Clone)]
pub struct CompileError {
    pub rule: usize,
    pub meta: Arc<RuleMeta>,
    pub reason: String,
    /// The reason is an `expand` placeholder without configured values.
    pub placeholder: bool,
}

#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// `--pipeline` arguments; empty means the built-in profiles chosen by
    /// event layout.
    pub pipelines: Vec<String>,
    /// Measure time per rule (two clock reads per evaluated rule).
    pub timing: bool,
}

/// A profile compiled up front, or on the first event of its layout.
struct ProfileSlot {
    name: String,
    layout: Layout,
    /// Kept until a lazy profile is compiled.
    def: Profile,
    compiled: OnceLock<CompiledProfile>,
}

/// What compiling a lazy profile later needs: the rules, and the regex
/// cache and field numbering shared with the profiles compiled already.
struct Deferred {
    rules: Vec<Rule>,
    regexes: RegexCache,
    names: Interner,
}

pub struct Engine {
    metas: Vec<Arc<RuleMeta>>,
    profiles: Vec<ProfileSlot>,
    deferred: Option<Mutex<Deferred>>,
    /// Errors of lazily compiled profiles not already in `errors`.
    late_errors: Mutex<Vec<CompileError>>,
    stats: Vec<RuleStats>,
    errors: Vec<CompileError>,
    /// Rules no profile applies to (no pipeline maps their log source).
    unmapped: Vec<usize>,
    timing: bool,
    total_units: usize,
}

/// Scratch space for one thread; reuse it across events.
#[derive(Default)]
pub struct Scratch {
    cache: TextCache,
    marks: Marks,
    slots: FieldSlots,
    /// The event's fields, reused across events (see `recycle`).
    view: Vec<(&'static str, &'static Value)>,
    rule_stamp: Vec<u32>,
    lowered: String,
}

/// The units chosen for evaluation of the current event.
#[derive(Default)]
struct Marks {
    unit_stamp: Vec<u32>,
    epoch: u32,
    candidates: Vec<u32>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

impl Engine {
    pub fn new(set: &RuleSet, opts: &EngineOptions) -> Result<Engine, PipelineError> {
        let profiles = if opts.pipelines.is_empty() {
            Profile::defaults()?
        } else {
            vec![Profile::from_args(&opts.pipelines)?]
        };
        Ok(Engine::with_profiles(&set.rules, &profiles, opts.timing))
    }

    pub fn with_profiles(rules: &[Rule], profiles: &[Profile], timing: bool) -> Engine {
        let metas: Vec<Arc<RuleMeta>> = rules.iter().map(|r| r.meta.clone()).collect();
        let mut errors: Vec<CompileError> = Vec::new();
        let mut applied_anywhere = vec![false; rules.len()];
        let mut compiled = Vec::new();
        let mut total_units = 0;
        let mut regexes = RegexCache::new();
        let mut names = Interner::default();
        for p in profiles {
            let slot = ProfileSlot {
                name: p.name.clone(),
                layout: p.layout,
                def: p.clone(),
                compiled: OnceLock::new(),
            };
            if !p.lazy {
                let cp = compile_profile(
                    rules,
                    p,
                    &mut errors,
                    &mut applied_anywhere,
                    &mut regexes,
                    &mut names,
                );
                total_units += cp.units.len();
                let _ = slot.compiled.set(cp);
            }
            compiled.push(slot);
        }
        let deferred = profiles.iter().any(|p| p.lazy).then(|| {
            Mutex::new(Deferred {
                rules: rules.to_vec(),
                regexes,
                names,
            })
        });
        // One entry per rule and reason.
        errors.sort_by(|a, b| (a.rule, &a.reason).cmp(&(b.rule, &b.reason)));
        errors.dedup_by(|a, b| a.rule == b.rule && a.reason == b.reason);
        let failed: std::collections::HashSet<usize> = errors.iter().map(|e| e.rule).collect();
        let unmapped = (0..rules.len())
            .filter(|i| !applied_anywhere[*i] && !failed.contains(i))
            .collect();
        Engine {
            deferred,
            late_errors: Mutex::new(Vec::new()),
            stats: (0..rules.len()).map(|_| RuleStats::default()).collect(),
            metas,
            profiles: compiled,
            errors,
            unmapped,
            timing,
            total_units,
        }
    }

    pub fn rules(&self) -> &[Arc<RuleMeta>] {
        &self.metas
    }

    pub fn stats(&self) -> &[RuleStats] {
        &self.stats
    }

    pub fn errors(&self) -> &[CompileError] {
        &self.errors
    }

    /// Errors met when a lazy profile was compiled (on its first event)
    /// that the profiles compiled up front did not already report.
    pub fn late_errors(&self) -> Vec<CompileError> {
        self.late_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// Rules that compiled in no profile because none maps their log source.
    pub fn unmapped(&self) -> &[usize] {
        &self.unmapped
    }

    /// Rules compiled into at least one profile without error.
    pub fn active_rules(&self) -> usize {
        let failed: std::collections::HashSet<usize> = self.errors.iter().map(|e| e.rule).collect();
        (0..self.metas.len())
            .filter(|i| !failed.contains(i) && !self.unmapped.contains(i))
            .count()
    }

    /// Units of the profiles compiled up front.
    pub fn units(&self) -> usize {
        self.total_units
    }

    pub fn profile_names(&self) -> Vec<&str> {
        self.profiles.iter().map(|p| p.name.as_str()).collect()
    }

    fn profile_for(&self, event: &Event) -> Option<&CompiledProfile> {
        let slot = self.slot_for(event)?;
        Some(slot.compiled.get_or_init(|| self.compile_late(&slot.def)))
    }

    /// Compiles a lazy profile with the rules, regexes and field numbers
    /// kept for it.
    fn compile_late(&self, def: &Profile) -> CompiledProfile {
        let Some(deferred) = &self.deferred else {
            // Every profile without a deferred state was compiled eagerly.
            return compile_profile(
                &[],
                def,
                &mut Vec::new(),
                &mut [],
                &mut RegexCache::new(),
                &mut Interner::default(),
            );
        };
        let mut d = deferred.lock().unwrap_or_else(|e| e.into_inner());
        let d = &mut *d;
        let mut errors = Vec::new();
        let mut applied = vec![false; d.rules.len()];
        let cp = compile_profile(
            &d.rules,
            def,
            &mut errors,
            &mut applied,
            &mut d.regexes,
            &mut d.names,
        );
        let mut late = self.late_errors.lock().unwrap_or_else(|e| e.into_inner());
        for e in errors {
            let known = self
                .errors
                .iter()
                .chain(late.iter())
                .any(|k| k.rule == e.rule && k.reason == e.reason);
            if !known {
                late.push(e);
            }
        }
        cp
    }

    fn slot_for(&self, event: &Event) -> Option<&ProfileSlot> {
        if self.profiles.len() == 1 && self.profiles[0].layout == Layout::Any {
            return self.profiles.first();
        }
        let layout = if event.contains("EventID")
            && (event.contains("Channel") || event.contains("Provider_Name"))
        {
            Layout::Windows
        } else if event.contains("winlog.event_id") || event.lookup("winlog.event_id").is_some() {
            Layout::EcsWindows
        } else {
            Layout::Other
        };
        self.profiles
            .iter()
            .find(|p| p.layout == layout)
            .or_else(|| self.profiles.iter().find(|p| p.layout == Layout::Any))
    }

    /// Appends to `out` the rules that match `event` (each rule once).
    pub fn detect(&self, event: &Event, scratch: &mut Scratch, out: &mut Vec<Detection>) {
        self.detect_inner(event, scratch, out, false);
    }

    /// Like `detect`, but evaluates every rule of the event's buckets
    /// without the literal prefilter: a reference for testing that the
    /// prefilter never loses a match, and for measuring what it saves.
    pub fn detect_unfiltered(
        &self,
        event: &Event,
        scratch: &mut Scratch,
        out: &mut Vec<Detection>,
    ) {
        self.detect_inner(event, scratch, out, true);
    }

    fn detect_inner(
        &self,
        event: &Event,
        scratch: &mut Scratch,
        out: &mut Vec<Detection>,
        all: bool,
    ) {
        let Some(p) = self.profile_for(event) else {
            return;
        };
        scratch.cache.clear();
        let marks = &mut scratch.marks;
        if marks.unit_stamp.len() < p.units.len() {
            marks.unit_stamp.resize(p.units.len(), 0);
        }
        if scratch.rule_stamp.len() < self.metas.len() {
            scratch.rule_stamp.resize(self.metas.len(), 0);
        }
        marks.epoch = marks.epoch.wrapping_add(1);
        if marks.epoch == 0 {
            marks.unit_stamp.iter_mut().for_each(|x| *x = 0);
            scratch.rule_stamp.iter_mut().for_each(|x| *x = 0);
            marks.epoch = 1;
        }
        marks.candidates.clear();

        // Buckets whose guard holds.
        let eid = event.get("EventID").and_then(Value::as_i64);
        let mut active: [&[u32]; 4] = [&[], &[], &[], &p.generic];
        if let Some(ch) = event.get_str("Channel") {
            scratch.lowered.clear();
            scratch.lowered.push_str(ch);
            scratch.lowered.make_ascii_lowercase();
            if let Some(e) = eid {
                if let Some(v) = p
                    .by_eid_channel
                    .get(scratch.lowered.as_str())
                    .and_then(|m| m.get(&e))
                {
                    active[0] = v;
                }
            }
            if let Some(v) = p.by_channel.get(scratch.lowered.as_str()) {
                active[1] = v;
            }
        }
        if let Some(e) = eid {
            if let Some(v) = p.by_eid.get(&e) {
                active[2] = v;
            }
        }
        let epoch = scratch.marks.epoch;
        let spaced = &SpacedNames::default();
        let mut view = recycle(std::mem::take(&mut scratch.view));
        view.extend(event.fields());
        scratch.slots.start(p.fields);
        let mut ctx = Ctx {
            event,
            cache: &mut scratch.cache,
            spaced,
            view: &view,
            slots: &mut scratch.slots,
        };
        for list in active {
            for &b in list {
                let bucket = &p.buckets[b as usize];
                if !bucket.residual.iter().all(|it| eval_item(it, &mut ctx)) {
                    continue;
                }
                if all {
                    scratch.marks.mark(&bucket.units);
                } else {
                    prefilter(bucket, &mut ctx, &mut scratch.marks);
                }
            }
        }
        scratch.marks.candidates.sort_unstable();
        let cands = std::mem::take(&mut scratch.marks.candidates);
        for &u in &cands {
            let unit = &p.units[u as usize];
            let r = unit.rule as usize;
            if scratch.rule_stamp[r] == epoch {
                continue;
            }
            let started = self.timing.then(Instant::now);
            let hit = eval_expr(&unit.expr, &unit.searches, &mut ctx);
            let st = &self.stats[r];
            st.evaluations.fetch_add(1, Ordering::Relaxed);
            if let Some(s) = started {
                st.nanos
                    .fetch_add(s.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
            if hit {
                scratch.rule_stamp[r] = epoch;
                st.hits.fetch_add(1, Ordering::Relaxed);
                out.push(Detection {
                    rule: r,
                    meta: self.metas[r].clone(),
                });
            }
        }
        scratch.view = recycle(view);
        scratch.marks.candidates = cands;
    }
}

impl Marks {
    fn mark(&mut self, units: &[u32]) {
        for &u in units {
            let s = &mut self.unit_stamp[u as usize];
            if *s != self.epoch {
                *s = self.epoch;
                self.candidates.push(u);
            }
        }
    }

    fn scan(&mut self, ac: &AhoCorasick, pats: &[Vec<u32>], hay: &str) {
        for m in ac.find_overlapping_iter(hay) {
            if let Some(units) = pats.get(m.pattern().as_usize()) {
                self.mark(units);
            }
        }
    }
}

/// Scans a value's lowered text (the copy rules compare against too, so
/// it is made once per event) for a field's atoms.
fn scan_value(
    ac: &AhoCorasick,
    pats: &[Vec<u32>],
    v: &Value,
    cache: &mut TextCache,
    marks: &mut Marks,
) {
    match v {
        Value::Array(a) => {
            for x in a {
                scan_value(ac, pats, x, cache, marks);
            }
        }
        Value::Object(_) | Value::Null => {}
        v => {
            if let Some((t, ascii)) = cache.lower_ascii(v) {
                if !ascii {
                    if let Some(folded) = literal::fold_long_s(t) {
                        marks.scan(ac, pats, &folded);
                        return;
                    }
                }
                marks.scan(ac, pats, t);
            }
        }
    }
}

fn prefilter(bucket: &Bucket, ctx: &mut Ctx<'_, '_>, marks: &mut Marks) {
    let pf = &bucket.prefilter;
    marks.mark(&pf.always);
    for (field, id, ac, pats) in &pf.fields {
        if let Some(v) = ctx.field(*id, field) {
            scan_value(ac, pats, v, ctx.cache, marks);
        }
    }
    if let Some((ac, pats)) = &pf.keyword {
        for (_, v) in ctx.view {
            scan_value(ac, pats, v, ctx.cache, marks);
        }
    }
}

static NULL: Value = Value::Null;

/// Empties a vector of borrowed fields so that it can hold another
/// event's: the allocation is kept (an in-place collect of an empty
/// vector), only the lifetime changes.
fn recycle<'b>(mut v: Vec<(&str, &Value)>) -> Vec<(&'b str, &'b Value)> {
    v.clear();
    v.into_iter().map(|_| ("", &NULL)).collect()
}

fn eval_expr(e: &Expr, searches: &[CSearch], ctx: &mut Ctx<'_, '_>) -> bool {
    match e {
        Expr::Search(i) => searches.get(*i).is_some_and(|s| eval_search(s, ctx)),
        Expr::And(v) => v.iter().all(|x| eval_expr(x, searches, ctx)),
        Expr::Or(v) => v.iter().any(|x| eval_expr(x, searches, ctx)),
        Expr::Not(x) => !eval_expr(x, searches, ctx),
        Expr::AtLeast(n, v) => {
            let mut k = 0;
            for x in v {
                if eval_expr(x, searches, ctx) {
                    k += 1;
                    if k >= *n {
                        return true;
                    }
                }
            }
            false
        }
        Expr::Const(b) => *b,
    }
}

fn eval_search(s: &CSearch, ctx: &mut Ctx<'_, '_>) -> bool {
    s.alternatives
        .iter()
        .any(|alt| alt.iter().all(|it| eval_item(it, ctx)))
}

fn eval_group(group: &[CMatch], it: &CItem, ctx: &mut Ctx<'_, '_>) -> bool {
    if it.fields.is_empty() {
        // Keyword: any value of any field.
        let event = ctx.event;
        return event
            .fields()
            .any(|(_, v)| for_each_scalar(v, &mut |x| group.iter().any(|m| m.test_value(x, ctx))));
    }
    let mut any_present = false;
    for (f, id) in it.fields.iter().zip(it.ids.iter()) {
        let Some(v) = ctx.field(*id, f) else {
            continue;
        };
        any_present = true;
        for m in group {
            let hit = if m.is_presence() {
                matches!(m, CMatch::Exists(true))
            } else if matches!(m, CMatch::Null) && !matches!(v, Value::Array(_)) {
                v.is_null()
            } else {
                for_each_scalar(v, &mut |x| m.test_value(x, ctx))
            };
            if hit {
                return true;
            }
        }
    }
    if !any_present {
        let f = it.fields.first().map(|s| s.as_str()).unwrap_or_default();
        return group.iter().any(|m| m.test_absent(ctx, f));
    }
    false
}

fn eval_item(it: &CItem, ctx: &mut Ctx<'_, '_>) -> bool {
    let r = if it.all {
        it.values.iter().all(|g| eval_group(g, it, ctx))
    } else {
        it.values.iter().any(|g| eval_group(g, it, ctx))
    };
    r != it.negate
}

// ---- compilation ----

fn compile_item(
    it: &FieldItem,
    a: &Applied,
    regexes: &mut RegexCache,
) -> Result<CItem, (String, bool)> {
    let fields: Box<[Str]> = match &it.field {
        Some(f) => a.map_field(f).into_iter().map(Str::from).collect(),
        None => Box::new([]),
    };
    let map = |f: &str| a.map_field(f);
    let mut values = Vec::with_capacity(it.values.len());
    for group in &it.values {
        let mut g = Vec::with_capacity(group.len());
        for m in group {
            if m.has_placeholders() {
                let Matcher::Str { s, cased } = m else {
                    continue;
                };
                let resolved = s
                    .resolve_placeholders(&|name: &str| {
                        a.vars
                            .get(name)
                            .cloned()
                            .or_else(|| a.wildcard_placeholders.then(|| vec!["*".to_string()]))
                    })
                    .map_err(|e| (e.to_string(), true))?;
                for r in resolved {
                    g.extend(
                        compile_matcher(
                            &Matcher::Str {
                                s: r,
                                cased: *cased,
                            },
                            &map,
                            regexes,
                        )
                        .map_err(|e| (e.to_string(), false))?,
                    );
                }
            } else {
                g.extend(compile_matcher(m, &map, regexes).map_err(|e| (e.to_string(), false))?);
            }
        }
        values.push(g);
    }
    Ok(CItem {
        fields,
        ids: Box::new([]),
        values,
        all: it.all,
        negate: it.negate,
    })
}

fn compile_unit(
    rule: &Rule,
    idx: u32,
    a: &Applied,
    regexes: &mut RegexCache,
) -> Result<Unit, (String, bool)> {
    let mut searches = Vec::with_capacity(rule.searches.len());
    for (name, s) in rule.names.iter().zip(&rule.searches) {
        let mut alts = Vec::with_capacity(s.alternatives.len());
        for alt in &s.alternatives {
            let mut items = Vec::with_capacity(alt.len());
            for it in alt {
                items.push(
                    compile_item(it, a, regexes)
                        .map_err(|(e, p)| (format!("search `{name}`: {e}"), p))?,
                );
            }
            alts.push(items);
        }
        searches.push(CSearch { alternatives: alts });
    }
    Ok(Unit {
        rule: idx,
        searches,
        expr: rule.condition.clone(),
    })
}

/// Literal atoms of a compiled test: one of them must occur in the
/// value's lowered text for the test to hold. None when no literal is
/// necessary.
fn match_atoms(m: &CMatch) -> Option<Vec<String>> {
    let s = match m {
        CMatch::Exact { s, .. }
        | CMatch::Prefix { s, .. }
        | CMatch::Suffix { s, .. }
        | CMatch::Contains { s, .. } => s.to_lowercase(),
        CMatch::Glob { toks, .. } => toks
            .iter()
            .filter_map(|t| match t {
                crate::matcher::Tok::Lit(l) => Some(l.to_lowercase()),
                _ => None,
            })
            .max_by_key(String::len)?,
        CMatch::Num { text, .. } => text.to_lowercase(),
        CMatch::Re(re) => return literal::required_literals(re.as_str()),
        _ => return None,
    };
    // The scanned text has `ſ` folded to `s` (see `literal`).
    let s = literal::fold_long_s(&s).unwrap_or(s);
    (!s.is_empty()).then(|| vec![s])
}

fn item_atoms(it: &CItem) -> Option<Atoms> {
    if it.negate {
        return None;
    }
    let fields: Vec<AtomField> = if it.fields.is_empty() {
        vec![AtomField::Any]
    } else {
        it.fields
            .iter()
            .map(|f| AtomField::Field(f.clone()))
            .collect()
    };
    let group_atoms = |g: &Vec<CMatch>| -> Option<Atoms> {
        let mut out = Vec::new();
        for m in g {
            for a in match_atoms(m)? {
                for f in &fields {
                    out.push((f.clone(), a.clone()));
                }
            }
        }
        Some(out)
    };
    if it.all {
        it.values
            .iter()
            .filter_map(group_atoms)
            .min_by(|a, b| cost(a).total_cmp(&cost(b)))
    } else {
        let mut out = Vec::new();
        for g in &it.values {
            out.extend(group_atoms(g)?);
        }
        Some(out)
    }
}

/// Expected share of events an atom set lets through: short literals and
/// keyword atoms (any field) let more through.
fn cost(atoms: &Atoms) -> f64 {
    atoms
        .iter()
        .map(|(f, s)| {
            let l = s.len().min(12) as f64;
            let base = 1.0 / (l * l * l);
            if *f == AtomField::Any {
                base * 8.0
            } else {
                base
            }
        })
        .sum()
}

fn best(cands: impl Iterator<Item = Option<Atoms>>) -> Option<Atoms> {
    cands.flatten().min_by(|a, b| cost(a).total_cmp(&cost(b)))
}

fn expr_atoms(e: &Expr, searches: &[CSearch]) -> Option<Atoms> {
    match e {
        Expr::Search(i) => {
            let s = searches.get(*i)?;
            let mut out = Vec::new();
            for alt in &s.alternatives {
                out.extend(best(alt.iter().map(item_atoms))?);
            }
            Some(out)
        }
        Expr::And(v) => best(v.iter().map(|x| expr_atoms(x, searches))),
        Expr::Or(v) | Expr::AtLeast(_, v) => {
            let mut out = Vec::new();
            for x in v {
                out.extend(expr_atoms(x, searches)?);
            }
            Some(out)
        }
        Expr::Not(_) => None,
        Expr::Const(true) => None,
        Expr::Const(false) => Some(Vec::new()),
    }
}

/// Splits a guard into its EventID values, Channel values (lowercased) and
/// the rest.
fn index_guard(guard: &[CItem]) -> (Option<Vec<i64>>, Option<Vec<String>>, Vec<CItem>) {
    let mut eids = None;
    let mut chans = None;
    let mut rest = Vec::new();
    for it in guard {
        let name = (it.fields.len() == 1).then(|| it.fields[0].as_str());
        let plain = !it.all && !it.negate;
        if plain && name == Some("EventID") && eids.is_none() {
            let v: Option<Vec<i64>> = it
                .values
                .iter()
                .flatten()
                .map(|m| match m {
                    CMatch::Num { v, .. } if v.fract() == 0.0 => Some(*v as i64),
                    CMatch::Exact { s, .. } => s.parse().ok(),
                    _ => None,
                })
                .collect();
            if let Some(v) = v {
                eids = Some(v);
                continue;
            }
        }
        if plain && name == Some("Channel") && chans.is_none() {
            let v: Option<Vec<String>> = it
                .values
                .iter()
                .flatten()
                .map(|m| match m {
                    CMatch::Exact { s, .. } => Some(s.to_ascii_lowercase()),
                    _ => None,
                })
                .collect();
            if let Some(v) = v {
                chans = Some(v);
                continue;
            }
        }
        rest.push(it.clone());
    }
    (eids, chans, rest)
}

fn compile_profile(
    rules: &[Rule],
    profile: &Profile,
    errors: &mut Vec<CompileError>,
    applied_anywhere: &mut [bool],
    regexes: &mut RegexCache,
    names: &mut Interner,
) -> CompiledProfile {
    let mut units: Vec<Unit> = Vec::new();
    let mut guards: Vec<(String, Vec<CItem>)> = Vec::new();
    let mut unit_guard: Vec<usize> = Vec::new();
    for (ri, rule) in rules.iter().enumerate() {
        let applied: Vec<Applied> = profile
            .variants
            .iter()
            .map(|chain| pipeline::apply(chain, &rule.meta))
            .collect();
        let claimed: Vec<&Applied> = applied.iter().filter(|a| a.claimed).collect();
        let chosen: Vec<&Applied> = if !claimed.is_empty() {
            claimed
        } else if profile.only_mapped {
            continue;
        } else {
            applied.iter().take(1).collect()
        };
        let mut ok_units = Vec::new();
        let mut failed = false;
        for a in chosen {
            let guard: Result<Vec<CItem>, _> = a
                .guard
                .iter()
                .map(|g| compile_item(g, a, regexes))
                .collect();
            let unit =
                guard.and_then(|g| compile_unit(rule, ri as u32, a, regexes).map(|u| (g, u)));
            match unit {
                Ok((g, u)) => ok_units.push((g, u)),
                Err((reason, placeholder)) => {
                    errors.push(CompileError {
                        rule: ri,
                        meta: rule.meta.clone(),
                        reason,
                        placeholder,
                    });
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            continue;
        }
        applied_anywhere[ri] = true;
        for (g, u) in ok_units {
            let key = format!("{g:?}");
            let gi = match guards.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    guards.push((key, g));
                    guards.len() - 1
                }
            };
            unit_guard.push(gi);
            units.push(u);
        }
    }

    for u in &mut units {
        for s in &mut u.searches {
            for alt in &mut s.alternatives {
                names.intern(alt);
            }
        }
    }
    let mut buckets = Vec::with_capacity(guards.len());
    let mut by_eid_channel: HashMap<String, HashMap<i64, Vec<u32>>> = HashMap::new();
    let mut by_channel: HashMap<String, Vec<u32>> = HashMap::new();
    let mut by_eid: HashMap<i64, Vec<u32>> = HashMap::new();
    let mut generic = Vec::new();
    for (gi, (_, guard)) in guards.iter().enumerate() {
        let b = gi as u32;
        let (eids, chans, rest) = index_guard(guard);
        let mut residual = match (&eids, &chans) {
            (Some(e), Some(c)) => {
                for &id in e {
                    for ch in c {
                        by_eid_channel
                            .entry(ch.clone())
                            .or_default()
                            .entry(id)
                            .or_default()
                            .push(b);
                    }
                }
                rest
            }
            (None, Some(c)) => {
                for ch in c {
                    by_channel.entry(ch.clone()).or_default().push(b);
                }
                rest
            }
            (Some(e), None) => {
                for &id in e {
                    by_eid.entry(id).or_default().push(b);
                }
                rest
            }
            (None, None) => {
                generic.push(b);
                rest
            }
        };
        names.intern(&mut residual);
        let members: Vec<u32> = unit_guard
            .iter()
            .enumerate()
            .filter(|(_, g)| **g == gi)
            .map(|(u, _)| u as u32)
            .collect();
        let prefilter = build_prefilter(&members, &units, names);
        buckets.push(Bucket {
            residual,
            units: members,
            prefilter,
        });
    }
    CompiledProfile {
        name: profile.name.clone(),
        fields: names.len(),
        units,
        buckets,
        by_eid_channel,
        by_channel,
        by_eid,
        generic,
    }
}

/// One field's atoms: patterns, their index, and the units of each.
type FieldAtoms = (Vec<String>, HashMap<String, usize>, Vec<Vec<u32>>);

fn build_prefilter(members: &[u32], units: &[Unit], names: &mut Interner) -> Prefilter {
    let mut pf = Prefilter::default();
    let mut per_field: HashMap<AtomField, FieldAtoms> = HashMap::new();
    for &u in members {
        let unit = &units[u as usize];
        match expr_atoms(&unit.expr, &unit.searches) {
            None => pf.always.push(u),
            Some(atoms) => {
                for (f, s) in atoms {
                    let e = per_field.entry(f).or_default();
                    let pi = match e.1.get(&s) {
                        Some(&i) => i,
                        None => {
                            e.0.push(s.clone());
                            e.1.insert(s, e.0.len() - 1);
                            e.2.push(Vec::new());
                            e.0.len() - 1
                        }
                    };
                    if e.2[pi].last() != Some(&u) {
                        e.2[pi].push(u);
                    }
                }
            }
        }
    }
    let mut fields: Vec<_> = per_field.into_iter().collect();
    fields.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
    for (f, (pats, _, units_of)) in fields {
        // Atoms and scanned texts are both lowered, so the automaton needs
        // no case folding of its own (which would make it larger, slower to
        // build and to run).
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&pats);
        let Ok(ac) = ac else {
            // An automaton too large to build: evaluate these units always.
            for us in units_of {
                pf.always.extend(us);
            }
            continue;
        };
        match f {
            AtomField::Field(name) => {
                let id = names.id(&name);
                pf.fields.push((name, id, ac, units_of))
            }
            AtomField::Any => pf.keyword = Some((ac, units_of)),
        }
    }
    pf.always.sort_unstable();
    pf.always.dedup();
    pf
}

impl Engine {
    /// How the rules spread over buckets and prefilters (for `--stats`).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for p in self.profiles.iter().filter_map(|p| p.compiled.get()) {
            let always: usize = p.buckets.iter().map(|b| b.prefilter.always.len()).sum();
            let pats: usize = p
                .buckets
                .iter()
                .map(|b| b.prefilter.fields.iter().map(|f| f.3.len()).sum::<usize>())
                .sum();
            let members: usize = p.buckets.iter().map(|b| b.units.len()).sum();
            s.push_str(&format!(
                "profile {}: {} compiled rules in {} buckets ({} always evaluated, {} literal atoms), {} unindexed buckets\n",
                p.name,
                members,
                p.buckets.len(),
                always,
                pats,
                p.generic.len()
            ));
        }
        s
    }
}

// `taishi serve` shares one engine between threads behind an `Arc` and
// swaps it on reload.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Engine>();
};
