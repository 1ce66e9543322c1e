//! `taishi intel`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
#[command(about = "(not yet available)")]
pub struct IntelArgs {}

pub fn run(_args: IntelArgs) -> Result<ExitCode> {
    anyhow::bail!("`taishi intel` is not built yet")
}
