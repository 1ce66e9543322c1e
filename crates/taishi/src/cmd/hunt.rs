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
use taishi_correlation::{parse_correlation, CorrelationHit, Correlator, CorrelatorOptions};
use taishi_decode::{decode_input, expand_inputs, Options};
use taishi_event::{Event, Reject, Sink, Value};
use taishi_sigma::{Detection, Engine, EngineOptions, Level, RuleSet, Scratch};

use crate::ui::{self, Progress};

/// Events handed to a detection task at once.
const BATCH: usize = 1024;

#[derive(Args)]
#[command(
    about = "Hunt with Sigma rules: write a detection timeline and a summary",
    after_help = "Rules are Sigma YAML files or folders (read recursively); meta-filters and correlation rules among them are applied.\n\
Pipelines map log sources to events: by default Windows events get the Sysmon/Security channel mappings, winlogbeat/ECS events the ECS names, other events Taishi's own model. \
--pipeline takes built-in names (windows, windows-security, ecs-windows, taishi) or pySigma pipeline files; `vars` in a pipeline give `expand` placeholders their values.\n\n\
Exit status: 0 no detections, 3 detections, 1 error.\n\n\
Examples:\n  taishi hunt --rules sigma/rules Security.evtx\n  taishi hunt -r sigma/rules -r my-rules --min-level high --format csv -o timeline.csv logs/\n  taishi hunt -r rules --pipeline windows --pipeline placeholders.yml evtx/"
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
    /// Zone for timestamps that carry none, e.g. +08:00.
    #[arg(long, default_value = "UTC", value_name = "OFFSET")]
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
    /// Files, folders, or - for stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// One timeline row.
