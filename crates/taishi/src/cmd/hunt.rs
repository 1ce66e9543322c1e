//! `taishi hunt`: run Sigma rules (and correlation rules) over telemetry
//! files and write a detection timeline.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, FixedOffset, SecondsFormat};
use clap::Args;
use rayon::prelude::*;
use serde_json::{json, Value as J};
use taishi_alert::{AlertRecord, Level};
use taishi_correlation::CorrelatorOptions;
use taishi_decode::{decode_input, expand_inputs, Options};
use taishi_event::{Event, Reject, Sink, Value};
use taishi_runtime::alerts::{self, Body};
use taishi_runtime::anomaly::Anomaly;
use taishi_runtime::{AlertStore, BoxError, Detector, DetectorOptions, StreamDetector};
use taishi_sigma::{Detection, Scratch};

use crate::ui::{self, Progress};

/// Events handed to a detection task at once.
const BATCH: usize = 1024;

#[derive(Args)]
#[command(
    about = "Hunt with Sigma rules: write a detection timeline and a summary",
    after_help = "Rules are Sigma YAML files or folders (read recursively); meta-filters and correlation rules among them are applied.\n\
Pipelines map log sources to events: by default Windows events get the Sysmon/Security channel mappings, winlogbeat/ECS events the ECS names, other events Taishi's own model. \
--pipeline takes built-in names (windows, windows-security, ecs-windows, taishi) or pySigma pipeline files; `vars` in a pipeline give `expand` placeholders their values.\n\n\
Anomaly detectors (beaconing, scans, brute force, DGA, DNS tunnels, exfiltration; look-alikes of the --brand domains) run over the same events and add their findings to the timeline; --no-anomaly turns them off. \
异常检测（信标、扫描、暴力破解、DGA、DNS 隧道、外发异常；--brand 品牌的仿冒域名）同时运行，结果并入时间线；--no-anomaly 关闭。\n\n\
Exit status: 0 no detections, 3 detections, 1 error.\n\n\
Examples:\n  taishi hunt --rules sigma/rules Security.evtx\n  taishi hunt -r sigma/rules -r my-rules --min-level high --format csv -o timeline.csv logs/\n  taishi hunt -r rules --pipeline windows --pipeline placeholders.yml evtx/\n  taishi hunt -r sigma/rules --brand icbc.com.cn zeek/\n  taishi hunt -r sigma/rules --no-anomaly Security.evtx"
)]
pub struct HuntArgs {
    /// Sigma rule files or folders (repeat for several).
    #[arg(long, short, required = true, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Processing pipelines (repeatable, or comma-separated): built-in names or YAML files.
    #[arg(long, short, value_name = "PIPELINE")]
    pipeline: Vec<String>,
    /// Report only detections at or above this level (informational, low, medium, high, critical).
    #[arg(long, default_value = "informational", value_name = "LEVEL")]
    min_level: String,
    /// Timeline format: table, csv or jsonl.
    #[arg(long, short, default_value = "table", value_name = "FORMAT")]
    format: String,
    /// Write the timeline here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Zone for timestamps that carry none (RFC 3164 syslog, many Chinese devices): +08:00, UTC,
    /// Asia/Shanghai, or local (this machine's zone, the default, as `taishi serve` reads them).
    #[arg(long, default_value = "local", value_name = "ZONE")]
    tz: String,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Measure time per rule and show the slowest rules.
    #[arg(long)]
    stats: bool,
    /// Do not print the summary.
    #[arg(long, short)]
    quiet: bool,
    /// List every file skipped as not a log (by default one line sums them up).
    #[arg(long, short)]
    verbose: bool,
    /// Do not run the anomaly detectors / 不运行异常检测.
    #[arg(long)]
    no_anomaly: bool,
    /// A brand domain whose look-alikes are reported (repeatable) / 监测其仿冒域名的品牌域名.
    #[arg(long, value_name = "DOMAIN")]
    brand: Vec<String>,
    /// Files, folders, or - for stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// The hunt's alert store: a table in memory, written out as the
/// timeline at the end. Each record's `context` carries the timeline's own
/// columns (channel, event id, details, source, order in the input).
#[derive(Default)]
struct Table {
    rows: Mutex<Vec<AlertRecord>>,
}

impl AlertStore for Table {
    fn insert(&self, alerts: &[AlertRecord]) -> std::result::Result<Vec<bool>, BoxError> {
        self.rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(alerts);
        Ok(vec![true; alerts.len()])
    }
}

/// A timeline column of a record.
fn col<'a>(r: &'a AlertRecord, name: &str) -> &'a str {
    r.context.get(name).and_then(J::as_str).unwrap_or("")
}

