//! The HTTP API under `/api/v1` (see API.md), `/metrics`, and HTTP ingest.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value as J};
use taishi_ingest::http::{Authenticate, Denied, HttpConfig};

use crate::auth::{self, Caller};
use crate::pipeline::Sink;
use crate::state::{AlertFilter, StateError};
use crate::App;

type S = Arc<App>;

/// An API error: status and a message that says what to do.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            StateError::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, m),
            StateError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            StateError::Db(e) => ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("state database: {e}"),
            ),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn forbidden() -> ApiError {
    ApiError(
        StatusCode::FORBIDDEN,
        "your role does not allow this; ask an admin".into(),
    )
}

type R<T> = Result<T, ApiError>;

/// Checks a page request against `api.max_result_window`: each page costs
/// reading and skipping everything before it, so a deep `offset` (or a huge
/// `limit`) is refused with a 400 rather than run. Returns the limit,
/// clamped to `max_limit`, and the offset.
pub fn page(
    app: &App,
    limit: Option<usize>,
    offset: Option<usize>,
    default_limit: usize,
    max_limit: usize,
) -> R<(usize, usize)> {
    let window = app.config.api.max_result_window;
    let limit = limit.unwrap_or(default_limit);
    let offset = offset.unwrap_or(0);
    if offset.saturating_add(limit.min(max_limit)) > window {
        return Err(bad(format!(
            "offset + limit may not pass {window} (offset {offset}, limit {limit}): narrow the filter or time range instead of paging this deep (api.max_result_window)"
        )));
    }
    Ok((limit.clamp(1, max_limit), offset))
}

/// Runs blocking work (SQLite, the store, rule compilation) off the runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> R<T> + Send + 'static) -> R<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

// ---- authentication ----------------------------------------------------

/// Resolves the caller from a bearer/basic token or a session cookie.
fn identify(app: &App, headers: &HeaderMap) -> Option<Caller> {
    if let Some(t) = auth::bearer(headers) {
        return app
            .state
            .token(&auth::digest(&t))
            .ok()
            .flatten()
            .map(|(_, owner, role)| Caller {
                username: owner,
                role,
                csrf: None,
            });
    }
    let sid = auth::cookie(headers, auth::COOKIE)?;
    let s = app.state.session(&auth::digest(&sid)).ok().flatten()?;
    Some(Caller {
        username: s.username,
        role: s.role,
        csrf: Some(s.csrf),
    })
}

async fn require_auth(State(app): State<S>, mut req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let method = req.method().clone();
    let app2 = app.clone();
    let found = tokio::task::spawn_blocking(move || {
        let caller = identify(&app2, &headers)?;
        if let Some(csrf) = &caller.csrf {
            let sent = headers.get(auth::CSRF_HEADER).and_then(|v| v.to_str().ok());
            let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
            if !safe && sent != Some(csrf.as_str()) {
                return Some(Err(()));
            }
        }
        Some(Ok(caller))
    })
    .await
    .ok()
    .flatten();
    match found {
        Some(Ok(c)) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Some(Err(())) => ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "missing or wrong {} header (send the csrf value login returned)",
                auth::CSRF_HEADER
            ),
        )
        .into_response(),
        None => {
            let mut r = ApiError(
                StatusCode::UNAUTHORIZED,
                "sign in (POST /api/v1/auth/login) or send `Authorization: Bearer <token>`".into(),
            )
            .into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"taishi\""),
            );
            r
        }
    }
}

/// HTTP ingest accepts API tokens of admins and analysts (and basic auth
/// with the token as password, as Beats send it), never a session cookie.
///
/// A browser attaches the cookie to any cross-site POST, and a `text/plain`
/// form or `fetch` needs no preflight, so a page the user visits could
/// store events in their name. Shippers never use cookies and the console
/// never ingests, so refusing them (rather than asking for the CSRF header
/// the rest of the API takes) removes the whole class with nothing lost.
struct IngestAuth(S);

impl Authenticate for IngestAuth {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<String>, Denied> {
        if auth::bearer(headers).is_none() && auth::cookie(headers, auth::COOKIE).is_some() {
            return Err(Denied::Forbidden(
                "HTTP ingest does not accept a console session; send `Authorization: Bearer <token>` (create one with POST /api/v1/tokens)".into(),
            ));
        }
        match identify(&self.0, headers) {
            Some(c) if c.can_write() => Ok(Some(c.username)),
            Some(_) => Err(Denied::Forbidden(
                "a viewer may not ingest; use a token of an analyst or admin".into(),
            )),
            None => Err(Denied::Unauthenticated(
                "send `Authorization: Bearer <token>` (create one with POST /api/v1/tokens)".into(),
            )),
        }
    }
}

