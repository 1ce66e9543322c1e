//! Whose data a listener received: the organisation every event belongs
//! to, decided where the data came in and stamped as `organization.id`.
//!
//! In order: the credential of an HTTP request (an ingest token is bound
//! to one organisation), then the listener's `org_by_source` table (the
//! sender's address, longest prefix first: one syslog port can serve
//! several operators), then the listener's `org`, then the top
//! organisation. What a sender wrote in `organization.id` is always
//! replaced: a member cannot file its events under a sibling's name.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use taishi_event::{ecs, Event};

use crate::Batch;

/// Entries an `org_by_source` table may hold (each event walks it).
pub const MAX_SOURCE_PREFIXES: usize = 4096;

/// A listener's binding as written in `taishi.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgBinding {
    pub org: Option<String>,
    /// Sender address or prefix (`10.1.0.0/16`, `192.0.2.7`) → organisation.
    pub by_source: BTreeMap<String, String>,
}

impl OrgBinding {
    /// Problems with the table (bad prefixes, too many), for `config check`.
    pub fn problems(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.by_source.len() > MAX_SOURCE_PREFIXES {
            v.push(format!(
                "{} entries, at most {MAX_SOURCE_PREFIXES}",
                self.by_source.len()
            ));
        }
        for k in self.by_source.keys() {
            if parse_prefix(k).is_none() {
                v.push(format!(
                    "`{k}` is not an address or prefix (write 10.1.0.0/16 or 192.0.2.7)"
                ));
            }
        }
        v
    }

    /// Every organisation it names.
    pub fn orgs(&self) -> impl Iterator<Item = &str> {
        self.org
            .iter()
            .map(String::as_str)
            .chain(self.by_source.values().map(String::as_str))
    }
}

fn parse_prefix(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

#[derive(Debug, Clone)]
struct Compiled {
    org: Option<Arc<str>>,
    /// Longest prefix first.
    by_source: Vec<(IpNet, Arc<str>)>,
}

/// Every listener's binding, ready for the per-event lookup.
#[derive(Debug, Clone)]
pub struct Tenancy {
    top: Arc<str>,
    listeners: HashMap<Arc<str>, Compiled>,
}

impl Tenancy {
    /// Everything belongs to `top` unless a listener says otherwise.
    pub fn new(top: &str) -> Tenancy {
        Tenancy {
            top: Arc::from(top),
            listeners: HashMap::new(),
        }
    }

    /// Adds a listener's binding; prefixes that do not parse are skipped
    /// (`OrgBinding::problems` reports them before start).
    pub fn listener(mut self, name: &str, b: &OrgBinding) -> Tenancy {
        let mut by_source: Vec<(IpNet, Arc<str>)> = b
            .by_source
            .iter()
            .take(MAX_SOURCE_PREFIXES)
            .filter_map(|(k, v)| Some((parse_prefix(k)?, Arc::from(v.as_str()))))
            .collect();
        by_source.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
        self.listeners.insert(
            Arc::from(name),
            Compiled {
                org: b.org.as_deref().map(Arc::from),
                by_source,
            },
        );
        self
    }

    /// The organisation of one event of `batch`.
    pub fn org_of(&self, batch: &Batch, ev: &Event) -> Arc<str> {
        if let Some(o) = &batch.org {
            return o.clone();
        }
        let Some(l) = self.listeners.get(&batch.listener) else {
            return self.top.clone();
        };
        if !l.by_source.is_empty() {
            // The listeners write the peer as `ip:port`.
            let sender = ev
                .get_str(crate::syslog::SOURCE_ADDRESS_FIELD)
                .and_then(|a| {
                    a.parse::<IpAddr>()
                        .ok()
                        .or_else(|| a.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
                });
            if let Some(ip) = sender {
                if let Some((_, o)) = l.by_source.iter().find(|(n, _)| n.contains(&ip)) {
                    return o.clone();
                }
            }
        }
        l.org.clone().unwrap_or_else(|| self.top.clone())
    }

    /// Stamps every event of the batch with its organisation, replacing
    /// whatever the sender wrote there.
    pub fn stamp(&self, batch: &mut Batch) {
        let mut events = std::mem::take(&mut batch.events);
        for ev in &mut events {
            let org = self.org_of(batch, ev);
            // A nested `organization` object from the sender would be found
            // by path lookups beside ours.
            if ev.get("organization").is_some() {
                ev.remove("organization");
            }
            ev.set(ecs::ORGANIZATION_ID, &*org);
        }
        batch.events = events;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(from: &str, claims: Option<&str>) -> Event {
        let mut e = Event::new();
        e.push(crate::syslog::SOURCE_ADDRESS_FIELD, from);
        if let Some(c) = claims {
            e.push(ecs::ORGANIZATION_ID, c);
        }
        e
    }

    #[test]
    fn credential_then_sender_then_listener_then_top() {
        let b = OrgBinding {
            org: Some("op-a".into()),
            by_source: [
                ("10.0.0.0/8".to_string(), "op-b".to_string()),
                ("10.9.0.0/16".to_string(), "op-c".to_string()),
                ("192.0.2.7".to_string(), "op-d".to_string()),
            ]
            .into(),
        };
        assert!(b.problems().is_empty());
        let t = Tenancy::new("root").listener("syslog", &b);
        let mut batch = Batch::new(Arc::from("syslog"));
        batch.events = vec![
            ev("10.1.2.3", Some("op-z")),
            ev("10.9.1.1:514", None),
            ev("192.0.2.7", None),
            ev("203.0.113.1", None),
            ev("not an address", None),
        ];
        t.stamp(&mut batch);
        let orgs: Vec<&str> = batch
            .events
            .iter()
            .map(|e| e.get_str(ecs::ORGANIZATION_ID).unwrap())
            .collect();
        assert_eq!(orgs, ["op-b", "op-c", "op-d", "op-a", "op-a"]);

        let mut other = Batch::new(Arc::from("tail"));
        other.events = vec![ev("10.1.2.3", None)];
        t.stamp(&mut other);
        assert_eq!(other.events[0].get_str(ecs::ORGANIZATION_ID), Some("root"));

        let mut http = Batch::new(Arc::from("syslog"));
        http.org = Some(Arc::from("op-t"));
        http.events = vec![ev("10.1.2.3", Some("op-z"))];
        t.stamp(&mut http);
        assert_eq!(http.events[0].get_str(ecs::ORGANIZATION_ID), Some("op-t"));
        assert_eq!(
            http.events[0]
                .fields()
                .filter(|(k, _)| *k == ecs::ORGANIZATION_ID)
                .count(),
            1
        );
    }

    #[test]
    fn bad_prefixes_are_reported() {
        let b = OrgBinding {
            org: None,
            by_source: [("10.0.0.0/33".to_string(), "x".to_string())].into(),
        };
        assert_eq!(b.problems().len(), 1);
    }
}
