//! `taishi assets import`, `taishi vulns import|feed`, `taishi risk`: the
//! risk assessment (issue 15) through a running server's API (`--server`):
//! the register, findings and scores live in its state.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value as J;

use super::http;

/// Uploads can be large scans: the server parses them before answering.
const TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Args, Clone)]
pub struct ServerArgs {
    /// The running server (http://host:port).
    #[arg(long, default_value = "http://127.0.0.1:8600", value_name = "URL")]
    pub(crate) server: String,
    /// API token (sent as a bearer token; default $TAISHI_TOKEN); importing
    /// needs `assets:write`, reading `assets:read`.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
}

impl ServerArgs {
    pub(crate) fn token(&self) -> Option<String> {
        self.token
            .clone()
            .or_else(|| std::env::var("TAISHI_TOKEN").ok())
            .filter(|t| !t.is_empty())
    }
}

#[derive(Args)]
#[command(
    about = "Asset register (资产): import inventories into a running server",
    after_help = "Examples:\n  taishi assets import 资产台账.csv --server http://127.0.0.1:8600 --token \"$TAISHI_TOKEN\"\n  taishi assets import cmdb.json --format json\n  taishi assets import scan.xml --format nmap"
)]
pub struct AssetsArgs {
    #[command(subcommand)]
    command: AssetsCommand,
}

#[derive(Subcommand)]
enum AssetsCommand {
    /// Import an inventory: CSV or JSON (Chinese or English headers, see taishi-asset's column mapping) or Nmap XML.
    Import {
        /// csv, json or nmap (detected from the content by default).
        #[arg(long, short, value_name = "FORMAT")]
        format: Option<String>,
        /// Print the server's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Args)]
#[command(
    about = "Vulnerabilities (漏洞): import scanner reports and KEV/EPSS/NVD feed files into a running server",
    after_help = "Examples:\n  taishi vulns import scan.nessus\n  taishi vulns import nmap-vulners.xml --external\n  taishi vulns import trivy.json grype.json\n  taishi vulns feed kev known_exploited_vulnerabilities.json\n  taishi vulns feed epss epss_scores-2026-12-06.csv\n  taishi vulns feed nvd nvdcve-2.0-page1.json.gz"
)]
pub struct VulnsArgs {
    #[command(subcommand)]
    command: VulnsCommand,
}

#[derive(Subcommand)]
enum VulnsCommand {
    /// Import scanner reports: Nmap XML (vulners), Greenbone/OpenVAS XML, Nessus, Trivy JSON, Grype JSON, CSV (detected).
    Import {
        /// The scan ran from outside: its open ports are exposure.
        #[arg(long)]
        external: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Import a feed file (air-gapped networks): kev (CISA KEV JSON or CSV), epss (FIRST EPSS CSV) or nvd (NVD CVE API 2.0 page or array of pages, optionally gzip: the register's software is matched).
    Feed {
        #[arg(value_parser = ["kev", "epss", "nvd"])]
        kind: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Args)]
#[command(
    about = "Risk ranking (风险排行): organisation → business system → asset, with each score's factors",
    after_help = "Examples:\n  taishi risk --server http://127.0.0.1:8600\n  taishi risk --json\n  taishi risk --csv > risk.csv\n  taishi risk --warnings\n  taishi risk report --year 2026 --format docx -o report.docx"
)]
pub struct RiskArgs {
    /// The server's answer as JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// One row per asset as CSV.
    #[arg(long)]
    csv: bool,
    /// List the early warnings (预警) instead.
    #[arg(long)]
    warnings: bool,
    #[command(flatten)]
    server: ServerArgs,
    /// `report`: the yearly risk assessment report.
    #[command(subcommand)]
    command: Option<super::risk_report::RiskCommand>,
}

/// A query value, percent-encoded.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload".into())
}

