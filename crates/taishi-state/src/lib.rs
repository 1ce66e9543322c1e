//! Platform state in SQLite: organisations, users and their roles, sessions,
//! API tokens, alerts and their comments, intel hits by indicator, rule
//! switches and settings. Events
//! live in the event store; this crate holds what people change. One
//! writer connection and read-only readers (WAL mode).

use std::path::Path;
use std::sync::Mutex;

mod orgs;
pub use orgs::{Org, Scope, ROOT_ORG};

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

pub type Result<T> = std::result::Result<T, StateError>;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The change would leave the platform in a state nobody can fix
    /// (no administrator left).
    #[error("{0}")]
    Conflict(String),
}

pub struct State {
    db: Mutex<Connection>,
    /// Read-only connections for the console's queries: in WAL mode they
    /// read beside the writer, so an overview or a grouped alert list does
    /// not hold up sign-ins, ingest's token checks and alert writes that
    /// share the one writing connection.
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Bumped by every change to alerts, so cached aggregations know when
    /// they are stale.
    generation: std::sync::atomic::AtomicU64,
}

const READERS: usize = 4;

const SCHEMA: &str = r#"
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
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
"#;

/// Intel alerts by indicator value, so that hits per indicator are counted
/// from an index rather than from the alert bodies.
const INTEL_HITS_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS intel_hits(
  alert_id TEXT PRIMARY KEY, indicator TEXT NOT NULL, type TEXT, source TEXT, ts INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS intel_hits_indicator ON intel_hits(indicator, ts);
"#;

/// Organisations, custom roles, password history; the columns that tie
/// users, tokens, alerts and intel hits to an organisation; session
/// activity for the idle timeout. Applied by [`upgrade_tenancy`].
const TENANCY_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS orgs(
  id TEXT PRIMARY KEY, parent TEXT REFERENCES orgs(id), name TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orgs_parent ON orgs(parent);
CREATE TABLE IF NOT EXISTS roles(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, permissions TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS password_history(
  username TEXT NOT NULL, pw_hash TEXT NOT NULL, changed TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS password_history_user ON password_history(username, changed);
"#;

/// Columns added to the tables of older databases: `(table, column, type)`.
const TENANCY_COLUMNS: &[(&str, &str, &str)] = &[
    ("users", "org", "TEXT NOT NULL DEFAULT 'root'"),
    ("users", "pw_changed", "TEXT"),
    ("tokens", "org", "TEXT NOT NULL DEFAULT 'root'"),
    ("sessions", "created", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "last_seen", "INTEGER NOT NULL DEFAULT 0"),
    ("alerts", "org", "TEXT NOT NULL DEFAULT 'root'"),
    ("intel_hits", "org", "TEXT NOT NULL DEFAULT 'root'"),
];

/// Brings a database of any earlier shape to organisations and roles:
/// the top organisation, the new columns (every older row belongs to the
/// top organisation), and the one `admin` role of old split into the
/// built-in roles it covered (`taishi_auth::LEGACY_ADMIN`).
fn upgrade_tenancy(db: &Connection) -> Result<()> {
    db.execute_batch(TENANCY_SCHEMA)?;
    for (table, column, ty) in TENANCY_COLUMNS {
        let has: i64 = db.query_row(
            &format!("SELECT count(*) FROM pragma_table_info('{table}') WHERE name = ?"),
            [column],
            |r| r.get(0),
        )?;
        if has == 0 {
            db.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
        }
    }
    db.execute_batch(
        "CREATE INDEX IF NOT EXISTS alerts_org ON alerts(org, ts);
         CREATE INDEX IF NOT EXISTS users_org ON users(org);",
    )?;
    db.execute(
        "INSERT INTO orgs(id, parent, name, created) VALUES (?1, NULL, ?2, ?3) ON CONFLICT(id) DO NOTHING",
        params![ROOT_ORG, "总部 Headquarters", now_iso()],
    )?;
    let legacy = taishi_auth::LEGACY_ADMIN
        .iter()
        .map(|r| r.id())
        .collect::<Vec<_>>()
        .join(" ");
    db.execute("UPDATE users SET role = ?1 WHERE role = 'admin'", [&legacy])?;
    db.execute(
        "UPDATE tokens SET role = ?1 WHERE role = 'admin'",
        [&legacy],
    )?;
    Ok(())
}

/// Role ids as stored: one column, ids separated by spaces.
fn roles_text(roles: &[String]) -> String {
    roles.join(" ")
}

fn roles_of(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// Filled on first open of a database made before `intel_hits` existed.
const INTEL_HITS_BACKFILL: &str = r#"
INSERT OR IGNORE INTO intel_hits(alert_id, indicator, type, source, ts)
SELECT id, json_extract(body, '$.summary.indicator'), json_extract(body, '$.summary."indicator.type"'),
       json_extract(body, '$.summary."intel.source"'), ts
FROM alerts WHERE kind = 'intel' AND json_extract(body, '$.summary.indicator') IS NOT NULL;
"#;

/// One indicator's hits.
#[derive(Debug, Serialize, Clone, schemars::JsonSchema)]
pub struct IntelHitCount {
    pub indicator: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub source: Option<String>,
    pub hits: u64,
    pub last_hit: Option<String>,
}

fn iso_us(us: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

pub fn now_iso() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct User {
    pub username: String,
    /// Role ids: built-in (`sysadmin`, `secadmin`, `auditor`, `analyst`,
    /// `responder`, `viewer`) or custom.
    pub roles: Vec<String>,
    /// The organisation the account belongs to; it sees that one and those
    /// below it.
    pub org: String,
    pub disabled: bool,
    pub created: String,
    pub last_login: Option<String>,
    /// When the password was last set (RFC 3339); the policy's expiry
    /// counts from here.
    pub password_changed: Option<String>,
}

const USER_COLUMNS: &str = "username, role, org, disabled, created, last_login, pw_changed";

fn row_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        username: r.get(0)?,
        roles: roles_of(&r.get::<_, String>(1)?),
        org: r.get(2)?,
        disabled: r.get::<_, i64>(3)? != 0,
        created: r.get(4)?,
        last_login: r.get(5)?,
        password_changed: r.get(6)?,
    })
}

/// The built-in system administrator role: the last enabled holder may
/// not lose it (nobody could manage accounts again).
const SYSADMIN: &str = "sysadmin";

/// Earlier password hashes kept per user, besides the current one.
pub const PASSWORD_HISTORY: usize = 5;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    pub owner: String,
    /// The organisation the token acts in; events sent with it belong here.
    pub org: String,
    pub created: String,
    pub last_used: Option<String>,
}

/// A live token as the front door needs it (see [`State::token`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAuth {
    pub id: String,
    pub owner: String,
    pub roles: Vec<String>,
    pub owner_roles: Vec<String>,
    pub org: String,
    pub owner_org: String,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub username: String,
    pub roles: Vec<String>,
    pub org: String,
    pub csrf: String,
}

/// An alert as the API shows it (see API.md): the detection's alert with
/// what analysts did beside it.
pub use taishi_alert::AlertRecord as Alert;
use taishi_alert::{AlertKind, AlertStatus, Level, Resolution};

/// The parts of an alert kept as JSON (the rest are columns).
#[derive(Serialize, Deserialize)]
struct Body {
    tags: Vec<String>,
    #[serde(rename = "@timestamp")]
    timestamp: DateTime<FixedOffset>,
    summary: serde_json::Map<String, J>,
    events: Vec<u64>,
    event: J,
    #[serde(default, skip_serializing_if = "J::is_null")]
    context: J,
}

/// Filters of the alert list (`GET /api/v1/alerts`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AlertFilter {
    pub status: Option<String>,
    /// Minimum level.
    pub level: Option<String>,
    pub rule_id: Option<String>,
    pub host: Option<String>,
    pub source_ip: Option<String>,
    pub q: Option<String>,
    /// Microseconds since the epoch.
    #[serde(skip)]
    pub from_us: Option<i64>,
    #[serde(skip)]
    pub to_us: Option<i64>,
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// The organisations the caller may see.
    #[serde(skip)]
    pub scope: Scope,
}

