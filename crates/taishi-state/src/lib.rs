//! Platform state: organisations, users and their roles, sessions, API tokens, alerts and their comments, saved and scheduled searches,
//! intel hits by indicator, rule switches, settings and (in
//! [`SqlAuditStore`]) the audit trail. Events live in the event store; this
//! crate holds what people change.
//!
//! Two databases behind one layer ([`db`]): a SQLite file (the embedded
//! default, `DATA_DIR/state.db`: one writer connection and read-only readers
//! in WAL mode) or PostgreSQL (`postgres://…`, for deployments where several
//! Taishi nodes share the state). The schema is versioned ([`migrate`]) and
//! brought forward when the state is opened.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

#[macro_use]
pub mod db;
pub mod audit;
pub mod migrate;
pub mod testdb;

pub use audit::SqlAuditStore;
pub use db::{Backend, DbError, Target};
use db::{Conn, OptionalExtension, Row, Value};
pub use migrate::Status as MigrationStatus;

pub mod orgs;
pub use orgs::{Org, Overrides, Scope, ROOT_ORG};

pub mod saved;
pub use saved::{SavedSearch, SavedSearchSpec};

pub mod exceptions;
pub use exceptions::{Condition, ExceptionIndex, ExceptionScope, NewRuleException, RuleException};
pub mod incidents;
pub use incidents::{IncidentFilter, IncidentSummary, StoredIncident};
pub mod risk;
pub mod risk_nvd;
pub mod risk_period;

pub type Result<T> = std::result::Result<T, StateError>;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Shown with its cause in one line; not a `source` as well, or
    /// error chains (`{e:#}`) would print the cause twice.
    #[error("state database: {0}")]
    Db(DbError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The change would leave the platform in a state nobody can fix
    /// (no administrator left).
    #[error("{0}")]
    Conflict(String),
}

impl From<DbError> for StateError {
    fn from(e: DbError) -> Self {
        StateError::Db(e)
    }
}

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        StateError::Db(e.into())
    }
}

pub struct State {
    target: Target,
    db: Mutex<Conn>,
    /// Connections for the console's queries. On SQLite they are read-only
    /// and, in WAL mode, read beside the writer, so an overview or a grouped
    /// alert list does not hold up sign-ins, ingest's token checks and alert
    /// writes that share the one writing connection. On PostgreSQL they are
    /// a small pool of ordinary connections used the same way.
    readers: Vec<Mutex<Conn>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Bumped by every change to alerts this process makes, so its cached
    /// aggregations know when they are stale. It is per process: with
    /// several nodes on one PostgreSQL database, a node does not see the
    /// others' changes here, and its caches catch up only when they expire
    /// by age (or on its own next change).
    generation: std::sync::atomic::AtomicU64,
}

const READERS: usize = 4;

/// Role ids as stored: one column, ids separated by spaces.
fn roles_text(roles: &[String]) -> String {
    roles.join(" ")
}

fn roles_of(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

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
    /// Someone else set the password (a one-time password of the first
    /// start, an administrator's reset): the account must choose its own
    /// at its next sign-in before anything else.
    pub must_change_password: bool,
}

const USER_COLUMNS: &str =
    "username, role, org, disabled, created, last_login, pw_changed, must_change";

fn row_user(r: &Row) -> std::result::Result<User, DbError> {
    Ok(User {
        username: r.get(0)?,
        roles: roles_of(&r.get::<_, String>(1)?),
        org: r.get(2)?,
        disabled: r.get::<_, i64>(3)? != 0,
        created: r.get(4)?,
        last_login: r.get(5)?,
        password_changed: r.get(6)?,
        must_change_password: r.get::<_, i64>(7)? != 0,
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
    /// The account must change its password (see `User`).
    pub must_change_password: bool,
    /// When its password was last set, for the policy's expiry.
    pub password_changed: Option<String>,
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
    /// The title in zh-CN; alerts stored before it existed have none (the
    /// API fills it from the shipped titles then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rule_title_zh: Option<String>,
}

/// Which of an alert's two times a range and a sort read: when Taishi
/// raised it (the default: an alert raised now about a log from two weeks
/// ago is news of today) or when its event happened.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertTime {
    #[default]
    Detected,
    Event,
}

impl AlertTime {
    /// The column holding this time (microseconds since the epoch).
    fn column(self) -> &'static str {
        match self {
            AlertTime::Detected => "detected",
            AlertTime::Event => "ts",
        }
    }
}

