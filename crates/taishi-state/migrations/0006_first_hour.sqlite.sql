-- What a newcomer's first hour needs of the state.
--
-- When Taishi raised each alert, as a number beside `ts` (the matching
-- event's time), so the queue, the overview and the threat level can
-- filter and sort by detection time: an alert raised now about a log from
-- two weeks ago belongs to "the last 24 hours" of its analyst. Older rows
-- take it from `created` (RFC 3339, written when the alert was stored),
-- or the event time when that cannot be read.
ALTER TABLE alerts ADD COLUMN detected INTEGER NOT NULL DEFAULT 0;
UPDATE alerts SET detected = coalesce(
  CAST(round((julianday(created) - 2440587.5) * 86400000000.0) AS INTEGER), ts);
CREATE INDEX alerts_detected ON alerts(detected);
CREATE INDEX alerts_status_detected ON alerts(status, detected);
CREATE INDEX alerts_org_detected ON alerts(org, detected);
CREATE INDEX alerts_cover_detected ON alerts(detected, level, status, rule_id, host, source_ip);
CREATE INDEX alerts_rule_level_detected ON alerts(rule_id, detected, level);
-- An account whose password someone else set (the first start's
-- one-time passwords, an administrator's reset when asked) must choose
-- its own at its next sign-in before it can do anything else.
ALTER TABLE users ADD COLUMN must_change INTEGER NOT NULL DEFAULT 0;
