//! The reporting clock's notifications (issue 14) and the server's time.
//!
//! Every `[incidents] clock_check_secs` the incidents graded 较大 or above
//! are read, `taishi_incident::Clock::at` says which notices are due (each
//! `deadline_warn_minutes` before a deadline, and one when it passes: the
//! first report 1/2/4 h after discovery by reporter type, supplementary
//! reports, the 30-day summary), and each goes out once through the alert
//! outputs (every output, without grouping). A notice sent is recorded in
//! the incident's timeline under its key, so it is sent once even across
//! restarts; a notice no output took is tried again at the next check.
//!
//! The server's time is `Utc::now()` plus an offset that only tests set
//! ([`ServerClock::set_offset`]): the drill moves the real server's clock
//! forward to see the notice arrive before the deadline.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::Value as J;
use taishi_alert::{Alert, Level, Notification, NotificationKind};
use taishi_incident::{Actor, Clock, Incident, Notice, Provenance};
use taishi_state::incidents::MAX_REPORTABLE;
use taishi_state::StateError;

use crate::CancellationToken;

use crate::App;

/// Writes retried when an analyst changed the incident at the same moment.
const RETRIES: usize = 3;

/// The server's time: the system clock plus a test-only offset.
#[derive(Debug, Default)]
pub struct ServerClock {
    offset_secs: AtomicI64,
}

impl ServerClock {
    pub fn now(&self) -> DateTime<FixedOffset> {
        let off = self.offset_secs.load(Ordering::Relaxed);
        (Utc::now() + chrono::Duration::seconds(off)).fixed_offset()
    }

    /// Moves the clock (tests: a deadline comes without waiting an hour).
    pub fn set_offset(&self, d: chrono::Duration) {
        self.offset_secs.store(d.num_seconds(), Ordering::Relaxed);
    }
}

/// The notification a notice goes out as: a critical message naming the
/// incident, the report owed, its deadline and the recipient.
pub fn notification(i: &Incident, n: &Notice, now: DateTime<FixedOffset>) -> Notification {
    let deadline = n.deadline.to_rfc3339_opts(SecondsFormat::Secs, false);
    let title = format!("Reporting deadline: {} — {}", i.id, n.message.en);
    let mut a = Alert::new(
        taishi_alert::AlertKind::Sigma,
        "taishi-reporting-clock",
        &title,
        Level::Critical,
        now,
    );
    a.rule_title_zh = Some(format!("报告时限：{} — {}", i.id, n.message.zh));
    a.org = Some(i.org.clone());
    for (k, v) in [
        ("incident", i.id.clone()),
        ("incident_title", i.title.clone()),
        ("obligation", n.obligation.label(taishi_incident::Lang::En)),
        (
            "obligation_zh",
            n.obligation.label(taishi_incident::Lang::Zh),
        ),
        ("deadline", deadline),
        ("notice", n.key.clone()),
        ("message", format!("{} / {}", n.message.zh, n.message.en)),
    ] {
        a.summary.insert(k.into(), J::String(v));
    }
    let mut out = Notification::single(a);
    out.kind = NotificationKind::Deadline;
    // The receiver drops repeats by it: the incident and the notice.
    out.id = format!("{}/{}", i.id, n.key);
    out
}

/// One look: sends the notices due now; how many went out.
pub fn check(app: &App) -> Result<usize, StateError> {
    let now = app.clock.now();
    let policy = app.config.incidents.clock_policy();
    let mut sent = 0;
    for s in app.state.reportable_incidents(MAX_REPORTABLE)? {
        let i = &s.incident;
        let reporter = app.config.incidents.reporter(&i.org);
        let clock = Clock::at(&i.reporting_facts(), reporter, &policy, now);
        let done = i.notified();
        let due: Vec<Notice> = clock
            .notify
            .into_iter()
            .filter(|n| !done.contains(n.key.as_str()))
            .collect();
        drop(done);
        for n in due {
            let took = app.outputs.dispatcher().broadcast(notification(i, &n, now));
            if took == 0 {
                tracing::warn!(incident = %i.id, notice = %n.key, "reporting deadline notice: no alert output took it (none configured, or their queues are full); tried again at the next check");
                continue;
            }
            record(app, &i.id, &n.key, now)?;
            sent += 1;
        }
    }
    Ok(sent)
}

