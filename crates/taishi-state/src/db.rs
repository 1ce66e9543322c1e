//! One connection layer over SQLite (rusqlite) and PostgreSQL (the sync
//! `postgres` client). Its calls keep rusqlite's shape — `execute`,
//! `query_row`, `query_map`, `.optional()`, a transaction closure, a
//! `params!` list — so code written for rusqlite ports line by line.
//!
//! SQL is written once with `$1` placeholders (PostgreSQL's; rewritten to
//! SQLite's `?1` here) and the syntax both dialects share: `ON CONFLICT … DO
//! UPDATE/NOTHING`, `RETURNING`, BIGINT. Where they differ, [`Conn::backend`]
//! picks the text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use postgres::types::{IsNull, ToSql as PgToSql, Type};

/// Which database a [`Conn`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where the state lives: a SQLite file (the embedded default,
/// `DATA_DIR/state.db`) or a PostgreSQL database shared by several nodes.
#[derive(Clone)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(Box<postgres::Config>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Longest `postgres://` URL or path accepted (a config value, not data).
const MAX_TARGET_LEN: usize = 4096;

impl Target {
    /// `postgres://…` / `postgresql://…` or a path to a SQLite file.
    pub fn parse(s: &str) -> Result<Target, DbError> {
        if s.len() > MAX_TARGET_LEN {
            return Err(DbError::Target(format!(
                "database: longer than {MAX_TARGET_LEN} bytes / 数据库地址过长"
            )));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let c = postgres::Config::from_str(s).map_err(|e| {
                // The URL may hold a password: the message names the part
                // that failed, never the URL.
                DbError::Target(format!(
                    "database: not a valid PostgreSQL URL ({e}); expected postgres://USER[:PASSWORD]@HOST:PORT/DATABASE / 不是有效的 PostgreSQL 地址"
                ))
            })?;
            return Ok(Target::Postgres(Box::new(c)));
        }
        if s.contains("://") {
            return Err(DbError::Target(
                "database: only postgres:// URLs or a SQLite file path are understood / 仅支持 postgres:// 地址或 SQLite 文件路径".into(),
            ));
        }
        Ok(Target::Sqlite(PathBuf::from(s)))
    }

    /// Sets the PostgreSQL password (from an environment variable named in
    /// the config, so it is not written in the file).
    pub fn with_password(mut self, password: &str) -> Target {
        if let Target::Postgres(c) = &mut self {
            c.password(password);
        }
        self
    }

    pub fn backend(&self) -> Backend {
        match self {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }

    /// For logs and the CLI: host, port, database and user, never the password.
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite(p) => format!("sqlite:{}", p.display()),
            Target::Postgres(c) => {
                let host = c
                    .get_hosts()
                    .first()
                    .map(|h| match h {
                        postgres::config::Host::Tcp(h) => h.clone(),
                        postgres::config::Host::Unix(p) => p.display().to_string(),
                    })
                    .unwrap_or_else(|| "localhost".into());
                let port = c.get_ports().first().copied().unwrap_or(5432);
                format!(
                    "postgres://{}@{host}:{port}/{}",
                    c.get_user().unwrap_or(""),
                    c.get_dbname().unwrap_or("")
                )
            }
        }
    }
}

