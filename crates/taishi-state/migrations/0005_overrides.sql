-- What an organisation changes of what it shares with the tree above it:
-- a rule switched off (or back on) for it and those below it, and which
-- organisation an intel source belongs to (its indicators apply to that
-- organisation's events and those below; a source of none applies to all).
CREATE TABLE IF NOT EXISTS org_rule_switch(
  org TEXT NOT NULL, rule_id TEXT NOT NULL, enabled BIGINT NOT NULL, PRIMARY KEY(org, rule_id));
CREATE TABLE IF NOT EXISTS intel_source_org(source TEXT PRIMARY KEY, org TEXT NOT NULL);
