//! Alerts → incidents: automatic grouping by entity.
//!
//! Method. Each alert gets one entity key, chosen from its rule's log
//! source class and ATT&CK tactics:
//!
//! * endpoint rules (Windows, Linux, macOS process/file/registry… logs):
//!   the host, else the user, else an IP address;
//! * identity rules (logons, directory and identity-provider logs, or a
//!   rule of an unknown source whose tactic is credential access): the user;
//! * network rules (firewall, proxy, DNS, IDS, Zeek, NetFlow): the source
//!   IP, else the destination IP;
//! * correlation alerts: their own `group-by` fields (a field that is a
//!   host/user/IP role becomes that entity, so a correlation joins the
//!   incidents of the same entity; other fields form a key of their own).
//!
//! Placeholder values (`data/placeholders.yaml`) are never a key: an alert
//! without a usable entity becomes an incident of its own. An alert joins
//! the open group of its key when it falls within `window` of the group's
//! alerts; otherwise it opens a new group. Groups close when event time
//! (the highest alert time seen) has moved `window` past their last alert,
//! and the least recently updated group is closed when `max_open_groups`
//! are open, so memory is bounded by the cap, not by the alert count.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, FixedOffset};
use serde::{Deserialize, Serialize};
use taishi_alert::{Alert, AlertKind, Level};
use taishi_event::roles;

use crate::lang::{Label, Lang, Text};
use crate::placeholder::Placeholders;

/// A Sigma log source, as the rule declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

/// The kind of rule, which decides the entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceClass {
    Endpoint,
    Identity,
    Network,
    Correlation,
    /// Nothing known: treated like an endpoint rule.
    Unknown,
}

impl Label for SourceClass {
    fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (SourceClass::Endpoint, Lang::Zh) => "终端类规则",
            (SourceClass::Identity, Lang::Zh) => "身份类规则",
            (SourceClass::Network, Lang::Zh) => "网络类规则",
            (SourceClass::Correlation, Lang::Zh) => "关联规则",
            (SourceClass::Unknown, Lang::Zh) => "来源未知的规则",
            (SourceClass::Endpoint, Lang::En) => "endpoint rule",
            (SourceClass::Identity, Lang::En) => "identity rule",
            (SourceClass::Network, Lang::En) => "network rule",
            (SourceClass::Correlation, Lang::En) => "correlation rule",
            (SourceClass::Unknown, Lang::En) => "rule of unknown source",
        }
    }
}

const NETWORK_PRODUCTS: &[&str] = &[
    "zeek",
    "suricata",
    "snort",
    "cisco",
    "paloalto",
    "fortinet",
    "fortigate",
    "checkpoint",
    "juniper",
    "huawei",
    "h3c",
    "sangfor",
    "netflow",
    "firewall",
];
const NETWORK_SENSORS: &[&str] = &["zeek", "suricata", "snort", "netflow"];
const NETWORK_CATEGORIES: &[&str] = &[
    "firewall",
    "proxy",
    "dns",
    "webserver",
    "network",
    "ids",
    "netflow",
];
const IDENTITY_PRODUCTS: &[&str] = &[
    "okta",
    "azure",
    "m365",
    "google_workspace",
    "onelogin",
    "duo",
    "ad",
    "ldap",
];
const IDENTITY_SERVICES: &[&str] = &[
    "signinlogs",
    "auditlogs",
    "activedirectory",
    "ldap",
    "kerberos",
    "ntlm",
    "sshd",
    "auth",
    "pam",
    "okta",
    "radius",
    "duo",
    "onelogin.events",
];
const IDENTITY_CATEGORIES: &[&str] = &["authentication", "logon"];
const ENDPOINT_PRODUCTS: &[&str] = &["windows", "linux", "macos", "unix"];
/// Windows Security logon/credential events: identity evidence even though
/// the product is an endpoint's.
const LOGON_EVENT_IDS: &[i64] = &[4624, 4625, 4634, 4648, 4740, 4768, 4769, 4771, 4776, 4778];

