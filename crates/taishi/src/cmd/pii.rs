//! `taishi pii scan PATH...`: where personal information is in files (issue
//! 16). Text and logs per file, CSV per column, JSON per field; gzip is
//! read through. Findings come out per location with counts, confidence,
//! masked examples and distinct people — never a raw value.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use taishi_pii::{
    Grading, Lang, LocationSummary, MaskKey, MaskPolicy, Masker, ScanConfig, Scanner,
};

use crate::ui;
// The audit export's quoting, defused against spreadsheet formulas.
use taishi_audit::export::csv_cell;

#[derive(Args)]
#[command(about = "Find personal information (个人信息) in files; never prints a raw value")]
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
/// JSON and NDJSON (per field), gzip of any of them. Not read: docx, xlsx,
/// zip and PDF (no reader in the build yet), databases.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  taishi pii scan /srv/exports\n  taishi pii scan --format json customers.csv app.log.gz"
)]
struct ScanArgs {
    /// Files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
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
}

pub fn run(args: PiiArgs) -> Result<ExitCode> {
    match args.command {
        PiiCommand::Scan(a) => scan(a),
    }
}

/// Locations per file kept at most (columns, JSON fields).
const MAX_LOCATIONS_PER_FILE: usize = 1000;
/// JSON nesting followed at most.
const MAX_DEPTH: usize = 32;
/// Text is scanned in pieces of about this size, cut at a newline.
const CHUNK: usize = 1 << 20;

struct Scan {
    masker: Masker,
    key: MaskKey,
    max_line: usize,
    read: Arc<AtomicU64>,
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
    let files = collect(&a.paths, a.max_files)?;
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let read = Arc::new(AtomicU64::new(0));
    let progress = ui::Progress::bytes(Some(total), read.clone());
    let s = Scan {
        masker: Masker::new(scanner, key.clone(), MaskPolicy::default()),
        key,
        max_line: a.max_line_mib.max(1) << 20,
        read,
    };
    let mut locations: Vec<(String, LocationSummary)> = Vec::new();
    let mut unreadable = 0;
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
                &serde_json::json!({"files": files.len(), "unreadable": unreadable, "locations": rows}),
            )?;
            writeln!(out)?;
        }
        OutFormat::Csv => {
            writeln!(
                out,
                "location,kinds,findings,confidence,people,people_exact,level,examples"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{},{},{},{:.2},{},{},{},{}",
                    csv_cell(&r.location),
                    csv_cell(&r.kinds_text()),
                    r.findings,
                    r.confidence,
                    r.people,
                    r.people_exact,
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
                        r.level.clone(),
                        r.examples.join(", "),
                    ]
                })
                .collect();
            write!(out, "{}", ui::table(header, &table_rows))?;
            // The same person in several files counts once.
            let mut all = LocationSummary::new(s.key.clone());
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
    level: String,
    examples: Vec<String>,
}

