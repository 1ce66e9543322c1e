//! Scheduled saved searches: every `search.schedule_check_secs` the due
//! ones (enabled, their interval passed since their last run) run over the
//! last interval, each over its own organisation's events and those below
//! it, in a search slot with the same budget as an analyst's search. One
//! that answers more than its threshold (rows of a table, else matching
//! events) raises an alert through the pipeline: stored in the alert queue
//! and sent to the outputs like a rule's.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use taishi_ingest::CancellationToken;
use taishi_state::{SavedSearch, Scope};

use crate::routes::search::{run_search, SearchBody, SearchResult};
use crate::App;

/// Sample rows or events an alert keeps from the answer.
const SAMPLE: usize = 10;

pub(crate) fn spawn(
    app: Arc<App>,
    cancel: CancellationToken,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let a = app.clone();
            let due =
                tokio::task::spawn_blocking(move || a.state.due_saved_searches(Utc::now())).await;
            match due {
                Ok(Ok(due)) => {
                    for s in due {
                        if cancel.is_cancelled() {
                            return;
                        }
                        run_one(&app, s).await;
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "scheduled searches not read"),
                Err(e) => tracing::warn!(error = %e, "scheduled searches not read"),
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    })
}

/// Runs one scheduled search now and records what it found.
pub async fn run_one(app: &Arc<App>, s: SavedSearch) {
    let now = Utc::now();
    let every = s.interval_secs.unwrap_or(60);
    let from = now - TimeDelta::seconds(every as i64);
    let body = SearchBody {
        query: s.query.clone(),
        from: Some(from.to_rfc3339()),
        to: Some(now.to_rfc3339()),
        limit: Some(SAMPLE),
        offset: None,
    };
    let a = app.clone();
    let org = s.org.clone();
    let answer = app
        .searches
        .run(move |budget| {
            let scope = Scope::Orgs(a.state.subtree(&org)?);
            run_search(&a, &scope, &body, budget)
        })
        .await;
    let result = match answer {
        Err(e) => format!("failed: {} / 执行失败", e.message),
        Ok(answer) => {
            let (value, sample) = match answer.result {
                SearchResult::Table { columns, rows } => (
                    rows.len() as u64,
                    serde_json::json!({"columns": columns, "rows": rows.into_iter().take(SAMPLE).collect::<Vec<_>>()}),
                ),
                SearchResult::Hits { total, events } => (total, serde_json::json!(events)),
            };
            if value > s.threshold {
                let level =
                    taishi_alert::Level::parse(&s.level).unwrap_or(taishi_alert::Level::Medium);
                let alert =
                    taishi_runtime::alerts::scheduled_search(&taishi_runtime::alerts::SearchHit {
                        id: &s.id,
                        name: &s.name,
                        query: &s.query,
                        org: &s.org,
                        level,
                        value,
                        threshold: s.threshold,
                        from,
                        to: now,
                        sample,
                    });
                let p = app.pipeline.clone();
                let _ = tokio::task::spawn_blocking(move || p.raise(vec![alert])).await;
                format!(
                    "{value} > {} : alert raised / 超过阈值，已告警",
                    s.threshold
                )
            } else {
                format!("{value} ≤ {} : no alert / 未超过阈值", s.threshold)
            }
        }
    };
    tracing::info!(search = %s.name, org = %s.org, %result, "scheduled search ran");
    let st = app.state.clone();
    let id = s.id.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(e) = st.record_saved_search_run(&id, now, &result) {
            tracing::warn!(error = %e, "scheduled search run not recorded");
        }
    })
    .await;
}
