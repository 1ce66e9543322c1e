//! Scheduled feeds (`<intel dir>/feeds.json`): what to pull, how often,
//! and where the last incremental pull stopped.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::import::{misp, stix, Batch, Format};
use crate::limits::Limits;
use crate::source::{read_source_with, Source};
use crate::store::{ImportMode, ImportReport, IndicatorStore, StoreError};
use crate::taxii::{Auth, FetchError, Http, TaxiiClient};

/// How a feed is pulled:
///
/// - `url`: a file at a URL (abuse.ch lists, STIX bundles, CSV…); each pull
///   replaces the feed's data;
/// - `misp-feed`: a MISP feed (`manifest.json` + event files); replaces;
/// - `taxii`: a TAXII 2.1 collection URL; incremental (`added_after`);
/// - `misp-rest`: a MISP instance's `attributes/restSearch`; incremental
///   (timestamp).
///
/// (Said here rather than on each variant, so that the schema is a plain
/// `enum`, which `scripts/gen-types` turns into the console's list of kinds.)
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedKind {
    Url,
    MispFeed,
    Taxii,
    MispRest,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feed {
    pub name: String,
    pub kind: FeedKind,
    pub url: String,
    /// Format for `url` feeds (detected when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Seconds between pulls.
    pub interval_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pull: Option<DateTime<Utc>>,
    /// TAXII `added_after` / MISP timestamp for the next incremental pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Feed {
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.last_pull
            .is_none_or(|l| (now - l).num_seconds() >= self.interval_secs as i64)
    }
}

/// The feed list of an indicator store.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Feeds {
    pub feeds: Vec<Feed>,
    #[serde(skip)]
    path: PathBuf,
    /// What one pull may download, inflate and bring.
    #[serde(skip)]
    pub limits: Limits,
}

