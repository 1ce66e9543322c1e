//! A listener's health as the console and `/health` show it: the
//! counters that matter to an operator, the kernel's drops, how long ago
//! the last event came, and the rate of stored events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use schemars::JsonSchema;
use serde::Serialize;

use crate::metrics::Registry;

/// A listener the service runs: its name, kind and where it listens.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerInfo {
    pub name: String,
    pub kind: String,
    /// The bound address, or `files` for a file tail.
    pub address: String,
}

/// One listener's health.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListenerStatus {
    pub name: String,
    pub kind: String,
    pub address: String,
    /// Events decoded.
    pub received: u64,
    /// Events the store made durable.
    pub acked: u64,
    /// Malformed records kept aside.
    pub rejected: u64,
    /// Datagrams dropped in the service's queue plus those the kernel
    /// dropped because the socket's receive buffer overflowed.
    pub udp_dropped: u64,
    /// The kernel's part of `udp_dropped` (UDP listeners on Linux).
    pub kernel_dropped: Option<u64>,
    /// Batches the store did not take.
    pub errors: u64,
    pub queue_depth: u64,
    /// Milliseconds since the last event; none before the first.
    pub lag_ms: Option<i64>,
    /// Events stored per second since the previous look (at least a second
    /// before); none at the first look.
    pub events_per_s: Option<f64>,
}

/// The last look at each listener, for its rate.
#[derive(Debug, Default, Clone)]
pub(crate) struct Rates(Arc<Mutex<HashMap<String, Look>>>);

#[derive(Debug, Clone, Copy)]
struct Look {
    at: Instant,
    acked: u64,
    rate: Option<f64>,
}

impl Rates {
    /// The rate since the previous look. Looks less than a second apart
    /// (two consoles refreshing at once) keep the previous rate, so one of
    /// them does not see a rate made of a few milliseconds.
    fn rate(&self, name: &str, acked: u64) -> Option<f64> {
        let now = Instant::now();
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match m.get_mut(name) {
            Some(l) if now.duration_since(l.at).as_secs_f64() < 1.0 => l.rate,
            Some(l) => {
                let dt = now.duration_since(l.at).as_secs_f64();
                l.rate = Some(acked.saturating_sub(l.acked) as f64 / dt);
                l.at = now;
                l.acked = acked;
                l.rate
            }
            None => {
                m.insert(
                    name.to_string(),
                    Look {
                        at: now,
                        acked,
                        rate: None,
                    },
                );
                None
            }
        }
    }
}

impl Registry {
    /// The health of `listeners`, in their order; one without metrics
    /// (not started) shows zeros.
    pub fn status(&self, listeners: &[ListenerInfo]) -> Vec<ListenerStatus> {
        let snaps = self.snapshots();
        let now_ms = chrono::Utc::now().timestamp_millis();
        listeners
            .iter()
            .map(|l| {
                let s = snaps.iter().find(|s| s.name == l.name);
                let kernel = s.and_then(|s| s.kernel_dropped);
                let acked = s.map(|s| s.events_acked).unwrap_or(0);
                ListenerStatus {
                    name: l.name.clone(),
                    kind: l.kind.clone(),
                    address: l.address.clone(),
                    received: s.map(|s| s.events_received).unwrap_or(0),
                    acked,
                    rejected: s.map(|s| s.rejects).unwrap_or(0),
                    udp_dropped: s.map(|s| s.udp_dropped).unwrap_or(0) + kernel.unwrap_or(0),
                    kernel_dropped: kernel,
                    errors: s.map(|s| s.sink_errors).unwrap_or(0),
                    queue_depth: s.map(|s| s.queue_depth).unwrap_or(0),
                    lag_ms: s
                        .and_then(|s| s.last_event_unix_ms)
                        .map(|t| (now_ms - t).max(0)),
                    events_per_s: self.rates().rate(&l.name, acked),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{ListenerMetrics, Series};

    #[test]
    fn a_listener_status_carries_its_counters_and_a_rate_from_the_second_look() {
        let reg = Registry::new();
        let m = Arc::new(ListenerMetrics::new("syslog".into(), "syslog_udp"));
        reg.register(m.clone());
        m.add(Series::EventsReceived, 5);
        m.add(Series::EventsAcked, 4);
        let info = [ListenerInfo {
            name: "syslog".into(),
            kind: "syslog_udp".into(),
            address: "127.0.0.1:5514".into(),
        }];
        let first = reg.status(&info);
        assert_eq!((first[0].received, first[0].acked), (5, 4));
        assert_eq!(first[0].events_per_s, None);
        // Backdate the first look so the second is a second later.
        {
            let mut r = reg.rates().0.lock().unwrap();
            r.get_mut("syslog").unwrap().at -= std::time::Duration::from_secs(2);
        }
        m.add(Series::EventsAcked, 10);
        let rate = reg.status(&info)[0].events_per_s.unwrap();
        assert!((4.0..=5.1).contains(&rate), "{rate}");
    }
}
