//! `taishi search`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
#[command(about = "(not yet available)")]
pub struct SearchArgs {}

pub fn run(_args: SearchArgs) -> Result<ExitCode> {
    anyhow::bail!("`taishi search` is not built yet")
}
