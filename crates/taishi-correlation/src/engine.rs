//! The correlator: per-correlation, per-group windows over event time.

use crate::CorrelationError;
use std::borrow::Cow;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::hash::Hasher;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use taishi_event::{ecs, Event, Value};

use crate::rule::{CorrelationRule, CorrelationType};

/// Tuning of the correlator; [`Default`] suits streaming input.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelatorOptions {
    /// How far behind the newest timestamp seen a match may arrive and still
    /// be used. `None`: buffer every match until [`Correlator::flush`] (for
    /// hunting over files in no particular time order).
    pub max_lateness: Option<Duration>,
    /// Groups kept per correlation; beyond it the least recently active are
    /// evicted.
    pub max_groups: usize,
    /// Matches kept per group (windows of sliding types, values of
    /// percentiles, distinct values); beyond it the oldest are dropped.
    pub max_entries_per_group: usize,
    /// Matches waiting in the reorder buffer; beyond it the oldest are
    /// processed even if later ones might still be older.
    pub max_buffered: usize,
}

impl Default for CorrelatorOptions {
    fn default() -> Self {
        CorrelatorOptions {
            max_lateness: Some(Duration::from_secs(60)),
            max_groups: 100_000,
            max_entries_per_group: 65_536,
            max_buffered: 4_000_000,
        }
    }
}

impl CorrelatorOptions {
    /// Everything buffered until `flush`, then processed in time order.
    pub fn batch() -> Self {
        CorrelatorOptions {
            max_lateness: None,
            ..Self::default()
        }
    }
}

/// Counters for what the correlator did and did not use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorrelatorStats {
    /// (match, correlation) pairs accepted.
    pub observations: u64,
    /// Pairs that arrived after later matches were already processed.
    pub late_dropped: u64,
    /// Pairs whose event lacked a group-by field.
    pub missing_group_field: u64,
    /// Pairs whose event lacked the condition field or had a non-numeric
    /// value where a number was needed.
    pub missing_value: u64,
    /// Groups alive now, over all correlations.
    pub groups: usize,
    pub evicted_groups: u64,
    pub truncated_entries: u64,
    /// Hits raised, reported or not.
    pub hits: u64,
    /// Hits not reported because of `generate: false` (they still feed the
    /// correlations that reference them).
    pub suppressed_hits: u64,
    /// Matches waiting in the reorder buffer now.
    pub buffered: usize,
}

/// One correlation alert.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationHit {
    pub rule: Arc<CorrelationRule>,
    /// `group-by` field (or alias) and value, in the rule's order.
    pub group: Vec<(String, String)>,
    /// Other fields carried for correlations chained on this one: the value
    /// in the most recent event of the window.
    pub fields: Vec<(String, String)>,
    /// Event time of the first and last match in the hit's window.
    pub first: DateTime<FixedOffset>,
    pub last: DateTime<FixedOffset>,
    /// The measure the condition was met by: the count, distinct count,
    /// number of rules, sum, average or percentile.
    pub value: f64,
    /// Matches in the window.
    pub event_count: usize,
    /// The referenced rules (as written in `rules`) that matched in the
    /// window.
    pub matched_rules: Vec<String>,
}

impl CorrelationHit {
    /// The hit as an event: `@timestamp` is `last`, fields are the group
    /// and carried fields. Chained correlations see hits this way.
    pub fn to_event(&self) -> Event {
        let mut ev = Event::with_capacity(self.group.len() + self.fields.len());
        ev.timestamp = Some(self.last);
        for (k, v) in self.group.iter().chain(&self.fields) {
            ev.push(k.as_str(), v.as_str());
        }
        ev
    }

    /// A JSON summary for alert output.
    pub fn to_json(&self) -> serde_json::Value {
        let r = &self.rule;
        let pairs = |v: &[(String, String)]| {
            serde_json::Value::Object(
                v.iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            )
        };
        serde_json::json!({
            "title": r.title,
            "id": r.id,
            "name": r.name,
            "level": r.level.map(|l| l.as_str()),
            "tags": r.tags,
            "type": r.kind.as_str(),
            "timespan": r.timespan.text,
            "condition": r.condition.to_string(),
            "group": pairs(&self.group),
            "fields": pairs(&self.fields),
            "first": self.first.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            "last": self.last.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            "value": self.value,
            "event_count": self.event_count,
            "matched_rules": self.matched_rules,
        })
    }
}

/// One match routed to one correlation, with what the correlation needs of
/// the event already extracted (the event itself is not kept).
struct Obs {
    ts: i64,
    off: i32,
    seq: u64,
    corr: u32,
    pos: u16,
    key: Box<[u8]>,
    num: f64,
    hash: Option<u64>,
    carry: Box<[Option<String>]>,
}

