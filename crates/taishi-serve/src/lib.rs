//! The taishi serve service: configuration, the ingest-to-alert pipeline, the HTTP API, authentication and platform state
