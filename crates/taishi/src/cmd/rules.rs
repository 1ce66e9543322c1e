//! `taishi rules check` and `taishi rules test`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Subcommand};
use taishi_sigma::regression::{self, CountMode};
use taishi_sigma::{Engine, EngineOptions, RuleSet};

use crate::ui;

#[derive(Args)]
#[command(about = "Check Sigma rules, or run their regression tests")]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Subcommand)]
enum RulesCommand {
    Check(CheckArgs),
    Test(TestArgs),
}

#[derive(Args)]
#[command(
    about = "Load rules and list every rule that cannot be used, with the reason",
    after_help = "Exit status: 0 every rule loads and compiles, 2 some do not.\n\nExample:\n  taishi rules check sigma/rules sigma/rules-emerging-threats"
)]
struct CheckArgs {
    /// Processing pipelines (built-in names or YAML files); default: by event layout.
    #[arg(long, short, value_name = "PIPELINE")]
    pipeline: Vec<String>,
    /// Also list the rules whose log source no pipeline maps.
    #[arg(long)]
    unmapped: bool,
    /// Rule files or folders.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Args)]
#[command(
    about = "Run regression tests in the SigmaHQ layout (info.yml + EVTX per rule)",
    after_help = "Each info.yml names a rule id and EVTX files (relative to the sigma folder); a test passes when the rule fires exactly match_count times (1 when absent) on its file, or at least that often with --at-least (what SigmaHQ's own runner checks).\n\
Rules are read from the sigma folder's rules*/ folders unless --rules is given.\n\n\
Exit status: 0 all passed, 2 some failed.\n\nExample:\n  taishi rules test sigma/regression_data"
)]
struct TestArgs {
    /// Rule files or folders (default: rules*/ beside the regression data).
    #[arg(long, short, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Processing pipelines (built-in names or YAML files); default: by event layout.
    #[arg(long, short, value_name = "PIPELINE")]
    pipeline: Vec<String>,
    /// Pass when the rule fires at least match_count times.
    #[arg(long)]
    at_least: bool,
    /// Print passing tests too.
    #[arg(long, short)]
    verbose: bool,
    /// Regression data folders or info.yml files.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: RulesArgs) -> Result<ExitCode> {
    match args.command {
        RulesCommand::Check(a) => check(a),
        RulesCommand::Test(a) => test(a),
    }
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let set = RuleSet::load_paths(&args.paths)?;
    let engine = Engine::new(
        &set,
        &EngineOptions {
            pipelines: args.pipeline.clone(),
            timing: false,
        },
    )?;
    for r in &set.rejected {
        println!("rejected: {r}");
    }
    for e in engine.errors() {
        let what = if e.placeholder {
            "placeholder"
        } else {
            "not compiled"
        };
        println!("{what}: {} [{}]: {}", e.meta.path, e.meta.title, e.reason);
    }
    if args.unmapped {
        for &i in engine.unmapped() {
            let m = &engine.rules()[i];
            println!("unmapped: {} [{}]: {}", m.path, m.title, m.logsource);
        }
    }
    let placeholders = engine.errors().iter().filter(|e| e.placeholder).count();
    eprintln!(
        "{} files, {} rules, {} filters, {} correlations in {:.2} s: {} rejected, {} not compiled ({} with unconfigured placeholders), {} whose log source no pipeline maps{}",
        ui::count(set.files as u64),
        ui::count(set.rules.len() as u64),
        set.filters.len(),
        set.correlations.len(),
        started.elapsed().as_secs_f64(),
        set.rejected.len(),
        engine.errors().len(),
        placeholders,
        engine.unmapped().len(),
        if args.unmapped || engine.unmapped().is_empty() { "" } else { " (--unmapped lists them)" },
    );
    Ok(if set.rejected.is_empty() && engine.errors().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The `rules*` folders of the sigma folder above a regression data path:
/// the nearest ancestor holding both `regression_data` and `rules*` (the
/// regression data mirrors the rules layout, so its own `rules` folders
/// do not count).
fn default_rules(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        for a in abs.ancestors() {
            if !a.join("regression_data").is_dir() {
                continue;
            }
            let Ok(rd) = std::fs::read_dir(a) else {
                continue;
            };
            let mut dirs: Vec<PathBuf> = rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|d| {
                    d.is_dir()
                        && d.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("rules"))
                })
                .collect();
            if !dirs.is_empty() {
                dirs.sort();
                for d in dirs {
                    if !out.contains(&d) {
                        out.push(d);
                    }
                }
                break;
            }
        }
    }
    out
}

fn decode(p: &Path) -> Result<Vec<taishi_event::Event>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(taishi_decode::events_of(p)?)
}

fn test(args: TestArgs) -> Result<ExitCode> {
    let rules = if args.rules.is_empty() {
        default_rules(&args.paths)
    } else {
        args.rules.clone()
    };
    if rules.is_empty() {
        anyhow::bail!("no rules*/ folder found above the given paths; name the rules with --rules");
    }
    let set = RuleSet::load_paths(&rules)?;
    let engine = Engine::new(
        &set,
        &EngineOptions {
            pipelines: args.pipeline.clone(),
            timing: false,
        },
    )?;
    let mut infos = Vec::new();
    for p in &args.paths {
        if !p.exists() {
            anyhow::bail!("{}: no such file or folder", p.display());
        }
        infos.extend(regression::info_files(p));
    }
    let mode = if args.at_least {
        CountMode::AtLeast
    } else {
        CountMode::Exact
    };
    let outcomes = regression::run(&infos, &set, &engine, &decode, mode);
    let mut failed = 0;
    for o in &outcomes {
        if o.passed {
            if args.verbose {
                println!(
                    "ok   {} {}",
                    o.test.rule_id,
                    o.test.rule_title.as_deref().unwrap_or("")
                );
            }
        } else {
            failed += 1;
            println!("FAIL {}", o.reason.as_deref().unwrap_or("failed"));
        }
    }
    println!("{} passed, {} failed", outcomes.len() - failed, failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
