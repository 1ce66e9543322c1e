//! Grouping, suppression, levels, bypass and overflow, on tokio's paused
//! clock with an in-memory output: fast and deterministic.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use taishi_alert::{
    Alert, AlertKind, AlertsConfig, BoxFuture, CustomOutput, Deliver, DeliveryError, Dispatcher,
    Emit, Grouper, Level, Notification, NotificationKind,
};
use tokio::sync::mpsc;
use tokio::time::{advance, Instant};

struct Capture(mpsc::UnboundedSender<Notification>);

impl Deliver for Capture {
    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), DeliveryError>> {
        let _ = self.0.send(n.clone());
        Box::pin(async { Ok(()) })
    }
}

fn ts(s: u32) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2025-03-01T08:00:00+08:00").unwrap()
        + chrono::Duration::seconds(s.into())
}

fn alert(rule: &str, level: Level, host: &str, at: u32) -> Alert {
    let mut a = Alert::new(
        AlertKind::Sigma,
        rule,
        format!("Rule {rule}"),
        level,
        ts(at),
    );
    a.host = Some(host.into());
    a.source_ip = Some(format!("10.0.0.{}", at % 250));
    a
}

fn cfg(window: u64, suppress: u64) -> AlertsConfig {
    AlertsConfig {
        group_window: Duration::from_secs(window),
        suppress: Duration::from_secs(suppress),
        ..AlertsConfig::default()
    }
}

fn start(
    cfg: &AlertsConfig,
    outputs: &[(&str, Level, bool)],
) -> (Dispatcher, Vec<mpsc::UnboundedReceiver<Notification>>) {
    let mut rxs = Vec::new();
    let custom = outputs
        .iter()
        .map(|(name, min, bypass)| {
            let (tx, rx) = mpsc::unbounded_channel();
            rxs.push(rx);
            let mut c = CustomOutput::new(*name, Arc::new(Capture(tx)));
            c.min_level = *min;
            c.bypass_grouping = *bypass;
            c
        })
        .collect();
    let d = Dispatcher::start_with(cfg, &tokio::runtime::Handle::current(), custom).unwrap();
    (d, rxs)
}

/// Lets the dispatcher's tasks run without moving the clock.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Notification>) -> Vec<Notification> {
    let mut v = Vec::new();
    while let Ok(n) = rx.try_recv() {
        v.push(n);
    }
    v
}

#[tokio::test(start_paused = true)]
async fn alerts_of_one_rule_within_the_window_are_one_notification() {
    let (d, mut rx) = start(&cfg(30, 0), &[("cap", Level::Informational, false)]);
    for i in 0..5 {
        assert!(d.submit(alert("A", Level::Medium, &format!("h{i}"), i)));
        settle().await;
        advance(Duration::from_secs(2)).await;
    }
    d.submit(alert("B", Level::High, "hx", 9));
    settle().await;
    // B arrived at 10 s.
    assert!(
        drain(&mut rx[0]).is_empty(),
        "nothing before the window ends"
    );

    // A's window opened at t=0 and ends at 30 s; B's at 10 s + 30 s.
    advance(Duration::from_secs(21)).await;
    settle().await;
    let got = drain(&mut rx[0]);
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert_eq!(
        (g.kind, g.rule_id.as_str(), g.count),
        (NotificationKind::Group, "A", 5)
    );
    assert_eq!(g.hosts, ["h0", "h1", "h2", "h3", "h4"]);
    assert_eq!(g.alerts.len(), 5);
    assert_eq!((g.first, g.last), (ts(0), ts(4)));
    assert!(g.title(taishi_alert::Language::En).contains("(5 alerts)"));

    advance(Duration::from_secs(10)).await;
    settle().await;
    let got = drain(&mut rx[0]);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].kind, got[0].count, got[0].level),
        (NotificationKind::Alert, 1, Level::High)
    );
    let m = d.metrics();
    assert_eq!((m.received, m.notifications, m.outputs[0].sent), (6, 2, 2));
}

