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
            "Change a user's role, password or disabled flag",
            "修改用户的角色、密码或禁用状态",
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

async fn list_users(State(app): State<S>) -> R<Json<Items<User>>> {
    blocking(move || {
        Ok(Json(Items {
            items: app.state.users()?,
        }))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    /// `admin`, `analyst` or `viewer`.
    pub role: String,
}

async fn create_user(State(app): State<S>, Json(u): Json<NewUser>) -> R<Json<User>> {
    let h = new_password_hash(&app, &u.username, u.password).await?;
    blocking(move || Ok(Json(app.state.create_user(&u.username, &u.role, &h)?))).await
}

#[derive(Deserialize, JsonSchema)]
pub struct UserPatch {
    pub role: Option<String>,
    pub password: Option<String>,
    pub disabled: Option<bool>,
}

async fn update_user(
    State(app): State<S>,
    Path(username): Path<String>,
    Json(p): Json<UserPatch>,
) -> R<Json<User>> {
    let h = match p.password {
        Some(pw) => Some(new_password_hash(&app, &username, pw).await?),
        None => None,
    };
    blocking(move || {
        let u = app
            .state
            .update_user(&username, p.role.as_deref(), h.as_deref(), p.disabled)?;
        // The user's tokens act with the owner's current role.
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
        app.state.delete_user(&username)?;
        app.token_cache.clear();
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Whose tokens a caller sees and may revoke: everyone's for those who
/// manage users, else their own.
fn token_owner(c: &Caller) -> Option<&str> {
    (!c.can(P::UsersWrite)).then_some(c.username.as_str())
}

async fn list_tokens(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
) -> R<Json<Items<Token>>> {
    blocking(move || {
        Ok(Json(Items {
            items: app.state.tokens(token_owner(&c))?,
        }))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct NewToken {
    pub name: String,
    /// At most the caller's own role; the caller's role when absent.
    pub role: Option<String>,
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
    let role = t.role.unwrap_or_else(|| c.role.clone());
    crate::state::check_role(&role)?;
    // `c.role` is the caller's effective role (see `State::token`).
    if crate::state::role_rank(&role) > crate::state::role_rank(&c.role) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "a token cannot have a higher role than its owner: you are `{}`, asked for `{role}`",
                c.role
            ),
        ));
    }
    blocking(move || {
        let secret = format!("tsk_{}", auth::random_hex(24));
        let id = auth::random_hex(8);
        let token =
            app.state
                .create_token(&id, &t.name, &role, &c.username, &auth::digest(&secret))?;
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
        app.state.delete_token(&id, token_owner(&c))?;
        app.token_cache.clear();
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
