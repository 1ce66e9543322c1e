//! The data inventory (数据资产目录, issue 16): where personal information
//! was seen in the events, per organisation, listener and field, with
//! masked examples, people counts and grades. Export as JSON or CSV.

use axum::extract::{Query, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{bad, Access, Route, R, S};
// The audit export's quoting, defused against spreadsheet formulas.
use crate::auth::{Caller, Permission as P};
use taishi_audit::export::csv_cell as cell;
use taishi_runtime::pii::{InventoryAnswer, InventoryAsset, InventoryLocation};

pub fn routes() -> Vec<Route> {
    vec![Route::new(
        Method::GET,
        "/data/inventory",
        Access::Needs(P::DataRead),
        inventory,
    )
    .doc(
        "data",
        "The data inventory: locations where personal information was seen (masked examples, people, GB/T 35273 category, GB/T 43697 level); format=json|csv",
        "数据资产目录：发现个人信息的位置（脱敏示例、人数、GB/T 35273 类别、GB/T 43697 级别）；format=json|csv",
    )
    .query::<InventoryQuery>()
    .answer::<InventoryAnswer>()]
}

#[derive(Deserialize, JsonSchema)]
pub struct InventoryQuery {
    /// `json` (default) or `csv` (a file, UTF-8 with a BOM).
    pub format: Option<String>,
    /// Labels of the CSV: `zh-CN` (default) or `en`.
    pub lang: Option<String>,
}

async fn inventory(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<InventoryQuery>,
) -> R<Response> {
    let mut answer = match &app.pipeline.pii {
        Some(p) => p.inventory(&|org| c.scope.contains(org)),
        // Masking is off ([pii] enabled = false): nothing is watched.
        None => InventoryAnswer {
            locations: Vec::new(),
            dropped_locations: 0,
        },
    };
    if let Some(d) = &app.discovery {
        link_assets(d, &mut answer.locations);
    }
    let zh = match q.lang.as_deref().unwrap_or("zh-CN") {
        "zh-CN" | "zh" => true,
        "en" => false,
        l => return Err(bad(format!("lang: `{l}` is not zh-CN or en / 语言无效"))),
    };
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(axum::Json(answer).into_response()),
        "csv" => {
            let name = format!(
                "taishi-data-inventory-{}.csv",
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
            );
            Ok((
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                csv(&answer.locations, zh),
            )
                .into_response())
        }
        f => Err(bad(format!("format: `{f}` is not json or csv / 格式无效"))),
    }
}

/// Each location's hosts matched in its organisation's asset register
/// (by address, or by name, short or fully qualified).
fn link_assets(d: &taishi_assess::discover::Discovery, rows: &mut [InventoryLocation]) {
    for r in rows {
        r.assets = r
            .hosts
            .iter()
            .filter_map(|h| {
                let (id, name) = d.asset_of(&r.org, h)?;
                Some(InventoryAsset {
                    host: h.clone(),
                    id,
                    name,
                })
            })
            .collect();
    }
}

fn csv(rows: &[InventoryLocation], zh: bool) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(if zh {
        "组织,监听器,字段,类型,发现数,人数,人数精确,类别,敏感,级别,主机,资产,示例,首次发现,最近发现\n"
    } else {
        "org,listener,field,kinds,findings,people,people_exact,category,sensitive,level,hosts,assets,examples,first_seen,last_seen\n"
    });
    for r in rows {
        let kinds: Vec<String> = r
            .kinds
            .iter()
            .map(|k| {
                let label = if zh { &k.label_zh } else { &k.label_en };
                format!("{label}:{}", k.count)
            })
            .collect();
        let examples: Vec<&str> = r
            .kinds
            .iter()
            .flat_map(|k| k.examples.iter().map(String::as_str))
            .collect();
        let pick = |z: &Option<String>, e: &Option<String>| {
            if zh { z } else { e }.clone().unwrap_or_default()
        };
        let fields = [
            cell(&r.org),
            cell(&r.listener),
            cell(&r.field),
            cell(&kinds.join("; ")),
            r.findings.to_string(),
            r.people.to_string(),
            r.people_exact.to_string(),
            cell(&pick(&r.category_zh, &r.category_en)),
            r.sensitive.to_string(),
            cell(&pick(&r.level_zh, &r.level_en)),
            cell(&r.hosts.join("; ")),
            cell(
                &r.assets
                    .iter()
                    .map(|a| format!("#{} {}", a.id, a.name))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            cell(&examples.join("; ")),
            r.first_seen.clone(),
            r.last_seen.clone(),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}