/// `url` with any password replaced by `***` (for printed configs and
/// logs); text that is not a URL comes back as it is.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    /// `query_row` found nothing (see [`OptionalExtension::optional`]).
    #[error("the query returned no rows")]
    NoRows,
    #[error("column {column}: {reason}")]
    Column { column: String, reason: String },
    #[error("{0}")]
    Target(String),
    /// The database was migrated by a newer Taishi.
    #[error("the state database is at schema version {found}, newer than this binary knows ({known}): run the newer Taishi, or restore a backup taken before the upgrade / 状态数据库的结构版本 {found} 高于本程序支持的 {known}：请使用更新的 Taishi，或恢复升级前的备份")]
    TooNew { found: i64, known: i64 },
    /// A migration that was applied differs from the one shipped now.
    #[error("migration {version} ({name}) was applied with checksum {applied}, but this binary ships {shipped}: the migration file was edited after release; restore it (migrations are never changed, only added) / 迁移 {version} 已应用的校验和与本程序不符")]
    Checksum {
        version: i64,
        name: String,
        applied: String,
        shipped: String,
    },
    /// The cause is in the message (not a `source` too, which would print
    /// it twice in an error chain).
    #[error("migration {version} ({name}): {cause}; the database is left at the version before it / 迁移 {version} 失败，数据库保持在之前的版本")]
    Migration {
        version: i64,
        name: String,
        cause: Box<DbError>,
    },
}

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Value { fn from($v: $t) -> Value { $e } })*
    };
}
value_from! {
    i64 => |v| Value::Int(v),
    i32 => |v| Value::Int(v.into()),
    u32 => |v| Value::Int(v.into()),
    bool => |v| Value::Bool(v),
    f64 => |v| Value::Real(v),
    String => |v| Value::Text(v),
    &str => |v| Value::Text(v.to_string()),
    &String => |v| Value::Text(v.clone()),
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl<T: Clone + Into<Value>> From<&Option<T>> for Value {
    fn from(v: &Option<T>) -> Value {
        v.clone().map_or(Value::Null, Into::into)
    }
}

/// `params![a, b, c]`: a parameter list for [`Conn`] calls.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::db::Value] };
    ($($x:expr),+ $(,)?) => { &[$($crate::db::Value::from($x)),+] as &[$crate::db::Value] };
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Bool(b) => ValueRef::Integer(*b as i64),
        }))
    }
}

/// Converted to what the server inferred for the placeholder, so the same
/// `Value::Int` binds a BIGINT column, an INTEGER one or a LIMIT.
impl PgToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let mismatch = || -> Box<dyn std::error::Error + Sync + Send> {
            format!("cannot bind {self:?} to a {ty} parameter").into()
        };
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => {
                i32::try_from(*i).map_err(|_| mismatch())?.to_sql(ty, out)
            }
            (Value::Int(i), &Type::INT2) => {
                i16::try_from(*i).map_err(|_| mismatch())?.to_sql(ty, out)
            }
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Bool(b), &Type::BOOL) => b.to_sql(ty, out),
            (Value::Bool(b), &Type::INT8) => (*b as i64).to_sql(ty, out),
            (Value::Bool(b), &Type::INT4) => (*b as i32).to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Text(s), t)
                if [
                    Type::TEXT,
                    Type::VARCHAR,
                    Type::BPCHAR,
                    Type::NAME,
                    Type::UNKNOWN,
                ]
                .contains(t) =>
            {
                s.as_str().to_sql(ty, out)
            }
            _ => Err(mismatch()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// One result row, read into memory (the rows of these queries are small:
/// pages of at most 1,000).
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

/// A column by position or by name.
pub trait RowIndex {
    fn index(&self, columns: &[String]) -> Option<usize>;
    fn label(&self) -> String;
}

impl RowIndex for usize {
    fn index(&self, columns: &[String]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
    fn label(&self) -> String {
        self.to_string()
    }
}

impl RowIndex for &str {
    fn index(&self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|c| c == self)
    }
    fn label(&self) -> String {
        self.to_string()
    }
}

/// A Rust type read from a column.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<bool> {
        match v {
            Value::Int(i) => Some(*i != 0),
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<f64> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<String> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Option<T>> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl Row {
    /// rusqlite's `row.get::<_, T>(i)`.
    pub fn get<I: RowIndex, T: FromValue>(&self, idx: I) -> Result<T, DbError> {
        let i = idx.index(&self.columns).ok_or_else(|| DbError::Column {
            column: idx.label(),
            reason: "no such column in the result".into(),
        })?;
        T::from_value(&self.values[i]).ok_or_else(|| DbError::Column {
            column: self.columns[i].clone(),
            reason: format!(
                "holds {:?}, not a {}",
                self.values[i],
                std::any::type_name::<T>()
            ),
        })
    }
}

/// rusqlite's `.optional()`: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>, DbError>;
}

impl<T> OptionalExtension<T> for Result<T, DbError> {
    fn optional(self) -> Result<Option<T>, DbError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Placeholders are written `$1` (PostgreSQL's, preferred), or as rusqlite
/// code wrote them, `?1` or an anonymous `?` (the next number after the
/// highest so far, SQLite's rule), so SQL from before this layer ports
/// unchanged. Each backend gets its own spelling, outside quoted text.
/// (PostgreSQL's JSON `?` operators are therefore not usable here.)
fn placeholders(sql: &str, backend: Backend) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut highest = 0usize;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' || c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if c == '$' && digits.is_empty() {
                    out.push(c);
                    continue;
                }
                let n = match digits.parse::<usize>() {
                    Ok(n) => n,
                    Err(_) => highest + 1,
                };
                highest = highest.max(n);
                out.push(match backend {
                    Backend::Sqlite => '?',
                    Backend::Postgres => '$',
                });
                out.push_str(&n.to_string());
            }
            None => out.push(c),
        }
    }
    out
}