#[derive(Debug, Clone)]
struct Row {
    ts: Option<DateTime<FixedOffset>>,
    /// Order of the event within its source, to keep ties stable.
    seq: (usize, u64),
    computer: String,
    channel: String,
    event_id: String,
    title: String,
    level: Level,
    tags: String,
    rule_id: String,
    details: String,
    source: Arc<str>,
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
    engine: &'a Engine,
    min_level: Level,
    rows: Mutex<Vec<Row>>,
    /// Matches of rules that correlations reference: (time, rule, event).
    correlated: Mutex<Vec<Observed>>,
    referenced: Vec<bool>,
    generate: Vec<bool>,
    events: AtomicU64,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

fn process(shared: &Shared<'_>, source: &Arc<str>, file: usize, first: u64, batch: Vec<Event>) {
    let mut rows = Vec::new();
    let mut corr = Vec::new();
    let mut hits: Vec<Detection> = Vec::new();
    SCRATCH.with(|s| {
        let mut scratch = s.borrow_mut();
        for (i, ev) in batch.iter().enumerate() {
            hits.clear();
            shared.engine.detect(ev, &mut scratch, &mut hits);
            for d in &hits {
                let seq = first + i as u64;
                if shared.referenced[d.rule] {
                    if let Some(ts) = ev.timestamp {
                        corr.push((ts, d.rule, seq, ev.clone()));
                    }
                }
                if d.meta.level < shared.min_level || !shared.generate[d.rule] {
                    continue;
                }
                let m = &d.meta;
                rows.push(Row {
                    ts: ev.timestamp,
                    seq: (file, seq),
                    computer: text(ev, &["Computer", "host.name", "observer.name"]),
                    channel: text(
                        ev,
                        &["Channel", "winlog.channel", "event.dataset", "event.module"],
                    ),
                    event_id: text(ev, &["EventID", "winlog.event_id", "event.code"]),
                    title: m.title.clone(),
                    level: m.level,
                    tags: m.attack_tags().collect::<Vec<_>>().join(","),
                    rule_id: m.id.clone().unwrap_or_default(),
                    details: details(ev),
                    source: source.clone(),
                });
            }
        }
    });
    shared
        .events
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    if !rows.is_empty() {
        shared
            .rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(rows);
    }
    if !corr.is_empty() {
        shared
            .correlated
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(corr);
    }
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

fn write_timeline(
    out: &mut dyn Write,
    format: &str,
    rows: &[Row],
    corr: &[CorrelationHit],
) -> io::Result<()> {
    match format {
        "jsonl" => {
            for r in rows {
                let v = serde_json::json!({
                    "timestamp": ts_text(r.ts),
                    "computer": r.computer,
                    "channel": r.channel,
                    "event_id": r.event_id,
                    "rule": r.title,
                    "level": r.level.name(),
                    "attack": r.tags.split(',').filter(|t| !t.is_empty()).collect::<Vec<_>>(),
                    "rule_id": r.rule_id,
                    "details": r.details,
                    "source": &*r.source,
                });
                writeln!(out, "{v}")?;
            }
            for h in corr {
                let mut v = h.to_json();
                if let Some(o) = v.as_object_mut() {
                    o.insert("kind".into(), "correlation".into());
                }
                writeln!(out, "{v}")?;
            }
        }
        "csv" => {
            writeln!(out, "{}", HEADER.join(","))?;
            for r in rows {
                let cells = [
                    ts_text(r.ts),
                    r.computer.clone(),
                    r.channel.clone(),
                    r.event_id.clone(),
                    r.title.clone(),
                    r.level.name().to_string(),
                    r.tags.clone(),
                    r.rule_id.clone(),
                    r.details.clone(),
                    r.source.to_string(),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
                writeln!(out, "{}", line.join(","))?;
            }
            for h in corr {
                let r = &h.rule;
                let group: Vec<String> = h.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let cells = [
                    h.last.to_rfc3339_opts(SecondsFormat::Millis, false),
                    String::new(),
                    String::new(),
                    String::new(),
                    r.title.clone(),
                    r.level.map(|l| l.as_str().to_string()).unwrap_or_default(),
                    String::new(),
                    r.id.clone().unwrap_or_default(),
                    format!(
                        "{} {}: {} ({} events)",
                        r.kind.as_str(),
                        group.join(" "),
                        h.value,
                        h.event_count
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
                    vec![
                        ts_text(r.ts),
                        r.computer.clone(),
                        r.channel.clone(),
                        r.event_id.clone(),
                        r.title.clone(),
                        r.level.name().to_string(),
                        r.tags.clone(),
                        r.rule_id.clone(),
                        r.details.clone(),
                        r.source.rsplit('/').next().unwrap_or(&r.source).to_string(),
                    ]
                })
                .collect();
            if !table_rows.is_empty() {
                write!(out, "{}", ui::table(&HEADER, &table_rows))?;
            }
            if !corr.is_empty() {
                let crow: Vec<Vec<String>> = corr
                    .iter()
                    .map(|h| {
                        let group: Vec<String> =
                            h.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        vec![
                            h.first.to_rfc3339_opts(SecondsFormat::Millis, false),
                            h.last.to_rfc3339_opts(SecondsFormat::Millis, false),
                            h.rule.title.clone(),
                            h.rule
                                .level
                                .map(|l| l.as_str().to_string())
                                .unwrap_or_default(),
                            h.rule.kind.as_str().to_string(),
                            group.join(" "),
                            format!("{}", h.value),
                            ui::count(h.event_count as u64),
                        ]
                    })
                    .collect();
                writeln!(out)?;
                write!(
                    out,
                    "{}",
                    ui::table(
                        &[
                            "first",
                            "last",
                            "correlation",
                            "level",
                            "type",
                            "group",
                            "value",
                            "events"
                        ],
                        &crow
                    )
                )?;
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
    let default_tz = taishi_event::time::parse_offset(&args.tz).with_context(|| {
        format!(
            "--tz {}: expected an offset such as +08:00, -0500 or UTC",
            args.tz
        )
    })?;
    if let Some(n) = args.threads {
        // Only fails if a pool exists already, which is fine.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let started = Instant::now();
    let set = RuleSet::load_paths(&args.rules)?;
    let engine = Engine::new(
        &set,
        &EngineOptions {
            pipelines: args.pipeline.clone(),
            timing: args.stats,
        },
    )?;
    let load_time = started.elapsed();

    // Correlations over the rules' matches.
    let mut corr_errors = Vec::new();
    let mut corr_rules = Vec::new();
    for c in &set.correlations {
        match parse_correlation(&c.doc) {
            Ok(r) => corr_rules.push(r),
            Err(e) => corr_errors.push(format!("{}: {e}", c.path)),
        }
    }
    let mut correlator = if corr_rules.is_empty() {
        None
    } else {
        Some(Correlator::with_options(
            corr_rules,
            CorrelatorOptions::batch(),
        )?)
    };
    let metas = engine.rules();
    let referenced: Vec<bool> = metas
        .iter()
        .map(|m| {
            correlator
                .as_ref()
                .is_some_and(|c| c.is_referenced(m.id.as_deref().unwrap_or(""), m.name.as_deref()))
        })
        .collect();
    let generate: Vec<bool> = metas
        .iter()
        .map(|m| {
            correlator
                .as_ref()
                .is_none_or(|c| c.should_generate(m.id.as_deref().unwrap_or(""), m.name.as_deref()))
        })
        .collect();

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
    let shared = Shared {
        engine: &engine,
        min_level,
        rows: Mutex::new(Vec::new()),
        correlated: Mutex::new(Vec::new()),
        referenced,
        generate,
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
            if let Some(e) = &report.error {
                progress.println(&format!("error: {e}"));
            }
            (report, rejects)
        })
        .collect();
    drop(progress);
    let scan_time = scan_started.elapsed();

    let mut rows = shared.rows.into_inner().unwrap_or_else(|e| e.into_inner());
    rows.sort_by_key(|r| (r.ts, r.seq));
    let mut corr_hits = Vec::new();
    if let Some(c) = correlator.as_mut() {
        let mut obs = shared
            .correlated
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        obs.sort_by_key(|(ts, _, seq, _)| (*ts, *seq));
        for (ts, r, _, ev) in &obs {
            let m = &metas[*r];
            c.observe(
                m.id.as_deref().unwrap_or(""),
                m.name.as_deref(),
                ev,
                *ts,
                &mut corr_hits,
            );
        }
        c.flush(&mut corr_hits);
        corr_hits.retain(|h| {
            h.rule
                .level
                .map(|l| l.as_str())
                .and_then(Level::parse)
                .unwrap_or(Level::Informational)
                >= min_level
        });
    }

    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => {
            Box::new(BufWriter::new(File::create(p).with_context(|| {
                format!("cannot create --output {}", p.display())
            })?))
        }
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    write_timeline(&mut *out, &args.format, &rows, &corr_hits).context("writing the timeline")?;
    out.flush().context("writing the timeline")?;
    drop(out);

    if !args.quiet {
        summary(
            &args,
            &set,
            &engine,
            &reports,
            &rows,
            &corr_hits,
            &corr_errors,
            shared.events.load(Ordering::Relaxed),
            load_time,
            scan_time,
        );
    }
    Ok(if rows.is_empty() && corr_hits.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

#[allow(clippy::too_many_arguments)]
fn summary(
    args: &HuntArgs,
    set: &RuleSet,
    engine: &Engine,
    reports: &[(taishi_decode::SourceReport, u64)],
    rows: &[Row],
    corr: &[CorrelationHit],
    corr_errors: &[String],
    events: u64,
    load_time: std::time::Duration,
    scan_time: std::time::Duration,
) {
    let rejected_records: u64 = reports.iter().map(|(r, _)| r.rejects).sum();
    let unreadable = reports.iter().filter(|(r, _)| r.error.is_some()).count();
    let bytes: u64 = reports.iter().map(|(r, _)| r.bytes).sum();
    eprintln!();
    let placeholders = engine.errors().iter().filter(|e| e.placeholder).count();
    eprintln!(
        "rules: {} loaded from {} files in {:.2} s; {} rejected; {} not compiled ({} with unconfigured placeholders); {} whose log source no pipeline maps; {} filters, {} correlations",
        ui::count(set.rules.len() as u64),
        ui::count(set.files as u64),
        load_time.as_secs_f64(),
        set.rejected.len(),
        engine.errors().len(),
        placeholders,
        engine.unmapped().len(),
        set.filters.len(),
        set.correlations.len(),
    );
    for r in set.rejected.iter().take(10) {
        eprintln!("  rejected: {r}");
    }
    for e in engine.errors().iter().take(10) {
        eprintln!(
            "  not compiled: {} [{}]: {}",
            e.meta.path, e.meta.title, e.reason
        );
    }
    for e in corr_errors.iter().take(10) {
        eprintln!("  correlation rejected: {e}");
    }
    if set.rejected.len() + engine.errors().len() > 20 {
        eprintln!("  (`taishi rules check` lists them all)");
    }
    let mut by_level: BTreeMap<Level, u64> = BTreeMap::new();
    let mut by_rule: BTreeMap<(&str, Level), u64> = BTreeMap::new();
    for r in rows {
        *by_level.entry(r.level).or_default() += 1;
        *by_rule.entry((r.title.as_str(), r.level)).or_default() += 1;
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
        "{} events ({} MiB, {} rejected records, {} of {} inputs unreadable) scanned in {:.2} s ({:.0} events/s); {} detections ({}); {} correlation hits",
        ui::count(events),
        ui::mib(bytes),
        ui::count(rejected_records),
        unreadable,
        reports.len(),
        secs,
        events as f64 / secs,
        ui::count(rows.len() as u64),
        if levels.is_empty() { "none".to_string() } else { levels.join(", ") },
        ui::count(corr.len() as u64),
    );
}