/// `[from_us, to_us)` of the alerts' `time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSpan {
    pub from_us: i64,
    pub to_us: i64,
    pub time: AlertTime,
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
    /// What raised the alert (`sigma`, `correlation`, `intel`, `search`, `anomaly`).
    pub kind: Option<String>,
    /// The account the alert is about (its event's user role).
    pub user: Option<String>,
    /// Its source or destination address.
    pub ip: Option<String>,
    pub q: Option<String>,
    /// Microseconds since the epoch.
    #[serde(skip)]
    pub from_us: Option<i64>,
    #[serde(skip)]
    pub to_us: Option<i64>,
    /// The time `from_us`/`to_us` and the time sorts read.
    #[serde(skip)]
    pub time: AlertTime,
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// The organisations the caller may see.
    #[serde(skip)]
    pub scope: Scope,
}

impl AlertFilter {
    /// The WHERE text with `$n` placeholders from `$1`, and its parameters.
    fn where_clause(&self, backend: Backend) -> (String, Vec<Value>) {
        let (scope, mut p) = self.scope.sql("org");
        let mut w = vec![scope];
        let arg = |p: &mut Vec<Value>, v: Value| {
            p.push(v);
            format!("${}", p.len())
        };
        if let Some(s) = self.status.as_deref().filter(|s| !s.is_empty()) {
            // `open` = anything not closed.
            if s == "open" {
                w.push("status != 'closed'".into());
            } else {
                let list: Vec<String> = s.split(',').map(|x| arg(&mut p, x.into())).collect();
                w.push(format!("status IN ({})", list.join(",")));
            }
        }
        if let Some(l) = self.level.as_deref().filter(|s| !s.is_empty()) {
            let a = arg(&mut p, Level::parse(l).unwrap_or_default().rank().into());
            w.push(format!("level >= {a}"));
        }
        for (col, v) in [
            ("rule_id", &self.rule_id),
            ("host", &self.host),
            ("source_ip", &self.source_ip),
            ("kind", &self.kind),
            ("user_name", &self.user),
        ] {
            if let Some(v) = v.as_deref().filter(|s| !s.is_empty()) {
                let a = arg(&mut p, v.into());
                w.push(format!("{col} = {a}"));
            }
        }
        if let Some(ip) = self.ip.as_deref().filter(|s| !s.is_empty()) {
            let a = arg(&mut p, ip.into());
            w.push(format!("(source_ip = {a} OR destination_ip = {a})"));
        }
        if let Some(q) = self.q.as_deref().filter(|s| !s.is_empty()) {
            // SQLite's LIKE ignores ASCII case, PostgreSQL's does not:
            // ILIKE there gives the console the same search.
            let like_op = match backend {
                Backend::Sqlite => "LIKE",
                Backend::Postgres => "ILIKE",
            };
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let like = arg(&mut p, format!("%{escaped}%").into());
            let id = arg(&mut p, q.into());
            w.push(format!(
                "(rule_title {like_op} {like} ESCAPE '\\' OR host {like_op} {like} ESCAPE '\\' \
                 OR source_ip {like_op} {like} ESCAPE '\\' OR id = {id})"
            ));
        }
        let col = self.time.column();
        if let Some(f) = self.from_us {
            let a = arg(&mut p, f.into());
            w.push(format!("{col} >= {a}"));
        }
        if let Some(t) = self.to_us {
            let a = arg(&mut p, t.into());
            w.push(format!("{col} < {a}"));
        }
        (w.join(" AND "), p)
    }
}

/// What the threat level of a range is computed from (see
/// `State::threat_inputs`); arrays are indexed by level rank.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ThreatInputs {
    pub open: [u64; 5],
    pub pairs: [u64; 5],
    pub hosts: u64,
    pub closed: u64,
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
/// A column that holds one of a fixed set of names.
fn named<T>(r: &Row, col: &str, parse: fn(&str) -> Option<T>) -> std::result::Result<T, DbError> {
    let v: String = r.get(col)?;
    parse(&v).ok_or_else(|| DbError::Column {
        column: col.to_string(),
        reason: format!("unknown value `{v}`"),
    })
}

fn kind_of(s: &str) -> Option<AlertKind> {
    serde_json::from_value(J::String(s.into())).ok()
}

/// The account an alert is about: the first user role field of its event
/// that says something (as `taishi_event::roles::user` reads an event).
pub fn alert_user(event: &J) -> Option<String> {
    taishi_event::roles::USER
        .iter()
        .filter_map(|f| exceptions::event_text(event, f))
        .find(|s| !s.is_empty() && s != "-")
}

