//! Versioned migrations: numbered SQL files in `migrations/`, embedded in
//! the binary, applied in order, each in its own transaction, recorded in
//! `schema_migrations(version, name, applied_at, checksum)`.
//!
//! * A file is `NNNN_name.sql` (both databases) or a pair
//!   `NNNN_name.sqlite.sql` + `NNNN_name.postgres.sql` where the dialects differ.
//! * Migrations are never edited once released, only added: the checksum of
//!   each applied one is compared with the shipped text.
//! * On PostgreSQL the run holds an advisory lock, so nodes starting together
//!   migrate once, one after the other.
//! * A SQLite database from before migrations (today's tables, no
//!   `schema_migrations`) is recognised: version 1 is that schema with
//!   `IF NOT EXISTS`, so it applies as a no-op and the later ones bring the
//!   database forward with its rows.
//! * A database at a version this binary does not know is refused
//!   ([`DbError::TooNew`]): an older node must not write into a newer schema.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{Backend, Conn, DbError, OptionalExtension};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    /// Columns SQLite adds before the SQL runs, each only when missing:
    /// SQLite has no `ADD COLUMN IF NOT EXISTS`, and a database from
    /// before versioned migrations may have some already.
    sqlite_columns: &'static [(&'static str, &'static str, &'static str)],
}

