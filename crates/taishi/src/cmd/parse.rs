//! `taishi parse`: decode telemetry files into normalised JSON lines.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use taishi_decode::{decode_input, expand_inputs, Options};
use taishi_event::{Event, Format, Reject, Sink};

use crate::ui::{self, Progress};

/// How many reject messages go to the terminal before the rest are only
/// counted (they all go to --rejects).
const REJECTS_SHOWN: u64 = 20;

#[derive(Args)]
#[command(
    about = "Decode telemetry files into normalised events (JSON lines)",
    after_help = "Formats: auto evtx json syslog cef leef eve zeek auditd netflow access.\n\
Inputs may be files, folders (read recursively), - for stdin, and gzip or zstd compressed.\n\n\
Exit status: 0 everything was read, 2 some records were rejected, 1 nothing could be read.\n\n\
Examples:\n  taishi parse Security.evtx > events.jsonl\n  taishi parse --format syslog --tz +08:00 /var/log/messages\n  zcat eve.json.gz | taishi parse -\n  taishi parse --output events.jsonl --rejects bad.jsonl logs/"
)]
pub struct ParseArgs {
    /// Format of the inputs; `auto` detects each input's format from its content.
    #[arg(long, short, default_value = "auto", value_name = "FORMAT")]
    format: String,
    /// Write events here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write rejected records here, one JSON object each with the source, line/offset and reason.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Zone for timestamps that carry none (RFC 3164 syslog, many Chinese devices): +08:00, UTC,
    /// Asia/Shanghai, or local (this machine's zone, the default, as `taishi serve` reads them).
    #[arg(long, default_value = "local", value_name = "ZONE")]
    tz: String,
    /// Year for timestamps that carry none (RFC 3164 syslog); defaults to the current year.
    #[arg(long, value_name = "YEAR")]
    year: Option<i32>,
    /// Do not print the summary.
    #[arg(long, short)]
    quiet: bool,
    /// Files, folders, or - for stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

struct JsonSink<'a> {
    out: Box<dyn Write + 'a>,
    buf: Vec<u8>,
    rejects: Option<BufWriter<File>>,
    shown: u64,
    progress: &'a Progress,
    error: Option<io::Error>,
}

impl Sink for JsonSink<'_> {
    fn event(&mut self, event: Event) {
        event.write_json_line(&mut self.buf);
        if self.buf.len() >= 1 << 16 {
            self.flush_buf();
        }
    }

    fn reject(&mut self, reject: Reject) {
        self.shown += 1;
        if self.shown <= REJECTS_SHOWN {
            self.progress.println(&format!("rejected: {reject}"));
        }
        if let Some(w) = &mut self.rejects {
            let mut line = reject.to_json().to_string();
            line.push('\n');
            if let Err(e) = w.write_all(line.as_bytes()) {
                self.error.get_or_insert(e);
            }
        }
    }
}

impl JsonSink<'_> {
    fn flush_buf(&mut self) {
        if let Err(e) = self.out.write_all(&self.buf) {
            self.error.get_or_insert(e);
        }
        self.buf.clear();
    }
}

pub fn run(args: ParseArgs) -> Result<ExitCode> {
    let format = match args.format.as_str() {
        "auto" => None,
        f => Some(f.parse::<Format>().map_err(anyhow::Error::msg)?),
    };
    let default_tz = super::zone_arg(&args.tz)?;
    let opts = Options {
        format,
        default_tz,
        default_year: args.year,
    };
    let inputs = expand_inputs(&args.paths)?;
    if inputs.is_empty() {
        anyhow::bail!("no files found under the given paths");
    }

    let out: Box<dyn Write> = match &args.output {
        Some(p) => {
            Box::new(BufWriter::new(File::create(p).with_context(|| {
                format!("cannot create --output {}", p.display())
            })?))
        }
        None => Box::new(io::stdout().lock()),
    };
    let rejects = match &args.rejects {
        Some(p) => {
            Some(BufWriter::new(File::create(p).with_context(|| {
                format!("cannot create --rejects {}", p.display())
            })?))
        }
        None => None,
    };

    let read = Arc::new(AtomicU64::new(0));
    let total: Option<u64> = inputs.iter().map(|i| i.size()).sum();
    let progress = Progress::bytes(total, read.clone());
    let started = Instant::now();
    let mut sink = JsonSink {
        out,
        buf: Vec::with_capacity(1 << 17),
        rejects,
        shown: 0,
        progress: &progress,
        error: None,
    };

    let mut reports = Vec::with_capacity(inputs.len());
    for input in &inputs {
        progress.message(input.name());
        let report = decode_input(input, &opts, &mut sink, read.clone());
        if let Some(e) = &report.error {
            progress.println(&format!("error: {e}"));
        }
        reports.push(report);
        if let Some(e) = sink.error.take() {
            return Err(e).context("writing output");
        }
    }
    sink.flush_buf();
    sink.out.flush().context("writing output")?;
    if let Some(w) = &mut sink.rejects {
        w.flush().context("writing --rejects")?;
    }
    if let Some(e) = sink.error.take() {
        return Err(e).context("writing output");
    }
    let shown = sink.shown;
    drop(sink);
    progress.finish();
    let elapsed = started.elapsed();

    let events: u64 = reports.iter().map(|r| r.events).sum();
    let rejected: u64 = reports.iter().map(|r| r.rejects).sum();
    let failed = reports.iter().filter(|r| r.error.is_some()).count();
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();

    if !args.quiet {
        let mut by_format: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
        for r in &reports {
            let key = r
                .format
                .map_or("(unread)".to_string(), |f| f.name().to_string());
            let e = by_format.entry(key).or_default();
            e.0 += 1;
            e.1 += r.events;
            e.2 += r.rejects;
            e.3 += r.bytes;
        }
        let rows: Vec<Vec<String>> = by_format
            .iter()
            .map(|(f, (n, ev, rj, b))| {
                vec![
                    f.clone(),
                    ui::count(*n),
                    ui::count(*ev),
                    ui::count(*rj),
                    ui::mib(*b),
                ]
            })
            .collect();
        eprint!(
            "{}",
            ui::table(&["format", "inputs", "events", "rejected", "MiB"], &rows)
        );
        let secs = elapsed.as_secs_f64().max(1e-9);
        eprintln!(
            "{} events, {} rejected, {} of {} inputs unreadable, {} MiB in {:.2} s ({:.0} events/s, {:.1} MiB/s)",
            ui::count(events),
            ui::count(rejected),
            failed,
            reports.len(),
            ui::mib(bytes),
            secs,
            events as f64 / secs,
            bytes as f64 / secs / (1024.0 * 1024.0),
        );
        if shown > REJECTS_SHOWN {
            let hint = if args.rejects.is_some() {
                "all are in the --rejects file"
            } else {
                "use --rejects FILE to keep them all"
            };
            eprintln!(
                "{} more rejected records not shown; {hint}",
                shown - REJECTS_SHOWN
            );
        }
    }

    Ok(if failed == reports.len() {
        ExitCode::from(1)
    } else if rejected > 0 || failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
