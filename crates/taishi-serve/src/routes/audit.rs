//! The audit trail for auditors (`audit:read`): its records, newest first,
//! with filters; the chain's verification; exports as JSON lines, CSV or
//! CEF. Every read is itself recorded (`audit.read`, `audit.verify`,
//! `audit.export`).

use std::collections::VecDeque;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use taishi_audit::{Lang, Outcome, ReadItem, Record};

use super::{audit_entry, bad, blocking, internal, page, parse_range, Access, AuditEntry, Route};
use super::{R, S};
use crate::auth::{Caller, Permission as P};
use crate::App;

pub fn routes() -> Vec<Route> {
    let read = Access::Needs(P::AuditRead);
    vec![
        Route::new(Method::GET, "/audit", read, list)
            .doc(
                "audit",
                "Audit records, newest first (filters: from, to, actor, action, outcome)",
                "审计记录，最新的在前（按时间、操作人、操作、结果筛选）",
            )
            .query::<AuditQuery>()
            .answer::<AuditPage>(),
        Route::new(Method::GET, "/audit/verify", read, verify)
            .doc(
                "audit",
                "Verify the hash chain and signed checkpoints; names the first broken record",
                "校验哈希链与签名检查点；指出第一条被破坏的记录",
            )
            .answer::<AuditVerify>(),
        Route::new(Method::GET, "/audit/export", read, export)
            .doc(
                "audit",
                "Export audit records (format=jsonl|csv|cef) as a file, streamed",
                "导出审计记录（format=jsonl|csv|cef），以文件流式下载",
            )
            .query::<AuditQuery>()
            .text("application/octet-stream"),
    ]
}

/// What a settings change records: the settings before and after, secrets
/// masked. A handler puts it in its response's extensions; the guard
/// writes it into the call's audit record.
#[derive(Clone, Debug)]
pub struct AuditChange {
    pub before: Option<J>,
    pub after: Option<J>,
}

impl AuditChange {
    /// Both sides masked with the trail's secret-key list
    /// (`taishi_audit::mask_secrets`), and query values of URLs (robot
    /// webhooks carry their access token there) replaced by the mask.
    pub fn masked(mut before: J, mut after: J) -> AuditChange {
        for v in [&mut before, &mut after] {
            taishi_audit::mask_secrets(v);
            mask_url_queries(v);
        }
        AuditChange {
            before: Some(before),
            after: Some(after),
        }
    }
}

fn mask_url_queries(v: &mut J) {
    match v {
        J::String(s) if s.contains("://") && s.contains('?') => {
            if let Some((base, query)) = s.split_once('?') {
                let q: Vec<String> = query
                    .split('&')
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) if !v.is_empty() => format!("{k}={}", taishi_audit::MASK),
                        _ => kv.to_string(),
                    })
                    .collect();
                *s = format!("{base}?{}", q.join("&"));
            }
        }
        J::Array(a) => a.iter_mut().for_each(mask_url_queries),
        J::Object(o) => o.values_mut().for_each(mask_url_queries),
        _ => {}
    }
}

/// The filters of the list and the export (`limit`/`offset` for the list,
/// `format`/`lang` for the export).
#[derive(Deserialize, JsonSchema, Default)]
pub struct AuditQuery {
    /// Start of the range, inclusive (`now-7d` by default; ISO 8601 or `now-…`).
    pub from: Option<String>,
    /// End of the range, exclusive (now by default).
    pub to: Option<String>,
    /// A user name (or id), exactly.
    pub actor: Option<String>,
    /// An action code (`auth.login`), or a prefix ending in `*` (`auth.*`).
    pub action: Option<String>,
    /// `success`, `denied` or `failed`.
    pub outcome: Option<String>,
    /// At most 1000 (default 100).
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    /// Export only: `jsonl` (default; the stored lines, verifiable with
    /// `taishi audit verify --file`), `csv` or `cef`.
    pub format: Option<String>,
    /// Export only: language of the labels in CSV and CEF, `zh-CN` (default) or `en`.
    pub lang: Option<String>,
}

/// Longest filter value accepted.
const MAX_FILTER: usize = 256;

struct Filter {
    /// The caller's organisations: an auditor of a member reads its own
    /// organisation's records and those below, the top's auditor all.
    scope: crate::state::Scope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    actor: Option<String>,
    action: Option<String>,
    outcome: Option<Outcome>,
}

