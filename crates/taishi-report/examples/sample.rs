//! Writes a sample report as `sample.docx` and `sample.pdf` into the
//! directory given (to look at them in Word, WPS or a PDF viewer).
use taishi_report::{Document, Font, Limits};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let mut d = Document::new("网络安全事件报告（首次报告）");
    d.subtitle = Some("甲单位 · 2026-12-06T19:00:00+08:00".into());
    d.footer = Some("inc-0001".into());
    d.heading(1, "一、事发单位名称及发生事件的设施、系统、平台的基本情况")
        .key_value(vec![
            ("单位名称".into(), "甲单位 Operator A".into()),
            ("受影响系统".into(), "ws01.corp.example；db01（核心业务数据库）".into()),
        ])
        .heading(1, "二、事件发现或发生时间、地点、事件类型")
        .paragraph("2026年12月6日 18:02（UTC+8），安全运营中心发现主机 ws01 出现可疑的 PowerShell 编码命令执行（ATT&CK T1059.001），随后在同一主机上观察到凭据转储行为。已隔离主机。".repeat(3))
        .table(
            vec!["时间".into(), "主机".into(), "规则".into()],
            (0..40).map(|i| vec![format!("2026-12-06T18:{:02}:00+08:00", i), "ws01".into(), "Suspicious Encoded PowerShell Command Line 可疑编码命令".into()]).collect(),
        )
        .list(true, vec!["隔离主机".into(), "重置口令".into()]);
    let font = Font::find(None)?;
    std::fs::write(
        format!("{dir}/sample.pdf"),
        taishi_report::pdf::render(&d, &font, &Limits::default())?,
    )?;
    std::fs::write(
        format!("{dir}/sample.docx"),
        taishi_report::docx::render(&d, &Limits::default())?,
    )?;
    println!("font {} (face {})", font.path.display(), font.index);
    Ok(())
}
