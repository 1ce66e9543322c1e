//! A sink for tests: keeps batches, can hold them (a slow store) or fail
//! them (a store that is down).

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use taishi_event::{Event, Reject};
use taishi_ingest::{Batch, IngestSink, SinkError};
use tokio::sync::Semaphore;

pub struct TestSink {
    batches: Mutex<Vec<Batch>>,
    gate: Semaphore,
    fail: Mutex<Option<SinkError>>,
    pub waiting: AtomicUsize,
}

impl TestSink {
    pub fn open() -> Self {
        Self::with_permits(Semaphore::MAX_PERMITS)
    }

    /// Every submit waits until [`TestSink::release`].
    pub fn blocked() -> Self {
        Self::with_permits(0)
    }

    fn with_permits(n: usize) -> Self {
        TestSink {
            batches: Mutex::new(Vec::new()),
            gate: Semaphore::new(n),
            fail: Mutex::new(None),
            waiting: AtomicUsize::new(0),
        }
    }

    pub fn failing() -> Self {
        Self::failing_with(SinkError::Unavailable("test store is down".into()))
    }

    /// Every submit fails with `e`.
    pub fn failing_with(e: SinkError) -> Self {
        let s = Self::open();
        *s.fail.lock().unwrap() = Some(e);
        s
    }

    pub fn release(&self) {
        self.gate.add_permits(1 << 20);
    }

    pub fn events(&self) -> Vec<Event> {
        let b = self.batches.lock().unwrap();
        b.iter().flat_map(|b| b.events.iter().cloned()).collect()
    }

    pub fn rejects(&self) -> Vec<Reject> {
        let b = self.batches.lock().unwrap();
        b.iter().flat_map(|b| b.rejects.iter().cloned()).collect()
    }

    pub fn batch_count(&self) -> usize {
        self.batches.lock().unwrap().len()
    }

    pub fn event_count(&self) -> usize {
        self.batches
            .lock()
            .unwrap()
            .iter()
            .map(|b| b.events.len())
            .sum()
    }
}

impl IngestSink for TestSink {
    async fn submit(&self, batch: Batch) -> Result<(), SinkError> {
        if let Some(e) = self.fail.lock().unwrap().clone() {
            return Err(e);
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _permit = self.gate.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        self.batches.lock().unwrap().push(batch);
        Ok(())
    }
}

/// Polls `cond` every 10 ms for up to `secs` seconds.
pub async fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

pub fn str_field<'a>(ev: &'a Event, name: &str) -> Option<&'a str> {
    ev.get_str(name)
}
