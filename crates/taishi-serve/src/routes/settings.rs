//! Alert outputs (webhooks, robots, mail, syslog): read, replace, test.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use taishi_alert::{OutputConfig, OutputsList, ReplaceError};

use super::audit::AuditChange;
use super::{bad, Access, Object, Route, R, S};
use crate::auth::Permission as P;

pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/settings/outputs",
            Access::Needs(P::SettingsRead),
            get_outputs,
        )
        .doc(
            "settings",
            "Alert outputs with their delivery counters (secrets masked)",
            "告警输出及其投递计数（密钥已遮蔽）",
        )
        .answer::<OutputsList>(),
        Route::new(
            Method::PUT,
            "/settings/outputs",
            Access::Needs(P::OutputsWrite),
            put_outputs,
        )
        .doc(
            "settings",
            "Replace the alert outputs (a masked secret keeps the saved one)",
            "替换告警输出（遮蔽的密钥保留已保存的值）",
        )
        .json::<OutputsBody>()
        .answer::<OutputsList>(),
        Route::new(
            Method::POST,
            "/settings/outputs/{name}/test",
            Access::Needs(P::OutputsTest),
            test_output,
        )
        .doc(
            "settings",
            "Send a test notification through one output",
            "通过一个输出发送测试通知",
        )
        .answer::<OutputTest>(),
    ]
}

/// The key of the outputs saved from the console in the state's settings.
pub const OUTPUTS_SETTING: &str = "alerts.outputs";

async fn get_outputs(State(app): State<S>) -> Json<OutputsList> {
    Json(app.outputs.list())
}

#[derive(Deserialize, JsonSchema)]
pub struct OutputsBody {
    /// Output configurations as `GET` lists them; `metrics` is ignored.
    #[schemars(with = "Vec<OutputConfig>")]
    pub items: Vec<Object>,
}

/// The outputs as the audit record keeps them: their configuration without
/// the counters.
fn audited_outputs(list: &OutputsList) -> J {
    let mut v = serde_json::to_value(&list.items).unwrap_or_default();
    if let J::Array(items) = &mut v {
        for i in items {
            if let J::Object(m) = i {
                m.remove("metrics");
            }
        }
    }
    v
}

async fn put_outputs(
    State(app): State<S>,
    Json(b): Json<OutputsBody>,
) -> R<(Extension<AuditChange>, Json<OutputsList>)> {
    let before = audited_outputs(&app.outputs.list());
    let mut outs = Vec::new();
    for (i, Object(mut v)) in b.items.into_iter().enumerate() {
        // What `list` adds for display is not configuration.
        if let J::Object(m) = &mut v {
            m.remove("metrics");
        }
        outs.push(
            serde_json::from_value::<taishi_alert::OutputConfig>(v)
                .map_err(|e| bad(format!("items[{i}]: {e}")))?,
        );
    }
    let state = app.state.clone();
    let after = app
        .outputs
        .replace(outs, |text| state.set_setting(OUTPUTS_SETTING, text))
        .await
        .map_err(|e| match e {
            ReplaceError::Invalid(p) => bad(p.to_string()),
            ReplaceError::Save(e) => e.into(),
        })?;
    let change = AuditChange::masked(before, audited_outputs(&after));
    Ok((Extension(change), Json(after)))
}

#[derive(Serialize, JsonSchema)]
pub struct OutputTest {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

async fn test_output(State(app): State<S>, Path(name): Path<String>) -> Json<OutputTest> {
    Json(match app.outputs.test(&name).await {
        Ok(()) => OutputTest {
            ok: true,
            error: None,
        },
        Err(e) => OutputTest {
            ok: false,
            error: Some(e.to_string()),
        },
    })
}
