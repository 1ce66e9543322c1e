-- Risk assessment (issue 15), second part.
-- The NVD CVE records imported (POST /vulns/feeds/nvd or the [risk] nvd_url
-- pull), one row per CVE, the newest import of a CVE replacing the older.
-- `doc` is the record trimmed to what matching and priorities read (id,
-- status, CVSS metrics, configurations), as JSON: kept in the state so the
-- feed survives a restart and is the same for every node of a PostgreSQL
-- deployment; the count is bounded by the service (a full NVD is ~300,000).
CREATE TABLE IF NOT EXISTS risk_nvd_records(
  cve TEXT PRIMARY KEY,
  last_modified TEXT,
  updated TEXT NOT NULL,
  doc TEXT NOT NULL);
-- Pairs of assets an analyst split apart: never merged again automatically
-- (the register's `apart` set, loaded at start). `a` < `b`.
CREATE TABLE IF NOT EXISTS risk_assets_apart(
  org TEXT NOT NULL,
  a BIGINT NOT NULL,
  b BIGINT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY(a, b));
-- Merges and splits by hand: who, when, why (provenance of the register's
-- changes; the assets' values keep their own provenance in their documents).
CREATE TABLE IF NOT EXISTS risk_asset_changes(
  id TEXT PRIMARY KEY,
  org TEXT NOT NULL,
  asset_id BIGINT NOT NULL,
  other_id BIGINT NOT NULL,
  change TEXT NOT NULL,
  by_user TEXT NOT NULL,
  reason TEXT NOT NULL,
  at TEXT NOT NULL,
  identities TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS risk_asset_changes_asset ON risk_asset_changes(asset_id, at);
CREATE INDEX IF NOT EXISTS risk_asset_changes_other ON risk_asset_changes(other_id, at);
