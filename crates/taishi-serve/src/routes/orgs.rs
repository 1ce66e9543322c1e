//! Organisations (the tenant tree) and roles (built-in and custom).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use taishi_auth::{BuiltinRole, CustomRole, Lang, Permission};

use super::users::{org_in_scope, role_error};
use super::{blocking, Access, ApiError, Items, Route, R, S};
use crate::auth::{Caller, Permission as P};
use crate::state::Org;

pub fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, "/orgs", Access::Needs(P::OrgsRead), list_orgs)
            .doc(
                "orgs",
                "Your organisation and those below it, parents first",
                "本组织及其下级组织（上级在前）",
            )
            .answer::<Items<Org>>(),
        Route::new(
            Method::POST,
            "/orgs",
            Access::Needs(P::OrgsWrite),
            create_org,
        )
        .doc(
            "orgs",
            "Create an organisation below yours or below one you see",
            "在本组织或可见的下级组织之下创建组织",
        )
        .json::<NewOrg>()
        .answer::<Org>(),
        Route::new(
            Method::PATCH,
            "/orgs/{id}",
            Access::Needs(P::OrgsWrite),
            rename_org,
        )
        .doc("orgs", "Rename an organisation", "重命名组织")
        .json::<OrgPatch>()
        .answer::<Org>(),
        Route::new(
            Method::DELETE,
            "/orgs/{id}",
            Access::Needs(P::OrgsWrite),
            delete_org,
        )
        .doc(
            "orgs",
            "Delete an empty organisation below yours",
            "删除本组织之下的空组织",
        ),
        Route::new(
            Method::GET,
            "/roles",
            Access::Needs(P::UsersRead),
            list_roles,
        )
        .doc(
            "users",
            "Built-in and custom roles with their permissions",
            "内置与自定义角色及其权限",
        )
        .answer::<RolesList>(),
        Route::new(
            Method::PUT,
            "/roles/{id}",
            Access::Needs(P::UsersWrite),
            put_role,
        )
        .doc(
            "users",
            "Create or replace a custom role (the separation of duties is checked)",
            "创建或替换自定义角色（检查三权分立）",
        )
        .json::<RoleBody>()
        .answer::<RoleInfo>(),
        Route::new(
            Method::DELETE,
            "/roles/{id}",
            Access::Needs(P::UsersWrite),
            delete_role,
        )
        .doc(
            "users",
            "Delete a custom role nobody holds",
            "删除无人持有的自定义角色",
        ),
    ]
}

async fn list_orgs(State(app): State<S>, Extension(c): Extension<Caller>) -> R<Json<Items<Org>>> {
    blocking(move || {
        Ok(Json(Items {
            items: app.state.orgs(&c.scope)?,
        }))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct NewOrg {
    /// `[a-z0-9-]`, 2–32 characters; events carry it as `organization.id`.
    pub id: String,
    /// The caller's organisation when absent.
    pub parent: Option<String>,
    pub name: String,
}

async fn create_org(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(o): Json<NewOrg>,
) -> R<Json<Org>> {
    let parent = org_in_scope(&c, o.parent)?;
    blocking(move || {
        let org = app.state.create_org(&o.id, &parent, &o.name)?;
        // Callers' scopes (cached with their tokens) now reach it, and the
        // overrides know its place in the tree.
        app.token_cache.clear();
        app.gate.reload(&app.state)?;
        Ok(Json(org))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct OrgPatch {
    pub name: String,
}

async fn rename_org(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(p): Json<OrgPatch>,
) -> R<Json<Org>> {
    let id = org_in_scope(&c, Some(id)).map_err(not_found)?;
    blocking(move || Ok(Json(app.state.rename_org(&id, &p.name)?))).await
}

async fn delete_org(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<StatusCode> {
    let id = org_in_scope(&c, Some(id)).map_err(not_found)?;
    if id == c.org {
        return Err(super::bad(
            "you cannot delete your own organisation; ask an administrator above it",
        ));
    }
    blocking(move || {
        app.state.delete_org(&id)?;
        app.token_cache.clear();
        app.gate.reload(&app.state)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// An organisation outside the caller's view is answered as missing.
fn not_found(e: ApiError) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, e.message)
}

/// A role as the console shows it.
#[derive(Serialize, JsonSchema)]
pub struct RoleInfo {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub builtin: bool,
    pub permissions: Vec<PermissionInfo>,
}

#[derive(Serialize, JsonSchema)]
pub struct PermissionInfo {
    pub id: Permission,
    pub label: String,
    pub label_zh: String,
}

/// Every role, and every permission a custom role may hold.
#[derive(Serialize, JsonSchema)]
pub struct RolesList {
    pub items: Vec<RoleInfo>,
    pub permissions: Vec<PermissionInfo>,
}

fn permission_info(p: Permission) -> PermissionInfo {
    PermissionInfo {
        id: p,
        label: p.label(Lang::En).to_string(),
        label_zh: p.label(Lang::Zh).to_string(),
    }
}

fn custom_info(r: &CustomRole) -> RoleInfo {
    RoleInfo {
        id: r.id.clone(),
        name: r.name.clone(),
        name_zh: r.name.clone(),
        builtin: false,
        permissions: r.grants().iter().map(permission_info).collect(),
    }
}

async fn list_roles(State(app): State<S>) -> R<Json<RolesList>> {
    let custom = blocking(move || Ok(app.state.custom_roles()?)).await?;
    let mut items: Vec<RoleInfo> = BuiltinRole::ALL
        .iter()
        .map(|r| RoleInfo {
            id: r.id().to_string(),
            name: r.label(Lang::En).to_string(),
            name_zh: r.label(Lang::Zh).to_string(),
            builtin: true,
            permissions: r.grants().iter().map(permission_info).collect(),
        })
        .collect();
    items.extend(custom.iter().map(custom_info));
    Ok(Json(RolesList {
        items,
        permissions: Permission::ALL
            .iter()
            .copied()
            .map(permission_info)
            .collect(),
    }))
}

#[derive(Deserialize, JsonSchema)]
pub struct RoleBody {
    pub name: String,
    /// Permission names (`alerts:read`, `search`, …).
    pub permissions: Vec<Permission>,
}

async fn put_role(
    State(app): State<S>,
    Path(id): Path<String>,
    Json(b): Json<RoleBody>,
) -> R<Json<RoleInfo>> {
    let role = CustomRole::new(&id, &b.name, b.permissions).map_err(role_error)?;
    blocking(move || {
        // Accounts holding it may now hold a union that breaks the
        // separation of duties: refuse the change then.
        for u in app.state.users(&crate::state::Scope::All)? {
            if u.roles.iter().any(|r| r == &role.id) {
                let others = u.roles.iter().filter(|r| **r != role.id);
                let g = super::grants(&app, &others.cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
                    .union(role.grants());
                g.check_separation().map_err(|e| {
                    ApiError::new(
                        StatusCode::CONFLICT,
                        format!("user `{}`: {e} / {}", u.username, e.message_zh()),
                    )
                })?;
            }
        }
        app.state.put_custom_role(&role)?;
        app.token_cache.clear();
        Ok(Json(custom_info(&role)))
    })
    .await
}

async fn delete_role(State(app): State<S>, Path(id): Path<String>) -> R<StatusCode> {
    blocking(move || {
        app.state.delete_custom_role(&id)?;
        app.token_cache.clear();
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
