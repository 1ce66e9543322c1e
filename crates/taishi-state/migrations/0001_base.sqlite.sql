-- The platform state as it was before versioned migrations, verbatim.
-- `IF NOT EXISTS` stays: a database of that shape (no schema_migrations)
-- runs this as a no-op and is then recorded at version 1.
CREATE TABLE IF NOT EXISTS users(
  username TEXT PRIMARY KEY, role TEXT NOT NULL, pw_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, last_login TEXT);
CREATE TABLE IF NOT EXISTS sessions(
  id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, owner TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL, last_used TEXT);
CREATE TABLE IF NOT EXISTS alerts(
  id TEXT PRIMARY KEY, ts INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
  kind TEXT NOT NULL, rule_id TEXT NOT NULL, rule_title TEXT NOT NULL, level INTEGER NOT NULL,
  host TEXT, source_ip TEXT, destination_ip TEXT,
  status TEXT NOT NULL DEFAULT 'new', resolution TEXT, assignee TEXT,
  retrospective INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status, ts);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule_id, ts);
CREATE INDEX IF NOT EXISTS alerts_host ON alerts(host, ts);
CREATE INDEX IF NOT EXISTS alerts_source ON alerts(source_ip, ts);
CREATE INDEX IF NOT EXISTS alerts_level ON alerts(level, ts);
-- Covers the overview's and the grouped list's aggregations over a time
-- range: they read this index only, never the rows with their JSON bodies.
CREATE INDEX IF NOT EXISTS alerts_cover ON alerts(ts, level, status, rule_id, host, source_ip);
-- Grouping by rule reads rule, time and level from here (0.05 s instead of
-- 0.5 s over 100,000 alerts).
CREATE INDEX IF NOT EXISTS alerts_rule_level ON alerts(rule_id, ts, level);
CREATE TABLE IF NOT EXISTS comments(
  alert_id TEXT NOT NULL, user TEXT NOT NULL, time TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS comments_alert ON comments(alert_id);
CREATE TABLE IF NOT EXISTS rule_switch(rule_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
