//! The `taishi` command.

mod cmd;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "taishi",
    version,
    about = "Taishi (态势): security situational awareness — decode, detect, hunt and serve",
    long_about = None,
    after_help = "Examples:\n  taishi parse /var/log/suricata/eve.json\n  taishi parse --format syslog --output events.jsonl logs/\n  taishi hunt --rules sigma/rules Security.evtx\n  taishi rules test sigma/regression_data\n  taishi serve --rules sigma/rules\n  taishi search 'event.code:4625 | top 10 source.ip' --from now-24h\n  taishi audit verify --data-dir /var/lib/taishi --public-key auditor.pem\n  taishi state migrate --data-dir /var/lib/taishi --dry-run\n  taishi lookalike icbc.com.cn --zh 中国工商银行\n  taishi pii scan /srv/exports\n  taishi assets import 资产台账.csv --server http://127.0.0.1:8600\n  taishi vulns import scan.nessus\n  taishi risk --csv\n\nRun `taishi help <command>` for a command's options and examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Parse(cmd::parse::ParseArgs),
    Hunt(cmd::hunt::HuntArgs),
    Rules(cmd::rules::RulesArgs),
    Serve(cmd::serve::ServeArgs),
    Config(cmd::serve::ConfigArgs),
    Search(cmd::search::SearchArgs),
    Intel(cmd::intel::IntelArgs),
    Audit(cmd::audit::AuditArgs),
    State(cmd::state::StateArgs),
    Lookalike(cmd::lookalike::LookalikeArgs),
    Pii(cmd::pii::PiiArgs),
    Assets(cmd::risk::AssetsArgs),
    Vulns(cmd::risk::VulnsArgs),
    Risk(cmd::risk::RiskArgs),
    Incidents(cmd::incidents::IncidentsArgs),
    /// Used by scripts/gen-types, not by people: hidden from --help.
    #[command(hide = true)]
    Openapi(cmd::openapi::OpenapiArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => cmd::parse::run(args),
        Command::Hunt(args) => cmd::hunt::run(args),
        Command::Rules(args) => cmd::rules::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Config(args) => cmd::serve::run_config(args),
        Command::Search(args) => cmd::search::run(args),
        Command::Intel(args) => cmd::intel::run(args),
        Command::Audit(args) => cmd::audit::run(args),
        Command::State(args) => cmd::state::run(args),
        Command::Lookalike(args) => cmd::lookalike::run(args),
        Command::Pii(args) => cmd::pii::run(args),
        Command::Assets(args) => cmd::risk::run_assets(args),
        Command::Vulns(args) => cmd::risk::run_vulns(args),
        Command::Risk(args) => cmd::risk::run_risk(args),
        Command::Incidents(args) => cmd::incidents::run(args),
        Command::Openapi(args) => cmd::openapi::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
