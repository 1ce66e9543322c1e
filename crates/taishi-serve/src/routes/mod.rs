//! The HTTP API under `/api/v1`, `/metrics` and HTTP ingest, driven by one
//! route table.
//!
//! Each resource module declares its routes ([`Route`]): method, path, the
//! permission the caller needs, the handler, a summary in English and
//! zh-CN, and the types of the query, the body and the answer. From that one
//! table come the axum router ([`router`]), the permission guard (one
//! middleware that checks the caller before any handler runs) and the
//! OpenAPI document ([`crate::openapi`]), so none of them can drift from
//! the others.

pub mod alerts;
pub mod attack;
pub mod audit;
pub mod auth;
pub mod data;
pub mod discovery;
pub mod exceptions;
pub mod incidents;
pub mod intel;
pub mod orgs;
pub mod overview;
pub mod process_tree;
pub mod risk;
pub mod risk_report;
pub mod rules;
pub mod saved;
pub mod search;
pub mod settings;
pub mod system;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::Value as J;
use taishi_ingest::http::{Authenticate, Denied, HttpConfig, Principal};

use crate::auth::{self as credentials, Caller, Permission};
use crate::state::StateError;
use crate::App;
use taishi_runtime::Sink;

pub(crate) type S = Arc<App>;

// ---- errors ---------------------------------------------------------------

/// What went wrong, as a stable machine word the console translates (and
/// scripts can branch on); `error` keeps the English detail. Codes are only
/// ever added, never renamed: the console's locale files hold one message
/// for each (a test checks every code has both languages).
#[derive(Serialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or a value is out of range.
    InvalidRequest,
    /// A search query does not parse.
    InvalidQuery,
    /// A time parameter (`from`, `to`) does not parse or is out of order.
    InvalidTime,
    /// `offset + limit` is past `api.max_result_window`.
    PageTooDeep,
    /// A search would read more than the store allows, or ran out of time.
    QueryTooCostly,
    /// A new password breaks the password policy.
    PasswordPolicy,
    /// The account signed in with a one-time or expired password.
    PasswordChangeRequired,
    /// No session and no token.
    Unauthenticated,
    /// Wrong username or password (or wrong old password).
    WrongCredentials,
    /// Too many failed sign-ins: locked for a while.
    LoginLocked,
    /// The caller's roles do not allow this.
    Forbidden,
    /// The organisation asked for is not in the caller's view.
    OrgNotVisible,
    /// A state-changing call without the CSRF header login gave.
    CsrfMissing,
    /// Nothing with that id (or not in the caller's view).
    NotFound,
    /// The name is taken, or the change conflicts with what exists.
    Conflict,
    /// The body is over a configured limit.
    TooLarge,
    /// Too many requests at once: try again shortly.
    RateLimited,
    /// The service is stopping or a part of it is not available.
    Unavailable,
    /// A server this one pulls from (an intel feed) failed.
    UpstreamFailed,
    /// The state database could not be read or written.
    StoreUnavailable,
    /// Anything else on the server's side.
    Internal,
}

impl ErrorCode {
    /// Every code, for the test that each has its messages.
    pub const ALL: [ErrorCode; 21] = [
        Self::InvalidRequest,
        Self::InvalidQuery,
        Self::InvalidTime,
        Self::PageTooDeep,
        Self::QueryTooCostly,
        Self::PasswordPolicy,
        Self::PasswordChangeRequired,
        Self::Unauthenticated,
        Self::WrongCredentials,
        Self::LoginLocked,
        Self::Forbidden,
        Self::OrgNotVisible,
        Self::CsrfMissing,
        Self::NotFound,
        Self::Conflict,
        Self::TooLarge,
        Self::RateLimited,
        Self::Unavailable,
        Self::UpstreamFailed,
        Self::StoreUnavailable,
        Self::Internal,
    ];

    /// The code an answer of this status has when nothing more precise is
    /// known.
    pub fn of_status(s: StatusCode) -> Self {
        match s {
            StatusCode::UNAUTHORIZED => Self::Unauthenticated,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => Self::TooLarge,
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited,
            StatusCode::BAD_GATEWAY => Self::UpstreamFailed,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            s if s.is_client_error() => Self::InvalidRequest,
            _ => Self::Internal,
        }
    }
}

