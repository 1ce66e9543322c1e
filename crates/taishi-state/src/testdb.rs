//! Throw-away databases for tests of this crate and of the crates that use
//! it (serve's PostgreSQL integration test): a SQLite file in a temp dir, or
//! a fresh database `t_<random>` on the PostgreSQL named by
//! `TAISHI_TEST_PG` (`scripts/setup.d/postgres.sh` starts one), dropped
//! afterwards.
//!
//! Without `TAISHI_TEST_PG` the PostgreSQL half is skipped with a `SKIP`
//! line, except under `CI=true` or `TAISHI_REQUIRE_TEST_PG=1`, where a
//! missing server fails the test: CI must not pass by skipping.

use std::str::FromStr;

use crate::db::Target;

/// A database that exists for one test.
pub struct TestDb {
    pub target: Target,
    /// `sqlite` or `postgres`, for assertion messages.
    pub name: &'static str,
    _guard: Guard,
}

enum Guard {
    Dir(#[allow(dead_code)] tempfile_dir::Dir),
    Pg {
        admin: Box<postgres::Config>,
        db: String,
    },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Pg { admin, db } = self {
            let db = db.clone();
            let admin = (**admin).clone();
            // FORCE: a connection the test leaked must not keep the
            // database (and the next run's disk) alive.
            let _ = std::thread::spawn(move || {
                if let Ok(mut c) = admin.connect(postgres::NoTls) {
                    let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
                }
            })
            .join();
        }
    }
}

/// A temp dir removed on drop, without a dependency for it.
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn unique() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// Whether a missing PostgreSQL fails the test rather than skipping it.
pub fn pg_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("TAISHI_REQUIRE_TEST_PG").is_ok_and(|v| v == "1")
}

impl TestDb {
    /// A fresh SQLite file in a new temp dir.
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("taishi-state-{}", unique()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TestDb {
            target: Target::Sqlite(dir.join("state.db")),
            name: "sqlite",
            _guard: Guard::Dir(tempfile_dir::Dir(dir)),
        }
    }

    /// A fresh database on `TAISHI_TEST_PG`; `None` (after printing SKIP)
    /// when there is none and none is required.
    pub fn postgres(test: &str) -> Option<TestDb> {
        let Ok(url) = std::env::var("TAISHI_TEST_PG") else {
            assert!(
                !pg_required(),
                "{test}: TAISHI_TEST_PG is not set but CI=true / TAISHI_REQUIRE_TEST_PG=1 requires PostgreSQL (source scripts/setup.d/postgres.sh)"
            );
            eprintln!("SKIP {test} on PostgreSQL: TAISHI_TEST_PG is not set (scripts/setup.d/postgres.sh starts one)");
            return None;
        };
        let admin = postgres::Config::from_str(&url)
            .unwrap_or_else(|e| panic!("TAISHI_TEST_PG is not a PostgreSQL URL: {e}"));
        let db = format!("t_{}", unique());
        let create = {
            let (admin, db) = (admin.clone(), db.clone());
            // Off any tokio runtime the caller may be on (the client blocks).
            std::thread::spawn(move || -> Result<(), postgres::Error> {
                admin
                    .connect(postgres::NoTls)?
                    .batch_execute(&format!("CREATE DATABASE {db}"))
            })
            .join()
            .expect("create database thread")
        };
        create
            .unwrap_or_else(|e| panic!("{test}: cannot create a database on TAISHI_TEST_PG: {e}"));
        let mut cfg = admin.clone();
        cfg.dbname(&db);
        Some(TestDb {
            target: Target::Postgres(Box::new(cfg)),
            name: "postgres",
            _guard: Guard::Pg {
                admin: Box::new(admin),
                db,
            },
        })
    }

    /// SQLite, then PostgreSQL when there is one: the same test runs on both.
    pub fn both(test: &str) -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite()];
        v.extend(TestDb::postgres(test));
        v
    }

    /// Runs SQL outside the state layer, as an operator with database
    /// access would (tests that tamper with rows or fake a newer schema).
    pub fn execute_raw(&self, sql: &str) {
        match &self.target {
            Target::Sqlite(p) => rusqlite::Connection::open(p)
                .and_then(|c| c.execute_batch(sql))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Target::Postgres(c) => {
                let (c, sql) = ((**c).clone(), sql.to_string());
                std::thread::spawn(move || {
                    c.connect(postgres::NoTls)
                        .and_then(|mut c| c.batch_execute(&sql))
                        .unwrap_or_else(|e| panic!("{sql}: {e}"))
                })
                .join()
                .expect("raw SQL thread")
            }
        }
    }

    /// The target as a `postgres://` URL with its password, or the SQLite
    /// path (for `State::connect` and config files in tests).
    pub fn url(&self) -> String {
        match &self.target {
            Target::Sqlite(p) => p.display().to_string(),
            Target::Postgres(c) => {
                let url = std::env::var("TAISHI_TEST_PG").unwrap_or_default();
                let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
                format!("{base}/{}", c.get_dbname().unwrap_or("postgres"))
            }
        }
    }
}
