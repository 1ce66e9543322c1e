//! Databases over a real connection: PostgreSQL and MySQL/MariaDB.
//!
//! The catalogue (`information_schema.columns`) names the tables and their
//! text-like and wide-integer columns (a mobile number or a card is often a
//! `bigint` or a `decimal`); each table is then read once — its first
//! `sample` rows, every candidate column cast to text and cut to
//! `max_cell` characters by the server — and each column is a location
//! `schema.table.column` with its name as the detectors' context word.
//!
//! The session is read-only and every statement has a timeout, so a scan
//! can neither write nor hold a production database for long; the number
//! of tables and columns is bounded, and what was left is reported.

use std::time::Duration;

use crate::{Detect, Locations};

/// Bounds of one database scan.
#[derive(Clone, Debug)]
pub struct DbLimits {
    /// Rows read per table (and so per column).
    pub sample: u64,
    /// Tables read at most; the rest are counted in `tables_skipped`.
    pub max_tables: usize,
    /// Columns read per table at most.
    pub max_columns: usize,
    /// Characters of one cell read at most (cut by the server).
    pub max_cell: usize,
    /// Each statement's limit on the server.
    pub statement_timeout: Duration,
    /// Connecting, and each read on the socket (MySQL).
    pub connect_timeout: Duration,
}

impl Default for DbLimits {
    fn default() -> Self {
        DbLimits {
            sample: 1000,
            max_tables: 1000,
            max_columns: 500,
            max_cell: 65_536,
            statement_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not a database URL (postgres://… or mysql://…) / 不是数据库地址")]
    NotADatabase,
    #[error("MySQL/MariaDB URL: {0}")]
    MysqlUrl(String),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("MySQL/MariaDB: {0}")]
    Mysql(#[from] mysql::Error),
}

impl taishi_event::Kinded for DbError {
    /// A refused URL or a statement the server rejects (no such table, no
    /// permission) is the request's fault; a lost or refused connection may
    /// work later.
    fn kind(&self) -> taishi_event::ErrorKind {
        use taishi_event::ErrorKind;
        match self {
            DbError::NotADatabase | DbError::MysqlUrl(_) => ErrorKind::Rejected,
            DbError::Postgres(e) if e.as_db_error().is_some() => ErrorKind::Rejected,
            DbError::Mysql(mysql::Error::MySqlError(_)) => ErrorKind::Rejected,
            DbError::Postgres(_) | DbError::Mysql(_) => ErrorKind::Transient,
        }
    }
}

/// Which server a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbTarget {
    Postgres,
    Mysql,
}

impl DbTarget {
    /// `postgres://`, `postgresql://`, `mysql://` or `mariadb://`; `None`
    /// for anything else (a file path).
    pub fn of(url: &str) -> Option<DbTarget> {
        let scheme = url.split_once("://")?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(DbTarget::Postgres),
            "mysql" | "mariadb" => Some(DbTarget::Mysql),
            _ => None,
        }
    }
}

/// The URL without its password, fit to print.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(x) => x,
        None => return url.to_string(),
    };
    let user = auth.split_once(':').map(|(u, _)| u).unwrap_or(auth);
    format!("{scheme}://{user}:***@{host}")
}

/// What a database scan read and found.
#[derive(Debug, Default)]
pub struct DbReport {
    /// Tables read, and columns and rows read over all of them.
    pub tables: usize,
    pub columns: usize,
    pub rows: u64,
    /// Tables beyond `max_tables`, and columns beyond `max_columns`, not read.
    pub tables_skipped: usize,
    pub columns_skipped: usize,
    /// Tables whose read failed (timeout, permission), with the server's words.
    pub failed: Vec<(String, String)>,
    pub locations: Locations,
}

/// Where a scan is, for a progress bar.
pub struct TableProgress<'a> {
    pub done: usize,
    pub total: usize,
    pub table: &'a str,
}

struct Column {
    name: String,
}

struct Table {
    schema: String,
    name: String,
    columns: Vec<Column>,
}

/// Groups catalogue rows (schema, table, column), in order, into tables.
fn group(
    rows: impl Iterator<Item = (String, String, String)>,
    limits: &DbLimits,
    report: &mut DbReport,
) -> Vec<Table> {
    let mut out: Vec<Table> = Vec::new();
    let mut last: Option<(String, String)> = None;
    let mut skipping = false;
    for (schema, table, column) in rows {
        let key = (schema, table);
        if last.as_ref() != Some(&key) {
            last = Some(key.clone());
            skipping = out.len() >= limits.max_tables;
            if skipping {
                report.tables_skipped += 1;
            } else {
                out.push(Table {
                    schema: key.0,
                    name: key.1,
                    columns: Vec::new(),
                });
            }
        }
        if skipping {
            continue;
        }
        let Some(t) = out.last_mut() else { continue };
        if t.columns.len() >= limits.max_columns {
            report.columns_skipped += 1;
            continue;
        }
        t.columns.push(Column { name: column });
    }
    out
}