impl AlertFilter {
    fn where_clause(&self) -> (String, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value as V;
        let (scope, mut p) = self.scope.sql("org");
        let mut w = vec![scope];
        if let Some(s) = self.status.as_deref().filter(|s| !s.is_empty()) {
            // `open` = anything not closed.
            if s == "open" {
                w.push("status != 'closed'".into());
            } else {
                let parts: Vec<&str> = s.split(',').collect();
                w.push(format!("status IN ({})", vec!["?"; parts.len()].join(",")));
                p.extend(parts.iter().map(|x| V::Text(x.to_string())));
            }
        }
        if let Some(l) = self.level.as_deref().filter(|s| !s.is_empty()) {
            w.push("level >= ?".into());
            p.push(V::Integer(Level::parse(l).unwrap_or_default().rank()));
        }
        for (col, v) in [
            ("rule_id", &self.rule_id),
            ("host", &self.host),
            ("source_ip", &self.source_ip),
        ] {
            if let Some(v) = v.as_deref().filter(|s| !s.is_empty()) {
                w.push(format!("{col} = ?"));
                p.push(V::Text(v.to_string()));
            }
        }
        if let Some(q) = self.q.as_deref().filter(|s| !s.is_empty()) {
            w.push("(rule_title LIKE ? OR host LIKE ? OR source_ip LIKE ? OR id = ?)".into());
            let like = format!("%{}%", q.replace('%', "\\%"));
            p.extend([
                V::Text(like.clone()),
                V::Text(like.clone()),
                V::Text(like),
                V::Text(q.into()),
            ]);
        }
        if let Some(f) = self.from_us {
            w.push("ts >= ?".into());
            p.push(V::Integer(f));
        }
        if let Some(t) = self.to_us {
            w.push("ts < ?".into());
            p.push(V::Integer(t));
        }
        (w.join(" AND "), p)
    }
}

/// The overview's alert aggregations over a time range (see
/// `State::alert_overview`).
#[derive(Debug, Default)]
pub struct AlertOverview {
    /// `(bucket, level, count)`; bucket = (ts - start) / step.
    pub over_time: Vec<(i64, i64, u64)>,
    /// `(rule_id, title, max level, count, tags)`, most alerts first.
    pub rules: Vec<(String, String, i64, u64, Vec<String>)>,
    /// `(host, count, max level)`, most alerts first.
    pub hosts: Vec<(String, u64, i64)>,
    /// `(source ip, count)`, most alerts first.
    pub sources: Vec<(String, u64)>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AlertGroup {
    pub key: String,
    pub label: String,
    pub count: u64,
    pub max_level: Level,
    pub last: String,
}

#[derive(Debug, Serialize, Clone, schemars::JsonSchema)]
pub struct Comment {
    pub user: String,
    pub time: String,
    pub text: String,
}

/// A column that holds one of a fixed set of names.
fn named<T>(r: &rusqlite::Row<'_>, col: &str, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let v: String = r.get(col)?;
    parse(&v).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("{col}: unknown value `{v}`").into(),
        )
    })
}

fn kind_of(s: &str) -> Option<AlertKind> {
    serde_json::from_value(J::String(s.into())).ok()
}

