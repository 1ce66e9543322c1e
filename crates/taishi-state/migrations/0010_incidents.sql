-- Incidents (issue 14), per organisation. The serialised
-- `taishi_incident::Incident` in `doc` is the truth; the other columns copy
-- what lists filter and sort on. `version` is bumped by every write: an
-- update naming an older version is refused (two analysts, one incident).
-- `group_key` is the entity the automatic grouping filed it under
-- (`host:ws01`), so a restarted service sends new alerts of that entity to
-- the same open incident.
CREATE TABLE IF NOT EXISTS incidents(
  id TEXT PRIMARY KEY,
  org TEXT NOT NULL,
  status TEXT NOT NULL,
  severity TEXT NOT NULL,
  severity_rank BIGINT NOT NULL,
  owner TEXT,
  title TEXT NOT NULL,
  category TEXT,
  grade TEXT,
  created TEXT NOT NULL,
  updated TEXT NOT NULL,
  discovered TEXT NOT NULL,
  alert_count BIGINT NOT NULL DEFAULT 0,
  group_key TEXT,
  version BIGINT NOT NULL,
  doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS incidents_org_status ON incidents(org, status);
CREATE INDEX IF NOT EXISTS incidents_group_key ON incidents(org, group_key);
-- Which incident an alert is in (active = not removed or split away).
CREATE TABLE IF NOT EXISTS incident_alerts(
  alert_id TEXT NOT NULL,
  incident_id TEXT NOT NULL,
  org TEXT NOT NULL,
  active BIGINT NOT NULL,
  PRIMARY KEY(alert_id, incident_id));
CREATE INDEX IF NOT EXISTS incident_alerts_incident ON incident_alerts(incident_id);
-- Observables by value, for "seen in other incidents".
CREATE TABLE IF NOT EXISTS incident_observables(
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  incident_id TEXT NOT NULL,
  org TEXT NOT NULL,
  PRIMARY KEY(kind, value, incident_id));
CREATE INDEX IF NOT EXISTS incident_observables_incident ON incident_observables(incident_id);