impl Filter {
    fn of(q: &AuditQuery, caller: &Caller) -> R<Filter> {
        let (from, to) = parse_range(q.from.as_deref(), q.to.as_deref(), "now-7d")?;
        let text = |name: &str, v: &Option<String>| -> R<Option<String>> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(s) if s.chars().count() > MAX_FILTER => {
                    Err(bad(format!("{name}: at most {MAX_FILTER} characters")))
                }
                s => Ok(s.map(str::to_string)),
            }
        };
        let outcome = match text("outcome", &q.outcome)?.as_deref() {
            None => None,
            Some("success") => Some(Outcome::Success),
            Some("denied") => Some(Outcome::Denied),
            Some("failed") => Some(Outcome::Failed),
            Some(o) => {
                return Err(bad(format!(
                    "outcome: `{o}` is not success, denied or failed"
                )))
            }
        };
        Ok(Filter {
            scope: caller.scope.clone(),
            from,
            to,
            actor: text("actor", &q.actor)?,
            action: text("action", &q.action)?,
            outcome,
        })
    }

    fn matches(&self, r: &Record) -> bool {
        // Records written before organisations existed say `default`: the
        // top organisation's.
        let org = if r.org == "default" {
            crate::state::ROOT_ORG
        } else {
            r.org.as_str()
        };
        self.scope.contains(org)
            && r.time >= self.from
            && r.time < self.to
            && self
                .actor
                .as_ref()
                .is_none_or(|a| *a == r.actor.name || *a == r.actor.id)
            && self
                .action
                .as_ref()
                .is_none_or(|a| match a.strip_suffix('*') {
                    Some(prefix) => r.action.starts_with(prefix),
                    None => *a == r.action,
                })
            && self.outcome.is_none_or(|o| o == r.outcome)
    }

    /// Walks the records from the segment holding `from` on; `visit` gets
    /// the matching ones and returns `false` to stop. Returns the number of
    /// unreadable entries met.
    fn walk(&self, app: &App, visit: &mut dyn FnMut(Record) -> bool) -> R<u64> {
        let mut unreadable = 0;
        taishi_audit::walk_dir_since(
            app.audit.store().dir(),
            self.from.fixed_offset(),
            &mut |item| match item {
                ReadItem::Item(r) if self.matches(&r) => visit(r),
                ReadItem::Item(_) => true,
                ReadItem::Unreadable { .. } => {
                    unreadable += 1;
                    true
                }
            },
        )
        .map_err(internal)?;
        Ok(unreadable)
    }
}

/// A label in both languages.
#[derive(Serialize, JsonSchema)]
pub struct Labels {
    pub en: String,
    #[serde(rename = "zh-CN")]
    pub zh: String,
}