/// A request body that sends nothing for `http.body_timeout_secs` fails
/// (the extractor answers 400 with this reason) instead of holding its
/// connection and its handler for as long as the sender likes.
async fn body_stall_timeout(State(app): State<S>, req: Request, next: Next) -> Response {
    use futures_util::StreamExt;
    let secs = app.config.http.body_timeout_secs.max(1);
    let (parts, body) = req.into_parts();
    let data = body.into_data_stream();
    let timed = futures_util::stream::unfold(Some(data), move |data| async move {
        let mut data = data?;
        match tokio::time::timeout(Duration::from_secs(secs), data.next()).await {
            Ok(Some(item)) => Some((item, Some(data))),
            Ok(None) => None,
            Err(_) => Some((Err(axum::Error::new(BodyStalled(secs))), None)),
        }
    });
    next.run(Request::from_parts(
        parts,
        axum::body::Body::from_stream(timed),
    ))
    .await
}

#[derive(Debug, thiserror::Error)]
#[error("request body sent nothing for {0} s (http.body_timeout_secs); send it in one go")]
struct BodyStalled(u64);

/// The service's routes, and the metrics of its HTTP listener (the accept
/// loop counts its connections there).
pub fn router(app: S, sink: Arc<Sink>) -> (Router, Arc<taishi_ingest::ListenerMetrics>) {
    let h = &app.config.http;
    let mut hc = HttpConfig::new("http");
    hc.max_body = h.max_body_mib << 20;
    hc.max_in_flight = h.ingest_in_flight;
    hc.max_document = h.max_document_mib << 20;
    hc.body_timeout = Duration::from_secs(h.body_timeout_secs.max(1));
    hc.budget = app.budget.clone();
    hc.bulk_ids = Some(app.bulk_ids.clone());
    hc.auth = Some(Arc::new(IngestAuth(app.clone())));
    let (ingest, metrics) = taishi_ingest::http::router(hc, sink);
    app.registry.register(metrics.clone());

    let api = Router::new()
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/auth/password", post(change_password))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{username}", patch(update_user).delete(delete_user))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}", delete(delete_token))
        .route("/search", post(search))
        .route("/fields", get(fields))
        .route("/alerts", get(list_alerts))
        .route("/alerts/groups", get(alert_groups))
        .route("/alerts/{id}", get(get_alert))
        .route("/alerts/{id}/related", get(alert_related))
        .route("/alerts/{id}/ack", post(ack_alert))
        .route("/alerts/{id}/assign", post(assign_alert))
        .route("/alerts/{id}/close", post(close_alert))
        .route("/alerts/{id}/reopen", post(reopen_alert))
        .route("/alerts/{id}/comments", post(comment_alert))
        .route("/rules", get(list_rules).post(upload_rules))
        .route("/rules/validate", post(validate_rule))
        .route("/rules/reload", post(reload_rules))
        .route("/rules/{id}", get(get_rule).delete(delete_rule))
        .route("/rules/{id}/enable", post(enable_rule))
        .route("/rules/{id}/disable", post(disable_rule))
        .route("/overview", get(crate::overview::overview))
        .route("/stream", get(stream))
        .route("/health", get(health))
        .route("/settings/outputs", get(get_outputs).put(put_outputs))
        .route("/intel", get(intel_status))
        .route("/intel/indicators", get(intel_indicators))
        .route("/intel/import", post(intel_import))
        .route("/intel/feeds", get(intel_feeds).post(intel_add_feed))
        .route("/intel/feeds/{name}", delete(intel_delete_feed))
        .route("/intel/feeds/{name}/pull", post(intel_pull_feed))
        .route("/intel/hits", get(intel_hits))
        .route("/intel/hits/top", get(intel_hits_top))
        .route("/settings/outputs/{name}/test", post(test_output))
        .route_layer(middleware::from_fn_with_state(app.clone(), require_auth))
        .route("/auth/login", post(login))
        .route("/openapi.json", get(openapi))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            body_stall_timeout,
        ))
        .with_state(app.clone())
        .merge(ingest);

    let r = Router::new()
        .route(
            "/metrics",
            get(metrics_text)
                .route_layer(middleware::from_fn_with_state(app.clone(), require_auth)),
        )
        .with_state(app)
        .nest("/api/v1", api)
        .fallback_service(taishi_console::router());
    (r, metrics)
}

// ---- auth handlers -----------------------------------------------------

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
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
        let mut r = Json(json!({ "user": user, "csrf": csrf })).into_response();
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
        app.state.delete_session(&auth::digest(&sid))?;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("taishi_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(r)
}

async fn me(State(app): State<S>, Extension(c): Extension<Caller>) -> R<Json<J>> {
    let u = app.state.user(&c.username)?;
    let mut v = json!(u);
    // A reloaded console tab gets its CSRF value back from its cookie.
    if let Some(csrf) = c.csrf {
        v["csrf"] = J::String(csrf);
    }
    Ok(Json(v))
}

#[derive(Deserialize)]
struct PasswordChange {
    old: String,
    new: String,
}