impl PartialEq for Obs {
    fn eq(&self, o: &Self) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}
impl Eq for Obs {}
impl PartialOrd for Obs {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Obs {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.ts, self.seq).cmp(&(o.ts, o.seq))
    }
}

/// A group's window end (or end of muting), due at `at`.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Deadline {
    at: i64,
    seq: u64,
    corr: u32,
    key: Box<[u8]>,
}

#[derive(Clone, Copy)]
struct Entry {
    ts: i64,
    pos: u16,
    num: f64,
    hash: Option<u64>,
}

struct Group {
    values: Box<[String]>,
    off: FixedOffset,
    /// Sliding types: the matches in the window, oldest first.
    entries: VecDeque<Entry>,
    per_rule: Vec<u32>,
    distinct: HashMap<u64, u32>,
    sum: f64,
    n_num: u64,
    /// Window-end percentiles: the values.
    nums: Vec<f64>,
    /// `temporal_ordered`: for each step, the latest start of a chain that
    /// has matched the rules up to it in order.
    chains: Vec<Option<i64>>,
    count: u64,
    first: i64,
    last: i64,
    deadline: Option<i64>,
    muted: bool,
    carry: Vec<Option<String>>,
    last_seen: i64,
}

impl Group {
    fn new(values: Box<[String]>, off: FixedOffset, n_rules: usize, n_carry: usize) -> Group {
        Group {
            values,
            off,
            entries: VecDeque::new(),
            per_rule: vec![0; n_rules],
            distinct: HashMap::new(),
            sum: 0.0,
            n_num: 0,
            nums: Vec::new(),
            chains: vec![None; n_rules],
            count: 0,
            first: i64::MAX,
            last: i64::MIN,
            deadline: None,
            muted: false,
            carry: vec![None; n_carry],
            last_seen: i64::MIN,
        }
    }

    fn add(&mut self, e: Entry) {
        let p = usize::from(e.pos);
        if let Some(c) = self.per_rule.get_mut(p) {
            *c += 1;
        }
        if let Some(h) = e.hash {
            *self.distinct.entry(h).or_insert(0) += 1;
        }
        if !e.num.is_nan() {
            self.sum += e.num;
            self.n_num += 1;
        }
        if p == 0 {
            if let Some(c) = self.chains.first_mut() {
                *c = Some(e.ts);
            }
        } else if let Some(Some(start)) = self.chains.get(p - 1).copied() {
            if let Some(c) = self.chains.get_mut(p) {
                *c = Some(c.map_or(start, |s| s.max(start)));
            }
        }
        self.count += 1;
        self.first = self.first.min(e.ts);
        self.last = self.last.max(e.ts);
    }

    fn remove(&mut self, e: &Entry) {
        if let Some(c) = self.per_rule.get_mut(usize::from(e.pos)) {
            *c = c.saturating_sub(1);
        }
        if let Some(h) = e.hash {
            if let Some(c) = self.distinct.get_mut(&h) {
                *c -= 1;
                if *c == 0 {
                    self.distinct.remove(&h);
                }
            }
        }
        if !e.num.is_nan() {
            self.sum -= e.num;
            self.n_num -= 1;
            if self.n_num == 0 {
                // No rounding residue survives an emptied window.
                self.sum = 0.0;
            }
        }
    }

