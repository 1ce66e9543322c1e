//! Grouping and suppression, the per-output queues, retries and metrics.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::alert::{Alert, Level};
use crate::config::{AlertsConfig, OutputConfig};
use crate::notification::{Notification, NotificationKind};
use crate::output::{Deliver, DeliveryError, Sender};

/// What the grouping stage yields for the outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Emit {
    Notify(Box<Notification>),
    /// An alert was held back by a suppression window (counted per output).
    Suppressed(Level),
}

type Key = (String, Vec<String>);

enum Phase {
    /// Collecting alerts until the group window ends.
    Grouping,
    /// A notification went out; counting what follows until the window ends.
    Suppressing,
}

struct Group {
    phase: Phase,
    deadline: Instant,
    generation: u64,
    n: Notification,
}

/// The grouping and suppression state machine, driven by the caller's
/// clock (`offer` with each alert, `tick` when `next_deadline` passes), so
/// that it can be tested without waiting.
///
/// Per rule and group key: the first alert opens a group window; alerts
/// within it join; when it ends one notification goes out (a plain alert
/// notification when it holds one alert). A suppression window follows:
/// alerts in it are counted, and when it ends with any, one "N more
/// suppressed" notification goes out and the window starts again, so a
/// rule that keeps firing costs one notification per window. A window that
/// ends empty forgets the key. With `group_window = 0` the first alert goes
/// out at once.
pub struct Grouper {
    window: Duration,
    suppress: Duration,
    group_by: Vec<String>,
    max_alerts: usize,
    max_groups: usize,
    groups: HashMap<Key, Group>,
    deadlines: BinaryHeap<Reverse<(Instant, u64, Key)>>,
    next_generation: u64,
}

impl Grouper {
    pub fn new(cfg: &AlertsConfig) -> Grouper {
        Grouper {
            window: cfg.group_window,
            suppress: cfg.suppress,
            group_by: cfg.group_by.clone(),
            max_alerts: cfg.max_alerts_per_notification.max(1),
            max_groups: cfg.max_groups.max(1),
            groups: HashMap::new(),
            deadlines: BinaryHeap::new(),
            next_generation: 0,
        }
    }

    /// Groups being collected or suppressed.
    pub fn active(&self) -> usize {
        self.groups.len()
    }

    fn key(&self, a: &Alert) -> (Key, BTreeMap<String, String>) {
        let values: Vec<String> = self
            .group_by
            .iter()
            .map(|k| a.key_value(k).unwrap_or_default())
            .collect();
        let key = (a.rule_id.clone(), values);
        if self.groups.len() >= self.max_groups && !self.groups.contains_key(&key) {
            // Too many keys: this one shares the rule-wide group.
            let star = vec!["*".to_string(); self.group_by.len()];
            let map = self
                .group_by
                .iter()
                .cloned()
                .zip(star.iter().cloned())
                .collect();
            return ((a.rule_id.clone(), star), map);
        }
        let map = self
            .group_by
            .iter()
            .cloned()
            .zip(key.1.iter().cloned())
            .filter(|(_, v)| !v.is_empty())
            .collect();
        (key, map)
    }

    fn schedule(&mut self, key: Key, phase: Phase, deadline: Instant, n: Notification) {
        self.next_generation += 1;
        let generation = self.next_generation;
        self.deadlines
            .push(Reverse((deadline, generation, key.clone())));
        self.groups.insert(
            key,
            Group {
                phase,
                deadline,
                generation,
                n,
            },
        );
    }

    pub fn offer(&mut self, now: Instant, alert: Alert) -> Vec<Emit> {
        let (key, group_map) = self.key(&alert);
        let max = self.max_alerts;
        if let Some(g) = self.groups.get_mut(&key) {
            let suppressing = matches!(g.phase, Phase::Suppressing);
            let level = alert.level;
            add(&mut g.n, alert, max, suppressing);
            return if suppressing {
                vec![Emit::Suppressed(level)]
            } else {
                Vec::new()
            };
        }
        if self.window.is_zero() {
            let mut n = Notification::single(alert);
            n.group = group_map;
            let out = vec![Emit::Notify(Box::new(n.clone()))];
            if !self.suppress.is_zero() {
                self.schedule(key, Phase::Suppressing, now + self.suppress, empty_like(&n));
            }
            return out;
        }
        let mut n = Notification::single(alert);
        n.group = group_map;
        self.schedule(key, Phase::Grouping, now + self.window, n);
        Vec::new()
    }

