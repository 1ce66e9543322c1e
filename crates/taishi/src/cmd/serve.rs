//! `taishi serve`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
#[command(about = "(not yet available)")]
pub struct ServeArgs {}

pub fn run(_args: ServeArgs) -> Result<ExitCode> {
    anyhow::bail!("`taishi serve` is not built yet")
}