    /// Drops matches older than `cutoff` from a sliding window.
    fn prune(&mut self, cutoff: i64) {
        while let Some(e) = self.entries.front().copied() {
            if e.ts >= cutoff {
                break;
            }
            self.entries.pop_front();
            self.remove(&e);
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.per_rule.iter_mut().for_each(|c| *c = 0);
        self.distinct.clear();
        self.sum = 0.0;
        self.n_num = 0;
        self.nums.clear();
        self.chains.iter_mut().for_each(|c| *c = None);
        self.count = 0;
        self.first = i64::MAX;
        self.last = i64::MIN;
    }

    /// Steps of `temporal_ordered` completed by chains starting at or after
    /// `since`, and the start of the longest.
    fn ordered_steps(&self, since: i64) -> (usize, Option<i64>) {
        let mut best = (0, None);
        for (i, c) in self.chains.iter().enumerate() {
            if let Some(s) = *c {
                if s >= since {
                    best = (i + 1, Some(s));
                }
            }
        }
        best
    }
}

struct Corr {
    index: u32,
    rule: Arc<CorrelationRule>,
    span: i64,
    /// Threshold-crossing evaluation (see the crate docs); otherwise the
    /// window is evaluated when it ends.
    eager: bool,
    /// Fields chained correlations need from this one's hits.
    carry: Vec<String>,
    /// Whether hits go to the output (see `generate`).
    emit: bool,
    groups: HashMap<Box<[u8]>, Group>,
    last_sweep: i64,
}

/// What the per-correlation code needs of the correlator.
struct Ctx {
    deadlines: BinaryHeap<Reverse<Deadline>>,
    seq: u64,
    stats: CorrelatorStats,
    max_groups: usize,
    max_entries: usize,
}

impl Ctx {
    fn schedule(&mut self, at: i64, corr: u32, key: &[u8]) {
        self.seq += 1;
        self.deadlines.push(Reverse(Deadline {
            at,
            seq: self.seq,
            corr,
            key: key.into(),
        }));
    }
}

impl Corr {
    fn apply(&mut self, obs: Obs, now: i64, ctx: &mut Ctx) -> Option<CorrelationHit> {
        let off = FixedOffset::east_opt(obs.off).unwrap_or(utc());
        if !self.groups.contains_key(&obs.key) {
            if self.groups.len() >= ctx.max_groups {
                self.make_room(now, ctx);
            }
            let g = Group::new(
                decode_key(&obs.key),
                off,
                self.rule.rules.len(),
                self.carry.len(),
            );
            self.groups.insert(obs.key.clone(), g);
        }
        let g = self.groups.get_mut(&obs.key)?;
        g.off = off;
        g.last_seen = now;
        for (slot, v) in g.carry.iter_mut().zip(obs.carry.into_vec()) {
            if v.is_some() {
                *slot = v;
            }
        }
        let entry = Entry {
            ts: obs.ts,
            pos: obs.pos,
            num: obs.num,
            hash: obs.hash,
        };
        if !self.eager {
            if g.deadline.is_none() {
                g.clear();
                let end = now.saturating_add(self.span);
                g.deadline = Some(end);
                ctx.schedule(end, self.index, &obs.key);
            }
            let cap = ctx.max_entries;
            let new_value = entry.hash.is_some_and(|h| !g.distinct.contains_key(&h));
            let entry = if new_value && g.distinct.len() >= cap {
                ctx.stats.truncated_entries += 1;
                Entry {
                    hash: None,
                    ..entry
                }
            } else {
                entry
            };
            g.add(entry);
            if self.rule.condition.percentile.is_some() && !entry.num.is_nan() {
                if g.nums.len() < cap {
                    g.nums.push(entry.num);
                } else {
                    ctx.stats.truncated_entries += 1;
                }
            }
            return None;
        }
        g.entries.push_back(entry);
        g.add(entry);
        if g.entries.len() > ctx.max_entries {
            if let Some(old) = g.entries.pop_front() {
                g.remove(&old);
                ctx.stats.truncated_entries += 1;
            }
        }
        g.prune(now.saturating_sub(self.span));
        if g.muted {
            return None;
        }
        let hit = self.eager_check(&obs.key, now, ctx);
        if now >= self.last_sweep.saturating_add(self.span) {
            self.sweep(now);
        }
        hit
    }

    /// Evaluates a sliding window ending at `now`; on a hit, consumes it and
    /// mutes the group for one timespan.
    fn eager_check(&mut self, key: &[u8], now: i64, ctx: &mut Ctx) -> Option<CorrelationHit> {
        let g = self.groups.get_mut(key)?;
        let rule = &self.rule;
        let since = now.saturating_sub(self.span);
        let (value, first) = match rule.kind {
            CorrelationType::EventCount => (g.entries.len() as f64, None),
            CorrelationType::ValueCount => (g.distinct.len() as f64, None),
            CorrelationType::ValueSum => (g.sum, None),
            CorrelationType::TemporalOrdered => {
                let (n, s) = g.ordered_steps(since);
                (n as f64, s)
            }
            _ => (g.per_rule.iter().filter(|&&c| c > 0).count() as f64, None),
        };
        if !rule.condition.holds(value) {
            return None;
        }
        let first = first.or(g.entries.front().map(|e| e.ts)).unwrap_or(now);
        let last = g.entries.back().map_or(now, |e| e.ts);
        let in_hit = g.entries.iter().filter(|e| e.ts >= first);
        let event_count = in_hit.clone().count();
        let matched_rules = if rule.kind == CorrelationType::TemporalOrdered {
            rule.rules.iter().take(value as usize).cloned().collect()
        } else {
            let mut seen = vec![false; rule.rules.len()];
            for e in in_hit {
                if let Some(s) = seen.get_mut(usize::from(e.pos)) {
                    *s = true;
                }
            }
            rule.rules
                .iter()
                .zip(seen)
                .filter(|(_, s)| *s)
                .map(|(r, _)| r.clone())
                .collect()
        };
        let hit = Self::hit(
            rule,
            &self.carry,
            g,
            first,
            last,
            value,
            event_count,
            matched_rules,
        );
        g.clear();
        g.muted = true;
        let until = now.saturating_add(self.span);
        g.deadline = Some(until);
        ctx.schedule(until, self.index, key);
        Some(hit)
    }