/// Scans the database at `url`: a connection, the catalogue, `sample` rows
/// of each table. `progress` is told before each table. A URL without a
/// password takes it from `PGPASSWORD` or `MYSQL_PWD`.
pub fn scan_database(
    url: &str,
    detect: &Detect,
    limits: &DbLimits,
    progress: &mut dyn FnMut(TableProgress<'_>),
) -> Result<DbReport, DbError> {
    match DbTarget::of(url).ok_or(DbError::NotADatabase)? {
        DbTarget::Postgres => run(&mut pg::Pg::connect(url, limits)?, detect, limits, progress),
        DbTarget::Mysql => run(&mut my::My::connect(url, limits)?, detect, limits, progress),
    }
}

/// What differs between the servers: the catalogue query, quoting, the
/// cast to text, and reading rows.
trait Source {
    /// (schema, table, column) of candidate columns, ordered by table.
    fn catalogue(&mut self) -> Result<Vec<(String, String, String)>, DbError>;
    fn ident(s: &str) -> String;
    /// A column cast to text and cut to `max` characters by the server.
    fn cell(col: &str, max: usize) -> String;
    /// The rows of a query, each cell as bytes (NULL as none); an error in
    /// the server's words.
    fn rows(&mut self, sql: &str, n: usize) -> Result<Vec<Vec<Option<Vec<u8>>>>, String>;
}

fn run<S: Source>(
    src: &mut S,
    detect: &Detect,
    limits: &DbLimits,
    progress: &mut dyn FnMut(TableProgress<'_>),
) -> Result<DbReport, DbError> {
    let mut report = DbReport::default();
    let tables = group(src.catalogue()?.into_iter(), limits, &mut report);
    let total = tables.len();
    for (i, t) in tables.iter().enumerate() {
        let name = format!("{}.{}", t.schema, t.name);
        progress(TableProgress {
            done: i,
            total,
            table: &name,
        });
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| S::cell(&S::ident(&c.name), limits.max_cell))
            .collect();
        let sql = format!(
            "SELECT {} FROM {}.{} LIMIT {}",
            cols.join(", "),
            S::ident(&t.schema),
            S::ident(&t.name),
            limits.sample
        );
        match src.rows(&sql, cols.len()) {
            Ok(rows) => {
                report.tables += 1;
                report.columns += t.columns.len();
                take_rows(detect, t, rows.into_iter(), &mut report);
            }
            Err(e) => report.failed.push((name, e)),
        }
    }
    progress(TableProgress {
        done: total,
        total,
        table: "",
    });
    Ok(report)
}

/// Scans one table's rows into the report, column by column.
fn take_rows(
    detect: &Detect,
    t: &Table,
    rows: impl Iterator<Item = Vec<Option<Vec<u8>>>>,
    report: &mut DbReport,
) {
    let locs: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("{}.{}.{}", t.schema, t.name, c.name))
        .collect();
    for row in rows {
        report.rows += 1;
        for (i, cell) in row.into_iter().enumerate() {
            if let (Some(cell), Some(loc)) = (cell, locs.get(i)) {
                detect.add(&mut report.locations, loc, Some(&t.columns[i].name), &cell);
            }
        }
    }
}

mod pg {
    use super::*;
    use postgres::{Client, NoTls};

    /// Column types that can hold personal information as text or digits.
    const TYPES: &str = "'text','character varying','character','json','jsonb','xml','bigint','numeric','citext','USER-DEFINED','ARRAY'";

    pub(super) struct Pg(Client);

    impl Pg {
        pub(super) fn connect(url: &str, limits: &DbLimits) -> Result<Pg, DbError> {
            let mut cfg: postgres::Config = url.parse()?;
            cfg.connect_timeout(limits.connect_timeout);
            cfg.application_name("taishi pii scan");
            // A password kept out of the URL (and so out of `ps` and shell
            // history) comes from libpq's variable.
            if cfg.get_password().is_none() {
                if let Ok(p) = std::env::var("PGPASSWORD") {
                    cfg.password(p);
                }
            }
            let mut c = cfg.connect(NoTls)?;
            // Read-only and time-bounded for the whole session.
            c.batch_execute(&format!(
                "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; SET statement_timeout = {}",
                limits.statement_timeout.as_millis().max(1)
            ))?;
            Ok(Pg(c))
        }
    }