/// An alert's detection time in microseconds: its `created` (RFC 3339, as
/// the records write it), else `fallback` (the event time).
fn detected_micros(created: &str, fallback: i64) -> i64 {
    DateTime::parse_from_rfc3339(created).map_or(fallback, |t| t.timestamp_micros())
}

fn row_alert(r: &Row) -> std::result::Result<Alert, DbError> {
    let body: String = r.get("body")?;
    let body: Body = serde_json::from_str(&body).map_err(|e| DbError::Column {
        column: "body".into(),
        reason: e.to_string(),
    })?;
    let resolution: Option<String> = r.get("resolution")?;
    Ok(Alert {
        alert: taishi_alert::Alert {
            id: r.get("id")?,
            kind: named(r, "kind", kind_of)?,
            rule_id: r.get("rule_id")?,
            rule_title: r.get("rule_title")?,
            rule_title_zh: body.rule_title_zh,
            level: Level::from_rank(r.get("level")?),
            tags: body.tags,
            timestamp: body.timestamp,
            host: r.get("host")?,
            source_ip: r.get("source_ip")?,
            destination_ip: r.get("destination_ip")?,
            org: Some(r.get("org")?),
            retrospective: r.get::<_, bool>("retrospective")?,
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

/// Brings the database at `target` to this binary's schema (or, with
/// `dry_run`, says what that would apply); the status from before.
pub fn migrate_database(target: &Target, dry_run: bool) -> Result<MigrationStatus> {
    let mut c = Conn::open_existing(target)?;
    Ok(migrate::migrate(&mut c, &target.describe(), dry_run)?)
}

/// Where the database at `target` stands, without changing it.
pub fn migration_status(target: &Target) -> Result<MigrationStatus> {
    let mut c = Conn::open_existing(target)?;
    Ok(migrate::status(&mut c, &target.describe())?)
}

impl State {
    /// The SQLite state at `path` (created if missing), migrated.
    pub fn open(path: &Path) -> Result<State> {
        State::open_target(Target::Sqlite(path.to_path_buf()))
    }

    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE`, or a SQLite file path.
    pub fn connect(url_or_path: &str) -> Result<State> {
        State::open_target(Target::parse(url_or_path)?)
    }

    /// Opens the state at `target` and brings its schema to this binary's
    /// (refusing a newer one, [`DbError::TooNew`]).
    pub fn open_target(target: Target) -> Result<State> {
        let mut db = Conn::open(&target)?;
        migrate::migrate(&mut db, &target.describe(), false)?;
        let mut readers = Vec::with_capacity(READERS);
        match &target {
            Target::Sqlite(path) => {
                // Statistics let the planner pick between the indexes.
                if db.query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'",
                    params![],
                    |r| r.get::<_, i64>(0),
                )? == 0
                {
                    db.execute_batch("ANALYZE")?;
                }
                db.execute_batch("PRAGMA optimize")?;
                for _ in 0..READERS {
                    readers.push(Mutex::new(Conn::open_sqlite_reader(path)?));
                }
            }
            Target::Postgres(_) => {
                for _ in 0..READERS {
                    let mut r = Conn::open(&target)?;
                    // Readers only read: a slip in this crate fails loudly
                    // rather than writing outside the writer's order.
                    r.execute_batch("SET default_transaction_read_only = on")?;
                    readers.push(Mutex::new(r));
                }
            }
        }
        Ok(State {
            target,
            db: Mutex::new(db),
            readers,
            next_reader: Default::default(),
            generation: Default::default(),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.target.backend()
    }

    /// Where it is, for logs (never with a password).
    pub fn describe(&self) -> String {
        self.target.describe()
    }

    /// The schema's migration status.
    pub fn migration_status(&self) -> Result<MigrationStatus> {
        Ok(migrate::status(&mut self.db(), &self.target.describe())?)
    }

    /// An audit store in this database (its own connection, so audit
    /// appends do not wait behind alert writes).
    pub fn audit_store(&self) -> Result<SqlAuditStore> {
        SqlAuditStore::open(&self.target)
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Conn> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes to alerts so far (inserts, status changes, comments) by
    /// this process.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// A free reader (or the next one in turn when all are busy).
    fn reader(&self) -> std::sync::MutexGuard<'_, Conn> {
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
            .query_row("SELECT count(*) FROM users", params![], |r| {
                r.get::<_, i64>(0)
            })? as u64)
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
                params![username],
                row_user,
            )
            .optional()?)
    }

    /// Every user, or those of the organisations in `scope`.
    pub fn users(&self, scope: &Scope) -> Result<Vec<User>> {
        let mut db = self.db();
        let (w, p) = scope.sql("org");
        let v = db.query_map(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE {w} ORDER BY username"),
            &p,
            row_user,
        )?;
        Ok(v)
    }

    pub fn password_hash(&self, username: &str) -> Result<Option<(String, bool)>> {
        Ok(self
            .db()
            .query_row(
                "SELECT pw_hash, disabled FROM users WHERE username = ?",
                params![username],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)),
            )
            .optional()?)
    }

    /// The user's current and up to `n - 1` earlier password hashes,
    /// newest first (a new password may be none of them).
    pub fn recent_password_hashes(&self, username: &str, n: usize) -> Result<Vec<String>> {
        let mut db = self.db();
        let mut v: Vec<String> = db
            .query_row(
                "SELECT pw_hash FROM users WHERE username = ?",
                params![username],
                |r| r.get(0),
            )
            .optional()?
            .into_iter()
            .collect();
        v.extend(db.query_map(
            "SELECT pw_hash FROM password_history WHERE username = ?1 ORDER BY changed DESC, rowid DESC LIMIT ?2",
            params![username, n.saturating_sub(1) as i64],
            |r| r.get::<_, String>(0),
        )?);
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
        // One transaction: with several nodes on one database, two admins
        // demoting each other at once must not both pass the guard.
        self.db().transaction(|tx| {
        let loses_sysadmin = roles.is_some_and(|r| !r.iter().any(|x| x == SYSADMIN));
        if loses_sysadmin || disabled == Some(true) {
            last_admin_guard(tx, username, "demote or disable")?;
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
        // A new password is the account's own unless the caller then says
        // otherwise (`set_must_change`).
        let n = tx.execute(
            "UPDATE users SET role = coalesce(?1, role), pw_hash = coalesce(?2, pw_hash),
             disabled = coalesce(?3, disabled), org = coalesce(?4, org),
             pw_changed = CASE WHEN ?2 IS NULL THEN pw_changed ELSE ?5 END,
             must_change = CASE WHEN ?2 IS NULL THEN must_change ELSE 0 END WHERE username = ?6",
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
            tx.execute("DELETE FROM sessions WHERE username = ?", params![username])?;
        }
        Ok(())
        })?;
        self.user(username)?
            .ok_or_else(|| StateError::NotFound(username.into()))
    }

    /// Marks (or clears) that the account must choose its own password at
    /// its next sign-in.
    pub fn set_must_change(&self, username: &str, must: bool) -> Result<()> {
        let n = self.db().execute(
            "UPDATE users SET must_change = ?1 WHERE username = ?2",
            params![i64::from(must), username],
        )?;
        if n == 0 {
            return Err(StateError::NotFound(format!("no user `{username}`")));
        }
        Ok(())
    }

    pub fn delete_user(&self, username: &str) -> Result<()> {
        self.db().transaction(|db| {
            last_admin_guard(db, username, "delete")?;
            let n = db.execute("DELETE FROM users WHERE username = ?", params![username])?;
            if n == 0 {
                return Err(StateError::NotFound(format!("no user `{username}`")));
            }
            db.execute("DELETE FROM sessions WHERE username = ?", params![username])?;
            db.execute("DELETE FROM tokens WHERE owner = ?", params![username])?;
            db.execute(
                "DELETE FROM password_history WHERE username = ?",
                params![username],
            )?;
            Ok(())
        })
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
        let mut db = self.db();
        let v = db.query_map(
            "SELECT id, name, permissions FROM roles ORDER BY id",
            params![],
            |r| {
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
            },
        )?;
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
            params![&role.id, &role.name, perms, now_iso()],
        )?;
        Ok(())
    }

    /// Deletes a custom role no account or token holds.
    pub fn delete_custom_role(&self, id: &str) -> Result<()> {
        let mut db = self.db();
        let like = format!("% {id} %");
        let holders: i64 = db.query_row(
            "SELECT (SELECT count(*) FROM users WHERE ' ' || role || ' ' LIKE ?1)
                  + (SELECT count(*) FROM tokens WHERE ' ' || role || ' ' LIKE ?1)",
            params![&like],
            |r| r.get(0),
        )?;
        if holders > 0 {
            return Err(StateError::Conflict(format!(
                "role `{id}` is held by {holders} account(s) or token(s); take it from them first"
            )));
        }
        if db.execute("DELETE FROM roles WHERE id = ?", params![id])? == 0 {
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
        let mut db = self.db();
        let now = Utc::now().timestamp();
        db.execute("DELETE FROM sessions WHERE expires < ?", params![now])?;
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
                "SELECT s.username, u.role, u.org, s.csrf, s.last_seen, u.must_change, u.pw_changed
                 FROM sessions s
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
                            must_change_password: r.get::<_, i64>(5)? != 0,
                            password_changed: r.get(6)?,
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
            .execute("DELETE FROM sessions WHERE id_hash = ?", params![id_hash])?;
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
            params![id, name, roles_text(roles), owner, hash, &created, org],
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
        let mut db = self.db();
        let t: Option<TokenAuth> = db
            .query_row(
                "SELECT t.id, t.owner, t.role, u.role, t.org, u.org FROM tokens t
                 JOIN users u ON u.username = t.owner
                 WHERE t.hash = ? AND u.disabled = 0",
                params![hash],
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
                params![now_iso(), &t.id, stale],
            )?;
        }
        Ok(t)
    }

    /// Tokens of `owner`, or every token of the organisations in `scope`.
    pub fn tokens(&self, owner: Option<&str>, scope: &Scope) -> Result<Vec<Token>> {
        let mut db = self.db();
        let (w, mut p) = scope.sql("org");
        p.push(owner.map_or(Value::Null, |o| Value::Text(o.into())));
        let v = db.query_map(
            &format!(
                "SELECT id, name, role, owner, org, created, last_used FROM tokens
             WHERE {w} AND (CAST(?{n} AS TEXT) IS NULL OR owner = ?{n}) ORDER BY created",
                n = p.len()
            ),
            &p,
            |r| {
                Ok(Token {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    roles: roles_of(&r.get::<_, String>(2)?),
                    owner: r.get(3)?,
                    org: r.get(4)?,
                    created: r.get(5)?,
                    last_used: r.get(6)?,
                })
            },
        )?;
        Ok(v)
    }

    /// Revokes a token: `owner`'s own, or any of an organisation in `scope`.
    pub fn delete_token(&self, id: &str, owner: Option<&str>, scope: &Scope) -> Result<()> {
        let (w, mut p) = scope.sql("org");
        p.push(Value::Text(id.into()));
        let idn = p.len();
        p.push(owner.map_or(Value::Null, |o| Value::Text(o.into())));
        let n = self.db().execute(
            &format!(
                "DELETE FROM tokens WHERE {w} AND id = ?{idn} AND (CAST(?{on} AS TEXT) IS NULL OR owner = ?{on})",
                on = p.len()
            ),
            &p,
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
        let fresh = self.db().transaction(|tx| {
            let mut fresh = Vec::with_capacity(alerts.len());
            for a in alerts {
                let org = a.org.as_deref().unwrap_or(ROOT_ORG);
                let body = serde_json::to_string(&Body {
                    tags: a.tags.clone(),
                    timestamp: a.timestamp,
                    summary: a.summary.clone(),
                    events: a.events.clone(),
                    event: a.event.clone(),
                    context: a.context.clone(),
                    rule_title_zh: a.rule_title_zh.clone(),
                })
                .map_err(|e| StateError::Invalid(e.to_string()))?;
                if a.kind == AlertKind::Intel {
                    if let Some(ind) = a.summary.get("indicator").and_then(|v| v.as_str()) {
                        let text = |k: &str| a.summary.get(k).and_then(|v| v.as_str());
                        tx.execute(
                            "INSERT INTO intel_hits(alert_id, indicator, type, source, ts, org)
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                            params![
                                &a.id,
                                ind,
                                text("indicator.type"),
                                text("intel.source"),
                                a.timestamp.timestamp_micros(),
                                org
                            ],
                        )?;
                    }
                }
                let n = tx.execute(
                    "INSERT INTO alerts(id, ts, created, updated, kind, rule_id, rule_title, level,
                     host, source_ip, destination_ip, status, resolution, assignee, retrospective, body, org,
                     detected, user_name)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
                     ON CONFLICT DO NOTHING",
                    params![
                        &a.id,
                        a.timestamp.timestamp_micros(),
                        &a.created,
                        &a.updated,
                        a.kind.name(),
                        &a.rule_id,
                        &a.rule_title,
                        a.level.rank(),
                        &a.host,
                        &a.source_ip,
                        &a.destination_ip,
                        a.status.name(),
                        a.resolution.map(Resolution::name),
                        &a.assignee,
                        a.retrospective as i64,
                        body,
                        org,
                        detected_micros(&a.created, a.timestamp.timestamp_micros()),
                        alert_user(&a.event)
                    ],
                )?;
                fresh.push(n == 1);
            }
            Ok::<_, StateError>(fresh)
        })?;
        self.changed();
        Ok(fresh)
    }

    pub fn alerts(&self, f: &AlertFilter) -> Result<(u64, Vec<Alert>)> {
        let mut db = self.reader();
        let (w, p) = f.where_clause(db.backend());
        let total: i64 =
            db.query_row(&format!("SELECT count(*) FROM alerts WHERE {w}"), &p, |r| {
                r.get(0)
            })?;
        let t = f.time.column();
        let order = match f.sort.as_deref() {
            Some("time") => format!("{t} ASC"),
            Some("level") => format!("level ASC, {t} DESC"),
            Some("-level") => format!("level DESC, {t} DESC"),
            _ => format!("{t} DESC"),
        };
        let limit = f.limit.unwrap_or(50).min(1000);
        let offset = f.offset.unwrap_or(0);
        // The page's keys first, then its rows: sorting whole rows (with
        // their JSON bodies) of 100,000 alerts costs more than the query.
        // SQLite's key is the rowid (its covering indexes hold it);
        // PostgreSQL's the primary key.
        let key = match db.backend() {
            Backend::Sqlite => "rowid",
            Backend::Postgres => "id",
        };
        let v = db.query_map(
            &format!(
                "SELECT * FROM alerts WHERE {key} IN (SELECT {key} FROM alerts WHERE {w}
                 ORDER BY {order} LIMIT {limit} OFFSET {offset}) ORDER BY {order}"
            ),
            &p,
            row_alert,
        )?;
        Ok((total as u64, v))
    }

    pub fn alert_groups(&self, by: &str, f: &AlertFilter) -> Result<Vec<AlertGroup>> {
        // Keys only in the grouping (read from the covering index); a rule's
        // title is looked up for the groups shown.
        let key = match by {
            "rule" => "rule_id",
            "host" => "coalesce(host, '')",
            "source" => "coalesce(source_ip, '')",
            other => {
                return Err(StateError::Invalid(format!(
                    "by: `{other}` is not one of rule, host, source"
                )))
            }
        };
        let mut db = self.reader();
        let (w, p) = f.where_clause(db.backend());
        let t = f.time.column();
        let mut v = db.query_map(
            &format!(
                "SELECT {key} AS k, count(*), max(level), max({t}) FROM alerts WHERE {w}
                 GROUP BY k ORDER BY count(*) DESC LIMIT {}",
                f.limit.unwrap_or(100).min(1000)
            ),
            &p,
            |r| {
                let last: i64 = r.get(3)?;
                let key: String = r.get(0)?;
                Ok(AlertGroup {
                    label: if by == "rule" {
                        String::new()
                    } else {
                        key.clone()
                    },
                    key,
                    count: r.get::<_, i64>(1)? as u64,
                    max_level: Level::from_rank(r.get(2)?),
                    last: DateTime::from_timestamp_micros(last)
                        .unwrap_or_default()
                        .to_rfc3339_opts(SecondsFormat::Millis, true),
                })
            },
        )?;
        if by == "rule" {
            for g in &mut v {
                g.label = db
                    .query_row(
                        "SELECT rule_title FROM alerts WHERE rule_id = $1 ORDER BY ts DESC LIMIT 1",
                        params![&g.key],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or_default();
            }
        }
        Ok(v)
    }

    pub fn alert(&self, id: &str) -> Result<Alert> {
        self.reader()
            .query_row("SELECT * FROM alerts WHERE id = $1", params![id], row_alert)
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
        let n = self.db().execute(
            "UPDATE alerts SET status = coalesce($1, status),
               resolution = CASE WHEN $2 THEN $3 ELSE resolution END,
               assignee = CASE WHEN $4 THEN $5 ELSE assignee END,
               updated = $6 WHERE id = $7",
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
        self.db().transaction(|db| {
            // `user` is a reserved word in PostgreSQL: quoted in both.
            db.execute(
                r#"INSERT INTO comments(alert_id, "user", time, text) VALUES ($1, $2, $3, $4)"#,
                params![id, &c.user, &c.time, &c.text],
            )?;
            db.execute(
                "UPDATE alerts SET updated = $1 WHERE id = $2",
                params![&c.time, id],
            )?;
            Ok::<_, StateError>(())
        })?;
        self.changed();
        Ok(c)
    }

    pub fn comments(&self, id: &str) -> Result<Vec<Comment>> {
        // PostgreSQL's comments table has a `rowid` identity column for this.
        Ok(self.reader().query_map(
            r#"SELECT "user", time, text FROM comments WHERE alert_id = $1 ORDER BY rowid"#,
            params![id],
            |r| {
                Ok(Comment {
                    user: r.get(0)?,
                    time: r.get(1)?,
                    text: r.get(2)?,
                })
            },
        )?)
    }

    /// Alert counts for the overview: by level, open, total in the range.
    pub fn alert_counts(
        &self,
        from_us: i64,
        to_us: i64,
        time: AlertTime,
        scope: &Scope,
    ) -> Result<(u64, u64, [u64; 5])> {
        let mut db = self.reader();
        let mut levels = [0u64; 5];
        let (w, mut p) = scope.sql("org");
        p.extend([from_us.into(), to_us.into()]);
        let ts = time.column();
        let rows = db.query_map(
            &format!("SELECT level, count(*) FROM alerts WHERE {w} AND {ts} >= ? AND {ts} < ? GROUP BY level"),
            &p,
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )?;
        for (l, n) in rows {
            levels[l.clamp(0, 4) as usize] += n as u64;
        }
        let open: i64 = db.query_row(
            &format!("SELECT count(*) FROM alerts WHERE {w} AND status != 'closed' AND {ts} >= ? AND {ts} < ?"),
            &p,
            |r| r.get(0),
        )?;
        Ok((levels.iter().sum(), open as u64, levels))
    }

    /// What the threat level is computed from: the open (not closed)
    /// alerts of `[from_us, to_us)` per level, as alerts and as distinct
    /// (rule, host) pairs (one rule firing a thousand times on one host is
    /// one finding), the hosts they touch, and the alerts of the range
    /// already closed (shown, not counted).
    pub fn threat_inputs(
        &self,
        from_us: i64,
        to_us: i64,
        time: AlertTime,
        scope: &Scope,
    ) -> Result<ThreatInputs> {
        let mut db = self.reader();
        let (w, mut p) = scope.sql("org");
        p.extend([from_us.into(), to_us.into()]);
        let ts = time.column();
        let range = format!("{w} AND {ts} >= ? AND {ts} < ?");
        let mut out = ThreatInputs::default();
        let rows = db.query_map(
            &format!(
                "SELECT level, count(*), count(DISTINCT rule_id || '|' || coalesce(host, ''))
                 FROM alerts WHERE {range} AND status != 'closed' GROUP BY level"
            ),
            &p,
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )?;
        for (l, n, pairs) in rows {
            let i = l.clamp(0, 4) as usize;
            out.open[i] += n as u64;
            out.pairs[i] += pairs as u64;
        }
        out.hosts = db.query_row(
            &format!(
                "SELECT count(DISTINCT host) FROM alerts
                 WHERE {range} AND status != 'closed' AND host IS NOT NULL"
            ),
            &p,
            |r| r.get::<_, i64>(0),
        )? as u64;
        out.closed = db.query_row(
            &format!("SELECT count(*) FROM alerts WHERE {range} AND status = 'closed'"),
            &p,
            |r| r.get::<_, i64>(0),
        )? as u64;
        Ok(out)
    }

    /// The overview's alert aggregations over `[from_us, to_us)`, done by
    /// SQLite on the covering index rather than row by row: counts per
    /// `step`-long bucket from `start` and level, per rule (with the tags of
    /// its newest alert: a rule's alerts share its tags), per host and per
    /// source address.
    pub fn alert_overview(
        &self,
        span: AlertSpan,
        start: i64,
        step: i64,
        top: usize,
        scope: &Scope,
    ) -> Result<AlertOverview> {
        let AlertSpan {
            from_us,
            to_us,
            time,
        } = span;
        let mut db = self.reader();
        let ts = time.column();
        // Each query below numbers its own parameters; the scope's follow.
        let scoped = |fixed: Vec<Value>| {
            let (w, sp) = scope.sql_at("org", fixed.len() + 1);
            let mut v = fixed;
            v.extend(sp);
            (w, v)
        };
        let (w, p) = scoped(vec![
            start.into(),
            step.max(1).into(),
            from_us.into(),
            to_us.into(),
        ]);
        let mut o = AlertOverview {
            over_time: db.query_map(
                &format!(
                    "SELECT ({ts} - ?1) / ?2 AS b, level, count(*) FROM alerts
                     WHERE {ts} >= ?3 AND {ts} < ?4 AND {w} GROUP BY b, level"
                ),
                &p,
                |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
            )?,
            ..Default::default()
        };
        // Every rule of the range: the ATT&CK matrix sums over all of them.
        let (w, p) = scoped(vec![from_us.into(), to_us.into()]);
        let rules = db.query_map(
            &format!(
                "SELECT rule_id, max(level), count(*), max({ts}) FROM alerts
             WHERE {ts} >= ?1 AND {ts} < ?2 AND {w}
             GROUP BY rule_id ORDER BY count(*) DESC LIMIT 5000"
            ),
            &p,
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)?,
                ))
            },
        )?;
        for (id, level, n, ts) in rules {
            let (title, body): (String, String) = db
                .query_row(
                    &format!("SELECT rule_title, body FROM alerts WHERE rule_id = ?1 AND {ts} = ?2 LIMIT 1"),
                    params![&id, ts],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
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
        o.hosts = db.query_map(
            &format!(
                "SELECT host, count(*), max(level) FROM alerts
                 WHERE {ts} >= ?1 AND {ts} < ?2 AND host IS NOT NULL AND {w}
                 GROUP BY host ORDER BY count(*) DESC LIMIT ?3"
            ),
            &p,
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?)),
        )?;
        // More than `top`: the caller keeps those that are IP addresses.
        let (w, p) = scoped(vec![
            from_us.into(),
            to_us.into(),
            ((top * 5) as i64).into(),
        ]);
        o.sources = db.query_map(
            &format!(
                "SELECT source_ip, count(*) FROM alerts
                 WHERE {ts} >= ?1 AND {ts} < ?2 AND source_ip IS NOT NULL AND {w}
                 GROUP BY source_ip ORDER BY count(*) DESC LIMIT ?3"
            ),
            &p,
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
        )?;
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
        let mut db = self.reader();
        let (w, sp) = scope.sql_at("org", 2);
        let sql = format!("SELECT count(*), max(ts) FROM intel_hits WHERE indicator = ?1 AND {w}");
        let mut out = std::collections::HashMap::new();
        for v in values {
            let mut p = vec![Value::Text(v.to_string())];
            p.extend(sp.iter().cloned());
            let (n, ts): (i64, Option<i64>) =
                db.query_row(&sql, &p, |r| Ok((r.get(0)?, r.get(1)?)))?;
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
        let mut db = self.reader();
        let (w, mut p) = scope.sql_at("h.org", 2);
        p.insert(0, Value::Text(indicator.into()));
        let total: i64 = db.query_row(
            &format!("SELECT count(*) FROM intel_hits h WHERE h.indicator = ?1 AND {w}"),
            &p,
            |r| r.get(0),
        )?;
        let v = db.query_map(
            &format!(
                "SELECT a.* FROM intel_hits h JOIN alerts a ON a.id = h.alert_id
             WHERE h.indicator = ?1 AND {w} ORDER BY h.ts DESC LIMIT {} OFFSET {offset}",
                limit.min(1000)
            ),
            &p,
            row_alert,
        )?;
        Ok((total as u64, v))
    }

    /// Indicators by number of hits.
    pub fn intel_top(&self, limit: usize, scope: &Scope) -> Result<Vec<IntelHitCount>> {
        let mut db = self.reader();
        let (w, p) = scope.sql("org");
        let v = db.query_map(
            &format!(
                "SELECT indicator, max(type), max(source), count(*) AS n, max(ts) FROM intel_hits
             WHERE {w} GROUP BY indicator ORDER BY n DESC, max(ts) DESC LIMIT {}",
                limit.min(1000)
            ),
            &p,
            |r| {
                Ok(IntelHitCount {
                    indicator: r.get(0)?,
                    kind: r.get(1)?,
                    source: r.get(2)?,
                    hits: r.get::<_, i64>(3)? as u64,
                    last_hit: r.get::<_, Option<i64>>(4)?.and_then(iso_us),
                })
            },
        )?;
        Ok(v)
    }

    pub fn rule_switches(&self) -> Result<Vec<(String, bool)>> {
        let mut db = self.db();
        let v = db.query_map("SELECT rule_id, enabled FROM rule_switch", params![], |r| {
            Ok((r.get(0)?, r.get::<_, bool>(1)?))
        })?;
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
            .query_row(
                "SELECT value FROM settings WHERE key = ?",
                params![key],
                |r| r.get(0),
            )
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
fn last_admin_guard(db: &mut Conn, username: &str, what: &str) -> Result<()> {
    let holds = format!("% {SYSADMIN} %");
    let is_admin: bool = db
        .query_row(
            "SELECT ' ' || role || ' ' LIKE ?1 AND disabled = 0 FROM users WHERE username = ?2",
            params![&holds, username],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false);
    if !is_admin {
        return Ok(());
    }
    let others: i64 = db.query_row(
        "SELECT count(*) FROM users WHERE ' ' || role || ' ' LIKE ?1 AND disabled = 0 AND username != ?2",
        params![&holds, username],
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