    #[allow(clippy::too_many_arguments)]
    fn hit(
        rule: &Arc<CorrelationRule>,
        carry: &[String],
        g: &Group,
        first: i64,
        last: i64,
        value: f64,
        event_count: usize,
        matched_rules: Vec<String>,
    ) -> CorrelationHit {
        let mut group: Vec<(String, String)> = rule
            .group_by
            .iter()
            .cloned()
            .zip(g.values.iter().cloned())
            .collect();
        // The organisation, kept last in the key (see `make_obs`).
        if let Some(org) = g.values.get(rule.group_by.len()).filter(|o| !o.is_empty()) {
            if !rule.group_by.iter().any(|f| f == ecs::ORGANIZATION_ID) {
                group.push((ecs::ORGANIZATION_ID.to_string(), org.clone()));
            }
        }
        let fields = carry
            .iter()
            .zip(&g.carry)
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .collect();
        CorrelationHit {
            rule: rule.clone(),
            group,
            fields,
            first: to_dt(first, g.off),
            last: to_dt(last, g.off),
            value,
            event_count,
            matched_rules,
        }
    }

    /// A deadline came due: a window ended, or a muted group's timespan is
    /// over.
    fn on_deadline(&mut self, key: &[u8], at: i64, ctx: &mut Ctx) -> Option<CorrelationHit> {
        let g = self.groups.get_mut(key)?;
        if g.deadline != Some(at) {
            return None; // superseded
        }
        g.deadline = None;
        if self.eager {
            g.muted = false;
            g.prune(at.saturating_sub(self.span));
            if g.entries.is_empty() {
                self.groups.remove(key);
                return None;
            }
            return self.eager_check(key, at, ctx);
        }
        let rule = &self.rule;
        let (value, first) = match rule.kind {
            CorrelationType::EventCount => (g.count as f64, None),
            CorrelationType::ValueCount => (g.distinct.len() as f64, None),
            CorrelationType::ValueSum => (g.sum, None),
            CorrelationType::ValueAvg => (
                if g.n_num == 0 {
                    f64::NAN
                } else {
                    g.sum / g.n_num as f64
                },
                None,
            ),
            CorrelationType::ValuePercentile | CorrelationType::ValueMedian => (
                percentile(&mut g.nums, rule.condition.percentile.unwrap_or(50.0)),
                None,
            ),
            CorrelationType::Temporal => {
                (g.per_rule.iter().filter(|&&c| c > 0).count() as f64, None)
            }
            CorrelationType::TemporalOrdered => {
                let (n, s) = g.ordered_steps(i64::MIN);
                (n as f64, s)
            }
        };
        let hit = rule.condition.holds(value).then(|| {
            let matched_rules = if rule.kind == CorrelationType::TemporalOrdered {
                rule.rules.iter().take(value as usize).cloned().collect()
            } else {
                rule.rules
                    .iter()
                    .zip(&g.per_rule)
                    .filter(|(_, c)| **c > 0)
                    .map(|(r, _)| r.clone())
                    .collect()
            };
            Self::hit(
                rule,
                &self.carry,
                g,
                first.unwrap_or(g.first),
                g.last,
                value,
                g.count as usize,
                matched_rules,
            )
        });
        self.groups.remove(key);
        hit
    }

    /// Drops sliding groups whose window is empty at `now`.
    fn sweep(&mut self, now: i64) {
        let cutoff = now.saturating_sub(self.span);
        if self.eager {
            self.groups
                .retain(|_, g| g.muted || g.entries.back().is_some_and(|e| e.ts >= cutoff));
        }
        self.last_sweep = now;
    }

