//! Threat intelligence inside a running service (its feeds, imports and
//! matcher): every event is matched against
//! the loaded indicators as it arrives, and each import is followed by a
//! retro-hunt over the stored window, whose hits are raised as
//! retrospective alerts.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use taishi_intel::{
    import_source_with, retro, Feed, FeedKind, Feeds, ImportReport, Indicator, IndicatorStore,
    Limits, Matcher, MatcherStats, Source, SourceMeta,
};

use taishi_alert::Alert;

use crate::BoxError;

pub struct Intel {
    store: Mutex<IndicatorStore>,
    matcher: ArcSwap<Matcher>,
    uploads: PathBuf,
    /// The indicator store's folder; its `feeds.json` is shared with
    /// `taishi intel feeds`, and read afresh each time so that feeds the CLI
    /// adds are pulled too.
    dir: PathBuf,
    /// Serialises read-modify-write of `feeds.json` within the service.
    feeds_lock: Mutex<()>,
    /// What the last pull of each feed did (since the service started).
    pulls: Mutex<HashMap<String, PullStats>>,
    /// How far back a new indicator is looked for.
    pub retro_window: TimeDelta,
    /// What one feed pull or import may download, inflate and bring.
    pub limits: Limits,
}

#[derive(Debug, Clone, Default, Serialize)]
struct PullStats {
    last_success: Option<DateTime<Utc>>,
    added: u64,
    updated: u64,
    removed: u64,
    rejected: u64,
    pulling: bool,
}

