//! Where an import comes from: a file, a folder, or a URL; formats detected
//! from the content unless given.

use std::path::{Path, PathBuf};

use crate::import::{self, misp, Batch, Format};
use crate::limits::{self, GunzipError, LimitExceeded, LimitKind, Limits};
use crate::store::{ImportMode, ImportReport, IndicatorStore};
use crate::taxii::Http;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    Url(String),
}

impl Source {
    pub fn parse(s: &str) -> Source {
        if s.starts_with("http://") || s.starts_with("https://") {
            Source::Url(s.to_string())
        } else {
            Source::Path(PathBuf::from(s))
        }
    }

    /// The default source name: the file or folder name, or the URL's last
    /// path segment (with its host).
    pub fn default_name(&self) -> String {
        match self {
            Source::Path(p) => {
                let p = if p.file_name().is_some_and(|n| n == "manifest.json") {
                    p.parent().unwrap_or(p)
                } else {
                    p
                };
                p.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| p.display().to_string())
            }
            Source::Url(u) => {
                let rest = u.split_once("://").map_or(u.as_str(), |(_, r)| r);
                let host = rest.split('/').next().unwrap_or(rest);
                let last = rest
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .filter(|l| *l != host && *l != "manifest.json")
                    .unwrap_or("");
                if last.is_empty() {
                    host.to_string()
                } else {
                    format!("{host}/{last}")
                }
            }
        }
    }
}

/// What reading a source gave: indicators (with errors) and any
/// warninglists found among its files.
#[derive(Debug, Default)]
pub struct Read {
    pub batch: Batch,
    pub formats: Vec<Format>,
    pub warninglists: Vec<(String, Vec<u8>)>,
    /// The first limit passed: the read stopped there, and what it holds
    /// must not replace a source's data.
    pub limit: Option<LimitExceeded>,
}

impl Read {
    fn over_limit(&mut self, e: LimitExceeded) {
        self.batch.error(e.entry.clone(), e.to_string());
        self.limit.get_or_insert(e);
    }

    /// Unpacks a gzip body within the limit; None (recorded) when it
    /// cannot be.
    fn gunzip(&mut self, entry: &str, data: Vec<u8>, lim: &Limits) -> Option<Vec<u8>> {
        if !limits::is_gzip(&data) {
            return Some(data);
        }
        match limits::gunzip_bounded(entry, &data, lim.max_bytes) {
            Ok(d) => Some(d),
            Err(GunzipError::Limit(e)) => {
                self.over_limit(e);
                None
            }
            Err(GunzipError::Corrupt(e)) => {
                self.batch.error(entry, e);
                None
            }
        }
    }
}

fn read_file(path: &Path, format: Option<&Format>, source: &str, out: &mut Read, lim: &Limits) {
    let entry = path.display().to_string();
    if let Ok(m) = std::fs::metadata(path) {
        if m.len() > lim.max_bytes {
            out.over_limit(LimitExceeded {
                entry,
                kind: LimitKind::Download,
                limit: lim.max_bytes,
            });
            return;
        }
    }
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            out.batch.error(entry, e.to_string());
            return;
        }
    };
    let Some(data) = out.gunzip(&entry, data, lim) else {
        return;
    };
    let fmt = match format.cloned().or_else(|| import::detect(&entry, &data)) {
        Some(f) => f,
        None => {
            out.batch
                .error(entry, "format not recognised (give --format)");
            return;
        }
    };
    match fmt {
        Format::Warninglist => out.warninglists.push((entry, data)),
        Format::MispFeed => {
            let dir = path.parent().unwrap_or(Path::new("."));
            out.batch.extend(misp::read_feed_dir(dir, source));
        }
        ref f => out.batch.extend(import::parse(f, &entry, source, &data)),
    }
    if !out.formats.contains(&fmt) {
        out.formats.push(fmt);
    }
}

/// Reads a source without storing it, within the default [`Limits`].
pub fn read_source(src: &Source, format: Option<&Format>, source_name: &str) -> Read {
    read_source_with(src, format, source_name, &Limits::default())
}

/// Reads a source without storing it. Past a limit the read stops and
/// [`Read::limit`] says which.
pub fn read_source_with(
    src: &Source,
    format: Option<&Format>,
    source_name: &str,
    lim: &Limits,
) -> Read {
    let mut out = read_unchecked(src, format, source_name, lim);
    let n = out.batch.indicators.len();
    if n > lim.max_indicators && out.limit.is_none() {
        let entry = match src {
            Source::Path(p) => p.display().to_string(),
            Source::Url(u) => u.clone(),
        };
        out.batch.indicators = Vec::new();
        out.over_limit(LimitExceeded {
            entry,
            kind: LimitKind::Indicators,
            limit: lim.max_indicators as u64,
        });
    }
    out
}

