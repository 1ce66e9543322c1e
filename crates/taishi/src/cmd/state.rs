//! `taishi state status` and `taishi state migrate`: where the platform
//! state's schema stands, and bringing it to this binary's version (a data
//! directory's SQLite file or a shared PostgreSQL database).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use taishi_state::{MigrationStatus, Target};

use crate::ui;

#[derive(Args)]
#[command(about = "Show or upgrade the schema of the platform state (users, alerts, settings…)")]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Subcommand)]
enum StateCommand {
    Status(StatusArgs),
    Migrate(MigrateArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Zh,
    En,
}

/// Which database: a data directory's `state.db` or a PostgreSQL URL.
#[derive(Args)]
struct Where {
    /// Data directory of `taishi serve` (the state is DIR/state.db).
    #[arg(
        long,
        alias = "data",
        value_name = "DIR",
        default_value = "./taishi-data",
        conflicts_with = "database"
    )]
    data_dir: PathBuf,
    /// A shared PostgreSQL database instead: postgres://USER@HOST:PORT/DATABASE.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Environment variable holding the PostgreSQL password (so it is not
    /// on the command line).
    #[arg(long, value_name = "VAR", requires = "database")]
    password_env: Option<String>,
    /// Print JSON (for machines) instead of a table.
    #[arg(long)]
    json: bool,
    /// Language of the table (default: from $LANG).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
}

impl Where {
    fn target(&self) -> Result<Target> {
        let t = match &self.database {
            Some(url) => Target::parse(url)?,
            None => Target::Sqlite(self.data_dir.join("state.db")),
        };
        Ok(match &self.password_env {
            Some(var) => {
                let pw = std::env::var(var).with_context(|| {
                    format!("--password-env: the environment variable {var} is not set / 环境变量 {var} 未设置")
                })?;
                t.with_password(&pw)
            }
            None => t,
        })
    }

    fn zh(&self) -> bool {
        match self.lang {
            Some(LangArg::Zh) => true,
            Some(LangArg::En) => false,
            None => std::env::var("LANG").is_ok_and(|l| l.starts_with("zh")),
        }
    }
}

#[derive(Args)]
#[command(
    about = "Show the schema version of the platform state and the migrations applied or pending",
    after_help = "Exit status: 0 up to date, 3 migrations pending, 1 the database cannot be read or is newer than this binary.\n\n\
Examples:\n  taishi state status --data-dir /var/lib/taishi\n  \
PGPASSWORD_TAISHI=… taishi state status --database postgres://taishi@db:5432/taishi --password-env PGPASSWORD_TAISHI\n  \
taishi state status --data-dir /var/lib/taishi --json"
)]
struct StatusArgs {
    #[command(flatten)]
    at: Where,
}

#[derive(Args)]
#[command(
    about = "Bring the platform state to this binary's schema (each migration in its own transaction)",
    after_help = "`taishi serve` migrates at start as well; run this to upgrade ahead of a restart, or to see \
what an upgrade would do (--dry-run). Back up DATA_DIR/state.db (or the database) first: migrations \
only go forward. A database of the shape from before versioned migrations is recognised and brought \
forward with its rows. On PostgreSQL, nodes starting together take turns (advisory lock).\n\n\
Examples:\n  taishi state migrate --data-dir /var/lib/taishi --dry-run\n  \
taishi state migrate --data-dir /var/lib/taishi\n  \
taishi state migrate --database postgres://taishi@db:5432/taishi --password-env PGPASSWORD_TAISHI --json"
)]
struct MigrateArgs {
    #[command(flatten)]
    at: Where,
    /// Only say which migrations would be applied.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: StateArgs) -> Result<ExitCode> {
    match args.command {
        StateCommand::Status(a) => {
            let t = a.at.target()?;
            let st = taishi_state::migration_status(&t)?;
            print(&a.at, &st, None)?;
            Ok(if st.version > st.latest {
                ExitCode::from(1)
            } else if st.pending.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        StateCommand::Migrate(a) => {
            let t = a.at.target()?;
            let before = taishi_state::migrate_database(&t, a.dry_run)?;
            let after = if a.dry_run {
                before.clone()
            } else {
                taishi_state::migration_status(&t)?
            };
            print(&a.at, &after, Some((&before, a.dry_run)))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print(at: &Where, st: &MigrationStatus, run: Option<(&MigrationStatus, bool)>) -> Result<()> {
    if at.json {
        let mut v = serde_json::to_value(st)?;
        if let Some((before, dry_run)) = run {
            v["dry_run"] = dry_run.into();
            v["applied_now"] = serde_json::to_value(&before.pending)?;
        }
        let out = std::io::stdout();
        let mut w = out.lock();
        serde_json::to_writer_pretty(&mut w, &v)?;
        writeln!(w)?;
        return Ok(());
    }
    let zh = at.zh();
    let t = |z: &'static str, e: &'static str| if zh { z } else { e };
    println!("{} {}", t("数据库：", "database:"), st.database);
    println!(
        "{} {} / {}{}",
        t("结构版本：", "schema version:"),
        st.version,
        st.latest,
        if st.unversioned {
            t(
                "（迁移机制之前的数据库，将被升级）",
                " (from before versioned migrations; will be brought forward)",
            )
        } else {
            ""
        }
    );
    let now: Vec<i64> = run.map_or(Vec::new(), |(b, _)| {
        b.pending.iter().map(|p| p.version).collect()
    });
    let mut rows: Vec<Vec<String>> = st
        .applied
        .iter()
        .map(|a| {
            let state = if now.contains(&a.version) {
                t("刚应用", "applied now")
            } else {
                t("已应用", "applied")
            };
            vec![
                a.version.to_string(),
                a.name.clone(),
                state.into(),
                a.applied_at.clone(),
            ]
        })
        .collect();
    let dry = run.is_some_and(|(_, d)| d);
    rows.extend(st.pending.iter().map(|p| {
        let state = if dry {
            t("将应用", "would apply")
        } else {
            t("待应用", "pending")
        };
        vec![
            p.version.to_string(),
            p.name.clone(),
            state.into(),
            "-".into(),
        ]
    }));
    let header = if zh {
        ["版本", "迁移", "状态", "应用时间"]
    } else {
        ["version", "migration", "state", "applied at"]
    };
    print!("{}", ui::table(&header, &rows));
    Ok(())
}
