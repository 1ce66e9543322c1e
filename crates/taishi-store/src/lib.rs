//! Taishi's embedded event store.
//!
//! ```text
//! <root>/LOCK                      one process at a time (flock)
//! <root>/checkpoint.json           {"wal_seq": N}: every record <= N is indexed
//! <root>/wal/<first seq>.wal       write-ahead log segments (see `wal`)
//! <root>/partitions/YYYY-MM-DD/    one Tantivy index per UTC day of @timestamp
//! <root>/partitions/outside-YYYY-MM-DD/
//!                                  events received that day whose time was
//!                                  outside the day window (see below)
//! ```
//!
//! **Where an event goes.** An event dated within
//! [`StoreConfig::past_days`] before to [`StoreConfig::future_days`] after
//! the UTC day it is received (and not before the retention cutoff) goes to
//! its day's partition. Any other event — a backfill of old logs, a clock
//! years ahead, a time before 1677 or after 2262 that the index cannot hold
//! — goes to the partition of its receipt day, `outside-YYYY-MM-DD`, keeps
//! its `@timestamp` as sent, and gains two fields: `taishi.received` (receipt
//! time, which also records the placement in the WAL so recovery puts it
//! back in the same partition) and `taishi.time_outside` (`past`, `future`
//! or `unrepresentable`). It stays searchable by its own time (searches merge
//! `outside` partitions whose times overlap the range), except an
//! unrepresentable time, which is indexed under the receipt time. So no
//! timestamp can make ingest open and commit one index writer after
//! another, and these partitions are dropped by receipt day: far-future
//! dates do not outlive retention. The counts are in [`StoreStats`].
//!
//! **Commit protocol.** [`Store::append`] writes the event to the WAL (and
//! hands it to the day's index writer); [`Store::commit`] fsyncs the WAL and
//! returns the durable sequence — acknowledge receipt only after it. Many
//! appenders share one fsync (group commit). [`Store::checkpoint`] (called
//! periodically, or by a background thread when configured) makes the WAL
//! durable up to the last indexed record X, commits every changed partition
//! with X in its commit payload (atomic with the index commit: Tantivy writes
//! it into `meta.json`), writes `checkpoint.json`, makes the new data
//! searchable and deletes WAL segments wholly at or below X.
//!
//! **Recovery.** Open repairs a torn WAL tail (reporting the bytes cut), then
//! replays records after `checkpoint.json`'s sequence: a record goes to its
//! day's partition only if its sequence is above that partition's committed
//! payload, so a crash anywhere — between WAL and index commit, or between two
//! partitions' commits — ends with every durable event indexed exactly once.

mod agg;
mod budget;
mod partition;
mod query;
pub mod wal;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use taishi_event::Event;
use tantivy::aggregation::{
    AggContextParams, AggregationLimitsGuard, DistributedAggregationCollector,
};
use tantivy::collector::{Count, TopDocs};
use tantivy::indexer::UserOperation;
use tantivy::query::{BooleanQuery, Occur, Query};
use tantivy::schema::Value as _;
use tantivy::{IndexWriter, Order, TantivyDocument};

pub use agg::{AggResult, Aggregation, HistogramBucket, Stats, TermBucket};
pub use budget::{estimate_bytes, multi_term_clauses, Budget, CancelOnDrop};
pub use query::{Filter, RangeValue, TimeRange, ValueKinds, ValuePredicate, TIMESTAMP};
pub use taishi_event::{ErrorKind, Kinded};
pub use wal::WalOpenReport;

use partition::{Fields, PartKey, Partition};

/// Marks an event stored in its receipt day's `outside` partition: the
/// receipt time (RFC 3339). Also what recovery reads to place it again.
pub const RECEIVED_FIELD: &str = "taishi.received";
/// Why it is there: `past`, `future` or `unrepresentable`.
pub const OUTSIDE_FIELD: &str = "taishi.time_outside";
/// A sender's own `taishi.received` is kept under this name, so it cannot
/// choose a partition.
pub const SENDER_RECEIVED_FIELD: &str = "taishi.received_by_sender";

/// Writers not used for this long (other than today's and yesterday's) are
/// committed and closed at the next checkpoint, freeing their memory.
const IDLE_WRITER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("index: {0}")]
    Index(String),
    #[error("corrupt store: {0}")]
    Corrupt(String),
    #[error("query: {0}")]
    BadQuery(String),
    #[error("event of {0} bytes exceeds the record limit")]
    TooLarge(usize),
    #[error("an earlier write failed part-way; reopen the store to repair it")]
    Poisoned,
    #[error("the store was opened read-only")]
    ReadOnly,
    #[error("{0} is in use by another process")]
    Locked(PathBuf),
    /// The search ran past its deadline and was stopped.
    #[error("the search took longer than its limit of {} s and was stopped; narrow the time range or the filter (the limit is search.timeout_secs)", .limit.as_secs_f64())]
    TimedOut { limit: Duration },
    /// The search was cancelled: its client went away or the service is stopping.
    #[error("the search was cancelled (the client went away or the service is stopping)")]
    Cancelled,
    /// The query would need more memory than one search may use.
    #[error("this query would need about {need_mib} MiB ({clauses} wildcard, range or CIDR clauses over one day's events); one search may use {limit_mib} MiB (search.max_query_mib): use fewer wildcard clauses or exact terms")]
    TooCostly {
        need_mib: u64,
        limit_mib: u64,
        clauses: u64,
    },
}

impl StoreError {
    /// The search was refused or stopped by its budget: the caller's query,
    /// not the store, is at fault.
    pub fn is_budget(&self) -> bool {
        matches!(
            self,
            StoreError::TimedOut { .. } | StoreError::Cancelled | StoreError::TooCostly { .. }
        )
    }
}