    /// When `tick` next has something to do.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        // Entries of groups that moved on or went away are dropped lazily.
        while let Some(Reverse((at, generation, key))) = self.deadlines.peek() {
            match self.groups.get(key) {
                Some(g) if g.generation == *generation => return Some(*at),
                _ => {
                    self.deadlines.pop();
                }
            }
        }
        None
    }

    /// Ends the windows that are over at `now`.
    pub fn tick(&mut self, now: Instant) -> Vec<Emit> {
        let mut out = Vec::new();
        while let Some(at) = self.next_deadline() {
            if at > now {
                break;
            }
            let Some(Reverse((_, _, key))) = self.deadlines.pop() else {
                break;
            };
            let Some(g) = self.groups.remove(&key) else {
                continue;
            };
            debug_assert!(g.deadline <= now);
            match g.phase {
                Phase::Grouping => {
                    let mut n = g.n;
                    if n.count > 1 {
                        n.kind = NotificationKind::Group;
                    }
                    let next = empty_like(&n);
                    out.push(Emit::Notify(Box::new(n)));
                    if !self.suppress.is_zero() {
                        self.schedule(key, Phase::Suppressing, now + self.suppress, next);
                    }
                }
                Phase::Suppressing if g.n.count > 0 => {
                    let mut n = g.n;
                    n.kind = NotificationKind::Suppressed;
                    let next = empty_like(&n);
                    out.push(Emit::Notify(Box::new(n)));
                    self.schedule(key, Phase::Suppressing, now + self.suppress, next);
                }
                Phase::Suppressing => {}
            }
        }
        out
    }

    /// Ends every window now (shutdown, or an explicit flush).
    pub fn flush(&mut self) -> Vec<Emit> {
        let mut out = Vec::new();
        for (_, g) in self.groups.drain() {
            let mut n = g.n;
            match g.phase {
                Phase::Grouping => {
                    if n.count > 1 {
                        n.kind = NotificationKind::Group;
                    }
                    out.push(Emit::Notify(Box::new(n)));
                }
                Phase::Suppressing if n.count > 0 => {
                    n.kind = NotificationKind::Suppressed;
                    out.push(Emit::Notify(Box::new(n)));
                }
                Phase::Suppressing => {}
            }
        }
        self.deadlines.clear();
        out.sort_by(|a, b| match (a, b) {
            (Emit::Notify(x), Emit::Notify(y)) => x.first.cmp(&y.first),
            _ => std::cmp::Ordering::Equal,
        });
        out
    }
}

/// A suppression counter for the same rule and key, holding nothing yet.
fn empty_like(n: &Notification) -> Notification {
    Notification {
        id: String::new(),
        kind: NotificationKind::Suppressed,
        url: None,
        rule_id: n.rule_id.clone(),
        rule_title: n.rule_title.clone(),
        rule_title_zh: n.rule_title_zh.clone(),
        level: Level::Informational,
        group: n.group.clone(),
        count: 0,
        first: n.last,
        last: n.last,
        hosts: Vec::new(),
        source_ips: Vec::new(),
        destination_ips: Vec::new(),
        alerts: Vec::new(),
    }
}

fn add(n: &mut Notification, a: Alert, max: usize, keep_latest: bool) {
    if n.count == 0 {
        n.first = a.timestamp;
        n.last = a.timestamp;
        n.level = a.level;
    }
    n.count += 1;
    n.level = n.level.max(a.level);
    n.first = n.first.min(a.timestamp);
    n.last = n.last.max(a.timestamp);
    n.note(&a);
    if n.alerts.len() < max {
        n.alerts.push(a);
    } else if keep_latest {
        n.alerts.remove(0);
        n.alerts.push(a);
    }
}

/// An output the service adds in code (see [`Deliver`]).
pub struct CustomOutput {
    pub name: String,
    pub min_level: Level,
    pub bypass_grouping: bool,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub timeout: Duration,
    pub deliver: Arc<dyn Deliver>,
}

