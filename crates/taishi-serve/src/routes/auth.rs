//! Signing in and out, the signed-in user, one's own password.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{bad, blocking, Access, ApiError, Route, R, S};
use crate::auth::{self, Caller, Permission as P};
use crate::state::User;

pub fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::POST, "/auth/login", Access::Public, login)
            .doc(
                "auth",
                "Sign in; sets the session cookie and returns the CSRF value",
                "登录：设置会话 Cookie 并返回 CSRF 值",
            )
            .json::<Login>()
            .answer::<LoginAnswer>(),
        Route::new(
            Method::POST,
            "/auth/logout",
            Access::Needs(P::Account),
            logout,
        )
        .doc("auth", "Sign out", "退出登录"),
        Route::new(Method::GET, "/auth/me", Access::Needs(P::Account), me)
            .doc("auth", "The signed-in user", "当前登录用户")
            .answer::<Me>(),
        Route::new(
            Method::POST,
            "/auth/password",
            Access::Needs(P::Account),
            change_password,
        )
        .doc("auth", "Change one's own password", "修改本人密码")
        .json::<PasswordChange>(),
    ]
}

#[derive(Deserialize, JsonSchema)]
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, JsonSchema)]
pub struct LoginAnswer {
    pub user: Option<User>,
    /// Send it back in the `X-Taishi-CSRF` header on unsafe methods.
    pub csrf: String,
}

/// The signed-in user; `csrf` when signed in with a session (a reloaded
/// console tab gets its CSRF value back from its cookie).
#[derive(Serialize, JsonSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
}

async fn login(State(app): State<S>, Json(l): Json<Login>) -> R<Response> {
    blocking(move || {
        let denied = || {
            ApiError(
                StatusCode::UNAUTHORIZED,
                "wrong username or password".into(),
            )
        };
        let (hash, disabled) = app.state.password_hash(&l.username)?.ok_or_else(denied)?;
        if disabled || !auth::verify_password(&l.password, &hash) {
            return Err(denied());
        }
        let sid = auth::random_hex(32);
        let csrf = auth::random_hex(16);
        let ttl = app.config.http.session_hours.max(1) as i64 * 3600;
        app.state.create_session(
            &auth::digest(&sid),
            &l.username,
            &csrf,
            Utc::now().timestamp() + ttl,
        )?;
        app.state.touch_login(&l.username)?;
        let user = app.state.user(&l.username)?;
        let mut r = Json(LoginAnswer { user, csrf }).into_response();
        let c = format!(
            "{}={sid}; HttpOnly; SameSite=Strict; Path=/; Max-Age={ttl}",
            auth::COOKIE
        );
        r.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_str(&c).map_err(|e| bad(e.to_string()))?,
        );
        Ok(r)
    })
    .await
}

async fn logout(State(app): State<S>, headers: HeaderMap) -> R<Response> {
    if let Some(sid) = auth::cookie(&headers, auth::COOKIE) {
        blocking(move || Ok(app.state.delete_session(&auth::digest(&sid))?)).await?;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("taishi_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(r)
}

async fn me(State(app): State<S>, Extension(c): Extension<Caller>) -> R<Json<Me>> {
    blocking(move || {
        Ok(Json(Me {
            user: app.state.user(&c.username)?,
            csrf: c.csrf,
        }))
    })
    .await
}

#[derive(Deserialize, JsonSchema)]
pub struct PasswordChange {
    pub old: String,
    pub new: String,
}

async fn change_password(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(p): Json<PasswordChange>,
) -> R<StatusCode> {
    blocking(move || {
        let (hash, _) = app.state.password_hash(&c.username)?.ok_or_else(|| {
            ApiError(
                StatusCode::FORBIDDEN,
                "your role does not allow this; ask an admin".into(),
            )
        })?;
        if !auth::verify_password(&p.old, &hash) {
            return Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "the old password is wrong".into(),
            ));
        }
        let h = auth::hash_password(&p.new)?;
        app.state.update_user(&c.username, None, Some(&h), None)?;
        app.token_cache.clear();
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
