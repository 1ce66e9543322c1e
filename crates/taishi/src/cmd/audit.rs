//! `taishi audit verify` and `taishi audit export`: the auditor's offline
//! tools over `DATA_DIR/audit` (read-only, safe beside a running server).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use taishi_audit::{
    audit_dir, dir_checkpoints, read_checkpoints, verify_parts, walk_dir, walk_jsonl, Lang,
    PublicKey, ReadItem, VerifyOptions, VerifyReport,
};

use crate::ui;

#[derive(Args)]
#[command(about = "Verify or export the tamper-evident audit trail")]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    Verify(VerifyArgs),
    Export(ExportArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Zh,
    En,
}

impl LangArg {
    /// `--lang`, else zh-CN when $LANG says Chinese, else English.
    fn resolve(arg: Option<LangArg>) -> Lang {
        match arg {
            Some(LangArg::Zh) => Lang::Zh,
            Some(LangArg::En) => Lang::En,
            None if std::env::var("LANG").is_ok_and(|l| l.starts_with("zh")) => Lang::Zh,
            None => Lang::En,
        }
    }
}

#[derive(Args)]
#[command(
    about = "Check the hash chain and the signed checkpoints; name the first broken record",
    after_help = "Without --public-key the key in DATA_DIR/audit/public.pem is used; for an independent \
check, pin a copy exported at installation (`cp DATA_DIR/audit/public.pem auditor.pem`).\n\n\
Exit status: 0 intact, 1 broken (the first broken record is named), 2 the trail cannot be read.\n\n\
Examples:\n  taishi audit verify --data-dir /var/lib/taishi --public-key auditor.pem\n  \
taishi audit verify --file export.jsonl --public-key auditor.pem --json\n  \
taishi audit verify --data-dir /var/lib/taishi --lang zh"
)]
struct VerifyArgs {
    /// Data directory of `taishi serve` (the trail is in DIR/audit).
    #[arg(
        long,
        alias = "data",
        value_name = "DIR",
        default_value = "./taishi-data",
        conflicts_with = "file"
    )]
    data_dir: PathBuf,
    /// A JSON-lines file of records instead (a segment or `audit export --format jsonl`).
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Checkpoints for --file (default: none; a data directory has its own).
    #[arg(long, value_name = "FILE", requires = "file")]
    checkpoints: Option<PathBuf>,
    /// The Ed25519 public key checkpoints are signed with (PEM or 64 hex digits).
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// Print the report as JSON (for machines).
    #[arg(long)]
    json: bool,
    /// Language of the messages (default: from $LANG).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// The stored lines, verifiable with `audit verify --file`.
    Jsonl,
    /// One row per record, for spreadsheets.
    Csv,
    /// ArcSight CEF, one line per record.
    Cef,
}

#[derive(Args)]
#[command(
    about = "Export audit records in a time range",
    after_help = "Times are ISO 8601 (2026-11-01T10:00:00+08:00, 2026-11-01) or relative to now (now-30d).\n\
CSV cells that a spreadsheet would run as a formula (starting with = + - @) get a leading '.\n\n\
Examples:\n  taishi audit export --data-dir /var/lib/taishi --since now-30d --format csv --output audit.csv\n  \
taishi audit export --since 2026-11-01 --until 2026-12-01 --format jsonl > nov.jsonl\n  \
taishi audit export --since now-1d --format cef | nc collector 514"
)]
struct ExportArgs {
    /// Data directory of `taishi serve` (the trail is in DIR/audit).
    #[arg(
        long,
        alias = "data",
        value_name = "DIR",
        default_value = "./taishi-data"
    )]
    data_dir: PathBuf,
    /// Start of the range, inclusive.
    #[arg(long)]
    since: String,
    /// End of the range, exclusive (default: now).
    #[arg(long)]
    until: Option<String>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    format: ExportFormat,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Language of labels in CSV and CEF (default: from $LANG).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
}

pub fn run(args: AuditArgs) -> Result<ExitCode> {
    match args.command {
        AuditCommand::Verify(a) => verify(a).or_else(|e| {
            // 1 means "broken"; a trail that cannot be read at all is another answer.
            eprintln!("taishi audit verify: {e:#}");
            Ok(ExitCode::from(2))
        }),
        AuditCommand::Export(a) => export(a),
    }
}