#[tokio::test(start_paused = true)]
async fn suppression_counts_and_summarises_then_forgets() {
    let (d, mut rx) = start(&cfg(0, 600), &[("cap", Level::Informational, false)]);
    d.submit(alert("A", Level::High, "h1", 0));
    settle().await;
    let got = drain(&mut rx[0]);
    assert_eq!(got.len(), 1, "the first alert goes out at once");
    assert_eq!(got[0].kind, NotificationKind::Alert);

    for i in 1..=7 {
        advance(Duration::from_secs(60)).await;
        d.submit(alert(
            "A",
            if i == 3 { Level::Critical } else { Level::High },
            "h1",
            i,
        ));
    }
    settle().await;
    assert!(drain(&mut rx[0]).is_empty());
    assert_eq!(d.metrics().outputs[0].suppressed, 7);

    advance(Duration::from_secs(181)).await; // t = 601 s
    settle().await;
    let got = drain(&mut rx[0]);
    assert_eq!(got.len(), 1);
    let s = &got[0];
    assert_eq!(
        (s.kind, s.count, s.level),
        (NotificationKind::Suppressed, 7, Level::Critical)
    );
    assert_eq!((s.first, s.last), (ts(1), ts(7)));
    assert!(s
        .title(taishi_alert::Language::En)
        .ends_with(": 7 more suppressed"));

    // The next window passes empty: nothing is sent and the key is
    // forgotten, so the next alert goes out at once again.
    advance(Duration::from_secs(601)).await;
    settle().await;
    assert!(drain(&mut rx[0]).is_empty());
    d.submit(alert("A", Level::High, "h1", 2000));
    settle().await;
    let got = drain(&mut rx[0]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].kind, NotificationKind::Alert);
}

#[tokio::test(start_paused = true)]
async fn group_then_suppress_one_notification_per_window_under_a_flood() {
    let (d, mut rx) = start(&cfg(30, 300), &[("cap", Level::Informational, false)]);
    // One alert a second for 20 minutes.
    for i in 0..1200u32 {
        d.submit(alert("noisy", Level::Low, "h1", i));
        advance(Duration::from_secs(1)).await;
    }
    d.flush().await;
    settle().await;
    let got = drain(&mut rx[0]);
    let kinds: Vec<_> = got.iter().map(|n| (n.kind, n.count)).collect();
    // 30 s group, then a summary per 5-minute window: at 330, 630, 930 and
    // the flush of the last, partial window.
    assert_eq!(kinds[0], (NotificationKind::Group, 30));
    assert!(
        kinds[1..]
            .iter()
            .all(|(k, _)| *k == NotificationKind::Suppressed),
        "{kinds:?}"
    );
    assert_eq!(got.len(), 5, "{kinds:?}");
    assert_eq!(got.iter().map(|n| n.count).sum::<u64>(), 1200);
    // Samples of a summary are the latest alerts.
    assert_eq!(got[1].alerts.len(), 10);
    assert_eq!(got[1].alerts.last().unwrap().timestamp, got[1].last);
}

#[tokio::test(start_paused = true)]
async fn group_by_host_separates_groups() {
    let mut c = cfg(10, 0);
    c.group_by = vec!["host".into()];
    let (d, mut rx) = start(&c, &[("cap", Level::Informational, false)]);
    for i in 0..6 {
        d.submit(alert(
            "A",
            Level::Medium,
            if i % 2 == 0 { "web01" } else { "db01" },
            i,
        ));
    }
    settle().await;
    advance(Duration::from_secs(11)).await;
    settle().await;
    let mut got = drain(&mut rx[0]);
    got.sort_by(|a, b| a.group["host"].cmp(&b.group["host"]));
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].group["host"].as_str(), got[0].count), ("db01", 3));
    assert_eq!((got[1].group["host"].as_str(), got[1].count), ("web01", 3));
}