fn is_in(v: &Option<String>, set: &[&str]) -> bool {
    v.as_deref()
        .is_some_and(|v| set.iter().any(|s| v.eq_ignore_ascii_case(s)))
}

fn has_tag(a: &Alert, tag: &str) -> bool {
    a.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
}

/// The class of an alert's rule: from its log source when known, else from
/// the alert's event and tactics.
pub fn classify(alert: &Alert, ls: Option<&LogSource>) -> SourceClass {
    if alert.kind == AlertKind::Correlation {
        return SourceClass::Correlation;
    }
    if let Some(ls) = ls {
        // A network sensor's view of a logon (Zeek's kerberos log) is
        // about addresses: its user fields are not the roles' names.
        if is_in(&ls.product, NETWORK_SENSORS) {
            return SourceClass::Network;
        }
        if is_in(&ls.service, IDENTITY_SERVICES)
            || is_in(&ls.product, IDENTITY_PRODUCTS)
            || is_in(&ls.category, IDENTITY_CATEGORIES)
        {
            return SourceClass::Identity;
        }
        if is_in(&ls.product, NETWORK_PRODUCTS)
            || (is_in(&ls.category, NETWORK_CATEGORIES) && !is_in(&ls.product, ENDPOINT_PRODUCTS))
        {
            return SourceClass::Network;
        }
        if ls
            .service
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("security"))
            && (has_tag(alert, "attack.credential_access")
                || has_tag(alert, "attack.initial_access"))
        {
            return SourceClass::Identity;
        }
        if is_in(&ls.product, ENDPOINT_PRODUCTS) || ls.category.is_some() {
            return SourceClass::Endpoint;
        }
    }
    // No log source: read the event.
    let ev = &alert.event;
    let field = |k: &str| ev.get(k);
    if let Some(id) = field("EventID").and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
    {
        let security = field("Channel")
            .or_else(|| field("winlog.channel"))
            .and_then(|v| v.as_str())
            .is_some_and(|c| c.eq_ignore_ascii_case("security"));
        if security && LOGON_EVENT_IDS.contains(&id) {
            return SourceClass::Identity;
        }
        return SourceClass::Endpoint;
    }
    if field("id.orig_h").is_some() || field("event_type").is_some() || field("src_ip").is_some() {
        return SourceClass::Network;
    }
    if has_tag(alert, "attack.credential_access") {
        return SourceClass::Identity;
    }
    if alert.host.is_some() {
        return SourceClass::Endpoint;
    }
    if alert.source_ip.is_some() || alert.destination_ip.is_some() {
        return SourceClass::Network;
    }
    SourceClass::Unknown
}

/// What an entity key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Host,
    User,
    Ip,
    /// A correlation's group-by values that are no host, user or IP.
    Group,
}

impl Label for EntityKind {
    fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (EntityKind::Host, Lang::Zh) => "主机",
            (EntityKind::User, Lang::Zh) => "用户",
            (EntityKind::Ip, Lang::Zh) => "IP 地址",
            (EntityKind::Group, Lang::Zh) => "关联分组",
            (EntityKind::Host, Lang::En) => "host",
            (EntityKind::User, Lang::En) => "user",
            (EntityKind::Ip, Lang::En) => "IP address",
            (EntityKind::Group, Lang::En) => "correlation group",
        }
    }
}

/// The (normalised) entity alerts are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityKey {
    pub kind: EntityKind,
    pub value: String,
}

/// Grouping settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupConfig {
    /// An alert joins a group whose alerts are within this of its time.
    pub window: Duration,
    /// Open groups kept at most; the least recently updated closes first.
    pub max_open_groups: usize,
    /// `WS01.corp.local` and `ws01` are one host.
    pub host_short_name: bool,
    /// `CORP\bob` and `bob@corp.local` are the user `bob`.
    pub user_strip_domain: bool,
    /// Key values longer than this are cut (a hostile log line).
    pub max_key_chars: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            window: Duration::hours(24),
            max_open_groups: 100_000,
            host_short_name: true,
            user_strip_domain: true,
            max_key_chars: 256,
        }
    }
}

/// An incident of the grouper's numbering; the caller maps it to its own.
pub type GroupId = u64;

