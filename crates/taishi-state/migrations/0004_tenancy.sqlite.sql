-- Organisations, custom roles and password history; the columns that tie
-- users, tokens, alerts and intel hits to an organisation (added before
-- this runs by the migration's column step, which skips those a database
-- from before versioned migrations already has); session activity for the
-- idle timeout. Every older row belongs to the top organisation, and the
-- one `admin` role of old becomes the built-in roles it covered
-- (taishi_auth::LEGACY_ADMIN; a test checks the text below against it).
CREATE TABLE IF NOT EXISTS orgs(
  id TEXT PRIMARY KEY, parent TEXT REFERENCES orgs(id), name TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orgs_parent ON orgs(parent);
CREATE TABLE IF NOT EXISTS roles(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, permissions TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS password_history(
  username TEXT NOT NULL, pw_hash TEXT NOT NULL, changed TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS password_history_user ON password_history(username, changed);
CREATE INDEX IF NOT EXISTS alerts_org ON alerts(org, ts);
CREATE INDEX IF NOT EXISTS users_org ON users(org);
INSERT INTO orgs(id, parent, name, created)
VALUES ('root', NULL, '总部 Headquarters', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT(id) DO NOTHING;
UPDATE users SET role = 'sysadmin secadmin analyst' WHERE role = 'admin';
UPDATE tokens SET role = 'sysadmin secadmin analyst' WHERE role = 'admin';