/// Records notice `key` in the incident's timeline (re-read on a
/// concurrent change).
fn record(app: &App, id: &str, key: &str, now: DateTime<FixedOffset>) -> Result<(), StateError> {
    for _ in 0..RETRIES {
        let mut s = app.state.incident(id, &taishi_state::Scope::All)?;
        if s.incident.notified().contains(key) {
            return Ok(());
        }
        let by = Provenance::new(
            Actor::System("reporting-clock".into()),
            now,
            "报告时限提醒已发送 / reporting deadline notice sent",
        );
        s.incident
            .record_notice(key, by)
            .map_err(|e| StateError::Invalid(e.to_string()))?;
        match app.state.update_incident(&s.incident, s.version) {
            Ok(_) => return Ok(()),
            Err(StateError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StateError::Conflict(format!(
        "incident `{id}` kept changing: notice {key} not recorded / 事件 `{id}` 持续变化，提醒 {key} 未记录"
    )))
}

/// Runs [`check`] every `every` until cancelled.
pub fn spawn(
    app: Arc<App>,
    cancel: CancellationToken,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let a = app.clone();
            match tokio::task::spawn_blocking(move || check(&a)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(sent = n, "reporting deadline notices sent"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "reporting clock check failed"),
                Err(e) => tracing::warn!(error = %e, "reporting clock check failed"),
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    })
}

/// The PDF font, loaded once on first use ([report] font, else the
/// system's); a missing font is remembered too and named in each answer.
pub fn font(app: &App) -> Result<&taishi_report::Font, taishi_report::FontError> {
    app.report_font
        .get_or_init(|| taishi_report::Font::find(app.config.report.font.as_deref()))
        .as_ref()
        .map_err(Clone::clone)
}

/// A report document rendered for download: `docx` or `pdf` (the bytes,
/// the media type, the file extension). A PDF without a CJK font on the
/// server answers 503 naming the package to install; a document over the
/// renderer's limits 400.
pub fn render(
    app: &App,
    document: &taishi_report::Document,
    format: &str,
) -> Result<(Vec<u8>, &'static str, &'static str), crate::routes::ApiError> {
    use crate::routes::ApiError;
    let unavailable = |f: taishi_report::FontError| {
        ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, f.to_string())
    };
    let render_error = |e: taishi_report::RenderError| match e {
        taishi_report::RenderError::Font(f) => unavailable(f),
        e => crate::routes::bad(e.to_string()),
    };
    let limits = taishi_report::Limits::default();
    Ok(match format {
        "pdf" => (
            taishi_report::pdf::render(document, font(app).map_err(unavailable)?, &limits)
                .map_err(render_error)?,
            "application/pdf",
            "pdf",
        ),
        _ => (
            taishi_report::docx::render(document, &limits).map_err(render_error)?,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
    })
}

/// A report request's `lang` (zh or zh-CN, the default, or en: whether
/// English) and `format` (json, the default, docx or pdf).
pub fn report_options(
    lang: Option<&str>,
    format: Option<&str>,
) -> Result<(bool, String), crate::routes::ApiError> {
    use crate::routes::bad;
    let en = match lang.unwrap_or("zh") {
        "zh" | "zh-CN" => false,
        "en" => true,
        l => return Err(bad(format!("lang `{l}`: zh or en / 语言 `{l}`：zh 或 en"))),
    };
    let format = format.unwrap_or("json").to_string();
    if !matches!(format.as_str(), "json" | "docx" | "pdf") {
        return Err(bad(format!(
            "format `{format}`: json, docx or pdf / 格式 `{format}`：json、docx 或 pdf"
        )));
    }
    Ok((en, format))
}

/// A rendered report as a download.
pub fn download(
    (bytes, mime, _): (Vec<u8>, &'static str, &'static str),
    disposition: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (axum::http::header::CONTENT_TYPE, mime.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// Records a report export (`action`) in the audit trail: the call with
/// its query, and the format.
pub async fn audit_export(
    app: &App,
    c: &crate::auth::Caller,
    peer: std::net::SocketAddr,
    uri: &axum::http::Uri,
    action: &str,
    format: &str,
) {
    let path = uri.path().trim_start_matches("/api/v1");
    let target = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    crate::routes::audit::record_read(
        app,
        c,
        peer,
        action,
        target,
        Some(serde_json::json!({"format": format})),
    )
    .await;
}