impl Feeds {
    pub fn load(intel_dir: &Path) -> Result<Feeds, StoreError> {
        let path = intel_dir.join("feeds.json");
        let mut f: Feeds = match std::fs::read(&path) {
            Ok(d) => serde_json::from_slice(&d).map_err(|e| StoreError::Corrupt {
                path: path.display().to_string(),
                line: 1,
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Feeds::default(),
            Err(e) => {
                return Err(StoreError::Io {
                    path: path.display().to_string(),
                    source: e,
                })
            }
        };
        f.path = path;
        Ok(f)
    }

    pub fn save(&self) -> Result<(), StoreError> {
        let tmp = self.path.with_extension("json.tmp");
        let data =
            serde_json::to_vec_pretty(self).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let ioerr = |e| StoreError::Io {
            path: self.path.display().to_string(),
            source: e,
        };
        std::fs::write(&tmp, data).map_err(ioerr)?;
        std::fs::rename(&tmp, &self.path).map_err(|e| StoreError::Io {
            path: self.path.display().to_string(),
            source: e,
        })
    }

    pub fn add(&mut self, feed: Feed) -> Result<(), StoreError> {
        if self.feeds.iter().any(|f| f.name == feed.name) {
            return Err(StoreError::Invalid(format!(
                "a feed named {:?} exists",
                feed.name
            )));
        }
        self.feeds.push(feed);
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> Option<Feed> {
        let i = self.feeds.iter().position(|f| f.name == name)?;
        Some(self.feeds.remove(i))
    }

    /// Pulls one feed into the store and records the outcome on the feed.
    pub fn pull(
        &mut self,
        store: &mut IndicatorStore,
        name: &str,
    ) -> Result<ImportReport, StoreError> {
        let i = self
            .feeds
            .iter()
            .position(|f| f.name == name)
            .ok_or_else(|| StoreError::Invalid(format!("no feed named {name:?}")))?;
        let feed = self.feeds[i].clone();
        let result = pull_feed(store, &feed, &self.limits);
        self.record(i, &result)?;
        result.map(|(r, _)| r)
    }

    /// Like `pull`, for a store shared between threads: the download runs
    /// without the store's lock, which is taken only to store the result.
    pub fn pull_shared(
        &mut self,
        store: &std::sync::Mutex<IndicatorStore>,
        name: &str,
    ) -> Result<ImportReport, StoreError> {
        let i = self
            .feeds
            .iter()
            .position(|f| f.name == name)
            .ok_or_else(|| StoreError::Invalid(format!("no feed named {name:?}")))?;
        let feed = self.feeds[i].clone();
        let result = fetch_feed(&feed, &self.limits).and_then(|fetched| {
            let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
            store_fetched(&mut store, &feed, fetched)
        });
        self.record(i, &result)?;
        result.map(|(r, _)| r)
    }

    fn record(
        &mut self,
        i: usize,
        result: &Result<(ImportReport, Option<String>), StoreError>,
    ) -> Result<(), StoreError> {
        let f = &mut self.feeds[i];
        f.last_pull = Some(Utc::now());
        match result {
            Ok((_, cursor)) => {
                f.last_error = None;
                if cursor.is_some() {
                    f.cursor = cursor.clone();
                }
            }
            Err(e) => f.last_error = Some(e.to_string()),
        }
        self.save()
    }

    /// Pulls every feed that is due; one report (or error) per feed.
    pub fn pull_due(
        &mut self,
        store: &mut IndicatorStore,
        now: DateTime<Utc>,
    ) -> Vec<(String, Result<ImportReport, StoreError>)> {
        let due: Vec<String> = self
            .feeds
            .iter()
            .filter(|f| f.due(now))
            .map(|f| f.name.clone())
            .collect();
        due.into_iter()
            .map(|n| {
                let r = self.pull(store, &n);
                (n, r)
            })
            .collect()
    }
}

/// What a feed's server gave, before it is stored.
struct Fetched {
    batch: Batch,
    mode: ImportMode,
    format: String,
    cursor: Option<String>,
}

/// Downloads and parses a feed; touches no store, so a slow server holds
/// no lock.
fn fetch_feed(feed: &Feed, lim: &Limits) -> Result<Fetched, StoreError> {
    match feed.kind {
        FeedKind::Url | FeedKind::MispFeed => {
            let format = match (&feed.format, feed.kind) {
                (Some(f), _) => Some(
                    f.parse::<Format>()
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                ),
                (None, FeedKind::MispFeed) => Some(Format::MispFeed),
                _ => None,
            };
            let read = read_source_with(
                &Source::Url(feed.url.clone()),
                format.as_ref(),
                &feed.name,
                lim,
            );
            // Past a limit: a failed pull, naming the limit; the feed's
            // indicators stay as they were.
            if let Some(e) = read.limit {
                return Err(e.into());
            }
            // A feed that could not be fetched (or read nothing usable) is a
            // failed pull; replacing the feed's data with nothing would
            // drop every indicator it had until the next good pull.
            if read.batch.indicators.is_empty() && !read.batch.errors.is_empty() {
                let e = &read.batch.errors[0];
                return Err(StoreError::Invalid(format!("{}: {}", e.entry, e.reason)));
            }
            let fmt: Vec<&str> = read.formats.iter().map(Format::name).collect();
            Ok(Fetched {
                batch: read.batch,
                mode: ImportMode::Replace,
                format: fmt.join(","),
                cursor: None,
            })
        }
        FeedKind::Taxii => {
            let client = TaxiiClient::new(feed.auth.clone())
                .with_http(Http::for_limits(lim))
                .with_max_objects(lim.max_indicators);
            let poll = client.poll(&feed.url, feed.cursor.as_deref(), 1000)?;
            let mut b = Batch::default();
            stix::parse_objects(&feed.url, &feed.name, &poll.objects, &mut b);
            check_count(&feed.name, &b, lim)?;
            Ok(Fetched {
                batch: b,
                mode: ImportMode::Merge,
                format: "taxii".into(),
                cursor: poll.cursor,
            })
        }
        FeedKind::MispRest => {
            let http = Http::for_limits(lim);
            let (b, cursor) = misp_rest_search(
                &http,
                &feed.url,
                feed.auth.as_ref(),
                feed.cursor.as_deref(),
                &feed.name,
                1000,
            )?;
            check_count(&feed.name, &b, lim)?;
            Ok(Fetched {
                batch: b,
                mode: ImportMode::Merge,
                format: "misp-rest".into(),
                cursor,
            })
        }
    }
}

fn check_count(feed: &str, b: &Batch, lim: &Limits) -> Result<(), StoreError> {
    if b.indicators.len() > lim.max_indicators {
        return Err(crate::LimitExceeded {
            entry: format!("feed {feed}"),
            kind: crate::LimitKind::Indicators,
            limit: lim.max_indicators as u64,
        }
        .into());
    }
    Ok(())
}

fn store_fetched(
    store: &mut IndicatorStore,
    feed: &Feed,
    f: Fetched,
) -> Result<(ImportReport, Option<String>), StoreError> {
    let r = store.import(
        &feed.name,
        f.batch,
        f.mode,
        Some(feed.url.as_str()),
        Some(&f.format),
    )?;
    Ok((r, f.cursor))
}

fn pull_feed(
    store: &mut IndicatorStore,
    feed: &Feed,
    lim: &Limits,
) -> Result<(ImportReport, Option<String>), StoreError> {
    store_fetched(store, feed, fetch_feed(feed, lim)?)
}

/// A MISP feed over HTTP: `<base>/manifest.json`, then `<base>/<uuid>.json`.
pub fn pull_misp_feed(http: &Http, base: &str, source: &str) -> Batch {
    let mut b = Batch::default();
    let murl = format!("{base}/manifest.json");
    let manifest = match http.get(&murl, &[]) {
        Ok(r) if r.status == 200 => r.body,
        Ok(r) => {
            b.error(murl, format!("HTTP {}", r.status));
            return b;
        }
        Err(e) => {
            b.error(murl, e.to_string());
            return b;
        }
    };
    let uuids = match misp::manifest_uuids(&manifest) {
        Ok(u) => u,
        Err(e) => {
            b.error(murl, e);
            return b;
        }
    };
    for u in uuids {
        let url = format!("{base}/{u}.json");
        match http.get(&url, &[]) {
            Ok(r) if r.status == 200 => b.extend(misp::parse_event(&url, source, &r.body)),
            Ok(r) => b.error(url, format!("HTTP {}", r.status)),
            Err(e) => b.error(url, e.to_string()),
        }
    }
    b
}

/// `POST <base>/attributes/restSearch` for IDS attributes changed since
/// `since` (Unix seconds), page by page. Returns the indicators and the
/// newest attribute timestamp seen (the next cursor).
pub fn misp_rest_search(
    http: &Http,
    base: &str,
    auth: Option<&Auth>,
    since: Option<&str>,
    source: &str,
    page_size: usize,
) -> Result<(Batch, Option<String>), FetchError> {
    let url = format!("{}/attributes/restSearch", base.trim_end_matches('/'));
    let key = auth.map(Auth::header);
    let mut headers = vec![
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
    ];
    if let Some(k) = &key {
        headers.push(("Authorization", k.as_str()));
    }
    let mut b = Batch::default();
    let mut newest: Option<i64> = since.and_then(|s| s.parse().ok());
    for page in 1..=100_000usize {
        let mut q = serde_json::json!({
            "returnFormat": "json",
            "to_ids": true,
            "includeEventTags": true,
            "limit": page_size,
            "page": page,
        });
        if let Some(s) = since {
            q["timestamp"] = Value::String(s.to_string());
        }
        let body = serde_json::to_vec(&q).map_err(|e| FetchError::Protocol(e.to_string()))?;
        let r = http.post(&url, &headers, &body)?;
        if r.status != 200 {
            return Err(FetchError::Status {
                method: "POST",
                url,
                status: r.status,
                body: String::from_utf8_lossy(&r.body[..r.body.len().min(300)]).into_owned(),
            });
        }
        let v: Value = serde_json::from_slice(&r.body)
            .map_err(|e| FetchError::Protocol(format!("{url}: not JSON: {e}")))?;
        let attrs = v
            .pointer("/response/Attribute")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let n = attrs.len();
        for a in &attrs {
            let ts = match a.get("timestamp") {
                Some(Value::String(s)) => s.parse::<i64>().ok(),
                Some(Value::Number(x)) => x.as_i64(),
                _ => None,
            };
            newest = newest.max(ts);
        }
        let entry = format!("{url} page {page}");
        misp::parse_value(
            &entry,
            source,
            &serde_json::json!({ "Attribute": attrs }),
            &mut b,
        );
        if n < page_size {
            return Ok((b, newest.map(|t| t.to_string())));
        }
    }
    Err(FetchError::Protocol(format!(
        "{url}: more than 100000 pages"
    )))
}
