-- Risk assessment (issue 15), per organisation: the asset register, the
-- vulnerability findings and their remediation, the risk score history,
-- early warnings and the KEV/EPSS feeds. Documents (`doc`) hold the pure
-- crates' models as JSON (taishi_asset::Asset, the finding with its
-- priority); the other columns copy what lists filter and sort on.
CREATE TABLE IF NOT EXISTS risk_assets(
  id BIGINT PRIMARY KEY,
  org TEXT NOT NULL,
  name TEXT,
  business_system TEXT,
  importance TEXT,
  cii BIGINT NOT NULL DEFAULT 0,
  exposed_ports BIGINT NOT NULL DEFAULT 0,
  score DOUBLE PRECISION NOT NULL DEFAULT 0,
  first_seen TEXT,
  last_seen TEXT,
  updated TEXT NOT NULL,
  doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS risk_assets_org ON risk_assets(org, business_system);
-- (organisation, identity) → asset: `ip:10.0.0.5`, `mac:…`, `host:web01`,
-- `fqdn:web01.corp.local`. An alert's host or address finds its asset here.
CREATE TABLE IF NOT EXISTS risk_asset_identities(
  org TEXT NOT NULL,
  identity TEXT NOT NULL,
  asset_id BIGINT NOT NULL,
  PRIMARY KEY(org, identity, asset_id));
CREATE INDEX IF NOT EXISTS risk_asset_identities_asset ON risk_asset_identities(asset_id);
-- One finding per (organisation, asset identity, CVE or check, location):
-- the same finding from two scanners or two scans is one row.
-- status: open, in_progress, accepted (approver, accepted_until), fixed,
-- false_positive; deadline from the priority's SSVC decision.
CREATE TABLE IF NOT EXISTS risk_findings(
  id TEXT PRIMARY KEY,
  org TEXT NOT NULL,
  asset_id BIGINT NOT NULL,
  vuln TEXT NOT NULL,
  cve TEXT,
  location TEXT NOT NULL,
  severity TEXT NOT NULL,
  scanners TEXT NOT NULL,
  kev BIGINT NOT NULL DEFAULT 0,
  exploitable BIGINT NOT NULL DEFAULT 0,
  priority DOUBLE PRECISION NOT NULL,
  decision TEXT NOT NULL,
  status TEXT NOT NULL,
  approver TEXT,
  accepted_until TEXT,
  deadline TEXT,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  updated TEXT NOT NULL,
  doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS risk_findings_asset ON risk_findings(org, asset_id);
CREATE INDEX IF NOT EXISTS risk_findings_cve ON risk_findings(cve);
-- Every score an asset had: the number, its factors (taishi_risk::RiskScore
-- as JSON, from which the number recomputes) and why it was computed.
CREATE TABLE IF NOT EXISTS risk_scores(
  org TEXT NOT NULL,
  asset_id BIGINT NOT NULL,
  at TEXT NOT NULL,
  score DOUBLE PRECISION NOT NULL,
  factors TEXT NOT NULL,
  reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS risk_scores_asset ON risk_scores(asset_id, at);
-- Early warnings, raised once per (organisation, dedup key).
CREATE TABLE IF NOT EXISTS risk_warnings(
  id TEXT PRIMARY KEY,
  org TEXT NOT NULL,
  dedup_key TEXT NOT NULL,
  level TEXT NOT NULL,
  level_rank BIGINT NOT NULL,
  kind TEXT NOT NULL,
  asset_id BIGINT NOT NULL,
  cve TEXT,
  status TEXT NOT NULL,
  created TEXT NOT NULL,
  updated TEXT NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE(org, dedup_key));
CREATE INDEX IF NOT EXISTS risk_warnings_org ON risk_warnings(org, level_rank);
-- KEV and EPSS as last imported (shared by every organisation: the
-- platform's, org `root`). kind: kev or epss.
CREATE TABLE IF NOT EXISTS risk_feed_entries(
  kind TEXT NOT NULL,
  cve TEXT NOT NULL,
  org TEXT NOT NULL,
  ransomware BIGINT NOT NULL DEFAULT 0,
  epss DOUBLE PRECISION,
  percentile DOUBLE PRECISION,
  added TEXT NOT NULL,
  PRIMARY KEY(kind, cve));
-- Alerts and intel hits on an asset (the score's attacks of the last 30
-- days): copied from the alert when it is stored, so a score is computed
-- without searching the alerts by every identity.
CREATE TABLE IF NOT EXISTS risk_asset_attacks(
  org TEXT NOT NULL,
  asset_id BIGINT NOT NULL,
  alert_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  at TEXT NOT NULL,
  title TEXT NOT NULL,
  PRIMARY KEY(asset_id, alert_id));
CREATE INDEX IF NOT EXISTS risk_asset_attacks_at ON risk_asset_attacks(asset_id, at);