fn sqlite_sql(sql: &str) -> String {
    placeholders(sql, Backend::Sqlite)
}

/// Statements kept prepared per PostgreSQL connection (each costs a round
/// trip to prepare); past this many the cache starts over.
const PG_STATEMENT_CACHE: usize = 256;

pub struct PgConn {
    /// Always `Some` but while dropping (see `Drop`).
    client: Option<postgres::Client>,
    config: postgres::Config,
    statements: HashMap<String, postgres::Statement>,
}

/// The sync PostgreSQL client runs its own small tokio runtime and blocks
/// on it, which tokio forbids on a runtime's worker thread. Serve calls the
/// state from blocking threads, but a few calls (start-up, the alert hook)
/// run on workers: those step off the runtime first.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        // A current-thread runtime cannot lend its thread: use another one.
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }),
        Err(_) => f(),
    }
}

impl PgConn {
    pub fn connect(config: &postgres::Config) -> Result<PgConn, DbError> {
        let client = off_runtime(|| config.connect(postgres::NoTls))?;
        Ok(PgConn {
            client: Some(client),
            config: config.clone(),
            statements: HashMap::new(),
        })
    }

    /// A connection the server closed (restart, failover, idle timeout) is
    /// opened again before the next statement rather than failing forever.
    fn live(&mut self) -> Result<&mut postgres::Client, DbError> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let config = &self.config;
            self.client = Some(off_runtime(|| config.connect(postgres::NoTls))?);
            self.statements.clear();
        }
        Ok(self.client.as_mut().expect("connected just above"))
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let text = placeholders(sql, Backend::Postgres);
        let client = self.live()?;
        let st = off_runtime(|| client.prepare(&text))?;
        if self.statements.len() >= PG_STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let st = self.statement(sql)?;
        let refs: Vec<&(dyn PgToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let client = self.live()?;
        let rows = off_runtime(|| client.query(&st, &refs))?;
        let columns: Arc<[String]> = st.columns().iter().map(|c| c.name().to_string()).collect();
        rows.iter()
            .map(|r| {
                let values = st
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| pg_value(r, i, c.type_(), c.name()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row {
                    columns: columns.clone(),
                    values,
                })
            })
            .collect()
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let st = self.statement(sql)?;
        let refs: Vec<&(dyn PgToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let client = self.live()?;
        Ok(off_runtime(|| client.execute(&st, &refs))?)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let client = self.live()?;
        Ok(off_runtime(|| client.batch_execute(sql))?)
    }
}

/// Closing the client blocks on its runtime too, and the last `State` may
/// well be dropped inside an async task (serve's shutdown): close it on a
/// thread of its own then.
impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::spawn(move || drop(c)).join();
            }
        }
    }
}

fn pg_value(r: &postgres::Row, i: usize, ty: &Type, name: &str) -> Result<Value, DbError> {
    let v = match *ty {
        Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => r
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => r
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
        Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(Value::Real),
        Type::FLOAT4 => r
            .try_get::<_, Option<f32>>(i)?
            .map(|v| Value::Real(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        ref other => {
            return Err(DbError::Column {
                column: name.to_string(),
                reason: format!(
                "type {other} is not read by the state layer; cast it in the query (BIGINT, TEXT)"
            ),
            })
        }
    };
    Ok(v.unwrap_or(Value::Null))
}

/// One connection to either database.
pub enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConn>),
}

/// How long a SQLite writer waits for another process's write lock (the CLI
/// migrating beside a server, the audit store's connection).
const SQLITE_BUSY: std::time::Duration = std::time::Duration::from_secs(5);

impl Conn {
    /// The writing connection to `target` (SQLite: WAL, created if missing).
    pub fn open(target: &Target) -> Result<Conn, DbError> {
        match target {
            Target::Sqlite(path) => {
                let c = rusqlite::Connection::open(path)?;
                c.busy_timeout(SQLITE_BUSY)?;
                c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
                Ok(Conn::Sqlite(c))
            }
            Target::Postgres(c) => Ok(Conn::Postgres(Box::new(PgConn::connect(c)?))),
        }
    }

