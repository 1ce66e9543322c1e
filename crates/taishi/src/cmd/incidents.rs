//! `taishi incidents list|show|export`: incident handling (issue 14)
//! through a running server's API (`--server`): the incidents live in its
//! state.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value as J;

use super::http;
use super::risk::ServerArgs;

/// Reports with every alert of a large incident take a while to lay out.
const TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Args)]
#[command(
    about = "Incidents (事件处置): list, show and export the incidents of a running server",
    after_help = "Examples:\n  taishi incidents list --status open --token \"$TAISHI_TOKEN\"\n  taishi incidents list --csv > 事件.csv\n  taishi incidents show inc-01a2b3…\n  taishi incidents export inc-01a2b3… --format docx -o 事件报告.docx\n  taishi incidents export inc-01a2b3… --kind summary --format pdf -o 总结报告.pdf\n  taishi incidents export inc-01a2b3… --iocs nftables -o block.nft"
)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    command: IncidentsCommand,
}

#[derive(Subcommand)]
enum IncidentsCommand {
    /// The incident queue: reporting deadline first, then severity.
    List {
        /// Only this status (新建 new, 研判 triage, 遏制/根除/恢复, 总结 review, 关闭 closed; as the API names them).
        #[arg(long)]
        status: Option<String>,
        /// Only this severity (informational, low, medium, high, critical).
        #[arg(long)]
        severity: Option<String>,
        /// At most this many (1–500).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print the server's answer as JSON.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV (UTF-8) for spreadsheets.
        #[arg(long)]
        csv: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// One incident: status, grade, reporting clock, alerts, observables, timeline.
    Show {
        /// Print the whole incident as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Export the Art. 7 report (first, supplementary) or the summary report, or the incident's block lists.
    Export {
        /// first, supplement or summary.
        #[arg(long, default_value = "first")]
        kind: String,
        /// json, docx or pdf (PDF needs a CJK font on the server).
        #[arg(long, default_value = "json")]
        format: String,
        /// Report language: zh (default) or en.
        #[arg(long, default_value = "zh")]
        lang: String,
        /// Instead of the report: the observables as a block list (nftables, ipset, iptables, suricata, plain).
        #[arg(long, value_name = "FORMAT")]
        iocs: Option<String>,
        /// Write to this file (default: standard output).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// An incident id as the API writes them (`inc-` and hex): anything else
/// would change the path.
fn check_id(id: &str) -> Result<&str> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("incident id `{id}`: letters, digits, - and _ only (as `taishi incidents list` shows them) / 事件编号只含字母、数字、- 与 _");
    }
    Ok(id)
}

fn word(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        J::Null => "-".into(),
        other => other.to_string(),
    }
}

pub fn run(args: IncidentsArgs) -> Result<ExitCode> {
    match args.command {
        IncidentsCommand::List {
            status,
            severity,
            limit,
            json,
            csv,
            server,
        } => {
            // The server's queue order: deadline first across every page.
            let mut q = format!(
                "/api/v1/incidents?sort=deadline&limit={}",
                limit.clamp(1, 500)
            );
            for (k, v) in [("status", &status), ("severity", &severity)] {
                if let Some(v) = v {
                    if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                        bail!("--{k} `{v}`: a single word as the API names it");
                    }
                    q.push_str(&format!("&{k}={v}"));
                }
            }
            let token = server.token();
            let out = http::get(&server.server, &q, token.as_deref(), TIMEOUT)?;
            let v: J = serde_json::from_slice(&out).context("the server's answer")?;
            if json {
                println!("{v:#}");
                return Ok(ExitCode::SUCCESS);
            }
            let items: Vec<&J> = v["items"].as_array().into_iter().flatten().collect();
            let cols = [
                "id", "status", "severity", "grade", "deadline", "owner", "alerts", "title",
            ];
            if csv {
                let mut w = ::csv::Writer::from_writer(std::io::stdout());
                w.write_record(cols)?;
                for i in &items {
                    w.write_record(row(i))?;
                }
                w.flush()?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<30} {:<10} {:<9} {:<6} {:<26} {:<10} {:>6}  标题 / title",
                "事件 / id", "状态", "级别", "分级", "报告时限 / deadline", "负责人", "告警"
            );
            for i in &items {
                let [id, status, severity, grade, deadline, owner, alerts, title] = row(i);
                println!(
                    "{id:<30} {status:<10} {severity:<9} {grade:<6} {deadline:<26} {owner:<10} {alerts:>6}  {title}"
                );
            }
            println!(
                "{} / {} 个事件 (incidents)",
                items.len(),
                v["total"].as_u64().unwrap_or(0)
            );
            Ok(ExitCode::SUCCESS)
        }
        IncidentsCommand::Show { json, server, id } => {
            let id = check_id(&id)?;
            let token = server.token();
            let out = http::get(
                &server.server,
                &format!("/api/v1/incidents/{id}"),
                token.as_deref(),
                TIMEOUT,
            )?;
            let v: J = serde_json::from_slice(&out).context("the server's answer")?;
            if json {
                println!("{v:#}");
                return Ok(ExitCode::SUCCESS);
            }
            let inc = &v["incident"];
            println!("{}  {}", word(&inc["id"]), word(&inc["title"]));
            for (zh, en, val) in [
                ("状态", "status", &inc["status"]),
                ("级别", "severity", &inc["severity"]),
                ("负责人", "owner", &inc["owner"]),
                ("分类", "category", &inc["category"]),
                ("分级", "grade", &inc["grade"]),
                ("发现时间", "discovered", &inc["discovered_at"]),
            ] {
                let shown = match val {
                    J::Object(_) => val
                        .get("subcategory")
                        .or_else(|| val.get("grade"))
                        .map(word)
                        .unwrap_or_else(|| val.to_string()),
                    _ => word(val),
                };
                println!("  {zh} / {en}: {shown}");
            }
            for d in v["clock"]["due"].as_array().into_iter().flatten() {
                println!(
                    "  报告时限 / deadline: {} {} ({})",
                    word(&d["obligation"]),
                    word(&d["deadline"]),
                    word(&d["state"])
                );
            }
            let n = |k: &str| inc[k].as_array().map_or(0, Vec::len);
            println!(
                "  告警 / alerts: {}; 可观察对象 / observables: {}; 时间线 / timeline: {}",
                n("alerts"),
                n("observables"),
                v["timeline"].as_array().map_or(0, Vec::len)
            );
            Ok(ExitCode::SUCCESS)
        }
        IncidentsCommand::Export {
            kind,
            format,
            lang,
            iocs,
            output,
            server,
            id,
        } => {
            let id = check_id(&id)?;
            let word_ok = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let path = match &iocs {
                Some(f) if word_ok(f) => format!("/api/v1/incidents/{id}/iocs?format={f}"),
                None if word_ok(&kind) && word_ok(&format) && word_ok(&lang) => {
                    format!("/api/v1/incidents/{id}/report?kind={kind}&format={format}&lang={lang}")
                }
                _ => bail!("--kind, --format, --lang and --iocs take single words (see --help)"),
            };
            let token = server.token();
            let out = http::get(&server.server, &path, token.as_deref(), TIMEOUT)?;
            match output {
                Some(p) => {
                    std::fs::write(&p, &out).with_context(|| format!("writing {}", p.display()))?;
                    eprintln!("{}: {} bytes", p.display(), out.len());
                }
                None => {
                    use std::io::Write;
                    if iocs.is_none()
                        && format != "json"
                        && std::io::IsTerminal::is_terminal(&std::io::stdout())
                    {
                        bail!("a {format} report is binary: give -o FILE / 二进制报告请用 -o 指定文件");
                    }
                    std::io::stdout().write_all(&out)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One queue row, in the order of the list's columns.
fn row(i: &J) -> [String; 8] {
    [
        word(&i["id"]),
        word(&i["status"]),
        word(&i["severity"]),
        word(&i["grade"]),
        word(&i["next_due"]["deadline"]),
        word(&i["owner"]),
        word(&i["alerts"]),
        word(&i["title"]),
    ]
}
