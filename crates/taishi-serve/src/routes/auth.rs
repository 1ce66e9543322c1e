//! Signing in and out, the signed-in user, one's own password.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::ConnectInfo;
use taishi_auth::Lang;

use taishi_audit::Outcome as AuditOutcome;

use super::{audit, bad, blocking, new_password_hash, Access, ApiError, Route, Who, R, S};
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
    /// What the caller may do (its roles' union; a token's is capped by
    /// its owner's): the console shows only what these allow.
    pub permissions: Vec<P>,
    /// The organisations the caller sees (its own first, then those below).
    pub orgs: Vec<crate::state::Org>,
    /// The password is one-time (set by someone else: the first start, an
    /// administrator) or older than `[auth.password] max_age_days`: the
    /// server answers nothing but the account routes, and the console asks
    /// for a new password before anything else.
    pub password_expired: bool,
}

/// Signs in. The account's and the address's lock is checked before the
/// password; the password is checked on the bounded hashing pool, and an
/// unknown or disabled account costs what a real one costs, so neither
/// the time nor the answer tells which names exist.
async fn login(
    State(app): State<S>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(l): Json<Login>,
) -> R<Response> {
    let addr = Some(peer.ip());
    let record = |action: &'static str, outcome, reason: Option<String>| {
        audit(
            &app,
            Who::signing_in(&l.username),
            Some(peer.ip().to_string()),
            action.to_string(),
            None,
            outcome,
            reason,
        )
    };
    if let Err(locked) = app.throttle.check(&l.username, addr, Instant::now()) {
        tracing::warn!(user = %l.username, %peer, scope = ?locked.scope, "sign-in refused: locked");
        record(
            "auth.locked",
            AuditOutcome::Denied,
            Some(locked.to_string()),
        )
        .await;
        let msg = format!("{locked} / {}", locked.message(Lang::Zh));
        let mut r = ApiError::new(StatusCode::TOO_MANY_REQUESTS, msg)
            .code(super::ErrorCode::LoginLocked)
            .param("retry_after_secs", locked.retry_after_secs)
            .into_response();
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(locked.retry_after_secs),
        );
        return Ok(r);
    }
    let (state, name) = (app.state.clone(), l.username.clone());
    let account = blocking(move || Ok(state.password_hash(&name)?)).await?;
    let (phc, disabled) = match account {
        Some((h, d)) => (Some(h), d),
        None => (None, false),
    };
    let ok = app.hasher.verify(l.password, phc).await? && !disabled;
    if !ok {
        app.throttle.failed(&l.username, addr, Instant::now());
        tracing::info!(user = %l.username, %peer, "sign-in failed");
        record("auth.login_failed", AuditOutcome::Failed, None).await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong username or password / 用户名或密码错误",
        )
        .code(super::ErrorCode::WrongCredentials));
    }
    app.throttle.succeeded(&l.username);
    // Signed in: the record names the account's roles and organisation.
    let (state, name) = (app.state.clone(), l.username.clone());
    let known = blocking(move || Ok(state.user(&name)?)).await?;
    let who = match known {
        Some(u) => Who {
            name: u.username,
            roles: u.roles,
            org: u.org,
        },
        None => Who::signing_in(&l.username),
    };
    audit(
        &app,
        who,
        Some(peer.ip().to_string()),
        "auth.login".into(),
        None,
        AuditOutcome::Success,
        None,
    )
    .await;
    blocking(move || {
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
        let user = app.state.user(&c.username)?;
        let password_expired = user.as_ref().is_some_and(|u| {
            u.must_change_password || super::password_expired(&app, u.password_changed.as_deref())
        });
        Ok(Json(Me {
            user,
            csrf: c.csrf,
            permissions: c.grants.iter().collect(),
            orgs: app.state.orgs(&c.scope)?,
            password_expired,
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
    let (state, name) = (app.state.clone(), c.username.clone());
    let (hash, _) = blocking(move || Ok(state.password_hash(&name)?))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "a token cannot change a password; sign in",
            )
        })?;
    if !app.hasher.verify(p.old, Some(hash)).await? {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the old password is wrong / 原密码错误",
        )
        .code(super::ErrorCode::WrongCredentials));
    }
    // Not one of the last few: each earlier hash is verified on the pool.
    let keep = app.config.auth.password.history;
    if keep > 0 {
        let (state, name) = (app.state.clone(), c.username.clone());
        let earlier = blocking(move || Ok(state.recent_password_hashes(&name, keep)?)).await?;
        for h in earlier {
            if app.hasher.verify(p.new.clone(), Some(h)).await? {
                return Err(taishi_auth::PolicyError::Reused(keep).into());
            }
        }
    }
    let h = new_password_hash(&app, &c.username, p.new).await?;
    blocking(move || {
        app.state
            .update_user(&c.username, None, Some(&h), None, None)?;
        app.token_cache.clear();
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
