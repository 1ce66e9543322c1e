-- Saved searches, per organisation: a query and its time range kept under
-- a name, and, when `interval_secs` is set and `enabled`, run on a
-- schedule over the last interval, raising an alert of `level` when it
-- answers more than `threshold` (rows of a table, else matching events).
-- Times are RFC 3339 text like the other tables'; `last_result` says what
-- the last run found or why it failed.
CREATE TABLE IF NOT EXISTS saved_searches(
  id TEXT PRIMARY KEY,
  org TEXT NOT NULL,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  query TEXT NOT NULL,
  range_from TEXT NOT NULL,
  range_to TEXT,
  created TEXT NOT NULL,
  updated TEXT NOT NULL,
  interval_secs BIGINT,
  threshold BIGINT NOT NULL DEFAULT 0,
  level TEXT NOT NULL DEFAULT 'medium',
  enabled BIGINT NOT NULL DEFAULT 0,
  last_run TEXT,
  last_result TEXT,
  UNIQUE(org, name));
CREATE INDEX IF NOT EXISTS saved_searches_org ON saved_searches(org);
