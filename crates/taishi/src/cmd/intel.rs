//! `taishi intel`: threat-intelligence indicators (import, list, match,
//! scheduled feeds). The logic lives in `taishi-intel`; this is the CLI.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use taishi_decode::{decode_input, expand_inputs, Options};
use taishi_event::{Event, Reject, Sink};
use taishi_intel::taxii::Auth;
use taishi_intel::{
    import_source, Feed, FeedKind, Feeds, Format, ImportReport, IndicatorStore, IndicatorType,
    IntelHit, Matcher, Source,
};

use crate::ui;

#[derive(Args)]
#[command(
    about = "Threat intelligence: import indicators, list them, match files against them, manage feeds",
    after_help = "Indicators live in DATA/intel (the folder `taishi serve` uses). While a server runs on DATA, import through it with --server (it records and retro-hunts the import).\n\n\
Examples:\n  taishi intel import feodotracker_ipblocklist.csv urlhaus.csv\n  taishi intel import --source circl misp-feed/\n  taishi intel import https://feodotracker.abuse.ch/downloads/ipblocklist.csv\n  taishi intel import --format csv:value=2,type=1,malware=3 iocs.csv\n  taishi intel list --type domain --format csv\n  taishi intel match /var/log/suricata/eve.json\n  taishi intel feeds add feodo https://feodotracker.abuse.ch/downloads/ipblocklist.csv --every 1h\n  taishi intel feeds add cert --kind taxii https://taxii.example/api1/collections/ID/ --user me --password-env TAXII_PASSWORD\n  taishi intel feeds pull --due"
)]
pub struct IntelArgs {
    /// Data folder (indicators under DATA/intel).
    #[arg(
        long,
        global = true,
        default_value = "./taishi-data",
        value_name = "DIR"
    )]
    data: PathBuf,
    #[command(subcommand)]
    command: IntelCommand,
}

#[derive(Subcommand)]
enum IntelCommand {
    /// Import indicators from files, folders or URLs (each replaces its source's earlier data).
    #[command(
        after_help = "Formats: stix, misp, misp-feed, warninglist, feodo, urlhaus, threatfox, malwarebazaar, \
text, csv[:MAPPING] (MAPPING: value=N,type=N,kind=TYPE,malware=N,labels=N,first_seen=N,last_seen=N,confidence=N,delimiter=C,header; \
columns count from 1 or are header names).\nMISP warninglists found among the inputs are installed and suppress matches.\n\n\
Exit status: 0 all entries imported, 2 some entries rejected, 1 an input could not be read.\n\n\
Examples:\n  taishi intel import stix/ abusech/feodotracker_ipblocklist.csv\n  taishi intel import --source my-list --format text blocklist.txt"
    )]
    Import {
        /// Format of every input (detected from the content by default).
        #[arg(long, short, value_name = "FORMAT")]
        format: Option<String>,
        /// Source name to store under (default: the file, folder or URL name).
        #[arg(long, short, value_name = "NAME")]
        source: Option<String>,
        /// Print the reports as JSON.
        #[arg(long)]
        json: bool,
        /// Import through a running server (http://host:port): needed while
        /// `taishi serve` runs on the data folder; the import is recorded in
        /// its audit trail and followed by its retro-hunt. Files only.
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// API token for --server with intel write permission (default $TAISHI_TOKEN).
        #[arg(long, value_name = "TOKEN")]
        token: Option<String>,
        #[arg(required = true, value_name = "SOURCE")]
        sources: Vec<String>,
    },
    /// List stored indicators (or sources with --sources).
    List {
        /// Only this source.
        #[arg(long, short, value_name = "NAME")]
        source: Option<String>,
        /// Only this type (ip, cidr, domain, url, md5, sha1, sha256, email, ja3, ja3s, ja4, ip-port, pattern).
        #[arg(long, short = 't', value_name = "TYPE")]
        r#type: Option<String>,
        /// table, json (lines) or csv.
        #[arg(long, short, default_value = "table", value_name = "FORMAT")]
        format: String,
        /// At most this many rows (0: all).
        #[arg(long, default_value = "0", value_name = "N")]
        limit: usize,
        /// List the sources with their counts instead.
        #[arg(long)]
        sources: bool,
    },
    /// Decode telemetry files (like `taishi hunt`) and print events matching stored indicators.
    #[command(
        after_help = "Exit status: 0 no match, 3 matches found, 1 an input could not be read.\n\n\
Examples:\n  taishi intel match eve.json zeek/\n  taishi intel match --format json --data /srv/taishi Security.evtx"
    )]
    Match {
        /// table or json (one line per event: the event and its hits).
        #[arg(long, short, default_value = "table", value_name = "FORMAT")]
        format: String,
        /// Format of the inputs (auto by default).
        #[arg(long, default_value = "auto", value_name = "FORMAT")]
        input_format: String,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Scheduled feeds (`taishi serve` pulls them when due).
    Feeds {
        #[command(subcommand)]
        command: FeedsCommand,
    },
}

