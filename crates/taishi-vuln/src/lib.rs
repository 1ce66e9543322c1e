//! The pure core of Taishi's risk assessment (风险评估): no I/O, no clocks.
//!
//! - [`cvss`]: CVSS v2, v3.0/3.1 and v4.0 scores and severities from vector strings.
//! - [`cpe`]: CPE 2.3 formatted strings (and 2.2 URIs), attribute matching as NVD uses it.
//! - [`version`]: an order on the version strings NVD carries (`1.0.2k`, `5.0-rc1`, `16.12.10a`).
//! - [`nvd`]: a typed model of NVD CVE API 2.0 records and a bounded loader.
//! - [`matching`]: an index of a feed and the configuration logic (nested AND/OR,
//!   negation, platform CPEs) that turns an asset's software list into explained findings.
//! - [`kev`], [`epss`]: CISA KEV and FIRST EPSS parsers.
//! - [`priority`]: the SSVC deployer decision and a numeric priority per finding.
//!
//! Every user-visible text is in zh-CN and English ([`Text`], [`Label`]).

pub mod cpe;
pub mod cvss;
pub mod epss;
pub mod kev;
mod lang;
pub mod matching;
pub mod nvd;
pub mod priority;
pub mod version;

pub use lang::{Label, Lang, Text};
