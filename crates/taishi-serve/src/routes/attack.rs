//! MITRE ATT&CK descriptions from the local data (taishi-attack), so an
//! ATT&CK id on an alert or the heatmap explains itself on a network
//! without internet.

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::Json;
use taishi_attack::{Attack, TechniqueInfo};

use super::{Access, ApiError, Route, R};
use crate::auth::Permission as P;

pub fn routes() -> Vec<Route> {
    // Alerts, rules and the heatmap carry ATT&CK ids: whoever reads alerts
    // reads what their ids mean (public reference text, no tenant data).
    vec![Route::new(
        Method::GET,
        "/attack/techniques/{id}",
        Access::Needs(P::AlertsRead),
        technique,
    )
    .doc(
        "attack",
        "An ATT&CK technique from the local data: name, tactics, description, ATT&CK version",
        "本地数据中的 ATT&CK 技术：名称、战术、描述、ATT&CK 版本",
    )
    .answer::<TechniqueInfo>()]
}

async fn technique(Path(id): Path<String>) -> R<Json<TechniqueInfo>> {
    let attack = Attack::embedded();
    attack.info(&id).map(Json).ok_or_else(|| {
        let v = attack.version();
        // The caller's text is echoed cut to the length of an id: an error
        // message is no place for a long string.
        let id: String = id.chars().take(16).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no ATT&CK technique `{id}` in the local data (ATT&CK {v}) / 本地 ATT&CK 数据（{v}）中没有技术 `{id}`"
            ),
        )
    })
}
