//! `taishi openapi` (hidden): print the OpenAPI document of `taishi serve`.
//!
//! The console's TypeScript types (`web/src/api.gen.ts`) are generated from
//! this document by `scripts/gen-types`; printing it from the binary means no
//! server, data directory or port is needed to regenerate or to check that
//! the committed types are current.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
#[command(
    about = "Print the OpenAPI document that `taishi serve` serves at /api/v1/openapi.json",
    after_help = "Example:\n  taishi openapi > openapi.json"
)]
pub struct OpenapiArgs {}

pub fn run(_args: OpenapiArgs) -> Result<ExitCode> {
    let doc = taishi_serve::openapi_document();
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &doc).context("writing the OpenAPI document")?;
    // A trailing newline keeps the output a well-formed text file.
    writeln!(out).context("writing the OpenAPI document")?;
    Ok(ExitCode::SUCCESS)
}