    /// At the group cap: sweep, then evict the least recently active eighth.
    fn make_room(&mut self, now: i64, ctx: &mut Ctx) {
        self.sweep(now);
        if self.groups.len() < ctx.max_groups {
            return;
        }
        let mut ages: Vec<(i64, &Box<[u8]>)> =
            self.groups.iter().map(|(k, g)| (g.last_seen, k)).collect();
        let n = (ages.len() / 8).max(1);
        ages.select_nth_unstable(n - 1);
        let victims: Vec<Box<[u8]>> = ages[..n].iter().map(|(_, k)| (*k).clone()).collect();
        for k in victims {
            self.groups.remove(&k);
        }
        ctx.stats.evicted_groups += n as u64;
    }
}

/// Where a correlation reads fields: a matched event, or an inner
/// correlation's hit.
#[derive(Clone, Copy)]
enum Source<'a> {
    Event(&'a Event),
    Hit(&'a CorrelationHit),
}

impl<'a> Source<'a> {
    fn text(self, name: &str) -> Option<Cow<'a, str>> {
        match self {
            Source::Event(ev) => {
                let v = ev.lookup(name)?;
                match v {
                    Value::Array(_) | Value::Object(_) => Some(Cow::Owned(v.to_string())),
                    _ => v.to_text(),
                }
            }
            Source::Hit(h) => h
                .group
                .iter()
                .chain(&h.fields)
                .find(|(k, _)| k == name)
                .map(|(_, v)| Cow::Borrowed(v.as_str())),
        }
    }

    fn num(self, name: &str) -> Option<f64> {
        let n = match self {
            Source::Event(ev) => ev.lookup(name)?.as_f64(),
            Source::Hit(_) => self.text(name)?.trim().parse().ok(),
        }?;
        n.is_finite().then_some(n)
    }
}

/// Runs correlation rules over the matches of the rules they reference.
pub struct Correlator {
    corrs: Vec<Corr>,
    /// Reference as written in `rules` → (correlation, position).
    targets: HashMap<String, Vec<(u32, u16)>>,
    ctx: Ctx,
    buffer: BinaryHeap<Reverse<Obs>>,
    max_lateness: Option<i64>,
    max_buffered: usize,
    /// Newest timestamp seen.
    max_ts: i64,
    /// Timestamp of the last match (or deadline) processed: anything older
    /// is late.
    processed: i64,
}

impl Correlator {
    /// Resolves references between correlations and rejects cycles and
    /// duplicate ids or names. References that name no correlation are taken
    /// as ordinary Sigma rules (see [`Correlator::rule_references`]).
    pub fn new(rules: Vec<CorrelationRule>) -> Result<Correlator, CorrelationError> {
        Self::with_options(rules, CorrelatorOptions::default())
    }

    pub fn with_options(
        rules: Vec<CorrelationRule>,
        opts: CorrelatorOptions,
    ) -> Result<Correlator, CorrelationError> {
        if rules.len() > u32::MAX as usize {
            return Err(CorrelationError::Set("too many correlation rules".into()));
        }
        let mut by_ref: HashMap<&str, usize> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            for key in [r.id.as_deref(), r.name.as_deref()].into_iter().flatten() {
                if let Some(&j) = by_ref.get(key) {
                    if j != i {
                        return Err(CorrelationError::Set(format!(
                            "correlation {:?}: {key:?} is also the id or name of correlation {:?}",
                            r.title, rules[j].title
                        )));
                    }
                }
                by_ref.insert(key, i);
            }
            if r.rules.len() > usize::from(u16::MAX) {
                return Err(CorrelationError::Set(format!(
                    "correlation {:?}: correlation.rules: too many rules",
                    r.title
                )));
            }
        }
        let edges: Vec<Vec<usize>> = rules
            .iter()
            .map(|r| {
                r.rules
                    .iter()
                    .filter_map(|x| by_ref.get(x.as_str()).copied())
                    .collect()
            })
            .collect();
        find_cycle(&rules, &edges)?;