/// An API error: status, code, a message that says what to do, and the
/// values the console's translation fills in (the field, the limit).
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub params: serde_json::Map<String, J>,
}

impl ApiError {
    /// An error whose code follows from its status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: ErrorCode::of_status(status),
            message: message.into(),
            params: serde_json::Map::new(),
        }
    }

    /// The same error with a more precise code.
    pub fn code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    /// The same error with one value for the console's message.
    pub fn param(mut self, name: &str, value: impl Into<J>) -> Self {
        self.params.insert(name.to_string(), value.into());
        self
    }
}

/// The body of every error answer.
#[derive(Serialize, JsonSchema)]
pub struct ErrorBody {
    /// What went wrong and what to do, in English (with detail).
    pub error: String,
    /// The same as a stable word; the console shows its own message for it.
    pub code: ErrorCode,
    /// Values the message names (e.g. `field`, `limit_mib`, `permission`).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    #[schemars(with = "Option<std::collections::BTreeMap<String, J>>")]
    pub params: serde_json::Map<String, J>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.code,
            params: self.params,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, m),
            StateError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
            StateError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            StateError::Db(e) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("state database: {e}"),
            )
            .code(ErrorCode::StoreUnavailable),
        }
    }
}

impl From<taishi_auth::PolicyError> for ApiError {
    fn from(e: taishi_auth::PolicyError) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{e} / {}", e.message(taishi_auth::Lang::Zh)),
        )
        .code(ErrorCode::PasswordPolicy)
    }
}

impl From<taishi_auth::HashError> for ApiError {
    fn from(e: taishi_auth::HashError) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<taishi_auth::Busy> for ApiError {
    fn from(e: taishi_auth::Busy) -> Self {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string())
    }
}

/// A new password's hash: the policy first, then the hashing pool.
pub(crate) async fn new_password_hash(app: &App, username: &str, pw: String) -> R<String> {
    app.config.auth.password.check(&pw, username)?;
    Ok(app.hasher.hash(pw).await??)
}

impl From<taishi_runtime::RuntimeError> for ApiError {
    fn from(e: taishi_runtime::RuntimeError) -> Self {
        ApiError::from(anyhow::Error::from(e))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, msg.into())
}

pub(crate) fn internal(msg: impl ToString) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg.to_string())
}

pub(crate) type R<T> = Result<T, ApiError>;

// ---- shared answer shapes ------------------------------------------------------

/// One page of a list and the number of matches.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Page_{T}")]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// A whole list.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Items_{T}")]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// A JSON object whose fields are another crate's (an indicator, a feed, an
/// output's configuration); the route's summary and API.md describe them.
#[derive(Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Object(pub J);

impl JsonSchema for Object {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Object".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({"type": "object", "additionalProperties": true})
    }
}

/// An event as stored: flat field names (ECS and the source's own) to values.
pub type Flat = serde_json::Map<String, J>;

// ---- helpers every resource uses ------------------------------------------------

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
        ))
        .code(ErrorCode::PageTooDeep)
        .param("limit", window));
    }
    Ok((limit.clamp(1, max_limit), offset))
}

/// Runs blocking work (SQLite, the store, rule compilation) off the runtime.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> R<T> + Send + 'static) -> R<T> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

/// The one parser of every time parameter of every route (`from`, `to`):
/// the query language's, so `now-7d/d`, `now/d`, ISO 8601 and its range
/// checks mean the same on every page as in a query. A malformed or
/// out-of-range time is a 400 naming the parameter.
pub fn parse_time(param: &str, s: &str) -> R<DateTime<Utc>> {
    taishi_query::parse_time_param(param, s, Utc::now().fixed_offset())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad(e.to_string()))
}

/// An optional time parameter: absent or empty is `None`.
pub(crate) fn time_arg(param: &str, s: Option<&str>) -> R<Option<DateTime<Utc>>> {
    s.filter(|s| !s.is_empty())
        .map(|s| parse_time(param, s))
        .transpose()
}

