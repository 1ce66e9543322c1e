//! The asset register's pure core: the asset model, inventory imports
//! (CSV, JSON, Nmap XML), scanner reports turned into findings (Nmap with
//! vulners, Greenbone/OpenVAS, Nessus, Trivy, Grype, CSV), merging assets on
//! shared identities, discovery of unregistered assets, and rescan
//! semantics. Nothing here touches storage or the network.

pub mod discovery;
pub mod error;
pub mod finding;
pub mod import;
pub mod lang;
pub mod model;
pub mod register;
pub mod rescan;
pub mod scan;
pub mod software;

mod columns;

pub use discovery::{discover, DiscoveryLimits, Sighting, UnknownAsset};
pub use error::{ImportError, Limits, Problem, RecordError};
pub use finding::{
    cn_ids_in, AssetRef, Finding, FindingKey, FindingSet, FindingSource, Location, Scanner,
    Severity,
};
pub use import::{import_assets, import_csv, import_json, import_nmap, AssetImport, ImportOptions};
pub use lang::Lang;
pub use model::*;
pub use register::{Change, IngestOutcome, MergePolicy, MergeReason, Register, RegisterError};
pub use rescan::{rescan, RescanDiff, RescanState};
pub use scan::{detect, parse_report, ScanReport};
pub use software::{Cpe, Purl, Software, SoftwareError};
