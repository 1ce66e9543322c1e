//! `taishi serve` and `taishi config check`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use taishi_serve::Config;

#[derive(Args)]
#[command(
    about = "Run the service: live ingest, in-stream detection, the event store, search, alerts, API and console",
    after_help = "With no configuration, data goes to ./taishi-data and the console, API and HTTP ingest \
listen on http://127.0.0.1:8600. The first start creates three administrators (sysadmin, secadmin, \
auditor: 三权分立) and prints their one-time passwords; each must choose its own at its first \
sign-in (the README's quick start does it from a shell).\n\nExamples:\n  taishi serve\n  taishi serve --config taishi.toml\n  \
taishi serve --data /var/lib/taishi --listen 0.0.0.0:8600 --rules sigma/rules\n\n\
Send a first event (any format Taishi decodes: it is recognised by its content):\n  \
curl -H \"Authorization: Bearer $TOKEN\" --data-binary @events.jsonl http://127.0.0.1:8600/api/v1/ingest\n\n\
Rules reload without a restart: from the console, POST /api/v1/rules/reload, or `kill -HUP`.\nSee taishi.example.toml for every setting."
)]
pub struct ServeArgs {
    /// Configuration file (TOML); without it the defaults apply.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (overrides `data_dir` of the config).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Address of the console/API/HTTP ingest (overrides `http.listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Sigma rule files or folders, added to `detection.rules`.
    #[arg(long, value_name = "PATH")]
    rules: Vec<PathBuf>,
}

#[derive(Args)]
#[command(about = "Check a configuration file")]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a config file and name every bad key and value.
    #[command(
        after_help = "Exit status: 0 valid, 2 problems found.\n\nExample:\n  taishi config check taishi.toml"
    )]
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the effective configuration (defaults filled in) as TOML.
    Show {
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

pub fn run_config(args: ConfigArgs) -> Result<ExitCode> {
    match args.command {
        ConfigCommand::Check { file } => match Config::load(&file) {
            Ok(cfg) => {
                println!(
                    "{}: OK — data in {}, http on {}, {} listener(s), {} rule path(s)",
                    file.display(),
                    cfg.data_dir.display(),
                    cfg.http.listen,
                    cfg.listeners.len(),
                    cfg.detection.rules.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(p) => {
                eprintln!("{} problem(s) / 个问题:\n{p}", p.list.len());
                Ok(ExitCode::from(2))
            }
        },
        ConfigCommand::Show { file } => {
            let cfg = match file {
                Some(f) => Config::load(&f)
                    .map_err(|p| anyhow::anyhow!("{} has problems:\n{p}", f.display()))?,
                None => Config::default(),
            };
            print!("{}", toml::to_string_pretty(&cfg)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn humantime(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let mut cfg = taishi_serve::load_config(args.config.as_deref(), args.data)?;
    if let Some(l) = args.listen {
        cfg.http.listen = l;
    }
    cfg.detection.rules.extend(args.rules);
    // Every problem at once, as `taishi config check` lists them.
    let problems = cfg.validate();
    if !problems.is_empty() {
        anyhow::bail!(
            "the configuration has problems / 配置有问题:\n  {}",
            problems.join("\n  ")
        );
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let server = taishi_serve::start(cfg).await?;
        let d = server.app.rules.current();
        println!(
            "taishi serve {} — data in {}",
            env!("CARGO_PKG_VERSION"),
            server.app.data_dir.display()
        );
        println!("  console and API  http://{}/", server.http_addr);
        println!(
            "  HTTP ingest      http://{}/api/v1/ingest  (and /api/v1/_bulk)",
            server.http_addr
        );
        for l in server.listeners.iter().skip(1) {
            println!("  {:<16} {}", l.kind, l.address);
        }
        println!(
            "  rules            {} loaded, {} running, {} rejected",
            d.infos.len(),
            d.engine.active_rules(),
            d.rejected.len()
        );
        if !server.first_accounts.is_empty() {
            println!();
            for a in &server.first_accounts {
                println!(
                    "  First start: user `{}` ({} / {}), one-time password: {}",
                    a.username,
                    a.role.label(taishi_auth::Lang::Zh),
                    a.role.label(taishi_auth::Lang::En),
                    a.password
                );
            }
            println!(
                "  三权分立: each duty has its own account. Sign in as each and change its password;"
            );
            println!(
                "  `sysadmin` makes the users (Settings → Users), `secadmin` the rules and outputs, `auditor` reads the audit trail."
            );
        }
        println!("ready");
        // SIGHUP re-reads the rule files, as daemons do on a config change.
        #[cfg(unix)]
        {
            let app = server.app.clone();
            tokio::spawn(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let Ok(mut hup) = signal(SignalKind::hangup()) else {
                    return;
                };
                while hup.recv().await.is_some() {
                    let a = app.clone();
                    match tokio::task::spawn_blocking(move || a.reload_rules()).await {
                        Ok(Ok((n, bad))) => eprintln!("rules reloaded: {n} loaded, {bad} rejected"),
                        Ok(Err(e)) => {
                            eprintln!("rules not reloaded (the running rules stay): {e:#}")
                        }
                        Err(e) => eprintln!("rules not reloaded: {e}"),
                    }
                }
            });
        }
        // SIGTERM (systemd, docker, kill) and SIGINT both drain: without a
        // handler SIGTERM would end the process at once, losing the alert
        // notifications still queued.
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.ok();
        eprintln!(
            "stopping (alert outputs get up to {} to deliver; alerts.drain)…",
            humantime(server.app.config.alerts.drain)
        );
        server.shutdown().await
    })?;
    Ok(ExitCode::SUCCESS)
}