#[derive(Subcommand)]
enum FeedsCommand {
    /// Add a feed.
    Add {
        name: String,
        url: String,
        /// url (a file: abuse.ch, STIX, CSV…), misp-feed, taxii (a collection URL), misp-rest (a MISP base URL).
        #[arg(long, default_value = "url")]
        kind: String,
        /// Pull interval: 30m, 1h, 1d, or seconds.
        #[arg(long, default_value = "1h")]
        every: String,
        /// Format of a `url` feed (detected by default).
        #[arg(long)]
        format: Option<String>,
        /// Basic-auth user (TAXII).
        #[arg(long)]
        user: Option<String>,
        /// Environment variable holding the basic-auth password, read now and stored in DATA/intel/feeds.json.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
        /// Environment variable holding an Authorization header value (MISP API key, `Bearer …`).
        #[arg(long, value_name = "VAR")]
        auth_env: Option<String>,
    },
    /// List feeds.
    List,
    /// Remove a feed (and, with --purge, its indicators).
    Remove {
        name: String,
        #[arg(long)]
        purge: bool,
    },
    /// Pull feeds now: the named ones, every due one (--due), or all.
    Pull {
        #[arg(long)]
        due: bool,
        names: Vec<String>,
    },
}

pub fn run(args: IntelArgs) -> Result<ExitCode> {
    let dir = args.data.join("intel");
    match args.command {
        IntelCommand::Import {
            format,
            source,
            json,
            server,
            token,
            sources,
        } => match server {
            Some(url) => {
                let token = token.or_else(|| std::env::var("TAISHI_TOKEN").ok());
                import_remote(&url, token.as_deref(), format, source, json, &sources)
            }
            None => {
                refuse_beside_server(&args.data)?;
                import(&dir, format, source, json, &sources)
            }
        },
        IntelCommand::List {
            source,
            r#type,
            format,
            limit,
            sources,
        } => list(&dir, source, r#type, &format, limit, sources),
        IntelCommand::Match {
            format,
            input_format,
            paths,
        } => match_files(&dir, &format, &input_format, &paths),
        IntelCommand::Feeds { command } => feeds(&dir, command),
    }
}

fn open(dir: &Path) -> Result<IndicatorStore> {
    IndicatorStore::open(dir)
        .with_context(|| format!("opening the indicator store {}", dir.display()))
}

/// Whether a `taishi serve` runs on `data`: it holds `data/events/LOCK`
/// (the event store's lock) for as long as it runs.
fn server_running(data: &Path) -> bool {
    let lock = data.join("events").join("LOCK");
    let Ok(f) = std::fs::OpenOptions::new().write(true).open(&lock) else {
        return false;
    };
    matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// An import written beside a running server would be matched only after
/// the server notices it, with no audit record and no retro-hunt: the CLI
/// sends people through the server instead.
fn refuse_beside_server(data: &Path) -> Result<()> {
    if server_running(data) {
        bail!(
            "a `taishi serve` is running on {d} (it holds {d}/events/LOCK); import through it so the \
             import is audited and retro-hunted:\n  taishi intel import --server http://ADDRESS --token \"$TAISHI_TOKEN\" FILE…\n\
             or use the console (Intel → Import), or stop the server first.\n\
             {d} 正被运行中的 taishi serve 使用：请用 --server 经服务导入、在控制台导入，或先停止服务。",
            d = data.display()
        );
    }
    Ok(())
}

/// `name` as a URL query value.
fn query_value(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The report a server answers for an import (`POST /api/v1/intel/import`).
#[derive(serde::Deserialize)]
struct RemoteReport {
    source: String,
    added: u64,
    updated: u64,
    unchanged: u64,
    removed: u64,
    total: u64,
    #[serde(default)]
    rejected: Vec<taishi_intel::ImportError>,
    #[serde(default)]
    ignored: std::collections::BTreeMap<String, u64>,
}

/// Largest file sent to a server; its own `http.max_upload_mib` may be less.
const MAX_UPLOAD: u64 = 1 << 30;

fn import_remote(
    url: &str,
    token: Option<&str>,
    format: Option<String>,
    name: Option<String>,
    json: bool,
    sources: &[String],
) -> Result<ExitCode> {
    if name.is_some() && sources.len() > 1 {
        bail!("--source names one source; import the inputs one by one");
    }
    let mut code = 0;
    for s in sources {
        let path = Path::new(s);
        if !path.is_file() {
            bail!(
                "{s}: --server imports files (add a URL as a feed with `taishi intel feeds add`; give a folder's files one by one) \
                 / --server 只能导入文件"
            );
        }
        let size = std::fs::metadata(path)?.len();
        if size > MAX_UPLOAD {
            bail!("{s}: larger than {} MiB / 文件过大", MAX_UPLOAD >> 20);
        }
        let data = std::fs::read(path).with_context(|| format!("reading {s}"))?;
        let source = name
            .clone()
            .unwrap_or_else(|| Source::Path(path.to_path_buf()).default_name());
        let mut query = format!("/api/v1/intel/import?name={}", query_value(&source));
        if let Some(f) = &format {
            query.push_str(&format!("&format={}", query_value(f)));
        }
        let answer = super::http::post(
            url,
            &query,
            token,
            "application/octet-stream",
            &data,
            std::time::Duration::from_secs(600),
        )
        .with_context(|| format!("importing {s} through {url}"))?;
        let v: serde_json::Value =
            serde_json::from_slice(&answer).with_context(|| format!("{url}: unexpected answer"))?;
        let r: RemoteReport = serde_json::from_value(v["report"].clone())
            .with_context(|| format!("{url}: unexpected answer"))?;
        let report = ImportReport {
            source: r.source,
            added: r.added,
            updated: r.updated,
            unchanged: r.unchanged,
            removed: r.removed,
            total: r.total,
            rejected: r.rejected,
            ignored: r.ignored,
            ..Default::default()
        };
        if !report.rejected.is_empty() && code == 0 {
            code = 2;
        }
        print_report(&report, json);
    }
    Ok(ExitCode::from(code))
}

fn print_report(r: &ImportReport, json: bool) {
    if json {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["new"] = serde_json::Value::from(r.new_indicators.len());
        println!("{v}");
        return;
    }
    println!(
        "{}: {} added, {} updated, {} unchanged, {} removed, {} rejected; {} indicators",
        r.source,
        r.added,
        r.updated,
        r.unchanged,
        r.removed,
        r.rejected.len(),
        r.total
    );
    for (k, n) in &r.ignored {
        println!("  ignored: {n} × {k}");
    }
    for e in r.rejected.iter().take(20) {
        eprintln!("  rejected: {e}");
    }
    if r.rejected.len() > 20 {
        eprintln!(
            "  … {} more rejected (use --json to see all)",
            r.rejected.len() - 20
        );
    }
}

fn import(
    dir: &Path,
    format: Option<String>,
    name: Option<String>,
    json: bool,
    sources: &[String],
) -> Result<ExitCode> {
    let format: Option<Format> = format
        .map(|f| f.parse::<Format>())
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if name.is_some() && sources.len() > 1 {
        bail!("--source names one source; import several inputs as one by giving their folder");
    }
    let mut store = open(dir)?;
    let mut code = 0;
    for s in sources {
        let src = Source::parse(s);
        if let Source::Path(p) = &src {
            if !p.exists() {
                eprintln!("{}: no such file or folder", p.display());
                code = 1;
                continue;
            }
        }
        let r = import_source(&mut store, &src, format.as_ref(), name.as_deref())
            .with_context(|| format!("importing {s}"))?;
        if !r.rejected.is_empty() && code == 0 {
            code = 2;
        }
        if r.total == 0 && r.rejected.iter().any(|e| e.entry == *s) {
            code = 1;
        }
        print_report(&r, json);
    }
    Ok(ExitCode::from(code))
}

fn list(
    dir: &Path,
    source: Option<String>,
    kind: Option<String>,
    format: &str,
    limit: usize,
    sources: bool,
) -> Result<ExitCode> {
    let store = open(dir)?;
    if sources {
        let rows: Vec<Vec<String>> = store
            .sources()
            .iter()
            .map(|(n, m)| {
                vec![
                    n.clone(),
                    m.indicators.to_string(),
                    m.format.clone().unwrap_or_default(),
                    m.updated.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    m.origin.clone().unwrap_or_default(),
                ]
            })
            .collect();
        print!(
            "{}",
            ui::table(
                &["source", "indicators", "format", "updated", "origin"],
                &rows
            )
        );
        return Ok(ExitCode::SUCCESS);
    }
    let kind: Option<IndicatorType> = kind
        .map(|k| k.parse())
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let names: Vec<String> = match &source {
        Some(s) => {
            if !store.sources().contains_key(s) {
                bail!("no source named {s:?} (see `taishi intel list --sources`)");
            }
            vec![s.clone()]
        }
        None => store.sources().keys().cloned().collect(),
    };
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    let mut rows = Vec::new();
    let mut n = 0usize;
    if format == "csv" {
        writeln!(
            out,
            "type,value,source,confidence,tlp,malware,labels,first_seen,last_seen,valid_until"
        )?;
    }
    'outer: for s in &names {
        for i in store.indicators(s)? {
            if kind.is_some_and(|k| k != i.kind) {
                continue;
            }
            if limit > 0 && n >= limit {
                break 'outer;
            }
            n += 1;
            let t = |x: Option<chrono::DateTime<chrono::Utc>>| {
                x.map(|t| t.to_rfc3339()).unwrap_or_default()
            };
            match format {
                "json" => writeln!(out, "{}", serde_json::to_string(&i)?)?,
                "csv" => {
                    let cells = [
                        i.kind.to_string(),
                        i.value.clone(),
                        i.source.clone(),
                        i.confidence.map(|c| c.to_string()).unwrap_or_default(),
                        i.tlp.map(|t| t.as_str().to_string()).unwrap_or_default(),
                        i.malware.join(";"),
                        i.labels.join(";"),
                        t(i.first_seen),
                        t(i.last_seen),
                        t(i.valid_until),
                    ];
                    let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                    writeln!(out, "{}", line.join(","))?;
                }
                "table" => rows.push(vec![
                    i.kind.to_string(),
                    i.value.chars().take(80).collect(),
                    i.source.clone(),
                    i.malware.join(", "),
                    i.tlp.map(|t| t.as_str().to_string()).unwrap_or_default(),
                    i.last_seen
                        .map(|t| t.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                ]),
                other => bail!("unknown --format {other:?} (table, json, csv)"),
            }
        }
    }
    if format == "table" {
        write!(
            out,
            "{}",
            ui::table(
                &["type", "value", "source", "malware", "tlp", "last seen"],
                &rows
            )
        )?;
        writeln!(out, "{} indicators", ui::count(n as u64))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

struct MatchSink<'a> {
    matcher: &'a Matcher,
    hits: Vec<IntelHit>,
    json: bool,
    rows: Vec<Vec<String>>,
    matched: u64,
    events: u64,
    rejects: u64,
    out: io::BufWriter<io::StdoutLock<'static>>,
    error: Option<io::Error>,
}

impl Sink for MatchSink<'_> {
    fn event(&mut self, event: Event) {
        self.events += 1;
        self.hits.clear();
        self.matcher.match_event(&event, &mut self.hits);
        if self.hits.is_empty() {
            return;
        }
        self.matched += 1;
        if self.json {
            let line = serde_json::json!({ "event": event, "intel": self.hits });
            if let Err(e) = writeln!(self.out, "{line}") {
                self.error.get_or_insert(e);
            }
        } else {
            let ts = event.timestamp.map(|t| t.to_rfc3339()).unwrap_or_default();
            for h in &self.hits {
                self.rows.push(vec![
                    ts.clone(),
                    h.field.to_string(),
                    h.matched.chars().take(60).collect(),
                    format!(
                        "{} {}",
                        h.kind,
                        h.indicator.chars().take(60).collect::<String>()
                    ),
                    h.context.source.clone(),
                    h.context.malware.join(", "),
                ]);
            }
        }
    }
    fn reject(&mut self, reject: Reject) {
        self.rejects += 1;
        if self.rejects <= 20 {
            eprintln!("rejected: {reject}");
        }
    }
}

fn match_files(
    dir: &Path,
    format: &str,
    input_format: &str,
    paths: &[PathBuf],
) -> Result<ExitCode> {
    if format != "table" && format != "json" {
        bail!("unknown --format {format:?} (table, json)");
    }
    let store = open(dir)?;
    let matcher = store.load_matcher()?;
    let st = matcher.stats();
    eprintln!(
        "{} indicators loaded ({} suppressed by warninglists, {} expired)",
        ui::count(st.indicators),
        ui::count(st.suppressed.values().sum()),
        ui::count(st.expired)
    );
    let opts = Options {
        format: match input_format {
            "auto" => None,
            f => Some(
                f.parse()
                    .map_err(|e| anyhow::anyhow!("--input-format: {e}"))?,
            ),
        },
        ..Default::default()
    };
    let inputs = expand_inputs(paths)?;
    let mut sink = MatchSink {
        matcher: &matcher,
        hits: Vec::new(),
        json: format == "json",
        rows: Vec::new(),
        matched: 0,
        events: 0,
        rejects: 0,
        out: io::BufWriter::new(io::stdout().lock()),
        error: None,
    };
    let mut failed = false;
    for input in &inputs {
        let r = decode_input(input, &opts, &mut sink, Arc::new(AtomicU64::new(0)));
        if let Some(e) = r.error {
            eprintln!("{}: {e}", r.source);
            failed = true;
        }
    }
    if let Some(e) = sink.error.take() {
        return Err(e).context("writing matches");
    }
    if !sink.json {
        let table = ui::table(
            &["time", "field", "value", "indicator", "source", "malware"],
            &sink.rows,
        );
        write!(sink.out, "{table}")?;
    }
    sink.out.flush()?;
    eprintln!(
        "{} events read, {} matched, {} rejected",
        ui::count(sink.events),
        ui::count(sink.matched),
        ui::count(sink.rejects)
    );
    Ok(if failed {
        ExitCode::from(1)
    } else if sink.matched > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn interval(s: &str) -> Result<u64> {
    let (num, mul) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        Some('d') => (&s[..s.len() - 1], 86400),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("--every {s:?}: e.g. 30m, 1h, 1d"))?;
    if n == 0 {
        bail!("--every must be more than zero");
    }
    Ok(n * mul)
}

fn feeds(dir: &Path, cmd: FeedsCommand) -> Result<ExitCode> {
    let mut store = open(dir)?;
    let mut feeds = Feeds::load(store.dir())?;
    match cmd {
        FeedsCommand::Add {
            name,
            url,
            kind,
            every,
            format,
            user,
            password_env,
            auth_env,
        } => {
            let kind = match kind.as_str() {
                "url" => FeedKind::Url,
                "misp-feed" => FeedKind::MispFeed,
                "taxii" => FeedKind::Taxii,
                "misp-rest" => FeedKind::MispRest,
                k => bail!("unknown --kind {k:?} (url, misp-feed, taxii, misp-rest)"),
            };
            if let Some(f) = &format {
                f.parse::<Format>().map_err(anyhow::Error::msg)?;
            }
            let env = |v: &str| {
                std::env::var(v).with_context(|| format!("environment variable {v} is not set"))
            };
            let auth = match (user, password_env, auth_env) {
                (Some(user), Some(p), None) => Some(Auth::Basic {
                    user,
                    password: env(&p)?,
                }),
                (None, None, Some(a)) => Some(Auth::Header { value: env(&a)? }),
                (None, None, None) => None,
                _ => bail!("give either --user with --password-env, or --auth-env"),
            };
            feeds.add(Feed {
                name: name.clone(),
                kind,
                url,
                format,
                interval_secs: interval(&every)?,
                auth,
                last_pull: None,
                cursor: None,
                last_error: None,
            })?;
            feeds.save()?;
            println!("feed {name} added; pull it now with `taishi intel feeds pull {name}`");
        }
        FeedsCommand::List => {
            let rows: Vec<Vec<String>> = feeds
                .feeds
                .iter()
                .map(|f| {
                    vec![
                        f.name.clone(),
                        format!("{:?}", f.kind).to_lowercase(),
                        f.url.clone(),
                        format!("{}s", f.interval_secs),
                        f.last_pull
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_else(|| "never".into()),
                        store
                            .sources()
                            .get(&f.name)
                            .map(|m| m.indicators.to_string())
                            .unwrap_or_default(),
                        f.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print!(
                "{}",
                ui::table(
                    &[
                        "feed",
                        "kind",
                        "url",
                        "every",
                        "last pull",
                        "indicators",
                        "last error"
                    ],
                    &rows
                )
            );
        }
        FeedsCommand::Remove { name, purge } => {
            if feeds.remove(&name).is_none() {
                bail!("no feed named {name:?}");
            }
            feeds.save()?;
            if purge && store.sources().contains_key(&name) {
                let n = store.remove_source(&name)?;
                println!("feed {name} removed with its {n} indicators");
            } else {
                println!("feed {name} removed");
            }
        }
        FeedsCommand::Pull { due, names } => {
            let now = chrono::Utc::now();
            let names: Vec<String> = if !names.is_empty() {
                names
            } else {
                feeds
                    .feeds
                    .iter()
                    .filter(|f| !due || f.due(now))
                    .map(|f| f.name.clone())
                    .collect()
            };
            let mut code = 0;
            for n in names {
                match feeds.pull(&mut store, &n) {
                    Ok(r) => {
                        if !r.rejected.is_empty() && code == 0 {
                            code = 2;
                        }
                        print_report(&r, false);
                    }
                    Err(e) => {
                        eprintln!("{n}: {e}");
                        code = 1;
                    }
                }
            }
            return Ok(ExitCode::from(code));
        }
    }
    Ok(ExitCode::SUCCESS)
}