impl Row {
    fn of(loc: &str, l: &LocationSummary, g: &Grading, lang: Lang) -> Row {
        let p = l.people();
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
            level: l.grade(g).map(|g| g.level.label(lang)).unwrap_or_default(),
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

/// Counts the raw bytes read, for the progress bar.
struct Metered<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[derive(PartialEq)]
enum Shape {
    Text,
    Csv,
    Json,
}

impl Scan {
    fn file(&self, path: &Path) -> Result<Vec<(String, LocationSummary)>> {
        let f = std::fs::File::open(path)?;
        let mut r = BufReader::with_capacity(
            256 * 1024,
            Metered {
                inner: f,
                read: self.read.clone(),
            },
        );
        let gz = r.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let mut name = path.to_string_lossy().to_lowercase();
        if gz {
            name = name.trim_end_matches(".gz").to_string();
        }
        let mut input: Box<dyn BufRead> = if gz {
            Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(r)))
        } else {
            Box::new(r)
        };
        let shape = if name.ends_with(".csv") || name.ends_with(".tsv") {
            Shape::Csv
        } else if name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            Shape::Json
        } else {
            Shape::Text
        };
        let base = path.display().to_string();
        let mut locs: BTreeMap<String, LocationSummary> = BTreeMap::new();
        match shape {
            Shape::Csv => self.csv(&mut input, name.ends_with(".tsv"), &base, &mut locs)?,
            Shape::Json => self.json_lines(&mut input, &base, &mut locs)?,
            Shape::Text => self.text(&mut input, &base, &mut locs)?,
        }
        Ok(locs.into_iter().collect())
    }

    fn add(
        &self,
        locs: &mut BTreeMap<String, LocationSummary>,
        loc: &str,
        field: Option<&str>,
        text: &[u8],
    ) {
        let found = match field {
            Some(f) => self.masker.scanner().scan_field(f, text),
            None => self.masker.scanner().scan(text),
        };
        if found.findings.is_empty() {
            return;
        }
        if !locs.contains_key(loc) && locs.len() >= MAX_LOCATIONS_PER_FILE {
            return;
        }
        locs.entry(loc.to_string())
            .or_insert_with(|| LocationSummary::new(self.key.clone()))
            .add(&self.masker, text, &found.findings);
    }

    /// One line into `line`, at most `max_line` bytes of it (the rest of a
    /// longer one comes as the next "line").
    fn line(&self, r: &mut dyn BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
        r.take(self.max_line as u64).read_until(b'\n', line)
    }

    /// Plain text in pieces cut at newlines.
    fn text(
        &self,
        r: &mut dyn BufRead,
        base: &str,
        locs: &mut BTreeMap<String, LocationSummary>,
    ) -> Result<()> {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        loop {
            buf.clear();
            let mut line = Vec::new();
            while buf.len() < CHUNK {
                line.clear();
                let n = self.line(r, &mut line)?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&line);
            }
            if buf.is_empty() {
                return Ok(());
            }
            self.add(locs, base, None, &buf);
        }
    }

    /// CSV: the first record names the columns; each column is a location
    /// and its name is the scanner's context.
    fn csv(
        &self,
        r: &mut dyn BufRead,
        tsv: bool,
        base: &str,
        locs: &mut BTreeMap<String, LocationSummary>,
    ) -> Result<()> {
        let mut rd = csv::ReaderBuilder::new()
            .delimiter(if tsv { b'\t' } else { b',' })
            .flexible(true)
            .has_headers(true)
            .from_reader(r);
        let header: Vec<String> = rd
            .byte_headers()?
            .iter()
            .map(|h| {
                String::from_utf8_lossy(h)
                    .trim_start_matches('\u{feff}')
                    .to_string()
            })
            .collect();
        let mut rec = csv::ByteRecord::new();
        while rd.read_byte_record(&mut rec)? {
            for (i, cell) in rec.iter().enumerate() {
                let col = header
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", i + 1));
                let cell = &cell[..cell.len().min(self.max_line)];
                self.add(locs, &format!("{base}:{col}"), Some(&col), cell);
            }
        }
        Ok(())
    }

    /// JSON documents, one per line (or one whole file when it is a single
    /// document): each field path is a location; lines that are not JSON
    /// are scanned as text.
    fn json_lines(
        &self,
        r: &mut dyn BufRead,
        base: &str,
        locs: &mut BTreeMap<String, LocationSummary>,
    ) -> Result<()> {
        let mut line = Vec::new();
        let mut whole = Vec::new();
        loop {
            line.clear();
            let n = self.line(r, &mut line)?;
            if n == 0 {
                break;
            }
            if whole.len() < self.max_line {
                whole.extend_from_slice(&line);
            }
            match serde_json::from_slice::<serde_json::Value>(&line) {
                Ok(v) => self.json(&v, base, String::new(), 0, locs),
                Err(_) if line.iter().all(|c| c.is_ascii_whitespace()) => {}
                Err(_) => {
                    // A pretty-printed document spans lines: tried whole at the end.
                    continue;
                }
            }
            whole.clear();
        }
        if !whole.iter().all(|c| c.is_ascii_whitespace()) {
            match serde_json::from_slice::<serde_json::Value>(&whole) {
                Ok(v) => self.json(&v, base, String::new(), 0, locs),
                Err(_) => self.add(locs, base, None, &whole),
            }
        }
        Ok(())
    }

    fn json(
        &self,
        v: &serde_json::Value,
        base: &str,
        path: String,
        depth: usize,
        locs: &mut BTreeMap<String, LocationSummary>,
    ) {
        use serde_json::Value as J;
        let leaf = path.rsplit(['.', '[']).next().unwrap_or("").to_string();
        let loc = || {
            if path.is_empty() {
                base.to_string()
            } else {
                format!("{base}:{path}")
            }
        };
        match v {
            J::String(s) => self.add(locs, &loc(), Some(&leaf), s.as_bytes()),
            J::Number(n) if n.is_u64() || n.is_i64() => {
                self.add(locs, &loc(), Some(&leaf), n.to_string().as_bytes())
            }
            J::Array(a) if depth < MAX_DEPTH => {
                for x in a {
                    // Elements of an array share their field's location.
                    self.json(x, base, path.clone(), depth + 1, locs);
                }
            }
            J::Object(o) if depth < MAX_DEPTH => {
                for (k, x) in o {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.json(x, base, p, depth + 1, locs);
                }
            }
            J::Array(_) | J::Object(_) => {
                let text = v.to_string();
                self.add(locs, &loc(), None, text.as_bytes());
            }
            _ => {}
        }
    }
}
