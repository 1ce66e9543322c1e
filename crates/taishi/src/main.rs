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
    after_help = "Examples:\n  taishi parse /var/log/suricata/eve.json\n  taishi parse --format syslog --output events.jsonl logs/\n\nRun `taishi help <command>` for a command's options and examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Parse(cmd::parse::ParseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => cmd::parse::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
