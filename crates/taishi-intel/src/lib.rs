//! Taishi's threat intelligence: an indicator store fed by STIX 2.1
//! bundles, TAXII 2.1 collections, MISP feeds and its REST API, the abuse.ch
//! feeds and plain lists; MISP warninglists; a matcher that checks every
//! event against millions of indicators at ingest speed; and retro-hunts
//! that look back through stored events when an indicator arrives.
//!
//! # Use from the service
//!
//! ```no_run
//! use std::sync::Arc;
//! use taishi_intel::{IndicatorStore, IntelHit, Source};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut store = IndicatorStore::open("taishi-data/intel")?;
//! // Once at start and after every import: the matcher is immutable,
//! // shared behind an Arc and swapped whole.
//! let matcher = Arc::new(store.load_matcher()?);
//!
//! // Per event, on the ingest path (no allocation unless something hits):
//! let event = taishi_event::Event::new();
//! let mut hits: Vec<IntelHit> = Vec::new();
//! matcher.match_event(&event, &mut hits);
//! for hit in &hits {
//!     // hit serialises to JSON with the indicator's context.
//!     println!("{}", serde_json::to_string(hit)?);
//! }
//!
//! // An import (file, folder, URL, feed) returns what changed; its new
//! // indicators are what to retro-hunt for.
//! let report = taishi_intel::import_source(
//!     &mut store,
//!     &Source::parse("feodo.csv"),
//!     None,
//!     None,
//! )?;
//! let matcher = Arc::new(store.load_matcher()?);
//! // The event store `taishi serve` writes (read-only beside a running one).
//! let events = taishi_store::Store::open_read_only("taishi-data/events")?;
//! let (warninglists, _) = store.warninglists()?;
//! let retro = taishi_intel::retro::hunt(
//!     &events,
//!     &report.new_indicators,
//!     &warninglists,
//!     taishi_intel::retro::DEFAULT_WINDOW,
//!     chrono::Utc::now(),
//! )?;
//! for (event, hits) in retro.matches {
//!     assert!(hits.iter().all(|h| h.retrospective));
//! }
//! # let _ = matcher;
//! # Ok(()) }
//! ```
//!
//! Fields read per event: see [`fields`]. Matching semantics: addresses
//! exact or inside a network; domains match themselves and every subdomain;
//! URLs compare after [`url::normalise_url`]; hashes, e-mail addresses and
//! fingerprints case-insensitively; `ip:port` on the same side's address and
//! port. Indicators past `valid_until` (or before `valid_from`) do not match;
//! indicators a warninglist covers never match and are counted in
//! [`MatcherStats::suppressed`].

pub mod feeds;
pub mod fields;
pub mod import;
pub mod limits;
pub mod matcher;
pub mod model;
pub mod pattern;
pub mod retro;
mod source;
pub mod store;
pub mod taxii;
pub mod url;
pub mod warninglist;

pub use feeds::{Feed, FeedKind, Feeds};
pub use import::{Batch, Format};
pub use limits::{LimitExceeded, LimitKind, Limits, DEFAULT_EGRESS};
pub use matcher::{IndicatorContext, IntelHit, Matcher, MatcherBuilder, MatcherStats};
pub use model::{
    CondOp, Condition, DataError, ImportError, Indicator, IndicatorError, IndicatorType, Tlp,
};
pub use source::{import_source, import_source_with, read_source, read_source_with, Source};
pub use store::{ImportMode, ImportReport, IndicatorStore, SourceMeta, StoreError};
/// The egress policy a feed pull obeys (`Limits::egress`).
pub use taishi_egress::{EgressError, EgressPolicy};
pub use warninglist::{Warninglist, Warninglists};