impl StoreError {
    /// Whether the caller may try again: a rejected request (a bad query,
    /// an event over the record limit, a search over its budget) fails the
    /// same way every time; a failing disk or a store that must be reopened
    /// may not.
    pub fn kind(&self) -> ErrorKind {
        Kinded::kind(self)
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl Kinded for StoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            StoreError::TooLarge(_) => ErrorKind::TooLarge,
            StoreError::BadQuery(_)
            | StoreError::TooCostly { .. }
            | StoreError::TimedOut { .. } => ErrorKind::Rejected,
            StoreError::Io { .. }
            | StoreError::Index(_)
            | StoreError::Corrupt(_)
            | StoreError::Poisoned
            | StoreError::ReadOnly
            | StoreError::Locked(_)
            | StoreError::Cancelled => ErrorKind::Transient,
        }
    }
}

impl From<tantivy::TantivyError> for StoreError {
    fn from(e: tantivy::TantivyError) -> Self {
        StoreError::Index(e.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Partitions whose whole day is older than this are dropped.
    pub retention_days: u32,
    /// Oldest partitions are dropped while the total exceeds this (the
    /// newest partition is always kept).
    pub max_bytes: Option<u64>,
    pub wal_segment_bytes: u64,
    /// Indexing threads and memory per open partition writer.
    pub writer_threads: usize,
    pub writer_memory_bytes: usize,
    /// Writers kept open at once (today, yesterday's late events, a backfill).
    /// Only today's and yesterday's get `writer_threads` and
    /// `writer_memory_bytes`; any other gets one thread and
    /// `cold_writer_memory_bytes`, so the most the writers can hold is
    /// 2 × writer_memory_bytes + (max_open_writers − 2) × cold_writer_memory_bytes.
    pub max_open_writers: usize,
    pub cold_writer_memory_bytes: usize,
    /// Events dated up to this many days before the day they are received
    /// get their own day's partition; older ones go to the receipt day's
    /// `outside` partition (see the module documentation).
    pub past_days: u32,
    /// The same for days after the receipt day (a sender's clock ahead, a
    /// local time zone taken for UTC).
    pub future_days: u32,
    pub docstore_zstd_level: i32,
    /// Checkpoint from a background thread at this interval: how quickly new
    /// events become searchable.
    pub checkpoint_interval: Option<Duration>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            retention_days: 180,
            max_bytes: None,
            wal_segment_bytes: 64 << 20,
            // Indexing is the bottleneck of ingest: one thread per core (two
            // at most: the caller needs CPU to serialise and decode).
            writer_threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
            writer_memory_bytes: 128 << 20,
            // Every day of the default window (7 back, today, 1 ahead) and
            // the `outside` partition can be open at once: no eviction
            // (a commit under the ingest lock) while senders stay inside it.
            // At most 2 × 128 + 8 × 16 = 384 MiB, as three 128 MiB writers
            // took before.
            max_open_writers: 10,
            cold_writer_memory_bytes: 16 << 20,
            past_days: 7,
            future_days: 1,
            docstore_zstd_level: 3,
            checkpoint_interval: None,
        }
    }
}

/// What opening the store found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub wal: WalOpenReport,
    /// `checkpoint.json`'s sequence at open.
    pub checkpoint_seq: u64,
    /// WAL records indexed during open (the tail the last run had not
    /// committed to the index).
    pub replayed: u64,
    /// Records after the checkpoint that their partition already held.
    pub already_indexed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionStats {
    /// The events' day, or for an `outside` partition the receipt day.
    pub day: NaiveDate,
    /// Events received on `day` whose time was outside the day window.
    pub outside: bool,
    pub events: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoreStats {
    pub partitions: Vec<PartitionStats>,
    pub events: u64,
    pub index_bytes: u64,
    pub wal_bytes: u64,
    pub bytes_per_event: f64,
    pub last_seq: u64,
    pub durable_seq: u64,
    pub checkpoint_seq: u64,
    pub last_background_error: Option<String>,
    /// Events appended since open whose time was outside the day window
    /// (stored in their receipt day's `outside` partition).
    pub outside_events: u64,
    /// Of those, events whose time the index cannot hold (before 1677 or
    /// after 2262), indexed under their receipt time.
    pub unrepresentable_events: u64,
    /// Index writers open now.
    pub open_writers: usize,
}

impl StoreStats {
    /// The store's series in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let mut e = taishi_event::metrics::Exposition::new();
        e.scalars(STORE_SERIES, self);
        e.finish()
    }
}

/// Every series of the store, read from its statistics.
const STORE_SERIES: &[taishi_event::metrics::Scalar<StoreStats>] = {
    use taishi_event::metrics::{MetricKind::*, Scalar};
    &[
        Scalar {
            name: "taishi_store_events",
            kind: Gauge,
            help: "Events in the store.",
            get: |s| s.events as f64,
        },
        Scalar {
            name: "taishi_store_bytes",
            kind: Gauge,
            help: "Bytes of index on disk.",
            get: |s| s.index_bytes as f64,
        },
        Scalar {
            name: "taishi_store_wal_bytes",
            kind: Gauge,
            help: "Bytes of write-ahead log.",
            get: |s| s.wal_bytes as f64,
        },
        Scalar {
            name: "taishi_store_outside_events_total",
            kind: Counter,
            help: "Events dated outside the day window (store.past_days, store.future_days), kept with their receipt day.",
            get: |s| s.outside_events as f64,
        },
        Scalar {
            name: "taishi_store_unrepresentable_events_total",
            kind: Counter,
            help: "Events dated before 1677 or after 2262, indexed under their receipt time.",
            get: |s| s.unrepresentable_events as f64,
        },
        Scalar {
            name: "taishi_store_open_writers",
            kind: Gauge,
            help: "Index writers open (store.max_open_writers).",
            get: |s| s.open_writers as f64,
        },
    ]
};