impl Migration {
    pub fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }

    /// Hex SHA-256 of what the backend runs: the text, and on SQLite the
    /// columns added before it.
    pub fn checksum(&self, backend: Backend) -> String {
        let mut h = Sha256::new();
        h.update(self.sql(backend).as_bytes());
        if backend == Backend::Sqlite {
            for (table, column, ty) in self.sqlite_columns {
                h.update(format!("\n-- add column {table}.{column} {ty}").as_bytes());
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

macro_rules! migration {
    ($v:expr, $name:literal, split) => {
        Migration {
            version: $v,
            name: $name,
            sqlite: include_str!(concat!("../migrations/", $name, ".sqlite.sql")),
            postgres: include_str!(concat!("../migrations/", $name, ".postgres.sql")),
            sqlite_columns: &[],
        }
    };
    ($v:expr, $name:literal, split, $columns:expr) => {
        Migration {
            version: $v,
            name: $name,
            sqlite: include_str!(concat!("../migrations/", $name, ".sqlite.sql")),
            postgres: include_str!(concat!("../migrations/", $name, ".postgres.sql")),
            sqlite_columns: $columns,
        }
    };
    ($v:expr, $name:literal) => {
        Migration {
            version: $v,
            name: $name,
            sqlite: include_str!(concat!("../migrations/", $name, ".sql")),
            postgres: include_str!(concat!("../migrations/", $name, ".sql")),
            sqlite_columns: &[],
        }
    };
}

/// Every migration, in order. A test checks this list against the files.
pub static MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_base", split),
    migration!(2, "0002_intel_hits", split),
    migration!(3, "0003_audit", split),
    migration!(4, "0004_tenancy", split, TENANCY_COLUMNS),
    migration!(5, "0005_overrides"),
    migration!(6, "0006_first_hour", split),
    migration!(7, "0007_saved_searches"),
    migration!(8, "0008_rule_exceptions"),
    migration!(9, "0009_alert_user_backfill", split),
    migration!(10, "0010_incidents"),
    migration!(11, "0011_risk_register"),
    migration!(12, "0012_risk_nvd_kept_apart"),
];

/// `(table, column, type)` that version 4 adds on SQLite, in the order the
/// tenancy code of before versioned migrations added them (so a database
/// it upgraded has the same table SQL as one migrated here).
const TENANCY_COLUMNS: &[(&str, &str, &str)] = &[
    ("users", "org", "TEXT NOT NULL DEFAULT 'root'"),
    ("users", "pw_changed", "TEXT"),
    ("tokens", "org", "TEXT NOT NULL DEFAULT 'root'"),
    ("sessions", "created", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "last_seen", "INTEGER NOT NULL DEFAULT 0"),
    ("alerts", "org", "TEXT NOT NULL DEFAULT 'root'"),
    ("intel_hits", "org", "TEXT NOT NULL DEFAULT 'root'"),
];

/// Adds each of `columns` its table lacks (SQLite).
fn add_missing_columns(c: &mut Conn, columns: &[(&str, &str, &str)]) -> Result<(), DbError> {
    for (table, column, ty) in columns {
        let has: i64 = c.query_row(
            "SELECT count(*) FROM pragma_table_info($1) WHERE name = $2",
            params![*table, *column],
            |r| r.get(0),
        )?;
        if has == 0 {
            c.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
        }
    }
    Ok(())
}

/// The schema version this binary brings a database to.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Where a database stands.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub backend: &'static str,
    /// Where it is (never with a password).
    pub database: String,
    /// The highest version applied (0 for an empty or pre-migration database).
    pub version: i64,
    /// The version this binary knows.
    pub latest: i64,
    /// Tables of the platform state but no `schema_migrations`: a database
    /// from before versioned migrations, brought forward by the next run.
    pub unversioned: bool,
    pub applied: Vec<Applied>,
    pub pending: Vec<Pending>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub version: i64,
    pub name: String,
    pub applied_at: String,
    pub checksum: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub version: i64,
    pub name: String,
}

/// Any PostgreSQL advisory-lock key works if nothing else uses it: this one
/// is "taishi" in ASCII.
const LOCK_KEY: i64 = 0x7461_6973_6869;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations(
  version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL, checksum TEXT NOT NULL)";

fn has_table(c: &mut Conn, name: &str) -> Result<bool, DbError> {
    let sql = match c.backend() {
        Backend::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        Backend::Postgres => {
            "SELECT count(*) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    Ok(c.query_row(sql, params![name], |r| r.get::<_, i64>(0))? > 0)
}

/// Reads where `c`'s database stands without changing it.
pub fn status(c: &mut Conn, database: &str) -> Result<Status, DbError> {
    let backend = c.backend();
    let versioned = has_table(c, "schema_migrations")?;
    let applied = if versioned {
        c.query_map(
            "SELECT version, name, applied_at, checksum FROM schema_migrations ORDER BY version",
            params![],
            |r| {
                Ok(Applied {
                    version: r.get(0)?,
                    name: r.get(1)?,
                    applied_at: r.get(2)?,
                    checksum: r.get(3)?,
                })
            },
        )?
    } else {
        Vec::new()
    };
    let unversioned = !versioned && has_table(c, "users")?;
    let version = applied.iter().map(|a| a.version).max().unwrap_or(0);
    let pending = MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .map(|m| Pending {
            version: m.version,
            name: m.name.to_string(),
        })
        .collect();
    Ok(Status {
        backend: backend.name(),
        database: database.to_string(),
        version,
        latest: latest(),
        unversioned,
        applied,
        pending,
    })
}

/// Refuses a database this binary must not write to: newer than it, or
/// with an applied migration whose text changed.
fn check(c: &mut Conn, st: &Status) -> Result<(), DbError> {
    if st.version > latest() {
        return Err(DbError::TooNew {
            found: st.version,
            known: latest(),
        });
    }
    for a in &st.applied {
        if let Some(m) = MIGRATIONS.iter().find(|m| m.version == a.version) {
            let shipped = m.checksum(c.backend());
            if shipped != a.checksum {
                return Err(DbError::Checksum {
                    version: a.version,
                    name: a.name.clone(),
                    applied: a.checksum.clone(),
                    shipped,
                });
            }
        }
    }
    Ok(())
}

/// Brings the database to [`latest`]; with `dry_run`, only says what would
/// be applied. Returns the status before the run (its `pending` is what
/// was, or would be, applied).
pub fn migrate(c: &mut Conn, database: &str, dry_run: bool) -> Result<Status, DbError> {
    if dry_run {
        let st = status(c, database)?;
        check(c, &st)?;
        return Ok(st);
    }
    let pg = c.backend() == Backend::Postgres;
    if pg {
        // Held across the run: a second node waits here, then finds
        // nothing pending. Released explicitly, and by the server if this
        // connection dies.
        c.query_row(
            "SELECT count(*) FROM (SELECT pg_advisory_lock($1)) l",
            params![LOCK_KEY],
            |_| Ok(()),
        )?;
    }
    let result = apply(c, database);
    if pg {
        let unlock = c.query_row("SELECT pg_advisory_unlock($1)", params![LOCK_KEY], |_| {
            Ok(())
        });
        if result.is_ok() {
            unlock?;
        }
    }
    result
}

fn apply(c: &mut Conn, database: &str) -> Result<Status, DbError> {
    let st = status(c, database)?;
    check(c, &st)?;
    c.execute_batch(CREATE_TABLE)?;
    let backend = c.backend();
    for p in &st.pending {
        let Some(m) = MIGRATIONS.iter().find(|m| m.version == p.version) else {
            continue;
        };
        c.transaction(|c| {
            if backend == Backend::Sqlite {
                add_missing_columns(c, m.sqlite_columns)?;
            }
            c.execute_batch(m.sql(backend))?;
            c.execute(
                "INSERT INTO schema_migrations(version, name, applied_at, checksum) VALUES ($1, $2, $3, $4)",
                params![m.version, m.name, crate::now_iso(), m.checksum(backend)],
            )?;
            Ok::<_, DbError>(())
        })
        .map_err(|e| DbError::Migration {
            version: m.version,
            name: m.name.to_string(),
            cause: Box::new(e),
        })?;
    }
    Ok(st)
}

/// The version recorded, if any (for callers that only need the number).
pub fn version(c: &mut Conn) -> Result<Option<i64>, DbError> {
    if !has_table(c, "schema_migrations")? {
        return Ok(None);
    }
    c.query_row(
        "SELECT max(version) FROM schema_migrations",
        params![],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in migrations/ is in [`MIGRATIONS`] and the versions
    /// count up from 1: a file added but not listed would never run.
    /// The roles the old `admin` is split into, as written in 0004.
    #[test]
    fn the_tenancy_migration_splits_admin_as_taishi_auth_says() {
        let legacy = taishi_auth::LEGACY_ADMIN
            .iter()
            .map(|r| r.id())
            .collect::<Vec<_>>()
            .join(" ");
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let sql = MIGRATIONS[3].sql(backend);
            assert!(sql.contains(&format!("SET role = '{legacy}' WHERE role = 'admin'")));
        }
    }

    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .map(|n| {
                n.trim_end_matches(".sql")
                    .trim_end_matches(".sqlite")
                    .trim_end_matches(".postgres")
                    .to_string()
            })
            .collect();
        names.sort();
        names.dedup();
        let listed: Vec<String> = MIGRATIONS.iter().map(|m| m.name.to_string()).collect();
        assert_eq!(names, listed);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }
}
