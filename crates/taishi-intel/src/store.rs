//! The persistent indicator store: one JSON-lines file per source under
//! `<dir>/sources/`, written whole and renamed into place, so a source's
//! data is always the complete result of one import.
//!
//! A file per source makes "a feed's update replaces that feed's earlier
//! data" one atomic rename, and loading is a sequential read streamed into
//! the matcher (1 M indicators in about a second) without a database.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::import::Batch;
use crate::matcher::{Matcher, MatcherBuilder};
use crate::model::{ImportError, Indicator, IndicatorKey};
use crate::warninglist::{Warninglist, Warninglists};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Corrupt {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
    /// A feed or import passed one of its [`crate::Limits`].
    #[error(transparent)]
    Limit(#[from] crate::LimitExceeded),
    /// A feed could not be fetched; its kind says whether a later pull may
    /// succeed.
    #[error(transparent)]
    Fetch(#[from] crate::taxii::FetchError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// How an import relates to the source's earlier data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// The input is the source's whole current list (a feed download, a
    /// file): indicators missing from it are removed.
    Replace,
    /// The input adds to the source (a TAXII poll with `added_after`, a MISP
    /// search since the last pull): same keys are updated, STIX revocations
    /// remove, nothing else is removed.
    Merge,
}

/// What an import changed.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub source: String,
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub removed: u64,
    /// Records of the input that were duplicates of another record (same
    /// type, value and conditions) and were merged into it.
    pub merged_duplicates: u64,
    /// The source's indicator count after the import.
    pub total: u64,
    /// Every entry that could not be used, with the reason.
    pub rejected: Vec<ImportError>,
    /// Entries read but not matched on (by kind).
    pub ignored: BTreeMap<String, u64>,
    /// Indicators that did not exist before: what a retro-hunt looks for.
    #[serde(skip)]
    pub new_indicators: Vec<Indicator>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceMeta {
    pub indicators: u64,
    pub updated: Option<DateTime<Utc>>,
    /// Where it came from (a path or URL) and in what format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    sources: BTreeMap<String, SourceMeta>,
}

/// Indicators on disk, by source.
#[derive(Debug)]
pub struct IndicatorStore {
    dir: PathBuf,
    state: State,
}

impl IndicatorStore {
    /// Opens (creating) the store in `dir` (`taishi serve` and the CLI use
    /// `<data>/intel`).
    pub fn open(dir: impl AsRef<Path>) -> Result<IndicatorStore, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        for d in [dir.clone(), dir.join("sources"), dir.join("warninglists")] {
            fs::create_dir_all(&d).map_err(io(&d))?;
        }
        let state = read_state(&dir)?;
        Ok(IndicatorStore { dir, state })
    }

    /// Re-reads the source list from disk; `true` when another process
    /// (`taishi intel import` beside `taishi serve`, or the server beside
    /// the CLI) changed it since this store last read or wrote it.
    pub fn refresh(&mut self) -> Result<bool, StoreError> {
        let state = read_state(&self.dir)?;
        if state == self.state {
            return Ok(false);
        }
        self.state = state;
        Ok(true)
    }

    /// Holds `<dir>/LOCK` (an advisory lock every process that writes the
    /// store takes) and re-reads the source list under it, so a change
    /// starts from what is on disk: without it, a process holding an old
    /// list would write it back and drop the sources another process
    /// imported meanwhile. Released when the returned file is dropped.
    fn write_lock(&mut self) -> Result<File, StoreError> {
        let p = self.dir.join("LOCK");
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io(&p))?;
        f.lock().map_err(io(&p))?;
        self.refresh()?;
        Ok(f)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn sources(&self) -> &BTreeMap<String, SourceMeta> {
        &self.state.sources
    }

    fn source_path(&self, source: &str) -> PathBuf {
        let safe: String = source
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        // Distinct names that sanitise alike get distinct files.
        let tag = fnv(source.as_bytes());
        self.dir
            .join("sources")
            .join(format!("{safe}-{tag:08x}.jsonl"))
    }

    /// Calls `f` with each stored indicator of `source`.
    pub fn for_each(&self, source: &str, f: &mut dyn FnMut(Indicator)) -> Result<(), StoreError> {
        let p = self.source_path(source);
        let file = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(&p)(e)),
        };
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut line = String::new();
        let mut no = 0;
        loop {
            line.clear();
            no += 1;
            if r.read_line(&mut line).map_err(io(&p))? == 0 {
                return Ok(());
            }
            if line.trim().is_empty() {
                continue;
            }
            let ind: Indicator = serde_json::from_str(&line).map_err(|e| StoreError::Corrupt {
                path: p.display().to_string(),
                line: no,
                reason: e.to_string(),
            })?;
            f(ind);
        }
    }

    pub fn indicators(&self, source: &str) -> Result<Vec<Indicator>, StoreError> {
        let mut v = Vec::new();
        self.for_each(source, &mut |i| v.push(i))?;
        Ok(v)
    }

    /// Every indicator of every source.
    pub fn all(&self) -> Result<Vec<Indicator>, StoreError> {
        let mut v = Vec::new();
        for s in self.state.sources.keys() {
            self.for_each(s, &mut |i| v.push(i))?;
        }
        Ok(v)
    }

    /// Stores a batch as `source`'s data. Rejected entries of the batch are
    /// carried into the report.
    pub fn import(
        &mut self,
        source: &str,
        batch: Batch,
        mode: ImportMode,
        origin: Option<&str>,
        format: Option<&str>,
    ) -> Result<ImportReport, StoreError> {
        if source.is_empty() {
            return Err(StoreError::Invalid("a source needs a name".into()));
        }
        let _lock = self.write_lock()?;
        let mut report = ImportReport {
            source: source.to_string(),
            rejected: batch.errors,
            ignored: batch.ignored,
            ..Default::default()
        };
        let mut old: HashMap<IndicatorKey, Indicator> = HashMap::new();
        self.for_each(source, &mut |i| {
            old.insert(i.key(), i);
        })?;
        // The batch, duplicates merged.
        let mut new: HashMap<IndicatorKey, Indicator> =
            HashMap::with_capacity(batch.indicators.len());
        let mut order: Vec<IndicatorKey> = Vec::with_capacity(batch.indicators.len());
        for mut i in batch.indicators {
            i.source = source.to_string();
            let k = i.key();
            match new.get_mut(&k) {
                Some(e) => {
                    e.merge(i);
                    report.merged_duplicates += 1;
                }
                None => {
                    order.push(k.clone());
                    new.insert(k, i);
                }
            }
        }
        let mut out: Vec<Indicator> = Vec::with_capacity(new.len() + old.len());
        for k in &order {
            let Some(mut i) = new.remove(k) else { continue };
            match old.remove(k) {
                Some(prev) => {
                    // First sighting is the earliest anyone reported.
                    i.first_seen = match (prev.first_seen, i.first_seen) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    if prev == i {
                        report.unchanged += 1;
                    } else {
                        report.updated += 1;
                    }
                }
                None => {
                    report.added += 1;
                    report.new_indicators.push(i.clone());
                }
            }
            out.push(i);
        }
        match mode {
            ImportMode::Replace => report.removed = old.len() as u64,
            ImportMode::Merge => {
                let revoked: std::collections::HashSet<&str> =
                    batch.revoked.iter().map(String::as_str).collect();
                let mut kept: Vec<Indicator> = old.into_values().collect();
                kept.sort_by(|a, b| (a.kind, &a.value).cmp(&(b.kind, &b.value)));
                for i in kept {
                    if i.id.as_deref().is_some_and(|id| revoked.contains(id)) {
                        report.removed += 1;
                    } else {
                        out.push(i);
                    }
                }
            }
        }
        report.total = out.len() as u64;
        self.write_source(source, &out)?;
        let meta = self.state.sources.entry(source.to_string()).or_default();
        meta.indicators = report.total;
        meta.updated = Some(Utc::now());
        if let Some(o) = origin {
            meta.origin = Some(o.to_string());
        }
        if let Some(f) = format {
            meta.format = Some(f.to_string());
        }
        self.save_state()?;
        Ok(report)
    }

    /// Deletes a source and its indicators; returns how many there were.
    pub fn remove_source(&mut self, source: &str) -> Result<u64, StoreError> {
        let _lock = self.write_lock()?;
        let Some(meta) = self.state.sources.remove(source) else {
            return Err(StoreError::Invalid(format!("no source named {source:?}")));
        };
        let p = self.source_path(source);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p)(e)),
        }
        self.save_state()?;
        Ok(meta.indicators)
    }

    fn write_source(&self, source: &str, inds: &[Indicator]) -> Result<(), StoreError> {
        let p = self.source_path(source);
        let tmp = p.with_extension("jsonl.tmp");
        {
            let f = File::create(&tmp).map_err(io(&tmp))?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            for i in inds {
                serde_json::to_writer(&mut w, i).map_err(|e| StoreError::Invalid(e.to_string()))?;
                w.write_all(b"\n").map_err(io(&tmp))?;
            }
            let f = w.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &p).map_err(io(&p))?;
        sync_dir(&p);
        Ok(())
    }

    fn save_state(&self) -> Result<(), StoreError> {
        let p = self.dir.join("state.json");
        let tmp = self.dir.join("state.json.tmp");
        let data = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&data).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &p).map_err(io(&p))?;
        sync_dir(&p);
        Ok(())
    }

    /// Installs a MISP warninglist (validated first) under
    /// `<dir>/warninglists/`.
    pub fn add_warninglist(&self, data: &[u8]) -> Result<(String, Vec<String>), StoreError> {
        let (w, errors) =
            Warninglist::from_json(data).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let name: String = w
            .name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let p = self.dir.join("warninglists").join(format!("{name}.json"));
        fs::write(&p, data).map_err(io(&p))?;
        Ok((w.name, errors))
    }

    /// The built-in lists plus every installed MISP list; problems in
    /// installed lists are returned beside them.
    pub fn warninglists(&self) -> Result<(Warninglists, Vec<String>), StoreError> {
        let mut all = Warninglists::builtin();
        let (installed, errors) = Warninglists::load(&self.dir.join("warninglists"))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        all.lists.extend(installed.lists);
        Ok((all, errors))
    }

    /// Builds the matcher from every source, streaming from disk.
    pub fn load_matcher(&self) -> Result<Matcher, StoreError> {
        let (lists, _) = self.warninglists()?;
        let mut b = MatcherBuilder::new(lists);
        for s in self.state.sources.keys() {
            self.for_each(s, &mut |i| b.add(&i))?;
        }
        Ok(b.build())
    }
}

/// The source list as `state.json` holds it (empty when there is none).
fn read_state(dir: &Path) -> Result<State, StoreError> {
    let sp = dir.join("state.json");
    match fs::read(&sp) {
        Ok(d) => serde_json::from_slice(&d).map_err(|e| StoreError::Corrupt {
            path: sp.display().to_string(),
            line: 1,
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(io(&sp)(e)),
    }
}

fn sync_dir(p: &Path) {
    if let Some(d) = p.parent() {
        if let Ok(f) = File::open(d) {
            let _ = f.sync_all();
        }
    }
}

fn fnv(b: &[u8]) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for x in b {
        h ^= u32::from(*x);
        h = h.wrapping_mul(0x01000193);
    }
    h
}