/// `from`/`to` with defaults (`to` defaults to now); `from` must come first.
pub fn parse_range(
    from: Option<&str>,
    to: Option<&str>,
    default_from: &str,
) -> R<(DateTime<Utc>, DateTime<Utc>)> {
    let f = parse_time(
        "from",
        from.filter(|s| !s.is_empty()).unwrap_or(default_from),
    )?;
    let t = parse_time("to", to.filter(|s| !s.is_empty()).unwrap_or("now"))?;
    if f >= t {
        return Err(bad("from: must be before to").code(ErrorCode::InvalidTime));
    }
    Ok((f, t))
}

// ---- the route table ----------------------------------------------------------

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: sign-in, the OpenAPI document and the liveness probe.
    Public,
    /// A signed-in caller (session or API token) whose role grants this.
    Needs(Permission),
}

/// Where a route is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mount {
    /// Under `/api/v1` (the OpenAPI document's server).
    Api,
    /// At the root (`/metrics`).
    Root,
}

/// Gives a type's schema (a `$ref` into the document's components).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What a route reads from the request body.
#[derive(Clone, Copy)]
pub enum Body {
    None,
    Json(SchemaFn),
    /// Raw bytes of these media types (rule YAML, feed files, NDJSON).
    Raw(&'static [&'static str]),
    /// JSON of this schema, or raw bytes of the listed media types.
    JsonOrRaw(SchemaFn, &'static [&'static str]),
}

/// What a route answers on success.
#[derive(Clone, Copy)]
pub enum Answer {
    Json(SchemaFn),
    /// 201 with a JSON body.
    Created(SchemaFn),
    NoContent,
    /// Server-sent events whose `data` is JSON of this schema.
    EventStream(SchemaFn),
    /// Text of this media type.
    Text(&'static str),
}

enum Handler {
    Axum(Box<MethodRouter<S>>),
    /// Served by `taishi_ingest::http::router` (its own handlers and
    /// Elasticsearch-style errors); the table documents it and the ingest
    /// token check guards it.
    Ingest,
}

/// One route: everything the router, the guard and the document need.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub mount: Mount,
    pub access: Access,
    pub tag: &'static str,
    pub summary: &'static str,
    pub summary_zh: &'static str,
    pub query: Option<SchemaFn>,
    pub body: Body,
    pub answer: Answer,
    /// Takes a file (rules, a feed): its body may be `http.max_upload_mib`,
    /// not `http.max_api_body_mib`.
    pub upload: bool,
    handler: Handler,
}

impl Route {
    /// A route under `/api/v1` with no body that answers 204, until the
    /// builder methods below say otherwise.
    pub fn new<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Route
    where
        H: axum::handler::Handler<T, S>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| panic!("route table: {method} is not routable"));
        Route {
            path,
            mount: Mount::Api,
            access,
            tag: "",
            summary: "",
            summary_zh: "",
            query: None,
            body: Body::None,
            answer: Answer::NoContent,
            upload: false,
            handler: Handler::Axum(Box::new(axum::routing::on(filter, handler))),
            method,
        }
    }

    /// A route of the HTTP ingest router.
    pub fn ingest(method: Method, path: &'static str) -> Route {
        Route {
            method,
            path,
            mount: Mount::Api,
            access: Access::Needs(Permission::Ingest),
            tag: "ingest",
            summary: "",
            summary_zh: "",
            query: None,
            body: Body::None,
            answer: Answer::Json(schema_of::<Object>),
            upload: false,
            handler: Handler::Ingest,
        }
    }

    /// The body is a file (see [`Route::upload`]).
    pub fn upload(mut self) -> Route {
        self.upload = true;
        self
    }

    pub fn doc(mut self, tag: &'static str, en: &'static str, zh: &'static str) -> Route {
        (self.tag, self.summary, self.summary_zh) = (tag, en, zh);
        self
    }
    pub fn query<T: JsonSchema>(mut self) -> Route {
        self.query = Some(schema_of::<T>);
        self
    }
    pub fn json<T: JsonSchema>(mut self) -> Route {
        self.body = Body::Json(schema_of::<T>);
        self
    }
    pub fn raw(mut self, media: &'static [&'static str]) -> Route {
        self.body = Body::Raw(media);
        self
    }
    pub fn json_or_raw<T: JsonSchema>(mut self, media: &'static [&'static str]) -> Route {
        self.body = Body::JsonOrRaw(schema_of::<T>, media);
        self
    }
    pub fn answer<T: JsonSchema>(mut self) -> Route {
        self.answer = Answer::Json(schema_of::<T>);
        self
    }
    pub fn created<T: JsonSchema>(mut self) -> Route {
        self.answer = Answer::Created(schema_of::<T>);
        self
    }
    pub fn events<T: JsonSchema>(mut self) -> Route {
        self.answer = Answer::EventStream(schema_of::<T>);
        self
    }
    pub fn text(mut self, media: &'static str) -> Route {
        self.answer = Answer::Text(media);
        self
    }
    pub fn at_root(mut self) -> Route {
        self.mount = Mount::Root;
        self
    }

    /// The path as a client calls it.
    pub fn full_path(&self) -> String {
        match self.mount {
            // A nested router serves its `/` at the prefix itself.
            Mount::Api if self.path == "/" => "/api/v1".to_string(),
            Mount::Api => format!("/api/v1{}", self.path),
            Mount::Root => self.path.to_string(),
        }
    }

    /// Whether the ingest router, not a handler of this crate, serves it.
    pub fn is_ingest(&self) -> bool {
        matches!(self.handler, Handler::Ingest)
    }
}