    impl Source for Pg {
        fn catalogue(&mut self) -> Result<Vec<(String, String, String)>, DbError> {
            let rows = self.0.query(
                &format!(
                    "SELECT table_schema::text, table_name::text, column_name::text \
                     FROM information_schema.columns \
                     WHERE table_schema NOT IN ('pg_catalog','information_schema') \
                       AND table_schema NOT LIKE 'pg\\_toast%' AND data_type IN ({TYPES}) \
                     ORDER BY table_schema, table_name, ordinal_position"
                ),
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        }

        fn ident(s: &str) -> String {
            format!("\"{}\"", s.replace('"', "\"\""))
        }

        fn cell(col: &str, max: usize) -> String {
            format!("left({col}::text, {max})")
        }

        fn rows(&mut self, sql: &str, n: usize) -> Result<Vec<Vec<Option<Vec<u8>>>>, String> {
            let rows = self.0.query(sql, &[]).map_err(|e| e.to_string())?;
            Ok(rows
                .iter()
                .map(|r| {
                    (0..n)
                        .map(|i| r.get::<_, Option<String>>(i).map(String::into_bytes))
                        .collect()
                })
                .collect())
        }
    }
}

mod my {
    use super::*;
    use mysql::prelude::Queryable;
    use mysql::{Conn, Opts, OptsBuilder};

    const TYPES: &str = "'char','varchar','tinytext','text','mediumtext','longtext','json','bigint','decimal','enum','set'";

    pub(super) struct My(Conn);

    impl My {
        pub(super) fn connect(url: &str, limits: &DbLimits) -> Result<My, DbError> {
            // The mysql crate knows `mysql://` only.
            let url = match url.split_once("://") {
                Some((_, rest)) => format!("mysql://{rest}"),
                None => url.to_string(),
            };
            let opts = Opts::from_url(&url).map_err(|e| DbError::MysqlUrl(e.to_string()))?;
            // As for PostgreSQL: the client's own variable when the URL has none.
            let pass = opts
                .get_pass()
                .map(str::to_string)
                .or_else(|| std::env::var("MYSQL_PWD").ok());
            let opts = OptsBuilder::from_opts(opts)
                .pass(pass)
                .tcp_connect_timeout(Some(limits.connect_timeout))
                .read_timeout(Some(limits.statement_timeout + limits.connect_timeout))
                .write_timeout(Some(limits.connect_timeout));
            let mut c = Conn::new(opts)?;
            c.query_drop("SET SESSION TRANSACTION READ ONLY")?;
            // MariaDB and MySQL name the statement timeout differently; each
            // refuses the other's, so both are tried.
            let secs = limits.statement_timeout.as_secs_f64().max(0.001);
            let _ = c.query_drop(format!("SET SESSION max_statement_time = {secs}"));
            let _ = c.query_drop(format!(
                "SET SESSION max_execution_time = {}",
                (secs * 1000.0) as u64
            ));
            Ok(My(c))
        }
    }

    impl Source for My {
        fn catalogue(&mut self) -> Result<Vec<(String, String, String)>, DbError> {
            // The database the URL names, or every one but the server's own.
            Ok(self.0.query(format!(
                "SELECT CAST(table_schema AS CHAR), CAST(table_name AS CHAR), CAST(column_name AS CHAR) \
                 FROM information_schema.columns \
                 WHERE (DATABASE() IS NULL OR table_schema = DATABASE()) \
                   AND table_schema NOT IN ('mysql','information_schema','performance_schema','sys') \
                   AND data_type IN ({TYPES}) \
                 ORDER BY table_schema, table_name, ordinal_position"
            ))?)
        }

        fn ident(s: &str) -> String {
            format!("`{}`", s.replace('`', "``"))
        }

        fn cell(col: &str, max: usize) -> String {
            format!("LEFT(CAST({col} AS CHAR), {max})")
        }

        fn rows(&mut self, sql: &str, _n: usize) -> Result<Vec<Vec<Option<Vec<u8>>>>, String> {
            let rows: Vec<mysql::Row> = self.0.query(sql).map_err(|e| e.to_string())?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    r.unwrap()
                        .into_iter()
                        .map(|v| match v {
                            mysql::Value::Bytes(b) => Some(b),
                            mysql::Value::NULL => None,
                            other => Some(other.as_sql(true).into_bytes()),
                        })
                        .collect()
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_redaction() {
        assert_eq!(DbTarget::of("postgres://a@b/c"), Some(DbTarget::Postgres));
        assert_eq!(DbTarget::of("MariaDB://a@b/c"), Some(DbTarget::Mysql));
        assert_eq!(DbTarget::of("/srv/x.csv"), None);
        assert_eq!(
            redact("mysql://u:s3cret@127.0.0.1:3306/db"),
            "mysql://u:***@127.0.0.1:3306/db"
        );
        assert!(!redact("postgres://u:p@ss@h/db").contains("p@ss"));
    }

    #[test]
    fn tables_and_columns_are_bounded() {
        let limits = DbLimits {
            max_tables: 2,
            max_columns: 2,
            ..DbLimits::default()
        };
        let rows = [
            ("s", "a", "x"),
            ("s", "a", "y"),
            ("s", "a", "z"),
            ("s", "b", "x"),
            ("s", "c", "x"),
            ("s", "c", "y"),
            ("s", "d", "x"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
        let mut r = DbReport::default();
        let t = group(rows.into_iter(), &limits, &mut r);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].columns.len(), 2);
        assert_eq!((r.tables_skipped, r.columns_skipped), (2, 1));
    }
}