/// Where an alert went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub group: GroupId,
    /// A new group (create the incident).
    pub new: bool,
    /// None: no usable entity, the alert stands alone.
    pub key: Option<EntityKey>,
    pub class: SourceClass,
    /// Why, for the alert's provenance in the incident.
    pub reason: Text,
}

/// Why a group closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Event time moved a window past its last alert.
    Window,
    /// Too many groups were open.
    Evicted,
    /// A later alert of its key fell outside the window.
    Replaced,
}

/// A group that stopped taking alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClosedGroup {
    pub group: GroupId,
    pub key: EntityKey,
    pub alerts: u64,
    pub max_level: Level,
    pub reason: CloseReason,
}

#[derive(Debug)]
struct Open {
    group: GroupId,
    first_ms: i64,
    last_ms: i64,
    seq: u64,
    alerts: u64,
    max_level: Level,
}

/// The grouping state machine. Pure: time is the alerts' own.
#[derive(Debug)]
pub struct Grouper {
    cfg: GroupConfig,
    placeholders: Placeholders,
    rule_sources: HashMap<String, LogSource>,
    open: HashMap<EntityKey, Open>,
    /// (last alert ms, sequence) → key: the close and evict order.
    order: BTreeMap<(i64, u64), EntityKey>,
    seq: u64,
    next_group: GroupId,
    watermark_ms: i64,
    closed: Vec<ClosedGroup>,
}

/// Rules whose log source is registered at most.
pub const MAX_RULE_SOURCES: usize = 100_000;

impl Grouper {
    pub fn new(cfg: GroupConfig) -> Grouper {
        Grouper::with_placeholders(cfg, Placeholders::builtin().clone())
    }

    pub fn with_placeholders(cfg: GroupConfig, placeholders: Placeholders) -> Grouper {
        Grouper {
            cfg,
            placeholders,
            rule_sources: HashMap::new(),
            open: HashMap::new(),
            order: BTreeMap::new(),
            seq: 0,
            next_group: 1,
            watermark_ms: i64::MIN,
            closed: Vec::new(),
        }
    }

    /// Tells the grouper a rule's log source (the runtime knows them from
    /// the loaded rules). Returns false past [`MAX_RULE_SOURCES`].
    pub fn register_rule(&mut self, rule_id: &str, ls: LogSource) -> bool {
        if self.rule_sources.len() >= MAX_RULE_SOURCES && !self.rule_sources.contains_key(rule_id) {
            return false;
        }
        self.rule_sources.insert(rule_id.to_string(), ls);
        true
    }

    pub fn open_groups(&self) -> usize {
        self.open.len()
    }

    /// Groups closed since the last call.
    pub fn drain_closed(&mut self) -> Vec<ClosedGroup> {
        std::mem::take(&mut self.closed)
    }

    fn cut(&self, s: &str) -> String {
        match s.char_indices().nth(self.cfg.max_key_chars) {
            Some((i, _)) => s[..i].to_string(),
            None => s.to_string(),
        }
    }

    /// A usable key for `kind` from a raw value, or None for placeholders.
    pub fn key(&self, kind: EntityKind, raw: &str) -> Option<EntityKey> {
        let raw = raw.trim();
        if self.placeholders.is_placeholder(raw) {
            return None;
        }
        let mut v = raw.to_lowercase();
        match kind {
            EntityKind::Host
                if self.cfg.host_short_name && v.parse::<std::net::IpAddr>().is_err() =>
            {
                if let Some(dot) = v.find('.') {
                    v.truncate(dot);
                }
            }
            EntityKind::User if self.cfg.user_strip_domain => {
                if let Some((_, u)) = v.rsplit_once('\\') {
                    v = u.to_string();
                }
                if let Some((u, _)) = v.split_once('@') {
                    v = u.to_string();
                }
            }
            _ => {}
        }
        if self.placeholders.is_placeholder(&v) {
            return None;
        }
        Some(EntityKey {
            kind,
            value: self.cut(&v),
        })
    }

