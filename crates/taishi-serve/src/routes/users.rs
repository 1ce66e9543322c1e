//! Users (admins) and API tokens (everyone their own; admins all).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{bad, blocking, new_password_hash, Access, ApiError, Items, Route, R, S};
use crate::auth::{self, Caller, Permission as P};
use crate::state::{Token, User};

pub fn routes() -> Vec<Route> {
    let users = |p| Access::Needs(p);
    vec![
        Route::new(Method::GET, "/users", users(P::UsersRead), list_users)
            .doc("users", "List users", "用户列表")
            .answer::<Items<User>>(),
        Route::new(Method::POST, "/users", users(P::UsersWrite), create_user)
            .doc("users", "Create a user", "创建用户")
            .json::<NewUser>()
            .answer::<User>(),
        Route::new(
            Method::PATCH,
            "/users/{username}",
            users(P::UsersWrite),
            update_user,
        )
        .doc(
            "users",
            "Change a user's roles, password, organisation or disabled flag",
            "修改用户的角色、密码、所属组织或禁用状态",
        )
        .json::<UserPatch>()
        .answer::<User>(),
        Route::new(
            Method::DELETE,
            "/users/{username}",
            users(P::UsersWrite),
            delete_user,
        )
        .doc("users", "Delete a user", "删除用户"),
        Route::new(Method::GET, "/tokens", users(P::TokensWrite), list_tokens)
            .doc(
                "users",
                "List API tokens (own; with users:write, all)",
                "API 令牌列表（本人的；有 users:write 权限则为全部）",
            )
            .answer::<Items<Token>>(),
        Route::new(Method::POST, "/tokens", users(P::TokensWrite), create_token)
            .doc(
                "users",
                "Create an API token; the secret is shown once",
                "创建 API 令牌；密钥只显示一次",
            )
            .json::<NewToken>()
            .answer::<TokenCreated>(),
        Route::new(
            Method::DELETE,
            "/tokens/{id}",
            users(P::TokensWrite),
            delete_token,
        )
        .doc(
            "users",
            "Revoke an API token (own; with users:write, any)",
            "吊销 API 令牌（本人的；有 users:write 权限则为任意）",
        ),
    ]
}

async fn list_users(State(app): State<S>, Extension(c): Extension<Caller>) -> R<Json<Items<User>>> {
    blocking(move || {
        Ok(Json(Items {
            items: app.state.users(&c.scope)?,
        }))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    /// Role ids: `sysadmin`, `secadmin`, `auditor`, `analyst`, `responder`,
    /// `viewer` or a custom role's.
    pub roles: Vec<String>,
    /// The organisation (the caller's when absent); one the caller sees.
    pub org: Option<String>,
    /// The user must choose its own password at its first sign-in (the
    /// console asks so by default); false when absent.
    #[serde(default)]
    pub must_change_password: bool,
}

/// Refuses roles that do not resolve or break the separation of duties,
/// with the reason in both languages.
fn check_roles(app: &crate::App, roles: &[String]) -> R<()> {
    super::grants(app, roles).map(|_| ()).map_err(role_error)
}

pub(crate) fn role_error(e: taishi_auth::RoleError) -> ApiError {
    bad(format!("{e} / {}", e.message_zh()))
}

/// The organisation a caller names, which must be one it sees.
pub(crate) fn org_in_scope(c: &Caller, org: Option<String>) -> R<String> {
    let org = org.unwrap_or_else(|| c.org.clone());
    if !c.scope.contains(&org) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("organisation `{org}` is not yours or below yours"),
        ));
    }
    Ok(org)
}

/// A user the caller may manage: one of an organisation it sees (a
/// sibling's users are as absent as a missing one).
fn managed_user(app: &crate::App, c: &Caller, username: &str) -> R<User> {
    match app.state.user(username)? {
        Some(u) if c.scope.contains(&u.org) => Ok(u),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no user `{username}`"),
        )),
    }
}

