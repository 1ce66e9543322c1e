//! The yearly risk assessment report (年度风险评估报告, issue 15; CII
//! regulation Art. 17): `GET /risk/report` over the caller's organisation
//! and those below it, as JSON (the numbers), DOCX or PDF (Chinese first,
//! `lang=en` for English). Every export is audited (risk.report_export),
//! as the incident report's is. The numbers and the layout are
//! `taishi_assess::yearly`'s.

use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone};
use schemars::JsonSchema;
use serde::Deserialize;
use taishi_assess::yearly::{check_period, year, Lang, YearlyReport};

use super::{bad, blocking, Access, Route, R, S};
use crate::auth::{Caller, Permission as P};

pub fn routes() -> Vec<Route> {
    vec![Route::new(Method::GET, "/risk/report", Access::Needs(P::AssetsRead), report)
        .doc(
            "risk",
            "The yearly risk assessment report (CII regulation Art. 17) of your organisation and those below it: summary, asset inventory, vulnerability findings, risk ranking and monthly trend, attacks and warnings, remediation, recommendations. The period: `year` (the calendar year in the server's zone; the current one by default) or `from` and `to` (RFC 3339, or a date: `to` then includes that day). `format` json (the numbers), docx or pdf (a download, CJK font embedded; 503 naming the font package to install when the server has none); `lang` zh-CN (default) or en. Every export is audited (risk.report_export)",
            "本组织及下级组织的年度网络安全风险评估报告（《关键信息基础设施安全保护条例》第十七条）：概述、资产清单、漏洞发现、风险排名与月度趋势、攻击与预警、整改情况、建议。评估期间：year（服务器时区的自然年，缺省为本年）或 from 与 to（RFC 3339 时间或日期，日期形式的 to 含当天）。format 为 json（统计数据）、docx 或 pdf（下载，内嵌中文字体；服务器无中文字体时返回 503 并说明应安装的字体包）；lang 为 zh-CN（缺省）或 en。每次导出均记入审计（risk.report_export）",
        )
        .query::<YearlyQuery>()
        .answer::<YearlyReport>()]
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct YearlyQuery {
    /// A calendar year (in the server's zone).
    #[serde(default)]
    pub year: Option<i32>,
    /// The period's start: RFC 3339, or a date (its first instant).
    #[serde(default)]
    pub from: Option<String>,
    /// The period's end: RFC 3339 (excluded), or a date (included).
    #[serde(default)]
    pub to: Option<String>,
    /// json (default), docx or pdf.
    #[serde(default)]
    pub format: Option<String>,
    /// zh-CN (default) or en.
    #[serde(default)]
    pub lang: Option<String>,
}

/// A period bound: RFC 3339, or a date in `zone` (its start, or with
/// `end` the next day's start, so the day is included).
fn bound(name: &str, s: &str, zone: FixedOffset, end: bool) -> R<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| if end { d.succ_opt() } else { Some(d) })
        .and_then(|d| zone.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).single())
        .ok_or_else(|| {
            bad(format!(
                "{name} `{s}`: an RFC 3339 time or a date (YYYY-MM-DD) / {name} `{s}`：须为 RFC 3339 时间或日期（YYYY-MM-DD）"
            ))
        })
}

fn period(
    q: &YearlyQuery,
    zone: FixedOffset,
    now: DateTime<FixedOffset>,
) -> R<(DateTime<FixedOffset>, DateTime<FixedOffset>, String)> {
    let (from, to, label) = match (q.year, &q.from, &q.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(bad(
                "year, or from and to, not both / year 与 from、to 只能二选一",
            ))
        }
        (Some(y), None, None) => {
            if !(1970..=9999).contains(&y) {
                return Err(bad(format!(
                    "year `{y}`: 1970–9999 / 年份 `{y}`：1970–9999"
                )));
            }
            let (a, b) = year(y, zone).ok_or_else(|| bad(format!("year `{y}`")))?;
            (a, b, y.to_string())
        }
        (None, Some(f), Some(t)) => {
            let (a, b) = (bound("from", f, zone, false)?, bound("to", t, zone, true)?);
            (a, b, format!("{}_{}", a.date_naive(), b.date_naive()))
        }
        (None, None, None) => {
            let y = now.with_timezone(&zone).year();
            let (a, b) = year(y, zone).ok_or_else(|| bad(format!("year `{y}`")))?;
            (a, b, y.to_string())
        }
        _ => return Err(bad("from and to go together / from 与 to 须同时给出")),
    };
    check_period(from, to).map_err(|e| bad(e.to_string()))?;
    Ok((from, to, label))
}

async fn report(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    uri: axum::http::Uri,
    Query(q): Query<YearlyQuery>,
) -> R<axum::response::Response> {
    let (en, format) = crate::reporting::report_options(q.lang.as_deref(), q.format.as_deref())?;
    let lang = if en { Lang::En } else { Lang::Zh };
    let now = app.clock.now();
    let (from, to, label) = period(&q, app.config.ingest.timezone.offset(), now)?;
    let (a, c2, f2) = (app.clone(), c.clone(), format.clone());
    let resp = blocking(move || {
        let (app, c, format) = (a, c2, f2);
        let org = c.acting_org().to_string();
        let name = app.state.org(&org).map(|o| o.name).unwrap_or(org);
        let r = taishi_assess::yearly_report(&app.state, &c.scope, name, from, to, now)?;
        if format == "json" {
            return Ok(Json(r).into_response());
        }
        let rendered = crate::reporting::render(&app, &r.document(lang), &format)?;
        let file = match lang {
            Lang::Zh => format!("网络安全风险评估年度报告-{label}.{}", rendered.2),
            Lang::En => format!("risk-assessment-{label}.{}", rendered.2),
        };
        Ok(crate::reporting::download(
            rendered,
            super::incidents::attachment(&file),
        ))
    })
    .await?;
    crate::reporting::audit_export(&app, &c, peer, &uri, "risk.report_export", &format).await;
    Ok(resp)
}
