-- When Taishi raised each alert (see the SQLite variant).
ALTER TABLE alerts ADD COLUMN detected BIGINT NOT NULL DEFAULT 0;
UPDATE alerts SET detected = (extract(epoch FROM created::timestamptz) * 1000000)::bigint;
CREATE INDEX alerts_detected ON alerts(detected);
CREATE INDEX alerts_status_detected ON alerts(status, detected);
CREATE INDEX alerts_org_detected ON alerts(org, detected);
CREATE INDEX alerts_cover_detected ON alerts(detected, level, status, rule_id, host, source_ip);
CREATE INDEX alerts_rule_level_detected ON alerts(rule_id, detected, level);
-- A password someone else set must be changed at the next sign-in.
ALTER TABLE users ADD COLUMN must_change BIGINT NOT NULL DEFAULT 0;
