//! Who holds a connection, so that idle ones cannot starve real senders.
//!
//! A plain cap (accept no more once N are open) lets anyone who opens N
//! idle connections lock every sender out. Instead, each source address
//! may hold only `per_ip` connections, and when the listener is at `max`
//! the connection that has been quiet longest (and is not in the middle
//! of a request) is closed to make room for the new one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::internal_events::{ConnectionEvicted, ConnectionRefused};
use crate::ListenerMetrics;

/// Connection limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Open connections at most; at the cap the longest-idle one is closed
    /// for a new one.
    pub max: usize,
    /// Open connections from one source address at most; beyond it new
    /// ones are closed at once.
    pub per_ip: usize,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this address already holds {0} connections (the per-address limit)")]
    PerAddress(usize),
    #[error("all {0} connections are busy")]
    Full(usize),
}

/// What a connection tells the tracker about itself.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    busy: AtomicU32,
}

impl Activity {
    /// Something was received or sent.
    pub fn touch(&self) {
        self.last_ms
            .store(self.epoch.elapsed().as_millis() as u64, Relaxed);
    }

    /// A request is being served: the connection is not idle whatever its
    /// socket does. Pair with [`Activity::end`].
    pub fn begin(&self) {
        self.busy.fetch_add(1, Relaxed);
        self.touch();
    }

    pub fn end(&self) {
        self.busy.fetch_sub(1, Relaxed);
        self.touch();
    }

    fn idle_since(&self) -> Option<u64> {
        (self.busy.load(Relaxed) == 0).then(|| self.last_ms.load(Relaxed))
    }
}

struct Entry {
    ip: IpAddr,
    activity: Arc<Activity>,
    evict: CancellationToken,
}

#[derive(Default)]
struct Inner {
    next: u64,
    open: HashMap<u64, Entry>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Inner {
    fn remove(&mut self, id: u64) -> bool {
        let Some(e) = self.open.remove(&id) else {
            return false;
        };
        if let Some(n) = self.per_ip.get_mut(&e.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&e.ip);
            }
        }
        true
    }
}

/// The open connections of one listener.
pub struct Conns {
    limits: ConnLimits,
    epoch: Instant,
    inner: Mutex<Inner>,
    metrics: Arc<ListenerMetrics>,
}

impl Conns {
    pub fn new(limits: ConnLimits, metrics: Arc<ListenerMetrics>) -> Arc<Self> {
        Arc::new(Conns {
            limits: ConnLimits {
                max: limits.max.max(1),
                per_ip: limits.per_ip.max(1),
            },
            epoch: Instant::now(),
            inner: Mutex::new(Inner::default()),
            metrics,
        })
    }

    pub fn limits(&self) -> ConnLimits {
        self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn open(&self) -> usize {
        self.lock().open.len()
    }

    fn refuse(&self, ip: IpAddr, reason: Refused) -> Refused {
        self.metrics.emit(ConnectionRefused {
            ip,
            reason: &reason,
        });
        reason
    }

    /// Admits a connection from `ip`, closing the longest-idle one when the
    /// listener is full. Refusals and evictions are counted.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, Refused> {
        let mut g = self.lock();
        let from_ip = g.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.limits.per_ip {
            drop(g);
            return Err(self.refuse(ip, Refused::PerAddress(self.limits.per_ip)));
        }
        if g.open.len() >= self.limits.max {
            let victim = g
                .open
                .iter()
                .filter_map(|(id, e)| e.activity.idle_since().map(|t| (t, *id)))
                .min();
            match victim {
                Some((_, id)) => {
                    if let Some(e) = g.open.get(&id) {
                        e.evict.cancel();
                    }
                    g.remove(id);
                    self.metrics.emit(ConnectionEvicted);
                }
                None => {
                    drop(g);
                    return Err(self.refuse(ip, Refused::Full(self.limits.max)));
                }
            }
        }
        let id = g.next;
        g.next += 1;
        let activity = Arc::new(Activity {
            epoch: self.epoch,
            last_ms: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            busy: AtomicU32::new(0),
        });
        let evict = CancellationToken::new();
        g.open.insert(
            id,
            Entry {
                ip,
                activity: activity.clone(),
                evict: evict.clone(),
            },
        );
        *g.per_ip.entry(ip).or_default() += 1;
        Ok(ConnGuard {
            id,
            conns: self.clone(),
            activity,
            evicted: evict,
        })
    }
}

/// One admitted connection; leaves the tracker when dropped.
pub struct ConnGuard {
    id: u64,
    conns: Arc<Conns>,
    pub activity: Arc<Activity>,
    /// Cancelled when the connection was chosen to make room: close it.
    pub evicted: CancellationToken,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.conns.lock().remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conns(max: usize, per_ip: usize) -> Arc<Conns> {
        Conns::new(
            ConnLimits { max, per_ip },
            Arc::new(ListenerMetrics::new("t".into(), "test")),
        )
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let c = conns(10, 2);
        let _a = c.admit(ip(2)).unwrap();
        let _b = c.admit(ip(2)).unwrap();
        assert_eq!(c.admit(ip(2)).err(), Some(Refused::PerAddress(2)));
        assert!(c.admit(ip(1)).is_ok());
        assert_eq!(c.metrics.snapshot().connections_refused, 1);
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let c = conns(2, 10);
        let old = c.admit(ip(2)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let newer = c.admit(ip(2)).unwrap();
        let _third = c.admit(ip(1)).unwrap();
        assert!(old.evicted.is_cancelled());
        assert!(!newer.evicted.is_cancelled());
        assert_eq!(c.open(), 2);
        drop(old);
        assert_eq!(c.open(), 2);
        assert_eq!(c.metrics.snapshot().connections_evicted, 1);
    }

    #[test]
    fn busy_connections_are_never_evicted() {
        let c = conns(1, 10);
        let a = c.admit(ip(2)).unwrap();
        a.activity.begin();
        assert_eq!(c.admit(ip(1)).err(), Some(Refused::Full(1)));
        a.activity.end();
        assert!(c.admit(ip(1)).is_ok());
        assert!(a.evicted.is_cancelled());
    }

    #[test]
    fn dropping_guards_frees_their_address_share() {
        let c = conns(10, 1);
        let a = c.admit(ip(3)).unwrap();
        drop(a);
        assert!(c.admit(ip(3)).is_ok());
    }
}
