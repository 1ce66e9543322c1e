//! Pulling the KEV, EPSS and NVD feeds (`[risk] kev_url`, `epss_url`,
//! `nvd_url`). The schedule is the caller's (serve runs it on its timer); a
//! pull here is one blocking round over the URLs, each body imported like
//! an uploaded file. NVD comes in pages (`startIndex`), each stored as it
//! arrives, the assets matched once at the end.

use std::io::Read;
use std::time::Duration;

use taishi_intel::taxii::Http;

use crate::{Risk, RiskSection};

/// Largest feed file pulled (the EPSS CSV is ~10 MiB, KEV ~1.5 MiB).
pub const MAX_PULL_BYTES: u64 = 256 << 20;

/// How long one pull may take.
const PULL_TIMEOUT: Duration = Duration::from_secs(300);

impl RiskSection {
    /// Whether there is anything to pull.
    pub fn pulls(&self) -> bool {
        !(self.kev_url.is_empty() && self.epss_url.is_empty() && self.nvd_url.is_empty())
    }

    /// The time between pulls.
    pub fn pull_every(&self) -> Duration {
        Duration::from_secs(self.interval_hours.clamp(1, 720) * 3600)
    }
}

impl Risk {
    /// Pulls each configured feed once through `egress` and imports it. A
    /// failed pull is logged and left for the next round: an outage of
    /// CISA's or FIRST's site must not stop the service.
    pub fn pull_feeds(&self, cfg: &RiskSection, egress: &taishi_intel::EgressPolicy) {
        let http = Http::with_egress(PULL_TIMEOUT, egress).with_max_body(MAX_PULL_BYTES);
        for (kind, url) in [("kev", &cfg.kev_url), ("epss", &cfg.epss_url)] {
            if url.is_empty() {
                continue;
            }
            let body = match http.get(url, &[]) {
                Ok(r) if r.status == 200 => r.body,
                Ok(r) => {
                    tracing::warn!(kind, url, status = r.status, "risk feed pull: HTTP error");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(kind, url, error = %e, "risk feed pull failed");
                    continue;
                }
            };
            let body = match gunzip(body, MAX_PULL_BYTES) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(kind, url, error = %e, "risk feed pull: not gzip");
                    continue;
                }
            };
            match self.import_feed(kind, url, &body) {
                Ok(r) => tracing::info!(
                    kind,
                    entries = r.entries,
                    warnings = r.warnings.len(),
                    "risk feed pulled"
                ),
                Err(e) => tracing::warn!(kind, url, error = %e, "risk feed import failed"),
            }
        }
        if !cfg.nvd_url.is_empty() {
            match self.pull_nvd(&http, &cfg.nvd_url, &cfg.nvd_api_key) {
                Ok(n) => tracing::info!(records = n, "NVD pulled"),
                Err(e) => tracing::warn!(url = %cfg.nvd_url, error = %e, "NVD pull failed"),
            }
        }
    }

    /// One NVD round: a file, or the API's pages from `startIndex` 0 —
    /// only the records modified since the newest stored one when that is
    /// within NVD's 120-day window — then one match of every asset. The
    /// records stored so far stay when a page fails.
    fn pull_nvd(&self, http: &Http, url: &str, key: &str) -> Result<usize, PullError> {
        if let Some(path) = url.strip_prefix("file://") {
            let f = std::fs::File::open(path).map_err(|e| PullError::Io(path.into(), e))?;
            let mut body = Vec::new();
            f.take(MAX_PULL_BYTES + 1)
                .read_to_end(&mut body)
                .map_err(|e| PullError::Io(path.into(), e))?;
            let (n, _) = self.store_nvd(url, &body)?;
            self.rematch_all_nvd()?;
            return Ok(n);
        }
        let now = chrono::Utc::now();
        let window = self
            .state
            .nvd_last_modified()?
            .and_then(|s| chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f").ok())
            .map(|t| t.and_utc())
            .filter(|t| now - *t < chrono::Duration::days(NVD_WINDOW_DAYS))
            .map(|t| {
                let f = "%Y-%m-%dT%H:%M:%S%.3fZ";
                format!(
                    "&lastModStartDate={}&lastModEndDate={}",
                    t.format(f),
                    now.format(f)
                )
            })
            .unwrap_or_default();
        let sep = if url.contains('?') { '&' } else { '?' };
        let headers: Vec<(&str, &str)> = if key.is_empty() {
            Vec::new()
        } else {
            vec![("apiKey", key)]
        };
        // NVD: 5 requests per rolling 30 s without a key, 50 with one.
        let pause = if key.is_empty() {
            Duration::from_secs(6)
        } else {
            Duration::from_millis(600)
        };
        let (mut start, mut stored) = (0u64, 0usize);
        for page in 0..MAX_NVD_PAGES {
            if page > 0 {
                std::thread::sleep(pause);
            }
            let u = format!("{url}{sep}startIndex={start}&resultsPerPage={NVD_PAGE}{window}");
            let r = http
                .get(&u, &headers)
                .map_err(|e| PullError::Http(e.to_string()))?;
            if r.status != 200 {
                return Err(PullError::Http(format!("HTTP {}", r.status)));
            }
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Head {
                #[serde(default)]
                results_per_page: u64,
                #[serde(default)]
                total_results: u64,
            }
            let head: Head = serde_json::from_slice(&r.body)
                .map_err(|e| PullError::Http(format!("not an API 2.0 page: {e}")))?;
            let (n, _) = self.store_nvd(url, &r.body)?;
            stored += n;
            start += head.results_per_page;
            if head.results_per_page == 0 || start >= head.total_results {
                break;
            }
        }
        self.rematch_all_nvd()?;
        Ok(stored)
    }
}

/// Records per NVD API page (the API's maximum).
const NVD_PAGE: u64 = 2_000;
/// Pages in one round (NVD holds ~300,000 records: 150 pages).
const MAX_NVD_PAGES: usize = 400;
/// The longest `lastModStartDate`–`lastModEndDate` range NVD accepts.
const NVD_WINDOW_DAYS: i64 = 120;

/// Why an NVD pull stopped.
#[derive(Debug, thiserror::Error)]
enum PullError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}")]
    Http(String),
    #[error(transparent)]
    Risk(#[from] crate::RiskError),
}

impl From<taishi_state::StateError> for PullError {
    fn from(e: taishi_state::StateError) -> Self {
        PullError::Risk(e.into())
    }
}

/// The body itself, or its gzip content; more than `max` bytes is an
/// error (a truncated feed must not be imported as if whole).
pub(crate) fn gunzip(body: Vec<u8>, max: u64) -> std::io::Result<Vec<u8>> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        if body.len() as u64 > max {
            return Err(std::io::Error::other(format!(
                "{} bytes, over the limit of {max}",
                body.len()
            )));
        }
        return Ok(body);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .take(max + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "more than {max} bytes once decompressed"
        )));
    }
    Ok(out)
}