/// Every route of the service, by resource.
pub fn table() -> Vec<Route> {
    [
        auth::routes(),
        users::routes(),
        orgs::routes(),
        audit::routes(),
        search::routes(),
        saved::routes(),
        alerts::routes(),
        exceptions::routes(),
        process_tree::routes(),
        rules::routes(),
        overview::routes(),
        attack::routes(),
        settings::routes(),
        intel::routes(),
        system::routes(),
        data::routes(),
        incidents::routes(),
        risk::routes(),
        risk_report::routes(),
        discovery::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---- the guard ------------------------------------------------------------------

/// API-token checks (a SHA-256 digest and a SQLite read) are cached for a
/// few seconds, so a sender's every batch does not pay for them; any change
/// to tokens or users clears the cache, so a revoked token or a demoted
/// owner takes effect at the next request, as without the cache.
pub struct TokenCache {
    entries: std::sync::Mutex<lru::LruCache<String, (std::time::Instant, Option<Caller>)>>,
    ttl: Duration,
}

impl TokenCache {
    pub fn new(capacity: usize, ttl: Duration) -> TokenCache {
        let cap =
            std::num::NonZeroUsize::new(capacity.max(1)).unwrap_or(std::num::NonZeroUsize::MIN);
        TokenCache {
            entries: std::sync::Mutex::new(lru::LruCache::new(cap)),
            ttl,
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, lru::LruCache<String, (std::time::Instant, Option<Caller>)>>
    {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer for a token, `None` when not cached or stale.
    fn get(&self, token: &str) -> Option<Option<Caller>> {
        let mut c = self.lock();
        match c.get(token) {
            Some((at, who)) if at.elapsed() < self.ttl => Some(who.clone()),
            Some(_) => {
                c.pop(token);
                None
            }
            None => None,
        }
    }

    fn put(&self, token: &str, who: Option<Caller>) {
        self.lock()
            .put(token.to_string(), (std::time::Instant::now(), who));
    }

    /// Forgets every cached check (a token or a user changed).
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Resolves an API token: from the cache, else from the state database
/// (blocking: call it off the async workers, or after [`warm_token`]).
fn token_caller(app: &App, token: &str) -> Option<Caller> {
    if let Some(hit) = app.token_cache.get(token) {
        return hit;
    }
    let who = app
        .state
        .token(&credentials::digest(token))
        .ok()
        .flatten()
        .and_then(|t| {
            // A token never has more power than its owner has now, nor a
            // wider view: bound to an organisation its owner still sees.
            let owner = caller_of(app, t.owner.clone(), t.owner_roles, &t.owner_org, None)?;
            if !owner.scope.contains(&t.org) {
                return None;
            }
            let mut c = caller_of(app, t.owner, t.roles, &t.org, None)?;
            c.grants = c.grants.intersect(owner.grants);
            Some(c)
        });
    app.token_cache.put(token, who.clone());
    who
}

/// A caller holding `roles` in `org` (blocking: reads the custom roles and
/// the organisation tree). None when the roles resolve to nothing valid
/// (an unknown role, a union the separation of duties forbids).
pub(crate) fn caller_of(
    app: &App,
    username: String,
    roles: Vec<String>,
    org: &str,
    csrf: Option<String>,
) -> Option<Caller> {
    let grants = match grants(app, &roles) {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(user = %username, error = %e, "an account's roles grant nothing");
            return None;
        }
    };
    let scope = crate::state::Scope::Orgs(app.state.subtree(org).ok()?);
    Some(Caller {
        username,
        roles,
        grants,
        org: org.to_string(),
        scope,
        view: None,
        csrf,
        must_change_password: false,
    })
}

/// What a set of role ids grants, custom roles included (blocking).
pub(crate) fn grants(
    app: &App,
    roles: &[String],
) -> Result<taishi_auth::Grants, taishi_auth::RoleError> {
    let custom = if roles
        .iter()
        .all(|r| taishi_auth::BuiltinRole::parse(r).is_some())
    {
        Vec::new()
    } else {
        app.state.custom_roles().unwrap_or_default()
    };
    taishi_auth::grants_of(roles.iter().map(String::as_str), |id| {
        custom.iter().find(|c| c.id == id).map(|c| c.grants())
    })
}

/// Resolves the caller from a bearer/basic token or a session cookie
/// (blocking).
fn identify(app: &App, headers: &HeaderMap) -> Option<Caller> {
    if let Some(t) = credentials::bearer(headers) {
        return token_caller(app, &t);
    }
    let sid = credentials::cookie(headers, credentials::COOKIE)?;
    let idle = app.config.auth.session_idle_minutes.max(1) as i64 * 60;
    let s = app
        .state
        .session(&credentials::digest(&sid), idle)
        .ok()
        .flatten()?;
    let mut c = caller_of(app, s.username, s.roles, &s.org, Some(s.csrf))?;
    c.must_change_password =
        s.must_change_password || password_expired(app, s.password_changed.as_deref());
    Some(c)
}

/// Whether a password set at `changed` (RFC 3339) is past the policy's
/// maximum age.
pub(crate) fn password_expired(app: &App, changed: Option<&str>) -> bool {
    changed
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| {
            app.config
                .auth
                .password
                .expired((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_days())
        })
}

/// The header the console's organisation switcher sends; `?org=` does the
/// same for the live stream (a browser's EventSource sends no headers).
pub const ORG_HEADER: &str = "x-taishi-org";

fn narrowed_to(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(ORG_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string()).filter(|v| !v.is_empty());
    }
    req.uri()
        .query()?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "org")
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

fn unauthenticated() -> Response {
    let mut r = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "sign in (POST /api/v1/auth/login) or send `Authorization: Bearer <token>`",
    )
    .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"taishi\""),
    );
    r
}

/// The one permission check: runs before the handler (and before its body
/// is read) for every route of the table.
async fn guard(
    State((app, access, path)): State<(S, Access, &'static str)>,
    mut req: Request,
    next: Next,
) -> Response {
    let Access::Needs(permission) = access else {
        return next.run(req).await;
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // A token checked in the last few seconds needs no thread; anything
    // else (a token not cached, a session) reads SQLite on one.
    let cached = credentials::bearer(req.headers()).and_then(|t| app.token_cache.get(&t));
    let found = match cached {
        Some(who) => who,
        None => {
            let (a, headers) = (app.clone(), req.headers().clone());
            tokio::task::spawn_blocking(move || identify(&a, &headers))
                .await
                .ok()
                .flatten()
        }
    };
    let Some(mut caller) = found else {
        return unauthenticated();
    };
    // The organisation switcher: a caller may narrow its view to one
    // organisation it sees (and those below it), never widen it.
    if let Some(org) = narrowed_to(&req) {
        if !caller.scope.contains(&org) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                format!("organisation `{org}` is not yours or below yours / 组织 `{org}` 不在您的可见范围内"),
            )
            .code(ErrorCode::OrgNotVisible)
            .param("org", org)
            .into_response();
        }
        let a = app.clone();
        let o = org.clone();
        let sub = tokio::task::spawn_blocking(move || a.state.subtree(&o)).await;
        match sub {
            Ok(Ok(v)) => {
                caller.scope = crate::state::Scope::Orgs(v);
                caller.view = Some(org);
            }
            _ => return internal("organisation tree not readable").into_response(),
        }
    }
    // A one-time or expired password: the account may read who it is,
    // change its password and sign out (the `account` routes), nothing
    // else, until it has chosen its own.
    if caller.must_change_password && permission != Permission::Account {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "password_change_required: choose your own password first (POST /api/v1/auth/password) \
             / 请先修改密码（一次性或已过期的密码不能用于其他操作）",
        )
        .code(ErrorCode::PasswordChangeRequired)
        .into_response();
    }
    if let Some(csrf) = &caller.csrf {
        let sent = req
            .headers()
            .get(credentials::CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        if !safe && sent != Some(csrf.as_str()) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "missing or wrong {} header (send the csrf value login returned)",
                    credentials::CSRF_HEADER
                ),
            )
            .code(ErrorCode::CsrfMissing)
            .into_response();
        }
    }
    // What a state-changing call is recorded as in the audit trail.
    let audited = (!safe).then(|| {
        let source = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let target = req.uri().path().to_string();
        (audit_action(req.method(), path), source, target)
    });
    if !caller.can(permission) {
        let reason = format!(
            "your roles ({}) do not allow this (needs `{}`); ask a system administrator",
            caller.roles_text(),
            permission.name()
        );
        if let Some((action, source, target)) = audited {
            let who = Who::of(&caller);
            audit(
                &app,
                who,
                source,
                action,
                Some(target),
                AuditOutcome::Denied,
                Some(reason.clone()),
            )
            .await;
        }
        return ApiError::new(StatusCode::FORBIDDEN, reason)
            .param("permission", permission.name())
            .into_response();
    }
    let who = Who::of(&caller);
    req.extensions_mut().insert(caller);
    let mut resp = next.run(req).await;
    if let Some((action, source, target)) = audited {
        // A settings change says what it changed (`audit::AuditChange`).
        let change = resp.extensions_mut().remove::<audit::AuditChange>();
        let st = resp.status();
        let outcome = if st.is_success() || st.is_redirection() {
            AuditOutcome::Success
        } else if st == StatusCode::FORBIDDEN || st == StatusCode::TOO_MANY_REQUESTS {
            AuditOutcome::Denied
        } else {
            AuditOutcome::Failed
        };
        let reason = (!st.is_success()).then(|| st.to_string());
        let r = AuditEntry {
            source,
            action,
            target: Some(target),
            outcome,
            reason,
            change,
        };
        audit_entry(&app, who, r).await;
    }
    resp
}

