-- Organisations, custom roles, password history and the organisation
-- columns (see the SQLite variant). `password_history` gets a `rowid`
-- identity column: the history is ordered and trimmed by rowid there.
CREATE TABLE orgs(
  id TEXT PRIMARY KEY, parent TEXT REFERENCES orgs(id), name TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX orgs_parent ON orgs(parent);
CREATE TABLE roles(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, permissions TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE password_history(
  rowid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username TEXT NOT NULL, pw_hash TEXT NOT NULL, changed TEXT NOT NULL);
CREATE INDEX password_history_user ON password_history(username, changed);
ALTER TABLE users ADD COLUMN org TEXT NOT NULL DEFAULT 'root';
ALTER TABLE users ADD COLUMN pw_changed TEXT;
ALTER TABLE tokens ADD COLUMN org TEXT NOT NULL DEFAULT 'root';
ALTER TABLE sessions ADD COLUMN created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN org TEXT NOT NULL DEFAULT 'root';
ALTER TABLE intel_hits ADD COLUMN org TEXT NOT NULL DEFAULT 'root';
CREATE INDEX alerts_org ON alerts(org, ts);
CREATE INDEX users_org ON users(org);
INSERT INTO orgs(id, parent, name, created)
VALUES ('root', NULL, '总部 Headquarters',
        to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
ON CONFLICT(id) DO NOTHING;
UPDATE users SET role = 'sysadmin secadmin analyst' WHERE role = 'admin';
UPDATE tokens SET role = 'sysadmin secadmin analyst' WHERE role = 'admin';