impl CustomOutput {
    pub fn new(name: impl Into<String>, deliver: Arc<dyn Deliver>) -> CustomOutput {
        CustomOutput {
            name: name.into(),
            min_level: Level::Informational,
            bypass_grouping: false,
            retries: 3,
            retry_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
            deliver,
        }
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    suppressed: AtomicU64,
    dropped: AtomicU64,
    filtered: AtomicU64,
    last_error: Mutex<Option<String>>,
}

struct Slot {
    name: String,
    kind: String,
    min_level: Level,
    bypass: bool,
    retries: u32,
    backoff: Duration,
    timeout: Duration,
    sender: Sender,
    c: Counters,
}

enum Cmd {
    Alert(Box<Alert>),
    Flush(oneshot::Sender<()>),
    Shutdown,
}

struct Inner {
    tx: mpsc::Sender<Cmd>,
    slots: Vec<Arc<Slot>>,
    received: AtomicU64,
    queue_dropped: AtomicU64,
    retrospective_skipped: AtomicU64,
    notifications: Arc<AtomicU64>,
    notify_retrospective: bool,
    group: Mutex<Option<JoinHandle<()>>>,
    workers: Mutex<Vec<(String, WorkerHandle)>>,
    /// Clones of the output queues, for notifications handed back from a
    /// spool (`resend`). Taken at shutdown so the workers see their queues
    /// close.
    queues: Mutex<Vec<Queue>>,
    /// Set when the drain deadline passes: workers stop delivering and hand
    /// back what they hold.
    stop: watch::Sender<bool>,
}

/// An output's delivery task; it ends with what it could not deliver.
type WorkerHandle = JoinHandle<Vec<Arc<Notification>>>;

/// A notification an output had not delivered when the dispatcher stopped:
/// the caller keeps it (on disk) and hands it back with
/// [`Dispatcher::resend`] after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Unsent {
    pub output: String,
    pub notification: Notification,
}

/// Counters of one output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OutputMetrics {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Notifications delivered.
    pub sent: u64,
    /// Notifications given up on after the retries (or refused for good).
    pub failed: u64,
    /// Attempts repeated after a failure.
    pub retries: u64,
    /// Alerts held back by suppression windows that would have come here.
    pub suppressed: u64,
    /// Notifications dropped because this output's queue was full.
    pub dropped: u64,
    /// Notifications below this output's `min_level`.
    pub filtered: u64,
    pub last_error: Option<String>,
}

/// The dispatcher's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// Alerts submitted.
    pub received: u64,
    /// Alerts dropped because the dispatcher's queue was full (or it was
    /// shut down).
    pub queue_dropped: u64,
    /// Retrospective alerts not notified (`notify_retrospective = false`).
    pub retrospective_skipped: u64,
    /// Notifications produced by grouping (before per-output filtering).
    pub notifications: u64,
    pub outputs: Vec<OutputMetrics>,
}

impl Metrics {
    /// Prometheus text exposition lines (`# HELP`, `# TYPE`, samples).
    pub fn to_prometheus(&self) -> String {
        use taishi_event::metrics::{Exposition, MetricKind::Counter, Scalar};
        const SERIES: &[Scalar<Metrics>] = &[
            Scalar {
                name: "taishi_alert_received_total",
                kind: Counter,
                help: "Alerts submitted to the alert dispatcher.",
                get: |m| m.received as f64,
            },
            Scalar {
                name: "taishi_alert_queue_dropped_total",
                kind: Counter,
                help: "Alerts dropped because the dispatcher queue was full.",
                get: |m| m.queue_dropped as f64,
            },
            Scalar {
                name: "taishi_alert_retrospective_skipped_total",
                kind: Counter,
                help: "Retrospective alerts not notified.",
                get: |m| m.retrospective_skipped as f64,
            },
            Scalar {
                name: "taishi_alert_notifications_total",
                kind: Counter,
                help: "Notifications produced by grouping and suppression.",
                get: |m| m.notifications as f64,
            },
        ];
        type Get = fn(&OutputMetrics) -> u64;
        const PER_OUTPUT: [(&str, &str, Get); 6] = [
            (
                "taishi_alert_output_sent_total",
                "Notifications delivered per output.",
                |m| m.sent,
            ),
            (
                "taishi_alert_output_failed_total",
                "Notifications that failed after retries per output.",
                |m| m.failed,
            ),
            (
                "taishi_alert_output_retries_total",
                "Delivery attempts repeated per output.",
                |m| m.retries,
            ),
            (
                "taishi_alert_output_suppressed_total",
                "Alerts held back by suppression per output.",
                |m| m.suppressed,
            ),
            (
                "taishi_alert_output_dropped_total",
                "Notifications dropped on a full output queue.",
                |m| m.dropped,
            ),
            (
                "taishi_alert_output_filtered_total",
                "Notifications below the output's min_level.",
                |m| m.filtered,
            ),
        ];
        let mut e = Exposition::new();
        e.scalars(SERIES, self);
        for (name, help, get) in PER_OUTPUT {
            e.family(name, Counter, help);
            for o in &self.outputs {
                e.sample(name, &[("output", &o.name), ("type", &o.kind)], get(o));
            }
        }
        e.finish()
    }
}

