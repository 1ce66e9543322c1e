-- The platform state on PostgreSQL: the SQLite schema of version 1 with
-- BIGINT for its integers (SQLite's INTEGER is 64-bit). `comments` gets a
-- `rowid` identity column: SQLite orders comments by its implicit rowid, and
-- the same name keeps that query written once.
CREATE TABLE users(
  username TEXT PRIMARY KEY, role TEXT NOT NULL, pw_hash TEXT NOT NULL,
  disabled BIGINT NOT NULL DEFAULT 0, created TEXT NOT NULL, last_login TEXT);
CREATE TABLE sessions(
  id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL, expires BIGINT NOT NULL);
CREATE TABLE tokens(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, owner TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL, last_used TEXT);
CREATE TABLE alerts(
  id TEXT PRIMARY KEY, ts BIGINT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
  kind TEXT NOT NULL, rule_id TEXT NOT NULL, rule_title TEXT NOT NULL, level BIGINT NOT NULL,
  host TEXT, source_ip TEXT, destination_ip TEXT,
  status TEXT NOT NULL DEFAULT 'new', resolution TEXT, assignee TEXT,
  retrospective BIGINT NOT NULL DEFAULT 0, body TEXT NOT NULL);
CREATE INDEX alerts_ts ON alerts(ts);
CREATE INDEX alerts_status ON alerts(status, ts);
CREATE INDEX alerts_rule ON alerts(rule_id, ts);
CREATE INDEX alerts_host ON alerts(host, ts);
CREATE INDEX alerts_source ON alerts(source_ip, ts);
CREATE INDEX alerts_level ON alerts(level, ts);
CREATE INDEX alerts_cover ON alerts(ts, level, status, rule_id, host, source_ip);
CREATE INDEX alerts_rule_level ON alerts(rule_id, ts, level);
CREATE TABLE comments(
  rowid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alert_id TEXT NOT NULL, "user" TEXT NOT NULL, time TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX comments_alert ON comments(alert_id);
CREATE TABLE rule_switch(rule_id TEXT PRIMARY KEY, enabled BIGINT NOT NULL);
CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