/// What went wrong with an intel request, by whose fault.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error("no feed named {0:?}")]
    NotFound(String),
    /// The request is malformed (a name, URL, interval or format).
    #[error("{0}")]
    Invalid(String),
    #[error("name: a feed named {0:?} exists")]
    Exists(String),
    /// The feed's server failed or answered with something unusable.
    #[error("{0}")]
    Pull(String),
    /// The indicator store refused or failed (a limit, the disk).
    #[error(transparent)]
    Store(#[from] taishi_intel::StoreError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Any other failure of the intel library (feed list, import, retro-hunt).
    #[error("{0}")]
    Other(#[source] BoxError),
}

impl IntelError {
    fn other(e: impl Into<BoxError>) -> IntelError {
        IntelError::Other(e.into())
    }

    /// Whether the request itself is at fault (do not retry it as it is).
    pub fn is_rejected(&self) -> bool {
        matches!(
            self,
            IntelError::NotFound(_) | IntelError::Invalid(_) | IntelError::Exists(_)
        ) || self.over_limit()
    }

    /// An import or feed past `intel.max_feed_mib` / `max_indicators_per_feed`.
    pub fn over_limit(&self) -> bool {
        matches!(self, IntelError::Store(taishi_intel::StoreError::Limit(_)))
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> IntelError {
    let what = what.into();
    move |source| IntelError::Io { what, source }
}

/// Indicator search parameters (`GET /api/v1/intel/indicators`).
#[derive(Debug, Default, Clone)]
pub struct IndicatorQuery {
    /// Case-insensitive substring of value, name, malware or labels.
    pub q: String,
    pub kind: Option<String>,
    pub source: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

impl Intel {
    pub fn open(dir: PathBuf, retro_days: u32, limits: Limits) -> Result<Intel, IntelError> {
        let store = IndicatorStore::open(&dir)?;
        let matcher = store.load_matcher()?;
        let uploads = dir.join("uploads");
        std::fs::create_dir_all(&uploads).map_err(io(format!("creating {}", uploads.display())))?;
        Ok(Intel {
            store: Mutex::new(store),
            matcher: ArcSwap::from_pointee(matcher),
            uploads,
            dir,
            feeds_lock: Mutex::new(()),
            pulls: Mutex::new(HashMap::new()),
            retro_window: TimeDelta::days(i64::from(retro_days.max(1))),
            limits,
        })
    }

    pub fn matcher(&self) -> Arc<Matcher> {
        self.matcher.load_full()
    }

    fn rebuild(&self, store: &IndicatorStore) -> Result<(), IntelError> {
        let m = store.load_matcher()?;
        self.matcher.store(Arc::new(m));
        Ok(())
    }

    /// Imports an uploaded feed file as source `name` (replacing that
    /// source's earlier indicators) and swaps in a new matcher.
    pub fn import_bytes(
        &self,
        name: &str,
        format: Option<&str>,
        data: &[u8],
    ) -> Result<ImportReport, IntelError> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let safe = safe.trim_start_matches('.');
        if safe.is_empty() {
            return Err(IntelError::Invalid(
                "name: give the source a name (letters, digits, - _ .)".into(),
            ));
        }
        let format = format
            .map(|f| {
                f.parse::<taishi_intel::import::Format>()
                    .map_err(|e| IntelError::Invalid(format!("format: {e}")))
            })
            .transpose()?;
        let path = self.uploads.join(safe);
        std::fs::write(&path, data).map_err(io(format!("writing {}", path.display())))?;
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let report = import_source_with(
            &mut store,
            &Source::Path(path),
            format.as_ref(),
            Some(name),
            &self.limits,
        )?;
        self.rebuild(&store)?;
        Ok(report)
    }

    /// Reloads the source list and the matcher when another process
    /// (`taishi intel import` beside the service) changed the store on
    /// disk; `true` when it did. Failures are logged and the loaded
    /// indicators stay.
    pub fn refresh_if_changed(&self) -> bool {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        match store.refresh() {
            Ok(false) => false,
            Ok(true) => {
                if let Err(e) = self.rebuild(&store) {
                    tracing::warn!(error = %e, "intel: cannot reload the indicators changed on disk");
                    return false;
                }
                tracing::info!("intel: indicators changed on disk, reloaded");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "intel: cannot re-read the indicator store");
                false
            }
        }
    }

    /// Sources with their counts, for the console and the API.
    pub fn sources(&self) -> IntelStatus {
        self.refresh_if_changed();
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let matcher = self.matcher();
        IntelStatus {
            sources: store.sources().clone(),
            matcher: MatcherStatus {
                indicators: matcher.len(),
                stats: matcher.stats().clone(),
            },
            feeds: Feeds::load(&self.dir).map(|f| f.feeds.len()).unwrap_or(0),
        }
    }

    /// Indicators matching `q` (typed comparisons, no serialisation of the
    /// ones that are not returned), one page of them, and the total.
    pub fn search(&self, q: &IndicatorQuery) -> Result<(u64, Vec<Indicator>), IntelError> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let needle = q.q.to_lowercase();
        let contains = |s: &str| {
            if needle.is_empty() {
                true
            } else if s.is_ascii() && needle.is_ascii() {
                // Indicator values are mostly ASCII: compare without
                // allocating a lowered copy.
                s.as_bytes()
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            } else {
                s.to_lowercase().contains(&needle)
            }
        };
        let wanted = |i: &Indicator| {
            q.kind.as_deref().is_none_or(|k| i.kind.as_str() == k)
                && (contains(&i.value)
                    || i.name.as_deref().is_some_and(contains)
                    || i.malware.iter().any(|m| contains(m))
                    || i.labels.iter().any(|l| contains(l)))
        };
        let sources: Vec<String> = match &q.source {
            Some(s) => vec![s.clone()],
            None => store.sources().keys().cloned().collect(),
        };
        let mut total = 0u64;
        let mut items = Vec::new();
        for src in sources {
            if !store.sources().contains_key(&src) {
                continue;
            }
            store.for_each(&src, &mut |ind| {
                if wanted(&ind) {
                    if total as usize >= q.offset && items.len() < q.limit {
                        items.push(ind);
                    }
                    total += 1;
                }
            })?;
        }
        Ok((total, items))
    }

    // ---- feeds -------------------------------------------------------

    fn feeds(&self) -> Result<Feeds, IntelError> {
        let mut f = Feeds::load(&self.dir).map_err(IntelError::other)?;
        f.limits = self.limits;
        Ok(f)
    }

    /// Every feed with its schedule and the outcome of its last pull.
    pub fn feed_status(&self) -> Result<Vec<FeedStatus>, IntelError> {
        let feeds = self.feeds()?;
        let counts: HashMap<String, u64> = {
            let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            store
                .sources()
                .iter()
                .map(|(k, v)| (k.clone(), v.indicators))
                .collect()
        };
        let pulls = self.pulls.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(feeds
            .feeds
            .iter()
            .map(|f| FeedStatus::of(f, counts.get(&f.name).copied(), pulls.get(&f.name)))
            .collect())
    }

    /// Adds a feed; the scheduler pulls it on its next round.
    pub fn add_feed(&self, feed: Feed) -> Result<FeedStatus, IntelError> {
        validate_feed(&feed)?;
        {
            let _g = self.feeds_lock.lock().unwrap_or_else(|e| e.into_inner());
            let mut feeds = self.feeds()?;
            if feeds.feeds.iter().any(|f| f.name == feed.name) {
                return Err(IntelError::Exists(feed.name));
            }
            feeds
                .add(feed.clone())
                .map_err(|e| IntelError::Invalid(e.to_string()))?;
            feeds.save().map_err(IntelError::other)?;
        }
        Ok(FeedStatus::of(&feed, None, None))
    }

    /// Removes a feed and its indicators.
    pub fn remove_feed(&self, name: &str) -> Result<(), IntelError> {
        let _g = self.feeds_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut feeds = self.feeds()?;
        if feeds.remove(name).is_none() {
            return Err(IntelError::NotFound(name.into()));
        }
        feeds.save().map_err(IntelError::other)?;
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if store.sources().contains_key(name) {
            store.remove_source(name)?;
            self.rebuild(&store)?;
        }
        self.pulls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        Ok(())
    }

    /// Feeds whose interval has passed since their last pull.
    pub fn due_feeds(&self, now: DateTime<Utc>) -> Vec<String> {
        match self.feeds() {
            Ok(f) => f
                .feeds
                .iter()
                .filter(|f| f.due(now))
                .map(|f| f.name.clone())
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "intel feeds: cannot read the feed list");
                Vec::new()
            }
        }
    }

    /// Pulls one feed now, swaps in the rebuilt matcher and records the
    /// outcome (kept on the feed as `last_error` when it fails).
    pub fn pull_feed(&self, name: &str) -> Result<ImportReport, IntelError> {
        self.pulls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .pulling = true;
        let result = (|| {
            let _g = self.feeds_lock.lock().unwrap_or_else(|e| e.into_inner());
            let mut feeds = self.feeds()?;
            if !feeds.feeds.iter().any(|f| f.name == name) {
                return Err(IntelError::NotFound(name.into()));
            }
            // The download runs without the store's lock: indicator search,
            // status and imports go on while a slow feed answers.
            let r = feeds
                .pull_shared(&self.store, name)
                .map_err(|e| IntelError::Pull(e.to_string()))?;
            let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            self.rebuild(&store)?;
            Ok(r)
        })();
        let mut pulls = self.pulls.lock().unwrap_or_else(|e| e.into_inner());
        let p = pulls.entry(name.to_string()).or_default();
        p.pulling = false;
        if let Ok(r) = &result {
            p.last_success = Some(Utc::now());
            p.added = r.added;
            p.updated = r.updated;
            p.removed = r.removed;
            p.rejected = r.rejected.len() as u64;
        }
        result
    }

    /// Retro-hunt over the event store for the indicators an import added.
    pub fn retro_hunt(
        &self,
        events: &taishi_store::Store,
        report: &ImportReport,
    ) -> Result<Vec<Alert>, IntelError> {
        if report.new_indicators.is_empty() {
            return Ok(Vec::new());
        }
        let lists = {
            let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            store.warninglists()?.0
        };
        let res = retro::hunt(
            events,
            &report.new_indicators,
            &lists,
            self.retro_window,
            Utc::now(),
        )
        .map_err(IntelError::other)?;
        let mut out = Vec::new();
        for (ev, hits) in &res.matches {
            for h in hits {
                out.push(crate::alerts::intel(h, ev, None));
            }
        }
        Ok(out)
    }
}

