//! Runs Taishi queries (KQL filters and pipe stages) against the embedded store