fn row_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<Alert> {
    let body: String = r.get("body")?;
    let body: Body = serde_json::from_str(&body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let resolution: Option<String> = r.get("resolution")?;
    Ok(Alert {
        alert: taishi_alert::Alert {
            id: r.get("id")?,
            kind: named(r, "kind", kind_of)?,
            rule_id: r.get("rule_id")?,
            rule_title: r.get("rule_title")?,
            level: Level::from_rank(r.get("level")?),
            tags: body.tags,
            timestamp: body.timestamp,
            host: r.get("host")?,
            source_ip: r.get("source_ip")?,
            destination_ip: r.get("destination_ip")?,
            org: Some(r.get("org")?),
            retrospective: r.get::<_, i64>("retrospective")? != 0,
            summary: body.summary,
            event: body.event,
            events: body.events,
            context: body.context,
        },
        status: named(r, "status", AlertStatus::parse)?,
        resolution: resolution.as_deref().and_then(Resolution::parse),
        assignee: r.get("assignee")?,
        created: r.get("created")?,
        updated: r.get("updated")?,
    })
}

impl State {
    pub fn open(path: &Path) -> Result<State> {
        let db = Connection::open(path)?;
        db.execute_batch(SCHEMA)?;
        let had_hits: bool = db.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'intel_hits'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        db.execute_batch(INTEL_HITS_SCHEMA)?;
        if !had_hits {
            db.execute_batch(INTEL_HITS_BACKFILL)?;
        }
        upgrade_tenancy(&db)?;
        // `CREATE INDEX IF NOT EXISTS` above is the migration of older
        // databases; statistics let the planner pick between the indexes.
        if db.query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'",
            [],
            |r| r.get::<_, i64>(0),
        )? == 0
        {
            db.execute_batch("ANALYZE")?;
        }
        db.execute_batch("PRAGMA optimize")?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )?;
            r.execute_batch("PRAGMA cache_size = -32000")?;
            readers.push(Mutex::new(r));
        }
        Ok(State {
            db: Mutex::new(db),
            readers,
            next_reader: Default::default(),
            generation: Default::default(),
        })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes to alerts so far (inserts, status changes, comments).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// A free read-only connection (or the next one in turn when all are busy).
    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        for r in &self.readers {
            if let Ok(g) = r.try_lock() {
                return g;
            }
        }
        let i = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.readers.len();
        self.readers[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- users -------------------------------------------------------

    pub fn user_count(&self) -> Result<u64> {
        Ok(self
            .db()
            .query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// A new account in `org` holding `roles` (checked by the caller
    /// against the built-in and custom roles).
    pub fn create_user(
        &self,
        username: &str,
        org: &str,
        roles: &[String],
        pw_hash: &str,
    ) -> Result<User> {
        if username.is_empty() || username.len() > 64 || username.chars().any(char::is_whitespace) {
            return Err(StateError::Invalid(
                "username: 1–64 characters without spaces".into(),
            ));
        }
        self.org(org)?;
        let created = now_iso();
        let n = self.db().execute(
            "INSERT INTO users(username, role, pw_hash, created, org, pw_changed) VALUES (?1,?2,?3,?4,?5,?4)
             ON CONFLICT(username) DO NOTHING",
            params![username, roles_text(roles), pw_hash, created, org],
        )?;
        if n == 0 {
            return Err(StateError::Conflict(format!(
                "user `{username}` exists already"
            )));
        }
        self.user(username)?
            .ok_or_else(|| StateError::NotFound(username.into()))
    }

    pub fn user(&self, username: &str) -> Result<Option<User>> {
        Ok(self
            .db()
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?"),
                [username],
                row_user,
            )
            .optional()?)
    }

    /// Every user, or those of the organisations in `scope`.
    pub fn users(&self, scope: &Scope) -> Result<Vec<User>> {
        let db = self.db();
        let (w, p) = scope.sql("org");
        let mut st = db.prepare(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {w} ORDER BY username"
        ))?;
        let v = st
            .query_map(params_from_iter(p.iter()), row_user)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(v)
    }

    pub fn password_hash(&self, username: &str) -> Result<Option<(String, bool)>> {
        Ok(self
            .db()
            .query_row(
                "SELECT pw_hash, disabled FROM users WHERE username = ?",
                [username],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)),
            )
            .optional()?)
    }

    /// The user's current and up to `n - 1` earlier password hashes,
    /// newest first (a new password may be none of them).
    pub fn recent_password_hashes(&self, username: &str, n: usize) -> Result<Vec<String>> {
        let db = self.db();
        let mut v: Vec<String> = db
            .query_row(
                "SELECT pw_hash FROM users WHERE username = ?",
                [username],
                |r| r.get(0),
            )
            .optional()?
            .into_iter()
            .collect();
        let mut st = db.prepare(
            "SELECT pw_hash FROM password_history WHERE username = ?1 ORDER BY changed DESC, rowid DESC LIMIT ?2",
        )?;
        v.extend(
            st.query_map(params![username, n.saturating_sub(1) as i64], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?,
        );
        Ok(v)
    }

    /// Changes roles, password, disabled flag or organisation; `None`
    /// leaves each as it is. A new password moves the old hash to the
    /// history (the last [`PASSWORD_HISTORY`] are kept) and ends the
    /// user's sessions, as disabling does.
    pub fn update_user(
        &self,
        username: &str,
        roles: Option<&[String]>,
        pw_hash: Option<&str>,
        disabled: Option<bool>,
        org: Option<&str>,
    ) -> Result<User> {
        if let Some(o) = org {
            self.org(o)?;
        }
        let mut db = self.db();
        let tx = db.transaction()?;
        let loses_sysadmin = roles.is_some_and(|r| !r.iter().any(|x| x == SYSADMIN));
        if loses_sysadmin || disabled == Some(true) {
            last_admin_guard(&tx, username, "demote or disable")?;
        }
        if pw_hash.is_some() {
            tx.execute(
                "INSERT INTO password_history(username, pw_hash, changed)
                 SELECT username, pw_hash, ?2 FROM users WHERE username = ?1",
                params![username, now_iso()],
            )?;
            tx.execute(
                "DELETE FROM password_history WHERE username = ?1 AND rowid NOT IN
                 (SELECT rowid FROM password_history WHERE username = ?1 ORDER BY changed DESC, rowid DESC LIMIT ?2)",
                params![username, PASSWORD_HISTORY as i64],
            )?;
        }
        let n = tx.execute(
            "UPDATE users SET role = coalesce(?1, role), pw_hash = coalesce(?2, pw_hash),
             disabled = coalesce(?3, disabled), org = coalesce(?4, org),
             pw_changed = CASE WHEN ?2 IS NULL THEN pw_changed ELSE ?5 END WHERE username = ?6",
            params![
                roles.map(roles_text),
                pw_hash,
                disabled.map(i64::from),
                org,
                now_iso(),
                username
            ],
        )?;
        if n == 0 {
            return Err(StateError::NotFound(format!("no user `{username}`")));
        }
        if disabled == Some(true) || pw_hash.is_some() || org.is_some() {
            tx.execute("DELETE FROM sessions WHERE username = ?", [username])?;
        }
        tx.commit()?;
        drop(db);
        self.user(username)?
            .ok_or_else(|| StateError::NotFound(username.into()))
    }

    pub fn delete_user(&self, username: &str) -> Result<()> {
        let db = self.db();
        last_admin_guard(&db, username, "delete")?;
        let n = db.execute("DELETE FROM users WHERE username = ?", [username])?;
        if n == 0 {
            return Err(StateError::NotFound(format!("no user `{username}`")));
        }
        db.execute("DELETE FROM sessions WHERE username = ?", [username])?;
        db.execute("DELETE FROM tokens WHERE owner = ?", [username])?;
        db.execute(
            "DELETE FROM password_history WHERE username = ?",
            [username],
        )?;
        Ok(())
    }

    pub fn touch_login(&self, username: &str) -> Result<()> {
        self.db().execute(
            "UPDATE users SET last_login = ? WHERE username = ?",
            params![now_iso(), username],
        )?;
        Ok(())
    }

    // ---- custom roles --------------------------------------------------

    pub fn custom_roles(&self) -> Result<Vec<taishi_auth::CustomRole>> {
        let db = self.db();
        let mut st = db.prepare("SELECT id, name, permissions FROM roles ORDER BY id")?;
        let v = st
            .query_map([], |r| {
                let perms: String = r.get(2)?;
                Ok(taishi_auth::CustomRole {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    // A permission a later version dropped is ignored, not fatal.
                    permissions: perms
                        .split_whitespace()
                        .filter_map(taishi_auth::Permission::parse)
                        .collect(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(v)
    }

    /// Creates or replaces a custom role (validated by `CustomRole::new`).
    pub fn put_custom_role(&self, role: &taishi_auth::CustomRole) -> Result<()> {
        let perms = role
            .permissions
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(" ");
        self.db().execute(
            "INSERT INTO roles(id, name, permissions, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET name = ?2, permissions = ?3",
            params![role.id, role.name, perms, now_iso()],
        )?;
        Ok(())
    }

    /// Deletes a custom role no account or token holds.
    pub fn delete_custom_role(&self, id: &str) -> Result<()> {
        let db = self.db();
        let like = format!("% {id} %");
        let holders: i64 = db.query_row(
            "SELECT (SELECT count(*) FROM users WHERE ' ' || role || ' ' LIKE ?1)
                  + (SELECT count(*) FROM tokens WHERE ' ' || role || ' ' LIKE ?1)",
            [&like],
            |r| r.get(0),
        )?;
        if holders > 0 {
            return Err(StateError::Conflict(format!(
                "role `{id}` is held by {holders} account(s) or token(s); take it from them first"
            )));
        }
        if db.execute("DELETE FROM roles WHERE id = ?", [id])? == 0 {
            return Err(StateError::NotFound(format!("no custom role `{id}`")));
        }
        Ok(())
    }

    // ---- sessions and tokens -----------------------------------------

    /// A session that ends at `expires` (seconds since the epoch) at the
    /// latest: the absolute timeout.
    pub fn create_session(
        &self,
        id_hash: &str,
        username: &str,
        csrf: &str,
        expires: i64,
    ) -> Result<()> {
        let db = self.db();
        let now = Utc::now().timestamp();
        db.execute("DELETE FROM sessions WHERE expires < ?", [now])?;
        db.execute(
            "INSERT INTO sessions(id_hash, username, csrf, expires, created, last_seen) VALUES (?1,?2,?3,?4,?5,?5)",
            params![id_hash, username, csrf, expires, now],
        )?;
        Ok(())
    }

    /// A live session: not past its absolute end, used within the last
    /// `idle_secs`, its user enabled. Its activity is written at most once
    /// a minute, so the idle timeout is exact to a minute.
    pub fn session(&self, id_hash: &str, idle_secs: i64) -> Result<Option<Session>> {
        let now = Utc::now().timestamp();
        let s = self
            .reader()
            .query_row(
                "SELECT s.username, u.role, u.org, s.csrf, s.last_seen FROM sessions s
                 JOIN users u ON u.username = s.username
                 WHERE s.id_hash = ?1 AND s.expires >= ?2 AND s.last_seen >= ?3 AND u.disabled = 0",
                params![id_hash, now, now - idle_secs],
                |r| {
                    Ok((
                        Session {
                            username: r.get(0)?,
                            roles: roles_of(&r.get::<_, String>(1)?),
                            org: r.get(2)?,
                            csrf: r.get(3)?,
                        },
                        r.get::<_, i64>(4)?,
                    ))
                },
            )
            .optional()?;
        if let Some((_, seen)) = &s {
            if now - seen >= 60 {
                self.db().execute(
                    "UPDATE sessions SET last_seen = ?1 WHERE id_hash = ?2",
                    params![now, id_hash],
                )?;
            }
        }
        Ok(s.map(|(s, _)| s))
    }

    pub fn delete_session(&self, id_hash: &str) -> Result<()> {
        self.db()
            .execute("DELETE FROM sessions WHERE id_hash = ?", [id_hash])?;
        Ok(())
    }

    /// A token of `owner` holding `roles`, binding what it sends to `org`.
    pub fn create_token(
        &self,
        id: &str,
        name: &str,
        roles: &[String],
        owner: &str,
        org: &str,
        hash: &str,
    ) -> Result<Token> {
        self.org(org)?;
        let created = now_iso();
        self.db().execute(
            "INSERT INTO tokens(id, name, role, owner, hash, created, org) VALUES (?,?,?,?,?,?,?)",
            params![id, name, roles_text(roles), owner, hash, created, org],
        )?;
        Ok(Token {
            id: id.into(),
            name: name.into(),
            roles: roles.to_vec(),
            owner: owner.into(),
            org: org.into(),
            created,
            last_used: None,
        })
    }

    /// A live token: its id, owner, roles, its owner's current roles (the
    /// caller grants the intersection, so a token never has more power
    /// than the person who holds it and a demotion reaches the tokens made
    /// before it) and the organisation it binds to. A deleted or disabled
    /// owner's tokens are not live.
    pub fn token(&self, hash: &str) -> Result<Option<TokenAuth>> {
        let db = self.db();
        let t: Option<TokenAuth> = db
            .query_row(
                "SELECT t.id, t.owner, t.role, u.role, t.org, u.org FROM tokens t
                 JOIN users u ON u.username = t.owner
                 WHERE t.hash = ? AND u.disabled = 0",
                [hash],
                |r| {
                    Ok(TokenAuth {
                        id: r.get(0)?,
                        owner: r.get(1)?,
                        roles: roles_of(&r.get::<_, String>(2)?),
                        owner_roles: roles_of(&r.get::<_, String>(3)?),
                        org: r.get(4)?,
                        owner_org: r.get(5)?,
                    })
                },
            )
            .optional()?;
        // Senders call with their token on every batch: `last_used` is
        // written at most once a minute, not once per request.
        if let Some(t) = &t {
            let stale = (Utc::now() - chrono::TimeDelta::minutes(1))
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            db.execute(
                "UPDATE tokens SET last_used = ?1 WHERE id = ?2 AND (last_used IS NULL OR last_used < ?3)",
                params![now_iso(), t.id, stale],
            )?;
        }
        Ok(t)
    }

    /// Tokens of `owner`, or every token of the organisations in `scope`.
    pub fn tokens(&self, owner: Option<&str>, scope: &Scope) -> Result<Vec<Token>> {
        let db = self.db();
        let (w, mut p) = scope.sql("org");
        p.push(owner.map_or(rusqlite::types::Value::Null, |o| {
            rusqlite::types::Value::Text(o.into())
        }));
        let mut st = db.prepare(&format!(
            "SELECT id, name, role, owner, org, created, last_used FROM tokens
             WHERE {w} AND (?{n} IS NULL OR owner = ?{n}) ORDER BY created",
            n = p.len()
        ))?;
        let v = st
            .query_map(params_from_iter(p.iter()), |r| {
                Ok(Token {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    roles: roles_of(&r.get::<_, String>(2)?),
                    owner: r.get(3)?,
                    org: r.get(4)?,
                    created: r.get(5)?,
                    last_used: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(v)
    }

    /// Revokes a token: `owner`'s own, or any of an organisation in `scope`.
    pub fn delete_token(&self, id: &str, owner: Option<&str>, scope: &Scope) -> Result<()> {
        let (w, mut p) = scope.sql("org");
        p.push(rusqlite::types::Value::Text(id.into()));
        let idn = p.len();
        p.push(owner.map_or(rusqlite::types::Value::Null, |o| {
            rusqlite::types::Value::Text(o.into())
        }));
        let n = self.db().execute(
            &format!(
                "DELETE FROM tokens WHERE {w} AND id = ?{idn} AND (?{on} IS NULL OR owner = ?{on})",
                on = p.len()
            ),
            params_from_iter(p.iter()),
        )?;
        if n == 0 {
            return Err(StateError::NotFound(format!("no token `{id}`")));
        }
        Ok(())
    }

    // ---- alerts --------------------------------------------------------

    /// Stores alerts in one transaction, skipping ids already held (a
    /// replayed journal offers them again); says for each whether it was
    /// new.
    pub fn insert_alerts(&self, alerts: &[Alert]) -> Result<Vec<bool>> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let mut fresh = Vec::with_capacity(alerts.len());
        {
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO alerts(id, ts, created, updated, kind, rule_id, rule_title, level,
                 host, source_ip, destination_ip, status, resolution, assignee, retrospective, body, org)
                 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            )?;
            for a in alerts {
                let org = a.org.as_deref().unwrap_or(ROOT_ORG);
                let body = serde_json::to_string(&Body {
                    tags: a.tags.clone(),
                    timestamp: a.timestamp,
                    summary: a.summary.clone(),
                    events: a.events.clone(),
                    event: a.event.clone(),
                    context: a.context.clone(),
                })
                .map_err(|e| StateError::Invalid(e.to_string()))?;
                if a.kind == AlertKind::Intel {
                    if let Some(ind) = a.summary.get("indicator").and_then(|v| v.as_str()) {
                        let text = |k: &str| a.summary.get(k).and_then(|v| v.as_str());
                        tx.prepare_cached(
                            "INSERT OR IGNORE INTO intel_hits(alert_id, indicator, type, source, ts, org)
                             VALUES (?,?,?,?,?,?)",
                        )?
                        .execute(params![
                            a.id,
                            ind,
                            text("indicator.type"),
                            text("intel.source"),
                            a.timestamp.timestamp_micros(),
                            org
                        ])?;
                    }
                }
                let n = st.execute(params![
                    a.id,
                    a.timestamp.timestamp_micros(),
                    a.created,
                    a.updated,
                    a.kind.name(),
                    a.rule_id,
                    a.rule_title,
                    a.level.rank(),
                    a.host,
                    a.source_ip,
                    a.destination_ip,
                    a.status.name(),
                    a.resolution.map(Resolution::name),
                    a.assignee,
                    a.retrospective as i64,
                    body,
                    org
                ])?;
                fresh.push(n == 1);
            }
        }
        tx.commit()?;
        self.changed();
        Ok(fresh)
    }

    pub fn alerts(&self, f: &AlertFilter) -> Result<(u64, Vec<Alert>)> {
        let (w, p) = f.where_clause();
        let db = self.reader();
        let total: i64 = db.query_row(
            &format!("SELECT count(*) FROM alerts WHERE {w}"),
            params_from_iter(p.iter()),
            |r| r.get(0),
        )?;
        let order = match f.sort.as_deref() {
            Some("time") => "ts ASC",
            Some("level") => "level ASC, ts DESC",
            Some("-level") => "level DESC, ts DESC",
            _ => "ts DESC",
        };
        let limit = f.limit.unwrap_or(50).min(1000);
        let offset = f.offset.unwrap_or(0);
        // The page's rowids first, then its rows: sorting whole rows (with
        // their JSON bodies) of 100,000 alerts costs more than the query.
        let mut st = db.prepare(&format!(
            "SELECT * FROM alerts WHERE rowid IN (SELECT rowid FROM alerts WHERE {w}
             ORDER BY {order} LIMIT {limit} OFFSET {offset}) ORDER BY {order}"
        ))?;
        let v = st
            .query_map(params_from_iter(p.iter()), row_alert)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total as u64, v))
    }

    pub fn alert_groups(&self, by: &str, f: &AlertFilter) -> Result<Vec<AlertGroup>> {
        // Keys only in the grouping (read from the covering index); a rule's
        // title is looked up for the groups shown.
        let (key, label) = match by {
            "rule" => ("rule_id", "''"),
            "host" => ("coalesce(host, '')", "coalesce(host, '')"),
            "source" => ("coalesce(source_ip, '')", "coalesce(source_ip, '')"),
            other => {
                return Err(StateError::Invalid(format!(
                    "by: `{other}` is not one of rule, host, source"
                )))
            }
        };
        let (w, p) = f.where_clause();
        let db = self.reader();
        let mut st = db.prepare(&format!(
            "SELECT {key} AS k, {label}, count(*), max(level), max(ts) FROM alerts WHERE {w}
             GROUP BY k ORDER BY count(*) DESC LIMIT {}",
            f.limit.unwrap_or(100).min(1000)
        ))?;
        let mut v = st
            .query_map(params_from_iter(p.iter()), |r| {
                let last: i64 = r.get(4)?;
                Ok(AlertGroup {
                    key: r.get(0)?,
                    label: r.get(1)?,
                    count: r.get::<_, i64>(2)? as u64,
                    max_level: Level::from_rank(r.get(3)?),
                    last: DateTime::from_timestamp_micros(last)
                        .unwrap_or_default()
                        .to_rfc3339_opts(SecondsFormat::Millis, true),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if by == "rule" {
            let mut title = db.prepare_cached(
                "SELECT rule_title FROM alerts WHERE rule_id = ? ORDER BY ts DESC LIMIT 1",
            )?;
            for g in &mut v {
                g.label = title
                    .query_row([&g.key], |r| r.get(0))
                    .optional()?
                    .unwrap_or_default();
            }
        }
        Ok(v)
    }

    pub fn alert(&self, id: &str) -> Result<Alert> {
        self.reader()
            .query_row("SELECT * FROM alerts WHERE id = ?", [id], row_alert)
            .optional()?
            .ok_or_else(|| StateError::NotFound(format!("no alert `{id}`")))
    }

    /// Changes status, resolution or assignee; `None` leaves a column as is,
    /// `Some(None)` clears it.
    pub fn update_alert(
        &self,
        id: &str,
        status: Option<AlertStatus>,
        resolution: Option<Option<Resolution>>,
        assignee: Option<Option<&str>>,
    ) -> Result<Alert> {
        {
            let db = self.db();
            let n = db.execute(
                "UPDATE alerts SET status = coalesce(?1, status),
                   resolution = CASE WHEN ?2 THEN ?3 ELSE resolution END,
                   assignee = CASE WHEN ?4 THEN ?5 ELSE assignee END,
                   updated = ?6 WHERE id = ?7",
                params![
                    status.map(AlertStatus::name),
                    resolution.is_some(),
                    resolution.flatten().map(Resolution::name),
                    assignee.is_some(),
                    assignee.flatten(),
                    now_iso(),
                    id
                ],
            )?;
            if n == 0 {
                return Err(StateError::NotFound(format!("no alert `{id}`")));
            }
        }
        self.changed();
        self.alert(id)
    }

    pub fn add_comment(&self, id: &str, user: &str, text: &str) -> Result<Comment> {
        self.alert(id)?;
        let c = Comment {
            user: user.into(),
            time: now_iso(),
            text: text.into(),
        };
        let db = self.db();
        db.execute(
            "INSERT INTO comments(alert_id, user, time, text) VALUES (?,?,?,?)",
            params![id, c.user, c.time, c.text],
        )?;
        db.execute(
            "UPDATE alerts SET updated = ? WHERE id = ?",
            params![c.time, id],
        )?;
        self.changed();
        Ok(c)
    }

    pub fn comments(&self, id: &str) -> Result<Vec<Comment>> {
        let db = self.reader();
        let mut st =
            db.prepare("SELECT user, time, text FROM comments WHERE alert_id = ? ORDER BY rowid")?;
        let v = st
            .query_map([id], |r| {
                Ok(Comment {
                    user: r.get(0)?,
                    time: r.get(1)?,
                    text: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(v)
    }

    /// Alert counts for the overview: by level, open, total in the range.
    pub fn alert_counts(
        &self,
        from_us: i64,
        to_us: i64,
        scope: &Scope,
    ) -> Result<(u64, u64, [u64; 5])> {
        let db = self.reader();
        let mut levels = [0u64; 5];
        let (w, mut p) = scope.sql("org");
        p.extend([from_us.into(), to_us.into()]);
        let mut st = db.prepare_cached(&format!(
            "SELECT level, count(*) FROM alerts WHERE {w} AND ts >= ? AND ts < ? GROUP BY level"
        ))?;
        let rows = st.query_map(params_from_iter(p.iter()), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for r in rows {
            let (l, n) = r?;
            levels[l.clamp(0, 4) as usize] += n as u64;
        }
        let open: i64 = db.query_row(
            &format!("SELECT count(*) FROM alerts WHERE {w} AND status != 'closed' AND ts >= ? AND ts < ?"),
            params_from_iter(p.iter()),
            |r| r.get(0),
        )?;
        Ok((levels.iter().sum(), open as u64, levels))
    }

    /// The overview's alert aggregations over `[from_us, to_us)`, done by
    /// SQLite on the covering index rather than row by row: counts per
    /// `step`-long bucket from `start` and level, per rule (with the tags of
    /// its newest alert: a rule's alerts share its tags), per host and per
    /// source address.
    pub fn alert_overview(
        &self,
        from_us: i64,
        to_us: i64,
        start: i64,
        step: i64,
        top: usize,
        scope: &Scope,
    ) -> Result<AlertOverview> {
        let db = self.reader();
        // Each query below numbers its own parameters; the scope's follow.
        let scoped = |fixed: Vec<rusqlite::types::Value>| {
            let (w, sp) = scope.sql_at("org", fixed.len() + 1);
            let mut v = fixed;
            v.extend(sp);
            (w, v)
        };
        let mut o = AlertOverview::default();
        let (w, p) = scoped(vec![
            start.into(),
            step.max(1).into(),
            from_us.into(),
            to_us.into(),
        ]);
        let mut st = db.prepare_cached(&format!(
            "SELECT (ts - ?1) / ?2 AS b, level, count(*) FROM alerts
             WHERE ts >= ?3 AND ts < ?4 AND {w} GROUP BY b, level"
        ))?;
        o.over_time = st
            .query_map(params_from_iter(p), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // Every rule of the range: the ATT&CK matrix sums over all of them.
        let (w, p) = scoped(vec![from_us.into(), to_us.into()]);
        let mut st = db.prepare_cached(&format!(
            "SELECT rule_id, max(level), count(*), max(ts) FROM alerts
             WHERE ts >= ?1 AND ts < ?2 AND {w}
             GROUP BY rule_id ORDER BY count(*) DESC LIMIT 5000"
        ))?;
        let rules = st
            .query_map(params_from_iter(p), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut newest = db.prepare_cached(
            "SELECT rule_title, body FROM alerts WHERE rule_id = ?1 AND ts = ?2 LIMIT 1",
        )?;
        for (id, level, n, ts) in rules {
            let (title, body): (String, String) = newest
                .query_row(params![id, ts], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .unwrap_or_default();
            let tags = serde_json::from_str::<J>(&body)
                .ok()
                .and_then(|b| b.get("tags").cloned())
                .and_then(|t| serde_json::from_value::<Vec<String>>(t).ok())
                .unwrap_or_default();
            o.rules.push((id, title, level, n, tags));
        }
        let (w, p) = scoped(vec![from_us.into(), to_us.into(), (top as i64).into()]);
        let mut st = db.prepare_cached(&format!(
            "SELECT host, count(*), max(level) FROM alerts
             WHERE ts >= ?1 AND ts < ?2 AND host IS NOT NULL AND {w}
             GROUP BY host ORDER BY count(*) DESC LIMIT ?3"
        ))?;
        o.hosts = st
            .query_map(params_from_iter(p), |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // More than `top`: the caller keeps those that are IP addresses.
        let (w, p) = scoped(vec![
            from_us.into(),
            to_us.into(),
            ((top * 5) as i64).into(),
        ]);
        let mut st = db.prepare_cached(&format!(
            "SELECT source_ip, count(*) FROM alerts
             WHERE ts >= ?1 AND ts < ?2 AND source_ip IS NOT NULL AND {w}
             GROUP BY source_ip ORDER BY count(*) DESC LIMIT ?3"
        ))?;
        o.sources = st
            .query_map(params_from_iter(p), |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(o)
    }

    // ---- rules and settings ---------------------------------------------

    // ---- threat-intel hits --------------------------------------------

    /// Hits and the last hit of each of `values` (those with none are absent).
    pub fn intel_hit_counts(
        &self,
        values: &[&str],
        scope: &Scope,
    ) -> Result<std::collections::HashMap<String, (u64, Option<String>)>> {
        let db = self.reader();
        let (w, sp) = scope.sql_at("org", 2);
        let mut st = db.prepare_cached(&format!(
            "SELECT count(*), max(ts) FROM intel_hits WHERE indicator = ?1 AND {w}"
        ))?;
        let mut out = std::collections::HashMap::new();
        for v in values {
            let mut p = vec![rusqlite::types::Value::Text(v.to_string())];
            p.extend(sp.iter().cloned());
            let (n, ts): (i64, Option<i64>) =
                st.query_row(params_from_iter(p), |r| Ok((r.get(0)?, r.get(1)?)))?;
            if n > 0 {
                out.insert(v.to_string(), (n as u64, ts.and_then(iso_us)));
            }
        }
        Ok(out)
    }

    /// The intel alerts raised by one indicator, newest first.
    pub fn intel_hits(
        &self,
        indicator: &str,
        limit: usize,
        offset: usize,
        scope: &Scope,
    ) -> Result<(u64, Vec<Alert>)> {
        let db = self.reader();
        let (w, mut p) = scope.sql_at("h.org", 2);
        p.insert(0, rusqlite::types::Value::Text(indicator.into()));
        let total: i64 = db.query_row(
            &format!("SELECT count(*) FROM intel_hits h WHERE h.indicator = ?1 AND {w}"),
            params_from_iter(p.iter()),
            |r| r.get(0),
        )?;
        let mut st = db.prepare(&format!(
            "SELECT a.* FROM intel_hits h JOIN alerts a ON a.id = h.alert_id
             WHERE h.indicator = ?1 AND {w} ORDER BY h.ts DESC LIMIT {} OFFSET {offset}",
            limit.min(1000)
        ))?;
        let v = st
            .query_map(params_from_iter(p.iter()), row_alert)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total as u64, v))
    }

    /// Indicators by number of hits.
    pub fn intel_top(&self, limit: usize, scope: &Scope) -> Result<Vec<IntelHitCount>> {
        let db = self.reader();
        let (w, p) = scope.sql("org");
        let mut st = db.prepare(&format!(
            "SELECT indicator, max(type), max(source), count(*) AS n, max(ts) FROM intel_hits
             WHERE {w} GROUP BY indicator ORDER BY n DESC, max(ts) DESC LIMIT {}",
            limit.min(1000)
        ))?;
        let v = st
            .query_map(params_from_iter(p.iter()), |r| {
                Ok(IntelHitCount {
                    indicator: r.get(0)?,
                    kind: r.get(1)?,
                    source: r.get(2)?,
                    hits: r.get::<_, i64>(3)? as u64,
                    last_hit: r.get::<_, Option<i64>>(4)?.and_then(iso_us),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(v)
    }

    pub fn rule_switches(&self) -> Result<Vec<(String, bool)>> {
        let db = self.db();
        let mut st = db.prepare("SELECT rule_id, enabled FROM rule_switch")?;
        let v = st
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(v)
    }

    pub fn set_rule_enabled(&self, rule_id: &str, enabled: bool) -> Result<()> {
        self.db().execute(
            "INSERT INTO rule_switch(rule_id, enabled) VALUES (?1, ?2)
             ON CONFLICT(rule_id) DO UPDATE SET enabled = ?2",
            params![rule_id, enabled as i64],
        )?;
        Ok(())
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .db()
            .query_row("SELECT value FROM settings WHERE key = ?", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.db().execute(
            "INSERT INTO settings(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }
}

/// Refuses to take away the last enabled administrator: with none left,
/// nobody could manage users, outputs or feeds again short of editing the
/// database.
fn last_admin_guard(db: &Connection, username: &str, what: &str) -> Result<()> {
    let holds = format!("% {SYSADMIN} %");
    let is_admin: bool = db
        .query_row(
            "SELECT ' ' || role || ' ' LIKE ?1 AND disabled = 0 FROM users WHERE username = ?2",
            params![holds, username],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false);
    if !is_admin {
        return Ok(());
    }
    let others: i64 = db.query_row(
        "SELECT count(*) FROM users WHERE ' ' || role || ' ' LIKE ?1 AND disabled = 0 AND username != ?2",
        params![holds, username],
        |r| r.get(0),
    )?;
    if others == 0 {
        return Err(StateError::Conflict(format!(
            "cannot {what} `{username}`: it is the last system administrator; give another account the `{SYSADMIN}` role first"
        )));
    }
    Ok(())
}

/// The service's alert store is this database.
impl taishi_runtime::AlertStore for State {
    fn insert(&self, alerts: &[Alert]) -> std::result::Result<Vec<bool>, taishi_runtime::BoxError> {
        Ok(self.insert_alerts(alerts)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, level: &str, host: &str) -> Alert {
        let mut a = taishi_alert::Alert::new(
            AlertKind::Sigma,
            "r1",
            "Rule one",
            Level::parse(level).unwrap(),
            DateTime::parse_from_rfc3339("2026-11-23T08:00:00+08:00").unwrap(),
        );
        a.id = id.into();
        a.tags = vec!["attack.execution".into()];
        a.host = Some(host.into());
        a.events = vec![7];
        a.record()
    }

    #[test]
    fn alert_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.db")).unwrap();
        s.insert_alerts(&[alert("a", "high", "h1"), alert("b", "low", "h2")])
            .unwrap();
        let (n, v) = s
            .alerts(&AlertFilter {
                level: Some("medium".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((n, v[0].id.as_str()), (1, "a"));
        let a = s
            .update_alert(
                "a",
                Some(AlertStatus::Acknowledged),
                None,
                Some(Some("bob")),
            )
            .unwrap();
        assert_eq!(
            (a.status, a.assignee.as_deref()),
            (AlertStatus::Acknowledged, Some("bob"))
        );
        let a = s
            .update_alert(
                "a",
                Some(AlertStatus::Closed),
                Some(Some(Resolution::FalsePositive)),
                None,
            )
            .unwrap();
        assert_eq!(a.resolution, Some(Resolution::FalsePositive));
        assert_eq!(a.assignee.as_deref(), Some("bob"));
        s.add_comment("a", "bob", "benign admin script").unwrap();
        assert_eq!(s.comments("a").unwrap().len(), 1);
        let g = s.alert_groups("host", &AlertFilter::default()).unwrap();
        assert_eq!(g.len(), 2);
        let (_, open) = s
            .alerts(&AlertFilter {
                status: Some("open".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(open.len(), 1);
        assert!(s
            .update_alert("zzz", Some(AlertStatus::Closed), None, None)
            .is_err());
    }

    fn r(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_token_carries_its_roles_its_owners_and_its_organisation() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.db")).unwrap();
        s.create_user("root", ROOT_ORG, &r(&["sysadmin"]), "h")
            .unwrap();
        s.create_org("op-a", ROOT_ORG, "Operator A").unwrap();
        s.create_user("bob", "op-a", &r(&["analyst"]), "h").unwrap();
        s.create_token("t1", "ci", &r(&["analyst"]), "bob", "op-a", "hash1")
            .unwrap();
        let t = s.token("hash1").unwrap().unwrap();
        assert_eq!(
            (t.roles, t.owner_roles, t.org.as_str(), t.owner_org.as_str()),
            (r(&["analyst"]), r(&["analyst"]), "op-a", "op-a")
        );
        s.update_user("bob", Some(&r(&["viewer"])), None, None, None)
            .unwrap();
        assert_eq!(
            s.token("hash1").unwrap().unwrap().owner_roles,
            r(&["viewer"])
        );
        s.update_user("bob", None, None, Some(true), None).unwrap();
        assert_eq!(s.token("hash1").unwrap(), None);
        s.update_user("bob", None, None, Some(false), None).unwrap();
        let scope_a = Scope::Orgs(vec!["op-a".into()]);
        assert_eq!(s.tokens(None, &scope_a).unwrap().len(), 1);
        assert_eq!(
            s.tokens(None, &Scope::Orgs(vec![ROOT_ORG.into()]))
                .unwrap()
                .len(),
            0
        );
        assert!(s.delete_token("t1", None, &Scope::Orgs(vec![])).is_err());
        s.delete_user("bob").unwrap();
        assert_eq!(s.token("hash1").unwrap(), None);
        assert!(s
            .create_token("t2", "x", &r(&["viewer"]), "root", "nowhere", "h2")
            .is_err());
    }

    #[test]
    fn the_last_enabled_system_administrator_stays() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.db")).unwrap();
        s.create_user("root", ROOT_ORG, &r(&["sysadmin"]), "h")
            .unwrap();
        let conflict = |r: Result<User>| matches!(r, Err(StateError::Conflict(_)));
        assert!(conflict(s.update_user(
            "root",
            Some(&r(&["viewer"])),
            None,
            None,
            None
        )));
        assert!(conflict(s.update_user(
            "root",
            None,
            None,
            Some(true),
            None
        )));
        assert!(matches!(
            s.delete_user("root"),
            Err(StateError::Conflict(_))
        ));
        // Changing the password or re-stating the role is fine.
        assert!(s
            .update_user(
                "root",
                Some(&r(&["sysadmin", "viewer"])),
                Some("h2"),
                None,
                None
            )
            .is_ok());
        s.create_user("ops", ROOT_ORG, &r(&["sysadmin"]), "h")
            .unwrap();
        s.update_user("ops", None, None, Some(true), None).unwrap();
        // A disabled administrator is no stand-in.
        assert!(conflict(s.update_user(
            "root",
            Some(&r(&["analyst"])),
            None,
            None,
            None
        )));
        s.update_user("ops", None, None, Some(false), None).unwrap();
        assert!(s
            .update_user("root", Some(&r(&["analyst"])), None, None, None)
            .is_ok());
        assert!(matches!(s.delete_user("ops"), Err(StateError::Conflict(_))));
        assert!(s.delete_user("root").is_ok());
    }

    #[test]
    fn passwords_keep_a_history() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.db")).unwrap();
        s.create_user("u", ROOT_ORG, &r(&["viewer"]), "h0").unwrap();
        for i in 1..=8 {
            s.update_user("u", None, Some(&format!("h{i}")), None, None)
                .unwrap();
        }
        let recent = s.recent_password_hashes("u", 3).unwrap();
        assert_eq!(recent, r(&["h8", "h7", "h6"]));
        assert_eq!(
            s.recent_password_hashes("u", 100).unwrap().len(),
            PASSWORD_HISTORY + 1
        );
        assert!(s.user("u").unwrap().unwrap().password_changed.is_some());
    }

    #[test]
    fn organisations_form_a_tree_and_scope_what_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.db")).unwrap();
        s.create_org("op-a", ROOT_ORG, "A").unwrap();
        s.create_org("op-b", ROOT_ORG, "B").unwrap();
        s.create_org("op-a-1", "op-a", "A subsidiary").unwrap();
        let mut sub = s.subtree("op-a").unwrap();
        sub.sort();
        assert_eq!(sub, r(&["op-a", "op-a-1"]));
        assert_eq!(s.subtree(ROOT_ORG).unwrap().len(), 4);
        assert_eq!(
            s.ancestry("op-a-1").unwrap(),
            r(&[ROOT_ORG, "op-a", "op-a-1"])
        );
        let ids: Vec<String> = s
            .orgs(&Scope::All)
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids[0], ROOT_ORG);
        assert!(ids.iter().position(|x| x == "op-a") < ids.iter().position(|x| x == "op-a-1"));
        assert!(matches!(
            s.create_org("op-a", ROOT_ORG, "again"),
            Err(StateError::Conflict(_))
        ));
        assert!(matches!(
            s.create_org("X!", ROOT_ORG, "bad"),
            Err(StateError::Invalid(_))
        ));
        assert!(matches!(
            s.create_org("op-c", "nowhere", "c"),
            Err(StateError::NotFound(_))
        ));
        let mut parent = "op-a-1".to_string();
        for i in 0..10 {
            match s.create_org(&format!("deep-{i}"), &parent, "d") {
                Ok(o) => parent = o.id,
                Err(e) => {
                    assert!(matches!(e, StateError::Invalid(_)), "{e}");
                    break;
                }
            }
        }
        assert!(s.ancestry(&parent).unwrap().len() <= orgs::MAX_DEPTH + 1);

        let mut a = alert("x1", "high", "h1");
        a.alert.org = Some("op-a-1".into());
        let mut b = alert("x2", "high", "h2");
        b.alert.org = Some("op-b".into());
        s.insert_alerts(&[a, b, alert("x3", "low", "h3")]).unwrap();
        let seen = |scope: Scope| {
            let (n, v) = s
                .alerts(&AlertFilter {
                    scope,
                    ..Default::default()
                })
                .unwrap();
            let mut ids: Vec<String> = v.into_iter().map(|a| a.id.clone()).collect();
            ids.sort();
            (n, ids)
        };
        assert_eq!(
            seen(Scope::Orgs(s.subtree("op-a").unwrap())),
            (1, r(&["x1"]))
        );
        assert_eq!(seen(Scope::Orgs(r(&["op-b"]))), (1, r(&["x2"])));
        assert_eq!(seen(Scope::All).0, 3);
        assert_eq!(s.alert("x3").unwrap().org.as_deref(), Some(ROOT_ORG));
        let (_, _, levels) = s
            .alert_counts(0, i64::MAX, &Scope::Orgs(r(&["op-b"])))
            .unwrap();
        assert_eq!(levels.iter().sum::<u64>(), 1);
        let o = s
            .alert_overview(
                0,
                i64::MAX,
                0,
                3_600_000_000,
                10,
                &Scope::Orgs(r(&["op-a-1"])),
            )
            .unwrap();
        assert_eq!(o.hosts, vec![("h1".to_string(), 1, Level::High.rank())]);
        assert!(matches!(s.delete_org("op-b"), Err(StateError::Conflict(_))));
        assert!(matches!(
            s.delete_org(ROOT_ORG),
            Err(StateError::Conflict(_))
        ));
    }

    #[test]
    fn an_old_database_is_brought_to_organisations_and_roles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let db = Connection::open(&path).unwrap();
            db.execute_batch(SCHEMA).unwrap();
            db.execute(
                "INSERT INTO users(username, role, pw_hash, created) VALUES ('admin', 'admin', 'h', 'x')",
                [],
            )
            .unwrap();
        }
        let s = State::open(&path).unwrap();
        let u = s.user("admin").unwrap().unwrap();
        assert_eq!(u.roles, r(&["sysadmin", "secadmin", "analyst"]));
        assert_eq!(u.org, ROOT_ORG);
        drop(s);
        // Opening again changes nothing.
        let s = State::open(&path).unwrap();
        assert_eq!(s.user("admin").unwrap().unwrap().roles.len(), 3);
    }

    #[test]
    fn custom_roles_are_kept_and_not_deleted_while_held() {
        use taishi_auth::{CustomRole, Permission as P};
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(&dir.path().join("state.db")).unwrap();
        let role = CustomRole::new("hunter", "Hunter", vec![P::Search, P::AlertsRead]).unwrap();
        s.put_custom_role(&role).unwrap();
        assert_eq!(s.custom_roles().unwrap(), vec![role]);
        s.create_user("h", ROOT_ORG, &r(&["hunter"]), "x").unwrap();
        assert!(matches!(
            s.delete_custom_role("hunter"),
            Err(StateError::Conflict(_))
        ));
        s.delete_user("h").unwrap();
        s.delete_custom_role("hunter").unwrap();
        assert!(s.custom_roles().unwrap().is_empty());
    }
}