fn validate_feed(f: &Feed) -> Result<(), IntelError> {
    let invalid = |m: String| Err(IntelError::Invalid(m));
    if f.name.is_empty()
        || !f
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || f.name.starts_with('.')
    {
        return invalid("name: letters, digits, - _ . only, not starting with a dot".into());
    }
    if !(f.url.starts_with("http://") || f.url.starts_with("https://")) {
        return invalid(format!(
            "url: {:?} is not an http:// or https:// URL",
            f.url
        ));
    }
    if f.interval_secs == 0 {
        return invalid("interval_secs: give the seconds between pulls (e.g. 3600)".into());
    }
    if let Some(fmt) = &f.format {
        fmt.parse::<taishi_intel::import::Format>()
            .map_err(|e| IntelError::Invalid(format!("format: {e}")))?;
    }
    Ok(())
}

/// The indicator sources, the matcher in force and the number of feeds
/// (`GET /intel`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IntelStatus {
    /// Indicators by source (a feed, or an import's `source`).
    pub sources: BTreeMap<String, SourceMeta>,
    pub matcher: MatcherStatus,
    /// Feeds configured.
    pub feeds: usize,
}

/// What the matcher in force holds.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MatcherStatus {
    /// Indicators the matcher looks for.
    pub indicators: usize,
    pub stats: MatcherStats,
}

/// A feed with its schedule and the outcome of its last pull.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FeedStatus {
    pub name: String,
    pub kind: FeedKind,
    pub url: String,
    pub format: Option<String>,
    pub interval_secs: u64,
    pub last_pull: Option<DateTime<Utc>>,
    /// The last pull without an error.
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Indicators the feed holds now.
    pub indicators: u64,
    /// What the last pull since start did.
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    pub rejected: u64,
    pub next_pull: DateTime<Utc>,
    /// A pull is under way.
    pub pulling: bool,
}

impl FeedStatus {
    fn of(f: &Feed, indicators: Option<u64>, p: Option<&PullStats>) -> FeedStatus {
        let p = p.cloned().unwrap_or_default();
        let next = f
            .last_pull
            .map(|l| l + TimeDelta::seconds(f.interval_secs.min(i64::MAX as u64) as i64));
        FeedStatus {
            name: f.name.clone(),
            kind: f.kind,
            url: f.url.clone(),
            format: f.format.clone(),
            interval_secs: f.interval_secs,
            last_pull: f.last_pull,
            // Across restarts, a pull without an error was a success.
            last_success: p
                .last_success
                .or(f.last_pull.filter(|_| f.last_error.is_none())),
            last_error: f.last_error.clone(),
            indicators: indicators.unwrap_or(0),
            added: p.added,
            updated: p.updated,
            removed: p.removed,
            rejected: p.rejected,
            next_pull: next.unwrap_or_else(Utc::now),
            pulling: p.pulling,
        }
    }
}