impl Labels {
    fn of(f: impl Fn(Lang) -> String) -> Labels {
        Labels {
            en: f(Lang::En),
            zh: f(Lang::Zh),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct AuditActor {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    Success,
    Denied,
    Failed,
}

/// One record of the trail, as stored, with its action's label.
#[derive(Serialize, JsonSchema)]
pub struct AuditRecord {
    pub seq: u64,
    /// RFC 3339 with the server's zone offset.
    pub time: String,
    pub actor: AuditActor,
    /// The organisation the action was taken in.
    pub org: String,
    pub roles: Vec<String>,
    /// The client's address.
    pub source: Option<String>,
    /// The stable action code (`auth.login`).
    pub action: String,
    pub action_label: Labels,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    /// Why it was denied or failed.
    pub reason: Option<String>,
    /// Settings before the change, secrets masked.
    pub before: Option<J>,
    /// Settings after the change, secrets masked.
    pub after: Option<J>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<Record> for AuditRecord {
    fn from(r: Record) -> AuditRecord {
        AuditRecord {
            action_label: Labels::of(|l| r.action_label(l).to_string()),
            seq: r.seq,
            time: r.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            actor: AuditActor {
                id: r.actor.id,
                name: r.actor.name,
            },
            org: r.org,
            roles: r.roles,
            source: r.source,
            action: r.action,
            target: r.target,
            outcome: match r.outcome {
                Outcome::Success => AuditOutcome::Success,
                Outcome::Denied => AuditOutcome::Denied,
                Outcome::Failed => AuditOutcome::Failed,
            },
            reason: r.reason,
            before: r.before,
            after: r.after,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// One page of records, newest first.
#[derive(Serialize, JsonSchema)]
pub struct AuditPage {
    /// Records matching the filters in the range.
    pub total: u64,
    pub items: Vec<AuditRecord>,
    /// Stored entries in the range that could not be read: run the
    /// verification.
    pub unreadable: u64,
}

/// Records a read of the trail by `caller` (who reads the audit trail is
/// itself audited).
pub(crate) async fn record_read(
    app: &App,
    caller: &Caller,
    peer: SocketAddr,
    action: &str,
    target: String,
    after: Option<J>,
) {
    let e = AuditEntry {
        source: Some(peer.ip().to_string()),
        action: action.to_string(),
        target: Some(target),
        outcome: taishi_audit::Outcome::Success,
        reason: None,
        change: after.map(|a| AuditChange {
            before: None,
            after: Some(a),
        }),
    };
    audit_entry(app, super::Who::of(caller), e).await;
}

/// The call as recorded: its path under `/api/v1` (as the guard records
/// state-changing calls) with the query, which holds the filters.
fn target(path: &str, uri: &axum::http::Uri) -> String {
    match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

async fn list(
    State(app): State<S>,
    Extension(caller): Extension<Caller>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: axum::http::Uri,
    Query(q): Query<AuditQuery>,
) -> R<Json<AuditPage>> {
    Filter::of(&q, &caller)?;
    let (limit, offset) = page(&app, q.limit, q.offset, 100, 1000)?;
    record_read(
        &app,
        &caller,
        peer,
        "audit.read",
        target("/audit", &uri),
        None,
    )
    .await;
    // Read again now the read is recorded: a `to` of now then covers the
    // record of this very read, as it does for every later reader.
    let filter = Filter::of(&q, &caller)?;
    blocking(move || {
        // The newest `offset + limit` matches, oldest first; the walk goes
        // forward in time, so older ones fall out of the front.
        let keep = offset + limit;
        let mut newest: VecDeque<Record> = VecDeque::with_capacity(keep.min(4096));
        let mut total = 0u64;
        let unreadable = filter.walk(&app, &mut |r| {
            total += 1;
            if newest.len() == keep {
                newest.pop_front();
            }
            newest.push_back(r);
            true
        })?;
        let items = newest
            .into_iter()
            .rev()
            .skip(offset)
            .take(limit)
            .map(AuditRecord::from)
            .collect();
        Ok(Json(AuditPage {
            total,
            items,
            unreadable,
        }))
    })
    .await
}

/// Where the chain is broken.
#[derive(Serialize, JsonSchema)]
pub struct AuditBreak {
    /// The first record (or checkpoint) that is wrong or missing.
    pub seq: u64,
    /// Where it is stored (file:line), when known.
    pub location: Option<String>,
    /// What is wrong: `hash_mismatch`, `prev_mismatch`, `gap`, `unreadable`,
    /// `unanchored`, `checkpoint_unreadable`, `checkpoint_signature_invalid`,
    /// `checkpoint_disagrees` or `truncated`.
    pub code: String,
}

/// The verification's result.
#[derive(Serialize, JsonSchema)]
pub struct AuditVerify {
    pub ok: bool,
    /// Records read (up to the break).
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub checkpoints: u64,
    /// The newest checkpoint that agrees with the records.
    pub last_checkpoint_seq: Option<u64>,
    pub head_hash: Option<String>,
    /// The first broken record, when the chain is not intact.
    pub broken: Option<AuditBreak>,
    /// The verdict for people.
    pub message: Labels,
}

/// One verification at a time: each reads the whole trail, and a second
/// one at once would only halve the speed of both.
static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

async fn verify(
    State(app): State<S>,
    Extension(caller): Extension<Caller>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> R<Json<AuditVerify>> {
    let _one = VERIFYING.acquire().await.map_err(internal)?;
    let a = app.clone();
    // Off the async workers: it reads and hashes every record.
    let report = blocking(move || {
        let opts = taishi_audit::VerifyOptions {
            key: Some(a.audit.public_key()),
            require_anchor: true,
        };
        taishi_audit::verify(a.audit.store(), &opts).map_err(internal)
    })
    .await?;
    let broken = report.broken.as_ref().map(|b| AuditBreak {
        seq: b.seq,
        location: b.location.clone(),
        code: serde_json::to_value(&b.kind)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_string))
            .unwrap_or_default(),
    });
    let answer = AuditVerify {
        ok: report.ok(),
        records: report.records,
        first_seq: report.first_seq,
        last_seq: report.last_seq,
        checkpoints: report.checkpoints,
        last_checkpoint_seq: report.last_checkpoint_seq,
        head_hash: report.head_hash.clone(),
        message: Labels::of(|l| report.message(l).to_string()),
        broken,
    };
    let result = serde_json::json!({
        "ok": answer.ok,
        "records": answer.records,
        "broken_seq": answer.broken.as_ref().map(|b| b.seq),
    });
    record_read(
        &app,
        &caller,
        peer,
        "audit.verify",
        "/audit/verify".into(),
        Some(result),
    )
    .await;
    Ok(Json(answer))
}

#[derive(Clone, Copy)]
enum Format {
    Jsonl,
    Csv,
    Cef,
}

/// Bytes handed to the client at a time; with the channel's 8 slots, what
/// an export holds while a slow client reads.
const CHUNK: usize = 64 * 1024;

async fn export(
    State(app): State<S>,
    Extension(caller): Extension<Caller>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: axum::http::Uri,
    Query(q): Query<AuditQuery>,
) -> R<Response> {
    Filter::of(&q, &caller)?;
    let format = match q.format.as_deref().unwrap_or("jsonl") {
        "jsonl" => Format::Jsonl,
        "csv" => Format::Csv,
        "cef" => Format::Cef,
        f => return Err(bad(format!("format: `{f}` is not jsonl, csv or cef"))),
    };
    let lang = match q.lang.as_deref().unwrap_or("zh-CN") {
        "zh-CN" | "zh" => Lang::Zh,
        "en" => Lang::En,
        l => return Err(bad(format!("lang: `{l}` is not zh-CN or en"))),
    };
    record_read(
        &app,
        &caller,
        peer,
        "audit.export",
        target("/audit/export", &uri),
        None,
    )
    .await;
    let filter = Filter::of(&q, &caller)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        if let Format::Csv = format {
            // A BOM, so spreadsheet programs read the Chinese labels as UTF-8.
            buf.extend_from_slice("\u{feff}".as_bytes());
            buf.extend_from_slice(taishi_audit::export::CSV_HEADER.as_bytes());
            buf.push(b'\n');
        }
        let version = env!("CARGO_PKG_VERSION");
        let mut gone = false;
        let walked = filter.walk(&app, &mut |r| {
            match format {
                Format::Jsonl => buf.extend_from_slice(&r.to_line()),
                Format::Csv => {
                    buf.extend_from_slice(taishi_audit::export::csv_row(&r, lang).as_bytes())
                }
                Format::Cef => buf
                    .extend_from_slice(taishi_audit::forward::to_cef(&r, version, lang).as_bytes()),
            }
            buf.push(b'\n');
            if buf.len() >= CHUNK {
                // The client went away: stop reading the trail.
                gone = tx.blocking_send(Ok(std::mem::take(&mut buf))).is_err();
            }
            !gone
        });
        match walked {
            Ok(_) if !buf.is_empty() => {
                let _ = tx.blocking_send(Ok(buf));
            }
            Ok(_) => {}
            // Cut the download short, so the client does not take a
            // partial file for a whole one.
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e.message)));
            }
        }
    });
    let (ext, media) = match format {
        Format::Jsonl => ("jsonl", "application/x-ndjson"),
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
        Format::Cef => ("cef", "text/plain; charset=utf-8"),
    };
    let name = format!("taishi-audit-{}.{ext}", Utc::now().format("%Y%m%dT%H%M%SZ"));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, media.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_queries_and_secret_keys_are_masked() {
        let before = serde_json::json!([{"type": "dingtalk",
            "url": "https://oapi.dingtalk.com/robot/send?access_token=abc&x=",
            "secret": "SEC123", "password": null}]);
        let c = AuditChange::masked(before, serde_json::json!([]));
        let b = c.before.unwrap();
        assert_eq!(
            b[0]["url"],
            "https://oapi.dingtalk.com/robot/send?access_token=***&x="
        );
        assert_eq!(b[0]["secret"], "***");
        assert_eq!(b[0]["password"], J::Null, "a cleared secret stays visible");
    }
}