    /// Like [`Conn::open`], but a SQLite file must exist already: the CLI
    /// inspects and migrates data directories, it does not make them.
    pub fn open_existing(target: &Target) -> Result<Conn, DbError> {
        if let Target::Sqlite(p) = target {
            if !p.is_file() {
                return Err(DbError::Target(format!(
                    "no state database at {} (is it the data directory of `taishi serve`?) / {} 处没有状态数据库",
                    p.display(),
                    p.display()
                )));
            }
        }
        Conn::open(target)
    }

    /// A read-only SQLite connection (the file must exist).
    pub fn open_sqlite_reader(path: &Path) -> Result<Conn, DbError> {
        let r = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )?;
        r.execute_batch("PRAGMA cache_size = -32000")?;
        Ok(Conn::Sqlite(r))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(&sqlite_sql(sql))?;
                Ok(st.execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Conn::Postgres(c) => c.execute(sql, params),
        }
    }

    /// Every row, mapped.
    pub fn query_map<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(&sqlite_sql(sql))?;
                let columns: Arc<[String]> =
                    st.column_names().iter().map(|c| c.to_string()).collect();
                let n = columns.len();
                let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let values = (0..n)
                        .map(|i| sqlite_value(r.get_ref(i)?, &columns[i]))
                        .collect::<Result<Vec<_>, DbError>>()?;
                    out.push(f(&Row {
                        columns: columns.clone(),
                        values,
                    })?);
                }
                Ok(out)
            }
            Conn::Postgres(c) => c.query(sql, params)?.iter().map(f).collect(),
        }
    }

    /// The first row, mapped; [`DbError::NoRows`] when there is none (see
    /// [`OptionalExtension::optional`]).
    pub fn query_row<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut f = Some(f);
        let mut out = None;
        // Only the first row is mapped; the statements that use this return
        // one row (LIMIT 1, a key or an aggregate).
        self.query_map(sql, params, |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        out.ok_or(DbError::NoRows)
    }

    /// Several statements without parameters (migrations).
    pub fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(c) => c.batch(sql),
        }
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled
    /// back otherwise. SQLite takes the write lock at the start (IMMEDIATE),
    /// so a read-then-write inside cannot fail half-way on a busy database.
    pub fn transaction<T, E: From<DbError>>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        let begin = match self.backend() {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        self.execute_batch(begin)?;
        match f(self) {
            Ok(v) => {
                self.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                // The error that matters is `e`; a failed rollback leaves
                // the connection to be reset by the server.
                let _ = self.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>, column: &str) -> Result<Value, DbError> {
    use rusqlite::types::ValueRef as V;
    Ok(match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Int(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(_) => {
            return Err(DbError::Column {
                column: column.to_string(),
                reason: "holds a BLOB; the state layer reads text and numbers".into(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_spelled_per_backend_outside_quotes() {
        assert_eq!(
            sqlite_sql("SELECT $2, '$1', \"a$3\" WHERE x = $10 AND y = $1"),
            "SELECT ?2, '$1', \"a$3\" WHERE x = ?10 AND y = ?1"
        );
        // rusqlite-era SQL: anonymous `?` continue after the highest number.
        assert_eq!(
            placeholders("a = ? AND b = ?3 AND c = ? AND d = '?'", Backend::Postgres),
            "a = $1 AND b = $3 AND c = $4 AND d = '?'"
        );
        assert_eq!(
            placeholders("x = ? AND y = ?", Backend::Sqlite),
            "x = ?1 AND y = ?2"
        );
    }

    #[test]
    fn a_targets_description_has_no_password() {
        let t = Target::parse("postgres://taishi:s3cret@db.example:5433/state").unwrap();
        assert_eq!(t.describe(), "postgres://taishi@db.example:5433/state");
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(
            Target::parse("/var/lib/taishi/state.db").unwrap().backend(),
            Backend::Sqlite
        );
        assert!(Target::parse("mysql://x").is_err());
        assert_eq!(
            redact_url("postgres://taishi:p@ss@db:5432/state"),
            "postgres://taishi:***@db:5432/state"
        );
        assert_eq!(
            redact_url("postgres://taishi@db/state"),
            "postgres://taishi@db/state"
        );
    }
}
