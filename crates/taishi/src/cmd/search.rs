//! `taishi search`: runs a query against a data directory (read-only, beside
//! a running `taishi serve`) or against a server's HTTP API.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::Value as Json;
use taishi_search::{Output, SearchOptions, SearchOutput};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// The whole answer as JSON (what the HTTP API returns).
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

#[derive(Args)]
#[command(
    about = "Search stored events with KQL/Lucene filters and pipe stages",
    after_help = "\
Filters: field:value, field:pow*sh?ll, field:>=10, field:[10 TO 20], field:10.0.0.0/8,
_exists_:field, \"free text phrase\", AND / OR / NOT / -term, (groups).
Stages: | stats count(), sum(f), avg(f), min(f), max(f), dc(f) by a, b
        | top 10 f   | rare 5 f   | timechart 1h count() by f
        | sort -f    | head 20    | tail 5    | fields a, b   | where <filter>

Times are ISO 8601 (2026-11-01T10:00:00Z, 2026-11-01) or relative to now
(now-24h, now-7d, now/d). The default range is the last 24 hours.

Without --server the data directory is opened read-only: it can be searched
while `taishi serve` runs, and sees events up to that server's last index
checkpoint (a few seconds behind).

Examples:
  taishi search 'event.code:4625 AND user.name:admin*'
  taishi search 'CommandLine:*mimikatz* OR \"sekurlsa logonpasswords\"' --from now-7d
  taishi search 'event.category:network | top 10 source.ip' --format csv
  taishi search '* | timechart 1h count() by event.dataset' --from 2026-11-01 --to 2026-11-02
  taishi search 'source.ip:10.0.0.0/8 | stats count() by destination.port' \\
      --server https://siem.example:8443 --token \"$TAISHI_TOKEN\" --format json"
)]
pub struct SearchArgs {
    /// The query (quote it for the shell).
    pub query: String,
    /// Start of the range, inclusive (ISO 8601 or now-24h). Default: 24 hours before --to.
    #[arg(long)]
    pub from: Option<String>,
    /// End of the range, exclusive (ISO 8601 or now). Default: now.
    #[arg(long)]
    pub to: Option<String>,
    /// The data directory of `taishi serve` (its events are in DIR/events).
    #[arg(long, default_value = "./taishi-data")]
    pub data: PathBuf,
    /// Ask a running server instead (http://host:port); POSTs to /api/v1/search.
    #[arg(long)]
    pub server: Option<String>,
    /// API token for --server (sent as a bearer token; default $TAISHI_TOKEN).
    #[arg(long)]
    pub token: Option<String>,
    /// Events to return for a search without aggregation.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: SearchArgs) -> Result<ExitCode> {
    let mut args = args;
    if args.token.is_none() {
        args.token = std::env::var("TAISHI_TOKEN").ok().filter(|t| !t.is_empty());
    }
    let out = match &args.server {
        Some(url) => remote(&args, url)?,
        None => match local(&args) {
            Ok(out) => out,
            Err(e) => {
                eprintln!("taishi search: {e:#}");
                return Ok(ExitCode::from(2));
            }
        },
    };
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut w, &out)?;
            writeln!(w)?;
        }
        Format::Csv => write_csv(&mut w, &out)?,
        Format::Table => write_table(&mut w, &out)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn local(args: &SearchArgs) -> Result<SearchOutput> {
    let query = taishi_query::Query::parse(&args.query)
        .map_err(|e| anyhow::anyhow!("{}", pointed(&args.query, e.column, &e.message)))?
        .with_time_range(args.from.as_deref(), args.to.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // `taishi serve` keeps events in DIR/events; a bare store directory works too.
    let events = args.data.join("events");
    let dir = if events.join("partitions").is_dir() {
        events
    } else if args.data.join("partitions").is_dir() {
        args.data.clone()
    } else {
        bail!(
            "{} holds no event store (expected {}/partitions)",
            args.data.display(),
            events.display()
        );
    };
    let store = taishi_store::Store::open_read_only(&dir)
        .with_context(|| format!("opening {}", dir.display()))?;
    let opts = SearchOptions {
        limit: args.limit,
        ..SearchOptions::default()
    };
    taishi_search::execute(&store, &query, &opts)
        .map_err(|e| anyhow::anyhow!("{}", pointed(&args.query, e.column(), &e.to_string())))
}

/// The query with a caret under the faulty column.
fn pointed(query: &str, column: Option<usize>, message: &str) -> String {
    match column {
        Some(c) => format!(
            "{message}\n  {query}\n  {}^",
            " ".repeat(c.saturating_sub(1))
        ),
        None => message.to_string(),
    }
}

/// POST /api/v1/search to a running server.
fn remote(args: &SearchArgs, url: &str) -> Result<SearchOutput> {
    let body = serde_json::json!({
        "query": args.query,
        "from": args.from,
        "to": args.to,
        "limit": args.limit,
    })
    .to_string();
    let payload = super::http::post(
        url,
        "/api/v1/search",
        args.token.as_deref(),
        "application/json",
        body.as_bytes(),
        Duration::from_secs(300),
    )?;
    serde_json::from_slice(&payload).with_context(|| format!("{url}: unexpected answer"))
}

fn cell(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Hits as rows: `@timestamp` then every field in order of appearance.
fn hits_table(events: &[Json]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut cols: Vec<String> = Vec::new();
    for e in events {
        if let Json::Object(m) = e {
            for k in m.keys() {
                if !cols.iter().any(|c| c == k) {
                    cols.push(k.clone());
                }
            }
        }
    }
    let rows = events
        .iter()
        .map(|e| {
            cols.iter()
                .map(|c| e.get(c).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    (cols, rows)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_csv(w: &mut impl Write, out: &SearchOutput) -> Result<()> {
    let (cols, rows) = match &out.result {
        Output::Hits { events, .. } => hits_table(events),
        Output::Table { columns, rows } => (
            columns.clone(),
            rows.iter().map(|r| r.iter().map(cell).collect()).collect(),
        ),
    };
    let line = |v: &[String]| v.iter().map(|s| csv_field(s)).collect::<Vec<_>>().join(",");
    writeln!(w, "{}", line(&cols))?;
    for r in rows {
        writeln!(w, "{}", line(&r))?;
    }
    Ok(())
}

fn clip(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn write_table(w: &mut impl Write, out: &SearchOutput) -> Result<()> {
    match &out.result {
        Output::Hits { total, events } => {
            for e in events {
                let ts = e.get("@timestamp").map(cell).unwrap_or_default();
                let fields: Vec<String> = match e {
                    Json::Object(m) => m
                        .iter()
                        .filter(|(k, _)| *k != "@timestamp")
                        .map(|(k, v)| format!("{k}={}", clip(&cell(v), 80)))
                        .collect(),
                    _ => Vec::new(),
                };
                writeln!(w, "{ts}  {}", fields.join(" "))?;
            }
            writeln!(
                w,
                "-- {} of {total} matching events, {} .. {}, {:.1} ms ({})",
                events.len(),
                out.from.to_rfc3339(),
                out.to.to_rfc3339(),
                out.took_ms,
                out.plan
            )?;
        }
        Output::Table { columns, rows } => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r.iter().map(|v| clip(&cell(v), 60)).collect())
                .collect();
            let mut width: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
            for r in &cells {
                for (i, c) in r.iter().enumerate() {
                    if let Some(x) = width.get_mut(i) {
                        *x = (*x).max(c.chars().count());
                    }
                }
            }
            let line = |v: &[String]| {
                v.iter()
                    .zip(&width)
                    .map(|(s, n)| format!("{s:<n$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            writeln!(w, "{}", line(columns))?;
            writeln!(
                w,
                "{}",
                line(&width.iter().map(|n| "-".repeat(*n)).collect::<Vec<_>>())
            )?;
            for r in &cells {
                writeln!(w, "{}", line(r))?;
            }
            writeln!(
                w,
                "-- {} rows, {} .. {}, {:.1} ms ({})",
                rows.len(),
                out.from.to_rfc3339(),
                out.to.to_rfc3339(),
                out.took_ms,
                out.plan
            )?;
        }
    }
    Ok(())
}