    fn user_of(alert: &Alert) -> Option<&str> {
        roles::USER
            .iter()
            .find_map(|f| alert.summary.get(*f).and_then(|v| v.as_str()))
    }

    /// The entity an alert is grouped by.
    pub fn entity(&self, alert: &Alert, class: SourceClass) -> Option<EntityKey> {
        let host = || {
            alert
                .host
                .as_deref()
                .and_then(|h| self.key(EntityKind::Host, h))
        };
        let user = || Self::user_of(alert).and_then(|u| self.key(EntityKind::User, u));
        let ip = || {
            [&alert.source_ip, &alert.destination_ip]
                .into_iter()
                .flatten()
                .find_map(|i| self.key(EntityKind::Ip, i))
        };
        match class {
            SourceClass::Endpoint | SourceClass::Unknown => host().or_else(user).or_else(ip),
            SourceClass::Identity => user(),
            SourceClass::Network => ip(),
            SourceClass::Correlation => self.correlation_key(alert),
        }
    }

    /// A correlation's key from its `group-by` values (the hit's
    /// `group` object): a role field becomes its entity (host before user
    /// before IP), other fields one key of all their values.
    fn correlation_key(&self, alert: &Alert) -> Option<EntityKey> {
        let group = alert.event.get("group")?.as_object()?;
        let pairs: Vec<(&str, &str)> = group
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
            .collect();
        for (kind, names) in [
            (EntityKind::Host, roles::HOST),
            (EntityKind::User, roles::USER),
            (EntityKind::Ip, roles::SOURCE_IP),
            (EntityKind::Ip, roles::DESTINATION_IP),
        ] {
            if let Some(k) = pairs
                .iter()
                .filter(|(f, _)| names.contains(f))
                .find_map(|(_, v)| self.key(kind, v))
            {
                return Some(k);
            }
        }
        let mut parts: Vec<String> = pairs
            .iter()
            .filter(|(_, v)| !self.placeholders.is_placeholder(v))
            .map(|(k, v)| format!("{k}={}", v.to_lowercase()))
            .collect();
        if parts.is_empty() {
            return None;
        }
        parts.sort();
        Some(EntityKey {
            kind: EntityKind::Group,
            value: self.cut(&parts.join(";")),
        })
    }

    fn close(&mut self, key: &EntityKey, reason: CloseReason) {
        if let Some(o) = self.open.remove(key) {
            self.order.remove(&(o.last_ms, o.seq));
            self.closed.push(ClosedGroup {
                group: o.group,
                key: key.clone(),
                alerts: o.alerts,
                max_level: o.max_level,
                reason,
            });
        }
    }

    /// Closes groups the event time has left behind.
    fn expire(&mut self) {
        let cutoff = self
            .watermark_ms
            .saturating_sub(self.cfg.window.num_milliseconds());
        while let Some((&(last, _), _)) = self.order.first_key_value() {
            if last >= cutoff {
                break;
            }
            let (_, key) = self.order.pop_first().expect("just seen");
            if let Some(o) = self.open.remove(&key) {
                self.closed.push(ClosedGroup {
                    group: o.group,
                    key,
                    alerts: o.alerts,
                    max_level: o.max_level,
                    reason: CloseReason::Window,
                });
            }
        }
    }

    /// At `max_open_groups`, closes the least recently updated group.
    fn make_room(&mut self) {
        if self.open.len() >= self.cfg.max_open_groups.max(1) {
            if let Some((_, victim)) = self.order.pop_first() {
                if let Some(o) = self.open.remove(&victim) {
                    self.closed.push(ClosedGroup {
                        group: o.group,
                        key: victim,
                        alerts: o.alerts,
                        max_level: o.max_level,
                        reason: CloseReason::Evicted,
                    });
                }
            }
        }
    }

    fn new_group(&mut self) -> GroupId {
        let g = self.next_group;
        self.next_group += 1;
        g
    }