fn trail_dir(data_dir: &Path) -> Result<PathBuf> {
    let dir = audit_dir(data_dir);
    if !dir.is_dir() {
        bail!(
            "no audit trail at {} (is --data-dir the data directory of `taishi serve`?)",
            dir.display()
        );
    }
    Ok(dir)
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let lang = LangArg::resolve(args.lang);
    if args.file.is_none() {
        trail_dir(&args.data_dir)?;
    }
    let key_path = match (&args.public_key, &args.file) {
        (Some(p), _) => Some(p.clone()),
        (None, None) => Some(audit_dir(&args.data_dir).join("public.pem")),
        (None, Some(_)) => None,
    };
    let key = key_path.as_deref().map(PublicKey::read).transpose()?;
    let report = match &args.file {
        Some(file) => {
            let cps = match &args.checkpoints {
                Some(c) => read_checkpoints(c)?,
                None => Vec::new(),
            };
            let opts = VerifyOptions {
                key,
                require_anchor: false,
            };
            verify_parts(&mut |v| walk_jsonl(file, v).map(|_| ()), cps, &opts)
                .with_context(|| format!("reading {}", file.display()))?
        }
        None => {
            let dir = trail_dir(&args.data_dir)?;
            let opts = VerifyOptions {
                key,
                require_anchor: true,
            };
            verify_parts(&mut |v| walk_dir(&dir, v), dir_checkpoints(&dir)?, &opts)?
        }
    };
    if args.json {
        let out = std::io::stdout();
        let mut w = out.lock();
        serde_json::to_writer_pretty(&mut w, &report)?;
        writeln!(w)?;
    } else {
        print_report(
            &report,
            key_path.as_deref(),
            args.public_key.is_some(),
            lang,
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_report(r: &VerifyReport, key: Option<&Path>, pinned: bool, lang: Lang) {
    let zh = lang == Lang::Zh;
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let key_text = match (key, pinned) {
        (Some(p), true) => p.display().to_string(),
        (Some(p), false) if zh => format!("{}（数据目录内，未独立固定）", p.display()),
        (Some(p), false) => format!("{} (from the data directory, not pinned)", p.display()),
        (None, _) if zh => "无（未校验签名）".into(),
        (None, _) => "none (signatures not checked)".into(),
    };
    let rows: Vec<Vec<String>> = [
        ("记录数", "records", ui::count(r.records)),
        ("起始序号", "first seq", opt(r.first_seq)),
        ("末尾序号", "last seq", opt(r.last_seq)),
        ("检查点", "checkpoints", ui::count(r.checkpoints)),
        (
            "最近一致的检查点",
            "last checkpoint agreeing",
            opt(r.last_checkpoint_seq),
        ),
        ("起点锚定检查点", "start anchored by", opt(r.anchored_by)),
        ("公钥", "public key", key_text),
        (
            "链头哈希",
            "head hash",
            r.head_hash.clone().unwrap_or_else(|| "-".into()),
        ),
    ]
    .into_iter()
    .map(|(z, e, v)| vec![if zh { z } else { e }.to_string(), v])
    .collect();
    let header: [&str; 2] = if zh { ["项目", "值"] } else { ["", "value"] };
    print!("{}", ui::table(&header, &rows));
    println!();
    let verdict = match (r.ok(), zh) {
        (true, true) => "完整",
        (true, false) => "INTACT",
        (false, true) => "已被破坏",
        (false, false) => "BROKEN",
    };
    println!("{verdict}: {}", r.message(lang));
}

fn export(args: ExportArgs) -> Result<ExitCode> {
    let lang = LangArg::resolve(args.lang);
    let dir = trail_dir(&args.data_dir)?;
    let now = chrono::Local::now().fixed_offset();
    let range = taishi_query::TimeRange::parse(Some(&args.since), args.until.as_deref(), now)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = BufWriter::new(out);
    if let ExportFormat::Csv = args.format {
        writeln!(w, "{}", taishi_audit::export::CSV_HEADER)?;
    }
    let version = env!("CARGO_PKG_VERSION");
    let (mut written, mut unreadable) = (0u64, 0u64);
    let mut failed: Option<std::io::Error> = None;
    walk_dir(&dir, &mut |item| {
        let r = match item {
            ReadItem::Item(r) => r,
            ReadItem::Unreadable { location, reason } => {
                eprintln!("taishi audit export: skipped {location}: {reason}");
                unreadable += 1;
                return true;
            }
        };
        if range.from.is_some_and(|f| r.time < f) || range.to.is_some_and(|t| r.time >= t) {
            return true;
        }
        let res = match args.format {
            ExportFormat::Jsonl => w.write_all(&r.to_line()).and_then(|_| w.write_all(b"\n")),
            ExportFormat::Cef => {
                writeln!(w, "{}", taishi_audit::forward::to_cef(&r, version, lang))
            }
            ExportFormat::Csv => writeln!(w, "{}", taishi_audit::export::csv_row(&r, lang)),
        };
        written += 1;
        match res {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    w.flush()?;
    eprintln!("taishi audit export: {} records", ui::count(written));
    if unreadable > 0 {
        eprintln!("taishi audit export: {unreadable} unreadable entries skipped; run `taishi audit verify`");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