/// Where a record sorts: event time, then input file and position.
fn order(r: &AlertRecord) -> (Option<DateTime<FixedOffset>>, u64, u64) {
    let pos = |i| {
        r.context
            .get("order")
            .and_then(|o| o.get(i))
            .and_then(J::as_u64)
            .unwrap_or(u64::MAX)
    };
    let timed = r.context.get("untimed").is_none();
    (timed.then_some(r.timestamp), pos(0), pos(1))
}

/// Fields worth showing for a detection, most telling first.
const DETAIL_FIELDS: &[&str] = &[
    "CommandLine",
    "Image",
    "ParentImage",
    "TargetFilename",
    "TargetObject",
    "Details",
    "ImageLoaded",
    "PipeName",
    "QueryName",
    "DestinationIp",
    "DestinationPort",
    "DestinationHostname",
    "SourceIp",
    "IpAddress",
    "TargetImage",
    "GrantedAccess",
    "ServiceName",
    "ImagePath",
    "TargetUserName",
    "SubjectUserName",
    "LogonType",
    "WorkstationName",
    "NewProcessName",
    "ParentProcessName",
    "ScriptBlockText",
    "Path",
    "ThreatName",
    "process.command_line",
    "process.executable",
    "user.name",
    "source.ip",
    "destination.ip",
    "destination.port",
    "url.original",
    "dns.question.name",
    "message",
];

fn details(ev: &Event) -> String {
    let mut parts = Vec::new();
    for f in DETAIL_FIELDS {
        if parts.len() == 4 {
            break;
        }
        if let Some(v) = ev.get(f) {
            let t = v.to_string();
            if t.is_empty() || t == "-" {
                continue;
            }
            let t: String = if t.chars().count() > 160 {
                t.chars().take(157).chain("...".chars()).collect()
            } else {
                t
            };
            parts.push(format!("{f}: {}", t.replace(['\n', '\r', '\t'], " ")));
        }
    }
    parts.join(" ¦ ")
}

fn text(ev: &Event, names: &[&str]) -> String {
    names
        .iter()
        .find_map(|n| ev.get(n).or_else(|| ev.lookup(n)))
        .map(Value::to_string)
        .unwrap_or_default()
}

/// A match a correlation needs: time, rule, order in input, event.
type Observed = (DateTime<FixedOffset>, usize, u64, Event);

struct Shared<'a> {
    detector: &'a Detector,
    anomaly: Option<&'a Anomaly>,
    table: &'a Table,
    /// Matches of rules that correlations reference: (time, rule, event).
    correlated: Mutex<Vec<Observed>>,
    events: AtomicU64,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

fn process(shared: &Shared<'_>, source: &Arc<str>, file: usize, first: u64, batch: Vec<Event>) {
    let detector = shared.detector;
    let mut rows = Vec::new();
    let mut corr = Vec::new();
    let mut hits: Vec<Detection> = Vec::new();
    SCRATCH.with(|s| {
        let mut scratch = s.borrow_mut();
        for (i, ev) in batch.iter().enumerate() {
            hits.clear();
            detector.engine.detect(ev, &mut scratch, &mut hits);
            for d in &hits {
                let seq = first + i as u64;
                if detector.is_referenced(d.rule) {
                    if let Some(ts) = ev.timestamp {
                        corr.push((ts, d.rule, seq, ev.clone()));
                    }
                }
                if !detector.raises(d) {
                    continue;
                }
                let mut a = alerts::sigma(d, &detector.keys[d.rule], ev, None, Body::Bare);
                let mut ctx = json!({
                    "channel": text(ev, &["Channel", "winlog.channel", "event.dataset", "event.module"]),
                    "event_id": text(ev, &["EventID", "winlog.event_id", "event.code"]),
                    "attack": d.meta.attack_tags().collect::<Vec<_>>().join(","),
                    "details": details(ev),
                    "source": &**source,
                    "order": [file, seq],
                });
                if ev.timestamp.is_none() {
                    ctx["untimed"] = J::Bool(true);
                }
                a.context = ctx;
                rows.push(a.record());
            }
        }
    });
    if let Some(an) = shared.anomaly {
        let mut raised = Vec::new();
        an.observe(&batch, first, &mut raised);
        rows.extend(
            raised
                .into_iter()
                .map(|a| anomaly_row(a, Some((source, file, first)))),
        );
    }
    shared
        .events
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    if !rows.is_empty() {
        // A table in memory does not fail.
        let _ = shared.table.insert(&rows);
    }
    if !corr.is_empty() {
        shared
            .correlated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(corr);
    }
}

