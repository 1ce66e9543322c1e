//! Every search the API runs goes through here: a bounded pool of slots,
//! a deadline, a memory cap, cancellation when the client goes away, and
//! one flag that stops them all when the service stops.
//!
//! A search runs on a blocking thread; the request's future holds a guard
//! that cancels it when dropped, so a client that disconnects (hyper drops
//! the future) or a request timeout stops the work too, within
//! [`taishi_store::budget`]'s check interval.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use taishi_store::{Budget, StoreError};
use tokio::sync::Semaphore;

use crate::config::SearchSection;
use crate::routes::{ApiError, ErrorCode};

/// Why searches were refused or stopped, for `/metrics`.
#[derive(Debug, Default)]
pub struct SearchCounters {
    pub run: AtomicU64,
    pub timed_out: AtomicU64,
    pub cancelled: AtomicU64,
    pub too_costly: AtomicU64,
    pub queue_full: AtomicU64,
}

pub struct Searches {
    config: SearchSection,
    slots: Arc<Semaphore>,
    stopping: Arc<AtomicBool>,
    pub counters: Arc<SearchCounters>,
}

impl Searches {
    pub fn new(config: SearchSection) -> Searches {
        Searches {
            slots: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            config,
            stopping: Arc::new(AtomicBool::new(false)),
            counters: Arc::default(),
        }
    }

    /// Stops every running search at its next check and refuses new ones.
    pub fn stop_all(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.slots.close();
    }

    /// A fresh budget with the configured limits.
    pub fn budget(&self) -> Budget {
        Budget::new(
            Some(Duration::from_secs(self.config.timeout_secs.max(1))),
            Some(self.config.max_query_mib.max(1) << 20),
            Some(self.stopping.clone()),
        )
    }

    /// Runs `f` on a blocking thread within a slot and a budget. Slots are
    /// waited for at most `search.queue_secs`; then the caller gets a 429.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Budget) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let wait = Duration::from_secs(self.config.queue_secs);
        // The permit moves to the search's thread, so an abandoned search
        // keeps its slot until it has actually stopped.
        let permit = match tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the service is stopping; search again once it is back",
                ))
            }
            Err(_) => {
                self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "{} searches are already running and none finished within {} s; try again shortly (search.max_concurrent, search.queue_secs)",
                        self.config.max_concurrent, self.config.queue_secs
                    ),
                ));
            }
        };
        self.counters.run.fetch_add(1, Ordering::Relaxed);
        let budget = self.budget();
        let guard = budget.cancel_on_drop();
        let b = budget.clone();
        let counters = self.counters.clone();
        // The outcome is counted on the search's own thread: when the client
        // has gone away, nobody awaits this task any more.
        let out = tokio::task::spawn_blocking(move || {
            let out = f(&b);
            if out.is_err() {
                match b.check() {
                    Err(StoreError::TimedOut { .. }) => {
                        counters.timed_out.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(StoreError::Cancelled) => {
                        counters.cancelled.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
            drop(permit);
            out
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        guard.disarm();
        out
    }

    /// The API's answer to a store error met while searching.
    pub fn store_error(&self, e: StoreError) -> ApiError {
        match e {
            StoreError::TooCostly { .. } => {
                self.counters.too_costly.fetch_add(1, Ordering::Relaxed);
                ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
                    .code(ErrorCode::QueryTooCostly)
            }
            // The query, not the service, is at fault: asking again unchanged
            // would time out again.
            StoreError::TimedOut { .. } => ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
                .code(ErrorCode::QueryTooCostly),
            StoreError::BadQuery(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, e.to_string()).code(ErrorCode::InvalidQuery)
            }
            StoreError::Cancelled => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }

    /// The `/metrics` lines.
    pub fn prometheus(&self) -> String {
        use taishi_event::metrics::{Exposition, MetricKind};
        let c = &self.counters;
        let mut e = Exposition::new();
        e.scalar(
            "taishi_searches_total",
            MetricKind::Counter,
            "Searches run.",
            c.run.load(Ordering::Relaxed),
        );
        let refused = "taishi_searches_refused_total";
        e.family(
            refused,
            MetricKind::Counter,
            "Searches refused or stopped by their limits.",
        );
        for (reason, v) in [
            ("timeout", &c.timed_out),
            ("cancelled", &c.cancelled),
            ("too_costly", &c.too_costly),
            ("queue_full", &c.queue_full),
        ] {
            e.sample(refused, &[("reason", reason)], v.load(Ordering::Relaxed));
        }
        e.finish()
    }
}
