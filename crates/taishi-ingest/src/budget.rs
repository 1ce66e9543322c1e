//! The ingest memory circuit breaker: one process-wide budget of bytes in
//! flight (received but not yet made durable) shared by every listener.
//!
//! Each listener reserves before it holds: HTTP before it reads a body
//! piece (refusing with 429 when the budget is spent), TCP before it reads
//! from a socket (waiting, so the sender is slowed by TCP flow control),
//! UDP before it queues a datagram (dropping and counting when it cannot).
//! A reservation is given back when its batch is durable or dropped.
//! Elasticsearch's `indexing_pressure.memory.limit` is the model.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use tokio::sync::Notify;

/// Decoded events take several times the bytes of their input (field
/// names, values and the per-event vectors); reservations for decoding
/// count this many bytes per input byte.
pub const DECODED_FACTOR: usize = 4;

/// The budget. Cheap to share: clone the `Arc`.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicU64,
    freed: Notify,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(MemoryBudget {
            limit: limit.max(1),
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            freed: Notify::new(),
        })
    }

    /// A budget nothing is ever refused by (tests, embedded use).
    pub fn unlimited() -> Arc<Self> {
        MemoryBudget::new(usize::MAX)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn used(&self) -> usize {
        self.used.load(Relaxed)
    }

    /// Most bytes ever reserved at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }

    /// Reservations refused since start (HTTP 429s, dropped datagrams).
    pub fn refused(&self) -> u64 {
        self.refused.load(Relaxed)
    }

    fn take(&self, n: usize) -> bool {
        let mut cur = self.used.load(Relaxed);
        loop {
            // One reservation larger than the whole budget is still let
            // through when nothing else is in flight, or a single request
            // bigger than the budget could never be served.
            let next = cur.saturating_add(n);
            if next > self.limit && cur > 0 {
                return false;
            }
            match self.used.compare_exchange_weak(cur, next, Relaxed, Relaxed) {
                Ok(_) => {
                    self.peak.fetch_max(next, Relaxed);
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }

    fn give(&self, n: usize) {
        if n > 0 {
            self.used.fetch_sub(n, Relaxed);
            self.freed.notify_waiters();
        }
    }

    /// An empty reservation to grow later.
    pub fn empty(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            bytes: 0,
        }
    }

    /// `n` bytes now, or None (counted as refused) when the budget is spent.
    pub fn try_reserve(self: &Arc<Self>, n: usize) -> Option<Reservation> {
        let mut r = self.empty();
        r.try_grow(n).then_some(r)
    }
}

/// Bytes held against the budget; given back on drop.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: usize,
}

impl Reservation {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds `n` bytes if the budget allows; false (counted as refused)
    /// otherwise.
    pub fn try_grow(&mut self, n: usize) -> bool {
        if self.budget.take(n) {
            self.bytes += n;
            true
        } else {
            self.budget.refused.fetch_add(1, Relaxed);
            false
        }
    }

    /// Adds `n` bytes, waiting for others to give back as long as needed.
    /// Not counted as refused: waiting is how TCP senders are slowed.
    pub async fn grow(&mut self, n: usize) {
        loop {
            let freed = self.budget.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.budget.take(n) {
                self.bytes += n;
                return;
            }
            freed.await;
        }
    }

    /// Keeps at most `n` bytes, giving back the rest.
    pub fn shrink_to(&mut self, n: usize) {
        if n < self.bytes {
            self.budget.give(self.bytes - n);
            self.bytes = n;
        }
    }

    /// Holds exactly `n` bytes: grows (waiting) or shrinks.
    pub async fn resize(&mut self, n: usize) {
        if n > self.bytes {
            let more = n - self.bytes;
            self.grow(more).await;
        } else {
            self.shrink_to(n);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn refuses_beyond_the_limit_and_gives_back_on_drop() {
        let b = MemoryBudget::new(100);
        let r1 = b.try_reserve(60).unwrap();
        assert!(b.try_reserve(50).is_none());
        assert_eq!(b.refused(), 1);
        drop(r1);
        assert_eq!(b.used(), 0);
        assert!(b.try_reserve(100).is_some());
    }

    #[test]
    fn one_oversized_reservation_passes_when_alone() {
        let b = MemoryBudget::new(10);
        let r = b.try_reserve(50).unwrap();
        assert!(b.try_reserve(1).is_none());
        drop(r);
    }

    #[tokio::test]
    async fn grow_waits_until_bytes_are_given_back() {
        let b = MemoryBudget::new(100);
        let r1 = b.try_reserve(90).unwrap();
        let b2 = b.clone();
        let waiter = tokio::spawn(async move {
            let mut r = b2.empty();
            r.grow(50).await;
            r.bytes()
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(r1);
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, 50);
        assert_eq!(b.used(), 0);
    }

    proptest! {
        #[test]
        fn used_never_exceeds_limit_and_returns_to_zero(
            ops in proptest::collection::vec((0usize..200, any::<bool>()), 0..100)
        ) {
            let b = MemoryBudget::new(500);
            let mut held = Vec::new();
            for (n, keep) in ops {
                if let Some(r) = b.try_reserve(n) {
                    prop_assert!(b.used() <= 500 || held.is_empty());
                    if keep { held.push(r); }
                }
                if !keep && !held.is_empty() { held.remove(0); }
            }
            drop(held);
            prop_assert_eq!(b.used(), 0);
        }
    }
}