#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub filter: Filter,
    pub range: TimeRange,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub seq: u64,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Matches in the range, regardless of limit and offset.
    pub total: u64,
    /// Newest first.
    pub hits: Vec<Hit>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetentionReport {
    pub dropped: Vec<NaiveDate>,
    pub bytes_freed: u64,
}

struct OpenWriter {
    writer: IndexWriter<TantivyDocument>,
    last_used: u64,
    used_at: Instant,
    hot: bool,
    dirty: bool,
}

struct Ingest {
    writers: HashMap<PartKey, OpenWriter>,
    /// Each partition's committed payload: records at or below it are in it.
    committed: HashMap<PartKey, u64>,
    /// Highest sequence handed to an index writer (during a batch: the
    /// batch's last, see `pending`).
    last_added: u64,
    /// While a batch is handed over partition by partition: the partitions
    /// still to receive their records of it. A writer evicted meanwhile
    /// may claim only `batch_floor` (the sequence before the batch) when it
    /// is one of them, `last_added` otherwise.
    pending: HashSet<PartKey>,
    batch_floor: u64,
    /// A writer was committed while the current batch was handed over: the
    /// index may hold part of the batch, so its WAL records must stay.
    committed_in_batch: bool,
    tick: u64,
}

struct Inner {
    root: PathBuf,
    config: StoreConfig,
    fields: Fields,
    /// None when opened read-only.
    wal: Option<wal::Wal>,
    ingest: Mutex<Ingest>,
    partitions: RwLock<BTreeMap<PartKey, Arc<Partition>>>,
    outside_events: AtomicU64,
    unrepresentable_events: AtomicU64,
    /// `ingest.writers.len()`, readable without the ingest lock.
    open_writers: std::sync::atomic::AtomicUsize,
    checkpoint_seq: AtomicU64,
    /// Set when an event reached the WAL but not its index writer: a
    /// checkpoint would then claim it indexed, so none is taken until reopen.
    broken: AtomicBool,
    background_error: Mutex<Option<String>>,
    _lock: Option<File>,
}

