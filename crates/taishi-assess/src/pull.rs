//! Pulling the KEV and EPSS feeds (`[risk] kev_url`, `epss_url`). The
//! schedule is the caller's (serve runs it on its timer); a pull here is one
//! blocking round over both URLs, each body imported like an uploaded file.

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
        !(self.kev_url.is_empty() && self.epss_url.is_empty())
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
            let body = match gunzip(body) {
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
    }
}

/// The body itself, or its gzip content (bounded by [`MAX_PULL_BYTES`]).
fn gunzip(body: Vec<u8>) -> std::io::Result<Vec<u8>> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(body);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .take(MAX_PULL_BYTES)
        .read_to_end(&mut out)?;
    Ok(out)
}
