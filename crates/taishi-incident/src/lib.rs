//! The pure core of incident handling (事件处置): no storage, no I/O.
//!
//! * [`category`]: GB/T 20986-2023 categories (data) and category
//!   suggestions from rule tags.
//! * [`grade`]: the grade (特别重大/重大/较大/一般) under the 2025 reporting
//!   measures' annex, thresholds as data, the deciding row named.
//! * [`clock`]: the reporting deadlines and the notifications due at a time.
//! * [`incident`]: the incident, its lifecycle, tasks, observables,
//!   timeline, provenance, merge and split; similar incidents.
//! * [`group`]: alerts → incidents by entity, bounded in memory.
//! * [`iocs`]: the observables as block lists (nftables, ipset,
//!   iptables, Suricata, plain).
//! * [`report`]: the Art. 7 report and the summary report.
//! * [`render`]: both reports as documents for DOCX and PDF.

pub mod category;
pub mod clock;
pub mod data;
pub mod grade;
pub mod group;
pub mod incident;
pub mod iocs;
pub mod lang;
pub mod placeholder;
pub mod render;
pub mod report;

pub use category::{Categories, CategoryMapping, Suggestion};
pub use clock::{
    Clock, ClockPolicy, Due, DueState, Notice, Obligation, ReporterType, ReportingFacts,
};
pub use data::DataError;
pub use grade::{Grade, Grading, GradingInput, GradingTable};
pub use group::{
    Assignment, ClosedGroup, EntityKey, EntityKind, GroupConfig, Grouper, LogSource, SourceClass,
};
pub use incident::{
    Actor, Incident, IncidentError, ObservableIndex, ObservableKind, Playbooks, Provenance, Status,
};
pub use iocs::{blocklist, BlocklistFormat, Iocs};
pub use lang::{Label, Lang, Text};
pub use placeholder::Placeholders;
pub use report::{Art7Report, ReportDraft, ReportError, ReportKind, SummaryDraft, SummaryReport};
