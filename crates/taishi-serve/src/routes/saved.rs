//! Saved searches: a query and its range kept under a name in the caller's
//! organisation, and scheduled ones that alert (run by
//! [`crate::schedule`]). Reading needs `search`; saving, changing and
//! deleting `searches:write`. Every call is scoped: a sibling's saved
//! searches are as absent as missing ones.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use chrono::Utc;

use super::{blocking, parse_time, Access, Items, Route, R, S};
use crate::auth::{Caller, Permission as P};
use crate::App;
use taishi_state::{SavedSearch, SavedSearchSpec};

pub fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, "/saved-searches", Access::Needs(P::Search), list)
            .doc(
                "search",
                "Saved searches of your organisation and those below it, by name",
                "本组织及下级组织的保存搜索（按名称排序）",
            )
            .answer::<Items<SavedSearch>>(),
        Route::new(
            Method::POST,
            "/saved-searches",
            Access::Needs(P::SearchesWrite),
            create,
        )
        .doc(
            "search",
            "Save a search (optionally scheduled: it alerts when it answers more than its threshold)",
            "保存搜索（可设为定时：结果超过阈值时告警）",
        )
        .json::<SavedSearchSpec>()
        .answer::<SavedSearch>(),
        Route::new(
            Method::GET,
            "/saved-searches/{id}",
            Access::Needs(P::Search),
            get_one,
        )
        .doc("search", "One saved search", "单个保存搜索")
        .answer::<SavedSearch>(),
        Route::new(
            Method::PUT,
            "/saved-searches/{id}",
            Access::Needs(P::SearchesWrite),
            update,
        )
        .doc(
            "search",
            "Change a saved search or its schedule",
            "修改保存搜索或其定时设置",
        )
        .json::<SavedSearchSpec>()
        .answer::<SavedSearch>(),
        Route::new(
            Method::DELETE,
            "/saved-searches/{id}",
            Access::Needs(P::SearchesWrite),
            delete,
        )
        .doc("search", "Delete a saved search", "删除保存搜索"),
    ]
}

/// A spec whose query parses under the server's limits and whose range
/// reads as times: a saved search that cannot run is refused when saved,
/// not found broken by the schedule.
fn check(app: &App, spec: &SavedSearchSpec) -> R<()> {
    let limits = app.config.search.limits();
    taishi_query::Query::parse_with(&spec.query, Utc::now().fixed_offset(), &limits)
        .map_err(super::search::query_error)?;
    if !spec.from.trim().is_empty() {
        parse_time("from", spec.from.trim())?;
    }
    if let Some(to) = spec.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        parse_time("to", to)?;
    }
    Ok(())
}

async fn list(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
) -> R<Json<Items<SavedSearch>>> {
    blocking(move || {
        Ok(Json(Items {
            items: app.state.saved_searches(&c.scope)?,
        }))
    })
    .await
}

async fn create(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(spec): Json<SavedSearchSpec>,
) -> R<Json<SavedSearch>> {
    check(&app, &spec)?;
    blocking(move || {
        Ok(Json(app.state.create_saved_search(
            c.acting_org(),
            &c.username,
            &spec,
        )?))
    })
    .await
}

async fn get_one(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<SavedSearch>> {
    blocking(move || Ok(Json(app.state.saved_search(&id, &c.scope)?))).await
}

async fn update(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(spec): Json<SavedSearchSpec>,
) -> R<Json<SavedSearch>> {
    blocking(move || {
        // Absent before invalid: a sibling's id answers 404 whatever the body.
        app.state.saved_search(&id, &c.scope)?;
        check(&app, &spec)?;
        Ok(Json(app.state.update_saved_search(&id, &c.scope, &spec)?))
    })
    .await
}

async fn delete(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<StatusCode> {
    blocking(move || {
        app.state.delete_saved_search(&id, &c.scope)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