/// Delivers alerts to the configured outputs.
///
/// `submit` never waits: alerts go into a bounded queue (overflow is
/// counted in `queue_dropped`); a task groups and suppresses them and puts
/// notifications on one bounded queue per output; one task per output
/// delivers them in order, retrying with doubling backoff. Cloning is
/// cheap and shares the dispatcher.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

/// What is wrong with an alerts configuration: every problem, each
/// naming its key (not only the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblems(pub Vec<String>);

impl std::fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl std::error::Error for ConfigProblems {}

impl Dispatcher {
    /// Starts on the current tokio runtime. Errors are the configuration's
    /// problems, each naming its key.
    pub fn start(cfg: &AlertsConfig) -> Result<Dispatcher, ConfigProblems> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigProblems(vec![
                "alert dispatcher started outside a tokio runtime".to_string()
            ])
        })?;
        Dispatcher::start_with(cfg, &handle, Vec::new())
    }

    /// Starts on the given runtime, with outputs of the caller's own
    /// beside the configured ones.
    pub fn start_with(
        cfg: &AlertsConfig,
        handle: &tokio::runtime::Handle,
        custom: Vec<CustomOutput>,
    ) -> Result<Dispatcher, ConfigProblems> {
        let problems = cfg.validate();
        if !problems.is_empty() {
            return Err(ConfigProblems(problems));
        }
        // Senders may spawn helpers (the SMTP connection pool) when built.
        let _guard = handle.enter();
        let mut slots = Vec::new();
        let mut errors = Vec::new();
        for o in cfg.outputs.iter().filter(|o| o.enabled) {
            match Sender::build(o, &cfg.egress) {
                Ok(sender) => slots.push(Arc::new(slot_for(o, sender))),
                Err(e) => errors.push(e.to_string()),
            }
        }
        for c in custom {
            if slots.iter().any(|s| s.name == c.name) {
                errors.push(format!(
                    "alerts.outputs: two outputs are named `{}`",
                    c.name
                ));
                continue;
            }
            slots.push(Arc::new(Slot {
                name: c.name,
                kind: "custom".into(),
                min_level: c.min_level,
                bypass: c.bypass_grouping,
                retries: c.retries,
                backoff: c.retry_backoff,
                timeout: c.timeout,
                sender: Sender::Custom(c.deliver),
                c: Counters::default(),
            }));
        }
        if !errors.is_empty() {
            return Err(ConfigProblems(errors));
        }

        let (tx, rx) = mpsc::channel(cfg.queue_size.max(1));
        let (stop, stop_rx) = watch::channel(false);
        let mut workers = Vec::new();
        let mut queues = Vec::new();
        for s in &slots {
            let (qtx, qrx) = mpsc::channel(cfg.output_queue_size.max(1));
            queues.push((s.clone(), qtx));
            workers.push((
                s.name.clone(),
                handle.spawn(worker(s.clone(), qrx, stop_rx.clone())),
            ));
        }
        let notifications = Arc::new(AtomicU64::new(0));
        let group = handle.spawn(group_task(
            Grouper::new(cfg),
            rx,
            queues.clone(),
            notifications.clone(),
            cfg.console_url.clone(),
        ));
        Ok(Dispatcher {
            inner: Arc::new(Inner {
                tx,
                slots,
                received: AtomicU64::new(0),
                queue_dropped: AtomicU64::new(0),
                retrospective_skipped: AtomicU64::new(0),
                notifications,
                notify_retrospective: cfg.notify_retrospective,
                group: Mutex::new(Some(group)),
                workers: Mutex::new(workers),
                queues: Mutex::new(queues),
                stop,
            }),
        })
    }

    /// Queues a notification for one output directly, without grouping
    /// (one kept from before a restart). False when that output no longer
    /// runs or its queue is full; the output's `dropped` counts the latter.
    pub fn resend(&self, output: &str, n: Notification) -> bool {
        let queues = self.inner.queues.lock().unwrap_or_else(|e| e.into_inner());
        let Some((slot, q)) = queues.iter().find(|(s, _)| s.name == output) else {
            return false;
        };
        match q.try_send(Arc::new(n)) {
            Ok(()) => true,
            Err(_) => {
                slot.c.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Queues a notification for every output, without grouping or
    /// suppression (a reporting deadline must not wait for a group window
    /// nor be held back); how many outputs took it.
    pub fn broadcast(&self, n: Notification) -> usize {
        self.output_names()
            .iter()
            .filter(|name| self.resend(name, n.clone()))
            .count()
    }

    /// Hands an alert over without waiting. Returns false when it was not
    /// taken (queue full, shut down, or a retrospective alert that is not
    /// notified); every such case is counted.
    pub fn submit(&self, alert: Alert) -> bool {
        let i = &self.inner;
        i.received.fetch_add(1, Ordering::Relaxed);
        if alert.retrospective && !i.notify_retrospective {
            i.retrospective_skipped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match i.tx.try_send(Cmd::Alert(Box::new(alert))) {
            Ok(()) => true,
            Err(_) => {
                let n = i.queue_dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // Logged at powers of two so a flood does not flood the log.
                if n.is_power_of_two() {
                    tracing::warn!(
                        dropped = n,
                        "alert queue full: alerts dropped from notification"
                    );
                }
                false
            }
        }
    }

    /// Names of the running outputs, in configuration order.
    pub fn output_names(&self) -> Vec<String> {
        self.inner.slots.iter().map(|s| s.name.clone()).collect()
    }

    pub fn metrics(&self) -> Metrics {
        let i = &self.inner;
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Metrics {
            received: r(&i.received),
            queue_dropped: r(&i.queue_dropped),
            retrospective_skipped: r(&i.retrospective_skipped),
            notifications: r(&i.notifications),
            outputs: i
                .slots
                .iter()
                .map(|s| OutputMetrics {
                    name: s.name.clone(),
                    kind: s.kind.clone(),
                    sent: r(&s.c.sent),
                    failed: r(&s.c.failed),
                    retries: r(&s.c.retries),
                    suppressed: r(&s.c.suppressed),
                    dropped: r(&s.c.dropped),
                    filtered: r(&s.c.filtered),
                    last_error: s
                        .c
                        .last_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
                })
                .collect(),
        }
    }

    /// Sends a test notification to one running output, once, and reports
    /// how that went (for the console's settings page).
    pub async fn test_output(&self, name: &str) -> Result<(), DeliveryError> {
        let slot = self
            .inner
            .slots
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| DeliveryError::permanent(format!("no output named `{name}`")))?;
        deliver_once(&slot.sender, slot.timeout, &Notification::test()).await
    }

    /// Ends every open group and suppression window now and queues what
    /// they hold; resolves once the grouping stage has done so.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Cmd::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Flushes the windows, delivers what is queued and stops, waiting at
    /// most `grace` for the outputs. What is not delivered by then (the
    /// notification being tried, and the queue behind it) is returned, for
    /// the caller to keep. Later `submit`s are counted as dropped.
    pub async fn shutdown(&self, grace: Duration) -> Vec<Unsent> {
        let deadline = Instant::now() + grace;
        // The grouping stage gets a moment even when the deadline has
        // passed already: flushing its windows into the queues is quick, and
        // what it flushes can still be handed back below.
        let group_deadline = deadline.max(Instant::now() + Duration::from_secs(1));
        let _ = tokio::time::timeout_at(group_deadline, self.inner.tx.send(Cmd::Shutdown)).await;
        let group = self
            .inner
            .group
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(g) = group {
            // The grouping stage only moves notifications into the output
            // queues: it ends quickly unless those are full.
            if tokio::time::timeout_at(group_deadline, g).await.is_err() {
                tracing::warn!("alert grouping did not finish within the drain deadline");
            }
        }
        // The workers' queues close once every sender is gone.
        self.inner
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let workers: Vec<_> =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|e| e.into_inner()));
        let mut unsent = Vec::new();
        let mut pending = Vec::new();
        for (name, mut w) in workers {
            match tokio::time::timeout_at(deadline, &mut w).await {
                Ok(Ok(left)) => collect(&mut unsent, &name, left),
                Ok(Err(_)) => {}
                Err(_) => pending.push((name, w)),
            }
        }
        if !pending.is_empty() {
            // The deadline passed: each worker stops at once and hands back
            // what it holds.
            let _ = self.inner.stop.send(true);
            for (name, w) in pending {
                match tokio::time::timeout(Duration::from_secs(2), w).await {
                    Ok(Ok(left)) => collect(&mut unsent, &name, left),
                    _ => {
                        tracing::warn!(output = %name, "alert output did not stop; its queue is lost")
                    }
                }
            }
        }
        unsent
    }
}