fn upload(s: &ServerArgs, path: &str, file: &Path) -> Result<J> {
    let body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let out = http::post(
        &s.server,
        path,
        s.token().as_deref(),
        "application/octet-stream",
        &body,
        TIMEOUT,
    )?;
    Ok(serde_json::from_slice(&out)?)
}

fn print_rejects(v: &J) {
    for r in v["rejects"].as_array().into_iter().flatten() {
        eprintln!(
            "  refused: {} / {}",
            r["en"].as_str().unwrap_or(""),
            r["zh"].as_str().unwrap_or("")
        );
    }
}

pub fn run_assets(args: AssetsArgs) -> Result<ExitCode> {
    let AssetsCommand::Import {
        format,
        json,
        server,
        file,
    } = args.command;
    let mut path = format!("/api/v1/assets?name={}", enc(&file_name(&file)));
    if let Some(f) = format {
        path.push_str(&format!("&format={}", enc(&f)));
    }
    let v = upload(&server, &path, &file)?;
    if json {
        println!("{v:#}");
    } else {
        println!(
            "{}: {} records, {} new assets, {} known, {} merged / 记录 {} 条，新增资产 {} 个，已有 {} 个，合并 {} 个",
            file.display(),
            v["records"], v["created"], v["updated"], v["merged"],
            v["records"], v["created"], v["updated"], v["merged"]
        );
        print_rejects(&v);
    }
    Ok(if v["rejects"].as_array().is_some_and(|r| !r.is_empty()) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn run_vulns(args: VulnsArgs) -> Result<ExitCode> {
    let mut refused = false;
    match args.command {
        VulnsCommand::Import {
            external,
            json,
            server,
            files,
        } => {
            for file in files {
                let path = format!(
                    "/api/v1/vulns/import?name={}&external={external}",
                    enc(&file_name(&file))
                );
                let v = upload(&server, &path, &file)?;
                refused |= v["rejects"].as_array().is_some_and(|r| !r.is_empty());
                if json {
                    println!("{v}");
                } else {
                    println!(
                        "{} ({}): {} findings, {} new, {} fixed, {} on no known asset / 漏洞 {} 条，新增 {} 条，已修复 {} 条，无对应资产 {} 条",
                        file.display(), v["scanner"].as_str().unwrap_or(""),
                        v["findings"], v["new"], v["fixed"], v["unmatched"],
                        v["findings"], v["new"], v["fixed"], v["unmatched"]
                    );
                    print_rejects(&v);
                }
            }
        }
        VulnsCommand::Feed {
            kind,
            json,
            server,
            file,
        } => {
            let path = format!("/api/v1/vulns/feeds/{kind}?name={}", enc(&file_name(&file)));
            let v = upload(&server, &path, &file)?;
            if json {
                println!("{v:#}");
            } else if kind == "nvd" {
                println!(
                    "nvd: {} records ({} new), {} matches, {} new findings, {} fixed / 记录 {}（新增 {}），匹配 {}，新漏洞 {}，已修复 {}",
                    v["entries"], v["added"], v["findings"], v["new_findings"], v["fixed"],
                    v["entries"], v["added"], v["findings"], v["new_findings"], v["fixed"]
                );
            } else {
                println!(
                    "{kind}: {} entries, {} new, {} changed, {} findings re-prioritised, {} warnings / 条目 {}，新增 {}，变化 {}，重评漏洞 {}，预警 {}",
                    v["entries"], v["added"], v["changed"], v["findings"],
                    v["warnings"].as_array().map_or(0, Vec::len),
                    v["entries"], v["added"], v["changed"], v["findings"],
                    v["warnings"].as_array().map_or(0, Vec::len)
                );
                for w in v["warnings"].as_array().into_iter().flatten() {
                    let d: J =
                        serde_json::from_str(w["doc"].as_str().unwrap_or("{}")).unwrap_or_default();
                    println!(
                        "  {} / {}",
                        d["title"]["zh"].as_str().unwrap_or(""),
                        d["title"]["en"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(if refused {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The factors of a score, shortest form: `vulns 0.80×0.45; …`.
fn factors(score: &J) -> String {
    score["factors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} {}",
                f["key"].as_str().unwrap_or(""),
                f["input"].as_f64().unwrap_or(0.0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run_risk(args: RiskArgs) -> Result<ExitCode> {
    if let Some(super::risk_report::RiskCommand::Report(a)) = args.command {
        return super::risk_report::run(a);
    }
    let s = &args.server;
    let token = s.token();
    if args.warnings {
        let out = http::get(
            &s.server,
            "/api/v1/risk/warnings?limit=500",
            token.as_deref(),
            TIMEOUT,
        )?;
        let v: J = serde_json::from_slice(&out)?;
        if args.json {
            println!("{v:#}");
            return Ok(ExitCode::SUCCESS);
        }
        let mut w = csv::Writer::from_writer(std::io::stdout());
        if args.csv {
            w.write_record([
                "level",
                "kind",
                "asset",
                "cve",
                "created",
                "title_zh",
                "title_en",
                "action_zh",
                "action_en",
            ])?;
        }
        for i in v["items"].as_array().into_iter().flatten() {
            let x = &i["warning"];
            let t = |k: &str, l: &str| x[k][l].as_str().unwrap_or("").to_string();
            if args.csv {
                w.write_record([
                    x["level"].as_str().unwrap_or(""),
                    x["kind"].as_str().unwrap_or(""),
                    x["asset_id"].as_str().unwrap_or(""),
                    x["cve"].as_str().unwrap_or(""),
                    i["created"].as_str().unwrap_or(""),
                    &t("title", "zh"),
                    &t("title", "en"),
                    &t("action", "zh"),
                    &t("action", "en"),
                ])?;
            } else {
                println!(
                    "{}  {}\n    {}\n    → {}",
                    i["created"].as_str().unwrap_or(""),
                    t("title", "zh"),
                    t("title", "en"),
                    t("action", "zh")
                );
            }
        }
        w.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = http::get(&s.server, "/api/v1/risk", token.as_deref(), TIMEOUT)?;
    let v: J = serde_json::from_slice(&out)?;
    if args.json {
        println!("{v:#}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut w = csv::Writer::from_writer(std::io::stdout());
    if args.csv {
        w.write_record([
            "org",
            "org_score",
            "business_system",
            "system_score",
            "asset_id",
            "asset",
            "score",
            "factors",
        ])?;
    } else {
        println!(
            "{:<40} {:>6}  因素 / factors",
            "组织 / 业务系统 / 资产 (organisation / system / asset)", "分数"
        );
    }
    for o in v["orgs"].as_array().into_iter().flatten() {
        let org = o["org"].as_str().unwrap_or("");
        let os = o["score"]["score"].as_f64().unwrap_or(0.0);
        if !args.csv {
            println!("{org:<40} {os:>6.1}");
        }
        for sys in o["systems"].as_array().into_iter().flatten() {
            let name = match sys["name"].as_str().unwrap_or("") {
                "" => "（未分组 / ungrouped）",
                n => n,
            };
            let ss = sys["score"]["score"].as_f64().unwrap_or(0.0);
            if !args.csv {
                println!(
                    "  {name:<38} {ss:>6.1}  ({} assets / 资产)",
                    sys["assets_total"]
                );
            }
            for a in sys["assets"].as_array().into_iter().flatten() {
                let an = a["name"].as_str().unwrap_or("");
                let sc = a["score"]["score"].as_f64().unwrap_or(0.0);
                if args.csv {
                    w.write_record([
                        org,
                        &format!("{os:.1}"),
                        name,
                        &format!("{ss:.1}"),
                        &a["id"].to_string(),
                        an,
                        &format!("{sc:.1}"),
                        &factors(&a["score"]),
                    ])?;
                } else {
                    println!(
                        "    {:<36} {sc:>6.1}  {}",
                        format!("#{} {an}", a["id"]),
                        factors(&a["score"])
                    );
                }
            }
        }
    }
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}
