-- Rule exceptions (issue 13, item 13): an analyst closing an alert as a
-- false positive says which field values made it one; the next alert of
-- the same rule whose event has those values is not raised. `conditions`
-- is a JSON list of {field, value} (exact match, at most 10); `subtree`
-- says whether organisations below `org` are covered too; `expires` is
-- microseconds since the epoch (none: never); `hits`/`last_hit` count the
-- alerts it held back.
CREATE TABLE IF NOT EXISTS rule_exceptions(
  id TEXT PRIMARY KEY,
  org TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  conditions TEXT NOT NULL,
  subtree BIGINT NOT NULL DEFAULT 0,
  expires BIGINT,
  author TEXT NOT NULL,
  created TEXT NOT NULL,
  comment TEXT,
  alert_id TEXT,
  hits BIGINT NOT NULL DEFAULT 0,
  last_hit TEXT);
CREATE INDEX IF NOT EXISTS rule_exceptions_rule ON rule_exceptions(rule_id);
-- The account an alert is about (the user role of its event), so the
-- alert list can answer "other alerts of this user" (older alerts: the
-- next migration).
ALTER TABLE alerts ADD COLUMN user_name TEXT;
CREATE INDEX IF NOT EXISTS alerts_user_detected ON alerts(user_name, detected);