async fn change_password(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(p): Json<PasswordChange>,
) -> R<StatusCode> {
    blocking(move || {
        let (hash, _) = app
            .state
            .password_hash(&c.username)?
            .ok_or_else(forbidden)?;
        if !auth::verify_password(&p.old, &hash) {
            return Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "the old password is wrong".into(),
            ));
        }
        let h = auth::hash_password(&p.new).map_err(bad)?;
        app.state.update_user(&c.username, None, Some(&h), None)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

async fn list_users(State(app): State<S>, Extension(c): Extension<Caller>) -> R<Json<J>> {
    if !c.is_admin() {
        return Err(forbidden());
    }
    Ok(Json(json!({ "items": app.state.users()? })))
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    role: String,
}

async fn create_user(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(u): Json<NewUser>,
) -> R<Json<J>> {
    if !c.is_admin() {
        return Err(forbidden());
    }
    blocking(move || {
        let h = auth::hash_password(&u.password).map_err(bad)?;
        Ok(Json(json!(app.state.create_user(
            &u.username,
            &u.role,
            &h
        )?)))
    })
    .await
}

#[derive(Deserialize)]
struct UserPatch {
    role: Option<String>,
    password: Option<String>,
    disabled: Option<bool>,
}

async fn update_user(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(username): Path<String>,
    Json(p): Json<UserPatch>,
) -> R<Json<J>> {
    if !c.is_admin() {
        return Err(forbidden());
    }
    blocking(move || {
        let h = p
            .password
            .as_deref()
            .map(auth::hash_password)
            .transpose()
            .map_err(bad)?;
        Ok(Json(json!(app.state.update_user(
            &username,
            p.role.as_deref(),
            h.as_deref(),
            p.disabled
        )?)))
    })
    .await
}

async fn delete_user(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(username): Path<String>,
) -> R<StatusCode> {
    if !c.is_admin() {
        return Err(forbidden());
    }
    if username == c.username {
        return Err(bad("you cannot delete yourself"));
    }
    app.state.delete_user(&username)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_tokens(State(app): State<S>, Extension(c): Extension<Caller>) -> R<Json<J>> {
    let owner = (!c.is_admin()).then_some(c.username.as_str());
    Ok(Json(json!({ "items": app.state.tokens(owner)? })))
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    role: Option<String>,
}

async fn create_token(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(t): Json<NewToken>,
) -> R<Json<J>> {
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
    let secret = format!("tsk_{}", auth::random_hex(24));
    let id = auth::random_hex(8);
    let tok = app
        .state
        .create_token(&id, &t.name, &role, &c.username, &auth::digest(&secret))?;
    let mut v = json!(tok);
    v["secret"] = J::String(secret);
    Ok(Json(v))
}

async fn delete_token(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<StatusCode> {
    let owner = (!c.is_admin()).then_some(c.username.as_str());
    app.state.delete_token(&id, owner)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- search and events ---------------------------------------------------

#[derive(Deserialize)]
pub struct SearchBody {
    pub query: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

async fn search(State(app): State<S>, Json(b): Json<SearchBody>) -> R<Json<J>> {
    let searches = app.searches.clone();
    searches
        .run(move |budget| crate::overview::run_search(&app, &b, budget).map(Json))
        .await
}

#[derive(Deserialize)]
struct FieldsQuery {
    query: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn fields(State(app): State<S>, Query(q): Query<FieldsQuery>) -> R<Json<J>> {
    let searches = app.searches.clone();
    searches
        .run(move |budget| {
            crate::overview::fields(
                &app,
                q.query.as_deref().unwrap_or(""),
                q.from.as_deref(),
                q.to.as_deref(),
                budget,
            )
            .map(Json)
        })
        .await
}

#[derive(Deserialize)]
struct RelatedQuery {
    before: Option<usize>,
    after: Option<usize>,
}

async fn alert_related(
    State(app): State<S>,
    Path(id): Path<String>,
    Query(q): Query<RelatedQuery>,
) -> R<Json<J>> {
    let searches = app.searches.clone();
    searches
        .run(move |budget| {
            crate::overview::related(
                &app,
                &id,
                q.before.unwrap_or(10).min(200),
                q.after.unwrap_or(10).min(200),
                budget,
            )
            .map(Json)
        })
        .await
}

// ---- alerts ----------------------------------------------------------------

#[derive(Deserialize)]
struct AlertQuery {
    status: Option<String>,
    level: Option<String>,
    rule_id: Option<String>,
    host: Option<String>,
    source_ip: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
}

impl AlertQuery {
    fn filter(&self, app: &App) -> R<AlertFilter> {
        let (limit, offset) = page(app, self.limit, self.offset, 50, 1000)?;
        Ok(AlertFilter {
            status: self.status.clone(),
            level: self.level.clone(),
            rule_id: self.rule_id.clone(),
            host: self.host.clone(),
            source_ip: self.source_ip.clone(),
            q: self.q.clone(),
            sort: self.sort.clone(),
            limit: Some(limit),
            offset: Some(offset),
            from_us: time_arg("from", self.from.as_deref())?,
            to_us: time_arg("to", self.to.as_deref())?,
        })
    }
}

fn time_arg(param: &str, s: Option<&str>) -> R<Option<i64>> {
    s.filter(|s| !s.is_empty())
        .map(|s| crate::overview::parse_time(param, s).map(|t| t.timestamp_micros()))
        .transpose()
}

async fn list_alerts(State(app): State<S>, Query(q): Query<AlertQuery>) -> R<Json<J>> {
    blocking(move || {
        let f = q.filter(&app)?;
        let (total, items) = app.state.alerts(&f)?;
        Ok(Json(json!({ "total": total, "items": items })))
    })
    .await
}

async fn alert_groups(State(app): State<S>, Query(q): Query<AlertQuery>) -> R<Json<J>> {
    blocking(move || {
        let f = q.filter(&app)?;
        let items = app
            .state
            .alert_groups(q.by.as_deref().unwrap_or("rule"), &f)?;
        Ok(Json(json!({ "items": items })))
    })
    .await
}

async fn get_alert(State(app): State<S>, Path(id): Path<String>) -> R<Json<J>> {
    blocking(move || {
        let a = app.state.alert(&id)?;
        let comments = app.state.comments(&id)?;
        let rule = app.rules.infos().into_iter().find(|r| r.id == a.rule_id);
        let yaml = rule
            .as_ref()
            .and_then(|r| std::fs::read_to_string(&r.path).ok());
        let mut v = json!(a);
        v["comments"] = json!(comments);
        v["rule"] = match rule {
            Some(r) => json!({
                "id": r.id, "title": r.title, "description": r.description, "level": r.level,
                "tags": r.tags, "yaml": yaml, "enabled": r.enabled,
            }),
            None => J::Null,
        };
        Ok(Json(v))
    })
    .await
}

fn need_write(c: &Caller) -> R<()> {
    if c.can_write() {
        Ok(())
    } else {
        Err(forbidden())
    }
}

async fn ack_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<J>> {
    need_write(&c)?;
    blocking(move || {
        let cur = app.state.alert(&id)?;
        // Acknowledging an unassigned alert takes it.
        let assign = cur.assignee.is_none().then_some(Some(c.username.as_str()));
        Ok(Json(json!(app.state.update_alert(
            &id,
            Some("acknowledged"),
            None,
            assign
        )?)))
    })
    .await
}

#[derive(Deserialize)]
struct Assign {
    assignee: Option<String>,
}

async fn assign_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(a): Json<Assign>,
) -> R<Json<J>> {
    need_write(&c)?;
    blocking(move || {
        if let Some(u) = &a.assignee {
            if app.state.user(u)?.is_none() {
                return Err(bad(format!("assignee: no user `{u}`")));
            }
        }
        Ok(Json(json!(app.state.update_alert(
            &id,
            None,
            None,
            Some(a.assignee.as_deref())
        )?)))
    })
    .await
}

#[derive(Deserialize)]
struct Close {
    resolution: String,
    comment: Option<String>,
}

async fn close_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(b): Json<Close>,
) -> R<Json<J>> {
    need_write(&c)?;
    if !matches!(b.resolution.as_str(), "true_positive" | "false_positive") {
        return Err(bad("resolution: true_positive or false_positive"));
    }
    blocking(move || {
        if let Some(t) = b.comment.as_deref().filter(|t| !t.trim().is_empty()) {
            app.state.add_comment(&id, &c.username, t)?;
        }
        Ok(Json(json!(app.state.update_alert(
            &id,
            Some("closed"),
            Some(Some(&b.resolution)),
            None
        )?)))
    })
    .await
}

async fn reopen_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<J>> {
    need_write(&c)?;
    blocking(move || {
        Ok(Json(json!(app.state.update_alert(
            &id,
            Some("new"),
            Some(None),
            None
        )?)))
    })
    .await
}

#[derive(Deserialize)]
struct NewComment {
    text: String,
}

async fn comment_alert(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(b): Json<NewComment>,
) -> R<Json<J>> {
    need_write(&c)?;
    if b.text.trim().is_empty() {
        return Err(bad("text: empty comment"));
    }
    blocking(move || {
        Ok(Json(json!(app.state.add_comment(
            &id,
            &c.username,
            &b.text
        )?)))
    })
    .await
}

// ---- rules -------------------------------------------------------------------

#[derive(Deserialize)]
struct RuleQuery {
    q: Option<String>,
    level: Option<String>,
    enabled: Option<bool>,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn list_rules(State(app): State<S>, Query(q): Query<RuleQuery>) -> R<Json<J>> {
    blocking(move || {
        let needle = q.q.as_deref().unwrap_or("").to_lowercase();
        let min = q
            .level
            .as_deref()
            .map(crate::state::level_rank)
            .unwrap_or(0);
        let mut items: Vec<_> = app
            .rules
            .infos()
            .into_iter()
            .filter(|r| {
                (needle.is_empty()
                    || r.title.to_lowercase().contains(&needle)
                    || r.id.to_lowercase().contains(&needle)
                    || r.tags.iter().any(|t| t.to_lowercase().contains(&needle)))
                    && crate::state::level_rank(&r.level) >= min
                    && q.enabled.is_none_or(|e| r.enabled == e)
            })
            .collect();
        items.sort_by(|a, b| {
            b.health
                .hits
                .cmp(&a.health.hits)
                .then_with(|| a.title.cmp(&b.title))
        });
        let (limit, offset) = page(&app, q.limit, q.offset, 50, 1000)?;
        let total = items.len();
        let items: Vec<_> = items.into_iter().skip(offset).take(limit).collect();
        Ok(Json(json!({ "total": total, "items": items })))
    })
    .await
}

async fn get_rule(State(app): State<S>, Path(id): Path<String>) -> R<Json<J>> {
    blocking(move || {
        let r = app
            .rules
            .infos()
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no rule `{id}`")))?;
        let yaml = std::fs::read_to_string(&r.path).ok();
        let mut v = json!(r);
        v["yaml"] = json!(yaml);
        Ok(Json(v))
    })
    .await
}

fn disabled_set(app: &App) -> R<HashSet<String>> {
    Ok(app
        .state
        .rule_switches()?
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(id, _)| id)
        .collect())
}

fn reload(app: &App) -> R<J> {
    let d = app.rules.reload(&disabled_set(app)?)?;
    Ok(json!({
        "loaded": d.infos.len(),
        "compiled": d.engine.active_rules(),
        "rejected": d.rejected.iter().map(|(p, r)| json!({"name": p, "reason": r})).collect::<Vec<_>>(),
    }))
}

async fn switch_rule(app: S, c: Caller, id: String, on: bool) -> R<Json<J>> {
    need_write(&c)?;
    blocking(move || {
        if !app.rules.infos().iter().any(|r| r.id == id) {
            return Err(ApiError(StatusCode::NOT_FOUND, format!("no rule `{id}`")));
        }
        app.state.set_rule_enabled(&id, on)?;
        reload(&app)?;
        let r = app.rules.infos().into_iter().find(|r| r.id == id);
        Ok(Json(json!(r)))
    })
    .await
}

async fn enable_rule(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<J>> {
    switch_rule(app, c, id, true).await
}

async fn disable_rule(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<Json<J>> {
    switch_rule(app, c, id, false).await
}

async fn reload_rules(State(app): State<S>, Extension(c): Extension<Caller>) -> R<Json<J>> {
    need_write(&c)?;
    blocking(move || reload(&app).map(Json)).await
}

fn validate_text(text: &str, limits: taishi_sigma::LoadLimits) -> J {
    let mut set = taishi_sigma::RuleSet {
        limits,
        ..Default::default()
    };
    let path = "<upload>";
    set.add_yaml(text, path);
    // Where and what, as fields: the editor marks the place from them.
    let error = |document: usize, at: Option<(usize, usize)>, kind: &str, message: String| json!({"path": path, "document": document, "line": at.map(|a| a.0), "column": at.map(|a| a.1), "kind": kind, "message": message});
    let mut errors: Vec<J> = set
        .rejected
        .iter()
        .map(|r| {
            let at = r.line.zip(r.column);
            error(r.document, at, r.kind.as_str(), r.reason.clone())
        })
        .collect();
    for c in &set.correlations {
        if let Err(e) = taishi_correlation::parse_correlation(&c.doc) {
            let at = taishi_sigma::load::locate(text, c.document, &["correlation".into()]);
            errors.push(error(c.document, at, "correlation", e.to_string()));
        }
    }
    if set.rules.is_empty() && set.correlations.is_empty() && errors.is_empty() {
        errors.push(error(1, None, "rule", "no rule in the text".into()));
    }
    let first = set
        .rules
        .first()
        .map(|r| json!({"id": r.meta.id, "title": r.meta.title}));
    json!({"ok": errors.is_empty(), "errors": errors, "rule": first, "rules": set.rules.len() + set.correlations.len()})
}

async fn validate_rule(State(app): State<S>, body: Bytes) -> R<Json<J>> {
    let limits = app.config.detection.load_limits();
    if body.len() > limits.max_file_bytes {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the rule is {} bytes, more than the limit of {} (`[detection] max_rule_file_bytes` in the server config); split it into several files",
                body.len(),
                limits.max_file_bytes
            ),
        ));
    }
    // Parsing a rule is CPU work (YAML, conditions, modifiers): off the
    // async workers, like every other handler that computes.
    blocking(move || {
        let text = std::str::from_utf8(&body).map_err(|_| bad("the rule must be UTF-8 text"))?;
        Ok(Json(validate_text(text, limits)))
    })
    .await
}

#[derive(Deserialize)]
struct UploadFiles {
    files: Vec<UploadFile>,
}

#[derive(Deserialize)]
struct UploadFile {
    name: String,
    content: String,
}

fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !(s.ends_with(".yml") || s.ends_with(".yaml")) {
        s.push_str(".yml");
    }
    s.trim_start_matches('.').to_string()
}

async fn upload_rules(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> R<Json<J>> {
    need_write(&c)?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let files: Vec<UploadFile> = if is_json {
        serde_json::from_slice::<UploadFiles>(&body)
            .map_err(|e| bad(format!("body: {e}")))?
            .files
    } else {
        let text =
            String::from_utf8(body.to_vec()).map_err(|_| bad("the rule must be UTF-8 text"))?;
        vec![UploadFile {
            name: format!("upload-{}.yml", auth::random_hex(6)),
            content: text,
        }]
    };
    blocking(move || {
        let mut loaded = Vec::new();
        let mut rejected = Vec::new();
        for f in files {
            let v = validate_text(&f.content, app.config.detection.load_limits());
            if v["ok"] != J::Bool(true) {
                rejected.push(json!({"name": f.name, "reason": v["errors"]}));
                continue;
            }
            let path = app.rules.uploaded_dir().join(safe_name(&f.name));
            std::fs::write(&path, &f.content)
                .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            loaded.push(f.name);
        }
        if !loaded.is_empty() {
            reload(&app)?;
        }
        Ok(Json(json!({"loaded": loaded, "rejected": rejected})))
    })
    .await
}

async fn delete_rule(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> R<StatusCode> {
    need_write(&c)?;
    blocking(move || {
        let info = app
            .rules
            .infos()
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no rule `{id}`")))?;
        if info.origin != "uploaded" {
            return Err(bad(
                "only uploaded rules can be deleted; disable a configured rule instead",
            ));
        }
        std::fs::remove_file(&info.path)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        reload(&app)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

// ---- health, metrics, stream ----------------------------------------------------

pub fn health_json(app: &App) -> J {
    let st = app.store.stats();
    let d = app.rules.current();
    let disabled = d.infos.iter().filter(|i| !i.enabled).count();
    let degraded = st.last_background_error.is_some();
    json!({
        "status": if degraded { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": app.started.elapsed().as_secs(),
        "store": {
            "events": st.events, "bytes": st.index_bytes, "partitions": st.partitions.len(),
            "wal_bytes": st.wal_bytes, "bytes_per_event": st.bytes_per_event,
            "last_seq": st.last_seq, "durable_seq": st.durable_seq, "checkpoint_seq": st.checkpoint_seq,
            "outside_events": st.outside_events, "unrepresentable_events": st.unrepresentable_events,
            "open_writers": st.open_writers,
            "error": st.last_background_error,
        },
        "listeners": crate::overview::listeners(app),
        "rules": {"loaded": d.infos.len(), "compiled": d.engine.active_rules(), "rejected": d.rejected.len(), "disabled": disabled},
        "alerts_outputs": app.outputs.list()["items"],
        "pipeline": {
            "events": app.pipeline.events_in.load(Ordering::Relaxed),
            "alerts": app.pipeline.alerts_raised.load(Ordering::Relaxed),
            "rejects": app.pipeline.rejects.count.load(Ordering::Relaxed),
            "rejects_dropped": app.pipeline.rejects.dropped.load(Ordering::Relaxed),
        },
    })
}

async fn health(State(app): State<S>) -> R<Json<J>> {
    blocking(move || Ok(Json(health_json(&app)))).await
}

async fn metrics_text(State(app): State<S>) -> Response {
    let mut out = app.registry.render_prometheus();
    out.push_str(&app.outputs.prometheus());
    out.push_str(&app.searches.prometheus());
    let st = app.store.stats();
    let p = &app.pipeline;
    let d = app.rules.current();
    for (name, kind, help, v) in [
        (
            "taishi_pipeline_events_total",
            "counter",
            "Events stored by the pipeline.",
            p.events_in.load(Ordering::Relaxed) as f64,
        ),
        (
            "taishi_pipeline_alerts_total",
            "counter",
            "Alerts raised.",
            p.alerts_raised.load(Ordering::Relaxed) as f64,
        ),
        (
            "taishi_pipeline_rejects_total",
            "counter",
            "Malformed records kept aside.",
            p.rejects.count.load(Ordering::Relaxed) as f64,
        ),
        (
            "taishi_pipeline_rejects_dropped_total",
            "counter",
            "Rejects counted but not kept: the reject folder was full (rejects.max_mib).",
            p.rejects.dropped.load(Ordering::Relaxed) as f64,
        ),
        (
            "taishi_pipeline_rejects_expired_files_total",
            "counter",
            "Reject day files deleted by age (rejects.retention_days) or size (rejects.max_mib).",
            p.rejects.expired.load(Ordering::Relaxed) as f64,
        ),
        (
            "taishi_store_events",
            "gauge",
            "Events in the store.",
            st.events as f64,
        ),
        (
            "taishi_store_bytes",
            "gauge",
            "Bytes of index on disk.",
            st.index_bytes as f64,
        ),
        (
            "taishi_store_wal_bytes",
            "gauge",
            "Bytes of write-ahead log.",
            st.wal_bytes as f64,
        ),
        (
            "taishi_store_outside_events_total",
            "counter",
            "Events dated outside the day window (store.past_days, store.future_days), kept with their receipt day.",
            st.outside_events as f64,
        ),
        (
            "taishi_store_unrepresentable_events_total",
            "counter",
            "Events dated before 1677 or after 2262, indexed under their receipt time.",
            st.unrepresentable_events as f64,
        ),
        (
            "taishi_store_open_writers",
            "gauge",
            "Index writers open (store.max_open_writers).",
            st.open_writers as f64,
        ),
        (
            "taishi_rules_compiled",
            "gauge",
            "Rules running.",
            d.engine.active_rules() as f64,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn stream(
    State(app): State<S>,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = app.pipeline.live.subscribe();
    let state = (app, rx, 0u64, std::time::Instant::now());
    let s = futures_util::stream::unfold(state, |(app, mut rx, last_events, last_t)| async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut new_alerts = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(a) if new_alerts.len() < 50 => new_alerts.push(a),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        let events = app.pipeline.events_in.load(Ordering::Relaxed);
        let dt = last_t.elapsed().as_secs_f64().max(0.001);
        let rate = if last_events == 0 {
            0.0
        } else {
            (events - last_events) as f64 / dt
        };
        let app2 = app.clone();
        let level = tokio::task::spawn_blocking(move || crate::overview::threat(&app2))
            .await
            .unwrap_or((0.0, "low", 0));
        let data = json!({
            "events_per_s": rate,
            "alerts_open": level.2,
            "threat_level": level.1,
            "threat_score": level.0,
            "new_alerts": new_alerts,
        });
        let ev = SseEvent::default().event("tick").data(data.to_string());
        Some((Ok(ev), (app, rx, events, std::time::Instant::now())))
    });
    Sse::new(s).keep_alive(KeepAlive::default())
}

async fn get_outputs(State(app): State<S>) -> Json<J> {
    Json(app.outputs.list())
}

#[derive(Deserialize)]
struct OutputsBody {
    items: Vec<J>,
}

async fn put_outputs(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Json(b): Json<OutputsBody>,
) -> R<Json<J>> {
    if !c.is_admin() {
        return Err(forbidden());
    }
    let mut outs = Vec::new();
    for (i, mut v) in b.items.into_iter().enumerate() {
        // What `list` adds for display is not configuration.
        if let J::Object(m) = &mut v {
            m.remove("metrics");
        }
        outs.push(
            serde_json::from_value::<taishi_alert::OutputConfig>(v)
                .map_err(|e| bad(format!("items[{i}]: {e}")))?,
        );
    }
    app.outputs
        .replace(&app.state, outs)
        .await
        .map(Json)
        .map_err(|p| bad(p.join("; ")))
}

async fn test_output(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> R<Json<J>> {
    need_write(&c)?;
    match app.outputs.test(&name).await {
        Ok(()) => Ok(Json(json!({"ok": true}))),
        Err(e) => Ok(Json(json!({"ok": false, "error": e}))),
    }
}

async fn intel_status(State(app): State<S>) -> R<Json<J>> {
    blocking(move || Ok(Json(app.intel.sources()))).await
}

#[derive(Deserialize)]
struct IntelQuery {
    q: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    source: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Indicator search, each with its hits and last hit.
async fn intel_indicators(State(app): State<S>, Query(q): Query<IntelQuery>) -> R<Json<J>> {
    blocking(move || {
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let (limit, offset) = page(&app, q.limit, q.offset, 50, 1000)?;
        let query = crate::intel::IndicatorQuery {
            q: q.q.unwrap_or_default(),
            kind: nonempty(q.kind),
            source: nonempty(q.source),
            limit,
            offset,
        };
        let (total, items) = app.intel.search(&query)?;
        let values: Vec<&str> = items.iter().map(|i| i.value.as_str()).collect();
        let hits = app.state.intel_hit_counts(&values)?;
        let items: Vec<J> = items
            .iter()
            .map(|i| {
                let mut v = serde_json::to_value(i).unwrap_or(J::Null);
                let (n, last) = hits.get(&i.value).cloned().unwrap_or((0, None));
                if let J::Object(m) = &mut v {
                    m.insert("hits".into(), J::from(n));
                    m.insert("last_hit".into(), last.map(J::String).unwrap_or(J::Null));
                }
                v
            })
            .collect();
        Ok(Json(json!({"total": total, "items": items})))
    })
    .await
}

async fn intel_feeds(State(app): State<S>) -> R<Json<J>> {
    blocking(move || Ok(Json(json!({"items": app.intel.feed_status()?})))).await
}

async fn intel_add_feed(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    body: Bytes,
) -> R<(StatusCode, Json<J>)> {
    if !c.is_admin() {
        return Err(forbidden());
    }
    let feed: taishi_intel::Feed = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "feed: {e} (send {{\"name\", \"kind\": \"url|misp-feed|taxii|misp-rest\", \"url\", \"interval_secs\"}})"
        ))
    })?;
    // What a pull records is not the caller's to set.
    let feed = taishi_intel::Feed {
        last_pull: None,
        cursor: None,
        last_error: None,
        ..feed
    };
    blocking(move || {
        app.intel
            .add_feed(feed)
            .map(|v| (StatusCode::CREATED, Json(v)))
            .map_err(|(code, msg)| {
                ApiError(
                    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
                    msg,
                )
            })
    })
    .await
}

fn feed_error(e: crate::intel::FeedError) -> ApiError {
    use crate::intel::FeedError;
    let code = match &e {
        FeedError::NotFound(_) => StatusCode::NOT_FOUND,
        FeedError::Pull(_) => StatusCode::BAD_GATEWAY,
        FeedError::Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError(code, e.to_string())
}

async fn intel_delete_feed(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> R<StatusCode> {
    if !c.is_admin() {
        return Err(forbidden());
    }
    blocking(move || {
        app.intel.remove_feed(&name).map_err(feed_error)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Pulls a feed now; its new indicators are then retro-hunted in the
/// background, as after an import.
async fn intel_pull_feed(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> R<Json<J>> {
    need_write(&c)?;
    blocking(move || {
        let report = app.intel.pull_feed(&name).map_err(feed_error)?;
        let out = json!({"report": report, "retro_hunt": {"indicators": report.new_indicators.len(), "window_days": app.intel.retro_window.num_days()}});
        crate::spawn_retro_hunt(&app, report);
        Ok(Json(out))
    })
    .await
}

#[derive(Deserialize)]
struct HitsQuery {
    indicator: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn intel_hits(State(app): State<S>, Query(q): Query<HitsQuery>) -> R<Json<J>> {
    let indicator = q
        .indicator
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("indicator: give the indicator value, e.g. ?indicator=1.2.3.4"))?;
    blocking(move || {
        let (limit, offset) = page(&app, q.limit, q.offset, 50, 1000)?;
        let (total, items) = app.state.intel_hits(&indicator, limit, offset)?;
        Ok(Json(json!({"total": total, "items": items})))
    })
    .await
}

async fn intel_hits_top(State(app): State<S>, Query(q): Query<HitsQuery>) -> R<Json<J>> {
    blocking(move || {
        Ok(Json(
            json!({"items": app.state.intel_top(q.limit.unwrap_or(10))?}),
        ))
    })
    .await
}

#[derive(Deserialize)]
struct ImportQuery {
    name: String,
    format: Option<String>,
}

/// Imports a feed file; a retro-hunt for the new indicators follows in the
/// background and raises retrospective alerts.
async fn intel_import(
    State(app): State<S>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> R<Json<J>> {
    need_write(&c)?;
    blocking(move || {
        let report = app
            .intel
            .import_bytes(&q.name, q.format.as_deref(), &body)
            .map_err(|e| {
                // Past a limit the upload itself is the problem: 413.
                let over = matches!(
                    e.downcast_ref::<taishi_intel::StoreError>(),
                    Some(taishi_intel::StoreError::Limit(_))
                );
                let code = if over {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                };
                ApiError(code, format!("{e:#}"))
            })?;
        let new = report.new_indicators.len();
        let out = json!({"report": report, "retro_hunt": {"indicators": new, "window_days": app.intel.retro_window.num_days()}});
        crate::spawn_retro_hunt(&app, report);
        Ok(Json(out))
    })
    .await
}

async fn openapi() -> Json<J> {
    Json(crate::openapi::document())
}

/// Parses `from`/`to` as RFC 3339 or `now-15m` style.
pub fn parse_range(
    from: Option<&str>,
    to: Option<&str>,
    default_from: &str,
) -> R<(DateTime<Utc>, DateTime<Utc>)> {
    let f = crate::overview::parse_time(
        "from",
        from.filter(|s| !s.is_empty()).unwrap_or(default_from),
    )?;
    let t = crate::overview::parse_time("to", to.filter(|s| !s.is_empty()).unwrap_or("now"))?;
    if f >= t {
        return Err(bad("from: must be before to"));
    }
    Ok((f, t))
}