async fn create_user(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(u): Json<NewUser>,
) -> R<Json<User>> {
    let org = org_in_scope(&c, u.org)?;
    check_roles(&app, &u.roles)?;
    let h = new_password_hash(&app, &u.username, u.password).await?;
    blocking(move || {
        let mut user = app.state.create_user(&u.username, &org, &u.roles, &h)?;
        if u.must_change_password {
            app.state.set_must_change(&u.username, true)?;
            user.must_change_password = true;
        }
        Ok(Json(user))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct UserPatch {
    pub roles: Option<Vec<String>>,
    pub password: Option<String>,
    pub disabled: Option<bool>,
    /// Moves the user to another organisation the caller sees.
    pub org: Option<String>,
    /// With `password`: the user must choose its own at its next sign-in
    /// (an administrator's reset; the console asks so by default).
    #[serde(default)]
    pub must_change_password: bool,
}

async fn update_user(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(username): Path<String>,
    Json(p): Json<UserPatch>,
) -> R<Json<User>> {
    let org = match p.org {
        Some(o) => Some(org_in_scope(&c, Some(o))?),
        None => None,
    };
    {
        let (a, c, u) = (app.clone(), c.clone(), username.clone());
        blocking(move || managed_user(&a, &c, &u).map(|_| ())).await?;
    }
    if let Some(r) = &p.roles {
        check_roles(&app, r)?;
    }
    let h = match p.password {
        Some(pw) => Some(new_password_hash(&app, &username, pw).await?),
        None => None,
    };
    blocking(move || {
        let u = app.state.update_user(
            &username,
            p.roles.as_deref(),
            h.as_deref(),
            p.disabled,
            org.as_deref(),
        )?;
        let u = if h.is_some() && p.must_change_password && username != c.username {
            app.state.set_must_change(&username, true)?;
            User {
                must_change_password: true,
                ..u
            }
        } else {
            u
        };
        // The user's tokens act with the owner's current roles.
        app.token_cache.clear();
        Ok(Json(u))
    })
    .await
}

async fn delete_user(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(username): Path<String>,
) -> R<StatusCode> {
    if username == c.username {
        return Err(bad("you cannot delete yourself"));
    }
    blocking(move || {
        managed_user(&app, &c, &username)?;
        app.state.delete_user(&username)?;
        app.token_cache.clear();
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Whose tokens a caller sees and may revoke: everyone's in its
/// organisations for those who manage users, else its own.
fn token_owner(c: &Caller) -> Option<&str> {
    (!c.can(P::UsersWrite)).then_some(c.username.as_str())
}

async fn list_tokens(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
) -> R<Json<Items<Token>>> {
    blocking(move || {
        Ok(Json(Items {
            items: app.state.tokens(token_owner(&c), &c.scope)?,
        }))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct NewToken {
    pub name: String,
    /// Role ids, each granting no more than the caller has; the caller's
    /// roles when absent.
    pub roles: Option<Vec<String>>,
    /// The organisation what the token sends belongs to (an ingest token
    /// for one operator); the caller's when absent, else one it sees.
    pub org: Option<String>,
}

/// A new token with its secret, which is never shown again.
#[derive(Serialize, JsonSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub token: Token,
    /// `tsk_…`: send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

async fn create_token(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(t): Json<NewToken>,
) -> R<Json<TokenCreated>> {
    let roles = t.roles.unwrap_or_else(|| c.roles.clone());
    let org = org_in_scope(&c, t.org)?;
    blocking(move || {
        let g = super::grants(&app, &roles).map_err(role_error)?;
        // `c.grants` is the caller's effective power (a token's is capped).
        if !c.grants.covers(g) {
            let extra: Vec<&str> = g
                .iter()
                .filter(|p| !c.grants.has(*p))
                .map(|p| p.name())
                .collect();
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "a token cannot do more than its owner: you lack {}",
                    extra.join(", ")
                ),
            ));
        }
        let secret = format!("tsk_{}", auth::random_hex(24));
        let id = auth::random_hex(8);
        let token = app.state.create_token(
            &id,
            &t.name,
            &roles,
            &c.username,
            &org,
            &auth::digest(&secret),
        )?;
        app.token_cache.clear();
        Ok(Json(TokenCreated { token, secret }))
    })
    .await
}

async fn delete_token(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<StatusCode> {
    blocking(move || {
        app.state.delete_token(&id, token_owner(&c), &c.scope)?;
        app.token_cache.clear();
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
