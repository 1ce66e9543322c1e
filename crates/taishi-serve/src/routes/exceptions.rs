//! Rule exceptions: listed (per rule or all), created (from an alert's
//! false-positive close or on their own) and deleted. Creating and deleting
//! need `alerts:write`: the analysts and responders who judge an alert a
//! false positive are the ones who say what makes it one. Each change
//! reloads the alert gate, so the next alert sees it.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::{Extension, Json};
use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{blocking, Access, Items, Route, R, S};
use crate::auth::{Caller, Permission as P};
use crate::state::{Condition, ExceptionScope, NewRuleException, RuleException};
use crate::App;

/// An exception given no expiry stops applying after this long: a false
/// positive of today (a backup job, an admin script) is seldom one forever.
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;

pub fn routes() -> Vec<Route> {
    let read = Access::Needs(P::AlertsRead);
    let write = Access::Needs(P::AlertsWrite);
    vec![
        Route::new(Method::GET, "/alerts/exceptions", read, list)
            .doc(
                "alerts",
                "Rule exceptions, of one rule or all",
                "规则例外（某条规则或全部）",
            )
            .query::<ExceptionQuery>()
            .answer::<Items<RuleException>>(),
        Route::new(Method::POST, "/alerts/exceptions", write, create)
            .doc("alerts", "Create a rule exception", "新建规则例外")
            .json::<ExceptionBody>()
            .answer::<RuleException>(),
        Route::new(Method::DELETE, "/alerts/exceptions/{id}", write, delete)
            .doc("alerts", "Delete a rule exception", "删除规则例外")
            .answer::<RuleException>(),
    ]
}

#[derive(Deserialize, JsonSchema)]
pub struct ExceptionQuery {
    pub rule_id: Option<String>,
}

/// What the field values of an exception are, for how long and where.
#[derive(Deserialize, JsonSchema, Clone)]
pub struct ExceptionSpec {
    /// 1–10 `{field, value}` of the alert's event, all required (exact).
    pub fields: Vec<Condition>,
    /// When it stops applying (RFC 3339); absent: in 90 days.
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
    /// Never expires (`expires` is then ignored).
    #[serde(default)]
    pub no_expiry: bool,
    /// `org` (the alert's organisation only, the default) or `subtree`
    /// (it and those below).
    #[serde(default)]
    pub scope: ExceptionScope,
}

#[derive(Deserialize, JsonSchema)]
pub struct ExceptionBody {
    pub rule_id: String,
    #[serde(flatten)]
    pub spec: ExceptionSpec,
    pub comment: Option<String>,
    /// The alert it is made from: the exception then belongs to that
    /// alert's organisation (else to the caller's).
    pub alert_id: Option<String>,
}

/// Creates an exception of `rule` in `org` (checked by the caller) and
/// reloads the gate.
pub(crate) fn make(
    app: &App,
    c: &Caller,
    org: &str,
    rule: &str,
    spec: &ExceptionSpec,
    comment: Option<String>,
    alert_id: Option<String>,
) -> R<RuleException> {
    let expires = if spec.no_expiry {
        None
    } else {
        Some(
            spec.expires
                .unwrap_or_else(|| Utc::now() + TimeDelta::days(DEFAULT_EXPIRY_DAYS)),
        )
    };
    let x = app.state.create_rule_exception(
        org,
        &c.username,
        &NewRuleException {
            rule_id: rule.into(),
            conditions: spec.fields.clone(),
            scope: spec.scope,
            expires,
            comment,
            alert_id,
        },
    )?;
    app.gate.reload(&app.state)?;
    Ok(x)
}

async fn list(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ExceptionQuery>,
) -> R<Json<Items<RuleException>>> {
    blocking(move || {
        // The counts the gate gathered since its last write, so a list
        // read right after an alert was held back shows it.
        app.gate.flush_hits(&app.state)?;
        let items = app
            .state
            .rule_exceptions(&c.scope, q.rule_id.as_deref().filter(|r| !r.is_empty()))?;
        Ok(Json(Items { items }))
    })
    .await
}

async fn create(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(b): Json<ExceptionBody>,
) -> R<Json<RuleException>> {
    blocking(move || {
        let org = match &b.alert_id {
            Some(id) => {
                let a = super::alerts::visible_alert(&app, &c, id)?;
                a.org
                    .clone()
                    .unwrap_or_else(|| crate::state::ROOT_ORG.into())
            }
            None => c.acting_org().to_string(),
        };
        Ok(Json(make(
            &app,
            &c,
            &org,
            &b.rule_id,
            &b.spec,
            b.comment.clone(),
            b.alert_id.clone(),
        )?))
    })
    .await
}

async fn delete(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<RuleException>> {
    blocking(move || {
        app.gate.flush_hits(&app.state)?;
        let x = app.state.delete_rule_exception(&id, &c.scope)?;
        app.gate.reload(&app.state)?;
        Ok(Json(x))
    })
    .await
}
