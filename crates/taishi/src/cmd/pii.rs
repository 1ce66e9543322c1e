//! `taishi pii scan PATH|postgres://…|mysql://…`: where personal
//! information is at rest (issue 16). The scanners are taishi-pii-scan's
//! (files of every shape, databases sampled per column); this command
//! picks the inputs, shows progress and prints the findings per location
//! with counts, confidence, masked examples, distinct people and grade —
//! never a raw value.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use taishi_pii::{
    Grading, Lang, LocationSummary, MaskKey, MaskPolicy, Masker, ScanConfig, Scanner,
};
use taishi_pii_scan::{DbLimits, DbTarget, Detect, FileLimits, FileScanner};

use crate::ui;
// The audit export's quoting, defused against spreadsheet formulas.
use taishi_audit::export::csv_cell;

#[derive(Args)]
#[command(
    about = "Find personal information (个人信息) in files and databases; never prints a raw value"
)]
pub struct PiiArgs {
    #[command(subcommand)]
    command: PiiCommand,
}

#[derive(Subcommand)]
enum PiiCommand {
    Scan(ScanArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum OutFormat {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Zh,
    En,
}

/// Scan files and directories (recursively): text, logs, CSV (per column),
/// JSON and NDJSON (per field), docx, xlsx (per sheet and column), PDF text,
/// zip and gzip of any of them (zip bombs refused and counted); and
/// PostgreSQL or MySQL/MariaDB databases, `--sample` rows of every table,
/// per column, over a read-only session.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  taishi pii scan /srv/exports\n  taishi pii scan --format json customers.csv app.log.gz contracts.docx\n  taishi pii scan --sample 5000 postgres://auditor@db.internal/crm\n  taishi pii scan mysql://auditor:PASSWORD@127.0.0.1:3306/shop\n\nA database password may come from PGPASSWORD (PostgreSQL) or MYSQL_PWD (MySQL/MariaDB) rather than the URL."
)]
struct ScanArgs {
    /// Files, directories, or database URLs (postgres://…, mysql://…, mariadb://…).
    #[arg(required = true)]
    paths: Vec<String>,
    /// `table` for people, `json` or `csv` for machines.
    #[arg(long, value_enum, default_value = "table")]
    format: OutFormat,
    /// Language of the table and the CSV labels (default: from $LANG).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Kinds to look for (codes, comma-separated; default: all but IP addresses).
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// At most this many files (a directory of millions is refused).
    #[arg(long, default_value_t = 100_000)]
    max_files: usize,
    /// Longest line or CSV record read (MiB); longer ones are cut.
    #[arg(long, default_value_t = 16)]
    max_line_mib: usize,
    /// Uncompressed bytes read out of one archive (MiB), nested ones included.
    #[arg(long, default_value_t = 1024)]
    max_archive_mib: u64,
    /// Databases: rows read per table (so per column).
    #[arg(long, default_value_t = 1000)]
    sample: u64,
    /// Databases: tables read at most (the rest are counted, not read).
    #[arg(long, default_value_t = 1000)]
    max_tables: usize,
    /// Databases: characters of one cell read at most (cut by the server).
    #[arg(long, default_value_t = 65_536)]
    max_cell: usize,
    /// Databases: each statement's time limit on the server (seconds).
    #[arg(long, default_value_t = 30)]
    statement_timeout: u64,
}

pub fn run(args: PiiArgs) -> Result<ExitCode> {
    match args.command {
        PiiCommand::Scan(a) => scan(a),
    }
}