/// An anomaly alert as a timeline row: the finding moves to `event` (JSON
/// lines print it whole), the timeline columns take `context`; `at` is the
/// batch that raised it (none for the evaluation at the end).
fn anomaly_row(mut a: taishi_alert::Alert, at: Option<(&Arc<str>, usize, u64)>) -> AlertRecord {
    let why = a
        .summary
        .get("why")
        .and_then(J::as_str)
        .unwrap_or_default()
        .to_string();
    let attack: Vec<String> = a
        .tags
        .iter()
        .filter_map(|t| t.strip_prefix("attack."))
        .map(|t| t.to_uppercase())
        .collect();
    a.event = std::mem::take(&mut a.context);
    let (source, order) = match at {
        Some((s, file, seq)) => (s.to_string(), json!([file, seq])),
        None => (String::new(), json!([u64::MAX, u64::MAX])),
    };
    a.context = json!({
        "channel": "anomaly",
        "event_id": a.rule_id.trim_start_matches("anomaly:"),
        "attack": attack.join(","),
        "details": why,
        "source": source,
        "order": order,
    });
    a.record()
}

struct BatchSink<'s, 'scope, 'a> {
    scope: &'s rayon::Scope<'scope>,
    shared: &'scope Shared<'a>,
    /// Batches handed to other threads and not yet done.
    in_flight: &'scope AtomicUsize,
    /// Above this many, the decoding thread detects a batch itself: events
    /// are never decoded far ahead of detection, so memory stays bounded
    /// by a few batches per thread instead of growing with the input.
    max_in_flight: usize,
    source: Arc<str>,
    file: usize,
    batch: Vec<Event>,
    seen: u64,
    rejects: u64,
    progress: &'scope Progress,
}