#[tokio::test(start_paused = true)]
async fn min_level_bypass_and_retrospective() {
    let (d, mut rx) = start(
        &cfg(30, 0),
        &[
            ("all", Level::Informational, false),
            ("high", Level::High, false),
            ("siem", Level::Informational, true),
        ],
    );
    d.submit(alert("L", Level::Low, "h", 0));
    d.submit(alert("C", Level::Critical, "h", 1));
    d.submit(alert("C", Level::Critical, "h", 2));
    let mut retro = alert("C", Level::Critical, "h", 3);
    retro.retrospective = true;
    assert!(!d.submit(retro));
    settle().await;
    // The SIEM forward gets each alert at once.
    assert_eq!(drain(&mut rx[2]).len(), 3);
    advance(Duration::from_secs(31)).await;
    settle().await;
    assert_eq!(drain(&mut rx[0]).len(), 2);
    let high = drain(&mut rx[1]);
    assert_eq!(high.len(), 1);
    assert_eq!((high[0].rule_id.as_str(), high[0].count), ("C", 2));
    assert!(drain(&mut rx[2]).is_empty());
    let m = d.metrics();
    assert_eq!(m.retrospective_skipped, 1);
    assert_eq!(m.outputs[1].filtered, 1);
    assert_eq!(m.outputs[2].sent, 3);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts() {
    // On this single-threaded runtime the dispatcher runs only when the
    // test yields, so the queue fills deterministically.
    let c = AlertsConfig {
        queue_size: 3,
        ..cfg(0, 0)
    };
    let (d, mut rx) = start(&c, &[("cap", Level::Informational, false)]);
    let taken = (0..10)
        .filter(|i| d.submit(alert("A", Level::Low, "h", *i)))
        .count();
    assert_eq!(taken, 3);
    assert_eq!(d.metrics().queue_dropped, 7);
    d.shutdown(Duration::from_secs(5)).await;
    assert_eq!(drain(&mut rx[0]).len(), 3);
    assert!(!d.submit(alert("A", Level::Low, "h", 99)));
    assert_eq!(d.metrics().queue_dropped, 8);
    let prom = d.metrics().to_prometheus();
    assert!(
        prom.contains("taishi_alert_queue_dropped_total 8\n"),
        "{prom}"
    );
    assert!(
        prom.contains("taishi_alert_output_sent_total{output=\"cap\",type=\"custom\"} 3\n"),
        "{prom}"
    );
}

#[tokio::test(start_paused = true)]
async fn failed_deliveries_are_retried_with_backoff_then_counted() {
    struct Flaky(std::sync::Mutex<u32>, mpsc::UnboundedSender<Instant>);
    impl Deliver for Flaky {
        fn deliver<'a>(&'a self, _: &'a Notification) -> BoxFuture<'a, Result<(), DeliveryError>> {
            let _ = self.1.send(Instant::now());
            let mut n = self.0.lock().unwrap();
            *n += 1;
            let r = if *n <= 2 {
                Err(DeliveryError::transient("down"))
            } else {
                Ok(())
            };
            Box::pin(async move { r })
        }
    }
    let (tx, mut times) = mpsc::unbounded_channel();
    let mut c = CustomOutput::new("flaky", Arc::new(Flaky(Default::default(), tx)));
    c.retry_backoff = Duration::from_secs(2);
    let d =
        Dispatcher::start_with(&cfg(0, 0), &tokio::runtime::Handle::current(), vec![c]).unwrap();
    d.submit(alert("A", Level::Low, "h", 0));
    tokio::time::sleep(Duration::from_secs(60)).await;
    let mut at = Vec::new();
    while let Ok(t) = times.try_recv() {
        at.push(t);
    }
    assert_eq!(at.len(), 3);
    assert_eq!(at[1] - at[0], Duration::from_secs(2));
    assert_eq!(at[2] - at[1], Duration::from_secs(4));
    let m = &d.metrics().outputs[0];
    assert_eq!((m.sent, m.retries, m.failed), (1, 2, 0));

    // A permanent refusal is not retried.
    struct No;
    impl Deliver for No {
        fn deliver<'a>(&'a self, _: &'a Notification) -> BoxFuture<'a, Result<(), DeliveryError>> {
            Box::pin(async { Err(DeliveryError::permanent("bad signature")) })
        }
    }
    let d = Dispatcher::start_with(
        &cfg(0, 0),
        &tokio::runtime::Handle::current(),
        vec![CustomOutput::new("no", Arc::new(No))],
    )
    .unwrap();
    d.submit(alert("A", Level::Low, "h", 0));
    tokio::time::sleep(Duration::from_secs(60)).await;
    let m = &d.metrics().outputs[0];
    assert_eq!((m.sent, m.retries, m.failed), (0, 0, 1));
    assert_eq!(m.last_error.as_deref(), Some("bad signature"));
}

#[test]
fn grouper_caps_distinct_keys() {
    let mut c = cfg(10, 0);
    c.group_by = vec!["source_ip".into()];
    c.max_groups = 3;
    let mut g = Grouper::new(&c);
    let t0 = Instant::now();
    for i in 0..50 {
        let mut a = alert("scan", Level::Medium, "h", i);
        a.source_ip = Some(format!("198.51.100.{i}"));
        assert!(g.offer(t0, a).is_empty());
    }
    assert_eq!(g.active(), 4, "three keys and the shared overflow group");
    let out = g.tick(t0 + Duration::from_secs(10));
    let counts: Vec<u64> = out
        .iter()
        .map(|e| match e {
            Emit::Notify(n) => n.count,
            Emit::Suppressed(_) => 0,
        })
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 50);
    assert!(out
        .iter()
        .any(|e| matches!(e, Emit::Notify(n) if n.group["source_ip"] == "*" && n.count == 47)));
    assert_eq!(g.active(), 0);
    assert_eq!(g.next_deadline(), None);
}