fn scan(a: ScanArgs) -> Result<ExitCode> {
    let lang = match a.lang {
        Some(LangArg::Zh) => Lang::Zh,
        Some(LangArg::En) => Lang::En,
        None if std::env::var("LANG").is_ok_and(|l| l.starts_with("zh")) => Lang::Zh,
        None => Lang::En,
    };
    let kinds = if a.kinds.is_empty() {
        taishi_pii::KindSet::all()
            .without(taishi_pii::Kind::Ipv4)
            .without(taishi_pii::Kind::Ipv6)
    } else {
        let mut set = taishi_pii::KindSet::EMPTY;
        for k in &a.kinds {
            let kind = taishi_pii::Kind::from_code(k.trim())
                .with_context(|| format!("--kinds: `{k}` is not a kind / 不是个人信息类型"))?;
            set = set.with(kind);
        }
        set
    };
    // A key for this run only: people are counted by keyed hashes that
    // never leave the process.
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).map_err(|e| anyhow::anyhow!("random key: {e}"))?;
    let key = MaskKey::new(&k)?;
    let scanner = Scanner::new(ScanConfig {
        kinds,
        ..ScanConfig::default()
    })?;
    let detect = Detect {
        masker: Masker::new(scanner, key.clone(), MaskPolicy::default()),
        key: key.clone(),
    };
    let (dbs, paths): (Vec<String>, Vec<String>) =
        a.paths.into_iter().partition(|p| DbTarget::of(p).is_some());
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    let mut locations: Vec<(String, LocationSummary)> = Vec::new();
    let mut unreadable = 0;
    let mut databases = Vec::new();
    let db_limits = DbLimits {
        sample: a.sample.max(1),
        max_tables: a.max_tables.max(1),
        max_cell: a.max_cell.max(1),
        statement_timeout: Duration::from_secs(a.statement_timeout.max(1)),
        ..DbLimits::default()
    };
    for url in &dbs {
        let shown = taishi_pii_scan::redact(url);
        let progress = ui::Progress::count(&shown);
        match taishi_pii_scan::scan_database(url, &detect, &db_limits, &mut |p| {
            progress.set(p.done as u64, p.total as u64, p.table)
        }) {
            Ok(r) => {
                for (table, e) in &r.failed {
                    progress.println(&format!("{shown} {table}: {e}"));
                }
                databases.push(serde_json::json!({
                    "database": shown,
                    "tables": r.tables,
                    "columns": r.columns,
                    "rows": r.rows,
                    "tables_skipped": r.tables_skipped,
                    "columns_skipped": r.columns_skipped,
                    "failed": r.failed.iter().map(|(t, e)| serde_json::json!({"table": t, "error": e})).collect::<Vec<_>>(),
                }));
                locations.extend(r.locations);
            }
            Err(e) => {
                unreadable += 1;
                progress.println(&format!("{shown}: {e}"));
            }
        }
    }
    let files = if paths.is_empty() {
        Vec::new()
    } else {
        collect(&paths, a.max_files)?
    };
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let read = Arc::new(AtomicU64::new(0));
    let progress = ui::Progress::bytes(Some(total), read.clone());
    let limits = FileLimits {
        max_line: a.max_line_mib.max(1) << 20,
        max_total: a.max_archive_mib.max(1) << 20,
        ..FileLimits::default()
    };
    let s = FileScanner::new(detect, limits, read);
    for f in &files {
        progress.message(f.display().to_string());
        match s.file(f) {
            Ok(found) => locations.extend(found.into_iter().filter(|(_, l)| !l.kinds.is_empty())),
            Err(e) => {
                unreadable += 1;
                progress.println(&format!("{}: {e:#}", f.display()));
            }
        }
    }
    progress.finish();
    let rejects = s.rejects();
    let grading = Grading::builtin()?;
    let mut out = std::io::stdout().lock();
    let rows: Vec<Row> = locations
        .iter()
        .map(|(loc, l)| Row::of(loc, l, &grading, lang))
        .collect();
    match a.format {
        OutFormat::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({
                    "files": files.len(),
                    "databases": databases,
                    "unreadable": unreadable,
                    "rejected": rejects,
                    "locations": rows,
                }),
            )?;
            writeln!(out)?;
        }
        OutFormat::Csv => {
            writeln!(
                out,
                "location,kinds,findings,confidence,people,people_exact,category,level,examples"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{},{},{},{:.2},{},{},{},{},{}",
                    csv_cell(&r.location),
                    csv_cell(&r.kinds_text()),
                    r.findings,
                    r.confidence,
                    r.people,
                    r.people_exact,
                    csv_cell(&r.category_label),
                    csv_cell(&r.level),
                    csv_cell(&r.examples.join("; "))
                )?;
            }
        }
        OutFormat::Table => {
            let zh = lang == Lang::Zh;
            let header: &[&str] = if zh {
                &[
                    "位置",
                    "类型",
                    "发现数",
                    "置信度",
                    "人数",
                    "类别（GB/T 35273）",
                    "级别",
                    "示例（已脱敏）",
                ]
            } else {
                &[
                    "location",
                    "kinds",
                    "found",
                    "confidence",
                    "people",
                    "category (GB/T 35273)",
                    "level",
                    "examples (masked)",
                ]
            };
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.location.clone(),
                        r.kinds_text(),
                        ui::count(r.findings),
                        format!("{:.2}", r.confidence),
                        if r.people_exact {
                            ui::count(r.people)
                        } else {
                            format!(
                                "≈{} (±{:.1}%)",
                                ui::count(r.people),
                                r.people_rel_std_error * 100.0
                            )
                        },
                        r.category_label.clone(),
                        r.level.clone(),
                        r.examples.join(", "),
                    ]
                })
                .collect();
            write!(out, "{}", ui::table(header, &table_rows))?;
            // The same person in several files counts once.
            let mut all = LocationSummary::new(key.clone());
            for (_, l) in &locations {
                all.merge(l);
            }
            let people = all.people().count;
            if zh {
                writeln!(
                    out,
                    "\n{} 个文件，{} 个位置含个人信息，共 {} 人（按身份证号去重）；{} 个文件无法读取",
                    files.len(),
                    rows.len(),
                    ui::count(people),
                    unreadable
                )?;
            } else {
                writeln!(out, "\n{} files, {} locations with personal information, {} distinct people (by resident ID); {} unreadable", files.len(), rows.len(), ui::count(people), unreadable)?;
            }
            for d in &databases {
                let n = |k: &str| d[k].as_u64().unwrap_or(0);
                let failed = d["failed"].as_array().map(Vec::len).unwrap_or(0);
                if zh {
                    writeln!(
                        out,
                        "数据库 {}：读取 {} 张表、{} 列、{} 行（每表抽样）；{} 张表超出上限未读，{} 张表读取失败",
                        d["database"].as_str().unwrap_or(""),
                        n("tables"),
                        n("columns"),
                        n("rows"),
                        n("tables_skipped"),
                        failed
                    )?;
                } else {
                    writeln!(
                        out,
                        "database {}: {} tables, {} columns, {} rows read (sampled per table); {} tables over the limit not read, {} failed",
                        d["database"].as_str().unwrap_or(""),
                        n("tables"),
                        n("columns"),
                        n("rows"),
                        n("tables_skipped"),
                        failed
                    )?;
                }
            }
            if !rejects.is_empty() {
                let list: Vec<String> = rejects.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                if zh {
                    writeln!(out, "拒绝读取（压缩炸弹、超限、加密）：{}", list.join(", "))?;
                } else {
                    writeln!(
                        out,
                        "refused (zip bombs, over the limits, encrypted): {}",
                        list.join(", ")
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct Row {
    location: String,
    kinds: BTreeMap<String, u64>,
    #[serde(skip)]
    labels: Vec<String>,
    findings: u64,
    confidence: f32,
    people: u64,
    people_exact: bool,
    people_rel_std_error: f64,
    /// GB/T 35273 category code, and its label in the output's language.
    category: String,
    #[serde(skip)]
    category_label: String,
    level: String,
    examples: Vec<String>,
}

impl Row {
    fn of(loc: &str, l: &LocationSummary, g: &Grading, lang: Lang) -> Row {
        let p = l.people();
        let grade = l.grade(g);
        Row {
            location: loc.to_string(),
            kinds: l
                .kinds
                .iter()
                .map(|(k, s)| (k.code().to_string(), s.count))
                .collect(),
            labels: l
                .kinds
                .iter()
                .map(|(k, s)| format!("{}:{}", k.label(lang), s.count))
                .collect(),
            findings: l.kinds.values().map(|s| s.count).sum(),
            confidence: l
                .kinds
                .values()
                .map(|s| s.max_confidence)
                .fold(0.0, f32::max),
            people: p.count,
            people_exact: p.exact,
            people_rel_std_error: p.rel_std_error,
            category: grade
                .map(|g| g.category.code().to_string())
                .unwrap_or_default(),
            category_label: grade
                .map(|g| g.category.label(lang).to_string())
                .unwrap_or_default(),
            level: grade.map(|g| g.level.label(lang)).unwrap_or_default(),
            examples: l
                .kinds
                .values()
                .flat_map(|s| s.examples.iter().take(2).cloned())
                .collect(),
        }
    }

    fn kinds_text(&self) -> String {
        self.labels.join(", ")
    }
}

/// The files under `paths`, sorted, at most `max`.
fn collect(paths: &[PathBuf], max: usize) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.iter().rev().cloned().collect();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> =
                std::fs::read_dir(&p)?.flatten().map(|e| e.path()).collect();
            entries.sort();
            stack.extend(entries.into_iter().rev());
        } else {
            out.push(p);
        }
        if out.len() > max {
            anyhow::bail!("more than {max} files (--max-files) / 文件数超过 {max}");
        }
    }
    Ok(out)
}