impl<'scope> BatchSink<'_, 'scope, '_> {
    fn spawn(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let first = self.seen;
        self.seen += batch.len() as u64;
        let shared = self.shared;
        let file = self.file;
        if self.in_flight.load(Ordering::Acquire) >= self.max_in_flight {
            process(shared, &self.source, file, first, batch);
            return;
        }
        let source = self.source.clone();
        let in_flight = self.in_flight;
        in_flight.fetch_add(1, Ordering::AcqRel);
        self.scope.spawn(move |_| {
            process(shared, &source, file, first, batch);
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

impl Sink for BatchSink<'_, '_, '_> {
    fn event(&mut self, event: Event) {
        self.batch.push(event);
        if self.batch.len() >= BATCH {
            self.spawn();
        }
    }

    fn reject(&mut self, reject: Reject) {
        self.rejects += 1;
        if self.rejects <= 5 {
            self.progress.println(&format!("rejected: {reject}"));
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn ts_text(ts: Option<DateTime<FixedOffset>>) -> String {
    ts.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, false))
        .unwrap_or_default()
}

const HEADER: [&str; 10] = [
    "timestamp",
    "computer",
    "channel",
    "event_id",
    "rule",
    "level",
    "attack",
    "rule_id",
    "details",
    "source",
];

/// The timeline columns of a Sigma alert, in `HEADER` order.
fn cells(r: &AlertRecord) -> [String; 10] {
    let (ts, _, _) = order(r);
    [
        ts_text(ts),
        r.host.clone().unwrap_or_default(),
        col(r, "channel").to_string(),
        col(r, "event_id").to_string(),
        r.rule_title.clone(),
        r.level.name().to_string(),
        col(r, "attack").to_string(),
        r.rule_id.clone(),
        col(r, "details").to_string(),
        col(r, "source").to_string(),
    ]
}

/// A correlation alert's hit, as its event JSON holds it.
fn hit<'a>(r: &'a AlertRecord, name: &str) -> &'a J {
    r.event.get(name).unwrap_or(&J::Null)
}

fn hit_text(r: &AlertRecord, name: &str) -> String {
    match hit(r, name) {
        J::String(s) => s.clone(),
        J::Null => String::new(),
        // 3, not 3.0, as the correlation computed it.
        J::Number(n) => n.as_f64().map(|f| f.to_string()).unwrap_or_default(),
        other => other.to_string(),
    }
}

fn group_text(r: &AlertRecord) -> String {
    hit(r, "group")
        .as_object()
        .map(|g| {
            g.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Names shown in the one line that sums up the skipped files.
const SKIPPED_SHOWN: usize = 5;

/// One line for the files that are not logs (every one with `verbose`,
/// one per line).
fn skipped_line(skipped: &[&str], verbose: bool) -> String {
    let n = skipped.len();
    let head = format!(
        "skipped {n} file{} that {} not logs / 跳过 {n} 个非日志文件",
        if n == 1 { "" } else { "s" },
        if n == 1 { "is" } else { "are" }
    );
    if verbose {
        return format!("{head}:\n  {}", skipped.join("\n  "));
    }
    let base = |p: &&str| p.rsplit(['/', '\\']).next().unwrap_or_default().to_string();
    let mut names: Vec<String> = skipped.iter().take(SKIPPED_SHOWN).map(base).collect();
    if n > SKIPPED_SHOWN {
        names.push("…".into());
    }
    format!(
        "{head}: {} (list them with --verbose / 用 --verbose 列出全部)",
        names.join(", ")
    )
}

/// How the timeline narrows to a terminal: the time, event id and level
/// are never cut (cut, they would mislead); the rule and the details keep
/// 32 and 16 columns; below that a UUID, tactic tags, the channel, the
/// computer and the file are left out, in that order.
fn timeline_fit(width: usize) -> ui::Fit<'static> {
    ui::Fit {
        width,
        keep: &[0, 3, 5],
        drop: &[7, 6, 2, 1, 9],
        floors: &[(4, 32), (8, 16)],
    }
}

/// The correlation table: its times stay whole (the first one is left
/// out on a narrow terminal, then the type), the correlation's title
/// keeps 24 columns.
fn correlation_fit(width: usize) -> ui::Fit<'static> {
    ui::Fit {
        width,
        keep: &[0, 1],
        drop: &[0, 4],
        floors: &[(2, 24)],
    }
}

/// Says which columns a narrow terminal left out (printed after the
/// table: stderr is unbuffered and would come first).
fn note_dropped(notes: &mut Vec<String>, dropped: &[String], width: Option<usize>) {
    if !dropped.is_empty() {
        notes.push(format!(
            "(columns left out to fit {} columns: {}; --format csv or jsonl has them all / 为适应终端宽度省略的列)",
            width.unwrap_or_default(),
            dropped.join(", ")
        ));
    }
}

fn write_timeline(
    out: &mut dyn Write,
    format: &str,
    rows: &[AlertRecord],
    corr: &[AlertRecord],
    width: Option<usize>,
    notes: &mut Vec<String>,
) -> io::Result<()> {
    match format {
        "jsonl" => {
            for r in rows {
                let c = cells(r);
                let v = json!({
                    "timestamp": c[0],
                    "computer": c[1],
                    "channel": c[2],
                    "event_id": c[3],
                    "rule": c[4],
                    "level": c[5],
                    "attack": c[6].split(',').filter(|t| !t.is_empty()).collect::<Vec<_>>(),
                    "rule_id": c[7],
                    "details": c[8],
                    "source": c[9],
                });
                let mut v = v;
                if r.kind == taishi_alert::AlertKind::Anomaly {
                    v["anomaly"] = r.event.clone();
                }
                writeln!(out, "{v}")?;
            }
            for r in corr {
                let mut v = r.event.clone();
                if let Some(o) = v.as_object_mut() {
                    o.insert("kind".into(), "correlation".into());
                    o.insert("rule_id".into(), r.rule_id.clone().into());
                }
                writeln!(out, "{v}")?;
            }
        }
        "csv" => {
            writeln!(out, "{}", HEADER.join(","))?;
            for r in rows {
                let line: Vec<String> = cells(r).iter().map(|c| csv_field(c)).collect();
                writeln!(out, "{}", line.join(","))?;
            }
            for r in corr {
                let cells = [
                    r.timestamp.to_rfc3339_opts(SecondsFormat::Millis, false),
                    String::new(),
                    String::new(),
                    String::new(),
                    r.rule_title.clone(),
                    r.level.name().to_string(),
                    String::new(),
                    r.rule_id.clone(),
                    format!(
                        "{} {}: {} ({} events)",
                        hit_text(r, "type"),
                        group_text(r),
                        hit_text(r, "value"),
                        hit_text(r, "event_count")
                    ),
                    String::new(),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
        _ => {
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let mut c = cells(r).to_vec();
                    let src = c[9].rsplit('/').next().unwrap_or_default().to_string();
                    c[9] = src;
                    c
                })
                .collect();
            if !table_rows.is_empty() {
                let (t, dropped) =
                    ui::table_fit(&HEADER, &table_rows, width.map(timeline_fit).as_ref());
                write!(out, "{t}")?;
                note_dropped(notes, &dropped, width);
            }
            if !corr.is_empty() {
                let crow: Vec<Vec<String>> = corr
                    .iter()
                    .map(|r| {
                        let first = chrono::DateTime::parse_from_rfc3339(&hit_text(r, "first"))
                            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, false))
                            .unwrap_or_default();
                        vec![
                            first,
                            r.timestamp.to_rfc3339_opts(SecondsFormat::Millis, false),
                            r.rule_title.clone(),
                            r.level.name().to_string(),
                            hit_text(r, "type"),
                            group_text(r),
                            hit_text(r, "value"),
                            ui::count(hit(r, "event_count").as_u64().unwrap_or(0)),
                        ]
                    })
                    .collect();
                writeln!(out)?;
                let header = [
                    "first",
                    "last",
                    "correlation",
                    "level",
                    "type",
                    "group",
                    "value",
                    "events",
                ];
                let (t, dropped) =
                    ui::table_fit(&header, &crow, width.map(correlation_fit).as_ref());
                write!(out, "{t}")?;
                note_dropped(notes, &dropped, width);
            }
        }
    }
    Ok(())
}

pub fn run(args: HuntArgs) -> Result<ExitCode> {
    let min_level = Level::parse(&args.min_level).with_context(|| {
        format!(
            "--min-level {}: expected informational, low, medium, high or critical",
            args.min_level
        )
    })?;
    if !matches!(args.format.as_str(), "table" | "csv" | "jsonl") {
        anyhow::bail!("--format {}: expected table, csv or jsonl", args.format);
    }
    let default_tz = super::zone_arg(&args.tz)?;
    if let Some(n) = args.threads {
        // Only fails if a pool exists already, which is fine.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let started = Instant::now();
    let detector = Detector::load(
        &args.rules,
        None,
        &DetectorOptions {
            pipelines: args.pipeline.clone(),
            min_level,
            // Files come in no particular time order: every match is
            // buffered and correlated in time order at the end.
            correlation: CorrelatorOptions::batch(),
            timing: args.stats,
            ..DetectorOptions::default()
        },
        &Default::default(),
    )?;
    let load_time = started.elapsed();
    let anomaly = if args.no_anomaly {
        None
    } else {
        // A hunt reads history: the files are the baseline and the evidence
        // at once, so no learning period keeps the detectors quiet.
        let mut cfg = taishi_anomaly::AnomalyConfig {
            learning_hours: 0,
            ..Default::default()
        };
        for d in &args.brand {
            cfg.brands.push(taishi_anomaly::Brand {
                name: d.clone(),
                domains: vec![d.clone()],
                names_zh: Vec::new(),
                keywords: Vec::new(),
            });
        }
        let e = taishi_anomaly::Engine::new(cfg).context("--brand / 品牌域名")?;
        Some(Anomaly(Arc::new(e)))
    };

    let inputs = expand_inputs(&args.paths)?;
    if inputs.is_empty() {
        anyhow::bail!("no files found under the given paths");
    }
    let opts = Options {
        format: None,
        default_tz,
        default_year: None,
    };
    let read = Arc::new(AtomicU64::new(0));
    let total: Option<u64> = inputs.iter().map(|i| i.size()).sum();
    let progress = Progress::bytes(total, read.clone());
    let table = Table::default();
    let shared = Shared {
        detector: &detector,
        anomaly: anomaly.as_ref(),
        table: &table,
        correlated: Mutex::new(Vec::new()),
        events: AtomicU64::new(0),
    };
    // With one thread nothing could run a spawned batch before the input
    // ends, so every batch is detected inline; with more, each other
    // thread gets about two batches of work ahead.
    let threads = rayon::current_num_threads();
    let max_in_flight = if threads <= 1 { 0 } else { 2 * threads };
    let in_flight = AtomicUsize::new(0);
    let scan_started = Instant::now();
    let reports: Vec<(taishi_decode::SourceReport, u64)> = inputs
        .par_iter()
        .enumerate()
        .map(|(i, input)| {
            let mut rejects = 0;
            let report = rayon::scope(|s| {
                let mut sink = BatchSink {
                    scope: s,
                    shared: &shared,
                    in_flight: &in_flight,
                    max_in_flight,
                    source: Arc::from(input.name()),
                    file: i,
                    batch: Vec::with_capacity(BATCH),
                    seen: 0,
                    rejects: 0,
                    progress: &progress,
                };
                let r = decode_input(input, &opts, &mut sink, read.clone());
                sink.spawn();
                rejects = sink.rejects;
                r
            });
            // Files that are not logs are summed up after the scan; a file
            // that could not be read is an error of its own.
            if let Some(e) = report.error.as_ref().filter(|_| !report.not_a_log) {
                progress.println(&format!("error: {e}"));
            }
            (report, rejects)
        })
        .collect();
    drop(progress);
    let scan_time = scan_started.elapsed();

    let Shared {
        correlated, events, ..
    } = shared;
    let mut rows = table.rows.into_inner().unwrap_or_else(|e| e.into_inner());
    // Beacons are scored over the whole input, once it is read.
    if let Some(an) = &anomaly {
        let mut raised = Vec::new();
        an.tick(&mut raised);
        rows.extend(raised.into_iter().map(|a| anomaly_row(a, None)));
    }
    rows.sort_by_key(order);
    let mut corr_hits = Vec::new();
    if detector.has_correlations() {
        let mut obs = correlated.into_inner().unwrap_or_else(|e| e.into_inner());
        obs.sort_by_key(|(ts, _, seq, _)| (*ts, *seq));
        for (ts, r, _, ev) in &obs {
            detector.observe(*r, ev, *ts, &mut corr_hits);
        }
        detector.flush(&mut corr_hits);
    }
    let corr: Vec<AlertRecord> = corr_hits
        .iter()
        .filter(|h| detector.raises_correlation(h))
        .map(|h| alerts::correlation(h, &detector.correlation_key(h)).record())
        .collect();

    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => {
            Box::new(BufWriter::new(File::create(p).with_context(|| {
                format!("cannot create --output {}", p.display())
            })?))
        }
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    // A table for people fits their terminal (`--output`, CSV and JSON
    // lines stay whole).
    let width = match args.output {
        None if args.format == "table" => ui::terminal_width(),
        _ => None,
    };
    let mut notes = Vec::new();
    write_timeline(&mut *out, &args.format, &rows, &corr, width, &mut notes)
        .context("writing the timeline")?;
    out.flush().context("writing the timeline")?;
    drop(out);
    for n in notes {
        eprintln!("{n}");
    }

    let skipped: Vec<&str> = reports
        .iter()
        .filter(|(r, _)| r.not_a_log)
        .map(|(r, _)| r.source.as_str())
        .collect();
    if !skipped.is_empty() {
        eprintln!("{}", skipped_line(&skipped, args.verbose));
    }
    if !args.quiet {
        summary(
            &args,
            &detector,
            &reports,
            &rows,
            &corr,
            events.load(Ordering::Relaxed),
            load_time,
            scan_time,
        );
    }
    Ok(if rows.is_empty() && corr.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

#[allow(clippy::too_many_arguments)]
fn summary(
    args: &HuntArgs,
    detector: &Detector,
    reports: &[(taishi_decode::SourceReport, u64)],
    rows: &[AlertRecord],
    corr: &[AlertRecord],
    events: u64,
    load_time: std::time::Duration,
    scan_time: std::time::Duration,
) {
    let rejected_records: u64 = reports.iter().map(|(r, _)| r.rejects).sum();
    let unreadable = reports
        .iter()
        .filter(|(r, _)| r.error.is_some() && !r.not_a_log)
        .count();
    let bytes: u64 = reports.iter().map(|(r, _)| r.bytes).sum();
    eprintln!();
    let engine = &detector.engine;
    let placeholders = engine.errors().iter().filter(|e| e.placeholder).count();
    eprintln!(
        "rules: {} loaded from {} files in {:.2} s; {} rejected; {} not compiled ({} with unconfigured placeholders); {} whose log source no pipeline maps; {} filters, {} correlations",
        ui::count(detector.loaded as u64),
        ui::count(detector.files as u64),
        load_time.as_secs_f64(),
        detector.rejected.len() - detector.correlation_errors.len(),
        engine.errors().len(),
        placeholders,
        engine.unmapped().len(),
        detector.filters,
        detector.correlations,
    );
    let rejected =
        &detector.rejected[..detector.rejected.len() - detector.correlation_errors.len()];
    for (path, reason) in rejected.iter().take(10) {
        eprintln!("  rejected: {path}: {reason}");
    }
    for e in engine.errors().iter().take(10) {
        eprintln!(
            "  not compiled: {} [{}]: {}",
            e.meta.path, e.meta.title, e.reason
        );
    }
    for e in detector.correlation_errors.iter().take(10) {
        eprintln!("  correlation rejected: {e}");
    }
    if rejected.len() + engine.errors().len() > 20 {
        eprintln!("  (`taishi rules check` lists them all)");
    }
    let mut by_level: BTreeMap<Level, u64> = BTreeMap::new();
    let mut by_rule: BTreeMap<(&str, Level), u64> = BTreeMap::new();
    for r in rows {
        *by_level.entry(r.level).or_default() += 1;
        *by_rule.entry((r.rule_title.as_str(), r.level)).or_default() += 1;
    }
    if !by_rule.is_empty() {
        let mut top: Vec<_> = by_rule.into_iter().collect();
        top.sort_by(|a, b| b.0 .1.cmp(&a.0 .1).then(b.1.cmp(&a.1)));
        let shown: Vec<Vec<String>> = top
            .iter()
            .take(25)
            .map(|((t, l), n)| vec![t.to_string(), l.name().to_string(), ui::count(*n)])
            .collect();
        eprint!("{}", ui::table(&["rule", "level", "hits"], &shown));
        if top.len() > 25 {
            eprintln!("... and {} more rules", top.len() - 25);
        }
    }
    if args.stats {
        let mut slow: Vec<(usize, u64, u64)> = engine
            .stats()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    i,
                    s.nanos.load(Ordering::Relaxed),
                    s.evaluations.load(Ordering::Relaxed),
                )
            })
            .filter(|x| x.2 > 0)
            .collect();
        slow.sort_by_key(|x| std::cmp::Reverse(x.1));
        let rows: Vec<Vec<String>> = slow
            .iter()
            .take(15)
            .map(|(i, ns, ev)| {
                vec![
                    engine.rules()[*i].title.clone(),
                    ui::count(*ev),
                    format!("{:.1}", *ns as f64 / 1e6),
                    ui::count(engine.stats()[*i].hits.load(Ordering::Relaxed)),
                ]
            })
            .collect();
        eprint!(
            "{}",
            ui::table(&["slowest rules", "evaluated", "ms", "hits"], &rows)
        );
        eprint!("{}", engine.describe());
    }
    let levels: Vec<String> = by_level
        .iter()
        .rev()
        .map(|(l, n)| format!("{} {}", ui::count(*n), l.name()))
        .collect();
    let secs = scan_time.as_secs_f64().max(1e-9);
    eprintln!(
        "{} events ({} MiB, {} rejected records, {} of {} inputs unreadable, {} not logs) scanned in {:.2} s ({:.0} events/s); {} detections ({}); {} correlation hits",
        ui::count(events),
        ui::mib(bytes),
        ui::count(rejected_records),
        unreadable,
        reports.len(),
        reports.iter().filter(|(r, _)| r.not_a_log).count(),
        secs,
        events as f64 / secs,
        ui::count(rows.len() as u64),
        if levels.is_empty() { "none".to_string() } else { levels.join(", ") },
        ui::count(corr.len() as u64),
    );
}
