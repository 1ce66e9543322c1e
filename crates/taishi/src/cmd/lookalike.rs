//! `taishi lookalike`: the look-alikes of a domain to watch, and a check
//! of names against them.

use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use taishi_anomaly::{Brand, Lang, LookalikeConfig, LookalikeWatch};

/// Longest line read from a names file: a DNS name is at most 253 bytes.
const MAX_LINE: usize = 4096;
/// Most names checked from one file or stdin.
const MAX_NAMES: usize = 10_000_000;

#[derive(Args)]
#[command(
    about = "Print the look-alike domains of a brand domain, or check names against them / 列出品牌域名的仿冒变体，或检查域名是否仿冒",
    after_help = "Variants: the dnstwist methods (addition, bitsquatting, homoglyph, hyphenation, insertion, omission, repetition, \
replacement, subdomain, transposition, vowel swap, dictionary, TLD swap), IDN homoglyphs in punycode, and the pinyin and pinyin \
initials of the Chinese names given with --zh. With --check, each name of the file (one per line, - for stdin) is matched \
as `taishi serve` matches DNS, proxy and mail names: the brand's own domains never match; the method is printed.\n\
变体：dnstwist 的各种手法、IDN 形近字符（punycode），以及 --zh 给出的中文名称的拼音与拼音首字母。--check 逐行检查文件中的域名（- 为标准输入），\
与 taishi serve 检查 DNS、代理和邮件日志的方式相同，并给出命中的手法。\n\n\
Exit status: 0 printed (or no name matched), 3 some checked names imitate the brand, 1 error.\n\
退出码：0 已输出（或无命中），3 有域名仿冒该品牌，1 出错。\n\n\
Examples / 示例:\n  taishi lookalike icbc.com.cn --zh 中国工商银行\n  taishi lookalike example.com --method homoglyph --format jsonl\n  \
taishi lookalike icbc.com.cn --zh 工商银行 --check dns-names.txt\n  cut -f10 dns.log | taishi lookalike example.com --check -"
)]
pub struct LookalikeArgs {
    /// The brand's domain (its registrable name, e.g. example.com.cn) / 品牌域名.
    #[arg(value_name = "DOMAIN")]
    domain: String,
    /// The brand's Chinese name (repeatable) / 品牌中文名称（可重复）.
    #[arg(long, value_name = "名称")]
    zh: Vec<String>,
    /// Other domains of the same brand: never reported / 同一品牌的其他自有域名.
    #[arg(long, value_name = "DOMAIN")]
    own: Vec<String>,
    /// Only variants made by this method (e.g. homoglyph, pinyin) / 只列出该手法的变体.
    #[arg(long, value_name = "METHOD")]
    method: Option<String>,
    /// Check the names of this file (- for stdin) instead of printing variants / 检查文件中的域名.
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
    /// Output: table or jsonl / 输出格式.
    #[arg(long, short, default_value = "table", value_name = "FORMAT")]
    format: String,
}

fn method_name(m: taishi_anomaly::Method) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn run(args: LookalikeArgs) -> Result<ExitCode> {
    if !matches!(args.format.as_str(), "table" | "jsonl") {
        anyhow::bail!(
            "--format {}: expected table or jsonl / 应为 table 或 jsonl",
            args.format
        );
    }
    let mut domains = vec![args.domain.clone()];
    domains.extend(args.own.iter().cloned());
    let cfg = LookalikeConfig {
        brands: vec![Brand {
            name: args.domain.clone(),
            domains,
            names_zh: args.zh.clone(),
            keywords: Vec::new(),
        }],
        ..LookalikeConfig::default()
    };
    let watch = LookalikeWatch::new(cfg).context("the brand / 品牌")?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    match &args.check {
        None => {
            let variants = watch.variants_of(&args.domain, &args.zh);
            let mut rows = Vec::new();
            for v in &variants {
                let m = method_name(v.method);
                if args.method.as_deref().is_some_and(|want| want != m) {
                    continue;
                }
                if args.format == "jsonl" {
                    writeln!(out, "{}", serde_json::to_string(v)?)?;
                } else {
                    rows.push(vec![
                        v.domain.clone(),
                        v.unicode.clone().unwrap_or_default(),
                        m,
                        v.method.label(Lang::Zh).to_string(),
                    ]);
                }
            }
            if args.format == "table" {
                write!(
                    out,
                    "{}",
                    crate::ui::table(&["variant / 变体", "unicode", "method", "手法"], &rows)
                )?;
                out.flush()?;
                eprintln!(
                    "{} variants of {} / {} 的变体 {} 个",
                    rows.len(),
                    args.domain,
                    args.domain,
                    rows.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(path) => {
            let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
                Box::new(io::BufReader::new(io::stdin()))
            } else {
                Box::new(io::BufReader::new(std::fs::File::open(path).with_context(
                    || format!("--check {} cannot be opened / 无法打开", path.display()),
                )?))
            };
            let mut hits = 0u64;
            let mut checked = 0u64;
            let mut rows = Vec::new();
            let mut buf = Vec::new();
            let mut reader = reader;
            loop {
                buf.clear();
                let n = (&mut reader)
                    .take(MAX_LINE as u64)
                    .read_until(b'\n', &mut buf)
                    .context("reading the names / 读取域名")?;
                if n == 0 {
                    break;
                }
                if checked as usize >= MAX_NAMES {
                    eprintln!("stopped after {MAX_NAMES} names / 已检查 {MAX_NAMES} 个域名，停止");
                    break;
                }
                let line = String::from_utf8_lossy(&buf);
                let name = line.trim();
                if name.is_empty() || name.starts_with('#') {
                    continue;
                }
                checked += 1;
                if let Some(m) = watch.check(name) {
                    hits += 1;
                    if args.format == "jsonl" {
                        writeln!(out, "{}", serde_json::to_string(&m)?)?;
                    } else {
                        rows.push(vec![
                            m.observed.clone(),
                            method_name(m.method),
                            m.explain().zh,
                        ]);
                    }
                }
            }
            if args.format == "table" && !rows.is_empty() {
                write!(
                    out,
                    "{}",
                    crate::ui::table(&["name / 域名", "method", "说明"], &rows)
                )?;
            }
            out.flush()?;
            eprintln!(
                "{checked} names checked, {hits} imitate {} / 检查 {checked} 个域名，{hits} 个仿冒 {}",
                args.domain, args.domain
            );
            Ok(if hits > 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