use taishi_audit::Outcome as AuditOutcome;

/// The audit trail's action code of a state-changing route: the catalogue's
/// code where one fits (`taishi-audit/data/actions.tsv`), else
/// `api.<method> <path>`.
fn audit_action(method: &Method, path: &str) -> String {
    let p = path.trim_start_matches("/api/v1");
    let code = match (method.as_str(), p) {
        ("POST", "/auth/logout") => "auth.logout",
        ("POST", "/auth/password") => "auth.password_change",
        ("POST", "/users") => "users.create",
        ("PATCH", "/users/{username}") => "users.update",
        ("DELETE", "/users/{username}") => "users.delete",
        ("POST", "/tokens") => "tokens.create",
        ("DELETE", "/tokens/{id}") => "tokens.revoke",
        ("PUT", "/settings/outputs") => "outputs.update",
        ("POST", "/rules/reload") => "rules.reload",
        (_, p) if p.starts_with("/rules") => "rules.update",
        (_, p) if p.starts_with("/alerts") => "alerts.update",
        (_, p) if p.starts_with("/intel") => "intel.source_update",
        _ => return format!("api.{} {p}", method.as_str().to_ascii_lowercase()),
    };
    code.to_string()
}

/// Who an audit record names: the account, its roles and organisation.
pub(crate) struct Who {
    pub name: String,
    pub roles: Vec<String>,
    pub org: String,
}