fn read_unchecked(src: &Source, format: Option<&Format>, source_name: &str, lim: &Limits) -> Read {
    let mut out = Read::default();
    match src {
        Source::Path(p) if p.is_dir() => {
            if p.join("manifest.json").is_file() && format.is_none_or(|f| *f == Format::MispFeed) {
                out.batch.extend(misp::read_feed_dir(p, source_name));
                out.formats.push(Format::MispFeed);
                return out;
            }
            let mut files: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file())
                    .collect(),
                Err(e) => {
                    out.batch.error(p.display().to_string(), e.to_string());
                    return out;
                }
            };
            files.sort();
            for f in files {
                read_file(&f, format, source_name, &mut out, lim);
                if out.limit.is_some() {
                    break;
                }
            }
        }
        Source::Path(p) => read_file(p, format, source_name, &mut out, lim),
        Source::Url(u) => {
            let http = Http::for_limits(lim);
            let fmt_is_feed = format == Some(&Format::MispFeed) || u.ends_with("manifest.json");
            if fmt_is_feed {
                let base = u
                    .trim_end_matches("manifest.json")
                    .trim_end_matches('/')
                    .to_string();
                out.batch
                    .extend(crate::feeds::pull_misp_feed(&http, &base, source_name));
                out.formats.push(Format::MispFeed);
                return out;
            }
            match http.get(u, &[]) {
                Ok(r) if r.status == 200 => {
                    let Some(data) = out.gunzip(u, r.body, lim) else {
                        return out;
                    };
                    match format.cloned().or_else(|| import::detect(u, &data)) {
                        Some(Format::Warninglist) => out.warninglists.push((u.clone(), data)),
                        Some(f) => {
                            out.batch.extend(import::parse(&f, u, source_name, &data));
                            out.formats.push(f);
                        }
                        None => out.batch.error(u, "format not recognised (give --format)"),
                    }
                }
                Ok(r) => out.batch.error(u, format!("HTTP {}", r.status)),
                Err(crate::taxii::FetchError::Limit(l)) => out.over_limit(l),
                Err(e) => out.batch.error(u, e.to_string()),
            }
        }
    }
    out
}

/// Reads a source and stores it as `name` (default: [`Source::default_name`]),
/// replacing that source's earlier data. Warninglists found are installed.
pub fn import_source(
    store: &mut IndicatorStore,
    src: &Source,
    format: Option<&Format>,
    name: Option<&str>,
) -> Result<ImportReport, crate::StoreError> {
    import_source_with(store, src, format, name, &Limits::default())
}

/// [`import_source`] within `lim`: a source past a limit is refused whole
/// ([`crate::StoreError::Limit`]) and the source's earlier data stays.
pub fn import_source_with(
    store: &mut IndicatorStore,
    src: &Source,
    format: Option<&Format>,
    name: Option<&str>,
    lim: &Limits,
) -> Result<ImportReport, crate::StoreError> {
    let name = name.map_or_else(|| src.default_name(), str::to_string);
    let read = read_source_with(src, format, &name, lim);
    if let Some(e) = read.limit {
        return Err(e.into());
    }
    let mut extra = Vec::new();
    for (entry, data) in &read.warninglists {
        match store.add_warninglist(data) {
            Ok((_, errs)) => extra.extend(errs.into_iter().map(|e| crate::ImportError {
                entry: entry.clone(),
                reason: e,
            })),
            Err(e) => extra.push(crate::ImportError {
                entry: entry.clone(),
                reason: e.to_string(),
            }),
        }
    }
    if read.batch.indicators.is_empty() && !read.warninglists.is_empty() {
        return Ok(crate::ImportReport {
            source: format!("warninglists ({})", read.warninglists.len()),
            rejected: [read.batch.errors, extra].concat(),
            ..Default::default()
        });
    }
    let origin = match src {
        Source::Path(p) => p.display().to_string(),
        Source::Url(u) => u.clone(),
    };
    let fmt: Vec<&str> = read.formats.iter().map(Format::name).collect();
    let mut r = store.import(
        &name,
        read.batch,
        ImportMode::Replace,
        Some(&origin),
        Some(&fmt.join(",")),
    )?;
    r.rejected.extend(extra);
    Ok(r)
}