pub struct Store {
    inner: Arc<Inner>,
    recovery: RecoveryReport,
    background: Option<(Sender<()>, JoinHandle<()>)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn day_of(ts_micros: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(ts_micros)
        .unwrap_or_default()
        .date_naive()
}

fn read_checkpoint(path: &Path) -> Result<u64, StoreError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("wal_seq").and_then(|s| s.as_u64()))
            .ok_or_else(|| {
                StoreError::Corrupt(format!("{}: unreadable checkpoint", path.display()))
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Replaces a small file atomically: write aside, fsync, rename, fsync dir.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let dst = dir.join(name);
    let mut f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| StoreError::io(&tmp, e))?;
    f.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    fs::rename(&tmp, &dst).map_err(|e| StoreError::io(&dst, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// Why an event is stored outside its day's partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outside {
    Past,
    Future,
    Unrepresentable,
}

impl Outside {
    fn as_str(self) -> &'static str {
        match self {
            Outside::Past => "past",
            Outside::Future => "future",
            Outside::Unrepresentable => "unrepresentable",
        }
    }
}

/// An event ready to index: timestamp fixed, partition chosen, JSON
/// serialised once (for the WAL and the stored copy).
struct Prepared {
    key: PartKey,
    json: Vec<u8>,
    doc: TantivyDocument,
    outside: Option<Outside>,
}

fn parse_received(ev: &Event) -> Option<DateTime<Utc>> {
    ev.get_str(RECEIVED_FIELD)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl Inner {
    /// Where an event dated `micros` belongs when received at `now`: None
    /// for its own day's partition.
    fn outside_why(&self, micros: i64, now: DateTime<Utc>) -> Option<Outside> {
        if !partition::representable(micros) {
            return Some(Outside::Unrepresentable);
        }
        let day = day_of(micros);
        let today = now.date_naive();
        // A day partition older than the retention cutoff would be dropped
        // by the next retention run: such an event is kept by receipt.
        let cutoff = (now - TimeDelta::days(i64::from(self.config.retention_days))).date_naive();
        let lo = (today - TimeDelta::days(i64::from(self.config.past_days))).max(cutoff);
        let hi = today + TimeDelta::days(i64::from(self.config.future_days));
        if day < lo {
            Some(Outside::Past)
        } else if day > hi {
            Some(Outside::Future)
        } else {
            None
        }
    }

    /// `fresh`: a new event (placement decided now); otherwise a WAL record
    /// being replayed (placement read from the record).
    fn prepare(&self, event: &Event, now: DateTime<Utc>, fresh: bool) -> Prepared {
        let mut owned: Option<Event> = None;
        let received = if fresh {
            if event.contains(RECEIVED_FIELD) {
                let e = owned.get_or_insert_with(|| event.clone());
                if let Some(v) = e.remove(RECEIVED_FIELD) {
                    e.push(SENDER_RECEIVED_FIELD, v);
                }
            }
            None
        } else {
            parse_received(event)
        };
        let own_micros = event.timestamp.map(|t| t.timestamp_micros());
        if own_micros.is_none() {
            // An event without @timestamp is kept under its receipt time.
            owned.get_or_insert_with(|| event.clone()).timestamp = Some(now.fixed_offset());
        }
        let micros = own_micros.unwrap_or_else(|| now.timestamp_micros());
        let (key, ts_micros, outside) = if let Some(r) = received {
            let ts = match own_micros {
                Some(m) if partition::representable(m) => m,
                _ => r.timestamp_micros(),
            };
            (PartKey::Outside(r.date_naive()), ts, None)
        } else if !fresh {
            // Records written before the day window existed: their day.
            let ts = micros.clamp(partition::MIN_TS_MICROS, partition::MAX_TS_MICROS);
            (PartKey::Day(day_of(ts)), ts, None)
        } else {
            match self.outside_why(micros, now) {
                None => (PartKey::Day(day_of(micros)), micros, None),
                Some(why) => {
                    let e = owned.get_or_insert_with(|| event.clone());
                    e.push(
                        RECEIVED_FIELD,
                        now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    );
                    e.push(OUTSIDE_FIELD, why.as_str());
                    let ts = if why == Outside::Unrepresentable {
                        now.timestamp_micros()
                    } else {
                        micros
                    };
                    (PartKey::Outside(now.date_naive()), ts, Some(why))
                }
            }
        };
        let event = owned.as_ref().unwrap_or(event);
        let json = event.to_json_string().into_bytes();
        let doc = partition::document(&self.fields, ts_micros, event, &json);
        Prepared {
            key,
            json,
            doc,
            outside,
        }
    }

    fn partition(&self, key: PartKey) -> Result<Arc<Partition>, StoreError> {
        if let Some(p) = self
            .partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(p.clone());
        }
        let p = Arc::new(Partition::open_or_create(
            &self.root.join("partitions"),
            key,
            self.config.docstore_zstd_level,
        )?);
        self.partitions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, p.clone());
        Ok(p)
    }

    /// Hands records (in sequence order) to their partitions' writers,
    /// grouped by partition: one batch per partition however the records'
    /// times are scattered, so a batch opens each writer at most once.
    /// Any failure marks the store broken: the records are in the WAL, and
    /// a checkpoint must not claim them indexed.
    fn index_batch(
        &self,
        ing: &mut Ingest,
        records: Vec<(u64, Prepared)>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let res = self.index_batch_inner(ing, records, now);
        if res.is_err() {
            self.broken.store(true, Ordering::Release);
        }
        res
    }

    fn index_batch_inner(
        &self,
        ing: &mut Ingest,
        records: Vec<(u64, Prepared)>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (Some(first), Some(last)) = (records.first().map(|r| r.0), records.last().map(|r| r.0))
        else {
            return Ok(());
        };
        let mut groups: Vec<(PartKey, Vec<(u64, TantivyDocument)>)> = Vec::new();
        let mut at: HashMap<PartKey, usize> = HashMap::new();
        for (seq, p) in records {
            let i = *at.entry(p.key).or_insert_with(|| {
                groups.push((p.key, Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push((seq, p.doc));
        }
        ing.pending = groups.iter().map(|(k, _)| *k).collect();
        ing.committed_in_batch = false;
        ing.batch_floor = ing.last_added.max(first.saturating_sub(1));
        ing.last_added = ing.last_added.max(last);
        for (key, docs) in groups {
            self.add_run(ing, key, docs, now)?;
            ing.pending.remove(&key);
        }
        Ok(())
    }

    /// Gives one partition's records of a batch to its writer in one call
    /// (one message to the indexing threads instead of one per document),
    /// opening the writer first if needed.
    fn add_run(
        &self,
        ing: &mut Ingest,
        key: PartKey,
        docs: Vec<(u64, TantivyDocument)>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        ing.tick += 1;
        let tick = ing.tick;
        if !ing.writers.contains_key(&key) {
            if ing.writers.len() >= self.config.max_open_writers.max(1) {
                let lru = ing
                    .writers
                    .iter()
                    .min_by_key(|(_, w)| w.last_used)
                    .map(|(k, _)| *k);
                if let Some(lru) = lru {
                    // Its commit claims every record added so far: the
                    // index must never hold what the WAL could lose, or
                    // events of a batch cut short by a crash would survive.
                    self.wal()?.commit_through(ing.last_added)?;
                    ing.committed_in_batch = true;
                    self.commit_writer(ing, lru)?;
                    ing.writers.remove(&lru);
                }
            }
            let part = self.partition(key)?;
            let today = now.date_naive();
            let hot =
                matches!(key, PartKey::Day(d) if d == today || d + TimeDelta::days(1) == today);
            let writer = if hot {
                part.writer(
                    self.config.writer_threads.max(1),
                    self.config.writer_memory_bytes,
                )?
            } else {
                part.writer(1, self.config.cold_writer_memory_bytes)?
            };
            ing.writers.insert(
                key,
                OpenWriter {
                    writer,
                    last_used: tick,
                    used_at: Instant::now(),
                    hot,
                    dirty: false,
                },
            );
            self.open_writers
                .store(ing.writers.len(), Ordering::Relaxed);
        }
        let seq_field = self.fields.seq;
        let ops: Vec<UserOperation<TantivyDocument>> = docs
            .into_iter()
            .map(|(seq, mut doc)| {
                doc.add_u64(seq_field, seq);
                UserOperation::Add(doc)
            })
            .collect();
        let w = ing
            .writers
            .get_mut(&key)
            .ok_or_else(|| StoreError::Index("writer vanished".into()))?;
        w.last_used = tick;
        w.used_at = Instant::now();
        w.dirty = true;
        w.writer.run(ops)?;
        Ok(())
    }

    /// Commits one partition with the payload "every record up to here that
    /// belongs to this partition is in". Never lowers an earlier payload
    /// (replay can run behind a partition that was committed further).
    fn commit_writer(&self, ing: &mut Ingest, key: PartKey) -> Result<(), StoreError> {
        let claim = if ing.pending.contains(&key) {
            ing.batch_floor
        } else {
            ing.last_added
        };
        if self.broken.load(Ordering::Acquire) {
            // A failed batch may have left documents in the writers.
            return Err(StoreError::Poisoned);
        }
        let upto = claim.max(ing.committed.get(&key).copied().unwrap_or(0));
        let Some(w) = ing.writers.get_mut(&key) else {
            return Ok(());
        };
        if !w.dirty {
            return Ok(());
        }
        let mut prepared = w.writer.prepare_commit()?;
        prepared.set_payload(&serde_json::json!({ "wal_seq": upto }).to_string());
        prepared.commit()?;
        w.dirty = false;
        ing.committed.insert(key, upto);
        if let Some(p) = self
            .partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            p.reader.reload()?;
        }
        Ok(())
    }

    fn wal(&self) -> Result<&wal::Wal, StoreError> {
        self.wal.as_ref().ok_or(StoreError::ReadOnly)
    }

    fn checkpoint_locked(&self, ing: &mut Ingest) -> Result<u64, StoreError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let upto = ing.last_added;
        // The index must never hold what the WAL could lose.
        self.wal()?.commit_through(upto)?;
        let keys: Vec<PartKey> = ing.writers.keys().copied().collect();
        for key in keys {
            self.commit_writer(ing, key)?;
        }
        // Committed above, so closing loses nothing; a backfill that ended
        // gives its memory back.
        ing.writers
            .retain(|_, w| w.hot || w.used_at.elapsed() < IDLE_WRITER);
        self.open_writers
            .store(ing.writers.len(), Ordering::Relaxed);
        if upto > self.checkpoint_seq.load(Ordering::Acquire) {
            write_atomic(
                &self.root,
                "checkpoint.json",
                serde_json::json!({ "wal_seq": upto })
                    .to_string()
                    .as_bytes(),
            )?;
            self.checkpoint_seq.store(upto, Ordering::Release);
        }
        self.wal()?.remove_through(upto)?;
        Ok(upto)
    }

    fn checkpoint(&self) -> Result<u64, StoreError> {
        let mut ing = lock(&self.ingest);
        self.checkpoint_locked(&mut ing)
    }
}

impl Store {
    /// Opens a store for searching only, without its lock, beside the
    /// process that writes it (`taishi search` while `taishi serve` runs).
    /// It sees each partition as of its last index commit: events the writer
    /// has acknowledged but not yet checkpointed (its WAL tail) are not
    /// seen, and nothing is recovered or repaired. Appending, committing,
    /// checkpointing and retention fail with [`StoreError::ReadOnly`].
    pub fn open_read_only(root: impl AsRef<Path>) -> Result<Store, StoreError> {
        let root = root.as_ref().to_path_buf();
        let parts_dir = root.join("partitions");
        let mut partitions = BTreeMap::new();
        let rd = fs::read_dir(&parts_dir).map_err(|e| StoreError::io(&parts_dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io(&parts_dir, e))?;
            let Some(key) = entry.file_name().to_str().and_then(PartKey::parse) else {
                continue;
            };
            // A day the writer is only now creating has no index yet.
            if let Some(p) = Partition::open_existing(&parts_dir, key)? {
                partitions.insert(key, Arc::new(p));
            }
        }
        let checkpoint_seq = read_checkpoint(&root.join("checkpoint.json"))?;
        let (_, fields) = partition::schema();
        let inner = Arc::new(Inner {
            root,
            config: StoreConfig::default(),
            fields,
            wal: None,
            ingest: Mutex::new(Ingest {
                writers: HashMap::new(),
                committed: HashMap::new(),
                last_added: checkpoint_seq,
                pending: HashSet::new(),
                batch_floor: 0,
                committed_in_batch: false,
                tick: 0,
            }),
            partitions: RwLock::new(partitions),
            outside_events: AtomicU64::new(0),
            unrepresentable_events: AtomicU64::new(0),
            open_writers: Default::default(),
            checkpoint_seq: AtomicU64::new(checkpoint_seq),
            broken: AtomicBool::new(true),
            background_error: Mutex::new(None),
            _lock: None,
        });
        Ok(Store {
            inner,
            recovery: RecoveryReport::default(),
            background: None,
        })
    }

    pub fn open(root: impl AsRef<Path>, config: StoreConfig) -> Result<Store, StoreError> {
        let root = root.as_ref().to_path_buf();
        let parts_dir = root.join("partitions");
        fs::create_dir_all(&parts_dir).map_err(|e| StoreError::io(&parts_dir, e))?;
        let lock_path = root.join("LOCK");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        if lock_file.try_lock().is_err() {
            return Err(StoreError::Locked(root));
        }
        let checkpoint_seq = read_checkpoint(&root.join("checkpoint.json"))?;

        let mut partitions = BTreeMap::new();
        let mut committed = HashMap::new();
        let mut max_committed = checkpoint_seq;
        for entry in fs::read_dir(&parts_dir).map_err(|e| StoreError::io(&parts_dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(&parts_dir, e))?;
            let Some(key) = entry.file_name().to_str().and_then(PartKey::parse) else {
                continue;
            };
            let p = Partition::open_or_create(&parts_dir, key, config.docstore_zstd_level)?;
            let seq = p.committed_seq()?;
            max_committed = max_committed.max(seq);
            committed.insert(key, seq);
            partitions.insert(key, Arc::new(p));
        }

        let (wal, wal_report) = wal::Wal::open(
            &root.join("wal"),
            config.wal_segment_bytes,
            max_committed + 1,
        )?;
        let (_, fields) = partition::schema();
        let inner = Arc::new(Inner {
            root,
            config: config.clone(),
            fields,
            wal: Some(wal),
            ingest: Mutex::new(Ingest {
                writers: HashMap::new(),
                committed,
                last_added: checkpoint_seq,
                pending: HashSet::new(),
                batch_floor: 0,
                committed_in_batch: false,
                tick: 0,
            }),
            partitions: RwLock::new(partitions),
            outside_events: AtomicU64::new(0),
            unrepresentable_events: AtomicU64::new(0),
            open_writers: Default::default(),
            checkpoint_seq: AtomicU64::new(checkpoint_seq),
            broken: AtomicBool::new(false),
            background_error: Mutex::new(None),
            _lock: Some(lock_file),
        });

        let mut recovery = RecoveryReport {
            wal: wal_report,
            checkpoint_seq,
            ..Default::default()
        };
        {
            let mut ing = lock(&inner.ingest);
            let now = Utc::now();
            inner.wal()?.replay(checkpoint_seq, |seq, payload| {
                let json: serde_json::Value = serde_json::from_slice(payload)
                    .map_err(|e| StoreError::Corrupt(format!("WAL record {seq}: {e}")))?;
                let event = Event::from_json(json).ok_or_else(|| {
                    StoreError::Corrupt(format!("WAL record {seq}: not an object"))
                })?;
                let prepared = inner.prepare(&event, now, false);
                if seq <= ing.committed.get(&prepared.key).copied().unwrap_or(0) {
                    recovery.already_indexed += 1;
                    ing.last_added = ing.last_added.max(seq);
                } else {
                    inner.index_batch(&mut ing, vec![(seq, prepared)], now)?;
                    recovery.replayed += 1;
                }
                Ok(())
            })?;
            ing.last_added = ing.last_added.max(inner.wal()?.last_seq());
            inner.checkpoint_locked(&mut ing)?;
        }

        let background = config.checkpoint_interval.map(|every| {
            let (tx, rx) = mpsc::channel::<()>();
            let weak: Weak<Inner> = Arc::downgrade(&inner);
            let handle = std::thread::spawn(move || {
                // Ends when the store drops its sender (or is gone).
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    let Some(inner) = weak.upgrade() else { break };
                    let res = inner.checkpoint();
                    *lock(&inner.background_error) = res.err().map(|e| e.to_string());
                }
            });
            (tx, handle)
        });
        Ok(Store {
            inner,
            recovery,
            background,
        })
    }

    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Appends one event; returns its sequence number. Durable (and fit to
    /// acknowledge) only once [`Store::commit`] returns a sequence at or past
    /// it.
    pub fn append(&self, event: &Event) -> Result<u64, StoreError> {
        self.append_batch(std::slice::from_ref(event))
            .map(|r| *r.start())
    }

    /// Appends events under one lock; returns their sequence numbers. All or
    /// nothing: on error none of the events is stored, now or after a
    /// restart, so the sender may send the batch again.
    pub fn append_batch(&self, events: &[Event]) -> Result<RangeInclusive<u64>, StoreError> {
        self.append_batch_received(events, Utc::now())
    }

    /// [`Store::append_batch`] with the receipt time given: which events
    /// are inside the day window depends on it (a test, or an import that
    /// knows when the events were received).
    pub fn append_batch_received(
        &self,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> Result<RangeInclusive<u64>, StoreError> {
        // Serialising and building documents is most of the work; done
        // before taking the lock so concurrent appenders overlap.
        let prepared: Vec<Prepared> = events
            .iter()
            .map(|e| self.inner.prepare(e, now, true))
            .collect();
        let (mut outside, mut unrepresentable) = (0, 0);
        for p in &prepared {
            outside += u64::from(p.outside.is_some());
            unrepresentable += u64::from(p.outside == Some(Outside::Unrepresentable));
        }
        let mut ing = lock(&self.inner.ingest);
        let first = self
            .inner
            .wal()?
            .append_all(prepared.iter().map(|p| p.json.as_slice()))?;
        self.inner
            .outside_events
            .fetch_add(outside, Ordering::Relaxed);
        self.inner
            .unrepresentable_events
            .fetch_add(unrepresentable, Ordering::Relaxed);
        let n = prepared.len() as u64;
        let records = (first..).zip(prepared).collect();
        if let Err(e) = self.inner.index_batch(&mut ing, records, now) {
            // The store is broken now (nothing more is committed to the
            // index); taking the batch out of the log as well means the
            // next open does not bring back a batch reported as failed.
            // Not when a partition committed part of it already: the open
            // must then index the rest (stored twice if the sender retries,
            // never half).
            if !ing.committed_in_batch {
                let _ = self.inner.wal()?.undo_batch(first);
            }
            return Err(e);
        }
        Ok(first..=(first + n).saturating_sub(1).max(first))
    }

    /// Fault injection for tests: the `n`th write to the write-ahead log
    /// from now (1 = the next) writes half its bytes and fails, as on a
    /// full disk.
    #[doc(hidden)]
    pub fn fail_nth_wal_write(&self, n: u64) -> Result<(), StoreError> {
        self.inner.wal()?.fail_nth_write(n);
        Ok(())
    }

    /// Makes every appended event durable (fsync, shared by concurrent
    /// callers); returns the highest durable sequence.
    pub fn commit(&self) -> Result<u64, StoreError> {
        self.inner.wal()?.commit()
    }

    /// Commits the index (see the module documentation): appended events
    /// become searchable and the WAL before them is released.
    pub fn checkpoint(&self) -> Result<u64, StoreError> {
        self.inner.checkpoint()
    }

    /// Checkpoints and closes. Dropping without it is safe (the next open
    /// replays), just slower to reopen.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.stop_background();
        self.inner.checkpoint().map(|_| ())
    }

    fn stop_background(&mut self) {
        if let Some((tx, handle)) = self.background.take() {
            drop(tx);
            let _ = handle.join();
        }
    }

    /// Drops partitions older than the retention period, then the oldest ones
    /// while the store exceeds its size limit.
    pub fn apply_retention(&self, now: DateTime<Utc>) -> Result<RetentionReport, StoreError> {
        let inner = &self.inner;
        inner.wal()?;
        let mut ing = lock(&inner.ingest);
        inner.checkpoint_locked(&mut ing)?;
        let cutoff = (now - TimeDelta::days(i64::from(inner.config.retention_days))).date_naive();
        let latest = now.date_naive() + TimeDelta::days(i64::from(inner.config.future_days));
        // Age counts from receipt, never from what a sender wrote: an
        // `outside` partition's is its receipt day. A day partition takes
        // events dated up to `past_days` before their receipt day, so the
        // last day it can have received anything is its day + `past_days`:
        // that is its age (every event in it is kept the full period from
        // when it came; the store holds up to `past_days` more days for it).
        // A day partition dated after the window can only be from before
        // the window existed: its age is its last write.
        let past = TimeDelta::days(i64::from(inner.config.past_days));
        let mut parts: Vec<(NaiveDate, PartKey, Arc<Partition>)> = inner
            .partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, p)| {
                let age = match k {
                    PartKey::Day(d) if *d > latest => p
                        .modified()
                        .map(|t| DateTime::<Utc>::from(t).date_naive())
                        .unwrap_or(now.date_naive()),
                    PartKey::Day(d) => *d + past,
                    _ => k.date(),
                };
                (age, *k, p.clone())
            })
            .collect();
        parts.sort_by_key(|(age, k, _)| (*age, *k));
        let mut total: u64 = parts.iter().map(|(_, _, p)| p.disk_bytes()).sum();
        let mut report = RetentionReport::default();
        let n = parts.len();
        for (i, (age, key, p)) in parts.into_iter().enumerate() {
            let too_old = age < cutoff;
            let too_big = inner.config.max_bytes.is_some_and(|max| total > max) && i + 1 < n;
            if !too_old && !too_big {
                break;
            }
            let bytes = p.disk_bytes();
            ing.writers.remove(&key);
            ing.committed.remove(&key);
            inner
                .open_writers
                .store(ing.writers.len(), Ordering::Relaxed);
            inner
                .partitions
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            fs::remove_dir_all(&p.path).map_err(|e| StoreError::io(&p.path, e))?;
            total = total.saturating_sub(bytes);
            report.bytes_freed += bytes;
            report.dropped.push(key.date());
        }
        Ok(report)
    }

    /// The partitions a range touches: its days' partitions newest first
    /// (disjoint, so their order is the time order), then the `outside`
    /// partitions holding a time in the range.
    fn partitions_in(&self, range: &TimeRange) -> Vec<Arc<Partition>> {
        if range.to <= range.from {
            return Vec::new();
        }
        let first = range.from.date_naive();
        let last = (range.to - TimeDelta::microseconds(1)).date_naive();
        let (from, to) = (
            partition::clamp_ts(range.from.timestamp_micros()),
            partition::clamp_ts(range.to.timestamp_micros()),
        );
        let parts = self
            .inner
            .partitions
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Arc<Partition>> = parts
            .range(PartKey::Day(first)..=PartKey::Day(last))
            .rev()
            .map(|(_, p)| p.clone())
            .collect();
        out.extend(
            parts
                .range(PartKey::Outside(NaiveDate::MIN)..)
                .filter(|(_, p)| {
                    Partition::ts_bounds(&p.reader.searcher())
                        .is_some_and(|(lo, hi)| hi >= from && lo < to)
                })
                .map(|(_, p)| p.clone()),
        );
        out
    }

    fn query_for(
        &self,
        compiler: &query::Compiler<'_>,
        filter: &Filter,
        range: &TimeRange,
    ) -> Result<Box<dyn Query>, StoreError> {
        compiler
            .budget
            .admit(filter, compiler.searcher.num_docs())?;
        let f = compiler.compile(filter)?;
        compiler.budget.check()?;
        Ok(Box::new(budget::BudgetQuery {
            inner: Box::new(BooleanQuery::new(vec![
                (Occur::Must, compiler.time_range(range)),
                (Occur::Must, f),
            ])),
            budget: compiler.budget.clone(),
        }))
    }

    /// Matching events, newest first, with the total count.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResult, StoreError> {
        self.search_with(req, &Budget::unlimited())
    }

    /// [`Store::search`] within a budget: stopped (with an error) when the
    /// deadline passes or the search is cancelled, refused when it would need
    /// more memory than the budget allows.
    pub fn search_with(
        &self,
        req: &SearchRequest,
        budget: &Budget,
    ) -> Result<SearchResult, StoreError> {
        let parts = self.partitions_in(&req.range);
        if parts.iter().any(|p| matches!(p.key, PartKey::Outside(_))) {
            return self.search_merged(req, &parts, budget);
        }
        let fields = self.inner.fields;
        let mut total = 0u64;
        let mut hits = Vec::new();
        let want_end = req.offset.saturating_add(req.limit);
        for p in parts {
            budget.check()?;
            let searcher = p.reader.searcher();
            let compiler = query::Compiler {
                fields,
                searcher: &searcher,
                budget,
            };
            let q = self.query_for(&compiler, &req.filter, &req.range)?;
            // Partitions are disjoint days visited newest first, so the
            // global order is the concatenation of each one's order.
            let seen = usize::try_from(total).unwrap_or(usize::MAX);
            let start = req.offset.saturating_sub(seen);
            let end = want_end.saturating_sub(seen);
            if end > start {
                let top = TopDocs::with_limit(end - start)
                    .and_offset(start)
                    .order_by_fast_field::<tantivy::DateTime>("ts", Order::Desc);
                let (count, docs) = searcher.search(&q, &(Count, top))?;
                budget.check()?;
                total += count as u64;
                for (i, (_, addr)) in docs.into_iter().enumerate() {
                    if i % 256 == 255 {
                        budget.check()?;
                    }
                    hits.push(self.hit(&searcher, addr)?);
                }
            } else {
                total += searcher.search(&q, &Count)? as u64;
                budget.check()?;
            }
        }
        Ok(SearchResult { total, hits })
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        addr: tantivy::DocAddress,
    ) -> Result<Hit, StoreError> {
        let fields = self.inner.fields;
        let doc: TantivyDocument = searcher.doc(addr)?;
        let seq = doc
            .get_first(fields.seq)
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let bytes = doc
            .get_first(fields.doc)
            .and_then(|v| v.as_bytes())
            .unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| StoreError::Corrupt(format!("stored event {seq}: {e}")))?;
        let event = Event::from_json(json)
            .ok_or_else(|| StoreError::Corrupt(format!("stored event {seq}: not an object")))?;
        Ok(Hit { seq, event })
    }

    /// Search over partitions whose times overlap (`outside` ones): each
    /// gives its newest `offset + limit`, merged by time.
    fn search_merged(
        &self,
        req: &SearchRequest,
        parts: &[Arc<Partition>],
        budget: &Budget,
    ) -> Result<SearchResult, StoreError> {
        let want_end = req.offset.saturating_add(req.limit);
        let mut total = 0u64;
        let mut searchers = Vec::with_capacity(parts.len());
        let mut cands: Vec<(i64, usize, tantivy::DocAddress)> = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            budget.check()?;
            let searcher = p.reader.searcher();
            let compiler = query::Compiler {
                fields: self.inner.fields,
                searcher: &searcher,
                budget,
            };
            let q = self.query_for(&compiler, &req.filter, &req.range)?;
            if want_end > 0 {
                let top = TopDocs::with_limit(want_end)
                    .order_by_fast_field::<tantivy::DateTime>("ts", Order::Desc);
                let (count, docs) = searcher.search(&q, &(Count, top))?;
                budget.check()?;
                total += count as u64;
                cands.extend(
                    docs.into_iter()
                        .map(|(t, a)| (t.map_or(i64::MIN, |t| t.into_timestamp_micros()), i, a)),
                );
            } else {
                total += searcher.search(&q, &Count)? as u64;
            }
            searchers.push(searcher);
        }
        // Newest first; equal times keep the partitions' order.
        cands.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let hits = cands
            .into_iter()
            .skip(req.offset)
            .take(req.limit)
            .map(|(_, i, addr)| {
                budget.check()?;
                self.hit(&searchers[i], addr)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SearchResult { total, hits })
    }

    /// Number of matching events.
    pub fn count(&self, filter: &Filter, range: TimeRange) -> Result<u64, StoreError> {
        self.count_with(filter, range, &Budget::unlimited())
    }

    /// [`Store::count`] within a budget.
    pub fn count_with(
        &self,
        filter: &Filter,
        range: TimeRange,
        budget: &Budget,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        for p in self.partitions_in(&range) {
            budget.check()?;
            let searcher = p.reader.searcher();
            let compiler = query::Compiler {
                fields: self.inner.fields,
                searcher: &searcher,
                budget,
            };
            total += searcher.search(&*self.query_for(&compiler, filter, &range)?, &Count)? as u64;
            budget.check()?;
        }
        Ok(total)
    }

    pub fn aggregate(
        &self,
        filter: &Filter,
        range: TimeRange,
        agg: &Aggregation,
    ) -> Result<AggResult, StoreError> {
        self.aggregate_with(filter, range, agg, &Budget::unlimited())
    }

    /// [`Store::aggregate`] within a budget.
    pub fn aggregate_with(
        &self,
        filter: &Filter,
        range: TimeRange,
        agg: &Aggregation,
        budget: &Budget,
    ) -> Result<AggResult, StoreError> {
        let req = agg::request(agg, &range)?;
        let mut merged: Option<
            tantivy::aggregation::intermediate_agg_result::IntermediateAggregationResults,
        > = None;
        // Aggregation buckets count against the same memory cap as the query.
        let limits = || AggregationLimitsGuard::new(budget.max_bytes(), None);
        for p in self.partitions_in(&range) {
            budget.check()?;
            let searcher = p.reader.searcher();
            let compiler = query::Compiler {
                fields: self.inner.fields,
                searcher: &searcher,
                budget,
            };
            let q = self.query_for(&compiler, filter, &range)?;
            let ctx = AggContextParams::new(limits(), p.index.tokenizers().clone());
            let collector = DistributedAggregationCollector::from_aggs(req.clone(), ctx);
            let fruit = searcher.search(&*q, &collector)?;
            budget.check()?;
            match &mut merged {
                None => merged = Some(fruit),
                Some(m) => m.merge_fruits(fruit)?,
            }
        }
        let Some(merged) = merged else {
            return Ok(agg::empty_result(agg, &range));
        };
        let res = merged.into_final_result(req, limits())?;
        agg::read_result(agg, &res)
    }

    /// The kinds of values `field` holds in the partitions of `range` (to
    /// choose how to aggregate it).
    pub fn field_kinds(&self, field: &str, range: TimeRange) -> Result<ValueKinds, StoreError> {
        let mut out = ValueKinds::default();
        for p in self.partitions_in(&range) {
            let searcher = p.reader.searcher();
            let unlimited = Budget::unlimited();
            let compiler = query::Compiler {
                fields: self.inner.fields,
                searcher: &searcher,
                budget: &unlimited,
            };
            let k = compiler.kinds_present(field)?;
            out.strings |= k.strings;
            out.numbers |= k.numbers;
            out.bools |= k.bools;
        }
        Ok(out)
    }

    pub fn stats(&self) -> StoreStats {
        let parts: Vec<PartitionStats> = self
            .inner
            .partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|p| PartitionStats {
                day: p.key.date(),
                outside: matches!(p.key, PartKey::Outside(_)),
                events: p.reader.searcher().num_docs(),
                bytes: p.disk_bytes(),
            })
            .collect();
        let events = parts.iter().map(|p| p.events).sum::<u64>();
        let index_bytes = parts.iter().map(|p| p.bytes).sum::<u64>();
        StoreStats {
            events,
            index_bytes,
            wal_bytes: self.inner.wal.as_ref().map_or(0, |w| w.disk_bytes()),
            bytes_per_event: if events == 0 {
                0.0
            } else {
                index_bytes as f64 / events as f64
            },
            partitions: parts,
            last_seq: self.inner.wal.as_ref().map_or(0, |w| w.last_seq()),
            durable_seq: self.inner.wal.as_ref().map_or(0, |w| w.durable_seq()),
            checkpoint_seq: self.inner.checkpoint_seq.load(Ordering::Acquire),
            last_background_error: lock(&self.inner.background_error).clone(),
            outside_events: self.inner.outside_events.load(Ordering::Relaxed),
            unrepresentable_events: self.inner.unrepresentable_events.load(Ordering::Relaxed),
            open_writers: self.inner.open_writers.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop_background();
    }
}