impl Who {
    pub fn of(c: &Caller) -> Who {
        Who {
            name: c.username.clone(),
            roles: c.roles.clone(),
            org: c.org.clone(),
        }
    }

    /// Someone signing in: roles and organisation not known yet.
    pub fn signing_in(name: &str) -> Who {
        Who {
            name: name.to_string(),
            roles: Vec::new(),
            org: crate::state::ROOT_ORG.to_string(),
        }
    }
}

/// Appends to the audit trail off the async workers and waits for it to
/// be durable; a record that cannot be written is logged as an error (the
/// call itself has happened).
pub(crate) async fn audit(
    app: &App,
    who: Who,
    source: Option<String>,
    action: String,
    target: Option<String>,
    outcome: AuditOutcome,
    reason: Option<String>,
) {
    let r = AuditEntry {
        source,
        action,
        target,
        outcome,
        reason,
        change: None,
    };
    audit_entry(app, who, r).await
}

/// What one audit record says besides who acted.
pub(crate) struct AuditEntry {
    pub source: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub reason: Option<String>,
    /// Settings before and after, secrets already masked.
    pub change: Option<audit::AuditChange>,
}

/// [`audit`] with every field; the record is then queued for
/// `[audit.forward]`.
pub(crate) async fn audit_entry(app: &App, who: Who, e: AuditEntry) {
    let trail = app.audit.clone();
    let done = tokio::task::spawn_blocking(move || {
        let actor = taishi_audit::Actor {
            id: who.name.clone(),
            name: who.name,
        };
        let mut r = taishi_audit::NewRecord::new(actor, &who.org, &e.action, e.outcome);
        r.roles = who.roles;
        r.source = e.source;
        r.target = e.target;
        r.reason = e.reason;
        if let Some(c) = e.change {
            (r.before, r.after) = (c.before, c.after);
        }
        trail.append(r)
    })
    .await;
    match done {
        Ok(Ok(rec)) => app.audit_forward.send(&rec),
        Ok(Err(e)) => tracing::error!(error = %e, "audit record not written"),
        Err(e) => tracing::error!(error = %e, "audit record not written"),
    }
}

