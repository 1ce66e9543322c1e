//! `taishi risk report`: the yearly risk assessment report (CII regulation
//! Art. 17) downloaded from a running server (`GET /api/v1/risk/report`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use super::http;
use super::risk::ServerArgs;

/// A report over a large register takes a while to compute and render.
const TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Subcommand)]
pub enum RiskCommand {
    /// The yearly risk assessment report (年度风险评估报告): JSON, DOCX or PDF, Chinese first.
    #[command(
        after_help = "Examples:\n  taishi risk report --year 2026 --format docx -o 风险评估报告-2026.docx\n  taishi risk report --from 2026-01-01 --to 2026-06-30 --format pdf --lang en -o h1.pdf\n  taishi risk report --year 2026 > report.json"
    )]
    Report(ReportArgs),
}

#[derive(Args)]
pub struct ReportArgs {
    /// The calendar year (in the server's zone; default: the current one).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    year: Option<i32>,
    /// The period's start: RFC 3339 or a date (YYYY-MM-DD).
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// The period's end: RFC 3339 (excluded) or a date (included).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// json, docx or pdf (PDF needs a CJK font on the server).
    #[arg(long, default_value = "json", value_parser = ["json", "docx", "pdf"])]
    format: String,
    /// zh-CN (default) or en.
    #[arg(long, default_value = "zh-CN", value_parser = ["zh-CN", "zh", "en"])]
    lang: String,
    /// Write to this file (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// A period bound as a query value: only the characters of a date or an
/// RFC 3339 time, `+` percent-encoded.
fn bound(name: &str, s: &str) -> Result<String> {
    if s.is_empty()
        || s.len() > 40
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-:.+".contains(&b))
    {
        bail!("--{name} `{s}`: an RFC 3339 time or a date (YYYY-MM-DD) / 须为 RFC 3339 时间或日期");
    }
    Ok(s.replace('+', "%2B"))
}

pub fn run(a: ReportArgs) -> Result<ExitCode> {
    let mut path = format!("/api/v1/risk/report?format={}&lang={}", a.format, a.lang);
    if let Some(y) = a.year {
        path.push_str(&format!("&year={y}"));
    }
    if let (Some(f), Some(t)) = (&a.from, &a.to) {
        path.push_str(&format!(
            "&from={}&to={}",
            bound("from", f)?,
            bound("to", t)?
        ));
    }
    let token = a.server.token();
    let out = http::get(&a.server.server, &path, token.as_deref(), TIMEOUT)?;
    match a.output {
        Some(p) => {
            std::fs::write(&p, &out).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("{}: {} bytes", p.display(), out.len());
        }
        None => {
            if a.format != "json" && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                bail!(
                    "a {} report is binary: give -o FILE / 二进制报告请用 -o 指定文件",
                    a.format
                );
            }
            std::io::stdout().write_all(&out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