fn collect(out: &mut Vec<Unsent>, output: &str, left: Vec<Arc<Notification>>) {
    out.extend(left.into_iter().map(|n| Unsent {
        output: output.to_string(),
        notification: Arc::unwrap_or_clone(n),
    }));
}

/// Sends a test notification through an output that is not running (an
/// unsaved configuration on the settings page).
/// Sends only where `egress` allows (the service's `[egress]` policy).
pub async fn test_output(
    cfg: &OutputConfig,
    egress: &taishi_egress::EgressPolicy,
) -> Result<(), DeliveryError> {
    let problems = cfg.validate();
    if !problems.is_empty() {
        return Err(DeliveryError::permanent(problems.join("; ")));
    }
    let sender = Sender::build(cfg, egress)?;
    deliver_once(&sender, cfg.timeout, &Notification::test()).await
}

fn slot_for(o: &OutputConfig, sender: Sender) -> Slot {
    Slot {
        name: o.name(),
        kind: o.kind.name().into(),
        min_level: o.min_level,
        bypass: o.bypass_grouping,
        retries: o.retries,
        backoff: o.retry_backoff,
        timeout: o.timeout,
        sender,
        c: Counters::default(),
    }
}

async fn deliver_once(
    sender: &Sender,
    timeout: Duration,
    n: &Notification,
) -> Result<(), DeliveryError> {
    // The outputs have their own timeouts; this one also bounds a TCP
    // receiver that stops reading.
    match tokio::time::timeout(timeout + Duration::from_secs(1), sender.send(n)).await {
        Ok(r) => r,
        Err(_) => Err(DeliveryError::transient(format!(
            "timed out after {}",
            crate::config::duration::format(timeout)
        ))),
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Delivers one output's queue in order. Returns what it still held when
/// `stop` was set (the notification being tried first), so a drain deadline
/// loses nothing: the caller keeps them for after a restart.
async fn worker(
    slot: Arc<Slot>,
    mut rx: mpsc::Receiver<Arc<Notification>>,
    stop: watch::Receiver<bool>,
) -> Vec<Arc<Notification>> {
    let hand_back = |cur: Arc<Notification>, mut rx: mpsc::Receiver<Arc<Notification>>| {
        rx.close();
        let mut left = vec![cur];
        while let Ok(n) = rx.try_recv() {
            left.push(n);
        }
        left
    };
    loop {
        let n = tokio::select! {
            biased;
            _ = stopped(stop.clone()) => {
                rx.close();
                let mut left = Vec::new();
                while let Ok(n) = rx.try_recv() {
                    left.push(n);
                }
                return left;
            }
            n = rx.recv() => match n {
                Some(n) => n,
                None => return Vec::new(),
            },
        };
        let mut attempt = 0u32;
        loop {
            let r = tokio::select! {
                biased;
                _ = stopped(stop.clone()) => return hand_back(n, rx),
                r = deliver_once(&slot.sender, slot.timeout, &n) => r,
            };
            match r {
                Ok(()) => {
                    slot.c.sent.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(e) if e.permanent || attempt >= slot.retries => {
                    slot.c.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(output = %slot.name, rule = %n.rule_id, error = %e, "alert notification failed");
                    *slot.c.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.message);
                    break;
                }
                Err(e) => {
                    slot.c.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(output = %slot.name, attempt, error = %e, "retrying alert notification");
                    let wait = slot
                        .backoff
                        .saturating_mul(1u32 << attempt.min(16))
                        .min(MAX_BACKOFF);
                    tokio::select! {
                        biased;
                        _ = stopped(stop.clone()) => return hand_back(n, rx),
                        _ = tokio::time::sleep(wait) => {}
                    }
                    attempt += 1;
                }
            }
        }
    }
}

/// Resolves when the drain deadline has passed. A dispatcher dropped
/// without a shutdown never sets it: its workers then finish their queues.
async fn stopped(mut stop: watch::Receiver<bool>) {
    if stop.wait_for(|v| *v).await.is_err() {
        std::future::pending::<()>().await;
    }
}

type Queue = (Arc<Slot>, mpsc::Sender<Arc<Notification>>);

/// `console` is `alerts.console_url`: each notification links its first
/// alert's page there.
fn fan_out(emits: Vec<Emit>, queues: &[Queue], notifications: &AtomicU64, console: Option<&str>) {
    for e in emits {
        match e {
            Emit::Suppressed(level) => {
                for (s, _) in queues.iter().filter(|(s, _)| !s.bypass) {
                    if level >= s.min_level {
                        s.c.suppressed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Emit::Notify(mut n) => {
                notifications.fetch_add(1, Ordering::Relaxed);
                n.link(console);
                n.assign_id();
                let n = Arc::new(*n);
                for (s, q) in queues.iter().filter(|(s, _)| !s.bypass) {
                    enqueue(s, q, &n);
                }
            }
        }
    }
}

fn enqueue(s: &Slot, q: &mpsc::Sender<Arc<Notification>>, n: &Arc<Notification>) {
    if n.level < s.min_level {
        s.c.filtered.fetch_add(1, Ordering::Relaxed);
    } else if q.try_send(n.clone()).is_err() {
        s.c.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

async fn group_task(
    mut g: Grouper,
    mut rx: mpsc::Receiver<Cmd>,
    queues: Vec<Queue>,
    notifications: Arc<AtomicU64>,
    console: Option<String>,
) {
    let console = console.as_deref();
    loop {
        let deadline = g.next_deadline();
        let cmd = tokio::select! {
            cmd = rx.recv() => cmd,
            _ = sleep_until(deadline) => {
                fan_out(g.tick(Instant::now()), &queues, &notifications, console);
                continue;
            }
        };
        match cmd {
            Some(Cmd::Alert(a)) => {
                let a = *a;
                if queues.iter().any(|(s, _)| s.bypass) {
                    let mut n = Notification::single(a.clone());
                    n.link(console);
                    n.assign_id();
                    let n = Arc::new(n);
                    for (s, q) in queues.iter().filter(|(s, _)| s.bypass) {
                        enqueue(s, q, &n);
                    }
                }
                let now = Instant::now();
                // Windows that ended while alerts kept arriving go first.
                fan_out(g.tick(now), &queues, &notifications, console);
                fan_out(g.offer(now, a), &queues, &notifications, console);
            }
            Some(Cmd::Flush(done)) => {
                fan_out(g.flush(), &queues, &notifications, console);
                let _ = done.send(());
            }
            Some(Cmd::Shutdown) | None => {
                // Alerts already queued are still grouped and sent.
                rx.close();
                while let Ok(cmd) = rx.try_recv() {
                    match cmd {
                        Cmd::Alert(a) => fan_out(
                            g.offer(Instant::now(), *a),
                            &queues,
                            &notifications,
                            console,
                        ),
                        Cmd::Flush(done) => {
                            let _ = done.send(());
                        }
                        Cmd::Shutdown => {}
                    }
                }
                fan_out(g.flush(), &queues, &notifications, console);
                break;
            }
        }
    }
    // Dropping the queues lets each worker finish what it holds and end.
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
