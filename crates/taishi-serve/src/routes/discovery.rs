//! Unknown assets (shadow IT, issue 15): hosts seen in the events Taishi
//! receives that the organisation's register does not know. The detector
//! is `taishi_assess::discover`; this lists its candidates, scoped to the
//! caller's organisation and those below it.

use axum::extract::{Query, State};
use axum::http::Method;
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::Deserialize;
use taishi_assess::discover::UnknownAnswer;

use super::{blocking, Access, Route, R, S};
use crate::auth::{Caller, Permission as P};

/// Candidates listed at most in one answer.
const MAX_LIMIT: usize = 10_000;

pub fn routes() -> Vec<Route> {
    vec![Route::new(
        Method::GET,
        "/assets/unknown",
        Access::Needs(P::AssetsRead),
        list_unknown,
    )
    .doc(
        "risk",
        "Unknown assets: hosts seen in received events (EVTX Computer, syslog hosts, Zeek known_hosts/known_services/software, DHCP, DNS answers, flow endpoints inside `[risk] internal_networks`) that your organisation's register does not know, most recently seen first, each with why in zh-CN and English, first and last seen and its sources; importing the host into the register removes it",
        "未知资产：在接收的事件中出现（EVTX Computer、syslog 主机、Zeek known_hosts/known_services/software、DHCP、DNS 应答、`[risk] internal_networks` 内的流量端点）但本组织资产台账中没有的主机，按最近出现排序，附中英文原因、首次与最近出现时间及来源；将该主机导入台账后即从列表移除",
    )
    .query::<UnknownQuery>()
    .answer::<UnknownAnswer>()]
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UnknownQuery {
    /// At most this many (default 500, at most 10,000).
    #[serde(default)]
    pub limit: Option<usize>,
}

async fn list_unknown(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<UnknownQuery>,
) -> R<Json<UnknownAnswer>> {
    blocking(move || {
        let limit = q.limit.unwrap_or(500).min(MAX_LIMIT);
        Ok(Json(match &app.discovery {
            Some(d) => d.unknown(&|org| c.scope.contains(org), limit),
            // Discovery is off (`[risk] discovery = false`).
            None => UnknownAnswer {
                total: 0,
                evicted: 0,
                items: Vec::new(),
            },
        }))
    })
    .await
}