        // Fields each correlation must carry in its hits for the ones chained
        // on it; grown to a fixed point because carried fields pass down
        // chains of any depth.
        let mut needs: Vec<BTreeSet<String>> = vec![BTreeSet::new(); rules.len()];
        loop {
            let mut changed = false;
            for (o, outer) in rules.iter().enumerate() {
                for &c in &edges[o] {
                    let inner = &rules[c];
                    let id = inner.id.as_deref().unwrap_or("");
                    let name = inner.name.as_deref();
                    let mut wanted: Vec<String> = outer
                        .group_by
                        .iter()
                        .chain(&outer.condition.fields)
                        .map(|f| outer.resolve_field(f, id, name).to_string())
                        .collect();
                    wanted.extend(needs[o].iter().cloned());
                    for f in wanted {
                        if !inner.group_by.contains(&f) && needs[c].insert(f) {
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }

        let mut targets: HashMap<String, Vec<(u32, u16)>> = HashMap::new();
        for (ci, r) in rules.iter().enumerate() {
            for (pos, x) in r.rules.iter().enumerate() {
                targets
                    .entry(x.clone())
                    .or_default()
                    .push((ci as u32, pos as u16));
            }
        }
        let corrs: Vec<Corr> = rules
            .into_iter()
            .zip(needs)
            .enumerate()
            .map(|(i, (rule, need))| {
                let eager = matches!(
                    rule.kind,
                    CorrelationType::EventCount
                        | CorrelationType::ValueCount
                        | CorrelationType::ValueSum
                        | CorrelationType::Temporal
                        | CorrelationType::TemporalOrdered
                ) && rule.condition.lower_bounds_only();
                Corr {
                    index: i as u32,
                    span: rule.timespan.micros(),
                    rule: Arc::new(rule),
                    eager,
                    carry: need.into_iter().collect(),
                    emit: true,
                    groups: HashMap::new(),
                    last_sweep: i64::MIN,
                }
            })
            .collect();
        let max_lateness = opts
            .max_lateness
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let mut me = Correlator {
            corrs: Vec::new(),
            targets,
            ctx: Ctx {
                deadlines: BinaryHeap::new(),
                seq: 0,
                stats: CorrelatorStats::default(),
                max_groups: opts.max_groups.max(1),
                max_entries: opts.max_entries_per_group.max(1),
            },
            buffer: BinaryHeap::new(),
            max_lateness,
            max_buffered: opts.max_buffered.max(1),
            max_ts: i64::MIN,
            processed: i64::MIN,
        };
        me.corrs = corrs;
        let emit: Vec<bool> = me
            .corrs
            .iter()
            .map(|c| me.should_generate(c.rule.id.as_deref().unwrap_or(""), c.rule.name.as_deref()))
            .collect();
        for (c, e) in me.corrs.iter_mut().zip(emit) {
            c.emit = e;
        }
        Ok(me)
    }

    pub fn rules(&self) -> impl Iterator<Item = &Arc<CorrelationRule>> {
        self.corrs.iter().map(|c| &c.rule)
    }

    /// The references that name no correlation: the ordinary Sigma rules the
    /// caller should have loaded (a missing one means the correlation can
    /// never fire).
    pub fn rule_references(&self) -> Vec<&str> {
        let mut out: Vec<&str> =
            self.targets
                .keys()
                .map(String::as_str)
                .filter(|k| {
                    !self.corrs.iter().any(|c| {
                        c.rule.id.as_deref() == Some(*k) || c.rule.name.as_deref() == Some(*k)
                    })
                })
                .collect();
        out.sort_unstable();
        out
    }

    /// Whether some correlation references the rule (by id or by name): only
    /// then does `observe` need its matches.
    pub fn is_referenced(&self, rule_id: &str, rule_name: Option<&str>) -> bool {
        self.targets.contains_key(rule_id)
            || rule_name.is_some_and(|n| self.targets.contains_key(n))
    }

    /// Whether the rule's own matches should still be reported: true unless
    /// every correlation referencing it says `generate: false`.
    pub fn should_generate(&self, rule_id: &str, rule_name: Option<&str>) -> bool {
        let mut referenced = false;
        for key in std::iter::once(rule_id).chain(rule_name) {
            for &(c, _) in self.targets.get(key).map_or(&[][..], Vec::as_slice) {
                referenced = true;
                if self.corrs.get(c as usize).is_some_and(|c| c.rule.generate) {
                    return true;
                }
            }
        }
        !referenced
    }

    /// A rule matched `event` at `ts` (the event's time). Hits that become
    /// due are appended to `out`; with a reorder tolerance they come once
    /// later input (or `flush`) shows no earlier match can still arrive.
    pub fn observe(
        &mut self,
        rule_id: &str,
        rule_name: Option<&str>,
        event: &Event,
        ts: DateTime<FixedOffset>,
        out: &mut Vec<CorrelationHit>,
    ) {
        let mut tg: Vec<(u32, u16)> = Vec::new();
        for key in std::iter::once(rule_id).chain(rule_name) {
            if let Some(t) = self.targets.get(key) {
                for x in t {
                    if !tg.contains(x) {
                        tg.push(*x);
                    }
                }
            }
        }
        if tg.is_empty() {
            return;
        }
        let t = ts.timestamp_micros();
        if t < self.processed {
            self.ctx.stats.late_dropped += tg.len() as u64;
            return;
        }
        let off = ts.offset().local_minus_utc();
        for (c, pos) in tg {
            let Some(corr) = self.corrs.get(c as usize) else {
                continue;
            };
            self.ctx.seq += 1;
            let seq = self.ctx.seq;
            if let Some(o) = make_obs(
                corr,
                pos,
                Source::Event(event),
                rule_id,
                rule_name,
                t,
                off,
                seq,
                &mut self.ctx.stats,
            ) {
                self.buffer.push(Reverse(o));
            }
        }
        self.max_ts = self.max_ts.max(t);
        self.release(out);
    }

    /// End of input: processes everything buffered, evaluates every open
    /// window as it stands (the input is over, so nothing more can join
    /// it), and clears the state for new input.
    pub fn flush(&mut self, out: &mut Vec<CorrelationHit>) {
        while let Some(Reverse(o)) = self.buffer.pop() {
            self.process(o, out);
        }
        self.run_deadlines(i64::MAX, out);
        for c in &mut self.corrs {
            c.groups.clear();
            c.last_sweep = i64::MIN;
        }
        self.max_ts = i64::MIN;
        self.processed = i64::MIN;
    }

    pub fn stats(&self) -> CorrelatorStats {
        let mut s = self.ctx.stats.clone();
        s.groups = self.corrs.iter().map(|c| c.groups.len()).sum();
        s.buffered = self.buffer.len();
        s
    }

    fn release(&mut self, out: &mut Vec<CorrelationHit>) {
        if let Some(l) = self.max_lateness {
            let upto = self.max_ts.saturating_sub(l);
            while self.buffer.peek().is_some_and(|Reverse(o)| o.ts <= upto) {
                if let Some(Reverse(o)) = self.buffer.pop() {
                    self.process(o, out);
                }
            }
        }
        while self.buffer.len() > self.max_buffered {
            if let Some(Reverse(o)) = self.buffer.pop() {
                self.process(o, out);
            }
        }
    }

    fn process(&mut self, o: Obs, out: &mut Vec<CorrelationHit>) {
        // Windows that end before this match are decided first, so that
        // hits (and chained correlations) follow event time.
        self.run_deadlines(o.ts, out);
        self.processed = self.processed.max(o.ts);
        let now = o.ts;
        self.apply_chain(vec![o], now, out);
    }

    fn run_deadlines(&mut self, before: i64, out: &mut Vec<CorrelationHit>) {
        while self
            .ctx
            .deadlines
            .peek()
            .is_some_and(|Reverse(d)| d.at < before)
        {
            let Some(Reverse(d)) = self.ctx.deadlines.pop() else {
                break;
            };
            if before != i64::MAX {
                self.processed = self.processed.max(d.at);
            }
            let Some(corr) = self.corrs.get_mut(d.corr as usize) else {
                continue;
            };
            if let Some(hit) = corr.on_deadline(&d.key, d.at, &mut self.ctx) {
                let mut work = Vec::new();
                self.emit(d.corr, hit, d.at, &mut work, out);
                self.apply_chain(work, d.at, out);
            }
        }
    }

    fn apply_chain(&mut self, mut work: Vec<Obs>, now: i64, out: &mut Vec<CorrelationHit>) {
        while let Some(o) = work.pop() {
            let c = o.corr;
            self.ctx.stats.observations += 1;
            let Some(corr) = self.corrs.get_mut(c as usize) else {
                continue;
            };
            if let Some(hit) = corr.apply(o, now, &mut self.ctx) {
                self.emit(c, hit, now, &mut work, out);
            }
        }
    }

    /// Reports a hit (unless suppressed by `generate`) and routes it to the
    /// correlations chained on this one.
    fn emit(
        &mut self,
        c: u32,
        hit: CorrelationHit,
        now: i64,
        work: &mut Vec<Obs>,
        out: &mut Vec<CorrelationHit>,
    ) {
        self.ctx.stats.hits += 1;
        let rule = hit.rule.clone();
        let id = rule.id.as_deref().unwrap_or("");
        let name = rule.name.as_deref();
        let mut tg: Vec<(u32, u16)> = Vec::new();
        for key in std::iter::once(id).chain(name) {
            if let Some(t) = self.targets.get(key) {
                for x in t {
                    if !tg.contains(x) {
                        tg.push(*x);
                    }
                }
            }
        }
        let off = hit.last.offset().local_minus_utc();
        for (oc, pos) in tg {
            let Some(outer) = self.corrs.get(oc as usize) else {
                continue;
            };
            self.ctx.seq += 1;
            let seq = self.ctx.seq;
            if let Some(o) = make_obs(
                outer,
                pos,
                Source::Hit(&hit),
                id,
                name,
                now,
                off,
                seq,
                &mut self.ctx.stats,
            ) {
                work.push(o);
            }
        }
        if self.corrs.get(c as usize).is_some_and(|c| c.emit) {
            out.push(hit);
        } else {
            self.ctx.stats.suppressed_hits += 1;
        }
    }
}

/// Extracts what correlation `corr` needs from one match; None when the
/// match belongs to no group.
#[allow(clippy::too_many_arguments)]
fn make_obs(
    corr: &Corr,
    pos: u16,
    src: Source<'_>,
    rule_id: &str,
    rule_name: Option<&str>,
    ts: i64,
    off: i32,
    seq: u64,
    stats: &mut CorrelatorStats,
) -> Option<Obs> {
    let rule = &corr.rule;
    let mut key = Vec::new();
    for g in &rule.group_by {
        let field = rule.resolve_field(g, rule_id, rule_name);
        let Some(v) = src.text(field) else {
            stats.missing_group_field += 1;
            return None;
        };
        key.extend_from_slice(&(v.len() as u32).to_le_bytes());
        key.extend_from_slice(v.as_bytes());
    }
    // Every group is within one organisation: a member's events never
    // count towards a sibling's threshold, and the hit says whose it is.
    let org = src.text(ecs::ORGANIZATION_ID).unwrap_or_default();
    key.extend_from_slice(&(org.len() as u32).to_le_bytes());
    key.extend_from_slice(org.as_bytes());
    let mut num = f64::NAN;
    let mut hash = None;
    if rule.kind == CorrelationType::ValueCount {
        let mut h = std::hash::DefaultHasher::new();
        let mut all = true;
        for f in &rule.condition.fields {
            match src.text(rule.resolve_field(f, rule_id, rule_name)) {
                Some(v) => {
                    h.write_usize(v.len());
                    h.write(v.as_bytes());
                }
                None => all = false,
            }
        }
        if all {
            hash = Some(h.finish());
        } else {
            stats.missing_value += 1;
        }
    } else if let Some(f) = rule.condition.fields.first() {
        match src.num(rule.resolve_field(f, rule_id, rule_name)) {
            Some(n) => num = n,
            None => stats.missing_value += 1,
        }
    }
    let carry: Box<[Option<String>]> = corr
        .carry
        .iter()
        .map(|f| src.text(f).map(Cow::into_owned))
        .collect();
    Some(Obs {
        ts,
        off,
        seq,
        corr: corr.index,
        pos,
        key: key.into_boxed_slice(),
        num,
        hash,
        carry,
    })
}

fn decode_key(mut key: &[u8]) -> Box<[String]> {
    let mut out = Vec::new();
    while let Some((len, rest)) = key.split_first_chunk::<4>() {
        let n = u32::from_le_bytes(*len) as usize;
        let (v, rest) = rest.split_at(n.min(rest.len()));
        out.push(String::from_utf8_lossy(v).into_owned());
        key = rest;
    }
    out.into_boxed_slice()
}

/// Linear interpolation between closest ranks (SQL `PERCENTILE_CONT`).
fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable_by(f64::total_cmp);
    let rank = p.clamp(0.0, 100.0) / 100.0 * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    match (values.get(lo), values.get(hi)) {
        (Some(&a), Some(&b)) => a + (b - a) * (rank - lo as f64),
        _ => f64::NAN,
    }
}

fn find_cycle(rules: &[CorrelationRule], edges: &[Vec<usize>]) -> Result<(), CorrelationError> {
    // 0 unvisited, 1 on the current path, 2 done.
    let mut state = vec![0u8; rules.len()];
    let mut path = Vec::new();
    fn visit(
        n: usize,
        edges: &[Vec<usize>],
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[n] = 1;
        path.push(n);
        for &m in &edges[n] {
            if state[m] == 1 {
                let start = path.iter().position(|&x| x == m).unwrap_or(0);
                let mut cyc = path[start..].to_vec();
                cyc.push(m);
                return Some(cyc);
            }
            if state[m] == 0 {
                if let Some(c) = visit(m, edges, state, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        state[n] = 2;
        None
    }
    for n in 0..rules.len() {
        if state[n] == 0 {
            if let Some(cyc) = visit(n, edges, &mut state, &mut path) {
                let names: Vec<&str> = cyc.iter().map(|&i| rules[i].label()).collect();
                return Err(CorrelationError::Set(format!(
                    "correlation.rules: correlations reference each other in a cycle: {}",
                    names.join(" -> ")
                )));
            }
        }
    }
    Ok(())
}

fn utc() -> FixedOffset {
    taishi_event::time::utc()
}

fn to_dt(us: i64, off: FixedOffset) -> DateTime<FixedOffset> {
    DateTime::<Utc>::from_timestamp_micros(us)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .with_timezone(&off)
}