/// An output that never answers in time: every attempt fails as transient.
struct Down;

impl Deliver for Down {
    fn deliver<'a>(&'a self, _: &'a Notification) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async { Err(DeliveryError::transient("receiver down")) })
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_hands_back_what_an_output_could_not_deliver_by_the_deadline() {
    let c = AlertsConfig {
        group_window: Duration::from_secs(60),
        ..cfg(0, 0)
    };
    let mut down = CustomOutput::new("down", Arc::new(Down));
    down.retries = 1_000;
    down.retry_backoff = Duration::from_secs(1);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let up = CustomOutput::new("up", Arc::new(Capture(tx)));
    let d = Dispatcher::start_with(&c, &tokio::runtime::Handle::current(), vec![down, up]).unwrap();
    // Two rules: two groups, still open when the stop comes.
    assert!(d.submit(alert("A", Level::High, "h1", 1)));
    assert!(d.submit(alert("B", Level::High, "h2", 2)));
    settle().await;
    let t = Instant::now();
    let unsent = d.shutdown(Duration::from_secs(5)).await;
    // The drain deadline bounds the stop, with the retries still going.
    assert!(t.elapsed() <= Duration::from_secs(8), "{:?}", t.elapsed());
    // The open groups were flushed: the working output got both, the
    // broken one hands both back, each with its dedup key.
    assert_eq!(drain(&mut rx).len(), 2);
    assert_eq!(unsent.len(), 2, "{unsent:?}");
    assert!(unsent.iter().all(|u| u.output == "down"));
    let ids: std::collections::HashSet<_> =
        unsent.iter().map(|u| u.notification.id.clone()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|i| i.len() == 32));
    // What is handed back survives a JSON round trip (the outbox file).
    let line = serde_json::to_string(&unsent[0]).unwrap();
    let back: taishi_alert::Unsent = serde_json::from_str(&line).unwrap();
    assert_eq!(back, unsent[0]);

    // After a restart, `resend` queues it for that output without grouping.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let again = CustomOutput::new("down", Arc::new(Capture(tx)));
    let d2 = Dispatcher::start_with(&c, &tokio::runtime::Handle::current(), vec![again]).unwrap();
    assert!(d2.resend("down", back.notification.clone()));
    assert!(!d2.resend("gone", back.notification));
    settle().await;
    let got = drain(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, unsent[0].notification.id);
    assert!(d2.shutdown(Duration::from_secs(1)).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_past_its_deadline_still_hands_back_the_open_windows() {
    let c = AlertsConfig {
        group_window: Duration::from_secs(60),
        ..cfg(0, 0)
    };
    let mut down = CustomOutput::new("down", Arc::new(Down));
    down.retries = 1_000;
    let d = Dispatcher::start_with(&c, &tokio::runtime::Handle::current(), vec![down]).unwrap();
    assert!(d.submit(alert("A", Level::High, "h1", 1)));
    settle().await;
    let unsent = d.shutdown(Duration::ZERO).await;
    assert_eq!(unsent.len(), 1, "{unsent:?}");
    assert_eq!(unsent[0].notification.rule_id, "A");
}