/// HTTP ingest accepts API tokens with the `ingest` permission (and basic
/// auth with the token as password, as Beats send it), never a session
/// cookie.
///
/// A browser attaches the cookie to any cross-site POST, and a `text/plain`
/// form or `fetch` needs no preflight, so a page the user visits could
/// store events in their name. Shippers never use cookies and the console
/// never ingests, so refusing them (rather than asking for the CSRF header
/// the rest of the API takes) removes the whole class with nothing lost.
///
/// The ingest router calls this on its async worker, so it reads the token
/// cache that [`warm_token`] filled off the workers just before; only an
/// entry evicted in between is looked up here.
struct IngestAuth(S);

impl Authenticate for IngestAuth {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>, Denied> {
        let token = credentials::bearer(headers);
        if token.is_none() && credentials::cookie(headers, credentials::COOKIE).is_some() {
            return Err(Denied::Forbidden(
                "HTTP ingest does not accept a console session; send `Authorization: Bearer <token>` (create one with POST /api/v1/tokens)".into(),
            ));
        }
        match token.and_then(|t| token_caller(&self.0, &t)) {
            Some(c) if c.can(Permission::Ingest) => Ok(Some(Principal {
                name: c.username.into(),
                org: Some(c.org.into()),
            })),
            Some(_) => Err(Denied::Forbidden(
                "a viewer may not ingest; use a token of an analyst or admin".into(),
            )),
            None => Err(Denied::Unauthenticated(
                "send `Authorization: Bearer <token>` (create one with POST /api/v1/tokens)".into(),
            )),
        }
    }
}