    /// Assigns one alert to a group.
    pub fn assign(&mut self, alert: &Alert) -> Assignment {
        let ls = self.rule_sources.get(&alert.rule_id);
        let class = classify(alert, ls);
        let ts = alert.timestamp.timestamp_millis();
        self.watermark_ms = self.watermark_ms.max(ts);
        self.expire();
        let Some(key) = self.entity(alert, class) else {
            let group = self.new_group();
            return Assignment {
                group,
                new: true,
                key: None,
                class,
                reason: Text::new(
                    format!("{}无可用实体（占位值不参与归并），单独成事件", class.label(Lang::Zh)),
                    format!("{} with no usable entity (placeholders never join): an incident of its own", class.label(Lang::En)),
                ),
            };
        };
        let w = self.cfg.window.num_milliseconds();
        let joins = self.open.get(&key).is_some_and(|o| {
            ts >= o.first_ms.saturating_sub(w) && ts <= o.last_ms.saturating_add(w)
        });
        if let Some(o) = self.open.get(&key) {
            if ts < o.first_ms.saturating_sub(w) {
                // A late alert from before the open group's window: its own
                // incident, so the current group keeps collecting.
                let group = self.new_group();
                return Assignment {
                    group,
                    new: true,
                    key: Some(key),
                    class,
                    reason: Text::new(
                        "告警时间早于该实体当前事件的时间窗口，单独成事件",
                        "the alert predates the window of its entity's open incident: an incident of its own",
                    ),
                };
            }
            if !joins {
                self.close(&key, CloseReason::Replaced);
            }
        }
        let reason = Text::new(
            format!(
                "{}：按{} {} 归并",
                class.label(Lang::Zh),
                key.kind.label(Lang::Zh),
                key.value
            ),
            format!(
                "{}: grouped by {} {}",
                class.label(Lang::En),
                key.kind.label(Lang::En),
                key.value
            ),
        );
        self.seq += 1;
        let seq = self.seq;
        if joins {
            let o = self.open.get_mut(&key).expect("checked");
            let old = (o.last_ms, o.seq);
            o.first_ms = o.first_ms.min(ts);
            o.last_ms = o.last_ms.max(ts);
            o.seq = seq;
            o.alerts += 1;
            o.max_level = o.max_level.max(alert.level);
            let group = o.group;
            let new_order = (o.last_ms, seq);
            self.order.remove(&old);
            self.order.insert(new_order, key.clone());
            return Assignment {
                group,
                new: false,
                key: Some(key),
                class,
                reason,
            };
        }
        self.make_room();
        let group = self.new_group();
        self.open.insert(
            key.clone(),
            Open {
                group,
                first_ms: ts,
                last_ms: ts,
                seq,
                alerts: 1,
                max_level: alert.level,
            },
        );
        self.order.insert((ts, seq), key.clone());
        Assignment {
            group,
            new: true,
            key: Some(key),
            class,
            reason,
        }
    }

    /// Opens a group for `key` as it stood before a restart (an incident
    /// still open, its alerts between `first` and `last`): later alerts of
    /// the key within the window join it. Returns its group id. A key
    /// already open is left as is (its id returned).
    pub fn seed(
        &mut self,
        key: EntityKey,
        first: DateTime<FixedOffset>,
        last: DateTime<FixedOffset>,
        alerts: u64,
        max_level: Level,
    ) -> GroupId {
        if let Some(o) = self.open.get(&key) {
            return o.group;
        }
        self.make_room();
        let (first_ms, last_ms) = (first.timestamp_millis(), last.timestamp_millis());
        let (first_ms, last_ms) = (first_ms.min(last_ms), first_ms.max(last_ms));
        self.watermark_ms = self.watermark_ms.max(last_ms);
        self.seq += 1;
        let group = self.new_group();
        self.open.insert(
            key.clone(),
            Open {
                group,
                first_ms,
                last_ms,
                seq: self.seq,
                alerts,
                max_level,
            },
        );
        self.order.insert((last_ms, self.seq), key);
        group
    }

    /// After a merge of incident `from` into `into`, open groups of `from`
    /// send later alerts to `into`.
    pub fn redirect(&mut self, from: GroupId, into: GroupId) {
        for o in self.open.values_mut().filter(|o| o.group == from) {
            o.group = into;
        }
    }
}