/// Checks an ingest request's token on a blocking thread and caches the
/// answer, so [`IngestAuth`] then finds it without blocking.
async fn warm_token(State(app): State<S>, req: Request, next: Next) -> Response {
    if let Some(t) = credentials::bearer(req.headers()) {
        if app.token_cache.get(&t).is_none() {
            let a = app.clone();
            let _ = tokio::task::spawn_blocking(move || token_caller(&a, &t)).await;
        }
    }
    next.run(req).await
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

/// A body whose declared length is over the route's limit is refused at
/// once (413), so the sender learns it before sending the rest and the
/// server reads none of it. Chunked bodies meet the same limit as they are
/// read ([`DefaultBodyLimit`]).
async fn declared_length(
    State((limit, upload)): State<(usize, bool)>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => {
            let key = if upload {
                "http.max_upload_mib"
            } else {
                "http.max_api_body_mib"
            };
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body ({n} bytes) is over this call's limit of {} MiB ({key}) / 请求体超过此接口上限 {} MiB",
                    limit >> 20,
                    limit >> 20
                ),
            )
            .param("limit_mib", limit >> 20)
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// The table's routes of one mount as a router, each behind the guard with
/// its own permission and its body limit.
fn mount(app: &S, routes: Vec<Route>, at: Mount) -> Router<S> {
    let mut by_path: Vec<(&'static str, MethodRouter<S>)> = Vec::new();
    for r in routes.into_iter().filter(|r| r.mount == at) {
        let Handler::Axum(h) = r.handler else {
            continue;
        };
        let http = &app.config.http;
        let limit = if r.upload {
            http.max_upload_mib
        } else {
            http.max_api_body_mib
        } << 20;
        // Innermost first: the extractors' own limit while reading, then a
        // declared length over the limit answered 413 before any of the
        // body is read, then (outermost) the permission guard.
        let h = (*h)
            .route_layer(DefaultBodyLimit::max(limit))
            .route_layer(middleware::from_fn_with_state(
                (limit, r.upload),
                declared_length,
            ))
            .route_layer(middleware::from_fn_with_state(
                (app.clone(), r.access, r.path),
                guard,
            ));
        match by_path.iter_mut().find(|(p, _)| *p == r.path) {
            Some((_, m)) => *m = std::mem::take(m).merge(h),
            None => by_path.push((r.path, h)),
        }
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (p, m)| router.route(p, m))
}

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
    hc.default_tz = app.config.ingest.timezone.offset();
    hc.bulk_ids = Some(app.bulk_ids.clone());
    hc.auth = Some(Arc::new(IngestAuth(app.clone())));
    let (ingest, metrics) = taishi_ingest::http::router(hc, sink);
    app.registry.register(metrics.clone());
    let ingest = ingest.layer(middleware::from_fn_with_state(app.clone(), warm_token));

    let api = mount(&app, table(), Mount::Api)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            body_stall_timeout,
        ))
        .with_state(app.clone())
        .merge(ingest);
    let r = mount(&app, table(), Mount::Root)
        .with_state(app)
        .nest("/api/v1", api)
        .fallback_service(taishi_console::router());
    (r, metrics)
}

/// The route list of API.md: one line per route with its permission, from
/// the table (a test fails when API.md's copy is stale).
pub fn markdown(routes: &[Route]) -> String {
    let mut out = String::from("| call | permission | what |\n|---|---|---|\n");
    for r in routes {
        let permission = match r.access {
            Access::Public => "public".to_string(),
            Access::Needs(p) => format!("`{}`", p.name()),
        };
        out.push_str(&format!(
            "| `{} {}` | {permission} | {} / {} |\n",
            r.method,
            r.full_path(),
            r.summary.replace('|', "\\|"),
            r.summary_zh.replace('|', "\\|"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(name: &str) -> Option<Caller> {
        Some(Caller {
            username: name.into(),
            roles: vec!["viewer".into()],
            grants: taishi_auth::BuiltinRole::Viewer.grants(),
            org: crate::state::ROOT_ORG.into(),
            scope: crate::state::Scope::All,
            view: None,
            csrf: None,
            must_change_password: false,
        })
    }

    /// A flood of made-up tokens evicts the oldest entries rather than
    /// growing the cache; a stale entry is never answered; a clear forgets
    /// everything.
    #[test]
    fn the_token_cache_is_bounded_expires_and_clears() {
        let c = TokenCache::new(2, Duration::from_secs(3600));
        c.put("a", caller("a"));
        c.put("b", None);
        c.put("c", caller("c"));
        assert_eq!(c.len(), 2);
        assert!(c.get("a").is_none(), "the oldest entry was evicted");
        assert_eq!(c.get("b"), Some(None), "an unknown token is cached too");
        assert_eq!(c.get("c").flatten().unwrap().username, "c");
        c.clear();
        assert!(c.is_empty());

        let stale = TokenCache::new(2, Duration::ZERO);
        stale.put("a", caller("a"));
        assert!(stale.get("a").is_none());
        assert!(stale.is_empty(), "a stale entry is dropped when met");
    }
}
